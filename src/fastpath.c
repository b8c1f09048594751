/* fastpath.c - the tokenizer's fast loop: the text 64 bytes at a time.
 *
 * It gives the same tokens, spans, hashes and counts as the general path
 * (segment.c), which it hands every code point it does not take
 * (tests/test_fastpath.c and tests/fuzz/fuzz_tokenize.c compare every path
 * with the reference):
 *   - A code point c is a segment of its own when a boundary comes before
 *     it and before the next one; then its fold is looked up in the
 *     profile's table of BMP code points (fold.c), built by the same fold.
 *   - The text is walked 64 bytes at a time with five bit masks from
 *     scan.c (SSE2/AVX2, or portable C) and a sixth of the plain two-byte
 *     letters (each a segment of its own that folds to itself: Arabic,
 *     Hebrew, small Cyrillic and Greek; scan.c's bits2, AVX2 byte
 *     shuffles). Whole words of ASCII and plain letters and the separator
 *     runs between them (ASCII, and the two-byte separators with a
 *     boundary before them: the Arabic comma, a no-break space,
 *     guillemets) are taken by their masks alone (fast_words; the masks
 *     are fastmasks.h's simple_masks), the
 *     token left open across blocks; the rest in one loop (fast_runs) that keeps
 *     the token in locals: a run of ASCII letters and digits is found with
 *     one count of trailing zeros and copied lowered 16 bytes at a time; a
 *     run of ASCII separators closes the token at once; a run of two- and
 *     three-byte letters (a lead bit and continuation bits: no validation
 *     branches) is copied as it is, one bit of the table's bitmap telling
 *     that a letter folds to itself (Arabic, Hebrew, Han, kana, small
 *     Cyrillic and Greek), or letter by letter from the table when it
 *     folds to another letter of the same length (capitals); a run of Han
 *     or kana letters (each folds to itself and is kept whole by word
 *     breaking: fold.h's unspaced_kept, most of them known from their
 *     bytes alone, 64 at a time: hanleads.c) has a loop of its own, and the token it ends up in is
 *     not checked again when it closes (see unsure_end in tokenizer.h); a
 *     separator beyond ASCII (CJK punctuation) closes the token at once.
 *     Thai, Lao, Khmer and Myanmar letters and the marks after them that
 *     stay themselves in canonical order (a consonant, its vowel sign,
 *     its tone mark: fold.h's nd_fold_stable_mark) are word bytes too,
 *     copied as they are and checked when their token closes.
 *     ASCII always has a boundary before it, so only the last character of
 *     a run that a code point without a boundary follows (a combining mark)
 *     goes the slow way.
 *   - A code point of one or two bytes with up to three two-byte marks
 *     after it (an Arabic letter and its harakat, a Latin letter and a
 *     combining accent) is a segment whose fold the folder keeps once
 *     made (marks.c): real Arabic
 *     news has one such segment every 220 letters or so, each an ICU call
 *     and a trip through the general path before.
 *   - Everything else (longer runs of marks, folds of other lengths,
 *     separators beyond ASCII that are not segments of their own,
 *     four-byte characters, ill-formed bytes, segments whose fold mixes
 *     words and separators) goes through nd_tk_handle_char(): decode,
 *     look the boundary up, and either take the table or build a segment
 *     and fold it with ICU.
 */
#include "fastblock.h" /* block_view and its helpers */
#include "fastmasks.h" /* simple_masks: the bytes fast_words() takes */
#include "tokenizer.h"

#include <string.h> /* memcpy, memset */

#if defined(__SSE2__)
#include <emmintrin.h> /* SSE2: part of x86-64 */
#endif

