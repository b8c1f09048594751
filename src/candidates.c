/* candidates.c - the second step of clustering and pair listing: LSH
 * candidates (the first, identical sets, is identical.c; nd_sets_then_bands
 * runs both).
 *
 * LSH bands. For each band the (key, text) entries of the representatives
 * (a bit a text: the copies cost nothing) are gathered and sorted (stable,
 * so texts stay in input order within a key); texts that share a key are
 * candidates, which the caller verifies.
 * Entries whose key no other entry can have are dropped before the sort
 * (two bits per hashed slot), so a band sorts only its shared keys and a
 * few others; in memory the keys are read twice, to mark the slots and then
 * to write only the entries kept (mark_keys, keep_marked), on disk the
 * entries are gathered once and filtered (drop_lone_keys).
 * Preparing a band is most of the work and bands are independent, so with
 * T threads, T - 1 helpers prepare the next bands (up to T + 1 ahead)
 * while the caller's thread visits (verifies) the ones ready:
 * verification, which must run in order, overlaps preparation instead of
 * waiting for it. A prepared band keeps only its shared keys (most keys
 * are one text's), copied out of the preparing thread's buffers, so bands
 * waiting to be visited take little memory. Bands are handed to the caller
 * one after the other in band order on its own thread, so what it builds
 * is the same for any T. A helper with no band to prepare (T + 1 wait to
 * be visited) settles the texts of the bands waiting (store.h settle):
 * most of verifying document mode's texts is settling them on first read.
 *
 * Identical sets and bands together (nd_sets_then_bands). Which texts are
 * representatives is known only once the identical sets are found, on the
 * caller's thread; meanwhile the helpers already gather and sort the first
 * bands with every text, keep their shared keys, and leave the others to
 * be dropped when the band is visited (then the keys left shared only by
 * copies). The sort is stable, so dropping after it leaves the same entries
 * in the same order as dropping before: the bands visited are the same.
 */
#include "candidates.h"

#include <pthread.h> /* pthread_create, pthread_join */
#include <string.h>  /* memcpy, memmove, memset */

#include "alloc.h"
#include "slots.h"
#include "sort.h"

/* ****  LSH bands  **** */

/* One thread's tools for preparing bands: room for every text's entry and
 * its sort scratch, and a chunk of keys when they are read back. */
typedef struct band_buffers {
    uint64_t *entries;           /* (key << 32 | text), then the sort's scratch: 2 (count + 1) */
    uint32_t *chunk_buf;         /* spilled keys read back */
    uint64_t *slots;             /* drop_lone_keys' two bits per slot: words (seen, twice), interleaved */
    unsigned slot_bits;          /* 2^slot_bits slots */
    int slots_clean;             /* every slot is clear (keep_marked leaves them so) */
    nd_id_buffer settle_scratch; /* a helper's: settling texts ahead (settle_ahead) */
} band_buffers;

/* The texts the bands take, when not every text (the representatives):
 * their numbers ascending, and where each key chunk's begin among them
 * (chunks + 1 places). Made once (reps_list) and read by every band, where
 * flags a bit a text were decoded again for each band (twice in memory). */
typedef struct text_list {
    uint32_t *texts;
    size_t *chunk_start;
} text_list;

/* A band with fewer entries is sorted whole. */
enum { LONE_FILTER_MIN = 4096 };

/* Slots a text in a band's table: four or more (fewer than eight). The
 * table is random accesses, three a text (marked, read, cleared), and
 * half the table is fewer cache misses, for more lone keys kept past it
 * (about a fifth, against a ninth with eight: the second filter and the
 * sort take them). 100k syndicated documents in paragraphs (820k texts),
 * perf, 1 thread, the bands' preparation: 62 ms with eight, 54 ms with
 * four, 40 ms plus 13 ms more sorting with two; 1M documents: 120 ms
 * against 112 ms. */
enum { BAND_SLOTS_PER_TEXT = 4 };

