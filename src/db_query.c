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
 * band by band (candidates_in_txn says why), the candidate pairs sorted by
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
#include "db_internal.h"

#include <assert.h>    /* assert (preconditions, debug builds) */
#include <stdatomic.h> /* atomic_uint_least64_t, atomic_size_t */
#include <stdint.h>    /* SIZE_MAX, UINT32_MAX */
#include <string.h>    /* memcpy */

#include "alloc.h"
#include "db_contain.h"
#include "db_settle.h"
#include "sort.h"
#include "threads.h"

/* ****  One slice of queries  **** */

typedef db_probe probe;

#define PROBE_KEY(p) ((p).key)
ND_DEFINE_RADIX_SORT(sort_probes, probe, PROBE_KEY, 0, 56)
/* A bucketed index's walk (nd_db_buckets_lookup) needs only each bucket's
 * probes together, buckets ascending (the pairs found are sorted after):
 * within a band (the band leads the key, one a band), the bucket's 16 bits
 * of hash, two passes where the whole key took six. */
ND_DEFINE_RADIX_SORT(sort_probe_buckets, probe, PROBE_KEY, 32, 40)
#define SELF(x) (x)
ND_DEFINE_RADIX_SORT(sort_pairs, uint64_t, SELF, 0, 56)

typedef struct worker {
    nd_db *db;
    const nd_db_doc *docs;
    size_t begin, end;            /* the pass's queries */
    uint32_t doc_first, doc_last; /* and documents */
    double threshold;
    MDB_txn *txn; /* records (and merged band entries) come from here */
    int pending;  /* 1: look for this run's documents, 0: committed ones */
    db_hit_list hits;
    probe *probes, *probes_tmp;
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
    const probe *walk; /* committed queries: this thread's range of the sorted probes */
    size_t walk_count;
    const uint64_t *check; /* and of the sorted candidate pairs */
    size_t check_count;
    unsigned band_lo, band_hi; /* a Jaccard index's committed queries: this thread's bands (band_walk_phase) */
    size_t band_size;          /* and the probes of a band: the queries with shingles */
    db_settling *settling;     /* raw ids (nd_db_query_options.raw_ids): the queries' sorted ones; else NULL */
    void (*phase)(struct worker *);
    int rc;
} worker;

static int out_of_memory(worker *w)
{
    return nd_db_fail(w->db, ND_ENOMEM, "%s: out of memory querying", w->db->path);
}

/* The pairs of run_query counted by this worker, into the shared counts. */
static void tally_run(worker *w)
{
    if (w->run_pairs)
        atomic_fetch_add_explicit(&w->counted[w->run_query], w->run_pairs, memory_order_relaxed);
    w->run_pairs = 0;
}

/* A candidate pair: held, or past the pass's budget counted (its query's
 * pairs come one after the other, a key's documents at a time: counted
 * here, added to the shared count when another query's come). ND_OK or
 * ND_ENOMEM. */
static int hold_pair(worker *w, uint32_t doc, uint32_t query)
{
    if (w->pair_count < w->pair_budget) {
        if (nd_grow((void **)&w->pairs, &w->pair_capacity, w->pair_count + 1, sizeof *w->pairs) != 0)
            return ND_ENOMEM;
        w->pairs[w->pair_count++] = (uint64_t)doc << 32 | query;
        return ND_OK;
    }
    w->over_budget = 1;
    if (query != w->run_query) {
        tally_run(w);
        w->run_query = query;
    }
    w->run_pairs++;
    return ND_OK;
}

static int add_pair(worker *w, uint32_t doc, uint32_t query)
{
    return hold_pair(w, doc, query) == ND_OK ? ND_OK : out_of_memory(w);
}

/* nd_db_buckets_lookup's callback: a candidate pair. */
static int pair_found(void *ctx, uint32_t doc, uint32_t query)
{
    return hold_pair(ctx, doc, query);
}

static int is_containment(const worker *w)
{
    return w->db->opts.measure == ND_MEASURE_CONTAINMENT;
}

