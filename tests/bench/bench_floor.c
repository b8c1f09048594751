/* bench_floor.c - the ICU floor: what any ICU-based tokenizer pays, timed on
 * the same texts as neardup's own signing.
 *
 * For every text: UTF-8 to UTF-16 (u_strFromUTF8WithSub, ill-formed input as
 * U+FFFD), NFKC_Casefold (unorm2_normalize), then one pass over the result
 * cutting it into runs of letters, marks and numbers (U_GET_GC_MASK), the
 * runs being counted so the work cannot be skipped. No hashing, no
 * shingles, no word breaking: a lower bound on the cost of ICU-based
 * normalization, and the yardstick of issue #17 ("faster end to end than
 * normalization alone").
 *
 * The texts are the "text" members of a JSON Lines file, decoded with
 * jansson before any timing starts. In the same process and on the same
 * texts it also times neardup's signing (nd_sketch_text_ref: normalize,
 * shingle, MinHash, default options) so the two compare on one machine
 * state (see main() for how the two are interleaved). Prints one JSON
 * object:
 *   {"docs","bytes","floor_s","sign_s","floor_mb_s","sign_mb_s","runs"}
 * MB = 10^6 bytes of text. Built with -DND_BUILD_BENCH=ON as nd_bench_floor;
 * driven by scripts/floor.
 */
#include <stdio.h>  /* fopen, getline, printf */
#include <stdlib.h> /* malloc, realloc, atoi */
#include <string.h> /* memcpy */
#include <time.h>   /* clock_gettime */

#include <jansson.h>         /* json_loads */
#include <unicode/uchar.h>   /* U_GET_GC_MASK */
#include <unicode/unorm2.h>  /* unorm2_getNFKCCasefoldInstance, unorm2_normalize */
#include <unicode/ustring.h> /* u_strFromUTF8WithSub */
#include <unicode/utf16.h>   /* U16_NEXT */

#include "neardup.h"

enum { CHUNK_BYTES = 1 << 20 };

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

typedef struct {
    char **texts;
    size_t *lens;
    size_t count, capacity, bytes;
} text_list;

/* Read the "text" string of every JSON Lines record; 0 on success. */
static int read_texts(text_list *list, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        perror(path);
        return -1;
    }
    char *line = NULL;
    size_t line_cap = 0;
    size_t line_no = 0;
    int rc = 0;
    while (getline(&line, &line_cap, f) > 0) {
        line_no++;
        json_error_t err;
        json_t *root = json_loads(line, 0, &err);
        const json_t *text = root ? json_object_get(root, "text") : NULL;
        if (!json_is_string(text)) {
            fprintf(stderr, "%s:%zu: not a JSON object with a string \"text\"\n", path, line_no);
            json_decref(root);
            rc = -1;
            break;
        }
        if (list->count == list->capacity) {
            size_t cap = list->capacity ? 2 * list->capacity : 1024;
            char **texts = realloc(list->texts, cap * sizeof *texts);
            size_t *lens = texts ? realloc(list->lens, cap * sizeof *lens) : NULL;
            if (!texts || !lens) {
                list->texts = texts ? texts : list->texts;
                rc = -1;
                json_decref(root);
                break;
            }
            list->texts = texts;
            list->lens = lens;
            list->capacity = cap;
        }
        size_t len = json_string_length(text);
        char *copy = malloc(len ? len : 1);
        if (!copy) {
            rc = -1;
            json_decref(root);
            break;
        }
        memcpy(copy, json_string_value(text), len);
        list->texts[list->count] = copy;
        list->lens[list->count] = len;
        list->count++;
        list->bytes += len;
        json_decref(root);
    }
    free(line);
    fclose(f);
    return rc;
}

typedef struct {
    const UNormalizer2 *nfkc_cf;
    UChar *utf16, *folded;
    int32_t utf16_cap, folded_cap;
} floor_state;

static int grow(UChar **buf, int32_t *cap, int32_t need)
{
    if (need <= *cap)
        return 0;
    UChar *p = realloc(*buf, (size_t)need * sizeof *p);
    if (!p)
        return -1;
    *buf = p;
    *cap = need;
    return 0;
}

