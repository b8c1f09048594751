#!/usr/bin/env bash
# shellcheck disable=SC2016  # jq filters are single-quoted on purpose
# test_determinism.sh - output does not depend on the thread count, on how
# the input is split into files or streamed, or on the run: 10,000 JSON Lines
# documents (several read batches) with many near-duplicates, chains of
# edits, exact copies, case variants, short and empty texts.
# Also checks that the reported Jaccards are the exact 5-word-shingle
# Jaccards and that dedup removes exactly what scan reports.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"

python3 - "$T" <<'EOF'
import json, random, sys
t = sys.argv[1]
r = random.Random(7)
latin = ["%s%s%s" % (a, b, c) for a in "bcdfghklmnprstvz" for b in "aeiou" for c in "bdgklmnprstxz"][:2500]
cyr = ["дом", "река", "лес", "город", "поле", "море", "небо", "земля", "окно", "книга",
       "свет", "ночь", "день", "путь", "гора", "снег", "вода", "огонь", "ветер", "камень"]
vocab = latin + cyr
docs = []
for i in range(10000):
    roll = r.random()
    if docs and roll < 0.55:
        # an edited copy of an earlier document (often itself an edit: chains)
        src = docs[r.randrange(max(0, len(docs) - 2000), len(docs))]
        words = src.split()
        for _ in range(r.choice([0, 1, 1, 2, 3, 5, 8])):
            if not words:
                break
            op, p = r.randrange(3), r.randrange(len(words))
            if op == 0:
                words[p] = r.choice(vocab)
            elif op == 1:
                del words[p]
            else:
                words.insert(p, r.choice(vocab))
        text = " ".join(words)
        if r.random() < 0.1:
            text = text.upper()
    elif roll < 0.57:
        text = r.choice(["", "   ", " ".join(r.choice(vocab) for _ in range(r.randrange(1, 5)))])
    else:
        text = " ".join(r.choice(vocab) for _ in range(r.randrange(30, 160)))
    docs.append(text)
with open(f"{t}/corpus.jsonl", "w", encoding="utf-8") as f:
    for i, text in enumerate(docs):
        rec = {"id": f"doc{i:05d}", "text": text, "source": ["a", "b", "c"][i % 3]}
        f.write(json.dumps(rec, ensure_ascii=(i % 2 == 0)) + "\n")
EOF
lines="$(line_count "$T/corpus.jsonl")"
assert_eq 10000 "$lines" "corpus size"

# scan_with NAME ARGS...: scan into $T/NAME (stdout) and $T/NAME.err.
scan_with() {
    local name="$1"
    shift
    nd "$@"
    assert_rc 0 "neardup $*"
    cp "$OUT" "$T/$name"
    cp "$ERR" "$T/$name.err"
}

check "scan --threads 1 (reference run)"
scan_with scan1 scan --threads 1 "$T/corpus.jsonl"
assert_valid_jsonl "$T/scan1"
clusters="$(line_count "$T/scan1")"
dups="$(summary_field duplicates "$T/scan1.err")"
echo "  $clusters clusters, $dups duplicates"
[[ $clusters -ge 500 ]] || fail "expected a good share of near-duplicates, got only $clusters clusters"
[[ $dups -ge 2000 ]] || fail "expected at least 2000 duplicates, got $dups"
assert_eq "$clusters" "$(summary_field clusters "$T/scan1.err")" "summary clusters vs output lines"

check "scan --threads 2, 4, 7, 16: byte-identical to --threads 1"
# 16 threads on fewer cores: threads are held up often, and whichever is
# free reads, sketches or commits (pipeline.c)
for n in 2 4 7 16; do
    scan_with "scan$n" scan --threads "$n" "$T/corpus.jsonl"
    assert_same_file "$T/scan1" "$T/scan$n" "scan --threads 1 vs --threads $n"
done

check "scan --threads 4 twice: identical"
scan_with scan4b scan --threads 4 "$T/corpus.jsonl"
assert_same_file "$T/scan4" "$T/scan4b" "two runs of scan --threads 4"

