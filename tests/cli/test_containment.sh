#!/usr/bin/env bash
# shellcheck disable=SC2016  # jq filters are single-quoted on purpose
# test_containment.sh - scan --pairs (every matching pair, exact numbers
# equal to explain's, in input order, copies expanded) and --measure
# containment (excerpts and abridged copies found inside their original,
# which survives; the --min-shingles guard; dedup removes the contained
# texts and says what contains them).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"

# Pairs of the shingle sets, the slow way: `neardup normalize --shingles`
# gives each document's ids; every pair whose score reaches T under
# MEASURE is listed as "a b jaccard a_in_b b_in_a" (ids, input order).
reference_pairs() { # reference_pairs JSONL MEASURE T MIN_SHINGLES > pairs.tsv
    "$ND" normalize --shingles "$1" >"$T/shingles.jsonl" || fail "normalize --shingles failed"
    python3 - "$T/shingles.jsonl" "$2" "$3" "$4" <<'EOF'
import json, sys, collections
docs = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
measure, t, min_sh = sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
sets = [set(d["shingles"]) for d in docs]
index = collections.defaultdict(list)
for i, s in enumerate(sets):
    for x in s:
        index[x].append(i)
near = collections.defaultdict(set)
for ds in index.values():
    for i in ds:
        near[i].update(ds)
def covers(s, m, x):
    if x / (s + m - x) >= t - 1e-12:
        return True
    return measure == "containment" and m >= min_sh and x / m >= t - 1e-12
for a in range(len(docs)):
    for b in sorted(j for j in near[a] if j > a):
        x = len(sets[a] & sets[b])
        na, nb = len(sets[a]), len(sets[b])
        if covers(na, nb, x) or covers(nb, na, x):
            print("%s\t%s\t%.6f\t%.6f\t%.6f" % (docs[a]["id"], docs[b]["id"], x / (na + nb - x), x / na, x / nb))
EOF
}

as_tsv() { jq -r '[.a, .b, (.jaccard | tostring), (.a_in_b | tostring), (.b_in_a | tostring)] | @tsv' "$1"; }

# Same numbers (6 significant digits, as neardup writes them).
same_pairs() { # same_pairs GOT.tsv WANT.tsv WHAT
    python3 - "$1" "$2" <<'EOF' || fail "$3"
import sys
def rows(p):
    out = []
    for line in open(p):
        a, b, *nums = line.rstrip("\n").split("\t")
        out.append((a, b, [float(x) for x in nums]))
    return out
got, want = rows(sys.argv[1]), rows(sys.argv[2])
if [(a, b) for a, b, _ in got] != [(a, b) for a, b, _ in want]:
    gs, ws = {(a, b) for a, b, _ in got}, {(a, b) for a, b, _ in want}
    sys.exit(f"{len(got)} pairs vs {len(want)} expected; missing {sorted(ws - gs)[:5]}, extra {sorted(gs - ws)[:5]}")
for (a, b, g), (_, _, w) in zip(got, want):
    for x, y in zip(g, w):
        assert abs(x - y) <= 5e-6 * max(1, abs(y)), (a, b, g, w)
EOF
}

CORPUS="$SRC/corpora/mixed-1k/docs.jsonl"

check "scan --pairs at defaults: one object per pair, keys a, b, jaccard, a_in_b, b_in_a, profile; input order"
nd scan --pairs "$CORPUS"
assert_rc 0
cp "$OUT" "$T/pairs.jsonl"
assert_valid_jsonl "$T/pairs.jsonl"
assert_jq "$T/pairs.jsonl" 'length > 100 and all(.[]; keys_unsorted == ["a","b","jaccard","a_in_b","b_in_a","profile"])' "keys"
assert_jq "$T/pairs.jsonl" 'all(.[]; .jaccard >= 0.8 and .jaccard <= .a_in_b and .jaccard <= .b_in_a)' "scores"
python3 - "$CORPUS" "$T/pairs.jsonl" <<'EOF' || fail "pairs are not in input order"
import json, sys
pos = {json.loads(l)["id"]: k for k, l in enumerate(open(sys.argv[1], encoding="utf-8"))}
keys = [(pos[p["a"]], pos[p["b"]]) for p in map(json.loads, open(sys.argv[2], encoding="utf-8"))]
assert all(a < b for a, b in keys), "a after b"
assert keys == sorted(keys) and len(set(keys)) == len(keys), "not sorted, or repeated"
EOF
assert_eq "$(line_count "$T/pairs.jsonl")" "$(summary_field pairs)" "pairs in the summary"

