"""Evaluate neardup on real data sets (the logic behind ``scripts/real-data``).

Python 3 standard library only.  Reads the public data sets in
``../shared/corpora/`` (never copies them into the repository), keeps derived
data in a cache outside the repository, runs the ``neardup`` binary, and
prints a Markdown section (``## Real data``) plus, with ``--json``, every
number as one JSON object.

SaudiNewsNet (``saudinewsnet/dataset/*.zip``)
    Converted to one JSON Lines file ``{"id": "<source>/<date>/<index>",
    "source", "title", "text"}``, date = the zip's name (YYYY-MM-DD), index =
    position in that day's JSON array; records in (date, index) order, so the
    survivor ``--keep first`` picks is the earliest crawled copy.

    Reference: ``neardup normalize --shingles`` gives each document's sorted
    32-bit shingle ids under the default profile (exactly the sets ``scan``
    verifies with).  An inverted index shingle -> documents proposes every
    pair sharing a shingle, except through shingles found in more than
    DF_CAP documents; the exact Jaccard |A & B| / |A | B| of every proposed
    pair is computed (pairs whose set sizes differ by more than 2x cannot
    reach 0.5 and are skipped), and pairs with J >= REF_MIN_J are kept.
    Skipped frequent shingles can only hide a pair whose shared shingles are
    all frequent; J >= 0.5 then needs at least half of each document's
    shingles to be frequent, so all pairs among such documents are checked
    by brute force as well: the reference is exact for J >= 0.5.

    Measures, for each threshold T:
      found(a, b)        a and b are in one reported cluster;
      recall             found / reference pairs with J >= T;
      precision          reported pairs (all pairs inside one cluster) with
                         reference J >= T / reported pairs (a pair missing
                         from the reference has J < 0.5 <= T);
      survivor precision the same over (survivor, member) pairs only;
      recall by band     [0.5,0.6) ... [0.9,1.0) and exactly 1.0, with the
                         LSH candidate probability P(s) = 1 - (1 - s^r)^b
                         averaged over the band's pairs (b x r from
                         ``neardup params --threshold T``);
      jaccard check      every (survivor, member) Jaccard neardup prints
                         against the reference (|difference| <= 1e-5).
    Missed pairs at the default threshold are classified with ``neardup
    explain`` on the two texts: "not a candidate" (no LSH band collided) or
    "candidate, split by clustering" (verified but put in different clusters
    by the greedy cover, which only guarantees a match with the cluster's
    centre).

    Every pair: ``scan --pairs`` at the defaults against the same
    reference: recall of the pairs with J >= 0.8 and >= HIGH_J (a pair is
    found when it is listed), listed pairs absent from the reference or
    below the threshold, and every listed Jaccard against the reference.

    Containment beyond Jaccard: ``scan --pairs --measure containment``
    (T = 0.8, --min-shingles 20) against an exact containment reference:
    the overlap of every pair of documents sharing a shingle, counted from
    an inverted index of all shingles (no frequency cap; a pair that shares
    no shingle cannot match), kept when it matches by neardup.h's rule
    (covers(), written out again here).  The pairs Jaccard does not list
    are counted by Jaccard band, and two cross-outlet pairs per band are
    shown with the start of the longest run of words they share (``neardup
    explain``).  Clusters by containment, and its cost against the Jaccard
    scan (best of SPEED_RUNS runs each, alternating).

Clough-Stevenson: ``neardup explain --json ANSWER orig_task<T>.txt`` per
answer (default 5-word shingles and --shingle words:3); Jaccard and
containment of the answer in the source per category; scan at 0.8 and 0.5.

MSRP: each sentence pair becomes two documents ``p<row>a`` and ``p<row>b``
(row = 0-based over train then test), so repeated sentence ids do not merge
pairs; a pair is reported when its two documents share a cluster.
"""

import argparse
import collections
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile

import ndlib

SAUDI_VERSION = "saudinewsnet-jsonl/1"
REF_VERSION = "saudinewsnet-reference/1"
MSRP_VERSION = "msrp-jsonl/1"
REF_MIN_J = 0.5
DF_CAP = 1000
THRESHOLDS = (0.5, 0.7, 0.8, 0.9)
DEFAULT_T = 0.8
HIGH_J = 0.85
THREADS = 2
JACCARD_TOLERANCE = 1e-5
MISS_EXPLAIN_LIMIT = 2000  # misses classified with explain, per threshold
SPEED_RUNS = 3  # speed: best of this many scans per thread count
# (label, lo, hi): lo <= J < hi; hi None means J == 1.0 exactly.
J_BANDS = [("[%.1f,%.1f)" % (k / 10, (k + 1) / 10), k / 10, (k + 1) / 10)
           for k in range(5, 10)] + [("1.0", 1.0, None)]
CATEGORIES = ("cut", "light", "heavy", "non")
CONTAIN_REF_VERSION = "saudinewsnet-containment-reference/1"
MIN_SHINGLES = 20  # neardup's default --min-shingles
CONTAIN_BANDS = [("[0.0,0.2)", 0.0, 0.2), ("[0.2,0.4)", 0.2, 0.4),
                 ("[0.4,0.6)", 0.4, 0.6), ("[0.6,0.8)", 0.6, 0.8)]
CONTAIN_EXAMPLES_PER_BAND = 2


RealDataError = ndlib.Error
sha256_file = ndlib.sha256_file
atomic_write = ndlib.atomic_write
log = ndlib.Logger("real-data")


# ---------------------------------------------------------------- helpers

def key_of(*parts):
    h = hashlib.sha256()
    for p in parts:
        h.update(json.dumps(p, sort_keys=True).encode())
        h.update(b"\0")
    return h.hexdigest()[:16]


def outlet(doc_id):
    return doc_id.split("/", 1)[0]


def band_of(j):
    for label, lo, hi in J_BANDS:
        if hi is None:
            if j >= 1.0:
                return label
        elif lo <= j < hi:
            return label
    return None


def fmt(x, digits=4):
    if x is None:
        return "–"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, int):
        return "{:,}".format(x)
    return "%.*f" % (digits, x)


def md_cell(s):
    return str(s).replace("|", "\\|").replace("\n", " ").strip()


def md_table(headers, rows):
    out = ["| " + " | ".join(headers) + " |",
           "| " + " | ".join("---" for _ in headers) + " |"]
    for r in rows:
        out.append("| " + " | ".join(md_cell(c) for c in r) + " |")
    return out


def short(text, n=70):
    text = " ".join(text.split())
    return text if len(text) <= n else text[:n - 1] + "…"


# ---------------------------------------------------------------- neardup

class Neardup:
    """The program: short runs (stdout, or RealDataError) and measured scans
    (ndlib.run_neardup: wall time, peak RSS and the --stats object)."""

    def __init__(self, path):
        self.path = path

    def run(self, args, stdin=None):
        """Run neardup, return stdout (text); raise on failure."""
        return ndlib.run([self.path] + args, input=stdin)

    def timed(self, args, out_path):
        """Run `neardup scan ...` with stdout to out_path; return wall_s,
        peak_kb, stats (its --stats object) and warnings (a count)."""
        r = ndlib.neardup_or_fail(self.path, args, out_path)
        return {"wall_s": r["wall_s"], "peak_kb": r["rss_kb"],
                "stats": r["stats"], "warnings": r["warnings"]}


def load_scan(path):
    return [obj for _, obj in ndlib.read_jsonl(path)]


# ---------------------------------------------------------------- SaudiNewsNet

def saudi_convert(zips, out_path):
    docs = []
    for z in zips:
        date = os.path.basename(z)[:-len(".zip")]
        with zipfile.ZipFile(z) as zf:
            names = sorted(n for n in zf.namelist() if n.endswith(".json"))
            if len(names) != 1:
                raise RealDataError("%s: expected one .json, found %r"
                                    % (z, names))
            arr = json.loads(zf.read(names[0]).decode("utf-8"))
        for i, rec in enumerate(arr):
            docs.append({"id": "%s/%s/%d" % (rec["source"], date, i),
                         "source": rec["source"],
                         "title": rec.get("title") or "",
                         "text": rec.get("content") or ""})

    def write(f):
        for d in docs:
            f.write(json.dumps(d, ensure_ascii=False) + "\n")
    atomic_write(out_path, write)


def saudi_corpus(corpora, cache, log):
    """SaudiNewsNet as one JSON Lines file (converted by saudi_convert once
    and cached in folder cache, keyed by the zips' contents), or None when
    corpora/saudinewsnet/dataset has no zips."""
    root = os.path.join(corpora, "saudinewsnet", "dataset")
    if not os.path.isdir(root):
        return None
    zips = sorted(os.path.join(root, n) for n in os.listdir(root) if n.endswith(".zip"))
    if not zips:
        return None
    key = key_of(SAUDI_VERSION, [(os.path.basename(z), ndlib.sha256_file(z)) for z in zips])
    path = os.path.join(cache, "saudinewsnet-%s.jsonl" % key)
    if not os.path.exists(path):
        log("saudinewsnet: converting %d zips" % len(zips))
        os.makedirs(cache, exist_ok=True)
        saudi_convert(zips, path)
    return path


