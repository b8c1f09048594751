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
