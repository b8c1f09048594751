/* normalize.h - tokenizer internals shared with sketch.c and the tests (see
 * normalize.c). Internal to the library. */
#ifndef ND_NORMALIZE_H
#define ND_NORMALIZE_H

#include <stddef.h> /* size_t */

#include "neardup.h"

/* How a normalizer walks a text. Every path gives the same tokens, spans,
 * hashes and counts; tests and the fuzz harness check that they do. */
typedef enum {
    ND_PATH_BEST = 0,      /* fast paths, the fastest block classifier of this CPU (the default) */
    ND_PATH_SCALAR = 1,    /* fast paths, the portable classifier */
    ND_PATH_SSE2 = 2,      /* fast paths, the SSE2 classifier */
    ND_PATH_AVX2 = 3,      /* fast paths, the AVX2 classifier */
    ND_PATH_REFERENCE = 4, /* no fast path, no table: every segment folded by ICU (the definition) */
    ND_PATHS = 5
} nd_tokenize_path;

/* Use `path` from now on. @return ND_OK, or ND_EINVAL if this CPU or build
 * lacks it (the normalizer is then unchanged). */
int nd_normalizer_set_path(nd_normalizer *normalizer, nd_tokenize_path path);

/* nd_tokenize() without cutting runs of scripts written without spaces into
 * words: such a run stays one token (ICU's dictionary word breaking is most
 * of the cost of tokenizing Chinese or Thai, and character shingles do not
 * need words). *cut_alike is set to 1 when the tokens' normalized text is
 * the same as nd_tokenize() would give, so character shingles are too; 0
 * when a run holds a character ICU might leave out of every word (see
 * nd_fold_cut_keeps in fold.h): then use nd_tokenize(). Same return
 * values as nd_tokenize(). When most of the text's word characters are in
 * scripts without spaces (nd_tokens_mostly_unspaced: the tokens are then
 * shingled by characters, which reads no token hash, unless they are
 * tokenized again by nd_tokenize), the tokens' hashes are left unset (0)
 * until nd_normalizer_hash_pending() sets them: a caller that hands the
 * tokens on must call it first. */
int nd_tokenize_runs(nd_tokens *out, int *cut_alike, nd_normalizer *normalizer, const char *text, size_t len);

/* Set the hashes nd_tokenize_runs() left unset, if it did, on the tokens
 * it made (which must still be there, unchanged); else nothing. */
void nd_normalizer_hash_pending(nd_normalizer *normalizer);

/* Most code points in one normalization segment after its first: longer
 * runs of non-starters are cut, as in Unicode's stream-safe text format
 * (UAX #15), so that one base letter with thousands of marks costs linear
 * time. */
#define ND_MAX_NONSTARTERS 30

#endif /* ND_NORMALIZE_H */
