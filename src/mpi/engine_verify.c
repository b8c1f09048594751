/* engine_verify.c - step 2 of the distributed clustering (engine.c gives
 * the whole): the buckets of texts sharing a band key, owned by this rank,
 * verified band after band as cluster.c verifies them, each join an edge
 * for rank 0.
 *
 * A bucket whose texts are already all in one component needs nothing;
 * for the others the ids of their texts are fetched from the ranks holding
 * them (each text once a band), the pairs verified group by group
 * (keygroups.c: pairs already joined or rejected lately skipped, an exact
 * prefix filter), and the ids dropped before the next band.
 */
#include "engine_verify.h"

#include <stdlib.h> /* free */
#include <string.h> /* memcpy */

#include "keygroups.h"
#include "measure.h"
#include "pairset.h"
#include "uf.h"

/* Verification needs the ids: u64 count, then the ids. */
static void answer_ids(xctx *x, const engine_input *in, size_t local, xbuf *out)
{
    static nd_id_buffer buf;
    const nd_store *s = in->store;
    size_t count = s->meta[local].count;
    const uint32_t *ids = engine_local_ids(x, s, local, &buf);
    xbuf_put_u64(out, count);
    xbuf_put(out, ids, count * sizeof *ids);
}

/* What verify_pair needs of engine_verify_buckets. */
typedef struct pair_check {
    xctx *x;
    const nd_options *opts;
    const uint32_t **ids;
    const size_t *counts;
    const uint64_t *texts;
    nd_uf *uf;
    nd_pair_cache *rejected;
    u64_list *edges;
    engine_stats *st;
} pair_check;

/* Verify the bucket texts a < c, in different components, as cluster.c
 * does (nd_verify_pair_fn): joined and an edge if they match, remembered
 * if not. */
static int verify_pair(void *ctx, size_t a, size_t c)
{
    pair_check *v = ctx;
    uint64_t key = nd_pair_key((uint32_t)a, (uint32_t)c);
    if (nd_pair_cache_contains(v->rejected, key))
        return 0;
    v->st->candidate_pairs++;
    const uint32_t *const *ids = v->ids;
    const size_t *counts = v->counts;
    if (nd_matches(v->opts, counts[a], counts[c], nd_ids_shared(ids[a], counts[a], ids[c], counts[c]))) {
        v->st->verified_pairs++;
        nd_uf_union(v->uf, a, c);
        u64_list_push(v->x, v->edges, v->texts[a]);
        u64_list_push(v->x, v->edges, v->texts[c]);
        return 1;
    }
    return nd_pair_cache_put(v->rejected, key) != ND_OK ? ND_ENOMEM : 0;
}

/* A bucket's texts' ids for its prefix filter (nd_key_source): fetched
 * for the band, as verify_pair reads them. */
static const uint32_t *bucket_ids(void *ctx, size_t text, size_t *count)
{
    const pair_check *v = ctx;
    *count = v->counts[text];
    return *count ? v->ids[text] : NULL;
}

/* Band after band, in band order: the buckets whose texts are not all in
 * one component yet need their texts' ids; those are fetched (each once
 * for the band), the pairs verified as cluster.c verifies them, and the
 * ids dropped before the next band. A group of near-copies is joined in
 * its first bands, so later bands rarely fetch it again: ids are held for
 * one band's new work at a time. */
