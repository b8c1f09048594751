"""neardup.Deduplicator against scan and against brute force.

What a stream decides is defined text by text ("first kept wins"): text t
is a duplicate iff some kept text k is an LSH candidate of t with exact
Jaccard J(t, k) >= threshold; it is then reported against the kept text
with the highest J (the earliest kept among equals) and not kept; otherwise
it is kept. scan instead sees all texts at once and splits each connected
group by greedy set cover, so the two differ when near-duplicates chain
(A~B, B~C, A and C apart: the stream keeps A and C, scan keeps B). What is
compared, precisely:

1. Brute force: with 128 bands of one row (LSH then misses a pair at
   J >= 0.5 with probability 2^-128), the stream's decisions and matches
   equal first-kept-wins computed over all pairs, with shingle sets rebuilt
   in Python from neardup.normalize (word shingles), on the repository's
   Latin corpora, whose groups chain.
2. Every reported match, with the default banding, on every corpus: an
   earlier kept text, and the Jaccard equals explain()'s exact one, at
   least the threshold.
3. Where groups are cliques (generated here: every pair in a group reaches
   the threshold, groups unrelated), the texts the stream flags are exactly
   the texts dedup() drops, with a banding that misses nothing (scan
   verifies every pair inside a connected group, so it finds a pair LSH
   missed when both texts are linked through a third; a stream cannot).
"""

import random

import pytest

import neardup
from conftest import CORPORA, load_corpus


def word_shingles(text, k=5):
    tokens = neardup.normalize(text)
    if not tokens:
        return frozenset()
    if len(tokens) < k:
        return frozenset([tuple(tokens)])
    return frozenset(tuple(tokens[i : i + k]) for i in range(len(tokens) - k + 1))


def jaccard(a, b):
    if not a or not b:
        return 0.0
    inter = len(a & b)
    return inter / (len(a) + len(b) - inter)


def brute_force_first_kept_wins(texts, threshold):
    sets = [word_shingles(t) for t in texts]
    kept, decisions = [], []
    for i, s in enumerate(sets):
        best = None
        for k_number, k in enumerate(kept):
            j = jaccard(s, sets[k])
            if j >= threshold - 1e-12 and (best is None or j > best[1]):
                best = (k_number, j)
        if best is None:
            kept.append(i)
            decisions.append(None)
        else:
            decisions.append((kept[best[0]], best[1]))
    return decisions


@pytest.mark.parametrize("corpus", ["mixed-1k", "syndicated-500"])
@pytest.mark.parametrize("threshold", [0.5, 0.8])
def test_equals_brute_force(corpus, threshold):
    _, ids, texts = load_corpus(corpus)
    expected = brute_force_first_kept_wins(texts, threshold)
    d = neardup.Deduplicator(threshold=threshold, bands=128, rows=1, shingle="words:5")
    flagged = 0
    for i, text in enumerate(texts):
        m = d.add(text, id=i)
        if expected[i] is None:
            assert m is None, f"{ids[i]}: flagged against {ids[m.id]}, brute force keeps it"
        else:
            assert m is not None, f"{ids[i]}: kept, brute force finds {ids[expected[i][0]]}"
            assert m.id == expected[i][0]
            assert m.jaccard == pytest.approx(expected[i][1], abs=1e-12)
            flagged += 1
    assert flagged >= 3
    assert len(d) == len(texts) - flagged
    assert d.added == len(texts)


@pytest.mark.parametrize("corpus", CORPORA)
def test_every_match_is_exact(corpus):
    _, ids, texts = load_corpus(corpus)
    d = neardup.Deduplicator(threshold=0.6)
    position = {}
    kept = set()
    for i, (doc_id, text) in enumerate(zip(ids, texts)):
        position[doc_id] = i
        m = d.add(text, id=doc_id)
        if m is None:
            kept.add(doc_id)
            continue
        assert m.id in kept and position[m.id] < i
        assert m.jaccard >= 0.6
        assert m.jaccard == neardup.explain(texts[position[m.id]], text, threshold=0.6)["jaccard"]


