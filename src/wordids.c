/* wordids.c - the ids of a text's word shingles, eight at a time.
 *
 * A word shingle's id (shingle.c) is fold32(mix64(H(s) + salt)) with
 *   H(s) = sum_{j<k} h(t_{s+j}) P^(k-1-j)   (mod 2^64),
 * which shingle.c's scalar loop slides from one window to the next (one
 * multiplication and one addition a window, in a chain). Here, where the
 * CPU has AVX-512 (cpuvec.h; DQ: 64-bit multiplications in vector lanes),
 * eight windows a step compute H directly by Horner's rule over their k
 * token hashes, read from a copy of the hashes made contiguous (the tokens
 * hold them every 40 bytes), each lane independent of the others: the
 * same value mod 2^64, so the same ids. Equal to the scalar loop for every
 * count of tokens and every width: test_word_ids (tests/test_shingle.c).
 */
#include "wordids.h"

#include <string.h> /* memcpy */

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#include "cpuvec.h"
#define ND_WORDIDS_AVX512 1
#define WORDIDS_TARGET "avx512f,avx512vl,avx512dq"

/* out[s] for s in [0, m) eight at a time; returns how many it made (a
 * multiple of eight; the rest are the caller's). hashes[0 .. m + k - 1). */
__attribute__((target(WORDIDS_TARGET))) static size_t word_ids_avx512(uint32_t *out, const uint64_t *hashes, size_t m,
                                                                      unsigned k, uint64_t P, uint64_t salt)
{
    const __m512i p = _mm512_set1_epi64((long long)P), s_salt = _mm512_set1_epi64((long long)salt);
    const __m512i mix1 = _mm512_set1_epi64((long long)0xbf58476d1ce4e5b9ULL);
    const __m512i mix2 = _mm512_set1_epi64((long long)0x94d049bb133111ebULL);
    size_t s = 0;
    for (; s + 8 <= m; s += 8) {
        __m512i h = _mm512_loadu_si512((const void *)(hashes + s));
        for (unsigned j = 1; j < k; j++)
            h = _mm512_add_epi64(_mm512_mullo_epi64(h, p), _mm512_loadu_si512((const void *)(hashes + s + j)));
        __m512i z = _mm512_add_epi64(h, s_salt); /* nd_mix64 (hash.h) */
        z = _mm512_mullo_epi64(_mm512_xor_si512(z, _mm512_srli_epi64(z, 30)), mix1);
        z = _mm512_mullo_epi64(_mm512_xor_si512(z, _mm512_srli_epi64(z, 27)), mix2);
        z = _mm512_xor_si512(z, _mm512_srli_epi64(z, 31));
        z = _mm512_xor_si512(z, _mm512_srli_epi64(z, 32)); /* fold32: the low half */
        _mm256_storeu_si256((__m256i *)(void *)(out + s), _mm512_cvtepi64_epi32(z));
    }
    return s;
}
#endif

size_t nd_word_ids_simd(uint32_t *out, uint64_t *scratch, const nd_token *items, size_t m, unsigned k, uint64_t P,
                        uint64_t salt, int simd)
{
#ifdef ND_WORDIDS_AVX512
    if (simd >= ND_WORDIDS_SIMD_AVX512 && m >= 8 && nd_cpu_avx512_fvlbwdq()) {
        for (size_t t = 0; t < m + k - 1; t++)
            scratch[t] = items[t].hash;
        return word_ids_avx512(out, scratch, m, k, P, salt);
    }
#else
    (void)out, (void)scratch, (void)items, (void)m, (void)k, (void)P, (void)salt, (void)simd;
#endif
    return 0;
}
