#!/usr/bin/env bash
# test_paragraphs.sh - --unit paragraph|line: repeated headlines inside one
# page, boilerplate across pages, near-duplicate paragraphs, spans that never
# cut a character (Arabic, CJK, emoji, CRLF).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"
FX="$SRC/tests/fixtures"

# Cut every occurrence's span out of the original bytes and check it: valid
# UTF-8, on character boundaries, and (for plain files) equal to what the
# group's members should be.
check_spans() { # check_spans SCAN_OUTPUT  (ids are file paths)
    python3 - "$1" <<'PY'
import json, sys
for line in open(sys.argv[1], encoding="utf-8"):
    g = json.loads(line)
    for occ in g["occurrences"]:
        data = open(occ["id"], "rb").read()
        s, e = occ["start"], occ["end"]
        assert 0 <= s < e <= len(data), occ
        piece = data[s:e]
        piece.decode("utf-8")  # raises on a cut character
        assert s == 0 or (data[s] & 0xC0) != 0x80, ("start inside a character", occ)
        assert e == len(data) or (data[e] & 0xC0) != 0x80, ("end inside a character", occ)
        assert not piece[:1].isspace() and not piece[-1:].isspace(), ("untrimmed", occ)
        assert b"\r" not in piece[-1:], occ
print("spans ok")
PY
}

check "seed-shaped page: the headline group has every occurrence, both copies of the pasted line included"
page="$FX/arabic-news/page.txt"
nd scan --unit paragraph "$page"
assert_rc 0
assert_eq 1 "$(line_count "$OUT")" "groups"
assert_jq "$OUT" '.[0].size == 4 and .[0].documents == 1' "one group of 4 occurrences"
python3 - "$page" "$OUT" <<'PY' || fail "headline occurrences are not the four headline copies"
import json, sys
data = open(sys.argv[1], "rb").read()
lines = data.split(b"\n")
h = lines[0]
g = json.loads(open(sys.argv[2], encoding="utf-8").readline())
pieces = [data[o["start"]:o["end"]] for o in g["occurrences"]]
assert pieces == [h, h, h, h], pieces
# the two copies inside line 2 are adjacent: the second starts where the first ends
assert g["occurrences"][1]["end"] == g["occurrences"][2]["start"]
assert g["jaccard"] == [1, 1, 1, 1]
PY
check_spans "$OUT" || fail "spans"

check "dedup --unit paragraph leaves one headline and every other paragraph byte-identical"
nd dedup --unit paragraph "$page"
assert_rc 0
jq -j .text "$OUT" > "$T/page.out"
python3 - "$page" "$T/page.out" <<'PY' || fail "dedup output"
import sys
orig = open(sys.argv[1], encoding="utf-8").read()
out = open(sys.argv[2], encoding="utf-8").read()
h = orig.split("\n")[0]
assert out.count(h) == 1, out.count(h)
body = orig.split("\n\n")[2:]            # every paragraph after the headline block
assert len(body) >= 7
for p in body:
    assert p.strip() in out, p[:40]
assert out == h + "\n\n" + "\n\n".join(body), "text around the kept paragraphs changed"
PY

check "--annotate adds the removed spans and changes no text"
nd dedup --unit paragraph --annotate "$page"
assert_rc 0
assert_jq "$OUT" '(.[0].neardup.spans | length) == 3 and (.[0].neardup.spans | map(.[2]) | unique) == [0]' "3 spans of group 0"
orig_text="$(python3 -c 'import json,sys; print(json.dumps(open(sys.argv[1],encoding="utf-8").read()))' "$page")"
assert_jq "$OUT" ".[0].text == $orig_text" "text unchanged under --annotate"

check "50 pages sharing a footer and a menu line: --boilerplate 10 removes both everywhere, nothing else"
python3 - "$T/pages.jsonl" <<'PY'
import json, random, sys
rng = random.Random(7)
words = ["w%03d" % i for i in range(900)]
with open(sys.argv[1], "w") as f:
    for i in range(50):
        paras = ["Home | News | Sport | Weather | Contact us"]
        for _ in range(4):
            paras.append(" ".join(rng.choice(words) for _ in range(40)))
        paras.append("Copyright 2026 Example Media. All rights reserved. Follow us on social networks.")
        f.write(json.dumps({"id": "p%02d" % i, "text": "\n\n".join(paras) + "\n"}) + "\n")
