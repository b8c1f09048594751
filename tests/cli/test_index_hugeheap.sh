#!/usr/bin/env bash
# test_index_hugeheap.sh - the index writers' second start with malloc in
# transparent huge pages (src/cli/hugeheap.c): taken for a large `index
# add`, `index compact` and `dedup --index --update` where the system has
# such pages, not for a small input, not against the user's own
# GLIBC_TUNABLES; the index is the same either way.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"

# Expected: huge pages where glibc is 2.35 or later, transparent huge pages
# are not `never`, and the build is not under AddressSanitizer (its malloc).
expect="ordinary"
glibc="$(getconf GNU_LIBC_VERSION 2>/dev/null || true)" # "glibc 2.36"
thp="$(cat /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null || echo '[never]')"
if [[ "$glibc" =~ ^glibc\ 2\.([0-9]+) ]] && ((BASH_REMATCH[1] >= 35)) && [[ "$thp" != *"[never]"* ]] &&
    [[ -z "${ND_SANITIZED:-}" ]]; then
    expect="transparent huge"
fi
echo "[$TEST_NAME] expecting malloc in $expect pages ($glibc; THP: $thp)"

# 12 MB of documents (more than the 8 MiB below which one start is kept):
# the 1k corpus twelve times over, each copy with ids of its own
python3 - "$SRC/corpora/mixed-1k/docs.jsonl" "$T/big.jsonl" <<'EOF'
import json, sys
lines = open(sys.argv[1], encoding="utf-8").read().splitlines()
with open(sys.argv[2], "w", encoding="utf-8") as out:
    for copy in range(12):
        for line in lines:
            doc = json.loads(line)
            doc["id"] = "%s-%d" % (doc["id"], copy)
            out.write(json.dumps(doc, ensure_ascii=False) + "\n")
EOF
head -n 3 "$SRC/corpora/mixed-1k/docs.jsonl" >"$T/small.jsonl"

check "a large index add runs with malloc in huge pages where the system has them"
nd index add "$T/db1" --verbose "$T/big.jsonl"
assert_rc 0
assert_file_contains "$ERR" "malloc in $expect pages"
assert_jq "$OUT" '.[0].added == 12000'

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
assert_file_contains "$ERR" "malloc in $expect pages"

check "a small input starts once"
nd index add "$T/db4" --verbose "$T/small.jsonl"
assert_rc 0
assert_file_contains "$ERR" "malloc in ordinary pages"

check "standard input: a regular file's size is known (one start), a pipe's is not (huge pages)"
nd index add "$T/db5" --verbose - <"$T/small.jsonl"
assert_rc 0
assert_file_contains "$ERR" "malloc in ordinary pages"
cat "$T/small.jsonl" | nd index add "$T/db6" --verbose
assert_rc 0
assert_file_contains "$ERR" "malloc in $expect pages"

check "dedup --index --update and index compact: the same outputs either way"
cp -r "$T/db1" "$T/db7"
nd dedup --index "$T/db7" --update "$T/big.jsonl"
assert_rc 0
cp "$OUT" "$T/dedup1"
cp -r "$T/db2" "$T/db8"
GLIBC_TUNABLES=glibc.malloc.hugetlb=0 nd dedup --index "$T/db8" --update "$T/big.jsonl"
assert_rc 0
assert_same_file "$T/dedup1" "$OUT"
nd index compact "$T/db7"
assert_rc 0
GLIBC_TUNABLES=glibc.malloc.hugetlb=0 nd index compact "$T/db8"
assert_rc 0
mdb_dump -a -p "$T/db7" >"$T/dump7"
mdb_dump -a -p "$T/db8" >"$T/dump8"
assert_same_file "$T/dump7" "$T/dump8"

echo "[$TEST_NAME] ok"
