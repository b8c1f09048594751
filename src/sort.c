/* sort.c - sorting arrays of 32-bit hash values (shingle ids), and
 * 64-bit entries by their upper half (LSH band keys with a text number).
 *
 * Every sketch sorts its shingle ids (a few hundred for a typical document,
 * a few dozen for a paragraph), so this sort is on the hot path.
 * Comparison sorts pay a mispredicted branch per comparison; an LSD radix
 * sort (four passes of 8 bits) is linear but for a few hundred ids its cost
 * is mostly clearing and summing its 4 x 256 counters. Because the values
 * are hashes, a bucket sort on the top b bits with about as many buckets as
 * values leaves about one value per bucket, so every value lands within a
 * few places of its sorted place, and one insertion pass over the whole
 * array finishes the sort (and drops repeats, which a shingle set needs
 * anyway) almost for free: expected O(n). Skewed input (a hostile text
 * whose ids share their top bits) makes some bucket long; then the values
 * are radix sorted instead, so the worst case stays O(n) too. From 49 to
 * 16384 ids (a document's shingles) are first radix sorted by their top 12
 * to 16 bits instead (sort_distinct_top), which leaves far fewer values out
 * of place than the buckets, each a mispredicted branch of the insertion
 * pass; up to 48 (a paragraph's) are put in a table by their top bits and
 * read back in order (sort_distinct_slots); the buckets are left for past
 * 16384. With AVX-512, from 49 to 4096 ids go into buckets of their top
 * bits instead, one pass, and are sorted sixteen at a time in a register
 * by a sorting network, window after window of whole buckets
 * (sort_distinct_windows: 0.65 to 0.75 of the time of the top-bits radix
 * sort and its insertion pass, whose second scatter pass and mispredicted
 * insertions it does without; a window whose buckets hold at most eight
 * values each, as a document's do, takes a few steps of odd-even
 * transposition instead of the network's ten). The insertion pass takes sixteen (AVX-512) or eight (AVX2) values
 * at a time where they are in order already, and the radix sort's counts
 * are summed eight at a time (AVX2); each where the CPU has it, the scalar
 * code kept (nd_sort_set_simd). Tried and not kept: one scatter pass into
 * buckets of the top bits followed by a sixteen-lane sorting network over
 * every sixteen values (AVX-512) instead of the second radix pass (as fast:
 * the insertion pass then met more values out of place), counting
 * into two tables to halve same-counter stalls (no gain), and, instead of
 * the windows, buckets of fixed room (about eight values each, no
 * counting pass) each sorted by the network (as fast: more networks).
 */
#include "sort.h"

#include <string.h> /* memcpy, memset */

#define SELF(x) (x)
/* radix_sort_u32(ids, tmp, n): four passes of 8 bits */
ND_DEFINE_RADIX_SORT(radix_sort_u32, uint32_t, SELF, 0, 24)
/* radix_sort_high32(values, tmp, n): by bits 32..63, four passes of 8 bits
 * (past 2^32 values, where the counters below would overflow) */
ND_DEFINE_RADIX_SORT(radix_sort_high32, uint64_t, SELF, 32, 56)

/* Up to SMALL_SORT values are sorted by insertion alone; a bucket longer than
 * SKEWED means skewed input. */
enum { BUCKET_BITS_MAX = 12, SMALL_SORT = 8, SKEWED = 96 };

/* Insert x into ids[0..w), kept sorted and distinct, whose last value is
 * *last; returns the new count. */
static inline size_t insert_one(uint32_t *ids, size_t w, uint32_t x, uint32_t *last)
{
    if (*last < x) {
        ids[w] = *last = x; /* in order already: the usual case */
        return w + 1;
    }
    size_t j = w;
    while (j > 0 && ids[j - 1] > x) {
        ids[j] = ids[j - 1];
        j--;
    }
    if (j > 0 && ids[j - 1] == x) {
        /* a repeat: undo the shift */
        for (size_t k = j; k < w; k++)
            ids[k] = ids[k + 1];
        return w;
    }
    ids[j] = x;
    *last = ids[w];
    return w + 1;
}

