/* test_alloc.c - huge blocks (alloc.h) mapped, grown and freed on several
 * threads at once keep every byte written to them.
 *
 * nd_grow_huge moves a huge block's pages into a larger block (mremap),
 * and alloc.c keeps a table of the live huge blocks and their lengths.
 * The pipeline's threads grow their buffers while the reading thread maps
 * and frees the batches' blocks. Moving unmaps the old address, and
 * another thread may map a block there at once: the old block had to be
 * off the table by then, or the address had two entries and the new block
 * could be taken for the old one's length (a later move took only part of
 * it: a long document's shingle ids lost, now and then, with two threads;
 * found by CI in cli_test_input, scan of a JSON array against JSON Lines).
 * Here each thread maps blocks of 2, 4 or 6 MiB, marks every 4 KiB page,
 * doubles them (a move) and checks every mark after each step, so that a
 * block taken for another's length loses marks or is unmapped under its
 * owner (a crash, which Check reports as an error). */
#include <pthread.h> /* pthread_create, pthread_join */
#include <stdint.h>  /* uint64_t, uintptr_t */
#include <stdio.h>   /* fopen, fgets, sscanf, snprintf */
#include <stdlib.h>  /* size_t */
#include <string.h>  /* strstr, strncmp */

#include "alloc.h"
#include "suites.h"

/* Under AddressSanitizer huge blocks are posix_memalign'd (alloc.c: no
 * table, no moves; every byte copied as a block grows): a few rounds
 * check the contents, where the mapped blocks need many to meet the race. */
#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifdef UNDER_ASAN
#define ROUNDS 10
#endif
#ifndef ROUNDS
#define ROUNDS 1000
#endif

enum { THREADS = 4, PAGE = 4096, MIB = 1 << 20 };

typedef struct {
    unsigned index;
    long bad;   /* the round a mark was found changed, or -1 */
    int failed; /* an allocation failed */
} worker;

static uint64_t mark(unsigned thread, long round, size_t page)
{
    return (uint64_t)thread << 56 ^ (uint64_t)round << 24 ^ page;
}

/* Are the marks of pages [0, pages) of `block` all there? */
static int marks_kept(const unsigned char *block, size_t pages, unsigned thread, long round)
{
    for (size_t p = 0; p < pages; p++) {
        if (*(const uint64_t *)(const void *)(block + p * PAGE) != mark(thread, round, p))
            return 0;
    }
    return 1;
}

static void set_marks(unsigned char *block, size_t from, size_t to, unsigned thread, long round)
{
    for (size_t p = from; p < to; p++)
        *(uint64_t *)(void *)(block + p * PAGE) = mark(thread, round, p);
}

static void *map_grow_check(void *arg)
{
    worker *w = arg;
    for (long round = 0; round < ROUNDS && w->bad < 0 && !w->failed; round++) {
        size_t bytes = (size_t)(2 + 2 * ((round + w->index) % 3)) * MIB, capacity = bytes;
        unsigned char *block = nd_malloc_huge(bytes);
        if (!block) {
            w->failed = 1;
            break;
        }
        set_marks(block, 0, bytes / PAGE, w->index, round);
        for (int doubling = 0; doubling < 2 && w->bad < 0; doubling++) {
            size_t had = capacity;
            if (nd_grow_huge((void **)&block, &capacity, had + 1, 1) != 0) {
                w->failed = 1;
                break;
            }
            if (!marks_kept(block, had / PAGE, w->index, round))
                w->bad = round;
            set_marks(block, had / PAGE, capacity / PAGE, w->index, round);
        }
        nd_free(block);
    }
    return NULL;
}

START_TEST(test_huge_blocks_on_threads)
{
    worker workers[THREADS];
    pthread_t threads[THREADS];
    for (unsigned t = 0; t < THREADS; t++) {
        workers[t] = (worker){t, -1, 0};
        ck_assert_int_eq(pthread_create(&threads[t], NULL, map_grow_check, &workers[t]), 0);
    }
    for (unsigned t = 0; t < THREADS; t++)
        ck_assert_int_eq(pthread_join(threads[t], NULL), 0);
    for (unsigned t = 0; t < THREADS; t++) {
        ck_assert_int_eq(workers[t].failed, 0);
        ck_assert_msg(workers[t].bad < 0, "thread %u, round %ld: a mark lost as its block grew", t, workers[t].bad);
    }
}
END_TEST

#ifndef UNDER_ASAN
/* The VmFlags of the mapping that holds p, from /proc/self/smaps, into
 * flags (empty when there is no such file). */
static void vm_flags_of(const void *p, char *flags, size_t size)
{
    flags[0] = '\0';
    FILE *f = fopen("/proc/self/smaps", "r");
    if (!f)
        return;
    char line[512];
    int inside = 0;
    while (fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2) /* a mapping's first line (the others are "Key: value") */
            inside = (uintptr_t)p >= lo && (uintptr_t)p < hi;
        else if (inside && strncmp(line, "VmFlags:", 8) == 0) {
            snprintf(flags, size, "%s", line + 8);
            break;
        }
    }
    fclose(f);
}
#endif

/* nd_malloc_sparse: a block of its own that nd_free, nd_realloc and
 * nd_grow_huge take as they take a huge block, left in ordinary pages
 * (no MADV_HUGEPAGE: "hg" in its VmFlags), where nd_malloc_huge's is
 * advised. The index's first key chunk is one: 16 bands of 256 KiB of
 * which a small input touches one line each, two huge pages zeroed (4
 * MiB, 3.8 ms on a VM slow to back fresh memory) while it came from
 * nd_malloc, which gives huge blocks from 2 MiB. */
START_TEST(test_sparse_blocks)
{
    enum { SIZE = 4 * MIB };
    unsigned char *sparse = nd_malloc_sparse(SIZE);
    unsigned char *huge = nd_malloc_huge(SIZE);
    ck_assert_ptr_nonnull(sparse);
    ck_assert_ptr_nonnull(huge);
    for (size_t at = 0; at < SIZE; at += 256 << 10)
        sparse[at] = (unsigned char)(at >> 18) + 1;
#ifndef UNDER_ASAN /* (posix_memalign'd there: the heap's mappings) */
    char flags[512];
    vm_flags_of(huge, flags, sizeof flags);
    if (strstr(flags, " hg")) { /* huge pages advised where the kernel has them (and not under ASan) */
        vm_flags_of(sparse, flags, sizeof flags);
        ck_assert_msg(strstr(flags, " hg") == NULL, "the sparse block is advised huge: %s", flags);
    }
#endif
    size_t capacity = SIZE;
    unsigned char *grown = sparse;
    ck_assert_int_eq(nd_grow_huge((void **)&grown, &capacity, 2 * SIZE, 1), 0);
    for (size_t at = 0; at < SIZE; at += 256 << 10)
        ck_assert_uint_eq(grown[at], (unsigned char)(at >> 18) + 1);
    nd_free(grown);
    unsigned char *again = nd_malloc_sparse(SIZE);
    ck_assert_ptr_nonnull(again);
    again[SIZE - 1] = 7;
    again = nd_realloc(again, SIZE / 2 * 3);
    ck_assert_ptr_nonnull(again);
    nd_free(again);
    nd_free(huge);
}
END_TEST

Suite *alloc_suite(void)
{
    Suite *s = suite_create("alloc");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_huge_blocks_on_threads);
    tcase_add_test(tc, test_sparse_blocks);
    suite_add_tcase(s, tc);
    return s;
}
