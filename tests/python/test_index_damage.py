"""neardup.Index on a damaged index: an exception naming the damage, never
the end of the interpreter. LMDB keeps no checksums and follows a damaged
page of data.mdb into a SIGBUS, a SIGSEGV or an abort(); the program turns
those signals into a message (src/cli/dbdamage.c), which a module cannot do,
so Index() checks every page at open (verify=True, the default;
src/db_verify.c). Each damaged copy is used in a child process: its death
by a signal fails the test (before the check, most of them died). Also:
metadata that lies (counters, a shingle kind, a format) is refused at open
instead of believed."""

import json
import os
import random
import shutil
import struct
import subprocess
import sys

import pytest

import neardup
from conftest import SANITIZED, load_corpus

pytestmark = pytest.mark.skipif(not hasattr(neardup, "Index"), reason="the library has no persistent index")

PAGE = 4096

# A child process: every entry point on the index, each error printed; it
# exits 0 unless the index kills it.
USE = r"""
import json, sys
import neardup
path, data = sys.argv[1], json.load(open(sys.argv[2]))
texts, ids = data["texts"], data["ids"]
def step(call):
    try:
        call()
    except Exception as e:
        print(type(e).__name__, e, flush=True)
for readonly in (True, False):
    try:
        ix = neardup.Index(path, readonly=readonly)
    except Exception as e:
        print(type(e).__name__, e, flush=True)
        continue
    step(lambda: len(ix))
    step(ix.stats)
    step(lambda: ix.options)
    step(lambda: ix.query(texts))
    step(lambda: ix.query(texts, threshold=0.9))
    if not readonly:
        step(lambda: ix.add(texts[:5], ids[:5], replace=True))
        step(lambda: ix.add(["a new text of a few words"], ["new"]))
        step(lambda: ix.remove(ids[5:7]))
        step(ix.commit)
    step(ix.close)
"""


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    _, ids, texts = load_corpus("mixed-1k")
    data = tmp_path_factory.mktemp("data") / "texts.json"
    data.write_text(json.dumps({"texts": texts[250:290], "ids": ids[250:290]}))
    return ids[:300], texts[:300], str(data)


def make_index(path, corpus, **options):
    """An index of three runs (so that it has a list of free pages) and a removal."""
    ids, texts, _ = corpus
    with neardup.Index(path, create=True, **options) as ix:
        ix.add(texts[:150], ids[:150])
    with neardup.Index(path) as ix:
        ix.add(texts[150:], ids[150:])
        ix.remove(ids[10:20])
    with neardup.Index(path) as ix:
        ix.add(texts[10:20], ids[10:20])


def use(path, corpus):
    """Run USE on the index: (return code, what it printed)."""
    proc = subprocess.run([sys.executable, "-c", USE, path, corpus[2]], capture_output=True, text=True, timeout=300)
    return proc.returncode, proc.stdout + proc.stderr


def damaged_copy(base, path, page, offset, data):
    shutil.rmtree(path, ignore_errors=True)
    shutil.copytree(base, path)
    with open(os.path.join(path, "data.mdb"), "r+b") as f:
        f.seek(page * PAGE + offset)
        f.write(data)


@pytest.mark.parametrize("measure", ["jaccard", "containment"])
def test_damaged_pages_never_end_the_interpreter(tmp_path, corpus, measure):
    base = str(tmp_path / "base")
    make_index(base, corpus, measure=measure)
    pages = os.path.getsize(os.path.join(base, "data.mdb")) // PAGE
    rng = random.Random(26)
    count = 8 if SANITIZED else 25
    # the bounds of a page's free space (as the program's test damages them), and random bytes in page bodies
    damages = [(page, 12, b"\x00\x00\xff\x0f") for page in rng.sample(range(2, pages), min(count, pages - 2))]
    damages += [(rng.randrange(2, pages), rng.randrange(0, PAGE - 64), bytes(rng.randrange(256) for _ in range(64)))
                for _ in range(count)]
    killed, reported = [], 0
    for page, offset, data in damages:
        path = str(tmp_path / "damaged")
        damaged_copy(base, path, page, offset, data)
        rc, out = use(path, corpus)
        if rc != 0:
            killed.append((page, offset, rc, out[-300:]))
        reported += "the index is damaged: page" in out
    assert not killed, f"{len(killed)} of {len(damages)} damaged indexes ended the interpreter: {killed[:3]}"
    assert reported >= count // 2, f"only {reported} of {len(damages)} damaged indexes were reported"


def newest_meta(data):
    """The byte offset of the newest LMDB meta page's part after its header."""
    return max((16, PAGE + 16), key=lambda at: struct.unpack_from("<Q", data, at + 128)[0])