/* Does a boundary come before the code point at block offset q? */
static inline int block_boundary(tokenizer *tk, const block_view *bv, unsigned q)
{
    if (q >= 64 || (((bv->m.ascii | bv->kept) >> q) & 1))
        return 1; /* ASCII, (in a tail) the end of the text, or a kept Han letter (plain_unspaced) */
    unsigned n;
    unsigned c = block_char(bv, q, &n);
    const uint8_t *b = bv->bytes;
    if (!n && q == 62 && !bv->tail && ((bv->m.lead3 >> 62) & 1) && ((bv->m.cont >> 63) & 1) && (b[64] & 0xC0) == 0x80 &&
        (b[62] != 0xE0 || b[63] >= 0xA0)) {
        /* a three-byte sequence whose last byte is the next block's first
         * (the text goes on past the block: b[64] is in it), as where a
         * run of Han letters reaches the block's end a third of the time */
        c = (unsigned)(b[62] & 0x0F) << 12 | (unsigned)(b[63] & 0x3F) << 6 | (b[64] & 0x3F);
        n = 3;
    }
    if (n) {
        /* a letter that folds to itself (Han, kana, Arabic, ...) has one
         * before it: told by the bitmaps (8 KB each), not the fold table
         * (0x10000 entries: a cache miss for a Han letter met at random,
         * as after every punctuation mark of CJK text) */
        const nd_normalizer *nz = tk->nz;
        if (bit_set(nz->plain_unspaced, c) || bit_set(nz->plain, c))
            return 1;
        return (nz->table[c].flags & ND_FOLD_BOUNDARY) != 0;
    }
    return nd_tk_boundary_at(tk, bv->pos + q);
}

enum {
    /* a code point whose fold is one word character as long as itself */
    SIMPLE = ND_FOLD_WORD | ND_FOLD_BOUNDARY | ND_FOLD_SAME_LENGTH,
    SIMPLE_MASK = ND_FOLD_KIND_MASK | ND_FOLD_BOUNDARY | ND_FOLD_SAME_LENGTH,
    /* a code point whose fold separates words, with a boundary before it */
    SEPARATOR = ND_FOLD_SEP | ND_FOLD_BOUNDARY
};

/* A run of Han letters or plain two-byte letters from block offset r
 * (fewer than 64 - r bytes) is copied from `lower` in one copy of this
 * many bytes, the text having room for them (reserve_fast): copies of the
 * run's own length in 16 bytes at a time mispredicted their loop's exit
 * on about every run. */
enum { RUN_COPY = 64 };
_Static_assert(RUN_COPY >= ND_SCAN_LOWER_PAD, "the scan writes 64 + ND_SCAN_LOWER_PAD bytes of lower");

/* Open a token at byte `at` of the text unless one is open: what
 * open_token() (tokenizer.h) sets, on fast_runs()' local copies of the
 * state. */
#define OPEN_TOKEN_AT(at)            \
    do {                             \
        if (!open) {                 \
            open = 1;                \
            unspaced = 0;            \
            start = (at);            \
            norm_start = text_len;   \
            tk->gap = 0;             \
            tk->nz->piece_count = 0; \
        }                            \
    } while (0)

/* The fast loop: from block offset r, runs of
 *   - ASCII letters and digits, copied lowered into the token;
 *   - ASCII separators, which close the token;
 *   - two- and three-byte characters, each a segment of its own whose fold
 *     is one word character as long as itself (an Arabic or Han letter to
 *     itself, a Cyrillic capital to its small letter), copied as they are
 *     or as their fold;
 * until a code point needs more (a mark, a fold of another length, a
 * separator beyond ASCII, a four-byte or ill-formed sequence, a token of a
 * script without spaces to close), which is left to the caller. Returns
 * the offset reached.
 *
 * A run's last character is a segment of its own only if a boundary comes
 * before the code point after it: when that is not known yet (the run
 * reaches the end of the block) or not so (a combining mark follows), the
 * character is left to the caller too. An ASCII separator closes the
 * token even when marks follow it: the fold of its segment starts with a
 * separator (the only compositions of ASCII punctuation, '=', '<' and '>'
 * with U+0338, are symbols).
 *
 * plain2 marks both bytes of the plain two-byte letters starting before
 * limit (simple_masks()).
 *
 * The token's state lives in locals for the loop: stores into the text
 * (char, which may alias anything) would otherwise make the compiler
 * reload it from memory after every character. The text has room for
 * 64 - r more bytes and pieces (reserve_fast). */
