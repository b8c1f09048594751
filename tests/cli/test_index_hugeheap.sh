#!/usr/bin/env bash
# test_index_hugeheap.sh - the index commands' second start with malloc in
# transparent huge pages (src/cli/hugeheap.c), as --verbose reports it:
# taken by a large `index add`, `query`, `dedup --index` (--update too), and
# by a writer reading a pipe, where the system has such pages; not for a
# small input, a reader's pipe, an option's value that names a large file,
# nor against the user's own GLIBC_TUNABLES; the index and the outputs are
# the same either way (`index compact` too, whose start is not reported).
# scan and dedup advise their heap in place instead (no second start, at
# any size), unless GLIBC_TUNABLES says otherwise; the same outputs.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"
unset GLIBC_TUNABLES # the caller's would decide instead of the program

# Expected: huge pages where glibc is 2.35 or later, transparent huge pages
# are not `never`, and the build is not under AddressSanitizer (its malloc;
# tests/CMakeLists.txt sets ND_SANITIZED there). Elsewhere every run must
# say ordinary pages, and the checks below still compare the outputs.
huge="ordinary"
in_place="ordinary pages"
glibc="$(getconf GNU_LIBC_VERSION 2>/dev/null || true)" # "glibc 2.36"
thp="$(cat /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null || echo '[never]')"
if [[ "$glibc" =~ ^glibc\ 2\.([0-9]+) ]] && ((BASH_REMATCH[1] >= 35)) && [[ "$thp" != *"[never]"* ]] &&
    [[ -z "${ND_SANITIZED:-}" ]]; then
    huge="transparent huge"
    in_place="transparent huge pages (its first 32 MiB, advised in place)"
fi
echo "[$TEST_NAME] large runs should say: malloc in $huge pages ($glibc; THP: $thp)"
if [[ "$huge" == "ordinary" ]]; then
    echo "[$TEST_NAME] note: no second start expected here; only that none happens and the outputs agree"
fi

# 16 MB of documents (twice the 8 MiB below which one start is kept): the
# 1k corpus sixteen times over, each copy with ids of its own
python3 - "$SRC/corpora/mixed-1k/docs.jsonl" "$T/big.jsonl" <<'EOF'
import json, sys
lines = open(sys.argv[1], encoding="utf-8").read().splitlines()
with open(sys.argv[2], "w", encoding="utf-8") as out:
    for copy in range(16):
        for line in lines:
            doc = json.loads(line)
            doc["id"] = "%s-%d" % (doc["id"], copy)
            out.write(json.dumps(doc, ensure_ascii=False) + "\n")
EOF
head -n 3 "$SRC/corpora/mixed-1k/docs.jsonl" >"$T/small.jsonl"
head -n 3 "$T/big.jsonl" | jq -c '.id = "q-" + .id' >"$T/queries.jsonl"

check "a large index add runs with malloc in huge pages where the system has them"
nd index add "$T/db1" --verbose "$T/big.jsonl"
assert_rc 0
assert_file_contains "$ERR" "malloc in $huge pages"
assert_jq "$OUT" '.[0].added == 16000'

check "the user's GLIBC_TUNABLES stands: glibc.malloc.hugetlb=0 keeps ordinary pages"
GLIBC_TUNABLES=glibc.malloc.hugetlb=0 nd index add "$T/db2" --verbose "$T/big.jsonl"
assert_rc 0
assert_file_contains "$ERR" "malloc in ordinary pages"

check "the index is the same either way"
mdb_dump -a -p "$T/db1" >"$T/dump1"
mdb_dump -a -p "$T/db2" >"$T/dump2"
assert_same_file "$T/dump1" "$T/dump2"

check "another tunable in GLIBC_TUNABLES: the huge-page one is added beside it"
GLIBC_TUNABLES=glibc.malloc.arena_max=4 nd index add "$T/db3" --verbose "$T/big.jsonl"
assert_rc 0
assert_file_contains "$ERR" "malloc in $huge pages"

check "a small input starts once"
nd index add "$T/db4" --verbose "$T/small.jsonl"
assert_rc 0
assert_file_contains "$ERR" "malloc in ordinary pages"

