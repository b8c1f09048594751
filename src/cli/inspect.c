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
 * Shared runs: every pair of positions (i, j) with equal tokens and unequal
 * predecessors starts a maximal run; runs shorter than the shingle size
 * share no shingle and are left out; the longest runs that do not overlap
 * in A are shown.
 */
#include <math.h>   /* sqrt, pow, isinf */
#include <stdlib.h> /* malloc, qsort */
#include <string.h> /* strcmp, strlen */

#include "cli.h"
#include "document.h"
#include "input.h"

/* Read the next usable document (NULL at the end); bad records follow
 * --on-error. *status is EXIT_FAIL on a fatal error. */
static int next_document(input *in, const cli_config *cfg, record *rec, doc_view *view, int *status)
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
        if (!view->error)
            return 1;
        if (cfg->on_error == ON_ERROR_FAIL) {
            cli_error("%s", view->error);
            doc_view_close(view);
            free(rec->data);
            *status = EXIT_FAIL;
            return 0;
        }
        cli_warn("%s; skipped", view->error);
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
    while (next_document(in, cfg, &rec, &view, &status)) {
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
    if (fflush(stdout) != 0) {
        cli_error("cannot write the output");
        return EXIT_FAIL;
    }
    return status;
}

/* ****  explain  **** */

typedef struct side {
    char *id;
    char *text;
    size_t len;
    nd_sketcher *sk;
    nd_sketch sketch;
} side;

typedef struct {
    uint64_t hash;
    size_t pos;
} hashed_pos;

static int compare_u64(const void *pa, const void *pb)
{
    uint64_t a = *(const uint64_t *)pa, b = *(const uint64_t *)pb;
    return (a > b) - (a < b);
}

static int compare_hashed(const void *pa, const void *pb)
{
    const hashed_pos *a = pa, *b = pb;
    if (a->hash != b->hash)
        return a->hash < b->hash ? -1 : 1;
    return (a->pos > b->pos) - (a->pos < b->pos);
}

typedef struct {
    size_t a, b, len; /* token positions and run length */
} shared_run;

static int compare_runs(const void *pa, const void *pb)
{
    const shared_run *x = pa, *y = pb;
    if (x->len != y->len)
        return x->len > y->len ? -1 : 1;
    if (x->a != y->a)
        return x->a < y->a ? -1 : 1;
    return (x->b > y->b) - (x->b < y->b);
}

/* All maximal shared runs of at least min_len tokens. */
static shared_run *find_runs(const nd_tokens *ta, const nd_tokens *tb, size_t min_len, size_t *count)
{
    size_t nb = tb->count;
    hashed_pos *index = malloc((nb ? nb : 1) * sizeof *index);
    size_t cap = 64, n = 0;
    shared_run *runs = malloc(cap * sizeof *runs);
    if (!index || !runs) {
        free(index);
        free(runs);
        return NULL;
    }
    for (size_t j = 0; j < nb; j++)
        index[j] = (hashed_pos){tb->items[j].hash, j};
    qsort(index, nb, sizeof *index, compare_hashed);
    for (size_t i = 0; i < ta->count; i++) {
        uint64_t h = ta->items[i].hash;
        size_t lo = 0, hi = nb;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (index[mid].hash < h)
                lo = mid + 1;
            else
                hi = mid;
        }
        for (size_t k = lo; k < nb && index[k].hash == h; k++) {
            size_t j = index[k].pos;
            if (i > 0 && j > 0 && ta->items[i - 1].hash == tb->items[j - 1].hash)
                continue; /* not the start of a maximal run */
            size_t len = 0;
            while (i + len < ta->count && j + len < nb && ta->items[i + len].hash == tb->items[j + len].hash)
                len++;
            if (len < min_len)
                continue;
            if (n == cap) {
                cap *= 2;
                shared_run *grown = realloc(runs, cap * sizeof *runs);
                if (!grown) {
                    free(index);
                    free(runs);
                    return NULL;
                }
                runs = grown;
            }
            runs[n++] = (shared_run){i, j, len};
        }
    }
    free(index);
    qsort(runs, n, sizeof *runs, compare_runs);
    *count = n;
    return runs;
}

