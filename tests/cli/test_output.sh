#!/usr/bin/env bash
# test_output.sh - the output side of "nothing lost": dedup --unit writes
# every byte outside the text value as read; every write and close is
# checked (/dev/full) in every command and mode; an output naming an input
# is refused before anything is opened; -o FILE and --removed FILE appear
# only when the run succeeded, and a run ended by a signal leaves no
# temporary file; which copy of a unit dedup --unit keeps.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"

nd() { run "$ND" "$@"; }

check "dedup --unit: only the text value changes, whatever the record holds"
python3 - "$T" <<'PY'
import sys
t = sys.argv[1]
shared = "some repeated line of text that is long enough here"
deep = "[" * 100 + "1" + "]" * 100
rows = [
    # an escaped key: "k\u00e9" is the key "ké"
    '{"id":1,"big":12345678901234567890123,"x":0.1,"k\\u00e9":"%s\\nbody one"}' % shared,
    '{"id":2,"big":12345678901234567890123,"x":0.1,"k\\u00e9":"%s\\nbody two"}' % shared,
]
open(f"{t}/escaped.jsonl", "w").write("\n".join(rows) + "\n")
rows = [
    # nesting deeper than 64, a repeated text key (jansson reads the last)
    '{"id":1, "n":%s, "x":0.1, "text":"%s\\nfirst body"}' % (deep, shared),
    '{"id":2, "text":"ignored first copy", "n":{"a":%s,"b":{}}, "big":12345678901234567890123,  "x":0.1, "text":"%s\\nsecond body", "y":1E+2}' % (deep, shared),
]
open(f"{t}/nested.jsonl", "w").write("\n".join(rows) + "\n")
# more: the text key nested in another member (not the one read), a key
# escaped as a surrogate pair and with an escaped quote, blanks around ':',
# nesting near jansson's limit, a text holding braces and escaped quotes
very_deep = '{"a":' * 1500 + "1" + "}" * 1500
rows = [
    '{"meta":{"text":"nested, not read"},"id":"m1","t\\"\\ud83d\\ude00" :  "%s\\nbody {one} \\"quoted\\"" ,"z":[1.50,-0,2e-7]}' % shared,
    '{"id":"m2","deep":%s,"t\\u0022\\ud83d\\ude00":"%s\\nbody two","n":100000000000000000000000000001}' % (very_deep, shared),
]
open(f"{t}/more.jsonl", "w").write("\n".join(rows) + "\n")
PY
nd dedup --unit line --text-field ké "$T/escaped.jsonl"
assert_rc 0
python3 - "$T/escaped.jsonl" "$OUT" <<'PY' || fail "escaped key: bytes outside the text changed"
import sys
src = open(sys.argv[1]).read().splitlines()
out = open(sys.argv[2]).read().splitlines()
assert out[0] == src[0], out[0]
assert out[1] == '{"id":2,"big":12345678901234567890123,"x":0.1,"k\\u00e9":"body two"}', out[1]
PY
nd dedup --unit line "$T/nested.jsonl"
assert_rc 0
python3 - "$T/nested.jsonl" "$OUT" <<'PY' || fail "nested/repeated: bytes outside the text changed"
import sys
src = open(sys.argv[1]).read().splitlines()
out = open(sys.argv[2]).read().splitlines()
assert out[0] == src[0], out[0]
want = src[1].replace('"some repeated line of text that is long enough here\\nsecond body"', '"second body"')
assert want != src[1] and out[1] == want, out[1]
PY
python3 - "$T/more.jsonl" <<'PY' || fail "the fixture more.jsonl is not what jansson reads"
import json, sys
sys.setrecursionlimit(20000)
for line in open(sys.argv[1]):
    r = json.loads(line)
    assert 't"\U0001F600' in r, list(r)
PY
nd dedup --unit line --text-field 't"😀' "$T/more.jsonl"
assert_rc 0
python3 - "$T/more.jsonl" "$OUT" <<'PY' || fail "more cases: bytes outside the text changed"
import sys
src = open(sys.argv[1]).read().splitlines()
out = open(sys.argv[2]).read().splitlines()
assert out[0] == src[0], out[0][:200]
want = src[1].replace('"some repeated line of text that is long enough here\\nbody two"', '"body two"')
assert want != src[1] and out[1] == want, out[1][-200:]
PY

