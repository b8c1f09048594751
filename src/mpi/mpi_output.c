/* mpi_output.c - the output of neardup-mpi: the clusters each rank
 * received, numbered as one process numbers them, written as one process
 * writes them (see mpi_run.c for the whole run).
 *
 * Numbering: a rank receives the clusters whose earliest member it read
 * (engine.c); sorted by that member they are in output order, and an
 * MPI_Exscan of the counts gives the number of the first, because ranks
 * hold the input in order.
 *
 * scan: each rank formats the lines of its clusters with the CLI's own
 * functions (doc_output_cluster, unit_output_group; a unit group's preview
 * is cut from its earliest occurrence, which that rank read, in one second
 * reading of its records), and rank 0 writes every rank's lines to stdout, rank by rank,
 * in pieces of OUTPUT_CHUNK bytes.
 *
 * dedup: each member's fate (cluster, survivor's id, Jaccard; or in unit
 * mode the spans to remove) goes to the rank that read it, which writes
 * its inputs back with the CLI's own writers (doc_output_write,
 * unit_output_write) to --output-dir under temporary names. Once every
 * rank has written, the rank that read the first part of a split file
 * appends the other parts' files in order; once every rank has done that,
 * the counts are summed and --stats written (mpi_run_conclude), then the
 * files are renamed to their names. A failure anywhere before the renames
 * leaves no file under its name.
 */
#include "mpi_run.h"

#include <stdlib.h> /* malloc, free, qsort, calloc */
#include <string.h> /* strlen, strdup, memset */
#include <unistd.h> /* unlink */

#include "commitsig.h"
#include "doc_output.h"
#include "outfile.h"
#include "unit_output.h"

