/* input.c - the files walk.c lists (or stdin) to records; text, JSON Lines or a
 * JSON array by --format, name or content. See input.h. Each file is read
 * through a reader (reader.c: decompression by content, lines), so memory
 * stays bounded by the longest line or document, itself bounded by
 * --max-doc-bytes.
 *
 * What a file is: --format when given; else .jsonl/.ndjson are JSON Lines,
 * .txt is text, .json is a JSON array when its first byte (past blanks) is
 * '[' and JSON Lines otherwise; any other name is a JSON array when it
 * starts with '[' and then '{' or ']', JSON Lines when its first line
 * parses as a JSON object, and text otherwise. A UTF-8 byte order mark
 * before JSON is skipped (with a warning); in text it is part of the text.
 */
#include "input.h"

#include <errno.h>    /* errno */
#include <fcntl.h>    /* open */
#include <unistd.h>   /* read, close */
#include <stdlib.h>   /* malloc, realloc, qsort */
#include <string.h>   /* memchr, strerror */
#include <sys/stat.h> /* stat, lstat, fstat */

#include <jansson.h> /* json_t: content sniffing */

#include "fileid.h"
#include "json.h"
#include "jsonarray.h"
#include "reader.h"
#include "utf8check.h"
#include "walk.h"

typedef enum { MODE_WHOLE, MODE_LINES, MODE_JSON, MODE_ARRAY } read_mode;

struct input {
    const cli_config *cfg;
    char **names;
    char **id_names; /* per source: its name made UTF-8 for ids (utf8_escape_ill_formed), or NULL: the name */
    size_t count;
    file_identity *seen;     /* per source, once opened */
    const input *first_pass; /* input_reopen: the pass whose files must be unchanged */
    size_t next;             /* next source to open */
    reader *current;
    size_t current_source;
    read_mode mode;
    int locating;            /* records of the current source get offsets (record.located) */
    uint64_t offset_bias;    /* what reader_offset does not count: a byte order mark consumed */
    array_reader array;      /* MODE_ARRAY */
    const input_part *parts; /* input_open_parts: one per source, else NULL */
    input_skipped skipped;   /* files a directory walk passed over */
    reader_pool *pool;       /* input_keep_blocks: the readers' blocks */
};

input_skipped input_skipped_files(const input *in)
{
    return in->skipped;
}

int input_parse_format(const char *value, input_format *out)
{
    static const char *const names[] = {"text", "jsonl", "json"};
    static const input_format formats[] = {FORMAT_TEXT, FORMAT_JSONL, FORMAT_JSON};
    for (size_t i = 0; i < 3; i++) {
        if (strcmp(value, names[i]) == 0) {
            *out = formats[i];
            return 0;
        }
    }
    return -1;
}

/* Each source's name as the ids of its documents show it: a name that is
 * not well-formed UTF-8 (Linux file names may hold any bytes) written
 * with its ill-formed bytes as \xNN (utf8check.h), not repaired to U+FFFD
 * where the output is written, which gave two such files one id; said
 * once per file when `warn` (not by input_open_parts: neardup-mpi's plan
 * opened every file on rank 0 first and said it there). Returns 0, or -1
 * (reported) when out of memory. */
static int name_ids(input *in, int warn)
{
    in->id_names = calloc(in->count ? in->count : 1, sizeof *in->id_names);
    if (!in->id_names) {
        cli_error("out of memory");
        return -1;
    }
    for (size_t i = 0; i < in->count; i++) {
        const char *name = in->names[i];
        if (utf8_well_formed(name, strlen(name)))
            continue;
        in->id_names[i] = utf8_escape_ill_formed(name, strlen(name));
        if (!in->id_names[i]) {
            cli_error("out of memory");
            return -1;
        }
        if (warn)
            cli_warn_of(WARN_FILE_NAME, "%s: the file name is not UTF-8; ids show each byte that is not as \\xNN",
                        name);
    }
    return 0;
}

