/* minhash.c - MinHash signatures (one permutation, densified) and exact Jaccard.
 *
 * MinHash (Broder 1997): for a random permutation h of the id universe,
 * Pr[min h(A) = min h(B)] = |A ∩ B| / |A ∪ B| = J(A, B); k such values
 * estimate J with variance J (1 - J) / k.
 *
 * Computing k independent minima costs k hash evaluations per shingle.
 * One-permutation hashing (Li, Owen, Zhang 2012) evaluates one hash per
 * shingle: its high bits choose one of k bins, its low bits are the value,
 * and each bin keeps its minimum. For two sets, bin i agrees with
 * probability J when at least one of them has an element in bin i. Bins
 * that a set leaves empty are filled by optimal densification (Shrivastava,
 * ICML 2017): empty bin i takes the value of bin j = g(i, t) for
 * t = 1, 2, ... until j is a bin that was not empty, g being a fixed
 * seeded hash; because g is the same for every set, two sets that both
 * left bin i empty borrow from the same bins, and the estimator stays
 * unbiased with variance close to k independent permutations (checked by
 * the 4-sigma test in tests/test_minhash.c, and the LSH candidate-rate test
 * in tests/test_lsh.c).
 *
 * The shingle hash is the splitmix64 finalizer of id + seed: a bijection of
 * 64-bit words with full avalanche, so bins and values are independent
 * functions of the id. Everything is integer arithmetic: signatures are the
 * same on every machine.
 */
#include "neardup.h"

#include <assert.h> /* assert */
#include <string.h> /* memset */

#include "alloc.h"
#include "hash.h"
#include "minhash.h"

enum { MAX_PERM = ND_MAX_PERM };

/* g(i, t): the t-th bin (t >= 1) that empty bin i tries to borrow from. */
static inline uint32_t probe(uint64_t salt, unsigned i, uint64_t t, unsigned num_perm)
{
    uint64_t g = nd_mix64(salt ^ ((uint64_t)i << 32 | t));
    return (uint32_t)(((g >> 32) * (uint64_t)num_perm) >> 32);
}

static uint64_t salt_of(uint64_t seed)
{
    return nd_mix64(seed ^ 0x6f6e652d7065726dULL); /* "one-perm" */
}

uint16_t *nd_minhash_probe_table(unsigned num_perm, uint64_t seed)
{
    if (num_perm == 0 || num_perm > MAX_PERM)
        return NULL;
    uint16_t *table = nd_malloc((size_t)num_perm * ND_PROBES_PER_BIN * sizeof *table);
    if (!table)
        return NULL;
    uint64_t salt = salt_of(seed);
    for (unsigned i = 0; i < num_perm; i++) {
        for (unsigned t = 1; t <= ND_PROBES_PER_BIN; t++)
            table[(size_t)i * ND_PROBES_PER_BIN + t - 1] = (uint16_t)probe(salt, i, t, num_perm);
    }
    return table;
}

void nd_minhash_probed(uint32_t *sig, unsigned num_perm, uint64_t seed, const uint32_t *ids, size_t count,
                       const uint16_t *probes)
{
    assert(num_perm >= 1 && num_perm <= MAX_PERM); /* `filled` below holds MAX_PERM bins */
    uint64_t salt = salt_of(seed);
    for (unsigned i = 0; i < num_perm; i++)
        sig[i] = UINT32_MAX;
    if (count == 0)
        return;
    unsigned char filled[MAX_PERM];
    memset(filled, 0, num_perm);
    uint32_t last_bin = 0;
    for (size_t k = 0; k < count; k++) {
        uint64_t h = nd_mix64(ids[k] + salt);
        uint32_t bin = (uint32_t)(((h >> 32) * (uint64_t)num_perm) >> 32);
        uint32_t value = (uint32_t)h;
        /* branch-free: whether a value lowers its bin is a coin flip early
         * on, and a mispredicted branch cost more than the hashing */
        uint32_t current = sig[bin];
        sig[bin] = value < current ? value : current;
        filled[bin] = 1;
        last_bin = bin;
    }
    unsigned filled_count = 0;
    for (unsigned i = 0; i < num_perm; i++)
        filled_count += filled[i];
    if (filled_count == 1) {
        /* every probe would end at the one filled bin */
        for (unsigned i = 0; i < num_perm; i++)
            sig[i] = sig[last_bin];
        return;
    }
    if (filled_count == num_perm)
        return;
    /* optimal densification: empty bin i borrows from g(i, 1), g(i, 2), ...
     * (the first ND_PROBES_PER_BIN from the table when there is one) */
    for (unsigned i = 0; i < num_perm; i++) {
        if (filled[i])
            continue;
        uint64_t t = 1;
        if (probes) {
            /* the cached probes, eight at a time: one predictable branch per
             * group instead of one unpredictable branch per probe */
            const uint16_t *row = probes + (size_t)i * ND_PROBES_PER_BIN;
            int found = 0;
            for (unsigned g = 0; g < ND_PROBES_PER_BIN && !found; g += 8) {
                unsigned mask = 0;
                for (unsigned k = 0; k < 8; k++)
                    mask |= (unsigned)filled[row[g + k]] << k;
                if (mask) {
                    sig[i] = sig[row[g + (unsigned)__builtin_ctz(mask)]];
                    found = 1;
                }
            }
            if (found)
                continue;
            t = ND_PROBES_PER_BIN + 1;
        }
        for (;; t++) {
            uint32_t j = probe(salt, i, t, num_perm);
            if (filled[j]) {
                sig[i] = sig[j];
                break;
            }
        }
    }
}

void nd_minhash(uint32_t *sig, unsigned num_perm, uint64_t seed, const uint32_t *ids, size_t count)
{
    nd_minhash_probed(sig, num_perm, seed, ids, count, NULL);
}

double nd_signature_similarity(const uint32_t *a, const uint32_t *b, unsigned num_perm)
{
    if (num_perm == 0)
        return 0.0;
    unsigned equal = 0;
    for (unsigned i = 0; i < num_perm; i++)
        equal += a[i] == b[i];
    return (double)equal / (double)num_perm;
}

size_t nd_intersection(const uint32_t *a, size_t na, const uint32_t *b, size_t nb)
{
    size_t i = 0, j = 0, shared = 0;
    while (i < na && j < nb) {
        if (a[i] < b[j]) {
            i++;
        } else if (a[i] > b[j]) {
            j++;
        } else {
            shared++;
            i++;
            j++;
        }
    }
    return shared;
}

double nd_jaccard(const uint32_t *a, size_t na, const uint32_t *b, size_t nb)
{
    if (na == 0 || nb == 0)
        return 0.0;
    size_t shared = nd_intersection(a, na, b, nb);
    return (double)shared / (double)(na + nb - shared);
}