def test_a_free_list_naming_a_page_in_use_is_refused(tmp_path, corpus):
    """A writer would have handed the page out for new data, over the live one."""
    path = str(tmp_path / "ix")
    make_index(path, corpus)
    file = os.path.join(path, "data.mdb")
    with open(file, "r+b") as f:
        data = bytearray(f.read())
        meta = newest_meta(data)
        free_root = struct.unpack_from("<Q", data, meta + 24 + 40)[0]  # the free list's record, then the main one's
        main_root = struct.unpack_from("<Q", data, meta + 72 + 40)[0]
        leaf = free_root * PAGE
        assert data[leaf + 10] & 0x02, "the free list is one leaf"
        node = leaf + struct.unpack_from("<H", data, leaf + 16)[0]
        assert struct.unpack_from("<H", data, node + 4)[0] == 0  # its record in the node
        assert struct.unpack_from("<Q", data, node + 16)[0] >= 1  # node header (8), key (8), the count
        f.seek(node + 24)
        f.write(struct.pack("<Q", main_root))
    for readonly in (True, False):
        with pytest.raises(OSError, match="is listed as free, yet in use"):
            neardup.Index(path, readonly=readonly)


def test_the_flags_lmdb_keeps_in_its_meta_page(tmp_path, corpus):
    """A free list flagged as sorted duplicates: a writer's first use of it
    failed LMDB's assertion 'mx != NULL' (an abort)."""
    path = str(tmp_path / "ix")
    make_index(path, corpus)
    file = os.path.join(path, "data.mdb")
    with open(file, "r+b") as f:
        meta = newest_meta(f.read())
        f.seek(meta + 24 + 4)
        f.write(struct.pack("<H", 0x0C))
    rc, out = use(path, corpus)
    assert rc == 0, out
    assert "OSError" in out and "LMDB's meta page" in out, out
    with pytest.raises(OSError, match="the index is damaged"):
        neardup.Index(path)


def test_a_page_size_of_zero(tmp_path, corpus):
    """LMDB divides by the page size its first meta page gives: a zero there
    was a SIGFPE (for the program too)."""
    path = str(tmp_path / "ix")
    make_index(path, corpus)
    with open(os.path.join(path, "data.mdb"), "r+b") as f:
        f.seek(16 + 24)  # the page header, then the meta page's magic, version, address and map size
        f.write(bytes(4))
    rc, out = use(path, corpus)
    assert rc == 0, out
    assert "page 0 of data.mdb (LMDB's meta page) gives a page size of 0" in out, out


def test_a_data_file_that_is_a_fifo(tmp_path):
    """A reader waited in LMDB's open for a writer to the FIFO, for ever."""
    path = tmp_path / "ix"
    path.mkdir()
    os.mkfifo(path / "data.mdb")
    code = "import sys, neardup\nfor ro in (True, False):\n    try:\n        neardup.Index(sys.argv[1], readonly=ro)\n" \
           "    except OSError as e:\n        print(e)\n"
    proc = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("not a neardup index (data.mdb is not a regular file)") == 2, proc.stdout


@pytest.mark.skipif(shutil.which("mdb_load") is None, reason="mdb_load (lmdb-utils) is not installed")
@pytest.mark.parametrize(
    "edits, words",
    [
        ({"documents": "0"}, "corrupt metadata: documents 0 and removed 10, but the index holds 310 records"),
        ({"documents": "18446744073709551615"}, "corrupt metadata: documents 18446744073709551615"),
        ({"removed": "5"}, "documents 300 and removed 5, but the index holds 310 records"),
        ({"next_doc": "100"}, "corrupt metadata: next_doc 100, but document"),
        ({"shingle_kind": "bogus"}, 'corrupt metadata shingle_kind = "bogus"'),
        ({"num_perm": "4294967424"}, "corrupt metadata num_perm = 4294967424"),
        ({"format": "2", "measure": "containment", "min_shingles": "20"}, 'database "bands" has LMDB flags'),
    ],
)
def test_metadata_that_lies_is_refused(tmp_path, corpus, edits, words):
    """Believed before: len() a SystemError (a count past a Py_ssize_t) or a
    wrong number, an add failing on LMDB's MDB_KEYEXIST, another shingle
    kind or number of hashes used silently, a Jaccard index read as a
    containment index (nothing found) and written as one (its buckets
    overwritten)."""
    path = str(tmp_path / "ix")
    make_index(path, corpus)
    dump = "".join(f"{key}\n{value}\n" for key, value in edits.items())
    subprocess.run(["mdb_load", "-T", "-s", "meta", path], input=dump.encode(), check=True)
    for readonly in (True, False):
        with pytest.raises(OSError, match=words.replace("(", r"\(")):
            neardup.Index(path, readonly=readonly)


def test_verify_false_skips_the_check(tmp_path, corpus):
    path = str(tmp_path / "ix")
    make_index(path, corpus)
    with neardup.Index(path, readonly=True, verify=False) as ix:
        assert len(ix) == 300
    with neardup.Index(path, verify=True) as ix:
        assert len(ix) == 300
