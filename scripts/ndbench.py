"""ndbench: speed and memory benchmark of neardup (logic of scripts/bench).

See scripts/bench for what is measured.  Conventions:

  * MB is 10^6 bytes.  End-to-end MB/s counts the bytes of the input file
    as stored (the JSON Lines file; for compressed inputs, the size of the
    uncompressed file, so the rates compare).  Signing MB/s (nd_bench_sign)
    counts the bytes of the decoded "text" fields.
  * Every process is measured by ndlib.measure(): wall time on a monotonic
    clock (finer than /usr/bin/time's 10 ms), peak RSS (KB) and user/system
    CPU seconds from /usr/bin/time -f '%M %U %S'.
  * `scan` output goes to a file in the work directory and is hashed;
    `dedup` output goes to /dev/null (its counts are checked from its
    --stats file), so disk speed is not measured.
  * Everything except timings, RSS and load is a function of the arguments:
    fixed seeds, fixed configuration order.
"""

import argparse
import concurrent.futures
import datetime
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time

import ndlib
import ndreal

SCHEMA = "neardup-bench/1"
ROOT = ndlib.ROOT
BENCH_BUILD = "build-bench"    # the build this script makes (with nd_bench_sign)

SEED = 1
SIGN_DOCS = 20000
SIGN_SCRIPTS = ("latin", "arabic", "cjk")
SIGN_INNER_REPEAT = 2          # nd_bench_sign keeps the best of these
# paragraph mode against document mode: generated corpora (kind, script,
# docs; the 100k one shows per-unit costs without the start-up of a 0.1 s
# run; CJK: paragraphs of text without spaces, signed with character
# shingles, the signing phase's corpus), and real news (SaudiNewsNet) when
# ../shared/corpora has it
PARA_CORPORA = (("syndicated", "latin", 10000), ("syndicated", "latin", 100000), ("mixed", "latin", 10000),
                ("mixed", "cjk", SIGN_DOCS))
QUICK_PARA_CORPORA = (("syndicated", "latin", 10000), ("mixed", "latin", 10000))
COMPRESSED_DOCS = 100000
DEFAULT_SIZES = (10000, 100000, 1000000)
QUICK_SIZES = (10000, 100000)
LINEARITY_BASE = 100000        # the issue: time/doc at the largest size
LINEARITY_TARGET = 1.5         #   <= 1.5 x time/doc at 100k
# runs per configuration: this VM's first touches of fresh memory are at
# times several times slower, so a median of 3 was often one slow run away
REPEAT = 5
PARAGRAPH_TARGET = 1.5         # scan --unit paragraph <= 1.5 x scan (issue #17)
RUN_TIMEOUT = 3600.0           # seconds per process
PHASES = ("sign", "e2e", "paragraph", "compressed")


log = ndlib.Logger("bench")


class Problems:
    """Failures and inconsistencies, reported at the end (exit status 1)."""

    def __init__(self):
        self.items = []

    def add(self, msg):
        log("PROBLEM: " + msg)
        self.items.append(msg)


# ------------------------------------------------------------ environment

def build_info(neardup):
    info = {"neardup": neardup, "version": None, "build_type": None,
            "compiler": None}
    rc, out = ndlib.capture([neardup, "--version"])
    info["version"] = out if rc == 0 and out else None
    cache = ndlib.read_text(os.path.join(os.path.dirname(neardup),
                                         "CMakeCache.txt"))
    m = re.search(r"^CMAKE_BUILD_TYPE:\w+=(.*)$", cache, re.M)
    if m:
        info["build_type"] = m.group(1).strip() or "(none)"
    m = re.search(r"^CMAKE_C_COMPILER:\w+=(.*)$", cache, re.M)
    if m:
        rc, out = ndlib.capture([m.group(1).strip(), "--version"])
        info["compiler"] = out.splitlines()[0] if rc == 0 and out else \
            m.group(1).strip()
    return info


def stale_sources(binary):
    """Source files (src/, CMakeLists.txt) newer than the binary: it may not
    be built from the tree whose commit is reported."""
    try:
        t = os.path.getmtime(binary)
    except OSError:
        return []
    newer = []
    paths = [os.path.join(ROOT, "CMakeLists.txt")]
    for d, _, files in os.walk(os.path.join(ROOT, "src")):
        paths += [os.path.join(d, f) for f in files
                  if f.endswith((".c", ".h"))]
    for f in sorted(paths):
        try:
            if os.path.getmtime(f) > t:
                newer.append(os.path.relpath(f, ROOT))
        except OSError:
            pass
    return newer


def programs(given, need_sign):
    """(neardup, nd_bench_sign): --neardup when given, else a Release build
    of this tree in build-bench/ configured with -DND_BUILD_BENCH=ON;
    nd_bench_sign from beside neardup, else built in build-bench/."""
    if given:
        neardup = ndlib.find_neardup(given)
    else:
        log("building neardup and nd_bench_sign in %s/ (Release, "
            "-DND_BUILD_BENCH=ON)" % BENCH_BUILD)
        neardup = os.path.join(ndlib.build(BENCH_BUILD,
                                           ["-DND_BUILD_BENCH=ON"]),
                               "neardup")
    sign = os.path.join(os.path.dirname(neardup), "nd_bench_sign")
    if need_sign and not os.access(sign, os.X_OK):
        log("building nd_bench_sign in %s/" % BENCH_BUILD)
        sign = os.path.join(ndlib.build(BENCH_BUILD, ["-DND_BUILD_BENCH=ON"],
                                        ["nd_bench_sign"]), "nd_bench_sign")
    return neardup, sign


# --------------------------------------------------------------- corpora

