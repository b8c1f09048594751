/* test_normalize.c - normalization and tokens, as tables.
 *
 * Each row: a profile, an input, and the expected tokens joined by '|'.
 * Inputs are copied into exact-size heap buffers so ASan sees over-reads.
 */
#include <stdlib.h> /* free */
#include <string.h> /* strlen */

#include "neardup.h"
#include "suites.h"

typedef struct {
    nd_profile profile;
    const char *input;
    const char *tokens; /* joined by '|' */
} token_row;

#define D ND_PROFILE_DEFAULT
#define A ND_PROFILE_AGGRESSIVE

static const token_row token_rows[] = {
    /* compatibility and case folding */
    {D, "\xEF\xBC\xA6\xEF\xBC\xB5\xEF\xBC\xAC\xEF\xBC\xAC", "full"}, /* ＦＵＬＬ */
    {D,
     "Stra\xC3\x9F"
     "e",
     "strasse"}, /* Straße */
    {D, "STRASSE", "strasse"},
    {D, "\xEF\xAC\x81le", "file"},                                                         /* ﬁle (ligature) */
    {D, "\xEF\xBC\x91\xEF\xBC\x92\xEF\xBC\x93", "123"},                                    /* full-width digits */
    {D, "\xCE\x9F\xCE\x94\xCE\x9F\xCE\xA3 \xCE\xBF\xCE\xB4\xCF\x8C\xCF\x82", "οδοσ|οδόσ"}, /* ΟΔΟΣ οδός: final sigma */
    {D, "\xC4\xB0stanbul", "i\xCC\x87stanbul"},                    /* İstanbul: İ -> i + U+0307 */
    {D, "\xC4\xB1s\xC4\xB1k", "\xC4\xB1s\xC4\xB1k"},               /* ışık-style dotless i kept */
    {D, "caf\x65\xCC\x81 caf\xC3\xA9", "caf\xC3\xA9|caf\xC3\xA9"}, /* e + combining acute == é */
    /* separators: punctuation, symbols, emoji, whitespace runs */
    {D, "Hello,   world!", "hello|world"},
    {D,
     "a\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x91\xA7"
     "b",
     "a|b"},                               /* a👩‍👩‍👧b */
    {D, "co\xC2\xADoperate", "cooperate"}, /* soft hyphen is ignorable */
    {D, "", ""},
    {D, "   \t\n  ", ""},
    {D, "!!! ... ??? --- ***", ""},
    {D, "snake_case x-y", "snake|case|x|y"},
    /* Arabic under default: words as a reader sees them */
    {D,
     "\xD9\x85\xD8\xB1\xD8\xAD\xD8\xA8\xD8\xA7 \xD8\xA8\xD8\xA7\xD9\x84\xD8\xB9\xD8\xA7\xD9\x84\xD9\x85\xD8\x8C "
     "\xD9\x8A\xD8\xA7 \xD8\xB5\xD8\xAF\xD9\x8A\xD9\x82\xD9\x8A!",
     "مرحبا|بالعالم|يا|صديقي"},
    {D, "\xD9\x83\xD9\x8E\xD8\xAA\xD9\x8E\xD8\xA8\xD9\x8E", "كتب"}, /* كَتَبَ: tashkeel removed */
    {D, "\xD9\x83\xD9\x80\xD8\xAA\xD9\x80\xD8\xA8", "كتب"},         /* كـتـب: tatweel removed */
    {D, "\xD8\xA3\xD8\xAD\xD9\x85\xD8\xAF", "أحمد"},                /* أحمد: hamza form kept */
    {D, "\xD9\xA3\xD9\xA2", "٣٢"},                                  /* Arabic-Indic digits kept */
    {D, "\xD9\x85\xD8\xAF\xD8\xB1\xD8\xB3\xD8\xA9", "مدرسة"},       /* teh marbuta kept */
    /* aggressive */
    {A, "\xD8\xA3\xD8\xAD\xD9\x85\xD8\xAF \xD8\xA5\xD9\x8A\xD9\x85\xD8\xA7\xD9\x86 \xD8\xA2\xD9\x85\xD9\x86\xD8\xA9",
     "احمد|ايمان|امنه"},
    {A, "\xD9\x85\xD9\x88\xD8\xB3\xD9\x89 \xD9\xB1\xD9\x84\xD9\x84\xD9\x87",
     "موسي|الله"}, /* alef maksura, alef wasla */
    {A, "\xD9\x85\xD8\xB3\xD8\xA4\xD9\x88\xD9\x84 \xD8\xB4\xD8\xA7\xD8\xB7\xD8\xA6",
     "مسوول|شاطي"},                                                      /* hamza on waw / yeh */
    {A, "\xD9\xA3\xD9\xA2 \xDB\xB4 \xEF\xBC\x95", "32|4|5"},             /* Arabic-Indic, Persian, full-width digits */
    {A, "\xDA\xA9\xD8\xAA\xD8\xA7\xD8\xA8 \xDB\x8C\xDA\xA9", "كتاب|يك"}, /* keheh, Farsi yeh */
    {A, "caf\xC3\xA9 na\xC3\xAFve", "cafe|naive"},
    {A, "\xD7\xA9\xD7\x81\xD7\x9C\xD7\x95\xD6\xB9\xD7\x9D", "שלום"}, /* Hebrew with points */
};

