/* test_db_query.c - queries of the persistent index (db_query.c): the
 * answers equal a brute-force all-pairs reference (every pair whose bands
 * collide and whose exact Jaccard reaches the threshold, with that very
 * Jaccard), pending documents before and after early merges, queries on
 * several threads, in one call or from several threads at once, and
 * queries taken in passes (a small pair budget) answering as one pass. */
#include <pthread.h> /* pthread_create */
#include <stdio.h>   /* snprintf */
#include <stdlib.h>  /* malloc, calloc, free, strtoul */
#include <string.h>  /* strlen, memcmp, memcpy */

#include "alloc.h"       /* nd_alloc_fail_after */
#include "db_internal.h" /* nd_db_query_pair_budget */
#include "db_record.h"
#include "dbtest.h"
#include "neardup.h"
#include "suites.h"

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

/* ****  Raw ids  **** */

/* Texts [from, to) of c as raw documents (nd_db_query_options.raw_ids):
 * each one's sorted distinct ids shuffled, with some of them repeated;
 * *store holds them (free it), and the band keys. */
static nd_db_doc *raw_docs(const corpus *c, size_t from, size_t to, const nd_options *opts, uint32_t **store,
                           uint64_t **keys)
{
    size_t n = to - from, total = 0;
    sketches k = sketch_all(c, opts);
    for (size_t i = from; i < to; i++)
        total += 2 * k.s[i].count;
    nd_db_doc *docs = calloc(n ? n : 1, sizeof *docs);
    *store = malloc((total ? total : 1) * sizeof **store);
    *keys = malloc((n ? n : 1) * opts->bands * sizeof **keys);
    uint64_t state = 77;
    size_t used = 0;
    for (size_t i = 0; i < n; i++) {
        const nd_sketch *s = &k.s[from + i];
        uint32_t *ids = *store + used;
        size_t m = 0;
        for (size_t j = 0; j < s->count; j++) {
            ids[m++] = s->ids[j];
            if (next_random(&state) % 3 == 0)
                ids[m++] = s->ids[j]; /* a repeat */
        }
        for (size_t j = m; j > 1; j--) { /* shuffled */
            size_t r = (size_t)(next_random(&state) % j);
            uint32_t t = ids[j - 1];
            ids[j - 1] = ids[r];
            ids[r] = t;
        }
        memcpy(*keys + i * opts->bands, k.keys + (from + i) * opts->bands, opts->bands * sizeof **keys);
        docs[i] = (nd_db_doc){NULL, 0, ids, m, *keys + i * opts->bands, 0};
        used += m;
    }
    sketches_free(&k);
    return docs;
}

/* The raw ids tests' setting: an index (Jaccard, or containment; both at
 * 0.6) of a corpus's first `committed` texts, and every text of the corpus
 * as raw documents (raw_docs). */
typedef struct raw_fixture {
    place p;
    corpus c;
    nd_options o;
    nd_db *db;
    nd_db_doc *docs;
    uint32_t *store;
    uint64_t *keys;
} raw_fixture;

static void raw_fixture_make(raw_fixture *f, int containment, corpus c, size_t committed)
{
    place_make(&f->p);
    f->c = c;
    f->o = test_options(0, 0, 0.6);
    if (containment) {
        f->o = (nd_options)ND_OPTIONS_INIT;
        f->o.threshold = 0.6;
        f->o.measure = ND_MEASURE_CONTAINMENT;
        f->o.min_shingles = 5;
        ck_assert_int_eq(nd_options_resolve(&f->o), ND_OK);
    }
    f->db = open_ok(f->p.db, ND_DB_WRITE | ND_DB_CREATE, &f->o);
    ck_assert_int_eq(add_range(f->db, &c, 0, committed, "a", 0, 2), ND_OK);
    ck_assert_int_eq(nd_db_commit(f->db), ND_OK);
    f->docs = raw_docs(&c, 0, c.count, &f->o, &f->store, &f->keys);
}

static void raw_fixture_free(raw_fixture *f)
{
    free(f->docs);
    free(f->store);
    free(f->keys);
    nd_db_close(f->db);
    corpus_free(&f->c);
    remove_tree(f->p.dir);
}

