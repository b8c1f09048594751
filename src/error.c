/* error.c - status codes to one-line messages (nd_strerror). */
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
