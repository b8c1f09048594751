"""Tests for scripts/eval (logic in scripts/ndeval.py).

Run: python3 -m unittest discover -s tests/eval -v
"""
import json
import os
import subprocess
import sys
import tempfile
import unittest
from fractions import Fraction

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # no scripts/__pycache__
SCRIPTS = os.path.normpath(os.path.join(HERE, "..", "..", "scripts"))
sys.path.insert(0, SCRIPTS)

import ndeval  # noqa: E402

EVAL = os.path.join(SCRIPTS, "eval")

# Two true groups: {a, b} (1 pair) and {c, d, e} (3 pairs).
GROUPS = [["a", "b"], ["c", "d", "e"]]
PAIRS_HIGH = {("a", "b"): 0.9, ("c", "d"): 0.85, ("c", "e"): 1.0,
              ("d", "e"): 0.8}


class Files:
    """Write small input files into a temporary directory."""

    def __init__(self, test):
        self.dir = tempfile.TemporaryDirectory()
        test.addCleanup(self.dir.cleanup)

    def path(self, name):
        return os.path.join(self.dir.name, name)

    def scan(self, clusters, header=True, name="scan.jsonl"):
        with open(self.path(name), "w") as f:
            if header:
                f.write(json.dumps({"header": {"k": 5, "threshold": 0.8}}) + "\n")
            for i, ids in enumerate(clusters):
                jac = [1.0] + [PAIRS_HIGH.get(tuple(sorted((ids[0], x))), 0.5)
                               for x in ids[1:]]
                f.write(json.dumps({"cluster": i, "ids": ids, "jaccard": jac,
                                    "size": len(ids)}) + "\n")
        return self.path(name)

    def truth(self, groups, name="truth.jsonl"):
        with open(self.path(name), "w") as f:
            for g, ids in enumerate(groups):
                f.write(json.dumps({"group": g, "ids": ids}) + "\n")
        return self.path(name)

    def pairs(self, pairs, name="truth_pairs.tsv"):
        with open(self.path(name), "w") as f:
            f.write("a\tb\tjaccard\n")
            for (a, b), j in sorted(pairs.items()):
                f.write("%s\t%s\t%r\n" % (a, b, j))
        return self.path(name)

    def docs(self, ids, name="docs.jsonl"):
        with open(self.path(name), "w") as f:
            for x in ids:
                f.write(json.dumps({"id": x, "text": "text of " + x}) + "\n")
        return self.path(name)


def ari_exact(n, x_blocks, y_blocks):
    """Reference ARI computed independently from pair counts."""
    def c2(k):
        return k * (k - 1) // 2
    index = 0
    for xb in x_blocks:
        for yb in y_blocks:
            index += c2(len(set(xb) & set(yb)))
    a = sum(c2(len(b)) for b in x_blocks)
    b = sum(c2(len(b)) for b in y_blocks)
    exp = Fraction(a * b, c2(n))
    mx = Fraction(a + b, 2)
    return (index - exp) / (mx - exp)


