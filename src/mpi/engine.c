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
 *    set hash, weight, the bytes output needs, and for ND_KEEP_RANK what
 *    they are ranked by) from the ranks holding them, splits each
 *    component with nd_store_split (ND_KEEP_RANK: the members ranked
 *    among themselves, which orders them as ranks of all texts would:
 *    the split compares only its members' ranks), and sends each
 *    cluster to the rank holding its earliest member, which numbers and
 *    writes it (mpi_run.c).
 *
 * Steps 1, 3 and 4 are here, step 2 in engine_verify.c; what they share
 * (fetching from the holders of texts, lists of text numbers) in
 * engine_fetch.c.
 */
#include "engine.h"

#include <stdlib.h> /* free, calloc */
#include <string.h> /* memcpy, memset */

#include "engine_fetch.h"
#include "engine_verify.h"
#include "sort.h"
#include "uf.h"

static int owner_of_key(uint32_t key, unsigned band, int size)
{
    uint64_t h = ((uint64_t)key << 32 | band) * 0x9E3779B97F4A7C15ULL;
    return (int)((h >> 32) % (uint64_t)size);
}

/* ****  1. Keys to their owners; buckets of texts sharing a key  **** */

static void find_buckets(xctx *x, const engine_input *in, const uint64_t *bases, engine_buckets *bk, engine_stats *st)
{
    const nd_store *s = in->store;
    unsigned bands = s->opts->bands;
    xbuf *send = engine_bufs(x), *recv = engine_bufs(x);
    uint32_t *chunk_buf = engine_malloc(x, ND_KEY_CHUNK * sizeof *chunk_buf);
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
        uint64_t *entries = engine_malloc(x, n * 2 * sizeof *entries), *global = engine_malloc(x, n * sizeof *global);
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
                    u64_list_push(x, &bk->texts, global[(uint32_t)entries[k]]);
                u64_list_push(x, &bk->ends, bk->texts.n);
                st->buckets++;
            }
            a = z;
        }
        free(entries);
        free(global);
        u64_list_push(x, &bk->band_ends, bk->ends.n);
    }
    free(chunk_buf);
    engine_bufs_free(x, send);
    engine_bufs_free(x, recv);
}

/* ****  3. Components (rank 0)  **** */

/* Rank 0 joins every edge and sends each component (u64 size, then its
 * members ascending) to the rank that will split it. */
static void find_components(xctx *x, u64_list *edges, xbuf *mine, engine_stats *st)
{
    xbuf *send = engine_bufs(x), *recv = engine_bufs(x);
    xbuf_put(&send[0], edges->v, edges->n * sizeof *edges->v);
    free(edges->v);
    *edges = (u64_list){NULL, 0, 0};
    x_alltoallv(x, send, recv);
    if (x->rank == 0) {
        double joining = x_clock();
        size_t e = 0;
        for (int r = 0; r < x->size; r++)
            e += recv[r].len / sizeof(uint64_t);
        uint64_t *ends = engine_malloc(x, e * sizeof *ends), *nodes = engine_malloc(x, e * sizeof *nodes);
        size_t at = 0;
        for (int r = 0; r < x->size; r++) {
            if (recv[r].len)
                memcpy(ends + at, recv[r].data, recv[r].len);
            at += recv[r].len / sizeof(uint64_t);
            xbuf_free(&recv[r]);
        }
        memcpy(nodes, ends, e * sizeof *nodes);
        size_t n = engine_sort_unique(x, nodes, e);
        nd_uf uf;
        if (nd_uf_init(&uf, n) != ND_OK)
            x_fatal(x, "out of memory");
        for (size_t k = 0; k + 1 < e; k += 2)
            nd_uf_union(&uf, engine_index_of(nodes, n, ends[k]), engine_index_of(nodes, n, ends[k + 1]));
        free(ends);
        /* components numbered by earliest member; members grouped stably */
        size_t *comp_of_root = engine_malloc(x, n * sizeof *comp_of_root), *comp = engine_malloc(x, n * sizeof *comp);
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
        uint64_t *grouped = engine_malloc(x, n * sizeof *grouped);
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
    engine_bufs_free(x, send);
    engine_bufs_free(x, recv);
}

/* ****  4. Split, and send each cluster to its earliest member's holder  **** */

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
    const uint32_t *ids = engine_local_ids(x, s, local, &buf);
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
    if (in->keep_value) {
        xbuf value = {NULL, 0, 0};
        in->keep_value(in->ctx, local, &value);
        xbuf_put_u32(out, (uint32_t)value.len);
        xbuf_put(out, value.data, value.len);
        xbuf_put(out, zeros, padding(value.len));
        xbuf_free(&value);
    }
}

typedef struct member_data {
    nd_text_meta meta;
    uint64_t weight; /* all of it (meta.weight can be ND_WEIGHT_WIDE) */
    const uint32_t *ids;
    const unsigned char *desc;
    uint32_t desc_len;
    const unsigned char *keep; /* what it is ranked by (engine_input.keep_value), or NULL */
} member_data;

/* ND_KEEP_RANK: the members of one component ranked by what they are kept
 * by, ties in input order (their global numbers ascend with k), so that
 * the ranks order them as the ranks of all texts would (keep.c: the
 * library only compares the ranks of one component's members). A merge
 * sort of positions: the order calls back into the program. */
