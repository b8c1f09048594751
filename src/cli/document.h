/* document.h - from a record to a document's id and text (document.c). */
#ifndef ND_CLI_DOCUMENT_H
#define ND_CLI_DOCUMENT_H

#include <jansson.h> /* json_t */

#include "cli.h"
#include "input.h"

typedef struct doc_view {
    char *id;         /* owned; take it by setting it to NULL */
    const char *text; /* borrowed: from the record or from root */
    size_t len;
    json_t *root;        /* the parsed record, or NULL for plain text */
    char *error;         /* set when the record is unusable: "FILE:LINE: why" */
    char *decoded;       /* the text, when the fast path had to unescape it */
    size_t invalid_utf8; /* ill-formed sequences replaced in a JSON line */
} doc_view;

/* Open a record. Returns ND_OK (check v->error) or ND_ENOMEM. */
int doc_view_open(doc_view *v, const cli_config *cfg, const input *in, const record *rec);
void doc_view_close(doc_view *v);

/* jansson's reading of one JSON text, as every command does it: \u0000
 * allowed, integers beyond 64 bits read as reals (then *flags_out has
 * JSON_DECODE_INT_AS_REAL), ill-formed UTF-8 read as U+FFFD (counted in
 * *invalid_utf8). NULL with *err set when it is not JSON. */
json_t *cli_json_load(const char *text, size_t len, json_error_t *err, size_t *flags_out, size_t *invalid_utf8);

/* Where the raw value of the top-level field `field` is in a JSON object
 * line: [*start, *stop). Returns 0 when the line is not an object this
 * scanner reads, or the field is missing or repeated. */
int record_field_span(const char *line, size_t len, const char *field, size_t *start, size_t *stop);

/* FILE for a whole-file record, FILE:LINE otherwise (newly allocated). */
char *record_default_id(const input *in, const record *rec);
/* printf into a new string (NULL when out of memory). */
char *format_string(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
