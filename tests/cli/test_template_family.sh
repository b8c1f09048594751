#!/usr/bin/env bash
# test_template_family.sh - variants of one template, each a few words of
# its own: near one another (LSH proposes a good share of all pairs) but
# not matching. Clustering's memory must not grow with the pairs it
# rejects, and the clusters are those every pair would give.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"

# templateN.jsonl: N texts, each the same 100 words with 3 of them (chosen
# at random) replaced by words of its own. Two such texts share about 66
# of their 96 5-word shingles (Jaccard about 0.5: a band in 16 of 8 rows
# collides for about 1 pair in 12; those whose words changed side by side
# share more); copies of the template (none changed) and near-copies (one
# word changed) are every 500th text.
python3 - "$T" <<'PY'
import json, random, sys
for n in (2000, 8000):
    r = random.Random(5)
    base = ["v%d" % r.randrange(5000) for _ in range(100)]
    with open("%s/template%d.jsonl" % (sys.argv[1], n), "w") as f:
        for i in range(n):
            t = list(base)
            changes = 0 if i % 500 == 7 else 1 if i % 500 == 8 else 3
            for k in r.sample(range(100), changes):
                t[k] = "u%d" % r.randrange(10 ** 6)
            f.write(json.dumps({"id": "d%d" % i, "text": " ".join(t)}) + "\n")
PY

# shingles.py: the texts' 5-word shingle sets (words are split at spaces
# and already in normal form) and their exact Jaccard, for the checks
cat >"$T/shingles.py" <<'PY'
import json, os
texts = {}
for line in open(os.environ["TEMPLATE_FILE"]):
    r = json.loads(line)
    w = r["text"].split()
    texts[r["id"]] = {tuple(w[i:i + 5]) for i in range(len(w) - 4)}
def jaccard(a, b):
    return len(texts[a] & texts[b]) / len(texts[a] | texts[b])
PY
export TEMPLATE_FILE="$T/template8000.jsonl"

check "8,000 variants of one template: the template's copies lead a cluster of every text within the threshold of it, scores exact"
nd scan --threads 1 "$T/template8000.jsonl"
assert_rc 0
python3 - "$OUT" "$T" <<'PY' || fail "the template's cluster is not every text within 0.8 of it, or a score is not exact"
import json, sys
sys.path.insert(0, sys.argv[2])
from shingles import texts, jaccard
rows = [json.loads(l) for l in open(sys.argv[1])]
first = [r for r in rows if r["ids"][0] == "d7"]
assert len(first) == 1, "no cluster kept d7, the first copy of the template"
near = {i for i in texts if jaccard("d7", i) >= 0.8}
assert set(first[0]["ids"]) == near, sorted(set(first[0]["ids"]) ^ near)
for r in rows:
    for member, score in zip(r["ids"][1:], r["jaccard"][1:]):
        assert abs(score - jaccard(r["ids"][0], member)) < 1e-6 and score >= 0.8, (r["ids"][0], member, score)
PY
cp "$OUT" "$T/template-1.jsonl"
nd scan --threads 3 "$T/template8000.jsonl"
assert_same_file "$T/template-1.jsonl" "$OUT" "--threads 3"

check "scan --pairs: every pair listed matches at its exact score, and every text within the threshold of the template is paired with its first copy"
nd scan --threads 1 --pairs "$T/template8000.jsonl"
assert_rc 0
python3 - "$OUT" "$T" <<'PY' || fail "a pair's score is not exact, or the template's first copy misses a partner"
import json, sys
sys.path.insert(0, sys.argv[2])
from shingles import texts, jaccard
rows = [json.loads(l) for l in open(sys.argv[1])]
for r in rows:
    assert abs(r["jaccard"] - jaccard(r["a"], r["b"])) < 1e-6 and r["jaccard"] >= 0.8, r
partners = {r["b"] for r in rows if r["a"] == "d7"} | {r["a"] for r in rows if r["b"] == "d7"}
assert partners == {i for i in texts if i != "d7" and jaccard("d7", i) >= 0.8}, partners
PY

# peak COMMAND N: peak RSS in KiB of COMMAND (scan, or scan --pairs) of the N variants
peak() {
    # shellcheck disable=SC2086  # no word for plain scan
    python3 - "$ND" "$T/template$2.jsonl" $1 <<'PY'
import os, resource, subprocess, sys
# under AddressSanitizer (scripts/test --sanitize), freed memory is held
# in quarantine (up to 256 MB) unless told otherwise
env = dict(os.environ, ASAN_OPTIONS=os.environ.get("ASAN_OPTIONS", "") + ":quarantine_size_mb=0")
subprocess.run([sys.argv[1], "scan", "--quiet", "--threads", "1", *sys.argv[3:], sys.argv[2]], check=True,
               stdout=subprocess.DEVNULL, env=env)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
PY
}
check "the peak memory of 8,000 variants is less than twice that of 2,000, clustered or listed in pairs (every pair checked was kept: 216 MB against 29 MB)"
for pairs in "" "--pairs"; do
    small=$(peak "$pairs" 2000)
    large=$(peak "$pairs" 8000)
    echo "  scan $pairs: 2,000 variants: ${small} KiB, 8,000 variants: ${large} KiB"
    ((large < 2 * small)) || fail "scan $pairs: 8,000 variants peaked at ${large} KiB against ${small} KiB for 2,000"
done

pass