check "the corpus split into 4 files, and via stdin: identical"
split -l 3333 -d -a 1 --additional-suffix=.jsonl "$T/corpus.jsonl" "$T/part"
assert_eq 4 "$(ls "$T"/part*.jsonl | wc -l)" "number of parts"
scan_with scansplit scan --threads 3 "$T"/part0.jsonl "$T"/part1.jsonl "$T"/part2.jsonl "$T"/part3.jsonl
assert_same_file "$T/scan1" "$T/scansplit" "scan of the parts"
run_in "$T/corpus.jsonl" "$ND" scan --threads 4
assert_rc 0
assert_same_file "$T/scan1" "$OUT" "scan of stdin"

check "reported jaccards are exact 5-word-shingle Jaccards with the survivor, all >= 0.8; clusters well-formed"
python3 - "$T/corpus.jsonl" "$T/scan1" <<'EOF' || fail "scan output is not consistent with the corpus"
import json, sys
texts, order = {}, {}
for n, line in enumerate(open(sys.argv[1], encoding="utf-8")):
    rec = json.loads(line)
    texts[rec["id"]] = rec["text"]
    order[rec["id"]] = n

def shingles(text):
    toks = text.lower().split()
    if not toks:
        return set()
    if len(toks) < 5:
        return {tuple(toks)}
    return {tuple(toks[i:i + 5]) for i in range(len(toks) - 4)}

seen = set()
prev_first = -1
for k, line in enumerate(open(sys.argv[2], encoding="utf-8")):
    c = json.loads(line)
    ids, jac = c["ids"], c["jaccard"]
    assert c["cluster"] == k, f"cluster numbers not 0, 1, 2, ...: {c['cluster']} at line {k}"
    assert c["size"] == len(ids) == len(jac) >= 2, f"cluster {k}: bad size"
    assert not seen & set(ids), f"cluster {k}: a document is in two clusters"
    seen |= set(ids)
    assert jac[0] == 1, f"cluster {k}: survivor jaccard {jac[0]}"
    pos = [order[i] for i in ids]
    assert pos[1:] == sorted(pos[1:]), f"cluster {k}: members not in input order"
    assert min(pos) > prev_first, f"cluster {k}: clusters not ordered by their earliest member"
    prev_first = min(pos)
    # --keep first: the survivor is the earliest member that reaches the
    # threshold with every other member of its cluster
    sets = {i: shingles(texts[i]) for i in ids}
    def jac_of(a, b):
        return len(sets[a] & sets[b]) / len(sets[a] | sets[b])
    covers = [i for i in ids if all(jac_of(i, o) >= 0.8 - 1e-12 for o in ids)]
    assert covers and ids[0] == min(covers, key=lambda i: order[i]), f"cluster {k}: survivor is not the earliest member that matches all others"
    s0 = shingles(texts[ids[0]])
    assert s0, f"cluster {k}: an empty document was clustered"
    for i, j in zip(ids[1:], jac[1:]):
        s = shingles(texts[i])
        exact = len(s0 & s) / len(s0 | s)
        assert abs(exact - j) < 1e-5, f"cluster {k}: {i} vs {ids[0]}: reported {j}, exact {exact}"
        assert j >= 0.8, f"cluster {k}: {i} has jaccard {j} < 0.8"
print(f"  checked {k + 1} clusters, {len(seen)} documents")
EOF

