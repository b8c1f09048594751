/* minhash.c - MinHash signatures (one permutation, densified); exact Jaccard
 * is jaccard.c.
 *
 * MinHash (Broder 1997): for a random permutation h of the id universe,
 * Pr[min h(A) = min h(B)] = |A ∩ B| / |A ∪ B| = J(A, B); k such values
 * estimate J with variance J (1 - J) / k.
 *
 * Computing k independent minima costs k hash evaluations per shingle.
 * One-permutation hashing (Li, Owen, Zhang 2012) evaluates one hash per
 * shingle: its high bits choose one of k bins, its low bits are the value,
 * and each bin keeps its minimum. For two sets, bin i agrees with
 * probability J when at least one of them has an element in bin i. Bins
 * that a set leaves empty are filled by optimal densification (Shrivastava,
 * ICML 2017): empty bin i takes the value of bin j = g(i, t) for
 * t = 1, 2, ... until j is a bin that was not empty, g being a fixed
 * seeded hash; because g is the same for every set, two sets that both
 * left bin i empty borrow from the same bins, and the estimator stays
 * unbiased with variance close to k independent permutations (checked by
 * the 4-sigma test in tests/test_minhash.c, and the LSH candidate-rate test
 * in tests/test_lsh.c).
 *
 * The shingle hash is the splitmix64 finalizer of id + seed: a bijection of
 * 64-bit words with full avalanche, so bins and values are independent
 * functions of the id. Everything is integer arithmetic: signatures are the
 * same on every machine.
 */
#include "neardup.h"

#include <assert.h>  /* assert */
#include <pthread.h> /* pthread_once */
#include <string.h>  /* memset */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h> /* the AVX2 and AVX-512 rank densification and bins */
#define ND_MINHASH_AVX2 1
#endif

#include "alloc.h"
#include "hash.h"
#include "minhash.h"

enum { MAX_PERM = ND_MAX_PERM };

/* g(i, t): the t-th bin (t >= 1) that empty bin i tries to borrow from. */
static inline uint32_t probe(uint64_t salt, unsigned i, uint64_t t, unsigned num_perm)
{
    uint64_t g = nd_mix64(salt ^ ((uint64_t)i << 32 | t));
    return (uint32_t)(((g >> 32) * (uint64_t)num_perm) >> 32);
}

static uint64_t salt_of(uint64_t seed)
{
    return nd_mix64(seed ^ 0x6f6e652d7065726dULL); /* "one-perm" */
}

/* Ranks past this are not kept (the search goes on by hand). */
enum { RANK_UNKNOWN = 511 };

int nd_minhash_tables_new(nd_minhash_tables *out, unsigned num_perm, uint64_t seed)
{
    if (num_perm == 0 || num_perm > MAX_PERM)
        return ND_EINVAL;
    nd_minhash_tables t = ND_MINHASH_TABLES_INIT;
    t.probes = nd_malloc((size_t)num_perm * ND_PROBES_PER_BIN * sizeof *t.probes);
    if (num_perm <= ND_RANKS_MAX_PERM) {
        t.ranks_block = nd_malloc((size_t)num_perm * num_perm * sizeof *t.ranks + 63);
        if (t.ranks_block)
            t.ranks = (uint16_t *)((char *)t.ranks_block + (-(uintptr_t)t.ranks_block & 63));
    }
    if (!t.probes || (num_perm <= ND_RANKS_MAX_PERM && !t.ranks)) {
        nd_minhash_tables_free(&t);
        return ND_ENOMEM;
    }
    uint64_t salt = salt_of(seed);
    for (unsigned i = 0; i < num_perm; i++) {
        for (unsigned k = 1; k <= ND_PROBES_PER_BIN; k++)
            t.probes[(size_t)i * ND_PROBES_PER_BIN + k - 1] = (uint16_t)probe(salt, i, k, num_perm);
    }
    if (t.ranks) {
        /* bin i's probe sequence until every other bin has come up or the
         * cap (by then a filled bin has come up with probability
         * 1 - (1 - f / num_perm)^510 for f filled bins: all but certain) */
        for (unsigned j = 0; j < num_perm; j++) {
            for (unsigned i = 0; i < num_perm; i++)
                t.ranks[(size_t)j * num_perm + i] = (uint16_t)(RANK_UNKNOWN << 7 | j);
            /* rank 0 on the diagonal: a filled bin's least is itself, so
             * densify_by_rank copies every bin without testing which */
            t.ranks[(size_t)j * num_perm + j] = (uint16_t)j;
        }
        for (unsigned i = 0; i < num_perm; i++) {
            unsigned missing = num_perm - 1;
            for (unsigned k = 1; k < RANK_UNKNOWN && missing > 0; k++) {
                uint32_t j = probe(salt, i, k, num_perm);
                uint16_t *rank = &t.ranks[(size_t)j * num_perm + i];
                if (j != i && (*rank >> 7) == RANK_UNKNOWN) {
                    *rank = (uint16_t)(k << 7 | j);
                    missing--;
                }
            }
        }
    }
    *out = t;
    return ND_OK;
}

