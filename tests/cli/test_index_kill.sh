#!/usr/bin/env bash
# shellcheck disable=SC2016  # jq filters are single-quoted on purpose
# test_index_kill.sh - kill -9 at random moments during `index add` and
# `dedup --update`, several times each: the index opens without repair and
# holds exactly what it held before the killed run, and a rerun gives the
# same index (and output) as an uninterrupted run.
#
# The moments are drawn from [0, 0.95 x the uninterrupted run's time] (a
# quarter shorter after each run that finished first) with bash's RANDOM,
# seeded by $ND_TEST_SEED (default: the clock); the seed is printed so
# that a failure can be replayed. Runtime: about 10 s.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"

SEED="${ND_TEST_SEED:-$(date +%s)}"
RANDOM=$SEED
echo "[$TEST_NAME] seed $SEED (ND_TEST_SEED=$SEED replays it)"

CORPUS="$SRC/corpora/mixed-1k/docs.jsonl"
head -n 500 "$CORPUS" >"$T/A.jsonl"
# 12,000 documents in twelve copies of the corpus with ids of their own: a
# run of a second or two, long enough to be caught at any stage
for c in 0 1 2 3 4 5 6 7 8 9 10 11; do sed "s/\"id\":\"d/\"id\":\"c$c-d/" "$CORPUS"; done >"$T/big.jsonl"
# for dedup: the corpus again under new ids (its copies match the index or
# each other) and the twelve copies
{
    sed 's/"id":"d/"id":"n-d/' "$CORPUS"
    cat "$T/big.jsonl"
} >"$T/dedup-in.jsonl"

dump() { mdb_dump -a -p "$1"; }
now() { date +%s.%N; }

"$ND" index add --quiet "$T/base" "$T/A.jsonl" >/dev/null
dump "$T/base" >"$T/base.dump"

# reference NAME CMD...: run CMD uninterrupted on a copy of the base index
# ($T/NAME), keeping its output, dump and time ($T/NAME.seconds).
reference() {
    local name="$1"
    shift
    cp -r "$T/base" "$T/$name"
    local t0 t1
    t0=$(now)
    "$@" "$T/$name" >"$T/$name.out" 2>"$T/$name.err" || fail "uninterrupted $name: $(cat "$T/$name.err")"
    t1=$(now)
    dump "$T/$name" >"$T/$name.dump"
    awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }' >"$T/$name.seconds"
}

# kill_runs NAME CMD...: run CMD on $T/victim (a copy of the base index)
# and kill -9 it at a random moment, until 4 runs were killed before they
# finished; after each, the index must open and equal the base index, or
# (killed after its commit) the uninterrupted run's index.
kill_runs() {
    local name="$1"
    shift
    local seconds killed=0 tries=0
    seconds=$(cat "$T/$name.seconds")
    rm -rf "$T/victim" && cp -r "$T/base" "$T/victim"
    while [[ $killed -lt 4 ]]; do
        tries=$((tries + 1))
        [[ $tries -le 24 ]] || fail "$name: runs kept finishing before the kill (a window of ${seconds} s at last)"
        local delay
        delay=$(awk -v s="$seconds" -v r=$((RANDOM % 1000)) 'BEGIN { printf "%.3f", s * 0.95 * r / 1000 }')
        "$@" "$T/victim" >/dev/null 2>"$T/victim.err" &
        local pid=$!
        sleep "$delay"
        kill -9 "$pid" 2>/dev/null || true
        local status=0
        wait "$pid" || status=$?
        if [[ $status == 0 ]]; then # it finished first: start again from the base index
            # The reference run may have been slower than the runs after it
            # (a cold cache, this VM's fresh memory: 0.25 s against runs
            # that finished before 0.1 s, in CI): the moments are drawn from
            # a window a quarter shorter each time, so they fall inside a run.
            seconds=$(awk -v s="$seconds" 'BEGIN { printf "%.6f", s * 0.75 }')
            rm -rf "$T/victim" && cp -r "$T/base" "$T/victim"
            continue
        fi
        [[ $status == 137 ]] || fail "$name: the run failed by itself (exit $status): $(cat "$T/victim.err")"
        dump "$T/victim" >"$T/victim.dump"
        if cmp -s "$T/$name.dump" "$T/victim.dump"; then
            # killed after its commit, while it wrote its summary or exited (a run that is faster than the
            # reference run leaves that moment inside the window): the run is complete, as it must be
            printf '[%s]   killed after %.3f s of %.3f s, after its commit: complete\n' "$TEST_NAME" "$delay" \
                "$seconds"
            rm -rf "$T/victim" && cp -r "$T/base" "$T/victim"
            continue
        fi
        killed=$((killed + 1))
        printf '[%s]   killed after %.3f s of %.3f s\n' "$TEST_NAME" "$delay" "$seconds"
        nd index stats "$T/victim"
        assert_rc 0 "index stats after a kill"
        assert_jq "$OUT" '.[0].documents == 500' "documents after a kill"
        assert_same_file "$T/base.dump" "$T/victim.dump" "index after a kill (as before the run, or as after it)"
    done
}