class TestEvaluate(unittest.TestCase):

    def run_files(self, clusters, groups=GROUPS, pairs=None, docs=None,
                  **kw):
        fs = Files(self)
        scan = ndeval.load_scan(fs.scan(clusters))
        truth = ndeval.load_truth(fs.truth(groups))
        p = ndeval.load_pairs(fs.pairs(pairs)) if pairs is not None else None
        d = ndeval.load_doc_ids(fs.docs(docs)) if docs is not None else None
        return ndeval.evaluate(scan, truth, pairs=p, doc_ids=d, **kw)

    def test_perfect(self):
        for pairs in (None, PAIRS_HIGH):
            for docs in (None, list("abcdefghij")):
                r = self.run_files([["a", "b"], ["e", "c", "d"]],
                                   pairs=pairs, docs=docs)
                self.assertEqual(r["precision"], 1.0)
                self.assertEqual(r["recall"], 1.0)
                self.assertEqual(r["f1"], 1.0)
                self.assertEqual(r["ari"], 1.0)
                self.assertEqual(r["reported_pairs"], 4)
                self.assertEqual(r["true_positives"], 4)
                self.assertEqual(r["false_positives"], 0)
                self.assertEqual(r["false_negatives"], 0)
                self.assertEqual(r["reported_below_threshold"], 0)
                self.assertEqual(r["n_ids"], 10 if docs else 5)
                self.assertEqual(r["warnings"], [])
        self.assertEqual(r["min_reported_jaccard"], 0.8)
        self.assertEqual(r["jaccard_check"],
                         {"checked": 3, "max_abs_error": 0.0,
                          "mismatches": 0})

    def test_merge_two_groups(self):
        # Groups of sizes 2 and 3 merged into one cluster of 5: 10 reported
        # pairs, 4 of them true.
        r = self.run_files([["a", "b", "c", "d", "e"]], pairs=PAIRS_HIGH)
        self.assertEqual(r["reported_pairs"], 10)
        self.assertEqual(r["positive_pairs"], 4)
        self.assertEqual(r["true_positives"], 4)
        self.assertEqual(r["false_positives"], 6)
        self.assertEqual(r["false_negatives"], 0)
        self.assertEqual(r["precision"], 4 / 10)
        self.assertEqual(r["recall"], 1.0)
        self.assertAlmostEqual(r["f1"], 4 / 7, places=15)
        self.assertEqual(r["reported_cross_group"], 6)
        self.assertEqual(r["reported_below_threshold"], 6)
        self.assertEqual(r["min_reported_jaccard"], 0.0)
        # Over the 5 ids: index 4, expected 10*4/10 = 4, max 7 -> ARI 0.
        self.assertEqual(r["ari"], 0.0)
        # Over 10 docs: expected 40/45, ARI = (4-8/9)/(7-8/9) = 28/55.
        r = self.run_files([["a", "b", "c", "d", "e"]], pairs=PAIRS_HIGH,
                           docs=list("abcdefghij"))
        self.assertAlmostEqual(r["ari"], 28 / 55, places=15)
        self.assertAlmostEqual(
            r["ari"], float(ari_exact(10, [list("abcde")], GROUPS)),
            places=15)
        self.assertEqual(r["precision"], 0.4)

    def test_miss_one_pair(self):
        # The group of 2 is not reported: exactly one true pair lost.
        r = self.run_files([["c", "d", "e"]], pairs=PAIRS_HIGH)
        self.assertEqual(r["positive_pairs"], 4)
        self.assertEqual(r["true_positives"], 3)
        self.assertEqual(r["false_negatives"], 1)
        self.assertEqual(r["false_positives"], 0)
        self.assertEqual(r["precision"], 1.0)
        self.assertEqual(r["recall"], 3 / 4)
        self.assertAlmostEqual(r["f1"], 6 / 7, places=15)
        # index 3, a 3, b 4, n 5: expected 1.2, max 3.5 -> 18/23.
        self.assertAlmostEqual(r["ari"], 18 / 23, places=15)
        self.assertAlmostEqual(
            r["ari"], float(ari_exact(5, [["c", "d", "e"]], GROUPS)),
            places=15)
        # Same without the pairs file.
        r = self.run_files([["c", "d", "e"]])
        self.assertEqual(r["recall"], 3 / 4)
        self.assertIsNone(r["bands"])

    def test_band_breakdown(self):
        groups = [["a", "b", "c", "d"], ["e", "f"]]
        pairs = {("a", "b"): 1.0, ("a", "c"): 0.3, ("a", "d"): 0.4,
                 ("b", "c"): 0.35, ("b", "d"): 0.95, ("c", "d"): 0.25,
                 ("e", "f"): 0.8}
        # Report {a, b, d} and {e, f}: reported true pairs a-b, a-d, b-d, e-f.
        r = self.run_files([["a", "b", "d"], ["e", "f"]], groups=groups,
                           pairs=pairs, bands=20, rows=5)
        by = {b["band"]: b for b in r["bands"]}
        self.assertEqual([b["band"] for b in r["bands"]],
                         ["[0.0,0.3)", "[0.3,0.4)", "[0.4,0.5)", "[0.5,0.6)",
                          "[0.6,0.7)", "[0.7,0.8)", "[0.8,0.9)", "[0.9,1.0)",
                          "1.0"])
        expect = {"[0.0,0.3)": (1, 0), "[0.3,0.4)": (2, 0),
                  "[0.4,0.5)": (1, 1), "[0.8,0.9)": (1, 1),
                  "[0.9,1.0)": (1, 1), "1.0": (1, 1)}
        for label, b in by.items():
            n, rep = expect.get(label, (0, 0))
            self.assertEqual((b["true_pairs"], b["reported"]), (n, rep), label)
            self.assertEqual(b["recall"], rep / n if n else None, label)
        self.assertEqual(sum(b["true_pairs"] for b in r["bands"]), 7)
        # Predicted LSH probability at the band midpoint.
        self.assertAlmostEqual(by["[0.3,0.4)"]["lsh_prob_mid"],
                               1 - (1 - 0.35 ** 5) ** 20, places=12)
        self.assertAlmostEqual(by["[0.8,0.9)"]["lsh_prob_mid"],
                               1 - (1 - 0.85 ** 5) ** 20, places=12)
        self.assertEqual(by["1.0"]["lsh_prob_mid"], 1.0)
        self.assertAlmostEqual(by["[0.3,0.4)"]["lsh_prob_mean"],
                               ((1 - (1 - 0.3 ** 5) ** 20)
                                + (1 - (1 - 0.35 ** 5) ** 20)) / 2, places=12)
        self.assertIsNone(by["[0.5,0.6)"]["lsh_prob_mean"])
        self.assertAlmostEqual(r["lsh"]["threshold_estimate"],
                               (1 / 20) ** (1 / 5), places=12)
        # Positives at threshold 0.8: a-b, b-d, e-f; all reported.
        self.assertEqual(r["positive_pairs"], 3)
        self.assertEqual(r["recall"], 1.0)
        # Reported a-d (0.4) is related but below threshold -> FP.
        self.assertEqual(r["reported_pairs"], 4)
        self.assertEqual(r["precision"], 3 / 4)
        self.assertEqual(r["related_below_threshold_pairs"], 4)
        self.assertEqual(r["reported_below_threshold"], 1)
        self.assertEqual(r["min_reported_jaccard"], 0.4)
        # No LSH columns without bands/rows.
        r = self.run_files([["a", "b", "d"]], groups=groups, pairs=pairs)
        self.assertNotIn("lsh_prob_mid", r["bands"][0])
        self.assertIsNone(r["lsh"])

    def test_below_threshold_counted(self):
        groups = [["a", "b", "c"], ["x", "y"]]
        pairs = {("a", "b"): 0.9, ("a", "c"): 0.5, ("b", "c"): 0.6,
                 ("x", "y"): 0.95}
        r = self.run_files([["a", "b", "c"]], groups=groups, pairs=pairs)
        self.assertEqual(r["reported_pairs"], 3)
        self.assertEqual(r["positive_pairs"], 2)
        self.assertEqual(r["true_positives"], 1)
        self.assertEqual(r["precision"], 1 / 3)
        self.assertEqual(r["recall"], 1 / 2)
        self.assertEqual(r["reported_below_threshold"], 2)
        self.assertEqual(r["min_reported_jaccard"], 0.5)
        # Lower threshold makes them positives.
        r = self.run_files([["a", "b", "c"]], groups=groups, pairs=pairs,
                           threshold=0.5)
        self.assertEqual(r["reported_below_threshold"], 0)
        self.assertEqual(r["precision"], 1.0)
        # A cross-group pair (x with a) has true Jaccard 0.
        r = self.run_files([["a", "b", "c"], ["x", "q"]], groups=groups,
                           pairs=pairs)
        self.assertEqual(r["reported_below_threshold"], 3)
        self.assertEqual(r["reported_cross_group"], 1)
        self.assertEqual(r["min_reported_jaccard"], 0.0)

    def test_empty_scan(self):
        for header in (True, False):
            fs = Files(self)
            with open(fs.path("scan.jsonl"), "w") as f:
                if header:
                    f.write('{"header": {"k": 5}}\n\n')
            scan = ndeval.load_scan(fs.path("scan.jsonl"))
            self.assertEqual(scan, [])
            truth = ndeval.load_truth(fs.truth(GROUPS))
            pairs = ndeval.load_pairs(fs.pairs(PAIRS_HIGH))
            r = ndeval.evaluate(scan, truth, pairs=pairs, bands=10, rows=4)
            self.assertEqual(r["reported_pairs"], 0)
            self.assertEqual(r["precision"], 1.0)   # convention
            self.assertEqual(r["recall"], 0.0)
            self.assertEqual(r["f1"], 0.0)
            self.assertEqual(r["ari"], 0.0)
            self.assertEqual(r["false_negatives"], 4)
            self.assertEqual(r["reported_below_threshold"], 0)
            self.assertIsNone(r["min_reported_jaccard"])
            self.assertEqual(r["jaccard_check"]["checked"], 0)
        # Empty scan and empty truth: everything perfect by convention.
        r = ndeval.evaluate([], [])
        for k in ("precision", "recall", "f1", "ari"):
            self.assertEqual(r[k], 1.0, k)
        self.assertEqual(r["n_ids"], 0)

    def test_no_true_pairs(self):
        r = ndeval.evaluate([["a", "b"]], [], doc_ids=["a", "b", "c"])
        self.assertEqual(r["recall"], 1.0)      # convention
        self.assertEqual(r["precision"], 0.0)
        self.assertEqual(r["reported_below_threshold"], 1)

    def test_jaccard_check_and_warnings(self):
        clusters = [{"ids": ["c", "d", "e"], "jaccard": [1.0, 0.80, 0.999]}]
        pairs = dict(PAIRS_HIGH)
        del pairs[("a", "b")]
        pairs[("a", "z")] = 0.5
        r = ndeval.evaluate(clusters + [["c", "a"]], GROUPS, pairs=pairs)
        jc = r["jaccard_check"]
        self.assertEqual(jc["checked"], 2)
        self.assertEqual(jc["mismatches"], 2)
        self.assertAlmostEqual(jc["max_abs_error"], 0.05, places=12)
        text = " ".join(r["warnings"])
        self.assertIn("more than one reported cluster", text)
        self.assertIn("missing from the pairs file", text)
        self.assertIn("not inside a truth group", text)
        # Missing pair a-b counts as a positive with unknown Jaccard.
        self.assertEqual(r["positive_pairs"], 4)


