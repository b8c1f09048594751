/* test_db.c - the persistent index's handle and runs (db.c, db_meta.c,
 * db_write.c, db_compact.c): runs visible at commit only, a creating run that
 * dies, duplicate ids and --replace, option and version checks, metadata
 * that lies, bad paths, locks, a full map, removal and compaction, a
 * temporary index, and every allocation failing in turn. */
#define _GNU_SOURCE /* mkdtemp */

#include <lmdb.h>     /* raw edits of an index's metadata */
#include <pthread.h>  /* pthread_create */
#include <stdio.h>    /* snprintf, fopen */
#include <stdlib.h>   /* malloc, free */
#include <string.h>   /* strlen, strstr, memcmp */
#include <sys/stat.h> /* mkdir, stat, chmod, mkfifo */
#include <sys/wait.h> /* waitpid */
#include <unistd.h>   /* fork, _exit, rmdir, geteuid */

#include "alloc.h"
#include "dbtest.h"
#include "neardup.h"
#include "suites.h"

/* ****  Runs  **** */

START_TEST(test_run_visible_at_commit_only)
{
    place p;
    place_make(&p);
    corpus c = make_corpus(7, 10, 1, 0); /* text 10 + i is a copy of text i */
    nd_options o = test_options(0, 0, 0.8);
    nd_db *w = open_ok(p.db, ND_DB_WRITE | ND_DB_CREATE, &o);
    ck_assert_int_eq(add_range(w, &c, 0, 5, "a", 0, 1), ND_OK);
    ck_assert_int_eq(nd_db_commit(w), ND_OK);
    /* readers in other processes (one handle an index per process) */
    ck_assert(reader_sees(p.db, 5, &c, 12, 1));
    /* a second run, not committed yet: readers see the state before it */
    ck_assert_int_eq(add_range(w, &c, 5, 10, "b", 0, 1), ND_OK);
    ck_assert(reader_sees(p.db, 5, &c, 17, 0));        /* copy of text 7, added by the pending run */
    ck_assert_uint_eq(matches_of_first(w, &c, 17), 0); /* committed scope, even on the writer */
    nd_db_query_options pending = ND_DB_QUERY_INIT;
    pending.scope = ND_DB_PENDING;
    nd_db_results *res = query_range(w, &c, 17, 18, &pending);
    const nd_db_match *m;
    ck_assert_uint_eq(nd_db_results_get(&m, res, 0), 1);
    ck_assert(m[0].id_len == 2 && memcmp(m[0].id, "b7", 2) == 0);
    ck_assert_int_eq(m[0].pending, 1);
    ck_assert(m[0].jaccard == 1.0);
    nd_db_results_free(res);
    ck_assert_int_eq(nd_db_commit(w), ND_OK);
    ck_assert(reader_sees(p.db, 10, &c, 17, 1));
    /* a run abandoned by nd_db_abandon: nothing of it remains, the handle
     * goes on with a new run (ids of the abandoned one free again) */
    ck_assert_int_eq(add_range(w, &c, 10, 12, "y", 0, 1), ND_OK);
    ck_assert_int_eq(nd_db_abandon(w), ND_OK);
    ck_assert_int_eq(add_range(w, &c, 10, 12, "y", 0, 1), ND_OK); /* not "given twice" */
    ck_assert_int_eq(nd_db_abandon(w), ND_OK);
    ck_assert_int_eq(nd_db_commit(w), ND_OK);
    ck_assert(reader_sees(p.db, 10, NULL, 0, 0));
    /* a third run abandoned by closing: nothing of it remains */
    ck_assert_int_eq(add_range(w, &c, 10, 20, "z", 0, 1), ND_OK);
    nd_db_close(w);
    nd_db *r = open_ok(p.db, 0, NULL);
    ck_assert_uint_eq(documents_of(r), 10);
    ck_assert_uint_eq(matches_of_first(r, &c, 0), 1); /* a0, and no z10 */
    nd_db_close(r);
    corpus_free(&c);
    remove_tree(p.dir);
}
END_TEST

START_TEST(test_creating_run_not_finished)
{
    place p;
    place_make(&p);
    corpus c = make_corpus(9, 5, 0, 0);
    nd_options o = test_options(0, 0, 0.8);
    pid_t pid = fork();
    if (pid == 0) {
        nd_db *db = NULL;
        if (try_open(&db, NULL, 0, p.db, ND_DB_WRITE | ND_DB_CREATE, &o, 0) != ND_OK)
            _exit(3);
        add_range(db, &c, 0, 5, "a", 0, 1);
        _exit(0); /* dies without committing or closing */
    }
    int status;
    waitpid(pid, &status, 0);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    nd_db *db = NULL;
    char message[512];
    ck_assert_int_eq(try_open(&db, message, sizeof message, p.db, 0, NULL, 0), ND_ENOTFOUND);
    ck_assert_ptr_nonnull(strstr(message, "did not finish"));
    db = open_ok(p.db, ND_DB_WRITE | ND_DB_CREATE, &o);
    ck_assert_int_eq(add_range(db, &c, 0, 5, "a", 0, 1), ND_OK);
    ck_assert_int_eq(nd_db_commit(db), ND_OK);
    ck_assert_uint_eq(documents_of(db), 5);
    nd_db_close(db);
    corpus_free(&c);
    remove_tree(p.dir);
}
END_TEST

