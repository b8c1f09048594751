"""ndlib: the helpers that the scripts in scripts/ share (standard library only).

scripts/bench (ndbench.py), scripts/real-data (ndreal.py), scripts/results,
scripts/bench-10m, scripts/eval (ndeval.py) and the tests in tests/eval import
this module, so that each helper exists once and cannot drift:

  find_neardup()    which neardup program a script runs (one search order):
                      1. the path given (--neardup); a name without a slash
                         is looked up on PATH;
                      2. <repository>/build/neardup (what scripts/setup builds);
                      3. neardup on PATH.
                    Scripts that need a build of their own (results, bench)
                    make one with build() instead.
  build()           a Release build tree of this repository, with CMake options
                    (-DND_BUILD_BENCH=ON adds the signing benchmark).
  run_neardup()     runs `neardup scan|dedup ... --stats FILE` and returns the
                    program's own JSON summary (read_stats(), schema below)
                    with the process's wall time, peak RSS and CPU time
                    (measure()).  No script reads the human summary on stderr.
  measure()         any command: wall time on a monotonic clock, peak RSS and
                    user/system CPU from /usr/bin/time, and the cores that
                    other processes kept busy meanwhile (from /proc/stat),
                    since thread speedups mean little on a loaded machine.
  run(), capture()  short commands: stdout, or an Error naming the command.
  lsh_probability() the LSH S-curve P(s) = 1 - (1 - s^r)^b.
  read_jsonl(), sha256_file(), count_lines(), atomic_write(),
  cluster_of(), pairs_in(): files and clusters.
  machine_info(), git_commit(), cache_dir(), Logger.
  corpus()          a corpus made by scripts/gen-corpus, cached by its
                    parameters and the generator's VERSION.

The --stats file is one JSON object that neardup writes at the end of a
successful scan or dedup, with the keys of STATS_KEYS: units is null in
document mode, kept, removed and units_removed are null for scan (and
units_removed in document mode), pairs is null but for scan --pairs; in
unit mode clusters and duplicates count groups and repeats.
"""

import fcntl
import hashlib
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.realpath(__file__))
ROOT = os.path.dirname(HERE)
GEN_CORPUS = os.path.join(HERE, "gen-corpus")

STATS_KEYS = (
    "version", "command", "unit", "profile", "threshold", "measure", "min_shingles", "num_perm", "bands",
    "rows", "threads", "documents_read", "bytes_read", "empty", "invalid_utf8", "skipped", "units",
    "clusters", "duplicates", "pairs", "kept", "removed", "units_removed", "candidate_pairs", "verified_pairs",
    "exact_groups", "spilled", "seconds_total", "seconds_read", "seconds_cluster", "seconds_write",
    "peak_rss_bytes")
# what depends on the machine or the run rather than on the input and options
STATS_RUN_KEYS = ("threads", "seconds_total", "seconds_read", "seconds_cluster", "seconds_write",
                  "peak_rss_bytes")


class Error(Exception):
    """A command that failed, a file that cannot be read, a program not found."""


class Logger:
    """Progress lines on stderr: "NAME [  12.3 s]: message"."""

    def __init__(self, name):
        self.name = name
        self.start = time.monotonic()

    def __call__(self, msg):
        sys.stderr.write("%s [%6.1f s]: %s\n" % (self.name, time.monotonic() - self.start, msg))
        sys.stderr.flush()


# ------------------------------------------------------------ the program

def _executable(path):
    return os.path.isfile(path) and os.access(path, os.X_OK)


def find_neardup(given=None, root=ROOT):
    """The neardup program to run, as an absolute path (search order in the
    module docstring); raises Error when there is none."""
    if given:
        path = given if os.sep in given else (shutil.which(given) or given)
        if not _executable(path):
            raise Error("--neardup %s: not an executable file" % given)
        return os.path.abspath(path)
    path = os.path.join(root, "build", "neardup")
    if _executable(path):
        return path
    path = shutil.which("neardup")
    if path:
        return os.path.abspath(path)
    raise Error("no neardup program: build one with scripts/setup (build/neardup), "
                "or pass --neardup PATH")


def build(build_dir, options=(), targets=()):
    """Configure (Release, without the test suites) and build this repository
    in build_dir (relative to the repository), with extra CMake options;
    returns the absolute build directory."""
    b = os.path.join(ROOT, build_dir)
    run(["cmake", "-S", ROOT, "-B", b, "-DCMAKE_BUILD_TYPE=Release", "-DND_BUILD_TESTS=OFF"]
        + list(options))
    cmd = ["cmake", "--build", b, "-j%d" % (os.cpu_count() or 2)]
    for t in targets:
        cmd += ["--target", t]
    run(cmd)
    return b


