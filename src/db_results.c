/* db_results.c - the results of an index query: the matches each thread
 * of db_query.c verifies (db_hit_list), cut after each of its passes to
 * each query's best (nd_db_hits_keep_best), put together per query, best
 * first (nd_db_results_assemble), into the handle (nd_db_results) callers
 * read through the functions at the end: how many queries, each query's
 * matches, and freeing it.
 *
 * "Best" is one total order: the larger containment (0 for both in a
 * Jaccard index), then the larger Jaccard, then the earlier document; a
 * query's matches are found once each (db_query.c), so no two of them tie.
 * So the best `top` of a query's matches are the best `top` of the best
 * `top` of each part of them, in whatever parts they come: a pass can cut
 * its hits as soon as it has verified them, and the answer is the one a
 * single cut of all of them gives.
 */
#include "db_internal.h"

#include <assert.h> /* assert (preconditions, debug builds) */
#include <stdlib.h> /* qsort */
#include <string.h> /* memcpy */

#include "alloc.h"

/* ****  Hits: verified matches as they are found  **** */

int nd_db_hit_push(db_hit_list *l, const db_hit *h, const char *id)
{
    if (nd_grow((void **)&l->items, &l->capacity, l->count + 1, sizeof *l->items) != 0 ||
        nd_grow((void **)&l->text, &l->text_capacity, l->text_len + h->id_len + 1, 1) != 0)
        return ND_ENOMEM;
    db_hit *dst = &l->items[l->count++];
    *dst = *h;
    dst->id_offset = l->text_len;
    if (h->id_len)
        memcpy(l->text + l->text_len, id, h->id_len);
    l->text_len += h->id_len;
    return ND_OK;
}

static int compare_hit_query(const void *pa, const void *pb)
{
    const db_hit *a = pa, *b = pb;
    if (a->query != b->query)
        return a->query < b->query ? -1 : 1;
    return (a->doc > b->doc) - (a->doc < b->doc);
}

void nd_db_hits_by_query(db_hit_list *l)
{
    if (l->count > 1)
        qsort(l->items, l->count, sizeof *l->items, compare_hit_query);
}

void nd_db_hit_list_free(db_hit_list *l)
{
    nd_free(l->items);
    nd_free(l->text);
    *l = (db_hit_list){NULL, 0, 0, NULL, 0, 0};
}

/* ****  Results  **** */

typedef struct {
    const db_hit *h;
    const char *text; /* the list's text */
} hit_ref;

/* By the larger containment (0 for both in a Jaccard index), then Jaccard. */
static int compare_hit_ref(const void *pa, const void *pb)
{
    const db_hit *a = ((const hit_ref *)pa)->h, *b = ((const hit_ref *)pb)->h;
    double ca = a->rank, cb = b->rank;
    if (ca != cb)
        return ca > cb ? -1 : 1;
    if (a->jaccard != b->jaccard)
        return a->jaccard > b->jaccard ? -1 : 1;
    return (a->doc > b->doc) - (a->doc < b->doc);
}

/* Query q's hits in the lists (each by query; at[l] where list l's hits of
 * q begin, moved past them) into refs, best first; returns how many of them
 * to take: at most top (0: all). */
static size_t best_of_query(hit_ref *refs, const db_hit_list *const *lists, size_t list_count, size_t *at, size_t q,
                            size_t top)
{
    size_t n = 0;
    for (size_t l = 0; l < list_count; l++) {
        const db_hit_list *hl = lists[l];
        while (at[l] < hl->count && hl->items[at[l]].query == q)
            refs[n++] = (hit_ref){&hl->items[at[l]++], hl->text};
    }
    qsort(refs, n, sizeof *refs, compare_hit_ref);
    return top && n > top ? top : n;
}

static size_t hits_in(const db_hit_list *const *lists, size_t list_count)
{
    size_t total = 0;
    for (size_t l = 0; l < list_count; l++)
        total += lists[l]->count;
    return total;
}

int nd_db_hits_keep_best(db_hit_list *out, const db_hit_list *const *lists, size_t list_count, size_t begin, size_t end,
                         size_t top)
{
    size_t total = hits_in(lists, list_count);
    size_t *at = nd_calloc(list_count ? list_count : 1, sizeof *at);
    hit_ref *refs = nd_malloc((total ? total : 1) * sizeof *refs);
    int rc = at && refs ? ND_OK : ND_ENOMEM;
    for (size_t q = begin; q < end && rc == ND_OK; q++) {
        size_t n = best_of_query(refs, lists, list_count, at, q, top);
        for (size_t k = 0; k < n && rc == ND_OK; k++)
            rc = nd_db_hit_push(out, refs[k].h, refs[k].text + refs[k].h->id_offset);
    }
    nd_free(at);
    nd_free(refs);
    return rc;
}

int nd_db_results_assemble(nd_db_results **out, const db_hit_list *const *lists, size_t list_count, size_t count,
                           size_t top)
{
    size_t total = hits_in(lists, list_count), text = 0;
    for (size_t l = 0; l < list_count; l++)
        text += lists[l]->text_len;
    nd_db_results *r = nd_calloc(1, sizeof *r);
    size_t *at = nd_calloc(list_count ? list_count : 1, sizeof *at);
    hit_ref *refs = nd_malloc((total ? total : 1) * sizeof *refs);
    if (r) {
        r->count = count;
        r->starts = nd_calloc(count + 1, sizeof *r->starts);
        r->matches = nd_malloc((total ? total : 1) * sizeof *r->matches);
        r->text = nd_malloc(text ? text : 1);
    }
    if (!r || !at || !refs || !r->starts || !r->matches || !r->text) {
        nd_db_results_free(r);
        nd_free(at);
        nd_free(refs);
        return ND_ENOMEM;
    }
    size_t m = 0, text_len = 0;
    for (size_t q = 0; q < count; q++) {
        size_t n = best_of_query(refs, lists, list_count, at, q, top);
        r->starts[q] = m;
        for (size_t k = 0; k < n; k++) {
            const db_hit *h = refs[k].h;
            memcpy(r->text + text_len, refs[k].text + h->id_offset, h->id_len);
            r->matches[m++] = (nd_db_match){r->text + text_len, h->id_len,         h->jaccard,       h->weight,
                                            h->pending,         h->query_in_match, h->match_in_query};
            text_len += h->id_len;
        }
    }
    r->starts[count] = m;
    nd_free(at);
    nd_free(refs);
    *out = r;
    return ND_OK;
}

/* ****  The handle  **** */

size_t nd_db_results_count(const nd_db_results *r)
{
    return r->count;
}

size_t nd_db_results_get(const nd_db_match **matches, const nd_db_results *r, size_t i)
{
    assert(i < r->count);
    *matches = r->matches + r->starts[i];
    return r->starts[i + 1] - r->starts[i];
}

void nd_db_results_free(nd_db_results *r)
{
    if (!r)
        return;
    nd_free(r->starts);
    nd_free(r->matches);
    nd_free(r->text);
    nd_free(r);
}
