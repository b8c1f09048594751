/* cluster.c - candidates by LSH, exact verification, verified clusters.
 *
 * Clustering reads the texts through the storage seam (store.h), so it
 * runs the same on an index in memory, on one spilled to files, or on any
 * other backend that fills an nd_store. Three steps:
 *
 * 1. Identical sets. Texts are sorted by set hash; equal sets are joined
 *    with Jaccard 1 and only the first of each group goes on to LSH, so a
 *    thousand copies cost a sort, not half a million pair checks.
 * 2. Candidates. For each band the (key, text) pairs are sorted (stable,
 *    so texts stay in input order within a key); texts that share a key
 *    are candidates. A candidate pair already in one component is
 *    skipped, and one already rejected is not checked again (pairset.c),
 *    so a bucket of m near-copies costs about m verifications, not
 *    m^2 / 2. Every other candidate is verified with the exact Jaccard of
 *    the two id sets and joined (union-find) only if it reaches the
 *    threshold.
 * 3. Verified clusters. A connected component can chain: A~B and B~C with
 *    A and C unrelated. Each component is therefore split by greedy set
 *    cover: the member matching the most others is a center, it and its
 *    matches form a cluster, repeat on the rest. The survivor is the first
 *    member (by --keep policy) that matches every other member of its
 *    cluster, so every member is verified against the text kept in its
 *    place (see split_component).
 *
 * Everything runs in input order on one thread, except that the bands of
 * step 2 can be sorted in parallel (see join_verified_candidates); the
 * output depends only on the input, the options and the seed.
 */
#include "neardup.h"

#include <assert.h>  /* assert */
#include <pthread.h> /* pthread_create, pthread_join */
#include <stdlib.h>  /* qsort */
#include <string.h>  /* memcmp, memcpy, memset */

#include "alloc.h"
#include "pairset.h"
#include "sort.h"
#include "store.h"
#include "uf.h"

/* ****  Clusters  **** */

struct nd_clusters {
    nd_member *members;
    size_t members_count, members_capacity;
    size_t *starts; /* cluster i is members[starts[i] .. starts[i + 1]) */
    size_t count, starts_capacity;
};

size_t nd_clusters_count(const nd_clusters *clusters)
{
    return clusters->count;
}

size_t nd_clusters_get(const nd_member **members, const nd_clusters *clusters, size_t i)
{
    assert(i < clusters->count);
    *members = clusters->members + clusters->starts[i];
    return clusters->starts[i + 1] - clusters->starts[i];
}

void nd_clusters_free(nd_clusters *clusters)
{
    if (!clusters)
        return;
    nd_free(clusters->members);
    nd_free(clusters->starts);
    nd_free(clusters);
}

/* ****  Clustering  **** */

typedef struct {
    uint64_t key;
    size_t doc;
} keyed_doc;

/* sort_keyed(keyed, tmp, n): by key, eight passes of 8 bits (passes where
 * every key has the same byte skipped). Stable: entries are added in
 * document order, so equal keys stay in document order, as canonical
 * output needs. Linear time where qsort with a comparison callback took
 * most of clustering at millions of texts. */
#define KEYED_KEY(entry) ((entry).key)
ND_DEFINE_RADIX_SORT(sort_keyed, keyed_doc, KEYED_KEY, 0, 56)

static int same_ids(const uint32_t *a, size_t na, const uint32_t *b, size_t nb)
{
    return na == nb && (na == 0 || memcmp(a, b, na * sizeof *a) == 0);
}

/* Exact Jaccard of two sets (1 when they are the same set). */
static double ids_jaccard(const uint32_t *a, size_t na, const uint32_t *b, size_t nb)
{
    return same_ids(a, na, b, nb) ? (na ? 1.0 : 0.0) : nd_jaccard(a, na, b, nb);
}

static int reaches(double jaccard, double threshold)
{
    return jaccard >= threshold - 1e-12;
}

typedef struct {
    const nd_store *store;
    nd_uf uf;
    unsigned char *is_representative;
    keyed_doc *keyed, *keyed_tmp; /* (set hash, text) */
    uint64_t *band, *band_tmp;    /* (band key << 32 | text) */
    nd_pair_set rejected;
    nd_cluster_stats stats;
    unsigned threads;          /* for preparing bands (nd_index_set_threads) */
    nd_id_buffer buf_a, buf_b; /* ids read back in spill mode */
    uint32_t *band_chunk;      /* one chunk of one band, in spill mode */
    int io_status;             /* ND_OK, or the first read error */
} cluster_state;

