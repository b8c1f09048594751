/* inspect.c - the commands that show what the detector sees:
 * `normalize` (tokens and shingles per document), `explain` (why two
 * documents match or not) and `params` (the LSH banding and its S-curve).
 *
 * explain reports, for documents A and B with shingle sets S_A and S_B:
 *   exact Jaccard       |S_A ∩ S_B| / |S_A ∪ S_B|   (what scan verifies and reports)
 *   containment of A in B  |S_A ∩ S_B| / |S_A|      (how much of A is inside B)
 *   estimated Jaccard   share of equal MinHash values
 *   chance of a match   Mash's p-value of the overlap, for the Jaccard and
 *                       each containment (chance.c), over a space of
 *                       V^k possible shingles, V the distinct words (or
 *                       characters) of the two texts
 *   verdict             under --measure, --threshold, --min-shingles
 *   bands collided      the LSH bands whose keys agree (any => a candidate pair)
 *   shared runs         maximal runs of equal tokens, longest first, with byte spans
 * All of it is computed by the library (nd_explain(), src/explain.c, which
 * also defines the runs and the shingle space), so the Python module
 * reports the same; this file finds the two documents and prints.
 */
#include <errno.h>  /* errno, EIO */
#include <math.h>   /* sqrt, pow, isinf */
#include <stdlib.h> /* malloc, free */
#include <string.h> /* strcmp, strlen, memcpy, memset */

#include "cli.h"

#include "document.h"
#include "input.h"
#include "report.h"
#include "utf8check.h"

/* Read the next usable document (NULL at the end); bad records follow
 * --on-error. *status is EXIT_FAIL on a fatal error. */
/* What next_document() saw, for the checks at the end (report_input_check). */
typedef struct read_tally {
    uint64_t records, skipped;
    field_tally fields;
} read_tally;

/* The ill-formed sequences of text[0, len), as nd_utf8_repair counts
 * them, repaired a piece at a time into a scratch of fixed size (the
 * whole text's repair took three times its size: 100 MB for a document
 * of 34 MB). A piece ends before a byte that no sequence can run across:
 * one that is not a continuation byte, or one with three continuation
 * bytes before it (a sequence is four bytes at most), so that the pieces
 * count what the whole would. */
static size_t ill_formed_count(const char *text, size_t len, char *scratch, size_t piece)
{
    size_t invalid = 0, at = 0;
    while (at < len) {
        size_t end = len - at <= piece ? len : at + piece;
        for (size_t back = 0; end < len && back <= 3; back++) {
            if (((unsigned char)text[end - back] & 0xC0) != 0x80) {
                end -= back; /* before a byte that starts something */
                break;
            } /* else four continuation bytes: none before them reaches `end` */
        }
        size_t out_len;
        invalid += nd_utf8_repair(scratch, &out_len, text + at, end - at);
        at = end;
    }
    return invalid;
}

/* The warning scan gives a document with ill-formed UTF-8 (read as
 * U+FFFD here too: by the JSON reader, or by the normalizer in a plain
 * text), so that normalize and explain are not silent about it. */
static int warn_invalid_utf8(const doc_view *view, const record *rec)
{
    enum { PIECE = 1 << 16 };
    size_t invalid = view->invalid_utf8;
    if (rec->kind == RECORD_TEXT && !utf8_well_formed(view->text, view->len)) {
        char *scratch = malloc(3 * PIECE + 1);
        if (!scratch) {
            cli_error("out of memory");
            return -1;
        }
        invalid += ill_formed_count(view->text, view->len, scratch, PIECE);
        free(scratch);
    }
    if (invalid > 0)
        cli_warn_of(WARN_INVALID_UTF8, "%s: invalid UTF-8 (%zu sequence%s read as U+FFFD)", view->id, invalid,
                    invalid == 1 ? "" : "s");
    return 0;
}