/* The same matches from raw ids as from sorted ones: committed and pending
 * documents, one thread or three, a Jaccard and a containment index. */
START_TEST(test_raw_ids)
{
    for (int containment = 0; containment < 2; containment++) {
        raw_fixture f;
        raw_fixture_make(&f, containment, make_corpus(31, 40, 3, 8), 100);
        ck_assert_int_eq(add_range(f.db, &f.c, 100, 120, "p", 0, 1), ND_OK); /* pending */
        size_t total = 0;
        for (unsigned threads = 1; threads <= 3; threads += 2) {
            nd_db_query_options q = ND_DB_QUERY_INIT;
            q.threads = threads;
            q.scope = ND_DB_COMMITTED | ND_DB_PENDING;
            nd_db_results *sorted = query_range(f.db, &f.c, 0, f.c.count, &q);
            q.raw_ids = 1;
            nd_db_results *raw;
            ck_assert_int_eq(nd_db_query(&raw, f.db, f.docs, f.c.count, &q), ND_OK);
            same_results(sorted, raw);
            for (size_t i = 0; i < f.c.count; i++) {
                const nd_db_match *m;
                total += nd_db_results_get(&m, raw, i);
            }
            nd_db_results_free(sorted);
            nd_db_results_free(raw);
        }
        ck_assert_uint_gt(total, 2 * f.c.count); /* each text matches itself at least */
        raw_fixture_free(&f);
    }
}
END_TEST

/* Raw ids with the N-th allocation failing, for every N until a query
 * succeeds: ND_ENOMEM or the matches of sorted ids, never anything else
 * (and, under ASan, nothing leaked or touched after free). */
START_TEST(test_raw_ids_out_of_memory)
{
    for (int containment = 0; containment < 2; containment++) {
        raw_fixture f;
        raw_fixture_make(&f, containment, make_corpus(37, 12, 3, 6), 30);
        nd_db_query_options q = ND_DB_QUERY_INIT;
        q.threads = 2;
        nd_db_results *sorted = query_range(f.db, &f.c, 0, f.c.count, &q);
        q.raw_ids = 1;
        int succeeded = 0;
        size_t n;
        for (n = 0; n < 10000 && !succeeded; n++) {
            nd_db_results *raw = NULL;
            nd_alloc_fail_after(n);
            int rc = nd_db_query(&raw, f.db, f.docs, f.c.count, &q);
            nd_alloc_fail_after((size_t)-1);
            ck_assert_msg(rc == ND_OK || rc == ND_ENOMEM, "fail after %zu: status %d", n, rc);
            if (rc == ND_OK) {
                same_results(sorted, raw);
                nd_db_results_free(raw);
                succeeded = 1;
            }
        }
        ck_assert(succeeded);
        ck_assert_uint_gt(n, 5); /* allocations did fail on the way */
        nd_db_results_free(sorted);
        raw_fixture_free(&f);
    }
}
END_TEST

/* ****  Passes: the pairs held at once  **** */

/* Every field of every match equal, in the same order. */
static void identical_results(const nd_db_results *a, const nd_db_results *b, const char *what)
{
    ck_assert_uint_eq(nd_db_results_count(a), nd_db_results_count(b));
    for (size_t i = 0; i < nd_db_results_count(a); i++) {
        const nd_db_match *x, *y;
        size_t n = nd_db_results_get(&x, a, i);
        ck_assert_msg(nd_db_results_get(&y, b, i) == n, "%s: query %zu has %zu matches, then %zu", what, i, n,
                      nd_db_results_get(&y, b, i));
        for (size_t k = 0; k < n; k++)
            ck_assert_msg(x[k].id_len == y[k].id_len && memcmp(x[k].id, y[k].id, x[k].id_len) == 0 &&
                              x[k].jaccard == y[k].jaccard && x[k].weight == y[k].weight &&
                              x[k].pending == y[k].pending && x[k].query_in_match == y[k].query_in_match &&
                              x[k].match_in_query == y[k].match_in_query,
                          "%s: query %zu, match %zu differs", what, i, k);
    }
}