/* ids of doc into one of the state's buffers (NULL on a read error). */
static const uint32_t *state_ids(cluster_state *st, size_t doc, nd_id_buffer *buf)
{
    return st->store->ids(st->store->backend, doc, buf, &st->io_status);
}

/* Step 1: join identical sets; mark one representative per set. */
static int join_identical_sets(cluster_state *st)
{
    const nd_store *store = st->store;
    size_t m = 0;
    for (size_t d = 0; d < store->count; d++) {
        if (store->meta[d].count > 0) {
            st->keyed[m].key = store->meta[d].set_hash;
            st->keyed[m].doc = d;
            m++;
        }
    }
    sort_keyed(st->keyed, st->keyed_tmp, m);
    for (size_t i = 0; i < m;) {
        size_t j = i + 1;
        while (j < m && st->keyed[j].key == st->keyed[i].key)
            j++;
        st->is_representative[st->keyed[i].doc] = 1;
        if (j - i > 1)
            st->stats.exact_groups++;
        const nd_text_meta *first = &store->meta[st->keyed[i].doc];
        const uint32_t *first_ids = j - i > 1 ? state_ids(st, st->keyed[i].doc, &st->buf_a) : NULL;
        for (size_t k = i + 1; k < j; k++) {
            const nd_text_meta *other = &store->meta[st->keyed[k].doc];
            const uint32_t *other_ids = state_ids(st, st->keyed[k].doc, &st->buf_b);
            if (st->io_status != ND_OK)
                return st->io_status;
            if (same_ids(first_ids, first->count, other_ids, other->count))
                nd_uf_union(&st->uf, st->keyed[i].doc, st->keyed[k].doc);
            else
                st->is_representative[st->keyed[k].doc] = 1; /* a 64-bit hash collision */
        }
        i = j;
    }
    return st->io_status;
}

/* Step 2: LSH candidates, verified.
 *
 * Preparing a band (gathering the keys of the representatives and sorting
 * them) is most of the work and bands are independent, so with threads
 * the bands are prepared T at a time in parallel; they are then verified
 * one after the other in band order on this thread, so the union-find and
 * the clusters are the same for any T. */
typedef struct {
    const nd_store *store;
    const unsigned char *is_representative;
    unsigned band;
    uint64_t *entries, *tmp; /* (key << 32 | text), sorted into entries */
    uint32_t *chunk_buf;     /* spilled keys read back */
    size_t count;
    int rc;
} band_job;

static void prepare_band(band_job *job)
{
    const nd_store *store = job->store;
    size_t m = 0;
    const uint32_t *keys = NULL;
    job->rc = ND_OK;
    for (size_t d = 0; d < store->count; d++) {
        if (d % ND_KEY_CHUNK == 0) {
            keys = store->band_keys(store->backend, job->band, d / ND_KEY_CHUNK, job->chunk_buf);
            if (!keys) {
                job->rc = ND_EIO;
                return;
            }
        }
        if (job->is_representative[d])
            job->entries[m++] = (uint64_t)keys[d % ND_KEY_CHUNK] << 32 | d;
    }
    nd_sort_u64_high32(job->entries, job->tmp, m);
    job->count = m;
}

static void *prepare_band_thread(void *arg)
{
    prepare_band(arg);
    return NULL;
}

/* Verify the candidates of one prepared band: texts sharing a key. */
static int verify_band(cluster_state *st, const uint64_t *entries, size_t m)
{
    const nd_store *store = st->store;
    double threshold = store->opts->threshold;
    for (size_t i = 0; i < m;) {
        size_t j = i + 1;
        while (j < m && entries[j] >> 32 == entries[i] >> 32)
            j++;
        for (size_t p = i; p < j; p++) {
            const uint32_t *ids_a = NULL;
            for (size_t q = p + 1; q < j; q++) {
                size_t a = (uint32_t)entries[p], b = (uint32_t)entries[q];
                if (nd_uf_find(&st->uf, a) == nd_uf_find(&st->uf, b))
                    continue;
                assert(a < b); /* entries are in text order within a key */
                uint64_t key = nd_pair_key((uint32_t)a, (uint32_t)b);
                if (nd_pair_set_contains(&st->rejected, key))
                    continue;
                st->stats.candidate_pairs++;
                if (!ids_a)
                    ids_a = state_ids(st, a, &st->buf_a);
                const uint32_t *ids_b = state_ids(st, b, &st->buf_b);
                if (st->io_status != ND_OK)
                    return st->io_status;
                double jac = ids_jaccard(ids_a, store->meta[a].count, ids_b, store->meta[b].count);
                if (reaches(jac, threshold)) {
                    st->stats.verified_pairs++;
                    nd_uf_union(&st->uf, a, b);
                } else if (nd_pair_set_insert(&st->rejected, key) != ND_OK) {
                    return ND_ENOMEM;
                }
            }
        }
        i = j;
    }
    return ND_OK;
}

