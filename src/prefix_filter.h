/* prefix_filter.h - which members of a large component a survivor can
 * cover, without comparing it with every one of them (prefix_filter.c).
 * Internal to the library; used by split.c. */
#ifndef ND_PREFIX_FILTER_H
#define ND_PREFIX_FILTER_H

#include <stddef.h> /* size_t */
#include <stdint.h> /* uint32_t */

#include "store.h"

typedef struct nd_prefix_filter {
    uint32_t *keys;          /* the table: the ids of the members' prefixes ... */
    uint32_t *starts;        /* ... where each one's list begins in `lists` (capacity + 1) */
    unsigned char *occupied; /* a byte a slot */
    size_t capacity;         /* slots: a power of two */
    uint32_t *lists;         /* member positions, ascending in each list */
    uint32_t *stamp;         /* a member's last round as a candidate */
    uint32_t round;
} nd_prefix_filter;

/* Index the prefixes of docs[0 .. n) (a component's texts; a member is
 * known by its position in docs) for survivors under store->opts, reading
 * every member's ids twice through store->ids into *buf. ND_OK; ND_ENOMEM;
 * a read error (*io_status set); or ND_EINVAL when no filter can be exact
 * (a threshold that an overlap of 0 reaches, or more than 2^32 - 2
 * members or prefix ids), the caller then comparing every member. */
int nd_prefix_filter_build(nd_prefix_filter *pf, const nd_store *store, const size_t *docs, size_t n, nd_id_buffer *buf,
                           int *io_status);

/* The positions of the members that a survivor with shingle ids
 * ids[0 .. count) may cover, among those with alive[position] set (the
 * survivor's own position included, if alive): written to out (room for
 * every member), ascending. Every member the survivor covers is among
 * them. Returns how many. */
size_t nd_prefix_filter_candidates(nd_prefix_filter *pf, const uint32_t *ids, size_t count, const unsigned char *alive,
                                   uint32_t *out);

void nd_prefix_filter_free(nd_prefix_filter *pf);

#endif /* ND_PREFIX_FILTER_H */