/* Insert tmp[0..n) one by one into ids, kept sorted and distinct; returns
 * how many are kept. tmp may be ids itself (the writes stay behind the
 * reads). Linear when every value is at most a few places from
 * its sorted place, as after the bucket pass below. */
static size_t insert_distinct(uint32_t *ids, const uint32_t *tmp, size_t n)
{
    if (n == 0)
        return 0;
    ids[0] = tmp[0];
    size_t w = 1;
    uint32_t last = ids[0]; /* ids[w - 1], kept in a register */
    for (size_t i = 1; i < n; i++)
        w = insert_one(ids, w, tmp[i], &last);
    return w;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define ND_SORT_AVX2 1

/* insert_distinct() eight values at a time where they are already in
 * order (all but a handful after sort_distinct_top's passes): eight
 * values each above the one before them (the first above the last value
 * kept) are stored as they are; the values up to the first that is not
 * are inserted one by one. */
__attribute__((target("avx2"))) static size_t insert_distinct_avx2(uint32_t *ids, const uint32_t *tmp, size_t n)
{
    if (n == 0)
        return 0;
    ids[0] = tmp[0];
    size_t w = 1, i = 1;
    uint32_t last = ids[0];
    const __m256i sign = _mm256_set1_epi32(INT32_MIN); /* unsigned order as signed */
    const __m256i up = _mm256_setr_epi32(0, 0, 1, 2, 3, 4, 5, 6);
    while (n - i >= 8) {
        __m256i v = _mm256_loadu_si256((const __m256i *)(const void *)(tmp + i));
        __m256i before = _mm256_blend_epi32(_mm256_permutevar8x32_epi32(v, up), _mm256_set1_epi32((int)last), 1);
        __m256i above = _mm256_cmpgt_epi32(_mm256_xor_si256(v, sign), _mm256_xor_si256(before, sign));
        unsigned in_order = (unsigned)_mm256_movemask_ps(_mm256_castsi256_ps(above));
        if (in_order == 0xFF) {
            _mm256_storeu_si256((__m256i *)(void *)(ids + w), v); /* w <= i: behind the reads */
            w += 8;
            i += 8;
            last = (uint32_t)_mm256_extract_epi32(v, 7);
            continue;
        }
        for (size_t end = i + (size_t)__builtin_ctz(~in_order) + 1; i < end; i++)
            w = insert_one(ids, w, tmp[i], &last);
    }
    for (; i < n; i++)
        w = insert_one(ids, w, tmp[i], &last);
    return w;
}

/* insert_distinct_avx2() sixteen values at a time with AVX-512 */
__attribute__((target("avx512f"))) static size_t insert_distinct_avx512(uint32_t *ids, const uint32_t *tmp, size_t n)
{
    if (n == 0)
        return 0;
    ids[0] = tmp[0];
    size_t w = 1, i = 1;
    uint32_t last = ids[0];
    const __m512i up = _mm512_setr_epi32(0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14);
    while (n - i >= 16) {
        __m512i v = _mm512_loadu_si512((const void *)(tmp + i));
        __m512i before = _mm512_mask_set1_epi32(_mm512_permutexvar_epi32(up, v), 1, (int)last);
        unsigned in_order = _mm512_cmpgt_epu32_mask(v, before);
        if (in_order == 0xFFFF) {
            _mm512_storeu_si512((void *)(ids + w), v); /* w <= i: behind the reads */
            w += 16;
            i += 16;
            last = (uint32_t)_mm512_cvtsi512_si32(_mm512_alignr_epi32(v, v, 15)); /* lane 15 */
            continue;
        }
        for (size_t end = i + (size_t)__builtin_ctz(~in_order) + 1; i < end; i++)
            w = insert_one(ids, w, tmp[i], &last);
    }
    for (; i < n; i++)
        w = insert_one(ids, w, tmp[i], &last);
    return w;
}
#endif

/* The widest SIMD the sort may use (nd_sort_set_simd, for tests). */
static int sort_simd = ND_SORT_SIMD_AVX512;

void nd_sort_set_simd(int level)
{
    sort_simd = level;
}

/* insert_distinct() with AVX-512 or AVX2 where the CPU has it */
static size_t insert_distinct_best(uint32_t *ids, const uint32_t *tmp, size_t n)
{
#ifdef ND_SORT_AVX2
    if (sort_simd >= ND_SORT_SIMD_AVX512 && __builtin_cpu_supports("avx512f"))
        return insert_distinct_avx512(ids, tmp, n);
    if (sort_simd >= ND_SORT_SIMD_AVX2 && __builtin_cpu_supports("avx2"))
        return insert_distinct_avx2(ids, tmp, n);
#endif
    return insert_distinct(ids, tmp, n);
}

/* Drop repeats from sorted ids[0..n); returns the new count. */
static size_t drop_repeats(uint32_t *ids, size_t n)
{
    if (n < 2)
        return n;
    size_t w = 1;
    for (size_t r = 1; r < n; r++) {
        if (ids[r] != ids[w - 1])
            ids[w++] = ids[r];
    }
    return w;
}

/* From SMALL_SORT to SLOT_SORT values (a paragraph's or a short text's
 * shingles), no sorting pass at all: each value goes to the slot of its
 * top b bits in a table of 2^b >= 8 n slots, a bit per slot saying it is
 * taken, and reading the taken slots in order (the bits 64 at a time, the
 * eight lowest of a word unconditionally: a loop per bit would mispredict
 * its exit on nearly every word) gives the values sorted, repeats dropped
 * where they meet (the same slot). A value whose slot holds another value
 * (n / 16 of them expected) waits in a short list and is inserted into the
 * sorted result at the end; more than SLOT_OVERFLOW of those (skewed input)
 * sends everything through the radix sort instead. From 24 to 48 values
 * this took 0.6 to 0.7 of the time of the bucket pass and insertion pass
 * below it (whose insertions mispredict), but past about 50 values the
 * top-bits radix sort (sort_distinct_top) is faster. */
enum { SLOT_SORT = 48, SLOT_BITS_MAX = 9, SLOT_OVERFLOW = 16 };

/* The index of x's lowest set bit, 63 when x is 0 (a slot whose value is
 * then copied past the end of the result and overwritten or ignored). */
static inline unsigned low_bit(uint64_t x)
{
    return (unsigned)__builtin_ctzll(x | (uint64_t)1 << 63);
}

/* The number of set bits of x (no popcnt instruction in baseline x86-64). */
static inline unsigned bit_count(uint64_t x)
{
    x = x - ((x >> 1) & 0x5555555555555555ULL);
    x = (x & 0x3333333333333333ULL) + ((x >> 2) & 0x3333333333333333ULL);
    x = (x + (x >> 4)) & 0x0F0F0F0F0F0F0F0FULL;
    return (unsigned)((x * 0x0101010101010101ULL) >> 56);
}

static size_t sort_distinct_slots(uint32_t *ids, uint32_t *tmp, size_t n)
{
    unsigned b = 8;
    while (((size_t)1 << b) < 8 * n)
        b++;
    const unsigned shift = 32 - b;
    const size_t words = (size_t)1 << (b - 6);
    uint32_t table[1u << SLOT_BITS_MAX];
    uint64_t taken[(1u << SLOT_BITS_MAX) / 64];
    uint32_t late[SLOT_OVERFLOW];
    size_t late_count = 0;
    memset(taken, 0, words * sizeof taken[0]);
    for (size_t i = 0; i < n; i++) {
        uint32_t x = ids[i], s = x >> shift;
        uint64_t bit = (uint64_t)1 << (s & 63);
        if (taken[s >> 6] & bit) {
            if (table[s] != x) {
                if (late_count == SLOT_OVERFLOW) {
                    radix_sort_u32(ids, tmp, n);
                    return drop_repeats(ids, n);
                }
                late[late_count++] = x;
            }
            continue;
        }
        taken[s >> 6] |= bit;
        table[s] = x;
    }
    size_t k = 0;
    for (size_t w = 0; w < words; w++) {
        uint64_t x = taken[w];
        const uint32_t *row = table + w * 64;
        unsigned cnt = bit_count(x);
        if (cnt <= 8 && k + 8 <= n) {
            uint32_t *o = ids + k;
            for (unsigned e = 0; e < 8; e++) {
                o[e] = row[low_bit(x)];
                x &= x - 1;
            }
            k += cnt;
            continue;
        }
        for (; x; x &= x - 1)
            ids[k++] = row[__builtin_ctzll(x)];
    }
    /* the values that found their slot taken, by binary search */
    for (size_t j = 0; j < late_count; j++) {
        uint32_t x = late[j];
        size_t lo = 0, hi = k;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (ids[mid] < x)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo < k && ids[lo] == x)
            continue;
        memmove(ids + lo + 1, ids + lo, (k - lo) * sizeof *ids);
        ids[lo] = x;
        k++;
    }
    return k;
}

