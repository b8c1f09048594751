/* keep.c - --keep min:FIELD / max:FIELD: which copy of a cluster stays,
 * chosen by a field of the records ("--keep min:date" keeps the earliest
 * published copy).
 *
 * The library keeps the member of lowest rank (ND_KEEP_RANK) among those
 * that reach the threshold with every other member, so the program only
 * has to turn values into ranks: each worker reads the field of its
 * records (keep_value_read), the run collects them in input order
 * (keep_table), and after pass 1 the documents are sorted by value and
 * numbered. The order: numbers compare as numbers (JSON integers and
 * reals alike, as long double), strings byte by byte (UTF-8, so code point
 * order: ISO dates sort by time), numbers before strings should a field
 * hold both, and records without the field (or with null, or plain-text
 * documents) last; ties in input order. A field holding true, false, an
 * array or an object makes the record unusable (a message naming
 * FILE:LINE; --on-error decides).
 */
#include "keep.h"

#include <stdlib.h> /* qsort, strtold, malloc, free */
#include <string.h> /* memchr, memcpy, memcmp */

#include "json.h"

/* A string value into the arena (not NUL-terminated). */
static int keep_string(keep_value *out, const char *s, size_t len, arena *mem)
{
    char *copy = arena_alloc(mem, len ? len : 1);
    if (!copy)
        return ND_ENOMEM;
    memcpy(copy, s, len);
    *out = (keep_value){KEEP_VALUE_STRING, 0, copy, len};
    return ND_OK;
}

/* The value of a parsed JSON value; returns 1 when it is not usable. */
static int from_json(keep_value *out, const json_t *v, arena *mem, int *rc)
{
    *rc = ND_OK;
    if (!v || json_is_null(v)) {
        *out = (keep_value){KEEP_VALUE_NONE, 0, NULL, 0};
        return 0;
    }
    if (json_is_integer(v)) {
        *out = (keep_value){KEEP_VALUE_NUMBER, (long double)json_integer_value(v), NULL, 0};
        return 0;
    }
    if (json_is_real(v)) {
        *out = (keep_value){KEEP_VALUE_NUMBER, (long double)json_real_value(v), NULL, 0};
        return 0;
    }
    if (json_is_string(v)) {
        *rc = keep_string(out, json_string_value(v), json_string_length(v), mem);
        return 0;
    }
    return 1;
}

/* The value of a member's raw JSON text [s, s + len), found by the line
 * scanner (so it is valid JSON). Returns 1 when it is not usable. */
