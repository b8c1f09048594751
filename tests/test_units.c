/* test_units.c - paragraphs and lines (nd_split_units), a unit pasted
 * several times (nd_find_repeats), removing spans (nd_remove_spans) and
 * sketching units (nd_sketch_units). Table-driven: each row is an input
 * and what must come out, written as text so that a failure shows both.
 *
 * Spans to remove are marked in the input with [[ and ]]: the markers are
 * taken out to make the text, and what they enclosed becomes the spans. */
#include <stdio.h>  /* snprintf */
#include <stdlib.h> /* free, malloc */
#include <string.h> /* strlen, memcpy, strchr */

#include "index_add.h" /* nd_sketch_units_raw */
#include "neardup.h"
#include "suites.h"
#include "synth.h"

/* ****  nd_split_units  **** */

typedef struct {
    const char *text;
    nd_unit_kind kind;
    const char *units; /* the units' texts, joined with '|' */
} split_row;

static const split_row split_rows[] = {
    {"", ND_UNIT_PARAGRAPH, ""},
    {"   \n\t\n", ND_UNIT_PARAGRAPH, ""},
    {"one", ND_UNIT_PARAGRAPH, "one"},
    {"one\ntwo\n\nthree", ND_UNIT_PARAGRAPH, "one\ntwo|three"},
    {"  one  \n\n\n\n  two\n", ND_UNIT_PARAGRAPH, "one|two"},
    {"one\r\n \r\ntwo\r\n", ND_UNIT_PARAGRAPH, "one|two"}, /* CRLF, a blank line of a space */
    {"one\ntwo\n\nthree", ND_UNIT_LINE, "one|two|three"},
    {"  a b  \n\n\tc\r\n", ND_UNIT_LINE, "a b|c"},
    {"  whole text  \n\n more \n", ND_UNIT_DOCUMENT, "whole text  \n\n more"},
    {"\n\n", ND_UNIT_DOCUMENT, ""},
};

/* The units of a row, joined with '|', into buf. */
static void joined_units(char *buf, size_t size, const char *text, const nd_span *spans, size_t count)
{
    size_t w = 0;
    for (size_t i = 0; i < count && w + 1 < size; i++) {
        if (i)
            buf[w++] = '|';
        size_t n = spans[i].end - spans[i].start;
        if (w + n >= size)
            n = size - w - 1;
        memcpy(buf + w, text + spans[i].start, n);
        w += n;
    }
    buf[w] = '\0';
}

START_TEST(test_split)
{
    const split_row *row = &split_rows[_i];
    size_t len = strlen(row->text);
    char *text = exact_copy(row->text, len);
    nd_span *spans = NULL;
    size_t capacity = 0, count = 99;
    ck_assert_int_eq(nd_split_units(&spans, &capacity, &count, text, len, row->kind), ND_OK);
    char got[256];
    joined_units(got, sizeof got, text, spans, count);
    ck_assert_msg(strcmp(got, row->units) == 0, "row %d: units \"%s\", expected \"%s\"", _i, got, row->units);
    free(spans);
    free(text);
}
END_TEST

/* The units of text by the definition (units.c): lines cut at each '\n'
 * found one at a time, a line blank when all of it is white space, spans
 * trimmed of ASCII white space. */
static size_t reference_units(nd_span *out, const char *text, size_t len, nd_unit_kind kind)
{
    size_t n = 0, para_start = 0, line_start = 0;
    int in_para = 0;
    while (line_start < len) {
        size_t line_end = line_start;
        while (line_end < len && text[line_end] != '\n')
            line_end++;
        size_t s = line_start, e = line_end;
        while (s < e && strchr(" \t\r\f\v", text[s]) && text[s])
            s++;
        while (e > s && strchr(" \t\r\f\v", text[e - 1]) && text[e - 1])
            e--;
        int blank = s == e;
        if (kind == ND_UNIT_LINE && !blank)
            out[n++] = (nd_span){s, e};
        if (kind == ND_UNIT_PARAGRAPH && blank && in_para) {
            size_t ps = para_start, pe = line_start;
            while (ps < pe && strchr(" \t\r\n\f\v", text[ps]) && text[ps])
                ps++;
            while (pe > ps && strchr(" \t\r\n\f\v", text[pe - 1]) && text[pe - 1])
                pe--;
            out[n++] = (nd_span){ps, pe};
            in_para = 0;
        } else if (kind == ND_UNIT_PARAGRAPH && !blank && !in_para) {
            para_start = line_start;
            in_para = 1;
        }
        line_start = line_end < len ? line_end + 1 : len;
    }
    if (kind == ND_UNIT_PARAGRAPH && in_para) {
        size_t ps = para_start, pe = len;
        while (ps < pe && strchr(" \t\r\n\f\v", text[ps]) && text[ps])
            ps++;
        while (pe > ps && strchr(" \t\r\n\f\v", text[pe - 1]) && text[pe - 1])
            pe--;
        out[n++] = (nd_span){ps, pe};
    }
    return n;
}

/* Random texts of words, white space of every kind (is_space), bytes of
 * UTF-8 (not white space, though signed as chars) and line ends, 0 to 400
 * bytes, in long runs of one byte or not, cut as the definition cuts them. */