void nd_minhash_tables_free(nd_minhash_tables *tables)
{
    if (!tables)
        return;
    nd_free(tables->probes);
    nd_free(tables->ranks_block);
    tables->probes = NULL;
    tables->ranks = NULL;
    tables->ranks_block = NULL;
}

/* Empty bin i's value: the first g(i, t), t >= `from`, that is filled. */
static void borrow(uint32_t *sig, const unsigned char *filled, uint64_t salt, unsigned i, uint64_t from,
                   unsigned num_perm)
{
    for (uint64_t t = from;; t++) {
        uint32_t j = probe(salt, i, t, num_perm);
        if (filled[j]) {
            sig[i] = sig[j];
            return;
        }
    }
}

/* 8 bins of `filled` (bytes 0 or 1) as one word; `filled` is readable
 * (and zero) up to a multiple of 8 bins. */
static inline uint64_t eight_bins(const unsigned char *filled, unsigned i)
{
    uint64_t x;
    memcpy(&x, filled + i, 8);
    return x;
}

/* The number of filled bins: the sum of `filled` (zero up to a multiple of
 * 16 bins). With SSE2 (every x86-64), sixteen bins an instruction (psadbw
 * sums eight bytes into a lane); the scalar sum takes eight bins a word
 * (the bytes' sum is the top byte of x * 0x0101...), which cost a short
 * unit about a hundred instructions, a tenth of its MinHash. */
static unsigned count_filled(const unsigned char *filled, unsigned num_perm)
{
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    __m128i sum = _mm_setzero_si128();
    for (unsigned w = 0; w < num_perm; w += 16)
        sum = _mm_add_epi64(sum, _mm_sad_epu8(_mm_loadu_si128((const __m128i *)(filled + w)), _mm_setzero_si128()));
    return (unsigned)(_mm_cvtsi128_si64(sum) + _mm_cvtsi128_si64(_mm_unpackhi_epi64(sum, sum)));
#else
    unsigned n = 0;
    for (unsigned w = 0; w < num_perm; w += 8)
        n += (unsigned)((eight_bins(filled, w) * 0x0101010101010101ULL) >> 56);
    return n;
#endif
}

/* least[i] = the least ranks[j * num_perm + i] over the filled bins j,
 * 16 bits a lane; returns whether some least[i] is RANK_UNKNOWN. The loop
 * the rank densification spends its time in, kept in one function (a call
 * per filled bin cost more than the minimum it took) and compiled for
 * AVX2 too, picked at load time (target_clones) where the CPU has it; the
 * usual 128 bins get a loop of known length. */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
__attribute__((target_clones("avx2", "default")))
#endif
static int
least_ranks(uint16_t *restrict least, uint32_t *restrict dense, const uint32_t *restrict sig,
            const unsigned char *filled, const uint16_t *restrict ranks, unsigned num_perm)
{
    for (unsigned i = 0; i < num_perm; i++)
        least[i] = UINT16_MAX;
    for (unsigned w = 0; w < num_perm; w += 8) {
        for (uint64_t x = eight_bins(filled, w); x; x &= x - 1) {
            const uint16_t *restrict column = ranks + (size_t)(w + (unsigned)__builtin_ctzll(x) / 8) * num_perm;
            if (num_perm == 128) {
                for (unsigned i = 0; i < 128; i++)
                    least[i] = column[i] < least[i] ? column[i] : least[i];
            } else {
                for (unsigned i = 0; i < num_perm; i++)
                    least[i] = column[i] < least[i] ? column[i] : least[i];
            }
        }
    }
    uint16_t most = 0;
    for (unsigned i = 0; i < num_perm; i++)
        most = least[i] > most ? least[i] : most;
    for (unsigned i = 0; i < num_perm; i++)
        dense[i] = sig[least[i] & 0x7F];
    return (most >> 7) == RANK_UNKNOWN;
}

#ifdef ND_MINHASH_AVX2
/* least_ranks() for 128 bins with AVX2, in place: the 128 least ranks in
 * eight registers, and every bin's value fetched from its least with
 * gathers (filled bins are their own least, so the bins gathered from keep
 * their values while the others are written). */
