/* test_index.c - the whole pipeline on tiny corpora: canonical order,
 * survivors, verified clusters (no chaining), empty texts. */
#include <pthread.h> /* pthread_create */
#include <stdio.h>   /* snprintf */
#include <stdlib.h>  /* free */
#include <string.h>  /* strlen */

#include "index_add.h"
#include "neardup.h"
#include "sameclusters.h"
#include "sort.h"
#include "store.h"
#include "suites.h"

/* Index `texts` and cluster them; returns the clusters (caller frees).
 * These tests are about verification and clustering, not about LSH recall
 * (tested in test_lsh.c), so the bands are set so that pairs at J >= 0.8
 * become candidates with probability above 1 - 10^-7 (32 bands of 4 rows:
 * miss = (1 - 0.8^4)^32), where the defaults for 0.8 (16 x 8) miss a pair
 * at J = 9/11 about 3% of the time. */
static nd_clusters *cluster_texts(const char *const *texts, size_t n, unsigned shingle_size, nd_keep keep)
{
    nd_options opts = ND_OPTIONS_INIT;
    opts.shingle_size = shingle_size;
    opts.bands = 32;
    opts.rows = 4;
    ck_assert_int_eq(nd_options_resolve(&opts), ND_OK);
    nd_sketcher *sk = NULL;
    nd_index *index = NULL;
    ck_assert_int_eq(nd_sketcher_new(&sk, &opts), ND_OK);
    ck_assert_int_eq(nd_index_new(&index, &opts), ND_OK);
    for (size_t i = 0; i < n; i++) {
        nd_sketch sketch = ND_SKETCH_INIT;
        size_t len = strlen(texts[i]);
        ck_assert_int_eq(nd_sketch_text(&sketch, sk, texts[i], len), ND_OK);
        ck_assert_int_eq(nd_index_add(index, &sketch, len), ND_OK);
        nd_sketch_clear(&sketch);
    }
    nd_clusters *clusters = NULL;
    ck_assert_int_eq(nd_index_cluster(&clusters, NULL, index, keep), ND_OK);
    nd_index_free(index);
    nd_sketcher_free(sk);
    return clusters;
}

static void expect_cluster(const nd_clusters *c, size_t i, const size_t *docs, size_t n)
{
    const nd_member *m;
    size_t size = nd_clusters_get(&m, c, i);
    ck_assert_uint_eq(size, n);
    for (size_t k = 0; k < n; k++)
        ck_assert_uint_eq(m[k].doc, docs[k]);
    ck_assert_double_eq(m[0].jaccard, 1.0);
}

START_TEST(test_canonical_order)
{
    static const char *const texts[] = {
        "the quick brown fox jumps over the lazy dog near the river bank today", /* 0: group X */
        "completely different words about markets and prices and trade in asia", /* 1: group Y */
        "nothing to see here just a unique sentence standing on its own feet",   /* 2 */
        "completely different words about markets and prices and trade in asia", /* 3: Y */
        "the quick brown fox jumps over the lazy dog near the river bank today", /* 4: X */
        "the quick brown fox jumps over the lazy dog near the river bank today", /* 5: X */
    };
    nd_clusters *c = cluster_texts(texts, 6, 5, ND_KEEP_FIRST);
    ck_assert_uint_eq(nd_clusters_count(c), 2);
    expect_cluster(c, 0, (const size_t[]){0, 4, 5}, 3);
    expect_cluster(c, 1, (const size_t[]){1, 3}, 2);
    nd_clusters_free(c);
}
END_TEST

START_TEST(test_keep_longest)
{
    static const char *const texts[] = {
        "alpha beta gamma delta epsilon zeta eta theta iota kappa",
        "alpha beta gamma delta epsilon zeta eta theta iota kappa!!!!!!!", /* same words, longer */
        "alpha beta gamma delta epsilon zeta eta theta iota kappa",
    };
    nd_clusters *c = cluster_texts(texts, 3, 5, ND_KEEP_LONGEST);
    ck_assert_uint_eq(nd_clusters_count(c), 1);
    expect_cluster(c, 0, (const size_t[]){1, 0, 2}, 3); /* survivor first, then input order */
    nd_clusters_free(c);
}
END_TEST

/* A chain, with 1-word shingles: J(A,B) = J(B,C) = J(C,D) = 9/11, while
 * J(A,C) = J(B,D) = 8/12 and J(A,D) = 7/13. Union-find joins all four; the
 * split centers on B (it matches the most), which keeps A and C, and D
 * (which matches only C) stays out: no member is there through a chain.
 * A is earlier but does not match C, so B is the survivor. */
START_TEST(test_no_chaining)
{
    static const char *const texts[] = {
        "w1 w2 w3 w4 w5 w6 w7 w8 w9 w10",
        "w1 w2 w3 w4 w5 w6 w7 w8 w9 x1",
        "w1 w2 w3 w4 w5 w6 w7 w8 x1 x2",
        "w1 w2 w3 w4 w5 w6 w7 x1 x2 x3",
    };
    nd_clusters *c = cluster_texts(texts, 4, 1, ND_KEEP_FIRST);
    ck_assert_uint_eq(nd_clusters_count(c), 1);
    expect_cluster(c, 0, (const size_t[]){1, 0, 2}, 3);
    const nd_member *m;
    nd_clusters_get(&m, c, 0);
    ck_assert_double_eq_tol(m[1].jaccard, 9.0 / 11.0, 1e-12);
    ck_assert_double_eq_tol(m[2].jaccard, 9.0 / 11.0, 1e-12);
    nd_clusters_free(c);
}
END_TEST

/* Edited copies before their original: a star around the first copy would
 * leave the second copy out; the center (the original) keeps both, and the
 * first copy survives because it matches everyone. With 1-word shingles:
 * J(O,C1) = J(O,C2) = 10/11, J(C1,C2) = 9/11. */
START_TEST(test_center_keeps_copies)
{
    static const char *const texts[] = {
        "a b c d e f g h i j x", /* C1 */
        "a b c d e f g h i j y", /* C2 */
        "a b c d e f g h i j",   /* O */
        "unrelated words entirely here",
    };
    nd_clusters *c = cluster_texts(texts, 4, 1, ND_KEEP_FIRST);
    ck_assert_uint_eq(nd_clusters_count(c), 1);
    expect_cluster(c, 0, (const size_t[]){0, 1, 2}, 3);
    nd_clusters_free(c);
}
END_TEST

START_TEST(test_empty_never_cluster)
{
    static const char *const texts[] = {"", "   ", "!!!", "", "...\n\n"};
    nd_clusters *c = cluster_texts(texts, 5, 5, ND_KEEP_FIRST);
    ck_assert_uint_eq(nd_clusters_count(c), 0);
    nd_clusters_free(c);
}
END_TEST