START_TEST(test_split_random)
{
    static const char alphabet[] = "ab\xc3\xa9 \t\r\f\v\n\n\n";
    static nd_span expected[512];
    char buf[400];
    nd_span *spans = NULL;
    size_t capacity = 0;
    uint64_t x = 0x9E3779B97F4A7C15u;
    for (int round = 0; round < 20000; round++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        size_t len = (size_t)(x % (sizeof buf + 1));
        unsigned runs = (unsigned)(x >> 32) % 4; /* sometimes long runs of one byte */
        for (size_t i = 0; i < len; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            buf[i] = runs && i > 0 && x % 8 < runs + 3 ? buf[i - 1] : alphabet[x % (sizeof alphabet - 1)];
        }
        char *text = exact_copy(buf, len);
        for (int kind = ND_UNIT_PARAGRAPH; kind <= ND_UNIT_LINE; kind++) {
            size_t count = 99, want = reference_units(expected, text, len, (nd_unit_kind)kind);
            /* asserted only when wrong: each passing ck_assert writes to
             * Check's pipe, and 20k rounds of them took seconds */
            int rc = nd_split_units(&spans, &capacity, &count, text, len, (nd_unit_kind)kind);
            if (rc != ND_OK || count != want)
                ck_abort_msg("round %d kind %d: status %d, %zu units, expected %zu", round, kind, rc, count, want);
            for (size_t u = 0; u < count; u++) {
                if (spans[u].start != expected[u].start || spans[u].end != expected[u].end)
                    ck_abort_msg("round %d kind %d unit %zu: [%zu, %zu), expected [%zu, %zu)", round, kind, u,
                                 spans[u].start, spans[u].end, expected[u].start, expected[u].end);
            }
        }
        free(text);
    }
    free(spans);
}
END_TEST

/* ****  nd_find_repeats  **** */

typedef struct {
    const char *unit;
    const char *copies; /* the copies' texts joined with '|', or "" when not a repeat */
} repeat_row;

static const repeat_row repeat_rows[] = {
    /* a headline pasted twice with no break, with a space, with a line end */
    {"Rain closes the coast road Rain closes the coast road", "Rain closes the coast road|Rain closes the coast road"},
    {"Rain closes the coast road.Rain closes the coast road.",
     "Rain closes the coast road.|Rain closes the coast road."},
    {"\"Rain closes the road\" \"Rain closes the road\" \"Rain closes the road\"",
     "\"Rain closes the road\"|\"Rain closes the road\"|\"Rain closes the road\""},
    /* case and punctuation are normalized away, the bytes of each copy kept; a separator that
     * neither opens the first copy nor closes the last goes to the copy after it */
    {"Rain Closes The Road; rain closes the road", "Rain Closes The Road|; rain closes the road"},
    /* not repeats: too short a period, one word changed, a copy and a half */
    {"no no no no no no", ""},
    {"Rain closes the road Rain closes the lane", ""},
    {"Rain closes the road Rain closes the road Rain closes", ""},
    {"one two three four", ""},
};

START_TEST(test_repeats)
{
    const repeat_row *row = &repeat_rows[_i];
    size_t len = strlen(row->unit);
    char *text = exact_copy(row->unit, len);
    nd_normalizer *nz = NULL;
    ck_assert_int_eq(nd_normalizer_new(&nz, ND_PROFILE_DEFAULT), ND_OK);
    nd_tokens tokens = ND_TOKENS_INIT;
    ck_assert_int_eq(nd_tokenize(&tokens, nz, text, len), ND_OK);
    nd_span copies[8];
    nd_span unit = {0, len};
    int m = nd_find_repeats(copies, 8, &tokens, text, unit);
    ck_assert_int_ge(m, 0);
    char got[256];
    joined_units(got, sizeof got, text, copies, m >= 2 ? (size_t)m : 0);
    ck_assert_msg(strcmp(got, row->copies) == 0, "row %d: copies \"%s\", expected \"%s\"", _i, got, row->copies);
    nd_tokens_free(&tokens);
    nd_normalizer_free(nz);
    free(text);
}
END_TEST

START_TEST(test_repeats_more_copies_than_room)
{
    const char *s = "alpha beta gamma alpha beta gamma alpha beta gamma alpha beta gamma";
    size_t len = strlen(s);
    nd_normalizer *nz = NULL;
    ck_assert_int_eq(nd_normalizer_new(&nz, ND_PROFILE_DEFAULT), ND_OK);
    nd_tokens tokens = ND_TOKENS_INIT;
    ck_assert_int_eq(nd_tokenize(&tokens, nz, s, len), ND_OK);
    nd_span copies[2] = {{7, 7}, {7, 7}};
    nd_span unit = {0, len};
    ck_assert_int_eq(nd_find_repeats(copies, 2, &tokens, s, unit), 4); /* m, though only 2 were written */
    ck_assert_uint_eq(copies[0].start, 0);
    ck_assert_uint_eq(copies[0].end, 16);
    ck_assert_uint_eq(copies[1].start, 17);
    nd_tokens_free(&tokens);
    nd_normalizer_free(nz);
}
END_TEST

/* The copy count against the definition, on token sequences that are
 * repeats, near-repeats and hostile ones ("a a ... a b" of a length with
 * many divisors, past the divisor search's budget): m = n / p for the
 * smallest period p when p divides n, p < n and p >= ND_REPEAT_MIN_TOKENS,
 * else 0. */
