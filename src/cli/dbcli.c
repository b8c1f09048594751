/* dbcli.c - what the persistent index's commands share: opening with the
 * command line's options, exit codes, copied batches of sketched
 * documents, the statistics object, and the per-record bookkeeping of
 * pass 1 (see dbcli.h). */
#include "dbcli.h"

#include <stdlib.h> /* malloc, free */
#include <string.h> /* memcpy, strlen */

#include "alloc.h" /* nd_grow, nd_free */
#include "dbdamage.h"
#include "index_add.h" /* nd_index_ids_block_free */

enum { MESSAGE_SIZE = 1024 };

int dbcli_exit_code(int status)
{
    return status == ND_OK ? EXIT_OK : status == ND_EMISMATCH ? EXIT_USAGE : EXIT_FAIL;
}

int dbcli_open(nd_db **out, const cli_config *cfg, unsigned flags, unsigned given)
{
    nd_db_config config = ND_DB_CONFIG_INIT;
    char message[MESSAGE_SIZE];
    config.options = cfg->opts;
    config.given = given;
    config.flags = flags | (cfg->wait ? ND_DB_WAIT : 0);
    /* A writer checks every page first (--no-verify skips it): a damaged
     * list of free pages would have LMDB hand out pages still in use and
     * write over live documents without a signal (db_verify.c) */
    if ((flags & ND_DB_WRITE) && !cfg->no_verify)
        config.flags |= ND_DB_VERIFY;
    config.memory = cfg->memory;
    db_damage_watch(); /* a damaged data.mdb: a message and exit 1, not a crash */
    int rc = nd_db_open(out, message, sizeof message, cfg->index_path, &config);
    if (rc == ND_OK)
        return EXIT_OK;
    cli_error("%s", message[0] ? message : nd_strerror(rc));
    return dbcli_exit_code(rc);
}

int dbcli_fail(const nd_db *db, int status)
{
    char message[MESSAGE_SIZE];
    nd_db_error(message, sizeof message, db);
    cli_error("%s", message[0] ? message : nd_strerror(status));
    return dbcli_exit_code(status);
}

cli_config dbcli_config_for(const cli_config *cfg, const nd_db *db)
{
    cli_config c = *cfg;
    double threshold = cfg->opts.threshold;
    c.opts = *nd_db_options(db);
    if (cfg->command != CMD_INDEX_ADD && (cfg->given & ND_OPT_THRESHOLD)) {
        c.opts.threshold = threshold; /* a query's own threshold */
        /* below the index's, matches are found only as often as the
         * index's bands find them (query and dedup --index took it with
         * nothing said) */
        const nd_options *made = nd_db_options(db);
        if (threshold < made->threshold && made->measure == ND_MEASURE_JACCARD)
            cli_warn("-t %g is below the index's threshold %g: candidates come from bands made for %g, so a match "
                     "below that is found only by chance ('neardup params -t %g' gives the chance by Jaccard); an "
                     "index made with -t %g finds them all",
                     threshold, made->threshold, made->threshold, made->threshold, threshold);
    }
    return c;
}

/* ****  Help  **** */

static const char help_index_matching[] =
    "Matching (fixed when the index is created; given for an existing index, each must agree with it, exit 2):\n"
    "  -t, --threshold T     minimum exact Jaccard for a match, and the bands chosen for it (default 0.8)\n"
    "      --shingle SPEC, --normalize NAME, --num-perm N, --bands B --rows R, --seed S  as for scan\n"
    "      --measure containment, --min-shingles N  an index that finds texts inside one another:\n"
    "                        shingle postings instead of band keys (larger: ~4 KB a 1 KB document)\n";

static const char help_index_input[] =
    "Input (PATH: files, directories, JSON Lines, gzip/zstd, - for stdin; as for scan):\n"
    "      --text-field F, --id-field F, --lines, --on-error fail|skip  as for scan\n"
    "      --format F, --include GLOB, --max-doc-bytes N  as for scan\n"
    "      --threads N       threads sketching, 1 to 256 (default: all cores); results are identical\n"
    "                        for any N\n"
    "      --quiet, --verbose  no summary on stderr / also stage timings\n";

