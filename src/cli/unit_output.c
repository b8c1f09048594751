/* unit_output.c - pass 2 with --unit paragraph|line: report groups of
 * repeated units, or write documents back without the repeats.
 *
 * The index held units; each group (a cluster of units) lists occurrences
 * in input order, the kept occurrence (by --keep) first. Pass 2 reads the records
 * back in order (replay.c): for scan, to cut a preview of each group's
 * first occurrence (where pass 1 found the records when it could,
 * replay_at.c; the second half by another reader with two threads or
 * more); for dedup, to remove spans (nd_remove_spans, which also tidies
 * the line ends and blank lines the removal leaves). A group's line is
 * made in unit_line.c.
 *
 * What dedup removes: every occurrence but the first of each group, or
 * every occurrence of a group found in --boilerplate N or more documents.
 * Only the bytes of the text value change: a JSON record keeps every other
 * byte, a plain text becomes {"id": ..., "text": ...} with its new text.
 */
#include "unit_output.h"

#include <pthread.h> /* pthread_create, pthread_join */
#include <stdlib.h>  /* qsort, malloc */
#include <stdint.h>  /* uint64_t */
#include <string.h>  /* strlen, memcpy */

#include "doc_output.h"
#include "json.h"
#include "outfile.h"

static size_t distinct_documents(const doctable *docs, const nd_member *m, size_t size)
{
    size_t n = 0;
    for (size_t k = 0; k < size; k++) {
        if (k == 0 || doctable_unit_doc(docs, m[k].doc) != doctable_unit_doc(docs, m[k - 1].doc))
            n++;
    }
    return n;
}

/* ****  scan  **** */

/* A preview's length in characters (nd_text_preview). */
enum { PREVIEW_CHARS = 80 };

char *unit_output_preview(const char *text, size_t text_len, nd_span span)
{
    return span.end <= text_len ? text_preview(text + span.start, span.end - span.start, PREVIEW_CHARS) : NULL;
}

void preview_arenas_free(preview_arenas *mem)
{
    arena_free(&mem->reader[0]);
    arena_free(&mem->reader[1]);
}

typedef struct preview_request {
    size_t unit, position;
} preview_request;

/* Where one reader puts its previews: each in `mem` when it is not NULL
 * (unit_output_scan: 46,000 previews of a syndicated corpus, a malloc and
 * a free each, and their pages, cost more than cutting them), else newly
 * allocated. `scratch` holds a preview while it is cut (room for the
 * unit's length + 3 bytes: nd_text_preview). */
typedef struct preview_sink {
    arena *mem;
    char *scratch;
    size_t scratch_capacity;
} preview_sink;

/* unit_output_preview into s: in its arena, cut in its scratch (NULL
 * when out of memory or the span is past the text). */
static char *sink_preview(preview_sink *s, const char *text, size_t text_len, nd_span span)
{
    if (!s->mem || span.end > text_len)
        return unit_output_preview(text, text_len, span);
    size_t len = span.end - span.start;
    if (len + 4 > s->scratch_capacity) {
        char *grown = realloc(s->scratch, len + 4);
        if (!grown)
            return NULL;
        s->scratch = grown;
        s->scratch_capacity = len + 4;
    }
    size_t n = nd_text_preview(s->scratch, text + span.start, len, PREVIEW_CHARS);
    char *copy = arena_alloc(s->mem, n + 1);
    if (copy) {
        memcpy(copy, s->scratch, n);
        copy[n] = '\0';
    }
    return copy;
}

static int compare_request(const void *pa, const void *pb)
{
    const preview_request *a = pa, *b = pb;
    if (a->unit != b->unit)
        return (a->unit > b->unit) - (a->unit < b->unit);
    return (a->position > b->position) - (a->position < b->position);
}

/* The previews of req[0, n) (sorted) with `at`, where pass 1 found their
 * records. Returns EXIT_OK or EXIT_FAIL (reported). */
static int previews_at(replay_at *at, preview_sink *sink, const doctable *docs, const preview_request *req, size_t n,
                       char **out)
{
    int rc = EXIT_OK;
    const char *text = NULL;
    size_t text_len = 0;
    for (size_t i = 0; i < n && rc == EXIT_OK; i++) {
        size_t doc = doctable_unit_doc(docs, req[i].unit);
        /* (a record asked for again is still at hand) */
        if ((i == 0 || doc != doctable_unit_doc(docs, req[i - 1].unit)) &&
            replay_at_text(at, doc, &text, &text_len) != 0)
            rc = EXIT_FAIL;
        if (rc == EXIT_OK)
            out[req[i].position] = sink_preview(sink, text, text_len, doctable_unit_span(docs, req[i].unit));
    }
    return rc;
}

