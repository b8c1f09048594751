/* test_explain.c - nd_explain: the numbers and runs of a pair, checked on
 * pairs whose answers can be worked out by hand. */
#include <stdlib.h> /* malloc, free */
#include <string.h> /* strlen, strstr */

#include "alloc.h" /* nd_free */
#include "neardup.h"
#include "runs.h" /* nd_runs_pick, nd_runs_pick_plain */
#include "suites.h"

static nd_explanation *explain(const char *a, const char *b, size_t max_runs)
{
    nd_options opts = ND_OPTIONS_INIT;
    nd_explanation *e = NULL;
    ck_assert_int_eq(nd_explain(&e, &opts, a, a ? strlen(a) : 0, b, b ? strlen(b) : 0, max_runs), ND_OK);
    return e;
}

START_TEST(test_identical)
{
    const char *text = "one two three four five six seven eight nine ten eleven twelve";
    nd_explanation *e = explain(text, text, 10);
    ck_assert_uint_eq(e->tokens_a, 12);
    ck_assert_uint_eq(e->shingles_a, 8); /* 12 - 5 + 1 five-word shingles */
    ck_assert_uint_eq(e->shared_shingles, 8);
    ck_assert_double_eq(e->jaccard, 1.0);
    ck_assert_double_eq(e->estimated_jaccard, 1.0);
    ck_assert_int_eq(e->shingle_kind, ND_SHINGLE_WORDS);
    ck_assert_uint_eq(e->shingle_size, 5);
    ck_assert_uint_eq(e->collided_count, e->bands);
    for (unsigned j = 0; j < e->collided_count; j++)
        ck_assert_uint_eq(e->bands_collided[j], j);
    ck_assert(e->candidate && e->match);
    ck_assert_uint_eq(e->run_count, 1); /* the whole text */
    ck_assert_uint_eq(e->runs[0].tokens, 12);
    ck_assert_uint_eq(e->runs[0].a.start, 0);
    ck_assert_uint_eq(e->runs[0].a.end, strlen(text));
    nd_explanation_free(e);
}
END_TEST

START_TEST(test_runs_and_containment)
{
    /* B holds A's first five words and its last three (too short a run for
     * 5-word shingles), and more */
    const char *a = "alpha beta gamma delta epsilon zeta eta theta";
    const char *b = "xx alpha beta gamma delta epsilon yy zeta eta theta iota kappa lambda";
    nd_explanation *e = explain(a, b, 10);
    ck_assert_uint_eq(e->shingles_a, 4);
    ck_assert_uint_eq(e->shingles_b, 9);
    ck_assert_uint_eq(e->shared_shingles, 1); /* alpha..epsilon */
    ck_assert_double_eq_tol(e->jaccard, 1.0 / 12.0, 1e-12);
    ck_assert_double_eq_tol(e->containment_a_in_b, 1.0 / 4.0, 1e-12);
    ck_assert_double_eq_tol(e->containment_b_in_a, 1.0 / 9.0, 1e-12);
    ck_assert(!e->match);
    ck_assert_uint_eq(e->min_run, 5);
    ck_assert_uint_eq(e->run_count, 1);
    ck_assert_uint_eq(e->runs[0].tokens, 5);
    ck_assert_uint_eq(e->runs[0].a.start, 0);
    ck_assert_uint_eq(e->runs[0].a.end, strlen("alpha beta gamma delta epsilon"));
    ck_assert_uint_eq(e->runs[0].b.start, 3);
    ck_assert_uint_eq(e->runs[0].b.end, 3 + strlen("alpha beta gamma delta epsilon"));
    nd_explanation_free(e);
}
END_TEST

START_TEST(test_longest_runs_first_without_overlap_in_a)
{
    /* A's words 0-6 appear in B twice: once whole (7 tokens), once cut to 6;
     * both start at A's position 0, so only the longer is shown; words 7-12
     * are shared too (6 tokens) */
    const char *a = "a1 a2 a3 a4 a5 a6 a7 b1 b2 b3 b4 b5 b6";
    const char *b = "a1 a2 a3 a4 a5 a6 zz b1 b2 b3 b4 b5 b6 yy a1 a2 a3 a4 a5 a6 a7";
    nd_explanation *e = explain(a, b, 10);
    ck_assert_uint_eq(e->run_count, 2);
    ck_assert_uint_eq(e->runs[0].tokens, 7);
    ck_assert_uint_eq(e->runs[0].b.start, (size_t)(strstr(b, "yy a1") + 3 - b));
    ck_assert_uint_eq(e->runs[1].tokens, 6);
    ck_assert_uint_eq(e->runs[1].a.start, (size_t)(strstr(a, "b1") - a));
    nd_explanation_free(e);
    e = explain(a, b, 1); /* max_runs */
    ck_assert_uint_eq(e->run_count, 1);
    ck_assert_uint_eq(e->runs[0].tokens, 7);
    nd_explanation_free(e);
}
END_TEST

