#!/usr/bin/env bash
# shellcheck disable=SC2016  # jq filters are single-quoted on purpose
# test_index.sh - the persistent index from the command line: index add,
# stats, query (against explain's Jaccard), --top, --threshold, duplicate
# ids and --replace, option mismatch, dedup --index with and without
# --update, remove and compact, determinism, usage errors.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"

CORPUS="$SRC/corpora/mixed-1k/docs.jsonl"
head -n 500 "$CORPUS" >"$T/A.jsonl"
tail -n 500 "$CORPUS" >"$T/B.jsonl"
DB="$T/db"
# the normalization profile and its version, as every output names it
PROFILE="$(printf '{"id":"x","text":"a b"}\n' | "$ND" normalize --quiet - | jq -r .profile)"
export PROFILE

dump() { mdb_dump -a -p "$1"; }

# ---- usage ----

check "help and usage errors"
for args in "index --help" "index add --help" "index stats --help" "index remove --help" "index compact --help" \
    "index verify --help" "query --help"; do
    # shellcheck disable=SC2086
    nd $args
    assert_rc 0 "neardup $args"
    assert_contains "$(cat "$OUT")" "Usage: neardup"
done
for args in "index" "index frob $DB" "query" "index add" "index stats $DB extra" "index remove $DB" \
    "index add $DB --unit paragraph" "dedup --update $T/A.jsonl" "dedup --index $DB --replace $T/A.jsonl" \
    "dedup --index $DB --unit line $T/A.jsonl" "query $DB --top 0 $T/A.jsonl" "index compact $DB --threads 2"; do
    # shellcheck disable=SC2086
    nd $args
    assert_rc 2 "neardup $args"
    [[ -s "$ERR" ]] || fail "no message for neardup $args"
done

# ---- add, stats, query ----

check "index add creates the index and reports what it did"
nd index add "$DB" "$T/A.jsonl"
assert_rc 0
assert_jq "$OUT" 'length == 1 and .[0].added == 500 and .[0].documents == 500 and .[0].replaced == 0 and .[0].profile == $ENV.PROFILE'
assert_file_contains "$ERR" "500 documents read"

check "index stats: documents, bytes, options, versions"
nd index stats "$DB"
assert_rc 0
assert_jq "$OUT" '.[0] | .documents == 500 and .removed == 0 and .band_entries == 8000 and .options.bands == 16
    and .options.rows == 8 and .options.threshold == 0.8 and .options.shingle == "auto" and .versions.format == 3
    and .versions.profile == $ENV.PROFILE and (.versions.unicode | length > 0) and .bytes_on_disk > 0
    and .bytes_per_document < 1536'

check "query: one line per input document, in input order, matches sorted and exact"
nd query "$DB" "$T/B.jsonl"
assert_rc 0
cp "$OUT" "$T/q.jsonl"
assert_eq 500 "$(line_count "$T/q.jsonl")" "query lines"
jq -r .id "$T/B.jsonl" >"$T/ids.expected"
jq -r .id "$T/q.jsonl" >"$T/ids.got"
assert_same_file "$T/ids.expected" "$T/ids.got" "ids in input order"
assert_jq "$T/q.jsonl" 'all(.[]; .profile == $ENV.PROFILE and (.matches | map(.jaccard) as $j | $j == ($j | sort | reverse)
    and all($j[]; . >= 0.8)))' "matches sorted by Jaccard, all >= 0.8"
pairs=$(jq -s '[.[].matches | length] | add' "$T/q.jsonl")
[[ $pairs -ge 30 ]] || fail "expected at least 30 matches, got $pairs"

check "every reported Jaccard is the one explain prints"
jq -r '.id as $b | .matches[] | "\($b) \(.id) \(.jaccard)"' "$T/q.jsonl" | head -n 25 >"$T/pairs"
while read -r b a j; do
    nd explain --json --id "$b" --id "$a" "$T/A.jsonl" "$T/B.jsonl"
    assert_rc 0
    J="$j" assert_jq "$OUT" '.[0].jaccard == ($ENV.J | tonumber) and .[0].candidate == true' "explain $b $a"
done <"$T/pairs"