check "every command and mode fails (exit 1, a message) when its output cannot be written"
python3 - "$T" <<'PY'
import json, sys
t = sys.argv[1]
base = "the quick brown fox jumps over the lazy dog and keeps running far away into the hills"
rows = []
for i in range(6):
    text = base if i % 2 == 0 else "entirely different words number %d that share nothing with the others" % i
    rows.append({"id": "r%d" % i, "text": text + "\nthe second line of every copy, long enough to compare"})
rows.append({"id": "e", "text": base})
open(f"{t}/dup.jsonl", "w").write("".join(json.dumps(r) + "\n" for r in rows))
fresh = {"id": "new", "text": "a document the index has not seen, with words of its own in it"}
open(f"{t}/new.jsonl", "w").write(json.dumps(fresh) + "\n")
PY
run "$ND" index add --quiet "$T/db" "$T/dup.jsonl"
assert_rc 0
full() { # full WHAT ARGS...: neardup ARGS > /dev/full exits 1 with a message
    local what="$1"
    shift
    LAST_CMD="$ND $* >/dev/full"
    set +e
    "$ND" "$@" >/dev/full 2>"$ERR"
    RC=$?
    set -e
    : >"$OUT"
    assert_rc 1
    assert_file_contains "$ERR" "write"
    echo "  ok: $what"
}
full "scan" scan "$T/dup.jsonl"
full "scan --pairs" scan --pairs "$T/dup.jsonl"
full "scan --unit line" scan --unit line "$T/dup.jsonl"
full "dedup" dedup "$T/dup.jsonl"
full "dedup --annotate" dedup --annotate "$T/dup.jsonl"
full "dedup --unit line" dedup --unit line "$T/dup.jsonl"
full "query" query "$T/db" "$T/dup.jsonl"
full "index stats" index stats "$T/db"
full "dedup --index" dedup --index "$T/db" "$T/new.jsonl"
full "explain" explain --id r0 --id e "$T/dup.jsonl"
full "explain --json" explain --json --id r0 --id e "$T/dup.jsonl"
full "params" params
full "normalize" normalize "$T/dup.jsonl"
full "--help" --help
full "--version" --version
full "scan --help" scan --help
full "index add --help" index add --help
cp -r "$T/db" "$T/db-full"
full "index add (its run committed)" index add "$T/db-full" "$T/new.jsonl"
assert_file_contains "$ERR" "(the run was committed: the index holds its changes)"
full "index remove (its run committed)" index remove "$T/db-full" --id new
assert_file_contains "$ERR" "(the run was committed: the index holds its changes)"
full "index compact" index compact "$T/db-full"
assert_file_contains "$ERR" "(the run was committed: the index holds its changes)"
for cmd in scan dedup; do
    run "$ND" $cmd --stats /dev/full "$T/dup.jsonl"
    assert_rc 1
    assert_file_contains "$ERR" "/dev/full"
    echo "  ok: $cmd --stats /dev/full"
done
for mode in "" "--unit line"; do
    # shellcheck disable=SC2086  # $mode is words
    run "$ND" dedup $mode --removed /dev/full "$T/dup.jsonl"
    assert_rc 1
    assert_file_contains "$ERR" "/dev/full"
    echo "  ok: dedup $mode --removed /dev/full"
done

