/* test_settle.c - settling raw texts before clustering (index_settle.c).
 *
 * Raw texts that may have a copy are settled (sorted distinct, counted,
 * hashed) before clustering; a text whose raw ids are those of the first
 * text with its key (raw count and first band keys) takes that text's
 * settled ids instead of sorting its own. The key only finds candidates:
 * texts with the key but other ids (a collision, or the same set written
 * in another order) must each be settled from their own ids. */
#include "neardup.h"

#include <stdlib.h> /* malloc, free */

#include "index_add.h"
#include "suites.h"

enum { SETTLE_TEXTS = 7, SETTLE_IDS = 6 };

/* Every text has the same band keys and raw count: one key for all. */
static const uint32_t settle_raw[SETTLE_TEXTS][SETTLE_IDS] = {
    {50, 10, 30, 10, 90, 70}, /* 0: the first with the key: {10 30 50 70 90} */
    {50, 10, 30, 10, 90, 70}, /* 1: a copy of 0 */
    {72, 22, 82, 22, 62, 12}, /* 2: the key, other ids: {12 22 62 72 82} */
    {90, 30, 10, 50, 10, 70}, /* 3: the set of 0 in another order */
    {72, 22, 82, 22, 62, 12}, /* 4: a copy of 2 */
    {50, 10, 30, 10, 90, 70}, /* 5: a copy of 0 */
    {11, 33, 55, 77, 99, 11}, /* 6: a set of its own */
};

/* The groups expected: texts 0 1 3 5 (one set), texts 2 4. */
static void check_groups(const nd_clusters *c)
{
    static const size_t first[] = {0, 1, 3, 5}, second[] = {2, 4};
    ck_assert_uint_eq(nd_clusters_count(c), 2);
    const nd_member *m;
    ck_assert_uint_eq(nd_clusters_get(&m, c, 0), 4);
    for (size_t k = 0; k < 4; k++) {
        ck_assert_uint_eq(m[k].doc, first[k]);
        ck_assert(m[k].jaccard == 1.0);
    }
    ck_assert_uint_eq(nd_clusters_get(&m, c, 1), 2);
    for (size_t k = 0; k < 2; k++) {
        ck_assert_uint_eq(m[k].doc, second[k]);
        ck_assert(m[k].jaccard == 1.0);
    }
}

START_TEST(test_settle_copies_by_key)
{
    unsigned threads = (unsigned)_i + 1;
    nd_options opts = ND_OPTIONS_INIT;
    ck_assert_int_eq(nd_options_resolve(&opts), ND_OK);
    uint32_t *keys = malloc(opts.bands * sizeof *keys);
    ck_assert_ptr_nonnull(keys);
    for (unsigned b = 0; b < opts.bands; b++)
        keys[b] = 0x5e771e00u + b;
    nd_prepared_text texts[SETTLE_TEXTS];
    for (size_t d = 0; d < SETTLE_TEXTS; d++)
        texts[d] = (nd_prepared_text){settle_raw[d], SETTLE_IDS, 0, keys, 10};
    nd_index *index = NULL;
    ck_assert_int_eq(nd_index_new(&index, &opts), ND_OK);
    ck_assert_int_eq(nd_index_add_prepared_raw(index, texts, SETTLE_TEXTS), ND_OK);
    nd_index_set_threads(index, threads);
    nd_clusters *c = NULL;
    nd_cluster_stats stats;
    ck_assert_int_eq(nd_index_cluster(&c, &stats, index, ND_KEEP_FIRST), ND_OK);
    check_groups(c);
    ck_assert_uint_eq(stats.exact_groups, 2);
    ck_assert_uint_eq(stats.verified_pairs, 0); /* the two sets are far apart */
    nd_clusters_free(c);
    nd_index_free(index);
    free(keys);
}
END_TEST

/* Many raw texts with copies (a lead's copies in every part of the
 * corpus), and texts with a lead's key but other ids: clustered on 1, 2
 * and 3 threads, the same groups and counts, each copy with its lead and
 * no look-alike in a group. */
