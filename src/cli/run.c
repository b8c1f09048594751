/* run.c - the scan and dedup pipeline, and the params report.
 *
 * Pass 1 reads records in batches. --threads N means N threads do the work:
 * the main thread and a pool of N - 1 workers, started once. While the
 * workers parse and sketch batch k (JSON parsing, normalization, shingling,
 * MinHash and band keys all happen there), the main thread reads batch
 * k + 1, then joins in on batch k until it is done. Finished batches are
 * committed to the index in input order, so the index, the clusters and
 * every byte of output are the same for any --threads. With --threads 1
 * everything runs on the main thread, one step after the other.
 *
 * dedup and --unit need the records again after clustering. Rather than
 * keep them in memory, pass 2 reads regular files again (replay_next),
 * checking that they did not change; records from stdin or a pipe are
 * spooled in pass 1 (the JSON line as read, or the JSON object made for a
 * plain-text document) to an unlinked file in --tmpdir and read back.
 * Memory holds only ids and sketches.
 */
#include "cli.h"

#include <errno.h>     /* errno */
#include <pthread.h>   /* pthread_create, pthread_join */
#include <stdatomic.h> /* atomic_size_t */
#include <stdlib.h>    /* malloc, free */
#include <string.h>    /* strlen, strerror */
#include <math.h>      /* pow */
#include <time.h>      /* clock_gettime */
#include <unistd.h>    /* isatty, unlink */

#include <jansson.h> /* json_loadb, json_dumpf */

#include "input.h"
#include "run.h"
#include "document.h"

/* ****  Arenas  **** */

enum { ARENA_BLOCK = 1 << 20 };

void *arena_alloc(arena *a, size_t n)
{
    n = (n + 7) & ~(size_t)7;
    arena_block *b = a->head;
    if (!b || b->capacity - b->used < n) {
        size_t capacity = n > ARENA_BLOCK ? n : ARENA_BLOCK;
        b = malloc(sizeof *b + capacity);
        if (!b)
            return NULL;
        b->next = a->head;
        b->used = 0;
        b->capacity = capacity;
        a->head = b;
    }
    void *p = (unsigned char *)b->data + b->used;
    b->used += n;
    return p;
}

char *arena_strdup(arena *a, const char *s)
{
    size_t len = strlen(s) + 1;
    char *copy = arena_alloc(a, len);
    if (copy)
        memcpy(copy, s, len);
    return copy;
}

void arena_reset(arena *a)
{
    if (!a->head)
        return;
    arena_block *older = a->head->next;
    while (older) {
        arena_block *next = older->next;
        free(older);
        older = next;
    }
    a->head->next = NULL;
    a->head->used = 0;
}

void arena_free(arena *a)
{
    arena_reset(a);
    free(a->head);
    a->head = NULL;
}

/* ****  Per-record work (worker threads)  **** */

typedef struct unit_result {
    nd_span span;        /* in the document's text */
    const uint32_t *ids; /* its shingle ids, in the worker's arena */
    size_t id_count;
} unit_result;

typedef struct result {
    char *id;            /* in the worker's arena */
    const uint32_t *ids; /* document mode: shingle ids, in the worker's arena */
    size_t id_count;
    uint64_t *keys;      /* document mode: its LSH band keys (in the batch's key buffer) */
    unit_result *units;  /* unit mode */
    uint64_t *unit_keys; /* unit mode: bands band keys per unit */
    size_t unit_count, unit_capacity;
    size_t text_len;
    char *error;      /* message for a record that could not be read, else NULL */
    char *out_record; /* dedup: JSON object for a plain-text document */
    size_t out_len;
    size_t invalid_utf8;
} result;

typedef struct batch {
    record *records;
    result *results;
    uint64_t *keys; /* capacity x bands band keys, for document mode */
    arena *arenas;  /* one per thread: ids and id strings of its results */
    size_t arena_count;
    size_t count, capacity;
    uint64_t bytes;
} batch;

typedef struct shared {
    const cli_config *cfg;
    const input *in;
    nd_sketcher **sketchers; /* one per worker */
    int want_out_record;     /* spooling: build output JSON for plain texts */
    int repair_plain;        /* sketch plain texts with ill-formed UTF-8 replaced, as pass 2 will see them */
} shared;

/* A plain-text document as a JSON object {"id": ..., "text": ...}, as dedup
 * writes it; `text` is valid UTF-8 (already repaired). NULL when out of
 * memory. */
static char *text_record_json(const cli_config *cfg, const char *id, const char *text, size_t len, size_t *out_len)
{
    size_t id_len = strlen(id);
    char *id_repaired = malloc(id_len * 3 + 1);
    if (!id_repaired)
        return NULL;
    size_t id_repaired_len;
    nd_utf8_repair(id_repaired, &id_repaired_len, id, id_len);
    json_t *obj = json_object();
    json_object_set_new(obj, cfg->id_field, json_stringn_nocheck(id_repaired, id_repaired_len));
    json_object_set_new(obj, cfg->text_field, json_stringn_nocheck(text, len));
    char *out = json_dumps(obj, JSON_COMPACT);
    json_decref(obj);
    free(id_repaired);
    if (out)
        *out_len = strlen(out);
    return out;
}

