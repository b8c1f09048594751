/* marks.c - a letter and the marks after it, folded once per folder.
 *
 * Real text has letters with marks after them: Arabic news an Arabic letter
 * with harakat (a fatha, a shadda, tanwin) every 220 letters or so, Hebrew
 * its points, Latin text written decomposed its combining accents. Such a
 * letter and its marks are one normalization segment (normalize.c), which
 * the general path (segment.c) gathers code point by code point and folds
 * with ICU each time: some 1,500 instructions, where the fast loop
 * (fastpath.c) spends a few per letter. Yet a text meets the same few
 * segments again and again, and a segment's fold depends on nothing else.
 * So a segment of a BMP code point and up to three two- or three-byte
 * marks (code points with no boundary before them) is folded once, kept in
 * the folder's slots (nd_fold_short_segment, 512 of them, by hash), and
 * fed to the token as nd_tk_flush_segment() feeds a fold: the same tokens,
 * spans and counts, the characters of scripts written without spaces
 * counted as such (tests/test_fastpath.c compares both with the reference
 * path on every kind of base, mark and what follows). Thai writes a tone
 * mark or a vowel sign below on many syllables, each such a segment; the
 * block masks take most of them (fastpath.c: marks in canonical order
 * that stay themselves), and those they leave (at a block's edge, out of
 * order) come here.
 */
#include "tokenizer.h"

#include <string.h> /* memcpy */

/* Slots of a folder's short segments: 16 KiB. */
enum { SHORT_SLOTS = 512 };

int nd_fold_short_segment(nd_folder *folder, const uint16_t *cps, size_t n, const nd_fold_short **out)
{
    if (!folder->short_folds) {
        folder->short_folds = nd_calloc(SHORT_SLOTS, sizeof *folder->short_folds);
        if (!folder->short_folds)
            return ND_ENOMEM;
    }
    uint64_t key = 0;
    for (size_t i = 0; i < n; i++)
        key = key << 16 | cps[i];
    nd_fold_short *slot = &folder->short_folds[(key * 0x9E3779B97F4A7C15ULL) >> 55]; /* 9 bits: SHORT_SLOTS */
    *out = slot;
    if (slot->n == n && slot->key == key) /* n too: a segment may start with U+0000 */
        return ND_OK;
    UChar in[ND_FOLD_SHORT_MAX];
    for (size_t i = 0; i < n; i++)
        in[i] = (UChar)cps[i];
    slot->n = 0; /* empty until made */
    int rc = nd_fold_segment(folder, in, n);
    if (rc != ND_OK)
        return rc;
    /* as nd_tk_flush_segment() reads the fold: word characters, each
     * counted, or separators */
    size_t words = 0, unspaced = 0, seps = 0, len = 0, i = 0;
    int fits = 1;
    while (i < folder->a.len) {
        char utf8[4];
        size_t bytes;
        int kind = next_fold_char(&folder->a, &i, utf8, &bytes);
        if (kind != FOLD_CHAR_SEP) {
            words++;
            unspaced += kind == FOLD_CHAR_UNSPACED;
            if (len + bytes <= sizeof slot->utf8) {
                memcpy(slot->utf8 + len, utf8, bytes);
                len += bytes;
            } else {
                fits = 0;
            }
        } else {
            seps++;
        }
    }
    if (!fits || (words && seps))
        slot->flags = ND_FOLD_SLOW;
    else if (words)
        slot->flags = ND_FOLD_WORD;
    else if (seps)
        slot->flags = ND_FOLD_SEP;
    else
        slot->flags = ND_FOLD_EMPTY;
    slot->len = (uint8_t)(slot->flags == ND_FOLD_WORD ? len : 0);
    slot->chars = (uint8_t)(slot->flags == ND_FOLD_WORD ? words : 0);
    slot->unspaced = (uint8_t)(slot->flags == ND_FOLD_WORD ? unspaced : 0);
    slot->key = key;
    slot->n = (uint8_t)n;
    return ND_OK;
}

/* The well-formed two- or three-byte sequence at text[i] (a code point of
 * the BMP beyond ASCII, not a surrogate), if there is one: the code point
 * in *c, and its length; 0 if there is none. */
static size_t bmp_at(const tokenizer *tk, size_t i, unsigned *c)
{
    size_t left = tk->len - i;
    if (left < 2)
        return 0;
    const uint8_t b0 = tk->text[i], b1 = tk->text[i + 1];
    if ((b1 & 0xC0) != 0x80)
        return 0;
    if (b0 >= 0xC2 && b0 <= 0xDF) {
        *c = (unsigned)(b0 & 0x1F) << 6 | (b1 & 0x3F);
        return 2;
    }
    if (left < 3 || (b0 & 0xF0) != 0xE0 || (tk->text[i + 2] & 0xC0) != 0x80 || (b0 == 0xE0 && b1 < 0xA0) ||
        (b0 == 0xED && b1 >= 0xA0)) /* overlong forms, surrogates */
        return 0;
    *c = (unsigned)(b0 & 0x0F) << 12 | (unsigned)(b1 & 0x3F) << 6 | (tk->text[i + 2] & 0x3F);
    return 3;
}

int nd_tk_mark_segment(tokenizer *tk, size_t i, size_t *next)
{
    const nd_normalizer *nz = tk->nz;
    uint16_t cps[ND_FOLD_SHORT_MAX];
    unsigned c;
    size_t q, bytes;
    *next = i;
    if (tk->text[i] < 0x80) {
        cps[0] = tk->text[i];
        q = i + 1;
    } else if ((bytes = bmp_at(tk, i, &c)) != 0) {
        cps[0] = (uint16_t)c;
        q = i + bytes;
    } else {
        return ND_OK;
    }
    size_t n = 1;
    while (n < ND_FOLD_SHORT_MAX && q < tk->len && (bytes = bmp_at(tk, q, &c)) != 0 && !bit_set(nz->plain, c) &&
           !(nz->table[c].flags & ND_FOLD_BOUNDARY)) {
        cps[n++] = (uint16_t)c;
        q += bytes;
    }
    /* the segment ends at q when a boundary comes before what is there:
     * the end, ASCII, a letter of the BMP (most often) by its table entry */
    if (n == 1)
        return ND_OK;
    if (q < tk->len && tk->text[q] >= 0x80) {
        int boundary = bmp_at(tk, q, &c) ? (nz->table[c].flags & ND_FOLD_BOUNDARY) != 0 : nd_tk_boundary_at(tk, q);
        if (!boundary)
            return ND_OK;
    }
    const nd_fold_short *f;
    int rc = nd_fold_short_segment(&tk->nz->folder, cps, n, &f);
    if (rc != ND_OK)
        return rc;
    switch (f->flags) {
    case ND_FOLD_WORD: {
        char *dst = begin_piece(tk, sizeof f->utf8, i);
        if (!dst)
            return ND_ENOMEM;
        memcpy(dst, f->utf8, sizeof f->utf8); /* f->len of them */
        end_piece(tk, f->len, i, q, f->chars, 0);
        if (f->unspaced) {
            tk->unspaced = 1;
            tk->out->unspaced_chars += f->unspaced;
        }
        break;
    }
    case ND_FOLD_SEP:
        rc = nd_tk_close_token(tk);
        if (rc != ND_OK)
            return rc;
        break;
    case ND_FOLD_EMPTY:
        if (tk->open) {
            tk->end = q;
            tk->gap = 1;
        }
        break;
    default:
        return ND_OK; /* words and separators, or too long: the general path */
    }
    *next = q;
    return ND_OK;
}
