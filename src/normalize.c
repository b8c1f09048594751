/* normalize.c - UTF-8 text to normalized word tokens, with exact byte spans.
 *
 * What a token is. The text is read as Unicode (ill-formed UTF-8 as U+FFFD),
 * folded by the profile (NFKC_Casefold plus the profile's own steps, see
 * fold.c), and cut into words: maximal runs of letters, marks and numbers
 * (general categories L*, M*, N*). Everything else (spaces, punctuation,
 * symbols, emoji, U+FFFD) separates words. Characters the fold removes
 * (default-ignorables such as ZWJ and soft hyphen, Arabic tashkeel and
 * tatweel, ...) neither make nor split a word. Every token keeps the byte
 * span it came from in the original text, and its XXH3 hash.
 *
 * The definition (the reference path). The text is cut into normalization
 * segments (a code point with a boundary before it and the code points up
 * to the next boundary; fold.c explains why folding segments one by one
 * equals folding the text), each segment is folded by ICU, and each output
 * code point either extends the open token or closes it. A segment's
 * output characters get the segment's whole original span, and segment
 * edges never cut a character or a combining sequence. One cap: a segment
 * holds at most ND_MAX_NONSTARTERS code points after its first (Unicode's
 * stream-safe format), so that a letter followed by thousands of marks is
 * not one segment that ICU reorders in quadratic time; no real text comes
 * near it.
 *
 * The fast paths, which give the same result (tests/test_fastpath.c and
 * tests/fuzz/fuzz_tokenize.c compare every path with the reference):
 *   - A code point c is a segment of its own when a boundary comes before
 *     it and before the next one; then its fold is looked up in the
 *     profile's table of BMP code points (fold.c), built by the same fold.
 *   - The text is walked 64 bytes at a time with five bit masks from
 *     scan.c (SSE2/AVX2, or portable C), in one loop (fast_runs) that keeps
 *     the token in locals: a run of ASCII letters and digits is found with
 *     one count of trailing zeros and copied lowered 16 bytes at a time; a
 *     run of ASCII separators closes the token at once; a run of two- and
 *     three-byte letters (a lead bit and continuation bits: no validation
 *     branches) is copied as it is, one bit of the table's bitmap telling
 *     that a letter folds to itself (Arabic, Hebrew, Han, kana, small
 *     Cyrillic and Greek), or letter by letter from the table when it
 *     folds to another letter of the same length (capitals). ASCII always
 *     has a boundary before it, so only the last character of a run that a
 *     code point without a boundary follows (a combining mark) goes the
 *     slow way.
 *   - Everything else (marks, folds of other lengths, separators beyond
 *     ASCII, four-byte characters, ill-formed bytes, multi-code-point
 *     segments) goes through handle_char(): decode, look the boundary up,
 *     and either take the table or build a segment and fold it with ICU.
 *
 * Scripts written without spaces. A run of Han, kana, Thai, Lao, Khmer or
 * Myanmar letters is one "word" by the rule above. nd_tokenize() cuts such
 * a token again with ICU's word break iterator (UBRK_WORD), whose
 * dictionaries split Chinese, Japanese, Thai, Lao, Khmer and Burmese into
 * words; nd_tokenize_runs() leaves it whole (character shingles do not need
 * words). While a token is built, a list of pieces records which original
 * bytes each piece of its normalized text came from (a run of characters
 * whose folds keep their UTF-8 length is one piece, mapped byte for byte),
 * so the sub-words keep exact byte spans; the words come in order, so one
 * cursor walks the pieces once per token: linear in the run's length.
 */
#include "normalize.h"

#include <pthread.h> /* pthread_once (versions) */
#include <string.h>  /* memcpy, memset */

#include <unicode/ubrk.h>     /* ubrk_open, ubrk_setText, ubrk_next */
#include <unicode/utf16.h>    /* U16_APPEND_UNSAFE */
#include <unicode/utf8.h>     /* U8_NEXT, U8_APPEND_UNSAFE */
#include <unicode/uversion.h> /* u_getUnicodeVersion, u_getVersion, u_versionToString */

