/* neardup_db.h - the persistent index on disk (nd_db, on LMDB).
 * Part of the public API, included by neardup.h after the declarations
 * it builds on: include neardup.h, not this file. Kept apart so that each
 * header holds one job. */
#ifndef NEARDUP_DB_H
#define NEARDUP_DB_H

#ifndef NEARDUP_H
#error "include <neardup.h>, not <neardup_db.h>"
#endif

/* ****  Persistent index (db.c, db_meta.c, db_write.c, db_query.c, db_compact.c)  **** */

/** An index on disk (LMDB: memory-mapped, transactional, no server) that
 * keeps, per document, its id, its shingle ids (compressed; verification
 * stays exact), its weight and a removal mark, and per LSH band the band
 * keys pointing at documents, plus the options and versions that make
 * results reproducible. New texts are queried against it without reading
 * the archive again; the answers are the pairs batch mode would verify
 * (same sketcher, same bands, same exact Jaccard).
 *
 * The index is a directory (path) holding data.mdb, LMDB's lock.mdb and
 * neardup.lock.
 *
 * Runs: the changes made through a handle (nd_db_add, nd_db_remove) form
 * one run that becomes visible and durable at once at nd_db_commit(); a
 * handle closed before it, a killed process or a power loss leaves the
 * index as it was before the run, and the next open needs no repair.
 *
 * Threads: nd_db_query() may be called from several threads at once on one
 * handle (each call reads its own snapshot). Calls that write (nd_db_add,
 * nd_db_remove, nd_db_commit, nd_db_compact) and queries of pending
 * documents are made by one thread at a time, and a run is begun and
 * committed (or the handle closed) by the same thread (LMDB's writer lock
 * belongs to a thread).
 *
 * Errors: every call returns ND_OK or a negative code; nd_db_error() copies
 * the handle's last message (naming the option, id, file or lock at fault). */
typedef struct nd_db nd_db;

/* nd_db_config.flags */
#define ND_DB_WRITE 1u     /* open for adding and removing (takes the index's write lock) */
#define ND_DB_CREATE 2u    /* with ND_DB_WRITE: create the index when path does not exist */
#define ND_DB_WAIT 4u      /* wait for another writer's lock instead of failing with ND_EBUSY */
#define ND_DB_TEMPORARY 8u /* a scratch index: path is a fresh directory, deleted at close; no fsync */
#define ND_DB_VERIFY 16u   /* check every page of data.mdb at open (below) */

/* nd_db_config.given: the fields of nd_db_config.options the caller chose.
 * For an existing index each must agree with the index's value; the others
 * are taken from the index. */
#define ND_OPT_PROFILE (1u << 0)      /* profile */
#define ND_OPT_SHINGLE (1u << 1)      /* shingle_kind with shingle_size and char_size */
#define ND_OPT_NUM_PERM (1u << 2)     /* num_perm */
#define ND_OPT_BANDS (1u << 3)        /* bands and rows */
#define ND_OPT_THRESHOLD (1u << 4)    /* threshold */
#define ND_OPT_SEED (1u << 5)         /* seed */
#define ND_OPT_MEASURE (1u << 6)      /* measure */
#define ND_OPT_MIN_SHINGLES (1u << 7) /* min_shingles (a containment index's; a Jaccard index has none) */
#define ND_OPT_ALL 0xFFu

typedef struct nd_db_config {
    nd_options options; /* a new index's options (resolved at creation; fixed after) */
    unsigned given;     /* ND_OPT_* bits: options that must agree with an existing index */
    unsigned flags;     /* ND_DB_* bits */
    uint64_t max_bytes; /* largest size the data file may reach; 0: 1 TiB (sparse map, not allocated) */
    uint64_t memory;    /* memory for a run's buffered band entries, sorting included (24 bytes an
                           entry, bands entries a document); past it they are merged into the file
                           early; 0: 1 GiB (about 2.8 million documents of 16 bands) */
} nd_db_config;
#define ND_DB_CONFIG_INIT           \
    {                               \
        ND_OPTIONS_INIT, 0, 0, 0, 0 \
    }

/** A process-wide function called when LMDB finds an index's data.mdb
 * inconsistent (one of its assertions fails: a damaged page; the file has
 * no checksums), with LMDB's own description. It must not return: LMDB
 * aborts the process after it. NULL (the default) leaves LMDB to print its
 * assertion and abort. The program sets one that reports the index as
 * damaged and exits 1; the library itself never prints or exits. */
void nd_db_set_damage_handler(void (*handler)(const char *message));

