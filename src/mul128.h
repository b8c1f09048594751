/* mul128.h - XXH3_mul128_fold64 in every 64-bit lane of a vector.
 *
 * XXH3 folds a 64 x 64 -> 128-bit product to 64 bits (its two halves
 * xor'ed). AVX2 and AVX-512 multiply 32 x 32 bits only, so the product is
 * made from four such products as XXH_mult64to128's portable code makes
 * it. Used where several XXH3 values are made at once: LSH band keys
 * (lsh.c) and character-shingle windows (winhash.c); each is tested
 * against the scalar XXH3 it must equal (test_band_keys, test_window_ids).
 */
#ifndef ND_MUL128_H
#define ND_MUL128_H

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

/* four lanes, AVX2 */
__attribute__((target("avx2"))) static inline __m256i nd_mul128_fold64_x4(__m256i a, __m256i b)
{
    const __m256i low32 = _mm256_set1_epi64x(0xFFFFFFFF);
    __m256i a_hi = _mm256_srli_epi64(a, 32), b_hi = _mm256_srli_epi64(b, 32);
    __m256i lo_lo = _mm256_mul_epu32(a, b), hi_lo = _mm256_mul_epu32(a_hi, b);
    __m256i lo_hi = _mm256_mul_epu32(a, b_hi), hi_hi = _mm256_mul_epu32(a_hi, b_hi);
    __m256i cross =
        _mm256_add_epi64(_mm256_add_epi64(_mm256_srli_epi64(lo_lo, 32), _mm256_and_si256(hi_lo, low32)), lo_hi);
    __m256i upper =
        _mm256_add_epi64(_mm256_add_epi64(_mm256_srli_epi64(hi_lo, 32), _mm256_srli_epi64(cross, 32)), hi_hi);
    __m256i lower = _mm256_or_si256(_mm256_slli_epi64(cross, 32), _mm256_and_si256(lo_lo, low32));
    return _mm256_xor_si256(lower, upper);
}

/* eight lanes, AVX-512 (F and DQ) */
__attribute__((target("avx512f,avx512dq"))) static inline __m512i nd_mul128_fold64_x8(__m512i a, __m512i b)
{
    const __m512i low32 = _mm512_set1_epi64(0xFFFFFFFF);
    __m512i a_hi = _mm512_srli_epi64(a, 32), b_hi = _mm512_srli_epi64(b, 32);
    __m512i lo_lo = _mm512_mul_epu32(a, b), hi_lo = _mm512_mul_epu32(a_hi, b);
    __m512i lo_hi = _mm512_mul_epu32(a, b_hi), hi_hi = _mm512_mul_epu32(a_hi, b_hi);
    __m512i cross =
        _mm512_add_epi64(_mm512_add_epi64(_mm512_srli_epi64(lo_lo, 32), _mm512_and_si512(hi_lo, low32)), lo_hi);
    __m512i upper =
        _mm512_add_epi64(_mm512_add_epi64(_mm512_srli_epi64(hi_lo, 32), _mm512_srli_epi64(cross, 32)), hi_hi);
    __m512i lower = _mm512_or_si512(_mm512_slli_epi64(cross, 32), _mm512_and_si512(lo_lo, low32));
    return _mm512_xor_si512(lower, upper);
}
#endif

#endif
