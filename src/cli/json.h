/* json.h - JSON text: the strict scanner of flat records, locating and
 * replacing a member's bytes, and jansson's reading as every command does
 * it (json.c). Knows nothing of files, records or documents. */
#ifndef ND_CLI_JSON_H
#define ND_CLI_JSON_H

#include <stddef.h> /* size_t */
#include <stdio.h>  /* FILE */

#include <jansson.h> /* json_t, json_error_t */

/* jansson's reading of one JSON text: \u0000 allowed, integers beyond 64
 * bits read as reals (then *flags_out has JSON_DECODE_INT_AS_REAL),
 * ill-formed UTF-8 read as U+FFFD (counted in *invalid_utf8). NULL with
 * *err set when it is not JSON. flags_out may be NULL. */
json_t *json_load_text(const char *text, size_t len, json_error_t *err, size_t *flags_out, size_t *invalid_utf8);

/* What the fast path found in a flat record (json_fast_record). */
typedef enum { JSON_ID_NONE, JSON_ID_STRING, JSON_ID_INTEGER, JSON_ID_NULL } json_id_kind;

typedef struct json_fast {
    const char *text; /* the text value, unescaped: into the line, or `decoded` */
    size_t text_len;
    char *decoded;  /* owned (free it) when the text had escapes, else NULL */
    const char *id; /* the id value's raw bytes (JSON_ID_STRING, JSON_ID_INTEGER) */
    size_t id_len;
    json_id_kind id_kind;
} json_fast;

/* Read a flat JSON object line directly: every member's value a string,
 * number or literal, keys without escapes and not repeated (for the two
 * keys asked for), the text a string, the id (if present) a string without
 * escapes, a plain integer or null, all text valid UTF-8. Checks the JSON
 * grammar of everything it passes over. Returns 1 with *out filled, or 0
 * for anything else (leave it to jansson, the authority for validity and
 * messages; the two agree on every record accepted here). */
int json_fast_record(const char *line, size_t len, const char *text_key, const char *id_key, json_fast *out);
/* A buffer a thread lends json_fast_record_into for the texts it
 * unescapes, kept from record to record (zero-initialize; free buf): a
 * malloc and a free a record (with the id's, doc_view_open_with: 1M
 * documents, 2.48 -> 2.34 s with two threads, 4.35 -> 4.16 s with one). */
typedef struct json_scratch {
    char *buf;
    size_t capacity;
} json_scratch;
/* json_fast_record, an escaped text unescaped into scratch->buf (valid
 * until the scratch's next use; out->decoded stays NULL). */
int json_fast_record_into(const char *line, size_t len, const char *text_key, const char *id_key, json_fast *out,
                          json_scratch *scratch);

/* Where the raw value of the top-level member `key` is in a JSON object
 * line: [*start, *stop). When there is no such member, `key` may be a dot
 * path into nested objects ("meta.body"), as document.c reads it. Returns
 * 0 when the line is not an object this scanner reads, or the member is
 * missing or repeated. */
int json_member_span(const char *line, size_t len, const char *key, size_t *start, size_t *stop);

/* json_member_span(), telling a missing member from a line this scanner
 * cannot decide on: 1 found ([*start, *stop) set), 0 the object has no
 * such member, -1 not an object it reads, or the member is repeated. */
int json_member_find(const char *line, size_t len, const char *key, size_t *start, size_t *stop);

/* jansson's value of the member `path` of an object: the member of that
 * very name, or else a dot path into nested objects ("meta.body": member
 * body of member meta), as json_member_find reads it; NULL when absent. */
const json_t *json_path_get(const json_t *root, const char *path);

/* Where jansson's value of the member `key` (a top-level name, or else a dot
 * path into nested objects, "meta.body", as document.c reads it) is in a JSON object
 * line, whatever the line holds: keys are compared unescaped ("k\u00e9"
 * is "ké"), values nested as deep as jansson reads are passed over, and of
 * a repeated key the last one is found (jansson keeps the last). 1 found
 * ([*start, *stop) set), 0 no such member, -1 not a JSON object. */
int json_member_locate(const char *line, size_t len, const char *key, size_t *start, size_t *stop);

/* The JSON object `line` without its top-level members named `key`
 * (compared unescaped), into out (room for len bytes): each with the comma
 * after it, or the last one with the comma before it; every other byte as
 * it was. Returns the length written, or SIZE_MAX when `line` is not an
 * object it reads (out then undefined). */
size_t json_members_drop(char *out, const char *line, size_t len, const char *key);

/* Write the JSON object `line` with `member` ("key":value, `key` its name)
 * added before its closing brace, then a newline. A member of that name
 * the object has already (an earlier --annotate's) is taken out first
 * (json_members_drop): a name twice in one object reads differently in
 * different JSON readers. Every other byte is unchanged.
 * @pre line is a JSON object (ends with '}' and optional blanks). */
void json_write_with_member(FILE *out, const char *line, size_t len, const char *key, const char *member);

/* Write s (any bytes; ill-formed UTF-8 as U+FFFD) as a JSON string. */
void json_write_string(FILE *out, const char *s, size_t len);

#endif /* ND_CLI_JSON_H */