check "dedup --threads 1 vs --threads 4: identical; removed = the non-survivors scan reports"
nd dedup --threads 1 --removed "$T/removed1" "$T/corpus.jsonl"
assert_rc 0
cp "$OUT" "$T/dedup1"
cp "$ERR" "$T/dedup1.err"
nd dedup --threads 4 --removed "$T/removed4" "$T/corpus.jsonl"
assert_rc 0
assert_same_file "$T/dedup1" "$OUT" "dedup --threads 1 vs 4"
assert_same_file "$T/removed1" "$T/removed4" "--removed, --threads 1 vs 4"
assert_eq "$dups" "$(summary_field removed "$T/dedup1.err")" "dedup removed vs scan duplicates"
assert_eq "$((10000 - dups))" "$(summary_field kept "$T/dedup1.err")" "dedup kept"
strip_neardup "$T/removed1" >"$T/removed1.stripped"
python3 - "$T/corpus.jsonl" "$T/scan1" "$T/dedup1" "$T/removed1.stripped" <<'EOF' || fail "dedup does not match scan"
import json, sys
lines = open(sys.argv[1], "rb").read().splitlines(keepends=True)
ids = [json.loads(l)["id"] for l in lines]
dup = set()
for l in open(sys.argv[2], encoding="utf-8"):
    dup |= set(json.loads(l)["ids"][1:])
kept = b"".join(l for l, i in zip(lines, ids) if i not in dup)
removed = b"".join(l for l, i in zip(lines, ids) if i in dup)
assert open(sys.argv[3], "rb").read() == kept, "dedup output != input lines minus scan's duplicates"
assert open(sys.argv[4], "rb").read() == removed, "--removed != scan's duplicates' input lines"
EOF

check "dedup --annotate and --keep longest: --threads 1 vs 4 identical"
nd dedup --threads 1 --annotate "$T/corpus.jsonl"
cp "$OUT" "$T/ann1"
nd dedup --threads 4 --annotate "$T/corpus.jsonl"
assert_rc 0
assert_same_file "$T/ann1" "$OUT" "dedup --annotate --threads 1 vs 4"
assert_eq 10000 "$(line_count "$OUT")" "annotated lines"
nd scan --threads 1 --keep longest "$T/corpus.jsonl"
cp "$OUT" "$T/long1"
nd scan --threads 4 --keep longest "$T/corpus.jsonl"
assert_rc 0
assert_same_file "$T/long1" "$OUT" "scan --keep longest --threads 1 vs 4"
cmp -s "$T/long1" "$T/scan1" && fail "--keep longest gave the same clusters as --keep first (it should pick other survivors)"
nd dedup --threads 1 --keep longest "$T/corpus.jsonl"
cp "$OUT" "$T/dlong1"
nd dedup --threads 4 --keep longest "$T/corpus.jsonl"
assert_rc 0
assert_same_file "$T/dlong1" "$OUT" "dedup --keep longest --threads 1 vs 4"

check "another seed gives valid, deterministic output too"
nd scan --threads 1 --seed 12345 "$T/corpus.jsonl"
cp "$OUT" "$T/seed1"
nd scan --threads 4 --seed 12345 "$T/corpus.jsonl"
assert_rc 0
assert_same_file "$T/seed1" "$OUT" "scan --seed 12345 --threads 1 vs 4"

check "--memory small enough to spill the index to files: identical scan output; a too-small value is a usage error"
nd scan --threads 2 --memory 1M "$T/corpus.jsonl"
assert_rc 0
assert_contains "$(cat "$ERR")" "moving shingle ids and band keys to files" "spill notice"
assert_contains "$(cat "$ERR")" "half of --memory (0.5 MiB)" "the budget reported in the binary units it was given in"
cp "$OUT" "$T/scan-spilled.jsonl"
nd scan --threads 2 "$T/corpus.jsonl"
assert_same_file "$OUT" "$T/scan-spilled.jsonl" "scan with and without spilling"
nd scan --memory 0.5M "$T/corpus.jsonl"
assert_rc 2
check "more clusters than one round of parallel formatting, more records than a pass-2 read-ahead batch: --threads 1 vs 3 identical"
# 9,000 pairs of copies (each a cluster, and a paragraph group), shuffled
python3 - "$T/pairs.jsonl" <<'EOF'
import random, sys
r = random.Random(11)
vocab = ["w%d" % i for i in range(5000)]
docs = []
for i in range(9000):
    text = " ".join(r.choice(vocab) for _ in range(12))
    docs += [text, text]
