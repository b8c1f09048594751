/* test_db.c - the persistent index (nd_db): equivalence with a brute-force
 * all-pairs reference, runs (commit, abandon, readers during a writer),
 * option and version checks, bad paths, locks, a full map, removal and
 * compaction, queries from several threads, and the record codec. */
#define _GNU_SOURCE /* nftw, mkdtemp */

#include <ftw.h>      /* nftw */
#include <lmdb.h>     /* raw edits of an index's metadata */
#include <pthread.h>  /* pthread_create */
#include <stdio.h>    /* snprintf, fopen */
#include <stdlib.h>   /* malloc, free, mkdtemp */
#include <string.h>   /* strlen, strstr, memcmp */
#include <sys/stat.h> /* mkdir, stat */
#include <sys/wait.h> /* waitpid */
#include <unistd.h>   /* fork, _exit, rmdir */

#include "alloc.h"
#include "db_record.h"
#include "neardup.h"
#include "suites.h"

/* ****  Helpers  **** */

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void remove_tree(const char *path)
{
    nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* A fresh temporary directory; the index goes into DIR/db. */
typedef struct {
    char dir[64];
    char db[96];
} place;

static void place_make(place *p)
{
    snprintf(p->dir, sizeof p->dir, "/tmp/nd-test-db-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(p->dir));
    snprintf(p->db, sizeof p->db, "%s/db", p->dir);
}

static nd_options test_options(unsigned bands, unsigned rows, double threshold)
{
    nd_options o = ND_OPTIONS_INIT;
    o.bands = bands;
    o.rows = rows;
    o.threshold = threshold;
    ck_assert_int_eq(nd_options_resolve(&o), ND_OK);
    return o;
}

static int try_open(nd_db **db, char *message, size_t size, const char *path, unsigned flags, const nd_options *opts,
                    unsigned given)
{
    nd_db_config c = ND_DB_CONFIG_INIT;
    if (opts)
        c.options = *opts;
    c.flags = flags;
    c.given = given;
    return nd_db_open(db, message, size, path, &c);
}

static nd_db *open_ok(const char *path, unsigned flags, const nd_options *opts)
{
    nd_db *db = NULL;
    char message[512];
    int rc = try_open(&db, message, sizeof message, path, flags, opts, 0);
    ck_assert_msg(rc == ND_OK, "open %s: %s (%s)", path, nd_strerror(rc), message);
    return db;
}

static const char *db_message(const nd_db *db)
{
    static char buf[512];
    nd_db_error(buf, sizeof buf, db);
    return buf;
}

/* Deterministic texts: documents of 60-100 words from 400 made-up words,
 * some of them edited copies of others (m words replaced). */
static uint64_t next_random(uint64_t *state)
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

typedef struct {
    char **texts;
    size_t count;
} corpus;

/* `bases` documents and `copies` edited copies of each (edits of 0 to
 * max_edits words): text v * bases + b is variant v of base b (variant 0
 * is the base itself). */
static corpus make_corpus(uint64_t seed, size_t bases, size_t copies, unsigned max_edits)
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

static void corpus_free(corpus *c)
{
    for (size_t i = 0; i < c->count; i++)
        free(c->texts[i]);
    free(c->texts);
}

/* Add texts [from, to) of c with ids "<prefix><i>", in one call. */
static int add_range(nd_db *db, const corpus *c, size_t from, size_t to, const char *prefix, unsigned flags,
                     unsigned threads)
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

static nd_db_results *query_range(nd_db *db, const corpus *c, size_t from, size_t to, const nd_db_query_options *opts)
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

/* Sketches of every text, for the reference. */
typedef struct {
    nd_sketch *s;
    uint64_t *keys; /* count x bands */
    size_t count;
    unsigned bands;
} sketches;

static sketches sketch_all(const corpus *c, const nd_options *opts)
{
    sketches k = {calloc(c->count, sizeof(nd_sketch)), malloc(c->count * opts->bands * sizeof(uint64_t)), c->count,
                  opts->bands};
    nd_sketcher *sk;
    ck_assert_int_eq(nd_sketcher_new(&sk, opts), ND_OK);
    for (size_t i = 0; i < c->count; i++) {
        ck_assert_int_eq(nd_sketch_text(&k.s[i], sk, c->texts[i], strlen(c->texts[i])), ND_OK);
        nd_lsh_band_keys(k.keys + i * opts->bands, k.s[i].signature, opts->bands, opts->rows);
    }
    nd_sketcher_free(sk);
    return k;
}

static void sketches_free(sketches *k)
{
    for (size_t i = 0; i < k->count; i++)
        nd_sketch_clear(&k->s[i]);
    free(k->s);
    free(k->keys);
}

/* Do a and b share a band key as the index stores them (band, top 52 bits)? */
static int bands_collide(const sketches *k, size_t a, size_t b)
{
    for (unsigned j = 0; j < k->bands; j++) {
        if (db_band_key(j, k->keys[a * k->bands + j]) == db_band_key(j, k->keys[b * k->bands + j]))
            return 1;
    }
    return 0;
}

static size_t id_number(const nd_db_match *m)
{
    char buf[32];
    ck_assert_uint_lt(m->id_len, sizeof buf);
    memcpy(buf, m->id, m->id_len);
    buf[m->id_len] = '\0';
    ck_assert_int_eq(buf[0], 'a');
    return (size_t)strtoul(buf + 1, NULL, 10);
}

/* The heart of the matter: index A = texts [0, split), query B = the rest;
 * the reported (b, a) pairs must be exactly those whose bands collide and
 * whose exact Jaccard reaches the threshold, with that very Jaccard, sorted
 * by Jaccard. Returns the number of pairs. */
static size_t check_equivalence(const nd_options *opts, int expect_all_pairs_collide)
{
    place p;
    place_make(&p);
    corpus c = make_corpus(0x5eed, 40, 5, 14);
    size_t split = c.count / 2;
    sketches k = sketch_all(&c, opts);
    nd_db *db = open_ok(p.db, ND_DB_WRITE | ND_DB_CREATE, opts);
    ck_assert_int_eq(add_range(db, &c, 0, split, "a", 0, 2), ND_OK);
    ck_assert_int_eq(nd_db_commit(db), ND_OK);
    nd_db_close(db);
    db = open_ok(p.db, 0, NULL);
    nd_db_results *r = query_range(db, &c, split, c.count, NULL);
    size_t pairs = 0, colliding_below = 0;
    for (size_t b = split; b < c.count; b++) {
        const nd_db_match *m;
        size_t n = nd_db_results_get(&m, r, b - split);
        unsigned char *reported = calloc(split, 1);
        for (size_t i = 0; i < n; i++) {
            size_t a = id_number(&m[i]);
            ck_assert_uint_lt(a, split);
            ck_assert(!reported[a]);
            reported[a] = 1;
            if (i > 0)
                ck_assert(m[i - 1].jaccard >= m[i].jaccard);
        }
        for (size_t a = 0; a < split; a++) {
            double j = nd_jaccard(k.s[b].ids, k.s[b].count, k.s[a].ids, k.s[a].count);
            int collide = bands_collide(&k, a, b);
            int expected = collide && k.s[a].count > 0 && j >= opts->threshold - 1e-12;
            if (expect_all_pairs_collide && j >= opts->threshold - 1e-12)
                ck_assert_msg(collide, "pair (%zu, %zu) at J = %f does not collide", b, a, j);
            if (collide && !expected)
                colliding_below++;
            ck_assert_msg(reported[a] == expected, "pair (%zu, %zu): J = %.6f, collide %d, reported %d", b, a, j,
                          collide, reported[a]);
            for (size_t i = 0; i < n && reported[a]; i++) {
                if (id_number(&m[i]) == a)
                    ck_assert(m[i].jaccard == j); /* bit for bit */
            }
            pairs += expected;
        }
        free(reported);
    }
    ck_assert_uint_gt(colliding_below, 0); /* the threshold did filter candidates */
    nd_db_results_free(r);
    nd_db_close(db);
    sketches_free(&k);
    corpus_free(&c);
    remove_tree(p.dir);
    return pairs;
}

/* ****  Equivalence  **** */

START_TEST(test_equivalence_all_pairs)
{
    /* 128 bands of 1 row at t = 0.5: a pair at J >= 0.5 misses every band
     * with probability <= 0.5^128, so every pair above the threshold must
     * be reported (checked: each collides). */
    nd_options o = test_options(128, 1, 0.5);
    size_t pairs = check_equivalence(&o, 1);
    ck_assert_uint_gt(pairs, 50);
}
END_TEST

START_TEST(test_equivalence_default_bands)
{
    nd_options o = test_options(0, 0, 0.8);
    ck_assert_uint_eq(o.bands, 16);
    size_t pairs = check_equivalence(&o, 0);
    ck_assert_uint_gt(pairs, 20);
}
END_TEST

/* ****  Runs  **** */

static uint64_t documents_of(nd_db *db)
{
    nd_db_stats s;
    ck_assert_int_eq(nd_db_stats_get(&s, db), ND_OK);
    return s.documents;
}

static size_t matches_of_first(nd_db *db, const corpus *c, size_t i)
{
    nd_db_results *r = query_range(db, c, i, i + 1, NULL);
    const nd_db_match *m;
    size_t n = nd_db_results_get(&m, r, 0);
    nd_db_results_free(r);
    return n;
}

START_TEST(test_run_visible_at_commit_only)
{
    place p;
    place_make(&p);
    corpus c = make_corpus(7, 10, 1, 0); /* text 10 + i is a copy of text i */
    nd_options o = test_options(0, 0, 0.8);
    nd_db *w = open_ok(p.db, ND_DB_WRITE | ND_DB_CREATE, &o);
    ck_assert_int_eq(add_range(w, &c, 0, 5, "a", 0, 1), ND_OK);
    ck_assert_int_eq(nd_db_commit(w), ND_OK);
    nd_db *r = open_ok(p.db, 0, NULL);
    ck_assert_uint_eq(documents_of(r), 5);
    ck_assert_uint_eq(matches_of_first(r, &c, 12), 1);
    /* a second run, not committed yet: readers see the state before it */
    ck_assert_int_eq(add_range(w, &c, 5, 10, "b", 0, 1), ND_OK);
    ck_assert_uint_eq(documents_of(r), 5);
    ck_assert_uint_eq(matches_of_first(r, &c, 17), 0); /* copy of text 7, added by the pending run */
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
    ck_assert_uint_eq(documents_of(r), 10);
    ck_assert_uint_eq(matches_of_first(r, &c, 17), 1);
    /* a third run abandoned by closing: nothing of it remains */
    ck_assert_int_eq(add_range(w, &c, 10, 20, "z", 0, 1), ND_OK);
    nd_db_close(w);
    ck_assert_uint_eq(documents_of(r), 10);
    nd_db_close(r);
    r = open_ok(p.db, 0, NULL);
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
    ck_assert_ptr_nonnull(strstr(db_message(db), "\"a3\" is already in the index"));
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

START_TEST(test_merges_give_same_index)
{
    /* a tiny band buffer (merged every 1024 entries) gives the same answers
     * as one merge at commit */
    corpus c = make_corpus(13, 60, 3, 6);
    nd_options o = test_options(0, 0, 0.7);
    nd_db_results *results[2];
    for (int variant = 0; variant < 2; variant++) {
        place p;
        place_make(&p);
        nd_db_config config = ND_DB_CONFIG_INIT;
        config.options = o;
        config.flags = ND_DB_WRITE | ND_DB_CREATE;
        config.memory = variant ? 1 : 0;
        nd_db *db;
        ck_assert_int_eq(nd_db_open(&db, NULL, 0, p.db, &config), ND_OK);
        for (size_t at = 0; at < 200; at += 50)
            ck_assert_int_eq(add_range(db, &c, at, at + 50, "a", 0, 2), ND_OK);
        /* queries of pending documents see merged and buffered entries */
        nd_db_query_options q = ND_DB_QUERY_INIT;
        q.scope = ND_DB_PENDING;
        nd_db_results *pending = query_range(db, &c, 200, 240, &q);
        ck_assert_int_eq(nd_db_commit(db), ND_OK);
        results[variant] = query_range(db, &c, 200, 240, NULL);
        for (size_t i = 0; i < 40; i++) {
            const nd_db_match *a, *b;
            size_t na = nd_db_results_get(&a, pending, i), nb = nd_db_results_get(&b, results[variant], i);
            ck_assert_uint_eq(na, nb);
            for (size_t k = 0; k < na; k++)
                ck_assert(a[k].jaccard == b[k].jaccard && a[k].pending && !b[k].pending);
        }
        nd_db_results_free(pending);
        nd_db_stats s;
        ck_assert_int_eq(nd_db_stats_get(&s, db), ND_OK);
        ck_assert_uint_eq(s.band_entries, 200 * o.bands);
        nd_db_close(db);
        remove_tree(p.dir);
    }
    size_t total = 0;
    for (size_t i = 0; i < 40; i++) {
        const nd_db_match *a, *b;
        size_t na = nd_db_results_get(&a, results[0], i), nb = nd_db_results_get(&b, results[1], i);
        ck_assert_uint_eq(na, nb);
        for (size_t k = 0; k < na; k++) {
            ck_assert(a[k].jaccard == b[k].jaccard);
            ck_assert(a[k].id_len == b[k].id_len && memcmp(a[k].id, b[k].id, a[k].id_len) == 0);
        }
        total += na;
    }
    ck_assert_uint_gt(total, 10);
    nd_db_results_free(results[0]);
    nd_db_results_free(results[1]);
    corpus_free(&c);
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
        {"format", "2",
         "index format 2 (written by neardup " ND_VERSION "); this neardup " ND_VERSION
         " reads format 1 only: rebuild the index"},
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
    remove_tree(p.dir);
}
END_TEST

START_TEST(test_second_writer)
{
    place p;
    place_make(&p);
    nd_options o = test_options(0, 0, 0.8);
    nd_db *w = open_ok(p.db, ND_DB_WRITE | ND_DB_CREATE, &o);
    ck_assert_int_eq(nd_db_commit(w), ND_OK);
    nd_db *w2 = NULL, *r = NULL;
    char message[512];
    ck_assert_int_eq(try_open(&w2, message, sizeof message, p.db, ND_DB_WRITE, NULL, 0), ND_EBUSY);
    ck_assert_ptr_nonnull(strstr(message, "neardup.lock"));
    r = open_ok(p.db, 0, NULL); /* readers are welcome */
    /* compacting needs the index alone */
    ck_assert_int_eq(nd_db_compact(w), ND_EBUSY);
    ck_assert_ptr_nonnull(strstr(db_message(w), "needs the index alone"));
    nd_db_close(r);
    ck_assert_int_eq(nd_db_compact(w), ND_OK);
    nd_db_close(w);
    w2 = open_ok(p.db, ND_DB_WRITE, NULL);
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

/* ****  Threads  **** */

typedef struct {
    nd_db *db;
    const corpus *c;
    nd_db_results *r;
} query_job;

static void *query_thread(void *arg)
{
    query_job *j = arg;
    size_t lens[200];
    for (size_t i = 0; i < 200; i++)
        lens[i] = strlen(j->c->texts[i]);
    nd_db_query_options o = ND_DB_QUERY_INIT;
    o.top = 3;
    if (nd_db_query_texts(&j->r, j->db, (const char *const *)j->c->texts, lens, 200, &o) != ND_OK)
        j->r = NULL;
    return NULL;
}

static void same_results(const nd_db_results *a, const nd_db_results *b)
{
    ck_assert_uint_eq(nd_db_results_count(a), nd_db_results_count(b));
    for (size_t i = 0; i < nd_db_results_count(a); i++) {
        const nd_db_match *x, *y;
        size_t n = nd_db_results_get(&x, a, i);
        ck_assert_uint_eq(nd_db_results_get(&y, b, i), n);
        for (size_t k = 0; k < n; k++)
            ck_assert(x[k].jaccard == y[k].jaccard && x[k].id_len == y[k].id_len &&
                      memcmp(x[k].id, y[k].id, x[k].id_len) == 0);
    }
}

START_TEST(test_threads)
{
    place p;
    place_make(&p);
    nd_options o = test_options(0, 0, 0.6);
    corpus c = make_corpus(23, 50, 3, 8);
    nd_db *db = open_ok(p.db, ND_DB_WRITE | ND_DB_CREATE, &o);
    ck_assert_int_eq(add_range(db, &c, 0, 200, "a", 0, 3), ND_OK);
    ck_assert_int_eq(nd_db_commit(db), ND_OK);
    nd_db_close(db);
    db = open_ok(p.db, 0, NULL);
    /* one call on 1 or 4 threads */
    nd_db_query_options q = ND_DB_QUERY_INIT;
    nd_db_results *one = query_range(db, &c, 0, 200, &q);
    q.threads = 4;
    nd_db_results *four = query_range(db, &c, 0, 200, &q);
    same_results(one, four);
    size_t total = 0;
    for (size_t i = 0; i < 200; i++) {
        const nd_db_match *m;
        total += nd_db_results_get(&m, one, i);
    }
    ck_assert_uint_gt(total, 200); /* each text matches itself at least */
    /* four threads querying the same handle at once, with top 3 */
    query_job jobs[4];
    pthread_t tids[4];
    for (int t = 0; t < 4; t++) {
        jobs[t] = (query_job){db, &c, NULL};
        pthread_create(&tids[t], NULL, query_thread, &jobs[t]);
    }
    for (int t = 0; t < 4; t++)
        pthread_join(tids[t], NULL);
    for (int t = 0; t < 4; t++) {
        ck_assert_ptr_nonnull(jobs[t].r);
        same_results(jobs[0].r, jobs[t].r);
        for (size_t i = 0; i < 200; i++) {
            const nd_db_match *m, *all;
            size_t n = nd_db_results_get(&m, jobs[t].r, i), n_all = nd_db_results_get(&all, one, i);
            ck_assert_uint_eq(n, n_all < 3 ? n_all : 3); /* the first three of all */
            for (size_t k = 0; k < n; k++)
                ck_assert(m[k].jaccard == all[k].jaccard);
        }
    }
    for (int t = 0; t < 4; t++)
        nd_db_results_free(jobs[t].r);
    nd_db_results_free(one);
    nd_db_results_free(four);
    nd_db_close(db);
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

/* ****  The record codec  **** */

static void round_trip(const uint32_t *ids, size_t n)
{
    size_t bound = db_record_bound(5, n);
    unsigned char *buf = malloc(bound);
    size_t len = db_record_encode(buf, DB_RECORD_REMOVED, 123456789, "idxyz", 5, ids, n);
    ck_assert_uint_le(len, bound);
    unsigned char *exact = malloc(len);
    memcpy(exact, buf, len); /* exact size: ASan catches a read past it */
    db_record r;
    ck_assert_int_eq(db_record_parse(&r, exact, len), 0);
    ck_assert_uint_eq(r.flags, DB_RECORD_REMOVED);
    ck_assert_uint_eq(r.weight, 123456789);
    ck_assert(r.id_len == 5 && memcmp(r.id, "idxyz", 5) == 0);
    ck_assert_uint_eq(r.count, n);
    uint32_t *back = malloc((n ? n : 1) * sizeof *back);
    ck_assert_int_eq(db_record_ids(back, &r), 0);
    for (size_t i = 0; i < n; i++)
        ck_assert_uint_eq(back[i], ids[i]);
    /* every truncation is refused or decodes without reading past the end */
    for (size_t cut = 0; cut < len; cut++) {
        unsigned char *part = malloc(cut ? cut : 1);
        memcpy(part, exact, cut);
        if (db_record_parse(&r, part, cut) == 0)
            (void)db_record_ids(back, &r);
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
    size_t len = db_record_encode(buf, 0, 0, "", 0, ids, 166);
    ck_assert_uint_lt(len, 166 * 35 / 10); /* < 3.5 bytes per id, against 4 */
    free(ids);
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

Suite *db_suite(void)
{
    Suite *s = suite_create("db");
    TCase *tc = tcase_create("db");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_equivalence_all_pairs);
    tcase_add_test(tc, test_equivalence_default_bands);
    tcase_add_test(tc, test_run_visible_at_commit_only);
    tcase_add_test(tc, test_creating_run_not_finished);
    tcase_add_test(tc, test_duplicate_ids);
    tcase_add_test(tc, test_merges_give_same_index);
    tcase_add_test(tc, test_option_mismatch);
    tcase_add_test(tc, test_versions_refused);
    tcase_add_test(tc, test_bad_paths);
    tcase_add_test(tc, test_read_only_directory);
    tcase_add_test(tc, test_second_writer);
    tcase_add_test(tc, test_run_belongs_to_its_thread);
    tcase_add_test(tc, test_map_full);
    tcase_add_test(tc, test_remove_and_compact);
    tcase_add_test(tc, test_threads);
    tcase_add_test(tc, test_temporary_and_empty_texts);
    tcase_add_test(tc, test_record_codec);
    tcase_add_test(tc, test_fail_every_allocation);
    suite_add_tcase(s, tc);
    return s;
}
