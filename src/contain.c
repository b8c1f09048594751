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
 * Building the index. Most shingles are held by one text only; a table
 * of 2-bit counters, eight or more per id, first marks the cells that two
 * ids fell into (mark_shared), so that only ids that can be shared go on
 * (no false negatives; one unshared id in eight or so passes too). Those
 * (shingle id, text) entries are sorted by id in up to 64 partitions of
 * the id range (PART_ENTRIES entries each, so the sort's scratch stays
 * bounded); runs of one id give its document frequency df. Shingles with
 * df >= 2 get a posting list (the texts holding them, ascending); walking
 * the shingles in order then places each in its texts' lists of shared
 * shingles. Memory: 2 to 4 bytes per id while marking, 8 bytes per shared
 * (text, shingle) entry, plus 16 bytes per entry of the partition being
 * sorted; texts' ids are read twice, then once per partition (from files,
 * for a spilled index).
 */
#include "neardup.h"

#include <stdlib.h> /* qsort */
#include <string.h> /* memcpy, memset */

#include "alloc.h"
#include "candidates.h"
#include "measure.h"
#include "sort.h"

enum { PART_ENTRIES = 1 << 22 };

typedef struct {
    const nd_store *store;
    const unsigned char *is_representative;
    nd_id_buffer buf;
    uint64_t *passes;   /* one bit per id of the indexed texts, in text order: can it be shared? */
    size_t *cursor;     /* per text: its first id not yet placed in a partition */
    size_t *text_start; /* per text: its shared shingles, text_tokens[text_start[t] .. text_start[t + 1]) */
    uint32_t *postings; /* the texts holding each shared shingle, ascending */
    size_t post_count, post_capacity;
    uint64_t *token_start; /* shared shingle k: postings[token_start[k] .. token_start[k + 1]) */
    size_t token_count, token_capacity;
    uint32_t *text_tokens; /* the shared shingles k of each text, ascending */
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

enum { MAX_PART_BITS = 6 }; /* at most 64 partitions: each one scans every text */
enum { PREFETCH = 16 };     /* ids ahead whose cell is fetched early */

/* Prefilter: most shingles are held by one text only, and sorting them
 * would be most of the work. Each id counts in a 2-bit cell of a table of
 * at least eight cells per id (0, 1, 2 = seen twice or more); a text holds
 * an id once, so an id held by two texts always finds its cell at 2, and
 * an id held by one text shares its cell with another id about once in
 * eight. A second pass writes each id's verdict into `passes` (one bit per
 * id, read sequentially afterwards) and counts the ids that pass in each
 * 64th of the id range.
 * @param[out] counts64 ids passing per 64th of the id range. */
static int mark_shared(inverted *inv, size_t total, size_t counts64[64])
{
    const nd_store *store = inv->store;
    unsigned bits = 5;
    while (bits < 32 && ((uint64_t)1 << bits) < 8 * (uint64_t)total)
        bits++;
    uint64_t *cells = nd_calloc(((size_t)1 << bits) / 32, sizeof *cells); /* 32 cells a word */
    inv->passes = nd_calloc(total / 64 + 1, sizeof *inv->passes);
    int rc = cells && inv->passes ? ND_OK : ND_ENOMEM;
    for (int pass = 0; pass < 2 && rc == ND_OK; pass++) {
        size_t g = 0;
        for (size_t d = 0; d < store->count && rc == ND_OK; d++) {
            if (!is_indexed(inv, d))
                continue;
            const uint32_t *ids = store->ids(store->backend, d, &inv->buf, &rc);
            size_t count = ids ? store->meta[d].count : 0;
            for (size_t i = 0; i < count; i++, g++) {
                if (i + PREFETCH < count) /* the table is larger than the caches: ask early */
                    __builtin_prefetch(&cells[(bits < 32 ? ids[i + PREFETCH] >> (32 - bits) : ids[i + PREFETCH]) >> 5]);
                uint32_t cell = bits < 32 ? ids[i] >> (32 - bits) : ids[i];
                uint64_t *word = &cells[cell >> 5];
                unsigned shift = (cell & 31) * 2;
                unsigned seen = (unsigned)(*word >> shift) & 3;
                if (pass == 0 && seen < 2) {
                    *word += (uint64_t)1 << shift;
                } else if (pass == 1 && seen == 2) {
                    inv->passes[g >> 6] |= (uint64_t)1 << (g & 63);
                    counts64[ids[i] >> 26]++;
                }
            }
        }
    }
    nd_free(cells);
    return rc;
}

/* Add one run of a sorted partition: the texts entries[0 .. df) holding
 * one shingle (counted in text_start, placed later). */
static int add_run(inverted *inv, const uint64_t *entries, size_t df)
{
    if (df < 2)
        return ND_OK;
    if (inv->token_count >= UINT32_MAX - 1)
        return ND_ENOMEM; /* shingles are numbered in 32 bits */
    if (nd_grow((void **)&inv->token_start, &inv->token_capacity, inv->token_count + 2, sizeof *inv->token_start) ||
        nd_grow((void **)&inv->postings, &inv->post_capacity, inv->post_count + df, sizeof *inv->postings))
        return ND_ENOMEM;
    inv->token_start[inv->token_count++] = inv->post_count;
    for (size_t i = 0; i < df; i++) {
        uint32_t doc = (uint32_t)entries[i];
        inv->postings[inv->post_count++] = doc;
        inv->text_start[doc + 1]++;
    }
    return ND_OK;
}

/* Build the inverted index of the shared shingles. */
static int build_index(inverted *inv)
{
    const nd_store *store = inv->store;
    size_t n = store->count, total = 0, counts64[64] = {0};
    for (size_t d = 0; d < n; d++)
        total += is_indexed(inv, d) ? store->meta[d].count : 0;
    int rc = mark_shared(inv, total, counts64);
    if (rc != ND_OK)
        return rc;
    size_t kept = 0; /* ids that pass the prefilter */
    for (int k = 0; k < 64; k++)
        kept += counts64[k];
    unsigned bits = 0;
    while (bits < MAX_PART_BITS && (kept >> bits) > PART_ENTRIES)
        bits++;
    size_t parts = (size_t)1 << bits, largest = 0;
    for (size_t p = 0; p < parts; p++) {
        size_t size = 0, span = 64 / parts;
        for (size_t k = p * span; k < (p + 1) * span; k++)
            size += counts64[k];
        largest = size > largest ? size : largest;
    }
    inv->cursor = nd_calloc(n + 1, sizeof *inv->cursor);
    inv->text_start = nd_calloc(n + 2, sizeof *inv->text_start);
    uint64_t *entries = nd_malloc((largest ? largest : 1) * 2 * sizeof *entries);
    if (!inv->cursor || !inv->text_start || !entries) {
        nd_free(entries);
        return ND_ENOMEM;
    }
    uint64_t *tmp = entries + (largest ? largest : 1);
    for (size_t p = 0; p < parts && rc == ND_OK; p++) {
        size_t m = 0, g = 0; /* g: the first id of text d among all indexed ids */
        for (size_t d = 0; d < n && rc == ND_OK; d++) {
            if (!is_indexed(inv, d))
                continue;
            const uint32_t *ids = store->ids(store->backend, d, &inv->buf, &rc);
            size_t i = inv->cursor[d], count = store->meta[d].count;
            for (; ids && i < count && partition_of(ids[i], bits) == p; i++) {
                size_t at = g + i;
                if (inv->passes[at >> 6] >> (at & 63) & 1)
                    entries[m++] = (uint64_t)ids[i] << 32 | d;
            }
            inv->cursor[d] = i;
            g += count;
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
    /* each text's shared shingles, in shingle order: counted per text, then
     * placed by walking the shingles in order */
    for (size_t d = 0; d < n; d++)
        inv->text_start[d + 1] += inv->text_start[d];
    inv->text_tokens = nd_malloc((inv->post_count ? inv->post_count : 1) * sizeof *inv->text_tokens);
    if (!inv->text_tokens)
        return ND_ENOMEM;
    size_t *fill = inv->cursor; /* done with: reused as each text's next slot */
    memcpy(fill, inv->text_start, n * sizeof *fill);
    for (size_t k = 0; k < inv->token_count; k++) {
        for (uint64_t q = inv->token_start[k]; q < inv->token_start[k + 1]; q++)
            inv->text_tokens[fill[inv->postings[q]]++] = (uint32_t)k;
    }
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
    for (size_t a = 0; a < n && rc == ND_OK; a++) {
        size_t lo = inv->text_start[a], shared = inv->text_start[a + 1] - lo;
        if (!is_indexed(inv, a) || shared == 0)
            continue;
        size_t count = store->meta[a].count;
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
            uint64_t k = inv->text_tokens[lo + i];
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
    nd_free(inv.passes);
    inv.passes = NULL;
    nd_free(inv.buf.data);
    if (rc == ND_OK)
        rc = probe(&inv, visit, ctx);
    nd_free(inv.postings);
    nd_free(inv.token_start);
    nd_free(inv.text_tokens);
    nd_free(inv.text_start);
    return rc;
}
