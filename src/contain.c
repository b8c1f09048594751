/* contain.c - candidates for containment: every pair of texts that can
 * match, found through an inverted index of shingles with a prefix filter.
 *
 * Why not LSH. MinHash LSH finds pairs of high Jaccard. An excerpt E of a
 * third of an article A has J(E, A) = |E| / |A| ~ 0.33 while C(E in A) = 1;
 * banding tuned to catch J = 0.3 (a few rows per band) makes nearly every
 * pair that shares a few shingles a candidate. LSH Ensemble (Zhu et al.,
 * VLDB 2016) partitions texts by size and tunes bands per partition, but
 * it stays probabilistic, and a text's partition bounds only how far its
 * Jaccard can fall. Here candidates are exact instead: no matching pair
 * is missed, and the cost is an index the size of the shingle ids.
 *
 * The bound (measure.h). For texts A and B with |A| <= |B|, every kind of
 * match (Jaccard, A in B, B in A) needs an overlap x = |A ∩ B| of at least
 * o(|A|) = the least x with x / |A| >= t.
 *
 * The prefix filter (Chaudhuri, Ganti and Kaushik, ICDE 2006; Bayardo, Ma
 * and Srikant, WWW 2007). Take any p = |A| - o(|A|) + 1 shingles of A. If
 * B held none of them, |A ∩ B| <= |A| - p = o(|A|) - 1: no match. So every
 * B that matches A, with |B| >= |A|, holds at least one of the p chosen
 * shingles, and probing the inverted index (shingle -> texts holding it)
 * with those p shingles finds every such B. The choice of the p shingles
 * is free, so they are the rarest ones (fewest texts; ties by id), which
 * keeps the lists probed short: a shingle found in one text only (most
 * 5-word shingles of news) costs nothing, and boilerplate, found in many
 * texts, is probed only by texts made mostly of it. At t = 0.8, p is a
 * fifth of the text plus one; a text with p or more shingles that no
 * other text has matches no larger text, and costs nothing.
 *
 * Each pair is proposed once, from its smaller text (as many shingles:
 * the earlier one), so the caller verifies it once. Only representatives
 * (one text per distinct set, candidates.c) are indexed.
 *
 * Building the index. The (shingle id, text) entries are sorted by id in
 * up to 64 partitions of the id range (PART_ENTRIES entries each, or a
 * 64th of all, so the sort's scratch stays bounded); runs of one id give
 * its document frequency df. Shingles with df = 1 are only counted; the
 * others get a posting list (the texts holding them, ascending) and a
 * (text, shingle) entry, which, sorted by text, is each text's list of
 * shared shingles. Memory: 20 bytes per shared (text, shingle) entry,
 * plus the partition's 16 bytes per entry while sorting; texts' ids are
 * read back once per partition (from files, for a spilled index).
 */
#include "neardup.h"

#include <stdlib.h> /* qsort */
#include <string.h> /* memset */

#include "alloc.h"
#include "candidates.h"
#include "measure.h"
#include "sort.h"

enum { PART_ENTRIES = 1 << 22 };

typedef struct {
    const nd_store *store;
    const unsigned char *is_representative;
    nd_id_buffer buf;
    size_t *cursor; /* per text: its first id not yet placed in a partition */
    uint32_t *postings;
    size_t post_count, post_capacity;
    uint64_t *token_start; /* shared shingle k: postings[token_start[k] .. token_start[k + 1]) */
    size_t token_count, token_capacity;
    uint64_t *text_tokens; /* (text << 32 | k) for every text holding shared shingle k */
    size_t tt_count, tt_capacity;
    int rc;
} inverted;

static int is_indexed(const inverted *inv, size_t doc)
{
    return inv->is_representative[doc] && inv->store->meta[doc].count > 0;
}

/* The partition of an id: its top `bits` bits. */
static size_t partition_of(uint32_t id, unsigned bits)
{
    return bits ? (size_t)(id >> (32 - bits)) : 0;
}

/* Add one run of a sorted partition: the texts entries[0 .. df) holding
 * one shingle. */