enum { MAX_CLUSTER_THREADS = 64 };

static int join_verified_candidates(cluster_state *st)
{
    const nd_store *store = st->store;
    unsigned bands = store->opts->bands;
    band_job jobs[MAX_CLUSTER_THREADS];
    pthread_t threads[MAX_CLUSTER_THREADS];
    int started[MAX_CLUSTER_THREADS];
    unsigned width = st->threads < 1 ? 1 : st->threads;
    if (width > MAX_CLUSTER_THREADS)
        width = MAX_CLUSTER_THREADS;
    if (width > bands)
        width = bands;
    /* job 0 uses the state's buffers; the others get their own, and if
     * memory is short there are simply fewer jobs */
    unsigned jobs_ready = 0;
    int rc = ND_OK;
    for (unsigned t = 0; t < width; t++) {
        band_job *job = &jobs[t];
        memset(job, 0, sizeof *job);
        job->store = store;
        job->is_representative = st->is_representative;
        if (t == 0) {
            job->entries = st->band;
            job->tmp = st->band_tmp;
            job->chunk_buf = st->band_chunk;
        } else {
            job->entries = nd_malloc((store->count + 1) * 2 * sizeof *job->entries);
            job->chunk_buf = store->on_disk ? nd_malloc(ND_KEY_CHUNK * sizeof *job->chunk_buf) : NULL;
            if (!job->entries || (store->on_disk && !job->chunk_buf)) {
                nd_free(job->entries);
                nd_free(job->chunk_buf);
                break;
            }
            job->tmp = job->entries + store->count + 1;
        }
        jobs_ready++;
    }
    for (unsigned first = 0; first < bands && rc == ND_OK; first += jobs_ready) {
        unsigned n = bands - first < jobs_ready ? bands - first : jobs_ready;
        for (unsigned t = 0; t < n; t++) {
            jobs[t].band = first + t;
            started[t] = t > 0 && pthread_create(&threads[t], NULL, prepare_band_thread, &jobs[t]) == 0;
        }
        for (unsigned t = 0; t < n; t++) {
            if (!started[t])
                prepare_band(&jobs[t]);
        }
        for (unsigned t = 1; t < n; t++) {
            if (started[t])
                pthread_join(threads[t], NULL);
        }
        for (unsigned t = 0; t < n && rc == ND_OK; t++) {
            rc = jobs[t].rc;
            if (rc == ND_OK)
                rc = verify_band(st, jobs[t].entries, jobs[t].count);
        }
    }
    for (unsigned t = 1; t < jobs_ready; t++) {
        nd_free(jobs[t].entries);
        nd_free(jobs[t].chunk_buf);
    }
    return rc;
}

static int push_member(nd_clusters *c, size_t doc, double jaccard)
{
    if (nd_grow((void **)&c->members, &c->members_capacity, c->members_count + 1, sizeof *c->members) != 0)
        return ND_ENOMEM;
    c->members[c->members_count].doc = doc;
    c->members[c->members_count].jaccard = jaccard;
    c->members_count++;
    return ND_OK;
}

static int close_cluster(nd_clusters *c)
{
    if (nd_grow((void **)&c->starts, &c->starts_capacity, c->count + 2, sizeof *c->starts) != 0)
        return ND_ENOMEM;
    c->count++;
    c->starts[c->count] = c->members_count;
    return ND_OK;
}

typedef struct {
    uint64_t weight;
    size_t doc;
} weighted_doc;

static int compare_longest_first(const void *pa, const void *pb)
{
    const weighted_doc *a = pa, *b = pb;
    if (a->weight != b->weight)
        return a->weight > b->weight ? -1 : 1;
    return (a->doc > b->doc) - (a->doc < b->doc);
}

