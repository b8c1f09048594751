/* fold.c - what a normalization profile makes of a piece of text, with ICU.
 *
 * A profile's fold is ICU's NFKC_Casefold followed by the profile's own
 * steps (see neardup.h): optional vowel signs removed by every profile;
 * for the aggressive one, NFD, all non-spacing marks dropped, letter
 * variants mapped, then NFC.
 *
 * NFKC is not a per-character map, but text splits into independent
 * segments: ICU's unorm2_hasBoundaryBefore(c) says that "a string
 * containing this character can be normalized by processing portions
 * before this character and starting from this character independently".
 * A segment is a code point with a boundary before it plus the code points
 * up to the next boundary (a starter and the marks that follow it); folding
 * each segment on its own and concatenating equals folding the whole text
 * (the profile's own steps act on single code points, so they split the
 * same way). The tokenizer (normalize.c) cuts the text into segments and
 * calls nd_fold_segment() on those it cannot look up.
 *
 * The lookup: most segments are a single character of the BMP, whose fold
 * does not depend on context. The fold of every BMP code point, as a
 * segment of its own, is in a 64K-entry table per profile: its UTF-8,
 * whether its output is all word characters, all separators or nothing,
 * whether a boundary comes before it, and whether it belongs to a script
 * written without spaces. The tables are made at build time
 * (src/gen/gen_fold.c runs nd_fold_tables_build below and writes
 * fold_prebuilt.c, see fold_prebuilt.h), and used when the process runs
 * the ICU and Unicode versions they were made with; else built once per
 * process (pthread_once).
 * Each entry is made by the very function that folds segments, so a table
 * lookup and an ICU call agree by construction. Bitmaps of 8 KiB mark
 * the plain letters (a word character with a boundary before it that folds
 * to itself: every Arabic, Hebrew and Han letter, small Cyrillic and Greek
 * letters, ...), without and with a script written without spaces: the
 * tokenizer copies runs of them as they are, testing one bit per letter
 * instead of reading a 16-byte entry out of a 1 MiB table; a third marks
 * the characters that ICU's word breaking never leaves out of a word
 * (nd_fold_cut_keeps); a fourth the separators with a boundary before them
 * (the Arabic comma, a no-break space, guillemets), which the tokenizer
 * takes among a block's words by their bits as it takes ASCII spaces. Two
 * byte tables follow: where word breaking keeps the marks and modifier
 * letters of Thai, Lao, Khmer and Myanmar (nd_fold_dict_kind), and the
 * combining class of the marks of scripts without spaces that stay
 * themselves after a letter (nd_fold_stable_mark), which the tokenizer
 * copies with their letter.
 */
#include "fold.h"

#include <pthread.h> /* pthread_once */
#include <stdint.h>  /* uintptr_t */
#include <string.h>  /* memcpy, memset, strcmp */

#include <unicode/uchar.h>    /* u_charType, U_GET_GC_MASK, u_charDigitValue, u_enumCharTypes, u_getUnicodeVersion */
#include <unicode/uversion.h> /* u_getVersion */
#include <unicode/uset.h>     /* uset_applyIntPropertyValue */
#include <unicode/utf16.h>    /* U16_NEXT, U16_APPEND_UNSAFE */
#include <unicode/utf8.h>     /* U8_APPEND_UNSAFE */

#include "alloc.h"
#ifndef ND_FOLD_GENERATOR
#include "fold_prebuilt.h" /* nd_fold_prebuilt_tables: made at build time (src/gen/gen_fold.c) */
#endif

/* ****  Profiles  **** */

/* Version 2 (both profiles): a token that begins with one letter of a
 * script written without spaces and goes on in another script ("中iPhone")
 * is cut into words like every other such token (version 1 left it whole:
 * the letter's mark was lost as it opened the token); a normalization
 * segment holds at most 30 non-starters (version 1 had no cap: a letter
 * with thousands of marks was one segment, reordered in quadratic time).
 * Version 3 (both): a text of one shingle has two ids, the shingle's and
 * the high half of its 64-bit hash (shingle.c): in version 2 two distinct
 * short texts whose one 32-bit ids collided matched with Jaccard 1. The
 * version names what a text's ids and signature are, so it covers
 * shingling as well as normalization. */
