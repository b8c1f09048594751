/* segment.c - the tokenizer's general path: segments folded by ICU, and
 * closing tokens (cut into words for scripts written without spaces).
 *
 * Every code point the fast loop (fastpath.c) does not take comes here, and
 * the reference path (ND_PATH_REFERENCE) sends every code point here: it is
 * decoded (ill-formed UTF-8 as U+FFFD), its normalization boundary looked
 * up, and either it is a segment of its own with a table entry (fold.c) or
 * it joins the pending segment, which ICU folds when the next boundary
 * comes (see normalize.c for why this is the definition).
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
#include "tokenizer.h"

#include <string.h> /* memcpy */

#include <unicode/ubrk.h>  /* ubrk_open, ubrk_setText, ubrk_next */
#include <unicode/utf16.h> /* U16_APPEND_UNSAFE */
#include <unicode/utf8.h>  /* U8_NEXT, U8_NEXT_UNSAFE */

/* ****  Building tokens  **** */

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

static int is_han(UChar32 c)
{
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0xF900 && c <= 0xFAFF);
}

/* Would ICU's word breaking keep every character of the current token (a
 * run of a script without spaces, not cut)? Only then are the words it
 * cuts the run into, joined, the run itself, which character shingles
 * read. Checked character by character: nd_fold_cut_keeps, and in context
 * U+3005 and U+303B after a Han letter and the marks and modifier letters
 * of Thai, Lao, Khmer and Myanmar (nd_fold_dict_kind). This is the
 * reference path's (the fold's own functions); run_cut_keeps_all_fast
 * gives the same answer from the tables (fuzz_tokenize and
 * tests/test_fastpath.c compare the two paths' cut_alike). */
static int run_cut_keeps_all_reference(const tokenizer *tk)
{
    const uint8_t *s = (const uint8_t *)tk->out->text + tk->norm_start;
    size_t len = tk->out->text_len - tk->norm_start;
    size_t i = 0;
    UChar32 prev = 0;
    unsigned base = 0; /* the dictionary script of the letter the marks so far follow, or 0 */
    while (i < len) {
        UChar32 c;
        U8_NEXT_UNSAFE(s, i, c);
        int kept = c <= 0xFFFF && nd_fold_cut_keeps(c);
        unsigned kind = c > 0xFFFF ? 0 : nd_fold_dict_kind(c);
        if (!kept && !((c == 0x3005 || c == 0x303B) && is_han(prev)) &&
            !((kind & ND_DICT_MARK) && base == (kind & ND_DICT_SCRIPT)) && !((kind & ND_DICT_MODIFIER) && prev != 0))
            return 0;
        if (kind & ND_DICT_BASE)
            base = kind & ND_DICT_SCRIPT;
        else if (!(kind & ND_DICT_MARK))
            base = 0;
        prev = c;
    }
    return 1;
}

/* run_cut_keeps_all_reference() from the normalizer's tables, without a
 * branch on what each character is: Thai text alternates letters and
 * marks at random, and the branches of the test above, mispredicted, made
 * this check a quarter of a Thai scan (perf, 50k generated documents).
 * Three-byte characters (every script it is asked about but Han beyond
 * the BMP) are decoded inline. */
static int run_cut_keeps_all_fast(const tokenizer *tk)
{
    const nd_normalizer *nz = tk->nz;
    const uint8_t *s = (const uint8_t *)tk->out->text + tk->norm_start;
    size_t len = tk->out->text_len - tk->norm_start;
    size_t i = 0;
    uint32_t prev = 0;
    unsigned base = 0, bad = 0;
    while (i < len) {
        uint32_t c;
        if ((s[i] & 0xF0) == 0xE0) {
            c = (uint32_t)(s[i] & 0x0F) << 12 | (uint32_t)(s[i + 1] & 0x3F) << 6 | (s[i + 2] & 0x3F);
            i += 3;
        } else {
            UChar32 u;
            U8_NEXT_UNSAFE(s, i, u);
            c = (uint32_t)u;
        }
        const unsigned bmp = c <= 0xFFFF;
        const unsigned kind = bmp ? nz->dict_kind[c & 0xFFFF] : 0;
        const unsigned kept = bmp & (unsigned)bit_set(nz->cut_keeps, c & 0xFFFF);
        const unsigned script = kind & ND_DICT_SCRIPT;
        const unsigned mark = (kind / ND_DICT_MARK) & 1, modifier = (kind / ND_DICT_MODIFIER) & 1;
        const unsigned iteration = (c == 0x3005) | (c == 0x303B);
        const unsigned ok =
            kept | (iteration & (unsigned)is_han((UChar32)prev)) | (mark & (base == script)) | (modifier & (prev != 0));
        bad |= ok ^ 1;
        /* a letter its script's marks may follow sets the script, a mark
         * keeps it, anything else clears it */
        base = (kind & ND_DICT_BASE) ? script : base & (0u - mark);
        prev = c;
    }
    return !bad;
}

