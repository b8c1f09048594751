/* test_db_contain.c - queries of a containment index (db_contain.h): on a
 * corpus of articles, excerpts of them (20-60% windows), articles inside
 * longer texts and edited copies, split into A (indexed) and B (queried),
 * the reported pairs equal a brute-force all-pairs reference (every pair
 * that matches by Jaccard or by containment of either text in the other,
 * min_shingles honoured), with the very scores, in both directions, for
 * committed and pending documents and any thread count. Also: the format
 * and options an index records, and the thresholds it refuses. */
#include <stdio.h>  /* snprintf */
#include <stdlib.h> /* malloc, calloc, free, strtoul */
#include <string.h> /* strlen, memcpy */

#include "dbtest.h"
#include "neardup.h"
#include "suites.h"

enum { MIN_SHINGLES = 10 };

static const double THRESHOLD = 0.8;

static nd_options contain_options(void)
{
    nd_options o = ND_OPTIONS_INIT;
    o.threshold = THRESHOLD;
    o.measure = ND_MEASURE_CONTAINMENT;
    o.min_shingles = MIN_SHINGLES;
    ck_assert_int_eq(nd_options_resolve(&o), ND_OK);
    return o;
}

/* Words [from, to) of text (words separated by one space), malloc'd. */
static char *words_of(const char *text, size_t from, size_t to)
{
    size_t len = strlen(text), w = 0, start = len, end = len;
    for (size_t i = 0; i <= len; i++) {
        if (i == 0 || text[i - 1] == ' ') {
            if (w == from)
                start = i;
            if (w == to) {
                end = i ? i - 1 : 0;
                break;
            }
            w++;
        }
    }
    if (start > end)
        start = end;
    char *out = malloc(end - start + 1);
    memcpy(out, text + start, end - start);
    out[end - start] = '\0';
    return out;
}

static size_t word_count(const char *text)
{
    size_t n = *text ? 1 : 0;
    for (; *text; text++)
        n += *text == ' ';
    return n;
}

static char *joined(const char *a, const char *b)
{
    char *out = malloc(strlen(a) + strlen(b) + 2);
    sprintf(out, "%s %s", a, b);
    return out;
}

/* Per base article b of make_corpus (variants: the base and 2 edited
 * copies): the base, an edited copy, an excerpt of 20-60% of it, the base
 * followed by another article (the base inside a longer text), a short
 * excerpt of under MIN_SHINGLES words, and two excerpts of the longer text
 * a little over MIN_SHINGLES. Shuffled, so that A and B both hold
 * every kind. */
