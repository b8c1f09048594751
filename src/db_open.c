/* db_open.c - opening the persistent index (creating it inside the first
 * run's transaction, or checking an existing one's metadata against the
 * caller's options) and closing it: the top of the index's layers, since
 * opening needs the metadata (db_meta.c) and closing ends a run
 * (db_write.c) and frees the sketching batches (db_batch.c). db.c explains
 * the index's files, locks and map.
 */
#define _GNU_SOURCE

#include "db_internal.h"

#include <assert.h>   /* assert (preconditions, debug builds) */
#include <dirent.h>   /* opendir, readdir */
#include <errno.h>    /* errno, ENOENT */
#include <string.h>   /* strlen, strcmp, memcpy, strerror */
#include <sys/stat.h> /* stat, mkdir */
#include <unistd.h>   /* close, unlink, rmdir, getpid */

#include "alloc.h"

static int file_exists(const char *dir, const char *name)
{
    char path[DB_PATH_MAX];
    struct stat st;
    return nd_db_join(path, sizeof path, dir, name) == 0 && stat(path, &st) == 0;
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
            return nd_db_fail(db, ND_EIO, "%s: %s", db->path, strerror(errno));
        if (!create)
            return nd_db_fail(db, ND_ENOTFOUND, "%s: no such index (no such file or directory)", db->path);
        if (mkdir(db->path, 0777) != 0)
            return nd_db_fail(db, ND_EIO, "%s: cannot create the index directory: %s", db->path, strerror(errno));
        db->made_dir = 1;
        return ND_OK;
    }
    if (db->flags & ND_DB_TEMPORARY)
        return nd_db_fail(db, ND_EINVAL, "%s: a temporary index needs a path that does not exist", db->path);
    if (!S_ISDIR(st.st_mode))
        return nd_db_fail(db, ND_EFORMAT, "%s: not a neardup index (a file; an index is a directory)", db->path);
    if (file_exists(db->path, "data.mdb"))
        return ND_OK;
    if (errno != ENOENT) /* (a directory that cannot be searched was "no index in this directory") */
        return nd_db_fail(db, ND_EIO, "%s: cannot look into the index directory: %s", db->path, strerror(errno));
    if (create && dir_is_empty(db->path))
        return ND_OK;
    if (create)
        return nd_db_fail(db, ND_EFORMAT, "%s: not a neardup index (a directory without data.mdb that is not empty)",
                          db->path);
    return nd_db_fail(db, ND_ENOTFOUND, "%s: no index in this directory (no data.mdb)", db->path);
}

/* A new index, inside the first run's transaction (left open). */
static int create_index(nd_db *db, MDB_txn *txn, const nd_db_config *config)
{
    db->opts = config->options;
    if (nd_options_resolve(&db->opts) != ND_OK)
        return nd_db_fail(db, ND_EINVAL, "%s: invalid options for a new index", db->path);
    int rc = nd_db_open_dbi(db, txn, DB_META, MDB_CREATE, &db->meta);
    if (rc == ND_OK)
        rc = nd_db_open_dbi(db, txn, DB_DOCS, MDB_CREATE | DB_FLAGS_DOCS, &db->docs);
    if (rc == ND_OK)
        rc = nd_db_open_dbi(db, txn, DB_IDS, MDB_CREATE | DB_FLAGS_LISTS, &db->ids);
    if (rc == ND_OK)
        rc = nd_db_open_dbi(db, txn, DB_BANDS, MDB_CREATE | db_bands_flags(db), &db->bands);
    if (rc == ND_OK)
        rc = nd_db_write_meta(db, txn);
    if (rc != ND_OK)
        return rc;
    db->txn = txn;
    db->txn_thread = pthread_self();
    db->uncommitted_creation = 1;
    return ND_OK;
}