void cli_print_index_help(cli_command command, FILE *out)
{
    switch (command) {
    case CMD_INDEX_ADD:
        fputs("Usage: neardup index add DB [OPTIONS] [PATH...]\n"
              "Add documents to the persistent index in directory DB, creating it when it does not exist\n"
              "(its options are then fixed). The run is one transaction: interrupted (kill, power loss,\n"
              "full disk), it leaves the index as it was. Writes one JSON object to stdout:\n"
              "{\"index\", \"added\", \"replaced\", \"empty\", \"skipped\", \"documents\", \"removed\", "
              "\"bytes_on_disk\", \"profile\"}.\n"
              "      --replace         an id already in the index is replaced (default: an error, exit 1,\n"
              "                        and nothing of the run is added)\n"
              "      --wait            wait for another process writing to DB (default: fail, exit 1)\n"
              "      --no-verify       skip the check of every page of DB before writing (it reads the whole\n"
              "                        file, about a second per GB; without it, a damaged list of free pages\n"
              "                        would have the run write over live documents: 'index verify')\n"
              "      --memory SIZE     memory for the run's band entries, buffered and sorted before they go\n"
              "                        into the file (default: a quarter of RAM; 384 bytes a document,\n"
              "                        24 bytes a shingle in a containment index);\n"
              "                        past it they are merged early (the same index, more writing)\n",
              out);
        fputs(help_index_matching, out);
        fputs(help_index_input, out);
        fputs("With 8 MiB of input or more (or a pipe, or a directory), the program starts once more with\n"
              "glibc's malloc in transparent huge pages (GLIBC_TUNABLES=glibc.malloc.hugetlb=1; yours, if it\n"
              "names it, stands: =0 keeps one start).\n"
              "Exit status: 0 ok, 1 failure (bad input, duplicate id, DB not an index, locked, disk full),\n"
              "2 usage (bad option, options disagreeing with the index's).\n",
              out);
        return;
    case CMD_INDEX_STATS:
        fputs("Usage: neardup index stats DB\n"
              "Describe the index as one JSON object: documents, removed (marked, not yet compacted),\n"
              "bytes on disk and per document, band entries, options, versions (index format, profile,\n"
              "Unicode and ICU, the neardup that created it).\n"
              "Exit status: 0 ok, 1 failure (no index, not an index), 2 usage.\n",
              out);
        return;
    case CMD_INDEX_REMOVE:
        fputs("Usage: neardup index remove DB (--id ID ... | --ids FILE)\n"
              "Remove documents by id (they stop matching; 'index compact' reclaims their space). An id\n"
              "not in the index is an error (exit 1) and nothing is removed. --ids FILE: one id per line.\n"
              "Writes {\"index\", \"removed\", \"documents\"} to stdout.\n"
              "      --wait            wait for another process writing to DB\n"
              "      --no-verify       skip the check of every page of DB before writing (as for 'index add')\n"
              "      --quiet           accepted; this command writes nothing on stderr but errors\n"
              "Exit status: 0 ok, 1 failure, 2 usage.\n",
              out);
        return;
    case CMD_INDEX_VERIFY:
        fputs("Usage: neardup index verify DB\n"
              "Check every page of the index's data file against the bounds LMDB follows (LMDB keeps no\n"
              "checksums): offsets, sizes and links inside their pages and the file, each page used once,\n"
              "no free page still in use. Reads the whole file (about a second per GB). Writes {\"index\",\n"
              "\"verified\": true, \"documents\", \"removed\", \"bytes_on_disk\"}; a damaged index is an error\n"
              "naming the page. The commands that write (index add, remove and compact, and dedup when it\n"
              "adds to an index) run the same check before they write (their help tells more).\n"
              "Exit status: 0 the index is sound, 1 damaged or not an index, 2 usage.\n",
              out);
        return;
    case CMD_INDEX_COMPACT:
        fputs("Usage: neardup index compact DB\n"
              "Rewrite the index without its removed documents, every page full, and replace its data\n"
              "file atomically. Needs the index alone (fails while any other process has it open) and\n"
              "free disk space for the copy. Writes {\"index\", \"bytes_before\", \"bytes_after\", \"documents\",\n"
              "\"removed_dropped\"} (removed_dropped: the removed documents it left out).\n"
              "      --no-verify       skip the check of every page of DB first (as for 'index add')\n"
              "      --quiet           accepted; this command writes nothing on stderr but errors\n"
              "Exit status: 0 ok, 1 failure, 2 usage.\n",
              out);
        return;
    case CMD_QUERY:
        fputs("Usage: neardup query DB [OPTIONS] [PATH...]\n"
              "Find, for each input document, the documents of the index that match it: one JSON line per\n"
              "document, in input order: {\"id\": ..., \"matches\": [{\"id\": ..., \"jaccard\": J}, ...],\n"
              "\"profile\": ...}, matches sorted by Jaccard (highest first), each J the exact Jaccard of the\n"
              "two shingle sets (as 'neardup explain' prints it) and at least the threshold; \"matches\": []\n"
              "when none. Candidates are the indexed documents sharing an LSH band key, as in scan.\n"
              "  -t, --threshold T     minimum Jaccard (default: the index's; candidates still come from the\n"
              "                        index's bands, chosen for its threshold)\n"
              "      --top K           at most K matches per document\n"
              "  -o, --output FILE     write to FILE instead of stdout (it appears when the run succeeds)\n"
              "      --shingle, --normalize, --num-perm, --bands/--rows, --seed, --measure, --min-shingles\n"
              "                        if given, must agree with the index's (exit 2)\n"
              "An index made with --measure containment also finds the indexed documents contained in the\n"
              "query and those containing it (every one, verified exactly as scan --measure containment);\n"
              "each match adds \"query_in_match\" and \"match_in_query\" (shares of each text's shingles in\n"
              "the other), matches sorted by the larger; its threshold is at least the index's.\n",
              out);
        fputs(help_index_input, out);
        fputs("Exit status: 0 ok, 1 failure, 2 usage.\n", out);
        return;
    default:
        return;
    }
}

