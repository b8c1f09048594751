/* split.c - step 3 of clustering: each connected component of verified
 * pairs split into clusters whose every member matches the text kept in
 * its place, and the list of clusters those make.
 *
 * A connected component can chain: A~B and B~C with A and C unrelated.
 * Each component is therefore split by greedy set cover: the member
 * covering the most others is a center, it and the members it covers form
 * a cluster, repeat on the rest. The survivor is the first member (by
 * --keep policy) that covers every other member of its cluster, so every
 * member is verified against the text kept in its place (see
 * split_component). Under containment "covers" means "contains", so the
 * survivor is a text that contains the others. A component of more than
 * CENTER_LIMIT texts (where all pairwise overlaps would cost too much) is
 * split around survivors in policy order instead (star_split), each
 * compared with the members an exact prefix filter names
 * (prefix_filter.c), not with every remaining one.
 *
 * Components are independent, so with threads they are split in parallel,
 * each thread into its own list; the lists are joined and put in canonical
 * order (by earliest member), so the result is the same for any thread
 * count. Clustering (cluster.c) finds the components; the distributed run
 * (src/mpi/) splits the components it gathered with nd_store_split.
 */
#include "split.h"

#include <assert.h>    /* assert */
#include <pthread.h>   /* pthread_create, pthread_join */
#include <stdatomic.h> /* atomic_size_t */
#include <stdlib.h>    /* qsort */
#include <string.h>    /* memcmp, memcpy, memset */

#include "alloc.h"
#include "measure.h"
#include "prefix_filter.h"

/* ****  Clusters  **** */

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
nd_clusters *nd_clusters_new(void)
{
    nd_clusters *c = nd_calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->starts = nd_calloc(1, sizeof *c->starts); /* starts[0] = 0 */
    if (!c->starts) {
        nd_free(c);
        return NULL;
    }
    c->starts_capacity = 1;
    return c;
}

/* ****  Splitting  **** */

/* ids of doc into one of the state's buffers (NULL on a read error). */
static const uint32_t *state_ids(nd_split_state *st, size_t doc, nd_id_buffer *buf)
{
    return st->store->ids(st->store->backend, doc, buf, &st->io_status);
}

static int push_member(nd_clusters *c, nd_member member)
{
    if (nd_grow_huge((void **)&c->members, &c->members_capacity, c->members_count + 1, sizeof *c->members) != 0)
        return ND_ENOMEM;
    c->members[c->members_count++] = member;
    return ND_OK;
}

static int close_cluster(nd_clusters *c)
{
    if (nd_grow_huge((void **)&c->starts, &c->starts_capacity, c->count + 2, sizeof *c->starts) != 0)
        return ND_ENOMEM;
    c->count++;
    c->starts[c->count] = c->members_count;
    return ND_OK;
}

/* A member as reported: its scores against the survivor. */
static nd_member scored_member(const nd_store *store, size_t survivor, size_t doc, size_t shared)
{
    size_t ns = store->meta[survivor].count, nm = store->meta[doc].count;
    return (nd_member){doc, nd_jaccard_counts(ns, nm, shared), nd_containment_counts(nm, shared)};
}

typedef struct {
    uint64_t key; /* lowest kept first */
    size_t doc;
} keyed_member;

static int compare_keyed_member(const void *pa, const void *pb)
{
    const keyed_member *a = pa, *b = pb;
    if (a->key != b->key)
        return a->key < b->key ? -1 : 1;
    return (a->doc > b->doc) - (a->doc < b->doc);
}

/* The rank of a text for ND_KEEP_RANK: last when it has none. */
static uint64_t rank_of(const nd_store *store, size_t doc)
{
    return store->rank && doc < store->rank_count ? store->rank[doc] : UINT64_MAX;
}

/* Put members (in input order) in `keep` order: input order; heaviest
 * first; lowest rank first; ties in input order. */
