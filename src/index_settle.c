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
        if (index->raw[d] && nd_index_settle(index, d) != ND_OK)
            return ND_ENOMEM;
    }
    return ND_OK;
}

/* Bands the copies test below looks at (all of them when fewer). */
enum { COPY_BANDS = 4 };

/* Settle every raw text that may have a copy: a copy has the same
 * signature, and so the same key in every band. A raw text is settled
 * when its key in each of the first COPY_BANDS bands may be another
 * text's: per band, keys are hashed to 16 slots a text or more, two bits
 * a slot (seen, seen twice: slots.h), and a text passes when its slot was seen
 * twice. A superset of the texts with copies (keys are folded, slots
 * shared): a lone text passes a band about once in 16, all four about
 * once in 65,000 (settled for nothing, harmlessly). */
int nd_index_settle_shared(nd_index *index)
{
    size_t n = index->count;
    unsigned bits = 12, bands = index->opts.bands < COPY_BANDS ? index->opts.bands : COPY_BANDS;
    while (bits < 27 && ((size_t)1 << bits) < n * 16)
        bits++;
    size_t words = ((size_t)1 << bits) / 32;
    uint64_t *slots = nd_malloc(words * sizeof *slots); /* (seen, twice) words, interleaved */
    unsigned char *passed = nd_calloc(n ? n : 1, 1);    /* bands passed so far */
    if (!slots || !passed) {
        nd_free(slots);
        nd_free(passed);
        return ND_ENOMEM;
    }
    unsigned shift = 32 - bits;
    for (unsigned band = 0; band < bands; band++) {
        memset(slots, 0, words * sizeof *slots);
        size_t at = (size_t)band * ND_KEY_CHUNK;
        for (size_t d = 0; d < n; d++) {
            uint32_t h = nd_slot_of(index->key_chunks[d / ND_KEY_CHUNK][at + d % ND_KEY_CHUNK], shift);
            nd_slot_mark(slots, h, index->meta[d].count > 0);
        }
        for (size_t d = 0; d < n; d++) {
            uint32_t h = nd_slot_of(index->key_chunks[d / ND_KEY_CHUNK][at + d % ND_KEY_CHUNK], shift);
            unsigned twice = nd_slot_seen_twice(slots, h);
            passed[d] = (unsigned char)(passed[d] + (twice & (passed[d] == band) & index->raw[d]));
        }
    }
    int rc = ND_OK;
    for (size_t d = 0; d < n && rc == ND_OK; d++) {
        if (passed[d] == bands && index->raw[d])
            rc = nd_index_settle(index, d);
    }
    nd_free(slots);
    nd_free(passed);
    return rc;
}
