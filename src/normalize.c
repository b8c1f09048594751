/* normalize.c - UTF-8 text to normalized word tokens, with ICU.
 *
 * What a token is. The text is read as Unicode (ill-formed UTF-8 as U+FFFD),
 * folded by the profile (NFKC_Casefold plus the profile's own steps, see
 * neardup.h), and cut into words: maximal runs of letters, marks and numbers
 * (general categories L*, M*, N*). Everything else (spaces, punctuation,
 * symbols, emoji, U+FFFD) separates words. Characters the fold removes
 * (default-ignorables such as ZWJ and soft hyphen, Arabic tashkeel and
 * tatweel, ...) neither make nor split a word. Every token keeps the byte
 * span it came from in the original text.
 *
 * How it is done fast and exactly. NFKC is not a per-character map, but the
 * text splits into independent pieces: ICU's unorm2_hasBoundaryBefore(c)
 * says that "a string containing this character can be normalized by
 * processing portions before this character and starting from this
 * character independently". So we cut the text into segments that start at
 * such boundaries (a starter plus any marks that follow it), fold each
 * segment on its own, and concatenate: the result equals folding the whole
 * text. Spans follow for free: every output character comes from one
 * segment, and segment edges are character edges that never cut a combining
 * sequence.
 *
 * Most segments are a single character of the BMP, and folding one of those
 * does not depend on context, so the profile's fold of every BMP code point
 * is computed once (pthread_once) into a 64K-entry table: its UTF-8, whether
 * it is a word character, a separator or removed, and whether a boundary
 * comes before it. ASCII followed by ASCII never needs even the table.
 * Segments of several code points, and code points beyond the BMP, take the
 * slow path through ICU.
 *
 * Scripts written without spaces. A run of Han, kana, Thai, Lao, Khmer or
 * Myanmar letters is one "word" by the rule above. Such a token is cut
 * again with ICU's word break iterator (UBRK_WORD), whose dictionaries
 * split Chinese, Japanese, Thai, Lao, Khmer and Burmese into words. While a
 * token is built, a small map records which original bytes each piece of
 * normalized text came from, so the sub-words keep exact byte spans.
 */
#include "neardup.h"

#include <pthread.h> /* pthread_once */
#include <string.h>  /* memcpy */

#include <unicode/ubrk.h>     /* ubrk_open, ubrk_setText, ubrk_next */
#include <unicode/uchar.h>    /* u_charType, U_GET_GC_MASK, u_charDigitValue */
#include <unicode/unorm2.h>   /* unorm2_getNFKCCasefoldInstance, unorm2_normalize */
#include <unicode/uscript.h>  /* uscript_getScript */
#include <unicode/utf16.h>    /* U16_NEXT, U16_APPEND_UNSAFE */
#include <unicode/utf8.h>     /* U8_NEXT, U8_APPEND_UNSAFE */
#include <unicode/uversion.h> /* u_getUnicodeVersion, u_getVersion, u_versionToString */

#include "alloc.h"
#include "hash.h"

/* ****  Profiles  **** */

static const struct {
    const char *name;
    unsigned version;
} profiles[] = {
    [ND_PROFILE_DEFAULT] = {"default", 1},
    [ND_PROFILE_AGGRESSIVE] = {"aggressive", 1},
};
#define PROFILE_COUNT (sizeof profiles / sizeof profiles[0])

const char *nd_profile_name(nd_profile profile)
{
    return (unsigned)profile < PROFILE_COUNT ? profiles[profile].name : NULL;
}

unsigned nd_profile_version(nd_profile profile)
{
    return (unsigned)profile < PROFILE_COUNT ? profiles[profile].version : 0;
}

int nd_profile_from_name(nd_profile *out, const char *name)
{
    for (unsigned i = 0; i < PROFILE_COUNT; i++) {
        if (name && strcmp(name, profiles[i].name) == 0) {
            *out = (nd_profile)i;
            return ND_OK;
        }
    }
    return ND_EINVAL;
}

/* Optional vowel signs and elongation: removed by every profile, because a
 * reader sees the same word with or without them. Arabic tatweel (kashida),
 * Arabic harakat, Quranic annotation marks and Hebrew points. */
