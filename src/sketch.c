/* sketch.c - one text to its sketch: normalize, shingle, sign.
 *
 * An nd_sketcher bundles what one thread needs (a normalizer, reusable token
 * and id buffers, the options), so that sketching allocates only the two
 * exact-size arrays it hands back.
 */
#include "neardup.h"

#include <string.h> /* memcpy */

#include "alloc.h"
#include "minhash.h"
#include "normalize.h"

struct nd_sketcher {
    nd_options opts;
    nd_normalizer *normalizer;
    nd_tokens tokens;
    uint32_t *ids;
    size_t ids_capacity;
    uint32_t *signature; /* num_perm values, for nd_sketch_text_ref */
    uint16_t *probes;    /* densification probe table for (num_perm, seed) */
    int words;           /* tokens must be words (nd_sketcher_set_words) */
};

int nd_sketcher_new(nd_sketcher **out, const nd_options *opts)
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
    sk->probes = nd_minhash_probe_table(resolved.num_perm, resolved.seed);
    sk->signature = nd_malloc(resolved.num_perm * sizeof *sk->signature);
    if (!sk->probes || !sk->signature) {
        nd_free(sk->probes);
        nd_free(sk->signature);
        nd_normalizer_free(sk->normalizer);
        nd_free(sk);
        return ND_ENOMEM;
    }
    *out = sk;
    return ND_OK;
}

void nd_sketcher_free(nd_sketcher *sk)
{
    if (!sk)
        return;
    nd_normalizer_free(sk->normalizer);
    nd_tokens_free(&sk->tokens);
    nd_free(sk->ids);
    nd_free(sk->probes);
    nd_free(sk->signature);
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
    return &sk->tokens;
}

void nd_sketcher_set_words(nd_sketcher *sk, int words)
{
    sk->words = words != 0;
}

/* The tokens of a text into sk->tokens: runs of scripts without spaces are
 * cut into words (ICU's dictionaries: most of the cost for Chinese or Thai)
 * only when something needs the words: word shingles, or the caller
 * (sk->words). Character shingles of uncut runs are the same when
 * nd_tokenize_runs() says the cut would keep every character. */
static int tokenize_for_shingles(nd_sketcher *sk, const char *text, size_t len, nd_shingle_kind *kind, unsigned *size)
{
    int cut_alike = 1;
    int rc = nd_tokenize_runs(sk->normalizer, text, len, &sk->tokens, &cut_alike);
    if (rc != ND_OK)
        return rc;
    *kind = nd_shingle_choice(&sk->opts, &sk->tokens, size);
    if (sk->tokens.unspaced_chars == 0 || (*kind == ND_SHINGLE_CHARS && cut_alike && !sk->words))
        return ND_OK;
    return nd_tokenize(sk->normalizer, text, len, &sk->tokens);
}

int nd_sketch_text_ref(nd_sketcher *sk, const char *text, size_t len, nd_sketch_ref *out)
{
    size_t count = 0;
    unsigned size;
    nd_shingle_kind kind;
    int rc = tokenize_for_shingles(sk, text, len, &kind, &size);
    if (rc != ND_OK)
        return rc;
    rc = nd_shingles(&sk->ids, &sk->ids_capacity, &count, &sk->tokens, kind, size);
    if (rc != ND_OK)
        return rc;
    nd_minhash_probed(sk->signature, sk->opts.num_perm, sk->opts.seed, sk->ids, count, sk->probes);
    out->ids = sk->ids;
    out->count = count;
    out->signature = sk->signature;
    out->num_tokens = sk->tokens.count;
    out->invalid_utf8 = sk->tokens.invalid_utf8;
    return ND_OK;
}

int nd_sketch_text(nd_sketcher *sk, const char *text, size_t len, nd_sketch *out)
{
    nd_sketch_clear(out);
    nd_sketch_ref ref;
    int rc = nd_sketch_text_ref(sk, text, len, &ref);
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