/* Each count of a[0..d) and b[0..d) (the counts of the two digits) to the
 * sum of those before it; returns the largest count of b. */
static uint32_t digit_starts_scalar(uint32_t *a, uint32_t *b, unsigned d)
{
    uint32_t sum_a = 0, sum_b = 0, most = 0;
    for (unsigned i = 0; i < d; i++) {
        uint32_t ca = a[i], cb = b[i];
        most = cb > most ? cb : most;
        a[i] = sum_a;
        b[i] = sum_b;
        sum_a += ca;
        sum_b += cb;
    }
    return most;
}

#ifdef ND_SORT_AVX2
/* The sums of x's lanes up to each (inclusive), plus `carry` in every lane */
__attribute__((target("avx2"))) static inline __m256i running_sum8(__m256i x, __m256i carry)
{
    x = _mm256_add_epi32(x, _mm256_slli_si256(x, 4));
    x = _mm256_add_epi32(x, _mm256_slli_si256(x, 8)); /* each half summed up to each lane */
    __m256i low_half = _mm256_permutevar8x32_epi32(x, _mm256_set1_epi32(3));
    x = _mm256_add_epi32(x, _mm256_blend_epi32(_mm256_setzero_si256(), low_half, 0xF0));
    return _mm256_add_epi32(x, carry);
}