def run(cmd, input=None, cwd=None):
    """Run a short command; its stdout (UTF-8 text), or Error with the tail
    of its stderr when it fails or cannot start."""
    try:
        p = subprocess.run(cmd, input=input, cwd=cwd, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE)
    except OSError as e:
        raise Error("%s: %s" % (cmd[0], e))
    if p.returncode != 0:
        raise Error("%s failed (exit %d): %s" % (" ".join(cmd), p.returncode,
                                                 p.stderr.decode("utf-8", "replace").strip()[-2000:]))
    return p.stdout.decode("utf-8")


def capture(cmd, cwd=None):
    """(exit status, stdout stripped) of a short command; (None, "") when it
    cannot be started or takes over a minute."""
    try:
        p = subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None, ""
    return p.returncode, p.stdout.decode("utf-8", "replace").strip()


_CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def cpu_busy_s():
    """CPU seconds spent busy (all CPUs, all processes) since boot, from
    /proc/stat; None when unavailable."""
    try:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    # user nice system idle iowait irq softirq steal ...
    return (sum(v[:8]) - v[3] - v[4]) / _CLK_TCK


TIME = "/usr/bin/time"  # GNU time (Debian package time)


def measure(cmd, stdout=None, stdin=None, timeout=None):
    """Run cmd to its end and measure it.  stdout: a path to write its output
    to (None: /dev/null); stdin: a path to read (None: /dev/null).  Returns a
    dict: exit (None when it timed out or could not start), wall_s (monotonic
    clock), rss_kb (peak resident set, KB), user_s, sys_s, other_cores (cores
    other processes kept busy meanwhile, +-0.01 s of CPU per run: clock
    ticks), stderr (text), error (only when the run failed).

    The process is started by /usr/bin/time, which reports its peak RSS and
    CPU time: a process forked from this Python one would count the pages
    of the Python process it was copied from in its peak RSS (Linux keeps
    the high-water mark across exec), and a Python script holding a corpus
    is larger than the program it measures."""
    res = {"cmd": list(cmd), "exit": None}
    if not _executable(TIME):
        res["error"] = "%s not found (Debian package time; scripts/setup installs it)" % TIME
        return res
    with open(stdout or os.devnull, "wb") as out, open(stdin or os.devnull, "rb") as inp, \
            tempfile.TemporaryFile() as err, tempfile.NamedTemporaryFile("r", prefix="nd-time-") as tf:
        b0 = cpu_busy_s()
        t0 = time.monotonic()
        p = subprocess.Popen([TIME, "-o", tf.name, "-f", "%M %U %S"] + list(cmd), stdin=inp, stdout=out,
                             stderr=err, start_new_session=True)
        # A blocking wait, the timeout kept by a timer: Popen.wait(timeout=)
        # polls with sleeps growing to 50 ms, which rounded every wall time
        # up to the next poll (0.064, 0.114, 0.165 s, ...).
        timed_out = []

        def kill():
            timed_out.append(True)
            os.killpg(p.pid, signal.SIGKILL)

        timer = threading.Timer(timeout, kill) if timeout else None
        if timer:
            timer.start()
        p.wait()
        wall = time.monotonic() - t0
        if timer:
            timer.cancel()
        if timed_out:
            res["error"] = "timed out after %.0f s" % timeout
        b1 = cpu_busy_s()
        err.seek(0)
        res["stderr"] = err.read().decode("utf-8", "replace")
        lines = tf.read().strip().splitlines()  # "Command exited with non-zero status N" may come first
    res["wall_s"] = round(wall, 4)
    try:
        rss, user, system = lines[-1].split()
        res["rss_kb"], res["user_s"], res["sys_s"] = int(rss), float(user), float(system)
    except (IndexError, ValueError):
        res.setdefault("error", "no measurement from %s: %r" % (TIME, lines))
        return res
    if b0 is not None and b1 is not None and wall > 0:
        res["other_cores"] = round(max(0.0, (b1 - b0 - res["user_s"] - res["sys_s"]) / wall), 2)
    if "error" not in res:
        res["exit"] = p.returncode
        if p.returncode != 0:
            res["error"] = "exit %d: %s" % (p.returncode, res["stderr"].strip()[-500:])
    return res


