/* main.c - the Check runner for every unit suite.
 *
 * Check reads CK_RUN_SUITE (and CK_RUN_CASE) itself, so
 * `CK_RUN_SUITE=minhash ./nd_tests` runs one suite; ctest registers one test
 * per suite that way. Exit status: 0 when every test passed.
 */
#include <stdio.h>  /* fopen */
#include <stdlib.h> /* malloc */
#include <string.h> /* memcpy */

#include "suites.h"

char *exact_copy(const char *s, size_t len)
{
    char *p = malloc(len ? len : 1);
    if (p && len)
        memcpy(p, s, len);
    return p;
}

char *read_fixture(const char *name, size_t *len)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", ND_FIXTURES, name);
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf) {
        buf[n] = '\0';
        *len = (size_t)n;
    }
    return buf;
}

int main(void)
{
    if (!header_compiles())
        return 1;
    SRunner *sr = srunner_create(normalize_suite());
    srunner_add_suite(sr, shingle_suite());
    srunner_add_suite(sr, minhash_suite());
    srunner_add_suite(sr, lsh_suite());
    srunner_add_suite(sr, cluster_suite());
    srunner_add_suite(sr, index_suite());
    srunner_add_suite(sr, settle_suite());
    srunner_add_suite(sr, addkept_suite());
    srunner_add_suite(sr, contain_suite());
    srunner_add_suite(sr, pairs_suite());
    srunner_add_suite(sr, chance_suite());
    srunner_add_suite(sr, units_suite());
    srunner_add_suite(sr, oom_suite());
    srunner_add_suite(sr, batch_suite());
    srunner_add_suite(sr, stream_suite());
    srunner_add_suite(sr, explain_suite());
    srunner_add_suite(sr, pathological_suite());
    srunner_add_suite(sr, fastpath_suite());
    srunner_add_suite(sr, db_suite());
    srunner_add_suite(sr, db_query_suite());
    srunner_add_suite(sr, db_record_suite());
    srunner_add_suite(sr, db_contain_suite());
    srunner_add_suite(sr, db_verify_suite());
    srunner_add_suite(sr, replay_suite());
    srunner_add_suite(sr, refill_suite());
    srunner_add_suite(sr, reader_suite());
    srunner_add_suite(sr, threads_suite());
    srunner_add_suite(sr, alloc_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
