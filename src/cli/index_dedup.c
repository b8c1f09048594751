/* index_dedup.c - `neardup dedup --index DB [--update]`: drop the documents
 * that match the persistent index or an earlier kept document of the same
 * input.
 *
 * The rule, in input order: a document is dropped when some indexed
 * document matches it (an LSH band collision and an exact Jaccard of at
 * least the threshold; the best match is named, and the index's copy always
 * wins), else when an earlier document of this input that was kept matches
 * it; otherwise it is kept. So every dropped document reaches the threshold
 * with the document named as its original, and no kept document matches
 * the index or another kept one (where LSH proposes the pair).
 *
 * The kept documents are added, as they are kept, to a run: with --update,
 * the index's own run (committed once the output is written: an
 * interrupted run leaves the index as it was); without it, a temporary
 * index in --tmpdir (files unlinked at once, gone at exit), whose documents
 * are named by their position in the input so that repeated ids do not
 * matter. Both are queried for pending documents in the same way, so the
 * output is the same with and without --update.
 *
 * Pass 1 queries up to QUERY_BATCH documents against the index at once
 * (--threads threads), then walks them in order for the earlier-kept rule; pass 2 writes the
 * records (replay.c) as dedup does.
 */
#define _GNU_SOURCE /* mkdtemp */

#include "cli.h"

#include <errno.h>  /* errno */
#include <stdlib.h> /* malloc, free, mkdtemp, strtoull */
#include <string.h> /* strlen, strerror */
#include <time.h>   /* clock_gettime */
#include <unistd.h> /* rmdir */

#include <jansson.h> /* json_object_seed */

#include "commitsig.h"
#include "dbcli.h"
#include "hugeheap.h" /* huge_heap_pages: --verbose */
#include "doc_output.h"
#include "doctable.h"
#include "outfile.h"
#include "replay.h"
#include "report.h" /* report_seconds_since */

/* What became of a document. */
typedef struct fate {
    int dropped;
    int from_index; /* its original is in the index (else earlier in the input) */
    double jaccard; /* with its original */
    const char *of; /* the original's id (in dedup_state.names, or the doctable) */
    size_t of_len;  /* its bytes: an id from the index may hold a NUL (the Python module's) */
} fate;

typedef struct dedup_state {
    const cli_config *cfg;
    cli_config run; /* with the index's options */
    nd_db *index;
    nd_db *kept; /* the index (--update) or a temporary one */
    input *in;
    replay_source *replay;
    doctable docs;
    doc_batch batch;
    size_t batch_first; /* document number of the batch's first document */
    fate *fates;
    size_t fate_capacity;
    arena names; /* ids of originals found in the index */
    read_counts counts;
    uint64_t kept_count, removed, from_index, from_input;
    nd_db_query_options committed, pending;
    uint64_t removed_before; /* --update: the index's removed documents when the run began */
    int signals_held;        /* commit_signals_begin was called: from the output's renames (write_output) */
} dedup_state;

static int dedup_commit(void *ctx, const sketched_doc *d)
{
    dedup_state *st = ctx;
    int take = dbcli_take_record(&st->counts, &st->run, d);
    if (take < 0)
        return EXIT_FAIL;
    if (take == 0)
        return replay_source_note(st->replay, d->rec, 0) != 0 ? EXIT_FAIL : EXIT_OK;
    if (doctable_add(&st->docs, d->id) != 0 || doc_batch_push(&st->batch, d, st->run.opts.bands) != 0) {
        cli_error("out of memory");
        return EXIT_FAIL;
    }
    return replay_source_note(st->replay, d->rec, 1) != 0 ? EXIT_FAIL : EXIT_OK;
}

/* Keep document i of the batch: add it to the kept run. */
static int keep(dedup_state *st, size_t i, size_t doc)
{
    nd_db_doc d = st->batch.docs[i];
    char ordinal[24];
    if (!st->cfg->update) { /* the temporary index names documents by position */
        d.id_len = (size_t)snprintf(ordinal, sizeof ordinal, "%zu", doc);
        d.id = ordinal;
    }
    int rc = nd_db_add(NULL, st->kept, &d, 1, st->cfg->replace ? ND_DB_REPLACE : 0);
    if (rc != ND_OK) {
        dbcli_fail(st->kept, rc);
        char *where = doc_batch_where(&st->batch, st->in, i);
        cli_error("%s: this document could not be added; the index is left as it was", where ? where : "?");
        free(where);
        return dbcli_exit_code(rc);
    }
    st->kept_count++;
    return EXIT_OK;
}

