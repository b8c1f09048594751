/* index_add.h - adding a text to an nd_index with the per-text work done
 * ahead: its set hash and its folded 32-bit band keys, which are pure
 * functions of the text's ids and signature. Internal to neardup (the CLI
 * and the MPI engine link the static library): the pipeline computes both
 * on the worker that sketched the text, so the thread that adds texts in
 * input order only copies them (index.c).
 */
#ifndef ND_INDEX_ADD_H
#define ND_INDEX_ADD_H

#include <stddef.h> /* size_t */
#include <stdint.h> /* uint32_t, uint64_t */

#include "hash.h"
#include "neardup.h"

/* A text ready for the index: what nd_index_add_ids() computes itself. */
typedef struct nd_prepared_text {
    const uint32_t *ids;  /* sorted distinct shingle ids; NULL when count is 0 */
    size_t count;         /* number of ids */
    uint64_t set_hash;    /* nd_index_set_hash(ids, count) */
    const uint32_t *keys; /* the index's bands keys, folded (nd_index_fold_keys()) */
    uint64_t weight;      /* what --keep longest compares */
} nd_prepared_text;

/* The hash the index keeps of a set of ids (equal sets, equal hashes):
 * inline, as both the pipeline's workers and the index (index.c when
 * adding, index_settle.c when settling) make it. */
static inline uint64_t nd_index_set_hash(const uint32_t *ids, size_t count)
{
    return nd_hash64(ids, count * sizeof *ids, 0);
}

/* The 32-bit keys the index keeps of `bands` keys of nd_lsh_band_keys()
 * (inline: a call per unit cost more than the loop, which vectorizes). */
static inline void nd_index_fold_keys(uint32_t *restrict folded, const uint64_t *restrict keys, unsigned bands)
{
    for (unsigned j = 0; j < bands; j++)
        folded[j] = (uint32_t)(keys[j] ^ (keys[j] >> 32));
}

/* nd_lsh_band_keys() and nd_index_fold_keys() in one (lsh.c): the keys
 * folded in the vector registers they are made in, never written at 64
 * bits (the CLI's units: tests/test_lsh.c test_band_keys checks it against
 * the two). */
void nd_lsh_band_keys_folded(uint32_t *folded, const uint32_t *sig, unsigned bands, unsigned rows);

/* Add texts[0..n) in order, exactly as nd_index_add_ids() would add each
 * (the same index, byte for byte). Same return values; on an error the
 * texts before the failing one stay added. */
int nd_index_add_prepared(nd_index *index, const nd_prepared_text *texts, size_t n);

/* Raw texts: the CLI's document mode adds each text's ids as they were
 * made, in any order and with repeats (nd_sketch_text_ref_raw), and the
 * index sorts them only for the texts clustering reads (index.c). */

/* nd_sketch_text_ref() with the ids as nd_shingles_raw() makes them; the
 * signature is the same (sketch.c). */
int nd_sketch_text_ref_raw(nd_sketch_ref *out, nd_sketcher *sk, const char *text, size_t len);

/* nd_sketch_text_ref_raw() without the signature (out->signature is not
 * made): the ids alone, for a text whose keys the index has already
 * (nd_index_refill: the CLI's dropped documents, sketched again). */
int nd_sketch_ids_raw(nd_sketch_ref *out, nd_sketcher *sk, const char *text, size_t len);

/* The tokens a text is signed with, into the sketcher's tokens
 * (nd_sketcher_tokens()), and the shingles to make of them: runs of
 * scripts without spaces cut into words only where something needs words
 * (word shingles, or a sketcher that needs words). What nd_sketch_text()
 * tokenizes, alone (nd_bench_sign times it). ND_OK or an error. */
int nd_sketch_tokens(nd_shingle_kind *kind, unsigned *size, nd_sketcher *sk, const char *text, size_t len);

/* A sketcher for nd_sketch_ids_raw() only: its MinHash tables, which take
 * milliseconds to make, are not made. */
int nd_sketcher_new_ids(nd_sketcher **out, const nd_options *opts);

/* nd_sketch_units() with each unit's ids as nd_shingles_raw() makes them
 * (sketch.c): the same units, spans and signatures (the CLI's paragraph and
 * line modes, whose units the index sorts only when it reads them). */
int nd_sketch_units_raw(size_t *invalid_utf8, nd_sketcher *sk, const char *text, size_t len, nd_unit_kind kind,
                        unsigned min_tokens, nd_unit_fn fn, void *ctx);

