/* prefix_filter.c - which texts of a set can match a given one: an
 * exact prefix filter, so that a large component is split around
 * survivors (split.c, star_split) comparing each with the members that
 * share a rare shingle with it, not with every remaining member (that was
 * quadratic on a chain of near-copies, each matching only its
 * neighbours: 32k texts took 30 s against 0.6 s for 4k), and so that the
 * texts of a large LSH key that match nothing are not verified pair by
 * pair (keygroups.c: variants of one template, a key shared by thousands
 * of texts of which few match).
 *
 * The bound. Every match needs the overlap x of two texts A and B with
 * |A| <= |B| to have x / |A| reach the threshold t: under Jaccard,
 * x / |A| >= x / |B| >= J >= t; under containment x / |A| is the score
 * itself (measure.h). A survivor S covers a member M only when x / |M|
 * reaches t. So x >= r(|A|) (or r(|M|)), the fewest shared shingles with
 * r / |A| reaching t (nd_min_overlap, with the tolerance every score is
 * compared with). Put every shingle id in one total order and call a
 * text's first |T| - r(|T|) + 1 ids in it T's prefix: the ids of A outside
 * its prefix are r(|A|) - 1, fewer than x, so at least one shared id is in
 * A's prefix.
 * - One way (a survivor): every member S covers has a prefix id that is
 *   one of S's ids: S's ids looked up in an index of the prefixes give a
 *   superset of the members it covers.
 * - Both ways (a key's texts): for two texts that match, the smaller's
 *   prefix meets the other's ids. Member q is marked with every member
 *   whose prefix meets q's ids (the prefix lists of q's ids) and every
 *   member with an id of q's prefix (the full lists of q's prefix ids).
 * The callers verify what is marked as before; nothing is approximated,
 * the clusters are the same as comparing every pair. (A threshold so low
 * that an overlap of 0 reaches it: then no filter is exact, and the caller
 * compares all.)
 *
 * The order (Bayardo, Ma and Srikant 2007, "Scaling up all pairs
 * similarity search"): ids rarest first among the members, then by value.
 * A shingle most members share (a common phrase, a boilerplate line, a
 * template) comes last, outside almost every prefix, so the lists read
 * hold members with rare shingles in common: a chain's neighbours, a
 * template's variants that share their edits.
 *
 * Building reads every member's ids twice: once to count each id's
 * members (an open-addressing table keyed by id, grown at half full),
 * once to sort each member's ids by (count, id) (stably by count: they
 * come sorted by value) and to record its prefix as (slot, member)
 * entries; the entries then become one list a slot (counted, summed,
 * filled backwards so each list ascends). Both ways, each member's slots
 * are kept (rarest first) and every member is listed under each of its
 * ids too (the counts summed are where those lists begin). A look-up
 * stamps the members it finds with the round, so each comes once.
 */
#include "prefix_filter.h"

#include <stdlib.h> /* qsort */
#include <string.h> /* memset */

#include "alloc.h"
#include "measure.h"
#include "sort.h"

enum { FIRST_SLOT_BITS = 12 };

static size_t slot_start(uint32_t id, size_t capacity)
{
    return (size_t)((uint64_t)id * 0x9E3779B97F4A7C15ULL >> 32) & (capacity - 1);
}

/* The slot of id, or SIZE_MAX when it is not in the table. */
static size_t find_slot(const nd_prefix_filter *pf, uint32_t id)
{
    for (size_t s = slot_start(id, pf->capacity);; s = (s + 1) & (pf->capacity - 1)) {
        if (!pf->occupied[s])
            return SIZE_MAX;
        if (pf->keys[s] == id)
            return s;
    }
}

static int table_alloc(nd_prefix_filter *pf, size_t capacity)
{
    pf->capacity = capacity;
    pf->keys = nd_malloc(capacity * sizeof *pf->keys);
    pf->starts = nd_calloc(capacity + 1, sizeof *pf->starts);
    pf->occupied = nd_calloc(capacity, 1);
    return pf->keys && pf->starts && pf->occupied ? ND_OK : ND_ENOMEM;
}

