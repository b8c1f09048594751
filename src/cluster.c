/* cluster.c - verified clusters: candidates verified exactly, joined,
 * and split so that every member matches the text kept in its place.
 *
 * Clustering reads the texts through the storage seam (store.h), so it
 * runs the same on an index in memory, on one spilled to files, or on any
 * other backend that fills an nd_store. Three steps:
 *
 * 1. Identical sets (candidates.c) are joined with Jaccard 1; only the
 *    first text of each set goes on, so a thousand copies cost a sort,
 *    not half a million pair checks.
 * 2. Candidates: texts sharing an LSH band key (candidates.c) for
 *    Jaccard; every pair that can match, from an inverted index of
 *    shingles (contain.c), for containment. A candidate pair already in
 *    one component is skipped, and one rejected lately is not checked
 *    again (a cache of fixed size, pairset.c); a key's texts are compared
 *    group by group (keygroups.c), so a bucket of m near-copies costs
 *    about m verifications and m look-ups, not m^2 / 2, and a bucket of
 *    texts that match little goes through an exact prefix filter
 *    (prefix_filter.c). Every other candidate is verified with
 *    the exact overlap of the two id sets and joined (union-find) only if
 *    it matches (measure.h).
 * 3. Verified clusters (split.c): each connected component split so that
 *    every member is verified against the text kept in its place.
 *
 * Steps 1 and 2 run in input order on one thread, except that LSH bands
 * are prepared on other threads meanwhile, the first ones already while
 * step 1 runs (nd_sets_then_bands); step 3
 * splits components on the index's threads. The output depends only on
 * the input, the options and the seed.
 */
#include "neardup.h"

#include <string.h> /* memset */

#include "alloc.h"
#include "candidates.h"
#include "keygroups.h"
#include "measure.h"
#include "pairset.h"
#include "split.h"
#include "store.h"
#include "uf.h"

/* ****  Clustering  **** */

typedef struct {
    const nd_store *store;
    nd_uf uf;
    unsigned char *is_representative;
    nd_pair_cache rejected; /* the pairs rejected lately (pairset.c) */
    nd_cluster_stats stats;
    nd_id_buffer buf_a, buf_b; /* ids read back in spill mode */
    nd_id_buffer buf_filter;   /* ... and for a key's prefix filter (keygroups.c) */
    int io_status;             /* ND_OK, or the first read error */
    nd_key_groups groups;      /* verify_band's: a key's texts in groups (keygroups.c) */
    uint32_t *key_texts;       /* a key's texts */
    size_t key_capacity;
    size_t last_b; /* the text whose ids ids_b holds (SIZE_MAX: none) */
    const uint32_t *ids_b;
} cluster_state;

/* ids of doc into one of the state's buffers (NULL on a read error). */
static const uint32_t *state_ids(cluster_state *st, size_t doc, nd_id_buffer *buf)
{
    return st->store->ids(st->store->backend, doc, buf, &st->io_status);
}

/* Step 1 (nd_identical_sets): a copy joins the first text of its set. */
static void join_same(void *ctx, size_t first, size_t other)
{
    cluster_state *st = ctx;
    nd_uf_union(&st->uf, first, other);
}

/* How many entries past the current key verify_band asks the memory for. */
enum { PREFETCH_AHEAD = 8 };
#if defined(__GNUC__) || defined(__clang__)
#define ND_PREFETCH(p) __builtin_prefetch(p)
#else
#define ND_PREFETCH(p) ((void)(p))
#endif

/* Step 2, Jaccard: verify candidate pair (a, b), a < b, two texts in
 * different components (nd_verify_pair_fn), unless it was rejected lately.
 * The key's texts are taken in turn as b, each against the earlier ones
 * (keygroups.c): b's ids are read once for all of them. */
