/* refill.h - document ids kept only where clustering may read them: the
 * step between pass 1 and clustering that sketches again the dropped
 * documents the index needs (refill.c). */
#ifndef ND_CLI_REFILL_H
#define ND_CLI_REFILL_H

#include <stddef.h> /* size_t */
#include <stdint.h> /* uint32_t */

#include "cli.h"
#include "idguess.h"
#include "input.h"

typedef struct refill refill;

/* Drop ids in this run? *out is NULL when not: with --unit, with
 * containment (every text is read), or unless every input is a regular
 * file. Returns EXIT_OK or EXIT_FAIL (reported: out of memory). */
int refill_new(refill **out, const cli_config *cfg, const input *in);
void refill_free(refill *rf);

/* Which documents' ids the pipeline keeps (pipeline_sink.predict). */
id_predictor *refill_predictor(refill *rf);

/* Pass 1, for each document the index gets without its ids (in order):
 * its number `doc` in the index, and where its record is (a located
 * record: id_predictor_keep). Returns 0, or -1 (reported). */
int refill_note(refill *rf, size_t doc, const record *rec);

/* The dropped documents clustering may read (nd_index_dropped_wanted)
 * sketched again on `threads` threads, from their records read where
 * pass 1 found them, and their ids given to the index, before clustering
 * (which then needs no refill function). A file changed since pass 1 (or
 * a record that sketches differently) is reported. Then what pass 1
 * noted (the guess, the places) is freed: once a run. Returns EXIT_OK or
 * EXIT_FAIL (reported). */
int refill_index(refill *rf, nd_index *index, unsigned threads);

/* Documents sketched again so far, and the reads of the input that
 * brought their records (fewer: records close together come in one). */
size_t refill_done(const refill *rf);
size_t refill_reads(const refill *rf);

#endif /* ND_CLI_REFILL_H */
