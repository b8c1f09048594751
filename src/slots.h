/* slots.h - "may another share this key?" in two bits per hashed slot.
 * Internal to the library.
 *
 * Keys are hashed (Fibonacci hashing: key * 2^32/phi, top bits) to 2^bits
 * slots, and a first pass marks each slot seen, or seen twice; a key whose
 * slot was seen only once has no equal among the keys marked. A key in a
 * slot seen twice may have one (or only share the slot with another key):
 * a superset of the shared keys, so with eight or more slots a key it
 * sets aside most lone keys before a sort. Used by candidates.c (lone band
 * keys, lone set hashes), index_settle.c (raw texts that may have a copy)
 * and index_refill.c (dropped texts that may share a band key). nd_slot_keep
 * and nd_slots_clear_kept are the second pass over keys every one of which
 * was marked, and the table left clear after it.
 * The slots are words (seen, twice), interleaved: 2^bits / 32 words. */
#ifndef ND_SLOTS_H
#define ND_SLOTS_H

#include <stddef.h> /* size_t */
#include <stdint.h> /* uint32_t, uint64_t */

/* Bits of a table of 2^bits slots, 2^12 .. 2^27 (16 MiB of bits), with
 * `per_key` slots or more for each of `keys` keys. */
static inline unsigned nd_slot_bits(size_t keys, size_t per_key)
{
    unsigned bits = 12;
    while (bits < 27 && ((size_t)1 << bits) < keys * per_key)
        bits++;
    return bits;
}

/* Key `key`'s slot among 2^(32 - shift) slots. */
static inline uint32_t nd_slot_of(uint32_t key, unsigned shift)
{
    return key * 0x9E3779B1u >> shift;
}

/* Mark slot h seen, or seen twice, when `on` (0 or 1). */
static inline void nd_slot_mark(uint64_t *slots, uint32_t h, uint64_t on)
{
    uint64_t bit = on << (h & 63), *pair = slots + 2 * (h >> 6);
    pair[1] |= pair[0] & bit; /* seen before: twice */
    pair[0] |= bit;
}

/* 1 if slot h was marked twice or more. */
static inline unsigned nd_slot_seen_twice(const uint64_t *slots, uint32_t h)
{
    return (unsigned)(slots[2 * (h >> 6) + 1] >> (h & 63)) & 1;
}

/* The second pass over keys marked (every key marked first): entry
 * key << 32 | text written at entries[m], and kept (m + 1 returned) when
 * the key's slot was seen twice, else m returned (the next one writes
 * over it); the slot's seen word cleared, as no key reads it again. */
static inline size_t nd_slot_keep(uint64_t *slots, unsigned shift, uint64_t *entries, size_t m, uint32_t key,
                                  uint32_t text)
{
    uint32_t h = nd_slot_of(key, shift);
    entries[m] = (uint64_t)key << 32 | text;
    m += nd_slot_seen_twice(slots, h);
    slots[2 * (h >> 6)] = 0;
    return m;
}

/* After nd_slot_keep over every key marked: the twice words cleared (a
 * slot seen twice has two entries or more kept), the table clear again
 * for the next keys, without a memset of it. */
static inline void nd_slots_clear_kept(uint64_t *slots, unsigned shift, const uint64_t *entries, size_t m)
{
    for (size_t i = 0; i < m; i++)
        slots[2 * (nd_slot_of((uint32_t)(entries[i] >> 32), shift) >> 6) + 1] = 0;
}

#endif /* ND_SLOTS_H */
