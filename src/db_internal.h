/* db_internal.h - the persistent index's handle, shared by its files, in
 * layers that call only downwards (db.c draws them): db.c (errors, locks,
 * the environment), db_meta.c (metadata, checks, stats), db_batch.c
 * (sketching texts), db_write.c (runs: add, remove, commit, the buffered
 * band entries), db_query.c (queries; its passes in db_query_passes.c, a
 * worker's candidates and verification in db_query_worker.c), db_compact.c,
 * db_open.c (open, close); db_bucket.c (a Jaccard index's band entries in buckets) sits at
 * the bottom beside db.c and db_record.c. Internal to the library; LMDB is seen only by these files.
 */
#ifndef ND_DB_INTERNAL_H
#define ND_DB_INTERNAL_H

#include <lmdb.h>      /* MDB_env, MDB_txn, MDB_dbi */
#include <pthread.h>   /* pthread_mutex_t, pthread_t */
#include <string.h>    /* memcpy */
#include <sys/types.h> /* dev_t, ino_t */

#include "db_record.h"
#include "neardup.h"

/* One band entry of the running write: its stored key (db_band_key) in two
 * halves (12 bytes instead of 16 with a uint64_t) and its document. */
typedef struct band_entry {
    uint32_t hi, lo, doc;
} band_entry;

/* The band entries a run adds are buffered and merged into LMDB in key
 * order (db_write.c explains why); `slots` indexes them by key for queries
 * of pending documents, built when the first such query comes. */
typedef struct pending_bands {
    band_entry *items;
    size_t count, capacity;
    size_t limit;     /* merge into the transaction when count reaches it */
    uint32_t *slots;  /* open addressing: entry index + 1, 0 = empty; or NULL */
    size_t slot_mask; /* slot count - 1 */
    int merged;       /* some of this run's entries are in the transaction already */
} pending_bands;

struct nd_db {
    char *path;
    unsigned flags; /* ND_DB_* */
    nd_options opts;
    MDB_env *env;
    MDB_dbi meta, docs, ids, bands;
    int lock_fd; /* neardup.lock, or -1 */
    uint64_t map_bytes;
    int uncommitted_creation; /* the index is being created by this handle's run */
    int broken;               /* that run failed: the handle can only be closed */
    int made_dir;             /* nd_db_open created the directory */
    int registered;           /* in the process's list of open indexes (db_open.c), as dir_dev, dir_ino */
    dev_t dir_dev;
    ino_t dir_ino;
    /* the run (write handles) */
    MDB_txn *txn; /* its write transaction, or NULL */
    pthread_t txn_thread;
    uint32_t base_doc, next_doc; /* pending documents are numbered [base_doc, next_doc) */
    uint64_t documents, removed; /* counters with the run's changes */
    uint64_t committed_documents, committed_removed;
    pending_bands pending;
    /* shared by threads: the last message and idle sketching batches (db_batch.c) */
    pthread_mutex_t mutex;
    char message[512];
    nd_batch **idle;
    size_t idle_count, idle_capacity;
};

/* Room for the index's path joined with a file name in it (nd_db_open
 * refuses longer paths). */
enum { DB_PATH_MAX = 4352, DB_PATH_LIMIT = 4096 };

/* out = dir/name; returns 0, or -1 if it does not fit (then out is ""). */
int nd_db_join(char *out, size_t size, const char *dir, const char *name);

/* Keys and document numbers are integers in native byte order, which
 * LMDB compares as numbers (MDB_INTEGERKEY, MDB_INTEGERDUP): no memcmp per
 * comparison in the lookups a query makes by the thousand. (LMDB files are
 * not portable across byte orders anyway.) An 8-byte integer key is a
 * size_t to LMDB. */
_Static_assert(sizeof(size_t) == 8, "the index's 64-bit keys need a 64-bit size_t (LMDB's MDB_INTEGERKEY)");
#define DB_FLAGS_DOCS MDB_INTEGERKEY                                                  /* docs: uint32 -> record */
#define DB_FLAGS_LISTS (MDB_INTEGERKEY | MDB_DUPSORT | MDB_DUPFIXED | MDB_INTEGERDUP) /* ids, bands */

