/* alloc.c - the allocation seam (see alloc.h), with a fail-after-N test hook. */
#define _DEFAULT_SOURCE 1 /* MADV_HUGEPAGE (a Linux extension) under -std=c11 */
#include "alloc.h"

#include <stdatomic.h> /* atomic_size_t */
#include <stdint.h>    /* SIZE_MAX */
#include <stdlib.h>    /* malloc, calloc, realloc, free, posix_memalign */
#include <string.h>    /* memcpy */
#include <sys/mman.h>  /* madvise */

/* Atomic, so that a test can fail allocations while worker threads run
 * (threaded clustering); outside tests it stays SIZE_MAX and costs one
 * relaxed load. */
static atomic_size_t allocations_left = SIZE_MAX;

void nd_alloc_fail_after(size_t n)
{
    atomic_store(&allocations_left, n);
}

static int allocation_allowed(void)
{
    size_t left = atomic_load_explicit(&allocations_left, memory_order_relaxed);
    while (left != SIZE_MAX) {
        if (left == 0)
            return 0;
        if (atomic_compare_exchange_weak_explicit(&allocations_left, &left, left - 1, memory_order_relaxed,
                                                  memory_order_relaxed))
            return 1;
    }
    return 1;
}

void *nd_malloc(size_t size)
{
    return allocation_allowed() ? malloc(size ? size : 1) : NULL;
}

void *nd_calloc(size_t count, size_t size)
{
    return allocation_allowed() ? calloc(count ? count : 1, size ? size : 1) : NULL;
}

void *nd_realloc(void *ptr, size_t size)
{
    return allocation_allowed() ? realloc(ptr, size ? size : 1) : NULL;
}

void nd_free(void *ptr)
{
    free(ptr);
}

int nd_grow(void **ptr, size_t *capacity, size_t needed, size_t elem_size)
{
    if (needed <= *capacity)
        return 0;
    size_t new_capacity = *capacity ? *capacity : 16;
    while (new_capacity < needed) {
        if (new_capacity > SIZE_MAX / 2 / elem_size)
            return -1;
        new_capacity *= 2;
    }
    void *grown = nd_realloc(*ptr, new_capacity * elem_size);
    if (!grown)
        return -1;
    *ptr = grown;
    *capacity = new_capacity;
    return 0;
}

/* Transparent huge pages are 2 MiB on x86-64 and arm64 (4 KiB base pages). */
#define HUGE_PAGE ((size_t)2 << 20)

void *nd_malloc_huge(size_t size)
{
#ifdef MADV_HUGEPAGE
    if (size >= HUGE_PAGE) {
        /* whole huge pages: a partial one at the end would be 4 KiB pages */
        size_t whole = size + (HUGE_PAGE - 1) < size ? size : (size + (HUGE_PAGE - 1)) & ~(HUGE_PAGE - 1);
        void *p = NULL;
        if (!allocation_allowed() || posix_memalign(&p, HUGE_PAGE, whole) != 0)
            return NULL;
        (void)madvise(p, whole, MADV_HUGEPAGE); /* only advice: the same memory either way */
        return p;
    }
#endif
    return nd_malloc(size);
}

int nd_grow_huge(void **ptr, size_t *capacity, size_t needed, size_t elem_size)
{
    if (needed <= *capacity)
        return 0;
    size_t new_capacity = *capacity ? *capacity : 16;
    while (new_capacity < needed) {
        if (new_capacity > SIZE_MAX / 2 / elem_size)
            return -1;
        new_capacity *= 2;
    }
    if (new_capacity * elem_size < HUGE_PAGE)
        return nd_grow(ptr, capacity, needed, elem_size);
    /* a new aligned block and a copy: realloc would move a large block with
     * mremap, to an address that is not aligned */
    void *grown = nd_malloc_huge(new_capacity * elem_size);
    if (!grown)
        return -1;
    if (*capacity)
        memcpy(grown, *ptr, *capacity * elem_size);
    nd_free(*ptr);
    *ptr = grown;
    *capacity = new_capacity;
    return 0;
}