/* ****  Options  **** */

/* The persistent index's commands: DB first, and options that go together. */
int cli_check_index_options(cli_config *cfg, const char *name)
{
    cli_command command = cfg->command;
    if (command >= CMD_INDEX_ADD) {
        if (cfg->path_count < 1) {
            cli_error("%s: the index directory DB is missing (see 'neardup %s --help')", name, name);
            return EXIT_USAGE;
        }
        cfg->index_path = cfg->paths[0];
        cfg->paths++;
        cfg->path_count--;
        if (command != CMD_INDEX_ADD && command != CMD_QUERY && cfg->path_count > 0) {
            cli_error("%s: takes one index directory and no other path ('%s')", name, cfg->paths[0]);
            return EXIT_USAGE;
        }
    }
    if (command == CMD_INDEX_REMOVE && (cfg->remove_id_count > 0) == (cfg->ids_file != NULL)) {
        cli_error("index remove: give --id ID (any number of times) or --ids FILE");
        return EXIT_USAGE;
    }
    if (command != CMD_DEDUP)
        return EXIT_OK;
    const char *writing = cfg->replace ? "replace" : cfg->wait ? "wait" : cfg->no_verify ? "no-verify" : NULL;
    if ((cfg->update || writing) && !cfg->index_path) {
        cli_error("dedup: --%s goes with --index DB", cfg->update ? "update" : writing);
        return EXIT_USAGE;
    }
    if (writing && !cfg->update) {
        cli_error("dedup: --%s goes with --update (it concerns writing to the index)", writing);
        return EXIT_USAGE;
    }
    if (cfg->index_path && (cfg->unit != ND_UNIT_DOCUMENT || cfg->keep != ND_KEEP_FIRST || cfg->boilerplate ||
                            cfg->stats_path || cfg->opts.measure != ND_MEASURE_JACCARD)) {
        cli_error("dedup: --index works on whole documents with the Jaccard measure, keeps the first copy (the "
                  "index's), and takes no --unit, --keep, --boilerplate, --measure containment or --stats");
        return EXIT_USAGE;
    }
    /* one output for all inputs: -o and --removed (the directories were
     * taken and then not written, and the removed records were lost) */
    if (cfg->index_path && (cfg->output_dir || cfg->removed_dir)) {
        cli_error("dedup: --index writes one output for all its inputs: use -o FILE and --removed FILE, not %s",
                  cfg->output_dir ? "--output-dir" : "--removed-dir");
        return EXIT_USAGE;
    }
    return EXIT_OK;
}

