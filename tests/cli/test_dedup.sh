#!/usr/bin/env bash
# shellcheck disable=SC2016  # jq filters are single-quoted on purpose
# test_dedup.sh - dedup: kept JSON Lines records pass through byte for byte,
# duplicates are removed, --keep longest, --annotate, --removed, plain-text
# inputs as {"id","text"} records, stdin, --tmpdir.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"

# 30 groups. Each group: a 200-word base text, then variants that stay above
# Jaccard 0.8 with it (exact copy, one word changed, one word appended (the
# longest), case and spacing changed), and one "far" rewrite (10 words
# changed, Jaccard about 0.6) that must be kept. Records carry extra fields,
# odd key orders, whitespace, unicode escapes and a CRLF line end, which
# must all survive byte for byte. expected.json lists what should happen.
python3 - "$T" <<'EOF'
import json, random, sys
t = sys.argv[1]
r = random.Random(99)
vocab = ["%s%s%s%s" % (a, b, c, d) for a in "bdfgklmnprstvz" for b in "aeiou" for c in "lmnrst" for d in "aeiou"]
lines, expect = [], {"groups": [], "far": []}
def record(i, rid, text, style):
    extra = {"n": i, "tags": ["x", "ü"], "nested": {"ok": True, "v": None}}
    if style == 0:
        return json.dumps({"id": rid, "text": text, **extra})
    if style == 1:   # other key order, spaces, non-ASCII kept raw
        return json.dumps({"meta": extra, "text": text, "id": rid}, ensure_ascii=False, indent=None, separators=(" , ", " : "))
    if style == 2:   # unicode escapes and trailing spaces
        return json.dumps({"id": rid, "note": "caf\u00e9 \u2603", "text": text}) + "   "
    return json.dumps({"text": text, "id": rid}) + "\r"   # CRLF line end
order = []
i = 0
for g in range(30):
    base = [r.choice(vocab) for _ in range(200)]
    one = list(base); one[100] = "zzzzzz"
    app = base + ["appended"]
    case = " ".join(w.upper() if k % 7 == 0 else w for k, w in enumerate(base)).replace(" ", "  ", 5)
    far = list(base)
    for k in range(10):
        far[10 + k * 19] = "far%d" % k
    members = [("base", " ".join(base)), ("copy", " ".join(base)), ("one", " ".join(one)),
               ("app", " ".join(app)), ("case", case)]
    r.shuffle(members)
    ids = []
    for name, text in members:
        rid = f"g{g:02d}-{name}"
        order.append((rid, text, i % 4))
        ids.append(rid)
        i += 1
    rid = f"g{g:02d}-far"
    order.append((rid, " ".join(far), i % 4))
    i += 1
    expect["groups"].append({"ids": ids, "longest": f"g{g:02d}-app"})
    expect["far"].append(rid)
# interleave groups a little: rotate blocks so that groups overlap in input order
half = len(order) // 2
order = [x for pair in zip(order[:half], order[half:]) for x in pair]
with open(f"{t}/in.jsonl", "w", encoding="utf-8", newline="") as f:
    for k, (rid, text, style) in enumerate(order):
        f.write(record(k, rid, text, style) + "\n")
expect["order"] = [rid for rid, _, _ in order]
json.dump(expect, open(f"{t}/expected.json", "w"))
EOF

