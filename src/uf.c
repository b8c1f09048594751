/* uf.c - union-find; see uf.h. */
#include "uf.h"

#include "alloc.h"
#include "neardup.h"

/* nd_uf_sets: a root of a single element, in place of a position (which
 * stays below n <= ND_UF_MAX until its set's last element is placed) */
#define SINGLE (ND_UF_ROOT | ND_UF_MAX)

int nd_uf_init(nd_uf *uf, size_t n)
{
    uf->n = 0;
    uf->link = NULL;
    if (n > ND_UF_MAX)
        return ND_EINVAL;
    uf->link = nd_malloc_huge((n ? n : 1) * sizeof *uf->link); /* touched whole: huge pages (alloc.h) */
    if (!uf->link)
        return ND_ENOMEM;
    uf->n = n;
    for (size_t i = 0; i < n; i++)
        uf->link[i] = ND_UF_ROOT | 1u;
    return ND_OK;
}

void nd_uf_release(nd_uf *uf)
{
    nd_free(uf->link);
    uf->link = NULL;
    uf->n = 0;
}

size_t nd_uf_find(nd_uf *uf, size_t x)
{
    uint32_t *link = uf->link;
    while (!(link[x] & ND_UF_ROOT)) {
        uint32_t p = link[x];
        if (link[p] & ND_UF_ROOT)
            return p;
        link[x] = link[p]; /* path halving: x skips to its grandparent */
        x = link[x];
    }
    return x;
}

void nd_uf_flatten(nd_uf *uf)
{
    /* in index order: a root found for x stays the root, and x's parent
     * set to it keeps every later search as short */
    for (size_t x = 0; x < uf->n; x++) {
        if (!(uf->link[x] & ND_UF_ROOT))
            uf->link[x] = (uint32_t)nd_uf_find(uf, x);
    }
}

int nd_uf_union(nd_uf *uf, size_t a, size_t b)
{
    size_t ra = nd_uf_find(uf, a);
    size_t rb = nd_uf_find(uf, b);
    if (ra == rb)
        return 0;
    if (nd_uf_size(uf, ra) < nd_uf_size(uf, rb)) {
        size_t t = ra;
        ra = rb;
        rb = t;
    }
    uf->link[ra] += uf->link[rb] & ~ND_UF_ROOT; /* sizes sum to <= n: the root bit stays */
    uf->link[rb] = (uint32_t)ra;
    return 1;
}

int nd_uf_sets(nd_uf *uf, size_t **members, size_t *member_count, size_t **bounds, size_t *count)
{
    size_t n = uf->n, sets = 0, total = 0;
    nd_uf_flatten(uf);
    uint32_t *link = uf->link;
    for (size_t r = 0; r < n; r++) {
        if (link[r] & ND_UF_ROOT && nd_uf_size(uf, r) >= 2) {
            sets++;
            total += nd_uf_size(uf, r);
        }
    }
    *members = nd_malloc_huge((total ? total : 1) * sizeof **members); /* filled whole (alloc.h) */
    *bounds = nd_malloc((sets ? sets : 1) * 2 * sizeof **bounds);
    if (!*members || !*bounds) {
        nd_free(*members);
        nd_free(*bounds);
        *members = *bounds = NULL;
        return ND_ENOMEM;
    }
    /* a root's size becomes where its next element goes (SINGLE: a single
     * element); the positions stay below total <= n <= ND_UF_MAX */
    size_t at = 0, s = 0;
    for (size_t r = 0; r < n; r++) {
        if (!(link[r] & ND_UF_ROOT))
            continue;
        size_t size = nd_uf_size(uf, r);
        if (size < 2) {
            link[r] = SINGLE;
            continue;
        }
        (*bounds)[2 * s] = at;
        (*bounds)[2 * s + 1] = at + size;
        link[r] = ND_UF_ROOT | (uint32_t)at;
        at += size;
        s++;
    }
    for (size_t d = 0; d < n; d++) {
        size_t r = nd_uf_root(uf, d);
        if (link[r] != SINGLE)
            (*members)[link[r]++ & ~ND_UF_ROOT] = d;
    }
    *member_count = total;
    *count = sets;
    return ND_OK;
}
