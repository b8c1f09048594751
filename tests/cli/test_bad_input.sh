#!/usr/bin/env bash
# shellcheck disable=SC2016  # jq filters are single-quoted on purpose
# test_bad_input.sh - invalid UTF-8, empty and blank documents, malformed
# JSON lines, missing text fields, --on-error, --text-field/--id-field,
# default and numeric ids, and the summary counts.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"

BASE="the committee met on tuesday to discuss the budget for the new library and agreed to meet again next month"
FFFD=$'\xef\xbf\xbd'

# ---- invalid UTF-8 ----

# Several kinds of ill-formed sequences: a lone 0xFF, a stray continuation
# byte, an overlong '/', a truncated 3-byte sequence, a UTF-16 surrogate.
printf 'the committee met on tuesday \xff to discuss the bud\x80get for the new \xc0\xaf library and agreed to meet \xe2\x82 again next \xed\xa0\x80 month\n' >"$T/bad.txt"
cp "$T/bad.txt" "$T/bad-copy.txt"
# the same text with each ill-formed sequence written as U+FFFD (ICU's
# maximal subparts: \xc0\xaf and \xed\xa0\x80 are 2 and 3 replacements)
printf 'the committee met on tuesday %s to discuss the bud%sget for the new %s%s library and agreed to meet %s again next %s%s%s month\n' \
    "$FFFD" "$FFFD" "$FFFD" "$FFFD" "$FFFD" "$FFFD" "$FFFD" "$FFFD" >"$T/replaced.txt"

check "invalid UTF-8 in a plain text file: exit 0, a warning naming the document, still processed"
nd scan "$T/bad.txt" "$T/replaced.txt" "$T/bad-copy.txt"
assert_rc 0
assert_file_contains "$ERR" "warning: $T/bad.txt: invalid UTF-8"
assert_file_contains "$ERR" "warning: $T/bad-copy.txt: invalid UTF-8"
assert_file_not_contains "$ERR" "$T/replaced.txt" "stderr (replaced.txt is valid UTF-8)"
P="$T/" assert_jq "$OUT" '$ENV.P as $p | length == 1 and .[0].ids == [$p + "bad.txt", $p + "replaced.txt", $p + "bad-copy.txt"] and .[0].jaccard == [1, 1, 1]' \
    "bad.txt, its copy and its U+FFFD version form one cluster with jaccard 1"
assert_eq 2 "$(summary_field 'invalid UTF-8')" "invalid UTF-8 count"
assert_eq 3 "$(summary_field 'documents read')" "documents read"
assert_eq 0 "$(summary_field skipped)" "skipped"

check "dedup of a plain text with invalid UTF-8 writes valid JSON with U+FFFD"
nd dedup "$T/bad.txt"
assert_rc 0
assert_valid_jsonl "$OUT"
P="$T/bad.txt" R="$(cat "$T/replaced.txt")" assert_jq "$OUT" \
    'length == 1 and .[0].id == $ENV.P and (.[0].text | rtrimstr("\n")) == $ENV.R' "text with U+FFFD"

check "invalid UTF-8 inside a JSONL text field: exit 0, warning naming the id, still processed"
{
    printf '{"id":"b1","text":"%s \xff\xfe %s"}\n' "$BASE" "$BASE"
    printf '{"id":"clean","text":"%s %s %s"}\n' "$BASE" "$FFFD$FFFD" "$BASE"
    printf '{"id":"other","text":"an entirely unrelated sentence about rivers and mountains and the sea in winter"}\n'
} >"$T/bad.jsonl"
nd scan "$T/bad.jsonl"
assert_rc 0
assert_file_contains "$ERR" "warning: b1: invalid UTF-8"
assert_file_not_contains "$ERR" "clean:" "stderr (record 'clean' is valid)"
assert_jq "$OUT" 'length == 1 and .[0].ids == ["b1", "clean"] and .[0].jaccard == [1, 1]' "b1 clusters with its U+FFFD twin"
assert_eq 1 "$(summary_field 'invalid UTF-8')" "invalid UTF-8 count"
assert_eq 3 "$(summary_field 'documents read')" "documents read"

