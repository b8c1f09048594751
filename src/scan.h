/* scan.h - classify 64 bytes of UTF-8 at once (see scan.c). Internal to the
 * library: the tokenizer (normalize.c) walks texts with these masks. */
#ifndef ND_SCAN_H
#define ND_SCAN_H

#include <stdint.h> /* uint8_t, uint64_t */

/* Bit k of each mask describes byte k of the block. */
typedef struct nd_scan_masks {
    uint64_t ascii; /* 0x00..0x7F */
    uint64_t alnum; /* ASCII letters and digits */
    uint64_t lead2; /* 0xC2..0xDF: the first byte of a two-byte sequence */
    uint64_t lead3; /* 0xE0..0xEF: the first byte of a three-byte sequence */
    uint64_t cont;  /* 0x80..0xBF: a continuation byte */
} nd_scan_masks;

/* Bytes the lowered copy needs beyond the block (copies of runs are made 16
 * bytes at a time). */
#define ND_SCAN_LOWER_PAD 16

/* Classify block[0..64) into *masks and write block with ASCII A-Z lowered
 * to lower[0..64) (lower has room for 64 + ND_SCAN_LOWER_PAD bytes). */
typedef void (*nd_scan_fn)(nd_scan_masks *masks, uint8_t *lower, const uint8_t *block);

/* The implementations; all give the same result. */
typedef enum {
    ND_SCAN_SCALAR = 0, /* portable C, one byte at a time */
    ND_SCAN_SSE2 = 1,   /* x86-64: 16 bytes at a time */
    ND_SCAN_AVX2 = 2,   /* x86-64 with AVX2: 32 bytes at a time */
    ND_SCAN_AVX512 = 3, /* x86-64 with AVX-512 BW: 64 bytes at a time */
    ND_SCAN_IMPLS = 4
} nd_scan_impl;

/* The implementation `impl`, or NULL if this build or CPU lacks it. */
nd_scan_fn nd_scan_get(nd_scan_impl impl);

/* The fastest implementation this CPU runs (checked once). */
nd_scan_impl nd_scan_best(void);

/* Of the two-byte sequences whose lead bytes `two` marks (bit k: a lead
 * byte at block[k] and a continuation at block[k + 1]), those whose code
 * point c (U+0080..U+07FF) has its bit set in `bits` (a bitmap over the
 * BMP: bit c & 63 of bits[c >> 6]; only its first 32 words are read): bit
 * k of the result for the sequence at k. The block has a byte after it
 * (block[64] is read). */
typedef uint64_t (*nd_scan_bits2_fn)(const uint8_t *block, uint64_t two, const uint64_t *bits);

/* The same in portable C, one look-up per sequence: inline, for blocks
 * with few of them (a Latin text's accented letters). */
static inline uint64_t nd_scan_bits2_c(const uint8_t *block, uint64_t two, const uint64_t *bits)
{
    uint64_t hit = 0;
    for (; two; two &= two - 1) {
        unsigned q = (unsigned)__builtin_ctzll(two);
        hit |= ((bits[block[q] & 0x1F] >> (block[q + 1] & 0x3F)) & 1) << q;
    }
    return hit;
}

/* The implementation of that for `impl` (the same answer from each), or
 * NULL if this build or CPU lacks it. The SSE2 one is the scalar one
 * (SSE2 has no byte shuffle). */
nd_scan_bits2_fn nd_scan_bits2_get(nd_scan_impl impl);

/* The set bits of x, counted in registers: the baseline x86-64 has no
 * popcount instruction, and __builtin_popcountll there is a call into
 * libgcc (1% of a Latin scan). Bits are summed in pairs, nibbles and
 * bytes, and the eight byte counts added by one multiplication. */
static inline unsigned nd_popcount64(uint64_t x)
{
    x = x - ((x >> 1) & 0x5555555555555555ULL);
    x = (x & 0x3333333333333333ULL) + ((x >> 2) & 0x3333333333333333ULL);
    x = (x + (x >> 4)) & 0x0F0F0F0F0F0F0F0FULL;
    return (unsigned)((x * 0x0101010101010101ULL) >> 56);
}

#endif /* ND_SCAN_H */
