/* pipeline.c - pass 1: read records in batches, parse and sketch them on
 * N threads, commit them in input order. See pipeline.h.
 *
 * --threads N means N threads do the work: the main thread and a pool of
 * N - 1 workers, started once. While the workers parse and sketch batch k
 * (JSON parsing, normalization, shingling, MinHash and band keys all
 * happen there), the main thread reads batch k + 1 and submits it (a
 * worker out of records in batch k goes straight on to it), then joins in
 * on batch k until it is done, committing its records to the sink in
 * input order as they are done (between its own GRABs), so every byte of
 * output is the same for any N. With N = 1 everything runs on the main
 * thread, one step after the other.
 *
 * Memory: what a worker makes for a document (its id, shingle ids, units)
 * goes into that worker's arena for the batch (arena.c), and nothing made
 * on one thread is freed on another; the records' bytes stay in the
 * blocks the reader read them into, which the batch holds (no copy; a
 * JSON array's elements are copied into the batch's own arena); a batch's
 * arenas are reset and its blocks released together once it is committed
 * (pipebatch.c).
 */
#include "pipeline.h"

#include <pthread.h>   /* pthread_create, pthread_join */
#include <stdatomic.h> /* atomic_size_t */
#include <stdlib.h>    /* malloc, free */
#include <string.h>    /* memcpy, memset */
#include <time.h>      /* clock_gettime */

#include "alloc.h" /* nd_grow */
#include "arena.h"
#include "document.h"
#include "idblocks.h"
#include "index_add.h"
#include "pipebatch.h"
#include "report.h" /* report_seconds_since */

/* ****  Per-record work (any thread)  **** */

/* One thread's tools: its sketcher and the scratch in which it gathers a
 * document's units before copying them to its arena. */
typedef struct worker_tools {
    nd_sketcher *sketcher;
    sketched_unit *units;
    size_t units_capacity;
    char *repaired; /* plain text with ill-formed UTF-8 replaced (unit mode) */
    size_t repaired_capacity;
    id_writer ids; /* raw ids: the block its documents' ids are written to */
} worker_tools;

typedef struct shared {
    const cli_config *cfg;
    const nd_options *opts;
    const input *in;
    worker_tools *tools; /* one per thread */
    int repair_plain;    /* sketch plain texts with ill-formed UTF-8 replaced, as pass 2 will see them */
    int raw_ids;         /* pipeline_sink.adopt_ids is set */
} shared;

/* Copy a borrowed sketch's shingle ids into the arena and write its band
 * keys: all an index needs of it. NULL ids with count 0 for an empty set. */
