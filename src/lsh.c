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
 * the best and a cheap lower bound of their error rules them out; the
 * search starts from the best of a guess and its neighbours, and stops
 * summing a pair once a lower bound of its error is over the best, which
 * cuts the search (part of every run's start) from about 25 ms to under 1
 * (3.5 M instructions at 128 values).
 */
#include "neardup.h"

#include <assert.h> /* assert */
#include <math.h>   /* pow */
#include <string.h> /* memcpy */

#include "hash.h"
#include "index_add.h" /* nd_lsh_band_keys_folded */
#include "minhash.h"   /* nd_minhash_simd: the widest vectors the band keys may use */
#include "mul128.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h> /* band keys eight bands at a time with AVX-512, four with AVX2 */
#define ND_LSH_AVX512 1
#endif

double nd_lsh_probability(double s, unsigned bands, unsigned rows)
{
    return 1.0 - pow(1.0 - pow(s, (double)rows), (double)bands);
}

enum { INTERVALS = 200, NEIGHBOURS = 2 };

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

enum { PARTS = 10, STEP = INTERVALS / PARTS };

/* Lower bounds of the two parts of a pair's weighted error: of the [0, t]
 * part, and of the [t, 1] part from each tenth of its samples on. */
typedef struct {
    double below;
    double above_from[PARTS + 1];
} error_floors;

/* Is the weighted error of (bands, rows) surely above limit? A lower bound
 * of it from 20 values of P instead of 402: P(s) is non-decreasing in s
 * (so is its computed value: pow and 1 - x are monotone), so over each
 * tenth of the samples of [0, t] the Simpson sum of P is at least P at the
 * tenth's first sample times its weights, and over each tenth of [t, 1] the
 * sum of 1 - P at least 1 - P at its last sample times its weights. The
 * terms are added largest first (P is largest near t from below, 1 - P
 * near t from above) and the answer given as soon as the partial bound,
 * itself a lower bound, is over: most pairs are ruled out after a few.
 * When it is not over, *floors gets the bounds of the parts. */
static int surely_above(double t, unsigned bands, unsigned rows, double w_fp, double w_fn, double limit,
                        error_floors *floors)
{
    /* the Simpson weights of each tenth: 1 + 4 + 2 + ... + 4 = 59 for the
     * first, 2 + 4 + ... + 4 = 60 for the middle ones, 2 + ... + 1 = 61 for
     * the last */
    double h_below = t / INTERVALS, h_above = (1.0 - t) / INTERVALS;
    double scale_below = w_fp * h_below / 3.0, scale_above = w_fn * h_above / 3.0;
    double sum = 0.0, above_part[PARTS];
    floors->below = 0.0;
    for (int k = 0; k < PARTS; k++) {
        int below = PARTS - 1 - k, above = k; /* nearest t first */
        int first = below * STEP;
        double weights = 60.0 - (below == 0) + (below == PARTS - 1);
        double term = scale_below * weights * nd_lsh_probability(h_below * first, bands, rows);
        sum += term;
        floors->below += term;
        int last = above == PARTS - 1 ? INTERVALS : above * STEP + STEP - 1;
        weights = 60.0 - (above == 0) + (above == PARTS - 1);
        above_part[above] = scale_above * weights * (1.0 - nd_lsh_probability(t + h_above * last, bands, rows));
        sum += above_part[above];
        if (sum > limit)
            return 1;
    }
    floors->above_from[PARTS] = 0.0;
    for (int k = PARTS - 1; k >= 0; k--)
        floors->above_from[k] = floors->above_from[k + 1] + above_part[k];
    return 0;
}

/* The weighted error of (bands, rows) as simpson() gives it, or INFINITY
 * once it is surely over limit. The sums are made in simpson()'s order, so
 * one made to the end is simpson()'s to the bit. On the way a lower bound
 * of the whole is checked: in [0, t], the partial sum plus, as P is
 * non-decreasing, the weights still to come times the last P, plus the
 * floor of the [t, 1] part; then in [t, 1] (1 - P non-increasing), that
 * part's partial sum plus the floors of the tenths still to come. */
static double error_below(double t, unsigned bands, unsigned rows, double w_fp, double w_fn, double limit,
                          const error_floors *floors)
{
    double h_below = (t - 0.0) / INTERVALS, h_above = (1.0 - t) / INTERVALS;
    double below = 0.0, to_come = 3.0 * INTERVALS; /* the Simpson weights sum to 3 per interval */
    for (int i = 0; i <= INTERVALS; i++) {
        double p = nd_lsh_probability(0.0 + h_below * i, bands, rows);
        below += simpson_weight(i) * p;
        to_come -= simpson_weight(i);
        if ((i & 7) == 7 && w_fp * ((below + to_come * p) * h_below / 3.0) + floors->above_from[0] > limit)
            return INFINITY;
    }
    double err_below = w_fp * (below * h_below / 3.0);
    double above = 0.0;
    for (int i = 0; i <= INTERVALS; i++) {
        above += simpson_weight(i) * (1.0 - nd_lsh_probability(t + h_above * i, bands, rows));
        if (i % STEP == STEP - 1 &&
            err_below + w_fn * (above * h_above / 3.0) + floors->above_from[i / STEP + 1] > limit)
            return INFINITY;
    }
    return err_below + w_fn * (above * h_above / 3.0);
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
    static const error_floors no_floors;
    /* the best is often a neighbour of the guess: the nearer the bound is
     * to the best, the fewer pairs are summed (the bound is the error of a
     * pair, as error_below gives it: all that the argument below needs) */
    for (unsigned r = guess_r > NEIGHBOURS ? guess_r - NEIGHBOURS : 1; r <= guess_r + NEIGHBOURS && r <= num_perm;
         r++) {
        double err = error_below(threshold, num_perm / r, r, w_fp, w_fn, bound, &no_floors);
        if (err < bound)
            bound = err;
    }
    double best = INFINITY;
    unsigned best_b = 1, best_r = num_perm;
    for (unsigned b = 1; b <= num_perm; b++) {
        for (unsigned r = 1; r <= num_perm / b; r++) {
            /* a pair whose error is surely above the best so far, or above
             * the guess's, is not the one chosen (nor is any pair it would
             * have displaced): skip it, or stop summing it when a partial
             * sum is over. The choice is the same as evaluating every pair
             * (tests/test_lsh.c checks). */
            double beat = best < bound ? best : bound;
            double limit = beat * (1.0 + 1e-9) + 1e-10;
            error_floors floors;
            if (surely_above(threshold, b, r, w_fp, w_fn, limit, &floors))
                continue;
            double err = error_below(threshold, b, r, w_fp, w_fn, limit, &floors);
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

#ifdef ND_LSH_AVX512
/* XXH3_avalanche's multiplier, and its low half.
 *
 * FOLDED_KEY: a folded key (nd_index_fold_keys: the key's halves xor'ed)
 * is the low half of the avalanche's product. The avalanche ends with
 * m = x * AVALANCHE, key = m ^ (m >> 32): key's low half is m_lo ^ m_hi
 * and its high half m_hi, so folded = m_lo ^ m_hi ^ m_hi = m_lo, the low
 * 32 bits of x_lo * AVALANCHE_LOW: one 32-bit product instead of the
 * 64-bit one (three with AVX2), the last xorshift and the fold (about 40
 * instructions of a paragraph's 16 keys with AVX2, under valgrind).
 * test_band_keys checks the folded keys against the scalar XXH3. */
#define AVALANCHE 0x165667919E3779F9ULL
#define AVALANCHE_LOW ((long long)(AVALANCHE & 0xFFFFFFFF))

/* Bands first .. first + 7 of 8 rows: nd_hash64(band, 32, band number),
 * which is XXH3_len_17to128_64b at length 32 (two mix16B and the
 * avalanche), one band a lane. Equal to the scalar keys (test_band_keys in
 * tests/test_lsh.c). */
__attribute__((target("avx512f,avx512dq"))) static void band_keys_8x8_avx512(uint64_t *keys, uint32_t *folded,
                                                                             const uint32_t *sig, unsigned first)
{
    __m512i in[4];
    for (unsigned k = 0; k < 4; k++)
        in[k] = _mm512_loadu_si512((const void *)(sig + (size_t)first * 8 + 16 * k));
    /* word w of band b (of these eight) is 64-bit word 4b + w: in[b / 2], lane 4 (b % 2) + w */
    __m512i word[4];
    for (unsigned w = 0; w < 4; w++) {
        const __m512i pick = _mm512_set_epi64(12 + w, 8 + w, 4 + w, w, 12 + w, 8 + w, 4 + w, w);
        __m512i low = _mm512_permutex2var_epi64(in[0], pick, in[1]);
        __m512i high = _mm512_permutex2var_epi64(in[2], pick, in[3]);
        word[w] = _mm512_shuffle_i64x2(low, high, 0x44); /* bands 0..3 from low, 4..7 from high */
    }
    const __m512i seed =
        _mm512_add_epi64(_mm512_set1_epi64((long long)first), _mm512_set_epi64(7, 6, 5, 4, 3, 2, 1, 0));
    __m512i s[4];
    for (unsigned w = 0; w < 4; w++) {
        uint64_t sw;
        memcpy(&sw, XXH3_kSecret + 8 * w, sizeof sw); /* little-endian, as XXH_readLE64 on x86 */
        __m512i sv = _mm512_set1_epi64((long long)sw);
        s[w] = w % 2 == 0 ? _mm512_add_epi64(sv, seed) : _mm512_sub_epi64(sv, seed);
    }
    __m512i acc = _mm512_set1_epi64((long long)(32 * XXH_PRIME64_1));
    acc = _mm512_add_epi64(acc, nd_mul128_fold64_x8(_mm512_xor_si512(word[0], s[0]), _mm512_xor_si512(word[1], s[1])));
    acc = _mm512_add_epi64(acc, nd_mul128_fold64_x8(_mm512_xor_si512(word[2], s[2]), _mm512_xor_si512(word[3], s[3])));
    /* XXH3_avalanche */
    acc = _mm512_xor_si512(acc, _mm512_srli_epi64(acc, 37));
    if (folded) { /* the low half of the product (FOLDED_KEY) */
        _mm256_storeu_si256((__m256i *)(folded + first),
                            _mm512_cvtepi64_epi32(_mm512_mul_epu32(acc, _mm512_set1_epi64(AVALANCHE_LOW))));
        return;
    }
    acc = _mm512_mullo_epi64(acc, _mm512_set1_epi64((long long)AVALANCHE));
    acc = _mm512_xor_si512(acc, _mm512_srli_epi64(acc, 32));
    _mm512_storeu_si512((void *)(keys + first), acc);
}

/* Keys of bands of 8 rows with AVX2, four bands at a time, one a 64-bit lane:
 * band_keys_8x8_avx512() four lanes wide, with XXH3's 64-bit products made
 * from 32-bit ones (mul128.h, and mul64_by). Where the CPU has AVX2 but
 * not AVX-512, and under valgrind: the scalar keys were about 34
 * instructions a band, a twentieth of signing a paragraph. Equal to the
 * scalar keys (test_band_keys). */
__attribute__((target("avx2"))) static inline __m256i mul64_by(__m256i a, uint64_t b)
{
    const __m256i b_lo = _mm256_set1_epi64x((long long)(b & 0xFFFFFFFF));
    const __m256i b_hi = _mm256_set1_epi64x((long long)(b >> 32));
    __m256i cross = _mm256_add_epi64(_mm256_mul_epu32(_mm256_srli_epi64(a, 32), b_lo), _mm256_mul_epu32(a, b_hi));
    return _mm256_add_epi64(_mm256_mul_epu32(a, b_lo), _mm256_slli_epi64(cross, 32));
}

/* The first bands - bands % 4 keys, four at a time; the secrets' words
 * are set once, and the seeds (the band numbers) stepped by four. */
__attribute__((target("avx2"))) static unsigned band_keys_avx2(uint64_t *keys, uint32_t *folded, const uint32_t *sig,
                                                               unsigned bands)
{
    __m256i secret[4];
    for (unsigned w = 0; w < 4; w++) {
        uint64_t sw;
        memcpy(&sw, XXH3_kSecret + 8 * w, sizeof sw); /* little-endian, as XXH_readLE64 on x86 */
        secret[w] = _mm256_set1_epi64x((long long)sw);
    }
    const __m256i start = _mm256_set1_epi64x((long long)(32 * XXH_PRIME64_1)), four = _mm256_set1_epi64x(4);
    const __m256i avalanche_low = _mm256_set1_epi64x(AVALANCHE_LOW);
    __m256i seed = _mm256_set_epi64x(3, 2, 1, 0);
    unsigned j = 0;
    for (; j + 4 <= bands; j += 4, seed = _mm256_add_epi64(seed, four)) {
        const __m256i *at = (const __m256i *)(sig + (size_t)j * 8);
        __m256i r0 = _mm256_loadu_si256(at), r1 = _mm256_loadu_si256(at + 1);
        __m256i r2 = _mm256_loadu_si256(at + 2), r3 = _mm256_loadu_si256(at + 3);
        /* word w of the four bands into one register: a 4 x 4 transpose */
        __m256i t0 = _mm256_unpacklo_epi64(r0, r1), t1 = _mm256_unpackhi_epi64(r0, r1);
        __m256i t2 = _mm256_unpacklo_epi64(r2, r3), t3 = _mm256_unpackhi_epi64(r2, r3);
        __m256i w0 = _mm256_permute2x128_si256(t0, t2, 0x20), w1 = _mm256_permute2x128_si256(t1, t3, 0x20);
        __m256i w2 = _mm256_permute2x128_si256(t0, t2, 0x31), w3 = _mm256_permute2x128_si256(t1, t3, 0x31);
        w0 = _mm256_xor_si256(w0, _mm256_add_epi64(secret[0], seed));
        w1 = _mm256_xor_si256(w1, _mm256_sub_epi64(secret[1], seed));
        w2 = _mm256_xor_si256(w2, _mm256_add_epi64(secret[2], seed));
        w3 = _mm256_xor_si256(w3, _mm256_sub_epi64(secret[3], seed));
        __m256i acc = _mm256_add_epi64(start, nd_mul128_fold64_x4(w0, w1));
        acc = _mm256_add_epi64(acc, nd_mul128_fold64_x4(w2, w3));
        /* XXH3_avalanche */
        acc = _mm256_xor_si256(acc, _mm256_srli_epi64(acc, 37));
        if (folded) { /* the low half of the product (FOLDED_KEY) */
            __m256i m = _mm256_mul_epu32(acc, avalanche_low);
            __m256i low = _mm256_permutevar8x32_epi32(m, _mm256_set_epi32(7, 5, 3, 1, 6, 4, 2, 0));
            _mm_storeu_si128((__m128i *)(folded + j), _mm256_castsi256_si128(low));
        } else {
            acc = mul64_by(acc, AVALANCHE);
            acc = _mm256_xor_si256(acc, _mm256_srli_epi64(acc, 32));
            _mm256_storeu_si256((__m256i *)(keys + j), acc);
        }
    }
    return j;
}

/* All the keys of bands of 8 rows with the widest vectors the CPU has
 * (and nd_minhash_set_simd allows), into keys, or folded into `folded`
 * when that is not NULL: returns 1, or 0 with nothing done when it has
 * neither AVX-512 nor AVX2. Out of line: the scalar loop below, compiled
 * alongside, lost a tenth of its speed. */
__attribute__((noinline)) static int band_keys_simd(uint64_t *keys, uint32_t *folded, const uint32_t *sig,
                                                    unsigned bands)
{
    unsigned j = 0;
    int simd = nd_minhash_simd(); /* capped at what the CPU has */
    if (simd >= ND_MINHASH_SIMD_AVX512) {
        for (; j + 8 <= bands; j += 8)
            band_keys_8x8_avx512(keys, folded, sig, j);
    } else if (simd >= ND_MINHASH_SIMD_AVX2) {
        j = band_keys_avx2(keys, folded, sig, bands);
    } else {
        return 0;
    }
    for (; j < bands; j++) {
        uint64_t key = nd_hash64(sig + (size_t)j * 8, 8 * sizeof *sig, j);
        if (folded)
            folded[j] = (uint32_t)(key ^ (key >> 32));
        else
            keys[j] = key;
    }
    return 1;
}
#endif

void nd_lsh_band_keys(uint64_t *keys, const uint32_t *sig, unsigned bands, unsigned rows)
{
    assert(bands >= 1 && rows >= 1 && keys && sig);
    if (rows == 8) {
#ifdef ND_LSH_AVX512
        /* every paragraph's sixteen keys were a tenth of sketching it */
        if (bands >= 4 && band_keys_simd(keys, NULL, sig, bands))
            return;
#endif
        /* the usual banding (16 x 8 at the default threshold): a length
         * known at compile time lets XXH3 drop its dispatch on length */
        for (unsigned j = 0; j < bands; j++)
            keys[j] = nd_hash64(sig + (size_t)j * 8, 8 * sizeof *sig, j);
        return;
    }
    for (unsigned j = 0; j < bands; j++)
        keys[j] = nd_hash64(sig + (size_t)j * rows, rows * sizeof *sig, j);
}

void nd_lsh_band_keys_folded(uint32_t *folded, const uint32_t *sig, unsigned bands, unsigned rows)
{
    assert(bands >= 1 && rows >= 1 && folded && sig);
#ifdef ND_LSH_AVX512
    /* a paragraph's keys went through memory, 64 bits each, to be folded
     * by a loop of their own (80 instructions a unit under valgrind) */
    if (rows == 8 && bands >= 4 && band_keys_simd(NULL, folded, sig, bands))
        return;
#endif
    for (unsigned j = 0; j < bands; j++) {
        uint64_t key = nd_hash64(sig + (size_t)j * rows, rows * sizeof *sig, j);
        folded[j] = (uint32_t)(key ^ (key >> 32));
    }
}
