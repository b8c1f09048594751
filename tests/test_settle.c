/* test_settle.c - settling raw texts before clustering (index_settle.c).
 *
 * Raw texts that may have a copy are settled (sorted distinct, counted,
 * hashed) before clustering; a text whose raw ids are those of the first
 * text with its key (raw count and first band keys) takes that text's
 * settled ids instead of sorting its own. The key only finds candidates:
 * texts with the key but other ids (a collision, or the same set written
 * in another order) must each be settled from their own ids. */
#include "neardup.h"

#include <stdlib.h> /* malloc, free, qsort */
#include <string.h> /* memcmp, memset */

#include "alloc.h"
#include "candidates.h"
#include "index_add.h"
#include "store.h"
#include "suites.h"
#include "synth.h"

enum { SETTLE_TEXTS = 7, SETTLE_IDS = 6 };

/* Every text has the same band keys and raw count: one key for all. */
static const uint32_t settle_raw[SETTLE_TEXTS][SETTLE_IDS] = {
    {50, 10, 30, 10, 90, 70}, /* 0: the first with the key: {10 30 50 70 90} */
    {50, 10, 30, 10, 90, 70}, /* 1: a copy of 0 */
    {72, 22, 82, 22, 62, 12}, /* 2: the key, other ids: {12 22 62 72 82} */
    {90, 30, 10, 50, 10, 70}, /* 3: the set of 0 in another order */
    {72, 22, 82, 22, 62, 12}, /* 4: a copy of 2 */
    {50, 10, 30, 10, 90, 70}, /* 5: a copy of 0 */
    {11, 33, 55, 77, 99, 11}, /* 6: a set of its own */
};

/* The groups expected: texts 0 1 3 5 (one set), texts 2 4. */
static void check_groups(const nd_clusters *c)
{
    static const size_t first[] = {0, 1, 3, 5}, second[] = {2, 4};
    ck_assert_uint_eq(nd_clusters_count(c), 2);
    const nd_member *m;
    ck_assert_uint_eq(nd_clusters_get(&m, c, 0), 4);
    for (size_t k = 0; k < 4; k++) {
        ck_assert_uint_eq(m[k].doc, first[k]);
        ck_assert(m[k].jaccard == 1.0);
    }
    ck_assert_uint_eq(nd_clusters_get(&m, c, 1), 2);
    for (size_t k = 0; k < 2; k++) {
        ck_assert_uint_eq(m[k].doc, second[k]);
        ck_assert(m[k].jaccard == 1.0);
    }
}

/* The raw texts of settle_raw, every one with the same band keys (keys,
 * room for ND_MAX_PERM), as the settle tests add them. */
static void settle_texts(nd_prepared_text *texts, uint32_t *keys, const nd_options *opts)
{
    for (unsigned b = 0; b < opts->bands; b++)
        keys[b] = 0x5e771e00u + b;
    for (size_t d = 0; d < SETTLE_TEXTS; d++)
        texts[d] = (nd_prepared_text){settle_raw[d], SETTLE_IDS, 0, keys, 10};
}

START_TEST(test_settle_copies_by_key)
{
    unsigned threads = (unsigned)_i + 1;
    nd_options opts = ND_OPTIONS_INIT;
    ck_assert_int_eq(nd_options_resolve(&opts), ND_OK);
    uint32_t keys[ND_MAX_PERM];
    nd_prepared_text texts[SETTLE_TEXTS];
    settle_texts(texts, keys, &opts);
    nd_index *index = NULL;
    ck_assert_int_eq(nd_index_new(&index, &opts), ND_OK);
    ck_assert_int_eq(nd_index_add_prepared_raw(index, texts, SETTLE_TEXTS), ND_OK);
    nd_index_set_threads(index, threads);
    nd_clusters *c = NULL;
    nd_cluster_stats stats;
    ck_assert_int_eq(nd_index_cluster(&c, &stats, index, ND_KEEP_FIRST), ND_OK);
    check_groups(c);
    ck_assert_uint_eq(stats.exact_groups, 2);
    ck_assert_uint_eq(stats.verified_pairs, 0); /* the two sets are far apart */
    nd_clusters_free(c);
    nd_index_free(index);
}
END_TEST

/* Many raw texts with copies (a lead's copies in every part of the
 * corpus), and texts with a lead's key but other ids: clustered on 1, 2
 * and 3 threads, the same groups and counts, each copy with its lead and
 * no look-alike in a group. */
