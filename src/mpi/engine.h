/* engine.h - distributed clustering (engine.c): each rank holds the texts
 * it read; together the ranks find the clusters one process would. */
#ifndef ND_MPI_ENGINE_H
#define ND_MPI_ENGINE_H

#include <stddef.h> /* size_t */
#include <stdint.h> /* uint64_t */

#include "exchange.h"
#include "neardup.h"
#include "store.h"

/* What a rank brings: its texts (numbered 0 .. count - 1 in input order;
 * rank r's come after rank r - 1's), and what output needs of each. */
typedef struct engine_input {
    const nd_store *store;
    /* Append to `out` what the output needs of text `text` (its document's
     * id, ...): it travels with the text to the rank that writes its
     * cluster. */
    void (*describe)(void *ctx, size_t text, xbuf *out);
    void *ctx;
    /* ND_KEEP_RANK (--keep min:FIELD / max:FIELD), else NULL: append to
     * `out` what text `text` is ranked by; it travels with the text to the
     * rank that splits its component, which orders the members by
     * keep_order (negative, 0 or positive; equal ones in input order). */
    void (*keep_value)(void *ctx, size_t text, xbuf *out);
    int (*keep_order)(void *ctx, const unsigned char *a, const unsigned char *b);
} engine_input;

typedef struct engine_stats {
    uint64_t key_entries;      /* (band, key, text) entries this rank sent */
    uint64_t buckets;          /* keys shared by two texts or more, owned here */
    uint64_t bucket_entries;   /* (band, text) in buckets owned here: the most texts verification can fetch */
    uint64_t fetched_texts;    /* texts whose ids were fetched for verification (from this rank too) */
    uint64_t fetched_id_bytes; /* their ids' bytes */
    uint64_t candidate_pairs;  /* verified exactly here */
    uint64_t verified_pairs;   /* of those, reaching the threshold */
    uint64_t edges;            /* joins sent to rank 0 */
    uint64_t components;       /* split here */
    double keys_s, verify_s, components_s, split_s;
    double join_s; /* rank 0: joining all edges into components, its own work alone */
} engine_stats;

/* Collective. Cluster the texts of all ranks. On return:
 *  - bases[r] is the global number of rank r's first text (bases[size] the
 *    total), so global = bases[rank] + local;
 *  - `clusters` holds the clusters whose earliest member is one of this
 *    rank's texts, each as: u64 earliest member, u64 size, then per member
 *    (survivor first, then input order) u64 global text, f64 exact Jaccard
 *    with the survivor, f64 containment in it, u32 length and the bytes
 *    describe() gave.
 * The clusters are exactly those of nd_index_cluster() on all texts in
 * order (see engine.c). Failures (out of memory, a spilled index that
 * cannot be read) stop every rank (x_fatal). */
void engine_cluster(xctx *x, const engine_input *in, nd_keep keep, uint64_t *bases, xbuf *clusters,
                    engine_stats *stats);

/* The rank holding global text g (engine_fetch.c). */
int engine_holder(const uint64_t *bases, int size, uint64_t g);

#endif /* ND_MPI_ENGINE_H */
