/* index_settle.c - settling an index's raw texts: sorting their shingle
 * ids only when clustering may read them.
 *
 * Raw texts (nd_index_add_raw, the CLI's document mode; nd_index_add_prepared_raw,
 * its paragraphs and lines). A text's ids may come as they were made: in text order, repeats kept. Sorting them and
 * dropping repeats is a tenth of a CJK run, and only the texts clustering
 * verifies need it (a fifth of them or fewer), so the index keeps such a
 * text raw (its count the raw count, its set hash unknown) and settles it
 * (sorts its ids in place, drops repeats, sets its count and set hash, the
 * same as nd_index_add_ids would have) when it may be read:
 *  - nd_index_store settles every text that shares its keys in the
 *    first bands with another (a text with an identical set has the same
 *    signature and so the same keys: the others cannot have a copy),
 *    found with two bits per hashed slot of the first band's keys, then
 *    a sort of the first bands' keys of the texts left
 *    (nd_index_settle_shared); the rest stay raw and the store says so
 *    (nd_store.unsettled): identical sets skip them, each a set of its
 *    own. Of those settled, a text with the raw ids of an earlier one (a
 *    paragraph repeated word for word: most of them in paragraph mode)
 *    takes that text's settled ids instead of sorting its own, and the
 *    store lists it as a copy (nd_store.copies: identical sets join it
 *    without reading its ids again; settle_copies). The comparing and the
 *    sorting run on the index's threads (lead_work). With containment, or
 *    once spilled, every text is settled.
 *  - the store's ids() settles a raw text when it is first read, on the
 *    thread that verifies candidates (store.h: the only thread that reads
 *    a text first), unless a thread preparing LSH bands settled it ahead
 *    (the store's settle(): each text is claimed by one thread, an atomic
 *    flag, and ids() waits for a text another thread is settling).
 */
#include "index_layout.h"

#include <assert.h> /* assert */
#include <string.h> /* memcmp, memcpy, memset */

#include "alloc.h"
#include "index_add.h"
#include "slots.h"
#include "sort.h"
#include "threads.h"

int nd_index_settle_with(nd_index *index, size_t doc, uint32_t **scratch, size_t *capacity)
{
    unsigned char expected = RAW_TEXT;
    if (!__atomic_compare_exchange_n(&index->raw[doc], &expected, SETTLING, 0, __ATOMIC_ACQUIRE, __ATOMIC_ACQUIRE))
        return ND_OK;
    uint32_t *ids = index->where[doc].memory;
    size_t count = index->meta[doc].count; /* raw: more than 0 */
    if (nd_grow((void **)scratch, capacity, count, sizeof **scratch) != 0) {
        __atomic_store_n(&index->raw[doc], RAW_TEXT, __ATOMIC_RELEASE);
        return ND_ENOMEM;
    }
    size_t n = nd_sort_distinct_u32(ids, *scratch, count);
    index->meta[doc].count = (uint32_t)n; /* at most the raw count, a uint32_t */
    index->meta[doc].set_hash = nd_index_set_hash(ids, n);
    __atomic_fetch_sub(&index->raw_left, 1, __ATOMIC_RELAXED);
    __atomic_store_n(&index->raw[doc], SETTLED, __ATOMIC_RELEASE);
    return ND_OK;
}

int nd_index_settle(nd_index *index, size_t doc)
{
    return nd_index_settle_with(index, doc, &index->scratch, &index->scratch_capacity);
}

int nd_index_settle_all(nd_index *index, int keep_dropped)
{
    size_t left = index->raw_left; /* (dropped ones kept count in it) */
    for (size_t d = 0; d < index->count && left > 0; d++) {
        if (!index->raw || !index->raw[d])
            continue;
        left--;
        if (text_dropped(index, d)) {
            if (keep_dropped)
                continue;
            int rc = nd_index_refill_now(index, d); /* its ids now, or the error */
            if (rc != ND_OK)
                return rc;
        }
        if (nd_index_settle(index, d) != ND_OK)
            return ND_ENOMEM;
    }
    return ND_OK;
}

/* Settle raw text `doc` as a copy of `lead`, settled: their raw ids were
 * the same, so its settled ids, count and set hash are lead's (what
 * sorting its own would give, without the sort): doc's ids become lead's
 * own (the same memory: settled ids are never written again, spilling
 * writes them out for each text, and blocks are freed whole, not per
 * text). On the index's own thread, before clustering: no other thread
 * looks (plain stores; the caller counts raw_left down). */
