/* unit_line.c - one group's JSON line of scan --unit (unit_output_group):
 * the group's number, size and documents, every occurrence's id and
 * offsets, their Jaccard, the preview and the profile.
 *
 * A group of a syndicated corpus lists thousands of occurrences, and a
 * paragraph mode's output is a hundred times a document mode's: the line
 * is made in a buffer with the JSON written here (the bytes out_string
 * and out_number would write), the usual occurrence in one piece
 * (put_occurrence). Split out of unit_output.c, which reads the previews
 * and writes the groups and dedup's documents. */
#include "unit_output.h"

#include <stdint.h> /* uint64_t */
#include <string.h> /* strlen, memcpy */

/* A group's line is made in a buffer and written in large pieces: a
 * group lists every occurrence's id and offsets, and a stdio call per
 * field (each taking the stream's lock) was most of writing them. */
typedef struct line_buf {
    FILE *out;
    size_t used;
    char bytes[4096];
} line_buf;

enum { LINE_ROOM = 64 }; /* the most a put_size or put_number adds */

static void flush_line(line_buf *b)
{
    fwrite(b->bytes, 1, b->used, b->out);
    b->used = 0;
}

/* Room for LINE_ROOM more bytes. */
static char *line_room(line_buf *b)
{
    if (sizeof b->bytes - b->used < LINE_ROOM)
        flush_line(b);
    return b->bytes + b->used;
}

static void put_bytes(line_buf *b, const char *s, size_t n)
{
    if (n > sizeof b->bytes - b->used) {
        flush_line(b);
        if (n > sizeof b->bytes) {
            fwrite(s, 1, n, b->out);
            return;
        }
    }
    memcpy(b->bytes + b->used, s, n);
    b->used += n;
}

#define PUT_LITERAL(b, s) put_bytes((b), (s), sizeof(s) - 1)

/* n (below 10^8) in decimal at `to`, as "%zu"; returns its length. */
static size_t small_decimal(char *to, size_t n)
{
    static const char pairs[] = "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
                                "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
                                "8081828384858687888990919293949596979899";
    size_t len = n < 10         ? 1
                 : n < 100      ? 2
                 : n < 1000     ? 3
                 : n < 10000    ? 4
                 : n < 100000   ? 5
                 : n < 1000000  ? 6
                 : n < 10000000 ? 7
                                : 8;
    char *at = to + len;
    while (n >= 100) {
        size_t r = n % 100;
        n /= 100;
        at -= 2;
        memcpy(at, pairs + 2 * r, 2);
    }
    if (n >= 10)
        memcpy(at - 2, pairs + 2 * n, 2);
    else
        at[-1] = (char)('0' + n);
    return len;
}

/* n in decimal, as "%zu" */
static void put_size(line_buf *b, size_t n)
{
    char *at = line_room(b);
    if (n < 100000000) { /* the usual group number or size */
        b->used += small_decimal(at, n);
        return;
    }
    char digits[24];
    size_t first = sizeof digits;
    do {
        digits[--first] = (char)('0' + n % 10);
        n /= 10;
    } while (n);
    memcpy(at, digits + first, sizeof digits - first);
    b->used += sizeof digits - first;
}

/* The length of the well-formed UTF-8 sequence at s[i] (s[i] >= 0x80), or
 * 0 when it is ill-formed: the sequences nd_utf8_repair() keeps as they
 * are (Unicode's table of well-formed byte sequences). */
static size_t utf8_sequence(const unsigned char *s, size_t i, size_t n)
{
    unsigned char c = s[i], lo = 0x80, hi = 0xBF;
    size_t len;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        lo = c == 0xE0 ? 0xA0 : 0x80; /* no overlong forms */
        hi = c == 0xED ? 0x9F : 0xBF; /* no surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        lo = c == 0xF0 ? 0x90 : 0x80;
        hi = c == 0xF4 ? 0x8F : 0xBF; /* nothing past U+10FFFF */
    } else {
        return 0;
    }
    if (n - i < len || s[i + 1] < lo || s[i + 1] > hi)
        return 0;
    for (size_t k = 2; k < len; k++) {
        if ((s[i + k] & 0xC0) != 0x80)
            return 0;
    }
    return len;
}

