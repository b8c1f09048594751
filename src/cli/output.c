/* output.c - JSON strings and numbers for the program's output.
 *
 * Strings go through jansson's encoder (escapes, control characters) after
 * ill-formed UTF-8 has been replaced, so every line written is valid JSON
 * whatever bytes the ids or texts held. Numbers are printed with "%.6g":
 * the same double always prints the same way, so output is byte-stable.
 */
#include "cli.h"

#include <stdlib.h> /* malloc, free */

#include "json.h"

void out_string(FILE *f, const char *s, size_t len)
{
    json_write_string(f, s, len);
}

void out_number(FILE *f, double x)
{
    if (x == 1.0)
        fputc('1', f); /* as "%.6g" prints it: the usual score of a repeated unit */
    else
        fprintf(f, "%.6g", x);
}

char *text_preview(const char *text, size_t len, size_t max_chars)
{
    char *out = malloc(len + 4);
    if (out)
        out[nd_text_preview(out, text, len, max_chars)] = '\0';
    return out;
}

const char *cli_profile_label(const nd_options *opts)
{
    /* made once per profile and thread: every output line carries it */
    static _Thread_local char label[64];
    static _Thread_local int made = 0;
    static _Thread_local nd_profile made_for;
    if (!made || made_for != opts->profile) {
        snprintf(label, sizeof label, "%s/%u", nd_profile_name(opts->profile), nd_profile_version(opts->profile));
        made_for = opts->profile;
        made = 1;
    }
    return label;
}