/* A second reader's share of the previews (previews_at on another thread). */
typedef struct previews_part {
    replay_at *at;
    preview_sink sink;
    const doctable *docs;
    const preview_request *req;
    size_t n;
    char **out;
    int rc;
} previews_part;

static void *previews_part_run(void *arg)
{
    previews_part *p = arg;
    p->rc = previews_at(p->at, &p->sink, p->docs, p->req, p->n, p->out);
    return NULL;
}

/* Fewer previews than this are read on one thread. */
enum { PREVIEWS_SHARED_MIN = 4096 };

int unit_output_previews(char **out, const doctable *docs, replay_source *src, const size_t *units, size_t n)
{
    return unit_output_previews_threads(out, NULL, docs, src, units, n, 1);
}

int unit_output_previews_threads(char **out, preview_arenas *mem, const doctable *docs, replay_source *src,
                                 const size_t *units, size_t n, unsigned threads)
{
    preview_request *req = malloc((n ? n : 1) * sizeof *req);
    if (!req) {
        cli_error("out of memory");
        return EXIT_FAIL;
    }
    for (size_t i = 0; i < n; i++) {
        req[i] = (preview_request){units[i], i};
        out[i] = NULL;
    }
    /* units are numbered in input order: sorted, their documents come in
     * the order the records are read back (groups come by their earliest
     * unit, so the requests of unit_output_scan are sorted already) */
    int sorted = 1;
    for (size_t i = 1; i < n && sorted; i++)
        sorted = compare_request(&req[i - 1], &req[i]) <= 0;
    if (!sorted)
        qsort(req, n, sizeof *req, compare_request);
    replay_at *at = NULL;
    if (n && replay_open_at(&at, src) != EXIT_OK) {
        free(req);
        return EXIT_FAIL;
    }
    if (at) {
        /* only the records that hold a preview, where pass 1 found them;
         * with two threads or more, the second half of them by a second
         * reader on another thread (each preview has its own place in
         * out: the same previews, whoever cuts them) */
        preview_sink sink = {mem ? &mem->reader[0] : NULL, NULL, 0};
        previews_part part = {NULL,   {mem ? &mem->reader[1] : NULL, NULL, 0}, docs, req + n / 2, n - n / 2, out,
                              EXIT_OK};
        pthread_t helper;
        int rc = threads >= 2 && n >= PREVIEWS_SHARED_MIN ? replay_open_at(&part.at, src) : EXIT_OK;
        int shared = rc == EXIT_OK && part.at && pthread_create(&helper, NULL, previews_part_run, &part) == 0;
        if (rc == EXIT_OK)
            rc = previews_at(at, &sink, docs, req, shared ? n / 2 : n, out);
        if (shared) {
            pthread_join(helper, NULL);
            rc = rc == EXIT_OK ? part.rc : rc;
        }
        if (rc == EXIT_OK && ((part.at && replay_at_unchanged(part.at) != 0) || replay_at_unchanged(at) != 0))
            rc = EXIT_FAIL; /* a file edited while its previews were read */
        replay_at_close(part.at);
        replay_at_close(at);
        free(sink.scratch);
        free(part.sink.scratch);
        free(req);
        return rc;
    }
    /* the documents whose text is asked for, so that a reader thread can
     * parse them ahead */
    unsigned char *want = calloc(docs->count ? docs->count : 1, 1);
    if (!want) {
        free(req);
        cli_error("out of memory");
        return EXIT_FAIL;
    }
    for (size_t i = 0; i < n; i++)
        want[doctable_unit_doc(docs, req[i].unit)] = 1;
    replay *cur = NULL;
    preview_sink sink = {mem ? &mem->reader[0] : NULL, NULL, 0};
    int rc = n && replay_open_texts(&cur, src, want) != EXIT_OK ? EXIT_FAIL : EXIT_OK;
    size_t next_doc = 0;
    for (size_t i = 0; i < n && rc == EXIT_OK; i++) {
        size_t doc = doctable_unit_doc(docs, req[i].unit);
        while (next_doc <= doc && rc == EXIT_OK) {
            const record *rec;
            rc = replay_next(cur, &rec) == 1 ? EXIT_OK : EXIT_FAIL;
            next_doc++;
        }
        const char *text;
        size_t text_len;
        if (rc == EXIT_OK && replay_text(cur, &text, &text_len) == 0)
            out[req[i].position] = sink_preview(&sink, text, text_len, doctable_unit_span(docs, req[i].unit));
    }
    replay_close(cur);
    free(sink.scratch);
    free(want);
    free(req);
    return rc;
}

