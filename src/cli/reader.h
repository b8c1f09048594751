/* reader.h - one file (or stdin, "-") as decoded bytes and lines, gzip and
 * zstd decompressed by content (reader.c). Errors are reported (cli_error)
 * naming the file. */
#ifndef ND_CLI_READER_H
#define ND_CLI_READER_H

#include <stddef.h> /* size_t */
#include <stdint.h> /* uint64_t */

typedef struct reader reader;

/* Open `name` ("-" is stdin) and sniff its compression. NULL (reported) on
 * failure. `name` is borrowed: it must outlive the reader. */
reader *reader_open(const char *name);
void reader_free(reader *r);
int reader_fd(const reader *r);

/* The next line (without its '\n') as [*start, *start + *len), valid until
 * the next call. Returns 1, 0 at the end, -1 on error. */
int reader_line(reader *r, const unsigned char **start, size_t *len);
/* Lines read so far (the 1-based number of the last one). */
uint64_t reader_line_number(const reader *r);

/* The decoded bytes not yet consumed (borrowed until the next call);
 * returns 1 when no more will come. */
int reader_buffered(reader *r, const unsigned char **data, size_t *len);
/* Decode more bytes into the buffer. Returns 0, or -1 on error. */
int reader_more(reader *r);
/* Everything left, consumed: [*data, *data + *len). Returns 0 or -1. */
int reader_rest(reader *r, const unsigned char **data, size_t *len);

#endif /* ND_CLI_READER_H */
