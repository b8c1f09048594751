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

#include "hash.h"

static inline uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

enum { MAX_PERM = 4096 };

void nd_minhash(uint32_t *sig, unsigned num_perm, uint64_t seed, const uint32_t *ids, size_t count)
{
    uint64_t salt = mix64(seed ^ 0x6f6e652d7065726dULL); /* "one-perm" */
    for (unsigned i = 0; i < num_perm; i++)
        sig[i] = UINT32_MAX;
    if (count == 0)
        return;
    unsigned char filled[MAX_PERM] = {0};
    unsigned filled_count = 0;
    uint32_t last_bin = 0;
    for (size_t k = 0; k < count; k++) {
        uint64_t h = mix64(ids[k] + salt);
        uint32_t bin = (uint32_t)(((h >> 32) * (uint64_t)num_perm) >> 32);
        uint32_t value = (uint32_t)h;
        if (value < sig[bin])
            sig[bin] = value;
        filled_count += !filled[bin];
        filled[bin] = 1;
        last_bin = bin;
    }
    if (filled_count == 1) {
        /* every probe would end at the one filled bin */
        for (unsigned i = 0; i < num_perm; i++)
            sig[i] = sig[last_bin];
        return;
    }
    /* optimal densification: empty bin i borrows from g(i, 1), g(i, 2), ... */
    for (unsigned i = 0; i < num_perm; i++) {
        if (filled[i])
            continue;
        for (uint64_t t = 1;; t++) {
            uint64_t g = mix64(salt ^ ((uint64_t)i << 32 | t));
            uint32_t j = (uint32_t)(((g >> 32) * (uint64_t)num_perm) >> 32);
            if (filled[j]) {
                sig[i] = sig[j];
                break;
            }
        }
    }
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
