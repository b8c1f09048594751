/* jaccard.c - exact Jaccard of two sorted distinct id sets: |A & B| / |A | B|,
 * with |A | B| = |A| + |B| - |A & B|, the intersection found by merging
 * (AVX-512 compares sixteen ids against sixteen a step where the CPU has
 * it and nd_minhash_simd allows it; the same count either way). Out of
 * minhash.c, which estimates what this computes exactly.
 */
#include "neardup.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h> /* AVX-512 merging */
#define ND_MINHASH_AVX2 1
#endif

#include "minhash.h"

/* The intersection of a[i..na) and b[j..nb) by merging, one comparison a
 * step. */
static size_t intersection_scalar(const uint32_t *a, size_t na, const uint32_t *b, size_t nb, size_t i, size_t j)
{
    size_t shared = 0;
    while (i < na && j < nb) {
        if (a[i] < b[j]) {
            i++;
        } else if (a[i] > b[j]) {
            j++;
        } else {
            shared++;
            i++;
            j++;
        }
    }
    return shared;
}

#ifdef ND_MINHASH_AVX2
/* Sixteen ids of a against sixteen of b at a time with AVX-512 (Schlegel,
 * Willhalm and Lehner's block intersection): a block of each, every pair
 * compared (b's block rotated through the lanes: ids are distinct, so an
 * id of a meets at most one of b), and the block with the smaller last id
 * left behind (both when they end alike): a pair's two blocks meet once,
 * and an id of a block left behind is below every id of the other set
 * still ahead. The merge's branches take one id a step and mispredict on
 * about every other one: verifying a candidate pair of CJK texts (300
 * shingles each) took a few thousand cycles. The rest of both sets (fewer
 * than sixteen ids in one) is merged one id at a time. */
__attribute__((target("avx512f,popcnt"))) static size_t intersection_avx512(const uint32_t *a, size_t na,
                                                                            const uint32_t *b, size_t nb)
{
    size_t i = 0, j = 0, shared = 0;
    while (na - i >= 16 && nb - j >= 16) {
        __m512i x = _mm512_loadu_si512((const void *)(a + i)), y = _mm512_loadu_si512((const void *)(b + j));
        __mmask16 met = _mm512_cmpeq_epu32_mask(x, y);
#define ND_MEET(r) met |= _mm512_cmpeq_epu32_mask(x, _mm512_alignr_epi32(y, y, (r)))
        ND_MEET(1);
        ND_MEET(2);
        ND_MEET(3);
        ND_MEET(4);
        ND_MEET(5);
        ND_MEET(6);
        ND_MEET(7);
        ND_MEET(8);
        ND_MEET(9);
        ND_MEET(10);
        ND_MEET(11);
        ND_MEET(12);
        ND_MEET(13);
        ND_MEET(14);
        ND_MEET(15);
#undef ND_MEET
        shared += (size_t)__builtin_popcount(met);
        uint32_t last_a = a[i + 15], last_b = b[j + 15];
        i += last_a <= last_b ? 16 : 0;
        j += last_b <= last_a ? 16 : 0;
    }
    return shared + intersection_scalar(a, na, b, nb, i, j);
}
#endif

size_t nd_intersection(const uint32_t *a, size_t na, const uint32_t *b, size_t nb)
{
#ifdef ND_MINHASH_AVX2
    if (na >= 16 && nb >= 16 && nd_minhash_simd() >= ND_MINHASH_SIMD_AVX512)
        return intersection_avx512(a, na, b, nb);
#endif
    return intersection_scalar(a, na, b, nb, 0, 0);
}

double nd_jaccard(const uint32_t *a, size_t na, const uint32_t *b, size_t nb)
{
    if (na == 0 || nb == 0)
        return 0.0;
    size_t shared = nd_intersection(a, na, b, nb);
    return (double)shared / (double)(na + nb - shared);
}
