#!/usr/bin/env bash
# test_json.sh - the JSON fast path (flat records read without jansson)
# agrees with jansson on every record: the same records, once as they are
# and once with a nested field that sends them to jansson, give the same
# ids, tokens and spans; malformed records are reported the same way.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"

python3 - "$T/fast.jsonl" "$T/slow.jsonl" <<'PY'
import json, random, sys
rng = random.Random(5)
words = ["alpha", "beta", "gamma", "مرحبا", "кошка", "中文", "naïve", "😀", "x\u0301"]
specials = ["\n", "\t", "\"", "\\", "/", "\u0000", "\u00e9", "\U0001F600", "\u2028", "\b", "\f", "\r"]
lines = []
def text():
    parts = []
    for _ in range(rng.randint(1, 30)):
        parts.append(rng.choice(words) if rng.random() < 0.8 else rng.choice(specials))
    return " ".join(parts)
ids = [lambda i: "doc%d" % i, lambda i: i, lambda i: -i, lambda i: 18446744073709551615 + i,
       lambda i: None, lambda i: "ид-%d" % i, lambda i: 0]
for i in range(400):
    rec = {}
    kind = i % 9
    if kind != 8:
        rec["id"] = ids[i % len(ids)](i)
    rec["text"] = text()
    if i % 3 == 0:
        rec["n"] = rng.choice([1, -2.5, 1e10, 0, True, False, None, "s\"q"])
    keys = list(rec)
    if i % 4 == 0:
        keys.reverse()
    ordered = {k: rec[k] for k in keys}
    if rec.get("id") is None and "id" in rec:
        pass
    ascii_only = i % 2 == 0
    sep = (",", ":") if i % 5 else (" , ", " : ")
    line = json.dumps(ordered, ensure_ascii=ascii_only, separators=sep)
    if i % 7 == 0:
        line = "  " + line + " \r"
    lines.append(line)
with open(sys.argv[1], "w", encoding="utf-8", newline="\n") as f:
    f.write("\n".join(lines) + "\n")
with open(sys.argv[2], "w", encoding="utf-8", newline="\n") as f:
    for line in lines:
        body = line.rstrip(" \r")
        f.write(body[:-1] + ',"_nested":{"a":[1,2]}}' + line[len(body):] + "\n")
PY

check "fast path and jansson give the same ids, tokens and spans on 400 tricky records"
nd normalize --shingles "$T/fast.jsonl"
assert_rc 0
sed "s#$T/fast.jsonl#FILE#g" "$OUT" > "$T/fast.out"
nd normalize --shingles "$T/slow.jsonl"
assert_rc 0
sed "s#$T/slow.jsonl#FILE#g" "$OUT" > "$T/slow.out"
assert_eq 400 "$(line_count "$T/fast.out")" "records"
assert_same_file "$T/slow.out" "$T/fast.out" "fast vs jansson"
python3 - "$T/fast.jsonl" "$T/fast.out" <<'PY' || fail "ids as written"
import json, sys
src = [l for l in open(sys.argv[1], encoding="utf-8")]
out = [json.loads(l) for l in open(sys.argv[2], encoding="utf-8")]
for k, (line, o) in enumerate(zip(src, out)):
    rec = json.loads(line)
    rid = rec.get("id")
    want = "FILE:%d" % (k + 1) if rid is None else (rid if isinstance(rid, str) else str(rid))
    assert o["id"] == want, (k, o["id"], want)
PY

# same_as_jansson NAME WHAT [OPTIONS...]: `normalize OPTIONS` on $T/NAME.jsonl
# (records the fast path reads) and on $T/NAME_slow.jsonl (the same records
# with a nested member, which sends them to jansson): the same output and the
# same messages, file names aside; left in $T/NAME{,_slow}.{out,err}
same_as_jansson() {
    local name="$1" what="$2" kind
    shift 2
    for kind in "$name" "${name}_slow"; do
        nd normalize "$@" "$T/$kind.jsonl"
        assert_rc 0
        sed "s#$T/$kind.jsonl#FILE#g" "$OUT" >"$T/$kind.out"
        sed "s#$T/$kind.jsonl#FILE#g" "$ERR" | grep -v "documents read" >"$T/$kind.err" || true
    done
    assert_same_file "$T/${name}_slow.out" "$T/$name.out" "fast vs jansson on $what"
    assert_same_file "$T/${name}_slow.err" "$T/$name.err" "fast vs jansson messages on $what"
}