void engine_verify_buckets(xctx *x, const engine_input *in, const uint64_t *bases, const engine_buckets *bk,
                           u64_list *edges, engine_stats *st)
{
    size_t n = bk->texts.n;
    st->bucket_entries = n;
    uint64_t *texts = engine_malloc(x, n * sizeof *texts);
    if (n)
        memcpy(texts, bk->texts.v, n * sizeof *texts);
    size_t m = engine_sort_unique(x, texts, n);
    if (m > ND_UF_MAX)
        x_fatal(x, "more than 2^31 - 1 texts in candidate pairs on one rank: use more ranks");
    nd_uf uf;
    nd_pair_cache rejected = {NULL};
    if (nd_uf_init(&uf, m) != ND_OK)
        x_fatal(x, "out of memory");
    /* each bucket member's index in texts (below ND_UF_MAX): a bucket's
     * run of them ascending, as nd_key_groups_verify takes them */
    uint32_t *local = engine_malloc(x, (n ? n : 1) * sizeof *local);
    for (size_t i = 0; i < n; i++)
        local[i] = (uint32_t)engine_index_of(texts, m, bk->texts.v[i]);
    const nd_options *opts = in->store->opts;
    uint64_t *want = engine_malloc(x, (n ? n : 1) * sizeof *want);
    const uint32_t **ids = engine_malloc(x, (m ? m : 1) * sizeof *ids);
    size_t *counts = engine_malloc(x, (m ? m : 1) * sizeof *counts);
    unsigned char *open = engine_malloc(x, bk->ends.n ? bk->ends.n : 1); /* bucket still needs checking */
    xreader *cursor = engine_malloc(x, (size_t)x->size * sizeof *cursor);
    nd_key_groups groups = {NULL, NULL, NULL, 0};
    pair_check v = {x, opts, ids, counts, texts, &uf, &rejected, edges, st};
    nd_key_source source = {bucket_ids, &v, opts->threshold};
    nd_id_buffer unused = {NULL, 0}; /* in memory: ids are borrowed, never read into it */
    size_t bucket = 0, begin = 0;
    for (size_t band = 0; band < bk->band_ends.n; band++) {
        size_t band_last = bk->band_ends.v[band], band_begin = begin, first_bucket = bucket;
        /* which texts this band needs */
        size_t w = 0;
        for (size_t b = first_bucket, at = band_begin; b < band_last; b++) {
            size_t end = bk->ends.v[b];
            size_t root = nd_uf_find(&uf, local[at]);
            open[b] = 0;
            for (size_t k = at + 1; k < end && !open[b]; k++)
                open[b] = nd_uf_find(&uf, local[k]) != root;
            for (size_t k = at; open[b] && k < end; k++)
                want[w++] = texts[local[k]];
            at = end;
        }
        w = engine_sort_unique(x, want, w);
        st->fetched_texts += w;
        xbuf *replies = engine_bufs(x);
        engine_fetch(x, in, bases, want, w, answer_ids, replies);
        for (int r = 0; r < x->size; r++)
            cursor[r] = xreader_of(&replies[r]);
        size_t i = 0;
        for (; i < w; i++) {
            size_t t = engine_index_of(texts, m, want[i]);
            int h = engine_holder(bases, x->size, want[i]);
            if (engine_in_place(x, in, h)) {
                size_t own = (size_t)(want[i] - bases[h]);
                counts[t] = in->store->meta[own].count;
                ids[t] = engine_local_ids(x, in->store, own, &unused);
            } else {
                if (cursor[h].p >= cursor[h].end)
                    break;
                counts[t] = (size_t)xread_u64(&cursor[h]);
                ids[t] = xread_bytes(&cursor[h], counts[t] * sizeof(uint32_t));
            }
            st->fetched_id_bytes += counts[t] * sizeof(uint32_t);
        }
        if (i != w)
            x_fatal(x, "a holder answered the wrong texts (internal error)");
        for (; bucket < band_last; bucket++) {
            size_t end = bk->ends.v[bucket];
            if (open[bucket] &&
                nd_key_groups_verify(&groups, &uf, local + begin, end - begin, verify_pair, &v, &source) != ND_OK)
                x_fatal(x, "out of memory");
            begin = end;
        }
        engine_bufs_free(x, replies); /* this band's ids */
    }
    st->edges = edges->n / 2;
    free(local);
    free(want);
    free(ids);
    free(counts);
    free(open);
    free(cursor);
    nd_key_groups_release(&groups);
    free(unused.data);
    nd_uf_release(&uf);
    nd_pair_cache_release(&rejected);
    free(texts);
}
