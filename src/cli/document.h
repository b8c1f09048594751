/* document.h - from a record to a document's id and text (document.c). */
#ifndef ND_CLI_DOCUMENT_H
#define ND_CLI_DOCUMENT_H

#include <jansson.h> /* json_t */

#include "cli.h"
#include "json.h" /* json_scratch */
#include "input.h"

typedef struct doc_view {
    char *id;         /* owned; take it by setting it to NULL */
    const char *text; /* borrowed: from the record, `decoded` or root */
    size_t len;
    json_t *root;        /* the parsed record, or NULL (plain text, fast path) */
    char *error;         /* set when the record is unusable: "FILE:LINE: why" */
    char *decoded;       /* the text, when the fast path had to unescape it (without a scratch) */
    const char *id_raw;  /* with a scratch (doc_view_open_with): the fast path's id, borrowed from the */
    size_t id_raw_len;   /* record, and id NULL (no copy made) */
    size_t invalid_utf8; /* ill-formed sequences replaced in a JSON line */
    unsigned fields;     /* REC_JSON_OBJECT, REC_HAS_ID, REC_HAS_TEXT (cli.h): what a JSON record had */
} doc_view;

/* Open a record. Returns ND_OK (check v->error) or ND_ENOMEM. The text and
 * id fields may be dot paths into nested objects ("meta.body"; a member
 * whose name is the whole path comes first). */
int doc_view_open(doc_view *v, const cli_config *cfg, const input *in, const record *rec);
/* The same, reusing `scratch` (the caller's, one per thread) for a text
 * the fast path unescapes, and leaving a fast-path id where it is in the
 * record (v->id_raw): no allocation for most records. */
int doc_view_open_with(doc_view *v, const cli_config *cfg, const input *in, const record *rec, json_scratch *scratch);
void doc_view_close(doc_view *v);
/* Open a record read a second time (pass 2: replay.c, replay_at.c): 0
 * with v open, or -1 (reported: out of memory, or the record no longer
 * reads as it did) with v closed. */
int doc_view_reread(doc_view *v, const cli_config *cfg, const input *in, const record *rec);

/* One JSON record's text and id: by the fast path for flat objects when
 * `fast` (json.c), else (or when it declines) by jansson. On ND_OK either
 * *why is a newly allocated reason the record is unusable (v holds
 * nothing), or v is filled with v->id NULL when the record has no id (or
 * a null one). Returns ND_OK or ND_ENOMEM. */
int doc_json_read(doc_view *v, const char *data, size_t len, const char *text_field, const char *id_field, int fast,
                  json_scratch *scratch, char **why);

/* FILE for a whole-file record, FILE:LINE otherwise (newly allocated; FILE
 * as input_source_id gives it). */
char *record_default_id(const input *in, const record *rec);

#endif /* ND_CLI_DOCUMENT_H */