/* The pipeline's blocks of sorted ids (pipeline_sink.adopt_ids with
 * settled_ids), kept by the batch until its documents are decided: no
 * copy on this thread (query_cmd.c says what that cost). */
static int dedup_adopt_ids(void *ctx, uint32_t *block, size_t capacity)
{
    (void)capacity;
    dedup_state *st = ctx;
    return doc_batch_adopt(&st->batch, block);
}

/* Documents gathered before the index is queried (in bulk: see
 * query_cmd.c). */
enum { QUERY_BATCH = 1 << 18 };

/* Decide the fate of the documents gathered so far, in order. */
static int dedup_flush(dedup_state *st)
{
    size_t n = st->batch.count;
    if (st->batch_first + n > st->fate_capacity) {
        size_t capacity = st->fate_capacity ? st->fate_capacity * 2 : 4096;
        while (capacity < st->batch_first + n)
            capacity *= 2;
        fate *grown = realloc(st->fates, capacity * sizeof *grown);
        if (!grown) {
            cli_error("out of memory");
            return EXIT_FAIL;
        }
        st->fates = grown;
        st->fate_capacity = capacity;
    }
    nd_db_results *archive;
    int rc = nd_db_query(&archive, st->index, st->batch.docs, n, &st->committed);
    if (rc != ND_OK) {
        dbcli_fail(st->index, rc);
        return EXIT_FAIL;
    }
    int status = EXIT_OK;
    for (size_t i = 0; i < n && status == EXIT_OK; i++) {
        size_t doc = st->batch_first + i;
        fate *f = &st->fates[doc];
        const nd_db_match *m;
        *f = (fate){0, 0, 0.0, NULL, 0};
        if (nd_db_results_get(&m, archive, i) > 0) {
            char *name = arena_alloc(&st->names, m->id_len + 1);
            if (!name) {
                cli_error("out of memory");
                status = EXIT_FAIL;
                break;
            }
            memcpy(name, m->id, m->id_len);
            name[m->id_len] = '\0';
            *f = (fate){1, 1, m->jaccard, name, m->id_len};
            st->from_index++;
            continue;
        }
        nd_db_results *earlier;
        rc = nd_db_query(&earlier, st->kept, &st->batch.docs[i], 1, &st->pending);
        if (rc != ND_OK) {
            status = dbcli_fail(st->kept, rc);
            break;
        }
        if (nd_db_results_get(&m, earlier, 0) > 0) {
            char buf[24];
            size_t len = m->id_len < sizeof buf - 1 ? m->id_len : sizeof buf - 1;
            memcpy(buf, m->id, len);
            buf[len] = '\0';
            const char *of = NULL;
            if (st->cfg->update) { /* real ids: find the name in the arena */
                char *name = arena_alloc(&st->names, m->id_len + 1);
                if (name) {
                    memcpy(name, m->id, m->id_len);
                    name[m->id_len] = '\0';
                }
                of = name;
            } else {
                of = st->docs.ids[strtoull(buf, NULL, 10)];
            }
            *f = (fate){1, 0, m->jaccard, of, of && st->cfg->update ? m->id_len : of ? strlen(of) : 0};
            st->from_input++;
            if (!of) {
                cli_error("out of memory");
                status = EXIT_FAIL;
            }
        } else {
            status = keep(st, i, doc);
        }
        nd_db_results_free(earlier);
    }
    nd_db_results_free(archive);
    st->batch_first += n;
    doc_batch_clear(&st->batch);
    return status;
}

static int dedup_batch_done(void *ctx)
{
    dedup_state *st = ctx;
    return st->batch.count >= QUERY_BATCH ? dedup_flush(st) : EXIT_OK;
}

/* The "neardup" member --annotate adds (newly allocated). */
static char *annotation(const dedup_state *st, const fate *f)
{
    char *member = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&member, &len);
    if (!mem)
        return NULL;
    fputs("\"neardup\":{\"duplicate_of\":", mem);
    if (f->dropped) {
        out_id(mem, f->of, f->of_len);
        fputs(",\"jaccard\":", mem);
        out_number(mem, f->jaccard);
        fprintf(mem, ",\"from\":\"%s\"", f->from_index ? "index" : "input");
    } else {
        fputs("null,\"jaccard\":null,\"from\":null", mem);
    }
    fprintf(mem, ",\"profile\":\"%s\"}", cli_profile_label(&st->run.opts));
    if (fclose(mem) != 0) {
        free(member);
        return NULL;
    }
    return member;
}

