#!/usr/bin/env bash
# shellcheck disable=SC2016  # jq filters are single-quoted on purpose
# test_input.sh - the input side of issue #12: short inputs, byte order
# marks, telling text from JSON Lines (--format), JSON arrays, directory
# walks (regular files only, hidden and binary files, --include),
# --max-doc-bytes, nested fields, and the JSON fast path agreeing with
# jansson.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"

BASE="the committee met on tuesday to discuss the budget for the new library and agreed to meet again next month"

# ---- inputs shorter than 4 bytes ----

check "a 3-byte input on stdin is read, not taken for empty"
printf 'abc' >"$T/abc"
run_in "$T/abc" "$ND" dedup
assert_rc 0
assert_jq "$OUT" 'length == 1 and .[0].text == "abc"' "the text abc"

check "printf 'a\\nb' | dedup --lines - keeps both lines"
printf 'a\nb' >"$T/ab"
run_in "$T/ab" "$ND" dedup --lines -
assert_rc 0
assert_jq "$OUT" '[.[].text] == ["a", "b"]' "both lines"

check "a 1-byte file and a 3-byte file are read"
printf 'x' >"$T/one.txt"
nd dedup "$T/one.txt" "$T/abc"
assert_rc 0
assert_jq "$OUT" '[.[].text] == ["x", "abc"]' "x and abc"

# ---- a UTF-8 byte order mark before JSON ----

BOM=$'\xef\xbb\xbf'
{
    printf '%s{"id":"a","text":"%s"}\n' "$BOM" "$BASE"
    printf '{"id":"b","text":"%s"}\n' "$BASE"
} >"$T/bom.data"

check "a BOM before JSON Lines on stdin: skipped, said once, the records read"
run_in "$T/bom.data" "$ND" scan
assert_rc 0
assert_jq "$OUT" 'length == 1 and .[0].ids == ["a", "b"]' "a and b, one cluster"
assert_eq 1 "$(grep -c 'byte order mark' "$ERR")" "one BOM message"
assert_file_contains "$ERR" "-: skipped a UTF-8 byte order mark"

check "a BOM before JSON Lines in a file not named .jsonl, and in a .jsonl file"
cp "$T/bom.data" "$T/bom-records"
cp "$T/bom.data" "$T/bom.jsonl"
nd dedup "$T/bom-records" "$T/bom.jsonl"
assert_rc 0
assert_jq "$OUT" '[.[].id] == ["a"]' "only a kept (4 copies)"
assert_file_contains "$ERR" "$T/bom-records: skipped a UTF-8 byte order mark"
assert_file_contains "$ERR" "$T/bom.jsonl: skipped a UTF-8 byte order mark"
assert_eq 4 "$(summary_field 'documents read')" "documents read"

check "dedup writes the record after the BOM, without it"
nd dedup "$T/bom-records"
assert_rc 0
assert_eq "{\"id\":\"a\",\"text\":\"$BASE\"}" "$(cat "$OUT")" "the first record, byte for byte"

# ---- text or JSON Lines ----

check "a text file whose first line is in braces is text, not JSON Lines"
printf '{ a note in braces }\nthe rest of the letter follows here\n' >"$T/note"
nd dedup --on-error skip "$T/note"
assert_rc 0
assert_jq "$OUT" 'length == 1 and (.[0].text | startswith("{ a note"))' "one plain document"
assert_eq 0 "$(summary_field skipped)" "skipped"

check "an RTF file is text"
printf '{\\rtf1\\ansi hello world}\n' >"$T/letter.rtf"
nd dedup "$T/letter.rtf"
assert_rc 0
assert_jq "$OUT" 'length == 1 and .[0].id == "'"$T/letter.rtf"'"' "one plain document"

check ".txt is text even when its first line is a JSON object"
printf '{"id":"x","text":"hello"}\n' >"$T/object.txt"
nd dedup "$T/object.txt"
assert_rc 0
assert_jq "$OUT" 'length == 1 and .[0].text == "{\"id\":\"x\",\"text\":\"hello\"}\n"' "the line as text"

check "--format jsonl reads a .txt file as JSON Lines; --format text reads JSON as text"
nd dedup --format jsonl "$T/object.txt"
assert_rc 0
assert_jq "$OUT" '.[0].id == "x" and .[0].text == "hello"' "the record"
printf '{"id":"y","text":"hello"}\n' >"$T/object.jsonl"
nd dedup --format text "$T/object.jsonl"
assert_rc 0
assert_jq "$OUT" '.[0].id == "'"$T/object.jsonl"'"' "one plain document"

