/* db_batch.c - texts sketched for the persistent index on several threads
 * (nd_db_add_texts, nd_db_query_texts).
 *
 * The batch is cut into one contiguous slice per thread; each thread takes
 * a sketcher from the index's idle ones, sketches its texts with
 * nd_sketch_text_ref() and copies the shingle ids into a buffer of its own
 * (one growing allocation per thread, not one per text) and the band keys
 * into the batch's key array. Slices keep input order, so the result does
 * not depend on the number of threads.
 */
#include "db_internal.h"

#include <string.h> /* memcpy, memset */

#include "alloc.h"

typedef struct {
    nd_db *db;
    const char *const *texts;
    const size_t *lens;
    size_t begin, end;
    nd_db_doc *docs;
    uint64_t *keys;
    size_t *offsets; /* per text: where its ids start in `ids` */
    uint32_t *ids;
    size_t used, capacity;
    int rc;
} slice;

static void sketch_slice(slice *s)
{
    nd_db *db = s->db;
    unsigned bands = db->opts.bands;
    nd_sketcher *sk = db_take_sketcher(db, &s->rc);
    if (!sk)
        return;
    for (size_t i = s->begin; i < s->end; i++) {
        nd_sketch_ref ref;
        s->rc = nd_sketch_text_ref(&ref, sk, s->texts[i], s->lens[i]);
        if (s->rc != ND_OK) {
            db_fail(db, s->rc, "%s: cannot sketch text %zu: %s", db->path, i, nd_strerror(s->rc));
            break;
        }
        if (nd_grow((void **)&s->ids, &s->capacity, s->used + ref.count, sizeof *s->ids) != 0) {
            s->rc = db_fail(db, ND_ENOMEM, "%s: out of memory sketching texts", db->path);
            break;
        }
        if (ref.count)
            memcpy(s->ids + s->used, ref.ids, ref.count * sizeof *s->ids);
        s->offsets[i] = s->used;
        s->used += ref.count;
        s->docs[i].count = ref.count;
        s->docs[i].weight = s->lens[i];
        s->docs[i].keys = s->keys + i * bands;
        nd_lsh_band_keys(s->keys + i * bands, ref.signature, bands, db->opts.rows);
    }
    db_give_sketcher(db, sk);
}

static void *sketch_slice_thread(void *arg)
{
    sketch_slice(arg);
    return NULL;
}

enum { MAX_THREADS = 256 };

int db_sketch_texts(db_sketched *out, nd_db *db, const char *const *texts, const size_t *lens, size_t count,
                    unsigned threads)
{
    memset(out, 0, sizeof *out);
    unsigned t_count = threads < 1 ? 1 : threads > MAX_THREADS ? MAX_THREADS : threads;
    if (t_count > count)
        t_count = count ? (unsigned)count : 1;
    out->docs = nd_calloc(count ? count : 1, sizeof *out->docs);
    out->keys = nd_malloc((count ? count : 1) * db->opts.bands * sizeof *out->keys);
    out->id_buffers = nd_calloc(t_count, sizeof *out->id_buffers);
    size_t *offsets = nd_malloc((count ? count : 1) * sizeof *offsets);
    slice *slices = nd_calloc(t_count, sizeof *slices);
    pthread_t tids[MAX_THREADS];
    int started[MAX_THREADS] = {0};
    int rc = ND_OK;
    if (!out->docs || !out->keys || !out->id_buffers || !offsets || !slices) {
        rc = db_fail(db, ND_ENOMEM, "%s: out of memory sketching texts", db->path);
        goto done;
    }
    out->buffer_count = t_count;
    for (unsigned t = 0; t < t_count; t++) {
        slices[t] = (slice){
            db, texts, lens, count * t / t_count, count * (t + 1) / t_count, out->docs, out->keys, offsets, NULL,
            0,  0,     ND_OK};
    }
    for (unsigned t = 1; t < t_count; t++)
        started[t] = pthread_create(&tids[t], NULL, sketch_slice_thread, &slices[t]) == 0;
    for (unsigned t = 0; t < t_count; t++) {
        if (!started[t])
            sketch_slice(&slices[t]);
    }
    for (unsigned t = 1; t < t_count; t++) {
        if (started[t])
            pthread_join(tids[t], NULL);
    }
    for (unsigned t = 0; t < t_count; t++) {
        out->id_buffers[t] = slices[t].ids; /* owned by out from now on */
        if (rc == ND_OK)
            rc = slices[t].rc;
        for (size_t i = slices[t].begin; i < slices[t].end && slices[t].rc == ND_OK; i++)
            out->docs[i].ids = slices[t].ids ? slices[t].ids + offsets[i] : NULL;
    }
done:
    nd_free(offsets);
    nd_free(slices);
    if (rc != ND_OK)
        db_sketched_free(out);
    return rc;
}

void db_sketched_free(db_sketched *s)
{
    for (size_t t = 0; s->id_buffers && t < s->buffer_count; t++)
        nd_free(s->id_buffers[t]);
    nd_free(s->id_buffers);
    nd_free(s->docs);
    nd_free(s->keys);
    memset(s, 0, sizeof *s);
}