/** Open (or create) the index at `path`.
 * @param[out] out the handle, set only on success (close with nd_db_close).
 * @param[out] message on failure, a one-line explanation (may be NULL);
 *   e.g. "option bands: the index has 16, given 20".
 * @pre config->options is valid for nd_options_resolve() when the index is
 *   created or ND_OPT_* bits are given.
 * @return ND_OK; ND_ENOTFOUND (no index at path: missing, or a creating run
 *   that never committed); ND_EFORMAT (path is not a neardup index, or one
 *   written by another format or Unicode version); ND_EMISMATCH (a given
 *   option differs from the index's); ND_EBUSY (another writer, without
 *   ND_DB_WAIT); ND_EIO (permissions, read-only directory, ...); ND_EINVAL;
 *   ND_ENOMEM.
 * With ND_DB_VERIFY, every page of the index's committed state is read and
 * checked first (db_verify.c), so that a damaged page of data.mdb (LMDB
 * keeps no checksums) is ND_EFORMAT naming the page, where LMDB would
 * follow it into a SIGBUS, a SIGSEGV or an abort() later, in whichever
 * call read it; a damaged list of free pages would have a writer overwrite
 * live pages. The price is a read of the whole file at every open. Damage
 * done to the file after the open is not seen. */
int nd_db_open(nd_db **out, char *message, size_t message_size, const char *path, const nd_db_config *config);

/** Close the handle, discarding uncommitted changes (the index stays as it
 * was before the run). Accepts NULL. */
void nd_db_close(nd_db *db);

/** The index's options (resolved: bands and rows set). Borrowed. */
const nd_options *nd_db_options(const nd_db *db);

/** Copy the message of the handle's last failed call into out (at most
 * size bytes, NUL-terminated). @return the message's full length. */
size_t nd_db_error(char *out, size_t size, const nd_db *db);

/** One document to add or query: its sketch as nd_sketch_text_ref() and
 * nd_lsh_band_keys() give it for the index's options. */
typedef struct nd_db_doc {
    const char *id; /* the document's id (any bytes); unused by queries */
    size_t id_len;
    const uint32_t *ids; /* sorted distinct shingle ids */
    size_t count;
    const uint64_t *keys; /* bands band keys; unused when count is 0 */
    uint64_t weight;      /* kept with the document (e.g. text bytes); unused by queries */
} nd_db_doc;

/* nd_db_add() flags */
#define ND_DB_REPLACE 1u /* an id already in the index is replaced (the old document is marked removed) */

/** Add documents to the handle's run (visible to others at nd_db_commit).
 * A document without shingles is kept (its id counts) but never matches.
 * @param[out] failed may be NULL; on ND_EEXIST, the position in docs of
 *   the id at fault.
 * @pre the handle was opened with ND_DB_WRITE; docs[i].keys holds the
 *   index's `bands` keys when docs[i].count > 0.
 * @return ND_OK; ND_EEXIST (an id is in the index or twice in docs, and
 *   ND_DB_REPLACE is not set: nothing of this call is added, the run goes
 *   on); ND_EFULL or ND_EIO (the run is abandoned: the index stays as it was
 *   before it); ND_EINVAL; ND_ENOMEM. */
int nd_db_add(size_t *failed, nd_db *db, const nd_db_doc *docs, size_t count, unsigned flags);

/** nd_db_add() of texts, sketched on up to `threads` threads (0 or 1: the
 * calling thread); weight = text bytes. ids[i] has id_lens[i] bytes.
 * @return as nd_db_add(), or ND_EICU. */
int nd_db_add_texts(size_t *failed, nd_db *db, const char *const *ids, const size_t *id_lens, const char *const *texts,
                    const size_t *lens, size_t count, unsigned flags, unsigned threads);

/** Mark documents removed (they stop matching at once in this run's
 * queries of pending documents, for others at commit; nd_db_compact()
 * reclaims their space). Their ids may be added again.
 * @param[out] removed may be NULL; receives how many were removed.
 * @return ND_OK; ND_ENOTFOUND (an id is not in the index: nothing of this
 *   call is removed); ND_EFULL; ND_EIO; ND_ENOMEM. */
int nd_db_remove(size_t *removed, nd_db *db, const char *const *ids, const size_t *id_lens, size_t count);

/** Make the run's changes durable and visible (one LMDB transaction,
 * fsynced), then start a new run. @return ND_OK, ND_EFULL, ND_EIO. */
int nd_db_commit(nd_db *db);

/** Discard the run's changes since the last commit (what a failed call
 * does to its run): the index stays as it was, and the handle goes on with
 * a new run. For a caller stopping a long add between calls of its own
 * (the Python module on Ctrl-C).
 * @return ND_OK; ND_EINVAL (a read-only handle, a run begun by another
 *   thread, or the run creating a new index: the handle must be closed). */
int nd_db_abandon(nd_db *db);

/** Rewrite the index without its removed documents, every page full, and
 * replace the data file atomically (rename). Needs the index alone: fails
 * with ND_EBUSY when another handle or process has it open.
 * @pre a writable handle with no uncommitted changes.
 * @return ND_OK, ND_EBUSY, ND_EFULL, ND_EIO, ND_ENOMEM. */
