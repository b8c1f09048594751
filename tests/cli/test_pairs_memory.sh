#!/usr/bin/env bash
# test_pairs_memory.sh - scan --pairs of thousands of copies of one text:
# k copies give k(k-1)/2 pairs, which the program writes as it makes them.
# Its memory must follow the distinct sets and the texts, not the pairs
# listed (every pair was held and sorted before writing: 3,000 copies,
# 4.5M pairs, 277 MB), and the pairs must be every matching pair, once,
# in order (a, b), with exact numbers, as computed here independently.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"

# pairs.py COPIES: COPIES copies of a 60-word text B among its near copies
# (N1: the last word changed, three copies, J(B, N1) = 55/57; N2: the third
# word changed, J(B, N2) = 53/59, J(N1, N2) = 52/60; N4: two words changed,
# two copies, matching only each other), an unrelated text and an empty
# one, spread through the input. Runs scan --pairs (--stats) with its
# output read as it comes: every line must be the next expected pair (the
# pairs of texts whose 5-word shingle sets reach Jaccard 0.8, in order of
# input position), the count and the stats must agree. Prints the
# program's peak RSS in KiB.
cat >"$T/pairs.py" <<'PY'
import json, os, random, resource, subprocess, sys
nd, tmp, copies = sys.argv[1], sys.argv[2], int(sys.argv[3])
r = random.Random(11)
base = ["v%d" % r.randrange(10 ** 6) for _ in range(60)]
def changed(*at):
    w = list(base)
    for i in at:
        w[i] = "u%d" % i
    return " ".join(w)
kinds = {"B": " ".join(base), "N1": changed(59), "N2": changed(2), "N4": changed(20, 40),
         "U": " ".join("x%d" % r.randrange(10 ** 6) for _ in range(60)), "E": ""}
docs = ["B"] * copies
# near copies, the unrelated and the empty text at fixed shares of the input
for share, kind in ((0.0, "N1"), (0.001, "N4"), (0.2, "N2"), (0.3, "U"), (0.5, "N1"), (0.6, "E"),
                    (0.8, "N4"), (1.0, "N1")):
    docs.insert(int(share * len(docs)), kind)
path = "%s/copies%d.jsonl" % (tmp, copies)
with open(path, "w") as f:
    for i, k in enumerate(docs):
        f.write(json.dumps({"id": "d%d" % i, "text": kinds[k]}) + "\n")

def shingles(text):
    w = text.split()
    return {tuple(w[i:i + 5]) for i in range(len(w) - 4)}
sets = {k: shingles(t) for k, t in kinds.items()}
# per pair of kinds: the numbers of a matching pair, or None
match = {}
for x in kinds:
    for y in kinds:
        a, b = sets[x], sets[y]
        shared = len(a & b)
        j = shared / len(a | b) if a and b else 0.0
        match[x, y] = (j, shared / len(a), shared / len(b)) if a and b and j >= 0.8 else None
assert match["B", "N1"] and match["B", "N2"] and match["N1", "N2"] and match["N4", "N4"]
assert not match["B", "N4"] and not match["B", "U"]

def expected():
    for ia, ka in enumerate(docs):
        for ib in range(ia + 1, len(docs)):
            m = match[ka, docs[ib]]
            if m:
                yield ia, ib, m

env = dict(os.environ, ASAN_OPTIONS=os.environ.get("ASAN_OPTIONS", "") + ":quarantine_size_mb=0")
stats = "%s/stats%d.json" % (tmp, copies)
p = subprocess.Popen([nd, "scan", "--pairs", "--threads", "1", "--stats", stats, path], stdout=subprocess.PIPE,
                     stderr=subprocess.PIPE, env=env)
want = expected()
count = 0
numbers = {}  # the end of a line, from "jaccard" on (a few distinct ones): its numbers
for line in p.stdout:
    w = next(want, None)
    assert w is not None, "a pair past the last expected: %s" % line
    ids, _, tail = line.partition(b',"jaccard":')
    if tail not in numbers:
        row = json.loads(line)
        numbers[tail] = (row["jaccard"], row["a_in_b"], row["b_in_a"])
    assert ids == b'{"a":"d%d","b":"d%d"' % w[:2], "pair %d is %s, expected %s" % (count, ids, w[:2])
    assert all(abs(x - y) < 1e-6 for x, y in zip(numbers[tail], w[2])), (line, w)
    count += 1
err = p.stderr.read().decode()
assert p.wait() == 0, err
assert next(want, None) is None, "only %d pairs listed" % count
summary = "%d pairs;" % count
assert summary in err, "the summary line does not say %r: %s" % (summary, err)
s = json.load(open(stats))
# verified pairs: the distinct sets' (B N1, B N2, N1 N2); identical sets
# held by two texts or more: B, N1, N4
assert (s["pairs"], s["verified_pairs"], s["exact_groups"]) == (count, 3, 3), s
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
PY

check "scan --pairs of 300 copies of a text among near copies: every matching pair once, in order, numbers exact"
small=$(python3 "$T/pairs.py" "$ND" "$T" 300) || fail "scan --pairs of 300 copies: see above"

check "the same with 3,000 copies (4.5M pairs), and the peak memory less than twice that of 300 copies (it held every pair: 280 MB)"
large=$(python3 "$T/pairs.py" "$ND" "$T" 3000) || fail "scan --pairs of 3,000 copies: see above"
echo "  scan --pairs: 300 copies: ${small} KiB, 3,000 copies: ${large} KiB"
((large < 2 * small)) || fail "3,000 copies peaked at ${large} KiB against ${small} KiB for 300"

pass
