/* mpi_run.c - neardup-mpi: scan and dedup run by P processes under MPI
 * (mpirun, srun, ...), with the output of one `neardup` process.
 *
 *   mpirun -n P neardup-mpi scan|dedup [OPTIONS] PATH...
 *
 * The run, on every rank:
 *  1. plan.c: rank 0 lists the inputs; each rank takes its share (whole
 *     files, and byte ranges of large JSON Lines files).
 *  2. Pass 1 (pipeline.c, on --threads threads per rank): this rank's
 *     records into a local nd_index (spilled past --memory like neardup),
 *     their ids into a doctable; a bad record stops every rank: the
 *     failing rank tells the others (a message they look for after each
 *     batch; a rank stops only for a lower rank's, whose records come
 *     before its own), and the first failure in input order is reported,
 *     once.
 *  3. engine.c: the clusters of all texts, each sent to the rank holding
 *     its earliest member.
 *  4. mpi_output.c: numbering (each rank sorts the clusters it received
 *     by earliest member and offsets their numbers by the count on lower
 *     ranks, MPI_Exscan) and output: scan's lines through rank 0 in rank
 *     order; dedup's files written by the rank that read each input,
 *     renamed only when every rank has succeeded.
 *  5. The counts summed over ranks and --stats (with per-rank figures:
 *     time, time in MPI, bytes sent, peak RSS) from rank 0, before dedup's
 *     files are renamed (mpi_conclude.c: a --stats that cannot be
 *     written fails the run, exit 1, as in neardup); then the summary.
 */
#include "cli.h"
#include "stdfds.h"

#include <limits.h> /* INT_MAX */
#include <stdlib.h> /* malloc, free, qsort, getenv */
#include <string.h> /* strcmp, strlen, memcpy, memset */
#include <unistd.h> /* getpid, sysconf, unlink, dup, dup2 */
#include <fcntl.h>  /* open */

#include <jansson.h> /* json_object_seed */

#include "index_add.h"
#include "mpi_run.h"
#include "outfile.h"
#include "pipeline.h"

enum { TAG_ABORT = 7701 };
enum { ROUND_BYTES = 64 << 20 };

/* ****  Pass 1  **** */

static int commit_record(void *ctx, const sketched_doc *d)
{
    mrun *m = ctx;
    const cli_config *cfg = m->cfg;
    m->counts.records_read++;
    field_tally_add(&m->counts.fields, d->fields);
    m->counts.bytes += d->rec->len;
    if (d->error) {
        if (cfg->on_error == ON_ERROR_FAIL) {
            m->failure = cli_format("%s (stopping every rank; --on-error skip skips such records)", d->error);
            return EXIT_FAIL;
        }
        cli_warn_of(WARN_SKIPPED, "%s; skipped", d->error);
        m->counts.skipped++;
        return m->replay && replay_source_note(m->replay, d->rec, 0) != 0 ? EXIT_FAIL : EXIT_OK;
    }
    if (d->invalid_utf8 > 0) {
        m->counts.invalid_docs++;
        cli_warn_of(WARN_INVALID_UTF8, "%s: invalid UTF-8 (%zu sequence%s read as U+FFFD)", d->id, d->invalid_utf8,
                    d->invalid_utf8 == 1 ? "" : "s");
    }
    size_t doc = m->docs.count;
    if (doctable_add(&m->docs, d->id) != 0 || (cfg->keep_field && keep_table_add(&m->keep, &d->keep) != 0)) {
        cli_error("out of memory");
        return EXIT_FAIL;
    }
    if (cfg->unit == ND_UNIT_DOCUMENT) {
        if (d->id_count == 0)
            m->counts.empty++;
        int nrc = nd_index_add_ids(m->index, d->ids, d->id_count, d->keys, d->text_len);
        if (nrc != ND_OK) {
            cli_error("%s", nd_strerror(nrc));
            return EXIT_FAIL;
        }
    } else {
        if (d->unit_count == 0)
            m->counts.empty++;
        for (size_t u = 0; u < d->unit_count; u++) {
            const sketched_unit *unit = &d->units[u];
            nd_prepared_text text = {unit->ids, unit->id_count, unit->set_hash, unit->keys,
                                     unit->span.end - unit->span.start};
            int nrc = nd_index_add_prepared(m->index, &text, 1);
            if (nrc != ND_OK || doctable_add_unit(&m->docs, doc, unit->span) != 0) {
                cli_error("%s", nrc != ND_OK ? nd_strerror(nrc) : "out of memory");
                return EXIT_FAIL;
            }
        }
    }
    return m->replay && replay_source_note(m->replay, d->rec, 1) != 0 ? EXIT_FAIL : EXIT_OK;
}