enum { TAG_OUTPUT = 7702 };
enum { OUTPUT_CHUNK = 256 << 20 };

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
    double *jaccard, *containment;
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
        free(c->containment);
        free(c->ids);
        free(c->spans);
        c->global = malloc(c->capacity * sizeof *c->global);
        c->containment = malloc(c->capacity * sizeof *c->containment);
        c->doc = malloc(c->capacity * sizeof *c->doc);
        c->jaccard = malloc(c->capacity * sizeof *c->jaccard);
        c->ids = malloc(c->capacity * sizeof *c->ids);
        c->spans = malloc(c->capacity * sizeof *c->spans);
        if (!c->global || !c->doc || !c->jaccard || !c->containment || !c->ids || !c->spans)
            x_fatal(&m->x, "out of memory");
    }
    for (size_t k = 0; k < c->size; k++) {
        c->global[k] = xread_u64(&rd);
        c->jaccard[k] = xread_f64(&rd);
        c->containment[k] = xread_f64(&rd);
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
    free(c->containment);
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
            xread_bytes(&rd, 24);
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

/* Rank 0 writes every rank's bytes to stdout (or -o FILE), in rank
 * order. Collective. Returns 1 when the output took them (-o: written,
 * closed and checked; renamed later, mpi_output). */
static int write_in_rank_order(mrun *m, const char *data, size_t len)
{
    xctx *x = &m->x;
    int ok = 1;
    double t0 = x_clock();
    FILE *to = m->out.f ? m->out.f : stdout;
    if (x->rank == 0) {
        ok = fwrite(data, 1, len, to) == len;
        char *buf = NULL;
        for (int r = 1; r < x->size; r++) {
            uint64_t n;
            MPI_Recv(&n, 1, MPI_UINT64_T, r, TAG_OUTPUT, x->comm, MPI_STATUS_IGNORE);
            for (uint64_t at = 0; at < n; at += OUTPUT_CHUNK) {
                size_t piece = n - at < OUTPUT_CHUNK ? (size_t)(n - at) : OUTPUT_CHUNK;
                if (!buf && !(buf = malloc(OUTPUT_CHUNK)))
                    x_fatal(x, "out of memory");
                MPI_Recv(buf, (int)piece, MPI_BYTE, r, TAG_OUTPUT, x->comm, MPI_STATUS_IGNORE);
                ok = ok && fwrite(buf, 1, piece, to) == piece;
            }
        }
        free(buf);
        if (m->out.f) { /* a failed write stays in ferror, which outfile_close reports (FILE: write error: ...) */
            ok = outfile_close(&m->out) == 0;
            x_spent(x, t0);
            return x_agree(x, ok, NULL);
        }
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

/* Previews of unit groups: each is cut from the group's earliest
 * occurrence, which this rank read (it is why the group came here), in
 * one second reading of its records (unit_output_previews). */
static int cut_previews(mrun *m, const cluster_ref *refs, size_t n, char ***previews)
{
    size_t *units = malloc((n ? n : 1) * sizeof *units);
    *previews = calloc(n ? n : 1, sizeof **previews);
    if (!units || !*previews)
        x_fatal(&m->x, "out of memory");
    for (size_t i = 0; i < n; i++)
        units[i] = (size_t)(refs[i].first - m->bases[m->x.rank]);
    int ok = n == 0 || unit_output_previews(*previews, &m->docs, m->replay, units, n) == EXIT_OK;
    free(units);
    return x_agree(&m->x, ok, NULL);
}

static int scan_output(mrun *m, const cluster_ref *refs, size_t n, uint64_t first_number)
{
    char **previews = NULL;
    if (m->cfg->unit != ND_UNIT_DOCUMENT && !cut_previews(m, refs, n, &previews)) {
        for (size_t i = 0; previews && i < n; i++)
            free(previews[i]);
        free(previews);
        return 0;
    }
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
            doc_output_cluster(mem, m->cfg, first_number + i, c.size, c.ids, c.jaccard, c.containment);
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
                xbuf_put(out, &c.containment[k], sizeof c.containment[k]);
                xbuf_put_u64(out, c.size);
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
            char *tag = cli_format("r%d-%s", p->parts[k].rank, pid_tag);
            char *from = name && tag ? outdir_temp_name(o->dir, name, tag) : NULL; /* as rank r named it */
            free(name);
            free(tag);
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

static int dedup_output(mrun *m, const cluster_ref *refs, size_t n, uint64_t first_number, uint64_t duplicates,
                        const char *pid_tag)
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
            fates[d] = (doc_fate){-1, 1, NULL, 0.0, 0.0};
        for (int r = 0; r < x->size; r++) {
            xreader rd = xreader_of(&recv[r]);
            while (rd.p < rd.end) {
                size_t local = (size_t)xread_u64(&rd);
                int64_t number = (int64_t)xread_u64(&rd);
                double jaccard = xread_f64(&rd), containment = xread_f64(&rd);
                size_t size = (size_t)xread_u64(&rd);
                uint32_t len = xread_u32(&rd);
                const char *dup = len ? xread_bytes(&rd, len) : NULL;
                fates[local] = (doc_fate){number, size, dup, jaccard, containment};
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
                rm[k++] = (removal){doctable_unit_doc(&m->docs, unit), doctable_unit_span(&m->docs, unit),
                                    (size_t)xread_u64(&rd)};
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
        /* the counts and --stats before any file takes its name */
        if (x_agree(x, ok, NULL) && (ok = mpi_run_conclude(m, n, duplicates)) != 0) {
            commit_signals_begin(); /* the renames: a signal waits until they are done (commitsig.h) */
            ok = dedup_target_rename(&target, skip) == 0;
            commit_signals_end_outputs(ok ? EXIT_OK : EXIT_FAIL);
        }
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

int mpi_output(mrun *m, const char *pid_tag, size_t *clusters, uint64_t *duplicates)
{
    size_t n;
    uint64_t first_number;
    cluster_ref *refs = number_clusters(m, &n, &first_number);
    cluster_read c;
    memset(&c, 0, sizeof c);
    *duplicates = 0;
    for (size_t i = 0; i < n; i++) {
        read_cluster(m, refs[i].at, &c);
        *duplicates += c.size - 1;
    }
    cluster_read_free(&c);
    *clusters = n;
    /* scan -o FILE: the file takes its name once --stats is written, as in neardup */
    int ok = m->cfg->command == CMD_SCAN
                 ? scan_output(m, refs, n, first_number) && mpi_run_conclude(m, n, *duplicates) &&
                       x_agree(&m->x, m->x.rank != 0 || outfile_rename(&m->out) == 0, NULL)
                 : dedup_output(m, refs, n, first_number, *duplicates, pid_tag);
    free(refs);
    return ok;
}
