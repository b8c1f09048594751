/* document.c - a record's id and text: JSON parsing, ids, bad records.
 *
 * Every command reads documents the same way: a JSON Lines record is
 * parsed (with ill-formed UTF-8 read as U+FFFD and integers beyond 64 bits
 * accepted), its text and id fields found, and anything unusable turned
 * into a message naming FILE:LINE; a plain-text record is its own text with
 * a FILE or FILE:LINE id.
 *
 * The fast path. jansson builds a whole object and copies every string
 * byte by byte; on news records that costs more than normalizing and
 * signing the text. Most records are flat objects, so fast_record() reads
 * those directly: it checks the JSON grammar of everything it passes over
 * (strings, numbers, literals), finds the text and id fields, and unescapes
 * the text only when it holds escapes. Anything it does not handle, or any
 * doubt (nested values, escaped keys, duplicate fields, ill-formed UTF-8,
 * a number id that is not a plain integer, a syntax error), sends the record
 * to jansson, which stays the authority for what is valid and for every
 * error message; the two agree on every record the fast path accepts
 * (tests/cli/test_json.sh).
 */
#include "document.h"

#include <stdarg.h> /* va_list */
#include <stdlib.h> /* malloc, free, strtod */
#include <string.h> /* strlen, strndup, memcmp */

#include <unicode/utf8.h> /* U8_NEXT: UTF-8 validation */

char *format_string(const char *fmt, ...)
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

char *record_default_id(const input *in, const record *rec)
{
    const char *name = input_source_name(in, rec->source);
    if (rec->line == 0)
        return strdup(name);
    return format_string("%s:%llu", name, (unsigned long long)rec->line);
}

/* The literal text of the number that follows "key": in a raw JSON line,
 * for an id too big for jansson's integers (it parses them as reals only
 * under JSON_DECODE_INT_AS_REAL, losing digits). Checked against the parsed
 * value, so a "key" inside some string cannot mislead it. */
static char *raw_number_id(const char *line, size_t len, const char *key, double parsed)
{
    size_t key_len = strlen(key);
    for (size_t i = 0; i + key_len + 2 < len; i++) {
        if (line[i] != '"' || memcmp(line + i + 1, key, key_len) != 0 || line[i + 1 + key_len] != '"')
            continue;
        size_t j = i + key_len + 2;
        while (j < len && (line[j] == ' ' || line[j] == '\t'))
            j++;
        if (j >= len || line[j] != ':')
            continue;
        j++;
        while (j < len && (line[j] == ' ' || line[j] == '\t'))
            j++;
        size_t start = j;
        while (j < len && strchr("-+0123456789.eE", line[j]))
            j++;
        if (j == start)
            continue;
        char *literal = strndup(line + start, j - start);
        if (literal && strtod(literal, NULL) == parsed)
            return literal;
        free(literal);
    }
    return NULL;
}

static char *json_id(const json_t *value)
{
    if (json_is_string(value))
        return strndup(json_string_value(value), json_string_length(value));
    if (json_is_integer(value))
        return format_string("%lld", (long long)json_integer_value(value));
    return json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);
}

json_t *cli_json_load(const char *text, size_t len, json_error_t *err, size_t *flags_out, size_t *invalid_utf8)
{
    size_t flags = JSON_ALLOW_NUL;
    char *repaired = NULL;
    *invalid_utf8 = 0;
    json_t *root;
    for (;;) {
        root = json_loadb(text, len, flags, err);
        if (root)
            break;
        if (json_error_code(err) == json_error_numeric_overflow && !(flags & JSON_DECODE_INT_AS_REAL)) {
            flags |= JSON_DECODE_INT_AS_REAL; /* integers beyond 64 bits, e.g. uint64 ids */
            continue;
        }
        if (json_error_code(err) == json_error_invalid_utf8 && !repaired) {
            /* read ill-formed UTF-8 as U+FFFD rather than lose the record */
            repaired = malloc(len * 3 + 1);
            if (!repaired)
                break;
            *invalid_utf8 = nd_utf8_repair(repaired, &len, text, len);
            text = repaired;
            continue;
        }
        break;
    }
    free(repaired);
    if (flags_out)
        *flags_out = flags;
    return root;
}

/* ****  The fast path  **** */

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

/* Scan a string starting at '"'; [*start, *stop) is its raw content.
 * Returns 0 on anything not valid JSON. */