/* s as a JSON string, the bytes out_string writes: a string of
 * well-formed UTF-8 without control characters (the usual id and preview)
 * is written here with '"' and '\\' escaped, as out_string's own fast path
 * writes it after checking a repaired copy; anything else goes through
 * out_string */
/* Does the word x (8 bytes of a string) hold a byte below 0x20, at 0x80 or
 * above, '"' or '\\'? ("Determine if a word has a byte less than n", Bit
 * Twiddling Hacks: exact as a yes or no for n <= 128; a byte equal to c is
 * a byte of x ^ c less than 1.) */
static uint64_t word_care(uint64_t x)
{
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    const uint64_t quote = x ^ (ones * '"'), backslash = x ^ (ones * '\\');
#define HAS_LESS(v, n) (((v)-ones * (n)) & ~(v)&highs)
    return (x & highs) | HAS_LESS(x, 0x20) | HAS_LESS(quote, 1) | HAS_LESS(backslash, 1);
#undef HAS_LESS
}

static int word_needs_care(uint64_t x)
{
    return word_care(x) != 0;
}

static void put_string(line_buf *b, const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    /* s[0, plain): printable ASCII with nothing to escape, checked 8 bytes
     * at a time (a usual id is all of it, a preview most of it) */
    size_t plain = 0;
    while (plain + 8 <= n) {
        uint64_t x;
        memcpy(&x, s + plain, 8);
        if (word_needs_care(x))
            break;
        plain += 8;
    }
    while (plain < n && u[plain] >= 0x20 && u[plain] < 0x80 && u[plain] != '"' && u[plain] != '\\')
        plain++;
    for (size_t i = plain; i < n;) {
        size_t k = u[i] < 0x80 ? u[i] >= 0x20 : utf8_sequence(u, i, n);
        if (k == 0) {
            flush_line(b);
            out_string(b->out, s, n);
            return;
        }
        i += k;
    }
    PUT_LITERAL(b, "\"");
    size_t from = 0;
    for (size_t i = plain; i < n; i++) {
        if (s[i] == '"' || s[i] == '\\') {
            put_bytes(b, s + from, i - from);
            PUT_LITERAL(b, "\\");
            from = i; /* the character itself opens the next run */
        }
    }
    put_bytes(b, s + from, n - from);
    PUT_LITERAL(b, "\"");
}

/* x as out_number writes it ("%.6g") */
static void put_number(line_buf *b, double x)
{
    char *at = line_room(b);
    if (x == 1.0) {
        *at = '1';
        b->used++;
        return;
    }
    int n = snprintf(at, LINE_ROOM, "%.6g", x);
    if (n > 0 && n < LINE_ROOM) {
        b->used += (size_t)n;
    } else {
        flush_line(b);
        out_number(b->out, x);
    }
}

/* Most occurrences at once: {"id":ID,"start":S,"end":E} (after a comma
 * when `comma`), for an id of printable ASCII without '"' or '\\' (as
 * put_string writes it: the usual id) of up to OCCURRENCE_ID bytes and
 * offsets below 10^8, in one reservation of the buffer. Returns 1 if it
 * wrote it, 0 (nothing written) for the general way. */
enum { OCCURRENCE_ID = 64, SMALL_DECIMAL = 100000000 };

