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
 *     batch), and the first failure in rank order is reported, once.
 *  3. engine.c: the clusters of all texts, each sent to the rank holding
 *     its earliest member.
 *  4. Numbering: each rank sorts the clusters it received by earliest
 *     member and offsets their numbers by the count on lower ranks
 *     (MPI_Exscan): cluster numbers are those of one process.
 *  5. Output. scan: each rank formats its clusters' lines with the CLI's
 *     own functions (doc_output_cluster, unit_output_group) and rank 0
 *     writes them to stdout rank after rank. dedup: each document's fate
 *     goes to the rank that read it, which writes its inputs back with
 *     the CLI's own writer (doc_output_write, unit_output_write) to
 *     --output-dir under temporary names; parts of a split file are then
 *     joined in order by the rank that read its first part, and only when
 *     every rank has succeeded are the files renamed to their names.
 */
#include "cli.h"

#include <stdlib.h> /* malloc, free, qsort, getenv */
#include <string.h> /* strcmp, strlen, memcpy */
#include <unistd.h> /* getpid, sysconf, unlink, dup, dup2 */
#include <fcntl.h>  /* open */

#include <jansson.h> /* json_object_seed */

#include "doc_output.h"
#include "doctable.h"
#include "engine.h"
#include "exchange.h"
#include "outfile.h"
#include "pipeline.h"
#include "plan.h"
#include "replay.h"
#include "report.h"
#include "unit_output.h"

enum { TAG_ABORT = 7701, TAG_OUTPUT = 7702 };
enum { ROUND_BYTES = 64 << 20, OUTPUT_CHUNK = 256 << 20 };

typedef struct mrun {
    cli_config *cfg;
    xctx x;
    plan plan;
    input *in;
    nd_index *index;
    doctable docs;
    replay_source *replay;
    run_counts counts;
    char *failure;        /* this rank's first bad record, reported after agreement */
    int stopped_by_other; /* another rank failed: pass 1 stopped here */
    uint64_t doc_base;    /* global number of this rank's first document */
    uint64_t *bases;      /* global number of each rank's first text, and the total */
    xbuf clusters;        /* from the engine: clusters whose earliest member is here */
    engine_stats engine;
    double started, pass1_s, cluster_s, output_s;
} mrun;

/* ****  Pass 1  **** */

static int commit_record(void *ctx, const sketched_doc *d)
{
    mrun *m = ctx;
    const cli_config *cfg = m->cfg;
    m->counts.records_read++;
    m->counts.bytes += d->rec->len;
    if (d->error) {
        if (cfg->on_error == ON_ERROR_FAIL) {
            m->failure = cli_format("%s (stopping every rank; --on-error skip skips such records)", d->error);
            return EXIT_FAIL;
        }
        cli_warn("%s; skipped", d->error);
        m->counts.skipped++;
        return m->replay && replay_source_note(m->replay, d->rec, 0) != 0 ? EXIT_FAIL : EXIT_OK;
    }
    if (d->invalid_utf8 > 0) {
        m->counts.invalid_docs++;
        cli_warn("%s: invalid UTF-8 (%zu sequence%s read as U+FFFD)", d->id, d->invalid_utf8,
                 d->invalid_utf8 == 1 ? "" : "s");
    }
    size_t doc = m->docs.count;
    if (doctable_add(&m->docs, d->id) != 0) {
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
            int nrc =
                nd_index_add_ids(m->index, unit->ids, unit->id_count, unit->keys, unit->span.end - unit->span.start);
            if (nrc != ND_OK || doctable_add_unit(&m->docs, doc, unit->span) != 0) {
                cli_error("%s", nrc != ND_OK ? nd_strerror(nrc) : "out of memory");
                return EXIT_FAIL;
            }
        }
    }
    return m->replay && replay_source_note(m->replay, d->rec, 1) != 0 ? EXIT_FAIL : EXIT_OK;
}

