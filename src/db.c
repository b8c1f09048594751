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
 *   docs   document number (4 bytes, big-endian) -> record (db_record.c);
 *   ids    64-bit hash of an id -> document numbers (dups, 4 bytes each);
 *   bands  band key (db_band_key, 8 bytes) -> document numbers (dups).
 *
 * LMDB gives the guarantees: a write transaction is atomic and durable
 * (copy-on-write pages, the meta page written last, fsync), readers see a
 * snapshot and never block the writer, and a killed writer leaves nothing
 * to repair. A new index is created inside its first run's transaction, so
 * a creating run that does not finish leaves no index (an empty LMDB file
 * that the next `add` takes over and other opens report as absent).
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
#include <stdlib.h>       /* strtoull, strtod */
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

/* ****  Metadata  **** */

static const char *shingle_kind_name(nd_shingle_kind kind)
{
    return kind == ND_SHINGLE_WORDS ? "words" : kind == ND_SHINGLE_CHARS ? "chars" : "auto";
}

static int put_meta(nd_db *db, MDB_txn *txn, const char *key, const char *value)
{
    MDB_val k = {strlen(key), (void *)(uintptr_t)key};
    MDB_val v = {strlen(value), (void *)(uintptr_t)value};
    int rc = mdb_put(txn, db->meta, &k, &v, 0);
    return rc ? db_fail_mdb(db, rc, "writing metadata") : ND_OK;
}

static int put_meta_u64(nd_db *db, MDB_txn *txn, const char *key, uint64_t value)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)value);
    return put_meta(db, txn, key, buf);
}

/* Read meta value `key` as a NUL-terminated string into buf. ND_EFORMAT
 * (recorded) when it is missing or too long. */
static int get_meta(nd_db *db, MDB_txn *txn, const char *key, char *buf, size_t size)
{
    MDB_val k = {strlen(key), (void *)(uintptr_t)key}, v;
    int rc = mdb_get(txn, db->meta, &k, &v);
    if (rc == MDB_NOTFOUND || (rc == 0 && v.mv_size >= size))
        return db_fail(db, ND_EFORMAT, "%s: not a neardup index of a known format (metadata %s %s)", db->path, key,
                       rc ? "missing" : "too long");
    if (rc)
        return db_fail_mdb(db, rc, "reading metadata");
    memcpy(buf, v.mv_data, v.mv_size);
    buf[v.mv_size] = '\0';
    return ND_OK;
}

static int get_meta_u64(nd_db *db, MDB_txn *txn, const char *key, uint64_t *value)
{
    char buf[32], *end;
    int rc = get_meta(db, txn, key, buf, sizeof buf);
    if (rc != ND_OK)
        return rc;
    errno = 0;
    *value = strtoull(buf, &end, 10);
    if (errno || end == buf || *end)
        return db_fail(db, ND_EFORMAT, "%s: corrupt metadata %s = \"%s\"", db->path, key, buf);
    return ND_OK;
}

int db_write_counters(nd_db *db, MDB_txn *txn)
{
    int rc = put_meta_u64(db, txn, "next_doc", db->next_doc);
    if (rc == ND_OK)
        rc = put_meta_u64(db, txn, "documents", db->documents);
    if (rc == ND_OK)
        rc = put_meta_u64(db, txn, "removed", db->removed);
    return rc;
}

static int write_meta(nd_db *db, MDB_txn *txn)
{
    const nd_options *o = &db->opts;
    char threshold[40];
    snprintf(threshold, sizeof threshold, "%.17g", o->threshold);
    int rc = put_meta_u64(db, txn, "format", ND_DB_FORMAT);
    if (rc == ND_OK)
        rc = put_meta(db, txn, "created_by", ND_VERSION);
    if (rc == ND_OK)
        rc = put_meta(db, txn, "profile", nd_profile_name(o->profile));
    if (rc == ND_OK)
        rc = put_meta_u64(db, txn, "profile_version", nd_profile_version(o->profile));
    if (rc == ND_OK)
        rc = put_meta(db, txn, "shingle_kind", shingle_kind_name(o->shingle_kind));
    if (rc == ND_OK)
        rc = put_meta_u64(db, txn, "shingle_size", o->shingle_size);
    if (rc == ND_OK)
        rc = put_meta_u64(db, txn, "char_size", o->char_size);
    if (rc == ND_OK)
        rc = put_meta_u64(db, txn, "num_perm", o->num_perm);
    if (rc == ND_OK)
        rc = put_meta_u64(db, txn, "bands", o->bands);
    if (rc == ND_OK)
        rc = put_meta_u64(db, txn, "rows", o->rows);
    if (rc == ND_OK)
        rc = put_meta(db, txn, "threshold", threshold);
    if (rc == ND_OK)
        rc = put_meta_u64(db, txn, "seed", o->seed);
    if (rc == ND_OK)
        rc = put_meta(db, txn, "unicode_version", nd_unicode_version());
    if (rc == ND_OK)
        rc = put_meta(db, txn, "icu_version", nd_icu_version());
    if (rc == ND_OK)
        rc = db_write_counters(db, txn);
    return rc;
}