/* Pass 2: the records again, kept ones to stdout or -o FILE (all with
 * --annotate), dropped ones to --removed. Both files are closed, every
 * write checked, and given their names only when everything succeeded. */
static int write_output(dedup_state *st)
{
    const cli_config *cfg = st->cfg;
    outfile kept_file, removed_file;
    replay *records = NULL;
    int rc = EXIT_FAIL;
    int opened = outfile_open(&kept_file, cfg->output_path) == 0;
    if (!opened || outfile_open(&removed_file, cfg->removed_path) != 0) {
        if (opened)
            outfile_abort(&kept_file);
        return EXIT_FAIL;
    }
    FILE *out = kept_file.f ? kept_file.f : stdout;
    if (replay_open(&records, st->replay) != EXIT_OK)
        goto done;
    for (size_t doc = 0; doc < st->docs.count; doc++) {
        const record *rec;
        const fate *f = &st->fates[doc];
        if (replay_next(records, &rec) < 0)
            goto done;
        if (cfg->annotate || (f->dropped && removed_file.f)) {
            /* --removed: each record says what it duplicates, as dedup's do */
            char *member = annotation(st, f);
            if (!member) {
                cli_error("out of memory");
                goto done;
            }
            doc_output_record(cfg->annotate ? out : removed_file.f, &st->run, rec, st->docs.ids[doc], member);
            free(member);
        } else if (!f->dropped) {
            doc_output_record(out, &st->run, rec, st->docs.ids[doc], NULL);
        }
        st->removed += f->dropped ? 1u : 0u;
    }
    if (fflush(stdout) != 0 || ferror(stdout)) {
        cli_error("cannot write the output: %s", strerror(errno));
        goto done;
    }
    if (outfile_close(&kept_file) != 0 || outfile_close(&removed_file) != 0)
        goto done;
    /* from the renames on, a signal waits until the run ends (with --update,
     * past the commit): commitsig.h */
    commit_signals_begin();
    st->signals_held = 1;
    if (outfile_rename(&removed_file) == 0 && outfile_rename(&kept_file) == 0)
        rc = EXIT_OK;
done:
    outfile_abort(&kept_file);
    outfile_abort(&removed_file);
    replay_close(records);
    return rc;
}

/* Without --update: a temporary index for the kept documents, with the
 * index's options. */
static int open_scratch(dedup_state *st)
{
    char dir[4096];
    int n = snprintf(dir, sizeof dir, "%s/neardup-dedup-XXXXXX", st->cfg->tmpdir);
    if (n < 0 || (size_t)n >= sizeof dir - 8 || !mkdtemp(dir)) {
        cli_error("%s: cannot make a temporary directory: %s", st->cfg->tmpdir, strerror(errno));
        return EXIT_FAIL;
    }
    char path[4104];
    snprintf(path, sizeof path, "%s/kept", dir);
    nd_db_config config = ND_DB_CONFIG_INIT;
    char message[1024];
    config.options = *nd_db_options(st->index);
    config.flags = ND_DB_TEMPORARY;
    int rc = nd_db_open(&st->kept, message, sizeof message, path, &config);
    rmdir(dir);
    if (rc != ND_OK) {
        cli_error("%s", message);
        return EXIT_FAIL;
    }
    return EXIT_OK;
}

