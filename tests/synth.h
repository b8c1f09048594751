/* synth.h - synthetic id sets of known Jaccard for the MinHash and LSH
 * tests: A and B share `shared` ids and each has `own` ids of its own, so
 * J = shared / (shared + 2 own). Ids come from a splitmix64 stream, which
 * makes them distinct with overwhelming probability (checked). */
#ifndef ND_TEST_SYNTH_H
#define ND_TEST_SYNTH_H

#include <stdint.h>
#include <stdlib.h>

static inline uint64_t synth_next(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static inline int synth_cmp(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* Sort set[0..n) and drop repeats, in place: a text's ids as the library
 * keeps them. Returns how many are left. */
static inline size_t synth_sorted_distinct(uint32_t *set, size_t n)
{
    qsort(set, n, sizeof *set, synth_cmp);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (k == 0 || set[i] != set[k - 1])
            set[k++] = set[i];
    }
    return k;
}

/* Fill a[0..shared+own) and b[0..shared+own), both sorted. Returns 0 if
 * some id repeated (caller should use another state). */
static inline int synth_pair(uint32_t *a, uint32_t *b, size_t shared, size_t own, uint64_t *state)
{
    size_t n = shared + own;
    for (size_t i = 0; i < shared; i++)
        a[i] = b[i] = (uint32_t)synth_next(state);
    for (size_t i = 0; i < own; i++) {
        a[shared + i] = (uint32_t)synth_next(state);
        b[shared + i] = (uint32_t)synth_next(state);
    }
    qsort(a, n, sizeof *a, synth_cmp);
    qsort(b, n, sizeof *b, synth_cmp);
    for (size_t i = 1; i < n; i++) {
        if (a[i] == a[i - 1] || b[i] == b[i - 1])
            return 0;
    }
    return 1;
}

#endif
