/* test_contain.c - the containment measure: an excerpt is found inside its
 * article (which Jaccard cannot do), the containing text survives, the
 * --min-shingles guard holds, and clusters on random corpora of excerpts,
 * supersets, copies and boilerplate are verified against sets compared
 * the slow way. */
#include <stdio.h>  /* snprintf */
#include <stdlib.h> /* free */
#include <string.h> /* strlen */

#include "candidates.h"
#include "corpus.h"
#include "neardup.h"
#include "store.h"
#include "suites.h"

/* An article of 60 distinct words "wN", and windows of it. */
static char *words(size_t first, size_t count, const char *extra)
{
    char *text = malloc(count * 8 + 64);
    size_t len = 0;
    for (size_t i = 0; i < count; i++)
        len += (size_t)sprintf(text + len, "%sw%zu", i ? " " : "", first + i);
    if (extra)
        sprintf(text + len, " %s", extra);
    return text;
}

static nd_clusters *cluster_texts(char *const *texts, size_t n, nd_measure measure, unsigned min_shingles,
                                  double threshold)
{
    nd_options opts = ND_OPTIONS_INIT;
    opts.measure = measure;
    opts.min_shingles = min_shingles;
    opts.threshold = threshold;
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
    ck_assert_int_eq(nd_index_cluster(&clusters, NULL, index, ND_KEEP_FIRST), ND_OK);
    nd_index_free(index);
    nd_sketcher_free(sk);
    return clusters;
}

static void free_texts(char **texts, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(texts[i]);
}

/* 5-word shingles: the article has 56, the excerpt of 20 words 16, all in
 * the article: J = 16/56 = 0.29, C(excerpt in article) = 1. */
START_TEST(test_excerpt_found_only_by_containment)
{
    char *texts[] = {words(20, 20, NULL), words(0, 60, NULL), words(1000, 40, NULL)};
    nd_clusters *c = cluster_texts(texts, 3, ND_MEASURE_JACCARD, 10, 0.8);
    ck_assert_uint_eq(nd_clusters_count(c), 0);
    nd_clusters_free(c);
    c = cluster_texts(texts, 3, ND_MEASURE_CONTAINMENT, 10, 0.8);
    ck_assert_uint_eq(nd_clusters_count(c), 1);
    const nd_member *m;
    ck_assert_uint_eq(nd_clusters_get(&m, c, 0), 2);
    ck_assert_uint_eq(m[0].doc, 1); /* the article contains the excerpt: it survives, though later */
    ck_assert_uint_eq(m[1].doc, 0);
    ck_assert_double_eq(m[1].containment, 1.0);
    ck_assert_double_eq_tol(m[1].jaccard, 16.0 / 56.0, 1e-12);
    nd_clusters_free(c);
    free_texts(texts, 3);
}
END_TEST

/* The excerpt has 16 shingles: reported with --min-shingles 16, not 17. */
START_TEST(test_min_shingles_guard)
{
    char *texts[] = {words(0, 60, NULL), words(20, 20, NULL)};
    nd_clusters *c = cluster_texts(texts, 2, ND_MEASURE_CONTAINMENT, 17, 0.8);
    ck_assert_uint_eq(nd_clusters_count(c), 0);
    nd_clusters_free(c);
    c = cluster_texts(texts, 2, ND_MEASURE_CONTAINMENT, 16, 0.8);
    ck_assert_uint_eq(nd_clusters_count(c), 1);
    nd_clusters_free(c);
    free_texts(texts, 2);
}
END_TEST

/* Two excerpts of one article that share nothing: both are members of the
 * article's cluster; neither contains the other. */
START_TEST(test_two_excerpts_one_article)
{
    char *texts[] = {words(0, 25, NULL), words(30, 25, NULL), words(0, 60, NULL)};
    nd_clusters *c = cluster_texts(texts, 3, ND_MEASURE_CONTAINMENT, 10, 0.8);
    ck_assert_uint_eq(nd_clusters_count(c), 1);
    const nd_member *m;
    ck_assert_uint_eq(nd_clusters_get(&m, c, 0), 3);
    ck_assert_uint_eq(m[0].doc, 2);
    ck_assert_uint_eq(m[1].doc, 0);
    ck_assert_uint_eq(m[2].doc, 1);
    nd_clusters_free(c);
    free_texts(texts, 3);
}
END_TEST

/* An abridged copy with an edited word: 30 words whose 21st is changed
 * have 26 shingles, 21 of them in the article: C = 21/26 = 0.81, which
 * reaches 0.8 but not 0.85. */
START_TEST(test_edited_excerpt_threshold)
{
    char *edited = words(10, 30, NULL);
    char *w30 = strstr(edited, "w30 ");
    ck_assert_ptr_nonnull(w30);
    memcpy(w30, "zz9", 3);
    char *texts[] = {words(0, 60, NULL), edited};
    nd_clusters *c = cluster_texts(texts, 2, ND_MEASURE_CONTAINMENT, 10, 0.8);
    ck_assert_uint_eq(nd_clusters_count(c), 1);
    const nd_member *m;
    nd_clusters_get(&m, c, 0);
    ck_assert_double_eq_tol(m[1].containment, 21.0 / 26.0, 1e-12);
    nd_clusters_free(c);
    c = cluster_texts(texts, 2, ND_MEASURE_CONTAINMENT, 10, 0.85);
    ck_assert_uint_eq(nd_clusters_count(c), 0);
    nd_clusters_free(c);
    free_texts(texts, 2);
}
END_TEST

