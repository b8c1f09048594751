#!/usr/bin/env bash
# shellcheck disable=SC2016  # jq filters are single-quoted on purpose
# test_keep.sh - --keep min:FIELD / max:FIELD (numbers as numbers, strings
# as strings, records without the field last, ties in input order), in
# document and unit modes; a field of the wrong type is an error naming
# FILE:LINE; and a unit group's preview comes from its earliest occurrence
# even when a later one is kept.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"

# Three groups of copies of one 60-word text each (distinct words per
# group), records carrying dates and numbers in every form the order must
# handle: ISO strings, an escaped string, integers, reals, null, missing,
# and one record parsed by jansson (a nested member keeps it off the fast
# path).
python3 - "$T" <<'EOF'
import json, sys
t = sys.argv[1]
def text(g):
    return " ".join("g%dw%d" % (g, i) for i in range(60))
rows = [
    # group 0: dates as strings; the earliest is c, the latest b; d has none
    {"id": "a", "date": "2015-08-02", "n": 5, "text": text(0)},
    {"id": "b", "date": "2015-08-09", "n": 7.5, "text": text(0)},
    {"id": "c", "date": "2015-07-30", "n": -1, "nested": {"x": [1, 2]}, "text": text(0)},
    {"id": "d", "date": None, "text": text(0)},
    # group 1: numbers; e and f tie on the smallest (input order: e), g has none
    {"id": "e", "date": 20150801, "n": 3, "text": text(1)},
    {"id": "f", "date": 20150801, "n": 30, "text": text(1)},
    {"id": "g", "text": text(1)},
    {"id": "h", "date": 20150810.5, "n": 1e2, "text": text(1)},
    # group 2: nobody has the field: input order
    {"id": "i", "text": text(2)},
    {"id": "j", "text": text(2)},
]
with open(f"{t}/in.jsonl", "w") as f:
    for r in rows:
        f.write(json.dumps(r) + "\n")
    # an escaped string: "\u0032015-07-01" is "2015-07-01", the earliest of group 0 once decoded
    f.write('{"id": "k", "date": "\\u0032015-07-01", "text": "%s"}\n' % text(0))
EOF

survivors() { jq -r -s 'map(.ids[0]) | join(" ")' "$OUT"; }

check "--keep min:date keeps the smallest value (strings byte by byte, numbers as numbers, escapes decoded)"
nd scan --keep min:date "$T/in.jsonl"
assert_rc 0
assert_eq "k e i" "$(survivors)" "survivors (min:date)"

check "--keep max:date keeps the largest; records without the field stay last"
nd scan --keep max:date "$T/in.jsonl"
assert_rc 0
assert_eq "b h i" "$(survivors)" "survivors (max:date)"

check "--keep min:n / max:n: integers and reals compare as numbers; nobody has it: input order"
nd scan --keep min:n "$T/in.jsonl"
assert_eq "c e i" "$(survivors)" "survivors (min:n)"
nd scan --keep max:n "$T/in.jsonl"
assert_eq "b h i" "$(survivors)" "survivors (max:n)"
nd scan --keep min:nosuchfield "$T/in.jsonl"
assert_eq "a e i" "$(survivors)" "survivors (min:nosuchfield = input order)"
assert_file_contains "$ERR" "--keep min:nosuchfield: none of the 11 JSON records has a value in this field" \
    "a field no record has is warned about"
nd scan --keep min:date "$T/in.jsonl"
assert_file_not_contains "$ERR" "has a value in this field" "no warning when records have the field"

check "--keep min:FIELD takes a dot path into nested objects, on the fast path and through jansson"
# b's meta.date is the earliest; in the second file every text holds an
# escape (\u00e9), which sends the records through jansson.
python3 - "$T" <<'EOF2'
import json, sys
t = sys.argv[1]
body = " ".join("nw%d" % i for i in range(60))
for name, extra in (("nested", ""), ("nested-escaped", " caf\u00e9")):
    with open(f"{t}/{name}.jsonl", "w") as f:
        for rid, date in (("a", "2020-02-01"), ("b", "2020-01-01"), ("c", "2020-03-01")):
            f.write('{"id": "%s", "text": "%s%s", "meta": {"date": "%s"}}\n' % (rid, body, extra, date))
EOF2
for name in nested nested-escaped; do
    nd scan --keep min:meta.date "$T/$name.jsonl"
    assert_rc 0
    assert_eq "b" "$(survivors)" "survivor (min:meta.date, $name)"
    nd scan --keep max:meta.date "$T/$name.jsonl"
    assert_eq "c" "$(survivors)" "survivor (max:meta.date, $name)"
    assert_file_not_contains "$ERR" "has a value in this field" "no warning ($name)"
done

check "members after the survivor stay in input order; dedup keeps the same survivors"
nd scan --keep min:date "$T/in.jsonl"
assert_jq "$OUT" '.[0].ids == ["k","a","b","c","d"]' "group 0 members"
nd dedup --keep min:date "$T/in.jsonl"
assert_rc 0
assert_eq "e i k" "$(jq -r -s 'map(.id) | join(" ")' "$OUT")" "dedup keeps, in input order"