int input_open(input **out, const cli_config *cfg)
{
    input *in = calloc(1, sizeof *in);
    if (!in) {
        cli_error("out of memory");
        return EXIT_FAIL;
    }
    in->cfg = cfg;
    input_walk walk;
    int failed = input_walk_paths(&walk, cfg) != 0;
    in->names = walk.names; /* taken, freed by input_close */
    in->count = walk.count;
    in->skipped = walk.skipped;
    in->seen = calloc(in->count ? in->count : 1, sizeof *in->seen);
    if (failed || !in->seen) {
        if (!failed)
            cli_error("out of memory");
        input_close(in);
        return EXIT_FAIL;
    }
    if (name_ids(in, 1) != 0) {
        input_close(in);
        return EXIT_FAIL;
    }
    *out = in;
    return EXIT_OK;
}

static int has_suffix(const char *s, const char *suffix);
static int json_lines_by_name(const char *name);

int input_open_parts(input **out, const cli_config *cfg, const input_part *parts, size_t count)
{
    input *in = calloc(1, sizeof *in);
    if (!in) {
        cli_error("out of memory");
        return EXIT_FAIL;
    }
    in->cfg = cfg;
    in->parts = parts;
    in->names = malloc((count ? count : 1) * sizeof *in->names);
    int failed = !in->names;
    for (size_t i = 0; i < count && !failed; i++) {
        in->names[i] = strdup(parts[i].name);
        failed = !in->names[i];
        in->count += !failed; /* input_close frees names[0 .. count) */
    }
    in->seen = calloc(in->count ? in->count : 1, sizeof *in->seen);
    if (failed || !in->seen) {
        cli_error("out of memory");
        input_close(in);
        return EXIT_FAIL;
    }
    if (name_ids(in, 0) != 0) {
        input_close(in);
        return EXIT_FAIL;
    }
    *out = in;
    return EXIT_OK;
}

size_t input_source_count(const input *in)
{
    return in->count;
}

int input_splittable(const char *name, input_format format, uint64_t *size)
{
    struct stat st;
    if (strcmp(name, "-") == 0 || stat(name, &st) != 0 || !S_ISREG(st.st_mode))
        return 0;
    *size = (uint64_t)st.st_size;
    /* read as JSON Lines (choose_mode): by --format, else by its name */
    if (format == FORMAT_TEXT || format == FORMAT_JSON || (format == FORMAT_AUTO && !json_lines_by_name(name)))
        return 0;
    FILE *f = fopen(name, "rb");
    unsigned char m[4] = {0, 0, 0, 0};
    size_t got = f ? fread(m, 1, 4, f) : 0;
    if (f)
        fclose(f);
    return f && reader_magic(m, got) == READER_PLAIN;
}

int input_count_lines(uint64_t *out, const char *name, uint64_t start, uint64_t end)
{
    reader *r = reader_open(name);
    if (!r || reader_set_range(r, start, end, 0) != 0) {
        reader_free(r);
        return -1;
    }
    const unsigned char *line;
    size_t len;
    int rc;
    while ((rc = reader_line(r, &line, &len)) == 1) {
    }
    *out = reader_line_number(r);
    reader_free(r);
    return rc;
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
    in->id_names = first->id_names;
    in->count = first->count;
    in->parts = first->parts;
    in->first_pass = first;
    *out = in;
    return EXIT_OK;
}

void input_close(input *in)
{
    if (!in)
        return;
    reader_free(in->current);
    reader_pool_free(in->pool); /* the holders (input_hold) are done */
    array_reader_free(&in->array);
    if (!in->first_pass) {
        for (size_t i = 0; i < in->count; i++) {
            free(in->names[i]);
            free(in->id_names ? in->id_names[i] : NULL);
        }
        free(in->names);
        free(in->id_names);
    }
    free(in->seen);
    free(in);
}