START_TEST(test_repeats_count_matches_definition)
{
    nd_normalizer *nz = NULL;
    ck_assert_int_eq(nd_normalizer_new(&nz, ND_PROFILE_DEFAULT), ND_OK);
    uint64_t state = 99;
    char *text = malloc(4096);
    nd_tokens tokens = ND_TOKENS_INIT;
    for (int round = 0; round < 400; round++) {
        size_t n, letters = 2 + (size_t)(round % 3);
        char word[720];
        if (round < 8) {
            n = round % 2 ? 720 : 360; /* a a ... a b, or all a */
            for (size_t i = 0; i < n; i++)
                word[i] = (char)('a' + (round % 4 < 2 && i == n - 1));
        } else {
            size_t p = 1 + (size_t)(synth_next(&state) % 8), r = 1 + (size_t)(synth_next(&state) % 6);
            n = p * r + (size_t)(synth_next(&state) % 3 == 0 ? synth_next(&state) % p : 0);
            for (size_t i = 0; i < p; i++)
                word[i] = (char)('a' + synth_next(&state) % letters);
            for (size_t i = p; i < n; i++)
                word[i] = word[i - p];
            if (synth_next(&state) % 4 == 0)
                word[synth_next(&state) % n] = 'd';
        }
        size_t len = 0;
        for (size_t i = 0; i < n; i++) {
            text[len++] = word[i];
            text[len++] = ' ';
        }
        ck_assert_int_eq(nd_tokenize(&tokens, nz, text, len), ND_OK);
        ck_assert_uint_eq(tokens.count, n);
        size_t period = n;
        for (size_t q = 1; q < n && period == n; q++) {
            size_t i = q;
            while (i < n && word[i] == word[i - q])
                i++;
            if (i == n)
                period = q;
        }
        int expect = n >= 2 * ND_REPEAT_MIN_TOKENS && period < n && n % period == 0 && period >= ND_REPEAT_MIN_TOKENS
                         ? (int)(n / period)
                         : 0;
        nd_span copies[1];
        ck_assert_msg(nd_find_repeats(copies, 1, &tokens, text, (nd_span){0, len}) == expect,
                      "round %d: %zu tokens, smallest period %zu: expected %d copies", round, n, period, expect);
    }
    nd_tokens_free(&tokens);
    nd_normalizer_free(nz);
    free(text);
}
END_TEST

/* Every length up to past 64 tokens (where the divisors come from a table)
 * against every period: tokens distinct within a period, so the smallest
 * period is p, and the copies are n / p when p divides n, p < n and
 * p >= ND_REPEAT_MIN_TOKENS, else none. */
START_TEST(test_repeats_every_divisor)
{
    nd_normalizer *nz = NULL;
    ck_assert_int_eq(nd_normalizer_new(&nz, ND_PROFILE_DEFAULT), ND_OK);
    char *text = malloc(80 * 4);
    nd_tokens tokens = ND_TOKENS_INIT;
    for (size_t n = 2 * ND_REPEAT_MIN_TOKENS; n <= 80; n++) {
        for (size_t p = 1; p <= n; p++) {
            size_t len = 0;
            for (size_t i = 0; i < n; i++) {
                text[len++] = (char)('a' + (i % p) / 26);
                text[len++] = (char)('a' + (i % p) % 26);
                text[len++] = ' ';
            }
            ck_assert_int_eq(nd_tokenize(&tokens, nz, text, len), ND_OK);
            ck_assert_uint_eq(tokens.count, n);
            int expect = p < n && n % p == 0 && p >= ND_REPEAT_MIN_TOKENS ? (int)(n / p) : 0;
            nd_span copies[1];
            ck_assert_msg(nd_find_repeats(copies, 1, &tokens, text, (nd_span){0, len}) == expect,
                          "%zu tokens of period %zu: expected %d copies", n, p, expect);
        }
    }
    nd_tokens_free(&tokens);
    nd_normalizer_free(nz);
    free(text);
}
END_TEST

/* ****  nd_remove_spans  **** */

typedef struct {
    const char *marked; /* the text, spans to remove between [[ and ]] */
    const char *expected;
} remove_row;

static const remove_row remove_rows[] = {
    {"nothing to remove", "nothing to remove"},
    /* inside a line: only the span goes */
    {"keep [[this]] and that", "keep  and that"},
    /* a whole line: its line end goes with it */
    {"one\n[[two]]\nthree\n", "one\nthree\n"},
    /* a paragraph between two others: one blank line stays, not two */
    {"A a a.\n\n[[B b b.]]\n\nC c c.\n", "A a a.\n\nC c c.\n"},
    /* the first paragraph: no blank line left at the start */
    {"[[A a a.]]\n\nB b b.\n", "B b b.\n"},
    /* the last paragraph: no trailing blank lines, the final line end kept */
    {"A a a.\n\n[[B b b.]]\n", "A a a.\n"},
    {"A a a.\n\n[[B b b.]]", "A a a."},
    /* two spans on one line separated by blanks are removed as one */
    {"x\n[[Head]]  [[Head]]\ny\n", "x\ny\n"},
    /* CRLF lines */
    {"one\r\n[[two]]\r\nthree\r\n", "one\r\nthree\r\n"},
    /* ... the last of them, or the last paragraph: the kept last line keeps its CRLF */
    {"one\r\ntwo\r\n[[three]]\r\n", "one\r\ntwo\r\n"},
    {"A a a.\r\n\r\n[[B b b.]]\r\n", "A a a.\r\n"},
    {"A a a.\r\n\r\n[[B b b.]]\r\n\r\n", "A a a.\r\n"},
    /* ... and its trailing blanks, which are kept text (they were cut) */
    {"A a a.  \r\n\r\n[[B b b.]]\r\n", "A a a.  \r\n"},
    {"A a a.  \n\n[[B b b.]]\n", "A a a.  \n"},
    {"A a a.\t\n \t\n[[B b b.]]", "A a a.\t"},
    {"one  \n[[two]]\n", "one  \n"},
    /* the last copy on a kept line takes the blanks before it */
    {"keep [[this]]", "keep"},
    {"x\n[[Head]] [[Head]]  \n", "x\n"},
    /* everything removed */
    {"[[only]]\n", ""},
    {"  \n[[only]]\n", ""},
    /* overlapping and touching spans */
    {"a [[bc]][[de]] f", "a  f"},
};

