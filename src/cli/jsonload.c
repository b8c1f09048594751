/* jsonload.c - JSON read with jansson, the authority for what a record
 * is: a text loaded with the retries every command needs (integers past
 * 64 bits read as reals, ill-formed UTF-8 read as U+FFFD and counted),
 * and a member's value by name or dot path. The program's own scanner
 * (the fast path, members' bytes) is json.c.
 */
#include "json.h"

#include <stdlib.h> /* malloc, free */
#include <string.h> /* strchr, strlen, memcpy */

#include "neardup.h" /* nd_utf8_repair */

json_t *json_load_text(const char *text, size_t len, json_error_t *err, size_t *flags_out, size_t *invalid_utf8)
{
    size_t flags = JSON_ALLOW_NUL;
    char *repaired = NULL;
    *invalid_utf8 = 0;
    json_t *root;
    for (;;) {
        root = json_loadb(text, len, flags, err);
        if (root)
            break;
        if (json_error_code(err) == json_error_numeric_overflow && !(flags & JSON_DECODE_INT_AS_REAL)) {
            flags |= JSON_DECODE_INT_AS_REAL; /* integers beyond 64 bits, e.g. uint64 ids */
            continue;
        }
        if (json_error_code(err) == json_error_invalid_utf8 && !repaired) {
            /* read ill-formed UTF-8 as U+FFFD rather than lose the record */
            repaired = malloc(len * 3 + 1);
            if (!repaired)
                break;
            *invalid_utf8 = nd_utf8_repair(repaired, &len, text, len);
            text = repaired;
            continue;
        }
        break;
    }
    free(repaired);
    if (flags_out)
        *flags_out = flags;
    return root;
}

const json_t *json_path_get(const json_t *root, const char *path)
{
    const json_t *v = json_object_get(root, path);
    if (v || !strchr(path, '.'))
        return v;
    char name[256];
    const char *p = path;
    v = root;
    while (v && *p) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        if (n >= sizeof name || !json_is_object(v))
            return NULL;
        memcpy(name, p, n);
        name[n] = '\0';
        v = json_object_get(v, name);
        p = dot ? dot + 1 : p + n;
    }
    return v;
}
