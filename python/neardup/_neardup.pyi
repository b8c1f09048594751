"""Type stubs for neardup._neardup, the C engine of the neardup package."""

import os
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple, Union

Text = Union[str, bytes]

__version__: str

class Match(Tuple[Any, float]):
    """An earlier (kept) text that a text duplicates, and their exact Jaccard similarity."""

    @property
    def id(self) -> Any: ...
    @property
    def jaccard(self) -> float: ...
    @property
    def query_in_match(self) -> Optional[float]: ...
    @property
    def match_in_query(self) -> Optional[float]: ...

class Deduplicator:
    """Deduplicate a stream of texts: the first of a group of near-duplicates is kept."""

    def __init__(
        self,
        *,
        threshold: float = 0.8,
        profile: str = "default",
        shingle: str = "auto",
        num_perm: int = 128,
        bands: int = 0,
        rows: int = 0,
        seed: int = ...,
    ) -> None: ...
    def add(self, text: Text, id: Any = None) -> Optional[Match]: ...
    def add_many(
        self, texts: Iterable[Text], ids: Optional[Sequence[Any]] = None, *, threads: int = 0
    ) -> List[Optional[Match]]: ...
    def query(self, text: Text) -> Optional[Match]: ...
    def is_duplicate(self, text: Text) -> bool: ...
    def __len__(self) -> int: ...
    @property
    def threshold(self) -> float: ...
    @property
    def added(self) -> int: ...

class Index:
    """The persistent index on disk (LMDB), as `neardup index add` and `neardup query` use it."""

    def __init__(
        self,
        path: Union[str, bytes, "os.PathLike[str]"],
        create: bool = False,
        *,
        readonly: bool = False,
        threads: int = 0,
        autocommit: bool = True,
        wait: bool = False,
        verify: bool = True,
        threshold: float = ...,
        profile: str = ...,
        shingle: str = ...,
        num_perm: int = ...,
        bands: int = ...,
        rows: int = ...,
        seed: int = ...,
        measure: str = ...,
        min_shingles: int = ...,
    ) -> None: ...
    def add(self, texts: Iterable[Text], ids: Sequence[Union[str, bytes]], *, replace: bool = False) -> None: ...
    def query(self, texts: Iterable[Text], *, threshold: Optional[float] = None, top: int = 0) -> List[List[Match]]:
        """Match.id is a str, or the bytes given for an id that is not UTF-8."""
        ...
    def remove(self, ids: Sequence[Union[str, bytes]]) -> int: ...
    def commit(self) -> None: ...
    def stats(self) -> Dict[str, Any]: ...
    def close(self) -> None: ...
    def __enter__(self) -> "Index": ...
    def __exit__(self, *exc: Any) -> bool: ...
    def __len__(self) -> int: ...
    @property
    def options(self) -> Dict[str, Any]: ...
    @property
    def closed(self) -> bool: ...

def normalize(text: Text, profile: str = "default") -> List[str]: ...
def signature(
    text: Text,
    *,
    threshold: float = 0.8,
    profile: str = "default",
    shingle: str = "auto",
    num_perm: int = 128,
    bands: int = 0,
    rows: int = 0,
    seed: int = ...,
    measure: str = "jaccard",
    min_shingles: int = 20,
) -> bytes: ...
def explain(
    a: Text,
    b: Text,
    *,
    ids: Sequence[Any] = ("a", "b"),
    threshold: float = 0.8,
    profile: str = "default",
    shingle: str = "auto",
    num_perm: int = 128,
    bands: int = 0,
    rows: int = 0,
    seed: int = ...,
    measure: str = "jaccard",
    min_shingles: int = 20,
) -> Dict[str, Any]: ...
def _scan(
    texts: Iterable[Text],
    *,
    keep: str = "first",
    threads: int = 0,
    unit: str = "document",
    min_tokens: int = 1,
    threshold: float = 0.8,
    profile: str = "default",
    shingle: str = "auto",
    num_perm: int = 128,
    bands: int = 0,
    rows: int = 0,
    seed: int = ...,
    measure: str = "jaccard",
    min_shingles: int = 20,
) -> List[Tuple[List[int], List[float], Optional[List[float]], Optional[List[Tuple[int, int]]]]]: ...
def _utf8(texts: Sequence[Text]) -> List[bytes]: ...
