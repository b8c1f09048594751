/* index_cmd.c - `neardup index add|stats|remove|compact|verify DB`: the persistent
 * index's own commands, thin users of the library's nd_db.
 *
 * index add reads records through the pipeline (pass 1 only: the index
 * keeps sketches, not texts) and adds each batch to the run; the run is
 * committed once, at the end, so an interrupted `index add` leaves the
 * index as it was. Each command writes one JSON object to stdout and, unless
 * --quiet, a summary line to stderr.
 */
#include "cli.h"

#include <errno.h>  /* errno */
#include <stdlib.h> /* free */
#include <string.h> /* strlen, strerror */
#include <time.h>   /* clock_gettime */

#include <jansson.h> /* json_object_seed */

#include "commitsig.h"
#include "dbcli.h"
#include "hugeheap.h" /* huge_heap_pages: --verbose */

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* committed: the run's changes are in the index already, which a failure
 * to report them must not leave the user to guess (exit 1, yet changed) */
static int flush_stdout(int committed)
{
    if (fflush(stdout) != 0 || ferror(stdout)) {
        cli_error("cannot write the output: %s%s", strerror(errno),
                  committed ? " (the run was committed: the index holds its changes)" : "");
        return EXIT_FAIL;
    }
    return EXIT_OK;
}

/* ****  index add  **** */

typedef struct add_state {
    const cli_config *cfg;
    nd_db *db;
    input *in;
    doc_batch batch;
    read_counts counts;
    uint64_t added;
    int status; /* the library's status of a failed add */
} add_state;

static int add_commit(void *ctx, const sketched_doc *d)
{
    add_state *st = ctx;
    int take = dbcli_take_record(&st->counts, st->cfg, d);
    if (take <= 0)
        return take < 0 ? EXIT_FAIL : EXIT_OK;
    if (doc_batch_push(&st->batch, d, nd_db_options(st->db)->bands) != 0) {
        cli_error("out of memory");
        return EXIT_FAIL;
    }
    return EXIT_OK;
}

static int add_batch_done(void *ctx)
{
    add_state *st = ctx;
    size_t failed = 0;
    int rc = nd_db_add(&failed, st->db, st->batch.docs, st->batch.count, st->cfg->replace ? ND_DB_REPLACE : 0);
    if (rc != ND_OK) {
        st->status = rc;
        dbcli_fail(st->db, rc);
        if (rc == ND_EEXIST) {
            char *where = doc_batch_where(&st->batch, st->in, failed);
            cli_error("%s: the document with that id; nothing of this run is added (--replace replaces it)",
                      where ? where : "?");
            free(where);
        }
        return EXIT_FAIL;
    }
    st->added += st->batch.count;
    doc_batch_clear(&st->batch);
    return EXIT_OK;
}

