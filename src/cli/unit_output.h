/* unit_output.h - what scan and dedup write with --unit paragraph|line
 * (unit_output.c). */
#ifndef ND_CLI_UNIT_OUTPUT_H
#define ND_CLI_UNIT_OUTPUT_H

#include <stdint.h> /* uint64_t */
#include <stdio.h>  /* FILE */

#include "arena.h"
#include "cli.h"
#include "doctable.h"
#include "outfile.h"
#include "replay.h"

/* scan: one JSON line per group of repeated units, to `out`. Returns
 * EXIT_OK or EXIT_FAIL (reported). */
int unit_output_scan(FILE *out, const cli_config *cfg, const doctable *docs, const nd_clusters *groups,
                     replay_source *src);

/* One group's line: its number, `documents` distinct documents, each
 * occurrence's document id and span, its exact Jaccard with the first
 * occurrence listed, and the preview (NULL: ""). */
void unit_output_group(FILE *out, const cli_config *cfg, size_t group, size_t size, size_t documents,
                       const char *const *ids, const nd_span *spans, const double *jaccard, const char *preview);
/* The preview of the unit at `span` of a text (newly allocated), or NULL
 * when the span is past the text. */
char *unit_output_preview(const char *text, size_t text_len, nd_span span);

/* The previews of units[0..n) (unit numbers, in any order) into
 * out[0..n) (newly allocated; NULL for a span past its text), reading the
 * records back once, in order. Returns EXIT_OK or EXIT_FAIL (reported). */
int unit_output_previews(char **out, const doctable *docs, replay_source *src, const size_t *units, size_t n);
/* Where unit_output_previews_threads may put the previews: an arena for
 * each of its two readers (zero-initialized; freed with
 * preview_arenas_free). */
typedef struct preview_arenas {
    arena reader[2];
} preview_arenas;
void preview_arenas_free(preview_arenas *mem);
/* The same, with a second reader on another thread when `threads` >= 2,
 * the records are read where pass 1 found them and there are many; with
 * `mem`, the previews are allocated there, not one by one. */
int unit_output_previews_threads(char **out, preview_arenas *mem, const doctable *docs, replay_source *src,
                                 const size_t *units, size_t n, unsigned threads);

/* One span dedup removes: document, span in its text, group number. */
typedef struct removal {
    size_t doc;
    nd_span span;
    size_t group;
} removal;
/* Sort removals by document, then start. */
void unit_output_sort_removals(removal *r, size_t count);

/* dedup: every document written back with the repeats removed. */
int unit_output_dedup(const cli_config *cfg, const doctable *docs, const nd_clusters *groups, replay_source *src,
                      dedup_target *target, uint64_t *kept, uint64_t *dropped, uint64_t *units_removed);
/* The same from the removals (sorted by unit_output_sort_removals()),
 * however they were found. */
int unit_output_write(const cli_config *cfg, const doctable *docs, const removal *r, size_t count, replay_source *src,
                      dedup_target *target, uint64_t *kept, uint64_t *dropped, uint64_t *units_removed);

#endif /* ND_CLI_UNIT_OUTPUT_H */