enum { MANY_TEXTS = 30000, MANY_SETS = 3000, MANY_IDS = 7 };

static nd_clusters *cluster_many(unsigned threads, nd_cluster_stats *stats)
{
    nd_options opts = ND_OPTIONS_INIT;
    ck_assert_int_eq(nd_options_resolve(&opts), ND_OK);
    static uint32_t ids[MANY_TEXTS][MANY_IDS];
    uint32_t *keys = malloc((size_t)MANY_TEXTS * opts.bands * sizeof *keys);
    nd_prepared_text *texts = malloc(MANY_TEXTS * sizeof *texts);
    ck_assert(keys && texts);
    for (size_t d = 0; d < MANY_TEXTS; d++) {
        size_t set = d % MANY_SETS;
        int other = d % 11 == 5;              /* the key of `set`, other ids */
        for (size_t k = 0; k < MANY_IDS; k++) /* raw: out of order, one repeat */
            ids[d][k] = (uint32_t)((other ? 500000 + d * 8 : set * 8) + (k * 5 + 3) % 6);
        for (unsigned b = 0; b < opts.bands; b++)
            keys[d * opts.bands + b] = (uint32_t)(set * 2654435761u) ^ (b * 40503u);
        texts[d] = (nd_prepared_text){ids[d], MANY_IDS, 0, keys + d * opts.bands, 7};
    }
    nd_index *index = NULL;
    ck_assert_int_eq(nd_index_new(&index, &opts), ND_OK);
    ck_assert_int_eq(nd_index_add_prepared_raw(index, texts, MANY_TEXTS), ND_OK);
    nd_index_set_threads(index, threads);
    nd_clusters *c = NULL;
    ck_assert_int_eq(nd_index_cluster(&c, stats, index, ND_KEEP_FIRST), ND_OK);
    nd_index_free(index);
    free(keys);
    free(texts);
    return c;
}

START_TEST(test_settle_many_copies)
{
    nd_cluster_stats one, many;
    nd_clusters *a = cluster_many(1, &one), *b = cluster_many((unsigned)_i + 2, &many);
    ck_assert_uint_eq(nd_clusters_count(a), MANY_SETS);
    ck_assert_uint_eq(nd_clusters_count(b), MANY_SETS);
    for (size_t g = 0; g < MANY_SETS; g++) {
        const nd_member *ma, *mb;
        size_t n = nd_clusters_get(&ma, a, g);
        ck_assert_uint_eq(nd_clusters_get(&mb, b, g), n);
        for (size_t k = 0; k < n; k++) {
            ck_assert_uint_eq(ma[k].doc, mb[k].doc);
            ck_assert_uint_eq(ma[k].doc % MANY_SETS, ma[0].doc % MANY_SETS); /* copies of one set */
            ck_assert_uint_ne(ma[k].doc % 11, 5);                            /* none of the others */
            ck_assert(ma[k].jaccard == 1.0 && mb[k].jaccard == 1.0);
        }
    }
    ck_assert_uint_eq(one.exact_groups, MANY_SETS);
    ck_assert_uint_eq(many.exact_groups, MANY_SETS);
    ck_assert_uint_eq(one.candidate_pairs, many.candidate_pairs);
    ck_assert_uint_gt(one.candidate_pairs, 0); /* the others were candidates, and rejected */
    ck_assert_uint_eq(many.verified_pairs, 0);
    nd_clusters_free(a);
    nd_clusters_free(b);
}
END_TEST

/* ****  Known copies (store.h copies): joined without their ids  **** */

/* Identical sets told which texts are copies of which (a copy's ids, count
 * and set hash are its lead's) against the same store told nothing: the
 * same representatives, exact groups and same() calls (in any order: each
 * set is joined to its first text whatever the order), and the same bands
 * visited, without reading a copy's ids. Leads of every kind: a set of
 * its own (alone until its copies come), a set held by others too, a set
 * whose 64-bit hash collides with an earlier, different set's (its
 * copies, compared with that set's first text, are representatives of
 * their own), a set held by an earlier text that is no copy (its copies
 * join that text), an empty set; some texts unsettled. Variants: 0
 * nd_identical_sets; 1, 2: nd_sets_then_bands on 1 and 2 threads (its
 * lone-hash filter); 3: 2 threads, with unsettled texts. */
