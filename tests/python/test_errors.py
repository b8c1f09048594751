"""Bad input is a Python exception naming what is wrong, never a crash or
a hang: wrong types, out-of-range options, mismatched ids, ill-formed
text."""

import pytest

import neardup

GOOD = ["one two three four five six", "one two three four five six!"]


@pytest.mark.parametrize(
    "kwargs,error,words",
    [
        ({"threshold": 0}, ValueError, "threshold"),
        ({"threshold": 1.5}, ValueError, "threshold"),
        ({"threshold": float("nan")}, ValueError, "threshold"),
        ({"threshold": "high"}, TypeError, ""),
        ({"threshold": True}, TypeError, "threshold"),
        ({"seed": True}, TypeError, "seed"),
        ({"profile": "loud"}, ValueError, "profile"),
        ({"profile": 1}, TypeError, "profile"),
        ({"shingle": "words:0"}, ValueError, "shingle"),
        ({"shingle": "chars:65"}, ValueError, "shingle"),
        ({"shingle": "letters:3"}, ValueError, "shingle"),
        ({"shingle": "words:"}, ValueError, "shingle"),
        ({"num_perm": 0}, ValueError, "num_perm"),
        ({"num_perm": 5000}, ValueError, "num_perm"),
        ({"num_perm": 2**80}, ValueError, "num_perm"),
        ({"num_perm": 12.5}, TypeError, "num_perm"),
        ({"bands": 4}, ValueError, "bands and rows"),
        ({"rows": 4}, ValueError, "bands and rows"),
        ({"bands": 20, "rows": 8}, ValueError, "num_perm"),
        ({"seed": -1}, ValueError, "seed"),
        ({"seed": 2**64}, ValueError, "seed"),
        ({"keep": "last"}, ValueError, "keep"),
        ({"unit": "sentence"}, ValueError, "unit"),
        ({"min_tokens": -1}, ValueError, "min_tokens"),
        ({"min_tokens": 0}, ValueError, "min_tokens"),  # the program's range, 1 to 1000000 (both were taken)
        ({"min_tokens": 1000001}, ValueError, "min_tokens"),
        ({"measure": "cosine"}, ValueError, "measure"),
        ({"min_shingles": 0}, ValueError, "min_shingles"),
        ({"min_shingles": 1000001}, ValueError, "min_shingles"),  # the program's range (2**30 was taken)
        ({"threads": -1}, ValueError, "threads"),
        ({"threads": 10**9}, ValueError, "threads"),
        ({"tresholds": 0.5}, TypeError, "tresholds"),
        # a wrong type is a TypeError, as the README says, for every option
        ({"seed": None}, TypeError, "seed"),
        ({"seed": 1.5}, TypeError, "seed"),
        ({"measure": 5}, TypeError, "measure"),
        ({"unit": None}, TypeError, "unit"),
        ({"keep": None}, TypeError, "keep"),
    ],
)
def test_bad_options(kwargs, error, words):
    with pytest.raises(error, match=words):
        neardup.scan(GOOD, **kwargs)


@pytest.mark.parametrize(
    "kwargs,error",
    [({"threshold": 0}, ValueError), ({"num_perm": 0}, ValueError), ({"color": 1}, TypeError)],
)
def test_bad_options_everywhere(kwargs, error):
    with pytest.raises(error):
        neardup.Deduplicator(**kwargs)
    with pytest.raises(error):
        neardup.signature("text", **kwargs)
    with pytest.raises(error):
        neardup.explain("a", "b", **kwargs)
    with pytest.raises(error):
        neardup.dedup(GOOD, **kwargs)


def test_bad_texts():
    with pytest.raises(TypeError, match="not one text"):
        neardup.scan("one text")
    with pytest.raises(TypeError, match="not one text"):
        neardup.dedup(b"one text")
    with pytest.raises(TypeError):
        neardup.scan(None)
    with pytest.raises(TypeError, match=r"texts\[2\]"):
        neardup.scan(["a", "b", None, "d"])
    with pytest.raises(TypeError, match=r"texts\[9000\]"):  # in the second chunk
        neardup.scan(["a"] * 9000 + [3])
    with pytest.raises(TypeError):
        neardup.normalize(None)
    with pytest.raises(TypeError):
        neardup.signature(["a list"])
    with pytest.raises(TypeError):
        neardup.explain("a", 5)
    d = neardup.Deduplicator()
    with pytest.raises(TypeError):
        d.add(None)
    with pytest.raises(TypeError):
        d.is_duplicate(3.5)
    assert len(d) == 0 and d.added == 0  # a failed add changes nothing