check "--top 1 keeps the best match; --threshold 0.9 the matches at 0.9 or more"
nd query "$DB" --top 1 "$T/B.jsonl"
jq -c '{id, matches: .matches[:1]}' "$T/q.jsonl" >"$T/top.expected"
jq -c '{id, matches}' "$OUT" >"$T/top.got"
assert_same_file "$T/top.expected" "$T/top.got" "--top 1"
nd query "$DB" --threshold 0.9 "$T/B.jsonl"
jq -c '{id, matches: [.matches[] | select(.jaccard >= 0.9)]}' "$T/q.jsonl" >"$T/t9.expected"
jq -c '{id, matches}' "$OUT" >"$T/t9.got"
assert_same_file "$T/t9.expected" "$T/t9.got" "--threshold 0.9"

check "query output is the same for any --threads"
nd query "$DB" --threads 1 "$T/B.jsonl"
assert_same_file "$T/q.jsonl" "$OUT" "--threads 1"
nd query "$DB" --threads 3 "$T/B.jsonl"
assert_same_file "$T/q.jsonl" "$OUT" "--threads 3"

check "a query longer than one batch (query_cmd.c: 262,144 documents): each batch's matches as alone"
# the pipeline's blocks of shingle ids are freed batch by batch (doc_batch_adopt); B's
# documents before and after the first batch's end must be answered as on their own
{
    cat "$T/B.jsonl"
    awk 'BEGIN { for (i = 0; i < 262000; i++) printf "{\"id\":\"f%d\",\"text\":\"filler %d of the long query\"}\n", i, i }'
    cat "$T/B.jsonl"
} >"$T/long.jsonl"
nd query "$DB" --threads 2 "$T/long.jsonl"
assert_rc 0
assert_eq 263000 "$(line_count "$OUT")" "query lines"
head -n 500 "$OUT" >"$T/long.first"
tail -n 500 "$OUT" >"$T/long.last"
assert_same_file "$T/q.jsonl" "$T/long.first" "B before the batch's end"
assert_same_file "$T/q.jsonl" "$T/long.last" "B after it"
[[ $(grep -c '"matches":\[\]' "$OUT") -eq $((262000 + 2 * $(grep -c '"matches":\[\]' "$T/q.jsonl"))) ]] ||
    fail "a filler document has matches"

check "an empty document and stdin: matches []"
printf '{"id":"e","text":""}\n{"id":"x","text":"not in the index at all, no"}\n' >"$T/small.jsonl"
run_in "$T/small.jsonl" "$ND" query "$DB" -
assert_rc 0
assert_jq "$OUT" 'length == 2 and .[0] == {"id":"e","matches":[],"profile":$ENV.PROFILE} and .[1].matches == []'

# ---- ids ----

check "a duplicate id fails the run (exit 1, naming the id and its line); the index is unchanged"
dump "$DB" >"$T/before.dump"
cat "$T/B.jsonl" >"$T/B-and-A1.jsonl"
head -n 1 "$T/A.jsonl" >>"$T/B-and-A1.jsonl"
nd index add "$DB" "$T/B-and-A1.jsonl"
assert_rc 1
assert_file_contains "$ERR" "id \"d000001\" is already in the index"
assert_file_contains "$ERR" "B-and-A1.jsonl:501"
dump "$DB" >"$T/after.dump"
assert_same_file "$T/before.dump" "$T/after.dump" "index after a failed run"

check "--replace: the id now holds the new text"
printf '{"id":"d000001","text":"%s"}\n' "$(jq -r .text "$T/B.jsonl" | head -n 1)" >"$T/replace.jsonl"
nd index add "$DB" --replace "$T/replace.jsonl"
assert_rc 0
assert_jq "$OUT" '.[0].added == 1 and .[0].replaced == 1 and .[0].documents == 500 and .[0].removed == 1'
nd query "$DB" --top 1 "$T/replace.jsonl"
assert_jq "$OUT" '.[0].matches[0] == {"id":"d000001","jaccard":1}'

check "options that disagree with the index's: exit 2, naming the option and both values"
nd index add "$DB" --shingle words:3 "$T/B.jsonl"
assert_rc 2
assert_file_contains "$ERR" "option shingle: the index was made with auto (words:5, chars:5), given words:3"
nd query "$DB" --seed 5 "$T/B.jsonl"
assert_rc 2
assert_file_contains "$ERR" "option seed"
nd index add "$DB" --threshold 0.9 "$T/B.jsonl"
assert_rc 2
assert_file_contains "$ERR" "option threshold: the index was made with 0.8, given 0.9"
nd index add "$DB" --threshold 0.8000001 "$T/B.jsonl"
assert_rc 2
assert_file_contains "$ERR" "option threshold: the index was made with 0.8, given 0.8000001" # (was "given 0.8")
nd index add "$DB" --threshold 0.8 --bands 16 --rows 8 --normalize default "$T/replace.jsonl" --replace
assert_rc 0 "the index's own options, given explicitly"

