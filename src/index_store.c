/* index_store.c - the nd_store view of an index (store.h): how
 * clustering reads a text's ids and a band's keys back, from memory or
 * from the files the index spilled to (index_files.c), and how a raw
 * text is settled (index_settle.c) or a dropped one refilled
 * (index_refill.c) on its first read. nd_index_store settles, before
 * handing the view out, what reading it needs settled: every raw text
 * for containment, else those that may have a copy.
 */
#include "neardup.h"

#include <sched.h> /* sched_yield */
#include <stdio.h> /* fflush */

#include "alloc.h"
#include "index_layout.h"
#include "store.h"

static const uint32_t *stored_ids(const void *backend, size_t doc, nd_id_buffer *buf, int *rc)
{
    const nd_index *index = backend;
    unsigned char state;
    while (index->raw && (state = __atomic_load_n(&index->raw[doc], __ATOMIC_ACQUIRE)) != SETTLED) {
        /* first read of a raw text: settled here (store.h: on the one
         * thread that reads texts first; the index is its owner's), or
         * by a helper that claimed it first: this thread waits for it */
        if (state == SETTLING) {
            sched_yield();
            continue;
        }
        if (text_dropped(index, doc)) {
            /* dropped: its ids now (nd_index_set_refill), on the thread
             * that reads texts first (store.h); a spilled index writes
             * them settled to its ids file, read below */
            int refilled = nd_index_refill_now(index->self, doc);
            if (refilled == ND_OK && index->spilled && fflush(index->ids_file) != 0)
                refilled = ND_EIO;
            if (refilled != ND_OK) {
                *rc = refilled;
                return NULL;
            }
        }
        int settled = nd_index_settle(index->self, doc);
        if (settled != ND_OK) {
            *rc = settled;
            return NULL;
        }
    }
    size_t count = index->meta[doc].count;
    if (!index->spilled || count == 0)
        return index->where[doc].memory;
    if (nd_grow((void **)&buf->data, &buf->capacity, count, sizeof(uint32_t)) != 0) {
        *rc = ND_ENOMEM;
        return NULL;
    }
    int io = nd_index_read_ids(index, doc, buf->data);
    if (io != ND_OK) {
        *rc = io;
        return NULL;
    }
    return buf->data;
}

/* The store's settle (store.h): any thread, its own scratch. */
static void settle_texts(const void *backend, const uint32_t *docs, size_t n, nd_id_buffer *scratch)
{
    nd_index *index = ((const nd_index *)backend)->self;
    for (size_t k = 0; k < n; k++) {
        if (__atomic_load_n(&index->raw[docs[k]], __ATOMIC_ACQUIRE) == RAW_TEXT &&
            !text_dropped(index, docs[k])) /* (dropped: left to stored_ids) */
            (void)nd_index_settle_with(index, docs[k], &scratch->data,
                                       &scratch->capacity); /* else left to stored_ids */
    }
}

static const uint32_t *stored_band_keys(const void *backend, unsigned band, size_t c, uint32_t *buf)
{
    return nd_index_band_chunk(backend, band, c, buf);
}

int nd_index_store(const nd_index *index, nd_store *out)
{
    if (index->spilled && (fflush(index->ids_file) != 0 || fflush(index->keys_file) != 0))
        return ND_EIO;
    if (index->raw_left > 0) {
        /* raw texts settled as far as reading the store needs
         * (index_settle.c); the index is its owner's, not shared. A
         * spilled index's raw texts are dropped ones (it settles every
         * other as it writes it): those that share a key with another
         * get their ids, the rest are never read (nd_index_refill_wanted) */
        nd_index *settling = index->self;
        int rc = index->opts.measure == ND_MEASURE_CONTAINMENT ? nd_index_settle_all(settling, 0)
                 : index->spilled                              ? nd_index_refill_wanted(settling)
                                                               : nd_index_settle_shared(settling);
        if (rc == ND_OK && index->spilled && fflush(index->ids_file) != 0)
            rc = ND_EIO;
        if (rc != ND_OK)
            return rc;
    }
    *out = (nd_store){&index->opts,
                      index->count,
                      index->meta,
                      index->spilled,
                      index,
                      stored_ids,
                      stored_band_keys,
                      index->ranks,
                      index->rank_count,
                      index->raw_left > 0 ? index->raw : NULL,
                      index->wide,
                      index->wide_count,
                      index->raw_left > 0 ? settle_texts : NULL,
                      index->copies,
                      index->copy_count};
    return ND_OK;
}