static int make_out_record(const shared *sh, result *res, const char *repaired, size_t repaired_len)
{
    res->out_record = text_record_json(sh->cfg, res->id, repaired, repaired_len, &res->out_len);
    return res->out_record ? ND_OK : ND_ENOMEM;
}

/* Copy a borrowed sketch's shingle ids into the thread's arena and write
 * its band keys: all the index needs of it. Sketches never allocate per
 * text and nothing made here is freed on another thread (freeing per-text
 * memory on the main thread, across malloc arenas, slowed the commit down
 * badly). NULL ids with count 0 for an empty set. */
static int keep_sketch(const shared *sh, arena *mem, const nd_sketch_ref *ref, const uint32_t **ids, uint64_t *keys)
{
    const nd_options *o = &sh->cfg->opts;
    nd_lsh_band_keys(keys, ref->signature, o->bands, o->rows);
    *ids = NULL;
    if (ref->count == 0)
        return ND_OK;
    uint32_t *copy = arena_alloc(mem, ref->count * sizeof *copy);
    if (!copy)
        return ND_ENOMEM;
    memcpy(copy, ref->ids, ref->count * sizeof *copy);
    *ids = copy;
    return ND_OK;
}

/* Unit mode: split the text, find self-repeating units, sketch each unit
 * (or each copy of a repeated one). Units below --min-tokens are dropped. */
static int push_unit(const shared *sh, arena *mem, result *res, nd_span span, const nd_sketch_ref *sketch)
{
    unsigned bands = sh->cfg->opts.bands;
    if (res->unit_count == res->unit_capacity) {
        size_t cap = res->unit_capacity ? res->unit_capacity * 2 : 16;
        unit_result *grown = realloc(res->units, cap * sizeof *grown);
        if (!grown)
            return ND_ENOMEM;
        res->units = grown;
        uint64_t *keys = realloc(res->unit_keys, cap * bands * sizeof *keys);
        if (!keys)
            return ND_ENOMEM;
        res->unit_keys = keys;
        res->unit_capacity = cap;
    }
    unit_result *u = &res->units[res->unit_count];
    u->span = span;
    u->id_count = sketch->count;
    int rc = keep_sketch(sh, mem, sketch, &u->ids, res->unit_keys + res->unit_count * bands);
    if (rc == ND_OK)
        res->unit_count++;
    return rc;
}

static int sketch_units(const shared *sh, nd_sketcher *sk, arena *mem, const char *text, size_t len, result *res)
{
    const cli_config *cfg = sh->cfg;
    nd_span *spans = NULL, *copies = NULL;
    size_t spans_cap = 0, span_count = 0, copies_cap = 0;
    nd_sketch_ref sketch;
    int rc = nd_split_units(&spans, &spans_cap, &span_count, text, len, cfg->unit);
    for (size_t u = 0; rc == ND_OK && u < span_count; u++) {
        nd_span span = spans[u];
        const char *unit_text = text + span.start;
        nd_span local = {0, span.end - span.start};
        rc = nd_sketch_text_ref(sk, unit_text, local.end, &sketch);
        if (rc != ND_OK)
            break;
        res->invalid_utf8 += sketch.invalid_utf8;
        const nd_tokens *tokens = nd_sketcher_tokens(sk);
        if (tokens->count < cfg->min_tokens || sketch.count == 0)
            continue;
        if (copies_cap < tokens->count) {
            nd_span *grown = realloc(copies, tokens->count * sizeof *grown);
            if (!grown) {
                rc = ND_ENOMEM;
                break;
            }
            copies = grown;
            copies_cap = tokens->count;
        }
        int m = nd_find_repeats(copies, copies_cap, tokens, unit_text, local);
        if (m < 0) {
            rc = m;
            break;
        }
        if (m < 2) {
            rc = push_unit(sh, mem, res, span, &sketch);
            continue;
        }
        for (int c = 0; rc == ND_OK && c < m; c++) {
            nd_span copy = {span.start + copies[c].start, span.start + copies[c].end};
            rc = nd_sketch_text_ref(sk, text + copy.start, copy.end - copy.start, &sketch);
            if (rc == ND_OK)
                rc = push_unit(sh, mem, res, copy, &sketch);
        }
    }
    free(spans);
    free(copies);
    return rc;
}

static int sketch_document(const shared *sh, nd_sketcher *sk, arena *mem, const char *text, size_t len, result *res)
{
    res->text_len = len;
    if (sh->cfg->unit != ND_UNIT_DOCUMENT)
        return sketch_units(sh, sk, mem, text, len, res);
    nd_sketch_ref sketch;
    int rc = nd_sketch_text_ref(sk, text, len, &sketch);
    if (rc != ND_OK)
        return rc;
    res->invalid_utf8 += sketch.invalid_utf8;
    if (nd_sketcher_tokens(sk)->count < sh->cfg->min_tokens)
        sketch.count = 0; /* below --min-tokens: treated as empty */
    res->id_count = sketch.count;
    return keep_sketch(sh, mem, &sketch, &res->ids, res->keys);
}

/* The record's id, moved to the arena (the malloc'd one is freed here, on
 * the thread that made it). */
static int keep_id(arena *mem, result *res, char *id)
{
    res->id = id ? arena_strdup(mem, id) : NULL;
    free(id);
    return res->id ? ND_OK : ND_ENOMEM;
}

