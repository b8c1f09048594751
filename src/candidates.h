/* candidates.h - where candidate pairs come from: texts with identical
 * shingle sets (identical.c), and texts sharing an LSH band key
 * (candidates.c); and the
 * shape of containment's candidates (contain.c). Shared by clustering
 * (cluster.c) and pair listing (pairs.c). Internal to the library. */
#ifndef ND_CANDIDATES_H
#define ND_CANDIDATES_H

#include <stddef.h> /* size_t */
#include <stdint.h> /* uint32_t, uint64_t */

#include "store.h"

/* Called for a text `other` whose set equals that of `first`, the earliest
 * text with that set. */
typedef void (*nd_same_fn)(void *ctx, size_t first, size_t other);

/* Find the texts with identical sets (sorted by set hash, stably, so the
 * earliest text of a set comes first; equal hashes are checked exactly).
 * Marks is_representative[t] for the earliest text of each distinct
 * non-empty set (and for a text whose hash only collides with another
 * set's), and calls same() for every other text with shingles.
 * @param[out] is_representative store->count flags, zeroed by the caller.
 * @param[in,out] exact_groups counts each set held by two or more texts.
 * Returns ND_OK, ND_ENOMEM or ND_EIO. */
int nd_identical_sets(unsigned char *is_representative, uint64_t *exact_groups, const nd_store *store, nd_same_fn same,
                      void *ctx);

/* nd_identical_sets() in the caller's buffers (identical.c): `entries`,
 * room for 2 * (store->count + 1) values, and with `slots` (2^slot_bits
 * slots of two bits, four or more a text; NULL: none) the texts whose set
 * hash no other's can share are set aside before the sort
 * (nd_sets_then_bands lends its band buffers, idle until then). */
int nd_identical_sets_in(unsigned char *is_representative, uint64_t *exact_groups, const nd_store *store,
                         nd_same_fn same, void *ctx, uint64_t *entries, uint64_t *slots, unsigned slot_bits);

/* Called with one prepared LSH band: the representatives' entries
 * (key << 32 | text) sorted by key, texts in input order within a key,
 * only of keys that two texts or more share (the others make no pair).
 * Returns ND_OK to go on, or an error code to stop (returned by
 * nd_band_candidates). */
typedef int (*nd_band_fn)(void *ctx, const uint64_t *entries, size_t count);

/* Hand every LSH band of the representatives to visit(), in band order on
 * the calling thread; with threads > 1, threads - 1 helpers prepare
 * (gather and sort) the next bands while the caller visits one, each
 * extra thread taking 16 bytes per text (and each band prepared ahead 8
 * bytes per text of its shared keys). Returns ND_OK, ND_ENOMEM, ND_EIO, or what visit()
 * returned to stop. */
int nd_band_candidates(const nd_store *store, const unsigned char *is_representative, unsigned threads,
                       nd_band_fn visit, void *ctx);

/* Test hook: bands are filtered through two-bit slots (most keys are one
 * text's) only while a thread's slot table takes at most `bytes` (4 MiB
 * unless set; 0: every band sorted whole). The same bands either way. */
void nd_candidates_set_slots_most(size_t bytes);

/* nd_identical_sets(), then nd_band_candidates() of the representatives
 * it found, with the same results and calls in the same order; with
 * threads > 1 the helpers gather and sort the first bands while the
 * identical sets are found. */
int nd_sets_then_bands(unsigned char *is_representative, uint64_t *exact_groups, const nd_store *store,
                       unsigned threads, nd_same_fn same, void *same_ctx, nd_band_fn visit, void *ctx);

/* Called with one text `a` and its candidates: the texts others[0 ..
 * count), ascending, each at least as large as `a` (more shingles, or as
 * many and later). Returns ND_OK to go on, or an error code to stop. */
typedef int (*nd_candidates_fn)(void *ctx, size_t a, const uint32_t *others, size_t count);

/* contain.c: every pair of representatives that can match under the
 * store's options (any measure; the bound of measure.h), each pair once,
 * from its smaller text, texts `a` in input order on the calling thread;
 * with threads > 1 the inverted index is built that many partitions at a
 * time in parallel (the candidates do not depend on it). Returns ND_OK,
 * ND_ENOMEM, ND_EIO, or what visit() returned to stop. */
int nd_containment_candidates(const nd_store *store, const unsigned char *is_representative, unsigned threads,
                              nd_candidates_fn visit, void *ctx);

/* The same with about part_ids ids per partition of the id range (0: the
 * default, sized for the caches); the candidates do not depend on it
 * (tests make partitions small to check that). */
int nd_containment_candidates_sized(const nd_store *store, const unsigned char *is_representative, unsigned threads,
                                    size_t part_ids, nd_candidates_fn visit, void *ctx);

#endif /* ND_CANDIDATES_H */
