/* sort.h - sorting hash values and hash-keyed entries (see sort.c). Internal
 * to the library. */
#ifndef ND_SORT_H
#define ND_SORT_H

#include <stddef.h> /* size_t */
#include <stdint.h> /* uint32_t, uint64_t */
#include <string.h> /* memcpy (ND_DEFINE_RADIX_SORT) */

/* Sort ids[0..n) ascending and drop repeats, using tmp[0..n) as scratch
 * (not overlapping ids); returns the number of distinct values, now in
 * ids[0..count). Fastest when the values are spread evenly, as hash values
 * are. */
size_t nd_sort_distinct_u32(uint32_t *ids, uint32_t *tmp, size_t n);

/* The widest SIMD nd_sort_distinct_u32 may use (each where the CPU has
 * it; AVX-512 is the default). For tests. */
enum { ND_SORT_SIMD_NONE = 0, ND_SORT_SIMD_AVX2 = 1, ND_SORT_SIMD_AVX512 = 2 };
void nd_sort_set_simd(int level);

/* Sort values[0..n) by their upper 32 bits only, stably (values with the
 * same upper half keep their order), using tmp[0..n) as scratch. Used for
 * (key << 32 | index) entries that must stay in index order within a key. */
void nd_sort_u64_high32(uint64_t *values, uint64_t *tmp, size_t n);

/* ND_DEFINE_RADIX_SORT(NAME, T, KEY, FIRST, LAST) defines
 *   static void NAME(T *values, T *tmp, size_t n)
 * an LSD radix sort of values[0..n) by the bits FIRST .. LAST + 7 of the
 * 64-bit KEY(value), 8 bits a pass, through tmp[0..n); every pass's counts
 * are taken in one read of the values (a permutation leaves them as they
 * are), passes where every value has the same byte are skipped, and the
 * result ends in `values`. Stable, so equal keys keep their input order.
 * Fewer than ND_RADIX_SMALL values are sorted by insertion on the same
 * bits instead (the counts alone are 2 KB a pass to clear: a query of one
 * document sorted its 16 probes and its pairs so, 90,000 times in a
 * dedup --index run). One definition for the element types that are radix
 * sorted (shingle ids, (key | text) entries, (set hash, text) pairs, ...). */
enum { ND_RADIX_SMALL = 48 };

/* Bits first .. last + 7 of key, as ND_DEFINE_RADIX_SORT orders by them. */
static inline uint64_t nd_radix_bits(uint64_t key, unsigned first, unsigned last)
{
    unsigned width = last + 8 - first;
    return width >= 64 - first ? key >> first : key >> first & (((uint64_t)1 << width) - 1);
}

#define ND_DEFINE_RADIX_SORT(NAME, T, KEY, FIRST, LAST)                                                \
    static void NAME(T *values, T *tmp, size_t n)                                                      \
    {                                                                                                  \
        enum { PASSES_ = ((LAST) - (FIRST)) / 8 + 1 };                                                 \
        if (n < ND_RADIX_SMALL) { /* by insertion: stable too */                                       \
            for (size_t i_ = 1; i_ < n; i_++) {                                                        \
                T v_ = values[i_];                                                                     \
                uint64_t k_ = nd_radix_bits((uint64_t)KEY(v_), FIRST, LAST);                           \
                size_t j_ = i_;                                                                        \
                for (; j_ > 0 && nd_radix_bits((uint64_t)KEY(values[j_ - 1]), FIRST, LAST) > k_; j_--) \
                    values[j_] = values[j_ - 1];                                                       \
                values[j_] = v_;                                                                       \
            }                                                                                          \
            (void)tmp;                                                                                 \
            return;                                                                                    \
        }                                                                                              \
        size_t counts[PASSES_][256];                                                                   \
        memset(counts, 0, sizeof counts);                                                              \
        for (size_t i = 0; i < n; i++) {                                                               \
            uint64_t key_ = (uint64_t)KEY(values[i]);                                                  \
            for (unsigned p_ = 0; p_ < PASSES_; p_++)                                                  \
                counts[p_][(key_ >> ((FIRST) + 8 * p_)) & 0xFF]++;                                     \
        }                                                                                              \
        T *from = values, *to = tmp;                                                                   \
        for (unsigned p_ = 0; p_ < PASSES_; p_++) {                                                    \
            unsigned shift = (FIRST) + 8 * p_;                                                         \
            size_t *c_ = counts[p_];                                                                   \
            if (n == 0 || c_[((uint64_t)KEY(from[0]) >> shift) & 0xFF] == n)                           \
                continue; /* every value has this byte: nothing to do */                               \
            size_t sum = 0;                                                                            \
            for (unsigned d = 0; d < 256; d++) {                                                       \
                size_t c = c_[d];                                                                      \
                c_[d] = sum;                                                                           \
                sum += c;                                                                              \
            }                                                                                          \
            for (size_t i = 0; i < n; i++)                                                             \
                to[c_[((uint64_t)KEY(from[i]) >> shift) & 0xFF]++] = from[i];                          \
            T *swap = from;                                                                            \
            from = to;                                                                                 \
            to = swap;                                                                                 \
        }                                                                                              \
        if (from != values)                                                                            \
            memcpy(values, from, n * sizeof *values);                                                  \
    }

#endif