START_TEST(test_duplicate_ids)
{
    place p;
    place_make(&p);
    corpus c = make_corpus(11, 6, 0, 0);
    nd_options o = test_options(0, 0, 0.8);
    nd_db *db = open_ok(p.db, ND_DB_WRITE | ND_DB_CREATE, &o);
    ck_assert_int_eq(add_range(db, &c, 0, 4, "a", 0, 1), ND_OK);
    /* a batch with one id already added: nothing of it is added */
    ck_assert_int_eq(add_range(db, &c, 3, 6, "a", 0, 1), ND_EEXIST);
    /* added earlier in this (uncommitted) run: not "already in the index" */
    ck_assert_ptr_nonnull(strstr(db_message(db), "\"a3\" is given twice (an earlier document of this run has it)"));
    /* twice in one batch; `failed` names the second occurrence */
    const char *ids[] = {"x", "y", "x"};
    const char *texts[] = {c.texts[4], c.texts[5], c.texts[5]};
    size_t id_lens[] = {1, 1, 1}, lens[] = {strlen(c.texts[4]), strlen(c.texts[5]), strlen(c.texts[5])};
    size_t failed = 99;
    ck_assert_int_eq(nd_db_add_texts(&failed, db, ids, id_lens, texts, lens, 3, 0, 1), ND_EEXIST);
    ck_assert_ptr_nonnull(strstr(db_message(db), "\"x\" is given twice"));
    ck_assert_uint_eq(failed, 2);
    const char *ids2[] = {"new", "a1"};
    size_t id_lens2[] = {3, 2};
    ck_assert_int_eq(nd_db_add_texts(&failed, db, ids2, id_lens2, texts, lens, 2, 0, 1), ND_EEXIST);
    ck_assert_uint_eq(failed, 1);
    ck_assert_int_eq(nd_db_commit(db), ND_OK); /* the run went on */
    ck_assert_uint_eq(documents_of(db), 4);
    /* --replace: a3 now holds text 5 */
    ck_assert_int_eq(add_range(db, &c, 3, 4, "a", 0, 1), ND_EEXIST);
    ck_assert_ptr_nonnull(strstr(db_message(db), "\"a3\" is already in the index")); /* committed */
    const char *a3 = "a3";
    size_t a3_len = 2, len5 = strlen(c.texts[5]);
    ck_assert_int_eq(
        nd_db_add_texts(NULL, db, &a3, &a3_len, (const char *const *)c.texts + 5, &len5, 1, ND_DB_REPLACE, 1), ND_OK);
    ck_assert_int_eq(nd_db_commit(db), ND_OK);
    nd_db_stats s;
    ck_assert_int_eq(nd_db_stats_get(&s, db), ND_OK);
    ck_assert_uint_eq(s.documents, 4);
    ck_assert_uint_eq(s.removed, 1);
    ck_assert_uint_eq(matches_of_first(db, &c, 3), 0); /* the old a3 no longer matches */
    ck_assert_uint_eq(matches_of_first(db, &c, 5), 1);
    nd_db_close(db);
    corpus_free(&c);
    remove_tree(p.dir);
}
END_TEST

/* ****  Options, versions, bad paths  **** */

