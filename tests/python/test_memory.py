"""Reference counting and memory: a million calls through every entry
point leave the process's resident memory where it was (a leaked reference
or buffer per call would add tens of megabytes), and the objects passed in
get back exactly the reference counts they had. Under AddressSanitizer the
loop is shortened (ASan's own quarantine makes resident memory meaningless;
ASan itself reports misuse)."""

import os
import sys

import neardup
from conftest import SANITIZED

CALLS = 20_000 if SANITIZED else 1_000_000


def resident_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


TEXTS = [f"story {i} about the harbour, the market and the council meeting on day {i % 7}" for i in range(100)]


def one_round(d, i):
    """Nine calls of the cheap entry points, and every 64th round the two
    that set up sketchers and options (explain, a scan refused for a bad
    item: about a millisecond each); returns how many calls were made."""
    text = TEXTS[i % len(TEXTS)]
    d.add(text, id=("id", i % len(TEXTS)))  # after the first hundred: duplicates, a Match each
    d.query(text)
    d.is_duplicate(text)
    d.add(text.encode())
    neardup.normalize(text)
    neardup.normalize(text.encode(), profile="aggressive")
    neardup.signature(text, num_perm=32)
    d.add_many([text, TEXTS[(i + 3) % len(TEXTS)]], ids=[("m", 1), ("m", 2)], threads=1)
    try:
        d.add(12)
    except TypeError:
        pass
    if i % 64:
        return 9
    neardup.explain(text, TEXTS[(i + 1) % len(TEXTS)], ids=("a", "b"))
    try:
        neardup.scan([text, None])
    except TypeError:
        pass
    return 11


def test_a_million_calls_do_not_grow_memory():
    d = neardup.Deduplicator()
    for i in range(2000):  # warm up: the kept texts, caches, Python's free lists
        one_round(d, i)
    kept = len(d)
    before = resident_bytes()
    calls = 0
    i = 0
    while calls < CALLS:
        calls += one_round(d, i)
        i += 1
    grown = resident_bytes() - before
    assert len(d) == kept  # nothing new kept: every text was seen in the warm-up
    if not SANITIZED:
        assert grown < 4 << 20, f"{calls} calls grew resident memory by {grown} bytes"
    # scans, whose results are lists of new objects
    texts = TEXTS * 3
    for _ in range(50):
        neardup.scan(texts, threads=2)
    before = resident_bytes()
    for _ in range(100 if SANITIZED else 500):
        neardup.scan(texts, threads=2)
        neardup.dedup(texts, threads=1)
    grown = resident_bytes() - before
    if not SANITIZED:
        assert grown < 4 << 20, f"scans grew resident memory by {grown} bytes"


def test_reference_counts_are_restored():
    text = "a text whose reference count is watched " + "x" * 10
    raw = text.encode()
    ident = object()
    texts = [text, raw, text]
    ids = [ident, ident, ident]
    counts = lambda: (sys.getrefcount(text), sys.getrefcount(raw), sys.getrefcount(ident), sys.getrefcount(texts))
    before = counts()
    for _ in range(1000):
        neardup.scan(texts, ids)
        neardup.dedup(texts)
        neardup.normalize(text)
        neardup.signature(raw)
        neardup.explain(text, raw, ids=(ident, ident))
    assert counts() == before
    d = neardup.Deduplicator()
    assert d.add(text, id=ident) is None
    kept = counts()
    assert kept[2] == before[2] + 1  # the deduplicator holds the kept text's id
    for _ in range(1000):
        m = d.add(text, id=ident)
        assert m.id is ident
        del m
        d.query(raw)
        assert d.add_many([text, raw], ids=[ident, ident])[0].id is ident
    assert counts() == kept
    del d
    assert counts() == before
