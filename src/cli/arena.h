/* arena.h - a bump allocator (arena.c). */
#ifndef ND_CLI_ARENA_H
#define ND_CLI_ARENA_H

#include <stddef.h> /* size_t */
#include <stdint.h> /* uint64_t */

typedef struct arena_block {
    struct arena_block *next; /* older blocks */
    size_t used, capacity;
    int huge;        /* in huge pages (nd_malloc_huge): freed with nd_free */
    uint64_t data[]; /* capacity bytes */
} arena_block;

/* Zero-initialize; not thread-safe: one per thread. */
typedef struct arena {
    arena_block *head;  /* the block being filled */
    arena_block *spare; /* blocks of the usual size kept by arena_reset, filled again first */
    size_t blocks;      /* allocated so far: from the third on, huge (arena.c) */
} arena;

/* arena_alloc() when the head block is full (or there is none). */
void *arena_alloc_new_block(arena *a, size_t n);

/* n bytes, 8-byte aligned; NULL when out of memory. Inline: most calls
 * only bump the head block's count (a call cost about 28 instructions a
 * unit in paragraph mode, twice what it does, under valgrind). */
static inline void *arena_alloc(arena *a, size_t n)
{
    n = (n + 7) & ~(size_t)7;
    arena_block *b = a->head;
    if (!b || b->capacity - b->used < n)
        return arena_alloc_new_block(a, n);
    void *p = (unsigned char *)b->data + b->used;
    b->used += n;
    return p;
}
/* A copy of the NUL-terminated s; NULL when out of memory. */
char *arena_strdup(arena *a, const char *s);
/* A NUL-terminated copy of the `len` bytes at s; NULL when out of memory. */
char *arena_strndup(arena *a, const char *s, size_t len);
/* Forget everything allocated, keeping the blocks of the usual size for
 * reuse (their pages stay mapped: no page faults to fill them again). */
void arena_reset(arena *a);
void arena_free(arena *a);

#endif /* ND_CLI_ARENA_H */
