/* arena.c - a bump allocator: many small copies (shingle ids, id strings)
 * in 1 MiB blocks, released all at once.
 *
 * Why: the pipeline keeps a few small arrays per document until its batch
 * is committed. A malloc and a free for each cost more than sketching a
 * short text, and freeing on the main thread what a worker allocated
 * (across malloc arenas) slowed the commit down badly. Each worker
 * therefore fills its own arena, and a batch's arenas are reset together.
 */
#include "arena.h"

#include <stdlib.h> /* malloc, free */
#include <string.h> /* strlen, memcpy */

enum { ARENA_BLOCK = 1 << 20 };

void *arena_alloc(arena *a, size_t n)
{
    n = (n + 7) & ~(size_t)7;
    arena_block *b = a->head;
    if (!b || b->capacity - b->used < n) {
        size_t capacity = n > ARENA_BLOCK ? n : ARENA_BLOCK;
        b = malloc(sizeof *b + capacity);
        if (!b)
            return NULL;
        b->next = a->head;
        b->used = 0;
        b->capacity = capacity;
        a->head = b;
    }
    void *p = (unsigned char *)b->data + b->used;
    b->used += n;
    return p;
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
        free(older);
        older = next;
    }
    a->head->next = NULL;
    a->head->used = 0;
}

void arena_free(arena *a)
{
    arena_reset(a);
    free(a->head);
    a->head = NULL;
}