static int verify_pair(void *ctx, size_t a, size_t b)
{
    cluster_state *st = ctx;
    const nd_store *store = st->store;
    uint64_t key = nd_pair_key((uint32_t)a, (uint32_t)b);
    if (nd_pair_cache_contains(&st->rejected, key))
        return 0;
    st->stats.candidate_pairs++;
    if (st->last_b != b) {
        st->ids_b = state_ids(st, b, &st->buf_b);
        st->last_b = st->io_status == ND_OK ? b : SIZE_MAX;
    }
    const uint32_t *ids_a = state_ids(st, a, &st->buf_a);
    if (st->io_status != ND_OK)
        return st->io_status;
    size_t na = store->meta[a].count, nb = store->meta[b].count;
    if (nd_matches(store->opts, na, nb, nd_ids_shared(ids_a, na, st->ids_b, nb))) {
        st->stats.verified_pairs++;
        nd_uf_union(&st->uf, a, b);
        return 1;
    }
    return nd_pair_cache_put(&st->rejected, key) != ND_OK ? ND_ENOMEM : 0;
}

/* A key's texts' ids for its prefix filter (nd_key_source), read into a
 * buffer of their own: verify_pair's stay as they are. */
static const uint32_t *filter_ids(void *ctx, size_t text, size_t *count)
{
    cluster_state *st = ctx;
    *count = st->store->meta[text].count;
    return *count ? state_ids(st, text, &st->buf_filter) : NULL;
}

/* Step 2, Jaccard: verify the candidates of one prepared band, key by key
 * (texts sharing a key: keygroups.c). A pair already in one component is
 * skipped, and one rejected lately is not checked again (pairset.c), so a
 * key of m near-copies costs about m verifications and m look-ups, not
 * m^2 / 2. */
static int verify_band(void *ctx, const uint64_t *entries, size_t m)
{
    cluster_state *st = ctx;
    const nd_store *store = st->store;
    for (size_t i = 0; i < m;) {
        /* most keys are a text's own: pass them in a tight loop */
        while (i + 1 < m && (entries[i] ^ entries[i + 1]) >> 32)
            i++;
        size_t j = i + 1;
        while (j < m && entries[j] >> 32 == entries[i] >> 32)
            j++;
        /* the texts of the next keys are anywhere in memory: ask for their
         * union-find entries and sizes now, while this key is verified */
        for (size_t k = j; k < j + PREFETCH_AHEAD && k < m; k++) {
            ND_PREFETCH(&st->uf.link[(uint32_t)entries[k]]);
            ND_PREFETCH(&store->meta[(uint32_t)entries[k]]);
        }
        if (j - i >= 2) {
            if (nd_grow((void **)&st->key_texts, &st->key_capacity, j - i, sizeof *st->key_texts) != 0)
                return ND_ENOMEM;
            for (size_t k = i; k < j; k++)
                st->key_texts[k - i] = (uint32_t)entries[k]; /* in text order within a key */
            /* the store's buffers are read again: ids_b is not known to be there */
            st->last_b = SIZE_MAX;
            nd_key_source source = {filter_ids, st, store->opts->threshold};
            int rc = nd_key_groups_verify(&st->groups, &st->uf, st->key_texts, j - i, verify_pair, st, &source);
            if (rc == ND_EIO && st->io_status != ND_OK)
                rc = st->io_status; /* the read's own error */
            if (rc != ND_OK)
                return rc;
        }
        i = j;
    }
    return ND_OK;
}

/* Step 2, containment: verify the candidates of text a (contain.c gives
 * each pair once, so nothing needs remembering). */
static int verify_contained(void *ctx, size_t a, const uint32_t *others, size_t count)
{
    cluster_state *st = ctx;
    const nd_store *store = st->store;
    const uint32_t *ids_a = NULL;
    size_t na = store->meta[a].count;
    for (size_t k = 0; k < count; k++) {
        size_t b = others[k];
        if (nd_uf_find(&st->uf, a) == nd_uf_find(&st->uf, b))
            continue;
        st->stats.candidate_pairs++;
        if (!ids_a)
            ids_a = state_ids(st, a, &st->buf_a);
        const uint32_t *ids_b = state_ids(st, b, &st->buf_b);
        if (st->io_status != ND_OK)
            return st->io_status;
        size_t nb = store->meta[b].count;
        if (nd_matches(store->opts, na, nb, nd_ids_shared(ids_a, na, ids_b, nb))) {
            st->stats.verified_pairs++;
            nd_uf_union(&st->uf, a, b);
        }
    }
    return ND_OK;
}