/* A band whose slot table would take more than slots_most bytes is
 * sorted whole too: the slots are random accesses, cheap while the table
 * stays in cache and a cache miss each past it, where a radix sort of
 * every entry streams. Generated documents, 2 threads, perf, the bands'
 * preparation (tables of eight slots a text): 3M texts (8 MiB) 0.35 s of
 * CPU with the slots against 0.5 s sorted whole; 6M (16 MiB) 3.3 s
 * against 1.1 s; 10M (32 MiB) 5.8 s against 1.1 s. So up to 4M texts,
 * whose table of four slots a text takes 4 MiB.
 * nd_candidates_set_slots_most (tests) changes it. */
static size_t slots_most = (size_t)4 << 20;

void nd_candidates_set_slots_most(size_t bytes)
{
    slots_most = bytes;
}

/* Most of a band's keys are one text's own (every key is, but for texts
 * that match), and only shared keys make candidates. Before the sort,
 * drop the entries whose key no other entry can share: keys are hashed to
 * 2^slot_bits slots (BAND_SLOTS_PER_TEXT or more per text), the gathering
 * pass marks the slots seen twice (slots.h), a second pass keeps the
 * entries in those slots, in order (drop_lone_keys). Every shared key's entries are kept
 * (with a few lone ones that share a slot, dropped after the sort as
 * before), so the band's shared keys come out the same, and the sort
 * handles a fifth of the entries or fewer. drop_lone_keys keeps the first
 * m entries whose slot was seen twice, and returns how many it kept. */
static size_t drop_lone_keys(band_buffers *buf, size_t m)
{
    unsigned shift = 32 - buf->slot_bits;
    const uint64_t *slots = buf->slots;
    uint64_t *e = buf->entries;
    size_t kept = 0;
    for (size_t i = 0; i < m; i++) {
        e[kept] = e[i];
        kept += nd_slot_seen_twice(slots, nd_slot_of((uint32_t)(e[i] >> 32), shift));
    }
    return kept;
}

/* In memory (the store lends its keys: reading them twice costs nothing),
 * the entries are not gathered before the slots are marked: a first pass
 * over the keys marks the slots (mark_keys), a second writes the entries
 * of the keys whose slot was seen twice alone (keep_marked), so that the
 * band's buffer takes (and the sort reads) the few entries kept, not
 * every text's (8 bytes a text written, read back and mostly dropped:
 * megabytes a band, fresh pages at first). The entries kept are
 * drop_lone_keys' after gathering, in the same order. The second pass
 * clears the slots as it goes (the seen word of each slot it reads, then
 * the twice words of the entries kept: a slot seen twice has two of
 * them), so the next band finds them clear without a memset of the
 * table. */

/* Mark the slots of band `band`'s keys of the texts in `take` (every text
 * when NULL); ND_OK or ND_EIO. */
static int mark_keys(const nd_store *store, const text_list *take, unsigned band, band_buffers *buf)
{
    uint64_t *slots = buf->slots;
    unsigned shift = 32 - buf->slot_bits;
    for (size_t c = 0, first = 0; first < store->count; c++, first += ND_KEY_CHUNK) {
        const uint32_t *keys = store->band_keys(store->backend, band, c, buf->chunk_buf);
        if (!keys)
            return ND_EIO;
        size_t n = store->count - first < ND_KEY_CHUNK ? store->count - first : ND_KEY_CHUNK;
        if (!take) {
            for (size_t k = 0; k < n; k++)
                nd_slot_mark(slots, nd_slot_of(keys[k], shift), 1);
            continue;
        }
        const uint32_t *t = take->texts + take->chunk_start[c], *end = take->texts + take->chunk_start[c + 1];
        for (; t < end; t++)
            nd_slot_mark(slots, nd_slot_of(keys[*t - first], shift), 1);
    }
    return ND_OK;
}

/* After mark_keys with the same texts: their entries (key << 32 | text)
 * whose slot was seen twice, in text order, into buf->entries; the slots
 * left clear. Returns how many, or SIZE_MAX on a read error (the slots
 * then left as they are). */
