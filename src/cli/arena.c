/* arena.c - a bump allocator: many small copies (shingle ids, id strings)
 * in 1 MiB blocks, released all at once.
 *
 * Why: the pipeline keeps a few small arrays per document until its batch
 * is committed. A malloc and a free for each cost more than sketching a
 * short text, and freeing on the main thread what a worker allocated
 * (across malloc arenas) slowed the commit down badly. Each worker
 * therefore fills its own arena, and a batch's arenas are reset together.
 * A reset keeps its blocks for the next batch: freeing them gave the pages
 * back to the kernel, and every batch paid a page fault per 4 KiB to fill
 * them again (a quarter of a CJK scan's page faults).
 *
 * An arena that keeps growing (the doctable's ids: 14 MB at 1M documents,
 * held to the end) takes its blocks from its third on in huge pages
 * (alloc.h), 2 MiB each: a page fault per 2 MiB instead of one per 4 KiB
 * (3.5k of a 1M-document dedup's 8k faults, each 17-21 us on a VM, on
 * the committing thread). A small run's arena stays two plain blocks.
 */
#include "arena.h"

#include <stdlib.h> /* malloc, free */
#include <string.h> /* strlen, memcpy */

#include "alloc.h" /* nd_malloc_huge, nd_free */

/* Plain blocks' room, the plain blocks an arena takes before huge ones,
 * and a huge block's room (one 2 MiB page, less the block's header). */
enum { ARENA_BLOCK = 1 << 20, PLAIN_BLOCKS = 2, HUGE_BLOCK = (2 << 20) - (int)sizeof(arena_block) };

static int usual(const arena_block *b)
{
    return b->capacity == ARENA_BLOCK || (b->huge && b->capacity == HUGE_BLOCK);
}

static void block_free(arena_block *b)
{
    if (b->huge)
        nd_free(b);
    else
        free(b);
}

void *arena_alloc_new_block(arena *a, size_t n)
{
    /* n is rounded up to 8 already (arena_alloc) */
    int huge = a->blocks >= PLAIN_BLOCKS;
    size_t usual_capacity = huge ? HUGE_BLOCK : ARENA_BLOCK;
    arena_block *b;
    if (a->spare && a->spare->capacity >= n) {
        b = a->spare;
        a->spare = b->next;
    } else {
        size_t capacity = n > usual_capacity ? n : usual_capacity;
        b = huge ? nd_malloc_huge(sizeof *b + capacity) : malloc(sizeof *b + capacity);
        if (!b)
            return NULL;
        b->capacity = capacity;
        b->huge = huge;
        a->blocks++;
    }
    b->next = a->head;
    b->used = n;
    a->head = b;
    return b->data;
}

char *arena_strndup(arena *a, const char *s, size_t len)
{
    char *copy = arena_alloc(a, len + 1);
    if (copy) {
        memcpy(copy, s, len);
        copy[len] = '\0';
    }
    return copy;
}

char *arena_strdup(arena *a, const char *s)
{
    return arena_strndup(a, s, strlen(s));
}

void arena_reset(arena *a)
{
    if (!a->head)
        return;
    arena_block *older = a->head->next;
    while (older) {
        arena_block *next = older->next;
        if (usual(older)) {
            older->next = a->spare;
            a->spare = older;
        } else {
            block_free(older);
        }
        older = next;
    }
    a->head->next = NULL;
    a->head->used = 0;
}

static void free_chain(arena_block *b)
{
    while (b) {
        arena_block *next = b->next;
        block_free(b);
        b = next;
    }
}

void arena_free(arena *a)
{
    free_chain(a->head);
    free_chain(a->spare);
    a->head = NULL;
    a->spare = NULL;
    a->blocks = 0;
}