static unsigned fast_runs(tokenizer *tk, const block_view *bv, const uint8_t *lower, uint64_t plain2, unsigned r,
                          unsigned limit, int *rc)
{
    const uint64_t ascii = bv->m.ascii, alnum = bv->m.alnum, separators = ascii & ~alnum;
    const uint64_t two = bv->two, three = bv->three;
    const uint8_t *const b = bv->bytes;
    const int tail = bv->tail;
    const size_t pos = bv->pos;
    const nd_normalizer *nz = tk->nz;
    const nd_fold_entry *const table = nz->table;
    const uint64_t *const plain = nz->plain, *const plain_unspaced = nz->plain_unspaced;
    nd_tokens *const out = tk->out;
    char *const text = out->text;
    size_t text_len = out->text_len, word_chars = out->word_chars, unspaced_chars = out->unspaced_chars;
    int open = tk->open, unspaced = tk->unspaced;
    size_t start = tk->start, end = tk->end, norm_start = tk->norm_start, unsure_end = tk->unsure_end;
    while (r < limit) {
        if ((ascii >> r) & 1) {
            int letters = (int)((alnum >> r) & 1);
            unsigned e = r + trailing_zeros(~((letters ? alnum : separators) >> r));
            if (tail && e > limit)
                e = limit; /* separators do not run on into the padding */
            unsigned n = e - r;
            if (e >= 64 && !tail)
                n = 63 - r; /* the last byte's successor is in the next block */
            else if (e < 64 && !((ascii >> e) & 1) && !block_boundary(tk, bv, e))
                n--; /* a combining mark follows the last byte */
            if (n == 0)
                break;
            if (letters) {
                OPEN_TOKEN_AT(pos + r);
                for (unsigned k = 0; k < n; k += 16)
                    memcpy(text + text_len + k, lower + r + k, 16);
                text_len += n;
                word_chars += n;
                end = pos + r + n;
                record_piece(tk, text_len, pos + r, end, 1);
            } else if (open) {
                if (!closes_plainly(tk, unspaced, unsure_end <= norm_start))
                    break; /* nd_tk_close_token() cuts it into words, or checks it */
                open = 0;
                if (push_token(out, start, end, norm_start, text_len - norm_start) != ND_OK) {
                    *rc = ND_ENOMEM;
                    break;
                }
            }
            r += n;
            continue;
        }
        if (((three >> r) & 1) && kept_letter(nz, b + r)) {
            /* a run of letters of a script without spaces that fold to
             * themselves and that word breaking keeps (Han, kana): each a
             * segment of its own, found a stride of letters at a time
             * where nd_kept_leads() knows them from their bytes (Han in the
             * block's bits, one count of trailing zeros; kana and the
             * others one by one), copied from `lower` in one copy
             * (RUN_COPY: the text has room), and, being kept, not checked
             * again when the token closes (unsure_end unchanged). The last
             * one is given back when a code point without a boundary
             * before it follows (as below). */
            const uint64_t han = bv->han;
            unsigned q = r + 3;
            while (q < limit) {
                /* the letters of `han` that follow at q, q + 3, ...: up to
                 * the first place of that stride whose bit is clear (at
                 * most 64: no three-byte sequence starts at 62 or 63) */
                q += trailing_zeros(~(han >> q) & STRIDE3);
                if (!(q < limit && ((three >> q) & 1) && kept_letter(nz, b + q)))
                    break;
                q += 3;
            }
            memcpy(text + text_len, lower + r, RUN_COPY); /* as they are: q - r <= 64 of them */
            unsigned done = block_boundary(tk, bv, q) ? q : q - 3;
            if (done == r)
                break;
            OPEN_TOKEN_AT(pos + r);
            size_t k = (done - r) / 3;
            text_len += done - r;
            word_chars += k;
            unspaced_chars += k;
            unspaced = 1;
            end = pos + done;
            record_piece(tk, text_len, pos + r, end, 1);
            r = done;
            if (done < q)
                break;
            continue;
        }
        /* two- and three-byte characters: q is after the last one taken,
         * done after the last one known to be a segment of its own */
        char *const dst = text + text_len;
        size_t chars = 0, run_unspaced = 0;
        unsigned q = r, done = r;
        {
            /* first the plain two-byte letters (Arabic, Hebrew, small
             * Cyrillic and Greek: each a segment of its own that folds to
             * itself) starting before limit, a run of `plain2` (both bytes
             * of each, simple_masks()), copied in one copy (RUN_COPY;
             * lower holds the block's bytes beyond ASCII as they are) */
            if ((plain2 >> r) & 1)
                q = r + trailing_zeros(~(plain2 >> r));
            if (q > r) {
                memcpy(dst, lower + r, RUN_COPY); /* q - r <= 64 of them */
                chars = (q - r) / 2;
                done = q - 2;
            }
        }
        while (q < limit) {
            unsigned c, n;
            if ((two >> q) & 1) {
                c = (unsigned)(b[q] & 0x1F) << 6 | (b[q + 1] & 0x3F);
                n = 2;
                memcpy(dst + (q - r), b + q, 2);
            } else if (((three >> q) & 1) && (b[q] != 0xE0 || b[q + 1] >= 0xA0)) { /* E0 80..9F: overlong */
                c = three_byte_char(b + q);
                n = 3;
                memcpy(dst + (q - r), b + q, 4); /* as above */
            } else {
                break;
            }
            /* a boundary before c makes the character before it (if any)
             * a segment of its own */
            if (bit_set(plain, c)) {
                done = q;
            } else if (bit_set(plain_unspaced, c)) {
                done = q;
                run_unspaced++;
            } else {
                const nd_fold_entry *f = &table[c];
                if (f->flags & ND_FOLD_BOUNDARY)
                    done = q;
                if ((f->flags & SIMPLE_MASK) != SIMPLE)
                    break;
                memcpy(dst + (q - r), f->utf8, 4); /* n bytes; the text has slack */
                run_unspaced += (f->flags & ND_FOLD_UNSPACED) != 0;
            }
            chars++;
            q += n;
        }
        if (done < q && block_boundary(tk, bv, q))
            done = q;
        if (done < q) {
            /* the last character taken is not a segment of its own: give
             * it back */
            unsigned n, c = block_char(bv, done, &n);
            chars--;
            if (bit_set(plain_unspaced, c) || (!bit_set(plain, c) && (table[c].flags & ND_FOLD_UNSPACED)))
                run_unspaced--;
        }
        if (done == r) {
            /* nothing taken: a separator beyond ASCII (CJK punctuation,
             * a no-break space) that is a segment of its own closes the
             * token as nd_tk_apply_entry() would; anything else is left to
             * the caller */
            unsigned n, c = block_char(bv, r, &n);
            if (q > r || !n || (table[c].flags & (ND_FOLD_KIND_MASK | ND_FOLD_BOUNDARY)) != SEPARATOR ||
                !block_boundary(tk, bv, r + n))
                break;
            if (open) {
                if (!closes_plainly(tk, unspaced, unsure_end <= norm_start))
                    break;
                open = 0;
                if (push_token(out, start, end, norm_start, text_len - norm_start) != ND_OK) {
                    *rc = ND_ENOMEM;
                    break;
                }
            }
            r += n;
            continue;
        }
        OPEN_TOKEN_AT(pos + r);
        text_len += done - r;
        unsure_end = text_len; /* not known to be kept: close_unspaced() checks */
        word_chars += chars;
        end = pos + done;
        if (run_unspaced) {
            unspaced = 1;
            unspaced_chars += run_unspaced;
        }
        record_piece(tk, text_len, pos + r, end, 1);
        r = done;
        if (done < q)
            break;
    }
    out->text_len = text_len;
    out->word_chars = word_chars;
    out->unspaced_chars = unspaced_chars;
    tk->open = open;
    tk->unspaced = unspaced;
    tk->unsure_end = unsure_end;
    tk->start = start;
    tk->end = end;
    tk->norm_start = norm_start;
    return r;
}

