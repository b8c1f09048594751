/* sketch.c - one text to its sketch: normalize, shingle, sign.
 *
 * An nd_sketcher bundles what one thread needs (a normalizer, reusable token
 * and id buffers, the options), so that sketching allocates only the two
 * exact-size arrays it hands back.
 */
#include "neardup.h"

#include <string.h> /* memcpy */

#include "alloc.h"
#include "index_add.h"
#include "minhash.h"
#include "normalize.h"
#include "winhash.h"

struct nd_sketcher {
    nd_options opts;
    nd_normalizer *normalizer;
    nd_tokens tokens;
    uint32_t *ids;
    size_t ids_capacity;
    uint32_t *signature;      /* num_perm values, for nd_sketch_text_ref */
    nd_minhash_tables tables; /* densification tables for (num_perm, seed) */
    nd_span *spans;           /* nd_sketch_units: the units of the text */
    size_t spans_capacity;
    nd_span *copies; /* nd_sketch_units: the copies of a repeated unit */
    size_t copies_capacity;
    int words; /* tokens must be words (nd_sketcher_set_words) */
};

/* nd_sketcher_new, or with `ids_only` nd_sketcher_new_ids. */
static int sketcher_new(nd_sketcher **out, const nd_options *opts, int ids_only)
{
    nd_options resolved = *opts;
    if (nd_options_resolve(&resolved) != ND_OK)
        return ND_EINVAL;
    nd_sketcher *sk = nd_calloc(1, sizeof *sk);
    if (!sk)
        return ND_ENOMEM;
    sk->opts = resolved;
    sk->tokens = (nd_tokens)ND_TOKENS_INIT;
    sk->words = 1;
    int rc = nd_normalizer_new(&sk->normalizer, resolved.profile);
    if (rc != ND_OK) {
        nd_free(sk);
        return rc;
    }
    if (!ids_only) {
        rc = nd_minhash_tables_new(&sk->tables, resolved.num_perm, resolved.seed);
        sk->signature = nd_malloc(resolved.num_perm * sizeof *sk->signature);
    }
    if (rc != ND_OK || (!ids_only && !sk->signature)) {
        nd_minhash_tables_free(&sk->tables);
        nd_free(sk->signature);
        nd_normalizer_free(sk->normalizer);
        nd_free(sk);
        return ND_ENOMEM;
    }
    *out = sk;
    return ND_OK;
}

int nd_sketcher_new(nd_sketcher **out, const nd_options *opts)
{
    return sketcher_new(out, opts, 0);
}

int nd_sketcher_new_ids(nd_sketcher **out, const nd_options *opts)
{
    return sketcher_new(out, opts, 1);
}

void nd_sketcher_free(nd_sketcher *sk)
{
    if (!sk)
        return;
    nd_normalizer_free(sk->normalizer);
    nd_tokens_free(&sk->tokens);
    nd_free(sk->ids);
    nd_minhash_tables_free(&sk->tables);
    nd_free(sk->signature);
    nd_free(sk->spans);
    nd_free(sk->copies);
    nd_free(sk);
}

void nd_sketch_clear(nd_sketch *sketch)
{
    if (!sketch)
        return;
    nd_free(sketch->ids);
    nd_free(sketch->signature);
    *sketch = (nd_sketch)ND_SKETCH_INIT;
}

const nd_tokens *nd_sketcher_tokens(const nd_sketcher *sk)
{
    nd_normalizer_hash_pending(sk->normalizer); /* hashes a character-shingled text went without */
    return &sk->tokens;
}

void nd_sketcher_set_words(nd_sketcher *sk, int words)
{
    sk->words = words != 0;
}

/* The tokens of a text into sk->tokens, and the shingles to make of them:
 * runs of scripts without spaces are cut into words (ICU's dictionaries,
 * most of the cost for Chinese or Thai) only when something needs the
 * words: word shingles, or the caller (`words`). Character shingles of
 * uncut runs are the same when nd_tokenize_runs() says the cut would keep
 * every character. */
static int tokenize_for_shingles(nd_shingle_kind *kind, unsigned *size, nd_sketcher *sk, const char *text, size_t len,
                                 int words)
{
    int cut_alike = 1;
    int rc = nd_tokenize_runs(&sk->tokens, &cut_alike, sk->normalizer, text, len);
    if (rc != ND_OK)
        return rc;
    *kind = nd_shingle_choice(size, &sk->opts, &sk->tokens);
    if (sk->tokens.unspaced_chars == 0 || (*kind == ND_SHINGLE_CHARS && cut_alike && !words))
        return ND_OK;
    return nd_tokenize(&sk->tokens, sk->normalizer, text, len);
}

/* sketch_ref's `distinct`: 1 sorted distinct ids, 0 raw ids, IDS_ONLY raw
 * ids without the signature (nd_sketch_ids_raw). */
enum { IDS_ONLY = 2 };

/* nd_sketch_text_ref(), with word tokens or not (`words`); a text of fewer
 * than `min_tokens` tokens is only tokenized (its count of shingles is 0,
 * its signature not made: nd_sketch_units skips it). */
