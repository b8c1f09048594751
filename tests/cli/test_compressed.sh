#!/usr/bin/env bash
# shellcheck disable=SC2016  # jq filters are single-quoted on purpose
# test_compressed.sh - the same JSON Lines as plain, gzip (file, stdin,
# several members, no telling name) and zstd give identical output; corrupt
# and truncated compressed files fail naming the file; a directory is read
# recursively in sorted (byte) order.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"

command -v gzip >/dev/null || fail "gzip is required"

# About 1.3 MB (many 64 KiB read chunks) with near-duplicates: 3000
# documents of 50-119 words, 4 in 10 a copy of an earlier one with a word
# changed, each with a "lang" member.
python3 "$SRC/tests/shake/records.py" "$T" data --docs 3000 --seed 3 --words 50-120 --no-long --id-prefix r \
    --field lang=xx --jsonl-only || fail "tests/shake/records.py"

check "plain JSONL reference scan"
nd scan "$T/data.jsonl"
assert_rc 0
cp "$OUT" "$T/ref"
[[ $(line_count "$T/ref") -ge 100 ]] || fail "expected at least 100 clusters in the reference, got $(line_count "$T/ref")"
nd dedup "$T/data.jsonl"
cp "$OUT" "$T/ref-dedup"

# same_scan WHAT ARGS...: scan ARGS gives the reference output.
same_scan() {
    local what="$1"
    shift
    nd scan "$@"
    assert_rc 0 "scan of $what"
    assert_same_file "$T/ref" "$OUT" "scan of $what vs plain"
    assert_eq 3000 "$(summary_field 'documents read')" "documents read from $what"
}

check ".jsonl.gz: identical scan and dedup output"
gzip -9 -n -c "$T/data.jsonl" >"$T/data.jsonl.gz"
same_scan "data.jsonl.gz" "$T/data.jsonl.gz"
nd dedup "$T/data.jsonl.gz"
assert_rc 0
assert_same_file "$T/ref-dedup" "$OUT" "dedup of .jsonl.gz"

check "gzip piped via stdin (no path, and '-'): identical"
run_in "$T/data.jsonl.gz" "$ND" scan
assert_rc 0
assert_same_file "$T/ref" "$OUT" "scan of gzip on stdin"
gzip -1 -c "$T/data.jsonl" | "$ND" scan - >"$OUT" 2>"$ERR"
assert_same_file "$T/ref" "$OUT" "scan of gzip -1 piped to '-'"
gzip -c "$T/data.jsonl" | "$ND" dedup >"$OUT" 2>"$ERR"
assert_same_file "$T/ref-dedup" "$OUT" "dedup of gzip piped"

check "gzip with several members (concatenated .gz files) and a name that says nothing"
head -n 1234 "$T/data.jsonl" | gzip -c >"$T/multi.gz"
sed -n '1235,2234p' "$T/data.jsonl" | gzip -c >>"$T/multi.gz"
tail -n +2235 "$T/data.jsonl" | gzip -c >>"$T/multi.gz"
same_scan "a 3-member gzip named multi.gz" "$T/multi.gz"
cp "$T/data.jsonl.gz" "$T/data.bin"
same_scan "a gzip file named data.bin" "$T/data.bin"

check "mixed: plain and gzip parts of the same data"
head -n 1500 "$T/data.jsonl" >"$T/p1.jsonl"
tail -n +1501 "$T/data.jsonl" | gzip -c >"$T/p2.jsonl.gz"
same_scan "p1.jsonl + p2.jsonl.gz" "$T/p1.jsonl" "$T/p2.jsonl.gz"

check "a gzip-compressed plain text file is one document with its decompressed text"
printf 'Plain text, gzip-compressed: one document.\nSecond line.\n' >"$T/note.txt"
gzip -n -c "$T/note.txt" >"$T/note.txt.gz"
nd dedup "$T/note.txt.gz"
assert_rc 0
P="$T/note.txt.gz" assert_jq "$OUT" '. == [{"id": $ENV.P, "text": "Plain text, gzip-compressed: one document.\nSecond line.\n"}]' \
    "decompressed plain-text record"

