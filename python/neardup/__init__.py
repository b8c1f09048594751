"""neardup: find duplicate and near-duplicate texts.

Texts in (str or bytes), no tokenizing on your side: each text is normalized
with ICU (NFKC case folding, script-aware word breaking), shingled, MinHash
signed, and LSH proposes candidate pairs; **every candidate is verified with
the exact Jaccard similarity of the two shingle sets**, so nothing below the
threshold is ever reported. The work runs in libneardup, on several threads,
with the GIL released.

>>> import neardup
>>> texts = ["The council approved the budget on Monday after a long debate.",
...          "A recipe for bread with flour, water, salt and yeast.",
...          "the council approved the budget on monday after a long debate"]
>>> neardup.scan(texts)
[Cluster(ids=[0, 2], jaccard=[1.0, 1.0], indices=[0, 2])]
>>> neardup.dedup(texts)
[True, True, False]

- scan(texts, ids) -> list[Cluster]: the clusters `neardup scan` finds.
- dedup(texts) -> list[bool]: a keep mask in input order.
- Deduplicator: a stream of texts, first kept wins (add, query, is_duplicate).
- Index: the persistent index on disk (add, query, remove), as `neardup index`.
- normalize, signature, explain: what the detector sees of a text or a pair.

Options shared by the functions (the `neardup` program's, same defaults):
threshold=0.8 (minimum exact Jaccard), profile='default' or 'aggressive',
shingle='auto' ('words:K', 'chars:N'), num_perm=128, bands and rows (0: chosen
from the threshold), seed. Bad options raise ValueError (TypeError for wrong
types), memory exhaustion MemoryError.
"""

import contextlib
import gc
from typing import Any, Dict, Iterable, Iterator, List, NamedTuple, Optional, Sequence, Tuple, Union

from ._neardup import Deduplicator, Match, __version__, _scan, explain, normalize, signature

try:  # the persistent index, when the C library has it (LMDB)
    from ._neardup import Index
except ImportError:  # a library without the persistent index
    pass

__all__ = [
    "Cluster",
    "Deduplicator",
    "Match",
    "dedup",
    "explain",
    "normalize",
    "scan",
    "signature",
    "__version__",
]

if "Index" in globals():
    __all__.append("Index")

Text = Union[str, bytes]


class Cluster(NamedTuple):
    """A group of near-duplicate texts (or, with unit=, of repeated units).

    ids: the texts' ids, the survivor (the text kept in their place) first,
        then the others in input order.
    jaccard: jaccard[i] is the exact Jaccard similarity of text ids[i] with
        the survivor (1.0 for the survivor itself), always at least the
        threshold.
    indices: the texts' positions in the input, in the order of ids.
    spans: with unit='paragraph' or 'line', the (start, end) span of each
        unit in its text, in the text's own units (characters of a str,
        bytes of a bytes), so that texts[indices[i]][start:end] is the unit;
        None for whole documents.
    containment: with measure='containment', containment[i] is the share
        of text ids[i]'s shingles found in the survivor (1.0 for it); None
        otherwise.
    """

    ids: List[Any]
    jaccard: List[float]
    indices: List[int]
    spans: Optional[List[Tuple[int, int]]] = None
    containment: Optional[List[float]] = None

    def __repr__(self) -> str:
        spans = "" if self.spans is None else f", spans={self.spans!r}"
        containment = "" if self.containment is None else f", containment={self.containment!r}"
        return f"Cluster(ids={self.ids!r}, jaccard={self.jaccard!r}, indices={self.indices!r}{spans}{containment})"