/* After each batch: has a lower rank failed? Past half of --memory, spill.
 * Only a failure earlier in the input stops this rank: a higher rank's
 * records come after all of this one's, so this rank reads on, and its own
 * bad record, if it has one, is the one reported (the first in input
 * order, as neardup reports; stopping at any rank's failure made the
 * message depend on which rank got there first). */
static int batch_done(void *ctx)
{
    mrun *m = ctx;
    for (;;) {
        int flag = 0;
        MPI_Status status;
        MPI_Iprobe(MPI_ANY_SOURCE, TAG_ABORT, m->x.comm, &flag, &status);
        if (!flag)
            break;
        int v;
        MPI_Recv(&v, 1, MPI_INT, status.MPI_SOURCE, TAG_ABORT, m->x.comm, MPI_STATUS_IGNORE);
        m->stops_received++;
        if (status.MPI_SOURCE < m->x.rank)
            m->stopped_by_other = 1;
    }
    if (m->stopped_by_other)
        return EXIT_FAIL;
    if (!m->counts.spilled && nd_index_memory(m->index) > m->cfg->memory / 2) {
        int nrc = nd_index_spill(m->index, m->cfg->tmpdir);
        if (nrc != ND_OK) {
            cli_error("%s: %s", m->cfg->tmpdir, nd_strerror(nrc));
            return EXIT_FAIL;
        }
        m->counts.spilled = 1;
    }
    return EXIT_OK;
}

/* The warnings of the repeating kinds (a skipped record, invalid UTF-8)
 * that each rank held through pass 1 (cli_warn_hold): rank 0 writes the
 * first WARN_LIMIT of each kind in rank order, which is input order, and
 * one line counting the rest of all ranks, as neardup does for its one
 * process (each rank used to show its own first five: five lines a rank,
 * each rank's count of the rest). Only ranks up to `upto` count: past a
 * failure on rank `upto`, the records later ranks read before they
 * stopped are records neardup never reaches. Collective. */