static char *joined_tokens(const nd_tokens *t)
{
    size_t len = 0;
    for (size_t i = 0; i < t->count; i++)
        len += t->items[i].norm_len + 1;
    char *s = malloc(len + 1);
    size_t w = 0;
    for (size_t i = 0; i < t->count; i++) {
        if (i)
            s[w++] = '|';
        memcpy(s + w, t->text + t->items[i].norm_start, t->items[i].norm_len);
        w += t->items[i].norm_len;
    }
    s[w] = '\0';
    return s;
}

START_TEST(test_token_table)
{
    const token_row *row = &token_rows[_i];
    nd_normalizer *nz = NULL;
    ck_assert_int_eq(nd_normalizer_new(&nz, row->profile), ND_OK);
    nd_tokens tokens = ND_TOKENS_INIT;
    size_t len = strlen(row->input);
    char *input = exact_copy(row->input, len);
    ck_assert_int_eq(nd_tokenize(&tokens, nz, input, len), ND_OK);
    char *got = joined_tokens(&tokens);
    ck_assert_msg(strcmp(got, row->tokens) == 0, "row %d: input '%s': got '%s', want '%s'", _i, row->input, got,
                  row->tokens);
    /* every span is inside the input and on a UTF-8 character boundary */
    for (size_t i = 0; i < tokens.count; i++) {
        const nd_token *t = &tokens.items[i];
        ck_assert(t->start < t->end && t->end <= len);
        ck_assert((input[t->start] & 0xC0) != 0x80);
        ck_assert(t->end == len || (input[t->end] & 0xC0) != 0x80);
    }
    free(got);
    free(input);
    nd_tokens_free(&tokens);
    nd_normalizer_free(nz);
}
END_TEST

typedef struct {
    const char *input;
    size_t token;
    size_t start, end;
} span_row;

static const span_row span_rows[] = {
    {"ab cd", 1, 3, 5},
    {"  x", 0, 2, 3},
    {"caf\x65\xCC\x81!", 0, 0, 6},                                   /* span covers the combining mark */
    {"\xD9\x83\xD9\x8E\xD8\xAA\xD9\x8E\xD8\xA8\xD9\x8E.", 0, 0, 12}, /* and the Arabic harakat */
    {"x \xE2\x80\x8D\xF0\x9F\x98\x80 y", 1, 10, 11},
    {"\xEF\xBC\xA6\xEF\xBC\xB5 ok", 0, 0, 6},
};

START_TEST(test_span_table)
{
    const span_row *row = &span_rows[_i];
    nd_normalizer *nz = NULL;
    ck_assert_int_eq(nd_normalizer_new(&nz, ND_PROFILE_DEFAULT), ND_OK);
    nd_tokens tokens = ND_TOKENS_INIT;
    size_t len = strlen(row->input);
    char *input = exact_copy(row->input, len);
    ck_assert_int_eq(nd_tokenize(&tokens, nz, input, len), ND_OK);
    ck_assert_uint_gt(tokens.count, row->token);
    ck_assert_uint_eq(tokens.items[row->token].start, row->start);
    ck_assert_uint_eq(tokens.items[row->token].end, row->end);
    free(input);
    nd_tokens_free(&tokens);
    nd_normalizer_free(nz);
}
END_TEST