static int keep_sketch(const nd_options *o, arena *mem, const nd_sketch_ref *ref, const uint32_t **ids, uint64_t *keys)
{
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

/* Raw ids (pipeline_sink.adopt_ids): written once, into the thread's
 * block (idblocks.c). */
static int keep_raw_ids(const nd_options *o, worker_tools *w, const nd_sketch_ref *ref, result *res, uint64_t *keys)
{
    nd_lsh_band_keys(keys, ref->signature, o->bands, o->rows);
    res->doc.ids = NULL;
    if (ref->count == 0)
        return ND_OK;
    uint32_t *at;
    int rc = id_writer_put(&w->ids, ref->ids, ref->count, &at, &res->done_block, &res->done_capacity);
    res->doc.ids = at;
    return rc;
}

typedef struct unit_gather {
    const shared *sh;
    worker_tools *tools;
    arena *mem;
    size_t count;
} unit_gather;

/* nd_sketch_units' callback: keep one unit in the worker's scratch, its
 * band keys in the arena at once (copying them there afterwards, 128 bytes
 * a unit, was a tenth of gathering). What the index keeps of a unit but
 * would compute from it on the committing thread, its folded band keys
 * and (ids sorted distinct) its set hash, is computed here, on the worker
 * (index_add.h). With raw ids (pipeline_sink.adopt_ids) the unit's ids are
 * kept as made and its set hash is left to the index, which sorts only the
 * units that may have a copy (index.c: settle_shared): most units, alone
 * in their bands, are never sorted (10k syndicated paragraphs: sorting
 * was 8% of the instructions). */
static int gather_unit(void *ctx, nd_span span, const nd_sketch_ref *sketch)
{
    unit_gather *g = ctx;
    worker_tools *w = g->tools;
    const nd_options *o = g->sh->opts;
    if (nd_grow((void **)&w->units, &w->units_capacity, g->count + 1, sizeof *w->units) != 0)
        return ND_ENOMEM;
    /* its folded keys and then its ids, in one piece of the arena */
    uint32_t *keys = arena_alloc(g->mem, (o->bands + sketch->count) * sizeof *keys);
    if (!keys)
        return ND_ENOMEM;
    nd_lsh_band_keys_folded(keys, sketch->signature, o->bands, o->rows);
    sketched_unit *u = &w->units[g->count];
    u->span = span;
    u->id_count = sketch->count;
    u->keys = keys;
    u->set_hash = g->sh->raw_ids ? 0 : nd_index_set_hash(sketch->ids, sketch->count);
    u->ids = NULL;
    if (sketch->count > 0) {
        memcpy(keys + o->bands, sketch->ids, sketch->count * sizeof *keys);
        u->ids = keys + o->bands;
    }
    g->count++;
    return ND_OK;
}

static int sketch_units(const shared *sh, worker_tools *w, arena *mem, const char *text, size_t len, result *res)
{
    unit_gather g = {sh, w, mem, 0};
    size_t invalid = 0;
    int rc = sh->raw_ids ? nd_sketch_units_raw(&invalid, w->sketcher, text, len, sh->cfg->unit, sh->cfg->min_tokens,
                                               gather_unit, &g)
                         : nd_sketch_units(&invalid, w->sketcher, text, len, sh->cfg->unit, sh->cfg->min_tokens,
                                           gather_unit, &g);
    res->doc.invalid_utf8 += invalid;
    if (rc != ND_OK || g.count == 0)
        return rc;
    sketched_unit *units = arena_alloc(mem, g.count * sizeof *units);
    if (!units)
        return ND_ENOMEM;
    memcpy(units, w->units, g.count * sizeof *units);
    res->doc.units = units;
    res->doc.unit_count = g.count;
    return ND_OK;
}

static int sketch_document(const shared *sh, worker_tools *w, arena *mem, const char *text, size_t len, result *res,
                           uint64_t *keys)
{
    res->doc.text_len = len;
    if (sh->cfg->unit != ND_UNIT_DOCUMENT)
        return sketch_units(sh, w, mem, text, len, res);
    nd_sketch_ref sketch;
    int rc = sh->raw_ids ? nd_sketch_text_ref_raw(&sketch, w->sketcher, text, len)
                         : nd_sketch_text_ref(&sketch, w->sketcher, text, len);
    if (rc != ND_OK)
        return rc;
    res->doc.invalid_utf8 += sketch.invalid_utf8;
    if (sketch.num_tokens < sh->cfg->min_tokens)
        sketch.count = 0; /* below --min-tokens: treated as empty */
    res->doc.id_count = sketch.count;
    res->doc.keys = keys;
    if (sh->raw_ids)
        return keep_raw_ids(sh->opts, w, &sketch, res, keys);
    return keep_sketch(sh->opts, mem, &sketch, &res->doc.ids, keys);
}

/* The record's id, moved to the arena (the malloc'd one is freed here, on
 * the thread that made it). */
static int keep_id(arena *mem, result *res, char *id)
{
    res->doc.id = id ? arena_strdup(mem, id) : NULL;
    free(id);
    return res->doc.id ? ND_OK : ND_ENOMEM;
}

static int process_json(const shared *sh, worker_tools *w, arena *mem, const record *rec, result *res, uint64_t *keys)
{
    doc_view view;
    int rc = doc_view_open(&view, sh->cfg, sh->in, rec);
    if (rc != ND_OK)
        return rc;
    res->doc.fields = view.fields;
    if (view.error) {
        res->error = view.error; /* reported, in order, by the sink */
        res->doc.error = view.error;
        view.error = NULL;
    } else {
        rc = keep_id(mem, res, view.id);
        view.id = NULL;
        res->doc.invalid_utf8 = view.invalid_utf8;
        if (rc == ND_OK && sh->cfg->keep_field)
            rc = keep_value_read(&res->doc.keep, &res->error, sh->cfg, sh->in, rec, view.root, mem);
        if (res->error)
            res->doc.error = res->error; /* the field is unusable: reported, in order, by the sink */
        else if (rc == ND_OK)
            rc = sketch_document(sh, w, mem, view.text, view.len, res, keys);
    }
    doc_view_close(&view);
    return rc;
}

static int process_text(const shared *sh, worker_tools *w, arena *mem, const record *rec, result *res, uint64_t *keys)
{
    if (keep_id(mem, res, record_default_id(sh->in, rec)) != 0)
        return ND_ENOMEM;
    if (!sh->repair_plain)
        return sketch_document(sh, w, mem, rec->data, rec->len, res, keys);
    /* Pass 2 sees the text with ill-formed UTF-8 replaced; sketch that same
     * text so that unit spans point into it. */
    if (nd_grow((void **)&w->repaired, &w->repaired_capacity, rec->len * 3 + 1, 1) != 0)
        return ND_ENOMEM;
    size_t repaired_len;
    res->doc.invalid_utf8 = nd_utf8_repair(w->repaired, &repaired_len, rec->data, rec->len);
    return sketch_document(sh, w, mem, w->repaired, repaired_len, res, keys);
}

/* Sketch the next GRAB records of `b`, if any are left. Returns 1 after
 * some, 0 when none is left, or a (negative) library error, after which
 * the other threads stop too. Any number of threads may run this on the
 * same batch. */
static int process_grab(const shared *sh, unsigned worker, batch *b)
{
    atomic_size_t *next = &b->next;
    worker_tools *w = &sh->tools[worker];
    arena *mem = &b->arenas[worker];
    unsigned bands = sh->opts->bands;
    size_t first = atomic_fetch_add(next, GRAB);
    if (first >= b->count)
        return 0;
    size_t last = first + GRAB < b->count ? first + GRAB : b->count;
    for (size_t i = first; i < last; i++) {
        const record *rec = &b->records[i];
        result *res = &b->results[i];
        uint64_t *keys = b->keys + i * bands;
        int rc = rec->kind != RECORD_TEXT ? process_json(sh, w, mem, rec, res, keys)
                                          : process_text(sh, w, mem, rec, res, keys);
        if (rc != ND_OK) {
            atomic_store(next, b->count); /* the others stop too */
            return rc;
        }
    }
    atomic_store_explicit(&b->done[first / GRAB].set, 1, memory_order_release);
    return 1;
}

/* Sketch records of `b` until none is left; returns ND_OK or the first
 * library error. */
static int process_batch(const shared *sh, unsigned worker, batch *b)
{
    int rc;
    while ((rc = process_grab(sh, worker, b)) > 0)
        continue;
    return rc;
}

/* The pool: N - 1 threads that sketch the submitted batches alongside the
 * main thread. Up to two batches are submitted at a time, oldest first: a
 * worker that finds no record left in one passes straight on to the next
 * (the main thread submits batch k + 1 as soon as it is read, while batch
 * k is sketched), so it does not wait at every batch's end for the main
 * thread to finish its last records and hand the next batch over. The
 * main thread retires the oldest batch once no worker is in it, and only
 * then commits, resets and reads into it again. */
typedef struct pool {
    const shared *sh;
    pthread_t *threads;
    unsigned count; /* threads started */
    pthread_mutex_t lock;
    pthread_cond_t wake; /* a batch submitted, or stop */
    pthread_cond_t idle; /* a worker left a batch */
    batch *queue[2];     /* submitted batches, oldest first */
    unsigned queued;
    int stop;
} pool;

typedef struct pool_worker {
    pool *p;
    unsigned index; /* its tools: sh->tools[index] */
} pool_worker;

/* With the lock held: the oldest submitted batch with records left, or NULL. */
static batch *pool_open_batch(pool *p)
{
    for (unsigned k = 0; k < p->queued; k++) {
        if (!p->queue[k]->exhausted)
            return p->queue[k];
    }
    return NULL;
}

/* With the lock held: b's records are all taken (or its sketching stopped
 * with rc). */
static void pool_leave(batch *b, int rc)
{
    b->exhausted = 1;
    if (rc != ND_OK && b->status == ND_OK)
        b->status = rc;
}

static void *pool_main(void *arg)
{
    pool_worker *w = arg;
    pool *p = w->p;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        batch *b = NULL;
        while (!p->stop && !(b = pool_open_batch(p)))
            pthread_cond_wait(&p->wake, &p->lock);
        if (p->stop)
            break;
        b->users++;
        pthread_mutex_unlock(&p->lock);
        int rc = process_batch(p->sh, w->index, b);
        pthread_mutex_lock(&p->lock);
        pool_leave(b, rc);
        if (--b->users == 0)
            pthread_cond_broadcast(&p->idle);
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

/* Hand batch b (read, not submitted) to the workers, after any submitted
 * before it. */
static void pool_submit(pool *p, batch *b)
{
    pthread_mutex_lock(&p->lock);
    atomic_store(&b->next, 0);
    b->users = 0;
    b->exhausted = 0;
    b->status = ND_OK;
    p->queue[p->queued++] = b;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->lock);
}

/* With the lock held: wait until no worker is in the oldest batch, take it
 * off the queue and return its status. */
static int pool_retire(pool *p)
{
    batch *b = p->queue[0];
    while (b->users > 0)
        pthread_cond_wait(&p->idle, &p->lock);
    p->queue[0] = p->queue[1];
    p->queued--;
    return b->status;
}

/* Work on the oldest submitted batch with sketcher 0 until no record is
 * left, committing each record as soon as it and those before it are
 * done, between GRABs of sketching: committing overlaps the workers'
 * sketching (the last batch has no next one to keep them busy while this
 * thread commits), and a record's units and ids are committed while still
 * in this thread's caches. Then wait for the workers still in the batch,
 * retire it, commit the rest and call the sink's batch_done. Returns the
 * batch's status; *commit_rc is EXIT_FAIL if the sink stopped the run. */
static int pool_finish_committing(pool *p, const pipeline_sink *sink, int *commit_rc, double *commit_s)
{
    batch *b = p->queue[0];
    size_t committed = 0;
    int rc;
    *commit_rc = EXIT_OK;
    struct timespec t0;
    while ((rc = process_grab(p->sh, 0, b)) > 0) {
        clock_gettime(CLOCK_MONOTONIC, &t0);
        *commit_rc = batch_commit_ready(sink, b, &committed, 0);
        *commit_s += report_seconds_since(&t0);
        if (*commit_rc != EXIT_OK) {
            atomic_store(&b->next, b->count); /* the workers stop too */
            break;
        }
    }
    pthread_mutex_lock(&p->lock);
    pool_leave(b, rc > 0 ? ND_OK : rc);
    int status = pool_retire(p);
    pthread_mutex_unlock(&p->lock);
    if (status != ND_OK || *commit_rc != EXIT_OK)
        return status;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    *commit_rc = batch_commit_ready(sink, b, &committed, 1);
    if (*commit_rc == EXIT_OK && sink->batch_done)
        *commit_rc = sink->batch_done(sink->ctx);
    *commit_s += report_seconds_since(&t0);
    return ND_OK;
}

/* The run failed: stop the sketching of every submitted batch and wait
 * until no worker is in one, so that the batches can be freed. */
static void pool_abandon(pool *p)
{
    pthread_mutex_lock(&p->lock);
    for (unsigned k = 0; k < p->queued; k++) {
        atomic_store(&p->queue[k]->next, p->queue[k]->count);
        pool_leave(p->queue[k], ND_OK);
    }
    while (p->queued > 0)
        (void)pool_retire(p);
    pthread_mutex_unlock(&p->lock);
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

static void tools_free(worker_tools *tools, unsigned n)
{
    for (unsigned t = 0; tools && t < n; t++) {
        nd_sketcher_free(tools[t].sketcher);
        free(tools[t].units);
        free(tools[t].repaired);
    }
    free(tools);
}

int pipeline_run(const cli_config *cfg, const nd_options *opts, input *in, const pipeline_sink *sink,
                 pipeline_timing *timing)
{
    unsigned threads = cfg->threads ? cfg->threads : 1;
    shared sh = {cfg, opts, in, NULL, cfg->unit != ND_UNIT_DOCUMENT, sink->adopt_ids != NULL};
    sh.tools = calloc(threads, sizeof *sh.tools);
    pool_worker *slots = calloc(threads, sizeof *slots);
    batch batches[2];
    memset(batches, 0, sizeof batches);
    memset(timing, 0, sizeof *timing);
    pool p;
    int started = 0, rc = EXIT_FAIL;
    for (int k = 0; k < 2; k++) {
        batches[k].arenas = calloc(threads, sizeof *batches[k].arenas);
        batches[k].arena_count = batches[k].arenas ? threads : 0;
    }
    if (!sh.tools || !slots || !batches[0].arenas || !batches[1].arenas) {
        cli_error("out of memory");
        goto done;
    }
    for (unsigned t = 0; t < threads; t++) {
        int nrc = nd_sketcher_new(&sh.tools[t].sketcher, opts);
        if (nrc != ND_OK) {
            cli_error("cannot start: %s", nd_strerror(nrc));
            goto done;
        }
        /* A document's words are counted only against --min-tokens above
         * 1; otherwise text signed with character shingles skips ICU's word
         * breaking (same signature; units are sketched with words anyway). */
        nd_sketcher_set_words(sh.tools[t].sketcher, cfg->min_tokens > 1);
    }
    if (pool_start(&p, &sh, threads - 1, slots) != 0) {
        cli_error("cannot start the worker threads");
        goto done;
    }
    started = 1;
    /* Two batches in flight: the workers sketch batch `cur` while this
     * thread reads the next one and submits it, then joins them on `cur`;
     * the workers go on to the next batch as `cur` runs out, while this
     * thread finishes and commits it. */
    int cur = 0;
    unsigned number = 0; /* of the batch read */
    int got = batch_read(&batches[cur], in, opts->bands, number++);
    if (got > 0)
        pool_submit(&p, &batches[cur]);
    /* With one thread nothing overlaps the reading: the next batch is read
     * into the same one once it is committed, so only one batch's memory is
     * ever touched (50k documents, 1 thread: CJK 3.3k -> 2.7-3.0k page
     * faults, Latin 3.4k -> 2.9k). */
    int alone = threads == 1;
    struct timespec t0;
    while (got > 0) {
        int next_got = 1;
        if (!alone) {
            clock_gettime(CLOCK_MONOTONIC, &t0);
            next_got = batch_read(&batches[1 - cur], in, opts->bands, number++); /* overlaps the workers */
            timing->read_s += report_seconds_since(&t0);
            if (next_got > 0)
                pool_submit(&p, &batches[1 - cur]); /* the workers go on to it from `cur` */
        }
        /* this thread sketches its share of `cur` and commits each record
         * as soon as it and those before it are done, between its GRABs,
         * while their units and ids are still in its caches (committing the
         * whole batch afterwards read them back from memory) */
        int commit_rc;
        double commit_s = 0;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        int status = pool_finish_committing(&p, sink, &commit_rc, &commit_s);
        timing->sketch_s += report_seconds_since(&t0) - commit_s;
        timing->commit_s += commit_s;
        if (status != ND_OK)
            cli_error("%s", nd_strerror(status));
        if (status != ND_OK || commit_rc != EXIT_OK)
            goto done;
        if (next_got == 0) {
            got = 0;
            break; /* that was the last batch */
        }
        clock_gettime(CLOCK_MONOTONIC, &t0);
        batch_reset(&batches[cur]);
        timing->commit_s += report_seconds_since(&t0);
        if (alone) {
            clock_gettime(CLOCK_MONOTONIC, &t0);
            got = batch_read(&batches[cur], in, opts->bands, number++);
            timing->read_s += report_seconds_since(&t0);
            if (got > 0)
                pool_submit(&p, &batches[cur]);
            continue;
        }
        cur = 1 - cur;
        got = next_got;
    }
    if (got < 0)
        goto done;
    rc = EXIT_OK;
done:
    if (started) {
        pool_abandon(&p); /* let the workers leave the batches before they are freed */
        pool_stop(&p);
    }
    /* raw ids: the blocks not handed on yet (those of records not
     * committed, and each thread's last) go to the sink now */
    int lost = 0;
    for (int k = 0; k < 2; k++) {
        for (size_t i = 0; batches[k].results && i < batches[k].count; i++)
            lost |= id_blocks_hand_over(sink, batches[k].results[i].done_block, batches[k].results[i].done_capacity);
    }
    for (unsigned t = 0; sh.tools && t < threads; t++)
        lost |= id_blocks_hand_over(sink, sh.tools[t].ids.block, sh.tools[t].ids.capacity);
    if (lost && rc == EXIT_OK) {
        cli_error("out of memory");
        rc = EXIT_FAIL;
    }
    batch_free(&batches[0]);
    batch_free(&batches[1]);
    tools_free(sh.tools, threads);
    free(slots);
    return rc;
}
