#!/usr/bin/env bash
# shellcheck disable=SC2016  # jq filters are single-quoted on purpose
# test_messages.sh - what neardup writes on stderr about bad input: user
# data (ids, file names, JSON error excerpts) escaped so that it cannot
# drive the terminal or forge a line; repeated warnings capped with a count
# of the rest; a misspelt --id-field or --text-field warned about; a run
# that skipped every record fails; --tmpdir checked at start, a bad $TMPDIR
# said and replaced by /tmp.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"

BASE="the committee met on tuesday to discuss the budget for the new library and agreed to meet again next month"

# assert_clean_stderr: stderr holds no control character but newlines, no
# C1 control or bidirectional override, and only well-formed UTF-8.
assert_clean_stderr() {
    python3 - "$ERR" <<'PY' || fail "stderr carries raw control characters or ill-formed UTF-8"
import sys
data = open(sys.argv[1], "rb").read()
bad = [b for b in data if (b < 0x20 and b != 0x0A) or b == 0x7F]
if bad:
    sys.exit(f"control bytes {sorted(set(bad))}")
text = data.decode("utf-8")  # raises on ill-formed UTF-8
for ch in text:
    if 0x80 <= ord(ch) <= 0x9F or ord(ch) in (0x202E, 0x2066, 0x2028):
        sys.exit(f"format character U+{ord(ch):04X}")
PY
}

check "an id with ESC, CR, LF, DEL, C1 CSI and a bidi override is escaped in the invalid-UTF-8 warning"
printf '{"id":"\\u001b[31mred\\r\\nneardup: 0 documents read\\u007f\\u009b2J\\u202eok","text":"%s \xff"}\n' "$BASE" >"$T/ids.jsonl"
nd scan "$T/ids.jsonl"
assert_rc 0
assert_clean_stderr
assert_file_contains "$ERR" 'warning: \x1B[31mred\x0D\x0Aneardup: 0 documents read\x7F\u009B2J\u202Eok: invalid UTF-8'
[[ "$(grep -c '^neardup: 0 documents read' "$ERR" || true)" == 0 ]] || fail "an id forged a summary line"
assert_eq 1 "$(summary_field 'documents read')" "documents read"

check "a file name with control characters and ill-formed UTF-8 is escaped; valid UTF-8 is kept"
name=$'evil\x1b]0;title\x07\xff-\xd9\x86\xd8\xb5.txt'
printf '%s \xfe\n' "$BASE" >"$T/$name"
nd scan "$T/$name"
assert_rc 0
assert_clean_stderr
assert_file_contains "$ERR" 'evil\x1B]0;title\x07\xFF-'$'\xd9\x86\xd8\xb5''.txt: invalid UTF-8'

check "a JSON error excerpt with raw control bytes is escaped"
printf '{"id":"a","text":"x"}\x1b[2J\n' >"$T/excerpt.jsonl"
nd scan "$T/excerpt.jsonl"
assert_rc 1
assert_clean_stderr
assert_file_contains "$ERR" "excerpt.jsonl:1: malformed JSON: end of the record expected near '\\x1B' (column 22 of the record)"

check "a JSON Lines record cut short: the message names its line and the record's end, not the file's"
printf '{"id":"a","text":"x y z"}\n{"id":"broken","text":\n{"id":"c","text":"p q r"}\n' >"$T/cut.jsonl"
nd scan "$T/cut.jsonl"
assert_rc 1
assert_file_contains "$ERR" "cut.jsonl:2: malformed JSON: unexpected token near end of the record (column 22 of the record)"
assert_file_not_contains "$ERR" "end of file"

check "an id given on the command line is escaped in explain's message"
printf '{"id":"a","text":"%s"}\n{"id":"b","text":"%s"}\n' "$BASE" "$BASE" >"$T/two.jsonl"
nd explain --id $'a\x1b[2Jb' --id b "$T/two.jsonl"
assert_rc 1
assert_clean_stderr
assert_file_contains "$ERR" "no document with id 'a\\x1B[2Jb'"

check "warnings of one kind: the first 5, then one line counting the rest"
for i in $(seq 8); do echo "{bad $i"; done >"$T/many.jsonl"
printf '{"id":"ok","text":"%s"}\n' "$BASE" >>"$T/many.jsonl"
for i in $(seq 7); do printf '{"id":"u%d","text":"%s %d \xff"}\n' "$i" "$BASE" "$i"; done >>"$T/many.jsonl"
nd scan --on-error skip "$T/many.jsonl"
assert_rc 0
assert_eq 5 "$(grep -c '; skipped$' "$ERR")" "skipped-record warnings shown"
assert_eq 5 "$(grep -c ': invalid UTF-8 (' "$ERR")" "invalid-UTF-8 warnings shown"
assert_file_contains "$ERR" "warning: 3 more records skipped (only the first 5 are shown)"
assert_file_contains "$ERR" "warning: 2 more documents with invalid UTF-8 (only the first 5 are shown)"
assert_eq 8 "$(summary_field skipped)" "skipped count in the summary"
assert_eq 7 "$(summary_field 'invalid UTF-8')" "invalid UTF-8 count in the summary"
[[ "$(tail -n 1 "$ERR")" =~ ^neardup:\ [0-9]+\ documents\ read ]] || fail "the summary is not the last line"
nd scan --on-error skip --quiet "$T/many.jsonl"
assert_file_contains "$ERR" "warning: 3 more records skipped"

