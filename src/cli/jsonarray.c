/* jsonarray.c - a file holding one JSON array of objects (how SaudiNewsNet
 * and many scrapers ship data) read element by element, never whole.
 *
 * The scanner only finds where each element ends: the brace closing an
 * object (or array) element, else the first ',' or ']' outside strings at
 * nesting depth 0; so two elements without a ',' between them are a broken
 * array (exit 1), not one bad element that --on-error skip would drop. The element's bytes then go to the
 * same JSON record reader as a JSON Lines line (document.c), which checks
 * them. Line breaks between tokens become spaces, so that dedup can pass
 * a pretty-printed element through as one JSON Lines record; a raw line
 * break inside a string is invalid JSON and is left for the reader to
 * reject. An element longer than the limit is scanned through without
 * being kept, so memory stays bounded by the limit.
 */
#include "jsonarray.h"

#include <stdlib.h> /* realloc, free */
#include <string.h> /* memcpy, memset */

#include "cli.h"

/* phase: what comes next */
enum { BEFORE_OPEN, ELEMENT_OR_CLOSE, ELEMENT, COMMA_OR_CLOSE, AFTER_CLOSE };

void array_reader_init(array_reader *a, const char *name, uint64_t limit, int drain)
{
    memset(a, 0, sizeof *a);
    a->name = name;
    a->limit = limit;
    a->drain = drain;
}

void array_reader_free(array_reader *a)
{
    free(a->element);
    a->element = NULL;
    a->element_cap = 0;
}

static int is_blank(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Skip blanks; *c is the next byte. Returns 1, 0 at the end of the input,
 * -1 on a read error. */
static int next_byte(array_reader *a, reader *r, unsigned char *c)
{
    for (;;) {
        const unsigned char *p;
        size_t n;
        int eof = reader_buffered(r, &p, &n);
        size_t i = 0;
        while (i < n && is_blank(p[i])) {
            if (p[i] == '\n')
                a->line++;
            i++;
        }
        reader_consume(r, i);
        if (i < n) {
            *c = p[i];
            return 1;
        }
        if (eof)
            return 0;
        if (reader_more(r) != 0)
            return -1;
    }
}

static int malformed(array_reader *a, const char *what)
{
    cli_error("%s:%llu: %s", a->name, (unsigned long long)a->line + 1, what);
    return -1;
}

/* Scan the element at the reader's position to its end. Returns 1 (kept
 * in a->element), 2 (too long, dropped), -1 (error, reported). */
static int scan_element(array_reader *a, reader *r, size_t *out_len)
{
    int depth = 0, in_string = 0, escape = 0, dropping = 0;
    size_t scanned = 0; /* bytes of the element looked at, from the reader's position */
    uint64_t total = 0; /* bytes of the element, dropped ones included */
    uint64_t newlines = 0;
    for (;;) {
        const unsigned char *p;
        size_t n;
        int eof = reader_buffered(r, &p, &n);
        size_t i = scanned;
        int done = 0;
        for (; i < n; i++) {
            unsigned char c = p[i];
            if (c == '\n')
                newlines++;
            if (in_string) {
                if (escape)
                    escape = 0;
                else if (c == '\\')
                    escape = 1;
                else if (c == '"')
                    in_string = 0;
                continue;
            }
            if (c == '"')
                in_string = 1;
            else if (c == '{' || c == '[')
                depth++;
            else if ((c == '}' || c == ']') && depth > 0) {
                if (--depth == 0) { /* an object (or array) element ends at its closing brace */
                    i++;
                    done = 1;
                    break;
                }
            } else if (depth == 0 && (c == ',' || c == ']' || c == '}')) {
                done = 1;
                break;
            }
        }
        total += i - scanned;
        if (!dropping && a->limit && total > a->limit) {
            if (!a->drain)
                return 2;
            dropping = 1;
        }
        if (done || (eof && i == n)) {
            if (!done)
                return malformed(a, "the JSON array is not closed (the input ends inside it)");
            if (dropping) {
                reader_consume(r, i);
                a->line += newlines;
                return 2;
            }
            size_t len = i;
            while (len > 0 && is_blank(p[len - 1]))
                len--;
            if (len + 1 > a->element_cap) {
                char *grown = realloc(a->element, len + 1);
                if (!grown) {
                    cli_error("%s: out of memory", a->name);
                    return -1;
                }
                a->element = grown;
                a->element_cap = len + 1;
            }
            /* line breaks between tokens become spaces (in a string they are
             * invalid JSON, and kept for the reader to reject) */
            int str = 0, esc = 0;
            for (size_t k = 0; k < len; k++) {
                unsigned char c = p[k];
                if (str) {
                    if (esc)
                        esc = 0;
                    else if (c == '\\')
                        esc = 1;
                    else if (c == '"')
                        str = 0;
                } else if (c == '"') {
                    str = 1;
                } else if (c == '\n' || c == '\r') {
                    c = ' ';
                }
                a->element[k] = (char)c;
            }
            *out_len = len;
            reader_consume(r, i);
            a->line += newlines;
            return 1;
        }
        if (dropping) {
            reader_consume(r, i); /* keep nothing of it */
            scanned = 0;
        } else {
            scanned = i;
        }
        if (reader_more(r) != 0)
            return -1;
    }
}

int array_reader_next(array_reader *a, reader *r, const char **data, size_t *len, uint64_t *line)
{
    for (;;) {
        unsigned char c;
        int rc = next_byte(a, r, &c);
        if (rc < 0)
            return -1;
        if (rc == 0) {
            if (a->phase == AFTER_CLOSE)
                return 0;
            return malformed(a, a->phase == BEFORE_OPEN ? "not a JSON array (empty)"
                                                        : "the JSON array is not closed (the input ends inside it)");
        }
        switch (a->phase) {
        case BEFORE_OPEN:
            if (c != '[')
                return malformed(a, "not a JSON array (it does not start with '[')");
            reader_consume(r, 1);
            a->phase = ELEMENT_OR_CLOSE;
            continue;
        case ELEMENT_OR_CLOSE:
        case ELEMENT:
            if (c == ']' && a->phase == ELEMENT_OR_CLOSE) {
                reader_consume(r, 1);
                a->phase = AFTER_CLOSE;
                continue;
            }
            if (c == ']' || c == ',')
                return malformed(a, "a JSON array element is missing");
            *line = a->line + 1;
            rc = scan_element(a, r, len);
            if (rc < 0)
                return -1;
            a->phase = COMMA_OR_CLOSE;
            *data = a->element;
            return rc;
        case COMMA_OR_CLOSE:
            if (c != ',' && c != ']')
                return malformed(a, "expected ',' or ']' after a JSON array element");
            reader_consume(r, 1);
            a->phase = c == ',' ? ELEMENT : AFTER_CLOSE;
            continue;
        default:
            return malformed(a, "more text after the JSON array's closing ']'");
        }
    }
}
