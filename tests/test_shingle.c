/* test_shingle.c - tokens to shingle sets: short texts, repeats, kinds. */
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS */
#include <stdio.h>      /* sprintf */
#include <stdlib.h>     /* free, malloc, qsort */
#include <string.h>     /* strlen */
#include <sys/mman.h>   /* mmap, mprotect: unreadable pages around a text */
#include <unistd.h>     /* sysconf */

#include "hash.h"
#include "neardup.h"
#include "sort.h"
#include "suites.h"
#include "tokhash.h"
#include "winhash.h"
#include "wordids.h"

typedef struct {
    const char *text;
    nd_shingle_kind kind;
    unsigned size;
    size_t expected_count;
} shingle_row;

static const shingle_row shingle_rows[] = {
    {"", ND_SHINGLE_WORDS, 5, 0}, /* no tokens: empty set */
    {"!!!", ND_SHINGLE_WORDS, 5, 0},
    {"one", ND_SHINGLE_WORDS, 5, 2}, /* fewer than k: one shingle of all, two ids (its own, its hash's high half) */
    {"one two three", ND_SHINGLE_WORDS, 5, 2},
    {"a b c d e", ND_SHINGLE_WORDS, 5, 2},
    {"a b c d e f", ND_SHINGLE_WORDS, 5, 2},
    {"a b a b a b", ND_SHINGLE_WORDS, 2, 2}, /* repeats collapse: {ab, ba} */
    {"x x x x x x x x", ND_SHINGLE_WORDS, 3, 1},
    {"abcdef", ND_SHINGLE_CHARS, 3, 4}, /* abc bcd cde def */
    {"ab", ND_SHINGLE_CHARS, 3, 2},
    {"ab cd", ND_SHINGLE_CHARS, 3, 3},                                            /* "ab " "b c" " cd" */
    {"\xE4\xB8\xAD\xE6\x96\x87\xE6\x96\x87\xE6\x9C\xAC", ND_SHINGLE_CHARS, 2, 3}, /* 中文文本 */
};

START_TEST(test_shingle_table)
{
    const shingle_row *row = &shingle_rows[_i];
    nd_normalizer *nz = NULL;
    ck_assert_int_eq(nd_normalizer_new(&nz, ND_PROFILE_DEFAULT), ND_OK);
    nd_tokens tokens = ND_TOKENS_INIT;
    ck_assert_int_eq(nd_tokenize(&tokens, nz, row->text, strlen(row->text)), ND_OK);
    uint32_t *ids = NULL;
    size_t cap = 0, count = 99;
    ck_assert_int_eq(nd_shingles(&ids, &cap, &count, &tokens, row->kind, row->size), ND_OK);
    ck_assert_msg(count == row->expected_count, "row %d '%s': %zu shingles, want %zu", _i, row->text, count,
                  row->expected_count);
    for (size_t i = 1; i < count; i++)
        ck_assert_uint_lt(ids[i - 1], ids[i]); /* sorted and distinct */
    free(ids);
    nd_tokens_free(&tokens);
    nd_normalizer_free(nz);
}
END_TEST

/* Different short texts must get different single shingles. */
START_TEST(test_short_texts_differ)
{
    nd_normalizer *nz = NULL;
    ck_assert_int_eq(nd_normalizer_new(&nz, ND_PROFILE_DEFAULT), ND_OK);
    nd_tokens tokens = ND_TOKENS_INIT;
    uint32_t *ids = NULL;
    size_t cap = 0, count = 0;
    uint32_t first[2];
    const char *texts[2] = {"red green blue", "red green bleu"};
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(nd_tokenize(&tokens, nz, texts[i], strlen(texts[i])), ND_OK);
        ck_assert_int_eq(nd_shingles(&ids, &cap, &count, &tokens, ND_SHINGLE_WORDS, 5), ND_OK);
        ck_assert_uint_eq(count, 2); /* one shingle: its id and its hash's high half */
        first[i] = ids[0];
    }
    ck_assert_uint_ne(first[0], first[1]);
    ck_assert_int_eq(nd_shingles(&ids, &cap, &count, &tokens, ND_SHINGLE_WORDS, 0), ND_EINVAL);
    free(ids);
    nd_tokens_free(&tokens);
    nd_normalizer_free(nz);
}
END_TEST

START_TEST(test_unspaced_detection)
{
    nd_normalizer *nz = NULL;
    ck_assert_int_eq(nd_normalizer_new(&nz, ND_PROFILE_DEFAULT), ND_OK);
    nd_tokens tokens = ND_TOKENS_INIT;
    const char *zh = "\xE4\xBB\x8A\xE5\xA4\xA9\xE5\xA4\xA9\xE6\xB0\x94\xE5\xBE\x88\xE5\xA5\xBD"; /* 今天天气很好 */
    ck_assert_int_eq(nd_tokenize(&tokens, nz, zh, strlen(zh)), ND_OK);
    ck_assert_int_eq(nd_tokens_mostly_unspaced(&tokens), 1);
    ck_assert_int_eq(nd_tokenize(&tokens, nz, "plain english words", 19), ND_OK);
    ck_assert_int_eq(nd_tokens_mostly_unspaced(&tokens), 0);
    nd_tokens_free(&tokens);
    nd_normalizer_free(nz);
}
END_TEST

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* The reference for nd_sort_distinct_u32: want[0..n) sorted by qsort and
 * its repeats dropped; returns how many are left. */
