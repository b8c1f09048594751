/* test_minhash.c - MinHash estimates, exact Jaccard, golden signatures.
 *
 * The estimate of J from 128 values has standard deviation
 * sigma = sqrt(J (1 - J) / 128); on synthetic sets of known J, for 20 seeds
 * each, every estimate must be within 4 sigma and their mean within
 * 4 sigma / sqrt(20) (which catches a biased hash family). */
#include <math.h>   /* sqrt, fabs */
#include <stdlib.h> /* free */
#include <string.h> /* strlen */

#include "neardup.h"
#include "suites.h"
#include "synth.h"
#include "alloc.h"
#include "minhash.h"
#include "vectors.h"

static const double known_j[] = {0.1, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95};

START_TEST(test_estimate_within_4_sigma)
{
    double j = known_j[_i];
    const unsigned num_perm = 128;
    const size_t total = 400; /* |A ∪ B| */
    size_t shared = (size_t)llround(j * (double)total);
    size_t own = (total - shared) / 2;
    double exact = (double)shared / (double)(shared + 2 * own);
    uint32_t a[400], b[400], sa[128], sb[128];
    double sigma = sqrt(exact * (1 - exact) / num_perm);
    double sum = 0;
    const int seeds = 20;
    uint64_t state = 12345 + (uint64_t)_i;
    for (int s = 0; s < seeds; s++) {
        while (!synth_pair(a, b, shared, own, &state)) {
        }
        ck_assert_double_eq_tol(nd_jaccard(a, shared + own, b, shared + own), exact, 1e-12);
        nd_minhash(sa, num_perm, (uint64_t)s, a, shared + own);
        nd_minhash(sb, num_perm, (uint64_t)s, b, shared + own);
        double est = nd_signature_similarity(sa, sb, num_perm);
        ck_assert_msg(fabs(est - exact) <= 4 * sigma, "J=%.3f seed %d: estimate %.3f outside 4 sigma (%.3f)", exact, s,
                      est, 4 * sigma);
        sum += est;
    }
    double mean = sum / seeds;
    ck_assert_msg(fabs(mean - exact) <= 4 * sigma / sqrt(seeds), "J=%.3f: mean estimate %.4f is biased", exact, mean);
}
END_TEST

START_TEST(test_identity_and_seed)
{
    uint32_t ids[] = {3, 17, 99, 1000, 123456};
    uint32_t s1[64], s2[64], s3[64];
    nd_minhash(s1, 64, 7, ids, 5);
    nd_minhash(s2, 64, 7, ids, 5);
    nd_minhash(s3, 64, 8, ids, 5);
    ck_assert_double_eq(nd_signature_similarity(s1, s2, 64), 1.0);
    ck_assert_double_lt(nd_signature_similarity(s1, s3, 64), 0.5); /* the seed changes the functions */
    nd_minhash(s1, 64, 7, NULL, 0);
    for (int i = 0; i < 64; i++)
        ck_assert_uint_eq(s1[i], UINT32_MAX);
}
END_TEST

typedef struct {
    uint32_t a[6];
    size_t na;
    uint32_t b[6];
    size_t nb;
    double jaccard;
} jaccard_row;

static const jaccard_row jaccard_rows[] = {
    {{1, 2, 3}, 3, {1, 2, 3}, 3, 1.0},
    {{1, 2, 3}, 3, {4, 5, 6}, 3, 0.0},
    {{1, 2, 3, 4}, 4, {3, 4, 5, 6}, 4, 2.0 / 6.0},
    {{1}, 1, {1, 2, 3, 4, 5}, 5, 0.2},
    {{0}, 0, {0}, 0, 0.0}, /* two empty sets never match */
    {{1, 2}, 2, {0}, 0, 0.0},
};

START_TEST(test_jaccard_table)
{
    const jaccard_row *r = &jaccard_rows[_i];
    ck_assert_double_eq_tol(nd_jaccard(r->a, r->na, r->b, r->nb), r->jaccard, 1e-12);
    ck_assert_double_eq_tol(nd_jaccard(r->b, r->nb, r->a, r->na), r->jaccard, 1e-12);
}
END_TEST

/* Golden signatures (tests/vectors.h, written by scripts/gen-vectors): a
 * change to normalization, shingling or hashing shows up here. */