/* ****  Batches  **** */

static int grow(doc_batch *b)
{
    if (b->count < b->capacity)
        return 0;
    size_t capacity = b->capacity ? b->capacity * 2 : 1024;
    nd_db_doc *docs = realloc(b->docs, capacity * sizeof *docs);
    if (docs)
        b->docs = docs;
    size_t *sources = realloc(b->sources, capacity * sizeof *sources);
    if (sources)
        b->sources = sources;
    uint64_t *lines = realloc(b->lines, capacity * sizeof *lines);
    if (lines)
        b->lines = lines;
    if (!docs || !sources || !lines)
        return -1;
    b->capacity = capacity;
    return 0;
}

int doc_batch_push(doc_batch *b, const sketched_doc *d, unsigned bands)
{
    if (grow(b) != 0)
        return -1;
    size_t id_len = strlen(d->id);
    /* adopted: the ids stay in the pipeline's block (doc_batch_adopt) */
    const uint32_t *ids = b->ids_adopted ? d->ids : NULL;
    uint64_t *keys = d->id_count ? arena_alloc(&b->mem, bands * sizeof *keys) : NULL;
    char *id = arena_alloc(&b->mem, id_len + 1);
    if (d->id_count && !b->ids_adopted) {
        uint32_t *copy = arena_alloc(&b->mem, d->id_count * sizeof *copy);
        if (copy)
            memcpy(copy, d->ids, d->id_count * sizeof *copy);
        ids = copy;
    }
    if ((d->id_count && (!ids || !keys)) || !id)
        return -1;
    if (d->id_count)
        memcpy(keys, d->keys, bands * sizeof *keys);
    memcpy(id, d->id, id_len + 1);
    b->docs[b->count] = (nd_db_doc){id, id_len, ids, d->id_count, keys, d->text_len};
    b->sources[b->count] = d->rec->source;
    b->lines[b->count] = d->rec->line;
    b->count++;
    return 0;
}

int doc_batch_adopt(doc_batch *b, uint32_t *block)
{
    if (nd_grow((void **)&b->blocks, &b->block_capacity, b->block_count + 1, sizeof *b->blocks) != 0)
        return ND_ENOMEM;
    b->blocks[b->block_count++] = block;
    return ND_OK;
}

/* The blocks adopted so far: each one's documents are all committed, so
 * in this batch or in one cleared before. */
static void free_blocks(doc_batch *b)
{
    for (size_t i = 0; i < b->block_count; i++)
        nd_index_ids_block_free(b->blocks[i]);
    b->block_count = 0;
}

void doc_batch_clear(doc_batch *b)
{
    b->count = 0;
    arena_reset(&b->mem);
    free_blocks(b);
}

void doc_batch_free(doc_batch *b)
{
    free(b->docs);
    free(b->sources);
    free(b->lines);
    arena_free(&b->mem);
    free_blocks(b);
    nd_free(b->blocks);
    memset(b, 0, sizeof *b);
}

