#!/usr/bin/env bash
# test_unit_previews.sh - scan --unit reads again only the records that
# hold a group's preview, at the offsets pass 1 found them (replay_at.c),
# when every record is a line of an uncompressed regular file; its output
# must be byte for byte what reading every record again in order gives
# (the path compressed input, stdin and JSON arrays take). Records with
# escapes, CRLF line ends, a byte order mark, blank lines, skipped bad
# records, ill-formed UTF-8, several files, and a group whose first
# occurrence is in the last record (which ends without a newline).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"

python3 - "$T" <<'PY'
import json, os, random, sys
t = sys.argv[1]
rnd = random.Random(17)
words = ["w%d" % i for i in range(400)] + ["caf\u00e9", "\u00fcber", "\u0645\u0631\u062d\u0628\u0627", "\U0001F600x"]
def para(n=12):
    return " ".join(rnd.choice(words) for _ in range(n))
shared = [para() for _ in range(30)]
def doc(k):
    ps = [rnd.choice(shared) if rnd.random() < 0.5 else para() for _ in range(rnd.randint(2, 6))]
    if k % 7 == 0:
        ps.append('quoted "q%d" back\\slash tab\there slash/ \u2028 end' % (k % 3))
    return "\n\n".join(ps)
def write(name, docs, bom=False, crlf_every=0, last_newline=True, extra=()):
    with open(os.path.join(t, name), "wb") as f:
        if bom:
            f.write(b"\xef\xbb\xbf")
        for k, d in enumerate(docs):
            rec = json.dumps({"id": 'x"%s\\%d\u00e9' % (name, k), "text": d}, ensure_ascii=(k % 2 == 0))
            end = b"\r\n" if crlf_every and k % crlf_every == 0 else b"\n"
            f.write(rec.encode("utf-8"))
            if k + 1 < len(docs) or last_newline:
                f.write(end)
            if k in extra:
                f.write(extra[k])
# a.jsonl: BOM, CRLF on every third record, blank lines and a bad record
write("a.jsonl", [doc(k) for k in range(60)], bom=True, crlf_every=3,
      extra={5: b"\n   \n", 9: b"{not json\n", 20: b'{"id": "no-text"}\n'})
# b.jsonl: the last record holds the only copies of a paragraph (its group's
# first occurrence is in the last record), and ends without a newline
last = "only here at the end " * 3
docs = [doc(k) for k in range(40)] + ["\n\n".join([last, shared[0], last])]
write("b.jsonl", docs, last_newline=False)
# c.txt: --lines, CRLF and ill-formed UTF-8 in repeated lines
with open(os.path.join(t, "c.txt"), "wb") as f:
    for k in range(50):
        line = ("line %d of a repeated kind \xe9" % (k % 6)).encode("latin-1")
        f.write(line + (b"\xff\xfe" if k % 4 == 0 else b"") + (b"\r\n" if k % 2 else b"\n"))
PY
for f in a.jsonl b.jsonl c.txt; do gzip -c "$T/$f" > "$T/$f.gz"; done

for threads in 1 2; do
    check "JSON Lines, $threads thread(s): previews read at offsets = previews read in order (gzip)"
    nd scan --unit paragraph --on-error skip --threads "$threads" "$T/a.jsonl" "$T/b.jsonl"
    assert_rc 0
    cp "$OUT" "$T/at.out"
    assert_jq "$T/at.out" '[.[] | select(.text | test("only here at the end"))] | length == 1' \
        "the group found only in the last record has its preview"
    nd scan --unit paragraph --on-error skip --threads "$threads" "$T/a.jsonl.gz" "$T/b.jsonl.gz"
    assert_rc 0
    assert_same_file "$OUT" "$T/at.out"
    [[ "$(line_count "$T/at.out")" -gt 10 ]] || fail "too few groups to compare"

    check "JSON Lines from stdin (spooled), $threads thread(s): the same"
    cat "$T/a.jsonl" "$T/b.jsonl" > "$T/ab.jsonl"
    run_in "$T/ab.jsonl" "$ND" scan --unit paragraph --on-error skip --threads "$threads" -
    assert_rc 0
    assert_same_file "$OUT" "$T/at.out"

    check "--lines with CRLF and ill-formed UTF-8, $threads thread(s): the same"
    nd scan --unit line --lines --threads "$threads" "$T/c.txt"
    assert_rc 0
    cp "$OUT" "$T/lines.out"
    nd scan --unit line --lines --threads "$threads" "$T/c.txt.gz"
    assert_rc 0
    sed 's/c\.txt\.gz:/c.txt:/g' "$OUT" > "$T/lines.gz.out"
    assert_same_file "$T/lines.gz.out" "$T/lines.out"
    [[ "$(line_count "$T/lines.out")" -ge 6 ]] || fail "too few line groups"
done

# With two threads and many groups (4096 or more), a second reader on
# another thread cuts the second half of the previews (unit_output.c):
# every group's preview the same as reading in order gives, across files.
python3 - "$T" <<'PY'
import json, os, sys
t = sys.argv[1]
for name, first in (("d1.jsonl", 0), ("d2.jsonl", 2600)):
    with open(os.path.join(t, name), "w") as f:
        for k in range(first, first + 2600):
            # paragraph k is in documents k and k + 1: a group of two each
            ps = ["para %d says %s and %d" % (j, "ab\"c" if j % 5 == 0 else "caf\u00e9", j * 7) for j in (k - 1, k)]
            f.write(json.dumps({"id": "d%d" % k, "text": "\n\n".join(ps)}, ensure_ascii=(k % 2 == 0)) + "\n")
PY
for f in d1.jsonl d2.jsonl; do gzip -c "$T/$f" > "$T/$f.gz"; done
check "many groups, 2 threads: previews by two readers at offsets = previews read in order"
nd scan --unit paragraph --threads 2 "$T/d1.jsonl" "$T/d2.jsonl"
assert_rc 0
cp "$OUT" "$T/many.out"
[[ "$(line_count "$T/many.out")" -ge 5000 ]] || fail "too few groups for two readers"
nd scan --unit paragraph --threads 1 "$T/d1.jsonl.gz" "$T/d2.jsonl.gz"
assert_rc 0
sed 's/\.jsonl\.gz/.jsonl/g' "$OUT" > "$T/many.gz.out"
assert_same_file "$T/many.gz.out" "$T/many.out"
assert_jq "$T/many.out" '[.[] | select(.text | test("^para [0-9]+ says"))] | length == ([.[]] | length)' \
    "every group has its preview"

pass