START_TEST(test_threshold_is_exact)
{
    /* 1-word shingles: J = 4/5 = 0.8 exactly reaches the default threshold; 3/5 does not. */
    static const char *const texts[] = {"a b c d", "a b c d e", "a b c"};
    nd_clusters *c = cluster_texts(texts, 3, 1, ND_KEEP_FIRST);
    ck_assert_uint_eq(nd_clusters_count(c), 1);
    expect_cluster(c, 0, (const size_t[]){0, 1}, 2);
    nd_clusters_free(c);
}
END_TEST

START_TEST(test_many_copies)
{
    enum { N = 300 };
    const char *texts[N];
    for (int i = 0; i < N; i++)
        texts[i] = "one text copied many times over and over again in this corpus";
    nd_cluster_stats stats;
    nd_options opts = ND_OPTIONS_INIT;
    ck_assert_int_eq(nd_options_resolve(&opts), ND_OK);
    nd_sketcher *sk = NULL;
    nd_index *index = NULL;
    ck_assert_int_eq(nd_sketcher_new(&sk, &opts), ND_OK);
    ck_assert_int_eq(nd_index_new(&index, &opts), ND_OK);
    for (int i = 0; i < N; i++) {
        nd_sketch sketch = ND_SKETCH_INIT;
        ck_assert_int_eq(nd_sketch_text(&sketch, sk, texts[i], strlen(texts[i])), ND_OK);
        ck_assert_int_eq(nd_index_add(index, &sketch, 1), ND_OK);
        nd_sketch_clear(&sketch);
    }
    nd_clusters *c = NULL;
    ck_assert_int_eq(nd_index_cluster(&c, &stats, index, ND_KEEP_FIRST), ND_OK);
    ck_assert_uint_eq(nd_clusters_count(c), 1);
    const nd_member *m;
    ck_assert_uint_eq(nd_clusters_get(&m, c, 0), N);
    ck_assert_uint_eq(stats.exact_groups, 1);
    ck_assert_uint_eq(stats.candidate_pairs, 0); /* copies never reach LSH */
    nd_clusters_free(c);
    nd_index_free(index);
    nd_sketcher_free(sk);
}
END_TEST

/* The first key chunk moves to huge pages at 8192 texts (index.c,
 * next_chunk): keys written before the move and after it still meet. Three
 * near copies (one word of 20 changed: J = 19/21) whose originals lie
 * before the move, all else distinct. */
START_TEST(test_first_chunk_moves)
{
    enum { N = 10000, WORDS = 20 };
    static const size_t originals[3] = {17, 4000, 8191}, copies[3] = {9017, 9500, 9999};
    char **texts = malloc(N * sizeof *texts);
    ck_assert_ptr_nonnull(texts);
    for (size_t i = 0; i < N; i++) {
        size_t from = i;
        for (int k = 0; k < 3; k++)
            if (i == copies[k])
                from = originals[k];
        char *t = malloc(WORDS * 24);
        ck_assert_ptr_nonnull(t);
        size_t len = 0;
        for (int w = 0; w < WORDS; w++)
            len += (size_t)snprintf(t + len, 24, "%sw%zux%d", w ? " " : "", w == WORDS - 1 ? i : from, w);
        texts[i] = t;
    }
    nd_clusters *c = cluster_texts((const char *const *)texts, N, 1, ND_KEEP_FIRST);
    ck_assert_uint_eq(nd_clusters_count(c), 3);
    for (size_t k = 0; k < 3; k++) {
        const size_t pair[2] = {originals[k], copies[k]};
        expect_cluster(c, k, pair, 2);
    }
    nd_clusters_free(c);
    for (size_t i = 0; i < N; i++)
        free(texts[i]);
    free(texts);
}
END_TEST

START_TEST(test_arabic_fixture)
{
    static const char *const names[] = {
        "arabic-news/page.txt",         "arabic-news/other-same-subject.txt", "arabic-news/rewrite-word.txt",
        "arabic-news/rewrite-drop.txt", "arabic-news/rewrite-footer.txt",
    };
    char *texts[5];
    for (int i = 0; i < 5; i++) {
        size_t len;
        texts[i] = read_fixture(names[i], &len);
        ck_assert_ptr_nonnull(texts[i]);
    }
    nd_clusters *c = cluster_texts((const char *const *)texts, 5, 5, ND_KEEP_FIRST);
    ck_assert_uint_eq(nd_clusters_count(c), 1);
    expect_cluster(c, 0, (const size_t[]){0, 2, 3, 4}, 4);
    nd_clusters_free(c);
    for (int i = 0; i < 5; i++)
        free(texts[i]);
}
END_TEST

/* Spilling the index to files (at any point) changes nothing in the
 * clusters: same members, same order, same Jaccards. N spans more than two
 * chunks of band keys (65,536 texts each): the spill writes the first
 * chunk, adding writes the second, and clustering reads both back. */
START_TEST(test_spill_same_clusters)
{
    enum { N = 140000 };
    char text[400];
    nd_options opts = ND_OPTIONS_INIT;
    ck_assert_int_eq(nd_options_resolve(&opts), ND_OK);
    nd_sketcher *sk = NULL;
    ck_assert_int_eq(nd_sketcher_new(&sk, &opts), ND_OK);
    nd_index *plain = NULL, *spilled = NULL;
    ck_assert_int_eq(nd_index_new(&plain, &opts), ND_OK);
    ck_assert_int_eq(nd_index_new(&spilled, &opts), ND_OK);
    for (int i = 0; i < N; i++) {
        /* groups of 3 near-copies: 25 words of group i / 3 (words of one
         * group appear in no other), the third copy with its last word changed */
        int g = i / 3, v = i % 3;
        size_t len = 0;
        for (int w = 0; w < 25; w++)
            len += (size_t)snprintf(text + len, sizeof text - len, "%s%x%c", w ? " " : "", g, 'a' + w);
        snprintf(text + len, sizeof text - len, " %s", v == 2 ? "changed" : "end");
        for (int which = 0; which < 2; which++) {
            nd_sketch sketch = ND_SKETCH_INIT;
            ck_assert_int_eq(nd_sketch_text(&sketch, sk, text, strlen(text)), ND_OK);
            ck_assert_int_eq(nd_index_add(which ? spilled : plain, &sketch, (uint64_t)i % 5), ND_OK);
            nd_sketch_clear(&sketch);
        }
        if (i == 70000)
            ck_assert_int_eq(nd_index_spill(spilled, "/tmp"), ND_OK); /* existing docs move too */
    }
    for (int keep = 0; keep < 2; keep++) {
        nd_clusters *a = NULL, *b = NULL;
        ck_assert_int_eq(nd_index_cluster(&a, NULL, plain, (nd_keep)keep), ND_OK);
        ck_assert_int_eq(nd_index_cluster(&b, NULL, spilled, (nd_keep)keep), ND_OK);
        ck_assert_uint_gt(nd_clusters_count(a), N / 4);
        ck_same_clusters(a, b);
        nd_clusters_free(a);
        nd_clusters_free(b);
    }
    ck_assert_int_eq(nd_index_spill(spilled, "/nonexistent-dir"), ND_OK); /* already spilled: nothing to do */
    nd_index_free(plain);
    nd_index_free(spilled);
    nd_sketcher_free(sk);
}
END_TEST

