/* unit_output.h - what scan and dedup write with --unit paragraph|line
 * (unit_output.c). */
#ifndef ND_CLI_UNIT_OUTPUT_H
#define ND_CLI_UNIT_OUTPUT_H

#include <stdint.h> /* uint64_t */

#include "cli.h"
#include "doctable.h"
#include "replay.h"

/* scan: one JSON line per group of repeated units. Returns EXIT_OK or
 * EXIT_FAIL (reported). */
int unit_output_scan(const cli_config *cfg, const doctable *docs, const nd_clusters *groups, replay_source *src);

/* dedup: every document written back with the repeats removed. */
int unit_output_dedup(const cli_config *cfg, const doctable *docs, const nd_clusters *groups, replay_source *src,
                      uint64_t *kept, uint64_t *dropped, uint64_t *units_removed);

#endif /* ND_CLI_UNIT_OUTPUT_H */
