/* main.c - the neardup program: subcommand dispatch and exit codes.
 *
 * neardup scan|dedup|params [OPTIONS] [PATH...]; see 'neardup --help'.
 * Exit status: 0 ok, 1 failure, 2 usage.
 */
#include "cli.h"
#include "hugeheap.h"
#include "stdfds.h"

#include <errno.h>  /* errno */
#include <signal.h> /* signal, SIGXFSZ */
#include <string.h> /* strcmp, strerror */

static void usage(FILE *out)
{
    fputs("Usage: neardup COMMAND [OPTIONS] [PATH...]\n"
          "Find duplicate and near-duplicate texts (ICU normalization, MinHash, LSH, exact verification).\n\n"
          "Commands:\n"
          "  scan     report clusters of near-duplicate documents (JSON Lines)\n"
          "  dedup    write the input back without near-duplicates\n"
          "  params   show the LSH banding and its S-curve for a threshold\n"
          "  normalize  show each document's normalized tokens (and shingles)\n"
          "  explain  why two documents match or not: Jaccard, containment, bands, shared runs\n"
          "  index add|stats|remove|compact DB  a persistent index of documents (a directory)\n"
          "  query DB  find each input document's matches in the index DB\n\n"
          "'neardup COMMAND --help' tells more. 'neardup --version' prints the version.\n",
          out);
}

static int run_command(const cli_config *cfg)
{
    switch (cfg->command) {
    case CMD_PARAMS:
        return cli_params(cfg);
    case CMD_NORMALIZE:
        return cli_normalize(cfg);
    case CMD_EXPLAIN:
        return cli_explain(cfg);
    case CMD_QUERY:
        return cli_query(cfg);
    case CMD_DEDUP:
        return cfg->index_path ? cli_dedup_index(cfg) : cli_run(cfg);
    case CMD_SCAN:
        return cli_run(cfg);
    default:
        return cli_index(cfg);
    }
}

/* Every command's last step: what it wrote to stdout (results, --help,
 * --version) must reach it, else the run failed (`neardup --help >
 * /dev/full` exits 1). A command that failed has said why already. */
static int finish(int rc)
{
    int err = 0;
    if (fflush(stdout) != 0 || ferror(stdout))
        err = errno ? errno : EIO;
    if (fclose(stdout) != 0 && !err)
        err = errno ? errno : EIO;
    if (!err)
        return rc;
    if (rc == EXIT_OK)
        cli_error("cannot write the output: %s", strerror(err));
    return rc == EXIT_OK ? EXIT_FAIL : rc;
}

static int dispatch(int argc, char **argv);

int main(int argc, char **argv)
{
    std_fds_hold();                 /* a closed stdout stays unusable, and no file takes its number */
    huge_heap_reexec(argc, argv);   /* index commands: malloc in huge pages (hugeheap.c) */
    huge_heap_in_place(argc, argv); /* scan, dedup: the same without a second start */
    /* a file size limit (ulimit -f) is a write error to report, not a kill */
    signal(SIGXFSZ, SIG_IGN);
    return finish(dispatch(argc, argv));
}

static int dispatch(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    const char *name = argv[1];
    if (strcmp(name, "help") == 0 && argc > 2 && argc <= 4) { /* neardup help scan, neardup help index add */
        static char help[] = "--help";
        char *again[] = {argv[0], argv[2], argc > 3 ? argv[3] : help, help, NULL};
        return dispatch(argc, again);
    }
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 || strcmp(name, "help") == 0) {
        usage(stdout);
        return EXIT_OK;
    }
    if (strcmp(name, "--version") == 0) {
        printf("neardup %s\n", ND_VERSION);
        return EXIT_OK;
    }
    cli_command command;
    if (strcmp(name, "index") == 0) {
        static const struct {
            const char *name;
            cli_command command;
        } subcommands[] = {{"add", CMD_INDEX_ADD},
                           {"stats", CMD_INDEX_STATS},
                           {"remove", CMD_INDEX_REMOVE},
                           {"compact", CMD_INDEX_COMPACT},
                           {"verify", CMD_INDEX_VERIFY}};
        const char *sub = argc > 2 ? argv[2] : "";
        size_t i = 0;
        while (i < 5 && strcmp(sub, subcommands[i].name) != 0)
            i++;
        if (i == 5) {
            if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0) {
                fputs("Usage: neardup index add|stats|remove|compact|verify DB ...\n"
                      "'neardup index SUBCOMMAND --help' tells more.\n",
                      stdout);
                return EXIT_OK;
            }
            if (*sub)
                cli_error("index: unknown subcommand '%s' (add, stats, remove, compact or verify)", sub);
            else
                cli_error("index: a subcommand is missing (add, stats, remove, compact or verify)");
            return EXIT_USAGE;
        }
        cli_config cfg;
        int rc = cli_parse(&cfg, subcommands[i].command, argc - 2, argv + 2);
        if (rc == EXIT_OK)
            rc = run_command(&cfg);
        else if (rc < 0)
            rc = EXIT_OK; /* --help */
        cli_warn_flush();
        cli_config_free(&cfg);
        return rc;
    }
    if (strcmp(name, "scan") == 0)
        command = CMD_SCAN;
    else if (strcmp(name, "dedup") == 0)
        command = CMD_DEDUP;
    else if (strcmp(name, "params") == 0)
        command = CMD_PARAMS;
    else if (strcmp(name, "normalize") == 0)
        command = CMD_NORMALIZE;
    else if (strcmp(name, "explain") == 0)
        command = CMD_EXPLAIN;
    else if (strcmp(name, "query") == 0)
        command = CMD_QUERY;
    else {
        cli_error("unknown command '%s'", name);
        usage(stderr);
        return EXIT_USAGE;
    }
    cli_config cfg;
    int rc = cli_parse(&cfg, command, argc - 1, argv + 1);
    if (rc < 0)
        rc = EXIT_OK; /* --help */
    else if (rc == EXIT_OK)
        rc = run_command(&cfg);
    cli_warn_flush(); /* the count of warnings not shown, if the command has not told it */
    cli_config_free(&cfg);
    return rc;
}
