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
 * 8k bytes per shingle, which cost as much as normalizing the text. With
 * AVX-512, eight windows at a time compute H(s) directly instead
 * (wordids.c; the same values): word shingles' share of signing, against
 * the tokenizer's walk in perf samples, 0.33-0.36 sliding, 0.13 so
 * (50k generated Latin documents, Zen 4).
 *
 * A character shingle is a run of N
 * consecutive code points of the normalized text, in which every run of
 * separators is one space (and words that ICU cut out of an unspaced run
 * stay joined, so Chinese is shingled as written); its id is XXH3 of its
 * bytes seeded with N, folded to 32 bits, several windows at a time where
 * the CPU allows (winhash.c).
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
 *
 * A text of one shingle (k tokens or fewer; N code points or fewer) has two
 * ids: the shingle's id, fold32(z), and the high half of z, its 64-bit
 * hash. Its whole set is that one id otherwise, and two different such
 * texts match (Jaccard 1) whenever their ids collide: among a million
 * distinct short lines about 2^40 / 2^33 = 116 pairs, each a line dedup
 * removed though it was like no other (87 were, in a test of a million
 * one-word lines). With both halves of z, two different one-shingle texts
 * share both ids with probability about 2^-64, and one collision gives
 * them Jaccard 1/3. The shingle's own id stays among the two, so a text
 * of exactly k tokens still shares it with the longer texts that hold the
 * same k tokens. (Profile version 3: in version 2 such a text had the
 * shingle's id alone.)
 */
#include "neardup.h"

#include <string.h> /* memcpy */

#include "alloc.h"
#include "hash.h"
#include "sort.h"
#include "winhash.h"
#include "wordids.h"

static uint32_t fold32(uint64_t h)
{
    return (uint32_t)(h ^ (h >> 32));
}

/* Sort ids[0..n) (scratch has room for n) and drop repeats, or (distinct
 * 0: nd_shingles_raw) leave them as they were made; returns the count. */
static size_t sort_distinct(uint32_t *ids, size_t n, uint32_t *scratch, int distinct)
{
    return distinct ? nd_sort_distinct_u32(ids, scratch, n) : n;
}

static int word_shingles(uint32_t **ids, size_t *capacity, size_t *count, const nd_tokens *tokens, unsigned k,
                         int distinct, int simd)
{
    size_t n = tokens->count;
    size_t m = n < k ? 1 : n - k + 1;
    /* m ids, then the sort's scratch (m) or, before it, the tokens'
     * hashes in a row for nd_word_ids_simd (n, 64-bit, 8-byte aligned);
     * one window's two ids and their scratch fit in 2 n + 2 >= 4 */
    if (nd_grow_huge((void **)ids, capacity, m + (m > 2 * n + 1 ? m : 2 * n + 1), sizeof **ids) != 0)
        return ND_ENOMEM;
    size_t width = n < k ? n : k;
    const uint64_t P = 0x9e3779b97f4a7c15ULL; /* odd */
    uint64_t p_top = 1;                       /* P^(width-1) */
    for (size_t j = 1; j < width; j++)
        p_top *= P;
    const uint64_t width_salt = (uint64_t)width * 0xd6e8feb86659fd93ULL;
    const nd_token *items = tokens->items;
    uint32_t *out = *ids;
    /* eight windows at a time where the CPU can (wordids.c), the rest here */
    size_t first =
        width == k ? nd_word_ids_simd(out, (uint64_t *)(void *)(out + m + (m & 1)), items, m, k, P, width_salt, simd)
                   : 0;
    if (first < m) {
        uint64_t h = 0;
        for (size_t j = 0; j < width; j++)
            h = h * P + items[first + j].hash;
        uint64_t z = nd_mix64(h + width_salt);
        out[first] = fold32(z);
        if (m == 1)
            out[1] = (uint32_t)(z >> 32); /* one window: its id and the high half of its hash */
        /* (h - a P^(k-1)) P + b written as h P + (b - a P^k): the same
         * value mod 2^64, but the chain from one window's H to the next is
         * one multiplication and one addition (4 cycles, not 5: sliding is
         * bound by that chain, not by the multiplications around it) */
        const uint64_t p_width = p_top * P;
        for (size_t s = first + 1; s < m; s++) {
            h = h * P + (items[s + width - 1].hash - items[s - 1].hash * p_width);
            out[s] = fold32(nd_mix64(h + width_salt));
        }
    }
    size_t made = m + (m == 1); /* one window: two ids */
    *count = sort_distinct(*ids, made, *ids + made, distinct);
    return ND_OK;
}

int nd_word_shingles_simd(uint32_t **ids, size_t *capacity, size_t *count, const nd_tokens *tokens, unsigned k,
                          int simd)
{
    if (tokens->count == 0) {
        *count = 0;
        return ND_OK;
    }
    return word_shingles(ids, capacity, count, tokens, k, 1, simd);
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

/* memcpy(to, from, n) inline, 16 bytes at a time, the last 16 of a token
 * of 16 or more overlapping the copy before (reading and writing inside
 * the token's n bytes only): the join below copied a text's tokens (a few
 * dozen bytes each) by a call each, a hundredth of signing CJK text. */
static inline void copy_bytes(uint8_t *to, const uint8_t *from, size_t n)
{
    if (n >= 16) {
        for (size_t k = 0; k + 16 < n; k += 16)
            memcpy(to + k, from + k, 16);
        memcpy(to + n - 16, from + n - 16, 16);
        return;
    }
    size_t k = 0;
    if (n & 8) {
        memcpy(to, from, 8);
        k = 8;
    }
    if (n & 4) {
        memcpy(to + k, from + k, 4);
        k += 4;
    }
    if (n & 2) {
        memcpy(to + k, from + k, 2);
        k += 2;
    }
    if (n & 1)
        to[k] = from[k];
}

/* The bytes a token of the joined text is copied in at once (below). */
enum { JOIN_CHUNK = 128 };

/* The byte after the code point at text[i] (i < len). */
static size_t next_char(const uint8_t *text, size_t len, size_t i)
{
    for (i++; i < len && (text[i] & 0xC0) == 0x80; i++)
        ;
    return i;
}

/* out[s] for s < m: the ids of the windows of `size` code points of
 * text[0..len), found by walking the text with two edges (texts of 4 GB or
 * more, whose offsets do not fit the table's 32 bits; one window at a
 * time). */
static void window_ids_walk(uint32_t *out, const uint8_t *text, size_t len, size_t m, unsigned size)
{
    size_t a = 0, b = 0;
    for (unsigned k = 0; k < size; k++)
        b = next_char(text, len, b);
    for (size_t s = 0; s < m; s++) {
        out[s] = nd_window_id(text + a, b - a, size);
        a = next_char(text, len, a);
        b = b < len ? next_char(text, len, b) : b;
    }
}

static int char_shingles(uint32_t **ids, size_t *capacity, size_t *count, const nd_tokens *tokens, unsigned size,
                         int simd, int distinct)
{
    if (tokens->count == 0) { /* as nd_shingles: the empty set */
        *count = 0;
        return ND_OK;
    }
    /* The normalized text with single spaces between tokens (one space
     * where the original had separators between the tokens; none between
     * the words ICU cut out of an unspaced run). When the tokens' texts
     * meet with no space between them (one token, or one unspaced run cut
     * into words) that is tokens->text itself; else it is built in the id
     * buffer (no allocation per text). The buffer holds, in 32-bit words:
     * from 0 the 32-bit offsets of the text's code points (one more than
     * there are), over which the m ids are written as they are made (the
     * id of window s once its first offset is read), then the joined
     * text, whose place is the sort's scratch once the windows are hashed.
     * The ids are sorted where they are: nothing is moved afterwards.
     * A text of 4 GB or more has no table of offsets (the ids from 0, then
     * the text) and is walked one window at a time. */
    const nd_token *items = tokens->items;
    size_t len = 0, spaces = 0;
    int adjacent = 1; /* each token's text follows the one before it in tokens->text */
    for (size_t t = 1; t < tokens->count; t++) {
        spaces += items[t].start > items[t - 1].end;
        adjacent &= items[t].norm_start == items[t - 1].norm_start + items[t - 1].norm_len;
    }
    const nd_token *last = &items[tokens->count - 1];
    if (adjacent) {
        len = last->norm_start + last->norm_len - items[0].norm_start; /* the usual case */
    } else {
        for (size_t t = 0; t < tokens->count; t++)
            len += items[t].norm_len;
    }
    len += spaces;
    int join = spaces > 0 || !adjacent;
    int wide = len >= UINT32_MAX - ND_OFFSETS_SLACK || simd == ND_WINDOW_WIDE;
    /* the code points (and so the windows) are at most the bytes: the
     * offsets are counted as they are found, and the buffer sized for as
     * many as there can be: 4 bytes for each byte of text, and as many
     * again for the joined text or the sort's scratch, about 8 bytes a
     * byte. The code points counted first and 8-byte offsets took about
     * 2.7 a byte of CJK text (8 a code point): for one very large CJK text
     * this buffer, reused from text to text, is about twice as large. A
     * text past 4 GB has its code points counted first (room for its ids
     * and the sort's scratch only). */
    size_t chars = 0;
    if (wide) {
        for (size_t t = 0; t < tokens->count; t++)
            chars += count_chars((const uint8_t *)tokens->text + items[t].norm_start, items[t].norm_len);
        chars += spaces;
    }
    size_t bound = wide ? chars : len; /* windows and so ids: at most this many (two for one window) */
    bound = bound < 2 ? 2 : bound;
    size_t head = wide ? (chars < 2 ? 2 : chars) : len + 1 + ND_OFFSETS_SLACK; /* the ids: two for one window */
    size_t text_words = join ? (len + JOIN_CHUNK) / sizeof **ids + 1 : 0;      /* the copies' slack */
    size_t words = head + (text_words > bound ? text_words : bound);
    if (nd_grow_huge((void **)ids, capacity, words, sizeof **ids) != 0)
        return ND_ENOMEM;
    uint32_t *out = *ids;
    const uint8_t *text = (const uint8_t *)tokens->text + items[0].norm_start;
    if (join) {
        /* a token of up to JOIN_CHUNK bytes with as many in tokens->text
         * from its start (all but the last few) is one copy of
         * JOIN_CHUNK bytes, the bytes past it written over by the next
         * (the branches of a copy of its own length mispredicted on
         * about every token: a CJK text's are 10 to 20 letters) */
        uint8_t *joined = (uint8_t *)(out + head);
        const uint8_t *from = (const uint8_t *)tokens->text;
        size_t w = 0;
        for (size_t t = 0; t < tokens->count; t++) {
            if (t > 0 && items[t].start > items[t - 1].end)
                joined[w++] = ' ';
            size_t at = items[t].norm_start, n = items[t].norm_len;
            if (n <= JOIN_CHUNK && tokens->text_len - at >= JOIN_CHUNK)
                memcpy(joined + w, from + at, JOIN_CHUNK);
            else
                copy_bytes(joined + w, from + at, n);
            w += n;
        }
        text = joined;
    }
    if (!wide)
        chars = nd_char_offsets(out, text, len, simd);
    size_t m = chars == 0 ? 0 : (chars < size ? 1 : chars - size + 1);
    if (m == 1 && chars <= size) {
        uint64_t z = nd_hash64(text, len, size); /* one window of all of them: its id and the high half */
        out[0] = fold32(z);
        out[1] = (uint32_t)(z >> 32);
        m = 2;
    } else if (m > 1 && wide) {
        window_ids_walk(out, text, len, m, size);
    } else if (m > 1) {
        /* each window of `size` code points [at[s], at[s + size]), the
         * windows independent of each other */
        out[chars] = (uint32_t)len;
        nd_window_ids(out, text, out, m, size, simd);
    }
    *count = sort_distinct(out, m, out + head, distinct);
    return ND_OK;
}

int nd_char_shingles_simd(uint32_t **ids, size_t *capacity, size_t *count, const nd_tokens *tokens, unsigned size,
                          int simd)
{
    return char_shingles(ids, capacity, count, tokens, size, simd, 1);
}

static int shingles(uint32_t **ids, size_t *capacity, size_t *count, const nd_tokens *tokens, nd_shingle_kind kind,
                    unsigned size, int distinct)
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
        return char_shingles(ids, capacity, count, tokens, size, ND_WINDOW_SIMD_BEST, distinct);
    return word_shingles(ids, capacity, count, tokens, size, distinct, ND_WORDIDS_SIMD_BEST);
}

int nd_shingles(uint32_t **ids, size_t *capacity, size_t *count, const nd_tokens *tokens, nd_shingle_kind kind,
                unsigned size)
{
    return shingles(ids, capacity, count, tokens, kind, size, 1);
}

int nd_shingles_raw(uint32_t **ids, size_t *capacity, size_t *count, const nd_tokens *tokens, nd_shingle_kind kind,
                    unsigned size)
{
    return shingles(ids, capacity, count, tokens, kind, size, 0);
}

nd_shingle_kind nd_shingle_choice(unsigned *size, const nd_options *opts, const nd_tokens *tokens)
{
    nd_shingle_kind kind = opts->shingle_kind;
    if (kind == ND_SHINGLE_AUTO)
        kind = nd_tokens_mostly_unspaced(tokens) ? ND_SHINGLE_CHARS : ND_SHINGLE_WORDS;
    *size = kind == ND_SHINGLE_CHARS ? opts->char_size : opts->shingle_size;
    return kind;
}
