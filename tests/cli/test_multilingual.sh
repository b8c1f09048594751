#!/usr/bin/env bash
# test_multilingual.sh - scripts without spaces, normalization you can see
# (normalize), and explain: its exact Jaccard is the one scan reports.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"
FX="$SRC/tests/fixtures"

for lang in zh ja th; do
    check "$lang: a one-character edit in a 200-character paragraph is found at the defaults; an unrelated paragraph is not"
    nd scan "$FX/cjk/$lang-a.txt" "$FX/cjk/$lang-a-edit.txt" "$FX/cjk/$lang-other.txt"
    assert_rc 0
    assert_jq "$OUT" "length == 1 and (.[0].ids | map(split(\"/\") | last)) == [\"$lang-a.txt\", \"$lang-a-edit.txt\"]" "one pair"
    check "$lang: also with word shingles (ICU word breaking)"
    nd scan --shingle words:5 "$FX/cjk/$lang-a.txt" "$FX/cjk/$lang-a-edit.txt" "$FX/cjk/$lang-other.txt"
    assert_rc 0
    assert_jq "$OUT" "length == 1 and .[0].size == 2" "one pair with words:5"
done

check "normalize: tokens with byte spans that cut no character (Arabic, CJK, emoji, ZWJ, CRLF)"
nd normalize --shingles "$FX/paragraphs/mixed-scripts.txt" "$FX/arabic-news/page.txt" "$FX/normalize/persian-farsi.txt"
assert_rc 0
assert_valid_jsonl "$OUT"
python3 - "$OUT" <<'PY' || fail "normalize spans"
import json, sys, unicodedata
for line in open(sys.argv[1], encoding="utf-8"):
    d = json.loads(line)
    data = open(d["id"], "rb").read()
    assert d["profile"] == "default/3"
    assert len(d["tokens"]) == len(d["spans"]) > 0
    assert d["shingles"] == sorted(set(d["shingles"])) and d["shingle"] in ("words:5", "chars:5")
    prev_end = 0
    for tok, (s, e) in zip(d["tokens"], d["spans"]):
        piece = data[s:e].decode("utf-8")          # raises if a character is cut
        assert s >= prev_end, (tok, s, prev_end)
        prev_end = e
        # the piece never starts with a combining mark or a joiner
        assert not unicodedata.combining(piece[0]) and piece[0] not in "\u200d\u200c", (tok, piece)
        # NFKC-casefolded text of the piece contains the token (ignorable characters aside)
        norm = unicodedata.normalize("NFKC", piece).casefold()
        assert tok.replace("\u0307", "")[:1] in norm or tok[:1] in norm, (tok, piece)
print("normalize ok")
PY

check "normalize --normalize aggressive: Arabic written with hamza forms, tashkeel and tatweel equals the plain spelling"
nd normalize --normalize aggressive "$FX/normalize/arabic-tashkeel.txt" "$FX/normalize/arabic-plain.txt"
assert_rc 0
assert_jq "$OUT" '.[0].tokens == .[1].tokens and .[0].profile == "aggressive/3"' "same tokens under aggressive"
nd normalize "$FX/normalize/arabic-tashkeel.txt" "$FX/normalize/arabic-plain.txt"
assert_jq "$OUT" '.[0].tokens != .[1].tokens' "different tokens under default"
nd normalize --normalize aggressive "$FX/normalize/persian-farsi.txt" "$FX/normalize/persian-arabic.txt"
assert_jq "$OUT" '.[0].tokens == .[1].tokens' "Farsi yeh/keheh fold under aggressive"

check "explain on two rewrites of the Arabic page: shared runs, and the exact Jaccard scan reports"
nd scan "$FX/arabic-news/page.txt" "$FX/arabic-news/rewrite-drop.txt"
assert_rc 0
scan_j="$(jq -r '.jaccard[1]' "$OUT")"
nd explain --json "$FX/arabic-news/page.txt" "$FX/arabic-news/rewrite-drop.txt"
assert_rc 0
assert_eq "$scan_j" "$(jq -r .jaccard "$OUT")" "explain's exact Jaccard = scan's"
assert_jq "$OUT" '.[0] | .match and .candidate and (.runs | length) >= 2 and .runs[0].tokens > 100' "match with long shared runs"
python3 - "$OUT" "$FX/arabic-news/page.txt" "$FX/arabic-news/rewrite-drop.txt" <<'PY' || fail "run spans"
import json, sys
d = json.load(open(sys.argv[1]))
a, b = open(sys.argv[2], "rb").read(), open(sys.argv[3], "rb").read()
for r in d["runs"]:
    pa, pb = a[r["a"][0]:r["a"][1]].decode(), b[r["b"][0]:r["b"][1]].decode()
    assert pa.split() == pb.split(), "a shared run must be the same words in both texts"
PY
nd explain "$FX/arabic-news/page.txt" "$FX/arabic-news/other-same-subject.txt"
assert_rc 0
assert_contains "$(cat "$OUT")" "verdict              no match" "report"

check "explain --id picks two documents of one input; errors are clear"
printf '{"id":"x","text":"one two three four five six seven"}\n{"id":"y","text":"one two three four five six eight"}\n{"id":"z","text":"other"}\n' > "$T/three.jsonl"
nd explain --json --id y --id x "$T/three.jsonl"
assert_rc 0
assert_jq "$OUT" '.[0].a.id == "y" and .[0].b.id == "x" and .[0].shared_shingles == 2' "by id"
nd explain --id x --id nope "$T/three.jsonl"
assert_rc 1
assert_contains "$(cat "$ERR")" "no document with id 'nope'"
nd explain --id x --id x "$T/three.jsonl"
assert_rc 1
assert_contains "$(cat "$ERR")" "--id 'x' is given twice, and only one document in the inputs has that id" \
    "one id named twice (not 'no document with id')"
# ids need not be unique: which of several documents is explained is said
printf '{"id":"y","text":"one two three four five six nine"}\n' | cat "$T/three.jsonl" - > "$T/twice.jsonl"
nd explain --json --id y --id x "$T/twice.jsonl"
assert_rc 0
assert_jq "$OUT" '.[0].a.id == "y" and .[0].shared_shingles == 2' "the first y"
assert_contains "$(cat "$ERR")" "explain: 2 documents have id 'y'; the first in input order is explained"
nd explain --id y --id y "$T/twice.jsonl"
assert_rc 0
assert_not_contains "$(cat "$ERR")" "documents have id" "two documents for --id y twice: nothing to say"
nd explain "$T/three.jsonl" "$FX/cjk/zh-a.txt"
assert_rc 1
nd explain "$T/three.jsonl"
assert_rc 2
pass
