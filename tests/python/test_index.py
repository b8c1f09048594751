"""neardup.Index, the persistent index (when the library has it): a round
trip (create, add, close, reopen, query) whose answers equal the program's
`neardup query` on the same index, refusal of options that disagree with
the index's (as the program refuses them, exit 2), removal, errors for what
is not an index or not there, and the context manager's commit or discard."""

import json
import os

import pytest

import neardup
from conftest import load_corpus, run_cli

pytestmark = pytest.mark.skipif(not hasattr(neardup, "Index"), reason="the library has no persistent index")


def split_corpus():
    _, ids, texts = load_corpus("mixed-1k")
    return ids[:600], texts[:600], ids[600:], texts[600:]


def test_round_trip_equals_cli(nd_binary, tmp_path):
    a_ids, a_texts, b_ids, b_texts = split_corpus()
    path = str(tmp_path / "py.db")
    with neardup.Index(path, create=True, threshold=0.5) as ix:
        ix.add(a_texts[:300], a_ids[:300])
        ix.add(a_texts[300:], a_ids[300:])
        assert len(ix) == 600
    with neardup.Index(path, readonly=True) as ix:  # reopened: the options come from the index
        assert ix.options["threshold"] == 0.5
        got = ix.query(b_texts)
    assert len(got) == len(b_texts) and sum(map(bool, got)) > 10
    # the program on the same index and the same texts
    b_file = tmp_path / "b.jsonl"
    with open(b_file, "w", encoding="utf-8") as f:
        for i, t in zip(b_ids, b_texts):
            f.write(json.dumps({"id": i, "text": t}) + "\n")
    out = run_cli(nd_binary, "query", path, str(b_file))
    expected = [[(m["id"], m["jaccard"]) for m in json.loads(line)["matches"]] for line in out.splitlines()]
    assert [[(m.id, float(f"{m.jaccard:.6g}")) for m in ms] for ms in got] == expected
    for ms in got:  # highest first, exact, at least the threshold
        assert [m.jaccard for m in ms] == sorted((m.jaccard for m in ms), reverse=True)
        assert all(m.jaccard >= 0.5 for m in ms)
    # an index the program made, read from Python
    cli_path = str(tmp_path / "cli.db")
    a_file = tmp_path / "a.jsonl"
    with open(a_file, "w", encoding="utf-8") as f:
        for i, t in zip(a_ids, a_texts):
            f.write(json.dumps({"id": i, "text": t}) + "\n")
    run_cli(nd_binary, "index", "add", cli_path, "--threshold", "0.5", str(a_file))
    with neardup.Index(cli_path, readonly=True) as ix:
        assert ix.query(b_texts) == got
        assert ix.query(b_texts, top=1) == [ms[:1] for ms in got]
        # a top past any list's size keeps every match, as 0 does; a negative or non-int top is refused
        assert ix.query(b_texts, top=10**30) == got
        # a bool is a mistake, not 1 (as for every option of the module)
        for bad, error in ((-1, ValueError), (-(10**30), ValueError), (1.5, TypeError), ("1", TypeError),
                           (True, TypeError)):
            with pytest.raises(error):
                ix.query(b_texts, top=bad)
        assert ix.query(b_texts, threshold=0.9) == [[m for m in ms if m.jaccard >= 0.9] for ms in got]


def test_same_answers_for_any_thread_count(tmp_path):
    a_ids, a_texts, _, b_texts = split_corpus()
    answers = []
    for threads in (1, 2, 3):
        path = str(tmp_path / f"t{threads}.db")
        with neardup.Index(path, create=True, threads=threads, threshold=0.6) as ix:
            ix.add(a_texts, a_ids)
            answers.append(ix.query(b_texts))
    assert answers[0] == answers[1] == answers[2]


def test_mismatched_options_are_refused(nd_binary, tmp_path):
    path = str(tmp_path / "ix.db")
    neardup.Index(path, create=True, threshold=0.8).close()
    for options, name in [({"threshold": 0.7}, "threshold"), ({"num_perm": 64}, "num_perm"),
                          ({"shingle": "words:3"}, "shingle"), ({"profile": "aggressive"}, "profile"),
                          ({"bands": 32, "rows": 4}, "bands"), ({"seed": 5}, "seed")]:
        with pytest.raises(ValueError, match=name):
            neardup.Index(path, **options)
    with neardup.Index(path, threshold=0.8, readonly=True) as ix:  # agreeing options are fine
        assert ix.options["bands"] == 16
    proc = __import__("subprocess").run([nd_binary, "index", "add", path, "--threshold", "0.7", os.devnull],
                                        capture_output=True)
    assert proc.returncode == 2  # the program refuses the same way (usage)