check "--format jsonl: a malformed first line is an error naming FILE:LINE"
nd scan --format jsonl "$T/note"
assert_rc 1
assert_file_contains "$ERR" "$T/note:1: malformed JSON"

check "--format with a bad value is a usage error"
nd scan --format xml "$T/note"
assert_rc 2
assert_file_contains "$ERR" "--format 'xml'"

# ---- JSON arrays ----

python3 - "$T" "$BASE" <<'PY'
import json, sys
t, base = sys.argv[1], sys.argv[2]
recs = [{"id": "p1", "text": base, "meta": {"n": 1}},
        {"id": "p2", "text": "a note\n on two lines about cats and dogs"},
        {"id": "p3", "text": "a different story about rivers, mountains and the sea in winter"},
        {"id": "p4", "text": base}]
open(t + "/array.json", "w").write(json.dumps(recs, indent=2))
open(t + "/array-data", "w").write(json.dumps(recs))
open(t + "/array-expected.jsonl", "w").write("".join(json.dumps(r) + "\n" for r in recs))
PY

check "a pretty-printed JSON array (.json) is read as records, with their first line"
nd scan --pairs "$T/array.json"
assert_rc 0
assert_jq "$OUT" 'length == 1 and .[0].a == "p1" and .[0].b == "p4"' "p1 and p4 match"
assert_eq 4 "$(summary_field 'documents read')" "documents read"

check "dedup of a JSON array writes one JSON Lines record per element"
nd dedup "$T/array.json"
assert_rc 0
assert_valid_jsonl "$OUT"
assert_jq "$OUT" '[.[].id] == ["p1", "p2", "p3"] and .[0].meta.n == 1 and .[1].text == "a note\n on two lines about cats and dogs"' "p4 removed"

check "a JSON array found by content (no .json name), and on stdin"
nd dedup --annotate "$T/array-data"
assert_rc 0
assert_eq 4 "$(line_count "$OUT")" "four records"
run_in "$T/array-data" "$ND" dedup --annotate
assert_rc 0
assert_eq 4 "$(line_count "$OUT")" "four records from stdin"

check "a BOM before a JSON array on stdin, and a gzip'd array"
{ printf '%s' "$BOM"; cat "$T/array-data"; } >"$T/bom-array"
run_in "$T/bom-array" "$ND" dedup --annotate
assert_rc 0
assert_eq 4 "$(line_count "$OUT")" "four records"
assert_file_contains "$ERR" "-: skipped a UTF-8 byte order mark"
gzip -c "$T/array.json" >"$T/array.json.gz"
nd dedup "$T/array.json.gz"
assert_rc 0
assert_jq "$OUT" '[.[].id] == ["p1", "p2", "p3"]' "p4 removed"

check "index add and query read a JSON array too (--format json)"
nd index add "$T/db" --format json "$T/array-data"
assert_rc 0
assert_jq "$OUT" '.[0].added == 4' "four added"
nd query "$T/db" --format json "$T/array-data"
assert_rc 0
assert_jq "$OUT" 'map(.id) == ["p1", "p2", "p3", "p4"]' "four queried"

check "--format json on a JSON Lines file: not an array, exit 1"
nd scan --format json "$T/array-expected.jsonl"
assert_rc 1
assert_file_contains "$ERR" "$T/array-expected.jsonl:1: not a JSON array"

check "a JSON array cut short: exit 1 naming the file"
head -c 200 "$T/array-data" >"$T/cut.json"
nd scan "$T/cut.json"
assert_rc 1
assert_file_contains "$ERR" "$T/cut.json"
assert_file_contains "$ERR" "not closed"

check "a bad element is reported with its line, skipped under --on-error skip"
printf '[\n{"id":"e1","text":"one"},\n{"id":"e2","text":"two",},\n{"id":"e3","text":"three"}\n]\n' >"$T/bad-elem.json"
nd scan "$T/bad-elem.json"
assert_rc 1
assert_file_contains "$ERR" "$T/bad-elem.json:3: malformed JSON"
nd dedup --on-error skip "$T/bad-elem.json"
assert_rc 0
assert_jq "$OUT" '[.[].id] == ["e1", "e3"]' "e1 and e3"
assert_eq 1 "$(summary_field skipped)" "skipped"

