/* uf.c - union-find; see uf.h. */
#include "uf.h"

#include "alloc.h"
#include "neardup.h"

int nd_uf_init(nd_uf *uf, size_t n)
{
    uf->n = n;
    uf->parent = nd_malloc((n ? n : 1) * sizeof *uf->parent);
    uf->size = nd_malloc((n ? n : 1) * sizeof *uf->size);
    if (!uf->parent || !uf->size) {
        nd_uf_release(uf);
        return ND_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        uf->parent[i] = i;
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
        uf->parent[x] = nd_uf_find(uf, x);
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
    uf->parent[rb] = ra;
    uf->size[ra] += uf->size[rb];
    return 1;
}
