/* measure.h - when two shingle sets match, from their sizes and their
 * overlap (nd_ids_shared): the one rule that clustering (cluster.c,
 * split.c, the MPI engine), pair listing (pairs.c) and containment
 * candidates (contain.c) share. Internal to the library.
 *
 * For a survivor S and a member M (set sizes s and m, overlap x):
 *   Jaccard      J = x / (s + m - x)
 *   containment  C(M in S) = x / m
 * M is covered by S when J >= t, or, under ND_MEASURE_CONTAINMENT, when
 * m >= min_shingles and C(M in S) >= t. Two texts match when either covers
 * the other. Since J <= x / max(s, m) <= C, every match needs
 * x >= t * min(s, m): the overlap bound containment candidates use
 * (nd_min_overlap).
 *
 * Scores are compared with a tolerance of 1e-12, so that a pair whose
 * exact score is the threshold (9/10 against 0.9) is never lost to
 * rounding.
 */
#ifndef ND_MEASURE_H
#define ND_MEASURE_H

#include <stddef.h> /* size_t */
#include <stdint.h> /* uint32_t */
#include <string.h> /* memcmp */

#include "neardup.h"

static inline int nd_reaches(double score, double threshold)
{
    return score >= threshold - 1e-12;
}

/* Exact Jaccard from the sizes and overlap; 0 when both sets are empty. */
static inline double nd_jaccard_counts(size_t na, size_t nb, size_t shared)
{
    size_t union_size = na + nb - shared;
    return union_size ? (double)shared / (double)union_size : 0.0;
}

/* Share of a set of n shingles that is in the other set; 0 for n = 0. */
static inline double nd_containment_counts(size_t n, size_t shared)
{
    return n ? (double)shared / (double)n : 0.0;
}

/* Is a member of `member` shingles covered by a survivor of `survivor`
 * shingles, `shared` of them common? */
static inline int nd_covers(const nd_options *o, size_t survivor, size_t member, size_t shared)
{
    if (nd_reaches(nd_jaccard_counts(survivor, member, shared), o->threshold))
        return 1;
    return o->measure == ND_MEASURE_CONTAINMENT && member >= o->min_shingles &&
           nd_reaches(nd_containment_counts(member, shared), o->threshold);
}

/* The overlap of two texts' sets (all of it when they are the same set). */
static inline size_t nd_ids_shared(const uint32_t *a, size_t na, const uint32_t *b, size_t nb)
{
    if (na == nb && (na == 0 || memcmp(a, b, na * sizeof *a) == 0))
        return na;
    return nd_intersection(a, na, b, nb);
}

/* Do two texts match: does either cover the other? */
static inline int nd_matches(const nd_options *o, size_t na, size_t nb, size_t shared)
{
    return nd_covers(o, na, nb, shared) || nd_covers(o, nb, na, shared);
}

/* The fewest shared shingles x with x / n reaching the threshold: no text
 * of n shingles matches a text at least as large with a smaller overlap.
 * At least 1. */
static inline size_t nd_min_overlap(size_t n, double threshold)
{
    size_t x = (size_t)(threshold * (double)n);
    while (x > 1 && nd_reaches((double)(x - 1) / (double)n, threshold))
        x--;
    while (x < n && !nd_reaches((double)x / (double)n, threshold))
        x++;
    return x ? x : 1;
}

#endif /* ND_MEASURE_H */
