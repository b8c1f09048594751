/* index_refill.c - texts added without their ids, given them again.
 *
 * The CLI's document mode keeps a text's shingle ids only when a cheap
 * guess says another text may be a copy of it (its first band keys were
 * seen before); the others are added without them (nd_index_add_dropped):
 * most documents of a corpus are never a candidate, and their ids, written
 * and never read, were most of the memory touched (CJK: 50 MB of ids for
 * 50k documents, each fresh page cleared by the kernel). Once every text
 * is added, clustering reads only texts that share a band key with
 * another (candidates, and the identical sets among them: a copy has the
 * same keys in every band), so the texts that must get their ids back are
 * the dropped ones whose key in some band is another text's. Either the
 * caller gives clustering a function that makes a dropped text's ids
 * (nd_index_set_refill: called when the store is made for a dropped text
 * that may have a copy, index_settle.c, and on a dropped text's first
 * read, index.c), or it asks first: nd_index_dropped_wanted finds exactly
 * those texts (the same folded 32-bit keys the bands compare) and the
 * caller gives their ids (nd_index_refill, index.c). Either way clustering
 * runs as if none had been dropped. A dropped text left without ids shares
 * no key with any text: no candidate, no copy, never read (a set of its
 * own, store.h).
 *
 * nd_index_dropped_wanted, per band: every text's (key, text) entry,
 * sorted by key (radix, sort.h); a run of two or more entries is a shared
 * key, and the dropped texts in such runs are the ones wanted. Where the
 * index is in memory and its slot table small enough to stay in cache
 * (4 MiB: 4M texts), most lone keys are set aside before the sort, as
 * candidates.c sets them aside before it sorts a band (slots.h: each key
 * marks its slot seen, or seen twice; only the entries whose slot was
 * seen twice, the shared keys and the lone keys that share a slot with
 * another key, are sorted); the runs found are the same. (Before, every
 * text's key marked two-bit slots and the dropped texts whose slot was
 * seen twice were looked up exactly in a hash table: three passes of
 * random accesses a band, each a cache miss once the slots outgrew the
 * cache. 10M generated documents, 2 threads, perf: 5.2 s of CPU against
 * 1.8 s sorted; 1M, one thread, 0.34 s against 0.13-0.23 s; 50k CJK
 * documents 32 ms against 20 ms. Sorting every entry was then about a
 * twentieth of a 50k CJK run, and an eighth of a paragraph run that
 * dropped units' ids, 820k texts: perf.)
 */
#include "index_layout.h"

#include <string.h> /* memcpy */

#include "alloc.h"
#include "index_add.h"
#include "slots.h" /* search_bands' lone filter */
#include "sort.h"  /* nd_sort_distinct_u32: refill_to_file */
#include "threads.h"

void nd_index_set_refill(nd_index *index, nd_refill_fn fn, void *ctx)
{
    index->refill_fn = fn;
    index->refill_ctx = ctx;
}

/* A spilled index's refill: the ids settled (sorted distinct in the
 * scratch, their count and set hash) and appended to the ids file, as
 * nd_index_spill writes every other text. Flushed before they are read
 * (nd_index_store, index_store.c's stored_ids). */
static int refill_to_file(nd_index *index, size_t doc, const uint32_t *ids, size_t count)
{
    if (nd_grow((void **)&index->scratch, &index->scratch_capacity, 2 * count, sizeof *index->scratch) != 0)
        return ND_ENOMEM;
    uint32_t *copy = index->scratch + count;
    memcpy(copy, ids, count * sizeof *ids);
    size_t n = nd_sort_distinct_u32(copy, index->scratch, count);
    index->meta[doc].count = (uint32_t)n; /* at most the raw count, a uint32_t */
    index->meta[doc].set_hash = nd_index_set_hash(copy, n);
    int rc = nd_index_append_ids(index, doc, copy); /* (a failed write leaves the index unusable, as spilling) */
    if (rc != ND_OK)
        return rc;
    index->raw_left--;
    index->dropped--;
    __atomic_store_n(&index->raw[doc], SETTLED, __ATOMIC_RELEASE);
    return ND_OK;
}