# ---- dedup --index ----

check "dedup --index: the same output with and without --update"
rm -rf "$DB" && "$ND" index add --quiet "$DB" "$T/A.jsonl" >/dev/null
cp -r "$DB" "$T/db2"
nd dedup --index "$DB" "$T/B.jsonl"
assert_rc 0
cp "$OUT" "$T/dedup.jsonl"
kept=$(summary_field kept)
removed=$(summary_field removed)
assert_eq 500 "$((kept + removed))" "kept + removed"
[[ $removed -gt 10 ]] || fail "expected some removed documents, got $removed"
nd dedup --index "$T/db2" --update "$T/B.jsonl"
assert_rc 0
assert_same_file "$T/dedup.jsonl" "$OUT" "dedup --update output"
nd index stats "$DB"
assert_jq "$OUT" '.[0].documents == 500' "without --update the index is unchanged"
nd index stats "$T/db2"
K=$kept assert_jq "$OUT" '.[0].documents == 500 + ($ENV.K | tonumber)' "--update added the kept documents"

check "dedup --index with --output-dir or --removed-dir: refused (exit 2; they were taken, not written, and the removed records lost)"
mkdir -p "$T/kept-dir" "$T/removed-dir"
nd dedup --index "$DB" --output-dir "$T/kept-dir" --removed-dir "$T/removed-dir" "$T/B.jsonl"
assert_rc 2
assert_file_contains "$ERR" "use -o FILE and --removed FILE, not --output-dir"
assert_eq 0 "$(find "$T/kept-dir" "$T/removed-dir" -type f | wc -l | tr -d ' ')" "nothing written"

check "dedup --index --annotate: every dropped document reaches the threshold with its original"
nd dedup --index "$DB" --annotate "$T/B.jsonl"
assert_rc 0
assert_eq 500 "$(line_count "$OUT")"
R=$removed assert_jq "$OUT" '[.[] | select(.neardup.duplicate_of != null)] | length == ($ENV.R | tonumber)
    and all(.[]; .neardup.jaccard >= 0.8 and (.neardup.from == "index" or .neardup.from == "input"))'
jq -r 'select(.neardup.from == "input") | "\(.id) \(.neardup.duplicate_of) \(.neardup.jaccard)"' "$OUT" |
    head -n 5 >"$T/inpairs"
[[ -s "$T/inpairs" ]] || fail "no document dropped for an earlier one of the input"
while read -r b a j; do
    nd explain --json --id "$b" --id "$a" "$T/B.jsonl"
    J="$j" assert_jq "$OUT" '.[0].jaccard == ($ENV.J | tonumber)' "explain $b $a"
    grep -n "\"id\":\"$a\"" "$T/B.jsonl" | cut -d: -f1 >"$T/la"
    grep -n "\"id\":\"$b\"" "$T/B.jsonl" | cut -d: -f1 >"$T/lb"
    [[ $(cat "$T/la") -lt $(cat "$T/lb") ]] || fail "$a is not earlier than $b"
done <"$T/inpairs"

check "a second dedup --update of the same input drops everything"
nd dedup --index "$T/db2" --update "$T/B.jsonl"
assert_rc 0
assert_empty_file "$OUT"
assert_eq 0 "$(summary_field kept)"

check "dedup --update with one id on two kept documents: 'given twice', not 'already in the index' (exit 1, index unchanged)"
printf '{"id":"twice","text":"one two three four five six seven eight"}\n{"id":"twice","text":"quite another text with other words in it"}\n' >"$T/twice.jsonl"
nd index stats "$T/db2"
before=$(jq -c '.documents' "$OUT")
nd dedup --index "$T/db2" --update "$T/twice.jsonl"
assert_rc 1
assert_file_contains "$ERR" "id \"twice\" is given twice"
assert_file_not_contains "$ERR" "already in the index"
nd index stats "$T/db2"
assert_eq "$before" "$(jq -c '.documents' "$OUT")" "documents"
check "dedup --update --replace with one id on two kept documents: the summary says one replaced the other (it said 'kept 2, added' with one in the index)"
nd dedup --index "$T/db2" --update --replace "$T/twice.jsonl"
assert_rc 0
assert_file_contains "$ERR" "kept 2, removed 0"
assert_file_contains "$ERR" "kept ones added to the index (1 replacing others)"
nd index stats "$T/db2"
assert_eq "$((before + 1))" "$(jq -c '.documents' "$OUT")" "documents: one of the two kept"

