/* test_fastpath.c - the tokenizer's fast paths give what the reference path
 * gives, and skipping word breaking keeps character shingles.
 *
 * The reference path (ND_PATH_REFERENCE) folds every normalization segment
 * with ICU and looks nothing up: it is the definition. The fast paths (the
 * block classifier in portable C, SSE2 and AVX2, with table lookups and
 * run copies) must give identical tokens: spans, normalized text, hashes,
 * counts. Checked on the three block classifiers byte by byte, on seeded
 * random texts drawn from many scripts (marks, folds that change length,
 * invalid bytes, four-byte characters, runs long enough to cross 64-byte
 * blocks), and on every fixture file.
 *
 * Skipping ICU's word breaking for text signed with character shingles
 * (nd_tokenize_runs, nd_sketcher_set_words(sk, 0)) must give the same
 * shingle ids and signatures: checked on random texts in scripts without
 * spaces, and for every code point in five contexts, where the normalized
 * text of the uncut runs must equal that of the words ICU cuts out of them
 * whenever nd_tokenize_runs() says so.
 *
 * The CLI's UTF-8 check (src/cli/utf8check.c), whose vector loop takes 16
 * bytes of ASCII, two- and three-byte sequences at once, must answer as
 * ICU's U8_NEXT read character by character does.
 *
 * The CLI's JSON fast path (src/cli/json.c) with a scratch buffer reused
 * from record to record, as the pipeline reads (json_fast_record_into,
 * doc_json_read with a scratch), gives the text and id it gives alone.
 * Randomized tests print their seed on failure.
 */
#include <stdio.h>  /* snprintf */
#include <stdlib.h> /* malloc, free */
#include <string.h> /* memcmp, memcpy */

#include <unicode/uchar.h>   /* U_GET_GC_MASK, u_charType */
#include <unicode/uloc.h>    /* uloc_getDisplayName */
#include <unicode/ustring.h> /* u_strToUTF8 */
#include <unicode/utf16.h>   /* U16_NEXT */
#include <unicode/utf8.h>    /* U8_APPEND_UNSAFE */

#include "alloc.h" /* nd_free */
#include "fold.h"
#include "hash.h"
#include "neardup.h"
#include "normalize.h"
#include "scan.h"
#include "suites.h"
#include "tokenizer.h" /* nd_fold_short_segment (marks.c) */
#include "document.h"  /* doc_json_read (the CLI's) */
#include "json.h"      /* json_fast_record_into (the CLI's) */
#include "utf8check.h" /* utf8_well_formed (the CLI's, src/cli) */

/* ****  The block classifiers  **** */

static void check_scan_block(const uint8_t *block, const char *what)
{
    nd_scan_fn scalar = nd_scan_get(ND_SCAN_SCALAR);
    ck_assert(scalar != NULL);
    nd_scan_masks want, got;
    uint8_t want_lower[64 + ND_SCAN_LOWER_PAD], got_lower[64 + ND_SCAN_LOWER_PAD];
    scalar(&want, want_lower, block);
    for (int impl = ND_SCAN_SSE2; impl < ND_SCAN_IMPLS; impl++) {
        nd_scan_fn fn = nd_scan_get((nd_scan_impl)impl);
        if (!fn)
            continue; /* not on this CPU or build */
        fn(&got, got_lower, block);
        ck_assert_msg(memcmp(&want, &got, sizeof want) == 0, "%s: classifier %d differs from the scalar one", what,
                      impl);
        ck_assert_msg(memcmp(want_lower, got_lower, 64) == 0, "%s: classifier %d lowers differently", what, impl);
    }
}

/* Every byte value in every position, and seeded random blocks; the
 * scalar classifier against the definition for each byte value. */
