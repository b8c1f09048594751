#!/usr/bin/env bash
# shellcheck disable=SC2016  # jq filters are single-quoted on purpose
# test_index_bad_input.sh - the persistent index and bad input: a missing
# index, a path that is not an index (a file, a directory of other things,
# a data.mdb that is not LMDB), another format or Unicode version, metadata
# that lies, a second writer (fails naming the lock, or waits), readers
# during a writer, damaged pages (a message and exit 1, never a crash),
# compacting while others have the index open, a file size limit and a full
# disk (the index untouched), a read-only directory.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"

CORPUS="$SRC/corpora/mixed-1k/docs.jsonl"
head -n 300 "$CORPUS" >"$T/A.jsonl"
sed -n '301,600p' "$CORPUS" >"$T/B.jsonl"
DB="$T/db"
"$ND" index add --quiet "$DB" "$T/A.jsonl" >/dev/null
dump() { mdb_dump -a -p "$1"; }
dump "$DB" >"$T/A.dump"

# ---- not an index ----

check "a missing index: exit 1, 'no such index'"
for cmd in "query $T/nothing" "index stats $T/nothing" "index remove $T/nothing --id x" "index compact $T/nothing" \
    "dedup --index $T/nothing"; do
    # shellcheck disable=SC2086
    run_in "$T/A.jsonl" "$ND" $cmd
    assert_rc 1 "$cmd"
    assert_file_contains "$ERR" "$T/nothing: no such index"
done
[[ ! -e "$T/nothing" ]] || fail "a reader created $T/nothing"

check "a file is not an index: exit 1, the file untouched"
cp "$T/A.jsonl" "$T/file.jsonl"
nd index add "$T/file.jsonl" "$T/B.jsonl"
assert_rc 1
assert_file_contains "$ERR" "not a neardup index (a file"
cmp -s "$T/A.jsonl" "$T/file.jsonl" || fail "the file was changed"
nd query "$T/file.jsonl" "$T/B.jsonl"
assert_rc 1

check "a directory of other things is not an index: nothing is written into it"
mkdir "$T/docs" && cp "$T/A.jsonl" "$T/docs/"
nd index add "$T/docs" "$T/B.jsonl"
assert_rc 1
assert_file_contains "$ERR" "not a neardup index (a directory without data.mdb that is not empty)"
assert_eq "A.jsonl" "$(ls "$T/docs")" "directory contents"
nd query "$T/docs" "$T/B.jsonl"
assert_rc 1
assert_file_contains "$ERR" "no index in this directory"

check "a data.mdb that is not LMDB"
mkdir "$T/junk" && head -c 20000 /dev/urandom >"$T/junk/data.mdb"
nd index stats "$T/junk"
assert_rc 1
assert_file_contains "$ERR" "not a neardup index (data.mdb is not an LMDB database"

check "a data.mdb that is a FIFO: exit 1, not a reader waiting in LMDB's open for ever"
mkdir "$T/fifo.db" && mkfifo "$T/fifo.db/data.mdb"
for cmd in "query $T/fifo.db $T/B.jsonl" "index stats $T/fifo.db" "index add $T/fifo.db $T/B.jsonl"; do
    # shellcheck disable=SC2086
    run timeout 20 "$ND" $cmd
    assert_rc 1 "$cmd"
    assert_file_contains "$ERR" "$T/fifo.db: not a neardup index (data.mdb is not a regular file)"
done

check "a data.mdb cut short (a copy interrupted): exit 1 naming the damage, not a bus error"
rm -rf "$T/cut" && cp -r "$DB" "$T/cut" && truncate -s 8192 "$T/cut/data.mdb"
for cmd in "query $T/cut $T/B.jsonl" "index stats $T/cut" "index add $T/cut --replace $T/B.jsonl" \
    "dedup --index $T/cut $T/B.jsonl" "index compact $T/cut"; do
    # shellcheck disable=SC2086
    run_in "$T/B.jsonl" "$ND" $cmd
    assert_rc 1 "$cmd"
    assert_file_contains "$ERR" "$T/cut: the index is damaged: data.mdb has 8192 bytes, but its pages go on to byte"
done
check "an empty data.mdb: readers say there is no index yet (not 'Bad file descriptor')"
: >"$T/cut/data.mdb"
for cmd in "query $T/cut $T/B.jsonl" "index stats $T/cut"; do
    # shellcheck disable=SC2086
    nd $cmd
    assert_rc 1 "$cmd"
    assert_file_contains "$ERR" "$T/cut: no index here yet (data.mdb is empty"
