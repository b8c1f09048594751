/* winhash.c - the ids of a character shingle's windows, several windows at
 * a time.
 *
 * A window's id is fold32(XXH3_64bits_withSeed(window, n, size)) (see
 * shingle.c). Five Han or kana letters are 15 bytes, and with a space or an
 * ASCII letter among them 9 to 16: XXH3's len_9to16 formula,
 *   lo = read64(window) ^ flip1,  hi = read64(window + n - 8) ^ flip2,
 *   acc = n + bswap64(lo) + hi + fold64(lo * hi as 128 bits),
 *   h = avalanche(acc) = xorshift32((acc ^ acc >> 37) * C),
 * and fold32(h) = low32(h) ^ high32(h) is just low32((acc ^ acc >> 37) * C)
 * (the avalanche's last xorshift by 32 cancels in the fold), one 32 x 32-bit
 * multiplication. The 64 x 64 -> 128-bit product has no SIMD instruction;
 * it is made of four 32 x 32-bit ones as XXH3's portable code makes it
 * (mul128.h, shared with lsh.c's band keys).
 * Four windows a step with AVX2, eight with AVX-512 (chosen at run time,
 * the scalar loop kept), the windows' bytes gathered, or with AVX512VBMI
 * picked from one load (1.07 ns a window against 1.47 gathered, 1.66 with
 * AVX2 and 2.37 scalar, Zen 4, 5-letter windows of Han); a step with a
 * window of another length (Latin letters, digits, a text's last window)
 * is hashed by the scalar code, and so are all the windows of a text
 * whose windows are shorter than 8 bytes on average (Latin letters). The
 * code point offsets the windows start at are found 64 bytes at a time
 * (nd_char_offsets). Equal to nd_hash64 window by window: test_window_ids
 * and test_char_offsets (tests/test_shingle.c) at every offset and length,
 * each SIMD level against the scalar.
 */
#include "winhash.h"

#include "hash.h"
#include "cpuvec.h"
#include "mul128.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define ND_WINHASH_SIMD 1
#endif

static void window_ids_scalar(uint32_t *out, const uint8_t *text, const uint32_t *at, size_t from, size_t to,
                              unsigned size)
{
    for (size_t s = from; s < to; s++)
        out[s] = nd_window_id(text + at[s], at[s + size] - at[s], size);
}

#ifdef ND_WINHASH_SIMD
/* XXH3's two bitflips of len_9to16 for a seed */
static uint64_t bitflip(unsigned which, uint64_t seed)
{
    uint64_t flip =
        which == 1 ? nd_xxh3_secret64(24) ^ nd_xxh3_secret64(32) : nd_xxh3_secret64(40) ^ nd_xxh3_secret64(48);
    return which == 1 ? flip + seed : flip - seed;
}

/* the low 32 bits of XXH3_avalanche's multiplier */
#define AVALANCHE_LOW32 0x9E3779F9u

/* Windows [0, m) four at a time; returns where it stopped (the rest, fewer
 * than four, are the caller's). */
__attribute__((target("avx2"))) static size_t window_ids_avx2(uint32_t *out, const uint8_t *text, const uint32_t *at,
                                                              size_t m, unsigned size)
{
    const __m256i flip1 = _mm256_set1_epi64x((long long)bitflip(1, size));
    const __m256i flip2 = _mm256_set1_epi64x((long long)bitflip(2, size));
    const __m256i swap = _mm256_setr_epi8(7, 6, 5, 4, 3, 2, 1, 0, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0,
                                          15, 14, 13, 12, 11, 10, 9, 8);
    const __m256i mult = _mm256_set1_epi64x(AVALANCHE_LOW32), eight = _mm256_set1_epi64x(8);
    const __m256i low_words = _mm256_setr_epi32(0, 2, 4, 6, 0, 2, 4, 6);
    const __m128i nine = _mm_set1_epi32(9), seven = _mm_set1_epi32(7);
    size_t s = 0;
    for (; s + 4 <= m; s += 4) {
        __m128i first = _mm_loadu_si128((const __m128i *)(const void *)(at + s));
        __m128i past = _mm_loadu_si128((const __m128i *)(const void *)(at + s + size));
        __m128i len = _mm_sub_epi32(past, first);
        __m128i over = _mm_sub_epi32(len, nine); /* 0..7 for 9..16 bytes */
        if (_mm_movemask_epi8(_mm_cmpeq_epi32(_mm_max_epu32(over, seven), seven)) != 0xFFFF) {
            window_ids_scalar(out, text, at, s, s + 4, size);
            continue;
        }
        __m256i start = _mm256_cvtepu32_epi64(first);
        __m256i last8 = _mm256_sub_epi64(_mm256_cvtepu32_epi64(past), eight);
        __m256i lo = _mm256_xor_si256(_mm256_i64gather_epi64((const long long *)(const void *)text, start, 1), flip1);
        __m256i hi = _mm256_xor_si256(_mm256_i64gather_epi64((const long long *)(const void *)text, last8, 1), flip2);
        __m256i acc = _mm256_add_epi64(_mm256_cvtepu32_epi64(len), _mm256_shuffle_epi8(lo, swap));
        acc = _mm256_add_epi64(acc, _mm256_add_epi64(hi, nd_mul128_fold64_x4(lo, hi)));
        acc = _mm256_xor_si256(acc, _mm256_srli_epi64(acc, 37));
        __m256i ids = _mm256_permutevar8x32_epi32(_mm256_mul_epu32(acc, mult), low_words);
        _mm_storeu_si128((__m128i *)(void *)(out + s), _mm256_castsi256_si128(ids));
    }
    return s;
}

