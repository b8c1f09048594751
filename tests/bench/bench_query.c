/* bench_query.c - the latency of one-document queries of a persistent
 * index, inside one process (what a service holding the index open sees).
 *
 *   nd_bench_query DB FILE.jsonl [COUNT]
 *
 * Reads the "text" of the first COUNT (default 1000) lines of FILE, opens
 * DB for reading, makes one query to warm up (sketcher, ICU), then times
 * nd_db_query_texts() of each text alone (sketching, band lookups,
 * verification) on one thread. Prints one JSON object:
 *   {"queries", "matches", "p50_us", "p90_us", "p99_us", "max_us", "mean_us"}
 * Built as nd_bench_query with -DND_BUILD_BENCH=ON; run by scripts/bench-index.
 */
#include <stdio.h>  /* fopen, getline */
#include <stdlib.h> /* malloc, qsort, atoi */
#include <string.h> /* strlen */
#include <time.h>   /* clock_gettime */

#include <jansson.h> /* json_loads */

#include "neardup.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int compare_double(const void *pa, const void *pb)
{
    double a = *(const double *)pa, b = *(const double *)pb;
    return (a > b) - (a < b);
}

static double quantile(const double *sorted, size_t n, double q)
{
    size_t i = (size_t)(q * (double)(n - 1) + 0.5);
    return sorted[i < n ? i : n - 1];
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: nd_bench_query DB FILE.jsonl [COUNT]\n");
        return 2;
    }
    size_t want = argc > 3 ? (size_t)atoi(argv[3]) : 1000;
    FILE *f = fopen(argv[2], "r");
    if (!f) {
        perror(argv[2]);
        return 1;
    }
    char **texts = malloc((want ? want : 1) * sizeof *texts);
    size_t *lens = malloc((want ? want : 1) * sizeof *lens);
    size_t n = 0, line_cap = 0;
    char *line = NULL;
    while (n < want && getline(&line, &line_cap, f) > 0) {
        json_error_t err;
        json_t *root = json_loads(line, 0, &err);
        const json_t *text = root ? json_object_get(root, "text") : NULL;
        if (json_is_string(text)) {
            lens[n] = json_string_length(text);
            texts[n] = malloc(lens[n] + 1);
            memcpy(texts[n], json_string_value(text), lens[n] + 1);
            n++;
        }
        json_decref(root);
    }
    free(line);
    fclose(f);
    if (n == 0) {
        fprintf(stderr, "%s: no texts\n", argv[2]);
        return 1;
    }
    nd_db *db;
    char message[512];
    int rc = nd_db_open(&db, message, sizeof message, argv[1], NULL);
    if (rc != ND_OK) {
        fprintf(stderr, "%s\n", message);
        return 1;
    }
    double *us = malloc(n * sizeof *us), total = 0;
    size_t matches = 0;
    nd_db_results *r;
    if (nd_db_query_texts(&r, db, (const char *const *)texts, lens, 1, NULL) != ND_OK)
        return 1;
    nd_db_results_free(r);
    for (size_t i = 0; i < n; i++) {
        double t0 = now();
        rc = nd_db_query_texts(&r, db, (const char *const *)&texts[i], &lens[i], 1, NULL);
        us[i] = (now() - t0) * 1e6;
        if (rc != ND_OK) {
            nd_db_error(message, sizeof message, db);
            fprintf(stderr, "query %zu: %s\n", i, message);
            return 1;
        }
        const nd_db_match *m;
        matches += nd_db_results_get(&m, r, 0);
        nd_db_results_free(r);
        total += us[i];
    }
    qsort(us, n, sizeof *us, compare_double);
    printf("{\"queries\":%zu,\"matches\":%zu,\"p50_us\":%.1f,\"p90_us\":%.1f,\"p99_us\":%.1f,\"max_us\":%.1f,"
           "\"mean_us\":%.1f}\n",
           n, matches, quantile(us, n, 0.5), quantile(us, n, 0.9), quantile(us, n, 0.99), us[n - 1], total / (double)n);
    nd_db_close(db);
    for (size_t i = 0; i < n; i++)
        free(texts[i]);
    free(texts);
    free(lens);
    free(us);
    return 0;
}
