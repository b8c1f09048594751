/* test_shingle.c - tokens to shingle sets: short texts, repeats, kinds. */
#include <stdlib.h> /* free */
#include <string.h> /* strlen */

#include "neardup.h"
#include "suites.h"

typedef struct {
    const char *text;
    nd_shingle_kind kind;
    unsigned size;
    size_t expected_count;
} shingle_row;

static const shingle_row shingle_rows[] = {
    {"", ND_SHINGLE_WORDS, 5, 0},                      /* no tokens: empty set */
    {"!!!", ND_SHINGLE_WORDS, 5, 0},
    {"one", ND_SHINGLE_WORDS, 5, 1},                   /* fewer than k: one shingle of all */
    {"one two three", ND_SHINGLE_WORDS, 5, 1},
    {"a b c d e", ND_SHINGLE_WORDS, 5, 1},
    {"a b c d e f", ND_SHINGLE_WORDS, 5, 2},
    {"a b a b a b", ND_SHINGLE_WORDS, 2, 2},           /* repeats collapse: {ab, ba} */
    {"x x x x x x x x", ND_SHINGLE_WORDS, 3, 1},
    {"abcdef", ND_SHINGLE_CHARS, 3, 4},                /* abc bcd cde def */
    {"ab", ND_SHINGLE_CHARS, 3, 1},
    {"ab cd", ND_SHINGLE_CHARS, 3, 3},                 /* "ab " "b c" " cd" */
    {"\xE4\xB8\xAD\xE6\x96\x87\xE6\x96\x87\xE6\x9C\xAC", ND_SHINGLE_CHARS, 2, 3}, /* 中文文本 */
};

START_TEST(test_shingle_table)
{
    const shingle_row *row = &shingle_rows[_i];
    nd_normalizer *nz = NULL;
    ck_assert_int_eq(nd_normalizer_new(&nz, ND_PROFILE_DEFAULT), ND_OK);
    nd_tokens tokens = ND_TOKENS_INIT;
    ck_assert_int_eq(nd_tokenize(nz, row->text, strlen(row->text), &tokens), ND_OK);
    uint32_t *ids = NULL;
    size_t cap = 0, count = 99;
    ck_assert_int_eq(nd_shingles(&ids, &cap, &count, &tokens, row->kind, row->size), ND_OK);
    ck_assert_msg(count == row->expected_count, "row %d '%s': %zu shingles, want %zu", _i, row->text, count,
                  row->expected_count);
    for (size_t i = 1; i < count; i++)
        ck_assert_uint_lt(ids[i - 1], ids[i]); /* sorted and distinct */
    free(ids);
    nd_tokens_free(&tokens);
    nd_normalizer_free(nz);
}
END_TEST

/* Different short texts must get different single shingles. */
START_TEST(test_short_texts_differ)
{
    nd_normalizer *nz = NULL;
    ck_assert_int_eq(nd_normalizer_new(&nz, ND_PROFILE_DEFAULT), ND_OK);
    nd_tokens tokens = ND_TOKENS_INIT;
    uint32_t *ids = NULL;
    size_t cap = 0, count = 0;
    uint32_t first[2];
    const char *texts[2] = {"red green blue", "red green bleu"};
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(nd_tokenize(nz, texts[i], strlen(texts[i]), &tokens), ND_OK);
        ck_assert_int_eq(nd_shingles(&ids, &cap, &count, &tokens, ND_SHINGLE_WORDS, 5), ND_OK);
        ck_assert_uint_eq(count, 1);
        first[i] = ids[0];
    }
    ck_assert_uint_ne(first[0], first[1]);
    ck_assert_int_eq(nd_shingles(&ids, &cap, &count, &tokens, ND_SHINGLE_WORDS, 0), ND_EINVAL);
    free(ids);
    nd_tokens_free(&tokens);
    nd_normalizer_free(nz);
}
END_TEST

START_TEST(test_unspaced_detection)
{
    nd_normalizer *nz = NULL;
    ck_assert_int_eq(nd_normalizer_new(&nz, ND_PROFILE_DEFAULT), ND_OK);
    nd_tokens tokens = ND_TOKENS_INIT;
    const char *zh = "\xE4\xBB\x8A\xE5\xA4\xA9\xE5\xA4\xA9\xE6\xB0\x94\xE5\xBE\x88\xE5\xA5\xBD"; /* 今天天气很好 */
    ck_assert_int_eq(nd_tokenize(nz, zh, strlen(zh), &tokens), ND_OK);
    ck_assert_int_eq(nd_tokens_mostly_unspaced(&tokens), 1);
    ck_assert_int_eq(nd_tokenize(nz, "plain english words", 19, &tokens), ND_OK);
    ck_assert_int_eq(nd_tokens_mostly_unspaced(&tokens), 0);
    nd_tokens_free(&tokens);
    nd_normalizer_free(nz);
}
END_TEST

Suite *shingle_suite(void)
{
    Suite *s = suite_create("shingle");
    TCase *tc = tcase_create("sets");
    tcase_add_loop_test(tc, test_shingle_table, 0, (int)(sizeof shingle_rows / sizeof shingle_rows[0]));
    tcase_add_test(tc, test_short_texts_differ);
    tcase_add_test(tc, test_unspaced_detection);
    suite_add_tcase(s, tc);
    return s;
}