PY
nd dedup --unit paragraph --boilerplate 10 "$T/pages.jsonl"
assert_rc 0
cp "$OUT" "$T/pages.out"
python3 - "$T/pages.jsonl" "$T/pages.out" <<'PY' || fail "boilerplate removal"
import json, sys
src = [json.loads(l) for l in open(sys.argv[1])]
out = [json.loads(l) for l in open(sys.argv[2])]
assert len(out) == 50, len(out)
for a, b in zip(src, out):
    assert a["id"] == b["id"]
    paras = a["text"].strip().split("\n\n")
    assert "Home | News" not in b["text"] and "Copyright 2026" not in b["text"], b["id"]
    assert b["text"] == "\n\n".join(paras[1:5]) + "\n", b["id"]
PY
nd scan --unit paragraph --boilerplate 10 "$T/pages.jsonl"
assert_rc 0
assert_jq "$OUT" 'length == 2 and all(.[]; .boilerplate == true and .documents == 50)' "two boilerplate groups"

check "a 100-word paragraph with one word changed is found across documents; a shared opening phrase is not"
nd scan --unit paragraph "$FX/paragraphs/near-a.txt" "$FX/paragraphs/near-b.txt"
assert_rc 0
assert_jq "$OUT" 'length == 1 and .[0].documents == 2 and .[0].jaccard[1] < 1 and .[0].jaccard[1] >= 0.8' "one near-duplicate group"
check_spans "$OUT" || fail "spans"
nd scan --unit paragraph "$FX/paragraphs/opening-a.txt" "$FX/paragraphs/opening-b.txt"
assert_rc 0
assert_empty_file "$OUT" "shared opening phrase must not match"

check "Arabic, CJK, emoji and CRLF: spans cut whole characters"
nd scan --unit paragraph "$FX/paragraphs/mixed-scripts.txt"
assert_rc 0
assert_jq "$OUT" 'length >= 1' "the repeated CJK paragraph is found"
check_spans "$OUT" || fail "spans"
nd scan --unit line "$FX/paragraphs/mixed-scripts.txt" "$FX/arabic-news/page.txt"
assert_rc 0
check_spans "$OUT" || fail "line spans"
nd dedup --unit paragraph "$FX/paragraphs/mixed-scripts.txt"
assert_rc 0
jq -j .text "$OUT" > "$T/mixed.out"
python3 - "$FX/paragraphs/mixed-scripts.txt" "$T/mixed.out" <<'PY' || fail "CRLF dedup"
import sys
orig = open(sys.argv[1], "rb").read().decode("utf-8")
out = open(sys.argv[2], "rb").read().decode("utf-8")
paras = [p for p in orig.split("\r\n\r\n") if p.strip()]
dups = [p for p in paras if paras.count(p) > 1]
assert dups, "fixture has a repeated paragraph"
assert out.count(dups[0].strip()) == 1
for p in paras:
    assert p.strip() in out
assert "\r\n\r\n\r\n" not in out
PY

check "short units match only when identical; --min-tokens drops them"
printf 'Share\n\nBody text of the first kind here now\n\nShare\n\nShares\n' > "$T/short.txt"
nd scan --unit paragraph "$T/short.txt"
assert_rc 0
assert_jq "$OUT" 'length == 1 and .[0].size == 2 and .[0].text == "Share"' "only the identical one-word lines"
nd scan --unit paragraph --min-tokens 2 "$T/short.txt"
assert_rc 0
assert_empty_file "$OUT" "--min-tokens 2 ignores one-word units"

check "the summary counts documents without any unit of --min-tokens tokens (not as empty)"
printf 'Hi\n\nYo\n' > "$T/tiny.txt"
nd scan --unit paragraph --min-tokens 2 "$T/tiny.txt" "$T/short.txt"
assert_rc 0
assert_contains "$(cat "$ERR")" "2 documents read" "summary"
assert_contains "$(cat "$ERR")" "1 without units" "summary"

