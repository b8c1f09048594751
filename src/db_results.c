/* db_results.c - the results handle of an index query (nd_db_results):
 * how many queries, each query's matches, and freeing it. db_query.c
 * builds it (assemble); callers only read it through these functions.
 */
#include "db_internal.h"

#include <assert.h> /* assert (preconditions, debug builds) */

#include "alloc.h"

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
