/* db_query_passes.c - an index query's passes: the candidate pairs it
 * holds at once bounded (the pair budget), and the work of each pass
 * shared out among the workers (db_query_worker.c finds and verifies; the
 * method is in db_query.c).
 *
 * Memory: passes. The candidate pairs held at once are bounded (the pair
 * budget: PAIRS_AT_ONCE, or the batch's probes when they are more), not the
 * pairs a batch finds: 1,000 queries against an index holding 10,000 copies
 * of their text find 10 million (query, document) pairs, each through
 * every band (16 entries of 8 bytes, sorted with as much scratch), and the
 * hits of all of them used to be held until `top` cut them (4.7 GB, 35 s).
 * A call first makes one pass over the whole batch, as before; a thread
 * whose pairs pass its share of the budget stops holding them and only
 * counts them per query, to the end of its walk. Then the batch is taken
 * again in passes of consecutive queries whose counted pairs fit the
 * budget; a query that alone passes it is taken in ranges of documents
 * small enough that its pairs fit (each document is found once per probe
 * at most). Each pass's hits are cut to each query's best `top` at once
 * (nd_db_hits_keep_best: one total order, so the cut in parts is the cut of
 * the whole; a query's best in the ranges of documents so far are kept and
 * cut again with each range's). A query's pairs all come in one pass or in
 * disjoint ranges of documents, so each (query, document) is verified once,
 * as before. So the memory is the budget's pairs, their hits, and per query
 * its best `top` (all of its matches without `top`: the results hold
 * them). A batch whose pairs fit the budget, as most do, is one pass; one
 * that does not walks its keys about twice.
 */
#include "db_query_passes.h"

#include <stdatomic.h> /* atomic_size_t, atomic_uint_least64_t */
#include <stdint.h>    /* SIZE_MAX, UINT32_MAX */
#include <string.h>    /* memcpy */

#include "alloc.h"
#include "sort.h"
#include "threads.h"

typedef db_worker worker;
typedef db_scope scope;
typedef db_probe probe;

#define PROBE_KEY(p) ((p).key)
ND_DEFINE_RADIX_SORT(sort_probes, probe, PROBE_KEY, 0, 56)
/* A bucketed index's walk (nd_db_buckets_lookup) needs only each bucket's
 * probes together, buckets ascending (the pairs found are sorted after):
 * within a band (the band leads the key, one a band), the bucket's 16 bits
 * of hash, two passes where the whole key took six. */
ND_DEFINE_RADIX_SORT(sort_probe_buckets, probe, PROBE_KEY, 32, 40)

/* A pass's result when a worker's pairs passed its budget: they are
 * counted per query (worker.counted), none verified. */
enum { OVER_BUDGET = 1 };

/* Candidate pairs held at once, at least (the pair budget): 2 Mi pairs,
 * 16 MB, sorted with as much scratch. A batch that looks up more keys than
 * that may hold one pair per key. */
enum { PAIRS_AT_ONCE = 1 << 21 };

/* nd_db_query_pair_budget's, or 0: the budget above. */
static atomic_size_t budget_for_tests;

void nd_db_query_pair_budget(size_t pairs)
{
    atomic_store(&budget_for_tests, pairs);
}

size_t nd_db_query_budget(const worker *w, const nd_db_doc *docs, size_t count)
{
    size_t set = atomic_load(&budget_for_tests);
    if (set)
        return set;
    size_t probes = 0;
    for (size_t q = 0; q < count; q++)
        probes += nd_db_worker_probes_of(w, &docs[q]);
    return probes > PAIRS_AT_ONCE ? probes : PAIRS_AT_ONCE;
}

/* Start a pass on w: queries [begin, end), documents [first, last], at
 * most `budget` pairs held. */
static void pass_begin(worker *w, size_t begin, size_t end, uint32_t first, uint32_t last, size_t budget)
{
    w->begin = begin;
    w->end = end;
    w->doc_first = first;
    w->doc_last = last;
    w->pair_budget = budget;
    w->pair_count = 0;
    w->over_budget = 0;
    w->run_pairs = 0;
    w->rc = ND_OK;
}

static int any_over_budget(const worker *workers, unsigned n)
{
    for (unsigned t = 0; t < n; t++) {
        if (workers[t].over_budget)
            return 1;
    }
    return 0;
}

/* A pass over budget: the pairs each worker held counted too; OVER_BUDGET. */
static int count_pairs(worker *workers, unsigned n)
{
    for (unsigned t = 0; t < n; t++) {
        worker *w = &workers[t];
        nd_db_worker_tally(w);
        for (size_t i = 0; i < w->pair_count; i++)
            atomic_fetch_add_explicit(&w->counted[(uint32_t)w->pairs[i]], 1, memory_order_relaxed);
        w->pair_count = 0;
    }
    return OVER_BUDGET;
}

