#!/usr/bin/env bash
# test_mpi.sh - neardup-mpi gives the output of one neardup process: with
# 1, 2 and 3 ranks, scan, scan --unit line|paragraph and dedup --output-dir
# (--removed-dir, --annotate, --unit) are byte-identical to neardup, on a
# generated corpus in uneven shards and on the same corpus as one big JSON
# Lines file (split across ranks by byte ranges, records without an id
# named FILE:LINE as one process names them); bad input on any rank stops
# every rank with one message naming the rank, file and line (the first
# bad record in input order, as neardup), exit 1, and leaves no output
# file; so does a --stats file that cannot be written. Skipped (exit 77)
# when neardup-mpi is not built ($ND_MPI_BIN unset) or mpirun is missing.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"

if [[ -z "${ND_MPI_BIN:-}" || ! -x "${ND_MPI_BIN}" ]]; then
    echo "[$TEST_NAME] SKIP: neardup-mpi is not built (CMake found no MPI; -DND_MPI=ON requires it)"
    exit 77
fi
if ! command -v mpirun >/dev/null; then
    echo "[$TEST_NAME] SKIP: mpirun is not installed (Debian: openmpi-bin)"
    exit 77
fi
MPI="$ND_MPI_BIN"
# CI runs as root; a 2-core machine runs 3 ranks oversubscribed
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1
# Under scripts/test --sanitize, ASan and UBSan check neardup-mpi too, but
# not for leaks: Open MPI keeps allocations until exit by design, in
# plugins whose stacks LeakSanitizer cannot name (so no suppression file
# can single them out). neardup's own runs here keep the leak check.
MPI_ASAN_OPTIONS="${ASAN_OPTIONS:-}${ASAN_OPTIONS:+:}detect_leaks=0"
mpi() { # mpi N ARGS...: run neardup-mpi on N ranks (see run)
    local n="$1"
    shift
    run env ASAN_OPTIONS="$MPI_ASAN_OPTIONS" mpirun --oversubscribe -n "$n" "$MPI" "$@"
}

# records FILE SEED N WORDS [LINE=RECORD...]: N generated JSON Lines records of
# WORDS words each (ids d0, d1, ...), the given lines (1-based) replaced by
# RECORD, bytes as given (a bad record, invalid UTF-8)
records() {
    python3 - "$@" <<'PY'
import json, os, random, sys
path, seed, n, k = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
rng = random.Random(seed)
words = ["w%d" % i for i in range(3000)]
lines = [json.dumps({"id": "d%d" % i, "text": " ".join(rng.choice(words) for _ in range(k))}).encode() for i in range(n)]
for spec in sys.argv[5:]:
    line, record = os.fsencode(spec).split(b"=", 1)
    lines[int(line) - 1] = record
open(path, "wb").write(b"\n".join(lines) + b"\n")
PY
}

check "a generated corpus: near-duplicate families, shared paragraphs and lines, records without ids"
python3 - "$T" <<'PY'
import json, os, random, sys
out = sys.argv[1]
rng = random.Random(14)
words = ["w%d" % i for i in range(2500)]
bases = [[rng.choice(words) for _ in range(rng.randint(12, 90))] for _ in range(120)]
footer = "Shared footer of the site: contact us, terms of use, privacy policy."
docs = []
for i in range(900):
    if rng.random() < 0.7:
        d = list(rng.choice(bases))
        for _ in range(rng.randint(0, 3)):
            d[rng.randrange(len(d))] = rng.choice(words)
    else:
        d = [rng.choice(words) for _ in range(rng.randint(5, 60))]
    text = " ".join(d)
    if rng.random() < 0.4:  # paragraphs and lines that repeat across documents
        cut = len(d) // 2
        text = " ".join(d[:cut]) + "\n\n" + " ".join(d[cut:]) + "\n\n" + footer
    rec = {"text": text}
    if rng.random() < 0.85:
        rec = {"id": "doc%d" % i, "text": text}
    docs.append(json.dumps(rec, ensure_ascii=False))
with open(os.path.join(out, "big.jsonl"), "w") as f:
    f.write("\n".join(docs) + "\n")