static size_t keep_marked(const nd_store *store, const text_list *take, unsigned band, band_buffers *buf)
{
    uint64_t *slots = buf->slots, *e = buf->entries;
    unsigned shift = 32 - buf->slot_bits;
    size_t m = 0;
    for (size_t c = 0, first = 0; first < store->count; c++, first += ND_KEY_CHUNK) {
        const uint32_t *keys = store->band_keys(store->backend, band, c, buf->chunk_buf);
        if (!keys)
            return SIZE_MAX;
        size_t n = store->count - first < ND_KEY_CHUNK ? store->count - first : ND_KEY_CHUNK;
        if (!take) {
            for (size_t k = 0; k < n; k++)
                m = nd_slot_keep(slots, shift, e, m, keys[k], (uint32_t)(first + k));
            continue;
        }
        const uint32_t *t = take->texts + take->chunk_start[c], *end = take->texts + take->chunk_start[c + 1];
        for (; t < end; t++)
            m = nd_slot_keep(slots, shift, e, m, keys[*t - first], *t);
    }
    nd_slots_clear_kept(slots, shift, e, m);
    return m;
}

/* The entries left by keep_marked are the shared keys' and the lone keys
 * that share a slot with another key (about m^2 / slots of them: most of
 * them when few keys are shared). A second filter over those m alone, with
 * another hash (the Murmur3 multiplier) into a table of eight or more
 * slots an entry (the first 2^bits slots of the band's table, clear
 * again), sets aside most of the lone ones before the sort, which handles
 * a sixty-odd instructions an entry where this takes a score; it leaves
 * the slots clear as keep_marked does, and the entries in order. Returns
 * how many are kept. */
static inline uint32_t second_slot(uint64_t entry, unsigned shift)
{
    return (uint32_t)(entry >> 32) * 0x85EBCA6Bu >> shift;
}

enum { SECOND_FILTER_MIN = 1024 };

static size_t drop_lone_again(band_buffers *buf, size_t m)
{
    unsigned bits = nd_slot_bits(m, 8);
    if (m < SECOND_FILTER_MIN || bits >= buf->slot_bits)
        return m;
    unsigned shift = 32 - bits;
    uint64_t *slots = buf->slots, *e = buf->entries;
    for (size_t i = 0; i < m; i++)
        nd_slot_mark(slots, second_slot(e[i], shift), 1);
    size_t kept = 0;
    for (size_t i = 0; i < m; i++) {
        uint32_t h = second_slot(e[i], shift);
        e[kept] = e[i];
        kept += nd_slot_seen_twice(slots, h);
        slots[2 * (h >> 6)] = 0;
    }
    for (size_t i = 0; i < kept; i++)
        slots[2 * (second_slot(e[i], shift) >> 6) + 1] = 0;
    return kept;
}

/* A prepared band: its entries of shared keys (exactly allocated), or the
 * error that stopped preparing it. */
typedef struct ready_band {
    uint64_t *entries;
    size_t count;
    size_t unsettled_end; /* entries [0, unsettled_end) not yet given to settle_ahead */
    int rc;
    int ready;
    int unfiltered; /* prepared before the representatives were known: every text's entries */
} ready_band;

typedef struct band_pipe band_pipe;
static const unsigned char *representatives_if_known(band_pipe *p);

/* Keep the entries e[0, m) of representatives, in order; returns how many. */
static size_t keep_representatives(uint64_t *e, size_t m, const unsigned char *is_rep)
{
    size_t kept = 0;
    for (size_t i = 0; i < m; i++) {
        e[kept] = e[i];
        kept += is_rep[(uint32_t)e[i]] != 0;
    }
    return kept;
}

/* Keep the entries e[0, m) (sorted by key) whose key two or more share, in
 * order; returns how many. */
static size_t keep_shared_keys(uint64_t *e, size_t m)
{
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
    return kept;
}

/* On disk (a read a chunk), or without slots: the entries (key << 32 |
 * text) of band `band`'s texts in `take` (every text when NULL) gathered in text order into buf->entries, the slots
 * (clear) marked as they are (one pass over them less), and with enough entries the lone ones dropped (drop_lone_keys).
 * Returns how many are left, or SIZE_MAX on a read error. */