/* The keys a query looks up: its band keys (bands of them, none without
 * shingles), or in a containment index (db_contain.h) the prefix postings
 * of each of its shingles and the other postings of each of its prefix. */
static size_t probes_of(const worker *w, const nd_db_doc *d)
{
    if (is_containment(w))
        return d->count + db_contain_prefix(d->count, w->threshold);
    return d->count ? w->db->opts.bands : 0;
}

/* The pass's probes, one per (query, key). */
static int make_probes(worker *w)
{
    unsigned bands = w->db->opts.bands;
    size_t n = 0;
    for (size_t q = w->begin; q < w->end; q++)
        n += probes_of(w, &w->docs[q]);
    nd_free(w->probes);
    nd_free(w->probes_tmp);
    w->probe_count = 0;
    w->probes = nd_malloc((n ? n : 1) * sizeof *w->probes);
    w->probes_tmp = nd_malloc((n ? n : 1) * sizeof *w->probes_tmp);
    if (!w->probes || !w->probes_tmp)
        return out_of_memory(w);
    for (size_t q = w->begin; q < w->end; q++) {
        const nd_db_doc *d = &w->docs[q];
        if (d->count == 0)
            continue;
        if (is_containment(w)) {
            size_t prefix = db_contain_prefix(d->count, w->threshold);
            for (size_t k = 0; k < d->count; k++)
                w->probes[w->probe_count++] = (probe){db_post_key(POST_PREFIX, d->ids[k]), (uint32_t)q};
            for (size_t k = 0; k < prefix; k++)
                w->probes[w->probe_count++] = (probe){db_post_key(POST_REST, d->ids[k]), (uint32_t)q};
            continue;
        }
        for (unsigned j = 0; j < bands; j++) /* band by band: probes[j * m + r] for the r-th of m queries */
            w->probes[j * (n / bands) + w->probe_count / bands] = (probe){db_band_key(j, d->keys[j]), (uint32_t)q};
        w->probe_count += bands;
    }
    return ND_OK;
}

/* Candidates from the band entries in the transaction (the pass's
 * documents). The probes are looked up in key order: neighbouring
 * keys sit on the same or nearby B-tree pages (LMDB looks on the cursor's
 * page first), and an index built in key order has its leaves in key order
 * in the file, so a batch reads the tree nearly sequentially. A Jaccard
 * index's buckets are walked in order by nd_db_buckets_lookup (db_bucket.c);
 * a containment index's documents under a key are sorted duplicates, found
 * from the first of the pass's on (MDB_GET_BOTH_RANGE). */
static int candidates_in_txn(worker *w, const probe *probes, size_t count)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(w->txn, w->db->bands, &cur);
    if (rc)
        return nd_db_fail_mdb(w->db, rc, "reading band keys");
    int status = ND_OK;
    if (db_bucketed(w->db)) {
        rc = nd_db_buckets_lookup(cur, probes, count, w->doc_first, w->doc_last, pair_found, w);
        mdb_cursor_close(cur);
        if (rc == ND_ENOMEM)
            return out_of_memory(w);
        if (rc == MDB_CORRUPTED)
            return nd_db_fail(w->db, ND_EFORMAT, "%s: corrupt index (a band bucket)", w->db->path);
        return rc ? nd_db_fail_mdb(w->db, rc, "reading band keys") : ND_OK;
    }
    for (size_t i = 0; i < count && status == ND_OK; i++) {
        if (i == 0 || probes[i].key != probes[i - 1].key) {
            uint64_t k = probes[i].key;
            uint32_t from = w->doc_first;
            MDB_val key = {sizeof k, &k}, val = {sizeof from, &from};
            w->found_count = 0;
            rc = mdb_cursor_get(cur, &key, &val, from ? MDB_GET_BOTH_RANGE : MDB_SET_KEY);
            while (rc == 0 && status == ND_OK) {
                uint32_t doc = db_doc_at(val.mv_data);
                if (doc > w->doc_last) {
                    rc = MDB_NOTFOUND; /* the rest are later still */
                    break;
                }
                if (nd_grow((void **)&w->found, &w->found_capacity, w->found_count + 1, sizeof *w->found) != 0)
                    status = out_of_memory(w);
                else
                    w->found[w->found_count++] = doc;
                rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT_DUP);
            }
            if (status == ND_OK && rc != MDB_NOTFOUND)
                status = nd_db_fail_mdb(w->db, rc, "reading band keys");
        }
        for (size_t f = 0; f < w->found_count && status == ND_OK; f++)
            status = add_pair(w, w->found[f], probes[i].query);
    }
    mdb_cursor_close(cur);
    return status;
}