check "an output file naming one of the inputs is refused before anything is written (exit 2, input untouched)"
cp "$T/dup.jsonl" "$T/in.jsonl"
cp "$T/dup.jsonl" "$T/orig.jsonl"
ln -s in.jsonl "$T/link.jsonl"
refused() { # refused WHAT ARGS...
    local what="$1"
    shift
    run "$@"
    assert_rc 2
    assert_file_contains "$ERR" "in.jsonl"
    cmp -s "$T/in.jsonl" "$T/orig.jsonl" || fail "$what: the input changed"
    echo "  ok: $what"
}
refused "dedup --removed INPUT" "$ND" dedup --removed "$T/in.jsonl" "$T/in.jsonl"
refused "dedup --unit line --removed INPUT" "$ND" dedup --unit line --removed "$T/in.jsonl" "$T/in.jsonl"
refused "dedup -o INPUT" "$ND" dedup -o "$T/in.jsonl" "$T/in.jsonl"
refused "dedup -o a symbolic link to the input" "$ND" dedup -o "$T/link.jsonl" "$T/in.jsonl"
refused "scan --output INPUT" "$ND" scan --output "$T/in.jsonl" "$T/dup.jsonl" "$T/in.jsonl"
refused "scan --stats INPUT" "$ND" scan --stats "$T/in.jsonl" "$T/in.jsonl"
refused "dedup --output-dir the input's directory" "$ND" dedup --output-dir "$T" "$T/in.jsonl"
refused "query -o INPUT" "$ND" query "$T/db" -o "$T/in.jsonl" "$T/in.jsonl"
refused "dedup --index -o INPUT" "$ND" dedup --index "$T/db" -o "$T/in.jsonl" "$T/in.jsonl"
LAST_CMD="dedup -o INPUT - < INPUT"
set +e
"$ND" dedup -o "$T/in.jsonl" - <"$T/in.jsonl" >"$OUT" 2>"$ERR"
RC=$?
set -e
assert_rc 2
assert_file_contains "$ERR" "stdin"
cmp -s "$T/in.jsonl" "$T/orig.jsonl" || fail "stdin: the input changed"
echo "  ok: dedup -o INPUT - < INPUT"
check "--stats taking the input's name for its file (the run reading stdin) leaves that file alone (exit 2)"
LAST_CMD="scan --stats INPUT < /dev/null"
set +e
"$ND" scan --stats "$T/in.jsonl" </dev/null >"$OUT" 2>"$ERR"
RC=$?
set -e
assert_rc 2
assert_file_contains "$ERR" "not a stats file"
cmp -s "$T/in.jsonl" "$T/orig.jsonl" || fail "--stats INPUT: the input changed"
echo "  ok: scan --stats INPUT < /dev/null"
# records that start as a stats object does ({"version": ...}) are data all the same
printf '{"version":1,"id":"a","text":"keep me"}\n{"version":1,"id":"b","text":"and me"}\n' >"$T/versioned.jsonl"
printf '{"version":"1","command":"scan","id":"c","text":"one record"}\n' >"$T/versioned1.jsonl"
cp "$T/versioned.jsonl" "$T/versioned.orig"
cp "$T/versioned1.jsonl" "$T/versioned1.orig"
for f in versioned versioned1; do
    nd scan --stats "$T/$f.jsonl" "$T/dup.jsonl"
    assert_rc 2 "--stats $f.jsonl"
    assert_file_contains "$ERR" "not a stats file"
    cmp -s "$T/$f.jsonl" "$T/$f.orig" || fail "--stats $f.jsonl: the data file was replaced"
done
nd scan --stats "$T/run.json" "$T/dup.jsonl"
assert_rc 0
nd scan --stats "$T/run.json" "$T/dup.jsonl"
assert_rc 0 # a stats file of an earlier run is replaced
: >"$T/empty.json"
nd scan --stats "$T/empty.json" "$T/dup.jsonl"
assert_rc 0
assert_file_contains "$T/empty.json" '"documents_read"'
nd dedup -o "$T/same" --removed "$T/same" "$T/dup.jsonl"
assert_rc 2
[[ ! -e "$T/same" ]] || fail "-o and --removed naming one file: a file was written"
nd dedup -o "$T/x" --output-dir "$T" "$T/dup.jsonl"
assert_rc 2

check "--stats FILE where it cannot be written fails before any output (not after a complete-looking stdout)"
nd scan --stats "$T/no/such/dir/stats.json" "$SRC/tests/fixtures/arabic-news/"
assert_rc 1 "--stats in a missing directory"
assert_file_contains "$ERR" "$T/no/such/dir/stats.json: cannot write"
assert_empty_file "$OUT" "stdout"

check "an empty file name for -o, --removed or --stats: exit 2, nothing written"
for opt in -o --removed --stats; do
    nd dedup "$opt" "" "$SRC/tests/fixtures/arabic-news/page.txt"
    assert_rc 2 "$opt ''"
    assert_file_contains "$ERR" "'': an empty file name"
    assert_empty_file "$OUT" "stdout"
done

check "--removed - and --stats - are refused (exit 2), not a file named '-' made in the current directory"
mkdir "$T/dash"
for opt in --removed --stats; do
    cd "$T/dash"
    run "$ND" dedup "$opt" - "$T/dup.jsonl"
    cd - >/dev/null
    assert_rc 2 "$opt -"
    assert_file_contains "$ERR" "--${opt#--} '-': expected a file"
    [[ ! -e "$T/dash/-" ]] || fail "$opt - made a file named '-'"
done