START_TEST(test_option_mismatch)
{
    place p;
    place_make(&p);
    nd_options o = test_options(0, 0, 0.8);
    nd_db *db = open_ok(p.db, ND_DB_WRITE | ND_DB_CREATE, &o);
    corpus c = make_corpus(3, 2, 0, 0);
    ck_assert_int_eq(add_range(db, &c, 0, 2, "a", 0, 1), ND_OK);
    ck_assert_int_eq(nd_db_commit(db), ND_OK);
    nd_db_close(db);
    static const struct {
        unsigned given;
        const char *expect;
    } cases[] = {
        {ND_OPT_BANDS, "option bands x rows: the index was made with 16 x 8, given 20 x 5"},
        {ND_OPT_SEED, "option seed: the index was made with 7954871460759433265, given 42"},
        {ND_OPT_NUM_PERM, "option num_perm: the index was made with 128, given 100"},
        {ND_OPT_SHINGLE, "option shingle: the index was made with auto (words:5, chars:5), given words:3"},
        {ND_OPT_PROFILE, "option normalize (profile): the index was made with default, given aggressive"},
        {ND_OPT_THRESHOLD, "option threshold: the index was made with 0.8, given 0.9"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        nd_options other = o;
        other.bands = 20;
        other.rows = 5;
        other.seed = 42;
        other.num_perm = 100;
        other.shingle_kind = ND_SHINGLE_WORDS;
        other.shingle_size = 3;
        other.profile = ND_PROFILE_AGGRESSIVE;
        other.threshold = 0.9;
        char message[512];
        ck_assert_int_eq(try_open(&db, message, sizeof message, p.db, i % 2 ? 0 : ND_DB_WRITE, &other, cases[i].given),
                         ND_EMISMATCH);
        ck_assert_msg(strstr(message, cases[i].expect), "message: %s", message);
    }
    /* the same options given, or none: fine, and the index's are used */
    db = NULL;
    ck_assert_int_eq(try_open(&db, NULL, 0, p.db, 0, &o, ND_OPT_ALL), ND_OK);
    nd_db_close(db);
    nd_options defaults = ND_OPTIONS_INIT;
    defaults.threshold = 0.5;
    ck_assert_int_eq(try_open(&db, NULL, 0, p.db, 0, &defaults, 0), ND_OK);
    ck_assert(nd_db_options(db)->threshold == 0.8);
    ck_assert_uint_eq(documents_of(db), 2);
    nd_db_close(db);
    corpus_free(&c);
    remove_tree(p.dir);
}
END_TEST

/* Overwrite one metadata value of an index with LMDB directly. */
static void poke_meta(const char *path, const char *key, const char *value)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    ck_assert_int_eq(mdb_env_create(&env), 0);
    mdb_env_set_maxdbs(env, 8);
    ck_assert_int_eq(mdb_env_open(env, path, 0, 0666), 0);
    ck_assert_int_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
    ck_assert_int_eq(mdb_dbi_open(txn, "meta", 0, &dbi), 0);
    MDB_val k = {strlen(key), (void *)(uintptr_t)key}, v = {strlen(value), (void *)(uintptr_t)value};
    ck_assert_int_eq(mdb_put(txn, dbi, &k, &v, 0), 0);
    ck_assert_int_eq(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

START_TEST(test_versions_refused)
{
    static const struct {
        const char *key, *value, *expect;
    } cases[] = {
        {"format", "1",
         "index format 1 (written by neardup " ND_VERSION "); this neardup " ND_VERSION
         " reads formats 2 and 3 only: rebuild the index"},
        {"unicode_version", "9.0", "made with Unicode 9.0"},
        {"profile_version", "7", "made with normalization default/7"},
    };
    nd_options o = test_options(0, 0, 0.8);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        place p;
        place_make(&p);
        nd_db *db = open_ok(p.db, ND_DB_WRITE | ND_DB_CREATE, &o);
        ck_assert_int_eq(nd_db_commit(db), ND_OK);
        nd_db_close(db);
        poke_meta(p.db, cases[i].key, cases[i].value);
        char message[512];
        ck_assert_int_eq(try_open(&db, message, sizeof message, p.db, 0, NULL, 0), ND_EFORMAT);
        ck_assert_msg(strstr(message, cases[i].expect), "message: %s", message);
        ck_assert_int_eq(try_open(&db, message, sizeof message, p.db, ND_DB_WRITE, NULL, 0), ND_EFORMAT);
        remove_tree(p.dir);
    }
}
END_TEST

/* Metadata that lies about the index (a damaged or edited file) is
 * refused at open, naming the value: counters that were believed (len()
 * and stats wrong; a next_doc below a stored document made every add fail
 * on LMDB's MDB_KEYEXIST and compacting write past its bitmap of removed
 * documents), a shingle kind read as auto, a size cut to 32 bits (2^32 +
 * 128 hashes read as 128), and a Jaccard index's format and measure made a
 * containment index's (its bands read as postings answered nothing, and an
 * add wrote postings over its buckets: LMDB opens a database with the
 * flags stored for it, not the ones asked for). */
START_TEST(test_metadata_that_lies)
{
    static const struct {
        const char *keys[3], *values[3], *expect;
    } cases[] = {
        {{"documents"}, {"0"}, "corrupt metadata: documents 0 and removed 0, but the index holds 3 records"},
        {{"removed"}, {"5"}, "corrupt metadata: documents 3 and removed 5, but the index holds 3 records"},
        {{"next_doc"}, {"1"}, "corrupt metadata: next_doc 1, but document 2 is stored"},
        {{"shingle_kind"}, {"bogus"}, "corrupt metadata shingle_kind = \"bogus\""},
        {{"num_perm"}, {"4294967424"}, "corrupt metadata num_perm = 4294967424"},
        {{"format", "measure", "min_shingles"},
         {"2", "containment", "20"},
         "not a neardup index of its format (database \"bands\" has LMDB flags 0x8, not 0x3c)"},
    };
    corpus c = make_corpus(3, 3, 0, 0);
    nd_options o = test_options(0, 0, 0.8);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        place p;
        place_make(&p);
        nd_db *db = open_ok(p.db, ND_DB_WRITE | ND_DB_CREATE, &o);
        ck_assert_int_eq(add_range(db, &c, 0, 3, "a", 0, 1), ND_OK);
        ck_assert_int_eq(nd_db_commit(db), ND_OK);
        nd_db_close(db);
        for (size_t k = 0; k < 3 && cases[i].keys[k]; k++)
            poke_meta(p.db, cases[i].keys[k], cases[i].values[k]);
        char message[512];
        for (unsigned flags = 0; flags <= ND_DB_WRITE; flags += ND_DB_WRITE) {
            ck_assert_int_eq(try_open(&db, message, sizeof message, p.db, flags, NULL, 0), ND_EFORMAT);
            ck_assert_msg(strstr(message, cases[i].expect), "case %zu: %s", i, message);
        }
        remove_tree(p.dir);
    }
    corpus_free(&c);
}
END_TEST