static size_t reference_distinct(uint32_t *want, size_t n)
{
    qsort(want, n, sizeof *want, cmp_u32);
    size_t distinct = 0;
    for (size_t i = 0; i < n; i++) {
        if (distinct == 0 || want[i] != want[distinct - 1])
            want[distinct++] = want[i];
    }
    return distinct;
}

/* nd_sort_distinct_u32 against qsort and a pass dropping repeats, on every
 * path: insertion (small), the slot table (9 to 48 values; values whose
 * slot is taken, and so many of them that it gives way to the radix
 * sort), the sort by the top 16 bits (49 to 16384 values; ties in those
 * bits, and a top byte shared by too many values, which goes to the radix
 * sort), the windows of sixteen sorted in a register (49 to 4096 values
 * with AVX-512: each window's whole buckets, the last values padded),
 * buckets and buckets overflowing into the radix sort (values
 * sharing their top bits), and the radix sort for large arrays; with and
 * without repeats; the insertion pass sixteen or eight values at a time
 * (AVX-512, AVX2, where the CPU has them: values in order stored at once,
 * the others inserted one by one) and one at a time. */
START_TEST(test_sort_u32_paths)
{
    static const size_t sizes[] = {0,    1,    2,    8,    9,    16,   17,    24,    25,    47,    48,   49,   50,
                                   63,   64,   65,   100,  127,  128,  129,   200,   256,   300,   1000, 2047, 2048,
                                   2049, 4095, 4096, 4097, 8192, 8193, 16384, 16385, 32768, 32769, 70000};
    static const uint32_t masks[] = {0xFFFFFFFFu, 0x000FFFFFu, 0x0000003Fu, 0xFF00FFFFu, 0xF000FFFFu,
                                     0xFFF0000Fu, 0xFF800001u, 0xFFFC0000u, 0xFFFFF000u};
    uint64_t state = 42;
    for (size_t pass = 0; pass < 3 * sizeof sizes / sizeof sizes[0]; pass++) {
        size_t si = pass % (sizeof sizes / sizeof sizes[0]);
        /* AVX-512, AVX2 (where the CPU has them), none */
        nd_sort_set_simd(ND_SORT_SIMD_AVX512 - (int)(pass / (sizeof sizes / sizeof sizes[0])));
        for (size_t mi = 0; mi < sizeof masks / sizeof masks[0]; mi++) {
            size_t n = sizes[si];
            uint32_t *ids = malloc((n + 1) * sizeof *ids), *tmp = malloc((n + 1) * sizeof *tmp);
            uint32_t *want = malloc((n + 1) * sizeof *want);
            ck_assert_ptr_nonnull(ids);
            ck_assert_ptr_nonnull(tmp);
            ck_assert_ptr_nonnull(want);
            for (size_t i = 0; i < n; i++) {
                state = state * 6364136223846793005ULL + 1442695040888963407ULL;
                ids[i] = want[i] = (uint32_t)(state >> 32) & masks[mi];
            }
            size_t distinct = reference_distinct(want, n);
            ck_assert_uint_eq(nd_sort_distinct_u32(ids, tmp, n), distinct);
            for (size_t i = 0; i < distinct; i++)
                ck_assert_msg(ids[i] == want[i], "n=%zu mask=%x pass %zu: ids[%zu]=%u, want %u", n, masks[mi], pass, i,
                              ids[i], want[i]);
            free(ids);
            free(tmp);
            free(want);
        }
    }
    nd_sort_set_simd(ND_SORT_SIMD_AVX512);
}
END_TEST

/* The windows of sixteen (AVX-512, 49 to 4096 values) with a bucket of
 * 2 to 9 values (the odd-even steps for up to 8, the network past that),
 * 15, 16 (the most a window holds), 17 and more values (which sends the
 * values to the sort by the top bits), the crowd at the start, the middle
 * or the end of the order, with and without repeats in it, or descending:
 * every path against qsort (crowd values share their top 12 bits, so they
 * share a bucket of every size the windows use). */
