/* db.c - the persistent index: open or create, metadata, locks, errors,
 * stats (runs are in db_write.c, queries in db_query.c).
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
 *   bands  band key (db_band_key, uint64) -> document numbers (duplicates);
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

#include <assert.h>       /* assert (preconditions, debug builds) */
#include <dirent.h>       /* opendir, readdir */
#include <errno.h>        /* errno, ENOENT */
#include <fcntl.h>        /* open, fcntl, struct flock */
#include <stdarg.h>       /* va_list */
#include <stdio.h>        /* snprintf, vsnprintf */
#include <string.h>       /* strlen, strcmp, memcpy, strerror */
#include <sys/resource.h> /* getrlimit, RLIMIT_FSIZE */
#include <sys/stat.h>     /* stat, mkdir */
#include <sys/statvfs.h>  /* statvfs */
#include <unistd.h>       /* close, unlink, rmdir */

#include "alloc.h"

enum { MAX_READERS = 512 };

static const uint64_t DEFAULT_MAP_BYTES = 1ULL << 40;
static const uint64_t MIN_MAP_BYTES = 64ULL << 20;

int db_join(char *out, size_t size, const char *dir, const char *name)
{
    int n = snprintf(out, size, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= size) {
        out[0] = '\0';
        return -1;
    }
    return 0;
}

/* ****  Errors  **** */

int db_fail(nd_db *db, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    pthread_mutex_lock(&db->mutex);
    vsnprintf(db->message, sizeof db->message, fmt, ap);
    pthread_mutex_unlock(&db->mutex);
    va_end(ap);
    return status;
}

int db_status(int rc)
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

int db_fail_mdb(nd_db *db, int rc, const char *what)
{
    if (rc == MDB_MAP_FULL)
        return db_fail(db, ND_EFULL, "%s: %s: the index reached its size limit of %llu bytes", db->path, what,
                       (unsigned long long)db->map_bytes);
    return db_fail(db, db_status(rc), "%s: %s: %s", db->path, what, mdb_strerror(rc));
}