static int process_json(const shared *sh, nd_sketcher *sk, arena *mem, const record *rec, result *res)
{
    doc_view view;
    int rc = doc_view_open(&view, sh->cfg, sh->in, rec);
    if (rc != ND_OK)
        return rc;
    if (view.error) {
        res->error = view.error; /* reported, in order, by batch_commit */
        view.error = NULL;
    } else {
        rc = keep_id(mem, res, view.id);
        view.id = NULL;
        res->invalid_utf8 = view.invalid_utf8;
        if (rc == ND_OK)
            rc = sketch_document(sh, sk, mem, view.text, view.len, res);
    }
    doc_view_close(&view);
    return rc;
}

static int process_text(const shared *sh, nd_sketcher *sk, arena *mem, const record *rec, result *res)
{
    if (keep_id(mem, res, record_default_id(sh->in, rec)) != ND_OK)
        return ND_ENOMEM;
    if (!sh->want_out_record && !sh->repair_plain)
        return sketch_document(sh, sk, mem, rec->data, rec->len, res);
    /* Pass 2 sees the text with ill-formed UTF-8 replaced (in the spooled
     * record, or rebuilt from the input); sketch that same text so unit
     * spans point into it. */
    char *repaired = malloc(rec->len * 3 + 1);
    if (!repaired)
        return ND_ENOMEM;
    size_t repaired_len;
    res->invalid_utf8 = nd_utf8_repair(repaired, &repaired_len, rec->data, rec->len);
    int rc = sketch_document(sh, sk, mem, repaired, repaired_len, res);
    if (rc == ND_OK && sh->want_out_record)
        rc = make_out_record(sh, res, repaired, repaired_len);
    free(repaired);
    return rc;
}

/* Sketch records of `b` until none is left; returns ND_OK or the first
 * library error. Any number of threads may run this on the same batch. */
/* Records are taken GRAB at a time: fewer trips of the shared counter's
 * cache line between cores, and neighbouring results (which share cache
 * lines) are written by one thread. */
enum { GRAB = 8 };

static int process_batch(const shared *sh, unsigned worker, batch *b, atomic_size_t *next)
{
    nd_sketcher *sk = sh->sketchers[worker];
    arena *mem = &b->arenas[worker];
    for (;;) {
        size_t first = atomic_fetch_add(next, GRAB);
        if (first >= b->count)
            return ND_OK;
        size_t last = first + GRAB < b->count ? first + GRAB : b->count;
        for (size_t i = first; i < last; i++) {
            const record *rec = &b->records[i];
            result *res = &b->results[i];
            res->keys = b->keys + i * sh->cfg->opts.bands;
            int rc =
                rec->kind == RECORD_JSON ? process_json(sh, sk, mem, rec, res) : process_text(sh, sk, mem, rec, res);
            if (rc != ND_OK) {
                atomic_store(next, b->count); /* the others stop too */
                return rc;
            }
        }
    }
}

/* ****  Batches  **** */

enum { BATCH_RECORDS = 4096, BATCH_BYTES = 16 << 20 };

static void batch_reset(batch *b)
{
    for (size_t i = 0; i < b->count; i++) {
        free(b->records[i].data);
        free(b->results[i].error);
        free(b->results[i].out_record);
        free(b->results[i].units);
        free(b->results[i].unit_keys);
    }
    for (size_t t = 0; b->arenas && t < b->arena_count; t++)
        arena_reset(&b->arenas[t]);
    b->count = 0;
    b->bytes = 0;
}

static void batch_free(batch *b)
{
    batch_reset(b);
    free(b->records);
    free(b->results);
    free(b->keys);
    for (size_t t = 0; b->arenas && t < b->arena_count; t++)
        arena_free(&b->arenas[t]);
    free(b->arenas);
}

/* Read up to a batch of records. Returns 1 if any were read, 0 at the end,
 * -1 on an input error. */
static int batch_read(batch *b, input *in, unsigned bands)
{
    if (!b->records) {
        b->records = calloc(BATCH_RECORDS, sizeof *b->records);
        b->results = calloc(BATCH_RECORDS, sizeof *b->results);
        b->keys = malloc((size_t)BATCH_RECORDS * bands * sizeof *b->keys);
        if (!b->records || !b->results || !b->keys) {
            cli_error("out of memory");
            return -1;
        }
        b->capacity = BATCH_RECORDS;
    }
    while (b->count < b->capacity && b->bytes < BATCH_BYTES) {
        record *rec = &b->records[b->count];
        int rc = input_next(in, rec);
        if (rc < 0)
            return -1;
        if (rc == 0)
            break;
        memset(&b->results[b->count], 0, sizeof b->results[b->count]);
        b->bytes += rec->len;
        b->count++;
    }
    return b->count > 0;
}

/* The pool: N - 1 threads that wait for a batch, sketch it alongside the
 * main thread, report, and wait for the next. */
typedef struct pool {
    const shared *sh;
    pthread_t *threads;
    unsigned count; /* threads started */
    pthread_mutex_t lock;
    pthread_cond_t wake; /* a new batch, or stop */
    pthread_cond_t idle; /* a worker finished the batch */
    batch *current;
    atomic_size_t next;
    unsigned long generation; /* bumped for every batch */
    unsigned finished;        /* workers done with this generation */
    int stop;
    int status; /* first library error of the batch */
} pool;