/* A bucket whose value is not a whole number of entries (a corrupt file):
 * queries, compaction and adding report a corrupt index, nothing crashes. */
START_TEST(test_corrupt_bucket)
{
    corpus c = make_corpus(5, 30, 2, 3);
    nd_options o = test_options(0, 0, 0.8);
    place p;
    place_make(&p);
    nd_db *db = open_ok(p.db, ND_DB_WRITE | ND_DB_CREATE, &o);
    ck_assert_int_eq(add_range(db, &c, 0, c.count, "a", 0, 1), ND_OK);
    ck_assert_int_eq(nd_db_commit(db), ND_OK);
    nd_db_close(db);
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_cursor *cur;
    ck_assert_int_eq(mdb_env_create(&env), 0);
    mdb_env_set_maxdbs(env, 8);
    ck_assert_int_eq(mdb_env_open(env, p.db, 0, 0666), 0);
    ck_assert_int_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
    ck_assert_int_eq(mdb_dbi_open(txn, "bands", MDB_INTEGERKEY, &dbi), 0);
    ck_assert_int_eq(mdb_cursor_open(txn, dbi, &cur), 0);
    MDB_val k, v;
    static uint64_t keys[4096];
    size_t buckets = 0;
    for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0 && buckets < 4096;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        ck_assert_uint_eq(k.mv_size, 8);
        ck_assert_uint_eq(v.mv_size % 8, 0);
        memcpy(&keys[buckets++], k.mv_data, 8);
    }
    mdb_cursor_close(cur);
    ck_assert_uint_gt(buckets, 0);
    for (size_t i = 0; i < buckets; i++) { /* every bucket: any probe meets one */
        char odd[7] = {1, 2, 3, 4, 5, 6, 7};
        MDB_val key = {8, &keys[i]}, bad = {sizeof odd, odd};
        ck_assert_int_eq(mdb_put(txn, dbi, &key, &bad, 0), 0);
    }
    ck_assert_int_eq(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
    db = open_ok(p.db, ND_DB_WRITE, NULL);
    size_t lens[1] = {strlen(c.texts[0])};
    nd_db_results *r = NULL;
    ck_assert_int_eq(nd_db_query_texts(&r, db, (const char *const *)c.texts, lens, 1, NULL), ND_EFORMAT);
    ck_assert_ptr_null(r);
    ck_assert_msg(strstr(db_message(db), "corrupt index"), "message: %s", db_message(db));
    ck_assert_int_ne(nd_db_compact(db), ND_OK);
    ck_assert_int_eq(add_range(db, &c, 0, 1, "b", 0, 1), ND_OK);
    ck_assert_int_ne(nd_db_commit(db), ND_OK); /* its merge meets a corrupt bucket: the run is abandoned */
    ck_assert_uint_eq(documents_of(db), c.count);
    nd_db_close(db);
    corpus_free(&c);
    remove_tree(p.dir);
}
END_TEST

START_TEST(test_bad_paths)
{
    place p;
    place_make(&p);
    char path[160], message[512];
    nd_db *db = NULL;
    nd_options o = test_options(0, 0, 0.8);
    /* missing */
    ck_assert_int_eq(try_open(&db, message, sizeof message, p.db, 0, NULL, 0), ND_ENOTFOUND);
    ck_assert_ptr_nonnull(strstr(message, "no such index"));
    ck_assert_int_eq(try_open(&db, message, sizeof message, p.db, ND_DB_WRITE, NULL, 0), ND_ENOTFOUND);
    /* a regular file */
    snprintf(path, sizeof path, "%s/file.jsonl", p.dir);
    FILE *f = fopen(path, "w");
    fputs("{\"id\": 1}\n", f);
    fclose(f);
    ck_assert_int_eq(try_open(&db, message, sizeof message, path, ND_DB_WRITE | ND_DB_CREATE, &o, 0), ND_EFORMAT);
    ck_assert_ptr_nonnull(strstr(message, "not a neardup index (a file"));
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(st.st_size, 10); /* untouched */
    /* a directory with other things in it */
    ck_assert_int_eq(try_open(&db, message, sizeof message, p.dir, ND_DB_WRITE | ND_DB_CREATE, &o, 0), ND_EFORMAT);
    ck_assert_ptr_nonnull(strstr(message, "without data.mdb that is not empty"));
    ck_assert_int_eq(try_open(&db, message, sizeof message, p.dir, 0, NULL, 0), ND_ENOTFOUND);
    /* data.mdb that is not LMDB */
    ck_assert_int_eq(mkdir(p.db, 0777), 0);
    snprintf(path, sizeof path, "%s/data.mdb", p.db);
    f = fopen(path, "w");
    for (int i = 0; i < 2000; i++)
        fputs("garbage!", f);
    fclose(f);
    ck_assert_int_eq(try_open(&db, message, sizeof message, p.db, 0, NULL, 0), ND_EFORMAT);
    ck_assert_ptr_nonnull(strstr(message, "not an LMDB database"));
    ck_assert_int_eq(try_open(&db, message, sizeof message, p.db, ND_DB_WRITE | ND_DB_CREATE, &o, 0), ND_EFORMAT);
    /* data.mdb that is a FIFO: a reader waited in LMDB's open for ever */
    ck_assert_int_eq(unlink(path), 0);
    ck_assert_int_eq(mkfifo(path, 0666), 0);
    for (unsigned flags = 0; flags <= ND_DB_WRITE; flags += ND_DB_WRITE) {
        ck_assert_int_eq(try_open(&db, message, sizeof message, p.db, flags, NULL, 0), ND_EFORMAT);
        ck_assert_msg(strstr(message, "not a neardup index (data.mdb is not a regular file)"), "%s", message);
    }
    remove_tree(p.db);
    /* an LMDB environment of someone else */
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    ck_assert_int_eq(mkdir(p.db, 0777), 0);
    mdb_env_create(&env);
    ck_assert_int_eq(mdb_env_open(env, p.db, 0, 0666), 0);
    mdb_txn_begin(env, NULL, 0, &txn);
    mdb_dbi_open(txn, NULL, 0, &dbi);
    char key[] = "key", value[] = "value";
    MDB_val k = {3, key}, v = {5, value};
    ck_assert_int_eq(mdb_put(txn, dbi, &k, &v, 0), 0);
    mdb_txn_commit(txn);
    mdb_env_close(env);
    ck_assert_int_eq(try_open(&db, message, sizeof message, p.db, 0, NULL, 0), ND_EFORMAT);
    ck_assert_msg(strstr(message, "an LMDB database without \"meta\""), "%s", message);
    /* empty path, and a temporary index on an existing path */
    ck_assert_int_eq(try_open(&db, message, sizeof message, "", 0, NULL, 0), ND_EINVAL);
    ck_assert_int_eq(try_open(&db, message, sizeof message, p.db, ND_DB_TEMPORARY, &o, 0), ND_EINVAL);
    remove_tree(p.dir);
}
END_TEST

