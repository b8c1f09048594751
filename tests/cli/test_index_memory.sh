#!/usr/bin/env bash
# test_index_memory.sh - a query's memory is bounded by what it outputs, not
# by the matches it finds: `query --top` and `dedup --index` of 200 copies
# of a text against an index holding 10,000 copies of it take about the
# memory they take against 1,000 copies (they held every candidate pair and
# every verified match of the batch before the cut: 10,000 copies took ten
# times the memory of 1,000; src/db_query.c says how it is bounded now),
# and answer the same as when each query is asked alone.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"

python3 - "$T" <<'PY'
import json, sys
words = ["w%d" % ((i * 7919) % 5000) for i in range(100)]
text = " ".join(words)
def copies(path, n, prefix):
    with open(path, "w") as f:
        for i in range(n):
            f.write(json.dumps({"id": "%s%d" % (prefix, i), "text": text}) + "\n")
copies(sys.argv[1] + "/index1k.jsonl", 1000, "a")
copies(sys.argv[1] + "/index10k.jsonl", 10000, "a")
copies(sys.argv[1] + "/queries.jsonl", 200, "q")
PY
for n in 1k 10k; do
    nd index add "$T/db$n" --quiet --threads 2 "$T/index$n.jsonl"
    assert_rc 0 "index add of $n copies"
done

# peak_kb ARGS...: the peak RSS (KB) of one neardup run (os.wait4: that
# child's own), its output in $T/peak.out
peak_kb() {
    python3 - "$ND" "$T/peak.out" "$@" <<'PY'
import os, subprocess, sys
nd, out, args = sys.argv[1], sys.argv[2], sys.argv[3:]
with open(out, "wb") as f:
    p = subprocess.Popen([nd, *args], stdout=f, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(p.pid, 0)
if status != 0:
    sys.exit("neardup %s: status %d" % (" ".join(args), status))
print(usage.ru_maxrss)
PY
}

for run in "query --top 5" "dedup --annotate --index"; do
    check "$run: 200 copies against 10,000 copies take at most twice the memory of 1,000 copies"
    # shellcheck disable=SC2086
    small=$(peak_kb $run "$T/db1k" --quiet --threads 2 "$T/queries.jsonl")
    cp "$T/peak.out" "$T/small.out"
    # shellcheck disable=SC2086
    large=$(peak_kb $run "$T/db10k" --quiet --threads 2 "$T/queries.jsonl")
    echo "  1,000 copies: $((small / 1024)) MB, 10,000 copies: $((large / 1024)) MB"
    if [[ -n "${ND_SANITIZED:-}" ]]; then # (tests/CMakeLists.txt sets it under AddressSanitizer)
        echo "  (not compared: AddressSanitizer keeps freed memory in quarantine, up to 256 MB)"
    else
        ((large < 2 * small + 16384)) || fail "$run: 10,000 copies took $large KB against $small KB for 1,000"
    fi
    # the same answers: each query's best are the first-added copies, at J = 1
    assert_same_file "$T/small.out" "$T/peak.out" "$run: the answers against 1,000 and 10,000 copies"
done
assert_jq "$T/peak.out" 'length == 200 and (.[0].neardup.duplicate_of == "a0") and
    all(.[]; .neardup.from == "index" and .neardup.jaccard == 1)' "dedup --index: every copy is dropped for a0"

check "query --top 5 in one batch answers as each query alone"
nd query "$T/db10k" --top 5 --quiet --threads 2 "$T/queries.jsonl"
assert_rc 0
cp "$OUT" "$T/batch.out"
assert_jq "$T/batch.out" 'length == 200 and all(.[]; [.matches[].id] == ["a0", "a1", "a2", "a3", "a4"])' \
    "each query's five best: the first five copies"
head -n 1 "$T/queries.jsonl" >"$T/one.jsonl"
nd query "$T/db10k" --top 5 --quiet "$T/one.jsonl"
assert_rc 0
assert_eq "$(head -n 1 "$T/batch.out")" "$(cat "$OUT")" "the first query, alone and in the batch"

pass
