/* uf.c - union-find; see uf.h. */
#include "uf.h"

#include "alloc.h"
#include "neardup.h"

int nd_uf_init(nd_uf *uf, size_t n)
{
    uf->n = 0;
    uf->parent = uf->size = NULL;
    if (n > UINT32_MAX)
        return ND_EINVAL;
    uf->n = n;
    uf->parent = nd_malloc((n ? n : 1) * sizeof *uf->parent);
    uf->size = nd_malloc((n ? n : 1) * sizeof *uf->size);
    if (!uf->parent || !uf->size) {
        nd_uf_release(uf);
        return ND_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        uf->parent[i] = (uint32_t)i;
        uf->size[i] = 1;
    }
    return ND_OK;
}

void nd_uf_release(nd_uf *uf)
{
    nd_free(uf->parent);
    nd_free(uf->size);
    uf->parent = uf->size = NULL;
    uf->n = 0;
}

size_t nd_uf_find(nd_uf *uf, size_t x)
{
    while (uf->parent[x] != x) {
        uf->parent[x] = uf->parent[uf->parent[x]];
        x = uf->parent[x];
    }
    return x;
}

void nd_uf_flatten(nd_uf *uf)
{
    /* in index order: a root found for x stays the root, and x's parent
     * set to it keeps every later search as short */
    for (size_t x = 0; x < uf->n; x++)
        uf->parent[x] = (uint32_t)nd_uf_find(uf, x);
}

int nd_uf_union(nd_uf *uf, size_t a, size_t b)
{
    size_t ra = nd_uf_find(uf, a);
    size_t rb = nd_uf_find(uf, b);
    if (ra == rb)
        return 0;
    if (uf->size[ra] < uf->size[rb]) {
        size_t t = ra;
        ra = rb;
        rb = t;
    }
    uf->parent[rb] = (uint32_t)ra;
    uf->size[ra] += uf->size[rb];
    return 1;
}

int nd_uf_sets(nd_uf *uf, size_t **members, size_t *member_count, size_t **bounds, size_t *count)
{
    size_t n = uf->n, sets = 0, total = 0;
    nd_uf_flatten(uf);
    for (size_t r = 0; r < n; r++) {
        if (uf->parent[r] == r && uf->size[r] >= 2) {
            sets++;
            total += uf->size[r];
        }
    }
    *members = nd_malloc((total ? total : 1) * sizeof **members);
    *bounds = nd_malloc((sets ? sets : 1) * 2 * sizeof **bounds);
    if (!*members || !*bounds) {
        nd_free(*members);
        nd_free(*bounds);
        *members = *bounds = NULL;
        return ND_ENOMEM;
    }
    /* a root's size becomes where its next element goes (UINT32_MAX: a
     * single element); the positions stay below total <= n <= UINT32_MAX */
    size_t at = 0, s = 0;
    for (size_t r = 0; r < n; r++) {
        if (uf->parent[r] != r)
            continue;
        if (uf->size[r] < 2) {
            uf->size[r] = UINT32_MAX;
            continue;
        }
        (*bounds)[2 * s] = at;
        (*bounds)[2 * s + 1] = at + uf->size[r];
        at += uf->size[r];
        uf->size[r] = (uint32_t)(*bounds)[2 * s];
        s++;
    }
    for (size_t d = 0; d < n; d++) {
        uint32_t r = uf->parent[d];
        if (uf->size[r] != UINT32_MAX)
            (*members)[uf->size[r]++] = d;
    }
    *member_count = total;
    *count = sets;
    return ND_OK;
}