START_TEST(test_golden_vectors)
{
    const golden_vector *v = &golden_vectors[_i];
    nd_options opts = ND_OPTIONS_INIT;
    opts.seed = GOLDEN_SEED;
    ck_assert_int_eq(nd_options_resolve(&opts), ND_OK);
    nd_sketcher *sk = NULL;
    ck_assert_int_eq(nd_sketcher_new(&sk, &opts), ND_OK);
    nd_sketch sketch = ND_SKETCH_INIT;
    ck_assert_int_eq(nd_sketch_text(&sketch, sk, v->text, strlen(v->text)), ND_OK);
    ck_assert_uint_eq(sketch.count, v->shingles);
    for (unsigned i = 0; i < GOLDEN_VALUES; i++)
        ck_assert_msg(sketch.signature[i] == v->signature[i], "vector %d value %u: %u != %u", _i, i,
                      sketch.signature[i], v->signature[i]);
    nd_sketch_clear(&sketch);
    nd_sketcher_free(sk);
}
END_TEST

/* The cached tables change nothing: for sets of every size from one id to
 * more than the bins (densified by rank when at most a quarter of the bins
 * are filled, by the cached probes and then by hand above that; the
 * signature lengths past ND_RANKS_MAX_PERM have no rank table) the
 * signature equals the one computed without tables (at 128 bins with AVX2
 * by rank up to half the bins). Run once per vector width the rank
 * densification may use (_i: none, AVX2, AVX-512; each where the CPU has
 * it, else the next narrower). */
START_TEST(test_tables_same_signature)
{
    nd_minhash_set_simd(_i);
    const unsigned perms[] = {128, 64, 256, 1, 2, 7, 300};
    for (unsigned p = 0; p < sizeof perms / sizeof perms[0]; p++) {
        unsigned num_perm = perms[p];
        for (uint64_t seed = 1; seed <= 3; seed++) {
            nd_minhash_tables tables = ND_MINHASH_TABLES_INIT;
            ck_assert_int_eq(nd_minhash_tables_new(&tables, num_perm, seed), ND_OK);
            ck_assert(num_perm > ND_RANKS_MAX_PERM || tables.ranks != NULL);
            uint64_t state = seed * 1000;
            for (size_t n = 1; n <= 400; n += 1 + n / 8) {
                uint32_t ids[400], a[300], b[300];
                for (size_t k = 0; k < n; k++)
                    ids[k] = (uint32_t)synth_next(&state);
                nd_minhash(a, num_perm, seed, ids, n);
                nd_minhash_probed(b, num_perm, seed, ids, n, &tables);
                for (unsigned i = 0; i < num_perm; i++)
                    ck_assert_msg(a[i] == b[i], "%u values, seed %llu, %zu ids: bin %u differs", num_perm,
                                  (unsigned long long)seed, n, i);
            }
            /* many sets of two to four ids: some empty bin then has no
             * filled bin among its first 510 probes (about 4% of the sets
             * of two at 128 bins), the case the rank table leaves to probing */
            for (unsigned r = 0; tables.ranks && r < 240; r++) {
                uint32_t ids[4], a[300], b[300];
                size_t n = 2 + r % 3;
                for (size_t k = 0; k < n; k++)
                    ids[k] = (uint32_t)synth_next(&state);
                nd_minhash(a, num_perm, seed, ids, n);
                nd_minhash_probed(b, num_perm, seed, ids, n, &tables);
                for (unsigned i = 0; i < num_perm; i++)
                    ck_assert_msg(a[i] == b[i], "%u values, seed %llu, %zu ids (set %u): bin %u differs", num_perm,
                                  (unsigned long long)seed, n, r, i);
            }
            nd_minhash_tables_free(&tables);
        }
    }
    ck_assert_int_eq(nd_minhash_tables_new(&(nd_minhash_tables)ND_MINHASH_TABLES_INIT, 0, 1), ND_EINVAL);
    nd_minhash_set_simd(ND_MINHASH_SIMD_AVX512);
}
END_TEST

/* The bins are filled with nd_mix64 one id at a time, four at a time
 * (AVX2) or eight (AVX-512): each width the CPU has gives the signature
 * the scalar loop gives, for sets of 1 to 400 ids (every remainder of
 * four and eight; a few of one id repeated, whose one bin is copied to
 * all) at several signature lengths. */
