/* replay.h - pass 2: the records of pass 1 again, in order (replay.c). */
#ifndef ND_CLI_REPLAY_H
#define ND_CLI_REPLAY_H

#include "cli.h"
#include "input.h"
#include "replay_at.h"

/* What pass 1 leaves for pass 2: nothing but the numbers of the records it
 * skipped, when the input can be read again; else a spool of the records. */
typedef struct replay_source replay_source;

/* Returns EXIT_OK or EXIT_FAIL (reported: the spool cannot be made). */
int replay_source_new(replay_source **out, const cli_config *cfg, const input *in);
/* Pass 1, for every record in input order; `kept` is 0 for a record that
 * was skipped. Returns 0 or -1 (reported). */
int replay_source_note(replay_source *src, const record *rec, int kept);
void replay_source_free(replay_source *src);
/* Before pass 1: note where each kept record is, so that a pass 2 that
 * needs only some records can read just those (replay_open_at). */
void replay_source_locate(replay_source *src);
/* Pass 2 by positions (replay_at.h), when replay_source_locate() was asked
 * and every kept record is a line of an uncompressed regular file; else
 * *out is NULL (read in order with replay_open). Returns EXIT_OK or
 * EXIT_FAIL (reported). */
int replay_open_at(replay_at **out, replay_source *src);

typedef struct replay replay;

/* Start pass 2. Returns EXIT_OK or EXIT_FAIL (reported). */
int replay_open(replay **out, replay_source *src);
/* The same, saying whose texts replay_text() will be asked for: want[i]
 * for the i-th record replay_next() gives (borrowed until replay_close()).
 * With --threads above 1 their JSON is parsed ahead, on the reader thread. */
int replay_open_texts(replay **out, replay_source *src, const unsigned char *want);
/* The next kept record, in order: a JSON line as read, or a plain text
 * with ill-formed UTF-8 replaced (as pass 1 sketched it in unit mode).
 * *rec is borrowed until the next call. Returns 1, or -1 (reported) when
 * the input ended early, changed, or cannot be read. */
int replay_next(replay *r, const record **rec);
/* The text of the record replay_next() gave: a plain text's bytes, or a
 * JSON record's text member as pass 1 read it. Borrowed until the next
 * replay_next(). Returns 0, or -1 (reported). */
int replay_text(replay *r, const char **text, size_t *len);
void replay_close(replay *r);

#endif /* ND_CLI_REPLAY_H */
