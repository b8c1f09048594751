/* test_addkept.c - nd_index_add_prepared_kept (index.c), the way the CLI's
 * units go into an index: a run of texts added in one call has its band
 * keys written band by band after the texts (put_keys), and they must land
 * where a text added alone puts its keys: for runs of any length, across
 * the end of a key chunk, with texts without ids among them, and when an
 * allocation fails part way through a run (the texts added before the
 * failure stay added, with their keys). Read back through the store view
 * clustering reads (store.h). */
#include "neardup.h"

#include <stdlib.h> /* malloc, free */

#include "alloc.h"
#include "index_add.h"
#include "store.h"
#include "suites.h"

enum { KEPT_TEXTS = ND_KEY_CHUNK + 5000, KEPT_IDS = 3 };

/* Text t's key in band j: distinct for every text and band. */
static uint32_t kept_key(size_t t, unsigned j)
{
    uint64_t x = (t + 1) * 0x9E3779B97F4A7C15u ^ (j + 1) * 0xC2B2AE3D27D4EB4Fu;
    x ^= x >> 29;
    return (uint32_t)(x * 0xBF58476D1CE4E5B9u >> 32);
}

/* Text t has no ids every seventh text, else KEPT_IDS of its own (raw: the
 * last one repeated, out of order). */
static size_t kept_count(size_t t)
{
    return t % 7 == 3 ? 0 : KEPT_IDS;
}

/* The texts, their keys and their ids in `block` (which the index adopts). */
static nd_prepared_text *kept_texts(unsigned bands, uint32_t **keys, uint32_t *block)
{
    nd_prepared_text *texts = malloc(KEPT_TEXTS * sizeof *texts);
    *keys = malloc((size_t)KEPT_TEXTS * bands * sizeof **keys);
    ck_assert(texts && *keys);
    for (size_t t = 0; t < KEPT_TEXTS; t++) {
        uint32_t *k = *keys + t * bands;
        for (unsigned j = 0; j < bands; j++)
            k[j] = kept_key(t, j);
        uint32_t *ids = block + t * KEPT_IDS;
        ids[0] = (uint32_t)(3 * t + 2);
        ids[1] = (uint32_t)(3 * t + 1);
        ids[2] = ids[0];
        size_t count = kept_count(t);
        texts[t] = (nd_prepared_text){count ? ids : NULL, count, 0, k, 10 + t % 5};
    }
    return texts;
}

/* Every text's keys, count, weight and ids, as added. */
static void check_kept(nd_index *index, unsigned bands)
{
    ck_assert_uint_eq(nd_index_count(index), KEPT_TEXTS);
    nd_store store;
    ck_assert_int_eq(nd_index_store(index, &store), ND_OK);
    uint32_t *buf = malloc(ND_KEY_CHUNK * sizeof *buf);
    ck_assert_ptr_nonnull(buf);
    for (size_t c = 0; c * ND_KEY_CHUNK < KEPT_TEXTS; c++) {
        for (unsigned j = 0; j < bands; j++) {
            const uint32_t *keys = store.band_keys(store.backend, j, c, buf);
            ck_assert_ptr_nonnull(keys);
            for (size_t t = c * ND_KEY_CHUNK; t < KEPT_TEXTS && t < (c + 1) * ND_KEY_CHUNK; t++) {
                if (keys[t % ND_KEY_CHUNK] != kept_key(t, j))
                    ck_abort_msg("text %zu band %u: key %u, added %u", t, j, keys[t % ND_KEY_CHUNK], kept_key(t, j));
            }
        }
    }
    nd_id_buffer ids_buf = {NULL, 0};
    for (size_t t = 0; t < KEPT_TEXTS; t++) {
        ck_assert_uint_eq(store.meta[t].weight, 10 + t % 5);
        int rc = ND_OK;
        const uint32_t *ids = store.ids(store.backend, t, &ids_buf, &rc);
        ck_assert_int_eq(rc, ND_OK);
        if (kept_count(t) == 0) {
            ck_assert_uint_eq(store.meta[t].count, 0);
            continue;
        }
        ck_assert_uint_eq(store.meta[t].count, 2); /* settled when read: sorted distinct */
        ck_assert(ids[0] == 3 * t + 1 && ids[1] == 3 * t + 2);
    }
    free(ids_buf.data);
    free(buf);
}

