/* query_cmd.c - `neardup query DB [PATH...]`: each input document's
 * matches in the persistent index, one JSON line per document, in input
 * order.
 *
 * Records go through the pipeline (parsed and sketched on the worker
 * threads with the index's options); up to QUERY_BATCH of them are then
 * queried at once with nd_db_query() on --threads threads, each reading its
 * own snapshot of the index, and written out in input order. The index is opened for
 * reading only: queries run while another process adds to it, and see it
 * as it was before that run.
 */
#include "cli.h"

#include <errno.h>  /* errno */
#include <string.h> /* strlen, strerror */
#include <time.h>   /* clock_gettime */

#include <jansson.h> /* json_object_seed */

#include "dbcli.h"
#include "hugeheap.h" /* huge_heap_pages: --verbose */
#include "outfile.h"
#include "report.h" /* report_seconds_since */

typedef struct query_state {
    cli_config run; /* with the index's options */
    nd_db *db;
    doc_batch batch;
    read_counts counts;
    uint64_t with_matches, matches;
    nd_db_query_options q;
    FILE *out; /* stdout, or -o FILE's temporary file */
} query_state;

static int query_commit(void *ctx, const sketched_doc *d)
{
    query_state *st = ctx;
    int take = dbcli_take_record(&st->counts, &st->run, d);
    if (take <= 0)
        return take < 0 ? EXIT_FAIL : EXIT_OK;
    if (doc_batch_push(&st->batch, d, st->run.opts.bands) != 0) {
        cli_error("out of memory");
        return EXIT_FAIL;
    }
    return EXIT_OK;
}

/* The pipeline's blocks of ids (pipeline_sink.adopt_ids): the batch keeps
 * them until its documents are queried. Written once, on the thread that
 * sketched them, where a copy into the batch's arena on this thread was
 * its pages' clearing as well (100,000 documents: 80 MB, half of this
 * thread's time while the others sketched). Raw (as shingling made them)
 * for a Jaccard index: nd_db_query sorts the few it verifies
 * (nd_db_query_options.raw_ids), where sorting every document's was a
 * 6% of a one-thread run; sorted distinct (pipeline_sink.settled_ids) for a
 * containment index, whose probes are made of every document's ids. */
static int query_adopt_ids(void *ctx, uint32_t *block, size_t capacity)
{
    (void)capacity;
    query_state *st = ctx;
    return doc_batch_adopt(&st->batch, block);
}

/* Documents queried at once: the more, the closer the band keys of one
 * call lie in the index (they are looked up in key order). */
enum { QUERY_BATCH = 1 << 18 };

/* Query the documents gathered so far and write their lines. */
static int query_flush(query_state *st)
{
    nd_db_results *r;
    int rc = nd_db_query(&r, st->db, st->batch.docs, st->batch.count, &st->q);
    if (rc != ND_OK) {
        dbcli_fail(st->db, rc);
        return EXIT_FAIL;
    }
    /* every line ends the same: made once (a printf a line was a tenth of
     * writing 100,000 lines) */
    char tail[96];
    snprintf(tail, sizeof tail, "],\"profile\":\"%s\"}\n", cli_profile_label(&st->run.opts));
    FILE *out = st->out;
    for (size_t i = 0; i < st->batch.count; i++) {
        const nd_db_match *m;
        size_t n = nd_db_results_get(&m, r, i);
        fputs("{\"id\":", out);
        out_string(out, st->batch.docs[i].id, st->batch.docs[i].id_len);
        fputs(",\"matches\":[", out);
        for (size_t k = 0; k < n; k++) {
            fputs(k ? ",{\"id\":" : "{\"id\":", out);
            out_id(out, m[k].id, m[k].id_len);
            fputs(",\"jaccard\":", out);
            out_number(out, m[k].jaccard);
            if (st->run.opts.measure == ND_MEASURE_CONTAINMENT) {
                fputs(",\"query_in_match\":", out);
                out_number(out, m[k].query_in_match);
                fputs(",\"match_in_query\":", out);
                out_number(out, m[k].match_in_query);
            }
            fputc('}', out);
        }
        fputs(tail, out);
        st->with_matches += n > 0;
        st->matches += n;
    }
    nd_db_results_free(r);
    doc_batch_clear(&st->batch);
    if (ferror(out)) {
        cli_error("cannot write the output: %s", strerror(errno));
        return EXIT_FAIL;
    }
    return EXIT_OK;
}