/* Build the text and spans of a marked row. Returns the text (free it). */
static char *unmark(const char *marked, size_t *len, nd_span *spans, size_t *count)
{
    size_t n = strlen(marked), w = 0;
    char *text = malloc(n + 1);
    *count = 0;
    for (size_t i = 0; i < n;) {
        if (strncmp(marked + i, "[[", 2) == 0) {
            spans[*count].start = w;
            i += 2;
        } else if (strncmp(marked + i, "]]", 2) == 0) {
            spans[(*count)++].end = w;
            i += 2;
        } else {
            text[w++] = marked[i++];
        }
    }
    *len = w;
    return text;
}

START_TEST(test_remove_spans)
{
    const remove_row *row = &remove_rows[_i];
    nd_span spans[8];
    size_t len, count;
    char *text = unmark(row->marked, &len, spans, &count);
    char *exact = exact_copy(text, len);
    char *out = malloc(len ? len : 1);
    size_t out_len = nd_remove_spans(out, exact, len, spans, count);
    ck_assert_uint_le(out_len, len);
    ck_assert_msg(out_len == strlen(row->expected) && memcmp(out, row->expected, out_len) == 0,
                  "row %d: got \"%.*s\", expected \"%s\"", _i, (int)out_len, out, row->expected);
    free(out);
    free(exact);
    free(text);
}
END_TEST

/* ****  nd_text_preview  **** */

typedef struct {
    const char *text;
    size_t max_chars;
    const char *expected;
} preview_row;

static const preview_row preview_rows[] = {
    {"", 10, ""},
    {"short", 10, "short"},
    {"  lead and  trail \r\n", 40, "lead and trail"},
    {"a\tb\n\nc", 10, "a b c"},
    {"exactly ten", 11, "exactly ten"},
    {"exactly ten!", 11, "exactly ten\xE2\x80\xA6"},
    /* the space before a character counts as one: at 4, " d" does not fit
     * after "abc" (the old preview skipped from 3 past 4 and never cut) */
    {"abc de", 5, "abc d\xE2\x80\xA6"},
    {"abc de", 4, "abc\xE2\x80\xA6"},
    {"a b c d e f g h", 6, "a b c\xE2\x80\xA6"},
    /* characters, not bytes: never cut inside a UTF-8 sequence */
    {"\xC3\xA9t\xC3\xA9 \xE6\x9D\xB1\xE4\xBA\xAC", 5, "\xC3\xA9t\xC3\xA9 \xE6\x9D\xB1\xE2\x80\xA6"},
    {"x", 0, "\xE2\x80\xA6"},
};

START_TEST(test_text_preview)
{
    const preview_row *row = &preview_rows[_i];
    size_t len = strlen(row->text);
    char *exact = exact_copy(row->text, len);
    char *out = malloc(len + 3);
    size_t n = nd_text_preview(out, exact, len, row->max_chars);
    ck_assert_msg(n == strlen(row->expected) && memcmp(out, row->expected, n) == 0, "row %d: got \"%.*s\"", _i, (int)n,
                  out);
    free(out);
    free(exact);
}
END_TEST

/* The preview one byte at a time, as nd_text_preview was written before
 * it took runs of ASCII at once: the definition the fast path must match. */
static size_t preview_by_bytes(char *out, const char *text, size_t len, size_t max_chars)
{
    size_t w = 0, chars = 0;
    int space = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
            space = 1;
            continue;
        }
        if ((c & 0xC0) != 0x80) {
            size_t needed = chars + 1 + (space && w > 0);
            if (needed > max_chars) {
                memcpy(out + w, "\xE2\x80\xA6", 3);
                return w + 3;
            }
            if (space && w > 0)
                out[w++] = ' ';
            space = 0;
            chars = needed;
        }
        out[w++] = (char)c;
    }
    return w;
}

/* Random texts of words, white space, control characters and 2-, 3- and
 * 4-byte characters, cut at every length from 0 to past the text: the
 * same bytes as one byte at a time. */
START_TEST(test_text_preview_random)
{
    static const char *const pieces[] = {"a",
                                         "bc",
                                         "def",
                                         " ",
                                         "  ",
                                         "\t",
                                         "\n",
                                         "\r\n",
                                         "\x01",
                                         "\x7F",
                                         "\xC3\xA9",
                                         "\xE6\x9D\xB1",
                                         "\xF0\x9F\x98\x80",
                                         "x.y",
                                         "\f"};
    uint64_t state = 99;
    for (int round = 0; round < 2000; round++) {
        char text[256];
        size_t len = 0;
        size_t n = synth_next(&state) % 24;
        for (size_t k = 0; k < n; k++) {
            const char *piece = pieces[synth_next(&state) % (sizeof pieces / sizeof *pieces)];
            memcpy(text + len, piece, strlen(piece));
            len += strlen(piece);
        }
        for (size_t max_chars = 0; max_chars <= len + 2; max_chars++) {
            char want[256 * 3 + 3], got[256 * 3 + 3];
            size_t nw = preview_by_bytes(want, text, len, max_chars);
            size_t ng = nd_text_preview(got, text, len, max_chars);
            ck_assert_msg(nw == ng && memcmp(want, got, nw) == 0, "round %d, %zu bytes, max %zu: got \"%.*s\"", round,
                          len, max_chars, (int)ng, got);
        }
    }
}
END_TEST

/* Plain stretches (ASCII words with single spaces, copied in one piece,
 * eight bytes scanned at a time): words of 1 to 20 bytes, single and
 * double spaces, the odd control character, tab, line end or accented
 * letter, in exact-size heap copies (a read past the text is caught under
 * ASan), cut at every length: the same bytes as one byte at a time. */
