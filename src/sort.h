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

/* The digits the sort of n values from 49 to 16384 counts (the top 2b
 * bits, b from 6 to 8, in two digits), so that whoever makes the values
 * can count them as it goes and spare the sort its counting read:
 *   nd_sort_counts sc;
 *   if (nd_sort_counts_start(&sc, n)) {
 *       const nd_sort_digits digits = sc.digits;  (a copy: kept in registers)
 *       ... for each value made: nd_sort_count(&sc, digits, value);
 *       count = nd_sort_distinct_counted(ids, tmp, n, &sc);
 *   } else
 *       count = nd_sort_distinct_u32(ids, tmp, n);
 * with the same result as nd_sort_distinct_u32. nd_sort_counts_start
 * returns 0 (nothing to count) when n is outside that range. */
typedef struct {
    unsigned low, high, mask; /* digit 0: (v >> low) & mask; digit 1: v >> high */
} nd_sort_digits;
typedef struct {
    nd_sort_digits digits;
    uint32_t counts[2][256];
} nd_sort_counts;
int nd_sort_counts_start(nd_sort_counts *sc, size_t n);
static inline void nd_sort_count(nd_sort_counts *sc, nd_sort_digits digits, uint32_t value)
{
    sc->counts[0][(value >> digits.low) & digits.mask]++;
    sc->counts[1][value >> digits.high]++;
}
size_t nd_sort_distinct_counted(uint32_t *ids, uint32_t *tmp, size_t n, nd_sort_counts *sc);

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
 * One definition for the element types that are radix sorted (shingle ids,
 * (key | text) entries, (set hash, text) pairs, ...). */
#define ND_DEFINE_RADIX_SORT(NAME, T, KEY, FIRST, LAST)                       \
    static void NAME(T *values, T *tmp, size_t n)                             \
    {                                                                         \
        enum { PASSES_ = ((LAST) - (FIRST)) / 8 + 1 };                        \
        size_t counts[PASSES_][256];                                          \
        memset(counts, 0, sizeof counts);                                     \
        for (size_t i = 0; i < n; i++) {                                      \
            uint64_t key_ = (uint64_t)KEY(values[i]);                         \
            for (unsigned p_ = 0; p_ < PASSES_; p_++)                         \
                counts[p_][(key_ >> ((FIRST) + 8 * p_)) & 0xFF]++;            \
        }                                                                     \
        T *from = values, *to = tmp;                                          \
        for (unsigned p_ = 0; p_ < PASSES_; p_++) {                           \
            unsigned shift = (FIRST) + 8 * p_;                                \
            size_t *c_ = counts[p_];                                          \
            if (n == 0 || c_[((uint64_t)KEY(from[0]) >> shift) & 0xFF] == n)  \
                continue; /* every value has this byte: nothing to do */      \
            size_t sum = 0;                                                   \
            for (unsigned d = 0; d < 256; d++) {                              \
                size_t c = c_[d];                                             \
                c_[d] = sum;                                                  \
                sum += c;                                                     \
            }                                                                 \
            for (size_t i = 0; i < n; i++)                                    \
                to[c_[((uint64_t)KEY(from[i]) >> shift) & 0xFF]++] = from[i]; \
            T *swap = from;                                                   \
            from = to;                                                        \
            to = swap;                                                        \
        }                                                                     \
        if (from != values)                                                   \
            memcpy(values, from, n * sizeof *values);                         \
    }

#endif