check "records longer than the read buffers (300 KB lines), last line without a newline: plain = gzip = stdin"
python3 - "$T/long.jsonl" <<'EOF'
import json, random, sys
r = random.Random(11)
v = ["w%d" % i for i in range(20000)]
a = [r.choice(v) for _ in range(50000)]
b = list(a)
b[25000] = "changed"
with open(sys.argv[1], "w") as f:
    f.write(json.dumps({"id": "short", "text": "x y z"}) + "\n")
    f.write(json.dumps({"id": "A", "text": " ".join(a)}) + "\n")
    f.write(json.dumps({"id": "B", "text": " ".join(b)}) + "\n")
    f.write(json.dumps({"id": "C", "text": " ".join(a[:100])}))
EOF
gzip -c "$T/long.jsonl" >"$T/long.jsonl.gz"
for input in "$T/long.jsonl" "$T/long.jsonl.gz"; do
    nd scan "$input"
    assert_rc 0 "scan $input"
    assert_jq "$OUT" 'length == 1 and .[0].ids == ["A", "B"] and .[0].jaccard[1] > 0.999 and .[0].jaccard[1] < 1' "A and B cluster ($input)"
    assert_eq 4 "$(summary_field 'documents read')" "documents read ($input)"
done
run_in "$T/long.jsonl.gz" "$ND" dedup
assert_rc 0
{ sed -n '1,2p' "$T/long.jsonl"; tail -n 1 "$T/long.jsonl"; echo; } >"$T/expect"
assert_same_file "$T/expect" "$OUT" "dedup of long lines (B removed; newline added after the last record)"

