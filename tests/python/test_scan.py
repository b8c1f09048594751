"""neardup.scan and neardup.dedup against the program: the same clusters
(ids, survivors, exact Jaccards as printed) and the same kept records on
the repository's corpora and fixtures; identical output for any thread
count; the library's threads really run while the GIL is free."""

import glob
import json
import os
import threading
import time

import pytest

import neardup
from conftest import CORPORA, SOURCE_DIR, cli6, load_corpus, run_cli


def cli_clusters(binary, *args):
    out = run_cli(binary, "scan", "--quiet", *args)
    return [(c["ids"], c["jaccard"]) for c in map(json.loads, out.splitlines())]


def py_clusters(clusters):
    return [(c.ids, [cli6(j) for j in c.jaccard]) for c in clusters]


@pytest.mark.parametrize("corpus", CORPORA)
@pytest.mark.parametrize("options", [[], ["--threshold", "0.5"], ["--keep", "longest", "--threshold", "0.6"]])
def test_clusters_equal_cli(nd_binary, corpus, options):
    path, ids, texts = load_corpus(corpus)
    expected = cli_clusters(nd_binary, *options, path)
    assert len(expected) >= 3, "the corpus has clusters"
    kwargs = {}
    for flag, value in zip(options[::2], options[1::2]):
        kwargs[flag.lstrip("-")] = float(value) if flag == "--threshold" else value
    got = neardup.scan(texts, ids, **kwargs)
    assert py_clusters(got) == expected
    for c in got:  # indices point at the texts the ids name
        assert [ids[i] for i in c.indices] == c.ids


@pytest.mark.parametrize("corpus", CORPORA)
def test_containment_equals_cli(nd_binary, corpus):
    """--measure containment: the same clusters, with each member's containment."""
    path, ids, texts = load_corpus(corpus)
    out = run_cli(nd_binary, "scan", "--quiet", "--measure", "containment", "--min-shingles", "10", path)
    expected = [(c["ids"], c["jaccard"], c["containment"]) for c in map(json.loads, out.splitlines())]
    assert expected
    got = neardup.scan(texts, ids, measure="containment", min_shingles=10)
    assert [(c.ids, [cli6(j) for j in c.jaccard], [cli6(x) for x in c.containment]) for c in got] == expected
    assert all(c.containment is None for c in neardup.scan(texts, ids))  # only with containment


def test_fixture_files_equal_cli(nd_binary):
    """Plain files read as bytes, ids the paths, as the program names them."""
    paths = sorted(glob.glob(os.path.join(SOURCE_DIR, "tests", "fixtures", "*", "*.txt")))
    texts = []
    for p in paths:
        with open(p, "rb") as f:
            texts.append(f.read())
    for shingle in ("auto", "words:3"):
        expected = cli_clusters(nd_binary, "--shingle", shingle, *paths)
        assert expected, "the fixtures have clusters"
        assert py_clusters(neardup.scan(texts, paths, shingle=shingle)) == expected


def cli_groups(binary, *args):
    out = run_cli(binary, "scan", "--quiet", *args)
    groups = []
    for g in map(json.loads, out.splitlines()):
        groups.append(([(o["id"], o["start"], o["end"]) for o in g["occurrences"]], g["jaccard"]))
    return groups


@pytest.mark.parametrize("unit", ["paragraph", "line"])
@pytest.mark.parametrize("options", [[], ["--min-tokens", "4", "--threshold", "0.6"]])
def test_unit_groups_equal_cli(nd_binary, unit, options):
    """Groups of repeated paragraphs or lines: the same occurrences (ids and
    byte spans for bytes texts, character spans for str texts) and Jaccards."""
    path, ids, texts = load_corpus("syndicated-500")
    expected = cli_groups(nd_binary, "--unit", unit, *options, path)
    assert len(expected) > 10
    kwargs = {"min_tokens": 4, "threshold": 0.6} if options else {}
    raw = [t.encode() for t in texts]
    got = neardup.scan(raw, ids, unit=unit, **kwargs)
    assert [(list(zip(c.ids, *zip(*c.spans))), [cli6(j) for j in c.jaccard]) for c in got] == expected
    for c, c_str in zip(got, neardup.scan(texts, ids, unit=unit, threads=1, **kwargs)):
        assert c_str.ids == c.ids and c_str.jaccard == c.jaccard
        for i, (s, e), (cs, ce) in zip(c.indices, c.spans, c_str.spans):
            assert texts[i][cs:ce].encode() == raw[i][s:e]


