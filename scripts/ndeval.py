"""Score the output of ``neardup scan`` against a truth set.

This module holds the logic behind ``scripts/eval`` (a thin wrapper), so tests
and other scripts can import it.  Python 3 standard library only.

Inputs
------
scan.jsonl
    ``neardup scan`` output, one JSON object per cluster:
    ``{"cluster": 0, "ids": ["d1", "d7", ...], "jaccard": [1.0, 0.91, ...]}``.
    ``ids[0]`` is the survivor, ``jaccard[i]`` is member i's exact Jaccard
    with the survivor.  Lines that are not clusters (an object with a
    ``"header"`` key, or without ``"ids"``) and blank lines are ignored.
truth.jsonl
    One true group per line: ``{"group": g, "ids": [...]}``.
truth_pairs.tsv (optional)
    Header ``a<TAB>b<TAB>jaccard``, then every pair inside each truth group
    with its true Jaccard similarity.
docs.jsonl (optional)
    The corpus (objects with an ``"id"`` key); only used to know the set of
    all ids.  Without it the universe is the union of ids in scan and truth.

Definitions
-----------
Both clusterings are partitions of the universe U of ids: every id not in a
reported cluster (or not in a truth group) is a singleton there.  An id that
appears in several clusters (or groups) is kept in the first one only and a
warning is emitted.  Pairs are unordered pairs of distinct ids.

* Reported pairs  R = pairs of ids in the same reported cluster;
  |R| = sum_c C(|c|, 2).
* True pairs      T = pairs of ids in the same truth group.
* True Jaccard J(p): from truth_pairs.tsv for pairs in T; pairs not in any
  truth group have J = 0.
* Positives       P = pairs in T with J(p) >= threshold.  Without
  ``--pairs`` every pair in T is a positive (J unknown, threshold unused for
  positives).  With ``--pairs``, a pair in T that the file does not list has
  unknown J and is counted as a positive (and reported as a warning).
  Pairs in T with J < threshold are "related but below threshold": they are
  not positives, so reporting one is a false positive.
* TP = |R & P|,  FP = |R| - TP,  FN = |P| - TP.
* precision = TP / |R|     (1.0 by convention when |R| = 0: nothing reported,
                            nothing wrong)
* recall    = TP / |P|     (1.0 by convention when |P| = 0)
* F1        = 2 * precision * recall / (precision + recall)
                           (0.0 when precision + recall = 0)

* Adjusted Rand index (Hubert & Arabie) of the reported partition X against
  the truth partition Y over U, n = |U|, n_ij = |X_i & Y_j|,
  a_i = |X_i|, b_j = |Y_j|:
      index    = sum_ij C(n_ij, 2)
      expected = [sum_i C(a_i, 2)] * [sum_j C(b_j, 2)] / C(n, 2)
      max      = ([sum_i C(a_i, 2)] + [sum_j C(b_j, 2)]) / 2
      ARI      = (index - expected) / (max - expected)
  The denominator is 0 only when both partitions are all-singletons or both
  are one block (so they are identical); ARI = 1.0 then.  Computed exactly
  with fractions.

* Band breakdown (needs ``--pairs``): true pairs listed in truth_pairs.tsv
  are put in true-Jaccard bands [0.0,0.3), [0.3,0.4), ..., [0.9,1.0) and
  "1.0" (exactly 1.0).  For each band: number of true pairs, number of them
  reported (same reported cluster), recall = reported / true_pairs (null if
  empty).  With ``--bands B --rows R`` also the predicted LSH candidate
  probability  P(s) = 1 - (1 - s^R)^B  at the band midpoint (s = 1.0 for the
  exact band) and its mean over the band's actual pairs, so the measured
  curve can be compared with the S-curve.  (Measured recall also reflects
  the verification step and clustering, so it sits below P(s) for bands
  under the threshold and can sit above it when clusters are merged
  transitively.)  The S-curve threshold estimate (1/B)^(1/R) is reported too.

* Below threshold: ``reported_below_threshold`` = number of reported pairs
  with J < threshold (cross-group pairs count, with J = 0; without
  ``--pairs`` only cross-group pairs can be counted, so it is a lower
  bound).  ``min_reported_jaccard`` = minimum known true J over reported
  pairs (0.0 if any cross-group pair was reported; null if there are no
  reported pairs or none has a known J).

* Claims: what ``neardup scan`` asserts is that each member of a cluster
  matches the cluster's survivor (ids[0]); members need not match each
  other.  Claimed pairs C = (ids[0], ids[i]) for i >= 1.  A claim is
  correct when the pair is in one truth group with J >= threshold (with
  ``--pairs``; without it, when it is in one truth group).
  claim_precision = correct / |C| (1.0 when |C| = 0);
  ``claims_below_threshold`` counts the incorrect ones and
  ``min_claim_jaccard`` is the minimum known true J over claims.
  ``precision`` above (all pairs inside a cluster) is stricter: it also
  counts member-member pairs, which can fall below the threshold when two
  members both match the survivor but not each other.

* Jaccard check (needs ``--pairs``): for each cluster member i >= 1 whose
  pair with the survivor is listed in truth_pairs.tsv, |jaccard[i] - J| is
  compared; the count checked, the maximum absolute error and the number of
  errors > 1e-6 are reported.
"""