def load_docs(path):
    ids, titles, texts = [], [], []
    with open(path, encoding="utf-8") as f:
        for line in f:
            d = json.loads(line)
            ids.append(d["id"])
            titles.append(d["title"])
            texts.append(d["text"])
    return ids, titles, texts


def read_shingles(stream, expect_ids):
    """Parse `neardup normalize --shingles` output (one JSON object a line,
    starting with {"id":...}); only the id and the shingle list are decoded.
    Returns a list of tuples, in input order."""
    dec = json.JSONDecoder()
    out = []
    for n, line in enumerate(stream):
        if not line.startswith('{"id":'):
            raise RealDataError("unexpected normalize output: %r" % line[:80])
        doc_id, _ = dec.raw_decode(line, 6)
        if n >= len(expect_ids) or doc_id != expect_ids[n]:
            raise RealDataError("normalize output out of step at line %d"
                                % (n + 1))
        k = line.rfind('"shingles":[')
        if k < 0:
            raise RealDataError("normalize output without shingles")
        e = line.index("]", k)
        body = line[k + 12:e]
        out.append(tuple(map(int, body.split(","))) if body else ())
    if len(out) != len(expect_ids):
        raise RealDataError("normalize output has %d documents, expected %d"
                            % (len(out), len(expect_ids)))
    return out


def load_shingles(nd, jsonl, ids):
    """Every document's shingle ids from `neardup normalize --shingles`."""
    p = subprocess.Popen([nd.path, "normalize", "--shingles", "--quiet",
                          jsonl], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, encoding="utf-8")
    try:
        sh = read_shingles(p.stdout, ids)
    finally:
        p.stdout.close()
        err = p.stderr.read()
        p.wait()
    if p.returncode != 0:
        raise RealDataError("neardup normalize failed: %s" % err.strip())
    return sh


def compute_reference(nd, jsonl, ids):
    """Exact Jaccard of every pair with J >= REF_MIN_J.  Returns
    (pairs [(a, b, J)], meta)."""
    t0 = time.monotonic()
    sh = load_shingles(nd, jsonl, ids)
    t_norm = time.monotonic() - t0
    log("reference: %d documents normalized (%.1f s); indexing" %
        (len(sh), t_norm))
    n = len(sh)
    df = collections.Counter()
    for s in sh:
        df.update(s)
    frequent = {x for x, c in df.items() if c > DF_CAP}
    distinct = len(df)
    max_df = max(df.values()) if df else 0
    postings = {}
    for d, s in enumerate(sh):
        for x in s:
            c = df[x]
            if 2 <= c <= DF_CAP:
                lst = postings.get(x)
                if lst is None:
                    postings[x] = [d]
                else:
                    lst.append(d)
    incidences = sum(ndlib.c2(len(v)) for v in postings.values())
    del df
    sets = [frozenset(s) for s in sh]
    log("reference: %d distinct shingles, %d in > %d documents; "
        "computing pairs" % (distinct, len(frequent), DF_CAP))
    found = {}
    candidates = size_checked = 0
    for a, s in enumerate(sh):
        if not s:
            continue
        cand = set()
        for x in s:
            lst = postings.get(x)
            if lst is not None:
                cand.update(lst)
        la, sa = len(s), sets[a]
        for b in cand:
            if b <= a:
                continue
            candidates += 1
            lb = len(sh[b])
            if 2 * min(la, lb) < max(la, lb):
                continue  # J <= min/max < 0.5
            size_checked += 1
            inter = len(sa & sets[b])
            j = inter / (la + lb - inter)
            if j >= REF_MIN_J:
                found[(a, b)] = j
    # Pairs sharing only frequent shingles: J >= 0.5 needs >= half of both
    # documents' shingles to be frequent.
    heavy = [d for d, s in enumerate(sh)
             if s and 2 * sum(1 for x in s if x in frequent) >= len(s)]
    only_frequent = added = 0
    for i, a in enumerate(heavy):
        for b in heavy[i + 1:]:
            shared = sets[a] & sets[b]
            if not shared or not shared <= frequent:
                continue
            only_frequent += 1
            j = len(shared) / len(sets[a] | sets[b])
            if j >= REF_MIN_J and (a, b) not in found:
                found[(a, b)] = j
                added += 1
    pairs = sorted((a, b, j) for (a, b), j in found.items())
    meta = {
        "documents": n,
        "documents_with_shingles": sum(1 for s in sh if s),
        "shingles_total": sum(len(s) for s in sh),
        "shingles_distinct": distinct,
        "df_cap": DF_CAP,
        "frequent_shingles": len(frequent),
        "max_df": max_df,
        "posting_pair_incidences": incidences,
        "candidate_pairs": candidates,
        "size_compatible_pairs": size_checked,
        "mostly_frequent_documents": len(heavy),
        "pairs_sharing_only_frequent": only_frequent,
        "pairs_added_by_frequent_check": added,
        "pairs": len(pairs),
        "min_jaccard": REF_MIN_J,
        "normalize_seconds": round(t_norm, 2),
        "seconds": round(time.monotonic() - t0, 2),
    }
    return pairs, meta


def probe_fingerprint(nd, jsonl, tmpdir):
    """Hash of normalize --shingles on every 97th record: changes when the
    normalization or shingle hashing changes, so the reference is rebuilt."""
    probe = os.path.join(tmpdir, "probe.jsonl")
    with open(jsonl, encoding="utf-8") as f, \
            open(probe, "w", encoding="utf-8") as out:
        for n, line in enumerate(f):
            if n % 97 == 0:
                out.write(line)
    text = nd.run(["normalize", "--shingles", "--quiet", probe])
    return hashlib.sha256(text.encode()).hexdigest()


def saudi_reference(ctx, jsonl, jsonl_key, ids):
    fp = probe_fingerprint(ctx.nd, jsonl, ctx.tmp)
    key = key_of(REF_VERSION, jsonl_key, fp, DF_CAP, REF_MIN_J)
    tsv = os.path.join(ctx.cache, "saudinewsnet-ref-%s.tsv" % key)
    meta_path = os.path.join(ctx.cache, "saudinewsnet-ref-%s.json" % key)
    index = {d: i for i, d in enumerate(ids)}
    if os.path.exists(tsv) and os.path.exists(meta_path):
        log("reference: cached %s" % tsv)
        with open(meta_path, encoding="utf-8") as f:
            meta = json.load(f)
        pairs = {}
        with open(tsv, encoding="utf-8") as f:
            next(f)
            for line in f:
                a, b, j = line.rstrip("\n").split("\t")
                pairs[(index[a], index[b])] = float(j)
        meta["cached"] = True
        return pairs, meta
    if ctx.quick:
        log("reference: not cached, skipped (--quick)")
        return None, None
    log("reference: computing (a minute or two)")
    plist, meta = compute_reference(ctx.nd, jsonl, ids)

    def write(f):
        f.write("a\tb\tjaccard\n")
        for a, b, j in plist:
            f.write("%s\t%s\t%r\n" % (ids[a], ids[b], j))
    atomic_write(tsv, write)
    atomic_write(meta_path, lambda f: json.dump(meta, f, indent=1))
    log("reference: %d pairs with J >= %.1f in %.1f s -> %s" %
        (len(plist), REF_MIN_J, meta["seconds"], tsv))
    meta["cached"] = False
    return {(a, b): j for a, b, j in plist}, meta


def covers(survivor, member, shared, threshold=DEFAULT_T,
           min_shingles=MIN_SHINGLES):
    """neardup.h's rule, written out: is a member of `member` shingles
    covered by a survivor of `survivor`, `shared` of them common, under
    --measure containment?"""
    if shared / (survivor + member - shared) >= threshold - 1e-12:
        return True
    return member >= min_shingles and shared / member >= threshold - 1e-12


def compute_containment_reference(nd, jsonl, ids):
    """Every pair of documents that matches under --measure containment at
    DEFAULT_T (either text contained in the other, or Jaccard): the overlap
    of every pair sharing a shingle is counted from an inverted index of
    all shingles (no frequency cap), so the list is exact.  Returns
    ({(a, b): (shared, |A|, |B|)}, meta)."""
    t0 = time.monotonic()
    sh = load_shingles(nd, jsonl, ids)
    df = collections.Counter()
    for x in sh:
        df.update(x)
    postings = {}
    for d, x in enumerate(sh):
        for v in x:
            if df[v] >= 2:
                postings.setdefault(v, []).append(d)
    del df
    pairs = {}
    counted = 0
    for a, x in enumerate(sh):
        overlap = collections.Counter()
        for v in x:
            for b in postings.get(v, ()):
                if b > a:
                    overlap[b] += 1
        counted += len(overlap)
        na = len(x)
        for b, shared in overlap.items():
            nb = len(sh[b])
            if covers(na, nb, shared) or covers(nb, na, shared):
                pairs[(a, b)] = (shared, na, nb)
    meta = {"pairs": len(pairs), "pairs_sharing_a_shingle": counted,
            "threshold": DEFAULT_T, "min_shingles": MIN_SHINGLES,
            "seconds": round(time.monotonic() - t0, 2)}
    return pairs, meta


