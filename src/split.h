/* split.h - step 3 of clustering (split.c): components split into
 * verified clusters, and the cluster list itself. Internal to the library;
 * used by cluster.c. */
#ifndef ND_SPLIT_H
#define ND_SPLIT_H

#include <stddef.h> /* size_t */
#include <stdint.h> /* uint32_t */

#include "neardup.h"
#include "store.h"

struct nd_clusters {
    nd_member *members;
    size_t members_count, members_capacity;
    size_t *starts; /* cluster i is members[starts[i] .. starts[i + 1]) */
    size_t count, starts_capacity;
};

/* An empty list (NULL when out of memory). */
nd_clusters *nd_clusters_new(void);

/* What splitting reads ids with: the store, buffers for ids read back,
 * and the first read error. Zero it and set `store`; free the buffers'
 * data after. */
typedef struct nd_split_state {
    const nd_store *store;
    nd_id_buffer buf_a, buf_b;
    int io_status;
} nd_split_state;

/* Split `count` components, component c being members[bounds[2c],
 * bounds[2c + 1]) (two or more texts each, in input order), on up to `threads` threads (one when the store is on
 * disk), appending the clusters to `out` and putting them all in canonical
 * order. one_set, when not NULL, marks the components that are one set of
 * texts with equal ids, already compared id by id (clustering's identical
 * sets): one cluster each, every score 1, no ids read. Returns ND_OK,
 * ND_ENOMEM or a read error. */
int nd_split_components(nd_split_state *st, size_t *members, const size_t *bounds, const unsigned char *one_set,
                        size_t count, unsigned threads, nd_keep keep, nd_clusters *out);

#endif /* ND_SPLIT_H */
