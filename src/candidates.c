/* candidates.c - the first two steps of clustering and pair listing:
 * texts with identical shingle sets, and LSH candidates.
 *
 * Identical sets. Texts are sorted by set hash (its upper half first, see
 * nd_identical_sets); equal sets are found once and only the first text of
 * each goes on to the candidate stage, so a thousand copies cost a sort,
 * not half a million pair checks.
 *
 * LSH bands. For each band the (key, text) entries of the representatives
 * are gathered and sorted (stable, so texts stay in input order within a
 * key); texts that share a key are candidates, which the caller verifies.
 * Preparing a band is most of the work and bands are independent, so with
 * T threads, T - 1 helpers prepare the next bands while the caller's
 * thread visits (verifies) the one before: verification, which must run
 * in order, overlaps preparation instead of waiting for it. Bands are
 * handed to the caller one after the other in band order on its own
 * thread, so what it builds is the same for any T.
 */
#include "candidates.h"

#include <pthread.h> /* pthread_create, pthread_join */
#include <string.h>  /* memcmp, memset */

#include "alloc.h"
#include "sort.h"

/* ****  Identical sets  **** */

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

/* One set: entries[0 .. n) (text numbers in input order, every one with
 * the same set hash): the first is the set's representative, every other
 * text with the same ids joins it (a text whose ids differ only shares the
 * 64-bit hash: a representative of its own). */
static int one_set(unsigned char *is_representative, uint64_t *exact_groups, const nd_store *store, const size_t *docs,
                   size_t n, nd_same_fn same, void *ctx, nd_id_buffer *buf_a, nd_id_buffer *buf_b)
{
    int rc = ND_OK;
    is_representative[docs[0]] = 1;
    if (n < 2)
        return ND_OK;
    (*exact_groups)++;
    const nd_text_meta *first = &store->meta[docs[0]];
    const uint32_t *first_ids = store->ids(store->backend, docs[0], buf_a, &rc);
    for (size_t k = 1; k < n && rc == ND_OK; k++) {
        const nd_text_meta *other = &store->meta[docs[k]];
        const uint32_t *other_ids = store->ids(store->backend, docs[k], buf_b, &rc);
        if (rc != ND_OK)
            break;
        if (same_ids(first_ids, first->count, other_ids, other->count))
            same(ctx, docs[0], docs[k]);
        else
            is_representative[docs[k]] = 1; /* a 64-bit hash collision */
    }
    return rc;
}

/* Texts are sorted by the upper 32 bits of their set hash, as (hash >> 32
 * << 32 | text) entries: three radix passes over 8 bytes a text, where
 * sorting (hash, text) pairs by all 64 bits took eight over 16. A run of
 * equal upper halves is nearly always one set (copies); when it is not
 * (two hashes share their upper half), the run is sorted by the whole hash
 * before its sets are taken, so sets come in the order of their whole
 * hash, texts in input order within each, as a sort by the whole hash
 * would give them. */
