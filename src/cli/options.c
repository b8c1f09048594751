/* options.c - argv to cli_config.
 *
 * One option table serves all subcommands (optable.c: the options, and
 * which command takes which; help.c prints exactly those in --help). Values are
 * checked here, with a message naming the option and the accepted range
 * (exit 2), so that run.c only sees sane configurations.
 */
#include "options.h"

#include "input.h" /* input_parse_format */

#include <errno.h>    /* errno */
#include <getopt.h>   /* getopt_long */
#include <stdlib.h>   /* strtod, strtoul */
#include <string.h>   /* strcmp, strncmp, strerror */
#include <sys/stat.h> /* stat */
#include <unistd.h>   /* sysconf, access */

static const char *const command_names[] = {"scan",          "dedup",        "params",      "normalize",
                                            "explain",       "index add",    "index stats", "index remove",
                                            "index compact", "index verify", "query"};

/* The command being parsed, as its --help is asked for ("scan", "index
 * add"): named where a bad value points to the help. */
static const char *help_name = "COMMAND";

static int bad_value(const char *option, const char *value, const char *expected)
{
    cli_error("--%s '%s': expected %s (see 'neardup %s --help')", option, value, expected, help_name);
    return EXIT_USAGE;
}

static int parse_unsigned(const char *s, unsigned long min, unsigned long max, unsigned long *out)
{
    if (!s || !*s || *s == '-')
        return -1;
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || *end || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

static int parse_shingle(nd_options *opts, const char *spec)
{
    unsigned long n;
    if (strcmp(spec, "auto") == 0) {
        opts->shingle_kind = ND_SHINGLE_AUTO;
        return 0;
    }
    if (strncmp(spec, "words:", 6) == 0 && parse_unsigned(spec + 6, 1, 64, &n) == 0) {
        opts->shingle_kind = ND_SHINGLE_WORDS;
        opts->shingle_size = (unsigned)n;
        return 0;
    }
    if (strncmp(spec, "chars:", 6) == 0 && parse_unsigned(spec + 6, 1, 64, &n) == 0) {
        opts->shingle_kind = ND_SHINGLE_CHARS;
        opts->char_size = (unsigned)n;
        return 0;
    }
    return -1;
}

/* A size ("2G", "500M", "64K", "1000000" -> bytes): decimal digits with an optional fraction, then an optional K, M,
 * G or T (powers of 1024) and an optional B. 0, -1 when it is not such a
 * size (hex, an exponent, inf: strtod took them, so 0x10M and 1e3M were
 * sizes), or SIZE_TOO_LARGE past 10^18 bytes. */
enum { SIZE_TOO_LARGE = -2 };
static int parse_size(const char *s, uint64_t *out)
{
    const char *p = s;
    while (*p >= '0' && *p <= '9')
        p++;
    if (p == s)
        return -1;
    if (*p == '.') {
        const char *digits = ++p;
        while (*p >= '0' && *p <= '9')
            p++;
        if (p == digits)
            return -1;
    }
    errno = 0;
    double v = strtod(s, NULL); /* of [s, p): plain decimal */
    const char *end = p;
    if (errno == ERANGE && v > 0)
        return SIZE_TOO_LARGE; /* (past a double's range: hundreds of digits) */
    if (errno || !(v > 0))
        return -1;
    double scale = 1;
    if (*end == 'K' || *end == 'k')
        scale = 1024.0;
    else if (*end == 'M' || *end == 'm')
        scale = 1024.0 * 1024;
    else if (*end == 'G' || *end == 'g')
        scale = 1024.0 * 1024 * 1024;
    else if (*end == 'T' || *end == 't')
        scale = 1024.0 * 1024 * 1024 * 1024;
    else if (*end != '\0')
        return -1;
    if (*end && end[1] && !((end[1] == 'B' || end[1] == 'b') && end[2] == '\0'))
        return -1;
    if (v * scale > 1e18)
        return SIZE_TOO_LARGE;
    *out = (uint64_t)(v * scale);
    return 0;
}

/* A quarter of physical memory: the index spills at half of it, which
 * leaves the page cache room for the input and the spill files. With half
 * of a 24 GB machine, ten million documents ran 35% slower than with a
 * quarter, re-reading the input from disk. */
static uint64_t default_memory(void)
{
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    if (pages <= 0 || page <= 0)
        return (uint64_t)4 << 30;
    return (uint64_t)pages * (uint64_t)page / 4;
}

static unsigned default_threads(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1u : (n > 256 ? 256u : (unsigned)n);
}

/* What is wrong with `dir` as a place for temporary files (a directory
 * this user can create files in), or NULL when nothing is. */
static const char *tmpdir_problem(const char *dir)
{
    struct stat st;
    if (stat(dir, &st) != 0)
        return strerror(errno);
    if (!S_ISDIR(st.st_mode))
        return "not a directory";
    if (access(dir, W_OK | X_OK) != 0)
        return errno == EACCES ? "cannot create files there: Permission denied" : strerror(errno);
    return NULL;
}

/* The directory for temporary files is checked before anything is read
 * (whether this run needs it or not): a bad --tmpdir is refused; a bad
 * $TMPDIR is said and /tmp used instead, as most tools fall back. */
static int check_tmpdir(const char *name, cli_config *cfg, int given)
{
    const char *why = tmpdir_problem(cfg->tmpdir);
    if (!why)
        return EXIT_OK;
    if (given) {
        cli_error("%s: --tmpdir '%s': %s", name, cfg->tmpdir, why);
        return EXIT_USAGE;
    }
    int spools = cfg->command == CMD_SCAN || cfg->command == CMD_DEDUP || cfg->command == CMD_INDEX_ADD ||
                 cfg->command == CMD_QUERY; /* the commands that may write temporary files */
    if (spools && strcmp(cfg->tmpdir, "/tmp") != 0) {
        cli_warn("$TMPDIR '%s': %s; temporary files go to /tmp (--tmpdir DIR chooses)", cfg->tmpdir, why);
        cfg->tmpdir = "/tmp";
    }
    return EXIT_OK;
}

int cli_parse(cli_config *cfg, cli_command command, int argc, char **argv)
{
    nd_options defaults = ND_OPTIONS_INIT;
    memset(cfg, 0, sizeof *cfg);
    cfg->command = command;
    cfg->opts = defaults;
    cfg->id_field = "id";
    cfg->text_field = "text";
    cfg->on_error = ON_ERROR_FAIL;
    cfg->keep = ND_KEEP_FIRST;
    cfg->unit = ND_UNIT_DOCUMENT;
    cfg->min_tokens = 1;
    cfg->threads = default_threads();
    cfg->memory = default_memory();
    const char *tmpdir = getenv("TMPDIR");
    cfg->tmpdir = tmpdir && *tmpdir ? tmpdir : "/tmp";
    cfg->max_doc_bytes = (uint64_t)64 << 20;

    const char *name = command_names[command];
    help_name = name;
    optind = 1;
    opterr = 0;
    int opt;
    int long_index = -1;
    int tmpdir_given = 0;
    int keep_given = 0; /* --keep: refused with --pairs, which has no survivor */
    while ((opt = getopt_long(argc, argv, ":t:ho:", cli_all_options, &long_index)) != -1) {
        unsigned long n;
        int rc;
        const char *arg = optarg;
        char option_name[64];
        if (long_index >= 0)
            snprintf(option_name, sizeof option_name, "--%s", cli_all_options[long_index].name);
        else
            snprintf(option_name, sizeof option_name, "-%c", opt);
        long_index = -1;
        if (opt == '?') {
            char hint[256] = "";
            if (optopt) {
                cli_error("%s: unknown option '-%c' (see 'neardup %s --help')", name, optopt, name);
            } else {
                cli_option_hint(hint, sizeof hint, command, argv[optind - 1]);
                cli_error("%s: unknown option '%s'%s (see 'neardup %s --help')", name, argv[optind - 1], hint, name);
            }
            return EXIT_USAGE;
        }
        if (opt == ':') {
            cli_error("%s: option '%s' needs a value", name, argv[optind - 1]);
            return EXIT_USAGE;
        }
        if (opt == 'o')
            opt = OPT_OUTPUT;
        if (!cli_accepts(command, opt)) {
            cli_error("%s: option '%s' does not apply here (see 'neardup %s --help')", name, option_name, name);
            return EXIT_USAGE;
        }
        switch (opt) {
        case OPT_HELP:
            cli_print_help(command, stdout);
            return -1;
        case OPT_THRESHOLD: {
            char *end;
            errno = 0;
            double t = strtod(arg, &end);
            if (errno || *end || !(t > 0.0 && t <= 1.0))
                return bad_value("threshold", arg, "a number in (0, 1]");
            cfg->opts.threshold = t;
            cfg->given |= ND_OPT_THRESHOLD;
            break;
        }
        case OPT_NUM_PERM:
            if (parse_unsigned(arg, 1, 4096, &n))
                return bad_value("num-perm", arg, "a whole number from 1 to 4096");
            cfg->opts.num_perm = (unsigned)n;
            cfg->given |= ND_OPT_NUM_PERM;
            break;
        case OPT_BANDS:
            if (parse_unsigned(arg, 1, 4096, &n))
                return bad_value("bands", arg, "a whole number from 1 to 4096");
            cfg->opts.bands = (unsigned)n;
            cfg->given |= ND_OPT_BANDS;
            break;
        case OPT_ROWS:
            if (parse_unsigned(arg, 1, 4096, &n))
                return bad_value("rows", arg, "a whole number from 1 to 4096");
            cfg->opts.rows = (unsigned)n;
            cfg->given |= ND_OPT_BANDS;
            break;
        case OPT_SHINGLE:
            if (parse_shingle(&cfg->opts, arg))
                return bad_value("shingle", arg, "words:K or chars:N with K, N from 1 to 64, or auto");
            cfg->given |= ND_OPT_SHINGLE;
            break;
        case OPT_SEED: {
            char *end;
            errno = 0;
            unsigned long long s = strtoull(arg, &end, 0);
            if (errno || *end || !*arg || *arg == '-')
                return bad_value("seed", arg, "a non-negative whole number");
            cfg->opts.seed = (uint64_t)s;
            cfg->given |= ND_OPT_SEED;
            break;
        }
        case OPT_NORMALIZE:
            if (nd_profile_from_name(&cfg->opts.profile, arg) != ND_OK)
                return bad_value("normalize", arg, "default or aggressive");
            cfg->given |= ND_OPT_PROFILE;
            break;
        case OPT_ID_FIELD:
            cfg->id_field = arg;
            cfg->fields_given |= REC_HAS_ID;
            break;
        case OPT_TEXT_FIELD:
            cfg->text_field = arg;
            cfg->fields_given |= REC_HAS_TEXT;
            break;
        case OPT_LINES:
            cfg->lines = 1;
            break;
        case OPT_ON_ERROR:
            if (strcmp(arg, "fail") == 0)
                cfg->on_error = ON_ERROR_FAIL;
            else if (strcmp(arg, "skip") == 0)
                cfg->on_error = ON_ERROR_SKIP;
            else
                return bad_value("on-error", arg, "fail or skip");
            break;
        case OPT_KEEP:
            keep_given = 1;
            cfg->keep_field = NULL;
            if (strcmp(arg, "first") == 0) {
                cfg->keep = ND_KEEP_FIRST;
            } else if (strcmp(arg, "longest") == 0) {
                cfg->keep = ND_KEEP_LONGEST;
            } else if ((strncmp(arg, "min:", 4) == 0 || strncmp(arg, "max:", 4) == 0) && arg[4]) {
                cfg->keep = ND_KEEP_RANK;
                cfg->keep_field = arg + 4;
                cfg->keep_descending = arg[1] == 'a';
            } else {
                return bad_value("keep", arg, "first, longest, min:FIELD or max:FIELD");
            }
            break;
        case OPT_PAIRS:
            cfg->pairs = 1;
            break;
        case OPT_MEASURE:
            if (strcmp(arg, "jaccard") == 0)
                cfg->opts.measure = ND_MEASURE_JACCARD;
            else if (strcmp(arg, "containment") == 0)
                cfg->opts.measure = ND_MEASURE_CONTAINMENT;
            else
                return bad_value("measure", arg, "jaccard or containment");
            cfg->given |= ND_OPT_MEASURE;
            break;
        case OPT_MIN_SHINGLES:
            if (parse_unsigned(arg, 1, 1000000, &n))
                return bad_value("min-shingles", arg, "a whole number from 1 to 1000000");
            cfg->opts.min_shingles = (unsigned)n;
            cfg->given |= ND_OPT_MIN_SHINGLES;
            break;
        case OPT_ANNOTATE:
            cfg->annotate = 1;
            break;
        case OPT_REMOVED: /* "-" is not stdout (the kept records go there): refused, not a file named "-" */
            if (strcmp(arg, "-") == 0)
                return bad_value("removed", arg, "a file (stdout carries the kept records; ./- names a file '-')");
            cfg->removed_path = arg;
            break;
        case OPT_FORMAT:
            if (input_parse_format(arg, &cfg->format) != 0)
                return bad_value("format", arg, "text, jsonl or json");
            break;
        case OPT_MAX_DOC_BYTES:
            if ((rc = parse_size(arg, &cfg->max_doc_bytes)) != 0 || cfg->max_doc_bytes < 1)
                return bad_value("max-doc-bytes", arg,
                                 rc == SIZE_TOO_LARGE ? "at most 10^18 bytes" : "a size like 1000, 64K, 64M or 1G");
            break;
        case OPT_INCLUDE:
            if (!cfg->includes && !(cfg->includes = calloc((size_t)argc, sizeof *cfg->includes))) {
                cli_error("out of memory");
                return EXIT_FAIL;
            }
            cfg->includes[cfg->include_count++] = arg;
            break;
        case OPT_OUTPUT: /* "-" is stdout */
            cfg->output_path = strcmp(arg, "-") == 0 ? NULL : arg;
            break;
        case OPT_STATS: /* as --removed */
            if (strcmp(arg, "-") == 0)
                return bad_value("stats", arg, "a file (stdout carries the output; ./- names a file '-')");
            cfg->stats_path = arg;
            break;
        case OPT_OUTPUT_DIR:
            cfg->output_dir = arg;
            break;
        case OPT_REMOVED_DIR:
            cfg->removed_dir = arg;
            break;
        case OPT_THREADS:
            if (parse_unsigned(arg, 1, 256, &n))
                return bad_value("threads", arg, "a whole number from 1 to 256");
            cfg->threads = (unsigned)n;
            break;
        case OPT_QUIET:
            cfg->quiet = 1;
            break;
        case OPT_VERBOSE:
            cfg->verbose = 1;
            break;
        case OPT_TMPDIR:
            cfg->tmpdir = arg;
            tmpdir_given = 1;
            break;
        case OPT_SHINGLES:
            cfg->show_shingles = 1;
            break;
        case OPT_MEMORY:
            if ((rc = parse_size(arg, &cfg->memory)) != 0 || cfg->memory < (1u << 20))
                return bad_value("memory", arg,
                                 rc == SIZE_TOO_LARGE ? "at most 10^18 bytes"
                                                      : "a size of at least 1M, like 500M or 2G");
            break;
        case OPT_JSON:
            cfg->json_output = 1;
            break;
        case OPT_ID:
            if (command == CMD_INDEX_REMOVE) {
                if (!cfg->remove_ids && !(cfg->remove_ids = calloc((size_t)argc, sizeof *cfg->remove_ids))) {
                    cli_error("out of memory");
                    return EXIT_FAIL;
                }
                cfg->remove_ids[cfg->remove_id_count++] = optarg;
                break;
            }
            if (cfg->explain_id_count == 2) {
                cli_error("explain: --id is given twice at most");
                return EXIT_USAGE;
            }
            cfg->explain_ids[cfg->explain_id_count++] = arg;
            break;
        case OPT_IDS:
            cfg->ids_file = arg;
            break;
        case OPT_INDEX:
            cfg->index_path = arg;
            break;
        case OPT_UPDATE:
            cfg->update = 1;
            break;
        case OPT_REPLACE:
            cfg->replace = 1;
            break;
        case OPT_WAIT:
            cfg->wait = 1;
            break;
        case OPT_NO_VERIFY:
            cfg->no_verify = 1;
            break;
        case OPT_TOP:
            if (parse_unsigned(arg, 1, 1000000000, &n))
                return bad_value("top", arg, "a whole number from 1");
            cfg->top = (size_t)n;
            break;
        case OPT_UNIT:
            if (strcmp(arg, "document") == 0)
                cfg->unit = ND_UNIT_DOCUMENT;
            else if (strcmp(arg, "paragraph") == 0)
                cfg->unit = ND_UNIT_PARAGRAPH;
            else if (strcmp(arg, "line") == 0)
                cfg->unit = ND_UNIT_LINE;
            else
                return bad_value("unit", arg, "document, paragraph or line");
            break;
        case OPT_MIN_TOKENS:
            if (parse_unsigned(arg, 1, 1000000, &n))
                return bad_value("min-tokens", arg, "a whole number from 1 to 1000000");
            cfg->min_tokens = (unsigned)n;
            break;
        case OPT_BOILERPLATE:
            if (parse_unsigned(arg, 2, 1000000000, &n))
                return bad_value("boilerplate", arg, "a whole number of documents, at least 2");
            cfg->boilerplate = (unsigned)n;
            break;
        default:
            return EXIT_USAGE;
        }
    }
    if ((cfg->opts.bands == 0) != (cfg->opts.rows == 0)) {
        cli_error("%s: --bands and --rows go together", name);
        return EXIT_USAGE;
    }
    if ((uint64_t)cfg->opts.bands * cfg->opts.rows > cfg->opts.num_perm) {
        cli_error("%s: --bands %u x --rows %u = %llu does not fit a signature of %u values (--num-perm)", name,
                  cfg->opts.bands, cfg->opts.rows, (unsigned long long)cfg->opts.bands * cfg->opts.rows,
                  cfg->opts.num_perm);
        return EXIT_USAGE;
    }
    if (nd_options_resolve(&cfg->opts) != ND_OK) {
        cli_error("%s: invalid option combination", name);
        return EXIT_USAGE;
    }
    if (command == CMD_PARAMS && optind < argc) {
        cli_error("params takes no paths");
        return EXIT_USAGE;
    }
    if (cfg->unit != ND_UNIT_DOCUMENT && cfg->pairs) {
        cli_error("%s: --pairs lists pairs of documents; it does not combine with --unit", name);
        return EXIT_USAGE;
    }
    if (cfg->pairs && keep_given) {
        cli_error("%s: --pairs lists every matching pair, with no survivor; --keep chooses a cluster's survivor and "
                  "does not apply",
                  name);
        return EXIT_USAGE;
    }
    if (cfg->unit != ND_UNIT_DOCUMENT && cfg->opts.measure == ND_MEASURE_CONTAINMENT) {
        cli_error("%s: --measure containment compares documents; it does not combine with --unit", name);
        return EXIT_USAGE;
    }
    if (cfg->boilerplate && cfg->unit == ND_UNIT_DOCUMENT) {
        cli_error("%s: --boilerplate needs --unit paragraph or line", name);
        return EXIT_USAGE;
    }
    if (cfg->annotate && (cfg->removed_path || cfg->removed_dir)) {
        cli_error("dedup: --annotate keeps every record, so --removed would be empty; use one or the other");
        return EXIT_USAGE;
    }
    if (cfg->removed_dir && !cfg->output_dir) {
        cli_error("dedup: --removed-dir goes with --output-dir (or use --removed FILE)");
        return EXIT_USAGE;
    }
    if (cfg->output_dir && cfg->output_path) {
        cli_error("dedup: --output-dir writes one file per input; -o FILE writes one file: use one or the other");
        return EXIT_USAGE;
    }
    if (cfg->output_dir && cfg->removed_path) {
        cli_error("dedup: with --output-dir, removed records go to --removed-dir DIR, not --removed FILE");
        return EXIT_USAGE;
    }
    if (command == CMD_EXPLAIN && cfg->explain_id_count == 1) {
        cli_error("explain: give --id twice (or two files and no --id)");
        return EXIT_USAGE;
    }
    if (command == CMD_EXPLAIN && cfg->explain_id_count == 0 && argc - optind != 2) {
        cli_error("explain: needs two files A B (or --id ID_A --id ID_B and the inputs)");
        return EXIT_USAGE;
    }
    if (check_tmpdir(name, cfg, tmpdir_given) != EXIT_OK)
        return EXIT_USAGE;
    cfg->paths = argv + optind;
    cfg->path_count = argc - optind;
    int rc = cli_check_index_options(cfg, name);
    /* an index's own measure is known once it is open (db_meta.c checks
     * --min-shingles against it there) */
    if (rc == EXIT_OK && !cfg->index_path && (cfg->given & ND_OPT_MIN_SHINGLES) &&
        cfg->opts.measure != ND_MEASURE_CONTAINMENT)
        cli_warn("%s: --min-shingles is for --measure containment (the shingles a text needs to be reported as "
                 "contained in another); under jaccard it changes nothing",
                 name);
    if (rc == EXIT_OK && cfg->index_path && strcmp(cfg->index_path, "-") == 0) {
        int reads = command == CMD_INDEX_ADD || command == CMD_QUERY;
        cli_error("%s: the index DB is '-': an index is a directory, not stdin%s%s%s", name,
                  reads ? " (to read stdin, name DB first: 'neardup " : "", reads ? name : "", reads ? " DB -')" : "");
        return EXIT_USAGE;
    }
    for (int i = 0, stdin_seen = 0; rc == EXIT_OK && i < cfg->path_count; i++) {
        if (strcmp(cfg->paths[i], "-") == 0 && stdin_seen++) {
            cli_error("%s: '-' (stdin) is named twice; it can be read once", name);
            return EXIT_USAGE;
        }
    }
    return rc;
}

void cli_config_free(cli_config *cfg)
{
    free(cfg->remove_ids);
    cfg->remove_ids = NULL;
    free(cfg->includes);
    cfg->includes = NULL;
}
