/* threads.c - one step run on several threads at once. See threads.h.
 *
 * Not a pool: the steps that use it run a few times a run on millions of
 * items each, so starting their threads (tens of microseconds) is noise,
 * and threads that exist only while a step runs need no queue, no
 * shutdown and no state between steps. Steps whose threads play different
 * parts start their own: candidates.c (helpers prepare bands while the
 * caller verifies them in order), split.c (the caller's thread keeps its
 * own state and output), the CLI's output (the caller writes straight to
 * the file while helpers format into buffers), and the CLI's pipeline and
 * read-ahead threads, which live through a run.
 */
#include "threads.h"

#include <pthread.h> /* pthread_create, pthread_join */

unsigned nd_on_threads(unsigned n, void *(*fn)(void *), void *items, size_t item_size)
{
    pthread_t helpers[ND_MAX_THREADS];
    unsigned char started[ND_MAX_THREADS] = {0};
    n = n < 1 ? 1 : n;
    unsigned limit = n < ND_MAX_THREADS ? n : ND_MAX_THREADS, count = 0;
    for (unsigned t = 1; t < limit; t++) {
        void *item = (char *)items + (size_t)t * item_size;
        started[t] = pthread_create(&helpers[t], NULL, fn, item) == 0;
        count += started[t];
        if (!started[t] && item_size == 0)
            break; /* shared work: the calling thread takes the rest */
    }
    if (item_size == 0) {
        fn(items);
    } else {
        for (unsigned t = 0; t < n; t++) {
            if (t >= limit || !started[t])
                fn((char *)items + (size_t)t * item_size);
        }
    }
    for (unsigned t = 1; t < limit; t++) {
        if (started[t])
            pthread_join(helpers[t], NULL);
    }
    return 1 + count;
}
