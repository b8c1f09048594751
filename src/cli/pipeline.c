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
 * thread, one step after the other.
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

#include "alloc.h" /* nd_grow */
#include "arena.h"
#include "document.h"
#include "idblocks.h"
#include "idguess.h"
#include "index_add.h"
#include "pipebatch.h"
#include "report.h" /* report_seconds_since */

/* ****  Per-record work (any thread)  **** */

/* One thread's tools: its sketcher and the scratch in which it gathers a
 * document's units before copying them to its arena. Each thread's tools
 * on cache lines of their own, and each worker's sketcher made on that
 * worker (tools_start): its allocations then come from that thread's
 * heap, away from the others'. Written for every document (the id
 * writer, the sketcher's tokens and signature), fields of two threads
 * that shared a line made both slow whenever the heap's layout put them
 * together: `scan -o FILE`, one allocation more before the sketchers,
 * took 1.08x the CPU time of writing to stdout (1M generated documents,
 * 2 threads, 7 rounds in turn), id_writer_put and nd_shingle_choice 20
 * and 16 times their samples; laid out so, 0.92x the wall time with -o
 * and 0.95x to stdout, and the same with -o as to stdout. */
typedef struct worker_tools {
    _Alignas(64) nd_sketcher *sketcher;
    sketched_unit *units;
    size_t units_capacity;
    char *repaired; /* plain text with ill-formed UTF-8 replaced (unit mode) */
    size_t repaired_capacity;
    json_scratch json; /* JSON texts with escapes unescaped here (doc_view_open_with) */
    id_writer ids;     /* raw ids: the block its documents' ids are written to */
    /* the last document sketched, whose ids the guess (id_predictor) has
     * not decided on yet (keep_block_ids): they stay in the sketcher until
     * it sketches again, and the guess's bits come in meanwhile */
    result *undecided; /* NULL: none */
    const uint32_t *undecided_ids;
    size_t undecided_count;
} worker_tools;