/* What the index records about how it was made, for stats and checks. */
typedef struct made_with {
    nd_options opts;
    uint64_t format, profile_version;
    char unicode_version[16], icu_version[16], created_by[16];
} made_with;

static int read_made_with(nd_db *db, MDB_txn *txn, made_with *m)
{
    char buf[64];
    uint64_t v;
    int rc = get_meta_u64(db, txn, "format", &m->format);
    if (rc != ND_OK)
        return rc;
    if (m->format != ND_DB_FORMAT) {
        get_meta(db, txn, "created_by", m->created_by, sizeof m->created_by);
        return db_fail(db, ND_EFORMAT,
                       "%s: index format %llu (written by neardup %s); this neardup %s reads format %d only: "
                       "rebuild the index from the documents with this neardup (`neardup index add` into a new "
                       "directory), or use a neardup that reads format %llu",
                       db->path, (unsigned long long)m->format, m->created_by[0] ? m->created_by : "?", ND_VERSION,
                       ND_DB_FORMAT, (unsigned long long)m->format);
    }
    nd_options *o = &m->opts;
    if ((rc = get_meta(db, txn, "created_by", m->created_by, sizeof m->created_by)) != ND_OK ||
        (rc = get_meta(db, txn, "unicode_version", m->unicode_version, sizeof m->unicode_version)) != ND_OK ||
        (rc = get_meta(db, txn, "icu_version", m->icu_version, sizeof m->icu_version)) != ND_OK ||
        (rc = get_meta_u64(db, txn, "profile_version", &m->profile_version)) != ND_OK)
        return rc;
    if ((rc = get_meta(db, txn, "profile", buf, sizeof buf)) != ND_OK)
        return rc;
    if (nd_profile_from_name(&o->profile, buf) != ND_OK)
        return db_fail(db, ND_EFORMAT, "%s: the index uses normalization profile \"%s\", unknown to this neardup",
                       db->path, buf);
    if ((rc = get_meta(db, txn, "shingle_kind", buf, sizeof buf)) != ND_OK)
        return rc;
    o->shingle_kind = strcmp(buf, "words") == 0   ? ND_SHINGLE_WORDS
                      : strcmp(buf, "chars") == 0 ? ND_SHINGLE_CHARS
                                                  : ND_SHINGLE_AUTO;
    struct {
        const char *key;
        unsigned *field;
    } sizes[] = {{"shingle_size", &o->shingle_size},
                 {"char_size", &o->char_size},
                 {"num_perm", &o->num_perm},
                 {"bands", &o->bands},
                 {"rows", &o->rows}};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        if ((rc = get_meta_u64(db, txn, sizes[i].key, &v)) != ND_OK)
            return rc;
        *sizes[i].field = (unsigned)v;
    }
    if ((rc = get_meta_u64(db, txn, "seed", &o->seed)) != ND_OK)
        return rc;
    if ((rc = get_meta(db, txn, "threshold", buf, sizeof buf)) != ND_OK)
        return rc;
    o->threshold = strtod(buf, NULL);
    nd_options check = *o;
    if (nd_options_resolve(&check) != ND_OK || check.bands != o->bands || check.rows != o->rows)
        return db_fail(db, ND_EFORMAT, "%s: corrupt metadata (options out of range)", db->path);
    return ND_OK;
}

