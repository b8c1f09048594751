/* doc_output.c - document mode output: scan's clusters or pairs, and
 * dedup's pass 2 (records written back, annotated, or set aside with
 * --removed).
 *
 * JSON Lines records pass through byte for byte; a plain-text document is
 * written as {"id": ..., "text": ...}. --annotate adds one member,
 * "neardup": {"cluster", "size", "duplicate_of", "jaccard", "profile"}
 * ("containment" too under --measure containment), before the record's
 * closing brace and changes nothing else; the size lets a corpus be
 * re-weighted later (FineWeb-2 keeps minhash_cluster_size). Records set
 * aside with --removed carry the same member. scan --pairs writes one
 * line per matching pair.
 */
#include "doc_output.h"

#include <stdint.h> /* SIZE_MAX */
#include <stdlib.h> /* malloc, free */
#include <string.h> /* strlen, strcmp */

#include "json.h"
#include "outfile.h"

void doc_output_cluster(FILE *out, const cli_config *cfg, size_t cluster, size_t size, const char *const *ids,
                        const double *jaccard, const double *containment)
{
    fprintf(out, "{\"cluster\":%zu,\"size\":%zu,\"ids\":[", cluster, size);
    for (size_t k = 0; k < size; k++) {
        if (k)
            fputc(',', out);
        out_string(out, ids[k], strlen(ids[k]));
    }
    fputs("],\"jaccard\":[", out);
    for (size_t k = 0; k < size; k++) {
        if (k)
            fputc(',', out);
        out_number(out, jaccard[k]);
    }
    if (cfg->opts.measure == ND_MEASURE_CONTAINMENT) {
        fputs("],\"containment\":[", out);
        for (size_t k = 0; k < size; k++) {
            if (k)
                fputc(',', out);
            out_number(out, containment[k]);
        }
    }
    fprintf(out, "],\"profile\":\"%s\"}\n", cli_profile_label(&cfg->opts));
}

typedef struct scan_lines {
    const cli_config *cfg;
    const doctable *docs;
    const nd_clusters *clusters;
} scan_lines;

/* out_lines' item: cluster c. */
static int write_cluster(FILE *out, size_t c, void *ctx)
{
    const scan_lines *l = ctx;
    enum { ON_STACK = 64 };
    const char *ids_stack[ON_STACK];
    double jaccard_stack[ON_STACK], containment_stack[ON_STACK];
    const nd_member *m;
    size_t size = nd_clusters_get(&m, l->clusters, c);
    const char **ids = ids_stack;
    double *jaccard = jaccard_stack, *containment = containment_stack;
    if (size > ON_STACK) {
        ids = malloc(size * sizeof *ids);
        jaccard = malloc(size * sizeof *jaccard);
        containment = malloc(size * sizeof *containment);
    }
    int rc = ids && jaccard && containment ? 0 : -1;
    for (size_t k = 0; k < size && rc == 0; k++) {
        ids[k] = l->docs->ids[m[k].doc];
        jaccard[k] = m[k].jaccard;
        containment[k] = m[k].containment;
    }
    if (rc == 0)
        doc_output_cluster(out, l->cfg, c, size, ids, jaccard, containment);
    if (size > ON_STACK) {
        free(ids);
        free(jaccard);
        free(containment);
    }
    return rc;
}

int doc_output_scan(FILE *out, const cli_config *cfg, const doctable *docs, const nd_clusters *clusters)
{
    scan_lines l = {cfg, docs, clusters};
    if (out_lines(out, nd_clusters_count(clusters), cfg->threads, write_cluster, &l) != 0) {
        cli_error("out of memory");
        return EXIT_FAIL;
    }
    return EXIT_OK;
}

void doc_output_pairs(FILE *out, const cli_config *cfg, const doctable *docs, nd_pairs *pairs)
{
    const char *profile = cli_profile_label(&cfg->opts);
    nd_pair p;
    while (nd_pairs_next(pairs, &p)) {
        const char *a = docs->ids[p.a], *b = docs->ids[p.b];
        fputs("{\"a\":", out);
        out_string(out, a, strlen(a));
        fputs(",\"b\":", out);
        out_string(out, b, strlen(b));
        fputs(",\"jaccard\":", out);
        out_number(out, p.jaccard);
        fputs(",\"a_in_b\":", out);
        out_number(out, p.a_in_b);
        fputs(",\"b_in_a\":", out);
        out_number(out, p.b_in_a);
        fprintf(out, ",\"profile\":\"%s\"}\n", profile);
    }
}