/* Add `copies` copies of text i of c, ids "<prefix><k>". */
static void add_copies(nd_db *db, const corpus *c, size_t i, size_t copies, const char *prefix)
{
    corpus same = {calloc(copies, sizeof(char *)), copies};
    for (size_t k = 0; k < copies; k++)
        same.texts[k] = c->texts[i];
    char name[16];
    snprintf(name, sizeof name, "%s%zu_", prefix, i);
    ck_assert_int_eq(add_range(db, &same, 0, copies, name, 0, 2), ND_OK);
    free(same.texts);
}

/* The fixture's first `count` texts queried: as raw documents (q->raw_ids)
 * or as texts. */
static nd_db_results *run_query(const raw_fixture *f, size_t count, const nd_db_query_options *q)
{
    if (!q->raw_ids)
        return query_range(f->db, &f->c, 0, count, q);
    nd_db_results *r;
    ck_assert_int_eq(nd_db_query(&r, f->db, f->docs, count, q), ND_OK);
    return r;
}

/* However few candidate pairs a query may hold at once (its pair budget,
 * db_query.c: past it, passes of fewer queries, and a query with more
 * pairs than that alone in ranges of documents), the answers are those of
 * one pass, field for field: committed and pending documents, top 0 to 3,
 * 1 to 3 threads, raw ids, a Jaccard and a containment index. Texts 0 and
 * 1 have dozens of copies committed and pending (hundreds of pairs each);
 * the budgets put every query in a pass of its own, a few in one, or all. */
START_TEST(test_pair_budget)
{
    static const struct {
        size_t top;
        unsigned threads, scope;
        int raw;
    } ways[] = {
        {0, 1, ND_DB_COMMITTED | ND_DB_PENDING, 0}, {1, 2, ND_DB_COMMITTED, 0}, {3, 2, ND_DB_PENDING, 0},
        {2, 3, ND_DB_COMMITTED | ND_DB_PENDING, 1}, {0, 2, ND_DB_COMMITTED, 1},
    };
    static const size_t budgets[] = {3, 40, 700};
    size_t queries = 12; /* (of the 60 texts; the passes of a small budget are many) */
    for (int containment = 0; containment < 2; containment++) {
        raw_fixture f;
        raw_fixture_make(&f, containment, make_corpus(41, 15, 3, 6), 45);
        add_copies(f.db, &f.c, 0, 30, "c");
        add_copies(f.db, &f.c, 1, 20, "c");
        ck_assert_int_eq(nd_db_commit(f.db), ND_OK);
        ck_assert_int_eq(add_range(f.db, &f.c, 45, 60, "p", 0, 1), ND_OK); /* pending */
        add_copies(f.db, &f.c, 0, 25, "p");
        for (size_t w = 0; w < sizeof ways / sizeof *ways; w++) {
            nd_db_query_options q = ND_DB_QUERY_INIT;
            q.top = ways[w].top;
            q.threads = ways[w].threads;
            q.scope = ways[w].scope;
            q.raw_ids = ways[w].raw;
            nd_db_results *one_pass = run_query(&f, queries, &q);
            const nd_db_match *m;
            size_t copies = (q.scope & ND_DB_COMMITTED ? 31 : 0) + (q.scope & ND_DB_PENDING ? 26 : 0);
            if (q.top)
                ck_assert_uint_eq(nd_db_results_get(&m, one_pass, 0), q.top);
            else
                ck_assert_uint_ge(nd_db_results_get(&m, one_pass, 0), copies); /* text 0: itself and its copies */
            for (size_t b = 0; b < sizeof budgets / sizeof *budgets; b++) {
                nd_db_query_pair_budget(budgets[b]);
                nd_db_results *r = run_query(&f, queries, &q);
                nd_db_query_pair_budget(0);
                char what[96];
                snprintf(what, sizeof what, "containment %d, way %zu, budget %zu", containment, w, budgets[b]);
                identical_results(one_pass, r, what);
                nd_db_results_free(r);
            }
            nd_db_results_free(one_pass);
        }
        raw_fixture_free(&f);
    }
}
END_TEST

/* The same with the N-th allocation failing, for every N until a query in
 * passes succeeds: ND_ENOMEM or the answer of one pass (and, under ASan,
 * nothing leaked or touched after free). */