START_TEST(test_invalid_utf8)
{
    static const char input[] = "ab\xFF"
                                "cd \xC3 ef \xE2\x82"; /* stray byte, truncated sequences */
    nd_normalizer *nz = NULL;
    ck_assert_int_eq(nd_normalizer_new(&nz, ND_PROFILE_DEFAULT), ND_OK);
    nd_tokens tokens = ND_TOKENS_INIT;
    size_t len = sizeof input - 1;
    char *copy = exact_copy(input, len);
    ck_assert_int_eq(nd_tokenize(&tokens, nz, copy, len), ND_OK);
    char *got = joined_tokens(&tokens);
    ck_assert_str_eq(got, "ab|cd|ef");
    ck_assert_uint_eq(tokens.invalid_utf8, 3);
    char repaired[64];
    size_t repaired_len;
    ck_assert_uint_eq(nd_utf8_repair(repaired, &repaired_len, copy, len), 3);
    ck_assert_uint_eq(repaired_len, len - 1 - 1 - 2 + 9);
    free(got);
    free(copy);
    nd_tokens_free(&tokens);
    nd_normalizer_free(nz);
}
END_TEST

START_TEST(test_reuse_and_null)
{
    nd_normalizer *nz = NULL;
    ck_assert_int_eq(nd_normalizer_new(&nz, ND_PROFILE_DEFAULT), ND_OK);
    nd_tokens tokens = ND_TOKENS_INIT;
    ck_assert_int_eq(nd_tokenize(&tokens, nz, "one two three", 13), ND_OK);
    ck_assert_uint_eq(tokens.count, 3);
    ck_assert_int_eq(nd_tokenize(&tokens, nz, NULL, 0), ND_OK);
    ck_assert_uint_eq(tokens.count, 0);
    ck_assert_int_eq(nd_normalizer_new(&nz, (nd_profile)99), ND_EINVAL);
    nd_tokens_free(&tokens);
    nd_normalizer_free(nz);
    nd_normalizer_free(NULL);
    nd_tokens_free(NULL);
}
END_TEST

START_TEST(test_profiles)
{
    nd_profile p;
    ck_assert_int_eq(nd_profile_from_name(&p, "aggressive"), ND_OK);
    ck_assert_int_eq(p, ND_PROFILE_AGGRESSIVE);
    ck_assert_int_eq(nd_profile_from_name(&p, "nope"), ND_EINVAL);
    ck_assert_str_eq(nd_profile_name(ND_PROFILE_DEFAULT), "default");
    ck_assert_uint_ge(nd_profile_version(ND_PROFILE_AGGRESSIVE), 1);
    ck_assert_ptr_null(nd_profile_name((nd_profile)7));
}
END_TEST

/* Fixture pairs: same tokens under one profile, different under another. */
typedef struct {
    const char *a, *b;
    nd_profile profile;
    int equal;
} fixture_pair_row;

static const fixture_pair_row fixture_pairs[] = {
    {"normalize/arabic-tashkeel.txt", "normalize/arabic-plain.txt", ND_PROFILE_AGGRESSIVE, 1},
    {"normalize/arabic-tashkeel.txt", "normalize/arabic-plain.txt", ND_PROFILE_DEFAULT, 0}, /* hamza letters differ */
    {"normalize/persian-farsi.txt", "normalize/persian-arabic.txt", ND_PROFILE_AGGRESSIVE, 1},
    {"normalize/persian-farsi.txt", "normalize/persian-arabic.txt", ND_PROFILE_DEFAULT, 0},
};

static char *tokens_of_fixture(const char *name, nd_profile profile)
{
    size_t len;
    char *text = read_fixture(name, &len);
    ck_assert_ptr_nonnull(text);
    nd_normalizer *nz = NULL;
    ck_assert_int_eq(nd_normalizer_new(&nz, profile), ND_OK);
    nd_tokens tokens = ND_TOKENS_INIT;
    ck_assert_int_eq(nd_tokenize(&tokens, nz, text, len), ND_OK);
    ck_assert_uint_gt(tokens.count, 3);
    char *joined = joined_tokens(&tokens);
    nd_tokens_free(&tokens);
    nd_normalizer_free(nz);
    free(text);
    return joined;
}

