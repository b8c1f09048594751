/* report.c - what a run tells about itself: a progress line on a terminal,
 * one summary line on stderr at the end, and with --stats FILE the same
 * counts as a JSON object (written under a temporary name, renamed when
 * complete), so that scripts read numbers instead of scraping the prose. */
#include "report.h"

#include <sys/resource.h> /* getrusage */

#include "hugeheap.h" /* huge_heap_pages: --verbose */
#include "outfile.h"

void progress_start(progress *p, int enabled)
{
    p->enabled = enabled;
    clock_gettime(CLOCK_MONOTONIC, &p->started);
    p->last = p->started;
}

static double seconds_between(const struct timespec *a, const struct timespec *b)
{
    return (double)(b->tv_sec - a->tv_sec) + (double)(b->tv_nsec - a->tv_nsec) / 1e9;
}

double report_seconds_since(const struct timespec *t0)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return seconds_between(t0, &now);
}

double progress_elapsed(const progress *p)
{
    return report_seconds_since(&p->started);
}

void progress_show(progress *p, const char *stage, uint64_t records, uint64_t bytes, int force)
{
    if (!p->enabled)
        return;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (!force && seconds_between(&p->last, &now) < 0.25)
        return;
    p->last = now;
    double secs = seconds_between(&p->started, &now);
    double mb = (double)bytes / 1e6;
    fprintf(stderr, "\r\033[Kneardup: %s: %llu documents, %.1f MB, %.1f MB/s, %.1f s", stage,
            (unsigned long long)records, mb, secs > 0 ? mb / secs : 0.0, secs);
    fflush(stderr);
}

void progress_clear(const progress *p)
{
    if (p->enabled) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
    }
}

void report_summary(const cli_config *cfg, const run_counts *c)
{
    cli_warn_flush(); /* before the summary, which is the last line */
    if (cfg->quiet)
        return;
    double mb = (double)c->bytes / 1e6;
    /* with --unit, a document counts here when it has no unit of at least
     * --min-tokens tokens; without, when it has no shingle or fewer than
     * --min-tokens tokens (said so: such a document has text) */
    const char *empty = cfg->unit != ND_UNIT_DOCUMENT ? "without units"
                        : cfg->min_tokens > 1         ? "empty or under --min-tokens"
                                                      : "empty";
    fprintf(stderr, "neardup: %llu documents read (%.1f MB), %llu %s, %llu invalid UTF-8, %llu skipped; ",
            (unsigned long long)c->records_read, mb, (unsigned long long)c->empty, empty,
            (unsigned long long)c->invalid_docs, (unsigned long long)c->skipped);
    const input_skipped *f = &c->files;
    uint64_t files = f->special + f->hidden + f->binary + f->excluded;
    if (files)
        fprintf(stderr, "%llu files not read (%llu not regular, %llu hidden, %llu binary, %llu not --include'd); ",
                (unsigned long long)files, (unsigned long long)f->special, (unsigned long long)f->hidden,
                (unsigned long long)f->binary, (unsigned long long)f->excluded);
    if (cfg->pairs)
        fprintf(stderr, "%zu pairs", c->pairs);
    else if (cfg->unit == ND_UNIT_DOCUMENT)
        fprintf(stderr, "%zu clusters, %llu duplicates", c->clusters, (unsigned long long)c->duplicates);
    else
        fprintf(stderr, "%zu %ss, %zu groups, %llu repeats", c->units, cfg->unit == ND_UNIT_LINE ? "line" : "paragraph",
                c->clusters, (unsigned long long)c->duplicates);
    if (cfg->command == CMD_DEDUP && cfg->unit == ND_UNIT_DOCUMENT)
        fprintf(stderr, "; kept %llu, removed %llu", (unsigned long long)c->kept, (unsigned long long)c->removed);
    else if (cfg->command == CMD_DEDUP)
        fprintf(stderr, "; %llu units removed; kept %llu documents, dropped %llu emptied",
                (unsigned long long)c->units_removed, (unsigned long long)c->kept, (unsigned long long)c->removed);
    fprintf(stderr, "; profile %s; %.2f s, %.1f MB/s\n", cli_profile_label(&cfg->opts), c->total_s,
            c->total_s > 0 ? mb / c->total_s : 0.0);
    if (!cfg->verbose)
        return;
    fprintf(stderr,
            "neardup: stages: read and sketch %.2f s (main thread: reading %.2f s, sketching and waiting "
            "%.2f s, committing %.2f s), cluster %.2f s, write %.2f s; %u threads\n",
            c->read_s, c->main_read_s, c->main_sketch_s, c->main_commit_s, c->cluster_s, c->write_s, cfg->threads);
    fprintf(stderr, "neardup: malloc in %s\n", huge_heap_pages());
}

