/* test_lsh.c - banding: the candidate rate follows 1 - (1 - s^r)^b, the
 * automatic choice of bands and rows, option checks.
 *
 * For each similarity s, 600 synthetic pairs of exact Jaccard s are signed
 * and banded; the share that collide in at least one band must be within
 * 4 binomial standard deviations (plus 0.02 for the discreteness of J) of
 * the formula. */
#include <math.h> /* sqrt, fabs */

#include "neardup.h"
#include "hash.h"
#include "index_add.h"
#include "minhash.h"
#include "suites.h"
#include "synth.h"

static const double similarities[] = {0.3, 0.5, 0.6, 0.7, 0.8, 0.9};

START_TEST(test_candidate_rate)
{
    double s = similarities[_i];
    const unsigned bands = 16, rows = 8, num_perm = 128;
    const size_t total = 200;
    size_t shared = (size_t)llround(s * (double)total);
    size_t own = (total - shared) / 2;
    double exact = (double)shared / (double)(shared + 2 * own);
    uint32_t a[200], b[200], sa[128], sb[128];
    uint64_t ka[16], kb[16];
    uint64_t state = 777 + (uint64_t)_i;
    const int pairs = 600;
    int hits = 0;
    for (int p = 0; p < pairs; p++) {
        while (!synth_pair(a, b, shared, own, &state)) {
        }
        nd_minhash(sa, num_perm, 42, a, shared + own);
        nd_minhash(sb, num_perm, 42, b, shared + own);
        nd_lsh_band_keys(ka, sa, bands, rows);
        nd_lsh_band_keys(kb, sb, bands, rows);
        int hit = 0;
        for (unsigned j = 0; j < bands; j++)
            hit |= ka[j] == kb[j];
        hits += hit;
    }
    double p = nd_lsh_probability(exact, bands, rows);
    double rate = (double)hits / pairs;
    double sigma = sqrt(p * (1 - p) / pairs);
    ck_assert_msg(fabs(rate - p) <= 4 * sigma + 0.02, "s=%.3f: candidate rate %.3f, formula %.3f", exact, rate, p);
}
END_TEST

typedef struct {
    double threshold;
    unsigned num_perm;
} choose_row;

static const choose_row choose_rows[] = {{0.5, 128}, {0.7, 128}, {0.8, 128}, {0.9, 128}, {0.8, 64}, {0.95, 256}};

START_TEST(test_choose)
{
    const choose_row *r = &choose_rows[_i];
    unsigned b = 0, rows = 0;
    ck_assert_int_eq(nd_lsh_choose(&b, &rows, r->threshold, r->num_perm), ND_OK);
    ck_assert_uint_ge(b, 1);
    ck_assert_uint_le(b * rows, r->num_perm);
    /* recall-oriented: documents at the threshold are caught most of the time */
    ck_assert_double_ge(nd_lsh_probability(r->threshold, b, rows), 0.85);
    /* and texts at half the threshold become candidates far less often
     * (the S-curve at 128 values is broad at low thresholds) */
    ck_assert_double_le(nd_lsh_probability(r->threshold * 0.5, b, rows), 0.35);
}
END_TEST

START_TEST(test_default_banding)
{
    unsigned b, r;
    ck_assert_int_eq(nd_lsh_choose(&b, &r, 0.8, 128), ND_OK);
    ck_assert_uint_eq(b, 16);
    ck_assert_uint_eq(r, 8);
    ck_assert_int_eq(nd_lsh_choose(&b, &r, 0.0, 128), ND_EINVAL);
    ck_assert_int_eq(nd_lsh_choose(&b, &r, 1.5, 128), ND_EINVAL);
    ck_assert_double_eq_tol(nd_lsh_probability(1.0, 16, 8), 1.0, 1e-12);
    ck_assert_double_eq_tol(nd_lsh_probability(0.0, 16, 8), 0.0, 1e-12);
}
END_TEST

/* The search with its lower bound picks what evaluating every (b, r) picks:
 * the rule of lsh.c, written out without the bound. */
static double reference_simpson(double lo, double hi, unsigned bands, unsigned rows, int complement)
{
    double h = (hi - lo) / 200;
    double sum = 0.0;
    for (int i = 0; i <= 200; i++) {
        double p = nd_lsh_probability(lo + h * i, bands, rows);
        sum += ((i == 0 || i == 200) ? 1.0 : (i % 2 ? 4.0 : 2.0)) * (complement ? 1.0 - p : p);
    }
    return sum * h / 3.0;
}

/* Thresholds in hundredths [from, to] by step, against num_perm values. */
typedef struct {
    unsigned num_perm;
    int from, to, step;
} exhaustive_row;

static const exhaustive_row exhaustive_rows[] = {
    {1, 2, 100, 7},  {2, 2, 100, 7},   {3, 2, 100, 7},   {7, 2, 100, 7},   {16, 2, 100, 7},
    {64, 2, 100, 7}, {100, 2, 100, 7}, {128, 2, 100, 7}, {128, 75, 99, 1}, {256, 50, 99, 7},
};