os.makedirs(os.path.join(out, "shards"))
cuts = [0, 7, 30, 31, 500, 520, 900]  # uneven, one of a single record
for k in range(len(cuts) - 1):
    with open(os.path.join(out, "shards", "part-%d.jsonl" % k), "w") as f:
        f.write("\n".join(docs[cuts[k]:cuts[k + 1]]) + "\n")
PY
nd scan --threads 1 "$T/big.jsonl"
assert_rc 0
[[ "$(line_count "$OUT")" -ge 40 ]] || fail "the corpus should have at least 40 clusters, has $(line_count "$OUT")"

# same_scan LABEL ARGS...: neardup-mpi on 1, 2, 3 ranks writes what neardup writes
same_scan() {
    local label="$1"
    shift
    nd "$@"
    assert_rc 0 "neardup $label"
    cp "$OUT" "$T/expected"
    for n in 1 2 3; do
        mpi "$n" "$@"
        assert_rc 0 "neardup-mpi -n $n $label"
        assert_same_file "$T/expected" "$OUT" "neardup-mpi -n $n $label"
    done
}

# same_dedup LABEL ARGS...: the same for dedup --output-dir (and --removed-dir)
same_dedup() {
    local label="$1"
    shift
    rm -rf "$T/want" "$T/want-removed"
    mkdir "$T/want" "$T/want-removed"
    nd dedup "$@" --output-dir "$T/want" --removed-dir "$T/want-removed"
    assert_rc 0 "neardup dedup $label"
    for n in 1 2 3; do
        rm -rf "$T/got" "$T/got-removed"
        mkdir "$T/got" "$T/got-removed"
        mpi "$n" dedup "$@" --output-dir "$T/got" --removed-dir "$T/got-removed"
        assert_rc 0 "neardup-mpi -n $n dedup $label"
        diff -r "$T/want" "$T/got" >/dev/null || fail "neardup-mpi -n $n dedup $label: output files differ"
        diff -r "$T/want-removed" "$T/got-removed" >/dev/null ||
            fail "neardup-mpi -n $n dedup $label: removed files differ"
    done
}

for corpus in shards big.jsonl; do
    check "$corpus: scan, scan --unit line|paragraph identical to one process"
    same_scan "scan $corpus" scan --threads 1 "$T/$corpus"
    same_scan "scan --unit line $corpus" scan --threads 1 --unit line "$T/$corpus"
    same_scan "scan --unit paragraph $corpus" scan --threads 2 --unit paragraph --boilerplate 5 "$T/$corpus"
    check "$corpus: dedup --output-dir identical to one process"
    same_dedup "$corpus" --threads 1 "$T/$corpus"
    same_dedup "--unit line $corpus" --threads 1 --unit line "$T/$corpus"
done
check "--keep min:FIELD and max:FIELD: the survivors one process keeps, on any number of ranks"
# the field in every form neardup ranks by: numbers with ties (and -0 beside
# 0), reals, strings (a prefix of another, empty), null, missing, in
# families whose members sit on different ranks
python3 - "$T/big.jsonl" "$T/keep.jsonl" <<'PY'
import json, random, sys
rng = random.Random(21)
with open(sys.argv[1]) as f, open(sys.argv[2], "w") as o:
    for line in f:
        d = json.loads(line)
        r = rng.random()
        if r < 0.3:
            d["v"] = rng.randrange(4)
        elif r < 0.45:
            d["v"] = rng.random() * 10 - 5
        elif r < 0.7:
            d["v"] = "2015-%02d-%02d" % (rng.randrange(1, 13), rng.randrange(1, 29))
        elif r < 0.75:
            d["v"] = rng.choice(["", "2015-01", "2015-01-01"])
        elif r < 0.8:
            d["v"] = None
        elif r < 0.85:
            d["v"] = rng.choice([0, -0.0])
        o.write(json.dumps(d) + "\n")