START_TEST(test_text_preview_stretches)
{
    static const char *const seps[] = {" ",  " ",  " ",    " ",    " ",        " ",    "  ",
                                       "\n", "\t", "\x01", "\x7F", "\xC3\xA9", " \r\n"};
    uint64_t state = 7;
    for (int round = 0; round < 3000; round++) {
        char buf[512];
        size_t len = 0;
        size_t words = synth_next(&state) % 12;
        if (synth_next(&state) % 4 == 0)
            buf[len++] = ' ';
        for (size_t k = 0; k < words; k++) {
            size_t n = 1 + synth_next(&state) % 20;
            for (size_t j = 0; j < n; j++)
                buf[len++] = (char)('a' + synth_next(&state) % 26);
            const char *sep = seps[synth_next(&state) % (sizeof seps / sizeof *seps)];
            if (k + 1 < words || synth_next(&state) % 2) {
                memcpy(buf + len, sep, strlen(sep));
                len += strlen(sep);
            }
        }
        char *text = exact_copy(buf, len);
        for (size_t max_chars = 0; max_chars <= len + 2; max_chars++) {
            char want[512 + 3], got[512 + 3];
            size_t nw = preview_by_bytes(want, text, len, max_chars);
            size_t ng = nd_text_preview(got, text, len, max_chars);
            ck_assert_msg(nw == ng && memcmp(want, got, nw) == 0, "round %d, %zu bytes, max %zu: got \"%.*s\"", round,
                          len, max_chars, (int)ng, got);
        }
        free(text);
    }
}
END_TEST

/* ****  nd_sketch_units  **** */

typedef struct {
    size_t units;
    nd_span spans[16];
    size_t ids[16];
    int stop_after; /* return ND_EINVAL after this many units (0: never) */
} unit_log;

static int log_unit(void *ctx, nd_span span, const nd_sketch_ref *sketch)
{
    unit_log *log = ctx;
    if (log->units < 16) {
        log->spans[log->units] = span;
        log->ids[log->units] = sketch->count;
    }
    log->units++;
    return log->stop_after && (int)log->units >= log->stop_after ? ND_EINVAL : ND_OK;
}

START_TEST(test_sketch_units)
{
    /* three paragraphs: a headline pasted twice, a body, a one-word line */
    const char *s = "Rain closes the coast road Rain closes the coast road\n\n"
                    "The road along the coast was closed on Monday after heavy rain.\n\n"
                    "Ok\n";
    size_t len = strlen(s);
    char *text = exact_copy(s, len);
    nd_options opts = ND_OPTIONS_INIT;
    ck_assert_int_eq(nd_options_resolve(&opts), ND_OK);
    nd_sketcher *sk = NULL;
    ck_assert_int_eq(nd_sketcher_new(&sk, &opts), ND_OK);
    unit_log log = {0};
    size_t invalid = 7;
    ck_assert_int_eq(nd_sketch_units(&invalid, sk, text, len, ND_UNIT_PARAGRAPH, 2, log_unit, &log), ND_OK);
    ck_assert_uint_eq(invalid, 0);
    ck_assert_uint_eq(log.units, 3); /* two copies of the headline, the body; "Ok" is below 2 tokens */
    ck_assert_uint_eq(log.spans[0].start, 0);
    ck_assert_uint_eq(log.spans[0].end, 26);
    ck_assert_uint_eq(log.spans[1].start, 27);
    ck_assert_uint_eq(log.spans[1].end, 53);
    ck_assert_uint_eq(log.ids[0], log.ids[1]);
    ck_assert_uint_eq(log.spans[2].start, 55);
    /* the callback stops the walk with its own code */
    unit_log stopped = {0};
    stopped.stop_after = 2;
    ck_assert_int_eq(nd_sketch_units(&invalid, sk, text, len, ND_UNIT_PARAGRAPH, 1, log_unit, &stopped), ND_EINVAL);
    ck_assert_uint_eq(stopped.units, 2);
    nd_sketcher_free(sk);
    free(text);
}
END_TEST

START_TEST(test_sketch_units_invalid_utf8)
{
    const char s[] = "first line \xff here\nsecond \xc3 line\n";
    size_t len = sizeof s - 1;
    char *text = exact_copy(s, len);
    nd_options opts = ND_OPTIONS_INIT;
    nd_sketcher *sk = NULL;
    ck_assert_int_eq(nd_sketcher_new(&sk, &opts), ND_OK);
    unit_log log = {0};
    size_t invalid = 0;
    ck_assert_int_eq(nd_sketch_units(&invalid, sk, text, len, ND_UNIT_LINE, 1, log_unit, &log), ND_OK);
    ck_assert_uint_eq(log.units, 2);
    ck_assert_uint_eq(invalid, 2);
    nd_sketcher_free(sk);
    free(text);
}
END_TEST

/* The units of a plain ASCII text, tokenized as a whole (sketch.c
 * units_by_ranges), against each unit sketched alone (a text of one unit
 * takes the unit-by-unit path): the same units, spans, ids and
 * signatures, repeats and copies included, for paragraphs and lines, ids
 * raw or sorted. */
typedef struct {
    size_t units;
    nd_span spans[4096];
    size_t counts[4096];
    uint32_t sig_hash[4096];
    uint32_t ids_hash[4096];
    size_t tokens[4096];
    size_t shift; /* added to the spans */
} unit_record;

static uint32_t fnv(const uint32_t *v, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ v[i]) * 16777619u;
    return h;
}