class Corpus:
    def __init__(self, kind, script, docs):
        self.kind, self.script, self.docs = kind, script, docs
        self.name = ndlib.corpus_name(docs, SEED, kind, script)
        self.dir = None
        self.info = {}

    @property
    def path(self):
        return os.path.join(self.dir, "docs.jsonl")

    @property
    def label(self):
        return "%s %s %s" % (fmt_count(self.docs), self.script, self.kind)


class RealCorpus:
    """A JSON Lines file of real documents (one per line), used as it is."""

    def __init__(self, name, label, path):
        self.name, self.label, self.kind, self.script = name, label, "real", None
        self._path = path
        with open(path, "rb") as f:
            self.docs = sum(1 for _ in f)
        self.info = {"bytes": os.path.getsize(path)}

    @property
    def path(self):
        return self._path


def ensure_corpus(c, work):
    """Generate corpus c under work/corpora unless a complete copy with the
    same parameters is there."""
    c.dir, c.info = ndlib.corpus(os.path.join(work, "corpora"), c.docs, SEED,
                                 c.kind, c.script, log)


def ensure_compressed(c, fmt):
    """docs.jsonl.gz (gzip -6 -n) or docs.jsonl.zst (zstd -3) next to the
    corpus, as `gzip -k` / `zstd -k` would make them; written to a temporary
    name and renamed, so a present file is complete."""
    ext = {"gzip": ".gz", "zstd": ".zst"}[fmt]
    out = c.path + ext
    if os.path.isfile(out) and os.path.getmtime(out) >= \
            os.path.getmtime(c.path):
        return out
    cmd = {"gzip": ["gzip", "-c", "-n", "-6", c.path],
           "zstd": ["zstd", "-c", "-q", "-3", c.path]}[fmt]
    log("compressing %s with %s ..." % (c.name, fmt))

    def write(f):
        p = subprocess.run(cmd, stdout=f, stderr=subprocess.PIPE)
        if p.returncode != 0:
            raise ndlib.Error("%s failed (exit %d): %s" % (
                " ".join(cmd), p.returncode,
                p.stderr.decode("utf-8", "replace")[-2000:]))
    ndlib.atomic_write(out, write, binary=True)
    return out


def warm(path):
    """Read a file once so that every timed run finds it in the page cache."""
    with open(path, "rb") as f:
        while f.read(1 << 22):
            pass


# ------------------------------------------------------------------ runs

def timed_run(neardup, args, stdout_path=None):
    """ndlib.run_neardup() of `neardup ARGS` (output to stdout_path, else
    /dev/null), plus the sha256 and size of the output; stderr is dropped
    (an error keeps its tail)."""
    res = ndlib.run_neardup(neardup, args, stdout_path, timeout=RUN_TIMEOUT)
    res.pop("stderr", None)
    if res["ok"] and stdout_path:
        res["stdout_sha256"] = ndlib.sha256_file(stdout_path)
        res["stdout_bytes"] = os.path.getsize(stdout_path)
    return res


def check_run(res, what, expect_docs, problems):
    if not res["ok"]:
        problems.add("%s failed: %s" % (what, res.get("error")))
        return
    got = res["stats"]["documents_read"]
    if got != expect_docs:
        res["ok"] = False
        res["error"] = "read %d documents, expected %d" % (got, expect_docs)
        problems.add("%s: %s" % (what, res["error"]))


def median_of(runs, key):
    vals = [r[key] for r in runs if r.get("ok") and r.get(key) is not None]
    return statistics.median(vals) if vals else None


def outcome_signature(res):
    """What must be equal across threads and repeats: scan output bytes, or
    dedup's counts."""
    if "stdout_sha256" in res:
        return res["stdout_sha256"]
    return json.dumps(ndlib.stats_outcome(res["stats"]), sort_keys=True)


def check_consistent(runs, what, problems):
    sigs = {outcome_signature(r) for r in runs if r.get("ok")}
    if len(sigs) > 1:
        problems.add("%s: output differs between runs (%d variants)"
                     % (what, len(sigs)))
        return False
    return True


def summarize(runs, extra=None):
    ok = [r for r in runs if r.get("ok")]
    d = {
        "runs": len(runs),
        "ok_runs": len(ok),
        "failed": len(runs) - len(ok),
        "wall_s_median": median_of(runs, "wall_s"),
        "wall_s_all": [r.get("wall_s") for r in runs],
        "rss_kb_median": median_of(runs, "rss_kb"),
        "rss_kb_max": max((r["rss_kb"] for r in ok), default=None),
        "cpu_s_median": statistics.median(
            [r["user_s"] + r["sys_s"] for r in ok]) if ok else None,
        "errors": [r.get("error") for r in runs if not r.get("ok")],
        "other_cores_median": median_of(runs, "other_cores"),
    }
    if ok:
        d["stats"] = ok[0]["stats"]
        if "stdout_sha256" in ok[0]:
            d["stdout_sha256"] = ok[0]["stdout_sha256"]
    if extra:
        d.update(extra)
    return d


# ------------------------------------------------------------- phases

