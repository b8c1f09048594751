/* tokenizer.h - the tokenizer's state, shared by the files that walk a
 * text: normalize.c (the normalizer and the entry points), segment.c (the
 * general path: segments folded by ICU, closing tokens, word breaking),
 * fastpath.c (the 64-byte block loop; fastblock.h, its view of a block),
 * hanleads.c (its Han letters) and
 * marks.c (a letter and its marks). Internal to the library; the small
 * helpers the fast loop calls per run are static inline here so that the
 * split into files costs no calls on the hot path.
 */
#ifndef ND_TOKENIZER_H
#define ND_TOKENIZER_H

#include <stddef.h> /* size_t */
#include <stdint.h> /* uint8_t, uint64_t */

#include <unicode/ubrk.h>  /* UBreakIterator */
#include <unicode/utf16.h> /* U16_NEXT (next_fold_char) */
#include <unicode/utf8.h>  /* U8_APPEND_UNSAFE (next_fold_char) */

#include "alloc.h"
#include "fold.h"
#include "hash.h"
#include "normalize.h"
#include "scan.h"

/* Where a piece of a token's normalized text came from. */
typedef struct {
    size_t norm_end; /* end of the piece in nd_tokens.text */
    size_t orig_start, orig_end;
    int one_to_one; /* normalized byte k is original byte k (same-length folds) */
} piece_map;

struct nd_normalizer {
    nd_profile profile;
    const nd_fold_entry *table;
    const uint64_t *plain, *plain_unspaced, *cut_keeps, *unspaced_kept, *separator; /* bitmaps over the BMP (fold.h) */
    uint32_t kept_lo8, kept_span8; /* the longest run of unspaced_kept as UTF-8 read big-endian: lo, hi - lo */
    nd_folder folder;
    nd_scan_fn scan;        /* block classifier; NULL on the reference path */
    nd_scan_bits2_fn bits2; /* the plain two-byte letters of a block (of the same implementation) */
    nd_u16buf segment;      /* the pending normalization segment */
    piece_map *pieces;      /* for the token being built */
    size_t piece_count, piece_capacity;
    UBreakIterator *words; /* opened on first use */
    nd_u16buf word_text;
    size_t *word_offsets; /* UTF-8 offset of each UTF-16 unit of word_text */
    size_t word_offsets_capacity;
    nd_tokens *unhashed; /* tokens nd_tokenize_runs() left without hashes (nd_normalizer_hash_pending) */
    int leads_avx512;    /* nd_kept_leads() (hanleads.c) with AVX-512 (on the AVX2 path, where the CPU has it) */
    /* tables only scripts without spaces read, after the hot fields above */
    const uint8_t *dict_kind; /* nd_fold_dict_kind of every BMP code point (fold.h) */
    const uint8_t *mark_ccc;  /* nd_fold_stable_mark of every BMP code point (fold.h) */
};

/* Bytes kept free after the normalized text: runs are copied 16 bytes at a
 * time, table folds 14 bytes at a time. */
enum { TEXT_SLACK = ND_SCAN_LOWER_PAD };

typedef struct {
    nd_normalizer *nz;
    nd_tokens *out;
    const uint8_t *text;
    size_t len;
    int break_words;        /* cut unspaced tokens into words */
    int pieces;             /* keep the pieces' map (needed to cut words) */
    int runs_cut_alike;     /* cutting the uncut runs would keep their text (close_unspaced) */
    int open;               /* is a token being built? */
    int unspaced;           /* does it hold letters of a script without spaces? */
    int gap;                /* has it grown by a character that folds to nothing? */
    size_t start, end;      /* its original byte span so far */
    size_t norm_start;      /* where its normalized text starts in out->text */
    size_t unsure_end;      /* end in out->text of the last characters not known to be ones word breaking
                             * keeps (nd_fold_cut_keeps; ASCII letters and digits are): at most norm_start,
                             * close_unspaced() need not check the token's characters again */
    size_t seg_start;       /* original offset of the pending segment */
    size_t seg_nonstarters; /* its code points after the first */
} tokenizer;

/* Open a token at original offset `start`. */
static inline void open_token(tokenizer *tk, size_t start)
{
    tk->open = 1;
    tk->unspaced = 0;
    tk->start = start;
    tk->norm_start = tk->out->text_len;
    tk->gap = 0;
    tk->nz->piece_count = 0;
}

