#!/usr/bin/env bash
# shellcheck disable=SC2016  # jq filters are single-quoted on purpose
# test_arabic_fixture.sh - scan tests/fixtures/arabic-news/: the page and its
# three rewrites form one cluster; the other article on the same subject
# stays out (see tests/fixtures/README.md for the expected Jaccards).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"

FIX="$SRC/tests/fixtures/arabic-news"
[[ -f "$FIX/page.txt" ]] || fail "fixture directory $FIX is missing"

# check_cluster PREFIX: stdout is exactly one cluster of the four expected
# files (ids PREFIX<name>), page.txt first, jaccard [1, >=0.8 x3] matching
# the fixture README's numbers.
check_cluster() {
    local p="$1"
    assert_rc 0
    assert_valid_jsonl "$OUT"
    assert_eq 1 "$(line_count "$OUT")" "number of clusters"
    assert_jq "$OUT" '.[0].cluster == 0' "cluster number is 0"
    P="$p" assert_jq "$OUT" '$ENV.P as $p | .[0].ids == ([$p + "page.txt", $p + "rewrite-drop.txt", $p + "rewrite-footer.txt", $p + "rewrite-word.txt"])' \
        "ids are page.txt, rewrite-drop.txt, rewrite-footer.txt, rewrite-word.txt (prefix '$p')"
    assert_jq "$OUT" '.[0].size == 4' "size is 4"
    assert_jq "$OUT" 'all(.[0].ids[]; contains("other-same-subject") | not)' "other-same-subject.txt is not in the cluster"
    assert_jq "$OUT" '.[0].jaccard | length == 4' "jaccard has 4 entries"
    assert_jq "$OUT" '.[0].jaccard[0] == 1' "jaccard[0] (the survivor) is 1"
    assert_jq "$OUT" 'all(.[0].jaccard[1:][]; . >= 0.8 and . < 1)' "jaccard[1:] are in [0.8, 1)"
    # README: drop 0.8842, footer 0.8864, word 0.9830 (its tokenizer is a
    # close approximation of the default profile on this text).
    assert_jq "$OUT" '.[0].jaccard[1:] as [$d, $f, $w] | ($d - 0.8842 | fabs) < 0.01 and ($f - 0.8864 | fabs) < 0.01 and ($w - 0.9830 | fabs) < 0.01' \
        "jaccard values match the fixture README (0.8842, 0.8864, 0.9830)"
}

check "scan DIR/: one cluster, page.txt first, not other-same-subject.txt"
nd scan "$FIX/"
check_cluster "$FIX/"
assert_eq 5 "$(summary_field 'documents read')" "documents read"
assert_eq 1 "$(summary_field clusters)" "clusters in the summary"
assert_eq 3 "$(summary_field duplicates)" "duplicates in the summary"

check "relative path from the repository root (ids are the paths as given)"
(cd "$SRC" && "$ND" scan tests/fixtures/arabic-news/) >"$OUT" 2>"$ERR" && RC=0 || RC=$?
check_cluster "tests/fixtures/arabic-news/"
(cd "$SRC" && "$ND" scan tests/fixtures/arabic-news) >"$OUT" 2>"$ERR" && RC=0 || RC=$?
check_cluster "tests/fixtures/arabic-news/"

check "the files listed one by one, in a different order: same cluster, survivor is the first given"
nd scan "$FIX/rewrite-word.txt" "$FIX/other-same-subject.txt" "$FIX/page.txt" "$FIX/rewrite-drop.txt" "$FIX/rewrite-footer.txt"
assert_rc 0
assert_eq 1 "$(line_count "$OUT")" "number of clusters"
P="$FIX/" assert_jq "$OUT" '$ENV.P as $p | .[0].ids[0] == $p + "rewrite-word.txt"' "survivor is rewrite-word.txt (first given)"
P="$FIX/" assert_jq "$OUT" '$ENV.P as $p | .[0].ids[1:] == [$p + "page.txt", $p + "rewrite-drop.txt", $p + "rewrite-footer.txt"]' \
    "the other members follow in input order"
assert_jq "$OUT" '.[0].jaccard[0] == 1 and all(.[0].jaccard[1:][]; . >= 0.8)' "jaccard with the survivor"

check "--keep longest: the longest file that matches all others survives (rewrite-footer.txt does not: J 0.78 with rewrite-drop.txt)"
longest="$(cd "$FIX" && for f in page.txt rewrite-drop.txt rewrite-footer.txt rewrite-word.txt; do echo "$(wc -c <"$f") $f"; done | sort -k1,1nr | awk 'NR == 1 {print $2}')"
assert_eq rewrite-footer.txt "$longest" "the longest of the four files"
nd scan --keep longest "$FIX/rewrite-drop.txt" "$FIX/rewrite-word.txt" "$FIX/rewrite-footer.txt" "$FIX/page.txt"
assert_rc 0
# Every member must reach the threshold with the survivor itself (no
# chaining): J(rewrite-drop, rewrite-footer) = 0.777 < 0.8, so the footer
# rewrite cannot be the survivor; the next longest that matches all can.
# (ties go to the earlier input: rewrite-word.txt is given before page.txt)
second="$(cd "$FIX" && for f in rewrite-word.txt page.txt; do echo "$(wc -c <"$f") $f"; done | sort -s -k1,1nr | awk 'NR == 1 {print $2}')"
P="$FIX/" S="$second" assert_jq "$OUT" '$ENV.P as $p | length == 1 and .[0].ids[0] == $p + $ENV.S and (.[0].ids | length) == 4' \
    "one cluster of all four, survivor $second"
assert_jq "$OUT" '.[0].jaccard[0] == 1 and all(.[0].jaccard[1:][]; . >= 0.8 and . < 1)' "jaccard with the survivor"
nd scan --keep first "$FIX/rewrite-drop.txt" "$FIX/rewrite-word.txt" "$FIX/rewrite-footer.txt" "$FIX/page.txt"
# rewrite-drop.txt is first but does not match rewrite-footer.txt (0.777), so
# the earliest file that matches all three others survives: rewrite-word.txt.
P="$FIX/" assert_jq "$OUT" '$ENV.P as $p | length == 1 and .[0].ids == [$p + "rewrite-word.txt", $p + "rewrite-drop.txt", $p + "rewrite-footer.txt", $p + "page.txt"]' \
    "--keep first, same order: rewrite-word.txt (the earliest that matches all) survives; all four stay"

check "--threshold 0.99: the rewrites no longer match"
nd scan --threshold 0.99 "$FIX"
assert_rc 0
assert_empty_file "$OUT" "scan --threshold 0.99 output"

check "--threshold 0.95: only rewrite-word.txt (0.983) stays with page.txt"
nd scan --threshold 0.95 "$FIX"
assert_rc 0
P="$FIX/" assert_jq "$OUT" '$ENV.P as $p | length == 1 and .[0].ids == [$p + "page.txt", $p + "rewrite-word.txt"]' \
    "one cluster: page.txt, rewrite-word.txt"

check "the fixture via stdin as JSON Lines gives the same grouping"
python3 - "$FIX" >"$T/arabic.jsonl" <<'EOF'
import json, os, sys
d = sys.argv[1]
for name in sorted(os.listdir(d)):
    with open(os.path.join(d, name), encoding="utf-8") as f:
        print(json.dumps({"id": name, "text": f.read()}, ensure_ascii=False))
EOF
run_in "$T/arabic.jsonl" "$ND" scan
check_cluster ""

pass
