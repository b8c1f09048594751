/* db_query_worker.h - one worker of an index query (db_query_worker.c):
 * what it holds for a pass (a range of the batch's queries and of the
 * index's documents), the candidate pairs it finds there and their
 * verification. db_query_passes.c gives the workers their parts of each
 * pass, db_query.c sets them up for a call. Internal to the library.
 */
#ifndef ND_DB_QUERY_WORKER_H
#define ND_DB_QUERY_WORKER_H

#include <stdatomic.h> /* atomic_uint_least64_t */
#include <stddef.h>    /* size_t */
#include <stdint.h>    /* uint32_t, uint64_t */

#include "db_internal.h" /* nd_db, MDB_txn, db_probe, db_hit_list */
#include "db_settle.h"   /* db_settling */

typedef struct db_worker {
    nd_db *db;
    const nd_db_doc *docs;
    size_t begin, end;            /* the pass's queries */
    uint32_t doc_first, doc_last; /* and documents */
    double threshold;
    MDB_txn *txn; /* records (and merged band entries) come from here */
    int pending;  /* 1: look for this run's documents, 0: committed ones */
    db_hit_list hits;
    db_probe *probes, *probes_tmp;
    size_t probe_count;
    uint64_t *pairs, *pairs_tmp; /* candidate (document << 32 | query) pairs */
    size_t pair_count, pair_capacity, pairs_tmp_capacity;
    size_t pair_budget;             /* pairs held in a pass; past it they are only counted */
    int over_budget;                /* this pass went past it */
    atomic_uint_least64_t *counted; /* per query of the batch: its pairs, counted in a pass over budget */
    uint32_t run_query;             /* and the pairs of run_query counted here, not yet added there */
    uint64_t run_pairs;
    uint32_t *found; /* the documents under one key */
    size_t found_count, found_capacity;
    uint32_t *ids; /* a candidate's decoded shingle ids */
    size_t ids_capacity;
    const db_probe *walk; /* committed queries: this thread's range of the sorted probes */
    size_t walk_count;
    const uint64_t *check; /* and of the sorted candidate pairs */
    size_t check_count;
    unsigned band_lo, band_hi; /* a Jaccard index's committed queries: this thread's bands (band_walk_phase) */
    size_t band_size;          /* and the probes of a band: the queries with shingles */
    db_settling *settling;     /* raw ids (nd_db_query_options.raw_ids): the queries' sorted ones; else NULL */
    void (*phase)(struct db_worker *);
    int rc;
} db_worker;

static inline int db_worker_containment(const db_worker *w)
{
    return w->db->opts.measure == ND_MEASURE_CONTAINMENT;
}

/* Record that a query ran out of memory; ND_ENOMEM. */
int nd_db_worker_oom(db_worker *w);

/* Add the pairs of run_query this worker counted past its budget to the
 * shared counts (w->counted). */
void nd_db_worker_tally(db_worker *w);

/* The keys query document d looks up (the probes it makes). */
size_t nd_db_worker_probes_of(const db_worker *w, const nd_db_doc *d);

/* The probes of the pass's queries, one per (query, key), into
 * w->probes (unsorted). ND_OK or ND_ENOMEM. */
int nd_db_worker_make_probes(db_worker *w);

/* The candidate pairs of probes[0 .. count) (sorted by key) among the band
 * entries in w->txn and the pass's documents: held in w->pairs, or past
 * the budget counted (w->over_budget). ND_OK or an error (recorded). */
int nd_db_worker_candidates_in_txn(db_worker *w, const db_probe *probes, size_t count);

/* The same for w->probes among the run's buffered band entries. */
int nd_db_worker_candidates_in_buffer(db_worker *w);

/* Sort w->pairs by document, then query. ND_OK or ND_ENOMEM. */
int nd_db_worker_sort_pairs(db_worker *w);

/* Verify the sorted candidate pairs[0 .. count): the matches into w->hits,
 * by query. ND_OK or an error (recorded). */
int nd_db_worker_verify(db_worker *w, const uint64_t *pairs, size_t count);

/* Free what the worker holds (its hits too). */
void nd_db_worker_free(db_worker *w);

#endif /* ND_DB_QUERY_WORKER_H */
