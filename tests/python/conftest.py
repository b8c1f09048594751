"""Shared fixtures for the Python module's tests (run by ctest as
`python3 -m pytest tests/python` with PYTHONPATH=build/python).

Environment (set by tests/CMakeLists.txt):
  ND_BINARY      the neardup program, for comparisons with the CLI
  ND_SOURCE_DIR  the repository root (corpora/, tests/fixtures/, README.md)
  ND_SANITIZED   1 when the module runs under AddressSanitizer (slower:
                 the long loops are shortened)
"""

import json
import os
import subprocess

import pytest

SOURCE_DIR = os.environ.get("ND_SOURCE_DIR") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SANITIZED = os.environ.get("ND_SANITIZED") == "1"
CORPORA = ["mixed-1k", "multiscript-1k", "syndicated-500"]


@pytest.fixture(scope="session")
def nd_binary():
    path = os.environ.get("ND_BINARY")
    if not path or not os.access(path, os.X_OK):
        pytest.skip("ND_BINARY (the neardup program) is not set")
    return path


def run_cli(binary, *args, stdin=None):
    """Run the neardup program; returns its stdout (str). Fails the test on a non-zero exit."""
    proc = subprocess.run(
        [binary, *args], input=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False
    )
    assert proc.returncode == 0, f"neardup {' '.join(args)} exited {proc.returncode}: {proc.stderr.decode()}"
    return proc.stdout.decode("utf-8")


def load_corpus(name):
    """(path, ids, texts) of corpora/NAME/docs.jsonl."""
    path = os.path.join(SOURCE_DIR, "corpora", name, "docs.jsonl")
    ids, texts = [], []
    with open(path, encoding="utf-8") as f:
        for line in f:
            record = json.loads(line)
            ids.append(record["id"])
            texts.append(record["text"])
    return path, ids, texts


def cli6(x):
    """A float as the program prints it (%.6g), read back."""
    return float(f"{x:.6g}")
