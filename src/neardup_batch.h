/* neardup_batch.h - many texts sketched on several threads (nd_batch) and texts
 * deduplicated as they arrive (nd_stream).
 * Part of the public API, included by neardup.h after the declarations
 * it builds on: include neardup.h, not this file. Kept apart so that each
 * header holds one job. */
#ifndef NEARDUP_BATCH_H
#define NEARDUP_BATCH_H

#ifndef NEARDUP_H
#error "include <neardup.h>, not <neardup_batch.h>"
#endif

/* ****  Batches: many texts sketched on several threads (batch.c)  **** */

/** A pool of threads, each with its own nd_sketcher and buffers, that
 * sketches many texts at once and hands back, in input order, what an
 * index needs of each: shingle ids and band keys. Results are the same for
 * any number of threads. One batch must not be used from two threads at
 * once (its own threads are internal). */
typedef struct nd_batch nd_batch;

/** One sketched text (or unit of a text) of a batch. Borrowed from the
 * batch: valid until its next nd_batch_sketch(), nd_batch_set_units() or
 * nd_batch_free(). */
typedef struct nd_batch_item {
    size_t text;          /* which text of the last nd_batch_sketch() call, from 0 */
    nd_span span;         /* its bytes in that text (the whole text in document mode) */
    const uint32_t *ids;  /* sorted distinct shingle ids (see nd_batch_set_sorted_ids()); NULL when count is 0 */
    size_t count;         /* 0 for a text without tokens (or below min_tokens) */
    const uint64_t *keys; /* the bands band keys of its signature (nd_lsh_band_keys()) */
    size_t num_tokens;    /* its tokens: words where min_tokens is 2 or more; else a run of a script without
                           * spaces signed with character shingles may be one (no word breaking, as
                           * nd_sketcher_set_words(0): nd_sketch_units() says where in units modes) */
    size_t invalid_utf8;  /* ill-formed UTF-8 sequences read as U+FFFD */
} nd_batch_item;

/** Make a batch sketcher working on `threads` threads: the calling thread
 * and threads - 1 it starts now (fewer when the system refuses, which
 * changes nothing but speed); 0 means one per online processor.
 * @param[out] out the new batch (unchanged on error)
 * @param opts options, resolved if they are not yet (see nd_options_resolve()); copied.
 * @return ND_OK, ND_ENOMEM, ND_EINVAL or ND_EICU. */
int nd_batch_new(nd_batch **out, const nd_options *opts, unsigned threads);
void nd_batch_free(nd_batch *batch);

/** What each text is cut into: ND_UNIT_DOCUMENT (the default) gives one
 * item per text, a text with fewer than `min_tokens` tokens counting as one
 * without shingles (count 0); ND_UNIT_PARAGRAPH or ND_UNIT_LINE gives one
 * item per unit as nd_sketch_units() finds them (units with fewer than
 * `min_tokens` tokens or no shingles left out; a unit pasted several times
 * as one item per copy), in text order; in those modes an item's
 * num_tokens and invalid_utf8 are the unit's.
 * @return ND_OK or ND_EINVAL (an unknown kind). */
int nd_batch_set_units(nd_batch *batch, nd_unit_kind kind, unsigned min_tokens);

/** Whether items' ids are sorted distinct (1: the default) or left as
 * shingling made them (0: in any order, repeats kept, count counting
 * them), for a caller that only hands the batch to nd_index_add_batch():
 * the index then keeps them so and sorts only those of the texts
 * clustering reads (most texts share no band key with another), as the
 * program does. The same clusters and pairs either way. Previous results
 * are gone. */
void nd_batch_set_sorted_ids(nd_batch *batch, int sorted);

/** The number of threads the batch works on (the caller's included). */
unsigned nd_batch_threads(const nd_batch *batch);

/** Sketch texts[0..count) on the batch's threads, replacing the previous
 * results (see nd_batch_set_units() for what an item is). No allocation
 * per text: ids go to per-thread buffers that are reused from call to
 * call. The texts are only read during the call.
 * @pre texts[i] points to lens[i] readable bytes (NULL allowed when
 *   lens[i] is 0); texts and lens may be NULL when count is 0.
 * @return ND_OK, ND_ENOMEM or ND_EICU (then there are no results). */
int nd_batch_sketch(nd_batch *batch, const char *const *texts, const size_t *lens, size_t count);

/** Where nd_batch_sketch_from() finds text i: it sets *data to the text's
 * UTF-8 and *len to its length. It is called once per text, on the thread
 * that sketches it; `thread` is that thread's number (0 ..
 * nd_batch_threads() - 1), so that a function may convert texts into one
 * buffer per thread: the bytes must stay readable until the same thread
 * asks for another text or the call returns.
 * @return ND_OK, or an error (ND_ENOMEM...) that ends the call with it. */
typedef int (*nd_text_fn)(void *ctx, size_t i, unsigned thread, const char **data, size_t *len);