static int query_batch_done(void *ctx)
{
    query_state *st = ctx;
    return st->batch.count >= QUERY_BATCH ? query_flush(st) : EXIT_OK;
}

int cli_query(const cli_config *cfg)
{
    query_state st;
    memset(&st, 0, sizeof st);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    json_object_seed(0); /* before any thread parses JSON */
    /* the threshold is the query's own; every other option given must agree */
    int rc = dbcli_open(&st.db, cfg, 0, cfg->given & ~ND_OPT_THRESHOLD);
    if (rc != EXIT_OK)
        return rc;
    st.run = dbcli_config_for(cfg, st.db);
    const nd_options *made = nd_db_options(st.db);
    if (made->measure == ND_MEASURE_CONTAINMENT && st.run.opts.threshold < made->threshold) {
        cli_error("query: %s is a containment index made for threshold %g; it answers thresholds of at least that "
                  "(given %g)",
                  cfg->index_path, made->threshold, st.run.opts.threshold);
        nd_db_close(st.db);
        return EXIT_USAGE;
    }
    st.q = (nd_db_query_options)ND_DB_QUERY_INIT;
    st.q.threshold = st.run.opts.threshold;
    st.q.top = cfg->top;
    st.q.threads = cfg->threads;
    input *in = NULL;
    outfile out_file = {NULL, NULL, NULL, NULL, NULL, NULL};
    rc = input_open(&in, cfg);
    if (rc == EXIT_OK)
        rc = output_check(cfg, in);
    if (rc == EXIT_OK && outfile_open(&out_file, cfg->output_path) != 0)
        rc = EXIT_FAIL;
    st.out = out_file.f ? out_file.f : stdout;
    if (rc == EXIT_OK) {
        /* commits on this thread (nd_db) */
        int raw = st.run.opts.measure != ND_MEASURE_CONTAINMENT;
        pipeline_sink sink = {&st, query_commit, query_batch_done, query_adopt_ids, 0, NULL, !raw};
        st.batch.ids_adopted = 1;
        st.q.raw_ids = raw;
        pipeline_timing timing;
        rc = pipeline_run(&st.run, &st.run.opts, in, &sink, &timing);
    }
    if (rc == EXIT_OK)
        rc = report_input_check(cfg, st.counts.records_read, st.counts.skipped, &st.counts.fields);
    if (rc == EXIT_OK && st.batch.count > 0)
        rc = query_flush(&st);
    if (rc == EXIT_OK && (fflush(stdout) != 0 || ferror(stdout))) {
        cli_error("cannot write the output: %s", strerror(errno));
        rc = EXIT_FAIL;
    }
    if (rc == EXIT_OK && outfile_commit(&out_file) != 0)
        rc = EXIT_FAIL;
    outfile_abort(&out_file);
    cli_warn_flush(); /* before the summary line */
    if (rc == EXIT_OK && !cfg->quiet) {
        double seconds = report_seconds_since(&t0);
        double mb = (double)st.counts.bytes / 1e6;
        fprintf(stderr,
                "neardup: %llu documents read (%.1f MB), %llu with matches (%llu matches), %llu empty, %llu invalid "
                "UTF-8, %llu skipped; threshold %g; profile %s; %.2f s, %.1f MB/s\n",
                (unsigned long long)st.counts.records_read, mb, (unsigned long long)st.with_matches,
                (unsigned long long)st.matches, (unsigned long long)st.counts.empty,
                (unsigned long long)st.counts.invalid_docs, (unsigned long long)st.counts.skipped, st.q.threshold,
                cli_profile_label(&st.run.opts), seconds, seconds > 0 ? mb / seconds : 0.0);
        if (cfg->verbose)
            fprintf(stderr, "neardup: malloc in %s\n", huge_heap_pages());
    }
    input_close(in);
    doc_batch_free(&st.batch);
    nd_db_close(st.db);
    return rc;
}