/* Make room for n more normalized bytes (and their slack) and one more
 * piece. @return ND_OK or ND_ENOMEM. */
static inline int reserve(tokenizer *tk, size_t n)
{
    nd_tokens *out = tk->out;
    nd_normalizer *nz = tk->nz;
    if (tk->pieces && nz->piece_count == nz->piece_capacity &&
        nd_grow((void **)&nz->pieces, &nz->piece_capacity, nz->piece_count + 1, sizeof *nz->pieces) != 0)
        return ND_ENOMEM;
    if (out->text_len + n + TEXT_SLACK > out->text_capacity &&
        nd_grow_huge((void **)&out->text, &out->text_capacity, out->text_len + n + TEXT_SLACK, 1) != 0)
        return ND_ENOMEM;
    return ND_OK;
}

/* Room for what a fast path appends from block offset r on, without
 * checking each time: at most 64 - r normalized bytes (ASCII runs and
 * same-length folds never grow) in at most 64 - r pieces, and 64 more
 * bytes that a run's copy may write past its end (fastpath.c's RUN_COPY:
 * the next run writes over them). */
static inline int reserve_fast(tokenizer *tk, unsigned r)
{
    nd_normalizer *nz = tk->nz;
    if (tk->pieces && nz->piece_count + 64 - r > nz->piece_capacity &&
        nd_grow((void **)&nz->pieces, &nz->piece_capacity, nz->piece_count + 64 - r, sizeof *nz->pieces) != 0)
        return ND_ENOMEM;
    return reserve(tk, 64 - r + 64);
}

/* Note that the token's normalized text up to norm_end came from original
 * bytes [start, end) (when pieces are kept, tk->pieces). A one-to-one
 * piece right after another that ends where it starts extends it. */
static inline void record_piece(tokenizer *tk, size_t norm_end, size_t start, size_t end, int one_to_one)
{
    if (!tk->pieces)
        return;
    nd_normalizer *nz = tk->nz;
    if (one_to_one && nz->piece_count > 0) {
        piece_map *last = &nz->pieces[nz->piece_count - 1];
        if (last->one_to_one && last->orig_end == start) {
            last->norm_end = norm_end;
            last->orig_end = end;
            return;
        }
    }
    piece_map *p = &nz->pieces[nz->piece_count++];
    p->norm_end = norm_end;
    p->orig_start = start;
    p->orig_end = end;
    p->one_to_one = one_to_one;
}

/* Make room for n more normalized bytes and one more piece, opening a token
 * at original offset `start` if none is open. Returns where the n bytes go,
 * or NULL when out of memory. end_piece() completes the piece. */
static inline char *begin_piece(tokenizer *tk, size_t n, size_t start)
{
    if (reserve(tk, n) != ND_OK)
        return NULL;
    if (!tk->open)
        open_token(tk, start);
    return tk->out->text + tk->out->text_len;
}

/* Record n bytes written after begin_piece(), coming from original bytes
 * [start, end) and holding `chars` characters. */
static inline void end_piece(tokenizer *tk, size_t n, size_t start, size_t end, size_t chars, int one_to_one)
{
    nd_tokens *out = tk->out;
    out->text_len += n;
    out->word_chars += chars;
    tk->end = end;
    tk->unsure_end = out->text_len; /* run_cut_keeps_all() checks these characters */
    record_piece(tk, out->text_len, start, end, one_to_one);
}

/* What a character of a fold is to the token: a word character, one of a
 * script written without spaces, or a separator. */
enum { FOLD_CHAR_SEP, FOLD_CHAR_WORD, FOLD_CHAR_UNSPACED };

/* The character of the fold folded[*i..len) at *i, its UTF-8 in utf8[0..*n)
 * and what it is to the token (as nd_tk_flush_segment() feeds a fold and
 * nd_fold_short_segment() keeps one); *i moves past it. */
static inline int next_fold_char(const nd_u16buf *folded, size_t *i, char utf8[4], size_t *n)
{
    UChar32 c;
    U16_NEXT(folded->data, *i, folded->len, c);
    *n = 0;
    if (!nd_fold_is_word_char(c))
        return FOLD_CHAR_SEP;
    U8_APPEND_UNSAFE(utf8, *n, c);
    return nd_fold_is_unspaced(c) ? FOLD_CHAR_UNSPACED : FOLD_CHAR_WORD;
}