#include "alloc.h"
#include "fold.h"
#include "hash.h"
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
    const uint64_t *plain, *plain_unspaced, *cut_keeps; /* bitmaps over the BMP (fold.h) */
    nd_folder folder;
    nd_scan_fn scan;   /* block classifier; NULL on the reference path */
    nd_u16buf segment; /* the pending normalization segment */
    piece_map *pieces; /* for the token being built */
    size_t piece_count, piece_capacity;
    UBreakIterator *words; /* opened on first use */
    nd_u16buf word_text;
    size_t *word_offsets; /* UTF-8 offset of each UTF-16 unit of word_text */
    size_t word_offsets_capacity;
};

int nd_normalizer_new(nd_normalizer **out, nd_profile profile)
{
    nd_fold_tables tables;
    int rc = nd_fold_tables_get(&tables, profile);
    if (rc != ND_OK)
        return rc;
    nd_normalizer *nz = nd_calloc(1, sizeof *nz);
    if (!nz)
        return ND_ENOMEM;
    nz->profile = profile;
    nz->table = tables.entry;
    nz->plain = tables.plain;
    nz->plain_unspaced = tables.plain_unspaced;
    nz->cut_keeps = tables.cut_keeps;
    nz->scan = nd_scan_get(nd_scan_best());
    rc = nd_folder_init(&nz->folder, profile);
    if (rc != ND_OK) {
        nd_free(nz);
        return rc;
    }
    *out = nz;
    return ND_OK;
}

int nd_normalizer_set_path(nd_normalizer *nz, nd_tokenize_path path)
{
    nd_scan_fn scan = NULL;
    switch (path) {
    case ND_PATH_BEST:
        scan = nd_scan_get(nd_scan_best());
        break;
    case ND_PATH_SCALAR:
        scan = nd_scan_get(ND_SCAN_SCALAR);
        break;
    case ND_PATH_SSE2:
        scan = nd_scan_get(ND_SCAN_SSE2);
        break;
    case ND_PATH_AVX2:
        scan = nd_scan_get(ND_SCAN_AVX2);
        break;
    case ND_PATH_REFERENCE:
        nz->scan = NULL;
        return ND_OK;
    default:
        break;
    }
    if (!scan)
        return ND_EINVAL;
    nz->scan = scan;
    return ND_OK;
}

void nd_normalizer_free(nd_normalizer *nz)
{
    if (!nz)
        return;
    nd_u16buf_free(&nz->segment);
    nd_folder_free(&nz->folder);
    nd_free(nz->pieces);
    if (nz->words)
        ubrk_close(nz->words);
    nd_u16buf_free(&nz->word_text);
    nd_free(nz->word_offsets);
    nd_free(nz);
}

void nd_tokens_free(nd_tokens *tokens)
{
    if (!tokens)
        return;
    nd_free(tokens->items);
    nd_free(tokens->text);
    *tokens = (nd_tokens)ND_TOKENS_INIT;
}

/* ****  Building tokens  **** */

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
    size_t seg_start;       /* original offset of the pending segment */
    size_t seg_nonstarters; /* its code points after the first */
} tokenizer;

/* Open a token at original offset `start`. */
static void open_token(tokenizer *tk, size_t start)
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
static int reserve(tokenizer *tk, size_t n)
{
    nd_tokens *out = tk->out;
    nd_normalizer *nz = tk->nz;
    if (tk->pieces && nz->piece_count == nz->piece_capacity &&
        nd_grow((void **)&nz->pieces, &nz->piece_capacity, nz->piece_count + 1, sizeof *nz->pieces) != 0)
        return ND_ENOMEM;
    if (out->text_len + n + TEXT_SLACK > out->text_capacity &&
        nd_grow((void **)&out->text, &out->text_capacity, out->text_len + n + TEXT_SLACK, 1) != 0)
        return ND_ENOMEM;
    return ND_OK;
}

/* Room for what a fast path appends from block offset r on, without
 * checking each time: at most 64 - r normalized bytes (ASCII runs and
 * same-length folds never grow) in at most 64 - r pieces. */
static int reserve_fast(tokenizer *tk, unsigned r)
{
    nd_normalizer *nz = tk->nz;
    if (tk->pieces && nz->piece_count + 64 - r > nz->piece_capacity &&
        nd_grow((void **)&nz->pieces, &nz->piece_capacity, nz->piece_count + 64 - r, sizeof *nz->pieces) != 0)
        return ND_ENOMEM;
    return reserve(tk, 64 - r);
}