def saudi_containment_reference(ctx, jsonl, jsonl_key, ids):
    fp = probe_fingerprint(ctx.nd, jsonl, ctx.tmp)
    key = key_of(CONTAIN_REF_VERSION, jsonl_key, fp, DEFAULT_T, MIN_SHINGLES)
    tsv = os.path.join(ctx.cache, "saudinewsnet-containment-%s.tsv" % key)
    index = {d: i for i, d in enumerate(ids)}
    if os.path.exists(tsv):
        log("containment reference: cached %s" % tsv)
        pairs = {}
        with open(tsv, encoding="utf-8") as f:
            meta = json.loads(f.readline())
            next(f)
            for line in f:
                a, b, x, na, nb = line.rstrip("\n").split("\t")
                pairs[(index[a], index[b])] = (int(x), int(na), int(nb))
        meta["cached"] = True
        return pairs, meta
    if ctx.quick:
        log("containment reference: not cached, skipped (--quick)")
        return None, None
    log("containment reference: computing (a minute or so)")
    pairs, meta = compute_containment_reference(ctx.nd, jsonl, ids)

    def write(f):
        f.write(json.dumps(meta) + "\n")
        f.write("a\tb\tshared\tshingles_a\tshingles_b\n")
        for (a, b), (x, na, nb) in sorted(pairs.items()):
            f.write("%s\t%s\t%d\t%d\t%d\n" % (ids[a], ids[b], x, na, nb))
    atomic_write(tsv, write)
    log("containment reference: %d pairs in %.1f s -> %s" %
        (len(pairs), meta["seconds"], tsv))
    meta["cached"] = False
    return pairs, meta


def load_pairs_output(path, index):
    """scan --pairs output: {(a, b): (jaccard, a_in_b, b_in_a)}, document
    numbers in input order (a < b)."""
    out = {}
    for _, p in ndlib.read_jsonl(path):
        out[(index[p["a"]], index[p["b"]])] = (p["jaccard"], p["a_in_b"],
                                               p["b_in_a"])
    return out


def saudi_pairs(ctx, jsonl, ids, index, ref, cluster_scan):
    """scan --pairs at the defaults against the exact Jaccard reference."""
    out = os.path.join(ctx.tmp, "pairs.jsonl")
    run = ctx.nd.timed(["scan", "--pairs", "--threads", str(THREADS), jsonl],
                       out)
    listed = load_pairs_output(out, index)
    r = {"listed": len(listed), "wall_s": run["wall_s"],
         "candidate_pairs": run["stats"]["candidate_pairs"],
         "verified_pairs": run["stats"]["verified_pairs"],
         "cross_outlet": sum(1 for a, b in listed
                             if outlet(ids[a]) != outlet(ids[b]))}
    if ref is None:
        return r
    worst, off, missing_in_ref = 0.0, [], 0
    for p, (j, _, _) in listed.items():
        want = ref.get(p)
        if want is None:  # the reference holds every pair with J >= 0.5
            missing_in_ref += 1
            continue
        err = abs(j - want)
        worst = max(worst, err)
        if err > JACCARD_TOLERANCE and len(off) < 5:
            off.append({"a": ids[p[0]], "b": ids[p[1]], "neardup": j,
                        "reference": want})
    r["not_in_reference"] = missing_in_ref
    r["jaccard_max_abs_error"] = worst
    r["jaccard_mismatches"] = sum(
        1 for p, v in listed.items()
        if p in ref and abs(v[0] - ref[p]) > JACCARD_TOLERANCE)
    r["jaccard_mismatch_examples"] = off
    for key, lo in (("t", DEFAULT_T), ("high", HIGH_J)):
        pos = [p for p, j in ref.items() if j >= lo]
        found = sum(1 for p in pos if p in listed)
        r[key + "_positives"] = len(pos)
        r[key + "_found"] = found
        r[key + "_recall"] = found / len(pos) if pos else None
    where = ndlib.cluster_of([[index[i] for i in c["ids"]]
                              for c in cluster_scan])
    high = [p for p, j in ref.items() if j >= HIGH_J]
    r["high_found_by_clusters"] = sum(
        1 for p in high if where.get(p[0], -1) == where.get(p[1], -2))
    r["below_threshold_listed"] = sum(1 for v in listed.values()
                                      if v[0] < DEFAULT_T - 1e-9)
    return r


def contain_band(j):
    for label, lo, hi in CONTAIN_BANDS:
        if lo <= j < hi:
            return label
    return None


def saudi_containment(ctx, jsonl, jkey, ids, index, titles, texts,
                      jaccard_pairs_path):
    """What --measure containment finds beyond Jaccard: its pairs against an
    exact containment reference, the pairs Jaccard does not list, examples
    with the text they share, clusters, and the cost."""
    cref, cmeta = saudi_containment_reference(ctx, jsonl, jkey, ids)
    out = os.path.join(ctx.tmp, "pairs-containment.jsonl")
    run = ctx.nd.timed(["scan", "--pairs", "--measure", "containment",
                        "--threads", str(THREADS), jsonl], out)
    listed = load_pairs_output(out, index)
    jaccard = load_pairs_output(jaccard_pairs_path, index)
    r = {"reference": cmeta, "listed": len(listed), "wall_s": run["wall_s"],
         "jaccard_listed": len(jaccard),
         "jaccard_not_in_containment": sum(1 for p in jaccard
                                           if p not in listed)}
    if cref is not None:
        missing = [p for p in cref if p not in listed]
        extra = [p for p in listed if p not in cref]
        worst = 0.0
        for p, (j, ab, ba) in listed.items():
            if p in cref:
                x, na, nb = cref[p]
                worst = max(worst, abs(j - x / (na + nb - x)),
                            abs(ab - x / na), abs(ba - x / nb))
        r.update({"reference_pairs": len(cref), "missing": len(missing),
                  "extra": len(extra), "max_abs_error": worst,
                  "missing_examples": [(ids[a], ids[b]) for a, b in missing[:5]],
                  "extra_examples": [(ids[a], ids[b]) for a, b in extra[:5]]})
    beyond = {p: v for p, v in listed.items() if p not in jaccard}
    r["beyond_jaccard"] = len(beyond)
    r["beyond_cross_outlet"] = sum(1 for a, b in beyond
                                   if outlet(ids[a]) != outlet(ids[b]))
    r["beyond_by_jaccard"] = {
        label: sum(1 for v in beyond.values() if contain_band(v[0]) == label)
        for label, _, _ in CONTAIN_BANDS}
    r["beyond_at_or_above_t"] = sum(1 for v in beyond.values()
                                    if v[0] >= DEFAULT_T - 1e-9)
    r["beyond_fully_contained"] = sum(1 for v in beyond.values()
                                      if max(v[1], v[2]) >= 1.0)
    # examples a reader can judge: cross-outlet pairs in each Jaccard band,
    # in a fixed pseudo-random order (a hash of the ids), no document twice;
    # what they share, from explain's longest run
    examples, used = [], set()
    for label, _, _ in CONTAIN_BANDS:
        cand = sorted((p for p, v in beyond.items()
                       if contain_band(v[0]) == label
                       and outlet(ids[p[0]]) != outlet(ids[p[1]])),
                      key=lambda p: key_of(ids[p[0]], ids[p[1]]))
        chosen = []
        for a, b in cand:
            if len(chosen) == CONTAIN_EXAMPLES_PER_BAND:
                break
            if a in used or b in used or texts[a] in (texts[x] for x in used) \
                    or texts[b] in (texts[x] for x in used):
                continue
            used.update((a, b))
            chosen.append((a, b))
        for a, b in chosen:
            j, ab, ba = beyond[(a, b)]
            small, big = (a, b) if ab >= ba else (b, a)
            e = explain_pair(ctx, texts, small, big, DEFAULT_T)
            run0 = e["runs"][0] if e.get("runs") else None
            examples.append({
                "contained": ids[small], "container": ids[big],
                "contained_title": titles[small],
                "container_title": titles[big],
                "contained_words": len(texts[small].split()),
                "container_words": len(texts[big].split()),
                "jaccard": j, "containment": max(ab, ba),
                "shared_run_tokens": run0["tokens"] if run0 else 0,
                "shared_run_text": run0["text"] if run0 else ""})
    r["examples"] = examples
    # clusters and dedup's count, and the cost against the Jaccard scan
    out = os.path.join(ctx.tmp, "scan-containment.jsonl")
    runs = {"containment": [], "jaccard": []}
    for _ in range(1 if ctx.quick else SPEED_RUNS):
        for measure in ("jaccard", "containment"):
            runs[measure].append(ctx.nd.timed(
                ["scan", "--measure", measure, "--threads", str(THREADS),
                 jsonl], out))
    clusters = load_scan(out)
    r["clusters"] = len(clusters)
    r["duplicates"] = sum(c["size"] - 1 for c in clusters)
    best = {m: min(v, key=lambda x: x["wall_s"]) for m, v in runs.items()}
    r["cost"] = {m: {"wall_s": b["wall_s"],
                     "cluster_s": b["stats"]["seconds_cluster"],
                     "peak_kb": b["peak_kb"], "runs": len(runs[m])}
                 for m, b in best.items()}
    r["cost_ratio"] = (best["containment"]["wall_s"]
                       / best["jaccard"]["wall_s"])
    return r


