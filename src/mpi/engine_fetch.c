/* engine_fetch.c - what the steps of the distributed clustering (engine.c,
 * engine_verify.c) share: fetching what the ranks holding texts keep about
 * them, which rank holds a text, sorted lists of global text numbers, and
 * memory whose lack stops the whole run (x_fatal).
 */
#include "engine_fetch.h"

#include <stdlib.h> /* malloc, calloc, realloc, free */

#include "sort.h"

#define IDENTITY(v) (v)
ND_DEFINE_RADIX_SORT(sort_u64, uint64_t, IDENTITY, 0, 56)

void *engine_malloc(xctx *x, size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        x_fatal(x, "out of memory");
    return p;
}

xbuf *engine_bufs(xctx *x)
{
    xbuf *b = calloc((size_t)x->size, sizeof *b);
    if (!b)
        x_fatal(x, "out of memory");
    return b;
}

void engine_bufs_free(xctx *x, xbuf *b)
{
    for (int r = 0; b && r < x->size; r++)
        xbuf_free(&b[r]);
    free(b);
}

int engine_holder(const uint64_t *bases, int size, uint64_t g)
{
    int lo = 0, hi = size - 1;
    while (lo < hi) { /* the last rank whose first text is at or before g */
        int mid = (lo + hi + 1) / 2;
        if (bases[mid] <= g)
            lo = mid;
        else
            hi = mid - 1;
    }
    return lo;
}

/* Sorted distinct values of v[0..n) (v is reordered); returns the count. */
size_t engine_sort_unique(xctx *x, uint64_t *v, size_t n)
{
    uint64_t *tmp = engine_malloc(x, n * sizeof *tmp);
    sort_u64(v, tmp, n);
    free(tmp);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (m == 0 || v[i] != v[m - 1])
            v[m++] = v[i];
    }
    return m;
}

/* Index of g in sorted v[0..n) (g must be there). */
size_t engine_index_of(const uint64_t *v, size_t n, uint64_t g)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v[mid] < g)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

void u64_list_push(xctx *x, u64_list *l, uint64_t value)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 1024;
        uint64_t *grown = realloc(l->v, cap * sizeof *grown);
        if (!grown)
            x_fatal(x, "out of memory");
        l->v = grown;
        l->cap = cap;
    }
    l->v[l->n++] = value;
}

/* Texts this rank holds in memory are read in place by the caller, not
 * copied through a message to itself. */
int engine_in_place(const xctx *x, const engine_input *in, int holder)
{
    return holder == x->rank && !in->store->on_disk;
}

/* Ask the holders of the sorted global texts want[0..n) for them (but for
 * those read in place, see engine_in_place); each
 * holder appends its answer for a local text with `answer`; the answers
 * come back in want's order, concatenated in `replies` (one buffer per
 * holder, in rank order). */
void engine_fetch(xctx *x, const engine_input *in, const uint64_t *bases, const uint64_t *want, size_t n,
                  engine_answer_fn answer, xbuf *replies)
{
    xbuf *send = engine_bufs(x), *recv = engine_bufs(x);
    for (size_t i = 0; i < n; i++) {
        int h = engine_holder(bases, x->size, want[i]);
        if (!engine_in_place(x, in, h)) /* else the caller reads it in place */
            xbuf_put_u64(&send[h], want[i] - bases[h]);
    }
    x_alltoallv(x, send, recv);
    for (int r = 0; r < x->size; r++) {
        xreader rd = xreader_of(&recv[r]);
        while (rd.p < rd.end)
            answer(x, in, (size_t)xread_u64(&rd), &send[r]);
    }
    x_alltoallv(x, send, replies);
    engine_bufs_free(x, send);
    engine_bufs_free(x, recv);
}

const uint32_t *engine_local_ids(xctx *x, const nd_store *s, size_t local, nd_id_buffer *buf)
{
    int rc = ND_OK;
    const uint32_t *ids = s->ids(s->backend, local, buf, &rc);
    if (!ids && s->meta[local].count > 0)
        x_fatal(x, "cannot read back shingle ids (spill file)");
    return ids;
}
