/* readblock.c - the pool of blocks a reader in kept mode reads into
 * (reader_keep_blocks, reader.h): a block held by a batch of records keeps
 * their bytes; released by its last holder, it goes back to the pool for
 * the next block a reader needs, so the pages are touched for the first
 * time once, not once per batch. One thread uses a pool and its blocks.
 */
#include "readblock.h"

#include <stdlib.h> /* malloc, calloc, free */

reader_pool *reader_pool_new(size_t block_size)
{
    reader_pool *p = calloc(1, sizeof *p);
    if (p)
        p->block_size = block_size;
    return p;
}

size_t reader_pool_live(const reader_pool *p)
{
    return p->live;
}

void reader_pool_trim(reader_pool *p)
{
    while (p && p->spare) {
        reader_block *next = p->spare->next;
        free(p->spare);
        p->spare = next;
    }
}

void reader_pool_free(reader_pool *p)
{
    reader_pool_trim(p);
    free(p);
}

/* Released blocks up to this many times block_size are kept for reuse;
 * a longer one (for a line of many megabytes) is freed. */
enum { KEEP_BLOCKS_UP_TO = 16 };

reader_block *reader_block_get(reader_pool *p, size_t need)
{
    reader_block **at = &p->spare;
    while (*at && (*at)->cap < need)
        at = &(*at)->next;
    reader_block *b = *at;
    if (b) {
        *at = b->next;
    } else {
        b = malloc(sizeof *b + need);
        if (!b)
            return NULL;
        b->pool = p;
        b->cap = need;
    }
    b->next = NULL;
    b->refs = 1;
    p->live++;
    return b;
}

void reader_release(reader_block *b)
{
    if (!b || --b->refs > 0)
        return;
    reader_pool *p = b->pool;
    p->live--;
    if (b->cap <= p->block_size * KEEP_BLOCKS_UP_TO) {
        b->next = p->spare;
        p->spare = b;
    } else {
        free(b);
    }
}