def _char_spans(texts: Sequence[Text], raw: List[Tuple[List[int], List[float], Any, Any]]) -> Dict[int, Dict[int, int]]:
    """For the str texts (not pure ASCII) that have units in `raw`: UTF-8
    byte offset -> str index, computed in one pass over each text (spans
    always fall on character boundaries)."""
    wanted: Dict[int, set] = {}
    for members, _, _, spans in raw:
        for i, (start, end) in zip(members, spans):
            text = texts[i]
            if isinstance(text, str) and not text.isascii():
                wanted.setdefault(i, set()).update((start, end))
    maps = {}
    for i, offsets in wanted.items():
        utf8 = texts[i].encode("utf-8", "surrogatepass")
        chars, previous, offset_map = 0, 0, {}
        for offset in sorted(offsets):
            chars += len(utf8[previous:offset].decode("utf-8", "surrogatepass"))
            previous = offset
            offset_map[offset] = chars
        maps[i] = offset_map
    return maps


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """The cyclic garbage collector paused, as _scan pauses it while it
    builds its lists: making a Cluster of each group (many thousands with
    unit=) set it off every 700 containers, and each run walked the
    caller's objects too. Nothing made meanwhile can be part of a cycle."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


def _check_ids(texts: Sequence[Text], ids: Optional[Sequence[Any]]) -> Optional[Sequence[Any]]:
    if ids is None:
        return None
    if isinstance(ids, (str, bytes)):
        raise TypeError("ids must be a sequence of ids, one per text, not a str")
    ids = ids if isinstance(ids, Sequence) else list(ids)
    if len(ids) != len(texts):
        raise ValueError(f"ids has {len(ids)} entries for {len(texts)} texts")
    return ids


def _as_sequence(texts: Iterable[Text]) -> Sequence[Text]:
    if isinstance(texts, (str, bytes)):
        raise TypeError("texts must be a sequence of texts, not one text")
    return texts if isinstance(texts, (list, tuple)) else list(texts)


def scan(
    texts: Iterable[Text],
    ids: Optional[Sequence[Any]] = None,
    *,
    threshold: float = 0.8,
    profile: str = "default",
    shingle: str = "auto",
    unit: str = "document",
    keep: str = "first",
    threads: int = 0,
    **options: Any,
) -> List[Cluster]:
    """Find clusters of near-duplicate texts; the same clusters as `neardup scan`.

    texts: str or bytes (UTF-8) items. ids: one id per text (any objects;
    default: the positions 0, 1, ...). keep: 'first' (input order) or
    'longest' (most UTF-8 bytes) picks each cluster's survivor, which reaches
    the threshold with every other member. threads: 0 = all processors; the
    clusters are the same for any value. Other options: num_perm, bands,
    rows, seed, min_tokens (texts, or units, with fewer tokens are ignored;
    default 1), measure ('jaccard', or 'containment': the smaller text's
    share found in the larger, for excerpts and abridged copies; then
    Cluster.containment too) and min_shingles (containment: fewest shingles
    of a text reported as contained; default 20).

    unit='paragraph' (text between blank lines) or 'line' compares units
    instead of whole texts, within a text and across texts, as
    `neardup scan --unit` does: each Cluster is then a group of repeated
    units, with Cluster.spans locating each occurrence (a unit that is one
    shorter text pasted several times counts as its copies).

    Clusters have two or more members and come ordered by their earliest
    member; a text (or unit) is in at most one cluster.
    """
    texts = _as_sequence(texts)
    ids = _check_ids(texts, ids)
    raw = _scan(
        texts,
        threshold=threshold,
        profile=profile,
        shingle=shingle,
        unit=unit,
        keep=keep,
        threads=threads,
        **options,
    )
    name = (lambda i: i) if ids is None else ids.__getitem__
    with _gc_paused():
        maps = _char_spans(texts, raw) if unit != "document" else {}
        clusters = []
        for members, jaccards, containments, spans in raw:
            if spans is not None:
                spans = [(maps[i][s], maps[i][e]) if i in maps else (s, e) for i, (s, e) in zip(members, spans)]
            clusters.append(Cluster([name(m) for m in members], jaccards, members, spans, containments))
    return clusters


def dedup(
    texts: Iterable[Text],
    *,
    threshold: float = 0.8,
    profile: str = "default",
    shingle: str = "auto",
    keep: str = "first",
    threads: int = 0,
    **options: Any,
) -> List[bool]:
    """A keep mask in input order: False for the texts `neardup dedup` removes.

    Every cluster of scan() keeps its survivor and drops the others; texts in
    no cluster are kept. Ready for `datasets.Dataset.filter` or a pandas
    boolean index.
    """
    if "unit" in options:
        raise TypeError("dedup() keeps or drops whole texts; scan(texts, unit=...) finds repeated paragraphs or lines")
    texts = _as_sequence(texts)
    mask = [True] * len(texts)
    raw = _scan(
        texts,
        threshold=threshold,
        profile=profile,
        shingle=shingle,
        keep=keep,
        threads=threads,
        **options,
    )
    for members, _, _, _ in raw:
        for m in members[1:]:
            mask[m] = False
    return mask