PY
nd scan --threads 1 "$T/keep.jsonl"
cp "$OUT" "$T/keep-first"
for policy in min:v max:v; do
    same_scan "scan --keep $policy" scan --threads 1 --keep "$policy" "$T/keep.jsonl"
    ! cmp -s "$T/keep-first" "$T/expected" || fail "--keep $policy keeps the first copies here: the check would miss it"
    same_scan "scan --keep $policy --unit paragraph" scan --threads 2 --keep "$policy" --unit paragraph "$T/keep.jsonl"
    same_dedup "--keep $policy" --threads 1 --keep "$policy" "$T/keep.jsonl"
done
mpi 3 scan --keep min:missing "$T/keep.jsonl"
assert_rc 0
assert_contains "$(cat "$ERR")" "--keep min:missing: none of the 900 JSON records has a value in this field"
python3 - "$T/keep.jsonl" "$T/keep-bad.jsonl" <<'PY'
import sys
lines = open(sys.argv[1]).read().splitlines(True)
lines[700] = lines[700].replace('"text"', '"v": [1], "text"', 1)
open(sys.argv[2], "w").writelines(lines)
PY
nd scan --keep min:v "$T/keep-bad.jsonl"
assert_rc 1
mpi 3 scan --keep min:v "$T/keep-bad.jsonl"
assert_rc 1 "a value neither number nor string on the last rank"
assert_contains "$(cat "$ERR")" "keep-bad.jsonl:701: field \"v\" is neither a number nor a string (--keep min:v)"
assert_empty_file "$OUT" "scan's output after the failure"
nd scan --keep min:v --on-error skip "$T/keep-bad.jsonl"
cp "$OUT" "$T/expected"
mpi 3 scan --keep min:v --on-error skip "$T/keep-bad.jsonl"
assert_rc 0
assert_same_file "$T/expected" "$OUT" "--on-error skip of the bad value"

check "keep longest, annotate, several threads per rank, a spilled index"
same_scan "scan --keep longest" scan --threads 2 --keep longest "$T/shards"
nd scan --threads 1 "$T/big.jsonl"
cp "$OUT" "$T/expected"
mpi 2 scan --threads 1 --memory 1M --stats "$T/spill.json" "$T/big.jsonl"
assert_rc 0
assert_same_file "$T/expected" "$OUT" "neardup-mpi -n 2 with the index spilled to files"
jq -e '.spilled == true' "$T/spill.json" >/dev/null || fail "--memory 1M should spill the index"
rm -rf "$T/want" "$T/got" && mkdir "$T/want" "$T/got"
nd dedup --annotate --output-dir "$T/want" "$T/shards" "$T/big.jsonl"
assert_rc 0
mpi 3 dedup --annotate --output-dir "$T/got" "$T/shards" "$T/big.jsonl"
assert_rc 0
diff -r "$T/want" "$T/got" >/dev/null || fail "dedup --annotate on 3 ranks differs"
assert_eq 7 "$(ls -A "$T/got" | wc -l | tr -d ' ')" "one output file per input, no temporary file left"

check "the big file is read by every rank, records numbered as in the file"
mpi 3 scan --threads 1 --stats "$T/stats.json" "$T/big.jsonl"
assert_rc 0
jq -e '.ranks == 3 and ([.per_rank[].documents] | all(. > 0)) and ([.per_rank[].documents] | add) == 900' \
    "$T/stats.json" >/dev/null || fail "every rank should read a share of the big file: $(cat "$T/stats.json")"
grep -q '"big.jsonl:' "$OUT" 2>/dev/null || grep -q "$T/big.jsonl:" "$OUT" ||
    fail "clusters should name records without an id FILE:LINE"

check "--stats naming a file that is not a stats file (the input it took for its argument) is refused on every rank"
cp "$T/big.jsonl" "$T/victim.jsonl"
mpi 2 scan --threads 1 --stats "$T/victim.jsonl" "$T/big.jsonl"
assert_rc 2
assert_file_contains "$ERR" "not a stats file"
cmp -s "$T/big.jsonl" "$T/victim.jsonl" || fail "--stats replaced a data file"
mpi 2 scan --threads 1 --stats "$T/stats.json" "$T/big.jsonl"
assert_rc 0 # the stats file of the run before is replaced

