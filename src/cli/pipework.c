/* pipework.c - pass 1's work on one record, on any thread: parse it
 * (JSON or a plain text line), sketch it (a document, or its units), and
 * keep what the sink takes: its id, band keys and shingle ids (copied to
 * the thread's arena for the batch, or written once into the thread's
 * block of ids that the sink adopts, where a guess may drop them:
 * idguess.h). pipeline.c's pool runs it a grab at a time (see
 * pipeline.c for the threads, the batches and the order of commits). */
#include "pipework.h"

#include <stdatomic.h> /* atomic_size_t */
#include <stdlib.h>    /* free */
#include <string.h>    /* memcpy */

#include "alloc.h" /* nd_grow */
#include "document.h"
#include "index_add.h"

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
static int decide_ids(const pipe_shared *sh, worker_tools *w)
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
static int keep_block_ids(const pipe_shared *sh, worker_tools *w, const nd_sketch_ref *ref, result *res, uint64_t *keys)
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
    const pipe_shared *sh;
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

static int sketch_units(const pipe_shared *sh, worker_tools *w, arena *mem, const char *text, size_t len, result *res)
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

static int sketch_document(const pipe_shared *sh, worker_tools *w, arena *mem, const char *text, size_t len,
                           result *res, uint64_t *keys)
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

static int process_json(const pipe_shared *sh, worker_tools *w, arena *mem, const record *rec, result *res,
                        uint64_t *keys)
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

static int process_text(const pipe_shared *sh, worker_tools *w, arena *mem, const record *rec, result *res,
                        uint64_t *keys)
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
int pipe_tools_start(const pipe_shared *sh, worker_tools *w)
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
int pipe_process_grab(const pipe_shared *sh, unsigned worker, batch *b)
{
    atomic_size_t *next = &b->next;
    worker_tools *w = &sh->tools[worker];
    arena *mem = &b->arenas[worker];
    unsigned bands = sh->opts->bands;
    int made = pipe_tools_start(sh, w);
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

void pipe_tools_free(worker_tools *tools, unsigned n)
{
    for (unsigned t = 0; tools && t < n; t++) {
        nd_sketcher_free(tools[t].sketcher);
        free(tools[t].units);
        free(tools[t].repaired);
        free(tools[t].json.buf);
    }
    free(tools);
}