def test_add_remove_and_ids(tmp_path):
    path = str(tmp_path / "ix.db")
    text = "the harbour council met on monday to discuss the price of fish and the new quay"
    with neardup.Index(path, create=True) as ix:
        ix.add([text, "an unrelated text about the weather in the hills this week"], ["a", b"b"])
        with pytest.raises(ValueError, match="a"):
            ix.add([text], ["a"])  # the id is there already
        assert len(ix) == 2
        ix.add([text + " again"], ["a"], replace=True)
        assert len(ix) == 2
        assert ix.remove(["b"]) == 1
        with pytest.raises(KeyError):
            ix.remove(["nobody"])
        assert len(ix) == 1
        assert [m.id for m in ix.query([text])[0]] == ["a"]
        assert ix.stats()["removed"] >= 1


def test_ids_come_back_as_given(tmp_path):
    """A str id with a lone surrogate (Python's json reads "\\ud800") comes back
    equal and can be removed by it; a NUL inside an id is kept; bytes that are
    not UTF-8 come back as those bytes."""
    path = str(tmp_path / "ix.db")
    texts = [f"text number {i} about the harbour and the fish market on monday" for i in range(5)]
    ids = ["\ud800", "lone \udcff low", "a\x00b", "caf\xe9", b"\xff\xfe"]
    with neardup.Index(path, create=True) as ix:
        ix.add(texts, ids)
        got = [m[0].id for m in ix.query(texts)]
        assert got == ids
        assert ix.remove(ids[:4]) == 4
        assert ix.remove([ids[4]]) == 1
        assert len(ix) == 0


def test_two_ids_never_come_back_as_one(tmp_path):
    """The str "\\udcff" (stored as ED B3 BF) and the bytes b"\\xff" are two ids:
    both came back as "\\udcff", and removing that reached only the first."""
    path = str(tmp_path / "ix.db")
    text = "one text about the harbour and the fish market on monday morning"
    with neardup.Index(path, create=True) as ix:
        ix.add([text, text], ["\udcff", b"\xff"])
        got = [m.id for m in ix.query([text])[0]]
        assert got == ["\udcff", b"\xff"]
        assert ix.remove([got[1]]) == 1
        assert [m.id for m in ix.query([text])[0]] == ["\udcff"]
        assert ix.remove([got[0]]) == 1
        assert len(ix) == 0


def test_uncommitted_run_is_what_the_docstring_says(tmp_path):
    """autocommit=False: add() and remove() see the open run, query(), len()
    and stats() the index as last committed (the docstring did not say)."""
    assert "as last committed" in neardup.Index.__doc__
    text = "one text about the harbour and the fish market on monday morning"
    ix = neardup.Index(str(tmp_path / "ix.db"), create=True, autocommit=False)
    ix.add([text], ["a"])
    assert len(ix) == 0 and ix.query([text]) == [[]] and ix.stats()["documents"] == 0
    with pytest.raises(ValueError, match="given twice"):
        ix.add([text], ["a"])
    ix.commit()
    assert len(ix) == 1 and [m.id for m in ix.query([text])[0]] == ["a"]
    assert ix.remove(["a"]) == 1
    assert len(ix) == 1
    ix.close()
    assert len(neardup.Index(str(tmp_path / "ix.db"), readonly=True)) == 0


def test_context_manager_discards_on_error(tmp_path):
    path = str(tmp_path / "ix.db")
    neardup.Index(path, create=True).close()
    with pytest.raises(RuntimeError, match="boom"):
        with neardup.Index(path, autocommit=False) as ix:
            ix.add(["some words that will not stay in the index"], ["gone"])
            raise RuntimeError("boom")
    with neardup.Index(path, autocommit=False) as ix:
        assert len(ix) == 0
        ix.add(["some words that stay in the index this time"], ["kept"])
    with neardup.Index(path, readonly=True) as ix:
        assert len(ix) == 1


def test_the_program_writes_index_ids_whole(nd_binary, tmp_path):
    """An id the module stored with a NUL in it: query and dedup --index
    --annotate (and --removed, whose records say what they duplicate) write
    it whole, not cut at the NUL."""
    path = str(tmp_path / "ix.db")
    text = "the harbour council met on monday to discuss the price of fish and the new quay"
    with neardup.Index(path, create=True) as ix:
        ix.add([text], ["a\x00x"])
    record = json.dumps({"id": "q", "text": text}) + "\n"
    out = run_cli(nd_binary, "query", "--quiet", path, "-", stdin=record.encode())
    assert json.loads(out)["matches"][0]["id"] == "a\x00x"
    out = run_cli(nd_binary, "dedup", "--quiet", "--index", path, "--annotate", "-", stdin=record.encode())
    assert json.loads(out)["neardup"]["duplicate_of"] == "a\x00x"
    removed = tmp_path / "removed.jsonl"
    out = run_cli(nd_binary, "dedup", "--quiet", "--index", path, "--removed", str(removed), "-", stdin=record.encode())
    assert out == ""
    assert json.loads(removed.read_text())["neardup"]["duplicate_of"] == "a\x00x"


