/* json.c - JSON text read by the program's own scanner: a strict reading
 * of flat records (the fast path), and a member's bytes located (or
 * dropped) without touching the rest. jansson's reading, with the retries
 * every command needs, is jsonload.c; writing JSON is json_write.c; the
 * UTF-8 check the fast path runs first is utf8check.c.
 *
 * The fast path. jansson builds a whole object and copies every string
 * byte by byte; on news records that costs more than normalizing and
 * signing the text. Most records are flat objects, so json_fast_record()
 * reads those directly: it checks the JSON grammar of everything it passes
 * over (strings, numbers, literals), finds the text and id members, and
 * unescapes the text only when it holds escapes. Anything it does not
 * handle, or any doubt (nested values, escaped keys, repeated members,
 * ill-formed UTF-8, a number id that is not a plain integer, a syntax
 * error), is left to jansson, which stays the authority for what is valid
 * and for every error message; the two agree on every record the fast path
 * accepts (tests/cli/test_json.sh). Strings are skipped by jsonskip.c
 * (64 bytes at a time with AVX2, 16 with SSE2), the text unescaped in the
 * same pass (news text has paragraph breaks, \n, and quotes), and the line
 * checked for well-formed UTF-8 by utf8check.c.
 */
#include "json.h"

#include <math.h>   /* isinf */
#include <stdlib.h> /* malloc, free, strtod */
#include <string.h> /* strlen, strchr, memcmp, memcpy, memset */

#include <unicode/utf8.h> /* U8_APPEND_UNSAFE */

#include "jsonskip.h"  /* json_skip_plain */
#include "utf8check.h" /* utf8_well_formed */

/* ****  The scanner  **** */

typedef struct {
    const char *p, *end;
} cursor;

static void skip_ws(cursor *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
        c->p++;
}

static int is_hex(char ch)
{
    return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
}

static unsigned hex4(const char *q)
{
    unsigned v = 0;
    for (int k = 0; k < 4; k++) {
        char h = q[k];
        v = v * 16 + (unsigned)(h <= '9' ? h - '0' : (h | 0x20) - 'a' + 10);
    }
    return v;
}

/* scratch's buffer with room for n bytes, or NULL when out of memory. */
static char *scratch_room(json_scratch *scratch, size_t n)
{
    if (n > scratch->capacity) {
        char *grown = realloc(scratch->buf, n);
        if (!grown)
            return NULL;
        scratch->buf = grown;
        scratch->capacity = n;
    }
    return scratch->buf;
}

/* Scan a string starting at '"'; [*start, *stop) is its raw content.
 * Returns 0 on anything not valid JSON. Plain text is skipped 64 bytes at
 * a time (jsonskip.c). With `decoded` set, a string with escapes is also
 * unescaped in the same pass, into *decoded (malloc'd, NUL-terminated,
 * *decoded_len bytes; it stays NULL for a string without escapes): the
 * plain runs between escapes are copied as the scan finds them, so the
 * text is not searched for backslashes a second time; with `scratch`,
 * into its buffer instead (grown as needed, the caller's: not freed here).
 * 0 too when out of memory (nothing allocated then). */