__attribute__((target("avx2,bmi"))) static int least_ranks_128_avx2(uint16_t *least, uint32_t *sig,
                                                                    const uint64_t masks[2], const uint16_t *ranks)
{
    /* the filled bins as two 64-bit masks (filled_masks_128_avx2): one
     * loop a half, whose exit is the only branch a filled bin's column can
     * mispredict (a loop per eight bins was sixteen) */
    /* eight variables, not an array: GCC kept an array in memory as well as
     * in registers (about forty stores and loads a call) */
    __m256i l0 = _mm256_set1_epi16(-1), l1 = l0, l2 = l0, l3 = l0, l4 = l0, l5 = l0, l6 = l0, l7 = l0;
    for (unsigned h = 0; h < 2; h++) {
        /* the half's first column, and each column from it by a shift:
         * the bin's number made first, and the table's start and the
         * half's added to each column, took four more instructions a
         * column (an opaque pointer: GCC added its two parts in the loop) */
        const uint16_t *half = ranks + (size_t)h * 64 * 128;
        __asm__("" : "+r"(half));
        for (uint64_t x = masks[h]; x; x &= x - 1) {
            const __m256i *column = (const __m256i *)(half + (_tzcnt_u64(x) << 7));
            l0 = _mm256_min_epu16(l0, _mm256_load_si256(column));
            l1 = _mm256_min_epu16(l1, _mm256_load_si256(column + 1));
            l2 = _mm256_min_epu16(l2, _mm256_load_si256(column + 2));
            l3 = _mm256_min_epu16(l3, _mm256_load_si256(column + 3));
            l4 = _mm256_min_epu16(l4, _mm256_load_si256(column + 4));
            l5 = _mm256_min_epu16(l5, _mm256_load_si256(column + 5));
            l6 = _mm256_min_epu16(l6, _mm256_load_si256(column + 6));
            l7 = _mm256_min_epu16(l7, _mm256_load_si256(column + 7));
        }
    }
    const __m256i l[8] = {l0, l1, l2, l3, l4, l5, l6, l7};
    __m256i most = l[0];
    for (unsigned q = 1; q < 8; q++)
        most = _mm256_max_epu16(most, l[q]);
    /* lanes at RANK_UNKNOWN << 7 or above */
    __m256i floor = _mm256_set1_epi16((short)(RANK_UNKNOWN << 7));
    int unknown = _mm256_movemask_epi8(_mm256_cmpeq_epi16(_mm256_max_epu16(most, floor), most)) != 0;
    const __m256i bin = _mm256_set1_epi32(0x7F);
    for (unsigned q = 0; q < 8; q++) {
        _mm256_storeu_si256((__m256i *)(least + 16 * q), l[q]);
        __m256i lo = _mm256_and_si256(_mm256_cvtepu16_epi32(_mm256_castsi256_si128(l[q])), bin);
        __m256i hi = _mm256_and_si256(_mm256_cvtepu16_epi32(_mm256_extracti128_si256(l[q], 1)), bin);
        __m256i vlo = _mm256_i32gather_epi32((const int *)sig, lo, 4);
        __m256i vhi = _mm256_i32gather_epi32((const int *)sig, hi, 4);
        _mm256_storeu_si256((__m256i *)(sig + 16 * q), vlo);
        _mm256_storeu_si256((__m256i *)(sig + 16 * q + 8), vhi);
    }
    return unknown;
}

/* least_ranks_128_avx2() with AVX-512: the 128 least ranks in four
 * registers (a filled bin's column is four minimums, not eight), and each
 * bin's value picked from its least with permutes of the 128 values held in
 * eight registers instead of gathers (sixteen gathers were most of the
 * cost of densifying a paragraph's signature). */
