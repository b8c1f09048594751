/* test_batch.c - nd_batch: texts sketched on several threads give, in input
 * order, exactly what one nd_sketcher gives text by text (ids, band keys,
 * token counts: words only where a minimum counts them), for any thread
 * count, call after call, with the texts given as arrays or by a function
 * (nd_batch_sketch_from); and an index fed with nd_index_add_batch()
 * clusters exactly like one fed text by text, the ids sorted or not. */
#include <stdio.h>  /* snprintf */
#include <stdlib.h> /* malloc, free */
#include <string.h> /* strlen, memcmp */

#include "neardup.h"
#include "sameclusters.h"
#include "sort.h" /* nd_sort_distinct_u32 */
#include "suites.h"

enum { TEXTS = 600 };

/* A corpus with near-duplicates, empty texts, a NULL text of length 0,
 * ill-formed UTF-8 and a text in a script without spaces; each text in an
 * exact-size heap buffer (ASan catches a read past its end). */
typedef struct corpus {
    char *texts[TEXTS];
    size_t lens[TEXTS];
} corpus;

static void corpus_make(corpus *c)
{
    char buf[2048];
    for (size_t i = 0; i < TEXTS; i++) {
        size_t len;
        if (i % 97 == 5) {
            c->texts[i] = NULL; /* allowed with length 0 */
            c->lens[i] = 0;
            continue;
        }
        if (i % 89 == 7)
            len = (size_t)snprintf(buf, sizeof buf, "   \n\t ");
        else if (i % 83 == 11)
            len = (size_t)snprintf(buf, sizeof buf, "bad \xff\xfe utf-8 \xc3 here number %zu", i);
        else if (i % 79 == 13)
            len = (size_t)snprintf(buf, sizeof buf, "東京都の天気は晴れです。今日は%zu番目の文書です。", i % 3);
        else
            len = (size_t)snprintf(buf, sizeof buf,
                                   "story %zu about the harbour, the market and the council meeting on day %zu "
                                   "with words that repeat across copies of the same story number %zu",
                                   i % 40, i % 40, (i % 40) * (i % 7 == 0 ? 1 : 2));
        c->texts[i] = exact_copy(buf, len);
        c->lens[i] = len;
    }
}

static void corpus_free(corpus *c)
{
    for (size_t i = 0; i < TEXTS; i++)
        free(c->texts[i]);
}

static nd_options test_options(void)
{
    nd_options opts = ND_OPTIONS_INIT;
    ck_assert_int_eq(nd_options_resolve(&opts), ND_OK);
    return opts;
}

/* Every item equals what one sketcher computes for the same text, its
 * tokens words or not (`words`: nd_sketcher_set_words). */
static void expect_items_match_words(const nd_batch *b, const corpus *c, size_t first, size_t count, int words)
{
    nd_options opts = test_options();
    nd_sketcher *sk = NULL;
    ck_assert_int_eq(nd_sketcher_new(&sk, &opts), ND_OK);
    nd_sketcher_set_words(sk, words);
    const nd_batch_item *items;
    ck_assert_uint_eq(nd_batch_items(&items, b), count);
    uint64_t *keys = malloc(opts.bands * sizeof *keys);
    for (size_t i = 0; i < count; i++) {
        nd_sketch_ref ref;
        ck_assert_int_eq(nd_sketch_text_ref(&ref, sk, c->texts[first + i], c->lens[first + i]), ND_OK);
        nd_lsh_band_keys(keys, ref.signature, opts.bands, opts.rows);
        const nd_batch_item *it = &items[i];
        ck_assert_uint_eq(it->text, i);
        ck_assert_uint_eq(it->span.start, 0);
        ck_assert_uint_eq(it->span.end, c->lens[first + i]);
        ck_assert_uint_eq(it->count, ref.count);
        ck_assert_uint_eq(it->num_tokens, ref.num_tokens);
        ck_assert_uint_eq(it->invalid_utf8, ref.invalid_utf8);
        if (ref.count == 0)
            ck_assert_ptr_null(it->ids);
        else
            ck_assert_int_eq(memcmp(it->ids, ref.ids, ref.count * sizeof *ref.ids), 0);
        ck_assert_int_eq(memcmp(it->keys, keys, opts.bands * sizeof *keys), 0);
    }
    free(keys);
    nd_sketcher_free(sk);
}

