/* prefix_filter.c - which members of a large component a survivor can
 * cover: an exact prefix filter, so that splitting a component around
 * survivors (split.c, star_split) compares a survivor with the members
 * that share a rare shingle with it, not with every remaining member
 * (that was quadratic on a chain of near-copies, each matching only its
 * neighbours: 16k texts took 2.8 s against 0.11 s for 2k).
 *
 * The bound. A survivor S covers a member M (measure.h) only when the
 * overlap x = |S ∩ M| reaches t |M|: under Jaccard, x / |M| >= J >= t;
 * under containment, x / |M| >= t itself. So x >= r(M), the fewest shared
 * shingles with r / |M| reaching t (nd_min_overlap, with the tolerance
 * every score is compared with). Put every shingle id in one total order
 * and call M's first |M| - r(M) + 1 ids in it M's prefix: the ids of M
 * outside its prefix are r(M) - 1, fewer than x, so at least one shared id
 * is in M's prefix. Hence every member S covers has a prefix id that is
 * one of S's ids: looking S's ids up in an index of the prefixes finds a
 * superset of the members it covers, and the caller verifies each as
 * before. Nothing is approximated: the clusters are the same as comparing
 * S with every member. (Whether a threshold so low that an overlap of 0
 * reaches it: then no filter is exact, and the caller compares all.)
 *
 * The order (Bayardo, Ma and Srikant 2007, "Scaling up all pairs
 * similarity search"): ids rarest first among the component's members,
 * then by value. A shingle most members share (a common phrase, a
 * boilerplate line) comes last, outside almost every prefix, so the lists
 * a survivor reads hold members with rare shingles in common with it:
 * its neighbours in a chain.
 *
 * Building reads every member's ids twice: once to count each id's
 * members (an open-addressing table keyed by id, grown at half full),
 * once to sort each member's ids by (count, id) (stably by count: they
 * come sorted by value) and to record its prefix as (slot, member)
 * entries; the entries then become one list a slot (counted, summed,
 * filled backwards so each list ascends). A survivor's lookup stamps the
 * members it finds with the round, so each comes once.
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
    memset(pf, 0, sizeof *pf);
}

/* Pass 2 for one member: its prefix as (slot << 32 | member) entries
 * appended to *entries. order and tmp have room for its ids. */
static int add_prefix(nd_prefix_filter *pf, const uint32_t *ids, size_t m, size_t prefix, uint32_t member,
                      uint64_t *order, uint64_t *tmp, uint64_t **entries, size_t *count, size_t *capacity)
{
    for (size_t k = 0; k < m; k++) {
        size_t s = find_slot(pf, ids[k]);
        order[k] = (uint64_t)pf->starts[s] << 32 | s; /* (members with the id, slot); by value within a count */
    }
    nd_sort_u64_high32(order, tmp, m);
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

int nd_prefix_filter_build(nd_prefix_filter *pf, const nd_store *store, const size_t *docs, size_t n, nd_id_buffer *buf,
                           int *io_status)
{
    memset(pf, 0, sizeof *pf);
    double threshold = store->opts->threshold;
    if (nd_reaches(0.0, threshold) || n >= UINT32_MAX)
        return ND_EINVAL;
    size_t used = 0, longest = 0;
    int rc = table_alloc(pf, (size_t)1 << FIRST_SLOT_BITS);
    for (size_t i = 0; rc == ND_OK && i < n; i++) {
        size_t m = store->meta[docs[i]].count;
        longest = m > longest ? m : longest;
        const uint32_t *ids = m ? store->ids(store->backend, docs[i], buf, io_status) : NULL;
        if (m && !ids)
            rc = *io_status;
        for (size_t k = 0; rc == ND_OK && k < m; k++)
            rc = count_id(pf, &used, ids[k]);
    }
    uint64_t *order = NULL, *entries = NULL;
    size_t count = 0, capacity = 0;
    if (rc == ND_OK) {
        order = nd_malloc((longest ? longest : 1) * 2 * sizeof *order);
        pf->stamp = nd_calloc(n ? n : 1, sizeof *pf->stamp);
        rc = order && pf->stamp ? ND_OK : ND_ENOMEM;
    }
    for (size_t i = 0; rc == ND_OK && i < n; i++) {
        size_t m = store->meta[docs[i]].count;
        if (m == 0)
            continue; /* covered by nothing: no score of an empty set reaches the threshold */
        const uint32_t *ids = store->ids(store->backend, docs[i], buf, io_status);
        if (!ids) {
            rc = *io_status;
            break;
        }
        size_t prefix = m - nd_min_overlap(m, threshold) + 1;
        rc = add_prefix(pf, ids, m, prefix, (uint32_t)i, order, order + longest, &entries, &count, &capacity);
        if (rc == ND_OK && count >= UINT32_MAX)
            rc = ND_EINVAL;
    }
    if (rc == ND_OK)
        rc = make_lists(pf, entries, count);
    nd_free(order);
    nd_free(entries);
    if (rc != ND_OK)
        nd_prefix_filter_free(pf);
    return rc;
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