enum { KC_TEXTS = ND_KEY_CHUNK + 3000, KC_POOL = 400, KC_IDS = 4 };

typedef struct {
    const uint32_t *const *ids;
    const uint32_t *keys;      /* band-major: keys[band * KC_TEXTS + text] */
    const unsigned char *copy; /* per text: 1 for a copy */
    size_t copy_reads;         /* ids() of a copy */
} kc_backend;

static const uint32_t *kc_ids(const void *backend, size_t doc, nd_id_buffer *buf, int *rc)
{
    (void)buf;
    (void)rc;
    kc_backend *b = (kc_backend *)(uintptr_t)backend;
    b->copy_reads += b->copy[doc];
    return b->ids[doc];
}

static const uint32_t *kc_keys(const void *backend, unsigned band, size_t chunk, uint32_t *buf)
{
    (void)buf;
    return ((const kc_backend *)backend)->keys + (size_t)band * KC_TEXTS + chunk * ND_KEY_CHUNK;
}

/* same() calls, as first << 32 | other, and the bands' entries folded. */
typedef struct {
    uint64_t *calls;
    size_t count;
    uint64_t bands;
    size_t band_items;
} kc_seen;

static void kc_same(void *ctx, size_t first, size_t other)
{
    kc_seen *seen = ctx;
    ck_assert_uint_lt(seen->count, KC_TEXTS);
    seen->calls[seen->count++] = (uint64_t)first << 32 | other;
}

static int kc_band(void *ctx, const uint64_t *entries, size_t count)
{
    kc_seen *seen = ctx;
    for (size_t i = 0; i < count; i++)
        seen->bands = (seen->bands ^ entries[i]) * 0x100000001b3ULL + count;
    seen->band_items += count;
    return ND_OK;
}

static int kc_compare(const void *pa, const void *pb)
{
    uint64_t a = *(const uint64_t *)pa, b = *(const uint64_t *)pb;
    return (a > b) - (a < b);
}

/* Identical sets (and the bands after them, unless variant 0) of `store`. */
static void kc_run(const nd_store *store, int variant, unsigned char *is_rep, uint64_t *groups, kc_seen *seen)
{
    memset(is_rep, 0, KC_TEXTS);
    *groups = 0;
    seen->count = 0;
    seen->bands = 0;
    seen->band_items = 0;
    if (variant == 0)
        ck_assert_int_eq(nd_identical_sets(is_rep, groups, store, kc_same, seen), ND_OK);
    else
        ck_assert_int_eq(nd_sets_then_bands(is_rep, groups, store, variant == 1 ? 1 : 2, kc_same, seen, kc_band, seen),
                         ND_OK);
    qsort(seen->calls, seen->count, sizeof *seen->calls, kc_compare);
}