# verify_dedup KEEP OUTFILE [REMOVEDFILE]: compare with what expected.json implies.
verify_dedup() {
    python3 - "$T/in.jsonl" "$T/expected.json" "$@" <<'EOF'
import json, sys
inp, exp, keep, out = sys.argv[1:5]
removed_file = sys.argv[5] if len(sys.argv) > 5 else None
lines = open(inp, "rb").read().split(b"\n")[:-1]
e = json.load(open(exp))
ids = e["order"]
pos = {rid: k for k, rid in enumerate(ids)}
survivors, dups = set(), set()
for g in e["groups"]:
    s = g["longest"] if keep == "longest" else min(g["ids"], key=pos.get)
    survivors.add(s)
    dups |= set(g["ids"]) - {s}
want_kept = b"".join(l + b"\n" for l, rid in zip(lines, ids) if rid not in dups)
want_removed = b"".join(l + b"\n" for l, rid in zip(lines, ids) if rid in dups)
got = open(out, "rb").read()
if got != want_kept:
    got_ids = [json.loads(l)["id"] for l in got.split(b"\n")[:-1]]
    want_ids = [rid for rid in ids if rid not in dups]
    sys.exit(f"kept records differ (keep {keep}):\n  missing {sorted(set(want_ids) - set(got_ids))}\n"
             f"  extra {sorted(set(got_ids) - set(want_ids))}\n  (or bytes/order differ)")
if removed_file is not None and open(removed_file, "rb").read() != want_removed:
    sys.exit(f"--removed file (its \"neardup\" members taken out) differs from the removed input lines (keep {keep})")
EOF
}

check "dedup: kept records byte-identical to their input lines, duplicates removed, order kept"
nd dedup "$T/in.jsonl"
assert_rc 0
verify_dedup first "$OUT" || fail "dedup output is not what expected.json implies"
assert_eq 180 "$(summary_field 'documents read')" "documents read"
assert_eq 60 "$(summary_field kept)" "kept (30 survivors + 30 far rewrites)"
assert_eq 120 "$(summary_field removed)" "removed"
# every kept line occurs verbatim in the input (grep -F -x, independent check)
grep -c -F -x -f "$OUT" "$T/in.jsonl" >"$T/n" || true
assert_eq 60 "$(cat "$T/n")" "input lines matching a kept line exactly"

check "dedup --removed FILE: exactly the removed lines, in input order, each with what it duplicates"
nd dedup --removed "$T/removed-annotated.jsonl" "$T/in.jsonl"
assert_rc 0
strip_neardup "$T/removed-annotated.jsonl" >"$T/removed.jsonl"
verify_dedup first "$OUT" "$T/removed.jsonl" || fail "--removed file is wrong"
assert_jq "$T/removed-annotated.jsonl" 'length == 120 and all(.[]; .neardup.duplicate_of != null and
    (.neardup.duplicate_of[0:3] == .id[0:3]) and .neardup.jaccard >= 0.8 and .neardup.size >= 2)' \
    "removed records name their survivor (of the same group), with its Jaccard and the cluster size"
cat "$OUT" "$T/removed.jsonl" | sort >"$T/union"
sort "$T/in.jsonl" >"$T/sorted-in"
assert_same_file "$T/sorted-in" "$T/union" "kept + removed = input (as multisets of lines)"

check "dedup --removed FILE with nothing to remove: FILE is created empty"
head -n 1 "$T/in.jsonl" >"$T/one.jsonl"
echo "stale" >"$T/removed-none.jsonl"
nd dedup --removed "$T/removed-none.jsonl" "$T/one.jsonl"
assert_rc 0
assert_same_file "$T/one.jsonl" "$OUT" "single record passes through"
[[ -f "$T/removed-none.jsonl" ]] || fail "--removed file not created"
assert_empty_file "$T/removed-none.jsonl" "--removed file"

check "dedup --removed into a missing directory: exit 1 naming the file"
nd dedup --removed "$T/no/such/dir/removed.jsonl" "$T/in.jsonl"
assert_rc 1
assert_file_contains "$ERR" "$T/no/such/dir/removed.jsonl"

check "dedup --keep longest: the longest member of each group is kept"
nd dedup --keep longest --removed "$T/removed-long-annotated.jsonl" "$T/in.jsonl"
strip_neardup "$T/removed-long-annotated.jsonl" >"$T/removed-long.jsonl"
assert_rc 0
verify_dedup longest "$OUT" "$T/removed-long.jsonl" || fail "--keep longest output is wrong"
nd scan --keep longest "$T/in.jsonl"
assert_rc 0
python3 - "$OUT" "$T/expected.json" <<'EOF' || fail "scan --keep longest survivors are wrong"
import json, sys
e = json.load(open(sys.argv[2]))
longest = {g["longest"] for g in e["groups"]}
got = [json.loads(l)["ids"][0] for l in open(sys.argv[1])]
assert len(got) == 30, f"{len(got)} clusters, expected 30"
assert set(got) == longest, f"survivors {sorted(set(got) - longest)} are not the longest"
EOF

