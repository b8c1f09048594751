/* test_pathological.c - hostile texts take time linear in their size.
 *
 * Each case builds a text of size n and of size 4n, times the library call
 * on both (CPU time from clock(), best of three runs to shed noise from
 * other processes) and requires t(4n) <= 8 t(n) + 20 ms: linear work gives
 * about 4x, quadratic work 16x. The bound is a ratio of two sizes measured
 * in one process, never an absolute time, so it holds on slow machines and
 * under sanitizers alike. The cases are the ones issue #12 found or feared:
 *   - a long run of Han or Thai letters without punctuation (word breaking
 *     mapped every word back to the original bytes by rescanning the run
 *     from its start: quadratic);
 *   - a base letter followed by many combining marks of alternating classes
 *     (one unbounded normalization segment, canonically reordered by
 *     insertion: quadratic until segments were capped at 30 non-starters,
 *     as Unicode's stream-safe text format does);
 *   - one huge token, and one word repeated many times (linear today; kept
 *     as guards), through nd_sketch_text and nd_find_repeats;
 *   - explaining one word repeated n times against itself (nd_explain's
 *     shared runs visited every pair of equal words: n^2; runs.c);
 *   - clustering a family of near-copies that share LSH keys (one 200-word
 *     page, two words changed in each copy): every pair of a key's texts
 *     was looked at even once all were joined, k^2 / 2 a band (80,000
 *     copies: 32 s), now about k (keygroups.c).
 */
#include <stdio.h>  /* snprintf */
#include <stdlib.h> /* malloc, free */
#include <string.h> /* memcpy */
#include <time.h>   /* clock */

#include "neardup.h"
#include "suites.h"

/* A text of `copies` copies of `unit` after `prefix`, in an exact-size
 * heap buffer. */
static char *repeated(const char *prefix, const char *unit, size_t copies, size_t *len)
{
    size_t p = strlen(prefix), u = strlen(unit);
    *len = p + u * copies;
    char *s = malloc(*len ? *len : 1);
    ck_assert_ptr_nonnull(s);
    memcpy(s, prefix, p);
    for (size_t i = 0; i < copies; i++)
        memcpy(s + p + i * u, unit, u);
    return s;
}

/* n pseudo-random CJK ideographs (U+4E00..U+9FA5), no separators. */
static char *han_run(size_t n, size_t *len)
{
    char *s = malloc(3 * n);
    ck_assert_ptr_nonnull(s);
    uint32_t x = 12345;
    for (size_t i = 0; i < n; i++) {
        x = x * 1103515245u + 12345u;
        uint32_t c = 0x4E00 + (x >> 8) % 0x51A6;
        s[3 * i] = (char)(0xE0 | c >> 12);
        s[3 * i + 1] = (char)(0x80 | ((c >> 6) & 0x3F));
        s[3 * i + 2] = (char)(0x80 | (c & 0x3F));
    }
    *len = 3 * n;
    return s;
}

typedef enum { KIND_HAN, KIND_THAI, KIND_MARKS, KIND_HUGE_TOKEN, KIND_HUGE_2BYTE, KIND_REPEATED_WORD } text_kind;

static char *make_text(text_kind kind, size_t n, size_t *len)
{
    switch (kind) {
    case KIND_HAN:
        return han_run(n, len);
    case KIND_THAI:
        return repeated("", "\xE0\xB8\x81\xE0\xB8\xB2\xE0\xB8\xA3", n, len); /* การ */
    case KIND_MARKS:
        /* a + (U+0301 ccc 230, U+0316 ccc 220) * n: canonical reordering
         * must move every U+0316 before the U+0301 in front of it */
        return repeated("a", "\xCC\x81\xCC\x96", n, len);
    case KIND_HUGE_TOKEN:
        return repeated("", "a", n, len);
    case KIND_HUGE_2BYTE:
        return repeated("", "\xD0\x96", n, len); /* Ж */
    case KIND_REPEATED_WORD:
        return repeated("", "word ", n, len);
    }
    return NULL;
}

typedef enum { CALL_TOKENIZE, CALL_SKETCH, CALL_REPEATS, CALL_EXPLAIN } call_kind;

typedef struct {
    const char *name;
    text_kind kind;
    call_kind call;
    size_t n; /* the small size; the large one is 4n */
} patho_row;

static const patho_row patho_rows[] = {
    {"Han run, tokenized", KIND_HAN, CALL_TOKENIZE, 20000},
    {"Han run, sketched", KIND_HAN, CALL_SKETCH, 20000},
    {"Thai run, tokenized", KIND_THAI, CALL_TOKENIZE, 5000},
    {"combining marks", KIND_MARKS, CALL_TOKENIZE, 4000},
    {"huge ASCII token", KIND_HUGE_TOKEN, CALL_SKETCH, 1000000},
    {"huge Cyrillic token", KIND_HUGE_2BYTE, CALL_SKETCH, 500000},
    {"one word repeated", KIND_REPEATED_WORD, CALL_SKETCH, 250000},
    {"one word repeated, repeats", KIND_REPEATED_WORD, CALL_REPEATS, 250000},
    {"one word repeated, explained against itself", KIND_REPEATED_WORD, CALL_EXPLAIN, 10000},
};

/* CPU seconds of the best of three runs of the row's call on its text of
 * size n. */