static int record_unit(void *ctx, nd_span span, const nd_sketch_ref *sketch)
{
    unit_record *r = ctx;
    ck_assert_uint_lt(r->units, 4096);
    r->spans[r->units] = (nd_span){span.start + r->shift, span.end + r->shift};
    r->counts[r->units] = sketch->count;
    r->ids_hash[r->units] = fnv(sketch->ids, sketch->count); /* in order: raw ids must match as made */
    r->sig_hash[r->units] = fnv(sketch->signature, 128);
    r->tokens[r->units] = sketch->num_tokens;
    r->units++;
    return ND_OK;
}

static void compare_units(nd_sketcher *sk, const char *text, size_t len, size_t min_copies)
{
    static unit_record whole, alone;
    nd_span *spans = NULL;
    size_t capacity = 0, count = 0;
    for (int kind = ND_UNIT_PARAGRAPH; kind <= ND_UNIT_LINE; kind++) {
        ck_assert_int_eq(nd_split_units(&spans, &capacity, &count, text, len, (nd_unit_kind)kind), ND_OK);
        ck_assert_uint_gt(count, 50);
        for (int raw = 0; raw < 2; raw++) {
            int (*units)(size_t *, nd_sketcher *, const char *, size_t, nd_unit_kind, unsigned, nd_unit_fn, void *) =
                raw ? nd_sketch_units_raw : nd_sketch_units;
            size_t invalid = 1, invalid_alone = 0;
            whole.units = alone.units = 0;
            ck_assert_int_eq(units(&invalid, sk, text, len, (nd_unit_kind)kind, 3, record_unit, &whole), ND_OK);
            for (size_t u = 0; u < count; u++) {
                size_t one = 1;
                alone.shift = spans[u].start;
                ck_assert_int_eq(units(&one, sk, text + spans[u].start, spans[u].end - spans[u].start,
                                       (nd_unit_kind)kind, 3, record_unit, &alone),
                                 ND_OK);
                invalid_alone += one;
            }
            ck_assert_uint_eq(invalid, invalid_alone);
            ck_assert_uint_eq(whole.units, alone.units);
            ck_assert_uint_gt(whole.units, count / 4); /* many units have 3 tokens or more */
            size_t copies = 0, k = 0;                  /* and some are copies (not a whole unit) */
            for (size_t u = 0; u < whole.units; u++) {
                while (k < count && spans[k].end < whole.spans[u].end)
                    k++;
                copies += k == count || spans[k].start != whole.spans[u].start || spans[k].end != whole.spans[u].end;
            }
            ck_assert_uint_ge(copies, min_copies);
            for (size_t u = 0; u < whole.units; u++) {
                ck_assert_uint_eq(whole.spans[u].start, alone.spans[u].start);
                ck_assert_uint_eq(whole.spans[u].end, alone.spans[u].end);
                ck_assert_uint_eq(whole.counts[u], alone.counts[u]);
                ck_assert_uint_eq(whole.ids_hash[u], alone.ids_hash[u]);
                ck_assert_uint_eq(whole.sig_hash[u], alone.sig_hash[u]);
            }
        }
    }
    free(spans);
}

/* Chinese and Japanese units sketched by a sketcher that needs no words
 * (nd_sketcher_set_words(0), as the program's) against one that cuts every
 * run into words: the same units, spans, ids, signatures and copies, for
 * paragraphs and lines, ids raw or sorted, over units of random words,
 * units pasted two to four times (with no break, a space or punctuation
 * between the copies), nearly pasted ones, runs of a few letters repeated
 * (which the dictionary may cut otherwise at each junction) and units
 * mixing Latin words in. Most units keep their runs whole (fewer tokens
 * than words: ICU's word breaking skipped); with --min-tokens above one,
 * every unit is cut into words. */