check "dedup --annotate: every record kept, \"neardup\" object added, nothing else changed"
nd scan "$T/in.jsonl"
cp "$OUT" "$T/scan.jsonl"
nd dedup --annotate "$T/in.jsonl"
assert_rc 0
assert_eq 180 "$(summary_field kept)" "kept"
assert_eq 0 "$(summary_field removed)" "removed"
python3 - "$T/in.jsonl" "$OUT" "$T/scan.jsonl" "$T/expected.json" <<'EOF' || fail "--annotate output is wrong"
import json, sys
inp = open(sys.argv[1], "rb").read().split(b"\n")[:-1]
out = open(sys.argv[2], "rb").read().split(b"\n")[:-1]
scan = [json.loads(l) for l in open(sys.argv[3], encoding="utf-8")]
e = json.load(open(sys.argv[4]))
assert len(out) == len(inp), f"{len(out)} lines out, {len(inp)} in"
fate = {}
for c in scan:
    for rid, j in zip(c["ids"], c["jaccard"]):
        fate[rid] = {"cluster": c["cluster"], "size": c["size"],
                     "duplicate_of": None if rid == c["ids"][0] else c["ids"][0], "jaccard": j}
for k, (a, b) in enumerate(zip(inp, out)):
    ra = json.loads(a)
    rb = json.loads(b)
    nd = rb.pop("neardup", "missing")
    assert ra == rb, f"line {k + 1}: fields changed"
    assert list(ra) == list(rb), f"line {k + 1}: key order changed"
    # bytes: the input up to its closing brace, then ,"neardup":{...}, then the rest
    body = a.rstrip(b" \t\r")
    tail = a[len(body):]
    assert b.startswith(body[:-1] + b',"neardup":{'), f"line {k + 1}: input bytes not kept: {b[:80]!r}"
    assert b.endswith(b"}}" + tail), f"line {k + 1}: closing brace / trailing bytes not kept"
    assert list(nd) == ["cluster", "size", "duplicate_of", "jaccard", "profile"], f"line {k + 1}: keys {list(nd)}"
    assert nd.pop("profile") == "default/3", f"line {k + 1}: profile"
    want = fate.get(ra["id"], {"cluster": None, "size": 1, "duplicate_of": None, "jaccard": None})
    assert nd == want, f"line {k + 1}: neardup {nd}, expected {want}"
far = set(e["far"])
for rid in far:
    assert rid not in fate, f"{rid} (far rewrite) is in a cluster"
EOF
assert_jq "$OUT" '[.[] | select(.neardup.cluster == null)] | length == 30 and all(.[]; .neardup.duplicate_of == null and .neardup.jaccard == null and .neardup.size == 1)' \
    "30 unique records with null cluster, duplicate_of, jaccard, and size 1"
assert_jq "$OUT" '[.[] | select(.neardup.cluster != null and .neardup.duplicate_of == null)] | length == 30 and all(.[]; .neardup.jaccard == 1)' \
    "30 survivors with duplicate_of null and jaccard 1"
assert_jq "$OUT" '[.[] | select(.neardup.duplicate_of != null)] | length == 120 and all(.[]; .neardup.jaccard >= 0.8 and .neardup.jaccard <= 1)' \
    "120 duplicates with jaccard in [0.8, 1]"