import json
import sys
from fractions import Fraction

import ndlib

__all__ = [
    "BANDS", "load_scan", "load_truth", "load_pairs", "load_doc_ids",
    "evaluate", "lsh_probability", "format_text", "main",
]

# (label, lo, hi, midpoint); hi is exclusive except for the exact band.
BANDS = [("[0.0,0.3)", 0.0, 0.3, 0.15)] + [
    ("[0.%d,0.%d)" % (k, k + 1) if k < 9 else "[0.9,1.0)",
     k / 10, (k + 1) / 10, (2 * k + 1) / 20)
    for k in range(3, 10)
] + [("1.0", 1.0, 1.0, 1.0)]

JACCARD_TOLERANCE = 1e-6


EvalError = ndlib.Error  # bad input (unreadable or malformed file)
_read_jsonl = ndlib.read_jsonl
_c2 = ndlib.c2
lsh_probability = ndlib.lsh_probability


def _id(x):
    return x if isinstance(x, str) else json.dumps(x)


def _pair(a, b):
    return (a, b) if a <= b else (b, a)


def load_scan(path):
    """Read neardup scan output.

    Returns a list of clusters, each {"ids": [str, ...], "jaccard": [float,
    ...] or None}.  Non-cluster lines are skipped.
    """
    clusters = []
    for n, obj in _read_jsonl(path):
        if not isinstance(obj, dict) or "header" in obj or "ids" not in obj:
            continue
        ids = obj["ids"]
        if not isinstance(ids, list):
            raise EvalError("%s:%d: \"ids\" is not a list" % (path, n))
        jac = obj.get("jaccard")
        if not isinstance(jac, list) or len(jac) != len(ids):
            jac = None
        clusters.append({"ids": [_id(x) for x in ids], "jaccard": jac})
    return clusters


def load_truth(path):
    """Read truth.jsonl; returns a list of groups (lists of ids)."""
    groups = []
    for n, obj in _read_jsonl(path):
        if not isinstance(obj, dict) or "ids" not in obj:
            continue
        ids = obj["ids"]
        if not isinstance(ids, list):
            raise EvalError("%s:%d: \"ids\" is not a list" % (path, n))
        groups.append([_id(x) for x in ids])
    return groups


def load_pairs(path):
    """Read truth_pairs.tsv; returns {(a, b): jaccard} with a <= b."""
    pairs = {}
    try:
        f = open(path, encoding="utf-8")
    except OSError as e:
        raise EvalError("cannot open %s: %s" % (path, e))
    with f:
        cols = (0, 1, 2)
        for n, line in enumerate(f, 1):
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            fields = line.split("\t")
            if n == 1 and "jaccard" in [x.strip().lower() for x in fields]:
                names = [x.strip().lower() for x in fields]
                try:
                    cols = (names.index("a"), names.index("b"),
                            names.index("jaccard"))
                except ValueError:
                    raise EvalError("%s:1: header must have columns a, b, "
                                    "jaccard" % path)
                continue
            try:
                a, b = fields[cols[0]], fields[cols[1]]
                j = float(fields[cols[2]])
            except (IndexError, ValueError):
                raise EvalError("%s:%d: expected a<TAB>b<TAB>jaccard"
                                % (path, n))
            if a == b:
                continue
            pairs[_pair(a, b)] = j
    return pairs


def load_doc_ids(path):
    """Read docs.jsonl; returns the list of ids (objects' "id" values)."""
    ids = []
    for _, obj in _read_jsonl(path):
        if isinstance(obj, dict) and "id" in obj:
            ids.append(_id(obj["id"]))
    return ids


def _band_index(j):
    if j >= 1.0:
        return len(BANDS) - 1
    for i in range(len(BANDS) - 2, -1, -1):
        if j >= BANDS[i][1]:
            return i
    return 0


