/* refill.c - document ids kept only where clustering may read them.
 *
 * In document mode most documents are never read by clustering: only
 * those that share a band key with another are candidates (on a CJK
 * corpus of 50k documents, a seventh), yet every document's shingle ids
 * were written into memory, most of what a run touched (50 MB for those
 * 50k documents: on a host slow to back fresh memory, the kernel clearing
 * those pages was half the run; 8 GB for 10M generated documents, which
 * the index then spilled to a file and read back). So the pipeline keeps
 * a document's ids only when a guess says another may share its keys
 * (idguess.h: id_predictor; a lone document and a group's first member
 * are dropped), the index gets the dropped ones without ids
 * (nd_index_add_dropped), and after pass 1 this file asks the index which
 * of them clustering may read (nd_index_dropped_wanted: those sharing a
 * band key with another text) and gives it their ids (refill_index): each
 * record is read again where pass 1 found it (replay_at.c: pread at the
 * noted offset, the file checked to be the one pass 1 read, the record to
 * end where it did), sketched again with the same options (ids only: the
 * index has its keys) and its ids given to the index (nd_index_refill,
 * which checks that the count is the one pass 1 made), in file order, on
 * every thread. Clustering reads the same ids as if none had been
 * dropped: the same output. (Refilling each as clustering first reads
 * it, nd_index_set_refill, needs no pass over every band, but runs on the
 * one thread that verifies and reads the file in clustering's order: 50k
 * CJK documents, scripts/ab, medians of 9 runs: 0.26 s against 0.20 s
 * with one thread, 0.166 s against 0.158 s with two.)
 *
 * Only where every record can be read again by position: the pipeline
 * drops only located records (lines of uncompressed regular files), and
 * this step is on only when every input is a regular file; a record that
 * is not located keeps its ids. Containment reads every text: not dropped.
 * When the index spills (--memory) the dropped documents stay dropped and
 * dropping goes on: the index writes to its files the ids given back
 * (index_refill.c).
 */
#include "refill.h"

#include <pthread.h>  /* pthread_mutex_t */
#include <stdint.h>   /* SIZE_MAX */
#include <stdlib.h>   /* calloc, free */
#include <sys/stat.h> /* stat */

#include "alloc.h" /* nd_grow_huge, nd_free */
#include "document.h"
#include "index_add.h"
#include "replay_at.h"
#include "threads.h"

