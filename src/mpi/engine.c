/* engine.c - distributed clustering: the clusters of one process, found by
 * P processes that each hold a share of the texts.
 *
 * Why it gives the same clusters. In one process (cluster.c) the
 * connected components are those of the graph whose edges are the pairs
 * of texts sharing a 32-bit band key in some band whose exact Jaccard
 * reaches the threshold, plus the pairs of identical sets (which share
 * every key anyway): the order in which pairs are verified, and the pairs
 * skipped because they are already joined, rejected lately or ruled out
 * by an exact prefix filter (keygroups.c), change the work, not the
 * components. The greedy cover that splits a component
 * (split_component, run here through nd_store_split) reads only the
 * component's members in input order, their ids and weights. And clusters
 * are ordered by their earliest member. So the engine finds the same
 * components by any route, splits each with the library's code, and
 * numbers the clusters by earliest member. tests/test_cluster.c checks the
 * claim on one process; tests/cli/test_mpi.sh checks the outputs.
 *
 * The steps, for P ranks, N texts, b bands:
 *
 * 1. Keys. For each band (one all-to-all per band, itself cut into rounds
 *    of bounded size, exchange.c), every rank sends each text's entry
 *    (32-bit key, 32-bit local number) to the rank owning the key, a hash
 *    of (key, band) mod P. The owner sorts the entries by key (stable
 *    radix sort: in global text order within a key) and keeps the keys
 *    held by two texts or more, as buckets. Volume: 8 bytes per text per
 *    band (128 bytes per text at b = 16), (P - 1) / P of it off-rank.
 * 2. Verification, band after band (in band order). A bucket whose texts
 *    are already all in one component needs nothing; for the others, the
 *    owner fetches the shingle ids of their texts (one request to each
 *    holding rank, 8 bytes per text; the reply 4 bytes per id), verifies
 *    the pairs as cluster.c does (union-find over the owner's bucket
 *    texts; pairs already joined or rejected lately skipped, a bucket's
 *    texts compared group by group: keygroups.c) and drops
 *    the ids before the next band. A group of near-copies is joined in its
 *    first bands, so later bands seldom fetch it again: a duplicated text's
 *    ids travel about once or twice, not once per band, and an owner holds
 *    one band's fetched ids at a time. Each successful join is an edge: a
 *    spanning forest of what this owner saw, fewer edges than texts.
 * 3. Components. The edges (16 bytes each) go to rank 0, which joins them
 *    with union-find over the texts they touch and gives each component to
 *    a rank (the least loaded, by members, in order of earliest member).
 *    Memory on rank 0: about 64 bytes per text that is in some verified
 *    pair (edges, their distinct texts, union-find, grouping), nothing for
 *    texts without a near-duplicate.
 * 4. Split. Each rank fetches what its components' members need (ids,
 *    set hash, weight, and the bytes output needs) from the ranks holding
 *    them, splits each component with nd_store_split, and sends each
 *    cluster to the rank holding its earliest member, which numbers and
 *    writes it (mpi_run.c).
 */
#include "engine.h"

#include <stdlib.h> /* malloc, free, calloc */
#include <string.h> /* memcpy, memset */

#include "keygroups.h"
#include "measure.h"
#include "pairset.h"
#include "sort.h"
#include "uf.h"

#define IDENTITY(v) (v)
ND_DEFINE_RADIX_SORT(sort_u64, uint64_t, IDENTITY, 0, 56)

static void *xmalloc(xctx *x, size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        x_fatal(x, "out of memory");
    return p;
}

static xbuf *xbufs(xctx *x)
{
    xbuf *b = calloc((size_t)x->size, sizeof *b);
    if (!b)
        x_fatal(x, "out of memory");
    return b;
}

static void xbufs_free(xctx *x, xbuf *b)
{
    for (int r = 0; b && r < x->size; r++)
        xbuf_free(&b[r]);
    free(b);
}

int engine_holder(const uint64_t *bases, int size, uint64_t g)
{
    int lo = 0, hi = size - 1;
    while (lo < hi) { /* the last rank whose first text is at or before g */
        int mid = (lo + hi + 1) / 2;
        if (bases[mid] <= g)
            lo = mid;
        else
            hi = mid - 1;
    }
    return lo;
}

static int owner_of_key(uint32_t key, unsigned band, int size)
{
    uint64_t h = ((uint64_t)key << 32 | band) * 0x9E3779B97F4A7C15ULL;
    return (int)((h >> 32) % (uint64_t)size);
}

