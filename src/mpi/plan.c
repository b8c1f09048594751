/* plan.c - which rank reads what: the input, cut into P shares of about
 * equal bytes, in input order (see plan.h).
 *
 * Rank 0 alone walks the paths (so every rank sees one list, in the order
 * `neardup` reads it) and broadcasts (name, size, splittable). The cut is
 * computed by every rank from that list alone, so no rank needs to tell
 * another what it reads: interval r is [floor(S r / P), floor(S (r + 1) /
 * P)) of the S bytes laid end to end. Because the parts are in input
 * order and rank r's bytes come before rank r + 1's, numbering the
 * documents rank after rank (an exclusive prefix sum of the counts)
 * numbers them in input order.
 *
 * Line numbers: a part that starts inside a file needs the number of lines
 * before it (records without an id are named FILE:LINE, messages cite
 * lines). Each rank counts the lines of its parts that a later part of the
 * same file needs (one read of its share), and an MPI_Allreduce of the
 * counts gives every part its first line.
 */
#include "plan.h"

#include <stdlib.h> /* calloc, free */
#include <string.h> /* strlen, strcmp */

#include "outfile.h"

static uint64_t interval_start(uint64_t total, int r, int p)
{
    return total / (uint64_t)p * (uint64_t)r + total % (uint64_t)p * (uint64_t)r / (uint64_t)p;
}

static int rank_of_offset(uint64_t total, uint64_t offset, int p)
{
    int r = 0;
    while (r + 1 < p && interval_start(total, r + 1, p) <= offset)
        r++;
    return r;
}

/* Rank 0: the list, serialized (u32 status, then per file: u64 size, u32
 * splittable, u32 name length, name). */
static int list_inputs(xbuf *out, input_skipped *skipped, const cli_config *cfg)
{
    for (int i = 0; i < cfg->path_count; i++) {
        if (strcmp(cfg->paths[i], "-") == 0) {
            cli_error("neardup-mpi reads named files, not stdin ('-')");
            return EXIT_USAGE;
        }
    }
    if (cfg->path_count == 0) {
        cli_error("neardup-mpi reads named files: give at least one PATH");
        return EXIT_USAGE;
    }
    input *in = NULL;
    if (input_open(&in, cfg) != EXIT_OK)
        return EXIT_FAIL;
    size_t n = input_source_count(in);
    *skipped = input_skipped_files(in);
    /* neardup's checks of what the run writes against every input (-o or
     * --stats naming one, the two naming one file, a --stats file that is
     * data, --output-dir's names), here where the whole list is known */
    int rc = output_check(cfg, in);
    for (size_t s = 0; s < n && rc == EXIT_OK; s++) {
        const char *name = input_source_name(in, s);
        uint64_t size = 0;
        int split = input_splittable(name, cfg->format, &size);
        xbuf_put_u64(out, size);
        xbuf_put_u32(out, (uint32_t)split);
        xbuf_put_u32(out, (uint32_t)strlen(name));
        xbuf_put(out, name, strlen(name));
    }
    input_close(in);
    return rc;
}

void plan_free(plan *p)
{
    for (size_t f = 0; p->files && f < p->file_count; f++)
        free(p->files[f].name);
    free(p->files);
    free(p->parts);
    free(p->mine);
    free(p->mine_index);
    memset(p, 0, sizeof *p);
}

static void add_part(plan *p, size_t *cap, int rank, size_t file, int whole, uint64_t start, uint64_t end)
{
    if (p->part_count == *cap) {
        *cap = *cap ? *cap * 2 : 64;
        plan_part *grown = realloc(p->parts, *cap * sizeof *grown);
        if (!grown)
            x_fatal(NULL, "out of memory");
        p->parts = grown;
    }
    input_part part = {p->files[file].name, whole, start, end, 0};
    p->parts[p->part_count++] = (plan_part){rank, file, part};
}

int plan_part_shared(const plan *p, size_t i)
{
    size_t f = p->parts[i].file;
    return (i > 0 && p->parts[i - 1].file == f) || (i + 1 < p->part_count && p->parts[i + 1].file == f);
}

size_t plan_first_part(const plan *p, size_t i)
{
    while (i > 0 && p->parts[i - 1].file == p->parts[i].file)
        i--;
    return i;
}