@pytest.mark.parametrize("unit", ["document", "paragraph"])
def test_many_chunks_equal_cli(nd_binary, tmp_path, unit):
    """More texts than one chunk holds (8192), not ASCII: the clusters (and
    for units, which text each member came from, counted across chunks) are
    the program's."""
    _, ids, texts = load_corpus("syndicated-500")
    copies = 3 * 8192 // len(texts) + 1  # four chunks or more
    many_ids = [f"{i}#{k}" for k in range(copies) for i in ids]
    many = [t + " \u00e9t\u00e9" for _ in range(copies) for t in texts]
    jsonl = tmp_path / "many.jsonl"
    with open(jsonl, "w", encoding="utf-8") as f:
        for i, t in zip(many_ids, many):
            f.write(json.dumps({"id": i, "text": t}, ensure_ascii=False) + "\n")
    if unit == "document":
        expected = cli_clusters(nd_binary, str(jsonl))
        assert len(expected) > 10
        assert py_clusters(neardup.scan(many, many_ids, threads=2)) == expected
        return
    expected = cli_groups(nd_binary, "--unit", unit, str(jsonl))
    assert len(expected) > 10
    got = neardup.scan([t.encode() for t in many], many_ids, unit=unit, threads=2)
    assert [(list(zip(c.ids, *zip(*c.spans))), [cli6(j) for j in c.jaccard]) for c in got] == expected
    for c in got:
        assert [many_ids[i] for i in c.indices] == c.ids


def test_unit_fixtures_equal_cli(nd_binary):
    paths = sorted(glob.glob(os.path.join(SOURCE_DIR, "tests", "fixtures", "*", "*.txt")))
    texts = []
    for p in paths:
        with open(p, "rb") as f:
            texts.append(f.read())
    for unit in ("paragraph", "line"):
        expected = cli_groups(nd_binary, "--unit", unit, *paths)
        assert expected
        got = neardup.scan(texts, paths, unit=unit)
        assert [(list(zip(c.ids, *zip(*c.spans))), [cli6(j) for j in c.jaccard]) for c in got] == expected


@pytest.mark.parametrize("corpus", CORPORA)
def test_dedup_mask_equals_cli(nd_binary, corpus):
    path, ids, texts = load_corpus(corpus)
    kept = [json.loads(line)["id"] for line in run_cli(nd_binary, "dedup", "--quiet", path).splitlines()]
    mask = neardup.dedup(texts)
    assert len(mask) == len(texts)
    assert [i for i, keep in zip(ids, mask) if keep] == kept
    assert mask.count(False) == len(texts) - len(kept) > 0


def test_dedup_mask_is_scan_complement():
    _, ids, texts = load_corpus("mixed-1k")
    clusters = neardup.scan(texts, threshold=0.7)
    mask = neardup.dedup(texts, threshold=0.7)
    removed = {i for c in clusters for i in c.indices[1:]}
    assert {i for i, keep in enumerate(mask) if not keep} == removed


@pytest.mark.parametrize("corpus", CORPORA)
def test_same_output_for_any_thread_count(corpus):
    _, ids, texts = load_corpus(corpus)
    one = neardup.scan(texts, ids, threads=1, threshold=0.6)
    assert one == neardup.scan(texts, ids, threads=2, threshold=0.6)
    assert one == neardup.scan(texts, ids, threads=5, threshold=0.6)
    assert neardup.dedup(texts, threads=1) == neardup.dedup(texts, threads=3)


def test_units_and_threads():
    _, ids, texts = load_corpus("syndicated-500")
    assert neardup.scan(texts, unit="line", threads=1) == neardup.scan(texts, unit="line", threads=3)


def test_iterables_tuples_and_bytes():
    _, ids, texts = load_corpus("syndicated-500")
    expected = neardup.scan(texts, ids)
    assert neardup.scan(tuple(texts), ids) == expected
    assert neardup.scan((t for t in texts), ids) == expected
    assert neardup.scan([t.encode() for t in texts], ids) == expected
    assert neardup.scan([], []) == []
    assert neardup.dedup([]) == []


def os_threads():
    return len(os.listdir("/proc/self/task"))


def test_threads_really_used_and_gil_released():
    """While scan(threads=3) runs in one Python thread, this thread keeps
    running (the GIL is free) and sees the library's two extra OS threads."""
    _, _, texts = load_corpus("mixed-1k")
    texts = texts * 30  # long enough to watch
    base = os_threads()
    done = threading.Event()
    seen = []
    ticks = 0

    def work():
        neardup.scan(texts, threads=3)
        done.set()

    worker = threading.Thread(target=work)
    worker.start()
    while not done.is_set():
        seen.append(os_threads())
        ticks += 1
        time.sleep(0.001)
    worker.join()
    # this thread + the Python worker thread + the library's 2 = base + 3
    assert max(seen) == base + 3, f"threads seen: {sorted(set(seen))}, base {base}"
    assert ticks > 10, "the main thread did not run while scan worked"
    for _ in range(1000):  # the library's threads end with the call (the Python one may linger a moment)
        if os_threads() == base:
            break
        time.sleep(0.001)
    assert os_threads() == base


def test_saudinewsnet_equals_cli(nd_binary, tmp_path):
    """On SaudiNewsNet when it is present (skipped otherwise)."""
    import zipfile

    root = "/work/shared/corpora/saudinewsnet/dataset"
    zips = sorted(glob.glob(os.path.join(root, "*.zip")))
    if not zips:
        pytest.skip("SaudiNewsNet is not present")
    ids, texts = [], []
    for z in zips:
        with zipfile.ZipFile(z) as zf:
            (name,) = [n for n in zf.namelist() if n.endswith(".json")]
            for i, rec in enumerate(json.loads(zf.read(name).decode("utf-8"))):
                ids.append(f"{rec['source']}/{os.path.basename(z)[:-4]}/{i}")
                texts.append(rec.get("content") or "")
    jsonl = tmp_path / "saudi.jsonl"
    with open(jsonl, "w", encoding="utf-8") as f:
        for i, t in zip(ids, texts):
            f.write(json.dumps({"id": i, "text": t}, ensure_ascii=False) + "\n")
    expected = cli_clusters(nd_binary, str(jsonl))
    assert len(expected) > 100
    assert py_clusters(neardup.scan(texts, ids)) == expected