static corpus contain_corpus(uint64_t seed, size_t bases)
{
    corpus src = make_corpus(seed, bases, 2, 6);
    enum { KINDS = 7 };
    corpus c = {calloc(bases * KINDS, sizeof(char *)), bases * KINDS};
    uint64_t rng = seed ^ 0xc0ffee;
    for (size_t b = 0; b < bases; b++) {
        const char *base = src.texts[b];
        size_t n = word_count(base);
        size_t len = n * (20 + next_random(&rng) % 41) / 100;
        size_t from = next_random(&rng) % (n - len + 1);
        c.texts[b * KINDS + 0] = words_of(base, 0, n);
        c.texts[b * KINDS + 1] = words_of(src.texts[bases + b], 0, n + 10);
        c.texts[b * KINDS + 2] = words_of(base, from, from + len);
        c.texts[b * KINDS + 3] = joined(base, src.texts[(b + 1) % bases]);
        c.texts[b * KINDS + 4] = words_of(base, 3, 3 + MIN_SHINGLES / 2 + 4);
        /* excerpts of a few more than MIN_SHINGLES shingles from the long text: found only through
           their own prefix (a short text can miss the long one's) */
        size_t long_n = word_count(c.texts[b * KINDS + 3]);
        for (size_t k = 5; k < KINDS; k++) {
            size_t at = next_random(&rng) % (long_n - MIN_SHINGLES - 8);
            c.texts[b * KINDS + k] = words_of(c.texts[b * KINDS + 3], at, at + MIN_SHINGLES + 4 + k - 5);
        }
    }
    for (size_t i = c.count; i > 1; i--) { /* Fisher-Yates */
        size_t j = next_random(&rng) % i;
        char *t = c.texts[i - 1];
        c.texts[i - 1] = c.texts[j];
        c.texts[j] = t;
    }
    corpus_free(&src);
    return c;
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

/* The reference, written out without the library's measure.h. */
static int reference_match(size_t na, size_t nb, size_t x, double t)
{
    double eps = 1e-12;
    if (na + nb - x > 0 && (double)x / (double)(na + nb - x) >= t - eps)
        return 1;
    if (na >= MIN_SHINGLES && (double)x / (double)na >= t - eps)
        return 1;
    return nb >= MIN_SHINGLES && (double)x / (double)nb >= t - eps;
}

typedef struct {
    size_t pairs;  /* matching (b, a) pairs */
    size_t a_in_b; /* of them: the indexed text inside the query, below the Jaccard threshold */
    size_t b_in_a; /* the query inside the indexed text, below the Jaccard threshold */
    size_t guard;  /* contained, but the contained text has fewer than MIN_SHINGLES shingles */
} tally;

/* Check the results r of texts [split, count) against A = [0, split). */
static tally check_results(const corpus *c, size_t split, nd_sketch *s, nd_db_results *r, double t, int pending)
{
    tally y = {0, 0, 0, 0};
    for (size_t b = split; b < c->count; b++) {
        const nd_db_match *m;
        size_t n = nd_db_results_get(&m, r, b - split);
        unsigned char *reported = calloc(split, 1);
        for (size_t i = 0; i < n; i++) {
            size_t a = id_number(&m[i]);
            ck_assert_uint_lt(a, split);
            ck_assert(!reported[a]);
            reported[a] = 1;
            ck_assert_int_eq(m[i].pending, pending);
            size_t x = nd_intersection(s[b].ids, s[b].count, s[a].ids, s[a].count);
            ck_assert(m[i].jaccard == nd_jaccard(s[b].ids, s[b].count, s[a].ids, s[a].count));
            ck_assert(m[i].query_in_match == (double)x / (double)s[b].count);
            ck_assert(m[i].match_in_query == (double)x / (double)s[a].count);
            if (i > 0) {
                double prev = m[i - 1].query_in_match > m[i - 1].match_in_query ? m[i - 1].query_in_match
                                                                                : m[i - 1].match_in_query;
                double cur = m[i].query_in_match > m[i].match_in_query ? m[i].query_in_match : m[i].match_in_query;
                ck_assert(prev > cur || (prev == cur && m[i - 1].jaccard >= m[i].jaccard));
            }
        }
        for (size_t a = 0; a < split; a++) {
            size_t na = s[a].count, nb = s[b].count;
            size_t x = nd_intersection(s[b].ids, nb, s[a].ids, na);
            int expected = na > 0 && nb > 0 && reference_match(na, nb, x, t);
            ck_assert_msg(reported[a] == expected, "pair (b%zu, a%zu): |b| %zu, |a| %zu, shared %zu, reported %d", b, a,
                          nb, na, x, reported[a]);
            double j = na + nb - x ? (double)x / (double)(na + nb - x) : 0.0;
            if (expected) {
                y.pairs++;
                y.a_in_b += j < t && na < nb;
                y.b_in_a += j < t && nb < na;
            } else if (na > 0 && nb > 0 && x > 0 && (na < MIN_SHINGLES || nb < MIN_SHINGLES) &&
                       (double)x / (double)(na < nb ? na : nb) >= t) {
                y.guard++;
            }
        }
        free(reported);
    }
    return y;
}

static nd_sketch *sketch_all(const corpus *c, const nd_options *o)
{
    nd_sketch *s = calloc(c->count, sizeof *s);
    nd_sketcher *sk;
    ck_assert_int_eq(nd_sketcher_new(&sk, o), ND_OK);
    for (size_t i = 0; i < c->count; i++)
        ck_assert_int_eq(nd_sketch_text(&s[i], sk, c->texts[i], strlen(c->texts[i])), ND_OK);
    nd_sketcher_free(sk);
    return s;
}

static void sketches_free(nd_sketch *s, size_t count)
{
    for (size_t i = 0; i < count; i++)
        nd_sketch_clear(&s[i]);
    free(s);
}

/* ****  Equivalence  **** */

static const unsigned thread_counts[] = {1, 3};

START_TEST(test_equivalence_brute_force)
{
    place p;
    place_make(&p);
    nd_options o = contain_options();
    corpus c = contain_corpus(0xc0 + (uint64_t)_i, 40);
    size_t split = c.count / 2;
    nd_sketch *s = sketch_all(&c, &o);
    nd_db *db = open_ok(p.db, ND_DB_WRITE | ND_DB_CREATE, &o);
    ck_assert_int_eq(add_range(db, &c, 0, split, "a", 0, 2), ND_OK);
    /* pending: this run's documents, before the commit */
    nd_db_query_options q = ND_DB_QUERY_INIT;
    q.scope = ND_DB_PENDING;
    nd_db_results *r = query_range(db, &c, split, c.count, &q);
    tally before = check_results(&c, split, s, r, THRESHOLD, 1);
    nd_db_results_free(r);
    ck_assert_int_eq(nd_db_commit(db), ND_OK);
    nd_db_close(db);
    db = open_ok(p.db, 0, NULL);
    q = (nd_db_query_options)ND_DB_QUERY_INIT;
    q.threads = thread_counts[_i];
    r = query_range(db, &c, split, c.count, &q);
    tally y = check_results(&c, split, s, r, THRESHOLD, 0);
    nd_db_results_free(r);
    ck_assert_uint_eq(y.pairs, before.pairs);
    ck_assert_uint_gt(y.a_in_b, 5); /* articles (and excerpts) inside longer queries that Jaccard misses */
    ck_assert_uint_gt(y.b_in_a, 5); /* queries inside longer articles */
    ck_assert_uint_gt(y.guard, 0);  /* short excerpts left out by min_shingles */
    /* a higher query threshold: still exact, fewer pairs */
    q.threshold = 0.95;
    r = query_range(db, &c, split, c.count, &q);
    tally high = check_results(&c, split, s, r, 0.95, 0);
    nd_db_results_free(r);
    ck_assert_uint_lt(high.pairs, y.pairs);
    nd_db_close(db);
    sketches_free(s, c.count);
    corpus_free(&c);
    remove_tree(p.dir);
}
END_TEST

/* A second run with little memory: its first merge rewrites the postings
 * tree whole (rebuild_bands), later ones put entries into it; pending and
 * committed queries stay exact, and the index equals one built in a
 * single run (same entries). */
START_TEST(test_runs_with_early_merges)
{
    place p;
    place_make(&p);
    nd_options o = contain_options();
    corpus c = contain_corpus(0xc5, 40);
    size_t split = c.count / 2, first = split / 4;
    nd_sketch *s = sketch_all(&c, &o);
    nd_db *db = open_ok(p.db, ND_DB_WRITE | ND_DB_CREATE, &o);
    ck_assert_int_eq(add_range(db, &c, 0, first, "a", 0, 1), ND_OK);
    ck_assert_int_eq(nd_db_commit(db), ND_OK);
    nd_db_close(db);
    nd_db_config config = ND_DB_CONFIG_INIT;
    config.flags = ND_DB_WRITE;
    config.memory = 1 << 16; /* about 2,700 buffered entries */
    char message[512];
    ck_assert_int_eq(nd_db_open(&db, message, sizeof message, p.db, &config), ND_OK);
    ck_assert_int_eq(add_range(db, &c, first, split, "a", 0, 1), ND_OK);
    nd_db_query_options q = ND_DB_QUERY_INIT;
    q.scope = ND_DB_PENDING | ND_DB_COMMITTED;
    nd_db_results *r = query_range(db, &c, split, c.count, &q);
    nd_db_results_free(r); /* pending flags differ per match; checked after the commit */
    ck_assert_int_eq(nd_db_commit(db), ND_OK);
    r = query_range(db, &c, split, c.count, NULL);
    tally y = check_results(&c, split, s, r, THRESHOLD, 0);
    nd_db_results_free(r);
    ck_assert_uint_gt(y.pairs, 0);
    nd_db_stats many;
    ck_assert_int_eq(nd_db_stats_get(&many, db), ND_OK);
    nd_db_close(db);
    place one;
    place_make(&one);
    db = open_ok(one.db, ND_DB_WRITE | ND_DB_CREATE, &o);
    ck_assert_int_eq(add_range(db, &c, 0, split, "a", 0, 1), ND_OK);
    ck_assert_int_eq(nd_db_commit(db), ND_OK);
    nd_db_stats single;
    ck_assert_int_eq(nd_db_stats_get(&single, db), ND_OK);
    ck_assert_uint_eq(many.band_entries, single.band_entries);
    nd_db_close(db);
    sketches_free(s, c.count);
    corpus_free(&c);
    remove_tree(p.dir);
    remove_tree(one.dir);
}
END_TEST

/* Removed documents stop matching; compaction keeps the rest exact. */
START_TEST(test_remove_and_compact)
{
    place p;
    place_make(&p);
    nd_options o = contain_options();
    corpus c = contain_corpus(0xc3, 20);
    size_t split = c.count / 2;
    nd_sketch *s = sketch_all(&c, &o);
    nd_db *db = open_ok(p.db, ND_DB_WRITE | ND_DB_CREATE, &o);
    ck_assert_int_eq(add_range(db, &c, 0, split, "a", 0, 1), ND_OK);
    ck_assert_int_eq(nd_db_commit(db), ND_OK);
    nd_db_results *r = query_range(db, &c, split, c.count, NULL);
    tally all = check_results(&c, split, s, r, THRESHOLD, 0);
    nd_db_results_free(r);
    /* remove every indexed text that some query matches */
    r = query_range(db, &c, split, c.count, NULL);
    char ids[64][32];
    const char *id_ptrs[64];
    size_t id_lens[64], n_ids = 0;
    for (size_t b = 0; b < c.count - split && n_ids < 64; b++) {
        const nd_db_match *m;
        size_t n = nd_db_results_get(&m, r, b);
        for (size_t i = 0; i < n && n_ids < 64; i++) {
            int seen = 0;
            for (size_t k = 0; k < n_ids; k++)
                seen |= id_lens[k] == m[i].id_len && memcmp(ids[k], m[i].id, m[i].id_len) == 0;
            if (seen)
                continue;
            memcpy(ids[n_ids], m[i].id, m[i].id_len);
            id_lens[n_ids] = m[i].id_len;
            id_ptrs[n_ids] = ids[n_ids];
            n_ids++;
        }
    }
    nd_db_results_free(r);
    ck_assert_uint_gt(all.pairs, 0);
    ck_assert_uint_gt(n_ids, 0);
    ck_assert_int_eq(nd_db_remove(NULL, db, id_ptrs, id_lens, n_ids), ND_OK);
    ck_assert_int_eq(nd_db_commit(db), ND_OK);
    ck_assert_int_eq(nd_db_compact(db), ND_OK);
    r = query_range(db, &c, split, c.count, NULL);
    size_t left = 0;
    for (size_t b = 0; b < c.count - split; b++) {
        const nd_db_match *m;
        left += nd_db_results_get(&m, r, b);
    }
    nd_db_results_free(r);
    ck_assert_uint_eq(left, 0);
    nd_db_close(db);
    sketches_free(s, c.count);
    corpus_free(&c);
    remove_tree(p.dir);
}
END_TEST

/* ****  What the index records  **** */

START_TEST(test_format_and_options)
{
    place p;
    place_make(&p);
    nd_options o = contain_options();
    corpus c = contain_corpus(0xc4, 4);
    nd_db *db = open_ok(p.db, ND_DB_WRITE | ND_DB_CREATE, &o);
    ck_assert_int_eq(add_range(db, &c, 0, c.count, "a", 0, 1), ND_OK);
    ck_assert_int_eq(nd_db_commit(db), ND_OK);
    nd_db_close(db);
    db = open_ok(p.db, 0, NULL);
    nd_db_stats st;
    ck_assert_int_eq(nd_db_stats_get(&st, db), ND_OK);
    ck_assert_uint_eq(st.format_version, ND_DB_FORMAT_CONTAINMENT);
    ck_assert_int_eq(st.options.measure, ND_MEASURE_CONTAINMENT);
    ck_assert_uint_eq(st.options.min_shingles, MIN_SHINGLES);
    ck_assert_uint_gt(st.band_entries, st.documents * 10); /* postings, not 16 band keys a document */
    /* a query threshold below the index's would need longer prefixes */
    nd_db_query_options q = ND_DB_QUERY_INIT;
    q.threshold = 0.7;
    nd_db_results *r = NULL;
    size_t len = strlen(c.texts[0]);
    ck_assert_int_eq(nd_db_query_texts(&r, db, (const char *const *)c.texts, &len, 1, &q), ND_EINVAL);
    ck_assert_ptr_nonnull(strstr(db_message(db), "at least its own"));
    nd_db_close(db);
    /* the measure, given, must agree */
    nd_options j = ND_OPTIONS_INIT;
    char message[512];
    ck_assert_int_eq(try_open(&db, message, sizeof message, p.db, 0, &j, ND_OPT_MEASURE), ND_EMISMATCH);
    ck_assert_ptr_nonnull(strstr(message, "measure"));
    nd_options other = o;
    other.min_shingles = MIN_SHINGLES + 1;
    ck_assert_int_eq(try_open(&db, message, sizeof message, p.db, 0, &other, ND_OPT_MEASURE | ND_OPT_MIN_SHINGLES),
                     ND_EMISMATCH);
    ck_assert_ptr_nonnull(strstr(message, "option min_shingles"));
    ck_assert_int_eq(try_open(&db, message, sizeof message, p.db, 0, &o, ND_OPT_MEASURE | ND_OPT_MIN_SHINGLES), ND_OK);
    nd_db_close(db);
    /* each on its own: the measure alone takes the index's min_shingles,
     * and min_shingles alone is compared with it (it was taken for the
     * measure, and refused) */
    ck_assert_int_eq(try_open(&db, message, sizeof message, p.db, 0, &other, ND_OPT_MEASURE), ND_OK);
    nd_db_close(db);
    nd_options shingles_only = j;
    shingles_only.min_shingles = MIN_SHINGLES;
    ck_assert_int_eq(try_open(&db, message, sizeof message, p.db, 0, &shingles_only, ND_OPT_MIN_SHINGLES), ND_OK);
    nd_db_close(db);
    remove_tree(p.dir);
    /* a Jaccard index has format ND_DB_FORMAT (3: band entries in buckets) */
    place_make(&p);
    db = open_ok(p.db, ND_DB_WRITE | ND_DB_CREATE, NULL);
    ck_assert_int_eq(add_range(db, &c, 0, c.count, "a", 0, 1), ND_OK);
    ck_assert_int_eq(nd_db_commit(db), ND_OK);
    ck_assert_int_eq(nd_db_stats_get(&st, db), ND_OK);
    ck_assert_uint_eq(st.format_version, ND_DB_FORMAT);
    ck_assert_int_eq(st.options.measure, ND_MEASURE_JACCARD);
    nd_db_close(db);
    ck_assert_int_eq(try_open(&db, message, sizeof message, p.db, 0, &o, ND_OPT_MEASURE), ND_EMISMATCH);
    remove_tree(p.dir);
    corpus_free(&c);
}
END_TEST

Suite *db_contain_suite(void)
{
    Suite *s = suite_create("db_contain");
    TCase *tc = tcase_create("db_contain");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_equivalence_brute_force, 0, 2);
    tcase_add_test(tc, test_runs_with_early_merges);
    tcase_add_test(tc, test_remove_and_compact);
    tcase_add_test(tc, test_format_and_options);
    suite_add_tcase(s, tc);
    return s;
}
