/* run.c - the scan and dedup commands: pass 1 through the pipeline into an
 * index, clustering, then the output (and pass 2 where it needs the
 * records again).
 *
 * The sink this file gives the pipeline commits each record in input
 * order: an unusable record stops the run or is skipped (--on-error), a
 * document's id goes into the doctable (and its --keep min:FIELD value
 * into the keep table), its sketch (or its units' sketches) into the
 * nd_index, and the record is noted for pass 2 (replay.c). Past half of
 * --memory the index moves its bulk to files in --tmpdir; the output
 * stays the same. scan --pairs lists every matching pair instead of
 * clusters.
 *
 * Output files (-o, --removed, --output-dir) are checked against the
 * inputs and created under temporary names before pass 1, and take their
 * names only at the very end, once everything else succeeded (outfile.c).
 */
#include "cli.h"

#include <errno.h>  /* errno */
#include <stdlib.h> /* malloc, free */
#include <string.h> /* memset, strerror */
#include <unistd.h> /* isatty, getpid */

#include <jansson.h> /* json_object_seed */

#include "commitsig.h"
#include "doc_output.h"
#include "doctable.h"
#include "index_add.h"
#include "keep.h"
#include "outfile.h"
#include "pipeline.h"
#include "refill.h"
#include "replay.h"
#include "report.h"
#include "unit_output.h"

typedef struct run_state {
    const cli_config *cfg;
    const input *in; /* for dedup --output-dir: the sources' names */
    nd_index *index; /* documents, or units with --unit */
    doctable docs;
    replay_source *replay; /* for pass 2 (dedup, --unit), else NULL */
    refill *refill;        /* document mode: ids dropped and sketched again where needed (refill.c), or NULL */
    size_t dropped;        /* documents added without their ids */
    keep_table keep;       /* --keep min:FIELD / max:FIELD: each document's value */
    run_counts counts;
    progress prog;
    FILE *out;           /* scan's output: stdout, or -o FILE's temporary file */
    outfile out_file;    /* scan -o FILE */
    dedup_target target; /* dedup's outputs (-o, --removed, --output-dir) */
    int target_open;
    char tag[32]; /* makes the target's temporary names unique (it keeps a pointer) */
} run_state;

/* A document's units into the index (their folded keys were computed by
 * the workers; their ids are raw, in blocks the index adopts:
 * pipeline_sink.adopt_ids) and the
 * doctable, a few at a time.
 * Returns ND_OK or a library error (ND_ENOMEM for the doctable; ND_EINVAL
 * past UINT32_MAX documents, numbered in 32 bits as the index's texts). */
static int add_units(nd_index *index, doctable *docs, size_t doc, const sketched_unit *units, size_t n)
{
    enum { STEP = 32 };
    nd_prepared_text texts[STEP];
    if (n > 0 && doc >= UINT32_MAX)
        return ND_EINVAL;
    if (doctable_reserve_units(docs, n) != 0)
        return ND_ENOMEM;
    for (size_t u0 = 0; u0 < n; u0 += STEP) {
        size_t k = n - u0 < STEP ? n - u0 : STEP;
        for (size_t i = 0; i < k; i++) {
            const sketched_unit *unit = &units[u0 + i];
            texts[i] = (nd_prepared_text){unit->ids, unit->id_count, unit->set_hash, unit->keys,
                                          unit->span.end - unit->span.start};
        }
        int rc = nd_index_add_prepared_kept(index, texts, k);
        if (rc != ND_OK)
            return rc;
        for (size_t i = 0; i < k; i++) {
            if (doctable_put_unit(docs, doc, units[u0 + i].span) != 0)
                return ND_ENOMEM;
        }
    }
    return ND_OK;
}

