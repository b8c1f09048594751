/* sameclusters.h - the check several suites make after clustering one
 * corpus two ways (in memory and spilled, raw and sorted, ids kept and
 * dropped then refilled): the same clusters, in the same order, with the
 * same members and the same measured similarities. */
#ifndef ND_TEST_SAMECLUSTERS_H
#define ND_TEST_SAMECLUSTERS_H

#include <check.h>

#include "neardup.h"

static inline void ck_same_clusters(const nd_clusters *a, const nd_clusters *b)
{
    ck_assert_uint_eq(nd_clusters_count(a), nd_clusters_count(b));
    for (size_t c = 0; c < nd_clusters_count(a); c++) {
        const nd_member *ma, *mb;
        size_t na = nd_clusters_get(&ma, a, c), nb = nd_clusters_get(&mb, b, c);
        ck_assert_uint_eq(na, nb);
        for (size_t k = 0; k < na; k++) {
            ck_assert_uint_eq(ma[k].doc, mb[k].doc);
            ck_assert(ma[k].jaccard == mb[k].jaccard && ma[k].containment == mb[k].containment);
        }
    }
}

#endif