static int order_members(const nd_store *store, size_t *members, size_t n, nd_keep keep)
{
    if (keep == ND_KEEP_FIRST)
        return ND_OK;
    keyed_member *w = nd_malloc(n * sizeof *w);
    if (!w)
        return ND_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        uint64_t key = keep == ND_KEEP_LONGEST ? ~nd_store_weight(store, members[i]) : rank_of(store, members[i]);
        w[i] = (keyed_member){key, members[i]};
    }
    qsort(w, n, sizeof *w, compare_keyed_member);
    for (size_t i = 0; i < n; i++)
        members[i] = w[i].doc;
    nd_free(w);
    return ND_OK;
}

static int by_doc(const void *a, const void *b)
{
    size_t x = ((const nd_member *)a)->doc, y = ((const nd_member *)b)->doc;
    return (x > y) - (x < y);
}

/* Append one cluster: the survivor, then the others in input order with
 * their exact scores against it. They come in policy order: sorted by
 * their (distinct) numbers, not by insertion, which was quadratic in a
 * cluster's size for every --keep but first (160k copies with --keep
 * max:date: 7 s against 0.2 s for 20k). */
static int emit_cluster(nd_clusters *out, size_t survivor, nd_member *others, size_t count)
{
    size_t a = 1;
    while (a < count && others[a - 1].doc < others[a].doc)
        a++;
    if (a < count) /* not in input order already */
        qsort(others, count, sizeof *others, by_doc);
    int rc = push_member(out, (nd_member){survivor, 1.0, 1.0});
    for (size_t k = 0; rc == ND_OK && k < count; k++)
        rc = push_member(out, others[k]);
    return rc == ND_OK ? close_cluster(out) : rc;
}

/* Components larger than this are split around survivors in policy order
 * (linear in the component per cluster) instead of around centers (which
 * needs all pairwise overlaps). */
enum { CENTER_LIMIT = 400 };

/* Star split for large components: the first remaining member by policy
 * is the survivor; every remaining member it covers joins. The members it
 * may cover come from a prefix filter (prefix_filter.c: exact, a superset
 * of those it covers), so a round reads the members sharing a rare
 * shingle with the survivor, not every remaining one; where no filter is
 * exact every remaining member is compared. */
typedef struct member_source {
    nd_split_state *st;
    const size_t *members;
} member_source;

/* nd_member_ids_fn over a component's members (read into buf_a). */
static const uint32_t *member_ids(void *ctx, size_t member, size_t *count)
{
    member_source *source = ctx;
    size_t doc = source->members[member];
    *count = source->st->store->meta[doc].count;
    return *count ? state_ids(source->st, doc, &source->st->buf_a) : NULL;
}

static int star_split(nd_split_state *st, size_t *members, size_t n, nd_clusters *out)
{
    const nd_store *store = st->store;
    const nd_text_meta *docs = store->meta;
    nd_prefix_filter filter;
    member_source source = {st, members};
    int rc = nd_prefix_filter_build(&filter, store->opts->threshold, n, member_ids, &source, 0);
    int filtered = rc == ND_OK;
    if (rc == ND_EIO)
        return st->io_status;
    if (rc != ND_OK && rc != ND_EINVAL)
        return rc;
    nd_member *others = nd_malloc(n * sizeof *others);
    unsigned char *alive = nd_malloc(n);
    uint32_t *candidates = filtered ? nd_malloc(n * sizeof *candidates) : NULL;
    rc = others && alive && (candidates || !filtered) ? ND_OK : ND_ENOMEM;
    if (alive)
        memset(alive, 1, n);
    size_t first = 0, remaining = n;
    while (rc == ND_OK && remaining >= 2) {
        while (!alive[first])
            first++;
        size_t survivor = members[first];
        alive[first] = 0;
        remaining--;
        const uint32_t *survivor_ids = state_ids(st, survivor, &st->buf_a);
        if (st->io_status != ND_OK)
            break;
        size_t ns = docs[survivor].count, found = 0, count = 0;
        if (filtered)
            found = nd_prefix_filter_candidates(&filter, survivor_ids, ns, alive, candidates);
        /* unfiltered: every remaining member, in policy order */
        for (size_t c = 0, i = first + 1; filtered ? c < found : i < n; c++, i++) {
            size_t at = filtered ? candidates[c] : i;
            if (!alive[at])
                continue;
            const uint32_t *ids = state_ids(st, members[at], &st->buf_b);
            if (st->io_status != ND_OK)
                break;
            size_t nm = docs[members[at]].count;
            size_t shared = nd_ids_shared(survivor_ids, ns, ids, nm);
            if (nd_covers(store->opts, ns, nm, shared)) {
                others[count++] = scored_member(store, survivor, members[at], shared);
                alive[at] = 0;
                remaining--;
            }
        }
        if (st->io_status == ND_OK && count > 0)
            rc = emit_cluster(out, survivor, others, count);
    }
    if (rc == ND_OK && st->io_status != ND_OK)
        rc = st->io_status;
    nd_free(others);
    nd_free(alive);
    nd_free(candidates);
    nd_prefix_filter_free(&filter);
    return rc;
}

