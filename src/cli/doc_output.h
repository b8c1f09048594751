/* doc_output.h - what scan and dedup write in document mode (doc_output.c). */
#ifndef ND_CLI_DOC_OUTPUT_H
#define ND_CLI_DOC_OUTPUT_H

#include <stdint.h> /* uint64_t */
#include <stdio.h>  /* FILE */

#include "cli.h"
#include "doctable.h"
#include "replay.h"

/* scan: one JSON line per cluster. */
void doc_output_scan(FILE *out, const cli_config *cfg, const doctable *docs, const nd_clusters *clusters);

/* scan --pairs: one JSON line per pair, {"a", "b", "jaccard", "a_in_b",
 * "b_in_a", "profile"}. */
void doc_output_pairs(FILE *out, const cli_config *cfg, const doctable *docs, const nd_pairs *pairs);

/* dedup: pass 2, every record to stdout (kept ones, or all with
 * --annotate) or --removed. Returns EXIT_OK or EXIT_FAIL (reported). */
int doc_output_dedup(const cli_config *cfg, const doctable *docs, const nd_clusters *clusters, replay_source *src,
                     uint64_t *kept, uint64_t *removed);

/* Write one record as dedup writes it (JSON as read, plain text as
 * write_text_record), with `member` ("key":value) added when not NULL. */
void doc_output_record(FILE *out, const cli_config *cfg, const record *rec, const char *id, const char *member);

/* A plain-text document as dedup writes it, {"ID_FIELD": id, "TEXT_FIELD":
 * text}, then a newline. */
void write_text_record(FILE *out, const cli_config *cfg, const char *id, const char *text, size_t len);

#endif /* ND_CLI_DOC_OUTPUT_H */
