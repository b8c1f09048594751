/* lsh.c - locality-sensitive hashing by banding, and the choice of bands.
 *
 * The signature of num_perm values is cut into b bands of r rows. Two texts
 * become a candidate pair when all r values of at least one band agree. For
 * texts of Jaccard s each value agrees with probability s, so
 *   P(candidate | s) = 1 - (1 - s^r)^b,
 * an S-curve whose steep part sits near (1/b)^(1/r).
 *
 * nd_lsh_choose() picks (b, r) with b r <= num_perm minimizing
 *   w_fp ∫_0^t P(s) ds + w_fn ∫_t^1 (1 - P(s)) ds
 * (as datasketch does), with w_fp = 0.05 and w_fn = 0.95: every candidate is
 * verified exactly, so a false positive costs a set merge while a false
 * negative is a duplicate lost. The integrals are computed with Simpson's
 * rule on 200 intervals. At t = 0.8 and 128 values this gives 16 x 8:
 * P(0.8) = 0.947, P(0.85) = 0.994, P(0.5) = 0.06. Most pairs are far from
 * the best and a cheap lower bound of their error rules them out, which
 * cuts the search (part of every run's start) from about 25 ms to 2.
 */
#include "neardup.h"

#include <assert.h> /* assert */
#include <math.h>   /* pow */

#include "hash.h"

double nd_lsh_probability(double s, unsigned bands, unsigned rows)
{
    return 1.0 - pow(1.0 - pow(s, (double)rows), (double)bands);
}

enum { INTERVALS = 200 };

static double simpson_weight(int i)
{
    return (i == 0 || i == INTERVALS) ? 1.0 : (i % 2 ? 4.0 : 2.0);
}

static double simpson(double lo, double hi, unsigned bands, unsigned rows, int complement)
{
    double h = (hi - lo) / INTERVALS;
    double sum = 0.0;
    for (int i = 0; i <= INTERVALS; i++) {
        double p = nd_lsh_probability(lo + h * i, bands, rows);
        double f = complement ? 1.0 - p : p;
        sum += simpson_weight(i) * f;
    }
    return sum * h / 3.0;
}

/* A lower bound of the weighted error of (bands, rows), from 20 values of P
 * instead of 402: P(s) is non-decreasing in s (so is its computed value:
 * pow and 1 - x are monotone), so over each tenth of the samples of [0, t]
 * the Simpson sum of P is at least P at the tenth's first sample times its
 * weights, and over each tenth of [t, 1] the sum of 1 - P at least 1 - P at
 * its last sample times its weights. */
static double error_floor(double t, unsigned bands, unsigned rows, double w_fp, double w_fn)
{
    enum { PARTS = 10, STEP = INTERVALS / PARTS };
    double h_below = t / INTERVALS, h_above = (1.0 - t) / INTERVALS;
    double lo = 0.0, hi = 0.0;
    for (int part = 0; part < PARTS; part++) {
        int first = part * STEP, last = part == PARTS - 1 ? INTERVALS : first + STEP - 1;
        double weights = 0.0;
        for (int i = first; i <= last; i++)
            weights += simpson_weight(i);
        lo += weights * nd_lsh_probability(h_below * first, bands, rows);
        hi += weights * (1.0 - nd_lsh_probability(t + h_above * last, bands, rows));
    }
    return w_fp * lo * h_below / 3.0 + w_fn * hi * h_above / 3.0;
}

int nd_lsh_choose(unsigned *bands, unsigned *rows, double threshold, unsigned num_perm)
{
    if (num_perm == 0 || !(threshold > 0.0 && threshold <= 1.0))
        return ND_EINVAL;
    const double w_fp = 0.05, w_fn = 0.95;
    /* a good guess first, only to bound the search: the banding using all
     * values whose S-curve's steep part, near (1/b)^(1/r), is nearest the
     * threshold */
    unsigned guess_r = 1;
    double guess_gap = INFINITY;
    for (unsigned r = 1; r <= num_perm; r++) {
        double gap = fabs(pow(1.0 / (num_perm / r), 1.0 / r) - threshold);
        if (gap < guess_gap) {
            guess_gap = gap;
            guess_r = r;
        }
    }
    unsigned guess_b = num_perm / guess_r;
    double bound =
        w_fp * simpson(0.0, threshold, guess_b, guess_r, 0) + w_fn * simpson(threshold, 1.0, guess_b, guess_r, 1);
    double best = INFINITY;
    unsigned best_b = 1, best_r = num_perm;
    for (unsigned b = 1; b <= num_perm; b++) {
        for (unsigned r = 1; r <= num_perm / b; r++) {
            /* a pair whose error is surely above the best so far, or above
             * the guess's, is not the one chosen (nor is any pair it would
             * have displaced): skip its 402 evaluations. The choice is the
             * same as evaluating every pair (tests/test_lsh.c checks). */
            double beat = best < bound ? best : bound;
            if (error_floor(threshold, b, r, w_fp, w_fn) > beat * (1.0 + 1e-9) + 1e-10)
                continue;
            double err = w_fp * simpson(0.0, threshold, b, r, 0) + w_fn * simpson(threshold, 1.0, b, r, 1);
            if (err < best - 1e-12) {
                best = err;
                best_b = b;
                best_r = r;
            }
        }
    }
    *bands = best_b;
    *rows = best_r;
    return ND_OK;
}

void nd_lsh_band_keys(uint64_t *keys, const uint32_t *sig, unsigned bands, unsigned rows)
{
    assert(bands >= 1 && rows >= 1 && keys && sig);
    if (rows == 8) {
        /* the usual banding (16 x 8 at the default threshold): a length
         * known at compile time lets XXH3 drop its dispatch on length */
        for (unsigned j = 0; j < bands; j++)
            keys[j] = nd_hash64(sig + (size_t)j * 8, 8 * sizeof *sig, j);
        return;
    }
    for (unsigned j = 0; j < bands; j++)
        keys[j] = nd_hash64(sig + (size_t)j * rows, rows * sizeof *sig, j);
}