/* The process's peak resident memory in KiB: VmHWM of /proc/self/status,
 * the high-water mark of this program's own address space. getrusage's
 * ru_maxrss is the fallback only: Linux carries it across execve, so a
 * program started by a large process reports that process's peak. */
unsigned long long report_peak_rss_kb(void)
{
    unsigned long long kb = 0;
    FILE *status = fopen("/proc/self/status", "r");
    if (status) {
        char line[256];
        while (fgets(line, sizeof line, status)) {
            if (sscanf(line, "VmHWM: %llu kB", &kb) == 1)
                break;
        }
        fclose(status);
    }
    if (kb == 0) {
        struct rusage usage;
        if (getrusage(RUSAGE_SELF, &usage) == 0 && usage.ru_maxrss > 0)
            kb = (unsigned long long)usage.ru_maxrss;
    }
    return kb;
}

void field_tally_add(field_tally *t, unsigned fields)
{
    if (!(fields & REC_JSON_OBJECT))
        return;
    t->objects++;
    t->with_id += (fields & REC_HAS_ID) != 0;
    t->with_text += (fields & REC_HAS_TEXT) != 0;
}

/* The warnings for a field given that none of the t->objects JSON records
 * had: `early` while the run goes on (after the first of them), else at
 * the end of reading. */
static void warn_fields_missing(const cli_config *cfg, const field_tally *t, int early)
{
    const char *first = early ? "first " : "", *going_on = early ? " (going on)" : "";
    unsigned long long n = (unsigned long long)t->objects;
    if ((cfg->fields_given & REC_HAS_ID) && t->objects > 0 && t->with_id == 0)
        cli_warn("--id-field '%s': none of the %s%llu JSON records has this field%s; is it spelt right?%s",
                 cfg->id_field, first, n, early ? "" : " (ids are FILE:LINE)", going_on);
    if ((cfg->fields_given & REC_HAS_TEXT) && t->objects > 0 && t->with_text == 0)
        cli_warn("--text-field '%s': none of the %s%llu JSON records has this field; is it spelt right?%s",
                 cfg->text_field, first, n, going_on);
}

void report_keep_missing(const cli_config *cfg, uint64_t objects, int early)
{
    cli_warn("--keep %s:%s: none of the %s%llu JSON records has a value in this field%s; is it spelt right?%s",
             cfg->keep_descending ? "max" : "min", cfg->keep_field, early ? "first " : "", (unsigned long long)objects,
             early ? "" : ", so it orders nothing", early ? " (going on)" : "");
}

int report_fields_early_due(const field_tally *t)
{
    return !t->early_checked && t->objects >= REPORT_EARLY_RECORDS;
}

void report_fields_early(const cli_config *cfg, field_tally *t, uint64_t keep_with_value)
{
    t->early_checked = 1;
    warn_fields_missing(cfg, t, 1);
    if (cfg->keep_field && keep_with_value == 0)
        report_keep_missing(cfg, t->objects, 1);
}

int report_input_check(const cli_config *cfg, uint64_t records, uint64_t skipped, const field_tally *t)
{
    warn_fields_missing(cfg, t, 0);
    if (records > 0 && skipped == records) {
        cli_warn_flush();
        cli_error("every record read (%llu) was skipped as unusable; nothing to %s", (unsigned long long)records,
                  cfg->command == CMD_DEDUP ? "write" : "compare");
        return EXIT_FAIL;
    }
    return EXIT_OK;
}