START_TEST(test_pair_budget_out_of_memory)
{
    raw_fixture f;
    raw_fixture_make(&f, 0, make_corpus(43, 6, 2, 4), 12);
    add_copies(f.db, &f.c, 0, 12, "c");
    ck_assert_int_eq(nd_db_commit(f.db), ND_OK);
    add_copies(f.db, &f.c, 0, 6, "p");
    nd_db_query_options q = ND_DB_QUERY_INIT;
    q.top = 2;
    q.scope = ND_DB_COMMITTED | ND_DB_PENDING;
    q.raw_ids = 1;
    nd_db_results *one_pass = run_query(&f, f.c.count, &q);
    int succeeded = 0;
    size_t n;
    for (n = 0; n < 100000 && !succeeded; n++) {
        nd_db_results *r = NULL;
        nd_db_query_pair_budget(20);
        nd_alloc_fail_after(n);
        int rc = nd_db_query(&r, f.db, f.docs, f.c.count, &q);
        nd_alloc_fail_after((size_t)-1);
        nd_db_query_pair_budget(0);
        ck_assert_msg(rc == ND_OK || rc == ND_ENOMEM, "fail after %zu: status %d", n, rc);
        if (rc == ND_OK) {
            identical_results(one_pass, r, "out of memory");
            nd_db_results_free(r);
            succeeded = 1;
        }
    }
    ck_assert(succeeded);
    ck_assert_uint_gt(n, 50); /* allocations did fail on the way, in many passes */
    nd_db_results_free(one_pass);
    raw_fixture_free(&f);
}
END_TEST

/* ****  Buckets (format 3)  **** */

/* Documents with made-up band keys, all with the same shingles (so every
 * candidate matches, J = 1): band 0's keys fall in three buckets of
 * thousands of entries (values of over 10 KB: LMDB keeps each on overflow
 * pages of its own) with 50 distinct keys, band 1's in 16 buckets of hundreds,
 * the other bands' keys are spread, so that a query walks, steps and seeks
 * between buckets. */
enum { BK_DOCS = 4200, BK_QUERIES = 300 };

static uint64_t bucket_test_key(uint64_t *state, unsigned band, size_t doc)
{
    uint64_t r = next_random(state);
    if (band == 0) /* bucket doc % 3 (top 16 bits), low half doc % 50, the rest noise */
        return (uint64_t)(doc % 3) << 48 | (uint64_t)(doc % 50) << 16 | (r & 0xFFFF);
    if (band == 1)
        return r & 0x000FFFFFFFFFFFFFu;
    return r;
}

/* The answers for the queries equal the documents [0, docs) whose band key
 * equals the query's in some band, in the order they were added. */
static void bucket_reference_check(nd_db *db, uint64_t *const *keys, size_t docs, uint64_t *const *qkeys,
                                   const nd_db_doc *queries, const nd_db_query_options *q, int pending)
{
    unsigned bands = nd_db_options(db)->bands;
    nd_db_results *r;
    ck_assert_int_eq(nd_db_query(&r, db, queries, BK_QUERIES, q), ND_OK);
    size_t total = 0;
    for (size_t i = 0; i < BK_QUERIES; i++) {
        const nd_db_match *m;
        size_t n = nd_db_results_get(&m, r, i), k = 0;
        for (size_t d = 0; d < docs; d++) {
            int collide = 0;
            for (unsigned j = 0; j < bands && !collide; j++)
                collide = db_band_key(j, keys[d][j]) == db_band_key(j, qkeys[i][j]);
            if (!collide)
                continue;
            char id[32];
            snprintf(id, sizeof id, "d%zu", d);
            ck_assert_msg(k < n && m[k].id_len == strlen(id) && memcmp(m[k].id, id, m[k].id_len) == 0,
                          "query %zu (%zu documents, pending %d): match %zu is not %s", i, docs, pending, k, id);
            ck_assert(m[k].jaccard == 1.0 && m[k].pending == pending);
            k++;
        }
        ck_assert_uint_eq(k, n);
        total += n;
    }
    ck_assert_uint_gt(total, BK_QUERIES * 10);
    nd_db_results_free(r);
}