static int is_optional_vowel_sign(UChar32 c)
{
    return c == 0x0640                     /* ARABIC TATWEEL */
           || (c >= 0x0610 && c <= 0x061A) /* Arabic honorific/Quranic signs */
           || (c >= 0x064B && c <= 0x065F) /* fathatan .. wavy hamza below (harakat) */
           || c == 0x0670                  /* superscript alef */
           || (c >= 0x06D6 && c <= 0x06DC) || (c >= 0x06DF && c <= 0x06E4) || (c >= 0x06E7 && c <= 0x06E8) ||
           (c >= 0x06EA && c <= 0x06ED)                   /* Quranic annotation */
           || (c >= 0x08D3 && c <= 0x08FF && c != 0x08E2) /* Arabic Extended-A marks */
           || (c >= 0x0591 && c <= 0x05BD)                /* Hebrew cantillation and points */
           || c == 0x05BF || c == 0x05C1 || c == 0x05C2 || c == 0x05C4 || c == 0x05C5 || c == 0x05C7;
}

/* Letter variants the aggressive profile folds together (after NFD and mark
 * removal, which already turn hamza/madda forms into their base letters). */
static UChar32 aggressive_letter(UChar32 c)
{
    switch (c) {
    case 0x0671: /* ALEF WASLA */
        return 0x0627;
    case 0x0649: /* ALEF MAKSURA */
    case 0x06CC: /* FARSI YEH */
        return 0x064A;
    case 0x0629: /* TEH MARBUTA */
    case 0x06C1: /* HEH GOAL */
    case 0x06BE: /* HEH DOACHASHMEE */
        return 0x0647;
    case 0x06A9: /* KEHEH */
    case 0x06AA: /* SWASH KAF */
        return 0x0643;
    default:
        break;
    }
    if (u_charType(c) == U_DECIMAL_DIGIT_NUMBER) {
        int32_t digit = u_charDigitValue(c);
        if (digit >= 0 && digit <= 9)
            return '0' + digit;
    }
    return c;
}

static int is_word_char(UChar32 c)
{
    return (U_GET_GC_MASK(c) & (U_GC_L_MASK | U_GC_M_MASK | U_GC_N_MASK)) != 0;
}

/* Scripts written without spaces between words. */
static int is_unspaced_script(UChar32 c)
{
    UErrorCode status = U_ZERO_ERROR;
    UScriptCode script = uscript_getScript(c, &status);
    if (U_FAILURE(status))
        return 0;
    switch (script) {
    case USCRIPT_HAN:
    case USCRIPT_HIRAGANA:
    case USCRIPT_KATAKANA:
    case USCRIPT_THAI:
    case USCRIPT_LAO:
    case USCRIPT_KHMER:
    case USCRIPT_MYANMAR:
        return 1;
    default:
        return 0;
    }
}

/* ****  Folding one segment  **** */

/* A growable UTF-16 buffer. */
typedef struct {
    UChar *data;
    size_t len, capacity;
} u16buf;

static int u16buf_reserve(u16buf *buf, size_t needed)
{
    return nd_grow((void **)&buf->data, &buf->capacity, needed, sizeof(UChar)) == 0 ? ND_OK : ND_ENOMEM;
}

static void u16buf_free(u16buf *buf)
{
    nd_free(buf->data);
    buf->data = NULL;
    buf->len = buf->capacity = 0;
}

/* dst = normalize(src) with one ICU normalizer, growing dst as needed. */
static int normalize_into(const UNormalizer2 *norm, const UChar *src, size_t src_len, u16buf *dst)
{
    if (src_len > INT32_MAX / 4)
        return ND_EINVAL;
    for (;;) {
        if (u16buf_reserve(dst, dst->capacity ? dst->capacity : 32) != ND_OK)
            return ND_ENOMEM;
        UErrorCode status = U_ZERO_ERROR;
        int32_t capacity = dst->capacity > INT32_MAX ? INT32_MAX : (int32_t)dst->capacity;
        int32_t n = unorm2_normalize(norm, src, (int32_t)src_len, dst->data, capacity, &status);
        if (status == U_BUFFER_OVERFLOW_ERROR) {
            if (u16buf_reserve(dst, (size_t)n + 1) != ND_OK)
                return ND_ENOMEM;
            continue;
        }
        if (U_FAILURE(status))
            return ND_EICU;
        dst->len = (size_t)n;
        return ND_OK;
    }
}

typedef struct {
    const UNormalizer2 *nfkc_cf, *nfd, *nfc;
} icu_normalizers;

