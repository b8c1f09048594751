/* test_db_record.c - the persistent index's document record (db_record.c):
 * round trips of Rice-coded shingle ids at the edges (0, 2^32 - 1, runs of
 * consecutive ids, one id, none), every truncation refused or read within
 * bounds, and about 3.3 bytes per id for a ~1 KB document's worth. */
#include <stdlib.h> /* malloc, free */
#include <string.h> /* memcpy, memcmp */

#include "db_record.h"
#include "dbtest.h"
#include "suites.h"

/* ****  The record codec  **** */

static void round_trip(const uint32_t *ids, size_t n)
{
    size_t bound = nd_db_record_bound(5, n);
    unsigned char *buf = malloc(bound);
    size_t len = nd_db_record_encode(buf, DB_RECORD_REMOVED, 123456789, "idxyz", 5, ids, n);
    ck_assert_uint_le(len, bound);
    unsigned char *exact = malloc(len);
    memcpy(exact, buf, len); /* exact size: ASan catches a read past it */
    db_record r;
    ck_assert_int_eq(nd_db_record_parse(&r, exact, len), 0);
    ck_assert_uint_eq(r.flags, DB_RECORD_REMOVED);
    ck_assert_uint_eq(r.weight, 123456789);
    ck_assert(r.id_len == 5 && memcmp(r.id, "idxyz", 5) == 0);
    ck_assert_uint_eq(r.count, n);
    uint32_t *back = malloc((n ? n : 1) * sizeof *back);
    ck_assert_int_eq(nd_db_record_ids(back, &r), 0);
    for (size_t i = 0; i < n; i++)
        ck_assert_uint_eq(back[i], ids[i]);
    /* every truncation is refused or decodes without reading past the end */
    for (size_t cut = 0; cut < len; cut++) {
        unsigned char *part = malloc(cut ? cut : 1);
        memcpy(part, exact, cut);
        if (nd_db_record_parse(&r, part, cut) == 0)
            (void)nd_db_record_ids(back, &r);
        free(part);
    }
    free(back);
    free(exact);
    free(buf);
}

START_TEST(test_record_codec)
{
    static const uint32_t edges[] = {0, 1, 2, 3, 1000, 0x7FFFFFFF, 0xFFFFFFFE, 0xFFFFFFFF};
    round_trip(edges, 8);
    round_trip(edges + 7, 1);
    round_trip(edges, 1);
    round_trip(NULL, 0);
    uint64_t rng = 42;
    uint32_t *ids = malloc(5000 * sizeof *ids);
    size_t sizes[] = {2, 10, 166, 1000, 5000};
    for (size_t s = 0; s < 5; s++) {
        size_t n = 0;
        uint32_t v = (uint32_t)(next_random(&rng) % 1000);
        for (size_t i = 0; i < sizes[s]; i++) {
            uint64_t gap = 1 + next_random(&rng) % ((1ULL << 32) / (sizes[s] + 1));
            if ((uint64_t)v + gap > 0xFFFFFFFFULL)
                break;
            ids[n++] = v;
            v += (uint32_t)gap;
        }
        round_trip(ids, n);
    }
    /* a consecutive run (gaps of 0) and a ~1 KB document's worth: 166
     * random ids take about 3.3 bytes each */
    for (size_t i = 0; i < 1000; i++)
        ids[i] = 5000000 + (uint32_t)i;
    round_trip(ids, 1000);
    for (size_t i = 0; i < 166; i++)
        ids[i] = (uint32_t)(next_random(&rng) >> 32);
    for (size_t i = 1; i < 166; i++) { /* insertion sort, then distinct */
        uint32_t x = ids[i];
        size_t j = i;
        while (j > 0 && ids[j - 1] > x) {
            ids[j] = ids[j - 1];
            j--;
        }
        ids[j] = x;
    }
    unsigned char buf[2048];
    size_t len = nd_db_record_encode(buf, 0, 0, "", 0, ids, 166);
    ck_assert_uint_lt(len, 166 * 35 / 10); /* < 3.5 bytes per id, against 4 */
    free(ids);
}
END_TEST

Suite *db_record_suite(void)
{
    Suite *s = suite_create("db_record");
    TCase *tc = tcase_create("db_record");
    tcase_add_test(tc, test_record_codec);
    suite_add_tcase(s, tc);
    return s;
}