static int scan_string(cursor *c, const char **start, const char **stop, int *escaped, char **decoded,
                       size_t *decoded_len, json_scratch *scratch)
{
    if (c->p >= c->end || *c->p != '"')
        return 0;
    const char *q = ++c->p;
    *escaped = 0;
    char *out = NULL;    /* the unescaped string so far (decoded only) */
    size_t w = 0;        /* its length */
    const char *raw = q; /* the raw bytes from here to q are not in out yet */
    while (q < c->end) {
        q = json_skip_plain(q, c->end);
        if (q >= c->end)
            break;
        unsigned char ch = (unsigned char)*q;
        if (ch == '"') {
            *start = c->p;
            *stop = q;
            c->p = q + 1;
            if (out) {
                memcpy(out + w, raw, (size_t)(q - raw));
                w += (size_t)(q - raw);
                out[w] = '\0';
                *decoded = out;
                *decoded_len = w;
            }
            return 1;
        }
        if (ch < 0x20)
            break;
        if (ch == '\\') {
            *escaped = 1;
            if (decoded && !out) {
                /* unescaped, the string is no longer than what is left of the line */
                size_t room = (size_t)(c->end - c->p) + 1;
                out = scratch ? scratch_room(scratch, room) : malloc(room);
                if (!out)
                    return 0;
            }
            if (out) {
                memcpy(out + w, raw, (size_t)(q - raw));
                w += (size_t)(q - raw);
            }
            if (q + 1 >= c->end)
                break;
            char e = q[1];
            if (e == 'u') {
                if (q + 6 > c->end || !is_hex(q[2]) || !is_hex(q[3]) || !is_hex(q[4]) || !is_hex(q[5]))
                    break;
                unsigned cp = hex4(q + 2);
                q += 6;
                if (cp >= 0xDC00 && cp <= 0xDFFF)
                    break; /* a lone low surrogate: jansson rejects it */
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                    /* a high surrogate must be followed by a low one */
                    if (q + 6 > c->end || q[0] != '\\' || q[1] != 'u' || !is_hex(q[2]) || !is_hex(q[3]) ||
                        !is_hex(q[4]) || !is_hex(q[5]))
                        break;
                    unsigned lo = hex4(q + 2);
                    if (lo < 0xDC00 || lo > 0xDFFF)
                        break;
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    q += 6;
                }
                if (out)
                    U8_APPEND_UNSAFE(out, w, (UChar32)cp);
                raw = q;
                continue;
            }
            char v;
            switch (e) {
            case '"':
            case '\\':
            case '/':
                v = e;
                break;
            case 'b':
                v = '\b';
                break;
            case 'f':
                v = '\f';
                break;
            case 'n':
                v = '\n';
                break;
            case 'r':
                v = '\r';
                break;
            case 't':
                v = '\t';
                break;
            default:
                if (!scratch)
                    free(out);
                return 0;
            }
            if (out)
                out[w++] = v;
            q += 2;
            raw = q;
            continue;
        }
        q++;
    }
    if (!scratch)
        free(out);
    return 0;
}

/* A JSON number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?; *plain_int
 * tells whether it is a plain integer (no fraction, no exponent, not -0). */
static int scan_number(cursor *c, int *plain_int)
{
    const char *q = c->p, *start = c->p;
    if (q < c->end && *q == '-')
        q++;
    if (q >= c->end || !(*q >= '0' && *q <= '9'))
        return 0;
    if (*q == '0')
        q++;
    else
        while (q < c->end && *q >= '0' && *q <= '9')
            q++;
    *plain_int = 1;
    if (q < c->end && *q == '.') {
        *plain_int = 0;
        q++;
        if (q >= c->end || !(*q >= '0' && *q <= '9'))
            return 0;
        while (q < c->end && *q >= '0' && *q <= '9')
            q++;
    }
    if (q < c->end && (*q == 'e' || *q == 'E')) {
        *plain_int = 0;
        q++;
        if (q < c->end && (*q == '+' || *q == '-'))
            q++;
        if (q >= c->end || !(*q >= '0' && *q <= '9'))
            return 0;
        while (q < c->end && *q >= '0' && *q <= '9')
            q++;
    }
    if (q - start == 2 && start[0] == '-' && start[1] == '0')
        *plain_int = 0;
    c->p = q;
    return 1;
}

/* Is the number [start, stop) (scanned) in the range jansson reads? It
 * reads an integer beyond 64 bits as a real (json_load_text) and rejects
 * a real beyond a double's range ("1e400"); anything that might be out of
 * range is left to it. */
