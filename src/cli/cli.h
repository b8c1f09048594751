/* cli.h - what the parts of the neardup program share: the configuration,
 * the exit codes, the commands' entry points, messages and JSON pieces.
 *
 * The program is a thin user of the library: options.c turns argv into a
 * cli_config; input.c turns paths into records and document.c records into
 * ids and texts; pipeline.c sketches records on worker threads and hands
 * them over in input order; run.c builds an nd_index from them, clusters,
 * and writes the output (doc_output.c, unit_output.c; replay.c reads the
 * records a second time where output needs them). The persistent index's
 * commands (index_cmd.c, query_cmd.c, index_dedup.c, sharing dbcli.c) use
 * the same pipeline and the library's nd_db. Only this program
 * prints, and only main() chooses the exit code:
 * 0 ok, 1 failure (input, I/O), 2 usage.
 */
#ifndef ND_CLI_H
#define ND_CLI_H

#include <stdint.h> /* uint64_t */
#include <stdio.h>  /* FILE */

#include "neardup.h"

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

typedef enum {
    CMD_SCAN,
    CMD_DEDUP,
    CMD_PARAMS,
    CMD_NORMALIZE,
    CMD_EXPLAIN,
    CMD_INDEX_ADD,
    CMD_INDEX_STATS,
    CMD_INDEX_REMOVE,
    CMD_INDEX_COMPACT,
    CMD_INDEX_VERIFY,
    CMD_QUERY
} cli_command;
typedef enum { ON_ERROR_FAIL, ON_ERROR_SKIP } on_error_policy;
/* What a record showed of the fields asked for (doc_view, sketched_doc),
 * and which of --id-field, --text-field were given (cli_config). */
enum { REC_JSON_OBJECT = 1, REC_HAS_ID = 2, REC_HAS_TEXT = 4 };
/* --format: how files are read; auto = by name, then by content (input.c) */
typedef enum { FORMAT_AUTO, FORMAT_TEXT, FORMAT_JSONL, FORMAT_JSON } input_format;

typedef struct cli_config {
    cli_command command;
    nd_options opts;
    const char *id_field;
    const char *text_field;
    unsigned fields_given;  /* REC_HAS_ID: --id-field given; REC_HAS_TEXT: --text-field given */
    int lines;              /* --lines: each line of a text file is a document */
    input_format format;    /* --format */
    uint64_t max_doc_bytes; /* --max-doc-bytes: a larger document is an error (or skipped) */
    const char **includes;  /* --include GLOB (repeatable): files a directory walk reads */
    size_t include_count;
    on_error_policy on_error;
    nd_keep keep;           /* ND_KEEP_RANK for --keep min:FIELD / max:FIELD */
    const char *keep_field; /* --keep min:FIELD / max:FIELD, else NULL */
    int keep_descending;    /* max:FIELD */
    int pairs;              /* scan --pairs */
    int annotate;
    const char *removed_path;
    const char *output_path; /* -o FILE: scan, dedup, query write here instead of stdout */
    const char *output_dir;  /* dedup --output-dir: one output file per input */
    const char *removed_dir; /* dedup --removed-dir: one removed file per input */
    const char *stats_path;  /* --stats FILE: the run's counts as JSON */
    unsigned threads;
    int quiet;
    int verbose; /* stage timings on stderr */
    const char *tmpdir;
    nd_unit_kind unit;          /* --unit document|paragraph|line */
    unsigned min_tokens;        /* --min-tokens: smaller units are ignored */
    unsigned boilerplate;       /* --boilerplate N: 0 = off */
    uint64_t memory;            /* --memory: bytes; past half of it the index spills to --tmpdir */
    int show_shingles;          /* normalize --shingles */
    int json_output;            /* explain --json */
    const char *explain_ids[2]; /* explain --id A --id B */
    int explain_id_count;
    char **paths; /* inputs; "-" is stdin; none means stdin */
    int path_count;
    /* the persistent index (index, query, dedup --index) */
    unsigned given;         /* ND_OPT_* bits: matching options given on the command line */
    const char *index_path; /* DB */
    int update;             /* dedup --update */
    int replace;            /* --replace: an id already in the index is replaced */
    int wait;               /* --wait for another writer */
    int no_verify;          /* --no-verify: a writer skips the check of every page (dbcli_open) */
    size_t top;             /* query --top K; 0 = all */
    char **remove_ids;      /* index remove --id ... (malloc'd array of argv strings) */
    size_t remove_id_count;
    const char *ids_file; /* index remove --ids FILE */
} cli_config;

