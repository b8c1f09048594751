/* batch.c - many texts sketched on several threads, results in input order.
 *
 * Why: sketching (normalize, shingle, MinHash, band keys) is nearly all of
 * the work of indexing, and each text is independent, so it parallelizes;
 * adding to an index must happen in input order on one thread so that the
 * clusters do not depend on the thread count. A caller that holds its texts
 * in memory (a Python list, a database page) hands them over in chunks:
 * nd_batch_sketch() fans a chunk out to the threads, nd_index_add_batch()
 * adds the results in order.
 *
 * How:
 * - The pool is started once, in nd_batch_new(): threads - 1 workers that
 *   sleep on a condition variable between calls; the calling thread works
 *   too, so `threads` threads sketch and none idles while the caller waits.
 * - Work is handed out GRAB texts at a time from an atomic counter: which
 *   thread sketches which text varies from run to run, the results do not.
 * - Each thread owns an nd_sketcher and two growable buffers (shingle ids,
 *   band keys) reused from call to call: no allocation per text, and no
 *   memory freed on another thread than the one that made it. A worker
 *   records where in its buffers each text's results lie (offsets, since a
 *   buffer may move when it grows); once all are done, the calling thread
 *   turns the offsets into pointers, in input order.
 * - Results are borrowed until the next call, like nd_sketch_text_ref().
 * - nd_batch_sketch_from() asks a function for each text on the thread
 *   that sketches it: a caller whose texts must first be converted (the
 *   Python module's str, kept as code points, not UTF-8) converts them on
 *   every thread, each while its bytes are about to be read.
 * - With units (nd_batch_set_units()), a text gives one item per unit
 *   (nd_sketch_units(): paragraphs or lines, a unit pasted several times
 *   as its copies), none when it has no unit; items are still in input
 *   order, and within a text in text order.
 * - With nd_batch_set_sorted_ids(b, 0), ids are kept as shingling made
 *   them (the _raw sketches of index_add.h) and nd_index_add_batch() adds
 *   them raw, as the CLI does: the index sorts only the texts clustering
 *   reads, instead of every thread sorting every text's ids.
 */
#include "neardup.h"

#include <assert.h>    /* assert */
#include <pthread.h>   /* pthread_create, pthread_cond_wait */
#include <stdatomic.h> /* atomic_size_t */
#include <string.h>    /* memcpy */
#include <unistd.h>    /* sysconf */

#include "alloc.h"
#include "index_add.h" /* nd_sketch_text_ref_raw, nd_sketch_units_raw, nd_index_add_raw */

/* Texts taken from the shared counter at a time: fewer trips of its cache
 * line between cores, and neighbouring results written by one thread. */
enum { GRAB = 8 };

/* At most this many threads, whatever is asked (a typo of 10^6 threads
 * should not exhaust the process). */
enum { MAX_THREADS = 1024 };

/* An item while the batch works: its ids and keys as offsets into the
 * worker's buffers (which may move as they grow). */
typedef struct pending {
    size_t text;
    nd_span span;
    size_t count, num_tokens, invalid_utf8;
    size_t ids_at, keys_at;
} pending;

/* One sketching thread's own: on cache lines of its own (its first member
 * aligned, the array from nd_calloc_lines), as every text it sketches
 * writes its counters (cli/pipeline.c's worker_tools). */
typedef struct worker {
    _Alignas(64) struct nd_batch *batch;
    unsigned index;
    nd_sketcher *sketcher;
    uint32_t *ids; /* shingle ids of the texts this thread sketched, back to back */
    size_t ids_used, ids_capacity;
    uint64_t *keys; /* band keys, bands per item */
    size_t keys_used, keys_capacity;
    /* the items this thread made, in the order it made them */
    struct pending *items;
    size_t items_used, items_capacity;
    size_t current; /* the text being sketched (for the unit callback) */
    int status;     /* first error of this call */
} worker;

/* Where a text's items lie until the call ends: which worker made them,
 * and where they start in its list. */
typedef struct placement {
    unsigned worker;
    size_t first, count;
} placement;