def _partition(blocks, what, warnings):
    """Map id -> block index; an id keeps its first block.  Returns
    (owner dict, block sizes list)."""
    owner = {}
    sizes = []
    dup = 0
    for k, ids in enumerate(blocks):
        size = 0
        for x in ids:
            if x in owner:
                if owner[x] != k:
                    dup += 1
                continue
            owner[x] = k
            size += 1
        sizes.append(size)
    if dup:
        warnings.append("%d id(s) appear in more than one %s; each kept in "
                        "its first one" % (dup, what))
    return owner, sizes


def _ari(n, x_sizes, y_sizes, contingency):
    index = sum(_c2(v) for v in contingency.values())
    a = sum(_c2(v) for v in x_sizes)
    b = sum(_c2(v) for v in y_sizes)
    total = _c2(n)
    if total == 0:
        return 1.0
    expected = Fraction(a * b, total)
    maximum = Fraction(a + b, 2)
    if maximum == expected:
        return 1.0
    return float((index - expected) / (maximum - expected))


def evaluate(clusters, groups, pairs=None, doc_ids=None, threshold=0.8,
             bands=None, rows=None):
    """Compute all measures; returns an (ordered) dict.

    clusters: list of reported clusters, each a list of ids or a dict with
              "ids" (and optionally "jaccard") as returned by load_scan().
    groups:   list of truth groups (lists of ids).
    pairs:    optional {(a, b): true jaccard} (a <= b), from load_pairs().
    doc_ids:  optional iterable of all ids in the corpus.
    bands, rows: optional LSH parameters for the predicted S-curve.
    """
    if (bands is None) != (rows is None):
        raise ValueError("bands and rows must be given together")
    warnings = []
    c_ids, c_jac = [], []
    for c in clusters:
        if isinstance(c, dict):
            c_ids.append([_id(x) for x in c["ids"]])
            c_jac.append(c.get("jaccard"))
        else:
            c_ids.append([_id(x) for x in c])
            c_jac.append(None)
    g_ids = [[_id(x) for x in g] for g in groups]

    cl_of, cl_sizes = _partition(c_ids, "reported cluster", warnings)
    gr_of, gr_sizes = _partition(g_ids, "truth group", warnings)

    universe = set(cl_of) | set(gr_of)
    if doc_ids is not None:
        docs = set(_id(x) for x in doc_ids)
        extra = universe - docs
        if extra:
            warnings.append("%d id(s) in scan/truth are not in docs; added to "
                            "the universe (e.g. %s)"
                            % (len(extra), sorted(extra)[0]))
        universe |= docs
    n = len(universe)

    contingency = {}
    for x, c in cl_of.items():
        g = gr_of.get(x)
        if g is not None:
            contingency[(c, g)] = contingency.get((c, g), 0) + 1

    reported = sum(_c2(s) for s in cl_sizes)
    true_pairs = sum(_c2(s) for s in gr_sizes)
    reported_in_group = sum(_c2(v) for v in contingency.values())
    reported_cross = reported - reported_in_group

    band_rows = None
    jcheck = None
    min_known = None
    if pairs is None:
        positives = true_pairs
        tp = reported_in_group
        related_below = None
        reported_related_below = 0
        listed = 0
    else:
        listed = listed_co = pos_listed = pos_listed_co = 0
        outside = 0
        b_true = [0] * len(BANDS)
        b_rep = [0] * len(BANDS)
        b_prob = [0.0] * len(BANDS)
        for (a, b), j in pairs.items():
            ga = gr_of.get(a)
            if ga is None or ga != gr_of.get(b):
                outside += 1
                continue
            ca = cl_of.get(a)
            co = ca is not None and ca == cl_of.get(b)
            listed += 1
            bi = _band_index(j)
            b_true[bi] += 1
            if bands is not None:
                b_prob[bi] += lsh_probability(min(max(j, 0.0), 1.0),
                                              bands, rows)
            if co:
                listed_co += 1
                b_rep[bi] += 1
                if min_known is None or j < min_known:
                    min_known = j
            if j >= threshold:
                pos_listed += 1
                if co:
                    pos_listed_co += 1
        if outside:
            warnings.append("%d pair(s) in the pairs file are not inside a "
                            "truth group; ignored (true Jaccard treated as 0)"
                            % outside)
        missing = true_pairs - listed
        if missing:
            warnings.append("%d true pair(s) missing from the pairs file; "
                            "counted as positives with unknown Jaccard"
                            % missing)
        positives = pos_listed + missing
        tp = pos_listed_co + (reported_in_group - listed_co)
        related_below = listed - pos_listed
        reported_related_below = listed_co - pos_listed_co

        band_rows = []
        for i, (label, lo, hi, mid) in enumerate(BANDS):
            row = {
                "band": label,
                "lo": lo,
                "hi": hi,
                "true_pairs": b_true[i],
                "reported": b_rep[i],
                "recall": (b_rep[i] / b_true[i]) if b_true[i] else None,
            }
            if bands is not None:
                row["lsh_prob_mid"] = lsh_probability(mid, bands, rows)
                row["lsh_prob_mean"] = ((b_prob[i] / b_true[i])
                                        if b_true[i] else None)
            band_rows.append(row)

        checked = bad = 0
        max_err = None
        for ids, jac in zip(c_ids, c_jac):
            if not jac or len(ids) < 2:
                continue
            s = ids[0]
            for x, rj in zip(ids[1:], jac[1:]):
                j = pairs.get(_pair(s, x)) if x != s else None
                if j is None or not isinstance(rj, (int, float)):
                    continue
                err = abs(float(rj) - j)
                checked += 1
                if max_err is None or err > max_err:
                    max_err = err
                if err > JACCARD_TOLERANCE:
                    bad += 1
        jcheck = {"checked": checked, "max_abs_error": max_err,
                  "mismatches": bad}

    # claims: (survivor, member) pairs
    claims = claims_ok = 0
    min_claim = None
    for ids in c_ids:
        for other in ids[1:]:
            claims += 1
            ga, gb = gr_of.get(ids[0]), gr_of.get(other)
            if ga is None or ga != gb:
                j = 0.0
            elif pairs is not None:
                j = pairs.get(_pair(ids[0], other))
            else:
                j = None
            if j is None:
                claims_ok += 1
                continue
            if j >= threshold - 1e-12:
                claims_ok += 1
            min_claim = j if min_claim is None else min(min_claim, j)
    claim_precision = claims_ok / claims if claims else 1.0

    fp = reported - tp
    fn = positives - tp
    precision = tp / reported if reported else 1.0
    recall = tp / positives if positives else 1.0
    f1 = (2 * precision * recall / (precision + recall)
          if precision + recall else 0.0)

    if reported_cross:
        min_reported = 0.0
    else:
        min_reported = min_known
    below = reported_cross + reported_related_below

    lsh = None
    if bands is not None:
        lsh = {"bands": bands, "rows": rows,
               "threshold_estimate": (1.0 / bands) ** (1.0 / rows)}

    return {
        "threshold": threshold,
        "n_ids": n,
        "n_clusters": len(c_ids),
        "n_clustered_ids": len(cl_of),
        "n_truth_groups": len(g_ids),
        "n_truth_ids": len(gr_of),
        "have_pairs": pairs is not None,
        "reported_pairs": reported,
        "true_pairs": true_pairs,
        "positive_pairs": positives,
        "related_below_threshold_pairs": related_below,
        "true_positives": tp,
        "false_positives": fp,
        "false_negatives": fn,
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "ari": _ari(n, cl_sizes, gr_sizes, contingency),
        "reported_cross_group": reported_cross,
        "reported_below_threshold": below,
        "min_reported_jaccard": min_reported,
        "claimed_pairs": claims,
        "claims_correct": claims_ok,
        "claim_precision": claim_precision,
        "claims_below_threshold": claims - claims_ok,
        "min_claim_jaccard": min_claim,
        "bands": band_rows,
        "lsh": lsh,
        "jaccard_check": jcheck,
        "warnings": warnings,
    }