/* Sorted distinct values of v[0..n) (v is reordered); returns the count. */
static size_t sort_unique(xctx *x, uint64_t *v, size_t n)
{
    uint64_t *tmp = xmalloc(x, n * sizeof *tmp);
    sort_u64(v, tmp, n);
    free(tmp);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (m == 0 || v[i] != v[m - 1])
            v[m++] = v[i];
    }
    return m;
}

/* Index of g in sorted v[0..n) (g must be there). */
static size_t index_of(const uint64_t *v, size_t n, uint64_t g)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v[mid] < g)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

typedef struct u64_list {
    uint64_t *v;
    size_t n, cap;
} u64_list;

static void push_u64(xctx *x, u64_list *l, uint64_t value)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 1024;
        uint64_t *grown = realloc(l->v, cap * sizeof *grown);
        if (!grown)
            x_fatal(x, "out of memory");
        l->v = grown;
        l->cap = cap;
    }
    l->v[l->n++] = value;
}

/* ****  1. Keys to their owners; buckets of texts sharing a key  **** */

typedef struct buckets {
    u64_list texts;     /* global numbers, bucket after bucket */
    u64_list ends;      /* bucket i is texts[ends[i - 1] .. ends[i]) */
    u64_list band_ends; /* band b's buckets end at bucket band_ends[b] */
} buckets;

static void find_buckets(xctx *x, const engine_input *in, const uint64_t *bases, buckets *bk, engine_stats *st)
{
    const nd_store *s = in->store;
    unsigned bands = s->opts->bands;
    xbuf *send = xbufs(x), *recv = xbufs(x);
    uint32_t *chunk_buf = xmalloc(x, ND_KEY_CHUNK * sizeof *chunk_buf);
    for (unsigned b = 0; b < bands; b++) {
        const uint32_t *keys = NULL;
        for (size_t t = 0; t < s->count; t++) {
            if (t % ND_KEY_CHUNK == 0) {
                keys = s->band_keys(s->backend, b, t / ND_KEY_CHUNK, chunk_buf);
                if (!keys)
                    x_fatal(x, "cannot read back the band keys (spill file)");
            }
            if (s->meta[t].count == 0)
                continue; /* texts without shingles never cluster */
            uint32_t key = keys[t % ND_KEY_CHUNK];
            xbuf_put_u64(&send[owner_of_key(key, b, x->size)], (uint64_t)key << 32 | (uint32_t)t);
            st->key_entries++;
        }
        x_alltoallv(x, send, recv);
        size_t n = 0;
        for (int r = 0; r < x->size; r++)
            n += recv[r].len / sizeof(uint64_t);
        uint64_t *entries = xmalloc(x, n * 2 * sizeof *entries), *global = xmalloc(x, n * sizeof *global);
        size_t i = 0;
        for (int r = 0; r < x->size; r++) {
            xreader rd = xreader_of(&recv[r]);
            while (rd.p < rd.end) {
                uint64_t e = xread_u64(&rd);
                entries[i] = (e & 0xFFFFFFFF00000000ULL) | i;
                global[i] = bases[r] + (e & 0xFFFFFFFFULL);
                i++;
            }
            recv[r].len = 0;
        }
        /* stable by key: texts stay in global order within a key */
        nd_sort_u64_high32(entries, entries + n, n);
        for (size_t a = 0; a < n;) {
            size_t z = a + 1;
            while (z < n && entries[z] >> 32 == entries[a] >> 32)
                z++;
            if (z - a >= 2) {
                for (size_t k = a; k < z; k++)
                    push_u64(x, &bk->texts, global[(uint32_t)entries[k]]);
                push_u64(x, &bk->ends, bk->texts.n);
                st->buckets++;
            }
            a = z;
        }
        free(entries);
        free(global);
        push_u64(x, &bk->band_ends, bk->ends.n);
    }
    free(chunk_buf);
    xbufs_free(x, send);
    xbufs_free(x, recv);
}

/* ****  Fetching what holders keep about texts  **** */

/* Texts this rank holds in memory are read in place by the caller, not
 * copied through a message to itself. */
static int in_place(const xctx *x, const engine_input *in, int holder)
{
    return holder == x->rank && !in->store->on_disk;
}

/* Ask the holders of the sorted global texts want[0..n) for them (but for
 * those read in place, see in_place); each
 * holder appends its answer for a local text with `answer`; the answers
 * come back in want's order, concatenated in `replies` (one buffer per
 * holder, in rank order). */