check "query and dedup --index with -t below the index's threshold: a warning that the index's bands find such matches only by chance (nothing was said)"
for c in "query" "dedup --index"; do
    # shellcheck disable=SC2086 # $c: the command's words
    nd $c "$T/db2" -t 0.3 "$T/twice.jsonl"
    assert_rc 0 "$c -t 0.3"
    assert_file_contains "$ERR" "-t 0.3 is below the index's threshold 0.8"
    # shellcheck disable=SC2086
    nd $c "$T/db2" -t 0.9 "$T/twice.jsonl"
    assert_file_not_contains "$ERR" "below the index's threshold"
done

# ---- remove, compact ----

check "remove: unknown id fails and removes nothing; known ids stop matching"
nd index remove "$DB" --id d000001 --id nope
assert_rc 1
assert_file_contains "$ERR" "id \"nope\" is not in the index"
printf 'd000001\nd000002\r\n\n' >"$T/ids.txt"
nd index remove "$DB" --ids "$T/ids.txt"
assert_rc 0
assert_jq "$OUT" '.[0].removed == 2 and .[0].documents == 498'
head -n 2 "$T/A.jsonl" >"$T/A2.jsonl"
nd query "$DB" "$T/A2.jsonl"
assert_jq "$OUT" 'all(.[]; all(.matches[]; .id != "d000001" and .id != "d000002"))'

check "remove --ids FILE starting with a byte order mark (saved by an editor): skipped with a warning, the id found"
printf '\xef\xbb\xbfd000003\nd000004\n' >"$T/bom-ids.txt"
cp -r "$DB" "$T/db-bom"
nd index remove "$T/db-bom" --ids "$T/bom-ids.txt"
assert_rc 0 "remove with a BOM"
assert_file_contains "$ERR" "skipped a UTF-8 byte order mark"
assert_jq "$OUT" '.[0].removed == 2 and .[0].documents == 496'

check "compact: smaller file, same answers, removed ids can come back"
nd query "$DB" "$T/B.jsonl"
cp "$OUT" "$T/q-before.jsonl"
nd index compact "$DB"
assert_rc 0
assert_jq "$OUT" '.[0].bytes_after <= .[0].bytes_before and .[0].documents == 498 and .[0].removed_dropped == 2'
nd query "$DB" "$T/B.jsonl"
assert_same_file "$T/q-before.jsonl" "$OUT" "query after compact"
nd index stats "$DB"
assert_jq "$OUT" '.[0].removed == 0 and .[0].band_entries == 498 * 16'
nd index add "$DB" "$T/A2.jsonl"
assert_rc 0


check "an index inside a walked directory is not read as documents (its lock file was added as an empty one)"
mkdir -p "$T/walked"
head -n 20 "$T/A.jsonl" >"$T/walked/a.jsonl"
for run in 1 2; do
    nd index add "$T/walked/db" --replace "$T/walked/"
    assert_rc 0 "index add run $run"
    assert_file_contains "$ERR" "the index's own directory, not read"
    assert_jq "$OUT" '.[0].documents == 20 and .[0].empty == 0'
done
nd query "$T/walked/db" "$T/walked/"
assert_rc 0
assert_jq "$OUT" 'length == 20 and all(.[]; .id | startswith("d"))'
nd index add "$T/walked/db" "$T/walked/db"
assert_rc 1 "the index named as input"
assert_file_contains "$ERR" "that is the index"
# its files named one by one (data.mdb was added as a document of binary
# bytes, the lock file as an empty one, exit 0)
before="$("$ND" index stats "$T/walked/db" | jq .documents)"
for f in data.mdb neardup.lock; do
    nd index add "$T/walked/db" "$T/walked/db/$f"
    assert_rc 1 "the index's $f named as input"
    assert_file_contains "$ERR" "$T/walked/db/$f: a file of the index"
done
(cd "$T/walked/db" && run "$ND" query . data.mdb)
assert_file_contains "$ERR" "data.mdb: a file of the index"
ln -s db/data.mdb "$T/walked/link-to-data"
nd index add "$T/walked/db" "$T/walked/link-to-data"
assert_rc 1 "a symbolic link to the index's data.mdb"
assert_file_contains "$ERR" "link-to-data: a file of the index"
assert_eq "$before" "$("$ND" index stats "$T/walked/db" | jq .documents)" "documents in the index"

pass
