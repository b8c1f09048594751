/* dbtest.c - what the persistent index's test suites share (see dbtest.h). */
#define _GNU_SOURCE /* nftw, mkdtemp */

#include "dbtest.h"

#include <ftw.h>      /* nftw */
#include <stdio.h>    /* snprintf, sprintf, remove */
#include <stdlib.h>   /* malloc, calloc, free, mkdtemp */
#include <string.h>   /* strlen, memcpy */
#include <sys/wait.h> /* waitpid */
#include <unistd.h>   /* fork, _exit */

#include "suites.h"

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void remove_tree(const char *path)
{
    nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

void place_make(place *p)
{
    snprintf(p->dir, sizeof p->dir, "/tmp/nd-test-db-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(p->dir));
    snprintf(p->db, sizeof p->db, "%s/db", p->dir);
}

nd_options test_options(unsigned bands, unsigned rows, double threshold)
{
    nd_options o = ND_OPTIONS_INIT;
    o.bands = bands;
    o.rows = rows;
    o.threshold = threshold;
    ck_assert_int_eq(nd_options_resolve(&o), ND_OK);
    return o;
}

int try_open(nd_db **db, char *message, size_t size, const char *path, unsigned flags, const nd_options *opts,
             unsigned given)
{
    nd_db_config c = ND_DB_CONFIG_INIT;
    if (opts)
        c.options = *opts;
    c.flags = flags;
    c.given = given;
    return nd_db_open(db, message, size, path, &c);
}

nd_db *open_ok(const char *path, unsigned flags, const nd_options *opts)
{
    nd_db *db = NULL;
    char message[512];
    int rc = try_open(&db, message, sizeof message, path, flags, opts, 0);
    ck_assert_msg(rc == ND_OK, "open %s: %s (%s)", path, nd_strerror(rc), message);
    return db;
}

const char *db_message(const nd_db *db)
{
    static char buf[512];
    nd_db_error(buf, sizeof buf, db);
    return buf;
}

/* Deterministic texts: documents of 60-100 words from 400 made-up words,
 * some of them edited copies of others (m words replaced). */
uint64_t next_random(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static void word_of(char *out, unsigned w)
{
    static const char *const syl[] = {"ka", "lo", "mi", "tra", "zen", "po", "rus", "vel", "dak", "sho"};
    snprintf(out, 16, "%s%s%s", syl[w % 10], syl[(w / 10) % 10], syl[(w / 100) % 10]);
}

/* `bases` documents and `copies` edited copies of each (edits of 0 to
 * max_edits words): text v * bases + b is variant v of base b (variant 0
 * is the base itself). */
corpus make_corpus(uint64_t seed, size_t bases, size_t copies, unsigned max_edits)
{
    corpus c = {calloc(bases * (copies + 1), sizeof(char *)), bases * (copies + 1)};
    uint64_t rng = seed;
    unsigned words[120];
    for (size_t b = 0; b < bases; b++) {
        size_t n = 60 + next_random(&rng) % 41;
        for (size_t i = 0; i < n; i++)
            words[i] = (unsigned)(next_random(&rng) % 400);
        for (size_t v = 0; v <= copies; v++) {
            unsigned edited[120];
            memcpy(edited, words, n * sizeof *words);
            unsigned edits = v == 0 ? 0 : (unsigned)(next_random(&rng) % (max_edits + 1));
            for (unsigned e = 0; e < edits; e++)
                edited[next_random(&rng) % n] = (unsigned)(next_random(&rng) % 400);
            char *text = malloc(n * 16 + 1);
            size_t len = 0;
            for (size_t i = 0; i < n; i++) {
                char w[16];
                word_of(w, edited[i]);
                len += (size_t)sprintf(text + len, i ? " %s" : "%s", w);
            }
            c.texts[v * bases + b] = text;
        }
    }
    return c;
}

void corpus_free(corpus *c)
{
    for (size_t i = 0; i < c->count; i++)
        free(c->texts[i]);
    free(c->texts);
}

/* Add texts [from, to) of c with ids "<prefix><i>", in one call. */
int add_range(nd_db *db, const corpus *c, size_t from, size_t to, const char *prefix, unsigned flags, unsigned threads)
{
    size_t n = to - from;
    char **ids = calloc(n + 1, sizeof *ids);
    size_t *id_lens = calloc(n + 1, sizeof *id_lens), *lens = calloc(n + 1, sizeof *lens);
    for (size_t i = 0; i < n; i++) {
        ids[i] = malloc(32);
        id_lens[i] = (size_t)snprintf(ids[i], 32, "%s%zu", prefix, from + i);
        lens[i] = strlen(c->texts[from + i]);
    }
    int rc = nd_db_add_texts(NULL, db, (const char *const *)ids, id_lens, (const char *const *)c->texts + from, lens, n,
                             flags, threads);
    for (size_t i = 0; i < n; i++)
        free(ids[i]);
    free(ids);
    free(id_lens);
    free(lens);
    return rc;
}

nd_db_results *query_range(nd_db *db, const corpus *c, size_t from, size_t to, const nd_db_query_options *opts)
{
    size_t n = to - from;
    size_t *lens = malloc((n ? n : 1) * sizeof *lens);
    for (size_t i = 0; i < n; i++)
        lens[i] = strlen(c->texts[from + i]);
    nd_db_results *r = NULL;
    int rc = nd_db_query_texts(&r, db, (const char *const *)c->texts + from, lens, n, opts);
    ck_assert_msg(rc == ND_OK, "query: %s (%s)", nd_strerror(rc), db_message(db));
    free(lens);
    ck_assert_uint_eq(nd_db_results_count(r), n);
    return r;
}

uint64_t documents_of(nd_db *db)
{
    nd_db_stats s;
    ck_assert_int_eq(nd_db_stats_get(&s, db), ND_OK);
    return s.documents;
}

size_t matches_of_first(nd_db *db, const corpus *c, size_t i)
{
    nd_db_results *r = query_range(db, c, i, i + 1, NULL);
    const nd_db_match *m;
    size_t n = nd_db_results_get(&m, r, 0);
    nd_db_results_free(r);
    return n;
}

int reader_sees(const char *path, uint64_t documents, const corpus *c, size_t i, size_t matches)
{
    fflush(NULL);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) { /* no ck_assert here: the child reports by its exit status */
        nd_db *r = NULL;
        char message[512];
        nd_db_stats s;
        int ok = try_open(&r, message, sizeof message, path, 0, NULL, 0) == ND_OK && nd_db_stats_get(&s, r) == ND_OK &&
                 s.documents == documents && nd_db_abandon(r) == ND_EINVAL; /* read-only */
        if (ok && c) {
            size_t len = strlen(c->texts[i]);
            nd_db_results *res = NULL;
            const nd_db_match *m;
            ok = nd_db_query_texts(&res, r, (const char *const *)c->texts + i, &len, 1, NULL) == ND_OK &&
                 nd_db_results_get(&m, res, 0) == matches;
            nd_db_results_free(res);
        }
        nd_db_close(r);
        _exit(ok ? 0 : 1);
    }
    int status = 0;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}