def clique_corpus(seed, groups=60):
    """Groups of a base text and copies with one word replaced each, at
    places at least 5 words apart: with 5-word shingles every pair of a
    group shares at least 26 of 36 shingles per copy (J >= 0.56)."""
    rng = random.Random(seed)
    texts = []
    for _ in range(groups):
        base = [f"w{rng.randrange(10**6)}" for _ in range(40)]
        texts.append(" ".join(base))
        for v in range(rng.randrange(0, 6)):
            copy = list(base)
            copy[3 + 7 * v] = f"x{rng.randrange(10**6)}"
            texts.append(" ".join(copy))
    rng.shuffle(texts)
    return texts


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_cliques_agree_with_dedup(seed):
    texts = clique_corpus(seed)
    for threshold in (0.5, 0.55):
        # banding that misses nothing: scan verifies every pair inside a
        # connected group, a stream only its LSH candidates
        d = neardup.Deduplicator(threshold=threshold, bands=128, rows=1)
        flagged = [d.add(t) is not None for t in texts]
        mask = neardup.dedup(texts, threshold=threshold, bands=128, rows=1)
        assert sum(flagged) > 20
        assert flagged == [not keep for keep in mask]


@pytest.mark.parametrize("corpus", CORPORA)
def test_add_many_equals_a_loop_of_add(corpus):
    _, ids, texts = load_corpus(corpus)
    one = neardup.Deduplicator(threshold=0.6)
    expected = [one.add(t, id=i) for i, t in zip(ids, texts)]
    assert any(expected) and not all(expected)
    for threads in (1, 2, 3):
        many = neardup.Deduplicator(threshold=0.6)
        assert many.add_many(texts, ids, threads=threads) == expected
        assert len(many) == len(one) and many.added == one.added
    # in pieces, mixed with add(), default ids (positions in the stream)
    mixed = neardup.Deduplicator(threshold=0.6)
    loop = neardup.Deduplicator(threshold=0.6)
    got = mixed.add_many(texts[:300]) + [mixed.add(t) for t in texts[300:400]] + mixed.add_many(texts[400:])
    assert got == [loop.add(t) for t in texts]
    # after add_many, the kept texts' ids answer queries
    assert mixed.query(texts[0]).id == 0


def test_add_many_after_fork():
    """A Deduplicator whose add_many threads were made before a fork works in
    the child (the threads stayed in the parent): no hang."""
    import os

    d = neardup.Deduplicator()
    d.add_many(["one two three four five six", "seven eight nine ten eleven twelve"], threads=2)
    pid = os.fork()
    if pid == 0:
        ok = False
        try:
            more = [f"text number {i} with words of its own" for i in range(50)]  # enough to wake the threads
            answers = d.add_many(["one two three four five six"] + more, threads=2)
            ok = answers[0] is not None and answers[0].id == 0 and answers[1:] == [None] * 50 and len(d) == 52
        finally:
            os._exit(0 if ok else 1)
    import time

    for _ in range(600):  # a hang fails the test in 30 s instead of stalling it
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        time.sleep(0.05)
    else:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        pytest.fail("add_many hung in the forked child")
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    assert len(d) == 2  # the parent's stream is its own


def test_add_many_checks_every_text_first():
    d = neardup.Deduplicator()
    with pytest.raises(TypeError, match=r"texts\[2\]"):
        d.add_many(["one text here", "another one", 5])
    assert len(d) == 0 and d.added == 0
    with pytest.raises(ValueError, match="ids"):
        d.add_many(["a", "b"], ids=["x"])
    with pytest.raises(TypeError):
        d.add_many("a text")
    assert d.add_many([]) == []


def test_query_and_is_duplicate_keep_nothing():
    d = neardup.Deduplicator()
    text = "one two three four five six seven eight nine ten"
    assert d.query(text) is None and not d.is_duplicate(text)
    assert len(d) == 0 and d.added == 0
    assert d.add(text) is None
    assert d.is_duplicate(text.upper())
    assert d.query(text + "!") == neardup.Match((0, 1.0))
    assert len(d) == 1 and d.added == 1
    m = d.add(text)
    assert m.id == 0 and m.jaccard == 1.0  # the default id: the position in the stream
    assert d.add("something else entirely, with its own words") is None
    assert d.add("something else entirely, with its own words", id="x").id == 2
    assert len(d) == 2 and d.added == 4
    assert d.threshold == 0.8


def test_empty_texts_are_kept_and_never_match():
    d = neardup.Deduplicator()
    assert d.add("") is None
    assert d.add("") is None
    assert d.add(" ... ") is None
    assert len(d) == 3