check "standard input: a regular file's size is known (one start); a writer takes a pipe to be large"
nd index add "$T/db5" --verbose - <"$T/small.jsonl"
assert_rc 0
assert_file_contains "$ERR" "malloc in ordinary pages"
run_in <(cat "$T/small.jsonl") "$ND" index add "$T/db6" --verbose # a pipe on stdin
assert_rc 0
assert_file_contains "$ERR" "malloc in $huge pages"
run_in <(cat "$T/queries.jsonl") "$ND" index add "$T/db6b" --verbose "$T/small.jsonl" - # "-" beside a file
assert_rc 0
assert_jq "$OUT" '.[0].added == 6'
assert_file_contains "$ERR" "malloc in $huge pages"

check "query: a large file in huge pages, a pipe and a small file once, the same matches"
nd query "$T/db1" --verbose "$T/big.jsonl"
assert_rc 0
assert_file_contains "$ERR" "malloc in $huge pages"
cp "$OUT" "$T/query1"
GLIBC_TUNABLES=glibc.malloc.hugetlb=0 nd query "$T/db1" --verbose "$T/big.jsonl"
assert_rc 0
assert_file_contains "$ERR" "malloc in ordinary pages"
assert_same_file "$T/query1" "$OUT"
run_in <(cat "$T/big.jsonl") "$ND" query "$T/db1" --verbose
assert_rc 0
assert_file_contains "$ERR" "malloc in ordinary pages"
nd query "$T/db1" --verbose "$T/queries.jsonl"
assert_rc 0
assert_file_contains "$ERR" "malloc in ordinary pages"

check "an option's value is not an input: -o naming a large file, --id-field naming one"
cp "$T/big.jsonl" "$T/large-output.jsonl"
nd query "$T/db1" --verbose -o "$T/large-output.jsonl" "$T/queries.jsonl"
assert_rc 0
assert_file_contains "$ERR" "malloc in ordinary pages"
nd query "$T/db1" --verbose --text-field text --id-field "$T/big.jsonl" "$T/queries.jsonl"
assert_rc 0
assert_file_contains "$ERR" "malloc in ordinary pages"

check "dedup --index: a large file in huge pages, with and without --update; the same outputs either way"
nd dedup --index "$T/db1" --verbose --tmpdir "$T" "$T/big.jsonl"
assert_rc 0
assert_file_contains "$ERR" "malloc in $huge pages"
cp -r "$T/db1" "$T/db7"
nd dedup --index "$T/db7" --update --verbose "$T/big.jsonl"
assert_rc 0
assert_file_contains "$ERR" "malloc in $huge pages"
cp "$OUT" "$T/dedup1"
cp -r "$T/db2" "$T/db8"
GLIBC_TUNABLES=glibc.malloc.hugetlb=0 nd dedup --index "$T/db8" --update --verbose "$T/big.jsonl"
assert_rc 0
assert_file_contains "$ERR" "malloc in ordinary pages"
assert_same_file "$T/dedup1" "$OUT"

check "index compact: the same index either way"
nd index compact "$T/db7"
assert_rc 0
GLIBC_TUNABLES=glibc.malloc.hugetlb=0 nd index compact "$T/db8"
assert_rc 0
mdb_dump -a -p "$T/db7" >"$T/dump7"
mdb_dump -a -p "$T/db8" >"$T/dump8"
assert_same_file "$T/dump7" "$T/dump8"

check "scan and dedup: the heap advised in place, without a second start, at any size; the same outputs"
nd scan --verbose "$T/big.jsonl"
assert_rc 0
assert_file_contains "$ERR" "malloc in $in_place"
cp "$OUT" "$T/scan1"
GLIBC_TUNABLES=glibc.malloc.hugetlb=0 nd scan --verbose "$T/big.jsonl"
assert_rc 0
assert_file_contains "$ERR" "malloc in ordinary pages"
assert_same_file "$T/scan1" "$OUT"
nd scan --verbose --unit paragraph "$T/big.jsonl"
assert_rc 0
cp "$OUT" "$T/para1"
GLIBC_TUNABLES=glibc.malloc.hugetlb=0 nd scan --verbose --unit paragraph "$T/big.jsonl"
assert_rc 0
assert_same_file "$T/para1" "$OUT"
nd dedup --verbose "$T/small.jsonl"
assert_rc 0
assert_file_contains "$ERR" "malloc in $in_place"
cp "$OUT" "$T/dedup2"
GLIBC_TUNABLES=glibc.malloc.hugetlb=0 nd dedup --verbose "$T/small.jsonl"
assert_rc 0
assert_file_contains "$ERR" "malloc in ordinary pages"
assert_same_file "$T/dedup2" "$OUT"

echo "[$TEST_NAME] ok"