int nd_index_refill(nd_index *index, size_t doc, const uint32_t *ids, size_t count)
{
    if (doc >= index->count || !text_dropped(index, doc) || count != index->meta[doc].count)
        return ND_EINVAL; /* not a dropped text, or not the ids it was added with */
    if (index->spilled)
        return refill_to_file(index, doc, ids, count);
    uint32_t *at = reserve_ids(index, count);
    if (!at)
        return ND_ENOMEM;
    memcpy(at, ids, count * sizeof *ids);
    index->blocks[index->block_count - 1].used += count;
    __atomic_store_n(&index->where[doc].memory, at, __ATOMIC_RELEASE); /* settle_texts may look */
    index->dropped--;
    return ND_OK;
}

int nd_index_refill_now(nd_index *index, size_t doc)
{
    if (!index->refill_fn)
        return ND_EINVAL; /* dropped and never refilled: the caller's mistake */
    const uint32_t *ids = NULL;
    size_t count = 0;
    int rc = index->refill_fn(index->refill_ctx, doc, index->meta[doc].count, &ids, &count);
    return rc != ND_OK ? rc : nd_index_refill(index, doc, ids, count);
}

/* nd_index_dropped_wanted's search, on up to the index's threads: each
 * takes the next band not taken yet and marks in `wanted` the texts whose
 * key in it is another text's (the caller keeps the dropped ones). A text
 * wanted in any band is wanted, so the result is the same in any order
 * and on any number of threads (one-byte flags, written atomically). */
typedef struct wanted_search {
    const nd_index *index;
    unsigned char *wanted; /* one flag a text */
    unsigned next_band;    /* (atomic) */
    int rc;                /* ND_OK, or the first error (atomic) */
} wanted_search;

/* The lone filter (see the top of this file): from this many texts, with
 * this many slots a text or more (two bits each: a quarter of a byte),
 * the table at most SLOTS_MOST bytes (as candidates.c's). */
enum { FILTER_MIN = 4096, SLOTS_PER_TEXT = 4 };
#define SLOTS_MOST ((size_t)4 << 20)

/* Band `band`'s entries (key << 32 | text) of an index in memory whose
 * key's slot is seen twice, in text order, into entries; the slots (2^bits,
 * clear) left clear. Returns how many. */
static size_t entries_maybe_shared(const nd_index *index, unsigned band, uint64_t *slots, unsigned bits,
                                   uint64_t *entries)
{
    size_t n = index->count, m = 0;
    unsigned shift = 32 - bits;
    for (size_t first = 0; first < n; first += ND_KEY_CHUNK) {
        const uint32_t *keys = nd_index_band_chunk(index, band, first / ND_KEY_CHUNK, NULL);
        size_t count = n - first < ND_KEY_CHUNK ? n - first : ND_KEY_CHUNK;
        for (size_t k = 0; k < count; k++)
            nd_slot_mark(slots, nd_slot_of(keys[k], shift), 1);
    }
    for (size_t first = 0; first < n; first += ND_KEY_CHUNK) {
        const uint32_t *keys = nd_index_band_chunk(index, band, first / ND_KEY_CHUNK, NULL);
        size_t count = n - first < ND_KEY_CHUNK ? n - first : ND_KEY_CHUNK;
        for (size_t k = 0; k < count; k++) /* texts are numbered in 32 bits */
            m = nd_slot_keep(slots, shift, entries, m, keys[k], (uint32_t)(first + k));
    }
    nd_slots_clear_kept(slots, shift, entries, m);
    return m;
}

/* Every one of band `band`'s entries into entries, in text order: n, or
 * SIZE_MAX when a spilled index's keys cannot be read back. */
static size_t all_entries(const nd_index *index, unsigned band, uint32_t *chunk, uint64_t *entries)
{
    size_t n = index->count;
    for (size_t first = 0; first < n; first += ND_KEY_CHUNK) {
        const uint32_t *keys = nd_index_band_chunk(index, band, first / ND_KEY_CHUNK, chunk);
        if (!keys)
            return SIZE_MAX;
        size_t count = n - first < ND_KEY_CHUNK ? n - first : ND_KEY_CHUNK;
        for (size_t k = 0; k < count; k++)
            entries[first + k] = (uint64_t)keys[k] << 32 | (first + k); /* texts are numbered in 32 bits */
    }
    return n;
}