/* A component that is one identical set (clustering joined its members
 * because their shingle ids are equal, compared id by id): every member
 * covers every other, so it is one cluster around the first member in
 * policy order, every score 1, which split_component would find by
 * reading and comparing every member's ids again. */
static int one_set_cluster(const nd_store *store, size_t *members, size_t n, nd_keep keep, nd_clusters *out)
{
    if (order_members(store, members, n, keep) != ND_OK)
        return ND_ENOMEM;
    nd_member *others = nd_malloc(n * sizeof *others);
    if (!others)
        return ND_ENOMEM;
    size_t survivor = members[0], shared = store->meta[survivor].count;
    assert(shared > 0 && nd_covers(store->opts, shared, shared, shared));
    for (size_t i = 1; i < n; i++) {
        assert(store->meta[members[i]].count == shared);
        others[i - 1] = scored_member(store, survivor, members[i], shared);
    }
    int rc = emit_cluster(out, survivor, others, n - 1);
    nd_free(others);
    return rc;
}

/* Step 3: split one component (members in input order) into verified
 * clusters, appended to out.
 *
 * Greedy set cover on the graph of "i covers k" (nd_covers: k reaches the
 * threshold with i; under containment, k is contained in i): the center
 * is the remaining member that covers the most remaining others (ties:
 * policy order); the cluster is the center and the members it covers. Its
 * survivor is the first member, in policy order, that covers every other
 * member of the cluster (the center always does), so every reported
 * (survivor, member) pair is verified, and --keep first keeps the
 * earliest document that can stand for the whole cluster (under
 * containment, a text that contains all the others). Centering matters:
 * when edited copies come before their original, a star around the first
 * copy would leave the other copies out although each matches the
 * original.
 *
 * Members with the same shingle set (a paragraph repeated across
 * documents: most of a component in paragraph mode) cover and are covered
 * alike, so overlaps and "covers" are computed once per distinct set
 * (`kind` below), and a member's count of remaining others it covers is
 * summed over the kinds' remaining members: the work is quadratic in the
 * distinct sets, not in the members. */