typedef void (*answer_fn)(xctx *x, const engine_input *in, size_t local, xbuf *out);

static void fetch(xctx *x, const engine_input *in, const uint64_t *bases, const uint64_t *want, size_t n,
                  answer_fn answer, xbuf *replies)
{
    xbuf *send = xbufs(x), *recv = xbufs(x);
    for (size_t i = 0; i < n; i++) {
        int h = engine_holder(bases, x->size, want[i]);
        if (!in_place(x, in, h)) /* else the caller reads it in place */
            xbuf_put_u64(&send[h], want[i] - bases[h]);
    }
    x_alltoallv(x, send, recv);
    for (int r = 0; r < x->size; r++) {
        xreader rd = xreader_of(&recv[r]);
        while (rd.p < rd.end)
            answer(x, in, (size_t)xread_u64(&rd), &send[r]);
    }
    x_alltoallv(x, send, replies);
    xbufs_free(x, send);
    xbufs_free(x, recv);
}

static const uint32_t *local_ids(xctx *x, const nd_store *s, size_t local, nd_id_buffer *buf)
{
    int rc = ND_OK;
    const uint32_t *ids = s->ids(s->backend, local, buf, &rc);
    if (!ids && s->meta[local].count > 0)
        x_fatal(x, "cannot read back shingle ids (spill file)");
    return ids;
}

/* Verification needs the ids: u64 count, then the ids. */
static void answer_ids(xctx *x, const engine_input *in, size_t local, xbuf *out)
{
    static nd_id_buffer buf;
    const nd_store *s = in->store;
    size_t count = s->meta[local].count;
    const uint32_t *ids = local_ids(x, s, local, &buf);
    xbuf_put_u64(out, count);
    xbuf_put(out, ids, count * sizeof *ids);
}

/* Bytes that bring a record of u32 length + n bytes to a multiple of 8. */
static size_t padding(size_t n)
{
    return (8 - (4 + n) % 8) % 8;
}

/* Splitting needs the meta and ids, output the description. */
static void answer_member(xctx *x, const engine_input *in, size_t local, xbuf *out)
{
    static nd_id_buffer buf;
    const nd_store *s = in->store;
    const nd_text_meta *m = &s->meta[local];
    const uint32_t *ids = local_ids(x, s, local, &buf);
    xbuf_put_u64(out, m->count);
    xbuf_put_u64(out, m->set_hash);
    xbuf_put_u64(out, nd_store_weight(s, local));
    xbuf_put(out, ids, m->count * sizeof *ids);
    xbuf desc = {NULL, 0, 0};
    in->describe(in->ctx, local, &desc);
    xbuf_put_u32(out, (uint32_t)desc.len);
    xbuf_put(out, desc.data, desc.len);
    static const unsigned char zeros[8];
    xbuf_put(out, zeros, padding(desc.len)); /* the next record's ids stay aligned */
    xbuf_free(&desc);
}

/* ****  2. Verification  **** */

/* What verify_pair needs of verify_buckets. */
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
        push_u64(v->x, v->edges, v->texts[a]);
        push_u64(v->x, v->edges, v->texts[c]);
        return 1;
    }
    return nd_pair_cache_put(v->rejected, key) != ND_OK ? ND_ENOMEM : 0;
}

/* A bucket's texts' ids for its prefix filter (nd_key_source): fetched
 * for the band, as verify_pair reads them. */
static const uint32_t *bucket_ids(void *ctx, size_t text, size_t *count)
{
    static const uint32_t none[1];
    const pair_check *v = ctx;
    *count = v->counts[text];
    return *count ? v->ids[text] : none;
}

/* Band after band, in band order: the buckets whose texts are not all in
 * one component yet need their texts' ids; those are fetched (each once
 * for the band), the pairs verified as cluster.c verifies them, and the
 * ids dropped before the next band. A group of near-copies is joined in
 * its first bands, so later bands rarely fetch it again: ids are held for
 * one band's new work at a time. */