static const struct {
    const char *name;
    unsigned version;
} profiles[] = {
    [ND_PROFILE_DEFAULT] = {"default", 3},
    [ND_PROFILE_AGGRESSIVE] = {"aggressive", 3},
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

int nd_fold_is_word_char(UChar32 c)
{
    return (U_GET_GC_MASK(c) & (U_GC_L_MASK | U_GC_M_MASK | U_GC_N_MASK)) != 0;
}

/* ****  Folding one segment  **** */

int nd_u16buf_reserve(nd_u16buf *buf, size_t needed)
{
    return nd_grow((void **)&buf->data, &buf->capacity, needed, sizeof(UChar)) == 0 ? ND_OK : ND_ENOMEM;
}

void nd_u16buf_free(nd_u16buf *buf)
{
    nd_free(buf->data);
    buf->data = NULL;
    buf->len = buf->capacity = 0;
}

/* dst = normalize(src) with one ICU normalizer, growing dst as needed. */
static int normalize_into(const UNormalizer2 *norm, const UChar *src, size_t src_len, nd_u16buf *dst)
{
    if (src_len > INT32_MAX / 4)
        return ND_EINVAL;
    for (;;) {
        if (nd_u16buf_reserve(dst, dst->capacity ? dst->capacity : 32) != ND_OK)
            return ND_ENOMEM;
        UErrorCode status = U_ZERO_ERROR;
        int32_t capacity = dst->capacity > INT32_MAX ? INT32_MAX : (int32_t)dst->capacity;
        int32_t n = unorm2_normalize(norm, src, (int32_t)src_len, dst->data, capacity, &status);
        if (status == U_BUFFER_OVERFLOW_ERROR) {
            if (nd_u16buf_reserve(dst, (size_t)n + 1) != ND_OK)
                return ND_ENOMEM;
            continue;
        }
        if (U_FAILURE(status))
            return ND_EICU;
        dst->len = (size_t)n;
        return ND_OK;
    }
}

int nd_folder_init(nd_folder *folder, nd_profile profile)
{
    UErrorCode status = U_ZERO_ERROR;
    folder->profile = profile;
    folder->nfkc_cf = unorm2_getNFKCCasefoldInstance(&status);
    folder->nfd = unorm2_getNFDInstance(&status);
    folder->nfc = unorm2_getNFCInstance(&status);
    folder->a = (nd_u16buf){NULL, 0, 0};
    folder->b = (nd_u16buf){NULL, 0, 0};
    folder->short_folds = NULL;
    return U_FAILURE(status) ? ND_EICU : ND_OK;
}

void nd_folder_free(nd_folder *folder)
{
    nd_u16buf_free(&folder->a);
    nd_u16buf_free(&folder->b);
    nd_free(folder->short_folds);
    folder->short_folds = NULL;
}

int nd_fold_boundary_before(const nd_folder *folder, UChar32 c)
{
    return unorm2_hasBoundaryBefore(folder->nfkc_cf, c) != 0;
}

/* Remove (and for the aggressive profile, map) code points of buf in place. */
static void filter_code_points(nd_u16buf *buf, nd_profile profile)
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

int nd_fold_segment(nd_folder *folder, const UChar *segment, size_t len)
{
    int rc = normalize_into(folder->nfkc_cf, segment, len, &folder->a);
    if (rc != ND_OK)
        return rc;
    if (folder->profile == ND_PROFILE_AGGRESSIVE) {
        rc = normalize_into(folder->nfd, folder->a.data, folder->a.len, &folder->b);
        if (rc != ND_OK)
            return rc;
        filter_code_points(&folder->b, folder->profile);
        return normalize_into(folder->nfc, folder->b.data, folder->b.len, &folder->a);
    }
    filter_code_points(&folder->a, folder->profile);
    return ND_OK;
}

/* ****  The BMP table  **** */

typedef struct {
    pthread_once_t once;
    nd_fold_tables tables;
    int status;
} profile_tables;

static profile_tables built[PROFILE_COUNT] = {
    {PTHREAD_ONCE_INIT, {NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0, 0}, ND_OK},
    {PTHREAD_ONCE_INIT, {NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0, 0}, ND_OK}};

static void classify(nd_fold_entry *e, const UChar *out, size_t len, UChar32 c, int boundary, int unspaced);

int nd_fold_entry_of(nd_fold_entry *e, nd_folder *folder, UChar32 c)
{
    memset(e, 0, sizeof *e);
    if (U_IS_SURROGATE(c) || c > 0xFFFF) {
        e->flags = ND_FOLD_SLOW | ND_FOLD_BOUNDARY; /* never looked up: decoding yields no surrogates */
        return ND_OK;
    }
    UChar in = (UChar)c;
    int rc;
    if (unorm2_isInert(folder->nfkc_cf, c) &&
        (folder->profile != ND_PROFILE_AGGRESSIVE || unorm2_isInert(folder->nfd, c))) {
        /* NFKC_Casefold leaves c as it is and joins it with nothing (and
         * for the aggressive profile so does NFD, then NFC of what is left,
         * a letter its steps map to or nothing): only the profile's own
         * steps remain. That is most of the BMP (Han, Hangul, most letters)
         * and most of the time building the table. */
        rc = nd_u16buf_reserve(&folder->a, 2);
        if (rc != ND_OK)
            return rc;
        folder->a.data[0] = in;
        folder->a.len = 1;
        filter_code_points(&folder->a, folder->profile);
    } else {
        rc = nd_fold_segment(folder, &in, 1);
        if (rc != ND_OK)
            return rc;
    }
    classify(e, folder->a.data, folder->a.len, c, nd_fold_boundary_before(folder, c), nd_fold_is_unspaced(c));
    return ND_OK;
}

/* Entry e of code point c, whose fold is out[0..len): the kind of its
 * characters, its UTF-8 and flags. */
static void classify(nd_fold_entry *e, const UChar *out, size_t len, UChar32 c, int boundary, int unspaced)
{
    int words = 0, seps = 0;
    size_t out_len = 0, out_chars = 0;
    char utf8[64];
    size_t i = 0;
    UChar32 o = 0;
    while (i < len) {
        U16_NEXT(out, i, len, o);
        out_chars++;
        if (nd_fold_is_word_char(o))
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
        kind = ND_FOLD_EMPTY;
    else if (seps == 0 && out_len <= sizeof e->utf8)
        kind = ND_FOLD_WORD;
    else if (words == 0)
        kind = ND_FOLD_SEP;
    else
        kind = ND_FOLD_SLOW;
    e->flags = kind;
    if (boundary)
        e->flags |= ND_FOLD_BOUNDARY;
    if (unspaced)
        e->flags |= ND_FOLD_UNSPACED;
    if (kind == ND_FOLD_WORD) {
        memcpy(e->utf8, utf8, out_len);
        e->len = (uint8_t)out_len;
        if (out_chars == 1 && U8_LENGTH(o) == U8_LENGTH(c))
            e->flags |= ND_FOLD_SAME_LENGTH;
    }
}

/* Is entry e of code point c a plain letter: a segment of its own that
 * folds to itself, a word character with a boundary before it? */
static int is_plain(const nd_fold_entry *e, UChar32 c)
{
    enum { SIMPLE = ND_FOLD_WORD | ND_FOLD_BOUNDARY | ND_FOLD_SAME_LENGTH };
    if ((e->flags & (ND_FOLD_KIND_MASK | ND_FOLD_BOUNDARY | ND_FOLD_SAME_LENGTH)) != SIMPLE)
        return 0;
    char utf8[4];
    size_t n = 0;
    U8_APPEND_UNSAFE(utf8, n, c);
    return n == e->len && memcmp(utf8, e->utf8, n) == 0;
}

uint8_t nd_fold_stable_mark(nd_folder *folder, UChar32 c)
{
    nd_fold_entry e;
    int8_t type = u_charType(c);
    if (c > 0xFFFF || U_IS_SURROGATE(c) || !nd_fold_is_unspaced(c) ||
        (type != U_NON_SPACING_MARK && type != U_COMBINING_SPACING_MARK) || nd_fold_entry_of(&e, folder, c) != ND_OK)
        return 0;
    return nd_fold_stable_mark_of(&e, c);
}

/* ****  Building the table fast  ****
 *
 * nd_fold_entry_of() asks ICU five or six questions per code point
 * (inertness, the fold, general category twice, script twice, boundary);
 * over the BMP that was ~37 M instructions, ~5 ms at every start. The
 * build below gives the same entries and bitmaps (tests/test_fastpath.c
 * compares every one with nd_fold_entry_of, is_plain and
 * nd_fold_cut_keeps): general categories and scripts are read once, by
 * ranges (u_enumCharTypes, ICU's map of the Script property), and a code
 * point NFKC_Casefold leaves inert (and NFD too, for the aggressive
 * profile) is classified here without a call: it is a segment of its own
 * (ICU: inert means a boundary before and after it, unchanged), so its
 * fold is the profile's own single-code-point steps on it. The rest (some
 * 5,800 code points) are folded by one ICU call (fold_batch). */

typedef struct {
    uint8_t gc[0x10000];       /* u_charType */
    uint8_t unspaced[0x10000]; /* nd_fold_is_unspaced */
    uint8_t dict[0x10000];     /* nd_fold_dict_script of its script */
    uint8_t plain[0x10000];    /* is_plain */
    uint16_t rest[0x10000];    /* the code points inert_entry leaves */
} bmp_props;

static UBool note_type(const void *context, UChar32 start, UChar32 limit, UCharCategory type)
{
    bmp_props *props = (bmp_props *)(uintptr_t)context;
    if (start > 0xFFFF)
        return 0;
    if (limit > 0x10000)
        limit = 0x10000;
    memset(props->gc + start, (int)type, (size_t)(limit - start));
    return 1;
}

static int read_bmp_props(bmp_props *props)
{
    u_enumCharTypes(note_type, props);
    memset(props->unspaced, 0, sizeof props->unspaced);
    memset(props->dict, 0, sizeof props->dict);
    int rc = ND_OK;
    for (size_t k = 0; k < ND_UNSPACED_SCRIPTS && rc == ND_OK; k++) {
        UErrorCode status = U_ZERO_ERROR;
        USet *set = uset_openEmpty();
        if (!set)
            return ND_ENOMEM;
        uset_applyIntPropertyValue(set, UCHAR_SCRIPT, nd_unspaced_scripts[k], &status);
        if (U_FAILURE(status))
            rc = ND_EICU;
        int32_t ranges = uset_getRangeCount(set);
        for (int32_t i = 0; i < ranges && rc == ND_OK; i++) {
            UChar32 start, end;
            status = U_ZERO_ERROR;
            uset_getItem(set, i, &start, &end, NULL, 0, &status);
            if (U_FAILURE(status)) {
                rc = ND_EICU;
                break;
            }
            if (start > 0xFFFF)
                break;
            if (end > 0xFFFF)
                end = 0xFFFF;
            memset(props->unspaced + start, 1, (size_t)(end - start + 1));
            memset(props->dict + start, nd_fold_dict_script(nd_unspaced_scripts[k]), (size_t)(end - start + 1));
        }
        uset_close(set);
    }
    return rc;
}

/* The entry of an inert code point c (see above), into a zeroed e; *plain
 * says whether it is a plain letter (is_plain). 0 if c is not inert. */
static int inert_entry(nd_fold_entry *e, int *plain, const nd_folder *folder, const bmp_props *props, UChar32 c)
{
    if (!unorm2_isInert(folder->nfkc_cf, c) ||
        (folder->profile == ND_PROFILE_AGGRESSIVE && !unorm2_isInert(folder->nfd, c)))
        return 0;
    *plain = 0;
    UChar32 o = c;
    int removed = c >= 0x0591 && c <= 0x08FF && is_optional_vowel_sign(c);
    if (!removed && folder->profile == ND_PROFILE_AGGRESSIVE) {
        uint8_t type = props->gc[c];
        removed = type == U_NON_SPACING_MARK || type == U_ENCLOSING_MARK;
        o = aggressive_letter(c);
    }
    if (removed) {
        e->flags = ND_FOLD_EMPTY;
    } else if (U_MASK(props->gc[o]) & (U_GC_L_MASK | U_GC_M_MASK | U_GC_N_MASK)) {
        size_t n = 0;
        U8_APPEND_UNSAFE(e->utf8, n, o);
        e->len = (uint8_t)n;
        e->flags = ND_FOLD_WORD;
        if (U8_LENGTH(o) == U8_LENGTH(c))
            e->flags |= ND_FOLD_SAME_LENGTH;
        *plain = o == c;
    } else {
        e->flags = ND_FOLD_SEP;
    }
    e->flags |= ND_FOLD_BOUNDARY;
    if (props->unspaced[c])
        e->flags |= ND_FOLD_UNSPACED;
    return 1;
}

/* The entries of the code points cps[0..n) the shortcut above leaves, by
 * one fold of them all: each followed by U+0000, which is inert (a
 * normalization boundary before and after it, unchanged by every step and
 * by the profile's own), so the fold of the whole is the folds of the code
 * points, each followed by U+0000, which no fold makes. Should the pieces
 * not come out one per code point, each is folded on its own. */
static int fold_batch(nd_folder *folder, const bmp_props *props, const uint16_t *cps, size_t n, nd_fold_entry *entry)
{
    nd_u16buf src = {NULL, 0, 0};
    if (nd_u16buf_reserve(&src, 2 * n + 1) != ND_OK)
        return ND_ENOMEM;
    for (size_t k = 0; k < n; k++) {
        src.data[2 * k] = cps[k];
        src.data[2 * k + 1] = 0;
    }
    int rc = nd_fold_segment(folder, src.data, 2 * n);
    nd_u16buf_free(&src);
    if (rc != ND_OK)
        return rc;
    const UChar *out = folder->a.data;
    size_t len = folder->a.len, k = 0, start = 0;
    for (size_t i = 0; i < len && k < n; i++) {
        if (out[i] != 0)
            continue;
        UChar32 c = cps[k++];
        classify(&entry[c], out + start, i - start, c, nd_fold_boundary_before(folder, c), props->unspaced[c]);
        start = i + 1;
    }
    if (k == n && start == len)
        return ND_OK;
    for (k = 0; k < n; k++) {
        rc = nd_fold_entry_of(&entry[cps[k]], folder, cps[k]);
        if (rc != ND_OK)
            return rc;
    }
    return ND_OK;
}

/* The block of a profile's tables: the entries, the five bitmaps, the
 * dictionary kinds, the stable marks (one allocation, or the prebuilt
 * copy's bytes). */
static size_t tables_block_size(void)
{
    return 0x10000 * sizeof(nd_fold_entry) + 5 * ND_FOLD_BITMAP_WORDS * sizeof(uint64_t) + 2 * 0x10000;
}

/* The parts of a block laid out as tables_block_size says. */
typedef struct tables_parts {
    nd_fold_entry *entry;
    uint64_t *plain, *plain_unspaced, *cut_keeps, *unspaced_kept, *separator;
    uint8_t *dict_kind, *mark_ccc;
} tables_parts;

static tables_parts parts_of(void *block)
{
    tables_parts p;
    p.entry = block;
    p.plain = (uint64_t *)(void *)(p.entry + 0x10000);
    p.plain_unspaced = p.plain + ND_FOLD_BITMAP_WORDS;
    p.cut_keeps = p.plain + 2 * ND_FOLD_BITMAP_WORDS;
    p.unspaced_kept = p.plain + 3 * ND_FOLD_BITMAP_WORDS;
    p.separator = p.plain + 4 * ND_FOLD_BITMAP_WORDS;
    p.dict_kind = (uint8_t *)(p.plain + 5 * ND_FOLD_BITMAP_WORDS);
    p.mark_ccc = p.dict_kind + 0x10000;
    return p;
}

/* Point t's tables into `block` (read only through t). */
static void tables_in_block(nd_fold_tables *t, const void *block)
{
    tables_parts p = parts_of((void *)(uintptr_t)block);
    t->entry = p.entry;
    t->plain = p.plain;
    t->plain_unspaced = p.plain_unspaced;
    t->cut_keeps = p.cut_keeps;
    t->unspaced_kept = p.unspaced_kept;
    t->separator = p.separator;
    t->dict_kind = p.dict_kind;
    t->mark_ccc = p.mark_ccc;
}

int nd_fold_tables_build(nd_fold_tables *out, void **block, size_t *block_size, nd_profile profile)
{
    *block = NULL;
    *block_size = 0;
    if ((unsigned)profile >= PROFILE_COUNT)
        return ND_EINVAL;
    nd_folder folder;
    int status = nd_folder_init(&folder, profile);
    if (status != ND_OK)
        return status;
    nd_fold_entry *entry = nd_calloc_huge(tables_block_size());
    bmp_props *props = nd_malloc(sizeof *props);
    if (!entry || !props) {
        nd_free(entry);
        nd_free(props);
        nd_folder_free(&folder);
        return ND_ENOMEM;
    }
    status = read_bmp_props(props);
    tables_parts parts = parts_of(entry);
    uint64_t *plain = parts.plain, *plain_unspaced = parts.plain_unspaced, *cut_keeps = parts.cut_keeps;
    uint64_t *unspaced_kept = parts.unspaced_kept, *separator = parts.separator;
    uint8_t *dict_kind = parts.dict_kind, *mark_ccc = parts.mark_ccc;
    size_t n_rest = 0;
    for (UChar32 c = 0; c <= 0xFFFF && status == ND_OK; c++) {
        int plain_letter = 0;
        if (U_IS_SURROGATE(c))
            status = nd_fold_entry_of(&entry[c], &folder, c);
        else if (!inert_entry(&entry[c], &plain_letter, &folder, props, c))
            props->rest[n_rest++] = (uint16_t)c;
        props->plain[c] = (uint8_t)plain_letter;
    }
    if (status == ND_OK)
        status = fold_batch(&folder, props, props->rest, n_rest, entry);
    for (size_t k = 0; k < n_rest; k++)
        props->plain[props->rest[k]] = (uint8_t)is_plain(&entry[props->rest[k]], props->rest[k]);
    for (UChar32 c = 0; c <= 0xFFFF && status == ND_OK; c++) {
        if (props->plain[c]) {
            uint64_t *bits = (entry[c].flags & ND_FOLD_UNSPACED) ? plain_unspaced : plain;
            bits[c >> 6] |= (uint64_t)1 << (c & 63);
        }
        if (nd_fold_cut_keeps_type(c, props->gc[c]))
            cut_keeps[c >> 6] |= (uint64_t)1 << (c & 63);
        if ((entry[c].flags & (ND_FOLD_KIND_MASK | ND_FOLD_BOUNDARY)) == (ND_FOLD_SEP | ND_FOLD_BOUNDARY))
            separator[c >> 6] |= (uint64_t)1 << (c & 63);
        dict_kind[c] = nd_fold_dict_kind_of(props->dict[c], props->gc[c]);
        if (props->unspaced[c] && (props->gc[c] == U_NON_SPACING_MARK || props->gc[c] == U_COMBINING_SPACING_MARK))
            mark_ccc[c] = nd_fold_stable_mark_of(&entry[c], c);
    }
    unsigned run = 0, best = 0, best_end = 0;
    for (size_t w = 0; w < ND_FOLD_BITMAP_WORDS; w++)
        unspaced_kept[w] = plain_unspaced[w] & cut_keeps[w];
    for (unsigned c = 0; c <= 0xFFFF; c++) {
        uint64_t word = unspaced_kept[c >> 6];
        if ((c & 63) == 0 && (word == 0 || word == ~(uint64_t)0)) {
            run = word ? run + 64 : 0; /* a whole word at once */
            c += 63;
        } else {
            run = (word >> (c & 63)) & 1 ? run + 1 : 0;
        }
        if (run > best) {
            best = run;
            best_end = c;
        }
    }
    nd_free(props);
    nd_folder_free(&folder);
    if (status != ND_OK) {
        nd_free(entry);
        return status;
    }
    tables_in_block(out, entry);
    out->kept_lo = best ? best_end + 1 - best : 1; /* none: an empty range */
    out->kept_hi = best ? best_end : 0;
    *block = entry;
    *block_size = tables_block_size();
    return ND_OK;
}

int nd_fold_tables_prebuilt(nd_fold_tables *out, nd_profile profile)
{
#ifdef ND_FOLD_GENERATOR
    (void)out;
    (void)profile;
    return 0; /* (the generator makes them) */
#else
    UVersionInfo icu, unicode;
    u_getVersion(icu);
    u_getUnicodeVersion(unicode);
    if ((unsigned)profile >= PROFILE_COUNT || memcmp(icu, nd_fold_prebuilt_icu, sizeof icu) != 0 ||
        memcmp(unicode, nd_fold_prebuilt_unicode, sizeof unicode) != 0 ||
        nd_fold_prebuilt_tables[profile].size != tables_block_size())
        return 0;
    const nd_fold_prebuilt *pre = &nd_fold_prebuilt_tables[profile];
    tables_in_block(out, pre->block);
    out->kept_lo = pre->kept_lo;
    out->kept_hi = pre->kept_hi;
    return 1;
#endif
}

#ifndef ND_FOLD_GENERATOR
_Static_assert(sizeof nd_fold_prebuilt_tables / sizeof nd_fold_prebuilt_tables[0] == PROFILE_COUNT,
               "a prebuilt block for each profile (src/gen/gen_fold.c)");
#endif

static void build_tables(nd_profile profile)
{
    profile_tables *pt = &built[profile];
    if (nd_fold_tables_prebuilt(&pt->tables, profile)) {
        pt->status = ND_OK;
        return;
    }
    void *block; /* kept for the process's life, as the prebuilt bytes are */
    size_t size;
    pt->status = nd_fold_tables_build(&pt->tables, &block, &size, profile);
}

static void build_default_tables(void)
{
    build_tables(ND_PROFILE_DEFAULT);
}

static void build_aggressive_tables(void)
{
    build_tables(ND_PROFILE_AGGRESSIVE);
}

int nd_fold_tables_get(nd_fold_tables *out, nd_profile profile)
{
    if ((unsigned)profile >= PROFILE_COUNT)
        return ND_EINVAL;
    profile_tables *pt = &built[profile];
    pthread_once(&pt->once, profile == ND_PROFILE_DEFAULT ? build_default_tables : build_aggressive_tables);
    if (pt->status != ND_OK)
        return pt->status;
    *out = pt->tables;
    return ND_OK;
}
