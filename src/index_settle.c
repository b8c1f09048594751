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
 *  - nd_index_store settles every text that may share its keys in the
 *    first bands with another (a text with an identical set has the same
 *    signature and so the same keys: the others cannot have a copy),
 *    found with two bits per hashed slot (nd_index_settle_shared); the rest stay
 *    raw and the store says so (nd_store.unsettled): identical sets skip
 *    them, each a set of its own. With containment, or once spilled,
 *    every text is settled.
 *  - the store's ids() settles a raw text when it is first read, on the
 *    thread that verifies candidates (store.h: the only thread that reads
 *    a text first), unless a thread preparing LSH bands settled it ahead
 *    (the store's settle(): each text is claimed by one thread, an atomic
 *    flag, and ids() waits for a text another thread is settling).
 */
#include "index_impl.h"

#include <assert.h> /* assert */
#include <string.h> /* memset */

#include "alloc.h"
#include "index_add.h"
#include "slots.h"
#include "sort.h"

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

int nd_index_settle_all(nd_index *index)
{
    for (size_t d = 0; d < index->count && index->raw_left > 0; d++) {
        if (index->raw[d] && !index->where[d].memory) { /* dropped: its ids now, or the error */
            int rc = nd_index_refill_now(index, d);
            if (rc != ND_OK)
                return rc;
        }
        if (index->raw[d] && nd_index_settle(index, d) != ND_OK)
            return ND_ENOMEM;
    }
    return ND_OK;
}

/* Bands the copies test below looks at (all of them when fewer), and
 * slots a text in the first band's table. */
enum { COPY_BANDS = 4, SLOTS_FIRST = 8 };

/* Settle every raw text that may have a copy: a copy has the same
 * signature, and so the same key in every band. A raw text is settled
 * when its key in each of the first COPY_BANDS bands may be another
 * text's: per band, keys are hashed to slots, two bits a slot (seen, seen
 * twice: slots.h), and a text passes when its slot was seen twice. The
 * first band takes every text (SLOTS_FIRST slots a text); after it only
 * the texts still passing are marked and tested, in a table of 16 slots
 * a text sized for them (a copy of a text passes every band the text
 * passes, so no text with a copy is lost; a paragraph mode's hundreds of
 * thousands of units go through one band, and the few that pass it
 * through the others). A superset of the texts with copies (keys are
 * folded, slots shared): a lone text passes the first band about once in
 * 8, all four about once in 32,000 (settled for nothing, harmlessly). */
int nd_index_settle_shared(nd_index *index)
{
    size_t n = index->count, m = n;
    unsigned bands = index->opts.bands < COPY_BANDS ? index->opts.bands : COPY_BANDS;
    assert(bands > 0); /* resolved options: the first band fills `live` */
    /* the most any band takes: only what a band uses is touched */
    uint64_t *slots = nd_malloc(((size_t)1 << nd_slot_bits(n, 16)) / 32 * sizeof *slots); /* (seen, twice) words */
    uint32_t *live = nd_malloc((n ? n : 1) * sizeof *live);                               /* the texts still passing */
    if (!slots || !live) {
        nd_free(slots);
        nd_free(live);
        return ND_ENOMEM;
    }
    const uint32_t *const *chunks = (const uint32_t *const *)index->key_chunks;
    for (unsigned band = 0; band < bands; band++) {
        unsigned bits = nd_slot_bits(m, band ? 16 : SLOTS_FIRST), shift = 32 - bits;
        memset(slots, 0, ((size_t)1 << bits) / 32 * sizeof *slots);
        size_t at = (size_t)band * ND_KEY_CHUNK;
        for (size_t i = 0; i < m; i++) {
            size_t d = band ? live[i] : i;
            nd_slot_mark(slots, nd_slot_of(chunks[d / ND_KEY_CHUNK][at + d % ND_KEY_CHUNK], shift),
                         index->meta[d].count > 0);
        }
        size_t kept = 0;
        for (size_t i = 0; i < m; i++) {
            size_t d = band ? live[i] : i;
            unsigned twice =
                nd_slot_seen_twice(slots, nd_slot_of(chunks[d / ND_KEY_CHUNK][at + d % ND_KEY_CHUNK], shift));
            live[kept] = (uint32_t)d; /* texts are numbered in 32 bits */
            kept += twice & (index->meta[d].count > 0);
        }
        m = kept;
    }
    nd_free(slots);
    int rc = ND_OK;
    for (size_t i = 0; i < m && rc == ND_OK; i++) {
        if (!index->raw[live[i]])
            continue;
        /* a dropped text: its ids now (nd_index_set_refill); without a
         * refill function, one that no text shares a key with (the caller
         * refilled those: nd_index_dropped_wanted), no copy */
        if (!index->where[live[i]].memory && index->refill_fn)
            rc = nd_index_refill_now(index, live[i]);
        if (rc == ND_OK && index->where[live[i]].memory)
            rc = nd_index_settle(index, live[i]);
    }
    nd_free(live);
    return rc;
}
