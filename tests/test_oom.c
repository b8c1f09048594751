/* test_oom.c - fail the N-th allocation, for every N, through the whole
 * pipeline (clusters kept by rank, and pairs; under both measures), and
 * through nd_batch, an nd_stream and nd_explain; through non-ASCII text
 * (NFKC beyond the fold table, Arabic, Han and Thai word breaking,
 * character shingles), units and repeats (nd_sketch_units,
 * nd_find_repeats, nd_remove_spans), a spilled index (spilled after its
 * first text, and one past a chunk of band keys read back from its file)
 * and threaded clustering: each call returns ND_ENOMEM or succeeds,
 * nothing leaks (ASan in CI), a failed nd_index_add leaves the sketch
 * intact, and once every allocation succeeds the result is the right one.
 * Pairs: nd_pairs_get(), which makes its array at its first call, may
 * fail too (0 where nd_pairs_count() says more); nd_pairs_next()
 * allocates nothing. Also the huge-page blocks (nd_malloc_huge,
 * nd_grow_huge). */
#include <stdint.h> /* uintptr_t */
#include <stdlib.h> /* getenv, malloc, free */
#include <string.h> /* memset, strlen, strstr */

#include "alloc.h"
#include "neardup.h"
#include "suites.h"

static const char *const texts[] = {
    "one two three four five six seven eight nine ten",
    "unrelated words here and there for a second text",
    "one two three four five six seven eight nine ten",
};

/* nd_pairs_get(), whose first call makes the array: ND_ENOMEM when it
 * could not (it then returns 0 where nd_pairs_count() says more). */
static int pairs_array(const nd_pair **p, size_t *count, nd_pairs *pairs)
{
    *count = nd_pairs_get(p, pairs);
    return *count == nd_pairs_count(pairs) ? ND_OK : ND_ENOMEM;
}

/* nd_pairs_next() allocates nothing: the pairs walked with every
 * allocation failing (left so: the caller only frees after this). */
static size_t pairs_walked_without_memory(nd_pairs *pairs)
{
    nd_alloc_fail_after(0);
    nd_pair pair;
    size_t n = 0;
    while (nd_pairs_next(pairs, &pair))
        n++;
    return n;
}

/* Returns ND_OK with *clusters_found and *pairs_found set, or the first
 * error. */
static int run_pipeline(nd_measure measure, size_t *clusters_found, size_t *pairs_found)
{
    nd_options opts = ND_OPTIONS_INIT;
    opts.measure = measure;
    opts.min_shingles = 2;
    nd_pairs *pairs = NULL;
    static const uint64_t ranks[] = {2, 1, 0};
    nd_sketcher *sk = NULL;
    nd_index *index = NULL;
    nd_clusters *clusters = NULL;
    nd_sketch sketch = ND_SKETCH_INIT;
    int rc = nd_options_resolve(&opts);
    if (rc == ND_OK)
        rc = nd_sketcher_new(&sk, &opts);
    if (rc == ND_OK)
        rc = nd_index_new(&index, &opts);
    for (size_t i = 0; rc == ND_OK && i < 3; i++) {
        rc = nd_sketch_text(&sketch, sk, texts[i], strlen(texts[i]));
        if (rc == ND_OK) {
            uint32_t *ids = sketch.ids;
            rc = nd_index_add(index, &sketch, 1);
            if (rc != ND_OK)
                ck_assert_ptr_eq(sketch.ids, ids); /* untouched on failure */
        }
        nd_sketch_clear(&sketch);
    }
    if (rc == ND_OK)
        rc = nd_index_set_ranks(index, ranks, 3);
    if (rc == ND_OK)
        rc = nd_index_cluster(&clusters, NULL, index, ND_KEEP_RANK);
    if (rc == ND_OK)
        *clusters_found = nd_clusters_count(clusters);
    if (rc == ND_OK)
        rc = nd_index_pairs(&pairs, NULL, index);
    if (rc == ND_OK) {
        const nd_pair *p;
        rc = pairs_array(&p, pairs_found, pairs);
    }
    if (rc == ND_OK)
        ck_assert_uint_eq(pairs_walked_without_memory(pairs), *pairs_found);
    nd_pairs_free(pairs);
    nd_clusters_free(clusters);
    nd_index_free(index);
    nd_sketcher_free(sk);
    return rc;
}

