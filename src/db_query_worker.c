/* db_query_worker.c - one worker of an index query: the candidate pairs
 * of its part of a pass, and their verification (db_query.c gives the
 * method, db_query_passes.c the passes and how they are shared out).
 *
 * A worker looks up its probes (a query's band keys, or in a containment
 * index its shingle keys) among the band entries of its transaction or of
 * the run's buffer, for documents in the pass's range, and holds each
 * (document, query) pair found, up to its pair budget; past the budget it
 * only counts them per query. The pairs held are sorted by document and
 * verified document by document, each candidate's record read and its ids
 * decoded once for all the queries it is a candidate of; the matches go
 * into the worker's list of hits.
 */
#include "db_query_worker.h"

#include <stdatomic.h> /* atomic_fetch_add_explicit */
#include <stdint.h>    /* uint32_t, uint64_t */

#include "alloc.h"
#include "db_contain.h"
#include "sort.h"

typedef db_worker worker;
typedef db_probe probe;

#define SELF(x) (x)
ND_DEFINE_RADIX_SORT(sort_pairs, uint64_t, SELF, 0, 56)

int nd_db_worker_oom(worker *w)
{
    return nd_db_fail(w->db, ND_ENOMEM, "%s: out of memory querying", w->db->path);
}

/* The pairs of run_query counted by this worker, into the shared counts. */
void nd_db_worker_tally(worker *w)
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
        nd_db_worker_tally(w);
        w->run_query = query;
    }
    w->run_pairs++;
    return ND_OK;
}

static int add_pair(worker *w, uint32_t doc, uint32_t query)
{
    return hold_pair(w, doc, query) == ND_OK ? ND_OK : nd_db_worker_oom(w);
}

/* nd_db_buckets_lookup's callback: a candidate pair. */
static int pair_found(void *ctx, uint32_t doc, uint32_t query)
{
    return hold_pair(ctx, doc, query);
}

/* The keys a query looks up: its band keys (bands of them, none without
 * shingles), or in a containment index (db_contain.h) the prefix postings
 * of each of its shingles and the other postings of each of its prefix. */
size_t nd_db_worker_probes_of(const worker *w, const nd_db_doc *d)
{
    if (db_worker_containment(w))
        return d->count + db_contain_prefix(d->count, w->threshold);
    return d->count ? w->db->opts.bands : 0;
}

/* The pass's probes, one per (query, key). */
int nd_db_worker_make_probes(worker *w)
{
    unsigned bands = w->db->opts.bands;
    size_t n = 0;
    for (size_t q = w->begin; q < w->end; q++)
        n += nd_db_worker_probes_of(w, &w->docs[q]);
    nd_free(w->probes);
    nd_free(w->probes_tmp);
    w->probe_count = 0;
    w->probes = nd_malloc((n ? n : 1) * sizeof *w->probes);
    w->probes_tmp = nd_malloc((n ? n : 1) * sizeof *w->probes_tmp);
    if (!w->probes || !w->probes_tmp)
        return nd_db_worker_oom(w);
    for (size_t q = w->begin; q < w->end; q++) {
        const nd_db_doc *d = &w->docs[q];
        if (d->count == 0)
            continue;
        if (db_worker_containment(w)) {
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
int nd_db_worker_candidates_in_txn(worker *w, const probe *probes, size_t count)
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
            return nd_db_worker_oom(w);
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
                    status = nd_db_worker_oom(w);
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
int nd_db_worker_candidates_in_buffer(worker *w)
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
int nd_db_worker_sort_pairs(worker *w)
{
    if (nd_grow((void **)&w->pairs_tmp, &w->pairs_tmp_capacity, w->pair_count ? w->pair_count : 1,
                sizeof *w->pairs_tmp) != 0)
        return nd_db_worker_oom(w);
    sort_pairs(w->pairs, w->pairs_tmp, w->pair_count);
    return ND_OK;
}

/* Verify the candidate pairs, document by document: each candidate's
 * record is read, and its ids decoded, once however many queries it is a
 * candidate of. The hits end in query order. */
int nd_db_worker_verify(worker *w, const uint64_t *pairs, size_t count)
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
            if ((!db_worker_containment(w) || lo < w->db->opts.min_shingles) &&
                !reaches((double)lo / (double)hi, w->threshold))
                continue; /* sizes alone keep J below the threshold (and containment counts for neither) */
            if (!decoded) {
                if (nd_grow((void **)&w->ids, &w->ids_capacity, r.count, sizeof *w->ids) != 0)
                    return nd_db_worker_oom(w);
                if (nd_db_record_ids(w->ids, &r) != 0)
                    return nd_db_fail(w->db, ND_EFORMAT, "%s: corrupt index (the shingle ids of document %u)",
                                      w->db->path, (unsigned)doc);
                decoded = 1;
            }
            size_t shared = nd_intersection(query.ids, query.count, w->ids, r.count);
            double jaccard = nd_jaccard_counts(query.count, r.count, shared);
            if (db_worker_containment(w)) {
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
            if (db_worker_containment(w))
                h.rank = h.query_in_match > h.match_in_query ? h.query_in_match : h.match_in_query;
            if (nd_db_hit_push(&w->hits, &h, r.id) != ND_OK)
                return nd_db_worker_oom(w);
        }
        i = j;
    }
    nd_db_hits_by_query(&w->hits);
    return ND_OK;
}

void nd_db_worker_free(worker *w)
{
    nd_db_hit_list_free(&w->hits);
    nd_free(w->probes);
    nd_free(w->probes_tmp);
    nd_free(w->pairs);
    nd_free(w->pairs_tmp);
    nd_free(w->found);
    nd_free(w->ids);
}