static void shingle_label(char *buf, size_t size, const nd_options *o)
{
    if (o->shingle_kind == ND_SHINGLE_WORDS)
        snprintf(buf, size, "words:%u", o->shingle_size);
    else if (o->shingle_kind == ND_SHINGLE_CHARS)
        snprintf(buf, size, "chars:%u", o->char_size);
    else
        snprintf(buf, size, "auto (words:%u, chars:%u)", o->shingle_size, o->char_size);
}

/* Versions the index was made with against this library: a different
 * profile version or Unicode version can change the tokens, and so every
 * sketch, without any option differing. */
static int check_versions(nd_db *db, const made_with *m)
{
    const nd_options *o = &m->opts;
    if (m->profile_version != nd_profile_version(o->profile))
        return db_fail(db, ND_EFORMAT,
                       "%s: the index was made with normalization %s/%llu, this neardup has %s/%u, which can "
                       "tokenize differently: rebuild the index with this neardup, or use neardup %s",
                       db->path, nd_profile_name(o->profile), (unsigned long long)m->profile_version,
                       nd_profile_name(o->profile), nd_profile_version(o->profile), m->created_by);
    if (strcmp(m->unicode_version, nd_unicode_version()) != 0)
        return db_fail(db, ND_EFORMAT,
                       "%s: the index was made with Unicode %s (ICU %s), this neardup uses Unicode %s (ICU %s), "
                       "which can normalize differently: rebuild the index with this neardup, or use one built "
                       "with ICU %s",
                       db->path, m->unicode_version, m->icu_version, nd_unicode_version(), nd_icu_version(),
                       m->icu_version);
    return ND_OK;
}

/* Options the caller gave against the index's. */
static int check_given(nd_db *db, const made_with *m, const nd_db_config *config)
{
    const nd_options *have = &m->opts;
    nd_options want = config->options;
    unsigned given = config->given;
    char a[64], b[64];
    const char *name = NULL;
    if ((given & ND_OPT_PROFILE) && want.profile != have->profile) {
        name = "normalize (profile)";
        snprintf(a, sizeof a, "%s", nd_profile_name(have->profile));
        snprintf(b, sizeof b, "%s", nd_profile_name(want.profile) ? nd_profile_name(want.profile) : "?");
    } else if (given & ND_OPT_SHINGLE) {
        shingle_label(a, sizeof a, have);
        shingle_label(b, sizeof b, &want);
        if (strcmp(a, b) != 0)
            name = "shingle";
    }
    if (!name && (given & ND_OPT_NUM_PERM) && want.num_perm != have->num_perm) {
        name = "num_perm";
        snprintf(a, sizeof a, "%u", have->num_perm);
        snprintf(b, sizeof b, "%u", want.num_perm);
    }
    if (!name && (given & ND_OPT_BANDS)) {
        if (want.bands == 0 && want.rows == 0) {
            want.num_perm = have->num_perm; /* chosen as the index's were */
            nd_options_resolve(&want);
        }
        if (want.bands != have->bands || want.rows != have->rows) {
            name = "bands x rows";
            snprintf(a, sizeof a, "%u x %u", have->bands, have->rows);
            snprintf(b, sizeof b, "%u x %u", want.bands, want.rows);
        }
    }
    if (!name && (given & ND_OPT_THRESHOLD) && want.threshold != have->threshold) {
        name = "threshold";
        snprintf(a, sizeof a, "%g", have->threshold);
        snprintf(b, sizeof b, "%g", want.threshold);
    }
    if (!name && (given & ND_OPT_SEED) && want.seed != have->seed) {
        name = "seed";
        snprintf(a, sizeof a, "%llu", (unsigned long long)have->seed);
        snprintf(b, sizeof b, "%llu", (unsigned long long)want.seed);
    }
    if (!name)
        return ND_OK;
    return db_fail(db, ND_EMISMATCH,
                   "%s: option %s: the index was made with %s, given %s (an index's options are fixed when it is "
                   "created; leave the option out to use the index's)",
                   db->path, name, a, b);
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
        rc = open_dbi(db, txn, DB_DOCS, 0, &db->docs);
    if (rc == ND_OK)
        rc = open_dbi(db, txn, DB_IDS, MDB_DUPSORT | MDB_DUPFIXED, &db->ids);
    if (rc == ND_OK)
        rc = open_dbi(db, txn, DB_BANDS, MDB_DUPSORT | MDB_DUPFIXED, &db->bands);
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
    int rc = open_dbi(db, txn, DB_META, MDB_CREATE, &db->meta);
    if (rc == ND_OK)
        rc = open_dbi(db, txn, DB_DOCS, MDB_CREATE, &db->docs);
    if (rc == ND_OK)
        rc = open_dbi(db, txn, DB_IDS, MDB_CREATE | MDB_DUPSORT | MDB_DUPFIXED, &db->ids);
    if (rc == ND_OK)
        rc = open_dbi(db, txn, DB_BANDS, MDB_CREATE | MDB_DUPSORT | MDB_DUPFIXED, &db->bands);
    if (rc == ND_OK)
        rc = write_meta(db, txn);
    if (rc != ND_OK)
        return rc;
    db->txn = txn;
    db->txn_thread = pthread_self();
    db->uncommitted_creation = 1;
    return ND_OK;
}

