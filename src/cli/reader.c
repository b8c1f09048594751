/* reader.c - one file (or stdin) as a stream of decoded bytes and lines.
 *
 * Raw bytes come from the descriptor; when the first bytes are a gzip
 * (1f 8b) or zstd (28 b5 2f fd, or a skippable frame's 5X 2a 4d 18: pzstd
 * starts its files with one) magic number they go through a streaming
 * decompressor (zlib's inflate with automatic gzip header detection,
 * restarted for concatenated members; ZSTD's decompressStream). Decoded
 * bytes wait in one buffer that grows only to the longest line (or the
 * whole document, for a file read as one), so memory stays bounded by
 * what the caller asks for at once; with a limit (reader_set_limit,
 * --max-doc-bytes) a longer line or document is dropped or refused once
 * the buffer passes it, so an endless line cannot grow it.
 *
 * A byte range (reader_set_range, for one large JSON Lines file read by
 * several processes) starts one byte early and drops the line that byte
 * ends, so it begins with the first line starting inside the range
 * whatever byte the range starts on; the reader then counts the bytes its
 * lines take and ends before the first line that starts past the range.
 *
 * Kept blocks (reader_keep_blocks, for the pipeline's batches): the
 * decoded bytes go into blocks of a pool instead, and a caller may hold
 * the block a line is in (reader_hold) to keep the line's bytes where they
 * were read until it releases the block: a batch of records then owns the
 * bytes read() put there, with no copy of its own. A held block is never
 * written over nor moved: when it runs out of room the reader goes on in
 * another block (a released one of the pool's when there is one), into
 * which only the line it is in the middle of is copied; a block nobody
 * holds is used as the buffer above is (moved to its start, grown).
 *
 * Read-ahead (reader_read_ahead, for the second pass over a regular file
 * of more than two chunks with --threads above 1): the read() calls are
 * made on a thread of its own (readahead.c) while the caller finds the
 * lines. Only uncompressed bytes are read ahead (a decompressor is the
 * costlier part of a compressed file's reading).
 */
#include "reader.h"

#include <errno.h>    /* errno */
#include <fcntl.h>    /* open */
#include <sys/stat.h> /* fstat, S_ISREG */
#include <stdlib.h>   /* malloc, realloc, free */
#include <string.h>   /* memchr, memcpy, memmove, strcmp, strerror */
#include <unistd.h>   /* read, close, lseek */

#include <zlib.h> /* inflate */
#include <zstd.h> /* ZSTD_decompressStream */

#include "cli.h"
#include "readahead.h" /* read_ahead: reader_read_ahead */
#include "readblock.h"

typedef enum { COMP_NONE, COMP_GZIP, COMP_ZSTD } compression;

struct reader {
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
    int ranged;         /* reader_set_range: stop at range_end */
    uint64_t offset;    /* byte offset of the next line (ranged) */
    uint64_t range_end; /* lines starting at or past it are not read */
    uint64_t limit;     /* reader_set_limit: longest line or document; 0 = none */
    int drain;          /* read a too long line through (else stop at the limit) */
    int want_ahead;     /* reader_read_ahead: start the thread at the first plain read */
    read_ahead *ahead;  /* the read-ahead thread, once started */
    reader_pool *pool;  /* reader_keep_blocks: buf is block->data */
    reader_block *block;
    size_t small; /* a plain file smaller than a block: its size + 1, the most a block or a read takes; else 0 */
};

enum { RAW_CHUNK = 1 << 16 };

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

static int reserve_block(reader *r, size_t want);