struct refill {
    const cli_config *cfg;
    const input *in;
    id_predictor predict;
    replay_places places; /* of each dropped document, in order */
    uint32_t *docs;       /* its number in the index */
    size_t done;          /* documents sketched again (atomic) */
    size_t reads;         /* reads of the input for them (atomic; replay_at_reads) */
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
     * reads (on CJK text a seventh of them) for the memory of all the
     * others' ids (about the text's size: only ids that take more room
     * than their text are dropped), at any size of input: the peak is less
     * than half (50k CJK documents: 36 MB against 76 MB), and the time
     * about even (scripts/ab, 50k CJK documents, medians of 9 runs in
     * turn, dropped at any size against kept below an input of a 32nd of
     * --memory, as before): back to back
     * 0.175 s against 0.172 s with one thread, 0.129 against 0.111 s with
     * two; 4 s apart (--gap 4: on a VM that hands freed memory back to
     * its host, free page reporting, a fresh page then costs several
     * times more) 0.180 against 0.214 s and 0.142 against 0.145 s. */
    refill *rf = calloc(1, sizeof *rf);
    /* Ids smaller than their text (words shingled) are dropped too when
     * the input is half of --memory or more: then they would fill most of
     * what the index holds before it spills (about 0.6 of a Latin text's
     * bytes: 0.3 of --memory, against half of it), and past that spilling
     * writes every document's ids to a file and reads them back, where
     * dropping keeps a tenth of them and sketches a sixth of the rest again
     * (10M generated documents, 2 threads: 69 s with the spill, 36 s dropped;
     * 1M against a --memory where neither spills: 2.5-3.0 s either way). */
    int any = bytes >= cfg->memory / 2;
    if (!rf || id_predictor_init(&rf->predict, bytes, any) != 0) {
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

/* What pass 1 noted, no longer needed once the refill is done: freed
 * before clustering, whose peak it would add to (10M documents: 250 MB
 * of places, the guess's 64 MB of bits). */
static void release(refill *rf)
{
    id_predictor_free(&rf->predict);
    replay_places_free(&rf->places);
    nd_free(rf->docs);
    rf->docs = NULL;
}

void refill_free(refill *rf)
{
    if (!rf)
        return;
    release(rf);
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

size_t refill_reads(const refill *rf)
{
    return rf->reads;
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

/* A sketcher for sketching again, with the pipeline's settings. */
static int sketcher_new(const refill *rf, nd_sketcher **out)
{
    int nrc = nd_sketcher_new_ids(out, &rf->cfg->opts);
    if (nrc != ND_OK) {
        cli_error("%s", nd_strerror(nrc));
        return EXIT_FAIL;
    }
    nd_sketcher_set_words(*out, rf->cfg->min_tokens > 1); /* as pipeline.c */
    return EXIT_OK;
}

/* Sketch `text` again with `sk`, as the pipeline did. */
static int sketch(refill *rf, nd_sketcher *sk, const char *text, size_t len, nd_sketch_ref *ref)
{
    int nrc = nd_sketch_ids_raw(ref, sk, text, len); /* the keys the index has */
    if (nrc != ND_OK) {
        cli_error("%s", nd_strerror(nrc));
        return EXIT_FAIL;
    }
    if (ref->num_tokens < rf->cfg->min_tokens)
        ref->count = 0;
    __atomic_fetch_add(&rf->done, 1, __ATOMIC_RELAXED);
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

/* refill_index's work, shared by its threads: the documents to sketch
 * again, taken STEP at a time; the index given their ids one thread at a
 * time (nd_index_refill copies them: the sketching, most of the work, runs
 * on every thread). */
typedef struct refill_job {
    refill *rf;
    nd_index *index;
    const uint32_t *docs;
    size_t n;
    size_t next;          /* the next position to take (atomic) */
    int failed;           /* 1 once a thread failed (atomic): the others stop */
    pthread_mutex_t lock; /* around nd_index_refill */
} refill_job;

enum { REFILL_STEP = REPLAY_AHEAD_MAX };

/* One thread's share of refill_index: EXIT_OK or EXIT_FAIL (reported). */
static int refill_some(refill_job *job)
{
    refill *rf = job->rf;
    replay_at *at = NULL;
    nd_sketcher *sk = NULL;
    int rc = replay_at_open(&at, rf->cfg, rf->in, &rf->places);
    if (rc == EXIT_OK)
        rc = sketcher_new(rf, &sk);
    while (rc == EXIT_OK && !__atomic_load_n(&job->failed, __ATOMIC_RELAXED)) {
        size_t from = __atomic_fetch_add(&job->next, REFILL_STEP, __ATOMIC_RELAXED);
        if (from >= job->n)
            break;
        size_t to = job->n - from < REFILL_STEP ? job->n : from + REFILL_STEP;
        /* the step's records, read in groups where they lie close together */
        size_t places[REFILL_STEP];
        for (size_t i = from; i < to && rc == EXIT_OK; i++) {
            places[i - from] = place_of(rf, job->docs[i]);
            if (places[i - from] == SIZE_MAX)
                rc = EXIT_FAIL;
        }
        if (rc == EXIT_OK)
            replay_at_read_ahead(at, places, to - from);
        for (size_t i = from; i < to && rc == EXIT_OK; i++) {
            const char *text;
            size_t len;
            nd_sketch_ref ref;
            size_t k = places[i - from];
            if (replay_at_doc_text(at, k, &text, &len) != 0 || sketch(rf, sk, text, len, &ref) != EXIT_OK) {
                rc = EXIT_FAIL;
                break;
            }
            pthread_mutex_lock(&job->lock);
            int nrc = nd_index_refill(job->index, job->docs[i], ref.ids, ref.count);
            pthread_mutex_unlock(&job->lock);
            if (nrc == ND_EINVAL)
                changed(rf, rf->places.at[k].source, rf->places.at[k].line);
            else if (nrc != ND_OK)
                cli_error("%s", nd_strerror(nrc));
            rc = nrc == ND_OK ? EXIT_OK : EXIT_FAIL;
        }
    }
    if (rc == EXIT_OK && at && replay_at_unchanged(at) != 0)
        rc = EXIT_FAIL; /* edited while read again: the ids given may be another text's */
    if (rc != EXIT_OK)
        __atomic_store_n(&job->failed, 1, __ATOMIC_RELAXED);
    if (at)
        __atomic_fetch_add(&rf->reads, replay_at_reads(at), __ATOMIC_RELAXED);
    nd_sketcher_free(sk);
    replay_at_close(at);
    return rc;
}

static void *refill_thread(void *arg)
{
    (void)refill_some(arg); /* a failure is noted in the job (failed) */
    return NULL;
}

int refill_index(refill *rf, nd_index *index, unsigned threads)
{
    uint32_t *docs = NULL;
    size_t n = 0;
    int nrc = nd_index_dropped_wanted(index, 0, &docs, &n);
    if (nrc != ND_OK) {
        cli_error("%s", nd_strerror(nrc)); /* out of memory, or a spilled index's file not read back */
        return EXIT_FAIL;
    }
    if (n == 0) {
        nd_index_ids_block_free(docs); /* dropped documents, none wanted: an empty list, still allocated */
        release(rf);
        return EXIT_OK;
    }
    refill_job job = {rf, index, docs, n, 0, 0, PTHREAD_MUTEX_INITIALIZER};
    /* a few documents: not worth a thread */
    nd_on_threads(n < 2 * REFILL_STEP ? 1 : threads, refill_thread, &job, 0);
    int rc = job.failed ? EXIT_FAIL : EXIT_OK;
    pthread_mutex_destroy(&job.lock);
    nd_index_ids_block_free(docs);
    release(rf);
    return rc;
}