static int number_in_range(const char *start, const char *stop, int plain_int)
{
    size_t n = (size_t)(stop - start);
    if (plain_int && n <= 18)
        return 1;
    char buf[64];
    if (n >= sizeof buf)
        return 0;
    memcpy(buf, start, n);
    buf[n] = '\0';
    return !isinf(strtod(buf, NULL));
}

static int scan_literal(cursor *c, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(c->end - c->p) < n || memcmp(c->p, word, n) != 0)
        return 0;
    c->p += n;
    return 1;
}

/* At an object member: read its key string (*escaped: did it have escapes;
 * with `decoded` set, an escaped key unescaped as scan_string() does) and
 * the ':' after it, leaving the cursor at the value. 0 when malformed. */
static int member_key(cursor *c, const char **k, const char **k_stop, int *escaped, char **decoded, size_t *decoded_len)
{
    skip_ws(c);
    if (!scan_string(c, k, k_stop, escaped, decoded, decoded_len, NULL))
        return 0;
    skip_ws(c);
    if (c->p >= c->end || *c->p != ':')
        return 0;
    c->p++;
    skip_ws(c);
    return 1;
}

/* After a value inside an object or array closed by `close`: 1 at ','
 * (another one follows), 2 at `close` (the container ended), 0 otherwise;
 * the ',' or `close` is consumed. */
static int after_value(cursor *c, char close)
{
    skip_ws(c);
    if (c->p < c->end && (*c->p == ',' || *c->p == close))
        return *c->p++ == ',' ? 1 : 2;
    return 0;
}

/* Skip one JSON value of any kind (nested up to 64 deep). */
static int skip_value(cursor *c, int depth)
{
    if (depth > 64 || c->p >= c->end)
        return 0;
    const char *a, *b;
    int escaped, plain;
    char ch = *c->p;
    if (ch == '"')
        return scan_string(c, &a, &b, &escaped, NULL, NULL, NULL);
    if (ch == '-' || (ch >= '0' && ch <= '9'))
        return scan_number(c, &plain);
    if (ch == 't')
        return scan_literal(c, "true");
    if (ch == 'f')
        return scan_literal(c, "false");
    if (ch == 'n')
        return scan_literal(c, "null");
    if (ch != '{' && ch != '[')
        return 0;
    char close = ch == '{' ? '}' : ']';
    c->p++;
    skip_ws(c);
    if (c->p < c->end && *c->p == close) {
        c->p++;
        return 1;
    }
    for (;;) {
        skip_ws(c);
        if (close == '}' && !member_key(c, &a, &b, &escaped, NULL, NULL))
            return 0;
        if (!skip_value(c, depth + 1))
            return 0;
        int next = after_value(c, close);
        if (next != 1)
            return next == 2;
    }
}

/* Enter the JSON object at the start of [c->p, c->end): -1 when there is
 * none, 0 when it is empty ({}), 1 at its first member's key. */
static int object_open(cursor *c)
{
    skip_ws(c);
    if (c->p >= c->end || *c->p != '{')
        return -1;
    c->p++;
    skip_ws(c);
    return c->p < c->end && *c->p == '}' ? 0 : 1;
}

#ifndef JSON_PARSER_MAX_DEPTH /* jansson before 2.11 */
#define JSON_PARSER_MAX_DEPTH 2048
#endif

/* Skip one JSON value of any kind, nested as deep as jansson reads
 * (JSON_PARSER_MAX_DEPTH), without recursion: a bit per open container
 * says whether it is an object (its members need keys). */
