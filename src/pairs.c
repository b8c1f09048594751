/* pairs.c - every matching pair of texts (nd_index_pairs), with its exact
 * Jaccard and both containments: the answer to "which texts are copies of
 * this one, and how close", which clusters (scored against one survivor)
 * do not give.
 *
 * Clustering skips a candidate pair whose texts are already in one
 * component; listing pairs cannot, so here every candidate is verified
 * (each pair once: a set remembers the pairs that matched, a cache of
 * fixed size the pairs rejected lately, so that memory follows the answer,
 * not the candidates: 8,000 variants of one template took 216 MB when
 * every pair checked was kept; see pairset.c). Four steps:
 *
 * 1. Identical sets (candidates.c): only the first text of each set goes
 *    on; the others are remembered as its copies.
 * 2. Candidates among those representatives, verified exactly: LSH bands
 *    for Jaccard, or every pair that can match for containment (contain.c).
 * 3. Jaccard only: LSH misses a pair with probability 1 - P(J) (about
 *    0.6% at J = 0.85 with the default 16 x 8 bands). Pairs that match one
 *    text in common are likely to match each other, so within each group
 *    of representatives joined by verified pairs (up to GROUP_LIMIT of
 *    them), every pair not yet checked is verified too. Containment's
 *    candidates miss nothing, so it skips this step.
 * 4. Copies expanded (pairs_expand.c): a verified pair of representatives
 *    gives every pair of their copies (the same sets, so the same
 *    numbers), and k copies of one set give their k (k - 1) / 2 pairs at
 *    Jaccard 1. The pairs are handed out one text at a time, not held:
 *    memory follows the pairs found between distinct sets, not the k^2
 *    of k copies (3,000 copies of one text: 4.5M pairs, 277 MB when they
 *    were all held and sorted).
 *
 * Pairs come in order of (a, b), so the order depends only on the input.
 */
#include "neardup.h"

#include <string.h> /* memset */

#include "alloc.h"
#include "candidates.h"
#include "measure.h"
#include "pairs_expand.h"
#include "pairset.h"
#include "prefix_filter.h"
#include "store.h"
#include "uf.h"

/* Step 3 verifies every pair in groups of up to this many representatives
 * (at most GROUP_LIMIT^2 / 2 verifications each). */
enum { GROUP_LIMIT = 400 };

typedef struct {
    const nd_store *store;
    unsigned char *is_representative;
    uint32_t *first_of;     /* per text with shingles: the first text with its set */
    nd_pair_set matched;    /* the pairs found */
    nd_pair_cache rejected; /* the pairs rejected lately */
    nd_found_pair *found;
    size_t found_count, found_capacity;
    nd_cluster_stats stats;
    nd_id_buffer buf_a, buf_b;
    int io_status;
} pairs_state;

static void note_copy(void *ctx, size_t first, size_t other)
{
    pairs_state *st = ctx;
    st->first_of[other] = (uint32_t)first;
}

/* Verify the pair (a, b) (either order), a's ids read already (NULL: read
 * them into buf_a; *ids_a is updated); keep it if it matches, else
 * remember it in the cache. */
static int verify(pairs_state *st, size_t a, size_t b, const uint32_t **ids_a)
{
    const nd_store *store = st->store;
    st->stats.candidate_pairs++;
    if (!*ids_a)
        *ids_a = store->ids(store->backend, a, &st->buf_a, &st->io_status);
    const uint32_t *ids_b = store->ids(store->backend, b, &st->buf_b, &st->io_status);
    if (st->io_status != ND_OK)
        return st->io_status;
    size_t na = store->meta[a].count, nb = store->meta[b].count;
    size_t shared = nd_ids_shared(*ids_a, na, ids_b, nb);
    uint32_t lo = (uint32_t)(a < b ? a : b), hi = (uint32_t)(a < b ? b : a);
    if (!nd_matches(store->opts, na, nb, shared))
        return nd_pair_cache_put(&st->rejected, nd_pair_key(lo, hi));
    if (nd_grow((void **)&st->found, &st->found_capacity, st->found_count + 1, sizeof *st->found) ||
        nd_pair_set_insert(&st->matched, nd_pair_key(lo, hi)) != ND_OK)
        return ND_ENOMEM;
    st->found[st->found_count++] = (nd_found_pair){lo, hi, shared};
    st->stats.verified_pairs++;
    return ND_OK;
}