def _f(v, digits=4):
    if v is None:
        return "-"
    if isinstance(v, float):
        return "%.*f" % (digits, v)
    return str(v)


def format_text(r):
    """Render an evaluate() result as a readable text report."""
    out = []
    add = out.append
    add("neardup eval (threshold %s)" % _f(r["threshold"], 2))
    add("  ids: %d   reported clusters: %d (%d ids)   truth groups: %d "
        "(%d ids)" % (r["n_ids"], r["n_clusters"], r["n_clustered_ids"],
                      r["n_truth_groups"], r["n_truth_ids"]))
    add("")
    add("pairs")
    rows = [
        ("reported", r["reported_pairs"]),
        ("true (in a truth group)", r["true_pairs"]),
        ("positive (true, J >= threshold)" if r["have_pairs"]
         else "positive (all true pairs)", r["positive_pairs"]),
        ("related but below threshold", r["related_below_threshold_pairs"]),
        ("true positives", r["true_positives"]),
        ("false positives", r["false_positives"]),
        ("false negatives", r["false_negatives"]),
        ("reported across truth groups", r["reported_cross_group"]),
        ("reported below threshold" if r["have_pairs"]
         else "reported below threshold (lower bound)",
         r["reported_below_threshold"]),
        ("min true J of reported pairs", r["min_reported_jaccard"]),
        ("claimed (survivor, member) pairs", r["claimed_pairs"]),
        ("claims below threshold", r["claims_below_threshold"]),
        ("min true J of claims", r["min_claim_jaccard"]),
    ]
    for k, v in rows:
        add("  %-40s %s" % (k, _f(v)))
    add("")
    add("scores")
    for k in ("precision", "recall", "f1", "ari"):
        add("  %-40s %s" % (k.upper() if k in ("f1", "ari") else k,
                            _f(r[k])))
    add("  %-40s %s" % ("claim precision", _f(r["claim_precision"])))
    if r["bands"] is not None:
        add("")
        lsh = r["lsh"]
        head = "  %-10s %10s %10s %8s" % ("band", "true", "reported",
                                         "recall")
        if lsh:
            head += " %10s %10s" % ("P(mid)", "P(mean)")
        add("recall by true-Jaccard band" +
            ("  (LSH b=%d r=%d, threshold ~%.3f)"
             % (lsh["bands"], lsh["rows"], lsh["threshold_estimate"])
             if lsh else ""))
        add(head)
        for b in r["bands"]:
            line = "  %-10s %10d %10d %8s" % (b["band"], b["true_pairs"],
                                             b["reported"], _f(b["recall"]))
            if lsh:
                line += " %10s %10s" % (_f(b["lsh_prob_mid"]),
                                        _f(b["lsh_prob_mean"]))
            add(line)
    jc = r["jaccard_check"]
    if jc is not None:
        add("")
        add("reported Jaccard vs truth: %d checked, max abs error %s, "
            "%d mismatch(es) > %g" % (jc["checked"], _f(jc["max_abs_error"], 6),
                                      jc["mismatches"], JACCARD_TOLERANCE))
    return "\n".join(out) + "\n"