check "index add killed at random moments"
reference ref-add bash -c "exec \"$ND\" index add --quiet \"\$0\" \"$T/big.jsonl\""
kill_runs ref-add bash -c "exec \"$ND\" index add --quiet \"\$0\" \"$T/big.jsonl\""
check "index add rerun after the kills: the same index as an uninterrupted run"
nd index add "$T/victim" "$T/big.jsonl"
assert_rc 0
dump "$T/victim" >"$T/victim.dump"
assert_same_file "$T/ref-add.dump" "$T/victim.dump" "index after the rerun"

check "dedup --update killed at random moments"
reference ref-dedup bash -c "exec \"$ND\" dedup --quiet --update --index \"\$0\" \"$T/dedup-in.jsonl\""
kill_runs ref-dedup bash -c "exec \"$ND\" dedup --quiet --update --index \"\$0\" \"$T/dedup-in.jsonl\""
check "dedup --update rerun after the kills: the same output and index as an uninterrupted run"
nd dedup --quiet --update --index "$T/victim" "$T/dedup-in.jsonl"
assert_rc 0
assert_same_file "$T/ref-dedup.out" "$OUT" "dedup output after the rerun"
dump "$T/victim" >"$T/victim.dump"
assert_same_file "$T/ref-dedup.dump" "$T/victim.dump" "index after the rerun"
kept=$(line_count "$T/ref-dedup.out")
nd index stats "$T/victim"
K=$kept assert_jq "$OUT" '.[0].documents == 500 + ($ENV.K | tonumber)' "the kept documents were added"

check "SIGINT once the commit has begun: held, the run finishes (exit 0, its summary, a warning) and the index has it"
# --verbose says when the commit begins; the signal is sent as soon as that
# line is read (from Python: a background job of this shell ignores SIGINT).
# Before, the run ended with exit 130 and nothing said, its documents in
# the index all the same (a rerun then failed on ids already there).
rm -rf "$T/held" && cp -r "$T/base" "$T/held"
python3 - "$ND" "$T/held" "$T/big.jsonl" >"$T/held.out" <<'PY'
import signal, subprocess, sys
nd, db, data = sys.argv[1:4]
p = subprocess.Popen([nd, "index", "add", "--verbose", db, data], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                     text=True)
err = []
for line in p.stderr:
    err.append(line)
    if "committing the run" in line:
        p.send_signal(signal.SIGINT)
        break
err += p.stderr.readlines()
out = p.stdout.read()
print(p.wait())
print(out, end="")
sys.stdout.write("".join(err))
PY
assert_eq 0 "$(head -n 1 "$T/held.out")" "exit status"
assert_file_contains "$T/held.out" '"added":12000'
assert_file_contains "$T/held.out" "SIGINT came while the run was being committed, and was held until the commit ended: the run finished, and the index has its documents"
assert_file_contains "$T/held.out" "12000 added"
dump "$T/held" >"$T/held.dump"
assert_same_file "$T/ref-add.dump" "$T/held.dump" "the index, as after an uninterrupted run"
pass
