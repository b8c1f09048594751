/* plan.h - which rank reads what (plan.c). */
#ifndef ND_MPI_PLAN_H
#define ND_MPI_PLAN_H

#include <stddef.h> /* size_t */
#include <stdint.h> /* uint64_t */

#include "exchange.h"
#include "input.h"

/* One input file as rank 0 listed it. */
typedef struct plan_file {
    char *name;
    uint64_t size;
    int splittable; /* uncompressed JSON Lines (input_splittable) */
} plan_file;

/* A part of the input and the rank that reads it. */
typedef struct plan_part {
    int rank;
    size_t file;
    input_part part; /* part.name is files[file].name */
} plan_part;

typedef struct plan {
    plan_file *files;
    size_t file_count;
    plan_part *parts; /* in input order, so in rank order */
    size_t part_count;
    input_part *mine;   /* this rank's parts, in order */
    size_t *mine_index; /* their index in parts */
    size_t mine_count;
    input_skipped skipped; /* rank 0: the files a directory walk passed over (for the summary) */
} plan;

/* Collective. Rank 0 expands cfg's paths (directories, in the order one
 * process reads them) and sizes the files; every rank then cuts the same
 * plan: the inputs, laid end to end, are cut into P equal byte intervals;
 * a splittable file is read by every rank whose interval it crosses (the
 * lines that begin in that rank's bytes of it), any other file by the
 * rank whose interval holds its first byte. Parts of a split file starting
 * inside it get their line numbers from the line counts of the parts
 * before them (each rank counts its own). Returns EXIT_OK, EXIT_FAIL or
 * EXIT_USAGE, the same on every rank (reported once). */
int plan_make(plan *p, xctx *x, const cli_config *cfg);
void plan_free(plan *p);

/* Is part i of the plan one of several parts of its file? */
int plan_part_shared(const plan *p, size_t i);
/* The first part of the file of part i. */
size_t plan_first_part(const plan *p, size_t i);

#endif /* ND_MPI_PLAN_H */