typedef struct pool_worker {
    pool *p;
    unsigned index; /* its sketcher: sh->sketchers[index] */
} pool_worker;

static void pool_report(pool *p, int rc)
{
    if (rc != ND_OK && p->status == ND_OK)
        p->status = rc;
}

static void *pool_main(void *arg)
{
    pool_worker *w = arg;
    pool *p = w->p;
    unsigned long seen = 0;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (!p->stop && p->generation == seen)
            pthread_cond_wait(&p->wake, &p->lock);
        if (p->stop)
            break;
        seen = p->generation;
        batch *b = p->current;
        pthread_mutex_unlock(&p->lock);
        int rc = process_batch(p->sh, w->index, b, &p->next);
        pthread_mutex_lock(&p->lock);
        pool_report(p, rc);
        p->finished++;
        pthread_cond_signal(&p->idle);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

/* Start up to `wanted` workers; fewer if threads cannot be made (the main
 * thread then does more of the work; the output is the same). */
static int pool_start(pool *p, const shared *sh, unsigned wanted, pool_worker *slots)
{
    memset(p, 0, sizeof *p);
    p->sh = sh;
    if (pthread_mutex_init(&p->lock, NULL) != 0)
        return -1;
    if (pthread_cond_init(&p->wake, NULL) != 0 || pthread_cond_init(&p->idle, NULL) != 0)
        return -1;
    p->threads = calloc(wanted ? wanted : 1, sizeof *p->threads);
    if (!p->threads)
        return -1;
    for (unsigned t = 0; t < wanted; t++) {
        slots[t] = (pool_worker){p, t + 1};
        if (pthread_create(&p->threads[p->count], NULL, pool_main, &slots[t]) != 0)
            break;
        p->count++;
    }
    return 0;
}

/* Hand batch b to the workers (none may be working). */
static void pool_submit(pool *p, batch *b)
{
    pthread_mutex_lock(&p->lock);
    p->current = b;
    atomic_store(&p->next, 0);
    p->finished = 0;
    p->status = ND_OK;
    p->generation++;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->lock);
}

/* Work on the submitted batch with sketcher 0 until it is done, wait for
 * the workers, and return the batch's status. */
static int pool_finish(pool *p)
{
    int rc = process_batch(p->sh, 0, p->current, &p->next);
    pthread_mutex_lock(&p->lock);
    pool_report(p, rc);
    while (p->finished < p->count)
        pthread_cond_wait(&p->idle, &p->lock);
    int status = p->status;
    pthread_mutex_unlock(&p->lock);
    return status;
}

static void pool_stop(pool *p)
{
    pthread_mutex_lock(&p->lock);
    p->stop = 1;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->lock);
    for (unsigned t = 0; t < p->count; t++)
        pthread_join(p->threads[t], NULL);
    free(p->threads);
    pthread_cond_destroy(&p->wake);
    pthread_cond_destroy(&p->idle);
    pthread_mutex_destroy(&p->lock);
}

/* ****  The run  **** */

static double seconds_since(const struct timespec *t0)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - t0->tv_sec) + (double)(now.tv_nsec - t0->tv_nsec) / 1e9;
}

static void show_progress(run_state *st, const char *stage, int force)
{
    if (!st->progress)
        return;
    if (!force && seconds_since(&st->last_progress) < 0.25)
        return;
    clock_gettime(CLOCK_MONOTONIC, &st->last_progress);
    double secs = seconds_since(&st->started);
    double mb = (double)st->bytes / 1e6;
    fprintf(stderr, "\r\033[Kneardup: %s: %llu documents, %.1f MB, %.1f MB/s, %.1f s", stage,
            (unsigned long long)st->records_read, mb, secs > 0 ? mb / secs : 0.0, secs);
    fflush(stderr);
}

static void clear_progress(const run_state *st)
{
    if (st->progress) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
    }
}

static int grow_units(run_state *st, size_t unit)
{
    if (unit < st->units_capacity)
        return 0;
    size_t cap = st->units_capacity ? st->units_capacity * 2 : 1024;
    size_t *docs = realloc(st->unit_doc, cap * sizeof *docs);
    if (docs)
        st->unit_doc = docs;
    nd_span *spans = realloc(st->unit_span, cap * sizeof *spans);
    if (spans)
        st->unit_span = spans;
    if (!docs || !spans)
        return -1;
    st->units_capacity = cap;
    return 0;
}

static int grow_ids(run_state *st, size_t doc)
{
    if (doc < st->ids_capacity)
        return 0;
    size_t cap = st->ids_capacity ? st->ids_capacity * 2 : 1024;
    char **grown = realloc(st->ids, cap * sizeof *grown);
    if (!grown)
        return -1;
    st->ids = grown;
    st->ids_capacity = cap;
    return 0;
}

