/* tokhash.c - every token's hash, XXH3 (seed 0) of its normalized bytes,
 * once a text's tokens are made (normalize.c calls it when the text is
 * built: hashing as each token closes read bytes stored a moment before,
 * which stalls on store forwarding).
 *
 * Words are short, and XXH3 takes a different path for 1-3, 4-8, 9-16 and
 * longer inputs, with word lengths on either side of 8 bytes at random (a
 * coin flip for Arabic or Cyrillic, two bytes a letter), so hashing tokens
 * in text order mispredicts the length dispatch on many tokens. Instead,
 * HASH_BATCH tokens at a time, the positions of those of 1 to 16 bytes are
 * first listed by length class (by a table: no branch), then each list is
 * hashed by its class's own formula in a loop without branches:
 *   1-3 bytes:  c1 = b[0], c2 = b[len / 2], c3 = b[len - 1],
 *               k = (c1 << 16 | c2 << 24 | c3 | len << 8) ^ flip0,
 *               h = XXH64's avalanche of k (two multiplications);
 *   4-8 bytes:  k = (read32(b + len - 4) + (read32(b) << 32)) ^ flip4,
 *               h = rrmxmx(k, len) (two multiplications);
 *   9-16 bytes: lo = read64(b) ^ flip9, hi = read64(b + len - 8) ^ flip9',
 *               h = XXH3 avalanche(len + bswap64(lo) + hi + fold64(lo hi)),
 * where the flips are xors of two words of XXH3's secret (xxhash.h's
 * XXH3_len_1to3_64b, _4to8_64b and _9to16_64b with seed 0). Each list is
 * hashed by XXH3's own short-input functions (hash.h), or, where the CPU has
 * AVX-512 (F, VL, BW, DQ), eight tokens a step by the same formulas in
 * vector lanes: the lists hold each token's offset and length beside its
 * number, its bytes are gathered from the text (4-8 from one eight-byte
 * read), its hash written back one token at a time (the 128-bit product
 * of 9-16 as mul128.h makes it). Longer tokens (the runs of scripts
 * without spaces, rarely words) are hashed one at a time.
 * Measured (nd_bench_floor, 50k generated Latin documents, Zen 4): the
 * hashing's share of signing, in perf samples against the tokenizer's
 * walk, 0.58 scalar, 0.46-0.48 with AVX-512; signing 0.119 -> 0.115 s in
 * five alternate runs. Tried and slower: gathering offsets and lengths
 * from the tokens and scattering the hashes (0.65: Zen 4's gathers and
 * scatters); eight tokens loaded whole, each hashed by all three formulas
 * (0.54: two gathers of the text a step); the lists built eight tokens
 * a step by compressing (0.49-0.57).
 * Tests: test_token_hashes (tests/test_shingle.c) compares every level
 * with nd_hash64 for every length at every offset, with unreadable pages
 * right before and after the text.
 */
#include "tokhash.h"

#include "hash.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#include "cpuvec.h"
#include "mul128.h"
#define ND_TOKHASH_AVX512 1
#endif

enum { HASH_BATCH = 256 };

/* A token's list by its length, 1 to 16 bytes, as the shift of its
 * 16-bit count in a word of three (list c: 16 c): the counts are kept in
 * one register, the list a token goes to found without a branch, and no
 * count is loaded back from memory after it was stored (counts in an array
 * cost a store-forwarding delay on every token, the next token of the same
 * class waiting for it). */
static const uint8_t length_shift[17] = {0, 0, 0, 0, 16, 16, 16, 16, 16, 32, 32, 32, 32, 32, 32, 32, 32};

/* The tokens of a batch of 1 to 16 bytes listed by class (three lists
 * of HASH_BATCH: 1-3 bytes, 4-8, 9-16), by their number in the batch and,
 * for the vector code, with their offsets and lengths beside, so that it
 * loads eight of each at once. */
typedef struct class_lists {
    uint16_t token[3 * HASH_BATCH];
    uint32_t start[3 * HASH_BATCH];
    uint32_t len[3 * HASH_BATCH];
    uint64_t hash[HASH_BATCH]; /* the vector code's hashes of a list, before they go to their tokens */
} class_lists;

/* List the tokens of chunk[0..n) of 1 to 16 bytes by class into l (with
 * their offsets and lengths when `spans`: a constant where it is called,
 * so each caller gets its own loop), hashing the others at once; returns
 * the three counts (list c's in bits 16 c .. 16 c + 15). */
static inline uint64_t list_by_class(nd_token *chunk, size_t n, const uint8_t *text, class_lists *l, int spans)
{
    uint64_t counts = 0;
    for (size_t i = 0; i < n; i++) {
        size_t len = chunk[i].norm_len;
        if (len - 1 >= 16) {
            /* longer (or empty): hashed at once; the branch goes the
             * same way nearly every time (the runs of Chinese or
             * Japanese text are long, words are short) */
            chunk[i].hash = nd_hash64(text + chunk[i].norm_start, len, 0);
            continue;
        }
        unsigned shift = length_shift[len];
        size_t at = (size_t)shift * (HASH_BATCH / 16) + (counts >> shift & 0xFFFF);
        l->token[at] = (uint16_t)i;
        if (spans) {
            l->start[at] = (uint32_t)chunk[i].norm_start;
            l->len[at] = (uint32_t)len;
        }
        counts += (uint64_t)1 << shift;
    }
    return counts;
}