START_TEST(test_fail_every_allocation)
{
    /* Build the shared fold table first: it is made once per process. */
    nd_normalizer *warm = NULL;
    ck_assert_int_eq(nd_normalizer_new(&warm, ND_PROFILE_DEFAULT), ND_OK);
    nd_normalizer_free(warm);
    for (int measure = 0; measure < 2; measure++) {
        size_t n;
        int succeeded = 0;
        for (n = 0; n < 10000 && !succeeded; n++) {
            nd_alloc_fail_after(n);
            size_t found = 0, pairs = 0;
            int rc = run_pipeline((nd_measure)measure, &found, &pairs);
            nd_alloc_fail_after((size_t)-1);
            ck_assert_msg(rc == ND_OK || rc == ND_ENOMEM, "fail after %zu: status %d", n, rc);
            if (rc == ND_OK) {
                ck_assert_uint_eq(found, 1);
                ck_assert_uint_eq(pairs, 1);
                succeeded = 1;
            }
        }
        ck_assert_msg(succeeded, "the pipeline never succeeded");
        ck_assert_uint_gt(n, 10); /* the loop really did fail allocations on the way */
    }
}
END_TEST

/* The same through nd_batch (on one thread, so that the N-th allocation
 * is the same one every run), twice, so the second call reuses and grows
 * its buffers. */
static int run_batch_pipeline(size_t *clusters_found)
{
    nd_options opts = ND_OPTIONS_INIT;
    nd_batch *batch = NULL;
    nd_index *index = NULL;
    nd_clusters *clusters = NULL;
    size_t lens[3];
    for (size_t i = 0; i < 3; i++)
        lens[i] = strlen(texts[i]);
    int rc = nd_options_resolve(&opts);
    if (rc == ND_OK)
        rc = nd_batch_new(&batch, &opts, 1);
    if (rc == ND_OK)
        rc = nd_index_new(&index, &opts);
    if (rc == ND_OK)
        rc = nd_batch_sketch(batch, texts, lens, 1);
    if (rc == ND_OK)
        rc = nd_index_add_batch(index, batch);
    if (rc == ND_OK)
        rc = nd_batch_sketch(batch, texts + 1, lens + 1, 2);
    if (rc == ND_OK)
        rc = nd_index_add_batch(index, batch);
    if (rc == ND_OK)
        rc = nd_index_cluster(&clusters, NULL, index, ND_KEEP_FIRST);
    if (rc == ND_OK)
        *clusters_found = nd_clusters_count(clusters);
    nd_clusters_free(clusters);
    nd_index_free(index);
    nd_batch_free(batch);
    return rc;
}

/* A stream: the third text repeats the first; a failed add leaves the
 * stream as it was, so the count says how many texts it kept. */
static int run_stream(size_t *duplicates_found)
{
    nd_options opts = ND_OPTIONS_INIT;
    nd_stream *stream = NULL;
    int rc = nd_stream_new(&stream, &opts);
    size_t duplicates = 0;
    for (size_t i = 0; rc >= 0 && i < 3; i++) {
        size_t before = stream ? nd_stream_count(stream) : 0;
        nd_stream_match m;
        rc = nd_stream_add_text(&m, stream, texts[i], strlen(texts[i]));
        if (rc < 0)
            ck_assert_uint_eq(nd_stream_count(stream), before);
        duplicates += rc == 1;
    }
    nd_stream_free(stream);
    if (rc < 0)
        return rc;
    *duplicates_found = duplicates;
    return ND_OK;
}

