/* shingle.c - tokens to a set of 32-bit shingle ids.
 *
 * A word shingle is a run of k consecutive tokens t_s .. t_{s+k-1}. Each
 * token already carries a 64-bit XXH3 hash h(t); the shingle's id is
 *   id(s) = fold32(mix64(H(s) + k * C)),
 *   H(s)  = sum_{j<k} h(t_{s+j}) * P^(k-1-j)   (mod 2^64, P odd),
 * a polynomial hash of the token hashes, updated in O(1) as the window
 * slides: H(s+1) = (H(s) - h(t_s) P^(k-1)) P + h(t_{s+k}). Two different
 * windows of independent 64-bit token hashes have the same H with
 * probability 2^-64 (a nonzero polynomial difference with random
 * coefficients), and mix64 (splitmix64's finalizer) spreads every bit of H
 * into the low 32 bits that are kept (k is the window's width: the number
 * of tokens when a text has fewer than k). This replaced one XXH3 call over
 * 8k bytes per shingle, which cost as much as normalizing the text.
 *
 * A character shingle is a run of N
 * consecutive code points of the normalized text, in which every run of
 * separators is one space (and words that ICU cut out of an unspaced run
 * stay joined, so Chinese is shingled as written).
 * The set is sorted and made distinct, which is what both MinHash (a set
 * function) and exact Jaccard verification (a merge of two sorted arrays)
 * need.
 *
 * Why 32 bits: the ids are kept per document for exact verification, and
 * half the memory matters at ten million documents. Two different shingles
 * get the same id with probability 2^-32, so for documents of m shingles
 * the expected number of false shared ids is about m^2 / 2^32 (0.00001 for
 * m = 200): the Jaccard computed on ids is the exact Jaccard of the shingle
 * sets except with that negligible probability.
 *
 * Texts with fewer tokens than k become one shingle of all their tokens, so
 * short texts are compared on their whole content and never all collide on
 * an empty set; a text without tokens has the empty set and never matches.
 */
#include "neardup.h"

#include <string.h> /* memcpy */

#include <unicode/utf8.h> /* U8_FWD_1_UNSAFE */

#include "alloc.h"
#include "hash.h"
#include "sort.h"

static uint32_t fold32(uint64_t h)
{
    return (uint32_t)(h ^ (h >> 32));
}

/* Sort ids[0..n) (ids has room for 2n: the upper half is scratch) and drop
 * repeats; returns the new count. */
static size_t sort_distinct(uint32_t *ids, size_t n)
{
    return nd_sort_distinct_u32(ids, ids + n, n);
}

static int word_shingles(uint32_t **ids, size_t *capacity, size_t *count, const nd_tokens *tokens, unsigned k)
{
    size_t n = tokens->count;
    size_t m = n < k ? 1 : n - k + 1;
    if (nd_grow((void **)ids, capacity, 2 * m, sizeof **ids) != 0)
        return ND_ENOMEM;
    size_t width = n < k ? n : k;
    const uint64_t P = 0x9e3779b97f4a7c15ULL; /* odd */
    uint64_t p_top = 1;                       /* P^(width-1) */
    for (size_t j = 1; j < width; j++)
        p_top *= P;
    const uint64_t width_salt = (uint64_t)width * 0xd6e8feb86659fd93ULL;
    const nd_token *items = tokens->items;
    uint64_t h = 0;
    for (size_t j = 0; j < width; j++)
        h = h * P + items[j].hash;
    uint32_t *out = *ids;
    out[0] = fold32(nd_mix64(h + width_salt));
    for (size_t s = 1; s < m; s++) {
        h = (h - items[s - 1].hash * p_top) * P + items[s + width - 1].hash;
        out[s] = fold32(nd_mix64(h + width_salt));
    }
    *count = sort_distinct(*ids, m);
    return ND_OK;
}

static int char_shingles(uint32_t **ids, size_t *capacity, size_t *count, const nd_tokens *tokens, unsigned size)
{
    /* The normalized text with single spaces between tokens, and the byte
     * offset of every code point in it. */
    size_t text_len = tokens->text_len + tokens->count;
    char *joined = nd_malloc(text_len + 1);
    size_t *offsets = nd_malloc((text_len + 1) * sizeof *offsets);
    int rc = ND_ENOMEM;
    if (!joined || !offsets)
        goto done;
    size_t len = 0;
    for (size_t t = 0; t < tokens->count; t++) {
        /* one space where the original had separators between the tokens;
         * none between the words ICU cut out of an unspaced run */
        if (t > 0 && tokens->items[t].start > tokens->items[t - 1].end)
            joined[len++] = ' ';
        const nd_token *tok = &tokens->items[t];
        memcpy(joined + len, tokens->text + tok->norm_start, tok->norm_len);
        len += tok->norm_len;
    }
    size_t chars = 0;
    for (size_t i = 0; i < len;) {
        offsets[chars++] = i;
        U8_FWD_1_UNSAFE(joined, i);
    }
    offsets[chars] = len;
    size_t m = chars == 0 ? 0 : (chars < size ? 1 : chars - size + 1);
    if (nd_grow((void **)ids, capacity, m ? 2 * m : 1, sizeof **ids) != 0)
        goto done;
    for (size_t s = 0; s < m; s++) {
        size_t end = s + size < chars ? s + size : chars;
        (*ids)[s] = fold32(nd_hash64(joined + offsets[s], offsets[end] - offsets[s], size));
    }
    *count = sort_distinct(*ids, m);
    rc = ND_OK;
done:
    nd_free(joined);
    nd_free(offsets);
    return rc;
}

int nd_shingles(uint32_t **ids, size_t *capacity, size_t *count, const nd_tokens *tokens, nd_shingle_kind kind,
                unsigned size)
{
    if (size == 0 || size > 64)
        return ND_EINVAL;
    if (tokens->count == 0) {
        *count = 0;
        return ND_OK;
    }
    if (kind == ND_SHINGLE_AUTO)
        kind = nd_tokens_mostly_unspaced(tokens) ? ND_SHINGLE_CHARS : ND_SHINGLE_WORDS;
    if (kind == ND_SHINGLE_CHARS)
        return char_shingles(ids, capacity, count, tokens, size);
    return word_shingles(ids, capacity, count, tokens, size);
}

nd_shingle_kind nd_shingle_choice(unsigned *size, const nd_options *opts, const nd_tokens *tokens)
{
    nd_shingle_kind kind = opts->shingle_kind;
    if (kind == ND_SHINGLE_AUTO)
        kind = nd_tokens_mostly_unspaced(tokens) ? ND_SHINGLE_CHARS : ND_SHINGLE_WORDS;
    *size = kind == ND_SHINGLE_CHARS ? opts->char_size : opts->shingle_size;
    return kind;
}
