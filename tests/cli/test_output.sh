#!/usr/bin/env bash
# test_output.sh - the output side of "nothing lost": dedup --unit writes
# every byte outside the text value as read; every write and close is
# checked (/dev/full) in every command and mode; an output naming an input
# is refused before anything is opened; -o FILE and --removed FILE appear
# only when the run succeeded; which copy of a unit dedup --unit keeps.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"

nd() { run "$ND" "$@"; }

check "dedup --unit: only the text value changes, whatever the record holds"
python3 - "$T" <<'PY'
import sys
t = sys.argv[1]
shared = "some repeated line of text that is long enough here"
deep = "[" * 100 + "1" + "]" * 100
rows = [
    # an escaped key: "k\u00e9" is the key "ké"
    '{"id":1,"big":12345678901234567890123,"x":0.1,"k\\u00e9":"%s\\nbody one"}' % shared,
    '{"id":2,"big":12345678901234567890123,"x":0.1,"k\\u00e9":"%s\\nbody two"}' % shared,
]
open(f"{t}/escaped.jsonl", "w").write("\n".join(rows) + "\n")
rows = [
    # nesting deeper than 64, a repeated text key (jansson reads the last)
    '{"id":1, "n":%s, "x":0.1, "text":"%s\\nfirst body"}' % (deep, shared),
    '{"id":2, "text":"ignored first copy", "n":{"a":%s,"b":{}}, "big":12345678901234567890123,  "x":0.1, "text":"%s\\nsecond body", "y":1E+2}' % (deep, shared),
]
open(f"{t}/nested.jsonl", "w").write("\n".join(rows) + "\n")
PY
nd dedup --unit line --text-field ké "$T/escaped.jsonl"
assert_rc 0
python3 - "$T/escaped.jsonl" "$OUT" <<'PY' || fail "escaped key: bytes outside the text changed"
import sys
src = open(sys.argv[1]).read().splitlines()
out = open(sys.argv[2]).read().splitlines()
assert out[0] == src[0], out[0]
assert out[1] == '{"id":2,"big":12345678901234567890123,"x":0.1,"k\\u00e9":"body two"}', out[1]
PY
nd dedup --unit line "$T/nested.jsonl"
assert_rc 0
python3 - "$T/nested.jsonl" "$OUT" <<'PY' || fail "nested/repeated: bytes outside the text changed"
import sys
src = open(sys.argv[1]).read().splitlines()
out = open(sys.argv[2]).read().splitlines()
assert out[0] == src[0], out[0]
want = src[1].replace('"some repeated line of text that is long enough here\\nsecond body"', '"second body"')
assert want != src[1] and out[1] == want, out[1]
PY

pass