START_TEST(test_scan_classifiers)
{
    uint8_t block[64];
    for (unsigned b = 0; b < 256; b++) {
        memset(block, 0, sizeof block);
        for (unsigned k = 0; k < 64; k++)
            block[k] = (uint8_t)(b + k * 37);
        char what[64];
        snprintf(what, sizeof what, "pattern %u", b);
        check_scan_block(block, what);
        memset(block, (int)b, sizeof block);
        nd_scan_masks m;
        uint8_t lower[64 + ND_SCAN_LOWER_PAD];
        nd_scan_get(ND_SCAN_SCALAR)(&m, lower, block);
        int alnum = (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || (b >= '0' && b <= '9');
        ck_assert_uint_eq(m.ascii, b < 0x80 ? UINT64_MAX : 0);
        ck_assert_uint_eq(m.alnum, alnum ? UINT64_MAX : 0);
        ck_assert_uint_eq(m.lead2, b >= 0xC2 && b <= 0xDF ? UINT64_MAX : 0);
        ck_assert_uint_eq(m.lead3, b >= 0xE0 && b <= 0xEF ? UINT64_MAX : 0);
        ck_assert_uint_eq(m.cont, b >= 0x80 && b <= 0xBF ? UINT64_MAX : 0);
        ck_assert_uint_eq(lower[5], b >= 'A' && b <= 'Z' ? b + 32 : b);
        check_scan_block(block, "uniform");
    }
    uint64_t state = 7;
    for (int i = 0; i < 20000; i++) {
        for (unsigned k = 0; k < 64; k += 8) {
            state = state * 6364136223846793005ULL + 1442695040888963407ULL;
            memcpy(block + k, &state, 8);
        }
        check_scan_block(block, "random");
    }
}
END_TEST

/* The look-up of two-byte sequences in a bitmap (the plain letters), each
 * implementation against the scalar one: blocks of random two-byte
 * sequences (few and many distinct lead bytes), of random bytes, against
 * both profiles' plain bitmaps and random ones, for every `two` mask the
 * tokenizer makes and random subsets of it. */
START_TEST(test_scan_bits2)
{
    nd_scan_bits2_fn scalar = nd_scan_bits2_get(ND_SCAN_SCALAR);
    ck_assert(scalar != NULL);
    uint64_t random_bits[32];
    const uint64_t *bitmaps[3] = {random_bits, NULL, NULL};
    for (int p = 0; p < 2; p++) {
        nd_fold_tables tables;
        ck_assert_int_eq(nd_fold_tables_get(&tables, (nd_profile)p), ND_OK);
        bitmaps[1 + p] = tables.plain;
    }
    uint64_t state = 11;
    uint8_t block[65 + 3];
    int checked = 0;
    for (int i = 0; i < 30000; i++) {
        state = state * 6364136223846793005ULL + 1442695040888963407ULL;
        unsigned leads = 1 + (unsigned)(state >> 60) % 6; /* distinct lead bytes to draw from */
        unsigned first = 0xC2 + (unsigned)(state >> 40) % 0x1E;
        for (unsigned k = 0; k < sizeof block; k++) {
            state = state * 6364136223846793005ULL + 1442695040888963407ULL;
            unsigned r = (unsigned)(state >> 33);
            if (i % 4 == 3)
                block[k] = (uint8_t)r; /* random bytes */
            else if (r % 5 == 0)
                block[k] = (uint8_t)(' ' + r % 64);
            else if (k + 1 < sizeof block) {
                block[k] = (uint8_t)(0xC2 + (first - 0xC2 + (r >> 8) % leads) % 0x1E);
                block[++k] = (uint8_t)(0x80 + (r >> 16) % 64);
            }
        }
        for (unsigned w = 0; w < 32; w++) {
            state = state * 6364136223846793005ULL + 1442695040888963407ULL;
            random_bits[w] = state ^ (state << 17);
        }
        nd_scan_masks m;
        uint8_t lower[64 + ND_SCAN_LOWER_PAD];
        nd_scan_get(ND_SCAN_SCALAR)(&m, lower, block);
        uint64_t two = m.lead2 & (m.cont >> 1 | (uint64_t)((block[64] & 0xC0) == 0x80) << 63);
        uint64_t masks[3] = {two, two & state, two & ~(state >> 1)};
        for (int b = 0; b < 3; b++)
            for (int t = 0; t < 3; t++) {
                uint64_t want = scalar(block, masks[t], bitmaps[b]);
                for (unsigned q = 0; q < 64; q++)
                    if ((masks[t] >> q) & 1) {
                        unsigned c = (unsigned)(block[q] & 0x1F) << 6 | (block[q + 1] & 0x3F);
                        ck_assert_uint_eq((want >> q) & 1, (bitmaps[b][c >> 6] >> (c & 63)) & 1);
                    }
                ck_assert_uint_eq(want & ~masks[t], 0);
                for (int impl = ND_SCAN_SSE2; impl < ND_SCAN_IMPLS; impl++) {
                    nd_scan_bits2_fn fn = nd_scan_bits2_get((nd_scan_impl)impl);
                    if (!fn)
                        continue; /* not on this CPU or build */
                    ck_assert_msg(fn(block, masks[t], bitmaps[b]) == want,
                                  "block %d, bitmap %d, mask %d: implementation %d differs from the scalar one", i, b,
                                  t, impl);
                    checked++;
                }
            }
    }
    ck_assert_int_gt(checked, 0);
}
END_TEST

/* ****  The fold table  **** */

/* The tables the library uses are the prebuilt ones (fold_prebuilt.c,
 * made by nd_gen_fold at build time) when this process runs the ICU they
 * were made with, as the tests do: byte for byte what a build from ICU
 * now gives (nd_fold_tables_build, which the tests below check against
 * ICU code point by code point), with the same longest run of kept Han
 * letters. */
START_TEST(test_fold_tables_prebuilt)
{
    for (int p = 0; p < 2; p++) {
        nd_fold_tables pre, got, built;
        ck_assert_int_eq(nd_fold_tables_prebuilt(&pre, (nd_profile)p), 1);
        ck_assert_int_eq(nd_fold_tables_get(&got, (nd_profile)p), ND_OK);
        ck_assert_ptr_eq(got.entry, pre.entry); /* used, not built */
        void *block;
        size_t size;
        ck_assert_int_eq(nd_fold_tables_build(&built, &block, &size, (nd_profile)p), ND_OK);
        ck_assert_ptr_eq(built.entry, block);
        ck_assert_msg(memcmp(pre.entry, block, size) == 0, "profile %d: the prebuilt tables differ from ICU's now", p);
        ck_assert_uint_eq(pre.kept_lo, built.kept_lo);
        ck_assert_uint_eq(pre.kept_hi, built.kept_hi);
        ck_assert_ptr_eq(pre.mark_ccc, (const uint8_t *)pre.entry + (size - 0x10000));
        ck_assert_ptr_eq(built.mark_ccc, (const uint8_t *)block + (size - 0x10000));
        nd_free(block);
    }
    nd_fold_tables none;
    void *block = (void *)1;
    size_t size = 1;
    ck_assert_int_eq(nd_fold_tables_prebuilt(&none, (nd_profile)2), 0);
    ck_assert_int_eq(nd_fold_tables_build(&none, &block, &size, (nd_profile)2), ND_EINVAL);
    ck_assert_ptr_null(block);
}
END_TEST

/* Every entry of both profiles' tables against ICU folding that code point
 * now (nd_fold_segment, with no shortcut): the kind of its output (word
 * characters, separators, nothing) and, for words, its UTF-8. The table
 * skips ICU for the code points NFKC_Casefold leaves alone; this is what
 * says that changes nothing. */
START_TEST(test_fold_table_against_icu)
{
    for (int p = 0; p < 2; p++) {
        nd_fold_tables tables;
        ck_assert_int_eq(nd_fold_tables_get(&tables, (nd_profile)p), ND_OK);
        nd_folder folder;
        ck_assert_int_eq(nd_folder_init(&folder, (nd_profile)p), ND_OK);
        for (UChar32 c = 0; c <= 0xFFFF; c++) {
            if (U_IS_SURROGATE(c))
                continue;
            UChar in = (UChar)c;
            ck_assert_int_eq(nd_fold_segment(&folder, &in, 1), ND_OK);
            int words = 0, seps = 0;
            char utf8[64];
            size_t n = 0, i = 0;
            while (i < folder.a.len) {
                UChar32 o;
                U16_NEXT(folder.a.data, i, folder.a.len, o);
                if (U_GET_GC_MASK(o) & (U_GC_L_MASK | U_GC_M_MASK | U_GC_N_MASK))
                    words++;
                else
                    seps++;
                if (n + 4 <= sizeof utf8)
                    U8_APPEND_UNSAFE(utf8, n, o);
            }
            const nd_fold_entry *e = &tables.entry[c];
            int kind = e->flags & ND_FOLD_KIND_MASK;
            if (words == 0 && seps == 0)
                ck_assert_msg(kind == ND_FOLD_EMPTY, "profile %d, U+%04X: not empty", p, (unsigned)c);
            else if (words == 0)
                ck_assert_msg(kind == ND_FOLD_SEP, "profile %d, U+%04X: not a separator", p, (unsigned)c);
            else if (seps > 0)
                ck_assert_msg(kind == ND_FOLD_SLOW, "profile %d, U+%04X: mixed, not slow", p, (unsigned)c);
            else if (kind == ND_FOLD_WORD)
                ck_assert_msg(e->len == n && memcmp(e->utf8, utf8, n) == 0, "profile %d, U+%04X: fold differs", p,
                              (unsigned)c);
            else
                ck_assert_msg(kind == ND_FOLD_SLOW && n > sizeof e->utf8, "profile %d, U+%04X: kind %d", p, (unsigned)c,
                              kind);
        }
        nd_folder_free(&folder);
    }
}
END_TEST

/* nd_popcount64 against counting bit by bit: single bits, all ones,
 * alternating patterns and pseudo-random words. */
START_TEST(test_popcount64)
{
    uint64_t state = 17;
    for (int k = 0; k < 5000; k++) {
        uint64_t x;
        if (k < 64)
            x = (uint64_t)1 << k;
        else if (k < 128)
            x = ~(uint64_t)0 >> (k - 64);
        else if (k == 128)
            x = 0x5555555555555555ULL;
        else if (k == 129)
            x = 0xAAAAAAAAAAAAAAAAULL;
        else {
            state = state * 6364136223846793005ULL + 1442695040888963407ULL;
            x = state ^ (state << 17);
        }
        unsigned want = 0;
        for (int b = 0; b < 64; b++)
            want += (unsigned)((x >> b) & 1);
        ck_assert_msg(nd_popcount64(x) == want, "%016llx: %u, want %u", (unsigned long long)x, nd_popcount64(x), want);
    }
}
END_TEST

/* The table is built by ranges and, for inert code points, without ICU's
 * fold (fold.c): every entry and every bit of both profiles' tables equals
 * what the per-code-point definitions give (nd_fold_entry_of, a plain
 * letter folding to itself with a boundary before it, nd_fold_cut_keeps,
 * a separator with a boundary before it, nd_fold_dict_kind). */
START_TEST(test_fold_table_as_per_code_point)
{
    for (int p = 0; p < 2; p++) {
        nd_fold_tables tables;
        ck_assert_int_eq(nd_fold_tables_get(&tables, (nd_profile)p), ND_OK);
        nd_folder folder;
        ck_assert_int_eq(nd_folder_init(&folder, (nd_profile)p), ND_OK);
        for (UChar32 c = 0; c <= 0xFFFF; c++) {
            nd_fold_entry want;
            ck_assert_int_eq(nd_fold_entry_of(&want, &folder, c), ND_OK);
            const nd_fold_entry *e = &tables.entry[c];
            ck_assert_msg(memcmp(e, &want, sizeof want) == 0, "profile %d, U+%04X: entry %02x/%u, want %02x/%u", p,
                          (unsigned)c, e->flags, e->len, want.flags, want.len);
            char utf8[4];
            size_t n = 0;
            U8_APPEND_UNSAFE(utf8, n, c);
            int plain = (want.flags & (ND_FOLD_KIND_MASK | ND_FOLD_BOUNDARY | ND_FOLD_SAME_LENGTH)) ==
                            (ND_FOLD_WORD | ND_FOLD_BOUNDARY | ND_FOLD_SAME_LENGTH) &&
                        want.len == n && memcmp(want.utf8, utf8, n) == 0;
            int unspaced = (want.flags & ND_FOLD_UNSPACED) != 0;
            uint64_t bit = (uint64_t)1 << (c & 63);
            ck_assert_msg(((tables.plain[c >> 6] & bit) != 0) == (plain && !unspaced), "profile %d, U+%04X: plain", p,
                          (unsigned)c);
            ck_assert_msg(((tables.plain_unspaced[c >> 6] & bit) != 0) == (plain && unspaced),
                          "profile %d, U+%04X: plain unspaced", p, (unsigned)c);
            ck_assert_msg(((tables.cut_keeps[c >> 6] & bit) != 0) == (nd_fold_cut_keeps(c) != 0),
                          "profile %d, U+%04X: cut keeps", p, (unsigned)c);
            ck_assert_msg(tables.dict_kind[c] == nd_fold_dict_kind(c),
                          "profile %d, U+%04X: dictionary kind %02x, want %02x", p, (unsigned)c, tables.dict_kind[c],
                          nd_fold_dict_kind(c));
            ck_assert_msg(tables.mark_ccc[c] == nd_fold_stable_mark(&folder, c), "profile %d, U+%04X: stable mark %u",
                          p, (unsigned)c, tables.mark_ccc[c]);
            ck_assert_msg(
                ((tables.separator[c >> 6] & bit) != 0) ==
                    ((want.flags & (ND_FOLD_KIND_MASK | ND_FOLD_BOUNDARY)) == (ND_FOLD_SEP | ND_FOLD_BOUNDARY)),
                "profile %d, U+%04X: separator", p, (unsigned)c);
            ck_assert_int_eq((want.flags & ND_FOLD_UNSPACED) != 0,
                             c <= 0xFFFF && !U_IS_SURROGATE(c) && nd_fold_is_unspaced(c));
        }
        nd_folder_free(&folder);
    }
}
END_TEST

/* ****  Random texts  **** */

static uint64_t next_random(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* nd_fold_short_segment() gives what nd_fold_segment() gives, classified,
 * for a letter and up to three marks drawn so that far more segments than
 * its 512 slots come and go, each asked again later (from a slot or made
 * anew): a slot kept for the wrong segment would show. */
START_TEST(test_fold_short_segments)
{
    static const uint16_t firsts[] = {'a',    'e',    ' ',   0xAD,  0xDF,  0xE9,  0x627,  0x648, 0x64A,  0x628,
                                      0x60C,  0x640,  0x5D0, 0x438, 0x415, 0x3B1, 0x3A9,  0x64E, 0x1100, 0x3042,
                                      0x304B, 0x4E2D, 0xE01, 0xE2D, 0xE81, 0x915, 0x1780, 0x1000};
    static const uint16_t marks[] = {0x64E, 0x651, 0x654, 0x653, 0x64B, 0x650, 0x301,  0x327, 0x300,  0x308,
                                     0x306, 0x344, 0x34F, 0x345, 0x5B8, 0x5BC, 0x655,  0x670, 0x3099, 0x1161,
                                     0xE48, 0xE38, 0xE4D, 0xEC8, 0x93C, 0x94D, 0x17D2, 0x1037};
    const size_t nf = sizeof firsts / sizeof firsts[0], nm = sizeof marks / sizeof marks[0];
    for (int p = 0; p < 2; p++) {
        nd_folder cached, plain;
        ck_assert_int_eq(nd_folder_init(&cached, (nd_profile)p), ND_OK);
        ck_assert_int_eq(nd_folder_init(&plain, (nd_profile)p), ND_OK);
        uint64_t state = 5;
        for (int round = 0; round < 20000; round++) {
            uint16_t cps[ND_FOLD_SHORT_MAX];
            size_t n = 2 + next_random(&state) % (ND_FOLD_SHORT_MAX - 1);
            cps[0] = firsts[next_random(&state) % nf];
            for (size_t k = 1; k < n; k++)
                cps[k] = marks[next_random(&state) % nm];
            const nd_fold_short *got;
            ck_assert_int_eq(nd_fold_short_segment(&cached, cps, n, &got), ND_OK);
            UChar in[ND_FOLD_SHORT_MAX];
            for (size_t k = 0; k < n; k++)
                in[k] = cps[k];
            ck_assert_int_eq(nd_fold_segment(&plain, in, n), ND_OK);
            char utf8[64];
            size_t len = 0, chars = 0, words = 0, seps = 0, unspaced = 0, i = 0;
            while (i < plain.a.len) {
                UChar32 o;
                U16_NEXT(plain.a.data, i, plain.a.len, o);
                if (nd_fold_is_word_char(o)) {
                    words++;
                    unspaced += nd_fold_is_unspaced(o) != 0;
                    U8_APPEND_UNSAFE(utf8, len, o);
                    chars++;
                } else {
                    seps++;
                }
            }
            int want = words && seps ? ND_FOLD_SLOW
                       : words       ? (len > sizeof got->utf8 ? ND_FOLD_SLOW : ND_FOLD_WORD)
                       : seps        ? ND_FOLD_SEP
                                     : ND_FOLD_EMPTY;
            ck_assert_msg(got->flags == want, "profile %d, round %d (U+%04X + %zu): kind %d, want %d", p, round,
                          (unsigned)cps[0], n - 1, got->flags, want);
            if (want == ND_FOLD_WORD) {
                ck_assert_msg(got->len == len && got->chars == chars && got->unspaced == unspaced &&
                                  memcmp(got->utf8, utf8, len) == 0,
                              "profile %d, round %d: fold differs", p, round);
            }
        }
        nd_folder_free(&cached);
        nd_folder_free(&plain);
    }
}
END_TEST

typedef struct {
    uint32_t lo, hi;
} cp_range;

/* Code points that exercise every path: ASCII, Latin-1 (ß, ª, spacing
 * accents that fold to a space and a mark), combining marks, Greek (final
 * sigma), Cyrillic capitals, Hebrew and Arabic with points and harakat,
 * Devanagari, Thai, Lao, Khmer, Myanmar, Hangul jamo and syllables,
 * zero-width and format characters, punctuation, letterlike symbols (℡),
 * enclosed numbers, CJK punctuation and iteration marks, kana, CJK
 * compatibility squares (㍿), Han, ligatures, Arabic ligatures that fold to
 * 18 characters (ﷺ), presentation forms, full and half width forms,
 * U+FFFD, emoji, Han extension B, musical symbols, Khitan marks, Aegean
 * numbers, tags. */
static const cp_range latin_ranges[] = {{'a', 'z'}, {'A', 'Z'}, {'0', '9'}, {0xC0, 0xFF}, {0x100, 0x17F}};
static const cp_range other_ranges[] = {
    {0x20, 0x7E},       {0xA0, 0xBF},       {0x300, 0x36F},     {0x370, 0x3FF},     {0x400, 0x4FF},
    {0x590, 0x5FF},     {0x600, 0x6FF},     {0x8A0, 0x8FF},     {0x900, 0x97F},     {0xE00, 0xE7F},
    {0xE80, 0xEFF},     {0x1000, 0x109F},   {0x1100, 0x11FF},   {0x1780, 0x17FF},   {0x200B, 0x200F},
    {0x2000, 0x206F},   {0x2100, 0x214F},   {0x2460, 0x24FF},   {0x3000, 0x303F},   {0x3040, 0x30FF},
    {0x3300, 0x33FF},   {0x4E00, 0x4FFF},   {0xAC00, 0xAC40},   {0xFB00, 0xFB4F},   {0xFDF0, 0xFDFF},
    {0xFE70, 0xFEFF},   {0xFF00, 0xFFEF},   {0xFFFD, 0xFFFD},   {0x1F300, 0x1F64F}, {0x20000, 0x2000F},
    {0x1D15E, 0x1D164}, {0x16FE0, 0x16FF1}, {0x10107, 0x10110}, {0xE0000, 0xE007F}};
/* scripts written without spaces, and what ICU may drop in their runs */
static const cp_range unspaced_ranges[] = {
    {0x4E00, 0x4FFF},   {0x3040, 0x30FF}, {0x3005, 0x3005}, {0x303B, 0x303B}, {0xFF66, 0xFF9F},   {0xE01, 0xE4E},
    {0xE81, 0xEDF},     {0x1780, 0x17F9}, {0x1000, 0x109F}, {0x300, 0x30F},   {0x20000, 0x2000F}, {0x16FE0, 0x16FF1},
    {0x10107, 0x10110}, {0xB4, 0xB4},     {'a', 'z'},       {'0', '9'},       {0x3000, 0x3002},   {0x30FC, 0x30FC}};

static size_t put_utf8(char *out, uint32_t c)
{
    if (c < 0x80) {
        out[0] = (char)c;
        return 1;
    }
    if (c < 0x800) {
        out[0] = (char)(0xC0 | c >> 6);
        out[1] = (char)(0x80 | (c & 0x3F));
        return 2;
    }
    if (c < 0x10000) {
        out[0] = (char)(0xE0 | c >> 12);
        out[1] = (char)(0x80 | ((c >> 6) & 0x3F));
        out[2] = (char)(0x80 | (c & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | c >> 18);
    out[1] = (char)(0x80 | ((c >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((c >> 6) & 0x3F));
    out[3] = (char)(0x80 | (c & 0x3F));
    return 4;
}

static uint32_t pick(const cp_range *ranges, size_t n, uint64_t *state)
{
    const cp_range *r = &ranges[next_random(state) % n];
    uint32_t c = r->lo + (uint32_t)(next_random(state) % (r->hi - r->lo + 1));
    return (c >= 0xD800 && c <= 0xDFFF) ? 0xFFFD : c;
}

/* A random text of up to `max_chars` code points in runs: mostly words of
 * one pool separated by spaces or punctuation, with anything at all mixed
 * in, and now and then a stray byte. `len` receives its length. */
static char *random_text(uint64_t *state, size_t max_chars, int unspaced, size_t *len)
{
    char *text = malloc(max_chars * 4 + 1);
    ck_assert_ptr_nonnull(text);
    size_t w = 0, chars = next_random(state) % (max_chars + 1);
    while (chars > 0) {
        uint64_t roll = next_random(state) % 100;
        size_t run = 1 + next_random(state) % 12;
        if (run > chars)
            run = chars;
        chars -= run;
        for (size_t k = 0; k < run; k++) {
            uint32_t c;
            if (unspaced)
                c = pick(unspaced_ranges, sizeof unspaced_ranges / sizeof unspaced_ranges[0], state);
            else if (roll < 45)
                c = pick(latin_ranges, sizeof latin_ranges / sizeof latin_ranges[0], state);
            else if (roll < 65)
                c = pick(&other_ranges[4 + (roll % 3)], 1, state); /* Cyrillic, Hebrew or Arabic words */
            else
                c = pick(other_ranges, sizeof other_ranges / sizeof other_ranges[0], state);
            w += put_utf8(text + w, c);
        }
        if (next_random(state) % 50 == 0)
            text[w++] = (char)(0x80 + next_random(state) % 0x80); /* a stray byte */
        else if (!unspaced || next_random(state) % 3 == 0)
            text[w++] = " .,\n"[next_random(state) % 4];
    }
    *len = w;
    return text;
}

/* ****  Comparing tokens  **** */

static void check_same_tokens(const nd_tokens *want, const nd_tokens *got, const char *what)
{
    ck_assert_msg(want->count == got->count, "%s: %zu tokens, want %zu", what, got->count, want->count);
    ck_assert_msg(want->text_len == got->text_len, "%s: normalized length %zu, want %zu", what, got->text_len,
                  want->text_len);
    ck_assert_msg(want->text_len == 0 || memcmp(want->text, got->text, want->text_len) == 0,
                  "%s: normalized text differs", what);
    ck_assert_msg(want->invalid_utf8 == got->invalid_utf8, "%s: invalid_utf8", what);
    ck_assert_msg(want->word_chars == got->word_chars, "%s: word_chars %zu, want %zu", what, got->word_chars,
                  want->word_chars);
    ck_assert_msg(want->unspaced_chars == got->unspaced_chars, "%s: unspaced_chars", what);
    for (size_t i = 0; i < want->count; i++) {
        const nd_token *a = &want->items[i], *b = &got->items[i];
        ck_assert_msg(a->start == b->start && a->end == b->end, "%s: token %zu spans [%zu, %zu), want [%zu, %zu)", what,
                      i, b->start, b->end, a->start, a->end);
        ck_assert_msg(a->norm_start == b->norm_start && a->norm_len == b->norm_len && a->hash == b->hash,
                      "%s: token %zu normalized text differs", what, i);
    }
}

typedef struct {
    nd_normalizer *nz[ND_PATHS];
    int available[ND_PATHS];
    nd_tokens want, got;
} path_set;

static void path_set_init(path_set *ps, nd_profile profile)
{
    memset(ps, 0, sizeof *ps);
    for (int p = 0; p < ND_PATHS; p++) {
        ck_assert_int_eq(nd_normalizer_new(&ps->nz[p], profile), ND_OK);
        ps->available[p] = nd_normalizer_set_path(ps->nz[p], (nd_tokenize_path)p) == ND_OK;
    }
    ck_assert(ps->available[ND_PATH_REFERENCE] && ps->available[ND_PATH_SCALAR]);
    ps->want = (nd_tokens)ND_TOKENS_INIT;
    ps->got = (nd_tokens)ND_TOKENS_INIT;
}

static void path_set_free(path_set *ps)
{
    for (int p = 0; p < ND_PATHS; p++)
        nd_normalizer_free(ps->nz[p]);
    nd_tokens_free(&ps->want);
    nd_tokens_free(&ps->got);
}

/* Every fast path against the reference on one text (in an exact-size
 * heap buffer), cutting words and not. */
static void check_paths(path_set *ps, const char *text, size_t len, const char *what)
{
    char *copy = exact_copy(text, len);
    char label[160];
    for (int words = 0; words < 2; words++) {
        int want_alike = 1, got_alike = 1;
        int rc = words ? nd_tokenize(&ps->want, ps->nz[ND_PATH_REFERENCE], copy, len)
                       : nd_tokenize_runs(&ps->want, &want_alike, ps->nz[ND_PATH_REFERENCE], copy, len);
        ck_assert_int_eq(rc, ND_OK);
        for (int p = 0; p < ND_PATH_REFERENCE; p++) {
            if (!ps->available[p])
                continue;
            rc = words ? nd_tokenize(&ps->got, ps->nz[p], copy, len)
                       : nd_tokenize_runs(&ps->got, &got_alike, ps->nz[p], copy, len);
            ck_assert_int_eq(rc, ND_OK);
            snprintf(label, sizeof label, "%s, path %d, %s", what, p, words ? "words" : "runs");
            check_same_tokens(&ps->want, &ps->got, label);
            ck_assert_msg(want_alike == got_alike, "%s: cut_alike differs", label);
        }
    }
    free(copy);
}

START_TEST(test_paths_random)
{
    for (int profile = 0; profile < 2; profile++) {
        path_set ps;
        path_set_init(&ps, (nd_profile)profile);
        for (uint64_t seed = 1; seed <= 600; seed++) {
            uint64_t state = seed;
            size_t len;
            char *text = random_text(&state, 400, seed % 5 == 0, &len);
            char what[64];
            snprintf(what, sizeof what, "profile %d, seed %llu", profile, (unsigned long long)seed);
            check_paths(&ps, text, len, what);
            free(text);
        }
        path_set_free(&ps);
    }
}
END_TEST

/* Each pattern after each fill repeated up to `shift` bytes, for every
 * shift of 0..129 (the pattern through every offset of two 64-byte
 * blocks), alone and with `after` after it: every path against the
 * reference (check_paths). */
static void check_patterns_shifted(const char *const *patterns, size_t pattern_count, const char *const *fills,
                                   size_t fill_count, const char *after)
{
    path_set ps;
    path_set_init(&ps, ND_PROFILE_DEFAULT);
    char text[512];
    size_t al = strlen(after);
    for (size_t f = 0; f < fill_count; f++) {
        for (size_t pi = 0; pi < pattern_count; pi++) {
            for (size_t shift = 0; shift < 130; shift++) {
                size_t len = 0, fl = strlen(fills[f]);
                while (len < shift) {
                    size_t n = shift - len < fl ? shift - len : fl;
                    memcpy(text + len, fills[f], n);
                    len += n;
                }
                size_t pl = strlen(patterns[pi]);
                ck_assert_uint_le(len + pl + al, sizeof text);
                memcpy(text + len, patterns[pi], pl);
                len += pl;
                char what[64];
                snprintf(what, sizeof what, "fill %zu, pattern %zu, shift %zu", f, pi, shift);
                check_paths(&ps, text, len, what);
                memcpy(text + len, after, al);
                check_paths(&ps, text, len + al, what);
            }
        }
    }
    path_set_free(&ps);
}

/* The whole-word loop (fastpath.c's fast_words) against the reference
 * where its runs end: each pattern (words of ASCII and of plain two-byte
 * letters; a combining mark, a capital, a separator beyond ASCII, a letter
 * of a script without spaces, an invalid byte right after a word or a
 * separator) shifted through every offset of two 64-byte blocks, after
 * ASCII words or Arabic ones. */
START_TEST(test_paths_word_edges)
{
    static const char *const patterns[] = {
        "ab cd ef",
        "ae\xCC\x81 cd", /* a combining acute after an ASCII word */
        "ab \xCC\x81"
        "cd",                                         /* after a space */
        "\xD8\xB3\xD9\x84\xD8\xA7\xD9\x85\xD9\x8E x", /* an Arabic word, then a fatha (folds to nothing) */
        "\xD0\xBF\xD1\x80\xD0\x98\xD0\xB2 \xD0\x9F",  /* small Cyrillic, a capital inside, a capital word */
        "ab\xD7\x90\xD6\xB8 cd",                      /* ASCII then Hebrew alef with a qamats */
        "abc\xE4\xB8\xAD\xE6\x96\x87 def",            /* Han after ASCII letters */
        "ab\xC2\xA0"
        "cd\xE2\x80\x94"
        "ef",                         /* no-break space, em dash */
        "ab\xFF cd\xC3",              /* invalid bytes */
        "x\xC3\xA9\xC3\x89 \xC3\x9F", /* e acute, E acute, sharp s (folds longer) */
        /* found by the fuzz harness: a word of plain two-byte letters and
         * ASCII ones that runs on into letters of scripts without spaces
         * (Han, Khmer; U+06E6 'p' U+4E06 'a' U+1F338 U+17FF) */
        "\xDB\xA6p\xE4\xB8\x86"
        "a\xF0\x9F\x8C\xB8\xE1\x9F\xBF",
        "\xD0\xBA\xD0\xBE\xD1\x88\xD0\xBA\xD0\xB0\xE4\xB8\xAD\xE6\x96\x87 x", /* Cyrillic, then Han */
        "ab\xD7\x90\xD7\x91\xE1\x9E\x80\xE1\x9E\x81 x",                       /* Hebrew, then Khmer */
        /* two-byte separators (fast_words takes them as ASCII ones): an
         * Arabic comma after a word, before a word, before a fatha; a
         * question mark; guillemets; a no-break space before a combining
         * acute; a section sign (a symbol, a word character) */
        "\xD8\xB3\xD9\x84\xD8\x8C \xD8\xB3\xD8\x8C\xD8\xB3\xD8\x9F",
        "\xD8\xB3\xD8\x8C\xD9\x8E\xD8\xB3 \xD8\x8C\xD9\x8E x",
        "\xC2\xAB\xD8\xB3\xD9\x84\xC2\xBB\xC2\xAB\xC2\xBB ab",
        "ab\xC2\xA0\xCC\x81 \xC2\xA0\xC2\xA0\xD8\xB3\xC2\xA7\xD8\xB3",
    };
    static const char *const fills[] = {"ab cd ", "\xD8\xB3\xD9\x84 "};
    /* and with words after it */
    check_patterns_shifted(patterns, sizeof patterns / sizeof patterns[0], fills, sizeof fills / sizeof fills[0],
                           " ab\xD8\xB3 cd");
}
END_TEST

/* A code point and the marks after it (marks.c's nd_tk_mark_segment, whose
 * folds the folder keeps): each base (ASCII, Latin-1, Arabic letters that
 * compose with hamza or madda and one that does not, Hebrew, Cyrillic,
 * Greek, an Arabic comma, a no-break space, a space, a sharp s, a soft
 * hyphen, a tatweel (with harakat, folds to nothing: a gap in a token), a
 * Thai consonant, the Thai SARA AM that NFKC maps to a mark and a letter,
 * a kana that composes with the voicing mark, a Devanagari letter; after a
 * Han letter now and then) with one to five marks (harakat, shadda, hamza
 * above, madda, combining accents that compose or not, one NFKC maps to
 * two, the grapheme joiner that folds to nothing, the Greek iota subscript
 * that folds to a letter, Hebrew points, a Thai tone mark and vowel sign
 * below, the kana voicing mark, the Devanagari nukta), then what may
 * follow (a space, a letter, a three-byte mark, a comma, a Han letter, the
 * end), shifted through the first two blocks. */
START_TEST(test_paths_mark_segments)
{
    static const uint32_t bases[] = {'e',   'a',   ' ',   0xE9,  0xDF,  0xA0, 0x627, 0x648, 0x64A, 0x628,  0x60C,
                                     0x5D0, 0x438, 0x3B1, 0x415, 0x3A9, 0xAD, 0x640, 0xE01, 0xE33, 0x304B, 0x915};
    static const uint32_t marks[] = {0x64E, 0x651, 0x654, 0x653, 0x64B, 0x650, 0x301, 0x327, 0x300, 0x308,  0x306,
                                     0x344, 0x34F, 0x345, 0x5B8, 0x5BC, 0x655, 0x670, 0xE48, 0xE38, 0x3099, 0x93C};
    static const char *const enders[] = {" x", "\xD8\xB3", "\xE2\x83\x90y", "\xD8\x8C", "\xE4\xB8\xAD", ""};
    const size_t nb = sizeof bases / sizeof bases[0], nm = sizeof marks / sizeof marks[0];
    path_set ps;
    path_set_init(&ps, ND_PROFILE_DEFAULT);
    path_set ps_aggressive;
    path_set_init(&ps_aggressive, ND_PROFILE_AGGRESSIVE);
    char text[256], what[96];
    uint64_t state = 17;
    for (size_t b = 0; b < nb; b++) {
        for (size_t k = 1; k <= 5; k++) {
            for (size_t e = 0; e < sizeof enders / sizeof enders[0]; e++) {
                for (size_t shift = 0; shift < 70; shift += 1 + next_random(&state) % 6) {
                    size_t len = 0;
                    while (len < shift)
                        len += put_utf8(text + len, len % 5 == 4 ? ' ' : 0x633); /* Arabic words */
                    len = shift; /* (a two-byte letter may have gone one past) */
                    if (shift > 0 && (text[shift - 1] & 0xC0) == 0xC0)
                        text[shift - 1] = ' ';
                    if (shift % 3 == 1)
                        len += put_utf8(text + len, 0x6587); /* in a token of a script without spaces */
                    len += put_utf8(text + len, bases[b]);
                    for (size_t m = 0; m < k; m++)
                        len += put_utf8(text + len, marks[next_random(&state) % nm]);
                    memcpy(text + len, enders[e], strlen(enders[e]));
                    len += strlen(enders[e]);
                    snprintf(what, sizeof what, "base %zu, %zu marks, ender %zu, shift %zu", b, k, e, shift);
                    check_paths(&ps, text, len, what);
                    check_paths(&ps_aggressive, text, len, what);
                }
            }
        }
    }
    path_set_free(&ps);
    path_set_free(&ps_aggressive);
}
END_TEST

/* Letters of scripts without spaces with marks after them that are their
 * own folds (the fast path copies such a letter and its marks as they are
 * when the marks' combining classes do not decrease, fastpath.c): every
 * pair and some triples of marks of Thai, Lao, Myanmar and Khmer (classes
 * 0, 7, 9, 103, 107, 118, 122, 230: in order and out of it, and of
 * another script than the letter's) and a Latin accent after letters of
 * those scripts, a Han letter and a kana, then a space, a Thai letter, the
 * end or a Latin accent, shifted through the first two blocks. */
START_TEST(test_paths_unspaced_marks)
{
    static const uint32_t bases[] = {0xE01, 0xE81, 0x1000, 0x1780, 0x4E2D, 0x3042};
    static const uint32_t marks[] = {0xE31, 0xE38,  0xE39,  0xE3A,  0xE48,  0xE49,  0xE4C,  0xEB8,
                                     0xEC8, 0x1037, 0x103A, 0x102D, 0x17D2, 0x17C6, 0x17DD, 0x301};
    static const char *const enders[] = {" x", "\xE0\xB8\x81", "", "\xCC\x81"};
    const size_t nb = sizeof bases / sizeof bases[0], nm = sizeof marks / sizeof marks[0];
    path_set ps;
    path_set_init(&ps, ND_PROFILE_DEFAULT);
    char text[256], what[96];
    uint64_t state = 29;
    for (size_t b = 0; b < nb; b++) {
        for (size_t m1 = 0; m1 < nm; m1++) {
            for (size_t m2 = 0; m2 < nm; m2++) {
                for (size_t e = 0; e < sizeof enders / sizeof enders[0]; e++) {
                    size_t shift = next_random(&state) % 70, len = 0;
                    while (len + 3 <= shift) /* Thai letters, a space every seventh */
                        len += put_utf8(text + len, (len / 3) % 7 == 6 ? 0xE3F : (uint32_t)(0xE01 + (len / 3) % 40));
                    while (len < shift)
                        text[len++] = ' ';
                    len += put_utf8(text + len, bases[b]);
                    len += put_utf8(text + len, marks[m1]);
                    len += put_utf8(text + len, marks[m2]);
                    if ((m1 + m2 + e) % 3 == 0) /* a third mark now and then */
                        len += put_utf8(text + len, marks[next_random(&state) % nm]);
                    memcpy(text + len, enders[e], strlen(enders[e]));
                    len += strlen(enders[e]);
                    snprintf(what, sizeof what, "base U+%04X, marks U+%04X U+%04X, ender %zu, shift %zu",
                             (unsigned)bases[b], (unsigned)marks[m1], (unsigned)marks[m2], e, shift);
                    check_paths(&ps, text, len, what);
                }
            }
        }
    }
    path_set_free(&ps);
}
END_TEST

static const char *const fixture_files[] = {
    "arabic-news/page.txt",
    "arabic-news/rewrite-drop.txt",
    "arabic-news/other-same-subject.txt",
    "cjk/ja-a.txt",
    "cjk/th-a.txt",
    "cjk/zh-a.txt",
    "normalize/arabic-plain.txt",
    "normalize/arabic-tashkeel.txt",
    "normalize/persian-farsi.txt",
    "normalize/persian-arabic.txt",
    "paragraphs/mixed-scripts.txt",
    "paragraphs/near-a.txt",
};

START_TEST(test_paths_fixtures)
{
    const char *name = fixture_files[_i];
    size_t len;
    char *text = read_fixture(name, &len);
    ck_assert_ptr_nonnull(text);
    for (int profile = 0; profile < 2; profile++) {
        path_set ps;
        path_set_init(&ps, (nd_profile)profile);
        check_paths(&ps, text, len, name);
        /* every prefix length around the first blocks: runs cut at every
         * place by the end of the text */
        for (size_t cut = 0; cut < len && cut < 200; cut++)
            check_paths(&ps, text, cut, name);
        path_set_free(&ps);
    }
    free(text);
}
END_TEST

/* Runs of Han letters (the fast loop's Han/kana branch) at every
 * alignment against the 64-byte blocks, up to 130 letters long, ended by
 * each kind of thing that may follow one: a combining mark (no boundary
 * before it: the last letter is given back; after a kana, the voiced mark
 * composes with it), CJK punctuation, ASCII, kana,
 * an iteration mark, Thai, Hangul, a Han letter beyond the BMP, overlong
 * and surrogate three-byte forms, a stray byte, the end of the text. The
 * letters cycle through both edges of U+4E00..U+9FFF (kept_leads() knows
 * those from their lead and second byte), the edges of their leads' blocks
 * (E4 BF BF, E5 80 80, E9 80 80), letters outside it (extension A, a
 * compatibility ideograph, a kana) that only kept_letter() knows. */
START_TEST(test_paths_han_runs)
{
    static const char *const enders[] = {"\xE3\x81\x8B\xE3\x82\x99",
                                         "\xCC\x81",
                                         "\xE3\x82\x99",
                                         "\xE3\x80\x82",
                                         "a b",
                                         "\xE3\x81\x82\xE3\x82\xA2",
                                         "\xE3\x80\x85",
                                         "\xE0\xB8\x81",
                                         "\xEA\xB0\x80",
                                         "\xF0\xA0\x80\x80",
                                         "\xE0\x80\x80",
                                         "\xED\xA0\x80",
                                         "\x80",
                                         ""};
    static const uint32_t letters[] = {0x4E00, 0x9FFF, 0x6587, 0x4E2D, 0x3400, 0xF900, 0x4FFF,
                                       0x5000, 0x9000, 0x4DB5, 0x3042, 0x4E3F, 0x8FFF, 0x7FC0};
    path_set ps;
    path_set_init(&ps, ND_PROFILE_DEFAULT);
    char text[600], what[96];
    for (size_t shift = 0; shift < 4; shift++) {
        for (size_t count = 1; count <= 130; count += (count < 30 ? 1 : 7)) {
            for (size_t e = 0; e < sizeof enders / sizeof enders[0]; e++) {
                size_t len = 0;
                for (size_t k = 0; k < shift; k++)
                    text[len++] = 'x';
                for (size_t k = 0; k < count; k++)
                    len += put_utf8(text + len, letters[k % (sizeof letters / sizeof letters[0])]);
                memcpy(text + len, enders[e], strlen(enders[e]));
                len += strlen(enders[e]);
                for (size_t k = 0; k < count % 5; k++)
                    len += put_utf8(text + len, 0x4E00 + (uint32_t)k); /* more letters after the ender */
                snprintf(what, sizeof what, "shift %zu, %zu letters, ender %zu", shift, count, e);
                check_paths(&ps, text, len, what);
            }
        }
    }
    path_set_free(&ps);
}
END_TEST

/* Tokens of letters of scripts without spaces taken whole by the
 * whole-word loop (fastpath.c's fast_words: kept letters, three-byte
 * separators) against the reference where its runs end and where it must
 * stop: Han sentences ended by CJK punctuation and newlines, kana and a
 * voiced mark that composes with one, Han with ASCII, Arabic or Cyrillic
 * letters in the same token (not known to be kept), a soft hyphen (a gap
 * in a token), an ideographic space, typographic quotes and a dash, an
 * overlong form of a no-break space and a surrogate, a Han letter outside
 * U+4E00..U+9FFF, shifted through every offset of two 64-byte blocks
 * after Han sentences or ASCII words. */
START_TEST(test_paths_han_words)
{
    static const char *const patterns[] = {
        "\xE4\xB8\xAD\xE6\x96\x87\xE5\xAD\x97\xE3\x80\x82\n\n\xE4\xB8\x80\xE4\xBA\x8C\xE3\x80\x81",
        "\xE3\x81\x8B\xE3\x81\x8D\xE3\x82\x99\xE3\x80\x82\xE3\x82\xA2", /* kana, a voiced mark */
        "ab\xE4\xB8\xAD\xE6\x96\x87"
        "cd\xE3\x80\x82x",                                          /* ASCII in a Han token */
        "\xD8\xB3\xE4\xB8\xAD\xD9\x84\xE3\x80\x82\xE4\xB8\xAD",     /* Arabic in a Han token */
        "\xD0\xBA\xE4\xB8\xAD \xE4\xB8\xAD\xD0\xBA\xE3\x80\x82",    /* Cyrillic and Han */
        "\xE4\xB8\xAD\xC2\xAD\xE6\x96\x87\xE3\x80\x82\xE4\xB8\xAD", /* a soft hyphen: a gap */
        "\xE4\xB8\xAD\xE3\x80\x80\xE6\x96\x87\xE2\x80\x9C\xE4\xB8\x80\xE2\x80\x9D\xE2\x80\x94",
        "\xE4\xB8\xAD\xE0\x82\xA0\xE6\x96\x87\xED\xA0\x80\xE4\xB8\x80", /* overlong, surrogate */
        "\xE4\xB8\xAD\xCC\x81\xE3\x80\x82\xE3\x80\x82\xCC\x81",         /* combining acutes */
        "\xE3\x90\x80\xEF\xA4\x80\xE4\xB8\xAD\xE3\x80\x85\xE3\x80\x82", /* ext. A, compat., iteration */
        "\xE4\xB8\xAD\xF0\xA0\x80\x80\xE6\x96\x87 \xE4\xB8\xAD\xEF\xBC\x8C",
    };
    static const char *const fills[] = {"\xE5\x9C\x8B\xE6\x96\x87\xE3\x80\x82", "ab cd "};
    /* and Han sentences after it, into the next block */
    check_patterns_shifted(patterns, sizeof patterns / sizeof patterns[0], fills, sizeof fills / sizeof fills[0],
                           "\xE4\xB8\x80\xE4\xBA\x8C\xE4\xB8\x89\xE3\x80\x82\n"
                           "\xE5\x9B\x9B\xE4\xBA\x94\xE3\x80\x82");
}
END_TEST

/* ****  Skipping word breaking  **** */

/* The text character shingles read: tokens' normalized text, one space
 * where the original had something between two tokens (as shingle.c). */
static size_t joined(char *out, const nd_tokens *t)
{
    size_t w = 0;
    for (size_t i = 0; i < t->count; i++) {
        if (i > 0 && t->items[i].start > t->items[i - 1].end)
            out[w++] = ' ';
        memcpy(out + w, t->text + t->items[i].norm_start, t->items[i].norm_len);
        w += t->items[i].norm_len;
    }
    return w;
}

/* For every code point of the BMP before and after a Han letter, a letter
 * of Thai, Lao, Khmer and Myanmar (whose marks are kept after them), a
 * kana and a Latin letter, and alone: whenever nd_tokenize_runs() says the
 * runs are cut alike, the joined normalized text is the same cut or not. */
START_TEST(test_runs_cut_alike_every_code_point)
{
    static const char *const contexts[] = {
        "", "\xE4\xB8\xAD", "\xE0\xB8\x81", "\xE0\xBA\x81", "\xE1\x9E\x80", "\xE1\x80\x80", "\xE3\x81\x82", "a"};
    nd_normalizer *nz = NULL;
    ck_assert_int_eq(nd_normalizer_new(&nz, ND_PROFILE_DEFAULT), ND_OK);
    nd_tokens runs = ND_TOKENS_INIT, words = ND_TOKENS_INIT;
    char *a = malloc(4096), *b = malloc(4096);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    size_t checked = 0;
    /* the BMP: a run holding anything beyond it is never taken as cut alike */
    for (uint32_t c = 0x80; c <= 0xFFFF; c++) {
        if (c >= 0xD800 && c <= 0xDFFF)
            continue;
        for (size_t k = 0; k < sizeof contexts / sizeof contexts[0]; k++) {
            for (int side = 0; side < 2; side++) {
                char text[16];
                size_t n = 0, ctx = strlen(contexts[k]);
                if (side == 0) {
                    memcpy(text, contexts[k], ctx);
                    n = ctx;
                }
                n += put_utf8(text + n, c);
                if (side == 1) {
                    memcpy(text + n, contexts[k], ctx);
                    n += ctx;
                }
                int alike = 0;
                ck_assert_int_eq(nd_tokenize_runs(&runs, &alike, nz, text, n), ND_OK);
                if (!alike || runs.unspaced_chars == 0)
                    continue;
                ck_assert_int_eq(nd_tokenize(&words, nz, text, n), ND_OK);
                size_t la = joined(a, &runs), lb = joined(b, &words);
                ck_assert_msg(la == lb && memcmp(a, b, la) == 0,
                              "U+%04X %s context %zu: cut and uncut runs differ ('%.*s' vs '%.*s')", c,
                              side ? "before" : "after", k, (int)lb, b, (int)la, a);
                checked++;
            }
        }
    }
    ck_assert_uint_gt(checked, 50000);
    free(a);
    free(b);
    nd_tokens_free(&runs);
    nd_tokens_free(&words);
    nd_normalizer_free(nz);
}
END_TEST

/* Are nd_tokenize_runs()'s tokens of text cut alike, and if so, is their
 * joined text nd_tokenize()'s? Returns whether they are cut alike. */
static int runs_alike_checked(nd_normalizer *nz, nd_tokens *runs, nd_tokens *words, char *a, char *b, const char *text,
                              size_t len)
{
    int alike = 0;
    ck_assert_int_eq(nd_tokenize_runs(runs, &alike, nz, text, len), ND_OK);
    if (!alike)
        return 0;
    ck_assert_int_eq(nd_tokenize(words, nz, text, len), ND_OK);
    size_t la = joined(a, runs), lb = joined(b, words);
    ck_assert_msg(la == lb && memcmp(a, b, la) == 0, "'%.*s': cut and uncut runs differ ('%.*s' vs '%.*s')", (int)len,
                  text, (int)lb, b, (int)la, a);
    return 1;
}

/* Thai, Lao, Khmer and Myanmar, which ICU cuts with a dictionary a script:
 * their runs are taken as cut alike where nd_fold_dict_kind says a mark or
 * modifier letter is kept (and not otherwise), and whenever they are, the
 * joined text is the same cut or not. On set cases, on random runs of each
 * script's characters (with spaces, punctuation, digits, marks anywhere),
 * and on runs of ICU's own locale names in those languages written without
 * spaces, as the languages are. */
START_TEST(test_runs_cut_alike_dictionary_scripts)
{
    static const struct {
        const char *text;
        int alike;
    } cases[] = {
        {"\xE0\xB8\x81\xE0\xB8\xB4\xE0\xB8\x99", 1},                         /* Thai: letter, vowel sign, letter */
        {"\xE0\xB8\xAA\xE0\xB8\xB9\xE0\xB9\x88\xE0\xB8\x87", 1},             /* letter, two marks, letter */
        {"\xE0\xB8\x95\xE0\xB9\x88\xE0\xB8\xB2\xE0\xB8\x87\xE0\xB9\x86", 1}, /* ending in MAI YAMOK (Lm) */
        {"\xE0\xB8\xB4\xE0\xB8\x81", 0},                                     /* a vowel sign opening the run */
        {"\xE0\xB9\x86\xE0\xB8\x81", 0},                                     /* MAI YAMOK opening it */
        {"\xE0\xB8\x81\xE0\xB9\x86\xE0\xB9\x88", 0}, /* a mark after MAI YAMOK: not proved kept */
        {"\xE0\xB9\x91\xE0\xB9\x88", 0},             /* a mark after a Thai digit */
        {"a\xE0\xB9\x88", 0},                        /* a Thai mark after a Latin letter */
        {"\xE0\xB8\x81\xE0\xBA\xB4", 0},             /* a Lao mark after a Thai letter */
        {"\xE0\xBA\x81\xE0\xBA\xB4\xE0\xBA\x99", 1}, /* Lao */
        {"\xE1\x9E\x80\xE1\x9F\x92\xE1\x9E\x9A", 1}, /* Khmer: KA, COENG, RO */
        {"\xE1\x80\x99\xE1\x80\xBC\xE1\x80\x94\xE1\x80\xBA\xE1\x80\x99\xE1\x80\xAC", 1}, /* Myanmar */
    };
    nd_normalizer *nz = NULL;
    ck_assert_int_eq(nd_normalizer_new(&nz, ND_PROFILE_DEFAULT), ND_OK);
    nd_tokens runs = ND_TOKENS_INIT, words = ND_TOKENS_INIT;
    char *a = malloc(1 << 16), *b = malloc(1 << 16), *text = malloc(1 << 14);
    ck_assert(a && b && text);
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        int alike = runs_alike_checked(nz, &runs, &words, a, b, cases[k].text, strlen(cases[k].text));
        ck_assert_msg(alike == cases[k].alike, "case %zu: cut alike %d, not %d", k, alike, cases[k].alike);
    }
    /* why a mark opening a run is not taken as kept: ICU (72) leaves it out
     * of every word, so cut and uncut runs differ (should a later ICU keep
     * it, the rule is only stricter than it needs to be) */
    {
        const char *lead = cases[3].text;
        int alike = 1;
        ck_assert_int_eq(nd_tokenize_runs(&runs, &alike, nz, lead, strlen(lead)), ND_OK);
        ck_assert_int_eq(nd_tokenize(&words, nz, lead, strlen(lead)), ND_OK);
        size_t la = joined(a, &runs), lb = joined(b, &words);
        ck_assert_msg(la != lb || memcmp(a, b, la) != 0, "ICU kept a vowel sign opening a run");
    }
    /* random runs of each script's block */
    static const cp_range blocks[] = {{0xE01, 0xE5B}, {0xE80, 0xEFF}, {0x1780, 0x17FF}, {0x1000, 0x109F}};
    uint32_t pool[256];
    uint64_t state = 17;
    for (size_t k = 0; k < sizeof blocks / sizeof blocks[0]; k++) {
        size_t n = 0, alike = 0;
        for (uint32_t c = blocks[k].lo; c <= blocks[k].hi; c++) {
            if (u_charType((UChar32)c) != U_UNASSIGNED)
                pool[n++] = c;
        }
        enum { TEXTS = 20000 };
        for (int t = 0; t < TEXTS; t++) {
            size_t len = 0, chars = 1 + next_random(&state) % 24;
            for (size_t i = 0; i < chars; i++) {
                uint64_t r = next_random(&state);
                len += put_utf8(text + len, r % 16 == 0 ? ' ' : pool[(r >> 8) % n]);
            }
            alike += (size_t)runs_alike_checked(nz, &runs, &words, a, b, text, len);
        }
        ck_assert_msg(alike > TEXTS / 8, "block U+%04X: only %zu of %d texts cut alike", blocks[k].lo, alike, TEXTS);
    }
    /* ICU's names of locales in Thai, Lao, Khmer and Burmese, run together */
    static const char *const languages[] = {"th", "lo", "km", "my"};
    for (size_t k = 0; k < sizeof languages / sizeof languages[0]; k++) {
        enum { NAMES = 400 };
        static char names[NAMES][256];
        size_t count = 0;
        for (int32_t i = 0; i < uloc_countAvailable() && count < NAMES; i++) {
            UChar u[128];
            UErrorCode status = U_ZERO_ERROR;
            int32_t n = uloc_getDisplayName(uloc_getAvailable(i), languages[k], u, 128, &status), m = 0;
            if (U_FAILURE(status) || n <= 0)
                continue;
            u_strToUTF8(names[count], (int32_t)sizeof names[count] - 1, &m, u, n, &status);
            if (U_SUCCESS(status) && m > 0 && (unsigned char)names[count][0] >= 0xE0)
                names[count++][m] = '\0'; /* a name in the language's own script */
        }
        ck_assert_msg(count >= 100, "%s: only %zu locale names", languages[k], count);
        size_t alike = 0;
        enum { TEXTS = 5000 };
        for (int t = 0; t < TEXTS; t++) {
            size_t len = 0, parts = 1 + next_random(&state) % 10;
            for (size_t i = 0; i < parts; i++) {
                const char *name = names[next_random(&state) % count];
                size_t l = strlen(name);
                memcpy(text + len, name, l);
                len += l;
            }
            alike += (size_t)runs_alike_checked(nz, &runs, &words, a, b, text, len);
        }
        ck_assert_msg(alike > TEXTS / 2, "%s: only %zu of %d texts cut alike", languages[k], alike, TEXTS);
    }
    free(a);
    free(b);
    free(text);
    nd_tokens_free(&runs);
    nd_tokens_free(&words);
    nd_normalizer_free(nz);
}
END_TEST

/* Sketches with and without words: same shingle ids and signature, on
 * random texts mostly in scripts without spaces; and the same ids as
 * nd_shingles() on the tokens of nd_tokenize(). The sketcher's tokens have
 * their hashes when asked for (nd_tokenize_runs skips them for a text
 * signed with character shingles, nd_normalizer_hash_pending sets them). */
START_TEST(test_sketch_without_words)
{
    nd_options opts = ND_OPTIONS_INIT;
    ck_assert_int_eq(nd_options_resolve(&opts), ND_OK);
    nd_sketcher *with = NULL, *without = NULL;
    ck_assert_int_eq(nd_sketcher_new(&with, &opts), ND_OK);
    ck_assert_int_eq(nd_sketcher_new(&without, &opts), ND_OK);
    nd_sketcher_set_words(without, 0);
    nd_normalizer *nz = NULL;
    ck_assert_int_eq(nd_normalizer_new(&nz, ND_PROFILE_DEFAULT), ND_OK);
    nd_tokens tokens = ND_TOKENS_INIT;
    uint32_t *ids = NULL;
    size_t ids_capacity = 0, count = 0, unhashed_texts = 0;
    /* found by the fuzz harness: a character that folds to nothing inside a
     * run (soft hyphen, U+FE7B whose fold is a removed kasra) becomes a gap
     * between two words when the run is cut, which character shingles read
     * as a space */
    static const char *const found[] = {
        "\xE4\xB8\xAD\xC2\xAD\xE6\x96\x87\xE5\xAD\x97\xE5\x9C\xA8\xE8\xBF\x99",
        "\xE4\xB8\x88\xE4\xB8\x88\xE4\xB8\x88\xE4\xB8\xA9\xEF\xB9\xBB"
        "aaaxj",
    };
    for (size_t f = 0; f < sizeof found / sizeof found[0]; f++) {
        nd_sketch_ref a, b;
        ck_assert_int_eq(nd_sketch_text_ref(&a, with, found[f], strlen(found[f])), ND_OK);
        ck_assert_int_eq(nd_sketch_text_ref(&b, without, found[f], strlen(found[f])), ND_OK);
        ck_assert_msg(a.count == b.count && memcmp(a.ids, b.ids, a.count * sizeof *a.ids) == 0,
                      "found[%zu]: shingle ids differ", f);
    }
    for (uint64_t seed = 1; seed <= 1000; seed++) {
        uint64_t state = seed * 7919;
        size_t len;
        char *text = random_text(&state, 300, seed % 4 != 0, &len);
        nd_sketch_ref a, b;
        ck_assert_int_eq(nd_sketch_text_ref(&a, with, text, len), ND_OK);
        ck_assert_int_eq(nd_sketch_text_ref(&b, without, text, len), ND_OK);
        ck_assert_msg(a.count == b.count && (a.count == 0 || memcmp(a.ids, b.ids, a.count * sizeof *a.ids) == 0),
                      "seed %llu: shingle ids differ", (unsigned long long)seed);
        ck_assert_msg(memcmp(a.signature, b.signature, opts.num_perm * sizeof *a.signature) == 0,
                      "seed %llu: signatures differ", (unsigned long long)seed);
        /* the tokens handed out have their hashes, though signing with
         * character shingles did not need them */
        const nd_tokens *t = nd_sketcher_tokens(without);
        for (size_t i = 0; i < t->count; i++)
            ck_assert_msg(t->items[i].hash == nd_hash64(t->text + t->items[i].norm_start, t->items[i].norm_len, 0),
                          "seed %llu: token %zu's hash", (unsigned long long)seed, i);
        /* nd_tokenize_runs leaves them to nd_normalizer_hash_pending when
         * the text is mostly unspaced, else sets them */
        int cut_alike;
        ck_assert_int_eq(nd_tokenize_runs(&tokens, &cut_alike, nz, text, len), ND_OK);
        size_t unset = 0;
        for (size_t i = 0; i < tokens.count; i++)
            unset += tokens.items[i].hash == 0;
        ck_assert(!nd_tokens_mostly_unspaced(&tokens) || tokens.count == 0 || unset == tokens.count);
        unhashed_texts += nd_tokens_mostly_unspaced(&tokens) && tokens.count > 0;
        nd_normalizer_hash_pending(nz);
        for (size_t i = 0; i < tokens.count; i++)
            ck_assert_msg(tokens.items[i].hash ==
                              nd_hash64(tokens.text + tokens.items[i].norm_start, tokens.items[i].norm_len, 0),
                          "seed %llu: run %zu's hash", (unsigned long long)seed, i);
        /* the sketch's ids are those of nd_shingles() on the tokens of
         * nd_tokenize() */
        ck_assert_int_eq(nd_tokenize(&tokens, nz, text, len), ND_OK);
        unsigned size;
        nd_shingle_kind kind = nd_shingle_choice(&size, &opts, &tokens);
        ck_assert_int_eq(nd_shingles(&ids, &ids_capacity, &count, &tokens, kind, size), ND_OK);
        ck_assert_msg(count == a.count && (count == 0 || memcmp(ids, a.ids, count * sizeof *ids) == 0),
                      "seed %llu: the sketch's ids are not nd_shingles'", (unsigned long long)seed);
        free(text);
    }
    ck_assert_uint_gt(unhashed_texts, 300);
    free(ids);
    nd_tokens_free(&tokens);
    nd_normalizer_free(nz);
    nd_sketcher_free(with);
    nd_sketcher_free(without);
}
END_TEST

/* ****  The CLI's UTF-8 check  **** */

/* Well formed by ICU's U8_NEXT, one character at a time: the definition
 * utf8_well_formed() must agree with. */
static int utf8_well_formed_by_icu(const char *s, size_t n)
{
    int32_t i = 0, len = (int32_t)n;
    while (i < len) {
        UChar32 c;
        U8_NEXT((const uint8_t *)s, i, len, c);
        if (c < 0)
            return 0;
    }
    return 1;
}

/* The escape's results decode back to the bytes they came from (so two
 * strings never share one), are well-formed, and leave well-formed text
 * without backslashes as it was; a few spelled out. */
static size_t unescape(char *out, const char *s)
{
    size_t o = 0;
    for (size_t i = 0; s[i];) {
        if (s[i] == '\\' && s[i + 1] == '\\') {
            out[o++] = '\\';
            i += 2;
        } else if (s[i] == '\\' && s[i + 1] == 'x') {
            char hex[3] = {s[i + 2], s[i + 3], 0};
            out[o++] = (char)strtoul(hex, NULL, 16);
            i += 4;
        } else {
            out[o++] = s[i++];
        }
    }
    return o;
}

START_TEST(test_utf8_escape_ill_formed)
{
    static const struct {
        const char *in, *out;
    } rows[] = {{"a\xE9.txt", "a\\xE9.txt"},
                {"a\xE8.txt", "a\\xE8.txt"},
                {"\xE4\xB8", "\\xE4\\xB8"},                          /* a sequence cut short: its bytes */
                {"b\\\xFF", "b\\\\\\xFF"},                           /* a backslash doubled */
                {"\xED\xA0\x80x", "\\xED\\xA0\\x80x"},               /* a surrogate */
                {"\xE4\xB8\xAD\xC0\xAF", "\xE4\xB8\xAD\\xC0\\xAF"}}; /* Han kept as it is */
    for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
        char *got = utf8_escape_ill_formed(rows[r].in, strlen(rows[r].in));
        ck_assert_str_eq(got, rows[r].out);
        free(got);
    }
    static const char *const odd[] = {"\xE0\x9F\xBF", "\xED\xA0\x80", "\xF5", "\xC0\xAF",
                                      "\x80",         "\xE4\xB8",     "\\",   "\xF0\x9F\x98"};
    uint64_t state = 29;
    char text[512], back[512];
    for (int round = 0; round < 3000; round++) {
        size_t len = 0, pieces = next_random(&state) % 60;
        int clean = round % 2 == 0;
        for (size_t k = 0; k < pieces; k++) {
            uint64_t r = next_random(&state) % 100;
            if (r < 40)
                len += put_utf8(text + len, 0x4E00 + (uint32_t)(next_random(&state) % 0x5200));
            else if (r < 70)
                text[len++] = (char)(0x21 + next_random(&state) % 0x5E);
            else if (r < 85)
                len += put_utf8(text + len, 0x80 + (uint32_t)(next_random(&state) % 0x780));
            else if (!clean) {
                const char *o = odd[next_random(&state) % (sizeof odd / sizeof odd[0])];
                memcpy(text + len, o, strlen(o));
                len += strlen(o);
            }
        }
        char *got = utf8_escape_ill_formed(text, len);
        ck_assert_ptr_nonnull(got);
        ck_assert_msg(utf8_well_formed(got, strlen(got)), "round %d: the result is well formed", round);
        size_t back_len = unescape(back, got);
        ck_assert_msg(back_len == len && memcmp(back, text, len) == 0, "round %d: decodes back", round);
        if (utf8_well_formed(text, len) && !memchr(text, '\\', len))
            ck_assert_msg(strlen(got) == len && memcmp(got, text, len) == 0, "round %d: well-formed text as it was",
                          round);
        free(got);
    }
}
END_TEST

/* Random texts of the pieces the vector loop tells apart (ASCII, two- and
 * three-byte characters, mostly Han, the edges of E0 and ED's second bytes,
 * four-byte characters, C0/C1, F5, stray continuations, sequences cut
 * short), and every prefix of each, in exact-size buffers. */
START_TEST(test_utf8_well_formed_random)
{
    static const char *const odd[] = {
        "\xE0\x9F\xBF",     "\xE0\xA0\x80", "\xED\x9F\xBF", "\xED\xA0\x80", "\xEF\xBF\xBF", "\xF0\x9F\x98\x80",
        "\xF4\x90\x80\x80", "\xF5",         "\xC0\xAF",     "\xC1\xBF",     "\x80",         "\xBF",
        "\xE4\xB8",         "\xD8",         "\xF0\x9F\x98"};
    uint64_t state = 17;
    char text[512];
    size_t checked_bad = 0;
    for (int round = 0; round < 3000; round++) {
        size_t len = 0, pieces = next_random(&state) % 60;
        int clean = round % 2 == 0; /* half the texts well formed but for a rare odd piece */
        for (size_t k = 0; k < pieces; k++) {
            uint64_t r = next_random(&state) % 100;
            if (r < 35)
                len += put_utf8(text + len, 0x4E00 + (uint32_t)(next_random(&state) % 0x5200)); /* Han */
            else if (r < 55)
                text[len++] = (char)(0x20 + next_random(&state) % 0x5F);
            else if (r < 70)
                len += put_utf8(text + len, 0x80 + (uint32_t)(next_random(&state) % 0x780));
            else if (r < 85) {
                uint32_t c = 0x800 + (uint32_t)(next_random(&state) % 0xF800);
                len += put_utf8(text + len, c >= 0xD800 && c <= 0xDFFF ? 0x3002 : c);
            } else if (!clean || r < 87) {
                const char *o = odd[next_random(&state) % (sizeof odd / sizeof odd[0])];
                memcpy(text + len, o, strlen(o));
                len += strlen(o);
            }
        }
        for (size_t n = 0; n <= len; n++) {
            char *copy = exact_copy(text, n);
            int want = utf8_well_formed_by_icu(copy, n);
            ck_assert_msg(utf8_well_formed(copy, n) == want, "round %d, %zu bytes: utf8_well_formed says %d", round, n,
                          !want);
            ck_assert_msg(utf8_well_formed_path(copy, n, 0) == want, "round %d, %zu bytes: the portable path says %d",
                          round, n, !want);
            checked_bad += !want;
            free(copy);
        }
    }
    ck_assert_uint_gt(checked_bad, 1000);
}
END_TEST

/* Both paths (the AVX2 lookup method, where the CPU has it, and the
 * portable one) against ICU on long well-formed texts of every kind of
 * character (ASCII, two-, three- and four-byte) with one byte replaced, at
 * every offset, by each byte that starts, continues or breaks a sequence
 * (the edges of E0, ED, F0 and F4's second bytes, C0/C1, F5..FF), and
 * with a second byte replaced a few places later; and every prefix (a
 * sequence cut short at the end, or at a 32-byte edge). */
START_TEST(test_utf8_well_formed_mutated)
{
    static const uint8_t bytes[] = {0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC1, 0xC2, 0xDF,
                                    0xE0, 0xE1, 0xEC, 0xED, 0xEE, 0xEF, 0xF0, 0xF1, 0xF3, 0xF4, 0xF5, 0xFF};
    static const uint32_t kinds[][2] = {{0x20, 0x5F},    {0x80, 0x780},     {0x4E00, 0x5200},
                                        {0x800, 0xD000}, {0x10000, 0xFFFF}, {0xF0000, 0x1FFFF}};
    int paths = utf8_has_avx2() ? 2 : 1;
    uint64_t state = 5;
    char text[600];
    size_t checked_bad = 0, checked = 0;
    for (int round = 0; round < 24; round++) {
        size_t len = 0;
        while (len < 200 + (size_t)round * 7) {
            /* mostly one kind, as real text is (ASCII alone every
             * twelfth round: an ill-formed byte before a block of ASCII) */
            uint64_t r = round % 12 == 0 ? 0 : next_random(&state) % 10;
            const uint32_t *k = kinds[r < 7 ? (size_t)round % 6 : next_random(&state) % 6];
            len += put_utf8(text + len, k[0] + (uint32_t)(next_random(&state) % k[1]));
        }
        for (size_t at = 0; at < len; at++) {
            for (size_t b = 0; b < sizeof bytes; b++) {
                char copy[600];
                memcpy(copy, text, len);
                copy[at] = (char)bytes[b];
                if (b % 3 == 0 && at + 1 + b % 5 < len)
                    copy[at + 1 + b % 5] = (char)bytes[(b * 7 + at) % sizeof bytes];
                int want = utf8_well_formed_by_icu(copy, len);
                for (int p = 0; p < paths; p++)
                    ck_assert_msg(utf8_well_formed_path(copy, len, p) == want,
                                  "round %d, byte %02X at %zu: path %d says %d", round, bytes[b], at, p, !want);
                checked_bad += !want;
                checked++;
            }
        }
        for (size_t n = 0; n <= len; n++) {
            char *copy = exact_copy(text, n);
            int want = utf8_well_formed_by_icu(copy, n);
            for (int p = 0; p < paths; p++)
                ck_assert_msg(utf8_well_formed_path(copy, n, p) == want,
                              "round %d, prefix of %zu bytes: path %d says %d", round, n, p, !want);
            free(copy);
        }
    }
    ck_assert_uint_gt(checked_bad, checked / 4);
    ck_assert_uint_gt(checked - checked_bad, checked / 20);
}
END_TEST

/* Record k: a text with escapes (\n, \", \u00e9, a surrogate pair) of a
 * length that rises and falls (the scratch grows, then is reused), or
 * without any; an id that is a string, an integer, null or absent. */
static size_t json_record(unsigned k, char *out, size_t room)
{
    static const char *const pieces[] = {"plain words ", "a\\nb ", "\\\"q\\\" ", "caf\\u00e9 ", "\\ud83d\\ude00 "};
    size_t n = (size_t)snprintf(out, room, "{\"text\":\"");
    unsigned len = k % 7 == 0 ? 400 : (k * 37) % 50;
    for (unsigned i = 0; i < len; i++) {
        const char *piece = pieces[k % 5 == 4 ? 0 : (i * 7 + k) % 5];
        n += (size_t)snprintf(out + n, room - n, "%s", piece);
    }
    n += (size_t)snprintf(out + n, room - n, "\"");
    if (k % 4 == 0)
        n += (size_t)snprintf(out + n, room - n, ",\"id\":\"doc-%u\"}", k);
    else if (k % 4 == 1)
        n += (size_t)snprintf(out + n, room - n, ",\"id\":%u}", k);
    else
        n += (size_t)snprintf(out + n, room - n, k % 4 == 2 ? ",\"id\":null}" : "}");
    return n;
}

START_TEST(test_json_scratch)
{
    enum { ROOM = 1 << 14 };
    char *line = malloc(ROOM);
    ck_assert_ptr_nonnull(line);
    json_scratch scratch = {NULL, 0};
    for (unsigned k = 0; k < 300; k++) {
        size_t len = json_record(k, line, ROOM);
        ck_assert_uint_lt(len, ROOM);
        json_fast alone, into;
        ck_assert_int_eq(json_fast_record(line, len, "text", "id", &alone), 1);
        ck_assert_int_eq(json_fast_record_into(line, len, "text", "id", &into, &scratch), 1);
        ck_assert_ptr_null(into.decoded); /* in the scratch, not allocated */
        ck_assert_uint_eq(into.text_len, alone.text_len);
        ck_assert_int_eq(memcmp(into.text, alone.text, alone.text_len), 0);
        ck_assert_int_eq(into.id_kind, alone.id_kind);
        ck_assert_uint_eq(into.id_len, alone.id_len);
        ck_assert_ptr_eq(into.id, alone.id);
        /* doc_json_read with the scratch: the same text, the id left in the line */
        doc_view v;
        char *why = NULL;
        ck_assert_int_eq(doc_json_read(&v, line, len, "text", "id", 1, &scratch, &why), ND_OK);
        ck_assert_ptr_null(why);
        ck_assert_ptr_null(v.id);
        ck_assert_uint_eq(v.len, alone.text_len);
        ck_assert_int_eq(memcmp(v.text, alone.text, v.len), 0);
        int has_id = alone.id_kind == JSON_ID_STRING || alone.id_kind == JSON_ID_INTEGER;
        ck_assert_ptr_eq(v.id_raw, has_id ? alone.id : NULL);
        ck_assert_uint_eq(v.id_raw_len, has_id ? alone.id_len : 0);
        doc_view_close(&v);
        free(alone.decoded);
    }
    free(scratch.buf);
    free(line);
}
END_TEST

Suite *fastpath_suite(void)
{
    Suite *s = suite_create("fastpath");
    /* thousands of texts through ICU one segment at a time: slow under the
     * sanitizers */
    TCase *scan = tcase_create("scan");
    tcase_set_timeout(scan, 120);
    tcase_add_test(scan, test_scan_classifiers);
    tcase_add_test(scan, test_scan_bits2);
    tcase_add_test(scan, test_fold_tables_prebuilt);
    tcase_add_test(scan, test_fold_table_against_icu);
    tcase_add_test(scan, test_fold_table_as_per_code_point);
    tcase_add_test(scan, test_popcount64);
    tcase_add_test(scan, test_fold_short_segments);
    suite_add_tcase(s, scan);
    TCase *paths = tcase_create("paths");
    tcase_set_timeout(paths, 600);
    tcase_add_test(paths, test_paths_random);
    tcase_add_test(paths, test_paths_word_edges);
    tcase_add_loop_test(paths, test_paths_fixtures, 0, (int)(sizeof fixture_files / sizeof fixture_files[0]));
    tcase_add_test(paths, test_paths_han_runs);
    tcase_add_test(paths, test_paths_han_words);
    tcase_add_test(paths, test_paths_mark_segments);
    tcase_add_test(paths, test_paths_unspaced_marks);
    suite_add_tcase(s, paths);
    TCase *runs = tcase_create("runs");
    tcase_set_timeout(runs, 600);
    tcase_add_test(runs, test_runs_cut_alike_every_code_point);
    tcase_add_test(runs, test_runs_cut_alike_dictionary_scripts);
    tcase_add_test(runs, test_sketch_without_words);
    suite_add_tcase(s, runs);
    TCase *utf8 = tcase_create("utf8");
    tcase_set_timeout(utf8, 120);
    tcase_add_test(utf8, test_utf8_well_formed_random);
    tcase_add_test(utf8, test_utf8_well_formed_mutated);
    tcase_add_test(utf8, test_utf8_escape_ill_formed);
    tcase_add_test(utf8, test_json_scratch);
    suite_add_tcase(s, utf8);
    return s;
}
