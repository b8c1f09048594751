/* pipeline.c - pass 1: read records in batches, parse and sketch them on
 * N threads, commit them in input order. See pipeline.h.
 *
 * --threads N means N threads do the work: the main thread and a pool of
 * N - 1 workers, started once. While the workers parse and sketch batch k
 * (JSON parsing, normalization, shingling, MinHash and band keys all
 * happen there), the main thread reads batch k + 1 and submits it (a
 * worker out of records in batch k goes straight on to it), then joins in
 * on batch k until it is done, committing its records to the sink in
 * input order as they are done (between its own grabs), so every byte of
 * output is the same for any N. With N = 1 everything runs on the main
 * thread, one step after the other. The work on each record (parsing,
 * sketching, what is kept of it) is pipework.c's; this file runs the
 * threads, the batches and the commits.
 *
 * Memory: what a worker makes for a document (its id, shingle ids, units)
 * goes into that worker's arena for the batch (arena.c), but the ids a
 * sink adopts (pipeline_sink.adopt_ids: raw, a document's or its units',
 * or a query's sorted ones), which go into the worker's block of ids that
 * the sink adopts (idblocks.c); nothing made
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

#include "idblocks.h" /* id_blocks_hand_over */
#include "pipebatch.h"
#include "pipework.h" /* each record's work */
#include "report.h"   /* report_seconds_since */

/* ****  The pool  **** */

/* N threads, the main thread and N - 1 workers, and up to IN_FLIGHT
 * batches submitted at a time, oldest first. There is no reading thread
 * or committing one: each thread, whenever it is free, does the first of
 *  - commit: hand the oldest batch's records that are done to the sink, in
 *    input order, up to the first one not done; retire the batch once all
 *    are committed and no thread is in it (then the sink's batch_done);
 *  - read: read the next batch into a retired (or unused) one and submit it;
 *  - sketch: a grab (pipebatch.h) of the oldest batch with records left;
 * each of the first two on one thread at a time, and waits only when none
 * is possible. (A sink that is not pipeline_sink.any_thread's commits on
 * the main thread only.) A thread held up (its CPU taken by another process, or the
 * kernel clearing a fresh huge page) holds up only what it holds: the
 * others go on sketching, reading and committing around it, up to the
 * batches in flight, where a main thread that read and committed alone
 * left the workers idle while it was held up, and waited for them while
 * they were (1M documents, 2 threads on the shared 2-core host: each
 * thread idle 0.5-1 s of a 3.5-10 s pass; now 0.01-0.03 s on a calm host,
 * 0.03-0.11 s with a load of 3.6; with three batches in flight, not four,
 * 0.15-0.8 s). With one thread, one batch is in flight: it is
 * read, sketched and committed, then read into again, so only one batch's
 * memory is ever touched (50k documents: CJK 3.3k -> 2.7-3.0k page faults,
 * Latin 3.4k -> 2.9k).
 * A thread takes the records of the oldest batch with any left, a grab at a
 * time, so each thread sketches its records in input order (which the raw
 * id blocks need, idblocks.c); and the sink sees every record in input
 * order on one thread at a time (the lock hands it on), so what it builds
 * is the same for any N. */
enum { IN_FLIGHT = 4 };

