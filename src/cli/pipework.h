/* pipework.h - pass 1's work on one record, on any of the pipeline's
 * threads (pipework.c): what pipeline.c's pool runs for each grab of a
 * batch. */
#ifndef ND_CLI_PIPEWORK_H
#define ND_CLI_PIPEWORK_H
#include <stddef.h> /* size_t */
#include <stdint.h> /* uint32_t */

#include "arena.h"
#include "idblocks.h"
#include "idguess.h"
#include "json.h" /* json_scratch */
#include "pipebatch.h"
#include "pipeline.h"

/* One thread's tools: its sketcher and the scratch in which it gathers a
 * document's units before copying them to its arena. Each thread's tools
 * on cache lines of their own, and each worker's sketcher made on that
 * worker (pipe_tools_start): its allocations then come from that thread's
 * heap, away from the others'. Written for every document (the id
 * writer, the sketcher's tokens and signature), fields of two threads
 * that shared a line made both slow whenever the heap's layout put them
 * together: `scan -o FILE`, one allocation more before the sketchers,
 * took 1.08x the CPU time of writing to stdout (1M generated documents,
 * 2 threads, 7 rounds in turn), id_writer_put and nd_shingle_choice 20
 * and 16 times their samples; laid out so, 0.92x the wall time with -o
 * and 0.95x to stdout, and the same with -o as to stdout. */
typedef struct worker_tools {
    _Alignas(64) nd_sketcher *sketcher;
    sketched_unit *units;
    size_t units_capacity;
    char *repaired; /* plain text with ill-formed UTF-8 replaced (unit mode) */
    size_t repaired_capacity;
    json_scratch json; /* JSON texts with escapes unescaped here (doc_view_open_with) */
    id_writer ids;     /* raw ids: the block its documents' ids are written to */
    /* the last document sketched, whose ids the guess (id_predictor) has
     * not decided on yet (keep_block_ids): they stay in the sketcher until
     * it sketches again, and the guess's bits come in meanwhile */
    result *undecided; /* NULL: none */
    const uint32_t *undecided_ids;
    size_t undecided_count;
} worker_tools;

/* What every thread's work reads (pipeline_run sets it up from the
 * options and the sink). */
typedef struct pipe_shared {
    const cli_config *cfg;
    const nd_options *opts;
    const input *in;
    worker_tools *tools;   /* one per thread */
    int repair_plain;      /* sketch plain texts with ill-formed UTF-8 replaced, as pass 2 will see them */
    int raw_ids;           /* ids as made: pipeline_sink.adopt_ids is set, without settled_ids in document mode */
    int block_ids;         /* ids written into the thread's block: pipeline_sink.adopt_ids is set */
    id_predictor *predict; /* pipeline_sink.predict */
} pipe_shared;

/* Make thread w's sketcher, on that thread, if not made yet. ND_OK or a
 * library error. */
int pipe_tools_start(const pipe_shared *sh, worker_tools *w);
/* Sketch the next grab of `b` (pipebatch.h), if any is left. Returns 1
 * after it, 0 when none is left, or a (negative) library error, after
 * which the other threads stop too. Any number of threads may run this on
 * the same batch; `worker` is the calling thread's index in sh->tools. */
int pipe_process_grab(const pipe_shared *sh, unsigned worker, batch *b);
/* Free the n threads' tools and the array. */
void pipe_tools_free(worker_tools *tools, unsigned n);
#endif /* ND_CLI_PIPEWORK_H */