int db_write_error(nd_db *db, int rc, char *detail, size_t size)
{
    if (rc == MDB_MAP_FULL) {
        snprintf(detail, size, "the index reached its size limit of %llu bytes", (unsigned long long)db->map_bytes);
        return ND_EFULL;
    }
    snprintf(detail, size, "%s", mdb_strerror(rc));
    if (rc != EIO)
        return db_status(rc) == ND_ENOTFOUND ? ND_EIO : db_status(rc);
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
        db_join(path, sizeof path, db->path, "data.mdb") == 0 && stat(path, &st) == 0 &&
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
static int take_locks(nd_db *db)
{
    char lock_path[DB_PATH_MAX];
    db_join(lock_path, sizeof lock_path, db->path, "neardup.lock");
    int writer = (db->flags & ND_DB_WRITE) != 0;
    db->lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (db->lock_fd < 0 && !writer && (errno == EACCES || errno == EROFS))
        db->lock_fd = open(lock_path, O_RDONLY | O_CLOEXEC);
    if (db->lock_fd < 0) {
        if (!writer && (errno == EACCES || errno == EROFS || errno == ENOENT))
            return ND_OK; /* a read-only place: nobody can write or compact there either */
        return db_fail(db, ND_EIO, "%s: cannot open the lock file %s: %s", db->path, lock_path, strerror(errno));
    }
    if (ofd_lock(db->lock_fd, F_RDLCK, 1, 1) != 0)
        return db_fail(db, ND_EIO, "%s: cannot lock %s: %s", db->path, lock_path, strerror(errno));
    if (writer && ofd_lock(db->lock_fd, F_WRLCK, 0, (db->flags & ND_DB_WAIT) != 0) != 0) {
        if (errno == EAGAIN || errno == EACCES)
            return db_fail(db, ND_EBUSY,
                           "%s: another process is writing to this index (it holds the write lock %s); "
                           "wait for it to finish, or ask to wait",
                           db->path, lock_path);
        return db_fail(db, ND_EIO, "%s: cannot lock %s: %s", db->path, lock_path, strerror(errno));
    }
    return ND_OK;
}

int db_lock_alone(nd_db *db, int alone)
{
    if (db->lock_fd < 0)
        return db_fail(db, ND_EIO, "%s: no lock file (neardup.lock) to hold the index alone", db->path);
    if (ofd_lock(db->lock_fd, alone ? F_WRLCK : F_RDLCK, 1, !alone) == 0)
        return ND_OK;
    if (errno == EAGAIN || errno == EACCES)
        return db_fail(db, ND_EBUSY,
                       "%s: another handle or process has the index open (it holds %s/neardup.lock); compacting "
                       "replaces the data file and needs the index alone",
                       db->path, db->path);
    return db_fail(db, ND_EIO, "%s: cannot lock %s/neardup.lock: %s", db->path, db->path, strerror(errno));
}

/* ****  Opening  **** */

static int file_exists(const char *dir, const char *name)
{
    char path[DB_PATH_MAX];
    struct stat st;
    return db_join(path, sizeof path, dir, name) == 0 && stat(path, &st) == 0;
}

static int dir_is_empty(const char *path)
{
    DIR *d = opendir(path);
    if (!d)
        return 0;
    struct dirent *e;
    int empty = 1;
    while (empty && (e = readdir(d)) != NULL)
        empty = strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 || strcmp(e->d_name, "neardup.lock") == 0;
    closedir(d);
    return empty;
}

/* Check the path and create the directory if asked. */
static int prepare_path(nd_db *db)
{
    struct stat st;
    int create = (db->flags & ND_DB_CREATE) != 0;
    if (stat(db->path, &st) != 0) {
        if (errno != ENOENT)
            return db_fail(db, ND_EIO, "%s: %s", db->path, strerror(errno));
        if (!create)
            return db_fail(db, ND_ENOTFOUND, "%s: no such index (no such file or directory)", db->path);
        if (mkdir(db->path, 0777) != 0)
            return db_fail(db, ND_EIO, "%s: cannot create the index directory: %s", db->path, strerror(errno));
        db->made_dir = 1;
        return ND_OK;
    }
    if (db->flags & ND_DB_TEMPORARY)
        return db_fail(db, ND_EINVAL, "%s: a temporary index needs a path that does not exist", db->path);
    if (!S_ISDIR(st.st_mode))
        return db_fail(db, ND_EFORMAT, "%s: not a neardup index (a file; an index is a directory)", db->path);
    if (file_exists(db->path, "data.mdb"))
        return ND_OK;
    if (create && dir_is_empty(db->path))
        return ND_OK;
    if (create)
        return db_fail(db, ND_EFORMAT, "%s: not a neardup index (a directory without data.mdb that is not empty)",
                       db->path);
    return db_fail(db, ND_ENOTFOUND, "%s: no index in this directory (no data.mdb)", db->path);
}

/* db->map_bytes: the map size to ask for, 0 for the default (halved while
 * the address space is short); set to the size LMDB took. */
int db_open_env(nd_db *db, MDB_env **out, const char *path, unsigned extra_flags)
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
            return db_fail_mdb(db, rc, "cannot create an LMDB environment");
        mdb_env_set_maxdbs(env, 8);
        mdb_env_set_maxreaders(env, MAX_READERS);
        mdb_env_set_mapsize(env, (size_t)map);
        rc = mdb_env_open(env, path, env_flags, 0666);
        if (rc == 0) {
            MDB_envinfo info;
            mdb_env_info(env, &info);
            db->map_bytes = info.me_mapsize;
            *out = env;
            return ND_OK;
        }
        mdb_env_close(env);
        if ((rc == ENOMEM || rc == EINVAL) && shrink && map / 2 >= MIN_MAP_BYTES) {
            map /= 2; /* not enough address space (or a tool such as valgrind refusing it): a smaller map */
            continue;
        }
        if (rc == MDB_INVALID || rc == MDB_VERSION_MISMATCH)
            return db_fail(db, ND_EFORMAT, "%s: not a neardup index (data.mdb is not an LMDB database: %s)", db->path,
                           mdb_strerror(rc));
        if (rc == EACCES || rc == EROFS)
            return db_fail(db, ND_EIO, "%s: cannot open the index %s: %s%s", db->path,
                           (db->flags & ND_DB_WRITE) ? "for writing" : "for reading", mdb_strerror(rc),
                           (db->flags & ND_DB_WRITE) ? "" : " (readers write to its lock file lock.mdb)");
        return db_fail_mdb(db, rc, "cannot open the index");
    }
}

static int open_dbi(nd_db *db, MDB_txn *txn, const char *name, unsigned flags, MDB_dbi *dbi)
{
    int rc = mdb_dbi_open(txn, name, flags, dbi);
    if (rc == MDB_NOTFOUND)
        return db_fail(db, ND_EFORMAT, "%s: not a neardup index (an LMDB database without \"%s\")", db->path, name);
    return rc ? db_fail_mdb(db, rc, "opening a database") : ND_OK;
}