static int get_normalizers(icu_normalizers *out)
{
    UErrorCode status = U_ZERO_ERROR;
    out->nfkc_cf = unorm2_getNFKCCasefoldInstance(&status);
    out->nfd = unorm2_getNFDInstance(&status);
    out->nfc = unorm2_getNFCInstance(&status);
    return U_FAILURE(status) ? ND_EICU : ND_OK;
}

/* Scratch space for folding. */
typedef struct {
    u16buf a, b;
} fold_scratch;

static void fold_scratch_free(fold_scratch *s)
{
    u16buf_free(&s->a);
    u16buf_free(&s->b);
}

/* Remove (and for the aggressive profile, map) code points of buf in place. */
static void filter_code_points(u16buf *buf, nd_profile profile)
{
    size_t read = 0, write = 0;
    while (read < buf->len) {
        UChar32 c;
        U16_NEXT(buf->data, read, buf->len, c);
        if (is_optional_vowel_sign(c))
            continue;
        if (profile == ND_PROFILE_AGGRESSIVE) {
            int8_t type = u_charType(c);
            if (type == U_NON_SPACING_MARK || type == U_ENCLOSING_MARK)
                continue;
            c = aggressive_letter(c);
        }
        /* Mapping only shrinks or keeps sizes (all targets are BMP), so
         * writing behind the read position is safe. */
        U16_APPEND_UNSAFE(buf->data, write, c);
    }
    buf->len = write;
}

/* The profile's fold of one segment: result in scratch->a. */
static int fold_segment(const icu_normalizers *icu, nd_profile profile, const UChar *seg, size_t seg_len,
                        fold_scratch *scratch)
{
    int rc = normalize_into(icu->nfkc_cf, seg, seg_len, &scratch->a);
    if (rc != ND_OK)
        return rc;
    if (profile == ND_PROFILE_AGGRESSIVE) {
        rc = normalize_into(icu->nfd, scratch->a.data, scratch->a.len, &scratch->b);
        if (rc != ND_OK)
            return rc;
        filter_code_points(&scratch->b, profile);
        return normalize_into(icu->nfc, scratch->b.data, scratch->b.len, &scratch->a);
    }
    filter_code_points(&scratch->a, profile);
    return ND_OK;
}

/* ****  The BMP table  **** */

enum {
    FOLD_WORD = 1,  /* all output characters are word characters */
    FOLD_SEP = 2,   /* all output characters separate words */
    FOLD_EMPTY = 3, /* folds to nothing: neither makes nor splits a word */
    FOLD_SLOW = 4,  /* mixed, or too long for the entry: use ICU */
    FOLD_KIND_MASK = 7,
    FLAG_BOUNDARY = 8, /* a normalization boundary comes before it */
    FLAG_UNSPACED = 16 /* belongs to a script written without spaces */
};

typedef struct {
    uint8_t flags;
    uint8_t len;
    char utf8[14];
} fold_entry;

typedef struct {
    pthread_once_t once;
    fold_entry *table;
    int status;
} profile_table;

static profile_table tables[PROFILE_COUNT] = {{PTHREAD_ONCE_INIT, NULL, ND_OK}, {PTHREAD_ONCE_INIT, NULL, ND_OK}};

static void build_table(nd_profile profile)
{
    profile_table *pt = &tables[profile];
    icu_normalizers icu;
    pt->status = get_normalizers(&icu);
    if (pt->status != ND_OK)
        return;
    fold_entry *table = nd_calloc(0x10000, sizeof *table);
    if (!table) {
        pt->status = ND_ENOMEM;
        return;
    }
    fold_scratch scratch = {{NULL, 0, 0}, {NULL, 0, 0}};
    for (UChar32 c = 0; c <= 0xFFFF; c++) {
        fold_entry *e = &table[c];
        if (U_IS_SURROGATE(c)) {
            e->flags = FOLD_SLOW | FLAG_BOUNDARY; /* never looked up: decoding yields no surrogates */
            continue;
        }
        UChar in = (UChar)c;
        int rc = fold_segment(&icu, profile, &in, 1, &scratch);
        if (rc != ND_OK) {
            pt->status = rc;
            break;
        }
        int words = 0, seps = 0;
        size_t out_len = 0;
        char utf8[64];
        size_t i = 0;
        while (i < scratch.a.len) {
            UChar32 o;
            U16_NEXT(scratch.a.data, i, scratch.a.len, o);
            if (is_word_char(o))
                words++;
            else
                seps++;
            if (out_len + 4 <= sizeof utf8)
                U8_APPEND_UNSAFE(utf8, out_len, o);
            else
                words = seps = 1; /* force the slow path */
        }
        uint8_t kind;
        if (words == 0 && seps == 0)
            kind = FOLD_EMPTY;
        else if (seps == 0 && out_len <= sizeof e->utf8)
            kind = FOLD_WORD;
        else if (words == 0)
            kind = FOLD_SEP;
        else
            kind = FOLD_SLOW;
        e->flags = kind;
        if (unorm2_hasBoundaryBefore(icu.nfkc_cf, c))
            e->flags |= FLAG_BOUNDARY;
        if (is_unspaced_script(c))
            e->flags |= FLAG_UNSPACED;
        if (kind == FOLD_WORD) {
            memcpy(e->utf8, utf8, out_len);
            e->len = (uint8_t)out_len;
        }
    }
    fold_scratch_free(&scratch);
    if (pt->status == ND_OK)
        pt->table = table;
    else
        nd_free(table);
}

