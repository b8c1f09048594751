"""Tests for scripts/ndlib.py, the module the scripts share: the --stats
reader on files the built program writes, the LSH S-curve against known
values and against `neardup params`, the search order for the program,
the measurement of a process, and the file helpers.

Run: python3 -m unittest discover -s tests/eval -v
The program is $ND_NEARDUP (ctest sets it to the one it built), else the one
ndlib.find_neardup() finds; the tests that run it are skipped without one.
"""
import hashlib
import json
import os
import re
import stat
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # no scripts/__pycache__
SCRIPTS = os.path.normpath(os.path.join(HERE, "..", "..", "scripts"))
sys.path.insert(0, SCRIPTS)

import ndlib  # noqa: E402

FIXTURES = os.path.normpath(os.path.join(HERE, "..", "fixtures"))


def program():
    path = os.environ.get("ND_NEARDUP")
    if path:
        return path
    try:
        return ndlib.find_neardup()
    except ndlib.Error:
        return None


def temp_dir(test):
    d = tempfile.TemporaryDirectory()
    test.addCleanup(d.cleanup)
    return d.name


def write_executable(path, body="#!/bin/sh\nexit 0\n"):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(body)
    os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR)


class TestLshProbability(unittest.TestCase):

    def test_known_values(self):
        # 16 bands x 8 rows, the default at threshold 0.8 (README's table)
        for s, p in ((0.3, 0.0010), (0.5, 0.0607), (0.7, 0.6133), (0.8, 0.9470), (0.9, 0.9999)):
            self.assertAlmostEqual(ndlib.lsh_probability(s, 16, 8), p, places=4, msg=s)
        # one band of one row: the pair collides when the single hash agrees
        self.assertAlmostEqual(ndlib.lsh_probability(0.37, 1, 1), 0.37, places=15)
        # b bands of one row: 1 - (1 - s)^b
        self.assertAlmostEqual(ndlib.lsh_probability(0.5, 3, 1), 0.875, places=15)
        self.assertEqual(ndlib.lsh_probability(0.0, 20, 5), 0.0)
        self.assertEqual(ndlib.lsh_probability(1.0, 20, 5), 1.0)

    def test_agrees_with_neardup_params(self):
        nd = program()
        if not nd:
            self.skipTest("no neardup program")
        for t in (0.5, 0.8, 0.9):
            out = ndlib.run([nd, "params", "--threshold", str(t)])
            m = re.search(r"(\d+) bands x (\d+) rows", out)
            self.assertIsNotNone(m, out)
            b, r = int(m.group(1)), int(m.group(2))
            rows = re.findall(r"^(\d\.\d+)\s+(\d\.\d+)$", out, re.M)
            self.assertGreaterEqual(len(rows), 5, out)
            for s, p in rows:
                self.assertAlmostEqual(ndlib.lsh_probability(float(s), b, r), float(p), places=4)

    def test_shared_by_eval(self):
        import ndeval
        self.assertIs(ndeval.lsh_probability, ndlib.lsh_probability)


class TestFindNeardup(unittest.TestCase):

    def setUp(self):
        self.root = temp_dir(self)
        self.bin = os.path.join(temp_dir(self), "bin")
        self.built = os.path.join(self.root, "build", "neardup")
        self.on_path = os.path.join(self.bin, "neardup")
        write_executable(self.built)
        write_executable(self.on_path)
        old = os.environ["PATH"]
        os.environ["PATH"] = self.bin + os.pathsep + old
        self.addCleanup(os.environ.__setitem__, "PATH", old)

    def test_order(self):
        given = os.path.join(temp_dir(self), "my-neardup")
        write_executable(given)
        # 1. the path given, 2. build/neardup, 3. neardup on PATH
        self.assertEqual(ndlib.find_neardup(given, root=self.root), given)
        self.assertEqual(ndlib.find_neardup(None, root=self.root), self.built)
        os.unlink(self.built)
        self.assertEqual(ndlib.find_neardup(None, root=self.root), self.on_path)
        os.unlink(self.on_path)
        with self.assertRaises(ndlib.Error):
            ndlib.find_neardup(None, root=self.root)

    def test_given_name_is_looked_up_on_path(self):
        self.assertEqual(ndlib.find_neardup("neardup", root=self.root), self.on_path)

    def test_given_but_not_executable(self):
        path = os.path.join(temp_dir(self), "plain-file")
        with open(path, "w") as f:
            f.write("not a program\n")
        with self.assertRaisesRegex(ndlib.Error, "plain-file"):
            ndlib.find_neardup(path, root=self.root)
        with self.assertRaisesRegex(ndlib.Error, "missing"):
            ndlib.find_neardup(os.path.join(self.root, "missing"), root=self.root)