/* The four databases of an existing index, in txn. */
static int open_dbis(nd_db *db, MDB_txn *txn)
{
    int rc = open_dbi(db, txn, DB_META, 0, &db->meta);
    if (rc == ND_OK)
        rc = open_dbi(db, txn, DB_DOCS, DB_FLAGS_DOCS, &db->docs);
    if (rc == ND_OK)
        rc = open_dbi(db, txn, DB_IDS, DB_FLAGS_LISTS, &db->ids);
    if (rc == ND_OK)
        rc = open_dbi(db, txn, DB_BANDS, DB_FLAGS_LISTS, &db->bands);
    return rc;
}

int db_reopen(nd_db *db)
{
    mdb_env_close(db->env);
    db->env = NULL;
    MDB_txn *txn;
    int rc = db_open_env(db, &db->env, db->path, 0);
    if (rc == ND_OK)
        rc = db_begin_read(db, &txn);
    if (rc != ND_OK)
        return rc;
    rc = open_dbis(db, txn);
    if (rc != ND_OK) {
        mdb_txn_abort(txn);
        return rc;
    }
    int mrc = mdb_txn_commit(txn);
    return mrc ? db_fail_mdb(db, mrc, "reopening the index") : ND_OK;
}

/* A new index, inside the first run's transaction (left open). */
static int create_index(nd_db *db, MDB_txn *txn, const nd_db_config *config)
{
    db->opts = config->options;
    if (nd_options_resolve(&db->opts) != ND_OK)
        return db_fail(db, ND_EINVAL, "%s: invalid options for a new index", db->path);
    if (db->opts.measure != ND_MEASURE_JACCARD)
        return db_fail(db, ND_EINVAL, "%s: the persistent index verifies the Jaccard measure only", db->path);
    int rc = open_dbi(db, txn, DB_META, MDB_CREATE, &db->meta);
    if (rc == ND_OK)
        rc = open_dbi(db, txn, DB_DOCS, MDB_CREATE | DB_FLAGS_DOCS, &db->docs);
    if (rc == ND_OK)
        rc = open_dbi(db, txn, DB_IDS, MDB_CREATE | DB_FLAGS_LISTS, &db->ids);
    if (rc == ND_OK)
        rc = open_dbi(db, txn, DB_BANDS, MDB_CREATE | DB_FLAGS_LISTS, &db->bands);
    if (rc == ND_OK)
        rc = db_write_meta(db, txn);
    if (rc != ND_OK)
        return rc;
    db->txn = txn;
    db->txn_thread = pthread_self();
    db->uncommitted_creation = 1;
    return ND_OK;
}

static int open_existing(nd_db *db, MDB_txn *txn, const nd_db_config *config)
{
    uint64_t next_doc;
    int rc = open_dbi(db, txn, DB_META, 0, &db->meta);
    if (rc == ND_OK)
        rc = db_check_meta(db, txn, config); /* sets db->opts */
    if (rc == ND_OK)
        rc = open_dbis(db, txn);
    if (rc == ND_OK)
        rc = db_read_counters(db, txn, &next_doc, &db->documents, &db->removed);
    if (rc != ND_OK)
        return rc;
    db->next_doc = db->base_doc = (uint32_t)next_doc;
    db->committed_documents = db->documents;
    db->committed_removed = db->removed;
    rc = mdb_txn_commit(txn); /* keeps the database handles for every later transaction */
    return rc ? db_fail_mdb(db, rc, "opening the index") : ND_OK;
}

static int open_index(nd_db *db, const nd_db_config *config)
{
    int rc = prepare_path(db);
    if (rc == ND_OK && !(db->flags & ND_DB_TEMPORARY))
        rc = take_locks(db);
    db->map_bytes = config->max_bytes;
    if (rc == ND_OK)
        rc = db_open_env(db, &db->env, db->path, 0);
    if (rc != ND_OK)
        return rc;
    MDB_txn *txn = NULL;
    int writer = (db->flags & ND_DB_WRITE) != 0;
    int mrc = mdb_txn_begin(db->env, NULL, writer ? 0 : MDB_RDONLY, &txn);
    if (mrc)
        return db_fail_mdb(db, mrc, "cannot begin a transaction");
    MDB_dbi main_dbi;
    MDB_stat st;
    mrc = mdb_dbi_open(txn, NULL, 0, &main_dbi);
    if (mrc == 0)
        mrc = mdb_stat(txn, main_dbi, &st);
    if (mrc) {
        mdb_txn_abort(txn);
        return db_fail_mdb(db, mrc, "reading the index");
    }
    if (st.ms_entries == 0 && !(db->flags & ND_DB_CREATE)) {
        mdb_txn_abort(txn);
        return db_fail(db, ND_ENOTFOUND,
                       "%s: no index here yet (the run that was creating it did not finish; `add` starts it anew)",
                       db->path);
    }
    rc = st.ms_entries == 0 ? create_index(db, txn, config) : open_existing(db, txn, config);
    if (rc != ND_OK && db->txn != txn)
        mdb_txn_abort(txn);
    return rc;
}