int nd_db_compact(nd_db *db);

typedef struct nd_db_stats {
    uint64_t documents;     /* live documents (committed) */
    uint64_t removed;       /* marked removed, not yet compacted */
    uint64_t bytes_on_disk; /* disk blocks of the data file */
    uint64_t bytes_used;    /* pages the index uses in it (the rest is free space) */
    uint64_t band_entries;  /* (band key, document) entries; a containment index's (shingle, document) postings */
    nd_options options;
    unsigned format_version;  /* of the index's layout (ND_DB_FORMAT) */
    unsigned profile_version; /* of options.profile when the index was made */
    char unicode_version[16]; /* the ICU data's, when the index was made */
    char icu_version[16];
    char created_by[16]; /* neardup version that created it */
} nd_db_stats;

/** The index layout this library reads and writes: ND_DB_FORMAT for the
 * Jaccard measure (band keys), ND_DB_FORMAT_CONTAINMENT for an index made
 * with measure ND_MEASURE_CONTAINMENT (shingle postings instead; a neardup
 * that reads format 1 only refuses it). Format 3 stores band entries in
 * buckets; an index of format 1 (one band entry per key) is refused with
 * what to do. */
#define ND_DB_FORMAT 3
#define ND_DB_FORMAT_CONTAINMENT 2

/** Committed state of the index. @return ND_OK, ND_EIO, ND_EFORMAT. */
int nd_db_stats_get(nd_db_stats *out, nd_db *db);

/* nd_db_query_options.scope */
#define ND_DB_COMMITTED 1u /* documents committed when the call starts */
#define ND_DB_PENDING 2u   /* documents this handle's run added (writer thread only) */

typedef struct nd_db_query_options {
    double threshold; /* minimum exact score (the index's measure); 0: the index's threshold; a
                         containment index answers only thresholds of at least its own */
    size_t top;       /* at most this many matches per query; 0: all */
    unsigned scope;   /* ND_DB_COMMITTED and/or ND_DB_PENDING; 0: committed */
    unsigned threads; /* threads for committed lookups (0 or 1: the calling thread) */
    int raw_ids;      /* 1: each document's ids are its shingle ids in any order, repeats kept (count:
                         how many), not sorted distinct; the query sorts those of the documents it
                         verifies: the same matches, for less work where few documents have candidates */
} nd_db_query_options;
#define ND_DB_QUERY_INIT \
    {                    \
        0.0, 0, 0, 1, 0  \
    }

/** One indexed document matching a query. */
typedef struct nd_db_match {
    const char *id; /* its id (borrowed from the results; not NUL-terminated) */
    size_t id_len;
    double jaccard;        /* exact Jaccard with the query document */
    uint64_t weight;       /* as added */
    int pending;           /* 1: added by this handle's uncommitted run */
    double query_in_match; /* share of the query's shingles in the matched document */
    double match_in_query; /* share of the matched document's shingles in the query */
} nd_db_match;

typedef struct nd_db_results nd_db_results;

/** For each document, the indexed documents whose band keys collide with
 * one of its band keys (same band) and whose exact Jaccard with it reaches
 * the threshold, sorted by Jaccard (highest first; ties: earliest added
 * first), at most `top`. Removed documents never match; documents without
 * shingles match nothing. In a containment index (made with measure
 * ND_MEASURE_CONTAINMENT): every indexed document D that matches as
 * nd_index_pairs() would pair it (Jaccard or containment either way, at
 * least min_shingles shingles for the contained one), none missed,
 * sorted by max(query_in_match, match_in_query), then Jaccard.
 * Memory: the candidate pairs held at once are bounded (2 Mi, or one per
 * key the batch looks up), whatever the matches; past that the batch is
 * taken in passes (the same results), each query keeping its best `top`.
 * @param[out] out results, one entry per document, in order.
 * @param opts may be NULL (ND_DB_QUERY_INIT).
 * @return ND_OK, ND_EIO, ND_EFORMAT (a corrupt record), ND_EINVAL,
 *   ND_ENOMEM. */
int nd_db_query(nd_db_results **out, nd_db *db, const nd_db_doc *docs, size_t count, const nd_db_query_options *opts);

/** nd_db_query() of texts, sketched with the index's options on up to
 * opts->threads threads. @return as nd_db_query(), or ND_EICU. */
int nd_db_query_texts(nd_db_results **out, nd_db *db, const char *const *texts, const size_t *lens, size_t count,
                      const nd_db_query_options *opts);

size_t nd_db_results_count(const nd_db_results *results);
/** Matches of query i (borrowed until the results are freed).
 * @pre i < nd_db_results_count(results). @return their number. */
size_t nd_db_results_get(const nd_db_match **matches, const nd_db_results *results, size_t i);
void nd_db_results_free(nd_db_results *results);

#endif /* NEARDUP_DB_H */