static int add_run(inverted *inv, const uint64_t *entries, size_t df)
{
    if (df < 2)
        return ND_OK;
    if (inv->token_count >= UINT32_MAX - 1)
        return ND_ENOMEM; /* shingles are numbered in 32 bits */
    if (nd_grow((void **)&inv->token_start, &inv->token_capacity, inv->token_count + 2, sizeof *inv->token_start) ||
        nd_grow((void **)&inv->postings, &inv->post_capacity, inv->post_count + df, sizeof *inv->postings) ||
        nd_grow((void **)&inv->text_tokens, &inv->tt_capacity, inv->tt_count + df, sizeof *inv->text_tokens))
        return ND_ENOMEM;
    uint64_t k = inv->token_count++;
    inv->token_start[k] = inv->post_count;
    for (size_t i = 0; i < df; i++) {
        uint32_t doc = (uint32_t)entries[i];
        inv->postings[inv->post_count++] = doc;
        inv->text_tokens[inv->tt_count++] = (uint64_t)doc << 32 | k;
    }
    return ND_OK;
}

/* Build the inverted index of the shared shingles. */
static int build_index(inverted *inv)
{
    const nd_store *store = inv->store;
    size_t n = store->count, total = 0;
    for (size_t d = 0; d < n; d++)
        total += is_indexed(inv, d) ? store->meta[d].count : 0;
    unsigned bits = 0; /* at most 64 partitions: each one scans every text */
    while (bits < 6 && (total >> bits) > PART_ENTRIES)
        bits++;
    size_t parts = (size_t)1 << bits;
    size_t *part_size = nd_calloc(parts, sizeof *part_size);
    inv->cursor = nd_calloc(n + 1, sizeof *inv->cursor);
    if (!part_size || !inv->cursor) {
        nd_free(part_size);
        return ND_ENOMEM;
    }
    int rc = ND_OK;
    for (size_t d = 0; d < n && rc == ND_OK; d++) {
        if (!is_indexed(inv, d))
            continue;
        const uint32_t *ids = store->ids(store->backend, d, &inv->buf, &rc);
        for (size_t i = 0; ids && i < store->meta[d].count; i++)
            part_size[partition_of(ids[i], bits)]++;
    }
    size_t largest = 0;
    for (size_t p = 0; p < parts; p++)
        largest = part_size[p] > largest ? part_size[p] : largest;
    nd_free(part_size);
    uint64_t *entries = rc == ND_OK ? nd_malloc((largest ? largest : 1) * 2 * sizeof *entries) : NULL;
    if (!entries)
        return rc == ND_OK ? ND_ENOMEM : rc;
    uint64_t *tmp = entries + (largest ? largest : 1);
    for (size_t p = 0; p < parts && rc == ND_OK; p++) {
        size_t m = 0;
        for (size_t d = 0; d < n && rc == ND_OK; d++) {
            if (!is_indexed(inv, d))
                continue;
            const uint32_t *ids = store->ids(store->backend, d, &inv->buf, &rc);
            size_t i = inv->cursor[d], count = store->meta[d].count;
            for (; ids && i < count && partition_of(ids[i], bits) == p; i++)
                entries[m++] = (uint64_t)ids[i] << 32 | d;
            inv->cursor[d] = i;
        }
        nd_sort_u64_high32(entries, tmp, m); /* by id; texts stay ascending */
        for (size_t i = 0; i < m && rc == ND_OK;) {
            size_t j = i + 1;
            while (j < m && entries[j] >> 32 == entries[i] >> 32)
                j++;
            rc = add_run(inv, entries + i, j - i);
            i = j;
        }
    }
    nd_free(entries);
    if (rc != ND_OK)
        return rc;
    if (nd_grow((void **)&inv->token_start, &inv->token_capacity, inv->token_count + 1, sizeof *inv->token_start))
        return ND_ENOMEM;
    inv->token_start[inv->token_count] = inv->post_count;
    /* each text's shared shingles together, in shingle order */
    tmp = nd_malloc((inv->tt_count ? inv->tt_count : 1) * sizeof *tmp);
    if (!tmp)
        return ND_ENOMEM;
    nd_sort_u64_high32(inv->text_tokens, tmp, inv->tt_count);
    nd_free(tmp);
    return ND_OK;
}

