/* optable.c - the options neardup knows, and which command takes which.
 *
 * One table for every subcommand: options.c parses argv against it and
 * refuses an option the command does not take; help.c prints each
 * command's --help from the same answer (cli_accepts), so that the parser
 * and the help cannot disagree. It sits below both (no call runs back up).
 */
#include "options.h"

#include <stddef.h> /* NULL */

const struct option cli_all_options[] = {
    {"threshold", required_argument, NULL, OPT_THRESHOLD},
    {"num-perm", required_argument, NULL, OPT_NUM_PERM},
    {"bands", required_argument, NULL, OPT_BANDS},
    {"rows", required_argument, NULL, OPT_ROWS},
    {"shingle", required_argument, NULL, OPT_SHINGLE},
    {"seed", required_argument, NULL, OPT_SEED},
    {"normalize", required_argument, NULL, OPT_NORMALIZE},
    {"id-field", required_argument, NULL, OPT_ID_FIELD},
    {"text-field", required_argument, NULL, OPT_TEXT_FIELD},
    {"lines", no_argument, NULL, OPT_LINES},
    {"on-error", required_argument, NULL, OPT_ON_ERROR},
    {"keep", required_argument, NULL, OPT_KEEP},
    {"annotate", no_argument, NULL, OPT_ANNOTATE},
    {"removed", required_argument, NULL, OPT_REMOVED},
    {"output", required_argument, NULL, OPT_OUTPUT},
    {"threads", required_argument, NULL, OPT_THREADS},
    {"quiet", no_argument, NULL, OPT_QUIET},
    {"verbose", no_argument, NULL, OPT_VERBOSE},
    {"tmpdir", required_argument, NULL, OPT_TMPDIR},
    {"unit", required_argument, NULL, OPT_UNIT},
    {"min-tokens", required_argument, NULL, OPT_MIN_TOKENS},
    {"boilerplate", required_argument, NULL, OPT_BOILERPLATE},
    {"shingles", no_argument, NULL, OPT_SHINGLES},
    {"memory", required_argument, NULL, OPT_MEMORY},
    {"json", no_argument, NULL, OPT_JSON},
    {"id", required_argument, NULL, OPT_ID},
    {"stats", required_argument, NULL, OPT_STATS},
    {"pairs", no_argument, NULL, OPT_PAIRS},
    {"measure", required_argument, NULL, OPT_MEASURE},
    {"min-shingles", required_argument, NULL, OPT_MIN_SHINGLES},
    {"output-dir", required_argument, NULL, OPT_OUTPUT_DIR},
    {"removed-dir", required_argument, NULL, OPT_REMOVED_DIR},
    {"format", required_argument, NULL, OPT_FORMAT},
    {"max-doc-bytes", required_argument, NULL, OPT_MAX_DOC_BYTES},
    {"include", required_argument, NULL, OPT_INCLUDE},
    {"index", required_argument, NULL, OPT_INDEX},
    {"update", no_argument, NULL, OPT_UPDATE},
    {"replace", no_argument, NULL, OPT_REPLACE},
    {"wait", no_argument, NULL, OPT_WAIT},
    {"no-verify", no_argument, NULL, OPT_NO_VERIFY},
    {"top", required_argument, NULL, OPT_TOP},
    {"ids", required_argument, NULL, OPT_IDS},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

static int is_matching_option(int opt)
{
    return opt == OPT_THRESHOLD || opt == OPT_NUM_PERM || opt == OPT_BANDS || opt == OPT_ROWS || opt == OPT_SHINGLE ||
           opt == OPT_SEED || opt == OPT_NORMALIZE;
}

/* How records are read: every command that reads documents. */
static int is_record_option(int opt)
{
    return opt == OPT_ID_FIELD || opt == OPT_TEXT_FIELD || opt == OPT_LINES || opt == OPT_ON_ERROR ||
           opt == OPT_FORMAT || opt == OPT_MAX_DOC_BYTES || opt == OPT_INCLUDE;
}

/* Running a pass over a corpus: threads and what is said on stderr. */
static int is_running_option(int opt)
{
    return opt == OPT_THREADS || opt == OPT_QUIET || opt == OPT_VERBOSE;
}

int cli_accepts(cli_command command, int opt)
{
    if (opt == OPT_HELP)
        return 1;
    switch (command) {
    case CMD_INDEX_STATS:
    case CMD_INDEX_VERIFY:
        return 0;
    case CMD_INDEX_COMPACT:
        return opt == OPT_QUIET || opt == OPT_NO_VERIFY;
    case CMD_INDEX_REMOVE:
        return opt == OPT_ID || opt == OPT_IDS || opt == OPT_WAIT || opt == OPT_QUIET || opt == OPT_NO_VERIFY;
    case CMD_INDEX_ADD:
        return is_matching_option(opt) || is_record_option(opt) || is_running_option(opt) || opt == OPT_REPLACE ||
               opt == OPT_WAIT || opt == OPT_NO_VERIFY || opt == OPT_MEMORY || opt == OPT_MEASURE ||
               opt == OPT_MIN_SHINGLES;
    case CMD_QUERY:
        return is_matching_option(opt) || is_record_option(opt) || is_running_option(opt) || opt == OPT_TOP ||
               opt == OPT_OUTPUT || opt == OPT_MEASURE || opt == OPT_MIN_SHINGLES;
    case CMD_PARAMS:
        return opt == OPT_THRESHOLD || opt == OPT_NUM_PERM || opt == OPT_BANDS || opt == OPT_ROWS;
    case CMD_NORMALIZE: /* what the tokens and shingle ids depend on */
        return opt == OPT_SHINGLE || opt == OPT_NORMALIZE || is_record_option(opt) || opt == OPT_QUIET ||
               opt == OPT_SHINGLES;
    case CMD_EXPLAIN:
        return is_matching_option(opt) || opt == OPT_MEASURE || opt == OPT_MIN_SHINGLES || is_record_option(opt) ||
               opt == OPT_QUIET || opt == OPT_JSON || opt == OPT_ID;
    case CMD_SCAN:
    case CMD_DEDUP:
        break;
    }
    if (opt == OPT_ANNOTATE || opt == OPT_REMOVED || opt == OPT_OUTPUT_DIR || opt == OPT_REMOVED_DIR ||
        opt == OPT_INDEX || opt == OPT_UPDATE || opt == OPT_REPLACE || opt == OPT_WAIT || opt == OPT_NO_VERIFY)
        return command == CMD_DEDUP;
    if (opt == OPT_PAIRS)
        return command == CMD_SCAN;
    return !(opt == OPT_SHINGLES || opt == OPT_JSON || opt == OPT_ID || opt == OPT_TOP || opt == OPT_IDS);
}