static int split_component(nd_split_state *st, size_t *members, size_t n, nd_keep keep, nd_clusters *out)
{
    const nd_store *store = st->store;
    const nd_text_meta *docs = store->meta;
    if (order_members(store, members, n, keep) != ND_OK)
        return ND_ENOMEM;
    if (n > CENTER_LIMIT)
        return star_split(st, members, n, out);
    const nd_options *opts = store->opts;
    size_t *kind = nd_malloc(n * sizeof *kind);   /* member -> its kind */
    size_t *first = nd_malloc(n * sizeof *first); /* kind -> its first member */
    size_t *alive_in = nd_malloc(n * sizeof *alive_in);
    size_t *cover = nd_malloc(n * sizeof *cover);
    size_t *shared = NULL;        /* [a * kinds + b]: overlap of kinds a and b */
    unsigned char *covers = NULL; /* [a * kinds + b]: does kind a, as survivor, cover kind b */
    unsigned char *alive = nd_malloc(n);
    unsigned char *in_cluster = nd_malloc(n);
    nd_member *others = nd_malloc(n * sizeof *others);
    size_t *cluster = nd_malloc(n * sizeof *cluster);
    const uint32_t **ids = nd_malloc(n * sizeof *ids);
    uint32_t *arena = NULL;
    int rc = ND_ENOMEM;
    if (!kind || !first || !alive_in || !cover || !alive || !in_cluster || !others || !cluster || !ids)
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
    /* kinds: a member joins the first earlier kind of the same set (same
     * hash, then same ids: a hash collision makes a kind of its own) */
    size_t kinds = 0;
    for (size_t i = 0; i < n; i++) {
        const nd_text_meta *m = &docs[members[i]];
        size_t a = 0;
        for (; a < kinds; a++) {
            const nd_text_meta *f = &docs[members[first[a]]];
            if (f->set_hash == m->set_hash && f->count == m->count &&
                (m->count == 0 || memcmp(ids[first[a]], ids[i], m->count * sizeof *ids[i]) == 0))
                break;
        }
        if (a == kinds) {
            first[kinds] = i;
            alive_in[kinds] = 0;
            kinds++;
        }
        kind[i] = a;
        alive_in[a]++;
        alive[i] = 1;
    }
    shared = nd_malloc(kinds * kinds * sizeof *shared);
    covers = nd_malloc(kinds * kinds);
    if (!shared || !covers)
        goto done;
    for (size_t a = 0; a < kinds; a++) {
        size_t na = docs[members[first[a]]].count;
        shared[a * kinds + a] = na;
        for (size_t b = a + 1; b < kinds; b++)
            shared[a * kinds + b] = shared[b * kinds + a] =
                nd_intersection(ids[first[a]], na, ids[first[b]], docs[members[first[b]]].count);
    }
    for (size_t a = 0; a < kinds; a++) {
        for (size_t b = 0; b < kinds; b++)
            covers[a * kinds + b] = (unsigned char)nd_covers(opts, docs[members[first[a]]].count,
                                                             docs[members[first[b]]].count, shared[a * kinds + b]);
    }
/* does member i, as survivor, cover member k */
#define COVERS(i, k) covers[kind[i] * kinds + kind[k]]
    rc = ND_OK;
    size_t remaining = n;
    while (rc == ND_OK && remaining >= 2) {
        /* cover[a]: how many remaining others a member of kind a covers */
        for (size_t a = 0; a < kinds; a++) {
            size_t count = 0;
            if (alive_in[a] == 0) {
                cover[a] = 0;
                continue;
            }
            for (size_t b = 0; b < kinds; b++)
                count += alive_in[b] * covers[a * kinds + b];
            cover[a] = count - covers[a * kinds + a]; /* not itself (alive when asked) */
        }
        size_t center = SIZE_MAX, best = 0;
        for (size_t i = 0; i < n; i++) {
            if (alive[i] && cover[kind[i]] > best) {
                best = cover[kind[i]];
                center = i;
            }
        }
        if (center == SIZE_MAX)
            break; /* no remaining member covers another */
        size_t size = 0;
        for (size_t k = 0; k < n; k++) {
            in_cluster[k] = alive[k] && (k == center || COVERS(center, k));
            if (in_cluster[k])
                cluster[size++] = k; /* in policy order */
        }
        /* the survivor: the first member covering every other member; the
         * members of one kind pass or fail together, so each kind is
         * tried once (cover[] now marks the kinds tried) */
        for (size_t c = 0; c < size; c++)
            cover[kind[cluster[c]]] = 0;
        size_t survivor = center;
        for (size_t c = 0; c < size; c++) {
            size_t s = cluster[c];
            if (cover[kind[s]])
                continue;
            cover[kind[s]] = 1;
            int covers_all = 1;
            for (size_t d = 0; d < size && covers_all; d++)
                covers_all = cluster[d] == s || COVERS(s, cluster[d]);
            if (covers_all) {
                survivor = s;
                break;
            }
        }
        size_t count = 0;
        for (size_t c = 0; c < size; c++) {
            size_t k = cluster[c];
            alive[k] = 0;
            alive_in[kind[k]]--;
            if (k != survivor)
                others[count++] =
                    scored_member(store, members[survivor], members[k], shared[kind[survivor] * kinds + kind[k]]);
        }
        remaining -= size;
        rc = emit_cluster(out, members[survivor], others, count);
    }
#undef COVERS
done:
    nd_free(kind);
    nd_free(first);
    nd_free(alive_in);
    nd_free(cover);
    nd_free(shared);
    nd_free(covers);
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
    const nd_member *members;
    size_t len;
} cluster_span;