def texts_of_every_kind(seed=7, count=60):
    """str texts CPython keeps as 1, 2 and 4 bytes a code point, with what
    each encodes in its own way: Latin-1 letters; Arabic, Cyrillic (two
    bytes); CJK (three); lone surrogates and two surrogates in a row
    (encoded apart, as surrogatepass does); emoji (four). Paragraphs repeat
    across texts, so that scan finds groups and clusters."""
    import random

    rng = random.Random(seed)
    pools = [
        ["caf\u00e9", "na\u00efve", "\u00fcber", "stra\u00dfe", "\u00ff\u00e0\u00e7", "plain", "words", "1999", "\u00a0"],
        ["\u0645\u0631\u062d\u0628\u0627", "\u043f\u0440\u0438\u0432\u0435\u0442", "\u4e2d\u6587\u5b57", "\ud800",
         "\ud83d\ude00", "x\udc00y", "ascii", "\u00e9t\u00e9", "\u05e9\u05dc\u05d5\u05dd"],
        ["\U0001f600", "\U00010348\u0627", "\ud800z", "\u0645\u0631\u062d\u0628\u0627", "\u4e2d\u6587", "plain",
         "\u00e9", "\U0010ffff", "\u07ff\u0800"],
    ]
    texts = []
    for pool in pools:
        paragraphs = [" ".join(rng.choice(pool) for _ in range(rng.randint(1, 40))) for _ in range(12)]
        for _ in range(count // 3):
            texts.append("\n\n".join(rng.choice(paragraphs) for _ in range(rng.randint(1, 5))))
    return texts


def test_str_encoded_as_surrogatepass():
    """The UTF-8 that scan and add_many give the library for a str (encoded
    on the library's threads, eight code points a step where it can) is
    str.encode('utf-8', 'surrogatepass'), for every kind of str and every
    length around a step's eight."""
    from neardup import _neardup

    texts = texts_of_every_kind()
    texts += ["", "a", "\u00e9", "\u0800", "\ud800", "\U0001f600", "\x7f\x80", "\u07ff" * 9, "a\u0800" * 8]
    texts += [t[:k] for t in texts_of_every_kind(seed=8, count=6) for k in range(0, 40)]
    texts += [b"bytes \xff as they are"]
    expected = [t if isinstance(t, bytes) else t.encode("utf-8", "surrogatepass") for t in texts]
    assert _neardup._utf8(texts) == expected


@pytest.mark.parametrize("unit", ["document", "paragraph", "line"])
def test_str_same_as_bytes(unit):
    """str texts of every kind, their UTF-8 made on the library's threads,
    give the clusters of the same texts encoded by Python, with one thread
    or three; unit spans (str indices) cover the same text."""
    texts = texts_of_every_kind() * 40  # long enough for the threads to share the chunk
    raw = [t.encode("utf-8", "surrogatepass") for t in texts]
    expected = neardup.scan(raw, unit=unit, threads=1)
    assert len(expected) > 3
    for threads in (1, 3):
        got = neardup.scan(texts, unit=unit, threads=threads)
        assert [(c.indices, c.jaccard) for c in got] == [(c.indices, c.jaccard) for c in expected]
        if unit != "document":
            for c, c_raw in zip(got, expected):
                for i, (cs, ce), (s, e) in zip(c.indices, c.spans, c_raw.spans):
                    assert texts[i][cs:ce].encode("utf-8", "surrogatepass") == raw[i][s:e]
    d_str, d_raw = neardup.Deduplicator(), neardup.Deduplicator()
    assert d_str.add_many(texts, threads=2) == d_raw.add_many(raw, threads=2)


@pytest.mark.parametrize("unit", ["document", "paragraph"])
def test_scan_leaves_the_collector_as_it_was(unit):
    """scan pauses the cyclic garbage collector while it makes its clusters
    (lists by the hundred thousand) and leaves it as it found it: running,
    or paused by the caller; also when scan fails."""
    import gc

    texts = ["a headline on the harbour and the market\n\nthe same footer on every page"] * 50
    groups = 1 if unit == "document" else 2  # (the headline, the footer)
    was = gc.isenabled()
    try:
        gc.enable()
        assert len(neardup.scan(texts, unit=unit)) == groups
        assert gc.isenabled()
        gc.disable()
        assert len(neardup.scan(texts, unit=unit)) == groups
        assert not gc.isenabled()
        gc.enable()
        with pytest.raises(TypeError):
            neardup.scan(texts + [3], unit=unit)
        assert gc.isenabled()
    finally:
        if was:
            gc.enable()
        else:
            gc.disable()