check "two elements without a ',' between them: a broken array (exit 1 whatever --on-error), not one bad element skipped"
printf '[\n{"id":"e1","text":"one"}\n{"id":"e2","text":"two"},\n{"id":"e3","text":"three"}\n]\n' >"$T/no-comma.json"
for policy in fail skip; do
    nd dedup --on-error "$policy" "$T/no-comma.json"
    assert_rc 1 "--on-error $policy"
    assert_file_contains "$ERR" "$T/no-comma.json:3: expected ',' or ']' after a JSON array element"
    assert_empty_file "$OUT" "stdout"
done

check "text after the array's end is an error"
printf '[{"id":"e1","text":"one"}] trailing\n' >"$T/trail.json"
nd scan "$T/trail.json"
assert_rc 1
assert_file_contains "$ERR" "after the JSON array"

check "an empty array is no documents"
printf '[ ]\n' >"$T/empty.json"
nd scan "$T/empty.json"
assert_rc 0
assert_eq 0 "$(summary_field 'documents read')" "documents read"

# ---- records held where they were read ----

# JSON Lines records stay in the blocks (1 MiB) the reader read them into,
# held by their batch (reader.c's kept blocks); a JSON array's elements are
# copied. Some 4 MB of records of every length, two of them longer than a
# block, many straddling blocks and batches: both readings agree.
python3 "$SRC/tests/shake/records.py" "$T" held || fail "tests/shake/records.py"

check "JSON Lines records held in the reader's blocks: the same output as the same records copied from a JSON array"
for args in "scan" "scan --pairs"; do
    # shellcheck disable=SC2086  # $args is two words on purpose
    nd $args "$T/held.json"
    assert_rc 0 "$args of the array"
    cp "$OUT" "$T/held-array.out"
    # shellcheck disable=SC2086
    nd $args "$T/held.jsonl"
    assert_rc 0 "$args of the lines"
    assert_same_file "$T/held-array.out" "$OUT" "$args: lines vs array"
    assert_eq 9000 "$(summary_field 'documents read')" "documents read"
done
assert_jq "$OUT" 'any(.a == "h4000" and .b == "h4001")' "the two long records match"

# ---- directory walks ----

mkdir -p "$T/dir/sub" "$T/dir/.git"
printf '%s\n' "$BASE" >"$T/dir/a.txt"
printf '%s\n' "$BASE" >"$T/dir/sub/b.md"
printf '%s\n' "$BASE" >"$T/dir/.hidden.txt"
printf '%s\n' "$BASE" >"$T/dir/.git/c.txt"
printf 'ELF\0\0\0binary %s\n' "$BASE" >"$T/dir/prog.bin"
printf '%s\n' "$BASE" | gzip >"$T/dir/d.txt.gz"
mkfifo "$T/dir/fifo"

check "a directory walk reads regular files only (a FIFO does not block), skips hidden and binary files"
run timeout 20 "$ND" scan "$T/dir"
assert_rc 0
P="$T/dir/" assert_jq "$OUT" '$ENV.P as $p | length == 1 and .[0].ids == [$p + "a.txt", $p + "d.txt.gz", $p + "sub/b.md"]' "a, d and b"
assert_eq 3 "$(summary_field 'documents read')" "documents read"
assert_file_contains "$ERR" "4 files not read (1 not regular, 2 hidden, 1 binary, 0 not --include'd)"

check "--stats counts the files not read"
nd scan --quiet --stats "$T/stats.json" "$T/dir"
assert_rc 0
assert_jq "$T/stats.json" '.[0].files_not_read == {"not_regular": 1, "hidden": 2, "binary": 1, "not_included": 0}' "files_not_read"

check "--include GLOB chooses files (name, or path with a '/'; repeatable)"
nd scan --include '*.txt' "$T/dir"
assert_rc 0
assert_eq 1 "$(summary_field 'documents read')" "documents read (a.txt)"
assert_file_contains "$ERR" "3 not --include'd"
nd scan --include '*.txt' --include '*/sub/*' "$T/dir"
assert_rc 0
assert_eq 2 "$(summary_field 'documents read')" "documents read (a.txt, sub/b.md)"

check "--include that matches nothing in a walk (a typo): a warning saying so, exit 0"
nd scan --include '*.txtt' "$T/dir"
assert_rc 0
assert_file_contains "$ERR" "warning: --include: no file of the directories walked matches"
nd scan --include '*.txt' "$T/dir"
assert_file_not_contains "$ERR" "no file of the directories walked matches" "a pattern that matches"