typedef struct group_lines {
    const cli_config *cfg;
    const doctable *docs;
    const nd_clusters *groups;
    char **previews;
} group_lines;

/* out_lines' item: group g. */
static int write_group(FILE *out, size_t g, void *ctx)
{
    const group_lines *l = ctx;
    const doctable *docs = l->docs;
    enum { ON_STACK = 64 };
    const char *ids_stack[ON_STACK];
    nd_span spans_stack[ON_STACK];
    double jaccard_stack[ON_STACK];
    const nd_member *m;
    size_t size = nd_clusters_get(&m, l->groups, g);
    const char **ids = ids_stack;
    nd_span *spans = spans_stack;
    double *jaccard = jaccard_stack;
    if (size > ON_STACK) {
        ids = malloc(size * sizeof *ids);
        spans = malloc(size * sizeof *spans);
        jaccard = malloc(size * sizeof *jaccard);
    }
    int rc = ids && spans && jaccard ? 0 : -1;
    for (size_t k = 0; k < size && rc == 0; k++) {
        ids[k] = docs->ids[doctable_unit_doc(docs, m[k].doc)];
        spans[k] = doctable_unit_span(docs, m[k].doc);
        jaccard[k] = m[k].jaccard;
    }
    if (rc == 0)
        unit_output_group(out, l->cfg, g, size, distinct_documents(docs, m, size), ids, spans, jaccard, l->previews[g]);
    if (size > ON_STACK) {
        free(ids);
        free(spans);
        free(jaccard);
    }
    return rc;
}

int unit_output_scan(FILE *out, const cli_config *cfg, const doctable *docs, const nd_clusters *groups,
                     replay_source *src)
{
    size_t n = nd_clusters_count(groups);
    /* each group's preview is cut from its earliest occurrence (the one
     * listed first, kept by --keep, can be a later one); the previews are
     * cut in one reading in input order, before printing */
    size_t *earliest = calloc(n ? n : 1, sizeof *earliest);
    char **previews = calloc(n ? n : 1, sizeof *previews);
    if (!earliest || !previews) {
        free(earliest);
        free(previews);
        cli_error("out of memory");
        return EXIT_FAIL;
    }
    for (size_t g = 0; g < n; g++) {
        const nd_member *m;
        size_t size = nd_clusters_get(&m, groups, g);
        earliest[g] = m[0].doc;
        for (size_t k = 1; k < size; k++)
            earliest[g] = m[k].doc < earliest[g] ? m[k].doc : earliest[g];
    }
    preview_arenas mem = {0}; /* the previews */
    int rc = unit_output_previews_threads(previews, &mem, docs, src, earliest, n, cfg->threads);
    group_lines l = {cfg, docs, groups, previews};
    if (rc == EXIT_OK && out_lines(out, n, cfg->threads, write_group, &l) != 0) {
        cli_error("out of memory");
        rc = EXIT_FAIL;
    }
    preview_arenas_free(&mem);
    free(previews);
    free(earliest);
    return rc;
}

/* ****  dedup  **** */

static int compare_removal(const void *pa, const void *pb)
{
    const removal *a = pa, *b = pb;
    if (a->doc != b->doc)
        return (a->doc > b->doc) - (a->doc < b->doc);
    return (a->span.start > b->span.start) - (a->span.start < b->span.start);
}

void unit_output_sort_removals(removal *r, size_t count)
{
    qsort(r, count, sizeof *r, compare_removal);
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
            r[w++] = (removal){doctable_unit_doc(docs, m[k].doc), doctable_unit_span(docs, m[k].doc), g};
    }
    unit_output_sort_removals(r, w);
    *count = w;
    return r;
}

/* --annotate: the record with "neardup": {"spans": [[start, end, group], ...]}.
 * Returns 0, or -1 when out of memory. */