/* ND_KEEP_RANK: the lowest rank survives, ties in input order; texts
 * without a rank come last. */
START_TEST(test_keep_rank)
{
    static const char *const text = "alpha beta gamma delta epsilon zeta eta theta iota kappa";
    static const struct {
        uint64_t ranks[3];
        size_t rank_count;
        size_t survivor;
    } rows[] = {
        {{5, 1, 1}, 3, 1}, /* 1 and 2 tie: input order */
        {{5, 9, 0}, 2, 0}, /* text 2 has no rank: last */
        {{0, 0, 0}, 0, 0}, /* no ranks: input order */
        {{7, 8, 3}, 3, 2},
    };
    nd_options opts = ND_OPTIONS_INIT;
    ck_assert_int_eq(nd_options_resolve(&opts), ND_OK);
    nd_sketcher *sk = NULL;
    ck_assert_int_eq(nd_sketcher_new(&sk, &opts), ND_OK);
    for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
        nd_index *index = NULL;
        ck_assert_int_eq(nd_index_new(&index, &opts), ND_OK);
        for (int i = 0; i < 3; i++) {
            nd_sketch sketch = ND_SKETCH_INIT;
            ck_assert_int_eq(nd_sketch_text(&sketch, sk, text, strlen(text)), ND_OK);
            ck_assert_int_eq(nd_index_add(index, &sketch, 1), ND_OK);
            nd_sketch_clear(&sketch);
        }
        ck_assert_int_eq(nd_index_set_ranks(index, rows[r].ranks, rows[r].rank_count), ND_OK);
        nd_clusters *c = NULL;
        ck_assert_int_eq(nd_index_cluster(&c, NULL, index, ND_KEEP_RANK), ND_OK);
        const nd_member *m;
        ck_assert_uint_eq(nd_clusters_get(&m, c, 0), 3);
        ck_assert_uint_eq(m[0].doc, rows[r].survivor);
        nd_clusters_free(c);
        nd_index_free(index);
    }
    nd_sketcher_free(sk);
}
END_TEST

/* ND_KEEP_LONGEST with weights past 32 bits (the index keeps those in a
 * list of its own, store.h): the heaviest survives, ties in input order,
 * whether the texts are one identical set or near-copies (split around a
 * center), in memory or spilled. */
START_TEST(test_keep_longest_wide_weights)
{
    const uint64_t G4 = UINT32_MAX;
    const struct {
        uint64_t weights[4];
        size_t survivor;
    } rows[] = {
        {{7, G4 + 4, G4 + 6, 0}, 2},
        {{G4, G4 - 1, 3, 0}, 0}, /* UINT32_MAX itself is a wide weight */
        {{G4 - 1, G4, (uint64_t)1 << 40, G4}, 2},
        {{(uint64_t)1 << 33, (uint64_t)1 << 33, 1, ((uint64_t)1 << 33) + 1}, 3},
        {{G4 + 1, G4 + 1, G4 + 1, G4 + 1}, 0},
    };
    char texts[2][420];
    size_t len = 0;
    for (int w = 0; w < 40; w++)
        len += (size_t)snprintf(texts[0] + len, 400 - len, "%sword%d", w ? " " : "", w);
    memcpy(texts[1], texts[0], len);
    memcpy(texts[1] + len, " closing", sizeof " closing"); /* J = 36/37 with 5-word shingles */
    nd_options opts = ND_OPTIONS_INIT;
    ck_assert_int_eq(nd_options_resolve(&opts), ND_OK);
    nd_sketcher *sk = NULL;
    ck_assert_int_eq(nd_sketcher_new(&sk, &opts), ND_OK);
    for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
        for (int variant = 0; variant < 4; variant++) { /* near-copies?, spilled? */
            nd_index *index = NULL;
            ck_assert_int_eq(nd_index_new(&index, &opts), ND_OK);
            for (int i = 0; i < 4; i++) {
                const char *text = texts[(variant & 1) && i % 2];
                nd_sketch sketch = ND_SKETCH_INIT;
                ck_assert_int_eq(nd_sketch_text(&sketch, sk, text, strlen(text)), ND_OK);
                ck_assert_int_eq(nd_index_add(index, &sketch, rows[r].weights[i]), ND_OK);
                nd_sketch_clear(&sketch);
                if (variant & 2 && i == 1)
                    ck_assert_int_eq(nd_index_spill(index, "/tmp"), ND_OK);
            }
            nd_clusters *c = NULL;
            ck_assert_int_eq(nd_index_cluster(&c, NULL, index, ND_KEEP_LONGEST), ND_OK);
            const nd_member *m;
            ck_assert_uint_eq(nd_clusters_count(c), 1);
            ck_assert_uint_eq(nd_clusters_get(&m, c, 0), 4);
            ck_assert_uint_eq(m[0].doc, rows[r].survivor);
            nd_clusters_free(c);
            nd_index_free(index);
        }
    }
    nd_sketcher_free(sk);
}
END_TEST

START_TEST(test_spill_bad_dir)
{
    nd_options opts = ND_OPTIONS_INIT;
    ck_assert_int_eq(nd_options_resolve(&opts), ND_OK);
    nd_index *index = NULL;
    ck_assert_int_eq(nd_index_new(&index, &opts), ND_OK);
    ck_assert_int_eq(nd_index_spill(index, "/nonexistent-dir/for-sure"), ND_EIO);
    ck_assert_str_eq(nd_strerror(ND_EIO), "cannot write or read a temporary file (disk full? see --tmpdir)");
    nd_index_free(index);
}
END_TEST

/* nd_index_add_prepared (set hash and folded keys computed ahead, texts
 * added a few at a time, as the CLI's pipeline does) builds the same index
 * as nd_index_add_ids, entry for entry: counts, set hashes, weights, ids
 * and every band key, in memory and spilled. The texts cross a key chunk
 * (65,536 texts) inside one call, include empty ones, and the spilled
 * pair spills in the middle. */