static size_t gather_entries(const nd_store *store, const text_list *take, unsigned band, band_buffers *buf)
{
    size_t m = 0;
    uint64_t *slots = buf->slots;
    unsigned shift = 32 - buf->slot_bits;
    for (size_t c = 0, first = 0; first < store->count; c++, first += ND_KEY_CHUNK) {
        const uint32_t *keys = store->band_keys(store->backend, band, c, buf->chunk_buf);
        if (!keys)
            return SIZE_MAX;
        size_t n = store->count - first < ND_KEY_CHUNK ? store->count - first : ND_KEY_CHUNK;
        uint64_t *entries = buf->entries;
        if (!take) {
            for (size_t k = 0; k < n; k++)
                entries[m + k] = (uint64_t)keys[k] << 32 | (first + k);
            if (slots) {
                for (size_t k = 0; k < n; k++)
                    nd_slot_mark(slots, nd_slot_of(keys[k], shift), 1);
            }
            m += n;
            continue;
        }
        /* only the representatives: no branch per text (whether a text
         * is one is a coin flip where many are copies), and no work for
         * the copies */
        const uint32_t *t = take->texts + take->chunk_start[c], *end = take->texts + take->chunk_start[c + 1];
        for (; t < end; t++) {
            uint32_t key = keys[*t - first];
            entries[m++] = (uint64_t)key << 32 | *t;
            if (slots)
                nd_slot_mark(slots, nd_slot_of(key, shift), 1);
        }
    }
    if (slots && m >= LONE_FILTER_MIN)
        m = drop_lone_keys(buf, m);
    return m;
}

/* Gather, sort and keep the shared keys of `band` into *out: the entries
 * of the texts in `take` (the representatives). With `take`
 * NULL (the representatives not known yet) every text is gathered and
 * sorted, and the others are dropped here if the flags are known by then,
 * else when the band is visited (the thread does not wait for them: it
 * goes on to the next band). */
static void prepare_band(const nd_store *store, const text_list *take, band_buffers *buf, unsigned band,
                         ready_band *out, band_pipe *p)
{
    out->rc = ND_OK;
    out->entries = NULL;
    out->count = 0;
    if (buf->slots && !buf->slots_clean)
        memset(buf->slots, 0, ((size_t)1 << buf->slot_bits) / 32 * sizeof *buf->slots);
    buf->slots_clean = 0; /* until keep_marked clears them */
    size_t m;
    if (buf->slots && !store->on_disk) {
        m = mark_keys(store, take, band, buf) == ND_OK ? keep_marked(store, take, band, buf) : SIZE_MAX;
        if (m != SIZE_MAX)
            m = drop_lone_again(buf, m);
        buf->slots_clean = m != SIZE_MAX;
    } else {
        m = gather_entries(store, take, band, buf);
    }
    if (m == SIZE_MAX) {
        out->rc = ND_EIO;
        return;
    }
    /* the scratch right after the m entries kept (pages gathering touched,
     * when m is at most half the entries gathered), not the far half */
    nd_sort_u64_high32(buf->entries, buf->entries + m, m);
    const unsigned char *is_rep = take ? NULL : representatives_if_known(p);
    if (is_rep)
        m = keep_representatives(buf->entries, m, is_rep);
    /* only keys shared by two texts or more make candidates: the others go
     * here, on the preparing thread, not one by one on the caller's */
    size_t kept = keep_shared_keys(buf->entries, m);
    out->entries = nd_malloc((kept ? kept : 1) * sizeof *out->entries);
    if (!out->entries) {
        out->rc = ND_ENOMEM;
        return;
    }
    memcpy(out->entries, buf->entries, kept * sizeof *out->entries);
    out->count = kept;
    /* without the representatives yet, the copies' entries are still in:
     * the visiting thread drops them (keep_representatives, then
     * keep_shared_keys again), and settle_ahead leaves the band alone */
    out->unfiltered = !take && !is_rep;
    out->unsettled_end = out->unfiltered ? 0 : kept;
}