struct nd_batch {
    nd_options opts;
    nd_unit_kind unit;
    unsigned min_tokens;
    int raw_ids;     /* items' ids as made (nd_batch_set_sorted_ids) */
    worker *workers; /* [0] is the calling thread */
    unsigned threads;
    pthread_t *tids; /* workers 1 .. started */
    unsigned started;
    int pool_ready; /* lock, wake and idle are initialized */
    pthread_mutex_t lock;
    pthread_cond_t wake; /* a new call, or stop */
    pthread_cond_t idle; /* a worker finished the call */
    unsigned long generation;
    unsigned finished;
    int stop;
    /* the current call: texts and lens, or a function that gives them */
    const char *const *texts;
    const size_t *lens;
    nd_text_fn text_fn;
    void *text_ctx;
    size_t count;
    atomic_size_t next;
    /* results */
    nd_batch_item *items; /* the results, in input order */
    placement *places;
    size_t item_count, items_capacity, places_capacity;
};

/* ****  Sketching (any thread)  **** */

/* Append an item for the sketch `ref` of span `span` of the current text,
 * with offsets (not yet pointers) into the worker's buffers. */
static int keep_item(worker *w, nd_span span, const nd_sketch_ref *ref)
{
    const nd_options *o = &w->batch->opts;
    if (nd_grow((void **)&w->ids, &w->ids_capacity, w->ids_used + ref->count, sizeof *w->ids) != 0 ||
        nd_grow((void **)&w->keys, &w->keys_capacity, w->keys_used + o->bands, sizeof *w->keys) != 0 ||
        nd_grow((void **)&w->items, &w->items_capacity, w->items_used + 1, sizeof *w->items) != 0)
        return ND_ENOMEM;
    if (ref->count > 0)
        memcpy(w->ids + w->ids_used, ref->ids, ref->count * sizeof *ref->ids);
    nd_lsh_band_keys(w->keys + w->keys_used, ref->signature, o->bands, o->rows);
    w->items[w->items_used++] =
        (pending){w->current, span, ref->count, ref->num_tokens, ref->invalid_utf8, w->ids_used, w->keys_used};
    w->ids_used += ref->count;
    w->keys_used += o->bands;
    return ND_OK;
}

static int keep_unit(void *ctx, nd_span span, const nd_sketch_ref *ref)
{
    return keep_item(ctx, span, ref);
}

static int sketch_one(worker *w, size_t i)
{
    nd_batch *b = w->batch;
    size_t first = w->items_used;
    w->current = i;
    const char *text = NULL;
    size_t len = 0;
    int rc = ND_OK;
    if (b->text_fn)
        rc = b->text_fn(b->text_ctx, i, w->index, &text, &len);
    else
        text = b->texts[i], len = b->lens[i];
    if (rc != ND_OK)
        return rc;
    if (b->unit == ND_UNIT_DOCUMENT) {
        nd_sketch_ref ref;
        rc = b->raw_ids ? nd_sketch_text_ref_raw(&ref, w->sketcher, text, len)
                        : nd_sketch_text_ref(&ref, w->sketcher, text, len);
        if (rc == ND_OK && ref.num_tokens < b->min_tokens)
            ref.count = 0; /* below min_tokens: treated as a text without shingles */
        if (rc == ND_OK)
            rc = keep_item(w, (nd_span){0, len}, &ref);
    } else {
        size_t invalid_utf8;
        rc = b->raw_ids
                 ? nd_sketch_units_raw(&invalid_utf8, w->sketcher, text, len, b->unit, b->min_tokens, keep_unit, w)
                 : nd_sketch_units(&invalid_utf8, w->sketcher, text, len, b->unit, b->min_tokens, keep_unit, w);
    }
    b->places[i] = (placement){w->index, first, w->items_used - first};
    return rc;
}

/* Take texts from the counter until none is left or one fails (then the
 * others stop at their next grab). */
static void work(worker *w)
{
    nd_batch *b = w->batch;
    for (;;) {
        size_t first = atomic_fetch_add(&b->next, GRAB);
        if (first >= b->count)
            return;
        size_t last = first + GRAB < b->count ? first + GRAB : b->count;
        for (size_t i = first; i < last; i++) {
            int rc = sketch_one(w, i);
            if (rc != ND_OK) {
                w->status = rc;
                atomic_store(&b->next, b->count);
                return;
            }
        }
    }
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    nd_batch *b = w->batch;
    unsigned long seen = 0;
    pthread_mutex_lock(&b->lock);
    for (;;) {
        while (!b->stop && b->generation == seen)
            pthread_cond_wait(&b->wake, &b->lock);
        if (b->stop)
            break;
        seen = b->generation;
        pthread_mutex_unlock(&b->lock);
        work(w);
        pthread_mutex_lock(&b->lock);
        b->finished++;
        pthread_cond_signal(&b->idle);
    }
    pthread_mutex_unlock(&b->lock);
    return NULL;
}