int input_open_source(const input *first, size_t source)
{
    const char *name = first->names[source];
    int fd = open(name, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        cli_error("%s: cannot open: %s", name, strerror(errno));
        return -1;
    }
    struct stat st;
    file_identity id = {0};
    if (fstat(fd, &st) == 0)
        id = file_identity_of(&st);
    if (!file_identity_same(&id, &first->seen[source])) {
        file_changed_error(name);
        close(fd);
        return -1;
    }
    return fd;
}

int input_source_unchanged(const input *first, size_t source, int fd)
{
    return file_identity_check(&first->seen[source], fd, first->names[source]);
}

const char *input_source_name(const input *in, size_t source)
{
    return in->names[source];
}

const char *input_source_id(const input *in, size_t source)
{
    return in->id_names[source] ? in->id_names[source] : in->names[source];
}

/* ****  Records  **** */

static int has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Does `name` end in BASE, optionally followed by a compression suffix? */
static int named(const char *name, const char *base)
{
    static const char *const comps[] = {"", ".gz", ".zst", ".zstd"};
    char suffix[32];
    for (size_t c = 0; c < sizeof comps / sizeof *comps; c++) {
        snprintf(suffix, sizeof suffix, "%s%s", base, comps[c]);
        if (has_suffix(name, suffix))
            return 1;
    }
    return 0;
}

/* Is a file of this name read as JSON Lines under --format auto
 * (choose_mode), and so cut by byte ranges under MPI (input_splittable)? */
static int json_lines_by_name(const char *name)
{
    return named(name, ".jsonl") || named(name, ".ndjson");
}

