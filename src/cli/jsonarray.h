/* jsonarray.h - the elements of a JSON array read from a reader one at a
 * time, in bounded memory (jsonarray.c). */
#ifndef ND_CLI_JSONARRAY_H
#define ND_CLI_JSONARRAY_H

#include <stddef.h> /* size_t */
#include <stdint.h> /* uint64_t */

#include "reader.h"

typedef struct array_reader {
    const char *name; /* the file, for messages (borrowed) */
    uint64_t limit;   /* longest element to hold; 0 = none */
    int drain;        /* read a longer element through (else stop at the limit) */
    int phase;        /* see jsonarray.c */
    uint64_t line;    /* newlines consumed so far */
    char *element;    /* the last element given (owned) */
    size_t element_cap;
} array_reader;

/* Start reading the array in `name`. */
void array_reader_init(array_reader *a, const char *name, uint64_t limit, int drain);
void array_reader_free(array_reader *a);

/* The next element of the array: 1 with [*data, *data + *len) (valid
 * until the next call; line breaks outside strings turned into spaces so
 * that it fits on one JSON Lines line) and *line the line it starts on;
 * 2 for an element longer than the limit (*line set; read through and
 * dropped when `drain`, else the reader is left inside it, to be closed); 0 after the closing ']' and nothing but
 * blanks after it; -1 when the input is not a well-formed array (reported, naming file and line). */
int array_reader_next(array_reader *a, reader *r, const char **data, size_t *len, uint64_t *line);

#endif /* ND_CLI_JSONARRAY_H */
