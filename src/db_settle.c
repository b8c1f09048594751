/* db_settle.c - a query batch's raw shingle ids sorted where they are
 * verified (nd_db_query_options.raw_ids; see db_settle.h).
 *
 * Verifying a candidate pair intersects the query's ids with the indexed
 * document's, both sorted distinct. Sorting every query's ids when it is
 * sketched was 6% of a one-thread query run (100,000 queries against a
 * million documents, perf) while only the queries with candidates are ever
 * verified (a tenth of them there; most queries are new documents): so a
 * caller may give the ids as shingling made them (nd_sketch_text_ref_raw:
 * text order, repeats kept) and the query sorts those of the queries in
 * its candidate pairs, once each, before verifying (db_query.c). The
 * result is what nd_sketch_text_ref would have given: the same ids, sorted
 * distinct, so the same matches.
 */
#include "db_settle.h"

#include <string.h> /* memcpy */

#include "alloc.h"
#include "sort.h"
#include "threads.h"

int nd_db_settling_init(db_settling *s, size_t count)
{
    *s = (db_settling){NULL, NULL, NULL, 0};
    s->of = nd_malloc((count ? count : 1) * sizeof *s->of);
    s->done = nd_calloc(count ? count : 1, 1);
    if (!s->of || !s->done) {
        nd_db_settling_free(s);
        return ND_ENOMEM;
    }
    return ND_OK;
}

void nd_db_settling_free(db_settling *s)
{
    nd_free(s->of);
    nd_free(s->done);
    for (size_t i = 0; i < s->store_count; i++)
        nd_free(s->stores[i]);
    nd_free(s->stores);
    *s = (db_settling){NULL, NULL, NULL, 0};
}

/* The queries to settle (in the order the pairs name them first) and
 * where each one's ids go in the store; a thread's share is [from, to). */
typedef struct settle_job {
    db_settling *s;
    const nd_db_doc *docs;
    const uint32_t *queries;
    const size_t *at; /* in the store, per query to settle */
    uint32_t *store;
    size_t from, to;
    int rc;
} settle_job;

static void *settle_some(void *arg)
{
    settle_job *j = arg;
    uint32_t *scratch = NULL;
    size_t capacity = 0;
    for (size_t i = j->from; i < j->to; i++) {
        uint32_t q = j->queries[i];
        size_t raw = j->docs[q].count;
        if (nd_grow((void **)&scratch, &capacity, raw, sizeof *scratch) != 0) {
            j->rc = ND_ENOMEM;
            break;
        }
        uint32_t *ids = j->store + j->at[i];
        memcpy(ids, j->docs[q].ids, raw * sizeof *ids);
        j->s->of[q] = (db_settled){ids, nd_sort_distinct_u32(ids, scratch, raw)};
    }
    nd_free(scratch);
    return NULL;
}

enum { MAX_SETTLE_THREADS = 64, SETTLE_ALONE = 256 };

int nd_db_settle_pairs(db_settling *s, const nd_db_doc *docs, const uint64_t *pairs, size_t n, unsigned threads)
{
    /* the queries not settled yet, each once (marked done now, settled
     * below), and their ids' room */
    size_t m = 0, total = 0;
    uint32_t *queries = nd_malloc((n ? n : 1) * sizeof *queries);
    size_t *at = nd_malloc((n ? n : 1) * sizeof *at);
    if (!queries || !at) {
        nd_free(queries);
        nd_free(at);
        return ND_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        uint32_t q = (uint32_t)pairs[i];
        if (s->done[q])
            continue;
        s->done[q] = 1;
        queries[m] = q;
        at[m++] = total;
        total += docs[q].count;
    }
    int rc = ND_OK;
    uint32_t *store = m ? nd_malloc(total * sizeof *store) : NULL;
    uint32_t **stores = m ? nd_realloc(s->stores, (s->store_count + 1) * sizeof *s->stores) : s->stores;
    if (m && (!store || !stores)) {
        nd_free(store);
        if (stores)
            s->stores = stores;
        for (size_t i = 0; i < m; i++)
            s->done[queries[i]] = 0;
        rc = ND_ENOMEM;
    } else if (m) {
        s->stores = stores;
        s->stores[s->store_count++] = store;
        threads = threads < 1 ? 1 : threads > MAX_SETTLE_THREADS ? MAX_SETTLE_THREADS : threads;
        if (m < SETTLE_ALONE)
            threads = 1;
        settle_job jobs[MAX_SETTLE_THREADS];
        for (unsigned t = 0; t < threads; t++)
            jobs[t] = (settle_job){s, docs, queries, at, store, m * t / threads, m * (t + 1) / threads, ND_OK};
        nd_on_threads(threads, settle_some, jobs, sizeof *jobs);
        for (unsigned t = 0; t < threads && rc == ND_OK; t++)
            rc = jobs[t].rc;
    }
    nd_free(queries);
    nd_free(at);
    return rc;
}

int nd_db_settle_every_query(db_settling *s, const nd_db_doc *docs, size_t count, unsigned threads, nd_db_doc **out)
{
    uint64_t *all = nd_malloc((count ? count : 1) * sizeof *all); /* (document 0 << 32 | query) pairs */
    nd_db_doc *copy = nd_malloc((count ? count : 1) * sizeof *copy);
    int rc = all && copy ? ND_OK : ND_ENOMEM;
    size_t n = 0;
    for (size_t q = 0; q < count && rc == ND_OK; q++) {
        copy[q] = docs[q];
        if (docs[q].count > 0)
            all[n++] = q;
    }
    if (rc == ND_OK)
        rc = nd_db_settle_pairs(s, docs, all, n, threads);
    for (size_t i = 0; i < n && rc == ND_OK; i++) {
        copy[all[i]].ids = s->of[all[i]].ids;
        copy[all[i]].count = s->of[all[i]].count;
    }
    nd_free(all);
    if (rc != ND_OK) {
        nd_free(copy);
        return rc;
    }
    *out = copy;
    return ND_OK;
}