START_TEST(test_sort_u32_crowded_bucket)
{
    static const size_t sizes[] = {49, 60, 300, 1000, 4096};
    static const size_t crowds[] = {2, 3, 4, 5, 6, 7, 8, 9, 15, 16, 17, 18, 33, 48};
    static const uint32_t tops[] = {0, 0x80000000u, 0xFFF00000u};
    uint64_t state = 17;
    for (int level = ND_SORT_SIMD_AVX512; level >= ND_SORT_SIMD_NONE; level--) {
        nd_sort_set_simd(level);
        for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
            for (size_t ci = 0; ci < sizeof crowds / sizeof crowds[0]; ci++) {
                for (size_t ti = 0; ti < 3 * sizeof tops / sizeof tops[0]; ti++) {
                    size_t n = sizes[si], crowd = crowds[ci] < n ? crowds[ci] : n;
                    uint32_t *ids = malloc(n * sizeof *ids), *tmp = malloc(n * sizeof *tmp);
                    uint32_t *want = malloc(n * sizeof *want);
                    ck_assert_ptr_nonnull(ids);
                    ck_assert_ptr_nonnull(tmp);
                    ck_assert_ptr_nonnull(want);
                    for (size_t i = 0; i < n; i++) {
                        state = state * 6364136223846793005ULL + 1442695040888963407ULL;
                        uint32_t x = (uint32_t)(state >> 32);
                        size_t k = i / (n / crowd);
                        if (i % (n / crowd) == 0 && k < crowd) { /* spread through the input */
                            /* random low bits, 8 values (repeats), or
                             * descending (the most steps of the
                             * odd-even sort) */
                            uint32_t low = ti % 3 == 0 ? x & 0xFFFFFu : ti % 3 == 1 ? x & 0x7u : 0xFFFFFu - (uint32_t)k;
                            x = tops[ti / 3] | low;
                        }
                        ids[i] = want[i] = x;
                    }
                    size_t distinct = reference_distinct(want, n);
                    ck_assert_uint_eq(nd_sort_distinct_u32(ids, tmp, n), distinct);
                    for (size_t i = 0; i < distinct; i++)
                        ck_assert_msg(ids[i] == want[i], "n=%zu crowd=%zu top=%x level %d: ids[%zu]=%u, want %u", n,
                                      crowd, tops[ti / 3], level, i, ids[i], want[i]);
                    free(ids);
                    free(tmp);
                    free(want);
                }
            }
        }
    }
    nd_sort_set_simd(ND_SORT_SIMD_AVX512);
}
END_TEST

/* nd_sort_u64_high32 sorts by the upper half only and is stable: entries
 * (key << 32 | position) come out ordered by key, then position, as a
 * stable sort by key leaves them; keys spread over all 32 bits, held in
 * a few top bits, in the low bits only (passes skipped), and all equal. */
START_TEST(test_sort_u64_high32_stable)
{
    static const size_t sizes[] = {0, 1, 2, 3, 100, 2047, 2049, 50000};
    static const uint32_t masks[] = {0xFFFFFFFFu, 0xFFC00000u, 0x000007FFu, 0x003FF800u, 0x0000000Fu, 0};
    uint64_t state = 7;
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        for (size_t mi = 0; mi < sizeof masks / sizeof masks[0]; mi++) {
            size_t n = sizes[si];
            uint64_t *values = malloc((n + 1) * sizeof *values), *tmp = malloc((n + 1) * sizeof *tmp);
            ck_assert_ptr_nonnull(values);
            ck_assert_ptr_nonnull(tmp);
            for (size_t i = 0; i < n; i++) {
                state = state * 6364136223846793005ULL + 1442695040888963407ULL;
                uint32_t key = (uint32_t)(state >> 32) & masks[mi];
                values[i] = (uint64_t)key << 32 | (uint32_t)(n - i); /* low halves descending */
            }
            nd_sort_u64_high32(values, tmp, n);
            for (size_t i = 1; i < n; i++) {
                /* by key; within a key, input order (descending low halves) */
                ck_assert_msg(values[i - 1] >> 32 < values[i] >> 32 || (values[i - 1] >> 32 == values[i] >> 32 &&
                                                                        (uint32_t)values[i - 1] > (uint32_t)values[i]),
                              "n=%zu mask=%x: entries %zu and %zu out of order", n, masks[mi], i - 1, i);
            }
            uint64_t sum = 0;
            for (size_t i = 0; i < n; i++)
                sum += (uint32_t)values[i];
            ck_assert_uint_eq(sum, (uint64_t)n * (n + 1) / 2); /* every entry once */
            free(values);
            free(tmp);
        }
    }
}
END_TEST

/* ND_DEFINE_RADIX_SORT orders by bits FIRST .. LAST + 7 alone, stably,
 * by insertion below ND_RADIX_SMALL values and by passes above: both
 * against a reference (by those bits, then input position), at sizes on
 * either side, with keys from a few values (many ties) to all 64 bits. */
typedef struct {
    uint64_t key;
    uint32_t at;
} keyed_value;
#define KEYED_VALUE_KEY(v) ((v).key)
ND_DEFINE_RADIX_SORT(sort_whole_key, keyed_value, KEYED_VALUE_KEY, 0, 56)
ND_DEFINE_RADIX_SORT(sort_key_bits_32_47, keyed_value, KEYED_VALUE_KEY, 32, 40)

