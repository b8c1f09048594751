/* identical.c - the first step of clustering and pair listing: texts with
 * identical shingle sets (candidates.c runs the second, LSH bands).
 *
 * Texts are sorted by set hash (its upper half first, see
 * nd_identical_sets_in); equal sets are found once and only the first text
 * of each goes on to the candidate stage, so a thousand copies cost a sort,
 * not half a million pair checks. Before the sets of nd_sets_then_bands,
 * texts whose set hash no other text's can share are set aside unsorted
 * (two bits per hashed slot, slots.h, as the bands use). Word-for-word
 * copies the store already knows (nd_store.copies, found when the index
 * settled them) stay out of the sort and join what their lead joined,
 * without their ids being read again (join_copies).
 */
#include "candidates.h"

#include <string.h> /* memcmp, memset */

#include "alloc.h"
#include "slots.h"
#include "sort.h"

typedef struct {
    uint64_t key;
    size_t doc;
} keyed_doc;

/* sort_keyed(keyed, tmp, n): by key, eight passes of 8 bits (passes where
 * every key has the same byte skipped). Stable: entries are added in
 * document order, so equal keys stay in document order, as canonical
 * output needs. Linear time where qsort with a comparison callback took
 * most of clustering at millions of texts. */
#define KEYED_KEY(entry) ((entry).key)
ND_DEFINE_RADIX_SORT(sort_keyed, keyed_doc, KEYED_KEY, 0, 56)

static int same_ids(const uint32_t *a, size_t na, const uint32_t *b, size_t nb)
{
    return na == nb && (na == 0 || memcmp(a, b, na * sizeof *a) == 0);
}

/* A copy's ids as one_set compares them. */
typedef struct set_member {
    const uint32_t *ids;
    size_t count;
} set_member;

/* A representative's is_representative value while the sets are found
 * with known copies (store.h copies; else always 1): the first of a set
 * held by others too, the only text with its set hash (so far: its copies
 * are left out), or a text whose hash only collides with the first's. Set
 * back to 1 once the copies are joined (join_copies). */
enum { REP_SHARED = 1, REP_ALONE = 2, REP_COLLIDED = 3 };

/* One set: entries[0 .. n) (text numbers in input order, every one with
 * the same set hash): the first is the set's representative, every other
 * text with the same ids joins it (a text whose ids differ only shares the
 * 64-bit hash: a representative of its own). `members` has room for n
 * entries; `tags`: the values above, else 1. */
static int one_set(unsigned char *is_representative, uint64_t *exact_groups, const nd_store *store, const size_t *docs,
                   size_t n, nd_same_fn same, void *ctx, nd_id_buffer *buf_a, nd_id_buffer *buf_b, set_member *members,
                   int tags)
{
    int rc = ND_OK;
    unsigned char collided = tags ? REP_COLLIDED : 1;
    is_representative[docs[0]] = tags && n < 2 ? REP_ALONE : REP_SHARED;
    if (n < 2)
        return ND_OK;
    (*exact_groups)++;
    const nd_text_meta *first = &store->meta[docs[0]];
    const uint32_t *first_ids = store->ids(store->backend, docs[0], buf_a, &rc);
    if (!store->on_disk && rc == ND_OK) {
        /* In memory: every copy's ids and count first, in a loop whose
         * lookups do not wait on one another (copies lie far apart: their
         * cache misses overlap), then the comparisons, the ids of copy
         * k + AHEAD asked for while copy k is compared. */
        enum { AHEAD = 4 };
        for (size_t k = 1; k < n; k++)
            members[k] = (set_member){store->ids(store->backend, docs[k], buf_b, &rc), store->meta[docs[k]].count};
        for (size_t k = 1; k < n; k++) {
            if (k + AHEAD < n) {
                const char *next = (const char *)members[k + AHEAD].ids;
                __builtin_prefetch(next);
                __builtin_prefetch(next + 64);
                __builtin_prefetch(next + 128);
            }
            if (same_ids(first_ids, first->count, members[k].ids, members[k].count))
                same(ctx, docs[0], docs[k]);
            else
                is_representative[docs[k]] = collided; /* a 64-bit hash collision */
        }
        return rc;
    }
    for (size_t k = 1; k < n && rc == ND_OK; k++) {
        const nd_text_meta *other = &store->meta[docs[k]];
        const uint32_t *other_ids = store->ids(store->backend, docs[k], buf_b, &rc);
        if (rc != ND_OK)
            break;
        if (same_ids(first_ids, first->count, other_ids, other->count))
            same(ctx, docs[0], docs[k]);
        else
            is_representative[docs[k]] = collided; /* a 64-bit hash collision */
    }
    return rc;
}

