/* index_layout.h - the in-memory layout of an nd_index, private to the
 * files that work on it: index.c (adding texts, spilling), index_store.c
 * (the store view clustering reads), index_settle.c (sorting raw texts when they may be
 * read) and index_refill.c (texts added without ids, given them again);
 * reserve_ids, room in the id blocks, is here for index.c and
 * index_refill.c both. Nothing else includes it: callers see the index through
 * neardup.h, index_add.h and the nd_store view (store.h).
 */
#ifndef ND_INDEX_LAYOUT_H
#define ND_INDEX_LAYOUT_H

#include <stdint.h> /* uint32_t, uint64_t */
#include <stdio.h>  /* FILE */

#include "alloc.h" /* nd_grow, nd_malloc_huge: reserve_ids */
#include "index_add.h"
#include "neardup.h"
#include "store.h"

/* Where a text's ids are: in memory, or (spilled) at an offset of the ids
 * file, counted in ids. A dropped text (nd_index_add_dropped) not refilled
 * yet has its ids nowhere: NULL in memory, DROPPED_AT once spilled. */
typedef union {
    uint32_t *memory;
    uint64_t offset;
} id_location;

#define DROPPED_AT UINT64_MAX

enum { ID_BLOCK = 16 << 20 };    /* ids per block (64 MiB) */
enum { SPILL_BUFFER = 1 << 20 }; /* bytes of the ids file's write buffer (index.c) */

typedef struct {
    uint32_t *data;
    size_t used, capacity; /* in ids */
    int adopted;           /* nd_index_adopt_ids: counted by the texts kept in it (kept_ids) */
} id_block;

struct nd_index {
    nd_options opts;
    nd_text_meta *meta;
    nd_wide_weight *wide; /* weights past 32 bits (store.h), in text order */
    size_t wide_count, wide_capacity;
    id_location *where;
    size_t count, meta_capacity, where_capacity;
    uint32_t **key_chunks; /* bands x ND_KEY_CHUNK keys each; NULL once written to the keys file */
    size_t chunk_count, chunks_capacity;
    id_block *blocks; /* where the ids are kept in memory */
    size_t block_count, blocks_capacity;
    unsigned threads; /* for nd_index_cluster (nd_index_set_threads) */
    uint64_t *ranks;  /* ND_KEEP_RANK (nd_index_set_ranks), or NULL */
    size_t rank_count;
    /* spill mode */
    int spilled;
    FILE *ids_file;   /* ids, back to back */
    char *ids_buffer; /* its stdio buffer (SPILL_BUFFER bytes), or NULL: the default */
    uint64_t ids_written;
    FILE *keys_file; /* full key chunks */
    /* raw texts (nd_index_add_raw) */
    unsigned char *raw; /* per text once one is raw: 1 while its ids are not settled; else NULL */
    size_t raw_capacity;
    size_t raw_left;   /* texts with raw[doc] set */
    uint32_t *scratch; /* settling's sort scratch */
    size_t kept_ids;   /* ids of texts kept where they were written (nd_index_add_kept), in memory */
    nd_index *self;    /* this index: settling reached through a const view (store.h, nd_index_store) */
    size_t scratch_capacity;
    size_t dropped;         /* texts added without their ids (nd_index_add_dropped), not refilled yet */
    nd_refill_fn refill_fn; /* nd_index_set_refill: a dropped text's ids when clustering reads it, or NULL */
    void *refill_ctx;
    /* texts settled as copies of another (index_settle.c settle_copies):
     * doc << 32 | lead, doc ascending; the store lends them (store.h) */
    uint64_t *copies;
    size_t copy_count, copy_capacity;
};