/* ... with a batch's default minimum of tokens: not counted, so not words */
static void expect_items_match(const nd_batch *b, const corpus *c, size_t first, size_t count)
{
    expect_items_match_words(b, c, first, count, 0);
}

static const unsigned thread_counts[] = {1, 2, 3, 8};

START_TEST(test_same_as_one_sketcher)
{
    corpus c;
    corpus_make(&c);
    nd_options opts = test_options();
    nd_batch *b = NULL;
    ck_assert_int_eq(nd_batch_new(&b, &opts, thread_counts[_i]), ND_OK);
    ck_assert_uint_eq(nd_batch_threads(b), thread_counts[_i]);
    /* one call over everything, then calls of varied sizes reusing the buffers */
    ck_assert_int_eq(nd_batch_sketch(b, (const char *const *)c.texts, c.lens, TEXTS), ND_OK);
    expect_items_match(b, &c, 0, TEXTS);
    static const size_t sizes[] = {0, 1, 7, 9, 250, 333};
    size_t at = 0;
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        ck_assert_int_eq(nd_batch_sketch(b, (const char *const *)c.texts + at, c.lens + at, sizes[k]), ND_OK);
        expect_items_match(b, &c, at, sizes[k]);
        at = (at + sizes[k]) % (TEXTS - 333);
    }
    nd_batch_free(b);
    corpus_free(&c);
}
END_TEST

/* nd_batch_sketch_from's text function over a corpus: each text copied
 * into the asking thread's buffer (which a later text overwrites), counting
 * the calls; text `fail_at` (when below TEXTS) fails with ND_ENOMEM. */
typedef struct corpus_source {
    const corpus *c;
    size_t first;
    char *buffers[8]; /* one per thread, TEXTS bytes' worth each */
    size_t calls[TEXTS];
    size_t fail_at;
    unsigned threads;
} corpus_source;

static int corpus_text(void *ctx, size_t i, unsigned thread, const char **data, size_t *len)
{
    corpus_source *src = ctx;
    ck_assert_uint_lt(thread, src->threads);
    src->calls[i]++; /* each i on one thread only */
    if (i == src->fail_at)
        return ND_ENOMEM;
    size_t n = src->c->lens[src->first + i];
    if (n > 0)
        memcpy(src->buffers[thread], src->c->texts[src->first + i], n);
    memset(src->buffers[thread] + n, 'x', 16); /* past the end: not the text's */
    *data = src->buffers[thread];
    *len = n;
    return ND_OK;
}

/* nd_batch_sketch_from gives what nd_batch_sketch gives for the same bytes,
 * the texts asked for once each on the thread that sketches them, reused
 * buffers and all; the function's error ends the call without results. */
START_TEST(test_sketch_from_same_as_sketch)
{
    corpus c;
    corpus_make(&c);
    nd_options opts = test_options();
    nd_batch *b = NULL;
    ck_assert_int_eq(nd_batch_new(&b, &opts, thread_counts[_i]), ND_OK);
    corpus_source *src = calloc(1, sizeof *src);
    src->c = &c;
    src->threads = nd_batch_threads(b);
    for (unsigned t = 0; t < 8; t++)
        src->buffers[t] = malloc(2048 + 16);
    static const size_t firsts[] = {0, 100}, counts[] = {TEXTS, 333};
    for (size_t k = 0; k < 2; k++) {
        memset(src->calls, 0, sizeof src->calls);
        src->first = firsts[k];
        src->fail_at = TEXTS;
        ck_assert_int_eq(nd_batch_sketch_from(b, counts[k], corpus_text, src), ND_OK);
        expect_items_match(b, &c, firsts[k], counts[k]);
        for (size_t i = 0; i < counts[k]; i++)
            ck_assert_uint_eq(src->calls[i], 1);
    }
    src->first = 0;
    src->fail_at = 123;
    ck_assert_int_eq(nd_batch_sketch_from(b, TEXTS, corpus_text, src), ND_ENOMEM);
    const nd_batch_item *items;
    ck_assert_uint_eq(nd_batch_items(&items, b), 0);
    for (unsigned t = 0; t < 8; t++)
        free(src->buffers[t]);
    free(src);
    nd_batch_free(b);
    corpus_free(&c);
}
END_TEST

