/* test_chance.c - Mash's chance probability on shingle sets (chance.c):
 * small binomial tails written out by hand, the edges (nothing shared,
 * everything shared), monotonicity, and tails far below the smallest
 * double still given as a finite log10. */
#include <math.h> /* log10, pow, isfinite */

#include "neardup.h"
#include "suites.h"

/* r = 1 - (1 - 1/space)^n */
static double coverage(double n, double space)
{
    return 1.0 - pow(1.0 - 1.0 / space, n);
}

START_TEST(test_containment_small_tail)
{
    /* A of 3 shingles, 2 of them in B (50 shingles, space 200):
     * P(Bin(3, r) >= 2) = 3 r^2 (1 - r) + r^3 */
    double r = coverage(50, 200);
    double want = 3 * r * r * (1 - r) + r * r * r;
    ck_assert_double_eq_tol(nd_chance_containment_log10(3, 50, 2, 200), log10(want), 1e-9);
    /* one shingle: just r */
    ck_assert_double_eq_tol(nd_chance_containment_log10(1, 50, 1, 200), log10(r), 1e-9);
}
END_TEST

START_TEST(test_jaccard_small_tail)
{
    /* sets of 4 and 3 sharing 2: union 5, P(Bin(5, j) >= 2), j from Mash */
    double ra = coverage(4, 100), rb = coverage(3, 100);
    double j = ra * rb / (ra + rb - ra * rb);
    double below = pow(1 - j, 5) + 5 * j * pow(1 - j, 4);
    ck_assert_double_eq_tol(nd_chance_jaccard_log10(4, 3, 2, 100), log10(1 - below), 1e-9);
}
END_TEST

START_TEST(test_edges)
{
    ck_assert_double_eq(nd_chance_jaccard_log10(10, 10, 0, 1e6), 0.0);
    ck_assert_double_eq(nd_chance_containment_log10(10, 10, 0, 1e6), 0.0);
    /* a space of one shingle: every text holds it */
    ck_assert_double_eq(nd_chance_containment_log10(1, 1, 1, 1), 0.0);
    /* more shared, less likely; a larger space, less likely */
    double prev = 0.0;
    for (size_t x = 1; x <= 20; x++) {
        double p = nd_chance_containment_log10(20, 500, x, 1e5);
        ck_assert(p < prev);
        prev = p;
    }
    ck_assert(nd_chance_jaccard_log10(100, 100, 5, 1e6) < nd_chance_jaccard_log10(100, 100, 5, 1e4));
    /* at or below the expected overlap the probability is large */
    ck_assert(nd_chance_containment_log10(1000, 1000, 1, 2000) > -0.01);
}
END_TEST

START_TEST(test_far_tail_is_finite)
{
    /* 500 of 1000 shingles shared under 32-bit ids: about 10^-3000 */
    double p = nd_chance_jaccard_log10(1000, 1000, 500, 4294967296.0);
    ck_assert(isfinite(p));
    ck_assert(p < -1000);
    double c = nd_chance_containment_log10(1000, 1000, 1000, 4294967296.0);
    ck_assert(isfinite(c));
    ck_assert(c < p); /* all of A in B is rarer than half of the union */
}
END_TEST

Suite *chance_suite(void)
{
    Suite *s = suite_create("chance");
    TCase *tc = tcase_create("mash");
    tcase_add_test(tc, test_containment_small_tail);
    tcase_add_test(tc, test_jaccard_small_tail);
    tcase_add_test(tc, test_edges);
    tcase_add_test(tc, test_far_tail_is_finite);
    suite_add_tcase(s, tc);
    return s;
}