/* A thread's buffers. Returns 0 or -1. */
static int band_buffers_alloc(band_buffers *buf, const nd_store *store)
{
    buf->settle_scratch = (nd_id_buffer){NULL, 0};
    /* the fresh pages of the slots (touched whole) and of the entries
     * (where many are kept: identical sets, a band before the
     * representatives are known) a fault per 2 MiB (alloc.h) */
    buf->entries = nd_malloc_huge((store->count + 1) * 2 * sizeof *buf->entries);
    buf->chunk_buf = store->on_disk ? nd_malloc(ND_KEY_CHUNK * sizeof *buf->chunk_buf) : NULL;
    buf->slot_bits = nd_slot_bits(store->count, BAND_SLOTS_PER_TEXT);
    size_t slot_bytes = ((size_t)1 << buf->slot_bits) / 32 * sizeof *buf->slots;
    int with_slots = store->count >= LONE_FILTER_MIN && slot_bytes <= slots_most;
    buf->slots = with_slots ? nd_malloc_huge(slot_bytes) : NULL;
    buf->slots_clean = 0;
    if (!buf->entries || (store->on_disk && !buf->chunk_buf) || (with_slots && !buf->slots)) {
        nd_free(buf->entries);
        nd_free(buf->chunk_buf);
        nd_free(buf->slots);
        return -1;
    }
    return 0;
}

enum { MAX_BAND_THREADS = 64 };

/* The bands in flight: any thread prepares the next band (in band order)
 * into its own buffers and leaves its shared keys in ready[band]; the
 * caller visits them in band order, preparing the one it needs itself
 * when no helper has taken it. At most `ahead` bands are prepared and not
 * yet visited. */
struct band_pipe {
    const nd_store *store;
    const unsigned char *is_representative;
    text_list reps;    /* the representatives, once known */
    ready_band *ready; /* per band */
    unsigned bands, ahead;
    pthread_mutex_t lock;
    pthread_cond_t changed; /* a band prepared or visited, representatives known, or stop */
    unsigned next;          /* the next band to prepare */
    unsigned visited;       /* bands visited */
    int known;              /* is_representative is filled in */
    int stop;
};

/* The representative flags if they are known yet, else NULL. */
static const unsigned char *representatives_if_known(band_pipe *p)
{
    pthread_mutex_lock(&p->lock);
    const unsigned char *is_rep = p->known ? p->is_representative : NULL;
    pthread_mutex_unlock(&p->lock);
    return is_rep;
}

typedef struct band_helper_arg {
    band_pipe *pipe;
    band_buffers buf;
} band_helper_arg;

/* With the lock held: a band can be claimed. */
static int can_claim(const band_pipe *p)
{
    return p->next < p->bands && p->next < p->visited + p->ahead;
}

/* With the lock held: claim the next band, prepare it with the lock
 * released, and mark it ready. */
static void claim_and_prepare(band_pipe *p, band_buffers *buf)
{
    unsigned band = p->next++;
    const text_list *take = p->known ? &p->reps : NULL;
    pthread_mutex_unlock(&p->lock);
    prepare_band(p->store, take, buf, band, &p->ready[band], p);
    pthread_mutex_lock(&p->lock);
    p->ready[band].ready = 1;
    pthread_cond_broadcast(&p->changed);
}

/* Texts settle_ahead gives the store at a time. */
enum { SETTLE_STEP = 256 };

/* With the lock held, on a helper with no band to prepare (at most
 * `ahead` bands are prepared and not visited yet): settle (store.h) the
 * unsettled texts of the last SETTLE_STEP entries not settled ahead yet of
 * the last band prepared after the one being visited, with the lock
 * released, so that the visiting thread finds them settled (1M
 * documents, 2 threads: the visiting thread settled 139k texts, 0.18 s of
 * its 0.3-0.7 s; with this, 82-86k). Bands are taken newest first, each from its
 * end, away from where the visiting thread reads (the band it visits, which
 * it frees afterwards, is not touched). Returns 1 if it settled any, 0
 * when none is left (or the store has none: no unsettled texts, or the
 * representatives not known yet). */
static int settle_ahead(band_pipe *p, band_buffers *buf)
{
    if (!p->known || !p->store->settle)
        return 0;
    uint32_t docs[SETTLE_STEP];
    for (unsigned band = p->next; band-- > p->visited + 1;) {
        ready_band *r = &p->ready[band];
        if (!r->ready || r->rc != ND_OK || r->unsettled_end == 0)
            continue;
        size_t n = r->unsettled_end < SETTLE_STEP ? r->unsettled_end : SETTLE_STEP;
        r->unsettled_end -= n;
        for (size_t k = 0; k < n; k++)
            docs[k] = (uint32_t)r->entries[r->unsettled_end + k];
        pthread_mutex_unlock(&p->lock);
        p->store->settle(p->store->backend, docs, n, &buf->settle_scratch);
        pthread_mutex_lock(&p->lock);
        return 1;
    }
    return 0;
}