def _parser():
    import argparse
    p = argparse.ArgumentParser(
        prog="eval",
        description="Score neardup scan output against a truth set "
                    "(pair precision/recall/F1, adjusted Rand index, recall "
                    "by true-Jaccard band).")
    p.add_argument("--scan", required=True, help="neardup scan output (JSONL)")
    p.add_argument("--truth", required=True, help="truth.jsonl")
    p.add_argument("--pairs", help="truth_pairs.tsv (a, b, jaccard)")
    p.add_argument("--docs", help="docs.jsonl (universe of ids for the ARI)")
    p.add_argument("--threshold", type=float, default=0.8,
                   help="Jaccard threshold for positives (default 0.8)")
    p.add_argument("--json", action="store_true",
                   help="print one JSON object instead of a table")
    p.add_argument("--bands", type=int, help="LSH bands b (with --rows)")
    p.add_argument("--rows", type=int, help="LSH rows per band r (with --bands)")
    return p


def main(argv=None):
    p = _parser()
    args = p.parse_args(argv)
    if (args.bands is None) != (args.rows is None):
        p.error("--bands and --rows must be given together")
    if args.bands is not None and (args.bands < 1 or args.rows < 1):
        p.error("--bands and --rows must be >= 1")
    if not 0.0 <= args.threshold <= 1.0:
        p.error("--threshold must be in [0, 1]")
    try:
        clusters = load_scan(args.scan)
        groups = load_truth(args.truth)
        pairs = load_pairs(args.pairs) if args.pairs else None
        doc_ids = load_doc_ids(args.docs) if args.docs else None
    except EvalError as e:  # a file missing or malformed: a failure (1), not a usage error (2)
        print("eval: %s" % e, file=sys.stderr)
        return 1
    r = evaluate(clusters, groups, pairs=pairs, doc_ids=doc_ids,
                 threshold=args.threshold, bands=args.bands, rows=args.rows)
    result = {"inputs": {"scan": args.scan, "truth": args.truth,
                         "pairs": args.pairs, "docs": args.docs}}
    result.update(r)
    if args.json:
        sys.stdout.write(json.dumps(result) + "\n")
    else:
        for w in r["warnings"]:
            print("eval: warning: %s" % w, file=sys.stderr)
        sys.stdout.write(format_text(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