static int put_occurrence(line_buf *b, int comma, const char *id, size_t id_len, nd_span span)
{
    if (id_len > OCCURRENCE_ID || span.start >= SMALL_DECIMAL || span.end >= SMALL_DECIMAL)
        return 0;
    /* the most it writes: the literals (34 bytes), the id, two offsets */
    if (sizeof b->bytes - b->used < OCCURRENCE_ID + 64)
        flush_line(b);
    char *at = b->bytes + b->used;
    if (comma)
        *at++ = ',';
    memcpy(at, "{\"id\":\"", 7);
    at += 7;
    /* the id copied and checked in words read where it lies: 8-byte words
     * from its start and one ending at its end (overlapping the one
     * before), or two 4-byte halves that overlap; a byte at a time below
     * 4. b->used moves only once all is written. */
    uint64_t care = 0;
    if (id_len >= 8) {
        uint64_t x;
        for (size_t i = 0; i + 8 < id_len; i += 8) {
            memcpy(&x, id + i, 8);
            memcpy(at + i, &x, 8);
            care |= word_care(x);
        }
        memcpy(&x, id + id_len - 8, 8);
        memcpy(at + id_len - 8, &x, 8);
        care |= word_care(x);
    } else if (id_len >= 4) {
        uint32_t lo, hi;
        memcpy(&lo, id, 4);
        memcpy(&hi, id + id_len - 4, 4);
        memcpy(at, &lo, 4);
        memcpy(at + id_len - 4, &hi, 4);
        care = word_care((uint64_t)lo | (uint64_t)hi << 32);
    } else {
        uint64_t x = 0x2020202020202020ULL; /* spaces: nothing to escape */
        for (size_t i = 0; i < id_len; i++) {
            at[i] = id[i];
            x = x << 8 | (unsigned char)id[i];
        }
        care = word_care(x);
    }
    if (care)
        return 0;
    at += id_len;
    memcpy(at, "\",\"start\":", 10);
    at += 10;
    at += small_decimal(at, span.start);
    memcpy(at, ",\"end\":", 7);
    at += 7;
    at += small_decimal(at, span.end);
    *at++ = '}';
    b->used = (size_t)(at - b->bytes);
    return 1;
}

void unit_output_group(FILE *out, const cli_config *cfg, size_t group, size_t size, size_t documents,
                       const char *const *ids, const nd_span *spans, const double *jaccard, const char *preview)
{
    line_buf b;
    b.out = out;
    b.used = 0;
    PUT_LITERAL(&b, "{\"group\":");
    put_size(&b, group);
    PUT_LITERAL(&b, ",\"size\":");
    put_size(&b, size);
    PUT_LITERAL(&b, ",\"documents\":");
    put_size(&b, documents);
    PUT_LITERAL(&b, ",");
    if (cfg->boilerplate && documents >= cfg->boilerplate)
        PUT_LITERAL(&b, "\"boilerplate\":true,");
    else if (cfg->boilerplate)
        PUT_LITERAL(&b, "\"boilerplate\":false,");
    PUT_LITERAL(&b, "\"occurrences\":[");
    for (size_t k = 0; k < size; k++) {
        size_t id_len = strlen(ids[k]);
        if (put_occurrence(&b, k > 0, ids[k], id_len, spans[k]))
            continue;
        if (k)
            PUT_LITERAL(&b, ",");
        PUT_LITERAL(&b, "{\"id\":");
        put_string(&b, ids[k], id_len);
        PUT_LITERAL(&b, ",\"start\":");
        put_size(&b, spans[k].start);
        PUT_LITERAL(&b, ",\"end\":");
        put_size(&b, spans[k].end);
        PUT_LITERAL(&b, "}");
    }
    PUT_LITERAL(&b, "],\"jaccard\":[");
    for (size_t k = 0; k < size;) {
        if (jaccard[k] != 1.0) {
            if (k)
                PUT_LITERAL(&b, ",");
            put_number(&b, jaccard[k++]);
            continue;
        }
        /* a run of 1s (identical units, the usual) in pieces of up to 32:
         * ",1" each, the first without its comma at k = 0 */
        static const char ones[] = ",1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1";
        size_t run = 1;
        while (run < 32 && k + run < size && jaccard[k + run] == 1.0)
            run++;
        put_bytes(&b, ones + (k == 0), 2 * run - (k == 0));
        k += run;
    }
    PUT_LITERAL(&b, "],\"text\":");
    put_string(&b, preview ? preview : "", preview ? strlen(preview) : 0);
    PUT_LITERAL(&b, ",\"profile\":\"");
    const char *label = cli_profile_label(&cfg->opts);
    put_bytes(&b, label, strlen(label));
    PUT_LITERAL(&b, "\"}\n");
    flush_line(&b);
}
