/* unit_output.c - pass 2 with --unit paragraph|line: report groups of
 * repeated units, or write documents back without the repeats.
 *
 * The index held units; each group (a cluster of units) lists occurrences
 * in input order, the kept occurrence (by --keep) first. Pass 2 reads the records
 * back in order (replay.c): for scan, to cut a preview of each group's
 * first occurrence; for dedup, to remove spans (nd_remove_spans, which
 * also tidies the line ends and blank lines the removal leaves).
 *
 * What dedup removes: every occurrence but the first of each group, or
 * every occurrence of a group found in --boilerplate N or more documents.
 * Only the bytes of the text value change: a JSON record keeps every other
 * byte, a plain text becomes {"id": ..., "text": ...} with its new text.
 */
#include "unit_output.h"

#include <stdlib.h> /* qsort, malloc */
#include <string.h> /* strlen */

#include "doc_output.h"
#include "json.h"
#include "outfile.h"

static size_t distinct_documents(const doctable *docs, const nd_member *m, size_t size)
{
    size_t n = 0;
    for (size_t k = 0; k < size; k++) {
        if (k == 0 || docs->unit_doc[m[k].doc] != docs->unit_doc[m[k - 1].doc])
            n++;
    }
    return n;
}

/* ****  scan  **** */

int unit_output_scan(const cli_config *cfg, const doctable *docs, const nd_clusters *groups, replay_source *src)
{
    size_t n = nd_clusters_count(groups);
    replay *cur = NULL;
    if (replay_open(&cur, src) != EXIT_OK)
        return EXIT_FAIL;
    size_t next_doc = 0;
    int rc = EXIT_OK;
    for (size_t g = 0; g < n && rc == EXIT_OK; g++) {
        const nd_member *m;
        size_t size = nd_clusters_get(&m, groups, g);
        /* the preview is cut from the earliest occurrence (m[0], the one
         * kept, can be a later one): groups are ordered by their earliest
         * occurrence, so doc never goes back */
        size_t first = m[0].doc;
        for (size_t k = 1; k < size; k++)
            first = m[k].doc < first ? m[k].doc : first;
        size_t doc = docs->unit_doc[first];
        while (next_doc <= doc && rc == EXIT_OK) {
            const record *rec;
            rc = replay_next(cur, &rec) == 1 ? EXIT_OK : EXIT_FAIL;
            next_doc++;
        }
        if (rc != EXIT_OK)
            break;
        char *preview = NULL;
        nd_span sp = docs->unit_span[first];
        const char *text;
        size_t text_len;
        if (replay_text(cur, &text, &text_len) == 0 && sp.end <= text_len)
            preview = text_preview(text + sp.start, sp.end - sp.start, 80);
        size_t doc_count = distinct_documents(docs, m, size);
        printf("{\"group\":%zu,\"size\":%zu,\"documents\":%zu,", g, size, doc_count);
        if (cfg->boilerplate)
            printf("\"boilerplate\":%s,", doc_count >= cfg->boilerplate ? "true" : "false");
        fputs("\"occurrences\":[", stdout);
        for (size_t k = 0; k < size; k++) {
            const char *id = docs->ids[docs->unit_doc[m[k].doc]];
            fputs(k ? ",{\"id\":" : "{\"id\":", stdout);
            out_string(stdout, id, strlen(id));
            printf(",\"start\":%zu,\"end\":%zu}", docs->unit_span[m[k].doc].start, docs->unit_span[m[k].doc].end);
        }
        fputs("],\"jaccard\":[", stdout);
        for (size_t k = 0; k < size; k++) {
            if (k)
                putchar(',');
            out_number(stdout, m[k].jaccard);
        }
        fputs("],\"text\":", stdout);
        out_string(stdout, preview ? preview : "", preview ? strlen(preview) : 0);
        printf(",\"profile\":\"%s\"}\n", cli_profile_label(&cfg->opts));
        free(preview);
    }
    replay_close(cur);
    return rc;
}

/* ****  dedup  **** */

typedef struct removal {
    size_t doc;
    nd_span span;
    size_t group;
} removal;

static int compare_removal(const void *pa, const void *pb)
{
    const removal *a = pa, *b = pb;
    if (a->doc != b->doc)
        return (a->doc > b->doc) - (a->doc < b->doc);
    return (a->span.start > b->span.start) - (a->span.start < b->span.start);
}

/* The removals, sorted by document and start. */
static removal *collect_removals(const cli_config *cfg, const doctable *docs, const nd_clusters *groups, size_t *count)
{
    size_t n = nd_clusters_count(groups), total = 0;
    for (size_t g = 0; g < n; g++) {
        const nd_member *m;
        total += nd_clusters_get(&m, groups, g);
    }
    removal *r = malloc((total ? total : 1) * sizeof *r);
    if (!r)
        return NULL;
    size_t w = 0;
    for (size_t g = 0; g < n; g++) {
        const nd_member *m;
        size_t size = nd_clusters_get(&m, groups, g);
        int all = cfg->boilerplate && distinct_documents(docs, m, size) >= cfg->boilerplate;
        for (size_t k = all ? 0 : 1; k < size; k++)
            r[w++] = (removal){docs->unit_doc[m[k].doc], docs->unit_span[m[k].doc], g};
    }
    qsort(r, w, sizeof *r, compare_removal);
    *count = w;
    return r;
}

/* --annotate: the record with "neardup": {"spans": [[start, end, group], ...]}.
 * Returns 0, or -1 when out of memory. */