check "dedup keeps a JSONL record with invalid UTF-8 byte for byte"
nd dedup "$T/bad.jsonl"
assert_rc 0
head -n 1 "$T/bad.jsonl" >"$T/expect"
tail -n 1 "$T/bad.jsonl" >>"$T/expect"
assert_same_file "$T/expect" "$OUT" "dedup output (b1 and other kept, clean removed)"

# ---- empty and blank documents ----

: >"$T/empty1.txt"
: >"$T/empty2.txt"
printf '   \n\t\n\n' >"$T/ws1.txt"
printf '   \n\t\n\n' >"$T/ws2.txt"

check "two empty files + two whitespace-only files: no clusters, counted as 4 empty"
nd scan "$T/empty1.txt" "$T/empty2.txt" "$T/ws1.txt" "$T/ws2.txt"
assert_rc 0
assert_empty_file "$OUT" "scan output"
assert_eq 4 "$(summary_field empty)" "empty count"
assert_eq 4 "$(summary_field 'documents read')" "documents read"

check "empty, blank and punctuation-only JSONL texts: never clustered, counted; real duplicates still found"
{
    printf '{"id":"e1","text":""}\n'
    printf '{"id":"e2","text":""}\n'
    printf '{"id":"w1","text":"   \\n\\t  "}\n'
    printf '{"id":"w2","text":"   \\n\\t  "}\n'
    printf '{"id":"p1","text":" ... -- !!! "}\n'
    printf '{"id":"p2","text":" ... -- !!! "}\n'
    printf '{"id":"z1","text":"\\u200b\\u00a0\\u3000"}\n'
    printf '{"id":"z2","text":"\\u200b\\u00a0\\u3000"}\n'
    printf '{"id":"r1","text":"%s"}\n' "$BASE"
    printf '{"id":"r2","text":"%s"}\n' "$BASE"
} >"$T/blank.jsonl"
nd scan --threshold 0.01 "$T/blank.jsonl"
assert_rc 0
assert_jq "$OUT" 'length == 1 and .[0].ids == ["r1", "r2"]' "only r1, r2 cluster"
assert_eq 8 "$(summary_field empty)" "empty count"
assert_eq 10 "$(summary_field 'documents read')" "documents read"
nd dedup "$T/blank.jsonl"
assert_rc 0
head -n 9 "$T/blank.jsonl" >"$T/expect"
assert_same_file "$T/expect" "$OUT" "dedup keeps every empty document, removes r2"

check "--lines: blank lines are empty documents, never clustered"
printf '\n\n   \n%s\n\n%s\n\t\n' "$BASE" "$BASE" >"$T/lines.txt"
nd scan --lines "$T/lines.txt"
assert_rc 0
P="$T/lines.txt" assert_jq "$OUT" 'length == 1 and .[0].ids == ["\($ENV.P):4", "\($ENV.P):6"]' "only lines 4 and 6 cluster"
assert_eq 7 "$(summary_field 'documents read')" "documents read"
assert_eq 5 "$(summary_field empty)" "empty count"

# ---- malformed JSON ----

{
    printf '{"id":"m1","text":"%s"}\n' "$BASE"
    printf '{"id":"m2","text":"unrelated words about a small red boat on a quiet lake at dawn"}\n'
    printf '{"id":"m3","text": "unterminated\n'
    printf '{"id":"m4","text":"%s"}\n' "$BASE"
} >"$T/malformed.jsonl"

check "a malformed JSON line: exit 1, message naming FILE:LINE, nothing on stdout (scan and dedup)"
for c in scan dedup; do
    nd "$c" "$T/malformed.jsonl"
    assert_rc 1 "$c"
    assert_file_contains "$ERR" "$T/malformed.jsonl:3"
    assert_file_contains "$ERR" "--on-error"
    assert_empty_file "$OUT" "$c stdout"
done
nd scan --on-error fail --threads 3 "$T/malformed.jsonl"
assert_rc 1 "--on-error fail (explicit)"

check "the same via stdin: message names -:3"
run_in "$T/malformed.jsonl" "$ND" scan
assert_rc 1
assert_file_contains "$ERR" "-:3"

check "--on-error skip: exit 0, the bad record skipped and counted, the others processed"
nd scan --on-error skip "$T/malformed.jsonl"
assert_rc 0
assert_file_contains "$ERR" "$T/malformed.jsonl:3"
assert_jq "$OUT" 'length == 1 and .[0].ids == ["m1", "m4"]' "m1 and m4 cluster"
assert_eq 1 "$(summary_field skipped)" "skipped"
assert_eq 4 "$(summary_field 'documents read')" "documents read"

