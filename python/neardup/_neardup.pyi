"""Type stubs for neardup._neardup, the C engine of the neardup package."""

from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple, Union

Text = Union[str, bytes]

__version__: str

class Match(Tuple[Any, float]):
    """An earlier (kept) text that a text duplicates, and their exact Jaccard similarity."""

    @property
    def id(self) -> Any: ...
    @property
    def jaccard(self) -> float: ...

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
) -> List[Tuple[List[int], List[float], Optional[List[Tuple[int, int]]]]]: ...