static int sketch_ref(nd_sketch_ref *out, nd_sketcher *sk, const char *text, size_t len, int words, unsigned min_tokens,
                      int distinct)
{
    size_t count = 0;
    unsigned size;
    nd_shingle_kind kind;
    int rc = tokenize_for_shingles(&kind, &size, sk, text, len, words);
    if (rc != ND_OK)
        return rc;
    if (sk->tokens.count < min_tokens) {
        *out = (nd_sketch_ref){sk->ids, 0, sk->signature, sk->tokens.count, sk->tokens.invalid_utf8};
        return ND_OK;
    }
    rc = distinct == 1 ? nd_shingles(&sk->ids, &sk->ids_capacity, &count, &sk->tokens, kind, size)
                       : nd_shingles_raw(&sk->ids, &sk->ids_capacity, &count, &sk->tokens, kind, size);
    if (rc != ND_OK)
        return rc;
    if (distinct != IDS_ONLY)
        nd_minhash_probed(sk->signature, sk->opts.num_perm, sk->opts.seed, sk->ids, count, &sk->tables);
    out->ids = sk->ids;
    out->count = count;
    out->signature = sk->signature;
    out->num_tokens = sk->tokens.count;
    out->invalid_utf8 = sk->tokens.invalid_utf8;
    return ND_OK;
}

int nd_sketch_text_ref(nd_sketch_ref *out, nd_sketcher *sk, const char *text, size_t len)
{
    return sketch_ref(out, sk, text, len, sk->words, 0, 1);
}

int nd_sketch_text_ref_raw(nd_sketch_ref *out, nd_sketcher *sk, const char *text, size_t len)
{
    return sketch_ref(out, sk, text, len, sk->words, 0, 0);
}

int nd_sketch_ids_raw(nd_sketch_ref *out, nd_sketcher *sk, const char *text, size_t len)
{
    return sketch_ref(out, sk, text, len, sk->words, 0, IDS_ONLY);
}

int nd_sketch_text(nd_sketch *out, nd_sketcher *sk, const char *text, size_t len)
{
    nd_sketch_clear(out);
    nd_sketch_ref ref;
    int rc = nd_sketch_text_ref(&ref, sk, text, len);
    if (rc != ND_OK)
        return rc;
    uint32_t *ids = nd_malloc(ref.count * sizeof *ids);
    uint32_t *signature = nd_malloc(sk->opts.num_perm * sizeof *signature);
    if (!ids || !signature) {
        nd_free(ids);
        nd_free(signature);
        return ND_ENOMEM;
    }
    if (ref.count > 0)
        memcpy(ids, ref.ids, ref.count * sizeof *ids);
    memcpy(signature, ref.signature, sk->opts.num_perm * sizeof *signature);
    out->ids = ids;
    out->count = ref.count;
    out->signature = signature;
    out->num_tokens = ref.num_tokens;
    out->invalid_utf8 = ref.invalid_utf8;
    return ND_OK;
}

/* nd_sketch_units(), the units' ids sorted distinct (`distinct`) or raw
 * (nd_sketch_units_raw: as nd_shingles_raw makes them). */
static int sketch_units(size_t *invalid_utf8, nd_sketcher *sk, const char *text, size_t len, nd_unit_kind kind,
                        unsigned min_tokens, nd_unit_fn fn, void *ctx, int distinct)
{
    size_t span_count = 0;
    *invalid_utf8 = 0;
    int rc = nd_split_units(&sk->spans, &sk->spans_capacity, &span_count, text, len, kind);
    for (size_t u = 0; rc == ND_OK && u < span_count; u++) {
        nd_span span = sk->spans[u];
        const char *unit_text = text + span.start;
        nd_span local = {0, span.end - span.start};
        nd_sketch_ref sketch;
        /* words: --min-tokens counts them and repeats are found on them */
        rc = sketch_ref(&sketch, sk, unit_text, local.end, 1, min_tokens, distinct);
        if (rc != ND_OK)
            break;
        *invalid_utf8 += sketch.invalid_utf8;
        if (sk->tokens.count < min_tokens || sketch.count == 0)
            continue;
        if (sk->copies_capacity < sk->tokens.count &&
            nd_grow((void **)&sk->copies, &sk->copies_capacity, sk->tokens.count, sizeof *sk->copies) != 0) {
            rc = ND_ENOMEM;
            break;
        }
        int m = nd_find_repeats(sk->copies, sk->copies_capacity, &sk->tokens, unit_text, local);
        if (m < 0) {
            rc = m;
            break;
        }
        if (m < 2) {
            rc = fn(ctx, span, &sketch);
            continue;
        }
        /* the copies' spans are taken before sketching them overwrites the tokens */
        for (int c = 0; rc == ND_OK && c < m; c++) {
            nd_span copy = {span.start + sk->copies[c].start, span.start + sk->copies[c].end};
            rc = sketch_ref(&sketch, sk, text + copy.start, copy.end - copy.start, 1, 0, distinct);
            if (rc == ND_OK)
                rc = fn(ctx, copy, &sketch);
        }
    }
    return rc;
}

int nd_sketch_units(size_t *invalid_utf8, nd_sketcher *sk, const char *text, size_t len, nd_unit_kind kind,
                    unsigned min_tokens, nd_unit_fn fn, void *ctx)
{
    return sketch_units(invalid_utf8, sk, text, len, kind, min_tokens, fn, ctx, 1);
}

int nd_sketch_units_raw(size_t *invalid_utf8, nd_sketcher *sk, const char *text, size_t len, nd_unit_kind kind,
                        unsigned min_tokens, nd_unit_fn fn, void *ctx)
{
    return sketch_units(invalid_utf8, sk, text, len, kind, min_tokens, fn, ctx, 0);
}