/* digit_starts_scalar() eight counts at a time (d a multiple of 8): a
 * loop of 128 dependent steps for the 7-bit digits of a document's few
 * hundred ids cost as much as a pass over the ids */
__attribute__((target("avx2"))) static uint32_t digit_starts_avx2(uint32_t *a, uint32_t *b, unsigned d)
{
    const __m256i last = _mm256_set1_epi32(7);
    __m256i carry_a = _mm256_setzero_si256(), carry_b = _mm256_setzero_si256(), most = _mm256_setzero_si256();
    for (unsigned i = 0; i < d; i += 8) {
        __m256i ca = _mm256_loadu_si256((const __m256i *)(const void *)(a + i));
        __m256i cb = _mm256_loadu_si256((const __m256i *)(const void *)(b + i));
        most = _mm256_max_epu32(most, cb);
        __m256i through_a = running_sum8(ca, carry_a), through_b = running_sum8(cb, carry_b);
        _mm256_storeu_si256((__m256i *)(void *)(a + i), _mm256_sub_epi32(through_a, ca));
        _mm256_storeu_si256((__m256i *)(void *)(b + i), _mm256_sub_epi32(through_b, cb));
        carry_a = _mm256_permutevar8x32_epi32(through_a, last);
        carry_b = _mm256_permutevar8x32_epi32(through_b, last);
    }
    __m128i m = _mm_max_epu32(_mm256_castsi256_si128(most), _mm256_extracti128_si256(most, 1));
    m = _mm_max_epu32(m, _mm_shuffle_epi32(m, 0x4E));
    m = _mm_max_epu32(m, _mm_shuffle_epi32(m, 0xB1));
    return (uint32_t)_mm_cvtsi128_si32(m);
}
#endif

