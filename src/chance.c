/* chance.c - how likely an overlap of shingle sets is by chance: Mash's
 * p-value (Ondov et al., "Mash: fast genome and metagenome distance
 * estimation using MinHash", Genome Biology 2016), adapted from k-mer
 * sketches to whole shingle sets.
 *
 * Mash's model: a random sequence of g k-mers over an alphabet Σ holds a
 * given k-mer with probability r = 1 - (1 - 1/|Σ|^k)^g. Two random
 * sequences then have expected Jaccard j = r_A r_B / (r_A + r_B - r_A r_B),
 * and the number of shared values among s sketch values is
 * Binomial(s, j); the p-value of x shared values is P(X >= x).
 *
 * For shingle sets the "sketch" is the whole union (neardup compares
 * exact sets), so for the Jaccard of sets of na and nb shingles with
 * x shared:  P(Binomial(na + nb - x, j) >= x),  the space |Σ|^k being the
 * number of possible shingles (the caller's estimate, e.g. the distinct
 * words of the two texts to the power k, at most 2^32 shingle ids).
 * For the containment of A in B the question is how many of A's na
 * shingles a random B holds: each one with probability r_B, so
 * P(Binomial(na, r_B) >= x).
 *
 * The model is uniform random text; real text repeats stock phrases
 * ("the minister said in a statement"), so these probabilities are lower
 * bounds on the real chance of a match, tiny as soon as a few 5-word
 * shingles are shared. That is why a containment match also needs the
 * contained text to hold --min-shingles shingles.
 *
 * The binomial tail is summed in log space from its largest term, so
 * probabilities far below the smallest double (1e-308) still get a
 * log10.
 */
#include "neardup.h"

#include <math.h> /* lgamma, log, log1p, exp, expm1, INFINITY */

/* ln P(X = i) for X ~ Binomial(n, p), 0 < p < 1. */
static double log_pmf(double n, double i, double p)
{
    return lgamma(n + 1) - lgamma(i + 1) - lgamma(n - i + 1) + i * log(p) + (n - i) * log1p(-p);
}

/* ln P(X >= x) for X ~ Binomial(n, p). */
static double log_upper_tail(size_t n, size_t x, double p)
{
    if (x == 0 || p >= 1.0)
        return 0.0;
    if (x > n || p <= 0.0)
        return -INFINITY;
    double dn = (double)n, odds = p / (1.0 - p);
    if ((double)x > dn * p) {
        /* terms fall from i = x on: sum them relative to the first */
        double first = log_pmf(dn, (double)x, p), sum = 1.0, term = 1.0;
        for (size_t i = x; i < n; i++) {
            term *= (dn - (double)i) / ((double)i + 1.0) * odds;
            sum += term;
            if (term < sum * 1e-17)
                break;
        }
        return first + log(sum);
    }
    /* x at or below the mean: 1 - P(X <= x - 1), terms falling from x - 1 down */
    double top = log_pmf(dn, (double)(x - 1), p), sum = 1.0, term = 1.0;
    for (size_t i = x - 1; i > 0; i--) {
        term *= (double)i / (dn - (double)i + 1.0) / odds;
        sum += term;
        if (term < sum * 1e-17)
            break;
    }
    double lower = exp(top + log(sum)); /* at most a half: x - 1 is below the median */
    return log1p(-(lower < 0.999 ? lower : 0.999));
}

/* Share of the space of shingles a random set of n shingles covers. */
static double coverage(size_t n, double space)
{
    return space <= 1.0 ? 1.0 : -expm1((double)n * log1p(-1.0 / space));
}

double nd_chance_jaccard_log10(size_t na, size_t nb, size_t shared, double space)
{
    double ra = coverage(na, space), rb = coverage(nb, space);
    double denominator = ra + rb - ra * rb;
    double j = denominator > 0 ? ra * rb / denominator : 0.0;
    return log_upper_tail(na + nb - shared, shared, j) / log(10.0);
}

double nd_chance_containment_log10(size_t na, size_t nb, size_t shared, double space)
{
    return log_upper_tail(na, shared, coverage(nb, space)) / log(10.0);
}
