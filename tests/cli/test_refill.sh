#!/usr/bin/env bash
# test_refill.sh - document mode keeps a document's shingle ids only when
# another may share its band keys (refill.c): lone documents and each
# group's first member are dropped, and those clustering may read are
# sketched again after pass 1 from their records, read where pass 1 found
# them (on every thread). The output must be byte for byte what keeping
# every document's ids gives (stdin, whose records cannot be read again,
# and compressed files keep them all): at 1, 2 and 3 threads, --pairs,
# dedup (--keep longest), and with --memory 1M, where the index spills
# after its first batch (the dropped documents stay dropped: those
# clustering reads get their ids back in the index's files). Plain text
# lines with ill-formed UTF-8 (sketched as they are) too. Only documents
# whose ids take more room than their text are dropped (CJK text,
# character shingles), unless the input is half of --memory or more: then
# Latin ones too (a Latin-only input below). Dropping is on for an input
# of any size that can be read again (refill.c; it was off below a 32nd of
# --memory before); the runs below give --memory 10M (the index does not
# spill) or 1M (it does).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"

python3 - "$T" <<'PY'
import json, os, random, sys
t = sys.argv[1]
rnd = random.Random(7)
latin = ["w%d" % i for i in range(3000)]
han = [chr(0x4E00 + i) for i in range(2000)]
def text(k):
    if k % 4 != 3:  # mostly CJK: its ids (one per character) take more room than its text
        return "".join(rnd.choice(han) for _ in range(rnd.randint(40, 120)))
    return " ".join(rnd.choice(latin) for _ in range(rnd.randint(30, 90)))
def near(s):
    if not s:
        return text(1)
    if " " not in s:
        i = rnd.randrange(len(s))
        return s[:i] + rnd.choice(han) + s[i + 1:]
    w = s.split(" ")
    w[rnd.randrange(len(w))] = rnd.choice(latin)
    return " ".join(w)
docs = []
for k in range(2600):
    r = rnd.random()
    if docs and r < 0.15:
        docs.append(rnd.choice(docs[-400:]))           # an exact copy of a recent one
    elif docs and r < 0.25:
        docs.append(near(rnd.choice(docs)))             # a near copy of any earlier one
    elif r < 0.27:
        docs.append("")                                 # empty
    else:
        docs.append(text(k))                            # most: alone, or a group's first member
with open(os.path.join(t, "a.jsonl"), "w", encoding="utf-8") as f:
    for k, d in enumerate(docs):
        f.write(json.dumps({"id": "d%d" % k, "text": d}, ensure_ascii=(k % 2 == 0)) + "\n")
latin_docs = []  # Latin text only (1 MB: --memory is 1M at least), copies among them
for k in range(3000):
    r = rnd.random()
    latin_docs.append(rnd.choice(latin_docs) if latin_docs and r < 0.15 else
                      near(rnd.choice(latin_docs)) if latin_docs and r < 0.25 else text(3))
with open(os.path.join(t, "l.jsonl"), "w", encoding="utf-8") as f:
    for k, d in enumerate(latin_docs):
        f.write(json.dumps({"id": "l%d" % k, "text": d}) + "\n")
with open(os.path.join(t, "b.txt"), "wb") as f:
    for k, d in enumerate(docs[:1500]):
        line = d.encode("utf-8")
        if k % 9 == 0 and line:
            line = line[:5] + b"\xff\xc3" + line[5:]       # ill-formed UTF-8, read as U+FFFD
        f.write(line.replace(b"\n", b" ") + b"\n")
PY
gzip -k "$T/b.txt"

check "stdin (its records cannot be read again): every document keeps its ids"
run_in "$T/a.jsonl" "$ND" scan --verbose --threads 1 -
assert_rc 0
if grep -F "shingle ids dropped" "$ERR"; then fail "ids dropped for stdin"; fi
cp "$OUT" "$T/default.out"

check "a small file against the default --memory: CJK documents' ids are dropped, the same output"
nd scan --verbose --threads 1 "$T/a.jsonl"
assert_rc 0
grep -qE "shingle ids dropped for [1-9][0-9]{3,} documents, [1-9][0-9]+ sketched again" "$ERR" ||
    fail "ids not dropped for a small file: $(tail -1 "$ERR")"
assert_same_file "$T/default.out" "$OUT" "small file output"