check "dedup --on-error skip: read = kept + removed + skipped; the bad line is not written"
nd dedup --on-error skip --removed "$T/removed" "$T/malformed.jsonl"
assert_rc 0
read_n="$(summary_field 'documents read')"
kept="$(summary_field kept)"
removed="$(summary_field removed)"
skipped="$(summary_field skipped)"
assert_eq "4 1 1 2" "$read_n $skipped $removed $kept" "read, skipped, removed, kept"
assert_eq "$read_n" "$((kept + removed + skipped))" "read = kept + removed + skipped"
assert_eq "$kept" "$(line_count "$OUT")" "kept vs output lines"
assert_eq "$removed" "$(line_count "$T/removed")" "removed vs --removed lines"
sed -n '1,2p' "$T/malformed.jsonl" >"$T/expect"
assert_same_file "$T/expect" "$OUT" "dedup output"
sed -n '4p' "$T/malformed.jsonl" >"$T/expect"
strip_neardup "$T/removed" >"$T/removed-stripped"
assert_same_file "$T/expect" "$T/removed-stripped" "--removed output (\"neardup\" member taken out)"

# ---- missing or wrong text field ----

{
    printf '{"id":"f1","text":"%s"}\n' "$BASE"
    printf '{"id":"f2","body":"%s"}\n' "$BASE"
    printf '{"id":"f3","text":42}\n'
    printf '[1, 2, 3]\n'
    printf '{"id":"f5","text":null}\n'
    printf '{"id":"f6","text":"%s"}\n' "$BASE"
} >"$T/nofield.jsonl"

check "a JSON line without the text field: exit 1, message names FILE:LINE and the field"
nd scan "$T/nofield.jsonl"
assert_rc 1
assert_file_contains "$ERR" "$T/nofield.jsonl:2"
assert_file_contains "$ERR" '"text"'
assert_empty_file "$OUT" "stdout"

check "--on-error skip: lines without a string text field (missing, number, null, not an object) skipped"
nd scan --on-error skip "$T/nofield.jsonl"
assert_rc 0
for l in 2 3 4 5; do
    assert_file_contains "$ERR" "$T/nofield.jsonl:$l"
done
assert_jq "$OUT" 'length == 1 and .[0].ids == ["f1", "f6"]' "f1 and f6 cluster"
assert_eq 4 "$(summary_field skipped)" "skipped"
nd dedup --on-error skip "$T/nofield.jsonl"
assert_rc 0
assert_eq "$(summary_field 'documents read')" "$(($(summary_field kept) + $(summary_field removed) + $(summary_field skipped)))" \
    "read = kept + removed + skipped"
assert_eq "6 1 1 4" "$(summary_field 'documents read') $(summary_field kept) $(summary_field removed) $(summary_field skipped)" \
    "read, kept, removed, skipped"

check "--text-field / --id-field are honoured"
nd scan --text-field body --id-field key --on-error skip "$T/nofield.jsonl"
assert_rc 0
assert_file_contains "$ERR" '"body"' "message names the --text-field"
assert_eq 5 "$(summary_field skipped)" "skipped (only f2 has body)"
assert_empty_file "$OUT" "scan output"
{
    printf '{"key":"k1","body":"%s","text":"aaa bbb"}\n' "$BASE"
    printf '{"key":"k2","body":"%s","text":"ccc ddd"}\n' "$BASE"
    printf '{"key":"k3","body":"something else entirely different here","text":"aaa bbb","id":"i3"}\n'
} >"$T/fields.jsonl"
nd scan --text-field body --id-field key "$T/fields.jsonl"
assert_rc 0
assert_jq "$OUT" 'length == 1 and .[0].ids == ["k1", "k2"]' "clusters by body, ids from key"
nd scan "$T/fields.jsonl"
assert_rc 0
P="$T/fields.jsonl" assert_jq "$OUT" 'length == 1 and .[0].ids == ["\($ENV.P):1", "i3"]' "default fields: text and id"
nd scan --text-field text --id-field body "$T/fields.jsonl"
assert_rc 0
P="$T/fields.jsonl" assert_jq "$OUT" 'length == 1 and (.[0].ids[0] | startswith("the committee")) and .[0].ids[1] == "something else entirely different here"' \
    "--id-field body: ids are the body strings"