static void check_radix(void (*sort)(keyed_value *, keyed_value *, size_t), unsigned first, unsigned last)
{
    static const size_t sizes[] = {0, 1, 2, 5, ND_RADIX_SMALL - 1, ND_RADIX_SMALL, ND_RADIX_SMALL + 1, 300};
    static const uint64_t spreads[] = {4, 1000, 0}; /* 0: every bit */
    uint64_t state = 11;
    uint64_t mask = last + 8 - first >= 64 - first ? ~(uint64_t)0 >> first : ((uint64_t)1 << (last + 8 - first)) - 1;
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        for (size_t sp = 0; sp < sizeof spreads / sizeof spreads[0]; sp++) {
            size_t n = sizes[si];
            keyed_value *v = malloc((n + 1) * sizeof *v), *tmp = malloc((n + 1) * sizeof *tmp);
            for (size_t i = 0; i < n; i++) {
                state = state * 6364136223846793005ULL + 1442695040888963407ULL;
                uint64_t r = state ^ state >> 29;
                v[i] = (keyed_value){spreads[sp] ? (r % spreads[sp]) << first | (r & 0xF00000000000000Full) : r,
                                     (uint32_t)i};
            }
            sort(v, tmp, n);
            for (size_t i = 1; i < n; i++) {
                uint64_t a = v[i - 1].key >> first & mask, b = v[i].key >> first & mask;
                ck_assert_msg(a < b || (a == b && v[i - 1].at < v[i].at), "n=%zu: %zu and %zu out of order", n, i - 1,
                              i);
            }
            uint64_t sum = 0;
            for (size_t i = 0; i < n; i++)
                sum += v[i].at;
            ck_assert_uint_eq(sum, (uint64_t)n * (n ? n - 1 : 0) / 2); /* every value once */
            free(v);
            free(tmp);
        }
    }
}

START_TEST(test_radix_sort_macro)
{
    check_radix(sort_whole_key, 0, 56);
    check_radix(sort_key_bits_32_47, 32, 40);
}
END_TEST

/* A long periodic text: n tokens cycling through r distinct words has
 * exactly r distinct 5-shingles, returned sorted. Sizes reach the bucket
 * and the radix paths of the sort. */
START_TEST(test_long_text_shingles)
{
    static const struct {
        size_t tokens, distinct_words;
    } cases[] = {{300, 50}, {3000, 2000}, {20000, 1500}};
    nd_normalizer *nz = NULL;
    ck_assert_int_eq(nd_normalizer_new(&nz, ND_PROFILE_DEFAULT), ND_OK);
    nd_tokens tokens = ND_TOKENS_INIT;
    uint32_t *ids = NULL;
    size_t cap = 0, count = 0;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        size_t n = cases[c].tokens, r = cases[c].distinct_words;
        char *text = malloc(n * 8 + 1);
        ck_assert_ptr_nonnull(text);
        size_t len = 0;
        for (size_t i = 0; i < n; i++)
            len += (size_t)sprintf(text + len, "w%zu ", i % r);
        ck_assert_int_eq(nd_tokenize(&tokens, nz, text, len), ND_OK);
        ck_assert_uint_eq(tokens.count, n);
        ck_assert_int_eq(nd_shingles(&ids, &cap, &count, &tokens, ND_SHINGLE_WORDS, 5), ND_OK);
        ck_assert_uint_eq(count, r);
        for (size_t i = 1; i < count; i++)
            ck_assert_msg(ids[i - 1] < ids[i], "case %zu: ids not strictly increasing at %zu", c, i);
        free(text);
    }
    free(ids);
    nd_tokens_free(&tokens);
    nd_normalizer_free(nz);
}
END_TEST

/* Word shingle ids eight windows at a time (wordids.c) equal the scalar
 * loop's and the definition's, id(s) = fold32(mix64(H(s) + k C)) with
 * H(s) = sum_{j<k} h(t_{s+j}) P^(k-1-j) computed here window by window:
 * texts of 0 to 70 tokens (k or fewer: one window of all, whose ids are
 * its id and the high half of z), widths 1 to 9 and 13, token hashes at
 * random. */
START_TEST(test_word_ids)
{
    const uint64_t P = 0x9e3779b97f4a7c15ULL, C = 0xd6e8feb86659fd93ULL;
    nd_token items[70];
    uint64_t state = 11;
    uint32_t *ids = NULL, want[71];
    size_t cap = 0;
    for (size_t t = 0; t < 70; t++) {
        state = state * 6364136223846793005ULL + 1442695040888963407ULL;
        items[t] = (nd_token){t, t + 1, t, 1, state ^ state >> 29};
    }
    for (unsigned k = 1; k <= 13; k = k == 9 ? 13 : k + 1) {
        for (size_t n = 0; n <= 70; n++) {
            nd_tokens tokens = {.items = items, .count = n};
            size_t width = n < k ? n : k, m = n == 0 ? 0 : n < k ? 1 : n - k + 1;
            for (size_t s = 0; s < m; s++) {
                uint64_t h = 0;
                for (size_t j = 0; j < width; j++)
                    h = h * P + items[s + j].hash;
                uint64_t z = nd_mix64(h + (uint64_t)width * C);
                want[s] = (uint32_t)(z ^ z >> 32);
                if (m == 1)
                    want[1] = (uint32_t)(z >> 32);
            }
            m += m == 1;
            qsort(want, m, sizeof *want, cmp_u32);
            size_t distinct = 0;
            for (size_t s = 0; s < m; s++)
                if (s == 0 || want[s] != want[s - 1])
                    want[distinct++] = want[s];
            for (int simd = ND_WORDIDS_SIMD_NONE; simd <= ND_WORDIDS_SIMD_BEST; simd++) {
                size_t count = 99;
                ck_assert_int_eq(nd_word_shingles_simd(&ids, &cap, &count, &tokens, k, simd), ND_OK);
                ck_assert_msg(count == distinct && (count == 0 || memcmp(ids, want, count * sizeof *ids) == 0),
                              "k %u, %zu tokens, simd %d: ids differ", k, n, simd);
            }
        }
    }
    free(ids);
}
END_TEST