/* A temporary index's files are unlinked as soon as it is open: they
 * vanish with the process, however it ends. */
static void unlink_temporary(nd_db *db)
{
    char path[DB_PATH_MAX];
    if (db_join(path, sizeof path, db->path, "data.mdb") == 0)
        unlink(path);
    if (db_join(path, sizeof path, db->path, "lock.mdb") == 0)
        unlink(path);
    rmdir(db->path);
}

int nd_db_open(nd_db **out, char *message, size_t message_size, const char *path, const nd_db_config *config)
{
    assert(out && (message || message_size == 0));
    nd_db_config defaults = ND_DB_CONFIG_INIT;
    if (!config)
        config = &defaults;
    if (message && message_size)
        message[0] = '\0';
    nd_db *db = nd_calloc(1, sizeof *db);
    if (!db)
        return ND_ENOMEM;
    pthread_mutex_init(&db->mutex, NULL);
    db->lock_fd = -1;
    db->flags = config->flags;
    if (db->flags & ND_DB_TEMPORARY)
        db->flags |= ND_DB_WRITE | ND_DB_CREATE;
    if (!(db->flags & ND_DB_WRITE))
        db->flags &= ~ND_DB_CREATE;
    size_t len = path ? strlen(path) : 0;
    db->path = nd_malloc(len + 1);
    int rc;
    if (!db->path) {
        rc = ND_ENOMEM;
    } else if (len == 0 || len > DB_PATH_LIMIT) {
        memcpy(db->path, "", 1);
        rc = db_fail(db, ND_EINVAL, "the index path is %s", len ? "too long" : "empty");
    } else {
        memcpy(db->path, path, len + 1);
        /* each buffered entry needs its twin in the sort's scratch */
        db->pending.limit = (config->memory ? config->memory : 1ULL << 30) / (2 * sizeof(band_entry));
        if (db->pending.limit < 1024)
            db->pending.limit = 1024;
        rc = open_index(db, config);
        if (rc == ND_OK && (db->flags & ND_DB_TEMPORARY))
            unlink_temporary(db);
    }
    if (rc != ND_OK) {
        if (message && message_size)
            nd_db_error(message, message_size, db);
        if ((db->flags & ND_DB_TEMPORARY) && db->made_dir)
            unlink_temporary(db);
        nd_db_close(db);
        return rc;
    }
    *out = db;
    return ND_OK;
}

void nd_db_close(nd_db *db)
{
    if (!db)
        return;
    db_abandon_run(db);
    db_pending_free(&db->pending);
    if (db->env)
        mdb_env_close(db->env);
    if (db->lock_fd >= 0)
        close(db->lock_fd); /* releases its locks */
    for (size_t i = 0; i < db->idle_count; i++)
        nd_sketcher_free(db->idle[i]);
    nd_free(db->idle);
    nd_free(db->path);
    pthread_mutex_destroy(&db->mutex);
    nd_free(db);
}

/* ****  Shared helpers  **** */

int db_begin_read(nd_db *db, MDB_txn **txn)
{
    int rc = mdb_txn_begin(db->env, NULL, MDB_RDONLY, txn);
    return rc ? db_fail_mdb(db, rc, "cannot begin a read transaction") : ND_OK;
}

nd_sketcher *db_take_sketcher(nd_db *db, int *rc)
{
    nd_sketcher *sk = NULL;
    pthread_mutex_lock(&db->mutex);
    if (db->idle_count > 0)
        sk = db->idle[--db->idle_count];
    pthread_mutex_unlock(&db->mutex);
    if (sk)
        return sk;
    *rc = nd_sketcher_new(&sk, &db->opts);
    if (*rc != ND_OK) {
        db_fail(db, *rc, "%s: cannot make a sketcher: %s", db->path, nd_strerror(*rc));
        return NULL;
    }
    return sk;
}

void db_give_sketcher(nd_db *db, nd_sketcher *sk)
{
    pthread_mutex_lock(&db->mutex);
    int kept = nd_grow((void **)&db->idle, &db->idle_capacity, db->idle_count + 1, sizeof *db->idle) == 0;
    if (kept)
        db->idle[db->idle_count++] = sk;
    pthread_mutex_unlock(&db->mutex);
    if (!kept)
        nd_sketcher_free(sk);
}