def explain_pair(ctx, texts, a, b, threshold):
    pa = os.path.join(ctx.tmp, "explain-a.txt")
    pb = os.path.join(ctx.tmp, "explain-b.txt")
    for path, d in ((pa, a), (pb, b)):
        with open(path, "w", encoding="utf-8", newline="") as f:
            f.write(texts[d])
    return json.loads(ctx.nd.run(["explain", "--json", "--quiet",
                                  "--threshold", repr(threshold), pa, pb]))


def evaluate_scan(clusters, index, ref, threshold, bands, rows):
    """Recall, precision, bands, Jaccard check of one scan against ref."""
    cl = [[index[i] for i in c["ids"]] for c in clusters]
    where = {}
    for k, c in enumerate(cl):
        for d in c:
            where[d] = k
    reported = ndlib.pairs_in(cl)
    r = {}
    pos = [(p, j) for p, j in ref.items() if j >= threshold]
    found = [p for p, _ in pos if where.get(p[0], -1) == where.get(p[1], -2)]
    r["positives"] = len(pos)
    r["found"] = len(found)
    r["recall"] = len(found) / len(pos) if pos else None
    high = [p for p, j in ref.items() if j >= HIGH_J]
    high_found = sum(1 for p in high
                     if where.get(p[0], -1) == where.get(p[1], -2))
    r["high_j"] = HIGH_J
    r["high_positives"] = len(high)
    r["high_found"] = high_found
    r["high_recall"] = high_found / len(high) if high else None
    good = sum(1 for p in reported if ref.get(p, 0.0) >= threshold)
    r["reported_pairs"] = len(reported)
    r["reported_correct"] = good
    r["precision"] = good / len(reported) if reported else None
    below = [ref.get(p, 0.0) for p in reported if ref.get(p, 0.0) < threshold]
    r["reported_below_threshold"] = len(below)
    r["reported_below_min_j"] = min(below) if below else None
    surv = correct = 0
    checked = mismatches = 0
    max_err = 0.0
    mismatch_examples = []
    for c, raw in zip(cl, clusters):
        for k in range(1, len(c)):
            p = (min(c[0], c[k]), max(c[0], c[k]))
            j = ref.get(p)
            surv += 1
            correct += (j or 0.0) >= threshold
            checked += 1
            if j is None:  # the reference holds every pair with J >= 0.5
                err = max(0.0, raw["jaccard"][k] - REF_MIN_J
                          + 2 * JACCARD_TOLERANCE)
            else:
                err = abs(raw["jaccard"][k] - j)
            if err > JACCARD_TOLERANCE:
                mismatches += 1
                if len(mismatch_examples) < 5:
                    mismatch_examples.append(
                        {"survivor": raw["ids"][0], "member": raw["ids"][k],
                         "neardup": raw["jaccard"][k], "reference": j})
            max_err = max(max_err, err)
    r["survivor_pairs"] = surv
    r["survivor_correct"] = correct
    r["survivor_precision"] = correct / surv if surv else None
    r["jaccard_check"] = {"checked": checked, "mismatches": mismatches,
                          "max_abs_error": max_err,
                          "examples": mismatch_examples}
    band_rows = []
    for label, lo, hi in J_BANDS:
        ps = [(p, j) for p, j in ref.items() if band_of(j) == label]
        f = sum(1 for p, _ in ps
                if where.get(p[0], -1) == where.get(p[1], -2))
        pred = (sum(ndlib.lsh_probability(j, bands, rows) for _, j in ps)
                / len(ps)
                if ps else None)
        band_rows.append({"band": label, "pairs": len(ps), "found": f,
                          "recall": f / len(ps) if ps else None,
                          "predicted_candidate": pred})
    r["recall_by_band"] = band_rows
    missed = sorted((p for p, j in pos
                     if where.get(p[0], -1) != where.get(p[1], -2)),
                    key=lambda p: (-ref[p], p))
    return r, missed, where


def classify_misses(ctx, missed, ref, where, clusters, ids, texts,
                    threshold):
    counts = collections.Counter()
    examples = []
    for a, b in missed[:MISS_EXPLAIN_LIMIT]:
        e = explain_pair(ctx, texts, a, b, threshold)
        kind = "split" if e.get("candidate") else "not_candidate"
        counts[kind] += 1
        if abs(e.get("jaccard", -1) - ref[(a, b)]) > JACCARD_TOLERANCE:
            counts["explain_jaccard_mismatch"] += 1
        if counts[kind] <= 3:  # the first 3 of each kind, by J
            ex = {"a": ids[a], "b": ids[b], "jaccard": ref[(a, b)],
                  "kind": kind,
                  "bands_collided": len(e.get("bands_collided", [])),
                  "estimated_jaccard": e.get("estimated_jaccard")}
            for tag, d in (("a", a), ("b", b)):
                k = where.get(d)
                if k is None:
                    ex[tag + "_cluster"] = None
                else:
                    c = clusters[k]
                    pos = c["ids"].index(ids[d])
                    ex[tag + "_cluster"] = {"cluster": c["cluster"],
                                            "size": c["size"],
                                            "survivor": c["ids"][0],
                                            "jaccard": c["jaccard"][pos]}
            examples.append(ex)
    examples.sort(key=lambda x: (-x["jaccard"], x["a"], x["b"]))
    return {"missed": len(missed),
            "classified": min(len(missed), MISS_EXPLAIN_LIMIT),
            "not_candidate": counts["not_candidate"],
            "split": counts["split"],
            "explain_jaccard_mismatch": counts["explain_jaccard_mismatch"],
            "examples": examples}


def unit_stats(groups):
    cross = occ = cross_occ = multi_doc = 0
    for g in groups:
        o = g["occurrences"]
        occ += len(o)
        docs = {x["id"] for x in o}
        multi_doc += len(docs) >= 2
        if len({outlet(x["id"]) for x in o}) >= 2:
            cross += 1
            cross_occ += len(o)
    return {"groups": len(groups), "groups_multi_document": multi_doc,
            "groups_multi_outlet": cross, "occurrences": occ,
            "occurrences_multi_outlet": cross_occ}