static double best_time(const patho_row *row, size_t n)
{
    size_t len;
    char *text = make_text(row->kind, n, &len);
    nd_options opts = ND_OPTIONS_INIT;
    ck_assert_int_eq(nd_options_resolve(&opts), ND_OK);
    nd_sketcher *sk = NULL;
    nd_normalizer *nz = NULL;
    ck_assert_int_eq(nd_sketcher_new(&sk, &opts), ND_OK);
    ck_assert_int_eq(nd_normalizer_new(&nz, ND_PROFILE_DEFAULT), ND_OK);
    nd_tokens tokens = ND_TOKENS_INIT;
    nd_span copies[4];
    nd_span unit = {0, len};
    double best = 1e30;
    for (int run = 0; run < 3; run++) {
        clock_t t0 = clock();
        nd_sketch_ref ref;
        switch (row->call) {
        case CALL_TOKENIZE:
            ck_assert_int_eq(nd_tokenize(&tokens, nz, text, len), ND_OK);
            ck_assert_uint_gt(tokens.count, 0);
            break;
        case CALL_SKETCH:
            ck_assert_int_eq(nd_sketch_text_ref(&ref, sk, text, len), ND_OK);
            ck_assert_uint_gt(ref.count, 0);
            break;
        case CALL_REPEATS:
            ck_assert_int_eq(nd_tokenize(&tokens, nz, text, len), ND_OK);
            ck_assert_int_eq(nd_find_repeats(copies, 4, &tokens, text, unit), 0); /* period 1: too short */
            break;
        case CALL_EXPLAIN: {
            /* the shared runs: every pair of equal words was visited
             * (10k words 0.16 s, 40k 2.7 s), now each run's start once */
            nd_explanation *e = NULL;
            ck_assert_int_eq(nd_explain(&e, &opts, text, len, text, len, 10), ND_OK);
            ck_assert_uint_eq(e->run_count, 1);
            ck_assert_uint_eq(e->runs[0].tokens, n);
            nd_explanation_free(e);
            break;
        }
        }
        double t = (double)(clock() - t0) / CLOCKS_PER_SEC;
        best = t < best ? t : best;
    }
    nd_tokens_free(&tokens);
    nd_normalizer_free(nz);
    nd_sketcher_free(sk);
    free(text);
    return best;
}

START_TEST(test_linear_time)
{
    const patho_row *row = &patho_rows[_i];
    double small = best_time(row, row->n);
    double large = best_time(row, 4 * row->n);
    ck_assert_msg(large <= 8.0 * small + 0.02, "%s: %zu units took %.4f s, %zu units %.4f s (%.1fx for 4x the input)",
                  row->name, row->n, small, 4 * row->n, large, large / (small > 0 ? small : 1e-9));
}
END_TEST

/* n copies of one 200-word page, each with two words replaced by words of
 * its own (Jaccard about 0.9 between two copies, so they share most band
 * keys): indexed, and the best of three nd_index_cluster runs timed. */
static double family_cluster_time(size_t n)
{
    nd_options opts = ND_OPTIONS_INIT;
    ck_assert_int_eq(nd_options_resolve(&opts), ND_OK);
    nd_sketcher *sk = NULL;
    nd_index *index = NULL;
    ck_assert_int_eq(nd_sketcher_new(&sk, &opts), ND_OK);
    ck_assert_int_eq(nd_index_new(&index, &opts), ND_OK);
    char text[200 * 12];
    uint32_t x = 2024;
    for (size_t d = 0; d < n; d++) {
        x = x * 1103515245u + 12345u;
        unsigned first = (x >> 8) % 200, second = (x >> 16) % 200;
        size_t len = 0;
        for (unsigned w = 0; w < 200; w++) {
            if (w == first || w == second)
                len += (size_t)snprintf(text + len, sizeof text - len, "x%zu%c ", d, w == first ? 'a' : 'b');
            else
                len += (size_t)snprintf(text + len, sizeof text - len, "w%u ", w);
        }
        nd_sketch sketch = ND_SKETCH_INIT;
        ck_assert_int_eq(nd_sketch_text(&sketch, sk, text, len), ND_OK);
        ck_assert_int_eq(nd_index_add(index, &sketch, len), ND_OK);
        nd_sketch_clear(&sketch);
    }
    double best = 1e30;
    for (int run = 0; run < 3; run++) {
        nd_clusters *clusters = NULL;
        clock_t t0 = clock();
        ck_assert_int_eq(nd_index_cluster(&clusters, NULL, index, ND_KEEP_FIRST), ND_OK);
        double t = (double)(clock() - t0) / CLOCKS_PER_SEC;
        best = t < best ? t : best;
        /* one family: most copies are in one cluster */
        size_t largest = 0;
        for (size_t c = 0; c < nd_clusters_count(clusters); c++) {
            const nd_member *m;
            size_t size = nd_clusters_get(&m, clusters, c);
            largest = size > largest ? size : largest;
        }
        ck_assert_uint_gt(largest, n / 2);
        nd_clusters_free(clusters);
    }
    nd_index_free(index);
    nd_sketcher_free(sk);
    return best;
}

START_TEST(test_family_clusters_in_linear_time)
{
    size_t n = 1500;
    double small = family_cluster_time(n);
    double large = family_cluster_time(4 * n);
    ck_assert_msg(large <= 8.0 * small + 0.02,
                  "a family of %zu near-copies clustered in %.4f s, %zu in %.4f s (%.1fx for 4x the copies)", n, small,
                  4 * n, large, large / (small > 0 ? small : 1e-9));
}
END_TEST

Suite *pathological_suite(void)
{
    Suite *s = suite_create("pathological");
    TCase *tc = tcase_create("linear");
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, test_linear_time, 0, (int)(sizeof patho_rows / sizeof patho_rows[0]));
    tcase_add_test(tc, test_family_clusters_in_linear_time);
    suite_add_tcase(s, tc);
    return s;
}