/* Candidates among the run's buffered band entries. */
static int candidates_in_buffer(worker *w)
{
    const pending_bands *p = &w->db->pending;
    int status = ND_OK;
    for (size_t i = 0; i < w->probe_count && p->slots && status == ND_OK; i++) {
        uint64_t key = w->probes[i].key;
        for (size_t s = (size_t)key & p->slot_mask; p->slots[s] && status == ND_OK; s = (s + 1) & p->slot_mask) {
            const band_entry *e = &p->items[p->slots[s] - 1];
            if (db_entry_key(e) == key && e->doc >= w->doc_first && e->doc <= w->doc_last)
                status = add_pair(w, e->doc, w->probes[i].query);
        }
    }
    return status;
}

static int reaches(double jaccard, double threshold)
{
    return jaccard >= threshold - 1e-12;
}

/* Sort the worker's candidate pairs (by document, then query). */
static int sort_worker_pairs(worker *w)
{
    if (nd_grow((void **)&w->pairs_tmp, &w->pairs_tmp_capacity, w->pair_count ? w->pair_count : 1,
                sizeof *w->pairs_tmp) != 0)
        return out_of_memory(w);
    sort_pairs(w->pairs, w->pairs_tmp, w->pair_count);
    return ND_OK;
}

/* Verify the candidate pairs, document by document: each candidate's
 * record is read, and its ids decoded, once however many queries it is a
 * candidate of. The hits end in query order. */
static int verify(worker *w, const uint64_t *pairs, size_t count)
{
    for (size_t i = 0; i < count;) {
        uint32_t doc = (uint32_t)(pairs[i] >> 32);
        size_t j = i;
        while (j < count && (uint32_t)(pairs[j] >> 32) == doc)
            j++;
        db_record r;
        int rc = nd_db_read_record(w->db, w->txn, doc, &r);
        if (rc != ND_OK)
            return rc;
        int decoded = 0;
        for (size_t k = i; k < j && !(r.flags & DB_RECORD_REMOVED) && r.count > 0; k++) {
            if (k > i && pairs[k] == pairs[k - 1])
                continue; /* the same pair through another band */
            uint32_t q = (uint32_t)pairs[k];
            const db_settled query = w->settling ? w->settling->of[q] : (db_settled){w->docs[q].ids, w->docs[q].count};
            size_t lo = r.count < query.count ? r.count : query.count;
            size_t hi = r.count < query.count ? query.count : r.count;
            if ((!is_containment(w) || lo < w->db->opts.min_shingles) &&
                !reaches((double)lo / (double)hi, w->threshold))
                continue; /* sizes alone keep J below the threshold (and containment counts for neither) */
            if (!decoded) {
                if (nd_grow((void **)&w->ids, &w->ids_capacity, r.count, sizeof *w->ids) != 0)
                    return out_of_memory(w);
                if (nd_db_record_ids(w->ids, &r) != 0)
                    return nd_db_fail(w->db, ND_EFORMAT, "%s: corrupt index (the shingle ids of document %u)",
                                      w->db->path, (unsigned)doc);
                decoded = 1;
            }
            size_t shared = nd_intersection(query.ids, query.count, w->ids, r.count);
            double jaccard = nd_jaccard_counts(query.count, r.count, shared);
            if (is_containment(w)) {
                nd_options o = w->db->opts;
                o.threshold = w->threshold;
                if (!nd_matches(&o, query.count, r.count, shared))
                    continue;
            } else if (!reaches(jaccard, w->threshold)) {
                continue;
            }
            db_hit h = {q,
                        doc,
                        w->pending,
                        jaccard,
                        r.weight,
                        0,
                        r.id_len,
                        nd_containment_counts(query.count, shared),
                        nd_containment_counts(r.count, shared),
                        0.0};
            if (is_containment(w))
                h.rank = h.query_in_match > h.match_in_query ? h.query_in_match : h.match_in_query;
            if (nd_db_hit_push(&w->hits, &h, r.id) != ND_OK)
                return out_of_memory(w);
        }
        i = j;
    }
    nd_db_hits_by_query(&w->hits);
    return ND_OK;
}

