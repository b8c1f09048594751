/* options.h - the option table (optable.c) shared by options.c (argv to cli_config)
 * and help.c (each command's --help, and the nearest option to a typo):
 * one list of options, and which command takes which. */
#ifndef ND_CLI_OPTIONS_H
#define ND_CLI_OPTIONS_H

#include <getopt.h> /* struct option */

#include "cli.h"

enum {
    OPT_THRESHOLD = 't',
    OPT_HELP = 'h',
    OPT_NUM_PERM = 1000,
    OPT_BANDS,
    OPT_ROWS,
    OPT_SHINGLE,
    OPT_SEED,
    OPT_NORMALIZE,
    OPT_ID_FIELD,
    OPT_TEXT_FIELD,
    OPT_LINES,
    OPT_ON_ERROR,
    OPT_KEEP,
    OPT_ANNOTATE,
    OPT_REMOVED,
    OPT_OUTPUT,
    OPT_THREADS,
    OPT_QUIET,
    OPT_VERBOSE,
    OPT_TMPDIR,
    OPT_UNIT,
    OPT_MIN_TOKENS,
    OPT_BOILERPLATE,
    OPT_SHINGLES,
    OPT_MEMORY,
    OPT_JSON,
    OPT_ID,
    OPT_STATS,
    OPT_PAIRS,
    OPT_MEASURE,
    OPT_MIN_SHINGLES,
    OPT_OUTPUT_DIR,
    OPT_REMOVED_DIR,
    OPT_INDEX,
    OPT_UPDATE,
    OPT_REPLACE,
    OPT_WAIT,
    OPT_NO_VERIFY,
    OPT_TOP,
    OPT_IDS,
    OPT_FORMAT,
    OPT_MAX_DOC_BYTES,
    OPT_INCLUDE
};

/* Every long option, ending with a zeroed entry. */
extern const struct option cli_all_options[];

/* Whether `command` takes the option (an OPT_* value). */
int cli_accepts(cli_command command, int opt);

/* help.c: for the unknown option `given` ("--treshold" or "--thre=1"), a
 * hint naming the options `command` takes that it may have meant ("; did
 * you mean --threshold?"), written to hint[size]; empty when none is close
 * enough to be a typo or an abbreviation. */
void cli_option_hint(char *hint, size_t size, cli_command command, const char *given);

#endif /* ND_CLI_OPTIONS_H */
