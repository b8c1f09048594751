/* wordids.h - the ids of a text's word shingles, eight at a time
 * (wordids.c); internal to the library. */
#ifndef ND_WORDIDS_H
#define ND_WORDIDS_H

#include <stddef.h> /* size_t */
#include <stdint.h> /* uint32_t, uint64_t */

#include "neardup.h" /* nd_token */

/* Which SIMD nd_word_ids_simd may use: at most this (tests compare each
 * with the scalar loop). */
enum { ND_WORDIDS_SIMD_NONE = 0, ND_WORDIDS_SIMD_AVX512 = 1, ND_WORDIDS_SIMD_BEST = 2 };

/* The ids of windows [0, s) of k tokens of items (m windows, m + k - 1
 * tokens), s a multiple of eight, as shingle.c's word_shingles makes them
 * (P its multiplier, salt its width's salt), into out[0 .. s); returns s
 * (0 without AVX-512, or when simd says not to use it). scratch: room for
 * m + k - 1 hashes. */
size_t nd_word_ids_simd(uint32_t *out, uint64_t *scratch, const nd_token *items, size_t m, unsigned k, uint64_t P,
                        uint64_t salt, int simd);

/* nd_shingles' word shingles of k tokens with SIMD up to `simd` (tests). */
int nd_word_shingles_simd(uint32_t **ids, size_t *capacity, size_t *count, const nd_tokens *tokens, unsigned k,
                          int simd);

#endif
