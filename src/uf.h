/* uf.h - union-find (disjoint sets) over 0..n-1, with path halving and
 * union by size: near-constant amortized time per operation (inverse
 * Ackermann, Tarjan 1975). Internal to the library; tested directly.
 *
 * One 32-bit word an element: a non-root holds its parent, a root holds
 * ND_UF_ROOT plus the size of its set. 4 bytes an element instead of the
 * 8 of separate parent and size arrays (or 16 with size_t): fresh memory
 * that a paragraph mode's millions of units would otherwise touch, and one
 * cache line a look-up instead of two. Hence at most ND_UF_MAX elements. */
#ifndef ND_UF_H
#define ND_UF_H

#include <stddef.h> /* size_t */
#include <stdint.h> /* uint32_t */

#define ND_UF_ROOT 0x80000000u
#define ND_UF_MAX 0x7fffffffu /* elements: a set's size fits beside the root bit */

typedef struct nd_uf {
    uint32_t *link; /* a parent, or ND_UF_ROOT | the root's set size */
    size_t n;
} nd_uf;

/* Returns ND_OK, ND_ENOMEM, or ND_EINVAL when n > ND_UF_MAX. */
int nd_uf_init(nd_uf *uf, size_t n);
void nd_uf_release(nd_uf *uf);
size_t nd_uf_find(nd_uf *uf, size_t x);
/* Joins the sets of a and b; returns 1 if they were apart, 0 if already joined. */
int nd_uf_union(nd_uf *uf, size_t a, size_t b);
/* The size of the set whose root is r. */
static inline size_t nd_uf_size(const nd_uf *uf, size_t r)
{
    return uf->link[r] & ~ND_UF_ROOT;
}
/* Point every element straight at its root (a valid state: full path
 * compression), so that nd_uf_root() reads an element's root without a
 * search, until the next union. */
void nd_uf_flatten(nd_uf *uf);
/* x's root, after nd_uf_flatten() and before any union. */
static inline size_t nd_uf_root(const nd_uf *uf, size_t x)
{
    uint32_t e = uf->link[x];
    return e & ND_UF_ROOT ? x : e;
}

/* The sets of two or more elements, once all unions are done: set i is
 * (*members)[bounds[2i], bounds[2i + 1]), its elements in increasing order,
 * the sets in the order of their roots; *member_count elements in all, *count
 * sets. Only the elements of such sets take room (a run of mostly single
 * texts needs little), and the union-find's own words are the counters:
 * after this call it can only be released. *members and *bounds are freed
 * with nd_free (never NULL on success). Returns ND_OK or ND_ENOMEM. */
int nd_uf_sets(nd_uf *uf, size_t **members, size_t *member_count, size_t **bounds, size_t *count);

#endif /* ND_UF_H */
