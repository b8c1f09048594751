/* document.c - a record's id and text: JSON parsing, ids, bad records.
 *
 * Every command reads documents the same way: a JSON Lines record is
 * parsed (with ill-formed UTF-8 read as U+FFFD and integers beyond 64 bits
 * accepted), its text and id fields found, and anything unusable turned
 * into a message naming FILE:LINE; a plain-text record is its own text with
 * a FILE or FILE:LINE id.
 */
#include "document.h"

#include <stdarg.h> /* va_list */
#include <stdlib.h> /* malloc, free, strtod */
#include <string.h> /* strlen, strndup, memcmp */

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

int doc_view_open(doc_view *v, const cli_config *cfg, const input *in, const record *rec)
{
    memset(v, 0, sizeof *v);
    if (rec->kind != RECORD_JSON) {
        v->id = record_default_id(in, rec);
        v->text = rec->data;
        v->len = rec->len;
        return v->id ? ND_OK : ND_ENOMEM;
    }
    const char *name = input_source_name(in, rec->source);
    json_error_t err;
    size_t flags = JSON_ALLOW_NUL;
    json_t *root = json_loadb(rec->data, rec->len, flags, &err);
    if (!root && json_error_code(&err) == json_error_numeric_overflow) {
        flags |= JSON_DECODE_INT_AS_REAL; /* integers beyond 64 bits, e.g. uint64 ids */
        root = json_loadb(rec->data, rec->len, flags, &err);
    }
    if (!root && json_error_code(&err) == json_error_invalid_utf8) {
        /* Read ill-formed UTF-8 as U+FFFD rather than lose the record. */
        char *repaired = malloc(rec->len * 3 + 1);
        if (!repaired)
            return ND_ENOMEM;
        size_t repaired_len;
        v->invalid_utf8 = nd_utf8_repair(repaired, &repaired_len, rec->data, rec->len);
        root = json_loadb(repaired, repaired_len, flags, &err);
        free(repaired);
    }
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
    json_decref(v->root);
    memset(v, 0, sizeof *v);
}