check "a FIFO, a hidden file and a binary file named on the command line are read"
(printf '%s\n' "$BASE" >"$T/dir/fifo" &)
run timeout 20 "$ND" scan "$T/dir/fifo" "$T/dir/.hidden.txt" "$T/dir/prog.bin"
assert_rc 0
assert_eq 3 "$(summary_field 'documents read')" "documents read"

check "a walk meeting a link loop or a broken link says which (exit 1), once, not 'could not list' for every parent"
mkdir -p "$T/walk/sub"
printf '%s\n' "$BASE" >"$T/walk/a.txt"
ln -s .. "$T/walk/sub/up"
nd scan "$T/walk"
assert_rc 1 "a link back to a parent"
assert_file_contains "$ERR" "$T/walk/sub/up: a symbolic link loop"
assert_file_not_contains "$ERR" "sub/up/sub/up" "the loop is caught at once, not 64 levels down"
assert_file_not_contains "$ERR" "could not list the directory"
rm "$T/walk/sub/up"
ln -s nowhere "$T/walk/sub/gone.txt"
nd scan "$T/walk"
assert_rc 1 "a broken link"
assert_file_contains "$ERR" "$T/walk/sub/gone.txt: a symbolic link to a file that does not exist"
assert_file_not_contains "$ERR" "could not list the directory"
assert_eq 1 "$(grep -c . "$ERR")" "one line on stderr"
rm "$T/walk/sub/gone.txt"

check "file names that are not UTF-8 give distinct ids (\\xNN), not one U+FFFD id for both, with a warning"
mkdir -p "$T/names"
printf '%s\n' "$BASE" >"$T/names/a"$'\xe8'".txt"
printf '%s\n' "$BASE" >"$T/names/a"$'\xe9'".txt"
printf '%s\n' "$BASE" >"$T/names/b\\"$'\xe9'".txt"
printf '{"text":"%s"}\n' "$BASE" >"$T/names/c"$'\xff'".jsonl"
nd scan --threads 1 "$T/names"
assert_rc 0
P="$T/names/" assert_jq "$OUT" '$ENV.P as $p | length == 1 and .[0].ids ==
    [$p + "a\\xE8.txt", $p + "a\\xE9.txt", $p + "b\\\\\\xE9.txt", $p + "c\\xFF.jsonl:1"]' "four ids, escaped, distinct"
assert_file_contains "$ERR" "names/a\\xE8.txt: the file name is not UTF-8; ids show each byte that is not as \\xNN"
assert_eq 4 "$(grep -c 'the file name is not UTF-8' "$ERR")" "one warning a file"
ln -s ../a.txt "$T/walk/sub/link.txt"
nd scan "$T/walk"
assert_rc 0 "a link to a file is read"
assert_eq 2 "$(summary_field 'documents read')" "documents read (a.txt and the link to it)"

# ---- --max-doc-bytes ----

python3 -c "print('{\"id\":\"big\",\"text\":\"' + 'word ' * 400 + '\"}')" >"$T/big-line"
{
    printf '{"id":"s1","text":"%s"}\n' "$BASE"
    cat "$T/big-line"
    printf '{"id":"s2","text":"%s"}\n' "$BASE"
} >"$T/sizes.jsonl"

check "a JSON line over --max-doc-bytes: exit 1 naming FILE:LINE and the limit"
nd scan --max-doc-bytes 1K "$T/sizes.jsonl"
assert_rc 1
assert_file_contains "$ERR" "$T/sizes.jsonl:2: a document larger than --max-doc-bytes (1024 bytes)"
assert_empty_file "$OUT" "stdout"

check "--on-error skip: skipped and counted, the others read"
nd dedup --max-doc-bytes 1K --on-error skip "$T/sizes.jsonl"
assert_rc 0
assert_jq "$OUT" '[.[].id] == ["s1"]' "s1 kept, s2 its duplicate"
assert_eq 1 "$(summary_field skipped)" "skipped"
assert_eq 3 "$(summary_field 'documents read')" "documents read"
assert_file_contains "$ERR" "$T/sizes.jsonl:2: a document larger than --max-doc-bytes (1024 bytes); skipped"

check "the same from stdin (spooled for dedup's second pass)"
run_in "$T/sizes.jsonl" "$ND" dedup --max-doc-bytes 1K --on-error skip
assert_rc 0
assert_jq "$OUT" '[.[].id] == ["s1"]' "s1"

