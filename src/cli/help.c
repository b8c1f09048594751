/* help.c - what the user is told about options: each command's --help,
 * listing exactly the options that command takes (cli_accepts), and for an
 * unknown option the nearest one it takes ("did you mean --threshold?").
 *
 * The options shared by several commands are described once, in the
 * table below, each under its section; a command's help shows the entries
 * it accepts, so that help and parser cannot disagree.
 */
#include "options.h"

#include <stdio.h>  /* snprintf */
#include <string.h> /* strlen, strncmp, strcspn */

enum { SEC_MATCHING, SEC_INPUT, SEC_UNITS, SEC_RUNNING, SECTIONS };

static const char *const section_titles[SECTIONS] = {
    "Matching:\n",
    "Input (PATH: a file, a directory (read recursively, sorted), or - for stdin; none = stdin):\n"
    "  A file is one document with its path as id, unless it is JSON Lines (.jsonl/.ndjson, or a first\n"
    "  line that parses as a JSON object) or a JSON array of objects (.json, or content starting with\n"
    "  '[' in a file not named .jsonl/.ndjson; --format overrides),\n"
    "  optionally gzip- or zstd-compressed (detected by content); a .txt file is text. A directory walk\n"
    "  reads regular files only and skips hidden and binary files (counted in the summary).\n",
    "Units (what is compared):\n",
    "Running:\n",
};

typedef struct option_help {
    int opt; /* OPT_* */
    int section;
    const char *text;
} option_help;

static const option_help shared_options[] = {
    {OPT_THRESHOLD, SEC_MATCHING,
     "  -t, --threshold T     minimum exact score (--measure) for a match (0 < T <= 1; default 0.8)\n"},
    {OPT_MEASURE, SEC_MATCHING,
     "      --measure M       jaccard (default): |A & B| / |A | B| of the shingle sets; or containment:\n"
     "                        |A & B| / |A| for the smaller text A (an excerpt or abridged copy inside a\n"
     "                        longer text; the containing text is kept), or Jaccard (documents only)\n"},
    {OPT_MIN_SHINGLES, SEC_MATCHING,
     "      --min-shingles N  containment: a text needs N shingles to be reported as contained in another\n"
     "                        (default 20; shorter texts still match by Jaccard; under jaccard it changes\n"
     "                        nothing, and a warning says so)\n"},
    {OPT_SHINGLE, SEC_MATCHING,
     "      --shingle SPEC    words:K (K consecutive words), chars:N (N characters) or auto (the\n"
     "                        default: chars:5 for text mostly in scripts without spaces, else words:5)\n"},
    {OPT_NORMALIZE, SEC_MATCHING,
     "      --normalize NAME  normalization profile: default or aggressive (see README)\n"},
    {OPT_NUM_PERM, SEC_MATCHING, "      --num-perm N      MinHash signature length (1..4096; default 128)\n"},
    {OPT_BANDS, SEC_MATCHING,
     "      --bands B, --rows R  LSH banding (both or neither; B*R <= num-perm; default: chosen\n"
     "                        from the threshold, see 'neardup params')\n"},
    {OPT_SEED, SEC_MATCHING, "      --seed S          hash seed (default fixed; same seed, same output)\n"},
    {OPT_FORMAT, SEC_INPUT,
     "      --format F        read every file as text, jsonl or json (an array of objects) instead\n"},
    {OPT_INCLUDE, SEC_INPUT,
     "      --include GLOB    a directory walk reads only files whose name matches GLOB (repeatable)\n"},
    {OPT_MAX_DOC_BYTES, SEC_INPUT,
     "      --max-doc-bytes N a larger document or record is an error (or skipped, --on-error skip);\n"
     "                        K, M, G suffixes (default 64M)\n"},
    {OPT_TEXT_FIELD, SEC_INPUT, "      --text-field F    JSON field holding the text (default text)\n"},
    {OPT_ID_FIELD, SEC_INPUT,
     "      --id-field F      JSON field holding the id (default id; FILE:LINE when absent)\n"},
    {OPT_LINES, SEC_INPUT, "      --lines           each line of a plain text file is a document (id FILE:LINE)\n"},
    {OPT_ON_ERROR, SEC_INPUT,
     "      --on-error P      malformed JSON line or missing text field: fail (default; exit 1) or skip\n"
     "                        (a warning for each of the first 5, then a count; exit 1 if all are skipped)\n"},
    {OPT_UNIT, SEC_UNITS,
     "      --unit U          document (default), paragraph (text between blank lines) or line;\n"
     "                        a unit that is one text pasted several times counts as its copies\n"},
    {OPT_MIN_TOKENS, SEC_UNITS, "      --min-tokens N    ignore units with fewer than N tokens (default 1)\n"},
    {OPT_BOILERPLATE, SEC_UNITS,
     "      --boilerplate N   a unit found in N or more documents is boilerplate: dedup removes every\n"
     "                        occurrence of it, scan marks it (default off)\n"},
    {OPT_THREADS, SEC_RUNNING,
     "      --threads N       threads doing the work, 1 to 256 (default: all cores, at most 256; 1 =\n"
     "                        everything on one thread); output is identical for any N\n"},
    {OPT_QUIET, SEC_RUNNING, "      --quiet           no progress line and no summary on stderr\n"},
    {OPT_VERBOSE, SEC_RUNNING,
     "      --verbose         also report the time of each stage (read and sketch, cluster, write) on stderr\n"},
    {OPT_OUTPUT, SEC_RUNNING,
     "  -o, --output FILE     write to FILE instead of stdout (it appears when the run succeeds)\n"},
    {OPT_STATS, SEC_RUNNING,
     "      --stats FILE      write the run's counts and timings to FILE as one JSON object (a FILE that\n"
     "                        exists and is not such an object is not replaced: exit 2)\n"},
    {OPT_TMPDIR, SEC_RUNNING,
     "      --tmpdir DIR      where records from stdin or a pipe are spooled between two passes (dedup,\n"
     "                        --unit) and where the index spills past --memory (default $TMPDIR or /tmp;\n"
     "                        a --tmpdir that is missing or not writable is refused at start, exit 2)\n"},
    {OPT_MEMORY, SEC_RUNNING,
     "      --memory SIZE     memory to plan for, in binary units: 2G = 2 GiB, 500M = 500 MiB (default: a\n"
     "                        quarter of physical memory);\n"
     "                        when the index passes half of it, shingle ids and band keys move to files in\n"
     "                        --tmpdir (same output, slower clustering); an input file of half of it or\n"
     "                        more keeps the ids only of documents that may have a copy, and sketches\n"
     "                        again those of the others that clustering reads (same output)\n"},
};