static void *band_helper(void *arg)
{
    band_helper_arg *h = arg;
    band_pipe *p = h->pipe;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (!p->stop && p->next < p->bands && !can_claim(p)) {
            if (!settle_ahead(p, &h->buf))
                pthread_cond_wait(&p->changed, &p->lock);
        }
        if (p->stop || p->next >= p->bands)
            break;
        claim_and_prepare(p, &h->buf);
    }
    /* every band is claimed: settle ahead while bands are left to visit */
    while (!p->stop && settle_ahead(p, &h->buf))
        continue;
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

/* Visit the bands in order on this thread (see band_pipe). */
static int visit_bands(band_pipe *p, band_buffers *buf, nd_band_fn visit, void *ctx)
{
    int rc = ND_OK;
    for (unsigned band = 0; band < p->bands && rc == ND_OK; band++) {
        pthread_mutex_lock(&p->lock);
        while (!p->ready[band].ready) {
            /* prepare it if nobody does; while another thread prepares
             * it, prepare a band ahead rather than wait (else one helper
             * would prepare every band, one after the other) */
            if (can_claim(p))
                claim_and_prepare(p, buf);
            else
                pthread_cond_wait(&p->changed, &p->lock);
        }
        pthread_mutex_unlock(&p->lock);
        ready_band *r = &p->ready[band];
        rc = r->rc;
        if (rc == ND_OK && r->unfiltered)
            r->count = keep_shared_keys(r->entries, keep_representatives(r->entries, r->count, p->is_representative));
        if (rc == ND_OK)
            rc = visit(ctx, r->entries, r->count);
        nd_free(r->entries);
        r->entries = NULL;
        pthread_mutex_lock(&p->lock);
        p->visited++;
        pthread_cond_broadcast(&p->changed);
        pthread_mutex_unlock(&p->lock);
    }
    return rc;
}

/* What runs on the caller's thread before the bands are visited: the
 * identical sets (nd_sets_then_bands), or nothing. */
typedef struct sets_step {
    unsigned char *is_representative;
    uint64_t *exact_groups;
    nd_same_fn same;
    void *ctx;
} sets_step;

static int run_bands(const nd_store *store, const unsigned char *is_representative, const sets_step *sets,
                     unsigned threads, nd_band_fn visit, void *ctx);

/* The representatives among n texts (text_list) into *out; 0, or -1 when
 * out of memory (*out then empty). The list has room for every text, its
 * pages touched only as far as the representatives fill it. */
static int reps_list(text_list *out, const unsigned char *is_representative, size_t n)
{
    size_t chunks = (n + ND_KEY_CHUNK - 1) / ND_KEY_CHUNK;
    out->texts = nd_malloc_huge((n ? n : 1) * sizeof *out->texts); /* touched nearly whole */
    out->chunk_start = nd_malloc((chunks + 1) * sizeof *out->chunk_start);
    if (!out->texts || !out->chunk_start) {
        nd_free(out->texts);
        nd_free(out->chunk_start);
        *out = (text_list){NULL, NULL};
        return -1;
    }
    size_t m = 0;
    for (size_t c = 0; c < chunks; c++) {
        out->chunk_start[c] = m;
        size_t end = n - c * ND_KEY_CHUNK < ND_KEY_CHUNK ? n : (c + 1) * ND_KEY_CHUNK;
        for (size_t d = c * ND_KEY_CHUNK; d < end; d++) {
            out->texts[m] = (uint32_t)d; /* texts are numbered in 32 bits */
            m += is_representative[d] != 0;
        }
    }
    out->chunk_start[chunks] = m;
    return 0;
}

int nd_band_candidates(const nd_store *store, const unsigned char *is_representative, unsigned threads,
                       nd_band_fn visit, void *ctx)
{
    return run_bands(store, is_representative, NULL, threads, visit, ctx);
}