START_TEST(test_units_runs_same_as_words)
{
    static const char *const vocab[] = {"东京", "天气", "今日", "中国", "北京", "经济",   "发展", "新闻",
                                        "报道", "会议", "市场", "政府", "公司", "人民",   "银行", "学校",
                                        "研究", "です", "ます", "から", "晴れ", "東京都", "天気"};
    static const char *const seps[] = {"", "", "。", "、", " ", "，"};
    static const char *const latin[] = {"iPhone", "AI", "2024", "GDP"};
    enum { UNITS = 300, CAP = 1 << 16 };
    char *buf = malloc(CAP);
    size_t len = 0;
    uint64_t x = 0x2545F4914F6CDD1Du;
#define NEXT() (x ^= x << 13, x ^= x >> 7, x ^= x << 17, x)
#define PUT(str) (len += (size_t)snprintf(buf + len, CAP - len, "%s", (str)))
    for (int u = 0; u < UNITS; u++) {
        char unit[512];
        size_t ulen = 0, words = 3 + NEXT() % 10;
        unsigned type = (unsigned)(NEXT() % 10);
        if (type == 9) { /* a few letters, repeated */
            const char *y = vocab[NEXT() % 17];
            for (unsigned m = 2 + (unsigned)(NEXT() % 4); m-- > 0;)
                ulen += (size_t)snprintf(unit + ulen, sizeof unit - ulen, "%s%s", y, vocab[NEXT() % 17] + 3);
        } else {
            for (size_t w = 0; w < words; w++) {
                const char *word = type == 8 && NEXT() % 3 == 0 ? latin[NEXT() % 4] : vocab[NEXT() % 23];
                ulen += (size_t)snprintf(unit + ulen, sizeof unit - ulen, "%s%s", word,
                                         NEXT() % 4 == 0 ? seps[2 + NEXT() % 4] : "");
            }
        }
        if (type >= 3 && type <= 7) { /* pasted, or nearly (7) */
            const char *sep = seps[NEXT() % 6];
            unsigned m = 2 + (unsigned)(NEXT() % 3);
            for (unsigned c = 0; c < m; c++) {
                PUT(unit);
                if (c + 1 < m)
                    PUT(sep);
            }
            if (type == 7)
                PUT(vocab[NEXT() % 23]);
        } else {
            PUT(unit);
        }
        PUT(NEXT() % 2 ? "\n\n" : "\n");
    }
#undef NEXT
#undef PUT
    char *text = exact_copy(buf, len);
    free(buf);
    nd_options opts = ND_OPTIONS_INIT;
    ck_assert_int_eq(nd_options_resolve(&opts), ND_OK);
    nd_sketcher *words = NULL, *runs = NULL;
    ck_assert_int_eq(nd_sketcher_new(&words, &opts), ND_OK);
    ck_assert_int_eq(nd_sketcher_new(&runs, &opts), ND_OK);
    nd_sketcher_set_words(runs, 0);
    static unit_record a, b;
    for (int kind = ND_UNIT_PARAGRAPH; kind <= ND_UNIT_LINE; kind++) {
        for (int raw = 0; raw < 2; raw++) {
            for (unsigned min_tokens = 1; min_tokens <= 3; min_tokens += 2) {
                int (*units)(size_t *, nd_sketcher *, const char *, size_t, nd_unit_kind, unsigned, nd_unit_fn,
                             void *) = raw ? nd_sketch_units_raw : nd_sketch_units;
                size_t invalid;
                a.units = b.units = 0;
                ck_assert_int_eq(units(&invalid, words, text, len, (nd_unit_kind)kind, min_tokens, record_unit, &a),
                                 ND_OK);
                ck_assert_int_eq(units(&invalid, runs, text, len, (nd_unit_kind)kind, min_tokens, record_unit, &b),
                                 ND_OK);
                ck_assert_uint_eq(a.units, b.units);
                size_t fewer = 0, copies = 0;
                for (size_t u = 0; u < a.units; u++) {
                    ck_assert_uint_eq(a.spans[u].start, b.spans[u].start);
                    ck_assert_uint_eq(a.spans[u].end, b.spans[u].end);
                    ck_assert_uint_eq(a.counts[u], b.counts[u]);
                    ck_assert_uint_eq(a.ids_hash[u], b.ids_hash[u]);
                    ck_assert_uint_eq(a.sig_hash[u], b.sig_hash[u]);
                    ck_assert_uint_le(b.tokens[u], a.tokens[u]);
                    fewer += b.tokens[u] < a.tokens[u];
                    copies += u > 0 && a.spans[u].start < a.spans[u - 1].end + 4; /* copies lie close together */
                }
                ck_assert_uint_gt(a.units, UNITS / 2);
                ck_assert_uint_gt(copies, 20);
                if (min_tokens > 1)
                    ck_assert_uint_eq(fewer, 0);
                else
                    ck_assert_uint_gt(fewer, UNITS / 4); /* (a pasted unit's copies are cut into words) */
            }
        }
    }
    nd_sketcher_free(words);
    nd_sketcher_free(runs);
    free(text);
}
END_TEST

START_TEST(test_units_by_ranges)
{
    static const char *words[] = {"rain", "Road",   "coast",    "don't", "x",  "42", "e-mail",   "U.S.", "it's",
                                  "a1b2", "closed", "(Monday)", "heavy", "--", "ok", "'quoted'", "THE",  "of"};
    enum { NW = sizeof words / sizeof *words };
    static char text[40000];
    uint64_t state = 99;
    size_t len = 0;
    char para[600];
    for (int p = 0; p < 160 && len + 2 * sizeof para < sizeof text; p++) {
        size_t n = 0, tokens = 1 + synth_next(&state) % (p % 5 == 0 ? 3 : 40);
        for (size_t w = 0; w < tokens; w++) {
            const char *word = words[synth_next(&state) % NW];
            size_t wl = strlen(word);
            if (n + wl + 2 >= sizeof para / 2)
                break;
            memcpy(para + n, word, wl);
            n += wl;
            static const char gaps[] = "  ,\t. ";
            if (w + 1 < tokens)
                para[n++] = gaps[synth_next(&state) % (sizeof gaps - 1)];
            else if (synth_next(&state) % 2) /* or the last token ends the unit */
                para[n++] = '.';
        }
        if (p % 7 == 3) { /* pasted twice: two copies */
            para[n++] = ' ';
            memcpy(para + n, para, n - 1);
            n += n - 1;
        }
        memcpy(text + len, para, n);
        len += n;
        const char *breaks[] = {"\n\n", "\n", "\r\n\r\n", "\n \t\n", "\n\n\n"};
        const char *b = breaks[synth_next(&state) % 5];
        memcpy(text + len, b, strlen(b));
        len += strlen(b);
    }
    nd_options opts = ND_OPTIONS_INIT;
    opts.shingle_size = 3;
    nd_sketcher *sk = NULL;
    ck_assert_int_eq(nd_sketcher_new(&sk, &opts), ND_OK);
    compare_units(sk, text, len, 5);
    /* any ASCII at all: bytes 0 to 127, a tenth of them line breaks */
    for (size_t i = 0; i < sizeof text; i++) {
        uint64_t r = synth_next(&state);
        text[i] = r % 10 == 0 ? '\n' : (char)((r >> 8) % 128);
        if (r % 10 == 1)
            text[i] = (char)" \t.,'-"[(r >> 16) % 6];
    }
    compare_units(sk, text, sizeof text, 0);
    /* UTF-8 past ASCII: letters of several scripts, marks (also opening a
     * unit, after a space or not), curly quotes, no-break spaces, final
     * sigma, Thai (cut into words by ICU), ill-formed bytes; texts with and
     * without the pieces that keep the units from being tokenized as a whole */
    static const char *pieces[] = {"caf\xc3\xa9",
                                   "stra\xc3\x9f"
                                   "e",
                                   "\xd0\x9c\xd0\xbe\xd1\x81\xd0\xba\xd0\xb2\xd0\xb0",
                                   "\xd8\xa7\xd9\x84\xd8\xb9\xd8\xb1\xd8\xa8",
                                   "\xce\xbb\xcf\x8c\xce\xb3\xce\xbf\xcf\x82",
                                   "\xe2\x80\x9c"
                                   "quoted\xe2\x80\x9d",
                                   "no\xc2\xa0"
                                   "break",
                                   "e\xcc\x81"
                                   "t\xc3\xa9",
                                   "word",
                                   "\xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d",
                                   "\xe2\x82\xac"
                                   "5",
                                   "x"};
    static const char *dirty[] = {"\xcc\x81", "\xe0\xb8\xaa\xe0\xb8\xa7\xe0\xb8\xb1\xe0\xb8\xaa", "\xff", "\xc3"};
    for (int round = 0; round < 8; round++) {
        size_t n = 0;
        while (n + 64 < sizeof text) {
            uint64_t r = synth_next(&state);
            /* odd rounds: marks (a few opening units), Thai, ill-formed bytes, all three */
            size_t kinds = round == 7 ? 4 : 1, first = round == 5 ? 2 + (r >> 24) % 2 : (size_t)round / 2;
            const char *piece =
                round % 2 && r % 23 == 0 ? dirty[round == 7 ? (r >> 8) % kinds : first] : pieces[(r >> 8) % 12];
            memcpy(text + n, piece, strlen(piece));
            n += strlen(piece);
            static const char *gaps[] = {" ", " ", " ", ", ", "\n", "\n\n", " \n\n", "\t"};
            const char *gap = gaps[(r >> 16) % 8];
            memcpy(text + n, gap, strlen(gap));
            n += strlen(gap);
        }
        compare_units(sk, text, n, 0);
    }
    nd_sketcher_free(sk);
}
END_TEST