/* The shared options `command` takes, by section, then -h and the exit status. */
static void print_shared_options(cli_command command, FILE *out)
{
    size_t count = sizeof shared_options / sizeof shared_options[0];
    for (int section = 0; section < SECTIONS; section++) {
        int titled = 0;
        for (size_t i = 0; i < count; i++) {
            const option_help *h = &shared_options[i];
            if (h->section != section || !cli_accepts(command, h->opt))
                continue;
            if (!titled)
                fputs(section_titles[section], out);
            titled = 1;
            fputs(h->text, out);
        }
    }
    fputs("  -h, --help            this help\n"
          "Exit status: 0 ok, 1 failure (bad input with --on-error fail, unreadable file), 2 usage.\n",
          out);
}

void cli_print_help(cli_command command, FILE *out)
{
    switch (command) {
    case CMD_SCAN:
        fputs("Usage: neardup scan [OPTIONS] [PATH...]\n"
              "Find clusters of duplicate and near-duplicate documents. Writes JSON Lines to stdout,\n"
              "one object per cluster: {\"cluster\": N, \"size\": members, \"ids\": [survivor, ...],\n"
              "\"jaccard\": [1, ...], \"profile\": P}, jaccard[i] being member i's exact Jaccard with the\n"
              "survivor (ids[0]); with --measure containment also \"containment\": [1, ...], member i's share of\n"
              "shingles found in the survivor. With --unit paragraph|line: one object per group of repeated\n"
              "units: {\"group\": N, \"size\", \"documents\", \"occurrences\": [{\"id\", \"start\", \"end\"}, ...],\n"
              "\"jaccard\": [...], \"text\": preview, \"profile\"}, start/end being byte offsets in the document's\n"
              "text.\n"
              "  --pairs               one object per matching pair of documents instead, in input order:\n"
              "                        {\"a\", \"b\", \"jaccard\", \"a_in_b\", \"b_in_a\", \"profile\"} (exact; every "
              "candidate\n"
              "                        verified; k copies of one text give k(k-1)/2 pairs)\n"
              "  --keep POLICY         which member is the survivor: first (default, input order), longest,\n"
              "                        min:FIELD or max:FIELD (the smallest or largest value of a JSON field:\n"
              "                        numbers as numbers, strings byte by byte, records without it last;\n"
              "                        FIELD may be a dot path: min:meta.date)\n\n",
              out);
        break;
    case CMD_DEDUP:
        fputs("Usage: neardup dedup [OPTIONS] [PATH...]\n"
              "Write the input back as JSON Lines with near-duplicates removed: one survivor per cluster.\n"
              "JSON Lines records pass through byte for byte; plain-text documents are written as\n"
              "{\"id\": ..., \"text\": ...}.\n"
              "  --keep POLICY         which member survives: first (default, input order), longest,\n"
              "                        min:FIELD or max:FIELD (e.g. min:date keeps the earliest copy;\n"
              "                        FIELD may be a dot path: min:meta.date)\n"
              "  --annotate            keep every record and add \"neardup\": {\"cluster\", \"size\",\n"
              "                        \"duplicate_of\", \"jaccard\"} (nulls and size 1 for unique records)\n"
              "  --removed FILE        also write the removed records to FILE, each with \"neardup\":\n"
              "                        {\"duplicate_of\", \"jaccard\", ...} added (--unit: the documents left\n"
              "                        empty, with their \"spans\" removed); it appears when the run succeeds\n"
              "  --output-dir DIR      write each input's records to DIR/<its file name> instead of stdout\n"
              "                        (two inputs with one file name are refused; files appear when the run\n"
              "                        succeeds)\n"
              "  --removed-dir DIR     with --output-dir: each input's removed records to DIR/<its file name>\n"
              "  --index DB            drop documents that match the persistent index DB or an earlier kept\n"
              "                        document of this input (the index's copy wins); --annotate adds\n"
              "                        \"neardup\": {\"duplicate_of\", \"jaccard\", \"from\": \"index\"|\"input\"};\n"
              "                        -t as for 'query' (below the index's threshold: a warning); no --unit,\n"
              "                        --keep, --boilerplate, --stats, --output-dir or --measure (exit 2)\n"
              "  --update              with --index: add the kept documents to DB when the run succeeds\n"
              "                        (one transaction; --replace, --wait and --no-verify as for 'index add'; with\n"
              "                        --replace the summary counts the kept ones that replaced another)\n"
              "With --unit paragraph|line: every document is written back with the other copies of repeated\n"
              "units removed (each group keeps its survivor: with --keep first, its first occurrence; all other\n"
              "text byte for byte); documents left empty are dropped and counted; --annotate adds\n"
              "\"neardup\": {\"spans\": [[start, end, group], ...]} instead and changes no text.\n"
              "\n",
              out);
        break;
    case CMD_NORMALIZE:
        fputs("Usage: neardup normalize [OPTIONS] [PATH...]\n"
              "Show what the detector compares: for each document, one JSON line\n"
              "{\"id\", \"profile\", \"tokens\": [...], \"spans\": [[start, end], ...]}, spans being the byte\n"
              "spans of the tokens in the text.\n"
              "  --shingles            also the shingle kind used and the sorted 32-bit shingle ids\n\n",
              out);
        break;
    case CMD_EXPLAIN:
        fputs("Usage: neardup explain [OPTIONS] A B\n"
              "       neardup explain [OPTIONS] --id ID_A --id ID_B PATH...\n"
              "Why do two documents match (or not)? Prints the exact Jaccard of their shingle sets (the\n"
              "number scan reports), both containments, the Jaccard estimated from the MinHash\n"
              "signatures, which LSH bands collided, and the longest runs of tokens they share, with\n"
              "their byte spans in both texts. A and B are files (one document each), or name two\n"
              "documents by id in the inputs. It also gives the probability that the overlap is a\n"
              "chance match (Mash's p-value, Ondov et al. 2016, on shingle sets), and the verdict\n"
              "under --measure, --threshold and --min-shingles. Texts that share too many runs to rank\n"
              "them in time linear in their length (long texts over a tiny vocabulary) get none, said so\n"
              "(\"runs_complete\": false in --json).\n"
              "      --id ID           (twice) the two documents to explain, by id, from PATH...; of\n"
              "                        several with one id, the first in input order\n"
              "      --json            one JSON object instead of the report\n\n",
              out);
        break;
    case CMD_INDEX_ADD:
    case CMD_INDEX_STATS:
    case CMD_INDEX_REMOVE:
    case CMD_INDEX_COMPACT:
    case CMD_INDEX_VERIFY:
    case CMD_QUERY:
        cli_print_index_help(command, out);
        return;
    case CMD_PARAMS:
        fputs("Usage: neardup params [--threshold T] [--num-perm N] [--bands B --rows R]\n"
              "Print the LSH banding chosen for a threshold and the probability that two documents\n"
              "of Jaccard similarity s become a candidate pair, for s = 0.3 .. 1.0.\n"
              "  -t, --threshold T, --num-perm N, --bands B, --rows R  as for scan\n"
              "  -h, --help\n",
              out);
        return;
    }
    print_shared_options(command, out);
}

