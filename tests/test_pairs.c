/* test_pairs.c - every matching pair (nd_index_pairs): against brute
 * force on random corpora (containment: exactly the brute-force list,
 * since its candidates are complete; Jaccard: a subset, with every number
 * exact, and nearly all of it), copies expanded into all their pairs, and
 * the order (a, b); nd_pairs_next() gives what nd_pairs_get() holds, in
 * the same order, however the two are interleaved. */
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

/* nd_pairs_next() walks exactly nd_pairs_get()'s array, nd_pairs_count()
 * long, and then gives nothing more. */
static void expect_next_is_get(nd_pairs *pairs)
{
    const nd_pair *all;
    size_t count = nd_pairs_get(&all, pairs);
    ck_assert_uint_eq(count, nd_pairs_count(pairs));
    nd_pair p;
    size_t i = 0;
    for (; nd_pairs_next(pairs, &p); i++) {
        ck_assert_uint_lt(i, count);
        ck_assert_mem_eq(&p, &all[i], sizeof p);
    }
    ck_assert_uint_eq(i, count);
    ck_assert_int_eq(nd_pairs_next(pairs, &p), 0);
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
    expect_next_is_get(pairs);
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
    expect_next_is_get(pairs);
    nd_pairs_free(pairs);
    nd_index_free(index);
    free(want);
    corpus_free(&corpus);
}
END_TEST

/* k copies of one text give k (k - 1) / 2 pairs; with a near copy, each
 * copy pairs with it too, with the same numbers. */
/* Options for short texts of single words: shingles of one word, 32 bands
 * of 4 rows (the copies and near copies of a few words all collide). */
static nd_options single_words(void)
{
    nd_options opts = ND_OPTIONS_INIT;
    opts.shingle_kind = ND_SHINGLE_WORDS;
    opts.shingle_size = 1;
    opts.bands = 32;
    opts.rows = 4;
    ck_assert_int_eq(nd_options_resolve(&opts), ND_OK);
    return opts;
}

