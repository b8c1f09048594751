/* hash.h - the only place xxHash is seen: XXH3, inlined and kept private.
 *
 * XXH3's output is stable across versions and machines since xxHash 0.8.0,
 * which is what makes neardup's signatures reproducible (golden vectors in
 * tests/vectors.h pin them).
 */
#ifndef ND_HASH_H
#define ND_HASH_H

#include <stddef.h> /* size_t */
#include <stdint.h> /* uint64_t */
#include <string.h> /* memcpy */

#define XXH_INLINE_ALL
#include <xxhash.h> /* XXH3_64bits_withSeed */

static inline uint64_t nd_hash64(const void *data, size_t len, uint64_t seed)
{
    return XXH3_64bits_withSeed(data, len, seed);
}

/* nd_hash64(data, len, 0) for len in 1..3, 4..8 and 9..16 only: XXH3's own
 * short-input functions, called without the length dispatch in front of
 * them (nd_hash_tokens in tokhash.c sorts tokens by length class first, so
 * that hashing them takes no unpredictable branch). Equal to nd_hash64 by
 * construction and checked by test_hash_short_inputs (tests/test_shingle.c). */
static inline uint64_t nd_hash64_1to3(const void *data, size_t len)
{
    return XXH3_len_1to3_64b((const xxh_u8 *)data, len, XXH3_kSecret, 0);
}

static inline uint64_t nd_hash64_4to8(const void *data, size_t len)
{
    return XXH3_len_4to8_64b((const xxh_u8 *)data, len, XXH3_kSecret, 0);
}

static inline uint64_t nd_hash64_9to16(const void *data, size_t len)
{
    return XXH3_len_9to16_64b((const xxh_u8 *)data, len, XXH3_kSecret, 0);
}

/* nd_hash64(data, len, seed) for len in 4..8 and 9..16 only, with a seed:
 * XXH3's short-input functions without the length dispatch, inlined, so
 * that a loop hashing many short windows with one seed (char_shingles in
 * shingle.c) computes the seed's constants once and its iterations
 * overlap. Checked against nd_hash64 by test_token_hashes
 * (tests/test_shingle.c). */
static inline uint64_t nd_hash64_4to8_seeded(const void *data, size_t len, uint64_t seed)
{
    return XXH3_len_4to8_64b((const xxh_u8 *)data, len, XXH3_kSecret, seed);
}

static inline uint64_t nd_hash64_9to16_seeded(const void *data, size_t len, uint64_t seed)
{
    return XXH3_len_9to16_64b((const xxh_u8 *)data, len, XXH3_kSecret, seed);
}

/* XXH3's secret (xxhash.h's XXH3_kSecret) read as a 64-bit or 32-bit word
 * from byte `at`, little-endian as XXH_readLE64/32 read it on x86: the
 * constants XXH3's short-input formulas xor their input with, for the
 * vector versions of those formulas (tokhash.c, winhash.c). */
static inline uint64_t nd_xxh3_secret64(size_t at)
{
    uint64_t w;
    memcpy(&w, XXH3_kSecret + at, sizeof w);
    return w;
}

static inline uint32_t nd_xxh3_secret32(size_t at)
{
    uint32_t w;
    memcpy(&w, XXH3_kSecret + at, sizeof w);
    return w;
}

/* splitmix64's finalizer: a bijection of 64-bit values in which every
 * input bit affects every output bit (two multiply-xorshift rounds). */
static inline uint64_t nd_mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* splitmix64: a fast, well-mixed sequence from one 64-bit state; used to
 * derive the MinHash permutation parameters from the user's seed. */
static inline uint64_t nd_splitmix64(uint64_t *state)
{
    return nd_mix64(*state += 0x9e3779b97f4a7c15ULL);
}

#endif /* ND_HASH_H */
