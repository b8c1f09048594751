/* shingle.h - word shingle ids made token by token, while tokenizing (see
 * shingle.c for the formula). Internal to the library: normalize.c feeds
 * each token as it is made, sketch.c finishes the set. */
#ifndef ND_SHINGLE_H
#define ND_SHINGLE_H

#include <stddef.h> /* size_t */
#include <stdint.h> /* uint32_t, uint64_t */

#include "alloc.h"
#include "hash.h"
#include "neardup.h"

#define ND_SHINGLE_P 0x9e3779b97f4a7c15ULL          /* odd */
#define ND_SHINGLE_WIDTH_SALT 0xd6e8feb86659fd93ULL /* times the window's width */

/* The ids of a text's k-token windows, made as its tokens come. */
typedef struct nd_word_shingles {
    uint32_t **ids; /* the caller's buffer, grown here */
    size_t *capacity;
    size_t count; /* ids made */
    unsigned k;
    uint64_t p_top; /* P^(k-1) */
    uint64_t salt;  /* k * ND_SHINGLE_WIDTH_SALT */
    uint64_t h;     /* polynomial hash of the last min(tokens, k) token hashes */
} nd_word_shingles;

static inline uint32_t nd_shingle_fold32(uint64_t h)
{
    return (uint32_t)(h ^ (h >> 32));
}

/* Start a text; ids go to *ids (grown with nd_grow into *capacity). */
void nd_word_shingles_start(nd_word_shingles *ws, uint32_t **ids, size_t *capacity, unsigned k);

/* items[n - 1], the text's n-th token, was just made: the window ending at
 * it has an id once there are k tokens.
 * @return ND_OK or ND_ENOMEM. */
static inline int nd_word_shingles_add(nd_word_shingles *ws, const nd_token *items, size_t n)
{
    uint64_t hash = items[n - 1].hash;
    if (n > ws->k) {
        ws->h = (ws->h - items[n - 1 - ws->k].hash * ws->p_top) * ND_SHINGLE_P + hash;
    } else {
        ws->h = ws->h * ND_SHINGLE_P + hash;
        if (n < ws->k)
            return ND_OK;
    }
    if (ws->count == *ws->capacity && nd_grow((void **)ws->ids, ws->capacity, ws->count + 1, sizeof **ws->ids) != 0)
        return ND_ENOMEM;
    (*ws->ids)[ws->count++] = nd_shingle_fold32(nd_mix64(ws->h + ws->salt));
    return ND_OK;
}

/* The set: the ids made, or for a text of fewer than k tokens the one id
 * of all of them; sorted and distinct in (*ws->ids)[0 .. *count).
 * @return ND_OK or ND_ENOMEM. */
int nd_word_shingles_finish(size_t *count, nd_word_shingles *ws, const nd_tokens *tokens);

#endif /* ND_SHINGLE_H */