def test_deduplicator_is_jaccard_only():
    with pytest.raises(ValueError, match="containment"):
        neardup.Deduplicator(measure="containment")


def test_dedup_is_for_whole_texts():
    with pytest.raises(TypeError, match="scan"):
        neardup.dedup(GOOD, unit="paragraph")


def test_containment_is_for_whole_texts():
    """As the program refuses --measure containment with --unit (exit 2)."""
    for unit in ("paragraph", "line"):
        with pytest.raises(ValueError, match="does not combine with unit"):
            neardup.scan(GOOD, unit=unit, measure="containment")


def test_bad_ids():
    with pytest.raises(ValueError, match="2 texts"):
        neardup.scan(GOOD, ids=["only one"])
    with pytest.raises(TypeError):
        neardup.scan(GOOD, ids="ab")
    with pytest.raises(ValueError):
        neardup.explain("a", "b", ids=("just one",))
    with pytest.raises(TypeError):
        neardup.Deduplicator(0.5)  # keyword arguments only


def test_an_iterable_that_fails_midway():
    def texts():
        yield "one"
        raise KeyError("from the generator")

    with pytest.raises(KeyError):
        neardup.scan(texts())


def test_ill_formed_text_is_read_not_refused():
    # invalid UTF-8 bytes and lone surrogates are read as U+FFFD, as the program does
    clusters = neardup.scan([b"caf\xe9 au lait \xff here", "caf\udce9 au lait \udcff here"], threshold=0.5)
    assert clusters and clusters[0].indices == [0, 1]
    assert neardup.normalize("a\udc80b") == ["a", "b"]
    assert len(neardup.signature(b"\xff\xfe\xfd")) == 512
    neardup.explain(b"\xff", "\udc80")
    d = neardup.Deduplicator()
    assert d.add("x\ud800y") is None


def test_big_and_empty_inputs():
    big = "word " * 2_000_000
    assert neardup.scan([big, big]) [0].indices == [0, 1]
    assert neardup.scan([""] * 100) == []
    assert neardup.dedup([""] * 3) == [True, True, True]


# Another thread resizes the texts list while scan, dedup or add_many work
# on it (they let the GIL go between chunks of 8192 texts): a RuntimeError
# naming the change, never a read past the list's end (which crashed the
# interpreter). Run in a child process, so that a crash fails this test
# rather than ending the run. The other thread shrinks the list halfway
# through the call, as long as an undisturbed call took (the call's set-up
# is far shorter); the switch interval keeps the GIL with the call until it
# lets it go, so the shrink falls between two chunks. A call that ended
# first (a busy machine's timing varies: three tries at half the time all
# missed once beside other work) is tried again, the shrink at other
# shares of the time, up to ten times.
SHRINK_DURING_CALL = r"""
import sys, threading, time
import neardup
call = sys.argv[1]
texts = ["text number %d with words %d" % (i, i % 97) for i in range(200000)]
def run():
    if call == "scan":
        neardup.scan(texts, threads=2)
    elif call == "dedup":
        neardup.dedup(texts, threads=2)
    else:
        neardup.Deduplicator().add_many(texts, ids=list(range(200000)), threads=2)
t0 = time.perf_counter()
run()
took = time.perf_counter() - t0
sys.setswitchinterval(30)
for share in (0.5, 0.3, 0.7, 0.2, 0.8, 0.4, 0.6, 0.1, 0.9, 0.5):
    del texts[9000:]
    texts.extend("text number %d with words %d" % (i, i % 97) for i in range(9000, 200000))
    ready = threading.Event()
    def shrink():
        ready.wait()
        time.sleep(took * share)
        del texts[9000:]
    t = threading.Thread(target=shrink)
    t.start()
    ready.set()
    try:
        run()
        outcome = "no error"
    except RuntimeError as e:
        outcome = "RuntimeError: %s" % e
    t.join()
    if outcome != "no error":
        break
print(outcome)
"""


@pytest.mark.parametrize("call", ["scan", "dedup", "add_many"])
def test_texts_resized_during_the_call(call):
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-c", SHRINK_DURING_CALL, call], capture_output=True, text=True,
                          timeout=300, check=False)
    assert proc.returncode == 0, (proc.returncode, proc.stderr[-2000:])
    assert "RuntimeError: texts changed size during the call (200000 texts when it began, 9000 now)" in proc.stdout, \
        proc.stdout


def test_add_many_refuses_one_str_as_ids():
    with pytest.raises(TypeError, match="ids must be a sequence of ids"):
        neardup.Deduplicator().add_many(["a b c", "d e f"], ids="ab")