/* After each batch: has another rank failed? Past half of --memory, spill. */
static int batch_done(void *ctx)
{
    mrun *m = ctx;
    int flag = 0;
    MPI_Iprobe(MPI_ANY_SOURCE, TAG_ABORT, m->x.comm, &flag, MPI_STATUS_IGNORE);
    if (flag) {
        m->stopped_by_other = 1;
        return EXIT_FAIL;
    }
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

/* Run pass 1; every rank learns whether any failed. Returns 1 if all ok. */
static int pass1(mrun *m)
{
    int ok = nd_index_new(&m->index, &m->cfg->opts) == ND_OK;
    if (ok && (m->cfg->command == CMD_DEDUP || m->cfg->unit != ND_UNIT_DOCUMENT))
        ok = replay_source_new(&m->replay, m->cfg, m->in) == EXIT_OK;
    if (ok) {
        pipeline_sink sink = {m, commit_record, batch_done};
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
     * lowest rank that failed on its own reports (unless it already did) */
    int all_ok = x_agree(&m->x, ok || m->stopped_by_other, m->failure);
    /* drain the stop messages */
    uint64_t tellers = x_sum(&m->x, (uint64_t)told);
    for (uint64_t k = told ? 1 : 0; k < tellers; k++) {
        int v;
        MPI_Recv(&v, 1, MPI_INT, MPI_ANY_SOURCE, TAG_ABORT, m->x.comm, MPI_STATUS_IGNORE);
    }
    MPI_Waitall(nsent, sent, MPI_STATUSES_IGNORE);
    free(sent);
    return all_ok;
}

/* ****  Describing texts for the engine  **** */

/* Document mode: the id, NUL-terminated. Unit mode: the document's global
 * number, the span, then the id. */
static void describe_text(void *ctx, size_t text, xbuf *out)
{
    const mrun *m = ctx;
    const doctable *docs = &m->docs;
    size_t doc = text;
    if (m->cfg->unit != ND_UNIT_DOCUMENT) {
        doc = docs->unit_doc[text];
        xbuf_put_u64(out, m->doc_base + doc);
        xbuf_put_u64(out, docs->unit_span[text].start);
        xbuf_put_u64(out, docs->unit_span[text].end);
    }
    xbuf_put(out, docs->ids[doc], strlen(docs->ids[doc]) + 1);
}

/* ****  Clusters received, numbered  **** */

typedef struct cluster_ref {
    uint64_t first;
    const unsigned char *at; /* the record after `first` */
} cluster_ref;

static int compare_ref(const void *pa, const void *pb)
{
    const cluster_ref *a = pa, *b = pb;
    return (a->first > b->first) - (a->first < b->first);
}

/* One cluster, read: members in output order. */
typedef struct cluster_read {
    size_t size, capacity;
    uint64_t *global, *doc;
    double *jaccard;
    const char **ids;
    nd_span *spans;
} cluster_read;

static void read_cluster(mrun *m, const unsigned char *at, cluster_read *c)
{
    xreader rd = {at, m->clusters.data + m->clusters.len};
    c->size = (size_t)xread_u64(&rd);
    if (c->size > c->capacity) {
        c->capacity = c->size * 2;
        free(c->global);
        free(c->doc);
        free(c->jaccard);
        free(c->ids);
        free(c->spans);
        c->global = malloc(c->capacity * sizeof *c->global);
        c->doc = malloc(c->capacity * sizeof *c->doc);
        c->jaccard = malloc(c->capacity * sizeof *c->jaccard);
        c->ids = malloc(c->capacity * sizeof *c->ids);
        c->spans = malloc(c->capacity * sizeof *c->spans);
        if (!c->global || !c->doc || !c->jaccard || !c->ids || !c->spans)
            x_fatal(&m->x, "out of memory");
    }
    for (size_t k = 0; k < c->size; k++) {
        c->global[k] = xread_u64(&rd);
        c->jaccard[k] = xread_f64(&rd);
        uint32_t len = xread_u32(&rd);
        xreader desc = {xread_bytes(&rd, len), NULL};
        desc.end = desc.p + len;
        if (m->cfg->unit != ND_UNIT_DOCUMENT) {
            c->doc[k] = xread_u64(&desc);
            c->spans[k].start = (size_t)xread_u64(&desc);
            c->spans[k].end = (size_t)xread_u64(&desc);
        }
        c->ids[k] = (const char *)desc.p;
    }
}

static void cluster_read_free(cluster_read *c)
{
    free(c->global);
    free(c->doc);
    free(c->jaccard);
    free(c->ids);
    free(c->spans);
}

static size_t distinct_documents(const cluster_read *c)
{
    size_t n = 0;
    for (size_t k = 0; k < c->size; k++)
        n += k == 0 || c->doc[k] != c->doc[k - 1];
    return n;
}

/* The clusters received, in order, and the number of the first. */
static cluster_ref *number_clusters(mrun *m, size_t *count, uint64_t *first_number)
{
    size_t n = 0, cap = 0;
    cluster_ref *refs = NULL;
    xreader rd = xreader_of(&m->clusters);
    while (rd.p < rd.end) {
        if (n == cap) {
            cap = cap ? cap * 2 : 256;
            cluster_ref *grown = realloc(refs, cap * sizeof *grown);
            if (!grown)
                x_fatal(&m->x, "out of memory");
            refs = grown;
        }
        refs[n].first = xread_u64(&rd);
        refs[n].at = rd.p;
        uint64_t size = xread_u64(&rd);
        for (uint64_t k = 0; k < size; k++) {
            xread_bytes(&rd, 16);
            xread_bytes(&rd, xread_u32(&rd));
        }
        n++;
    }
    if (n > 1)
        qsort(refs, n, sizeof *refs, compare_ref);
    uint64_t mine = n, before = 0;
    double t0 = x_clock();
    MPI_Exscan(&mine, &before, 1, MPI_UINT64_T, MPI_SUM, m->x.comm);
    x_spent(&m->x, t0);
    *first_number = m->x.rank == 0 ? 0 : before;
    *count = n;
    return refs;
}

/* ****  Output  **** */

/* Rank 0 writes every rank's bytes to stdout, in rank order. Collective.
 * Returns 1 when stdout took them. */
static int write_in_rank_order(mrun *m, const char *data, size_t len)
{
    xctx *x = &m->x;
    int ok = 1;
    double t0 = x_clock();
    if (x->rank == 0) {
        ok = fwrite(data, 1, len, stdout) == len;
        char *buf = NULL;
        for (int r = 1; r < x->size; r++) {
            uint64_t n;
            MPI_Recv(&n, 1, MPI_UINT64_T, r, TAG_OUTPUT, x->comm, MPI_STATUS_IGNORE);
            for (uint64_t at = 0; at < n; at += OUTPUT_CHUNK) {
                size_t piece = n - at < OUTPUT_CHUNK ? (size_t)(n - at) : OUTPUT_CHUNK;
                if (!buf && !(buf = malloc(OUTPUT_CHUNK)))
                    x_fatal(x, "out of memory");
                MPI_Recv(buf, (int)piece, MPI_BYTE, r, TAG_OUTPUT, x->comm, MPI_STATUS_IGNORE);
                ok = ok && fwrite(buf, 1, piece, stdout) == piece;
            }
        }
        free(buf);
        ok = ok && fflush(stdout) == 0 && !ferror(stdout);
    } else {
        uint64_t n = len;
        MPI_Send(&n, 1, MPI_UINT64_T, 0, TAG_OUTPUT, x->comm);
        for (uint64_t at = 0; at < n; at += OUTPUT_CHUNK) {
            size_t piece = n - at < OUTPUT_CHUNK ? (size_t)(n - at) : OUTPUT_CHUNK;
            MPI_Send(data + at, (int)piece, MPI_BYTE, 0, TAG_OUTPUT, x->comm);
        }
        x->bytes_sent += n;
    }
    x_spent(x, t0);
    return x_agree(x, ok, "cannot write the output (stdout)");
}

/* Previews of unit groups: the survivor's text, cut by the rank that read
 * it (a second reading of its records, as neardup's pass 2). */
static int fetch_previews(mrun *m, const cluster_ref *refs, size_t n, char ***previews)
{
    xctx *x = &m->x;
    xbuf *send = calloc((size_t)x->size, sizeof *send), *recv = calloc((size_t)x->size, sizeof *recv);
    cluster_read c;
    memset(&c, 0, sizeof c);
    if (!send || !recv)
        x_fatal(x, "out of memory");
    for (size_t i = 0; i < n; i++) {
        read_cluster(m, refs[i].at, &c);
        int h = engine_holder(m->bases, x->size, c.global[0]);
        xbuf_put_u64(&send[h], c.global[0] - m->bases[h]);
    }
    x_alltoallv(x, send, recv);
    /* requested units, read back in input order (unit_output_previews) */
    size_t total = 0;
    for (int r = 0; r < x->size; r++)
        total += recv[r].len / 8;
    size_t *req = malloc((total ? total : 1) * sizeof *req);
    char **answer = calloc(total ? total : 1, sizeof *answer);
    if (!req || !answer)
        x_fatal(x, "out of memory");
    size_t k = 0;
    for (int r = 0; r < x->size; r++) {
        xreader rd = xreader_of(&recv[r]);
        while (rd.p < rd.end)
            req[k++] = (size_t)xread_u64(&rd);
    }
    int ok = unit_output_previews(answer, &m->docs, m->replay, req, total) == EXIT_OK;
    k = 0;
    for (int r = 0; r < x->size; r++) {
        size_t count = recv[r].len / 8;
        recv[r].len = 0;
        for (size_t i = 0; i < count; i++, k++) {
            const char *p = answer[k] ? answer[k] : "";
            xbuf_put(&send[r], p, strlen(p) + 1);
            free(answer[k]);
        }
    }
    free(answer);
    free(req);
    x_alltoallv(x, send, recv);
    *previews = calloc(n ? n : 1, sizeof **previews);
    if (!*previews)
        x_fatal(x, "out of memory");
    const unsigned char **cursor = calloc((size_t)x->size, sizeof *cursor);
    if (!cursor)
        x_fatal(x, "out of memory");
    for (int r = 0; r < x->size; r++)
        cursor[r] = recv[r].data;
    for (size_t i = 0; i < n; i++) {
        read_cluster(m, refs[i].at, &c);
        int h = engine_holder(m->bases, x->size, c.global[0]);
        size_t len = strlen((const char *)cursor[h]);
        (*previews)[i] = strdup((const char *)cursor[h]);
        if (!(*previews)[i])
            x_fatal(x, "out of memory");
        cursor[h] += len + 1;
    }
    free(cursor);
    cluster_read_free(&c);
    for (int r = 0; r < x->size; r++) {
        xbuf_free(&send[r]);
        xbuf_free(&recv[r]);
    }
    free(send);
    free(recv);
    return x_agree(x, ok, NULL);
}

static int scan_output(mrun *m, const cluster_ref *refs, size_t n, uint64_t first_number)
{
    char **previews = NULL;
    if (m->cfg->unit != ND_UNIT_DOCUMENT && !fetch_previews(m, refs, n, &previews))
        return 0;
    char *text = NULL;
    size_t text_len = 0;
    FILE *mem = open_memstream(&text, &text_len);
    if (!mem)
        x_fatal(&m->x, "out of memory");
    cluster_read c;
    memset(&c, 0, sizeof c);
    for (size_t i = 0; i < n; i++) {
        read_cluster(m, refs[i].at, &c);
        if (m->cfg->unit == ND_UNIT_DOCUMENT)
            doc_output_cluster(mem, m->cfg, first_number + i, c.size, c.ids, c.jaccard);
        else
            unit_output_group(mem, m->cfg, first_number + i, c.size, distinct_documents(&c), c.ids, c.spans, c.jaccard,
                              previews[i]);
        if (previews)
            free(previews[i]);
    }
    free(previews);
    cluster_read_free(&c);
    if (fclose(mem) != 0)
        x_fatal(&m->x, "out of memory");
    int ok = write_in_rank_order(m, text, text_len);
    free(text);
    return ok;
}

/* dedup: fates (or removals) to the ranks that read the members. */
static void send_fates(mrun *m, const cluster_ref *refs, size_t n, uint64_t first_number, xbuf *recv)
{
    xctx *x = &m->x;
    xbuf *send = calloc((size_t)x->size, sizeof *send);
    if (!send)
        x_fatal(x, "out of memory");
    cluster_read c;
    memset(&c, 0, sizeof c);
    for (size_t i = 0; i < n; i++) {
        read_cluster(m, refs[i].at, &c);
        uint64_t number = first_number + i;
        int all =
            m->cfg->unit != ND_UNIT_DOCUMENT && m->cfg->boilerplate && distinct_documents(&c) >= m->cfg->boilerplate;
        for (size_t k = 0; k < c.size; k++) {
            int h = engine_holder(m->bases, x->size, c.global[k]);
            xbuf *out = &send[h];
            if (m->cfg->unit == ND_UNIT_DOCUMENT) {
                xbuf_put_u64(out, c.global[k] - m->bases[h]);
                xbuf_put_u64(out, number);
                xbuf_put(out, &c.jaccard[k], sizeof c.jaccard[k]);
                size_t len = k ? strlen(c.ids[0]) + 1 : 0;
                xbuf_put_u32(out, (uint32_t)len);
                xbuf_put(out, c.ids[0], len);
            } else if (k > 0 || all) {
                xbuf_put_u64(out, c.global[k] - m->bases[h]);
                xbuf_put_u64(out, number);
            }
        }
    }
    cluster_read_free(&c);
    x_alltoallv(x, send, recv);
    free(send);
}

/* Join the parts of split files (each file by the rank that read its
 * first part, appending the others' temporary files in order). */
static int join_parts(mrun *m, outdir *o, const char *pid_tag, unsigned char *skip)
{
    const plan *p = &m->plan;
    for (size_t i = 0; i < p->mine_count; i++) {
        size_t g = p->mine_index[i];
        if (!plan_part_shared(p, g))
            continue;
        size_t first = plan_first_part(p, g);
        if (first != g) {
            skip[i] = 1; /* joined by the first part's rank */
            continue;
        }
        char *target = outdir_temp_path(o, i);
        FILE *out = target ? fopen(target, "ab") : NULL;
        int ok = out != NULL;
        for (size_t k = g + 1; ok && k < p->part_count && p->parts[k].file == p->parts[g].file; k++) {
            char *name = outdir_output_name(p->parts[k].part.name);
            char *from = name ? cli_format("%s/.%s.neardup-r%d-%s", o->dir, name, p->parts[k].rank, pid_tag) : NULL;
            free(name);
            FILE *in = from ? fopen(from, "rb") : NULL;
            ok = in != NULL;
            char buf[1 << 16];
            size_t got;
            while (ok && (got = fread(buf, 1, sizeof buf, in)) > 0)
                ok = fwrite(buf, 1, got, out) == got;
            ok = ok && !ferror(in);
            if (in)
                fclose(in);
            if (ok)
                unlink(from);
            else
                cli_error("%s: cannot join the part into %s", from ? from : o->dir, target);
            free(from);
        }
        if (out && fclose(out) != 0)
            ok = 0;
        free(target);
        if (!ok)
            return 0;
    }
    return 1;
}

static int dedup_output(mrun *m, const cluster_ref *refs, size_t n, uint64_t first_number, const char *pid_tag)
{
    xctx *x = &m->x;
    xbuf *recv = calloc((size_t)x->size, sizeof *recv);
    if (!recv)
        x_fatal(x, "out of memory");
    send_fates(m, refs, n, first_number, recv);
    char tag[64];
    snprintf(tag, sizeof tag, "r%d-%s", x->rank, pid_tag);
    dedup_target target;
    int ok = dedup_target_open(&target, m->cfg, m->in, tag) == 0;
    run_counts *c = &m->counts;
    if (m->cfg->unit == ND_UNIT_DOCUMENT) {
        doc_fate *fates = malloc((m->docs.count ? m->docs.count : 1) * sizeof *fates);
        if (!fates)
            x_fatal(x, "out of memory");
        for (size_t d = 0; d < m->docs.count; d++)
            fates[d] = (doc_fate){-1, NULL, 0.0};
        for (int r = 0; r < x->size; r++) {
            xreader rd = xreader_of(&recv[r]);
            while (rd.p < rd.end) {
                size_t local = (size_t)xread_u64(&rd);
                int64_t number = (int64_t)xread_u64(&rd);
                double jaccard = xread_f64(&rd);
                uint32_t len = xread_u32(&rd);
                const char *dup = len ? xread_bytes(&rd, len) : NULL;
                fates[local] = (doc_fate){number, dup, jaccard};
            }
        }
        if (ok)
            ok = doc_output_write(m->cfg, &m->docs, fates, m->replay, &target, &c->kept, &c->removed) == EXIT_OK;
        free(fates);
    } else {
        size_t total = 0;
        for (int r = 0; r < x->size; r++)
            total += recv[r].len / 16;
        removal *rm = malloc((total ? total : 1) * sizeof *rm);
        if (!rm)
            x_fatal(x, "out of memory");
        size_t k = 0;
        for (int r = 0; r < x->size; r++) {
            xreader rd = xreader_of(&recv[r]);
            while (rd.p < rd.end) {
                size_t unit = (size_t)xread_u64(&rd);
                rm[k++] = (removal){m->docs.unit_doc[unit], m->docs.unit_span[unit], (size_t)xread_u64(&rd)};
            }
        }
        unit_output_sort_removals(rm, total);
        if (ok)
            ok = unit_output_write(m->cfg, &m->docs, rm, total, m->replay, &target, &c->kept, &c->removed,
                                   &c->units_removed) == EXIT_OK;
        free(rm);
    }
    ok = ok && dedup_target_close(&target) == 0;
    /* every rank wrote its files: join split files, then name them all */
    unsigned char *skip = calloc(m->plan.mine_count ? m->plan.mine_count : 1, 1);
    if (!skip)
        x_fatal(x, "out of memory");
    if (x_agree(x, ok, NULL)) {
        ok = join_parts(m, &target.kept_dir, pid_tag, skip);
        if (ok && target.removed_dir.dir)
            ok = join_parts(m, &target.removed_dir, pid_tag, skip);
        if (x_agree(x, ok, NULL))
            ok = dedup_target_rename(&target, skip) == 0;
        ok = x_agree(x, ok, NULL);
    } else {
        ok = 0;
    }
    dedup_target_free(&target, !ok);
    free(skip);
    for (int r = 0; r < x->size; r++)
        xbuf_free(&recv[r]);
    free(recv);
    return ok;
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

static void write_stats(mrun *m)
{
    /* one table, so that names and values cannot drift apart */
    const struct {
        const char *name;
        double value;
    } fields[] = {
        {"seconds_wall", MPI_Wtime() - m->started},
        {"seconds_communicating", m->x.comm_s},
        {"bytes_sent", (double)m->x.bytes_sent},
        {"peak_rss_bytes", (double)report_peak_rss_kb() * 1024.0},
        {"documents", (double)m->docs.count},
        {"texts", (double)nd_index_count(m->index)},
        {"key_entries", (double)m->engine.key_entries},
        {"candidate_pairs", (double)m->engine.candidate_pairs},
        {"edges", (double)m->engine.edges},
        {"components", (double)m->engine.components},
        {"seconds_pass1", m->pass1_s},
        {"seconds_cluster", m->cluster_s},
        {"seconds_output", m->output_s},
        {"seconds_keys", m->engine.keys_s},
        {"seconds_verify", m->engine.verify_s},
        {"seconds_components", m->engine.components_s},
        {"seconds_split", m->engine.split_s},
    };
    enum { FIELDS = sizeof fields / sizeof fields[0] };
    double mine[FIELDS];
    for (int f = 0; f < FIELDS; f++)
        mine[f] = fields[f].value;
    double wall = mine[0];
    double *all = m->x.rank == 0 ? malloc((size_t)m->x.size * FIELDS * sizeof *all) : NULL;
    if (m->x.rank == 0 && !all)
        x_fatal(&m->x, "out of memory");
    MPI_Gather(mine, FIELDS, MPI_DOUBLE, all, FIELDS, MPI_DOUBLE, 0, m->x.comm);
    if (m->x.rank != 0)
        return;
    char *json = NULL;
    size_t json_len = 0;
    FILE *mem = open_memstream(&json, &json_len);
    if (!mem)
        x_fatal(&m->x, "out of memory");
    fprintf(mem, "\"ranks\":%d,\"per_rank\":[", m->x.size);
    for (int r = 0; r < m->x.size; r++) {
        fputs(r ? ",{" : "{", mem);
        for (int f = 0; f < FIELDS; f++)
            fprintf(mem, "%s\"%s\":%.6f", f ? "," : "", fields[f].name, all[r * FIELDS + f]);
        fputc('}', mem);
    }
    fputc(']', mem);
    fclose(mem);
    m->counts.extra_json = json;
    m->counts.total_s = wall;
    report_stats(m->cfg, &m->counts);
    free(json);
    free(all);
}

static int run(mrun *m, int argc, char **argv)
{
    cli_config *cfg = m->cfg;
    json_object_seed(0);
    int rc = plan_make(&m->plan, &m->x, cfg);
    if (rc != EXIT_OK)
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
    engine_input ein = {&store, describe_text, m};
    engine_cluster(&m->x, &ein, cfg->keep, m->bases, &m->clusters, &m->engine);
    size_t n;
    uint64_t first_number;
    cluster_ref *refs = number_clusters(m, &n, &first_number);
    m->cluster_s = MPI_Wtime() - t;
    t = MPI_Wtime();
    uint64_t duplicates = 0;
    cluster_read c;
    memset(&c, 0, sizeof c);
    for (size_t i = 0; i < n; i++) {
        read_cluster(m, refs[i].at, &c);
        duplicates += c.size - 1;
    }
    cluster_read_free(&c);
    int ok = cfg->command == CMD_SCAN ? scan_output(m, refs, n, first_number)
                                      : dedup_output(m, refs, n, first_number, pid_tag);
    free(refs);
    m->output_s = MPI_Wtime() - t;
    if (!ok)
        return EXIT_FAIL;
    /* the summary: counts over all ranks */
    run_counts *k = &m->counts;
    k->records_read = x_sum(&m->x, k->records_read);
    k->bytes = x_sum(&m->x, k->bytes);
    k->empty = x_sum(&m->x, k->empty);
    k->invalid_docs = x_sum(&m->x, k->invalid_docs);
    k->skipped = x_sum(&m->x, k->skipped);
    k->units = (size_t)x_sum(&m->x, nd_index_count(m->index));
    k->clusters = (size_t)x_sum(&m->x, n);
    k->duplicates = x_sum(&m->x, duplicates);
    k->kept = x_sum(&m->x, k->kept);
    k->removed = x_sum(&m->x, k->removed);
    k->units_removed = x_sum(&m->x, k->units_removed);
    k->cluster_stats.candidate_pairs = x_sum(&m->x, m->engine.candidate_pairs);
    k->cluster_stats.verified_pairs = x_sum(&m->x, m->engine.verified_pairs);
    k->spilled = (int)x_sum(&m->x, (uint64_t)k->spilled) > 0;
    k->read_s = m->pass1_s;
    k->cluster_s = m->cluster_s;
    k->write_s = m->output_s;
    k->total_s = MPI_Wtime() - m->started;
    if (m->x.rank == 0) {
        report_summary(cfg, k);
        if (!cfg->quiet)
            fprintf(stderr, "neardup-mpi: %d ranks; this rank: %.2f s communicating, %.1f MB sent\n", m->x.size,
                    m->x.comm_s, (double)m->x.bytes_sent / 1e6);
    }
    if (cfg->stats_path)
        write_stats(m);
    return EXIT_OK;
}

int main(int argc, char **argv)
{
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
    if (argc < 2 || (strcmp(argv[1], "scan") != 0 && strcmp(argv[1], "dedup") != 0)) {
        if (m.x.rank == 0)
            fputs("Usage: mpirun -n P neardup-mpi scan|dedup [OPTIONS] PATH...\n"
                  "The scan and dedup of neardup (same options, same output) by P processes; see\n"
                  "'neardup scan --help', 'neardup dedup --help'. dedup writes to --output-dir DIR.\n",
                  stderr);
        goto done;
    }
    rc = parse(&cfg, command, argc - 1, argv + 1, m.x.rank);
    if (rc < 0) {
        rc = EXIT_OK; /* --help */
        goto done;
    }
    if (rc != EXIT_OK)
        goto done;
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
        cfg.quiet = 1; /* warnings still come from every rank; summaries from rank 0 */
    m.cfg = &cfg;
    rc = run(&m, argc, argv);
done:
    nd_index_free(m.index);
    doctable_free(&m.docs);
    replay_source_free(m.replay);
    input_close(m.in);
    plan_free(&m.plan);
    xbuf_free(&m.clusters);
    free(m.bases);
    free(m.failure);
    MPI_Finalize();
    return rc;
}
