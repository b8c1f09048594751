/* idblocks.c - raw shingle ids written once, into blocks an index adopts.
 *
 * In document mode (pipeline_sink.adopt_ids) a document's ids are kept as
 * shingling made them (nd_sketch_text_ref_raw) and written once, into its
 * sketching thread's block, which the index adopts (nd_index_adopt_ids):
 * no copy into the thread's arena and none from there into the index's
 * own blocks (for CJK text the ids take more room than the text, and
 * every fresh page costs a fault). A thread's documents are committed in
 * the order it sketched them (pipeline.c), so the block it leaves for a
 * new one is handed to the sink with the first document of the new one,
 * when every document with ids in it has been committed.
 *
 * A document's units (--unit paragraph|line) are written the same way,
 * each unit's ids as made (nd_sketch_units_raw) where the index keeps them
 * (nd_index_add_prepared_kept), and a document's units are kept in one
 * block: when a unit does not fit, the document's ids so far move with it
 * to the new block (once a block: rare), so the block left holds only
 * earlier documents and can be handed on before this one is committed.
 *
 * Sizes: the first block holds 64 Ki ids (256 KiB: a small input takes
 * little), the next ones 16 Mi (64 MiB, as the index's own blocks: filled
 * front to back with huge pages, a fault per 2 MiB; steps in between took
 * a quarter more faults on CJK text); a larger text's ids take a block of
 * their own.
 */
#include "idblocks.h"

#include <stdlib.h> /* calloc, free */
#include <string.h> /* memcpy */

#include "index_add.h"

enum { IDS_FIRST = 1 << 16, IDS_BLOCK = 16 << 20 };

int id_writer_put(id_writer *w, const uint32_t *ids, size_t count, uint32_t **at, uint32_t **done,
                  size_t *done_capacity)
{
    *done = NULL;
    if (w->capacity - w->used < count) {
        size_t capacity = w->blocks == 0 ? IDS_FIRST : IDS_BLOCK;
        capacity = count > capacity ? count : capacity;
        uint32_t *block = nd_index_ids_block_new(capacity);
        if (!block)
            return ND_ENOMEM;
        *done = w->block;
        *done_capacity = w->capacity;
        *w = (id_writer){block, 0, capacity, w->blocks + 1, 0, 0};
    }
    *at = w->block + w->used;
    memcpy(*at, ids, count * sizeof *ids);
    w->used += count;
    return ND_OK;
}

void id_writer_start_doc(id_writer *w)
{
    w->doc_from = w->used;
    w->doc_block = 0;
}

int id_writer_put_unit(id_writer *w, const uint32_t *ids, size_t count, uint32_t **at, uint32_t **done,
                       size_t *done_capacity, const uint32_t **from, uint32_t **to)
{
    *done = NULL;
    *from = NULL;
    if (w->capacity - w->used < count) {
        size_t moved = w->used - w->doc_from; /* the document's ids so far */
        size_t capacity = w->blocks == 0 ? IDS_FIRST : IDS_BLOCK;
        capacity = moved + count > capacity ? moved + count : capacity;
        uint32_t *block = nd_index_ids_block_new(capacity);
        if (!block)
            return ND_ENOMEM;
        if (moved > 0) {
            memcpy(block, w->block + w->doc_from, moved * sizeof *block);
            *from = w->block + w->doc_from;
            *to = block;
        }
        if (w->doc_block || (w->block && w->doc_from == 0)) {
            nd_index_ids_block_free(w->block); /* only this document's ids were in it */
        } else {
            *done = w->block;
            *done_capacity = w->capacity;
        }
        *w = (id_writer){block, moved, capacity, w->blocks + 1, 0, 1};
    }
    *at = w->block + w->used;
    memcpy(*at, ids, count * sizeof *ids);
    w->used += count;
    return ND_OK;
}

int id_predictor_init(id_predictor *p, uint64_t bytes)
{
    unsigned log = 16;
    while (log < 32 && ((uint64_t)1 << log) < bytes / 32)
        log++;
    *p = (id_predictor){calloc(((size_t)1 << log) / 64, sizeof(uint64_t)), 64 - log, ((size_t)1 << log) / 32, 0, 0};
    return p->bits ? 0 : -1;
}

void id_predictor_free(id_predictor *p)
{
    free(p->bits);
    *p = (id_predictor){0};
}

void id_predictor_stop(id_predictor *p)
{
    __atomic_store_n(&p->off, 1, __ATOMIC_RELAXED);
}

/* Set bit `bit`; was it set? */
static int test_and_set(uint64_t *bits, uint64_t bit)
{
    uint64_t mask = (uint64_t)1 << (bit & 63);
    if (__atomic_load_n(&bits[bit >> 6], __ATOMIC_RELAXED) & mask)
        return 1;
    return (__atomic_fetch_or(&bits[bit >> 6], mask, __ATOMIC_RELAXED) & mask) != 0;
}

int id_predictor_keep(id_predictor *p, const record *rec, size_t text_len, size_t count, const uint64_t *keys,
                      unsigned bands)
{
    if (count * sizeof(uint32_t) < text_len || !rec->located || rec->len > UINT32_MAX ||
        rec->source >= (1u << 31) || /* replay_at.c's places */
        __atomic_load_n(&p->off, __ATOMIC_RELAXED) || __atomic_fetch_add(&p->seen, 1, __ATOMIC_RELAXED) >= p->limit)
        return 1;
    /* band keys are hashes already; the two bands' bits spread apart */
    int hit = test_and_set(p->bits, keys[0] * 0x9E3779B97F4A7C15ull >> p->shift);
    if (bands > 1)
        hit |= test_and_set(p->bits, keys[1] * 0xC2B2AE3D27D4EB4Full >> p->shift);
    return hit;
}

int id_blocks_hand_over(const pipeline_sink *sink, uint32_t *block, size_t capacity)
{
    if (!block || sink->adopt_ids(sink->ctx, block, capacity) == ND_OK)
        return ND_OK;
    nd_index_ids_block_free(block);
    return ND_ENOMEM;
}
