/* pairs_expand.c - step 4 of pair listing (pairs.c): copies expanded. A
 * verified pair of representatives gives every pair of their copies (the
 * same sets, so the same numbers), and k copies of one set give their
 * k (k - 1) / 2 pairs at Jaccard 1.
 *
 * The expanded list is as large as the answer: 3,000 copies of one text
 * give 4.5M pairs, and holding them took 277 MB (60 bytes a pair, with the
 * sort) where the program writes them out one by one. So nd_pairs keeps
 * what they are made of instead: the verified pairs of representatives
 * (each as a link from both of its ends) and the texts of each set, in
 * arrays of (texts + 1) and (2 x pairs found). nd_pairs_next() gathers
 * the partners of one text a at a time (the later texts of a's own set,
 * and the later texts of each set a's set has a link to), sorts them
 * (when they are not sorted already) and hands them out: memory at any
 * time follows the texts, the pairs found between distinct sets and the
 * partners of one text, not the pairs listed.
 *
 * nd_pairs_get() makes the whole array on its first call, for callers
 * that want it: the old memory, by request.
 */
#include "pairs_expand.h"

#include <stdlib.h> /* qsort */

#include "alloc.h"
#include "measure.h"

typedef struct {
    uint32_t other;  /* the representative at the other end */
    uint32_t shared; /* shingles the two sets share */
} pair_link;

typedef struct {
    uint32_t b;      /* a later text that the current text pairs with */
    uint32_t shared; /* shingles they share */
} partner;

struct nd_pairs {
    size_t texts;        /* texts 0 .. texts - 1 */
    size_t total;        /* pairs in all */
    uint32_t *set_of;    /* per text: the first text with its set */
    uint32_t *size;      /* per text: shingles (0: no pair) */
    uint32_t *set_start; /* texts + 2: set r's texts are members[set_start[r] .. set_start[r + 1]) */
    uint32_t *members;   /* the texts with shingles, set by set, ascending within one */
    size_t *link_start;  /* texts + 2: set r's links are links[link_start[r] .. link_start[r + 1]) */
    pair_link *links;    /* each verified pair twice, once from each end */
    partner *partners;   /* the cursor's text's partners, room for max_partners */
    size_t max_partners; /* the most partners of one text */
    size_t next_text;    /* the cursor: the next text to gather */
    size_t current;      /* the text whose partners are gathered */
    size_t at, len;      /* partners[at .. len) are still to hand out */
    nd_pair *items;      /* nd_pairs_get()'s array, made at its first call */
};

void nd_pairs_free(nd_pairs *pairs)
{
    if (!pairs)
        return;
    nd_free(pairs->set_of);
    nd_free(pairs->size);
    nd_free(pairs->set_start);
    nd_free(pairs->members);
    nd_free(pairs->link_start);
    nd_free(pairs->links);
    nd_free(pairs->partners);
    nd_free(pairs->items);
    nd_free(pairs);
}

/* Count per set into start[r + 2] first; then start[r + 1] is where set
 * r's entries go next (each fill moves it on), and after the fill
 * start[r] .. start[r + 1] spans them. */
static void sum_counts(size_t *start, size_t n)
{
    for (size_t r = 0; r < n; r++)
        start[r + 2] += start[r + 1];
}

static void sum_counts32(uint32_t *start, size_t n)
{
    for (size_t r = 0; r < n; r++)
        start[r + 2] += start[r + 1];
}

static size_t set_texts(const nd_pairs *p, size_t r)
{
    return p->set_start[r + 1] - p->set_start[r];
}

/* The sets' texts, the links, and from them the number of pairs and the
 * most partners of one text (the first text of a set has the most of
 * its set). */
static int fill(nd_pairs *p, const nd_text_meta *meta, const nd_found_pair *found, size_t found_count)
{
    size_t n = p->texts;
    p->size = nd_malloc((n ? n : 1) * sizeof *p->size);
    p->set_start = nd_calloc(n + 2, sizeof *p->set_start);
    p->members = nd_malloc((n ? n : 1) * sizeof *p->members);
    p->link_start = nd_calloc(n + 2, sizeof *p->link_start);
    p->links = nd_malloc((found_count ? 2 * found_count : 1) * sizeof *p->links);
    if (!p->size || !p->set_start || !p->members || !p->link_start || !p->links)
        return ND_ENOMEM;
    for (size_t d = 0; d < n; d++) {
        p->size[d] = meta[d].count;
        if (meta[d].count > 0)
            p->set_start[p->set_of[d] + 2]++;
    }
    sum_counts32(p->set_start, n);
    for (size_t d = 0; d < n; d++) {
        if (meta[d].count > 0)
            p->members[p->set_start[p->set_of[d] + 1]++] = (uint32_t)d;
    }
    for (size_t i = 0; i < found_count; i++) {
        p->link_start[found[i].a + 2]++;
        p->link_start[found[i].b + 2]++;
    }
    sum_counts(p->link_start, n);
    for (size_t i = 0; i < found_count; i++) {
        const nd_found_pair *f = &found[i];
        p->links[p->link_start[f->a + 1]++] = (pair_link){f->b, (uint32_t)f->shared};
        p->links[p->link_start[f->b + 1]++] = (pair_link){f->a, (uint32_t)f->shared};
    }
    p->total = 0;
    for (size_t i = 0; i < found_count; i++)
        p->total += set_texts(p, found[i].a) * set_texts(p, found[i].b);
    p->max_partners = 0;
    for (size_t r = 0; r < n; r++) {
        size_t k = set_texts(p, r);
        if (k == 0)
            continue;
        p->total += k * (k - 1) / 2;
        size_t most = k - 1;
        for (size_t l = p->link_start[r]; l < p->link_start[r + 1]; l++)
            most += set_texts(p, p->links[l].other);
        if (most > p->max_partners)
            p->max_partners = most;
    }
    p->partners = nd_malloc((p->max_partners ? p->max_partners : 1) * sizeof *p->partners);
    return p->partners ? ND_OK : ND_ENOMEM;
}