/* Room for n ids in the last block (or a new one); NULL when out of memory. */
#if defined(__GNUC__) || defined(__clang__)
__attribute__((always_inline)) /* in add_one's loop (index.c), as before add_one grew */
#endif
static inline uint32_t *
reserve_ids(nd_index *index, size_t n)
{
    id_block *last = index->block_count ? &index->blocks[index->block_count - 1] : NULL;
    if (!last || last->capacity - last->used < n) {
        if (nd_grow((void **)&index->blocks, &index->blocks_capacity, index->block_count + 1, sizeof *index->blocks) !=
            0)
            return NULL;
        size_t capacity = n > ID_BLOCK ? n : ID_BLOCK;
        /* filled front to back: after the first block (a small index
         * touches a few KiB of it), a fault per 2 MiB (alloc.h) */
        uint32_t *data =
            index->block_count == 0 ? nd_malloc(capacity * sizeof *data) : nd_malloc_huge(capacity * sizeof *data);
        if (!data)
            return NULL;
        last = &index->blocks[index->block_count++];
        *last = (id_block){data, 0, capacity, 0};
    }
    return last->data + last->used;
}

/* A text's raw flag (index->raw[doc]): settled, raw, or being settled by
 * one thread (clustering's helpers settle the texts of the bands they
 * prepared ahead of the thread that verifies them, which may read the same
 * text meanwhile: the first to claim it settles it, store.h). */
enum { SETTLED = 0, RAW_TEXT = 1, SETTLING = 2 };

/* Is text `doc` dropped (nd_index_add_dropped) and not refilled yet? Only
 * a raw text can be: a spilled index settles every other as it writes it.
 * (A refill may publish the ids while a helper looks: where they are is
 * read atomically, index_refill.c.) */
static inline int text_dropped(const nd_index *index, size_t doc)
{
    if (!index->raw || __atomic_load_n(&index->raw[doc], __ATOMIC_ACQUIRE) != RAW_TEXT || index->meta[doc].count == 0)
        return 0;
    if (index->spilled)
        return __atomic_load_n(&index->where[doc].offset, __ATOMIC_ACQUIRE) == DROPPED_AT;
    return __atomic_load_n(&index->where[doc].memory, __ATOMIC_ACQUIRE) == NULL;
}

/* index_files.c: a spilled index's files, text by text.
 * nd_index_append_ids: text `doc`'s ids (meta[doc].count of them) appended
 * to the ids file, where[doc].offset set; ND_OK, ND_EIO, or ND_EINVAL (no
 * ids: a dropped text is never given).
 * nd_index_read_ids: text `doc`'s ids read back into `into` (room for its
 * count); ND_OK or ND_EIO.
 * nd_index_band_chunk: band `band`'s keys of key chunk c (ND_KEY_CHUNK
 * texts), in memory or read from the keys file into buf (room for
 * ND_KEY_CHUNK keys); NULL when the read fails. */
int nd_index_append_ids(nd_index *index, size_t doc, const uint32_t *ids);
int nd_index_read_ids(const nd_index *index, size_t doc, uint32_t *into);
const uint32_t *nd_index_band_chunk(const nd_index *index, unsigned band, size_t c, uint32_t *buf);

/* index_settle.c. Each returns ND_OK or ND_ENOMEM (a text left raw), or,
 * for a dropped text, nd_index_refill_now's error. */

/* Settle text `doc` (raw, in memory; the sort's scratch in *scratch) if
 * this thread claims it first; returns at once when it is settled or being
 * settled by another. */
int nd_index_settle_with(nd_index *index, size_t doc, uint32_t **scratch, size_t *capacity);

/* Settle text `doc` on the index's own thread (its scratch). */
int nd_index_settle(nd_index *index, size_t doc);

/* Settle every raw text: the dropped ones too, refilled first
 * (containment), or (`keep_dropped`: before spilling, whose files hold
 * settled ids only) all but those, left dropped. */
int nd_index_settle_all(nd_index *index, int keep_dropped);

/* Settle every raw text that may have a copy (before clustering). */
int nd_index_settle_shared(nd_index *index);

/* index_refill.c: give dropped text `doc` its ids now, from the index's
 * refill function (nd_index_set_refill). ND_OK, ND_EINVAL (no function),
 * or the function's error (ND_EIO, ND_ENOMEM). */
int nd_index_refill_now(nd_index *index, size_t doc);

/* index_refill.c: give every dropped text that shares a band key with
 * another its ids now (nd_index_dropped_wanted, in text order; a spilled
 * index before clustering: the others are never read). ND_OK, or
 * nd_index_refill_now's error; nothing without a refill function. */
int nd_index_refill_wanted(nd_index *index);

#endif
