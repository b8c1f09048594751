/* doc_output.h - what scan and dedup write in document mode (doc_output.c). */
#ifndef ND_CLI_DOC_OUTPUT_H
#define ND_CLI_DOC_OUTPUT_H

#include <stdint.h> /* uint64_t */
#include <stdio.h>  /* FILE */

#include "cli.h"
#include "doctable.h"
#include "outfile.h"
#include "replay.h"

/* scan: one JSON line per cluster. Returns EXIT_OK or EXIT_FAIL
 * (reported: out of memory). */
int doc_output_scan(FILE *out, const cli_config *cfg, const doctable *docs, const nd_clusters *clusters);

/* One cluster's line: number `cluster`, its members' ids (the survivor
 * first), their exact Jaccard with the survivor and (read only under
 * --measure containment) their containment in it. */
void doc_output_cluster(FILE *out, const cli_config *cfg, size_t cluster, size_t size, const char *const *ids,
                        const double *jaccard, const double *containment);

/* scan --pairs: one JSON line per pair, {"a", "b", "jaccard", "a_in_b",
 * "b_in_a", "profile"}, as nd_pairs_next() makes them (the pairs are
 * used up). */
void doc_output_pairs(FILE *out, const cli_config *cfg, const doctable *docs, nd_pairs *pairs);

/* What dedup does with one document. */
typedef struct doc_fate {
    int64_t cluster;             /* -1: in no cluster */
    size_t size;                 /* members of its cluster (1: in none) */
    const char *duplicate_of;    /* the survivor's id (borrowed); NULL for a survivor or a unique document */
    double jaccard, containment; /* with the survivor */
} doc_fate;

/* dedup: pass 2, every record to the target (kept ones, or all with
 * --annotate) or its removed stream (annotated with what it duplicates).
 * Returns EXIT_OK or EXIT_FAIL (reported). */
int doc_output_dedup(const cli_config *cfg, const doctable *docs, const nd_clusters *clusters, replay_source *src,
                     dedup_target *target, uint64_t *kept, uint64_t *removed);
/* The same from each document's fate (fates[doc] for docs->count
 * documents), however they were found. */
int doc_output_write(const cli_config *cfg, const doctable *docs, const doc_fate *fates, replay_source *src,
                     dedup_target *target, uint64_t *kept, uint64_t *removed);

/* Write one record as dedup writes it (JSON as read, plain text as
 * write_text_record), with `member` ("key":value) added when not NULL. */
void doc_output_record(FILE *out, const cli_config *cfg, const record *rec, const char *id, const char *member);

/* A plain-text document as dedup writes it, {"ID_FIELD": id, "TEXT_FIELD":
 * text}, then a newline. */
void write_text_record(FILE *out, const cli_config *cfg, const char *id, const char *text, size_t len);

#endif /* ND_CLI_DOC_OUTPUT_H */