static int next_document(input *in, const cli_config *cfg, record *rec, doc_view *view, int *status, read_tally *t)
{
    for (;;) {
        int rc = input_next(in, rec);
        if (rc <= 0) {
            if (rc < 0)
                *status = EXIT_FAIL;
            return 0;
        }
        if (doc_view_open(view, cfg, in, rec) != ND_OK) {
            cli_error("out of memory");
            free(rec->data);
            *status = EXIT_FAIL;
            return 0;
        }
        t->records++;
        field_tally_add(&t->fields, view->fields);
        if (!view->error) {
            if (warn_invalid_utf8(view, rec) == 0)
                return 1;
            doc_view_close(view);
            free(rec->data);
            *status = EXIT_FAIL;
            return 0;
        }
        if (cfg->on_error == ON_ERROR_FAIL) {
            cli_error("%s", view->error);
            doc_view_close(view);
            free(rec->data);
            *status = EXIT_FAIL;
            return 0;
        }
        cli_warn_of(WARN_SKIPPED, "%s; skipped", view->error);
        t->skipped++;
        doc_view_close(view);
        free(rec->data);
    }
}

static const char *shingle_label(const nd_options *opts, const nd_tokens *tokens, char *buf, size_t size)
{
    unsigned n;
    nd_shingle_kind kind = nd_shingle_choice(&n, opts, tokens);
    snprintf(buf, size, "%s:%u", kind == ND_SHINGLE_CHARS ? "chars" : "words", n);
    return buf;
}

int cli_normalize(const cli_config *cfg)
{
    input *in = NULL;
    nd_sketcher *sk = NULL;
    int status = input_open(&in, cfg);
    if (status != EXIT_OK)
        return status;
    if (nd_sketcher_new(&sk, &cfg->opts) != ND_OK) {
        cli_error("cannot start the normalizer");
        input_close(in);
        return EXIT_FAIL;
    }
    record rec;
    doc_view view;
    read_tally tally = {0};
    while (next_document(in, cfg, &rec, &view, &status, &tally)) {
        nd_sketch sketch = ND_SKETCH_INIT;
        if (nd_sketch_text(&sketch, sk, view.text, view.len) != ND_OK) {
            cli_error("%s: normalization failed", view.id);
            status = EXIT_FAIL;
        } else {
            const nd_tokens *t = nd_sketcher_tokens(sk);
            fputs("{\"id\":", stdout);
            out_string(stdout, view.id, strlen(view.id));
            printf(",\"profile\":\"%s\",\"tokens\":[", cli_profile_label(&cfg->opts));
            for (size_t i = 0; i < t->count; i++) {
                if (i)
                    putchar(',');
                out_string(stdout, t->text + t->items[i].norm_start, t->items[i].norm_len);
            }
            fputs("],\"spans\":[", stdout);
            for (size_t i = 0; i < t->count; i++)
                printf("%s[%zu,%zu]", i ? "," : "", t->items[i].start, t->items[i].end);
            putchar(']');
            if (cfg->show_shingles) {
                char label[32];
                printf(",\"shingle\":\"%s\",\"shingles\":[", shingle_label(&cfg->opts, t, label, sizeof label));
                for (size_t i = 0; i < sketch.count; i++)
                    printf("%s%u", i ? "," : "", sketch.ids[i]);
                putchar(']');
            }
            puts("}");
        }
        nd_sketch_clear(&sketch);
        doc_view_close(&view);
        free(rec.data);
        if (status != EXIT_OK)
            break;
    }
    nd_sketcher_free(sk);
    input_close(in);
    cli_warn_flush(); /* the count of warnings past the first few */
    if (status == EXIT_OK)
        status = report_input_check(cfg, tally.records, tally.skipped, &tally.fields);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        cli_error("cannot write the output: %s", strerror(errno ? errno : EIO));
        return EXIT_FAIL;
    }
    return status;
}

/* ****  explain  **** */

typedef struct side {
    char *id;
    char *text;
    size_t len;
} side;

