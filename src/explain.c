/* explain.c - why two texts match or not (nd_explain), in numbers a reader
 * can check: for texts A and B with shingle sets S_A and S_B,
 *
 *   exact Jaccard       |S_A ∩ S_B| / |S_A ∪ S_B|   (what scan verifies and reports)
 *   containment A in B  |S_A ∩ S_B| / |S_A|         (how much of A is inside B)
 *   estimated Jaccard   the share of equal MinHash values (unbiased for J,
 *                       standard deviation sqrt(J (1 - J) / num_perm))
 *   chance of a match   Mash's p-value of the overlap (chance.c) for the
 *                       Jaccard and each containment, over a space of V^k
 *                       possible shingles, V the distinct words (or
 *                       characters) of the two texts: counting only their
 *                       own vocabulary makes the space small, and the
 *                       chance large, on purpose
 *   bands collided      the LSH bands whose keys agree: any one makes the
 *                       pair a candidate, with probability 1 - (1 - J^r)^b
 *   shared runs         maximal runs of equal tokens, with byte spans
 *
 * Shared runs: runs.c (maximal runs of equal tokens, found by k-grams and
 * hashed prefixes in about linear time for real and repetitive texts).
 * Kept in the library, not in the program, so that every caller (the
 * CLI's explain, the Python module) reports the same thing.
 */
#include "neardup.h"

#include <math.h>   /* pow */
#include <stdlib.h> /* qsort */

#include "alloc.h"
#include "runs.h" /* nd_runs_pick */

static int compare_u64(const void *pa, const void *pb)
{
    uint64_t a = *(const uint64_t *)pa, b = *(const uint64_t *)pb;
    return (a > b) - (a < b);
}

/* The number of possible shingles for the chance of a match: the distinct
 * words (or, for character shingles, characters and the space) of the two
 * texts to the power of the shingle size, between 1 and 2^32 (shingles are
 * 32-bit ids). ND_OK or ND_ENOMEM. */
static int shingle_space(double *out, const nd_tokens *ta, const nd_tokens *tb, int chars, unsigned size)
{
    size_t n = ta->count + tb->count, distinct = 0;
    uint64_t *symbols;
    if (chars) { /* characters of the normalized texts: a UTF-8 lead byte and its continuation bytes */
        symbols = nd_malloc((ta->text_len + tb->text_len + 1) * sizeof *symbols);
        n = 0;
        for (int which = 0; symbols && which < 2; which++) {
            const nd_tokens *t = which ? tb : ta;
            for (size_t i = 0; i < t->text_len; i++) {
                uint64_t cp = (unsigned char)t->text[i];
                while (i + 1 < t->text_len && ((unsigned char)t->text[i + 1] & 0xC0) == 0x80)
                    cp = cp << 8 | (unsigned char)t->text[++i];
                symbols[n++] = cp;
            }
        }
    } else {
        symbols = nd_malloc((n ? n : 1) * sizeof *symbols);
        for (size_t i = 0; symbols && i < n; i++)
            symbols[i] = i < ta->count ? ta->items[i].hash : tb->items[i - ta->count].hash;
    }
    if (!symbols)
        return ND_ENOMEM;
    qsort(symbols, n, sizeof *symbols, compare_u64);
    for (size_t i = 0; i < n; i++)
        distinct += i == 0 || symbols[i] != symbols[i - 1];
    nd_free(symbols);
    double space = pow((double)(distinct + (size_t)chars), (double)size);
    *out = space < 4294967296.0 ? (space < 1 ? 1 : space) : 4294967296.0;
    return ND_OK;
}

void nd_explanation_free(nd_explanation *e)
{
    if (!e)
        return;
    nd_free(e->bands_collided);
    nd_free(e->runs);
    nd_free(e);
}

