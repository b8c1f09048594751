/* test_stream.c - nd_stream: what it flags is exactly "first kept wins"
 * computed by brute force over every kept text (when the banding misses
 * nothing), every reported Jaccard is the exact one, and on corpora whose
 * groups are cliques it keeps exactly the survivors of nd_index_cluster().
 */
#include <stdio.h>  /* snprintf */
#include <stdlib.h> /* malloc, free */
#include <string.h> /* strlen */

#include "neardup.h"
#include "suites.h"

enum { WORDS = 40, MAX_TEXTS = 400 };

static uint64_t next_random(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

typedef struct corpus {
    char *texts[MAX_TEXTS];
    size_t lens[MAX_TEXTS];
    size_t count;
} corpus;

static void add_text(corpus *c, const unsigned *words)
{
    char buf[WORDS * 12];
    size_t len = 0;
    for (size_t w = 0; w < WORDS; w++)
        len += (size_t)snprintf(buf + len, sizeof buf - len, "%sw%u", w ? " " : "", words[w]);
    c->texts[c->count] = exact_copy(buf, len);
    c->lens[c->count] = len;
    c->count++;
}

/* Groups of a random base text and `variants` copies of it, each with one
 * word replaced (each at its own place when `cliques`, so that every pair
 * in a group stays above 0.5 with 5-word shingles; when not, each copy is
 * made from the previous one, so groups chain), shuffled together with
 * unrelated texts and a few empty ones. */
static void corpus_make(corpus *c, uint64_t seed, int cliques)
{
    uint64_t state = seed;
    c->count = 0;
    while (c->count + 8 < MAX_TEXTS) {
        unsigned words[WORDS];
        for (size_t w = 0; w < WORDS; w++)
            words[w] = (unsigned)(next_random(&state) % 100000);
        add_text(c, words);
        size_t variants = next_random(&state) % 6;
        for (size_t v = 0; v < variants; v++) {
            unsigned copy[WORDS];
            memcpy(copy, words, sizeof copy);
            size_t at = cliques ? (v * 7 + 3) % WORDS : next_random(&state) % WORDS;
            copy[at] = 100000 + (unsigned)(next_random(&state) % 100000);
            if (!cliques)
                memcpy(words, copy, sizeof copy);
            add_text(c, copy);
        }
        if (next_random(&state) % 10 == 0) {
            c->texts[c->count] = NULL;
            c->lens[c->count++] = 0;
        }
    }
    for (size_t i = c->count - 1; i > 0; i--) { /* shuffle: copies come in any order */
        size_t j = next_random(&state) % (i + 1);
        char *t = c->texts[i];
        size_t l = c->lens[i];
        c->texts[i] = c->texts[j];
        c->lens[i] = c->lens[j];
        c->texts[j] = t;
        c->lens[j] = l;
    }
}

static void corpus_free(corpus *c)
{
    for (size_t i = 0; i < c->count; i++)
        free(c->texts[i]);
}

/* Options whose banding misses no pair at J >= 0.5: 128 bands of one row
 * fail to propose such a pair with probability (1 - 0.5)^128 = 3e-39. */
static nd_options exhaustive_options(void)
{
    nd_options opts = ND_OPTIONS_INIT;
    opts.threshold = 0.5;
    opts.bands = 128;
    opts.rows = 1;
    ck_assert_int_eq(nd_options_resolve(&opts), ND_OK);
    return opts;
}

static const uint64_t seeds[] = {1, 2, 3, 0x5eed};

START_TEST(test_equals_brute_force_first_kept_wins)
{
    corpus c;
    corpus_make(&c, seeds[_i], 0);
    nd_options opts = exhaustive_options();
    nd_stream *stream = NULL;
    nd_sketcher *sk = NULL;
    ck_assert_int_eq(nd_stream_new(&stream, &opts), ND_OK);
    ck_assert_int_eq(nd_sketcher_new(&sk, &opts), ND_OK);
    nd_sketch sketches[MAX_TEXTS];
    size_t kept[MAX_TEXTS], kept_count = 0, duplicates = 0, below_best = 0;
    for (size_t i = 0; i < c.count; i++) {
        sketches[i] = (nd_sketch)ND_SKETCH_INIT;
        ck_assert_int_eq(nd_sketch_text(&sketches[i], sk, c.texts[i], c.lens[i]), ND_OK);
        /* brute force: the kept text with the highest exact Jaccard, the earliest among equals */
        int expect_match = 0;
        nd_stream_match expected = {0, 0.0};
        for (size_t k = 0; k < kept_count; k++) {
            const nd_sketch *a = &sketches[i], *b = &sketches[kept[k]];
            double j = nd_jaccard(a->ids, a->count, b->ids, b->count);
            if (j >= opts.threshold && (!expect_match || j > expected.jaccard)) {
                if (expect_match)
                    below_best++;
                expected = (nd_stream_match){k, j};
                expect_match = 1;
            }
        }
        nd_stream_match got = {(size_t)-1, -1.0};
        int query = nd_stream_query_text(&got, stream, c.texts[i], c.lens[i]);
        ck_assert_int_eq(query, expect_match);
        ck_assert_uint_eq(nd_stream_count(stream), kept_count); /* a query keeps nothing */
        nd_stream_match added = {(size_t)-1, -1.0};
        int rc = nd_stream_add_text(&added, stream, c.texts[i], c.lens[i]);
        ck_assert_int_eq(rc, expect_match);
        if (expect_match) {
            ck_assert_uint_eq(got.kept, expected.kept);
            ck_assert_double_eq(got.jaccard, expected.jaccard);
            ck_assert_uint_eq(added.kept, expected.kept);
            ck_assert_double_eq(added.jaccard, expected.jaccard);
            duplicates++;
        } else {
            kept[kept_count++] = i;
        }
        ck_assert_uint_eq(nd_stream_count(stream), kept_count);
    }
    /* the corpus does exercise it: duplicates, kept texts, several matches to choose from */
    ck_assert_uint_gt(duplicates, 30);
    ck_assert_uint_gt(kept_count, 30);
    ck_assert_uint_gt(below_best, 0);
    for (size_t i = 0; i < c.count; i++)
        nd_sketch_clear(&sketches[i]);
    nd_sketcher_free(sk);
    nd_stream_free(stream);
    corpus_free(&c);
}
END_TEST

/* With the default banding (16 x 8 at 0.8) some pairs may be missed, but
 * whatever is reported is exact: the match is an earlier kept text and the
 * Jaccard is the exact one, at least the threshold. */
START_TEST(test_default_banding_reports_exact_matches)
{
    corpus c;
    corpus_make(&c, seeds[_i], 1);
    nd_options opts = ND_OPTIONS_INIT;
    opts.threshold = 0.5;
    nd_stream *stream = NULL;
    nd_sketcher *sk = NULL;
    ck_assert_int_eq(nd_stream_new(&stream, &opts), ND_OK);
    ck_assert_int_eq(nd_sketcher_new(&sk, &opts), ND_OK);
    nd_sketch sketches[MAX_TEXTS];
    size_t kept[MAX_TEXTS], kept_count = 0, duplicates = 0;
    for (size_t i = 0; i < c.count; i++) {
        sketches[i] = (nd_sketch)ND_SKETCH_INIT;
        ck_assert_int_eq(nd_sketch_text(&sketches[i], sk, c.texts[i], c.lens[i]), ND_OK);
        nd_stream_match m;
        int rc = nd_stream_add_text(&m, stream, c.texts[i], c.lens[i]);
        ck_assert_int_ge(rc, 0);
        if (rc == 1) {
            ck_assert_uint_lt(m.kept, kept_count);
            const nd_sketch *a = &sketches[i], *b = &sketches[kept[m.kept]];
            ck_assert_double_eq(m.jaccard, nd_jaccard(a->ids, a->count, b->ids, b->count));
            ck_assert(m.jaccard >= opts.threshold);
            duplicates++;
        } else {
            kept[kept_count++] = i;
        }
    }
    ck_assert_uint_gt(duplicates, 30);
    for (size_t i = 0; i < c.count; i++)
        nd_sketch_clear(&sketches[i]);
    nd_sketcher_free(sk);
    nd_stream_free(stream);
    corpus_free(&c);
}
END_TEST

/* Groups are cliques: the stream keeps exactly the texts that are not
 * duplicates in nd_index_cluster()'s clusters (--keep first). */
START_TEST(test_cliques_agree_with_index_clusters)
{
    corpus c;
    corpus_make(&c, seeds[_i], 1);
    nd_options opts = exhaustive_options();
    nd_stream *stream = NULL;
    nd_sketcher *sk = NULL;
    nd_index *index = NULL;
    nd_clusters *clusters = NULL;
    ck_assert_int_eq(nd_stream_new(&stream, &opts), ND_OK);
    ck_assert_int_eq(nd_sketcher_new(&sk, &opts), ND_OK);
    ck_assert_int_eq(nd_index_new(&index, &opts), ND_OK);
    int flagged[MAX_TEXTS], removed[MAX_TEXTS];
    for (size_t i = 0; i < c.count; i++) {
        nd_stream_match m;
        flagged[i] = nd_stream_add_text(&m, stream, c.texts[i], c.lens[i]);
        ck_assert_int_ge(flagged[i], 0);
        removed[i] = 0;
        nd_sketch s = ND_SKETCH_INIT;
        ck_assert_int_eq(nd_sketch_text(&s, sk, c.texts[i], c.lens[i]), ND_OK);
        ck_assert_int_eq(nd_index_add(index, &s, c.lens[i]), ND_OK);
        nd_sketch_clear(&s);
    }
    ck_assert_int_eq(nd_index_cluster(&clusters, NULL, index, ND_KEEP_FIRST), ND_OK);
    size_t duplicates = 0;
    for (size_t k = 0; k < nd_clusters_count(clusters); k++) {
        const nd_member *m;
        size_t n = nd_clusters_get(&m, clusters, k);
        for (size_t j = 1; j < n; j++)
            removed[m[j].doc] = 1;
        duplicates += n - 1;
    }
    ck_assert_uint_gt(duplicates, 30);
    for (size_t i = 0; i < c.count; i++)
        ck_assert_msg(flagged[i] == removed[i], "text %zu: stream says %d, clusters say %d", i, flagged[i], removed[i]);
    nd_clusters_free(clusters);
    nd_index_free(index);
    nd_sketcher_free(sk);
    nd_stream_free(stream);
    corpus_free(&c);
}
END_TEST

START_TEST(test_empty_texts_never_match)
{
    nd_options opts = ND_OPTIONS_INIT;
    nd_stream *stream = NULL;
    ck_assert_int_eq(nd_stream_new(&stream, &opts), ND_OK);
    nd_stream_match m = {7, 0.25};
    ck_assert_int_eq(nd_stream_add_text(&m, stream, NULL, 0), 0);
    ck_assert_int_eq(nd_stream_add_text(&m, stream, " ,, ", 4), 0);
    ck_assert_int_eq(nd_stream_add_text(&m, stream, NULL, 0), 0);
    ck_assert_uint_eq(nd_stream_count(stream), 3);
    ck_assert_uint_eq(m.kept, 7); /* untouched when there is no match */
    const char *text = "the same words in the same order twice";
    ck_assert_int_eq(nd_stream_add_text(&m, stream, text, strlen(text)), 0);
    ck_assert_int_eq(nd_stream_add_text(&m, stream, text, strlen(text)), 1);
    ck_assert_uint_eq(m.kept, 3);
    ck_assert_double_eq(m.jaccard, 1.0);
    ck_assert_uint_eq(nd_stream_count(stream), 4);
    nd_stream_free(stream);
    nd_stream_free(NULL);
    opts.threshold = 0;
    nd_stream *untouched = (nd_stream *)&opts;
    ck_assert_int_eq(nd_stream_new(&untouched, &opts), ND_EINVAL);
    ck_assert_ptr_eq(untouched, (nd_stream *)&opts);
    opts = (nd_options)ND_OPTIONS_INIT;
    opts.measure = ND_MEASURE_CONTAINMENT; /* a stream's LSH candidates cannot serve containment */
    ck_assert_int_eq(nd_stream_new(&untouched, &opts), ND_EINVAL);
    ck_assert_ptr_eq(untouched, (nd_stream *)&opts);
}
END_TEST

/* Enough texts that the table grows several times and ids span blocks. */
START_TEST(test_growth)
{
    nd_options opts = ND_OPTIONS_INIT;
    nd_stream *stream = NULL;
    ck_assert_int_eq(nd_stream_new(&stream, &opts), ND_OK);
    char buf[256];
    for (unsigned i = 0; i < 20000; i++) {
        size_t len = (size_t)snprintf(buf, sizeof buf, "record %u of the log with fields %u %u %u and %u", i / 2,
                                      i / 2 * 7, i / 2 * 13, i / 2 * 17, i / 2 * 19);
        nd_stream_match m;
        int rc = nd_stream_add_text(&m, stream, buf, len);
        ck_assert_int_eq(rc, (int)(i % 2)); /* every odd text repeats the one before */
        if (rc == 1)
            ck_assert_uint_eq(m.kept, i / 2);
    }
    ck_assert_uint_eq(nd_stream_count(stream), 10000);
    nd_stream_free(stream);
}
END_TEST

Suite *stream_suite(void)
{
    Suite *s = suite_create("stream");
    TCase *tc = tcase_create("stream");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_equals_brute_force_first_kept_wins, 0, sizeof seeds / sizeof seeds[0]);
    tcase_add_loop_test(tc, test_default_banding_reports_exact_matches, 0, sizeof seeds / sizeof seeds[0]);
    tcase_add_loop_test(tc, test_cliques_agree_with_index_clusters, 0, sizeof seeds / sizeof seeds[0]);
    tcase_add_test(tc, test_empty_texts_never_match);
    tcase_add_test(tc, test_growth);
    suite_add_tcase(s, tc);
    return s;
}
