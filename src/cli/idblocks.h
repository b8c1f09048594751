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
} id_writer;

/* Write `count` ids (count > 0) into w's block, or a new one: *at is where
 * they went; when a new block was started, *done is the one left (or NULL
 * for the first) and *done_capacity its size. ND_OK or ND_ENOMEM. */
int id_writer_put(id_writer *w, const uint32_t *ids, size_t count, uint32_t **at, uint32_t **done,
                  size_t *done_capacity);

/* A block (or NULL: nothing to do) to the sink (pipeline_sink.adopt_ids);
 * freed when the sink cannot take it. ND_OK or ND_ENOMEM. */
int id_blocks_hand_over(const pipeline_sink *sink, uint32_t *block, size_t capacity);

#endif /* ND_CLI_IDBLOCKS_H */