typedef struct shared {
    const cli_config *cfg;
    const nd_options *opts;
    const input *in;
    worker_tools *tools;   /* one per thread */
    int repair_plain;      /* sketch plain texts with ill-formed UTF-8 replaced, as pass 2 will see them */
    int raw_ids;           /* ids as made: pipeline_sink.adopt_ids is set, without settled_ids in document mode */
    int block_ids;         /* ids written into the thread's block: pipeline_sink.adopt_ids is set */
    id_predictor *predict; /* pipeline_sink.predict */
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

/* Write ids[0..count) of `res` into the thread's block. */
static int put_block_ids(worker_tools *w, result *res, const uint32_t *ids, size_t count)
{
    uint32_t *at;
    int rc = id_writer_put(&w->ids, ids, count, &at, &res->done_block, &res->done_capacity);
    res->doc.ids = at;
    return rc;
}

/* Decide on the thread's undecided document, if any (keep_block_ids):
 * before its sketcher sketches again, and before its grab is done. */
static int decide_ids(const shared *sh, worker_tools *w)
{
    result *res = w->undecided;
    if (!res)
        return ND_OK;
    w->undecided = NULL;
    if (!id_predictor_keep(sh->predict, res->doc.rec, res->doc.text_len, w->undecided_count, res->doc.keys,
                           sh->opts->bands))
        return ND_OK; /* dropped */
    return put_block_ids(w, res, w->undecided_ids, w->undecided_count);
}

/* Ids the sink adopts (pipeline_sink.adopt_ids; raw unless settled_ids):
 * written once, into the thread's block (idblocks.c). With a guess, the
 * document is left undecided until the thread's next record is read (its
 * JSON parsed: about the time the guess's bits take to come in; each is
 * a cache miss more often than not, and asked for and waited on at once
 * they were 3-4% of a 50k CJK scan). */
static int keep_block_ids(const shared *sh, worker_tools *w, const nd_sketch_ref *ref, result *res, uint64_t *keys)
{
    const nd_options *o = sh->opts;
    nd_lsh_band_keys(keys, ref->signature, o->bands, o->rows);
    res->doc.ids = NULL;
    if (ref->count == 0)
        return ND_OK; /* no ids */
    if (!sh->predict)
        return put_block_ids(w, res, ref->ids, ref->count);
    id_predictor_prefetch(sh->predict, keys, o->bands);
    w->undecided = res;
    w->undecided_ids = ref->ids;
    w->undecided_count = ref->count;
    return ND_OK;
}

typedef struct unit_gather {
    const shared *sh;
    worker_tools *tools;
    arena *mem;
    result *res;
    size_t count;
} unit_gather;

/* Raw ids (pipeline_sink.adopt_ids): a unit's ids written once, into the
 * thread's block (idblocks.c), where the index keeps them; the units
 * gathered so far follow their ids when the document moves to a new block. */
static int keep_unit_ids(unit_gather *g, const nd_sketch_ref *sketch, const uint32_t **ids)
{
    worker_tools *w = g->tools;
    uint32_t *at, *done, *to = NULL;
    const uint32_t *from;
    size_t done_capacity = 0;
    int rc = id_writer_put_unit(&w->ids, sketch->ids, sketch->count, &at, &done, &done_capacity, &from, &to);
    if (rc != ND_OK)
        return rc;
    if (done) { /* at most one a document: the block its first units went to */
        g->res->done_block = done;
        g->res->done_capacity = done_capacity;
    }
    for (size_t u = 0; from && u < g->count; u++) {
        if (w->units[u].ids)
            w->units[u].ids = to + (w->units[u].ids - from);
    }
    *ids = at;
    return ND_OK;
}

/* nd_sketch_units' callback: keep one unit in the worker's scratch, its
 * band keys in the arena at once (copying them there afterwards, 128 bytes
 * a unit, was a tenth of gathering). What the index keeps of a unit but
 * would compute from it on the committing thread, its folded band keys
 * and (ids sorted distinct) its set hash, is computed here, on the worker
 * (index_add.h). With raw ids (pipeline_sink.adopt_ids) the unit's ids are
 * kept as made, written once where the index keeps them (keep_unit_ids: the
 * committing thread copies none), and its set hash is left to the index,
 * which sorts only the units that may have a copy (index_settle.c:
 * nd_index_settle_shared): most units, alone in their bands, are never
 * sorted (10k syndicated paragraphs: sorting was 8% of the instructions). */
static int gather_unit(void *ctx, nd_span span, const nd_sketch_ref *sketch)
{
    unit_gather *g = ctx;
    worker_tools *w = g->tools;
    const nd_options *o = g->sh->opts;
    int raw = g->sh->raw_ids;
    if (g->count == w->units_capacity && /* (a call per unit was a tenth of gathering it) */
        nd_grow((void **)&w->units, &w->units_capacity, g->count + 1, sizeof *w->units) != 0)
        return ND_ENOMEM;
    /* its folded keys, and then (ids sorted distinct) its ids, in one piece of the arena */
    uint32_t *keys = arena_alloc(g->mem, (o->bands + (raw ? 0 : sketch->count)) * sizeof *keys);
    if (!keys)
        return ND_ENOMEM;
    nd_lsh_band_keys_folded(keys, sketch->signature, o->bands, o->rows);
    const uint32_t *ids = NULL;
    if (sketch->count > 0) {
        if (raw) {
            int rc = keep_unit_ids(g, sketch, &ids);
            if (rc != ND_OK)
                return rc;
        } else {
            memcpy(keys + o->bands, sketch->ids, sketch->count * sizeof *keys);
            ids = keys + o->bands;
        }
    }
    sketched_unit *u = &w->units[g->count];
    u->span = span;
    u->id_count = sketch->count;
    u->keys = keys;
    u->set_hash = raw ? 0 : nd_index_set_hash(sketch->ids, sketch->count);
    u->ids = ids;
    g->count++;
    return ND_OK;
}

static int sketch_units(const shared *sh, worker_tools *w, arena *mem, const char *text, size_t len, result *res)
{
    unit_gather g = {sh, w, mem, res, 0};
    size_t invalid = 0;
    int rc;
    if (sh->raw_ids) {
        id_writer_start_doc(&w->ids);
        rc = nd_sketch_units_raw(&invalid, w->sketcher, text, len, sh->cfg->unit, sh->cfg->min_tokens, gather_unit, &g);
    } else {
        rc = nd_sketch_units(&invalid, w->sketcher, text, len, sh->cfg->unit, sh->cfg->min_tokens, gather_unit, &g);
    }
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
    int rc = decide_ids(sh, w); /* the last document's ids are the sketcher's until it sketches again */
    if (rc != ND_OK)
        return rc;
    if (sh->cfg->unit != ND_UNIT_DOCUMENT)
        return sketch_units(sh, w, mem, text, len, res);
    nd_sketch_ref sketch;
    rc = sh->raw_ids ? nd_sketch_text_ref_raw(&sketch, w->sketcher, text, len)
                     : nd_sketch_text_ref(&sketch, w->sketcher, text, len);
    if (rc != ND_OK)
        return rc;
    res->doc.invalid_utf8 += sketch.invalid_utf8;
    if (sketch.num_tokens < sh->cfg->min_tokens)
        sketch.count = 0; /* below --min-tokens: treated as empty */
    res->doc.id_count = sketch.count;
    res->doc.keys = keys;
    if (sh->block_ids)
        return keep_block_ids(sh, w, &sketch, res, keys);
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
    int rc = doc_view_open_with(&view, sh->cfg, sh->in, rec, &w->json);
    if (rc != ND_OK)
        return rc;
    res->doc.fields = view.fields;
    if (view.error) {
        res->error = view.error; /* reported, in order, by the sink */
        res->doc.error = view.error;
        view.error = NULL;
    } else {
        if (view.id_raw) { /* where it lies in the record: copied to the arena */
            res->doc.id = arena_strndup(mem, view.id_raw, view.id_raw_len);
            rc = res->doc.id ? ND_OK : ND_ENOMEM;
        } else {
            rc = keep_id(mem, res, view.id);
        }
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

/* Make thread w's sketcher, on that thread, if not made yet. ND_OK or a
 * library error. */
static int tools_start(const shared *sh, worker_tools *w)
{
    if (w->sketcher)
        return ND_OK;
    int rc = nd_sketcher_new(&w->sketcher, sh->opts);
    if (rc != ND_OK)
        return rc;
    /* A document's words are counted only against --min-tokens above 1;
     * otherwise text signed with character shingles skips ICU's word
     * breaking (same signature; units are sketched with words anyway). */
    nd_sketcher_set_words(w->sketcher, sh->cfg->min_tokens > 1);
    return ND_OK;
}

/* Sketch the next grab of `b` (pipebatch.h), if any is left. Returns 1
 * after it, 0 when none is left, or a (negative) library error, after
 * which the other threads stop too. Any number of threads may run this on
 * the same batch. */
static int process_grab(const shared *sh, unsigned worker, batch *b)
{
    atomic_size_t *next = &b->next;
    worker_tools *w = &sh->tools[worker];
    arena *mem = &b->arenas[worker];
    unsigned bands = sh->opts->bands;
    int made = tools_start(sh, w);
    if (made != ND_OK) {
        atomic_store(next, b->grabs); /* the others stop too */
        return made;
    }
    size_t grab = atomic_fetch_add(next, 1);
    if (grab >= b->grabs)
        return 0;
    size_t end = b->grab_start[grab + 1];
    for (size_t i = b->grab_start[grab]; i < end; i++) {
        const record *rec = &b->records[i];
        result *res = &b->results[i];
        uint64_t *keys = b->keys + i * bands;
        int rc = rec->kind != RECORD_TEXT ? process_json(sh, w, mem, rec, res, keys)
                                          : process_text(sh, w, mem, rec, res, keys);
        if (rc == ND_OK && i + 1 == end)
            rc = decide_ids(sh, w); /* the grab's last document, before the grab is done */
        if (rc != ND_OK) {
            w->undecided = NULL;
            atomic_store(next, b->grabs); /* the others stop too */
            return rc;
        }
    }
    atomic_store_explicit(&b->done[grab].set, 1, memory_order_release);
    return 1;
}

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
    const shared *sh;
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
    int rc = process_grab(p->sh, t, b);
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

static void tools_free(worker_tools *tools, unsigned n)
{
    for (unsigned t = 0; tools && t < n; t++) {
        nd_sketcher_free(tools[t].sketcher);
        free(tools[t].units);
        free(tools[t].repaired);
        free(tools[t].json.buf);
    }
    free(tools);
}

int pipeline_run(const cli_config *cfg, const nd_options *opts, input *in, const pipeline_sink *sink,
                 pipeline_timing *timing)
{
    unsigned threads = cfg->threads ? cfg->threads : 1;
    shared sh = {cfg,
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
    /* the main thread's sketcher (the workers make theirs: tools_start),
     * which checks the options before any thread starts */
    int nrc = tools_start(&sh, &sh.tools[0]);
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
    tools_free(sh.tools, threads);
    free(slots);
    return rc;
}
