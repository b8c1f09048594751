/* db_query.c - queries of the persistent index: candidates by band key,
 * verified with the exact Jaccard.
 *
 * For one query document with shingle ids Q and band keys k_0 .. k_{b-1}:
 *
 * 1. Candidates: the documents stored under (j, k_j) for some band j, i.e.
 *    exactly the pairs batch mode proposes (same sketcher, same bands and
 *    rows, keys compared within a band; see db_record.c for the key width).
 *    Each candidate is taken once however many bands it shares.
 * 2. Verification: a candidate D that is not removed and has shingles is
 *    kept when J(Q, D) = |Q ∩ D| / |Q ∪ D| reaches the threshold (the same
 *    test, with the same 1e-12 tolerance, as nd_index_cluster). Since
 *    J <= min(|Q|, |D|) / max(|Q|, |D|), a candidate whose size alone rules
 *    it out is skipped before its ids are decoded.
 * 3. Matches are sorted by Jaccard, highest first, ties by document number
 *    (the order they were added), and cut to `top`.
 *
 * A containment index (db_contain.h) is probed with shingle keys instead
 * of band keys; its candidates are every document that can match, each
 * verified with nd_matches() on the exact overlap, and sorted by the larger
 * containment (then Jaccard). The rest is the same.
 *
 * A batch is worked in bulk: all its band keys are looked up in key order,
 * band by band (db_query_worker.c says why), the candidate pairs sorted by
 * document, and each candidate's record read and decoded once for all the
 * queries it is a candidate of. Queries whose ids come raw
 * (nd_db_query_options.raw_ids) are sorted only when they have candidates
 * (db_settle.c).
 *
 * Committed documents are read in a read transaction of their own per
 * thread (MDB_NOTLS: a snapshot that no writer disturbs, on any thread),
 * every pass of a call on the same snapshot; the work is shared out by
 * bands or keys, then by documents, so results do not depend on the thread
 * count. Pending documents (this handle's run) are read through the run's
 * transaction and the buffered band entries, on the calling thread. The
 * results own copies of the matched ids, since LMDB's pages are valid only
 * inside a transaction.
 *
 * The call is in three files: this one (the calls: their options, the
 * workers and their snapshot set up), db_query_passes.c (the passes: the
 * candidate pairs held at once bounded, each query's best kept after each
 * pass) and db_query_worker.c (a worker's candidates and verification).
 */
#include "db_internal.h"

#include <assert.h>    /* assert (preconditions, debug builds) */
#include <stdatomic.h> /* atomic_uint_least64_t */

#include "alloc.h"
#include "db_query_passes.h"
#include "db_query_worker.h"
#include "db_settle.h"

typedef db_worker worker;
typedef db_scope scope;

/* n read transactions on one snapshot of the index (begun again when a
 * writer committed between the first and the last). */
static int begin_snapshot(nd_db *db, MDB_txn **txns, unsigned n)
{
    for (int attempt = 0; attempt < 100; attempt++) {
        unsigned begun = 0;
        int rc = ND_OK;
        while (begun < n && (rc = nd_db_begin_read(db, &txns[begun])) == ND_OK)
            begun++;
        int same = rc == ND_OK;
        for (unsigned t = 1; t < begun && same; t++)
            same = mdb_txn_id(txns[t]) == mdb_txn_id(txns[0]);
        if (same)
            return ND_OK;
        for (unsigned t = 0; t < begun; t++)
            mdb_txn_abort(txns[t]);
        if (rc != ND_OK)
            return rc;
    }
    return nd_db_fail(db, ND_EBUSY, "%s: the index changed under every attempt to read it", db->path);
}

/* ****  The query calls  **** */