/* Move a processed batch into the index, in input order. */
static int batch_commit(run_state *st, batch *b)
{
    for (size_t i = 0; i < b->count; i++) {
        result *res = &b->results[i];
        const record *rec = &b->records[i];
        st->records_read++;
        st->bytes += rec->len;
        if (res->error) {
            if (st->cfg->on_error == ON_ERROR_FAIL) {
                clear_progress(st);
                cli_error("%s", res->error);
                cli_error("stopping (use --on-error skip to skip such records)");
                return EXIT_FAIL;
            }
            cli_warn("%s; skipped", res->error);
            st->skipped++;
            if (st->reread) {
                /* the second pass re-reads the input and must skip it too */
                uint64_t *grown = realloc(st->skipped_records, st->skipped * sizeof *grown);
                if (!grown) {
                    cli_error("out of memory");
                    return EXIT_FAIL;
                }
                st->skipped_records = grown;
                st->skipped_records[st->skipped - 1] = st->records_read - 1;
            }
            continue;
        }
        if (res->invalid_utf8 > 0) {
            st->invalid_docs++;
            clear_progress(st);
            cli_warn("%s: invalid UTF-8 (%zu sequence%s read as U+FFFD)", res->id, res->invalid_utf8,
                     res->invalid_utf8 == 1 ? "" : "s");
        }
        size_t doc = st->doc_count;
        if (grow_ids(st, doc) != 0) {
            cli_error("out of memory");
            return EXIT_FAIL;
        }
        st->ids[doc] = arena_strdup(&st->id_text, res->id);
        if (!st->ids[doc]) {
            cli_error("out of memory");
            return EXIT_FAIL;
        }
        st->doc_count++;
        if (st->cfg->unit == ND_UNIT_DOCUMENT) {
            if (res->id_count == 0)
                st->empty++;
            int nrc = nd_index_add_ids(st->index, res->ids, res->id_count, res->keys, res->text_len);
            if (nrc != ND_OK) {
                cli_error("%s", nd_strerror(nrc));
                return EXIT_FAIL;
            }
        } else {
            if (res->unit_count == 0)
                st->empty++;
            for (size_t u = 0; u < res->unit_count; u++) {
                unit_result *ur = &res->units[u];
                size_t k = nd_index_count(st->index);
                if (grow_units(st, k) != 0 ||
                    nd_index_add_ids(st->index, ur->ids, ur->id_count, res->unit_keys + u * st->cfg->opts.bands,
                                     ur->span.end - ur->span.start) != ND_OK) {
                    cli_error("out of memory");
                    return EXIT_FAIL;
                }
                st->unit_doc[k] = doc;
                st->unit_span[k] = ur->span;
            }
        }
        if (st->spool) {
            const char *out = res->out_record ? res->out_record : rec->data;
            size_t out_len = res->out_record ? res->out_len : rec->len;
            if (fwrite(out, 1, out_len, st->spool) != out_len || fputc('\n', st->spool) == EOF) {
                cli_error("%s: cannot write the spool file: %s", st->cfg->tmpdir, strerror(errno));
                return EXIT_FAIL;
            }
        }
    }
    /* Past half of --memory, move the index's bulk to files. */
    if (!st->spilled && nd_index_memory(st->index) > st->cfg->memory / 2) {
        clear_progress(st);
        if (!st->cfg->quiet)
            fprintf(stderr,
                    "neardup: the index passed half of --memory (%.0f MB); moving shingle ids and band keys "
                    "to files in %s\n",
                    (double)st->cfg->memory / 2 / 1e6, st->cfg->tmpdir);
        int nrc = nd_index_spill(st->index, st->cfg->tmpdir);
        if (nrc != ND_OK) {
            cli_error("%s: %s", st->cfg->tmpdir, nd_strerror(nrc));
            return EXIT_FAIL;
        }
        st->spilled = 1;
    }
    show_progress(st, "reading", 0);
    return EXIT_OK;
}

/* Pass 1: read, sketch in parallel, index in order. */
static int read_all(run_state *st)
{
    const cli_config *cfg = st->cfg;
    unsigned threads = cfg->threads ? cfg->threads : 1;
    shared sh = {cfg, st->in, NULL, st->spool != NULL, cfg->unit != ND_UNIT_DOCUMENT};
    sh.sketchers = calloc(threads, sizeof *sh.sketchers);
    pool_worker *slots = calloc(threads, sizeof *slots);
    batch batches[2];
    memset(batches, 0, sizeof batches);
    pool p;
    int started = 0, rc = EXIT_FAIL;
    for (int k = 0; k < 2; k++) {
        batches[k].arenas = calloc(threads, sizeof *batches[k].arenas);
        batches[k].arena_count = batches[k].arenas ? threads : 0;
    }
    if (!sh.sketchers || !slots || !batches[0].arenas || !batches[1].arenas) {
        cli_error("out of memory");
        goto done;
    }
    for (unsigned t = 0; t < threads; t++) {
        int nrc = nd_sketcher_new(&sh.sketchers[t], &cfg->opts);
        if (nrc != ND_OK) {
            cli_error("cannot start: %s", nd_strerror(nrc));
            goto done;
        }
    }
    if (pool_start(&p, &sh, threads - 1, slots) != 0) {
        cli_error("cannot start the worker threads");
        goto done;
    }
    started = 1;
    /* Two batches in flight: the workers sketch batch `cur` while this
     * thread reads the next one, then joins them on `cur`; the workers
     * start on the next batch while this thread commits `cur`. */
    int cur = 0;
    int got = batch_read(&batches[cur], st->in, cfg->opts.bands);
    if (got > 0)
        pool_submit(&p, &batches[cur]);
    struct timespec t0;
    while (got > 0) {
        clock_gettime(CLOCK_MONOTONIC, &t0);
        int next_got = batch_read(&batches[1 - cur], st->in, cfg->opts.bands); /* overlaps the workers */
        st->main_read_s += seconds_since(&t0);
        clock_gettime(CLOCK_MONOTONIC, &t0);
        int status = pool_finish(&p);
        st->main_sketch_s += seconds_since(&t0);
        if (status != ND_OK) {
            cli_error("%s", nd_strerror(status));
            goto done;
        }
        if (next_got > 0)
            pool_submit(&p, &batches[1 - cur]); /* overlaps the commit */
        clock_gettime(CLOCK_MONOTONIC, &t0);
        if (batch_commit(st, &batches[cur]) != EXIT_OK)
            goto done;
        batch_reset(&batches[cur]);
        st->main_commit_s += seconds_since(&t0);
        cur = 1 - cur;
        got = next_got;
    }
    if (got < 0)
        goto done;
    rc = EXIT_OK;
done:
    if (started) {
        if (rc != EXIT_OK && p.current) {
            /* let the workers leave the batch before it is freed */
            atomic_store(&p.next, p.current->count);
            (void)pool_finish(&p);
        }
        pool_stop(&p);
    }
    batch_free(&batches[0]);
    batch_free(&batches[1]);
    if (sh.sketchers) {
        for (unsigned t = 0; t < threads; t++)
            nd_sketcher_free(sh.sketchers[t]);
    }
    free(sh.sketchers);
    free(slots);
    return rc;
}