static const char *unit_name(nd_unit_kind unit)
{
    return unit == ND_UNIT_PARAGRAPH ? "paragraph" : unit == ND_UNIT_LINE ? "line" : "document";
}

/* A count, or null when it does not apply. */
static void count_or_null(FILE *f, const char *key, int applies, uint64_t value)
{
    if (applies)
        fprintf(f, ",\"%s\":%llu", key, (unsigned long long)value);
    else
        fprintf(f, ",\"%s\":null", key);
}

int report_stats(const cli_config *cfg, const run_counts *c)
{
    if (!cfg->stats_path)
        return 0;
    outfile file; /* under a temporary name until complete */
    if (outfile_open(&file, cfg->stats_path) != 0)
        return -1;
    FILE *f = file.f;
    const nd_options *o = &cfg->opts;
    int dedup = cfg->command == CMD_DEDUP, units = cfg->unit != ND_UNIT_DOCUMENT;
    unsigned long long peak_kb = report_peak_rss_kb();
    fprintf(f, "{\"version\":\"%s\",\"command\":\"%s\",\"unit\":\"%s\",\"profile\":\"%s\",", ND_VERSION,
            dedup ? "dedup" : "scan", unit_name(cfg->unit), cli_profile_label(o));
    fputs("\"threshold\":", f);
    out_number(f, o->threshold);
    fprintf(f, ",\"measure\":\"%s\",\"min_shingles\":%u",
            o->measure == ND_MEASURE_CONTAINMENT ? "containment" : "jaccard", o->min_shingles);
    fprintf(f, ",\"num_perm\":%u,\"bands\":%u,\"rows\":%u,\"threads\":%u", o->num_perm, o->bands, o->rows,
            cfg->threads);
    fprintf(f, ",\"documents_read\":%llu,\"bytes_read\":%llu,\"empty\":%llu,\"invalid_utf8\":%llu,\"skipped\":%llu",
            (unsigned long long)c->records_read, (unsigned long long)c->bytes, (unsigned long long)c->empty,
            (unsigned long long)c->invalid_docs, (unsigned long long)c->skipped);
    fprintf(f, ",\"files_not_read\":{\"not_regular\":%llu,\"hidden\":%llu,\"binary\":%llu,\"not_included\":%llu}",
            (unsigned long long)c->files.special, (unsigned long long)c->files.hidden,
            (unsigned long long)c->files.binary, (unsigned long long)c->files.excluded);
    count_or_null(f, "units", units, c->units);
    fprintf(f, ",\"clusters\":%zu,\"duplicates\":%llu", c->clusters, (unsigned long long)c->duplicates);
    count_or_null(f, "pairs", cfg->pairs, c->pairs);
    count_or_null(f, "kept", dedup, c->kept);
    count_or_null(f, "removed", dedup, c->removed);
    count_or_null(f, "units_removed", dedup && units, c->units_removed);
    fprintf(f, ",\"candidate_pairs\":%llu,\"verified_pairs\":%llu,\"exact_groups\":%llu,\"spilled\":%s",
            (unsigned long long)c->cluster_stats.candidate_pairs, (unsigned long long)c->cluster_stats.verified_pairs,
            (unsigned long long)c->cluster_stats.exact_groups, c->spilled ? "true" : "false");
    fprintf(f, ",\"seconds_total\":%.6f,\"seconds_read\":%.6f,\"seconds_cluster\":%.6f,\"seconds_write\":%.6f",
            c->total_s, c->read_s, c->cluster_s, c->write_s);
    fprintf(f, ",\"peak_rss_bytes\":%llu", peak_kb * 1024ULL);
    if (c->extra_json)
        fprintf(f, ",%s", c->extra_json);
    fputs("}\n", f);
    int rc = outfile_commit(&file);
    outfile_abort(&file);
    return rc;
}