/* Random corpora: every (survivor, member) is covered (the member is
 * contained in the survivor, or their Jaccard reaches the threshold), with
 * exact scores, and no text is in two clusters. That containment's
 * candidates miss no matching pair is checked on pairs (test_pairs.c). */
static const struct {
    uint64_t seed;
    double threshold;
    unsigned min_shingles;
} random_rows[] = {
    {1, 0.8, 20}, {2, 0.8, 5}, {3, 0.6, 20}, {4, 0.9, 10}, {5, 1.0, 20}, {6, 0.5, 30},
};

START_TEST(test_random_clusters_verified)
{
    test_corpus corpus = corpus_make(500, random_rows[_i].seed);
    nd_options opts = ND_OPTIONS_INIT;
    opts.measure = ND_MEASURE_CONTAINMENT;
    opts.threshold = random_rows[_i].threshold;
    opts.min_shingles = random_rows[_i].min_shingles;
    ck_assert_int_eq(nd_options_resolve(&opts), ND_OK);
    nd_index *index = corpus_index(&corpus, &opts);
    ck_assert_ptr_nonnull(index);
    for (int keep = 0; keep < 2; keep++) {
        nd_clusters *c = NULL;
        ck_assert_int_eq(nd_index_cluster(&c, NULL, index, (nd_keep)keep), ND_OK);
        ck_assert_uint_gt(nd_clusters_count(c), 10);
        unsigned char *seen = calloc(corpus.n, 1);
        for (size_t k = 0; k < nd_clusters_count(c); k++) {
            const nd_member *m;
            size_t size = nd_clusters_get(&m, c, k);
            size_t s = m[0].doc;
            for (size_t i = 1; i < size; i++) {
                size_t d = m[i].doc;
                size_t x = corpus_overlap(corpus.ids[s], corpus.count[s], corpus.ids[d], corpus.count[d]);
                ck_assert(corpus_covers(&opts, corpus.count[s], corpus.count[d], x));
                ck_assert_double_eq(m[i].containment, (double)x / (double)corpus.count[d]);
                ck_assert_double_eq(m[i].jaccard, (double)x / (double)(corpus.count[s] + corpus.count[d] - x));
            }
            for (size_t i = 0; i < size; i++) {
                ck_assert(!seen[m[i].doc]);
                seen[m[i].doc] = 1;
            }
        }
        free(seen);
        nd_clusters_free(c);
    }
    nd_index_free(index);
    corpus_free(&corpus);
}
END_TEST

/* A spilled index (ids read back from files) gives the same clusters and
 * pairs under containment. */
START_TEST(test_spilled_same)
{
    test_corpus corpus = corpus_make(300, 31);
    nd_options opts = ND_OPTIONS_INIT;
    opts.measure = ND_MEASURE_CONTAINMENT;
    ck_assert_int_eq(nd_options_resolve(&opts), ND_OK);
    nd_index *plain = corpus_index(&corpus, &opts);
    nd_index *spilled = NULL;
    ck_assert_int_eq(nd_index_new(&spilled, &opts), ND_OK);
    uint32_t sig[128];
    uint64_t keys[128];
    for (size_t i = 0; i < corpus.n; i++) {
        if (i == 100)
            ck_assert_int_eq(nd_index_spill(spilled, "/tmp"), ND_OK);
        nd_minhash(sig, opts.num_perm, opts.seed, corpus.ids[i], corpus.count[i]);
        nd_lsh_band_keys(keys, sig, opts.bands, opts.rows);
        ck_assert_int_eq(nd_index_add_ids(spilled, corpus.ids[i], corpus.count[i], keys, corpus.count[i]), ND_OK);
    }
    nd_clusters *a = NULL, *b = NULL;
    ck_assert_int_eq(nd_index_cluster(&a, NULL, plain, ND_KEEP_FIRST), ND_OK);
    ck_assert_int_eq(nd_index_cluster(&b, NULL, spilled, ND_KEEP_FIRST), ND_OK);
    ck_assert_uint_gt(nd_clusters_count(a), 10);
    ck_assert_uint_eq(nd_clusters_count(a), nd_clusters_count(b));
    for (size_t c = 0; c < nd_clusters_count(a); c++) {
        const nd_member *ma, *mb;
        size_t na = nd_clusters_get(&ma, a, c);
        ck_assert_uint_eq(na, nd_clusters_get(&mb, b, c));
        for (size_t k = 0; k < na; k++) {
            ck_assert_uint_eq(ma[k].doc, mb[k].doc);
            ck_assert_double_eq(ma[k].containment, mb[k].containment);
        }
    }
    nd_pairs *pa = NULL, *pb = NULL;
    ck_assert_int_eq(nd_index_pairs(&pa, NULL, plain), ND_OK);
    ck_assert_int_eq(nd_index_pairs(&pb, NULL, spilled), ND_OK);
    const nd_pair *xa, *xb;
    size_t count = nd_pairs_get(&xa, pa);
    ck_assert_uint_eq(count, nd_pairs_get(&xb, pb));
    for (size_t i = 0; i < count; i++) {
        ck_assert_uint_eq(xa[i].a, xb[i].a);
        ck_assert_uint_eq(xa[i].b, xb[i].b);
        ck_assert_uint_eq(xa[i].shared, xb[i].shared);
    }
    nd_pairs_free(pa);
    nd_pairs_free(pb);
    nd_clusters_free(a);
    nd_clusters_free(b);
    nd_index_free(plain);
    nd_index_free(spilled);
    corpus_free(&corpus);
}
END_TEST