static uint32_t digit_starts(uint32_t *a, uint32_t *b, unsigned d)
{
#ifdef ND_SORT_AVX2
    if (sort_simd >= ND_SORT_SIMD_AVX2 && d % 8 == 0 && __builtin_cpu_supports("avx2"))
        return digit_starts_avx2(a, b, d);
#endif
    return digit_starts_scalar(a, b, d);
}

/* From MEDIUM_SORT to LARGE_SORT values (a document's shingles: a few
 * hundred), an LSD radix sort of the top 2b bits only (two passes of
 * b bits, both counted in one read; 2^2b is 16 to 64 times n, b from 6 to
 * 8), after which values are out of order only where their top 2b bits
 * tie (about n^2 / 2^(2b+1) pairs: a handful), and the insertion pass
 * finishes the sort and drops repeats, its branches almost always taken
 * the same way: the bucket pass below leaves about one value in four out
 * of place, each a mispredicted branch. A top digit shared by more than
 * SKEWED values (skewed input) sends them through the full radix sort
 * instead, so that the insertion pass stays linear. */
enum { MEDIUM_SORT = SLOT_SORT + 1, LARGE_SORT = 16384 };

static size_t sort_distinct_top(uint32_t *ids, uint32_t *tmp, size_t n)
{
    unsigned b = 6;
    while (b < 8 && ((size_t)1 << (2 * b)) < 16 * n)
        b++;
    const unsigned low = 32 - 2 * b, high = 32 - b, mask = (1u << b) - 1;
    uint32_t counts[2][256];
    memset(counts[0], 0, sizeof counts[0][0] << b);
    memset(counts[1], 0, sizeof counts[0][0] << b);
    for (size_t i = 0; i < n; i++) {
        counts[0][(ids[i] >> low) & mask]++;
        counts[1][ids[i] >> high]++;
    }
    uint32_t most = digit_starts(counts[0], counts[1], mask + 1);
    if (most > SKEWED) {
        radix_sort_u32(ids, tmp, n);
        return drop_repeats(ids, n);
    }
    for (size_t i = 0; i < n; i++)
        tmp[counts[0][(ids[i] >> low) & mask]++] = ids[i];
    for (size_t i = 0; i < n; i++)
        ids[counts[1][tmp[i] >> high]++] = tmp[i];
    return insert_distinct_best(ids, ids, n); /* in place: it writes behind where it reads */
}

#ifdef ND_SORT_AVX2
/* From MEDIUM_SORT to WINDOW_SORT values with AVX-512 (a document's
 * shingles): one counting read and one scatter pass put the values in
 * order of their top b bits (2^b buckets, about one or two values each:
 * the ids are hashes), and then sixteen values at a time are sorted in a
 * register by a bitonic network: a window of sixteen starting where a
 * bucket starts holds whole buckets up to the bucket of the value after it,
 * and those (all but the last bucket or two of it) are in their final
 * places once sorted, so they are stored (repeats dropped: equal values
 * share a bucket) and the next window starts after them. No branch
 * depends on the values (the insertion pass mispredicts on every value out
 * of place), and the second scatter pass of sort_distinct_top is gone. A
 * bucket of more than sixteen values (skewed input) would stop the
 * windows: then sort_distinct_top sorts the values instead. */
enum { WINDOW_SORT = 4096, WINDOW_BITS_MIN = 4, WINDOW_BITS_MAX = 11, ODD_EVEN_MOST = 8 };

/* One step of a sorting network: each lane and its partner lane keep
 * their minimum, the lanes of `high` their maximum */
__attribute__((target("avx512f"))) static inline __m512i min_max16(__m512i v, __m512i partner, __mmask16 high)
{
    return _mm512_mask_max_epu32(_mm512_min_epu32(v, partner), high, v, partner);
}