static void build_default_table(void)
{
    build_table(ND_PROFILE_DEFAULT);
}

static void build_aggressive_table(void)
{
    build_table(ND_PROFILE_AGGRESSIVE);
}

/* ****  The normalizer  **** */

/* Where a piece of a token's normalized text came from. */
typedef struct {
    size_t norm_end; /* end of the piece in nd_tokens.text */
    size_t orig_start, orig_end;
    int one_to_one; /* an ASCII run: normalized byte k is original byte k */
} piece_map;

struct nd_normalizer {
    nd_profile profile;
    const fold_entry *table;
    icu_normalizers icu;
    u16buf segment;
    fold_scratch scratch;
    piece_map *pieces; /* for the token being built */
    size_t piece_count, piece_capacity;
    UBreakIterator *words; /* opened on first use */
    u16buf word_text;
    size_t *word_offsets; /* UTF-8 offset of each UTF-16 unit of word_text */
    size_t word_offsets_capacity;
};

int nd_normalizer_new(nd_normalizer **out, nd_profile profile)
{
    if ((unsigned)profile >= PROFILE_COUNT)
        return ND_EINVAL;
    profile_table *pt = &tables[profile];
    pthread_once(&pt->once, profile == ND_PROFILE_DEFAULT ? build_default_table : build_aggressive_table);
    if (pt->status != ND_OK)
        return pt->status;
    nd_normalizer *nz = nd_calloc(1, sizeof *nz);
    if (!nz)
        return ND_ENOMEM;
    nz->profile = profile;
    nz->table = pt->table;
    int rc = get_normalizers(&nz->icu);
    if (rc != ND_OK) {
        nd_free(nz);
        return rc;
    }
    *out = nz;
    return ND_OK;
}