START_TEST(test_read_only_directory)
{
    if (geteuid() == 0)
        return; /* root writes anywhere; tests/cli/test_index_bad_input.sh tries a read-only mount */
    place p;
    place_make(&p);
    nd_options o = test_options(0, 0, 0.8);
    char message[512];
    nd_db *db;
    ck_assert_int_eq(chmod(p.dir, 0555), 0);
    ck_assert_int_eq(try_open(&db, message, sizeof message, p.db, ND_DB_WRITE | ND_DB_CREATE, &o, 0), ND_EIO);
    ck_assert_ptr_nonnull(strstr(message, "cannot create the index directory"));
    chmod(p.dir, 0755);
    /* an index whose data.mdb cannot be read, or whose directory cannot be
     * searched (said before: the lock file lock.mdb; no index in this
     * directory) */
    db = open_ok(p.db, ND_DB_WRITE | ND_DB_CREATE, &o);
    ck_assert_int_eq(nd_db_commit(db), ND_OK);
    nd_db_close(db);
    char data[160];
    snprintf(data, sizeof data, "%s/data.mdb", p.db);
    ck_assert_int_eq(chmod(data, 0), 0);
    ck_assert_int_eq(try_open(&db, message, sizeof message, p.db, 0, NULL, 0), ND_EIO);
    ck_assert_msg(strstr(message, "cannot open the index for reading: data.mdb: Permission denied"), "%s", message);
    ck_assert_int_eq(chmod(data, 0644), 0);
    ck_assert_int_eq(chmod(p.db, 0), 0);
    ck_assert_int_eq(try_open(&db, message, sizeof message, p.db, 0, NULL, 0), ND_EIO);
    ck_assert_msg(strstr(message, "cannot look into the index directory: Permission denied"), "%s", message);
    chmod(p.db, 0755);
    remove_tree(p.dir);
}
END_TEST

/* In a child process: open `path` for writing; exit 0 when refused as
 * busy naming neardup.lock (the other writer's), 1 otherwise. */
static int second_writer_refused(const char *path)
{
    fflush(NULL);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        nd_db *w2 = NULL;
        char message[512];
        int rc = try_open(&w2, message, sizeof message, path, ND_DB_WRITE, NULL, 0);
        nd_db_close(w2);
        _exit(rc == ND_EBUSY && strstr(message, "neardup.lock") ? 0 : 1);
    }
    int status = 0;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

