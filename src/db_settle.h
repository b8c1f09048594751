/* db_settle.h - a query batch's raw shingle ids sorted where they are
 * verified (nd_db_query_options.raw_ids). Internal to the library. */
#ifndef ND_DB_SETTLE_H
#define ND_DB_SETTLE_H

#include <stddef.h> /* size_t */
#include <stdint.h> /* uint32_t, uint64_t */

#include "neardup.h" /* nd_db_doc */

/* A query's sorted distinct ids and their count. */
typedef struct db_settled {
    const uint32_t *ids;
    size_t count;
} db_settled;

/* The queries of a batch settled so far: of[q] is set once done[q] is 1. */
typedef struct db_settling {
    db_settled *of;      /* per query */
    unsigned char *done; /* per query */
    uint32_t **stores;   /* the sorted ids, a store per nd_db_settle_pairs call that settled any */
    size_t store_count;
} db_settling;

/* Room for a batch of `count` queries (nothing settled). ND_OK or
 * ND_ENOMEM. */
int nd_db_settling_init(db_settling *s, size_t count);
void nd_db_settling_free(db_settling *s);

/* Settle every query of the candidate pairs[0 .. n) (document << 32 |
 * query) not settled yet: docs[q].ids (raw: any order, repeats) copied
 * and sorted distinct, on up to `threads` threads (this one among them).
 * ND_OK or ND_ENOMEM. */
int nd_db_settle_pairs(db_settling *s, const nd_db_doc *docs, const uint64_t *pairs, size_t n, unsigned threads);

/* Settle every query of docs[0 .. count) with shingles, into a copy of
 * docs (*out, nd_free: its ids in s's stores): a containment index makes
 * its probes of every query's ids. ND_OK or ND_ENOMEM. */
int nd_db_settle_every_query(db_settling *s, const nd_db_doc *docs, size_t count, unsigned threads, nd_db_doc **out);

#endif /* ND_DB_SETTLE_H */
