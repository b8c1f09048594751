"""Tests for scripts/ndfloor.py (scripts/floor): functions grouped into the
stages of "where the time goes", the Markdown table and its target marks,
and the floor probe's output when nd_bench_floor is built next to the
program ($ND_NEARDUP, else ndlib.find_neardup(); skipped without one).

Run: python3 -m unittest discover -s tests/eval -v
"""
import json
import os
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # no scripts/__pycache__
SCRIPTS = os.path.normpath(os.path.join(HERE, "..", "..", "scripts"))
sys.path.insert(0, SCRIPTS)

import ndfloor  # noqa: E402
import ndlib  # noqa: E402


class Stages(unittest.TestCase):
    def test_functions_to_stages(self):
        cases = {
            "icu_72::Normalizer2Impl::compose": "ICU (normalization, word breaking)",
            "unorm2_normalize_72": "ICU (normalization, word breaking)",
            "tokenize": "tokenize (fast paths, segments)",
            "fast_runs": "tokenize (fast paths, segments)",
            "scan_avx2": "tokenize (fast paths, segments)",
            "XXH_INLINE_XXH3_64bits_withSeed.constprop.0": "hashing (XXH3: tokens, characters, bands)",
            "insert_distinct": "shingles and their sort",
            "nd_minhash_probed": "MinHash",
            "least_of.avx2": "MinHash",
            "json_fast_record": "JSON and reading",
            "nd_store_cluster": "index and clustering",
            "[k]clear_page_erms": "kernel and memory (I/O, page faults, malloc, copies)",
            "[k]_raw_spin_lock": "kernel and memory (I/O, page faults, malloc, copies)",
            "__ieee754_pow_fma": "start-up (loading, fold table, banding search)",
            "_dl_relocate_object": "start-up (loading, fold table, banding search)",
            "scan_avx512": "tokenize (fast paths, segments)",
            "three_byte_masks.constprop.0": "tokenize (fast paths, segments)",
            "sketch_units": "tokenize (fast paths, segments)",
            "fast_record.constprop.0": "JSON and reading",
            "scan_string": "JSON and reading",
            "least_ranks_128_avx512": "MinHash",
            "id_predictor_keep": "ids dropped and sketched again (guess, search)",
            "__libc_pread": "JSON and reading",
            "replay_at_text": "JSON and reading",
            "search_thread": "ids dropped and sketched again (guess, search)",
            "nd_pair_cache_contains": "index and clustering",
            "put_keys": "index and clustering",
            "write_group": "output",
            "nd_grow_huge": "kernel and memory (I/O, page faults, malloc, copies)",
            "push_token": "tokenize (fast paths, segments)",
            "utf8_valid": "JSON and reading",
            "__vfprintf_internal": "output",
            "frobnicate": "other",
        }
        for symbol, stage in cases.items():
            self.assertEqual(ndfloor.stage_of(symbol), stage, symbol)


class Markdown(unittest.TestCase):
    def result(self, e2e, sign):
        return {"date": "2026-12-01", "machine": {"nproc": 2, "cpu_model": "test"}, "commit": "abc", "rounds": 3,
                "corpora": [{"corpus": "latin", "docs": 10, "text_bytes": 2_000_000, "floor_s": 1.0,
                             "sign_s": 1.0 / sign, "scan_s": 1.0 / e2e, "end_to_end_over_floor": e2e,
                             "signing_over_floor": sign, "bg_cores": 0.0,
                             "profile": {"tool": "perf", "shares": {"MinHash": 12.5}}}]}

    def test_targets_marked(self):
        md = ndfloor.markdown(self.result(1.2, 2.5))
        self.assertIn("## Against the ICU floor", md)
        self.assertIn("| latin | 10 | 2.0 | 2.0 | 5.0 | 2.50x | 0.833 | 1.20x |", md)
        self.assertIn("e2e >= 1.0: met", md)
        self.assertIn("signing >= 2: met", md)
        self.assertIn("| MinHash | 12.5% |", md)
        md = ndfloor.markdown(self.result(0.9, 1.5))
        self.assertIn("e2e >= 1.0: **not met**", md)
        self.assertIn("signing >= 2: **not met**", md)
        # a ratio just short of its target is not shown rounded onto it
        md = ndfloor.markdown(self.result(0.9957, 1.9951))
        self.assertIn("| 1.995x | 1.004 | 0.996x |  |  | e2e >= 1.0: **not met**; signing >= 2: **not met** |", md)
        # the second scan, right after the first, beside it (a result without it shows none)
        res = self.result(0.9, 2.5)
        res["corpora"][0].update({"scan_again_s": 0.8, "again_over_floor": 1.25})
        md = ndfloor.markdown(res)
        self.assertIn("| 0.90x | 0.800 | 1.25x | e2e >= 1.0: **not met**; signing >= 2: met |", md)
        self.assertIn("The targets are on the first.", md)
        self.assertEqual(ndfloor.ratio(1.004, 1.0), "1.00x")
        self.assertEqual(ndfloor.ratio(0.4957, 0.5), "0.496x")
        self.assertEqual(ndfloor.ratio(0.4957), "0.50x")
        self.assertNotIn("Paragraph mode against document mode", md)

    def test_paragraph_seconds_by_stage(self):
        res = self.result(1.2, 2.5)
        memory = "kernel and memory (I/O, page faults, malloc, copies)"
        res["paragraphs"] = {"docs": 100, "rounds": 2,
                             "document": {"tool": "perf", "seconds": {"MinHash": 0.5, memory: 0.25},
                                          "runs_s": [0.7, 0.8]},
                             "paragraph": {"tool": "perf", "seconds": {"MinHash": 0.75, memory: 0.75, "other": 0.25},
                                           "runs_s": [1.5, 2.0]}}
        md = ndfloor.markdown(res)
        self.assertIn("syndicated corpus of 100 documents", md)
        self.assertIn("2 perf runs of each in turn", md)
        self.assertIn("documents 0.700, 0.800 s, paragraphs 1.500, 2.000 s", md)
        self.assertIn("| MinHash | 0.500 | 0.750 | +0.250 |", md)
        self.assertIn("| %s | 0.250 | 0.750 | +0.500 |" % memory, md)
        self.assertIn("| other | 0.000 | 0.250 | +0.250 |", md)
        self.assertNotIn("| ICU (normalization, word breaking) |", md.split("Paragraph mode")[1])
        self.assertIn("| all | 0.750 | 1.750 | +1.000 (2.33x) |", md)


class Probe(unittest.TestCase):
    def test_probe_on_a_small_file(self):
        try:
            neardup = ndlib.find_neardup(os.environ.get("ND_NEARDUP"))
        except ndlib.Error:
            self.skipTest("no neardup program")
        probe = os.path.join(os.path.dirname(neardup), "nd_bench_floor")
        if not os.access(probe, os.X_OK):
            self.skipTest("nd_bench_floor not built (-DND_BUILD_BENCH=ON)")
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "docs.jsonl")
            with open(path, "w", encoding="utf-8") as f:
                for i in range(50):
                    f.write(json.dumps({"id": str(i), "text": "Stra\u00dfe word%d caf\u00e9 \u0645\u0631\u062d\u0628\u0627" % i}) + "\n")
            out = ndfloor.run_floor(probe, path, 1)
            self.assertEqual(out["docs"], 50)
            self.assertGreater(out["floor_s"], 0)
            self.assertGreater(out["sign_s"], 0)
            self.assertEqual(out["runs"], 50 * 4)  # four runs of letters and digits each


if __name__ == "__main__":
    unittest.main()