/* Pending documents, on the calling thread: candidates from the run's
 * transaction and buffer. ND_OK (the hits in the worker's list),
 * OVER_BUDGET or an error. */
static int pending_pass(scope *s, size_t begin, size_t end, uint32_t first, uint32_t last, size_t budget)
{
    worker *w = s->workers;
    pass_begin(w, begin, end, first, last, budget);
    int rc = nd_db_worker_make_probes(w);
    if (rc == ND_OK)
        sort_probes(w->probes, w->probes_tmp, w->probe_count);
    if (rc == ND_OK && w->db->pending.merged)
        rc = nd_db_worker_candidates_in_txn(w, w->probes, w->probe_count);
    if (rc == ND_OK)
        rc = nd_db_worker_candidates_in_buffer(w);
    if (rc == ND_OK && w->over_budget)
        return count_pairs(w, 1);
    s->pass_pairs = w->pair_count;
    if (rc == ND_OK)
        rc = nd_db_worker_sort_pairs(w);
    if (rc == ND_OK && w->settling && nd_db_settle_pairs(w->settling, w->docs, w->pairs, w->pair_count, 1) != ND_OK)
        rc = nd_db_worker_oom(w);
    if (rc == ND_OK)
        rc = nd_db_worker_verify(w, w->pairs, w->pair_count);
    return rc;
}

/* Committed documents, phase 1 on each thread: its range of the probes. */
static void walk_phase(worker *w)
{
    w->rc = nd_db_worker_candidates_in_txn(w, w->walk, w->walk_count);
}

/* Phase 2 on each thread: its range of the candidate pairs. */
static void verify_phase(worker *w)
{
    w->rc = nd_db_worker_verify(w, w->check, w->check_count);
}

static void *phase_thread(void *arg)
{
    worker *w = arg;
    w->phase(w);
    return NULL;
}

/* Run fn on workers[0 .. n) at once, workers[0] on the calling thread. */
static void run_phase(worker *workers, unsigned n, void (*fn)(worker *))
{
    for (unsigned t = 0; t < n; t++)
        workers[t].phase = fn;
    nd_on_threads(n, phase_thread, workers, sizeof *workers);
}

/* Where range `part` of `parts` of [0, n) starts: moved forward past equal
 * keys, so that equal keys (a band key, a document) stay in one range. */
static size_t boundary(size_t n, unsigned part, unsigned parts, const void *items,
                       uint64_t (*key)(const void *items, size_t i))
{
    size_t at = n * part / parts;
    while (at > 0 && at < n && key(items, at) == key(items, at - 1))
        at++;
    return at;
}

static uint64_t probe_key_at(const void *items, size_t i)
{
    return ((const probe *)items)[i].key;
}

static uint64_t pair_doc_at(const void *items, size_t i)
{
    return ((const uint64_t *)items)[i] >> 32;
}

/* A Jaccard index's committed queries, on each thread: its bands
 * [band_lo, band_hi), one after the other, each band's probes (one a query
 * with shingles) written, sorted and looked up (candidates_in_txn) before
 * the next band's are written over them. The tree is in band order, so
 * the thread walks its own part of it, as when every probe was written
 * first and cut into ranges; but the probes of all bands at once (100,000
 * queries: 26 MB, and their sort's scratch as much again) were fresh pages
 * for the kernel to clear, where one band's, reused, are in the cache. */
static void band_walk_phase(worker *w)
{
    size_t m = w->band_size;
    w->rc = ND_OK;
    if (w->band_lo >= w->band_hi || m == 0)
        return;
    nd_free(w->probes);
    nd_free(w->probes_tmp);
    w->probes = nd_malloc(m * sizeof *w->probes);
    w->probes_tmp = nd_malloc(m * sizeof *w->probes_tmp);
    if (!w->probes || !w->probes_tmp) {
        w->rc = nd_db_worker_oom(w);
        return;
    }
    for (unsigned j = w->band_lo; j < w->band_hi && w->rc == ND_OK; j++) {
        size_t r = 0;
        for (size_t q = w->begin; q < w->end; q++) {
            const nd_db_doc *d = &w->docs[q];
            if (d->count > 0)
                w->probes[r++] = (probe){db_band_key(j, d->keys[j]), (uint32_t)q};
        }
        if (db_bucketed(w->db))
            sort_probe_buckets(w->probes, w->probes_tmp, m);
        else
            sort_probes(w->probes, w->probes_tmp, m);
        w->rc = nd_db_worker_candidates_in_txn(w, w->probes, m);
    }
}