class TestStats(unittest.TestCase):
    """--stats files written by the built program."""

    def setUp(self):
        self.nd = program()
        if not self.nd:
            self.skipTest("no neardup program")
        self.dir = temp_dir(self)

    def scan_lines(self, path):
        return [obj for _, obj in ndlib.read_jsonl(path)]

    def test_scan_documents(self):
        out = os.path.join(self.dir, "scan.jsonl")
        r = ndlib.run_neardup(self.nd, ["scan", "--threads", "2", os.path.join(FIXTURES, "arabic-news")], out)
        self.assertTrue(r["ok"], r.get("error"))
        s = r["stats"]
        self.assertEqual(set(ndlib.STATS_KEYS) - set(s), set())
        clusters = self.scan_lines(out)
        self.assertEqual((s["command"], s["unit"], s["threads"]), ("scan", "document", 2))
        self.assertEqual(s["profile"], clusters[0]["profile"])
        self.assertEqual(s["documents_read"], len(os.listdir(os.path.join(FIXTURES, "arabic-news"))))
        self.assertEqual(s["clusters"], len(clusters))
        self.assertEqual(s["duplicates"], sum(c["size"] - 1 for c in clusters))
        self.assertEqual((s["threshold"], s["num_perm"], s["bands"], s["rows"]), (0.8, 128, 16, 8))
        self.assertEqual(s["bytes_read"], sum(os.path.getsize(os.path.join(FIXTURES, "arabic-news", f))
                                              for f in os.listdir(os.path.join(FIXTURES, "arabic-news"))))
        for k in ("units", "kept", "removed", "units_removed"):
            self.assertIsNone(s[k], k)
        self.assertGreater(s["peak_rss_bytes"], 0)
        self.assertGreater(r["rss_kb"], 0)
        self.assertGreaterEqual(r["wall_s"], 0)
        # the outcome is the same with one thread
        r1 = ndlib.run_neardup(self.nd, ["scan", "--threads", "1", os.path.join(FIXTURES, "arabic-news")])
        self.assertTrue(r1["ok"], r1.get("error"))
        self.assertEqual(ndlib.stats_outcome(r1["stats"]), ndlib.stats_outcome(s))
        self.assertNotIn("threads", ndlib.stats_outcome(s))

    def test_dedup_and_units(self):
        docs = os.path.join(FIXTURES, "paragraphs")
        r = ndlib.run_neardup(self.nd, ["dedup", "--quiet", docs], os.path.join(self.dir, "out.jsonl"))
        self.assertTrue(r["ok"], r.get("error"))
        s = r["stats"]
        self.assertEqual((s["command"], s["unit"]), ("dedup", "document"))
        self.assertEqual(s["kept"] + s["removed"] + s["skipped"], s["documents_read"])
        self.assertEqual(s["kept"], len(self.scan_lines(os.path.join(self.dir, "out.jsonl"))))
        self.assertIsNone(s["units_removed"])
        r = ndlib.run_neardup(self.nd, ["scan", "--unit", "paragraph", docs], os.path.join(self.dir, "u.jsonl"))
        self.assertTrue(r["ok"], r.get("error"))
        s = r["stats"]
        groups = self.scan_lines(os.path.join(self.dir, "u.jsonl"))
        self.assertEqual(s["unit"], "paragraph")
        self.assertIsInstance(s["units"], int)
        self.assertGreaterEqual(s["units"], sum(len(g["occurrences"]) for g in groups))
        self.assertEqual(s["clusters"], len(groups))

    def test_failed_run(self):
        r = ndlib.run_neardup(self.nd, ["scan", os.path.join(self.dir, "missing.jsonl")])
        self.assertFalse(r["ok"])
        self.assertIsNone(r["stats"])
        self.assertEqual(r["exit"], 1)
        self.assertIn("missing.jsonl", r["error"])
        with self.assertRaises(ndlib.Error):
            ndlib.neardup_or_fail(self.nd, ["scan", os.path.join(self.dir, "missing.jsonl")])

    def test_reader_rejects_bad_files(self):
        path = os.path.join(self.dir, "stats.json")
        with open(path, "w") as f:
            json.dump({k: 0 for k in ndlib.STATS_KEYS if k != "clusters"}, f)
        with self.assertRaisesRegex(ndlib.Error, "stats.json: no clusters"):
            ndlib.read_stats(path)
        with open(path, "w") as f:
            f.write('{"version": ')
        with self.assertRaisesRegex(ndlib.Error, "stats.json: invalid JSON"):
            ndlib.read_stats(path)
        with self.assertRaisesRegex(ndlib.Error, "cannot read"):
            ndlib.read_stats(os.path.join(self.dir, "none.json"))


