/* output.c - JSON strings and numbers for the program's output.
 *
 * Strings go through jansson's encoder (escapes, control characters) after
 * ill-formed UTF-8 has been replaced, so every line written is valid JSON
 * whatever bytes the ids or texts held. Numbers are printed with "%.6g":
 * the same double always prints the same way, so output is byte-stable.
 */
#include "cli.h"

#include <stdlib.h> /* malloc, free */
#include <string.h> /* memcpy */

#include "json.h"

void out_string(FILE *f, const char *s, size_t len)
{
    json_write_string(f, s, len);
}

void out_number(FILE *f, double x)
{
    fprintf(f, "%.6g", x);
}

char *text_preview(const char *text, size_t len, size_t max_chars)
{
    char *out = malloc(len + 4);
    if (!out)
        return NULL;
    size_t w = 0, chars = 0;
    int space = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
            space = 1;
            continue;
        }
        if ((c & 0xC0) != 0x80) { /* a character starts here: room for it (and a space before it)? */
            size_t needed = chars + 1 + (space && w > 0);
            if (needed > max_chars) {
                memcpy(out + w, "\xE2\x80\xA6", 3); /* … */
                w += 3;
                break;
            }
            if (space && w > 0)
                out[w++] = ' ';
            space = 0;
            chars = needed;
        }
        out[w++] = (char)c;
    }
    out[w] = '\0';
    return out;
}

const char *cli_profile_label(const nd_options *opts)
{
    static char label[64];
    snprintf(label, sizeof label, "%s/%u", nd_profile_name(opts->profile), nd_profile_version(opts->profile));
    return label;
}