def saudi(ctx):
    root = os.path.join(ctx.corpora, "saudinewsnet")
    zips = sorted(os.path.join(root, "dataset", n)
                  for n in os.listdir(os.path.join(root, "dataset"))
                  if n.endswith(".zip"))
    if not zips:
        raise RealDataError("%s: no dataset/*.zip" % root)
    res = {"timings": {}}
    t = time.monotonic()
    jkey = key_of(SAUDI_VERSION,
                  [(os.path.basename(z), sha256_file(z)) for z in zips])
    jsonl = os.path.join(ctx.cache, "saudinewsnet-%s.jsonl" % jkey)
    if not os.path.exists(jsonl):
        log("saudinewsnet: converting %d zips -> %s" % (len(zips), jsonl))
        saudi_convert(zips, jsonl)
    else:
        log("saudinewsnet: cached %s" % jsonl)
    ids, titles, texts = load_docs(jsonl)
    index = {d: i for i, d in enumerate(ids)}
    res["timings"]["convert_s"] = round(time.monotonic() - t, 2)
    size = os.path.getsize(jsonl)
    res["corpus"] = {
        "documents": len(ids), "zips": len(zips), "jsonl_bytes": size,
        "text_bytes": sum(len(x.encode("utf-8")) for x in texts),
        "outlets": dict(sorted(collections.Counter(map(outlet, ids))
                               .items())),
        "empty_text": sum(1 for x in texts if not x.strip()),
    }

    t = time.monotonic()
    ref, ref_meta = saudi_reference(ctx, jsonl, jkey, ids)
    res["timings"]["reference_s"] = round(time.monotonic() - t, 2)
    res["reference"] = ref_meta
    if ref is not None:
        bands = collections.Counter(band_of(j) for j in ref.values())
        cross = [p for p in ref if outlet(ids[p[0]]) != outlet(ids[p[1]])]
        ref_meta = dict(ref_meta)
        ref_meta["pairs_by_band"] = {b: bands.get(b, 0) for b, _, _ in J_BANDS}
        ref_meta["cross_outlet_pairs"] = {
            "j_ge_0.8": sum(1 for p in cross if ref[p] >= 0.8),
            "j_0.5_to_0.8": sum(1 for p in cross if ref[p] < 0.8),
        }
        res["reference"] = ref_meta

    thresholds = (DEFAULT_T,) if ctx.quick else THRESHOLDS
    res["scans"] = {}
    default_clusters = None
    t = time.monotonic()
    for T in thresholds:
        out = os.path.join(ctx.tmp, "scan-%s.jsonl" % T)
        run = ctx.nd.timed(["scan", "--threshold", repr(T), "--threads",
                            str(THREADS), jsonl], out)
        clusters = load_scan(out)
        b, r = run["stats"]["bands"], run["stats"]["rows"]
        s = {"threshold": T, "bands": b, "rows": r,
             "wall_s": run["wall_s"], "peak_kb": run["peak_kb"],
             "stats": run["stats"],
             "clusters": len(clusters),
             "duplicates": sum(c["size"] - 1 for c in clusters),
             "documents_in_clusters": sum(c["size"] for c in clusters),
             "largest_cluster": max((c["size"] for c in clusters),
                                    default=0),
             "multi_outlet_clusters": sum(
                 1 for c in clusters
                 if len({outlet(i) for i in c["ids"]}) >= 2)}
        log("scan T=%s: %d clusters, %.2f s" % (T, len(clusters),
                                                run["wall_s"]))
        if ref is not None:
            ev, missed, where = evaluate_scan(clusters, index, ref, T, b, r)
            s.update(ev)
            log("classifying %d missed pairs with explain" % len(missed))
            s["misses"] = classify_misses(ctx, missed, ref, where,
                                          clusters, ids, texts, T)
        res["scans"][repr(T)] = s
        if T == DEFAULT_T:
            default_clusters = clusters
            default_sha = sha256_file(out)
    res["timings"]["threshold_scans_s"] = round(time.monotonic() - t, 2)

    # Speed: 2 threads and 1 thread, best of SPEED_RUNS runs each (the
    # T=0.8 scan above is the first 2-thread run).
    t = time.monotonic()
    out = os.path.join(ctx.tmp, "scan-speed.jsonl")
    first = res["scans"][repr(DEFAULT_T)]
    runs = {THREADS: [{"wall_s": first["wall_s"], "peak_kb": first["peak_kb"],
                       "stats": first["stats"]}], 1: []}
    identical = True
    n_runs = 1 if ctx.quick else SPEED_RUNS
    for threads in (THREADS, 1):
        while len(runs[threads]) < n_runs:
            runs[threads].append(ctx.nd.timed(
                ["scan", "--threads", str(threads), jsonl], out))
            identical = identical and sha256_file(out) == default_sha
    res["speed"] = []
    for threads in (THREADS, 1):
        best = min(runs[threads], key=lambda x: x["wall_s"])
        st = best["stats"]
        res["speed"].append({
            "threads": threads, "runs": len(runs[threads]),
            "wall_s": best["wall_s"],
            "wall_s_all": [x["wall_s"] for x in runs[threads]],
            "peak_kb": max(x["peak_kb"] for x in runs[threads]),
            "neardup_s": st["seconds_total"],
            "neardup_mb_per_s": st["bytes_read"] / 1e6 / st["seconds_total"]
            if st["seconds_total"] else None,
            "mb_per_s_wall": size / 1e6 / best["wall_s"]
            if best["wall_s"] else None})
    try:
        res["load_average"] = list(os.getloadavg())
    except OSError:
        res["load_average"] = None
    res["timings"]["speed_s"] = round(time.monotonic() - t, 2)
    two = first
    res["threads_identical_output"] = identical
    res["empty_neardup"] = two["stats"]["empty"]

    # Repeated paragraphs and lines.
    res["units"] = {}
    for unit in ("paragraph", "line"):
        out = os.path.join(ctx.tmp, "unit-%s.jsonl" % unit)
        run = ctx.nd.timed(["scan", "--unit", unit, "--min-tokens", "20",
                            "--threads", str(THREADS), jsonl], out)
        u = unit_stats(load_scan(out))
        u.update({"wall_s": run["wall_s"], "peak_kb": run["peak_kb"],
                  "units_read": run["stats"]["units"],
                  "stats": run["stats"]})
        res["units"][unit] = u
        log("scan --unit %s: %d groups" % (unit, u["groups"]))

    # Aggressive profile at the default threshold.
    out = os.path.join(ctx.tmp, "scan-aggressive.jsonl")
    run = ctx.nd.timed(["scan", "--normalize", "aggressive", "--threads",
                        str(THREADS), jsonl], out)
    agg = load_scan(out)
    pd = ndlib.pairs_in([[index[i] for i in c["ids"]] for c in default_clusters])
    pa = ndlib.pairs_in([[index[i] for i in c["ids"]] for c in agg])
    only_a = pa - pd
    a_res = {"clusters": len(agg),
             "duplicates": sum(c["size"] - 1 for c in agg),
             "pairs": len(pa), "default_clusters": len(default_clusters),
             "default_duplicates": sum(c["size"] - 1
                                       for c in default_clusters),
             "default_pairs": len(pd),
             "only_aggressive": len(only_a), "only_default": len(pd - pa),
             "wall_s": run["wall_s"],
             "profile": run["stats"]["profile"]}
    if ref is not None:
        a_res["only_aggressive_default_j"] = {
            "ge_0.8": sum(1 for p in only_a if ref.get(p, 0) >= 0.8),
            "0.5_to_0.8": sum(1 for p in only_a
                              if REF_MIN_J <= ref.get(p, 0) < 0.8),
            "lt_0.5": sum(1 for p in only_a if ref.get(p, 0) < REF_MIN_J),
        }
    res["aggressive"] = a_res
    res["timings"]["other_scans_s"] = round(time.monotonic() - t, 2)

    # Examples: the 5 largest multi-outlet clusters at the default threshold.
    multi = [c for c in default_clusters
             if len({outlet(i) for i in c["ids"]}) >= 2]
    multi.sort(key=lambda c: (-c["size"], c["cluster"]))
    res["examples"] = [
        {"cluster": c["cluster"], "size": c["size"],
         "members": [{"id": i, "outlet": outlet(i),
                      "title": titles[index[i]], "jaccard": j}
                     for i, j in zip(c["ids"], c["jaccard"])]}
        for c in multi[:5]]
    res["clusters_syndicated"] = len(multi)

    # Every pair (scan --pairs), and containment beyond Jaccard.
    t = time.monotonic()
    res["pairs"] = saudi_pairs(ctx, jsonl, ids, index, ref, default_clusters)
    log("scan --pairs: %d pairs" % res["pairs"]["listed"])
    res["containment"] = saudi_containment(
        ctx, jsonl, jkey, ids, index, titles, texts,
        os.path.join(ctx.tmp, "pairs.jsonl"))
    log("scan --pairs --measure containment: %d pairs, %d beyond Jaccard"
        % (res["containment"]["listed"], res["containment"]["beyond_jaccard"]))
    res["timings"]["pairs_and_containment_s"] = round(time.monotonic() - t, 2)
    return res