/* ****  Passes  **** */

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

/* The pairs a call holds at once. */
static size_t pair_budget(const worker *w, const nd_db_doc *docs, size_t count)
{
    size_t set = atomic_load(&budget_for_tests);
    if (set)
        return set;
    size_t probes = 0;
    for (size_t q = 0; q < count; q++)
        probes += probes_of(w, &docs[q]);
    return probes > PAIRS_AT_ONCE ? probes : PAIRS_AT_ONCE;
}

/* Where a call looks: the committed documents (on n threads, their pairs
 * gathered by `all`), or the pending ones (one worker; all NULL); their
 * numbers [doc_first, doc_end) (committed: doc_end read when a query
 * needs it); and each query's best matches so far (by query). */
typedef struct scope {
    worker *workers;
    unsigned n;
    worker *all;
    uint32_t doc_first;
    uint64_t doc_end;
    int doc_end_known;
    size_t pass_pairs; /* the candidate pairs of its last pass (done, not over budget) */
    db_hit_list kept;
} scope;

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
        tally_run(w);
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
    int rc = make_probes(w);
    if (rc == ND_OK)
        sort_probes(w->probes, w->probes_tmp, w->probe_count);
    if (rc == ND_OK && w->db->pending.merged)
        rc = candidates_in_txn(w, w->probes, w->probe_count);
    if (rc == ND_OK)
        rc = candidates_in_buffer(w);
    if (rc == ND_OK && w->over_budget)
        return count_pairs(w, 1);
    s->pass_pairs = w->pair_count;
    if (rc == ND_OK)
        rc = sort_worker_pairs(w);
    if (rc == ND_OK && w->settling && nd_db_settle_pairs(w->settling, w->docs, w->pairs, w->pair_count, 1) != ND_OK)
        rc = out_of_memory(w);
    if (rc == ND_OK)
        rc = verify(w, w->pairs, w->pair_count);
    return rc;
}

/* Committed documents, phase 1 on each thread: its range of the probes. */
static void walk_phase(worker *w)
{
    w->rc = candidates_in_txn(w, w->walk, w->walk_count);
}

/* Phase 2 on each thread: its range of the candidate pairs. */
static void verify_phase(worker *w)
{
    w->rc = verify(w, w->check, w->check_count);
}

static void *phase_thread(void *arg)
{
    worker *w = arg;
    w->phase(w);
    return NULL;
}

enum { MAX_THREADS = 256 };