/* The number of possible shingles, for the chance of a match (chance.c):
 * the distinct words (or, for character shingles, characters and the
 * space) of the two texts to the power of the shingle size, at most 2^32
 * (shingles are 32-bit ids). Counting only the two texts' own vocabulary
 * makes the space small, and the chance large, on purpose. */
static double shingle_space(const nd_tokens *ta, const nd_tokens *tb, int chars, unsigned size)
{
    size_t n = ta->count + tb->count, distinct = 0;
    uint64_t *symbols = NULL;
    if (chars) { /* characters of the normalized texts: a UTF-8 lead byte and its continuation bytes */
        symbols = malloc((ta->text_len + tb->text_len + 1) * sizeof *symbols);
        n = 0;
        for (int which = 0; symbols && which < 2; which++) {
            const nd_tokens *t = which ? tb : ta;
            for (size_t i = 0; i < t->text_len; i++) {
                uint64_t cp = (unsigned char)t->text[i];
                while (i + 1 < t->text_len && ((unsigned char)t->text[i + 1] & 0xC0) == 0x80)
                    cp = cp << 8 | (unsigned char)t->text[++i];
                symbols[n++] = cp;
            }
        }
    } else {
        symbols = malloc((n ? n : 1) * sizeof *symbols);
        for (size_t i = 0; symbols && i < n; i++)
            symbols[i] = i < ta->count ? ta->items[i].hash : tb->items[i - ta->count].hash;
    }
    if (!symbols)
        return 4294967296.0;
    qsort(symbols, n, sizeof *symbols, compare_u64);
    for (size_t i = 0; i < n; i++)
        distinct += i == 0 || symbols[i] != symbols[i - 1];
    free(symbols);
    double space = pow((double)(distinct + (size_t)chars), (double)size);
    return space < 4294967296.0 ? (space < 1 ? 1 : space) : 4294967296.0;
}

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
    while (next_document(in, cfg, &rec, &view, &status)) {
        int slot = -1;
        if (cfg->explain_id_count == 2) {
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
    if (status != EXIT_OK)
        return status;
    if (cfg->explain_id_count == 2 && found < 2) {
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

int cli_explain(const cli_config *cfg)
{
    side sides[2];
    memset(sides, 0, sizeof sides);
    shared_run *runs = NULL;
    int status = load_sides(cfg, sides);
    if (status != EXIT_OK)
        goto done;
    status = EXIT_FAIL;
    for (int k = 0; k < 2; k++) {
        sides[k].sketch = (nd_sketch)ND_SKETCH_INIT;
        if (nd_sketcher_new(&sides[k].sk, &cfg->opts) != ND_OK ||
            nd_sketch_text(&sides[k].sketch, sides[k].sk, sides[k].text, sides[k].len) != ND_OK) {
            cli_error("cannot sketch '%s'", sides[k].id);
            goto done;
        }
    }
    const nd_options *o = &cfg->opts;
    const nd_sketch *a = &sides[0].sketch, *b = &sides[1].sketch;
    const nd_tokens *ta = nd_sketcher_tokens(sides[0].sk), *tb = nd_sketcher_tokens(sides[1].sk);
    size_t shared = nd_intersection(a->ids, a->count, b->ids, b->count);
    double jaccard = nd_jaccard(a->ids, a->count, b->ids, b->count);
    double in_b = a->count ? (double)shared / (double)a->count : 0.0;
    double in_a = b->count ? (double)shared / (double)b->count : 0.0;
    double estimate = nd_signature_similarity(a->signature, b->signature, o->num_perm);
    uint64_t *keys = malloc(2 * o->bands * sizeof *keys);
    if (!keys)
        goto done;
    nd_lsh_band_keys(keys, a->signature, o->bands, o->rows);
    nd_lsh_band_keys(keys + o->bands, b->signature, o->bands, o->rows);
    unsigned collided = 0;
    int collided_band[4096];
    for (unsigned j = 0; j < o->bands; j++) {
        if (keys[j] == keys[o->bands + j] && a->count > 0)
            collided_band[collided++] = (int)j;
    }
    free(keys);
    int identical = a->count > 0 && a->count == b->count && shared == a->count;
    int containment = o->measure == ND_MEASURE_CONTAINMENT;
    /* containment's candidates are exact: every pair that can match is one */
    int candidate = collided > 0 || identical || containment;
    int match = nd_sets_match(o, a->count, b->count, shared);
    char label[32];
    shingle_label(o, ta, label, sizeof label);
    unsigned size;
    int chars = nd_shingle_choice(&size, o, ta) == ND_SHINGLE_CHARS;
    double space = shingle_space(ta, tb, chars, size);
    double chance_j = nd_chance_jaccard_log10(a->count, b->count, shared, space);
    double chance_ab = nd_chance_containment_log10(a->count, b->count, shared, space);
    double chance_ba = nd_chance_containment_log10(b->count, a->count, shared, space);
    size_t min_run = strncmp(label, "words", 5) == 0 ? o->shingle_size : 3;
    size_t run_count = 0;
    runs = find_runs(ta, tb, min_run, &run_count);
    if (!runs) {
        cli_error("out of memory");
        goto done;
    }
    /* keep the longest runs that do not overlap in A, at most 10 */
    size_t shown = 0;
    for (size_t r = 0; r < run_count && shown < 10; r++) {
        int overlaps = 0;
        for (size_t q = 0; q < shown; q++) {
            if (runs[r].a < runs[q].a + runs[q].len && runs[q].a < runs[r].a + runs[r].len)
                overlaps = 1;
        }
        if (!overlaps)
            runs[shown++] = runs[r];
    }
    if (cfg->json_output) {
        fputs("{\"a\":{\"id\":", stdout);
        out_string(stdout, sides[0].id, strlen(sides[0].id));
        printf(",\"tokens\":%zu,\"shingles\":%zu},\"b\":{\"id\":", ta->count, a->count);
        out_string(stdout, sides[1].id, strlen(sides[1].id));
        printf(",\"tokens\":%zu,\"shingles\":%zu},\"profile\":\"%s\",\"shingle\":\"%s\",", tb->count, b->count,
               cli_profile_label(o), label);
        printf("\"shared_shingles\":%zu,\"jaccard\":", shared);
        out_number(stdout, jaccard);
        fputs(",\"containment_a_in_b\":", stdout);
        out_number(stdout, in_b);
        fputs(",\"containment_b_in_a\":", stdout);
        out_number(stdout, in_a);
        fputs(",\"estimated_jaccard\":", stdout);
        out_number(stdout, estimate);
        fputs(",\"shingle_space\":", stdout);
        out_number(stdout, space);
        fputs(",\"chance_jaccard_log10\":", stdout);
        out_log10(stdout, chance_j);
        fputs(",\"chance_a_in_b_log10\":", stdout);
        out_log10(stdout, chance_ab);
        fputs(",\"chance_b_in_a_log10\":", stdout);
        out_log10(stdout, chance_ba);
        printf(",\"bands\":%u,\"rows\":%u,\"bands_collided\":[", o->bands, o->rows);
        for (unsigned j = 0; j < collided; j++)
            printf("%s%d", j ? "," : "", collided_band[j]);
        printf("],\"candidate\":%s,\"measure\":\"%s\",\"min_shingles\":%u,\"threshold\":", candidate ? "true" : "false",
               containment ? "containment" : "jaccard", o->min_shingles);
        out_number(stdout, o->threshold);
        printf(",\"match\":%s,\"runs\":[", match ? "true" : "false");
        for (size_t r = 0; r < shown; r++) {
            const shared_run *s = &runs[r];
            size_t as = ta->items[s->a].start, ae = ta->items[s->a + s->len - 1].end;
            size_t bs = tb->items[s->b].start, be = tb->items[s->b + s->len - 1].end;
            char *preview = text_preview(sides[0].text + as, ae - as, 60);
            printf("%s{\"tokens\":%zu,\"a\":[%zu,%zu],\"b\":[%zu,%zu],\"text\":", r ? "," : "", s->len, as, ae, bs, be);
            out_string(stdout, preview ? preview : "", preview ? strlen(preview) : 0);
            putchar('}');
            free(preview);
        }
        puts("]}");
    } else {
        printf("A: %s (%zu tokens, %zu shingles)\n", sides[0].id, ta->count, a->count);
        printf("B: %s (%zu tokens, %zu shingles)\n", sides[1].id, tb->count, b->count);
        printf("profile %s, shingles %s, %u hashes, %u bands x %u rows\n\n", cli_profile_label(o), label, o->num_perm,
               o->bands, o->rows);
        printf("exact Jaccard        %.6g  (%zu shared of %zu shingles in A or B)\n", jaccard, shared,
               a->count + b->count - shared);
        printf("containment A in B   %.6g  (share of A's shingles found in B)\n", in_b);
        printf("containment B in A   %.6g\n", in_a);
        printf("estimated Jaccard    %.6g  (MinHash, %u values; standard error %.3f)\n", estimate, o->num_perm,
               sqrt(jaccard * (1 - jaccard) / o->num_perm));
        printf("chance of a match    Jaccard ");
        print_chance(stdout, chance_j);
        printf(", A in B ");
        print_chance(stdout, chance_ab);
        printf(", B in A ");
        print_chance(stdout, chance_ba);
        printf("\n                     (Mash's p-value: this many shared shingles between random texts of these\n"
               "                     sizes over %.3g possible shingles; real text shares stock phrases more often)\n",
               space);
        printf("bands collided       %u of %u", collided, o->bands);
        for (unsigned j = 0; j < collided; j++)
            printf("%s%d", j ? " " : ": ", collided_band[j]);
        if (containment)
            printf("\ncandidate            yes (--measure containment: every pair that can match is checked)\n");
        else
            printf("\nLSH candidate        %s (P = %.4f at this Jaccard)\n", candidate ? "yes" : "no",
                   nd_lsh_probability(jaccard, o->bands, o->rows));
        if (containment)
            printf("verdict              %s by containment at threshold %.4g (texts of at least %u shingles)\n",
                   match ? "MATCH" : "no match", o->threshold, o->min_shingles);
        else
            printf("verdict              %s at threshold %.4g\n",
                   match ? (candidate ? "MATCH" : "similar enough, but LSH missed the pair") : "no match",
                   o->threshold);
        printf("\nlongest shared runs (at least %zu tokens): tokens, bytes in A, bytes in B\n", min_run);
        if (shown == 0)
            printf("  (none)\n");
        for (size_t r = 0; r < shown; r++) {
            const shared_run *s = &runs[r];
            size_t as = ta->items[s->a].start, ae = ta->items[s->a + s->len - 1].end;
            size_t bs = tb->items[s->b].start, be = tb->items[s->b + s->len - 1].end;
            char *preview = text_preview(sides[0].text + as, ae - as, 60);
            printf("  %4zu  A[%zu, %zu)  B[%zu, %zu)  %s\n", s->len, as, ae, bs, be, preview ? preview : "");
            free(preview);
        }
    }
    status = EXIT_OK;
done:
    free(runs);
    for (int k = 0; k < 2; k++) {
        free(sides[k].id);
        free(sides[k].text);
        nd_sketch_clear(&sides[k].sketch);
        nd_sketcher_free(sides[k].sk);
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
