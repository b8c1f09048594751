/* report.h - what a run tells about itself on stderr and in --stats
 * (report.c). */
#ifndef ND_CLI_REPORT_H
#define ND_CLI_REPORT_H

#include <stdint.h> /* uint64_t */
#include <time.h>   /* struct timespec */

#include "cli.h"
#include "input.h" /* input_skipped */

/* Seconds from t0 (CLOCK_MONOTONIC) to now. */
double report_seconds_since(const struct timespec *t0);

/* How many JSON object records had the --id-field and the --text-field:
 * a field that none had is most likely misspelt. */
typedef struct field_tally {
    uint64_t objects, with_id, with_text;
    int early_checked; /* report_fields_early() has looked */
} field_tally;

/* After this many JSON records, a field none of them had is said while the
 * run goes on (report_fields_early), not only at its end. */
enum { REPORT_EARLY_RECORDS = 10000 };

/* Count one record's fields (sketched_doc.fields). */
void field_tally_add(field_tally *t, unsigned fields);
/* Before counting a record: has the time come for report_fields_early()
 * (REPORT_EARLY_RECORDS JSON records counted, not looked at yet)? */
int report_fields_early_due(const field_tally *t);
/* When report_fields_early_due(): a warning for a --id-field, --text-field
 * or --keep field (keep_with_value: records with a --keep value so far)
 * that none of the records counted had, so that a misspelt field is seen
 * minutes into a long run rather than at its end; the run goes on, and the
 * end-of-run warnings still come if no record has it. Marks t looked at. */
void report_fields_early(const cli_config *cfg, field_tally *t, uint64_t keep_with_value);
/* The warning that no JSON record of `objects` had a value in the --keep
 * field: `early` (so far, the run going on) or at the end. */
void report_keep_missing(const cli_config *cfg, uint64_t objects, int early);
/* At the end of reading: a warning for a --id-field or --text-field given
 * that no JSON record had; EXIT_FAIL (reported) when records were read and
 * every one was skipped (--on-error skip), else EXIT_OK. */
int report_input_check(const cli_config *cfg, uint64_t records, uint64_t skipped, const field_tally *t);

/* The counts of one scan or dedup run. */
typedef struct run_counts {
    uint64_t records_read, bytes, empty, invalid_docs, skipped;
    field_tally fields;
    input_skipped files; /* files a directory walk passed over */
    size_t units;        /* index entries in unit mode */
    size_t clusters;
    uint64_t duplicates;
    size_t pairs;                          /* scan --pairs */
    uint64_t kept, removed, units_removed; /* dedup */
    nd_cluster_stats cluster_stats;
    int spilled;
    double read_s, cluster_s, write_s, total_s;
    double main_read_s, main_sketch_s, main_commit_s; /* pass 1's main thread */
    const char *extra_json;                           /* more members for --stats ("\"ranks\":[...]"), or NULL */
} run_counts;

/* The progress line on a terminal. */
typedef struct progress {
    int enabled;
    struct timespec started, last;
} progress;

void progress_start(progress *p, int enabled);
/* Seconds since progress_start(). */
double progress_elapsed(const progress *p);
/* At most four times a second unless `force`. */
void progress_show(progress *p, const char *stage, uint64_t records, uint64_t bytes, int force);
void progress_clear(const progress *p);

/* This process's peak resident memory in KiB (VmHWM; see report.c). */
unsigned long long report_peak_rss_kb(void);

/* The summary line(s) on stderr (not with --quiet). */
void report_summary(const cli_config *cfg, const run_counts *c);
/* --stats FILE: the counts as one JSON object. Returns 0, or -1 (reported). */
int report_stats(const cli_config *cfg, const run_counts *c);

#endif /* ND_CLI_REPORT_H */