/* The clusters of an index fed with text-by-text sketches. */
static nd_clusters *cluster_one_by_one(const corpus *c)
{
    nd_options opts = test_options();
    nd_sketcher *sk = NULL;
    nd_index *index = NULL;
    nd_clusters *clusters = NULL;
    ck_assert_int_eq(nd_sketcher_new(&sk, &opts), ND_OK);
    ck_assert_int_eq(nd_index_new(&index, &opts), ND_OK);
    for (size_t i = 0; i < TEXTS; i++) {
        nd_sketch s = ND_SKETCH_INIT;
        ck_assert_int_eq(nd_sketch_text(&s, sk, c->texts[i], c->lens[i]), ND_OK);
        ck_assert_int_eq(nd_index_add(index, &s, c->lens[i]), ND_OK);
        nd_sketch_clear(&s);
    }
    ck_assert_int_eq(nd_index_cluster(&clusters, NULL, index, ND_KEEP_LONGEST), ND_OK);
    nd_index_free(index);
    nd_sketcher_free(sk);
    return clusters;
}

START_TEST(test_index_add_batch_same_clusters)
{
    corpus c;
    corpus_make(&c);
    nd_clusters *expected = cluster_one_by_one(&c);
    ck_assert_uint_gt(nd_clusters_count(expected), 10); /* the corpus does have clusters */
    nd_options opts = test_options();
    nd_batch *b = NULL;
    nd_index *index = NULL;
    nd_clusters *got = NULL;
    ck_assert_int_eq(nd_batch_new(&b, &opts, thread_counts[_i]), ND_OK);
    ck_assert_int_eq(nd_index_new(&index, &opts), ND_OK);
    for (size_t at = 0; at < TEXTS; at += 128) { /* in chunks, as a caller with a long list would */
        size_t n = TEXTS - at < 128 ? TEXTS - at : 128;
        ck_assert_int_eq(nd_batch_sketch(b, (const char *const *)c.texts + at, c.lens + at, n), ND_OK);
        ck_assert_int_eq(nd_index_add_batch(index, b), ND_OK);
    }
    ck_assert_uint_eq(nd_index_count(index), TEXTS);
    ck_assert_int_eq(nd_index_cluster(&got, NULL, index, ND_KEEP_LONGEST), ND_OK);
    ck_same_clusters(got, expected);
    nd_clusters_free(got);
    nd_clusters_free(expected);
    nd_index_free(index);
    nd_batch_free(b);
    corpus_free(&c);
}
END_TEST

/* Near-duplicates whose shingles repeat and differ at the start (ids left
 * as made then differ in order and count from the sorted ones, so
 * verifying them as if sorted would go wrong), in paragraphs. */
static void corpus_make_repeats(corpus *c)
{
    static const char *const words[] = {"harbour", "market", "council", "river",  "bridge", "school",
                                        "train",   "garden", "museum",  "street", "winter", "summer"};
    char buf[2048];
    for (size_t i = 0; i < TEXTS; i++) {
        size_t story = i % 30, len = (size_t)snprintf(buf, sizeof buf, "lead%zu", i % 4 == 0 ? 1000 + i : story);
        for (size_t k = 0; k < 40; k++) {
            size_t w = (story * 7 + k * (k % 5 == 0 ? 1 : 3)) % 12;
            len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%s %s", k == 20 ? "\n\n" : " ", words[w],
                                    k % 10 < 5 ? "the old town" : "and the new");
        }
        c->texts[i] = exact_copy(buf, len);
        c->lens[i] = len;
    }
}

/* Ids left as made (nd_batch_set_sorted_ids(b, 0)), documents and then
 * paragraphs: each item is the sorted batch's but for its ids, whose
 * sorted distinct set is the same (and some item keeps a repeat or an
 * order, else the test would not tell), and an index fed with them
 * clusters as one fed text by text. */
