/* pairset.c - a set of text pairs: open addressing with linear probing.
 *
 * Clustering remembers the candidate pairs it rejected, so that a pair
 * proposed again by another LSH band is not verified twice. A pair of
 * texts a < b (numbered in 32 bits) is stored exactly as a << 32 | b; the
 * slot is chosen by a mix of all 64 bits (splitmix64's finalizer), so
 * pairs sharing their low bits still spread. The table is at most half
 * full, so a probe sequence is short (expected < 2.5 slots).
 *
 * The cache (nd_pair_cache): what clustering remembers of the pairs it
 * rejected. A set of them grows with the rejections, and on texts that
 * are near one another without matching (16k variants of one template,
 * each three words of its own) LSH proposes millions: 10M rejected pairs
 * took 800 MB and more time in the set's cache misses than verifying them
 * again would (12 s against 6 s). A rejected pair is proposed again only
 * by another band it shares, and one near the threshold shares about two
 * bands in all, so remembering a pair until another takes its slot (2^17
 * slots, 1 MB, one probe) keeps most of the benefit at a fixed cost.
 * Forgetting changes no result: a pair verified again is rejected again.
 */
#include "pairset.h"

#include "neardup.h" /* ND_OK, ND_ENOMEM */

#include "alloc.h"
#include "hash.h"

static size_t slot_of(uint64_t key, size_t mask)
{
    return (size_t)nd_mix64(key) & mask;
}

int nd_pair_set_contains(const nd_pair_set *set, uint64_t key)
{
    if (set->capacity == 0)
        return 0;
    size_t mask = set->capacity - 1;
    for (size_t i = slot_of(key, mask);; i = (i + 1) & mask) {
        if (set->keys[i] == key)
            return 1;
        if (set->keys[i] == 0)
            return 0;
    }
}

static int grow(nd_pair_set *set)
{
    size_t new_capacity = set->capacity ? set->capacity * 2 : 1024;
    uint64_t *keys = nd_calloc(new_capacity, sizeof *keys);
    if (!keys)
        return ND_ENOMEM;
    size_t mask = new_capacity - 1;
    for (size_t j = 0; j < set->capacity; j++) {
        uint64_t k = set->keys[j];
        if (!k)
            continue;
        size_t i = slot_of(k, mask);
        while (keys[i])
            i = (i + 1) & mask;
        keys[i] = k;
    }
    nd_free(set->keys);
    set->keys = keys;
    set->capacity = new_capacity;
    return ND_OK;
}

int nd_pair_set_insert(nd_pair_set *set, uint64_t key)
{
    if ((set->count + 1) * 2 > set->capacity && grow(set) != ND_OK)
        return ND_ENOMEM;
    size_t mask = set->capacity - 1;
    size_t i = slot_of(key, mask);
    while (set->keys[i] && set->keys[i] != key)
        i = (i + 1) & mask;
    if (!set->keys[i]) {
        set->keys[i] = key;
        set->count++;
    }
    return ND_OK;
}

void nd_pair_set_release(nd_pair_set *set)
{
    nd_free(set->keys);
    *set = (nd_pair_set)ND_PAIR_SET_INIT;
}

int nd_pair_cache_contains(const nd_pair_cache *cache, uint64_t key)
{
    return cache->keys && cache->keys[slot_of(key, ((size_t)1 << ND_PAIR_CACHE_BITS) - 1)] == key;
}

int nd_pair_cache_put(nd_pair_cache *cache, uint64_t key)
{
    if (!cache->keys && !(cache->keys = nd_calloc((size_t)1 << ND_PAIR_CACHE_BITS, sizeof *cache->keys)))
        return ND_ENOMEM;
    cache->keys[slot_of(key, ((size_t)1 << ND_PAIR_CACHE_BITS) - 1)] = key;
    return ND_OK;
}

void nd_pair_cache_release(nd_pair_cache *cache)
{
    nd_free(cache->keys);
    cache->keys = NULL;
}
