/* engine_verify.h - step 2 of the distributed clustering
 * (engine_verify.c): the buckets this rank owns verified into edges.
 * Private to engine.c. */
#ifndef ND_MPI_ENGINE_VERIFY_H
#define ND_MPI_ENGINE_VERIFY_H

#include <stdint.h> /* uint64_t */

#include "engine.h"       /* engine_input, engine_stats, xctx */
#include "engine_fetch.h" /* u64_list */

/* The buckets of texts sharing a key that this rank owns (step 1). */
typedef struct engine_buckets {
    u64_list texts;     /* global numbers, bucket after bucket */
    u64_list ends;      /* bucket i is texts[ends[i - 1] .. ends[i]) */
    u64_list band_ends; /* band b's buckets end at bucket band_ends[b] */
} engine_buckets;

/* Collective. Verify the pairs of each bucket of bk whose texts are not
 * all in one component yet, band after band, as cluster.c verifies them;
 * each join appends an edge (its two global texts) to `edges`. */
void engine_verify_buckets(xctx *x, const engine_input *in, const uint64_t *bases, const engine_buckets *bk,
                           u64_list *edges, engine_stats *st);

#endif /* ND_MPI_ENGINE_VERIFY_H */