check "document ids are dropped and some sketched again"
nd scan --verbose --threads 1 --memory 10M "$T/a.jsonl"
assert_rc 0
line=$(grep -F "shingle ids dropped for" "$ERR" || true)
dropped=$(sed -n 's/.*dropped for \([0-9]*\) documents.*/\1/p' <<<"$line")
again=$(sed -n 's/.*, \([0-9]*\) sketched again.*/\1/p' <<<"$line")
[[ -n "$dropped" && "$dropped" -gt 1000 ]] || fail "too few documents dropped: '$line'"
[[ -n "$again" && "$again" -gt 50 && "$again" -lt "$dropped" ]] || fail "documents sketched again: '$line'"
assert_same_file "$T/default.out" "$OUT" "output with ids dropped"

for args in "scan --threads 1 --memory 10M" "scan --threads 2 --memory 10M" "scan --threads 3 --memory 10M" \
    "scan --threads 1 --pairs --memory 10M" "scan --threads 2 --pairs --memory 10M" "scan --threads 1 --memory 1M" \
    "scan --threads 3 --memory 1M" "dedup --threads 1 --memory 10M" "dedup --threads 2 --keep longest --memory 10M" \
    "dedup --threads 2 --memory 1M"; do
    check "$args: the same as with every document's ids"
    # shellcheck disable=SC2086
    run_in "$T/a.jsonl" "$ND" $args --tmpdir "$T" -
    assert_rc 0
    cp "$OUT" "$T/kept.out"
    # shellcheck disable=SC2086
    nd $args --verbose --tmpdir "$T" "$T/a.jsonl"
    assert_rc 0
    assert_same_file "$T/kept.out" "$OUT" "$args output"
    grep -qE ", [1-9][0-9]* sketched again" "$ERR" || fail "$args: no document sketched again"
    # past the spill, dropped documents stay dropped: far fewer sketched again
    line=$(grep -F "shingle ids dropped for" "$ERR")
    dropped=$(sed -n 's/.*dropped for \([0-9]*\) documents.*/\1/p' <<<"$line")
    again=$(sed -n 's/.*, \([0-9]*\) sketched again.*/\1/p' <<<"$line")
    [[ "$dropped" -gt 1000 && "$again" -lt $((dropped / 2)) ]] || fail "$args: '$line'"
done

check "a Latin input of half of --memory or more: its ids are dropped too, the same output"
size=$(stat -c %s "$T/l.jsonl")
for threads in 1 2; do
    nd scan --threads "$threads" --verbose "$T/l.jsonl"
    assert_rc 0
    grep -qF "shingle ids dropped for 0 documents" "$ERR" || fail "Latin ids dropped for a small input"
    cp "$OUT" "$T/kept.out"
    # input below half of --memory: Latin ids kept (and the index does not spill)
    nd scan --threads "$threads" --verbose --memory $((size * 4)) --tmpdir "$T" "$T/l.jsonl"
    assert_rc 0
    assert_same_file "$T/kept.out" "$OUT" "Latin output, ids kept"
    grep -qF "shingle ids dropped for 0 documents" "$ERR" || fail "Latin ids dropped below half of --memory"
    # half of --memory or more: dropped, and the index spills
    nd scan --threads "$threads" --verbose --memory $((size * 2)) --tmpdir "$T" "$T/l.jsonl"
    assert_rc 0
    assert_same_file "$T/kept.out" "$OUT" "Latin output, ids dropped"
    grep -qE "shingle ids dropped for [1-9][0-9]{2,} documents, [1-9][0-9]* sketched again" "$ERR" ||
        fail "Latin ids not dropped: $(tail -1 "$ERR")"
done

check "plain text lines with ill-formed UTF-8: the same as the compressed copy"
for threads in 1 2; do
    nd scan --lines --threads "$threads" "$T/b.txt.gz"
    assert_rc 0
    sed 's/b\.txt\.gz/b.txt/g' "$OUT" >"$T/kept.out"
    nd scan --lines --threads "$threads" --verbose --memory 10M "$T/b.txt"
    assert_rc 0
    assert_same_file "$T/kept.out" "$OUT" "plain text output"
    grep -qE ", [1-9][0-9]* sketched again" "$ERR" || fail "plain text: no document sketched again"
done

check "several files (records sketched again in the order clustering reads them, from any file)"
split -n l/20 -d --additional-suffix=.jsonl "$T/a.jsonl" "$T/part"
cat "$T"/part*.jsonl >"$T/joined"
for threads in 1 2; do
    run_in "$T/joined" "$ND" scan --threads "$threads" -
    assert_rc 0
    cp "$OUT" "$T/kept.out"
    nd scan --threads "$threads" --verbose --memory 10M "$T"/part*.jsonl
    assert_rc 0
    assert_same_file "$T/kept.out" "$OUT" "several files output"
    grep -qE ", [1-9][0-9]* sketched again" "$ERR" || fail "several files: no document sketched again"
done