START_TEST(test_copies_expanded)
{
    static const char *const texts[] = {
        "a b c d e f g h i j",   /* 0: copy */
        "unrelated text here",   /* 1 */
        "a b c d e f g h i j",   /* 2: copy */
        "a b c d e f g h i j k", /* 3: near copy, J = 10/11 */
        "a b c d e f g h i j",   /* 4: copy */
    };
    nd_options opts = single_words();
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

/* Three sets, their copies interleaved: A, B = A + k (J(A, B) = 10/11),
 * C = A with j replaced by l (J(A, C) = 9/11, J(B, C) = 9/12: no pair),
 * plus a text that pairs with nothing and one without shingles. Text 0's
 * partners come from three sets (its own later copies, B's, C's) and
 * must be merged into order. nd_pairs_next() gives the brute-force list,
 * in order, every number exact; nd_pairs_get() the same, whether it is
 * called before, in the middle of or after the walk. */
static const char *const interleaved[] = {
    "a b c d e f g h i j",                        /* 0: A */
    "a b c d e f g h i j k",                      /* 1: B */
    "a b c d e f g h i l",                        /* 2: C */
    "a b c d e f g h i j",                        /* 3: A */
    "nothing here is like any other text at all", /* 4: no pair */
    "a b c d e f g h i j k",                      /* 5: B */
    "a b c d e f g h i j",                        /* 6: A */
    "",                                           /* 7: no shingles */
    "a b c d e f g h i l",                        /* 8: C */
    "a b c d e f g h i j k",                      /* 9: B */
    "a b c d e f g h i j",                        /* 10: A */
};
enum { INTERLEAVED = sizeof interleaved / sizeof interleaved[0] };

/* The words of interleaved[t] (distinct in each), split in buf. */
static size_t words_of(size_t t, char buf[64], const char *words[16])
{
    size_t n = 0;
    strcpy(buf, interleaved[t]);
    for (char *w = strtok(buf, " "); w; w = strtok(NULL, " "))
        words[n++] = w;
    return n;
}

/* The pairs at Jaccard >= 0.8, the slow way; count[t]: text t's words. */
static size_t brute_interleaved(expected_pair *out, size_t count[INTERLEAVED])
{
    char buf[INTERLEAVED][64];
    const char *words[INTERLEAVED][16];
    size_t n = 0;
    for (size_t t = 0; t < INTERLEAVED; t++)
        count[t] = words_of(t, buf[t], words[t]);
    for (size_t a = 0; a < INTERLEAVED; a++) {
        for (size_t b = a + 1; b < INTERLEAVED; b++) {
            size_t x = 0;
            for (size_t i = 0; i < count[a]; i++) {
                for (size_t k = 0; k < count[b]; k++)
                    x += strcmp(words[a][i], words[b][k]) == 0;
            }
            if (count[a] && count[b] && 10 * x >= 8 * (count[a] + count[b] - x))
                out[n++] = (expected_pair){a, b, x};
        }
    }
    return n;
}

static nd_pairs *interleaved_pairs(nd_index **index, nd_sketcher **sk)
{
    nd_options opts = single_words();
    ck_assert_int_eq(nd_sketcher_new(sk, &opts), ND_OK);
    ck_assert_int_eq(nd_index_new(index, &opts), ND_OK);
    for (size_t i = 0; i < INTERLEAVED; i++) {
        nd_sketch sketch = ND_SKETCH_INIT;
        ck_assert_int_eq(nd_sketch_text(&sketch, *sk, interleaved[i], strlen(interleaved[i])), ND_OK);
        ck_assert_int_eq(nd_index_add(*index, &sketch, 1), ND_OK);
        nd_sketch_clear(&sketch);
    }
    nd_pairs *pairs = NULL;
    ck_assert_int_eq(nd_index_pairs(&pairs, NULL, *index), ND_OK);
    return pairs;
}

START_TEST(test_next_in_order)
{
    expected_pair want[INTERLEAVED * INTERLEAVED];
    size_t words[INTERLEAVED];
    size_t want_count = brute_interleaved(want, words);
    ck_assert_uint_eq(want_count, 6 + 3 + 1 + 4 * 3 + 4 * 2); /* A A, B B, C C, A B, A C */
    for (int get_at = 0; get_at < 3; get_at++) {              /* nd_pairs_get() before, during, after the walk */
        nd_index *index = NULL;
        nd_sketcher *sk = NULL;
        nd_pairs *pairs = interleaved_pairs(&index, &sk);
        ck_assert_uint_eq(nd_pairs_count(pairs), want_count);
        const nd_pair *all = NULL;
        if (get_at == 0)
            ck_assert_uint_eq(nd_pairs_get(&all, pairs), want_count);
        nd_pair p;
        size_t i = 0;
        for (; nd_pairs_next(pairs, &p); i++) {
            ck_assert_uint_lt(i, want_count);
            ck_assert_msg(p.a == want[i].a && p.b == want[i].b, "pair %zu: (%zu, %zu), not (%zu, %zu)", i, p.a, p.b,
                          want[i].a, want[i].b);
            ck_assert_uint_eq(p.shared, want[i].shared);
            size_t na = words[p.a], nb = words[p.b];
            ck_assert_double_eq(p.jaccard, (double)p.shared / (double)(na + nb - p.shared));
            ck_assert_double_eq(p.a_in_b, (double)p.shared / (double)na);
            ck_assert_double_eq(p.b_in_a, (double)p.shared / (double)nb);
            ck_assert(p.a != 4 && p.b != 4 && p.a != 7 && p.b != 7);
            if (get_at == 1 && i == 7)
                ck_assert_uint_eq(nd_pairs_get(&all, pairs), want_count);
            if (all)
                ck_assert_mem_eq(&p, &all[i], sizeof p);
        }
        ck_assert_uint_eq(i, want_count);
        ck_assert_int_eq(nd_pairs_next(pairs, &p), 0);
        if (get_at == 2) {
            ck_assert_uint_eq(nd_pairs_get(&all, pairs), want_count);
            for (size_t k = 0; k < want_count; k++)
                ck_assert(all[k].a == want[k].a && all[k].b == want[k].b && all[k].shared == want[k].shared);
        }
        nd_pairs_free(pairs);
        nd_index_free(index);
        nd_sketcher_free(sk);
    }
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
    ck_assert_uint_eq(nd_pairs_count(pairs), 0);
    nd_pair one;
    ck_assert_int_eq(nd_pairs_next(pairs, &one), 0);
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
    tcase_add_test(tc, test_next_in_order);
    tcase_add_test(tc, test_no_pairs);
    suite_add_tcase(s, tc);
    return s;
}