/* Verify (a, b) (either order; a's ids as for verify) unless it matched
 * already or was rejected lately (a pair the cache forgot is verified
 * again, and rejected again). */
static int verify_once(pairs_state *st, size_t a, size_t b, const uint32_t **ids_a)
{
    uint64_t key = a < b ? nd_pair_key((uint32_t)a, (uint32_t)b) : nd_pair_key((uint32_t)b, (uint32_t)a);
    if (nd_pair_set_contains(&st->matched, key) || nd_pair_cache_contains(&st->rejected, key))
        return ND_OK;
    return verify(st, a, b, ids_a);
}

/* A key with this many texts has its pairs that cannot match set aside by
 * an exact prefix filter (prefix_filter.c, both ways) before they are
 * verified: its texts are often variants of one template that match
 * little. 16,000 variants of a 100-word text with five words of their own
 * each: 2.5M verifications without it, 0.43M with it; with three words of
 * their own it rules out few (5.9M verifications, each pair once, with the
 * set of every pair checked, which took 216 MB at 8,000; 6.7M with the
 * cache, which forgets, and 21 MB). */
enum { FILTER_KEY_TEXTS = 128 };

typedef struct key_entries {
    pairs_state *st;
    const uint64_t *entries;
} key_entries;

/* nd_member_ids_fn over a key's entries (read into buf_a). */
static const uint32_t *entry_ids(void *ctx, size_t member, size_t *count)
{
    key_entries *k = ctx;
    const nd_store *store = k->st->store;
    size_t text = (uint32_t)k->entries[member];
    *count = store->meta[text].count;
    return *count ? store->ids(store->backend, text, &k->st->buf_a, &k->st->io_status) : NULL;
}

/* Every pair of the n texts of one key (in text order) that the filter
 * marks, verified; every pair when no filter is exact. */
static int verify_key_filtered(pairs_state *st, const uint64_t *entries, size_t n)
{
    nd_prefix_filter filter;
    key_entries k = {st, entries};
    int rc = nd_prefix_filter_build(&filter, st->store->opts->threshold, n, entry_ids, &k, 1);
    if (rc == ND_EIO)
        return st->io_status;
    if (rc != ND_OK && rc != ND_EINVAL)
        return rc;
    int filtered = rc == ND_OK;
    rc = ND_OK;
    for (size_t q = 1; q < n && rc == ND_OK; q++) {
        const uint32_t *ids_q = NULL;
        if (filtered)
            nd_prefix_filter_mark(&filter, q);
        for (size_t p = 0; p < q && rc == ND_OK; p++) {
            if (!filtered || nd_prefix_filter_marked(&filter, p))
                rc = verify_once(st, (uint32_t)entries[q], (uint32_t)entries[p], &ids_q);
        }
    }
    if (filtered)
        nd_prefix_filter_free(&filter);
    return rc;
}

/* Step 2, Jaccard: every pair of texts sharing a key in this band. */
static int verify_band(void *ctx, const uint64_t *entries, size_t m)
{
    pairs_state *st = ctx;
    int rc = ND_OK;
    for (size_t i = 0; i < m && rc == ND_OK;) {
        size_t j = i + 1;
        while (j < m && entries[j] >> 32 == entries[i] >> 32)
            j++;
        if (j - i >= FILTER_KEY_TEXTS) {
            rc = verify_key_filtered(st, entries + i, j - i);
        } else {
            for (size_t p = i; p < j && rc == ND_OK; p++) {
                const uint32_t *ids_a = NULL;
                for (size_t q = p + 1; q < j && rc == ND_OK; q++)
                    rc = verify_once(st, (uint32_t)entries[p], (uint32_t)entries[q], &ids_a);
            }
        }
        i = j;
    }
    return rc;
}