/* ****  The pool  **** */

static unsigned online_processors(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (unsigned)n : 1;
}

static void stop_workers(nd_batch *b)
{
    pthread_mutex_lock(&b->lock);
    b->stop = 1;
    pthread_cond_broadcast(&b->wake);
    pthread_mutex_unlock(&b->lock);
    for (unsigned t = 0; t < b->started; t++)
        pthread_join(b->tids[t], NULL);
    b->started = 0;
}

void nd_batch_free(nd_batch *b)
{
    if (!b)
        return;
    if (b->pool_ready) {
        stop_workers(b);
        pthread_cond_destroy(&b->wake);
        pthread_cond_destroy(&b->idle);
        pthread_mutex_destroy(&b->lock);
    }
    for (unsigned t = 0; b->workers && t < b->threads; t++) {
        nd_sketcher_free(b->workers[t].sketcher);
        nd_free(b->workers[t].ids);
        nd_free(b->workers[t].keys);
        nd_free(b->workers[t].items);
    }
    nd_free(b->workers);
    nd_free(b->tids);
    nd_free(b->items);
    nd_free(b->places);
    nd_free(b);
}

/* The mutex and the two condition variables; 0 or -1 (none left made). */
static int init_sync(nd_batch *b)
{
    if (pthread_mutex_init(&b->lock, NULL) != 0)
        return -1;
    if (pthread_cond_init(&b->wake, NULL) != 0) {
        pthread_mutex_destroy(&b->lock);
        return -1;
    }
    if (pthread_cond_init(&b->idle, NULL) != 0) {
        pthread_cond_destroy(&b->wake);
        pthread_mutex_destroy(&b->lock);
        return -1;
    }
    return 0;
}

int nd_batch_new(nd_batch **out, const nd_options *opts, unsigned threads)
{
    nd_options resolved = *opts;
    if (nd_options_resolve(&resolved) != ND_OK)
        return ND_EINVAL;
    if (threads == 0)
        threads = online_processors();
    if (threads > MAX_THREADS)
        threads = MAX_THREADS;
    nd_batch *b = nd_calloc(1, sizeof *b);
    if (!b)
        return ND_ENOMEM;
    b->opts = resolved;
    b->unit = ND_UNIT_DOCUMENT;
    b->workers = nd_calloc_lines((size_t)threads * sizeof *b->workers); /* (an unsigned count: no overflow) */
    b->tids = nd_calloc(threads, sizeof *b->tids);
    if (!b->workers || !b->tids) {
        nd_batch_free(b);
        return ND_ENOMEM;
    }
    b->threads = threads;
    for (unsigned t = 0; t < threads; t++) {
        b->workers[t].batch = b;
        b->workers[t].index = t;
        int rc = nd_sketcher_new(&b->workers[t].sketcher, &resolved);
        if (rc != ND_OK) {
            nd_batch_free(b);
            return rc;
        }
        /* no minimum of tokens yet: tokens are not counted, so text signed
         * with character shingles (Chinese, Japanese, Thai...) skips ICU's
         * dictionary word breaking, as `neardup scan` does: the same ids
         * and keys (50,000 CJK documents through the Python module's scan:
         * 1.31 s with word breaking, 0.12 s without) */
        nd_sketcher_set_words(b->workers[t].sketcher, 0);
    }
    if (init_sync(b) != 0) {
        nd_batch_free(b);
        return ND_ENOMEM;
    }
    b->pool_ready = 1;
    for (unsigned t = 1; t < threads; t++) {
        if (pthread_create(&b->tids[b->started], NULL, worker_main, &b->workers[t]) != 0)
            break;
        b->started++;
    }
    /* workers that could not be started give their sketchers back, so that
     * the ones in use are workers[0 .. started] */
    for (unsigned t = b->started + 1; t < threads; t++) {
        nd_sketcher_free(b->workers[t].sketcher);
        b->workers[t].sketcher = NULL;
    }
    b->threads = b->started + 1;
    *out = b;
    return ND_OK;
}

int nd_batch_set_units(nd_batch *b, nd_unit_kind kind, unsigned min_tokens)
{
    if ((unsigned)kind > ND_UNIT_LINE)
        return ND_EINVAL;
    b->unit = kind;
    b->min_tokens = min_tokens;
    /* tokens are words where they are counted (as pipeline.c; in units
     * modes, and where a unit may be one text pasted several times:
     * nd_sketch_units) */
    for (unsigned t = 0; t < b->threads; t++)
        nd_sketcher_set_words(b->workers[t].sketcher, min_tokens > 1);
    b->item_count = 0; /* results of another kind are gone */
    return ND_OK;
}