class TestMeasure(unittest.TestCase):

    def test_exit_and_resources(self):
        r = ndlib.measure(["sh", "-c", "echo out; echo err >&2; exit 3"], stdout=os.devnull)
        self.assertEqual(r["exit"], 3)
        self.assertIn("exit 3: err", r["error"])
        self.assertEqual(r["stderr"], "err\n")
        self.assertGreater(r["rss_kb"], 0)
        d = temp_dir(self)
        out = os.path.join(d, "out")
        r = ndlib.measure([sys.executable, "-c", "import sys; sys.stdout.write(sys.stdin.read().upper())"],
                          stdout=out, stdin=os.path.join(FIXTURES, "README.md"))
        self.assertEqual(r["exit"], 0)
        self.assertNotIn("error", r)
        with open(os.path.join(FIXTURES, "README.md")) as f, open(out) as g:
            self.assertEqual(g.read(), f.read().upper())

    def test_peak_rss_is_the_commands_own(self):
        # a process forked from this one starts with a copy of its pages, and
        # Linux keeps that high-water mark across exec: the measured RSS of a
        # small command must not include the 200 MB this process holds
        ballast = b"x" * (200 << 20)
        r = ndlib.measure(["true"])
        self.assertEqual(r["exit"], 0)
        self.assertLess(r["rss_kb"], 50 * 1024)
        self.assertEqual(len(ballast), 200 << 20)

    def test_timeout(self):
        r = ndlib.measure(["sleep", "30"], timeout=0.3)
        self.assertIsNone(r["exit"])
        self.assertIn("timed out", r["error"])
        self.assertLess(r["wall_s"], 10)


class TestFiles(unittest.TestCase):

    def test_read_jsonl(self):
        path = os.path.join(temp_dir(self), "x.jsonl")
        with open(path, "w") as f:
            f.write('{"a": 1}\n\n  \n[2]\n')
        self.assertEqual(list(ndlib.read_jsonl(path)), [(1, {"a": 1}), (4, [2])])
        with open(path, "a") as f:
            f.write("{oops\n")
        with self.assertRaisesRegex(ndlib.Error, r"x\.jsonl:5: invalid JSON"):
            list(ndlib.read_jsonl(path))

    def test_hash_count_atomic(self):
        path = os.path.join(temp_dir(self), "sub", "f.txt")
        ndlib.atomic_write(path, lambda f: f.write("one\ntwo\n"))
        self.assertEqual(ndlib.sha256_file(path), hashlib.sha256(b"one\ntwo\n").hexdigest())
        self.assertEqual(ndlib.count_lines(path), 2)

        def fail(f):
            f.write("partial")
            raise RuntimeError("stop")
        with self.assertRaises(RuntimeError):
            ndlib.atomic_write(path, fail)
        self.assertEqual(ndlib.count_lines(path), 2)  # the old file is intact
        self.assertEqual(os.listdir(os.path.dirname(path)), ["f.txt"])

    def test_corpus_cache(self):
        base = temp_dir(self)
        said = []
        d, info = ndlib.corpus(base, 40, 7, log=said.append)
        self.assertEqual(os.path.basename(d), ndlib.corpus_name(40, 7))
        self.assertEqual(ndlib.count_lines(os.path.join(d, "docs.jsonl")), 40)
        self.assertEqual(info["sha256"], ndlib.sha256_file(os.path.join(d, "docs.jsonl")))
        self.assertEqual(ndlib.corpus(base, 40, 7, log=said.append), (d, info))
        self.assertIn("reused", said[-1])
        with open(os.path.join(d, "docs.jsonl"), "a") as f:  # a damaged copy is made again
            f.write("\n")
        self.assertEqual(ndlib.corpus(base, 40, 7, log=said.append)[1]["sha256"], info["sha256"])
        self.assertIn("generating", said[-2])

    def test_clusters(self):
        self.assertEqual(ndlib.pairs_in([[3, 1, 2], [5]]), {(1, 2), (1, 3), (2, 3)})
        self.assertEqual(ndlib.cluster_of([{"ids": ["a", "b"]}, ["c"]]), {"a": 0, "b": 0, "c": 1})
        self.assertEqual([ndlib.c2(n) for n in (0, 1, 2, 5)], [0, 0, 1, 10])


if __name__ == "__main__":
    unittest.main()
