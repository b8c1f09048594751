/* fastmasks.h - which bytes of a 64-byte block the tokenizer's fast loop
 * (fastpath.c: fast_words) may take by their masks alone: the word bytes,
 * the simple bytes (word bytes and separators with a boundary before
 * them), the bytes before which a boundary surely comes, and, for scripts
 * without spaces, the letters word breaking surely keeps. Internal to
 * fastpath.c, which includes it (one translation unit: the split costs no
 * calls on the hot path); apart from it so that one file does one job,
 * the block's classification here and the walk there.
 */
#ifndef ND_FASTMASKS_H
#define ND_FASTMASKS_H

#include <stdint.h> /* uint8_t, uint64_t */

#include "fastblock.h" /* block_view, three_byte_char */
#include "scan.h"      /* nd_scan_bits2_c */
#include "tokenizer.h" /* nd_normalizer, bit_set */

/* simple_masks()' three-byte characters (see there), one by one: the kept
 * letters (Han known from bv->kept, the others by the bitmap) are word
 * bytes, sure to be kept by word breaking (`han`); the other plain letters
 * of scripts without spaces (a Thai vowel sign with a boundary before it)
 * and the marks that stay themselves (fold.h's nd_fold_stable_mark: a Thai
 * tone mark or vowel sign below) right after such a letter or after such
 * marks, their combining classes not decreasing, are word bytes too, not
 * sure (the token's check reads them, unsure_end), and every one of them
 * is in `unspaced3`; the marks are not in next_ok (no boundary before
 * them: a run ends before the letter that carries them, unless it reaches
 * a boundary after them). Separators with a boundary before them (CJK
 * punctuation, typographic quotes and dashes) are simple bytes. Not the
 * overlong forms (E0 80..9F), which decode to two-byte code points. Apart
 * (not inlined) so that the blocks without any (most of Latin text) run
 * the code they ran before this grew. */
#if defined(__GNUC__) || defined(__clang__)
__attribute__((noinline))
#endif
static void
three_byte_masks(uint64_t *word, uint64_t *simple, uint64_t *next_ok, uint64_t *han, uint64_t *unspaced3,
                 const block_view *bv, const nd_normalizer *nz, uint64_t wide)
{
    uint64_t kept3 = bv->kept, plain3 = 0, marks3 = 0, separators3 = 0;
    unsigned last_fast = 64, last_ccc = 0; /* the last letter or mark taken: its offset and class */
    for (uint64_t left = bv->three & ~kept3; left; left &= left - 1) {
        unsigned q = (unsigned)__builtin_ctzll(left);
        const uint8_t *p = bv->bytes + q;
        if (p[0] == 0xE0 && p[1] < 0xA0)
            continue;
        unsigned c = three_byte_char(p);
        if (bit_set(nz->unspaced_kept, c)) {
            kept3 |= (uint64_t)1 << q;
        } else if (bit_set(nz->plain_unspaced, c)) {
            plain3 |= (uint64_t)1 << q;
            last_fast = q, last_ccc = 0;
        } else if (bit_set(nz->separator, c)) {
            separators3 |= (uint64_t)1 << q;
        } else {
            unsigned ccc = nz->mark_ccc[c];
            if (ccc && q >= 3 && (((kept3 >> (q - 3)) & 1) || (last_fast == q - 3 && last_ccc <= ccc))) {
                marks3 |= (uint64_t)1 << q;
                last_fast = q, last_ccc = ccc;
            }
        }
    }
    const uint64_t letters3 = kept3 | plain3 | marks3, all3 = letters3 | letters3 << 1 | letters3 << 2;
    *next_ok |= kept3 | plain3 | separators3;
    *word |= all3 & wide;
    *simple |= (all3 | separators3 | separators3 << 1 | separators3 << 2) & wide;
    *han = kept3 & wide;
    *unspaced3 = letters3 & wide;
}

/* The block's word bytes (ASCII letters and digits, both bytes of the
 * plain two-byte letters and, when `han_ok`, the three bytes of the plain
 * letters of scripts without spaces, each a segment of its own that folds
 * to itself, and of the marks after them that stay themselves:
 * three_byte_masks()) and its simple bytes (those, the ASCII separators
 * and every byte of the two- and (when `han_ok`) three-byte separators
 * with a boundary before them, which fold to separators only), in bytes
 * [0, 63) (the end of the text in a tail: bit 63 clear, and every code
 * point in them has its next byte in the block), for fast_words(); in
 * *next_ok, over the whole block, the bytes before which a boundary comes
 * for sure (ASCII, the first byte of a plain two-byte letter, of a plain
 * three-byte letter or of such a separator); in *han the first bytes of the
 * letters word breaking surely keeps, in *unspaced3 those of every
 * three-byte letter and mark taken as word bytes; in *plain2 both bytes of
 * the plain two-byte letters starting before `limit`, for fast_runs().
 * han_ok: words are not cut (a token of kept letters closes plainly,
 * closes_plainly()). */
static void simple_masks(uint64_t *word, uint64_t *simple, uint64_t *next_ok, uint64_t *plain2, uint64_t *han,
                         uint64_t *unspaced3, const block_view *bv, const nd_normalizer *nz, unsigned limit, int han_ok)
{
    const uint64_t below = limit >= 64 ? ~(uint64_t)0 : ((uint64_t)1 << limit) - 1;
    const uint64_t wide = bv->tail && limit < 63 ? below : ((uint64_t)1 << 63) - 1;
    const uint64_t two = bv->two, two_more = two & (two - 1);
    /* two sequences or fewer (most blocks of Latin text) inline, more by
     * the vector look-up */
    const uint64_t letters2 = !(two_more & (two_more - 1)) ? nd_scan_bits2_c(bv->bytes, two, nz->plain)
                                                           : nz->bits2(bv->bytes, two, nz->plain);
    /* the two-byte separators with a boundary before them among the
     * rest (Arabic comma and question mark, no-break space, guillemets):
     * as ASCII separators to fast_words(); seldom more than two a block */
    const uint64_t rest = two & ~letters2, rest_more = rest & (rest - 1);
    uint64_t separators2 = 0;
    if (rest)
        separators2 = !(rest_more & (rest_more - 1)) ? nd_scan_bits2_c(bv->bytes, rest, nz->separator)
                                                     : nz->bits2(bv->bytes, rest, nz->separator);
    const uint64_t both = letters2 | letters2 << 1;
    *next_ok = bv->m.ascii | letters2 | separators2;
    *word = (bv->m.alnum | both) & wide;
    *simple = (bv->m.ascii | both | separators2 | separators2 << 1) & wide;
    *han = *unspaced3 = 0;
    /* three-byte letters, marks and separators */
    if (han_ok && bv->three)
        three_byte_masks(word, simple, next_ok, han, unspaced3, bv, nz, wide);
    *plain2 = (letters2 & below) | (letters2 & below) << 1;
}

#endif /* ND_FASTMASKS_H */
