"""scripts/results --only: one section measured again and put in place in an
existing RESULTS.md (put_in_place), found by its marker or, where an older
file has none, by its heading; everything else, and the plot that followed
the old section, left as it was; a file without the section is an error,
not a file rewritten without it.

Run: python3 -m unittest discover -s tests/eval -v
"""
import importlib.machinery
import importlib.util
import os
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPTS = os.path.normpath(os.path.join(HERE, "..", "..", "scripts"))
sys.path.insert(0, SCRIPTS)
sys.dont_write_bytecode = True
_loader = importlib.machinery.SourceFileLoader("results_script", os.path.join(SCRIPTS, "results"))
_spec = importlib.util.spec_from_loader("results_script", _loader)
results = importlib.util.module_from_spec(_spec)
_loader.exec_module(results)

OLD = """# RESULTS

## Quality on generated corpora

q

<!-- section bench: measured at commit aaa on 2026-12-01, reused -->
## Speed and memory

old bench
### Paragraph mode

p

![throughput against corpus size](docs/throughput-by-size.png)

## Against the ICU floor

old floor
### Where the time goes

w

<!-- section python: measured at commit bbb on 2026-12-02, reused -->
## Python: the module against the program

py

---

Regenerated in 1 s.
"""


class PutInPlace(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.path = os.path.join(self.dir.name, "RESULTS.md")
        with open(self.path, "w", encoding="utf-8") as f:
            f.write(OLD)

    def tearDown(self):
        self.dir.cleanup()

    def text(self):
        with open(self.path, encoding="utf-8") as f:
            return f.read()

    def test_by_heading(self):
        new = ["<!-- section floor: measured at commit ccc on 2026-12-05 -->", "## Against the ICU floor\n\nnew floor", ""]
        results.put_in_place(self.path, "floor", new)
        t = self.text()
        self.assertNotIn("old floor", t)
        self.assertNotIn("Where the time goes", t)
        self.assertIn("<!-- section floor: measured at commit ccc on 2026-12-05 -->\n## Against the ICU floor\n\n"
                      "new floor\n\n<!-- section python:", t)
        before, after = OLD.split("## Against the ICU floor")
        self.assertTrue(t.startswith(before), "what came before the section changed")
        self.assertTrue(t.endswith(after[after.index("<!-- section python"):] +
                                   "Section floor measured again (`scripts/results --only floor`).\n"),
                        "what came after it changed")

    def test_by_marker_keeps_the_plot(self):
        new = ["<!-- section bench: measured at commit ccc on 2026-12-05 -->", "## Speed and memory\n\nnew bench", ""]
        results.put_in_place(self.path, "bench", new)
        t = self.text()
        self.assertNotIn("old bench", t)
        self.assertNotIn("measured at commit aaa", t)
        self.assertIn("new bench\n\n![throughput against corpus size](docs/throughput-by-size.png)\n\n"
                      "## Against the ICU floor\n\nold floor", t)

    def test_last_section(self):
        new = ["<!-- section python: measured at commit ccc on 2026-12-05 -->",
               "## Python: the module against the program\n\nnew py", ""]
        results.put_in_place(self.path, "python", new, "at commit ccc")
        self.assertTrue(self.text().endswith("new py\n\n---\n\nRegenerated in 1 s.\n"
                                             "Section python measured again at commit ccc "
                                             "(`scripts/results --only python`).\n"))
        results.put_in_place(self.path, "python", new, "at commit ddd")  # the note replaced, not added to
        self.assertTrue(self.text().endswith("Regenerated in 1 s.\nSection python measured again at commit ddd "
                                             "(`scripts/results --only python`).\n"))

    def test_missing_section(self):
        with self.assertRaises(results.ndlib.Error):
            results.put_in_place(self.path, "index", ["## Persistent index", ""])
        self.assertEqual(self.text(), OLD)
        with self.assertRaises(results.ndlib.Error):
            results.put_in_place(os.path.join(self.dir.name, "none.md"), "floor", ["x"])


if __name__ == "__main__":
    unittest.main()
