/* reader.h - one file (or stdin, "-") as decoded bytes and lines, gzip and
 * zstd decompressed by content (reader.c). Errors are reported (cli_error)
 * naming the file. */
#ifndef ND_CLI_READER_H
#define ND_CLI_READER_H

#include <stddef.h> /* size_t */
#include <stdint.h> /* uint64_t */

typedef struct reader reader;

/* The compression the first n bytes of a file name: READER_GZIP (1f 8b),
 * READER_ZSTD (a zstd frame, 28 b5 2f fd, or a skippable frame, 5X 2a 4d
 * 18, which pzstd writes first and a zstd decoder passes over), or
 * READER_PLAIN. Every place that sniffs a file asks this. */
enum { READER_PLAIN = 0, READER_GZIP = 1, READER_ZSTD = 2 };
int reader_magic(const unsigned char *m, size_t n);

/* Open `name` ("-" is stdin) and sniff its compression. NULL (reported) on
 * failure. `name` is borrowed: it must outlive the reader. */
reader *reader_open(const char *name);
void reader_free(reader *r);
int reader_fd(const reader *r);

/* The next line (without its '\n') as [*start, *start + *len), valid until
 * the next call. Returns 1, 0 at the end, -1 on error, or 2 for a line
 * longer than the limit (reader_set_limit): it was dropped in bounded
 * memory, and counts as a line. */
int reader_line(reader *r, const unsigned char **start, size_t *len);
/* Lines read so far (the 1-based number of the last one). */
uint64_t reader_line_number(const reader *r);
/* Where the next line starts, in bytes of decoded input from where the
 * reader began (a byte order mark consumed by reader_consume not counted);
 * for an uncompressed file (reader_compressed() 0) that is its offset in
 * the file, past any byte order mark. */
uint64_t reader_offset(const reader *r);
int reader_compressed(const reader *r);

/* Read only the lines of an uncompressed file that begin in bytes
 * [start, end): skip to the first line that begins at or after `start`,
 * stop after the last line that begins before `end` (so consecutive ranges
 * read every line exactly once); line numbers go on from `first_line`, the
 * number of lines before `start`. Call right after reader_open(). Returns
 * 0, or -1 (reported: a compressed file or stdin, or a seek error). */
int reader_set_range(reader *r, uint64_t start, uint64_t end, uint64_t first_line);

/* The decoded bytes not yet consumed (borrowed until the next call);
 * returns 1 when no more will come. */
int reader_buffered(reader *r, const unsigned char **data, size_t *len);
/* Decode more bytes into the buffer. Returns 0, or -1 on error. */
int reader_more(reader *r);
/* Everything left, consumed: [*data, *data + *len). Returns 0, -1 on
 * error, or 2 when more than the limit is left (not read further). */
int reader_rest(reader *r, const unsigned char **data, size_t *len);
/* Consume n bytes of what reader_buffered() gave. */
void reader_consume(reader *r, size_t n);
/* The longest line (reader_line) or document (reader_rest) to hold in
 * memory, in bytes; 0 (the default) = no limit. A longer line is read
 * through to its end when `drain`, else reader_line() returns 2 as soon as
 * the limit is passed, leaving the reader in the middle of the line (to
 * be closed: an endless line then ends the run at once). */
void reader_set_limit(reader *r, uint64_t limit, int drain);
/* Read an uncompressed regular file ahead on a thread of its own (the
 * read() calls, 4 MiB ahead at most) while the caller takes its lines;
 * anything else is read as before. What the reader gives is the same. */
void reader_read_ahead(reader *r);

/* Kept blocks (for a caller that keeps many lines at once, without
 * copying them): decoded bytes go into blocks of `pool`, and a line's
 * block may be held, which keeps the line's bytes where they are until
 * the block is released. A pool and its blocks belong to one thread. */
typedef struct reader_pool reader_pool;
typedef struct reader_block reader_block;
/* A pool of blocks of `block_size` bytes (more for a longer line). NULL
 * when out of memory. */
reader_pool *reader_pool_new(size_t block_size);
/* Free the pool's released blocks and the pool: every block must have
 * been released (reader_pool_live() 0), the readers using it freed. */
void reader_pool_free(reader_pool *p);
/* Free the released blocks kept for the next reader (NULL: nothing). */
void reader_pool_trim(reader_pool *p);
/* Blocks taken and not yet released (the readers' own included). */
size_t reader_pool_live(const reader_pool *p);
/* Read into blocks of `pool` (borrowed: it must outlive the reader). Call
 * right after reader_open(). */
void reader_keep_blocks(reader *r, reader_pool *pool);
/* The block `data` (a line reader_line() has just given) is in, held: its
 * bytes stay until reader_release(). `last` is the block the caller
 * already holds, if any: when it is the same block it is returned without
 * another hold. NULL when `data` is not in the reader's block (not in kept
 * mode, or not a line of the reader's): copy it then. */
reader_block *reader_hold(reader *r, const void *data, reader_block *last);
/* Release one hold (NULL: nothing); the last one's block goes back to its
 * pool for another reader to fill. */
void reader_release(reader_block *b);

#endif /* ND_CLI_READER_H */
