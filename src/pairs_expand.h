/* pairs_expand.h - step 4 of pair listing (pairs.c): from the verified
 * pairs of representatives and the copies of each set, the nd_pairs object
 * that hands out every pair of texts they give, in order (a, b), one text
 * a at a time (pairs_expand.c). Internal to the library. */
#ifndef ND_PAIRS_EXPAND_H
#define ND_PAIRS_EXPAND_H

#include <stddef.h> /* size_t */
#include <stdint.h> /* uint32_t */

#include "neardup.h"
#include "store.h"

/* A verified pair of representatives, a < b, with the shingles they share. */
typedef struct nd_found_pair {
    uint32_t a, b;
    size_t shared;
} nd_found_pair;

/* The pairs given by found[0 .. found_count) and the copies of each set:
 * set_of[t] is the first text with t's set (t itself for a
 * representative), read for the texts of `store` with shingles. The
 * result keeps per text 24 bytes, per found pair 16, and room for the
 * partners of the text with the most; nothing of `store` or `found` is
 * read after the call. On ND_OK the pairs own set_of (freed with them);
 * on ND_ENOMEM it stays the caller's. */
int nd_pairs_make(nd_pairs **out, const nd_store *store, uint32_t *set_of, const nd_found_pair *found,
                  size_t found_count);

#endif /* ND_PAIRS_EXPAND_H */