START_TEST(test_add_prepared_same_index)
{
    enum { N = ND_KEY_CHUNK + 700, STEP = 37, MAX_IDS = 9 };
    nd_options opts = ND_OPTIONS_INIT;
    ck_assert_int_eq(nd_options_resolve(&opts), ND_OK);
    unsigned bands = opts.bands;
    uint32_t *ids = malloc((size_t)N * MAX_IDS * sizeof *ids);
    size_t *counts = malloc(N * sizeof *counts);
    uint64_t *keys = malloc((size_t)N * bands * sizeof *keys);
    uint32_t *folded = malloc((size_t)N * bands * sizeof *folded);
    nd_prepared_text *texts = malloc(N * sizeof *texts);
    ck_assert(ids && counts && keys && folded && texts);
    uint64_t x = 88172645463325252u;
    for (size_t i = 0; i < N; i++) {
        counts[i] = i % 11 == 0 ? 0 : 1 + i % MAX_IDS;
        for (size_t k = 0; k < counts[i]; k++)
            ids[i * MAX_IDS + k] = (uint32_t)(i % 500) * 16 + (uint32_t)k; /* sorted; sets repeat */
        for (unsigned j = 0; j < bands; j++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            keys[i * bands + j] = i % 3 ? x : keys[(i - i % 3) * bands + j] ^ j; /* some keys shared */
        }
        nd_index_fold_keys(folded + i * bands, keys + i * bands, bands);
        const uint32_t *t = counts[i] ? ids + i * MAX_IDS : NULL;
        texts[i] = (nd_prepared_text){t, counts[i], nd_index_set_hash(t, counts[i]), folded + i * bands, i % 7};
    }
    for (int spill = 0; spill < 2; spill++) {
        nd_index *a = NULL, *b = NULL;
        ck_assert_int_eq(nd_index_new(&a, &opts), ND_OK);
        ck_assert_int_eq(nd_index_new(&b, &opts), ND_OK);
        for (size_t i = 0; i < N; i += STEP) {
            size_t n = N - i < STEP ? N - i : STEP;
            for (size_t k = i; k < i + n; k++) {
                const uint32_t *t = counts[k] ? ids + k * MAX_IDS : NULL;
                ck_assert_int_eq(nd_index_add_ids(a, t, counts[k], keys + k * bands, k % 7), ND_OK);
            }
            ck_assert_int_eq(nd_index_add_prepared(b, texts + i, n), ND_OK);
            if (spill && i / STEP == 1000) {
                ck_assert_int_eq(nd_index_spill(a, "/tmp"), ND_OK);
                ck_assert_int_eq(nd_index_spill(b, "/tmp"), ND_OK);
            }
        }
        nd_store sa, sb;
        ck_assert_int_eq(nd_index_store(a, &sa), ND_OK);
        ck_assert_int_eq(nd_index_store(b, &sb), ND_OK);
        ck_assert_uint_eq(sa.count, N);
        ck_assert_uint_eq(sb.count, N);
        nd_id_buffer ba = {0}, bb = {0};
        for (size_t i = 0; i < N; i++) {
            ck_assert_uint_eq(sa.meta[i].count, sb.meta[i].count);
            ck_assert_uint_eq(sa.meta[i].set_hash, sb.meta[i].set_hash);
            ck_assert_uint_eq(sa.meta[i].weight, sb.meta[i].weight);
            ck_assert_uint_eq(sb.meta[i].weight, i % 7);
            ck_assert_uint_eq(sb.meta[i].count, counts[i]);
            if (i >= 500) /* the same set as text i - 500, or not */
                ck_assert((sb.meta[i].set_hash == sb.meta[i - 500].set_hash) ==
                          (counts[i] == counts[i - 500] &&
                           (counts[i] == 0 || !memcmp(ids + i * MAX_IDS, ids + (i - 500) * MAX_IDS, counts[i] * 4))));
            int rc = ND_OK;
            const uint32_t *ia = sa.ids(sa.backend, i, &ba, &rc), *ib = sb.ids(sb.backend, i, &bb, &rc);
            ck_assert_int_eq(rc, ND_OK);
            if (counts[i])
                ck_assert_mem_eq(ia, ib, counts[i] * sizeof *ia);
        }
        free(ba.data);
        free(bb.data);
        uint32_t *ka = malloc(ND_KEY_CHUNK * sizeof *ka), *kb = malloc(ND_KEY_CHUNK * sizeof *kb);
        uint32_t *kc = malloc(ND_KEY_CHUNK * sizeof *kc);
        ck_assert(ka && kb && kc);
        for (size_t c = 0; c * ND_KEY_CHUNK < N; c++) {
            size_t in_chunk = N - c * ND_KEY_CHUNK < ND_KEY_CHUNK ? N - c * ND_KEY_CHUNK : ND_KEY_CHUNK;
            for (unsigned j = 0; j < bands; j++) {
                const uint32_t *pa = sa.band_keys(sa.backend, j, c, ka), *pb = sb.band_keys(sb.backend, j, c, kb);
                ck_assert(pa && pb);
                ck_assert_mem_eq(pa, pb, in_chunk * sizeof *pa);
                for (size_t k = 0; k < in_chunk; k++) { /* the fold index.c keeps */
                    uint64_t key = keys[(c * ND_KEY_CHUNK + k) * bands + j];
                    kc[k] = (uint32_t)(key ^ (key >> 32));
                }
                ck_assert_mem_eq(pb, kc, in_chunk * sizeof *pb);
            }
        }
        free(ka);
        free(kb);
        free(kc);
        nd_index_free(a);
        nd_index_free(b);
    }
    free(ids);
    free(counts);
    free(keys);
    free(folded);
    free(texts);
}
END_TEST

/* ****  Raw texts (nd_index_add_raw): the same results as sorted ids  **** */

enum { RAW_TEXTS = 1200, RAW_WORDS = 90 };

/* Text i of a corpus where texts come alone, as exact copies, as near
 * copies (a word changed), and as periodic texts (one phrase said three or
 * four times: the same set of shingles, each repeated a different number
 * of times); some are empty. Into buf (room for RAW_WORDS * 8 bytes). */