/* The sixteen lanes of v in ascending order: a bitonic network of ten
 * steps (blocks of 2, 4, 8, 16 lanes: each block's halves, sorted, are
 * compared lane i with lane (block - 1 - i), then halved down to pairs) */
__attribute__((target("avx512f"))) static inline __m512i sort16(__m512i v)
{
    const __m512i flip8 = _mm512_setr_epi32(7, 6, 5, 4, 3, 2, 1, 0, 15, 14, 13, 12, 11, 10, 9, 8);
    const __m512i flip16 = _mm512_setr_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
#define ND_SWAP1(x) _mm512_shuffle_epi32((x), (_MM_PERM_ENUM)0xB1) /* lane i ^ 1 */
#define ND_SWAP2(x) _mm512_shuffle_epi32((x), (_MM_PERM_ENUM)0x4E) /* lane i ^ 2 */
    v = min_max16(v, ND_SWAP1(v), 0xAAAA);
    v = min_max16(v, _mm512_shuffle_epi32(v, (_MM_PERM_ENUM)0x1B), 0xCCCC); /* i ^ 3 */
    v = min_max16(v, ND_SWAP1(v), 0xAAAA);
    v = min_max16(v, _mm512_permutexvar_epi32(flip8, v), 0xF0F0); /* i ^ 7 */
    v = min_max16(v, ND_SWAP2(v), 0xCCCC);
    v = min_max16(v, ND_SWAP1(v), 0xAAAA);
    v = min_max16(v, _mm512_permutexvar_epi32(flip16, v), 0xFF00);                 /* i ^ 15 */
    v = min_max16(v, _mm512_shuffle_i32x4(v, v, _MM_SHUFFLE(2, 3, 0, 1)), 0xF0F0); /* i ^ 4 */
    v = min_max16(v, ND_SWAP2(v), 0xCCCC);
    v = min_max16(v, ND_SWAP1(v), 0xAAAA);
#undef ND_SWAP1
#undef ND_SWAP2
    return v;
}

/* The sixteen lanes of v with every run of lanes from one bucket (at most
 * `rounds` lanes long, rounds even) in ascending order: odd-even
 * transposition, each lane compared with its right neighbour and then
 * with its left one, rounds / 2 times (a run of k lanes is sorted after k
 * steps, whichever kind comes first; lanes of different buckets are in
 * order already and stay so). With the ids' top bits in 2^b >= n / 2
 * buckets, the largest bucket of a document's few hundred ids holds 4 to
 * 6: the network's ten steps cost more. */
__attribute__((target("avx512f"))) static inline __m512i sort_runs16(__m512i v, unsigned rounds)
{
    const __m512i odd = _mm512_setr_epi32(0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 15);
    for (unsigned r = 0; r < rounds; r += 2) {
        v = min_max16(v, _mm512_shuffle_epi32(v, (_MM_PERM_ENUM)0xB1), 0xAAAA); /* 0-1, 2-3, ... */
        v = min_max16(v, _mm512_permutexvar_epi32(odd, v), 0x5554);             /* 1-2, 3-4, ... */
    }
    return v;
}

/* Store the first `take` lanes of the sorted v at out, repeats dropped
 * (a repeat is next to its like; the lane before lane 0 is of an earlier
 * bucket); returns how many were stored. */
__attribute__((target("avx512f,popcnt"))) static inline unsigned store_distinct16(uint32_t *out, __m512i v,
                                                                                  __mmask16 take)
{
    __mmask16 keep = (__mmask16)((_mm512_cmpneq_epu32_mask(v, _mm512_alignr_epi32(v, v, 15)) | 1) & take);
    unsigned kept = (unsigned)__builtin_popcount(keep);
    _mm512_mask_storeu_epi32(out, (__mmask16)((1u << kept) - 1), _mm512_maskz_compress_epi32(keep, v));
    return kept;
}

/* Sort ids[0..n) (MEDIUM_SORT <= n <= WINDOW_SORT) and drop repeats;
 * returns the count, or SIZE_MAX with ids as they were when a bucket holds
 * more than sixteen values. */