/* Make room for n more normalized bytes and one more piece, opening a token
 * at original offset `start` if none is open. Returns where the n bytes go,
 * or NULL when out of memory. end_piece() completes the piece. */
static char *begin_piece(tokenizer *tk, size_t n, size_t start)
{
    if (reserve(tk, n) != ND_OK)
        return NULL;
    if (!tk->open)
        open_token(tk, start);
    return tk->out->text + tk->out->text_len;
}

/* Note that the token's normalized text up to norm_end came from original
 * bytes [start, end) (when pieces are kept, tk->pieces). A one-to-one
 * piece right after another that ends where it starts extends it. */
static void record_piece(tokenizer *tk, size_t norm_end, size_t start, size_t end, int one_to_one)
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

/* Record n bytes written after begin_piece(), coming from original bytes
 * [start, end) and holding `chars` characters. */
static void end_piece(tokenizer *tk, size_t n, size_t start, size_t end, size_t chars, int one_to_one)
{
    nd_tokens *out = tk->out;
    out->text_len += n;
    out->word_chars += chars;
    tk->end = end;
    record_piece(tk, out->text_len, start, end, one_to_one);
}

/* Append one word character's fold (n bytes) from original bytes [start, end). */
static int append_char(tokenizer *tk, const char *utf8, size_t n, size_t start, size_t end)
{
    char *dst = begin_piece(tk, n, start);
    if (!dst)
        return ND_ENOMEM;
    memcpy(dst, utf8, n);
    end_piece(tk, n, start, end, 1, 0);
    return ND_OK;
}

static inline int push_token(nd_tokens *out, size_t start, size_t end, size_t norm_start, size_t norm_len)
{
    if (out->count == out->capacity &&
        nd_grow((void **)&out->items, &out->capacity, out->count + 1, sizeof(nd_token)) != 0)
        return ND_ENOMEM;
    nd_token *t = &out->items[out->count++];
    t->start = start;
    t->end = end;
    t->norm_start = norm_start;
    t->norm_len = norm_len;
    t->hash = nd_hash64(out->text + norm_start, norm_len, 0);
    return ND_OK;
}

/* The original span of normalized bytes [a, b) of the current token.
 * Successive calls ask for successive words, so the search resumes at
 * *cursor (a piece index) and the pieces are walked once per token. */
static void original_span(const nd_normalizer *nz, size_t *cursor, size_t a, size_t b, size_t *start, size_t *end)
{
    size_t i = *cursor;
    while (i + 1 < nz->piece_count && nz->pieces[i].norm_end <= a)
        i++;
    const piece_map *p = &nz->pieces[i];
    *start = p->one_to_one ? p->orig_end - (p->norm_end - a) : p->orig_start;
    while (i + 1 < nz->piece_count && nz->pieces[i].norm_end < b)
        i++;
    p = &nz->pieces[i];
    *end = p->one_to_one ? p->orig_end - (p->norm_end - b) : p->orig_end;
    *cursor = i;
}

/* Cut the current token (text [norm_start, text_len)) into words with ICU's
 * word break iterator and push each word. */
static int push_word_broken(tokenizer *tk)
{
    nd_normalizer *nz = tk->nz;
    nd_tokens *out = tk->out;
    const char *utf8 = out->text + tk->norm_start;
    size_t len = out->text_len - tk->norm_start;
    if (len > INT32_MAX / 2)
        return ND_EINVAL;
    if (nd_u16buf_reserve(&nz->word_text, len + 1) != ND_OK ||
        nd_grow((void **)&nz->word_offsets, &nz->word_offsets_capacity, len + 2, sizeof(size_t)) != 0)
        return ND_ENOMEM;
    size_t i = 0, n16 = 0;
    while (i < len) {
        UChar32 c;
        size_t at = i;
        U8_NEXT_UNSAFE((const uint8_t *)utf8, i, c);
        size_t before = n16;
        U16_APPEND_UNSAFE(nz->word_text.data, n16, c);
        for (size_t k = before; k < n16; k++)
            nz->word_offsets[k] = at;
    }
    nz->word_offsets[n16] = len;
    UErrorCode status = U_ZERO_ERROR;
    if (!nz->words) {
        nz->words = ubrk_open(UBRK_WORD, "", NULL, 0, &status);
        if (U_FAILURE(status))
            return ND_EICU;
    }
    ubrk_setText(nz->words, nz->word_text.data, (int32_t)n16, &status);
    if (U_FAILURE(status))
        return ND_EICU;
    size_t cursor = 0;
    int32_t prev = ubrk_first(nz->words);
    for (int32_t next = ubrk_next(nz->words); next != UBRK_DONE; next = ubrk_next(nz->words)) {
        if (ubrk_getRuleStatus(nz->words) != UBRK_WORD_NONE) {
            size_t a = nz->word_offsets[prev], b = nz->word_offsets[next];
            size_t start, end;
            original_span(nz, &cursor, tk->norm_start + a, tk->norm_start + b, &start, &end);
            int rc = push_token(out, start, end, tk->norm_start + a, b - a);
            if (rc != ND_OK)
                return rc;
        }
        prev = next;
    }
    return ND_OK;
}