static int compare_u64(const void *pa, const void *pb)
{
    uint64_t a = *(const uint64_t *)pa, b = *(const uint64_t *)pb;
    return (a > b) - (a < b);
}

static int compare_u32(const void *pa, const void *pb)
{
    uint32_t a = *(const uint32_t *)pa, b = *(const uint32_t *)pb;
    return (a > b) - (a < b);
}

/* Probe the index with each text's rarest shingles; hand each text's
 * candidates to visit(). */
static int probe(inverted *inv, nd_candidates_fn visit, void *ctx)
{
    const nd_store *store = inv->store;
    size_t n = store->count;
    uint32_t *stamp = nd_calloc(n + 1, sizeof *stamp); /* text + 1 of the last prober that found it */
    uint32_t *found = NULL;
    uint64_t *prefix = NULL;
    size_t found_capacity = 0, prefix_capacity = 0;
    int rc = stamp ? ND_OK : ND_ENOMEM;
    size_t at = 0; /* into text_tokens, sorted by text */
    for (size_t a = 0; a < n && rc == ND_OK; a++) {
        size_t lo = at;
        while (at < inv->tt_count && inv->text_tokens[at] >> 32 == a)
            at++;
        if (!is_indexed(inv, a) || at == lo)
            continue;
        size_t count = store->meta[a].count, shared = at - lo;
        size_t probes = count - nd_min_overlap(count, store->opts->threshold) + 1;
        size_t unique = count - shared; /* shingles of no other text: the rarest, and no use */
        if (unique >= probes)
            continue; /* too much of `a` is its own to match anything */
        size_t need = probes - unique;
        if (nd_grow((void **)&prefix, &prefix_capacity, shared, sizeof *prefix)) {
            rc = ND_ENOMEM;
            break;
        }
        for (size_t i = 0; i < shared; i++) {
            uint64_t k = (uint32_t)inv->text_tokens[lo + i];
            prefix[i] = (inv->token_start[k + 1] - inv->token_start[k]) << 32 | k;
        }
        if (need < shared)
            qsort(prefix, shared, sizeof *prefix, compare_u64); /* rarest first, ties by id */
        size_t m = 0;
        for (size_t i = 0; i < need && rc == ND_OK; i++) {
            uint64_t k = (uint32_t)prefix[i];
            for (uint64_t q = inv->token_start[k]; q < inv->token_start[k + 1]; q++) {
                uint32_t b = inv->postings[q];
                size_t nb = store->meta[b].count;
                if (b == a || nb < count || (nb == count && b < a) || stamp[b] == a + 1)
                    continue;
                stamp[b] = (uint32_t)(a + 1);
                if (nd_grow((void **)&found, &found_capacity, m + 1, sizeof *found)) {
                    rc = ND_ENOMEM;
                    break;
                }
                found[m++] = b;
            }
        }
        if (rc == ND_OK && m > 0) {
            qsort(found, m, sizeof *found, compare_u32);
            rc = visit(ctx, a, found, m);
        }
    }
    nd_free(stamp);
    nd_free(found);
    nd_free(prefix);
    return rc;
}

int nd_containment_candidates(const nd_store *store, const unsigned char *is_representative, nd_candidates_fn visit,
                              void *ctx)
{
    inverted inv;
    memset(&inv, 0, sizeof inv);
    inv.store = store;
    inv.is_representative = is_representative;
    int rc = build_index(&inv);
    nd_free(inv.cursor);
    inv.cursor = NULL;
    nd_free(inv.buf.data);
    if (rc == ND_OK)
        rc = probe(&inv, visit, ctx);
    nd_free(inv.postings);
    nd_free(inv.token_start);
    nd_free(inv.text_tokens);
    return rc;
}
