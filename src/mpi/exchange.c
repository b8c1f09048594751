/* exchange.c - the messages of a distributed run: byte buffers, an
 * all-to-all exchange in bounded rounds, agreement on failure.
 *
 * x_alltoallv moves one byte stream per (sender, receiver) pair. The
 * lengths go first (MPI_Alltoall of 64-bit counts); then the streams move
 * in rounds, each round an MPI_Alltoallv of at most round_bytes / P bytes
 * per pair, so a count never passes INT_MAX and the staging buffers of a
 * round stay under round_bytes per rank whatever the total. The number of
 * rounds is the largest any pair needs (MPI_Allreduce), so every rank
 * takes part in every round.
 *
 * Every MPI call made here is timed (MPI_Wtime) and the bytes a rank sends
 * to other ranks are counted: the benchmark's "share of time in
 * communication" and "bytes sent per document" are these two numbers.
 */
#include "exchange.h"

#include <stdio.h>  /* fprintf */
#include <stdlib.h> /* malloc, realloc, free */
#include <string.h> /* memcpy */

double x_clock(void)
{
    return MPI_Wtime();
}

void x_spent(xctx *x, double since)
{
    x->comm_s += MPI_Wtime() - since;
}

_Noreturn void x_fatal(xctx *x, const char *what)
{
    int rank = 0;
    MPI_Comm_rank(x ? x->comm : MPI_COMM_WORLD, &rank);
    fprintf(stderr, "neardup-mpi: rank %d: error: %s; stopping every rank\n", rank, what);
    fflush(stderr);
    MPI_Abort(x ? x->comm : MPI_COMM_WORLD, 1);
    exit(1); /* not reached */
}

void xbuf_put(xbuf *b, const void *p, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n)
            cap *= 2;
        unsigned char *grown = realloc(b->data, cap);
        if (!grown)
            x_fatal(NULL, "out of memory");
        b->data = grown;
        b->cap = cap;
    }
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
}

void xbuf_put_u32(xbuf *b, uint32_t v)
{
    xbuf_put(b, &v, sizeof v);
}

void xbuf_put_u64(xbuf *b, uint64_t v)
{
    xbuf_put(b, &v, sizeof v);
}

void xbuf_free(xbuf *b)
{
    free(b->data);
    *b = (xbuf){NULL, 0, 0};
}

xreader xreader_of(const xbuf *b)
{
    return (xreader){b->data, b->data + b->len};
}

const void *xread_bytes(xreader *r, size_t n)
{
    if ((size_t)(r->end - r->p) < n)
        x_fatal(NULL, "a message ended early (internal error)");
    const void *at = r->p;
    r->p += n;
    return at;
}

uint32_t xread_u32(xreader *r)
{
    uint32_t v;
    memcpy(&v, xread_bytes(r, sizeof v), sizeof v);
    return v;
}

uint64_t xread_u64(xreader *r)
{
    uint64_t v;
    memcpy(&v, xread_bytes(r, sizeof v), sizeof v);
    return v;
}

double xread_f64(xreader *r)
{
    double v;
    memcpy(&v, xread_bytes(r, sizeof v), sizeof v);
    return v;
}

void x_init(xctx *x, MPI_Comm comm, size_t round_bytes)
{
    x->comm = comm;
    MPI_Comm_rank(comm, &x->rank);
    MPI_Comm_size(comm, &x->size);
    x->round_bytes = round_bytes;
    x->comm_s = 0;
    x->bytes_sent = 0;
    x->rounds = 0;
}