static int is_blank_byte(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Buffer decoded bytes until at least `want` are there, a '\n' is among
 * them (stop_at_newline), or the input ends. Returns 0 or -1. */
static int peek(reader *r, size_t want, int stop_at_newline, const unsigned char **p, size_t *n)
{
    for (;;) {
        int eof = reader_buffered(r, p, n);
        if (eof || *n >= want || (stop_at_newline && memchr(*p, '\n', *n)))
            return 0;
        if (reader_more(r) != 0)
            return -1;
    }
}

/* The first byte past blanks from `from`, buffering as needed; -1 at the
 * end (or past `limit` bytes), -2 on a read error. *at is its offset. */
static int first_byte(reader *r, size_t from, uint64_t limit, size_t *at)
{
    size_t i = from;
    for (;;) {
        const unsigned char *p;
        size_t n;
        int eof = reader_buffered(r, &p, &n);
        while (i < n && is_blank_byte(p[i]))
            i++;
        if (i < n) {
            *at = i;
            return p[i];
        }
        if (eof || (limit && i > limit))
            return -1;
        if (reader_more(r) != 0)
            return -2;
    }
}

/* Is the line at `at` a JSON object? Reads at most `limit` bytes of it; a
 * longer line starting with '{' counts as one (it is then reported as too
 * large rather than read as text). Returns 1, 0, or -1 on a read error. */
static int line_is_object(reader *r, size_t at, uint64_t limit)
{
    const unsigned char *p;
    size_t n;
    for (;;) {
        if (peek(r, at + 1, 1, &p, &n) != 0)
            return -1;
        const unsigned char *nl = memchr(p + at, '\n', n - at);
        int eof = reader_buffered(r, &p, &n);
        if (nl || eof) {
            size_t line_len = nl ? (size_t)(nl - (p + at)) : n - at;
            json_error_t err;
            size_t invalid;
            json_t *v = json_load_text((const char *)p + at, line_len, &err, NULL, &invalid);
            int is_object = v && json_is_object(v);
            json_decref(v);
            return is_object;
        }
        if (limit && n - at > limit)
            return 1;
        if (reader_more(r) != 0)
            return -1;
    }
}

/* The mode of a file by --format, name and content; *bom: it starts with
 * a UTF-8 byte order mark. Returns 0 or -1 (a read error). */
static int choose_mode(input *in, reader *r, const char *name, read_mode *mode, int *bom)
{
    const cli_config *cfg = in->cfg;
    read_mode text = cfg->lines ? MODE_LINES : MODE_WHOLE;
    const unsigned char *p;
    size_t n;
    if (peek(r, 3, 0, &p, &n) != 0)
        return -1;
    *bom = n >= 3 && p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF;
    size_t from = *bom ? 3 : 0, at;
    switch (cfg->format) {
    case FORMAT_TEXT:
        *mode = text;
        return 0;
    case FORMAT_JSONL:
        *mode = MODE_JSON;
        return 0;
    case FORMAT_JSON:
        *mode = MODE_ARRAY;
        return 0;
    case FORMAT_AUTO:
        break;
    }
    if (json_lines_by_name(name)) {
        *mode = MODE_JSON;
        return 0;
    }
    if (named(name, ".txt")) {
        *mode = text;
        return 0;
    }
    int c = first_byte(r, from, cfg->max_doc_bytes, &at);
    if (c == -2)
        return -1;
    if (named(name, ".json")) {
        *mode = c == '[' ? MODE_ARRAY : MODE_JSON;
        return 0;
    }
    *mode = text;
    if (c == '[') {
        int next = first_byte(r, at + 1, cfg->max_doc_bytes, &at);
        if (next == -2)
            return -1;
        if (next == '{' || next == ']')
            *mode = MODE_ARRAY;
    } else if (c == '{') {
        int object = line_is_object(r, at, cfg->max_doc_bytes);
        if (object < 0)
            return -1;
        if (object)
            *mode = MODE_JSON;
    }
    return 0;
}

/* At the end of a regular file, in either pass: is it still the file it
 * was when it was opened (pass 1) or when pass 1 read it (pass 2)? An edit
 * in place during pass 2 was copied to the output, exit 0. Returns 0, or
 * -1 (reported). */
static int unchanged_at_end(input *in, size_t source, const reader *r)
{
    const file_identity *was = in->first_pass ? &in->first_pass->seen[source] : &in->seen[source];
    return file_identity_check(was, reader_fd(r), in->names[source]);
}

static int open_next_source(input *in)
{
    while (in->next < in->count) {
        size_t source = in->next++;
        reader *r = reader_open(in->names[source]);
        if (!r)
            return -1;
        if (in->pool)
            reader_keep_blocks(r, in->pool);
        struct stat st = {0};
        if (fstat(reader_fd(r), &st) == 0) {
            file_identity id = file_identity_of(&st);
            if (in->first_pass && !file_identity_same(&id, &in->first_pass->seen[source])) {
                file_changed_error(in->names[source]);
                reader_free(r);
                return -1;
            }
            in->seen[source] = id;
        }
        if (in->first_pass && !in->parts && in->cfg->threads > 1)
            reader_read_ahead(r); /* the second pass: read() overlaps the rest */
        in->current = r;
        in->current_source = source;
        int bom = 0;
        if (in->parts && !in->parts[source].whole) {
            const input_part *part = &in->parts[source];
            in->mode = MODE_JSON;
            /* the limit after the range's start: the line that ends there
             * is the previous range's, read through (and judged) there */
            if (reader_set_range(r, part->start, part->end, part->first_line) != 0)
                return -1;
            reader_set_limit(r, in->cfg->max_doc_bytes, in->cfg->on_error == ON_ERROR_SKIP);
            const unsigned char *p;
            size_t n;
            if (part->start == 0 && peek(r, 3, 0, &p, &n) != 0)
                return -1;
            bom = part->start == 0 && n >= 3 && p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF;
        } else {
            reader_set_limit(r, in->cfg->max_doc_bytes, in->cfg->on_error == ON_ERROR_SKIP);
            if (choose_mode(in, r, in->names[source], &in->mode, &bom) != 0)
                return -1;
        }
        if (bom && (in->mode == MODE_JSON || in->mode == MODE_ARRAY)) {
            reader_consume(r, 3);
            if (!in->first_pass)
                cli_warn("%s: skipped a UTF-8 byte order mark before the JSON", in->names[source]);
        }
        in->offset_bias = bom && (in->mode == MODE_JSON || in->mode == MODE_ARRAY) ? 3 : 0;
        in->locating = (in->mode == MODE_JSON || in->mode == MODE_LINES) && !reader_compressed(r) &&
                       strcmp(in->names[source], "-") != 0 && S_ISREG(st.st_mode);
        if (in->mode == MODE_ARRAY) {
            array_reader_free(&in->array);
            array_reader_init(&in->array, in->names[source], in->cfg->max_doc_bytes,
                              in->cfg->on_error == ON_ERROR_SKIP);
        }
        return 1;
    }
    return 0;
}

/* A document past --max-doc-bytes: an error (fail), or a record that says
 * so (skip). Returns 1 or -1. */
static int too_large(input *in, record *rec, uint64_t line)
{
    const char *name = in->names[in->current_source];
    if (in->cfg->on_error == ON_ERROR_FAIL) {
        if (line)
            cli_error("%s:%llu: a document larger than --max-doc-bytes (%llu bytes)", name, (unsigned long long)line,
                      (unsigned long long)in->cfg->max_doc_bytes);
        else
            cli_error("%s: a document larger than --max-doc-bytes (%llu bytes)", name,
                      (unsigned long long)in->cfg->max_doc_bytes);
        cli_error("stopping (use --on-error skip to skip such records)");
        return -1;
    }
    rec->data = malloc(1);
    if (!rec->data) {
        cli_error("out of memory");
        return -1;
    }
    rec->len = 0;
    rec->line = line;
    rec->kind = RECORD_TOO_LARGE;
    return 1;
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

int input_keep_blocks(input *in, size_t block_size)
{
    if (!in->pool && !(in->pool = reader_pool_new(block_size))) {
        cli_error("out of memory");
        return -1;
    }
    return 0;
}

reader_block *input_hold(input *in, const record *rec, reader_block *last)
{
    if (!in->pool || !in->current || !rec->borrowed)
        return NULL;
    return reader_hold(in->current, rec->data, last);
}

void input_release(reader_block *b)
{
    reader_release(b);
}

void input_trim_blocks(input *in)
{
    reader_pool_trim(in->pool);
}

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
    rec->located = 0;
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
            int got = reader_rest(r, &all, &all_len);
            if (got < 0)
                return -1;
            int rc = got == 2 ? too_large(in, rec, 0) : copy_record(rec, all, all_len) == 0 ? 1 : -1;
            if (got != 2) {
                rec->line = 0;
                rec->kind = RECORD_TEXT;
            }
            if (got != 2 && rc == 1 && !in->parts && unchanged_at_end(in, in->current_source, r) != 0) {
                free(rec->data);
                rc = -1;
            }
            reader_free(r);
            in->current = NULL;
            return rc;
        }
        const unsigned char *line;
        size_t len;
        int rc;
        if (in->mode == MODE_ARRAY) {
            const char *element;
            uint64_t at;
            rc = array_reader_next(&in->array, r, &element, &len, &at);
            line = (const unsigned char *)element;
            rec->line = at;
        } else {
            rec->offset = reader_offset(r) + in->offset_bias;
            rc = reader_line(r, &line, &len);
            rec->line = reader_line_number(r);
        }
        if (rc < 0)
            return -1;
        if (rc == 0) {
            int changed = !in->parts && unchanged_at_end(in, in->current_source, r) != 0;
            reader_free(r);
            in->current = NULL;
            if (changed)
                return -1;
            continue;
        }
        if (rc == 2)
            return too_large(in, rec, rec->line);
        if (in->mode == MODE_JSON && is_blank(line, len))
            continue; /* blank lines between JSON records are not records */
        if (in->mode == MODE_LINES && len > 0 && line[len - 1] == '\r')
            len--;
        rec->kind = in->mode == MODE_LINES ? RECORD_TEXT : RECORD_JSON;
        rec->located = in->locating;
        if (borrow) {
            rec->data = (char *)(uintptr_t)line; /* read-only use by the caller */
            rec->len = len;
            rec->borrowed = 1;
            return 1;
        }
        return copy_record(rec, line, len) == 0 ? 1 : -1;
    }
}
