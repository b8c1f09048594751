#!/usr/bin/env bash
# test_large_components.sh - components of more than 400 texts (split
# around survivors in --keep order, src/split.c star_split): a chain of
# near-copies, each matching only its neighbours, is split into the
# clusters the rule gives, in time that grows with the chain, not with its
# square; the same clusters with threads, with a spilled index, and with
# --keep longest.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"

# chainN.jsonl: N texts, text i the same 30 words b0 .. b29 (a
# boilerplate every member shares) and then the words w_i .. w_(i+49) (five digits each: every text as long). With
# 5-word shingles (the default) a text has 76: 26 in the boilerplate, 4
# joining it to the window, 46 in the window; texts i and i + k (k >= 1)
# share 26 + 46 - k, so J = (72 - k) / (80 + k), at least 0.8 up to k = 4:
# near-copies each matching only its neighbours, one component (the
# neighbours' Jaccard, 0.88 and 0.85, makes them LSH candidates all but
# surely).
python3 - "$T" <<'PY'
import json, sys
for n in (4000, 32000):
    with open("%s/chain%d.jsonl" % (sys.argv[1], n), "w") as f:
        head = " ".join("b%d" % i for i in range(30))
        for i in range(n):
            words = " ".join("w%05d" % (i + k) for k in range(50))
            f.write(json.dumps({"id": "d%d" % i, "text": head + " " + words}) + "\n")
PY

check "a chain of 4,000 near-copies: clusters of consecutive texts, each around its first member, every member verified against it"
nd scan --threads 1 "$T/chain4000.jsonl"
assert_rc 0
# the first remaining text is the survivor and covers the next four
python3 - "$OUT" <<'PY' || fail "clusters are not the runs of five consecutive texts the rule gives"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert len(rows) == 800, len(rows)
for c, r in enumerate(rows):
    assert r["ids"] == ["d%d" % (5 * c + k) for k in range(5)], r["ids"]
    for k, j in enumerate(r["jaccard"][1:], 1):
        assert abs(j - (72 - k) / (80 + k)) < 1e-6, (r["ids"], j)
PY
cp "$OUT" "$T/chain-1.jsonl"

check "the same clusters with 3 threads, with --keep longest (equal lengths: input order), and with the index spilled to files"
nd scan --threads 3 "$T/chain4000.jsonl"
assert_same_file "$T/chain-1.jsonl" "$OUT" "--threads 3"
nd scan --threads 1 --keep longest "$T/chain4000.jsonl"
assert_same_file "$T/chain-1.jsonl" "$OUT" "--keep longest"
nd scan --threads 2 --memory 1M "$T/chain4000.jsonl"
assert_rc 0
assert_same_file "$T/chain-1.jsonl" "$OUT" "--memory 1M"

check "a chain of 32,000 near-copies takes less than 16x one of 4,000 (every survivor was compared with every remaining member: 30 s against 0.6 s)"
secs() { seconds "$ND" scan --quiet --threads 1 "$T/chain$1.jsonl"; } # secs N: of the chain of N texts
small=$(secs 4000)
large=$(secs 32000)
echo "  4,000 texts: ${small} s, 32,000 texts: ${large} s"
python3 -c "import sys; sys.exit(0 if $large < 16 * $small + 1.0 else 1)" ||
    fail "32,000 texts took ${large} s against ${small} s for 4,000"

pass