/* Run fn on workers[0 .. n) at once, workers[0] on the calling thread. */
static void run_phase(worker *workers, unsigned n, void (*fn)(worker *))
{
    for (unsigned t = 0; t < n; t++)
        workers[t].phase = fn;
    nd_on_threads(n, phase_thread, workers, sizeof *workers);
}

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
        w->rc = out_of_memory(w);
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
        w->rc = candidates_in_txn(w, w->probes, m);
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
    if (is_containment(all)) {
        rc = make_probes(all);
        if (rc != ND_OK)
            return rc;
        sort_probes(all->probes, all->probes_tmp, all->probe_count);
    }
    unsigned bands = all->db->opts.bands;
    size_t with_shingles = 0;
    for (size_t q = begin; q < end; q++)
        with_shingles += all->docs[q].count != 0;
    for (unsigned t = 0; t < n; t++) {
        if (is_containment(all)) {
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
    run_phase(workers, n, is_containment(all) ? walk_phase : band_walk_phase);
    for (unsigned t = 0; t < n && rc == ND_OK; t++)
        rc = workers[t].rc;
    if (rc == ND_OK && any_over_budget(workers, n))
        return count_pairs(workers, n);
    size_t total = 0;
    for (unsigned t = 0; t < n; t++)
        total += workers[t].pair_count;
    if (rc == ND_OK && nd_grow((void **)&all->pairs, &all->pair_capacity, total ? total : 1, sizeof *all->pairs) != 0)
        rc = out_of_memory(all);
    for (unsigned t = 0; t < n && rc == ND_OK; t++) { /* all the pairs into `all` */
        worker *w = &workers[t];
        if (w->pair_count)
            memcpy(all->pairs + all->pair_count, w->pairs, w->pair_count * sizeof *w->pairs);
        all->pair_count += w->pair_count;
    }
    s->pass_pairs = all->pair_count;
    if (rc == ND_OK)
        rc = sort_worker_pairs(all);
    if (rc == ND_OK && all->settling &&
        nd_db_settle_pairs(all->settling, all->docs, all->pairs, all->pair_count, n) != ND_OK)
        rc = out_of_memory(all);
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
    const db_hit_list *lists[MAX_THREADS + 1];
    size_t n = 0;
    if (also)
        lists[n++] = also;
    for (unsigned t = 0; t < s->n; t++)
        lists[n++] = &s->workers[t].hits;
    int rc = nd_db_hits_keep_best(into, lists, n, begin, end, top);
    for (unsigned t = 0; t < s->n; t++)
        nd_db_hit_list_free(&s->workers[t].hits);
    return rc == ND_OK ? ND_OK : out_of_memory(s->workers);
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
        rc = out_of_memory(w);
    nd_db_hit_list_free(&best);
    return rc;
}

/* Every query of the batch in the scope, each one's best `top` (0: all)
 * into the scope's list: one pass of them all; if it went over budget, by
 * their counted pairs, passes of consecutive queries whose pairs fit it,
 * and each query whose pairs alone do not, alone (query_alone). */
static int query_scope(scope *s, size_t count, size_t top, size_t budget)
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
    unsigned threads = o.threads < 1 ? 1 : o.threads > MAX_THREADS ? MAX_THREADS : o.threads;
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
    size_t budget = pair_budget(all, docs, count);
    scope committed = {workers, threads, all, 0, 0, 0, 0, {NULL, 0, 0, NULL, 0, 0}};
    scope pending = {&workers[threads], 1, NULL, db->base_doc, db->next_doc, 1, 0, {NULL, 0, 0, NULL, 0, 0}};
    int rc = ND_OK;
    if (threads > 0) {
        MDB_txn *txns[MAX_THREADS];
        rc = begin_snapshot(db, txns, threads);
        if (rc == ND_OK) {
            for (unsigned t = 0; t < threads; t++)
                workers[t].txn = txns[t];
            rc = query_scope(&committed, count, o.top, budget);
            for (unsigned t = 0; t < threads; t++)
                mdb_txn_abort(txns[t]);
        }
    }
    if (rc == ND_OK && with_pending) {
        workers[threads].txn = db->txn;
        workers[threads].pending = 1;
        rc = query_scope(&pending, count, o.top, budget);
    }
    const db_hit_list *kept[2] = {&committed.kept, &pending.kept};
    if (rc == ND_OK && nd_db_results_assemble(out, kept, 2, count, o.top) != ND_OK)
        rc = nd_db_fail(db, ND_ENOMEM, "%s: out of memory querying", db->path);
    for (size_t l = 0; l < (size_t)threads + 2; l++) {
        nd_db_hit_list_free(&workers[l].hits);
        nd_free(workers[l].probes);
        nd_free(workers[l].probes_tmp);
        nd_free(workers[l].pairs);
        nd_free(workers[l].pairs_tmp);
        nd_free(workers[l].found);
        nd_free(workers[l].ids);
    }
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