check "dedup --annotate of an object with no other field than the text, and of nested objects"
printf '{"text":"alpha beta gamma delta epsilon zeta"}\n{ "text" : "alpha beta gamma delta epsilon zeta" , "o":{"a":{}} }\n' >"$T/small.jsonl"
nd dedup --annotate "$T/small.jsonl"
assert_rc 0
assert_valid_jsonl "$OUT"
printf '%s\n' \
    '{"text":"alpha beta gamma delta epsilon zeta","neardup":{"cluster":0,"size":2,"duplicate_of":null,"jaccard":1,"profile":"default/3"}}' \
    "{ \"text\" : \"alpha beta gamma delta epsilon zeta\" , \"o\":{\"a\":{}} ,\"neardup\":{\"cluster\":0,\"size\":2,\"duplicate_of\":\"$T/small.jsonl:1\",\"jaccard\":1,\"profile\":\"default/3\"}}" \
    >"$T/expect"
assert_same_file "$T/expect" "$OUT" "annotated small file"

check "dedup --annotate of records annotated before: the old \"neardup\" member is replaced, not doubled; a nested one and the text stay"
cat >"$T/again.jsonl" <<'EOF2'
{"id":"a","text":"alpha beta gamma delta epsilon zeta","neardup":{"cluster":9,"old":true}}
{"neardup":{"old":1},"id":"b","text":"alpha beta gamma delta epsilon zeta"}
{"id":"c","neardup":1,"text":"other words entirely here for this one","neardup" : [1,2] }
{"id":"d","meta":{"neardup":"keep me"},"text":"the word \"neardup\" in the text stays"}
EOF2
nd dedup --annotate "$T/again.jsonl"
assert_rc 0
printf '%s\n' \
    '{"id":"a","text":"alpha beta gamma delta epsilon zeta","neardup":{"cluster":0,"size":2,"duplicate_of":null,"jaccard":1,"profile":"default/3"}}' \
    '{"id":"b","text":"alpha beta gamma delta epsilon zeta","neardup":{"cluster":0,"size":2,"duplicate_of":"a","jaccard":1,"profile":"default/3"}}' \
    '{"id":"c","text":"other words entirely here for this one" ,"neardup":{"cluster":null,"size":1,"duplicate_of":null,"jaccard":null,"profile":"default/3"}}' \
    '{"id":"d","meta":{"neardup":"keep me"},"text":"the word \"neardup\" in the text stays","neardup":{"cluster":null,"size":1,"duplicate_of":null,"jaccard":null,"profile":"default/3"}}' \
    >"$T/expect"
assert_same_file "$T/expect" "$OUT" "annotated again"
# annotating the annotated output gives it again (but for the blank
# before the comma that went with the last member replaced)
cp "$OUT" "$T/annotated.jsonl"
nd dedup --annotate "$T/annotated.jsonl"
assert_rc 0
sed 's/for this one" ,"neardup"/for this one","neardup"/' "$T/expect" >"$T/expect2"
assert_same_file "$T/expect2" "$OUT" "annotated twice"
# a "neardup" member spelled with an escape is the same member (it was
# kept beside the new one: a duplicate key), in every mode that annotates
printf '{"id":"e","ne\\u0061rdup":1,"text":"x y z w \\u00e9"}\n' >"$T/escaped.jsonl"
for args in "--annotate" "--unit line --annotate" "--removed $T/escaped-rm.jsonl"; do
    # shellcheck disable=SC2086 # $args: options
    nd dedup $args "$T/escaped.jsonl" "$T/escaped.jsonl"
    assert_rc 0 "dedup $args"
    [[ "$args" == --removed* ]] && cp "$T/escaped-rm.jsonl" "$OUT"
    assert_file_not_contains "$OUT" 'ne\u0061rdup'
    jq -e -s 'all(.[]; has("neardup") and (keys | length == 3))' "$OUT" >/dev/null ||
        fail "dedup $args: not one neardup member: $(cat "$OUT")"
done

check "plain-text inputs produce {\"id\", \"text\"} records (whole files, and --lines)"
mkdir -p "$T/texts"
printf 'A plain "quoted" text\twith a tab, a backslash \\ and ünïcödé, in several words here.\n\nSecond paragraph.\n' >"$T/texts/a.txt"
cp "$T/texts/a.txt" "$T/texts/b.txt"
printf 'Something else, no trailing newline' >"$T/texts/c.txt"
nd dedup "$T/texts"
assert_rc 0
assert_valid_jsonl "$OUT"
python3 - "$OUT" "$T/texts" <<'EOF' || fail "plain-text dedup records are wrong"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
d = sys.argv[2]
want = [{"id": f"{d}/a.txt", "text": open(f"{d}/a.txt", encoding="utf-8").read()},
        {"id": f"{d}/c.txt", "text": open(f"{d}/c.txt", encoding="utf-8").read()}]