static int open_existing(nd_db *db, MDB_txn *txn, const nd_db_config *config)
{
    made_with m;
    uint64_t next_doc;
    int rc = open_dbi(db, txn, DB_META, 0, &db->meta);
    if (rc == ND_OK)
        rc = read_made_with(db, txn, &m);
    if (rc == ND_OK)
        rc = check_versions(db, &m);
    if (rc == ND_OK)
        rc = check_given(db, &m, config);
    if (rc == ND_OK)
        rc = open_dbis(db, txn);
    if (rc == ND_OK)
        rc = get_meta_u64(db, txn, "next_doc", &next_doc);
    if (rc == ND_OK)
        rc = get_meta_u64(db, txn, "documents", &db->documents);
    if (rc == ND_OK)
        rc = get_meta_u64(db, txn, "removed", &db->removed);
    if (rc != ND_OK)
        return rc;
    if (next_doc > UINT32_MAX)
        return db_fail(db, ND_EFORMAT, "%s: corrupt metadata (next_doc)", db->path);
    db->opts = m.opts;
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

/* ****  Stats  **** */

int nd_db_stats_get(nd_db_stats *out, nd_db *db)
{
    nd_db_stats s;
    memset(&s, 0, sizeof s);
    if (db->uncommitted_creation) {
        s.options = db->opts; /* nothing committed yet */
        s.format_version = ND_DB_FORMAT;
        s.profile_version = nd_profile_version(db->opts.profile);
        snprintf(s.unicode_version, sizeof s.unicode_version, "%s", nd_unicode_version());
        snprintf(s.icu_version, sizeof s.icu_version, "%s", nd_icu_version());
        snprintf(s.created_by, sizeof s.created_by, "%s", ND_VERSION);
    } else {
        MDB_txn *txn;
        made_with m;
        MDB_stat bands;
        int rc = db_begin_read(db, &txn);
        if (rc != ND_OK)
            return rc;
        rc = read_made_with(db, txn, &m);
        if (rc == ND_OK)
            rc = get_meta_u64(db, txn, "documents", &s.documents);
        if (rc == ND_OK)
            rc = get_meta_u64(db, txn, "removed", &s.removed);
        int mrc = rc == ND_OK ? mdb_stat(txn, db->bands, &bands) : 0;
        mdb_txn_abort(txn);
        if (mrc)
            rc = db_fail_mdb(db, mrc, "reading statistics");
        if (rc != ND_OK)
            return rc;
        s.band_entries = bands.ms_entries;
        s.options = m.opts;
        s.format_version = (unsigned)m.format;
        s.profile_version = (unsigned)m.profile_version;
        memcpy(s.unicode_version, m.unicode_version, sizeof s.unicode_version);
        memcpy(s.icu_version, m.icu_version, sizeof s.icu_version);
        memcpy(s.created_by, m.created_by, sizeof s.created_by);
    }
    MDB_envinfo info;
    MDB_stat env;
    mdb_env_info(db->env, &info);
    mdb_env_stat(db->env, &env);
    s.bytes_used = ((uint64_t)info.me_last_pgno + 1) * env.ms_psize;
    char path[DB_PATH_MAX];
    struct stat st;
    if (db_join(path, sizeof path, db->path, "data.mdb") == 0 && stat(path, &st) == 0)
        s.bytes_on_disk = (uint64_t)st.st_blocks * 512;
    *out = s;
    return ND_OK;
}