check "normalize and explain warn about invalid UTF-8 as scan does (they were silent), plain text and JSON alike"
printf 'caf\xc3 world and \xff more words here\n' >"$T/bad-utf8.txt"
cp "$T/bad-utf8.txt" "$T/bad-utf8-2.txt"
nd normalize "$T/bad-utf8.txt"
assert_rc 0
assert_file_contains "$ERR" "bad-utf8.txt: invalid UTF-8 (2 sequences read as U+FFFD)"
nd explain "$T/bad-utf8.txt" "$T/bad-utf8-2.txt"
assert_rc 0
assert_eq 2 "$(grep -c 'invalid UTF-8 (2 sequences read as U+FFFD)' "$ERR")" "explain: one warning a document"
# a long plain text, counted a piece at a time (the whole text's repair
# took three times its size): the count Python's decoder gives (maximal
# subparts, as ICU), with ill-formed and cut sequences at every offset
python3 - "$T/long-bad.txt" >"$T/long-bad.count" <<'PY'
import random, sys
random.seed(7)
pieces = [b"word ", "\u00e9t\u00e9 ".encode(), "\u4e2d\u6587 ".encode(), "\U0001f600 ".encode(), b"\xff", b"\xc3",
          b"\xe4\xb8", b"\xf0\x9f\x98", b"\x80\x80\x80\x80\x80", b"\xe0\x80", b"\xed\xa0\x80", b"\xf4\x90\x80\x80"]
data = b"".join(random.choice(pieces) for _ in range(120000))
open(sys.argv[1], "wb").write(data)
print(data.decode("utf-8", "replace").count("\ufffd"))
PY
expected=$(cat "$T/long-bad.count")
nd normalize "$T/long-bad.txt"
assert_rc 0
assert_file_contains "$ERR" "long-bad.txt: invalid UTF-8 ($expected sequences read as U+FFFD)"
nd normalize "$T/many.jsonl" --on-error skip
assert_eq 5 "$(grep -c ': invalid UTF-8 (' "$ERR")" "normalize: the first 5"
assert_file_contains "$ERR" "warning: 2 more documents with invalid UTF-8 (only the first 5 are shown)"

check "exactly 5 warnings: no count line"
head -n 5 "$T/many.jsonl" >"$T/five.jsonl"
printf '{"id":"ok","text":"%s"}\n' "$BASE" >>"$T/five.jsonl"
nd scan --on-error skip "$T/five.jsonl"
assert_rc 0
assert_eq 5 "$(grep -c '; skipped$' "$ERR")" "skipped-record warnings shown"
assert_file_not_contains "$ERR" "more records skipped"

check "every record skipped: exit 1 with a message (scan, dedup, index add); no record at all is fine"
head -n 3 "$T/many.jsonl" >"$T/allbad.jsonl"
for cmd in scan dedup; do
    nd "$cmd" --on-error skip "$T/allbad.jsonl"
    assert_rc 1 "$cmd with every record skipped"
    assert_file_contains "$ERR" "error: every record read (3) was skipped"
    assert_empty_file "$OUT" "$cmd stdout"
done
nd normalize --on-error skip "$T/allbad.jsonl"
assert_rc 1 "normalize with every record skipped"
assert_file_contains "$ERR" "error: every record read (3) was skipped"
nd index add "$T/db" --on-error skip "$T/allbad.jsonl"
assert_rc 1 "index add with every record skipped"
assert_file_contains "$ERR" "error: every record read (3) was skipped"
: >"$T/empty.jsonl"
nd dedup --on-error skip "$T/empty.jsonl"
assert_rc 0 "an empty input"

check "a misspelt --id-field: warned once, naming it; ids fall back to FILE:LINE"
printf '{"id":"a","text":"%s"}\n{"id":"b","text":"%s"}\n' "$BASE" "$BASE" >"$T/pair.jsonl"
nd scan --id-field idd "$T/pair.jsonl"
assert_rc 0
assert_eq 1 "$(grep -c "warning: --id-field 'idd': none of the 2 JSON records has this field" "$ERR")" "one warning"
P="$T/pair.jsonl" assert_jq "$OUT" '.[0].ids == [$ENV.P + ":1", $ENV.P + ":2"]' "FILE:LINE ids"
nd scan --id-field id "$T/pair.jsonl"
assert_file_not_contains "$ERR" "warning" "stderr with a field that exists"
printf '{"text":"%s"}\n' "$BASE" >"$T/noid.jsonl"
nd scan "$T/noid.jsonl"
assert_file_not_contains "$ERR" "warning" "stderr without --id-field (the default id may be absent)"
nd index add "$T/db3" --id-field key "$T/pair.jsonl"
assert_rc 0
assert_file_contains "$ERR" "warning: --id-field 'key': none of the 2 JSON records"
nd query "$T/db3" --id-field key "$T/pair.jsonl"
assert_rc 0
assert_file_contains "$ERR" "warning: --id-field 'key': none of the 2 JSON records"