/* nd_explain of the first and third texts: one shared run. */
static int run_explain(size_t *runs_found)
{
    nd_options opts = ND_OPTIONS_INIT;
    nd_explanation *e = NULL;
    int rc = nd_explain(&e, &opts, texts[0], strlen(texts[0]), texts[2], strlen(texts[2]), 10);
    if (rc == ND_OK)
        *runs_found = e->run_count;
    nd_explanation_free(e);
    return rc;
}

/* Non-ASCII texts: the first and third differ only in what normalization
 * takes away (fullwidth letters, ligatures, circled digits, squared units
 * and a decomposed é: NFKC beyond the fold table; Arabic tashkeel and
 * tatweel; case), with Han and Thai runs that need ICU's dictionary word
 * breaking; the second shares nothing with them. */
static const char *const intl_texts[] = {
    "\xEF\xBC\xB4\xEF\xBC\xA8\xEF\xBC\xA5 \xEF\xAC\x81nal \xEF\xAC\x82oor plan \xE2\x91\xA0 \xE3\x8E\x8F cafe\xCC\x81 "
    "\xC7\x84"
    "emal "
    "مَرْحَبًا بِكُمْ فِي الْمَدِينَـــةِ 我们今天去北京的图书馆看书 ภาษาไทยง่ายนิดเดียว",
    "Совсем другой текст о реках и горах, 完全不同的句子关于河流和山脉",
    "the final floor plan 1 kg caf\xC3\xA9 \xC7\x86"
    "emal مرحبا بكم في المدينة 我们今天去北京的图书馆看书 ภาษาไทยง่ายนิดเดียว",
};

typedef struct intl_case {
    nd_shingle_kind kind;
    unsigned size;
    nd_profile profile;
    int words; /* nd_sketcher_set_words */
    unsigned threads;
} intl_case;

/* The three texts through a sketcher, an index and clustering; *found is
 * the number of clusters (one: the first and third texts). */
static int run_intl(const intl_case *c, size_t *found)
{
    nd_options opts = ND_OPTIONS_INIT;
    opts.shingle_kind = c->kind;
    opts.profile = c->profile;
    if (c->kind == ND_SHINGLE_WORDS)
        opts.shingle_size = c->size;
    else if (c->kind == ND_SHINGLE_CHARS)
        opts.char_size = c->size;
    nd_sketcher *sk = NULL;
    nd_index *index = NULL;
    nd_clusters *clusters = NULL;
    nd_sketch sketch = ND_SKETCH_INIT;
    int rc = nd_sketcher_new(&sk, &opts);
    if (rc == ND_OK) {
        nd_sketcher_set_words(sk, c->words);
        rc = nd_index_new(&index, &opts);
    }
    for (size_t i = 0; rc == ND_OK && i < 3; i++) {
        rc = nd_sketch_text(&sketch, sk, intl_texts[i], strlen(intl_texts[i]));
        if (rc == ND_OK)
            rc = nd_index_add(index, &sketch, 1);
        nd_sketch_clear(&sketch);
    }
    if (rc == ND_OK) {
        nd_index_set_threads(index, c->threads);
        rc = nd_index_cluster(&clusters, NULL, index, ND_KEEP_FIRST);
    }
    if (rc == ND_OK) {
        *found = nd_clusters_count(clusters);
        const nd_member *members;
        ck_assert_uint_eq(nd_clusters_get(&members, clusters, 0), 2);
        ck_assert_uint_eq(members[0].doc, 0);
        ck_assert_uint_eq(members[1].doc, 2);
    }
    nd_clusters_free(clusters);
    nd_index_free(index);
    nd_sketcher_free(sk);
    return rc;
}

static int run_intl_words(size_t *found)
{
    const intl_case c = {ND_SHINGLE_WORDS, 2, ND_PROFILE_DEFAULT, 1, 1};
    return run_intl(&c, found);
}

static int run_intl_chars(size_t *found)
{
    const intl_case c = {ND_SHINGLE_CHARS, 3, ND_PROFILE_DEFAULT, 0, 1};
    return run_intl(&c, found);
}

