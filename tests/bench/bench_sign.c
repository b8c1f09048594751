/* bench_sign.c - signing throughput of the library, one thread.
 *
 * Reads the "text" of every line of a JSON Lines file into memory (a
 * minimal scan for the field, enough for generated corpora), then times
 * tokenizing alone, tokenizing + nd_shingles, and nd_sketch_text
 * (normalize + shingle + MinHash) over all texts, best of REPEAT runs,
 * each as `neardup scan` does it: runs of scripts without spaces (Chinese,
 * Japanese, Thai...) are cut into words only where something needs words
 * (nd_sketch_tokens, with a sketcher without words, as pipeline.c's).
 * Cutting them every time was ICU's dictionaries, 20 MB/s of Chinese text
 * where the program signs 500.
 * Prints one JSON object:
 *   {"docs", "bytes", "tokenize_mb_s", "shingle_mb_s", "sketch_mb_s",
 *    "tokenize_share"}
 * where tokenize_share is the tokenizing time over the whole sketch time.
 * Built as nd_bench_sign with -DND_BUILD_BENCH=ON; run by scripts/bench.
 */
#include <stdio.h>  /* fopen, getline */
#include <stdlib.h> /* malloc, atoi */
#include <string.h> /* strstr */
#include <time.h>   /* clock_gettime */

#include <jansson.h> /* json_loads */

#include "neardup.h"
#include "index_add.h" /* nd_sketch_tokens (internal: the bench links the static library) */

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: nd_bench_sign FILE.jsonl [REPEAT]\n");
        return 2;
    }
    int repeat = argc > 2 ? atoi(argv[2]) : 3;
    FILE *f = fopen(argv[1], "r");
    if (!f) {
        perror(argv[1]);
        return 1;
    }
    size_t cap = 1024, n = 0, total = 0;
    char **texts = malloc(cap * sizeof *texts);
    size_t *lens = malloc(cap * sizeof *lens);
    char *line = NULL;
    size_t line_cap = 0;
    while (getline(&line, &line_cap, f) > 0) {
        json_error_t err;
        json_t *root = json_loads(line, 0, &err);
        const json_t *text = root ? json_object_get(root, "text") : NULL;
        if (json_is_string(text)) {
            if (n == cap) {
                cap *= 2;
                texts = realloc(texts, cap * sizeof *texts);
                lens = realloc(lens, cap * sizeof *lens);
            }
            lens[n] = json_string_length(text);
            texts[n] = malloc(lens[n] + 1);
            memcpy(texts[n], json_string_value(text), lens[n]);
            total += lens[n];
            n++;
        }
        json_decref(root);
    }
    free(line);
    fclose(f);
    nd_options opts = ND_OPTIONS_INIT;
    nd_options_resolve(&opts);
    nd_sketcher *sk = NULL;
    if (nd_sketcher_new(&sk, &opts) != ND_OK)
        return 1;
    nd_sketcher_set_words(sk, 0); /* as pipeline.c: tokens are not counted */
    nd_sketch sketch = ND_SKETCH_INIT;
    uint32_t *ids = NULL;
    size_t ids_capacity = 0, id_count = 0;
    double best_tok = 1e30, best_shingle = 1e30, best_sketch = 1e30;
    for (int r = 0; r < repeat; r++) {
        double t0 = now();
        unsigned size;
        nd_shingle_kind kind;
        for (size_t i = 0; i < n; i++) {
            if (nd_sketch_tokens(&kind, &size, sk, texts[i], lens[i]) != ND_OK)
                return 1;
        }
        double t1 = now();
        for (size_t i = 0; i < n; i++) {
            if (nd_sketch_tokens(&kind, &size, sk, texts[i], lens[i]) != ND_OK ||
                nd_shingles(&ids, &ids_capacity, &id_count, nd_sketcher_tokens(sk), kind, size) != ND_OK)
                return 1;
        }
        double t2 = now();
        for (size_t i = 0; i < n; i++)
            nd_sketch_text(&sketch, sk, texts[i], lens[i]);
        double t3 = now();
        best_tok = t1 - t0 < best_tok ? t1 - t0 : best_tok;
        best_shingle = t2 - t1 < best_shingle ? t2 - t1 : best_shingle;
        best_sketch = t3 - t2 < best_sketch ? t3 - t2 : best_sketch;
    }
    double mb = (double)total / 1e6;
    printf("{\"docs\":%zu,\"bytes\":%zu,\"tokenize_mb_s\":%.1f,\"shingle_mb_s\":%.1f,\"sketch_mb_s\":%.1f,"
           "\"tokenize_share\":%.3f}\n",
           n, total, mb / best_tok, mb / best_shingle, mb / best_sketch, best_tok / best_sketch);
    free(ids);
    nd_sketch_clear(&sketch);
    nd_sketcher_free(sk);
    for (size_t i = 0; i < n; i++)
        free(texts[i]);
    free(texts);
    free(lens);
    return 0;
}
