/* test_oom.c - fail the N-th allocation, for every N, through the whole
 * pipeline (clusters kept by rank, and pairs; under both measures): each
 * call returns ND_ENOMEM or succeeds, nothing leaks (ASan in CI), a failed
 * nd_index_add leaves the sketch intact, and once every allocation
 * succeeds the result is the right one. */
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

Suite *oom_suite(void)
{
    Suite *s = suite_create("oom");
    TCase *tc = tcase_create("fail_nth");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_fail_every_allocation);
    suite_add_tcase(s, tc);
    return s;
}
