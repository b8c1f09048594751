/* diag.c - the program's messages on stderr ("neardup: error: ...",
 * "neardup: warning: ...") and the formatting of message strings. Only
 * the program prints; the library returns codes.
 *
 * Messages quote user data (ids, file names, excerpts of bad input), so
 * every message is written through one escaping step: a control character
 * (C0, DEL), a C1 control or a Unicode line or bidirectional-formatting
 * character, and every byte of ill-formed UTF-8 is shown as \xNN or \uNNNN.
 * An id can then neither move the cursor, recolour the terminal, nor forge
 * a summary line of its own. A warning of a repeating kind (a skipped
 * record, invalid UTF-8) is shown WARN_LIMIT times; the rest are counted
 * and told in one line at the end (cli_warn_flush). neardup-mpi holds
 * them instead (cli_warn_hold) and rank 0 shows the first WARN_LIMIT of
 * all ranks, in input order (cli_warn_take, cli_warn_more). */
#include "cli.h"

#include <pthread.h> /* pthread_mutex_t */
#include <stdarg.h>  /* va_list */
#include <stdlib.h>  /* malloc, realloc */
#include <string.h>  /* memcpy */

#include <unicode/utf8.h> /* U8_NEXT */

static const char *program = "neardup";
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t warned[WARN_KINDS]; /* warnings of each kind so far */

void cli_set_program(const char *name)
{
    program = name;
}

/* The length of the well-formed UTF-8 sequence at s (1 to 4) and its code
 * point, or 0 when the bytes there are ill-formed (overlong, surrogate,
 * past U+10FFFF, cut short): ICU's U8_NEXT, which follows Unicode's
 * definition. */
static size_t utf8_sequence(const unsigned char *s, size_t len, unsigned *cp)
{
    int32_t i = 0, n = len > 4 ? 4 : (int32_t)len;
    UChar32 c;
    U8_NEXT(s, i, n, c);
    if (c < 0)
        return 0;
    *cp = (unsigned)c;
    return (size_t)i;
}

/* Characters a terminal acts on or that reorder or break the line. */
static int is_format_character(unsigned cp)
{
    return (cp >= 0x80 && cp <= 0x9F) || cp == 0x200E || cp == 0x200F || cp == 0x2028 || cp == 0x2029 ||
           (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069);
}

void cli_escape(FILE *out, const char *text, size_t len)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t i = 0;
    while (i < len) {
        unsigned char c = s[i];
        if (c >= 0x20 && c < 0x7F) {
            size_t run = i + 1;
            while (run < len && s[run] >= 0x20 && s[run] < 0x7F)
                run++;
            fwrite(s + i, 1, run - i, out);
            i = run;
            continue;
        }
        unsigned cp = 0;
        size_t n = c < 0x80 ? 0 : utf8_sequence(s + i, len - i, &cp);
        if (n == 0) {
            fprintf(out, "\\x%02X", c);
            i++;
        } else if (is_format_character(cp)) {
            fprintf(out, "\\u%04X", cp);
            i += n;
        } else {
            fwrite(s + i, 1, n, out);
            i += n;
        }
    }
}

/* Warnings kept instead of written (cli_warn_hold). */
enum { WRITE_IT = -1 };
static int holding;            /* cli_warn_hold */
static char *held[WARN_KINDS]; /* each kind's lines kept, one after the other */
static size_t held_len[WARN_KINDS];

/* "PROGRAM: KIND: message\n" (or "PROGRAM: message\n" when kind is
 * NULL), the message escaped, made whole first and written in one write:
 * stderr is unbuffered, and a line written in pieces was cut into by
 * other processes writing to the same terminal or pipe (neardup-mpi's
 * ranks: "rank 0: warning: neardup-mpi: rank 1: warning: ..."). Or, with
 * kind_held a warning kind, the line appended to held[kind_held] instead
 * (written after all when there is no memory to keep it). */
__attribute__((format(printf, 3, 0))) static void report_to(int kind_held, const char *kind, const char *fmt,
                                                            va_list ap)
{
    char small[512];
    va_list again;
    va_copy(again, ap);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    char *text = small;
    size_t len = n < 0 ? 0 : (size_t)n;
    if (len >= sizeof small) {
        text = malloc(len + 1);
        if (text)
            vsnprintf(text, len + 1, fmt, again);
        else
            text = small, len = sizeof small - 1; /* the message cut short rather than lost */
    }
    va_end(again);
    char *line = NULL;
    size_t line_len = 0;
    FILE *mem = open_memstream(&line, &line_len);
    FILE *out = mem ? mem : stderr; /* out of memory: in pieces, as it can */
    pthread_mutex_lock(&lock);
    if (kind)
        fprintf(out, "%s: %s: ", program, kind);
    else
        fprintf(out, "%s: ", program);
    cli_escape(out, text, len);
    fputc('\n', out);
    if (mem && fclose(mem) == 0) {
        char *more = kind_held == WRITE_IT ? NULL : realloc(held[kind_held], held_len[kind_held] + line_len);
        if (more) {
            memcpy(more + held_len[kind_held], line, line_len);
            held[kind_held] = more;
            held_len[kind_held] += line_len;
        } else {
            fwrite(line, 1, line_len, stderr);
        }
    }
    pthread_mutex_unlock(&lock);
    free(line);
    if (text != small)
        free(text);
}

__attribute__((format(printf, 2, 0))) static void report(const char *kind, const char *fmt, va_list ap)
{
    report_to(WRITE_IT, kind, fmt, ap);
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

void cli_note(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    report(NULL, fmt, ap);
    va_end(ap);
}

void cli_warn_of(cli_warn_kind kind, const char *fmt, ...)
{
    pthread_mutex_lock(&lock);
    uint64_t seen = warned[kind]++;
    int hold = holding;
    pthread_mutex_unlock(&lock);
    if (seen >= WARN_LIMIT)
        return;
    va_list ap;
    va_start(ap, fmt);
    report_to(hold ? (int)kind : WRITE_IT, "warning", fmt, ap);
    va_end(ap);
}

void cli_warn_hold(int on)
{
    pthread_mutex_lock(&lock);
    holding = on;
    pthread_mutex_unlock(&lock);
}

uint64_t cli_warn_take(cli_warn_kind kind, char **lines, size_t *len)
{
    pthread_mutex_lock(&lock);
    uint64_t seen = warned[kind];
    *lines = held[kind];
    *len = held_len[kind];
    warned[kind] = 0;
    held[kind] = NULL;
    held_len[kind] = 0;
    pthread_mutex_unlock(&lock);
    return seen;
}

void cli_warn_more(cli_warn_kind kind, uint64_t seen)
{
    static const char *const what[WARN_KINDS] = {"records skipped", "documents with invalid UTF-8",
                                                 "file names not UTF-8"};
    if (seen > WARN_LIMIT)
        cli_warn("%llu more %s (only the first %d are shown)", (unsigned long long)(seen - WARN_LIMIT), what[kind],
                 WARN_LIMIT);
}

void cli_warn_flush(void)
{
    for (int k = 0; k < WARN_KINDS; k++) {
        char *lines;
        size_t len;
        uint64_t seen = cli_warn_take((cli_warn_kind)k, &lines, &len);
        if (len)
            fwrite(lines, 1, len, stderr); /* held and never gathered: shown rather than lost */
        free(lines);
        cli_warn_more((cli_warn_kind)k, seen);
    }
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
