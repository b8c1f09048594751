/* pipebatch.h - a batch of pass 1's records: read (holding the reader's
 * blocks the records are in), sketched by any thread (pipeline.c), handed
 * to the sink in input order, reset for the next. See pipebatch.c. */
#ifndef ND_CLI_PIPEBATCH_H
#define ND_CLI_PIPEBATCH_H

#include <stdatomic.h> /* atomic_size_t, atomic_uchar */
#include <stddef.h>    /* size_t */
#include <stdint.h>    /* uint32_t, uint64_t */

#include "arena.h"
#include "input.h"
#include "pipeline.h"

/* A record's outcome: its sketch, or why it cannot be used. */
typedef struct result {
    sketched_doc doc;
    char *error; /* malloc'd message for an unusable record */
    /* raw ids (pipeline_sink.adopt_ids): the block of ids its thread
     * finished on starting a new one for this document (every document
     * with ids in it comes earlier: it goes to the sink before this one is
     * committed), or NULL */
    uint32_t *done_block;
    size_t done_capacity;
} result;

/* Records are taken a grab at a time: up to GRAB_RECORDS of them, fewer
 * where they reach GRAB_BYTES (a grab of long documents stays small
 * enough to share out). A trip of the shared counter's cache line and of
 * the pool's lock per grab, and neighbouring results (which share cache
 * lines) written by one thread. 64 records a grab against 8, 2 threads,
 * run in turn, the median of each round's ratio: 1M generated documents,
 * 0.91x the wall time and 0.92x the CPU time (9 rounds); 100k syndicated
 * in paragraphs and 50k CJK, 0.96x the wall time (7 rounds). */
enum { GRAB_RECORDS = 64, GRAB_BYTES = 64 << 10 };

/* A grab's records are all sketched (set with release), a cache line per
 * flag: flags sharing a line went back and forth between the cores. */
typedef struct grab_done {
    atomic_uchar set;
    char pad[63];
} grab_done;

/* Up to a batch of records (pipebatch.c's sizes), their results and the
 * memory both live in. */
typedef struct batch {
    record *records;
    result *results;
    grab_done *done;      /* done[grab_of[i]]: results[i] is ready */
    uint32_t *grab_start; /* grab g is records [grab_start[g], grab_start[g + 1]) */
    uint16_t *grab_of;    /* each record's grab */
    size_t grabs;         /* grab_start has grabs + 1 entries once read */
    uint64_t *keys;       /* capacity x bands band keys, for document mode */
    arena *arenas;        /* one per thread: ids, id strings and units of its results */
    arena data;           /* copies of records not in a reader's block (read by the main thread) */
    reader_block **held;  /* the reader blocks its records are in (input_hold) */
    input *in;            /* whose blocks they are */
    size_t held_count, held_capacity;
    size_t arena_count;
    size_t count, capacity;
    uint64_t bytes;
    /* the next grab to take (process_grab): a line of its own, as every
     * thread writes it for each grab while reading the fields above */
    char pad_before[64];
    atomic_size_t next;
    char pad_after[64];
    /* under the pool's lock, while the batch is submitted: */
    unsigned users; /* threads sketching a grab of it */
    int exhausted;  /* no record is left to take: threads pass on to the next batch */
    int status;     /* its first library error */
} batch;

/* Read up to a batch of records, the `number`th batch (0-based). Returns
 * 1 if any were read, 0 at the end, -1 on an input error (reported). */
int batch_read(batch *b, input *in, unsigned bands, unsigned number);
/* Hand the processed records of a batch from *committed on to the sink, in
 * input order, up to the first one not done yet (or all: `all`). EXIT_OK
 * or EXIT_FAIL (reported). */
int batch_commit_ready(const pipeline_sink *sink, batch *b, size_t *committed, int all);
/* Free its records' own copies, release its reader blocks and reset its
 * arenas: empty, ready for batch_read. */
void batch_reset(batch *b);
/* batch_reset, then free everything (the input's spare blocks too). */
void batch_free(batch *b);

#endif
