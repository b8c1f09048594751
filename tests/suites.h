/* suites.h - one Check suite per library module; main.c runs them all
 * (or the one named by CK_RUN_SUITE, which is how ctest runs each). */
#ifndef ND_TEST_SUITES_H
#define ND_TEST_SUITES_H

#include <check.h>

Suite *normalize_suite(void);
Suite *shingle_suite(void);
Suite *minhash_suite(void);
Suite *lsh_suite(void);
Suite *cluster_suite(void);
Suite *index_suite(void);
Suite *settle_suite(void);
Suite *addkept_suite(void);
Suite *contain_suite(void);
Suite *pairs_suite(void);
Suite *chance_suite(void);
Suite *units_suite(void);
Suite *oom_suite(void);
Suite *batch_suite(void);
Suite *stream_suite(void);
Suite *explain_suite(void);
Suite *pathological_suite(void);
Suite *fastpath_suite(void);
Suite *db_suite(void);
Suite *db_query_suite(void);
Suite *db_contain_suite(void);
Suite *db_record_suite(void);
Suite *db_verify_suite(void);
Suite *replay_suite(void);
Suite *reader_suite(void);
Suite *refill_suite(void);
Suite *threads_suite(void);
Suite *alloc_suite(void);
int header_compiles(void);

/* Helpers shared by the suites (main.c). */
/* A heap copy of exactly len bytes (no NUL after it), so ASan catches
 * any read past the end. Free with free(). */
char *exact_copy(const char *s, size_t len);
/* Read a fixture file (tests/fixtures/NAME) into a heap buffer. */
char *read_fixture(const char *name, size_t *len);

#endif
