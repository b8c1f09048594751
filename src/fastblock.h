/* fastblock.h - a 64-byte block of text as the tokenizer's fast loop
 * (fastpath.c) sees it: scan.c's masks and the sequences they make, and
 * the small helpers that read a block's characters (their code points,
 * whether a three-byte one is a kept letter of a script without spaces).
 * Internal to fastpath.c, which includes it; static inline so that the
 * split into files costs no calls on the hot path.
 */
#ifndef ND_FASTBLOCK_H
#define ND_FASTBLOCK_H

#include <stdint.h> /* uint8_t, uint32_t, uint64_t */
#include <string.h> /* memcpy */

#include "tokenizer.h"

/* Bits 0, 3, 6, ..., 63: the places a run of three-byte letters from
 * bit 0 may take. */
#define STRIDE3 0x9249249249249249ULL

static inline unsigned trailing_zeros(uint64_t x)
{
    return x ? (unsigned)__builtin_ctzll(x) : 64;
}

/* Bytes [0, 64) of a block classified by scan.c, for the fast paths. */
typedef struct {
    nd_scan_masks m;
    uint64_t two;         /* a lead byte and a continuation start here */
    uint64_t three;       /* a three-byte lead and two continuations start here */
    uint64_t kept;        /* of those, letters nd_kept_leads() knows to be kept */
    uint64_t han;         /* the same below the block's limit */
    const uint8_t *bytes; /* the block (the text, or a zero-padded copy of its tail) */
    size_t pos;           /* its offset in the text */
    int tail;             /* does the text end inside it (bytes past the end read as 0)? */
} block_view;

/* The BMP code point of a well-formed two- or three-byte sequence at block
 * offset q < 64, and its length in *n; *n = 0 for anything else (ASCII,
 * longer, cut or ill-formed sequences, overlong forms; surrogates come out
 * as themselves and their table entry sends them the slow way). */
static inline unsigned block_char(const block_view *bv, unsigned q, unsigned *n)
{
    const uint8_t *b = bv->bytes;
    if ((bv->two >> q) & 1) {
        *n = 2;
        return (unsigned)(b[q] & 0x1F) << 6 | (b[q + 1] & 0x3F);
    }
    if (((bv->three >> q) & 1) && (b[q] != 0xE0 || b[q + 1] >= 0xA0)) { /* E0 80..9F: overlong */
        *n = 3;
        return (unsigned)(b[q] & 0x0F) << 12 | (unsigned)(b[q + 1] & 0x3F) << 6 | (b[q + 2] & 0x3F);
    }
    *n = 0;
    return 0;
}

/* The code point of the three-byte sequence at p (with a byte after it):
 * on a little-endian machine from one 4-byte load. */
static inline unsigned three_byte_char(const uint8_t *p)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    uint32_t x;
    memcpy(&x, p, 4);
    return (x & 0x0F) << 12 | (x >> 2 & 0xFC0) | (x >> 16 & 0x3F);
#else
    return (unsigned)(p[0] & 0x0F) << 12 | (unsigned)(p[1] & 0x3F) << 6 | (p[2] & 0x3F);
#endif
}

/* The three bytes at p (with a byte after them) as a big-endian number. */
static inline uint32_t utf8_be(const uint8_t *p)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    uint32_t x;
    memcpy(&x, p, 4);
    return __builtin_bswap32(x) >> 8;
#else
    return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
#endif
}

/* Is the three-byte sequence at p (with a byte after it) a letter of
 * unspaced_kept (nz, fold.h)? Most Han letters are known from the bytes
 * read as a number (the longest run of them), others by the bitmap (an
 * overlong or surrogate sequence decodes to none of them). */
static inline int kept_letter(const nd_normalizer *nz, const uint8_t *p)
{
    return utf8_be(p) - nz->kept_lo8 <= nz->kept_span8 || bit_set(nz->unspaced_kept, three_byte_char(p));
}

#endif /* ND_FASTBLOCK_H */
