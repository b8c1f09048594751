/* test_pairs.c - every matching pair (nd_index_pairs): against brute
 * force on random corpora (containment: exactly the brute-force list,
 * since its candidates are complete; Jaccard: a subset, with every number
 * exact, and nearly all of it), copies expanded into all their pairs, and
 * the order (a, b). */
#include <stdlib.h> /* free */
#include <string.h> /* strlen */

#include "corpus.h"
#include "neardup.h"
#include "suites.h"

typedef struct {
    size_t a, b, shared;
} expected_pair;

/* Every matching pair of the corpus, in order (a, b), the slow way. */
static expected_pair *brute_force(const test_corpus *c, const nd_options *o, size_t *count)
{
    size_t cap = 1024, n = 0;
    expected_pair *out = malloc(cap * sizeof *out);
    for (size_t a = 0; a < c->n; a++) {
        for (size_t b = a + 1; b < c->n; b++) {
            if (c->count[a] == 0 || c->count[b] == 0)
                continue;
            size_t x = corpus_overlap(c->ids[a], c->count[a], c->ids[b], c->count[b]);
            if (!corpus_covers(o, c->count[a], c->count[b], x) && !corpus_covers(o, c->count[b], c->count[a], x))
                continue;
            if (n == cap)
                out = realloc(out, (cap *= 2) * sizeof *out);
            out[n++] = (expected_pair){a, b, x};
        }
    }
    *count = n;
    return out;
}

static void expect_numbers(const test_corpus *c, const nd_pair *p)
{
    size_t na = c->count[p->a], nb = c->count[p->b];
    size_t x = corpus_overlap(c->ids[p->a], na, c->ids[p->b], nb);
    ck_assert_uint_eq(p->shared, x);
    ck_assert_double_eq(p->jaccard, (double)x / (double)(na + nb - x));
    ck_assert_double_eq(p->a_in_b, (double)x / (double)na);
    ck_assert_double_eq(p->b_in_a, (double)x / (double)nb);
}

static const struct {
    uint64_t seed;
    double threshold;
    unsigned min_shingles;
} rows[] = {
    {21, 0.8, 20}, {22, 0.8, 5}, {23, 0.6, 20}, {24, 0.9, 10}, {25, 1.0, 20}, {26, 0.5, 30}, {27, 0.3, 1},
};

START_TEST(test_containment_pairs_are_brute_force)
{
    test_corpus corpus = corpus_make(500, rows[_i].seed);
    nd_options opts = ND_OPTIONS_INIT;
    opts.measure = ND_MEASURE_CONTAINMENT;
    opts.threshold = rows[_i].threshold;
    opts.min_shingles = rows[_i].min_shingles;
    ck_assert_int_eq(nd_options_resolve(&opts), ND_OK);
    size_t want_count;
    expected_pair *want = brute_force(&corpus, &opts, &want_count);
    ck_assert_uint_gt(want_count, 50);
    nd_index *index = corpus_index(&corpus, &opts);
    nd_pairs *pairs = NULL;
    ck_assert_int_eq(nd_index_pairs(&pairs, NULL, index), ND_OK);
    const nd_pair *got;
    size_t got_count = nd_pairs_get(&got, pairs);
    ck_assert_uint_eq(got_count, want_count);
    for (size_t i = 0; i < got_count; i++) {
        ck_assert_uint_eq(got[i].a, want[i].a);
        ck_assert_uint_eq(got[i].b, want[i].b);
        expect_numbers(&corpus, &got[i]);
    }
    nd_pairs_free(pairs);
    nd_index_free(index);
    free(want);
    corpus_free(&corpus);
}
END_TEST

/* Jaccard: only pairs that match, in order, with exact numbers; LSH may
 * miss some, but with the groups completed (pairs.c, step 3) at most a
 * few percent of those at J >= t + 0.05. */
START_TEST(test_jaccard_pairs_verified)
{
    test_corpus corpus = corpus_make(500, rows[_i].seed);
    nd_options opts = ND_OPTIONS_INIT;
    opts.threshold = rows[_i].threshold;
    ck_assert_int_eq(nd_options_resolve(&opts), ND_OK);
    size_t want_count;
    expected_pair *want = brute_force(&corpus, &opts, &want_count);
    nd_index *index = corpus_index(&corpus, &opts);
    nd_pairs *pairs = NULL;
    ck_assert_int_eq(nd_index_pairs(&pairs, NULL, index), ND_OK);
    const nd_pair *got;
    size_t got_count = nd_pairs_get(&got, pairs);
    size_t w = 0, high = 0, high_found = 0;
    for (size_t i = 0; i < got_count; i++) {
        if (i > 0)
            ck_assert(got[i - 1].a < got[i].a || (got[i - 1].a == got[i].a && got[i - 1].b < got[i].b));
        while (w < want_count && (want[w].a < got[i].a || (want[w].a == got[i].a && want[w].b < got[i].b)))
            w++;
        ck_assert_msg(w < want_count && want[w].a == got[i].a && want[w].b == got[i].b,
                      "pair (%zu, %zu) does not match", got[i].a, got[i].b);
        expect_numbers(&corpus, &got[i]);
    }
    for (size_t i = 0, g = 0; i < want_count; i++) {
        double j =
            (double)want[i].shared / (double)(corpus.count[want[i].a] + corpus.count[want[i].b] - want[i].shared);
        if (j < opts.threshold + 0.05)
            continue;
        high++;
        while (g < got_count && (got[g].a < want[i].a || (got[g].a == want[i].a && got[g].b < want[i].b)))
            g++;
        high_found += g < got_count && got[g].a == want[i].a && got[g].b == want[i].b;
    }
    if (opts.threshold <= 0.9)
        ck_assert_uint_gt(high, 20);
    ck_assert_msg(high_found * 100 >= high * 97, "%zu of %zu pairs at J >= t + 0.05 found", high_found, high);
    nd_pairs_free(pairs);
    nd_index_free(index);
    free(want);
    corpus_free(&corpus);
}
END_TEST

