/* test_threads.c - nd_on_threads (threads.c): every item run exactly once,
 * on as many threads as it could start, item 0 on the calling thread; and
 * shared work taken from a counter drained whatever the thread count. */
#include <pthread.h> /* pthread_self, pthread_equal */
#include <stdlib.h>  /* calloc, free */

#include "suites.h"
#include "threads.h"

typedef struct {
    int runs; /* times run (atomic) */
    pthread_t thread;
} item;

static void *run_item(void *arg)
{
    item *it = arg;
    __atomic_fetch_add(&it->runs, 1, __ATOMIC_RELAXED);
    it->thread = pthread_self();
    return NULL;
}

START_TEST(test_each_item_once)
{
    const unsigned counts[] = {0, 1, 2, 5, ND_MAX_THREADS, ND_MAX_THREADS + 3};
    for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++) {
        unsigned n = counts[c], items = n < 1 ? 1 : n;
        item *it = calloc(items, sizeof *it);
        ck_assert_ptr_nonnull(it);
        unsigned ran = nd_on_threads(n, run_item, it, sizeof *it);
        ck_assert_uint_ge(ran, 1);
        ck_assert_uint_le(ran, items < ND_MAX_THREADS ? items : ND_MAX_THREADS);
        for (unsigned t = 0; t < items; t++)
            ck_assert_int_eq(it[t].runs, 1);
        ck_assert(pthread_equal(it[0].thread, pthread_self())); /* item 0 on the caller */
        for (unsigned t = ND_MAX_THREADS; t < items; t++)
            ck_assert(pthread_equal(it[t].thread, pthread_self())); /* past the most started */
        free(it);
    }
}
END_TEST

/* Work shared by a counter: pieces of STEP positions until none is left. */
enum { POSITIONS = 100000, STEP = 7 };
typedef struct {
    size_t next; /* (atomic) */
    unsigned char *done;
    int callers; /* threads that ran the step (atomic) */
} shared_job;

static void *take_pieces(void *arg)
{
    shared_job *job = arg;
    __atomic_fetch_add(&job->callers, 1, __ATOMIC_RELAXED);
    for (;;) {
        size_t from = __atomic_fetch_add(&job->next, STEP, __ATOMIC_RELAXED);
        if (from >= POSITIONS)
            break;
        for (size_t i = from; i < from + STEP && i < POSITIONS; i++)
            job->done[i]++; /* each position in one piece, taken once */
    }
    return NULL;
}

START_TEST(test_shared_work_drained)
{
    const unsigned counts[] = {1, 2, 4, ND_MAX_THREADS + 1};
    for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++) {
        shared_job job = {0, calloc(POSITIONS, 1), 0};
        ck_assert_ptr_nonnull(job.done);
        unsigned ran = nd_on_threads(counts[c], take_pieces, &job, 0);
        ck_assert_int_eq(job.callers, (int)ran); /* one run a thread: the caller's and each helper's */
        ck_assert_uint_le(ran, counts[c] < ND_MAX_THREADS ? counts[c] : ND_MAX_THREADS);
        for (size_t i = 0; i < POSITIONS; i++)
            ck_assert_int_eq(job.done[i], 1);
        free(job.done);
    }
}
END_TEST

Suite *threads_suite(void)
{
    Suite *s = suite_create("threads");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_each_item_once);
    tcase_add_test(tc, test_shared_work_drained);
    suite_add_tcase(s, tc);
    return s;
}