check "a corrupt .gz: exit 1, message naming the file, nothing on stdout"
python3 - "$T/data.jsonl.gz" "$T/corrupt.jsonl.gz" <<'EOF'
import sys
d = bytearray(open(sys.argv[1], "rb").read())
for i in range(len(d) // 2, len(d) // 2 + 64):   # flip bytes in the middle of the deflate stream
    d[i] ^= 0x55
open(sys.argv[2], "wb").write(d)
EOF
for c in scan dedup; do
    nd "$c" "$T/corrupt.jsonl.gz"
    assert_rc 1 "$c of a corrupt .gz"
    assert_file_contains "$ERR" "$T/corrupt.jsonl.gz"
    assert_empty_file "$OUT" "stdout"
done
run_in "$T/corrupt.jsonl.gz" "$ND" scan
assert_rc 1 "corrupt gzip on stdin"
assert_file_contains "$ERR" "-:" "stderr (stdin named '-')"

check "a truncated .gz: exit 1, message naming the file"
head -c 5000 "$T/data.jsonl.gz" >"$T/truncated.jsonl.gz"
nd scan "$T/truncated.jsonl.gz"
assert_rc 1
assert_file_contains "$ERR" "$T/truncated.jsonl.gz"
assert_empty_file "$OUT" "stdout"
head -c 10 "$T/data.jsonl.gz" >"$T/header-only.gz"
nd scan "$T/header-only.gz"
assert_rc 1 "a gzip header with no data"
assert_file_contains "$ERR" "$T/header-only.gz"

check "a directory is read recursively, in byte order of names"
D="$T/tree"
mkdir -p "$D/a/y" "$D/b" "$D/a-b"
w() { printf '%s\n' "$2" >"$D/$1"; }
w "B.txt" "upper case b comes first in byte order because capitals sort before small letters"
w "a/y/x.txt" "the deepest file in a comes before z dot txt since y sorts before z dot txt"
w "a/z.txt" "z dot txt is the last file inside the directory named a in this little tree"
w "a-b/m.txt" "a dash b sorts after a because the name a is a prefix of a dash b"
w "a.txt" "a dot txt sorts after a dash b because the dash is before the dot in ascii"
w "b/c.txt" "c dot txt inside b is the last file of the whole walk over this tree"
printf '{"id":"j1","text":"json lines inside the tree are read as json lines records one"}\n{"id":"j2","text":"json lines inside the tree are read as json lines records two"}\n' |
    gzip -c >"$D/a/y/w.jsonl.gz"
nd dedup --annotate "$D"
assert_rc 0
P="$D" assert_jq "$OUT" '[.[].id] == [$ENV.P + "/B.txt", "j1", "j2"] + (["a/y/x.txt", "a/z.txt", "a-b/m.txt", "a.txt", "b/c.txt"] | map($ENV.P + "/" + .))' \
    "walk order B.txt, a/y/w.jsonl.gz (j1, j2), a/y/x.txt, a/z.txt, a-b/m.txt, a.txt, b/c.txt"
nd dedup --annotate "$D/"
assert_rc 0
P="$D" assert_jq "$OUT" '.[0].id == $ENV.P + "/B.txt" and .[-1].id == $ENV.P + "/b/c.txt"' "trailing slash: no '//' in ids"

check "a directory with a duplicate deep inside: the earlier file in walk order survives"
cp "$D/b/c.txt" "$D/a/y/copy.txt"
nd scan "$D"
assert_rc 0
P="$D" assert_jq "$OUT" '. == [{"cluster": 0, "size": 2, "ids": [$ENV.P + "/a/y/copy.txt", $ENV.P + "/b/c.txt"], "jaccard": [1, 1], "profile": "default/3"}]' \
    "a/y/copy.txt (walked first) survives b/c.txt"

check "an empty directory: no documents, exit 0"
mkdir "$T/empty-dir"
nd scan "$T/empty-dir"
assert_rc 0
assert_empty_file "$OUT" "scan output"
assert_eq 0 "$(summary_field 'documents read')" "documents read"

# ---- zstd, last: fails on the current code (see the report) ----

if ! command -v zstd >/dev/null; then
    echo "[$TEST_NAME] zstd CLI not found: skipping the .zst checks (install the zstd package)"
    pass
    exit 0
fi

check ".jsonl.zst and zstd via stdin: identical"
zstd -q -19 -c "$T/data.jsonl" >"$T/data.jsonl.zst"
same_scan "data.jsonl.zst" "$T/data.jsonl.zst"
run_in "$T/data.jsonl.zst" "$ND" scan
assert_rc 0 "zstd on stdin"
assert_same_file "$T/ref" "$OUT" "scan of zstd on stdin"
nd dedup "$T/data.jsonl.zst"
assert_rc 0
assert_same_file "$T/ref-dedup" "$OUT" "dedup of .jsonl.zst"

check "zstd with several frames, and a name that says nothing"
head -n 1500 "$T/data.jsonl" | zstd -q -c >"$T/multi.zst"
tail -n +1501 "$T/data.jsonl" | zstd -q -c >>"$T/multi.zst"
same_scan "a 2-frame zstd named multi.zst" "$T/multi.zst"

check "zstd that starts with a skippable frame (as pzstd writes it): read as zstd by content, by name and in a walk"
# it used to be read as one text document of binary bytes (exit 0), as
# malformed JSON under a .jsonl.zst name, and passed over as binary in a walk
printf 'P*M\030\004\000\000\000abcd' >"$T/skip.zst"
zstd -q -c "$T/data.jsonl" >>"$T/skip.zst"
same_scan "a skippable frame first, named skip.zst" "$T/skip.zst"
cp "$T/skip.zst" "$T/skip.jsonl.zst"
same_scan "a skippable frame first, named skip.jsonl.zst" "$T/skip.jsonl.zst"
mkdir -p "$T/skipdir"
cp "$T/skip.zst" "$T/skipdir/"
nd scan "$T/skipdir"
assert_rc 0
assert_same_file "$T/ref" "$OUT" "a walk reads it"
if command -v pzstd >/dev/null; then
    pzstd -q -f "$T/data.jsonl" -o "$T/p.jsonl.zst"
    same_scan "pzstd's output" "$T/p.jsonl.zst"
fi

check "a truncated / corrupt .zst: exit 1, message naming the file"
head -c 3000 "$T/data.jsonl.zst" >"$T/truncated.jsonl.zst"
nd scan "$T/truncated.jsonl.zst"
assert_rc 1
assert_file_contains "$ERR" "$T/truncated.jsonl.zst"
python3 - "$T/data.jsonl.zst" "$T/corrupt.jsonl.zst" <<'EOF'
import sys
d = bytearray(open(sys.argv[1], "rb").read())
for i in range(len(d) // 2, len(d) // 2 + 64):
    d[i] ^= 0x55
open(sys.argv[2], "wb").write(d)
EOF
nd scan "$T/corrupt.jsonl.zst"
assert_rc 1
assert_file_contains "$ERR" "$T/corrupt.jsonl.zst"

pass