int nd_sets_then_bands(unsigned char *is_representative, uint64_t *exact_groups, const nd_store *store,
                       unsigned threads, nd_same_fn same, void *same_ctx, nd_band_fn visit, void *ctx)
{
    sets_step sets = {is_representative, exact_groups, same, same_ctx};
    return run_bands(store, is_representative, &sets, threads, visit, ctx);
}

static int run_bands(const nd_store *store, const unsigned char *is_representative, const sets_step *sets,
                     unsigned threads, nd_band_fn visit, void *ctx)
{
    unsigned bands = store->opts->bands;
    band_helper_arg helpers[MAX_BAND_THREADS];
    pthread_t handles[MAX_BAND_THREADS];
    band_buffers own;
    unsigned width = threads < 1 ? 1 : threads;
    if (width > MAX_BAND_THREADS)
        width = MAX_BAND_THREADS;
    if (width > bands)
        width = bands;
    if (band_buffers_alloc(&own, store) != 0)
        return ND_ENOMEM;
    band_pipe p;
    memset(&p, 0, sizeof p);
    p.store = store;
    p.is_representative = is_representative;
    p.bands = bands;
    p.ahead = width + 1;
    p.known = !sets;
    p.ready = nd_calloc(bands, sizeof *p.ready);
    int rc = ND_ENOMEM;
    if (!p.ready || (p.known && reps_list(&p.reps, is_representative, store->count) != 0) ||
        pthread_mutex_init(&p.lock, NULL) != 0)
        goto free_own;
    if (pthread_cond_init(&p.changed, NULL) != 0) {
        pthread_mutex_destroy(&p.lock);
        goto free_own;
    }
    /* helpers, each with its buffers (16 bytes a text): as many as memory
     * and the system allow, up to threads - 1 */
    unsigned started = 0;
    for (unsigned t = 1; t < width; t++) {
        helpers[started].pipe = &p;
        if (band_buffers_alloc(&helpers[started].buf, store) != 0)
            break;
        if (pthread_create(&handles[started], NULL, band_helper, &helpers[started]) != 0) {
            nd_free(helpers[started].buf.entries);
            nd_free(helpers[started].buf.chunk_buf);
            nd_free(helpers[started].buf.slots);
            break;
        }
        started++;
    }
    rc = ND_OK;
    if (sets) {
        /* the helpers gather and sort the first bands meanwhile */
        rc = nd_identical_sets_in(sets->is_representative, sets->exact_groups, store, sets->same, sets->ctx,
                                  own.entries, own.slots, own.slot_bits);
        own.slots_clean = 0; /* lent: marked */
        text_list reps = {NULL, NULL};
        if (rc == ND_OK && reps_list(&reps, is_representative, store->count) != 0)
            rc = ND_ENOMEM;
        pthread_mutex_lock(&p.lock);
        p.reps = reps;
        p.known = rc == ND_OK;
        pthread_cond_broadcast(&p.changed);
        pthread_mutex_unlock(&p.lock);
    }
    if (rc == ND_OK)
        rc = visit_bands(&p, &own, visit, ctx);
    pthread_mutex_lock(&p.lock);
    p.stop = 1;
    pthread_cond_broadcast(&p.changed);
    pthread_mutex_unlock(&p.lock);
    for (unsigned t = 0; t < started; t++) {
        pthread_join(handles[t], NULL);
        nd_free(helpers[t].buf.settle_scratch.data);
        nd_free(helpers[t].buf.entries);
        nd_free(helpers[t].buf.chunk_buf);
        nd_free(helpers[t].buf.slots);
    }
    for (unsigned b = 0; b < bands; b++)
        nd_free(p.ready[b].entries); /* prepared but not visited (stopped early) */
    pthread_cond_destroy(&p.changed);
    pthread_mutex_destroy(&p.lock);
free_own:
    nd_free(p.ready);
    nd_free(p.reps.texts);
    nd_free(p.reps.chunk_start);
    nd_free(own.entries);
    nd_free(own.chunk_buf);
    nd_free(own.slots);
    return rc;
}