static void write_scan(const run_state *st, const nd_clusters *clusters, FILE *out)
{
    size_t n = nd_clusters_count(clusters);
    for (size_t c = 0; c < n; c++) {
        const nd_member *m;
        size_t size = nd_clusters_get(clusters, c, &m);
        fprintf(out, "{\"cluster\":%zu,\"size\":%zu,\"ids\":[", c, size);
        for (size_t k = 0; k < size; k++) {
            if (k)
                fputc(',', out);
            out_string(out, st->ids[m[k].doc], strlen(st->ids[m[k].doc]));
        }
        fputs("],\"jaccard\":[", out);
        for (size_t k = 0; k < size; k++) {
            if (k)
                fputc(',', out);
            out_number(out, m[k].jaccard);
        }
        fprintf(out, "],\"profile\":\"%s\"}\n", cli_profile_label(&st->cfg->opts));
    }
}

/* Per-document fate after clustering. */
typedef struct fate {
    int64_t cluster; /* -1: unique */
    size_t survivor; /* the kept member of its cluster */
    double jaccard;
} fate;

static fate *fates_from_clusters(size_t docs, const nd_clusters *clusters)
{
    fate *f = malloc((docs ? docs : 1) * sizeof *f);
    if (!f)
        return NULL;
    for (size_t d = 0; d < docs; d++)
        f[d] = (fate){-1, d, 0.0};
    size_t n = nd_clusters_count(clusters);
    for (size_t c = 0; c < n; c++) {
        const nd_member *m;
        size_t size = nd_clusters_get(clusters, c, &m);
        for (size_t k = 0; k < size; k++)
            f[m[k].doc] = (fate){(int64_t)c, m[0].doc, m[k].jaccard};
    }
    return f;
}

void write_with_field(FILE *out, const char *line, size_t len, const char *field)
{
    size_t end = len;
    while (end > 0 && (line[end - 1] == ' ' || line[end - 1] == '\t' || line[end - 1] == '\r'))
        end--;
    /* end - 1 is the closing brace; is the object empty? */
    size_t before = end - 1;
    while (before > 0 && (line[before - 1] == ' ' || line[before - 1] == '\t' || line[before - 1] == '\n' ||
                          line[before - 1] == '\r'))
        before--;
    int empty_object = before > 0 && line[before - 1] == '{';
    fwrite(line, 1, end - 1, out);
    if (!empty_object)
        fputc(',', out);
    fputs(field, out);
    fwrite(line + end - 1, 1, len - (end - 1), out);
    fputc('\n', out);
}

/* Write `line` with "neardup": {cluster, duplicate_of, jaccard} added. */
static void write_annotated(FILE *out, const char *line, size_t len, const run_state *st, const fate *f, size_t doc)
{
    char *field = NULL;
    size_t field_len = 0;
    FILE *mem = open_memstream(&field, &field_len);
    if (!mem)
        return;
    fputs("\"neardup\":{", mem);
    const fate *fd = &f[doc];
    if (fd->cluster < 0) {
        fputs("\"cluster\":null,\"duplicate_of\":null,\"jaccard\":null", mem);
    } else {
        fprintf(mem, "\"cluster\":%lld,\"duplicate_of\":", (long long)fd->cluster);
        if (fd->survivor == doc)
            fputs("null", mem);
        else
            out_string(mem, st->ids[fd->survivor], strlen(st->ids[fd->survivor]));
        fputs(",\"jaccard\":", mem);
        out_number(mem, fd->jaccard);
    }
    fprintf(mem, ",\"profile\":\"%s\"}", cli_profile_label(&st->cfg->opts));
    fclose(mem);
    write_with_field(out, line, len, field);
    free(field);
}