/* Texts are sorted by the upper 32 bits of their set hash, as (hash >> 32
 * << 32 | text) entries: three radix passes over 8 bytes a text, where
 * sorting (hash, text) pairs by all 64 bits took eight over 16. A run of
 * equal upper halves is nearly always one set (copies); when it is not
 * (two hashes share their upper half), the run is sorted by the whole hash
 * before its sets are taken, so sets come in the order of their whole
 * hash, texts in input order within each, as a sort by the whole hash
 * would give them. */

int nd_identical_sets(unsigned char *is_representative, uint64_t *exact_groups, const nd_store *store, nd_same_fn same,
                      void *ctx)
{
    uint64_t *entries = nd_malloc((store->count + 1) * 2 * sizeof *entries);
    if (!entries)
        return ND_ENOMEM;
    int rc = nd_identical_sets_in(is_representative, exact_groups, store, same, ctx, entries, NULL, 0);
    nd_free(entries);
    return rc;
}

/* A set hash's slot: from its upper half, as the sets are sorted by it. */
static inline uint32_t hash_slot(uint64_t set_hash, unsigned shift)
{
    return nd_slot_of((uint32_t)(set_hash >> 32), shift);
}

/* The first text of the set with hash `hash` among the sorted entries[0 ..
 * m) (as one_set took it), or `or_else` when none has it. */
static size_t first_of_set(const nd_text_meta *meta, const uint64_t *entries, size_t m, uint64_t hash, size_t or_else)
{
    size_t lo = 0, hi = m;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (entries[mid] >> 32 < hash >> 32)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (; lo < m && entries[lo] >> 32 == hash >> 32; lo++) {
        if (meta[(uint32_t)entries[lo]].set_hash == hash)
            return (uint32_t)entries[lo];
    }
    return or_else;
}

/* The known copies (store.h), left out of the sets found: each ends as
 * its lead did (the same ids, set hash and count: compared with the first
 * of the set, it would have come out as its lead did), without reading
 * its ids. A lead alone so far makes a set of two or more now. Then every
 * representative's value is set back to 1. `entries[0 .. m)`: the texts
 * the sets were found among, sorted. */
static void join_copies(unsigned char *is_representative, uint64_t *exact_groups, const nd_store *store,
                        nd_same_fn same, void *ctx, const uint64_t *entries, size_t m)
{
    for (size_t c = 0; c < store->copy_count; c++) {
        size_t doc = store->copies[c] >> 32, lead = (uint32_t)store->copies[c], first = lead;
        unsigned char r = is_representative[lead];
        if (r == REP_COLLIDED) {
            is_representative[doc] = REP_COLLIDED; /* as its lead: a representative of its own */
            continue;
        }
        if (r == REP_ALONE) {
            (*exact_groups)++;
            is_representative[lead] = REP_SHARED;
        } else if (r == 0) { /* joined to an earlier text with the same set */
            first = first_of_set(store->meta, entries, m, store->meta[lead].set_hash, lead);
        }
        same(ctx, first, doc);
    }
    /* (values 0 to 3: eight at a time) */
    size_t d = 0;
    for (; d + 8 <= store->count; d += 8) {
        uint64_t v;
        memcpy(&v, is_representative + d, sizeof v);
        v = (v | v >> 1) & 0x0101010101010101ull;
        memcpy(is_representative + d, &v, sizeof v);
    }
    for (; d < store->count; d++)
        is_representative[d] = is_representative[d] != 0;
}

/* nd_identical_sets in `entries`, room for 2 * (store->count + 1) values
 * (nd_sets_then_bands lends its own band buffer, idle until the sets are
 * found: 16 bytes a text of fresh memory less, whose pages the kernel
 * would clear). With `slots` (2^slot_bits slots of two bits, eight or more
 * a text), a text whose set hash no other text's can share (its slot seen
 * once) is a set of its own at once and is not sorted: most texts, so the
 * sort and the memory it touches shrink to the texts with copies and a
 * few others (the texts sorted are a subset in the same order, and a text
 * left out would have been a run of one: the sets come out the same). */