done

check "a meta page giving a page size of 0 (LMDB divides by it): exit 1 naming it, not a floating point exception"
rm -rf "$T/psize" && cp -r "$DB" "$T/psize"
printf '\0\0\0\0' | dd of="$T/psize/data.mdb" bs=1 seek=40 conv=notrunc status=none # page 0: header 16, meta 24
for cmd in "query $T/psize $T/B.jsonl" "index stats $T/psize" "index add $T/psize $T/B.jsonl"; do
    # shellcheck disable=SC2086
    nd $cmd
    assert_rc 1 "$cmd"
    assert_file_contains "$ERR" "$T/psize: the index is damaged: page 0 of data.mdb (LMDB's meta page) gives a page size of 0"
done

check "a damaged page in data.mdb (no checksums in LMDB): exit 1 and a message, not a bus error"
rm -rf "$T/bad" && cp -r "$DB" "$T/bad"
pages=$(($(stat -c %s "$T/bad/data.mdb") / 4096))
python3 -c 'import sys; f = open(sys.argv[1], "r+b"); [(f.seek(p * 4096), f.write(b"\xff" * 4096)) for p in range(2, int(sys.argv[2]))]' \
    "$T/bad/data.mdb" "$pages"
nd query "$T/bad" "$T/B.jsonl"
assert_rc 1 "query on a damaged index"
assert_file_contains "$ERR" "the index's data.mdb is damaged"

check "a bus error in a command that opens no index is not reported as a damaged index"
"$ND" scan - < <(sleep 2) >"$T/bus.out" 2>"$T/bus.err" &
pid=$!
sleep 0.3
kill -BUS "$pid"
rc=0
wait "$pid" || rc=$?
[[ $rc -ne 0 ]] || fail "scan killed by SIGBUS exited 0" # 135 (or 1 under ASan, which reports it)
if grep -q "damaged" "$T/bus.err"; then fail "scan's bus error was reported as a damaged index"; fi

check "damaged pages (headers, and random bytes in page bodies): never a crash; exit 1 naming the damage, no output file left"
# LMDB read such pages through a null pointer (SIGSEGV), in memcpy called
# from LMDB (SIGSEGV outside its own code), or stopped on an assertion
# (SIGABRT); each killed the process, and a report left -o's temporary file
python3 - "$ND" "$DB" "$T/B.jsonl" "$T/pages" <<'PY'
import os, random, shutil, subprocess, sys
nd, db, queries, work = sys.argv[1:]
pages = os.path.getsize(os.path.join(db, "data.mdb")) // 4096
rng = random.Random(26)
damages = [(page, 12, b"\x00\x00\xff\x0f") for page in range(2, pages)]  # bounds of a page's free space
damages += [(rng.randrange(2, pages), rng.randrange(0, 4096 - 64), bytes(rng.randrange(256) for _ in range(64)))
            for _ in range(60)]
bad, reported, silent = [], 0, 0
for page, offset, data in damages:
    for cmd in (["index", "stats"], ["query", "--quiet", "--threads", "1", "-o", "OUT"],
                ["index", "add", "--quiet", "--replace"]):
        shutil.rmtree(work, ignore_errors=True)
        shutil.copytree(db, work)
        os.makedirs(work + ".out", exist_ok=True)
        with open(os.path.join(work, "data.mdb"), "r+b") as f:
            f.seek(page * 4096 + offset)
            f.write(data)
        argv = [nd] + [a.replace("OUT", work + ".out/res.jsonl") for a in cmd] + [work]
        if cmd[0] != "index" or cmd[1] == "add":
            argv.append(queries)
        p = subprocess.run(argv, capture_output=True, timeout=120)
        err = p.stderr.decode(errors="replace")
        left = [n for n in os.listdir(work + ".out") if n.startswith(".")]
        shutil.rmtree(work + ".out")
        if p.returncode < 0 or p.returncode > 2 or left:
            bad.append((page, offset, cmd[0], cmd[1], p.returncode, left, err[-200:]))
        elif "the index's data.mdb is damaged" in err or "the index is damaged: page" in err:  # (the writers' check)
            reported += 1
            if p.returncode != 1:
                bad.append((page, offset, cmd[1], "damaged, yet exit %d" % p.returncode))
        else:
            silent += 1  # a page no command reads, or damage LMDB cannot see: no checksums
if bad:
    sys.exit("killed, wrong exit or a temporary file left: %s" % bad[:5])