/* The candidates of contain.c, flattened: (a << 32 | b) per pair, in the
 * order they were handed over. */
typedef struct {
    uint64_t *pairs;
    size_t count, capacity;
} candidate_list;

static int collect_candidates(void *ctx, size_t a, const uint32_t *others, size_t count)
{
    candidate_list *list = ctx;
    for (size_t k = 0; k < count; k++) {
        if (list->count == list->capacity) {
            list->capacity = list->capacity ? 2 * list->capacity : 1024;
            list->pairs = realloc(list->pairs, list->capacity * sizeof *list->pairs);
        }
        list->pairs[list->count++] = (uint64_t)a << 32 | others[k];
    }
    return ND_OK;
}

static candidate_list candidates_of(const nd_index *index, unsigned threads, size_t part_ids)
{
    nd_store store;
    ck_assert_int_eq(nd_index_store(index, &store), ND_OK);
    unsigned char *all = malloc(store.count + 1);
    memset(all, 1, store.count + 1);
    candidate_list list = {NULL, 0, 0};
    ck_assert_int_eq(nd_containment_candidates_sized(&store, all, threads, part_ids, collect_candidates, &list), ND_OK);
    free(all);
    return list;
}

/* The inverted index is built partition by partition of the id range, the
 * partitions on several threads: the candidates (complete against brute
 * force in test_pairs.c, where one partition holds every id) are the same
 * for any partition size and thread count, in memory and spilled to files. */
START_TEST(test_candidates_any_partitioning)
{
    test_corpus corpus = corpus_make(600, 41);
    nd_options opts = ND_OPTIONS_INIT;
    opts.measure = ND_MEASURE_CONTAINMENT;
    opts.threshold = 0.6;
    opts.min_shingles = 5;
    ck_assert_int_eq(nd_options_resolve(&opts), ND_OK);
    nd_index *plain = corpus_index(&corpus, &opts);
    nd_index *spilled = NULL;
    ck_assert_int_eq(nd_index_new(&spilled, &opts), ND_OK);
    ck_assert_int_eq(nd_index_spill(spilled, "/tmp"), ND_OK);
    uint32_t sig[128];
    uint64_t keys[128];
    for (size_t i = 0; i < corpus.n; i++) {
        nd_minhash(sig, opts.num_perm, opts.seed, corpus.ids[i], corpus.count[i]);
        nd_lsh_band_keys(keys, sig, opts.bands, opts.rows);
        ck_assert_int_eq(nd_index_add_ids(spilled, corpus.ids[i], corpus.count[i], keys, corpus.count[i]), ND_OK);
    }
    candidate_list want = candidates_of(plain, 1, 0); /* one partition: fewer ids than the default size */
    ck_assert_uint_gt(want.count, 100);
    static const struct {
        unsigned threads;
        size_t part_ids;
    } runs[] = {{1, 4096}, {1, 300}, {3, 300}, {2, 64}, {5, 1000}};
    for (int disk = 0; disk < 2; disk++) {
        for (size_t r = 0; r < sizeof runs / sizeof runs[0]; r++) {
            candidate_list got = candidates_of(disk ? spilled : plain, runs[r].threads, runs[r].part_ids);
            ck_assert_uint_eq(got.count, want.count);
            ck_assert_mem_eq(got.pairs, want.pairs, want.count * sizeof *want.pairs);
            free(got.pairs);
        }
    }
    free(want.pairs);
    nd_index_free(plain);
    nd_index_free(spilled);
    corpus_free(&corpus);
}
END_TEST

Suite *contain_suite(void)
{
    Suite *s = suite_create("contain");
    TCase *tc = tcase_create("containment");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_excerpt_found_only_by_containment);
    tcase_add_test(tc, test_min_shingles_guard);
    tcase_add_test(tc, test_two_excerpts_one_article);
    tcase_add_test(tc, test_edited_excerpt_threshold);
    tcase_add_loop_test(tc, test_random_clusters_verified, 0, (int)(sizeof random_rows / sizeof random_rows[0]));
    tcase_add_test(tc, test_spilled_same);
    tcase_add_test(tc, test_candidates_any_partitioning);
    suite_add_tcase(s, tc);
    return s;
}