START_TEST(test_choose_as_exhaustive)
{
    const exhaustive_row *row = &exhaustive_rows[_i];
    const unsigned perms[] = {row->num_perm};
    for (size_t k = 0; k < sizeof perms / sizeof perms[0]; k++) {
        for (int ti = row->from; ti <= row->to; ti += row->step) {
            double t = ti / 100.0, best = 1e300;
            unsigned want_b = 1, want_r = perms[k];
            for (unsigned b = 1; b <= perms[k]; b++) {
                for (unsigned r = 1; r <= perms[k] / b; r++) {
                    double err = 0.05 * reference_simpson(0.0, t, b, r, 0) + 0.95 * reference_simpson(t, 1.0, b, r, 1);
                    if (err < best - 1e-12) {
                        best = err;
                        want_b = b;
                        want_r = r;
                    }
                }
            }
            unsigned b, r;
            ck_assert_int_eq(nd_lsh_choose(&b, &r, t, perms[k]), ND_OK);
            ck_assert_msg(b == want_b && r == want_r, "t %.2f, %u values: %u x %u, want %u x %u", t, perms[k], b, r,
                          want_b, want_r);
        }
    }
}
END_TEST

START_TEST(test_options_resolve)
{
    nd_options o = ND_OPTIONS_INIT;
    ck_assert_int_eq(nd_options_resolve(&o), ND_OK);
    ck_assert_uint_eq(o.bands * o.rows <= o.num_perm, 1);
    nd_options bad = ND_OPTIONS_INIT;
    bad.bands = 20;
    bad.rows = 10; /* 200 > 128 */
    ck_assert_int_eq(nd_options_resolve(&bad), ND_EINVAL);
    ck_assert_uint_eq(bad.bands, 20); /* unchanged */
    nd_options half = ND_OPTIONS_INIT;
    half.bands = 4; /* rows missing */
    ck_assert_int_eq(nd_options_resolve(&half), ND_EINVAL);
    nd_options t = ND_OPTIONS_INIT;
    t.threshold = 0;
    ck_assert_int_eq(nd_options_resolve(&t), ND_EINVAL);
    nd_options given = ND_OPTIONS_INIT;
    given.bands = 32;
    given.rows = 4;
    ck_assert_int_eq(nd_options_resolve(&given), ND_OK);
    ck_assert_uint_eq(given.bands, 32);
}
END_TEST

/* Band keys are nd_hash64 of each band's values seeded with the band's
 * number, however they are computed (eight bands at a time with AVX-512
 * where the CPU has it): random signatures, the rows of 8 of the usual
 * banding at band counts around multiples of eight, and other rows. */
/* Every implementation of the band keys (AVX-512, AVX2, scalar: _i is the
 * widest allowed) against the scalar XXH3 they must equal. */
START_TEST(test_band_keys)
{
    nd_minhash_set_simd(_i);
    const unsigned shapes[][2] = {{16, 8}, {8, 8},  {1, 8},  {4, 8},  {5, 8},  {7, 8},
                                  {9, 8},  {17, 8}, {24, 8}, {31, 8}, {64, 8}, {20, 5}};
    uint64_t state = 4242;
    for (unsigned s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        unsigned bands = shapes[s][0], rows = shapes[s][1];
        for (int round = 0; round < 200; round++) {
            uint32_t sig[512];
            uint64_t keys[64];
            for (unsigned i = 0; i < bands * rows; i++)
                sig[i] = (uint32_t)synth_next(&state);
            if (round % 4 == 0) /* values with the top bits set and all-ones bands */
                for (unsigned i = 0; i < bands * rows; i++)
                    sig[i] |= round % 8 == 0 ? 0xFFFFFFFFu : 0x80000000u;
            uint32_t folded[64];
            nd_lsh_band_keys(keys, sig, bands, rows);
            nd_lsh_band_keys_folded(folded, sig, bands, rows);
            for (unsigned j = 0; j < bands; j++) {
                uint64_t key = nd_hash64(sig + (size_t)j * rows, rows * sizeof *sig, j);
                ck_assert_msg(keys[j] == key, "simd %d, %u bands of %u rows, round %d: band %u differs", _i, bands,
                              rows, round, j);
                ck_assert_msg(folded[j] == (uint32_t)(key ^ (key >> 32)),
                              "simd %d, %u bands of %u rows, round %d: folded band %u differs", _i, bands, rows, round,
                              j);
            }
        }
    }
    nd_minhash_set_simd(ND_MINHASH_SIMD_AVX512);
}
END_TEST

Suite *lsh_suite(void)
{
    Suite *s = suite_create("lsh");
    TCase *tc = tcase_create("banding");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_candidate_rate, 0, (int)(sizeof similarities / sizeof similarities[0]));
    tcase_add_loop_test(tc, test_choose, 0, (int)(sizeof choose_rows / sizeof choose_rows[0]));
    tcase_add_test(tc, test_default_banding);
    tcase_add_loop_test(tc, test_band_keys, ND_MINHASH_SIMD_NONE, ND_MINHASH_SIMD_AVX512 + 1);
    tcase_add_loop_test(tc, test_choose_as_exhaustive, 0, (int)(sizeof exhaustive_rows / sizeof exhaustive_rows[0]));
    tcase_add_test(tc, test_options_resolve);
    suite_add_tcase(s, tc);
    return s;
}