assert recs == want, f"got {recs}"
assert all(list(r) == ["id", "text"] for r in recs), "keys are not exactly id, text (in that order)"
EOF
nd dedup --lines "$T/texts/a.txt" "$T/texts/c.txt"
assert_rc 0
P="$T/texts" assert_jq "$OUT" '. == [
    {"id": "\($ENV.P)/a.txt:1", "text": "A plain \"quoted\" text\twith a tab, a backslash \\ and ünïcödé, in several words here."},
    {"id": "\($ENV.P)/a.txt:2", "text": ""},
    {"id": "\($ENV.P)/a.txt:3", "text": "Second paragraph."},
    {"id": "\($ENV.P)/c.txt:1", "text": "Something else, no trailing newline"}]' "--lines records"

check "stdin: '-' and no path give the same output as the file"
nd dedup "$T/in.jsonl"
cp "$OUT" "$T/from-file"
run_in "$T/in.jsonl" "$ND" dedup -
assert_rc 0
assert_same_file "$T/from-file" "$OUT" "dedup - vs dedup FILE"
run_in "$T/in.jsonl" "$ND" dedup
assert_rc 0
assert_same_file "$T/from-file" "$OUT" "dedup (no path) vs dedup FILE"
cat "$T/in.jsonl" | "$ND" dedup --removed "$T/removed-stdin-annotated.jsonl" >"$T/from-pipe" 2>"$ERR"
assert_same_file "$T/from-file" "$T/from-pipe" "dedup from a pipe"
strip_neardup "$T/removed-stdin-annotated.jsonl" >"$T/removed-stdin.jsonl"
verify_dedup first "$T/from-pipe" "$T/removed-stdin.jsonl" || fail "--removed from a pipe is wrong"

check "stdin with plain text: one record with id '-'"
run_in "$T/texts/a.txt" "$ND" dedup
assert_rc 0
assert_jq "$OUT" 'length == 1 and .[0].id == "-" and (.[0].text | startswith("A plain \"quoted\""))' "one {id: \"-\"} record"

check "a file and stdin together: stdin read where '-' is given"
grep -F -e '"g00-far"' -e '"g01-far"' -e '"g02-far"' "$T/in.jsonl" >"$T/head.jsonl"
assert_eq 3 "$(line_count "$T/head.jsonl")" "records picked for stdin"
run_in "$T/head.jsonl" "$ND" dedup "$T/texts/c.txt" - "$T/texts/c.txt"
assert_rc 0
{ printf '{"id":"%s","text":"Something else, no trailing newline"}\n' "$T/texts/c.txt"; cat "$T/head.jsonl"; } >"$T/expect"
assert_same_file "$T/expect" "$OUT" "c.txt, then stdin's 3 records, then c.txt again removed"

check "--tmpdir: stdin is spooled in a given directory, nothing left behind; a missing --tmpdir is refused at start (exit 2)"
mkdir "$T/spool"
run_in "$T/in.jsonl" "$ND" dedup --tmpdir "$T/spool" -
assert_rc 0
assert_same_file "$T/from-file" "$OUT" "dedup --tmpdir output (stdin, spooled) vs the file (read twice)"
assert_eq "" "$(ls -A "$T/spool")" "files left in --tmpdir"
run_in "$T/in.jsonl" "$ND" dedup --tmpdir "$T/no-such-dir" -
assert_rc 2
assert_file_contains "$ERR" "$T/no-such-dir"
assert_empty_file "$OUT" "stdout with a bad --tmpdir"