check "two output options naming one file by different paths (-o x --stats ./x) are refused (exit 2)"
mkdir -p "$T/alias"
for pair in "-o $T/alias/x --stats $T/alias/./x" "-o $T/alias/x --removed $T/alias/../alias/x" \
    "--removed $T/alias/y --stats $T/alias//y"; do
    rm -f "$T/alias/x" "$T/alias/y"
    # shellcheck disable=SC2086
    nd dedup $pair "$SRC/tests/fixtures/arabic-news/page.txt"
    assert_rc 2 "dedup $pair"
    assert_file_contains "$ERR" "give each its own file"
    assert_eq 0 "$(ls -A "$T/alias" | wc -l | tr -d ' ')" "nothing written for $pair"
done

check "-o FILE and --removed FILE appear only when the run succeeds, under their names, nothing else left"
mkdir "$T/o"
nd dedup -o "$T/o/kept.jsonl" --removed "$T/o/removed.jsonl" "$T/dup.jsonl"
assert_rc 0
assert_empty_file "$OUT" "stdout"
run "$ND" dedup --removed "$T/o/removed.ref" "$T/dup.jsonl"
assert_rc 0
cmp -s "$OUT" "$T/o/kept.jsonl" || fail "-o FILE differs from stdout"
cmp -s "$T/o/removed.ref" "$T/o/removed.jsonl" || fail "--removed differs"
nd scan --unit line -o "$T/o/groups.jsonl" "$T/dup.jsonl"
assert_rc 0
run "$ND" scan --unit line "$T/dup.jsonl"
cmp -s "$OUT" "$T/o/groups.jsonl" || fail "scan -o FILE differs from stdout"
nd scan --pairs -o "$T/o/pairs.jsonl" "$T/dup.jsonl"
assert_rc 0
run "$ND" scan --pairs "$T/dup.jsonl"
cmp -s "$OUT" "$T/o/pairs.jsonl" || fail "scan --pairs -o FILE differs from stdout"
nd query "$T/db" -o "$T/o/query.jsonl" "$T/new.jsonl"
assert_rc 0
assert_jq "$T/o/query.jsonl" 'length == 1 and .[0].id == "new"' "query -o FILE"
nd dedup --index "$T/db" -o "$T/o/index.jsonl" "$T/new.jsonl"
assert_rc 0
assert_jq "$T/o/index.jsonl" 'length == 1 and .[0].id == "new"' "dedup --index -o FILE"
nd scan -o /dev/stdout --quiet "$T/dup.jsonl"
assert_rc 0
assert_jq "$OUT" 'length == 1' "-o /dev/stdout is written in place"
[[ -z "$(find "$T/o" -name '.*')" ]] || fail "temporary files left: $(ls -A "$T/o")"

check "started with stdout closed (>&-): -o FILE and --stats FILE written, exit 0; output for stdout still fails"
# the temporary output file took descriptor 1, was closed twice, and the run
# exited 1 after renaming a complete -o file into place
mkdir "$T/closed"
set +e
"$ND" dedup --quiet -o "$T/closed/kept.jsonl" --stats "$T/closed/st.json" "$T/dup.jsonl" >&- 2>"$ERR"
RC=$?
set -e
assert_rc 0 "dedup -o FILE with stdout closed"
cmp -s "$T/o/kept.jsonl" "$T/closed/kept.jsonl" || fail "-o FILE with stdout closed differs"
assert_jq "$T/closed/st.json" 'length == 1' "--stats with stdout closed"
set +e
"$ND" scan --quiet "$T/dup.jsonl" >&- 2>"$ERR"
RC=$?
set -e
assert_rc 1 "scan writing clusters to a closed stdout"
assert_file_contains "$ERR" "cannot write the output"
set +e
"$ND" scan --quiet -o /dev/stdout "$T/dup.jsonl" >&- 2>"$ERR" # (reopened the stand-in: /dev/null, exit 0)
RC=$?
set -e
assert_rc 1 "-o /dev/stdout with stdout closed"
assert_file_contains "$ERR" "/dev/stdout: cannot write: Bad file descriptor"

