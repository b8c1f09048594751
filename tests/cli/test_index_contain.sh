#!/usr/bin/env bash
# shellcheck disable=SC2016  # jq filters are single-quoted on purpose
# test_index_contain.sh - a persistent index made with --measure
# containment: `query` reports exactly the cross pairs (query in B, match
# in A) that `scan --pairs --measure containment` finds on A and B
# together, with the same numbers, in both directions (excerpts of indexed
# articles, indexed excerpts inside queried articles); the index records
# its measure (format 2); thresholds below the index's, another --measure,
# and dedup --index are refused (exit 2); output is the same for any
# --threads.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"

python3 "$SRC/scripts/gen-corpus" --kind excerpts --docs 600 --seed 11 --out "$T/corpus" >/dev/null
head -n 300 "$T/corpus/docs.jsonl" >"$T/A.jsonl"
tail -n 300 "$T/corpus/docs.jsonl" >"$T/B.jsonl"
DB="$T/db"

check "index add --measure containment; stats name the measure and format 2"
nd index add "$DB" --measure containment "$T/A.jsonl"
assert_rc 0
assert_jq "$OUT" '.[0].added == 300'
nd index stats "$DB"
assert_rc 0
assert_jq "$OUT" '.[0] | .versions.format == 2 and .options.measure == "containment" and .options.min_shingles == 20
    and .band_entries > 300 * 100'

check "query: exactly the cross pairs of scan --pairs --measure containment, same numbers"
nd query "$DB" "$T/B.jsonl"
assert_rc 0
cp "$OUT" "$T/q.jsonl"
assert_eq 300 "$(line_count "$T/q.jsonl")" "query lines"
# each pair as "A-id B-id jaccard a_in_b b_in_a", A the indexed document
jq -r '.id as $b | .matches[] | [.id, $b, .jaccard, .match_in_query, .query_in_match] | @tsv' "$T/q.jsonl" |
    sort >"$T/got.tsv"
jq -r .id "$T/A.jsonl" | sort >"$T/A.ids"
nd scan --pairs --measure containment "$T/A.jsonl" "$T/B.jsonl"
assert_rc 0
jq -r '[.a, .b, .jaccard, .a_in_b, .b_in_a] | @tsv' "$OUT" >"$T/all.tsv"
# keep the pairs with one side in A, the other in B; A first
awk -F'\t' -v OFS='\t' 'NR == FNR { inA[$1] = 1; next }
    ($1 in inA) && !($2 in inA) { print; next }
    ($2 in inA) && !($1 in inA) { print $2, $1, $3, $5, $4 }' "$T/A.ids" "$T/all.tsv" | sort >"$T/expected.tsv"
assert_same_file "$T/expected.tsv" "$T/got.tsv" "query pairs against scan --pairs"
n=$(line_count "$T/got.tsv")
[[ $n -ge 20 ]] || fail "expected at least 20 cross pairs, got $n"
# both directions, most below the Jaccard threshold
awk -F'\t' '$3 < 0.8 && $4 >= 0.8 { a++ } $3 < 0.8 && $5 >= 0.8 { b++ } END { exit !(a >= 5 && b >= 5) }' \
    "$T/got.tsv" || fail "expected indexed texts inside queries and queries inside indexed texts"
assert_jq "$T/q.jsonl" 'all(.[]; .matches | map([.query_in_match, .match_in_query] | max) as $c
    | $c == ($c | sort | reverse))' "matches sorted by the larger containment"

check "query --min-shingles with the index's own value (20) is accepted, alone and with --measure containment"
nd query "$DB" "$T/B.jsonl"
cp "$OUT" "$T/plain-query.jsonl"
nd query "$DB" --min-shingles 20 "$T/B.jsonl"
assert_rc 0 "--min-shingles 20 (it was refused, naming a --measure never given)"
assert_same_file "$T/plain-query.jsonl" "$OUT" "the same answers"
nd query "$DB" --measure containment --min-shingles 20 "$T/B.jsonl"
assert_rc 0
assert_same_file "$T/plain-query.jsonl" "$OUT" "the same answers"

check "query output is the same for any --threads; --top 1"
nd query "$DB" --threads 3 "$T/B.jsonl"
assert_same_file "$T/q.jsonl" "$OUT" "--threads 3"
nd query "$DB" --top 1 "$T/B.jsonl"
jq -c '{id, matches: .matches[:1]}' "$T/q.jsonl" >"$T/top.expected"
jq -c '{id, matches}' "$OUT" >"$T/top.got"
assert_same_file "$T/top.expected" "$T/top.got" "--top 1"

check "refused: a threshold below the index's, another measure, dedup --index (exit 2)"
nd query "$DB" --threshold 0.7 "$T/B.jsonl"
assert_rc 2
assert_file_contains "$ERR" "thresholds of at least"
nd query "$DB" --measure jaccard "$T/B.jsonl"
assert_rc 2
assert_file_contains "$ERR" "option measure"
nd query "$DB" --min-shingles 5 "$T/B.jsonl"
assert_rc 2
assert_file_contains "$ERR" "option min_shingles: the index was made with 20, given 5"
nd dedup --index "$DB" "$T/B.jsonl"
assert_rc 2
assert_file_contains "$ERR" "containment index"
[[ ! -s "$OUT" ]] || fail "dedup wrote output after refusing"

check "a Jaccard index refuses --measure containment on query; index add of more documents stays exact"
nd index add "$T/jdb" "$T/A.jsonl"
assert_rc 0
nd query "$T/jdb" --measure containment "$T/B.jsonl"
assert_rc 2
nd index add "$DB" --measure containment "$T/B.jsonl"
assert_rc 0
nd query "$DB" --threshold 0.9 "$T/A.jsonl"
assert_rc 0
jq -r '.id as $b | .matches[] | select(.id != $b) | .id' "$OUT" | sort -u >"$T/matched.ids"
[[ -s "$T/matched.ids" ]] || fail "no matches of A against A+B"

pass