/* The counters against the documents stored: every record (live or
 * removed) counted, none numbered from next_doc on. A count that lies
 * made len() and stats wrong, and a next_doc below a stored number made
 * every add fail on LMDB's MDB_KEYEXIST and compacting write past its
 * bitmap of removed documents. */
static int check_counters(nd_db *db, MDB_txn *txn, uint64_t next_doc)
{
    MDB_stat st;
    MDB_cursor *cur;
    MDB_val key, val;
    int rc = mdb_stat(txn, db->docs, &st);
    if (rc)
        return nd_db_fail_mdb(db, rc, "reading the documents");
    if (db->documents > st.ms_entries || db->removed != st.ms_entries - db->documents)
        return nd_db_fail(db, ND_EFORMAT,
                          "%s: corrupt metadata: documents %llu and removed %llu, but the index holds %llu records",
                          db->path, (unsigned long long)db->documents, (unsigned long long)db->removed,
                          (unsigned long long)st.ms_entries);
    rc = mdb_cursor_open(txn, db->docs, &cur);
    if (rc == 0) {
        rc = mdb_cursor_get(cur, &key, &val, MDB_LAST);
        mdb_cursor_close(cur);
    }
    if (rc == MDB_NOTFOUND)
        return ND_OK;
    if (rc)
        return nd_db_fail_mdb(db, rc, "reading the documents");
    if (key.mv_size != sizeof(uint32_t))
        return nd_db_fail(db, ND_EFORMAT, "%s: corrupt index (a document numbered in %zu bytes)", db->path,
                          key.mv_size);
    uint32_t last = db_doc_at(key.mv_data);
    if (last >= next_doc)
        return nd_db_fail(db, ND_EFORMAT, "%s: corrupt metadata: next_doc %llu, but document %u is stored", db->path,
                          (unsigned long long)next_doc, (unsigned)last);
    return ND_OK;
}

static int open_existing(nd_db *db, MDB_txn *txn, const nd_db_config *config)
{
    uint64_t next_doc;
    int rc = nd_db_open_dbi(db, txn, DB_META, 0, &db->meta);
    if (rc == ND_OK)
        rc = nd_db_check_meta(db, txn, config); /* sets db->opts */
    if (rc == ND_OK)
        rc = nd_db_open_dbis(db, txn);
    if (rc == ND_OK)
        rc = nd_db_read_counters(db, txn, &next_doc, &db->documents, &db->removed);
    if (rc == ND_OK)
        rc = check_counters(db, txn, next_doc);
    if (rc != ND_OK)
        return rc;
    db->next_doc = db->base_doc = (uint32_t)next_doc;
    db->committed_documents = db->documents;
    db->committed_removed = db->removed;
    rc = mdb_txn_commit(txn); /* keeps the database handles for every later transaction */
    return rc ? nd_db_fail_mdb(db, rc, "opening the index") : ND_OK;
}

/* The indexes open in this process, by directory. LMDB allows one
 * environment per file in a process: a second one's close releases the
 * locks the first holds on lock.mdb (POSIX record locks belong to the
 * process), and another process may then take it for its own and reset the
 * reader table under the first. So a second handle on an open index is
 * refused (two Python Index objects on one path: the second used to open,
 * and closing it left the first unprotected). */
static pthread_mutex_t open_lock = PTHREAD_MUTEX_INITIALIZER;
static struct open_index {
    dev_t dev;
    ino_t ino;
    pid_t pid; /* a child of fork() has none of its parent's open (LMDB's locks are not inherited) */
} * open_list;
static size_t open_count, open_capacity;