/* auto shingles, the aggressive profile, and clustering on two threads */
static int run_intl_auto_threads(size_t *found)
{
    const intl_case c = {ND_SHINGLE_AUTO, 0, ND_PROFILE_AGGRESSIVE, 1, 2};
    return run_intl(&c, found);
}

/* Paragraphs: a headline pasted twice, a paragraph and its copy, an Arabic
 * paragraph; lines would split them the same way. */
static const char units_text[] = "Breaking news from the city council tonight. Breaking news from the city council "
                                 "tonight.\n\n"
                                 "The library will open again next month after repairs to the roof.\n\n"
                                 "The library will open again next month after repairs to the roof.\n\n"
                                 "قال المجلس إن المكتبة ستفتح أبوابها الشهر المقبل بعد إصلاح السقف.\n";

typedef struct units_ctx {
    nd_index *index;
    unsigned bands, rows;
    nd_span spans[8];
    size_t count;
} units_ctx;

static int add_unit(void *ctx, nd_span span, const nd_sketch_ref *sketch)
{
    units_ctx *u = ctx;
    uint64_t keys[256];
    ck_assert_uint_le(u->bands, 256);
    nd_lsh_band_keys(keys, sketch->signature, u->bands, u->rows);
    if (u->count < 8)
        u->spans[u->count] = span;
    u->count++;
    return nd_index_add_ids(u->index, sketch->ids, sketch->count, keys, span.end - span.start);
}

/* nd_sketch_units into an index, clustered (*found: the groups, two: the
 * headline's copies and the repeated paragraph), then nd_find_repeats on
 * the headline and nd_remove_spans of the later copies. */
static int run_units(size_t *found)
{
    nd_options opts = ND_OPTIONS_INIT;
    nd_sketcher *sk = NULL;
    nd_normalizer *norm = NULL;
    nd_tokens tokens = ND_TOKENS_INIT;
    nd_clusters *clusters = NULL;
    units_ctx u = {0};
    size_t len = strlen(units_text), invalid = 0;
    int rc = nd_options_resolve(&opts);
    if (rc == ND_OK)
        rc = nd_sketcher_new(&sk, &opts);
    if (rc == ND_OK)
        rc = nd_index_new(&u.index, &opts);
    u.bands = opts.bands;
    u.rows = opts.rows;
    if (rc == ND_OK)
        rc = nd_sketch_units(&invalid, sk, units_text, len, ND_UNIT_PARAGRAPH, 1, add_unit, &u);
    if (rc == ND_OK) {
        ck_assert_uint_eq(u.count, 5); /* the headline as its two copies, then three paragraphs */
        rc = nd_index_cluster(&clusters, NULL, u.index, ND_KEEP_FIRST);
    }
    if (rc == ND_OK)
        *found = nd_clusters_count(clusters);
    if (rc == ND_OK)
        rc = nd_normalizer_new(&norm, opts.profile);
    nd_span headline = {0, (size_t)(strstr(units_text, "\n\n") - units_text)};
    if (rc == ND_OK)
        rc = nd_tokenize(&tokens, norm, units_text, headline.end);
    if (rc == ND_OK) {
        nd_span copies[4];
        int m = nd_find_repeats(copies, 4, &tokens, units_text, headline);
        if (m < 0) {
            rc = m;
        } else {
            ck_assert_int_eq(m, 2);
            ck_assert_uint_eq(copies[0].start, u.spans[0].start);
            ck_assert_uint_eq(copies[1].end, u.spans[1].end);
        }
    }
    if (rc == ND_OK) {
        /* remove the headline's second copy and the repeated paragraph */
        nd_span drop[2] = {u.spans[1], u.spans[3]};
        char *out = malloc(len);
        ck_assert_ptr_nonnull(out);
        size_t n = nd_remove_spans(out, units_text, len, drop, 2);
        ck_assert_uint_lt(n, len);
        ck_assert_int_eq(memcmp(out, units_text, u.spans[0].end), 0);
        char *text = malloc(n + 1);
        ck_assert_ptr_nonnull(text);
        memcpy(text, out, n);
        text[n] = '\0';
        const char *first = strstr(text, "The library"), *arabic = strstr(text, "قال");
        ck_assert_ptr_nonnull(first);
        ck_assert_ptr_null(strstr(first + 1, "The library"));
        ck_assert_ptr_nonnull(arabic);
        free(text);
        free(out);
    }
    nd_tokens_free(&tokens);
    nd_normalizer_free(norm);
    nd_clusters_free(clusters);
    nd_index_free(u.index);
    nd_sketcher_free(sk);
    return rc;
}