/* k copies of one text give k (k - 1) / 2 pairs; with a near copy, each
 * copy pairs with it too, with the same numbers. */
START_TEST(test_copies_expanded)
{
    static const char *const texts[] = {
        "a b c d e f g h i j",   /* 0: copy */
        "unrelated text here",   /* 1 */
        "a b c d e f g h i j",   /* 2: copy */
        "a b c d e f g h i j k", /* 3: near copy, J = 10/11 */
        "a b c d e f g h i j",   /* 4: copy */
    };
    nd_options opts = ND_OPTIONS_INIT;
    opts.shingle_kind = ND_SHINGLE_WORDS;
    opts.shingle_size = 1;
    opts.bands = 32;
    opts.rows = 4;
    ck_assert_int_eq(nd_options_resolve(&opts), ND_OK);
    nd_sketcher *sk = NULL;
    nd_index *index = NULL;
    ck_assert_int_eq(nd_sketcher_new(&sk, &opts), ND_OK);
    ck_assert_int_eq(nd_index_new(&index, &opts), ND_OK);
    for (size_t i = 0; i < 5; i++) {
        nd_sketch sketch = ND_SKETCH_INIT;
        ck_assert_int_eq(nd_sketch_text(&sketch, sk, texts[i], strlen(texts[i])), ND_OK);
        ck_assert_int_eq(nd_index_add(index, &sketch, 1), ND_OK);
        nd_sketch_clear(&sketch);
    }
    nd_pairs *pairs = NULL;
    nd_cluster_stats stats;
    ck_assert_int_eq(nd_index_pairs(&pairs, &stats, index), ND_OK);
    const nd_pair *p;
    ck_assert_uint_eq(nd_pairs_get(&p, pairs), 6);
    static const size_t want[6][2] = {{0, 2}, {0, 3}, {0, 4}, {2, 3}, {2, 4}, {3, 4}};
    for (size_t i = 0; i < 6; i++) {
        ck_assert_uint_eq(p[i].a, want[i][0]);
        ck_assert_uint_eq(p[i].b, want[i][1]);
        int near = p[i].a == 3 || p[i].b == 3;
        ck_assert_double_eq(p[i].jaccard, near ? 10.0 / 11.0 : 1.0);
        /* the copies are inside the near copy (3), which has one more */
        ck_assert_double_eq(p[i].a_in_b, p[i].a == 3 ? 10.0 / 11.0 : 1.0);
        ck_assert_double_eq(p[i].b_in_a, p[i].b == 3 ? 10.0 / 11.0 : 1.0);
    }
    ck_assert_uint_eq(stats.exact_groups, 1);
    ck_assert_uint_eq(stats.verified_pairs, 1); /* one pair of representatives, expanded */
    nd_pairs_free(pairs);
    nd_index_free(index);
    nd_sketcher_free(sk);
}
END_TEST

START_TEST(test_no_pairs)
{
    nd_options opts = ND_OPTIONS_INIT;
    nd_index *index = NULL;
    ck_assert_int_eq(nd_index_new(&index, &opts), ND_OK);
    nd_pairs *pairs = NULL;
    ck_assert_int_eq(nd_index_pairs(&pairs, NULL, index), ND_OK);
    const nd_pair *p;
    ck_assert_uint_eq(nd_pairs_get(&p, pairs), 0);
    nd_pairs_free(pairs);
    nd_pairs_free(NULL);
    nd_index_free(index);
}
END_TEST

Suite *pairs_suite(void)
{
    Suite *s = suite_create("pairs");
    TCase *tc = tcase_create("pairs");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_containment_pairs_are_brute_force, 0, (int)(sizeof rows / sizeof rows[0]));
    tcase_add_loop_test(tc, test_jaccard_pairs_verified, 0, (int)(sizeof rows / sizeof rows[0]));
    tcase_add_test(tc, test_copies_expanded);
    tcase_add_test(tc, test_no_pairs);
    suite_add_tcase(s, tc);
    return s;
}
