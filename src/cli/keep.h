/* keep.h - --keep min:FIELD and max:FIELD: a record's value of FIELD, and
 * the ranks the library keeps survivors by (keep.c). */
#ifndef ND_CLI_KEEP_H
#define ND_CLI_KEEP_H

#include <stddef.h> /* size_t */
#include <stdint.h> /* uint64_t */

#include <jansson.h> /* json_t */

#include "arena.h"
#include "cli.h"
#include "input.h"

typedef enum { KEEP_VALUE_NONE = 0, KEEP_VALUE_NUMBER, KEEP_VALUE_STRING } keep_value_kind;

/* One record's value: none (no such field, null, or not a JSON record), a
 * number, or a string (its UTF-8 bytes, not NUL-terminated). */
typedef struct keep_value {
    keep_value_kind kind;
    long double number;
    const char *string;
    size_t len;
} keep_value;

/* Read field cfg->keep_field of a JSON record: from its parsed root when
 * it has one, else from the line (parsed by jansson only when the line
 * scanner cannot tell). A string is copied into `mem`.
 * @param[out] error set to "FILE:LINE: why" (malloc'd) when the field holds
 * something else than a number, a string or null.
 * Returns ND_OK (check *error) or ND_ENOMEM. */
int keep_value_read(keep_value *out, char **error, const cli_config *cfg, const input *in, const record *rec,
                    const json_t *root, arena *mem);

/* The values of a run's documents, in input order. Zero-initialize. */
typedef struct keep_table {
    keep_value *values;
    size_t count, capacity;
    size_t with_value; /* documents whose field holds a value */
    arena strings;
} keep_table;

/* Add the next document's value (its string copied). Returns 0, or -1 when
 * out of memory. */
int keep_table_add(keep_table *t, const keep_value *value);

/* The order of two values: numbers (as numbers) before strings (byte by
 * byte), ascending, or descending with `descending`; no value last either
 * way. 0 for equal values (the caller breaks ties by input order). */
int keep_value_order(const keep_value *a, const keep_value *b, int descending);

/* Each document's rank: its position when sorted by value (numbers as
 * numbers, before strings, which compare byte by byte; ascending, or
 * descending with `descending`), documents without a value last, ties in
 * input order. Newly allocated (t->count entries); NULL when out of
 * memory. */
uint64_t *keep_table_ranks(const keep_table *t, int descending);

void keep_table_free(keep_table *t);

#endif /* ND_CLI_KEEP_H */
