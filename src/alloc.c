/* alloc.c - the allocation seam (see alloc.h), with a fail-after-N test hook. */
#define _DEFAULT_SOURCE 1 /* MADV_HUGEPAGE (a Linux extension) under -std=c11 */
#include "alloc.h"

#include <stdatomic.h> /* atomic_size_t */
#include <stdint.h>    /* SIZE_MAX */
#include <stdlib.h>    /* malloc, calloc, realloc, aligned_alloc, free */
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

void *nd_malloc_huge(size_t size)
{
    const size_t huge = (size_t)2 << 20;
    if (size < huge || size > SIZE_MAX - huge)
        return nd_malloc(size);
    if (!allocation_allowed())
        return NULL;
    size_t whole = (size + huge - 1) & ~(huge - 1); /* aligned_alloc: a multiple of the alignment */
    void *p = aligned_alloc(huge, whole);
    nd_advise_huge(p, whole);
    return p;
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

void nd_advise_huge(void *p, size_t size)
{
#ifdef MADV_HUGEPAGE
    const uintptr_t huge = (uintptr_t)2 << 20;
    uintptr_t start = ((uintptr_t)p + huge - 1) & ~(huge - 1);
    uintptr_t end = ((uintptr_t)p + size) & ~(huge - 1);
    if (p && end > start)
        (void)madvise((void *)start, end - start, MADV_HUGEPAGE);
#else
    (void)p;
    (void)size;
#endif
}
