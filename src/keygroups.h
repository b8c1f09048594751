/* keygroups.h - the texts sharing one LSH key verified group by group
 * (keygroups.c); internal to the library: clustering (cluster.c) and the
 * MPI engine (src/mpi/engine.c). */
#ifndef ND_KEYGROUPS_H
#define ND_KEYGROUPS_H

#include <stddef.h> /* size_t */
#include <stdint.h> /* uint32_t, uint64_t */

#include "uf.h"

/* Scratch kept between keys: zero-initialize, release with
 * nd_key_groups_release. */
typedef struct nd_key_groups {
    uint32_t *next;        /* per position in the key: the next member of its group */
    uint32_t *head, *tail; /* per group */
    size_t capacity;       /* positions there is room for */
} nd_key_groups;

/* Verify texts a < b, in different components of the union-find: join
 * them (nd_uf_union) and return 1 if they match, return 0 if not, or a
 * negative error (ND_*), which stops the key. */
typedef int (*nd_verify_pair_fn)(void *ctx, size_t a, size_t b);

/* Where a key's texts' ids come from, for the prefix filter a key turns
 * to when its texts match little (keygroups.c): ids(ctx, text, &count)
 * gives text's sorted ids and sets count (as nd_member_ids_fn: NULL with
 * count > 0 on a read error, whose cause the caller keeps; any pointer,
 * NULL too, when count is 0), threshold the options' (a match
 * needs the overlap of two texts to reach it over the smaller one). */
typedef struct nd_key_source {
    const uint32_t *(*ids)(void *ctx, size_t text, size_t *count);
    void *ctx;
    double threshold;
} nd_key_source;

/* The n texts texts[0 .. n) (ascending) that share a key, verified with
 * `verify` so that every two that match end in one component of `uf`,
 * without a look at each pair of those already in one, nor (given a
 * source, once the key has made many verifications) at a pair that an
 * exact prefix filter says cannot match. Returns ND_OK, ND_ENOMEM, ND_EIO
 * (source's ids failed), or verify's error. */
int nd_key_groups_verify(nd_key_groups *g, nd_uf *uf, const uint32_t *texts, size_t n, nd_verify_pair_fn verify,
                         void *ctx, const nd_key_source *source);

void nd_key_groups_release(nd_key_groups *g);

#endif /* ND_KEYGROUPS_H */
