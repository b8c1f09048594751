/* refill.c - document ids kept only where clustering may read them.
 *
 * In document mode most documents are never read by clustering: only
 * those that share a band key with another are candidates (on a CJK
 * corpus of 50k documents, a seventh), yet every document's shingle ids
 * were written into memory, most of what a run touched (50 MB for those
 * 50k documents: on a host slow to back fresh memory, the kernel clearing
 * those pages was half the run). So the pipeline keeps a document's ids
 * only when a guess says another may share its keys (idguess.h:
 * id_predictor; a lone document and a group's first member are dropped),
 * the index gets the dropped ones without ids (nd_index_add_dropped), and
 * clustering, when it first reads one (or finds that it may have a copy),
 * asks this file for its ids (nd_index_set_refill, refill_one): its record
 * is read again where pass 1 found it (replay_at.c: pread at the noted
 * offset, the file checked to be the one pass 1 read, the record to end
 * where it did), sketched again with the same options (ids only: the
 * index has its keys) and its ids given to the index (nd_index_refill,
 * which checks that the count is the one pass 1 made). Clustering reads
 * the same ids as if none had been dropped: the same output. (Asking the
 * index first which dropped texts may be read, nd_index_dropped_wanted,
 * and refilling those in file order, refill_index, names the same texts
 * but costs a pass over every band: a third of the refill on CJK text.)
 *
 * Only where every record can be read again by position: the pipeline
 * drops only located records (lines of uncompressed regular files), and
 * this step is on only when every input is a regular file; a record that
 * is not located keeps its ids. Containment reads every text: not dropped.
 * Before the index spills (--memory) every dropped document is refilled
 * (refill_index) and dropping stops; one sketched but not committed yet is sketched again
 * from its record in memory when it is committed (refill_record).
 */
#include "refill.h"

#include <stdint.h>   /* SIZE_MAX */
#include <stdlib.h>   /* calloc, free */
#include <sys/stat.h> /* stat */

#include "alloc.h" /* nd_grow_huge, nd_free */
#include "document.h"
#include "index_add.h"
#include "replay_at.h"

struct refill {
    const cli_config *cfg;
    const input *in;
    id_predictor predict;
    replay_places places; /* of each dropped document, in order */
    uint32_t *docs;       /* its number in the index */
    nd_sketcher *sketcher;
    size_t done;
    replay_at *at; /* refill_one's reading, opened at its first call */
};

int refill_new(refill **out, const cli_config *cfg, const input *in)
{
    *out = NULL;
    if (cfg->unit != ND_UNIT_DOCUMENT || cfg->opts.measure == ND_MEASURE_CONTAINMENT || !input_rereadable(in))
        return EXIT_OK;
    /* the input's size sizes the guess's bits: the first files' sizes,
     * scaled to all (a directory walk may name a great many) */
    enum { SIZED = 64 };
    uint64_t bytes = 0;
    size_t sources = input_source_count(in), sized = sources < SIZED ? sources : SIZED;
    for (size_t i = 0; i < sized; i++) {
        struct stat st;
        if (stat(input_source_name(in, i), &st) == 0 && st.st_size > 0)
            bytes += (uint64_t)st.st_size;
    }
    if (sized > 0)
        bytes = bytes / sized * sources;
    /* Dropping trades a second sketch of the dropped documents clustering
     * reads (on CJK text a seventh of them: 15-20% of a scan) for the
     * memory of all the others' ids (about the text's size: only ids that
     * take more room than their text are dropped). Worth it where that
     * memory counts: an input of a 32nd of --memory or more (its ids a
     * 16th of what the index holds before it spills, at half of
     * --memory); below, every document keeps its ids, in huge pages
     * (alloc.h), which cost less than the refill where fresh memory is
     * as cheap as on an ordinary machine (50k CJK documents, scripts/ab,
     * medians of 9 runs back to back: 0.19 s against 0.20 s with one thread, 0.12
     * against 0.16 s with two; 77 MB against 39 MB at peak). On a VM that
     * hands freed memory back to its host (free page reporting), runs
     * a few seconds apart touch memory the host must back again, and
     * dropping is ahead there (0.28 s against 0.31 s, one thread). */
    if (bytes < cfg->memory / 32)
        return EXIT_OK;
    refill *rf = calloc(1, sizeof *rf);
    if (!rf || id_predictor_init(&rf->predict, bytes) != 0) {
        free(rf);
        cli_error("out of memory");
        return EXIT_FAIL;
    }
    rf->cfg = cfg;
    rf->in = in;
    rf->places.on = 1;
    *out = rf;
    return EXIT_OK;
}

void refill_free(refill *rf)
{
    if (!rf)
        return;
    id_predictor_free(&rf->predict);
    replay_places_free(&rf->places);
    nd_free(rf->docs);
    nd_sketcher_free(rf->sketcher);
    replay_at_close(rf->at);
    free(rf);
}

id_predictor *refill_predictor(refill *rf)
{
    return &rf->predict;
}

size_t refill_done(const refill *rf)
{
    return rf->done;
}