def read_stats(path):
    """The object of a neardup --stats file, checked against the schema;
    Error naming the file otherwise."""
    try:
        with open(path, encoding="utf-8") as f:
            stats = json.load(f)
    except OSError as e:
        raise Error("cannot read %s: %s" % (path, e))
    except ValueError as e:
        raise Error("%s: invalid JSON: %s" % (path, e))
    if not isinstance(stats, dict):
        raise Error("%s: not a JSON object" % path)
    missing = [k for k in STATS_KEYS if k not in stats]
    if missing:
        raise Error("%s: no %s" % (path, ", ".join(missing)))
    return stats


def stats_outcome(stats):
    """The part of a --stats object that must not change with the thread
    count, the machine or the run."""
    return {k: v for k, v in stats.items() if k not in STATS_RUN_KEYS}


def run_neardup(neardup, args, stdout=None, stdin=None, timeout=None):
    """Run `neardup SUBCOMMAND ... --stats FILE` (args[0] is scan or dedup)
    under measure().  Returns its dict plus ok (exit 0 and a valid --stats
    file), stats (the --stats object, or None) and warnings (stderr lines
    that start with "neardup: warning")."""
    fd, stats_path = tempfile.mkstemp(prefix="nd-stats-", suffix=".json")
    os.close(fd)
    try:
        os.unlink(stats_path)  # so that a file there was written by this run
        res = measure([neardup, args[0], "--stats", stats_path] + list(args[1:]), stdout, stdin, timeout)
        res["stats"] = None
        if "error" not in res:
            try:
                res["stats"] = read_stats(stats_path)
            except Error as e:
                res["error"] = "--stats: %s" % e
    finally:
        if os.path.exists(stats_path):
            os.unlink(stats_path)
    res["ok"] = "error" not in res
    res["warnings"] = sum(1 for ln in res.get("stderr", "").splitlines() if ln.startswith("neardup: warning"))
    return res


def neardup_or_fail(neardup, args, stdout=None, stdin=None, timeout=None):
    """run_neardup(), raising Error when the run failed."""
    res = run_neardup(neardup, args, stdout, stdin, timeout)
    if not res["ok"]:
        raise Error("neardup %s failed: %s" % (" ".join(args), res["error"]))
    return res


# ------------------------------------------------------------ mathematics

def lsh_probability(s, bands, rows):
    """Probability that a pair of Jaccard similarity s becomes an LSH
    candidate with bands x rows: each MinHash row agrees with probability s,
    all rows of a band with s^rows, none of the independent bands with
    (1 - s^rows)^bands, so P(s) = 1 - (1 - s^rows)^bands."""
    return 1.0 - (1.0 - s ** rows) ** bands


def c2(n):
    """Unordered pairs among n items."""
    return n * (n - 1) // 2


def cluster_of(clusters):
    """{member id: index of its cluster} for clusters given as lists of ids
    or as scan objects with "ids"."""
    where = {}
    for k, c in enumerate(clusters):
        for i in (c["ids"] if isinstance(c, dict) else c):
            where[i] = k
    return where


def pairs_in(clusters):
    """Every unordered pair (a, b), a < b, of members of one cluster."""
    pairs = set()
    for c in clusters:
        s = sorted(c)
        for i in range(len(s)):
            for k in range(i + 1, len(s)):
                pairs.add((s[i], s[k]))
    return pairs


# ------------------------------------------------------------ files

def read_jsonl(path):
    """Yield (line number, object) for every non-blank line of a JSON Lines
    file; Error naming the file (and line) when it cannot be read."""
    try:
        f = open(path, encoding="utf-8")
    except OSError as e:
        raise Error("cannot open %s: %s" % (path, e))
    with f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                yield n, json.loads(line)
            except ValueError as e:
                raise Error("%s:%d: invalid JSON: %s" % (path, n, e))


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def count_lines(path):
    n = 0
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            n += block.count(b"\n")
    return n