char *doc_batch_where(const doc_batch *b, const input *in, size_t i)
{
    const char *name = input_source_name(in, b->sources[i]);
    if (b->lines[i] == 0)
        return cli_format("%s", name);
    return cli_format("%s:%llu", name, (unsigned long long)b->lines[i]);
}

/* ****  Pass 1 bookkeeping  **** */

int dbcli_take_record(read_counts *c, const cli_config *cfg, const sketched_doc *d)
{
    c->records_read++;
    c->bytes += d->rec->len;
    if (report_fields_early_due(&c->fields))
        report_fields_early(cfg, &c->fields, 0); /* no --keep here */
    field_tally_add(&c->fields, d->fields);
    if (d->error) {
        if (cfg->on_error == ON_ERROR_FAIL) {
            cli_error("%s", d->error);
            cli_error("stopping (use --on-error skip to skip such records)");
            return -1;
        }
        cli_warn_of(WARN_SKIPPED, "%s; skipped", d->error);
        c->skipped++;
        return 0;
    }
    if (d->invalid_utf8 > 0) {
        c->invalid_docs++;
        cli_warn_of(WARN_INVALID_UTF8, "%s: invalid UTF-8 (%zu sequence%s read as U+FFFD)", d->id, d->invalid_utf8,
                    d->invalid_utf8 == 1 ? "" : "s");
    }
    if (d->id_count == 0)
        c->empty++;
    return 1;
}

/* ****  Statistics  **** */

static const char *shingle_kind_name(nd_shingle_kind kind)
{
    return kind == ND_SHINGLE_WORDS ? "words" : kind == ND_SHINGLE_CHARS ? "chars" : "auto";
}

void dbcli_write_stats(FILE *out, const char *path, const nd_db_stats *s)
{
    const nd_options *o = &s->options;
    fputs("{\"index\":", out);
    out_string(out, path, strlen(path));
    fprintf(out,
            ",\"documents\":%llu,\"removed\":%llu,\"bytes_on_disk\":%llu,\"bytes_used\":%llu,"
            "\"bytes_per_document\":",
            (unsigned long long)s->documents, (unsigned long long)s->removed, (unsigned long long)s->bytes_on_disk,
            (unsigned long long)s->bytes_used);
    if (s->documents + s->removed > 0)
        out_number(out, (double)s->bytes_used / (double)(s->documents + s->removed));
    else
        fputs("null", out);
    fprintf(out, ",\"band_entries\":%llu", (unsigned long long)s->band_entries);
    fprintf(out,
            ",\"options\":{\"profile\":\"%s\",\"shingle\":\"%s\",\"shingle_size\":%u,\"char_size\":%u,"
            "\"num_perm\":%u,\"bands\":%u,\"rows\":%u,\"threshold\":",
            nd_profile_name(o->profile), shingle_kind_name(o->shingle_kind), o->shingle_size, o->char_size, o->num_perm,
            o->bands, o->rows);
    out_number(out, o->threshold);
    fprintf(out, ",\"seed\":%llu", (unsigned long long)o->seed);
    if (o->measure == ND_MEASURE_CONTAINMENT) /* a Jaccard index's stats stay as they were */
        fprintf(out, ",\"measure\":\"containment\",\"min_shingles\":%u", o->min_shingles);
    fputc('}', out);
    fprintf(out, ",\"versions\":{\"format\":%u,\"profile\":\"%s/%u\",\"unicode\":", s->format_version,
            nd_profile_name(o->profile), s->profile_version);
    out_string(out, s->unicode_version, strlen(s->unicode_version));
    fputs(",\"icu\":", out);
    out_string(out, s->icu_version, strlen(s->icu_version));
    fputs(",\"created_by\":", out);
    out_string(out, s->created_by, strlen(s->created_by));
    fputs("}}\n", out);
}