static void hash_lists_scalar(nd_token *chunk, const uint8_t *text, const uint16_t *lists, uint64_t counts)
{
    for (size_t j = 0; j < (counts & 0xFFFF); j++) {
        nd_token *t = &chunk[lists[j]];
        t->hash = nd_hash64_1to3(text + t->norm_start, t->norm_len);
    }
    for (size_t j = 0; j < (counts >> 16 & 0xFFFF); j++) {
        nd_token *t = &chunk[lists[HASH_BATCH + j]];
        t->hash = nd_hash64_4to8(text + t->norm_start, t->norm_len);
    }
    for (size_t j = 0; j < (counts >> 32 & 0xFFFF); j++) {
        nd_token *t = &chunk[lists[2 * HASH_BATCH + j]];
        t->hash = nd_hash64_9to16(text + t->norm_start, t->norm_len);
    }
}

#ifdef ND_TOKHASH_AVX512
#define TOKHASH_TARGET "avx512f,avx512vl,avx512bw,avx512dq"

/* One class's list (`cls`: 0 for 1-3 bytes, 1 for 4-8, 2 for 9-16),
 * eight tokens a step (the last step masked), each token's bytes gathered
 * from the text, its hash made by the class's formula into l->hash, then
 * written to its nd_token:
 *  - 1-3: the four bytes from b: b[0], b[len / 2], b[len - 1] by shifts;
 *  - 4-8: the eight bytes ending at b + len, whose high half is
 *    read32(b + len - 4) and whose bytes from 8 - len read32(b): one
 *    gather, not two;
 *  - 9-16: read64(b) and read64(b + len - 8).
 * A token whose reads would leave the text (1-3 within four bytes of its
 * end, 4-8 within eight of its start) is left to the scalar code. */
