/* sort.h - sorting hash values and hash-keyed entries (see sort.c). Internal
 * to the library. */
#ifndef ND_SORT_H
#define ND_SORT_H

#include <stddef.h> /* size_t */
#include <stdint.h> /* uint32_t, uint64_t */

/* Sort ids[0..n) ascending, using tmp[0..n) as scratch (not overlapping
 * ids). Fastest when the values are spread evenly, as hash values are. */
void nd_sort_u32(uint32_t *ids, uint32_t *tmp, size_t n);

/* Sort values[0..n) by their upper 32 bits only, stably (values with the
 * same upper half keep their order), using tmp[0..n) as scratch. Used for
 * (key << 32 | index) entries that must stay in index order within a key. */
void nd_sort_u64_high32(uint64_t *values, uint64_t *tmp, size_t n);

#endif