static void settle_as_copy(nd_index *index, size_t doc, size_t lead)
{
    assert(index->raw[doc] == RAW_TEXT && index->raw[lead] == SETTLED);
    index->where[doc].memory = index->where[lead].memory;
    index->meta[doc].count = index->meta[lead].count;
    index->meta[doc].set_hash = index->meta[lead].set_hash;
    index->raw[doc] = SETTLED;
}

/* Note copies noted[0 .. n) (doc << 32 | lead, in text order; `noted`
 * has room for `room`, and is the caller's no more) for the store
 * (store.h copies): the first ones noted are kept where they are (pages
 * already touched), later ones appended. The list stays in text order: a
 * later clustering finds copies among the texts added since and the raw
 * texts no earlier one could share a set with, so its copies come after
 * those noted before, or (a text left out then: nd_index_dropped_wanted)
 * they are not noted, left to identical sets to compare (as when out of
 * memory). */
static void note_copies(nd_index *index, uint64_t *noted, size_t n, size_t room)
{
    size_t had = index->copy_count;
    if (n > 0 && had == 0) {
        uint64_t *fit = nd_realloc(noted, n * sizeof *noted);
        nd_free(index->copies);
        index->copies = fit ? fit : noted;
        index->copy_capacity = fit ? n : room;
        index->copy_count = n;
        return;
    }
    if (n > 0 && noted[0] >> 32 > index->copies[had - 1] >> 32 &&
        nd_grow((void **)&index->copies, &index->copy_capacity, had + n, sizeof *index->copies) == 0) {
        memcpy(index->copies + had, noted, n * sizeof *noted);
        index->copy_count = had + n;
    }
    nd_free(noted);
}

/* Bands whose keys a text must share with another to be settled (all of
 * them when fewer), and slots a text in the first band's table. */
enum { COPY_BANDS = 4, SLOTS_FIRST = 8 };

/* A text's lead (its position in docs) while settle_copies looks: none, it
 * shares its first bands' keys with no other text (left raw). */
#define NO_LEAD UINT32_MAX

/* Raw counts a group of texts with the same keys is looked at for copies
 * under (most have one: the same paragraph; more are rare, sorted). */
enum { GROUP_COUNTS = 8 };

/* The two steps of settle_copies that read or sort the texts' ids, on
 * the index's threads: comparing each text with its lead (reads only; a
 * text's lead is dropped when their ids differ), then, once every thread
 * is done with that, sorting each lead (nd_index_settle_with claims it;
 * each text is sorted alone, the same on any thread). So what
 * settle_copies leaves is the same for any number of threads (1M
 * documents: sorting was 34 ms and comparing 13 ms of the 60 ms on the
 * one thread before clustering). Threads take LEADS_STEP positions at a
 * time (a few hundred microseconds of work); with fewer than LEADS_ALONE
 * positions, or threads that cannot be made, the calling thread does it
 * all. */
enum { LEADS_STEP = 512, LEADS_ALONE = 4 * LEADS_STEP };

typedef struct lead_work {
    nd_index *index;
    const uint32_t *docs;
    uint32_t *lead;            /* each position's lead's position, NO_LEAD, or its own */
    const uint32_t *raw_count; /* each position's raw count */
    size_t m;
    size_t next; /* the next position to take (atomic) */
    int rc;      /* ND_OK, or the first error (atomic) */
} lead_work;

/* The next LEADS_STEP positions [*from, *to) of w, or 0 when none is
 * left (or another thread failed). */
static int take_leads(lead_work *w, size_t *from, size_t *to)
{
    *from = __atomic_fetch_add(&w->next, LEADS_STEP, __ATOMIC_RELAXED);
    if (*from >= w->m || __atomic_load_n(&w->rc, __ATOMIC_RELAXED) != ND_OK)
        return 0;
    *to = w->m - *from < LEADS_STEP ? w->m : *from + LEADS_STEP;
    return 1;
}

/* A thread's share of comparing: texts in text order, their leads
 * anywhere: the lead's place asked for AHEAD texts ahead, its ids half as
 * far (the place come by then), so that the misses overlap. Only this
 * thread's positions are read ahead (lead[] of the others may change). */
static void *compare_some_leads(void *arg)
{
    enum { AHEAD = 8 };
    lead_work *w = arg;
    const nd_index *index = w->index;
    const uint32_t *docs = w->docs;
    uint32_t *lead = w->lead;
    size_t from, to;
    while (take_leads(w, &from, &to)) {
        for (size_t i = from; i < to; i++) {
            if (i + AHEAD < to && lead[i + AHEAD] != NO_LEAD)
                __builtin_prefetch(&index->where[docs[lead[i + AHEAD]]]);
            if (i + AHEAD / 2 < to && lead[i + AHEAD / 2] != NO_LEAD)
                __builtin_prefetch(index->where[docs[lead[i + AHEAD / 2]]].memory);
            if (lead[i] == i || lead[i] == NO_LEAD)
                continue;
            size_t d = docs[i], l = docs[lead[i]];
            if (memcmp(index->where[d].memory, index->where[l].memory, w->raw_count[i] * sizeof(uint32_t)) != 0)
                lead[i] = (uint32_t)i; /* the same keys and count, other ids */
        }
    }
    return NULL;
}