/* Twice the slots, every id moved with its count. */
static int table_grow(nd_prefix_filter *pf)
{
    nd_prefix_filter old = *pf;
    int rc = table_alloc(pf, old.capacity * 2);
    for (size_t s = 0; rc == ND_OK && s < old.capacity; s++) {
        if (!old.occupied[s])
            continue;
        size_t t = slot_start(old.keys[s], pf->capacity);
        while (pf->occupied[t])
            t = (t + 1) & (pf->capacity - 1);
        pf->occupied[t] = 1;
        pf->keys[t] = old.keys[s];
        pf->starts[t] = old.starts[s];
    }
    nd_free(old.keys);
    nd_free(old.starts);
    nd_free(old.occupied);
    return rc;
}

/* Count one more member with id (ids of a member are distinct). */
static int count_id(nd_prefix_filter *pf, size_t *used, uint32_t id)
{
    size_t s = slot_start(id, pf->capacity);
    for (; pf->occupied[s]; s = (s + 1) & (pf->capacity - 1)) {
        if (pf->keys[s] == id) {
            pf->starts[s]++;
            return ND_OK;
        }
    }
    pf->occupied[s] = 1;
    pf->keys[s] = id;
    pf->starts[s] = 1;
    if (++*used * 2 > pf->capacity)
        return table_grow(pf);
    return ND_OK;
}

void nd_prefix_filter_free(nd_prefix_filter *pf)
{
    nd_free(pf->keys);
    nd_free(pf->starts);
    nd_free(pf->occupied);
    nd_free(pf->lists);
    nd_free(pf->stamp);
    nd_free(pf->full_starts);
    nd_free(pf->full_lists);
    nd_free(pf->member_starts);
    nd_free(pf->member_slots);
    nd_free(pf->member_prefix);
    nd_free(pf->member_need);
    nd_free(pf->seen);
    nd_free(pf->list_pos);
    nd_free(pf->full_pos);
    memset(pf, 0, sizeof *pf);
}

/* Pass 2 for one member: its ids' slots rarest first into order, as
 * (count << 32 | slot) (tmp as scratch). */
static void rank_ids(const nd_prefix_filter *pf, const uint32_t *ids, size_t m, uint64_t *order, uint64_t *tmp)
{
    for (size_t k = 0; k < m; k++) {
        size_t s = find_slot(pf, ids[k]);
        order[k] = (uint64_t)pf->starts[s] << 32 | s; /* (members with the id, slot); by value within a count */
    }
    nd_sort_u64_high32(order, tmp, m);
}

/* One way: a member's prefix (the first `prefix` of order) as (slot << 32
 * | member) entries appended to *entries. */
static int add_prefix(const uint64_t *order, size_t prefix, uint32_t member, uint64_t **entries, size_t *count,
                      size_t *capacity)
{
    if (nd_grow((void **)entries, capacity, *count + prefix, sizeof **entries) != 0)
        return ND_ENOMEM;
    for (size_t k = 0; k < prefix; k++)
        (*entries)[(*count)++] = (order[k] & 0xFFFFFFFFu) << 32 | member;
    return ND_OK;
}

/* The entries, in member order, as one ascending list a slot. */
static int make_lists(nd_prefix_filter *pf, const uint64_t *entries, size_t count)
{
    pf->lists = nd_malloc((count ? count : 1) * sizeof *pf->lists);
    if (!pf->lists)
        return ND_ENOMEM;
    memset(pf->starts, 0, (pf->capacity + 1) * sizeof *pf->starts);
    for (size_t e = 0; e < count; e++)
        pf->starts[entries[e] >> 32]++;
    uint32_t end = 0;
    for (size_t s = 0; s <= pf->capacity; s++) {
        end += pf->starts[s];
        pf->starts[s] = end; /* where slot s's list ends */
    }
    for (size_t e = count; e-- > 0;)
        pf->lists[--pf->starts[entries[e] >> 32]] = (uint32_t)entries[e];
    return ND_OK; /* starts[s] is now where slot s's list begins, starts[s + 1] where it ends */
}

/* Both ways: the same lists made from the members' prefixes (`count` in
 * all), each entry with its place in its member's order (list_pos). */