if reported == 0:
    sys.exit("no damaged page was reported as one (%d runs)" % silent)
print("  %d runs reported the damage, %d did not see it" % (reported, silent))
PY

check "a SIGSEGV that is not LMDB's, with an index open, is not reported as a damaged index"
ulimit -c 0 # (no core file)
"$ND" query "$DB" - < <(sleep 3) >"$T/segv.out" 2>"$T/segv.err" &
pid=$!
sleep 0.5
kill -SEGV "$pid"
rc=0
wait "$pid" || rc=$?
[[ $rc -ne 0 ]] || fail "query killed by SIGSEGV exited 0"
if grep -q "damaged" "$T/segv.err"; then fail "a SIGSEGV sent to query was reported as a damaged index"; fi

# ---- versions ----

check "an index of another format version is refused with what to do"
cp -r "$DB" "$T/v2"
printf 'format\n1\n' | mdb_load -T -s meta "$T/v2"
for cmd in "query $T/v2 $T/B.jsonl" "index add $T/v2 $T/B.jsonl" "index stats $T/v2"; do
    # shellcheck disable=SC2086
    nd $cmd
    assert_rc 1 "$cmd"
    assert_file_contains "$ERR" "index format 1 (written by neardup"
    assert_file_contains "$ERR" "rebuild the index from the documents"
done

check "an index made with another Unicode version is refused"
cp -r "$DB" "$T/u9"
printf 'unicode_version\n9.0\n' | mdb_load -T -s meta "$T/u9"
nd query "$T/u9" "$T/B.jsonl"
assert_rc 1
assert_file_contains "$ERR" "made with Unicode 9.0"

check "metadata that lies is refused, naming it, by every command (believed before: stats wrong, every add failing on LMDB's MDB_KEYEXIST, compact writing past its bitmap of removed documents, another shingle kind used, a Jaccard index read as a containment index and written as one)"
lies=('documents\n0\n' 'next_doc\n1\n' 'shingle_kind\nbogus\n' 'format\n2\nmeasure\ncontainment\nmin_shingles\n20\n')
said=('corrupt metadata: documents 0 and removed 0, but the index holds 300 records'
    'corrupt metadata: next_doc 1, but document 299 is stored' 'corrupt metadata shingle_kind = "bogus"'
    'not a neardup index of its format (database "bands" has LMDB flags 0x8, not 0x3c)')
for i in "${!lies[@]}"; do
    rm -rf "$T/lie" && cp -r "$DB" "$T/lie"
    printf '%b' "${lies[$i]}" | mdb_load -T -s meta "$T/lie"
    for cmd in "query $T/lie $T/B.jsonl" "index add $T/lie $T/B.jsonl" "index stats $T/lie" "index compact $T/lie"; do
        # shellcheck disable=SC2086
        nd $cmd
        assert_rc 1 "$cmd"
        assert_file_contains "$ERR" "${said[$i]}"
    done
done

# ---- writers and readers ----

# start_writer: an `index add` reading from a FIFO, so that it holds the
# write lock until the FIFO is closed; WRITER is its pid, fd 7 the FIFO's
# write end (closed in every other process started meanwhile: 7>&-).
start_writer() {
    rm -f "$T/fifo" && mkfifo "$T/fifo"
    "$ND" index add --quiet --wait "$DB" "$@" - <"$T/fifo" >"$T/writer.out" 2>"$T/writer.err" &
    WRITER=$!
    exec 7>"$T/fifo"
    : >"$T/none.jsonl"
    for _ in $(seq 100); do # until it holds the lock (a probe that gets it adds nothing)
        run "$ND" index add --quiet "$DB" "$T/none.jsonl" 7>&-
        [[ $RC == 1 ]] && grep -qF "neardup.lock" "$ERR" && return 0
        sleep 0.05
    done
    fail "the writer did not take the lock"
}

check "a second writer fails naming the lock; readers see the state before the run"
start_writer
assert_file_contains "$ERR" "another process is writing to this index (it holds the write lock $DB/neardup.lock)"
cat "$T/B.jsonl" >&7
nd index stats "$DB"
assert_rc 0
assert_jq "$OUT" '.[0].documents == 300' "a reader during the run"
nd query "$DB" --top 1 "$T/B.jsonl"
assert_rc 0
nd dedup --index "$DB" "$T/B.jsonl"
assert_rc 0 "dedup --index (reading) during the run"
exec 7>&-
wait "$WRITER" || fail "the writer failed: $(cat "$T/writer.err")"
nd index stats "$DB"
assert_jq "$OUT" '.[0].documents == 600' "after the run"

