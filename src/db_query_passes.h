/* db_query_passes.h - an index query's passes (db_query_passes.c): the
 * batch taken in passes whose candidate pairs fit the pair budget, each
 * query's best matches kept after each pass. db_query.c calls it once per
 * scope (committed documents, pending ones). Internal to the library.
 */
#ifndef ND_DB_QUERY_PASSES_H
#define ND_DB_QUERY_PASSES_H

#include <stddef.h> /* size_t */
#include <stdint.h> /* uint32_t, uint64_t */

#include "db_query_worker.h" /* db_worker */

/* The threads a query reads committed documents on, at most. */
enum { DB_QUERY_MAX_THREADS = 256 };

/* Where a call looks: the committed documents (on n threads, their pairs
 * gathered by `all`), or the pending ones (one worker; all NULL); their
 * numbers [doc_first, doc_end) (committed: doc_end read when a query
 * needs it); and each query's best matches so far (by query). */
typedef struct db_scope {
    db_worker *workers;
    unsigned n;
    db_worker *all;
    uint32_t doc_first;
    uint64_t doc_end;
    int doc_end_known;
    size_t pass_pairs; /* the candidate pairs of its last pass (done, not over budget) */
    db_hit_list kept;
} db_scope;

/* The pairs a call of queries docs[0 .. count) holds at once (w: any of
 * its workers): nd_db_query_pair_budget's if set, else the larger of
 * PAIRS_AT_ONCE and the batch's probes. */
size_t nd_db_query_budget(const db_worker *w, const nd_db_doc *docs, size_t count);

/* Every query of the batch (count of them) in the scope, each one's best
 * `top` (0: all) into s->kept: one pass of them all; if it went over
 * budget, by their counted pairs, passes of consecutive queries whose
 * pairs fit it, and each query whose pairs alone do not, alone, in ranges
 * of documents. The scope's workers are set up for the call (a committed
 * scope's with their read transactions on one snapshot); their lists of
 * hits are left empty. ND_OK or an error (recorded). */
int nd_db_query_scope(db_scope *s, size_t count, size_t top, size_t budget);

#endif /* ND_DB_QUERY_PASSES_H */
