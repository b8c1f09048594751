/* db_compact.c - rewrite the persistent index without its removed
 * documents.
 *
 * Removing a document only marks it (db_write.c); its record and band
 * entries stay, and LMDB never gives a file's pages back to the file
 * system. Compacting copies what is live into a new LMDB file in key order
 * (every database appended: MDB_APPEND, so every page is full, which also
 * undoes the half-full pages that merges into a B-tree leave), syncs it,
 * and renames it over data.mdb: the rename is atomic, so a crash leaves
 * either the old index or the new one, never a mix (a half-written copy in
 * compact.tmp/ is removed by the next compact). Document numbers are kept,
 * so nothing but removed entries changes.
 *
 * Replacing the data file is safe only if no other handle has it mapped
 * (a process holding the old file would go on reading and writing it), so
 * compacting takes neardup.lock's byte 1 exclusively (db.c) and fails with
 * ND_EBUSY when any other handle, of this process or another, is open. It
 * needs free disk space for the copy (the live part of the index).
 */
#define _GNU_SOURCE /* O_DIRECTORY, O_CLOEXEC */

#include "db_internal.h"

#include <errno.h>    /* errno */
#include <fcntl.h>    /* open */
#include <stdio.h>    /* snprintf, rename */
#include <string.h>   /* strcmp, strerror */
#include <sys/stat.h> /* mkdir */
#include <unistd.h>   /* unlink, rmdir, fsync, close */

#include "alloc.h"

typedef struct {
    nd_db *db;
    MDB_txn *from, *to;
    unsigned char *removed; /* bit per document number */
    unsigned char *bucket;  /* a bucket without its removed documents */
    size_t bucket_capacity;
} copy_state;

static int is_removed(const copy_state *c, uint32_t doc)
{
    return doc < c->db->next_doc && (c->removed[doc >> 3] >> (doc & 7) & 1);
}

static int removed_in(const void *c, uint32_t doc)
{
    return is_removed(c, doc);
}

/* Copy one database in key order. `docs_of` says how to find the document
 * number an entry belongs to: 0 none (meta), 1 the key (docs), 2 the value
 * (ids, a containment index's bands), 3 each of the values packed in the
 * value (a Jaccard index's buckets, db_bucket.c). Entries of removed
 * documents are left out. */
static int copy_dbi(copy_state *c, MDB_dbi from, MDB_dbi to, int docs_of, int dups)
{
    MDB_cursor *in, *out;
    MDB_val key, val, last = {0, NULL};
    int rc = mdb_cursor_open(c->from, from, &in);
    if (rc)
        return rc;
    rc = mdb_cursor_open(c->to, to, &out);
    if (rc) {
        mdb_cursor_close(in);
        return rc;
    }
    unsigned char last_key[8];
    int get = mdb_cursor_get(in, &key, &val, MDB_FIRST);
    while (get == 0 && rc == 0) {
        if (docs_of == 1) {
            db_record r;
            uint32_t doc = db_doc_at(key.mv_data);
            /* (removed has a bit per number below next_doc: a record
             * numbered past it is damage, as the open checks) */
            if (doc >= c->db->next_doc || nd_db_record_parse(&r, val.mv_data, val.mv_size) != 0) {
                rc = MDB_CORRUPTED;
                break;
            }
            if (r.flags & DB_RECORD_REMOVED) {
                c->removed[doc >> 3] |= (unsigned char)(1u << (doc & 7));
                get = mdb_cursor_get(in, &key, &val, MDB_NEXT);
                continue;
            }
        } else if (docs_of == 2 && is_removed(c, db_doc_at(val.mv_data))) {
            get = mdb_cursor_get(in, &key, &val, MDB_NEXT);
            continue;
        } else if (docs_of == 3) {
            if (val.mv_size % DB_BUCKET_VALUE != 0) {
                rc = MDB_CORRUPTED;
                break;
            }
            if (nd_grow((void **)&c->bucket, &c->bucket_capacity, val.mv_size, 1) != 0) {
                rc = ENOMEM;
                break;
            }
            val = (MDB_val){nd_db_bucket_filter(c->bucket, &val, removed_in, c), c->bucket};
            if (val.mv_size == 0) {
                get = mdb_cursor_get(in, &key, &val, MDB_NEXT);
                continue;
            }
        }
        int same_key =
            dups && last.mv_data && key.mv_size == last.mv_size && memcmp(key.mv_data, last.mv_data, key.mv_size) == 0;
        unsigned flags = docs_of == 0 ? 0 : same_key ? MDB_APPENDDUP : MDB_APPEND;
        rc = mdb_cursor_put(out, &key, &val, flags);
        if (dups && key.mv_size <= sizeof last_key) {
            memcpy(last_key, key.mv_data, key.mv_size);
            last = (MDB_val){key.mv_size, last_key};
        }
        get = mdb_cursor_get(in, &key, &val, MDB_NEXT);
    }
    if (rc == 0 && get != MDB_NOTFOUND)
        rc = get;
    mdb_cursor_close(in);
    mdb_cursor_close(out);
    return rc;
}