#define AVX512_TARGET "avx512f,avx512vl,avx512bw,avx512dq"

/* Eight windows' ids from their first and last eight bytes (lo, hi, as
 * read), their lengths and the seed's two bitflips (flip1, flip2): XXH3's
 * len_9to16 formula and the fold (see the head of this file), one window
 * a lane. */
__attribute__((target(AVX512_TARGET))) static inline __m256i ids_x8(__m512i lo, __m512i hi, __m256i len, __m512i flip1,
                                                                    __m512i flip2)
{
    const __m512i swap =
        _mm512_set_epi64(0x08090a0b0c0d0e0fLL, 0x0001020304050607LL, 0x08090a0b0c0d0e0fLL, 0x0001020304050607LL,
                         0x08090a0b0c0d0e0fLL, 0x0001020304050607LL, 0x08090a0b0c0d0e0fLL, 0x0001020304050607LL);
    lo = _mm512_xor_si512(lo, flip1);
    hi = _mm512_xor_si512(hi, flip2);
    __m512i acc = _mm512_add_epi64(_mm512_cvtepu32_epi64(len), _mm512_shuffle_epi8(lo, swap));
    acc = _mm512_add_epi64(acc, _mm512_add_epi64(hi, nd_mul128_fold64_x8(lo, hi)));
    acc = _mm512_xor_si512(acc, _mm512_srli_epi64(acc, 37));
    return _mm512_cvtepi64_epi32(_mm512_mul_epu32(acc, _mm512_set1_epi64(AVALANCHE_LOW32)));
}

/* window_ids_avx2() eight windows at a time */
__attribute__((target(AVX512_TARGET))) static size_t window_ids_avx512(uint32_t *out, const uint8_t *text,
                                                                       const uint32_t *at, size_t m, unsigned size)
{
    const __m512i flip1 = _mm512_set1_epi64((long long)bitflip(1, size));
    const __m512i flip2 = _mm512_set1_epi64((long long)bitflip(2, size));
    const __m512i eight = _mm512_set1_epi64(8);
    const __m256i nine = _mm256_set1_epi32(9), seven = _mm256_set1_epi32(7);
    size_t s = 0;
    for (; s + 8 <= m; s += 8) {
        __m256i first = _mm256_loadu_si256((const __m256i *)(const void *)(at + s));
        __m256i past = _mm256_loadu_si256((const __m256i *)(const void *)(at + s + size));
        __m256i len = _mm256_sub_epi32(past, first);
        if (_mm256_cmple_epu32_mask(_mm256_sub_epi32(len, nine), seven) != 0xFF) {
            window_ids_scalar(out, text, at, s, s + 8, size);
            continue;
        }
        __m512i start = _mm512_cvtepu32_epi64(first);
        __m512i last8 = _mm512_sub_epi64(_mm512_cvtepu32_epi64(past), eight);
        __m512i lo = _mm512_i64gather_epi64(start, (const void *)text, 1);
        __m512i hi = _mm512_i64gather_epi64(last8, (const void *)text, 1);
        _mm256_storeu_si256((__m256i *)(void *)(out + s), ids_x8(lo, hi, len, flip1, flip2));
    }
    return s;
}