/* A document number stored by LMDB (maybe unaligned). */
static inline uint32_t db_doc_at(const void *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* Names of the LMDB databases inside the environment. */
#define DB_META "meta"
#define DB_DOCS "docs"
#define DB_IDS "ids"
#define DB_BANDS "bands"

/* db.c */
/* Record a message (printf format) for nd_db_error() and return status. */
int nd_db_fail(nd_db *db, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The ND_E* status for an LMDB or errno code. */
int nd_db_status(int mdb_rc);
/* The status and a description of a failed write (LMDB or errno code
 * rc). LMDB reports a short write, which is how a full disk or a file size
 * limit usually shows, as EIO; then the free space and the limit are
 * checked, so that the message says what happened. */
int nd_db_write_error(nd_db *db, int rc, char *detail, size_t size);
/* nd_db_fail with LMDB's description of rc after `what`. */
int nd_db_fail_mdb(nd_db *db, int rc, const char *what);

/* Take the locks of a new handle (db.c explains them). */
int nd_db_take_locks(nd_db *db);
/* Open (flags as LMDB's) one database of the index, or all four of an
 * existing index, in txn. */
int nd_db_open_dbi(nd_db *db, MDB_txn *txn, const char *name, unsigned flags, MDB_dbi *dbi);
int nd_db_open_dbis(nd_db *db, MDB_txn *txn);
/* Begin a read transaction (on any thread). */
int nd_db_begin_read(nd_db *db, MDB_txn **txn);
/* alone = 1: try to hold the index alone (no other handle anywhere), or
 * ND_EBUSY; alone = 0: share it again. */
int nd_db_lock_alone(nd_db *db, int alone);
/* Open a fresh LMDB environment at path for db (flags as db's; map size
 * db->map_bytes) into *env. */
int nd_db_open_env(nd_db *db, MDB_env **env, const char *path, unsigned extra_flags);
/* Close the environment and open it again (after its file was replaced). */
int nd_db_reopen(nd_db *db);

/* db_meta.c */
/* A new index's metadata (db->opts resolved), and its counters. */
int nd_db_write_meta(nd_db *db, MDB_txn *txn);
/* Write the counters into the meta database of txn. */
int nd_db_write_counters(nd_db *db, MDB_txn *txn);
/* Check an existing index's metadata against this library and the
 * caller's given options; sets db->opts to the index's. */
int nd_db_check_meta(nd_db *db, MDB_txn *txn, const nd_db_config *config);
int nd_db_read_counters(nd_db *db, MDB_txn *txn, uint64_t *next_doc, uint64_t *documents, uint64_t *removed);

/* db_write.c */
/* Abort the run: its transaction and buffered entries are dropped. */
void nd_db_abandon_run(nd_db *db);
void nd_db_pending_free(pending_bands *pending);
/* Look id up in txn: *doc and *found (0 when absent). */
int nd_db_find_id(nd_db *db, MDB_txn *txn, const char *id, size_t id_len, uint32_t *doc, int *found);
/* Read document `doc` of txn into *record (pointing into LMDB's pages,
 * valid while txn lives). ND_ENOTFOUND when absent, ND_EFORMAT if corrupt. */
int nd_db_read_record(nd_db *db, MDB_txn *txn, uint32_t doc, db_record *record);
/* The hash of an id under which the ids database files it. */
uint64_t nd_db_id_hash(const char *id, size_t id_len);
/* Is the calling thread allowed to use the run's transaction? Records a
 * message and returns ND_EINVAL when not. */
int nd_db_check_run_thread(nd_db *db);
/* Index the buffered band entries by key (for queries of pending
 * documents); kept up to date by later additions. ND_OK or ND_ENOMEM. */
int nd_db_pending_index(nd_db *db);
/* A printable form of an id for messages (control bytes as '?', cut). */
const char *nd_db_id_label(char *buf, size_t size, const char *id, size_t id_len);

static inline uint64_t db_entry_key(const band_entry *e)
{
    return (uint64_t)e->hi << 32 | e->lo;
}

/* Band entries as LMDB holds them in `bands`: a Jaccard index in buckets
 * (db_bucket.c; db_record.c says why), a containment index one entry per
 * key (the document number as a sorted duplicate). A bucket's values are 8
 * bytes each, big-endian. */
enum { DB_BUCKET_VALUE = 8 };
#define DB_FLAGS_BUCKETS MDB_INTEGERKEY /* bands of a Jaccard index: bucket -> its values */

static inline int db_bucketed(const nd_db *db)
{
    return db->opts.measure != ND_MEASURE_CONTAINMENT;
}

static inline unsigned db_bands_flags(const nd_db *db)
{
    return db_bucketed(db) ? DB_FLAGS_BUCKETS : DB_FLAGS_LISTS;
}

static inline uint64_t db_get_be64(const unsigned char *p)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return __builtin_bswap64(v);
#else
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
#endif
}

static inline void db_put_be64(unsigned char *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (unsigned char)v;
}

/* A band key a query looks up, and the query. */
typedef struct db_probe {
    uint64_t key;
    uint32_t query;
} db_probe;

/* db_bucket.c (a Jaccard index's `bands`). Results are 0, an LMDB code,
 * or ND_ENOMEM. */
/* Write sorted entries items[0 .. count) into the buckets at cursor `to`:
 * appended (append = 1: every bucket after the tree's last), else each
 * bucket rewritten with its stored values and the new ones merged. */
int nd_db_buckets_put(MDB_cursor *to, const band_entry *items, size_t count, int append);
/* Append into the empty tree at `to` the buckets at `from` (a snapshot)
 * merged with the sorted entries items[0 .. count). */
int nd_db_buckets_rebuild(MDB_cursor *from, MDB_cursor *to, const band_entry *items, size_t count);
/* For each of the probes (sorted by key), call found(ctx, doc, query) for
 * every document numbered in [first_doc, last_doc] stored under its key
 * (found where the first one lies, not walked past), probe by probe,
 * documents in increasing order; a non-zero result of found stops
 * the lookup and is returned. The buckets are visited in key order, each
 * read once however many probes fall in it, stepping from one to the next
 * (MDB_NEXT) where they lie close, so that a batch at scale (about as many
 * probes as buckets) reads the tree nearly sequentially instead of
 * searching it from the root per probe. */
int nd_db_buckets_lookup(MDB_cursor *cur, const db_probe *probes, size_t count, uint32_t first_doc, uint32_t last_doc,
                         int (*found)(void *ctx, uint32_t doc, uint32_t query), void *ctx);
/* The number of band entries in the buckets of dbi. */
int nd_db_buckets_count(MDB_txn *txn, MDB_dbi dbi, uint64_t *entries);
/* Copy the values of bucket value v whose document is not removed(ctx,
 * doc) into out (v->mv_size bytes of room); returns the bytes kept. */
size_t nd_db_bucket_filter(unsigned char *out, const MDB_val *v, int (*removed)(const void *ctx, uint32_t doc),
                           const void *ctx);

/* db_verify.c: check every page of the committed snapshot that LMDB can
 * read (ND_DB_VERIFY). ND_OK, ND_EFORMAT (the page and what is wrong with
 * it recorded), ND_EIO, ND_EBUSY, ND_ENOMEM. */
int nd_db_verify(nd_db *db);
/* Before LMDB opens dir/data.mdb: a regular file, and the page size its
 * meta pages give (LMDB divides by it unchecked). ND_OK (also without a
 * file, or one that is not LMDB's: LMDB says so), or ND_EFORMAT recorded. */
int nd_db_check_data_file(nd_db *db, const char *dir);

/* db_batch.c: texts sketched for the index on several threads. */
/* What nd_db_query returns (db_query.c fills it, db_results.c reads and
 * frees it): per query its matches, best first, their ids in `text`. */
struct nd_db_results {
    size_t count;
    size_t *starts; /* query i: matches[starts[i] .. starts[i + 1]) */
    nd_db_match *matches;
    char *text; /* the matched ids */
};

/* db_results.c: a thread's verified matches as db_query.c finds them (a
 * hit a pair, its matched id copied into the list's text), and the lists
 * put together per query into nd_db_results. */
typedef struct db_hit {
    size_t query;
    uint32_t doc;
    int pending;
    double jaccard;
    uint64_t weight;
    size_t id_offset, id_len; /* in the list's text */
    double query_in_match, match_in_query;
    double rank; /* a containment index's: the larger containment; 0 */
} db_hit;

typedef struct db_hit_list {
    db_hit *items;
    size_t count, capacity;
    char *text;
    size_t text_len, text_capacity;
} db_hit_list;

/* Append hit h (id_len bytes of id copied; its id_offset set). ND_OK or
 * ND_ENOMEM. */
int nd_db_hit_push(db_hit_list *l, const db_hit *h, const char *id);
/* Sort the list's hits by query, then document. */
void nd_db_hits_by_query(db_hit_list *l);
/* Free the list's memory; it is left empty, ready for more. */
void nd_db_hit_list_free(db_hit_list *l);
/* Append to `out`, for each query in [begin, end) in turn, its best hits
 * in lists[0 .. list_count) (each by query, holding no query outside
 * [begin, end)), best first (the larger containment, then Jaccard, then
 * the earlier document), at most `top` (0: all). ND_OK or ND_ENOMEM (then
 * `out` holds some of them). */
int nd_db_hits_keep_best(db_hit_list *out, const db_hit_list *const *lists, size_t list_count, size_t begin, size_t end,
                         size_t top);
/* Put the hits of lists[0 .. list_count) (each by query) together per
 * query, each query's best first (as nd_db_hits_keep_best), at most `top`
 * (0: all). ND_OK or ND_ENOMEM. */
int nd_db_results_assemble(nd_db_results **out, const db_hit_list *const *lists, size_t list_count, size_t count,
                           size_t top);

/* db_query_passes.c's test hook: the candidate pairs a query holds at once (its
 * pair budget), from the next call on; 0 restores the default. The count
 * is atomic: set it from any thread. */
void nd_db_query_pair_budget(size_t pairs);

typedef struct db_sketched {
    nd_db_doc *docs; /* count documents; ids and keys borrowed from the batch */
    nd_batch *batch; /* taken from the handle's idle ones until nd_db_sketched_free */
} db_sketched;
/* Sketch texts[0 .. count) with the index's options on up to `threads`
 * threads; docs[i].weight = lens[i]. */
int nd_db_sketch_texts(db_sketched *out, nd_db *db, const char *const *texts, const size_t *lens, size_t count,
                       unsigned threads);
void nd_db_sketched_free(db_sketched *sketched, nd_db *db);
/* Free the handle's idle batches (closing). */
void nd_db_batches_free(nd_db *db);

#endif /* ND_DB_INTERNAL_H */