check "a regular file is read twice instead of spooled: same output as a pipe"
nd dedup --tmpdir "$T/spool" --removed "$T/removed-file" "$T/in.jsonl"
assert_rc 0
assert_same_file "$T/from-file" "$OUT" "dedup of the file"
cat "$T/in.jsonl" | run "$ND" dedup --removed "$T/removed-pipe" -
assert_rc 0
assert_same_file "$T/from-file" "$OUT" "dedup from a pipe"
assert_same_file "$T/removed-file" "$T/removed-pipe" "--removed, file vs pipe"

check "dedup --quiet: no summary on stderr"
nd dedup --quiet "$T/in.jsonl"
assert_rc 0
assert_empty_file "$ERR" "stderr with --quiet"
assert_same_file "$T/from-file" "$OUT" "dedup --quiet output"

check "--output-dir: each input's records in DIR/<its name>, the same records as stdout, in the same order"
mkdir -p "$T/od/a" "$T/od/b" "$T/od/out" "$T/od/rem"
head -n 3 "$T/in.jsonl" >"$T/od/a/first.jsonl"
tail -n +4 "$T/in.jsonl" >"$T/od/b/second.jsonl"
nd dedup --removed "$T/od/removed.jsonl" "$T/od/a/first.jsonl" "$T/od/b/second.jsonl"
assert_rc 0
cp "$OUT" "$T/od/stdout.jsonl"
nd dedup --output-dir "$T/od/out" --removed-dir "$T/od/rem" "$T/od/a/first.jsonl" "$T/od/b/second.jsonl"
assert_rc 0
assert_empty_file "$OUT" "stdout with --output-dir"
cat "$T/od/out/first.jsonl" "$T/od/out/second.jsonl" >"$T/od/joined"
assert_same_file "$T/od/stdout.jsonl" "$T/od/joined" "the kept files, joined in input order"
cat "$T/od/rem/first.jsonl" "$T/od/rem/second.jsonl" >"$T/od/joined-removed"
assert_same_file "$T/od/removed.jsonl" "$T/od/joined-removed" "the removed files, joined"
assert_eq 2 "$(ls -A "$T/od/out" | wc -l | tr -d ' ')" "two files, no temporary file left"

check "--output-dir refuses two inputs with one file name, a missing directory, and stdin"
cp "$T/od/a/first.jsonl" "$T/od/b/first.jsonl"
rm -rf "$T/od/out2" && mkdir "$T/od/out2"
nd dedup --output-dir "$T/od/out2" "$T/od/a/first.jsonl" "$T/od/b/first.jsonl"
assert_rc 2
assert_file_contains "$ERR" "would both be written"
assert_eq 0 "$(ls -A "$T/od/out2" | wc -l | tr -d ' ')" "nothing written"
nd dedup --output-dir "$T/od/missing" "$T/od/a/first.jsonl"
assert_rc 2
run_in "$T/od/a/first.jsonl" "$ND" dedup --output-dir "$T/od/out2" -
assert_rc 2
nd dedup --removed-dir "$T/od/rem" "$T/od/a/first.jsonl"
assert_rc 2

check "--output-dir and --removed-dir naming one directory (by any path) are refused before anything is written"
rm -rf "$T/od/same" && mkdir "$T/od/same"
for removed in "$T/od/same" "$T/od/same/" "$T/od/../od/same"; do
    nd dedup --output-dir "$T/od/same" --removed-dir "$removed" "$T/od/a/first.jsonl"
    assert_rc 2 "--removed-dir $removed"
    assert_file_contains "$ERR" "--output-dir and --removed-dir both name"
    assert_eq 0 "$(ls -A "$T/od/same" | wc -l | tr -d ' ')" "nothing written"
done
rm -rf "$T/od/rem2" && mkdir "$T/od/rem2"
for stats in "$T/od/same/first.jsonl" "$T/od/rem2/../rem2/first.jsonl"; do
    nd dedup --output-dir "$T/od/same" --removed-dir "$T/od/rem2" --stats "$stats" "$T/od/a/first.jsonl"
    assert_rc 2 "--stats $stats, a file an output directory would write"
    assert_file_contains "$ERR" "would write; give it another name"
    assert_eq 0 "$(ls -A "$T/od/same" "$T/od/rem2" | grep -c 'jsonl')" "nothing written"