check "--stats that cannot be written fails the run, exit 1 as in neardup, and dedup renames no file"
# rank 0 wrote --stats last and let its failure go: exit 0 after the error,
# the summary printed, and dedup's files already under their names
for n in 1 2; do
    mpi "$n" scan --threads 1 --stats /dev/full "$T/big.jsonl"
    assert_rc 1 "scan --stats /dev/full, $n ranks"
    assert_file_contains "$ERR" "/dev/full: write error"
    assert_file_not_contains "$ERR" "documents read"
    rm -rf "$T/full-out" && mkdir "$T/full-out"
    mpi "$n" dedup --threads 1 --stats /dev/full --output-dir "$T/full-out" "$T/big.jsonl"
    assert_rc 1 "dedup --stats /dev/full, $n ranks"
    assert_eq "" "$(ls -A "$T/full-out")" "--output-dir after the failure"
done
nd dedup --stats /dev/full --output-dir "$T/full-out" "$T/big.jsonl"
assert_rc 1 "neardup dedup --stats /dev/full"

check "byte ranges that end exactly at a line start, one byte before, one byte after: every line read once"
# Lines 1 and 3 have one length, lines 2 and 4 another, so two ranks cut the
# file (at half its size) exactly where line 3 starts; two more bytes on
# line 1 move the cut one byte before that, on line 4 one byte after.
# Records have no id (named FILE:LINE), so a line read twice, lost or
# misnumbered shows in the output.
for pads in ":" "xx:" ":xx"; do
    p1="${pads%%:*}" p4="${pads##*:}"
    {
        printf '{"text":"aaaa bbbb cccc dddd eeee ffff%s"}\n' "$p1"
        printf '{"text":"aaaa bbbb cccc dddd eeee ffff gggg"}\n'
        printf '{"text":"hhhh iiii jjjj kkkk llll mmmm"}\n'
        printf '{"text":"hhhh iiii jjjj kkkk llll mmmm nnnn%s"}\n' "$p4"
    } >"$T/cut.jsonl"
    rm -rf "$T/want" && mkdir "$T/want"
    nd dedup --annotate --output-dir "$T/want" "$T/cut.jsonl"
    assert_rc 0
    for n in 2 3 4; do
        rm -rf "$T/got" && mkdir "$T/got"
        mpi "$n" dedup --annotate --threads 1 --output-dir "$T/got" "$T/cut.jsonl"
        assert_rc 0 "-n $n, pads '$pads'"
        assert_same_file "$T/want/cut.jsonl" "$T/got/cut.jsonl" "-n $n, pads '$pads': every record once, in order"
    done
done

check "bad input on one rank: every rank stops, one message naming rank, file and line, exit 1"
cp "$T/big.jsonl" "$T/bad.jsonl"
sed -i '700s/.*/{"id": "broken", "text": /' "$T/bad.jsonl"
nd scan "$T/bad.jsonl"
assert_rc 1
assert_contains "$(cat "$ERR")" "bad.jsonl:700:" "neardup names the line"
for n in 2 3; do
    rm -rf "$T/got" && mkdir "$T/got"
    mpi "$n" dedup --threads 1 --output-dir "$T/got" "$T/shards" "$T/bad.jsonl"
    assert_rc 1 "neardup-mpi -n $n on bad input"
    assert_eq 1 "$(grep -c 'neardup-mpi: rank' "$ERR")" "one message from the ranks"
    assert_contains "$(cat "$ERR")" "neardup-mpi: rank $((n - 1)): error: $T/bad.jsonl:700:" "rank, file and line"
    assert_eq 0 "$(ls -A "$T/got" | wc -l | tr -d ' ')" "no output file after a failure"
    mpi "$n" scan --threads 1 "$T/bad.jsonl"
    assert_rc 1
    assert_empty_file "$OUT" "no scan output after a failure"
done