static int skip_nested(cursor *c)
{
    enum { MAX_DEPTH = JSON_PARSER_MAX_DEPTH + 64 };
    unsigned char is_object[MAX_DEPTH / 8 + 1] = {0};
    size_t depth = 0;
    for (;;) {
        skip_ws(c);
        if (c->p >= c->end)
            return 0;
        char ch = *c->p;
        if (ch == '{' || ch == '[') {
            if (depth >= MAX_DEPTH)
                return 0;
            unsigned char bit = (unsigned char)(1u << (depth % 8));
            is_object[depth / 8] =
                ch == '{' ? (unsigned char)(is_object[depth / 8] | bit) : (unsigned char)(is_object[depth / 8] & ~bit);
            depth++;
            c->p++;
            skip_ws(c);
            if (c->p < c->end && *c->p == (ch == '{' ? '}' : ']')) {
                c->p++;
                depth--;
            } else {
                const char *a, *b;
                int escaped;
                if (ch == '{' && !member_key(c, &a, &b, &escaped, NULL, NULL))
                    return 0;
                continue; /* the first value inside */
            }
        } else if (!skip_value(c, 0)) {
            return 0;
        }
        /* a value ended: close containers, or go on to the next member */
        for (;;) {
            if (depth == 0)
                return 1;
            int object = (is_object[(depth - 1) / 8] >> ((depth - 1) % 8)) & 1;
            int next = after_value(c, object ? '}' : ']');
            if (next == 0)
                return 0;
            if (next == 2) {
                depth--;
                continue;
            }
            if (object) {
                const char *a, *b;
                int escaped;
                if (!member_key(c, &a, &b, &escaped, NULL, NULL))
                    return 0;
            }
            break;
        }
    }
}

/* How a member loop reads an object: by the fast path's strict rules (an
 * escaped key, nesting deeper than skip_value() follows, or a name given
 * twice: -1, not for the fast path) or by jansson's (escaped keys compared
 * unescaped, any depth jansson reads, the last of a repeated name). */
typedef enum { RULES_STRICT, RULES_JANSSON } member_rules;

/* The member named by the `key_len` bytes of `key` in the object on `line`,
 * by `rules`: 1 and its value's bytes [*start, *stop), 0 when absent (or
 * the line is not an object), -1 when the rules cannot tell. */
static int member_scan(const char *line, size_t len, const char *key, size_t key_len, member_rules rules, size_t *start,
                       size_t *stop)
{
    cursor c = {line, line + len};
    int found = 0;
    int open = object_open(&c);
    if (open <= 0)
        return open;
    for (;;) {
        const char *k, *k_stop;
        int escaped;
        char *plain = NULL; /* an escaped key unescaped: "k\u00e9" is the key "ké" */
        size_t n = 0;
        if (!member_key(&c, &k, &k_stop, &escaped, rules == RULES_JANSSON ? &plain : NULL, &n) ||
            (escaped && rules == RULES_STRICT))
            return -1;
        int same = plain ? n == key_len && memcmp(plain, key, key_len) == 0
                         : (size_t)(k_stop - k) == key_len && memcmp(k, key, key_len) == 0;
        free(plain);
        const char *value = c.p;
        if (!(rules == RULES_STRICT ? skip_value(&c, 0) : skip_nested(&c)))
            return -1;
        if (same) {
            if (found && rules == RULES_STRICT)
                return -1; /* a repeated field: ambiguous */
            found = 1;     /* jansson: the last one */
            *start = (size_t)(value - line);
            *stop = (size_t)(c.p - line);
        }
        int next = after_value(&c, '}');
        if (next != 1)
            return next == 2 ? found : -1;
    }
}

static int member_find(const char *line, size_t len, const char *key, size_t key_len, size_t *start, size_t *stop)
{
    return member_scan(line, len, key, key_len, RULES_STRICT, start, stop);
}

static int member_locate(const char *line, size_t len, const char *key, size_t key_len, size_t *start, size_t *stop)
{
    return member_scan(line, len, key, key_len, RULES_JANSSON, start, stop);
}

typedef int member_lookup(const char *line, size_t len, const char *key, size_t key_len, size_t *start, size_t *stop);