def saudi_markdown(res):
    L = []
    c = res["corpus"]
    L.append("### SaudiNewsNet (Arabic news, syndicated copies)")
    L.append("")
    L.append("%s articles from %d outlets (%d daily zips), converted to one "
             "JSON Lines file of %.1f MB (text %.1f MB); %s have empty text "
             "(neardup counts %s empty)." % (
                 fmt(c["documents"]), len(c["outlets"]), c["zips"],
                 c["jsonl_bytes"] / 1e6, c["text_bytes"] / 1e6,
                 fmt(c["empty_text"]), fmt(res.get("empty_neardup"))))
    L.append("")
    ref = res.get("reference")
    if ref:
        L.append(
            "Reference: the exact Jaccard of the word-5-shingle sets "
            "(`neardup normalize --shingles`, default profile) of every pair "
            "of documents sharing a shingle: %s distinct shingles, %s "
            "pairs proposed by an inverted index, %s with compatible sizes "
            "checked, **%s pairs with J ≥ %.1f** (%s cross-outlet pairs "
            "with J ≥ 0.8, %s with 0.5 ≤ J < 0.8)." % (
                fmt(ref["shingles_distinct"]), fmt(ref["candidate_pairs"]),
                fmt(ref["size_compatible_pairs"]), fmt(ref["pairs"]),
                ref["min_jaccard"],
                fmt(ref["cross_outlet_pairs"]["j_ge_0.8"]),
                fmt(ref["cross_outlet_pairs"]["j_0.5_to_0.8"])))
        if ref["mostly_frequent_documents"]:
            tail = ("%s documents are like that; the %s pairs among them "
                    "that share only frequent shingles were checked by brute "
                    "force and %s reach J ≥ 0.5" % (
                        fmt(ref["mostly_frequent_documents"]),
                        fmt(ref["pairs_sharing_only_frequent"]),
                        fmt(ref["pairs_added_by_frequent_check"])))
        else:
            tail = "no document is like that"
        L.append(
            "Shingles in more than %s documents are left out of the index "
            "(%s of them, the most frequent in %s documents). They could "
            "only hide a pair whose shared shingles are all frequent, which "
            "for J ≥ 0.5 needs at least half of both documents' shingles to "
            "be frequent: %s, so the reference is exact." % (
                fmt(ref["df_cap"]), fmt(ref["frequent_shingles"]),
                fmt(ref["max_df"]), tail))
        L.append("")
    else:
        L.append("Reference not computed (`--quick` and not cached): "
                 "counts only.")
        L.append("")
    scans = res["scans"]
    keys = list(scans)
    rows = []
    for k in keys:
        s = scans[k]
        rows.append([
            "%.1f" % s["threshold"], "%d x %d" % (s["bands"], s["rows"]),
            fmt(s["clusters"]), fmt(s["multi_outlet_clusters"]),
            fmt(s["duplicates"]), fmt(s["largest_cluster"]),
            fmt(s.get("reported_pairs")),
            "%s / %s" % (fmt(s.get("found")), fmt(s.get("positives")))
            if ref else "–",
            fmt(s.get("recall")), fmt(s.get("precision")),
            fmt(s.get("survivor_precision")),
            "%s / %s" % (fmt(s["misses"]["not_candidate"]),
                         fmt(s["misses"]["split"])) if "misses" in s
            else "–",
            "%.2f" % s["wall_s"]])
    L += md_table(["T", "bands x rows", "clusters", "multi-outlet clusters",
                   "duplicates", "largest", "reported pairs",
                   "found / ref pairs J ≥ T", "recall", "precision",
                   "survivor precision", "missed: no candidate / split",
                   "wall s"], rows)
    L.append("")
    L.append("Recall is over reference pairs with J ≥ T (found = both in one "
             "cluster); precision over all pairs inside a reported cluster "
             "(reference J ≥ T); survivor precision over (survivor, member) "
             "pairs only. Missed pairs (J ≥ T, not in one cluster) are "
             "classified with `neardup explain` on the two texts: no "
             "candidate = no LSH band collided; split = a verified "
             "candidate that the greedy cover put in different clusters "
             "(a member only has to match its cluster's centre). A "
             "multi-outlet (syndicated) cluster has members from two or "
             "more outlets.")
    L.append("")
    if ref:
        d = scans[repr(DEFAULT_T)]
        L.append("At the default threshold %.1f: **recall %s for pairs with "
                 "J ≥ %.2f** (%s of %s). Every (survivor, member) Jaccard "
                 "neardup printed was checked against the reference: %s "
                 "checked, %s differ by more than %g." % (
                     DEFAULT_T, fmt(d["high_recall"]), d["high_j"],
                     fmt(d["high_found"]), fmt(d["high_positives"]),
                     fmt(d["jaccard_check"]["checked"]),
                     fmt(d["jaccard_check"]["mismatches"]),
                     JACCARD_TOLERANCE))
        L.append("")
        head = ["J band", "ref pairs"]
        for k in keys:
            head.append("T=%.1f recall / S-curve" % scans[k]["threshold"])
        rows = []
        for i, (label, _, _) in enumerate(J_BANDS):
            row = [label, fmt(scans[keys[0]]["recall_by_band"][i]["pairs"])]
            for k in keys:
                bnd = scans[k]["recall_by_band"][i]
                row.append("%s / %s" % (fmt(bnd["recall"], 3),
                                        fmt(bnd["predicted_candidate"], 3)))
            rows.append(row)
        L += md_table(head, rows)
        L.append("")
        L.append("S-curve = the LSH candidate probability 1 − (1 − s^r)^b "
                 "averaged over the band's pairs (b x r from `neardup "
                 "params`). Recall below T counts pairs that land in one "
                 "cluster anyway (both close to its centre).")
        L.append("")
        m = d.get("misses")
        if m:
            L.append("Missed pairs at T = %.1f: %s (%s not an LSH "
                     "candidate, %s split by the clustering); the first "
                     "ones, by J:" % (
                         DEFAULT_T, fmt(m["missed"]),
                         fmt(m["not_candidate"]), fmt(m["split"])))
            if m["examples"]:
                L.append("")
                rows = []
                for ex in m["examples"]:
                    def where(x):
                        if x is None:
                            return "none"
                        return "#%d (size %d, J %.3f to %s)" % (
                            x["cluster"], x["size"], x["jaccard"],
                            x["survivor"])
                    rows.append([ex["a"], ex["b"], "%.4f" % ex["jaccard"],
                                 ex["kind"].replace("_", " "),
                                 "%d" % ex["bands_collided"],
                                 where(ex["a_cluster"]),
                                 where(ex["b_cluster"])])
                L += md_table(["a", "b", "J", "why", "bands collided",
                               "cluster of a", "cluster of b"], rows)
            L.append("")
    rows = []
    for sp in res["speed"]:
        rows.append([str(sp["threads"]), "%.2f" % sp["wall_s"],
                     fmt(sp["neardup_s"], 2), fmt(sp["mb_per_s_wall"], 1),
                     fmt(sp["neardup_mb_per_s"], 1),
                     "%.0f" % (sp["peak_kb"] / 1024)])
    load = res.get("load_average")
    L.append("Speed of `scan` at T = %.1f, best of %d runs (timings vary "
             "between runs and with machine load%s; output identical with 1 "
             "and %d threads: %s):" % (
                 DEFAULT_T, res["speed"][0]["runs"],
                 ", load average %.1f at the time" % load[0] if load else "",
                 THREADS, fmt(res["threads_identical_output"])))
    L.append("")
    L += md_table(["threads", "wall s", "neardup s", "MB/s (wall)",
                   "MB/s (neardup)", "peak MB"], rows)
    L.append("")
    rows = []
    for unit, u in res["units"].items():
        rows.append(["`--unit %s --min-tokens 20`" % unit,
                     fmt(u["units_read"]), fmt(u["groups"]),
                     fmt(u["groups_multi_document"]),
                     fmt(u["groups_multi_outlet"]), fmt(u["occurrences"]),
                     fmt(u["occurrences_multi_outlet"]),
                     "%.2f" % u["wall_s"]])
    L.append("Repeated paragraphs (paragraphs are single lines in most "
             "outlets, so `--unit line` is the one that splits them):")
    L.append("")
    L += md_table(["scan", "units", "groups", "in ≥ 2 documents",
                   "in ≥ 2 outlets", "occurrences",
                   "occurrences (≥ 2 outlets)", "wall s"], rows)
    L.append("")
    a = res["aggressive"]
    L.append("The `aggressive` profile at T = %.1f:" % DEFAULT_T)
    L.append("")
    L += md_table(["profile", "clusters", "duplicates", "pairs",
                   "pairs only in this profile"],
                  [["default", fmt(a["default_clusters"]),
                    fmt(a["default_duplicates"]), fmt(a["default_pairs"]),
                    fmt(a["only_default"])],
                   ["aggressive", fmt(a["clusters"]), fmt(a["duplicates"]),
                    fmt(a["pairs"]), fmt(a["only_aggressive"])]])
    if "only_aggressive_default_j" in a:
        o = a["only_aggressive_default_j"]
        L.append("")
        L.append("Of the pairs only `aggressive` finds, the default-profile "
                 "reference Jaccard is ≥ 0.8 for %s (missed by the default "
                 "scan), in [0.5, 0.8) for %s and < 0.5 for %s." % (
                     fmt(o["ge_0.8"]), fmt(o["0.5_to_0.8"]),
                     fmt(o["lt_0.5"])))
    L.append("")
    L += saudi_pairs_markdown(res)
    L.append("Five clusters to check by eye (the largest multi-outlet "
             "clusters at T = %.1f; J = Jaccard with the survivor, listed "
             "first):" % DEFAULT_T)
    for ex in res["examples"]:
        L.append("")
        L.append("Cluster %d (%d articles):" % (ex["cluster"], ex["size"]))
        L.append("")
        L += md_table(["id", "outlet", "title", "J"],
                      [[m["id"], m["outlet"], short(m["title"]),
                        "%.4f" % m["jaccard"]] for m in ex["members"]])
    L.append("")
    return L