check "bad records on two ranks: the first in input order is reported, as neardup reports it, whichever rank fails first"
# rank 0's bad record is nine batches into its share, rank 1's in its first
# batch: rank 1 fails first, and used to stop rank 0 before it got there
records "$T/two-bad.jsonl" 3 20000 40 '9000={"id": "early", "text": ' '10100={"id": "late", "text": '
nd scan "$T/two-bad.jsonl"
assert_rc 1
assert_contains "$(cat "$ERR")" "two-bad.jsonl:9000:" "neardup names the first bad line"
for n in 2 3; do
    mpi "$n" scan --threads 1 "$T/two-bad.jsonl"
    assert_rc 1 "neardup-mpi -n $n, two bad records"
    assert_eq 1 "$(grep -c 'neardup-mpi: rank' "$ERR")" "one message from the ranks, $n ranks"
    assert_contains "$(cat "$ERR")" "error: $T/two-bad.jsonl:9000:" "the first bad line in input order, $n ranks"
done

check "skipped records on every rank: the first five warnings in input order and one count of the rest, as neardup shows them"
# each rank used to show its own first five and its own count of the rest
records "$T/skips.jsonl" 5 3000 30 $(for k in $(seq 0 19); do printf '%d={"id":"bad%d","text":\n' $((101 + k * 140)) "$k"; done)
nd scan --threads 1 --on-error skip "$T/skips.jsonl"
assert_rc 0
grep -o 'skips.jsonl:[0-9]*' "$ERR" >"$T/skips.want"
assert_eq 5 "$(line_count "$T/skips.want")" "neardup shows five"
for n in 1 2 3; do
    mpi "$n" scan --threads 1 --on-error skip "$T/skips.jsonl"
    assert_rc 0
    grep -o 'skips.jsonl:[0-9]*' "$ERR" >"$T/skips.got"
    assert_same_file "$T/skips.want" "$T/skips.got" "the warnings shown, $n ranks"
    assert_eq 1 "$(grep -c '15 more records skipped (only the first 5 are shown)' "$ERR")" "one count of the rest, $n ranks"
done

check "a failure after warnings: the warnings of the records before the failure, in input order, as neardup shows them"
# ranks after the failing one read on until their next batch: their
# warnings used to be shown too, for records neardup never reaches
bad_byte=$'\xff'
records "$T/warn-fail.jsonl" 6 6000 30 '2900={"id": "broken", "text": ' \
    $(for l in 10 20 3010 3020; do printf '%d={"id":"u%d","text":"a-bad-byte-%s-here"}\n' "$l" "$l" "$bad_byte"; done)
nd scan --threads 1 "$T/warn-fail.jsonl"
assert_rc 1
grep -o 'u[0-9]*: invalid UTF-8' "$ERR" >"$T/warn-fail.want"
assert_eq "u10: invalid UTF-8,u20: invalid UTF-8" "$(paste -sd, "$T/warn-fail.want")" "neardup's warnings"
for n in 2 3; do
    mpi "$n" scan --threads 1 "$T/warn-fail.jsonl"
    assert_rc 1
    grep -o 'u[0-9]*: invalid UTF-8' "$ERR" >"$T/warn-fail.got"
    assert_same_file "$T/warn-fail.want" "$T/warn-fail.got" "the warnings before the failure, $n ranks"
    assert_contains "$(cat "$ERR")" "warn-fail.jsonl:2900:" "the failure, $n ranks"
done

check "--help and --version: stdout, exit 0 (they were usage errors, exit 2); an unknown command: exit 2"
mpi 1 --help
assert_rc 0 "--help"
assert_file_contains "$OUT" "Usage: mpirun -n P neardup-mpi scan|dedup"
mpi 2 --version
assert_rc 0 "--version"
assert_eq "neardup-mpi $("$ND" --version | cut -d' ' -f2)" "$(cat "$OUT")" "--version, once (rank 0)"
mpi 1 frob
assert_rc 2 "an unknown command"
assert_file_contains "$ERR" "unknown command 'frob'"