size_t json_members_drop(char *out, const char *line, size_t len, const char *key)
{
    cursor c = {line, line + len};
    size_t key_len = strlen(key), w = 0;
    int open = object_open(&c);
    if (open < 0)
        return SIZE_MAX;
    if (open == 0) { /* {}: nothing to drop */
        memcpy(out, line, len);
        return len;
    }
    /* what goes out: the bytes before the first member, each member kept
     * with the bytes that followed it up to the next member (its comma)
     * when another kept one comes after it, and the bytes after the last
     * member's value (the closing brace) */
    const char *first = NULL, *sep_from = NULL, *sep_to = NULL; /* the last kept member's separator */
    for (;;) {
        skip_ws(&c);
        const char *member = c.p, *k, *k_stop;
        if (!first) {
            first = member;
            memcpy(out, line, (size_t)(first - line));
            w = (size_t)(first - line);
        }
        int escaped;
        char *plain = NULL;
        size_t n = 0;
        if (!member_key(&c, &k, &k_stop, &escaped, &plain, &n)) {
            free(plain);
            return SIZE_MAX;
        }
        int same = plain ? n == key_len && memcmp(plain, key, key_len) == 0
                         : (size_t)(k_stop - k) == key_len && memcmp(k, key, key_len) == 0;
        free(plain);
        if (!skip_nested(&c))
            return SIZE_MAX;
        const char *value_end = c.p;
        int next = after_value(&c, '}');
        if (next == 0)
            return SIZE_MAX;
        if (!same) {
            if (sep_from) {
                memcpy(out + w, sep_from, (size_t)(sep_to - sep_from));
                w += (size_t)(sep_to - sep_from);
            }
            memcpy(out + w, member, (size_t)(value_end - member));
            w += (size_t)(value_end - member);
            sep_from = value_end;
        }
        if (next == 2) { /* the blanks, the closing brace and what follows, as they are */
            memcpy(out + w, value_end, len - (size_t)(value_end - line));
            return w + len - (size_t)(value_end - line);
        }
        skip_ws(&c);
        if (!same)
            sep_to = c.p; /* up to the next member */
    }
}

/* The member `key` by `lookup`: a member of that very name, or else a dot
 * path into nested objects ("meta.body"), as document.c reads it: each
 * name looked up in the value of the one before. */
static int by_path(member_lookup *lookup, const char *line, size_t len, const char *key, size_t *start, size_t *stop)
{
    int found = lookup(line, len, key, strlen(key), start, stop);
    if (found != 0 || !strchr(key, '.'))
        return found;
    size_t from = 0, to = len;
    for (const char *p = key; *p;) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        size_t s, e;
        found = lookup(line + from, to - from, p, n, &s, &e);
        if (found != 1)
            return found < 0 && p != key ? 0 : found; /* a name inside a non-object: no such member */
        to = from + e;
        from += s;
        p = dot ? dot + 1 : p + n;
    }
    *start = from;
    *stop = to;
    return 1;
}

int json_member_find(const char *line, size_t len, const char *key, size_t *start, size_t *stop)
{
    return by_path(member_find, line, len, key, start, stop);
}

int json_member_span(const char *line, size_t len, const char *key, size_t *start, size_t *stop)
{
    return by_path(member_find, line, len, key, start, stop) == 1;
}

int json_member_locate(const char *line, size_t len, const char *key, size_t *start, size_t *stop)
{
    return by_path(member_locate, line, len, key, start, stop);
}

/* json_fast_record() but for what becomes of the unescaped text, *decoded
 * (NULL when the text has no escapes), which the caller frees when this
 * returns 0. */
