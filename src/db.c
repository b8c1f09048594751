/* db.c - the persistent index's bottom layer: errors, locks, the LMDB
 * environment and its databases, read transactions. Every other db_*.c
 * calls down into it and it calls none of them. The layers, each calling
 * only those below it:
 *
 *   db_open.c                 nd_db_open, nd_db_close (create or check)
 *   db_query.c  db_compact.c  queries; reclaiming space
 *   db_query_passes.c         a query's passes (its pair budget)
 *   db_query_worker.c         a query's candidates and verification
 *   db_write.c                runs: add, remove, commit
 *   db_meta.c  db_batch.c     metadata, counters, stats; sketching texts
 *   db.c  db_record.c         this file; the document record's encoding;
 *   db_bucket.c               a Jaccard index's band entries in buckets
 *
 *
 * An index is a directory holding an LMDB environment (data.mdb, lock.mdb)
 * with four databases:
 *
 *   meta   text keys and values: the format version, every option that
 *          changes a sketch (profile and its version, shingle kind and
 *          sizes, hashes, bands and rows, threshold, seed), the Unicode and
 *          ICU versions, the neardup version that made it, and counters;
 *   docs   document number (uint32) -> record (db_record.c);
 *   ids    64-bit hash of an id -> document numbers (uint32 duplicates);
 *   bands  band entries: in a Jaccard index bucket (uint64) -> its
 *          entries packed, 8 bytes each (db_bucket.c); in a containment
 *          index posting key (uint64) -> documents (duplicates);
 * integers in native byte order, compared as numbers (db_internal.h).
 *
 * LMDB gives the guarantees: a write transaction is atomic and durable
 * (copy-on-write pages, the meta page written last, fsync), readers see a
 * snapshot and never block the writer, and a killed writer leaves nothing
 * to repair. A new index is created inside its first run's transaction, so
 * a creating run that does not finish leaves no index (an empty LMDB file
 * that the next `add` takes over and other opens report as absent).
 *
 * What the index records about itself (meta), and checking it against the
 * caller's options and this library's versions, is in db_meta.c.
 *
 * Locks (neardup.lock, open file description locks, so that two handles of
 * one process exclude each other as two processes do): byte 0 is the write
 * lock, held by a write handle for its life (a second writer fails with
 * ND_EBUSY naming the file, or waits with ND_DB_WAIT); byte 1 is held
 * shared by every handle and exclusively by nd_db_compact, which replaces
 * the data file and so needs the index alone. LMDB's own writer mutex is
 * never waited on: the write lock is taken first.
 *
 * The map: LMDB maps the data file into memory at a fixed size, an upper
 * bound on the file (MDB_MAP_FULL past it). The default is 1 TiB of
 * address space, not of disk (the file grows as written; without
 * MDB_WRITEMAP it is not preallocated, and a full disk is a write error,
 * not a SIGBUS); when the address space is short the map is halved until
 * it fits. Every handle uses the same size, so no reader ever meets a map
 * resized under it.
 */
#define _GNU_SOURCE /* F_OFD_SETLK, F_OFD_SETLKW (open file description locks) */

#include "db_internal.h"

#include <errno.h>        /* errno, ENOENT */
#include <fcntl.h>        /* open, fcntl, struct flock */
#include <stdarg.h>       /* va_list */
#include <stdio.h>        /* snprintf, vsnprintf */
#include <string.h>       /* strlen, memcpy, strerror */
#include <sys/resource.h> /* getrlimit, RLIMIT_FSIZE */
#include <sys/stat.h>     /* stat */
#include <sys/statvfs.h>  /* statvfs */
#include <unistd.h>       /* close, access */

#include "alloc.h"

enum { MAX_READERS = 512 };

static const uint64_t DEFAULT_MAP_BYTES = 1ULL << 40;
static const uint64_t MIN_MAP_BYTES = 64ULL << 20;

int nd_db_join(char *out, size_t size, const char *dir, const char *name)
{
    int n = snprintf(out, size, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= size) {
        out[0] = '\0';
        return -1;
    }
    return 0;
}

/* ****  Errors  **** */

int nd_db_fail(nd_db *db, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    pthread_mutex_lock(&db->mutex);
    vsnprintf(db->message, sizeof db->message, fmt, ap);
    pthread_mutex_unlock(&db->mutex);
    va_end(ap);
    return status;
}

int nd_db_status(int rc)
{
    switch (rc) {
    case MDB_SUCCESS:
        return ND_OK;
    case MDB_MAP_FULL:
    case ENOSPC:
    case EDQUOT:
    case EFBIG:
        return ND_EFULL;
    case ENOMEM:
        return ND_ENOMEM;
    case MDB_INVALID:
    case MDB_VERSION_MISMATCH:
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND:
    case MDB_INCOMPATIBLE:
        return ND_EFORMAT;
    case MDB_READERS_FULL:
        return ND_EBUSY;
    case MDB_NOTFOUND:
        return ND_ENOTFOUND;
    case MDB_KEYEXIST:
        return ND_EEXIST;
    default:
        return ND_EIO;
    }
}