int nd_identical_sets(unsigned char *is_representative, uint64_t *exact_groups, const nd_store *store, nd_same_fn same,
                      void *ctx)
{
    uint64_t *entries = nd_malloc((store->count + 1) * 2 * sizeof *entries);
    size_t *docs = NULL; /* one run's texts */
    keyed_doc *keyed = NULL, *tmp = NULL;
    size_t docs_capacity = 0, keyed_capacity = 0;
    nd_id_buffer buf_a = {NULL, 0}, buf_b = {NULL, 0};
    int rc = ND_ENOMEM;
    if (!entries)
        goto done;
    rc = ND_OK;
    size_t m = 0;
    for (size_t d = 0; d < store->count; d++) {
        entries[m] = store->meta[d].set_hash >> 32 << 32 | d;
        m += store->meta[d].count > 0;
    }
    nd_sort_u64_high32(entries, entries + store->count + 1, m);
    for (size_t i = 0; i < m && rc == ND_OK;) {
        size_t j = i + 1;
        while (j < m && (entries[j] ^ entries[i]) >> 32 == 0)
            j++;
        if (j - i == 1) { /* most texts: a set of their own, no need to look further */
            is_representative[(uint32_t)entries[i]] = 1;
            i = j;
            continue;
        }
        if (nd_grow((void **)&docs, &docs_capacity, j - i, sizeof *docs) != 0) {
            rc = ND_ENOMEM;
            break;
        }
        uint64_t hash = store->meta[(uint32_t)entries[i]].set_hash;
        size_t n = 0;
        int one = 1;
        for (size_t k = i; k < j; k++) {
            docs[n++] = (uint32_t)entries[k];
            one &= store->meta[docs[n - 1]].set_hash == hash;
        }
        if (one) {
            rc = one_set(is_representative, exact_groups, store, docs, n, same, ctx, &buf_a, &buf_b);
        } else {
            if (nd_grow((void **)&keyed, &keyed_capacity, 2 * n, sizeof *keyed) != 0) {
                rc = ND_ENOMEM;
                break;
            }
            tmp = keyed + n;
            for (size_t k = 0; k < n; k++)
                keyed[k] = (keyed_doc){store->meta[docs[k]].set_hash, docs[k]};
            sort_keyed(keyed, tmp, n);
            for (size_t k = 0; k < n; k++)
                docs[k] = keyed[k].doc;
            for (size_t a = 0; a < n && rc == ND_OK;) {
                size_t b = a + 1;
                while (b < n && keyed[b].key == keyed[a].key)
                    b++;
                rc = one_set(is_representative, exact_groups, store, docs + a, b - a, same, ctx, &buf_a, &buf_b);
                a = b;
            }
        }
        i = j;
    }
done:
    nd_free(entries);
    nd_free(docs);
    nd_free(keyed);
    nd_free(buf_a.data);
    nd_free(buf_b.data);
    return rc;
}

/* ****  LSH bands  **** */

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
    for (size_t first = 0; first < store->count; first += ND_KEY_CHUNK) {
        keys = store->band_keys(store->backend, job->band, first / ND_KEY_CHUNK, job->chunk_buf);
        if (!keys) {
            job->rc = ND_EIO;
            return;
        }
        size_t n = store->count - first < ND_KEY_CHUNK ? store->count - first : ND_KEY_CHUNK;
        const unsigned char *is_representative = job->is_representative + first;
        uint64_t *entries = job->entries;
        /* branch-free: whether a text is a representative is a coin flip
         * where many texts are copies */
        for (size_t k = 0; k < n; k++) {
            entries[m] = (uint64_t)keys[k] << 32 | (first + k);
            m += is_representative[k] != 0;
        }
    }
    nd_sort_u64_high32(job->entries, job->tmp, m);
    /* only keys shared by two texts or more make candidates: the others go
     * here, on the helper's thread, not one by one on the caller's */
    uint64_t *e = job->entries;
    size_t kept = 0;
    for (size_t i = 0; i < m;) {
        size_t j = i + 1;
        while (j < m && (e[j] ^ e[i]) >> 32 == 0)
            j++;
        if (j - i >= 2) {
            memmove(e + kept, e + i, (j - i) * sizeof *e);
            kept += j - i;
        }
        i = j;
    }
    job->count = kept;
}

/* A job's buffers: room for every text's entry and its sort scratch, and
 * a chunk of keys when they are read back from files. Returns 0 or -1. */
static int band_job_alloc(band_job *job, const nd_store *store)
{
    job->entries = nd_malloc((store->count + 1) * 2 * sizeof *job->entries);
    job->chunk_buf = store->on_disk ? nd_malloc(ND_KEY_CHUNK * sizeof *job->chunk_buf) : NULL;
    if (!job->entries || (store->on_disk && !job->chunk_buf)) {
        nd_free(job->entries);
        nd_free(job->chunk_buf);
        return -1;
    }
    job->tmp = job->entries + store->count + 1;
    return 0;
}

enum { MAX_BAND_THREADS = 64 };

/* The bands in flight: band b is prepared into slot b % slots, once band
 * b - slots has been visited; helpers prepare bands ahead, in band order,
 * while the calling thread visits the ones ready (and prepares one itself
 * rather than wait). */
typedef struct band_pipe {
    band_job *jobs;
    unsigned slots, bands;
    pthread_mutex_t lock;
    pthread_cond_t changed;           /* a band prepared or visited, or stop */
    unsigned next;                    /* the next band to prepare */
    unsigned visited;                 /* bands visited */
    unsigned ready[MAX_BAND_THREADS]; /* per slot: the band prepared in it + 1, or 0 */
    int stop;
} band_pipe;

