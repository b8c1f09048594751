"""ndfloor: neardup against the ICU floor (logic of scripts/floor).

The floor is what every ICU-based tokenizer pays before it does anything of
its own: UTF-8 to UTF-16, NFKC_Casefold, and one pass cutting the result into
runs of letters, marks and numbers.  tests/bench/bench_floor.c (nd_bench_floor,
built with -DND_BUILD_BENCH=ON) times it on the "text" of every record of a
JSON Lines file, decoded before the clock starts, and in the same process
times neardup's signing (normalize, shingle, MinHash) on the same texts,
interleaved chunk by chunk.

For each corpus, round by round (so that load from other processes hits both
alike), this script runs
  1. nd_bench_floor FILE: floor seconds and signing seconds on the texts;
  2. neardup scan --threads 1 FILE: the whole process (reading and decoding
     JSON, signing, indexing, clustering, writing), wall time;
and reports, as medians over the rounds,
  end to end / floor = floor seconds / scan seconds   (issue #17: >= 1.0 for
                       Latin, Arabic, Cyrillic; >= 0.5 for CJK)
  signing / floor    = floor seconds / signing seconds (>= 2 for Latin and
                       Arabic)
both throughputs over the same texts: above 1, neardup is faster.

Where the time goes: `perf record` (software clock, no hardware counters
needed) on one `scan --threads 1` per corpus, its samples grouped by function
into stages (STAGES below); when perf cannot run, callgrind instruction
counts of a scan of the corpus's first 2,000 records instead (always works,
slower, counts instructions rather than time).  The same perf grouping, in
seconds of samples, for `scan` and `scan --unit paragraph` on the syndicated
corpus scripts/bench times both on (100,000 documents; 10,000 with --quick):
where paragraph mode's extra time goes (issue #17: at most 1.5x).  Only with
perf; left out when it cannot run.

Corpora: scripts/gen-corpus mixed documents in latin, arabic, cyrillic,
cjk and thai (cached by ndlib.corpus), and SaudiNewsNet (real Arabic news) when
../shared/corpora/saudinewsnet is there (converted as scripts/real-data
does; skipped cleanly otherwise).  Markdown goes to stdout, progress to
stderr; --json keeps the numbers.
"""

import argparse
import collections
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile

import ndlib
import ndreal

SCRIPTS = ("latin", "arabic", "cyrillic", "cjk", "thai")
SEED = 1
DOCS = 50000
QUICK_DOCS = 10000
# paragraph mode against document mode, where the time goes: the syndicated
# corpus scripts/bench times both on (the same parameters, the same place)
PARA_DOCS = 100000
PARA_ROUNDS = 3
ROUNDS = 5
CALLGRIND_DOCS = 2000
TARGETS = {"latin": 1.0, "arabic": 1.0, "cyrillic": 1.0, "cjk": 0.5, "saudinewsnet": 1.0}
SIGN_TARGETS = {"latin": 2.0, "arabic": 2.0}

