/* input.c - files, directories and stdin to records; JSON Lines by name or
 * content. See input.h. Each file is read through a reader (reader.c:
 * decompression by content, lines), so memory stays bounded by the longest
 * line or document.
 */
#include "input.h"

#include <dirent.h>   /* opendir, readdir */
#include <errno.h>    /* errno */
#include <stdlib.h>   /* malloc, realloc, qsort */
#include <string.h>   /* memchr, strerror */
#include <sys/stat.h> /* stat, fstat */

#include <jansson.h> /* json_t: content sniffing */

#include "json.h"
#include "reader.h"

typedef enum { MODE_WHOLE, MODE_LINES, MODE_JSON } read_mode;

/* What a file was when it was first opened, to tell whether a second pass
 * reads the same bytes. */
typedef struct file_identity {
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
} file_identity;

struct input {
    const cli_config *cfg;
    char **names;
    size_t count, capacity;
    file_identity *seen;     /* per source, once opened */
    const input *first_pass; /* input_reopen: the pass whose files must be unchanged */
    size_t next;             /* next source to open */
    reader *current;
    size_t current_source;
    read_mode mode;
};

/* ****  Paths  **** */

static int add_name(input *in, char *name)
{
    if (in->count == in->capacity) {
        size_t cap = in->capacity ? in->capacity * 2 : 16;
        char **grown = realloc(in->names, cap * sizeof *grown);
        if (!grown) {
            free(name);
            cli_error("out of memory");
            return -1;
        }
        in->names = grown;
        in->capacity = cap;
    }
    in->names[in->count++] = name;
    return 0;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int add_path(input *in, const char *path, int depth);

static int add_directory(input *in, const char *path, int depth)
{
    DIR *dir = opendir(path);
    if (!dir) {
        cli_error("%s: cannot read directory: %s", path, strerror(errno));
        return -1;
    }
    char **entries = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(dir)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            char **grown = realloc(entries, cap * sizeof *grown);
            if (!grown) {
                rc = -1;
                break;
            }
            entries = grown;
        }
        size_t len = strlen(path) + strlen(e->d_name) + 2;
        entries[n] = malloc(len);
        if (!entries[n]) {
            rc = -1;
            break;
        }
        size_t plen = strlen(path);
        snprintf(entries[n], len, "%s%s%s", path, (plen && path[plen - 1] == '/') ? "" : "/", e->d_name);
        n++;
    }
    closedir(dir);
    if (rc == 0 && n > 1)
        qsort(entries, n, sizeof *entries, compare_names);
    for (size_t i = 0; i < n; i++) {
        if (rc == 0)
            rc = add_path(in, entries[i], depth + 1);
        free(entries[i]);
    }
    free(entries);
    if (rc != 0)
        cli_error("%s: could not list the directory", path);
    return rc;
}

static int add_path(input *in, const char *path, int depth)
{
    if (strcmp(path, "-") == 0)
        return add_name(in, strdup("-"));
    struct stat st;
    if (stat(path, &st) != 0) {
        cli_error("%s: %s", path, strerror(errno));
        return -1;
    }
    if (S_ISDIR(st.st_mode)) {
        if (depth > 64) {
            cli_error("%s: directories nested too deep (a link loop?)", path);
            return -1;
        }
        return add_directory(in, path, depth);
    }
    char *copy = strdup(path);
    return copy ? add_name(in, copy) : -1;
}

int input_open(input **out, const cli_config *cfg)
{
    input *in = calloc(1, sizeof *in);
    if (!in) {
        cli_error("out of memory");
        return EXIT_FAIL;
    }
    in->cfg = cfg;
    int failed = 0;
    if (cfg->path_count == 0) {
        failed |= add_path(in, "-", 0) != 0;
    }
    for (int i = 0; i < cfg->path_count; i++)
        failed |= add_path(in, cfg->paths[i], 0) != 0;
    in->seen = calloc(in->count ? in->count : 1, sizeof *in->seen);
    if (failed || !in->seen) {
        if (!failed)
            cli_error("out of memory");
        input_close(in);
        return EXIT_FAIL;
    }
    *out = in;
    return EXIT_OK;
}

int input_rereadable(const input *in)
{
    for (size_t i = 0; i < in->count; i++) {
        struct stat st;
        if (strcmp(in->names[i], "-") == 0 || stat(in->names[i], &st) != 0 || !S_ISREG(st.st_mode))
            return 0;
    }
    return 1;
}

int input_reopen(input **out, const input *first)
{
    input *in = calloc(1, sizeof *in);
    if (in)
        in->seen = calloc(first->count ? first->count : 1, sizeof *in->seen);
    if (!in || !in->seen) {
        free(in);
        cli_error("out of memory");
        return EXIT_FAIL;
    }
    in->cfg = first->cfg;
    in->names = first->names; /* borrowed: the same files in the same order */
    in->count = first->count;
    in->first_pass = first;
    *out = in;
    return EXIT_OK;
}

void input_close(input *in)
{
    if (!in)
        return;
    reader_free(in->current);
    if (!in->first_pass) {
        for (size_t i = 0; i < in->count; i++)
            free(in->names[i]);
        free(in->names);
    }
    free(in->seen);
    free(in);
}

const char *input_source_name(const input *in, size_t source)
{
    return in->names[source];
}

/* ****  Records  **** */