void x_alltoallv(xctx *x, xbuf *send, xbuf *recv)
{
    int p = x->size;
    uint64_t *lens = malloc((size_t)p * 2 * sizeof *lens);
    int *counts = malloc((size_t)p * 4 * sizeof *counts);
    size_t *done = calloc((size_t)p * 2, sizeof *done);
    if (!lens || !counts || !done)
        x_fatal(x, "out of memory");
    uint64_t *rlens = lens + p;
    int *scounts = counts, *sdispls = counts + p, *rcounts = counts + 2 * p, *rdispls = counts + 3 * p;
    size_t *sent = done, *got = done + p;
    for (int d = 0; d < p; d++)
        lens[d] = d == x->rank ? 0 : send[d].len;
    double t0 = x_clock();
    MPI_Alltoall(lens, 1, MPI_UINT64_T, rlens, 1, MPI_UINT64_T, x->comm);
    size_t pair = x->round_bytes / (size_t)p;
    if (pair < 4096)
        pair = 4096;
    if (pair > (size_t)1 << 30)
        pair = (size_t)1 << 30;
    uint64_t need = 0;
    for (int d = 0; d < p; d++) {
        uint64_t r1 = (lens[d] + pair - 1) / pair, r2 = (rlens[d] + pair - 1) / pair;
        need = r1 > need ? r1 : need;
        need = r2 > need ? r2 : need;
    }
    uint64_t rounds;
    MPI_Allreduce(&need, &rounds, 1, MPI_UINT64_T, MPI_MAX, x->comm);
    x_spent(x, t0);
    /* the local stream is a copy */
    xbuf_put(&recv[x->rank], send[x->rank].data, send[x->rank].len);
    /* staging buffers: a round's bytes, at most pair per peer */
    size_t sroom = 0, rroom = 0;
    for (int d = 0; d < p; d++) {
        sroom += lens[d] < pair ? (size_t)lens[d] : pair;
        rroom += rlens[d] < pair ? (size_t)rlens[d] : pair;
    }
    unsigned char *sbuf = malloc(sroom ? sroom : 1), *rbuf = malloc(rroom ? rroom : 1);
    if (!sbuf || !rbuf)
        x_fatal(x, "out of memory");
    for (uint64_t round = 0; round < rounds; round++) {
        size_t at = 0, rat = 0;
        for (int d = 0; d < p; d++) {
            size_t n = lens[d] - sent[d] < pair ? (size_t)(lens[d] - sent[d]) : pair;
            if (n)
                memcpy(sbuf + at, send[d].data + sent[d], n);
            sent[d] += n;
            scounts[d] = (int)n;
            sdispls[d] = (int)at;
            at += n;
            size_t m = rlens[d] - got[d] < pair ? (size_t)(rlens[d] - got[d]) : pair;
            got[d] += m;
            rcounts[d] = (int)m;
            rdispls[d] = (int)rat;
            rat += m;
        }
        t0 = x_clock();
        MPI_Alltoallv(sbuf, scounts, sdispls, MPI_BYTE, rbuf, rcounts, rdispls, MPI_BYTE, x->comm);
        x_spent(x, t0);
        x->bytes_sent += at;
        for (int s = 0; s < p; s++)
            xbuf_put(&recv[s], rbuf + rdispls[s], (size_t)rcounts[s]);
    }
    x->rounds += rounds;
    for (int d = 0; d < p; d++)
        xbuf_free(&send[d]);
    free(sbuf);
    free(rbuf);
    free(lens);
    free(counts);
    free(done);
}

int x_first_failing(xctx *x, int ok)
{
    int mine = ok ? x->size : x->rank, first;
    double t0 = x_clock();
    MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, x->comm);
    x_spent(x, t0);
    return first;
}

int x_report_failure(xctx *x, int first, const char *message)
{
    if (first == x->size)
        return 1;
    if (first == x->rank && message) {
        fprintf(stderr, "neardup-mpi: rank %d: error: %s\n", x->rank, message);
        fflush(stderr);
    }
    return 0;
}

int x_agree(xctx *x, int ok, const char *message)
{
    return x_report_failure(x, x_first_failing(x, ok), message);
}

uint64_t x_sum(xctx *x, uint64_t v)
{
    uint64_t total;
    double t0 = x_clock();
    MPI_Allreduce(&v, &total, 1, MPI_UINT64_T, MPI_SUM, x->comm);
    x_spent(x, t0);
    return total;
}