START_TEST(test_unsorted_ids_same_clusters)
{
    corpus c;
    corpus_make_repeats(&c);
    nd_clusters *expected = cluster_one_by_one(&c);
    nd_options opts = test_options();
    nd_batch *sorted = NULL, *raw = NULL;
    ck_assert_int_eq(nd_batch_new(&sorted, &opts, thread_counts[_i]), ND_OK);
    ck_assert_int_eq(nd_batch_new(&raw, &opts, thread_counts[_i]), ND_OK);
    nd_batch_set_sorted_ids(raw, 0);
    for (int unit = 0; unit < 2; unit++) {
        nd_unit_kind kind = unit ? ND_UNIT_PARAGRAPH : ND_UNIT_DOCUMENT;
        ck_assert_int_eq(nd_batch_set_units(sorted, kind, 1), ND_OK);
        ck_assert_int_eq(nd_batch_set_units(raw, kind, 1), ND_OK);
        nd_index *index = NULL, *index_sorted = NULL;
        ck_assert_int_eq(nd_index_new(&index, &opts), ND_OK);
        ck_assert_int_eq(nd_index_new(&index_sorted, &opts), ND_OK);
        size_t unsorted_items = 0;
        for (size_t at = 0; at < TEXTS; at += 128) {
            size_t n = TEXTS - at < 128 ? TEXTS - at : 128;
            ck_assert_int_eq(nd_batch_sketch(sorted, (const char *const *)c.texts + at, c.lens + at, n), ND_OK);
            ck_assert_int_eq(nd_batch_sketch(raw, (const char *const *)c.texts + at, c.lens + at, n), ND_OK);
            const nd_batch_item *want, *got;
            size_t count = nd_batch_items(&want, sorted);
            ck_assert_uint_eq(nd_batch_items(&got, raw), count);
            for (size_t i = 0; i < count; i++) {
                ck_assert_uint_eq(got[i].text, want[i].text);
                ck_assert_uint_eq(got[i].span.start, want[i].span.start);
                ck_assert_uint_eq(got[i].span.end, want[i].span.end);
                ck_assert_uint_eq(got[i].num_tokens, want[i].num_tokens);
                ck_assert_int_eq(memcmp(got[i].keys, want[i].keys, opts.bands * sizeof *got[i].keys), 0);
                ck_assert_uint_ge(got[i].count, want[i].count);
                ck_assert((got[i].count == 0) == (want[i].count == 0));
                uint32_t *copy = malloc((got[i].count ? got[i].count : 1) * 2 * sizeof *copy);
                if (got[i].count)
                    memcpy(copy, got[i].ids, got[i].count * sizeof *copy);
                unsorted_items += got[i].count != want[i].count ||
                                  (got[i].count && memcmp(copy, want[i].ids, got[i].count * sizeof *copy) != 0);
                ck_assert_uint_eq(nd_sort_distinct_u32(copy, copy + got[i].count, got[i].count), want[i].count);
                ck_assert(want[i].count == 0 || memcmp(copy, want[i].ids, want[i].count * sizeof *copy) == 0);
                free(copy);
            }
            ck_assert_int_eq(nd_index_add_batch(index, raw), ND_OK);
            ck_assert_int_eq(nd_index_add_batch(index_sorted, sorted), ND_OK);
        }
        ck_assert_uint_gt(unsorted_items, 0);
        nd_clusters *got = NULL, *want = NULL;
        ck_assert_int_eq(nd_index_cluster(&got, NULL, index, ND_KEEP_LONGEST), ND_OK);
        ck_assert_int_eq(nd_index_cluster(&want, NULL, index_sorted, ND_KEEP_LONGEST), ND_OK);
        ck_assert_uint_gt(nd_clusters_count(want), 10);
        ck_same_clusters(got, unit ? want : expected);
        nd_clusters_free(got);
        nd_clusters_free(want);
        nd_index_free(index);
        nd_index_free(index_sorted);
    }
    nd_clusters_free(expected);
    nd_batch_free(sorted);
    nd_batch_free(raw);
    corpus_free(&c);
}
END_TEST