int nd_pairs_make(nd_pairs **out, const nd_store *store, uint32_t *set_of, const nd_found_pair *found,
                  size_t found_count)
{
    nd_pairs *p = nd_calloc(1, sizeof *p);
    if (!p)
        return ND_ENOMEM;
    p->texts = store->count;
    p->set_of = set_of;
    if (fill(p, store->meta, found, found_count) != ND_OK) {
        p->set_of = NULL; /* still the caller's */
        nd_pairs_free(p);
        return ND_ENOMEM;
    }
    *out = p;
    return ND_OK;
}

/* Append to out[len ..] the texts of set r that come after text a, each
 * sharing `shared` shingles with it; returns the new length. */
static size_t add_later(const nd_pairs *p, size_t r, size_t a, uint32_t shared, partner *out, size_t len)
{
    size_t lo = p->set_start[r], hi = p->set_start[r + 1];
    while (lo < hi) { /* the first member past a */
        size_t mid = lo + (hi - lo) / 2;
        if (p->members[mid] <= a)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (size_t m = lo; m < p->set_start[r + 1]; m++)
        out[len++] = (partner){p->members[m], shared};
    return len;
}

static int compare_partners(const void *x, const void *y)
{
    uint32_t bx = ((const partner *)x)->b, by = ((const partner *)y)->b;
    return (bx > by) - (bx < by);
}

/* Text a's partners (the texts b > a it pairs with) into out, by b;
 * returns how many (at most max_partners). */
static size_t gather(const nd_pairs *p, size_t a, partner *out)
{
    if (p->size[a] == 0)
        return 0;
    size_t r = p->set_of[a];
    size_t len = add_later(p, r, a, p->size[r], out, 0);
    for (size_t l = p->link_start[r]; l < p->link_start[r + 1]; l++)
        len = add_later(p, p->links[l].other, a, p->links[l].shared, out, len);
    for (size_t i = 1; i < len; i++) {
        if (out[i - 1].b > out[i].b) {
            qsort(out, len, sizeof *out, compare_partners);
            break;
        }
    }
    return len;
}

static nd_pair make_pair(const nd_pairs *p, size_t a, partner q)
{
    size_t na = p->size[a], nb = p->size[q.b];
    return (nd_pair){a,
                     q.b,
                     q.shared,
                     nd_jaccard_counts(na, nb, q.shared),
                     nd_containment_counts(na, q.shared),
                     nd_containment_counts(nb, q.shared)};
}

size_t nd_pairs_count(const nd_pairs *pairs)
{
    return pairs->total;
}

int nd_pairs_next(nd_pairs *pairs, nd_pair *out)
{
    while (pairs->at == pairs->len) {
        if (pairs->next_text >= pairs->texts)
            return 0;
        pairs->current = pairs->next_text++;
        pairs->len = gather(pairs, pairs->current, pairs->partners);
        pairs->at = 0;
    }
    *out = make_pair(pairs, pairs->current, pairs->partners[pairs->at++]);
    return 1;
}

size_t nd_pairs_get(const nd_pair **pairs, nd_pairs *p)
{
    if (!p->items && p->total > 0) {
        nd_pair *items = nd_malloc(p->total * sizeof *items);
        partner *partners = nd_malloc((p->max_partners ? p->max_partners : 1) * sizeof *partners);
        if (items && partners) {
            size_t w = 0;
            for (size_t a = 0; a < p->texts; a++) {
                size_t len = gather(p, a, partners);
                for (size_t i = 0; i < len; i++)
                    items[w++] = make_pair(p, a, partners[i]);
            }
            p->items = items;
            items = NULL;
        }
        nd_free(items);
        nd_free(partners);
    }
    *pairs = p->items;
    return p->items ? p->total : 0;
}