START_TEST(test_chance_and_measure)
{
    const char *a = "one two three four five six seven eight nine ten eleven twelve";
    nd_explanation *e = explain(a, a, 10);
    /* 12 distinct words, 5-word shingles: 12^5 possible; sharing all 8 by chance is unlikely */
    ck_assert_double_eq(e->shingle_space, 248832.0);
    ck_assert(e->chance_jaccard_log10 < -20);
    ck_assert(e->chance_a_in_b_log10 < -20 && e->chance_b_in_a_log10 < -20);
    nd_explanation_free(e);
    e = explain("red green blue cyan magenta yellow", "one two three four five six", 10);
    ck_assert_double_eq(e->chance_jaccard_log10, 0.0); /* nothing shared: probability 1 */
    ck_assert(!e->candidate);
    nd_explanation_free(e);
    /* containment: a short excerpt inside a longer text; every pair is a candidate */
    nd_options opts = ND_OPTIONS_INIT;
    opts.measure = ND_MEASURE_CONTAINMENT;
    opts.min_shingles = 3;
    const char *whole = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho";
    const char *part = "delta epsilon zeta eta theta iota kappa";
    ck_assert_int_eq(nd_explain(&e, &opts, part, strlen(part), whole, strlen(whole), 10), ND_OK);
    ck_assert_double_eq(e->containment_a_in_b, 1.0);
    ck_assert(e->jaccard < 0.8);
    ck_assert(e->candidate && e->match);
    nd_explanation_free(e);
}
END_TEST

START_TEST(test_empty_and_disjoint)
{
    nd_explanation *e = explain(NULL, "some words here", 10);
    ck_assert_uint_eq(e->shingles_a, 0);
    ck_assert_uint_eq(e->collided_count, 0);
    ck_assert(!e->candidate && !e->match);
    ck_assert_uint_eq(e->run_count, 0);
    ck_assert_double_eq(e->estimated_jaccard, 0.0); /* as the exact Jaccard: no shingles, nothing shared */
    nd_explanation_free(e);
    /* two texts without shingles: their signatures are alike (every value
     * empty), which estimates nothing */
    e = explain("", "  ...  ", 10);
    ck_assert_uint_eq(e->shingles_a + e->shingles_b, 0);
    ck_assert_double_eq(e->jaccard, 0.0);
    ck_assert_double_eq(e->estimated_jaccard, 0.0);
    ck_assert(!e->candidate && !e->match);
    nd_explanation_free(e);
    e = explain("red green blue cyan magenta yellow", "one two three four five six", 10);
    ck_assert_double_eq(e->jaccard, 0.0);
    ck_assert_uint_eq(e->shared_shingles, 0);
    ck_assert(!e->match);
    ck_assert_uint_eq(e->run_count, 0);
    nd_explanation_free(e);
    nd_explanation_free(NULL);
    nd_options bad = ND_OPTIONS_INIT;
    bad.num_perm = 0;
    e = NULL;
    ck_assert_int_eq(nd_explain(&e, &bad, "a", 1, "b", 1, 10), ND_EINVAL);
    ck_assert_ptr_null(e);
}
END_TEST

/* Token sequences for the run searches: hashes only (what they read). */
static nd_tokens token_seq(const unsigned *symbols, size_t n)
{
    nd_tokens t = ND_TOKENS_INIT;
    t.items = malloc((n ? n : 1) * sizeof *t.items);
    ck_assert_ptr_nonnull(t.items);
    for (size_t i = 0; i < n; i++) {
        t.items[i] = (nd_token){0};
        t.items[i].hash = 0x9E3779B97F4A7C15ull * (symbols[i] + 1); /* distinct symbols, distinct hashes */
    }
    t.count = n;
    return t;
}

static unsigned next_symbol(uint64_t *state, unsigned alphabet)
{
    *state = *state * 6364136223846793005ull + 1442695040888963407ull;
    return (unsigned)(*state >> 33) % alphabet;
}

/* nd_runs_pick (k-grams, hashed prefixes) takes exactly the runs the plain
 * search takes, on random pairs: few symbols (many short runs and ties),
 * B made of pieces of A (runs past the 32 tokens compared one by one,
 * where hashes take over), every min_len from 0 to 6, 1 to 12 runs. */
