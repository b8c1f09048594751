/* input.h - paths to records.
 *
 * A record is one document's raw bytes: a JSON Lines line (parsed later, in
 * the worker threads), one line of a text file (--lines), or a whole file.
 * Records come out in a fixed order: the paths as given, directories walked
 * recursively in byte order of their names, lines in file order.
 */
#ifndef ND_CLI_INPUT_H
#define ND_CLI_INPUT_H

#include <stddef.h> /* size_t */
#include <stdint.h> /* uint64_t */

#include "cli.h"

/* RECORD_TOO_LARGE: a document past --max-doc-bytes under --on-error
 * skip, with no data (document.c turns it into an error to skip). */
typedef enum { RECORD_TEXT, RECORD_JSON, RECORD_TOO_LARGE } record_kind;

typedef struct record {
    char *data; /* owned (unless borrowed); not NUL-terminated */
    size_t len;
    size_t source; /* index of the file, see input_source_name() */
    uint64_t line; /* 1-based line number; 0 for a whole file */
    record_kind kind;
    int borrowed; /* input_next_borrowed: data is the input's, valid until its next call */
    /* located: a line of an uncompressed regular file (JSON Lines or text
     * lines), whose bytes [offset, offset + len) in it are the record's
     * (input_open_source reads them again); 0 for any other record */
    int located;
    uint64_t offset;
} record;

typedef struct input input;

/* Expand the paths (directories recursively). Missing or unreadable paths
 * are reported and make it fail. Returns EXIT_OK or EXIT_FAIL. */
int input_open(input **out, const cli_config *cfg);
void input_close(input *in);

/* Next record into *rec (rec->data is newly allocated). Returns 1 for a
 * record, 0 at the end of all inputs, -1 on an error (reported). A
 * document larger than cfg->max_doc_bytes is an error under --on-error
 * fail, else a RECORD_TOO_LARGE record. */
int input_next(input *in, record *rec);

/* input_next() without the copy, for a single reader that is done with a
 * record before asking for the next: a line's data points into the input's
 * buffer (rec->borrowed = 1, do not free it); a whole-file record is still
 * a copy (rec->borrowed = 0). */
int input_next_borrowed(input *in, record *rec);

/* Kept records (input_hold), for a reader of many records at once: files
 * opened from now on are read into blocks of `block_size` bytes (more for
 * a longer line), recycled once released. Returns 0, or -1 (reported). */
typedef struct reader_block reader_block; /* reader.h */
int input_keep_blocks(input *in, size_t block_size);
/* After input_next_borrowed() gave `rec`: hold the block its bytes are
 * in, so they stay valid after the next call, until input_release().
 * `last` is the block the caller already holds, if any (returned again
 * without a second hold when the record is in it too). NULL when the
 * record is not in a block (a JSON array's element; a whole file, too
 * large or not kept records): copy it then. */
reader_block *input_hold(input *in, const record *rec, reader_block *last);
/* Release a hold of input_hold(); the input must still be open. */
void input_release(reader_block *b);
/* Free the released blocks kept for reading more (once no more is read). */
void input_trim_blocks(input *in);

/* Can the inputs be read a second time (regular files only: no stdin, no
 * pipes)? */
int input_rereadable(const input *in);

/* A second pass over the same files, in the same order, giving the same
 * records; `first` must stay open meanwhile. A file whose device, inode,
 * size or modification time differs from the first pass's is reported and
 * input_next() returns -1. Returns EXIT_OK or EXIT_FAIL. */
int input_reopen(input **out, const input *first);

/* Open source `source` of a first pass again, to read located records at
 * their offsets: checked, as input_reopen's reading is, to be the file the
 * first pass read (device, inode, size, modification time). Returns a
 * descriptor, or -1 (reported). */
int input_open_source(const input *first, size_t source);
/* After reading source `source` through fd (input_open_source's): is it
 * still the file the first pass read? A write while it was read (an edit
 * in place, the mtime put back or not) is reported: 0, or -1. */
int input_source_unchanged(const input *first, size_t source, int fd);
/* The name of source i, as the user gave it (or the directory walk built it). */
const char *input_source_name(const input *in, size_t source);
/* The same as its documents' ids show it: the name, or when that is not
 * well-formed UTF-8 the name with its ill-formed bytes as \xNN and its
 * backslashes doubled (utf8_escape_ill_formed), so that two such files
 * never share an id. */
const char *input_source_id(const input *in, size_t source);
/* How many sources (files, or parts) the input has. */
size_t input_source_count(const input *in);

/* Files a directory walk passed over: not regular files (FIFOs, sockets,
 * devices), hidden (a name starting with '.'; hidden directories are not
 * entered), binary (a NUL byte in the first 4 KiB and not gzip or zstd),
 * or not matching --include. Files named on the command line are read. */
typedef struct input_skipped {
    uint64_t special, hidden, binary, excluded;
} input_skipped;
input_skipped input_skipped_files(const input *in);

/* --format's value: text, jsonl or json. Returns 0, or -1 for another. */
int input_parse_format(const char *value, input_format *out);

/* One source of a distributed run's share (src/mpi/): a whole file, or the
 * lines of an uncompressed JSON Lines file that begin in bytes [start, end)
 * (see reader_set_range), numbered as in the whole file. */
typedef struct input_part {
    const char *name;
    int whole;           /* 1: the whole file, as input_open() reads it */
    uint64_t start, end; /* else: the byte range, read as JSON Lines */
    uint64_t first_line; /* lines before `start` */
} input_part;

/* An input over the given parts, in order (each one a source, named by
 * its file), instead of paths. `parts` is borrowed: it must outlive the
 * input and its input_reopen(). Returns EXIT_OK or EXIT_FAIL (reported). */
int input_open_parts(input **out, const cli_config *cfg, const input_part *parts, size_t count);

/* Is `name` a file that can be split by byte ranges: a regular,
 * uncompressed file read as JSON Lines (named .jsonl or .ndjson under
 * --format auto, any name under --format jsonl; none under --format text
 * or json, which read it whole)? *size is set to its size. */
int input_splittable(const char *name, input_format format, uint64_t *size);

/* The number of lines that begin in bytes [start, end) of a file (what
 * input_part.first_line of a later part adds up). Returns 0 or -1
 * (reported). */
int input_count_lines(uint64_t *out, const char *name, uint64_t start, uint64_t end);

#endif /* ND_CLI_INPUT_H */