__attribute__((target("avx512f,avx512bw,bmi"))) static int
least_ranks_128_avx512(uint16_t *least, uint32_t *sig, const uint64_t masks[2], const uint16_t *ranks)
{
    /* variables, not an array (as in least_ranks_128_avx2) */
    __m512i l0 = _mm512_set1_epi16(-1), l1 = l0, l2 = l0, l3 = l0;
    for (unsigned h = 0; h < 2; h++) {
        const uint16_t *half = ranks + (size_t)h * 64 * 128; /* as in least_ranks_128_avx2 */
        __asm__("" : "+r"(half));
        for (uint64_t x = masks[h]; x; x &= x - 1) {
            const uint16_t *column = half + (_tzcnt_u64(x) << 7);
            l0 = _mm512_min_epu16(l0, _mm512_load_si512((const void *)column));
            l1 = _mm512_min_epu16(l1, _mm512_load_si512((const void *)(column + 32)));
            l2 = _mm512_min_epu16(l2, _mm512_load_si512((const void *)(column + 64)));
            l3 = _mm512_min_epu16(l3, _mm512_load_si512((const void *)(column + 96)));
        }
    }
    const __m512i l[4] = {l0, l1, l2, l3};
    /* lanes at RANK_UNKNOWN << 7 or above */
    const __m512i floor = _mm512_set1_epi16((short)(RANK_UNKNOWN << 7));
    int unknown = 0;
    for (unsigned q = 0; q < 4; q++)
        unknown |= _mm512_cmpge_epu16_mask(l[q], floor) != 0;
    __m512i v[8];
    for (unsigned k = 0; k < 8; k++)
        v[k] = _mm512_loadu_si512((const void *)(sig + 16 * k));
    const __m512i bin = _mm512_set1_epi32(0x7F), bit5 = _mm512_set1_epi32(32), bit6 = _mm512_set1_epi32(64);
    for (unsigned q = 0; q < 4; q++) {
        _mm512_storeu_si512((void *)(least + 32 * q), l[q]);
        const __m256i halves[2] = {_mm512_extracti64x4_epi64(l[q], 0), _mm512_extracti64x4_epi64(l[q], 1)};
        for (unsigned half = 0; half < 2; half++) {
            __m512i j = _mm512_and_si512(_mm512_cvtepu16_epi32(halves[half]), bin);
            /* bits 0..4 of j pick one of 32 values, bits 5 and 6 which 32 */
            __m512i p0 = _mm512_permutex2var_epi32(v[0], j, v[1]), p1 = _mm512_permutex2var_epi32(v[2], j, v[3]);
            __m512i p2 = _mm512_permutex2var_epi32(v[4], j, v[5]), p3 = _mm512_permutex2var_epi32(v[6], j, v[7]);
            __mmask16 b5 = _mm512_test_epi32_mask(j, bit5), b6 = _mm512_test_epi32_mask(j, bit6);
            __m512i low = _mm512_mask_blend_epi32(b5, p0, p1), high = _mm512_mask_blend_epi32(b5, p2, p3);
            _mm512_storeu_si512((void *)(sig + 32 * q + 16 * half), _mm512_mask_blend_epi32(b6, low, high));
        }
    }
    return unknown;
}
#endif

/* The widest vector instructions the rank densification, the bins
 * (fill_bins), nd_intersection and the band keys (lsh.c) may use:
 * nd_minhash_set_simd() (tests) lowers it. */
static int simd_limit = ND_MINHASH_SIMD_AVX512;

/* What the CPU has, checked once (AVX-512: F, BW and DQ, every AVX-512
 * CPU since Skylake-X; AVX2 with POPCNT and BMI1, as every AVX2 CPU), so that signing a text asks one
 * question instead of a dozen __builtin_cpu_supports (about 30
 * instructions a paragraph, under valgrind). cpu_simd is 1 + the level
 * once checked, 0 before. */
static pthread_once_t cpu_once = PTHREAD_ONCE_INIT;
static int cpu_simd;

static void check_cpu(void)
{
    int level = ND_MINHASH_SIMD_NONE;
#ifdef ND_MINHASH_AVX2
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("popcnt") && __builtin_cpu_supports("bmi"))
        level = ND_MINHASH_SIMD_AVX2;
    if (level == ND_MINHASH_SIMD_AVX2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq"))
        level = ND_MINHASH_SIMD_AVX512;
#endif
    __atomic_store_n(&cpu_simd, 1 + level, __ATOMIC_RELAXED);
}

void nd_minhash_set_simd(int limit)
{
    simd_limit = limit;
}

int nd_minhash_simd(void)
{
    int cpu = __atomic_load_n(&cpu_simd, __ATOMIC_RELAXED);
    if (cpu == 0) {
        pthread_once(&cpu_once, check_cpu);
        cpu = __atomic_load_n(&cpu_simd, __ATOMIC_RELAXED);
    }
    return simd_limit < cpu - 1 ? simd_limit : cpu - 1;
}

/* Densify with the rank table, when few bins are filled: the bin an empty
 * bin i borrows from is the filled j that comes first in i's sequence,
 * that is the filled j of least rank (distinct j have distinct ranks).
 * Taking, for every i at once, the least (rank << 7 | j) over the columns
 * of the filled bins is num_perm-wide minimums of 16-bit values, vector
 * instructions: a few hundred instructions where probing empty bins one by
 * one costs thousands when most bins are empty. A filled bin's least is
 * itself (rank 0 on the table's diagonal), so every bin is copied from its
 * least without a branch; filled bins are only read. */
