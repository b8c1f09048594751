#!/usr/bin/env bash
# shellcheck disable=SC2016  # jq filters are single-quoted on purpose
# test_distinct_and_copies.sh - the two extremes: 1,000 distinct short texts
# give no cluster at all; 1,000 copies of one text give exactly one cluster
# of 1,000. As JSON Lines and as plain text with --lines.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"

# 1,000 distinct ordered triples over a 12-word vocabulary: many texts share
# one or two words, some are permutations of each other ("a b c" / "c b a"),
# so they are distinct only as word sequences. A text shorter than the
# shingle size is one shingle of all its words: no two may match.
python3 - "$T" <<'EOF'
import itertools, json, random, sys
t = sys.argv[1]
vocab = ["river", "stone", "apple", "cloud", "green", "seven", "table",
         "music", "paper", "light", "north", "glass"]
triples = list(itertools.product(vocab, repeat=3))
random.Random(20240601).shuffle(triples)
triples = triples[:1000]
# make sure permutations of the same words are in the set
assert any(tuple(reversed(a)) in set(triples) for a in triples if len(set(a)) == 3)
with open(f"{t}/distinct.jsonl", "w") as f, open(f"{t}/distinct.txt", "w") as g:
    for i, tr in enumerate(triples):
        f.write(json.dumps({"id": f"d{i:04d}", "text": " ".join(tr)}) + "\n")
        g.write(" ".join(tr) + "\n")
text = "The quick brown fox jumps over the lazy dog near the river bank"
with open(f"{t}/copies.jsonl", "w") as f, open(f"{t}/copies.txt", "w") as g:
    for i in range(1000):
        f.write(json.dumps({"id": f"c{i:04d}", "text": text, "n": i}) + "\n")
        # mixed line endings and case/spacing that normalization removes
        variant = [text, text.upper(), "  " + text.replace(" ", "   ") + "  ", text + "\r"][i % 4]
        g.write(variant + "\n")
EOF

check "1,000 distinct three-word texts (JSONL): no clusters, empty stdout"
nd scan "$T/distinct.jsonl"
assert_rc 0
assert_empty_file "$OUT" "scan stdout"
assert_eq 1000 "$(summary_field 'documents read')" "documents read"
assert_eq 0 "$(summary_field clusters)" "clusters"
assert_eq 0 "$(summary_field empty)" "empty"

check "1,000 distinct texts at a low threshold (0.1) still give no clusters"
nd scan --threshold 0.1 "$T/distinct.jsonl"
assert_rc 0
assert_empty_file "$OUT" "scan --threshold 0.1 stdout"

check "1,000 distinct texts with --lines: no clusters"
nd scan --lines "$T/distinct.txt"
assert_rc 0
assert_empty_file "$OUT" "scan --lines stdout"
assert_eq 1000 "$(summary_field 'documents read')" "documents read"

check "1,000 distinct texts: dedup keeps every line unchanged"
nd dedup "$T/distinct.jsonl"
assert_rc 0
assert_same_file "$T/distinct.jsonl" "$OUT" "dedup output vs input"
assert_eq 1000 "$(summary_field kept)" "kept"
assert_eq 0 "$(summary_field removed)" "removed"

check "1,000 copies (JSONL): exactly one cluster of size 1000, ids in input order, all jaccard 1"
nd scan "$T/copies.jsonl"
assert_rc 0
assert_valid_jsonl "$OUT"
assert_eq 1 "$(line_count "$OUT")" "number of clusters"
assert_jq "$OUT" '.[0].size == 1000 and (.[0].ids | length) == 1000' "size 1000"
assert_jq "$OUT" '.[0].ids == [range(1000) | "c\(. | tostring | ("000" + .)[-4:])"]' "ids c0000 .. c0999 in order"
assert_jq "$OUT" '(.[0].jaccard | length) == 1000 and all(.[0].jaccard[]; . == 1)' "all jaccard 1"
assert_jq "$OUT" '.[0].cluster == 0' "cluster number 0"
assert_eq 1 "$(summary_field clusters)" "clusters in the summary"
assert_eq 999 "$(summary_field duplicates)" "duplicates in the summary"

check "1,000 copies: dedup keeps only the first line, byte for byte"
nd dedup --removed "$T/removed.jsonl" "$T/copies.jsonl"
assert_rc 0
head -n 1 "$T/copies.jsonl" >"$T/first.jsonl"
assert_same_file "$T/first.jsonl" "$OUT" "dedup output"
tail -n +2 "$T/copies.jsonl" >"$T/rest.jsonl"
strip_neardup "$T/removed.jsonl" >"$T/removed-stripped.jsonl"
assert_same_file "$T/rest.jsonl" "$T/removed-stripped.jsonl" "--removed file, \"neardup\" members taken out"
assert_jq "$T/removed.jsonl" 'all(.[]; .neardup.size == 1000 and .neardup.jaccard == 1)' \
    "each removed copy: cluster size 1000, Jaccard 1"
assert_eq 1 "$(summary_field kept)" "kept"
assert_eq 999 "$(summary_field removed)" "removed"

check "1,000 copies with --lines (upper case, extra spaces, CRLF variants): one cluster of 1000"
nd scan --lines "$T/copies.txt"
assert_rc 0
assert_eq 1 "$(line_count "$OUT")" "number of clusters"
P="$T/copies.txt" assert_jq "$OUT" '.[0].size == 1000 and .[0].ids == [range(1; 1001) | "\($ENV.P):\(.)"]' \
    "ids FILE:1 .. FILE:1000 in order"
assert_jq "$OUT" 'all(.[0].jaccard[]; . == 1)' "all jaccard 1"

check "1,000 copies via stdin with --lines: ids -:1 .. -:1000"
run_in "$T/copies.txt" "$ND" scan --lines
assert_rc 0
assert_jq "$OUT" 'length == 1 and .[0].size == 1000 and .[0].ids[0] == "-:1" and .[0].ids[999] == "-:1000"' "one cluster, stdin ids"

check "without --lines the copies file is one document: no clusters"
nd scan "$T/copies.txt"
assert_rc 0
assert_empty_file "$OUT" "scan stdout"
assert_eq 1 "$(summary_field 'documents read')" "documents read"

check "distinct and copies together: exactly the one cluster of copies"
nd scan "$T/distinct.jsonl" "$T/copies.jsonl"
assert_rc 0
assert_jq "$OUT" 'length == 1 and .[0].size == 1000 and .[0].ids[0] == "c0000"' "one cluster of the 1000 copies"

pass