static int make_lists_both(nd_prefix_filter *pf, size_t n, size_t count)
{
    pf->lists = nd_malloc((count ? count : 1) * sizeof *pf->lists);
    pf->list_pos = nd_malloc((count ? count : 1) * sizeof *pf->list_pos);
    if (!pf->lists || !pf->list_pos)
        return ND_ENOMEM;
    memset(pf->starts, 0, (pf->capacity + 1) * sizeof *pf->starts);
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < pf->member_prefix[i]; k++)
            pf->starts[pf->member_slots[pf->member_starts[i] + k]]++;
    }
    uint32_t end = 0;
    for (size_t s = 0; s <= pf->capacity; s++) {
        end += pf->starts[s];
        pf->starts[s] = end;
    }
    for (size_t i = n; i-- > 0;) { /* backwards: each list ascends */
        for (size_t k = pf->member_prefix[i]; k-- > 0;) {
            uint32_t at = --pf->starts[pf->member_slots[pf->member_starts[i] + k]];
            pf->lists[at] = (uint32_t)i;
            pf->list_pos[at] = (uint32_t)k;
        }
    }
    return ND_OK;
}

/* Both ways: every member listed under each of its slots (starts[] still
 * holds each slot's count of members), in member order. */
static int make_full_lists(nd_prefix_filter *pf, size_t n, size_t total)
{
    pf->full_starts = nd_malloc((pf->capacity + 1) * sizeof *pf->full_starts);
    pf->full_lists = nd_malloc((total ? total : 1) * sizeof *pf->full_lists);
    pf->full_pos = nd_malloc((total ? total : 1) * sizeof *pf->full_pos);
    if (!pf->full_starts || !pf->full_lists || !pf->full_pos)
        return ND_ENOMEM;
    uint32_t at = 0;
    for (size_t s = 0; s < pf->capacity; s++) {
        pf->full_starts[s] = at;
        at += pf->occupied[s] ? pf->starts[s] : 0;
    }
    pf->full_starts[pf->capacity] = at;
    /* filled front to back with a cursor a slot: the starts, moved on */
    for (size_t i = 0; i < n; i++) {
        for (size_t k = pf->member_starts[i]; k < pf->member_starts[i + 1]; k++) {
            uint32_t to = pf->full_starts[pf->member_slots[k]]++;
            pf->full_lists[to] = (uint32_t)i;
            pf->full_pos[to] = (uint32_t)(k - pf->member_starts[i]);
        }
    }
    for (size_t s = pf->capacity; s-- > 0;) /* back to where each list begins */
        pf->full_starts[s + 1] = pf->full_starts[s];
    pf->full_starts[0] = 0;
    return ND_OK;
}

int nd_prefix_filter_build(nd_prefix_filter *pf, double threshold, size_t n, nd_member_ids_fn member_ids, void *ctx,
                           int both)
{
    memset(pf, 0, sizeof *pf);
    if (nd_reaches(0.0, threshold) || n >= UINT32_MAX)
        return ND_EINVAL;
    size_t used = 0, longest = 0, total = 0;
    int rc = table_alloc(pf, (size_t)1 << FIRST_SLOT_BITS);
    for (size_t i = 0; rc == ND_OK && i < n; i++) {
        size_t m;
        const uint32_t *ids = member_ids(ctx, i, &m);
        if (!ids && m > 0) {
            rc = ND_EIO;
            break;
        }
        longest = m > longest ? m : longest;
        total += m;
        for (size_t k = 0; rc == ND_OK && k < m; k++)
            rc = count_id(pf, &used, ids[k]);
    }
    if (rc == ND_OK && total >= UINT32_MAX)
        rc = ND_EINVAL;
    uint64_t *order = NULL, *entries = NULL;
    size_t count = 0, capacity = 0;
    if (rc == ND_OK) {
        order = nd_malloc((longest ? longest : 1) * 2 * sizeof *order);
        pf->stamp = nd_calloc(n ? n : 1, sizeof *pf->stamp);
        rc = order && pf->stamp ? ND_OK : ND_ENOMEM;
    }
    if (rc == ND_OK && both) {
        pf->member_starts = nd_malloc((n + 1) * sizeof *pf->member_starts);
        pf->member_slots = nd_malloc((total ? total : 1) * sizeof *pf->member_slots);
        pf->member_prefix = nd_malloc((n ? n : 1) * sizeof *pf->member_prefix);
        pf->member_need = nd_malloc((n ? n : 1) * sizeof *pf->member_need);
        pf->seen = nd_calloc(n ? n : 1, sizeof *pf->seen);
        rc = pf->member_starts && pf->member_slots && pf->member_prefix && pf->member_need && pf->seen ? ND_OK
                                                                                                       : ND_ENOMEM;
        if (rc == ND_OK)
            pf->member_starts[0] = 0;
    }
    for (size_t i = 0, at = 0; rc == ND_OK && i < n; i++) {
        size_t m;
        const uint32_t *ids = member_ids(ctx, i, &m);
        if (!ids && m > 0) {
            rc = ND_EIO;
            break;
        }
        /* an empty text matches nothing: no score of an empty set reaches the threshold */
        size_t need = m ? nd_min_overlap(m, threshold) : 1, prefix = m + 1 - need;
        rank_ids(pf, ids, m, order, order + longest);
        if (!both) {
            rc = add_prefix(order, prefix, (uint32_t)i, &entries, &count, &capacity);
            continue;
        }
        for (size_t k = 0; k < m; k++)
            pf->member_slots[at + k] = (uint32_t)order[k];
        at += m;
        pf->member_starts[i + 1] = at;
        pf->member_prefix[i] = (uint32_t)prefix;
        pf->member_need[i] = (uint32_t)need;
        count += prefix;
    }
    if (rc == ND_OK && both)
        rc = make_full_lists(pf, n, total); /* while starts[] holds the counts */
    if (rc == ND_OK)
        rc = both ? make_lists_both(pf, n, count) : make_lists(pf, entries, count);
    nd_free(order);
    nd_free(entries);
    if (rc != ND_OK)
        nd_prefix_filter_free(pf);
    return rc;
}