START_TEST(test_second_writer)
{
    place p;
    place_make(&p);
    nd_options o = test_options(0, 0, 0.8);
    nd_db *w = open_ok(p.db, ND_DB_WRITE | ND_DB_CREATE, &o);
    ck_assert_int_eq(nd_db_commit(w), ND_OK);
    ck_assert(second_writer_refused(p.db)); /* in another process */
    /* a second handle in this process, reader or writer: refused (LMDB
     * allows one; closing the second released the first's locks) */
    nd_db *again = NULL;
    char message[512];
    for (unsigned flags = 0; flags <= ND_DB_WRITE; flags += ND_DB_WRITE) {
        ck_assert_int_eq(try_open(&again, message, sizeof message, p.db, flags, NULL, 0), ND_EBUSY);
        ck_assert_ptr_nonnull(strstr(message, "open already in this process"));
    }
    /* compacting needs the index alone: a reader in another process */
    int go[2], ready[2];
    ck_assert_int_eq(pipe(go), 0);
    ck_assert_int_eq(pipe(ready), 0);
    fflush(NULL);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(go[1]); /* a parent that fails before writing ends the child's read (EOF), not hangs it */
        close(ready[0]);
        nd_db *r = NULL;
        int ok = try_open(&r, message, sizeof message, p.db, 0, NULL, 0) == ND_OK;
        char byte = ok ? 'y' : 'n';
        ssize_t ignored = write(ready[1], &byte, 1);
        ignored = read(go[0], &byte, 1); /* until the parent has tried */
        (void)ignored;
        nd_db_close(r);
        _exit(ok ? 0 : 1);
    }
    close(go[0]);
    close(ready[1]);
    char byte = 0;
    ck_assert_int_eq(read(ready[0], &byte, 1), 1);
    ck_assert_int_eq(byte, 'y');
    ck_assert_int_eq(nd_db_compact(w), ND_EBUSY);
    ck_assert_ptr_nonnull(strstr(db_message(w), "needs the index alone"));
    ck_assert_int_eq(write(go[1], "x", 1), 1);
    int status = 0;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    close(go[1]);
    close(ready[0]);
    ck_assert_int_eq(nd_db_compact(w), ND_OK);
    nd_db_close(w);
    nd_db *w2 = open_ok(p.db, ND_DB_WRITE, NULL); /* once closed, the index opens again */
    nd_db_close(w2);
    remove_tree(p.dir);
}
END_TEST

static void *commit_elsewhere(void *arg)
{
    return (void *)(intptr_t)nd_db_commit(arg);
}

START_TEST(test_run_belongs_to_its_thread)
{
    place p;
    place_make(&p);
    nd_options o = test_options(0, 0, 0.8);
    corpus c = make_corpus(5, 2, 0, 0);
    nd_db *db = open_ok(p.db, ND_DB_WRITE | ND_DB_CREATE, &o);
    ck_assert_int_eq(add_range(db, &c, 0, 2, "a", 0, 1), ND_OK);
    pthread_t t;
    void *rc;
    pthread_create(&t, NULL, commit_elsewhere, db);
    pthread_join(t, &rc);
    ck_assert_int_eq((int)(intptr_t)rc, ND_EINVAL);
    ck_assert_ptr_nonnull(strstr(db_message(db), "begun by another thread"));
    ck_assert_int_eq(nd_db_commit(db), ND_OK);
    /* reading only */
    nd_db_close(db);
    db = open_ok(p.db, 0, NULL);
    ck_assert_int_eq(add_range(db, &c, 0, 1, "b", 0, 1), ND_EINVAL);
    ck_assert_ptr_nonnull(strstr(db_message(db), "reading only"));
    nd_db_close(db);
    corpus_free(&c);
    remove_tree(p.dir);
}
END_TEST

START_TEST(test_map_full)
{
    place p;
    place_make(&p);
    nd_options o = test_options(0, 0, 0.8);
    corpus c = make_corpus(17, 400, 0, 0);
    nd_db_config config = ND_DB_CONFIG_INIT;
    config.options = o;
    config.flags = ND_DB_WRITE | ND_DB_CREATE;
    config.max_bytes = 256 << 10;
    nd_db *db;
    ck_assert_int_eq(nd_db_open(&db, NULL, 0, p.db, &config), ND_OK);
    ck_assert_int_eq(add_range(db, &c, 0, 20, "a", 0, 1), ND_OK);
    ck_assert_int_eq(nd_db_commit(db), ND_OK);
    int rc = ND_OK;
    for (size_t at = 20; at < 400 && rc == ND_OK; at += 20)
        rc = add_range(db, &c, at, at + 20, "a", 0, 1);
    if (rc == ND_OK)
        rc = nd_db_commit(db);
    ck_assert_int_eq(rc, ND_EFULL);
    ck_assert_msg(strstr(db_message(db), "size limit") && strstr(db_message(db), "the run was abandoned"), "%s",
                  db_message(db));
    ck_assert_uint_eq(documents_of(db), 20);
    /* the handle goes on: a small run fits */
    ck_assert_int_eq(add_range(db, &c, 20, 22, "a", 0, 1), ND_OK);
    ck_assert_int_eq(nd_db_commit(db), ND_OK);
    nd_db_close(db);
    db = open_ok(p.db, 0, NULL);
    ck_assert_uint_eq(documents_of(db), 22);
    ck_assert_uint_eq(matches_of_first(db, &c, 21), 1);
    nd_db_close(db);
    corpus_free(&c);
    remove_tree(p.dir);
}
END_TEST

/* ****  Removal and compaction  **** */

