/* exchange.h - the messages of a distributed run (exchange.c): growable
 * byte buffers, and an all-to-all exchange of them in bounded rounds,
 * counting the bytes sent and the time spent communicating. */
#ifndef ND_MPI_EXCHANGE_H
#define ND_MPI_EXCHANGE_H

#include <stddef.h> /* size_t */
#include <stdint.h> /* uint32_t, uint64_t */

#include <mpi.h>

/* A growable byte buffer; zero-initialize. */
typedef struct xbuf {
    unsigned char *data;
    size_t len, cap;
} xbuf;

/* Append n bytes (stops the whole run on out of memory: see x_fatal). */
void xbuf_put(xbuf *b, const void *p, size_t n);
void xbuf_put_u32(xbuf *b, uint32_t v);
void xbuf_put_u64(xbuf *b, uint64_t v);
void xbuf_free(xbuf *b);

/* Reading a buffer back, in order. */
typedef struct xreader {
    const unsigned char *p, *end;
} xreader;
xreader xreader_of(const xbuf *b);
uint32_t xread_u32(xreader *r);
uint64_t xread_u64(xreader *r);
double xread_f64(xreader *r);
/* n bytes, borrowed from the buffer. */
const void *xread_bytes(xreader *r, size_t n);

/* The communicator, the round size, and what was spent. */
typedef struct xctx {
    MPI_Comm comm;
    int rank, size;
    size_t round_bytes;  /* at most this many bytes leave a rank per round */
    double comm_s;       /* seconds inside MPI calls made here */
    uint64_t bytes_sent; /* bytes this rank sent to other ranks */
    uint64_t rounds;     /* all-to-all rounds */
} xctx;

void x_init(xctx *x, MPI_Comm comm, size_t round_bytes);

/* send[d] goes to rank d; what rank s sent here is appended to recv[s]
 * (send and recv hold x->size buffers; send[rank] is copied locally).
 * Collective. Each round moves at most round_bytes / size bytes per pair,
 * so no count passes INT_MAX and the MPI buffers stay bounded; the send
 * buffers are emptied. */
void x_alltoallv(xctx *x, xbuf *send, xbuf *recv);

/* Collective: is every rank ok? A failing rank passes ok = 0 and its
 * message (or NULL when it was already printed); only the lowest failing
 * rank's message is printed, prefixed with its rank. Returns 1 when all
 * ranks are ok. */
int x_agree(xctx *x, int ok, const char *message);
/* x_agree in two steps: the lowest rank that passed ok = 0, or x->size
 * when none did (collective); then, on every rank, that rank's message
 * printed by it (not collective). x_report_failure returns 1 when first
 * is x->size. */
int x_first_failing(xctx *x, int ok);
int x_report_failure(xctx *x, int first, const char *message);

/* Sum of a counter over all ranks (to every rank). */
uint64_t x_sum(xctx *x, uint64_t v);

/* Stop every rank at once: a failure that leaves no orderly way out (out
 * of memory, I/O error in the middle of an exchange). Prints the message
 * and calls MPI_Abort (exit status 1). */
_Noreturn void x_fatal(xctx *x, const char *what);

/* Where the time went: wrap MPI calls (x_clock() before, x_spent() after). */
double x_clock(void);
void x_spent(xctx *x, double since);

#endif /* ND_MPI_EXCHANGE_H */
