/* shingle.c - tokens to a set of 32-bit shingle ids.
 *
 * A word shingle is a run of k consecutive tokens; its id is XXH3 of the k
 * token hashes, folded to 32 bits. A character shingle is a run of N
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

#include <unicode/utf8.h> /* U8_FWD_1_UNSAFE */

#include "alloc.h"
#include "hash.h"

static uint32_t fold32(uint64_t h)
{
    return (uint32_t)(h ^ (h >> 32));
}

/* Sort ids[0..n) with an LSD radix sort (four passes of 8 bits through
 * tmp[0..n)): linear time and no comparison callback, which made qsort the
 * second-largest cost of sketching. Small arrays use insertion sort. */
static void sort_u32(uint32_t *ids, uint32_t *tmp, size_t n)
{
    if (n <= 32) {
        for (size_t i = 1; i < n; i++) {
            uint32_t x = ids[i];
            size_t j = i;
            while (j > 0 && ids[j - 1] > x) {
                ids[j] = ids[j - 1];
                j--;
            }
            ids[j] = x;
        }
        return;
    }
    uint32_t *from = ids, *to = tmp;
    for (unsigned shift = 0; shift < 32; shift += 8) {
        size_t counts[256] = {0};
        for (size_t i = 0; i < n; i++)
            counts[(from[i] >> shift) & 0xFF]++;
        size_t sum = 0;
        for (unsigned d = 0; d < 256; d++) {
            size_t c = counts[d];
            counts[d] = sum;
            sum += c;
        }
        for (size_t i = 0; i < n; i++)
            to[counts[(from[i] >> shift) & 0xFF]++] = from[i];
        uint32_t *swap = from;
        from = to;
        to = swap;
    }
    /* four passes: the sorted data is back in ids */
}

/* Sort ids[0..n) (ids has room for 2n: the upper half is scratch) and drop
 * repeats; returns the new count. */
static size_t sort_distinct(uint32_t *ids, size_t n)
{
    if (n < 2)
        return n;
    sort_u32(ids, ids + n, n);
    size_t w = 1;
    for (size_t r = 1; r < n; r++) {
        if (ids[r] != ids[w - 1])
            ids[w++] = ids[r];
    }
    return w;
}

static int word_shingles(uint32_t **ids, size_t *capacity, size_t *count, const nd_tokens *tokens, unsigned k)
{
    size_t n = tokens->count;
    size_t m = n < k ? 1 : n - k + 1;
    if (nd_grow((void **)ids, capacity, 2 * m, sizeof **ids) != 0)
        return ND_ENOMEM;
    /* Hash windows of token hashes; the token hashes are contiguous only
     * through a copy, so gather them in a small ring. */
    uint64_t window[64];
    size_t width = n < k ? n : k;
    for (size_t s = 0; s < m; s++) {
        for (size_t j = 0; j < width; j++)
            window[j] = tokens->items[s + j].hash;
        (*ids)[s] = fold32(nd_hash64(window, width * sizeof window[0], width));
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
        for (size_t b = 0; b < tok->norm_len; b++)
            joined[len++] = tokens->text[tok->norm_start + b];
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

nd_shingle_kind nd_shingle_choice(const nd_options *opts, const nd_tokens *tokens, unsigned *size)
{
    nd_shingle_kind kind = opts->shingle_kind;
    if (kind == ND_SHINGLE_AUTO)
        kind = nd_tokens_mostly_unspaced(tokens) ? ND_SHINGLE_CHARS : ND_SHINGLE_WORDS;
    *size = kind == ND_SHINGLE_CHARS ? opts->char_size : opts->shingle_size;
    return kind;
}