START_TEST(test_remove_and_compact)
{
    place p;
    place_make(&p);
    nd_options o = test_options(0, 0, 0.8);
    corpus c = make_corpus(19, 300, 1, 0); /* texts i and 300 + i identical */
    nd_db *db = open_ok(p.db, ND_DB_WRITE | ND_DB_CREATE, &o);
    ck_assert_int_eq(add_range(db, &c, 0, 600, "a", 0, 2), ND_OK);
    ck_assert_int_eq(nd_db_commit(db), ND_OK);
    ck_assert_uint_eq(matches_of_first(db, &c, 0), 2);
    const char *unknown[] = {"a0", "nope"};
    size_t unknown_lens[] = {2, 4}, removed = 99;
    ck_assert_int_eq(nd_db_remove(&removed, db, unknown, unknown_lens, 2), ND_ENOTFOUND);
    ck_assert_ptr_nonnull(strstr(db_message(db), "\"nope\" is not in the index"));
    ck_assert_uint_eq(removed, 99);
    /* remove the copies a300 .. a549 */
    char **ids = malloc(250 * sizeof *ids);
    size_t lens[250];
    for (size_t i = 0; i < 250; i++) {
        ids[i] = malloc(16);
        lens[i] = (size_t)snprintf(ids[i], 16, "a%zu", 300 + i);
    }
    ck_assert_int_eq(nd_db_remove(&removed, db, (const char *const *)ids, lens, 250), ND_OK);
    ck_assert_uint_eq(removed, 250);
    ck_assert_int_eq(nd_db_commit(db), ND_OK);
    ck_assert_uint_eq(matches_of_first(db, &c, 0), 1);
    nd_db_stats before, after;
    ck_assert_int_eq(nd_db_stats_get(&before, db), ND_OK);
    ck_assert_uint_eq(before.documents, 350);
    ck_assert_uint_eq(before.removed, 250);
    nd_db_results *r1 = query_range(db, &c, 0, 600, NULL);
    ck_assert_int_eq(nd_db_compact(db), ND_OK);
    ck_assert_int_eq(nd_db_stats_get(&after, db), ND_OK);
    ck_assert_uint_eq(after.documents, 350);
    ck_assert_uint_eq(after.removed, 0);
    ck_assert_uint_eq(after.band_entries, 350 * 16);
    ck_assert_uint_lt(after.bytes_used, before.bytes_used);
    ck_assert_uint_le(after.bytes_on_disk, before.bytes_on_disk);
    nd_db_results *r2 = query_range(db, &c, 0, 600, NULL);
    for (size_t i = 0; i < 600; i++) {
        const nd_db_match *a, *b;
        size_t na = nd_db_results_get(&a, r1, i), nb = nd_db_results_get(&b, r2, i);
        ck_assert_uint_eq(na, nb);
        for (size_t k = 0; k < na; k++)
            ck_assert(a[k].id_len == b[k].id_len && memcmp(a[k].id, b[k].id, a[k].id_len) == 0);
    }
    nd_db_results_free(r1);
    nd_db_results_free(r2);
    /* removed ids can be added again, after compaction too */
    ck_assert_int_eq(add_range(db, &c, 300, 301, "a", 0, 1), ND_OK);
    ck_assert_int_eq(nd_db_commit(db), ND_OK);
    ck_assert_uint_eq(matches_of_first(db, &c, 0), 2);
    nd_db_close(db);
    db = open_ok(p.db, 0, NULL);
    ck_assert_uint_eq(documents_of(db), 351);
    nd_db_close(db);
    for (size_t i = 0; i < 250; i++)
        free(ids[i]);
    free(ids);
    corpus_free(&c);
    remove_tree(p.dir);
}
END_TEST

START_TEST(test_temporary_and_empty_texts)
{
    place p;
    place_make(&p);
    nd_options o = test_options(0, 0, 0.8);
    nd_db *db = open_ok(p.db, ND_DB_TEMPORARY, &o);
    struct stat st;
    ck_assert_int_ne(stat(p.db, &st), 0); /* gone already, though open */
    const char *ids[] = {"e1", "e2", "t"};
    const char *texts[] = {"", " ... ", "some words to have one shingle at least here"};
    size_t id_lens[] = {2, 2, 1}, lens[] = {0, 5, strlen(texts[2])};
    ck_assert_int_eq(nd_db_add_texts(NULL, db, ids, id_lens, texts, lens, 3, 0, 1), ND_OK);
    nd_db_query_options q = ND_DB_QUERY_INIT;
    q.scope = ND_DB_PENDING;
    nd_db_results *r;
    ck_assert_int_eq(nd_db_query_texts(&r, db, texts, lens, 3, &q), ND_OK);
    const nd_db_match *m;
    ck_assert_uint_eq(nd_db_results_get(&m, r, 0), 0); /* empty texts never match */
    ck_assert_uint_eq(nd_db_results_get(&m, r, 1), 0);
    ck_assert_uint_eq(nd_db_results_get(&m, r, 2), 1);
    nd_db_results_free(r);
    nd_db_close(db);
    ck_assert_int_eq(rmdir(p.dir), 0); /* nothing left behind */
}
END_TEST

/* ****  Allocation failures  **** */