static const char *spill_dir(void)
{
    const char *dir = getenv("TMPDIR");
    return dir && *dir ? dir : "/tmp";
}

/* An index that spills as soon as it holds anything (a memory limit of one
 * byte, as the program's --memory works): the three non-ASCII texts, the
 * later two added to the spilled index, then clusters and pairs read back
 * from its files. *found: clusters + pairs (one each). */
static int run_spilled(size_t *found)
{
    nd_options opts = ND_OPTIONS_INIT;
    nd_sketcher *sk = NULL;
    nd_index *index = NULL;
    nd_clusters *clusters = NULL;
    nd_pairs *pairs = NULL;
    nd_sketch sketch = ND_SKETCH_INIT;
    int rc = nd_sketcher_new(&sk, &opts);
    if (rc == ND_OK)
        rc = nd_index_new(&index, &opts);
    for (size_t i = 0; rc == ND_OK && i < 3; i++) {
        rc = nd_sketch_text(&sketch, sk, intl_texts[i], strlen(intl_texts[i]));
        if (rc == ND_OK)
            rc = nd_index_add(index, &sketch, 1);
        nd_sketch_clear(&sketch);
        if (rc == ND_OK && nd_index_memory(index) > 1)
            rc = nd_index_spill(index, spill_dir());
    }
    if (rc == ND_OK)
        rc = nd_index_cluster(&clusters, NULL, index, ND_KEEP_LONGEST);
    if (rc == ND_OK)
        rc = nd_index_pairs(&pairs, NULL, index);
    const nd_pair *p;
    size_t count;
    if (rc == ND_OK)
        rc = pairs_array(&p, &count, pairs);
    if (rc == ND_OK) {
        ck_assert_uint_eq(count, 1);
        ck_assert_uint_eq(p[0].a, 0);
        ck_assert_uint_eq(p[0].b, 2);
        *found = nd_clusters_count(clusters) + 1;
    }
    nd_pairs_free(pairs);
    nd_clusters_free(clusters);
    nd_index_free(index);
    nd_sketcher_free(sk);
    return rc;
}

/* Past one chunk of band keys (ND_KEY_CHUNK texts), so that clustering
 * reads keys back from the spill file, on two threads: synthetic texts of
 * two shingles each with 4 bands of 1 row, all distinct but the first and
 * the last. *found: the clusters (one). */
enum { MANY_TEXTS = (1 << 16) + 2 };

static int run_spilled_many_threads(size_t *found)
{
    nd_options opts = ND_OPTIONS_INIT;
    opts.num_perm = 4;
    opts.bands = 4;
    opts.rows = 1;
    nd_index *index = NULL;
    nd_clusters *clusters = NULL;
    int rc = nd_index_new(&index, &opts);
    if (rc == ND_OK)
        rc = nd_index_spill(index, spill_dir());
    for (uint32_t i = 0; rc == ND_OK && i < MANY_TEXTS; i++) {
        uint32_t t = i == MANY_TEXTS - 1 ? 0 : i; /* the last repeats the first */
        uint32_t ids[2] = {2 * t, 2 * t + 1};
        uint64_t keys[4] = {t, (uint64_t)t << 20, (uint64_t)t << 40, ~(uint64_t)t};
        rc = nd_index_add_ids(index, ids, 2, keys, 1);
    }
    if (rc == ND_OK) {
        nd_index_set_threads(index, 2);
        rc = nd_index_cluster(&clusters, NULL, index, ND_KEEP_FIRST);
    }
    if (rc == ND_OK) {
        *found = nd_clusters_count(clusters);
        const nd_member *members;
        ck_assert_uint_eq(nd_clusters_get(&members, clusters, 0), 2);
        ck_assert_uint_eq(members[1].doc, MANY_TEXTS - 1);
    }
    nd_clusters_free(clusters);
    nd_index_free(index);
    return rc;
}