static size_t raw_text(char *buf, size_t i)
{
    static const char *const words[] = {"alpha", "beta",  "gamma", "delta", "eps",  "zeta", "eta",   "theta",
                                        "iota",  "kappa", "lam",   "mu",    "nu",   "xi",   "omi",   "pi",
                                        "rho",   "sig",   "tau",   "ups",   "phi",  "chi",  "psi",   "omega",
                                        "one",   "two",   "three", "four",  "five", "six",  "seven", "eight"};
    enum { VOCAB = sizeof words / sizeof *words };
    size_t kind = i % 10, n = 0;
    if (kind == 9)
        return 0; /* empty */
    /* kinds 1 and 2 copy kind 0; kind 4 is kind 3 with a word changed */
    size_t seed = kind <= 2 ? 0 : kind == 4 ? 3 : kind;
    uint64_t x = 0x9E3779B97F4A7C15u * (i / 10 * 10 + seed + 1);
    size_t count = 20 + (size_t)(x >> 59) * 2;
    if (kind == 6 || kind == 7) { /* periodic: 7 words said 3 (kind 6) or 4 (kind 7) times: one set */
        for (size_t r = 0; r < (kind == 6 ? 3u : 4u); r++) {
            for (size_t w = 0; w < 7; w++)
                n += (size_t)snprintf(buf + n, 10, "%s ", words[(i / 10 * 7 + w * 3) % VOCAB]);
        }
        return n - 1;
    }
    for (size_t w = 0; w < count && w < RAW_WORDS; w++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        size_t pick = (size_t)(x % VOCAB);
        if (kind == 4 && w == count / 2) /* a near copy of kind 3: one word changed */
            pick = (pick + 1) % VOCAB;
        n += (size_t)snprintf(buf + n, 10, "%s ", words[pick]);
    }
    return n ? n - 1 : 0;
}

static void same_stats(const nd_cluster_stats *a, const nd_cluster_stats *b)
{
    ck_assert_uint_eq(a->candidate_pairs, b->candidate_pairs);
    ck_assert_uint_eq(a->verified_pairs, b->verified_pairs);
    ck_assert_uint_eq(a->exact_groups, b->exact_groups);
}

/* Cluster a and b (threads given to both, unless 0) and check the same
 * clusters and statistics; a's statistics in *stats, its cluster count
 * returned. */
static size_t cluster_alike(nd_index *a, nd_index *b, unsigned threads, nd_cluster_stats *stats)
{
    if (threads) {
        nd_index_set_threads(a, threads);
        nd_index_set_threads(b, threads);
    }
    nd_clusters *ca = NULL, *cb = NULL;
    nd_cluster_stats sb;
    ck_assert_int_eq(nd_index_cluster(&ca, stats, a, ND_KEEP_FIRST), ND_OK);
    ck_assert_int_eq(nd_index_cluster(&cb, &sb, b, ND_KEEP_FIRST), ND_OK);
    ck_same_clusters(ca, cb);
    same_stats(stats, &sb);
    size_t count = nd_clusters_count(ca);
    nd_clusters_free(ca);
    nd_clusters_free(cb);
    return count;
}

/* The corpus into `sorted` (nd_index_add_ids of sorted distinct ids) and
 * `raw` (nd_index_add_raw of the ids as made; kept: nd_index_add_kept,
 * the ids written into blocks of 300 ids or more that the index adopts
 * when the next is started, and at the end), spilling both after text
 * `spill_at` (none past RAW_TEXTS). Returns how many texts' raw ids were
 * not sorted distinct. */
static size_t index_both(nd_index *sorted, nd_index *raw, const nd_options *opts, size_t spill_at, int kept)
{
    uint32_t *block = NULL;
    size_t used = 0, capacity = 0;
    nd_sketcher *sk = NULL;
    ck_assert_int_eq(nd_sketcher_new(&sk, opts), ND_OK);
    static char text[RAW_WORDS * 8 + 64];
    size_t unsorted = 0;
    for (size_t i = 0; i < RAW_TEXTS; i++) {
        size_t len = raw_text(text, i);
        uint64_t keys[ND_MAX_PERM];
        nd_sketch_ref ref;
        ck_assert_int_eq(nd_sketch_text_ref(&ref, sk, text, len), ND_OK);
        nd_lsh_band_keys(keys, ref.signature, opts->bands, opts->rows);
        ck_assert_int_eq(nd_index_add_ids(sorted, ref.ids, ref.count, keys, len), ND_OK);
        uint32_t *ids = malloc((ref.count ? ref.count : 1) * sizeof *ids);
        ck_assert_ptr_nonnull(ids);
        memcpy(ids, ref.ids, ref.count * sizeof *ids);
        size_t count = ref.count;
        ck_assert_int_eq(nd_sketch_text_ref_raw(&ref, sk, text, len), ND_OK);
        uint64_t raw_keys[ND_MAX_PERM];
        nd_lsh_band_keys(raw_keys, ref.signature, opts->bands, opts->rows);
        ck_assert_mem_eq(keys, raw_keys, opts->bands * sizeof *keys); /* the same signature */
        unsorted += ref.count != count || (count > 0 && memcmp(ids, ref.ids, count * sizeof *ids) != 0);
        if (!kept) {
            ck_assert_int_eq(nd_index_add_raw(raw, ref.ids, ref.count, raw_keys, len), ND_OK);
        } else {
            if (capacity - used < ref.count) {
                if (block)
                    ck_assert_int_eq(nd_index_adopt_ids(raw, block, capacity), ND_OK);
                capacity = ref.count > 300 ? ref.count : 300;
                block = nd_index_ids_block_new(capacity);
                ck_assert_ptr_nonnull(block);
                used = 0;
            }
            memcpy(block + used, ref.ids, ref.count * sizeof *block);
            ck_assert_int_eq(nd_index_add_kept(raw, block + used, ref.count, raw_keys, len), ND_OK);
            used += ref.count;
        }
        free(ids);
        if (i == spill_at) {
            ck_assert_int_eq(nd_index_spill(sorted, "/tmp"), ND_OK);
            ck_assert_int_eq(nd_index_spill(raw, "/tmp"), ND_OK);
        }
    }
    if (block)
        ck_assert_int_eq(nd_index_adopt_ids(raw, block, capacity), ND_OK);
    nd_sketcher_free(sk);
    return unsorted;
}

/* Clustering and listing pairs on raw texts give what sorted ids give,
 * counts included (ids copied, or kept in blocks the index adopts): copies found as identical sets (also a periodic
 * text and its copy with more repeats: one set), near copies verified, at 1 and 2 threads, with Jaccard and
 * containment, in memory and spilled (spilled before any text, or half way). */