int nd_db_fail_mdb(nd_db *db, int rc, const char *what)
{
    if (rc == MDB_MAP_FULL)
        return nd_db_fail(db, ND_EFULL, "%s: %s: the index reached its size limit of %llu bytes", db->path, what,
                          (unsigned long long)db->map_bytes);
    return nd_db_fail(db, nd_db_status(rc), "%s: %s: %s", db->path, what, mdb_strerror(rc));
}

int nd_db_write_error(nd_db *db, int rc, char *detail, size_t size)
{
    if (rc == MDB_MAP_FULL) {
        snprintf(detail, size, "the index reached its size limit of %llu bytes", (unsigned long long)db->map_bytes);
        return ND_EFULL;
    }
    snprintf(detail, size, "%s", mdb_strerror(rc));
    if (rc != EIO)
        return nd_db_status(rc) == ND_ENOTFOUND ? ND_EIO : nd_db_status(rc);
    char path[DB_PATH_MAX];
    struct statvfs fs;
    struct stat st;
    struct rlimit limit;
    if (statvfs(db->path, &fs) == 0 && (uint64_t)fs.f_bavail * fs.f_frsize < (1u << 20)) {
        snprintf(detail, size, "No space left on device (a short write; %llu bytes free)",
                 (unsigned long long)fs.f_bavail * fs.f_frsize);
        return ND_EFULL;
    }
    if (getrlimit(RLIMIT_FSIZE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY &&
        nd_db_join(path, sizeof path, db->path, "data.mdb") == 0 && stat(path, &st) == 0 &&
        (uint64_t)st.st_size + (1u << 20) >= (uint64_t)limit.rlim_cur) {
        snprintf(detail, size, "File too large (a short write at the file size limit of %llu bytes, ulimit -f)",
                 (unsigned long long)limit.rlim_cur);
        return ND_EFULL;
    }
    return ND_EIO;
}

size_t nd_db_error(char *out, size_t size, const nd_db *db)
{
    nd_db *mutable_db = (nd_db *)(uintptr_t)db; /* the mutex only */
    pthread_mutex_lock(&mutable_db->mutex);
    size_t len = strlen(db->message);
    if (size > 0) {
        size_t n = len < size - 1 ? len : size - 1;
        memcpy(out, db->message, n);
        out[n] = '\0';
    }
    pthread_mutex_unlock(&mutable_db->mutex);
    return len;
}

const nd_options *nd_db_options(const nd_db *db)
{
    return &db->opts;
}

/* ****  Locks  **** */

static int ofd_lock(int fd, short type, off_t byte, int wait)
{
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = type;
    fl.l_whence = SEEK_SET;
    fl.l_start = byte;
    fl.l_len = 1;
    return fcntl(fd, wait ? F_OFD_SETLKW : F_OFD_SETLK, &fl);
}

/* Byte 1 shared (every handle), then byte 0 exclusive (writers). */
int nd_db_take_locks(nd_db *db)
{
    char lock_path[DB_PATH_MAX];
    nd_db_join(lock_path, sizeof lock_path, db->path, "neardup.lock");
    int writer = (db->flags & ND_DB_WRITE) != 0;
    db->lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (db->lock_fd < 0 && !writer && (errno == EACCES || errno == EROFS))
        db->lock_fd = open(lock_path, O_RDONLY | O_CLOEXEC);
    if (db->lock_fd < 0) {
        if (!writer && (errno == EACCES || errno == EROFS || errno == ENOENT))
            return ND_OK; /* a read-only place: nobody can write or compact there either */
        return nd_db_fail(db, ND_EIO, "%s: cannot open the lock file %s: %s", db->path, lock_path, strerror(errno));
    }
    if (ofd_lock(db->lock_fd, F_RDLCK, 1, 1) != 0)
        return nd_db_fail(db, ND_EIO, "%s: cannot lock %s: %s", db->path, lock_path, strerror(errno));
    if (writer && ofd_lock(db->lock_fd, F_WRLCK, 0, (db->flags & ND_DB_WAIT) != 0) != 0) {
        if (errno == EAGAIN || errno == EACCES)
            return nd_db_fail(db, ND_EBUSY,
                              "%s: another process is writing to this index (it holds the write lock %s); "
                              "wait for it to finish, or ask to wait",
                              db->path, lock_path);
        return nd_db_fail(db, ND_EIO, "%s: cannot lock %s: %s", db->path, lock_path, strerror(errno));
    }
    return ND_OK;
}

int nd_db_lock_alone(nd_db *db, int alone)
{
    if (db->lock_fd < 0)
        return nd_db_fail(db, ND_EIO, "%s: no lock file (neardup.lock) to hold the index alone", db->path);
    if (ofd_lock(db->lock_fd, alone ? F_WRLCK : F_RDLCK, 1, !alone) == 0)
        return ND_OK;
    if (errno == EAGAIN || errno == EACCES)
        return nd_db_fail(db, ND_EBUSY,
                          "%s: another handle or process has the index open (it holds %s/neardup.lock); compacting "
                          "replaces the data file and needs the index alone",
                          db->path, db->path);
    return nd_db_fail(db, ND_EIO, "%s: cannot lock %s/neardup.lock: %s", db->path, db->path, strerror(errno));
}

/* ****  The environment  **** */

/* A data file shorter than its last committed page (a copy cut short, a
 * file truncated) would be read past its end through the map: a SIGBUS
 * instead of a message. LMDB trusts the meta page, so the size is checked
 * here, once per open. */
static int check_file_size(nd_db *db, MDB_env *env, const MDB_envinfo *info)
{
    MDB_stat env_stat;
    mdb_filehandle_t fd;
    struct stat st;
    if (mdb_env_stat(env, &env_stat) != 0 || mdb_env_get_fd(env, &fd) != 0 || fstat(fd, &st) != 0)
        return ND_OK; /* nothing to compare with: LMDB's own checks stand */
    uint64_t needed = ((uint64_t)info->me_last_pgno + 1) * env_stat.ms_psize;
    if ((uint64_t)st.st_size >= needed)
        return ND_OK;
    return nd_db_fail(db, ND_EFORMAT,
                      "%s: the index is damaged: data.mdb has %llu bytes, but its pages go on to byte %llu (the file "
                      "was cut short; restore a copy or rebuild the index)",
                      db->path, (unsigned long long)st.st_size, (unsigned long long)needed);
}

/* A reader meeting an empty data.mdb (a first run killed before LMDB wrote
 * its first pages, or a file emptied from outside): LMDB cannot open it
 * read-only and says only "Bad file descriptor". A writer starts anew, as
 * after any first run that did not finish. */
static int data_file_empty(const char *path)
{
    char file[DB_PATH_MAX];
    struct stat st;
    return nd_db_join(file, sizeof file, path, "data.mdb") == 0 && stat(file, &st) == 0 && S_ISREG(st.st_mode) &&
           st.st_size == 0;
}

/* nd_db_set_damage_handler's function, given to every environment as
 * LMDB's assertion callback (read and set atomically: any thread). */
static void (*damage_handler)(const char *message);

void nd_db_set_damage_handler(void (*handler)(const char *message))
{
    __atomic_store_n(&damage_handler, handler, __ATOMIC_RELEASE);
}

static void on_lmdb_assert(MDB_env *env, const char *message)
{
    (void)env;
    void (*handler)(const char *) = __atomic_load_n(&damage_handler, __ATOMIC_ACQUIRE);
    if (handler)
        handler(message); /* does not return; else LMDB aborts, as without it */
}

/* db->map_bytes: the map size to ask for, 0 for the default (halved while
 * the address space is short); set to the size LMDB took. */
int nd_db_open_env(nd_db *db, MDB_env **out, const char *path, unsigned extra_flags)
{
    unsigned env_flags = MDB_NOTLS | extra_flags;
    if (!(db->flags & ND_DB_WRITE))
        env_flags |= MDB_RDONLY;
    if (db->flags & ND_DB_TEMPORARY)
        env_flags |= MDB_NOSYNC;
    int shrink = db->map_bytes == 0;
    uint64_t map = db->map_bytes ? db->map_bytes : DEFAULT_MAP_BYTES;
    if (sizeof(size_t) < 8 && map > (1ULL << 30))
        map = 1ULL << 30;
    for (;;) {
        MDB_env *env;
        int rc = mdb_env_create(&env);
        if (rc)
            return nd_db_fail_mdb(db, rc, "cannot create an LMDB environment");
        mdb_env_set_assert(env, on_lmdb_assert);
        mdb_env_set_maxdbs(env, 8);
        mdb_env_set_maxreaders(env, MAX_READERS);
        mdb_env_set_mapsize(env, (size_t)map);
        rc = mdb_env_open(env, path, env_flags, 0666);
        if (rc == 0) {
            MDB_envinfo info;
            mdb_env_info(env, &info);
            db->map_bytes = info.me_mapsize;
            rc = check_file_size(db, env, &info);
            if (rc != ND_OK) {
                mdb_env_close(env);
                return rc;
            }
            *out = env;
            return ND_OK;
        }
        mdb_env_close(env);
        if ((rc == ENOMEM || rc == EINVAL) && shrink && map / 2 >= MIN_MAP_BYTES) {
            map /= 2; /* not enough address space (or a tool such as valgrind refusing it): a smaller map */
            continue;
        }
        if ((env_flags & MDB_RDONLY) && data_file_empty(path))
            return nd_db_fail(db, ND_ENOTFOUND,
                              "%s: no index here yet (data.mdb is empty: the run that was creating it did not finish, "
                              "or the file was emptied; `add` starts it anew)",
                              db->path);
        if (rc == MDB_INVALID || rc == MDB_VERSION_MISMATCH)
            return nd_db_fail(db, ND_EFORMAT, "%s: not a neardup index (data.mdb is not an LMDB database: %s)",
                              db->path, mdb_strerror(rc));
        char data[DB_PATH_MAX];
        if (rc == EACCES && nd_db_join(data, sizeof data, path, "data.mdb") == 0 &&
            access(data, (db->flags & ND_DB_WRITE) ? R_OK | W_OK : R_OK) != 0) /* (not the lock file) */
            return nd_db_fail(db, ND_EIO, "%s: cannot open the index %s: data.mdb: %s", db->path,
                              (db->flags & ND_DB_WRITE) ? "for writing" : "for reading", strerror(errno));
        if (rc == EACCES || rc == EROFS)
            return nd_db_fail(db, ND_EIO, "%s: cannot open the index %s: %s%s", db->path,
                              (db->flags & ND_DB_WRITE) ? "for writing" : "for reading", mdb_strerror(rc),
                              (db->flags & ND_DB_WRITE) ? "" : " (readers write to its lock file lock.mdb)");
        return nd_db_fail_mdb(db, rc, "cannot open the index");
    }
}

int nd_db_open_dbi(nd_db *db, MDB_txn *txn, const char *name, unsigned flags, MDB_dbi *dbi)
{
    int rc = mdb_dbi_open(txn, name, flags, dbi);
    if (rc == MDB_NOTFOUND)
        return nd_db_fail(db, ND_EFORMAT, "%s: not a neardup index (an LMDB database without \"%s\")", db->path, name);
    if (rc)
        return nd_db_fail_mdb(db, rc, "opening a database");
    /* LMDB opens an existing database with the flags stored for it, not
     * the ones asked for: a Jaccard index's bands read as a containment
     * index's (its format in meta changed) answered nothing, and adding
     * wrote sorted duplicates over its buckets */
    unsigned have = 0;
    rc = mdb_dbi_flags(txn, *dbi, &have);
    if (rc)
        return nd_db_fail_mdb(db, rc, "opening a database");
    if ((have & ~(unsigned)MDB_CREATE) != (flags & ~(unsigned)MDB_CREATE))
        return nd_db_fail(db, ND_EFORMAT,
                          "%s: not a neardup index of its format (database \"%s\" has LMDB flags 0x%x, not 0x%x)",
                          db->path, name, have, flags & ~(unsigned)MDB_CREATE);
    return ND_OK;
}

/* The four databases of an existing index, in txn. */
int nd_db_open_dbis(nd_db *db, MDB_txn *txn)
{
    int rc = nd_db_open_dbi(db, txn, DB_META, 0, &db->meta);
    if (rc == ND_OK)
        rc = nd_db_open_dbi(db, txn, DB_DOCS, DB_FLAGS_DOCS, &db->docs);
    if (rc == ND_OK)
        rc = nd_db_open_dbi(db, txn, DB_IDS, DB_FLAGS_LISTS, &db->ids);
    if (rc == ND_OK)
        rc = nd_db_open_dbi(db, txn, DB_BANDS, db_bands_flags(db), &db->bands);
    return rc;
}

int nd_db_reopen(nd_db *db)
{
    mdb_env_close(db->env);
    db->env = NULL;
    MDB_txn *txn;
    int rc = nd_db_open_env(db, &db->env, db->path, 0);
    if (rc == ND_OK)
        rc = nd_db_begin_read(db, &txn);
    if (rc != ND_OK)
        return rc;
    rc = nd_db_open_dbis(db, txn);
    if (rc != ND_OK) {
        mdb_txn_abort(txn);
        return rc;
    }
    int mrc = mdb_txn_commit(txn);
    return mrc ? nd_db_fail_mdb(db, mrc, "reopening the index") : ND_OK;
}

/* ****  Shared helpers  **** */

int nd_db_begin_read(nd_db *db, MDB_txn **txn)
{
    int rc = mdb_txn_begin(db->env, NULL, MDB_RDONLY, txn);
    return rc ? nd_db_fail_mdb(db, rc, "cannot begin a read transaction") : ND_OK;
}