/* Token hashes are XXH3 of the normalized token (nd_hash64, seed 0) for
 * every length: nd_hash_tokens (tokhash.c) lists tokens by length class and
 * hashes each class with XXH3's short-input function (nd_hash64_1to3,
 * _4to8, _9to16), in batches of 256 tokens (and the seeded _4to8 and _9to16
 * that character shingles use equal nd_hash64 with their seed); a text of 700 words of 1 to 40
 * letters (ASCII and two-byte) crosses batch edges and every class. */
START_TEST(test_token_hashes)
{
    uint8_t bytes[64];
    uint64_t state = 3;
    for (size_t i = 0; i < sizeof bytes; i++) {
        state = state * 6364136223846793005ULL + 1442695040888963407ULL;
        bytes[i] = (uint8_t)(state >> 56);
    }
    for (size_t len = 1; len <= 16; len++) {
        for (size_t at = 0; at + len <= sizeof bytes; at++) {
            uint64_t want = nd_hash64(bytes + at, len, 0);
            uint64_t got = len <= 3   ? nd_hash64_1to3(bytes + at, len)
                           : len <= 8 ? nd_hash64_4to8(bytes + at, len)
                                      : nd_hash64_9to16(bytes + at, len);
            ck_assert_msg(got == want, "len %zu at %zu: %llx, want %llx", len, at, (unsigned long long)got,
                          (unsigned long long)want);
            /* with a seed (character shingles: the window's size) */
            for (uint64_t seed = 1; len >= 4 && seed < 80; seed = seed * 3 + 1) {
                want = nd_hash64(bytes + at, len, seed);
                got = len <= 8 ? nd_hash64_4to8_seeded(bytes + at, len, seed)
                               : nd_hash64_9to16_seeded(bytes + at, len, seed);
                ck_assert_msg(got == want, "len %zu at %zu, seed %llu: seeded hash differs", len, at,
                              (unsigned long long)seed);
            }
        }
    }
    nd_normalizer *nz = NULL;
    ck_assert_int_eq(nd_normalizer_new(&nz, ND_PROFILE_DEFAULT), ND_OK);
    char *text = malloc(700 * 82);
    ck_assert_ptr_nonnull(text);
    size_t len = 0;
    for (size_t w = 0; w < 700; w++) {
        state = state * 6364136223846793005ULL + 1442695040888963407ULL;
        size_t letters = 1 + (size_t)(state >> 33) % 40;
        for (size_t k = 0; k < letters; k++) {
            if ((w + k) % 7 == 3) {
                memcpy(text + len, "\xC3\xA9", 2); /* é: two bytes */
                len += 2;
            } else {
                text[len++] = (char)('a' + (state >> (k % 40)) % 26);
            }
        }
        text[len++] = ' ';
    }
    nd_tokens tokens = ND_TOKENS_INIT;
    ck_assert_int_eq(nd_tokenize(&tokens, nz, text, len), ND_OK);
    ck_assert_uint_eq(tokens.count, 700);
    for (size_t t = 0; t < tokens.count; t++) {
        const nd_token *tok = &tokens.items[t];
        ck_assert_msg(tok->hash == nd_hash64(tokens.text + tok->norm_start, tok->norm_len, 0),
                      "token %zu (%zu bytes): hash differs", t, tok->norm_len);
    }
    free(text);
    nd_tokens_free(&tokens);
    nd_normalizer_free(nz);

    /* nd_hash_tokens_with each SIMD level on tokens made by hand: every
     * length 1 to 20 at every offset of a text of 41 random bytes: 630
     * tokens, past two batch edges, every lane of a step, the last step
     * part full; and texts of 1 to 12 bytes (reads as long as the text or
     * longer). Each text lies first at the start of a page whose page
     * before is unreadable, then at the end of a page whose page after is:
     * a read before or past the text faults. */
    long page = sysconf(_SC_PAGESIZE);
    char *pages = mmap(NULL, 3 * (size_t)page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ck_assert(pages != MAP_FAILED);
    ck_assert_int_eq(mprotect(pages, (size_t)page, PROT_NONE), 0);
    ck_assert_int_eq(mprotect(pages + 2 * page, (size_t)page, PROT_NONE), 0);
    for (size_t text_len = 1; text_len <= 41; text_len = text_len == 12 ? 41 : text_len + 1) {
        nd_token *items = malloc(sizeof *items * 20 * text_len);
        ck_assert_ptr_nonnull(items);
        for (int placed = 0; placed < 2; placed++) {
            nd_tokens made = {.items = items, .text_len = text_len};
            made.text = placed == 0 ? pages + page : pages + 2 * page - text_len;
            for (size_t i = 0; i < text_len; i++) {
                state = state * 6364136223846793005ULL + 1442695040888963407ULL;
                made.text[i] = (char)(state >> 56);
            }
            for (size_t n = 1; n <= 20; n++) {
                for (size_t at = 0; at + n <= text_len; at++)
                    made.items[made.count++] = (nd_token){at, at + n, at, n, 0};
            }
            for (int simd = ND_TOKHASH_SIMD_NONE; simd <= ND_TOKHASH_SIMD_BEST; simd++) {
                for (size_t t = 0; t < made.count; t++)
                    made.items[t].hash = 0;
                nd_hash_tokens_with(&made, simd);
                for (size_t t = 0; t < made.count; t++) {
                    const nd_token *tok = &made.items[t];
                    ck_assert_msg(tok->hash == nd_hash64(made.text + tok->norm_start, tok->norm_len, 0),
                                  "simd %d, text of %zu bytes, token %zu (%zu bytes at %zu): hash differs", simd,
                                  text_len, t, tok->norm_len, tok->norm_start);
                }
            }
        }
        free(items);
    }
    munmap(pages, 3 * (size_t)page);
}
END_TEST

/* The character shingles of a text are the reference's: the tokens'
 * normalized texts joined with one space where the original had
 * separators between them, every window of N code points (all of them
 * when there are fewer) hashed with nd_hash64 seeded with N and folded to
 * 32 bits, sorted and made distinct. char_shingles (shingle.c) finds the
 * windows from a table of code point offsets and hashes windows of 4 to 16
 * bytes with XXH3's short-input functions inlined; random texts of ASCII,
 * two-, three- and four-byte letters, spaces and CJK punctuation (windows
 * of every length class, one token or many), N from 1 to 9 and 24. */
static size_t reference_char_shingles(uint32_t *out, const nd_tokens *tokens, unsigned size)
{
    size_t cap = 1, len = 0;
    for (size_t t = 0; t < tokens->count; t++)
        cap += tokens->items[t].norm_len + 1;
    char *joined = malloc(cap);
    ck_assert_ptr_nonnull(joined);
    for (size_t t = 0; t < tokens->count; t++) {
        const nd_token *tok = &tokens->items[t];
        if (t > 0 && tok->start > tokens->items[t - 1].end)
            joined[len++] = ' ';
        memcpy(joined + len, tokens->text + tok->norm_start, tok->norm_len);
        len += tok->norm_len;
    }
    size_t chars = 0, m = 0;
    for (size_t i = 0; i < len; i++)
        chars += ((uint8_t)joined[i] & 0xC0) != 0x80;
    if (chars <= size) {
        if (chars > 0) {
            uint64_t h = nd_hash64(joined, len, size); /* one window: its id and its hash's high half */
            out[m++] = (uint32_t)(h ^ (h >> 32));
            out[m++] = (uint32_t)(h >> 32);
        }
    } else {
        for (size_t a = 0; a < len; a++) {
            if (((uint8_t)joined[a] & 0xC0) == 0x80)
                continue;
            size_t b = a, k = 0;
            while (b < len && k < size) {
                b++;
                while (b < len && ((uint8_t)joined[b] & 0xC0) == 0x80)
                    b++;
                k++;
            }
            if (k < size)
                break;
            uint64_t h = nd_hash64(joined + a, b - a, size);
            out[m++] = (uint32_t)(h ^ (h >> 32));
        }
    }
    free(joined);
    qsort(out, m, sizeof *out, cmp_u32);
    size_t w = 0;
    for (size_t i = 0; i < m; i++) {
        if (w == 0 || out[i] != out[w - 1])
            out[w++] = out[i];
    }
    return w;
}

START_TEST(test_char_shingles_reference)
{
    static const char *const pieces[] = {
        "a",
        "b",
        "7",
        "z",
        " ",
        " ",
        "\xC3\xA9",
        "\xD0\xB6",
        "\xE4\xB8\xAD",
        "\xE6\x96\x87",
        "\xE3\x81\x82",
        "\xE3\x80\x82",
        /* 。 */ "\xEF\xBC\x8C",
        /* ， */ "\xF0\x9F\x98\x80",
        /* an emoji */ "\xF0\xA0\x80\x80", /* 𠀀 */
    };
    static const unsigned sizes[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 24};
    nd_normalizer *nz = NULL;
    ck_assert_int_eq(nd_normalizer_new(&nz, ND_PROFILE_DEFAULT), ND_OK);
    nd_tokens tokens = ND_TOKENS_INIT;
    uint32_t *ids = NULL, *want = malloc(4 * 2000 * sizeof *want);
    ck_assert_ptr_nonnull(want);
    size_t cap = 0, count = 0;
    char text[4 * 2000 + 1];
    uint64_t state = 17;
    size_t checked = 0;
    for (int round = 0; round < 400; round++) {
        state = state * 6364136223846793005ULL + 1442695040888963407ULL;
        size_t n = 1 + (size_t)(state >> 33) % (round % 4 == 0 ? 12 : 600), len = 0;
        /* mostly one kind of letter, as real text is, with others mixed in */
        unsigned main_piece = (unsigned)(state >> 20) % 11;
        unsigned mix = (unsigned)(state >> 28) % 4; /* 0: the main letter alone (one token) */
        for (size_t i = 0; i < n; i++) {
            state = state * 6364136223846793005ULL + 1442695040888963407ULL;
            unsigned r = (unsigned)(state >> 40);
            const char *p = (mix == 0 || r % (2 * mix + 1) != 0)
                                ? pieces[main_piece + (r >> 8) % 2 * (main_piece < 8)]
                                : pieces[(r >> 8) % (sizeof pieces / sizeof pieces[0])];
            size_t k = strlen(p);
            memcpy(text + len, p, k);
            len += k;
        }
        ck_assert_int_eq(nd_tokenize(&tokens, nz, text, len), ND_OK);
        for (size_t z = 0; z < sizeof sizes / sizeof sizes[0]; z++) {
            size_t want_count = tokens.count ? reference_char_shingles(want, &tokens, sizes[z]) : 0;
            /* nd_shingles, then each path: no SIMD, AVX2, AVX-512 (what the
             * CPU has of them) and the walk of texts past 4 GB */
            for (int simd = ND_WINDOW_SIMD_BEST + 1; simd >= ND_WINDOW_WIDE; simd--) {
                if (simd == ND_WINDOW_SIMD_BEST + 1)
                    ck_assert_int_eq(nd_shingles(&ids, &cap, &count, &tokens, ND_SHINGLE_CHARS, sizes[z]), ND_OK);
                else /* no tokens too: the empty set, as nd_shingles gives */
                    ck_assert_int_eq(nd_char_shingles_simd(&ids, &cap, &count, &tokens, sizes[z], simd), ND_OK);
                ck_assert_msg(count == want_count, "round %d, size %u, path %d: %zu ids, want %zu", round, sizes[z],
                              simd, count, want_count);
                for (size_t i = 0; i < count; i++)
                    ck_assert_msg(ids[i] == want[i], "round %d, size %u, path %d: id %zu differs", round, sizes[z],
                                  simd, i);
                checked += count;
            }
        }
    }
    ck_assert_uint_gt(checked, 500000);
    free(ids);
    free(want);
    nd_tokens_free(&tokens);
    nd_normalizer_free(nz);
}
END_TEST

/* nd_window_ids (winhash.c) hashes four or eight windows at a time with
 * AVX2 or AVX-512: each level the CPU has gives every window the id the
 * scalar nd_window_id gives it, for windows of every length (code points of
 * 1 to 4 bytes, most of 3 as in Chinese text; in layout 1 long runs of 3, where
 * AVX512VBMI picks a run's windows from one load; in layout 2 "code points"
 * of 1 to 16 bytes, eight windows spanning more than one load), sizes 1 to
 * 9 and 16, the
 * table read from every offset 0..8 (the groups of four or eight start
 * everywhere), the text an allocation of its exact size (a load past a
 * window's ends is out of bounds under ASan), and in place (the ids
 * written over the offsets, as char_shingles does). */
START_TEST(test_window_ids)
{
    enum { CHARS = 700 };
    uint32_t at[CHARS + 1];
    uint64_t state = 29 + (uint64_t)_i;
    size_t len = 0;
    for (size_t c = 0; c < CHARS; c++) {
        at[c] = (uint32_t)len;
        state = state * 6364136223846793005ULL + 1442695040888963407ULL;
        unsigned r = (unsigned)(state >> 40) % (_i == 0 ? 20 : 400);
        if (_i == 2)
            len += 1 + r % 16; /* "code points" of up to 16 bytes: not UTF-8, but nd_shingles takes any tokens */
        else
            len += r < 13 || r >= 20 ? 3 : r < 16 ? 1 : r < 19 ? 2 : 4;
    }
    at[CHARS] = (uint32_t)len;
    uint8_t *text = malloc(len);
    ck_assert_ptr_nonnull(text);
    for (size_t i = 0; i < len; i++) {
        state = state * 6364136223846793005ULL + 1442695040888963407ULL;
        text[i] = (uint8_t)(state >> 56);
    }
    static const unsigned sizes[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 16};
    uint32_t want[CHARS], got[CHARS], in_place[CHARS + 1];
    size_t vector_sized = 0;
    for (size_t z = 0; z < sizeof sizes / sizeof sizes[0]; z++) {
        unsigned size = sizes[z];
        for (size_t from = 0; from <= 8; from++) {
            size_t m = CHARS - from - size + 1;
            for (size_t s = 0; s < m; s++) {
                want[s] = nd_window_id(text + at[from + s], at[from + s + size] - at[from + s], size);
                vector_sized += at[from + s + size] - at[from + s] - 9 <= 7;
            }
            for (int simd = ND_WINDOW_SIMD_NONE; simd <= ND_WINDOW_SIMD_BEST; simd++) {
                nd_window_ids(got, text, at + from, m, size, simd);
                memcpy(in_place, at + from, (m + size) * sizeof *at);
                nd_window_ids(in_place, text, in_place, m, size, simd);
                for (size_t s = 0; s < m; s++) {
                    ck_assert_msg(got[s] == want[s],
                                  "layout %d, size %u, from %zu, simd %d: window %zu (%u bytes) differs", _i, size,
                                  from, simd, s, at[from + s + size] - at[from + s]);
                    ck_assert_msg(in_place[s] == want[s],
                                  "layout %d, size %u, from %zu, simd %d: window %zu in place differs", _i, size, from,
                                  simd, s);
                }
            }
        }
    }
    for (unsigned size = 1; size <= 16; size++) /* the ids are XXH3's */
        ck_assert_uint_eq(nd_window_id(text + 5, at[size + 3] - 5, size),
                          (uint32_t)(nd_hash64(text + 5, at[size + 3] - 5, size) ^
                                     nd_hash64(text + 5, at[size + 3] - 5, size) >> 32));
    ck_assert_uint_gt(vector_sized, _i == 2 ? 3000 : 10000); /* many windows take the SIMD formula */
    free(text);
}
END_TEST

/* nd_char_offsets (winhash.c) finds the first bytes of code points 16 or
 * 64 bytes at a time: each SIMD level gives the byte loop's offsets, for
 * texts of every length 0..300 starting at every byte 0..63 of random
 * bytes (leads and continuation bytes mixed), in a table no larger than
 * the count plus ND_OFFSETS_SLACK (+1 for the byte loop's look-ahead). */
START_TEST(test_char_offsets)
{
    uint8_t bytes[400];
    uint64_t state = 41;
    for (size_t i = 0; i < sizeof bytes; i++) {
        state = state * 6364136223846793005ULL + 1442695040888963407ULL;
        unsigned r = (unsigned)(state >> 56);
        bytes[i] = (uint8_t)(r % 3 == 0 ? 'a' + r % 26 : r); /* about half continuation bytes past the ASCII */
    }
    size_t checked = 0;
    for (size_t at = 0; at < 64; at++) {
        for (size_t n = 0; n <= 300; n += 1 + n / 16) {
            size_t want_count = 0;
            uint32_t want[300];
            for (size_t i = 0; i < n; i++) {
                if ((bytes[at + i] & 0xC0) != 0x80)
                    want[want_count++] = (uint32_t)i;
            }
            for (int simd = ND_WINDOW_SIMD_NONE; simd <= ND_WINDOW_SIMD_BEST; simd++) {
                uint32_t *got = malloc((want_count + ND_OFFSETS_SLACK + 1) * sizeof *got);
                ck_assert_ptr_nonnull(got);
                ck_assert_uint_eq(nd_char_offsets(got, bytes + at, n, simd), want_count);
                for (size_t k = 0; k < want_count; k++)
                    ck_assert_msg(got[k] == want[k], "at %zu, %zu bytes, simd %d: offset %zu is %u, want %u", at, n,
                                  simd, k, got[k], want[k]);
                checked += want_count;
                free(got);
            }
        }
    }
    ck_assert_uint_gt(checked, 100000);
}
END_TEST

Suite *shingle_suite(void)
{
    Suite *s = suite_create("shingle");
    TCase *tc = tcase_create("sets");
    tcase_add_loop_test(tc, test_shingle_table, 0, (int)(sizeof shingle_rows / sizeof shingle_rows[0]));
    tcase_add_test(tc, test_short_texts_differ);
    tcase_add_test(tc, test_unspaced_detection);
    tcase_add_test(tc, test_token_hashes);
    tcase_add_test(tc, test_word_ids);
    suite_add_tcase(s, tc);
    /* arrays up to 70,000 values and a 20,000-word text: slower under the
     * sanitizers and on a busy machine than Check's default 4 s */
    TCase *large = tcase_create("large");
    tcase_set_timeout(large, 120);
    tcase_add_test(large, test_sort_u32_paths);
    tcase_add_test(large, test_sort_u32_crowded_bucket);
    tcase_add_test(large, test_sort_u64_high32_stable);
    tcase_add_test(large, test_long_text_shingles);
    tcase_add_test(large, test_radix_sort_macro);
    tcase_add_test(large, test_char_shingles_reference);
    tcase_add_loop_test(large, test_window_ids, 0, 3);
    tcase_add_test(large, test_char_offsets);
    suite_add_tcase(s, large);
    return s;
}