/* The pipeline's sink: one record, in input order. */
static int commit_document(void *ctx, const sketched_doc *d)
{
    run_state *st = ctx;
    const cli_config *cfg = st->cfg;
    st->counts.records_read++;
    st->counts.bytes += d->rec->len;
    if (report_fields_early_due(&st->counts.fields)) {
        progress_clear(&st->prog);
        report_fields_early(cfg, &st->counts.fields, cfg->keep_field ? st->keep.with_value : 0);
    }
    field_tally_add(&st->counts.fields, d->fields);
    if (d->error) {
        if (cfg->on_error == ON_ERROR_FAIL) {
            progress_clear(&st->prog);
            cli_error("%s", d->error);
            cli_error("stopping (use --on-error skip to skip such records)");
            return EXIT_FAIL;
        }
        cli_warn_of(WARN_SKIPPED, "%s; skipped", d->error);
        st->counts.skipped++;
        return st->replay && replay_source_note(st->replay, d->rec, 0) != 0 ? EXIT_FAIL : EXIT_OK;
    }
    if (d->invalid_utf8 > 0) {
        st->counts.invalid_docs++;
        progress_clear(&st->prog);
        cli_warn_of(WARN_INVALID_UTF8, "%s: invalid UTF-8 (%zu sequence%s read as U+FFFD)", d->id, d->invalid_utf8,
                    d->invalid_utf8 == 1 ? "" : "s");
    }
    size_t doc = st->docs.count;
    if (doctable_add(&st->docs, d->id) != 0 || (cfg->keep_field && keep_table_add(&st->keep, &d->keep) != 0)) {
        cli_error("out of memory");
        return EXIT_FAIL;
    }
    if (cfg->unit == ND_UNIT_DOCUMENT) {
        if (d->id_count == 0)
            st->counts.empty++;
        const uint32_t *ids = d->ids;
        size_t count = d->id_count;
        int dropped = !ids && count > 0; /* refill.c */
        if (dropped && refill_note(st->refill, doc, d->rec) != 0)
            return EXIT_FAIL;
        st->dropped += (size_t)dropped;
        int nrc = dropped ? nd_index_add_dropped(st->index, count, d->keys, d->text_len)
                          : nd_index_add_kept(st->index, ids, count, d->keys, d->text_len);
        if (nrc != ND_OK) {
            cli_error("%s", nd_strerror(nrc));
            return EXIT_FAIL;
        }
    } else {
        if (d->unit_count == 0)
            st->counts.empty++;
        int nrc = add_units(st->index, &st->docs, doc, d->units, d->unit_count);
        if (nrc != ND_OK) {
            cli_error("%s", nd_strerror(nrc));
            return EXIT_FAIL;
        }
    }
    return st->replay && replay_source_note(st->replay, d->rec, 1) != 0 ? EXIT_FAIL : EXIT_OK;
}

/* The pipeline's blocks of raw ids, adopted by the index (document mode:
 * each document's ids are kept where its sketching thread wrote them, and
 * the index sorts only those it reads). */
static int adopt_ids(void *ctx, uint32_t *block, size_t capacity)
{
    run_state *st = ctx;
    return nd_index_adopt_ids(st->index, block, capacity);
}

/* After each batch: past half of --memory, move the index's bulk to files. */
static int batch_done(void *ctx)
{
    run_state *st = ctx;
    const cli_config *cfg = st->cfg;
    if (!st->counts.spilled && nd_index_memory(st->index) > cfg->memory / 2) {
        progress_clear(&st->prog);
        if (!cfg->quiet)
            cli_note("the index passed half of --memory (%.1f MiB); moving shingle ids and band keys to files in %s",
                     (double)cfg->memory / 2 / (1 << 20), cfg->tmpdir);
        /* the dropped documents' ids stay dropped: those clustering reads
         * are sketched again and written to the files then (refill.c) */
        int nrc = nd_index_spill(st->index, cfg->tmpdir);
        if (nrc != ND_OK) {
            cli_error("%s: %s", cfg->tmpdir, nd_strerror(nrc));
            return EXIT_FAIL;
        }
        st->counts.spilled = 1;
    }
    progress_show(&st->prog, "reading", st->counts.records_read, st->counts.bytes, 0);
    return EXIT_OK;
}

/* --keep min:FIELD / max:FIELD: rank the index's texts (documents, or
 * each unit as its document) by the field's value. Returns EXIT_OK or
 * EXIT_FAIL (reported). */
static int set_ranks(run_state *st)
{
    const cli_config *cfg = st->cfg;
    if (st->keep.with_value == 0 && st->counts.fields.objects > 0)
        report_keep_missing(cfg, st->counts.fields.objects, 0);
    uint64_t *doc_ranks = keep_table_ranks(&st->keep, cfg->keep_descending);
    uint64_t *ranks = doc_ranks;
    size_t count = st->docs.count;
    if (doc_ranks && cfg->unit != ND_UNIT_DOCUMENT) {
        count = st->docs.unit_count;
        ranks = malloc((count ? count : 1) * sizeof *ranks);
        for (size_t u = 0; ranks && u < count; u++)
            ranks[u] = doc_ranks[doctable_unit_doc(&st->docs, u)];
    }
    int rc = ranks ? nd_index_set_ranks(st->index, ranks, count) : ND_ENOMEM;
    if (ranks != doc_ranks)
        free(ranks);
    free(doc_ranks);
    if (rc != ND_OK) {
        cli_error("%s", nd_strerror(rc));
        return EXIT_FAIL;
    }
    return EXIT_OK;
}