/* A probability given as its log10, readably: 0.0123, 3.4e-12, 10^-1234. */
static void print_chance(FILE *f, double log10_p)
{
    if (log10_p >= -4)
        fprintf(f, "%.4f", pow(10, log10_p));
    else if (log10_p >= -300)
        fprintf(f, "%.2g", pow(10, log10_p));
    else if (isinf(log10_p))
        fputs("0", f);
    else
        fprintf(f, "10^%.0f", log10_p);
}

/* A log10 in JSON: null for a probability of 0 (-infinity). */
static void out_log10(FILE *f, double log10_p)
{
    if (isinf(log10_p))
        fputs("null", f);
    else
        out_number(f, log10_p);
}

/* Find the two documents: by --id, or the only documents of the two paths. */
static int load_sides(const cli_config *cfg, side sides[2])
{
    input *in = NULL;
    int status = input_open(&in, cfg);
    if (status != EXIT_OK)
        return status;
    record rec;
    doc_view view;
    int found = 0, total = 0;
    size_t named[2] = {0, 0}; /* documents with each --id */
    read_tally tally = {0};
    while (next_document(in, cfg, &rec, &view, &status, &tally)) {
        int slot = -1;
        if (cfg->explain_id_count == 2) {
            for (int k = 0; k < 2; k++)
                named[k] += strcmp(view.id, cfg->explain_ids[k]) == 0;
            for (int k = 0; k < 2; k++) {
                if (!sides[k].id && strcmp(view.id, cfg->explain_ids[k]) == 0) {
                    slot = k;
                    break;
                }
            }
        } else if (total < 2) {
            slot = total;
        }
        total++;
        if (slot >= 0) {
            sides[slot].id = view.id;
            view.id = NULL;
            sides[slot].text = malloc(view.len + 1);
            if (sides[slot].text) {
                memcpy(sides[slot].text, view.text, view.len);
                sides[slot].len = view.len;
            }
            found++;
        }
        doc_view_close(&view);
        free(rec.data);
    }
    input_close(in);
    cli_warn_flush(); /* the count of warnings past the first few */
    if (status == EXIT_OK)
        status = report_input_check(cfg, tally.records, tally.skipped, &tally.fields);
    if (status != EXIT_OK)
        return status;
    for (int k = 0; k < cfg->explain_id_count && k < 2; k++) {
        /* ids need not be unique: say which of several is explained */
        int twice = strcmp(cfg->explain_ids[0], cfg->explain_ids[1]) == 0;
        if (named[k] > (twice ? 2u : 1u) && (k == 0 || !twice))
            cli_warn("explain: %zu documents have id '%s'; the %s in input order %s explained", named[k],
                     cfg->explain_ids[k], twice ? "first two" : "first", twice ? "are" : "is");
    }
    if (cfg->explain_id_count == 2 && found < 2) {
        if (found == 1 && strcmp(cfg->explain_ids[0], cfg->explain_ids[1]) == 0) {
            cli_error("explain: --id '%s' is given twice, and only one document in the inputs has that id "
                      "(two documents with one id are taken in input order)",
                      cfg->explain_ids[0]);
            return EXIT_FAIL;
        }
        for (int k = 0; k < 2; k++) {
            if (!sides[k].id)
                cli_error("explain: no document with id '%s' in the inputs", cfg->explain_ids[k]);
        }
        return EXIT_FAIL;
    }
    if (cfg->explain_id_count == 0 && total != 2) {
        cli_error("explain: the two paths hold %d documents, not 2; name two of them with --id", total);
        return EXIT_FAIL;
    }
    return (sides[0].text && sides[1].text) ? EXIT_OK : EXIT_FAIL;
}

