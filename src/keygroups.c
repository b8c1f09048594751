/* keygroups.c - the texts sharing one LSH key, verified so that every
 * two that match end in one component, in about as many verifications as
 * texts when they are near-copies of one another.
 *
 * Why not every pair: a key shared by k texts makes k (k - 1) / 2
 * candidate pairs, and a pair whose texts are in one component already
 * need not be verified. Skipping those still looks at every pair (two
 * union-find look-ups each): k^2 / 2 a band, 16 bands. A family of 80,000
 * copies of one page with two words changed in each took 32 s to cluster
 * (2.3 s at 20,000): the look-ups, not the 80,000 verifications.
 *
 * How: the texts are taken in order; those taken so far are kept in
 * groups, one per component (a list each). Text q is compared with each
 * group: if it is in the group's component already (an earlier band, an
 * identical set), it joins the group at once; else the group's members
 * are verified against q in turn until one matches, and then q joins the
 * group. When q joins a second group, the two groups are one component
 * and become one group. A text in no group's component starts a group.
 * So k near-copies cost about k verifications and k look-ups; k texts
 * that match nothing still cost every pair (each is a verification).
 *
 * Texts that match little. A key of k texts of which few match (variants
 * of one template, each a few words of its own, that share a band by
 * chance) still costs every pair. So once a key has made
 * more than about four verifications a text, the rest of it goes through
 * an exact prefix filter built over its texts (prefix_filter.c, both
 * ways): q is verified only against the members the filter marks for it,
 * which include every member that matches q. Whether q joins a group is
 * decided as before: a group's member it matches is never skipped. 16k
 * variants of a 100-word text with five words of their own each: 0.26 s
 * and 24 MB with this filter and the cache of rejected pairs (pairset.c),
 * 0.89 s and 120 MB before. With three words of their own the filter
 * rules out few pairs (the first id two variants share comes early in
 * both), and the pairs LSH proposes are verified: 5 s.
 *
 * Same components as every pair: a pair is left out only when its texts
 * are in one component already, and then verifying it could join nothing,
 * or when the filter says it cannot match.
 * The components are those of the graph of matching candidate pairs
 * whatever the order, so the clusters do not change; which pairs get
 * verified (the stats' counts) may.
 */
#include "keygroups.h"

#include <assert.h> /* assert */

#include "alloc.h"
#include "neardup.h" /* ND_OK, ND_ENOMEM */
#include "prefix_filter.h"

#define NO_MEMBER UINT32_MAX /* no next member */

/* Room for n positions (and groups). 0 or -1. */
static int reserve(nd_key_groups *g, size_t n)
{
    if (n <= g->capacity)
        return 0;
    size_t want = n > 2 * g->capacity ? n : 2 * g->capacity;
    uint32_t *next = nd_realloc(g->next, want * sizeof *next);
    if (!next)
        return -1;
    g->next = next;
    uint32_t *head = nd_realloc(g->head, want * sizeof *head);
    if (!head)
        return -1;
    g->head = head;
    uint32_t *tail = nd_realloc(g->tail, want * sizeof *tail);
    if (!tail)
        return -1;
    g->tail = tail;
    g->capacity = want;
    return 0;
}

typedef struct key_texts {
    const nd_key_source *source;
    const uint32_t *texts;
} key_texts;

/* nd_member_ids_fn over a key's texts, by position. */
static const uint32_t *text_ids(void *ctx, size_t member, size_t *count)
{
    const key_texts *k = ctx;
    return k->source->ids(k->source->ctx, k->texts[member], count);
}

/* Verification calls a key makes before it turns to the prefix filter:
 * near-copies cost about one a text, so more means texts that match
 * little (building the filter costs about what a few verifications a text
 * do). */
static size_t filter_after(size_t n)
{
    return 4 * n + 1024;
}

int nd_key_groups_verify(nd_key_groups *g, nd_uf *uf, const uint32_t *texts, size_t n, nd_verify_pair_fn verify,
                         void *ctx, const nd_key_source *source)
{
    if (n < 2)
        return ND_OK;
    if (n > NO_MEMBER || reserve(g, n) != 0)
        return ND_ENOMEM;
    size_t groups = 0, calls = 0;
    nd_prefix_filter filter;
    int filtered = 0, rc = ND_OK;
    for (size_t q = 0; q < n && rc == ND_OK; q++) {
        size_t b = texts[q];
        size_t joined = SIZE_MAX; /* the group q went to */
        if (!filtered && source && calls > filter_after(n)) {
            key_texts k = {source, texts};
            rc = nd_prefix_filter_build(&filter, source->threshold, n, text_ids, &k, 1);
            if (rc != ND_OK && rc != ND_EINVAL)
                break;
            filtered = rc == ND_OK;
            source = NULL; /* built, or no filter is exact: not tried again */
            rc = ND_OK;
        }
        if (filtered)
            nd_prefix_filter_mark(&filter, q);
        for (size_t k = 0; k < groups && rc == ND_OK; k++) {
            int same = nd_uf_find(uf, texts[g->head[k]]) == nd_uf_find(uf, b);
            for (uint32_t p = g->head[k]; !same && p != NO_MEMBER; p = g->next[p]) {
                assert(texts[p] < b);
                if (filtered && !nd_prefix_filter_marked(&filter, p))
                    continue; /* cannot match q */
                calls++;
                rc = verify(ctx, texts[p], b);
                if (rc < 0)
                    break;
                same = rc;
            }
            if (rc < 0)
                break;
            rc = ND_OK;
            if (!same)
                continue;
            if (joined == SIZE_MAX) { /* q joins group k */
                g->next[q] = NO_MEMBER;
                g->next[g->tail[k]] = (uint32_t)q;
                g->tail[k] = (uint32_t)q;
                joined = k;
            } else { /* group k is q's component now: one group */
                g->next[g->tail[joined]] = g->head[k];
                g->tail[joined] = g->tail[k];
                g->head[k] = NO_MEMBER; /* dropped below */
            }
        }
        if (joined == SIZE_MAX) {
            g->next[q] = NO_MEMBER;
            g->head[groups] = g->tail[groups] = (uint32_t)q;
            groups++;
            continue;
        }
        size_t kept = 0; /* the groups merged away go; the others keep their order */
        for (size_t k = 0; k < groups; k++) {
            if (g->head[k] == NO_MEMBER)
                continue;
            g->head[kept] = g->head[k];
            g->tail[kept] = g->tail[k];
            kept++;
        }
        groups = kept;
    }
    if (filtered)
        nd_prefix_filter_free(&filter);
    return rc;
}

void nd_key_groups_release(nd_key_groups *g)
{
    nd_free(g->next);
    nd_free(g->head);
    nd_free(g->tail);
    *g = (nd_key_groups){NULL, NULL, NULL, 0};
}