/* Step 2, containment: each candidate pair comes once. */
static int verify_contained(void *ctx, size_t a, const uint32_t *others, size_t count)
{
    pairs_state *st = ctx;
    const uint32_t *ids_a = NULL;
    int rc = ND_OK;
    for (size_t k = 0; k < count && rc == ND_OK; k++)
        rc = verify(st, a, others[k], &ids_a);
    return rc;
}

/* Step 3: every pair inside each group of representatives joined by
 * verified pairs (groups of up to GROUP_LIMIT). */
static int complete_groups(pairs_state *st)
{
    size_t n = st->store->count;
    nd_uf uf;
    int rc = nd_uf_init(&uf, n); /* ND_EINVAL past ND_UF_MAX texts */
    if (rc != ND_OK)
        return rc;
    size_t *offset = nd_calloc(n + 1, sizeof *offset);
    size_t *members = nd_malloc((n ? n : 1) * sizeof *members);
    rc = ND_ENOMEM;
    if (!offset || !members)
        goto done;
    for (size_t i = 0; i < st->found_count; i++)
        nd_uf_union(&uf, st->found[i].a, st->found[i].b);
    for (size_t d = 0; d < n; d++)
        offset[nd_uf_find(&uf, d) + 1]++;
    for (size_t r = 0; r < n; r++)
        offset[r + 1] += offset[r];
    for (size_t d = 0; d < n; d++)
        members[offset[nd_uf_find(&uf, d)]++] = d; /* offset[r] now ends group r */
    rc = ND_OK;
    size_t begin = 0;
    for (size_t r = 0; r < n && rc == ND_OK; r++) {
        size_t end = offset[r];
        if (end - begin >= 3 && end - begin <= GROUP_LIMIT) {
            for (size_t i = begin; i < end && rc == ND_OK; i++) {
                const uint32_t *ids_a = NULL;
                for (size_t k = i + 1; k < end && rc == ND_OK; k++)
                    rc = verify_once(st, members[i], members[k], &ids_a);
            }
        }
        begin = end;
    }
done:
    nd_uf_release(&uf);
    nd_free(offset);
    nd_free(members);
    return rc;
}

int nd_store_pairs(nd_pairs **out, nd_cluster_stats *stats, const nd_store *store, unsigned threads)
{
    pairs_state st;
    memset(&st, 0, sizeof st);
    st.store = store;
    nd_pairs *pairs = NULL;
    st.is_representative = nd_calloc(store->count + 1, 1);
    st.first_of = nd_malloc((store->count + 1) * sizeof *st.first_of);
    int rc = ND_ENOMEM;
    if (!st.is_representative || !st.first_of)
        goto done;
    for (size_t d = 0; d < store->count; d++)
        st.first_of[d] = (uint32_t)d;
    rc = nd_identical_sets(st.is_representative, &st.stats.exact_groups, store, note_copy, &st);
    if (rc == ND_OK && store->opts->measure == ND_MEASURE_CONTAINMENT) {
        rc = nd_containment_candidates(store, st.is_representative, threads, verify_contained, &st);
    } else if (rc == ND_OK) {
        rc = nd_band_candidates(store, st.is_representative, threads, verify_band, &st);
        if (rc == ND_OK)
            rc = complete_groups(&st);
    }
    if (rc == ND_OK)
        rc = nd_pairs_make(&pairs, store, st.first_of, st.found, st.found_count);
    if (rc == ND_OK)
        st.first_of = NULL; /* the pairs' now */
done:
    nd_free(st.is_representative);
    nd_free(st.first_of);
    nd_pair_set_release(&st.matched);
    nd_pair_cache_release(&st.rejected);
    nd_free(st.found);
    nd_free(st.buf_a.data);
    nd_free(st.buf_b.data);
    if (rc != ND_OK)
        return rc;
    if (stats)
        *stats = st.stats;
    *out = pairs;
    return ND_OK;
}

int nd_index_pairs(nd_pairs **out, nd_cluster_stats *stats, const nd_index *index)
{
    nd_store store;
    int rc = nd_index_store(index, &store);
    if (rc != ND_OK)
        return rc;
    return nd_store_pairs(out, stats, &store, nd_index_threads(index));
}