check "a document emptied by stripping is dropped and counted"
printf '{"id":"a","text":"Same paragraph of several words here.\\n\\nOnly in a."}\n{"id":"b","text":"Same paragraph of several words here."}\n' > "$T/empty.jsonl"
nd dedup --unit paragraph "$T/empty.jsonl"
assert_rc 0
assert_eq 1 "$(line_count "$OUT")" "records written"
assert_contains "$(cat "$ERR")" "dropped 1 emptied" "summary"
nd dedup --unit paragraph --removed "$T/emptied.jsonl" "$T/empty.jsonl"
assert_rc 0
assert_jq "$T/emptied.jsonl" 'length == 1 and .[0].id == "b" and .[0].neardup.spans == [[0, 37, 0]]' \
    "--removed: the emptied record with the spans that emptied it (it had no neardup member)"
check "the last paragraph or line removed: the kept line before it keeps its trailing blanks"
# they were cut ("Kept paragraph.  " became "Kept paragraph.") only when the
# removed copy ended the text; removed in the middle they stayed
printf '{"id":"t","text":"Same paragraph of several words here.\\n\\nKept paragraph.  \\t\\n\\nSame paragraph of several words here.\\n"}\n' > "$T/trail.jsonl"
for unit in paragraph line; do
    nd dedup --unit "$unit" "$T/trail.jsonl"
    assert_rc 0
    assert_jq "$OUT" '.[0].text == "Same paragraph of several words here.\n\nKept paragraph.  \t\n"' "--unit $unit: kept text"
done

check "a record with an id beyond int64 is written back (pass 2 reads records as pass 1 did)"
printf '{"id":18446744073709551615,"text":"Same paragraph of several words here.\\n\\nSame paragraph of several words here."}\n' > "$T/bigid.jsonl"
nd dedup --unit paragraph "$T/bigid.jsonl"
assert_rc 0
assert_contains "$(cat "$OUT")" '"id":18446744073709551615' "id kept as written"
assert_jq "$OUT" '.[0].text == "Same paragraph of several words here."' "the repeat removed"

check "a record whose text key is escaped (no byte span to replace) is re-serialized without the repeat"
printf '{"id":"e","te\\u0078t":"Same paragraph of several words here.\\n\\nSame paragraph of several words here."}\n' > "$T/esc.jsonl"
nd dedup --unit paragraph "$T/esc.jsonl"
assert_rc 0
assert_jq "$OUT" 'length == 1 and .[0].id == "e" and .[0].text == "Same paragraph of several words here."' "re-serialized record"

check "--unit reads regular files a second time and spools pipes: the same groups, spans and text"
# plain text with ill-formed UTF-8 (pass 2 must see the repaired text the
# spans were cut from) and a JSON Lines file with a skipped bad line
printf 'Intro line here.\n\nA pasted paragraph with a bad \xff byte in it, repeated.\n\nA pasted paragraph with a bad \xff byte in it, repeated.\n\nEnd.\n' > "$T/bad.txt"
{
    printf '{"id":"j1","text":"One shared paragraph of several words.\\n\\nOwn words of j1."}\n'
    printf 'not json\n'
    printf '{"id":"j2","text":"One shared paragraph of several words.\\n\\nOwn words of j2."}\n'
} > "$T/mixed.jsonl"
for cmd in scan dedup; do
    nd "$cmd" --unit paragraph "$T/bad.txt"
    assert_rc 0
    sed "s|$T/bad.txt|-|g" "$OUT" > "$T/from-file"
    cat "$T/bad.txt" | run "$ND" "$cmd" --unit paragraph -
    assert_rc 0
    assert_same_file "$T/from-file" "$OUT" "$cmd --unit of a plain text: file vs pipe"
    nd "$cmd" --unit paragraph --on-error skip "$T/mixed.jsonl"
    assert_rc 0
    cp "$OUT" "$T/from-file"
    cat "$T/mixed.jsonl" | run "$ND" "$cmd" --unit paragraph --on-error skip -
    assert_rc 0
    assert_same_file "$T/from-file" "$OUT" "$cmd --unit of JSON Lines with a skipped line: file vs pipe"