START_TEST(test_raw_same_results)
{
    static const size_t spill_at[] = {(size_t)-1, 0, RAW_TEXTS / 2};
    for (int kind = 0; kind < 4; kind++) {
        int measure = kind & 1, kept = kind >> 1;
        for (size_t s = 0; s < sizeof spill_at / sizeof *spill_at; s++) {
            nd_options opts = ND_OPTIONS_INIT;
            opts.measure = measure ? ND_MEASURE_CONTAINMENT : ND_MEASURE_JACCARD;
            opts.threshold = 0.7;
            ck_assert_int_eq(nd_options_resolve(&opts), ND_OK);
            nd_index *sorted = NULL, *raw = NULL;
            ck_assert_int_eq(nd_index_new(&sorted, &opts), ND_OK);
            ck_assert_int_eq(nd_index_new(&raw, &opts), ND_OK);
            size_t unsorted = index_both(sorted, raw, &opts, spill_at[s], kept);
            ck_assert_uint_gt(unsorted, RAW_TEXTS / 2); /* the raw path was taken */
            if (s == 0) {
                /* in memory: most texts are never sorted; with containment
                 * (whose inverted index reads texts on several threads)
                 * every text is settled before the store is read */
                nd_store view;
                ck_assert_int_eq(nd_index_store(raw, &view), ND_OK);
                size_t left = 0;
                for (size_t i = 0; view.unsettled && i < RAW_TEXTS; i++)
                    left += view.unsettled[i];
                /* raw ids are counted as memory (the spill budget), kept or copied */
                ck_assert_uint_ge(nd_index_memory(raw), nd_index_memory(sorted));
                if (measure)
                    ck_assert_ptr_null(view.unsettled);
                else
                    ck_assert_uint_gt(left, RAW_TEXTS / 10);
            }
            for (unsigned threads = 1; threads <= 2; threads++) {
                nd_cluster_stats sa, sb;
                ck_assert_uint_gt(cluster_alike(sorted, raw, threads, &sa), RAW_TEXTS / 20);
                ck_assert_uint_gt(sa.exact_groups, RAW_TEXTS / 20);
                nd_pairs *pa = NULL, *pb = NULL;
                ck_assert_int_eq(nd_index_pairs(&pa, &sa, sorted), ND_OK);
                ck_assert_int_eq(nd_index_pairs(&pb, &sb, raw), ND_OK);
                const nd_pair *xa, *xb;
                size_t na = nd_pairs_get(&xa, pa), nb = nd_pairs_get(&xb, pb);
                ck_assert_uint_eq(na, nb);
                ck_assert_uint_gt(na, 0);
                for (size_t k = 0; k < na; k++) {
                    ck_assert(xa[k].a == xb[k].a && xa[k].b == xb[k].b && xa[k].shared == xb[k].shared);
                    ck_assert(xa[k].jaccard == xb[k].jaccard);
                }
                same_stats(&sa, &sb);
                nd_pairs_free(pa);
                nd_pairs_free(pb);
            }
            nd_index_free(sorted);
            nd_index_free(raw);
        }
    }
}
END_TEST

/* One thread settling texts through the store (store.h settle) in its
 * own order, a few at a time. */
typedef struct settler {
    const nd_store *store;
    size_t from, step; /* texts from, from + step, ... (mod RAW_TEXTS) */
} settler;

static void *settle_in_order(void *arg)
{
    const settler *s = arg;
    nd_id_buffer scratch = {NULL, 0};
    uint32_t docs[16];
    size_t n = 0;
    for (size_t k = 0; k < RAW_TEXTS; k++) {
        docs[n++] = (uint32_t)((s->from + k * s->step) % RAW_TEXTS);
        if (n == 16 || k == RAW_TEXTS - 1) {
            s->store->settle(s->store->backend, docs, n, &scratch);
            n = 0;
        }
    }
    free(scratch.data);
    return NULL;
}

/* The store's settle (clustering's helpers settle the texts of bands
 * prepared ahead of verification) gives each raw text what reading it
 * (ids()) gives: the sorted distinct ids, count and set hash of the same
 * text added sorted; first on one thread, then on three at once (in
 * different orders) while ids() reads every text on a fourth. Clustering a
 * raw index (where bands' helpers settle ahead) gives the same clusters
 * and counts as the sorted one at 2, 3 and 4 threads. */
START_TEST(test_raw_settle_ahead)
{
    nd_options opts = ND_OPTIONS_INIT;
    opts.threshold = 0.7;
    ck_assert_int_eq(nd_options_resolve(&opts), ND_OK);
    nd_index *sorted = NULL, *raw = NULL;
    ck_assert_int_eq(nd_index_new(&sorted, &opts), ND_OK);
    ck_assert_int_eq(nd_index_new(&raw, &opts), ND_OK);
    ck_assert_uint_gt(index_both(sorted, raw, &opts, (size_t)-1, 1), RAW_TEXTS / 2);
    nd_store sv, rv;
    ck_assert_int_eq(nd_index_store(sorted, &sv), ND_OK);
    ck_assert_int_eq(nd_index_store(raw, &rv), ND_OK);
    ck_assert_ptr_nonnull(rv.unsettled);
    ck_assert(rv.settle != NULL);
    size_t left = 0;
    for (size_t d = 0; d < RAW_TEXTS; d++)
        left += rv.unsettled[d];
    ck_assert_uint_gt(left, RAW_TEXTS / 10);
    /* one thread: the even texts */
    nd_id_buffer scratch = {NULL, 0}, buf = {NULL, 0};
    for (uint32_t d = 0; d < RAW_TEXTS; d += 2)
        rv.settle(rv.backend, &d, 1, &scratch);
    for (size_t d = 0; d < RAW_TEXTS; d += 2)
        ck_assert_uint_eq(rv.unsettled[d], 0);
    /* three settlers and a reader at once */
    settler order[3] = {{&rv, 1, 1}, {&rv, RAW_TEXTS - 1, RAW_TEXTS - 1}, {&rv, 5, 7}};
    pthread_t threads[3];
    for (int t = 0; t < 3; t++)
        ck_assert_int_eq(pthread_create(&threads[t], NULL, settle_in_order, &order[t]), 0);
    for (size_t d = 0; d < RAW_TEXTS; d++) {
        int rc = ND_OK;
        const uint32_t *got = rv.ids(rv.backend, d, &buf, &rc);
        const uint32_t *want = sv.ids(sv.backend, d, &buf, &rc);
        ck_assert_int_eq(rc, ND_OK);
        ck_assert_uint_eq(rv.meta[d].count, sv.meta[d].count);
        ck_assert(sv.meta[d].count == 0 || memcmp(got, want, sv.meta[d].count * sizeof *got) == 0);
    }
    for (int t = 0; t < 3; t++)
        pthread_join(threads[t], NULL);
    for (size_t d = 0; d < RAW_TEXTS; d++) {
        ck_assert_uint_eq(rv.unsettled[d], 0);
        ck_assert_uint_eq(rv.meta[d].count, sv.meta[d].count);
        ck_assert(rv.meta[d].count == 0 || rv.meta[d].set_hash == sv.meta[d].set_hash);
    }
    free(scratch.data);
    free(buf.data);
    nd_index_free(raw);
    nd_clusters *want = NULL;
    nd_cluster_stats want_stats;
    ck_assert_int_eq(nd_index_cluster(&want, &want_stats, sorted, ND_KEEP_FIRST), ND_OK);
    ck_assert_uint_gt(want_stats.candidate_pairs, 0);
    for (unsigned threads_n = 2; threads_n <= 4; threads_n++) {
        nd_index *again = NULL, *unused = NULL;
        ck_assert_int_eq(nd_index_new(&again, &opts), ND_OK);
        ck_assert_int_eq(nd_index_new(&unused, &opts), ND_OK);
        index_both(unused, again, &opts, (size_t)-1, threads_n & 1);
        nd_index_set_threads(again, threads_n);
        nd_clusters *got = NULL;
        nd_cluster_stats got_stats;
        ck_assert_int_eq(nd_index_cluster(&got, &got_stats, again, ND_KEEP_FIRST), ND_OK);
        ck_same_clusters(want, got);
        same_stats(&want_stats, &got_stats);
        nd_clusters_free(got);
        nd_index_free(again);
        nd_index_free(unused);
    }
    nd_clusters_free(want);
    nd_index_free(sorted);
}
END_TEST

