/* dbtest.h - what the persistent index's test suites share (dbtest.c):
 * scratch directories, opening, deterministic corpora of near-duplicates,
 * adding and querying ranges of them. */
#ifndef ND_TEST_DBTEST_H
#define ND_TEST_DBTEST_H

#include <stddef.h> /* size_t */
#include <stdint.h> /* uint64_t */

#include "neardup.h"

/* A fresh temporary directory; the index goes into DIR/db. */
typedef struct {
    char dir[64];
    char db[96];
} place;

void place_make(place *p);
/* rm -r */
void remove_tree(const char *path);

/* Resolved options with these bands, rows (0, 0: chosen) and threshold. */
nd_options test_options(unsigned bands, unsigned rows, double threshold);
/* nd_db_open with these flags, options (may be NULL) and ND_OPT_* bits. */
int try_open(nd_db **db, char *message, size_t size, const char *path, unsigned flags, const nd_options *opts,
             unsigned given);
/* try_open that must succeed. */
nd_db *open_ok(const char *path, unsigned flags, const nd_options *opts);
/* The handle's last message (a static buffer). */
const char *db_message(const nd_db *db);

/* splitmix64 */
uint64_t next_random(uint64_t *state);

typedef struct {
    char **texts;
    size_t count;
} corpus;

/* `bases` documents of 60-100 made-up words and `copies` edited copies of
 * each (0 to max_edits words replaced): text v * bases + b is variant v of
 * base b (variant 0 is the base itself). */
corpus make_corpus(uint64_t seed, size_t bases, size_t copies, unsigned max_edits);
void corpus_free(corpus *c);

/* Add texts [from, to) of c with ids "<prefix><i>" in one call. */
int add_range(nd_db *db, const corpus *c, size_t from, size_t to, const char *prefix, unsigned flags, unsigned threads);
/* Query texts [from, to) of c (must succeed). */
nd_db_results *query_range(nd_db *db, const corpus *c, size_t from, size_t to, const nd_db_query_options *opts);

/* Committed documents of the index. */
uint64_t documents_of(nd_db *db);
/* How many matches text i of c has. */
size_t matches_of_first(nd_db *db, const corpus *c, size_t i);
/* What a reader in another process sees (one handle on an index per
 * process: nd_db_open refuses a second): a child opens `path` read-only;
 * 1 when it counts `documents` and, with `c`, text i of c has `matches`
 * matches (and the handle refuses nd_db_abandon: read-only). */
int reader_sees(const char *path, uint64_t documents, const corpus *c, size_t i, size_t matches);

#endif