/* Committed documents, on the scope's n threads: the bands cut into ranges
 * (band_walk_phase; a containment index's probes sorted once and cut into
 * key ranges), so that each thread walks its own part of the tree (the
 * tree is walked once per pass, whatever n); the candidate pairs gathered,
 * sorted once and cut into document ranges for verification. Every thread
 * reads the same snapshot (the workers' txn). ND_OK (the hits in the
 * workers' lists, each by query), OVER_BUDGET or an error. */
static int committed_pass(scope *s, size_t begin, size_t end, uint32_t first, uint32_t last, size_t budget)
{
    worker *workers = s->workers, *all = s->all;
    unsigned n = s->n;
    for (unsigned t = 0; t < n; t++)
        pass_begin(&workers[t], begin, end, first, last, budget);
    pass_begin(all, begin, end, first, last, SIZE_MAX);
    int rc = ND_OK;
    if (db_worker_containment(all)) {
        rc = nd_db_worker_make_probes(all);
        if (rc != ND_OK)
            return rc;
        sort_probes(all->probes, all->probes_tmp, all->probe_count);
    }
    unsigned bands = all->db->opts.bands;
    size_t with_shingles = 0;
    for (size_t q = begin; q < end; q++)
        with_shingles += all->docs[q].count != 0;
    for (unsigned t = 0; t < n; t++) {
        if (db_worker_containment(all)) {
            size_t lo = boundary(all->probe_count, t, n, all->probes, probe_key_at);
            size_t hi = boundary(all->probe_count, t + 1, n, all->probes, probe_key_at);
            workers[t].walk = all->probes + lo;
            workers[t].walk_count = hi > lo ? hi - lo : 0;
        } else {
            workers[t].band_size = with_shingles;
            workers[t].band_lo = (unsigned)((size_t)bands * t / n);
            workers[t].band_hi = (unsigned)((size_t)bands * (t + 1) / n);
        }
    }
    run_phase(workers, n, db_worker_containment(all) ? walk_phase : band_walk_phase);
    for (unsigned t = 0; t < n && rc == ND_OK; t++)
        rc = workers[t].rc;
    if (rc == ND_OK && any_over_budget(workers, n))
        return count_pairs(workers, n);
    size_t total = 0;
    for (unsigned t = 0; t < n; t++)
        total += workers[t].pair_count;
    if (rc == ND_OK && nd_grow((void **)&all->pairs, &all->pair_capacity, total ? total : 1, sizeof *all->pairs) != 0)
        rc = nd_db_worker_oom(all);
    for (unsigned t = 0; t < n && rc == ND_OK; t++) { /* all the pairs into `all` */
        worker *w = &workers[t];
        if (w->pair_count)
            memcpy(all->pairs + all->pair_count, w->pairs, w->pair_count * sizeof *w->pairs);
        all->pair_count += w->pair_count;
    }
    s->pass_pairs = all->pair_count;
    if (rc == ND_OK)
        rc = nd_db_worker_sort_pairs(all);
    if (rc == ND_OK && all->settling &&
        nd_db_settle_pairs(all->settling, all->docs, all->pairs, all->pair_count, n) != ND_OK)
        rc = nd_db_worker_oom(all);
    if (rc == ND_OK) {
        for (unsigned t = 0; t < n; t++) {
            size_t lo = boundary(all->pair_count, t, n, all->pairs, pair_doc_at);
            size_t hi = boundary(all->pair_count, t + 1, n, all->pairs, pair_doc_at);
            workers[t].check = all->pairs + lo;
            workers[t].check_count = hi > lo ? hi - lo : 0;
        }
        run_phase(workers, n, verify_phase);
        for (unsigned t = 0; t < n && rc == ND_OK; t++)
            rc = workers[t].rc;
    }
    return rc;
}

static int run_pass(scope *s, size_t begin, size_t end, uint32_t first, uint32_t last, size_t budget)
{
    if (s->all)
        return committed_pass(s, begin, end, first, last, budget);
    return pending_pass(s, begin, end, first, last, budget);
}

/* The pass's hits (in the scope's workers' lists; with `also`, a list of
 * earlier ones too), each query's best `top` of [begin, end), appended to
 * `into`; the workers' lists emptied. */
static int keep_pass_best(scope *s, db_hit_list *into, const db_hit_list *also, size_t begin, size_t end, size_t top)
{
    const db_hit_list *lists[DB_QUERY_MAX_THREADS + 1];
    size_t n = 0;
    if (also)
        lists[n++] = also;
    for (unsigned t = 0; t < s->n; t++)
        lists[n++] = &s->workers[t].hits;
    int rc = nd_db_hits_keep_best(into, lists, n, begin, end, top);
    for (unsigned t = 0; t < s->n; t++)
        nd_db_hit_list_free(&s->workers[t].hits);
    return rc == ND_OK ? ND_OK : nd_db_worker_oom(s->workers);
}