static int index_add(const cli_config *cfg)
{
    add_state st;
    memset(&st, 0, sizeof st);
    st.cfg = cfg;
    double started = now();
    json_object_seed(0); /* before any thread parses JSON */
    int rc = dbcli_open(&st.db, cfg, ND_DB_WRITE | ND_DB_CREATE, cfg->given);
    if (rc != EXIT_OK)
        return rc;
    nd_db_stats before, after;
    int holding = 0; /* signals held over the commit (commitsig.h) */
    rc = nd_db_stats_get(&before, st.db);
    if (rc != ND_OK) {
        rc = dbcli_fail(st.db, rc);
        goto done;
    }
    rc = input_open(&st.in, cfg);
    if (rc != EXIT_OK)
        goto done;
    cli_config run = dbcli_config_for(cfg, st.db);
    pipeline_sink sink = {&st, add_commit, add_batch_done, 0, 0, NULL, 0}; /* commits on this thread (nd_db) */
    pipeline_timing timing;
    rc = pipeline_run(&run, &run.opts, st.in, &sink, &timing);
    if (rc == EXIT_OK)
        rc = report_input_check(cfg, st.counts.records_read, st.counts.skipped, &st.counts.fields);
    if (rc != EXIT_OK) {
        rc = st.status ? dbcli_exit_code(st.status) : EXIT_FAIL;
        if (!cfg->quiet)
            cli_error("%s: nothing of this run was added (the index is as it was)", cfg->index_path);
        goto done;
    }
    commit_signals_begin(); /* a signal from here on: noted, the run finishes (commitsig.h) */
    holding = 1;
    if (cfg->verbose) /* (after: a signal sent on reading this line is held) */
        fprintf(stderr, "neardup: committing the run (%llu documents) to the index\n", (unsigned long long)st.added);
    int nrc = nd_db_commit(st.db);
    if (nrc == ND_OK)
        nrc = nd_db_stats_get(&after, st.db);
    if (nrc != ND_OK) {
        rc = dbcli_fail(st.db, nrc);
        goto done;
    }
    uint64_t replaced = after.removed - before.removed;
    printf("{\"index\":");
    out_string(stdout, cfg->index_path, strlen(cfg->index_path));
    printf(",\"added\":%llu,\"replaced\":%llu,\"empty\":%llu,\"skipped\":%llu,\"documents\":%llu,\"removed\":%llu,"
           "\"bytes_on_disk\":%llu,\"profile\":\"%s\"}\n",
           (unsigned long long)st.added, (unsigned long long)replaced, (unsigned long long)st.counts.empty,
           (unsigned long long)st.counts.skipped, (unsigned long long)after.documents,
           (unsigned long long)after.removed, (unsigned long long)after.bytes_on_disk, cli_profile_label(&run.opts));
    rc = flush_stdout(1);
    cli_warn_flush(); /* before the summary line */
    if (!cfg->quiet) {
        double seconds = now() - started, mb = (double)st.counts.bytes / 1e6;
        fprintf(stderr,
                "neardup: %llu documents read (%.1f MB), %llu added (%llu replacing others), %llu empty, %llu "
                "invalid UTF-8, %llu skipped; %llu in the index (%.1f MB); profile %s; %.2f s, %.1f MB/s\n",
                (unsigned long long)st.counts.records_read, mb, (unsigned long long)st.added,
                (unsigned long long)replaced, (unsigned long long)st.counts.empty,
                (unsigned long long)st.counts.invalid_docs, (unsigned long long)st.counts.skipped,
                (unsigned long long)after.documents, (double)after.bytes_on_disk / 1e6, cli_profile_label(&run.opts),
                seconds, seconds > 0 ? mb / seconds : 0.0);
        if (cfg->verbose)
            fprintf(stderr,
                    "neardup: main thread: reading %.2f s, sketching and waiting %.2f s, adding %.2f s; malloc in "
                    "%s\n",
                    timing.read_s, timing.sketch_s, timing.commit_s, huge_heap_pages());
    }
done:
    nd_db_close(st.db); /* without a commit, the run is discarded */
    input_close(st.in);
    doc_batch_free(&st.batch);
    if (holding)
        commit_signals_end(rc);
    return rc;
}

/* ****  index stats, verify, remove, compact  **** */

static int index_stats(const cli_config *cfg)
{
    nd_db *db;
    nd_db_stats s;
    int rc = dbcli_open(&db, cfg, 0, 0);
    if (rc != EXIT_OK)
        return rc;
    int nrc = nd_db_stats_get(&s, db);
    if (nrc == ND_OK) {
        dbcli_write_stats(stdout, cfg->index_path, &s);
        rc = flush_stdout(0);
    } else {
        rc = dbcli_fail(db, nrc);
    }
    nd_db_close(db);
    return rc;
}

/* Every page of the index's data.mdb checked (ND_DB_VERIFY): a damaged
 * one is the open's error, naming the page (exit 1). */
static int index_verify(const cli_config *cfg)
{
    nd_db *db;
    nd_db_stats s;
    int rc = dbcli_open(&db, cfg, ND_DB_VERIFY, 0);
    if (rc != EXIT_OK)
        return rc;
    int nrc = nd_db_stats_get(&s, db);
    if (nrc == ND_OK) {
        printf("{\"index\":");
        out_string(stdout, cfg->index_path, strlen(cfg->index_path));
        printf(",\"verified\":true,\"documents\":%llu,\"removed\":%llu,\"bytes_on_disk\":%llu}\n",
               (unsigned long long)s.documents, (unsigned long long)s.removed, (unsigned long long)s.bytes_on_disk);
        rc = flush_stdout(0);
    } else {
        rc = dbcli_fail(db, nrc);
    }
    nd_db_close(db);
    return rc;
}

/* The lines of --ids FILE (without their line ends; empty lines skipped),
 * as a malloc'd array of malloc'd strings. Returns 0, or -1 (reported). */
