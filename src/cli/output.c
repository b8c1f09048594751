/* output.c - JSON strings and numbers for the program's output.
 *
 * Strings go through jansson's encoder (escapes, control characters) after
 * ill-formed UTF-8 has been replaced, so every line written is valid JSON
 * whatever bytes the ids or texts held. Numbers are printed with "%.6g":
 * the same double always prints the same way, so output is byte-stable.
 */
#include "cli.h"

#include <stdlib.h> /* malloc, free */

#include <jansson.h> /* json_stringn_nocheck, json_dumpf */

void out_string(FILE *f, const char *s, size_t len)
{
    char stack[256];
    char *buf = len * 3 <= sizeof stack ? stack : malloc(len * 3 + 1);
    if (!buf) {
        fputs("\"\"", f);
        return;
    }
    size_t n;
    nd_utf8_repair(buf, &n, s, len);
    json_t *str = json_stringn_nocheck(buf, n);
    json_dumpf(str, f, JSON_ENCODE_ANY | JSON_COMPACT);
    json_decref(str);
    if (buf != stack)
        free(buf);
}

void out_number(FILE *f, double x)
{
    fprintf(f, "%.6g", x);
}
