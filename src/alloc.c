/* alloc.c - the allocation seam (see alloc.h), with a fail-after-N test hook.
 *
 * Huge blocks (nd_malloc_huge) are mappings of their own, 2 MiB-aligned
 * and advised as transparent huge pages, listed in a small table so that
 * nd_free and nd_realloc know them (only a pointer aligned to 2 MiB is
 * looked up). Not posix_memalign: freeing a block that glibc mapped raises
 * glibc's mmap threshold to its size, after which blocks of up to that
 * size come from the heap and stay resident once freed (a paragraph run at
 * 100k syndicated documents peaked 28 MB higher). Under AddressSanitizer
 * they are posix_memalign'd instead, so that its checks and leak report
 * cover them.
 */
#define _GNU_SOURCE 1 /* MADV_HUGEPAGE, MAP_ANONYMOUS, mremap (Linux extensions) under -std=c11 */
#include "alloc.h"

#include <pthread.h>   /* pthread_mutex_t */
#include <stdatomic.h> /* atomic_size_t */
#include <stdint.h>    /* SIZE_MAX, uintptr_t */
#include <stdlib.h>    /* malloc, calloc, realloc, free, posix_memalign */
#include <string.h>    /* memcpy, memset */
#include <sys/mman.h>  /* mmap, mremap, munmap, madvise */

#if defined(__SANITIZE_ADDRESS__)
#define ND_ALLOC_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ND_ALLOC_ASAN 1
#endif
#endif
#if defined(MADV_HUGEPAGE) && defined(MAP_ANONYMOUS) && defined(MREMAP_FIXED) && !defined(ND_ALLOC_ASAN)
#define ND_ALLOC_MAPPED 1 /* huge blocks are mappings of their own */
#endif

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

#define HUGE_PAGE ND_HUGE_PAGE /* (alloc.h) */

/* nd_malloc and nd_calloc of this much or more give huge blocks (alloc.h). */
#define LARGE_BLOCK HUGE_PAGE

static void *plain_malloc(size_t size)
{
    return allocation_allowed() ? malloc(size ? size : 1) : NULL;
}

void *nd_malloc(size_t size)
{
#ifdef MADV_HUGEPAGE
    if (size >= LARGE_BLOCK)
        return nd_malloc_huge(size);
#endif
    return plain_malloc(size);
}

void *nd_calloc(size_t count, size_t size)
{
#ifdef MADV_HUGEPAGE
    if (count > 0 && size > 0 && count <= SIZE_MAX / size && count * size >= LARGE_BLOCK)
        return nd_calloc_huge(count * size);
#endif
    return allocation_allowed() ? calloc(count ? count : 1, size ? size : 1) : NULL;
}

/* The smallest block put in huge pages: from a quarter of one, rounding
 * up to a whole page at most quadruples it, and only for an array that
 * already takes 512 KiB (a fault per 4 KiB of it: 128 and more). */
#define HUGE_FROM (HUGE_PAGE / 4)

#ifdef ND_ALLOC_MAPPED
/* The live huge blocks: where each starts and its mapped length. */
typedef struct huge_block {
    void *at;
    size_t length;
} huge_block;

static pthread_mutex_t huge_lock = PTHREAD_MUTEX_INITIALIZER;
static huge_block *huge_blocks;
static size_t huge_count, huge_capacity;
static atomic_size_t huge_live; /* huge_count, read without the lock */

/* With huge_lock held: where block p is on the table, or huge_count. */
static size_t huge_find(const void *p)
{
    for (size_t i = huge_count; i-- > 0;) {
        if (huge_blocks[i].at == p)
            return i;
    }
    return huge_count;
}

/* With huge_lock held: take entry i off the table. */
static void huge_forget(size_t i)
{
    huge_blocks[i] = huge_blocks[--huge_count];
    atomic_store_explicit(&huge_live, huge_count, memory_order_relaxed);
}

/* The mapped length of huge block p, or 0 when p is not one; with
 * `forget`, taken off the table (before the caller unmaps it: once
 * unmapped, another thread may map a block at the same address and put
 * it on the table, which must then hold that block alone). */
