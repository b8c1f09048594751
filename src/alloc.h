/* alloc.h - the library's one allocation seam.
 *
 * Every allocation in src/ goes through these calls, so a test can make
 * the N-th allocation fail (nd_alloc_fail_after) and check that each public
 * function then returns ND_ENOMEM, leaks nothing and leaves its objects
 * usable. Outside tests they are plain malloc/calloc/realloc/free (and
 * posix_memalign for nd_malloc_huge).
 */
#ifndef ND_ALLOC_H
#define ND_ALLOC_H

#include <stddef.h> /* size_t */

/* Transparent huge pages are 2 MiB on x86-64 and arm64 (4 KiB base
 * pages): the unit nd_malloc_huge below aligns and rounds to, and where
 * the CLI advises its heap from (src/cli/hugeheap.c). */
#define ND_HUGE_PAGE ((size_t)2 << 20)

void *nd_malloc(size_t size);
void *nd_calloc(size_t count, size_t size);
void *nd_realloc(void *ptr, size_t size);
void nd_free(void *ptr);

/* Grow *ptr (an array of *capacity elements of elem_size bytes) so that it
 * holds at least `needed` elements; doubles, so appends are amortized O(1).
 * Returns 0, or -1 with *ptr and *capacity unchanged. */
int nd_grow(void **ptr, size_t *capacity, size_t needed, size_t elem_size);

/* Large arrays that are filled (or touched whole), in memory of their own
 * backed by transparent huge pages: nd_malloc_huge gives `size` bytes
 * aligned to 2 MiB and advised so (madvise MADV_HUGEPAGE) when size is
 * 512 KiB or more (rounded up to whole 2 MiB pages), else plain nd_malloc;
 * nd_calloc_huge the same, zeroed; nd_grow_huge grows as nd_grow does,
 * into such memory once the array reaches 512 KiB (a new aligned block, the
 * old pages moved there with mremap, or copied). Such blocks are freed
 * with nd_free (never free(): they are mappings of their own, alloc.c),
 * and nd_realloc takes them; the contents are undefined, as nd_malloc's.
 * Why: touching fresh memory costs a page fault per page, and on a
 * virtual machine a 4 KiB fault was measured at 17-21 us (a paragraph run
 * at 100k syndicated documents took 30k of them); a huge page costs one
 * fault per 2 MiB (0.5-4 us per 4 KiB), and TLB misses fall too. The
 * price: a partly used 2 MiB page is zeroed and resident whole, so only
 * arrays that are filled (or touched all over) belong there. Only advice: where
 * the kernel has no huge pages (or THP is off) the memory is ordinary
 * pages, the same contents either way.
 * nd_malloc and nd_calloc of 2 MiB or more give such blocks too (a
 * partly used last page is the most they waste there): left to the C
 * library, a block that large came from its heap in 4 KiB pages wherever
 * the process had freed large blocks before (glibc then raises its mmap
 * threshold up to 32 MiB), as a Python interpreter has: neardup.scan of
 * SaudiNewsNet's 31,030 texts took 1.33x the program's time that way and
 * 0.77x in huge blocks (scripts/bench-python, RESULTS.md). */
void *nd_malloc_huge(size_t size);
void *nd_calloc_huge(size_t size);
/* A large array of which only scattered parts are touched while it is
 * young: a block of its own, as nd_malloc_huge gives (aligned, freed with
 * nd_free, taken by nd_realloc and nd_grow_huge), but left in ordinary
 * 4 KiB pages, so that each part touched costs a small page instead of
 * a whole 2 MiB one. The index's first key chunk: 16 bands of 256 KiB
 * each, of which a small input touches the first lines (two huge pages,
 * 4 MiB zeroed, for one text), until it moves to huge pages (index.c). */
void *nd_malloc_sparse(size_t size);

/* Zeroed memory that shares no cache line with any other allocation:
 * aligned to 64 bytes, its size rounded up to a multiple of 64. For what
 * one thread writes all the time while others work beside it (a
 * sketcher, its signature, a worker's counters): made one after the other
 * on one thread, two such objects shared a line wherever the heap's
 * layout put them together, and every write on either core took the line
 * from the other (cli/pipeline.c). Freed with nd_free. */
void *nd_calloc_lines(size_t size);
int nd_grow_huge(void **ptr, size_t *capacity, size_t needed, size_t elem_size);

/* Test hook: the next `n` allocations succeed and every later one fails,
 * until nd_alloc_fail_after((size_t)-1) (the default) restores normal
 * behaviour. The count is atomic: allocations on any thread count. */
void nd_alloc_fail_after(size_t n);

#endif /* ND_ALLOC_H */