__attribute__((target("avx512f,popcnt"))) static size_t sort_distinct_windows(uint32_t *ids, uint32_t *tmp, size_t n)
{
    unsigned b = WINDOW_BITS_MIN;
    while (b < WINDOW_BITS_MAX && ((size_t)2 << b) < n)
        b++; /* 2^b >= n / 2 */
    const unsigned shift = 32 - b;
    const size_t buckets = (size_t)1 << b;
    uint32_t starts[1u << WINDOW_BITS_MAX] __attribute__((aligned(64)));
    memset(starts, 0, buckets * sizeof starts[0]);
    for (size_t i = 0; i < n; i++)
        starts[ids[i] >> shift]++;
    /* each count to the sum of those before it, sixteen at a time */
    const __m512i zero = _mm512_setzero_si512(), last = _mm512_set1_epi32(15);
    __m512i carry = zero, most = zero;
    for (size_t d = 0; d < buckets; d += 16) {
        __m512i c = _mm512_load_si512((const void *)(starts + d)), x = c;
        most = _mm512_max_epu32(most, c);
        x = _mm512_add_epi32(x, _mm512_alignr_epi32(x, zero, 15)); /* lane i + lane i - 1 */
        x = _mm512_add_epi32(x, _mm512_alignr_epi32(x, zero, 14));
        x = _mm512_add_epi32(x, _mm512_alignr_epi32(x, zero, 12));
        x = _mm512_add_epi32(x, _mm512_alignr_epi32(x, zero, 8));
        x = _mm512_add_epi32(x, carry);
        _mm512_store_si512((void *)(starts + d), _mm512_sub_epi32(x, c));
        carry = _mm512_permutexvar_epi32(last, x);
    }
    const unsigned largest = _mm512_reduce_max_epu32(most);
    if (largest > 16)
        return SIZE_MAX; /* the caller sorts them (one call of sort_distinct_top: inlined) */
    const unsigned rounds = largest <= ODD_EVEN_MOST ? (largest + 1) & ~1u : 0; /* 0: the network */
    for (size_t i = 0; i < n; i++)
        tmp[starts[ids[i] >> shift]++] = ids[i];
    /* the windows: tmp is read only, ids written behind; each window
     * holds at least its first bucket whole (sixteen values at most) */
    const uint32_t bucket_mask = ~(uint32_t)0 << shift;
    size_t p = 0, w = 0;
    while (n - p > 16) {
        __m512i v = _mm512_loadu_si512((const void *)(tmp + p));
        /* the lanes of buckets before the next value's */
        __mmask16 whole = _mm512_cmplt_epu32_mask(v, _mm512_set1_epi32((int)(tmp[p + 16] & bucket_mask)));
        w += store_distinct16(ids + w, rounds ? sort_runs16(v, rounds) : sort16(v), whole);
        p += (unsigned)__builtin_popcount(whole);
    }
    /* the last 1 to 16 values, padded with the largest value (a bucket of
     * its own: in order after the others) */
    __mmask16 rest = (__mmask16)((1u << (n - p)) - 1);
    __m512i v = _mm512_mask_loadu_epi32(_mm512_set1_epi32(-1), rest, (const void *)(tmp + p));
    w += store_distinct16(ids + w, rounds ? sort_runs16(v, rounds) : sort16(v), rest);
    return w;
}
#endif

/* Past LARGE_SORT values: up to 2^12 buckets, eight per value at n =
 * 32768; past that the four radix passes are cheaper than the
 * bucket table. When every bucket is short (the usual case: about two
 * values each), one insertion pass over the bucketed values sorts them and
 * drops repeats; a bucket longer than SKEWED (skewed input) sends
 * the values through a radix sort instead. */