static inline int bit_set(const uint64_t *bits, unsigned c)
{
    return (int)((bits[c >> 6] >> (c & 63)) & 1);
}

static int is_han(UChar32 c)
{
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0xF900 && c <= 0xFAFF);
}

/* Would ICU's word breaking keep every character of the current token (a
 * run of a script without spaces, not cut)? Only then are the words it
 * cuts the run into, joined, the run itself, which character shingles
 * read. Checked character by character (nd_fold_cut_keeps). */
static int run_cut_keeps_all(const tokenizer *tk)
{
    const nd_normalizer *nz = tk->nz;
    const uint8_t *s = (const uint8_t *)tk->out->text + tk->norm_start;
    size_t len = tk->out->text_len - tk->norm_start;
    size_t i = 0;
    UChar32 prev = 0;
    while (i < len) {
        UChar32 c;
        U8_NEXT_UNSAFE(s, i, c);
        int kept = c <= 0xFFFF && (nz->scan ? bit_set(nz->cut_keeps, (unsigned)c) : nd_fold_cut_keeps(c));
        if (!kept && !((c == 0x3005 || c == 0x303B) && is_han(prev)))
            return 0;
        prev = c;
    }
    return 1;
}

/* Close a token holding letters of a script without spaces. */
static int close_unspaced(tokenizer *tk)
{
    if (tk->break_words)
        return push_word_broken(tk);
    /* a token with a gap (a character folded to nothing, such as a soft
     * hyphen) may be cut there into two words with a gap between their
     * spans, which character shingles read as a space */
    if (tk->runs_cut_alike && (tk->gap || !run_cut_keeps_all(tk)))
        tk->runs_cut_alike = 0;
    return push_token(tk->out, tk->start, tk->end, tk->norm_start, tk->out->text_len - tk->norm_start);
}

static inline int close_token(tokenizer *tk)
{
    if (!tk->open)
        return ND_OK;
    tk->open = 0;
    if (tk->unspaced)
        return close_unspaced(tk);
    return push_token(tk->out, tk->start, tk->end, tk->norm_start, tk->out->text_len - tk->norm_start);
}

/* ****  Segments  **** */

static int segment_append(nd_u16buf *seg, UChar32 c)
{
    if (nd_u16buf_reserve(seg, seg->len + 2) != ND_OK)
        return ND_ENOMEM;
    U16_APPEND_UNSAFE(seg->data, seg->len, c);
    return ND_OK;
}

/* A code point that is a segment of its own, at original bytes [start,
 * end), by its table entry (kind ND_FOLD_WORD, ND_FOLD_SEP or
 * ND_FOLD_EMPTY). */
static int apply_entry(tokenizer *tk, const nd_fold_entry *e, size_t start, size_t end)
{
    switch (e->flags & ND_FOLD_KIND_MASK) {
    case ND_FOLD_WORD: {
        char *dst = begin_piece(tk, e->len, start); /* may open the token */
        if (!dst)
            return ND_ENOMEM;
        memcpy(dst, e->utf8, sizeof e->utf8); /* fixed size: the text has slack */
        end_piece(tk, e->len, start, end, 1, (e->flags & ND_FOLD_SAME_LENGTH) != 0);
        if (e->flags & ND_FOLD_UNSPACED) {
            tk->unspaced = 1;
            tk->out->unspaced_chars++;
        }
        return ND_OK;
    }
    case ND_FOLD_SEP:
        return close_token(tk);
    default: /* ND_FOLD_EMPTY */
        if (tk->open) {
            tk->end = end;
            tk->gap = 1;
        }
        return ND_OK;
    }
}