int replay_open(replay *r, run_state *st)
{
    memset(r, 0, sizeof *r);
    r->st = st;
    if (st->reread)
        return input_reopen(&r->again, st->in) == EXIT_OK ? 0 : -1;
    if (fflush(st->spool) != 0 || fseek(st->spool, 0, SEEK_SET) != 0) {
        cli_error("cannot read back the spool file: %s", strerror(errno));
        return -1;
    }
    return 0;
}

int replay_next(replay *r, size_t doc, const char **line, size_t *len)
{
    run_state *st = r->st;
    if (!r->again) {
        ssize_t n = getline(&r->line, &r->cap, st->spool);
        if (n <= 0) {
            cli_error("the spool file ended early (disk full in %s?)", st->cfg->tmpdir);
            return -1;
        }
        *line = r->line;
        *len = (size_t)n - 1; /* without the '\n' we wrote */
        return 0;
    }
    for (;;) {
        if (!r->rec.borrowed)
            free(r->rec.data);
        r->rec.data = NULL;
        int got = input_next_borrowed(r->again, &r->rec);
        if (got < 0)
            return -1;
        if (got == 0) {
            cli_error("the input ended early on the second reading (did a file change?)");
            return -1;
        }
        uint64_t ordinal = r->ordinal++;
        if (r->skipped_seen < st->skipped && st->skipped_records[r->skipped_seen] == ordinal) {
            r->skipped_seen++;
            continue; /* skipped in pass 1 */
        }
        break;
    }
    if (r->rec.kind == RECORD_JSON) {
        *line = r->rec.data;
        *len = r->rec.len;
        return 0;
    }
    /* a plain-text document: the same JSON object pass 1 would have spooled */
    char *repaired = malloc(r->rec.len * 3 + 1);
    if (!repaired) {
        cli_error("out of memory");
        return -1;
    }
    size_t repaired_len;
    nd_utf8_repair(repaired, &repaired_len, r->rec.data, r->rec.len);
    free(r->line);
    r->line = text_record_json(st->cfg, st->ids[doc], repaired, repaired_len, len);
    free(repaired);
    if (!r->line) {
        cli_error("out of memory");
        return -1;
    }
    *line = r->line;
    return 0;
}

void replay_close(replay *r)
{
    free(r->line);
    if (!r->rec.borrowed)
        free(r->rec.data);
    input_close(r->again);
    memset(r, 0, sizeof *r);
}

int open_removed(const run_state *st, FILE **out)
{
    *out = NULL;
    if (!st->cfg->removed_path)
        return 0;
    *out = fopen(st->cfg->removed_path, "w");
    if (!*out) {
        cli_error("%s: cannot write: %s", st->cfg->removed_path, strerror(errno));
        return -1;
    }
    return 0;
}

/* Pass 2 of dedup: copy the records to stdout (and --removed). */
static int write_dedup(run_state *st, const nd_clusters *clusters, uint64_t *kept, uint64_t *removed)
{
    size_t docs = st->doc_count;
    fate *f = fates_from_clusters(docs, clusters);
    FILE *removed_file = NULL;
    replay records;
    memset(&records, 0, sizeof records);
    const char *line = NULL;
    int rc = EXIT_FAIL;
    if (!f) {
        cli_error("out of memory");
        goto done;
    }
    if (open_removed(st, &removed_file) != 0 || replay_open(&records, st) != 0)
        goto done;
    for (size_t doc = 0; doc < docs; doc++) {
        size_t len;
        if (replay_next(&records, doc, &line, &len) != 0)
            goto done;
        int is_duplicate = f[doc].cluster >= 0 && f[doc].survivor != doc;
        if (st->cfg->annotate) {
            write_annotated(stdout, line, len, st, f, doc);
            (*kept)++;
        } else if (is_duplicate) {
            if (removed_file) {
                fwrite(line, 1, len, removed_file);
                fputc('\n', removed_file);
            }
            (*removed)++;
        } else {
            fwrite(line, 1, len, stdout);
            fputc('\n', stdout);
            (*kept)++;
        }
    }
    rc = EXIT_OK;
    if (removed_file && fclose(removed_file) != 0) {
        cli_error("%s: write error: %s", st->cfg->removed_path, strerror(errno));
        rc = EXIT_FAIL;
    }
    removed_file = NULL;
done:
    if (removed_file)
        fclose(removed_file);
    replay_close(&records);
    free(f);
    return rc;
}

FILE *open_spool(const char *dir)
{
    size_t len = strlen(dir) + 32;
    char *path = malloc(len);
    if (!path)
        return NULL;
    snprintf(path, len, "%s/neardup-spool-XXXXXX", dir);
    int fd = mkstemp(path);
    if (fd < 0) {
        cli_error("%s: cannot create a spool file: %s (see --tmpdir)", dir, strerror(errno));
        free(path);
        return NULL;
    }
    unlink(path);
    free(path);
    FILE *f = fdopen(fd, "w+");
    if (!f) {
        close(fd);
        return NULL;
    }
    /* a large buffer: a gigabyte of records in 1 MiB writes, not 4 KiB ones */
    setvbuf(f, NULL, _IOFBF, 1 << 20);
    return f;
}