static void densify_by_rank(uint32_t *sig, const unsigned char *filled, const uint64_t masks[2], const uint16_t *ranks,
                            uint64_t salt, unsigned num_perm, int simd)
{
    uint16_t least[ND_RANKS_MAX_PERM];
    int unknown;
#ifdef ND_MINHASH_AVX2
    if (num_perm == 128 && simd >= ND_MINHASH_SIMD_AVX512) {
        unknown = least_ranks_128_avx512(least, sig, masks, ranks);
    } else if (num_perm == 128 && simd >= ND_MINHASH_SIMD_AVX2) {
        unknown = least_ranks_128_avx2(least, sig, masks, ranks);
    } else
#endif
    {
        (void)masks;
        uint32_t dense[ND_RANKS_MAX_PERM];
        unknown = least_ranks(least, dense, sig, filled, ranks, num_perm);
        memcpy(sig, dense, num_perm * sizeof *sig);
    }
    if (!unknown)
        return;
    for (unsigned i = 0; i < num_perm; i++) {
        if ((least[i] >> 7) == RANK_UNKNOWN)
            borrow(sig, filled, salt, i, 1, num_perm); /* no filled bin within the cap */
    }
}

/* Every id's bin and value into sig (each bin's least value) and filled:
 * the loop signing spends most of its MinHash time in (about 24
 * instructions an id, the two 64-bit multiplications of nd_mix64 and the
 * bin's among them). Returns the last id's bin. */
static uint32_t fill_bins(uint32_t *sig, unsigned char *filled, unsigned num_perm, uint64_t salt, const uint32_t *ids,
                          size_t count)
{
    uint32_t last_bin = 0;
    for (size_t k = 0; k < count; k++) {
        uint64_t h = nd_mix64(ids[k] + salt);
        uint32_t bin = (uint32_t)(((h >> 32) * (uint64_t)num_perm) >> 32);
        uint32_t value = (uint32_t)h;
        /* branch-free: whether a value lowers its bin is a coin flip early
         * on, and a mispredicted branch cost more than the hashing */
        uint32_t current = sig[bin];
        sig[bin] = value < current ? value : current;
        filled[bin] = 1;
        last_bin = bin;
    }
    return last_bin;
}

#ifdef ND_MINHASH_AVX2
/* a * b mod 2^64 in each 64-bit lane, b's halves given in every lane (AVX2
 * multiplies 32 by 32 bits only) */
__attribute__((target("avx2"))) static inline __m256i mul64(__m256i a, __m256i b_lo, __m256i b_hi)
{
    __m256i cross = _mm256_add_epi64(_mm256_mul_epu32(_mm256_srli_epi64(a, 32), b_lo), _mm256_mul_epu32(a, b_hi));
    return _mm256_add_epi64(_mm256_mul_epu32(a, b_lo), _mm256_slli_epi64(cross, 32));
}

/* Every value of 128 bins UINT32_MAX and no bin filled, in twenty stores
 * of 32 bytes: the two memsets they replace were about a twentieth of a
 * short unit's MinHash (under valgrind). */
__attribute__((target("avx2"))) static void clear_bins_128_avx2(uint32_t *sig, unsigned char *filled)
{
    __m256i ones = _mm256_set1_epi32(-1);
    const __m256i zero = _mm256_setzero_si256();
    /* an opaque value: GCC turned the stores of a known one into rep stos
     * (slow to start) */
    __asm__("" : "+x"(ones));
    for (unsigned q = 0; q < 16; q++)
        _mm256_storeu_si256((__m256i *)(sig + 8 * q), ones);
    for (unsigned q = 0; q < 4; q++)
        _mm256_storeu_si256((__m256i *)(filled + 32 * q), zero);
}

/* fill_bins() with nd_mix64 and the bins computed four ids at a time (the
 * same integer arithmetic, so the same bins and values), and each bin's
 * minimum taken one id at a time as before. */
