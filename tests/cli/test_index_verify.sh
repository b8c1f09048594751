#!/usr/bin/env bash
# test_index_verify.sh - `index verify DB`, and the check every command that
# writes to an index runs first: a list of free pages naming a page in use
# (LMDB keeps no checksums) would have a writer hand that page out and write
# over live documents with nothing said, so index add, remove, compact and
# dedup --update refuse such an index (exit 1, naming the page, the file
# untouched) unless given --no-verify; index verify reports it.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"

CORPUS="$SRC/corpora/mixed-1k/docs.jsonl"
head -n 300 "$CORPUS" >"$T/A.jsonl"
sed -n '301,600p' "$CORPUS" >"$T/B.jsonl"
sed -n '601,900p' "$CORPUS" >"$T/C.jsonl"
python3 -c 'import json, sys
for line in list(open(sys.argv[1]))[:100]: print(json.loads(line)["id"])' "$T/A.jsonl" >"$T/ids.txt"

# Several runs and a removal leave a list of free pages.
GOOD="$T/good"
"$ND" index add --quiet "$GOOD" "$T/A.jsonl" >/dev/null
"$ND" index add --quiet "$GOOD" "$T/B.jsonl" >/dev/null
"$ND" index remove --quiet "$GOOD" --ids "$T/ids.txt" >/dev/null

# Point the first entry of the newest snapshot's free list at the main
# database's root, a page in use (LMDB 0.9's layout, as test_db_verify.c).
damage() {
    python3 - "$1/data.mdb" <<'PY'
import struct, sys
P, H = 4096, 16
def u64(b, o): return struct.unpack_from("<Q", b, o)[0]
with open(sys.argv[1], "r+b") as f:
    metas = []
    for m in (0, 1):
        f.seek(m * P + H)
        metas.append(f.read(136))
    meta = max(metas, key=lambda b: u64(b, 128))  # the newest transaction
    free_root, main_root = u64(meta, 24 + 40), u64(meta, 72 + 40)
    if free_root == 2**64 - 1:
        sys.exit("no free list after several runs")
    f.seek(free_root * P)
    leaf = f.read(P)
    assert leaf[10] & 0x02, "the free list is not one leaf"
    node = struct.unpack_from("<H", leaf, H)[0]
    assert struct.unpack_from("<H", leaf, node + 4)[0] == 0, "the free list's record is on overflow pages"
    assert u64(leaf, node + 16) >= 1, "an empty free-list record"
    f.seek(free_root * P + node + 24)  # node header 8, key 8, count 8: the first page listed
    f.write(struct.pack("<Q", main_root))
    print(main_root)
PY
}

check "index verify on a sound index: exit 0, the counts"
nd index verify "$GOOD"
assert_rc 0
assert_jq "$OUT" '.[0] | .verified == true and .documents == 500 and .removed == 100 and .bytes_on_disk > 0'

check "index verify on a free list naming a page in use: exit 1 naming the page"
cp -r "$GOOD" "$T/bad"
page=$(damage "$T/bad")
nd index verify "$T/bad"
assert_rc 1
assert_file_contains "$ERR" "$T/bad: the index is damaged: page $page of data.mdb (the list of free pages) is listed as free, yet in use"
assert_empty_file "$OUT" "stdout of a failed verify"

check "the writers refuse it before writing: exit 1 naming the page, data.mdb unchanged"
cp "$T/bad/data.mdb" "$T/bad.mdb"
for cmd in "index add $T/bad $T/C.jsonl" "index remove $T/bad --id d000200" "index compact $T/bad"; do
    # shellcheck disable=SC2086
    nd $cmd
    assert_rc 1 "$cmd"
    assert_file_contains "$ERR" "page $page of data.mdb (the list of free pages) is listed as free, yet in use"
    cmp -s "$T/bad/data.mdb" "$T/bad.mdb" || fail "$cmd changed data.mdb"
done
run_in "$T/C.jsonl" "$ND" dedup --index "$T/bad" --update
assert_rc 1 "dedup --index --update"
assert_file_contains "$ERR" "is listed as free, yet in use"
assert_empty_file "$OUT" "dedup's output after the refusal"
cmp -s "$T/bad/data.mdb" "$T/bad.mdb" || fail "dedup --update changed data.mdb"

check "readers are not refused: the damage is in the list of free pages, which only writers use"
nd query --quiet "$T/bad" "$T/B.jsonl"
assert_rc 0 "query"
assert_eq 300 "$(line_count "$OUT")" "query's lines"

check "--no-verify skips the check (a file one trusts); a sound index is written as before"
nd index add --quiet --no-verify "$T/bad" "$T/C.jsonl"
assert_rc 0 "index add --no-verify on the damaged index (the check it skipped)"
cp -r "$GOOD" "$T/plain"
nd index add --quiet "$T/plain" "$T/C.jsonl"
assert_rc 0
assert_jq "$OUT" '.[0] | .added == 300 and .documents == 800'
cp -r "$GOOD" "$T/skip"
nd index add --quiet --no-verify "$T/skip" "$T/C.jsonl"
assert_rc 0
assert_jq "$OUT" '.[0] | .added == 300 and .documents == 800'

check "--no-verify is for writers: usage errors elsewhere"
nd index stats --no-verify "$GOOD"
assert_rc 2 "index stats --no-verify"
nd query --no-verify "$GOOD" "$T/B.jsonl"
assert_rc 2 "query --no-verify"
run_in "$T/C.jsonl" "$ND" dedup --index "$GOOD" --no-verify
assert_rc 2 "dedup --no-verify without --update"
assert_file_contains "$ERR" "--no-verify goes with --update"
nd index verify "$GOOD" extra
assert_rc 2 "index verify with an input path"

pass
