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

#include <string.h> /* memcpy, memmove, memset */

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
    /* (h - a P^(k-1)) P + b written as h P + (b - a P^k): the same value
     * mod 2^64, but the chain from one window's H to the next is one
     * multiplication and one addition (4 cycles, not 5: sliding is bound by
     * that chain, not by the multiplications around it) */
    const uint64_t p_width = p_top * P;
    for (size_t s = 1; s < m; s++) {
        h = h * P + (items[s + width - 1].hash - items[s - 1].hash * p_width);
        out[s] = fold32(nd_mix64(h + width_salt));
    }
    *count = sort_distinct(*ids, m);
    return ND_OK;
}

/* Code points in bytes [0, n) of well-formed UTF-8: n less the
 * continuation bytes (10xxxxxx), counted 8 bytes at a time; s has 8 bytes
 * of slack. */
static size_t count_chars(const uint8_t *s, size_t n)
{
    const uint64_t high = 0x8080808080808080ULL, ones = 0x0101010101010101ULL;
    size_t cont = 0, i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t x;
        memcpy(&x, s + i, 8);
        cont += ((x & ~(x << 1) & high) >> 7) * ones >> 56; /* bit 7 set, bit 6 clear, summed */
    }
    for (; i < n; i++)
        cont += (s[i] & 0xC0) == 0x80;
    return n - cont;
}

/* The length of the UTF-8 sequence led by byte b (well-formed text), by
 * its top four bits: the step U8_FWD_1_UNSAFE takes. */
static const uint8_t utf8_length[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};

static int char_shingles(uint32_t **ids, size_t *capacity, size_t *count, const nd_tokens *tokens, unsigned size)
{
    /* The normalized text with single spaces between tokens (one space
     * where the original had separators between the tokens; none between
     * the words ICU cut out of an unspaced run), built at the start of the
     * id buffer (no allocation per text), the ids after it, moved to the
     * start once sorted. */
    const nd_token *items = tokens->items;
    size_t len = 0;
    for (size_t t = 0; t < tokens->count; t++)
        len += (t > 0 && items[t].start > items[t - 1].end) + items[t].norm_len;
    size_t text_words = len / sizeof **ids + 3; /* 8 bytes of slack */
    if (nd_grow((void **)ids, capacity, text_words, sizeof **ids) != 0)
        return ND_ENOMEM;
    uint8_t *joined = (uint8_t *)*ids;
    size_t w = 0;
    for (size_t t = 0; t < tokens->count; t++) {
        if (t > 0 && items[t].start > items[t - 1].end)
            joined[w++] = ' ';
        memcpy(joined + w, tokens->text + items[t].norm_start, items[t].norm_len);
        w += items[t].norm_len;
    }
    memset(joined + len, 0, 8);
    size_t chars = count_chars(joined, len);
    size_t m = chars == 0 ? 0 : (chars < size ? 1 : chars - size + 1);
    if (nd_grow((void **)ids, capacity, text_words + 2 * m, sizeof **ids) != 0)
        return ND_ENOMEM;
    joined = (uint8_t *)*ids;
    uint32_t *out = *ids + text_words;
    /* each window of `size` code points [a, b), slid one code point at a
     * time (one window of all of them when there are fewer) */
    size_t a = 0, b = 0;
    for (unsigned k = 0; k < size && b < len; k++)
        b += utf8_length[joined[b] >> 4];
    for (size_t s = 0; s < m;) {
        out[s] = fold32(nd_hash64(joined + a, b - a, size));
        if (++s == m)
            break;
        a += utf8_length[joined[a] >> 4];
        b += utf8_length[joined[b] >> 4];
    }
    *count = sort_distinct(out, m);
    memmove(*ids, out, *count * sizeof *out);
    return ND_OK;
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
