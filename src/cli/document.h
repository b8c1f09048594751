/* document.h - from a record to a document's id and text (document.c). */
#ifndef ND_CLI_DOCUMENT_H
#define ND_CLI_DOCUMENT_H

#include <jansson.h> /* json_t */

#include "cli.h"
#include "input.h"

typedef struct doc_view {
    char *id;         /* owned; take it by setting it to NULL */
    const char *text; /* borrowed: from the record, `decoded` or root */
    size_t len;
    json_t *root;        /* the parsed record, or NULL (plain text, fast path) */
    char *error;         /* set when the record is unusable: "FILE:LINE: why" */
    char *decoded;       /* the text, when the fast path had to unescape it */
    size_t invalid_utf8; /* ill-formed sequences replaced in a JSON line */
    unsigned fields;     /* REC_JSON_OBJECT, REC_HAS_ID, REC_HAS_TEXT (cli.h): what a JSON record had */
} doc_view;

/* Open a record. Returns ND_OK (check v->error) or ND_ENOMEM. */
int doc_view_open(doc_view *v, const cli_config *cfg, const input *in, const record *rec);
void doc_view_close(doc_view *v);

/* FILE for a whole-file record, FILE:LINE otherwise (newly allocated). */
char *record_default_id(const input *in, const record *rec);

#endif /* ND_CLI_DOCUMENT_H */
