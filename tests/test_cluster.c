/* test_cluster.c - union-find: transitivity and sizes, as a table of
 * unions and the components they must give. */
#include "neardup.h"
#include "suites.h"
#include "uf.h"

typedef struct {
    size_t n;
    size_t unions[6][2];
    size_t union_count;
    int component[8]; /* expected component label per element */
} uf_row;

static const uf_row uf_rows[] = {
    {4, {{0, 1}, {1, 2}}, 2, {0, 0, 0, 3}}, /* 0~1, 1~2 => 0~2 */
    {5, {{4, 3}, {3, 2}, {2, 1}}, 3, {0, 1, 1, 1, 1}},
    {6, {{0, 5}, {1, 4}, {5, 4}}, 3, {0, 0, 2, 3, 0, 0}},
    {3, {{0, 0}}, 1, {0, 1, 2}}, /* self-union is harmless */
    {8, {{0, 1}, {2, 3}, {4, 5}, {6, 7}, {1, 3}, {5, 7}}, 6, {0, 0, 0, 0, 4, 4, 4, 4}},
};

START_TEST(test_union_find_table)
{
    const uf_row *r = &uf_rows[_i];
    nd_uf uf;
    ck_assert_int_eq(nd_uf_init(&uf, r->n), ND_OK);
    for (size_t u = 0; u < r->union_count; u++)
        nd_uf_union(&uf, r->unions[u][0], r->unions[u][1]);
    for (size_t a = 0; a < r->n; a++) {
        for (size_t b = 0; b < r->n; b++) {
            int same = nd_uf_find(&uf, a) == nd_uf_find(&uf, b);
            ck_assert_int_eq(same, r->component[a] == r->component[b]);
        }
    }
    nd_uf_release(&uf);
}
END_TEST

START_TEST(test_union_reports_change)
{
    nd_uf uf;
    ck_assert_int_eq(nd_uf_init(&uf, 3), ND_OK);
    ck_assert_int_eq(nd_uf_union(&uf, 0, 1), 1);
    ck_assert_int_eq(nd_uf_union(&uf, 1, 0), 0);
    ck_assert_int_eq(nd_uf_union(&uf, 2, 0), 1);
    ck_assert_uint_eq(uf.size[nd_uf_find(&uf, 2)], 3);
    nd_uf_release(&uf);
}
END_TEST

Suite *cluster_suite(void)
{
    Suite *s = suite_create("cluster");
    TCase *tc = tcase_create("union_find");
    tcase_add_loop_test(tc, test_union_find_table, 0, (int)(sizeof uf_rows / sizeof uf_rows[0]));
    tcase_add_test(tc, test_union_reports_change);
    suite_add_tcase(s, tc);
    return s;
}