START_TEST(test_fill_bins_simd)
{
    const unsigned perms[] = {128, 64, 7, 300};
    uint64_t state = 77;
    size_t compared = 0;
    for (unsigned p = 0; p < sizeof perms / sizeof perms[0]; p++) {
        for (size_t n = 1; n <= 400; n += 1 + n / 16) {
            uint32_t ids[400], want[300], got[300];
            for (size_t k = 0; k < n; k++)
                ids[k] = (uint32_t)synth_next(&state);
            if (n % 8 == 0 && n < 40) {
                for (size_t k = 1; k < n; k++)
                    ids[k] = ids[0]; /* one filled bin: the last id's bin fills the others */
            }
            nd_minhash_set_simd(ND_MINHASH_SIMD_NONE);
            nd_minhash(want, perms[p], 5, ids, n);
            for (int simd = ND_MINHASH_SIMD_AVX2; simd <= ND_MINHASH_SIMD_AVX512; simd++) {
                nd_minhash_set_simd(simd);
                nd_minhash(got, perms[p], 5, ids, n);
                for (unsigned i = 0; i < perms[p]; i++)
                    ck_assert_msg(got[i] == want[i], "%u bins, %zu ids, simd %d: bin %u differs", perms[p], n, simd, i);
                compared++;
            }
        }
    }
    ck_assert_uint_gt(compared, 300);
    nd_minhash_set_simd(ND_MINHASH_SIMD_AVX512);
}
END_TEST

/* The inverse of nd_mix64 (hash.h): each xorshift undone by shifting
 * again, each odd multiplier by its inverse mod 2^64 (Newton's iteration). */
static uint64_t inverse_odd(uint64_t a)
{
    uint64_t x = a;
    for (int i = 0; i < 6; i++)
        x *= 2 - a * x;
    return x;
}

static uint64_t unmix64(uint64_t z)
{
    z ^= z >> 31 ^ z >> 62;
    z *= inverse_odd(0x94d049bb133111ebULL);
    z ^= z >> 27 ^ z >> 54;
    z *= inverse_odd(0xbf58476d1ce4e5b9ULL);
    return z ^ z >> 30 ^ z >> 60;
}

/* An id whose value is UINT32_MAX itself (one in 2^32; the AVX-512 bins
 * tell a filled bin by a value below it, and mark such an id's bin by
 * hand): a seed made for it (minhash.c: an id's value is the low half of
 * nd_mix64(id + salt), salt = nd_mix64(seed ^ "one-perm")), in sets of 1
 * to 40 ids, gives every SIMD width the scalar loop's signature. */
START_TEST(test_fill_bins_value_max)
{
    const unsigned perms[] = {128, 100, 7};
    const uint32_t id = 12345;
    uint64_t state = 91;
    size_t compared = 0;
    for (unsigned p = 0; p < sizeof perms / sizeof perms[0]; p++) {
        for (uint64_t high = 1; high < 6; high++) {
            uint64_t salt = unmix64(high * 0x2545F4914F6CDD1DULL << 32 | 0xFFFFFFFFu) - id;
            uint64_t seed = unmix64(salt) ^ 0x6f6e652d7065726dULL;
            uint32_t ids[41], want[128], got[128];
            ids[0] = id;
            nd_minhash_set_simd(ND_MINHASH_SIMD_NONE);
            nd_minhash(want, perms[p], seed, ids, 1);
            ck_assert_msg(want[0] == UINT32_MAX && want[perms[p] - 1] == UINT32_MAX,
                          "the seed does not give the id the value UINT32_MAX (salt formula changed?)");
            for (size_t n = 1; n <= 40; n += 1 + n / 8) {
                for (size_t k = 1; k < n; k++)
                    ids[k] = (uint32_t)synth_next(&state);
                size_t at = n > 1 ? (size_t)(synth_next(&state) % n) : 0;
                ids[0] = ids[at];
                ids[at] = id; /* anywhere in the set */
                nd_minhash_set_simd(ND_MINHASH_SIMD_NONE);
                nd_minhash(want, perms[p], seed, ids, n);
                for (int simd = ND_MINHASH_SIMD_AVX2; simd <= ND_MINHASH_SIMD_AVX512; simd++) {
                    nd_minhash_set_simd(simd);
                    nd_minhash(got, perms[p], seed, ids, n);
                    for (unsigned i = 0; i < perms[p]; i++)
                        ck_assert_msg(got[i] == want[i], "%u bins, %zu ids, simd %d: bin %u differs", perms[p], n, simd,
                                      i);
                    compared++;
                }
                ids[at] = ids[0];
                ids[0] = id;
            }
        }
    }
    ck_assert_uint_gt(compared, 100);
    nd_minhash_set_simd(ND_MINHASH_SIMD_AVX512);
}
END_TEST