/* scan --pairs: every matching pair instead of clusters. */
static int write_pairs(run_state *st)
{
    nd_pairs *pairs = NULL;
    int nrc = nd_index_pairs(&pairs, &st->counts.cluster_stats, st->index);
    if (nrc != ND_OK) {
        progress_clear(&st->prog);
        cli_error("listing pairs failed: %s", nd_strerror(nrc));
        return EXIT_FAIL;
    }
    st->counts.pairs = nd_pairs_count(pairs);
    st->counts.cluster_s = progress_elapsed(&st->prog) - st->counts.read_s;
    progress_show(&st->prog, "writing", st->counts.records_read, st->counts.bytes, 1);
    doc_output_pairs(st->out, st->cfg, &st->docs, pairs);
    nd_pairs_free(pairs);
    return EXIT_OK;
}

/* Clusters (or unit groups) to the output; pass 2 where needed. dedup's
 * files are closed (every write checked) but not yet given their names. */
static int write_output(run_state *st, const nd_clusters *clusters)
{
    const cli_config *cfg = st->cfg;
    run_counts *c = &st->counts;
    if (cfg->command == CMD_SCAN) {
        if (cfg->unit != ND_UNIT_DOCUMENT)
            return unit_output_scan(st->out, cfg, &st->docs, clusters, st->replay);
        return doc_output_scan(st->out, cfg, &st->docs, clusters);
    }
    int rc;
    if (cfg->unit != ND_UNIT_DOCUMENT)
        rc = unit_output_dedup(cfg, &st->docs, clusters, st->replay, &st->target, &c->kept, &c->removed,
                               &c->units_removed);
    else
        rc = doc_output_dedup(cfg, &st->docs, clusters, st->replay, &st->target, &c->kept, &c->removed);
    if (rc == EXIT_OK && dedup_target_close(&st->target) != 0)
        rc = EXIT_FAIL;
    return rc;
}

/* Where the output goes, checked and opened before reading: an output file
 * that is one of the inputs is refused (exit 2); -o FILE and --removed FILE
 * are created under temporary names. Returns EXIT_OK, EXIT_FAIL or
 * EXIT_USAGE (reported). */
static int open_outputs(run_state *st)
{
    const cli_config *cfg = st->cfg;
    int rc = output_check(cfg, st->in);
    if (rc != EXIT_OK)
        return rc;
    if (cfg->command == CMD_SCAN) {
        if (outfile_open(&st->out_file, cfg->output_path) != 0)
            return EXIT_FAIL;
        st->out = st->out_file.f ? st->out_file.f : stdout;
        return EXIT_OK;
    }
    snprintf(st->tag, sizeof st->tag, "p%ld", (long)getpid());
    st->target_open = 1;
    return dedup_target_open(&st->target, cfg, st->in, st->tag) == 0 ? EXIT_OK : EXIT_FAIL;
}

/* The run succeeded: every output file takes its name. Returns EXIT_OK or
 * EXIT_FAIL (reported). */
static int name_outputs(run_state *st)
{
    if (st->target_open && dedup_target_rename(&st->target, NULL) != 0)
        return EXIT_FAIL;
    return outfile_rename(&st->out_file) == 0 ? EXIT_OK : EXIT_FAIL;
}

/* Cluster (ranks first, for --keep min:FIELD) and write the output. */
static int cluster_and_write(run_state *st)
{
    const cli_config *cfg = st->cfg;
    if (cfg->keep_field && set_ranks(st) != EXIT_OK)
        return EXIT_FAIL;
    nd_clusters *clusters = NULL;
    int nrc = nd_index_cluster(&clusters, &st->counts.cluster_stats, st->index, cfg->keep);
    if (nrc != ND_OK) {
        progress_clear(&st->prog);
        cli_error("clustering failed: %s", nd_strerror(nrc));
        return EXIT_FAIL;
    }
    st->counts.clusters = nd_clusters_count(clusters);
    for (size_t c = 0; c < st->counts.clusters; c++) {
        const nd_member *m;
        st->counts.duplicates += nd_clusters_get(&m, clusters, c) - 1;
    }
    st->counts.cluster_s = progress_elapsed(&st->prog) - st->counts.read_s;
    progress_show(&st->prog, "writing", st->counts.records_read, st->counts.bytes, 1);
    int rc = write_output(st, clusters);
    nd_clusters_free(clusters);
    return rc;
}