check "--pairs: every pair is exact, and none with J >= 0.85 is missed (reference from normalize --shingles)"
reference_pairs "$CORPUS" jaccard 0.8 20 >"$T/ref.tsv"
as_tsv "$T/pairs.jsonl" >"$T/got.tsv"
python3 - "$T/got.tsv" "$T/ref.tsv" <<'EOF' || fail "pairs differ from the reference"
import sys
ref = {tuple(l.split("\t")[:2]): [float(x) for x in l.split("\t")[2:]] for l in open(sys.argv[2])}
got = {tuple(l.split("\t")[:2]): [float(x) for x in l.split("\t")[2:]] for l in open(sys.argv[1])}
for k, v in got.items():
    assert k in ref, f"{k} is not a matching pair"
    assert all(abs(x - y) <= 5e-6 for x, y in zip(v, ref[k])), (k, v, ref[k])
high = [k for k, v in ref.items() if v[0] >= 0.85]
missed = [k for k in high if k not in got]
assert len(high) > 50 and not missed, f"{len(missed)} of {len(high)} pairs at J >= 0.85 missed: {missed[:5]}"
print(f"  {len(got)} pairs, {len(ref)} in the reference, all {len(high)} at J >= 0.85 found")
EOF

check "--pairs holds every (survivor, member) pair that scan reports"
nd scan "$CORPUS"
python3 - "$OUT" "$T/pairs.jsonl" <<'EOF' || fail "a cluster pair is missing from --pairs"
import json, sys
pairs = {frozenset((p["a"], p["b"])) for p in map(json.loads, open(sys.argv[2], encoding="utf-8"))}
for c in map(json.loads, open(sys.argv[1], encoding="utf-8")):
    for m in c["ids"][1:]:
        assert frozenset((c["ids"][0], m)) in pairs, (c["ids"][0], m)
EOF

check "--pairs numbers are explain's"
head -n 15 "$T/pairs.jsonl" >"$T/sample.jsonl"
while IFS=$'\t' read -r a b j ab ba; do
    nd explain --json --id "$a" --id "$b" "$CORPUS"
    assert_rc 0 "explain $a $b"
    A="$a" B="$b" J="$j" AB="$ab" BA="$ba" assert_jq "$OUT" \
        '.[0] | .a.id == $ENV.A and .b.id == $ENV.B and (.jaccard | tostring) == $ENV.J and
         (.containment_a_in_b | tostring) == $ENV.AB and (.containment_b_in_a | tostring) == $ENV.BA and .match' \
        "explain $a $b"
done < <(as_tsv "$T/sample.jsonl")

check "--pairs is the same for --threads 1 and 3"
nd scan --pairs --threads 1 "$CORPUS"
cp "$OUT" "$T/p1"
nd scan --pairs --threads 3 "$CORPUS"
assert_same_file "$T/p1" "$OUT" "--threads 1 vs 3"