static int compare_span(const void *pa, const void *pb)
{
    const cluster_span *a = pa, *b = pb;
    return (a->first > b->first) - (a->first < b->first);
}

/* Put the clusters of lists[0 .. count) (each thread's) into lists[0], in
 * canonical order: by earliest member (clusters are disjoint: no ties).
 * Often one list is in that order already (components come by their first
 * member): then nothing moves and no second copy of the members is made;
 * otherwise every member is copied once, straight to its place. */
static int order_clusters(nd_clusters *lists, size_t count)
{
    nd_clusters *c = &lists[0];
    size_t clusters = 0, members_count = 0;
    for (size_t l = 0; l < count; l++) {
        clusters += lists[l].count;
        members_count += lists[l].members_count;
    }
    cluster_span *spans = nd_malloc((clusters ? clusters : 1) * sizeof *spans);
    if (!spans)
        return ND_ENOMEM;
    size_t n = 0;
    for (size_t l = 0; l < count; l++) {
        for (size_t i = 0; i < lists[l].count; i++, n++) {
            spans[n].members = lists[l].members + lists[l].starts[i];
            spans[n].len = lists[l].starts[i + 1] - lists[l].starts[i];
            spans[n].first = SIZE_MAX;
            for (size_t k = 0; k < spans[n].len; k++)
                spans[n].first = spans[n].members[k].doc < spans[n].first ? spans[n].members[k].doc : spans[n].first;
        }
    }
    int sorted = 1;
    for (size_t i = 1; i < clusters && sorted; i++)
        sorted = spans[i - 1].first < spans[i].first;
    if (sorted && clusters == c->count) { /* the other lists are empty */
        nd_free(spans);
        return ND_OK;
    }
    /* filled whole: huge pages (alloc.h) */
    nd_member *members = nd_malloc_huge((members_count ? members_count : 1) * sizeof *members);
    if (!members || nd_grow((void **)&c->starts, &c->starts_capacity, clusters + 1, sizeof *c->starts) != 0) {
        nd_free(members);
        nd_free(spans);
        return ND_ENOMEM;
    }
    if (!sorted)
        qsort(spans, clusters, sizeof *spans, compare_span);
    size_t w = 0;
    for (size_t i = 0; i < clusters; i++) {
        memcpy(members + w, spans[i].members, spans[i].len * sizeof *members);
        c->starts[i] = w;
        w += spans[i].len;
    }
    c->starts[clusters] = w;
    c->count = clusters;
    nd_free(c->members);
    c->members = members;
    c->members_count = c->members_capacity = members_count;
    nd_free(spans);
    return ND_OK;
}

/* The components to split (members[begin, end), two or more each), shared
 * by the threads that split them: each takes SPLIT_GRAB at a time and
 * appends its clusters to its own list; order_clusters then puts all of
 * them in canonical order, so the result is the same for any thread count. */
enum { SPLIT_GRAB = 16 };

typedef struct split_work {
    const nd_store *store;
    size_t *members;
    const size_t *bounds;         /* component c is members[bounds[2c], bounds[2c + 1]) */
    const unsigned char *one_set; /* per component: one identical set (one_set_cluster), or NULL */
    size_t count;
    nd_keep keep;
    atomic_size_t next;
} split_work;

typedef struct split_thread {
    split_work *work;
    nd_split_state st; /* its own id buffers and read status */
    nd_clusters out;
    int rc;
} split_thread;