done

check "--output-dir after a failure: no file that looks complete, no temporary file"
{ cat "$T/od/a/first.jsonl"; printf '{"id": "broken"\n'; } >"$T/od/c.jsonl"
nd dedup --output-dir "$T/od/out2" "$T/od/b/second.jsonl" "$T/od/c.jsonl"
assert_rc 1
assert_eq 0 "$(ls -A "$T/od/out2" | wc -l | tr -d ' ')" "nothing left in the output directory"

check "kept records copied by their positions: the same bytes as a pipe (CRLF, blank and skipped lines, a 6 MB record, no final newline, --output-dir)"
mkdir -p "$T/pos/out" "$T/pos/a" "$T/pos/b"
python3 - "$T/pos" <<'PY'
import json, random, sys
d = sys.argv[1]
rnd = random.Random(3)
words = ["w%d" % i for i in range(500)]
def text(): return " ".join(rnd.choice(words) for _ in range(rnd.randint(20, 60)))
docs = [text() for _ in range(300)]
lines = []
for k in range(900):
    t = rnd.choice(docs) if rnd.random() < 0.3 else text()
    lines.append(json.dumps({"id": "r%d" % k, "text": t}) + ("\r\n" if k % 7 == 0 else "\n"))
    if k % 50 == 0:
        lines.append("\n")                      # blank
    if k % 97 == 0:
        lines.append("{not json\n")             # skipped (--on-error skip)
    if k == 400:                                # past the 4 MiB window
        lines.append(json.dumps({"id": "big", "text": " ".join(rnd.choice(words) for _ in range(1100000))}) + "\n")
with open(d + "/a/x.jsonl", "w", newline="") as f:
    f.write("".join(lines[:700]))
with open(d + "/b/y.jsonl", "w", newline="") as f:
    f.write("".join(lines[600:]).rstrip("\n"))  # the last line without a newline
PY
cat "$T/pos/a/x.jsonl" "$T/pos/b/y.jsonl" >"$T/pos/joined"
run_in "$T/pos/joined" "$ND" dedup --on-error skip -
assert_rc 0
cp "$OUT" "$T/pos/piped"
for threads in 1 2; do
    nd dedup --on-error skip --threads "$threads" "$T/pos/a/x.jsonl" "$T/pos/b/y.jsonl"
    assert_rc 0
    assert_same_file "$T/pos/piped" "$OUT" "dedup of the files, $threads threads"
done
grep -q $'\r$' "$T/pos/piped" || fail "no CRLF line kept"
nd dedup --on-error skip --output-dir "$T/pos/out" "$T/pos/a/x.jsonl" "$T/pos/b/y.jsonl"
assert_rc 0
cat "$T/pos/out/x.jsonl" "$T/pos/out/y.jsonl" >"$T/pos/dirs"
assert_same_file "$T/pos/piped" "$T/pos/dirs" "--output-dir files, joined"

check "distinct short texts (one shingle each) are all kept: 300,000 one-word lines, 300,000 two-character Chinese lines"
# profile version 2 gave such a text one 32-bit id, and a dozen of these
# pairs collided (12 lines removed from the first file); two ids now
python3 - "$T" <<'PY'
import sys
t = sys.argv[1]
with open(f"{t}/words.txt", "w") as f:
    f.writelines("w%d\n" % i for i in range(1, 300001))
with open(f"{t}/han.txt", "w", encoding="utf-8") as f:
    f.writelines(chr(0x4E00 + i // 600) + chr(0x4E00 + i % 600) + "\n" for i in range(300000))
PY
for f in words han; do
    nd dedup --lines --removed "$T/$f.removed" "$T/$f.txt"
    assert_rc 0
    assert_empty_file "$T/$f.removed" "$f: lines removed though no two are alike"
    assert_eq 300000 "$(line_count "$OUT")" "$f: lines kept"
done

pass