/* Raw texts past the first chunk of band keys (ND_KEY_CHUNK texts): ids
 * made up (shuffled, some repeated), copies and near copies within the
 * second chunk and across the two; the same clusters and counts as the
 * ids sorted distinct. */
START_TEST(test_raw_past_first_chunk)
{
    enum { N = ND_KEY_CHUNK + 3000, IDS = 24 };
    nd_options opts = ND_OPTIONS_INIT;
    ck_assert_int_eq(nd_options_resolve(&opts), ND_OK);
    nd_index *sorted = NULL, *raw = NULL;
    ck_assert_int_eq(nd_index_new(&sorted, &opts), ND_OK);
    ck_assert_int_eq(nd_index_new(&raw, &opts), ND_OK);
    uint32_t *sig = malloc(opts.num_perm * sizeof *sig);
    ck_assert_ptr_nonnull(sig);
    for (size_t i = 0; i < N; i++) {
        /* text i's ids: those of plain text `of` (i % 7 == 1: a copy of
         * the text before it, or near the end of one about 40,000 texts
         * before, in the first chunk, that has no other copy; i % 7 == 3: a near copy, one id changed, of
         * the text 3 before) */
        size_t of = i;
        if (i % 7 == 1)
            of = i >= N - 1000 ? (i - 40000) / 7 * 7 + 2 : i - 1;
        else if (i % 7 == 3)
            of = i - 3;
        uint32_t ids[IDS + 4], copy[IDS + 4], tmp[IDS + 4];
        uint64_t x = 0x2545F4914F6CDD1Du * (of + 1);
        for (size_t k = 0; k < IDS; k++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            ids[k] = (uint32_t)x;
        }
        if (i % 7 == 3 && of != i)
            ids[IDS / 2] ^= 0x5A5A5A5Au;
        size_t count = IDS;
        for (size_t r = 0; r < (i % 5); r++) /* repeats */
            ids[count++] = ids[(i + r * 7) % IDS];
        for (size_t k = count - 1; k > 0; k--) { /* shuffled, differently for each text */
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            size_t j = (size_t)(x % (k + 1));
            uint32_t t = ids[k];
            ids[k] = ids[j];
            ids[j] = t;
        }
        memcpy(copy, ids, count * sizeof *ids);
        size_t distinct = nd_sort_distinct_u32(copy, tmp, count);
        nd_minhash(sig, opts.num_perm, opts.seed, copy, distinct);
        uint64_t keys[ND_MAX_PERM];
        nd_lsh_band_keys(keys, sig, opts.bands, opts.rows);
        ck_assert_int_eq(nd_index_add_ids(sorted, copy, distinct, keys, i % 3), ND_OK);
        ck_assert_int_eq(nd_index_add_raw(raw, ids, count, keys, i % 3), ND_OK);
    }
    free(sig);
    nd_cluster_stats sa;
    cluster_alike(sorted, raw, 0, &sa);
    ck_assert_uint_gt(sa.exact_groups, N / 10);
    nd_index_free(sorted);
    nd_index_free(raw);
}
END_TEST

/* Units (the CLI's paragraph and line modes): nd_sketch_units_raw gives
 * nd_sketch_units's units (spans, signatures) with the ids as made, and an
 * index of them added raw (nd_index_add_prepared_raw, a few at a time), or
 * kept where they were written (nd_index_add_prepared_kept: a block the
 * index adopts once all are added, as the CLI's last block), clusters them
 * as an index of the sorted units added with nd_index_add_prepared does: the same groups of copies (a paragraph
 * repeated in other documents, a line pasted twice in one), near copies
 * and counts, at 1 and 2 threads, in memory and spilled half way. */
typedef struct {
    uint32_t *ids; /* every unit's ids, back to back */
    size_t used, capacity;
    size_t *at, *count; /* per unit */
    uint32_t *keys;     /* per unit, folded */
    nd_span *spans;
    size_t units, units_capacity;
    unsigned bands, rows;
} unit_list;

static int list_unit(void *ctx, nd_span span, const nd_sketch_ref *sketch)
{
    unit_list *l = ctx;
    if (l->units == l->units_capacity) {
        l->units_capacity = l->units_capacity ? 2 * l->units_capacity : 64;
        l->at = realloc(l->at, l->units_capacity * sizeof *l->at);
        l->count = realloc(l->count, l->units_capacity * sizeof *l->count);
        l->keys = realloc(l->keys, l->units_capacity * l->bands * sizeof *l->keys);
        l->spans = realloc(l->spans, l->units_capacity * sizeof *l->spans);
        ck_assert(l->at && l->count && l->keys && l->spans);
    }
    if (l->used + sketch->count > l->capacity) {
        l->capacity = 2 * (l->used + sketch->count);
        l->ids = realloc(l->ids, l->capacity * sizeof *l->ids);
        ck_assert_ptr_nonnull(l->ids);
    }
    memcpy(l->ids + l->used, sketch->ids, sketch->count * sizeof *l->ids);
    l->at[l->units] = l->used;
    l->count[l->units] = sketch->count;
    l->used += sketch->count;
    nd_lsh_band_keys_folded(l->keys + l->units * l->bands, sketch->signature, l->bands, l->rows);
    l->spans[l->units++] = span;
    return ND_OK;
}

static void unit_list_free(unit_list *l)
{
    free(l->ids);
    free(l->at);
    free(l->count);
    free(l->keys);
    free(l->spans);
}