def test_an_add_is_all_or_nothing_across_its_chunks(tmp_path):
    """add() goes in chunks (so that Ctrl-C can stop it); an id already in
    the index in a later chunk still leaves nothing of the call added."""
    path = str(tmp_path / "ix.db")
    n = 20000  # more than one chunk
    texts = [f"document {i} on the harbour, the fish market and the new quay" for i in range(n)]
    with neardup.Index(path, create=True) as ix:
        ix.add(["the one already there, about something else entirely"], ["taken"])
        ids = [f"id{i}" for i in range(n)]
        ids[n - 1] = "taken"
        with pytest.raises(ValueError, match="taken"):
            ix.add(texts, ids)
        assert len(ix) == 1
        ix.add(texts[:3], ids[:3])  # the handle goes on
        assert len(ix) == 4


def test_a_query_of_several_chunks_answers_each_text(tmp_path):
    """query() goes in chunks of 8192 texts (so that Ctrl-C can stop it); each
    answer stays with its text across the chunk boundaries."""
    path = str(tmp_path / "ix.db")
    texts = [f"story {i} about the harbour, the fish market and the price of the new quay" for i in range(300)]
    with neardup.Index(path, create=True) as ix:
        ix.add(texts, [f"s{i}" for i in range(300)])
        queries = [texts[i % 300] if i % 7 == 0 else f"nothing like it, query {i}" for i in range(20000)]
        got = ix.query(queries, top=1)
        assert len(got) == len(queries)
        for i, matches in enumerate(got):
            assert [m.id for m in matches] == ([f"s{i % 300}"] if i % 7 == 0 else []), i


def test_ctrl_c_during_add_leaves_the_index_as_it_was(tmp_path):
    """A KeyboardInterrupt from add() means nothing of it was added (it used to
    finish and commit the whole add, then raise). Whenever the signal lands,
    the two outcomes are: interrupted with nothing added, or all added."""
    import signal
    import threading

    path = str(tmp_path / "ix.db")
    n = 100000
    texts = [f"text {i} of a long add, about the harbour and the fish market and the quay" for i in range(n)]
    with neardup.Index(path, create=True, threads=1) as ix:
        ix.add(texts[:2], ["a", "b"])
        timer = threading.Timer(0.05, lambda: signal.pthread_kill(threading.main_thread().ident, signal.SIGINT))
        interrupted = False
        timer.start()
        try:
            ix.add(texts, [str(i) for i in range(n)])
        except KeyboardInterrupt:
            interrupted = True
        timer.join()
        assert len(ix) == (2 if interrupted else 2 + n)


def test_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        neardup.Index(str(tmp_path / "missing"))
    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "data.mdb").write_bytes(b"not an lmdb file at all" * 100)
    with pytest.raises(OSError):
        neardup.Index(str(junk))
    path = str(tmp_path / "ix.db")
    ix = neardup.Index(path, create=True)
    with pytest.raises(BlockingIOError):
        neardup.Index(path)  # a second writer
    with pytest.raises(TypeError):
        ix.add("one text", ["id"])
    with pytest.raises(ValueError, match="ids"):
        ix.add(["a", "b"], ["only one"])
    with pytest.raises(TypeError):
        ix.add(["a"], [5])
    ix.close()
    ix.close()  # a second close does nothing
    assert ix.closed
    with pytest.raises(ValueError, match="closed"):
        ix.query(["a"])
    with pytest.raises(ValueError):
        neardup.Index(path, create=True, readonly=True)