__attribute__((target("avx2"))) static uint32_t fill_bins_avx2(uint32_t *sig, unsigned char *filled, unsigned num_perm,
                                                               uint64_t salt, const uint32_t *ids, size_t count)
{
    const __m256i c1_lo = _mm256_set1_epi64x((long long)(0xbf58476d1ce4e5b9ULL & 0xFFFFFFFF));
    const __m256i c1_hi = _mm256_set1_epi64x((long long)(0xbf58476d1ce4e5b9ULL >> 32));
    const __m256i c2_lo = _mm256_set1_epi64x((long long)(0x94d049bb133111ebULL & 0xFFFFFFFF));
    const __m256i c2_hi = _mm256_set1_epi64x((long long)(0x94d049bb133111ebULL >> 32));
    const __m256i vsalt = _mm256_set1_epi64x((long long)salt);
    const __m256i vperm = _mm256_set1_epi64x(num_perm);
    uint32_t last_bin = 0;
    size_t k = 0;
    for (; k + 4 <= count; k += 4) {
        __m256i z = _mm256_add_epi64(_mm256_cvtepu32_epi64(_mm_loadu_si128((const __m128i *)(ids + k))), vsalt);
        z = mul64(_mm256_xor_si256(z, _mm256_srli_epi64(z, 30)), c1_lo, c1_hi);
        z = mul64(_mm256_xor_si256(z, _mm256_srli_epi64(z, 27)), c2_lo, c2_hi);
        z = _mm256_xor_si256(z, _mm256_srli_epi64(z, 31));
        __m256i bins = _mm256_srli_epi64(_mm256_mul_epu32(_mm256_srli_epi64(z, 32), vperm), 32);
        /* lane j: its value in the low 32 bits, its bin in the high ones,
         * taken to general registers (not through memory) */
        __m256i pairs = _mm256_blend_epi32(z, _mm256_slli_epi64(bins, 32), 0xAA);
        __m128i low = _mm256_castsi256_si128(pairs), high = _mm256_extracti128_si256(pairs, 1);
        uint64_t pair[4] = {(uint64_t)_mm_cvtsi128_si64(low), (uint64_t)_mm_extract_epi64(low, 1),
                            (uint64_t)_mm_cvtsi128_si64(high), (uint64_t)_mm_extract_epi64(high, 1)};
        for (unsigned j = 0; j < 4; j++) {
            uint32_t value = (uint32_t)pair[j], bin = (uint32_t)(pair[j] >> 32);
            uint32_t current = sig[bin];
            sig[bin] = value < current ? value : current;
            filled[bin] = 1;
        }
        last_bin = (uint32_t)(pair[3] >> 32);
    }
    if (k < count)
        last_bin = fill_bins(sig, filled, num_perm, salt, ids + k, count - k);
    return last_bin;
}

/* The filled bins of 128 (bytes 0 or 1) as two 64-bit masks, for the
 * rank densification's loop over the filled bins, and their count (two
 * POPCNTs: count_filled's eight steps were about 35 instructions a
 * paragraph, under valgrind). AVX2: each byte shifted into its sign bit. */
__attribute__((target("avx2,popcnt"))) static unsigned filled_masks_128_avx2(uint64_t masks[2],
                                                                             const unsigned char *filled)
{
    for (unsigned h = 0; h < 2; h++) {
        __m256i lo = _mm256_slli_epi16(_mm256_loadu_si256((const __m256i *)(filled + 64 * h)), 7);
        __m256i hi = _mm256_slli_epi16(_mm256_loadu_si256((const __m256i *)(filled + 64 * h + 32)), 7);
        masks[h] = (uint32_t)_mm256_movemask_epi8(lo) | (uint64_t)(uint32_t)_mm256_movemask_epi8(hi) << 32;
    }
    return (unsigned)(__builtin_popcountll(masks[0]) + __builtin_popcountll(masks[1]));
}

/* filled_masks_128_avx2() with AVX-512: a byte test a half. */
__attribute__((target("avx512f,avx512bw,popcnt"))) static unsigned filled_masks_128_avx512(uint64_t masks[2],
                                                                                           const unsigned char *filled)
{
    __m512i f0 = _mm512_loadu_si512((const void *)filled), f1 = _mm512_loadu_si512((const void *)(filled + 64));
    masks[0] = _mm512_test_epi8_mask(f0, f0);
    masks[1] = _mm512_test_epi8_mask(f1, f1);
    return (unsigned)(__builtin_popcountll(masks[0]) + __builtin_popcountll(masks[1]));
}

/* fill_bins_avx2() eight ids at a time with AVX-512 (nd_mix64's two
 * multiplications one instruction each, AVX512DQ), in two passes over up
 * to FILL_CHUNK ids at a time: their values and bins to the stack, then
 * each bin's minimum taken one id at a time (no vector-to-register moves
 * among the loads and stores of the bins), without marking the bins
 * filled: a bin is filled when its value is below UINT32_MAX, told 16
 * bins at a time at the end, unless an id's value is UINT32_MAX itself
 * (one in 2^32), when its bins are marked one by one. 0.8 of the time of
 * marking each (a microbenchmark, 288 ids a text). */
