/* pairset.h - a set of text pairs (open addressing), and a cache of
 * them that forgets (one slot a hash); see pairset.c. Internal to the
 * library. */
#ifndef ND_PAIRSET_H
#define ND_PAIRSET_H

#include <stddef.h> /* size_t */
#include <stdint.h> /* uint32_t, uint64_t */

typedef struct nd_pair_set {
    uint64_t *keys; /* 0 marks an empty slot */
    size_t capacity, count;
} nd_pair_set;
#define ND_PAIR_SET_INIT \
    {                    \
        NULL, 0, 0       \
    }

/* The key of the pair of texts a < b: a << 32 | b, exact (never 0). */
static inline uint64_t nd_pair_key(uint32_t a, uint32_t b)
{
    return (uint64_t)a << 32 | b;
}

int nd_pair_set_contains(const nd_pair_set *set, uint64_t key);
/* Returns ND_OK or ND_ENOMEM (the set is then unchanged). */
int nd_pair_set_insert(nd_pair_set *set, uint64_t key);
void nd_pair_set_release(nd_pair_set *set);

/* A cache of pairs: 2^ND_PAIR_CACHE_BITS slots, a pair kept until another
 * takes its slot. Zero-initialize; release with nd_pair_cache_release. */
enum { ND_PAIR_CACHE_BITS = 17 };
typedef struct nd_pair_cache {
    uint64_t *keys; /* NULL until the first put; 0 marks an empty slot */
} nd_pair_cache;

int nd_pair_cache_contains(const nd_pair_cache *cache, uint64_t key);
/* Returns ND_OK or ND_ENOMEM (the first put allocates). */
int nd_pair_cache_put(nd_pair_cache *cache, uint64_t key);
void nd_pair_cache_release(nd_pair_cache *cache);

#endif /* ND_PAIRSET_H */