def test_measure_of_an_existing_index_must_agree(nd_binary, tmp_path):
    jac, con = str(tmp_path / "j.db"), str(tmp_path / "c.db")
    neardup.Index(jac, create=True).close()
    neardup.Index(con, create=True, measure="containment", min_shingles=5).close()
    for path, options, named in [(jac, {"measure": "containment"}, "measure"), (con, {"measure": "jaccard"}, "measure"),
                                 (con, {"measure": "containment", "min_shingles": 6}, "min_shingles"),
                                 (con, {"min_shingles": 6}, "min_shingles"), (jac, {"min_shingles": 5}, "min_shingles")]:
        # (a Jaccard index keeps the default, 20, which it does not use)
        with pytest.raises(ValueError, match="option " + named):
            neardup.Index(path, readonly=True, **options)
        cli = (["--measure", options["measure"]] if "measure" in options else []) + \
            (["--min-shingles", str(options["min_shingles"])] if "min_shingles" in options else [])
        proc = __import__("subprocess").run([nd_binary, "query", path] + cli + [os.devnull], capture_output=True)
        assert proc.returncode == 2 and b"option " + named.encode() in proc.stderr  # the program refuses the same way
    with neardup.Index(con, measure="containment", min_shingles=5, readonly=True) as ix:  # agreeing is fine
        assert ix.options["measure"] == "containment" and ix.options["min_shingles"] == 5
    # min_shingles alone, agreeing: was refused, naming a measure never given
    with neardup.Index(con, min_shingles=5, readonly=True) as ix:
        assert ix.options["min_shingles"] == 5
    proc = __import__("subprocess").run([nd_binary, "query", con, "--min-shingles", "5", os.devnull], capture_output=True)
    assert proc.returncode == 0, proc.stderr
    with neardup.Index(jac, measure="jaccard", readonly=True) as ix:
        assert ix.options["measure"] == "jaccard"