/* Print the runs (at most 10, from nd_explain()) with a preview of each. */
static void print_runs(const nd_explanation *e, const side *a, int json)
{
    for (size_t r = 0; r < e->run_count; r++) {
        const nd_shared_run *s = &e->runs[r];
        char *preview = text_preview(a->text + s->a.start, s->a.end - s->a.start, 60);
        if (json) {
            printf("%s{\"tokens\":%zu,\"a\":[%zu,%zu],\"b\":[%zu,%zu],\"text\":", r ? "," : "", s->tokens, s->a.start,
                   s->a.end, s->b.start, s->b.end);
            out_string(stdout, preview ? preview : "", preview ? strlen(preview) : 0);
            putchar('}');
        } else {
            printf("  %4zu  A[%zu, %zu)  B[%zu, %zu)  %s\n", s->tokens, s->a.start, s->a.end, s->b.start, s->b.end,
                   preview ? preview : "");
        }
        free(preview);
    }
}

static void print_json(const nd_explanation *e, const nd_options *o, const side sides[2], const char *label)
{
    int containment = o->measure == ND_MEASURE_CONTAINMENT;
    fputs("{\"a\":{\"id\":", stdout);
    out_string(stdout, sides[0].id, strlen(sides[0].id));
    printf(",\"tokens\":%zu,\"shingles\":%zu},\"b\":{\"id\":", e->tokens_a, e->shingles_a);
    out_string(stdout, sides[1].id, strlen(sides[1].id));
    printf(",\"tokens\":%zu,\"shingles\":%zu},\"profile\":\"%s\",\"shingle\":\"%s\",", e->tokens_b, e->shingles_b,
           cli_profile_label(o), label);
    printf("\"shared_shingles\":%zu,\"jaccard\":", e->shared_shingles);
    out_number(stdout, e->jaccard);
    fputs(",\"containment_a_in_b\":", stdout);
    out_number(stdout, e->containment_a_in_b);
    fputs(",\"containment_b_in_a\":", stdout);
    out_number(stdout, e->containment_b_in_a);
    fputs(",\"estimated_jaccard\":", stdout);
    out_number(stdout, e->estimated_jaccard);
    fputs(",\"shingle_space\":", stdout);
    out_number(stdout, e->shingle_space);
    fputs(",\"chance_jaccard_log10\":", stdout);
    out_log10(stdout, e->chance_jaccard_log10);
    fputs(",\"chance_a_in_b_log10\":", stdout);
    out_log10(stdout, e->chance_a_in_b_log10);
    fputs(",\"chance_b_in_a_log10\":", stdout);
    out_log10(stdout, e->chance_b_in_a_log10);
    printf(",\"bands\":%u,\"rows\":%u,\"bands_collided\":[", e->bands, e->rows);
    for (unsigned j = 0; j < e->collided_count; j++)
        printf("%s%u", j ? "," : "", e->bands_collided[j]);
    printf("],\"candidate\":%s,\"measure\":\"%s\",\"min_shingles\":%u,\"threshold\":", e->candidate ? "true" : "false",
           containment ? "containment" : "jaccard", o->min_shingles);
    out_number(stdout, o->threshold);
    printf(",\"match\":%s,\"runs\":[", e->match ? "true" : "false");
    print_runs(e, &sides[0], 1);
    printf("],\"runs_complete\":%s}\n", e->runs_too_many ? "false" : "true");
}

