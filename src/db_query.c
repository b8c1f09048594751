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
 * thread (MDB_NOTLS: a snapshot that no writer disturbs, on any thread); the
 * batch is cut into one contiguous slice per thread, so results do not
 * depend on the thread count. Pending documents (this handle's run) are
 * read through the run's transaction and the buffered band entries, on the
 * calling thread. The results own copies of the matched ids, since LMDB's
 * pages are valid only inside a transaction.
 */
#include "db_internal.h"

#include <assert.h> /* assert (preconditions, debug builds) */
#include <stdlib.h> /* qsort */
#include <string.h> /* memcpy, memset */

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
    size_t begin, end;
    double threshold;
    MDB_txn *txn; /* records (and merged band entries) come from here */
    int pending;  /* 1: look for this run's documents, 0: committed ones */
    db_hit_list hits;
    probe *probes, *probes_tmp;
    size_t probe_count;
    uint64_t *pairs, *pairs_tmp; /* candidate (document << 32 | query) pairs */
    size_t pair_count, pair_capacity;
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

static int add_pair(worker *w, uint32_t doc, uint32_t query)
{
    if (nd_grow((void **)&w->pairs, &w->pair_capacity, w->pair_count + 1, sizeof *w->pairs) != 0)
        return out_of_memory(w);
    w->pairs[w->pair_count++] = (uint64_t)doc << 32 | query;
    return ND_OK;
}

/* nd_db_buckets_lookup's callback: a candidate pair. */
static int pair_found(void *ctx, uint32_t doc, uint32_t query)
{
    worker *w = ctx;
    if (nd_grow((void **)&w->pairs, &w->pair_capacity, w->pair_count + 1, sizeof *w->pairs) != 0)
        return ND_ENOMEM;
    w->pairs[w->pair_count++] = (uint64_t)doc << 32 | query;
    return ND_OK;
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

/* The slice's probes, one per (query, key). */
static int make_probes(worker *w)
{
    unsigned bands = w->db->opts.bands;
    size_t n = 0;
    for (size_t q = w->begin; q < w->end; q++)
        n += probes_of(w, &w->docs[q]);
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

/* Candidates from the band entries in the transaction (documents numbered
 * at least min_doc). The probes are looked up in key order: neighbouring
 * keys sit on the same or nearby B-tree pages (LMDB looks on the cursor's
 * page first), and an index built in key order has its leaves in key order
 * in the file, so a batch reads the tree nearly sequentially. A Jaccard
 * index's buckets are walked in order by nd_db_buckets_lookup (db_bucket.c). */
static int candidates_in_txn(worker *w, const probe *probes, size_t count, uint32_t min_doc)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(w->txn, w->db->bands, &cur);
    if (rc)
        return nd_db_fail_mdb(w->db, rc, "reading band keys");
    int status = ND_OK;
    if (db_bucketed(w->db)) {
        rc = nd_db_buckets_lookup(cur, probes, count, min_doc, pair_found, w);
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
            MDB_val key = {sizeof k, &k}, val;
            w->found_count = 0;
            rc = mdb_cursor_get(cur, &key, &val, MDB_SET_KEY);
            while (rc == 0 && status == ND_OK) {
                uint32_t doc = db_doc_at(val.mv_data);
                if (doc >= min_doc) {
                    if (nd_grow((void **)&w->found, &w->found_capacity, w->found_count + 1, sizeof *w->found) != 0)
                        status = out_of_memory(w);
                    else
                        w->found[w->found_count++] = doc;
                }
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
            if (db_entry_key(e) == key)
                status = add_pair(w, e->doc, w->probes[i].query);
        }
    }
    return status;
}

static int reaches(double jaccard, double threshold)
{
    return jaccard >= threshold - 1e-12;
}

/* Verify the candidate pairs, document by document: each candidate's
 * record is read, and its ids decoded, once however many queries it is a
 * candidate of. The hits end in query order. */
/* Sort the worker's candidate pairs (by document, then query). */
static int sort_worker_pairs(worker *w)
{
    w->pairs_tmp = nd_malloc((w->pair_count ? w->pair_count : 1) * sizeof *w->pairs_tmp);
    if (!w->pairs_tmp)
        return out_of_memory(w);
    sort_pairs(w->pairs, w->pairs_tmp, w->pair_count);
    return ND_OK;
}

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

/* Pending documents, on the calling thread: candidates from the run's
 * transaction and buffer. */
static void run_pending(worker *w)
{
    nd_db *db = w->db;
    w->rc = make_probes(w);
    if (w->rc == ND_OK)
        sort_probes(w->probes, w->probes_tmp, w->probe_count);
    if (w->rc == ND_OK && db->pending.merged)
        w->rc = candidates_in_txn(w, w->probes, w->probe_count, db->base_doc);
    if (w->rc == ND_OK)
        w->rc = candidates_in_buffer(w);
    if (w->rc == ND_OK)
        w->rc = sort_worker_pairs(w);
    if (w->rc == ND_OK && w->settling && nd_db_settle_pairs(w->settling, w->docs, w->pairs, w->pair_count, 1) != ND_OK)
        w->rc = out_of_memory(w);
    if (w->rc == ND_OK)
        w->rc = verify(w, w->pairs, w->pair_count);
}

/* Committed documents, phase 1 on each thread: its range of the probes. */
static void walk_phase(worker *w)
{
    w->rc = candidates_in_txn(w, w->walk, w->walk_count, 0);
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
        w->rc = candidates_in_txn(w, w->probes, m, 0);
    }
}

/* Committed documents for the whole batch, on n threads: the bands cut
 * into ranges (band_walk_phase; a containment index's probes sorted once
 * and cut into key ranges), so that each thread walks its own part of
 * the tree (the tree is walked once per call, whatever n); the candidate
 * pairs gathered, sorted once and cut into document ranges for
 * verification. Every thread reads the same snapshot. The hits end in
 * workers[0 .. n), each list in query order. */
static int query_committed(worker *workers, unsigned n, worker *all)
{
    nd_db *db = all->db;
    MDB_txn *txns[MAX_THREADS];
    int rc = ND_OK;
    if (is_containment(all)) {
        rc = make_probes(all);
        if (rc == ND_OK)
            sort_probes(all->probes, all->probes_tmp, all->probe_count);
    }
    if (rc != ND_OK)
        return rc;
    rc = begin_snapshot(db, txns, n);
    if (rc != ND_OK)
        return rc;
    unsigned bands = db->opts.bands;
    size_t with_shingles = 0;
    for (size_t q = all->begin; q < all->end; q++)
        with_shingles += all->docs[q].count != 0;
    for (unsigned t = 0; t < n; t++) {
        workers[t].txn = txns[t];
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
    for (unsigned t = 0; t < n && rc == ND_OK; t++) { /* all the pairs into `all` */
        worker *w = &workers[t];
        if (nd_grow((void **)&all->pairs, &all->pair_capacity, all->pair_count + w->pair_count, sizeof *all->pairs) !=
            0) {
            rc = out_of_memory(all);
            break;
        }
        if (w->pair_count)
            memcpy(all->pairs + all->pair_count, w->pairs, w->pair_count * sizeof *w->pairs);
        all->pair_count += w->pair_count;
    }
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
    for (unsigned t = 0; t < n; t++)
        mdb_txn_abort(txns[t]);
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
    if (!workers) {
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
    }
    worker *all = &workers[threads + 1];
    int status = ND_OK;
    if (threads > 0)
        status = query_committed(workers, threads, all);
    size_t lists = threads;
    if (status == ND_OK && with_pending) {
        worker *w = &workers[lists];
        w->txn = db->txn;
        w->pending = 1;
        run_pending(w);
        lists++;
    }
    int rc = status;
    for (size_t l = 0; l < lists && rc == ND_OK; l++)
        rc = workers[l].rc;
    const db_hit_list *hits[MAX_THREADS + 1];
    for (size_t l = 0; l < lists; l++)
        hits[l] = &workers[l].hits;
    if (rc == ND_OK && nd_db_results_assemble(out, hits, lists, count, o.top) != ND_OK)
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
    nd_free(workers);
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