void nd_normalizer_free(nd_normalizer *nz)
{
    if (!nz)
        return;
    u16buf_free(&nz->segment);
    fold_scratch_free(&nz->scratch);
    nd_free(nz->pieces);
    if (nz->words)
        ubrk_close(nz->words);
    u16buf_free(&nz->word_text);
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

typedef struct {
    nd_normalizer *nz;
    nd_tokens *out;
    int open;          /* is a token being built? */
    int unspaced;      /* does it hold letters of a script without spaces? */
    size_t start, end; /* its original byte span so far */
    size_t norm_start; /* where its normalized text starts in out->text */
} token_builder;

/* Make room for n more normalized bytes and one more piece, opening a token
 * at original offset `start` if none is open. Returns where the n bytes go,
 * or NULL when out of memory. end_piece() completes the piece. */
static char *begin_piece(token_builder *tb, size_t n, size_t start)
{
    nd_tokens *out = tb->out;
    nd_normalizer *nz = tb->nz;
    if (nz->piece_count == nz->piece_capacity &&
        nd_grow((void **)&nz->pieces, &nz->piece_capacity, nz->piece_count + 1, sizeof *nz->pieces) != 0)
        return NULL;
    if (out->text_len + n > out->text_capacity &&
        nd_grow((void **)&out->text, &out->text_capacity, out->text_len + n, 1) != 0)
        return NULL;
    if (!tb->open) {
        tb->open = 1;
        tb->unspaced = 0;
        tb->start = start;
        tb->norm_start = out->text_len;
        nz->piece_count = 0;
    }
    return out->text + out->text_len;
}

/* Record n bytes written after begin_piece(), coming from original bytes
 * [start, end) and holding `chars` characters. */
static void end_piece(token_builder *tb, size_t n, size_t start, size_t end, size_t chars, int one_to_one)
{
    nd_tokens *out = tb->out;
    out->text_len += n;
    out->word_chars += chars;
    tb->end = end;
    piece_map *p = &tb->nz->pieces[tb->nz->piece_count++];
    p->norm_end = out->text_len;
    p->orig_start = start;
    p->orig_end = end;
    p->one_to_one = one_to_one;
}

/* Append the normalized UTF-8 of one character (or one segment's worth). */
static int append_norm(token_builder *tb, const char *utf8, size_t n, size_t start, size_t end)
{
    char *dst = begin_piece(tb, n, start);
    if (!dst)
        return ND_ENOMEM;
    memcpy(dst, utf8, n);
    end_piece(tb, n, start, end, 1, 0);
    return ND_OK;
}

/* Append a run of ASCII letters and digits text[start, start + n),
 * lowercased: the hot path for Latin text, one call per word. */
static int append_ascii_run(token_builder *tb, const uint8_t *text, size_t start, size_t n)
{
    char *dst = begin_piece(tb, n, start);
    if (!dst)
        return ND_ENOMEM;
    const uint8_t *src = text + start;
    for (size_t k = 0; k < n; k++) {
        uint8_t c = src[k];
        dst[k] = (char)(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
    }
    end_piece(tb, n, start, start + n, n, 1);
    return ND_OK;
}

/* Is c an ASCII letter or digit? */
static int ascii_alnum(uint8_t c)
{
    return (uint8_t)((c | 0x20) - 'a') < 26 || (uint8_t)(c - '0') < 10;
}

static int push_token(nd_tokens *out, size_t start, size_t end, size_t norm_start, size_t norm_len)
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

/* The original span of normalized bytes [a, b) of the current token. */
static void original_span(const nd_normalizer *nz, size_t a, size_t b, size_t *start, size_t *end)
{
    size_t i = 0;
    while (i + 1 < nz->piece_count && nz->pieces[i].norm_end <= a)
        i++;
    const piece_map *p = &nz->pieces[i];
    *start = p->one_to_one ? p->orig_end - (p->norm_end - a) : p->orig_start;
    while (i + 1 < nz->piece_count && nz->pieces[i].norm_end < b)
        i++;
    p = &nz->pieces[i];
    *end = p->one_to_one ? p->orig_end - (p->norm_end - b) : p->orig_end;
}

/* Cut the current token (text [norm_start, text_len)) into words with ICU's
 * word break iterator and push each word. */
static int push_word_broken(token_builder *tb)
{
    nd_normalizer *nz = tb->nz;
    nd_tokens *out = tb->out;
    const char *utf8 = out->text + tb->norm_start;
    size_t len = out->text_len - tb->norm_start;
    if (u16buf_reserve(&nz->word_text, len + 1) != ND_OK ||
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
    int32_t prev = ubrk_first(nz->words);
    for (int32_t next = ubrk_next(nz->words); next != UBRK_DONE; next = ubrk_next(nz->words)) {
        if (ubrk_getRuleStatus(nz->words) != UBRK_WORD_NONE) {
            size_t a = nz->word_offsets[prev], b = nz->word_offsets[next];
            size_t start, end;
            original_span(nz, tb->norm_start + a, tb->norm_start + b, &start, &end);
            int rc = push_token(out, start, end, tb->norm_start + a, b - a);
            if (rc != ND_OK)
                return rc;
        }
        prev = next;
    }
    return ND_OK;
}

static int close_token(token_builder *tb)
{
    if (!tb->open)
        return ND_OK;
    tb->open = 0;
    if (tb->unspaced)
        return push_word_broken(tb);
    return push_token(tb->out, tb->start, tb->end, tb->norm_start, tb->out->text_len - tb->norm_start);
}

/* Fold the pending segment nz->segment, which spans [start, end) of the
 * original text, and feed its output to the token builder. */
static int flush_segment(nd_normalizer *nz, token_builder *tb, size_t start, size_t end)
{
    const u16buf *seg = &nz->segment;
    if (seg->len == 1) {
        const fold_entry *e = &nz->table[seg->data[0]];
        switch (e->flags & FOLD_KIND_MASK) {
        case FOLD_WORD:
            if (e->flags & FLAG_UNSPACED) {
                tb->unspaced = 1;
                tb->out->unspaced_chars++;
            }
            return append_norm(tb, e->utf8, e->len, start, end);
        case FOLD_SEP:
            return close_token(tb);
        case FOLD_EMPTY:
            if (tb->open)
                tb->end = end;
            return ND_OK;
        default:
            break;
        }
    }
    int rc = fold_segment(&nz->icu, nz->profile, seg->data, seg->len, &nz->scratch);
    if (rc != ND_OK)
        return rc;
    const u16buf *folded = &nz->scratch.a;
    if (folded->len == 0 && tb->open)
        tb->end = end;
    size_t i = 0;
    while (i < folded->len) {
        UChar32 c;
        U16_NEXT(folded->data, i, folded->len, c);
        if (is_word_char(c)) {
            char utf8[4];
            size_t n = 0;
            U8_APPEND_UNSAFE(utf8, n, c);
            rc = append_norm(tb, utf8, n, start, end);
            if (is_unspaced_script(c)) {
                tb->unspaced = 1;
                tb->out->unspaced_chars++;
            }
        } else {
            rc = close_token(tb);
        }
        if (rc != ND_OK)
            return rc;
    }
    return ND_OK;
}

static int has_boundary_before(const nd_normalizer *nz, UChar32 c)
{
    if (c <= 0xFFFF)
        return (nz->table[c].flags & FLAG_BOUNDARY) != 0;
    return unorm2_hasBoundaryBefore(nz->icu.nfkc_cf, c) != 0;
}

int nd_tokenize(nd_tokens *out, nd_normalizer *nz, const char *text, size_t len)
{
    out->count = 0;
    out->text_len = 0;
    out->invalid_utf8 = 0;
    out->word_chars = 0;
    out->unspaced_chars = 0;
    token_builder tb = {nz, out, 0, 0, 0, 0, 0};
    const uint8_t *bytes = (const uint8_t *)text;
    u16buf *seg = &nz->segment;
    seg->len = 0;
    size_t seg_start = 0;
    size_t i = 0;
    int rc = ND_OK;

    while (i < len) {
        uint8_t b = bytes[i];
        /* Fast path: an ASCII character followed by ASCII (or the end) is a
         * whole segment; fold it directly. */
        if (b < 0x80 && (i + 1 == len || bytes[i + 1] < 0x80)) {
            if (seg->len > 0) {
                rc = flush_segment(nz, &tb, seg_start, i);
                if (rc != ND_OK)
                    return rc;
                seg->len = 0;
            }
            if (ascii_alnum(b)) {
                /* the whole run of ASCII letters and digits; its last
                 * character stays behind if a non-ASCII byte (maybe a
                 * combining mark) follows it */
                size_t j = i + 1;
                while (j < len && ascii_alnum(bytes[j]))
                    j++;
                if (j < len && bytes[j] >= 0x80)
                    j--;
                rc = append_ascii_run(&tb, bytes, i, j - i);
                i = j;
            } else {
                rc = close_token(&tb);
                i++;
            }
            if (rc != ND_OK)
                return rc;
            continue;
        }

        /* General path: decode one code point (ill-formed input -> U+FFFD). */
        size_t cp_start = i;
        UChar32 c;
        if (b < 0x80) {
            c = b;
            i++;
        } else {
            int32_t j = 0;
            int32_t avail = (len - i) > 4 ? 4 : (int32_t)(len - i);
            U8_NEXT(bytes + i, j, avail, c);
            i += (size_t)j;
            if (c < 0) {
                c = 0xFFFD;
                out->invalid_utf8++;
            }
        }
        if (seg->len > 0 && has_boundary_before(nz, c)) {
            rc = flush_segment(nz, &tb, seg_start, cp_start);
            if (rc != ND_OK)
                return rc;
            seg->len = 0;
        }
        if (seg->len == 0)
            seg_start = cp_start;
        if (u16buf_reserve(seg, seg->len + 2) != ND_OK)
            return ND_ENOMEM;
        U16_APPEND_UNSAFE(seg->data, seg->len, c);
    }
    if (seg->len > 0) {
        rc = flush_segment(nz, &tb, seg_start, len);
        if (rc != ND_OK)
            return rc;
        seg->len = 0;
    }
    return close_token(&tb);
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