check "usage: dedup needs --output-dir; stdin is refused; shared file names are refused"
mpi 2 dedup "$T/big.jsonl"
assert_rc 2
mpi 2 scan -
assert_rc 2
mkdir -p "$T/other" && cp "$T/shards/part-0.jsonl" "$T/other/"
rm -rf "$T/got" && mkdir "$T/got"
mpi 2 dedup --output-dir "$T/got" "$T/shards/part-0.jsonl" "$T/other/part-0.jsonl"
assert_rc 2
assert_contains "$(cat "$ERR")" "would both be written"
mpi 2 dedup --output-dir "$T/got" --removed-dir "$T/got/" "$T/shards/part-0.jsonl"
assert_rc 2 "--output-dir and --removed-dir naming one directory"
assert_contains "$(cat "$ERR")" "--output-dir and --removed-dir both name"
assert_eq 0 "$(ls -A "$T/got" | wc -l | tr -d ' ')" "nothing written"
for opt in "--pairs" "--measure containment"; do
    # shellcheck disable=SC2086  # the option and its value are two words
    mpi 2 scan $opt "$T/big.jsonl"
    assert_rc 2 "$opt is not distributed yet: refused"
    assert_contains "$(cat "$ERR")" "not available under MPI"
done
# dedup --index was taken and then not used: a plain dedup's
# output, exit 0, the index never opened (not even one that does not exist)
mpi 2 dedup --index "$T/no-such-db" --output-dir "$T/got" "$T/shards/part-0.jsonl"
assert_rc 2 "dedup --index is not distributed: refused"
assert_contains "$(cat "$ERR")" "--index"
mpi 2 dedup --index "$T/no-such-db" "$T/shards/part-0.jsonl"
assert_rc 2 "dedup --index alone"
assert_contains "$(cat "$ERR")" "dedup --index (and --update): not available under MPI"
assert_eq 0 "$(ls -A "$T/got" | wc -l | tr -d ' ')" "nothing written"
mpi 2 dedup -o "$T/got/x" --output-dir "$T/got" "$T/shards/part-0.jsonl"
assert_rc 2 "dedup -o"
assert_contains "$(cat "$ERR")" "use one or the other"
assert_eq 0 "$(ls -A "$T/got" | wc -l | tr -d ' ')" "nothing written"

check "scan -o FILE: the same bytes as stdout; a write error or a failed run leaves no file under its name"
# It was refused: rank 0's stdout is a pipe to mpirun, which lets a write
# error there go (exit 0), so -o is the way to have one seen.
nd scan "$T/big.jsonl"
assert_rc 0
cp "$OUT" "$T/scan.want"
for n in 1 3; do
    rm -f "$T/scan.got"
    mpi "$n" scan --threads 1 -o "$T/scan.got" "$T/big.jsonl"
    assert_rc 0 "scan -o, $n ranks"
    assert_empty_file "$OUT" "stdout with -o, $n ranks"
    assert_same_file "$T/scan.want" "$T/scan.got" "scan -o FILE, $n ranks"
    # an old file under the name is replaced whole; no temporary file stays
    mpi "$n" scan --threads 1 --unit paragraph -o "$T/scan.got" "$T/big.jsonl"
    assert_rc 0
    nd scan --unit paragraph "$T/big.jsonl"
    assert_same_file "$OUT" "$T/scan.got" "scan --unit paragraph -o FILE, $n ranks"
    assert_eq "" "$(ls -A "$T" | grep -F '.neardup-' || true)" "temporary files left, $n ranks"
    mpi "$n" scan --threads 1 -o /dev/full "$T/big.jsonl"
    assert_rc 1 "scan -o /dev/full, $n ranks"
    assert_file_contains "$ERR" "/dev/full: write error"
    assert_file_not_contains "$ERR" "documents read"
    # --stats failing after the output was written: the file keeps its old bytes
    echo "old" >"$T/scan.old"
    mpi "$n" scan --threads 1 -o "$T/scan.old" --stats /dev/full "$T/big.jsonl"
    assert_rc 1 "scan -o with --stats /dev/full, $n ranks"
    assert_eq "old" "$(cat "$T/scan.old")" "-o FILE after the failed run"
    # bad input on the last rank: no file appears
    rm -f "$T/scan.bad"
    mpi "$n" scan --threads 1 -o "$T/scan.bad" "$T/shards" "$T/bad.jsonl"
    assert_rc 1 "scan -o with a bad record, $n ranks"
    [[ ! -e "$T/scan.bad" ]] || fail "-o FILE appeared after a failed run ($n ranks)"