static void show_held_warnings(mrun *m, int upto)
{
    xctx *x = &m->x;
    uint64_t mine[2 * WARN_KINDS];
    xbuf text = {0};
    for (int k = 0; k < WARN_KINDS; k++) {
        char *lines;
        size_t len;
        mine[2 * k] = cli_warn_take((cli_warn_kind)k, &lines, &len);
        mine[2 * k + 1] = len;
        xbuf_put(&text, lines ? lines : "", len);
        free(lines);
    }
    cli_warn_hold(0);
    int root = x->rank == 0;
    uint64_t *all = root ? malloc((size_t)x->size * sizeof mine) : NULL;
    int *counts = root ? malloc((size_t)x->size * sizeof *counts) : NULL;
    int *displs = root ? malloc((size_t)x->size * sizeof *displs) : NULL;
    if (root && (!all || !counts || !displs))
        x_fatal(x, "out of memory");
    double t0 = x_clock();
    MPI_Gather(mine, 2 * WARN_KINDS, MPI_UINT64_T, all, 2 * WARN_KINDS, MPI_UINT64_T, 0, x->comm);
    size_t total = 0;
    for (int r = 0; root && r < x->size; r++) {
        uint64_t bytes = 0;
        for (size_t k = 0; k < WARN_KINDS; k++)
            bytes += all[(size_t)r * 2 * WARN_KINDS + 2 * k + 1];
        if (bytes > INT_MAX || total > (size_t)INT_MAX - bytes)
            x_fatal(x, "warnings too long to gather");
        counts[r] = (int)bytes;
        displs[r] = (int)total;
        total += bytes;
    }
    char *got = root ? malloc(total ? total : 1) : NULL;
    if (root && !got)
        x_fatal(x, "out of memory");
    MPI_Gatherv(text.data, (int)text.len, MPI_CHAR, got, counts, displs, MPI_CHAR, 0, x->comm);
    x_spent(x, t0);
    for (int k = 0; root && k < WARN_KINDS; k++) {
        uint64_t seen = 0, shown = 0;
        for (int r = 0; r < x->size && r <= upto; r++) {
            const uint64_t *of = all + (size_t)r * 2 * WARN_KINDS;
            const char *p = got + displs[r];
            for (size_t j = 0; j < (size_t)k; j++)
                p += of[2 * j + 1];
            const char *end = p + of[2 * (size_t)k + 1];
            while (p < end && shown < WARN_LIMIT) {
                const char *eol = memchr(p, '\n', (size_t)(end - p));
                size_t n = eol ? (size_t)(eol - p) + 1 : (size_t)(end - p);
                fwrite(p, 1, n, stderr);
                p += n;
                shown++;
            }
            seen += of[2 * (size_t)k];
        }
        cli_warn_more((cli_warn_kind)k, seen);
    }
    free(all);
    free(counts);
    free(displs);
    free(got);
    xbuf_free(&text);
}

/* Run pass 1; every rank learns whether any failed. Returns 1 if all ok. */
static int pass1(mrun *m)
{
    cli_warn_hold(1); /* shown by rank 0 after pass 1 (show_held_warnings) */
    int ok = nd_index_new(&m->index, &m->cfg->opts) == ND_OK;
    if (ok && (m->cfg->command == CMD_DEDUP || m->cfg->unit != ND_UNIT_DOCUMENT))
        ok = replay_source_new(&m->replay, m->cfg, m->in) == EXIT_OK;
    if (ok) {
        pipeline_sink sink = {m, commit_record, batch_done, 0, 0, NULL, 0}; /* commits on this thread (MPI) */
        pipeline_timing timing;
        ok = pipeline_run(m->cfg, &m->cfg->opts, m->in, &sink, &timing) == EXIT_OK;
    }
    /* tell the others at once, so that they stop reading */
    int told = !ok && !m->stopped_by_other;
    static int signal_value = 1;
    MPI_Request *sent = calloc((size_t)m->x.size, sizeof *sent);
    int nsent = 0;
    if (!sent)
        x_fatal(&m->x, "out of memory");
    for (int r = 0; told && r < m->x.size; r++) {
        if (r != m->x.rank)
            MPI_Isend(&signal_value, 1, MPI_INT, r, TAG_ABORT, m->x.comm, &sent[nsent++]);
    }
    /* a rank stopped by another's failure is not a failure of its own: the
     * lowest rank that failed on its own reports (unless it already did),
     * after the warnings of the records before its failure, as neardup
     * shows them */
    int first = x_first_failing(&m->x, ok || m->stopped_by_other);
    show_held_warnings(m, first);
    int all_ok = x_report_failure(&m->x, first, m->failure);
    /* drain the stop messages not received yet (batch_done took some) */
    uint64_t tellers = x_sum(&m->x, (uint64_t)told);
    for (uint64_t k = (told ? 1 : 0) + m->stops_received; k < tellers; k++) {
        int v;
        MPI_Recv(&v, 1, MPI_INT, MPI_ANY_SOURCE, TAG_ABORT, m->x.comm, MPI_STATUS_IGNORE);
    }
    MPI_Waitall(nsent, sent, MPI_STATUSES_IGNORE);
    free(sent);
    return all_ok;
}

/* ****  Describing texts for the engine  **** */

/* --keep min:FIELD / max:FIELD: the value of text `text`'s document, for
 * the rank that splits its component (keep_order): kind, string length,
 * the number's bytes, then the string's (the ranks run one build of the
 * program, so a long double travels as its bytes). */