START_TEST(test_fixture_pairs)
{
    const fixture_pair_row *r = &fixture_pairs[_i];
    char *a = tokens_of_fixture(r->a, r->profile);
    char *b = tokens_of_fixture(r->b, r->profile);
    ck_assert_msg((strcmp(a, b) == 0) == r->equal, "%s vs %s under %s: '%s' vs '%s'", r->a, r->b,
                  nd_profile_name(r->profile), a, b);
    free(a);
    free(b);
}
END_TEST

/* Under default, tashkeel and tatweel go but the letters stay: removing
 * only those from the tashkeel fixture must give the default tokens. */
START_TEST(test_default_removes_only_vowel_signs)
{
    char *with_marks = tokens_of_fixture("normalize/arabic-tashkeel.txt", ND_PROFILE_DEFAULT);
    ck_assert_ptr_null(strstr(with_marks, "\xD9\x8E"));    /* no fatha */
    ck_assert_ptr_null(strstr(with_marks, "\xD9\x80"));    /* no tatweel */
    ck_assert_ptr_nonnull(strstr(with_marks, "\xD8\xA3")); /* alef with hamza above kept */
    free(with_marks);
}
END_TEST

/* Scripts without spaces are cut into words by ICU, with exact spans. */
typedef struct {
    const char *input;
    const char *tokens;
} word_break_row;

static const word_break_row word_break_rows[] = {
    {"\xE4\xBB\x8A\xE5\xA4\xA9\xE5\xA4\xA9\xE6\xB0\x94\xE5\xBE\x88\xE5\xA5\xBD", "今天|天气|很好"},
    {"\xE0\xB8\xA0\xE0\xB8\xB2\xE0\xB8\xA9\xE0\xB8\xB2\xE0\xB9\x84\xE0\xB8\x97\xE0\xB8\xA2", "ภาษา|ไทย"},
    {"iPhone\xE6\x89\x8B\xE6\x9C\xBA ok", "iphone|手机|ok"},
    /* a token that begins with one such letter is cut too (profile version
     * 1 left "中iphone" whole) */
    {"\xE4\xB8\xAD"
     "iPhone ok",
     "中|iphone|ok"},
};

START_TEST(test_word_break)
{
    const word_break_row *r = &word_break_rows[_i];
    nd_normalizer *nz = NULL;
    ck_assert_int_eq(nd_normalizer_new(&nz, ND_PROFILE_DEFAULT), ND_OK);
    nd_tokens tokens = ND_TOKENS_INIT;
    size_t len = strlen(r->input);
    char *input = exact_copy(r->input, len);
    ck_assert_int_eq(nd_tokenize(&tokens, nz, input, len), ND_OK);
    char *got = joined_tokens(&tokens);
    ck_assert_str_eq(got, r->tokens);
    for (size_t i = 0; i < tokens.count; i++) {
        const nd_token *t = &tokens.items[i];
        ck_assert((input[t->start] & 0xC0) != 0x80);
        ck_assert(t->end == len || (input[t->end] & 0xC0) != 0x80);
        if (i > 0)
            ck_assert_uint_ge(t->start, tokens.items[i - 1].end);
    }
    free(got);
    free(input);
    nd_tokens_free(&tokens);
    nd_normalizer_free(nz);
}
END_TEST

Suite *normalize_suite(void)
{
    Suite *s = suite_create("normalize");
    TCase *tc = tcase_create("tables");
    tcase_add_loop_test(tc, test_token_table, 0, (int)(sizeof token_rows / sizeof token_rows[0]));
    tcase_add_loop_test(tc, test_span_table, 0, (int)(sizeof span_rows / sizeof span_rows[0]));
    tcase_add_test(tc, test_invalid_utf8);
    tcase_add_test(tc, test_reuse_and_null);
    tcase_add_test(tc, test_profiles);
    tcase_add_loop_test(tc, test_fixture_pairs, 0, (int)(sizeof fixture_pairs / sizeof fixture_pairs[0]));
    tcase_add_test(tc, test_default_removes_only_vowel_signs);
    tcase_add_loop_test(tc, test_word_break, 0, (int)(sizeof word_break_rows / sizeof word_break_rows[0]));
    suite_add_tcase(s, tc);
    return s;
}