int cli_dedup_index(const cli_config *cfg)
{
    dedup_state st;
    memset(&st, 0, sizeof st);
    st.cfg = cfg;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    json_object_seed(0); /* before any thread parses JSON */
    int rc = dbcli_open(&st.index, cfg, cfg->update ? ND_DB_WRITE : 0, cfg->given & ~ND_OPT_THRESHOLD);
    if (rc != EXIT_OK)
        return rc;
    if (nd_db_options(st.index)->measure != ND_MEASURE_JACCARD) {
        cli_error("dedup: --index %s is a containment index (made with --measure containment); dedup --index "
                  "works with a Jaccard index: use 'neardup query' on it",
                  cfg->index_path);
        nd_db_close(st.index);
        return EXIT_USAGE;
    }
    st.run = dbcli_config_for(cfg, st.index);
    st.committed = (nd_db_query_options)ND_DB_QUERY_INIT;
    st.committed.threshold = st.run.opts.threshold;
    st.committed.top = 1;
    st.committed.threads = cfg->threads;
    st.pending = st.committed;
    st.pending.scope = ND_DB_PENDING;
    st.pending.threads = 1;
    if (cfg->update) {
        st.kept = st.index;
        nd_db_stats before;
        if (nd_db_stats_get(&before, st.index) == ND_OK)
            st.removed_before = before.removed;
    } else if ((rc = open_scratch(&st)) != EXIT_OK)
        goto done;
    rc = input_open(&st.in, cfg);
    if (rc == EXIT_OK)
        rc = output_check(cfg, st.in);
    if (rc == EXIT_OK)
        rc = replay_source_new(&st.replay, &st.run, st.in);
    if (rc == EXIT_OK) {
        /* commits on this thread (nd_db); ids sorted (the kept ones are added) and adopted, as query_cmd.c */
        pipeline_sink sink = {&st, dedup_commit, dedup_batch_done, dedup_adopt_ids, 0, NULL, 1};
        st.batch.ids_adopted = 1;
        pipeline_timing timing;
        rc = pipeline_run(&st.run, &st.run.opts, st.in, &sink, &timing);
    }
    if (rc == EXIT_OK)
        rc = report_input_check(cfg, st.counts.records_read, st.counts.skipped, &st.counts.fields);
    if (rc == EXIT_OK && st.batch.count > 0)
        rc = dedup_flush(&st);
    if (rc == EXIT_OK)
        rc = write_output(&st);
    int held = rc == EXIT_OK && cfg->update; /* signals held since write_output's renames */
    uint64_t replaced = 0;                   /* with --replace: documents of the index (or of this run) replaced */
    if (held) {
        int nrc = nd_db_commit(st.index);
        nd_db_stats after;
        if (nrc == ND_OK && nd_db_stats_get(&after, st.index) == ND_OK) /* (only for the summary's count) */
            replaced = after.removed - st.removed_before;
        if (nrc != ND_OK) {
            rc = dbcli_fail(st.index, nrc);
            cli_error("%s: the output is written but the kept documents were not added to the index", cfg->index_path);
        }
    }
    if (rc != EXIT_OK && cfg->update)
        cli_error("%s: nothing of this run was added (the index is as it was)", cfg->index_path);
    cli_warn_flush(); /* before the summary line */
    if (rc == EXIT_OK && !cfg->quiet) {
        /* the kept ones that replaced a document: of the index, or kept
         * earlier in this run under the same id (then fewer are in the
         * index than were kept) */
        char replacing[64] = "";
        if (cfg->update && cfg->replace)
            snprintf(replacing, sizeof replacing, " (%llu replacing others)", (unsigned long long)replaced);
        double seconds = report_seconds_since(&t0);
        double mb = (double)st.counts.bytes / 1e6;
        fprintf(stderr,
                "neardup: %llu documents read (%.1f MB), %llu empty, %llu invalid UTF-8, %llu skipped; kept %llu, "
                "removed %llu (%llu matching the index, %llu an earlier document)%s%s; profile %s; %.2f s, %.1f MB/s\n",
                (unsigned long long)st.counts.records_read, mb, (unsigned long long)st.counts.empty,
                (unsigned long long)st.counts.invalid_docs, (unsigned long long)st.counts.skipped,
                (unsigned long long)st.kept_count, (unsigned long long)st.removed, (unsigned long long)st.from_index,
                (unsigned long long)st.from_input, cfg->update ? "; kept ones added to the index" : "", replacing,
                cli_profile_label(&st.run.opts), seconds, seconds > 0 ? mb / seconds : 0.0);
        if (cfg->verbose)
            fprintf(stderr, "neardup: malloc in %s\n", huge_heap_pages());
    }
    if (st.signals_held && cfg->update)
        commit_signals_end(rc);
    else if (st.signals_held)
        commit_signals_end_outputs(rc);
done:
    if (st.kept != st.index)
        nd_db_close(st.kept);
    nd_db_close(st.index);
    replay_source_free(st.replay);
    input_close(st.in);
    doc_batch_free(&st.batch);
    doctable_free(&st.docs);
    arena_free(&st.names);
    free(st.fates);
    return rc;
}