static void keep_value_of(void *ctx, size_t text, xbuf *out)
{
    const mrun *m = ctx;
    size_t doc = m->cfg->unit != ND_UNIT_DOCUMENT ? doctable_unit_doc(&m->docs, text) : text;
    const keep_value *v = &m->keep.values[doc];
    xbuf_put_u32(out, (uint32_t)v->kind);
    xbuf_put_u32(out, (uint32_t)v->len);
    xbuf_put(out, &v->number, sizeof v->number);
    if (v->kind == KEEP_VALUE_STRING)
        xbuf_put(out, v->string, v->len);
}

static keep_value keep_value_at(const unsigned char *p)
{
    uint32_t kind, len;
    keep_value v;
    memcpy(&kind, p, sizeof kind);
    memcpy(&len, p + 4, sizeof len);
    memcpy(&v.number, p + 8, sizeof v.number);
    v.kind = (keep_value_kind)kind;
    v.len = len;
    v.string = (const char *)p + 8 + sizeof v.number;
    return v;
}

/* The order of two values keep_value_of wrote: the one neardup ranks
 * documents by (keep.c), ties left to the engine (input order). */
static int keep_order(void *ctx, const unsigned char *a, const unsigned char *b)
{
    const mrun *m = ctx;
    keep_value va = keep_value_at(a), vb = keep_value_at(b);
    return keep_value_order(&va, &vb, m->cfg->keep_descending);
}

/* Document mode: the id, NUL-terminated. Unit mode: the document's global
 * number, the span, then the id. */
static void describe_text(void *ctx, size_t text, xbuf *out)
{
    const mrun *m = ctx;
    const doctable *docs = &m->docs;
    size_t doc = text;
    if (m->cfg->unit != ND_UNIT_DOCUMENT) {
        doc = doctable_unit_doc(docs, text);
        nd_span span = doctable_unit_span(docs, text);
        xbuf_put_u64(out, m->doc_base + doc);
        xbuf_put_u64(out, span.start);
        xbuf_put_u64(out, span.end);
    }
    xbuf_put(out, docs->ids[doc], strlen(docs->ids[doc]) + 1);
}

/* ****  The run  **** */

static int local_ranks(MPI_Comm comm)
{
    MPI_Comm node;
    int n = 1;
    if (MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node) == MPI_SUCCESS) {
        MPI_Comm_size(node, &n);
        MPI_Comm_free(&node);
    }
    return n;
}

static int has_option(int argc, char **argv, const char *name)
{
    size_t len = strlen(name);
    for (int i = 0; i < argc; i++) {
        if (strncmp(argv[i], name, len) == 0 && (argv[i][len] == '\0' || argv[i][len] == '='))
            return 1;
    }
    return 0;
}

/* Parse on every rank; only rank 0 prints (help, usage errors). */
static int parse(cli_config *cfg, cli_command command, int argc, char **argv, int rank)
{
    int saved_out = -1, saved_err = -1;
    if (rank != 0) {
        int null = open("/dev/null", O_WRONLY);
        fflush(stdout);
        fflush(stderr);
        saved_out = dup(1);
        saved_err = dup(2);
        if (null >= 0) {
            dup2(null, 1);
            dup2(null, 2);
            close(null);
        }
    }
    int rc = cli_parse(cfg, command, argc, argv);
    if (rank != 0) {
        fflush(stdout);
        fflush(stderr);
        if (saved_out >= 0) {
            dup2(saved_out, 1);
            close(saved_out);
        }
        if (saved_err >= 0) {
            dup2(saved_err, 2);
            close(saved_err);
        }
    }
    return rc;
}

/* scan -o FILE, opened by rank 0 (plan_make checked it against every
 * input and --stats, as neardup does): written under a temporary name
 * beside it, renamed when the run succeeded (mpi_output). Collective:
 * EXIT_OK or EXIT_FAIL on every rank (reported once). */