static int from_raw(keep_value *out, const char *s, size_t len, arena *mem, int *rc)
{
    *rc = ND_OK;
    if (s[0] == '"' && !memchr(s, '\\', len)) {
        *rc = keep_string(out, s + 1, len - 2, mem);
        return 0;
    }
    if (s[0] == '-' || (s[0] >= '0' && s[0] <= '9')) {
        char literal[512];
        if (len < sizeof literal) {
            memcpy(literal, s, len);
            literal[len] = '\0';
            *out = (keep_value){KEEP_VALUE_NUMBER, strtold(literal, NULL), NULL, 0};
            return 0;
        }
    }
    /* escaped strings, long numbers, literals, containers: jansson reads it */
    json_error_t err;
    json_t *v = json_loadb(s, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
    if (!v) { /* a number out of jansson's range: read as a real */
        v = json_loadb(s, len, JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL, &err);
        if (!v) {
            *out = (keep_value){KEEP_VALUE_NONE, 0, NULL, 0};
            return 1;
        }
    }
    int bad = from_json(out, v, mem, rc);
    json_decref(v);
    return bad;
}

int keep_value_read(keep_value *out, char **error, const cli_config *cfg, const input *in, const record *rec,
                    const json_t *root, arena *mem)
{
    *error = NULL;
    *out = (keep_value){KEEP_VALUE_NONE, 0, NULL, 0};
    if (rec->kind != RECORD_JSON)
        return ND_OK;
    int rc = ND_OK, bad;
    size_t start, stop;
    json_t *parsed = NULL;
    int where = root ? -1 : json_member_find(rec->data, rec->len, cfg->keep_field, &start, &stop);
    if (where == 1) {
        bad = from_raw(out, rec->data + start, stop - start, mem, &rc);
    } else if (where == 0) {
        bad = 0; /* no such member */
    } else {
        if (!root) {
            json_error_t err;
            size_t invalid;
            root = parsed = json_load_text(rec->data, rec->len, &err, NULL, &invalid);
        }
        bad = root && json_is_object(root) ? from_json(out, json_path_get(root, cfg->keep_field), mem, &rc) : 0;
    }
    json_decref(parsed);
    if (bad) {
        *error = cli_format("%s:%llu: field \"%s\" is neither a number nor a string (--keep %s:%s)",
                            input_source_name(in, rec->source), (unsigned long long)rec->line, cfg->keep_field,
                            cfg->keep_descending ? "max" : "min", cfg->keep_field);
        if (!*error)
            rc = ND_ENOMEM;
    }
    return rc;
}

int keep_table_add(keep_table *t, const keep_value *value)
{
    if (t->count == t->capacity) {
        size_t cap = t->capacity ? t->capacity * 2 : 1024;
        keep_value *grown = realloc(t->values, cap * sizeof *grown);
        if (!grown)
            return -1;
        t->values = grown;
        t->capacity = cap;
    }
    keep_value v = *value;
    t->with_value += v.kind != KEEP_VALUE_NONE;
    if (v.kind == KEEP_VALUE_STRING) {
        char *copy = arena_alloc(&t->strings, v.len ? v.len : 1);
        if (!copy)
            return -1;
        memcpy(copy, v.string, v.len);
        v.string = copy;
    }
    t->values[t->count++] = v;
    return 0;
}

/* Order of two values of the same kind, ascending. */
static int compare_values(const keep_value *a, const keep_value *b)
{
    if (a->kind == KEEP_VALUE_NUMBER)
        return (a->number > b->number) - (a->number < b->number);
    size_t n = a->len < b->len ? a->len : b->len;
    int c = n ? memcmp(a->string, b->string, n) : 0;
    if (c != 0)
        return c < 0 ? -1 : 1;
    return (a->len > b->len) - (a->len < b->len);
}

int keep_value_order(const keep_value *a, const keep_value *b, int descending)
{
    if (a->kind != b->kind) {
        if (a->kind == KEEP_VALUE_NONE || b->kind == KEEP_VALUE_NONE)
            return a->kind == KEEP_VALUE_NONE ? 1 : -1;
        return a->kind == KEEP_VALUE_NUMBER ? -1 : 1;
    }
    int c = a->kind == KEEP_VALUE_NONE ? 0 : compare_values(a, b);
    return descending ? -c : c;
}

/* qsort on pointers into the values array: the pointer order is the input
 * order, the tie-break. */
static int compare_kinds_then(const keep_value *a, const keep_value *b, int descending)
{
    int c = keep_value_order(a, b, descending);
    if (c != 0)
        return c;
    return (a > b) - (a < b);
}

static int compare_ascending(const void *pa, const void *pb)
{
    return compare_kinds_then(*(const keep_value *const *)pa, *(const keep_value *const *)pb, 0);
}

static int compare_descending(const void *pa, const void *pb)
{
    return compare_kinds_then(*(const keep_value *const *)pa, *(const keep_value *const *)pb, 1);
}

uint64_t *keep_table_ranks(const keep_table *t, int descending)
{
    const keep_value **order = malloc((t->count ? t->count : 1) * sizeof *order);
    uint64_t *ranks = malloc((t->count ? t->count : 1) * sizeof *ranks);
    if (!order || !ranks) {
        free(order);
        free(ranks);
        return NULL;
    }
    for (size_t i = 0; i < t->count; i++)
        order[i] = &t->values[i];
    qsort(order, t->count, sizeof *order, descending ? compare_descending : compare_ascending);
    for (size_t i = 0; i < t->count; i++)
        ranks[order[i] - t->values] = i;
    free(order);
    return ranks;
}

void keep_table_free(keep_table *t)
{
    free(t->values);
    arena_free(&t->strings);
    t->values = NULL;
    t->count = t->capacity = 0;
}