int nd_db_query(nd_db_results **out, nd_db *db, const nd_db_doc *docs, size_t count, const nd_db_query_options *opts)
{
    assert(out && db && (docs || count == 0));
    for (size_t i = 0; i < count; i++)
        assert(docs[i].count == 0 || (docs[i].ids && docs[i].keys));
    nd_db_query_options o = ND_DB_QUERY_INIT;
    if (opts)
        o = *opts;
    if (o.threshold == 0.0)
        o.threshold = db->opts.threshold;
    if (!(o.threshold > 0.0 && o.threshold <= 1.0))
        return nd_db_fail(db, ND_EINVAL, "%s: the query threshold must be in (0, 1]", db->path);
    if (db->opts.measure == ND_MEASURE_CONTAINMENT && o.threshold < db->opts.threshold)
        return nd_db_fail(db, ND_EINVAL,
                          "%s: a containment index answers thresholds of at least its own, %g (its postings are cut "
                          "for it); given %g",
                          db->path, db->opts.threshold, o.threshold);
    if (o.scope == 0)
        o.scope = ND_DB_COMMITTED;
    if (db->broken)
        return nd_db_check_run_thread(db);
    int with_pending = (o.scope & ND_DB_PENDING) && db->txn;
    if (with_pending) {
        int rc = nd_db_check_run_thread(db);
        if (rc == ND_OK)
            rc = nd_db_pending_index(db);
        if (rc != ND_OK)
            return rc;
    }
    int with_committed = (o.scope & ND_DB_COMMITTED) && !db->uncommitted_creation;
    unsigned threads = o.threads < 1 ? 1 : o.threads > DB_QUERY_MAX_THREADS ? DB_QUERY_MAX_THREADS : o.threads;
    if (threads > count)
        threads = count ? (unsigned)count : 1;
    if (!with_committed)
        threads = 0;
    /* raw ids: sorted where verified (db_settle.c); a containment index
     * makes its probes of every query's ids, so there every query's are
     * sorted first, into a copy of the documents */
    db_settling settling = {NULL, NULL, NULL, 0};
    nd_db_doc *sorted_docs = NULL;
    if (o.raw_ids && nd_db_settling_init(&settling, count) != ND_OK)
        return nd_db_fail(db, ND_ENOMEM, "%s: out of memory querying", db->path);
    if (o.raw_ids && db->opts.measure == ND_MEASURE_CONTAINMENT) {
        int rc = nd_db_settle_every_query(&settling, docs, count, threads ? threads : 1, &sorted_docs);
        if (rc != ND_OK) {
            nd_db_settling_free(&settling);
            return nd_db_fail(db, rc, "%s: out of memory querying", db->path);
        }
        docs = sorted_docs; /* (their ids in settling's stores) */
    }
    /* workers[0 .. threads): committed documents; then the pending one; then `all` */
    worker *workers = nd_calloc((size_t)threads + 2, sizeof *workers);
    atomic_uint_least64_t *counted = nd_malloc((count ? count : 1) * sizeof *counted);
    if (!workers || !counted) {
        nd_free(workers);
        nd_free(counted);
        nd_db_settling_free(&settling);
        nd_free(sorted_docs);
        return nd_db_fail(db, ND_ENOMEM, "%s: out of memory querying", db->path);
    }
    for (unsigned t = 0; t < threads + 2; t++) {
        worker *w = &workers[t];
        w->db = db;
        w->docs = docs;
        w->begin = 0;
        w->end = count;
        w->threshold = o.threshold;
        w->settling = o.raw_ids && !sorted_docs ? &settling : NULL;
        w->counted = counted;
    }
    worker *all = &workers[threads + 1];
    size_t budget = nd_db_query_budget(all, docs, count);
    scope committed = {workers, threads, all, 0, 0, 0, 0, {NULL, 0, 0, NULL, 0, 0}};
    scope pending = {&workers[threads], 1, NULL, db->base_doc, db->next_doc, 1, 0, {NULL, 0, 0, NULL, 0, 0}};
    int rc = ND_OK;
    if (threads > 0) {
        MDB_txn *txns[DB_QUERY_MAX_THREADS];
        rc = begin_snapshot(db, txns, threads);
        if (rc == ND_OK) {
            for (unsigned t = 0; t < threads; t++)
                workers[t].txn = txns[t];
            rc = nd_db_query_scope(&committed, count, o.top, budget);
            for (unsigned t = 0; t < threads; t++)
                mdb_txn_abort(txns[t]);
        }
    }
    if (rc == ND_OK && with_pending) {
        workers[threads].txn = db->txn;
        workers[threads].pending = 1;
        rc = nd_db_query_scope(&pending, count, o.top, budget);
    }
    const db_hit_list *kept[2] = {&committed.kept, &pending.kept};
    if (rc == ND_OK && nd_db_results_assemble(out, kept, 2, count, o.top) != ND_OK)
        rc = nd_db_fail(db, ND_ENOMEM, "%s: out of memory querying", db->path);
    for (size_t l = 0; l < (size_t)threads + 2; l++)
        nd_db_worker_free(&workers[l]);
    nd_db_hit_list_free(&committed.kept);
    nd_db_hit_list_free(&pending.kept);
    nd_free(workers);
    nd_free(counted);
    nd_db_settling_free(&settling);
    nd_free(sorted_docs);
    return rc;
}

int nd_db_query_texts(nd_db_results **out, nd_db *db, const char *const *texts, const size_t *lens, size_t count,
                      const nd_db_query_options *opts)
{
    db_sketched sketched;
    int rc = nd_db_sketch_texts(&sketched, db, texts, lens, count, opts ? opts->threads : 1);
    if (rc != ND_OK)
        return rc;
    rc = nd_db_query(out, db, sketched.docs, count, opts);
    nd_db_sketched_free(&sketched, db);
    return rc;
}