check "a plain document, a --lines line and a JSON array element over the limit"
python3 -c "print('word ' * 400)" >"$T/big.txt"
nd scan --max-doc-bytes 1K "$T/big.txt"
assert_rc 1
assert_file_contains "$ERR" "$T/big.txt: a document larger than --max-doc-bytes (1024 bytes)"
{ printf 'short line\n'; cat "$T/big.txt"; printf 'another short line\n'; } >"$T/lines.txt"
nd dedup --lines --max-doc-bytes 1K --on-error skip "$T/lines.txt"
assert_rc 0
assert_jq "$OUT" '[.[].id] == ["'"$T/lines.txt:1"'", "'"$T/lines.txt:3"'"]' "lines 1 and 3"
{ printf '[{"id":"j1","text":"one"},\n'; tr -d '\n' <"$T/big-line"; printf ',\n{"id":"j3","text":"three"}]\n'; } >"$T/big-elem.json"
nd dedup --max-doc-bytes 1K --on-error skip "$T/big-elem.json"
assert_rc 0
assert_jq "$OUT" '[.[].id] == ["j1", "j3"]' "j1 and j3"
assert_file_contains "$ERR" "$T/big-elem.json:2: a document larger than --max-doc-bytes"

check "--max-doc-bytes N takes a record of exactly N bytes, in a CRLF file too (its '\\r' is not counted), and the last line"
# A 100-byte record: taken at 100, refused at 99, whether its line ends in
# LF, CRLF or the end of the file; the \r counted made the CRLF one 101.
python3 - "$T" <<'PY'
import sys
t = sys.argv[1]
rec = '{"id":"e","text":"%s"}' % ("x" * 80)
rec = rec[:-3] + "x" * (100 - len(rec)) + rec[-3:]  # 100 bytes
assert len(rec) == 100
for name, text in (("lf", rec + "\n"), ("crlf", rec + "\r\n"), ("last", rec), ("last-cr", rec + "\r")):
    open("%s/exact-%s.jsonl" % (t, name), "w", newline="").write(text)
    open("%s/exact-%s.txt" % (t, name), "w", newline="").write(text.replace(rec, "y" * 100))
PY
for kind in lf crlf last last-cr; do
    nd scan --max-doc-bytes 100 "$T/exact-$kind.jsonl"
    assert_rc 0 "exact-$kind.jsonl at 100"
    assert_eq 1 "$(summary_field 'documents read')" "exact-$kind.jsonl read"
    nd scan --max-doc-bytes 99 "$T/exact-$kind.jsonl"
    assert_rc 1 "exact-$kind.jsonl at 99"
    assert_file_contains "$ERR" "exact-$kind.jsonl:1: a document larger than --max-doc-bytes (99 bytes)"
    nd scan --lines --max-doc-bytes 100 "$T/exact-$kind.txt"
    assert_rc 0 "exact-$kind.txt --lines at 100"
    nd scan --lines --max-doc-bytes 99 "$T/exact-$kind.txt"
    assert_rc 1 "exact-$kind.txt --lines at 99"
done

check "a bad --max-doc-bytes is a usage error"
nd scan --max-doc-bytes lots "$T/big.txt"
assert_rc 2

check "scan /dev/zero ends with the limit's error, in bounded memory"
run timeout 60 "$ND" scan --max-doc-bytes 4M /dev/zero
assert_rc 1
assert_file_contains "$ERR" "/dev/zero: a document larger than --max-doc-bytes (4194304 bytes)"
run timeout 60 "$ND" scan --format jsonl --max-doc-bytes 4M /dev/zero
assert_rc 1
assert_file_contains "$ERR" "/dev/zero:1: a document larger than --max-doc-bytes"

# ---- nested fields ----

check "--text-field and --id-field take dot paths"
{
    printf '{"meta":{"id":"n1","body":"%s"}}\n' "$BASE"
    printf '{"meta":{"id":12345678901234567890123,"body":"%s"}}\n' "$BASE"
    printf '{"meta.body":"%s","meta.id":"literal"}\n' "$BASE"
} >"$T/nested.jsonl"
nd scan --text-field meta.body --id-field meta.id "$T/nested.jsonl"
assert_rc 0
assert_jq "$OUT" '.[0].ids == ["n1", "12345678901234567890123", "literal"]' "ids from the paths (a literal key first)"
check "--id-field naming the text field: every record's id is its text, flat or not (a flat record's was FILE:LINE)"
printf '{"text":"%s"}\n{"text":"%s","m":{}}\n' "$BASE" "$BASE" >"$T/idtext.jsonl"
for threads in 1 2; do
    nd scan --threads "$threads" --id-field text "$T/idtext.jsonl"
    assert_rc 0
    B="$BASE" assert_jq "$OUT" '.[0].ids == [$ENV.B, $ENV.B]' "ids, $threads threads"
    assert_file_not_contains "$ERR" "none of the"