START_TEST(test_known_copies_join_as_compared)
{
    int variant = _i;
    uint64_t state = 0xc0b1e5 + (uint64_t)_i;
    static uint32_t pool[KC_POOL][KC_IDS], own[KC_TEXTS][KC_IDS];
    uint64_t pool_hash[KC_POOL];
    for (size_t f = 0; f < KC_POOL; f++) {
        for (size_t k = 0; k < KC_IDS; k++)
            pool[f][k] = (uint32_t)(f * 10 + k);
        /* 120 upper halves, lower halves 0..3: some sets collide whole */
        pool_hash[f] = (synth_next(&state) % 120 + 1) << 32 | synth_next(&state) % 4;
    }
    static const uint32_t *ids[KC_TEXTS];
    static nd_text_meta meta[KC_TEXTS];
    static unsigned char unsettled[KC_TEXTS], copy[KC_TEXTS];
    static uint64_t copies[KC_TEXTS];
    size_t copy_count = 0, alone_leads = 0;
    for (size_t d = 0; d < KC_TEXTS; d++) {
        uint64_t roll = synth_next(&state) % 100;
        unsettled[d] = copy[d] = 0;
        size_t lead = d > 0 ? (size_t)(synth_next(&state) % d) : 0;
        if (roll < 30 && d > 0 && !copy[lead] && !unsettled[lead] && meta[lead].count > 0) {
            ids[d] = ids[lead]; /* a copy: the same ids, count and hash */
            meta[d] = meta[lead];
            copy[d] = 1;
            copies[copy_count++] = (uint64_t)d << 32 | lead;
            alone_leads += meta[lead].set_hash >> 63; /* a set of its own */
        } else if (roll < 65) {
            for (size_t k = 0; k < KC_IDS; k++)
                own[d][k] = (uint32_t)(1000000 + d * KC_IDS + k);
            ids[d] = own[d];
            meta[d] = (nd_text_meta){.count = KC_IDS, .weight = KC_IDS, .set_hash = synth_next(&state) | 1ULL << 63};
        } else {
            size_t f = (size_t)(synth_next(&state) % KC_POOL);
            ids[d] = pool[f];
            meta[d] = (nd_text_meta){.count = roll < 68 ? 0 : KC_IDS, .weight = KC_IDS, .set_hash = pool_hash[f]};
            unsettled[d] = variant == 3 && roll >= 68 && roll < 71;
        }
    }
    nd_options opts = ND_OPTIONS_INIT;
    ck_assert_int_eq(nd_options_resolve(&opts), ND_OK);
    uint32_t *keys = malloc((size_t)opts.bands * KC_TEXTS * sizeof *keys);
    uint64_t *expect_calls = malloc(KC_TEXTS * sizeof *expect_calls);
    uint64_t *got_calls = malloc(KC_TEXTS * sizeof *got_calls);
    ck_assert(keys && expect_calls && got_calls);
    for (size_t k = 0; k < (size_t)opts.bands * KC_TEXTS; k++)
        keys[k] = (uint32_t)(synth_next(&state) % (4 * KC_TEXTS));
    for (size_t c = 0; c < copy_count; c++) { /* a copy's keys are its lead's */
        size_t d = copies[c] >> 32, lead = (uint32_t)copies[c];
        for (unsigned b = 0; b < opts.bands; b++)
            keys[(size_t)b * KC_TEXTS + d] = keys[(size_t)b * KC_TEXTS + lead];
    }
    kc_backend backend = {ids, keys, copy, 0};
    nd_store told = {&opts,  KC_TEXTS, meta, 0,      &backend,
                     kc_ids, kc_keys,  NULL, 0,      variant == 3 ? unsettled : NULL,
                     NULL,   0,        NULL, copies, copy_count};
    nd_store untold = told;
    untold.copies = NULL;
    untold.copy_count = 0;

    static unsigned char expect_rep[KC_TEXTS], got_rep[KC_TEXTS];
    uint64_t expect_groups, got_groups;
    kc_seen expect = {expect_calls, 0, 0, 0}, got = {got_calls, 0, 0, 0};
    kc_run(&untold, variant, expect_rep, &expect_groups, &expect);
    size_t reads = backend.copy_reads;
    backend.copy_reads = 0;
    kc_run(&told, variant, got_rep, &got_groups, &got);
    ck_assert_uint_eq(backend.copy_reads, 0); /* no copy's ids read */
    ck_assert_uint_gt(reads, copy_count / 2); /* (told nothing, they are) */
    ck_assert_mem_eq(got_rep, expect_rep, KC_TEXTS);
    ck_assert_uint_eq(got_groups, expect_groups);
    ck_assert_uint_eq(got.count, expect.count);
    ck_assert_mem_eq(got.calls, expect.calls, got.count * sizeof *got.calls);
    ck_assert_uint_eq(got.band_items, expect.band_items);
    ck_assert_uint_eq(got.bands, expect.bands);

    /* the case is one where it matters: copies of each kind of lead */
    size_t collided = 0, joined = 0;
    for (size_t c = 0; c < copy_count; c++) {
        size_t d = copies[c] >> 32, lead = (uint32_t)copies[c];
        collided += expect_rep[d];   /* a copy is a representative only as its collided lead */
        joined += !expect_rep[lead]; /* its lead joined an earlier text */
    }
    ck_assert_uint_gt(copy_count, KC_TEXTS / 5);
    ck_assert_uint_gt(alone_leads, 1000);
    ck_assert_uint_gt(collided, 100);
    ck_assert_uint_gt(joined, 100);
    if (variant > 0)
        ck_assert_uint_gt(expect.band_items, (size_t)opts.bands);
    free(keys);
    free(expect_calls);
    free(got_calls);
}
END_TEST