/* One thread's bands, with buffers of its own (16 bytes a text, and the
 * lone filter's slots): ND_OK, ND_ENOMEM or ND_EIO. A band's keys are read
 * a key chunk at a time (nd_index_band_chunk: in memory, or read back from
 * the keys file of a spilled index). */
static int search_bands(wanted_search *ws)
{
    const nd_index *index = ws->index;
    size_t n = index->count;
    uint64_t *entries = nd_malloc_huge((n ? n : 1) * sizeof *entries), *tmp = nd_malloc_huge((n ? n : 1) * sizeof *tmp);
    uint32_t *chunk = index->spilled ? nd_malloc(ND_KEY_CHUNK * sizeof *chunk) : NULL;
    unsigned bits = nd_slot_bits(n, SLOTS_PER_TEXT);
    size_t slot_bytes = ((size_t)1 << bits) / 32 * sizeof(uint64_t);
    int filtered = !index->spilled && n >= FILTER_MIN && slot_bytes <= SLOTS_MOST;
    uint64_t *slots = filtered ? nd_calloc(slot_bytes, 1) : NULL;
    int rc = entries && tmp && (chunk || !index->spilled) && (slots || !filtered) ? ND_OK : ND_ENOMEM;
    while (rc == ND_OK && __atomic_load_n(&ws->rc, __ATOMIC_RELAXED) == ND_OK) {
        unsigned band = __atomic_fetch_add(&ws->next_band, 1, __ATOMIC_RELAXED);
        if (band >= index->opts.bands)
            break;
        size_t m =
            slots ? entries_maybe_shared(index, band, slots, bits, entries) : all_entries(index, band, chunk, entries);
        if (m == SIZE_MAX) {
            rc = ND_EIO;
            break;
        }
        nd_sort_u64_high32(entries, tmp, m);
        for (size_t i = 0; i < m;) {
            size_t j = i + 1;
            uint32_t key = (uint32_t)(entries[i] >> 32);
            while (j < m && (uint32_t)(entries[j] >> 32) == key)
                j++;
            if (j - i >= 2) {
                for (size_t k = i; k < j; k++)
                    __atomic_store_n(&ws->wanted[(uint32_t)entries[k]], 1, __ATOMIC_RELAXED); /* (other threads too) */
            }
            i = j;
        }
    }
    nd_free(entries);
    nd_free(tmp);
    nd_free(chunk);
    nd_free(slots);
    return rc;
}

static void *search_thread(void *arg)
{
    wanted_search *ws = arg;
    int rc = search_bands(ws), none = ND_OK;
    if (rc != ND_OK)
        __atomic_compare_exchange_n(&ws->rc, &none, rc, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
    return NULL;
}

int nd_index_dropped_wanted(const nd_index *index, int all, uint32_t **out, size_t *out_count)
{
    *out = NULL;
    *out_count = 0;
    size_t n = index->count;
    if (index->dropped == 0)
        return ND_OK;
    unsigned char *wanted = all ? NULL : nd_calloc(n, 1);
    uint32_t *docs = nd_malloc(index->dropped * sizeof *docs);
    if ((!all && !wanted) || !docs) {
        nd_free(wanted);
        nd_free(docs);
        return ND_ENOMEM;
    }
    wanted_search ws = {index, wanted, 0, ND_OK};
    if (!all) {
        /* the bands on the index's threads, this one among them */
        unsigned threads = index->threads;
        nd_on_threads(threads > index->opts.bands ? index->opts.bands : threads, search_thread, &ws, 0);
    }
    if (ws.rc != ND_OK) {
        nd_free(wanted);
        nd_free(docs);
        return ws.rc;
    }
    size_t k = 0;
    for (size_t d = 0; d < n; d++) {
        if (text_dropped(index, d) && (all || wanted[d]))
            docs[k++] = (uint32_t)d; /* texts are numbered in 32 bits */
    }
    nd_free(wanted);
    *out = docs;
    *out_count = k;
    return ND_OK;
}

int nd_index_refill_wanted(nd_index *index)
{
    if (!index->refill_fn || index->dropped == 0)
        return ND_OK;
    uint32_t *docs = NULL;
    size_t n = 0;
    int rc = nd_index_dropped_wanted(index, 0, &docs, &n);
    for (size_t i = 0; i < n && rc == ND_OK; i++)
        rc = nd_index_refill_now(index, docs[i]);
    nd_free(docs);
    return rc;
}