/* The end of the scope's document numbers: the committed snapshot's next
 * document (its counters), read once. */
static int scope_doc_end(scope *s)
{
    if (s->doc_end_known)
        return ND_OK;
    uint64_t documents, removed;
    int rc = nd_db_read_counters(s->all->db, s->workers[0].txn, &s->doc_end, &documents, &removed);
    s->doc_end_known = rc == ND_OK;
    return rc;
}

/* Query q alone, its pairs (`pairs` of them) past the budget: in ranges
 * of the scope's documents, each taken with the budget (its share a
 * thread), sized for half of it from the pairs the last one found (or,
 * over budget, counted: that range again, smaller), each document found
 * once per probe at most (so one document alone may take as many pairs as
 * the query has probes); its best `top` kept and cut again with each
 * range's (all of them without top, in the scope's list at once). */
static int query_alone(scope *s, size_t q, uint64_t pairs, size_t top, size_t budget)
{
    worker *w = s->workers;
    int rc = scope_doc_end(s);
    size_t share = budget / s->n ? budget / s->n : 1, aim = budget / 2 ? budget / 2 : 1;
    uint64_t span = s->doc_end > s->doc_first ? s->doc_end - s->doc_first : 0;
    uint64_t width = span / (pairs / aim + 1) + 1; /* (as if the pairs were spread evenly) */
    db_hit_list best = {NULL, 0, 0, NULL, 0, 0};
    for (uint64_t first = s->doc_first; first < s->doc_end && rc == ND_OK;) {
        uint64_t last = s->doc_end - first > width ? first + width - 1 : s->doc_end - 1;
        atomic_store_explicit(&w->counted[q], 0, memory_order_relaxed);
        rc = run_pass(s, q, q + 1, (uint32_t)first, (uint32_t)last, first == last ? SIZE_MAX : share);
        uint64_t found =
            rc == OVER_BUDGET ? atomic_load_explicit(&w->counted[q], memory_order_relaxed) : (uint64_t)s->pass_pairs;
        /* the next range: as wide as would have found half the budget's
         * pairs here; over budget, at most half as wide; else at most twice
         * (an empty stretch says little about the next) */
        double fit = (double)(last - first + 1) * (double)aim / (double)(found ? found : 1);
        uint64_t most = rc == OVER_BUDGET ? width / 2 : 2 * width;
        width = fit < 1.0 ? 1 : fit < (double)most ? (uint64_t)fit : most;
        if (width == 0)
            width = 1;
        if (rc == OVER_BUDGET) {
            rc = ND_OK;
            continue; /* the range again, smaller (one document alone is taken whole) */
        }
        first = last + 1;
        if (rc == ND_OK && !top) {
            rc = keep_pass_best(s, &s->kept, NULL, q, q + 1, 0);
        } else if (rc == ND_OK) {
            db_hit_list kept = {NULL, 0, 0, NULL, 0, 0};
            rc = keep_pass_best(s, &kept, &best, q, q + 1, top);
            nd_db_hit_list_free(&best);
            best = kept;
        }
    }
    const db_hit_list *lists[1] = {&best};
    if (rc == ND_OK && top && nd_db_hits_keep_best(&s->kept, lists, 1, q, q + 1, top) != ND_OK)
        rc = nd_db_worker_oom(w);
    nd_db_hit_list_free(&best);
    return rc;
}

int nd_db_query_scope(scope *s, size_t count, size_t top, size_t budget)
{
    atomic_uint_least64_t *counted = s->workers[0].counted;
    for (size_t q = 0; q < count; q++)
        atomic_init(&counted[q], 0);
    size_t share = budget / s->n ? budget / s->n : 1; /* (of the pairs each thread finds) */
    int rc = run_pass(s, 0, count, s->doc_first, UINT32_MAX, share);
    if (rc == ND_OK)
        return keep_pass_best(s, &s->kept, NULL, 0, count, top);
    if (rc != OVER_BUDGET)
        return rc;
    rc = ND_OK;
    for (size_t q = 0; q < count && rc == ND_OK;) {
        uint64_t pairs = atomic_load_explicit(&counted[q], memory_order_relaxed);
        if (pairs > budget) {
            rc = query_alone(s, q, pairs, top, budget);
            q++;
            continue;
        }
        size_t end = q;
        uint64_t sum = 0;
        while (end < count && (pairs = atomic_load_explicit(&counted[end], memory_order_relaxed)) <= budget - sum) {
            sum += pairs;
            end++;
        }
        if (sum > 0) { /* (queries without candidates need no pass) */
            rc = run_pass(s, q, end, s->doc_first, UINT32_MAX, SIZE_MAX);
            if (rc == ND_OK)
                rc = keep_pass_best(s, &s->kept, NULL, q, end, top);
        }
        q = end;
    }
    return rc;
}