done
cp "$T/big.jsonl" "$T/victim.jsonl"
mpi 2 scan -o "$T/victim.jsonl" "$T/shards" "$T/victim.jsonl"
assert_rc 2 "-o naming an input"
assert_file_contains "$ERR" "that is the input"
cmp -s "$T/big.jsonl" "$T/victim.jsonl" || fail "-o replaced an input"
mpi 2 scan -o "$T/both.json" --stats "$T/both.json" "$T/big.jsonl"
assert_rc 2 "-o and --stats naming one file"
assert_file_contains "$ERR" "both name"

check "--format decides how a file is read, as in neardup: a .jsonl read as one text, a JSON array named .jsonl, JSON Lines under another name"
python3 - "$T/fmt" <<'PY'
import json, os, sys
os.makedirs(sys.argv[1], exist_ok=True)
recs = [{"id": "r%d" % i, "text": "alpha beta gamma delta epsilon zeta eta %d" % (i % 30)} for i in range(300)]
with open(os.path.join(sys.argv[1], "recs.jsonl"), "w") as f:
    f.writelines(json.dumps(r) + "\n" for r in recs)
with open(os.path.join(sys.argv[1], "recs.data"), "w") as f:
    f.writelines(json.dumps(r) + "\n" for r in recs)
with open(os.path.join(sys.argv[1], "array.jsonl"), "w") as f:
    json.dump(recs, f, indent=1)
PY
for args in "--format text $T/fmt/recs.jsonl" "--format json $T/fmt/array.jsonl" "--format jsonl $T/fmt/recs.data"; do
    # shellcheck disable=SC2086  # the option, its value and the path are words
    nd scan $args
    cp "$OUT" "$T/fmt/want"
    want_rc=$RC
    for n in 1 2 3; do
        # shellcheck disable=SC2086
        mpi "$n" scan $args
        assert_eq "$want_rc" "$RC" "exit status, $n ranks: $args"
        assert_same_file "$T/fmt/want" "$OUT" "$n ranks: $args"
    done
done
[[ "$(line_count "$T/fmt/want")" -eq 30 ]] || fail "the JSON Lines under another name were not read as 300 records"

check "files a directory walk passes over are counted as neardup counts them (summary and --stats)"
mkdir -p "$T/walked"
cp "$T/fmt/recs.jsonl" "$T/walked/"
echo hidden >"$T/walked/.hidden"
printf 'a\0b' >"$T/walked/bin.dat"
nd scan --stats "$T/walked-one.json" "$T/walked"
assert_file_contains "$ERR" "2 files not read (0 not regular, 1 hidden, 1 binary, 0 not --include'd)"
for n in 1 2; do
    mpi "$n" scan --stats "$T/walked-mpi.json" "$T/walked"
    assert_rc 0
    assert_file_contains "$ERR" "2 files not read (0 not regular, 1 hidden, 1 binary, 0 not --include'd)"
    assert_jq "$T/walked-mpi.json" '.[0].files_not_read == {"not_regular": 0, "hidden": 1, "binary": 1, "not_included": 0}' \
        "--stats files_not_read, $n ranks (zeros before)"
done

check "every record skipped on every rank: exit 1 as neardup; a misspelt --id-field warned about once"
for i in 1 2 3 4; do echo "{bad $i" >"$T/bad-$i.jsonl"; done
mpi 2 scan --on-error skip "$T"/bad-*.jsonl
assert_rc 1 "all skipped"
assert_eq 1 "$(grep -c 'every record read (4) was skipped' "$ERR")" "one message, from rank 0"
assert_empty_file "$OUT" "no scan output when every record was skipped"
mpi 2 scan --id-field key "$T/big.jsonl"
assert_rc 0
assert_eq 1 "$(grep -c -- "--id-field 'key': none of the" "$ERR")" "one warning for all ranks"
pass