#undef OPEN_TOKEN_AT

/* The common case at its cheapest: from block offset r, as long as the
 * bytes are simple (simple_masks), whole words and separator runs by their
 * masks: a word run is copied from `lower` 16 bytes at a time and a
 * separator run closes the token, each boundary found with one count of
 * trailing zeros, without looking at single characters. The run that
 * reaches the first byte that is not simple (byte 63 at most) is taken up
 * to the last code point in it, or after it, before which a boundary
 * comes for sure (next_ok: ASCII, a plain two-byte letter, a kept letter
 * or a separator), the token staying open into the next block; the rest
 * of it is left to fast_runs(), which knows what the code point after it
 * does; so is everything when the token's pieces are kept. A token
 * holding kept letters of a script without spaces (Han, kana: `han`, their
 * first bytes) is closed here only when nd_tk_close_token() would just
 * push it (closes_plainly(): its letters all kept, no gap, words not cut);
 * else the walk stops before the separators that close it. Returns the
 * offset reached, which may be past `limit` (the same tokens as
 * fast_runs() would make; the text has room for 64 - r more bytes). */
static inline __attribute__((always_inline)) unsigned words_loop(tokenizer *tk, const block_view *bv,
                                                                 const uint8_t *lower, uint64_t word, uint64_t simple,
                                                                 uint64_t next_ok, uint64_t han, uint64_t unspaced3,
                                                                 unsigned r, int *rc, const int with_han)
{
    unsigned x = r + trailing_zeros(~(simple >> r)); /* the first byte that is not simple (bit 63 is
                                                      * clear: the counts of trailing zeros below never
                                                      * see 0) */
    if (x <= r + 1)
        return r;
    nd_tokens *const out = tk->out;
    /* room for every token the loop can close: each has a word byte and
     * a separator byte before x <= 64 (so the loop pushes without checks) */
    if (out->count + 32 > out->capacity &&
        nd_grow_huge((void **)&out->items, &out->capacity, out->count + 32, sizeof(nd_token)) != 0) {
        *rc = ND_ENOMEM;
        return r;
    }
    const uint64_t in = ((uint64_t)1 << x) - 1;
    const uint64_t w = word & in;
    /* word bytes not known to be kept by word breaking: beyond ASCII and
     * not of a kept letter (plain two-byte letters) */
    const uint64_t unsure = w & ~bv->m.ascii & ~(with_han ? han | han << 1 | han << 2 : 0);
    char *const text = out->text;
    nd_token *const items = out->items;
    size_t count = out->count, text_len = out->text_len;
    size_t start = tk->start, end = tk->end, norm_start = tk->norm_start, unsure_end = with_han ? tk->unsure_end : 0;
    int open = tk->open, opened = 0, unspaced = with_han && tk->unspaced, gap = with_han && tk->open && tk->gap;
    const size_t pos = bv->pos;
    /* the run that reaches x is taken up to the last code point in it or
     * at x before which a boundary comes for sure (y, when above its
     * start); the rest is left to fast_runs() or the next block */
    const uint64_t ok = next_ok & (((uint64_t)2 << x) - 1) & ~(uint64_t)1;
    const unsigned y = ok ? 63 - (unsigned)__builtin_clzll(ok) : 0;
    unsigned p = r;
    if (!((w >> p) & 1))
        goto separators;
    for (;;) {
        /* a word run from p */
        unsigned e = p + (unsigned)__builtin_ctzll(~(w >> p));
        const int last = e >= x;
        if (last) {
            if (y <= p)
                break; /* what follows decides: fast_runs() */
            e = y;
        }
        if (!open) {
            open = opened = 1;
            start = pos + p;
            norm_start = text_len;
            if (with_han)
                unspaced = gap = 0;
        }
        /* 16 bytes, or (a longer run: Han) 64 in one fixed copy, whose
         * exit a loop of 16 at a time mispredicted (lower has 64 bytes
         * past any offset, the text room for 64 past its end: RUN_COPY) */
        memcpy(text + text_len, lower + p, 16);
        if (e - p > 16)
            memcpy(text + text_len + 16, lower + p + 16, 48);
        text_len += e - p;
        end = pos + e;
        /* letters beyond ASCII in it that are not known to be kept by
         * word breaking (unsure_end, checked when a token holding letters
         * of a script without spaces closes: with Han, of every token;
         * else of the one left open) */
        const uint64_t run = ((uint64_t)1 << (e - p)) - 1; /* e - p < 64 */
        if (with_han) {
            if ((unspaced3 >> p) & run)
                unspaced = 1;
            if ((unsure >> p) & run)
                unsure_end = text_len;
        }
        if (last) {
            if (!with_han && ((unsure >> p) & run))
                tk->unsure_end = text_len;
            p = e;
            break; /* the token stays open */
        }
        p = e;
    separators:
        /* a separator run from p */
        e = p + (unsigned)__builtin_ctzll(w >> p | (uint64_t)1 << 63); /* p + 63 >= x: no word */
        const int last_separators = e >= x;
        if (last_separators) {
            if (y <= p)
                break;
            e = y;
        }
        if (open) {
            if (with_han && unspaced &&
                !(!tk->break_words && (!tk->runs_cut_alike || (unsure_end <= norm_start && !gap))))
                break; /* nd_tk_close_token() cuts it into words, or checks it */
            open = 0;
            nd_token *t = &items[count++];
            t->start = start;
            t->end = end;
            t->norm_start = norm_start;
            t->norm_len = text_len - norm_start;
            t->hash = 0; /* set by nd_hash_tokens() (tokhash.c) once the text is built */
        }
        p = e;
        if (last_separators)
            break;
    }
    if (opened) {
        /* what opening a token sets (open_token) */
        tk->gap = 0;
        tk->nz->piece_count = 0;
        if (!with_han)
            tk->unspaced = 0;
    }
    if (with_han) {
        tk->unspaced = unspaced;
        tk->unsure_end = unsure_end;
    }
    /* the characters of the words taken: [r, p) holds whole word runs,
     * one character a byte but continuation bytes (one count per call,
     * in registers: nd_popcount64) */
    uint64_t taken = (w & ~bv->m.cont) >> r;
    if (p - r < 64)
        taken &= ((uint64_t)1 << (p - r)) - 1;
    out->word_chars += (size_t)nd_popcount64(taken);
    if (with_han)
        out->unspaced_chars += (size_t)nd_popcount64(taken & unspaced3 >> r);
    out->count = count;
    out->text_len = text_len;
    tk->open = open;
    tk->start = start;
    tk->end = end;
    tk->norm_start = norm_start;
    return p;
}