int plan_make(plan *p, xctx *x, const cli_config *cfg)
{
    memset(p, 0, sizeof *p);
    xbuf list = {NULL, 0, 0};
    int status = EXIT_OK;
    if (x->rank == 0)
        status = list_inputs(&list, &p->skipped, cfg);
    uint64_t head[2] = {(uint64_t)status, list.len};
    double t0 = x_clock();
    MPI_Bcast(head, 2, MPI_UINT64_T, 0, x->comm);
    x_spent(x, t0);
    if (head[0] != EXIT_OK) {
        xbuf_free(&list);
        return (int)head[0];
    }
    if (x->rank != 0)
        xbuf_put(&list, NULL, 0);
    if (list.cap < head[1]) {
        list.data = realloc(list.data, head[1] ? head[1] : 1);
        if (!list.data)
            x_fatal(x, "out of memory");
        list.cap = head[1];
    }
    list.len = head[1];
    t0 = x_clock();
    for (uint64_t at = 0; at < head[1]; at += 1u << 30) { /* counts stay under INT_MAX */
        uint64_t n = head[1] - at < (1u << 30) ? head[1] - at : (1u << 30);
        MPI_Bcast(list.data + at, (int)n, MPI_BYTE, 0, x->comm);
    }
    x_spent(x, t0);
    /* the files */
    size_t cap = 0;
    xreader rd = xreader_of(&list);
    uint64_t total = 0;
    while (rd.p < rd.end) {
        if (p->file_count == cap) {
            cap = cap ? cap * 2 : 64;
            plan_file *grown = realloc(p->files, cap * sizeof *grown);
            if (!grown)
                x_fatal(x, "out of memory");
            p->files = grown;
        }
        plan_file *f = &p->files[p->file_count++];
        f->size = xread_u64(&rd);
        f->splittable = (int)xread_u32(&rd);
        uint32_t len = xread_u32(&rd);
        f->name = malloc((size_t)len + 1);
        if (!f->name)
            x_fatal(x, "out of memory");
        memcpy(f->name, xread_bytes(&rd, len), len);
        f->name[len] = '\0';
        total += f->size;
    }
    xbuf_free(&list);
    /* the cut */
    size_t part_cap = 0;
    uint64_t offset = 0;
    for (size_t f = 0; f < p->file_count; f++) {
        const plan_file *file = &p->files[f];
        if (!file->splittable || file->size == 0) {
            add_part(p, &part_cap, rank_of_offset(total, offset, x->size), f, 1, 0, 0);
        } else {
            for (int r = 0; r < x->size; r++) {
                uint64_t lo = interval_start(total, r, x->size);
                uint64_t hi = r + 1 < x->size ? interval_start(total, r + 1, x->size) : total;
                uint64_t a = lo > offset ? lo : offset, b = hi < offset + file->size ? hi : offset + file->size;
                if (a < b)
                    add_part(p, &part_cap, r, f, 0, a - offset, b - offset);
            }
        }
        offset += file->size;
    }
    /* line numbers of parts that start inside their file */
    uint64_t *lines = calloc(p->part_count ? p->part_count : 1, sizeof *lines);
    uint64_t *sums = calloc(p->part_count ? p->part_count : 1, sizeof *sums);
    if (!lines || !sums)
        x_fatal(x, "out of memory");
    int ok = 1;
    for (size_t i = 0; i < p->part_count && ok; i++) {
        const plan_part *pp = &p->parts[i];
        int needed = i + 1 < p->part_count && p->parts[i + 1].file == pp->file;
        if (pp->rank == x->rank && !pp->part.whole && needed)
            ok = input_count_lines(&lines[i], pp->part.name, pp->part.start, pp->part.end) == 0;
    }
    if (!x_agree(x, ok, NULL)) {
        free(lines);
        free(sums);
        return EXIT_FAIL;
    }
    t0 = x_clock();
    MPI_Allreduce(lines, sums, (int)p->part_count, MPI_UINT64_T, MPI_SUM, x->comm);
    x_spent(x, t0);
    for (size_t i = 1; i < p->part_count; i++) {
        if (p->parts[i].file == p->parts[i - 1].file)
            p->parts[i].part.first_line = p->parts[i - 1].part.first_line + sums[i - 1];
    }
    free(lines);
    free(sums);
    p->mine = calloc(p->part_count ? p->part_count : 1, sizeof *p->mine);
    p->mine_index = calloc(p->part_count ? p->part_count : 1, sizeof *p->mine_index);
    if (!p->mine || !p->mine_index)
        x_fatal(x, "out of memory");
    for (size_t i = 0; i < p->part_count; i++) {
        if (p->parts[i].rank == x->rank) {
            p->mine_index[p->mine_count] = i;
            p->mine[p->mine_count++] = p->parts[i].part;
        }
    }
    return EXIT_OK;
}