__attribute__((target(TOKHASH_TARGET))) static void
hash_list_avx512(nd_token *chunk, const uint8_t *text, size_t text_len, class_lists *l, size_t count, unsigned cls)
{
    const __m512i swap =
        _mm512_set_epi64(0x08090a0b0c0d0e0fLL, 0x0001020304050607LL, 0x08090a0b0c0d0e0fLL, 0x0001020304050607LL,
                         0x08090a0b0c0d0e0fLL, 0x0001020304050607LL, 0x08090a0b0c0d0e0fLL, 0x0001020304050607LL);
    const __m512i flip0 = _mm512_set1_epi64((long long)(uint64_t)(nd_xxh3_secret32(0) ^ nd_xxh3_secret32(4)));
    const __m512i flip4 = _mm512_set1_epi64((long long)(nd_xxh3_secret64(8) ^ nd_xxh3_secret64(16)));
    const __m512i flip9 = _mm512_set1_epi64((long long)(nd_xxh3_secret64(24) ^ nd_xxh3_secret64(32)));
    const __m512i flip9b = _mm512_set1_epi64((long long)(nd_xxh3_secret64(40) ^ nd_xxh3_secret64(48)));
    const __m512i prime64_2 = _mm512_set1_epi64((long long)0xC2B2AE3D27D4EB4FULL);
    const __m512i prime64_3 = _mm512_set1_epi64((long long)0x165667B19E3779F9ULL);
    const __m512i prime_mx1 = _mm512_set1_epi64((long long)0x165667919E3779F9ULL);
    const __m512i prime_mx2 = _mm512_set1_epi64((long long)0x9FB21C651E98DF25ULL);
    const __m512i ff = _mm512_set1_epi64(0xFF), low32 = _mm512_set1_epi64(0xFFFFFFFF);
    const __m512i one = _mm512_set1_epi64(1), four = _mm512_set1_epi64(4), eight = _mm512_set1_epi64(8);
    const __m512i end = _mm512_set1_epi64((long long)text_len);
    const size_t first = (size_t)cls * HASH_BATCH;
    for (size_t j = 0; j < count; j += 8) {
        const __mmask8 all = (__mmask8)(count - j >= 8 ? 0xFFu : (1u << (count - j)) - 1);
        __mmask8 lanes = all;
        __m512i start = _mm512_cvtepu32_epi64(_mm256_maskz_loadu_epi32(all, l->start + first + j));
        __m512i len = _mm512_cvtepu32_epi64(_mm256_maskz_loadu_epi32(all, l->len + first + j));
        __m512i h;
        if (cls == 0) {
            lanes = _mm512_mask_cmple_epu64_mask(lanes, _mm512_add_epi64(start, four), end);
            __m512i b = _mm512_cvtepu32_epi64(
                _mm512_mask_i64gather_epi32(_mm256_setzero_si256(), lanes, start, (const void *)text, 1));
            __m512i c1 = _mm512_and_si512(b, ff);
            __m512i c2 = _mm512_and_si512(_mm512_srlv_epi64(b, _mm512_slli_epi64(_mm512_srli_epi64(len, 1), 3)), ff);
            __m512i c3 = _mm512_and_si512(_mm512_srlv_epi64(b, _mm512_slli_epi64(_mm512_sub_epi64(len, one), 3)), ff);
            __m512i k = _mm512_or_si512(_mm512_or_si512(_mm512_slli_epi64(c1, 16), _mm512_slli_epi64(c2, 24)),
                                        _mm512_or_si512(c3, _mm512_slli_epi64(len, 8)));
            h = _mm512_xor_si512(k, flip0);
            h = _mm512_mullo_epi64(_mm512_xor_si512(h, _mm512_srli_epi64(h, 33)), prime64_2);
            h = _mm512_mullo_epi64(_mm512_xor_si512(h, _mm512_srli_epi64(h, 29)), prime64_3);
            h = _mm512_xor_si512(h, _mm512_srli_epi64(h, 32));
        } else if (cls == 1) {
            __m512i tail = _mm512_sub_epi64(_mm512_add_epi64(start, len), eight);
            lanes = _mm512_mask_cmpge_epi64_mask(lanes, tail, _mm512_setzero_si512());
            __m512i t = _mm512_mask_i64gather_epi64(_mm512_setzero_si512(), lanes, tail, (const void *)text, 1);
            __m512i in1 =
                _mm512_and_si512(_mm512_srlv_epi64(t, _mm512_slli_epi64(_mm512_sub_epi64(eight, len), 3)), low32);
            h = _mm512_xor_si512(_mm512_add_epi64(_mm512_srli_epi64(t, 32), _mm512_slli_epi64(in1, 32)), flip4);
            h = _mm512_ternarylogic_epi64(h, _mm512_rol_epi64(h, 49), _mm512_rol_epi64(h, 24), 0x96); /* a ^ b ^ c */
            h = _mm512_mullo_epi64(h, prime_mx2);
            h = _mm512_xor_si512(h, _mm512_add_epi64(_mm512_srli_epi64(h, 35), len));
            h = _mm512_mullo_epi64(h, prime_mx2);
            h = _mm512_xor_si512(h, _mm512_srli_epi64(h, 28));
        } else {
            __m512i lo = _mm512_mask_i64gather_epi64(_mm512_setzero_si512(), lanes, start, (const void *)text, 1);
            __m512i hi = _mm512_mask_i64gather_epi64(_mm512_setzero_si512(), lanes,
                                                     _mm512_sub_epi64(_mm512_add_epi64(start, len), eight),
                                                     (const void *)text, 1);
            lo = _mm512_xor_si512(lo, flip9);
            hi = _mm512_xor_si512(hi, flip9b);
            h = _mm512_add_epi64(_mm512_add_epi64(len, _mm512_shuffle_epi8(lo, swap)),
                                 _mm512_add_epi64(hi, nd_mul128_fold64_x8(lo, hi)));
            h = _mm512_mullo_epi64(_mm512_xor_si512(h, _mm512_srli_epi64(h, 37)), prime_mx1);
            h = _mm512_xor_si512(h, _mm512_srli_epi64(h, 32));
        }
        _mm512_storeu_si512((void *)(l->hash + j), h);
        for (unsigned near = all & ~lanes; near; near &= near - 1) { /* reads that would leave the text */
            size_t k = j + (unsigned)__builtin_ctz(near);
            l->hash[k] = nd_hash64(text + l->start[first + k], l->len[first + k], 0);
        }
    }
    for (size_t k = 0; k < count; k++)
        chunk[l->token[first + k]].hash = l->hash[k];
}

#endif

void nd_hash_tokens_with(nd_tokens *tokens, int simd)
{
    const uint8_t *text = (const uint8_t *)tokens->text;
#ifdef ND_TOKHASH_AVX512
    if (simd >= ND_TOKHASH_SIMD_AVX512 && tokens->text_len <= UINT32_MAX && nd_cpu_avx512_fvlbwdq()) {
        class_lists l;
        for (size_t base = 0; base < tokens->count; base += HASH_BATCH) {
            nd_token *chunk = tokens->items + base;
            size_t n = tokens->count - base < HASH_BATCH ? tokens->count - base : HASH_BATCH;
            uint64_t counts = list_by_class(chunk, n, text, &l, 1);
            for (unsigned cls = 0; cls < 3; cls++)
                hash_list_avx512(chunk, text, tokens->text_len, &l, counts >> (16 * cls) & 0xFFFF, cls);
        }
        return;
    }
#else
    (void)simd;
#endif
    class_lists l;
    for (size_t base = 0; base < tokens->count; base += HASH_BATCH) {
        nd_token *chunk = tokens->items + base;
        size_t n = tokens->count - base < HASH_BATCH ? tokens->count - base : HASH_BATCH;
        hash_lists_scalar(chunk, text, l.token, list_by_class(chunk, n, text, &l, 0));
    }
}

void nd_hash_tokens(nd_tokens *tokens)
{
    nd_hash_tokens_with(tokens, ND_TOKHASH_SIMD_BEST);
}
