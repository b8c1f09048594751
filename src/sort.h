/* sort.h - sorting 32-bit hash values (see sort.c). Internal to the library. */
#ifndef ND_SORT_H
#define ND_SORT_H

#include <stddef.h> /* size_t */
#include <stdint.h> /* uint32_t */

/* Sort ids[0..n) ascending, using tmp[0..n) as scratch (not overlapping
 * ids). Fastest when the values are spread evenly, as hash values are. */
void nd_sort_u32(uint32_t *ids, uint32_t *tmp, size_t n);

#endif