static size_t huge_length(void *p, int forget)
{
    if (((uintptr_t)p & (HUGE_PAGE - 1)) != 0 || atomic_load_explicit(&huge_live, memory_order_relaxed) == 0)
        return 0;
    size_t length = 0;
    pthread_mutex_lock(&huge_lock);
    size_t i = huge_find(p);
    if (i < huge_count) {
        length = huge_blocks[i].length;
        if (forget)
            huge_forget(i);
    }
    pthread_mutex_unlock(&huge_lock);
    return length;
}

/* Put block p on the table; returns 0, or -1 when the table cannot grow. */
static int huge_note(void *p, size_t length)
{
    int rc = 0;
    pthread_mutex_lock(&huge_lock);
    if (huge_count == huge_capacity) {
        size_t capacity = huge_capacity ? huge_capacity * 2 : 64;
        huge_block *grown = realloc(huge_blocks, capacity * sizeof *grown);
        if (grown) {
            huge_blocks = grown;
            huge_capacity = capacity;
        }
    }
    if (huge_count < huge_capacity) {
        huge_blocks[huge_count++] = (huge_block){p, length};
        atomic_store_explicit(&huge_live, huge_count, memory_order_relaxed);
    } else {
        rc = -1;
    }
    pthread_mutex_unlock(&huge_lock);
    return rc;
}
#endif

#ifdef ND_ALLOC_MAPPED
/* Move huge block `from` (`length` bytes mapped) to the start of huge
 * block `to`, at least as long: its pages moved as they are (mremap), no
 * copy and no fresh page touched for the old contents. Returns 0, or -1
 * (nothing moved) when `to` is not a huge block or the move fails.
 *
 * The move and `from` leaving the table happen under huge_lock: mremap
 * unmaps `from`, and another thread may map a block there at once (most
 * likely one of the same size); were `from` still on the table when that
 * block was put on it, the address would have two entries, and a later
 * lookup could find the old length (a move or unmapping of the new block
 * then took too little or too much: the words past it lost, or another
 * block's pages unmapped; two threads growing their buffers while a
 * third maps and frees, now and then). */
static int move_pages(void *from, size_t length, void *to)
{
    int rc = -1;
    pthread_mutex_lock(&huge_lock);
    size_t at = huge_find(from), target = huge_find(to);
    if (at < huge_count && target < huge_count && huge_blocks[target].length >= length &&
        mremap(from, length, length, MREMAP_MAYMOVE | MREMAP_FIXED, to) != MAP_FAILED) {
        huge_forget(at);
        rc = 0;
    }
    pthread_mutex_unlock(&huge_lock);
    if (rc == 0)
        (void)madvise(to, length, MADV_HUGEPAGE);
    return rc;
}
#endif

void *nd_realloc(void *ptr, size_t size)
{
#ifdef ND_ALLOC_MAPPED
    size_t length = ptr ? huge_length(ptr, 0) : 0;
    if (length > 0) {                       /* a huge block: moved into a new block of the size asked for */
        void *moved = nd_malloc_huge(size); /* (plain below HUGE_FROM) */
        if (!moved)
            return NULL;
        if (move_pages(ptr, length, moved) != 0) { /* smaller, or plain: copied */
            memcpy(moved, ptr, length < size ? length : size);
            munmap(ptr, huge_length(ptr, 1));
        }
        return moved;
    }
#endif
    return allocation_allowed() ? realloc(ptr, size ? size : 1) : NULL;
}

void *nd_calloc_lines(size_t size)
{
    enum { LINE = 64 };
    if (size > SIZE_MAX - LINE || !allocation_allowed())
        return NULL;
    size_t rounded = size == 0 ? LINE : (size + LINE - 1) / LINE * LINE;
    void *p = NULL;
    if (posix_memalign(&p, LINE, rounded) != 0)
        return NULL;
    memset(p, 0, rounded);
    return p;
}

void nd_free(void *ptr)
{
#ifdef ND_ALLOC_MAPPED
    size_t length = ptr ? huge_length(ptr, 1) : 0;
    if (length > 0) {
        munmap(ptr, length);
        return;
    }
#endif
    free(ptr);
}