static int run_cut_keeps_all(const tokenizer *tk)
{
    return tk->nz->scan ? run_cut_keeps_all_fast(tk) : run_cut_keeps_all_reference(tk);
}

/* Close a token holding letters of a script without spaces. */
static int close_unspaced(tokenizer *tk)
{
    if (tk->break_words)
        return push_word_broken(tk);
    /* a token with a gap (a character folded to nothing, such as a soft
     * hyphen) may be cut there into two words with a gap between their
     * spans, which character shingles read as a space */
    if (tk->runs_cut_alike && (tk->gap || (tk->unsure_end > tk->norm_start && !run_cut_keeps_all(tk))))
        tk->runs_cut_alike = 0;
    return push_token(tk->out, tk->start, tk->end, tk->norm_start, tk->out->text_len - tk->norm_start);
}

int nd_tk_close_token(tokenizer *tk)
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
int nd_tk_apply_entry(tokenizer *tk, const nd_fold_entry *e, size_t start, size_t end)
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
        return nd_tk_close_token(tk);
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
int nd_tk_flush_segment(tokenizer *tk, size_t end)
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
            return nd_tk_apply_entry(tk, e, start, end);
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
        char utf8[4];
        size_t n;
        int kind = next_fold_char(folded, &i, utf8, &n);
        if (kind != FOLD_CHAR_SEP) {
            rc = append_char(tk, utf8, n, start, end);
            if (kind == FOLD_CHAR_UNSPACED) {
                tk->unspaced = 1;
                tk->out->unspaced_chars++;
            }
        } else {
            rc = nd_tk_close_token(tk);
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
    if (c <= 0xFFFF && nz->scan) {
        /* a letter that folds to itself has one (as block_boundary() in
         * fastpath.c: the bitmaps, not the fold table, for a Han letter) */
        if (bit_set(nz->plain_unspaced, (unsigned)c) || bit_set(nz->plain, (unsigned)c))
            return 1;
        return (nz->table[c].flags & ND_FOLD_BOUNDARY) != 0;
    }
    return nd_fold_boundary_before(&nz->folder, c);
}

/* Does a boundary come before the code point at text[i] (or is i the end)? */
int nd_tk_boundary_at(tokenizer *tk, size_t i)
{
    if (i >= tk->len || tk->text[i] < 0x80)
        return 1;
    size_t n;
    return boundary_before(tk->nz, decode(tk, i, &n, 0));
}

/* The general step: the code point at text[i], through segments; *next
 * receives the offset after it. */
int nd_tk_handle_char(tokenizer *tk, size_t i, size_t *next)
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
        int rc = nd_tk_flush_segment(tk, i);
        if (rc != ND_OK)
            return rc;
    }
    if (boundary && nz->scan && c <= 0xFFFF && nd_tk_boundary_at(tk, i + n)) {
        const nd_fold_entry *e = &nz->table[c];
        if ((e->flags & ND_FOLD_KIND_MASK) != ND_FOLD_SLOW)
            return nd_tk_apply_entry(tk, e, i, i + n);
    }
    tk->seg_start = i;
    tk->seg_nonstarters = 0;
    return segment_append(seg, c);
}

int nd_tk_walk_reference(tokenizer *tk)
{
    size_t i = 0;
    while (i < tk->len) {
        int rc = nd_tk_handle_char(tk, i, &i);
        if (rc != ND_OK)
            return rc;
    }
    return ND_OK;
}