void write_text_record(FILE *out, const cli_config *cfg, const char *id, const char *text, size_t len)
{
    fputc('{', out);
    if (strcmp(cfg->id_field, cfg->text_field) != 0) {
        json_write_string(out, cfg->id_field, strlen(cfg->id_field));
        fputc(':', out);
        json_write_string(out, id, strlen(id));
        fputc(',', out);
    }
    json_write_string(out, cfg->text_field, strlen(cfg->text_field));
    fputc(':', out);
    json_write_string(out, text, len);
    fputs("}\n", out);
}

/* Each document's fate from the clusters (only --annotate and --removed
 * write more of it than whether the document is a duplicate: 40 bytes a
 * document, 40 MB of fresh memory at 1M documents). */
static doc_fate *fates_from_clusters(const doctable *docs, const nd_clusters *clusters)
{
    doc_fate *f = malloc((docs->count ? docs->count : 1) * sizeof *f);
    if (!f)
        return NULL;
    for (size_t d = 0; d < docs->count; d++)
        f[d] = (doc_fate){-1, 1, NULL, 0.0, 0.0};
    size_t n = nd_clusters_count(clusters);
    for (size_t c = 0; c < n; c++) {
        const nd_member *m;
        size_t size = nd_clusters_get(&m, clusters, c);
        for (size_t k = 0; k < size; k++)
            f[m[k].doc] = (doc_fate){(int64_t)c, size, k ? docs->ids[m[0].doc] : NULL, m[k].jaccard, m[k].containment};
    }
    return f;
}

/* A bit a document, set for the duplicates (a cluster's members after its
 * first): all that writing the kept records needs. */
static uint64_t *duplicate_bits(size_t count)
{
    return calloc(count / 64 + 1, sizeof(uint64_t));
}

static inline int is_duplicate(const uint64_t *bits, size_t doc)
{
    return (int)(bits[doc / 64] >> (doc % 64) & 1);
}

static inline void mark_duplicate(uint64_t *bits, size_t doc)
{
    bits[doc / 64] |= (uint64_t)1 << (doc % 64);
}

static uint64_t *duplicates_from_clusters(const doctable *docs, const nd_clusters *clusters)
{
    uint64_t *bits = duplicate_bits(docs->count);
    size_t n = nd_clusters_count(clusters);
    for (size_t c = 0; bits && c < n; c++) {
        const nd_member *m;
        size_t size = nd_clusters_get(&m, clusters, c);
        for (size_t k = 1; k < size; k++)
            mark_duplicate(bits, m[k].doc);
    }
    return bits;
}

static uint64_t *duplicates_from_fates(const doctable *docs, const doc_fate *fates)
{
    uint64_t *bits = duplicate_bits(docs->count);
    for (size_t d = 0; bits && d < docs->count; d++) {
        if (fates[d].duplicate_of)
            mark_duplicate(bits, d);
    }
    return bits;
}

/* The "neardup" member --annotate adds (newly allocated; NULL when out of
 * memory). */
static char *annotation(const cli_config *cfg, const doc_fate *fd)
{
    char *member = NULL;
    size_t member_len = 0;
    FILE *mem = open_memstream(&member, &member_len);
    if (!mem)
        return NULL;
    int containment = cfg->opts.measure == ND_MEASURE_CONTAINMENT;
    fputs("\"neardup\":{", mem);
    if (fd->cluster < 0) {
        fputs("\"cluster\":null,\"size\":1,\"duplicate_of\":null,\"jaccard\":null", mem);
        if (containment)
            fputs(",\"containment\":null", mem);
    } else {
        fprintf(mem, "\"cluster\":%lld,\"size\":%zu,\"duplicate_of\":", (long long)fd->cluster, fd->size);
        if (!fd->duplicate_of)
            fputs("null", mem);
        else
            out_string(mem, fd->duplicate_of, strlen(fd->duplicate_of));
        fputs(",\"jaccard\":", mem);
        out_number(mem, fd->jaccard);
        if (containment) {
            fputs(",\"containment\":", mem);
            out_number(mem, fd->containment);
        }
    }
    fprintf(mem, ",\"profile\":\"%s\"}", cli_profile_label(&cfg->opts));
    if (fclose(mem) != 0) {
        free(member);
        return NULL;
    }
    return member;
}

void doc_output_record(FILE *out, const cli_config *cfg, const record *rec, const char *id, const char *member)
{
    if (rec->kind == RECORD_JSON) {
        if (member) {
            json_write_with_member(out, rec->data, rec->len, "neardup", member);
        } else {
            fwrite(rec->data, 1, rec->len, out);
            fputc('\n', out);
        }
        return;
    }
    if (!member) {
        write_text_record(out, cfg, id, rec->data, rec->len);
        return;
    }
    /* a plain text with an annotation: build its object, then add the member */
    char *built = NULL;
    size_t built_len = 0;
    FILE *mem = open_memstream(&built, &built_len);
    if (mem) {
        write_text_record(mem, cfg, id, rec->data, rec->len);
        if (fclose(mem) == 0 && built_len > 0)
            json_write_with_member(out, built, built_len - 1, "neardup", member);
    }
    free(built);
}

