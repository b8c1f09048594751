/* readblock.c - the pool of blocks a reader in kept mode reads into
 * (reader_keep_blocks, reader.h): a block held by a batch of records keeps
 * their bytes; released by its last holder, it goes back to the pool for
 * the next block a reader needs, so the pages are touched for the first
 * time once, not once per batch. One thread uses a pool and its blocks.
 *
 * Blocks of the usual size are cut from huge pages (slabs of 2 MiB,
 * alloc.h: seven blocks of 256 KiB each), a page fault per 2 MiB instead
 * of one per 4 KiB (the blocks a run keeps in use: 1.1 MB on a CJK scan,
 * 285 faults; 4.7 MB at 1M documents with two threads, 1.2k). A slab is
 * freed when every block cut from it is spare and the pool is trimmed.
 */
#include "readblock.h"

#include <stdlib.h> /* malloc, calloc, free */

#include "alloc.h" /* nd_malloc_huge, nd_grow, nd_free */

enum { SLAB = 2 << 20 };

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
    if (!p)
        return;
    /* spare blocks freed, but those of a slab with blocks still taken */
    reader_block **at = &p->spare;
    while (*at) {
        reader_block *b = *at;
        if (b->slab != (size_t)READER_NO_SLAB && p->slabs[b->slab].taken > 0) {
            at = &b->next;
            continue;
        }
        *at = b->next;
        if (b->slab == (size_t)READER_NO_SLAB)
            free(b);
    }
    for (size_t k = 0; k < p->slab_count; k++) {
        if (p->slabs[k].base && p->slabs[k].taken == 0) {
            nd_free(p->slabs[k].base);
            p->slabs[k] = (reader_slab){NULL, SLAB, 0}; /* no more cut from it */
        }
    }
}

void reader_pool_free(reader_pool *p)
{
    reader_pool_trim(p);
    if (p)
        free(p->slabs);
    free(p);
}

/* A new block of the usual size cut from the last slab (or a new one);
 * NULL when there is no memory for a slab. */
static reader_block *cut(reader_pool *p)
{
    size_t size = (sizeof(reader_block) + p->block_size + 63) & ~(size_t)63;
    if (size > SLAB)
        return NULL;
    reader_slab *last = p->slab_count ? &p->slabs[p->slab_count - 1] : NULL;
    if (!last || SLAB - last->used < size) {
        if (nd_grow((void **)&p->slabs, &p->slab_capacity, p->slab_count + 1, sizeof *p->slabs) != 0)
            return NULL;
        unsigned char *base = nd_malloc_huge(SLAB);
        if (!base)
            return NULL;
        last = &p->slabs[p->slab_count++];
        *last = (reader_slab){base, 0, 0};
    }
    reader_block *b = (reader_block *)(void *)(last->base + last->used);
    last->used += size;
    b->slab = (size_t)(last - p->slabs);
    b->cap = p->block_size;
    b->pool = p;
    return b;
}

/* Released blocks up to this many times block_size are kept for reuse;
 * a longer one (for a line of many megabytes) is freed, and so is a
 * shorter one (a small file's, reader_keep_blocks: kept, thousands of
 * them would be walked by every search of the list). */
enum { KEEP_BLOCKS_UP_TO = 16 };

reader_block *reader_block_get(reader_pool *p, size_t need)
{
    reader_block **at = &p->spare;
    while (*at && (*at)->cap < need)
        at = &(*at)->next;
    reader_block *b = *at;
    if (b) {
        *at = b->next;
    } else if (!(need == p->block_size && (b = cut(p)))) {
        b = malloc(sizeof *b + need);
        if (!b)
            return NULL;
        b->pool = p;
        b->cap = need;
        b->slab = (size_t)READER_NO_SLAB;
    }
    if (b->slab != (size_t)READER_NO_SLAB)
        p->slabs[b->slab].taken++;
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
    if (b->slab != (size_t)READER_NO_SLAB)
        p->slabs[b->slab].taken--;
    if (b->cap >= p->block_size && b->cap <= p->block_size * KEEP_BLOCKS_UP_TO) {
        b->next = p->spare;
        p->spare = b;
    } else {
        free(b);
    }
}