class TestCli(unittest.TestCase):

    def test_json_and_text(self):
        fs = Files(self)
        args = [sys.executable, EVAL,
                "--scan", fs.scan([["a", "b", "c", "d", "e"]]),
                "--truth", fs.truth(GROUPS),
                "--pairs", fs.pairs(PAIRS_HIGH),
                "--docs", fs.docs(list("abcdefghij")),
                "--threshold", "0.8", "--bands", "20", "--rows", "5"]
        out = subprocess.run(args + ["--json"], check=True,
                             capture_output=True, text=True).stdout
        self.assertEqual(len(out.strip().splitlines()), 1)
        r = json.loads(out)
        self.assertEqual(list(r)[:4],
                         ["inputs", "threshold", "n_ids", "n_clusters"])
        self.assertEqual(r["precision"], 0.4)
        self.assertEqual(r["recall"], 1.0)
        self.assertAlmostEqual(r["ari"], 28 / 55, places=15)
        self.assertEqual(r["lsh"]["bands"], 20)
        self.assertEqual(len(r["bands"]), 9)
        out2 = subprocess.run(args + ["--json"], check=True,
                              capture_output=True, text=True).stdout
        self.assertEqual(out, out2)
        text = subprocess.run(args, check=True, capture_output=True,
                              text=True).stdout
        self.assertIn("precision", text)
        self.assertIn("[0.8,0.9)", text)
        self.assertIn("P(mid)", text)

    def test_executable_and_errors(self):
        self.assertTrue(os.access(EVAL, os.X_OK))
        fs = Files(self)
        p = subprocess.run([EVAL, "--scan", fs.path("missing.jsonl"),
                            "--truth", fs.truth(GROUPS)],
                           capture_output=True, text=True)
        self.assertEqual(p.returncode, 1)  # a missing file: a failure, not a usage error
        self.assertIn("cannot open", p.stderr)
        p = subprocess.run([EVAL, "--scan", fs.scan([]),
                            "--truth", fs.truth(GROUPS), "--bands", "4"],
                           capture_output=True, text=True)
        self.assertEqual(p.returncode, 2)