/* nd_grow's new capacity for `needed` elements (> capacity): doubled from
 * capacity (16 at first) until it holds them; 0 when that overflows. */
static size_t doubled_capacity(size_t capacity, size_t needed, size_t elem_size)
{
    size_t new_capacity = capacity ? capacity : 16;
    while (new_capacity < needed) {
        if (new_capacity > SIZE_MAX / 2 / elem_size)
            return 0;
        new_capacity *= 2;
    }
    return new_capacity;
}

int nd_grow(void **ptr, size_t *capacity, size_t needed, size_t elem_size)
{
    if (needed <= *capacity)
        return 0;
    size_t new_capacity = doubled_capacity(*capacity, needed, elem_size);
    if (new_capacity == 0)
        return -1;
    void *grown = nd_realloc(*ptr, new_capacity * elem_size);
    if (!grown)
        return -1;
    *ptr = grown;
    *capacity = new_capacity;
    return 0;
}

/* nd_malloc_huge; *fresh set to 1 when the block is a new mapping (zeroed
 * by the kernel), else 0. With `advise` 0 (nd_malloc_sparse) the mapping
 * is left in ordinary pages. */
static void *malloc_huge(size_t size, int *fresh, int advise)
{
    *fresh = 0;
#ifdef MADV_HUGEPAGE
    /* whole huge pages: a partial one at the end would be 4 KiB pages */
    size_t whole = (size + (HUGE_PAGE - 1)) & ~(HUGE_PAGE - 1);
    if (size >= HUGE_FROM && whole >= size && whole <= SIZE_MAX - HUGE_PAGE) {
        if (!allocation_allowed())
            return NULL;
#ifdef ND_ALLOC_MAPPED
        /* map a huge page more than needed, keep the aligned part */
        char *mapped = mmap(NULL, whole + HUGE_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (mapped == MAP_FAILED)
            return NULL;
        char *p = (char *)(((uintptr_t)mapped + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1));
        if (p > mapped)
            munmap(mapped, (size_t)(p - mapped));
        if (p + whole < mapped + whole + HUGE_PAGE)
            munmap(p + whole, (size_t)(mapped + whole + HUGE_PAGE - (p + whole)));
        if (huge_note(p, whole) != 0) {
            munmap(p, whole);
            return NULL;
        }
        *fresh = 1;
#else
        void *p = NULL;
        if (posix_memalign(&p, HUGE_PAGE, whole) != 0)
            return NULL;
#endif
        if (advise)
            (void)madvise(p, whole, MADV_HUGEPAGE); /* only advice: the same memory either way */
        return p;
    }
#endif
    return plain_malloc(size);
}

void *nd_malloc_huge(size_t size)
{
    int fresh;
    return malloc_huge(size, &fresh, 1);
}

void *nd_malloc_sparse(size_t size)
{
    int fresh;
    return malloc_huge(size, &fresh, 0);
}

void *nd_calloc_huge(size_t size)
{
    int fresh;
    void *p = malloc_huge(size, &fresh, 1);
    if (p && !fresh)
        memset(p, 0, size ? size : 1);
    return p;
}

int nd_grow_huge(void **ptr, size_t *capacity, size_t needed, size_t elem_size)
{
    size_t new_capacity = needed > *capacity ? doubled_capacity(*capacity, needed, elem_size) : 0;
    if (new_capacity == 0 || new_capacity * elem_size < HUGE_FROM)
        return nd_grow(ptr, capacity, needed, elem_size); /* (nothing to do, an overflow, or a small array) */
    /* a new aligned block; realloc would move a large block with mremap,
     * to an address that is not aligned */
    void *grown = nd_malloc_huge(new_capacity * elem_size);
    if (!grown)
        return -1;
#ifdef ND_ALLOC_MAPPED
    size_t old_length = *capacity ? huge_length(*ptr, 0) : 0;
    if (old_length > 0 && move_pages(*ptr, old_length, grown) == 0) {
        *ptr = grown;
        *capacity = new_capacity;
        return 0;
    }
#endif
    if (*capacity)
        memcpy(grown, *ptr, *capacity * elem_size);
    nd_free(*ptr);
    *ptr = grown;
    *capacity = new_capacity;
    return 0;
}
