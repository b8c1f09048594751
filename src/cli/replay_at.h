/* replay_at.h - pass 2 by positions: the few records scan --unit needs
 * again, read where pass 1 found them instead of reading every record of
 * the input once more (replay_at.c). */
#ifndef ND_CLI_REPLAY_AT_H
#define ND_CLI_REPLAY_AT_H

#include <stddef.h> /* size_t */
#include <stdint.h> /* uint32_t, uint64_t */
#include <stdio.h>  /* FILE */

#include "cli.h"
#include "input.h"

/* Where one kept record is (record.located): 24 bytes a record. */
typedef struct replay_place {
    uint64_t offset, line;
    uint32_t len;
    uint32_t source : 31;
    uint32_t text : 1; /* a plain text line (RECORD_TEXT), else a JSON line */
} replay_place;

/* The places of every kept record, in order, while all are located. */
typedef struct replay_places {
    replay_place *at;
    size_t count, capacity;
    int on; /* asked for, and every kept record so far was located */
} replay_places;

/* Pass 1, for every kept record: its place, or (a record that is not
 * located: compressed, a JSON array element, a whole file, stdin) no
 * places at all from then on. Returns 0, or -1 (reported) when out of
 * memory. */
int replay_places_note(replay_places *p, const record *rec);
void replay_places_free(replay_places *p);

typedef struct replay_at replay_at;

/* Start reading by places: `places` (borrowed) of the kept records of
 * `in`, the first pass. Returns EXIT_OK or EXIT_FAIL (reported). */
int replay_at_open(replay_at **out, const cli_config *cfg, const input *in, const replay_places *places);
/* The text of kept record `k` (0-based; ascending from call to call), as
 * replay_text() gives it: a JSON record's text member, or a plain text
 * with ill-formed UTF-8 replaced. Borrowed until the next call. A file
 * that changed since pass 1 (its identity, or the record no longer ends
 * where it did) is reported. Returns 0, or -1 (reported). */
int replay_at_text(replay_at *r, size_t k, const char **text, size_t *len);
/* replay_at_text() with a plain text as it is, ill-formed UTF-8 and all:
 * as document mode's pass 1 sketched it (refill.c). */
int replay_at_doc_text(replay_at *r, size_t k, const char **text, size_t *len);
/* The records the next calls of replay_at_text or replay_at_doc_text will
 * ask for: ks[0..n) (ascending; at most REPLAY_AHEAD_MAX are noted).
 * Records close to each other in one file (at most a few KB apart) are
 * then read in one pread instead of one each: refill.c's records, a
 * seventh of a CJK corpus's, were 5.8k calls for 50k documents. A call
 * for another record drops the rest of the plan. */
enum { REPLAY_AHEAD_MAX = 64 };
void replay_at_read_ahead(replay_at *r, const size_t *ks, size_t n);
/* How many reads of the input (a record, a group of them, or a window of
 * replay_at_copy: each one pread or a few, at the end of a file) were made
 * so far: what the grouping saves, for tests and --verbose. */
size_t replay_at_reads(const replay_at *r);
/* dedup's kept records by positions (doc_output.c), when every kept
 * record is a JSON line (replay_at_all_json): replay_at_copy writes kept
 * record `k` (0-based; ascending from call to call) and a newline to
 * `out`, the bytes doc_output_record writes for it, taken from the file
 * as they are: records that follow each other in their file are read in
 * windows of megabytes and written in one write, not parsed again
 * (replay.c's reading copied each record three times in user space);
 * each must still end its line where pass 1 found it, as above. Some may
 * be held back until the next call: replay_at_copy_done writes them, and
 * must be called before a stream given is closed.
 * Return 0, or -1 (reported). replay_at_count: how many kept records
 * there are; replay_at_source: the source of record k. */
int replay_at_all_json(const replay_at *r);
size_t replay_at_count(const replay_at *r);
size_t replay_at_source(const replay_at *r, size_t k);
int replay_at_copy(replay_at *r, size_t k, FILE *out);
int replay_at_copy_done(replay_at *r);
/* Are the files read so far (those still open) the ones pass 1 read? A
 * write while they were read is reported (input_source_unchanged): 0, or
 * -1. replay_at_copy_done asks it; so do the other readers by places
 * before they close. */
int replay_at_unchanged(replay_at *r);
void replay_at_close(replay_at *r);

#endif /* ND_CLI_REPLAY_AT_H */
