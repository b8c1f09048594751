/* idguess.h - whose shingle ids a document keeps in pass 1 (id_predictor):
 * the guess pipeline.c asks of each document's keys, and refill.c owns. */
#ifndef ND_CLI_IDGUESS_H
#define ND_CLI_IDGUESS_H

#include <stddef.h> /* size_t */
#include <stdint.h> /* uint64_t */

#include "input.h" /* record */

/* Whose ids to keep (run.c, refill.c): most documents are never read by
 * clustering (no other shares a band key with them), yet their ids were
 * most of the memory a run touched. A document whose first two band keys
 * were both not seen before (a lone document, or the first member of a
 * group) is guessed not to be read: its ids are dropped (the index gets
 * its count, keys and weight: nd_index_add_dropped) and those of the
 * dropped documents that turn out to be read are sketched again after
 * pass 1 (refill.c). Only a guess, shared by the sketching threads without
 * locks: a wrong one costs memory or a second sketch, never a wrong
 * output. Only records that can be read again by position are dropped
 * (record.located: a line of an uncompressed regular file). */
typedef struct id_predictor {
    uint64_t *bits; /* 2^(64 - shift) bits */
    unsigned shift;
    size_t limit; /* documents past which every one is kept (the bits fill up): a 32nd of the bits */
    size_t seen;  /* documents asked about (atomic), counted SEEN_BATCH at a time by each thread */
    int any;      /* 1: drop ids smaller than their text too (id_predictor_init) */
    int full;     /* 1 once `seen` passed `limit` (atomic) */
} id_predictor;

/* Bits for an input of `bytes` bytes: one per 32 bytes (small enough to
 * stay in cache: a bit is read per document, at random), 32 or more a
 * document until `limit` documents (two bits set each; then one bit in 16
 * is set and a lone document is kept by mistake one time in eight).
 * `any`: every document may be dropped, not only those whose ids take
 * more room than their text (see id_predictor_keep). Returns 0, or -1
 * when out of memory. */
int id_predictor_init(id_predictor *p, uint64_t bytes, int any);
void id_predictor_free(id_predictor *p);

/* 1: keep the ids of record `rec` (a text of text_len bytes, `count` raw
 * ids, band keys keys[0 .. bands)); 0: drop them. Any thread. Unless the
 * predictor drops `any`, only ids that take more room than their text are
 * dropped (character shingles: CJK text, an id per character of 3
 * bytes): what sketching a dropped document again costs goes with its
 * text, what dropping saves with its ids, and where words are shingled
 * (an id per word of 6 bytes or more) the second sketches of a corpus's
 * candidates cost more than keeping the ids of all on a host that backs
 * fresh memory fast, unless those ids would not fit in memory (refill.c). */
int id_predictor_keep(id_predictor *p, const record *rec, size_t text_len, size_t count, const uint64_t *keys,
                      unsigned bands);
/* Ask for the bits id_predictor_keep will read for these keys: each is a
 * cache miss more often than not (a bit read at random, a document's
 * sketching in between), about 130 ns a document; pipeline.c asks as soon
 * as a document's keys are made and decides after the next record's JSON
 * is read. */
void id_predictor_prefetch(const id_predictor *p, const uint64_t *keys, unsigned bands);

#endif /* ND_CLI_IDGUESS_H */
