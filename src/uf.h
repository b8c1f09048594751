/* uf.h - union-find (disjoint sets) over 0..n-1, with path halving and
 * union by size: near-constant amortized time per operation (inverse
 * Ackermann, Tarjan 1975). Internal to the library; tested directly. */
#ifndef ND_UF_H
#define ND_UF_H

#include <stddef.h> /* size_t */

typedef struct nd_uf {
    size_t *parent;
    size_t *size;
    size_t n;
} nd_uf;

/* Returns ND_OK or ND_ENOMEM. */
int nd_uf_init(nd_uf *uf, size_t n);
void nd_uf_release(nd_uf *uf);
size_t nd_uf_find(nd_uf *uf, size_t x);
/* Joins the sets of a and b; returns 1 if they were apart, 0 if already joined. */
int nd_uf_union(nd_uf *uf, size_t a, size_t b);
/* Point every element straight at its root (a valid state: full path
 * compression), so that nd_uf_root() reads an element's root without a
 * search, until the next union. */
void nd_uf_flatten(nd_uf *uf);
/* x's root, after nd_uf_flatten() and before any union. */
static inline size_t nd_uf_root(const nd_uf *uf, size_t x)
{
    return uf->parent[x];
}

#endif /* ND_UF_H */