check "-o onto a symbolic link to nothing yet writes the file it names (as > does); long names get a shorter temporary name"
# the link itself was replaced by a regular file
mkdir -p "$T/sl/real"
ln -s real/kept.jsonl "$T/sl/kept.jsonl"
nd dedup -o "$T/sl/kept.jsonl" "$T/dup.jsonl"
assert_rc 0
[[ -L "$T/sl/kept.jsonl" ]] || fail "the symbolic link was replaced"
cmp -s "$T/o/kept.jsonl" "$T/sl/real/kept.jsonl" || fail "the file the link names is not the output"
# a name of 251 bytes (Linux takes 255): .NAME.neardup-XXXXXX was too long
long="$(printf 'y%.0s' $(seq 1 245)).jsonl"
nd dedup -o "$T/sl/$long" "$T/dup.jsonl"
assert_rc 0 "-o a 251-byte name"
cmp -s "$T/o/kept.jsonl" "$T/sl/$long" || fail "-o a 251-byte name: output differs"
mkdir "$T/sl/in" "$T/sl/out"
cp "$T/dup.jsonl" "$T/sl/in/$long"
nd dedup --output-dir "$T/sl/out" "$T/sl/in/$long"
assert_rc 0 "--output-dir, an input of a 251-byte name"
cmp -s "$T/o/kept.jsonl" "$T/sl/out/$long" || fail "--output-dir of a 251-byte name: output differs"
[[ -z "$(find "$T/sl" -name '.*')" ]] || fail "temporary files left: $(ls -A "$T/sl" "$T/sl/out")"

check "--output-dir where an input's output name is a directory: refused before anything is written (exit 2)"
# it was found only when renaming, after the first input's file was in place (exit 1)
mkdir -p "$T/odir/in" "$T/odir/out/b.jsonl/x" "$T/odir/rm"
cp "$T/dup.jsonl" "$T/odir/in/a.jsonl"
cp "$T/dup.jsonl" "$T/odir/in/b.jsonl"
nd dedup --output-dir "$T/odir/out" --removed-dir "$T/odir/rm" "$T/odir/in/a.jsonl" "$T/odir/in/b.jsonl"
assert_rc 2
assert_file_contains "$ERR" "odir/out/b.jsonl: a directory is there"
[[ ! -e "$T/odir/out/a.jsonl" ]] || fail "a.jsonl was written though the run was refused"