check "id defaults to FILE:LINE when absent or null (line numbers count blank lines)"
{
    printf '{"text":"%s"}\n' "$BASE"
    printf '\n'
    printf '   \n'
    printf '{"id":null,"text":"%s"}\n' "$BASE"
    printf '{"id":"named","text":"%s"}\n' "$BASE"
} >"$T/noid.jsonl"
nd scan "$T/noid.jsonl"
assert_rc 0
P="$T/noid.jsonl" assert_jq "$OUT" 'length == 1 and .[0].ids == ["\($ENV.P):1", "\($ENV.P):4", "named"]' "ids FILE:1, FILE:4, named"
assert_eq 3 "$(summary_field 'documents read')" "documents read (blank lines are not records)"
run_in "$T/noid.jsonl" "$ND" scan -
assert_rc 0
assert_jq "$OUT" '.[0].ids == ["-:1", "-:4", "named"]' "stdin ids -:1, -:4"

check "numeric ids work (integers, negative, zero, floats, large int64)"
{
    printf '{"id":7,"text":"%s"}\n' "$BASE"
    printf '{"id":-3,"text":"%s"}\n' "$BASE"
    printf '{"id":0,"text":"%s"}\n' "$BASE"
    printf '{"id":1.5,"text":"%s"}\n' "$BASE"
    printf '{"id":9223372036854775807,"text":"%s"}\n' "$BASE"
    printf '{"id":"7","text":"%s"}\n' "$BASE"
} >"$T/numid.jsonl"
nd scan "$T/numid.jsonl"
assert_rc 0
assert_jq "$OUT" 'length == 1 and .[0].ids == ["7", "-3", "0", "1.5", "9223372036854775807", "7"]' "numeric ids as strings"
nd dedup --annotate "$T/numid.jsonl"
assert_rc 0
assert_valid_jsonl "$OUT"
assert_jq "$OUT" '[.[].neardup.duplicate_of] == [null, "7", "7", "7", "7", "7"] and [.[].id] == [7, -3, 0, 1.5, 9223372036854775807, "7"]' \
    "annotate: duplicate_of is the survivor's id; records unchanged"

check "a number id that is not an integer is its literal, as written (not jansson's reformatting of the double)"
# 0.1, 1e-7, 1e2, 1.5e3 and -0 came out as "0.10000000000000001",
# "9.9999999999999995e-8", "100.0", "1500.0" and "0"
for id in 0.1 1e-7 1e2 1.5e3 -0 2.50 1E+2; do printf '{"id":%s,"text":"%s"}\n' "$id" "$BASE"; done >"$T/realid.jsonl"
nd scan "$T/realid.jsonl"
assert_rc 0
assert_jq "$OUT" '.[0].ids == ["0.1", "1e-7", "1e2", "1.5e3", "-0", "2.50", "1E+2"]' "ids as written"
nd dedup --annotate "$T/realid.jsonl"
assert_rc 0
assert_jq "$OUT" '[.[].neardup.duplicate_of] | unique == [null, "0.1"]' "duplicate_of names the survivor as written"
# the member read, not a same-named key nested before it
printf '{"meta":{"id":1.50},"id":1.5,"text":"%s"}\n{"m":{"id":-0},"id":0,"text":"%s"}\n' "$BASE" "$BASE" >"$T/nestid.jsonl"
nd scan "$T/nestid.jsonl"
assert_jq "$OUT" '.[0].ids == ["1.5", "0"]' "top-level ids, not the nested ones"
nd scan --id-field meta.id "$T/nestid.jsonl"
assert_jq "$OUT" '.[0].ids[0] == "1.50"' "--id-field meta.id: the nested one"

# ---- Last: failures of the current code (see the report) ----