/* Put members in --keep longest order: heaviest first, ties in input order. */
static int sort_longest_first(const nd_text_meta *meta, size_t *members, size_t n)
{
    weighted_doc *w = nd_malloc(n * sizeof *w);
    if (!w)
        return ND_ENOMEM;
    for (size_t i = 0; i < n; i++)
        w[i] = (weighted_doc){meta[members[i]].weight, members[i]};
    qsort(w, n, sizeof *w, compare_longest_first);
    for (size_t i = 0; i < n; i++)
        members[i] = w[i].doc;
    nd_free(w);
    return ND_OK;
}

/* Append one cluster: the survivor, then the others in input order with
 * their exact Jaccard against it. */
static int emit_cluster(nd_clusters *out, size_t survivor, nd_member *others, size_t count)
{
    for (size_t a = 1; a < count; a++) {
        nd_member x = others[a];
        size_t b = a;
        while (b > 0 && others[b - 1].doc > x.doc) {
            others[b] = others[b - 1];
            b--;
        }
        others[b] = x;
    }
    int rc = push_member(out, survivor, 1.0);
    for (size_t k = 0; rc == ND_OK && k < count; k++)
        rc = push_member(out, others[k].doc, others[k].jaccard);
    return rc == ND_OK ? close_cluster(out) : rc;
}

/* Components larger than this are split around survivors in policy order
 * (linear in the component per cluster) instead of around centers (which
 * needs all pairwise Jaccards). */
enum { CENTER_LIMIT = 400 };

/* Star split for large components: the first remaining member by policy
 * is the survivor; every remaining member that reaches the threshold with
 * it joins. */
static int star_split(cluster_state *st, size_t *members, size_t n, size_t *scratch, nd_clusters *out)
{
    const nd_store *store = st->store;
    const nd_text_meta *docs = store->meta;
    nd_member *others = nd_malloc(n * sizeof *others);
    if (!others)
        return ND_ENOMEM;
    size_t remaining = n;
    int rc = ND_OK;
    while (rc == ND_OK && remaining >= 2) {
        size_t survivor = members[0];
        size_t count = 0, left = 0;
        const uint32_t *survivor_ids = state_ids(st, survivor, &st->buf_a);
        for (size_t i = 1; i < remaining && st->io_status == ND_OK; i++) {
            const uint32_t *ids = state_ids(st, members[i], &st->buf_b);
            if (st->io_status != ND_OK)
                break;
            double j = ids_jaccard(survivor_ids, docs[survivor].count, ids, docs[members[i]].count);
            if (reaches(j, store->opts->threshold))
                others[count++] = (nd_member){members[i], j};
            else
                scratch[left++] = members[i];
        }
        if (st->io_status != ND_OK)
            rc = st->io_status;
        else if (count > 0)
            rc = emit_cluster(out, survivor, others, count);
        memcpy(members, scratch, left * sizeof *members);
        remaining = left;
    }
    nd_free(others);
    return rc;
}

/* Step 3: split one component (members in policy order: input order, or
 * longest first) into verified clusters, appended to out.
 *
 * Greedy set cover on the graph of pairs that reach the threshold: the
 * center is the remaining member with the most remaining neighbours (ties:
 * policy order); the cluster is the center and its neighbours. Its survivor
 * is the first member, in policy order, that reaches the threshold with
 * every other member of the cluster (the center always does), so every
 * reported (survivor, member) pair is verified, and --keep first keeps the
 * earliest document that can stand for the whole cluster. Centering matters:
 * when edited copies come before their original, a star around the first
 * copy would leave the other copies out although each matches the
 * original. */
