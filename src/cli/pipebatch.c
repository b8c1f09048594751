/* pipebatch.c - a batch of pass 1's records, between the reader and the
 * sink: read (its records stay in the reader's blocks, which the batch
 * holds until it is reset: no copy), sketched by any thread (pipeline.c),
 * handed to the sink in input order, then reset for the next batch.
 *
 * Sizes: see the enum below; pipeline.c keeps at most four batches
 * (IN_FLIGHT), and with one thread only one.
 */
#include "pipebatch.h"

#include <stdlib.h> /* malloc, calloc, free */
#include <string.h> /* memcpy, memset */

#include "alloc.h" /* nd_grow */
#include "idblocks.h"

/* A batch holds up to BATCH_RECORDS records or BATCH_BYTES bytes. The
 * first ones are smaller (FIRST_RECORDS and FIRST_BYTES, four times more
 * each time, up to the others'): the workers wait while the main thread
 * reads the first batch alone. Up to four batches, and all their records
 * need (bytes, ids, units), are in fresh memory at once: 1024 records, not 4096,
 * took 8.0k -> 4.7k page faults (CJK scan, 50k 1 KB documents). The
 * reader's blocks (READ_BLOCK) are held by the batches too: 1 MiB took
 * 640 page faults more than 256 KiB (50k latin documents). */
enum { BATCH_RECORDS = 1024, BATCH_BYTES = 16 << 20, FIRST_RECORDS = 256, FIRST_BYTES = 1 << 20 };
enum { READ_BLOCK = 1 << 18 };
_Static_assert(FIRST_RECORDS <= BATCH_RECORDS && (FIRST_BYTES << 4) <= BATCH_BYTES,
               "the first batches fit in BATCH_RECORDS and BATCH_BYTES");
_Static_assert(BATCH_RECORDS <= UINT16_MAX, "a record's grab (batch.grab_of) fits in 16 bits");

void batch_reset(batch *b)
{
    for (size_t i = 0; i < b->count; i++) {
        if (!b->records[i].borrowed)
            free(b->records[i].data); /* a whole file, read on its own */
        free(b->results[i].error);
    }
    arena_reset(&b->data);
    for (size_t i = 0; i < b->held_count; i++)
        input_release(b->held[i]);
    b->held_count = 0;
    for (size_t t = 0; b->arenas && t < b->arena_count; t++)
        arena_reset(&b->arenas[t]);
    b->count = 0;
    b->bytes = 0;
}

void batch_free(batch *b)
{
    batch_reset(b);
    free(b->records);
    free(b->results);
    free(b->done);
    free(b->grab_start);
    free(b->grab_of);
    free(b->keys);
    free(b->held);
    if (b->in)
        input_trim_blocks(b->in); /* not kept through the rest of the run */
    for (size_t t = 0; b->arenas && t < b->arena_count; t++)
        arena_free(&b->arenas[t]);
    free(b->arenas);
    arena_free(&b->data);
}

int batch_read(batch *b, input *in, unsigned bands, unsigned number)
{
    if (!b->records) {
        b->records = calloc(BATCH_RECORDS, sizeof *b->records);
        b->results = calloc(BATCH_RECORDS, sizeof *b->results);
        b->done = calloc(BATCH_RECORDS, sizeof *b->done);
        b->grab_start = malloc((BATCH_RECORDS + 1) * sizeof *b->grab_start);
        b->grab_of = malloc(BATCH_RECORDS * sizeof *b->grab_of);
        b->keys = malloc((size_t)BATCH_RECORDS * bands * sizeof *b->keys);
        if (!b->records || !b->results || !b->done || !b->grab_start || !b->grab_of || !b->keys) {
            cli_error("out of memory");
            return -1;
        }
        b->capacity = BATCH_RECORDS;
        if (input_keep_blocks(in, READ_BLOCK) != 0)
            return -1;
        b->in = in;
    }
    size_t max_records = BATCH_RECORDS;
    uint64_t max_bytes = BATCH_BYTES;
    if (number < 3) {
        max_records = number ? BATCH_RECORDS : FIRST_RECORDS; /* 256, then 1024 */
        max_bytes = (uint64_t)FIRST_BYTES << (2 * number);
    }
    b->grabs = 0;
    b->grab_start[0] = 0;
    uint64_t grab_bytes = 0;
    while (b->count < max_records && b->bytes < max_bytes) {
        record *rec = &b->records[b->count];
        int rc = input_next_borrowed(in, rec);
        if (rc < 0)
            return -1;
        if (rc == 0)
            break;
        reader_block *last = b->held_count ? b->held[b->held_count - 1] : NULL;
        reader_block *block = input_hold(in, rec, last);
        if (block && block != last) {
            if (nd_grow((void **)&b->held, &b->held_capacity, b->held_count + 1, sizeof *b->held) != 0) {
                input_release(block);
                cli_error("out of memory");
                return -1;
            }
            b->held[b->held_count++] = block;
        }
        if (rec->borrowed && !block) {
            /* into the batch's arena: one copy, and no malloc and free per
             * record (the record stays "borrowed": not freed on its own) */
            char *copy = arena_alloc(&b->data, rec->len ? rec->len : 1);
            if (!copy) {
                cli_error("out of memory");
                return -1;
            }
            if (rec->len)
                memcpy(copy, rec->data, rec->len);
            rec->data = copy;
        }
        memset(&b->results[b->count], 0, sizeof b->results[b->count]);
        if (b->count == b->grab_start[b->grabs] + GRAB_RECORDS || grab_bytes >= GRAB_BYTES) {
            b->grab_start[++b->grabs] = (uint32_t)b->count; /* the next grab starts here */
            grab_bytes = 0;
        }
        if (b->count == b->grab_start[b->grabs])
            atomic_store_explicit(&b->done[b->grabs].set, 0, memory_order_relaxed);
        b->grab_of[b->count] = (uint16_t)b->grabs;
        grab_bytes += rec->len;
        b->results[b->count].doc.rec = rec;
        b->bytes += rec->len;
        b->count++;
    }
    if (b->count > 0)
        b->grab_start[++b->grabs] = (uint32_t)b->count; /* the last grab's end */
    return b->count > 0;
}

int batch_commit_ready(const pipeline_sink *sink, batch *b, size_t *committed, int all)
{
    for (size_t i = *committed; i < b->count; i++) {
        if (!all && !atomic_load_explicit(&b->done[b->grab_of[i]].set, memory_order_acquire))
            return EXIT_OK;
        *committed = i + 1;
        uint32_t *done = b->results[i].done_block;
        b->results[i].done_block = NULL;
        if (id_blocks_hand_over(sink, done, b->results[i].done_capacity) != ND_OK) {
            cli_error("out of memory");
            return EXIT_FAIL;
        }
        if (sink->commit(sink->ctx, &b->results[i].doc) != EXIT_OK)
            return EXIT_FAIL;
    }
    return EXIT_OK;
}
