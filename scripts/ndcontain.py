"""Containment on generated excerpts: quality and cost (standard library only).

The logic behind ``scripts/containment`` and the "Containment" section of
RESULTS.md (scripts/results calls section()).

Corpus: ``scripts/gen-corpus --kind excerpts`` (see its docstring): news-like
originals and, in their groups, excerpts (windows of 20-60% of the words),
abridged copies (whole paragraphs, 20-60% of the words) under new headlines
with light word edits, and decoys (windows with a third of the words
replaced).  The generator computes the exact containments of every pair in
a group on its own tokens (truth_pairs.tsv), independently of neardup.

Quality, at ``--measure containment --threshold T`` (default 0.8):

  contained    the excerpts and abridged copies whose true containment in
               their original is >= T (the ones that must be found);
  recall       of those, the share found: by ``scan --pairs`` (the pair
               (copy, original) is listed) and by ``scan`` (the copy is in
               its original's cluster);
  precision    of the pairs ``scan --pairs`` lists, the share that truly
               match: in one group, with a true containment (of either
               text in the other) or Jaccard >= T; a pair across groups
               never does;
  claims       of the (survivor, member) pairs of ``scan``, the share whose
               member is truly contained in (or near-equal to) its
               survivor;
  decoys       decoys found in any listed pair or cluster (must be 0).

The same corpus scanned by Jaccard (the default measure) shows what it
misses.  Cost: ``scan --measure containment`` against ``scan`` on the same
corpus, best of RUNS runs each (wall time and the clustering stage from
--stats), on the excerpts corpus and on the mixed corpus of the quality
section; the target is at most 3x.
"""

import json
import os
import sys

import ndlib

THRESHOLD = 0.8
RUNS = 3
THREADS = 2
TOL = 1e-9


def load_truth(cdir):
    """(role, original) per id and the true numbers of every in-group pair:
    {(a, b): (jaccard, a_in_b, b_in_a)} for a, b in the file's order."""
    role, original = {}, {}
    for _, g in ndlib.read_jsonl(os.path.join(cdir, "truth.jsonl")):
        if "roles" not in g:
            raise ndlib.Error("%s: truth without roles (not an excerpts corpus)" % cdir)
        orig = g["ids"][g["roles"].index("original")]
        for i, r in zip(g["ids"], g["roles"]):
            role[i] = r
            original[i] = orig
    pairs = {}
    with open(os.path.join(cdir, "truth_pairs.tsv"), encoding="utf-8") as f:
        head = f.readline().rstrip("\n").split("\t")
        if head != ["a", "b", "jaccard", "a_in_b", "b_in_a"]:
            raise ndlib.Error("%s/truth_pairs.tsv: no containment columns" % cdir)
        for line in f:
            a, b, j, ab, ba = line.rstrip("\n").split("\t")
            pairs[(a, b)] = (float(j), float(ab), float(ba))
    return role, original, pairs


def true_numbers(pairs, a, b):
    """(jaccard, a_in_b, b_in_a) of a and b, or None across groups."""
    if (a, b) in pairs:
        return pairs[(a, b)]
    if (b, a) in pairs:
        j, ab, ba = pairs[(b, a)]
        return j, ba, ab
    return None


def truly_matches(nums, threshold):
    return nums is not None and max(nums) >= threshold - TOL


