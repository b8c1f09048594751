/* mpi_run.h - what the parts of neardup-mpi share: the state of the run on
 * one rank (mpi_run.c), its output step (mpi_output.c) and its end (mpi_conclude.c). */
#ifndef ND_MPI_RUN_H
#define ND_MPI_RUN_H

#include <stddef.h> /* size_t */
#include <stdint.h> /* uint64_t */

#include "cli.h"
#include "doctable.h"
#include "engine.h"
#include "exchange.h"
#include "input.h"
#include "keep.h"
#include "outfile.h"
#include "plan.h"
#include "replay.h"
#include "report.h"

/* The run on one rank. */
typedef struct mrun {
    cli_config *cfg;
    xctx x;
    plan plan;
    input *in;
    nd_index *index;
    doctable docs;
    keep_table keep; /* --keep min:FIELD / max:FIELD: each of this rank's documents' value */
    replay_source *replay;
    run_counts counts;
    char *failure;           /* this rank's first bad record, reported after agreement */
    int stopped_by_other;    /* a lower rank failed: pass 1 stopped here */
    uint64_t stops_received; /* other ranks' stop messages taken in pass 1 (batch_done) */
    uint64_t doc_base;       /* global number of this rank's first document */
    uint64_t *bases;         /* global number of each rank's first text, and the total */
    xbuf clusters;           /* from the engine: clusters whose earliest member is here */
    outfile out;             /* scan -o FILE, on rank 0 (out.f NULL: stdout) */
    engine_stats engine;
    double started, pass1_s, cluster_s, output_started, output_s;
} mrun;

/* mpi_output.c. Collective: number the clusters this rank received from
 * the engine (by earliest member, offset by the counts of lower ranks),
 * then write the output: scan's lines through rank 0, in rank order;
 * dedup's files for the inputs this rank read, under temporary names
 * tagged with pid_tag, renamed once every rank has written its own.
 * *clusters and *duplicates count what this rank numbered. Returns 1 when
 * every rank succeeded (failures reported once). */
int mpi_output(mrun *m, const char *pid_tag, size_t *clusters, uint64_t *duplicates);

/* mpi_conclude.c. Collective, once the output is written (dedup: before its
 * files are renamed, so that a --stats that cannot be written leaves none
 * under its name, as in neardup): the counts summed over ranks into
 * m->counts, and --stats written by rank 0. clusters and duplicates are
 * this rank's. Returns 1 when every rank succeeded (failures reported). */
int mpi_run_conclude(mrun *m, size_t clusters, uint64_t duplicates);

#endif /* ND_MPI_RUN_H */