done
check "dedup --unit with a nested text field changes the nested text, every other byte kept"
{
    printf '{"meta":{"id":"u1","body":"%s\\n\\nunique one here"},"z":1}\n' "$BASE"
    printf '{"meta":{"id":"u2","body":"%s\\n\\nunique two there"},"z":2}\n' "$BASE"
} >"$T/nested-units.jsonl"
nd dedup --unit paragraph --text-field meta.body --id-field meta.id "$T/nested-units.jsonl"
assert_rc 0
assert_eq "{\"meta\":{\"id\":\"u2\",\"body\":\"unique two there\"},\"z\":2}" "$(sed -n 2p "$OUT")" "the second record"
assert_eq "$(head -n 1 "$T/nested-units.jsonl")" "$(sed -n 1p "$OUT")" "the first record unchanged"

nd scan --text-field meta.nothing "$T/nested.jsonl"
assert_rc 1
assert_file_contains "$ERR" "$T/nested.jsonl:1: no string field \"meta.nothing\""

# ---- the JSON fast path and jansson accept the same records ----

check "a lone surrogate, 1e400 or invalid UTF-8 in another field: the same answer flat or nested"
{
    printf '{"id":"s1","text":"one two","k":"\\ud800"}\n'
    printf '{"id":"s2","text":"one two","k":"\\udc00\\ud800"}\n'
    printf '{"id":"s3","text":"one two","k":1e400}\n'
    printf '{"id":"s4","text":"one two","k":-1E+999}\n'
    printf '{"id":"s5","text":"one two","k":"\xff"}\n'
    printf '{"id":"s6","text":"one two","k":"\\ud83d\\ude00","n":1.5e-400}\n'
} >"$T/flat.jsonl"
sed 's/}$/,"x":{}}/' "$T/flat.jsonl" >"$T/nested2.jsonl"
for f in flat nested2; do
    nd scan --on-error skip "$T/$f.jsonl"
    assert_rc 0
    assert_jq "$OUT" '.[0].ids == ["s5", "s6"]' "$f: s5 (repaired) and s6 read, the others rejected"
    for n in 1 2 3 4; do
        assert_file_contains "$ERR" "$f.jsonl:$n: malformed JSON"
    done
    assert_eq 1 "$(summary_field 'invalid UTF-8')" "$f: invalid UTF-8 (s5)"
    assert_eq 4 "$(summary_field skipped)" "$f: skipped"
done

check "a CR before the colon does not round a big id (jansson's path)"
printf '{"id"\r:12345678901234567890123,"text":"one two","x":{}}\n' >"$T/cr.jsonl"
nd normalize "$T/cr.jsonl"
assert_rc 0
assert_jq "$OUT" '.[0].id == "12345678901234567890123"' "the id's digits"

check "many small files: memory as for one file of their records (each file's records held in a read block of 256 KB: 1,600 one-line files took 314 MB)"
mkdir -p "$T/small1600"
for i in $(seq 1 1600); do printf '{"id":"d%d","text":"word%d other%d words here"}\n' "$i" "$i" "$i" >"$T/small1600/f$i.jsonl"; done
cat "$T"/small1600/f*.jsonl >"$T/all1600.jsonl"
python3 - "$ND" "$T/small1600" "$T/all1600.jsonl" <<'PY' || fail "peak memory with many small files (above)"
import resource, subprocess, sys
nd, many, one = sys.argv[1:4]
def peak_mb(*args):
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    subprocess.run([nd, *args], check=True, stdout=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(before, after) / 1024  # the largest child so far: runs go from the smallest up
one_mb = peak_mb("scan", "--quiet", "--threads", "2", one)
many_mb = peak_mb("scan", "--quiet", "--threads", "2", many)
print("  one file: %.0f MB, 1600 files: %.0f MB" % (one_mb, many_mb))
sys.exit(0 if many_mb < 2 * one_mb + 16 else 1)
PY

pass