class ClaimTests(unittest.TestCase):
    """Claims are (survivor, member) pairs: what scan asserts."""

    def test_member_pairs_below_threshold_are_not_claims(self):
        # survivor a matches b and c (0.9); b-c is 0.7: a false positive for
        # all-pairs precision, but not a claim.
        groups = [["a", "b", "c"]]
        pairs = {("a", "b"): 0.9, ("a", "c"): 0.9, ("b", "c"): 0.7}
        r = ndeval.evaluate([{"ids": ["a", "b", "c"]}], groups, pairs=pairs)
        self.assertEqual(r["claimed_pairs"], 2)
        self.assertEqual(r["claim_precision"], 1.0)
        self.assertEqual(r["claims_below_threshold"], 0)
        self.assertAlmostEqual(r["min_claim_jaccard"], 0.9)
        self.assertAlmostEqual(r["precision"], 2 / 3)

    def test_wrong_claims_count(self):
        groups = [["a", "b"], ["c", "d"]]
        pairs = {("a", "b"): 0.95, ("c", "d"): 0.6}
        r = ndeval.evaluate([{"ids": ["a", "b"]}, {"ids": ["c", "d", "x"]}], groups, pairs=pairs)
        self.assertEqual(r["claimed_pairs"], 3)
        self.assertEqual(r["claims_correct"], 1)  # c-d is 0.6, c-x is unrelated
        self.assertAlmostEqual(r["claim_precision"], 1 / 3)
        self.assertEqual(r["min_claim_jaccard"], 0.0)


if __name__ == "__main__":
    unittest.main()
