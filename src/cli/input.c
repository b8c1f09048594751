/* input.c - files, directories and stdin to records; gzip and zstd by
 * content; JSON Lines by name or content. See input.h.
 *
 * Each file goes through one reader: raw bytes from the descriptor, then,
 * when the first bytes are a gzip (1f 8b) or zstd (28 b5 2f fd) magic
 * number, a streaming decompressor (zlib's inflate with automatic gzip
 * header detection, restarted for concatenated members; ZSTD's
 * decompressStream). Memory stays bounded by the longest line or document.
 */
#include "input.h"

#include "json.h"

#include <dirent.h>   /* opendir, readdir */
#include <errno.h>    /* errno */
#include <fcntl.h>    /* open */
#include <stdlib.h>   /* malloc, realloc, qsort */
#include <string.h>   /* memchr, strerror */
#include <sys/stat.h> /* stat */
#include <unistd.h>   /* read, close */

#include <jansson.h> /* json_t: content sniffing */
#include <zlib.h>    /* inflate */
#include <zstd.h>    /* ZSTD_decompressStream */

typedef enum { COMP_NONE, COMP_GZIP, COMP_ZSTD } compression;
typedef enum { MODE_WHOLE, MODE_LINES, MODE_JSON } read_mode;

typedef struct reader {
    int fd;
    const char *name;
    compression comp;
    unsigned char *raw; /* compressed bytes waiting to be decoded */
    size_t raw_len, raw_pos;
    int raw_eof;
    z_stream z;
    int z_ready;
    ZSTD_DStream *zs;
    size_t zstd_last;   /* last ZSTD_decompressStream result: 0 = a frame just ended */
    unsigned char *buf; /* decoded bytes: [pos, len) not yet consumed */
    size_t len, pos, cap;
    int eof; /* no more decoded bytes will come */
    uint64_t line;
} reader;

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

enum { RAW_CHUNK = 1 << 16 };

/* ****  Readers  **** */

static int fill_raw(reader *r)
{
    if (r->raw_pos < r->raw_len || r->raw_eof)
        return 0;
    ssize_t n;
    do {
        n = read(r->fd, r->raw, RAW_CHUNK);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        cli_error("%s: read error: %s", r->name, strerror(errno));
        return -1;
    }
    r->raw_len = (size_t)n;
    r->raw_pos = 0;
    if (n == 0)
        r->raw_eof = 1;
    return 0;
}

/* Make room for at least `want` more decoded bytes at the end of buf. */
static int reserve_decoded(reader *r, size_t want)
{
    if (r->pos > 0 && r->pos == r->len) {
        r->pos = r->len = 0;
    }
    if (r->len + want <= r->cap)
        return 0;
    if (r->pos > 0) {
        memmove(r->buf, r->buf + r->pos, r->len - r->pos);
        r->len -= r->pos;
        r->pos = 0;
        if (r->len + want <= r->cap)
            return 0;
    }
    size_t cap = r->cap ? r->cap : RAW_CHUNK;
    while (cap < r->len + want)
        cap *= 2;
    unsigned char *grown = realloc(r->buf, cap);
    if (!grown) {
        cli_error("%s: out of memory", r->name);
        return -1;
    }
    r->buf = grown;
    r->cap = cap;
    return 0;
}

/* Decode more bytes into buf. Returns 0 (maybe setting eof), -1 on error. */
static int fill(reader *r)
{
    if (r->eof)
        return 0;
    if (reserve_decoded(r, RAW_CHUNK) != 0)
        return -1;
    if (fill_raw(r) != 0)
        return -1;
    size_t avail_in = r->raw_len - r->raw_pos;
    if (r->comp == COMP_NONE) {
        if (r->raw_eof) {
            r->eof = 1;
            return 0;
        }
        memcpy(r->buf + r->len, r->raw + r->raw_pos, avail_in);
        r->len += avail_in;
        r->raw_pos = r->raw_len;
        return 0;
    }
    if (r->comp == COMP_GZIP) {
        if (r->z_ready == 2) {
            if (r->raw_eof && avail_in == 0) {
                r->eof = 1;
                return 0;
            }
            if (inflateReset(&r->z) != Z_OK) { /* another gzip member follows */
                cli_error("%s: gzip reset failed", r->name);
                return -1;
            }
            r->z_ready = 1;
        }
        r->z.next_in = r->raw + r->raw_pos;
        r->z.avail_in = (uInt)avail_in;
        r->z.next_out = r->buf + r->len;
        r->z.avail_out = (uInt)(r->cap - r->len);
        int zrc = inflate(&r->z, Z_NO_FLUSH);
        if (zrc != Z_OK && zrc != Z_STREAM_END && zrc != Z_BUF_ERROR) {
            cli_error("%s: gzip data is corrupt: %s", r->name, r->z.msg ? r->z.msg : "inflate failed");
            return -1;
        }
        size_t produced = (r->cap - r->z.avail_out) - r->len;
        r->raw_pos = r->raw_len - r->z.avail_in;
        r->len += produced;
        if (zrc == Z_STREAM_END)
            r->z_ready = 2;
        else if (produced == 0 && r->raw_eof && r->raw_pos == r->raw_len) {
            cli_error("%s: gzip data is truncated", r->name);
            return -1;
        }
        return 0;
    }
    /* zstd */
    ZSTD_inBuffer zin = {r->raw + r->raw_pos, avail_in, 0};
    ZSTD_outBuffer zout = {r->buf + r->len, r->cap - r->len, 0};
    size_t zrc = ZSTD_decompressStream(r->zs, &zout, &zin);
    if (ZSTD_isError(zrc)) {
        cli_error("%s: zstd data is corrupt: %s", r->name, ZSTD_getErrorName(zrc));
        return -1;
    }
    r->raw_pos += zin.pos;
    r->len += zout.pos;
    if (zout.pos == 0 && zin.pos == 0 && r->raw_eof && r->raw_pos == r->raw_len) {
        /* no progress and no more input: fine only right after a frame ended */
        if (r->zstd_last != 0) {
            cli_error("%s: zstd data is truncated", r->name);
            return -1;
        }
        r->eof = 1;
        return 0;
    }
    r->zstd_last = zrc;
    return 0;
}