check "copies: k identical texts give k(k-1)/2 pairs, and each pairs with a near copy"
{
    for i in 1 2 3; do printf '{"id":"c%d","text":"%s"}\n' "$i" "a b c d e f g h i j k l m n o p q r s t"; done
    printf '{"id":"near","text":"%s"}\n' "a b c d e f g h i j k l m n o p q r s t u"
    printf '{"id":"c4","text":"%s"}\n' "a b c d e f g h i j k l m n o p q r s t"
} >"$T/copies.jsonl"
nd scan --pairs --shingle words:1 "$T/copies.jsonl"
assert_rc 0
assert_eq 10 "$(line_count "$OUT")" "pairs among 5 texts that all match"
assert_jq "$OUT" '[.[] | select(.a != "near" and .b != "near")] | length == 6 and all(.[]; .jaccard == 1)' "6 pairs of copies"
assert_jq "$OUT" '[.[] | select(.b == "near")] | length == 3 and all(.[]; .a_in_b == 1 and .b_in_a == 0.952381)' \
    "each earlier copy in the near copy"

# A corpus of articles, excerpts and abridged copies (windows of 20-60% of
# an article under a new headline, one word in 40 changed), and decoys
# (windows with one word in four changed), plus a short quote.
python3 - "$T" <<'EOF'
import json, random, sys
t = sys.argv[1]
r = random.Random(16)
vocab = ["v%d" % i for i in range(20000)]
recs, truth = [], []
for a in range(12):
    art = [r.choice(vocab) for _ in range(r.randint(250, 400))]
    recs.append({"id": "art%d" % a, "text": "headline %d\n\n" % a + " ".join(art)})
    for e in range(3):
        n = int(len(art) * r.uniform(0.2, 0.6))
        s = r.randrange(len(art) - n)
        win = [w if r.random() > 1 / 40 else "edit%d" % r.randrange(10**6) for w in art[s:s + n]]
        recs.append({"id": "ex%d_%d" % (a, e), "text": "new headline %d %d\n\n" % (a, e) + " ".join(win)})
        truth.append(("ex%d_%d" % (a, e), "art%d" % a))
    win = art[50:150]
    recs.append({"id": "decoy%d" % a, "text": " ".join(w if k % 4 else "dec%d" % r.randrange(10**6) for k, w in enumerate(win))})
recs.append({"id": "quote", "text": " ".join(recs[0]["text"].split()[10:22])})  # 12 words: 8 shingles
r.shuffle(recs)
with open(f"{t}/ex.jsonl", "w") as f:
    for x in recs:
        f.write(json.dumps(x) + "\n")
with open(f"{t}/truth.tsv", "w") as f:
    for e, a in truth:
        f.write(f"{e}\t{a}\n")
EOF

check "--measure jaccard (the default) finds none of the excerpts"
nd scan "$T/ex.jsonl"
assert_rc 0
assert_empty_file "$OUT" "Jaccard clusters"

check "--measure containment: every excerpt with the article containing it, which survives; no decoy, no short quote"
nd scan --measure containment "$T/ex.jsonl"
assert_rc 0
cp "$OUT" "$T/cscan.jsonl"
assert_jq "$OUT" 'all(.[]; keys_unsorted == ["cluster","size","ids","jaccard","containment","profile"])' "keys"
assert_jq "$OUT" 'length == 12 and all(.[]; (.ids[0] | startswith("art")) and all(.ids[1:][]; startswith("ex")))' \
    "12 clusters, each an article and excerpts"
assert_jq "$OUT" 'all(.[]; .containment[0] == 1 and all(.containment[1:][]; . >= 0.8) and all(.jaccard[1:][]; . < 0.8))' \
    "excerpts: contained (>= 0.8), Jaccard below 0.8"
reference_pairs "$T/ex.jsonl" containment 0.8 20 >"$T/ref.tsv"
python3 - "$T/cscan.jsonl" "$T/truth.tsv" "$T/ref.tsv" <<'EOF' || fail "an excerpt is missing or with the wrong article"
import json, sys
found = {}
for c in map(json.loads, open(sys.argv[1])):
    for m in c["ids"][1:]:
        found[m] = c["ids"][0]