check "two- and three-byte text (checked 16 bytes at a time) with one ill-formed sequence at every offset: fast path and jansson agree"
python3 - "$T/bad2.jsonl" "$T/bad2_slow.jsonl" <<'PY'
import sys
base = "мир кошка السلام عليكم Ελλάδα 中文字の שלום".encode("utf-8")
breaks = [b"\x80", b"\xd0", b"\xc0\xaf", b"\xc1\xbf", b"\xd0a", b"\xbf\xbf", b"\xe0\x80\x80", b"\xf5", b"\xed\xa0\x80", b"\xe4\xb8"]
fast, slow = [], []
for k, bad in enumerate(breaks):
    for at in range(0, 56):
        text = base[:at] + bad + base[at:]
        rec = b'{"id":"r%d-%d","text":"' % (k, at) + text + b'"'
        fast.append(rec + b"}")
        slow.append(rec + b',"_nested":{"a":[1]}}')
open(sys.argv[1], "wb").write(b"\n".join(fast) + b"\n")
open(sys.argv[2], "wb").write(b"\n".join(slow) + b"\n")
PY
same_as_jansson bad2 "ill-formed two- and three-byte text" --shingles
assert_eq 560 "$(line_count "$T/bad2.out")" "records"

check "long ASCII and two-byte text (checked 32 bytes at a time with AVX2) with one ill-formed sequence at every offset: fast path and jansson agree"
python3 - "$T/bad3.jsonl" "$T/bad3_slow.jsonl" <<'PY'
import sys
base = ("the quick brown fox jumps over the lazy dog " + "мир кошка Ελλάδα " + "and then some more plain words " +
        "السلام عليكم שלום").encode("utf-8")
breaks = [b"\x80", b"\xd0", b"\xc0\xaf", b"\xc1\xbf", b"\xd0a", b"\xe0\x80\x80", b"\xf5", b"\xed\xa0\x80", b"\xe4\xb8"]
fast, slow = [], []
for k, bad in enumerate(breaks):
    for at in range(0, len(base) + 1):
        text = base[:at] + bad + base[at:]
        rec = b'{"id":"r%d-%d","text":"' % (k, at) + text + b'"'
        fast.append(rec + b"}")
        slow.append(rec + b',"_nested":{"a":[1]}}')
open(sys.argv[1], "wb").write(b"\n".join(fast) + b"\n")
open(sys.argv[2], "wb").write(b"\n".join(slow) + b"\n")
PY
same_as_jansson bad3 "ill-formed long text" --shingles
assert_eq "$(line_count "$T/bad3.jsonl")" "$(line_count "$T/bad3.out")" "records"

check "records the fast path leaves to jansson: duplicate fields, escaped keys, lone surrogates, bad numbers"
printf '%s\n' \
  '{"id":"a","text":"one two","text":"three four"}' \
  '{"i\u0064":"b","text":"five six"}' \
  '{"id":"c","text":"bad \ud800 surrogate"}' \
  '{"id":01,"text":"seven"}' \
  '{"id":"e","text":"ok"} trailing' \
  '{"id":"f","text":"eight nine"}' > "$T/odd.jsonl"