done
nd scan --unit paragraph "$T/bad.txt"
assert_jq "$OUT" 'length == 1 and .[0].size == 2 and (.[0].text | contains("\ufffd"))' "the repeated paragraph, repaired"
nd dedup --unit paragraph --on-error skip "$T/mixed.jsonl"
assert_jq "$OUT" 'length == 2 and .[0].id == "j1" and .[1].text == "Own words of j2."' "j2 loses the shared paragraph"
check "previews hold at most 80 characters, also when the 80th would be a collapsed space"
long_line="$(printf 'a%.0s' $(seq 79)) bbbb cccc dddd"
printf '%s\n\n%s\n' "$long_line" "$long_line" >"$T/long.txt"
nd scan --unit paragraph "$T/long.txt"
assert_rc 0
assert_jq "$OUT" '.[0].text == ("a" * 79 + "\u2026")' "a preview cut before the space, then an ellipsis"

check "each group's preview comes from its own earliest occurrence, also when its survivor is a later one"
# B matches A and C, A and C do not match: the group {A, B, C} starts in
# doc a but its survivor (the one that covers all) is B in doc b; the
# group of D starts in doc d, between them. Reading back to b for the
# first group used to leave the second group's preview cut from b.
words() { local from=$1 to=$2 tag=$3; for i in $(seq "$from" "$to"); do printf '%s%d ' "$tag" "$i"; done; }
line_b="$(words 1 100 w)"
line_a="$(words 1 92 w)$(words 1 8 a)"
line_c="$(words 1 8 c)$(words 9 100 w)"
line_d="$(words 1 40 d)"
{
    printf '{"id":"a","text":"%s"}\n' "$line_a"
    printf '{"id":"d","text":"%s"}\n' "$line_d"
    printf '{"id":"b","text":"%s"}\n' "$line_b"
    printf '{"id":"c","text":"%s"}\n' "$line_c"
    printf '{"id":"d2","text":"%s"}\n' "$line_d"
} >"$T/survivor.jsonl"
nd scan --unit line "$T/survivor.jsonl"
assert_rc 0
assert_jq "$OUT" 'length == 2 and .[0].occurrences[0].id == "b" and .[1].occurrences[0].id == "d"' \
    "two groups: survivor b for the first, d for the second"
assert_jq "$OUT" '(.[0].text | startswith("w1 w2 w3")) and (.[1].text | startswith("d1 d2 d3"))' \
    "each preview from its own group's text"
check "a group line writes an id (a file name) with ill-formed bytes as \\xNN, and a well-formed one as it is"
mkdir "$T/names"
for name in 'bad\355\240\200' 'over\300\257long' 'past\364\220\200\200' 'emoji\360\237\230\200 \342\200\246'; do
    printf 'The same footer line appears in all of these files here.\n\n%s\n' "$name" >"$T/names/$(printf "$name").txt"
done
(cd "$T/names" && "$ND" scan --quiet --unit paragraph --min-tokens 1 .) >"$OUT"
assert_jq "$OUT" 'length == 1 and .[0].size == 4' "one group of the four files"
python3 - "$OUT" <<'PY' || fail "ids not written with ill-formed bytes as \\xNN"
import json, sys
raw = open(sys.argv[1], "rb").read()
raw.decode("utf-8")  # the line itself is well-formed UTF-8
ids = sorted(o["id"] for o in json.loads(raw)["occurrences"])
assert ids == ["./bad\\xED\\xA0\\x80.txt", "./emoji\U0001F600 \u2026.txt", "./over\\xC0\\xAFlong.txt",
               "./past\\xF4\\x90\\x80\\x80.txt"], ids
PY
check "group ids with quotes, backslashes, control characters and non-ASCII at every position are written as JSON strings of the ids"
python3 - "$T/ids.jsonl" <<'PY'
import json, sys
awkward = ['"', "\\", "\x01", "\x1f", "\x7f", "\u00e9", "\u2026", "\U0001F600", " "]
ids = ["plain", "exactly8", "sixteen-bytes-id", "a-longer-plain-id-of-many-words"]
for a in awkward:
    for at in (0, 3, 7, 8, 9, 15, 16, 20):
        ids.append(("x" * at + a + "y" * 12)[:24])