enum { MANY_TEXTS = 30000, MANY_SETS = 3000, MANY_IDS = 7 };

static nd_clusters *cluster_many(unsigned threads, nd_cluster_stats *stats)
{
    nd_options opts = ND_OPTIONS_INIT;
    ck_assert_int_eq(nd_options_resolve(&opts), ND_OK);
    static uint32_t ids[MANY_TEXTS][MANY_IDS];
    uint32_t *keys = malloc((size_t)MANY_TEXTS * opts.bands * sizeof *keys);
    nd_prepared_text *texts = malloc(MANY_TEXTS * sizeof *texts);
    ck_assert(keys && texts);
    for (size_t d = 0; d < MANY_TEXTS; d++) {
        size_t set = d % MANY_SETS;
        int other = d % 11 == 5;              /* the key of `set`, other ids */
        for (size_t k = 0; k < MANY_IDS; k++) /* raw: out of order, one repeat */
            ids[d][k] = (uint32_t)((other ? 500000 + d * 8 : set * 8) + (k * 5 + 3) % 6);
        for (unsigned b = 0; b < opts.bands; b++)
            keys[d * opts.bands + b] = (uint32_t)(set * 2654435761u) ^ (b * 40503u);
        texts[d] = (nd_prepared_text){ids[d], MANY_IDS, 0, keys + d * opts.bands, 7};
    }
    nd_index *index = NULL;
    ck_assert_int_eq(nd_index_new(&index, &opts), ND_OK);
    ck_assert_int_eq(nd_index_add_prepared_raw(index, texts, MANY_TEXTS), ND_OK);
    nd_index_set_threads(index, threads);
    nd_clusters *c = NULL;
    ck_assert_int_eq(nd_index_cluster(&c, stats, index, ND_KEEP_FIRST), ND_OK);
    nd_index_free(index);
    free(keys);
    free(texts);
    return c;
}

START_TEST(test_settle_many_copies)
{
    nd_cluster_stats one, many;
    nd_clusters *a = cluster_many(1, &one), *b = cluster_many((unsigned)_i + 2, &many);
    ck_assert_uint_eq(nd_clusters_count(a), MANY_SETS);
    ck_assert_uint_eq(nd_clusters_count(b), MANY_SETS);
    for (size_t g = 0; g < MANY_SETS; g++) {
        const nd_member *ma, *mb;
        size_t n = nd_clusters_get(&ma, a, g);
        ck_assert_uint_eq(nd_clusters_get(&mb, b, g), n);
        for (size_t k = 0; k < n; k++) {
            ck_assert_uint_eq(ma[k].doc, mb[k].doc);
            ck_assert_uint_eq(ma[k].doc % MANY_SETS, ma[0].doc % MANY_SETS); /* copies of one set */
            ck_assert_uint_ne(ma[k].doc % 11, 5);                            /* none of the others */
            ck_assert(ma[k].jaccard == 1.0 && mb[k].jaccard == 1.0);
        }
    }
    ck_assert_uint_eq(one.exact_groups, MANY_SETS);
    ck_assert_uint_eq(many.exact_groups, MANY_SETS);
    ck_assert_uint_eq(one.candidate_pairs, many.candidate_pairs);
    ck_assert_uint_gt(one.candidate_pairs, 0); /* the others were candidates, and rejected */
    ck_assert_uint_eq(many.verified_pairs, 0);
    nd_clusters_free(a);
    nd_clusters_free(b);
}
END_TEST

Suite *settle_suite(void)
{
    Suite *s = suite_create("settle");
    TCase *tc = tcase_create("copies");
    tcase_add_loop_test(tc, test_settle_copies_by_key, 0, 2);
    tcase_add_loop_test(tc, test_settle_many_copies, 0, 2);
    suite_add_tcase(s, tc);
    return s;
}