def evaluate(truth, listed_pairs, clusters, threshold=THRESHOLD):
    """Score one corpus's `scan --pairs` output (list of objects) and `scan`
    output (clusters) against the truth (load_truth)."""
    role, original, pairs = truth
    copies = [d for d, r in role.items() if r in ("excerpt", "abridged")]
    contained = {d for d in copies if true_numbers(pairs, d, original[d])[1] >= threshold - TOL}
    listed = {(p["a"], p["b"]) for p in listed_pairs}
    listed_either = listed | {(b, a) for a, b in listed}
    found_pairs = {d for d in contained if (d, original[d]) in listed_either}
    where = ndlib.cluster_of([c["ids"] for c in clusters])
    found_clusters = {d for d in contained if d in where and where[d] == where.get(original[d])}
    correct = sum(1 for a, b in listed if truly_matches(true_numbers(pairs, a, b), threshold))
    claims = claims_ok = 0
    for c in clusters:
        s = c["ids"][0]
        for m in c["ids"][1:]:
            claims += 1
            nums = true_numbers(pairs, m, s)  # (jaccard, m in s, s in m)
            claims_ok += nums is not None and (nums[1] >= threshold - TOL or nums[0] >= threshold - TOL)
    decoys = {d for d, r in role.items() if r == "decoy"}
    in_pairs = {x for p in listed for x in p}
    by_role = {}
    for r in ("excerpt", "abridged", "decoy"):
        ds = [d for d, x in role.items() if x == r]
        cs = sorted(true_numbers(pairs, d, original[d])[1] for d in ds)
        by_role[r] = {"documents": len(ds),
                      "contained": sum(1 for d in ds if d in contained),
                      "found": sum(1 for d in ds if d in found_pairs) if r != "decoy"
                      else len(decoys & in_pairs),
                      "containment_min": cs[0] if cs else None,
                      "containment_median": cs[len(cs) // 2] if cs else None,
                      "containment_max": cs[-1] if cs else None}
    return {
        "threshold": threshold,
        "copies": len(copies),
        "contained": len(contained),
        "found_by_pairs": len(found_pairs),
        "found_by_clusters": len(found_clusters),
        "recall_pairs": len(found_pairs) / len(contained) if contained else None,
        "recall_clusters": len(found_clusters) / len(contained) if contained else None,
        "listed_pairs": len(listed),
        "listed_correct": correct,
        "precision": correct / len(listed) if listed else None,
        "claims": claims,
        "claims_correct": claims_ok,
        "claim_precision": claims_ok / claims if claims else None,
        "decoys": len(decoys),
        "decoys_in_pairs": len(decoys & in_pairs),
        "decoys_in_clusters": len(decoys & set(where)),
        "by_role": by_role,
    }


def scan(neardup, docs, out, extra):
    res = ndlib.neardup_or_fail(neardup, ["scan", "--quiet", "--threads", str(THREADS)] + extra + [docs],
                                stdout=out)
    return [obj for _, obj in ndlib.read_jsonl(out)], res


def quality(neardup, cdir, work, threshold=THRESHOLD, log=None):
    """Containment and Jaccard scans of an excerpts corpus, scored."""
    truth = load_truth(cdir)
    docs = os.path.join(cdir, "docs.jsonl")
    out = {}
    for measure in ("containment", "jaccard"):
        opts = ["--measure", measure, "--threshold", repr(threshold)]
        listed, _ = scan(neardup, docs, os.path.join(work, "pairs-%s.jsonl" % measure), opts + ["--pairs"])
        clusters, run = scan(neardup, docs, os.path.join(work, "scan-%s.jsonl" % measure), opts)
        out[measure] = evaluate(truth, listed, clusters, threshold)
        out[measure]["clusters"] = len(clusters)
        if log:
            log("%s: recall %.4f (pairs), precision %s, %d decoys listed" % (
                measure, out[measure]["recall_pairs"] or 0, out[measure]["precision"],
                out[measure]["decoys_in_pairs"]))
    return out


def cost(neardup, docs, work, runs=RUNS):
    """Best wall time (and clustering stage) of scan by Jaccard and by
    containment on one corpus, runs alternating."""
    best = {}
    for _ in range(runs):
        for measure in ("jaccard", "containment"):
            res = ndlib.neardup_or_fail(neardup, ["scan", "--quiet", "--threads", str(THREADS), "--measure", measure,
                                                  docs], stdout=os.path.join(work, "cost.jsonl"))
            b = best.get(measure)
            if b is None or res["wall_s"] < b["wall_s"]:
                best[measure] = {"wall_s": res["wall_s"], "cluster_s": res["stats"]["seconds_cluster"],
                                 "peak_kb": res["rss_kb"], "documents": res["stats"]["documents_read"],
                                 "bytes": res["stats"]["bytes_read"], "clusters": res["stats"]["clusters"],
                                 "candidate_pairs": res["stats"]["candidate_pairs"]}
    best["ratio_wall"] = best["containment"]["wall_s"] / best["jaccard"]["wall_s"]
    best["ratio_cluster"] = (best["containment"]["cluster_s"] / best["jaccard"]["cluster_s"]
                             if best["jaccard"]["cluster_s"] else None)
    best["runs"] = runs
    return best


def f4(x):
    return "-" if x is None else "%.4f" % x


def markdown(q, costs, corpus_label, threshold=THRESHOLD):
    c, j = q["containment"], q["jaccard"]
    L = ["## Containment: excerpts and abridged copies", "",
         "Corpus: %s: originals of about 400 words and, in their groups, excerpts (a window of 20-60%% of "
         "the words), abridged copies (whole paragraphs, 20-60%% of the words), both under a new headline "
         "with each word replaced with a probability up to 0.03, and decoys (windows with a third of the "
         "words replaced). True containments come from the generator's own tokens. "
         "`scan --measure containment --threshold %.1f` (defaults otherwise, `--min-shingles 20`):"
         % (corpus_label, threshold), "",
         "| measure | containment | Jaccard (default) |", "| --- | --- | --- |",
         "| copies (excerpts + abridged) with true containment >= %.1f | %d of %d | %d of %d |"
         % (threshold, c["contained"], c["copies"], j["contained"], j["copies"]),
         "| recall: pair (copy, original) listed by `scan --pairs` | **%s** (%d) | %s (%d) |"
         % (f4(c["recall_pairs"]), c["found_by_pairs"], f4(j["recall_pairs"]), j["found_by_pairs"]),
         "| recall: copy in its original's cluster (`scan`) | %s (%d) | %s (%d) |"
         % (f4(c["recall_clusters"]), c["found_by_clusters"], f4(j["recall_clusters"]), j["found_by_clusters"]),
         "| precision of the listed pairs (true score >= %.1f) | **%s** (%d of %d) | %s (%d of %d) |"
         % (threshold, f4(c["precision"]), c["listed_correct"], c["listed_pairs"], f4(j["precision"]),
            j["listed_correct"], j["listed_pairs"]),
         "| claims (survivor, member): member truly contained | %s (%d of %d) | %s (%d of %d) |"
         % (f4(c["claim_precision"]), c["claims_correct"], c["claims"], f4(j["claim_precision"]),
            j["claims_correct"], j["claims"]),
         "| decoys listed in a pair / in a cluster (of %d) | **%d** / %d | %d / %d |"
         % (c["decoys"], c["decoys_in_pairs"], c["decoys_in_clusters"], j["decoys_in_pairs"],
            j["decoys_in_clusters"]),
         "", "By role (true containment in the original; found = listed with it by containment):", "",
         "| role | documents | containment min / median / max | contained >= %.1f | found |" % threshold,
         "| --- | --- | --- | --- | --- |"]
    for r, x in c["by_role"].items():
        L.append("| %s | %d | %s / %s / %s | %d | %d |" % (r, x["documents"], f4(x["containment_min"]),
                                                       f4(x["containment_median"]), f4(x["containment_max"]),
                                                       x["contained"], x["found"]))
    runs = costs[0][1]["runs"] if costs else RUNS
    L += ["", "Cost: `scan --threads %d` by containment against Jaccard on the same corpus, best of %d run%s "
          "each, alternating (2 shared cores: timings vary between runs, so the two scans are timed side by side):"
          % (THREADS, runs, "" if runs == 1 else "s"),
          "", "| corpus | documents | Jaccard wall s (cluster s) | containment wall s (cluster s) | ratio wall "
          "(target <= 3) | ratio cluster stage | peak MB (J / C) |",
          "| --- | --- | --- | --- | --- | --- | --- |"]
    for label, k in costs:
        L.append("| %s | %d | %.2f (%.2f) | %.2f (%.2f) | **%.2fx** | %s | %.0f / %.0f |" % (
            label, k["jaccard"]["documents"], k["jaccard"]["wall_s"], k["jaccard"]["cluster_s"],
            k["containment"]["wall_s"], k["containment"]["cluster_s"], k["ratio_wall"],
            "%.2fx" % k["ratio_cluster"] if k["ratio_cluster"] is not None else "-",
            k["jaccard"]["peak_kb"] / 1024, k["containment"]["peak_kb"] / 1024))
    L += ["", "Containment's candidates come from an inverted index of shingles with a prefix filter "
          "(src/contain.c): every pair that can reach the threshold is verified, so its recall is bounded only "
          "by the guard (`--min-shingles`), not by LSH.", ""]
    return L


def section(neardup, cache, quick, mixed_corpus=None, log=None):
    """The RESULTS.md section: quality on an excerpts corpus, cost on it and
    on `mixed_corpus` (a directory holding docs.jsonl, or None)."""
    n = 10000 if quick else 50000
    cdir, _ = ndlib.corpus(cache, n, 7, "excerpts", "latin", log=log)
    work = os.path.join(cache, "containment-work")
    os.makedirs(work, exist_ok=True)
    q = quality(neardup, cdir, work, log=log)
    costs = [("excerpts (this corpus)", cost(neardup, os.path.join(cdir, "docs.jsonl"), work, 1 if quick else RUNS))]
    if mixed_corpus:
        costs.append(("mixed (quality section above)",
                      cost(neardup, os.path.join(mixed_corpus, "docs.jsonl"), work, 1 if quick else RUNS)))
    label = "`scripts/gen-corpus --kind excerpts --docs %d --seed 7`" % n
    return markdown(q, costs, label), {"quality": q, "cost": dict(costs)}


def main(argv=None):
    import argparse
    ap = argparse.ArgumentParser(prog="containment", description=__doc__.split("\n")[0])
    ap.add_argument("--neardup", help="the neardup program (default: ndlib.find_neardup)")
    ap.add_argument("--quick", action="store_true", help="10,000 documents instead of 50,000, one run each")
    ap.add_argument("--json", metavar="OUT", help="also write every number to OUT")
    args = ap.parse_args(argv)
    log = ndlib.Logger("containment")
    try:
        neardup = ndlib.find_neardup(args.neardup)
        cache = ndlib.cache_dir("results")
        os.makedirs(cache, exist_ok=True)
        lines, numbers = section(neardup, cache, args.quick, log=log)
    except ndlib.Error as e:
        sys.exit("containment: %s" % e)
    print("\n".join(lines))
    if args.json:
        ndlib.atomic_write(args.json, lambda f: json.dump(numbers, f, indent=1))
    return 0