static int register_open(nd_db *db)
{
    struct stat st;
    if (stat(db->path, &st) != 0)
        return ND_OK; /* prepare_path made it or failed: what comes next reports */
    pthread_mutex_lock(&open_lock);
    int rc = ND_OK;
    for (size_t i = 0; i < open_count; i++) {
        if (open_list[i].dev == st.st_dev && open_list[i].ino == st.st_ino && open_list[i].pid == getpid())
            rc = ND_EBUSY;
    }
    if (rc == ND_OK && nd_grow((void **)&open_list, &open_capacity, open_count + 1, sizeof *open_list) != 0)
        rc = ND_ENOMEM;
    if (rc == ND_OK) {
        open_list[open_count++] = (struct open_index){st.st_dev, st.st_ino, getpid()};
        db->registered = 1;
        db->dir_dev = st.st_dev;
        db->dir_ino = st.st_ino;
    }
    pthread_mutex_unlock(&open_lock);
    if (rc == ND_EBUSY)
        return nd_db_fail(db, ND_EBUSY,
                          "%s: the index is open already in this process (one handle an index per process, as LMDB "
                          "allows: close the other first)",
                          db->path);
    return rc == ND_OK ? ND_OK : nd_db_fail(db, rc, "%s: out of memory opening the index", db->path);
}

static void unregister_open(nd_db *db)
{
    if (!db->registered)
        return;
    pthread_mutex_lock(&open_lock);
    for (size_t i = 0; i < open_count; i++) {
        if (open_list[i].dev == db->dir_dev && open_list[i].ino == db->dir_ino && open_list[i].pid == getpid()) {
            open_list[i] = open_list[--open_count];
            break;
        }
    }
    pthread_mutex_unlock(&open_lock);
    db->registered = 0;
}

static int open_index(nd_db *db, const nd_db_config *config)
{
    int rc = prepare_path(db);
    if (rc == ND_OK &&
        !(db->flags & ND_DB_TEMPORARY)) /* (a temporary one's directory goes at once: no path to open again) */
        rc = register_open(db);
    if (rc == ND_OK && !(db->flags & ND_DB_TEMPORARY))
        rc = nd_db_take_locks(db);
    db->map_bytes = config->max_bytes;
    if (rc == ND_OK) /* a data.mdb LMDB cannot be trusted to open: a FIFO, a page size of 0 */
        rc = nd_db_check_data_file(db, db->path);
    if (rc == ND_OK)
        rc = nd_db_open_env(db, &db->env, db->path, 0);
    if (rc == ND_OK && (db->flags & ND_DB_VERIFY))
        rc = nd_db_verify(db); /* before LMDB reads any page but the meta pages */
    if (rc != ND_OK)
        return rc;
    MDB_txn *txn = NULL;
    int writer = (db->flags & ND_DB_WRITE) != 0;
    int mrc = mdb_txn_begin(db->env, NULL, writer ? 0 : MDB_RDONLY, &txn);
    if (mrc)
        return nd_db_fail_mdb(db, mrc, "cannot begin a transaction");
    MDB_dbi main_dbi;
    MDB_stat st;
    mrc = mdb_dbi_open(txn, NULL, 0, &main_dbi);
    if (mrc == 0)
        mrc = mdb_stat(txn, main_dbi, &st);
    if (mrc) {
        mdb_txn_abort(txn);
        return nd_db_fail_mdb(db, mrc, "reading the index");
    }
    if (st.ms_entries == 0 && !(db->flags & ND_DB_CREATE)) {
        mdb_txn_abort(txn);
        return nd_db_fail(db, ND_ENOTFOUND,
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
    if (nd_db_join(path, sizeof path, db->path, "data.mdb") == 0)
        unlink(path);
    if (nd_db_join(path, sizeof path, db->path, "lock.mdb") == 0)
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
        rc = nd_db_fail(db, ND_EINVAL, "the index path is %s", len ? "too long" : "empty");
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
    nd_db_abandon_run(db);
    nd_db_pending_free(&db->pending);
    if (db->env)
        mdb_env_close(db->env);
    if (db->lock_fd >= 0)
        close(db->lock_fd); /* releases its locks */
    unregister_open(db);
    nd_db_batches_free(db);
    nd_free(db->path);
    pthread_mutex_destroy(&db->mutex);
    nd_free(db);
}