START_TEST(test_buckets)
{
    nd_options o = test_options(0, 0, 0.8);
    uint32_t shingles[10] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    uint64_t state = 77;
    static uint64_t *keys[BK_DOCS], *qkeys[BK_QUERIES];
    static nd_db_doc docs[BK_DOCS], queries[BK_QUERIES];
    static char ids[BK_DOCS][32];
    for (size_t d = 0; d < BK_DOCS; d++) {
        keys[d] = malloc(o.bands * sizeof *keys[d]);
        for (unsigned j = 0; j < o.bands; j++)
            keys[d][j] = bucket_test_key(&state, j, d);
        snprintf(ids[d], sizeof ids[d], "d%zu", d);
        docs[d] = (nd_db_doc){ids[d], strlen(ids[d]), shingles, 10, keys[d], 1};
    }
    for (size_t i = 0; i < BK_QUERIES; i++) { /* three in four take a document's key in one band */
        qkeys[i] = malloc(o.bands * sizeof *qkeys[i]);
        for (unsigned j = 0; j < o.bands; j++)
            qkeys[i][j] = bucket_test_key(&state, j, i * 7 + 1);
        size_t like = next_random(&state) % BK_DOCS;
        unsigned band = (unsigned)(next_random(&state) % o.bands);
        if (i % 4 != 3)
            qkeys[i][band] = keys[like][band];
        queries[i] = (nd_db_doc){"q", 1, shingles, 10, qkeys[i], 1};
    }
    place p;
    place_make(&p);
    nd_db *db = open_ok(p.db, ND_DB_WRITE | ND_DB_CREATE, &o);
    nd_db_query_options pending = ND_DB_QUERY_INIT;
    pending.scope = ND_DB_PENDING;
    /* runs: appended into the empty tree; merged (rewritten); a few put into the big buckets */
    const size_t runs[] = {0, 2000, 4150, BK_DOCS};
    for (size_t r = 0; r + 1 < sizeof runs / sizeof *runs; r++) {
        size_t failed = 0;
        ck_assert_int_eq(nd_db_add(&failed, db, docs + runs[r], runs[r + 1] - runs[r], 0), ND_OK);
        if (r == 0)
            bucket_reference_check(db, keys, runs[1], qkeys, queries, &pending, 1);
        ck_assert_int_eq(nd_db_commit(db), ND_OK);
        for (unsigned threads = 1; threads <= 3; threads += 2) {
            nd_db_query_options q = ND_DB_QUERY_INIT;
            q.threads = threads;
            bucket_reference_check(db, keys, runs[r + 1], qkeys, queries, &q, 0);
        }
    }
    nd_db_stats st;
    ck_assert_int_eq(nd_db_stats_get(&st, db), ND_OK);
    ck_assert_uint_eq(st.band_entries, (uint64_t)BK_DOCS * o.bands);
    ck_assert_uint_eq(st.format_version, 3);
    /* compaction copies the buckets as they are */
    ck_assert_int_eq(nd_db_compact(db), ND_OK);
    bucket_reference_check(db, keys, BK_DOCS, qkeys, queries, NULL, 0);
    nd_db_close(db);
    remove_tree(p.dir);
    for (size_t d = 0; d < BK_DOCS; d++)
        free(keys[d]);
    for (size_t i = 0; i < BK_QUERIES; i++)
        free(qkeys[i]);
}
END_TEST

Suite *db_query_suite(void)
{
    Suite *s = suite_create("db_query");
    TCase *tc = tcase_create("db_query");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_equivalence_all_pairs);
    tcase_add_test(tc, test_equivalence_default_bands);
    tcase_add_test(tc, test_merges_give_same_index);
    tcase_add_test(tc, test_threads);
    tcase_add_test(tc, test_buckets);
    tcase_add_test(tc, test_raw_ids);
    tcase_add_test(tc, test_raw_ids_out_of_memory);
    tcase_add_test(tc, test_pair_budget);
    tcase_add_test(tc, test_pair_budget_out_of_memory);
    suite_add_tcase(s, tc);
    return s;
}
