/* engine_fetch.h - what the steps of the distributed clustering share
 * (engine_fetch.c): fetching what the ranks holding texts keep about them,
 * sorted lists of global text numbers, and memory whose lack stops the
 * whole run (x_fatal). Private to engine.c and engine_verify.c. */
#ifndef ND_MPI_ENGINE_FETCH_H
#define ND_MPI_ENGINE_FETCH_H

#include <stddef.h> /* size_t */
#include <stdint.h> /* uint32_t, uint64_t */

#include "engine.h" /* engine_input, xctx, xbuf, nd_store */

/* malloc(n), at least 1 byte; out of memory stops the run. */
void *engine_malloc(xctx *x, size_t n);
/* One empty buffer per rank, and their release (b may be NULL). */
xbuf *engine_bufs(xctx *x);
void engine_bufs_free(xctx *x, xbuf *b);

/* A growable list of 64-bit values (global text numbers); zero-initialize,
 * free v. */
typedef struct u64_list {
    uint64_t *v;
    size_t n, cap;
} u64_list;
void u64_list_push(xctx *x, u64_list *l, uint64_t value);

/* Sorted distinct values of v[0..n) (v is reordered); returns the count. */
size_t engine_sort_unique(xctx *x, uint64_t *v, size_t n);
/* Index of g in sorted v[0..n) (g must be there). */
size_t engine_index_of(const uint64_t *v, size_t n, uint64_t g);

/* Whether the texts of rank `holder` are read in place by this rank (its
 * own, held in memory), not fetched through a message to itself. */
int engine_in_place(const xctx *x, const engine_input *in, int holder);

/* What a holder appends to `out` for its local text `local`. */
typedef void (*engine_answer_fn)(xctx *x, const engine_input *in, size_t local, xbuf *out);

/* Collective. Ask the holders of the sorted global texts want[0 .. n) for
 * them (but for those read in place); each holder answers with `answer`;
 * the answers come back in want's order, in `replies` (one buffer per
 * holder, in rank order). */
void engine_fetch(xctx *x, const engine_input *in, const uint64_t *bases, const uint64_t *want, size_t n,
                  engine_answer_fn answer, xbuf *replies);

/* The shingle ids of this rank's text `local` (read back through buf from
 * a spill file); a failure stops the run. */
const uint32_t *engine_local_ids(xctx *x, const nd_store *s, size_t local, nd_id_buffer *buf);

#endif /* ND_MPI_ENGINE_FETCH_H */