/* The floor for one text: returns the number of L/M/N runs, or -1. */
static long floor_text(floor_state *st, const char *text, size_t len)
{
    UErrorCode status = U_ZERO_ERROR;
    int32_t n16 = 0;
    /* UTF-16 never has more units than UTF-8 has bytes */
    if (len > INT32_MAX / 4 || grow(&st->utf16, &st->utf16_cap, (int32_t)len + 1) != 0)
        return -1;
    u_strFromUTF8WithSub(st->utf16, st->utf16_cap, &n16, text, (int32_t)len, 0xFFFD, NULL, &status);
    if (U_FAILURE(status))
        return -1;
    int32_t folded_len;
    for (;;) {
        status = U_ZERO_ERROR;
        folded_len = unorm2_normalize(st->nfkc_cf, st->utf16, n16, st->folded, st->folded_cap, &status);
        if (status == U_BUFFER_OVERFLOW_ERROR) {
            if (grow(&st->folded, &st->folded_cap, folded_len + 16) != 0)
                return -1;
            continue;
        }
        if (U_FAILURE(status))
            return -1;
        break;
    }
    long runs = 0;
    int in_run = 0;
    int32_t i = 0;
    while (i < folded_len) {
        UChar32 c;
        U16_NEXT(st->folded, i, folded_len, c);
        int word = (U_GET_GC_MASK(c) & (U_GC_L_MASK | U_GC_M_MASK | U_GC_N_MASK)) != 0;
        runs += word && !in_run;
        in_run = word;
    }
    return runs;
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: nd_bench_floor FILE.jsonl [REPEAT]\n");
        return 2;
    }
    int repeat = argc > 2 ? atoi(argv[2]) : 3;
    if (repeat < 1) {
        fprintf(stderr, "nd_bench_floor: REPEAT must be a positive integer\n");
        return 2;
    }
    text_list list = {NULL, NULL, 0, 0, 0};
    if (read_texts(&list, argv[1]) != 0)
        return 1;
    UErrorCode status = U_ZERO_ERROR;
    floor_state st = {unorm2_getNFKCCasefoldInstance(&status), NULL, NULL, 0, 0};
    if (U_FAILURE(status)) {
        fprintf(stderr, "nd_bench_floor: ICU: %s\n", u_errorName(status));
        return 1;
    }
    nd_options opts = ND_OPTIONS_INIT;
    nd_sketcher *sk = NULL;
    if (nd_options_resolve(&opts) != ND_OK || nd_sketcher_new(&sk, &opts) != ND_OK) {
        fprintf(stderr, "nd_bench_floor: cannot make a sketcher\n");
        return 1;
    }
    nd_sketcher_set_words(sk, 0); /* as `neardup scan` does: no word breaking for character shingles */
    /* Chunks of about CHUNK_BYTES of text, each timed REPEAT times for the
     * floor and for signing in alternation; the best time of each chunk is
     * kept and the bests are summed. Alternating small chunks exposes both
     * to the same load from other processes, and keeping each chunk's best
     * drops the bursts of it. */
    double floor_s = 0, sign_s = 0;
    long runs = 0;
    for (size_t first = 0; first < list.count;) {
        size_t last = first, bytes = 0;
        while (last < list.count && (bytes < CHUNK_BYTES || last == first))
            bytes += list.lens[last++];
        double best_floor = 1e30, best_sign = 1e30;
        long chunk_runs = 0;
        for (int r = 0; r < repeat; r++) {
            double t0 = now();
            chunk_runs = 0;
            for (size_t i = first; i < last; i++) {
                long n = floor_text(&st, list.texts[i], list.lens[i]);
                if (n < 0) {
                    fprintf(stderr, "nd_bench_floor: ICU failed on text %zu\n", i + 1);
                    return 1;
                }
                chunk_runs += n;
            }
            double t1 = now();
            for (size_t i = first; i < last; i++) {
                nd_sketch_ref ref;
                if (nd_sketch_text_ref(&ref, sk, list.texts[i], list.lens[i]) != ND_OK) {
                    fprintf(stderr, "nd_bench_floor: signing failed on text %zu\n", i + 1);
                    return 1;
                }
            }
            double t2 = now();
            best_floor = t1 - t0 < best_floor ? t1 - t0 : best_floor;
            best_sign = t2 - t1 < best_sign ? t2 - t1 : best_sign;
        }
        floor_s += best_floor;
        sign_s += best_sign;
        runs += chunk_runs;
        first = last;
    }
    double mb = (double)list.bytes / 1e6;
    printf("{\"docs\":%zu,\"bytes\":%zu,\"floor_s\":%.6f,\"sign_s\":%.6f,\"floor_mb_s\":%.1f,\"sign_mb_s\":%.1f,"
           "\"runs\":%ld}\n",
           list.count, list.bytes, floor_s, sign_s, floor_s > 0 ? mb / floor_s : 0.0, sign_s > 0 ? mb / sign_s : 0.0,
           runs);
    nd_sketcher_free(sk);
    free(st.utf16);
    free(st.folded);
    for (size_t i = 0; i < list.count; i++)
        free(list.texts[i]);
    free(list.texts);
    free(list.lens);
    return 0;
}