nd explain --id-field key --id a --id b "$T/pair.jsonl"
assert_rc 1
assert_file_contains "$ERR" "warning: --id-field 'key': none of the 2 JSON records"
assert_file_contains "$ERR" "no document with id 'a'"

check "a field none of the first 10000 records has is warned about while the run goes on, and again at its end if none has it"
python3 - "$T/many.jsonl" "$T/late.jsonl" <<'PY'
import json, sys
words = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu".split()
def text(i):
    return " ".join(words[(i + k) % len(words)] + str(i // 7) for k in range(12))
with open(sys.argv[1], "w") as f:
    for i in range(10050):
        f.write(json.dumps({"id": "r%d" % i, "date": "2026-%05d" % i, "text": text(i)}) + "\n")
with open(sys.argv[2], "w") as f:  # the field from record 10,021 on
    for i in range(10050):
        rec = {"id": "r%d" % i, "text": text(i)}
        if i >= 10020:
            rec["key"] = "k%d" % i
            rec["day"] = i
        f.write(json.dumps(rec) + "\n")
PY
nd scan --id-field idd --keep min:dat "$T/many.jsonl"
assert_rc 0
assert_eq 1 "$(grep -c "warning: --id-field 'idd': none of the first 10000 JSON records has this field" "$ERR")" "one early --id-field warning"
assert_eq 1 "$(grep -c "warning: --keep min:dat: none of the first 10000 JSON records has a value" "$ERR")" "one early --keep warning"
assert_file_contains "$ERR" "warning: --id-field 'idd': none of the 10050 JSON records has this field"
assert_file_contains "$ERR" "warning: --keep min:dat: none of the 10050 JSON records has a value"
nd scan --id-field key --keep max:day "$T/late.jsonl"
assert_rc 0
assert_eq 2 "$(grep -c "none of the first 10000 JSON records" "$ERR")" "one early warning for each field"
assert_file_not_contains "$ERR" "none of the 10050" "no end-of-run warning when later records have the fields"
nd index add "$T/db4" --id-field idd "$T/many.jsonl"
assert_rc 0
assert_file_contains "$ERR" "warning: --id-field 'idd': none of the first 10000 JSON records has this field"
nd scan --id-field id --keep min:date "$T/many.jsonl"
assert_file_not_contains "$ERR" "warning" "stderr with fields that exist"

check "a misspelt --text-field: skip warns and fails; fail stops at the first record"
nd scan --text-field txt --on-error skip "$T/pair.jsonl"
assert_rc 1
assert_file_contains "$ERR" "warning: --text-field 'txt': none of the 2 JSON records has this field"
assert_file_contains "$ERR" "error: every record read (2) was skipped"
nd scan --text-field txt "$T/pair.jsonl"
assert_rc 1
assert_file_contains "$ERR" 'no string field "txt" (see --text-field)'

check "--tmpdir is checked at start: missing or not a directory is a usage error (exit 2)"
for cmd in scan dedup; do
    nd "$cmd" --tmpdir "$T/no-such-dir" "$T/pair.jsonl"
    assert_rc 2 "$cmd --tmpdir missing"
    assert_file_contains "$ERR" "$cmd: --tmpdir '$T/no-such-dir': No such file or directory"
    assert_empty_file "$OUT"
    nd "$cmd" --tmpdir "$T/pair.jsonl" "$T/pair.jsonl"
    assert_rc 2 "$cmd --tmpdir a file"
    assert_file_contains "$ERR" "--tmpdir '$T/pair.jsonl': not a directory"
done
mkdir "$T/spool"
nd dedup --tmpdir "$T/spool" "$T/pair.jsonl"
assert_rc 0 "a usable --tmpdir"

check "a bad \$TMPDIR is said at start and /tmp used instead (dedup from stdin spools there)"
nd dedup "$T/pair.jsonl"
cp "$OUT" "$T/dedup-good-tmpdir.jsonl"
run_in "$T/pair.jsonl" env TMPDIR="$T/no-such-dir" "$ND" dedup -
assert_rc 0 "dedup with a missing \$TMPDIR"
assert_file_contains "$ERR" "\$TMPDIR '$T/no-such-dir': No such file or directory; temporary files go to /tmp"
assert_same_file "$T/dedup-good-tmpdir.jsonl" "$OUT"
run_in "$T/pair.jsonl" env TMPDIR="$T/pair.jsonl" "$ND" dedup -
assert_rc 0 "dedup with a file as \$TMPDIR"
assert_file_contains "$ERR" "\$TMPDIR '$T/pair.jsonl': not a directory"
assert_same_file "$T/dedup-good-tmpdir.jsonl" "$OUT"
run_in "$T/pair.jsonl" env TMPDIR="$T/no-such-dir" "$ND" normalize
assert_file_not_contains "$ERR" "TMPDIR" "normalize writes no temporary file: nothing to say"

pass
