/* minhash.h - MinHash internals shared with sketch.c: cached tables for
 * densification, so that sketching many texts does not recompute the same
 * probe sequences for every text (see minhash.c). */
#ifndef ND_MINHASH_H
#define ND_MINHASH_H

#include <stddef.h> /* size_t */
#include <stdint.h> /* uint16_t, uint32_t, uint64_t */

/* Probes cached per bin; later ones are computed when needed. */
#define ND_PROBES_PER_BIN 64

/* Signatures up to this long get a rank table (num_perm^2 16-bit entries:
 * a rank of 9 bits and a bin of 7). */
#define ND_RANKS_MAX_PERM 128

/* Densification tables for one (num_perm, seed). */
typedef struct nd_minhash_tables {
    uint16_t *probes;  /* bin i's first ND_PROBES_PER_BIN probes at [i * ND_PROBES_PER_BIN] */
    uint16_t *ranks;   /* [j * num_perm + i]: (first t with g(i, t) = j) << 7 | j, the rank capped
                          at 511 (not among the first 510 probes), and 0 << 7 | j for i = j;
                          NULL past ND_RANKS_MAX_PERM; 64-byte aligned (inside ranks_block), so that
                          a column's 32-byte loads never straddle two cache lines */
    void *ranks_block; /* the allocation ranks is in */
} nd_minhash_tables;
#define ND_MINHASH_TABLES_INIT \
    {                          \
        NULL, NULL, NULL       \
    }

/* Make the tables for (num_perm, seed). @return ND_OK, ND_ENOMEM or ND_EINVAL
 * (num_perm 0 or above ND_MAX_PERM). */
int nd_minhash_tables_new(nd_minhash_tables *out, unsigned num_perm, uint64_t seed);
void nd_minhash_tables_free(nd_minhash_tables *tables);

/* Test hook: the widest vector instructions the rank densification, the
 * bins, nd_intersection and the band keys may use (by default the widest the CPU has),
 * so that tests can compare every
 * implementation on one machine. Not for use while signing. */
enum { ND_MINHASH_SIMD_NONE = 0, ND_MINHASH_SIMD_AVX2 = 1, ND_MINHASH_SIMD_AVX512 = 2 };
void nd_minhash_set_simd(int limit);
/* The limit set, capped at what the CPU has (AVX-512: F, BW and DQ; AVX2
 * with POPCNT and BMI1), checked once: the band keys (lsh.c) follow it too. */
int nd_minhash_simd(void);

/* nd_minhash() with tables from nd_minhash_tables_new() for the same
 * num_perm and seed (or NULL): the same signature, faster. */
void nd_minhash_probed(uint32_t *sig, unsigned num_perm, uint64_t seed, const uint32_t *ids, size_t count,
                       const nd_minhash_tables *tables);

#endif