size_t nd_sort_distinct_u32(uint32_t *ids, uint32_t *tmp, size_t n)
{
    if (n <= SMALL_SORT) {
        memcpy(tmp, ids, n * sizeof *ids);
        return insert_distinct(ids, tmp, n);
    }
    if (n <= SLOT_SORT)
        return sort_distinct_slots(ids, tmp, n);
#ifdef ND_SORT_AVX2
    if (n >= MEDIUM_SORT && n <= WINDOW_SORT && sort_simd >= ND_SORT_SIMD_AVX512 && __builtin_cpu_supports("avx512f")) {
        size_t count = sort_distinct_windows(ids, tmp, n);
        if (count != SIZE_MAX)
            return count;
    }
#endif
    if (n >= MEDIUM_SORT && n <= LARGE_SORT)
        return sort_distinct_top(ids, tmp, n);
    unsigned bits = 1;
    while (bits < BUCKET_BITS_MAX && ((size_t)2 << bits) < n)
        bits++;
    if (((size_t)8 << bits) < n) {
        radix_sort_u32(ids, tmp, n);
        return drop_repeats(ids, n);
    }
    uint32_t starts[(1u << BUCKET_BITS_MAX) + 1];
    size_t buckets = (size_t)1 << bits;
    unsigned shift = 32 - bits;
    memset(starts, 0, (buckets + 1) * sizeof starts[0]);
    int skewed = 0;
    for (size_t i = 0; i < n; i++)
        skewed |= ++starts[(ids[i] >> shift) + 1] > SKEWED;
    if (skewed) {
        radix_sort_u32(ids, tmp, n);
        return drop_repeats(ids, n);
    }
    for (size_t d = 1; d <= buckets; d++)
        starts[d] += starts[d - 1];
    /* bucket d is tmp[starts[d], starts[d + 1]) */
    for (size_t i = 0; i < n; i++)
        tmp[starts[ids[i] >> shift]++] = ids[i];
    return insert_distinct(ids, tmp, n);
}

/* By bits 32..63: an LSD radix sort of three stable passes of 11, 11 and
 * 10 bits, the three counts taken in one read of the values (LSH bands
 * sort every text's key once per band: four passes of 8 bits, each with
 * its own counting read, were a fifth of clustering in paragraph mode).
 * 3 x 2048 counters of 32 bits: 24 KB of stack. A pass where every value
 * has the same digit is skipped. */
enum { HIGH_DIGIT_BITS = 11, HIGH_DIGITS = 1 << HIGH_DIGIT_BITS };

void nd_sort_u64_high32(uint64_t *values, uint64_t *tmp, size_t n)
{
    if (n < ND_RADIX_SMALL) { /* by insertion (stable): no 24 KB of counts to clear */
        radix_sort_high32(values, tmp, n);
        return;
    }
    if (n > UINT32_MAX) {
        radix_sort_high32(values, tmp, n);
        return;
    }
    uint32_t counts[3][HIGH_DIGITS];
    memset(counts, 0, sizeof counts);
    for (size_t i = 0; i < n; i++) {
        uint32_t key = (uint32_t)(values[i] >> 32);
        counts[0][key & (HIGH_DIGITS - 1)]++;
        counts[1][(key >> HIGH_DIGIT_BITS) & (HIGH_DIGITS - 1)]++;
        counts[2][key >> (2 * HIGH_DIGIT_BITS)]++;
    }
    uint64_t *from = values, *to = tmp;
    for (unsigned pass = 0; pass < 3; pass++) {
        unsigned shift = 32 + pass * HIGH_DIGIT_BITS;
        uint32_t *c = counts[pass];
        if (c[(from[0] >> shift) & (HIGH_DIGITS - 1)] == n)
            continue; /* every value has this digit */
        uint32_t sum = 0;
        for (unsigned d = 0; d < HIGH_DIGITS; d++) {
            uint32_t x = c[d];
            c[d] = sum;
            sum += x;
        }
        for (size_t i = 0; i < n; i++)
            to[c[(from[i] >> shift) & (HIGH_DIGITS - 1)]++] = from[i];
        uint64_t *swap = from;
        from = to;
        to = swap;
    }
    if (from != values)
        memcpy(values, from, n * sizeof *values);
}
