"""Tests for the containment evaluation: scripts/gen-corpus --kind excerpts
(deterministic; its truth recomputed here from the texts; roles and the
intended spread of containments) and scripts/ndcontain.py (scores of
hand-made scan outputs, and of the built program on a small corpus).

Run: python3 -m unittest discover -s tests/eval -v
The program is $ND_NEARDUP (ctest sets it), else the one
ndlib.find_neardup() finds; the test that runs it is skipped without one.
"""
import json
import os
import re
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # no scripts/__pycache__
SCRIPTS = os.path.normpath(os.path.join(HERE, "..", "..", "scripts"))
sys.path.insert(0, SCRIPTS)

import ndcontain  # noqa: E402
import ndlib  # noqa: E402


def program():
    path = os.environ.get("ND_NEARDUP")
    if path:
        return path
    try:
        return ndlib.find_neardup()
    except ndlib.Error:
        return None


def generate(out, docs=300, seed=3, extra=()):
    subprocess.run([sys.executable, os.path.join(SCRIPTS, "gen-corpus"), "--docs", str(docs), "--seed", str(seed),
                    "--kind", "excerpts", "--out", out] + list(extra), check=True)


def shingles(text):
    """5-word windows of lowercased alphanumeric runs: the generator's rule,
    written again."""
    toks = re.findall(r"[^\W_]+", text.lower())
    if len(toks) < 5:
        return {tuple(toks)}
    return set(zip(*(toks[i:] for i in range(5))))


class ExcerptsCorpus(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.dir = os.path.join(cls.tmp.name, "a")
        generate(cls.dir)
        cls.docs = {o["id"]: o for _, o in ndlib.read_jsonl(os.path.join(cls.dir, "docs.jsonl"))}
        cls.truth = ndcontain.load_truth(cls.dir)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_deterministic(self):
        other = os.path.join(self.tmp.name, "b")
        generate(other)
        for name in ("docs.jsonl", "truth.jsonl", "truth_pairs.tsv", "manifest.json"):
            self.assertEqual(ndlib.sha256_file(os.path.join(self.dir, name)),
                             ndlib.sha256_file(os.path.join(other, name)), name)

    def test_truth_is_exact(self):
        role, original, pairs = self.truth
        self.assertGreater(len(pairs), 100)
        for (a, b), (j, ab, ba) in pairs.items():
            sa, sb = shingles(self.docs[a]["text"]), shingles(self.docs[b]["text"])
            x = len(sa & sb)
            self.assertAlmostEqual(j, x / len(sa | sb), delta=1e-6)
            self.assertAlmostEqual(ab, x / len(sa), delta=1e-6)
            self.assertAlmostEqual(ba, x / len(sb), delta=1e-6)

    def test_roles(self):
        role, original, pairs = self.truth
        groups = {}
        for d, o in original.items():
            groups.setdefault(o, []).append(d)
        for o, members in groups.items():
            self.assertEqual(role[o], "original")
            self.assertEqual(sum(role[d] == "original" for d in members), 1)
        seen = {r: [] for r in ("excerpt", "abridged", "decoy")}
        for d, r in role.items():
            if r != "original":
                nums = ndcontain.true_numbers(pairs, d, original[d])
                seen[r].append(nums[1])  # containment in the original
                words = len(self.docs[d]["text"].split())
                self.assertLess(words, len(self.docs[original[d]]["text"].split()))
        for r, cs in seen.items():
            self.assertGreater(len(cs), 5, r)
        # light edits straddle 0.8; decoys stay far below it
        self.assertTrue(any(c >= 0.8 for c in seen["excerpt"]) and any(c < 0.8 for c in seen["excerpt"]))
        self.assertTrue(any(c >= 0.8 for c in seen["abridged"]))
        self.assertLess(max(seen["decoy"]), 0.5)

    def test_other_kinds_have_no_roles(self):
        d = os.path.join(self.tmp.name, "mixed")
        subprocess.run([sys.executable, os.path.join(SCRIPTS, "gen-corpus"), "--docs", "50", "--seed", "1",
                        "--out", d], check=True)
        with open(os.path.join(d, "truth_pairs.tsv")) as f:
            self.assertEqual(f.readline(), "a\tb\tjaccard\n")
        with self.assertRaises(ndlib.Error):
            ndcontain.load_truth(d)


class Scores(unittest.TestCase):
    """ndcontain.evaluate on a hand-made truth: o1 has excerpts e1 (0.9),
    e2 (0.7) and decoy z1; o2 has abridged a2 (0.85)."""

    truth = ({"o1": "original", "e1": "excerpt", "e2": "excerpt", "z1": "decoy", "o2": "original",
              "a2": "abridged"},
             {"o1": "o1", "e1": "o1", "e2": "o1", "z1": "o1", "o2": "o2", "a2": "o2"},
             {("e1", "o1"): (0.3, 0.9, 0.3), ("o1", "e2"): (0.2, 0.25, 0.7), ("z1", "o1"): (0.05, 0.1, 0.05),
              ("e1", "e2"): (0.1, 0.2, 0.2), ("e1", "z1"): (0.0, 0.0, 0.0), ("e2", "z1"): (0.0, 0.0, 0.0),
              ("a2", "o2"): (0.4, 0.85, 0.4)})

    def test_all_found(self):
        listed = [{"a": "e1", "b": "o1"}, {"a": "a2", "b": "o2"}]
        clusters = [{"ids": ["o1", "e1"]}, {"ids": ["o2", "a2"]}]
        r = ndcontain.evaluate(self.truth, listed, clusters)
        self.assertEqual((r["contained"], r["found_by_pairs"], r["found_by_clusters"]), (2, 2, 2))
        self.assertEqual((r["recall_pairs"], r["precision"], r["claim_precision"]), (1.0, 1.0, 1.0))
        self.assertEqual((r["decoys_in_pairs"], r["decoys_in_clusters"]), (0, 0))
        self.assertEqual(r["by_role"]["excerpt"]["contained"], 1)

    def test_misses_wrong_pairs_and_decoys(self):
        listed = [{"a": "o1", "b": "e1"}, {"a": "z1", "b": "o1"}, {"a": "e1", "b": "a2"}]
        clusters = [{"ids": ["e1", "o1"]}]  # the excerpt kept: its original is not contained in it
        r = ndcontain.evaluate(self.truth, listed, clusters)
        self.assertEqual(r["found_by_pairs"], 1)  # (o1, e1) counts either way round; a2 is missed
        self.assertEqual(r["recall_pairs"], 0.5)
        self.assertEqual((r["listed_correct"], r["listed_pairs"]), (1, 3))
        self.assertEqual((r["claims_correct"], r["claims"]), (0, 1))
        self.assertEqual((r["decoys_in_pairs"], r["decoys_in_clusters"]), (1, 0))


@unittest.skipIf(program() is None, "no neardup program")
class OnTheProgram(unittest.TestCase):
    def test_small_corpus(self):
        with tempfile.TemporaryDirectory() as tmp:
            d = os.path.join(tmp, "c")
            generate(d, docs=400, seed=11)
            q = ndcontain.quality(program(), d, tmp)
        c, j = q["containment"], q["jaccard"]
        self.assertGreater(c["contained"], 30)
        self.assertGreaterEqual(c["recall_pairs"], 0.95)
        self.assertGreaterEqual(c["precision"], 0.99)
        self.assertEqual(c["decoys_in_pairs"], 0)
        self.assertEqual(c["decoys_in_clusters"], 0)
        self.assertLess(j["found_by_pairs"], c["found_by_pairs"] / 4)  # Jaccard misses most of them


if __name__ == "__main__":
    unittest.main()