def saudi_pairs_markdown(res):
    L = []
    p = res["pairs"]
    L.append("#### Every pair: `scan --pairs`")
    L.append("")
    L.append("`scan --pairs` at the defaults (T = %.1f) lists %s pairs (%s "
             "cross-outlet) with their exact Jaccard and both containments, "
             "in %.2f s; %s candidate pairs verified." % (
                 DEFAULT_T, fmt(p["listed"]), fmt(p["cross_outlet"]),
                 p["wall_s"], fmt(p["candidate_pairs"])))
    if "high_recall" in p:
        L.append("Against the exact reference: **recall %s of the pairs with "
                 "J ≥ %.2f** (%s of %s; clusters put %s of them in one "
                 "cluster), recall %s at J ≥ %.1f (%s of %s); %s listed "
                 "pairs absent from the reference, %s below the threshold; "
                 "every listed Jaccard checked against the reference: %s "
                 "differ by more than %g (largest difference %.2g)." % (
                     fmt(p["high_recall"]), HIGH_J, fmt(p["high_found"]),
                     fmt(p["high_positives"]),
                     fmt(p["high_found_by_clusters"]), fmt(p["t_recall"]),
                     DEFAULT_T, fmt(p["t_found"]), fmt(p["t_positives"]),
                     fmt(p["not_in_reference"]),
                     fmt(p["below_threshold_listed"]),
                     fmt(p["jaccard_mismatches"]), JACCARD_TOLERANCE,
                     p["jaccard_max_abs_error"]))
    L.append("")
    c = res["containment"]
    L.append("#### What containment finds beyond Jaccard")
    L.append("")
    ref = c.get("reference")
    text = ("`scan --pairs --measure containment` (T = %.1f, `--min-shingles "
            "%d`) lists %s pairs: every pair Jaccard lists (%s of them are "
            "missing from it) and **%s more** (%s cross-outlet), in %.2f s." % (
                DEFAULT_T, MIN_SHINGLES, fmt(c["listed"]),
                fmt(c["jaccard_not_in_containment"]), fmt(c["beyond_jaccard"]),
                fmt(c["beyond_cross_outlet"]), c["wall_s"]))
    if ref:
        text += (" An exact reference (the overlap of every pair of "
                 "documents sharing a shingle, from `neardup normalize "
                 "--shingles`, %s pairs counted) holds %s matching pairs: "
                 "%s missing from the listing, %s listed that it does not "
                 "hold, largest difference in the three numbers %.2g." % (
                     fmt(ref["pairs_sharing_a_shingle"]),
                     fmt(c["reference_pairs"]), fmt(c["missing"]),
                     fmt(c["extra"]), c["max_abs_error"]))
    L.append(text)
    L.append("")
    L += md_table(["Jaccard of the pair"] + [b for b, _, _ in CONTAIN_BANDS],
                  [["pairs found only by containment"] +
                   [fmt(c["beyond_by_jaccard"][b]) for b, _, _ in CONTAIN_BANDS]])
    L.append("")
    L.append("%s of these pairs have one text wholly inside the other "
             "(containment 1). Wire stories reprinted shorter or lightly "
             "reworded, and short items that a longer round-up quotes "
             "whole, are what these are: examples a reader can check, %d "
             "cross-outlet pairs per Jaccard band picked by a hash of their "
             "ids (the shared text is the start of the longest run of words "
             "the two have in common, from `neardup explain`; titles and "
             "text quoted from SaudiNewsNet, CC BY-NC-SA 4.0):" % (
                 fmt(c["beyond_fully_contained"]), CONTAIN_EXAMPLES_PER_BAND))
    L.append("")
    rows = []
    for e in c["examples"]:
        rows.append(["%s (%d words) in %s (%d words)" % (
            e["contained"], e["contained_words"], e["container"],
            e["container_words"]),
            short(e["contained_title"], 45), short(e["container_title"], 45),
            "%.3f" % e["jaccard"], "%.3f" % e["containment"],
            "%d: %s" % (e["shared_run_tokens"], short(e["shared_run_text"], 60))])
    L += md_table(["contained in", "title (contained)", "title (container)",
                   "J", "containment", "longest shared run: words, start"],
                  rows)
    L.append("")
    k = c["cost"]
    L.append("`scan --measure containment` makes %s clusters (%s "
             "duplicates), against %s (%s) by Jaccard. Cost on this corpus, "
             "best of %d run(s) each: %.2f s against %.2f s for the Jaccard "
             "scan (**%.2fx**; clustering %.2f s against %.2f s), peak %.0f "
             "MB against %.0f MB." % (
                 fmt(c["clusters"]), fmt(c["duplicates"]),
                 fmt(res["scans"][repr(DEFAULT_T)]["clusters"]),
                 fmt(res["scans"][repr(DEFAULT_T)]["duplicates"]),
                 k["containment"]["runs"], k["containment"]["wall_s"],
                 k["jaccard"]["wall_s"], c["cost_ratio"],
                 k["containment"]["cluster_s"], k["jaccard"]["cluster_s"],
                 k["containment"]["peak_kb"] / 1024,
                 k["jaccard"]["peak_kb"] / 1024))
    L.append("")
    return L


# ---------------------------------------------------------------- Clough

def clough(ctx):
    root = os.path.join(ctx.corpora, "clough-stevenson")
    corpus = os.path.join(root, "corpus-20090418")
    labels = []
    with open(os.path.join(root, "labels.tsv"), encoding="utf-8") as f:
        head = f.readline().rstrip("\r\n").split("\t")
        col = {h: i for i, h in enumerate(head)}
        for line in f:
            if not line.strip():
                continue
            row = line.rstrip("\r\n").split("\t")
            labels.append((row[col["File"]], row[col["Task"]].strip().lower(),
                           row[col["Category"]].strip().lower()))
    answers = [x for x in labels if x[2] in CATEGORIES]
    settings = [("words:5 (default)", []), ("words:3", ["--shingle",
                                                        "words:3"])]
    res = {"answers": len(answers),
           "per_category_count": {c: sum(1 for x in answers if x[2] == c)
                                  for c in CATEGORIES},
           "settings": []}
    for name, opts in settings:
        per = {c: {"jaccard": [], "containment": []} for c in CATEGORIES}
        for fname, task, cat in answers:
            e = json.loads(ctx.nd.run(
                ["explain", "--json", "--quiet"] + opts +
                [os.path.join(corpus, fname),
                 os.path.join(corpus, "orig_task%s.txt" % task)]))
            per[cat]["jaccard"].append(e["jaccard"])
            per[cat]["containment"].append(e["containment_a_in_b"])
        stats = {}
        for c in CATEGORIES:
            j, k = per[c]["jaccard"], per[c]["containment"]
            stats[c] = {"n": len(j),
                        "jaccard_median": statistics.median(j),
                        "jaccard_mean": statistics.fmean(j),
                        "jaccard_max": max(j),
                        "containment_median": statistics.median(k),
                        "containment_mean": statistics.fmean(k)}

        def ordered(key):
            v = [stats[c][key] for c in CATEGORIES]
            return all(v[i] > v[i + 1] for i in range(len(v) - 1))
        scan = {}
        for T in (DEFAULT_T, 0.5):
            out = os.path.join(ctx.tmp, "clough.jsonl")
            run = ctx.nd.timed(["scan", "--threshold", repr(T)] + opts +
                               [corpus], out)
            where = {}
            for c in load_scan(out):
                for i in c["ids"]:
                    where[os.path.basename(i)] = c["cluster"]
            paired = {c: 0 for c in CATEGORIES}
            for fname, task, cat in answers:
                w = where.get(fname)
                if w is not None and w == where.get("orig_task%s.txt" % task):
                    paired[cat] += 1
            scan[repr(T)] = {"paired_with_source": paired,
                             "invalid_utf8": run["stats"]["invalid_utf8"],
                             "clusters": run["stats"]["clusters"]}
        res["settings"].append({
            "shingle": name, "categories": stats,
            "median_jaccard_ordered": ordered("jaccard_median"),
            "median_containment_ordered": ordered("containment_median"),
            "scan": scan})
    return res


def clough_markdown(res):
    L = ["### Clough–Stevenson (plagiarised short answers)", ""]
    s0 = res["settings"][0]
    inv = s0["scan"][repr(DEFAULT_T)]["invalid_utf8"]
    L.append("%d answers (%s) compared with the Wikipedia source of their "
             "task by `neardup explain`; containment = share of the "
             "answer's shingles found in the source. %s files are not valid "
             "UTF-8 (Windows-1252 quotes, read as U+FFFD, which separates "
             "words)." % (res["answers"], ", ".join(
                 "%d %s" % (res["per_category_count"][c], c)
                 for c in CATEGORIES), fmt(inv)))
    L.append("")
    rows = []
    for s in res["settings"]:
        for c in CATEGORIES:
            st = s["categories"][c]
            rows.append([s["shingle"], c, str(st["n"]),
                         fmt(st["jaccard_median"], 3),
                         fmt(st["jaccard_mean"], 3),
                         fmt(st["containment_median"], 3),
                         fmt(st["containment_mean"], 3),
                         "%d" % s["scan"][repr(DEFAULT_T)][
                             "paired_with_source"][c],
                         "%d" % s["scan"]["0.5"]["paired_with_source"][c]])
    L += md_table(["shingles", "category", "n", "Jaccard median",
                   "Jaccard mean", "containment median", "containment mean",
                   "scan T=0.8 pairs with source", "scan T=0.5"], rows)
    L.append("")
    for s in res["settings"]:
        L.append("- %s: cut > light > heavy > non holds for median Jaccard: "
                 "%s; for median containment: %s." % (
                     s["shingle"], fmt(s["median_jaccard_ordered"]),
                     fmt(s["median_containment_ordered"])))
    L.append("")
    return L


# ---------------------------------------------------------------- MSRP