/* Unit mode: the items equal nd_sketch_units()'s units, text after text. */
typedef struct unit_list {
    nd_span spans[64];
    uint32_t *ids[64];
    size_t counts[64];
    uint64_t keys[64][64];
    size_t n;
    unsigned bands, rows;
} unit_list;

static int collect_unit(void *ctx, nd_span span, const nd_sketch_ref *ref)
{
    unit_list *l = ctx;
    ck_assert_uint_lt(l->n, 64);
    l->spans[l->n] = span;
    l->counts[l->n] = ref->count;
    l->ids[l->n] = malloc((ref->count ? ref->count : 1) * sizeof *ref->ids);
    memcpy(l->ids[l->n], ref->ids, ref->count * sizeof *ref->ids);
    nd_lsh_band_keys(l->keys[l->n], ref->signature, l->bands, l->rows);
    l->n++;
    return ND_OK;
}

static const nd_unit_kind unit_kinds[] = {ND_UNIT_PARAGRAPH, ND_UNIT_LINE, ND_UNIT_PARAGRAPH, ND_UNIT_LINE};
static const unsigned unit_threads[] = {1, 1, 3, 3};

START_TEST(test_units_same_as_sketch_units)
{
    enum { N = 120 };
    char *texts[N];
    size_t lens[N];
    char buf[1024];
    for (size_t i = 0; i < N; i++) {
        size_t len = (size_t)snprintf(buf, sizeof buf,
                                      "Headline number %zu of the day Headline number %zu of the day\n"
                                      "The first paragraph says %zu things about the harbour.\n\n"
                                      "   \n"
                                      "A second paragraph, shared by every text, on two\r\nlines of words.\n\n%s",
                                      i % 9, i % 9, i % 4, i % 5 == 0 ? "" : "a closing line\n");
        texts[i] = exact_copy(buf, len);
        lens[i] = len;
    }
    nd_options opts = test_options();
    nd_sketcher *sk = NULL;
    nd_batch *b = NULL;
    ck_assert_int_eq(nd_sketcher_new(&sk, &opts), ND_OK);
    ck_assert_int_eq(nd_batch_new(&b, &opts, unit_threads[_i]), ND_OK);
    ck_assert_int_eq(nd_batch_set_units(b, unit_kinds[_i], 3), ND_OK);
    ck_assert_int_eq(nd_batch_sketch(b, (const char *const *)texts, lens, N), ND_OK);
    const nd_batch_item *items;
    size_t n = nd_batch_items(&items, b), at = 0;
    for (size_t i = 0; i < N; i++) {
        unit_list l = {.n = 0, .bands = opts.bands, .rows = opts.rows};
        size_t invalid;
        ck_assert_int_eq(nd_sketch_units(&invalid, sk, texts[i], lens[i], unit_kinds[_i], 3, collect_unit, &l), ND_OK);
        ck_assert_uint_ge(l.n, unit_kinds[_i] == ND_UNIT_LINE ? 5 : 2); /* (lines: the headline twice) */
        for (size_t u = 0; u < l.n; u++, at++) {
            ck_assert_uint_lt(at, n);
            ck_assert_uint_eq(items[at].text, i);
            ck_assert_uint_eq(items[at].span.start, l.spans[u].start);
            ck_assert_uint_eq(items[at].span.end, l.spans[u].end);
            ck_assert_uint_eq(items[at].count, l.counts[u]);
            ck_assert_int_eq(memcmp(items[at].ids, l.ids[u], l.counts[u] * sizeof *l.ids[u]), 0);
            ck_assert_int_eq(memcmp(items[at].keys, l.keys[u], opts.bands * sizeof *items[at].keys), 0);
            free(l.ids[u]);
        }
    }
    ck_assert_uint_eq(at, n);
    /* back to documents, with a minimum that empties the short texts */
    ck_assert_int_eq(nd_batch_set_units(b, ND_UNIT_DOCUMENT, 1000), ND_OK);
    ck_assert_int_eq(nd_batch_sketch(b, (const char *const *)texts, lens, N), ND_OK);
    ck_assert_uint_eq(nd_batch_items(&items, b), N);
    for (size_t i = 0; i < N; i++)
        ck_assert_uint_eq(items[i].count, 0);
    ck_assert_int_eq(nd_batch_set_units(b, (nd_unit_kind)7, 1), ND_EINVAL);
    nd_batch_free(b);
    nd_sketcher_free(sk);
    for (size_t i = 0; i < N; i++)
        free(texts[i]);
}
END_TEST