/* With the lock held: a band can be claimed (its slot is free). */
static int can_claim(const band_pipe *p)
{
    return p->next < p->bands && p->next < p->visited + p->slots;
}

/* With the lock held: claim the next band, prepare it with the lock
 * released, and mark it ready. */
static void claim_and_prepare(band_pipe *p)
{
    unsigned band = p->next++;
    band_job *job = &p->jobs[band % p->slots];
    pthread_mutex_unlock(&p->lock);
    job->band = band;
    prepare_band(job);
    pthread_mutex_lock(&p->lock);
    p->ready[band % p->slots] = band + 1;
    pthread_cond_broadcast(&p->changed);
}

static void *band_helper(void *arg)
{
    band_pipe *p = arg;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (!p->stop && p->next < p->bands && !can_claim(p))
            pthread_cond_wait(&p->changed, &p->lock);
        if (p->stop || p->next >= p->bands)
            break;
        claim_and_prepare(p);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

/* Visit the bands in order on this thread (see band_pipe). */
static int visit_bands(band_pipe *p, nd_band_fn visit, void *ctx)
{
    int rc = ND_OK;
    for (unsigned band = 0; band < p->bands && rc == ND_OK; band++) {
        unsigned slot = band % p->slots;
        pthread_mutex_lock(&p->lock);
        while (p->ready[slot] != band + 1) {
            if (can_claim(p))
                claim_and_prepare(p);
            else
                pthread_cond_wait(&p->changed, &p->lock);
        }
        pthread_mutex_unlock(&p->lock);
        rc = p->jobs[slot].rc;
        if (rc == ND_OK)
            rc = visit(ctx, p->jobs[slot].entries, p->jobs[slot].count);
        pthread_mutex_lock(&p->lock);
        p->ready[slot] = 0;
        p->visited++;
        pthread_cond_broadcast(&p->changed);
        pthread_mutex_unlock(&p->lock);
    }
    return rc;
}

int nd_band_candidates(const nd_store *store, const unsigned char *is_representative, unsigned threads,
                       nd_band_fn visit, void *ctx)
{
    unsigned bands = store->opts->bands;
    band_job jobs[MAX_BAND_THREADS];
    pthread_t helpers[MAX_BAND_THREADS];
    unsigned width = threads < 1 ? 1 : threads;
    if (width > MAX_BAND_THREADS)
        width = MAX_BAND_THREADS;
    if (width > bands)
        width = bands;
    /* job 0 must get its buffers; if memory is short for the others there
     * are simply fewer slots */
    unsigned jobs_ready = 0;
    for (unsigned t = 0; t < width; t++) {
        band_job *job = &jobs[t];
        memset(job, 0, sizeof *job);
        job->store = store;
        job->is_representative = is_representative;
        if (band_job_alloc(job, store) != 0)
            break;
        jobs_ready++;
    }
    if (jobs_ready == 0)
        return ND_ENOMEM;
    band_pipe p;
    memset(&p, 0, sizeof p);
    p.jobs = jobs;
    p.slots = jobs_ready;
    p.bands = bands;
    int rc = ND_ENOMEM;
    if (pthread_mutex_init(&p.lock, NULL) != 0)
        goto free_jobs;
    if (pthread_cond_init(&p.changed, NULL) != 0) {
        pthread_mutex_destroy(&p.lock);
        goto free_jobs;
    }
    /* one helper per slot but the caller's: while the caller visits a
     * band, the helpers prepare the next ones */
    unsigned started = 0;
    for (unsigned t = 1; t < jobs_ready; t++) {
        if (pthread_create(&helpers[started], NULL, band_helper, &p) != 0)
            break;
        started++;
    }
    rc = visit_bands(&p, visit, ctx);
    pthread_mutex_lock(&p.lock);
    p.stop = 1;
    pthread_cond_broadcast(&p.changed);
    pthread_mutex_unlock(&p.lock);
    for (unsigned t = 0; t < started; t++)
        pthread_join(helpers[t], NULL);
    pthread_cond_destroy(&p.changed);
    pthread_mutex_destroy(&p.lock);
free_jobs:
    for (unsigned t = 0; t < jobs_ready; t++) {
        nd_free(jobs[t].entries);
        nd_free(jobs[t].chunk_buf);
    }
    return rc;
}