static int write_spans_annotation(FILE *out, const cli_config *cfg, const record *rec, const char *id, const removal *r,
                                  size_t n)
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
        json_write_with_member(out, rec->data, rec->len, "neardup", member);
    } else if (rc == 0) {
        mem = open_memstream(&built, &built_len);
        if (!mem)
            rc = -1;
        else {
            write_text_record(mem, cfg, id, rec->data, rec->len);
            rc = fclose(mem) == 0 && built_len > 0 ? 0 : -1;
        }
        if (rc == 0)
            json_write_with_member(out, built, built_len - 1, "neardup", member);
    }
    free(member);
    free(built);
    return rc;
}

/* Write the record with its text replaced by `text`: only the bytes of the
 * text value change, every other byte of the record is written as read
 * (the value jansson read as the text: keys compared unescaped, the last
 * of a repeated key). Never re-serialized: a record whose text cannot be
 * located is an error. Returns 0, or -1 (reported). */
static int write_with_text(FILE *out, const cli_config *cfg, const record *rec, const char *id, const char *text,
                           size_t len)
{
    if (rec->kind == RECORD_TEXT) {
        write_text_record(out, cfg, id, text, len);
        return 0;
    }
    size_t start, stop;
    if (json_member_locate(rec->data, rec->len, cfg->text_field, &start, &stop) != 1) {
        cli_error("%s: cannot find the \"%s\" field to write the record back", id, cfg->text_field);
        return -1;
    }
    fwrite(rec->data, 1, start, out);
    json_write_string(out, text, len);
    fwrite(rec->data + stop, 1, rec->len - stop, out);
    fputc('\n', out);
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

int unit_output_write(const cli_config *cfg, const doctable *docs, const removal *r, size_t count, replay_source *src,
                      dedup_target *target, uint64_t *kept, uint64_t *dropped, uint64_t *units_removed)
{
    nd_span *spans = NULL;
    char *stripped = NULL;
    size_t spans_capacity = 0, stripped_capacity = 0;
    replay *cur = NULL;
    int rc = EXIT_FAIL;
    /* the documents whose text is asked for (a reader thread parses them
     * ahead): those with spans to remove, unless only annotated */
    unsigned char *want = calloc(docs->count ? docs->count : 1, 1);
    if (!want) {
        cli_error("out of memory");
        goto done;
    }
    for (size_t i = 0; i < count && !cfg->annotate; i++)
        want[r[i].doc] = 1;
    if (replay_open_texts(&cur, src, want) != EXIT_OK)
        goto done;
    size_t k = 0;
    for (size_t doc = 0; doc < docs->count; doc++) {
        const record *rec;
        if (replay_next(cur, &rec) < 0)
            goto done;
        FILE *out = dedup_kept(target, rec->source);
        if (!out)
            goto done;
        size_t first = k;
        while (k < count && r[k].doc == doc)
            k++;
        size_t n = k - first;
        *units_removed += n;
        if (cfg->annotate) {
            if (write_spans_annotation(out, cfg, rec, docs->ids[doc], r + first, n) != 0) {
                cli_error("out of memory");
                goto done;
            }
            (*kept)++;
            continue;
        }
        if (n == 0) {
            if (rec->kind == RECORD_JSON) {
                fwrite(rec->data, 1, rec->len, out);
                fputc('\n', out);
            } else {
                write_text_record(out, cfg, docs->ids[doc], rec->data, rec->len);
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
            FILE *removed;
            if (dedup_removed(&removed, target, rec->source) != 0)
                goto done;
            /* with the spans that emptied it, as --annotate lists them
             * (--removed promises a "neardup" member; it had none) */
            if (removed && write_spans_annotation(removed, cfg, rec, docs->ids[doc], r + first, n) != 0) {
                cli_error("out of memory");
                goto done;
            }
        } else {
            if (write_with_text(out, cfg, rec, docs->ids[doc], stripped, new_len) != 0)
                goto done;
            (*kept)++;
        }
    }
    rc = EXIT_OK;
done:
    replay_close(cur);
    free(want);
    free(spans);
    free(stripped);
    return rc;
}

int unit_output_dedup(const cli_config *cfg, const doctable *docs, const nd_clusters *groups, replay_source *src,
                      dedup_target *target, uint64_t *kept, uint64_t *dropped, uint64_t *units_removed)
{
    size_t count = 0;
    removal *r = collect_removals(cfg, docs, groups, &count);
    if (!r) {
        cli_error("out of memory");
        return EXIT_FAIL;
    }
    int rc = unit_output_write(cfg, docs, r, count, src, target, kept, dropped, units_removed);
    free(r);
    return rc;
}