static int open_output(mrun *m)
{
    int rc = m->x.rank == 0 && outfile_open(&m->out, m->cfg->output_path) != 0 ? EXIT_FAIL : EXIT_OK;
    MPI_Bcast(&rc, 1, MPI_INT, 0, m->x.comm);
    return rc;
}

static int run(mrun *m, int argc, char **argv)
{
    cli_config *cfg = m->cfg;
    json_object_seed(0);
    int rc = plan_make(&m->plan, &m->x, cfg);
    if (rc != EXIT_OK)
        return rc;
    m->counts.files = m->plan.skipped; /* rank 0's, which reports them (zeros elsewhere) */
    if (cfg->output_path && (rc = open_output(m)) != EXIT_OK)
        return rc;
    if (input_open_parts(&m->in, cfg, m->plan.mine, m->plan.mine_count) != EXIT_OK)
        x_fatal(&m->x, "out of memory");
    /* the pid of rank 0 names this run's temporary files */
    long pid = (long)getpid();
    MPI_Bcast(&pid, 1, MPI_LONG, 0, m->x.comm);
    char pid_tag[32];
    snprintf(pid_tag, sizeof pid_tag, "%ld", pid);
    (void)argc;
    (void)argv;
    double t = MPI_Wtime();
    if (!pass1(m))
        return EXIT_FAIL;
    m->pass1_s = MPI_Wtime() - t;
    /* the input checks of neardup over all ranks' records: rank 0 warns
     * about a misspelt field, and every rank fails when all were skipped */
    const run_counts *c = &m->counts;
    field_tally fields = {.objects = x_sum(&m->x, c->fields.objects),
                          .with_id = x_sum(&m->x, c->fields.with_id),
                          .with_text = x_sum(&m->x, c->fields.with_text)};
    uint64_t read = x_sum(&m->x, c->records_read), skipped = x_sum(&m->x, c->skipped);
    if (m->x.rank == 0 ? report_input_check(cfg, read, skipped, &fields) != EXIT_OK : read > 0 && skipped == read)
        return EXIT_FAIL;
    uint64_t docs = m->docs.count;
    double t0 = x_clock();
    MPI_Exscan(&docs, &m->doc_base, 1, MPI_UINT64_T, MPI_SUM, m->x.comm);
    x_spent(&m->x, t0);
    if (m->x.rank == 0)
        m->doc_base = 0;
    t = MPI_Wtime();
    nd_store store;
    if (nd_index_store(m->index, &store) != ND_OK)
        x_fatal(&m->x, "cannot flush the spill files");
    m->bases = calloc((size_t)m->x.size + 1, sizeof *m->bases);
    if (!m->bases)
        x_fatal(&m->x, "out of memory");
    /* --keep min:FIELD / max:FIELD: rank 0 warns when no record has it, as neardup does */
    uint64_t with_value = cfg->keep_field ? x_sum(&m->x, m->keep.with_value) : 1;
    if (m->x.rank == 0 && with_value == 0 && fields.objects > 0)
        report_keep_missing(cfg, fields.objects, 0);
    engine_input ein = {&store, describe_text, m, cfg->keep_field ? keep_value_of : NULL, keep_order};
    engine_cluster(&m->x, &ein, cfg->keep, m->bases, &m->clusters, &m->engine);
    m->cluster_s = MPI_Wtime() - t;
    m->output_started = MPI_Wtime();
    size_t n = 0;
    uint64_t duplicates = 0;
    /* the output, then the counts over all ranks and --stats (mpi_run_conclude) */
    if (!mpi_output(m, pid_tag, &n, &duplicates))
        return EXIT_FAIL;
    if (m->x.rank == 0) {
        report_summary(cfg, &m->counts);
        if (!cfg->quiet)
            fprintf(stderr, "neardup-mpi: %d ranks; this rank: %.2f s communicating, %.1f MB sent\n", m->x.size,
                    m->x.comm_s, (double)m->x.bytes_sent / 1e6);
    }
    return EXIT_OK;
}

