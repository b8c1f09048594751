/* pipeline.h - pass 1: records in, sketches out, in input order (pipeline.c).
 *
 * Every command that reads a corpus (scan, dedup, and any later user such
 * as an on-disk index or a distributed run) feeds its records through
 * here: records are read in batches, parsed and sketched on N threads,
 * then handed to the caller's sink one at a time in input order, so what
 * the sink builds is the same for any thread count.
 */
#ifndef ND_CLI_PIPELINE_H
#define ND_CLI_PIPELINE_H

#include <stddef.h> /* size_t */
#include <stdint.h> /* uint32_t, uint64_t */

#include "cli.h"
#include "input.h"
#include "keep.h"

/* One unit of a document (--unit paragraph|line). */
typedef struct sketched_unit {
    nd_span span;        /* in the document's text */
    const uint32_t *ids; /* sorted distinct shingle ids, or raw (pipeline_sink.adopt_ids) */
    size_t id_count;
    uint64_t set_hash;    /* nd_index_set_hash() of its ids; 0 when they are raw */
    const uint32_t *keys; /* its opts.bands LSH band keys, folded (nd_index_fold_keys()) */
} sketched_unit;

/* One record, sketched. Everything is borrowed until the sink returns. */
typedef struct sketched_doc {
    const record *rec;
    const char *id;      /* NULL for an unusable record */
    const char *error;   /* an unusable record: "FILE:LINE: why"; else NULL */
    size_t text_len;     /* bytes of its text */
    size_t invalid_utf8; /* ill-formed UTF-8 sequences read as U+FFFD */
    unsigned fields;     /* REC_JSON_OBJECT, REC_HAS_ID, REC_HAS_TEXT (cli.h) */
    /* document mode: the whole text (id_count 0: no shingles, or below --min-tokens);
     * ids sorted distinct, or raw (pipeline_sink.adopt_ids, unless
     * settled_ids); NULL with
     * id_count > 0: dropped (pipeline_sink.predict) */
    const uint32_t *ids;
    size_t id_count;
    const uint64_t *keys;
    /* unit mode: its units, in text order */
    const sketched_unit *units;
    size_t unit_count;
    keep_value keep; /* --keep min:FIELD / max:FIELD: the record's value */
} sketched_doc;

typedef struct pipeline_sink {
    void *ctx;
    /* Called for every record, in input order. Return EXIT_OK, or
     * EXIT_FAIL (after reporting) to stop the run. */
    int (*commit)(void *ctx, const sketched_doc *doc);
    /* Called after each batch's commits, or NULL. Same return values. */
    int (*batch_done)(void *ctx);
    /* When not NULL, ids are raw. Unit mode: each unit's ids as made (in
     * any order, repeats kept: nd_sketch_units_raw), for
     * nd_index_add_prepared_kept, a document's units in one block (as a
     * document's ids, below; idblocks.c). Document mode: a document's ids
     * are kept as made (nd_sketch_text_ref_raw) in blocks that the
     * sketching threads write once (nd_index_ids_block_new), and each
     * block is given to the sink (to keep, nd_index_adopt_ids) once every
     * document whose ids are in it is committed, or when the run ends.
     * Returns ND_OK, or ND_ENOMEM when it cannot take the block (which is
     * freed, and the run fails). */
    int (*adopt_ids)(void *ctx, uint32_t *block, size_t capacity);
    /* 1: commit and batch_done may be called on any of the run's threads
     * (one at a time, in order, each call seeing what the ones before it
     * did); 0: only on the thread that called pipeline_run. */
    int any_thread;
    /* NULL, or (with adopt_ids, document mode) which documents' ids to
     * keep (idguess.h): a dropped document comes with ids NULL and its
     * id_count, for the sink to sketch again if it needs them. */
    struct id_predictor *predict;
    /* With adopt_ids, document mode: 1 to have a document's ids sorted
     * distinct all the same (as without adopt_ids), and still written once
     * into the blocks the sink adopts: a query's documents (query_cmd.c),
     * which nd_db_query takes sorted, kept until they are queried without
     * a second copy on the committing thread. */
    int settled_ids;
} pipeline_sink;

/* Where the main thread's time went (--verbose). */
typedef struct pipeline_timing {
    double read_s, sketch_s, commit_s;
} pipeline_timing;

/* Read every record of `in`, sketch each with `opts` (resolved) on
 * cfg->threads threads (document or cfg->unit mode, cfg->min_tokens), and
 * commit them to `sink` in input order. Plain-text records are sketched
 * with ill-formed UTF-8 replaced in unit mode, so that unit spans point
 * into the text a second pass rebuilds the same way.
 * Returns EXIT_OK or EXIT_FAIL (reported). */
int pipeline_run(const cli_config *cfg, const nd_options *opts, input *in, const pipeline_sink *sink,
                 pipeline_timing *timing);

#endif /* ND_CLI_PIPELINE_H */