static void rank_members(const engine_input *in, const member_data *data, const size_t *slot, size_t size,
                         size_t *order, size_t *scratch, uint64_t *rank)
{
    for (size_t k = 0; k < size; k++)
        order[k] = k;
    for (size_t width = 1; width < size; width *= 2) {
        for (size_t lo = 0; lo < size; lo += 2 * width) {
            size_t mid = lo + width < size ? lo + width : size, hi = lo + 2 * width < size ? lo + 2 * width : size;
            size_t a = lo, b = mid, out = lo;
            while (a < mid || b < hi) {
                int take_a = b == hi || (a < mid && in->keep_order(in->ctx, data[slot[order[a]]].keep,
                                                                   data[slot[order[b]]].keep) <= 0);
                scratch[out++] = take_a ? order[a++] : order[b++];
            }
        }
        memcpy(order, scratch, size * sizeof *order);
    }
    for (size_t r = 0; r < size; r++)
        rank[order[r]] = r;
}

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
            u64_list_push(x, &all, xread_u64(&rd));
        st->components++;
    }
    size_t m = engine_sort_unique(x, all.v, all.n);
    xbuf *replies = engine_bufs(x);
    engine_fetch(x, in, bases, all.v, m, answer_member, replies);
    member_data *data = engine_malloc(x, m * sizeof *data);
    size_t *desc_at = engine_malloc(x, m * sizeof *desc_at); /* in own_desc, for texts read in place */
    size_t *keep_at = engine_malloc(x, m * sizeof *keep_at); /* in own_keep, likewise */
    xbuf own_desc = {NULL, 0, 0}, own_keep = {NULL, 0, 0};
    xreader *cursor = engine_malloc(x, (size_t)x->size * sizeof *cursor);
    nd_id_buffer unused = {NULL, 0};
    for (int r = 0; r < x->size; r++)
        cursor[r] = xreader_of(&replies[r]);
    for (size_t i = 0; i < m; i++) {
        member_data *d = &data[i];
        int h = engine_holder(bases, x->size, all.v[i]);
        desc_at[i] = SIZE_MAX;
        if (engine_in_place(x, in, h)) {
            size_t own = (size_t)(all.v[i] - bases[h]);
            d->meta = in->store->meta[own];
            d->weight = nd_store_weight(in->store, own);
            d->ids = engine_local_ids(x, in->store, own, &unused);
            desc_at[i] = own_desc.len;
            in->describe(in->ctx, own, &own_desc);
            d->desc_len = (uint32_t)(own_desc.len - desc_at[i]);
            keep_at[i] = own_keep.len;
            if (in->keep_value)
                in->keep_value(in->ctx, own, &own_keep);
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
        d->keep = NULL;
        if (in->keep_value) {
            uint32_t keep_len = xread_u32(ar);
            d->keep = xread_bytes(ar, keep_len);
            xread_bytes(ar, padding(keep_len));
        }
    }
    for (size_t i = 0; i < m; i++) { /* own_desc and own_keep have stopped growing */
        if (desc_at[i] != SIZE_MAX) {
            data[i].desc = own_desc.data + desc_at[i];
            data[i].keep = in->keep_value ? own_keep.data + keep_at[i] : NULL;
        }
    }
    free(desc_at);
    free(keep_at);
    free(cursor);
    free(unused.data);
    xbuf *send = engine_bufs(x), *recv = engine_bufs(x);
    rd = xreader_of(mine);
    while (rd.p < rd.end) {
        size_t size = (size_t)xread_u64(&rd);
        const uint64_t *members = xread_bytes(&rd, size * sizeof(uint64_t)); /* ascending */
        uint64_t *global = engine_malloc(x, size * sizeof *global);
        size_t *slot = engine_malloc(x, size * sizeof *slot);
        nd_text_meta *meta = engine_malloc(x, size * sizeof *meta);
        const uint32_t **ids = engine_malloc(x, size * sizeof *ids);
        nd_wide_weight *wide = engine_malloc(x, size * sizeof *wide); /* weights past 32 bits, in text order */
        size_t wide_count = 0;
        for (size_t k = 0; k < size; k++) {
            memcpy(&global[k], &members[k], sizeof global[k]);
            slot[k] = engine_index_of(all.v, m, global[k]);
            meta[k] = data[slot[k]].meta;
            ids[k] = data[slot[k]].ids;
            if (meta[k].weight == ND_WEIGHT_WIDE)
                wide[wide_count++] = (nd_wide_weight){k, data[slot[k]].weight};
        }
        uint64_t *rank = NULL;
        if (in->keep_value) {
            rank = engine_malloc(x, size * sizeof *rank);
            size_t *order = engine_malloc(x, size * sizeof *order), *scratch = engine_malloc(x, size * sizeof *scratch);
            rank_members(in, data, slot, size, order, scratch, rank);
            free(order);
            free(scratch);
        }
        member_backend backend = {ids};
        nd_store store = {in->store->opts, size, meta, 0,          &backend, member_ids, NULL, rank,
                          rank ? size : 0, NULL, wide, wide_count, NULL,     NULL,       0};
        nd_clusters *found = NULL;
        if (nd_store_split(&found, &store, keep) != ND_OK)
            x_fatal(x, "out of memory");
        free(rank);
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
    engine_bufs_free(x, send);
    engine_bufs_free(x, recv);
    engine_bufs_free(x, replies);
    xbuf_free(&own_desc);
    xbuf_free(&own_keep);
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
    engine_buckets bk;
    memset(&bk, 0, sizeof bk);
    double t = x_clock();
    find_buckets(x, in, bases, &bk, stats);
    stats->keys_s = x_clock() - t;
    t = x_clock();
    u64_list edges = {NULL, 0, 0};
    engine_verify_buckets(x, in, bases, &bk, &edges, stats);
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