static void verify_buckets(xctx *x, const engine_input *in, const uint64_t *bases, const buckets *bk, u64_list *edges,
                           engine_stats *st)
{
    size_t n = bk->texts.n;
    st->bucket_entries = n;
    uint64_t *texts = xmalloc(x, n * sizeof *texts);
    if (n)
        memcpy(texts, bk->texts.v, n * sizeof *texts);
    size_t m = sort_unique(x, texts, n);
    if (m > ND_UF_MAX)
        x_fatal(x, "more than 2^31 - 1 texts in candidate pairs on one rank: use more ranks");
    nd_uf uf;
    nd_pair_cache rejected = {NULL};
    if (nd_uf_init(&uf, m) != ND_OK)
        x_fatal(x, "out of memory");
    /* each bucket member's index in texts (below ND_UF_MAX): a bucket's
     * run of them ascending, as nd_key_groups_verify takes them */
    uint32_t *local = xmalloc(x, (n ? n : 1) * sizeof *local);
    for (size_t i = 0; i < n; i++)
        local[i] = (uint32_t)index_of(texts, m, bk->texts.v[i]);
    const nd_options *opts = in->store->opts;
    uint64_t *want = xmalloc(x, (n ? n : 1) * sizeof *want);
    const uint32_t **ids = xmalloc(x, (m ? m : 1) * sizeof *ids);
    size_t *counts = xmalloc(x, (m ? m : 1) * sizeof *counts);
    unsigned char *open = xmalloc(x, bk->ends.n ? bk->ends.n : 1); /* bucket still needs checking */
    xreader *cursor = xmalloc(x, (size_t)x->size * sizeof *cursor);
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
        w = sort_unique(x, want, w);
        st->fetched_texts += w;
        xbuf *replies = xbufs(x);
        fetch(x, in, bases, want, w, answer_ids, replies);
        for (int r = 0; r < x->size; r++)
            cursor[r] = xreader_of(&replies[r]);
        size_t i = 0;
        for (; i < w; i++) {
            size_t t = index_of(texts, m, want[i]);
            int h = engine_holder(bases, x->size, want[i]);
            if (in_place(x, in, h)) {
                size_t own = (size_t)(want[i] - bases[h]);
                counts[t] = in->store->meta[own].count;
                ids[t] = local_ids(x, in->store, own, &unused);
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
        xbufs_free(x, replies); /* this band's ids */
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

/* ****  3. Components (rank 0)  **** */

/* Rank 0 joins every edge and sends each component (u64 size, then its
 * members ascending) to the rank that will split it. */
static void find_components(xctx *x, u64_list *edges, xbuf *mine, engine_stats *st)
{
    xbuf *send = xbufs(x), *recv = xbufs(x);
    xbuf_put(&send[0], edges->v, edges->n * sizeof *edges->v);
    free(edges->v);
    *edges = (u64_list){NULL, 0, 0};
    x_alltoallv(x, send, recv);
    if (x->rank == 0) {
        double joining = x_clock();
        size_t e = 0;
        for (int r = 0; r < x->size; r++)
            e += recv[r].len / sizeof(uint64_t);
        uint64_t *ends = xmalloc(x, e * sizeof *ends), *nodes = xmalloc(x, e * sizeof *nodes);
        size_t at = 0;
        for (int r = 0; r < x->size; r++) {
            if (recv[r].len)
                memcpy(ends + at, recv[r].data, recv[r].len);
            at += recv[r].len / sizeof(uint64_t);
            xbuf_free(&recv[r]);
        }
        memcpy(nodes, ends, e * sizeof *nodes);
        size_t n = sort_unique(x, nodes, e);
        nd_uf uf;
        if (nd_uf_init(&uf, n) != ND_OK)
            x_fatal(x, "out of memory");
        for (size_t k = 0; k + 1 < e; k += 2)
            nd_uf_union(&uf, index_of(nodes, n, ends[k]), index_of(nodes, n, ends[k + 1]));
        free(ends);
        /* components numbered by earliest member; members grouped stably */
        size_t *comp_of_root = xmalloc(x, n * sizeof *comp_of_root), *comp = xmalloc(x, n * sizeof *comp);
        for (size_t i = 0; i < n; i++)
            comp_of_root[i] = SIZE_MAX;
        size_t ncomp = 0;
        for (size_t i = 0; i < n; i++) {
            size_t root = nd_uf_find(&uf, i);
            if (comp_of_root[root] == SIZE_MAX)
                comp_of_root[root] = ncomp++;
            comp[i] = comp_of_root[root];
        }
        nd_uf_release(&uf);
        size_t *start = calloc(ncomp + 1, sizeof *start);
        uint64_t *grouped = xmalloc(x, n * sizeof *grouped);
        uint64_t *load = calloc((size_t)x->size, sizeof *load);
        if (!start || !load)
            x_fatal(x, "out of memory");
        for (size_t i = 0; i < n; i++)
            start[comp[i] + 1]++;
        for (size_t c = 0; c < ncomp; c++)
            start[c + 1] += start[c];
        for (size_t i = 0; i < n; i++)
            grouped[start[comp[i]]++] = nodes[i];
        /* start[c] is now the end of component c */
        for (size_t c = 0, begin = 0; c < ncomp; c++) {
            size_t size = start[c] - begin;
            int owner = 0;
            for (int r = 1; r < x->size; r++) {
                if (load[r] < load[owner])
                    owner = r;
            }
            load[owner] += size;
            xbuf_put_u64(&send[owner], size);
            xbuf_put(&send[owner], grouped + begin, size * sizeof *grouped);
            begin = start[c];
        }
        free(start);
        free(grouped);
        free(load);
        free(comp_of_root);
        free(comp);
        free(nodes);
        st->join_s = x_clock() - joining;
    }
    x_alltoallv(x, send, recv);
    for (int r = 0; r < x->size; r++)
        xbuf_put(mine, recv[r].data, recv[r].len);
    xbufs_free(x, send);
    xbufs_free(x, recv);
}

/* ****  4. Split, and send each cluster to its earliest member's holder  **** */

typedef struct member_data {
    nd_text_meta meta;
    uint64_t weight; /* all of it (meta.weight can be ND_WEIGHT_WIDE) */
    const uint32_t *ids;
    const unsigned char *desc;
    uint32_t desc_len;
} member_data;

typedef struct member_backend {
    const uint32_t *const *ids;
} member_backend;

static const uint32_t *member_ids(const void *backend, size_t doc, nd_id_buffer *buf, int *rc)
{
    (void)buf;
    (void)rc;
    return ((const member_backend *)backend)->ids[doc];
}

static void split_components(xctx *x, const engine_input *in, const uint64_t *bases, const xbuf *mine, nd_keep keep,
                             xbuf *clusters, engine_stats *st)
{
    /* every member, sorted, to fetch once */
    u64_list all = {NULL, 0, 0};
    xreader rd = xreader_of(mine);
    while (rd.p < rd.end) {
        uint64_t size = xread_u64(&rd);
        for (uint64_t k = 0; k < size; k++)
            push_u64(x, &all, xread_u64(&rd));
        st->components++;
    }
    size_t m = sort_unique(x, all.v, all.n);
    xbuf *replies = xbufs(x);
    fetch(x, in, bases, all.v, m, answer_member, replies);
    member_data *data = xmalloc(x, m * sizeof *data);
    size_t *desc_at = xmalloc(x, m * sizeof *desc_at); /* in own_desc, for texts read in place */
    xbuf own_desc = {NULL, 0, 0};
    xreader *cursor = xmalloc(x, (size_t)x->size * sizeof *cursor);
    nd_id_buffer unused = {NULL, 0};
    for (int r = 0; r < x->size; r++)
        cursor[r] = xreader_of(&replies[r]);
    for (size_t i = 0; i < m; i++) {
        member_data *d = &data[i];
        int h = engine_holder(bases, x->size, all.v[i]);
        desc_at[i] = SIZE_MAX;
        if (in_place(x, in, h)) {
            size_t own = (size_t)(all.v[i] - bases[h]);
            d->meta = in->store->meta[own];
            d->weight = nd_store_weight(in->store, own);
            d->ids = local_ids(x, in->store, own, &unused);
            desc_at[i] = own_desc.len;
            in->describe(in->ctx, own, &own_desc);
            d->desc_len = (uint32_t)(own_desc.len - desc_at[i]);
            continue;
        }
        xreader *ar = &cursor[h];
        if (ar->p >= ar->end)
            x_fatal(x, "a holder answered the wrong texts (internal error)");
        uint64_t count = xread_u64(ar);
        if (count > UINT32_MAX)
            x_fatal(x, "a holder answered the wrong texts (internal error)");
        d->meta.count = (uint32_t)count;
        d->meta.set_hash = xread_u64(ar);
        d->weight = xread_u64(ar);
        d->meta.weight = d->weight >= ND_WEIGHT_WIDE ? ND_WEIGHT_WIDE : (uint32_t)d->weight;
        d->ids = xread_bytes(ar, d->meta.count * sizeof(uint32_t));
        d->desc_len = xread_u32(ar);
        d->desc = xread_bytes(ar, d->desc_len);
        xread_bytes(ar, padding(d->desc_len));
    }
    for (size_t i = 0; i < m; i++) { /* own_desc has stopped growing */
        if (desc_at[i] != SIZE_MAX)
            data[i].desc = own_desc.data + desc_at[i];
    }
    free(desc_at);
    free(cursor);
    free(unused.data);
    xbuf *send = xbufs(x), *recv = xbufs(x);
    rd = xreader_of(mine);
    while (rd.p < rd.end) {
        size_t size = (size_t)xread_u64(&rd);
        const uint64_t *members = xread_bytes(&rd, size * sizeof(uint64_t)); /* ascending */
        uint64_t *global = xmalloc(x, size * sizeof *global);
        size_t *slot = xmalloc(x, size * sizeof *slot);
        nd_text_meta *meta = xmalloc(x, size * sizeof *meta);
        const uint32_t **ids = xmalloc(x, size * sizeof *ids);
        nd_wide_weight *wide = xmalloc(x, size * sizeof *wide); /* weights past 32 bits, in text order */
        size_t wide_count = 0;
        for (size_t k = 0; k < size; k++) {
            memcpy(&global[k], &members[k], sizeof global[k]);
            slot[k] = index_of(all.v, m, global[k]);
            meta[k] = data[slot[k]].meta;
            ids[k] = data[slot[k]].ids;
            if (meta[k].weight == ND_WEIGHT_WIDE)
                wide[wide_count++] = (nd_wide_weight){k, data[slot[k]].weight};
        }
        member_backend backend = {ids};
        nd_store store = {in->store->opts, size, meta, 0, &backend, member_ids, NULL, NULL, 0, NULL, wide,
                          wide_count,      NULL, NULL, 0};
        nd_clusters *found = NULL;
        if (nd_store_split(&found, &store, keep) != ND_OK)
            x_fatal(x, "out of memory");
        for (size_t c = 0; c < nd_clusters_count(found); c++) {
            const nd_member *cm;
            size_t csize = nd_clusters_get(&cm, found, c);
            uint64_t first = UINT64_MAX;
            for (size_t k = 0; k < csize; k++)
                first = global[cm[k].doc] < first ? global[cm[k].doc] : first;
            xbuf *out = &send[engine_holder(bases, x->size, first)];
            xbuf_put_u64(out, first);
            xbuf_put_u64(out, csize);
            for (size_t k = 0; k < csize; k++) {
                const member_data *d = &data[slot[cm[k].doc]];
                xbuf_put_u64(out, global[cm[k].doc]);
                xbuf_put(out, &cm[k].jaccard, sizeof cm[k].jaccard);
                xbuf_put(out, &cm[k].containment, sizeof cm[k].containment);
                xbuf_put_u32(out, d->desc_len);
                xbuf_put(out, d->desc, d->desc_len);
            }
        }
        nd_clusters_free(found);
        free(global);
        free(slot);
        free(meta);
        free(ids);
        free(wide);
    }
    x_alltoallv(x, send, recv);
    for (int r = 0; r < x->size; r++)
        xbuf_put(clusters, recv[r].data, recv[r].len);
    xbufs_free(x, send);
    xbufs_free(x, recv);
    xbufs_free(x, replies);
    xbuf_free(&own_desc);
    free(data);
    free(all.v);
}

void engine_cluster(xctx *x, const engine_input *in, nd_keep keep, uint64_t *bases, xbuf *clusters, engine_stats *stats)
{
    memset(stats, 0, sizeof *stats);
    uint64_t count = in->store->count;
    double t0 = x_clock();
    MPI_Allgather(&count, 1, MPI_UINT64_T, bases + 1, 1, MPI_UINT64_T, x->comm);
    x_spent(x, t0);
    bases[0] = 0;
    for (int r = 0; r < x->size; r++)
        bases[r + 1] += bases[r];
    buckets bk;
    memset(&bk, 0, sizeof bk);
    double t = x_clock();
    find_buckets(x, in, bases, &bk, stats);
    stats->keys_s = x_clock() - t;
    t = x_clock();
    u64_list edges = {NULL, 0, 0};
    verify_buckets(x, in, bases, &bk, &edges, stats);
    free(bk.texts.v);
    free(bk.ends.v);
    free(bk.band_ends.v);
    stats->verify_s = x_clock() - t;
    t = x_clock();
    xbuf mine = {NULL, 0, 0};
    find_components(x, &edges, &mine, stats);
    stats->components_s = x_clock() - t;
    t = x_clock();
    split_components(x, in, bases, &mine, keep, clusters, stats);
    stats->split_s = x_clock() - t;
    xbuf_free(&mine);
}
