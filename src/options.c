/* options.c - checking an option set and filling in its LSH banding
 * (nd_options_resolve). */
#include "neardup.h"

#include <stdint.h> /* uint64_t */

int nd_options_resolve(nd_options *opts)
{
    if (!opts || opts->num_perm == 0 || opts->num_perm > 4096)
        return ND_EINVAL;
    if (!(opts->threshold > 0.0 && opts->threshold <= 1.0))
        return ND_EINVAL;
    if (opts->shingle_size == 0 || opts->shingle_size > 64 || opts->char_size == 0 || opts->char_size > 64)
        return ND_EINVAL;
    if ((unsigned)opts->shingle_kind > ND_SHINGLE_AUTO || nd_profile_name(opts->profile) == NULL)
        return ND_EINVAL;
    if ((unsigned)opts->measure > ND_MEASURE_CONTAINMENT || opts->min_shingles == 0)
        return ND_EINVAL;
    if ((opts->bands == 0) != (opts->rows == 0))
        return ND_EINVAL;
    if (opts->bands == 0)
        return nd_lsh_choose(&opts->bands, &opts->rows, opts->threshold, opts->num_perm);
    if ((uint64_t)opts->bands * opts->rows > opts->num_perm)
        return ND_EINVAL;
    return ND_OK;
}
