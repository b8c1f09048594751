/* winhash.h - the ids of a character shingle's windows, several windows at
 * a time (winhash.c); internal to the library. */
#ifndef ND_WINHASH_H
#define ND_WINHASH_H

#include <stddef.h> /* size_t */
#include <stdint.h> /* uint32_t */

#include "hash.h"
#include "neardup.h"

/* Which SIMD nd_window_ids may use: at most this (tests compare each with
 * the scalar path). */
enum {
    ND_WINDOW_SIMD_NONE = 0,
    ND_WINDOW_SIMD_AVX2 = 1,
    ND_WINDOW_SIMD_AVX512 = 2,     /* AVX-512 F, VL, BW, DQ */
    ND_WINDOW_SIMD_AVX512VBMI = 3, /* and VBMI (byte permutations) */
    ND_WINDOW_SIMD_BEST = 4
};

/* The id of one window text[0..n) of `size` code points:
 * fold32(nd_hash64(text, n, size)). Windows of 4 to 16 bytes take XXH3's
 * own short-input functions inlined (the secret's words folded into
 * constants by the compiler), not a call through the length dispatch: the
 * same value. */
static inline uint32_t nd_window_id(const uint8_t *text, size_t n, unsigned size)
{
    uint64_t h;
    if (n - 9 <= 7)
        h = nd_hash64_9to16_seeded(text, n, size);
    else if (n - 4 <= 4)
        h = nd_hash64_4to8_seeded(text, n, size);
    else
        h = nd_hash64(text, n, size);
    return (uint32_t)(h ^ (h >> 32));
}

/* The offsets of the code points of s[0..n) (the bytes that are not
 * continuation bytes, 10xxxxxx), in order, into starts; returns how many.
 * n < 2^32 - ND_OFFSETS_SLACK; starts has room for ND_OFFSETS_SLACK more
 * than there are (whole vectors are stored). */
enum { ND_OFFSETS_SLACK = 16 };
size_t nd_char_offsets(uint32_t *starts, const uint8_t *s, size_t n, int simd);

/* out[s] for s < m: the id of the window text[at[s], at[s + size]) of
 * `size` code points, fold32(nd_hash64(window, its length, size)) (see
 * shingle.c). at holds m + size offsets, increasing. out may be at itself:
 * out[s] is written once at[s] is read and nothing before at[s + 1] is read
 * again. simd: the most SIMD to use (ND_WINDOW_SIMD_BEST: what the CPU
 * has). */
void nd_window_ids(uint32_t *out, const uint8_t *text, const uint32_t *at, size_t m, unsigned size, int simd);

/* nd_shingles(..., ND_SHINGLE_CHARS, size) with at most `simd`
 * (shingle.c); ND_WINDOW_WIDE: the path of texts of 4 GB and more (no
 * table of offsets), for tests. */
enum { ND_WINDOW_WIDE = -1 };
int nd_char_shingles_simd(uint32_t **ids, size_t *capacity, size_t *count, const nd_tokens *tokens, unsigned size,
                          int simd);

/* nd_shingles() with the ids left as they are made: in text order, repeats
 * kept (shingle.c). MinHash signs them the same (a bin keeps the least of
 * its values, whatever their order and repeats); the index's lazy path
 * sorts them only when a text is verified (index_add.h). */
int nd_shingles_raw(uint32_t **ids, size_t *capacity, size_t *count, const nd_tokens *tokens, nd_shingle_kind kind,
                    unsigned size);

#endif /* ND_WINHASH_H */