static void *split_some(void *arg)
{
    split_thread *t = arg;
    split_work *w = t->work;
    t->rc = ND_OK;
    if (!t->out.starts) {
        t->out.starts = nd_calloc(1, sizeof *t->out.starts); /* starts[0] = 0 */
        t->out.starts_capacity = 1;
        if (!t->out.starts) {
            t->rc = ND_ENOMEM;
            atomic_store(&w->next, w->count);
            return NULL;
        }
    }
    for (;;) {
        size_t first = atomic_fetch_add(&w->next, SPLIT_GRAB);
        size_t last = first + SPLIT_GRAB < w->count ? first + SPLIT_GRAB : w->count;
        for (size_t c = first; c < last && t->rc == ND_OK; c++) {
            size_t begin = w->bounds[2 * c], end = w->bounds[2 * c + 1];
            if (w->one_set && w->one_set[c])
                t->rc = one_set_cluster(w->store, w->members + begin, end - begin, w->keep, &t->out);
            else
                t->rc = split_component(&t->st, w->members + begin, end - begin, w->keep, &t->out);
        }
        if (t->rc != ND_OK)
            atomic_store(&w->next, w->count); /* the others stop too */
        if (first >= w->count || t->rc != ND_OK)
            return NULL;
    }
}

int nd_split_components(nd_split_state *st, size_t *members, const size_t *bounds, const unsigned char *one_set,
                        size_t count, unsigned threads, nd_keep keep, nd_clusters *out)
{
    split_work work = {st->store, members, bounds, one_set, count, keep, 0};
    split_work *w = &work;
    enum { MAX_SPLIT_THREADS = 64 };
    split_thread t[MAX_SPLIT_THREADS];
    pthread_t helpers[MAX_SPLIT_THREADS];
    if (threads > MAX_SPLIT_THREADS)
        threads = MAX_SPLIT_THREADS;
    if (st->store->on_disk || w->count < 4 * SPLIT_GRAB)
        threads = 1; /* ids read back from files, or too little to share */
    memset(t, 0, sizeof t);
    unsigned started = 0;
    for (unsigned k = 1; k < threads; k++) {
        t[k].work = w;
        t[k].st.store = st->store;
        if (pthread_create(&helpers[k - 1], NULL, split_some, &t[k]) != 0)
            break;
        started++;
    }
    t[0].work = w;
    t[0].st = *st;
    t[0].out = *out;
    split_some(&t[0]);
    *st = t[0].st;
    int rc = t[0].rc;
    nd_clusters lists[MAX_SPLIT_THREADS];
    lists[0] = t[0].out;
    for (unsigned k = 1; k <= started; k++) {
        pthread_join(helpers[k - 1], NULL);
        if (rc == ND_OK)
            rc = t[k].rc;
        lists[k] = t[k].out;
        nd_free(t[k].st.buf_a.data);
        nd_free(t[k].st.buf_b.data);
    }
    if (rc == ND_OK)
        rc = order_clusters(lists, started + 1);
    *out = lists[0];
    for (unsigned k = 1; k <= started; k++) {
        nd_free(lists[k].members);
        nd_free(lists[k].starts);
    }
    return rc;
}

int nd_store_split(nd_clusters **out, const nd_store *store, nd_keep keep)
{
    nd_split_state st;
    memset(&st, 0, sizeof st);
    st.store = store;
    size_t n = store->count;
    nd_clusters *clusters = nd_clusters_new();
    size_t *members = nd_malloc((n ? n : 1) * sizeof *members);
    int rc = ND_ENOMEM;
    if (!clusters || !members)
        goto done;
    for (size_t d = 0; d < n; d++)
        members[d] = d;
    rc = n >= 2 ? split_component(&st, members, n, keep, clusters) : ND_OK;
    if (rc == ND_OK)
        rc = order_clusters(clusters, 1);
done:
    nd_free(members);
    nd_free(st.buf_a.data);
    nd_free(st.buf_b.data);
    if (rc != ND_OK) {
        nd_clusters_free(clusters);
        return rc;
    }
    *out = clusters;
    return ND_OK;
}