static int scan_string(cursor *c, const char **start, const char **stop, int *escaped)
{
    if (c->p >= c->end || *c->p != '"')
        return 0;
    const char *q = ++c->p;
    *escaped = 0;
    while (q < c->end) {
        unsigned char ch = (unsigned char)*q;
        if (ch == '"') {
            *start = c->p;
            *stop = q;
            c->p = q + 1;
            return 1;
        }
        if (ch < 0x20)
            return 0;
        if (ch == '\\') {
            *escaped = 1;
            if (q + 1 >= c->end)
                return 0;
            char e = q[1];
            if (e == 'u') {
                if (q + 6 > c->end || !is_hex(q[2]) || !is_hex(q[3]) || !is_hex(q[4]) || !is_hex(q[5]))
                    return 0;
                q += 6;
                continue;
            }
            if (e == '\0' || !strchr("\"\\/bfnrt", e))
                return 0;
            q += 2;
            continue;
        }
        q++;
    }
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

static int scan_literal(cursor *c, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(c->end - c->p) < n || memcmp(c->p, word, n) != 0)
        return 0;
    c->p += n;
    return 1;
}

static int utf8_valid(const char *s, size_t n)
{
    const uint8_t *b = (const uint8_t *)s;
    size_t i = 0;
    while (i < n) {
        if (b[i] < 0x80) {
            i++;
            continue;
        }
        int32_t j = 0;
        int32_t avail = (n - i) > 4 ? 4 : (int32_t)(n - i);
        UChar32 ch;
        U8_NEXT(b + i, j, avail, ch);
        if (ch < 0)
            return 0;
        i += (size_t)j;
    }
    return 1;
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

/* Unescape a JSON string body (already scanned) into a new buffer. NULL
 * when out of memory or for a lone surrogate (jansson rejects those). */
static char *unescape(const char *s, const char *stop, size_t *out_len)
{
    char *out = malloc((size_t)(stop - s) + 1);
    if (!out)
        return NULL;
    size_t w = 0;
    while (s < stop) {
        if (*s != '\\') {
            out[w++] = *s++;
            continue;
        }
        char e = s[1];
        s += 2;
        switch (e) {
        case 'b':
            out[w++] = '\b';
            break;
        case 'f':
            out[w++] = '\f';
            break;
        case 'n':
            out[w++] = '\n';
            break;
        case 'r':
            out[w++] = '\r';
            break;
        case 't':
            out[w++] = '\t';
            break;
        case 'u': {
            unsigned cp = hex4(s);
            s += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (stop - s < 6 || s[0] != '\\' || s[1] != 'u') {
                    free(out);
                    return NULL;
                }
                unsigned lo = hex4(s + 2);
                if (lo < 0xDC00 || lo > 0xDFFF) {
                    free(out);
                    return NULL;
                }
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                s += 6;
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                free(out);
                return NULL;
            }
            U8_APPEND_UNSAFE(out, w, (UChar32)cp);
            break;
        }
        default: /* \" \\ \/ */
            out[w++] = e;
            break;
        }
    }
    out[w] = '\0';
    *out_len = w;
    return out;
}

/* At an object member: read its key string (*escaped: did it have escapes)
 * and the ':' after it, leaving the cursor at the value. 0 when malformed. */
static int member_key(cursor *c, const char **k, const char **k_stop, int *escaped)
{
    skip_ws(c);
    if (!scan_string(c, k, k_stop, escaped))
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
        return scan_string(c, &a, &b, &escaped);
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
        if (close == '}' && !member_key(c, &a, &b, &escaped))
            return 0;
        if (!skip_value(c, depth + 1))
            return 0;
        int next = after_value(c, close);
        if (next != 1)
            return next == 2;
    }
}

int record_field_span(const char *line, size_t len, const char *field, size_t *start, size_t *stop)
{
    cursor c = {line, line + len};
    size_t field_len = strlen(field);
    int found = 0;
    skip_ws(&c);
    if (c.p >= c.end || *c.p != '{')
        return 0;
    c.p++;
    for (;;) {
        const char *k, *k_stop;
        int escaped;
        if (!member_key(&c, &k, &k_stop, &escaped) || escaped)
            return 0;
        const char *value = c.p;
        if (!skip_value(&c, 0))
            return 0;
        if ((size_t)(k_stop - k) == field_len && memcmp(k, field, field_len) == 0) {
            if (found)
                return 0; /* a repeated field: ambiguous */
            found = 1;
            *start = (size_t)(value - line);
            *stop = (size_t)(c.p - line);
        }
        int next = after_value(&c, '}');
        if (next != 1)
            return next == 2 && found;
    }
}