typedef struct pool {
    const pipe_shared *sh;
    const pipeline_sink *sink;
    input *in;
    batch *batches; /* IN_FLIGHT of them */
    unsigned limit; /* batches in flight at most: 1 with one thread */
    pthread_t *threads;
    unsigned count; /* workers started */
    pthread_mutex_t lock;
    pthread_cond_t changed;  /* a batch submitted or retired, the input ended, or the run stopped */
    batch *queue[IN_FLIGHT]; /* submitted batches, oldest first */
    unsigned queued;
    size_t committed;        /* records of queue[0] committed */
    unsigned number;         /* batches read so far */
    int reading;             /* a thread reads the next batch */
    int committing;          /* a thread commits (or runs batch_done) */
    int end;                 /* the input is read to its end */
    int failed;              /* the run failed: every thread stops */
    int error;               /* a library error that failed it (reported by the main thread), or ND_OK */
    int stop;                /* the workers leave */
    pipeline_timing *timing; /* the main thread's */
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

/* With the lock held: may thread t commit now? (Records of the oldest
 * batch are done, or it is all committed and no thread is in it; and the
 * sink takes them on any thread, or t is the main thread.) */
static int can_commit(const pool *p, unsigned t)
{
    if (p->committing || p->queued == 0 || (t != 0 && !p->sink->any_thread))
        return 0;
    const batch *b = p->queue[0];
    if (p->committed == b->count)
        return b->users == 0;
    return atomic_load_explicit(&b->done[b->grab_of[p->committed]].set, memory_order_acquire) != 0;
}

/* With the lock held: the oldest batch's records that are done to the
 * sink, with the lock released; the batch retired and the sink's
 * batch_done called once it is all committed and no thread is in it. */
static void commit_step(pool *p, unsigned t)
{
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    p->committing = 1;
    batch *b = p->queue[0];
    size_t committed = p->committed;
    pthread_mutex_unlock(&p->lock);
    int rc = batch_commit_ready(p->sink, b, &committed, 0);
    pthread_mutex_lock(&p->lock);
    p->committed = committed;
    if (rc == EXIT_OK && committed == b->count && b->users == 0) {
        /* every record taken and done, no thread in it: retired (a thread
         * that did not see it run out will not enter it now) */
        b->exhausted = 1;
        memmove(p->queue, p->queue + 1, (p->queued - 1) * sizeof *p->queue);
        p->queued--;
        p->committed = 0;
        pthread_mutex_unlock(&p->lock);
        if (p->sink->batch_done)
            rc = p->sink->batch_done(p->sink->ctx);
        pthread_mutex_lock(&p->lock);
        pthread_cond_broadcast(&p->changed); /* room for a batch; or the last one is done */
    }
    if (rc != EXIT_OK)
        p->failed = 1; /* reported */
    p->committing = 0;
    if (p->failed)
        pthread_cond_broadcast(&p->changed); /* pool_stop may wait for this */
    if (t == 0)
        p->timing->commit_s += report_seconds_since(&t0);
}

/* With the lock held: read the next batch into one not in flight, with
 * the lock released, and submit it. */
static void read_step(pool *p, unsigned t)
{
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    p->reading = 1;
    batch *b = NULL;
    for (unsigned k = 0; k < IN_FLIGHT && !b; k++) {
        unsigned q = 0;
        while (q < p->queued && p->queue[q] != &p->batches[k])
            q++;
        if (q == p->queued)
            b = &p->batches[k];
    }
    unsigned number = p->number++;
    pthread_mutex_unlock(&p->lock);
    batch_reset(b); /* retired: its records' copies, blocks and arenas are free again */
    int got = batch_read(b, p->in, p->sh->opts->bands, number);
    pthread_mutex_lock(&p->lock);
    p->reading = 0;
    if (got > 0) {
        atomic_store(&b->next, 0);
        b->users = 0;
        b->exhausted = 0;
        b->status = ND_OK;
        p->queue[p->queued++] = b;
    } else if (got == 0) {
        p->end = 1;
    } else {
        p->failed = 1; /* reported */
    }
    pthread_cond_broadcast(&p->changed);
    if (t == 0)
        p->timing->read_s += report_seconds_since(&t0);
}

/* With the lock held: sketch a grab of b, with the lock released. */
static void sketch_step(pool *p, unsigned t, batch *b)
{
    b->users++;
    pthread_mutex_unlock(&p->lock);
    int rc = pipe_process_grab(p->sh, t, b);
    pthread_mutex_lock(&p->lock);
    b->users--;
    if (rc <= 0)
        b->exhausted = 1;
    if (t != 0 && !p->sink->any_thread && can_commit(p, 0))
        pthread_cond_broadcast(&p->changed); /* the main thread may wait to commit */
    if (rc < 0) {
        b->status = rc;
        if (!p->failed) {
            p->failed = 1;
            p->error = rc;
        }
    }
    if (p->failed)
        pthread_cond_broadcast(&p->changed); /* pool_abandon may wait for b */
}

/* Thread t's share of the run, with the lock held: commit, read or sketch
 * while any is possible, else wait. The main thread (t = 0) returns when
 * the run is done or failed, a worker when it is stopped. */
static void pool_work(pool *p, unsigned t)
{
    for (;;) {
        if (t == 0 ? p->failed || (p->end && p->queued == 0 && !p->committing) : p->stop)
            return;
        if (p->failed) {
            pthread_cond_wait(&p->changed, &p->lock);
            continue;
        }
        if (can_commit(p, t)) {
            commit_step(p, t);
            continue;
        }
        if (!p->reading && !p->end && p->queued < p->limit) {
            read_step(p, t);
            continue;
        }
        batch *b = pool_open_batch(p);
        if (b) {
            sketch_step(p, t, b);
            continue;
        }
        pthread_cond_wait(&p->changed, &p->lock);
    }
}

static void *pool_main(void *arg)
{
    pool_worker *w = arg;
    pool *p = w->p;
    pthread_mutex_lock(&p->lock);
    pool_work(p, w->index);
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

/* Start up to `wanted` workers; fewer if threads cannot be made (the
 * others then do more of the work; the output is the same). */
static int pool_start(pool *p, unsigned wanted, pool_worker *slots)
{
    if (pthread_mutex_init(&p->lock, NULL) != 0)
        return -1;
    if (pthread_cond_init(&p->changed, NULL) != 0) {
        pthread_mutex_destroy(&p->lock);
        return -1;
    }
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

/* Stop the sketching of every submitted batch, wait until no thread is in
 * one (so that the batches can be freed), and let the workers go. */
static void pool_stop(pool *p)
{
    pthread_mutex_lock(&p->lock);
    for (unsigned k = 0; k < p->queued; k++)
        atomic_store(&p->queue[k]->next, p->queue[k]->grabs);
    p->failed = 1; /* no thread starts anything new */
    p->stop = 1;
    pthread_cond_broadcast(&p->changed);
    while (p->committing || p->reading)
        pthread_cond_wait(&p->changed, &p->lock);
    for (unsigned k = 0; k < p->queued; k++) {
        while (p->queue[k]->users > 0)
            pthread_cond_wait(&p->changed, &p->lock);
    }
    pthread_mutex_unlock(&p->lock);
    for (unsigned t = 0; t < p->count; t++)
        pthread_join(p->threads[t], NULL);
    free(p->threads);
    pthread_cond_destroy(&p->changed);
    pthread_mutex_destroy(&p->lock);
}

/* ****  The run  **** */

int pipeline_run(const cli_config *cfg, const nd_options *opts, input *in, const pipeline_sink *sink,
                 pipeline_timing *timing)
{
    unsigned threads = cfg->threads ? cfg->threads : 1;
    pipe_shared sh = {cfg,
                      opts,
                      in,
                      NULL,
                      cfg->unit != ND_UNIT_DOCUMENT,
                      sink->adopt_ids && !(sink->settled_ids && cfg->unit == ND_UNIT_DOCUMENT),
                      sink->adopt_ids != NULL,
                      sink->adopt_ids && cfg->unit == ND_UNIT_DOCUMENT ? sink->predict : NULL};
    sh.tools = aligned_alloc(_Alignof(worker_tools), threads * sizeof *sh.tools); /* a multiple of the alignment */
    if (sh.tools)
        memset(sh.tools, 0, threads * sizeof *sh.tools);
    pool_worker *slots = calloc(threads, sizeof *slots);
    batch batches[IN_FLIGHT];
    memset(batches, 0, sizeof batches);
    memset(timing, 0, sizeof *timing);
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    pool p = {
        .sh = &sh, .sink = sink, .in = in, .batches = batches, .limit = threads == 1 ? 1 : IN_FLIGHT, .timing = timing};
    int started = 0, rc = EXIT_FAIL, ok = sh.tools && slots;
    for (int k = 0; k < IN_FLIGHT; k++) {
        batches[k].arenas = calloc(threads, sizeof *batches[k].arenas);
        batches[k].arena_count = batches[k].arenas ? threads : 0;
        ok &= batches[k].arenas != NULL;
    }
    if (!ok) {
        cli_error("out of memory");
        goto done;
    }
    /* the main thread's sketcher (the workers make theirs: pipe_tools_start),
     * which checks the options before any thread starts */
    int nrc = pipe_tools_start(&sh, &sh.tools[0]);
    if (nrc != ND_OK) {
        cli_error("cannot start: %s", nd_strerror(nrc));
        goto done;
    }
    if (pool_start(&p, threads - 1, slots) != 0) {
        cli_error("cannot start the worker threads");
        goto done;
    }
    started = 1;
    pthread_mutex_lock(&p.lock);
    pool_work(&p, 0);
    rc = p.failed ? EXIT_FAIL : EXIT_OK;
    pthread_mutex_unlock(&p.lock);
    if (p.error != ND_OK)
        cli_error("%s", nd_strerror(p.error));
    timing->sketch_s = report_seconds_since(&start) - timing->read_s - timing->commit_s;
done:
    if (started)
        pool_stop(&p);
    /* raw ids: the blocks not handed on yet (those of records not
     * committed, and each thread's last) go to the sink now */
    int lost = 0;
    for (int k = 0; k < IN_FLIGHT; k++) {
        for (size_t i = 0; batches[k].results && i < batches[k].count; i++)
            lost |= id_blocks_hand_over(sink, batches[k].results[i].done_block, batches[k].results[i].done_capacity);
    }
    for (unsigned t = 0; sh.tools && t < threads; t++)
        lost |= id_blocks_hand_over(sink, sh.tools[t].ids.block, sh.tools[t].ids.capacity);
    if (lost && rc == EXIT_OK) {
        cli_error("out of memory");
        rc = EXIT_FAIL;
    }
    for (int k = 0; k < IN_FLIGHT; k++)
        batch_free(&batches[k]);
    pipe_tools_free(sh.tools, threads);
    free(slots);
    return rc;
}