static int read_ids_file(const char *path, char ***ids, size_t **lens, size_t *count)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f) {
        cli_error("%s: %s", path, strerror(errno));
        return -1;
    }
    char *line = NULL;
    size_t cap = 0, n = 0, capacity = 0;
    ssize_t len;
    *ids = NULL;
    *lens = NULL;
    int rc = 0, first = 1;
    while ((len = getline(&line, &cap, f)) >= 0) {
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            len--;
        size_t skip = 0;
        if (first && len >= 3 && memcmp(line, "\xEF\xBB\xBF", 3) == 0) {
            /* an editor's byte order mark is not part of the first id */
            cli_warn("%s: skipped a UTF-8 byte order mark before the first id", path);
            skip = 3;
            len -= 3;
        }
        first = 0;
        if (len == 0)
            continue;
        if (n == capacity) {
            capacity = capacity ? capacity * 2 : 256;
            char **grown = realloc(*ids, capacity * sizeof **ids);
            size_t *grown_lens = grown ? realloc(*lens, capacity * sizeof **lens) : NULL;
            if (grown)
                *ids = grown;
            if (grown_lens)
                *lens = grown_lens;
            if (!grown || !grown_lens) {
                rc = -1;
                break;
            }
        }
        (*ids)[n] = malloc((size_t)len + 1);
        if (!(*ids)[n]) {
            rc = -1;
            break;
        }
        memcpy((*ids)[n], line + skip, (size_t)len);
        (*ids)[n][len] = '\0';
        (*lens)[n++] = (size_t)len;
    }
    if (rc != 0)
        cli_error("out of memory reading %s", path);
    else if (ferror(f)) {
        cli_error("%s: %s", path, strerror(errno));
        rc = -1;
    }
    free(line);
    if (f != stdin)
        fclose(f);
    *count = n;
    return rc;
}

static int index_remove(const cli_config *cfg)
{
    char **ids = NULL;
    size_t *lens = NULL, count = 0;
    int from_file = cfg->ids_file != NULL;
    if (from_file) {
        if (read_ids_file(cfg->ids_file, &ids, &lens, &count) != 0)
            goto fail;
    } else {
        ids = cfg->remove_ids;
        count = cfg->remove_id_count;
        lens = malloc(count * sizeof *lens);
        if (!lens) {
            cli_error("out of memory");
            goto fail;
        }
        for (size_t i = 0; i < count; i++)
            lens[i] = strlen(ids[i]);
    }
    nd_db *db;
    int rc = dbcli_open(&db, cfg, ND_DB_WRITE, 0);
    if (rc == EXIT_OK) {
        size_t removed = 0;
        nd_db_stats s;
        int nrc = nd_db_remove(&removed, db, (const char *const *)ids, lens, count);
        int held = nrc == ND_OK;
        if (held)
            commit_signals_begin(); /* from the commit to the report: commitsig.h */
        if (nrc == ND_OK)
            nrc = nd_db_commit(db);
        if (nrc == ND_OK)
            nrc = nd_db_stats_get(&s, db);
        if (nrc != ND_OK) {
            rc = dbcli_fail(db, nrc);
        } else {
            printf("{\"index\":");
            out_string(stdout, cfg->index_path, strlen(cfg->index_path));
            printf(",\"removed\":%zu,\"documents\":%llu}\n", removed, (unsigned long long)s.documents);
            rc = flush_stdout(1);
        }
        nd_db_close(db);
        if (held)
            commit_signals_end(rc);
    }
    if (from_file) {
        for (size_t i = 0; i < count; i++)
            free(ids[i]);
        free(ids);
    }
    free(lens);
    return rc;
fail:
    if (from_file && ids) {
        for (size_t i = 0; i < count; i++)
            free(ids[i]);
        free(ids);
    }
    free(lens);
    return EXIT_FAIL;
}

static int index_compact(const cli_config *cfg)
{
    nd_db *db;
    nd_db_stats before, after;
    int rc = dbcli_open(&db, cfg, ND_DB_WRITE, 0);
    if (rc != EXIT_OK)
        return rc;
    int nrc = nd_db_stats_get(&before, db);
    if (nrc == ND_OK)
        nrc = nd_db_compact(db);
    if (nrc == ND_OK)
        nrc = nd_db_stats_get(&after, db);
    if (nrc != ND_OK) {
        rc = dbcli_fail(db, nrc);
    } else {
        printf("{\"index\":");
        out_string(stdout, cfg->index_path, strlen(cfg->index_path));
        printf(",\"bytes_before\":%llu,\"bytes_after\":%llu,\"documents\":%llu,\"removed_dropped\":%llu}\n",
               (unsigned long long)before.bytes_on_disk, (unsigned long long)after.bytes_on_disk,
               (unsigned long long)after.documents, (unsigned long long)before.removed);
        rc = flush_stdout(1);
    }
    nd_db_close(db);
    return rc;
}

int cli_index(const cli_config *cfg)
{
    switch (cfg->command) {
    case CMD_INDEX_ADD:
        return index_add(cfg);
    case CMD_INDEX_STATS:
        return index_stats(cfg);
    case CMD_INDEX_REMOVE:
        return index_remove(cfg);
    case CMD_INDEX_COMPACT:
        return index_compact(cfg);
    case CMD_INDEX_VERIFY:
        return index_verify(cfg);
    default:
        return EXIT_USAGE;
    }
}