truth = dict(l.rstrip("\n").split("\t") for l in open(sys.argv[2]))
contained = set()  # (excerpt, article) with containment >= 0.8, from the reference
for l in open(sys.argv[3]):
    a, b, j, ab, ba = l.rstrip("\n").split("\t")
    if float(ab) >= 0.8 and truth.get(a) == b or float(ba) >= 0.8 and truth.get(b) == a:
        contained.add(a if truth.get(a) == b else b)
assert len(contained) >= 25, f"only {len(contained)} excerpts contained at 0.8: the corpus is too hard"
wrong = {e: (found.get(e), truth[e]) for e in contained if found.get(e) != truth[e]}
assert not wrong, wrong
extra = {e for e in found if e not in contained}
assert not extra, f"clustered without being contained: {extra}"
print(f"  {len(contained)} of {len(truth)} excerpts contained at 0.8, all found")
EOF

check "--pairs --measure containment: exactly the reference's pairs, same numbers"
nd scan --pairs --measure containment "$T/ex.jsonl"
assert_rc 0
as_tsv "$OUT" >"$T/got.tsv"
same_pairs "$T/got.tsv" "$T/ref.tsv" "containment pairs differ from the reference"

check "--min-shingles: the 12-word quote (8 shingles) is reported with --min-shingles 8, not 9"
nd scan --pairs --measure containment --min-shingles 9 "$T/ex.jsonl"
assert_file_not_contains "$OUT" '"quote"'
nd scan --pairs --measure containment --min-shingles 8 "$T/ex.jsonl"
assert_file_contains "$OUT" '"quote"'

check "dedup --measure containment: the articles stay, the excerpts go, --removed says what contains them"
clustered="$(jq -s 'map(.size - 1) | add' "$T/cscan.jsonl")"
nd dedup --measure containment --removed "$T/removed.jsonl" "$T/ex.jsonl"
assert_rc 0
assert_eq "$clustered" "$(summary_field removed)" "removed: the excerpts scan clusters"
assert_jq "$OUT" 'all(.[]; (.id | startswith("art")) or (.id | startswith("ex")) or (.id | startswith("decoy")) or .id == "quote")' "ids"
assert_jq "$T/removed.jsonl" 'all(.[]; (.id | startswith("ex")) and (.neardup.duplicate_of | startswith("art")) and
    .neardup.containment >= 0.8 and .neardup.size >= 2)' \
    "removed excerpts name their article, the containment and the cluster size"
jq -r -s 'map(.id) | .[]' "$OUT" "$T/removed.jsonl" | sort >"$T/all-ids"
jq -r '.id' "$T/ex.jsonl" | sort >"$T/want-ids"
assert_same_file "$T/want-ids" "$T/all-ids" "kept + removed = input"
nd dedup --measure containment --annotate "$T/ex.jsonl"
assert_jq "$OUT" 'all(.[]; .neardup | keys_unsorted == ["cluster","size","duplicate_of","jaccard","containment","profile"])' "annotation keys"

check "explain --measure containment: the verdict, and the chance of a match"
read -r ex art < <(jq -r '.ids[0] as $a | .ids[1] + " " + $a' "$T/cscan.jsonl" | head -n 1)
nd explain --measure containment --json --id "$ex" --id "$art" "$T/ex.jsonl"
assert_rc 0
assert_jq "$OUT" '.[0] | .match and .candidate and .measure == "containment" and .containment_a_in_b >= 0.8 and .jaccard < 0.8' "match"
assert_jq "$OUT" '.[0] | .chance_a_in_b_log10 < -100 and .chance_jaccard_log10 < -100 and .shingle_space > 1' "chance"
nd explain --json --id "$ex" --id "$art" "$T/ex.jsonl"
assert_jq "$OUT" '.[0] | (.match | not) and .measure == "jaccard"' "no match by Jaccard"
nd explain --measure containment --id "$ex" --id "$art" "$T/ex.jsonl"
assert_file_contains "$OUT" "chance of a match"
assert_file_contains "$OUT" "MATCH by containment"

pass