/* window_ids_avx512() without gathers (AVX512VBMI): eight windows of 9 to
 * 16 bytes in a row span at most 7 x 4 + 16 = 44 bytes from the first one's
 * start (in UTF-8; more than 63 goes to the scalar code), so their bytes are one load (masked to those bytes: nothing
 * past the text is read), and each window's first and last eight bytes are picked from it by one byte permutation each,
 * the indices made from the windows' offsets (each offset's byte in all eight bytes of its lane by one byte
 * permutation, plus 0..7, or -8..-1 from the window's end). */
__attribute__((target(AVX512_TARGET ",avx512vbmi"))) static size_t
window_ids_avx512_vbmi(uint32_t *out, const uint8_t *text, const uint32_t *at, size_t m, unsigned size)
{
    const __m512i flip1 = _mm512_set1_epi64((long long)bitflip(1, size));
    const __m512i flip2 = _mm512_set1_epi64((long long)bitflip(2, size));
    /* byte k of 64-bit lane j: byte 0 of 32-bit lane j (an offset below
     * 64), to which k (k - 8 for a window's last eight bytes) is added */
    const __m512i spread =
        _mm512_set_epi64(0x1C1C1C1C1C1C1C1CLL, 0x1818181818181818LL, 0x1414141414141414LL, 0x1010101010101010LL,
                         0x0C0C0C0C0C0C0C0CLL, 0x0808080808080808LL, 0x0404040404040404LL, 0x0000000000000000LL);
    const __m512i iota = _mm512_set1_epi64(0x0706050403020100LL);
    const __m512i iota_less8 = _mm512_set1_epi64((long long)0xFFFEFDFCFBFAF9F8ULL);
    const __m256i nine = _mm256_set1_epi32(9), seven = _mm256_set1_epi32(7);
    size_t s = 0;
    for (; s + 8 <= m; s += 8) {
        __m256i first = _mm256_loadu_si256((const __m256i *)(const void *)(at + s));
        __m256i past = _mm256_loadu_si256((const __m256i *)(const void *)(at + s + size));
        __m256i len = _mm256_sub_epi32(past, first);
        if (_mm256_cmple_epu32_mask(_mm256_sub_epi32(len, nine), seven) != 0xFF) {
            window_ids_scalar(out, text, at, s, s + 8, size);
            continue;
        }
        const uint32_t base = at[s], spanned = at[s + 7 + size] - base; /* at most 44 in UTF-8 */
        if (spanned > 63) {
            /* code points of more than four bytes (not UTF-8: a caller's
             * own tokens) */
            window_ids_scalar(out, text, at, s, s + 8, size);
            continue;
        }
        __m512i bytes = _mm512_maskz_loadu_epi8(((uint64_t)1 << spanned) - 1, (const void *)(text + base));
        __m256i from = _mm256_set1_epi32((int)base);
        __m512i lo_at = _mm512_castsi256_si512(_mm256_sub_epi32(first, from));
        __m512i past_at = _mm512_castsi256_si512(_mm256_sub_epi32(past, from));
        __m512i lo = _mm512_permutexvar_epi8(_mm512_add_epi8(_mm512_permutexvar_epi8(spread, lo_at), iota), bytes);
        __m512i hi =
            _mm512_permutexvar_epi8(_mm512_add_epi8(_mm512_permutexvar_epi8(spread, past_at), iota_less8), bytes);
        _mm256_storeu_si256((__m256i *)(void *)(out + s), ids_x8(lo, hi, len, flip1, flip2));
    }
    return s;
}
#endif

/* nd_char_offsets() 64 bytes at a time with SSE2 (a mask of the lead
 * bytes, read with a count of trailing zeros) from i; returns the count */
static size_t char_offsets_sse2(uint32_t *starts, const uint8_t *s, size_t n, size_t *from)
{
    size_t k = 0, i = 0;
#if defined(__SSE2__)
    const __m128i top2 = _mm_set1_epi8((char)0xC0), cont = _mm_set1_epi8((char)0x80);
    for (; n - i >= 64; i += 64) {
        uint64_t conts = 0;
        for (unsigned q = 0; q < 4; q++) {
            __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(s + i + 16 * q));
            conts |= (uint64_t)(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_and_si128(x, top2), cont)) << (16 * q);
        }
        for (uint64_t lead = ~conts; lead; lead &= lead - 1)
            starts[k++] = (uint32_t)(i + (size_t)__builtin_ctzll(lead));
    }