int cli_run(const cli_config *cfg)
{
    run_state st;
    memset(&st, 0, sizeof st);
    st.cfg = cfg;
    progress_start(&st.prog, !cfg->quiet && isatty(2));
    /* Output in 1 MiB writes, not 4 KiB ones (dedup passes the whole corpus
     * through): glibc ignores setvbuf's size without a buffer of ours. A
     * terminal keeps its line buffering. */
    static char stdout_buffer[OUT_BUFFER];
    if (!isatty(STDOUT_FILENO))
        setvbuf(stdout, stdout_buffer, _IOFBF, sizeof stdout_buffer);
    json_object_seed(0); /* before any thread parses JSON */
    input *in = NULL;
    int rc = input_open(&in, cfg);
    if (rc != EXIT_OK)
        return rc;
    st.in = in; /* the output directories are checked with the other outputs (open_outputs) */
    st.counts.files = input_skipped_files(in);
    rc = open_outputs(&st);
    if (rc != EXIT_OK)
        goto done;
    rc = EXIT_FAIL;
    if (nd_index_new(&st.index, &cfg->opts) != ND_OK) {
        cli_error("invalid options");
        goto done;
    }
    /* dedup, and --unit (which prints the text of its groups), read the
     * records again in a second pass */
    if ((cfg->command == CMD_DEDUP || cfg->unit != ND_UNIT_DOCUMENT) &&
        replay_source_new(&st.replay, cfg, in) != EXIT_OK)
        goto done;
    /* scan --unit's previews need a few records: read just those; dedup in
     * document mode, without --annotate or --removed (which need
     * the records parsed), copies the kept records by their positions
     * (doc_output.c: 24 bytes a record in pass 1; 1M documents, 2
     * threads, output to /dev/null: the writing 0.53 -> 0.24 s of 3 s) */
    if (st.replay && (cfg->command == CMD_SCAN ||
                      (cfg->unit == ND_UNIT_DOCUMENT && !cfg->annotate && !cfg->removed_path && !cfg->removed_dir)))
        replay_source_locate(st.replay);
    /* raw ids, written once; records committed on whichever thread is free */
    if (refill_new(&st.refill, cfg, in) != EXIT_OK)
        goto done;
    pipeline_sink sink = {
        &st, commit_document, batch_done, adopt_ids, 1, st.refill ? refill_predictor(st.refill) : NULL, 0};
    pipeline_timing timing;
    if (pipeline_run(cfg, &cfg->opts, in, &sink, &timing) != EXIT_OK ||
        report_input_check(cfg, st.counts.records_read, st.counts.skipped, &st.counts.fields) != EXIT_OK)
        goto done;
    st.counts.main_read_s = timing.read_s;
    st.counts.main_sketch_s = timing.sketch_s;
    st.counts.main_commit_s = timing.commit_s;
    st.counts.read_s = progress_elapsed(&st.prog);
    progress_show(&st.prog, "clustering", st.counts.records_read, st.counts.bytes, 1);
    /* sorting bands in parallel takes 16 bytes per text per extra thread
     * (naming the dropped documents to read again, 12); a spilled index
     * is short of memory, so it sorts on one */
    nd_index_set_threads(st.index, st.counts.spilled ? 1 : cfg->threads);
    /* the dropped documents clustering may read, sketched again on every
     * thread, in file order (refill.c) */
    if (st.refill && refill_index(st.refill, st.index, cfg->threads) != EXIT_OK)
        goto done;
    st.counts.units = nd_index_count(st.index);
    if ((cfg->pairs ? write_pairs(&st) : cluster_and_write(&st)) != EXIT_OK)
        goto done;
    if (fflush(stdout) != 0 || ferror(stdout)) {
        progress_clear(&st.prog);
        cli_error("cannot write the output: %s", strerror(errno));
        goto done;
    }
    if (outfile_close(&st.out_file) != 0)
        goto done;
    progress_clear(&st.prog);
    st.counts.total_s = progress_elapsed(&st.prog);
    st.counts.write_s = st.counts.total_s - st.counts.read_s - st.counts.cluster_s;
    /* the files put in place one after another: a signal waits (commitsig.h) */
    commit_signals_begin();
    if (cfg->verbose)
        fprintf(stderr, "neardup: putting the output files in place\n");
    int named = report_stats(cfg, &st.counts) == 0 && name_outputs(&st) == EXIT_OK;
    commit_signals_end_outputs(named ? EXIT_OK : EXIT_FAIL);
    if (!named)
        goto done;
    report_summary(cfg, &st.counts);
    if (cfg->verbose && st.refill)
        fprintf(stderr, "neardup: shingle ids dropped for %zu documents, %zu sketched again (%zu reads)\n", st.dropped,
                refill_done(st.refill), refill_reads(st.refill));
    rc = EXIT_OK;
done:
    progress_clear(&st.prog);
    if (st.target_open)
        dedup_target_free(&st.target, rc != EXIT_OK);
    outfile_abort(&st.out_file);
    doctable_free(&st.docs);
    keep_table_free(&st.keep);
    nd_index_free(st.index);
    replay_source_free(st.replay);
    refill_free(st.refill);
    input_close(in);
    return rc;
}