static int write_spans_annotation(const cli_config *cfg, const record *rec, const char *id, const removal *r, size_t n)
{
    char *member = NULL, *built = NULL;
    size_t member_len = 0, built_len = 0;
    FILE *mem = open_memstream(&member, &member_len);
    if (!mem)
        return -1;
    fputs("\"neardup\":{\"spans\":[", mem);
    for (size_t k = 0; k < n; k++)
        fprintf(mem, "%s[%zu,%zu,%zu]", k ? "," : "", r[k].span.start, r[k].span.end, r[k].group);
    fprintf(mem, "],\"profile\":\"%s\"}", cli_profile_label(&cfg->opts));
    int rc = fclose(mem) == 0 ? 0 : -1;
    if (rc == 0 && rec->kind == RECORD_JSON) {
        json_write_with_member(stdout, rec->data, rec->len, member);
    } else if (rc == 0) {
        mem = open_memstream(&built, &built_len);
        if (!mem)
            rc = -1;
        else {
            write_text_record(mem, cfg, id, rec->data, rec->len);
            rc = fclose(mem) == 0 && built_len > 0 ? 0 : -1;
        }
        if (rc == 0)
            json_write_with_member(stdout, built, built_len - 1, member);
    }
    free(member);
    free(built);
    return rc;
}

/* Write the record with its text replaced by `text`: only the bytes of the
 * text value change when the member can be located; otherwise the record
 * is re-serialized by jansson. Returns 0, or -1 (reported). */
static int write_with_text(const cli_config *cfg, const record *rec, const char *id, const char *text, size_t len)
{
    if (rec->kind == RECORD_TEXT) {
        write_text_record(stdout, cfg, id, text, len);
        return 0;
    }
    size_t start, stop;
    if (json_member_span(rec->data, rec->len, cfg->text_field, &start, &stop)) {
        fwrite(rec->data, 1, start, stdout);
        json_write_string(stdout, text, len);
        fwrite(rec->data + stop, 1, rec->len - stop, stdout);
        putchar('\n');
        return 0;
    }
    json_error_t err;
    size_t invalid;
    json_t *root = json_load_text(rec->data, rec->len, &err, NULL, &invalid);
    char *dumped = NULL;
    if (root) {
        json_object_set_new(root, cfg->text_field, json_stringn(text, len));
        dumped = json_dumps(root, JSON_COMPACT);
        json_decref(root);
    }
    if (!dumped) {
        cli_error("%s: cannot write the record back", id);
        return -1;
    }
    puts(dumped);
    free(dumped);
    return 0;
}

static int only_white_space(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
            return 0;
    }
    return 1;
}

int unit_output_dedup(const cli_config *cfg, const doctable *docs, const nd_clusters *groups, replay_source *src,
                      uint64_t *kept, uint64_t *dropped, uint64_t *units_removed)
{
    size_t count = 0;
    removal *r = collect_removals(cfg, docs, groups, &count);
    nd_span *spans = NULL;
    char *stripped = NULL;
    size_t spans_capacity = 0, stripped_capacity = 0;
    outfile removed_file = {NULL, NULL};
    replay *cur = NULL;
    int rc = EXIT_FAIL;
    if (!r) {
        cli_error("out of memory");
        goto done;
    }
    if (outfile_open(&removed_file, cfg->removed_path) != 0 || replay_open(&cur, src) != EXIT_OK)
        goto done;
    size_t k = 0;
    for (size_t doc = 0; doc < docs->count; doc++) {
        const record *rec;
        if (replay_next(cur, &rec) < 0)
            goto done;
        size_t first = k;
        while (k < count && r[k].doc == doc)
            k++;
        size_t n = k - first;
        *units_removed += n;
        if (cfg->annotate) {
            if (write_spans_annotation(cfg, rec, docs->ids[doc], r + first, n) != 0) {
                cli_error("out of memory");
                goto done;
            }
            (*kept)++;
            continue;
        }
        if (n == 0) {
            if (rec->kind == RECORD_JSON) {
                fwrite(rec->data, 1, rec->len, stdout);
                putchar('\n');
            } else {
                write_text_record(stdout, cfg, docs->ids[doc], rec->data, rec->len);
            }
            (*kept)++;
            continue;
        }
        const char *text;
        size_t text_len;
        if (replay_text(cur, &text, &text_len) != 0)
            goto done;
        if (n > spans_capacity || text_len + 1 > stripped_capacity) {
            size_t sc = n > spans_capacity ? n : spans_capacity, tc = text_len + 1;
            nd_span *gs = realloc(spans, sc * sizeof *gs);
            if (gs) {
                spans = gs;
                spans_capacity = sc;
            }
            char *gt = tc > stripped_capacity ? realloc(stripped, tc) : stripped;
            if (gt) {
                stripped = gt;
                stripped_capacity = tc > stripped_capacity ? tc : stripped_capacity;
            }
            if (!gs || !gt) {
                cli_error("out of memory");
                goto done;
            }
        }
        for (size_t i = 0; i < n; i++)
            spans[i] = r[first + i].span;
        size_t new_len = nd_remove_spans(stripped, text, text_len, spans, n);
        if (only_white_space(stripped, new_len)) { /* nothing but white space left */
            (*dropped)++;
            if (removed_file.f) {
                if (rec->kind == RECORD_JSON) {
                    fwrite(rec->data, 1, rec->len, removed_file.f);
                    fputc('\n', removed_file.f);
                } else {
                    write_text_record(removed_file.f, cfg, docs->ids[doc], rec->data, rec->len);
                }
            }
        } else {
            if (write_with_text(cfg, rec, docs->ids[doc], stripped, new_len) != 0)
                goto done;
            (*kept)++;
        }
    }
    rc = outfile_commit(&removed_file) == 0 ? EXIT_OK : EXIT_FAIL;
done:
    outfile_abort(&removed_file);
    replay_close(cur);
    free(r);
    free(spans);
    free(stripped);
    return rc;
}
