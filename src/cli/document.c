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
#include <string.h> /* strlen, strndup, strchr, memchr, memcmp, memset */

#include "json.h"

char *record_default_id(const input *in, const record *rec)
{
    const char *name = input_source_id(in, rec->source);
    if (rec->line == 0)
        return strdup(name);
    return cli_format("%s:%llu", name, (unsigned long long)rec->line);
}

/* The literal text of the number member `path` holds in a raw JSON line
 * (json_member_locate: the member jansson read, a top-level name or else a
 * dot path, at its depth, not a same-named key nested elsewhere), for an
 * id that is not an integer as jansson writes it back (a real, -0, or an
 * integer too big for jansson's, parsed as a real only under
 * JSON_DECODE_INT_AS_REAL, losing digits). Checked against the parsed
 * value. NULL when not found so (the caller formats the value). */
static char *raw_number_id(const char *line, size_t len, const char *path, double parsed)
{
    size_t start, stop;
    if (json_member_locate(line, len, path, &start, &stop) != 1 || stop <= start)
        return NULL;
    for (size_t i = start; i < stop; i++) {
        if (!strchr("-+0123456789.eE", line[i]) || !line[i])
            return NULL;
    }
    char *literal = strndup(line + start, stop - start);
    if (literal && strtod(literal, NULL) == parsed)
        return literal;
    free(literal);
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

int doc_json_read(doc_view *v, const char *data, size_t len, const char *text_field, const char *id_field, int fast,
                  json_scratch *scratch, char **why)
{
    memset(v, 0, sizeof *v);
    *why = NULL;
    json_fast f;
    if (fast && json_fast_record_into(data, len, text_field, id_field, &f, scratch)) {
        v->text = f.text;
        v->len = f.text_len;
        v->decoded = f.decoded;
        v->fields = REC_JSON_OBJECT | REC_HAS_TEXT | (f.id_kind != JSON_ID_NONE ? REC_HAS_ID : 0);
        if (f.id_kind != JSON_ID_STRING && f.id_kind != JSON_ID_INTEGER)
            return ND_OK;
        if (scratch) {
            v->id_raw = f.id; /* (no escapes, no NUL: the fast path's) */
            v->id_raw_len = f.id_len;
            return ND_OK;
        }
        v->id = strndup(f.id, f.id_len);
        return v->id ? ND_OK : ND_ENOMEM;
    }
    json_error_t err;
    size_t flags;
    json_t *root = json_load_text(data, len, &err, &flags, &v->invalid_utf8);
    if (!root) {
        const char *nul = memchr(data, 0, len);
        if (nul && (size_t)(nul - data) <= (size_t)err.position) {
            /* jansson stops at a NUL byte as at the end, and says only
             * that (an error before the NUL is told as jansson tells it) */
            *why = cli_format("malformed JSON: a NUL byte, which JSON does not allow (column %zu of the record)",
                              (size_t)(nul - data) + 1);
            return *why ? ND_OK : ND_ENOMEM;
        }
        /* the record is parsed alone: jansson's "end of file" is the
         * record's end (a line's, or an array element's: the file may go
         * on), and its column counts from the record's start */
        const char *eof = strstr(err.text, "end of file");
        int at = eof ? (int)(eof - err.text) : (int)strlen(err.text);
        *why = cli_format("malformed JSON: %.*s%s%s (column %d of the record)", at, err.text,
                          eof ? "end of the record" : "", eof ? eof + strlen("end of file") : "", err.column);
        return *why ? ND_OK : ND_ENOMEM;
    }
    const json_t *text = json_is_object(root) ? json_path_get(root, text_field) : NULL;
    if (json_is_object(root))
        v->fields = REC_JSON_OBJECT | (text ? REC_HAS_TEXT : 0) | (json_path_get(root, id_field) ? REC_HAS_ID : 0);
    if (!json_is_object(root) || !json_is_string(text)) {
        *why = json_is_object(root) ? cli_format("no string field \"%s\" (see --text-field)", text_field)
                                    : cli_format("not a JSON object");
        json_decref(root);
        return *why ? ND_OK : ND_ENOMEM;
    }
    const json_t *id = json_path_get(root, id_field);
    if (id && json_is_string(id) && memchr(json_string_value(id), 0, json_string_length(id))) {
        /* ids are C strings everywhere (the index's keys, messages): cut at
         * the NUL, two ids would become one */
        json_decref(root);
        *why = cli_format("the id field \"%s\" holds a NUL character (\\u0000), which an id cannot hold", id_field);
        return *why ? ND_OK : ND_ENOMEM;
    }
    /* a number id is its literal, as written: a real or -0 (1e2, 0.1 and -0
     * became "100.0", "0.10000000000000001" and "0", ids no other tool
     * wrote), and an integer past 64 bits, parsed as a real */
    if (id && (json_is_real(id) || (json_is_integer(id) && json_integer_value(id) == 0)))
        v->id = raw_number_id(data, len, id_field, json_number_value(id));
    if (!v->id && id && !json_is_null(id) && !(v->id = json_id(id))) {
        json_decref(root);
        return ND_ENOMEM;
    }
    v->root = root;
    v->text = json_string_value(text);
    v->len = json_string_length(text);
    return ND_OK;
}

int doc_view_open(doc_view *v, const cli_config *cfg, const input *in, const record *rec)
{
    return doc_view_open_with(v, cfg, in, rec, NULL);
}

int doc_view_open_with(doc_view *v, const cli_config *cfg, const input *in, const record *rec, json_scratch *scratch)
{
    memset(v, 0, sizeof *v);
    const char *name = input_source_name(in, rec->source);
    if (rec->kind == RECORD_TOO_LARGE) {
        v->error = rec->line ? cli_format("%s:%llu: a document larger than --max-doc-bytes (%llu bytes)", name,
                                          (unsigned long long)rec->line, (unsigned long long)cfg->max_doc_bytes)
                             : cli_format("%s: a document larger than --max-doc-bytes (%llu bytes)", name,
                                          (unsigned long long)cfg->max_doc_bytes);
        return v->error ? ND_OK : ND_ENOMEM;
    }
    if (rec->kind != RECORD_JSON) {
        v->id = record_default_id(in, rec);
        v->text = rec->data;
        v->len = rec->len;
        return v->id ? ND_OK : ND_ENOMEM;
    }
    char *why;
    int rc = doc_json_read(v, rec->data, rec->len, cfg->text_field, cfg->id_field, 1, scratch, &why);
    if (rc != ND_OK) {
        doc_view_close(v);
        return rc;
    }
    if (why) {
        v->error = cli_format("%s:%llu: %s", name, (unsigned long long)rec->line, why);
        free(why);
        return v->error ? ND_OK : ND_ENOMEM;
    }
    if (!v->id && !v->id_raw && !(v->id = record_default_id(in, rec))) {
        doc_view_close(v);
        return ND_ENOMEM;
    }
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

int doc_view_reread(doc_view *v, const cli_config *cfg, const input *in, const record *rec)
{
    if (doc_view_open(v, cfg, in, rec) != ND_OK) {
        cli_error("out of memory");
        return -1;
    }
    if (v->error) {
        cli_error("%s (on the second reading)", v->error);
        doc_view_close(v);
        return -1;
    }
    return 0;
}
