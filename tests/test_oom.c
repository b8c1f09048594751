/* test_oom.c - fail the N-th allocation, for every N, through the whole
 * pipeline (clusters kept by rank, and pairs; under both measures), and
 * through nd_batch, an nd_stream and nd_explain: each call returns
 * ND_ENOMEM or succeeds, nothing leaks (ASan in CI), a failed nd_index_add
 * leaves the sketch intact, and once every allocation succeeds the result
 * is the right one. */
#include <string.h> /* strlen */

#include "alloc.h"
#include "neardup.h"
#include "suites.h"

static const char *const texts[] = {
    "one two three four five six seven eight nine ten",
    "unrelated words here and there for a second text",
    "one two three four five six seven eight nine ten",
};

/* Returns ND_OK with *clusters_found and *pairs_found set, or the first
 * error. */
static int run_pipeline(nd_measure measure, size_t *clusters_found, size_t *pairs_found)
{
    nd_options opts = ND_OPTIONS_INIT;
    opts.measure = measure;
    opts.min_shingles = 2;
    nd_pairs *pairs = NULL;
    static const uint64_t ranks[] = {2, 1, 0};
    nd_sketcher *sk = NULL;
    nd_index *index = NULL;
    nd_clusters *clusters = NULL;
    nd_sketch sketch = ND_SKETCH_INIT;
    int rc = nd_options_resolve(&opts);
    if (rc == ND_OK)
        rc = nd_sketcher_new(&sk, &opts);
    if (rc == ND_OK)
        rc = nd_index_new(&index, &opts);
    for (size_t i = 0; rc == ND_OK && i < 3; i++) {
        rc = nd_sketch_text(&sketch, sk, texts[i], strlen(texts[i]));
        if (rc == ND_OK) {
            uint32_t *ids = sketch.ids;
            rc = nd_index_add(index, &sketch, 1);
            if (rc != ND_OK)
                ck_assert_ptr_eq(sketch.ids, ids); /* untouched on failure */
        }
        nd_sketch_clear(&sketch);
    }
    if (rc == ND_OK)
        rc = nd_index_set_ranks(index, ranks, 3);
    if (rc == ND_OK)
        rc = nd_index_cluster(&clusters, NULL, index, ND_KEEP_RANK);
    if (rc == ND_OK)
        *clusters_found = nd_clusters_count(clusters);
    if (rc == ND_OK)
        rc = nd_index_pairs(&pairs, NULL, index);
    if (rc == ND_OK) {
        const nd_pair *p;
        *pairs_found = nd_pairs_get(&p, pairs);
    }
    nd_pairs_free(pairs);
    nd_clusters_free(clusters);
    nd_index_free(index);
    nd_sketcher_free(sk);
    return rc;
}

START_TEST(test_fail_every_allocation)
{
    /* Build the shared fold table first: it is made once per process. */
    nd_normalizer *warm = NULL;
    ck_assert_int_eq(nd_normalizer_new(&warm, ND_PROFILE_DEFAULT), ND_OK);
    nd_normalizer_free(warm);
    for (int measure = 0; measure < 2; measure++) {
        size_t n;
        int succeeded = 0;
        for (n = 0; n < 10000 && !succeeded; n++) {
            nd_alloc_fail_after(n);
            size_t found = 0, pairs = 0;
            int rc = run_pipeline((nd_measure)measure, &found, &pairs);
            nd_alloc_fail_after((size_t)-1);
            ck_assert_msg(rc == ND_OK || rc == ND_ENOMEM, "fail after %zu: status %d", n, rc);
            if (rc == ND_OK) {
                ck_assert_uint_eq(found, 1);
                ck_assert_uint_eq(pairs, 1);
                succeeded = 1;
            }
        }
        ck_assert_msg(succeeded, "the pipeline never succeeded");
        ck_assert_uint_gt(n, 10); /* the loop really did fail allocations on the way */
    }
}
END_TEST

/* The same through nd_batch (one thread: the fail-after hook is not
 * thread-safe), twice, so the second call reuses and grows its buffers. */