with open(sys.argv[1], "w", encoding="utf-8") as f:
    for i in ids:
        f.write(json.dumps({"id": i, "text": "Same paragraph of several words here."}) + "\n")
PY
nd scan --unit paragraph "$T/ids.jsonl"
assert_rc 0
python3 - "$T/ids.jsonl" "$OUT" <<'PY' || fail "ids written differ from the ids read"
import json, sys
want = [json.loads(l)["id"] for l in open(sys.argv[1], encoding="utf-8")]
g = json.loads(open(sys.argv[2], encoding="utf-8").readline())
assert [o["id"] for o in g["occurrences"]] == want, g["occurrences"]
PY

check "a document whose paragraphs do not fit in its thread's block of ids moves them to the next (idblocks.c): the same groups, in memory and spilled before it"
python3 - "$T/straddle.jsonl" <<'PY'
import json, random, sys
rng = random.Random(7)
def para(n=30):
    return " ".join("w%x" % rng.getrandbits(40) for _ in range(n))
p1, p2 = para(), para()
with open(sys.argv[1], "w", encoding="utf-8") as f:
    # 300 small documents (the first batch: past half of --memory 8M, the index spills after it)
    for i in range(300):
        f.write(json.dumps({"id": "small%d" % i, "text": p1 if i == 0 else para()}) + "\n")
    # 3,000 paragraphs of 30 words: about 84k ids, past the first block's 64 Ki;
    # p2 among the first ones (written, then moved), p1 among the last
    big = [para() for _ in range(3000)]
    big[5], big[2990] = p2, p1
    f.write(json.dumps({"id": "big", "text": "\n\n".join(big)}) + "\n")
    f.write(json.dumps({"id": "last", "text": p2}) + "\n")
PY
for mem in "" "--memory 8M"; do
    # freed memory filled with junk (glibc): the spilled index frees the block handed on before "big"
    MALLOC_PERTURB_=165 nd scan --unit paragraph $mem "$T/straddle.jsonl"
    assert_rc 0
    assert_eq 2 "$(line_count "$OUT")" "groups ($mem)"
    assert_jq "$OUT" 'map([.occurrences[].id]) | sort == [["big", "last"], ["small0", "big"]]' "the two copies' groups ($mem)"
    cp "$OUT" "$T/straddle${mem:+-spilled}.out"
done
cmp -s "$T/straddle.out" "$T/straddle-spilled.out" || fail "spilling changed the groups"
grep -q "moving shingle ids" "$ERR" || fail "the index did not spill"

check "offsets of every number of digits (1 to 7) are written as the bytes of the repeated paragraph"
python3 - "$T/far.jsonl" <<'PY'
import json, sys
with open(sys.argv[1], "w", encoding="utf-8") as f:
    for k, before in enumerate([0, 5, 50, 500, 5000, 50000, 500000, 1500000, 99, 9999]):
        # unique filler words, then the paragraph every document repeats
        filler = " ".join("f%dw%d" % (k, i) for i in range(before // 8 + 1))[:before] if before else ""
        text = (filler + "\n\n" if filler else "") + "The shared paragraph \u00e9 of a few words."
        f.write(json.dumps({"id": "far%d" % k, "text": text}, ensure_ascii=False) + "\n")
PY
nd scan --unit paragraph "$T/far.jsonl"
assert_rc 0
python3 - "$T/far.jsonl" "$OUT" <<'PY' || fail "offsets written are not the repeated paragraph's"
import json, sys
texts = {}
for line in open(sys.argv[1], encoding="utf-8"):
    r = json.loads(line)
    texts[r["id"]] = r["text"].encode("utf-8")
groups = [json.loads(l) for l in open(sys.argv[2], encoding="utf-8")]
shared = [g for g in groups if g["size"] == len(texts)]
assert len(shared) == 1, groups
digits = set()
for o in shared[0]["occurrences"]:
    assert texts[o["id"]][o["start"]:o["end"]] == "The shared paragraph \u00e9 of a few words.".encode("utf-8"), o
    digits.add(len(str(o["start"])))
assert digits >= {1, 2, 3, 4, 5, 6, 7}, digits
PY

pass