/* nd_index_add_prepared() of raw texts: each text's ids raw (count of
 * them, repeats counted; its set_hash is not read), added as
 * nd_index_add_raw() adds them, with keys already folded. Same return
 * values. */
int nd_index_add_prepared_raw(nd_index *index, const nd_prepared_text *texts, size_t n);

/* nd_index_add_ids() of raw ids (count of them, repeats counted): the
 * index keeps them as they are until a text is read (a spilled index
 * sorts them at once). Clustering and listing pairs on the index give the
 * same results as with the ids sorted distinct. */
int nd_index_add_raw(nd_index *index, const uint32_t *ids, size_t count, const uint64_t *keys, uint64_t weight);

/* Ids written once. The threads that sketch write raw ids straight into
 * blocks of memory that the index adopts, instead of a copy of a copy
 * (the CLI's pipeline: a block per thread at a time; a CJK text's ids take
 * more room than its text).
 * nd_index_ids_block_new: a block for `capacity` ids (NULL when out of
 * memory), given to an index (nd_index_adopt_ids) or freed
 * (nd_index_ids_block_free). */
uint32_t *nd_index_ids_block_new(size_t capacity);
void nd_index_ids_block_free(uint32_t *block);

/* The index takes `block` (from nd_index_ids_block_new, `capacity` ids)
 * and frees it with itself, or at once when it has spilled. The texts
 * whose ids are in it must be added (nd_index_add_kept) before the index
 * is read, and nothing may write to it any more but to the ids of texts
 * not added yet. ND_OK, or ND_ENOMEM (the block is not taken). */
int nd_index_adopt_ids(nd_index *index, uint32_t *block, size_t capacity);

/* nd_index_add_raw() without a copy: `ids` lie in a block the index has
 * adopted or will adopt (nd_index_adopt_ids) before it is read or freed,
 * and the index keeps them there (sorting them in place when it reads
 * them). A spilled index copies them to its file. */
int nd_index_add_kept(nd_index *index, const uint32_t *ids, size_t count, const uint64_t *keys, uint64_t weight);

/* Ids kept only where they may be read (index_refill.c). The CLI's
 * document mode adds most texts without their ids (nd_index_add_dropped:
 * the raw count, keys and weight, as nd_index_add_kept would add them),
 * then, before clustering or listing pairs, asks which of them clustering
 * may read (nd_index_dropped_wanted) and gives those their ids again
 * (nd_index_refill), the same raw ids as they were sketched. A spilled
 * index keeps its dropped texts dropped (they have no place in its ids
 * file until refilled), and texts may be dropped after the spill.
 * Containment reads every text: refill them all (`all`). */
int nd_index_add_dropped(nd_index *index, size_t count, const uint64_t *keys, uint64_t weight);

/* The dropped texts not refilled yet that share a band key with another
 * text (or, with `all`, every one), in text order, newly allocated into
 * *docs (NULL when none; free with nd_index_ids_block_free). ND_OK,
 * ND_ENOMEM, or ND_EIO (a spilled index's keys not read back). */
int nd_index_dropped_wanted(const nd_index *index, int all, uint32_t **docs, size_t *count);

/* Dropped texts refilled as clustering reads them, instead of all that may
 * be read before it (nd_index_dropped_wanted): `fn` gives text doc's raw
 * ids (*ids borrowed until the next call, *count of them: `expected`, the
 * count it was added with, unless the text changed, which `fn` can name)
 * or an error (ND_EIO, ND_ENOMEM: clustering fails with it). Called from clustering
 * (nd_index_cluster, nd_index_pairs: when the store is made, for texts
 * that may have a copy, and on a text's first read), one text at a time,
 * on the thread that reads texts first (store.h). */
typedef int (*nd_refill_fn)(void *ctx, size_t doc, size_t expected, const uint32_t **ids, size_t *count);
void nd_index_set_refill(nd_index *index, nd_refill_fn fn, void *ctx);

/* Text `doc`'s ids, dropped when it was added: `count` raw ids, which must
 * be its count as added. ND_OK, ND_ENOMEM, or ND_EINVAL (not a dropped
 * text, or another count: the text read again is not the text sketched). */
int nd_index_refill(nd_index *index, size_t doc, const uint32_t *ids, size_t count);

/* nd_index_add_prepared_raw() without a copy, as nd_index_add_kept: each
 * text's raw ids lie in a block the index has adopted or will adopt (the
 * CLI's units, written once by the threads that sketch them). Same return
 * values. */
int nd_index_add_prepared_kept(nd_index *index, const nd_prepared_text *texts, size_t n);

#endif /* ND_INDEX_ADD_H */