/* Make room for at least `want` more decoded bytes at the end of buf. */
static int reserve_decoded(reader *r, size_t want)
{
    if (r->pool)
        return reserve_block(r, want);
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

/* reserve_decoded() in kept mode: when the block is held, the line in the
 * making goes on in another block (copied there: the only copy of its
 * bytes); else the block is used as the plain buffer is. */
static int reserve_block(reader *r, size_t want)
{
    reader_block *b = r->block;
    size_t rest = r->len - r->pos;
    if (b && r->len + want <= b->cap)
        return 0;
    if (!b || b->refs > 1) {
        /* several times the line in the making: the lines after it then
         * fill most of the block before the one that straddles its end
         * (copied out, and wasted in it: half a line on average) */
        size_t need = r->small ? r->small : r->pool->block_size;
        while (need < rest + want || need / 16 < rest)
            need *= 2;
        reader_block *fresh = reader_block_get(r->pool, need);
        if (!fresh) {
            cli_error("%s: out of memory", r->name);
            return -1;
        }
        if (rest)
            memcpy(fresh->data, r->buf + r->pos, rest);
        reader_release(b);
        r->block = fresh;
    } else {
        if (r->pos > 0) {
            memmove(b->data, b->data + r->pos, rest);
            if (rest + want <= b->cap) {
                r->buf = b->data;
                r->len = rest;
                r->pos = 0;
                r->cap = b->cap;
                return 0;
            }
        }
        size_t cap = b->cap;
        while (cap < rest + want)
            cap *= 2;
        reader_block *grown;
        if (b->slab != (size_t)READER_NO_SLAB) {
            /* cut from a slab (readblock.c): not realloc'd, moved */
            grown = reader_block_get(r->pool, cap);
            if (grown) {
                memcpy(grown->data, b->data, rest);
                reader_release(b);
            }
        } else if ((grown = realloc(b, sizeof *b + cap)) != NULL) {
            grown->cap = cap;
        }
        if (!grown) {
            cli_error("%s: out of memory", r->name);
            return -1;
        }
        r->block = grown;
    }
    r->buf = r->block->data;
    r->len = rest;
    r->pos = 0;
    r->cap = r->block->cap;
    return 0;
}

void reader_keep_blocks(reader *r, reader_pool *pool)
{
    r->pool = pool;
    /* A plain file smaller than a block gets blocks of its own size: the
     * records of many small files are held at once (a batch's, each in
     * its file's block), and a block each of the usual size was 200 KB of
     * memory a file (1,600 files of a line each: 314 MB). */
    struct stat st;
    if (r->comp == COMP_NONE && r->fd > 0 && fstat(r->fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size >= 0 &&
        (uint64_t)st.st_size < pool->block_size)
        r->small = (size_t)st.st_size + 1;
}

reader_block *reader_hold(reader *r, const void *data, reader_block *last)
{
    reader_block *b = r->block;
    const unsigned char *p = data;
    if (!b || p < b->data || p > b->data + r->len)
        return NULL;
    if (b != last)
        b->refs++;
    return b;
}

/* fill() from the read-ahead ring (readahead.c), up to the room in buf.
 * Returns 0 (maybe setting eof), -1 on a read error. */
static int fill_ahead(reader *r)
{
    int err = 0;
    size_t n = read_ahead_take(r->ahead, r->buf + r->len, r->cap - r->len, &err);
    if (n == 0) {
        if (err) {
            cli_error("%s: read error: %s", r->name, strerror(err));
            return -1;
        }
        r->raw_eof = r->eof = 1;
        return 0;
    }
    r->len += n;
    return 0;
}

/* Decode more bytes into buf. Returns 0 (maybe setting eof), -1 on error. */
static int fill(reader *r)
{
    if (r->eof)
        return 0;
    if (reserve_decoded(r, r->small && r->small < RAW_CHUNK ? r->small : RAW_CHUNK) != 0)
        return -1;
    if (r->comp == COMP_NONE && r->raw_pos == r->raw_len && !r->raw_eof) {
        if (r->want_ahead && !r->ahead) {
            r->want_ahead = 0;
            r->ahead = read_ahead_start(r->fd);
        }
        if (r->ahead)
            return fill_ahead(r);
        /* plain bytes go straight into buf (once the bytes the sniff read
         * are through): a copy through `raw` cost as much as the kernel's */
        ssize_t n;
        do {
            n = read(r->fd, r->buf + r->len, r->cap - r->len);
        } while (n < 0 && errno == EINTR);
        if (n < 0) {
            cli_error("%s: read error: %s", r->name, strerror(errno));
            return -1;
        }
        if (n == 0)
            r->raw_eof = r->eof = 1;
        r->len += (size_t)n;
        return 0;
    }
    if (fill_raw(r) != 0)
        return -1;
    size_t avail_in = r->raw_len - r->raw_pos;
    if (r->comp == COMP_NONE) {
        if (avail_in == 0 && r->raw_eof) { /* the bytes the sniff read come first */
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

void reader_free(reader *r)
{
    if (!r)
        return;
    if (r->ahead)
        read_ahead_stop(r->ahead); /* before the descriptor it reads is closed */
    if (r->fd > 0)
        close(r->fd);
    if (r->z_ready)
        inflateEnd(&r->z);
    ZSTD_freeDStream(r->zs);
    free(r->raw);
    if (r->pool)
        reader_release(r->block);
    else
        free(r->buf);
    free(r);
}

int reader_magic(const unsigned char *m, size_t n)
{
    if (n >= 2 && m[0] == 0x1f && m[1] == 0x8b)
        return READER_GZIP;
    if (n >= 4 && m[0] == 0x28 && m[1] == 0xb5 && m[2] == 0x2f && m[3] == 0xfd)
        return READER_ZSTD;
    if (n >= 4 && (m[0] & 0xf0) == 0x50 && m[1] == 0x2a && m[2] == 0x4d && m[3] == 0x18)
        return READER_ZSTD; /* a skippable frame (0x184D2A50 to 0x184D2A5F, little-endian) */
    return READER_PLAIN;
}

reader *reader_open(const char *name)
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
    int magic = reader_magic(r->raw, r->raw_len);
    if (magic == READER_GZIP) {
        r->comp = COMP_GZIP;
        if (inflateInit2(&r->z, 15 + 32) != Z_OK) {
            cli_error("%s: cannot start gzip decoder", name);
            reader_free(r);
            return NULL;
        }
        r->z_ready = 1;
    } else if (magic == READER_ZSTD) {
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

/* Drop the rest of a line longer than the limit, in bounded memory: the
 * buffer is emptied as it is scanned. Returns 2, or -1 on a read error. */
static int drop_long_line(reader *r)
{
    uint64_t dropped = 0;
    for (;;) {
        size_t avail = r->len - r->pos;
        unsigned char *nl = avail ? memchr(r->buf + r->pos, '\n', avail) : NULL;
        if (nl) {
            size_t n = (size_t)(nl - (r->buf + r->pos)) + 1;
            r->pos += n;
            r->offset += dropped + n;
            r->line++;
            return 2;
        }
        dropped += avail;
        r->pos = r->len;
        if (r->eof) {
            r->offset += dropped;
            r->line++;
            return 2;
        }
        if (fill(r) != 0)
            return -1;
    }
}

/* Is a line of `len` bytes at `line` over the limit? Its '\r' before the
 * '\n' (a CRLF file) is not counted: a record of exactly the limit took
 * one byte too many there before. */
static int over_limit(const reader *r, const unsigned char *line, size_t len)
{
    return r->limit && len - (len > 0 && line[len - 1] == '\r') > r->limit;
}

/* Next line (without '\n') as [*start, *start + *len) inside r->buf, valid
 * until the next call. Returns 1, 0 at the end, 2 for a line longer than
 * the limit (skipped), -1 on error. */
int reader_line(reader *r, const unsigned char **start, size_t *len)
{
    size_t scanned = 0;
    if (r->ranged && r->offset >= r->range_end)
        return 0;
    for (;;) {
        size_t avail = r->len - r->pos - scanned;
        unsigned char *nl = avail ? memchr(r->buf + r->pos + scanned, '\n', avail) : NULL;
        if (nl) {
            *start = r->buf + r->pos;
            *len = (size_t)(nl - *start);
            if (over_limit(r, *start, *len)) {
                r->pos += *len + 1;
                r->offset += *len + 1;
                r->line++;
                return 2;
            }
            r->pos += *len + 1;
            r->line++;
            r->offset += *len + 1;
            return 1;
        }
        /* no '\n' yet, and more bytes than the limit and a '\r' after it: over */
        if (r->limit && r->len - r->pos > r->limit + 1) {
            if (r->drain)
                return drop_long_line(r);
            r->line++;
            return 2;
        }
        if (r->eof) {
            if (r->pos == r->len)
                return 0;
            *start = r->buf + r->pos;
            *len = r->len - r->pos;
            r->pos = r->len;
            r->line++;
            r->offset += *len;
            return over_limit(r, *start, *len) ? 2 : 1;
        }
        size_t before = r->len - r->pos;
        if (fill(r) != 0)
            return -1;
        /* fill() may move the buffer; rescan only the new bytes */
        scanned = before < (r->len - r->pos) ? before : (r->len - r->pos);
    }
}

void reader_set_limit(reader *r, uint64_t limit, int drain)
{
    r->limit = limit;
    r->drain = drain;
}

void reader_consume(reader *r, size_t n)
{
    r->pos += n;
}

int reader_set_range(reader *r, uint64_t start, uint64_t end, uint64_t first_line)
{
    if (r->comp != COMP_NONE || r->fd == 0) {
        cli_error("%s: only an uncompressed file can be read by byte ranges", r->name);
        return -1;
    }
    uint64_t from = start > 0 ? start - 1 : 0;
    if (lseek(r->fd, (off_t)from, SEEK_SET) == (off_t)-1) {
        cli_error("%s: cannot seek: %s", r->name, strerror(errno));
        return -1;
    }
    r->raw_len = r->raw_pos = 0;
    r->raw_eof = 0;
    r->len = r->pos = 0;
    r->eof = 0;
    r->offset = from;
    if (start > 0) {
        /* drop the end of the line that byte start - 1 belongs to (just
         * its '\n' when a line starts at `start`) */
        const unsigned char *line;
        size_t len;
        if (reader_line(r, &line, &len) < 0)
            return -1;
    }
    r->ranged = 1;
    r->range_end = end;
    r->line = first_line;
    return 0;
}

void reader_read_ahead(reader *r)
{
    struct stat st;
    /* not for a file read in one or two reads: a thread and its chunks
     * (4 MiB) for each of thousands of small files made pass 2 slower with
     * two threads than with one */
    if (r->comp == COMP_NONE && r->fd > 0 && fstat(r->fd, &st) == 0 && S_ISREG(st.st_mode) &&
        st.st_size > 2 * AHEAD_CHUNK)
        r->want_ahead = 1;
}

int reader_fd(const reader *r)
{
    return r->fd;
}

uint64_t reader_line_number(const reader *r)
{
    return r->line;
}

uint64_t reader_offset(const reader *r)
{
    return r->offset;
}

int reader_compressed(const reader *r)
{
    return r->comp != COMP_NONE;
}

int reader_buffered(reader *r, const unsigned char **data, size_t *len)
{
    *data = r->buf ? r->buf + r->pos : (const unsigned char *)"";
    *len = r->len - r->pos;
    return r->eof;
}

int reader_more(reader *r)
{
    return fill(r);
}

int reader_rest(reader *r, const unsigned char **data, size_t *len)
{
    while (!r->eof) {
        if (r->limit && r->len - r->pos > r->limit)
            return 2; /* more than the limit: left unread */
        if (fill(r) != 0)
            return -1;
    }
    if (r->limit && r->len - r->pos > r->limit)
        return 2;
    *data = r->buf ? r->buf + r->pos : NULL;
    *len = r->len - r->pos;
    r->pos = r->len;
    return 0;
}