static int split_component(cluster_state *st, size_t *members, size_t n, size_t *scratch, nd_keep keep,
                           nd_clusters *out)
{
    const nd_store *store = st->store;
    const nd_text_meta *docs = store->meta;
    if (keep == ND_KEEP_LONGEST && sort_longest_first(docs, members, n) != ND_OK)
        return ND_ENOMEM;
    if (n > CENTER_LIMIT)
        return star_split(st, members, n, scratch, out);
    double threshold = store->opts->threshold;
    double *jac = nd_malloc(n * n * sizeof *jac);
    unsigned char *alive = nd_malloc(n);
    unsigned char *in_cluster = nd_malloc(n);
    nd_member *others = nd_malloc(n * sizeof *others);
    size_t *cluster = nd_malloc(n * sizeof *cluster);
    const uint32_t **ids = nd_malloc(n * sizeof *ids);
    uint32_t *arena = NULL;
    int rc = ND_ENOMEM;
    if (!jac || !alive || !in_cluster || !others || !cluster || !ids)
        goto done;
    if (store->on_disk) {
        /* read every member's ids once, into one arena */
        size_t total = 0;
        for (size_t i = 0; i < n; i++)
            total += docs[members[i]].count;
        arena = nd_malloc((total ? total : 1) * sizeof *arena);
        if (!arena)
            goto done;
    }
    for (size_t i = 0, at = 0; i < n; i++) {
        const uint32_t *loaded = state_ids(st, members[i], &st->buf_a);
        if (st->io_status != ND_OK) {
            rc = st->io_status;
            goto done;
        }
        size_t c = docs[members[i]].count;
        if (arena && c)
            memcpy(arena + at, loaded, c * sizeof *arena);
        ids[i] = arena ? arena + at : loaded; /* in memory: borrowed */
        at += c;
    }
    for (size_t i = 0; i < n; i++) {
        jac[i * n + i] = 1.0;
        alive[i] = 1;
        for (size_t k = i + 1; k < n; k++) {
            double j = ids_jaccard(ids[i], docs[members[i]].count, ids[k], docs[members[k]].count);
            jac[i * n + k] = jac[k * n + i] = j;
        }
    }
    rc = ND_OK;
    size_t remaining = n;
    while (rc == ND_OK && remaining >= 2) {
        size_t center = SIZE_MAX, best = 0;
        for (size_t i = 0; i < n; i++) {
            if (!alive[i])
                continue;
            size_t cover = 0;
            for (size_t k = 0; k < n; k++)
                cover += alive[k] && k != i && reaches(jac[i * n + k], threshold);
            if (cover > best) {
                best = cover;
                center = i;
            }
        }
        if (center == SIZE_MAX)
            break; /* no two remaining members match */
        size_t size = 0;
        for (size_t k = 0; k < n; k++) {
            in_cluster[k] = alive[k] && (k == center || reaches(jac[center * n + k], threshold));
            if (in_cluster[k])
                cluster[size++] = k; /* in policy order */
        }
        size_t survivor = center;
        for (size_t c = 0; c < size; c++) {
            size_t s = cluster[c];
            int covers_all = 1;
            for (size_t d = 0; d < size && covers_all; d++)
                covers_all = reaches(jac[s * n + cluster[d]], threshold);
            if (covers_all) {
                survivor = s;
                break;
            }
        }
        size_t count = 0;
        for (size_t c = 0; c < size; c++) {
            size_t k = cluster[c];
            alive[k] = 0;
            if (k != survivor)
                others[count++] = (nd_member){members[k], jac[survivor * n + k]};
        }
        remaining -= size;
        rc = emit_cluster(out, members[survivor], others, count);
    }
done:
    nd_free(jac);
    nd_free(alive);
    nd_free(in_cluster);
    nd_free(others);
    nd_free(cluster);
    nd_free(ids);
    nd_free(arena);
    return rc;
}

typedef struct {
    size_t first; /* earliest member */
    size_t start, len;
} cluster_span;

static int compare_span(const void *pa, const void *pb)
{
    const cluster_span *a = pa, *b = pb;
    return (a->first > b->first) - (a->first < b->first);
}

/* Put clusters in canonical order: by earliest member. */
static int order_clusters(nd_clusters *c)
{
    cluster_span *spans = nd_malloc((c->count ? c->count : 1) * sizeof *spans);
    nd_member *members = nd_malloc((c->members_count ? c->members_count : 1) * sizeof *members);
    if (!spans || !members) {
        nd_free(spans);
        nd_free(members);
        return ND_ENOMEM;
    }
    for (size_t i = 0; i < c->count; i++) {
        spans[i].start = c->starts[i];
        spans[i].len = c->starts[i + 1] - c->starts[i];
        spans[i].first = SIZE_MAX;
        for (size_t k = 0; k < spans[i].len; k++) {
            size_t doc = c->members[spans[i].start + k].doc;
            spans[i].first = doc < spans[i].first ? doc : spans[i].first;
        }
    }
    qsort(spans, c->count, sizeof *spans, compare_span);
    size_t w = 0;
    for (size_t i = 0; i < c->count; i++) {
        memcpy(members + w, c->members + spans[i].start, spans[i].len * sizeof *members);
        c->starts[i] = w;
        w += spans[i].len;
    }
    c->starts[c->count] = w;
    nd_free(c->members);
    c->members = members;
    c->members_capacity = c->members_count;
    nd_free(spans);
    return ND_OK;
}