def msrp_rows(root):
    rows = []
    for split in ("train", "test"):
        path = os.path.join(root, "msr_paraphrase_%s.txt" % split)
        with open(path, encoding="utf-8-sig", newline="") as f:
            lines = f.read().split("\n")
        head = lines[0].rstrip("\r").split("\t")
        if head[0] != "Quality" or len(head) != 5:
            raise RealDataError("%s: unexpected header %r" % (path, head))
        for n, line in enumerate(lines[1:], 2):
            line = line.rstrip("\r")
            if not line.strip():
                continue
            f5 = line.split("\t")
            if len(f5) != 5 or f5[0] not in ("0", "1"):
                raise RealDataError("%s:%d: bad row" % (path, n))
            rows.append((split, int(f5[0]), f5[3], f5[4]))
    return rows


def msrp(ctx):
    root = os.path.join(ctx.corpora, "msrp")
    files = [os.path.join(root, "msr_paraphrase_%s.txt" % s)
             for s in ("train", "test")]
    rows = msrp_rows(root)
    key = key_of(MSRP_VERSION, [sha256_file(p) for p in files])
    jsonl = os.path.join(ctx.cache, "msrp-%s.jsonl" % key)
    if not os.path.exists(jsonl):
        def write(f):
            for r, (_, _, s1, s2) in enumerate(rows):
                f.write(json.dumps({"id": "p%da" % r, "text": s1},
                                   ensure_ascii=False) + "\n")
                f.write(json.dumps({"id": "p%db" % r, "text": s2},
                                   ensure_ascii=False) + "\n")
        atomic_write(jsonl, write)
    ids = ["p%d%s" % (r, x) for r in range(len(rows)) for x in "ab"]
    sh = read_shingles(ctx.nd.run(["normalize", "--shingles", "--quiet",
                                   jsonl]).splitlines(True), ids)
    exact = []
    for r in range(len(rows)):
        a, b = set(sh[2 * r]), set(sh[2 * r + 1])
        u = len(a | b)
        exact.append(len(a & b) / u if u else 0.0)
    res = {"pairs": len(rows),
           "by_quality": {q: sum(1 for x in rows if x[1] == q)
                          for q in (0, 1)},
           "identical_shingle_sets": {
               q: sum(1 for r, x in enumerate(rows)
                      if x[1] == q and exact[r] == 1.0) for q in (0, 1)},
           "short_documents": sum(1 for s in sh if len(s) <= 1),
           "scans": {}}
    for T in (DEFAULT_T, 0.5):
        out = os.path.join(ctx.tmp, "msrp.jsonl")
        run = ctx.nd.timed(["scan", "--threshold", repr(T), jsonl], out)
        where = {}
        for c in load_scan(out):
            for i in c["ids"]:
                where[i] = c["cluster"]
        s = {"wall_s": run["wall_s"]}
        for q in (0, 1):
            idx = [r for r, x in enumerate(rows) if x[1] == q]
            rep = sum(1 for r in idx
                      if where.get("p%da" % r, -1) ==
                      where.get("p%db" % r, -2))
            ex = sum(1 for r in idx if exact[r] >= T)
            rep_ex = sum(1 for r in idx if exact[r] >= T and
                         where.get("p%da" % r, -1) ==
                         where.get("p%db" % r, -2))
            s[q] = {"pairs": len(idx), "reported": rep,
                    "reported_exact_j_ge_t": rep_ex,
                    "reported_share": rep / len(idx) if idx else None,
                    "exact_j_ge_t": ex,
                    "exact_share": ex / len(idx) if idx else None}
        res["scans"][repr(T)] = s
    return res


def msrp_markdown(res):
    L = ["### MSRP (sentence pairs: paraphrases and hard non-paraphrases)",
         ""]
    L.append("%s pairs (train + test; %s paraphrases, %s not), each written "
             "as two documents; a pair is reported when both sentences are "
             "in one cluster. %s pairs have identical shingle sets (%s of "
             "them non-paraphrases)." % (
                 fmt(res["pairs"]), fmt(res["by_quality"][1]),
                 fmt(res["by_quality"][0]),
                 fmt(sum(res["identical_shingle_sets"].values())),
                 fmt(res["identical_shingle_sets"][0])))
    L.append("")
    rows = []
    for T, s in res["scans"].items():
        for q, name in ((0, "non-paraphrase (0)"), (1, "paraphrase (1)")):
            x = s[q]
            rows.append(["%.1f" % float(T), name, fmt(x["pairs"]),
                         fmt(x["reported"]), fmt(x["reported_share"]),
                         fmt(x["exact_j_ge_t"]), fmt(x["exact_share"]),
                         fmt(x["reported_exact_j_ge_t"])])
    L += md_table(["T", "Quality", "pairs", "reported", "share reported",
                   "exact J ≥ T", "share exact J ≥ T",
                   "reported with J ≥ T"], rows)
    L.append("")
    L.append("The share of non-paraphrases reported is the false-positive "
             "rate on short, high-overlap sentences. Exact J is the Jaccard "
             "of the pair's two word-5-shingle sets: what a perfect "
             "detector at threshold T would report. A pair below T can still "
             "be reported when both sentences match a third one in the same "
             "cluster (a sentence occurs in several pairs).")
    L.append("")
    return L


# ---------------------------------------------------------------- main

class Ctx:
    pass


def _parser():
    p = argparse.ArgumentParser(
        prog="real-data",
        description="Evaluate neardup on the real data sets in "
                    "../shared/corpora (SaudiNewsNet, Clough-Stevenson, "
                    "MSRP); Markdown on stdout.")
    p.add_argument("--neardup", metavar="PATH",
                   help="neardup binary (default: build/neardup, then "
                        "neardup on PATH; see ndlib.find_neardup)")
    p.add_argument("--shared", metavar="DIR",
                   help="corpora folder or a folder holding corpora/ "
                        "(default: <repo>/../shared/corpora)")
    p.add_argument("--cache", metavar="DIR",
                   help="cache of derived data, kept in DIR/real-data "
                        "(default: ${XDG_CACHE_HOME:-~/.cache}/neardup)")
    p.add_argument("--quick", action="store_true",
                   help="skip the reference if not cached; only T=0.8")
    p.add_argument("--json", metavar="OUT", help="write all numbers here")
    return p


def main(argv=None):
    args = _parser().parse_args(argv)
    repo = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
    corpora = args.shared or os.path.join(repo, "..", "shared", "corpora")
    if os.path.isdir(os.path.join(corpora, "corpora")):
        corpora = os.path.join(corpora, "corpora")
    corpora = os.path.normpath(os.path.abspath(corpora))
    if not os.path.isdir(corpora):
        print("real-data: no corpora folder at %s; nothing to evaluate "
              "(skipped)" % corpora)
        return 0
    if args.cache:
        cache = args.cache
    else:
        cache = ndlib.cache_dir()
    cache = os.path.join(os.path.abspath(cache), "real-data")
    if cache == repo or cache.startswith(repo + os.sep):
        print("real-data: the cache must be outside the repository (%s)"
              % cache, file=sys.stderr)
        return 2
    try:
        os.makedirs(cache, exist_ok=True)
        ctx = Ctx()
        ctx.corpora, ctx.cache, ctx.quick = corpora, cache, args.quick
        with tempfile.TemporaryDirectory(prefix="neardup-real-") as tmp:
            ctx.tmp = tmp
            ctx.nd = Neardup(ndlib.find_neardup(args.neardup))
            log("neardup %s, corpora %s, cache %s" % (ctx.nd.path, corpora,
                                                      cache))
            profile = json.loads(ctx.nd.run(
                ["normalize", "--shingles", "--quiet", "-"],
                stdin=b'{"id":"x","text":"a b c d e"}\n'))
            results = {"quick": args.quick,
                       "profile": profile.get("profile"),
                       "shingle": profile.get("shingle"),
                       "parts": {}, "seconds": {}}
            md = ["## Real data", ""]
            md.append("Measured by `scripts/real-data%s` on the public data "
                      "sets in `../shared/corpora/` (not in the repository; "
                      "see their PROVENANCE.txt for sources and licences); "
                      "neardup profile %s, %s shingles unless stated, "
                      "`scan` with %d threads." % (
                          " --quick" if args.quick else "",
                          results["profile"], results["shingle"], THREADS))
            md.append("")
            parts = [("saudinewsnet", saudi, saudi_markdown),
                     ("clough-stevenson", clough, clough_markdown),
                     ("msrp", msrp, msrp_markdown)]
            for name, run, render in parts:
                if not os.path.isdir(os.path.join(corpora, name)):
                    log("%s: not found, skipped" % name)
                    md += ["### %s" % name, "", "Not found; skipped.", ""]
                    results["parts"][name] = None
                    continue
                t = time.monotonic()
                log("%s: start" % name)
                r = run(ctx)
                results["seconds"][name] = round(time.monotonic() - t, 2)
                results["parts"][name] = r
                md += render(r)
                log("%s: done in %.1f s" % (name, results["seconds"][name]))
            md.append("Run time of each part (s): " + ", ".join(
                "%s %.1f" % (k, v) for k, v in results["seconds"].items())
                + ".")
    except RealDataError as e:
        print("real-data: %s" % e, file=sys.stderr)
        return 1
    print("\n".join(md))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(results, f, indent=1, ensure_ascii=False)
            f.write("\n")
    return 0