static int run_batch_pipeline(size_t *clusters_found)
{
    nd_options opts = ND_OPTIONS_INIT;
    nd_batch *batch = NULL;
    nd_index *index = NULL;
    nd_clusters *clusters = NULL;
    size_t lens[3];
    for (size_t i = 0; i < 3; i++)
        lens[i] = strlen(texts[i]);
    int rc = nd_options_resolve(&opts);
    if (rc == ND_OK)
        rc = nd_batch_new(&batch, &opts, 1);
    if (rc == ND_OK)
        rc = nd_index_new(&index, &opts);
    if (rc == ND_OK)
        rc = nd_batch_sketch(batch, texts, lens, 1);
    if (rc == ND_OK)
        rc = nd_index_add_batch(index, batch);
    if (rc == ND_OK)
        rc = nd_batch_sketch(batch, texts + 1, lens + 1, 2);
    if (rc == ND_OK)
        rc = nd_index_add_batch(index, batch);
    if (rc == ND_OK)
        rc = nd_index_cluster(&clusters, NULL, index, ND_KEEP_FIRST);
    if (rc == ND_OK)
        *clusters_found = nd_clusters_count(clusters);
    nd_clusters_free(clusters);
    nd_index_free(index);
    nd_batch_free(batch);
    return rc;
}

/* A stream: the third text repeats the first; a failed add leaves the
 * stream as it was, so the count says how many texts it kept. */
static int run_stream(size_t *duplicates_found)
{
    nd_options opts = ND_OPTIONS_INIT;
    nd_stream *stream = NULL;
    int rc = nd_stream_new(&stream, &opts);
    size_t duplicates = 0;
    for (size_t i = 0; rc >= 0 && i < 3; i++) {
        size_t before = stream ? nd_stream_count(stream) : 0;
        nd_stream_match m;
        rc = nd_stream_add_text(&m, stream, texts[i], strlen(texts[i]));
        if (rc < 0)
            ck_assert_uint_eq(nd_stream_count(stream), before);
        duplicates += rc == 1;
    }
    nd_stream_free(stream);
    if (rc < 0)
        return rc;
    *duplicates_found = duplicates;
    return ND_OK;
}

/* nd_explain of the first and third texts: one shared run. */
static int run_explain(size_t *runs_found)
{
    nd_options opts = ND_OPTIONS_INIT;
    nd_explanation *e = NULL;
    int rc = nd_explain(&e, &opts, texts[0], strlen(texts[0]), texts[2], strlen(texts[2]), 10);
    if (rc == ND_OK)
        *runs_found = e->run_count;
    nd_explanation_free(e);
    return rc;
}

static int (*const pipelines[])(size_t *) = {run_batch_pipeline, run_stream, run_explain};

/* The other paths: each finds exactly one of what it looks for. */
START_TEST(test_fail_every_allocation_elsewhere)
{
    nd_normalizer *warm = NULL;
    ck_assert_int_eq(nd_normalizer_new(&warm, ND_PROFILE_DEFAULT), ND_OK);
    nd_normalizer_free(warm);
    size_t n;
    int succeeded = 0;
    for (n = 0; n < 10000 && !succeeded; n++) {
        nd_alloc_fail_after(n);
        size_t found = 0;
        int rc = pipelines[_i](&found);
        nd_alloc_fail_after((size_t)-1);
        ck_assert_msg(rc == ND_OK || rc == ND_ENOMEM, "fail after %zu: status %d", n, rc);
        if (rc == ND_OK) {
            ck_assert_uint_eq(found, 1);
            succeeded = 1;
        }
    }
    ck_assert_msg(succeeded, "the pipeline never succeeded");
    ck_assert_uint_gt(n, 10); /* the loop really did fail allocations on the way */
}
END_TEST

Suite *oom_suite(void)
{
    Suite *s = suite_create("oom");
    TCase *tc = tcase_create("fail_nth");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_fail_every_allocation);
    tcase_add_loop_test(tc, test_fail_every_allocation_elsewhere, 0, sizeof pipelines / sizeof pipelines[0]);
    suite_add_tcase(s, tc);
    return s;
}
