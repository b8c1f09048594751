/* diag.c - the program's messages on stderr ("neardup: error: ...",
 * "neardup: warning: ...") and the formatting of message strings. Only
 * the program prints; the library returns codes. */
#include "cli.h"

#include <stdarg.h> /* va_list */
#include <stdlib.h> /* malloc */

static const char *program = "neardup";

void cli_set_program(const char *name)
{
    program = name;
}

__attribute__((format(printf, 2, 0))) static void report(const char *kind, const char *fmt, va_list ap)
{
    fprintf(stderr, "%s: %s: ", program, kind);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

void cli_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    report("error", fmt, ap);
    va_end(ap);
}

void cli_warn(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    report("warning", fmt, ap);
    va_end(ap);
}

char *cli_format(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return NULL;
    char *s = malloc((size_t)n + 1);
    if (!s)
        return NULL;
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}