/** nd_batch_sketch() of `count` texts that `text` gives (nd_text_fn), asked
 * for on the batch's threads: for texts that must be converted to UTF-8
 * first, the conversion runs on every thread, each text's bytes read while
 * they are fresh in the cache. The same results as nd_batch_sketch() of the
 * same bytes.
 * @return ND_OK, ND_ENOMEM, ND_EICU or the function's error (then there are
 *   no results). */
int nd_batch_sketch_from(nd_batch *batch, size_t count, nd_text_fn text, void *ctx);

/** The results of the last nd_batch_sketch(), in input order (one item per
 * text in document mode).
 * @param[out] items a borrowed array (see nd_batch_item)
 * @return the number of items. */
size_t nd_batch_items(const nd_batch_item **items, const nd_batch *batch);

/** Add every item of the batch to the index, in order (nd_index_add_ids(),
 * weight = the item's bytes; ids not sorted (nd_batch_set_sorted_ids())
 * are kept so until clustering reads them).
 * @pre the batch and the index were made with the same options (the same
 *   bands and rows at least).
 * @return ND_OK, ND_ENOMEM or ND_EIO; on error the items before the
 * failing one were added (nd_index_count() tells how many). */
int nd_index_add_batch(nd_index *index, const nd_batch *batch);

/* ****  Streams: deduplicate as texts arrive (stream.c)  **** */

/** An in-memory index of the texts kept so far, to which texts are added
 * one at a time: each new text is compared with the kept ones, and it is
 * either a duplicate of one of them (and not kept) or kept. The first text
 * of a group of near-duplicates wins; later ones are reported against it.
 * This is the online counterpart of nd_index_cluster(): where that looks at
 * all texts at once and picks a cluster's survivor by greedy cover, a
 * stream cannot see the future, so which texts are kept can differ when
 * near-duplicates chain (A~B, B~C, A and C apart: a stream keeps A and C,
 * nd_index_cluster() may keep B). When every group of near-duplicates is a
 * clique (all pairs reach the threshold) both keep the same texts.
 *
 * Candidates are the kept texts sharing an LSH band key (the 64-bit keys of
 * nd_lsh_band_keys(), in one hash table), each verified with the exact
 * Jaccard; nothing is reported below the threshold. Memory per kept text:
 * its shingle ids (4 bytes each) and about 20 bytes per band. Not
 * thread-safe: one thread at a time per stream. */
typedef struct nd_stream nd_stream;

/** A kept text that a new text duplicates. */
typedef struct nd_stream_match {
    size_t kept;    /* its number among kept texts: 0, 1, 2, ... in the order they were kept */
    double jaccard; /* exact Jaccard of the two shingle sets, at least the threshold */
} nd_stream_match;

/** @param[out] out the new stream (unchanged on error)
 * @param opts options, resolved if they are not yet; copied. The measure
 *   must be ND_MEASURE_JACCARD (a stream's candidates come from LSH bands,
 *   which containment's low-Jaccard pairs do not share).
 * @return ND_OK, ND_ENOMEM, ND_EINVAL or ND_EICU. */
int nd_stream_new(nd_stream **out, const nd_options *opts);
void nd_stream_free(nd_stream *stream);

/** The number of texts kept so far. */
size_t nd_stream_count(const nd_stream *stream);

/** Compare a sketched text with the kept texts, without keeping it (and
 * without allocating).
 * @param[out] match when a kept text reaches the threshold with it: the one
 *   with the highest Jaccard (the earliest kept among equals)
 * @param ids, count its sorted distinct shingle ids (a text without any
 *   never matches)
 * @param keys its band keys
 * @pre keys holds the stream's bands values of nd_lsh_band_keys() with the
 *   stream's bands and rows; ids[0..count) is readable.
 * @return 1 (a match, written to *match) or 0 (none; *match unchanged). */
int nd_stream_query(nd_stream_match *match, nd_stream *stream, const uint32_t *ids, size_t count, const uint64_t *keys);

/** Keep a sketched text (whether or not it matches anything: the caller
 * decides), numbered nd_stream_count() before the call. The ids are copied.
 * @pre as for nd_stream_query().
 * @return ND_OK, ND_ENOMEM or ND_EINVAL (more than 2^32 - 1 band entries);
 *   on error the stream is unchanged. */
int nd_stream_keep(nd_stream *stream, const uint32_t *ids, size_t count, const uint64_t *keys);

/** The usual step for a new text: sketch it (with the stream's own
 * sketcher), look for a kept text it duplicates, and keep it if there is
 * none.
 * @param[out] match the kept text it duplicates, when there is one
 * @return 1 (a duplicate, not kept), 0 (kept), ND_ENOMEM, ND_EICU or
 *   ND_EINVAL (see nd_stream_keep()). */
int nd_stream_add_text(nd_stream_match *match, nd_stream *stream, const char *text, size_t len);

/** nd_stream_query() for a text: would nd_stream_add_text() call it a
 * duplicate? Keeps nothing.
 * @return 1 (*match written), 0, ND_ENOMEM or ND_EICU. */
int nd_stream_query_text(nd_stream_match *match, nd_stream *stream, const char *text, size_t len);

#endif /* NEARDUP_BATCH_H */