START_TEST(test_units_raw_same_results)
{
    enum { DOCS = 300, PARAS = 4 };
    nd_options opts = ND_OPTIONS_INIT;
    opts.threshold = 0.7;
    ck_assert_int_eq(nd_options_resolve(&opts), ND_OK);
    nd_sketcher *sk = NULL;
    ck_assert_int_eq(nd_sketcher_new(&sk, &opts), ND_OK);
    unit_list sorted = {.bands = opts.bands, .rows = opts.rows}, raw = sorted;
    static char doc[PARAS * (RAW_WORDS * 8 + 2) + 2 * RAW_WORDS * 8 + 8];
    for (size_t d = 0; d < DOCS; d++) {
        size_t len = 0;
        for (size_t p = 0; p < PARAS; p++) { /* paragraphs of the raw corpus: copies across documents */
            len += raw_text(doc + len, (d * 7 + p * 13) % RAW_TEXTS);
            doc[len++] = '\n';
            doc[len++] = '\n';
        }
        size_t line = raw_text(doc + len, d % RAW_TEXTS); /* a paragraph pasted twice: two units */
        doc[len + line] = ' ';
        memcpy(doc + len + line + 1, doc + len, line);
        len += 2 * line + 1;
        size_t invalid = 0, before = sorted.units;
        ck_assert_int_eq(nd_sketch_units(&invalid, sk, doc, len, ND_UNIT_PARAGRAPH, 3, list_unit, &sorted), ND_OK);
        ck_assert_int_eq(nd_sketch_units_raw(&invalid, sk, doc, len, ND_UNIT_PARAGRAPH, 3, list_unit, &raw), ND_OK);
        ck_assert_uint_eq(sorted.units, raw.units);
        ck_assert_uint_ge(sorted.units - before, 3);
    }
    size_t n = sorted.units, unsorted = 0;
    uint32_t *tmp = malloc((raw.used + 1) * sizeof *tmp), *copy = malloc((raw.used + 1) * sizeof *copy);
    nd_prepared_text *ta = malloc(n * sizeof *ta), *tb = malloc(n * sizeof *tb), *tc = malloc(n * sizeof *tc);
    ck_assert(tmp && copy && ta && tb && tc);
    for (size_t u = 0; u < n; u++) {
        ck_assert(sorted.spans[u].start == raw.spans[u].start && sorted.spans[u].end == raw.spans[u].end);
        ck_assert_mem_eq(sorted.keys + u * opts.bands, raw.keys + u * opts.bands, opts.bands * sizeof *raw.keys);
        const uint32_t *a = sorted.ids + sorted.at[u], *b = raw.ids + raw.at[u];
        memcpy(copy, b, raw.count[u] * sizeof *copy);
        size_t distinct = nd_sort_distinct_u32(copy, tmp, raw.count[u]);
        ck_assert_uint_eq(distinct, sorted.count[u]);
        ck_assert_mem_eq(copy, a, distinct * sizeof *a);
        unsorted += raw.count[u] != distinct || memcmp(a, b, distinct * sizeof *a) != 0;
        uint64_t weight = sorted.spans[u].end - sorted.spans[u].start;
        ta[u] = (nd_prepared_text){a, sorted.count[u], nd_index_set_hash(a, sorted.count[u]),
                                   sorted.keys + u * opts.bands, weight};
        tb[u] = (nd_prepared_text){b, raw.count[u], 0, raw.keys + u * opts.bands, weight};
        tc[u] = tb[u];
    }
    ck_assert_uint_gt(unsorted, n / 2); /* the raw ids were raw */
    for (int spill = 0; spill < 2; spill++) {
        nd_index *ia = NULL, *ib = NULL, *ic = NULL;
        ck_assert_int_eq(nd_index_new(&ia, &opts), ND_OK);
        ck_assert_int_eq(nd_index_new(&ib, &opts), ND_OK);
        ck_assert_int_eq(nd_index_new(&ic, &opts), ND_OK);
        uint32_t *block = nd_index_ids_block_new(raw.used); /* the kept index sorts its texts' ids in place */
        ck_assert_ptr_nonnull(block);
        memcpy(block, raw.ids, raw.used * sizeof *block);
        for (size_t u = 0; u < n; u++)
            tc[u].ids = tc[u].count ? block + raw.at[u] : NULL;
        for (size_t u = 0; u < n; u += 29) {
            size_t k = n - u < 29 ? n - u : 29;
            ck_assert_int_eq(nd_index_add_prepared(ia, ta + u, k), ND_OK);
            ck_assert_int_eq(nd_index_add_prepared_raw(ib, tb + u, k), ND_OK);
            ck_assert_int_eq(nd_index_add_prepared_kept(ic, tc + u, k), ND_OK);
            if (spill && u / 29 == 10) {
                ck_assert_int_eq(nd_index_spill(ia, "/tmp"), ND_OK);
                ck_assert_int_eq(nd_index_spill(ib, "/tmp"), ND_OK);
                ck_assert_int_eq(nd_index_spill(ic, "/tmp"), ND_OK);
            }
        }
        ck_assert_int_eq(nd_index_adopt_ids(ic, block, raw.used), ND_OK);
        for (unsigned threads = 1; threads <= 2; threads++) {
            nd_cluster_stats sa;
            cluster_alike(ia, ib, threads, &sa);
            ck_assert_uint_gt(sa.exact_groups, DOCS / 10);
            ck_assert_uint_gt(sa.verified_pairs, 0);
            cluster_alike(ia, ic, threads, &sa);
        }
        nd_index_free(ia);
        nd_index_free(ib);
        nd_index_free(ic);
    }
    free(tmp);
    free(copy);
    free(ta);
    free(tb);
    free(tc);
    unit_list_free(&sorted);
    unit_list_free(&raw);
    nd_sketcher_free(sk);
}
END_TEST

Suite *index_suite(void)
{
    Suite *s = suite_create("index");
    TCase *tc = tcase_create("pipeline");
    tcase_add_test(tc, test_canonical_order);
    tcase_add_test(tc, test_keep_longest);
    tcase_add_test(tc, test_keep_rank);
    tcase_add_test(tc, test_keep_longest_wide_weights);
    tcase_add_test(tc, test_no_chaining);
    tcase_add_test(tc, test_center_keeps_copies);
    tcase_add_test(tc, test_empty_never_cluster);
    tcase_add_test(tc, test_threshold_is_exact);
    tcase_add_test(tc, test_many_copies);
    tcase_add_test(tc, test_first_chunk_moves);
    tcase_add_test(tc, test_arabic_fixture);
    tcase_add_test(tc, test_spill_bad_dir);
    suite_add_tcase(s, tc);
    /* 280,000 sketches: seconds, more under the sanitizers */
    TCase *big = tcase_create("spill");
    tcase_set_timeout(big, 300);
    tcase_add_test(big, test_spill_same_clusters);
    tcase_add_test(big, test_add_prepared_same_index);
    tcase_add_test(big, test_raw_same_results);
    tcase_add_test(big, test_units_raw_same_results);
    tcase_add_test(big, test_raw_past_first_chunk);
    tcase_add_test(big, test_raw_settle_ahead);
    suite_add_tcase(s, big);
    return s;
}