def atomic_write(path, write, binary=False):
    """Call write(file) on a temporary file beside path, then rename it to
    path: a file found at path is always complete."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)), prefix=".tmp-")
    try:
        if binary:
            f = os.fdopen(fd, "wb")
        else:
            f = os.fdopen(fd, "w", encoding="utf-8", newline="\n")
        with f:
            write(f)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes it 0600
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


# ------------------------------------------------------------ machine and cache

def read_text(path):
    """The text of a file (undecodable bytes replaced); "" when it cannot be read."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def machine_info():
    """nproc (cores this process may use), cpu_model, mem_total_kb, kernel,
    python."""
    m = re.search(r"^model name\s*:\s*(.+)$", read_text("/proc/cpuinfo"), re.M)
    mem = re.search(r"^MemTotal:\s*(\d+)\s*kB", read_text("/proc/meminfo"), re.M)
    try:
        ncpu = len(os.sched_getaffinity(0))
    except AttributeError:
        ncpu = os.cpu_count() or 1
    rc, out = capture(["nproc"])
    if rc == 0 and out.isdigit():
        ncpu = int(out)
    return {"nproc": ncpu,
            "cpu_model": m.group(1).strip() if m else "unknown",
            "mem_total_kb": int(mem.group(1)) if mem else None,
            "kernel": platform.release(),
            "python": platform.python_version()}


def git_commit(paths=()):
    """Short commit of the repository, "-dirty" when `git status` shows a
    change (under paths, when given: tracked files modified or untracked
    files not ignored); "unknown" outside a repository."""
    rc, head = capture(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT)
    if rc != 0 or not head:
        return "unknown"
    rc, status = capture(["git", "status", "--porcelain", "--"] + list(paths), cwd=ROOT)
    if rc != 0:
        return head + "-unknown"
    return head + ("-dirty" if status else "")


def cache_dir(*parts):
    """${XDG_CACHE_HOME:-~/.cache}/neardup/PARTS (not created)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "neardup", *parts)


def gen_corpus(out, docs, seed, kind="mixed", scripts="latin"):
    """Run scripts/gen-corpus into out (through a temporary directory renamed
    at the end, so a directory found at out is complete)."""
    tmp = "%s.tmp-%d" % (out, os.getpid())
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.rmtree(out, ignore_errors=True)
    run([sys.executable, GEN_CORPUS, "--docs", str(docs), "--seed", str(seed), "--out", tmp,
         "--kind", kind, "--scripts", scripts])
    os.rename(tmp, out)


def gen_corpus_version():
    m = re.search(r'^VERSION\s*=\s*"([^"]+)"', read_text(GEN_CORPUS), re.M)
    return m.group(1) if m else "unknown"


def corpus_name(docs, seed, kind="mixed", scripts="latin"):
    return "%s-%s-%d-s%d-g%s" % (kind, scripts.replace(",", "+"), docs, seed, gen_corpus_version())


def corpus(base, docs, seed, kind="mixed", scripts="latin", log=None):
    """A generated corpus cached in base/corpus_name(...): (its directory,
    its stamp {params, bytes, sha256, generate_s}).  Made again when the
    stamp (bench-corpus.json, written last) is missing or its parameters or
    size differ."""
    d = os.path.join(base, corpus_name(docs, seed, kind, scripts))
    os.makedirs(base, exist_ok=True)
    # one process at a time per corpus: a second one waits and then reuses
    # what the first made (two generating into one place clobbered each other)
    with open(d + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _corpus_locked(d, docs, seed, kind, scripts, log)


def _corpus_locked(d, docs, seed, kind, scripts, log):
    docs_path, stamp = os.path.join(d, "docs.jsonl"), os.path.join(d, "bench-corpus.json")
    params = {"kind": kind, "scripts": scripts, "docs": docs, "seed": seed,
              "generator_version": gen_corpus_version()}
    try:
        with open(stamp) as f:
            info = json.load(f)
        if info.get("params") == params and os.path.getsize(docs_path) == info.get("bytes"):
            if log:
                log("corpus %s: reused" % os.path.basename(d))
            return d, info
    except (OSError, ValueError):
        pass
    if log:
        log("corpus %s: generating %d docs ..." % (os.path.basename(d), docs))
    t0 = time.monotonic()
    gen_corpus(d, docs, seed, kind, scripts)
    lines = count_lines(docs_path)
    if lines != docs:
        raise Error("gen-corpus wrote %d lines in %s, expected %d" % (lines, docs_path, docs))
    info = {"params": params, "bytes": os.path.getsize(docs_path), "sha256": sha256_file(docs_path),
            "generate_s": round(time.monotonic() - t0, 1)}
    atomic_write(stamp, lambda f: json.dump(info, f, indent=1, sort_keys=True))
    if log:
        log("corpus %s: %.1f MB in %.0f s" % (os.path.basename(d), info["bytes"] / 1e6, info["generate_s"]))
    return d, info