/* Raw texts with copies clustered and listed as pairs, against the same
 * texts added sorted (nd_index_add_prepared: no raw text, no copy known):
 * the same clusters, pairs and counts. Texts are sets of a pool, each
 * written in one of three orders (raw: a repeat kept), so a set's texts
 * are copies of one another (same order), or the same set in another
 * order (which may come before a lead: its copies join that text), or a
 * near copy (one id replaced, half the keys shared: verified). Orders repeat
 * 0, 1 or 2 ids (another raw count: settle_copies sees another key), so a
 * set's first text in one order comes before the lead of another. Variants:
 * threads 1..3; clustered or listed; once, twice (texts added between:
 * copies noted by both), or spilled between (the copies noted before, the
 * ids read back). */
enum { SC_TEXTS = 12000, SC_SETS = 900, SC_IDS = 12, SC_ORDERS = 3 };

typedef struct {
    uint32_t raw[SC_TEXTS][SC_IDS + SC_ORDERS]; /* raw ids: SC_IDS and as many repeats as the order's number */
    uint32_t sorted[SC_TEXTS][SC_IDS];
    uint32_t *keys; /* bands per text */
    nd_prepared_text raw_texts[SC_TEXTS], sorted_texts[SC_TEXTS];
} sc_corpus;

static void sc_make(sc_corpus *c, unsigned bands)
{
    uint64_t state = 0x5c0;
    static const size_t orders[SC_ORDERS] = {1, 5, 7}; /* prime to SC_IDS */
    static uint32_t pool[SC_SETS][SC_IDS];
    for (size_t f = 0; f < SC_SETS; f++) {
        for (size_t k = 0; k < SC_IDS; k++)
            pool[f][k] = (uint32_t)(f * 64 + k * 3 + 1); /* distinct, sorted */
    }
    c->keys = malloc((size_t)SC_TEXTS * bands * sizeof *c->keys);
    ck_assert_ptr_nonnull(c->keys);
    for (size_t d = 0; d < SC_TEXTS; d++) {
        size_t f = (size_t)(synth_next(&state) % SC_SETS), order = (size_t)(synth_next(&state) % SC_ORDERS);
        int near = synth_next(&state) % 10 == 0;
        uint32_t set[SC_IDS];
        memcpy(set, pool[f], sizeof set);
        if (near)
            set[SC_IDS - 1] = (uint32_t)(f * 64 + 40 + d % 7); /* still sorted */
        for (size_t k = 0; k < SC_IDS; k++)
            c->raw[d][k] = set[(k * orders[order] + order) % SC_IDS]; /* each a permutation */
        for (size_t r = 0; r < order; r++)
            c->raw[d][SC_IDS + r] = set[r];
        memcpy(c->sorted[d], set, sizeof set);
        uint32_t *keys = c->keys + d * bands;
        for (unsigned b = 0; b < bands; b++)
            keys[b] =
                near && b >= bands / 2 ? (uint32_t)synth_next(&state) : (uint32_t)(f * 2654435761u) ^ (b * 40503u);
        c->raw_texts[d] = (nd_prepared_text){c->raw[d], SC_IDS + order, 0, keys, SC_IDS};
        c->sorted_texts[d] =
            (nd_prepared_text){c->sorted[d], SC_IDS, nd_index_set_hash(c->sorted[d], SC_IDS), keys, SC_IDS};
    }
}

/* What clustering or listing pairs gave, folded. */
typedef struct {
    nd_cluster_stats stats;
    uint64_t digest;
    size_t items;
} sc_result;

static void sc_fold(sc_result *r, uint64_t value)
{
    r->digest = (r->digest ^ value) * 0x100000001b3ULL + 0x9e3779b97f4a7c15ULL;
    r->items++;
}

static sc_result sc_run(const nd_index *index, int pairs)
{
    sc_result r = {{0, 0, 0}, 0, 0};
    if (pairs) {
        nd_pairs *p = NULL;
        ck_assert_int_eq(nd_index_pairs(&p, &r.stats, index), ND_OK);
        const nd_pair *list;
        size_t n = nd_pairs_get(&list, p);
        for (size_t i = 0; i < n; i++) {
            sc_fold(&r, (uint64_t)list[i].a << 32 | list[i].b);
            sc_fold(&r, list[i].shared);
        }
        nd_pairs_free(p);
    } else {
        nd_clusters *c = NULL;
        ck_assert_int_eq(nd_index_cluster(&c, &r.stats, index, ND_KEEP_FIRST), ND_OK);
        for (size_t g = 0; g < nd_clusters_count(c); g++) {
            const nd_member *m;
            size_t n = nd_clusters_get(&m, c, g);
            sc_fold(&r, n);
            for (size_t k = 0; k < n; k++)
                sc_fold(&r, (uint64_t)m[k].doc << 32 | (uint64_t)(m[k].jaccard * 1e6));
        }
        nd_clusters_free(c);
    }
    return r;
}