int main(int argc, char **argv)
{
    std_fds_hold(); /* as neardup: a closed stdout stays unusable, and no file takes its number */
    int provided;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
    mrun m;
    memset(&m, 0, sizeof m);
    m.started = MPI_Wtime();
    x_init(&m.x, MPI_COMM_WORLD, ROUND_BYTES);
    char program[64];
    snprintf(program, sizeof program, "neardup-mpi: rank %d", m.x.rank);
    cli_set_program(program);
    int rc = EXIT_USAGE;
    cli_command command = CMD_SCAN;
    if (argc >= 2 && strcmp(argv[1], "dedup") == 0)
        command = CMD_DEDUP;
    cli_config cfg;
    memset(&cfg, 0, sizeof cfg);
    if (argc < 2 || (strcmp(argv[1], "scan") != 0 && strcmp(argv[1], "dedup") != 0)) {
        /* --help and --version as neardup answers them: stdout, exit 0;
         * anything else is a usage error (stderr, exit 2) */
        int help =
            argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0);
        int version = argc == 2 && strcmp(argv[1], "--version") == 0;
        if (m.x.rank == 0 && version)
            printf("neardup-mpi %s\n", ND_VERSION);
        else if (m.x.rank == 0)
            fputs("Usage: mpirun -n P neardup-mpi scan|dedup [OPTIONS] PATH...\n"
                  "The scan and dedup of neardup (same options, same output) by P processes; see\n"
                  "'neardup scan --help', 'neardup dedup --help'. scan writes to stdout or -o FILE,\n"
                  "dedup to --output-dir DIR.\n",
                  help ? stdout : stderr);
        if (help || version) {
            rc = fflush(stdout) == 0 && !ferror(stdout) ? EXIT_OK : EXIT_FAIL;
        } else if (m.x.rank == 0 && argc >= 2) {
            fprintf(stderr, "neardup-mpi: unknown command '%s'\n", argv[1]);
        }
        goto done;
    }
    rc = parse(&cfg, command, argc - 1, argv + 1, m.x.rank);
    if (rc < 0) {
        rc = EXIT_OK; /* --help */
        goto done;
    }
    if (rc != EXIT_OK)
        goto done;
    /* what the engine does not distribute (yet): say so rather than differ */
    const char *unsupported = cfg.pairs                                    ? "--pairs"
                              : cfg.opts.measure == ND_MEASURE_CONTAINMENT ? "--measure containment"
                              : cfg.index_path                             ? "dedup --index (and --update)"
                              : cfg.output_path && command == CMD_DEDUP    ? "-o/--output (use --output-dir)"
                                                                           : NULL;
    if (unsupported) {
        if (m.x.rank == 0)
            cli_error("%s: not available under MPI yet; run neardup (one process) for it", unsupported);
        rc = EXIT_USAGE;
        goto done;
    }
    if (command == CMD_DEDUP && !cfg.output_dir) {
        if (m.x.rank == 0)
            cli_error("dedup: neardup-mpi writes each input back to --output-dir DIR (and --removed-dir DIR)");
        rc = EXIT_USAGE;
        goto done;
    }
    int ranks_here = local_ranks(m.x.comm);
    if (!has_option(argc, argv, "--threads")) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        cfg.threads = cores > ranks_here ? (unsigned)(cores / ranks_here) : 1;
    }
    if (!has_option(argc, argv, "--memory"))
        cfg.memory /= (uint64_t)ranks_here;
    if (m.x.rank != 0)
        cfg.quiet = 1; /* summaries from rank 0; warnings gathered there (show_held_warnings) */
    m.cfg = &cfg;
    rc = run(&m, argc, argv);
    cli_warn_flush(); /* ranks other than 0 print no summary, which flushes it there */
done:
    outfile_abort(&m.out); /* a failed run's -o FILE: its temporary file removed (none after the rename) */
    nd_index_free(m.index);
    doctable_free(&m.docs);
    keep_table_free(&m.keep);
    replay_source_free(m.replay);
    input_close(m.in);
    plan_free(&m.plan);
    xbuf_free(&m.clusters);
    free(m.bases);
    free(m.failure);
    cli_config_free(&cfg); /* --include's list */
    MPI_Finalize();
    return rc;
}
