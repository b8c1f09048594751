/* idblocks.h - raw shingle ids written once, into blocks an index adopts
 * (idblocks.c). */
#ifndef ND_CLI_IDBLOCKS_H
#define ND_CLI_IDBLOCKS_H

#include <stddef.h> /* size_t */
#include <stdint.h> /* uint32_t */

#include "pipeline.h"

/* One sketching thread's block being filled. Zero-initialize; one per
 * thread. */
typedef struct id_writer {
    uint32_t *block;
    size_t used, capacity;
    unsigned blocks; /* blocks made */
    size_t doc_from; /* units: where the document being sketched begins in `block` */
    int doc_block;   /* units: `block` was started for that document (holds nothing else) */
} id_writer;

/* Write `count` ids (count > 0) into w's block, or a new one: *at is where
 * they went; when a new block was started, *done is the one left (or NULL
 * for the first) and *done_capacity its size. ND_OK or ND_ENOMEM. */
int id_writer_put(id_writer *w, const uint32_t *ids, size_t count, uint32_t **at, uint32_t **done,
                  size_t *done_capacity);

/* Units (--unit paragraph|line): each unit's ids written once, like a
 * document's, and a document's units kept in one block, so that the block
 * handed on before the document is committed holds none of them.
 * id_writer_start_doc before a document's first unit; then
 * id_writer_put_unit as id_writer_put, except that when a new block is
 * started, the document's ids written so far, at *from, move to the new
 * block, at *to (the caller moves its pointers to them; *from is NULL
 * when nothing moved), and the block left is *done only when it holds
 * earlier documents' ids (at most once a document; a block started for
 * this document is freed). */
void id_writer_start_doc(id_writer *w);
int id_writer_put_unit(id_writer *w, const uint32_t *ids, size_t count, uint32_t **at, uint32_t **done,
                       size_t *done_capacity, const uint32_t **from, uint32_t **to);

/* A block (or NULL: nothing to do) to the sink (pipeline_sink.adopt_ids);
 * freed when the sink cannot take it. ND_OK or ND_ENOMEM. */
int id_blocks_hand_over(const pipeline_sink *sink, uint32_t *block, size_t capacity);

#endif /* ND_CLI_IDBLOCKS_H */