static inline int push_token(nd_tokens *out, size_t start, size_t end, size_t norm_start, size_t norm_len)
{
    if (out->count == out->capacity &&
        nd_grow_huge((void **)&out->items, &out->capacity, out->count + 1, sizeof(nd_token)) != 0)
        return ND_ENOMEM;
    nd_token *t = &out->items[out->count++];
    t->start = start;
    t->end = end;
    t->norm_start = norm_start;
    t->norm_len = norm_len;
    t->hash = 0; /* set by nd_hash_tokens() (tokhash.c) once the text is built */
    return ND_OK;
}

static inline int bit_set(const uint64_t *bits, unsigned c)
{
    return (int)((bits[c >> 6] >> (c & 63)) & 1);
}

/* May the open token, whose letters are of a script without spaces when
 * `unspaced` and all kept by word breaking for sure when `kept`, be closed
 * by a plain push_token() (what nd_tk_close_token() would do), without
 * cutting it into words or checking its characters? */
static inline int closes_plainly(const tokenizer *tk, int unspaced, int kept)
{
    return !unspaced || (!tk->break_words && (!tk->runs_cut_alike || (kept && !tk->gap)));
}

/* segment.c: the general path */

/* Close the open token (if any): push it, cut into words when it holds
 * letters of a script without spaces and words are wanted. */
int nd_tk_close_token(tokenizer *tk);

/* A code point that is a segment of its own, at original bytes [start,
 * end), by its table entry (kind ND_FOLD_WORD, ND_FOLD_SEP or
 * ND_FOLD_EMPTY). */
int nd_tk_apply_entry(tokenizer *tk, const nd_fold_entry *e, size_t start, size_t end);

/* Fold the pending segment, which spans [seg_start, end) of the original
 * text, and feed its output to the token; the segment is then empty. */
int nd_tk_flush_segment(tokenizer *tk, size_t end);

/* Does a boundary come before the code point at text[i] (or is i the end)? */
int nd_tk_boundary_at(tokenizer *tk, size_t i);

/* The general step: the code point at text[i], through segments; *next
 * receives the offset after it. */
int nd_tk_handle_char(tokenizer *tk, size_t i, size_t *next);

/* The whole text the general way (the reference path). */
int nd_tk_walk_reference(tokenizer *tk);

/* marks.c: at text[i], with no segment pending and no pieces kept, a BMP
 * code point and the two- or three-byte marks after it (up to
 * ND_FOLD_SHORT_MAX in all) followed by a boundary: fed to the token as the
 * general path would, *next set to the offset after them (else to i: the
 * text there is not such). @return ND_OK or ND_ENOMEM, ND_EICU. */
int nd_tk_mark_segment(tokenizer *tk, size_t i, size_t *next);

/* marks.c: the fold of the segment cps[0..n) (2 <= n <= ND_FOLD_SHORT_MAX
 * BMP code points, no surrogates), as nd_fold_segment() makes it,
 * classified: ND_FOLD_WORD when every character of it is a word character
 * and it fits (utf8, len, chars; unspaced counts those of a script written
 * without spaces, nd_fold_is_unspaced), ND_FOLD_SEP when every one
 * separates words, ND_FOLD_EMPTY when it is empty, ND_FOLD_SLOW otherwise.
 * Kept in the folder, so that the segments a text repeats (an Arabic letter
 * and its harakat, a Latin letter and a combining accent, a Thai consonant
 * and its vowel sign and tone mark) are folded by ICU once.
 * *out stays valid until the next call. @return ND_OK, ND_ENOMEM or
 * ND_EICU. */
int nd_fold_short_segment(nd_folder *folder, const uint16_t *cps, size_t n, const nd_fold_short **out);

/* fastpath.c: the whole text by 64-byte blocks (nz->scan set). */
int nd_tk_walk_fast(tokenizer *tk);

/* The offsets in the 64-byte block at `block` of the three-byte sequences
 * (of those set in `three`) that are kept letters of nz's longest range
 * (unspaced_kept, fold.h), as far as their first two bytes tell (a subset:
 * the others are asked one by one). hanleads.c. */
uint64_t nd_kept_leads(const nd_normalizer *nz, const uint8_t *block, uint64_t three);

#endif /* ND_TOKENIZER_H */