static void reader_free(reader *r)
{
    if (!r)
        return;
    if (r->fd > 0)
        close(r->fd);
    if (r->z_ready)
        inflateEnd(&r->z);
    ZSTD_freeDStream(r->zs);
    free(r->raw);
    free(r->buf);
    free(r);
}

static reader *reader_open(const char *name)
{
    reader *r = calloc(1, sizeof *r);
    if (!r) {
        cli_error("%s: out of memory", name);
        return NULL;
    }
    r->name = name;
    r->raw = malloc(RAW_CHUNK);
    if (!r->raw) {
        free(r);
        cli_error("%s: out of memory", name);
        return NULL;
    }
    if (strcmp(name, "-") == 0) {
        r->fd = 0;
    } else {
        r->fd = open(name, O_RDONLY);
        if (r->fd < 0) {
            cli_error("%s: cannot open: %s", name, strerror(errno));
            free(r->raw);
            free(r);
            return NULL;
        }
    }
    /* Sniff the compression from the first bytes. */
    while (r->raw_len < 4 && !r->raw_eof) {
        ssize_t n = read(r->fd, r->raw + r->raw_len, RAW_CHUNK - r->raw_len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            cli_error("%s: read error: %s", name, strerror(errno));
            reader_free(r);
            return NULL;
        }
        if (n == 0)
            r->raw_eof = 1;
        r->raw_len += (size_t)n;
    }
    const unsigned char *m = r->raw;
    if (r->raw_len >= 2 && m[0] == 0x1f && m[1] == 0x8b) {
        r->comp = COMP_GZIP;
        if (inflateInit2(&r->z, 15 + 32) != Z_OK) {
            cli_error("%s: cannot start gzip decoder", name);
            reader_free(r);
            return NULL;
        }
        r->z_ready = 1;
    } else if (r->raw_len >= 4 && m[0] == 0x28 && m[1] == 0xb5 && m[2] == 0x2f && m[3] == 0xfd) {
        r->comp = COMP_ZSTD;
        r->zs = ZSTD_createDStream();
        r->zstd_last = 1; /* no frame decoded yet */
        if (!r->zs) {
            cli_error("%s: cannot start zstd decoder", name);
            reader_free(r);
            return NULL;
        }
    }
    return r;
}

/* Next line (without '\n') as [*start, *start + *len) inside r->buf, valid
 * until the next call. Returns 1, 0 at the end, -1 on error. */
static int reader_line(reader *r, const unsigned char **start, size_t *len)
{
    size_t scanned = 0;
    for (;;) {
        size_t avail = r->len - r->pos - scanned;
        unsigned char *nl = avail ? memchr(r->buf + r->pos + scanned, '\n', avail) : NULL;
        if (nl) {
            *start = r->buf + r->pos;
            *len = (size_t)(nl - *start);
            r->pos += *len + 1;
            r->line++;
            return 1;
        }
        if (r->eof) {
            if (r->pos == r->len)
                return 0;
            *start = r->buf + r->pos;
            *len = r->len - r->pos;
            r->pos = r->len;
            r->line++;
            return 1;
        }
        size_t before = r->len - r->pos;
        if (fill(r) != 0)
            return -1;
        /* fill() may move the buffer; rescan only the new bytes */
        scanned = before < (r->len - r->pos) ? before : (r->len - r->pos);
    }
}

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
        size_t avail = r->len - r->pos;
        const unsigned char *p = r->buf ? r->buf + r->pos : (const unsigned char *)"";
        size_t i = 0;
        while (i < avail && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n'))
            i++;
        if (i < avail && p[i] != '{')
            return 0;
        const unsigned char *nl = i < avail ? memchr(p + i, '\n', avail - i) : NULL;
        if ((i < avail && nl) || r->eof || avail > (1u << 24)) {
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
        if (fill(r) != 0) {
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
        if (fstat(r->fd, &st) == 0) {
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
            while (!r->eof) {
                if (fill(r) != 0)
                    return -1;
            }
            int rc = copy_record(rec, r->buf ? r->buf + r->pos : NULL, r->len - r->pos);
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
        rec->line = r->line;
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
