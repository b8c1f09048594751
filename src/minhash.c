/* minhash.c - MinHash signatures and exact Jaccard.
 *
 * MinHash (Broder 1997): for a random permutation h of the id universe,
 * Pr[min h(A) = min h(B)] = |A ∩ B| / |A ∪ B| = J(A, B). With num_perm
 * independent hash functions the fraction of equal minima is an unbiased
 * estimate of J with variance J (1 - J) / num_perm.
 *
 * The hash functions are Dietzfelbinger's multiply-add-shift family on
 * 32-bit keys: h_i(x) = ((a_i x + b_i) mod 2^64) >> 32 with a_i odd and b_i
 * random 64-bit numbers. The family is 2-universal and close to
 * min-wise independent for ids that are themselves hash outputs; the
 * estimate's accuracy is checked against the 4-sigma bound in
 * tests/test_minhash.c. The inner loop runs over the num_perm functions for
 * one id, a fixed-length loop of multiplies and minima that the compiler
 * vectorizes; the kernel is built twice (target_clones), for AVX2 and for
 * the baseline, and the loader picks the one the CPU runs. Both compute the
 * same integers, so signatures do not depend on the machine. a_i and b_i come from splitmix64 seeded with the user's seed,
 * so signatures are identical on every machine.
 */
#include "neardup.h"

#include "hash.h"

enum { CHUNK = 64 };

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__)
#define ND_MULTIVERSION __attribute__((target_clones("avx2", "default")))
#else
#define ND_MULTIVERSION
#endif

/* mins[i] = min(mins[i], min over ids of h_i(id)) for CHUNK functions. */
ND_MULTIVERSION
static void minhash_chunk(uint32_t *restrict mins, const uint64_t *restrict a, const uint64_t *restrict b,
                          const uint32_t *restrict ids, size_t count)
{
    for (size_t k = 0; k < count; k++) {
        uint64_t x = ids[k];
        for (unsigned i = 0; i < CHUNK; i++) {
            uint32_t v = (uint32_t)((a[i] * x + b[i]) >> 32);
            mins[i] = v < mins[i] ? v : mins[i];
        }
    }
}

void nd_minhash(uint32_t *sig, unsigned num_perm, uint64_t seed, const uint32_t *ids, size_t count)
{
    uint64_t a[CHUNK], b[CHUNK];
    uint64_t state = seed;
    for (unsigned base = 0; base < num_perm; base += CHUNK) {
        unsigned width = num_perm - base < CHUNK ? num_perm - base : CHUNK;
        for (unsigned i = 0; i < width; i++) {
            a[i] = nd_splitmix64(&state) | 1u;
            b[i] = nd_splitmix64(&state);
        }
        uint32_t mins[CHUNK];
        for (unsigned i = 0; i < CHUNK; i++)
            mins[i] = UINT32_MAX;
        minhash_chunk(mins, a, b, ids, count);
        for (unsigned i = 0; i < width; i++)
            sig[base + i] = mins[i];
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
