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

int id_blocks_hand_over(const pipeline_sink *sink, uint32_t *block, size_t capacity)
{
    if (!block || sink->adopt_ids(sink->ctx, block, capacity) == ND_OK)
        return ND_OK;
    nd_index_ids_block_free(block);
    return ND_ENOMEM;
}
