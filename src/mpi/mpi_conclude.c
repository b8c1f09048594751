/* mpi_conclude.c - the end of a neardup-mpi run on every rank: the counts
 * summed over ranks into the run's counts, and --stats written by rank 0
 * with each rank's figures (mpi_run_conclude, mpi_run.h). Called by the
 * output step (mpi_output.c) once the output is written, and for dedup
 * before its files are renamed, so that a --stats that cannot be written
 * fails the run with no file under its name, as in neardup. A room of its
 * own below both the run (mpi_run.c) and its output, which both use it.
 */
#include "cli.h"

#include <stdio.h>  /* open_memstream, fprintf */
#include <stdlib.h> /* malloc, free */

#include "mpi_run.h"

/* Collective: rank 0 writes --stats with every rank's figures. Returns 1
 * when it was written (on every rank). */
static int write_stats(mrun *m)
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
        {"bucket_entries", (double)m->engine.bucket_entries},
        {"fetched_texts", (double)m->engine.fetched_texts},
        {"fetched_id_bytes", (double)m->engine.fetched_id_bytes},
        {"candidate_pairs", (double)m->engine.candidate_pairs},
        {"edges", (double)m->engine.edges},
        {"components", (double)m->engine.components},
        {"seconds_pass1", m->pass1_s},
        {"seconds_cluster", m->cluster_s},
        {"seconds_output", m->output_s},
        {"seconds_keys", m->engine.keys_s},
        {"seconds_verify", m->engine.verify_s},
        {"seconds_components", m->engine.components_s},
        {"seconds_join", m->engine.join_s},
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
        return x_agree(&m->x, 1, NULL);
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
    int ok = report_stats(m->cfg, &m->counts) == 0; /* it says why not */
    m->counts.extra_json = NULL;
    free(json);
    free(all);
    return x_agree(&m->x, ok, NULL);
}

int mpi_run_conclude(mrun *m, size_t clusters, uint64_t duplicates)
{
    m->output_s = MPI_Wtime() - m->output_started;
    run_counts *k = &m->counts;
    k->records_read = x_sum(&m->x, k->records_read);
    k->bytes = x_sum(&m->x, k->bytes);
    k->empty = x_sum(&m->x, k->empty);
    k->invalid_docs = x_sum(&m->x, k->invalid_docs);
    k->skipped = x_sum(&m->x, k->skipped);
    k->units = (size_t)x_sum(&m->x, nd_index_count(m->index));
    k->clusters = (size_t)x_sum(&m->x, clusters);
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
    return m->cfg->stats_path ? write_stats(m) : 1;
}
