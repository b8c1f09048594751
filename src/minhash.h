/* minhash.h - MinHash internals shared with sketch.c: a cached table of
 * densification probes, so that sketching many texts does not recompute
 * the same probe sequence for every text (see minhash.c). */
#ifndef ND_MINHASH_H
#define ND_MINHASH_H

#include <stddef.h> /* size_t */
#include <stdint.h> /* uint16_t, uint32_t, uint64_t */

/* Probes cached per bin; later ones are computed when needed. */
#define ND_PROBES_PER_BIN 64

/* The first ND_PROBES_PER_BIN probes of every bin for (num_perm, seed);
 * free with nd_free(). NULL when out of memory or num_perm is out of range. */
uint16_t *nd_minhash_probe_table(unsigned num_perm, uint64_t seed);

/* nd_minhash() with a probe table from nd_minhash_probe_table() for the same
 * num_perm and seed (or NULL): the same signature, faster for small sets. */
void nd_minhash_probed(uint32_t *sig, unsigned num_perm, uint64_t seed, const uint32_t *ids, size_t count,
                       const uint16_t *probes);

#endif