enum { FILL_CHUNK = 256 };

__attribute__((target("avx512f,avx512dq"))) static uint32_t fill_bins_avx512(uint32_t *sig, unsigned char *filled,
                                                                             unsigned num_perm, uint64_t salt,
                                                                             const uint32_t *ids, size_t count)
{
    const __m512i c1 = _mm512_set1_epi64((long long)0xbf58476d1ce4e5b9ULL);
    const __m512i c2 = _mm512_set1_epi64((long long)0x94d049bb133111ebULL);
    const __m512i vsalt = _mm512_set1_epi64((long long)salt);
    const __m512i vperm = _mm512_set1_epi64(num_perm);
    const __m512i ones = _mm512_set1_epi32(-1);
    uint32_t values[FILL_CHUNK], bins[FILL_CHUNK];
    uint32_t last_bin = 0;
    __mmask16 maxed = 0; /* an id's value is UINT32_MAX */
    size_t k = 0;
    while (count - k >= 8) {
        size_t n = (count - k) & ~(size_t)7;
        if (n > FILL_CHUNK)
            n = FILL_CHUNK;
        for (size_t i = 0; i < n; i += 8) {
            __m512i z =
                _mm512_add_epi64(_mm512_cvtepu32_epi64(_mm256_loadu_si256((const __m256i *)(ids + k + i))), vsalt);
            z = _mm512_mullo_epi64(_mm512_xor_si512(z, _mm512_srli_epi64(z, 30)), c1);
            z = _mm512_mullo_epi64(_mm512_xor_si512(z, _mm512_srli_epi64(z, 27)), c2);
            z = _mm512_xor_si512(z, _mm512_srli_epi64(z, 31));
            __m512i bin = _mm512_srli_epi64(_mm512_mul_epu32(_mm512_srli_epi64(z, 32), vperm), 32);
            maxed |= _mm512_mask_cmpeq_epi32_mask(0x5555, z, ones);
            _mm256_storeu_si256((__m256i *)(values + i), _mm512_cvtepi64_epi32(z));
            _mm256_storeu_si256((__m256i *)(bins + i), _mm512_cvtepi64_epi32(bin));
        }
        for (size_t i = 0; i < n; i++) {
            uint32_t value = values[i], current = sig[bins[i]];
            sig[bins[i]] = value < current ? value : current;
        }
        last_bin = bins[n - 1];
        k += n;
    }
    /* the bins filled so far: those whose value went below UINT32_MAX,
     * 16 at a time (filled has room for a multiple of 16) */
    for (unsigned b = 0; b < num_perm; b += 16) {
        __mmask16 in = (__mmask16)(num_perm - b >= 16 ? 0xFFFFu : (1u << (num_perm - b)) - 1);
        __mmask16 below = _mm512_mask_cmpneq_epi32_mask(in, _mm512_maskz_loadu_epi32(in, sig + b), ones);
        _mm_storeu_si128((__m128i *)(void *)(filled + b),
                         _mm512_cvtepi32_epi8(_mm512_maskz_mov_epi32(below, _mm512_set1_epi32(1))));
    }
    if (maxed) {
        for (size_t i = 0; i < k; i++) {
            uint64_t h = nd_mix64(ids[i] + salt);
            filled[((h >> 32) * (uint64_t)num_perm) >> 32] = 1;
        }
    }
    if (k < count)
        last_bin = fill_bins(sig, filled, num_perm, salt, ids + k, count - k);
    return last_bin;
}
#endif