/* Group the texts by component, in input order, and split each. */
static int build_clusters(cluster_state *st, nd_keep keep, nd_clusters *out)
{
    size_t n = st->store->count;
    size_t *root_of = nd_malloc((n ? n : 1) * sizeof *root_of);
    size_t *offset = nd_calloc(n + 1, sizeof *offset);
    size_t *members = nd_malloc((n ? n : 1) * sizeof *members);
    size_t *scratch = nd_malloc((n ? n : 1) * sizeof *scratch);
    int rc = ND_ENOMEM;
    if (!root_of || !offset || !members || !scratch)
        goto done;
    for (size_t d = 0; d < n; d++) {
        root_of[d] = nd_uf_find(&st->uf, d);
        offset[root_of[d] + 1]++;
    }
    for (size_t r = 0; r < n; r++)
        offset[r + 1] += offset[r];
    for (size_t d = 0; d < n; d++)
        members[offset[root_of[d]]++] = d; /* offset[r] now ends component r */
    rc = ND_OK;
    size_t begin = 0;
    for (size_t r = 0; r < n && rc == ND_OK; r++) {
        size_t end = offset[r];
        if (end - begin >= 2) /* members[begin, end) are in input order already */
            rc = split_component(st, members + begin, end - begin, scratch, keep, out);
        begin = end;
    }
    if (rc == ND_OK)
        rc = order_clusters(out);
done:
    nd_free(root_of);
    nd_free(offset);
    nd_free(members);
    nd_free(scratch);
    return rc;
}

int nd_store_cluster(nd_clusters **out, nd_cluster_stats *stats, const nd_store *store, unsigned threads, nd_keep keep)
{
    cluster_state st;
    memset(&st, 0, sizeof st);
    st.store = store;
    st.threads = threads;
    nd_clusters *clusters = nd_calloc(1, sizeof *clusters);
    int rc = ND_ENOMEM;
    if (!clusters)
        goto done;
    clusters->starts = nd_calloc(1, sizeof *clusters->starts);
    if (!clusters->starts)
        goto done;
    clusters->starts_capacity = 1;
    if (nd_uf_init(&st.uf, store->count) != ND_OK)
        goto done;
    st.is_representative = nd_calloc(store->count + 1, 1);
    st.keyed = nd_malloc((store->count + 1) * sizeof *st.keyed);
    st.keyed_tmp = nd_malloc((store->count + 1) * sizeof *st.keyed_tmp);
    if (!st.is_representative || !st.keyed || !st.keyed_tmp)
        goto done;
    if (store->on_disk) {
        st.band_chunk = nd_malloc(ND_KEY_CHUNK * sizeof *st.band_chunk);
        if (!st.band_chunk)
            goto done;
    }
    rc = join_identical_sets(&st);
    /* the set-hash entries are done with: reuse their memory for the bands */
    nd_free(st.keyed_tmp);
    st.keyed_tmp = NULL;
    st.band = (uint64_t *)(void *)st.keyed;
    st.band_tmp = st.band + store->count + 1;
    if (rc == ND_OK)
        rc = join_verified_candidates(&st);
    if (rc == ND_OK)
        rc = build_clusters(&st, keep, clusters);
done:
    nd_uf_release(&st.uf);
    nd_free(st.is_representative);
    nd_free(st.keyed);
    nd_free(st.keyed_tmp);
    nd_pair_set_release(&st.rejected);
    nd_free(st.buf_a.data);
    nd_free(st.buf_b.data);
    nd_free(st.band_chunk);
    if (rc != ND_OK) {
        nd_clusters_free(clusters);
        return rc;
    }
    if (stats)
        *stats = st.stats;
    *out = clusters;
    return ND_OK;
}

int nd_index_cluster(nd_clusters **out, nd_cluster_stats *stats, const nd_index *index, nd_keep keep)
{
    nd_store store;
    int rc = nd_index_store(index, &store);
    if (rc != ND_OK)
        return rc;
    return nd_store_cluster(out, stats, &store, nd_index_threads(index), keep);
}