/* Read a flat JSON object record; 1 when done (v->text, v->id set), 0 to
 * leave it to jansson. */
static int fast_record(doc_view *v, const cli_config *cfg, const input *in, const record *rec)
{
    cursor c = {rec->data, rec->data + rec->len};
    size_t text_key = strlen(cfg->text_field), id_key = strlen(cfg->id_field);
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
        if (!member_key(&c, &k, &k_stop, &escaped) || escaped)
            return 0;
        size_t klen = (size_t)(k_stop - k);
        int is_text = klen == text_key && memcmp(k, cfg->text_field, klen) == 0;
        int is_id = klen == id_key && memcmp(k, cfg->id_field, klen) == 0;
        if ((is_text && text) || (is_id && id_kind))
            return 0; /* a repeated field: jansson decides */
        if (c.p >= c.end)
            return 0;
        char ch = *c.p;
        if (ch == '"') {
            const char *s0, *s1;
            if (!scan_string(&c, &s0, &s1, &escaped))
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
            if (!scan_number(&c, &plain_int) || is_text || (is_id && !plain_int))
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
    if (!utf8_valid(text, (size_t)(text_stop - text)) || (id_kind == 1 && !utf8_valid(id, (size_t)(id_stop - id))))
        return 0; /* jansson's path repairs and counts ill-formed UTF-8 */
    if (text_escaped) {
        v->decoded = unescape(text, text_stop, &v->len);
        if (!v->decoded)
            return 0;
        v->text = v->decoded;
    } else {
        v->text = text;
        v->len = (size_t)(text_stop - text);
    }
    if (id_kind == 1 || id_kind == 2)
        v->id = strndup(id, (size_t)(id_stop - id));
    else
        v->id = record_default_id(in, rec);
    if (!v->id) {
        free(v->decoded);
        v->decoded = NULL;
        return 0;
    }
    return 1;
}

int doc_view_open(doc_view *v, const cli_config *cfg, const input *in, const record *rec)
{
    memset(v, 0, sizeof *v);
    if (rec->kind != RECORD_JSON) {
        v->id = record_default_id(in, rec);
        v->text = rec->data;
        v->len = rec->len;
        return v->id ? ND_OK : ND_ENOMEM;
    }
    if (fast_record(v, cfg, in, rec))
        return ND_OK;
    const char *name = input_source_name(in, rec->source);
    json_error_t err;
    size_t flags;
    json_t *root = cli_json_load(rec->data, rec->len, &err, &flags, &v->invalid_utf8);
    if (!root) {
        v->error = format_string("%s:%llu: malformed JSON: %s (column %d)", name, (unsigned long long)rec->line,
                                 err.text, err.column);
        return v->error ? ND_OK : ND_ENOMEM;
    }
    const json_t *text = json_is_object(root) ? json_object_get(root, cfg->text_field) : NULL;
    if (!json_is_object(root) || !json_is_string(text)) {
        v->error = json_is_object(root)
                       ? format_string("%s:%llu: no string field \"%s\" (see --text-field)", name,
                                       (unsigned long long)rec->line, cfg->text_field)
                       : format_string("%s:%llu: not a JSON object", name, (unsigned long long)rec->line);
        json_decref(root);
        return v->error ? ND_OK : ND_ENOMEM;
    }
    const json_t *id = json_object_get(root, cfg->id_field);
    if (id && json_is_real(id) && (flags & JSON_DECODE_INT_AS_REAL))
        v->id = raw_number_id(rec->data, rec->len, cfg->id_field, json_real_value(id));
    if (!v->id)
        v->id = (id && !json_is_null(id)) ? json_id(id) : record_default_id(in, rec);
    if (!v->id) {
        json_decref(root);
        return ND_ENOMEM;
    }
    v->root = root;
    v->text = json_string_value(text);
    v->len = json_string_length(text);
    return ND_OK;
}

void doc_view_close(doc_view *v)
{
    free(v->id);
    free(v->error);
    free(v->decoded);
    json_decref(v->root);
    memset(v, 0, sizeof *v);
}