int nd_identical_sets_in(unsigned char *is_representative, uint64_t *exact_groups, const nd_store *store,
                         nd_same_fn same, void *ctx, uint64_t *entries, uint64_t *slots, unsigned slot_bits)
{
    size_t *docs = NULL; /* one run's texts */
    set_member *members = NULL;
    keyed_doc *keyed = NULL, *tmp = NULL;
    size_t docs_capacity = 0, members_capacity = 0, keyed_capacity = 0;
    nd_id_buffer buf_a = {NULL, 0}, buf_b = {NULL, 0};
    int rc = ND_OK;
    size_t m = 0;
    const unsigned char *unsettled = store->unsettled;
    const nd_text_meta *meta = store->meta;
    /* known copies (store.h) are left out (join_copies): c, the next one */
    const uint64_t *copies = store->copies;
    size_t copy_count = copies ? store->copy_count : 0, c = 0;
    int tags = copy_count > 0;
    unsigned char alone = tags ? REP_ALONE : 1;
#define ND_NEXT_IS_COPY(d) (c < copy_count && copies[c] >> 32 == (d) ? (c++, 1u) : 0u)
    if (slots && !unsettled) {
        /* (with unsettled texts, document mode, most are sets of their own
         * already and the few others are sorted as they are) */
        unsigned shift = 32 - slot_bits;
        memset(slots, 0, ((size_t)1 << slot_bits) / 32 * sizeof *slots);
        for (size_t d = 0; d < store->count; d++)
            nd_slot_mark(slots, hash_slot(meta[d].set_hash, shift), (meta[d].count > 0) & !ND_NEXT_IS_COPY(d));
        c = 0;
        for (size_t d = 0; d < store->count; d++) {
            unsigned any = (meta[d].count > 0) & !ND_NEXT_IS_COPY(d);
            unsigned shared = nd_slot_seen_twice(slots, hash_slot(meta[d].set_hash, shift)) & any;
            is_representative[d] |= (unsigned char)((any & !shared) * alone); /* no other hash in its slot */
            entries[m] = meta[d].set_hash >> 32 << 32 | d;
            m += shared;
        }
    } else if (!unsettled) {
        for (size_t d = 0; d < store->count; d++) {
            entries[m] = meta[d].set_hash >> 32 << 32 | d;
            m += (meta[d].count > 0) & !ND_NEXT_IS_COPY(d);
        }
    } else {
        /* a text no other can be a copy of (store.h): a set of its own */
        for (size_t d = 0; d < store->count; d++) {
            unsigned own = unsettled[d], any = (meta[d].count > 0) & !ND_NEXT_IS_COPY(d);
            is_representative[d] |= (unsigned char)(own & any);
            entries[m] = meta[d].set_hash >> 32 << 32 | d;
            m += any & !own;
        }
    }
#undef ND_NEXT_IS_COPY
    /* the scratch right after the m entries (m <= count): pages the bands
     * touch next anyway, not the far half of the buffer */
    nd_sort_u64_high32(entries, entries + m, m);
    for (size_t i = 0; i < m && rc == ND_OK;) {
        size_t j = i + 1;
        while (j < m && (entries[j] ^ entries[i]) >> 32 == 0)
            j++;
        if (j - i == 1) { /* most texts: a set of their own, no need to look further */
            is_representative[(uint32_t)entries[i]] = alone;
            i = j;
            continue;
        }
        if (nd_grow((void **)&docs, &docs_capacity, j - i, sizeof *docs) != 0 ||
            nd_grow((void **)&members, &members_capacity, j - i, sizeof *members) != 0) {
            rc = ND_ENOMEM;
            break;
        }
        uint64_t hash = store->meta[(uint32_t)entries[i]].set_hash;
        size_t n = 0;
        int one = 1;
        for (size_t k = i; k < j; k++) {
            docs[n++] = (uint32_t)entries[k];
            one &= store->meta[docs[n - 1]].set_hash == hash;
        }
        if (one) {
            rc = one_set(is_representative, exact_groups, store, docs, n, same, ctx, &buf_a, &buf_b, members, tags);
        } else {
            if (nd_grow((void **)&keyed, &keyed_capacity, 2 * n, sizeof *keyed) != 0) {
                rc = ND_ENOMEM;
                break;
            }
            tmp = keyed + n;
            for (size_t k = 0; k < n; k++)
                keyed[k] = (keyed_doc){store->meta[docs[k]].set_hash, docs[k]};
            sort_keyed(keyed, tmp, n);
            for (size_t k = 0; k < n; k++)
                docs[k] = keyed[k].doc;
            for (size_t a = 0; a < n && rc == ND_OK;) {
                size_t b = a + 1;
                while (b < n && keyed[b].key == keyed[a].key)
                    b++;
                rc = one_set(is_representative, exact_groups, store, docs + a, b - a, same, ctx, &buf_a, &buf_b,
                             members, tags);
                a = b;
            }
        }
        i = j;
    }
    if (rc == ND_OK && tags)
        join_copies(is_representative, exact_groups, store, same, ctx, entries, m);
    nd_free(docs);
    nd_free(members);
    nd_free(keyed);
    nd_free(buf_a.data);
    nd_free(buf_b.data);
    return rc;
}