def test_containment_matches_carry_both_containments(nd_binary, tmp_path):
    _, ids, texts = load_corpus("mixed-1k")
    ids, texts = ids[:300], texts[:300]
    # excerpts: the first half of the words of every 10th text, each inside its article
    excerpts = [" ".join(t.split()[: len(t.split()) // 2]) for t in texts[::10]]
    path = str(tmp_path / "c.db")
    with neardup.Index(path, create=True, measure="containment", threshold=0.8) as ix:
        ix.add(texts, ids)
        got = ix.query(excerpts)
    text_of = dict(zip(ids, texts))
    options = {"measure": "containment", "threshold": 0.8}
    checked = 0
    for q, ms in zip(excerpts, got):
        for m in ms:
            e = neardup.explain(q, text_of[m.id], **options)
            assert m.query_in_match == pytest.approx(e["containment_a_in_b"], abs=1e-12)
            assert m.match_in_query == pytest.approx(e["containment_b_in_a"], abs=1e-12)
            assert m.jaccard == pytest.approx(e["jaccard"], abs=1e-12)
            assert max(m.query_in_match, m.match_in_query) >= 0.8
            checked += 1
        ranks = [(max(m.query_in_match, m.match_in_query), m.jaccard) for m in ms]
        assert ranks == sorted(ranks, reverse=True)
    assert checked >= len(excerpts) // 2  # most excerpts find their article
    # the program's `query` on the same index reports the same numbers
    q_file = tmp_path / "q.jsonl"
    with open(q_file, "w", encoding="utf-8") as f:
        for i, t in enumerate(excerpts):
            f.write(json.dumps({"id": "q%d" % i, "text": t}) + "\n")
    out = run_cli(nd_binary, "query", path, str(q_file))
    expected = [[(m["id"], m["query_in_match"], m["match_in_query"]) for m in json.loads(line)["matches"]]
                for line in out.splitlines()]
    assert [[(m.id, float(f"{m.query_in_match:.6g}"), float(f"{m.match_in_query:.6g}")) for m in ms]
            for ms in got] == expected
    # a Match is still the tuple (id, jaccard)
    first = next(m for ms in got for m in ms)
    assert tuple(first) == (first.id, first.jaccard) and len(first) == 2


# A close() on one thread while calls on others wait for the index: each
# waiting call must find the index closed (ValueError), never use the
# handle close() freed (it crashed the interpreter: the calls checked
# "closed" before waiting, not after). In a child process, so that a crash
# fails this test rather than the run.
CLOSE_WHILE_WAITING = r"""
import random, sys, threading, time
import neardup
path = sys.argv[1]
rng = random.Random(1)
words = ["w%d" % i for i in range(3000)]
texts = [" ".join(rng.choice(words) for _ in range(40)) for _ in range(20000)]
outcomes = []
def call(name, fn):
    try:
        fn()
        outcomes.append((name, "ok"))
    except ValueError as e:
        outcomes.append((name, "closed" if "closed" in str(e) else "other: %s" % e))
for attempt in range(3):  # (timing: each attempt crashed the interpreter before the fix)
    ix = neardup.Index("%s.%d" % (path, attempt), create=True, threads=1, autocommit=False)
    adder = threading.Thread(target=call, args=("add", lambda: ix.add(texts, [str(i) for i in range(len(texts))])))
    adder.start()
    time.sleep(0.05)  # the add holds the index (on a busy machine it may not yet: then close() goes first)
    closer = threading.Thread(target=call, args=("close", ix.close))
    closer.start()
    time.sleep(0.01)  # close() waits for it
    waiting = [threading.Thread(target=call, args=(name, fn)) for name, fn in [
        ("query", lambda: ix.query(texts[:5])), ("len", lambda: len(ix)), ("stats", ix.stats),
        ("options", lambda: ix.options), ("commit", ix.commit), ("remove", lambda: ix.remove(["0"]))]]
    for t in waiting:
        t.start()
    for t in [adder, closer] + waiting:
        t.join()
print(sorted(outcomes))
"""


def test_calls_waiting_for_a_closing_index_find_it_closed(tmp_path):
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-c", CLOSE_WHILE_WAITING, str(tmp_path / "ix.db")], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, "the child died (%d): %s" % (proc.returncode, proc.stderr[-2000:])
    outcomes = eval(proc.stdout.strip())
    assert len(outcomes) == 3 * 8
    for name, outcome in outcomes:
        assert outcome == "ok" if name == "close" else outcome in ("ok", "closed"), (name, outcome)


def test_an_index_options_are_given_back_to_index_and_scan(tmp_path):
    """Index(path, **ix.options) and scan(texts, **ix.options) take the
    index's options as they are (a Jaccard index reported min_shingles 0,
    which both refused)."""
    _, texts, _, _ = split_corpus()
    jac, con = str(tmp_path / "jac.db"), str(tmp_path / "con.db")
    neardup.Index(jac, create=True).close()
    neardup.Index(con, create=True, measure="containment", min_shingles=7).close()
    for path in (jac, con):
        with neardup.Index(path, readonly=True) as ix:
            options = ix.options
        assert ("min_shingles" in options) == (path == con)
        with neardup.Index(path, readonly=True, **options) as again:
            assert again.options == options
        copy = str(tmp_path / ("copy-" + os.path.basename(path)))
        neardup.Index(copy, create=True, **options).close()
        neardup.scan(texts[:50], **options)


def test_query_refuses_a_bool_threshold_or_top(tmp_path):
    path = str(tmp_path / "ix.db")
    with neardup.Index(path, create=True) as ix:
        ix.add(["a text about the harbour"], ["a"])
        with pytest.raises(TypeError, match="bool"):
            ix.query(["a text"], threshold=True)
        with pytest.raises(TypeError, match="bool"):
            ix.query(["a text"], top=True)


def test_a_second_handle_on_an_open_index_is_refused(tmp_path):
    """LMDB allows one environment on a file per process: closing a second
    one released the locks the first held (another process could then reset
    the reader table under it). A second Index on the same path is refused
    while the first is open; once it is closed, the path opens again; a
    child of fork() may open its own."""
    path = str(tmp_path / "ix.db")
    ix = neardup.Index(path, create=True)
    ix.add(["one two three four five six seven eight"], ["x"])
    for kwargs in ({"readonly": True}, {}):
        with pytest.raises(BlockingIOError, match="open already in this process"):
            neardup.Index(path, **kwargs)
    with pytest.raises(BlockingIOError):
        neardup.Index(os.path.join(str(tmp_path), ".", "ix.db"), readonly=True)  # another spelling of the path
    pid = os.fork()
    if pid == 0:  # the child: its own handle, while the parent's stays open
        code = 1
        try:
            with neardup.Index(path, readonly=True) as child:
                code = 0 if len(child) == 1 else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status
    assert len(ix) == 1
    ix.close()
    with neardup.Index(path, readonly=True) as again:
        assert len(again) == 1


def test_ids_that_are_not_utf8_stay_distinct_in_the_programs_output(nd_binary, tmp_path):
    # the module takes any bytes as an id; the program wrote b"\xff" and
    # b"\xfe" both as U+FFFD: two documents with one id in query's output
    # and dedup --index's "duplicate_of". Now as file names in ids: \xNN.
    text = "one two three four five six seven eight nine ten eleven"
    with neardup.Index(str(tmp_path / "db"), create=True) as ix:
        ix.add([text, text], [b"\xff", b"\xfe"])
    q = tmp_path / "q.txt"
    q.write_text(text + "\n")
    out = json.loads(run_cli(nd_binary, "query", "--quiet", str(tmp_path / "db"), str(q)))
    assert sorted(m["id"] for m in out["matches"]) == ["\\xFE", "\\xFF"]
    out = json.loads(run_cli(nd_binary, "dedup", "--quiet", "--annotate", "--index", str(tmp_path / "db"), str(q)))
    assert out["neardup"]["duplicate_of"] == "\\xFF"