void nd_batch_set_sorted_ids(nd_batch *b, int sorted)
{
    b->raw_ids = !sorted;
    b->item_count = 0; /* results of another kind are gone */
}

unsigned nd_batch_threads(const nd_batch *b)
{
    return b->threads;
}

/* ****  A call  **** */

static int sketch_all(nd_batch *b, const char *const *texts, const size_t *lens, nd_text_fn text_fn, void *text_ctx,
                      size_t count);

int nd_batch_sketch(nd_batch *b, const char *const *texts, const size_t *lens, size_t count)
{
    assert(count == 0 || (texts && lens));
    return sketch_all(b, texts, lens, NULL, NULL, count);
}

int nd_batch_sketch_from(nd_batch *b, size_t count, nd_text_fn text, void *ctx)
{
    assert(count == 0 || text);
    return sketch_all(b, NULL, NULL, text, ctx, count);
}

/* Both calls: the texts from the arrays, or from text_fn when it is set. */
static int sketch_all(nd_batch *b, const char *const *texts, const size_t *lens, nd_text_fn text_fn, void *text_ctx,
                      size_t count)
{
    b->item_count = 0;
    if (nd_grow((void **)&b->places, &b->places_capacity, count, sizeof *b->places) != 0)
        return ND_ENOMEM;
    for (unsigned t = 0; t < b->threads; t++) {
        b->workers[t].ids_used = 0;
        b->workers[t].keys_used = 0;
        b->workers[t].items_used = 0;
        b->workers[t].status = ND_OK;
    }
    b->texts = texts;
    b->lens = lens;
    b->text_fn = text_fn;
    b->text_ctx = text_ctx;
    b->count = count;
    atomic_store(&b->next, 0);
    if (b->started > 0 && count > GRAB) {
        pthread_mutex_lock(&b->lock);
        b->finished = 0;
        b->generation++;
        pthread_cond_broadcast(&b->wake);
        pthread_mutex_unlock(&b->lock);
        work(&b->workers[0]);
        pthread_mutex_lock(&b->lock);
        while (b->finished < b->started)
            pthread_cond_wait(&b->idle, &b->lock);
        pthread_mutex_unlock(&b->lock);
    } else {
        work(&b->workers[0]); /* a handful of texts: not worth waking anyone */
    }
    b->texts = NULL;
    b->lens = NULL;
    b->text_fn = NULL;
    b->text_ctx = NULL;
    for (unsigned t = 0; t < b->threads; t++) {
        if (b->workers[t].status != ND_OK)
            return b->workers[t].status;
    }
    /* the items of every text, in input order, offsets turned into pointers */
    size_t total = 0;
    for (unsigned t = 0; t < b->threads; t++)
        total += b->workers[t].items_used;
    if (nd_grow((void **)&b->items, &b->items_capacity, total, sizeof *b->items) != 0)
        return ND_ENOMEM;
    size_t n = 0;
    for (size_t i = 0; i < count; i++) {
        const placement *p = &b->places[i];
        const worker *w = &b->workers[p->worker];
        for (size_t k = 0; k < p->count; k++) {
            const pending *it = &w->items[p->first + k];
            b->items[n++] = (nd_batch_item){it->text,
                                            it->span,
                                            it->count > 0 ? w->ids + it->ids_at : NULL,
                                            it->count,
                                            w->keys + it->keys_at,
                                            it->num_tokens,
                                            it->invalid_utf8};
        }
    }
    b->item_count = n;
    return ND_OK;
}

size_t nd_batch_items(const nd_batch_item **items, const nd_batch *b)
{
    *items = b->items;
    return b->item_count;
}

int nd_index_add_batch(nd_index *index, const nd_batch *b)
{
    for (size_t i = 0; i < b->item_count; i++) {
        const nd_batch_item *item = &b->items[i];
        uint64_t weight = item->span.end - item->span.start;
        int rc = b->raw_ids ? nd_index_add_raw(index, item->ids, item->count, item->keys, weight)
                            : nd_index_add_ids(index, item->ids, item->count, item->keys, weight);
        if (rc != ND_OK)
            return rc;
    }
    return ND_OK;
}