/* Fold the pending segment, which spans [seg_start, end) of the original
 * text, and feed its output to the token; the segment is then empty. */
static int flush_segment(tokenizer *tk, size_t end)
{
    nd_normalizer *nz = tk->nz;
    nd_u16buf *seg = &nz->segment;
    size_t start = tk->seg_start;
    size_t seg_len = seg->len;
    seg->len = 0;
    int rc;
    if (seg_len == 1) {
        /* one BMP code point: its entry, from the table or (reference path)
         * made by ICU now */
        nd_fold_entry made;
        const nd_fold_entry *e = &made;
        if (nz->scan) {
            e = &nz->table[seg->data[0]];
        } else {
            rc = nd_fold_entry_of(&made, &nz->folder, seg->data[0]);
            if (rc != ND_OK)
                return rc;
        }
        if ((e->flags & ND_FOLD_KIND_MASK) != ND_FOLD_SLOW)
            return apply_entry(tk, e, start, end);
    }
    rc = nd_fold_segment(&nz->folder, seg->data, seg_len);
    if (rc != ND_OK)
        return rc;
    const nd_u16buf *folded = &nz->folder.a;
    if (folded->len == 0 && tk->open) {
        tk->end = end;
        tk->gap = 1;
    }
    size_t i = 0;
    while (i < folded->len) {
        UChar32 c;
        U16_NEXT(folded->data, i, folded->len, c);
        if (nd_fold_is_word_char(c)) {
            char utf8[4];
            size_t n = 0;
            U8_APPEND_UNSAFE(utf8, n, c);
            rc = append_char(tk, utf8, n, start, end);
            if (nd_fold_is_unspaced(c)) {
                tk->unspaced = 1;
                tk->out->unspaced_chars++;
            }
        } else {
            rc = close_token(tk);
        }
        if (rc != ND_OK)
            return rc;
    }
    return ND_OK;
}

/* ****  Code points  **** */

/* The code point at text[i] and its length in bytes; ill-formed input is
 * U+FFFD (ICU's maximal subparts), counted in out->invalid_utf8 when
 * `count` is set. */
static UChar32 decode(tokenizer *tk, size_t i, size_t *n, int count)
{
    uint8_t b = tk->text[i];
    if (b < 0x80) {
        *n = 1;
        return b;
    }
    int32_t j = 0;
    int32_t avail = (tk->len - i) > 4 ? 4 : (int32_t)(tk->len - i);
    UChar32 c;
    U8_NEXT(tk->text + i, j, avail, c);
    *n = (size_t)j;
    if (c < 0) {
        c = 0xFFFD;
        if (count)
            tk->out->invalid_utf8++;
    }
    return c;
}

static int boundary_before(const nd_normalizer *nz, UChar32 c)
{
    if (c <= 0xFFFF && nz->scan)
        return (nz->table[c].flags & ND_FOLD_BOUNDARY) != 0;
    return nd_fold_boundary_before(&nz->folder, c);
}

/* Does a boundary come before the code point at text[i] (or is i the end)? */
static int boundary_at(tokenizer *tk, size_t i)
{
    if (i >= tk->len || tk->text[i] < 0x80)
        return 1;
    size_t n;
    return boundary_before(tk->nz, decode(tk, i, &n, 0));
}

/* The general step: the code point at text[i], through segments; *next
 * receives the offset after it. */
static int handle_char(tokenizer *tk, size_t i, size_t *next)
{
    nd_normalizer *nz = tk->nz;
    nd_u16buf *seg = &nz->segment;
    size_t n;
    UChar32 c = decode(tk, i, &n, 1);
    *next = i + n;
    int boundary = boundary_before(nz, c);
    if (seg->len > 0) {
        if (!boundary && tk->seg_nonstarters < ND_MAX_NONSTARTERS) {
            tk->seg_nonstarters++;
            return segment_append(seg, c);
        }
        int rc = flush_segment(tk, i);
        if (rc != ND_OK)
            return rc;
    }
    if (boundary && nz->scan && c <= 0xFFFF && boundary_at(tk, i + n)) {
        const nd_fold_entry *e = &nz->table[c];
        if ((e->flags & ND_FOLD_KIND_MASK) != ND_FOLD_SLOW)
            return apply_entry(tk, e, i, i + n);
    }
    tk->seg_start = i;
    tk->seg_nonstarters = 0;
    return segment_append(seg, c);
}