r.shuffle(docs)
with open(sys.argv[1], "w") as f:
    for i, text in enumerate(docs):
        f.write('{"id":"p%05d","text":"%s"}\n' % (i, text))
EOF
for mode in "scan" "scan --unit paragraph" "dedup" "dedup --unit paragraph"; do
    # shellcheck disable=SC2086  # the mode is two words on purpose
    nd $mode --threads 1 "$T/pairs.jsonl"
    assert_rc 0
    cp "$OUT" "$T/many1"
    # shellcheck disable=SC2086
    nd $mode --threads 3 "$T/pairs.jsonl"
    assert_rc 0
    assert_same_file "$T/many1" "$OUT" "$mode --threads 1 vs 3"
    # shellcheck disable=SC2086
    run_in "$T/pairs.jsonl" "$ND" $mode --threads 2
    assert_rc 0
    assert_same_file "$T/many1" "$OUT" "$mode from stdin (spooled) --threads 2"
done
assert_eq 9000 "$(line_count "$T/many1")" "dedup --unit paragraph keeps one of each pair"
nd scan --threads 3 "$T/pairs.jsonl"
assert_eq 9000 "$(line_count "$OUT")" "clusters"

check "a bad record deep in the input (the 4th of 6 batches) with threads: the same stop, or the same skip, as one thread"
# the workers run ahead into the next batch while the main thread commits
# one: a stop there must leave no output and name the record
awk 'NR == 9001 { print "{\"id\": \"broken\", \"text\": 5}"; next } { print }' "$T/pairs.jsonl" >"$T/bad.jsonl"
for t in 1 2 4; do
    nd scan --threads "$t" -o "$T/bad-out$t" "$T/bad.jsonl"
    assert_rc 1 "scan --threads $t of a bad record"
    assert_file_contains "$ERR" "bad.jsonl:9001" "the bad record named (--threads $t)"
    [ ! -e "$T/bad-out$t" ] || fail "scan --threads $t left an output after stopping"
    nd dedup --threads "$t" --on-error skip "$T/bad.jsonl"
    assert_rc 0 "dedup --threads $t --on-error skip"
    cp "$OUT" "$T/bad-skip$t"
    assert_same_file "$T/bad-skip1" "$T/bad-skip$t" "dedup --on-error skip --threads 1 vs $t"
done
assert_eq 9000 "$(line_count "$T/bad-skip1")" "dedup keeps one of each pair (the broken one's twin alone)"

check "long and short records mixed (a read batch shared out by bytes as well as by records): threads 1, 2, 5 identical"
# records of 20-150 KB among 1 KB ones: a grab of records ends at 64 KiB
# (pipebatch.h), so long ones come one or two a grab, and near-copies of
# them land in other grabs and batches
python3 - "$T" <<'EOF'
import json, random, sys
r = random.Random(11)
vocab = ["w%04d" % i for i in range(3000)]
docs = []
for i in range(600):
    if docs and r.random() < 0.4:
        words = r.choice(docs).split()
        for _ in range(r.randrange(0, 4)):
            words[r.randrange(len(words))] = r.choice(vocab)
    else:
        n = r.choice([150, 150, 150, 4000, 25000])
        words = [r.choice(vocab) for _ in range(n)]
    docs.append(" ".join(words))
with open(f"{sys.argv[1]}/long.jsonl", "w") as f:
    for i, text in enumerate(docs):
        f.write(json.dumps({"id": f"L{i}", "text": text}) + "\n")
EOF
nd scan --threads 1 "$T/long.jsonl"
assert_rc 0 "scan --threads 1 of long records"
cp "$OUT" "$T/long1"
[ "$(line_count "$T/long1")" -gt 10 ] || fail "long records: expected clusters, got $(line_count "$T/long1")"
for t in 2 5; do
    nd scan --threads "$t" "$T/long.jsonl"
    assert_rc 0 "scan --threads $t of long records"
    assert_same_file "$T/long1" "$OUT" "long records, --threads 1 vs $t"
done

pass