check "JSONL on stdin whose first record has invalid UTF-8 is still read as JSON Lines"
run_in "$T/bad.jsonl" "$ND" scan
assert_rc 0
assert_eq 3 "$(summary_field 'documents read')" "documents read from stdin (one per JSON line)"
assert_jq "$OUT" 'length == 1 and .[0].ids == ["b1", "clean"]' "b1 clusters with its U+FFFD twin"
assert_file_contains "$ERR" "warning: b1: invalid UTF-8"
cp "$T/bad.jsonl" "$T/bad-jsonl.data"
nd scan "$T/bad-jsonl.data"
assert_eq 3 "$(summary_field 'documents read')" "documents read from a JSONL file without a .jsonl name"

check "a valid JSON string with \\u0000 is not malformed"
{
    printf '{"id":"n1","text":"%s \\u0000"}\n' "$BASE"
    printf '{"id":"n2","text":"%s"}\n' "$BASE"
} >"$T/nul.jsonl"
nd scan "$T/nul.jsonl"
assert_rc 0 "scan of a JSONL text containing \\u0000"
assert_jq "$OUT" 'length == 1 and .[0].ids == ["n1", "n2"]' "n1 and n2 cluster"

check "documents under --min-tokens are counted with the empty ones, and the summary says so (they have text)"
printf '{"id":"a","text":"hello world"}\n{"id":"b","text":"hello world"}\n{"id":"c","text":""}\n' >"$T/short.jsonl"
nd scan --min-tokens 3 "$T/short.jsonl"
assert_rc 0
assert_eq 3 "$(summary_field 'empty or under --min-tokens')" "the summary's count"
nd scan "$T/short.jsonl"
assert_eq 1 "$(summary_field 'empty')" "without --min-tokens: the empty one"

check "a raw NUL byte in a record: the message says so, with its column (it said: end of the record expected)"
printf '{"id":"a",\000"text":"%s"}\n' "$BASE" >"$T/rawnul.jsonl"
nd scan "$T/rawnul.jsonl"
assert_rc 1
assert_file_contains "$ERR" "rawnul.jsonl:1: malformed JSON: a NUL byte, which JSON does not allow (column 11 of the record)"
printf '{"id":"a" "text":"x"}\000\n' >"$T/rawnul2.jsonl" # an error before the NUL: told as it is
nd scan "$T/rawnul2.jsonl"
assert_rc 1
assert_file_not_contains "$ERR" "NUL byte"

check "an id holding \\u0000 is unusable (cut at the NUL, a\\u0000x and a\\u0000y would be one id): FILE:LINE, exit 1 or skipped"
{
    printf '{"id":"a\\u0000x","text":"%s"}\n' "$BASE"
    printf '{"id":"a\\u0000y","text":"%s"}\n' "$BASE"
    printf '{"id":"b","text":"%s"}\n' "$BASE"
} >"$T/nulid.jsonl"
nd scan "$T/nulid.jsonl"
assert_rc 1 "scan of ids holding NUL"
assert_file_contains "$ERR" "nulid.jsonl:1: the id field \"id\" holds a NUL character"
nd index add "$T/nulid-db" "$T/nulid.jsonl"
assert_rc 1 "index add of ids holding NUL"
nd dedup --on-error skip "$T/nulid.jsonl"
assert_rc 0 "dedup --on-error skip"
assert_eq 2 "$(summary_field skipped)" "both records skipped"
assert_jq "$OUT" 'length == 1 and .[0].id == "b"' "the other record kept"

check "an integer id beyond int64 (valid JSON) is accepted and kept as written"
{
    printf '{"id":18446744073709551615,"text":"%s"}\n' "$BASE"
    printf '{"id":2,"text":"%s"}\n' "$BASE"
    printf '{"id":18446744073709551614,"text":"%s"}\n' "$BASE"
    printf '{"id":123456789012345678901234567890,"text":"%s"}\n' "$BASE"
} >"$T/bigid.jsonl"
nd scan "$T/bigid.jsonl"
assert_rc 0 "scan of a JSONL with a uint64 id"
assert_jq "$OUT" 'length == 1 and .[0].ids == ["18446744073709551615", "2", "18446744073709551614", "123456789012345678901234567890"]' \
    "big ids kept as written (and distinct ids stay distinct)"
run_in "$T/bigid.jsonl" "$ND" scan
assert_rc 0 "the same via stdin"
assert_eq 4 "$(summary_field 'documents read')" "documents read from stdin (one per JSON line)"
assert_jq "$OUT" 'length == 1 and .[0].size == 4' "the four records cluster"

pass
