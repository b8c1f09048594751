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
 * P(0.8) = 0.947, P(0.85) = 0.994, P(0.5) = 0.06.
 */
#include "neardup.h"

#include <assert.h> /* assert */
#include <math.h>   /* pow */

#include "hash.h"

double nd_lsh_probability(double s, unsigned bands, unsigned rows)
{
    return 1.0 - pow(1.0 - pow(s, (double)rows), (double)bands);
}

static double simpson(double lo, double hi, unsigned bands, unsigned rows, int complement)
{
    enum { INTERVALS = 200 };
    double h = (hi - lo) / INTERVALS;
    double sum = 0.0;
    for (int i = 0; i <= INTERVALS; i++) {
        double p = nd_lsh_probability(lo + h * i, bands, rows);
        double f = complement ? 1.0 - p : p;
        double weight = (i == 0 || i == INTERVALS) ? 1.0 : (i % 2 ? 4.0 : 2.0);
        sum += weight * f;
    }
    return sum * h / 3.0;
}

int nd_lsh_choose(unsigned *bands, unsigned *rows, double threshold, unsigned num_perm)
{
    if (num_perm == 0 || !(threshold > 0.0 && threshold <= 1.0))
        return ND_EINVAL;
    const double w_fp = 0.05, w_fn = 0.95;
    double best = INFINITY;
    unsigned best_b = 1, best_r = num_perm;
    for (unsigned b = 1; b <= num_perm; b++) {
        for (unsigned r = 1; r <= num_perm / b; r++) {
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
    for (unsigned j = 0; j < bands; j++)
        keys[j] = nd_hash64(sig + (size_t)j * rows, rows * sizeof *sig, j);
}
