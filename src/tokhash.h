/* tokhash.h - every token's hash once a text's tokens are made
 * (tokhash.c); internal to the library. */
#ifndef ND_TOKHASH_H
#define ND_TOKHASH_H

#include "neardup.h" /* nd_tokens */

/* Which SIMD nd_hash_tokens_with may use: at most this (tests compare
 * each with nd_hash64). */
enum {
    ND_TOKHASH_SIMD_NONE = 0,
    ND_TOKHASH_SIMD_AVX512 = 1, /* AVX-512 F, VL, BW, DQ */
    ND_TOKHASH_SIMD_BEST = 2
};

/* Set every token's hash: nd_hash64 (XXH3, seed 0) of
 * tokens->text[norm_start .. norm_start + norm_len). */
void nd_hash_tokens(nd_tokens *tokens);

/* nd_hash_tokens with SIMD up to `simd` (ND_TOKHASH_SIMD_*). */
void nd_hash_tokens_with(nd_tokens *tokens, int simd);

#endif
