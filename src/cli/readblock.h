/* readblock.h - the blocks of decoded bytes a reader in kept mode reads
 * into (reader_keep_blocks, reader.h), shared by reader.c, which fills
 * them, and readblock.c, which keeps the released ones for reuse. */
#ifndef ND_CLI_READBLOCK_H
#define ND_CLI_READBLOCK_H

#include <stddef.h> /* size_t */

#include "reader.h"

/* A block of decoded bytes (kept mode): the reader's and its holders'. */
struct reader_block {
    reader_pool *pool;
    reader_block *next; /* in the pool's list of released blocks */
    size_t refs;        /* the reader's reference (while it writes here) and the holders' */
    size_t cap;
    size_t slab; /* the pool's slab it was cut from, or READER_NO_SLAB (malloc'd) */
    unsigned char data[];
};

enum { READER_NO_SLAB = -1 };

/* A huge page the pool cuts blocks of its usual size from (readblock.c). */
typedef struct reader_slab {
    unsigned char *base; /* NULL once freed */
    size_t used;         /* bytes cut from it */
    size_t taken;        /* its blocks not in the pool's spare list */
} reader_slab;

struct reader_pool {
    size_t block_size;
    reader_block *spare; /* released blocks, for the next ones (readblock.c) */
    size_t live;         /* blocks not yet released */
    reader_slab *slabs;
    size_t slab_count, slab_capacity;
};

/* A block of at least `need` bytes, a released one when one is that long;
 * its one reference is the caller's. NULL when out of memory. */
reader_block *reader_block_get(reader_pool *p, size_t need);

#endif /* ND_CLI_READBLOCK_H */