/* Create an index, add three texts, commit, query them; the first error. */
static int db_pipeline(const char *path, size_t *matches)
{
    static const char *const texts[] = {
        "one two three four five six seven eight nine ten",
        "unrelated words here and there for a second text",
        "one two three four five six seven eight nine ten",
    };
    static const char *const ids[] = {"a", "b", "c"};
    size_t lens[3], id_lens[3] = {1, 1, 1};
    for (int i = 0; i < 3; i++)
        lens[i] = strlen(texts[i]);
    nd_db_config config = ND_DB_CONFIG_INIT;
    config.flags = ND_DB_WRITE | ND_DB_CREATE;
    nd_db *db = NULL;
    nd_db_results *r = NULL;
    int rc = nd_db_open(&db, NULL, 0, path, &config);
    if (rc == ND_OK)
        rc = nd_db_add_texts(NULL, db, ids, id_lens, texts, lens, 3, 0, 1);
    if (rc == ND_OK)
        rc = nd_db_commit(db);
    if (rc == ND_OK)
        rc = nd_db_query_texts(&r, db, texts, lens, 3, NULL);
    if (rc == ND_OK) {
        const nd_db_match *m;
        *matches = 0;
        for (size_t i = 0; i < 3; i++)
            *matches += nd_db_results_get(&m, r, i);
    }
    nd_db_results_free(r);
    nd_db_close(db);
    return rc;
}

START_TEST(test_fail_every_allocation)
{
    place p;
    place_make(&p);
    nd_normalizer *warm = NULL; /* the shared fold table is made once per process */
    ck_assert_int_eq(nd_normalizer_new(&warm, ND_PROFILE_DEFAULT), ND_OK);
    nd_normalizer_free(warm);
    int succeeded = 0;
    size_t n;
    for (n = 0; n < 10000 && !succeeded; n++) {
        char path[160];
        snprintf(path, sizeof path, "%s/db%zu", p.dir, n);
        size_t matches = 0;
        nd_alloc_fail_after(n);
        int rc = db_pipeline(path, &matches);
        nd_alloc_fail_after((size_t)-1);
        ck_assert_msg(rc == ND_OK || rc == ND_ENOMEM, "fail after %zu: status %d", n, rc);
        if (rc == ND_OK) {
            ck_assert_uint_eq(matches, 5); /* a and c match each other and themselves, b itself */
            succeeded = 1;
        } else {
            /* a failed run leaves no index behind, or the one it committed */
            nd_db *db = NULL;
            int open = try_open(&db, NULL, 0, path, 0, NULL, 0);
            ck_assert_msg(open == ND_ENOTFOUND || open == ND_OK, "fail after %zu: reopen %d", n, open);
            if (open == ND_OK)
                ck_assert(documents_of(db) == 0 || documents_of(db) == 3);
            nd_db_close(db);
        }
    }
    ck_assert_msg(succeeded, "the pipeline never succeeded");
    ck_assert_uint_gt(n, 10);
    remove_tree(p.dir);
}
END_TEST

/* Many runs, each adding a tenth: the file stays near its compacted size.
 * (It held the band entries three times over, in pages two-thirds full,
 * before band trees were rewritten whole by runs that touch most of their
 * pages and a second transaction let the next run reuse what a run freed:
 * 2.7x the compacted size on these short texts, now 1.55x; 1.35x for 1 KB
 * texts.) */
START_TEST(test_size_after_many_runs)
{
    place p;
    place_make(&p);
    corpus c = make_corpus(0x512e, 200, 9, 8);
    nd_db *db = open_ok(p.db, ND_DB_WRITE | ND_DB_CREATE, NULL);
    for (size_t run = 0; run < 10; run++) {
        ck_assert_int_eq(add_range(db, &c, c.count * run / 10, c.count * (run + 1) / 10, "d", 0, 1), ND_OK);
        ck_assert_int_eq(nd_db_commit(db), ND_OK);
    }
    nd_db_stats many, compacted;
    ck_assert_int_eq(nd_db_stats_get(&many, db), ND_OK);
    ck_assert_int_eq(nd_db_compact(db), ND_OK);
    ck_assert_int_eq(nd_db_stats_get(&compacted, db), ND_OK);
    ck_assert_uint_eq(many.documents, c.count);
    ck_assert_msg(many.bytes_used * 4 <= compacted.bytes_used * 7, "%llu bytes after 10 runs, %llu compacted",
                  (unsigned long long)many.bytes_used, (unsigned long long)compacted.bytes_used);
    nd_db_close(db);
    corpus_free(&c);
    remove_tree(p.dir);
}
END_TEST

Suite *db_suite(void)
{
    Suite *s = suite_create("db");
    TCase *tc = tcase_create("db");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_run_visible_at_commit_only);
    tcase_add_test(tc, test_creating_run_not_finished);
    tcase_add_test(tc, test_duplicate_ids);
    tcase_add_test(tc, test_option_mismatch);
    tcase_add_test(tc, test_versions_refused);
    tcase_add_test(tc, test_metadata_that_lies);
    tcase_add_test(tc, test_bad_paths);
    tcase_add_test(tc, test_corrupt_bucket);
    tcase_add_test(tc, test_read_only_directory);
    tcase_add_test(tc, test_second_writer);
    tcase_add_test(tc, test_run_belongs_to_its_thread);
    tcase_add_test(tc, test_map_full);
    tcase_add_test(tc, test_remove_and_compact);
    tcase_add_test(tc, test_size_after_many_runs);
    tcase_add_test(tc, test_temporary_and_empty_texts);
    tcase_add_test(tc, test_fail_every_allocation);
    suite_add_tcase(s, tc);
    return s;
}
