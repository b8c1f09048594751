"""neardup.normalize, neardup.explain and neardup.signature against the
program's `normalize` and `explain --json`, on the fixtures (Arabic, CJK,
Persian, paragraphs) and a corpus."""

import glob
import itertools
import json
import os
import struct

import pytest

import neardup
from conftest import SOURCE_DIR, cli6, load_corpus, run_cli

FIXTURES = sorted(glob.glob(os.path.join(SOURCE_DIR, "tests", "fixtures", "*", "*.txt")))


def read(path):
    with open(path, "rb") as f:
        return f.read()


@pytest.mark.parametrize("profile", ["default", "aggressive"])
def test_normalize_equals_cli(nd_binary, profile):
    out = run_cli(nd_binary, "normalize", "--normalize", profile, *FIXTURES)
    records = [json.loads(line) for line in out.splitlines()]
    assert [r["id"] for r in records] == FIXTURES
    for path, record in zip(FIXTURES, records):
        assert neardup.normalize(read(path), profile=profile) == record["tokens"], path
        assert neardup.normalize(read(path).decode("utf-8"), profile) == record["tokens"], path


def test_normalize_examples():
    assert neardup.normalize("ＦＵＬＬ-width Straße!") == ["full", "width", "strasse"]
    assert neardup.normalize("café", profile="aggressive") == ["cafe"]
    assert neardup.normalize("") == []
    assert neardup.normalize(b"bad \xff byte") == ["bad", "byte"]


def as_cli(value):
    """explain()'s dict with numbers as the program prints them (%.6g)."""
    if isinstance(value, dict):
        return {k: as_cli(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_cli(v) for v in value]
    if isinstance(value, float):
        return cli6(value)
    return value


def pairs():
    by_dir = {}
    for path in FIXTURES:
        by_dir.setdefault(os.path.dirname(path), []).append(path)
    for paths in by_dir.values():
        yield from itertools.combinations(paths, 2)


@pytest.mark.parametrize("a,b", list(pairs()), ids=lambda p: os.path.basename(p))
def test_explain_equals_cli(nd_binary, a, b):
    expected = json.loads(run_cli(nd_binary, "explain", "--json", a, b))
    got = neardup.explain(read(a), read(b), ids=(a, b))
    assert as_cli(got) == as_cli(expected)
    got_str = neardup.explain(read(a).decode("utf-8"), read(b).decode("utf-8"), ids=[a, b])
    assert as_cli(got_str) == as_cli(expected)


def test_explain_tiny_vocabulary_says_runs_not_listed(nd_binary, tmp_path):
    # two long texts over three words share runs in numbers that grow with
    # the square of their length: none listed, said so (they took 7.5 s and
    # 700 MB at 80,000 words, four times as long sixteen times that)
    import random
    rng = random.Random(3)
    a, b = (" ".join(rng.choice("xyz") for _ in range(40000)) for _ in range(2))
    (tmp_path / "a.txt").write_text(a)
    (tmp_path / "b.txt").write_text(b)
    expected = json.loads(run_cli(nd_binary, "explain", "--json", str(tmp_path / "a.txt"), str(tmp_path / "b.txt")))
    assert expected["runs"] == [] and expected["runs_complete"] is False
    got = neardup.explain(a, b, ids=(str(tmp_path / "a.txt"), str(tmp_path / "b.txt")))
    assert as_cli(got) == as_cli(expected)
    small = neardup.explain(a[:2000], b[:2000])
    assert small["runs_complete"] is True and small["runs"]


def test_explain_options_equal_cli(nd_binary, tmp_path):
    _, ids, texts = load_corpus("mixed-1k")
    clusters = neardup.scan(texts, ids, threshold=0.5)
    i, j = clusters[0].indices[:2]
    (tmp_path / "a.txt").write_text(texts[i], encoding="utf-8")
    (tmp_path / "b.txt").write_text(texts[j], encoding="utf-8")
    args = ["--threshold", "0.5", "--shingle", "words:3", "--num-perm", "64", "--seed", "7"]
    expected = json.loads(run_cli(nd_binary, "explain", "--json", *args, str(tmp_path / "a.txt"), str(tmp_path / "b.txt")))
    got = neardup.explain(texts[i], texts[j], ids=(str(tmp_path / "a.txt"), str(tmp_path / "b.txt")),
                          threshold=0.5, shingle="words:3", num_perm=64, seed=7)
    assert as_cli(got) == as_cli(expected)
    assert got["jaccard"] >= 0.5 and got["match"]


@pytest.mark.parametrize("a,b", list(pairs())[:6], ids=lambda p: os.path.basename(p))
def test_explain_containment_equals_cli(nd_binary, a, b):
    expected = json.loads(run_cli(nd_binary, "explain", "--json", "--measure", "containment", "--min-shingles", "5", a, b))
    got = neardup.explain(read(a), read(b), ids=(a, b), measure="containment", min_shingles=5)
    assert as_cli(got) == as_cli(expected)
    assert got["measure"] == "containment" and got["candidate"]


def test_explain_defaults():
    e = neardup.explain("one two three four five six", "one two three four five six")
    assert e["a"]["id"] == "a" and e["b"]["id"] == "b"
    assert e["jaccard"] == 1.0 and e["match"] and e["candidate"]
    assert e["runs"] == [{"tokens": 6, "a": [0, 27], "b": [0, 27], "text": "one two three four five six"}]


def test_preview_is_cut_at_sixty_characters():
    words = " ".join("x" * (i % 3 + 1) for i in range(100))
    e = neardup.explain(words, words)
    text = e["runs"][0]["text"]
    assert text.endswith("…") and len(text) <= 61
    assert words.startswith(text[:-1].rstrip())


def test_signature():
    text = "the quick brown fox jumps over the lazy dog near the river bank"
    sig = neardup.signature(text)
    assert isinstance(sig, bytes) and len(sig) == 128 * 4
    assert neardup.signature(text) == sig  # deterministic
    assert neardup.signature(text.encode()) == sig
    assert neardup.signature(text, seed=2) != sig
    assert len(neardup.signature(text, num_perm=64)) == 256
    # the share of equal values is explain()'s estimated Jaccard
    other = text.replace("lazy", "sleepy")
    a = struct.unpack("<128I", sig)
    b = struct.unpack("<128I", neardup.signature(other))
    equal = sum(x == y for x, y in zip(a, b)) / 128
    assert equal == neardup.explain(text, other)["estimated_jaccard"]
    empty = struct.unpack("<128I", neardup.signature(""))
    assert set(empty) == {0xFFFFFFFF}


def test_signature_numpy():
    np = pytest.importorskip("numpy")
    sig = np.frombuffer(neardup.signature("some words to sign here"), dtype="<u4")
    assert sig.shape == (128,)