int cli_run(const cli_config *cfg)
{
    run_state st;
    memset(&st, 0, sizeof st);
    st.cfg = cfg;
    clock_gettime(CLOCK_MONOTONIC, &st.started);
    st.last_progress = st.started;
    st.progress = !cfg->quiet && isatty(2);
    json_object_seed(0); /* before any thread parses JSON */
    nd_clusters *clusters = NULL;
    int rc = input_open(&st.in, cfg);
    if (rc != EXIT_OK)
        return rc;
    rc = EXIT_FAIL;
    if (nd_index_new(&st.index, &cfg->opts) != ND_OK) {
        cli_error("invalid options");
        goto done;
    }
    /* dedup, and --unit (which prints the text of its groups), read the
     * records again in a second pass: regular files are re-read, stdin and
     * pipes are spooled */
    int second_pass = cfg->command == CMD_DEDUP || cfg->unit != ND_UNIT_DOCUMENT;
    st.reread = second_pass && input_rereadable(st.in);
    if (second_pass && !st.reread) {
        st.spool = open_spool(cfg->tmpdir);
        if (!st.spool)
            goto done;
    }
    if (read_all(&st) != EXIT_OK)
        goto done;
    double t_read = seconds_since(&st.started);
    show_progress(&st, "clustering", 1);
    /* sorting bands in parallel takes 16 bytes per text per extra thread;
     * a spilled index is short of memory, so it sorts on one */
    nd_index_set_threads(st.index, st.spilled ? 1 : cfg->threads);
    nd_cluster_stats stats;
    int nrc = nd_index_cluster(&clusters, st.index, cfg->keep, &stats);
    if (nrc != ND_OK) {
        clear_progress(&st);
        cli_error("clustering failed: %s", nd_strerror(nrc));
        goto done;
    }
    size_t cluster_count = nd_clusters_count(clusters);
    uint64_t duplicates = 0;
    for (size_t c = 0; c < cluster_count; c++) {
        const nd_member *m;
        duplicates += nd_clusters_get(clusters, c, &m) - 1;
    }
    double t_cluster = seconds_since(&st.started);
    show_progress(&st, "writing", 1);
    uint64_t kept = 0, removed = 0, units_removed = 0;
    if (cfg->unit != ND_UNIT_DOCUMENT) {
        int urc = cfg->command == CMD_SCAN ? units_write_scan(&st, clusters)
                                           : units_write_dedup(&st, clusters, &kept, &removed, &units_removed);
        if (urc != EXIT_OK)
            goto done;
    } else if (cfg->command == CMD_SCAN) {
        write_scan(&st, clusters, stdout);
    } else if (write_dedup(&st, clusters, &kept, &removed) != EXIT_OK) {
        goto done;
    }
    if (fflush(stdout) != 0 || ferror(stdout)) {
        clear_progress(&st);
        cli_error("cannot write the output: %s", strerror(errno));
        goto done;
    }
    clear_progress(&st);
    if (!cfg->quiet) {
        double secs = seconds_since(&st.started);
        double mb = (double)st.bytes / 1e6;
        /* with --unit, a document counts here when it has no unit of at least --min-tokens tokens */
        fprintf(stderr, "neardup: %llu documents read (%.1f MB), %llu %s, %llu invalid UTF-8, %llu skipped; ",
                (unsigned long long)st.records_read, mb, (unsigned long long)st.empty,
                cfg->unit == ND_UNIT_DOCUMENT ? "empty" : "without units", (unsigned long long)st.invalid_docs,
                (unsigned long long)st.skipped);
        if (cfg->unit == ND_UNIT_DOCUMENT)
            fprintf(stderr, "%zu clusters, %llu duplicates", cluster_count, (unsigned long long)duplicates);
        else
            fprintf(stderr, "%zu %ss, %zu groups, %llu repeats", nd_index_count(st.index),
                    cfg->unit == ND_UNIT_LINE ? "line" : "paragraph", cluster_count, (unsigned long long)duplicates);
        if (cfg->command == CMD_DEDUP && cfg->unit == ND_UNIT_DOCUMENT)
            fprintf(stderr, "; kept %llu, removed %llu", (unsigned long long)kept, (unsigned long long)removed);
        else if (cfg->command == CMD_DEDUP)
            fprintf(stderr, "; %llu units removed; kept %llu documents, dropped %llu emptied",
                    (unsigned long long)units_removed, (unsigned long long)kept, (unsigned long long)removed);
        fprintf(stderr, "; profile %s; %.2f s, %.1f MB/s\n", cli_profile_label(&cfg->opts), secs,
                secs > 0 ? mb / secs : 0.0);
        if (cfg->verbose)
            fprintf(stderr,
                    "neardup: stages: read and sketch %.2f s (main thread: reading %.2f s, sketching and waiting "
                    "%.2f s, committing %.2f s), cluster %.2f s, write %.2f s; %u threads\n",
                    t_read, st.main_read_s, st.main_sketch_s, st.main_commit_s, t_cluster - t_read, secs - t_cluster,
                    cfg->threads);
    }
    rc = EXIT_OK;
done:
    clear_progress(&st);
    nd_clusters_free(clusters);
    arena_free(&st.id_text);
    free(st.ids);
    free(st.unit_doc);
    free(st.unit_span);
    free(st.skipped_records);
    nd_index_free(st.index);
    if (st.spool)
        fclose(st.spool);
    input_close(st.in);
    return rc;
}

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