nd normalize --on-error skip "$T/odd.jsonl"
assert_rc 0
# jansson keeps the last duplicate, unescapes keys, rejects the rest
assert_jq "$OUT" 'map(.id) == ["a", "b", "f"] and .[0].tokens == ["three", "four"]' "jansson's reading"
assert_contains "$(cat "$ERR")" "odd.jsonl:3: malformed JSON"
assert_contains "$(cat "$ERR")" "odd.jsonl:4: malformed JSON"
assert_contains "$(cat "$ERR")" "odd.jsonl:5: malformed JSON"
check "long strings (skipped 64 bytes at a time with AVX2) with an escape, a quote or a raw control byte at every offset: fast path and jansson agree"
python3 - "$T/esc.jsonl" "$T/esc_slow.jsonl" <<'PY'
import sys
base = ("plain words before the special byte and after it " * 4 + "мир السلام 中文").encode("utf-8")
specials = [b"\\n", b"\\\"", b"\\\\", b"\\u00e9", b"\\ud83d\\ude00", b"\x01", b"\x1f", b"\t",
            b"\\n\\t\\/\\b\\f\\rx\\u0041\\u0627\\u4e2d\\ud83d\\ude00\\ud840\\udc00\\\\\\\"y\\n\\n"]
fast, slow = [], []
for k, sp in enumerate(specials):
    for at in range(0, len(base) + 1, 1 if k < 3 else 3):
        rec = b'{"id":"e%d-%d","text":"' % (k, at) + base[:at] + sp + base[at:] + b'"'
        fast.append(rec + b"}")
        slow.append(rec + b',"_nested":{"a":[1]}}')
open(sys.argv[1], "wb").write(b"\n".join(fast) + b"\n")
open(sys.argv[2], "wb").write(b"\n".join(slow) + b"\n")
PY
same_as_jansson esc "long strings with escapes" --on-error skip
assert_contains "$(cat "$T/esc.err")" "malformed JSON"
[[ "$(line_count "$T/esc.out")" -gt 500 ]] || fail "too few records read: $(line_count "$T/esc.out")"
check "strings written as jansson writes them: quotes, backslashes, '/', DEL, non-ASCII, U+2028, controls, file names with ill-formed bytes (as \\xNN)"
mkdir "$T/names"
python3 - "$T/ids.jsonl" "$T/names" "$T/want_ids" <<'PY'
import json, os, re, sys
ids = ["plain", "q\"uote", "back\\slash", "a/b", "del\x7f", "caf\u00e9", "line\u2028sep", "\u4e2d\u6587\"",
       "tab\there", "nl\nx", "ctl\x01\x1f", "emoji\U0001F600\\", "", " lead and trail "]
with open(sys.argv[1], "w") as f:
    for i in ids:
        f.write(json.dumps({"id": i, "text": "one two"}) + "\n")
names = [b"bad\xffname", b"q\"\xc3\xa9", b"plain.txt"]
for n in names:
    open(os.path.join(sys.argv[2].encode(), n), "w").write("one two\n")
def id_of(name):  # a file name as ids show it: as it is, or if not UTF-8 its ill-formed bytes as \\xNN
    try:
        return name.decode()
    except UnicodeDecodeError:
        pass
    out, i = [], 0
    while i < len(name):
        try:
            out.append(name[i:].decode().replace("\\", "\\\\"))
            break
        except UnicodeDecodeError as e:
            out.append(name[i:i + e.start].decode().replace("\\", "\\\\"))
            out += ["\\x%02X" % b for b in name[i + e.start:i + e.end]]
            i += e.end
    return "".join(out)
def render(s):  # jansson: compact, UTF-8 as it is, controls as \uXXXX in capitals
    return re.sub(r"\\u00([0-9a-f]{2})", lambda m: "\\u00" + m.group(1).upper(), json.dumps(s, ensure_ascii=False))
with open(sys.argv[3], "wb") as f:
    for i in ids:
        f.write(("{\"id\":" + render(i) + ",\n").encode())
    for n in sorted(names):
        f.write(("{\"id\":" + render(id_of(os.path.join(sys.argv[2].encode(), n))) + ",\n").encode())
PY
nd normalize "$T/ids.jsonl" "$T/names"
assert_rc 0
sed 's/"profile".*//' "$OUT" > "$T/got_ids"
assert_same_file "$T/want_ids" "$T/got_ids" "ids as written"
pass