check "--threads 1 and 4 agree"
nd scan --keep max:date --threads 1 "$T/in.jsonl"
cp "$OUT" "$T/t1"
nd scan --keep max:date --threads 4 "$T/in.jsonl"
assert_same_file "$T/t1" "$OUT" "--threads 1 vs 4"

check "a field that is neither a number nor a string: exit 1 naming FILE:LINE; --on-error skip skips it"
printf '{"id":"x","date":true,"text":"%s"}\n' "alpha beta gamma delta epsilon zeta eta" >"$T/bad.jsonl"
printf '{"id":"y","date":"2015","text":"%s"}\n' "alpha beta gamma delta epsilon zeta eta" >>"$T/bad.jsonl"
printf '{"id":"z","date":[1],"text":"%s"}\n' "alpha beta gamma delta epsilon zeta eta" >>"$T/bad.jsonl"
nd scan --keep min:date "$T/bad.jsonl"
assert_rc 1
assert_file_contains "$ERR" "$T/bad.jsonl:1"
assert_file_contains "$ERR" '"date"'
assert_empty_file "$OUT" "stdout"
nd dedup --keep max:date --on-error skip "$T/bad.jsonl"
assert_rc 0
assert_eq 2 "$(summary_field skipped)" "skipped"
assert_file_contains "$ERR" "$T/bad.jsonl:3"
assert_eq 1 "$(line_count "$OUT")" "records written"

check "--unit line --keep min:date: the occurrence kept is the one in the earliest document"
python3 - "$T" <<'EOF'
import json, sys
t = sys.argv[1]
shared = "this repeated line is long enough to be compared on its own words"
rows = [("p1", "2015-08-03", "first page intro\n" + shared),
        ("p2", "2015-08-01", shared + "\nsecond page words"),
        ("p3", "2015-08-02", "third\n" + shared)]
with open(f"{t}/units.jsonl", "w") as f:
    for rid, date, text in rows:
        f.write(json.dumps({"id": rid, "date": date, "text": text}) + "\n")
EOF
nd scan --unit line --keep min:date "$T/units.jsonl"
assert_rc 0
assert_jq "$OUT" 'length == 1 and ([.[0].occurrences[].id] == ["p2","p1","p3"])' "p2's occurrence is kept"
assert_jq "$OUT" '.[0].text == "this repeated line is long enough to be compared on its own words"' "preview"
nd dedup --unit line --keep min:date "$T/units.jsonl"
assert_rc 0
assert_jq "$OUT" '[.[].text] == ["first page intro", "this repeated line is long enough to be compared on its own words\nsecond page words", "third"]' \
    "the line is removed from p1 and p3, kept in p2"

check "--unit line: a group's preview is its earliest occurrence, also when a later one is kept (a group after it starts earlier than its survivor)"
# e0 ~ e2 ~ e3 with e0 and e3 apart: the survivor is e2, the earliest e0;
# the group of e1 and e4 comes next. The preview of that second group used
# to be cut from e2's text.
printf 'w1 w2 w3 w4 w5 w6 w7 w8 w9 w10\n' >"$T/e0.txt"
printf 'zz yy xx ww vv uu tt ss rr qq\n' >"$T/e1.txt"
printf 'w1 w2 w3 w4 w5 w6 w7 w8 w9 x1\n' >"$T/e2.txt"
printf 'w1 w2 w3 w4 w5 w6 w7 w8 x1 x2\n' >"$T/e3.txt"
printf 'some other line first\nzz yy xx ww vv uu tt ss rr qq\n' >"$T/e4.txt"
nd scan --unit line --shingle words:1 --bands 64 --rows 2 "$T/e0.txt" "$T/e1.txt" "$T/e2.txt" "$T/e3.txt" "$T/e4.txt"
assert_rc 0
assert_eq 2 "$(line_count "$OUT")" "groups"
assert_jq "$OUT" '.[0].occurrences[0].id | endswith("e2.txt")' "the first group keeps e2"
assert_jq "$OUT" '.[0].text == "w1 w2 w3 w4 w5 w6 w7 w8 w9 w10"' "first group's preview: e0's line"
assert_jq "$OUT" '.[1].text == "zz yy xx ww vv uu tt ss rr qq"' "second group's preview: its own text"

check "--keep max:FIELD on one large cluster is linear: 80k copies take less than 16x 10k (members were put back in input order by insertion: 13 s against 0.3 s)"
python3 - "$T" <<'PY'
import json, sys
text = " ".join("w%d" % i for i in range(30))
for n in (10000, 80000):
    with open("%s/copies%d.jsonl" % (sys.argv[1], n), "w") as f:
        for i in range(n):
            f.write(json.dumps({"id": "d%d" % i, "text": text, "date": i}) + "\n")
PY
secs() { seconds "$ND" scan --quiet --threads 1 --keep max:date "$T/copies$1.jsonl"; } # secs N: of N copies
small=$(secs 10000)
large=$(secs 80000)
echo "  10k copies: ${small} s, 80k copies: ${large} s"
python3 -c "import sys; sys.exit(0 if $large < 16 * $small + 1.0 else 1)" ||
    fail "80k copies took ${large} s against ${small} s for 10k"
rm -f "$T"/copies*.jsonl

pass