static void print_text(const nd_explanation *e, const nd_options *o, const side sides[2], const char *label)
{
    int containment = o->measure == ND_MEASURE_CONTAINMENT;
    printf("A: %s (%zu tokens, %zu shingles)\n", sides[0].id, e->tokens_a, e->shingles_a);
    printf("B: %s (%zu tokens, %zu shingles)\n", sides[1].id, e->tokens_b, e->shingles_b);
    printf("profile %s, shingles %s, %u hashes, %u bands x %u rows\n\n", cli_profile_label(o), label, o->num_perm,
           e->bands, e->rows);
    printf("exact Jaccard        %.6g  (%zu shared of %zu shingles in A or B)\n", e->jaccard, e->shared_shingles,
           e->shingles_a + e->shingles_b - e->shared_shingles);
    printf("containment A in B   %.6g  (share of A's shingles found in B)\n", e->containment_a_in_b);
    printf("containment B in A   %.6g\n", e->containment_b_in_a);
    printf("estimated Jaccard    %.6g  (MinHash, %u values; standard error %.3f)\n", e->estimated_jaccard, o->num_perm,
           sqrt(e->jaccard * (1 - e->jaccard) / o->num_perm));
    printf("chance of a match    Jaccard ");
    print_chance(stdout, e->chance_jaccard_log10);
    printf(", A in B ");
    print_chance(stdout, e->chance_a_in_b_log10);
    printf(", B in A ");
    print_chance(stdout, e->chance_b_in_a_log10);
    printf("\n                     (Mash's p-value: this many shared shingles between random texts of these\n"
           "                     sizes over %.3g possible shingles; real text shares stock phrases more often)\n",
           e->shingle_space);
    printf("bands collided       %u of %u", e->collided_count, e->bands);
    for (unsigned j = 0; j < e->collided_count; j++)
        printf("%s%u", j ? " " : ": ", e->bands_collided[j]);
    if (containment)
        printf("\ncandidate            yes (--measure containment: every pair that can match is checked)\n");
    else
        printf("\nLSH candidate        %s (P = %.4f at this Jaccard)\n", e->candidate ? "yes" : "no",
               nd_lsh_probability(e->jaccard, e->bands, e->rows));
    if (containment)
        printf("verdict              %s by containment at threshold %.4g (texts of at least %u shingles)\n",
               e->match ? "MATCH" : "no match", o->threshold, o->min_shingles);
    else
        printf("verdict              %s at threshold %.4g\n",
               e->match ? (e->candidate ? "MATCH" : "similar enough, but LSH missed the pair") : "no match",
               o->threshold);
    printf("\nlongest shared runs (at least %zu tokens): tokens, bytes in A, bytes in B\n", e->min_run);
    if (e->runs_too_many)
        printf("  (not listed: the texts share too many runs to rank them in time linear in their length, as\n"
               "   texts over a tiny vocabulary do; the figures above are exact)\n");
    else if (e->run_count == 0)
        printf("  (none)\n");
    print_runs(e, &sides[0], 0);
}

int cli_explain(const cli_config *cfg)
{
    side sides[2];
    memset(sides, 0, sizeof sides);
    nd_explanation *e = NULL;
    int status = load_sides(cfg, sides);
    if (status != EXIT_OK)
        goto done;
    status = EXIT_FAIL;
    int rc = nd_explain(&e, &cfg->opts, sides[0].text, sides[0].len, sides[1].text, sides[1].len, 10);
    if (rc != ND_OK) {
        cli_error("cannot explain '%s' and '%s': %s", sides[0].id, sides[1].id, nd_strerror(rc));
        goto done;
    }
    char label[32];
    snprintf(label, sizeof label, "%s:%u", e->shingle_kind == ND_SHINGLE_CHARS ? "chars" : "words", e->shingle_size);
    if (cfg->json_output)
        print_json(e, &cfg->opts, sides, label);
    else
        print_text(e, &cfg->opts, sides, label);
    status = EXIT_OK;
done:
    nd_explanation_free(e);
    for (int k = 0; k < 2; k++) {
        free(sides[k].id);
        free(sides[k].text);
    }
    return status;
}

/* ****  params  **** */

int cli_params(const cli_config *cfg)
{
    const nd_options *o = &cfg->opts;
    printf("threshold %.4g, %u hashes: %u bands x %u rows (%u of %u hashes used)\n", o->threshold, o->num_perm,
           o->bands, o->rows, o->bands * o->rows, o->num_perm);
    printf("similarity  P(candidate)\n");
    for (int i = 3; i <= 10; i++) {
        double s = i / 10.0;
        printf("%-10.2f  %.4f\n", s, nd_lsh_probability(s, o->bands, o->rows));
    }
    printf("the S-curve is steepest near s = %.3f = (1/b)^(1/r)\n", pow(1.0 / o->bands, 1.0 / o->rows));
    return EXIT_OK;
}
