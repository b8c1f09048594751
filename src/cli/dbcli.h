/* dbcli.h - what the persistent index's commands share (dbcli.c): opening
 * the index with the command line's options, exit codes for library
 * statuses, and batches of sketched documents copied out of the pipeline. */
#ifndef ND_CLI_DBCLI_H
#define ND_CLI_DBCLI_H

#include <stddef.h> /* size_t */
#include <stdint.h> /* uint64_t */

#include "arena.h"
#include "cli.h"
#include "input.h"
#include "pipeline.h"
#include "report.h"

/* The exit code for a library status: 2 for options that disagree with
 * the index's, 1 for any other failure. */
int dbcli_exit_code(int status);

/* Open cfg->index_path with `flags` (ND_DB_*), checking the options in
 * `given` (ND_OPT_*) against the index's. Reports a failure on stderr.
 * Returns EXIT_OK, EXIT_FAIL or EXIT_USAGE. */
int dbcli_open(nd_db **out, const cli_config *cfg, unsigned flags, unsigned given);

/* Report the handle's last error on stderr; returns dbcli_exit_code(status). */
int dbcli_fail(const nd_db *db, int status);

/* Documents of pipeline batches, copied so that they outlive them; or
 * with their shingle ids left where the pipeline wrote them, in blocks the
 * batch adopts (doc_batch_adopt: query_cmd.c). */
typedef struct doc_batch {
    nd_db_doc *docs;
    size_t *sources; /* per document: its record's source and line, for messages */
    uint64_t *lines;
    size_t count, capacity;
    arena mem;         /* band keys and id strings, and the ids unless adopted */
    uint32_t **blocks; /* the pipeline's blocks of ids adopted (pipeline_sink.adopt_ids) */
    size_t block_count, block_capacity;
    int ids_adopted; /* 1: the documents' ids are in the adopted blocks, not copied */
} doc_batch;

/* Append a sketched document (not an unusable record). Returns 0, or -1
 * when out of memory (not reported). */
int doc_batch_push(doc_batch *b, const sketched_doc *d, unsigned bands);
/* Take a block of ids from the pipeline (pipeline_sink.adopt_ids; with
 * ids_adopted set): every document with ids in it is committed, so it is
 * freed with the documents at the next doc_batch_clear. ND_OK or
 * ND_ENOMEM. */
int doc_batch_adopt(doc_batch *b, uint32_t *block);
void doc_batch_clear(doc_batch *b);
void doc_batch_free(doc_batch *b);

/* "FILE:LINE" (or FILE) of document i of the batch; newly allocated. */
char *doc_batch_where(const doc_batch *b, const input *in, size_t i);

/* The JSON object of an index's statistics (index stats), one line. */
void dbcli_write_stats(FILE *out, const char *path, const nd_db_stats *s);

/* The common part of the commands that read records into the index's
 * pipeline: count a record, report an unusable one (--on-error) or one
 * with invalid UTF-8. Returns 1 for a usable document, 0 for a skipped
 * record, -1 to stop (reported). */
typedef struct read_counts {
    uint64_t records_read, bytes, skipped, empty, invalid_docs;
    field_tally fields;
} read_counts;
int dbcli_take_record(read_counts *c, const cli_config *cfg, const sketched_doc *d);

/* cfg with the index's options (and, for queries, the threshold), for the
 * pipeline and for "profile" in outputs. */
cli_config dbcli_config_for(const cli_config *cfg, const nd_db *db);

#endif /* ND_CLI_DBCLI_H */