START_TEST(test_settled_copies_match_sorted)
{
    unsigned threads = (unsigned)_i % 3 + 1;
    int pairs = _i / 3 % 2, how = _i / 6; /* 0 once, 1 twice, 2 spilled between */
    nd_options opts = ND_OPTIONS_INIT;
    ck_assert_int_eq(nd_options_resolve(&opts), ND_OK);
    static sc_corpus corpus;
    sc_make(&corpus, opts.bands);

    nd_index *sorted = NULL, *raw = NULL;
    ck_assert_int_eq(nd_index_new(&sorted, &opts), ND_OK);
    ck_assert_int_eq(nd_index_add_prepared(sorted, corpus.sorted_texts, SC_TEXTS), ND_OK);
    nd_index_set_threads(sorted, threads);
    sc_result expect = sc_run(sorted, pairs);
    nd_index_free(sorted);

    ck_assert_int_eq(nd_index_new(&raw, &opts), ND_OK);
    nd_index_set_threads(raw, threads);
    size_t half = how ? SC_TEXTS / 2 : SC_TEXTS, first_copies = 0;
    ck_assert_int_eq(nd_index_add_prepared_raw(raw, corpus.raw_texts, half), ND_OK);
    if (how) {
        sc_result first = sc_run(raw, pairs);
        ck_assert_uint_gt(first.stats.exact_groups, 0);
        nd_store store;
        ck_assert_int_eq(nd_index_store(raw, &store), ND_OK);
        first_copies = store.copy_count;
        if (how == 2)
            ck_assert_int_eq(nd_index_spill(raw, "/tmp"), ND_OK);
        ck_assert_int_eq(nd_index_add_prepared_raw(raw, corpus.raw_texts + half, SC_TEXTS - half), ND_OK);
    }
    sc_result got = sc_run(raw, pairs);
    nd_store store;
    ck_assert_int_eq(nd_index_store(raw, &store), ND_OK);
    size_t copies = store.copy_count;
    nd_index_free(raw);

    ck_assert_uint_eq(got.stats.exact_groups, expect.stats.exact_groups);
    ck_assert_uint_eq(got.stats.candidate_pairs, expect.stats.candidate_pairs);
    ck_assert_uint_eq(got.stats.verified_pairs, expect.stats.verified_pairs);
    ck_assert_uint_eq(got.items, expect.items);
    ck_assert_uint_eq(got.digest, expect.digest);
    /* the case is one where it matters: sets held by many, near copies */
    ck_assert_uint_gt(expect.stats.exact_groups, SC_SETS);
    ck_assert_uint_gt(copies, SC_TEXTS / 5); /* copies noted (of the first half alone when spilled) */
    if (how == 1)
        ck_assert_uint_gt(copies, first_copies + SC_TEXTS / 10); /* noted by both */
    if (how == 2)
        ck_assert_uint_eq(copies, first_copies); /* spilled: the later texts settled when added */
    ck_assert_uint_gt(expect.stats.verified_pairs, 100);
    free(corpus.keys);
}
END_TEST

/* Cluster `index` on `threads` threads while its n-th allocation fails
 * (alloc.h): ND_OK or ND_ENOMEM, nothing else. */
static int cluster_failing_at(nd_index *index, unsigned threads, size_t n, nd_clusters **c, nd_cluster_stats *stats)
{
    nd_index_set_threads(index, threads);
    nd_alloc_fail_after(n);
    int rc = nd_index_cluster(c, stats, index, ND_KEEP_FIRST);
    nd_alloc_fail_after((size_t)-1);
    ck_assert_msg(rc == ND_OK || rc == ND_ENOMEM, "fail after %zu: status %d", n, rc);
    return rc;
}

/* Clustering raw texts with copies while the N-th allocation fails, for
 * every N (alloc.h): ND_ENOMEM or the right groups, and after a failure
 * the index clusters again to the right groups (settled texts, copies
 * noted or not, stay consistent); nothing leaks (ASan). */
