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
 */
#include "arena.h"

#include <stdlib.h> /* malloc, free */
#include <string.h> /* strlen, memcpy */

enum { ARENA_BLOCK = 1 << 20 };

void *arena_alloc_new_block(arena *a, size_t n)
{
    /* n is rounded up to 8 already (arena_alloc) */
    size_t capacity = n > ARENA_BLOCK ? n : ARENA_BLOCK;
    arena_block *b;
    if (capacity == ARENA_BLOCK && a->spare) {
        b = a->spare;
        a->spare = b->next;
    } else {
        b = malloc(sizeof *b + capacity);
        if (!b)
            return NULL;
    }
    b->next = a->head;
    b->used = n;
    b->capacity = capacity;
    a->head = b;
    return b->data;
}

char *arena_strdup(arena *a, const char *s)
{
    size_t len = strlen(s) + 1;
    char *copy = arena_alloc(a, len);
    if (copy)
        memcpy(copy, s, len);
    return copy;
}

void arena_reset(arena *a)
{
    if (!a->head)
        return;
    arena_block *older = a->head->next;
    while (older) {
        arena_block *next = older->next;
        if (older->capacity == ARENA_BLOCK) {
            older->next = a->spare;
            a->spare = older;
        } else {
            free(older);
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
        free(b);
        b = next;
    }
}

void arena_free(arena *a)
{
    free_chain(a->head);
    free_chain(a->spare);
    a->head = NULL;
    a->spare = NULL;
}