/* doc_output_write's common case: no annotations, no removed records
 * written, every kept record a JSON line of an uncompressed file (`at`):
 * the kept ones copied by their positions (replay_at_copy), none parsed
 * again. */
static int write_by_positions(const doctable *docs, const uint64_t *duplicates, replay_at *at, dedup_target *target,
                              uint64_t *kept, uint64_t *removed)
{
    size_t last_source = SIZE_MAX;
    for (size_t doc = 0; doc < docs->count; doc++) {
        if (is_duplicate(duplicates, doc)) {
            (*removed)++;
            continue;
        }
        size_t source = replay_at_source(at, doc);
        /* what is held back goes out before the stream may change:
         * --output-dir closes a source's file when the next one opens */
        if (source != last_source && replay_at_copy_done(at) != 0)
            return EXIT_FAIL;
        last_source = source;
        FILE *out = dedup_kept(target, source);
        if (!out || replay_at_copy(at, doc, out) != 0)
            return EXIT_FAIL;
        (*kept)++;
    }
    return replay_at_copy_done(at) == 0 ? EXIT_OK : EXIT_FAIL;
}

/* doc_output_write, with `duplicates` (duplicate_bits) and, for --annotate
 * and --removed only, `fates` (NULL otherwise). */
static int write_records(const cli_config *cfg, const doctable *docs, const uint64_t *duplicates, const doc_fate *fates,
                         replay_source *src, dedup_target *target, uint64_t *kept, uint64_t *removed)
{
    replay *records = NULL;
    int rc = EXIT_FAIL;
    if (!cfg->annotate && !dedup_writes_removed(target)) {
        replay_at *at = NULL;
        if (replay_open_at(&at, src) != EXIT_OK)
            return EXIT_FAIL;
        if (at && replay_at_count(at) == docs->count && replay_at_all_json(at)) {
            rc = write_by_positions(docs, duplicates, at, target, kept, removed);
            replay_at_close(at);
            return rc;
        }
        replay_at_close(at);
    }
    if (replay_open(&records, src) != EXIT_OK)
        goto done;
    for (size_t doc = 0; doc < docs->count; doc++) {
        const record *rec;
        if (replay_next(records, &rec) < 0)
            goto done;
        const doc_fate *fd = fates ? &fates[doc] : NULL;
        int duplicate = is_duplicate(duplicates, doc);
        FILE *out = NULL;
        if (cfg->annotate || !duplicate) {
            out = dedup_kept(target, rec->source);
            if (!out)
                goto done;
        } else if (dedup_removed(&out, target, rec->source) != 0) {
            goto done;
        }
        if (cfg->annotate || (duplicate && out)) {
            /* annotated, or removed with what it duplicates */
            char *member = annotation(cfg, fd);
            if (!member) {
                cli_error("out of memory");
                goto done;
            }
            doc_output_record(out, cfg, rec, docs->ids[doc], member);
            free(member);
            if (cfg->annotate)
                (*kept)++;
            else
                (*removed)++;
        } else if (duplicate) {
            (*removed)++;
        } else {
            doc_output_record(out, cfg, rec, docs->ids[doc], NULL);
            (*kept)++;
        }
    }
    rc = EXIT_OK;
done:
    replay_close(records);
    return rc;
}

int doc_output_write(const cli_config *cfg, const doctable *docs, const doc_fate *fates, replay_source *src,
                     dedup_target *target, uint64_t *kept, uint64_t *removed)
{
    uint64_t *duplicates = duplicates_from_fates(docs, fates);
    if (!duplicates) {
        cli_error("out of memory");
        return EXIT_FAIL;
    }
    int rc = write_records(cfg, docs, duplicates, fates, src, target, kept, removed);
    free(duplicates);
    return rc;
}

int doc_output_dedup(const cli_config *cfg, const doctable *docs, const nd_clusters *clusters, replay_source *src,
                     dedup_target *target, uint64_t *kept, uint64_t *removed)
{
    int fated = cfg->annotate || dedup_writes_removed(target);
    uint64_t *duplicates = duplicates_from_clusters(docs, clusters);
    doc_fate *fates = fated ? fates_from_clusters(docs, clusters) : NULL;
    int rc = EXIT_FAIL;
    if (!duplicates || (fated && !fates))
        cli_error("out of memory");
    else
        rc = write_records(cfg, docs, duplicates, fates, src, target, kept, removed);
    free(duplicates);
    free(fates);
    return rc;
}
