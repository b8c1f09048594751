/* output.c - JSON strings and numbers for the program's output, and
 * output lines formatted on several threads.
 *
 * Strings go through jansson's encoder (escapes, control characters) after
 * ill-formed UTF-8 has been replaced, so every line written is valid JSON
 * whatever bytes the ids or texts held. Numbers are printed with "%.6g":
 * the same double always prints the same way, so output is byte-stable.
 *
 * out_lines: the clusters or groups of a scan are written after everything
 * else is done, on one thread unless shared out. Each round of ROUND
 * items is cut into one part per thread; the helpers format theirs into
 * memory while the caller writes the first part, then their bytes follow
 * in order: the same bytes as one thread writing every item. Each part's
 * memory is kept from round to round (a stream of our own, fopencookie):
 * open_memstream's buffer, made anew each round and grown by doubling,
 * was fresh pages every round, and the helper spent its part waiting on
 * the kernel for them while the caller waited for the helper (100k
 * syndicated documents in paragraphs, 20 MB of output, 2 threads: the
 * writing 0.060 s -> 0.037-0.039 s, --stats, three runs in turn).
 */
#define _GNU_SOURCE 1 /* fopencookie */
#include "cli.h"

#include <pthread.h>   /* pthread_create, pthread_join */
#include <stdlib.h>    /* malloc, free */
#include <string.h>    /* strlen, memcpy */
#include <sys/types.h> /* ssize_t */

#include "alloc.h" /* nd_grow, nd_free: a part's bytes */
#include "json.h"
#include "utf8check.h" /* out_id */

void out_string(FILE *f, const char *s, size_t len)
{
    json_write_string(f, s, len);
}

void out_id(FILE *f, const char *s, size_t len)
{
    /* an id that is not UTF-8 (the library and the Python module take
     * any bytes) as file names in ids are: each byte outside a well-formed
     * character as \xNN, a backslash as \\ (utf8check.h). Repaired to
     * U+FFFD, b"\xff" and b"\xfe" were written as one id. */
    char *escaped = utf8_well_formed(s, len) ? NULL : utf8_escape_ill_formed(s, len);
    if (escaped)
        out_string(f, escaped, strlen(escaped));
    else
        out_string(f, s, len); /* (out of memory: repaired, as before) */
    free(escaped);
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

enum { ROUND = 8192, MAX_PARTS = 16 };

/* A part's bytes: kept from round to round, emptied (len 0) for each. */
typedef struct part_bytes {
    char *bytes;
    size_t len, capacity;
} part_bytes;

/* fopencookie's write: append to a part's bytes. n, or -1 (out of memory:
 * the stream's error flag, seen by fclose). */
static ssize_t append_bytes(void *cookie, const char *data, size_t n)
{
    part_bytes *b = cookie;
    if (n > SIZE_MAX - b->len || nd_grow((void **)&b->bytes, &b->capacity, b->len + n, 1) != 0)
        return -1;
    memcpy(b->bytes + b->len, data, n);
    b->len += n;
    return (ssize_t)n;
}

typedef struct out_part {
    size_t first, last;
    int (*write_item)(FILE *f, size_t i, void *ctx);
    void *ctx;
    part_bytes *out; /* emptied, then filled */
    int rc;
} out_part;

static void *format_part(void *arg)
{
    out_part *p = arg;
    p->out->len = 0;
    FILE *mem = fopencookie(p->out, "w", (cookie_io_functions_t){NULL, append_bytes, NULL, NULL});
    p->rc = mem ? 0 : -1;
    for (size_t i = p->first; i < p->last && p->rc == 0; i++)
        p->rc = p->write_item(mem, i, p->ctx);
    if (mem && fclose(mem) != 0)
        p->rc = -1;
    return NULL;
}

int out_lines(FILE *out, size_t n, unsigned threads, int (*write_item)(FILE *f, size_t i, void *ctx), void *ctx)
{
    unsigned parts = threads < 1 ? 1 : threads > MAX_PARTS ? MAX_PARTS : threads;
    part_bytes kept[MAX_PARTS] = {{0}};
    int rc = 0;
    for (size_t first = 0; first < n && rc == 0; first += ROUND) {
        size_t last = n - first < ROUND ? n : first + ROUND;
        size_t each = (last - first + parts - 1) / parts;
        out_part part[MAX_PARTS];
        pthread_t helper[MAX_PARTS];
        int started[MAX_PARTS] = {0};
        for (unsigned k = 1; k < parts; k++) {
            size_t a = first + k * each, b = a + each;
            part[k] = (out_part){a < last ? a : last, b < last ? b : last, write_item, ctx, &kept[k], 0};
            started[k] = part[k].first < part[k].last && each >= 64 &&
                         pthread_create(&helper[k], NULL, format_part, &part[k]) == 0;
        }
        /* the caller's part, and every part no helper took (few items, or
         * no thread), straight to the output */
        for (size_t i = first; i < first + each && i < last && rc == 0; i++)
            rc = write_item(out, i, ctx);
        for (unsigned k = 1; k < parts; k++) {
            if (started[k]) {
                pthread_join(helper[k], NULL);
                if (rc == 0)
                    rc = part[k].rc;
                if (rc == 0 && kept[k].len > 0)
                    fwrite(kept[k].bytes, 1, kept[k].len, out);
            } else {
                for (size_t i = part[k].first; i < part[k].last && rc == 0; i++)
                    rc = write_item(out, i, ctx);
            }
        }
    }
    for (unsigned k = 1; k < parts; k++)
        nd_free(kept[k].bytes);
    return rc;
}