/* Group the texts by component, in input order, and split each. */
static int build_clusters(cluster_state *st, unsigned threads, nd_keep keep, nd_clusters *out)
{
    /* only the texts of components of two or more take room (the union-find
     * counts them): a paragraph mode's millions of units are mostly single */
    size_t *members = NULL, *bounds = NULL, total = 0, components = 0;
    unsigned char *one_set = NULL; /* per component */
    int rc = nd_uf_sets(&st->uf, &members, &total, &bounds, &components);
    if (rc != ND_OK)
        return rc;
    rc = ND_ENOMEM;
    one_set = nd_malloc(components ? components : 1);
    if (!one_set)
        goto done;
    for (size_t c = 0; c < components; c++) {
        /* members[begin, end) are in input order already. One
         * representative: every other member was joined to it as an
         * identical set (step 1 compared their ids), none by a verified
         * candidate pair (which joins two representatives) */
        size_t representatives = 0;
        for (size_t k = bounds[2 * c]; k < bounds[2 * c + 1] && representatives < 2; k++)
            representatives += st->is_representative[members[k]];
        one_set[c] = representatives == 1;
    }
    nd_split_state split = {st->store, {NULL, 0}, {NULL, 0}, ND_OK};
    rc = nd_split_components(&split, members, bounds, one_set, components, threads, keep, out);
    nd_free(split.buf_a.data);
    nd_free(split.buf_b.data);
done:
    nd_free(members);
    nd_free(bounds);
    nd_free(one_set);
    return rc;
}

int nd_store_cluster(nd_clusters **out, nd_cluster_stats *stats, const nd_store *store, unsigned threads, nd_keep keep)
{
    cluster_state st;
    memset(&st, 0, sizeof st);
    st.store = store;
    nd_clusters *clusters = nd_clusters_new();
    int rc = ND_ENOMEM;
    if (!clusters)
        goto done;
    rc = nd_uf_init(&st.uf, store->count);
    if (rc != ND_OK)
        goto done;
    rc = ND_ENOMEM;
    st.is_representative = nd_calloc(store->count + 1, 1);
    if (!st.is_representative)
        goto done;
    if (store->opts->measure == ND_MEASURE_CONTAINMENT) {
        rc = nd_identical_sets(st.is_representative, &st.stats.exact_groups, store, join_same, &st);
        if (rc == ND_OK)
            rc = nd_containment_candidates(store, st.is_representative, threads, verify_contained, &st);
    } else {
        rc = nd_sets_then_bands(st.is_representative, &st.stats.exact_groups, store, threads, join_same, &st,
                                verify_band, &st);
    }
    if (rc == ND_OK)
        rc = build_clusters(&st, threads, keep, clusters);
done:
    nd_uf_release(&st.uf);
    nd_free(st.is_representative);
    nd_pair_cache_release(&st.rejected);
    nd_free(st.buf_a.data);
    nd_free(st.buf_b.data);
    nd_free(st.buf_filter.data);
    nd_key_groups_release(&st.groups);
    nd_free(st.key_texts);
    if (rc != ND_OK) {
        nd_clusters_free(clusters);
        return rc;
    }
    if (stats)
        *stats = st.stats;
    *out = clusters;
    return ND_OK;
}

int nd_index_cluster(nd_clusters **out, nd_cluster_stats *stats, const nd_index *index, nd_keep keep)
{
    nd_store store;
    int rc = nd_index_store(index, &store);
    if (rc != ND_OK)
        return rc;
    return nd_store_cluster(out, stats, &store, nd_index_threads(index), keep);
}