/* words_loop() without what letters of scripts without spaces need where
 * the block has none and the open token holds none (Latin, Arabic,
 * Cyrillic text: each run's checks cost a seventh of their walk). */
static unsigned fast_words(tokenizer *tk, const block_view *bv, const uint8_t *lower, uint64_t word, uint64_t simple,
                           uint64_t next_ok, uint64_t han, uint64_t unspaced3, unsigned r, int *rc)
{
    if (tk->pieces)
        return r;
    if (unspaced3 || (tk->open && tk->unspaced))
        return words_loop(tk, bv, lower, word, simple, next_ok, han, unspaced3, r, rc, 1);
    return words_loop(tk, bv, lower, word, simple, next_ok, 0, 0, r, rc, 0);
}

/* Walk the code points starting in block offsets [0, limit), and any ASCII
 * run that starts there and ends inside the block; *reached receives the
 * offset reached. Offsets past `limit` are left to the next block, so every
 * look at the next code point stays inside this one. */
static int walk_block(tokenizer *tk, const block_view *bv, const uint8_t *lower, unsigned limit, unsigned *reached)
{
    nd_normalizer *nz = tk->nz;
    unsigned r = 0;
    int rc = ND_OK;
    uint64_t word, simple, next_ok, plain2, han, unspaced3;
    simple_masks(&word, &simple, &next_ok, &plain2, &han, &unspaced3, bv, nz, limit, !tk->break_words);
    while (rc == ND_OK && r < limit) {
        size_t next;
        if (nz->segment.len == 0) {
            rc = reserve_fast(tk, r);
            if (rc != ND_OK)
                break;
            unsigned q = fast_words(tk, bv, lower, word, simple, next_ok, han, unspaced3, r, &rc);
            if (rc == ND_OK && q < limit)
                q = fast_runs(tk, bv, lower, plain2, q, limit, &rc);
            if (q > r || rc != ND_OK) {
                r = q;
                continue;
            }
            unsigned cn;
            unsigned c = block_char(bv, r, &cn);
            if (cn) {
                const nd_fold_entry *e = &nz->table[c];
                if ((e->flags & ND_FOLD_KIND_MASK) != ND_FOLD_SLOW && (e->flags & ND_FOLD_BOUNDARY) &&
                    block_boundary(tk, bv, r + cn)) {
                    rc = nd_tk_apply_entry(tk, e, bv->pos + r, bv->pos + r + cn);
                    r += cn;
                    continue;
                }
            }
            if (!tk->pieces) {
                size_t after;
                rc = nd_tk_mark_segment(tk, bv->pos + r, &after);
                if (after > bv->pos + r || rc != ND_OK) {
                    r = (unsigned)(after - bv->pos);
                    continue;
                }
            }
        }
        /* anything else, or a multi-code-point segment pending: one code
         * point the general way */
        rc = nd_tk_handle_char(tk, bv->pos + r, &next);
        r = (unsigned)(next - bv->pos);
    }
    *reached = r;
    return rc;
}