/* options.c */
/* Parse argv for a subcommand. Returns EXIT_OK, EXIT_USAGE (message
 * printed), or -1 when --help was printed (exit 0). */
int cli_parse(cli_config *cfg, cli_command command, int argc, char **argv);
void cli_print_help(cli_command command, FILE *out);
/* What cli_parse allocated. */
void cli_config_free(cli_config *cfg);
/* dbcli.c: the index commands' part of cli_parse: DB as their first path,
 * and options that go together. Returns EXIT_OK or EXIT_USAGE (reported). */
int cli_check_index_options(cli_config *cfg, const char *name);
/* dbcli.c: --help of the index commands. */
void cli_print_index_help(cli_command command, FILE *out);

/* index_cmd.c: index add, stats, remove, compact; query_cmd.c: query;
 * index_dedup.c: dedup --index */
int cli_index(const cli_config *cfg);
int cli_query(const cli_config *cfg);
int cli_dedup_index(const cli_config *cfg);

/* run.c: scan and dedup */
int cli_run(const cli_config *cfg);

/* inspect.c: params, normalize, explain */
int cli_params(const cli_config *cfg);
int cli_normalize(const cli_config *cfg);
int cli_explain(const cli_config *cfg);

/* The profile as written in outputs: "default/3". */
const char *cli_profile_label(const nd_options *opts);

/* output.c: JSON pieces. Strings are written as valid UTF-8 (ill-formed
 * bytes as U+FFFD) with JSON escapes. */
void out_string(FILE *f, const char *s, size_t len);
/* out_string for an id from an index, which may be any bytes: one that
 * is not UTF-8 written as file names in ids are (\xNN), so that two stay
 * two. */
void out_id(FILE *f, const char *s, size_t len);
void out_number(FILE *f, double x);
/* nd_text_preview() as a newly allocated, NUL-terminated string (NULL when
 * out of memory). */
char *text_preview(const char *text, size_t len, size_t max_chars);
/* write_item(f, i, ctx) for i in [0, n), to `out` in that order, items
 * formatted on up to `threads` threads (write_item must be safe to call
 * from several threads at once on different items; it returns 0, or -1
 * when out of memory). Returns 0 or -1 (nothing reported). */
int out_lines(FILE *out, size_t n, unsigned threads, int (*write_item)(FILE *f, size_t i, void *ctx), void *ctx);

/* diag.c: diagnostics on stderr, prefixed with the program name
 * ("neardup", or what cli_set_program() set: "neardup-mpi: rank 2"). */
void cli_set_program(const char *name);
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void cli_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A line of information: "neardup: message" (escaped like the others). */
void cli_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Kinds of warning that repeat once per record or file: each is shown
 * WARN_LIMIT times, then counted (a new kind goes here and in diag.c's
 * names of the kinds). */
typedef enum { WARN_SKIPPED, WARN_INVALID_UTF8, WARN_FILE_NAME, WARN_KINDS } cli_warn_kind;
enum { WARN_LIMIT = 5 };
void cli_warn_of(cli_warn_kind kind, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* One line per kind with the count of the warnings not shown (and any
 * held lines not taken); idempotent. */
void cli_warn_flush(void);
/* neardup-mpi: from cli_warn_hold(1) on, the first WARN_LIMIT warnings of
 * each kind are kept, whole lines, instead of written; cli_warn_take gives
 * a kind's kept lines (malloc'd, *len bytes; NULL when none) and how many
 * of its warnings there were, and starts the kind anew; cli_warn_more
 * writes the line that counts those past WARN_LIMIT of `seen`. */
void cli_warn_hold(int on);
uint64_t cli_warn_take(cli_warn_kind kind, char **lines, size_t *len);
void cli_warn_more(cli_warn_kind kind, uint64_t seen);
/* `len` bytes of user data (an id, a file name, an excerpt) as they are
 * written in messages: controls, bidirectional formatting and ill-formed
 * UTF-8 as \xNN or \uNNNN, the rest as is. Every message goes through it. */
void cli_escape(FILE *out, const char *text, size_t len);
/* printf into a new string (NULL when out of memory). */
char *cli_format(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif /* ND_CLI_H */