/* ****  Walking the text  **** */

static unsigned trailing_zeros(uint64_t x)
{
    return x ? (unsigned)__builtin_ctzll(x) : 64;
}

/* Bytes [0, 64) of a block classified by scan.c, for the fast paths. */
typedef struct {
    nd_scan_masks m;
    uint64_t two;         /* a lead byte and a continuation start here */
    uint64_t three;       /* a three-byte lead and two continuations start here */
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

/* Does a boundary come before the code point at block offset q? */
static inline int block_boundary(tokenizer *tk, const block_view *bv, unsigned q)
{
    if (q >= 64 || ((bv->m.ascii >> q) & 1))
        return 1; /* ASCII, or (in a tail) the end of the text */
    unsigned n;
    unsigned c = block_char(bv, q, &n);
    if (n)
        return (tk->nz->table[c].flags & ND_FOLD_BOUNDARY) != 0;
    return boundary_at(tk, bv->pos + q);
}

enum {
    /* a code point whose fold is one word character as long as itself */
    SIMPLE = ND_FOLD_WORD | ND_FOLD_BOUNDARY | ND_FOLD_SAME_LENGTH,
    SIMPLE_MASK = ND_FOLD_KIND_MASK | ND_FOLD_BOUNDARY | ND_FOLD_SAME_LENGTH
};

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
 * The token's state lives in locals for the loop: stores into the text
 * (char, which may alias anything) would otherwise make the compiler
 * reload it from memory after every character. The text has room for
 * 64 - r more bytes and pieces (reserve_fast). */
static unsigned fast_runs(tokenizer *tk, const block_view *bv, const uint8_t *lower, unsigned r, unsigned limit,
                          int *rc)
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
    size_t start = tk->start, end = tk->end, norm_start = tk->norm_start;
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
                if (!open) {
                    open = 1;
                    unspaced = 0;
                    start = pos + r;
                    norm_start = text_len;
                    tk->gap = 0;
                    tk->nz->piece_count = 0;
                }
                for (unsigned k = 0; k < n; k += 16)
                    memcpy(text + text_len + k, lower + r + k, 16);
                text_len += n;
                word_chars += n;
                end = pos + r + n;
                record_piece(tk, text_len, pos + r, end, 1);
            } else if (open) {
                if (unspaced)
                    break; /* close_token() cuts it into words, or checks it */
                open = 0;
                if (push_token(out, start, end, norm_start, text_len - norm_start) != ND_OK) {
                    *rc = ND_ENOMEM;
                    break;
                }
            }
            r += n;
            continue;
        }
        /* two- and three-byte characters: q is after the last one taken,
         * done after the last one known to be a segment of its own */
        char *const dst = text + text_len;
        size_t chars = 0, run_unspaced = 0;
        unsigned q = r, done = r;
        for (;;) {
            unsigned c, n;
            if (q < 64 && ((two >> q) & 1)) {
                c = (unsigned)(b[q] & 0x1F) << 6 | (b[q + 1] & 0x3F);
                n = 2;
                memcpy(dst + (q - r), b + q, 2);
            } else if (q < 64 && ((three >> q) & 1) && (b[q] != 0xE0 || b[q + 1] >= 0xA0)) {
                c = (unsigned)(b[q] & 0x0F) << 12 | (unsigned)(b[q + 1] & 0x3F) << 6 | (b[q + 2] & 0x3F);
                n = 3;
                memcpy(dst + (q - r), b + q, 3);
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
            if (q >= limit)
                break;
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
        if (done == r)
            break;
        if (!open) {
            open = 1;
            unspaced = 0;
            start = pos + r;
            norm_start = text_len;
            tk->gap = 0;
            tk->nz->piece_count = 0;
        }
        text_len += done - r;
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
    tk->start = start;
    tk->end = end;
    tk->norm_start = norm_start;
    return r;
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
    while (rc == ND_OK && r < limit) {
        size_t next;
        if (nz->segment.len == 0) {
            rc = reserve_fast(tk, r);
            if (rc != ND_OK)
                break;
            unsigned q = fast_runs(tk, bv, lower, r, limit, &rc);
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
                    rc = apply_entry(tk, e, bv->pos + r, bv->pos + r + cn);
                    r += cn;
                    continue;
                }
            }
        }
        /* anything else, or a multi-code-point segment pending: one code
         * point the general way */
        rc = handle_char(tk, bv->pos + r, &next);
        r = (unsigned)(next - bv->pos);
    }
    *reached = r;
    return rc;
}