check "--wait waits for the other writer"
printf '{"id":"w1","text":"one more document for the waiting writer to add"}\n' >"$T/w.jsonl"
start_writer
"$ND" index add --quiet --wait "$DB" "$T/w.jsonl" >"$T/waiter.out" 2>"$T/waiter.err" 7>&- &
WAITER=$!
sleep 0.3
kill -0 "$WAITER" 2>/dev/null || fail "the --wait writer did not wait: $(cat "$T/waiter.err")"
printf '{"id":"w0","text":"a document the first writer adds"}\n' >&7
exec 7>&-
wait "$WRITER" || fail "first writer: $(cat "$T/writer.err")"
wait "$WAITER" || fail "waiting writer: $(cat "$T/waiter.err")"
nd index stats "$DB"
assert_jq "$OUT" '.[0].documents == 602'

check "compact needs the index alone"
rm -f "$T/fifo" && mkfifo "$T/fifo"
"$ND" query "$DB" - <"$T/fifo" >/dev/null 2>&1 &
READER=$!
exec 7>"$T/fifo"
sleep 0.3
nd index compact "$DB"
assert_rc 1
assert_file_contains "$ERR" "another handle or process has the index open"
exec 7>&-
wait "$READER" || true
nd index compact "$DB"
assert_rc 0

# ---- full disk, read-only directory ----

check "a file size limit (ulimit -f) during a run: exit 1, a clear message, the index untouched"
cp -r "$DB" "$T/small"
dump "$T/small" >"$T/small.dump"
size_kb=$(($(stat -c %s "$T/small/data.mdb") / 1024 + 64))
cat "$T/A.jsonl" "$T/B.jsonl" | sed 's/"id":"d/"id":"x/' >"$T/more.jsonl"
run bash -c "ulimit -f $size_kb && exec \"$ND\" index add \"$T/small\" \"$T/more.jsonl\""
assert_rc 1
assert_file_contains "$ERR" "File too large"
assert_file_contains "$ERR" "the index is as it was"
dump "$T/small" >"$T/small.after"
assert_same_file "$T/small.dump" "$T/small.after" "index after the failed run"
nd query "$T/small" --top 1 "$T/B.jsonl"
assert_rc 0

# A real full disk and a read-only file system need mount (root, and a
# kernel that lets us); otherwise these checks are skipped.
MNT="$T/mnt"
mkdir "$MNT"
if [[ $(id -u) == 0 ]] && mount -t tmpfs -o size=2m tmpfs "$MNT" 2>/dev/null; then
    trap 'umount "$MNT" 2>/dev/null || true; rm -rf "$T"' EXIT
    check "a full disk (2 MB tmpfs): exit 1, the index untouched"
    "$ND" index add --quiet "$MNT/db" "$T/A.jsonl" >/dev/null
    dump "$MNT/db" >"$T/full.dump"
    for i in 1 2 3 4 5 6; do sed "s/\"id\":\"d/\"id\":\"f$i/" "$CORPUS"; done >"$T/big.jsonl"
    nd index add "$MNT/db" "$T/big.jsonl"
    assert_rc 1
    assert_file_contains "$ERR" "No space left on device"
    dump "$MNT/db" >"$T/full.after"
    assert_same_file "$T/full.dump" "$T/full.after" "index after the disk filled"
    nd index add "$MNT/db" "$T/w.jsonl"
    assert_rc 0 "a small run still fits"

    check "a read-only file system: writers fail clearly, readers work"
    mount -o remount,ro "$MNT"
    nd index add "$MNT/db" "$T/B.jsonl"
    assert_rc 1
    assert_file_contains "$ERR" "Read-only file system"
    nd index add "$MNT/new" "$T/B.jsonl"
    assert_rc 1
    assert_file_contains "$ERR" "cannot create the index directory"
    nd query "$MNT/db" --top 1 "$T/B.jsonl"
    assert_rc 0 "query on a read-only file system"
    umount "$MNT"
else
    echo "[$TEST_NAME] skipped: full disk and read-only file system (mount needs root)"
fi

if [[ $(id -u) != 0 ]]; then
    check "a read-only directory (no root): exit 1, nothing created"
    mkdir "$T/ro" && chmod 555 "$T/ro"
    nd index add "$T/ro/db" "$T/A.jsonl"
    assert_rc 1
    assert_file_contains "$ERR" "cannot create the index directory"
    chmod 755 "$T/ro"
fi

pass