void nd_minhash_probed(uint32_t *sig, unsigned num_perm, uint64_t seed, const uint32_t *ids, size_t count,
                       const nd_minhash_tables *tables)
{
    assert(num_perm >= 1 && num_perm <= MAX_PERM); /* `filled` below holds MAX_PERM bins */
    uint64_t salt = salt_of(seed);
    unsigned char filled[MAX_PERM]; /* 0 or 1 per bin, zero up to a multiple of 16 */
    int simd = nd_minhash_simd();
#ifdef ND_MINHASH_AVX2
    if (num_perm == 128 && count > 0 && simd >= ND_MINHASH_SIMD_AVX2) {
        clear_bins_128_avx2(sig, filled);
    } else
#endif
    {
        for (unsigned i = 0; i < num_perm; i++)
            sig[i] = UINT32_MAX;
        if (count == 0)
            return;
        memset(filled, 0, (num_perm + 15) & ~15u);
    }
    uint32_t last_bin;
#ifdef ND_MINHASH_AVX2
    if (simd >= ND_MINHASH_SIMD_AVX512)
        last_bin = fill_bins_avx512(sig, filled, num_perm, salt, ids, count);
    else if (simd >= ND_MINHASH_SIMD_AVX2)
        last_bin = fill_bins_avx2(sig, filled, num_perm, salt, ids, count);
    else
#endif
        last_bin = fill_bins(sig, filled, num_perm, salt, ids, count);
    uint64_t masks[2] = {0, 0}; /* at 128 bins with AVX2 or more: the filled bins */
    unsigned filled_count;
#ifdef ND_MINHASH_AVX2
    if (num_perm == 128 && simd >= ND_MINHASH_SIMD_AVX512)
        filled_count = filled_masks_128_avx512(masks, filled);
    else if (num_perm == 128 && simd >= ND_MINHASH_SIMD_AVX2)
        filled_count = filled_masks_128_avx2(masks, filled);
    else
#endif
        filled_count = count_filled(filled, num_perm);
    if (filled_count == 1) {
        /* every probe would end at the one filled bin */
        for (unsigned i = 0; i < num_perm; i++)
            sig[i] = sig[last_bin];
        return;
    }
    if (filled_count == num_perm)
        return;
    /* optimal densification: empty bin i borrows from g(i, 1), g(i, 2), ...
     * until a filled bin; with few filled bins (a quarter or less: past
     * that the cached probes find one in the first eight), all at once by
     * rank; at 128 bins with AVX2, where a filled bin's column costs about
     * 20 instructions and probing an empty bin about 26, up to half; with
     * AVX-512 up to three quarters (a microbenchmark: break-even near 90
     * filled bins; 70 filled 349 -> 274 ns) */
    unsigned rank_limit = num_perm / 4;
#ifdef ND_MINHASH_AVX2
    if (num_perm == 128 && simd >= ND_MINHASH_SIMD_AVX2)
        rank_limit = simd >= ND_MINHASH_SIMD_AVX512 ? num_perm * 3 / 4 : num_perm / 2;
#endif
    if (tables && tables->ranks && filled_count <= rank_limit) {
        densify_by_rank(sig, filled, masks, tables->ranks, salt, num_perm, simd);
        return;
    }
    const uint16_t *probes = tables ? tables->probes : NULL;
    /* the empty bins as bits, 64 at a time: testing filled[i] bin by bin
     * was a coin-flip branch per bin (a quarter of the bins of a typical
     * document are empty) */
    for (unsigned w = 0; w < num_perm; w += 64) {
        uint64_t empty = 0;
        for (unsigned j = 0; j < 64 && w + j < num_perm; j += 8)
            empty |= ((~eight_bins(filled, w + j) & 0x0101010101010101ULL) * 0x0102040810204080ULL) >> 56 << j;
        if (num_perm - w < 64)
            empty &= ((uint64_t)1 << (num_perm - w)) - 1;
        for (; empty; empty &= empty - 1) {
            unsigned i = w + (unsigned)__builtin_ctzll(empty);
            if (probes) {
                /* the cached probes, eight at a time: one predictable branch per
                 * group instead of one unpredictable branch per probe */
                const uint16_t *row = probes + (size_t)i * ND_PROBES_PER_BIN;
                int found = 0;
                for (unsigned g = 0; g < ND_PROBES_PER_BIN && !found; g += 8) {
                    unsigned mask = 0;
                    for (unsigned k = 0; k < 8; k++)
                        mask |= (unsigned)filled[row[g + k]] << k;
                    if (mask) {
                        sig[i] = sig[row[g + (unsigned)__builtin_ctz(mask)]];
                        found = 1;
                    }
                }
                if (!found)
                    borrow(sig, filled, salt, i, ND_PROBES_PER_BIN + 1, num_perm);
            } else {
                borrow(sig, filled, salt, i, 1, num_perm);
            }
        }
    }
}

void nd_minhash(uint32_t *sig, unsigned num_perm, uint64_t seed, const uint32_t *ids, size_t count)
{
    nd_minhash_probed(sig, num_perm, seed, ids, count, NULL);
}

double nd_signature_similarity(const uint32_t *a, const uint32_t *b, unsigned num_perm)
{
    if (num_perm == 0)
        return 0.0;
    unsigned equal = 0;
    for (unsigned i = 0; i < num_perm; i++)
        equal += a[i] == b[i];
    return (double)equal / (double)num_perm;
}
