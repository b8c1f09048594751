/* json_write.c - JSON written by the program: a string encoded (ill-formed
 * UTF-8 repaired to U+FFFD first, so that the output is always valid
 * JSON; printable text written directly, the bytes jansson would write),
 * and a member added to a record line without touching any other
 * byte of it (--annotate, --removed). The reading side is json.c.
 */
#include "json.h"

#include <stdint.h> /* SIZE_MAX */
#include <stdlib.h> /* malloc, free */
#include <string.h> /* memcmp, strlen */

#include "neardup.h" /* nd_utf8_repair */

/* s[0, len) as a JSON string, '"' and '\\' with a backslash before them:
 * what jansson writes for well-formed UTF-8 without control characters
 * (it escapes only those three kinds, and '/' or non-ASCII characters when
 * asked to, which it is not here). */
static void write_escaped(FILE *out, const char *s, size_t len)
{
    fputc('"', out);
    for (size_t from = 0; from < len;) {
        size_t to = from;
        while (to < len && s[to] != '"' && s[to] != '\\')
            to++;
        fwrite(s + from, 1, to - from, out);
        if (to < len) {
            fputc('\\', out);
            fputc(s[to], out);
            to++;
        }
        from = to;
    }
    fputc('"', out);
}

void json_write_string(FILE *out, const char *s, size_t len)
{
    /* Printable ASCII, and well-formed UTF-8 without control characters,
     * are written here rather than through a jansson string object and its
     * encoder's callbacks (a tenth of a paragraph scan's time went there):
     * the same bytes (write_escaped). */
    size_t plain = 0;
    while (plain < len && (unsigned char)s[plain] >= 0x20 && (unsigned char)s[plain] < 0x7F)
        plain++;
    if (plain == len) {
        write_escaped(out, s, len);
        return;
    }
    char stack[256];
    char *buf = len * 3 <= sizeof stack ? stack : malloc(len * 3 + 1);
    if (!buf) {
        fputs("\"\"", out);
        return;
    }
    size_t n;
    nd_utf8_repair(buf, &n, s, len);
    size_t controls = 0;
    for (size_t i = 0; i < n; i++)
        controls += (unsigned char)buf[i] < 0x20;
    if (controls == 0) {
        write_escaped(out, buf, n);
    } else {
        json_t *str = json_stringn_nocheck(buf, n);
        json_dumpf(str, out, JSON_ENCODE_ANY | JSON_COMPACT);
        json_decref(str);
    }
    if (buf != stack)
        free(buf);
}

void json_write_with_member(FILE *out, const char *line, size_t len, const char *key, const char *member)
{
    /* only where the name is in the line between quotes as written, or
     * the line has a \u escape (a name spelled with one: "ne\u0061rdup"
     * was kept beside the new member, a duplicate key), is the object read
     * member by member (json_members_drop compares names unescaped) */
    char *dropped = NULL;
    size_t key_len = strlen(key);
    for (size_t i = 0; i + key_len + 2 <= len; i++) {
        int spelled = line[i] == '"' && memcmp(line + i + 1, key, key_len) == 0 && line[i + 1 + key_len] == '"';
        if (!spelled && !(line[i] == '\\' && line[i + 1] == 'u'))
            continue;
        dropped = malloc(len ? len : 1);
        size_t n = dropped ? json_members_drop(dropped, line, len, key) : SIZE_MAX;
        if (n == SIZE_MAX) { /* out of memory, or not read: written as it is */
            free(dropped);
            dropped = NULL;
        } else {
            line = dropped;
            len = n;
        }
        break;
    }
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
    free(dropped);
}