static int has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static int json_by_name(const char *name)
{
    static const char *const bases[] = {".jsonl", ".json", ".ndjson"};
    static const char *const comps[] = {"", ".gz", ".zst", ".zstd"};
    char suffix[32];
    for (size_t b = 0; b < sizeof bases / sizeof *bases; b++) {
        for (size_t c = 0; c < sizeof comps / sizeof *comps; c++) {
            snprintf(suffix, sizeof suffix, "%s%s", bases[b], comps[c]);
            if (has_suffix(name, suffix))
                return 1;
        }
    }
    return 0;
}

/* Does the decoded content start with a line that is a JSON object? */
static int json_by_content(reader *r, int *error)
{
    for (;;) {
        const unsigned char *p;
        size_t avail;
        int eof = reader_buffered(r, &p, &avail);
        size_t i = 0;
        while (i < avail && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n'))
            i++;
        if (i < avail && p[i] != '{')
            return 0;
        const unsigned char *nl = i < avail ? memchr(p + i, '\n', avail - i) : NULL;
        if ((i < avail && nl) || eof || avail > (1u << 24)) {
            if (i >= avail)
                return 0;
            size_t line_len = nl ? (size_t)(nl - (p + i)) : avail - i;
            json_error_t err;
            size_t invalid;
            json_t *v = json_load_text((const char *)p + i, line_len, &err, NULL, &invalid);
            int is_object = v && json_is_object(v);
            json_decref(v);
            if (!v) {
                /* Not valid JSON, but shaped like an object: treat the input
                 * as JSON Lines so that the bad record is reported (or
                 * skipped) rather than the whole input read as text. */
                size_t e = line_len;
                while (e > 0 && (p[i + e - 1] == ' ' || p[i + e - 1] == '\t' || p[i + e - 1] == '\r'))
                    e--;
                return e > 0 && p[i + e - 1] == '}';
            }
            return is_object;
        }
        if (reader_more(r) != 0) {
            *error = 1;
            return 0;
        }
    }
}

static int same_identity(const file_identity *a, const file_identity *b)
{
    return a->dev == b->dev && a->ino == b->ino && a->size == b->size && a->mtime.tv_sec == b->mtime.tv_sec &&
           a->mtime.tv_nsec == b->mtime.tv_nsec;
}

static int open_next_source(input *in)
{
    while (in->next < in->count) {
        size_t source = in->next++;
        reader *r = reader_open(in->names[source]);
        if (!r)
            return -1;
        struct stat st;
        if (fstat(reader_fd(r), &st) == 0) {
            file_identity id = {st.st_dev, st.st_ino, st.st_size, st.st_mtim};
            if (in->first_pass && !same_identity(&id, &in->first_pass->seen[source])) {
                cli_error("%s: changed while neardup was reading it; cannot write a consistent output",
                          in->names[source]);
                reader_free(r);
                return -1;
            }
            in->seen[source] = id;
        }
        in->current = r;
        in->current_source = source;
        int error = 0;
        if (json_by_name(in->names[source]) || json_by_content(r, &error))
            in->mode = MODE_JSON;
        else
            in->mode = in->cfg->lines ? MODE_LINES : MODE_WHOLE;
        if (error)
            return -1;
        return 1;
    }
    return 0;
}

static int copy_record(record *rec, const unsigned char *data, size_t len)
{
    rec->data = malloc(len ? len : 1);
    if (!rec->data) {
        cli_error("out of memory");
        return -1;
    }
    if (len)
        memcpy(rec->data, data, len);
    rec->len = len;
    return 0;
}

static int is_blank(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r')
            return 0;
    }
    return 1;
}

static int next_record(input *in, record *rec, int borrow);

int input_next(input *in, record *rec)
{
    return next_record(in, rec, 0);
}

int input_next_borrowed(input *in, record *rec)
{
    return next_record(in, rec, 1);
}

static int next_record(input *in, record *rec, int borrow)
{
    rec->borrowed = 0;
    for (;;) {
        if (!in->current) {
            int rc = open_next_source(in);
            if (rc <= 0)
                return rc;
        }
        reader *r = in->current;
        rec->source = in->current_source;
        if (in->mode == MODE_WHOLE) {
            const unsigned char *all;
            size_t all_len;
            if (reader_rest(r, &all, &all_len) != 0)
                return -1;
            int rc = copy_record(rec, all, all_len);
            rec->line = 0;
            rec->kind = RECORD_TEXT;
            reader_free(r);
            in->current = NULL;
            return rc == 0 ? 1 : -1;
        }
        const unsigned char *line;
        size_t len;
        int rc = reader_line(r, &line, &len);
        if (rc < 0)
            return -1;
        if (rc == 0) {
            reader_free(r);
            in->current = NULL;
            continue;
        }
        if (in->mode == MODE_JSON && is_blank(line, len))
            continue; /* blank lines between JSON records are not records */
        if (in->mode == MODE_LINES && len > 0 && line[len - 1] == '\r')
            len--;
        rec->line = reader_line_number(r);
        rec->kind = in->mode == MODE_JSON ? RECORD_JSON : RECORD_TEXT;
        if (borrow) {
            rec->data = (char *)(uintptr_t)line; /* read-only use by the caller */
            rec->len = len;
            rec->borrowed = 1;
            return 1;
        }
        return copy_record(rec, line, len) == 0 ? 1 : -1;
    }
}