START_TEST(test_runs_pick_as_the_plain_search)
{
    uint64_t state = 7;
    unsigned sa[700], sb[700];
    size_t compared = 0, long_runs = 0;
    for (int round = 0; round < 2000; round++) {
        unsigned alphabet = 1 + next_symbol(&state, round % 3 == 0 ? 3 : 12);
        size_t na = next_symbol(&state, 300), nb = 0;
        for (size_t i = 0; i < na; i++)
            sa[i] = next_symbol(&state, alphabet);
        while (nb < 600 && next_symbol(&state, 8) != 0) {
            if (na > 0 && next_symbol(&state, 2)) { /* a piece of A, up to 120 tokens */
                size_t from = next_symbol(&state, (unsigned)na), len = 1 + next_symbol(&state, 120);
                for (size_t t = 0; t < len && from + t < na && nb < 600; t++)
                    sb[nb++] = sa[from + t];
            } else {
                size_t len = 1 + next_symbol(&state, 10);
                for (size_t t = 0; t < len && nb < 600; t++)
                    sb[nb++] = next_symbol(&state, alphabet + 2);
            }
        }
        nd_tokens ta = token_seq(sa, na), tb = token_seq(sb, nb);
        size_t min_len = next_symbol(&state, 7), max_runs = 1 + next_symbol(&state, 12);
        nd_token_run *want = NULL, *got = NULL;
        size_t nw = 0, ng = 0;
        ck_assert_int_eq(nd_runs_pick_plain(&want, &nw, &ta, &tb, min_len, max_runs), ND_OK);
        int too_many = -1;
        ck_assert_int_eq(nd_runs_pick(&got, &ng, &too_many, &ta, &tb, min_len, max_runs), ND_OK);
        ck_assert_int_eq(too_many, 0);
        ck_assert_msg(nw == ng, "round %d: %zu runs, not %zu", round, ng, nw);
        for (size_t r = 0; r < nw; r++) {
            ck_assert_msg(want[r].a == got[r].a && want[r].b == got[r].b && want[r].len == got[r].len,
                          "round %d, run %zu: (%zu, %zu, %zu) where the plain search has (%zu, %zu, %zu)", round, r,
                          got[r].a, got[r].b, got[r].len, want[r].a, want[r].b, want[r].len);
            long_runs += want[r].len > 32;
        }
        compared += nw;
        nd_free(want);
        nd_free(got);
        free(ta.items);
        free(tb.items);
    }
    ck_assert_uint_gt(compared, 2000);
    ck_assert_uint_gt(long_runs, 100);
}
END_TEST

/* The search is bounded: texts over a tiny vocabulary, whose shared runs
 * grow with the square of their length (40,000 tokens of three symbols
 * each: about 4 million starts of runs of 5), get none and too_many, where
 * they took time and memory in proportion (80,000 of them: 7.5 s, 700 MB);
 * the cases it is linear on stay answered: one symbol repeated (2n starts),
 * a long text against itself. */
START_TEST(test_runs_bounded_on_a_tiny_vocabulary)
{
    enum { N = 40000 };
    static unsigned sa[N], sb[N];
    uint64_t state = 11;
    for (size_t i = 0; i < N; i++) {
        sa[i] = next_symbol(&state, 3);
        sb[i] = next_symbol(&state, 3);
    }
    nd_tokens ta = token_seq(sa, N), tb = token_seq(sb, N);
    nd_token_run *got = NULL;
    size_t ng = 99;
    int too_many = 0;
    ck_assert_int_eq(nd_runs_pick(&got, &ng, &too_many, &ta, &tb, 5, 10), ND_OK);
    ck_assert_int_eq(too_many, 1);
    ck_assert_uint_eq(ng, 0);
    nd_free(got);
    free(ta.items);
    free(tb.items);

    for (size_t i = 0; i < N; i++) {
        sa[i] = 0; /* one word repeated */
        sb[i] = next_symbol(&state, 1000);
    }
    for (int pair = 0; pair < 2; pair++) {
        const unsigned *text = pair == 0 ? sa : sb; /* then a text over 1,000 words, against itself */
        ta = token_seq(text, N);
        tb = token_seq(text, N);
        too_many = -1;
        ck_assert_int_eq(nd_runs_pick(&got, &ng, &too_many, &ta, &tb, 5, 10), ND_OK);
        ck_assert_int_eq(too_many, 0);
        ck_assert_uint_ge(ng, 1);
        ck_assert_uint_eq(got[0].len, N);
        nd_free(got);
        free(ta.items);
        free(tb.items);
    }
}
END_TEST

Suite *explain_suite(void)
{
    Suite *s = suite_create("explain");
    TCase *tc = tcase_create("explain");
    tcase_add_test(tc, test_identical);
    tcase_add_test(tc, test_runs_and_containment);
    tcase_add_test(tc, test_longest_runs_first_without_overlap_in_a);
    tcase_add_test(tc, test_chance_and_measure);
    tcase_add_test(tc, test_empty_and_disjoint);
    tcase_add_test(tc, test_runs_pick_as_the_plain_search);
    tcase_add_test(tc, test_runs_bounded_on_a_tiny_vocabulary);
    suite_add_tcase(s, tc);
    return s;
}
