/* corpus.h - random corpora of shingle-id sets with excerpts, abridged
 * copies, supersets, exact copies and shared boilerplate, for the tests
 * that check candidates and verification against brute force
 * (test_contain.c, test_pairs.c). Deterministic for a given seed. */
#ifndef ND_TEST_CORPUS_H
#define ND_TEST_CORPUS_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "neardup.h"
#include "synth.h"

enum { CORPUS_MAX_SET = 400 };

typedef struct test_corpus {
    uint32_t **ids;
    size_t *count;
    size_t n;
} test_corpus;

static inline void corpus_sort_unique(uint32_t *ids, size_t *n)
{
    qsort(ids, *n, sizeof *ids, synth_cmp);
    size_t w = 0;
    for (size_t i = 0; i < *n; i++) {
        if (w == 0 || ids[i] != ids[w - 1])
            ids[w++] = ids[i];
    }
    *n = w;
}

/* n sets: fresh ones of 10-200 ids, and derived ones: an excerpt (a
 * random share of 20-100% of an earlier set, plus up to 15% fresh ids), a
 * superset of an earlier set, an exact copy; a third of all sets also get
 * a common block of 30 boilerplate ids. */
static inline test_corpus corpus_make(size_t n, uint64_t seed)
{
    test_corpus c = {calloc(n, sizeof(uint32_t *)), calloc(n, sizeof(size_t)), n};
    uint32_t boilerplate[30];
    uint64_t state = seed;
    for (size_t i = 0; i < 30; i++)
        boilerplate[i] = (uint32_t)synth_next(&state);
    for (size_t i = 0; i < n; i++) {
        uint32_t *ids = malloc((2 * CORPUS_MAX_SET + 40) * sizeof *ids);
        size_t m = 0;
        unsigned kind = i < 8 ? 0 : (unsigned)(synth_next(&state) % 5);
        const uint32_t *src = NULL;
        size_t src_n = 0;
        if (kind != 0) {
            size_t from = (size_t)(synth_next(&state) % i);
            src = c.ids[from];
            src_n = c.count[from];
        }
        if (kind == 0 || src_n == 0) { /* fresh */
            size_t size = 10 + (size_t)(synth_next(&state) % 191);
            for (size_t k = 0; k < size; k++)
                ids[m++] = (uint32_t)synth_next(&state);
        } else if (kind == 1 || kind == 2) { /* excerpt: keep each id with probability 0.2-1, add fresh ones */
            unsigned keep = 20 + (unsigned)(synth_next(&state) % 81);
            for (size_t k = 0; k < src_n; k++) {
                if (synth_next(&state) % 100 < keep)
                    ids[m++] = src[k];
            }
            size_t extra = (size_t)(synth_next(&state) % (src_n * 15 / 100 + 1));
            for (size_t k = 0; k < extra; k++)
                ids[m++] = (uint32_t)synth_next(&state);
        } else if (kind == 3) { /* superset */
            for (size_t k = 0; k < src_n && m < CORPUS_MAX_SET; k++)
                ids[m++] = src[k];
            size_t extra = (size_t)(synth_next(&state) % (src_n + 1));
            for (size_t k = 0; k < extra && m < 2 * CORPUS_MAX_SET; k++)
                ids[m++] = (uint32_t)synth_next(&state);
        } else { /* exact copy */
            memcpy(ids, src, src_n * sizeof *ids);
            m = src_n;
        }
        if (kind == 0 && synth_next(&state) % 3 == 0) {
            memcpy(ids + m, boilerplate, sizeof boilerplate);
            m += 30;
        }
        corpus_sort_unique(ids, &m);
        c.ids[i] = ids;
        c.count[i] = m;
    }
    return c;
}

static inline void corpus_free(test_corpus *c)
{
    for (size_t i = 0; i < c->n; i++)
        free(c->ids[i]);
    free(c->ids);
    free(c->count);
}

/* An index of the corpus under `opts` (signatures and band keys computed,
 * so LSH works as on real texts). */
static inline nd_index *corpus_index(const test_corpus *c, const nd_options *opts)
{
    nd_index *index = NULL;
    if (nd_index_new(&index, opts) != ND_OK)
        return NULL;
    nd_options o = *opts;
    nd_options_resolve(&o);
    uint32_t *sig = malloc(o.num_perm * sizeof *sig);
    uint64_t *keys = malloc(o.bands * sizeof *keys);
    for (size_t i = 0; i < c->n; i++) {
        nd_minhash(sig, o.num_perm, o.seed, c->ids[i], c->count[i]);
        nd_lsh_band_keys(keys, sig, o.bands, o.rows);
        if (nd_index_add_ids(index, c->ids[i], c->count[i], keys, c->count[i]) != ND_OK) {
            nd_index_free(index);
            index = NULL;
            break;
        }
    }
    free(sig);
    free(keys);
    return index;
}

/* The overlap of two sorted sets (a merge written here, not the
 * library's). */
static inline size_t corpus_overlap(const uint32_t *a, size_t na, const uint32_t *b, size_t nb)
{
    size_t shared = 0, i = 0, k = 0;
    while (i < na && k < nb) {
        if (a[i] == b[k])
            shared++;
        if (a[i] <= b[k])
            i++;
        else
            k++;
    }
    return shared;
}

/* The rule of neardup.h, written out again: does a member of m shingles
 * reach the threshold with a survivor of s shingles? */
static inline int corpus_covers(const nd_options *o, size_t s, size_t m, size_t x)
{
    double j = (double)x / (double)(s + m - x);
    if (j >= o->threshold - 1e-12)
        return 1;
    return o->measure == ND_MEASURE_CONTAINMENT && m >= o->min_shingles &&
           (double)x / (double)m >= o->threshold - 1e-12;
}

#endif
