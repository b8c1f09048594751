/* json_write.c - JSON written by the program: a string encoded (ill-formed
 * UTF-8 repaired to U+FFFD first, so that the output is always valid
 * JSON), and a member added to a record line without touching any other
 * byte of it (--annotate, --removed). The reading side is json.c.
 */
#include "json.h"

#include <stdlib.h> /* malloc, free */

#include "neardup.h" /* nd_utf8_repair */

void json_write_string(FILE *out, const char *s, size_t len)
{
    char stack[256];
    char *buf = len * 3 <= sizeof stack ? stack : malloc(len * 3 + 1);
    if (!buf) {
        fputs("\"\"", out);
        return;
    }
    size_t n;
    nd_utf8_repair(buf, &n, s, len);
    json_t *str = json_stringn_nocheck(buf, n);
    json_dumpf(str, out, JSON_ENCODE_ANY | JSON_COMPACT);
    json_decref(str);
    if (buf != stack)
        free(buf);
}

void json_write_with_member(FILE *out, const char *line, size_t len, const char *member)
{
    size_t end = len;
    while (end > 0 && (line[end - 1] == ' ' || line[end - 1] == '\t' || line[end - 1] == '\r'))
        end--;
    /* end - 1 is the closing brace; is the object empty? */
    size_t before = end - 1;
    while (before > 0 && (line[before - 1] == ' ' || line[before - 1] == '\t' || line[before - 1] == '\n' ||
                          line[before - 1] == '\r'))
        before--;
    int empty_object = before > 0 && line[before - 1] == '{';
    fwrite(line, 1, end - 1, out);
    if (!empty_object)
        fputc(',', out);
    fputs(member, out);
    fwrite(line + end - 1, 1, len - (end - 1), out);
    fputc('\n', out);
}