/* Both ways: member p, met through the first id it shares with q (p's
 * i-th, q's j-th, rarest first), marked unless the ids after it are too
 * few for the overlap a match needs (Xiao et al. 2008, the positional
 * filter of PPJoin): at most 1 + min(|p| - 1 - i, |q| - 1 - j) are shared,
 * and a match needs r(min(|p|, |q|)), the smaller need. Met again through
 * a later id, p is left as it was: only the first shared id gives that
 * bound. */
static inline void meet(nd_prefix_filter *pf, uint32_t p, uint32_t i, size_t nq, size_t j, uint32_t need_q)
{
    if (pf->seen[p] == pf->round)
        return;
    pf->seen[p] = pf->round;
    size_t np = pf->member_starts[p + 1] - pf->member_starts[p];
    size_t left_p = np - 1 - i, left_q = nq - 1 - j;
    size_t need = pf->member_need[p] < need_q ? pf->member_need[p] : need_q;
    if (1 + (left_p < left_q ? left_p : left_q) >= need)
        pf->stamp[p] = pf->round;
}

void nd_prefix_filter_mark(nd_prefix_filter *pf, size_t q)
{
    pf->round++; /* a round a member at most: never back to 0 */
    const uint32_t *slots = pf->member_slots + pf->member_starts[q];
    size_t m = pf->member_starts[q + 1] - pf->member_starts[q], prefix = pf->member_prefix[q];
    uint32_t need_q = pf->member_need[q];
    /* q's ids in order: the members whose prefix holds the first id they
     * share with q meet it there (a member whose prefix holds none of q's
     * ids shares no id of its prefix, so not its first) */
    for (size_t j = 0; j < m; j++) {
        for (uint32_t e = pf->starts[slots[j]]; e < pf->starts[slots[j] + 1]; e++)
            meet(pf, pf->lists[e], pf->list_pos[e], m, j, need_q);
    }
    /* q's prefix in order: the members sharing an id of it meet it at the
     * first they share (the others share none of its prefix) */
    for (size_t j = 0; j < prefix; j++) {
        for (uint32_t e = pf->full_starts[slots[j]]; e < pf->full_starts[slots[j] + 1]; e++)
            meet(pf, pf->full_lists[e], pf->full_pos[e], m, j, need_q);
    }
}

static int by_position(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

size_t nd_prefix_filter_candidates(nd_prefix_filter *pf, const uint32_t *ids, size_t count, const unsigned char *alive,
                                   uint32_t *out)
{
    pf->round++; /* a round a survivor: fewer than 2^32 - 1 (nd_prefix_filter_build), so never back to 0 */
    size_t found = 0;
    for (size_t k = 0; k < count; k++) {
        size_t s = find_slot(pf, ids[k]);
        if (s == SIZE_MAX)
            continue;
        for (uint32_t e = pf->starts[s]; e < pf->starts[s + 1]; e++) {
            uint32_t member = pf->lists[e];
            if (alive[member] && pf->stamp[member] != pf->round) {
                pf->stamp[member] = pf->round;
                out[found++] = member;
            }
        }
    }
    qsort(out, found, sizeof *out, by_position);
    return found;
}
