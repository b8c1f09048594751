/* db_batch.c - texts sketched for the persistent index (nd_db_add_texts,
 * nd_db_query_texts) by the library's nd_batch (batch.c), the same thread
 * pool that scan and the Python module use: one sketching path, whose
 * results are in input order whatever the thread count.
 *
 * A batch starts its threads and makes one ICU sketcher per thread when it
 * is made (about a millisecond each), which would dominate a query of one
 * text; so the handle keeps the batches it made, idle between calls, and a
 * call takes one of the thread count it wants (or makes one), uses its
 * borrowed results, and gives it back. Several threads may query one handle
 * at once: each takes a batch of its own (the idle list is under the
 * handle's mutex). At most IDLE_MAX batches are kept.
 */
#include "db_internal.h"

#include <string.h> /* memset */

#include "alloc.h"

enum { MAX_THREADS = 256, IDLE_MAX = 8 };

/* A batch of `threads` threads, idle or new; NULL with a message on failure. */
static nd_batch *take_batch(nd_db *db, unsigned threads, int *rc)
{
    nd_batch *batch = NULL;
    pthread_mutex_lock(&db->mutex);
    for (size_t i = db->idle_count; i-- > 0;) {
        if (nd_batch_threads(db->idle[i]) == threads) {
            batch = db->idle[i];
            db->idle[i] = db->idle[--db->idle_count];
            break;
        }
    }
    pthread_mutex_unlock(&db->mutex);
    if (batch)
        return batch;
    *rc = nd_batch_new(&batch, &db->opts, threads);
    if (*rc != ND_OK) {
        nd_db_fail(db, *rc, "%s: cannot make a sketcher: %s", db->path, nd_strerror(*rc));
        return NULL;
    }
    return batch;
}

static void give_batch(nd_db *db, nd_batch *batch)
{
    pthread_mutex_lock(&db->mutex);
    int kept = db->idle_count < IDLE_MAX &&
               nd_grow((void **)&db->idle, &db->idle_capacity, db->idle_count + 1, sizeof *db->idle) == 0;
    if (kept)
        db->idle[db->idle_count++] = batch;
    pthread_mutex_unlock(&db->mutex);
    if (!kept)
        nd_batch_free(batch);
}

int nd_db_sketch_texts(db_sketched *out, nd_db *db, const char *const *texts, const size_t *lens, size_t count,
                       unsigned threads)
{
    memset(out, 0, sizeof *out);
    unsigned t_count = threads < 1 ? 1 : threads > MAX_THREADS ? MAX_THREADS : threads;
    if (t_count > count)
        t_count = count ? (unsigned)count : 1;
    int rc = ND_OK;
    out->docs = nd_calloc(count ? count : 1, sizeof *out->docs);
    if (!out->docs)
        return nd_db_fail(db, ND_ENOMEM, "%s: out of memory sketching texts", db->path);
    out->batch = take_batch(db, t_count, &rc);
    if (!out->batch) {
        nd_db_sketched_free(out, db);
        return rc;
    }
    rc = nd_batch_sketch(out->batch, texts, lens, count);
    if (rc != ND_OK) {
        nd_db_fail(db, rc, "%s: cannot sketch texts: %s", db->path, nd_strerror(rc));
        nd_db_sketched_free(out, db);
        return rc;
    }
    const nd_batch_item *items;
    size_t n = nd_batch_items(&items, out->batch);
    (void)n; /* document mode: one item per text, in input order */
    for (size_t i = 0; i < count; i++) {
        out->docs[i].ids = items[i].ids;
        out->docs[i].count = items[i].count;
        out->docs[i].keys = items[i].keys;
        out->docs[i].weight = lens[i];
    }
    return ND_OK;
}

void nd_db_sketched_free(db_sketched *s, nd_db *db)
{
    if (s->batch)
        give_batch(db, s->batch);
    nd_free(s->docs);
    memset(s, 0, sizeof *s);
}

void nd_db_batches_free(nd_db *db)
{
    for (size_t i = 0; i < db->idle_count; i++)
        nd_batch_free(db->idle[i]);
    nd_free(db->idle);
    db->idle = NULL;
    db->idle_count = db->idle_capacity = 0;
}