int refill_note(refill *rf, size_t doc, const record *rec)
{
    replay_places *p = &rf->places;
    if (!rec->located || rec->len > UINT32_MAX || rec->source >= (1u << 31) || doc >= UINT32_MAX) {
        cli_error("internal error: a dropped document without a place"); /* id_predictor_keep keeps those */
        return -1;
    }
    if (p->count == p->capacity) {
        /* both grown to the same capacity (huge pages once large: the
         * places alone are 24 bytes a dropped document) */
        size_t places = p->capacity, docs = p->capacity;
        if (nd_grow_huge((void **)&p->at, &places, p->count + 1, sizeof *p->at) != 0 ||
            nd_grow_huge((void **)&rf->docs, &docs, places, sizeof *rf->docs) != 0) {
            cli_error("out of memory");
            return -1;
        }
        p->capacity = places;
    }
    rf->docs[p->count] = (uint32_t)doc;
    p->at[p->count++] = (replay_place){rec->offset, rec->line, (uint32_t)rec->len, (uint32_t)rec->source & 0x7fffffffu,
                                       rec->kind == RECORD_TEXT};
    return 0;
}

/* Sketch `text` again, as the pipeline did (its sketcher's settings). */
static int sketch(refill *rf, const char *text, size_t len, nd_sketch_ref *ref)
{
    if (!rf->sketcher) {
        int nrc = nd_sketcher_new_ids(&rf->sketcher, &rf->cfg->opts);
        if (nrc != ND_OK) {
            cli_error("%s", nd_strerror(nrc));
            return EXIT_FAIL;
        }
        nd_sketcher_set_words(rf->sketcher, rf->cfg->min_tokens > 1); /* as pipeline.c */
    }
    int nrc = nd_sketch_ids_raw(ref, rf->sketcher, text, len); /* the keys the index has */
    if (nrc != ND_OK) {
        cli_error("%s", nd_strerror(nrc));
        return EXIT_FAIL;
    }
    if (ref->num_tokens < rf->cfg->min_tokens)
        ref->count = 0;
    rf->done++;
    return EXIT_OK;
}

static void changed(const refill *rf, size_t source, uint64_t line)
{
    cli_error("%s:%llu: the record does not read as in the first reading (did the file change?)",
              input_source_name(rf->in, source), (unsigned long long)line);
}

/* Where dropped document `doc` was noted (rf->docs is in text order), or
 * SIZE_MAX, reported. */
static size_t place_of(const refill *rf, size_t doc)
{
    size_t lo = 0, hi = rf->places.count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (rf->docs[mid] < doc)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == rf->places.count || rf->docs[lo] != doc) {
        cli_error("internal error: no place noted for document %zu", doc);
        return SIZE_MAX;
    }
    return lo;
}

int refill_index(refill *rf, nd_index *index, int all)
{
    uint32_t *docs = NULL;
    size_t n = 0;
    if (nd_index_dropped_wanted(index, all, &docs, &n) != ND_OK) {
        cli_error("out of memory");
        return EXIT_FAIL;
    }
    if (n == 0)
        return EXIT_OK;
    replay_at *at = NULL;
    int rc = replay_at_open(&at, rf->cfg, rf->in, &rf->places);
    for (size_t i = 0; i < n && rc == EXIT_OK; i++) {
        const char *text;
        size_t len;
        nd_sketch_ref ref;
        size_t k = place_of(rf, docs[i]);
        if (k == SIZE_MAX) {
            rc = EXIT_FAIL;
        } else if (replay_at_doc_text(at, k, &text, &len) != 0) {
            rc = EXIT_FAIL;
        } else if ((rc = sketch(rf, text, len, &ref)) == EXIT_OK) {
            int nrc = nd_index_refill(index, docs[i], ref.ids, ref.count);
            if (nrc == ND_EINVAL)
                changed(rf, rf->places.at[k].source, rf->places.at[k].line);
            else if (nrc != ND_OK)
                cli_error("%s", nd_strerror(nrc));
            rc = nrc == ND_OK ? EXIT_OK : EXIT_FAIL;
        }
    }
    replay_at_close(at);
    nd_index_ids_block_free(docs);
    return rc;
}

int refill_one(void *ctx, size_t doc, size_t expected, const uint32_t **ids, size_t *count)
{
    refill *rf = ctx;
    size_t k = place_of(rf, doc);
    const char *text;
    size_t len;
    nd_sketch_ref ref;
    if (k == SIZE_MAX || (!rf->at && replay_at_open(&rf->at, rf->cfg, rf->in, &rf->places) != EXIT_OK) ||
        replay_at_doc_text(rf->at, k, &text, &len) != 0 || sketch(rf, text, len, &ref) != EXIT_OK)
        return ND_EIO; /* reported */
    if (ref.count != expected) {
        changed(rf, rf->places.at[k].source, rf->places.at[k].line);
        return ND_EIO;
    }
    *ids = ref.ids;
    *count = ref.count;
    return ND_OK;
}

int refill_record(refill *rf, const record *rec, size_t expected, const uint32_t **ids, size_t *count)
{
    nd_sketch_ref ref;
    int rc;
    if (rec->kind == RECORD_TEXT) {
        rc = sketch(rf, rec->data, rec->len, &ref);
    } else {
        doc_view view;
        if (doc_view_reread(&view, rf->cfg, rf->in, rec) != 0)
            return EXIT_FAIL;
        rc = sketch(rf, view.text, view.len, &ref);
        doc_view_close(&view);
    }
    if (rc != EXIT_OK)
        return rc;
    if (ref.count != expected) {
        changed(rf, rec->source, rec->line);
        return EXIT_FAIL;
    }
    *ids = ref.ids;
    *count = ref.count;
    return EXIT_OK;
}
