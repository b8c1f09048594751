/* alloc.h - the library's one allocation seam.
 *
 * Every allocation in src/ goes through these four calls, so a test can make
 * the N-th allocation fail (nd_alloc_fail_after) and check that each public
 * function then returns ND_ENOMEM, leaks nothing and leaves its objects
 * usable. Outside tests they are plain malloc/calloc/realloc/free.
 */
#ifndef ND_ALLOC_H
#define ND_ALLOC_H

#include <stddef.h> /* size_t */

void *nd_malloc(size_t size);
void *nd_calloc(size_t count, size_t size);
void *nd_realloc(void *ptr, size_t size);
void nd_free(void *ptr);

/* Grow *ptr (an array of *capacity elements of elem_size bytes) so that it
 * holds at least `needed` elements; doubles, so appends are amortized O(1).
 * Returns 0, or -1 with *ptr and *capacity unchanged. */
int nd_grow(void **ptr, size_t *capacity, size_t needed, size_t elem_size);

/* Ask the kernel to back the 2 MiB-aligned pages inside p[0..size) with
 * transparent huge pages (madvise MADV_HUGEPAGE; nothing where it has no
 * such call). For large buffers filled as they go: one page fault per
 * 2 MiB instead of per 4 KiB. Only advice: the memory and its contents
 * are the same either way. */
void nd_advise_huge(void *p, size_t size);

/* A large buffer the caller touches whole, or nearly (a table of hashed
 * slots, a sort's entries and scratch): from 2 MiB on, 2 MiB-aligned and
 * advised huge (nd_advise_huge), so that its fresh pages cost a fault per
 * 2 MiB, not per 4 KiB (a fault is tens of microseconds on some virtual
 * machines: a 2 MiB table took 512 of them); smaller, nd_malloc's. The
 * contents are undefined, as nd_malloc's; free it with nd_free. */
void *nd_malloc_huge(size_t size);

/* Test hook: the next `n` allocations succeed and every later one fails,
 * until nd_alloc_fail_after((size_t)-1) (the default) restores normal
 * behaviour. The count is atomic: allocations on any thread count. */
void nd_alloc_fail_after(size_t n);

#endif /* ND_ALLOC_H */