static void kept_options(nd_options *opts, int variant)
{
    *opts = (nd_options)ND_OPTIONS_INIT;
    if (variant == 1) { /* another number of bands than the default 16, not a multiple of 4 */
        opts->bands = 18;
        opts->rows = 7;
    }
    ck_assert_int_eq(nd_options_resolve(opts), ND_OK);
}

/* One test's texts (in an ids block the index adopts at the end) and index. */
typedef struct kept_run {
    nd_options opts;
    uint32_t *keys, *block;
    nd_prepared_text *texts;
    nd_index *index;
} kept_run;

static void kept_begin(kept_run *k, int variant)
{
    kept_options(&k->opts, variant);
    k->block = nd_index_ids_block_new((size_t)KEPT_TEXTS * KEPT_IDS);
    ck_assert_ptr_nonnull(k->block);
    k->texts = kept_texts(k->opts.bands, &k->keys, k->block);
    k->index = NULL;
    ck_assert_int_eq(nd_index_new(&k->index, &k->opts), ND_OK);
}

/* The block adopted, every text's keys and ids checked, all freed. */
static void kept_end(kept_run *k)
{
    ck_assert_int_eq(nd_index_adopt_ids(k->index, k->block, (size_t)KEPT_TEXTS * KEPT_IDS), ND_OK);
    check_kept(k->index, k->opts.bands);
    nd_index_free(k->index);
    free(k->texts);
    free(k->keys);
}

/* Runs of 1 to 300 texts, across the first chunk's end. */
START_TEST(test_add_kept_keys)
{
    kept_run k;
    kept_begin(&k, _i);
    nd_index *index = k.index;
    nd_prepared_text *texts = k.texts;
    size_t run = 1;
    for (size_t t = 0; t < KEPT_TEXTS; t += run) {
        run = run * 7 % 301; /* 7, 49, 42, 300, ... */
        if (run > KEPT_TEXTS - t)
            run = KEPT_TEXTS - t;
        ck_assert_int_eq(nd_index_add_prepared_kept(index, texts + t, run), ND_OK);
    }
    kept_end(&k);
}
END_TEST

/* Allocations failing part way through runs (where the index's per-text
 * arrays grow, and where a key chunk is made): each call adds what it can,
 * and the next one goes on from there, its first allocation failing or
 * (every other call) its second, so that every allocation fails once. */
START_TEST(test_add_kept_keys_failing)
{
    kept_run k;
    kept_begin(&k, _i);
    nd_index *index = k.index;
    nd_prepared_text *texts = k.texts;
    /* from 50 texts before the 32768th, where the per-text raw flags grow
     * in the middle of a run, through the first key chunk's end */
    size_t start = ND_KEY_CHUNK / 2 - 50, partial = 0;
    ck_assert_int_eq(nd_index_add_prepared_kept(index, texts, start), ND_OK);
    for (size_t fails = 0; nd_index_count(index) < KEPT_TEXTS; fails = !fails) {
        size_t before = nd_index_count(index), run = KEPT_TEXTS - before < 200 ? KEPT_TEXTS - before : 200;
        nd_alloc_fail_after(fails);
        int rc = nd_index_add_prepared_kept(index, texts + before, run);
        nd_alloc_fail_after((size_t)-1);
        size_t added = nd_index_count(index) - before;
        if (rc == ND_OK) {
            ck_assert_uint_eq(added, run);
        } else {
            ck_assert_int_eq(rc, ND_ENOMEM);
            ck_assert_uint_lt(added, run);
            partial += added > 0;
        }
    }
    ck_assert_uint_gt(partial, 0); /* some runs failed after adding texts */
    kept_end(&k);
}
END_TEST

Suite *addkept_suite(void)
{
    Suite *s = suite_create("addkept");
    TCase *tc = tcase_create("keys");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_add_kept_keys, 0, 2);
    tcase_add_loop_test(tc, test_add_kept_keys_failing, 0, 2);
    suite_add_tcase(s, tc);
    return s;
}