#else
    (void)starts;
    (void)s;
    (void)n;
#endif
    *from = i;
    return k;
}

#ifdef ND_WINHASH_SIMD
/* nd_char_offsets() 64 bytes at a time with AVX-512, to the end (the
 * byte loop's last 63 bytes were a hundredth of signing CJK text): the
 * offsets of each 16 bytes' lead bytes compressed to the front of a
 * vector, stored whole (the slack takes what is past them) */
__attribute__((target(AVX512_TARGET))) static size_t char_offsets_avx512(uint32_t *starts, const uint8_t *s, size_t n,
                                                                         size_t *from)
{
    const __m512i top2 = _mm512_set1_epi8((char)0xC0), cont = _mm512_set1_epi8((char)0x80);
    const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    size_t k = 0, i = 0;
    for (; i < n; i += 64) {
        /* the last 1 to 63 bytes by a masked load (nothing past s[n) is
         * read; the lanes past it are no leads) */
        const uint64_t in = n - i >= 64 ? ~(uint64_t)0 : ((uint64_t)1 << (n - i)) - 1;
        __m512i x = _mm512_maskz_loadu_epi8(in, (const void *)(s + i));
        uint64_t lead = _mm512_cmpneq_epi8_mask(_mm512_and_si512(x, top2), cont) & in;
        for (unsigned q = 0; q < 4; q++) {
            __mmask16 part = (__mmask16)(lead >> (16 * q));
            __m512i at = _mm512_add_epi32(iota, _mm512_set1_epi32((int)(i + 16 * q)));
            _mm512_storeu_si512((void *)(starts + k), _mm512_maskz_compress_epi32(part, at));
            k += (size_t)__builtin_popcount(part);
        }
    }
    *from = n;
    return k;
}
#endif

/* The offsets of the first bytes of s[0..n) a vector at a time, as far as
 * whole vectors go (*from: where the rest starts; with AVX-512 to the
 * end); at the AVX2 level (a CPU without AVX-512) SSE2's, with no SIMD
 * none. */
static size_t char_offsets_simd(uint32_t *starts, const uint8_t *s, size_t n, size_t *from, int simd)
{
#ifdef ND_WINHASH_SIMD
    if (simd >= ND_WINDOW_SIMD_AVX512 && nd_cpu_avx512_fvlbwdq())
        return char_offsets_avx512(starts, s, n, from);
#endif
    if (simd >= ND_WINDOW_SIMD_AVX2)
        return char_offsets_sse2(starts, s, n, from);
    *from = 0;
    return 0;
}

size_t nd_char_offsets(uint32_t *starts, const uint8_t *s, size_t n, int simd)
{
    size_t i;
    size_t k = char_offsets_simd(starts, s, n, &i, simd);
    for (; i < n; i++) {
        starts[k] = (uint32_t)i;
        k += (s[i] & 0xC0) != 0x80;
    }
    return k;
}

void nd_window_ids(uint32_t *out, const uint8_t *text, const uint32_t *at, size_t m, unsigned size, int simd)
{
    size_t s = 0;
    /* windows of fewer than 8 bytes on average (Latin letters: the SIMD
     * formula's 9 to 16 bytes would be checked for in vain) go scalar */
    if (m > 0 && (uint64_t)(at[m - 1 + size] - at[0]) * size < (uint64_t)8 * (m - 1 + size))
        simd = ND_WINDOW_SIMD_NONE;
#ifdef ND_WINHASH_SIMD
    if (simd >= ND_WINDOW_SIMD_AVX512VBMI && nd_cpu_avx512_fvlbwdq() && __builtin_cpu_supports("avx512vbmi"))
        s = window_ids_avx512_vbmi(out, text, at, m, size);
    else if (simd >= ND_WINDOW_SIMD_AVX512 && nd_cpu_avx512_fvlbwdq())
        s = window_ids_avx512(out, text, at, m, size);
    else if (simd >= ND_WINDOW_SIMD_AVX2 && __builtin_cpu_supports("avx2"))
        s = window_ids_avx2(out, text, at, m, size);
#else
    (void)simd;
#endif
    window_ids_scalar(out, text, at, s, m, size);
}
