"""The scripts' arguments: --help is a usage and exit 0; a bad argument is
exit 2 with a usage message, said before anything is built, generated or
measured (each was found doing work first: scripts/results --reuse bogus
after the quality section, scripts/bench-mpi --ranks x after the 1M
reference scan, scripts/fuzz 5 nosuch after a CMake configure;
scripts/floor --rounds 0 ran the default 5 rounds); an output directory
that cannot be made is one line, not a traceback. Each run is bounded by
a timeout that doing any such work would pass.

Run: python3 -m unittest discover -s tests/eval -v
"""
import os
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPTS = os.path.normpath(os.path.join(HERE, "..", "..", "scripts"))
QUICK = 20  # seconds: far less than any build, corpus or measurement


def run(name, *args):
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    return subprocess.run([os.path.join(SCRIPTS, name), *args], capture_output=True, text=True, timeout=QUICK,
                          env=env)


class ScriptArguments(unittest.TestCase):
    def refused(self, name, *args, says):
        r = run(name, *args)
        self.assertEqual(r.returncode, 2, "%s %s: %s" % (name, " ".join(args), r.stderr))
        self.assertIn(says, r.stderr)
        self.assertTrue("usage: " in r.stderr or "scripts/%s [" % name in r.stderr, "no usage: " + r.stderr)
        self.assertNotIn("Traceback", r.stderr)

    def test_help(self):
        for name in ("fuzz", "floor", "results", "bench-mpi", "gen-corpus"):
            r = run(name, "--help")
            self.assertEqual(r.returncode, 0, "%s --help: %s" % (name, r.stderr))
            self.assertIn("usage: " if name != "fuzz" else "scripts/fuzz [SECONDS] [HARNESS...]", r.stdout)

    def test_fuzz(self):
        self.refused("fuzz", "x", says="SECONDS must be a whole number")
        self.refused("fuzz", "5", "nosuch", says="no harness nosuch")

    def test_results(self):
        self.refused("results", "--neardup", sys.executable, "--reuse", "bogus", says="unknown section bogus")
        self.refused("results", "--neardup", sys.executable, "--only", "bogus", says="invalid choice: 'bogus'")
        self.refused("results", "--neardup", sys.executable, "--only", "floor", "--reuse", "bench",
                     says="no --reuse with it")

    def test_bench_mpi(self):
        self.refused("bench-mpi", "--ranks", "0", says="--ranks")
        self.refused("bench-mpi", "--ranks", "x", says="--ranks")

    def test_floor(self):
        self.refused("floor", "--rounds", "0", says="--rounds")
        self.refused("floor", "--docs", "0", says="--docs")
        self.refused("floor", "--scripts", "bogus", says="unknown bogus")

    def test_gen_corpus_unwritable_out(self):
        r = run("gen-corpus", "--docs", "10", "--seed", "1", "--out", "/dev/null/x")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertEqual(r.stderr.strip(), "gen-corpus: /dev/null/x: Not a directory")


if __name__ == "__main__":
    unittest.main()