typedef struct oom_case {
    int (*run)(size_t *found);
    size_t expected;
} oom_case;

static const oom_case pipelines[] = {
    {run_batch_pipeline, 1},    {run_stream, 1}, {run_explain, 1}, {run_intl_words, 1},           {run_intl_chars, 1},
    {run_intl_auto_threads, 1}, {run_units, 2},  {run_spilled, 2}, {run_spilled_many_threads, 1},
};

/* The other paths: each finds what it looks for once it can allocate. */
START_TEST(test_fail_every_allocation_elsewhere)
{
    /* the shared fold tables are built once per process: build them first */
    for (int profile = 0; profile < 2; profile++) {
        nd_normalizer *warm = NULL;
        ck_assert_int_eq(nd_normalizer_new(&warm, (nd_profile)profile), ND_OK);
        nd_normalizer_free(warm);
    }
    size_t n;
    int succeeded = 0;
    for (n = 0; n < 10000 && !succeeded; n++) {
        nd_alloc_fail_after(n);
        size_t found = 0;
        int rc = pipelines[_i].run(&found);
        nd_alloc_fail_after((size_t)-1);
        ck_assert_msg(rc == ND_OK || rc == ND_ENOMEM, "case %d, fail after %zu: status %d", _i, n, rc);
        if (rc == ND_OK) {
            ck_assert_uint_eq(found, pipelines[_i].expected);
            succeeded = 1;
        }
    }
    ck_assert_msg(succeeded, "the pipeline never succeeded");
    ck_assert_uint_gt(n, 10); /* the loop really did fail allocations on the way */
}
END_TEST

/* nd_malloc_huge and nd_grow_huge (alloc.h): large blocks aligned to
 * 2 MiB on Linux (where they are advised as huge pages), every byte
 * usable, contents kept as an array grows through the 2 MiB mark and past
 * it, nd_realloc moving a huge block, and the fail-after hook honoured
 * with the array left as it was; nd_malloc and nd_calloc of 2 MiB or
 * more giving such blocks. */
