/* unit_output.c - pass 2 with --unit paragraph|line: report groups of
 * repeated units, or write documents back without the repeats.
 *
 * The index held units; each group (a cluster of units) lists occurrences
 * in input order, the first occurrence first. Pass 2 reads the records
 * back in order (replay_next: the input again, or the spool for stdin and
 * pipes): for scan, to cut a preview of each group's first occurrence; for
 * dedup, to remove spans.
 *
 * What dedup removes: every occurrence but the first of each group, or
 * every occurrence of a group found in --boilerplate N or more documents.
 * Removing text should leave the rest as it was, so a removed span that is
 * the whole of its line(s) takes its line end with it, and when that leaves
 * two blank lines where there was one (a paragraph removed between two
 * others), the extra blank line goes too. Nothing else changes: every kept
 * paragraph is byte for byte what it was.
 */
#include <stdlib.h> /* qsort, malloc */
#include <string.h> /* strlen, memcpy */

#include <jansson.h> /* json_loadb, json_dumps */

#include "document.h"
#include "run.h"

/* Write the record `line` with its text field's value replaced by `text`:
 * only the bytes of that value change (ids beyond 64 bits, number
 * formats, key order and spacing stay as they were). Falls back to
 * jansson's re-serialization when the field cannot be located. */
static int write_with_text(const run_state *st, const char *line, size_t len, const char *text, size_t text_len)
{
    size_t start, stop;
    json_t *str = json_stringn(text, text_len);
    char *encoded = str ? json_dumps(str, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
    json_decref(str);
    if (encoded && record_field_span(line, len, st->cfg->text_field, &start, &stop)) {
        fwrite(line, 1, start, stdout);
        fputs(encoded, stdout);
        fwrite(line + stop, 1, len - stop, stdout);
        putchar('\n');
        free(encoded);
        return 0;
    }
    free(encoded);
    json_error_t err;
    size_t invalid;
    json_t *root = cli_json_load(line, len, &err, NULL, &invalid);
    if (!root)
        return -1;
    json_object_set_new(root, st->cfg->text_field, json_stringn(text, text_len));
    char *dumped = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    if (!dumped)
        return -1;
    puts(dumped);
    free(dumped);
    return 0;
}

/* The text of a record read back (replay_next) as pass 1 read it (doc_view: the fast path
 * for flat records, jansson otherwise), for the group previews of scan.
 * Returns 0 with *v open (close it), or -1. */
static int record_read_back(const run_state *st, const char *line, size_t len, doc_view *v)
{
    record rec;
    memset(&rec, 0, sizeof rec);
    rec.data = (char *)(uintptr_t)line; /* read only */
    rec.len = len;
    rec.kind = RECORD_JSON;
    if (doc_view_open(v, st->cfg, st->in, &rec) != ND_OK)
        return -1;
    if (v->error) {
        doc_view_close(v);
        return -1;
    }
    return 0;
}

static size_t distinct_documents(const run_state *st, const nd_member *m, size_t size)
{
    size_t n = 0;
    for (size_t k = 0; k < size; k++) {
        if (k == 0 || st->unit_doc[m[k].doc] != st->unit_doc[m[k - 1].doc])
            n++;
    }
    return n;
}

/* ****  scan  **** */

int units_write_scan(run_state *st, const nd_clusters *groups)
{
    size_t n = nd_clusters_count(groups);
    replay cur;
    if (replay_open(&cur, st) != 0) {
        replay_close(&cur);
        return EXIT_FAIL;
    }
    const char *line = NULL;
    size_t len = 0, next_doc = 0;
    int rc = EXIT_OK;
    for (size_t g = 0; g < n && rc == EXIT_OK; g++) {
        const nd_member *m;
        size_t size = nd_clusters_get(groups, g, &m);
        size_t first = m[0].doc;
        size_t doc = st->unit_doc[first];
        /* groups are ordered by first occurrence, so doc never goes back */
        while (next_doc <= doc && rc == EXIT_OK) {
            rc = replay_next(&cur, next_doc, &line, &len) == 0 ? EXIT_OK : EXIT_FAIL;
            next_doc++;
        }
        if (rc != EXIT_OK)
            break;
        doc_view view;
        char *preview = NULL;
        nd_span sp = st->unit_span[first];
        if (record_read_back(st, line, len, &view) == 0) {
            if (sp.end <= view.len)
                preview = text_preview(view.text + sp.start, sp.end - sp.start, 80);
            doc_view_close(&view);
        }
        size_t docs = distinct_documents(st, m, size);
        printf("{\"group\":%zu,\"size\":%zu,\"documents\":%zu,", g, size, docs);
        if (st->cfg->boilerplate)
            printf("\"boilerplate\":%s,", docs >= st->cfg->boilerplate ? "true" : "false");
        fputs("\"occurrences\":[", stdout);
        for (size_t k = 0; k < size; k++) {
            const char *id = st->ids[st->unit_doc[m[k].doc]];
            fputs(k ? ",{\"id\":" : "{\"id\":", stdout);
            out_string(stdout, id, strlen(id));
            printf(",\"start\":%zu,\"end\":%zu}", st->unit_span[m[k].doc].start, st->unit_span[m[k].doc].end);
        }
        fputs("],\"jaccard\":[", stdout);
        for (size_t k = 0; k < size; k++) {
            if (k)
                putchar(',');
            out_number(stdout, m[k].jaccard);
        }
        fputs("],\"text\":", stdout);
        out_string(stdout, preview ? preview : "", preview ? strlen(preview) : 0);
        printf(",\"profile\":\"%s\"}\n", cli_profile_label(&st->cfg->opts));
        free(preview);
    }
    replay_close(&cur);
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

static int is_blank_char(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

static int only_blank(const char *text, size_t from, size_t to)
{
    for (size_t i = from; i < to; i++) {
        if (!is_blank_char(text[i]))
            return 0;
    }
    return 1;
}

/* Does the output so far end at a paragraph break (empty, or its last line
 * is blank)? */
static int ends_at_break(const char *out, size_t w)
{
    size_t i = w;
    while (i > 0 && is_blank_char(out[i - 1]))
        i--;
    if (i == 0)
        return 1;
    if (out[i - 1] != '\n')
        return 0;
    i--;
    while (i > 0 && is_blank_char(out[i - 1]))
        i--;
    return i == 0 || out[i - 1] == '\n';
}

/* Remove spans r[0..n) (sorted by start) from text; *out gets the result. */
static char *strip_spans(const char *text, size_t len, const removal *r, size_t n, size_t *out_len)
{
    char *out = malloc(len + 1);
    if (!out)
        return NULL;
    size_t w = 0, pos = 0;
    size_t i = 0;
    int removed_at_end = 0;
    while (i < n) {
        /* merge spans separated only by blanks on the same line */
        size_t start = r[i].span.start, end = r[i].span.end;
        i++;
        while (i < n && r[i].span.start <= len && (r[i].span.start <= end || only_blank(text, end, r[i].span.start))) {
            if (r[i].span.end > end)
                end = r[i].span.end;
            i++;
        }
        if (start < pos)
            start = pos;
        if (end <= start)
            continue;
        /* whole lines? take the line end too */
        size_t line_start = start;
        while (line_start > 0 && text[line_start - 1] != '\n')
            line_start--;
        size_t line_end = end;
        while (line_end < len && text[line_end] != '\n')
            line_end++;
        int whole_lines = only_blank(text, line_start, start) && only_blank(text, end, line_end);
        if (whole_lines) {
            start = line_start > pos ? line_start : pos;
            end = line_end < len ? line_end + 1 : len;
        }
        memcpy(out + w, text + pos, start - pos);
        w += start - pos;
        pos = end;
        if (whole_lines && ends_at_break(out, w)) {
            /* skip the blank lines that followed the removed block */
            while (pos < len) {
                size_t e = pos;
                while (e < len && text[e] != '\n')
                    e++;
                if (!only_blank(text, pos, e))
                    break;
                pos = e < len ? e + 1 : len;
            }
        }
        removed_at_end = only_blank(text, pos, len) && (pos == len || text[len - 1] == '\n');
    }
    memcpy(out + w, text + pos, len - pos);
    w += len - pos;
    if (removed_at_end) {
        /* the text ended with removed lines: leave no blank lines behind */
        size_t k = w;
        while (k > 0 && (is_blank_char(out[k - 1]) || out[k - 1] == '\n'))
            k--;
        if (k < w) {
            w = k;
            if (w > 0 && len > 0 && text[len - 1] == '\n')
                out[w++] = '\n';
        }
    }
    out[w] = '\0';
    *out_len = w;
    return out;
}

/* The removals, sorted by document and start. */
static removal *collect_removals(const run_state *st, const nd_clusters *groups, size_t *count)
{
    size_t n = nd_clusters_count(groups), total = 0;
    for (size_t g = 0; g < n; g++) {
        const nd_member *m;
        total += nd_clusters_get(groups, g, &m);
    }
    removal *r = malloc((total ? total : 1) * sizeof *r);
    if (!r)
        return NULL;
    size_t w = 0;
    for (size_t g = 0; g < n; g++) {
        const nd_member *m;
        size_t size = nd_clusters_get(groups, g, &m);
        int all = st->cfg->boilerplate && distinct_documents(st, m, size) >= st->cfg->boilerplate;
        for (size_t k = all ? 0 : 1; k < size; k++)
            r[w++] = (removal){st->unit_doc[m[k].doc], st->unit_span[m[k].doc], g};
    }
    qsort(r, w, sizeof *r, compare_removal);
    *count = w;
    return r;
}

static int write_spans_annotation(const run_state *st, const char *line, size_t len, const removal *r, size_t n)
{
    char *field = NULL;
    size_t field_len = 0;
    FILE *mem = open_memstream(&field, &field_len);
    if (!mem)
        return -1;
    fputs("\"neardup\":{\"spans\":[", mem);
    for (size_t k = 0; k < n; k++)
        fprintf(mem, "%s[%zu,%zu,%zu]", k ? "," : "", r[k].span.start, r[k].span.end, r[k].group);
    fprintf(mem, "],\"profile\":\"%s\"}", cli_profile_label(&st->cfg->opts));
    fclose(mem);
    write_with_field(stdout, line, len, field);
    free(field);
    return 0;
}

int units_write_dedup(run_state *st, const nd_clusters *groups, uint64_t *kept, uint64_t *dropped,
                      uint64_t *units_removed)
{
    size_t count = 0;
    removal *r = collect_removals(st, groups, &count);
    FILE *removed_file = NULL;
    replay cur;
    memset(&cur, 0, sizeof cur);
    const char *line = NULL;
    size_t len = 0;
    int rc = EXIT_FAIL;
    if (!r) {
        cli_error("out of memory");
        goto done;
    }
    if (open_removed(st, &removed_file) != 0 || replay_open(&cur, st) != 0)
        goto done;
    size_t k = 0;
    for (size_t doc = 0; doc < st->doc_count; doc++) {
        if (replay_next(&cur, doc, &line, &len) != 0)
            goto done;
        size_t first = k;
        while (k < count && r[k].doc == doc)
            k++;
        size_t n = k - first;
        *units_removed += n;
        if (st->cfg->annotate) {
            write_spans_annotation(st, line, len, r + first, n);
            (*kept)++;
            continue;
        }
        if (n == 0) {
            fwrite(line, 1, len, stdout);
            putchar('\n');
            (*kept)++;
            continue;
        }
        doc_view view;
        if (record_read_back(st, line, len, &view) != 0) {
            cli_error("%s: cannot read the record back", st->ids[doc]);
            goto done;
        }
        size_t new_len;
        char *stripped = strip_spans(view.text, view.len, r + first, n, &new_len);
        doc_view_close(&view);
        if (!stripped) {
            cli_error("out of memory");
            goto done;
        }
        if (strspn(stripped, " \t\r\n") == new_len) { /* nothing but white space left */
            (*dropped)++;
            if (removed_file) {
                fwrite(line, 1, len, removed_file);
                fputc('\n', removed_file);
            }
        } else {
            if (write_with_text(st, line, len, stripped, new_len) != 0) {
                free(stripped);
                cli_error("out of memory");
                goto done;
            }
            (*kept)++;
        }
        free(stripped);
    }
    rc = EXIT_OK;
done:
    if (removed_file)
        fclose(removed_file);
    replay_close(&cur);
    free(r);
    return rc;
}