# Stages, by function name (the first pattern that matches wins); anything
# else is "other".  Names are those of the Release build: static functions
# inlined into their caller count for the caller.
STAGES = (
    ("start-up (loading, fold table, banding search)", r"^build_tables|^nd_fold_entry_of|^nd_lsh_choose|^simpson|"
                                                        r"^error_floor|pow|^nd_minhash_tables_new|^is_plain|"
                                                        r"^_dl_|^dl_main|^do_lookup_x|^check_match|"
                                                        r"^__libc_early_init|^get_available_features"),
    ("ICU (normalization, word breaking)", r"icu_|^u_|^ubrk_|^unorm2_|^utext_|^uscript_|libicu"),
    ("tokenize (fast paths, segments)", r"^tokenize|^walk_|^fast_runs|^handle_char|^flush_segment|^nd_tk_|"
                                         r"^apply_entry|^push_word|^push_token|^close_|^run_cut|"
                                         r"^scan_(avx512|avx2|sse2|scalar)|^segment_|^three_byte_masks|"
                                         r"^nd_tokenize|^decode|^boundary|^append_char|^begin_piece|"
                                         r"^reserve|^original_span|^filter_code_points|^nd_utf8_repair|^kept_leads|^nd_kept_leads|"
                                         r"^nd_tokens_mostly_unspaced|^nd_split_units|^split_some|^tokens_before|^sketch_units"),
    ("hashing (XXH3: tokens, characters, bands)", r"XXH|^nd_hash|^nd_lsh_band_keys|^hash_tokens|^hash_list|^band_key|^window_ids|^char_offsets"),
    ("shingles and their sort", r"^nd_shingles|^word_shingles|^nd_word_ids|^word_ids_avx512|^char_shingles|^nd_sort_distinct|"
                                r"^insert_distinct|^drop_repeats|^radix_sort_u32|^sort_distinct|^nd_char_shingles|^nd_shingle_choice|"
                                r"^nd_find_repeats"),
    ("MinHash", r"^nd_minhash|^least_of|^densify|^borrow|^fill_bins|^least_ranks|^clear_bins|^filled_masks"),
    ("JSON and reading", r"json|^utf8_valid|^utf8_well_formed|^utf8_step|^scan_string|^scan_number|^skip_|"
                         r"^member_|^unescape|^well_formed|^jsonarray|^pipeline_|^reader_|^input_|^record_|^doc_view|^read_|"
                         r"^next_record|^fill|^replay|memchr|^getline|^batch_read|^gz|^inflate|^ZSTD|^fast_record|^field_tally|"
                         r"^__libc_pread"),
    ("ids dropped and sketched again (guess, search)", r"^id_predictor|^refill|^search_thread|"
                                                      r"^nd_index_refill|^nd_index_dropped"),
    ("index and clustering", r"^nd_index|^nd_store|^index_|cluster|^pairset|^uf_|^nd_jaccard|"
                             r"^nd_intersection|^store_|^band_|^candidates|^prepare_band|^join_verified|"
                             r"^sort_keyed|^nd_sort_u64|^radix_sort_high32|^keep_sketch|^batch_commit|^intersection_|"
                             r"^claim_and_prepare|^stored_ids|^identical_sets|^commit_document|^nd_pair_set|"
                             r"^verify_band|^doctable|^nd_pair_cache|^nd_uf_|^nd_key_groups|^split_component|"
                             r"^add_units|^gather_unit|^put_keys|^emit_cluster|^reps_list"),
    ("output", r"^out_|printf|fwrite|^_IO_|^unit_output|^doc_output|^fputs|^putc|^write_group"),
    ("kernel and memory (I/O, page faults, malloc, copies)", r"^\[k\]|^malloc|^free|^_int_|^__memmove|"
                                                             r"^__memcpy|^__memset|^__memcmp|^__strlen|^realloc|^calloc|^cfree|"
                                                             r"^arena_|^nd_grow|^memcpy|^memset|^id_writer"),
)


def stage_of(symbol):
    for name, pattern in STAGES:
        if re.search(pattern, symbol):
            return name
    return "other"


def cache_dir():
    d = ndlib.cache_dir("floor")
    os.makedirs(d, exist_ok=True)
    return d


def run_floor(probe, path, repeat):
    out = ndlib.run([probe, path, str(repeat)])
    return json.loads(out)


def head_file(path, n, out):
    with open(path, "rb") as f, open(out, "wb") as g:
        for i, line in enumerate(f):
            if i >= n:
                break
            g.write(line)


PERF_HZ = 2000