/* Bands, candidate and verdict, from the two sketches. */
static int compare_sketches(nd_explanation *e, const nd_options *o, const nd_sketch *sa, const nd_sketch *sb)
{
    e->shingles_a = sa->count;
    e->shingles_b = sb->count;
    e->shared_shingles = nd_intersection(sa->ids, sa->count, sb->ids, sb->count);
    e->jaccard = nd_jaccard(sa->ids, sa->count, sb->ids, sb->count);
    e->containment_a_in_b = sa->count ? (double)e->shared_shingles / (double)sa->count : 0.0;
    e->containment_b_in_a = sb->count ? (double)e->shared_shingles / (double)sb->count : 0.0;
    /* a text without shingles has a signature of empty values, equal to
     * another such text's: it estimates nothing, and says 0 as the exact
     * Jaccard does */
    e->estimated_jaccard =
        sa->count && sb->count ? nd_signature_similarity(sa->signature, sb->signature, o->num_perm) : 0.0;
    e->bands = o->bands;
    e->rows = o->rows;
    uint64_t *keys = nd_malloc(2 * (size_t)o->bands * sizeof *keys);
    e->bands_collided = nd_malloc(o->bands * sizeof *e->bands_collided);
    if (!keys || !e->bands_collided) {
        nd_free(keys);
        return ND_ENOMEM;
    }
    nd_lsh_band_keys(keys, sa->signature, o->bands, o->rows);
    nd_lsh_band_keys(keys + o->bands, sb->signature, o->bands, o->rows);
    for (unsigned j = 0; j < o->bands; j++) {
        if (keys[j] == keys[o->bands + j] && sa->count > 0)
            e->bands_collided[e->collided_count++] = j;
    }
    nd_free(keys);
    int identical = sa->count > 0 && sa->count == sb->count && e->shared_shingles == sa->count;
    /* containment's candidates are exact: every pair that can match is one */
    e->candidate = e->collided_count > 0 || identical || o->measure == ND_MEASURE_CONTAINMENT;
    e->match = nd_sets_match(o, sa->count, sb->count, e->shared_shingles);
    return ND_OK;
}

/* The longest runs that do not overlap in A, at most max_runs, as byte spans. */
static int pick_runs(nd_explanation *e, const nd_tokens *ta, const nd_tokens *tb, size_t max_runs)
{
    nd_token_run *runs = NULL;
    size_t shown = 0;
    int rc = nd_runs_pick(&runs, &shown, &e->runs_too_many, ta, tb, e->min_run, max_runs);
    if (rc != ND_OK)
        return rc;
    e->runs = nd_malloc((shown ? shown : 1) * sizeof *e->runs);
    if (!e->runs) {
        nd_free(runs);
        return ND_ENOMEM;
    }
    for (size_t r = 0; r < shown; r++) {
        const nd_token_run *s = &runs[r];
        e->runs[r] = (nd_shared_run){s->len,
                                     {ta->items[s->a].start, ta->items[s->a + s->len - 1].end},
                                     {tb->items[s->b].start, tb->items[s->b + s->len - 1].end}};
    }
    e->run_count = shown;
    nd_free(runs);
    return ND_OK;
}

int nd_explain(nd_explanation **out, const nd_options *opts, const char *a, size_t a_len, const char *b, size_t b_len,
               size_t max_runs)
{
    nd_options o = *opts;
    if (nd_options_resolve(&o) != ND_OK)
        return ND_EINVAL;
    nd_sketcher *ska = NULL, *skb = NULL;
    nd_sketch sa = ND_SKETCH_INIT, sb = ND_SKETCH_INIT;
    nd_explanation *e = nd_calloc(1, sizeof *e);
    int rc = e ? ND_OK : ND_ENOMEM;
    if (rc == ND_OK)
        rc = nd_sketcher_new(&ska, &o);
    if (rc == ND_OK)
        rc = nd_sketcher_new(&skb, &o);
    if (rc == ND_OK)
        rc = nd_sketch_text(&sa, ska, a, a_len);
    if (rc == ND_OK)
        rc = nd_sketch_text(&sb, skb, b, b_len);
    if (rc == ND_OK)
        rc = compare_sketches(e, &o, &sa, &sb);
    if (rc == ND_OK) {
        const nd_tokens *ta = nd_sketcher_tokens(ska), *tb = nd_sketcher_tokens(skb);
        e->tokens_a = ta->count;
        e->tokens_b = tb->count;
        e->shingle_kind = nd_shingle_choice(&e->shingle_size, &o, ta);
        e->min_run = e->shingle_kind == ND_SHINGLE_WORDS ? o.shingle_size : 3;
        rc = shingle_space(&e->shingle_space, ta, tb, e->shingle_kind == ND_SHINGLE_CHARS, e->shingle_size);
    }
    if (rc == ND_OK) {
        e->chance_jaccard_log10 = nd_chance_jaccard_log10(sa.count, sb.count, e->shared_shingles, e->shingle_space);
        e->chance_a_in_b_log10 = nd_chance_containment_log10(sa.count, sb.count, e->shared_shingles, e->shingle_space);
        e->chance_b_in_a_log10 = nd_chance_containment_log10(sb.count, sa.count, e->shared_shingles, e->shingle_space);
        rc = pick_runs(e, nd_sketcher_tokens(ska), nd_sketcher_tokens(skb), max_runs);
    }
    nd_sketch_clear(&sa);
    nd_sketch_clear(&sb);
    nd_sketcher_free(ska);
    nd_sketcher_free(skb);
    if (rc != ND_OK) {
        nd_explanation_free(e);
        return rc;
    }
    *out = e;
    return ND_OK;
}
