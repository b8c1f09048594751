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
