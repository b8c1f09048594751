/* jsonskip.h - skip the plain bytes of a JSON string (jsonskip.c). */
#ifndef ND_CLI_JSONSKIP_H
#define ND_CLI_JSONSKIP_H

/* The first byte of [q, end) that is '"', '\\' or below 0x20, or end. */
const char *json_skip_plain(const char *q, const char *end);

#endif
