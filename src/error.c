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
    case ND_EEXIST:
        return "id already in the index";
    case ND_ENOTFOUND:
        return "not found (no index at the path, or an id not in it)";
    case ND_EMISMATCH:
        return "options disagree with the index's";
    case ND_EFORMAT:
        return "not a neardup index, or one of another format or Unicode version";
    case ND_EBUSY:
        return "the index is locked by another writer";
    case ND_EFULL:
        return "no space left (disk full, or the index's size limit)";
    default:
        return "unknown error";
    }
}
