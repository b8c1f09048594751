/* measure.c - the match rule of measure.h as a public call
 * (nd_sets_match), so that a caller such as `neardup explain` judges a
 * pair exactly as clustering does. */
#include "measure.h"

int nd_sets_match(const nd_options *opts, size_t na, size_t nb, size_t shared)
{
    return na > 0 && nb > 0 && nd_matches(opts, na, nb, shared);
}