/* A text of plain ASCII but for one combining mark opening its last unit
 * (after a line break the mark joins the break's segment when the whole
 * text is normalized, so the text must be sketched unit by unit): the mark
 * at every offset of sketch.c's 32-byte steps that tell plain ASCII
 * (plain_ascii), in a whole step (offsets 11 to 31: the unit's 21 bytes
 * go past it) and in the bytes after the last one (0 to 10). */
START_TEST(test_units_one_mark_anywhere)
{
    static const char *words[] = {"rain", "road", "coast", "ok", "heavy", "of", "the"};
    static const char last[] = "\xcc\x81word and more words";
    static char text[8192];
    nd_options opts = ND_OPTIONS_INIT;
    opts.shingle_size = 3;
    nd_sketcher *sk = NULL;
    ck_assert_int_eq(nd_sketcher_new(&sk, &opts), ND_OK);
    uint64_t state = 7;
    int in_step = 0, after = 0;
    for (size_t shift = 0; shift < 64; shift++) {
        size_t len = 0;
        /* 60 short paragraphs, `shift` bytes of padding words, the mark's unit */
        for (int p = 0; p < 60; p++) {
            for (int w = 0; w < 4; w++) {
                const char *word = words[synth_next(&state) % 7];
                memcpy(text + len, word, strlen(word));
                len += strlen(word);
                text[len++] = w < 3 ? ' ' : '\n';
            }
            text[len++] = '\n';
        }
        for (size_t i = 0; i < shift; i++)
            text[len++] = i % 5 == 4 ? ' ' : 'z';
        memcpy(text + len, "\n\n", 2);
        len += 2;
        size_t mark_at = len;
        memcpy(text + len, last, sizeof last - 1);
        len += sizeof last - 1;
        in_step += mark_at < len / 32 * 32;
        after += mark_at >= len / 32 * 32;
        compare_units(sk, text, len, 0);
    }
    ck_assert_int_gt(in_step, 0);
    ck_assert_int_gt(after, 0);
    nd_sketcher_free(sk);
}
END_TEST

Suite *units_suite(void)
{
    Suite *s = suite_create("units");
    TCase *tc = tcase_create("units");
    tcase_add_loop_test(tc, test_split, 0, (int)(sizeof split_rows / sizeof *split_rows));
    tcase_add_test(tc, test_split_random);
    tcase_add_loop_test(tc, test_repeats, 0, (int)(sizeof repeat_rows / sizeof *repeat_rows));
    tcase_add_test(tc, test_repeats_more_copies_than_room);
    tcase_add_test(tc, test_repeats_count_matches_definition);
    tcase_add_test(tc, test_repeats_every_divisor);
    tcase_add_loop_test(tc, test_remove_spans, 0, (int)(sizeof remove_rows / sizeof *remove_rows));
    tcase_add_loop_test(tc, test_text_preview, 0, (int)(sizeof preview_rows / sizeof *preview_rows));
    tcase_add_test(tc, test_text_preview_random);
    tcase_add_test(tc, test_text_preview_stretches);
    tcase_add_test(tc, test_sketch_units);
    tcase_add_test(tc, test_sketch_units_invalid_utf8);
    tcase_add_test(tc, test_units_runs_same_as_words);
    tcase_add_test(tc, test_units_by_ranges);
    tcase_add_test(tc, test_units_one_mark_anywhere);
    suite_add_tcase(s, tc);
    return s;
}