def bench_sign(sign_bin, corpora, repeat, problems):
    log("signing throughput (%d x nd_bench_sign per corpus)" % repeat)
    raw = {c.script: [] for c in corpora}
    for c in corpora:
        warm(c.path)
    for r in range(repeat):
        for c in corpora:
            cmd = [sign_bin, c.path, str(SIGN_INNER_REPEAT)]
            p = subprocess.run(cmd, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
            rec = {"ok": False, "exit": p.returncode}
            if p.returncode == 0:
                try:
                    rec.update(json.loads(p.stdout.decode()))
                    rec["ok"] = True
                except ValueError:
                    rec["error"] = "bad output %r" % p.stdout[:200]
            else:
                rec["error"] = "exit %d: %s" % (
                    p.returncode, p.stderr.decode("utf-8", "replace")[-500:])
            if rec["ok"] and rec.get("docs") != c.docs:
                rec["ok"] = False
                rec["error"] = "read %s documents, expected %d" % (
                    rec.get("docs"), c.docs)
            if not rec["ok"]:
                problems.add("nd_bench_sign %s: %s" % (c.name, rec["error"]))
            raw[c.script].append(rec)
    out = []
    for c in corpora:
        runs = raw[c.script]
        ok = [x for x in runs if x["ok"]]
        out.append({
            "corpus": c.name, "script": c.script, "docs": c.docs,
            "text_bytes": ok[0]["bytes"] if ok else None,
            "runs": runs, "failed": len(runs) - len(ok),
            "tokenize_mb_s_median": statistics.median(
                [x["tokenize_mb_s"] for x in ok]) if ok else None,
            "sketch_mb_s_median": statistics.median(
                [x["sketch_mb_s"] for x in ok]) if ok else None,
        })
    return out


def scan_out_path(work, tag):
    d = os.path.join(work, "out")
    os.makedirs(d, exist_ok=True)
    return os.path.join(d, tag + ".jsonl")


def bench_e2e(neardup, corpora, threads_list, repeat, work, problems):
    results = []
    for c in corpora:
        warm(c.path)
        configs = [(cmd, t) for cmd in ("scan", "dedup")
                   for t in threads_list]
        runs = {k: [] for k in configs}
        log("end to end, %s docs: %d rounds of %s" % (
            fmt_count(c.docs), repeat,
            ", ".join("%s/%dt" % k for k in configs)))
        for r in range(repeat):
            for cmd, t in configs:
                out = scan_out_path(work, "e2e-%d-%s-%d" % (c.docs, cmd, t)) \
                    if cmd == "scan" else None
                res = timed_run(neardup, [cmd, "--threads", str(t), c.path],
                                out)
                what = "%s --threads %d on %s (round %d)" % (
                    cmd, t, c.name, r + 1)
                check_run(res, what, c.docs, problems)
                if res["ok"] and cmd == "dedup":
                    s = res["stats"]
                    if s["kept"] + s["removed"] != c.docs:
                        res["ok"] = False
                        res["error"] = "kept %d + removed %d != %d " \
                            "documents" % (s["kept"], s["removed"], c.docs)
                        problems.add("%s: %s" % (what, res["error"]))
                runs[(cmd, t)].append(res)
                log("  %s: %s" % (what, brief(res)))
        for cmd in ("scan", "dedup"):
            check_consistent([x for t in threads_list
                              for x in runs[(cmd, t)]],
                             "%s on %s across threads/rounds" % (cmd, c.name),
                             problems)
        for cmd, t in configs:
            s = summarize(runs[(cmd, t)], {
                "corpus": c.name, "docs": c.docs, "bytes": c.info["bytes"],
                "command": cmd, "threads": t})
            s["raw"] = runs[(cmd, t)]
            w = s["wall_s_median"]
            if w:
                s["docs_per_s"] = c.docs / w
                s["mb_per_s"] = c.info["bytes"] / 1e6 / w
                s["us_per_doc"] = w / c.docs * 1e6
            results.append(s)
    return results


def derive_e2e(e2e, threads_list):
    """Speedup 1 -> max threads, time per doc against the smallest size,
    the largest size against 100k."""
    by = {(x["command"], x["threads"], x["docs"]): x for x in e2e}
    sizes = sorted({x["docs"] for x in e2e})
    tmax = max(threads_list)
    speed, lin = [], []
    for cmd in ("scan", "dedup"):
        for n in sizes:
            a, b = by.get((cmd, 1, n)), by.get((cmd, tmax, n))
            if a and b and a["wall_s_median"] and b["wall_s_median"] \
                    and tmax > 1:
                speed.append({"command": cmd, "docs": n, "threads": tmax,
                              "speedup": a["wall_s_median"] /
                              b["wall_s_median"],
                              "cpu_util": b["cpu_s_median"] /
                              b["wall_s_median"]})
        for t in threads_list:
            base = by.get((cmd, t, sizes[0]))
            ref = by.get((cmd, t, LINEARITY_BASE))
            for n in sizes:
                x = by.get((cmd, t, n))
                if not (x and x.get("us_per_doc")):
                    continue
                e = {"command": cmd, "threads": t, "docs": n,
                     "us_per_doc": x["us_per_doc"],
                     "rss_bytes_per_doc": x["rss_kb_median"] * 1024 / n}
                if base and base.get("us_per_doc"):
                    e["vs_smallest"] = x["us_per_doc"] / base["us_per_doc"]
                if ref and ref.get("us_per_doc"):
                    e["vs_100k"] = x["us_per_doc"] / ref["us_per_doc"]
                lin.append(e)
    largest = sizes[-1] if sizes else None
    verdict = []
    if largest and largest > LINEARITY_BASE:
        for e in lin:
            if e["docs"] == largest and "vs_100k" in e:
                verdict.append({"command": e["command"],
                                "threads": e["threads"],
                                "docs": largest, "ratio": e["vs_100k"],
                                "target": LINEARITY_TARGET,
                                "pass": e["vs_100k"] <= LINEARITY_TARGET})
    return speed, lin, verdict


def split_lines(path, lines, parts, out_dir):
    """Cut the JSON Lines file at path (`lines` lines) into `parts` files of
    consecutive lines (as even as whole lines allow) in out_dir; their
    paths."""
    os.makedirs(out_dir, exist_ok=True)
    paths, start = [], 0
    with open(path, "rb") as f:
        for k in range(parts):
            end = lines * (k + 1) // parts
            out = os.path.join(out_dir, "part-%d-of-%d.jsonl" % (k + 1, parts))
            with open(out, "wb") as o:
                for _ in range(end - start):
                    o.write(f.readline())
            paths.append(out)
            start = end
    return paths


def bench_ceiling(neardup, c, parts, repeat, work, problems):
    """What the machine itself gives `parts` cores on this work: the corpus
    cut into `parts` pieces, each scanned by a `--threads 1` process alone,
    then all of them at once (one process a core), round by round. A piece
    that runs slower beside the others than alone shows what the cores
    share (memory, caches, the host's backing of fresh memory on a VM),
    which no program's threads escape; the ceiling is the sum of the
    pieces' times alone over the longest of them at once: the speedup of
    perfectly parallel work with nothing shared but the machine."""
    paths = split_lines(c.path, c.docs, parts,
                        os.path.join(work, "out", "ceiling"))
    for q in paths:
        warm(q)
    rounds = []
    log("ceiling, %s docs in %d pieces: %d rounds of each piece alone, then "
        "all at once" % (fmt_count(c.docs), parts, repeat))
    with concurrent.futures.ThreadPoolExecutor(max_workers=parts) as pool:
        for r in range(repeat):
            alone = [timed_run(neardup, ["scan", "--threads", "1", q])
                     for q in paths]
            together = list(pool.map(
                lambda q: timed_run(neardup, ["scan", "--threads", "1", q]),
                paths))
            runs = alone + together
            bad = [x for x in runs if not x["ok"]]
            for x in bad:
                problems.add("ceiling round %d on %s: %s" % (
                    r + 1, c.name, x.get("error")))
            if bad:
                continue
            a = [x["wall_s"] for x in alone]
            t = [x["wall_s"] for x in together]
            rounds.append({"alone_s": a, "together_s": t,
                           "ceiling": sum(a) / max(t),
                           "slowdown": statistics.median(
                               y / x for x, y in zip(a, t))})
            log("  round %d: alone %s s, at once %s s: ceiling %.2fx" % (
                r + 1, " + ".join("%.2f" % x for x in a),
                " | ".join("%.2f" % x for x in t), rounds[-1]["ceiling"]))
    shutil.rmtree(os.path.join(work, "out", "ceiling"), ignore_errors=True)
    if not rounds:
        return None
    return {"corpus": c.name, "docs": c.docs, "parts": parts,
            "rounds": rounds,
            "ceiling_median": statistics.median(x["ceiling"] for x in rounds),
            "slowdown_median": statistics.median(x["slowdown"]
                                                 for x in rounds)}


def bench_paragraph(neardup, corpora, threads_list, repeat, work, problems):
    configs = [(c, t, u) for c in corpora for t in threads_list
               for u in ("document", "paragraph")]
    runs = {(c.name, t, u): [] for c, t, u in configs}
    for c in corpora:
        warm(c.path)
    log("paragraph vs document: %d rounds of %d runs" % (repeat,
                                                         len(configs)))
    for r in range(repeat):
        for c, t, u in configs:
            args = ["scan", "--threads", str(t)]
            if u != "document":
                args += ["--unit", u]
            args.append(c.path)
            out = scan_out_path(work, "para-%s-%s-%d" % (c.name, u, t))
            res = timed_run(neardup, args, out)
            what = "scan --unit %s --threads %d on %s (round %d)" % (
                u, t, c.name, r + 1)
            check_run(res, what, c.docs, problems)
            runs[(c.name, t, u)].append(res)
            log("  %s: %s" % (what, brief(res)))
    out = []
    for c in corpora:
        for u in ("document", "paragraph"):
            check_consistent([x for t in threads_list
                              for x in runs[(c.name, t, u)]],
                             "scan --unit %s on %s across threads/rounds"
                             % (u, c.name), problems)
        for t in threads_list:
            d = summarize(runs[(c.name, t, "document")])
            p = summarize(runs[(c.name, t, "paragraph")])
            e = {"corpus": c.name, "label": c.label, "kind": c.kind,
                 "docs": c.docs,
                 "bytes": c.info["bytes"], "threads": t,
                 "document": d, "paragraph": p,
                 "raw": {"document": runs[(c.name, t, "document")],
                         "paragraph": runs[(c.name, t, "paragraph")]}}
            if d["wall_s_median"] and p["wall_s_median"]:
                e["ratio"] = p["wall_s_median"] / d["wall_s_median"]
                e["cpu_ratio"] = p["cpu_s_median"] / d["cpu_s_median"]
                e["target"] = PARAGRAPH_TARGET
                e["pass"] = e["ratio"] <= PARAGRAPH_TARGET
            out.append(e)
    return out


def bench_compressed(neardup, c, threads, repeat, work, problems):
    files = {"plain": c.path,
             "gzip": ensure_compressed(c, "gzip"),
             "zstd": ensure_compressed(c, "zstd")}
    for f in files.values():
        warm(f)
    variants = ("plain", "gzip", "zstd")
    runs = {v: [] for v in variants}
    decomp = {"gzip": [], "zstd": []}
    log("compressed input, %s docs: %d rounds" % (fmt_count(c.docs), repeat))
    for r in range(repeat):
        for v in variants:
            res = timed_run(neardup, ["scan", "--threads", str(threads),
                                      files[v]],
                            scan_out_path(work, "comp-%s" % v))
            what = "scan --threads %d on %s (%s, round %d)" % (
                threads, c.name, v, r + 1)
            check_run(res, what, c.docs, problems)
            runs[v].append(res)
            log("  %s: %s" % (what, brief(res)))
        for v in ("gzip", "zstd"):
            # the decompressor alone, for reference
            res = ndlib.measure([v, "-dc", files[v]], timeout=RUN_TIMEOUT)
            res.pop("stderr", None)
            res["ok"] = "error" not in res
            if not res["ok"]:
                problems.add("%s -dc %s: %s" % (v, files[v], res["error"]))
            decomp[v].append(res)
    check_consistent([x for v in variants for x in runs[v]],
                     "scan on %s across plain/gzip/zstd" % c.name, problems)
    out = []
    plain = summarize(runs["plain"])
    for v in variants:
        s = summarize(runs[v], {"format": v, "file": files[v],
                                "file_bytes": os.path.getsize(files[v]),
                                "docs": c.docs, "threads": threads})
        s["raw"] = runs[v]
        if s["wall_s_median"]:
            s["mb_per_s"] = c.info["bytes"] / 1e6 / s["wall_s_median"]
            if plain["wall_s_median"]:
                s["vs_plain"] = s["wall_s_median"] / plain["wall_s_median"]
        if v in decomp:
            s["decompress_only_s_median"] = median_of(decomp[v], "wall_s")
        out.append(s)
    return out


# ------------------------------------------------------------ formatting

def fmt_count(n):
    if n >= 1000000 and n % 1000000 == 0:
        return "%dM" % (n // 1000000)
    if n >= 1000 and n % 1000 == 0:
        return "%dk" % (n // 1000)
    return str(n)


def fmt_num(x, digits=None):
    if x is None:
        return "FAILED"
    if digits is None:
        digits = 0 if abs(x) >= 100 else (1 if abs(x) >= 10 else 2)
    return "{:,.{}f}".format(x, digits)


def fmt_time(x):
    if x is None:
        return "FAILED"
    return "%.3f" % x if x < 10 else "%.1f" % x


def fmt_mb(kb):
    return "FAILED" if kb is None else "%.0f" % (kb / 1024)


def fmt_bg(x):
    return "?" if x is None else "%.2f" % x


def brief(res):
    if not res.get("ok"):
        return "FAILED (%s)" % res.get("error")
    return "%.3f s, %d MB, bg %s cores" % (
        res["wall_s"], res["rss_kb"] // 1024, fmt_bg(res.get("other_cores")))


def failed_note(d):
    return " (%d of %d runs failed)" % (d["failed"], d["runs"]) \
        if d.get("failed") else ""


def runs_at_largest(e2e):
    """Every run at the largest size, wall and CPU seconds in the order run:
    a median hides a spread (on a shared 2-core VM, runs with two threads
    come in two modes whose CPU seconds differ), and the speedup depends on
    it."""
    largest = max(x["docs"] for x in e2e)
    parts = []
    for x in e2e:
        runs = [r for r in x.get("raw") or [] if r.get("ok")]
        if x["docs"] != largest or not runs:
            continue
        parts.append("%s with %d thread%s: %s" % (
            x["command"], x["threads"], "" if x["threads"] == 1 else "s",
            ", ".join("%.2f / %.2f" % (r["wall_s"], r["user_s"] + r["sys_s"])
                      for r in runs)))
    if not parts:
        return []
    return ["Every run at %s (wall s / CPU s, in the order run): %s." % (
        fmt_count(largest), "; ".join(parts)), ""]


def speedup_spread(e2e):
    """The speedup at the largest size from the single runs as well as the
    medians: round by round (each round runs every configuration in turn,
    so a round's two runs met the same moment of the machine), and best
    against best (each configuration's fastest run, the one least held up;
    on this project's VM a one-thread run lasts long enough to reach
    memory the host has taken back, which a two-thread run mostly does
    not, so the medians can even pass 2x on two cores)."""
    largest = max(x["docs"] for x in e2e)
    tmax = max(x["threads"] for x in e2e)
    if tmax < 2:
        return []
    walls = {}
    for x in e2e:
        runs = [r["wall_s"] for r in x.get("raw") or [] if r.get("ok")]
        if x["docs"] == largest and runs:
            walls[(x["command"], x["threads"])] = runs
    parts = []
    for cmd in ("scan", "dedup"):
        one, many = walls.get((cmd, 1)), walls.get((cmd, tmax))
        if not one or not many or len(one) != len(many):
            continue
        rounds = [a / b for a, b in zip(one, many)]
        parts.append("%s %s (median %.2fx), best against best %.2fx" % (
            cmd, ", ".join("%.2fx" % r for r in rounds), statistics.median(rounds), min(one) / min(many)))
    if not parts:
        return []
    return ["The speedup at %s from the same runs, round by round (1 thread over %d in each round): %s." % (
        fmt_count(largest), tmax, "; ".join(parts)), ""]


def ceiling_lines(ce, speedup):
    """The machine's ceiling for the thread speedup (bench_ceiling), its
    spread over the rounds, and neardup's speedup at the same size."""
    if not ce:
        return []
    own = {x["command"]: x["speedup"] for x in speedup
           if x["docs"] == ce["docs"] and x["threads"] == ce["parts"]}
    ceilings = [x["ceiling"] for x in ce["rounds"]]
    line = ("Ceiling of this machine at %s: the corpus cut into %d pieces, "
            "each scanned by a `--threads 1` process alone and then all at "
            "once, one a core; a round's ceiling is the pieces' times alone "
            "added up over the longest at once, the speedup of perfectly "
            "parallel work with nothing shared but the machine. A piece ran "
            "%.0f%% slower beside the others (median of %d rounds), and the "
            "ceiling was %.2fx (median), %.2fx to %.2fx over the rounds (%s)"
            % (fmt_count(ce["docs"]), ce["parts"],
               (ce["slowdown_median"] - 1) * 100, len(ce["rounds"]),
               ce["ceiling_median"], min(ceilings), max(ceilings),
               ", ".join("%.2fx" % x for x in ceilings)))
    if own:
        line += ("; neardup's speedup with %d threads in the same run: %s. "
                 "A spread that wide is the machine's (the state of the VM's "
                 "memory, see the floor section), and a median of this many "
                 "runs of either is only an estimate." % (
                     ce["parts"], ", ".join(
                         "%s %.2fx" % (cmd, own[cmd])
                         for cmd in ("scan", "dedup") if cmd in own)))
    else:
        line += "."
    return [line, ""]


def markdown(rep):
    m, b, p = rep["machine"], rep["build"], rep["params"]
    L = ["## Speed and memory", ""]
    mem_gb = m["mem_total_kb"] / 1024 / 1024 if m["mem_total_kb"] else 0
    L.append("Measured by `scripts/bench%s` on %s: %d cores (`nproc`), %s, "
             "%.1f GB RAM, Linux %s; commit `%s`, %s (%s build%s). "
             "Load average %s at the start, %s at the end; "
             "the script ran %.0f s." % (
                 p["argv_summary"], rep["date"], m["nproc"], m["cpu_model"],
                 mem_gb, m["kernel"], rep["commit"], b["version"] or "?",
                 b["build_type"] or "unknown",
                 ", " + b["compiler"] if b["compiler"] else "",
                 "/".join("%.2f" % x for x in rep["load_start"]),
                 "/".join("%.2f" % x for x in rep["load_end"]),
                 rep["runtime_s"]))
    L.append("")
    if rep.get("stale_sources"):
        L.append("**Warning:** the neardup binary is older than %d source "
                 "file(s) (%s): it may not match the commit above." % (
                     len(rep["stale_sources"]),
                     ", ".join(rep["stale_sources"][:5])))
        L.append("")
    L.append("Every figure is the median of %d runs; configurations that are "
             "compared were run interleaved, round by round. MB = 10^6 bytes "
             "of the JSON Lines input (signing: of the texts). Corpora come "
             "from `scripts/gen-corpus` (seed %d; mixed = ~1 KB documents, "
             "30%% in near-duplicate groups). Wall time is per process; "
             "peak RSS from `/usr/bin/time -f %%M`." % (p["repeat"], SEED))
    L.append("")

    if rep.get("signing"):
        L += ["### Signing throughput, one core", "",
              "`nd_bench_sign`: tokenize = normalization and cutting into "
              "words, as `neardup scan` does it (runs of scripts without "
              "spaces left whole where they are shingled by characters: "
              "ICU's word breaking skipped); "
              "sketch = tokenize + shingles + MinHash (%d hashes), "
              "best of %d passes in one process." % (128, SIGN_INNER_REPEAT),
              "",
              "| corpus | docs | text MB | tokenize MB/s | sketch MB/s "
              "| sketch docs/s |",
              "| --- | ---: | ---: | ---: | ---: | ---: |"]
        for s in rep["signing"]:
            mb = s["text_bytes"] / 1e6 if s["text_bytes"] else None
            dps = s["sketch_mb_s_median"] * 1e6 / s["text_bytes"] * s["docs"] \
                if s["sketch_mb_s_median"] and s["text_bytes"] else None
            L.append("| %s mixed%s | %s | %s | %s | %s | %s |" % (
                s["script"], " (%d of %d runs failed)" % (
                    s["failed"], len(s["runs"])) if s["failed"] else "",
                fmt_num(s["docs"], 0), fmt_num(mb, 1),
                fmt_num(s["tokenize_mb_s_median"], 1),
                fmt_num(s["sketch_mb_s_median"], 1), fmt_num(dps, 0)))
        L.append("")

    if rep.get("end_to_end"):
        tmax = max(p["threads"])
        L += ["### End to end", "",
              "`neardup scan` (output to a file) and `neardup dedup` "
              "(output to /dev/null) on mixed latin corpora.", "",
              "| docs | input MB | command | threads | wall s | docs/s "
              "| MB/s | CPU s | peak RSS MB | speedup | bg cores |",
              "| ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: "
              "| ---: | ---: |"]
        sp = {(x["command"], x["docs"]): x for x in rep["speedup"]}
        for x in rep["end_to_end"]:
            s = sp.get((x["command"], x["docs"]))
            spd = "%.2fx" % s["speedup"] if s and x["threads"] == tmax \
                else ""
            L.append("| %s | %s | %s | %d | %s%s | %s | %s | %s | %s | %s "
                     "| %s |"
                     % (fmt_count(x["docs"]), fmt_num(x["bytes"] / 1e6, 0),
                        x["command"], x["threads"],
                        fmt_time(x["wall_s_median"]), failed_note(x),
                        fmt_num(x.get("docs_per_s"), 0),
                        fmt_num(x.get("mb_per_s"), 1),
                        fmt_time(x["cpu_s_median"]),
                        fmt_mb(x["rss_kb_median"]), spd,
                        fmt_bg(x["other_cores_median"])))
        L.append("")
        L.append("CPU s = user + system time of the process. Speedup = "
                 "wall time with 1 thread / with %d threads (`--threads 1` "
                 "runs everything on one thread; with N, the main thread "
                 "reads, commits and sketches alongside N - 1 workers). "
                 "bg cores = "
                 "cores kept busy by other processes during the runs (from "
                 "/proc/stat); above ~0.3 the thread speedup is "
                 "understated. Time per document against the smallest "
                 "size (and, for the largest, against 100k; target <= %.1fx):"
                 % (tmax, LINEARITY_TARGET))
        L.append("")
        L += runs_at_largest(rep["end_to_end"])
        L += speedup_spread(rep["end_to_end"])
        L += ceiling_lines(rep.get("ceiling"), rep["speedup"])
        sizes = sorted({x["docs"] for x in rep["linearity"]})
        L.append("| command | threads | " + " | ".join(
            "%s: us/doc (x)" % fmt_count(n) for n in sizes) +
            " | RSS bytes/doc at %s |" % fmt_count(sizes[-1]))
        L.append("| --- | ---: |" + " ---: |" * (len(sizes) + 1))
        lin = {(x["command"], x["threads"], x["docs"]): x
               for x in rep["linearity"]}
        for cmd in ("scan", "dedup"):
            for t in p["threads"]:
                cells = []
                for n in sizes:
                    e = lin.get((cmd, t, n))
                    if not e:
                        cells.append("FAILED")
                        continue
                    c = "%.1f (%.2fx)" % (e["us_per_doc"],
                                          e.get("vs_smallest", float("nan")))
                    if n == sizes[-1] and n > LINEARITY_BASE and \
                            "vs_100k" in e:
                        c += "; %.2fx vs 100k" % e["vs_100k"]
                    cells.append(c)
                e = lin.get((cmd, t, sizes[-1]))
                L.append("| %s | %d | %s | %s |" % (
                    cmd, t, " | ".join(cells),
                    fmt_num(e["rss_bytes_per_doc"], 0) if e else "FAILED"))
        L.append("")
        if rep["linearity_verdict"]:
            bad = [v for v in rep["linearity_verdict"] if not v["pass"]]
            L.append("Linearity target (time/doc at %s <= %.1fx that at "
                     "100k): %s." % (
                         fmt_count(rep["linearity_verdict"][0]["docs"]),
                         LINEARITY_TARGET,
                         "met by every command and thread count" if not bad
                         else "MISSED by " + ", ".join(
                             "%s/%d threads (%.2fx)" % (
                                 v["command"], v["threads"], v["ratio"])
                             for v in bad)))
            L.append("")

    if rep.get("paragraph"):
        L += ["### Paragraph mode", "",
              "`scan --unit paragraph` against `scan` (document mode) on the "
              "same corpus (target <= %.1fx)." % PARAGRAPH_TARGET, "",
              "| corpus | threads | scan s | --unit paragraph s | ratio "
              "| CPU ratio | peak RSS MB (doc / para) | bg cores |",
              "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for e in rep["paragraph"]:
            L.append("| %s | %d | %s%s | %s%s | %s | %s | %s / %s "
                     "| %s |" % (
                e["label"], e["threads"],
                fmt_time(e["document"]["wall_s_median"]),
                failed_note(e["document"]),
                fmt_time(e["paragraph"]["wall_s_median"]),
                failed_note(e["paragraph"]),
                "%.2fx%s" % (e["ratio"], "" if e["pass"] else " (over)")
                if "ratio" in e else "FAILED",
                "%.2fx" % e["cpu_ratio"] if "cpu_ratio" in e else "FAILED",
                fmt_mb(e["document"]["rss_kb_median"]),
                fmt_mb(e["paragraph"]["rss_kb_median"]),
                fmt_bg(e["paragraph"]["other_cores_median"])))
        L.append("")

    if rep.get("compressed"):
        c0 = rep["compressed"][0]
        L += ["### Compressed input", "",
              "`neardup scan --threads %d` on the %s mixed corpus, plain and "
              "compressed (`gzip -6`, `zstd -3`); MB/s of the uncompressed "
              "JSON Lines. \"decompress only\" is `gzip -dc` / `zstd -dc` to "
              "/dev/null." % (c0["threads"], fmt_count(c0["docs"])), "",
              "| input | file MB | wall s | MB/s | vs plain | peak RSS MB "
              "| decompress only s | bg cores |",
              "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for s in rep["compressed"]:
            L.append("| %s | %s | %s%s | %s | %s | %s | %s | %s |" % (
                {"plain": ".jsonl", "gzip": ".jsonl.gz",
                 "zstd": ".jsonl.zst"}[s["format"]],
                fmt_num(s["file_bytes"] / 1e6, 1),
                fmt_time(s["wall_s_median"]), failed_note(s),
                fmt_num(s.get("mb_per_s"), 1),
                "%.2fx" % s["vs_plain"] if "vs_plain" in s else "FAILED",
                fmt_mb(s["rss_kb_median"]),
                fmt_time(s["decompress_only_s_median"])
                if "decompress_only_s_median" in s else "",
                fmt_bg(s["other_cores_median"])))
        L.append("")

    if rep["problems"]:
        L += ["### Problems", ""]
        L += ["- " + x for x in rep["problems"]]
        L.append("")
    return "\n".join(L)


# ------------------------------------------------------------------ main

def parse_sizes(s):
    try:
        sizes = sorted({int(x) for x in s.split(",") if x.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError("expected comma-separated integers")
    if not sizes or sizes[0] < 1:
        raise argparse.ArgumentTypeError("sizes must be >= 1")
    return sizes


def parse_phases(s):
    ph = [x.strip() for x in s.split(",") if x.strip()]
    for x in ph:
        if x not in PHASES:
            raise argparse.ArgumentTypeError(
                "unknown phase %r (choose from %s)" % (x, ",".join(PHASES)))
    return ph


def parse_args(argv):
    ap = argparse.ArgumentParser(
        prog="bench",
        description="Speed and memory benchmark of neardup; prints a "
                    "Markdown section for RESULTS.md (see scripts/bench).")
    ap.add_argument("--neardup", metavar="PATH",
                    help="neardup program (default: build and use "
                         "build-bench/neardup); nd_bench_sign is taken from "
                         "the same directory, else built in build-bench/")
    ap.add_argument("--quick", action="store_true",
                    help="sizes 10k and 100k only, paragraph mode at all "
                         "cores only (about 2 minutes)")
    ap.add_argument("--sizes", type=parse_sizes, metavar="N,N,...",
                    help="end-to-end corpus sizes (default 10000,100000,"
                         "1000000; --quick: 10000,100000)")
    ap.add_argument("--repeat", type=int, default=REPEAT, metavar="N",
                    help="runs per configuration, median reported "
                         "(default %d)" % REPEAT)
    ap.add_argument("--work", metavar="DIR",
                    help="corpora and scratch output (default "
                         "${XDG_CACHE_HOME:-~/.cache}/neardup/bench)")
    ap.add_argument("--json", metavar="OUT",
                    help="write every number (and every run) as JSON")
    ap.add_argument("--shared", metavar="DIR",
                    help="corpora folder with saudinewsnet/ (default "
                         "<repo>/../shared/corpora; skipped when absent)")
    ap.add_argument("--phases", type=parse_phases, default=list(PHASES),
                    metavar="LIST",
                    help="subset of %s (default all)" % ",".join(PHASES))
    args = ap.parse_args(argv)
    if args.repeat < 1:
        ap.error("--repeat must be >= 1")
    if args.sizes is None:
        args.sizes = list(QUICK_SIZES if args.quick else DEFAULT_SIZES)
    if args.work is None:
        args.work = ndlib.cache_dir("bench")
    return args


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        return run_bench(args)
    except ndlib.Error as e:
        log("error: %s" % e)
        return 1


def run_bench(args):
    t_start = time.monotonic()
    for tool in [ndlib.TIME] + (["gzip", "zstd"]
                                if "compressed" in args.phases else []):
        if not shutil.which(tool):
            raise SystemExit("bench: %s not found" % tool)
    work = os.path.abspath(args.work)
    os.makedirs(work, exist_ok=True)
    problems = Problems()

    neardup, sign_bin = programs(args.neardup, "sign" in args.phases)
    machine = ndlib.machine_info()
    threads_list = [1] if machine["nproc"] <= 1 else [1, machine["nproc"]]
    argv_summary = ""
    if args.quick:
        argv_summary += " --quick"
    if args.sizes != list(QUICK_SIZES if args.quick else DEFAULT_SIZES):
        argv_summary += " --sizes " + ",".join(map(str, args.sizes))
    if args.repeat != REPEAT:
        argv_summary += " --repeat %d" % args.repeat
    if args.phases != list(PHASES):
        argv_summary += " --phases " + ",".join(args.phases)
    rep = {
        "schema": SCHEMA,
        "date": datetime.date.today().isoformat(),
        "machine": machine,
        "commit": ndlib.git_commit(),
        "build": build_info(neardup),
        "params": {"quick": args.quick, "sizes": args.sizes,
                   "repeat": args.repeat, "phases": args.phases,
                   "threads": threads_list, "seed": SEED, "work": work,
                   "argv_summary": argv_summary},
        "load_start": list(os.getloadavg()),
    }
    rep["stale_sources"] = stale_sources(neardup)
    if rep["stale_sources"]:
        log("warning: %s is older than %s (rebuild?)" % (
            neardup, ", ".join(rep["stale_sources"])))
    if rep["build"]["build_type"] not in (None, "Release"):
        log("warning: %s is a %s build, not Release" % (
            neardup, rep["build"]["build_type"]))
    log("neardup %s at %s, commit %s, %d cores" % (
        rep["build"]["version"], neardup, rep["commit"], machine["nproc"]))

    # every corpus first, so the timed phases run back to back
    plan = {}

    def want(kind, script, docs):
        c = Corpus(kind, script, docs)
        return plan.setdefault(c.name, c)

    sign_c = [want("mixed", s, SIGN_DOCS) for s in SIGN_SCRIPTS] \
        if "sign" in args.phases else []
    e2e_c = [want("mixed", "latin", n) for n in args.sizes] \
        if "e2e" in args.phases else []
    para_c = [want(k, script, n) for k, script, n in (
        QUICK_PARA_CORPORA if args.quick else PARA_CORPORA)] \
        if "paragraph" in args.phases else []
    comp_c = want("mixed", "latin", COMPRESSED_DOCS) \
        if "compressed" in args.phases else None
    for c in sorted(plan.values(), key=lambda c: (c.docs, c.name)):
        ensure_corpus(c, work)
    rep["corpora"] = {c.name: dict(c.info, path=c.path)
                      for c in sorted(plan.values(), key=lambda c: c.name)}
    if para_c:
        shared = os.path.normpath(args.shared or os.path.join(
            ROOT, "..", "shared", "corpora"))
        news = ndreal.saudi_corpus(shared, ndlib.cache_dir("floor"), log)
        if news:
            para_c.append(RealCorpus("saudinewsnet", "SaudiNewsNet (real "
                                     "news)", news))
        else:
            log("no SaudiNewsNet under %s: paragraph mode on generated "
                "corpora only" % shared)

    if sign_c:
        rep["signing"] = bench_sign(sign_bin, sign_c, args.repeat, problems)
    if e2e_c:
        rep["end_to_end"] = bench_e2e(neardup, e2e_c, threads_list,
                                      args.repeat, work, problems)
        rep["speedup"], rep["linearity"], rep["linearity_verdict"] = \
            derive_e2e(rep["end_to_end"], threads_list)
        if max(threads_list) > 1:
            rep["ceiling"] = bench_ceiling(neardup, e2e_c[-1],
                                           max(threads_list), args.repeat,
                                           work, problems)
    if para_c:
        # --quick: all cores only (the default setting)
        para_threads = threads_list[-1:] if args.quick else threads_list
        rep["paragraph"] = bench_paragraph(neardup, para_c, para_threads,
                                           args.repeat, work, problems)
    if comp_c:
        rep["compressed"] = bench_compressed(neardup, comp_c,
                                             max(threads_list), args.repeat,
                                             work, problems)
    shutil.rmtree(os.path.join(work, "out"), ignore_errors=True)
    rep["load_end"] = list(os.getloadavg())
    rep["runtime_s"] = round(time.monotonic() - t_start, 1)
    rep["problems"] = problems.items
    md = markdown(rep)
    sys.stdout.write(md + "\n")
    sys.stdout.flush()
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rep, f, indent=1, sort_keys=True)
            f.write("\n")
    log("done in %.0f s%s" % (rep["runtime_s"], ", %d problem(s)" % len(
        problems.items) if problems.items else ""))
    return 1 if problems.items else 0