static int fast_record(const char *line, size_t len, const char *text_key, const char *id_key, json_fast *out,
                       char **decoded, size_t *decoded_len, json_scratch *scratch)
{
    cursor c = {line, line + len};
    size_t text_key_len = strlen(text_key), id_key_len = strlen(id_key);
    const char *text = NULL, *text_stop = NULL, *id = NULL, *id_stop = NULL;
    int text_escaped = 0, id_kind = 0; /* 1 string, 2 integer, 3 null */
    skip_ws(&c);
    if (c.p >= c.end || *c.p != '{')
        return 0;
    c.p++;
    skip_ws(&c);
    if (c.p < c.end && *c.p == '}')
        return 0;
    for (;;) {
        const char *k, *k_stop;
        int escaped;
        if (!member_key(&c, &k, &k_stop, &escaped, NULL, NULL) || escaped)
            return 0;
        size_t klen = (size_t)(k_stop - k);
        int is_text = klen == text_key_len && memcmp(k, text_key, klen) == 0;
        int is_id = klen == id_key_len && memcmp(k, id_key, klen) == 0;
        if ((is_text && text) || (is_id && id_kind))
            return 0; /* a repeated field: jansson decides */
        if (is_text && is_id)
            return 0; /* --id-field the text field: jansson's path, which gives the text as the id (taken
                       * here as the text alone, a flat record's id was FILE:LINE and a nested one's the text) */
        if (c.p >= c.end)
            return 0;
        char ch = *c.p;
        if (ch == '"') {
            const char *s0, *s1;
            if (!scan_string(&c, &s0, &s1, &escaped, is_text ? decoded : NULL, decoded_len, scratch))
                return 0;
            if (is_text) {
                text = s0;
                text_stop = s1;
                text_escaped = escaped;
            } else if (is_id) {
                if (escaped)
                    return 0;
                id = s0;
                id_stop = s1;
                id_kind = 1;
            }
        } else if (ch == '-' || (ch >= '0' && ch <= '9')) {
            const char *n0 = c.p;
            int plain_int;
            if (!scan_number(&c, &plain_int) || is_text || (is_id && !plain_int) ||
                !number_in_range(n0, c.p, plain_int))
                return 0;
            if (is_id) {
                id = n0;
                id_stop = c.p;
                id_kind = 2;
            }
        } else if (ch == 'n') {
            if (!scan_literal(&c, "null") || is_text)
                return 0;
            if (is_id)
                id_kind = 3;
        } else if (ch == 't' || ch == 'f') {
            if (!scan_literal(&c, ch == 't' ? "true" : "false") || is_text || is_id)
                return 0;
        } else {
            return 0; /* nested values and anything else: jansson */
        }
        int next = after_value(&c, '}');
        if (next == 0)
            return 0;
        if (next == 2)
            break;
    }
    skip_ws(&c);
    if (c.p != c.end || !text)
        return 0;
    if (!utf8_well_formed(line, len))
        return 0; /* anywhere in the line: jansson's path repairs and counts ill-formed UTF-8 */
    memset(out, 0, sizeof *out);
    if (text_escaped) {
        out->text = *decoded; /* unescaped as it was scanned */
        out->text_len = *decoded_len;
        out->decoded = scratch ? NULL : *decoded;
        *decoded = NULL;
    } else {
        out->text = text;
        out->text_len = (size_t)(text_stop - text);
    }
    out->id_kind = id_kind == 1   ? JSON_ID_STRING
                   : id_kind == 2 ? JSON_ID_INTEGER
                   : id_kind == 3 ? JSON_ID_NULL
                                  : JSON_ID_NONE;
    if (id_kind == 1 || id_kind == 2) {
        out->id = id;
        out->id_len = (size_t)(id_stop - id);
    }
    return 1;
}

int json_fast_record_into(const char *line, size_t len, const char *text_key, const char *id_key, json_fast *out,
                          json_scratch *scratch)
{
    char *decoded = NULL;
    size_t decoded_len = 0;
    int ok = fast_record(line, len, text_key, id_key, out, &decoded, &decoded_len, scratch);
    if (!scratch)
        free(decoded); /* NULL once handed to out */
    return ok;
}

int json_fast_record(const char *line, size_t len, const char *text_key, const char *id_key, json_fast *out)
{
    return json_fast_record_into(line, len, text_key, id_key, out, NULL);
}