START_TEST(test_huge_allocations)
{
    const size_t huge = (size_t)2 << 20;
    unsigned char *block = nd_malloc_huge(3 * huge + 5);
    ck_assert_ptr_nonnull(block);
#ifdef __linux__
    ck_assert_uint_eq((uintptr_t)block % huge, 0);
#endif
    memset(block, 7, 3 * huge + 5); /* ASan: every byte asked for is there */
    ck_assert_uint_eq(block[3 * huge + 4], 7);
    nd_free(block);
    unsigned char *small = nd_malloc_huge(100); /* plain nd_malloc */
    ck_assert_ptr_nonnull(small);
    nd_free(small);
    /* from 512 KiB, a whole huge page; nd_calloc_huge's zeroed, as
     * calloc's, mapped or not (a small one is calloc'd) */
    const size_t quarter = huge / 4 + 3;
    unsigned char *middle = nd_calloc_huge(quarter);
    ck_assert_ptr_nonnull(middle);
#ifdef __linux__
    ck_assert_uint_eq((uintptr_t)middle % huge, 0);
#endif
    for (size_t i = 0; i < quarter; i++)
        ck_assert_uint_eq(middle[i], 0);
    nd_free(middle);
    for (size_t size = 1; size <= 4096; size *= 8) {
        unsigned char *zeroed = nd_calloc_huge(size);
        ck_assert_ptr_nonnull(zeroed);
        for (size_t i = 0; i < size; i++)
            ck_assert_uint_eq(zeroed[i], 0);
        nd_free(zeroed);
    }

    uint32_t *values = NULL;
    size_t capacity = 0, count = 0;
    const size_t n = (size_t)3 << 20; /* 12 MiB of uint32: four growths past 2 MiB */
    for (; count < n; count++) {
        ck_assert_int_eq(nd_grow_huge((void **)&values, &capacity, count + 1, sizeof *values), 0);
        values[count] = (uint32_t)(count * 2654435761u);
    }
    ck_assert_uint_ge(capacity, n);
#ifdef __linux__
    ck_assert_uint_eq((uintptr_t)values % huge, 0);
#endif
    for (size_t i = 0; i < n; i++)
        ck_assert_uint_eq(values[i], (uint32_t)(i * 2654435761u));
    /* a growth that cannot allocate fails and leaves the array alone */
    uint32_t *before = values;
    size_t capacity_before = capacity;
    nd_alloc_fail_after(0);
    int rc = nd_grow_huge((void **)&values, &capacity, capacity + 1, sizeof *values);
    void *refused = nd_malloc_huge(3 * huge);
    nd_alloc_fail_after((size_t)-1);
    ck_assert_int_eq(rc, -1);
    ck_assert_ptr_null(refused);
    ck_assert_ptr_eq(values, before);
    ck_assert_uint_eq(capacity, capacity_before);
    ck_assert_uint_eq(values[n - 1], (uint32_t)((n - 1) * 2654435761u));
    /* nd_realloc takes a huge block too: to a smaller plain block, then a
     * larger huge one, the contents kept */
    values = nd_realloc(values, 1000 * sizeof *values);
    ck_assert_ptr_nonnull(values);
    values = nd_realloc(values, n * sizeof *values);
    ck_assert_ptr_nonnull(values);
    for (size_t i = 0; i < 1000; i++)
        ck_assert_uint_eq(values[i], (uint32_t)(i * 2654435761u));
    values[n - 1] = 1;
    nd_free(values);

    /* nd_malloc and nd_calloc of 2 MiB or more: huge blocks too, which
     * nd_realloc and nd_free take as any other; nd_calloc's zeroed; the
     * fail-after hook honoured */
    unsigned char *large = nd_malloc(huge + 3);
    ck_assert_ptr_nonnull(large);
#ifdef __linux__
    ck_assert_uint_eq((uintptr_t)large % huge, 0);
#endif
    memset(large, 5, huge + 3);
    large = nd_realloc(large, 3 * huge);
    ck_assert_ptr_nonnull(large);
    ck_assert_uint_eq(large[huge + 2], 5);
    nd_free(large);
    uint64_t *zeroed = nd_calloc(huge / 8 + 1, sizeof *zeroed);
    ck_assert_ptr_nonnull(zeroed);
#ifdef __linux__
    ck_assert_uint_eq((uintptr_t)zeroed % huge, 0);
#endif
    for (size_t i = 0; i < huge / 8 + 1; i++)
        ck_assert_uint_eq(zeroed[i], 0);
    nd_free(zeroed);
    nd_alloc_fail_after(0);
    void *refused_large = nd_malloc(huge), *refused_zeroed = nd_calloc(huge, 1);
    nd_alloc_fail_after((size_t)-1);
    ck_assert_ptr_null(refused_large);
    ck_assert_ptr_null(refused_zeroed);
}
END_TEST

Suite *oom_suite(void)
{
    Suite *s = suite_create("oom");
    TCase *tc = tcase_create("fail_nth");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_fail_every_allocation);
    tcase_add_test(tc, test_huge_allocations);
    tcase_add_loop_test(tc, test_fail_every_allocation_elsewhere, 0, sizeof pipelines / sizeof pipelines[0]);
    suite_add_tcase(s, tc);
    return s;
}
