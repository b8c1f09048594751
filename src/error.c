/* error.c - status codes to messages, and option checking. */
#include "neardup.h"

const char *nd_strerror(int status)
{
    switch (status) {
    case ND_OK:
        return "success";
    case ND_ENOMEM:
        return "out of memory";
    case ND_EINVAL:
        return "invalid argument";
    case ND_EICU:
        return "ICU error (Unicode data missing or internal failure)";
    case ND_EIO:
        return "cannot write or read a temporary file (disk full? see --tmpdir)";
    default:
        return "unknown error";
    }
}

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
    if ((opts->bands == 0) != (opts->rows == 0))
        return ND_EINVAL;
    if (opts->bands == 0)
        return nd_lsh_choose(&opts->bands, &opts->rows, opts->threshold, opts->num_perm);
    if ((uint64_t)opts->bands * opts->rows > opts->num_perm)
        return ND_EINVAL;
    return ND_OK;
}