/* Keep x in a general register: an empty asm the compiler cannot see
 * through, so it does not pair x with a neighbour in a vector register. */
#if defined(__GNUC__) || defined(__clang__)
#define SCALAR_VALUE(x) __asm__("" : "+r"(x))
#else
#define SCALAR_VALUE(x) (void)(x)
#endif

int nd_tk_walk_fast(tokenizer *tk)
{
    uint8_t tail[64 + 4];            /* a block's last bytes, zero-padded (4 more: see fast_runs) */
    uint8_t lower[64 + RUN_COPY];    /* RUN_COPY bytes from any offset of the block (fast_runs) */
    memset(lower + 64, 0, RUN_COPY); /* what the scan does not write is copied, never read */
    size_t pos = 0;
    while (pos < tk->len) {
        size_t avail = tk->len - pos;
        block_view bv;
        bv.pos = pos;
        unsigned limit;
        if (avail > 64) {
            bv.bytes = tk->text + pos;
            bv.tail = 0;
            limit = 60; /* the next code point of one starting before 60 begins within 4 bytes */
        } else {
            memcpy(tail, tk->text + pos, avail);
            memset(tail + avail, 0, sizeof tail - avail);
            bv.bytes = tail;
            bv.tail = 1;
            limit = (unsigned)avail;
        }
        tk->nz->scan(&bv.m, lower, bv.bytes);
        /* read one mask at a time: the scan stored them one at a time, and
         * a 16-byte load of two of them (the compiler pairs lead2 and
         * lead3 in one SSE register) cannot be forwarded from those
         * stores; it waited for them to reach the cache (50k CJK
         * documents, perf: a twelfth of this loop's samples on the
         * instruction after it) */
        uint64_t cont = bv.m.cont, lead2 = bv.m.lead2, lead3 = bv.m.lead3;
        SCALAR_VALUE(lead2);
        SCALAR_VALUE(lead3);
        bv.two = lead2 & cont >> 1;
        bv.three = lead3 & cont >> 1 & cont >> 2;
        bv.kept = bv.han = 0;
        if (bv.three) {
            bv.kept = nd_kept_leads(tk->nz, bv.bytes, bv.three);
            bv.han = bv.kept & (limit >= 64 ? ~(uint64_t)0 : ((uint64_t)1 << limit) - 1);
        }
        unsigned reached;
        int rc = walk_block(tk, &bv, lower, limit, &reached);
        if (rc != ND_OK)
            return rc;
        pos += reached;
    }
    return ND_OK;
}