def perf_profile(neardup, path, work, extra=()):
    """Stage shares (percent) and seconds (samples of the software clock at
    PERF_HZ) of one `scan --threads 1` (with `extra` options) from perf
    samples, or None."""
    perf = shutil.which("perf")
    if not perf:
        return None
    data = os.path.join(work, "perf.data")
    rec = subprocess.run([perf, "record", "-q", "-e", "cpu-clock", "-F", str(PERF_HZ), "-o", data, "--",
                          neardup, "scan", "--threads", "1", "--quiet"] + list(extra) + [path],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if rec.returncode != 0 or not os.path.exists(data):
        return None
    rep = subprocess.run([perf, "report", "-i", data, "--stdio", "--no-children", "--sort", "symbol", "-n",
                          "--percent-limit", "0.05"], capture_output=True, text=True)
    if rep.returncode != 0:
        return None
    shares, samples = collections.Counter(), collections.Counter()
    for line in rep.stdout.splitlines():
        m = re.match(r"\s*([\d.]+)%\s+(\d+)\s+\[([.k])\]\s+(.+?)\s*$", line)
        if m:
            symbol = re.split(r"\s{2,}", m.group(4))[0]  # perf may add columns after two spaces
            if m.group(3) == "k":
                symbol = "[k]" + symbol
            shares[stage_of(symbol)] += float(m.group(1))
            samples[stage_of(symbol)] += int(m.group(2))
    if not shares:
        return None
    return {"tool": "perf", "shares": dict(shares),
            "seconds": {k: v / PERF_HZ for k, v in samples.items()}}


def callgrind_profile(neardup, path, work):
    """Stage shares of instructions of a scan of the first records, or None."""
    valgrind = shutil.which("valgrind")
    annotate = shutil.which("callgrind_annotate")
    if not valgrind or not annotate:
        return None
    small = os.path.join(work, "head.jsonl")
    head_file(path, CALLGRIND_DOCS, small)
    out = os.path.join(work, "callgrind.out")
    rec = subprocess.run([valgrind, "--tool=callgrind", "--callgrind-out-file=" + out, neardup, "scan",
                          "--threads", "1", "--quiet", small], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         text=True)
    if rec.returncode != 0:
        return None
    rep = subprocess.run([annotate, "--inclusive=no", "--threshold=100", out], capture_output=True, text=True)
    total = 0
    shares = collections.Counter()
    for line in rep.stdout.splitlines():
        m = re.match(r"\s*([\d,]+)\s+\(\s*[\d.]+%\)\s+(\S+)", line)
        if not m or "PROGRAM TOTALS" in line:
            continue
        count = int(m.group(1).replace(",", ""))
        name = m.group(2).split(":")[-1]
        total += count
        shares[stage_of(name)] += count
    if not total:
        return None
    return {"tool": "callgrind", "shares": {k: 100.0 * v / total for k, v in shares.items()}}


def measure_corpus(name, path, neardup, probe, rounds, repeat, log):
    floors, signs, scans, ratios, sign_ratios, other, again, again_ratios = [], [], [], [], [], [], [], []
    docs = text_bytes = None
    for r in range(rounds):
        f = run_floor(probe, path, repeat)
        docs, text_bytes = f["docs"], f["bytes"]
        run = ndlib.neardup_or_fail(neardup, ["scan", "--threads", "1", "--quiet", path])
        # at once again: the memory the first run freed is still the VM's own (see markdown())
        run2 = ndlib.neardup_or_fail(neardup, ["scan", "--threads", "1", "--quiet", path])
        again.append(run2["wall_s"])
        again_ratios.append(f["floor_s"] / run2["wall_s"])
        floors.append(f["floor_s"])
        signs.append(f["sign_s"])
        scans.append(run["wall_s"])
        ratios.append(f["floor_s"] / run["wall_s"])
        sign_ratios.append(f["floor_s"] / f["sign_s"])
        other.append(run.get("other_cores", 0.0))
        log("%s round %d: floor %.3f s, signing %.3f s, scan %.3f s, again %.3f s"
            % (name, r + 1, f["floor_s"], f["sign_s"], run["wall_s"], run2["wall_s"]))
    return {
        "corpus": name, "docs": docs, "text_bytes": text_bytes, "file_bytes": os.path.getsize(path),
        "floor_s": statistics.median(floors), "sign_s": statistics.median(signs),
        "scan_s": statistics.median(scans), "end_to_end_over_floor": statistics.median(ratios),
        "signing_over_floor": statistics.median(sign_ratios), "bg_cores": round(statistics.median(other), 2),
        "rounds": rounds, "scan_runs": scans, "end_to_end_runs": ratios,
        "scan_again_s": statistics.median(again), "again_over_floor": statistics.median(again_ratios),
    }


def ratio(x, target=None):
    """x as "1.23x"; with three decimals where two would round it onto its
    target from below or above (0.4957 is "0.496x", not met; not "0.50x")."""
    two = "%.2fx" % x
    if target is not None and (float(two[:-1]) >= target) != (x >= target):
        return "%.3fx" % x
    return two


def markdown(res):
    L = ["## Against the ICU floor", ""]
    L += ["Measured by `scripts/floor` on %s (%d cores, %s); commit `%s`. The floor is ICU alone on the same "
          "texts (UTF-8 to UTF-16, NFKC_Casefold, cutting into runs of letters, marks and numbers; "
          "`tests/bench/bench_floor.c`), timed inside a probe after JSON decoding. *End to end* is the whole "
          "`neardup scan --threads 1` process on the JSON Lines file; *signing* is normalize + shingle + "
          "MinHash in the probe's process, interleaved with the floor. Ratios are throughputs over the floor "
          "(floor seconds / neardup seconds): above 1, neardup is faster; medians of %d rounds run "
          "alternately. *Again* is a second scan right after the first, in the same round: on a virtual "
          "machine that hands freed memory back to its host (free page reporting, as this project's) a run's "
          "time depends on the state of the memory it is given, which differs between the two (either may "
          "be the faster), so the pair shows how far one run of the same program may go. The targets are on "
          "the first." % (res["date"], res["machine"]["nproc"], res["machine"]["cpu_model"],
                                              res["commit"], res["rounds"]), ""]
    L += ["| corpus | docs | text MB | floor MB/s | signing MB/s | signing / floor | scan s | end to end / floor "
          "| again s | again / floor | target | bg cores |",
          "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |"]
    for c in res["corpora"]:
        mb = c["text_bytes"] / 1e6
        target = []
        if c["corpus"] in TARGETS:
            target.append("e2e >= %.1f: %s" % (TARGETS[c["corpus"]],
                                               "met" if c["end_to_end_over_floor"] >= TARGETS[c["corpus"]]
                                               else "**not met**"))
        if c["corpus"] in SIGN_TARGETS:
            target.append("signing >= %.0f: %s" % (SIGN_TARGETS[c["corpus"]],
                                                   "met" if c["signing_over_floor"] >= SIGN_TARGETS[c["corpus"]]
                                                   else "**not met**"))
        again = ("%.3f" % c["scan_again_s"], ratio(c["again_over_floor"])) if "scan_again_s" in c else ("", "")
        L.append("| %s | %d | %.1f | %.1f | %.1f | %s | %.3f | %s | %s | %s | %s | %.2f |"
                 % (c["corpus"], c["docs"], mb, mb / c["floor_s"], mb / c["sign_s"],
                    ratio(c["signing_over_floor"], SIGN_TARGETS.get(c["corpus"])), c["scan_s"],
                    ratio(c["end_to_end_over_floor"], TARGETS.get(c["corpus"])), again[0], again[1],
                    "; ".join(target), c["bg_cores"]))
    spread = [c for c in res["corpora"] if c.get("end_to_end_runs")]
    if spread:
        L += ["", "Every round's end to end / floor (single rounds vary: the VM hands memory freed a few "
              "seconds earlier back to its host (free page reporting), and a process that touches such "
              "memory again pays several times more for it; the in-process floor allocates little): "
              + "; ".join(
                  "%s %s" % (c["corpus"], ", ".join("%.2fx" % r for r in c["end_to_end_runs"])) for c in spread)
              + "."]
    L += ["", "Generated corpora: `scripts/gen-corpus --kind mixed --seed %d --scripts SCRIPT` (cjk: runs of Han "
          "characters without spaces, signed with character shingles, so word breaking is skipped; thai: "
          "syllables with vowel signs and tone marks, no spaces between words, signed with character "
          "shingles, word breaking skipped where ICU keeps every character of a run; issue #17 sets no "
          "target for it). "
          "SaudiNewsNet: the 31,030 articles as scripts/real-data converts them, when `../shared/corpora` "
          "is present. bg cores: cores other processes kept busy during the scans." % SEED, ""]
    prof = [c for c in res["corpora"] if c.get("profile")]
    if prof:
        stages = [s for s, _ in STAGES] + ["other"]
        tools = sorted({c["profile"]["tool"] for c in prof})
        L += ["### Where the time goes", ""]
        L += ["Share of `neardup scan --threads 1` by stage, from %s (functions grouped by name; what the "
              "compiler inlines counts for its caller)." % (
                  "perf samples of the software clock" if tools == ["perf"] else
                  "callgrind instruction counts of the first %d records" % CALLGRIND_DOCS
                  if tools == ["callgrind"] else "perf samples, or callgrind instruction counts where perf "
                  "could not run"), ""]
        L += ["| stage | " + " | ".join("%s (%s)" % (c["corpus"], c["profile"]["tool"]) for c in prof) + " |",
              "| --- | " + " | ".join("---:" for _ in prof) + " |"]
        for s in stages:
            L.append("| %s | " % s + " | ".join("%.1f%%" % c["profile"]["shares"].get(s, 0.0) for c in prof)
                     + " |")
        L.append("")
    para = res.get("paragraphs")
    if para:
        stages = [s for s, _ in STAGES] + ["other"]
        doc_s, para_s = para["document"]["seconds"], para["paragraph"]["seconds"]
        L += ["Paragraph mode against document mode (issue #17: at most 1.5x), the same way: `scan --threads 1` "
              "and `scan --threads 1 --unit paragraph` on the generated syndicated corpus of %d documents "
              "(`scripts/gen-corpus --kind syndicated --seed %d`, as scripts/bench times them), %d perf runs of "
              "each in turn, seconds of samples by stage, averaged (each run's total: documents %s s, "
              "paragraphs %s s):" % (para["docs"], SEED, para.get("rounds", 1),
                                    ", ".join("%.3f" % x for x in para["document"].get("runs_s", [])),
                                    ", ".join("%.3f" % x for x in para["paragraph"].get("runs_s", []))), "",
              "| stage | documents s | paragraphs s | paragraphs - documents s |", "| --- | ---: | ---: | ---: |"]
        for s in stages:
            d, q = doc_s.get(s, 0.0), para_s.get(s, 0.0)
            if d or q:
                L.append("| %s | %.3f | %.3f | %+.3f |" % (s, d, q, q - d))
        td, tq = sum(doc_s.values()), sum(para_s.values())
        L += ["| all | %.3f | %.3f | %+.3f (%.2fx) |" % (td, tq, tq - td, tq / td if td else 0.0), ""]
    return "\n".join(L)


def main(argv=None):
    ap = argparse.ArgumentParser(description="neardup against the ICU floor (see scripts/floor).")
    ap.add_argument("--neardup", help="neardup binary; nd_bench_floor must be next to it "
                                      "(default: build build-bench/ with -DND_BUILD_BENCH=ON)")
    ap.add_argument("--docs", type=int, default=None, help="documents per generated corpus (default %d)" % DOCS)
    ap.add_argument("--quick", action="store_true", help="%d documents, 2 rounds" % QUICK_DOCS)
    ap.add_argument("--rounds", type=int, default=None, help="rounds per corpus (default %d)" % ROUNDS)
    ap.add_argument("--scripts", default=",".join(SCRIPTS), help="generated corpora (default %(default)s)")
    ap.add_argument("--shared", help="corpora folder (default <repo>/../shared/corpora)")
    ap.add_argument("--no-profile", action="store_true", help="leave out where the time goes")
    ap.add_argument("--json", help="also write the numbers here")
    args = ap.parse_args(argv)
    # checked before anything is built or generated (0 read as "the default" before)
    if args.docs is not None and args.docs < 1:
        ap.error("--docs: 1 or more, not %d" % args.docs)
    if args.rounds is not None and args.rounds < 1:
        ap.error("--rounds: 1 or more, not %d" % args.rounds)
    unknown = [s for s in args.scripts.split(",") if s and s not in SCRIPTS]
    if unknown:
        ap.error("--scripts: unknown %s (from %s)" % (", ".join(unknown), ",".join(SCRIPTS)))
    log = ndlib.Logger("floor")
    if args.neardup:
        neardup = ndlib.find_neardup(args.neardup)
    else:
        neardup = os.path.join(ndlib.build("build-bench", ["-DND_BUILD_BENCH=ON"]), "neardup")
    probe = os.path.join(os.path.dirname(neardup), "nd_bench_floor")
    if not os.access(probe, os.X_OK):
        raise ndlib.Error("no nd_bench_floor next to %s (build with -DND_BUILD_BENCH=ON)" % neardup)
    docs = args.docs if args.docs is not None else QUICK_DOCS if args.quick else DOCS
    rounds = args.rounds if args.rounds is not None else 2 if args.quick else ROUNDS
    corpora = []
    for script in [s for s in args.scripts.split(",") if s]:
        # the corpora scripts/bench caches (same parameters, same place)
        cdir = ndlib.corpus(os.path.join(ndlib.cache_dir("bench"), "corpora"), docs, SEED, "mixed", script,
                            log=log)[0]
        corpora.append((script, os.path.join(cdir, "docs.jsonl")))
    shared = args.shared or os.path.join(ndlib.ROOT, "..", "shared", "corpora")
    saudi = ndreal.saudi_corpus(os.path.normpath(shared), cache_dir(), log)
    if saudi:
        corpora.append(("saudinewsnet", saudi))
    else:
        log("no SaudiNewsNet under %s: left out" % shared)
    res = {"schema": "neardup-floor/1", "commit": ndlib.git_commit(("src", "tests/bench")),
           "machine": ndlib.machine_info(), "rounds": rounds, "corpora": [],
           "date": __import__("datetime").date.today().isoformat()}
    with tempfile.TemporaryDirectory(prefix="nd-floor-") as work:
        for name, path in corpora:
            c = measure_corpus(name, path, neardup, probe, rounds, 3, log)
            if not args.no_profile:
                c["profile"] = perf_profile(neardup, path, work) or callgrind_profile(neardup, path, work)
            res["corpora"].append(c)
        if not args.no_profile:
            para_docs = QUICK_DOCS if args.quick else PARA_DOCS
            pdir = ndlib.corpus(os.path.join(ndlib.cache_dir("bench"), "corpora"), para_docs, SEED, "syndicated",
                                "latin", log=log)[0]
            ppath = os.path.join(pdir, "docs.jsonl")
            log("syndicated %d: where the time goes, documents and paragraphs" % para_docs)
            # in turn, PARA_ROUNDS each (one run's page faults swing with
            # the state of the VM's memory): seconds by stage averaged
            runs = {"document": [], "paragraph": []}
            for _ in range(PARA_ROUNDS):
                runs["document"].append(perf_profile(neardup, ppath, work))
                runs["paragraph"].append(perf_profile(neardup, ppath, work, ["--unit", "paragraph"]))
            if all(r for mode in runs.values() for r in mode):
                res["paragraphs"] = {"docs": para_docs, "rounds": PARA_ROUNDS}
                for mode, profiles in runs.items():
                    seconds = collections.Counter()
                    for r in profiles:
                        seconds.update(r["seconds"])
                    res["paragraphs"][mode] = {"tool": "perf",
                                               "seconds": {k: v / PARA_ROUNDS for k, v in seconds.items()},
                                               "runs_s": [sum(r["seconds"].values()) for r in profiles]}
    if args.json:
        ndlib.atomic_write(args.json, lambda f: json.dump(res, f, indent=1))
    print(markdown(res))
    return 0