/* Tokens are words only where they are counted: by default (and with a
 * minimum of one token) a text in a script without spaces, signed with
 * character shingles, skips ICU's word breaking, as `neardup scan` does
 * (its run of letters one token, where words were 14 of them); with a
 * minimum of two tokens or more, words again. The same ids and keys either
 * way. */
START_TEST(test_words_only_where_counted)
{
    corpus c;
    corpus_make(&c);
    nd_options opts = test_options();
    nd_batch *b = NULL;
    ck_assert_int_eq(nd_batch_new(&b, &opts, thread_counts[_i]), ND_OK);
    enum { CJK = 13 }; /* corpus_make's text in a script without spaces */
    nd_sketcher *words = NULL;
    ck_assert_int_eq(nd_sketcher_new(&words, &opts), ND_OK);
    nd_sketch_ref ref;
    ck_assert_int_eq(nd_sketch_text_ref(&ref, words, c.texts[CJK], c.lens[CJK]), ND_OK);
    size_t word_count = ref.num_tokens;
    const nd_batch_item *items;
    for (unsigned min = 0; min <= 3; min++) {
        ck_assert_int_eq(nd_batch_set_units(b, ND_UNIT_DOCUMENT, min), ND_OK);
        ck_assert_int_eq(nd_batch_sketch(b, (const char *const *)c.texts, c.lens, TEXTS), ND_OK);
        expect_items_match_words(b, &c, 0, TEXTS, min > 1);
        ck_assert_uint_eq(nd_batch_items(&items, b), TEXTS);
        if (min > 1)
            ck_assert_uint_eq(items[CJK].num_tokens, word_count);
        else
            ck_assert_uint_lt(items[CJK].num_tokens, word_count);
    }
    nd_sketcher_free(words);
    nd_batch_free(b);
    corpus_free(&c);
}
END_TEST

START_TEST(test_bad_options)
{
    nd_options opts = ND_OPTIONS_INIT;
    opts.threshold = 1.5;
    nd_batch *b = (nd_batch *)&opts; /* must stay untouched */
    ck_assert_int_eq(nd_batch_new(&b, &opts, 2), ND_EINVAL);
    ck_assert_ptr_eq(b, (nd_batch *)&opts);
    nd_batch_free(NULL);
}
END_TEST

START_TEST(test_zero_threads_means_processors)
{
    nd_options opts = test_options();
    nd_batch *b = NULL;
    ck_assert_int_eq(nd_batch_new(&b, &opts, 0), ND_OK);
    ck_assert_uint_ge(nd_batch_threads(b), 1);
    const nd_batch_item *items;
    ck_assert_int_eq(nd_batch_sketch(b, NULL, NULL, 0), ND_OK);
    ck_assert_uint_eq(nd_batch_items(&items, b), 0);
    nd_batch_free(b);
}
END_TEST

Suite *batch_suite(void)
{
    Suite *s = suite_create("batch");
    TCase *tc = tcase_create("batch");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_same_as_one_sketcher, 0, sizeof thread_counts / sizeof thread_counts[0]);
    tcase_add_loop_test(tc, test_sketch_from_same_as_sketch, 0, sizeof thread_counts / sizeof thread_counts[0]);
    tcase_add_loop_test(tc, test_index_add_batch_same_clusters, 0, sizeof thread_counts / sizeof thread_counts[0]);
    tcase_add_loop_test(tc, test_unsorted_ids_same_clusters, 0, sizeof thread_counts / sizeof thread_counts[0]);
    tcase_add_loop_test(tc, test_units_same_as_sketch_units, 0, sizeof unit_kinds / sizeof unit_kinds[0]);
    tcase_add_loop_test(tc, test_words_only_where_counted, 0, sizeof thread_counts / sizeof thread_counts[0]);
    tcase_add_test(tc, test_bad_options);
    tcase_add_test(tc, test_zero_threads_means_processors);
    suite_add_tcase(s, tc);
    return s;
}
