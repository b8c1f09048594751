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
- normalize, signature, explain: what the detector sees of a text or a pair.

Options shared by the functions (the `neardup` program's, same defaults):
threshold=0.8 (minimum exact Jaccard), profile='default' or 'aggressive',
shingle='auto' ('words:K', 'chars:N'), num_perm=128, bands and rows (0: chosen
from the threshold), seed. Bad options raise ValueError (TypeError for wrong
types), memory exhaustion MemoryError.
"""

from typing import Any, Iterable, List, NamedTuple, Optional, Sequence, Union

from ._neardup import Deduplicator, Match, __version__, _scan, explain, normalize, signature

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

Text = Union[str, bytes]


class Cluster(NamedTuple):
    """A group of near-duplicate texts.

    ids: the texts' ids, the survivor (the text kept in their place) first,
        then the others in input order.
    jaccard: jaccard[i] is the exact Jaccard similarity of text ids[i] with
        the survivor (1.0 for the survivor itself), always at least the
        threshold.
    indices: the texts' positions in the input, in the order of ids.
    """

    ids: List[Any]
    jaccard: List[float]
    indices: List[int]


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
    clusters are the same for any value. unit: only 'document' for now.
    Other options: num_perm, bands, rows, seed.

    Clusters have two or more members and come ordered by their earliest
    member; a text is in at most one cluster.
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
    if ids is None:
        return [Cluster(list(members), jaccards, members) for members, jaccards in raw]
    return [Cluster([ids[m] for m in members], jaccards, members) for members, jaccards in raw]


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
    for members, _ in raw:
        for m in members[1:]:
            mask[m] = False
    return mask