static int walk_fast(tokenizer *tk)
{
    uint8_t tail[64];
    uint8_t lower[64 + ND_SCAN_LOWER_PAD];
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
            memset(tail + avail, 0, 64 - avail);
            bv.bytes = tail;
            bv.tail = 1;
            limit = (unsigned)avail;
        }
        tk->nz->scan(&bv.m, lower, bv.bytes);
        bv.two = bv.m.lead2 & bv.m.cont >> 1;
        bv.three = bv.m.lead3 & bv.m.cont >> 1 & bv.m.cont >> 2;
        unsigned reached;
        int rc = walk_block(tk, &bv, lower, limit, &reached);
        if (rc != ND_OK)
            return rc;
        pos += reached;
    }
    return ND_OK;
}

static int walk_reference(tokenizer *tk)
{
    size_t i = 0;
    while (i < tk->len) {
        int rc = handle_char(tk, i, &i);
        if (rc != ND_OK)
            return rc;
    }
    return ND_OK;
}

static int tokenize(nd_normalizer *nz, const char *text, size_t len, nd_tokens *out, int break_words, int *cut_alike)
{
    out->count = 0;
    out->text_len = 0;
    out->invalid_utf8 = 0;
    out->word_chars = 0;
    out->unspaced_chars = 0;
    tokenizer tk = {.nz = nz,
                    .out = out,
                    .text = (const uint8_t *)text,
                    .len = len,
                    .break_words = break_words,
                    .pieces = break_words,
                    .runs_cut_alike = 1};
    nz->segment.len = 0;
    int rc = nz->scan ? walk_fast(&tk) : walk_reference(&tk);
    if (rc == ND_OK && nz->segment.len > 0)
        rc = flush_segment(&tk, len);
    nz->segment.len = 0;
    if (rc == ND_OK)
        rc = close_token(&tk);
    if (cut_alike)
        *cut_alike = tk.runs_cut_alike;
    return rc;
}

int nd_tokenize(nd_tokens *out, nd_normalizer *nz, const char *text, size_t len)
{
    return tokenize(nz, text, len, out, 1, NULL);
}

int nd_tokenize_runs(nd_tokens *out, int *cut_alike, nd_normalizer *nz, const char *text, size_t len)
{
    return tokenize(nz, text, len, out, 0, cut_alike);
}

int nd_tokens_mostly_unspaced(const nd_tokens *tokens)
{
    return tokens->unspaced_chars * 2 > tokens->word_chars;
}

size_t nd_utf8_repair(char *out, size_t *out_len, const char *text, size_t len)
{
    const uint8_t *bytes = (const uint8_t *)text;
    size_t i = 0, w = 0, replaced = 0;
    while (i < len) {
        if (bytes[i] < 0x80) {
            out[w++] = (char)bytes[i++];
            continue;
        }
        size_t start = i;
        int32_t j = 0;
        int32_t avail = (len - i) > 4 ? 4 : (int32_t)(len - i);
        UChar32 c;
        U8_NEXT(bytes + i, j, avail, c);
        i += (size_t)j;
        if (c < 0) {
            replaced++;
            memcpy(out + w, "\xEF\xBF\xBD", 3);
            w += 3;
        } else {
            memcpy(out + w, text + start, i - start);
            w += i - start;
        }
    }
    *out_len = w;
    return replaced;
}

/* ****  Versions (recorded by the persistent index)  **** */

static pthread_once_t versions_once = PTHREAD_ONCE_INIT;
static char unicode_version[U_MAX_VERSION_STRING_LENGTH];
static char icu_version[U_MAX_VERSION_STRING_LENGTH];

static void read_versions(void)
{
    UVersionInfo v;
    u_getUnicodeVersion(v);
    u_versionToString(v, unicode_version);
    u_getVersion(v);
    u_versionToString(v, icu_version);
}

const char *nd_unicode_version(void)
{
    pthread_once(&versions_once, read_versions);
    return unicode_version;
}

const char *nd_icu_version(void)
{
    pthread_once(&versions_once, read_versions);
    return icu_version;
}