/* nd_intersection against a count by brute force, merged one id at a
 * time and sixteen against sixteen (AVX-512, where the CPU has it): sets
 * of 0 to 1000 ids (every remainder of sixteen near the edges), sharing
 * none, some or all of their ids, the shared ones at the start, spread
 * through or at the end, or one set's ids all above the other's; the
 * shared ids at every distance between their places in a and b (blocks
 * ending on the same id, or straddling each other). */
START_TEST(test_intersection_simd)
{
    static const size_t sizes[] = {0, 1, 15, 16, 17, 31, 32, 33, 47, 48, 100, 290, 301, 1000};
    static const size_t offsets[] = {0, 7, 16};
    enum { MOST = 1000, KINDS = 6 };
    static uint32_t a[MOST], b[MOST];
    uint64_t state = 99;
    size_t compared = 0;
    for (size_t sa = 0; sa < sizeof sizes / sizeof sizes[0]; sa++) {
        for (size_t sb = 0; sb < sizeof sizes / sizeof sizes[0]; sb++) {
            for (unsigned t = 0; t < KINDS * sizeof offsets / sizeof offsets[0]; t++) {
                size_t na = sizes[sa], nb = sizes[sb], off = offsets[t / KINDS];
                unsigned kind = t % KINDS;
                /* a: ids 4k + 1; b: from the id of a off places on
                 * (4 (m + off) + 1, m = 0, 1, ...), where the kind
                 * takes it, and ids of its own (+ 2) between them now
                 * and then, which move the shared ids to every place
                 * of b's blocks against a's; kind 5: a above every id
                 * of b */
                for (size_t k = 0; k < na; k++)
                    a[k] = (uint32_t)(4 * k + 1 + (kind == 5 ? 8 * MOST : 0));
                for (size_t k = 0, m = off; k < nb; m++) {
                    uint64_t r = synth_next(&state);
                    int take = kind == 1 || kind == 5 || (kind == 2 && r % 3 == 0) || (kind == 3 && k < nb / 2) ||
                               (kind == 4 && k >= nb / 2);
                    if (take)
                        b[k++] = (uint32_t)(4 * m + 1);
                    if (k < nb && (!take || (r >> 8) % 4 == 0))
                        b[k++] = (uint32_t)(4 * m + 2);
                }
                size_t want = 0;
                for (size_t i = 0; i < na; i++) {
                    for (size_t j = 0; j < nb; j++)
                        want += a[i] == b[j];
                }
                for (int simd = ND_MINHASH_SIMD_NONE; simd <= ND_MINHASH_SIMD_AVX512; simd++) {
                    nd_minhash_set_simd(simd);
                    size_t ab = nd_intersection(a, na, b, nb), ba = nd_intersection(b, nb, a, na);
                    ck_assert_msg(ab == want && ba == want,
                                  "na %zu nb %zu kind %u off %zu simd %d: %zu / %zu, want %zu", na, nb, kind, off, simd,
                                  ab, ba, want);
                    compared++;
                }
            }
        }
    }
    ck_assert_uint_gt(compared, 1000);
    nd_minhash_set_simd(ND_MINHASH_SIMD_AVX512);
}
END_TEST

Suite *minhash_suite(void)
{
    Suite *s = suite_create("minhash");
    TCase *tc = tcase_create("estimates");
    tcase_set_timeout(tc, 60); /* sanitized builds on a loaded machine */
    tcase_add_loop_test(tc, test_estimate_within_4_sigma, 0, (int)(sizeof known_j / sizeof known_j[0]));
    tcase_add_test(tc, test_identity_and_seed);
    tcase_add_test(tc, test_fill_bins_simd);
    tcase_add_test(tc, test_fill_bins_value_max);
    tcase_add_test(tc, test_intersection_simd);
    tcase_add_loop_test(tc, test_tables_same_signature, ND_MINHASH_SIMD_NONE, ND_MINHASH_SIMD_AVX512 + 1);
    tcase_add_loop_test(tc, test_jaccard_table, 0, (int)(sizeof jaccard_rows / sizeof jaccard_rows[0]));
    tcase_add_loop_test(tc, test_golden_vectors, 0, (int)(sizeof golden_vectors / sizeof golden_vectors[0]));
    suite_add_tcase(s, tc);
    return s;
}
