/* document.c - a record's id and text: JSON records, ids, bad records.
 *
 * Every command reads documents the same way: a JSON Lines record is read
 * by the fast path for flat objects (json.c) or else parsed by jansson
 * (ill-formed UTF-8 read as U+FFFD, integers beyond 64 bits accepted), its
 * text and id members found, and anything unusable turned into a message
 * naming FILE:LINE; a plain-text record is its own text with a FILE or
 * FILE:LINE id.
 */
#include "document.h"

#include <stdlib.h> /* free, strtod */
#include <string.h> /* strlen, strndup, strchr, memcmp, memset */

#include "json.h"

char *record_default_id(const input *in, const record *rec)
{
    const char *name = input_source_name(in, rec->source);
    if (rec->line == 0)
        return strdup(name);
    return cli_format("%s:%llu", name, (unsigned long long)rec->line);
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
        return cli_format("%lld", (long long)json_integer_value(value));
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
    json_fast fast;
    if (json_fast_record(rec->data, rec->len, cfg->text_field, cfg->id_field, &fast)) {
        v->text = fast.text;
        v->len = fast.text_len;
        v->decoded = fast.decoded;
        v->fields = REC_JSON_OBJECT | REC_HAS_TEXT | (fast.id_kind != JSON_ID_NONE ? REC_HAS_ID : 0);
        if (fast.id_kind == JSON_ID_STRING || fast.id_kind == JSON_ID_INTEGER)
            v->id = strndup(fast.id, fast.id_len);
        else
            v->id = record_default_id(in, rec);
        return v->id ? ND_OK : ND_ENOMEM;
    }
    const char *name = input_source_name(in, rec->source);
    json_error_t err;
    size_t flags;
    json_t *root = json_load_text(rec->data, rec->len, &err, &flags, &v->invalid_utf8);
    if (!root) {
        v->error = cli_format("%s:%llu: malformed JSON: %s (column %d)", name, (unsigned long long)rec->line, err.text,
                              err.column);
        return v->error ? ND_OK : ND_ENOMEM;
    }
    const json_t *text = json_is_object(root) ? json_object_get(root, cfg->text_field) : NULL;
    if (json_is_object(root))
        v->fields =
            REC_JSON_OBJECT | (text ? REC_HAS_TEXT : 0) | (json_object_get(root, cfg->id_field) ? REC_HAS_ID : 0);
    if (!json_is_object(root) || !json_is_string(text)) {
        v->error = json_is_object(root) ? cli_format("%s:%llu: no string field \"%s\" (see --text-field)", name,
                                                     (unsigned long long)rec->line, cfg->text_field)
                                        : cli_format("%s:%llu: not a JSON object", name, (unsigned long long)rec->line);
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
