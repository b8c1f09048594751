/* readahead.h - read() calls made on a thread of their own, into a ring
 * of chunks the caller copies out of (readahead.c; reader.c's
 * reader_read_ahead). */
#ifndef ND_CLI_READAHEAD_H
#define ND_CLI_READAHEAD_H

#include <stddef.h> /* size_t */

/* The size of a chunk: reader.c reads ahead only files of more than two. */
enum { AHEAD_CHUNK = 1 << 20 };

typedef struct read_ahead read_ahead;

/* Start reading descriptor fd (from its current offset) on a thread of
 * its own. NULL when that cannot be had: the caller reads on its own. */
read_ahead *read_ahead_start(int fd);
/* Copy up to `room` bytes of what was read, in order, into `into`,
 * waiting for them. Returns how many; 0 at the end of the file, or on a
 * read error, whose errno goes to *err. */
size_t read_ahead_take(read_ahead *a, unsigned char *into, size_t room, int *err);
/* Stop the thread (before fd is closed) and free the ring. */
void read_ahead_stop(read_ahead *a);

#endif
