/* threads.h - one step run on several threads at once, the caller's among
 * them.
 *
 * Most of the library's parallel steps have the same shape: start up to
 * n - 1 helper threads on the step, run it on the calling thread too, and
 * wait for them all. Where a thread cannot be started (the system's limit
 * on threads, or out of memory), the work must still be done, and where it
 * lands depends on how the step shares it:
 *   - shared work (item_size 0): every thread runs fn(items) and takes the
 *     next piece from a counter they share until none is left, so the
 *     calling thread's run does whatever no helper took;
 *   - one item a thread (item_size > 0): fn(items + t * item_size) for each
 *     t in [0, n); item 0, and every item whose thread did not start, run
 *     on the calling thread, one after the other.
 * Either way, when nd_on_threads returns every item has been run once and
 * every helper has been joined. Results go through the items (the
 * functions' return values are ignored).
 */
#ifndef ND_THREADS_H
#define ND_THREADS_H

#include <stddef.h> /* size_t */

/* The most threads nd_on_threads starts at once; items past it run on the
 * calling thread. */
enum { ND_MAX_THREADS = 256 };

/* Run fn as described above on n threads (n 0 counts as 1). Returns how
 * many threads ran it: 1 + the helpers started. */
unsigned nd_on_threads(unsigned n, void *(*fn)(void *), void *items, size_t item_size);

#endif