/* Write the compact copy into env (a write transaction of its own). */
static int write_copy(nd_db *db, MDB_env *env, MDB_txn *from, unsigned char *removed)
{
    MDB_txn *to;
    MDB_dbi meta, docs, ids, bands;
    int rc = mdb_txn_begin(env, NULL, 0, &to);
    if (rc)
        return rc;
    unsigned dup = MDB_CREATE | DB_FLAGS_LISTS;
    if ((rc = mdb_dbi_open(to, DB_META, MDB_CREATE, &meta)) == 0 &&
        (rc = mdb_dbi_open(to, DB_DOCS, MDB_CREATE | DB_FLAGS_DOCS, &docs)) == 0 &&
        (rc = mdb_dbi_open(to, DB_IDS, dup, &ids)) == 0 &&
        (rc = mdb_dbi_open(to, DB_BANDS, MDB_CREATE | db_bands_flags(db), &bands)) == 0) {
        copy_state c = {db, from, to, removed, NULL, 0};
        rc = copy_dbi(&c, db->meta, meta, 0, 0);
        if (rc == 0)
            rc = copy_dbi(&c, db->docs, docs, 1, 0);
        if (rc == 0)
            rc = copy_dbi(&c, db->ids, ids, 2, 1);
        if (rc == 0)
            rc = copy_dbi(&c, db->bands, bands, db_bucketed(db) ? 3 : 2, !db_bucketed(db));
        nd_free(c.bucket);
        if (rc == 0) {
            static char removed_key[] = "removed", zero[] = "0";
            MDB_val k = {7, removed_key}, v = {1, zero};
            rc = mdb_put(to, meta, &k, &v, 0);
        }
    }
    if (rc) {
        mdb_txn_abort(to);
        return rc;
    }
    rc = mdb_txn_commit(to);
    if (rc == 0)
        rc = mdb_env_sync(env, 1);
    return rc;
}

static void remove_dir(const char *dir)
{
    static const char *const files[] = {"data.mdb", "lock.mdb"};
    char path[DB_PATH_MAX];
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        if (nd_db_join(path, sizeof path, dir, files[i]) == 0)
            unlink(path);
    }
    rmdir(dir);
}

static int sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

/* Make the copy in tmp and rename it over data.mdb; db's environment is
 * closed on the way (the caller reopens it). */
static int replace_with_copy(nd_db *db, const char *tmp)
{
    char from_path[DB_PATH_MAX], to_path[DB_PATH_MAX];
    MDB_env *env = NULL;
    MDB_txn *from = NULL;
    unsigned char *removed = nd_calloc((size_t)db->next_doc / 8 + 1, 1);
    if (!removed)
        return nd_db_fail(db, ND_ENOMEM, "%s: out of memory compacting", db->path);
    remove_dir(tmp); /* left by a compaction that did not finish */
    int rc = mkdir(tmp, 0777) == 0 ? ND_OK
                                   : nd_db_fail(db, ND_EIO, "%s: cannot create %s: %s", db->path, tmp, strerror(errno));
    if (rc == ND_OK)
        rc = nd_db_open_env(db, &env, tmp, MDB_NOSYNC);
    if (rc == ND_OK)
        rc = nd_db_begin_read(db, &from);
    if (rc == ND_OK) {
        int mrc = write_copy(db, env, from, removed);
        if (mrc) {
            char detail[256];
            rc = nd_db_write_error(db, mrc, detail, sizeof detail);
            nd_db_fail(db, rc, "%s: cannot write the compacted copy: %s (the index is unchanged)", db->path, detail);
        }
    }
    if (from)
        mdb_txn_abort(from);
    if (env)
        mdb_env_close(env);
    nd_free(removed);
    if (rc == ND_OK) {
        nd_db_join(from_path, sizeof from_path, tmp, "data.mdb");
        nd_db_join(to_path, sizeof to_path, db->path, "data.mdb");
        mdb_env_close(db->env);
        db->env = NULL;
        if (rename(from_path, to_path) != 0)
            rc = nd_db_fail(db, ND_EIO,
                            "%s: cannot replace data.mdb with the compacted copy: %s (the index is unchanged)",
                            db->path, strerror(errno));
        else if (sync_dir(db->path) != 0)
            rc =
                nd_db_fail(db, ND_EIO, "%s: cannot sync the directory after compacting: %s", db->path, strerror(errno));
    }
    remove_dir(tmp);
    return rc;
}

int nd_db_compact(nd_db *db)
{
    if (!(db->flags & ND_DB_WRITE) || (db->flags & ND_DB_TEMPORARY))
        return nd_db_fail(db, ND_EINVAL, "%s: compacting needs an index opened for writing", db->path);
    if (db->txn || db->broken)
        return nd_db_fail(db, ND_EINVAL, "%s: commit or abandon the run before compacting", db->path);
    int rc = nd_db_lock_alone(db, 1);
    if (rc != ND_OK)
        return rc;
    char tmp[DB_PATH_MAX];
    nd_db_join(tmp, sizeof tmp, db->path, "compact.tmp");
    rc = replace_with_copy(db, tmp);
    if (!db->env) {
        int reopened = nd_db_reopen(db);
        if (rc == ND_OK)
            rc = reopened;
    }
    if (rc == ND_OK) {
        db->removed = db->committed_removed = 0;
    }
    int unlocked = nd_db_lock_alone(db, 0);
    return rc == ND_OK ? unlocked : rc;
}
