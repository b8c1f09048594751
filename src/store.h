/* store.h - the storage seam: what clustering reads of the texts an index
 * holds. Internal to the library.
 *
 * Clustering (cluster.c) needs, per text: how many shingle ids it has, a
 * hash of that set (to find identical sets), a weight (for --keep
 * longest) or a rank (ND_KEEP_RANK), its sorted shingle ids (to verify a
 * candidate exactly), and, per LSH band, the band keys of all texts in
 * text order (to find the texts that share a key). nd_store gives exactly that and nothing about
 * where it is kept: index_store.c serves it from memory or from index.c's spill files,
 * and a second backend (a persistent on-disk index, say) can serve it from
 * its own storage by filling in the same structure.
 *
 * Band keys are read in chunks of ND_KEY_CHUNK texts, one band at a time,
 * so that a backend can keep them band-major on disk and clustering reads
 * each band sequentially.
 */
#ifndef ND_STORE_H
#define ND_STORE_H

#include <stddef.h> /* size_t */
#include <stdint.h> /* uint32_t, uint64_t */

#include "neardup.h"

/* Texts per band-key chunk. */
enum { ND_KEY_CHUNK = 1 << 16 };

/* What is kept in memory per text, whatever the backend: 16 bytes (a
 * paragraph mode keeps millions). */
typedef struct nd_text_meta {
    uint32_t count;    /* number of shingle ids; 0 for a text without shingles */
    uint32_t weight;   /* what --keep longest compares, or ND_WEIGHT_WIDE (read it with nd_store_weight) */
    uint64_t set_hash; /* hash of the sorted ids: equal sets have equal hashes */
} nd_text_meta;

/* A weight of UINT32_MAX or more (a text past 4 GiB) is kept aside: its
 * meta says ND_WEIGHT_WIDE and the store lists it with its text. */
#define ND_WEIGHT_WIDE UINT32_MAX
typedef struct nd_wide_weight {
    size_t doc;
    uint64_t weight;
} nd_wide_weight;

/* A growable buffer for ids read back from storage. */
typedef struct nd_id_buffer {
    uint32_t *data;
    size_t capacity;
} nd_id_buffer;

typedef struct nd_store {
    const nd_options *opts; /* resolved: bands and rows set */
    size_t count;           /* texts 0 .. count - 1 */
    const nd_text_meta *meta;
    int on_disk; /* reading ids costs I/O: read each one as few times as possible; when 0,
                  * ids() lends pointers that stay valid as long as the store */
    const void *backend;

    /* The sorted shingle ids of text `doc` (meta[doc].count of them):
     * borrowed from the backend, or read into `buf`. NULL with *rc set
     * (ND_EIO, ND_ENOMEM) on failure; *rc is left alone on success. */
    const uint32_t *(*ids)(const void *backend, size_t doc, nd_id_buffer *buf, int *rc);

    /* The 32-bit keys of band `band` for texts [chunk * ND_KEY_CHUNK,
     * (chunk + 1) * ND_KEY_CHUNK) (fewer in the last chunk): borrowed, or
     * read into `buf` (room for ND_KEY_CHUNK keys). NULL on a read error. */
    const uint32_t *(*band_keys)(const void *backend, unsigned band, size_t chunk, uint32_t *buf);

    /* ND_KEEP_RANK: the ranks of texts [0, rank_count) (lowest kept
     * first); other texts rank last. NULL when none were given. */
    const uint64_t *rank;
    size_t rank_count;

    /* Per text, or NULL: 1 for a text whose ids are kept as sketched (in
     * any order, repeats kept) because no other text can have the same set
     * (index.c: raw texts). Its meta count is its raw count (0 exactly when
     * it has no shingles) and its set hash is unknown: identical sets take
     * it as a set of its own. ids() settles such a text when it is read
     * (sorted distinct ids, count and set hash made exact): only ever on
     * the one thread that runs steps 1 and 2 of clustering (identical
     * sets, candidate verification), which reads every text before any
     * other thread does (splitting reads the members of components, each
     * read when it was joined), and whose reads of a text's count and set
     * hash come after its ids(); or earlier, by settle() below. */
    const unsigned char *unsettled;

    /* The weights of ND_WEIGHT_WIDE texts, by text (none: NULL, 0). */
    const nd_wide_weight *wide_weights;
    size_t wide_weight_count;

    /* NULL, or (with unsettled texts): settle the unsettled texts among
     * docs[0 .. n) now, as ids() would when it first reads them, with
     * `scratch` (the calling thread's) for sorting. For the threads that
     * prepare LSH bands, once the identical sets are found (no count or
     * set hash is read by any other thread then but after ids()): they
     * settle the texts of a band prepared ahead while the verifying thread
     * is still on an earlier one. Any number of threads may settle at
     * once, and ids() may read a text meanwhile: each text is settled once,
     * by the first to claim it, and ids() waits for the one settling it.
     * A text that cannot be settled (out of memory) is left to ids(). */
    void (*settle)(const void *backend, const uint32_t *docs, size_t n, nd_id_buffer *scratch);

    /* The texts known to be copies, or NULL (none: NULL, 0): entries `doc
     * << 32 | lead`, doc ascending, each saying that text doc's sorted ids
     * are those of text lead < doc, itself no copy (index.c: a raw text
     * with the raw ids of an earlier one, index_settle.c), so that doc's
     * count and set hash are lead's too. Identical sets join such a text
     * to what its lead joins without reading or comparing its ids
     * (candidates.c), with the same results as comparing them. */
    const uint64_t *copies;
    size_t copy_count;
} nd_store;

/* Text doc's weight (what --keep longest compares). */
static inline uint64_t nd_store_weight(const nd_store *store, size_t doc)
{
    uint32_t w = store->meta[doc].weight;
    if (w != ND_WEIGHT_WIDE)
        return w;
    size_t lo = 0, hi = store->wide_weight_count;
    while (lo < hi) { /* the wide weights are in text order */
        size_t mid = lo + (hi - lo) / 2;
        if (store->wide_weights[mid].doc < doc)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < store->wide_weight_count && store->wide_weights[lo].doc == doc ? store->wide_weights[lo].weight : w;
}

/* index_store.c: the store view of an in-memory (or spilled) index, valid until
 * the index changes. Returns ND_OK, or ND_EIO when buffered writes to the
 * spill files cannot be flushed. */
int nd_index_store(const nd_index *index, nd_store *out);

/* How many threads nd_index_set_threads() allowed. */
unsigned nd_index_threads(const nd_index *index);

/* cluster.c: nd_index_cluster() on any store; with `threads`, LSH bands
 * are prepared while others are verified (each extra thread takes 16
 * bytes per text) and components are split in parallel. */
int nd_store_cluster(nd_clusters **out, nd_cluster_stats *stats, const nd_store *store, unsigned threads, nd_keep keep);

/* cluster.c: step 3 of nd_store_cluster() alone, for a caller that found
 * the connected components itself (the distributed run, src/mpi/): the
 * texts 0 .. count - 1 of `store`, numbered in input order, are taken as
 * one connected component and split by the same greedy cover, so that a
 * component gives the same clusters wherever it is split. Only `meta` and
 * `ids` of the store are read (no band keys). Clusters come in canonical
 * order (by earliest member), members numbered as in `store`.
 * Returns ND_OK, ND_ENOMEM or ND_EIO. */
int nd_store_split(nd_clusters **out, const nd_store *store, nd_keep keep);

/* pairs.c: nd_index_pairs() on any store. */
int nd_store_pairs(nd_pairs **out, nd_cluster_stats *stats, const nd_store *store, unsigned threads);

#endif /* ND_STORE_H */
