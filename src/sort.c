/* sort.c - sorting arrays of 32-bit hash values (shingle ids), and
 * 64-bit entries by their upper half (LSH band keys with a text number).
 *
 * Every sketch sorts its shingle ids (a few hundred for a typical document,
 * a few dozen for a paragraph), so this sort is on the hot path.
 * Comparison sorts pay a mispredicted branch per comparison; an LSD radix
 * sort (four passes of 8 bits) is linear but for a few hundred ids its cost
 * is mostly clearing and summing its 4 x 256 counters. Because the values
 * are hashes, a bucket sort on the top b bits with about as many buckets as
 * values leaves about one value per bucket, and insertion sort finishes
 * each bucket almost for free: expected O(n). Skewed input (a hostile text
 * whose ids share their top bits) only makes some buckets large; those are
 * radix sorted, so the worst case stays O(n) too.
 */
#include "sort.h"

#include <string.h> /* memcpy, memset */

static void insertion_sort_u32(uint32_t *ids, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        uint32_t x = ids[i];
        size_t j = i;
        while (j > 0 && ids[j - 1] > x) {
            ids[j] = ids[j - 1];
            j--;
        }
        ids[j] = x;
    }
}

#define SELF(x) (x)
/* radix_sort_u32(ids, tmp, n): four passes of 8 bits */
ND_DEFINE_RADIX_SORT(radix_sort_u32, uint32_t, SELF, 0, 24)

enum { BUCKET_BITS_MAX = 12, SMALL_SORT = 24 };

/* Up to 2^12 buckets, one per value when n <= 4096 and four per value at
 * n = 16384; past that the four radix passes are cheaper than the bucket
 * table. A bucket longer than 4 * SMALL_SORT is radix sorted. */
void nd_sort_u32(uint32_t *ids, uint32_t *tmp, size_t n)
{
    if (n <= SMALL_SORT) {
        insertion_sort_u32(ids, n);
        return;
    }
    unsigned bits = 1;
    while (bits < BUCKET_BITS_MAX && ((size_t)1 << bits) < n)
        bits++;
    if (((size_t)4 << bits) < n) {
        radix_sort_u32(ids, tmp, n);
        return;
    }
    uint32_t starts[(1u << BUCKET_BITS_MAX) + 1];
    size_t buckets = (size_t)1 << bits;
    unsigned shift = 32 - bits;
    memset(starts, 0, (buckets + 1) * sizeof starts[0]);
    for (size_t i = 0; i < n; i++)
        starts[(ids[i] >> shift) + 1]++;
    for (size_t d = 1; d <= buckets; d++)
        starts[d] += starts[d - 1];
    /* bucket d is tmp[starts[d], starts[d + 1]) */
    uint32_t fill[1u << BUCKET_BITS_MAX];
    memcpy(fill, starts, buckets * sizeof fill[0]);
    for (size_t i = 0; i < n; i++)
        tmp[fill[ids[i] >> shift]++] = ids[i];
    for (size_t d = 0; d < buckets; d++) {
        uint32_t *b = tmp + starts[d];
        size_t len = starts[d + 1] - starts[d];
        if (len > 4 * SMALL_SORT)
            radix_sort_u32(b, ids + starts[d], len);
        else
            insertion_sort_u32(b, len);
    }
    memcpy(ids, tmp, n * sizeof *ids);
}

/* bits 32..63: four stable passes of 8 bits */
ND_DEFINE_RADIX_SORT(radix_sort_high32, uint64_t, SELF, 32, 56)

void nd_sort_u64_high32(uint64_t *values, uint64_t *tmp, size_t n)
{
    radix_sort_high32(values, tmp, n);
}
