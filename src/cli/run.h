/* run.h - the state of one scan or dedup run, shared by run.c (pass 1,
 * document output) and units.c (unit output). */
#ifndef ND_CLI_RUN_H
#define ND_CLI_RUN_H

#include <time.h> /* struct timespec */

#include "cli.h"
#include "input.h"

/* A bump allocator: many small copies (shingle ids, id strings) in large
 * blocks, released all at once. Not thread-safe: one per thread. */
typedef struct arena_block {
    struct arena_block *next; /* older blocks */
    size_t used, capacity;
    uint64_t data[]; /* capacity bytes */
} arena_block;

typedef struct arena {
    arena_block *head; /* the block being filled */
} arena;

/* n bytes, 8-byte aligned; NULL when out of memory. */
void *arena_alloc(arena *a, size_t n);
/* A copy of the NUL-terminated s; NULL when out of memory. */
char *arena_strdup(arena *a, const char *s);
/* Forget everything allocated, keeping the newest block for reuse. */
void arena_reset(arena *a);
void arena_free(arena *a);

typedef struct run_state {
    const cli_config *cfg;
    input *in;
    nd_index *index; /* documents, or units with --unit */
    char **ids;      /* per document, in id_text */
    arena id_text;
    size_t doc_count, ids_capacity;
    size_t *unit_doc;   /* per index entry in unit mode: its document */
    nd_span *unit_span; /* and its span in the document's text */
    size_t units_capacity;
    FILE *spool;               /* each document's record, one per line, in order (or NULL: re-read) */
    int reread;                /* pass 2 reads the input again (else: the spool, or no pass 2) */
    uint64_t *skipped_records; /* with reread: input records skipped (0-based), ascending */
    uint64_t records_read, skipped, empty, invalid_docs, bytes;
    struct timespec started, last_progress;
    int progress;
    int spilled;                                      /* the index moved to files (--memory) */
    double main_read_s, main_sketch_s, main_commit_s; /* pass 1, main thread (--verbose) */
} run_state;

/* The records of pass 1 again, in order, in the form dedup writes them
 * (the JSON line as read, or the JSON object made for a plain text): from
 * the spool, or (for regular files, the usual case) by reading the input a
 * second time, which saves writing and reading a copy of it. */
typedef struct replay {
    run_state *st;
    input *again; /* second pass over the input, or NULL: spool */
    char *line;   /* spool line / built record */
    size_t cap;
    record rec;          /* re-read record */
    uint64_t ordinal;    /* records read so far in the second pass */
    size_t skipped_seen; /* entries of st->skipped_records passed */
} replay;

int replay_open(replay *r, run_state *st);
/* The record of document `doc` (the next one, in order) into *line, *len
 * (without a newline; valid until the next call). Returns 0 or -1
 * (reported). */
int replay_next(replay *r, size_t doc, const char **line, size_t *len);
void replay_close(replay *r);

/* run.c */
FILE *open_spool(const char *dir);
/* --removed: open it for writing into *out (NULL when not asked for).
 * Returns 0, or -1 (reported). */
int open_removed(const run_state *st, FILE **out);
/* Write the JSON object `line` with `field` ("key":value) added before its
 * closing brace, every other byte unchanged, then a newline. */
void write_with_field(FILE *out, const char *line, size_t len, const char *field);

/* units.c: pass 2 in unit mode. Return EXIT_OK or EXIT_FAIL. */
int units_write_scan(run_state *st, const nd_clusters *groups);
int units_write_dedup(run_state *st, const nd_clusters *groups, uint64_t *kept, uint64_t *dropped,
                      uint64_t *units_removed);

#endif