check "--output-dir's checks are linear in the inputs: 1600 files take less than 8x 400 (every output was compared with every input: 16x)"
mkdir -p "$T/many/in400" "$T/many/in1600" "$T/many/od" "$T/many/rd"
for i in $(seq 1 1600); do printf '{"id":"d%d","text":"word%d other%d words here"}\n' "$i" "$i" "$i" >"$T/many/in1600/f$i.jsonl"; done
cp "$T"/many/in1600/f{1..400}.jsonl "$T/many/in400/"
secs() { # secs DIR: seconds dedup --output-dir of DIR takes
    rm -rf "$T"/many/od/* "$T"/many/rd/*
    python3 - "$ND" "$1" "$T/many/od" "$T/many/rd" <<'PY'
import subprocess, sys, time
nd, inputs, od, rd = sys.argv[1:]
t0 = time.perf_counter()
subprocess.run([nd, "dedup", "--quiet", "--threads", "1", inputs, "--output-dir", od, "--removed-dir", rd], check=True)
print("%.3f" % (time.perf_counter() - t0))
PY
}
small=$(secs "$T/many/in400")
large=$(secs "$T/many/in1600")
echo "  400 files: ${small} s, 1600 files: ${large} s"
python3 -c "import sys; sys.exit(0 if $large < 8 * $small + 0.2 else 1)" ||
    fail "1600 inputs took ${large} s against ${small} s for 400"

check "SIGINT while --output-dir's files are put in place: held until every one is (exit 0, a warning), not half of them in place"
# --verbose says when the renames begin; the signal is sent as soon as that
# line is read (from Python: a background job of this shell ignores
# SIGINT). Before, the run ended with exit 130, part of the 3,200 files in
# place and the rest removed as temporary files.
rm -rf "$T"/many/od/* "$T"/many/rd/*
python3 - "$ND" "$T/many/in1600" "$T/many/od" "$T/many/rd" >"$T/held.out" <<'PY'
import signal, subprocess, sys
nd, inputs, od, rd = sys.argv[1:5]
p = subprocess.Popen([nd, "dedup", "--verbose", "--threads", "1", inputs, "--output-dir", od, "--removed-dir", rd],
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
err = []
for line in p.stderr:
    err.append(line)
    if "putting the output files in place" in line:
        p.send_signal(signal.SIGINT)
        break
err += p.stderr.readlines()
p.stdout.read()
print(p.wait())
sys.stdout.write("".join(err))
PY
assert_eq 0 "$(head -n 1 "$T/held.out")" "exit status (a signal while the files were put in place)"
assert_file_contains "$T/held.out" "SIGINT came while the output files were being put in place, and was held until they were: the run finished, and every output file is complete"
assert_eq 1600 "$(find "$T/many/od" -name 'f*.jsonl' | wc -l)" "--output-dir files in place"
assert_eq 1600 "$(find "$T/many/rd" -name 'f*.jsonl' | wc -l)" "--removed-dir files in place"
assert_eq 0 "$(find "$T/many/od" "$T/many/rd" -name '.*' | wc -l)" "temporary files left"

check "a failed run leaves no output file, or the old one untouched"
echo old >"$T/o/old.jsonl"
cp "$T/dup.jsonl" "$T/bad.jsonl"
echo '{"id":"broken","text":' >>"$T/bad.jsonl"
for mode in "" "--unit line"; do
    # shellcheck disable=SC2086  # $mode is words
    run "$ND" dedup $mode -o "$T/o/new.jsonl" --removed "$T/o/rm.jsonl" "$T/bad.jsonl"
    assert_rc 1
    [[ ! -e "$T/o/new.jsonl" && ! -e "$T/o/rm.jsonl" ]] || fail "dedup $mode: a failed run left an output file"
    # shellcheck disable=SC2086
    run "$ND" dedup $mode -o "$T/o/old.jsonl" "$T/bad.jsonl"
    assert_rc 1
    assert_eq old "$(cat "$T/o/old.jsonl")" "the old output"
done
run "$ND" scan -o "$T/o/old.jsonl" "$T/bad.jsonl"
assert_rc 1
assert_eq old "$(cat "$T/o/old.jsonl")" "scan: the old output"
# a write error half way (a file size limit: the write fails, the process lives on)
python3 - "$T" <<'PY'
import json, sys
t = sys.argv[1]
with open(f"{t}/many.jsonl", "w") as f:
    for i in range(200):
        f.write(json.dumps({"id": i, "text": "record %d has its own words: %s" % (i, " w%d" % i * 12)}) + "\n")
PY
LAST_CMD="ulimit -f 8; dedup -o old.jsonl many.jsonl"
set +e
(ulimit -f 8 && exec "$ND" dedup -o "$T/o/old.jsonl" --removed "$T/o/rm.jsonl" "$T/many.jsonl") >"$OUT" 2>"$ERR"
RC=$?
set -e
assert_rc 1
assert_file_contains "$ERR" "write error"
assert_eq old "$(cat "$T/o/old.jsonl")" "a write error: the old output"
[[ ! -e "$T/o/rm.jsonl" ]] || fail "a write error left --removed"
[[ -z "$(find "$T/o" -name '.*')" ]] || fail "temporary files left: $(ls -A "$T/o")"
# --output-dir: the message names the file of the directory that failed
# (records copied by position said only "cannot write the output")
mkdir "$T/full" "$T/full/in" "$T/full/out"
head -n 100 "$T/many.jsonl" >"$T/full/in/a.jsonl"
tail -n 100 "$T/many.jsonl" >"$T/full/in/b.jsonl"
for extra in "" "--unit paragraph" "--annotate" "--threads 2 --removed-dir $T/full/rm"; do
    mkdir -p "$T/full/rm"
    LAST_CMD="ulimit -f 8; dedup $extra --output-dir out a.jsonl b.jsonl"
    set +e
    # shellcheck disable=SC2086 # $extra: options
    (ulimit -f 8 && exec "$ND" dedup $extra --output-dir "$T/full/out" "$T/full/in/a.jsonl" "$T/full/in/b.jsonl") \
        >"$OUT" 2>"$ERR"
    RC=$?
    set -e
    assert_rc 1
    assert_file_contains "$ERR" "$T/full/out/a.jsonl: write error: File too large"
    [[ -z "$(ls -A "$T/full/out")" ]] || fail "$extra: a write error left files in --output-dir: $(ls -A "$T/full/out")"
done

check "a run ended by a signal (SIGINT, SIGTERM, SIGHUP) leaves no temporary output file, and no output"
mkdir "$T/sig"
# Python starts each run (a background job of this shell would have
# SIGINT ignored): the input is a FIFO held open with one record written,
# so the run waits in pass 1 with -o's and --removed's temporary files open
python3 - "$ND" "$T/sig" <<'PY' || fail "a signal left a temporary or an output file (above)"
import glob, os, signal, subprocess, sys, time
nd, d = sys.argv[1], sys.argv[2]
bad = 0
for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
    fifo = os.path.join(d, "fifo")
    if os.path.exists(fifo):
        os.unlink(fifo)
    os.mkfifo(fifo)
    run = subprocess.Popen([nd, "dedup", "-o", f"{d}/kept.jsonl", "--removed", f"{d}/removed.jsonl", fifo],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    w = os.open(fifo, os.O_WRONLY)
    os.write(w, b'{"id":"a","text":"one two three"}\n')
    temps = []
    for _ in range(200):
        temps = glob.glob(f"{d}/.*neardup*")
        if len(temps) == 2:
            break
        time.sleep(0.05)
    if len(temps) != 2:
        print(f"{sig.name}: {len(temps)} temporary files while the run waits, not 2", file=sys.stderr)
        bad = 1
    run.send_signal(sig)
    rc = run.wait(timeout=20)
    os.close(w)
    left = glob.glob(f"{d}/.*") + glob.glob(f"{d}/*.jsonl")
    if rc != -sig or left:
        print(f"{sig.name}: exit {rc} (want {-sig}), left {left}", file=sys.stderr)
        bad = 1
sys.exit(bad)
PY

check "--unit line on a fixture with several groups: each preview is its first occurrence's text; dedup keeps each repeated headline's first appearance"
FIX="$SRC/tests/fixtures/units/headlines.jsonl"
nd scan --unit line --keep min:date "$FIX"
assert_rc 0
python3 - "$FIX" "$OUT" <<'PY' || fail "--keep min:date: a preview is not its group's first occurrence"
import json, sys
docs = [json.loads(l) for l in open(sys.argv[1])]
order = [d["id"] for d in docs]
text = {d["id"]: d["text"].encode() for d in docs}
date = {d["id"]: d["date"] for d in docs}
groups = [json.loads(l) for l in open(sys.argv[2])]
later = 0
for g in groups:
    occ = g["occurrences"]
    o = min(occ, key=lambda k: (order.index(k["id"]), k["start"]))
    assert g["text"] == text[o["id"]][o["start"]:o["end"]].decode(), (g["group"], g["text"])
    assert date[occ[0]["id"]] == min(date[k["id"]] for k in occ), g["group"]
    later += occ[0] is not o
assert later >= 2, "the fixture should have survivors later than their first occurrence"
PY
nd scan --unit line "$FIX"
assert_rc 0
cp "$OUT" "$T/groups.jsonl"
nd dedup --unit line "$FIX"
assert_rc 0
python3 - "$FIX" "$T/groups.jsonl" "$OUT" <<'PY' || fail "previews or kept occurrences"
import json, sys
docs = [json.loads(l) for l in open(sys.argv[1])]
order = [d["id"] for d in docs]
text = {d["id"]: d["text"].encode() for d in docs}
groups = [json.loads(l) for l in open(sys.argv[2])]
kept = {json.loads(l)["id"]: json.loads(l)["text"] for l in open(sys.argv[3])}
# the repeated lines, counted here: a line that is one text pasted k times counts as k copies
def pieces(line):
    for k in (2, 3, 4):
        n = (len(line) - (k - 1)) // k
        if n > 0 and line == " ".join([line[:n]] * k):
            return [line[:n]] * k
    return [line]
seen = {}
for d in docs:
    for line in d["text"].split("\n"):
        for p in pieces(line):
            seen.setdefault(p, []).append(d["id"])
repeated = {l: ids for l, ids in seen.items() if len(ids) > 1}
assert len(groups) == len(repeated) >= 4, (len(groups), len(repeated))
for g in groups:
    occ = g["occurrences"]
    first = min(range(len(occ)), key=lambda k: (order.index(occ[k]["id"]), occ[k]["start"]))
    o = occ[first]
    assert g["text"] == text[o["id"]][o["start"]:o["end"]].decode(), (g["group"], g["text"])
    assert g["text"] in repeated, g["text"]
    assert first == 0, f"group {g['group']}: the occurrence kept is not the first appearance"
    # dedup: the first appearance stays, every later one goes
    assert kept[o["id"]].count(g["text"]) == 1, (o["id"], g["text"])
    for k in occ[1:]:
        if k["id"] != o["id"]:
            assert g["text"] not in kept[k["id"]], (k["id"], g["text"])
PY

pass