START_TEST(test_settle_copies_out_of_memory)
{
    unsigned threads = (unsigned)_i + 1;
    nd_options opts = ND_OPTIONS_INIT;
    ck_assert_int_eq(nd_options_resolve(&opts), ND_OK);
    uint32_t keys[ND_MAX_PERM];
    nd_prepared_text texts[SETTLE_TEXTS];
    settle_texts(texts, keys, &opts);
    size_t n, failed = 0;
    int succeeded = 0;
    for (n = 0; n < 1000 && !succeeded; n++) {
        nd_index *index = NULL;
        ck_assert_int_eq(nd_index_new(&index, &opts), ND_OK);
        ck_assert_int_eq(nd_index_add_prepared_raw(index, texts, SETTLE_TEXTS), ND_OK);
        nd_clusters *c = NULL;
        nd_cluster_stats stats;
        succeeded = cluster_failing_at(index, threads, n, &c, &stats) == ND_OK;
        failed += !succeeded;
        if (!succeeded) /* usable: clusters again */
            ck_assert_int_eq(nd_index_cluster(&c, &stats, index, ND_KEEP_FIRST), ND_OK);
        check_groups(c);
        ck_assert_uint_eq(stats.exact_groups, 2);
        nd_clusters_free(c);
        nd_index_free(index);
    }
    ck_assert(succeeded);
    ck_assert_uint_gt(failed, 5); /* allocations really failed on the way */
}
END_TEST

/* The raw texts of sc_corpus (enough for settle_copies to compare and
 * sort its leads on several threads) clustered on 2 and 3 threads while
 * the N-th allocation fails, for each N of the first LEADS_FAILS (settling
 * comes first in clustering: its buffers, then each thread's scratch as
 * it grows; the later allocations are test_settle_copies_out_of_memory's):
 * ND_OK or ND_ENOMEM, and after a failure the index clusters again to what
 * the sorted texts give (leads settled or not when a thread stopped,
 * copies noted or not, stay consistent); nothing leaks (ASan). */
enum { LEADS_FAILS = 40 };

START_TEST(test_settle_leads_out_of_memory)
{
    unsigned threads = (unsigned)_i + 2;
    nd_options opts = ND_OPTIONS_INIT;
    ck_assert_int_eq(nd_options_resolve(&opts), ND_OK);
    static sc_corpus corpus;
    sc_make(&corpus, opts.bands);
    nd_index *sorted = NULL;
    ck_assert_int_eq(nd_index_new(&sorted, &opts), ND_OK);
    ck_assert_int_eq(nd_index_add_prepared(sorted, corpus.sorted_texts, SC_TEXTS), ND_OK);
    sc_result expect = sc_run(sorted, 0);
    nd_index_free(sorted);
    size_t failed = 0;
    for (size_t n = 0; n < LEADS_FAILS; n++) {
        nd_index *raw = NULL;
        ck_assert_int_eq(nd_index_new(&raw, &opts), ND_OK);
        ck_assert_int_eq(nd_index_add_prepared_raw(raw, corpus.raw_texts, SC_TEXTS), ND_OK);
        nd_clusters *c = NULL;
        nd_cluster_stats stats;
        failed += cluster_failing_at(raw, threads, n, &c, &stats) != ND_OK;
        nd_clusters_free(c);
        sc_result got = sc_run(raw, 0); /* again, or (it succeeded) a second time */
        ck_assert_uint_eq(got.digest, expect.digest);
        ck_assert_uint_eq(got.items, expect.items);
        ck_assert_uint_eq(got.stats.exact_groups, expect.stats.exact_groups);
        nd_index_free(raw);
    }
    ck_assert_uint_gt(failed, LEADS_FAILS / 2); /* allocations really failed on the way */
    free(corpus.keys);
}
END_TEST

Suite *settle_suite(void)
{
    Suite *s = suite_create("settle");
    TCase *tc = tcase_create("copies");
    tcase_add_loop_test(tc, test_settle_copies_by_key, 0, 2);
    tcase_add_loop_test(tc, test_settle_many_copies, 0, 2);
    suite_add_tcase(s, tc);
    TCase *known = tcase_create("known_copies");
    tcase_add_loop_test(known, test_known_copies_join_as_compared, 0, 4);
    tcase_add_loop_test(known, test_settled_copies_match_sorted, 0, 18);
    tcase_add_loop_test(known, test_settle_copies_out_of_memory, 0, 2);
    tcase_add_loop_test(known, test_settle_leads_out_of_memory, 0, 2);
    suite_add_tcase(s, known);
    return s;
}