/* Edit distance with transpositions (optimal string alignment) between
 * a[0..n) and b[0..m); names are short, so past 63 bytes it gives up. */
static size_t edit_distance(const char *a, size_t n, const char *b, size_t m)
{
    enum { MAX = 64 };
    if (n >= MAX || m >= MAX)
        return (size_t)-1;
    size_t d[MAX][MAX];
    for (size_t i = 0; i <= n; i++)
        d[i][0] = i;
    for (size_t j = 0; j <= m; j++)
        d[0][j] = j;
    for (size_t i = 1; i <= n; i++) {
        for (size_t j = 1; j <= m; j++) {
            size_t cost = a[i - 1] != b[j - 1];
            size_t best = d[i - 1][j - 1] + cost;
            if (d[i - 1][j] + 1 < best)
                best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best)
                best = d[i][j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < best)
                best = d[i - 2][j - 2] + 1;
            d[i][j] = best;
        }
    }
    return d[n][m];
}

/* Whether `name` is one of the command's options and longer than the
 * abbreviation given[0..len). */
static int abbreviates(cli_command command, const struct option *o, const char *given, size_t len)
{
    return cli_accepts(command, o->val) && strlen(o->name) > len && strncmp(o->name, given, len) == 0;
}

void cli_option_hint(char *hint, size_t size, cli_command command, const char *given)
{
    if (size == 0)
        return;
    hint[0] = '\0';
    while (*given == '-')
        given++;
    size_t len = strcspn(given, "=");
    if (len == 0)
        return;
    const char *best = NULL, *abbreviated = NULL;
    size_t best_distance = (size_t)-1;
    int abbreviations = 0;
    for (const struct option *o = cli_all_options; o->name; o++) {
        if (!cli_accepts(command, o->val))
            continue;
        if (abbreviates(command, o, given, len)) {
            abbreviations++;
            abbreviated = o->name;
        }
        size_t d = edit_distance(given, len, o->name, strlen(o->name));
        if (d < best_distance) {
            best_distance = d;
            best = o->name;
        }
    }
    if (abbreviations > 1) { /* getopt found the abbreviation ambiguous: name the candidates */
        size_t used = 0;
        for (const struct option *o = cli_all_options; o->name; o++) {
            if (!abbreviates(command, o, given, len))
                continue;
            int n = snprintf(hint + used, size - used, "%s--%s", used ? ", " : "; did you mean one of ", o->name);
            if (n < 0 || (size_t)n >= size - used)
                break;
            used += (size_t)n;
        }
        if (used + 1 < size)
            hint[used++] = '?', hint[used] = '\0';
        return;
    }
    if (abbreviations == 1)
        best = abbreviated; /* ambiguous only among options of other commands */
    else if (best_distance > (len <= 4 ? 1u : 2u))
        return; /* not close enough to be a typo: one edit in a short name, two in a longer one */
    snprintf(hint, size, "; did you mean --%s?", best);
}