/* A thread's share of sorting the leads, with its own scratch. */
static void *settle_some_leads(void *arg)
{
    lead_work *w = arg;
    nd_id_buffer scratch = {NULL, 0};
    size_t from, to;
    while (take_leads(w, &from, &to)) {
        for (size_t i = from; i < to; i++) {
            if (w->lead[i] != i)
                continue;
            int rc = nd_index_settle_with(w->index, w->docs[i], &scratch.data, &scratch.capacity);
            if (rc != ND_OK) {
                int none = ND_OK;
                __atomic_compare_exchange_n(&w->rc, &none, rc, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
                break;
            }
        }
    }
    nd_free(scratch.data);
    return NULL;
}

/* Run `step` over all of w's positions on up to the index's threads (this
 * one among them) and wait for them all. */
static int on_threads(lead_work *w, void *(*step)(void *))
{
    w->next = 0;
    nd_on_threads(w->m < LEADS_ALONE ? 1 : w->index->threads, step, w, 0);
    return w->rc;
}

/* Settle the raw texts among docs[0, m) (in text order: texts whose first
 * band's key may be another's, raw or not) that share their keys in the
 * first COPY_BANDS bands with another text: those
 * keys, hashed to 32 bits, are sorted (stably: in text order within a
 * key), and a text alone with its hash is left raw (no other text has its
 * set: a copy has the same signature, so the same keys). A dropped text
 * (index_refill.c) that shares them gets its ids now (nd_index_set_refill),
 * or without a refill function is left out (no other text shares a key
 * with it: nd_index_dropped_wanted refilled those; only the hash's). A
 * paragraph repeated word for word (most of a paragraph mode's texts with
 * copies) has the same raw ids as the first of its copies: within the
 * texts with the same hash, a text whose raw ids are those of the first
 * text with its raw count (its lead, compared before either is settled)
 * takes the lead's sorted ids, count and set hash (a copy, not a sort,
 * noted for the store); every other text is sorted. Both passes go in
 * text order, where the ids lie one after the other (in key order they
 * lie anywhere: a cache miss a text). Each text ends as nd_index_settle
 * would leave it. */
static int settle_copies(nd_index *index, const uint32_t *docs, size_t m)
{
    /* (hash << 32 | position in docs), then the sort's scratch, then each
     * text's lead's position (NO_LEAD, its own, or its lead's); each
     * text's raw count after them */
    uint64_t *keyed = nd_malloc_huge((m ? m : 1) * 2 * sizeof *keyed); /* touched whole (alloc.h) */
    uint32_t *raw_count = nd_malloc_huge((m ? m : 1) * sizeof *raw_count);
    if (!keyed || !raw_count) {
        nd_free(keyed);
        nd_free(raw_count);
        return ND_ENOMEM;
    }
    const uint32_t *const *chunks = (const uint32_t *const *)index->key_chunks;
    unsigned bands = index->opts.bands < COPY_BANDS ? index->opts.bands : COPY_BANDS;
    for (size_t i = 0; i < m; i++) {
        size_t d = docs[i], slot = d % ND_KEY_CHUNK;
        const uint32_t *chunk = chunks[d / ND_KEY_CHUNK];
        uint64_t h = 0;
        for (unsigned b = 0; b < bands; b++)
            h = (h ^ chunk[(size_t)b * ND_KEY_CHUNK + slot]) * 0x9E3779B97F4A7C15ull;
        keyed[i] = h >> 32 << 32 | i;
        /* 0: nothing to settle (settled, or dropped and left out: no
         * other text shares a key with it, nd_index_dropped_wanted
         * refilled those; its hash alone may be another's) */
        int eligible = index->raw[d] == RAW_TEXT && (index->where[d].memory || index->refill_fn);
        raw_count[i] = eligible ? index->meta[d].count : 0; /* (raw: more than 0) */
    }
    nd_sort_u64_high32(keyed, keyed + m, m);
    /* leads: in each group of two or more, the first text with each raw
     * count (positions ascending: text order) */
    uint32_t *lead = (uint32_t *)(keyed + m); /* the scratch, free again */
    for (size_t i = 0; i < m;) {
        size_t j = i + 1, seen = 0;
        while (j < m && (keyed[j] ^ keyed[i]) >> 32 == 0)
            j++;
        uint32_t counts[GROUP_COUNTS], firsts[GROUP_COUNTS];
        for (size_t k = i; k < j; k++) {
            uint32_t at = (uint32_t)keyed[k], c = raw_count[at], s = 0;
            lead[at] = j - i > 1 && c > 0 ? at : NO_LEAD;
            if (lead[at] == NO_LEAD)
                continue;
            while (s < seen && counts[s] != c)
                s++;
            if (s < seen) {
                lead[at] = firsts[s];
            } else if (seen < GROUP_COUNTS) {
                counts[seen] = c;
                firsts[seen++] = at;
            }
        }
        i = j;
    }
    int rc = ND_OK;
    for (size_t i = 0; i < m && rc == ND_OK; i++) {
        if (lead[i] != NO_LEAD && !index->where[docs[i]].memory)
            rc = nd_index_refill_now(index, docs[i]); /* dropped: its ids now (in text order) */
    }
    /* each copy's raw ids compared with its lead's, then the leads
     * sorted, on the index's threads (see lead_work) */
    lead_work w = {index, docs, lead, raw_count, m, 0, ND_OK};
    if (rc == ND_OK)
        rc = on_threads(&w, compare_some_leads);
    nd_free(raw_count);
    if (rc == ND_OK)
        rc = on_threads(&w, settle_some_leads);
    /* the copies noted (doc << 32 | lead) in keyed, free again (fewer
     * than m), then the index's list */
    enum { AHEAD = 8 };
    size_t copies = 0;
    for (size_t i = 0; i < m && rc == ND_OK; i++) {
        if (i + AHEAD < m && lead[i + AHEAD] != NO_LEAD && lead[i + AHEAD] != i + AHEAD) {
            size_t ahead = docs[lead[i + AHEAD]]; /* (its count and set hash) */
            __builtin_prefetch(&index->meta[ahead]);
            __builtin_prefetch(&index->where[ahead]);
        }
        if (lead[i] == NO_LEAD || lead[i] == i)
            continue;
        size_t d = docs[i], l = docs[lead[i]];
        settle_as_copy(index, d, l); /* l settled (settle_some_leads) */
        keyed[copies++] = (uint64_t)d << 32 | l;
    }
    index->raw_left -= copies;
    note_copies(index, keyed, copies, 2 * m);
    return rc;
}

/* Settle every raw text that may have a copy: a copy has the same
 * signature, and so the same key in every band. Every text's first band
 * key is hashed to slots, two bits a slot (seen, seen twice: slots.h;
 * SLOTS_FIRST slots a text), and a text whose slot was seen once has no
 * copy; the others (a paragraph mode's texts with copies and about one
 * lone text in 8) go to settle_copies, which settles those that share
 * the keys of the first COPY_BANDS bands with another text (sorted by
 * them: a superset of the texts with copies, keys being folded and
 * hashed; a lone text is settled for nothing about once in 8 x 2^32 / m). */
int nd_index_settle_shared(nd_index *index)
{
    size_t n = index->count, m = 0;
    assert(index->opts.bands > 0); /* resolved options */
    unsigned bits = nd_slot_bits(n, SLOTS_FIRST), shift = 32 - bits;
    /* touched whole, or nearly: huge pages (alloc.h) */
    uint64_t *slots = nd_malloc_huge(((size_t)1 << bits) / 32 * sizeof *slots); /* (seen, twice) words */
    uint32_t *live = nd_malloc_huge((n ? n : 1) * sizeof *live);                /* the texts passing */
    if (!slots || !live) {
        nd_free(slots);
        nd_free(live);
        return ND_ENOMEM;
    }
    const uint32_t *const *chunks = (const uint32_t *const *)index->key_chunks;
    /* every text, even one without shingles (settle_copies settles no
     * such text; their keys, all the same, are only each other's): the
     * keys alone are read, not the texts' counts */
    memset(slots, 0, ((size_t)1 << bits) / 32 * sizeof *slots);
    for (size_t d = 0; d < n; d++)
        nd_slot_mark(slots, nd_slot_of(chunks[d / ND_KEY_CHUNK][d % ND_KEY_CHUNK], shift), 1);
    for (size_t d = 0; d < n; d++) {
        live[m] = (uint32_t)d; /* texts are numbered in 32 bits */
        m += nd_slot_seen_twice(slots, nd_slot_of(chunks[d / ND_KEY_CHUNK][d % ND_KEY_CHUNK], shift));
    }
    nd_free(slots);
    int rc = settle_copies(index, live, m);
    nd_free(live);
    return rc;
}
