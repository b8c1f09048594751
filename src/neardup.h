/* neardup.h - find duplicate and near-duplicate texts: the public API.
 *
 * The one header to include. It declares the core (options, normalization,
 * shingles, MinHash, LSH, the in-memory index and its clusters and pairs)
 * and includes the rest, one job a header: neardup_batch.h (nd_batch,
 * nd_stream), neardup_explain.h (nd_explain), neardup_db.h (nd_db).
 *
 * The pipeline, one stage per module (src/):
 *
 *   text --normalize.c--> tokens --shingle.c--> set of 32-bit shingle ids
 *        --minhash.c--> signature --lsh.c--> band keys
 *        --index.c (storage, in memory or spilled to files)
 *        --cluster.c--> candidate pairs --verify (exact Jaccard or
 *        containment)--> union-find --> clusters (or pairs.c: every pair)
 *
 * sketch.c bundles normalize + shingle + minhash per thread (nd_sketcher,
 * and nd_sketch_units() for paragraphs and lines); units.c splits texts
 * into paragraphs or lines, finds a unit pasted several times and removes
 * spans. Candidates come from candidates.c (identical sets, LSH bands)
 * and contain.c (containment's inverted index); measure.h says when two
 * sets match; chance.c gives the probability of a chance match. batch.c
 * sketches many texts on a pool of threads (nd_batch); stream.c
 * deduplicates texts as they arrive (nd_stream); explain.c reports on a
 * pair (nd_explain). Private
 * helpers: alloc.c (the allocation seam), sort.c, uf.c (union-find),
 * pairset.c, hash.h (xxHash), store.h (the storage seam between index.c
 * and cluster.c), options.c, error.c.
 *
 * The persistent index (nd_db, on LMDB): db.c (open, locks, errors),
 * db_meta.c (metadata, version and option checks, stats), db_write.c (runs: add, remove, commit), db_query.c (queries,
 * verified exactly), db_compact.c, db_record.c (the stored document record,
 * Rice-coded shingle ids, band key layout), db_batch.c (texts sketched on
 * several threads).
 *
 * Two levels of use:
 *   - value level: nd_tokenize(), nd_shingles(), nd_minhash(), nd_jaccard(),
 *     nd_lsh_*(): pure functions (given their context object), usable without
 *     an index, e.g. to compare two texts;
 *   - index level: nd_sketcher computes a document's sketch (shingle set and
 *     signature); nd_index collects sketches and clusters them.
 *
 * Conventions (libgit2's, xxhash.h's):
 * - Out-parameters come first; a single output is named `out`.
 * - Ownership: every nd_*_new() result is owned by the caller and released
 *   with the matching nd_*_free(); free functions accept NULL. Text passed
 *   in is only read during the call. Pointers returned through getters are
 *   borrowed and stay valid until their parent object is freed or changed.
 * - Errors: functions returning int give ND_OK (0) or a negative ND_E* code;
 *   on error, out-parameters are left unchanged unless documented otherwise.
 * - Preconditions (@pre) are the caller's part of the contract: breaking
 *   one is a programming error, checked by assert() in debug builds (built
 *   without NDEBUG) and undefined otherwise. Bad data (any bytes of text,
 *   any option values through nd_options_resolve()) is never a
 *   precondition: it gets a status code.
 * - Threads: the library has no global mutable state apart from read-only
 *   tables built once under pthread_once (the normalization profiles) and
 *   the counter of the test hook nd_alloc_fail_after() (tests only, not in
 *   this header). A context object (nd_normalizer, nd_sketcher, nd_index)
 *   must not be used from two threads at once; distinct objects may. The
 *   usual pattern is one nd_sketcher per thread and one nd_index fed from
 *   one thread, in input order (which makes output independent of the
 *   thread count).
 * - The library never prints and never exits.
 */
#ifndef NEARDUP_H
#define NEARDUP_H

#include <stddef.h> /* size_t */
#include <stdint.h> /* uint32_t, uint64_t */

#ifdef __cplusplus
extern "C" {
#endif

/* Everything declared between this push and its pop is the API, exported by
 * libneardup.so; the library is compiled with hidden visibility otherwise. */
#if defined(__GNUC__)
#pragma GCC visibility push(default)
#endif

#define ND_VERSION "0.1.0"

/** The longest MinHash signature (nd_options.num_perm). */
#define ND_MAX_PERM 4096

/* ****  Status codes  **** */
enum {
    ND_OK = 0,
    ND_ENOMEM = -1, /* an allocation failed */
    ND_EINVAL = -2, /* an argument or option is out of range */
    ND_EICU = -3,   /* ICU reported an error (missing data, internal failure) */
    ND_EIO = -4,    /* a file could not be written or read (nd_index_spill, nd_db_*) */
    /* the persistent index (nd_db_*); nd_db_error() gives the detail */
    ND_EEXIST = -5,    /* an id is already in the index */
    ND_ENOTFOUND = -6, /* no index at the path, or an id not in the index */
    ND_EMISMATCH = -7, /* options disagree with the ones the index was made with */
    ND_EFORMAT = -8,   /* not a neardup index, or one of another format or Unicode version */
    ND_EBUSY = -9,     /* another process writes to the index (or has it open, for compact) */
    ND_EFULL = -10     /* the disk is full, or the index reached its size limit */
};

/** @return a static, one-line description of a status code; never NULL. */
const char *nd_strerror(int status);

/* ****  Options  **** */

/** Normalization profiles. Each is a versioned list of steps on top of ICU
 * NFKC case folding; the version changes whenever the tokens a profile
 * produces for some input change, so results can be reproduced.
 *  - ND_PROFILE_DEFAULT: NFKC_Casefold; Arabic tashkeel and tatweel and
 *    Hebrew points removed (optional vowel signs: a reader sees the same
 *    word); every other mark kept; letters, marks and numbers form words;
 *    everything else separates words.
 *  - ND_PROFILE_AGGRESSIVE: default, plus all combining marks dropped,
 *    Unicode decimal digits folded to ASCII, Arabic letter variants folded
 *    (hamza forms and alef wasla to alef, alef maksura to yeh, teh marbuta
 *    to heh), Persian/Urdu yeh and keheh to Arabic yeh and kaf. */
typedef enum { ND_PROFILE_DEFAULT = 0, ND_PROFILE_AGGRESSIVE = 1 } nd_profile;

/** @return the profile's name ("default", "aggressive"), or NULL if unknown. */
const char *nd_profile_name(nd_profile profile);
/** @return the profile's version number (>= 1), or 0 if unknown. */
unsigned nd_profile_version(nd_profile profile);
/** Look a profile up by name.
 * @param[out] out the profile, set only on success.
 * @return ND_OK or ND_EINVAL (unknown name, or NULL). */
int nd_profile_from_name(nd_profile *out, const char *name);

/** The Unicode version of the ICU data that normalization uses ("15.0") and
 * ICU's own version ("72.1"): static strings, never NULL. A persistent
 * index records both (a new Unicode version can change tokens). */
const char *nd_unicode_version(void);
const char *nd_icu_version(void);

/** What a shingle is made of. */
typedef enum {
    ND_SHINGLE_WORDS = 0, /* k consecutive tokens */
    ND_SHINGLE_CHARS = 1, /* N consecutive characters of the normalized text */
    ND_SHINGLE_AUTO = 2   /* characters for text mostly in scripts written
                             without spaces (Han, kana, Thai, ...), else words */
} nd_shingle_kind;

/** What two texts must share to match (nd_options.measure). For shingle
 * sets A and B, with |A| <= |B|:
 *  - ND_MEASURE_JACCARD: |A ∩ B| / |A ∪ B| >= threshold (near-copies);
 *  - ND_MEASURE_CONTAINMENT: |A ∩ B| / |A| >= threshold, A holding at
 *    least min_shingles shingles (an excerpt or an abridged copy inside
 *    a longer text), or the Jaccard rule (so containment finds every pair
 *    Jaccard finds). In a cluster the survivor contains every member. */
typedef enum { ND_MEASURE_JACCARD = 0, ND_MEASURE_CONTAINMENT = 1 } nd_measure;

/** Default nd_options.min_shingles: about a sentence of 24 words under
 * 5-word shingles. Shorter texts (headlines, stock phrases, "read more")
 * are found inside many unrelated articles, so they are not reported as
 * contained in another text (they still match by Jaccard). */
#define ND_MIN_SHINGLES 20

typedef struct nd_options {
    nd_profile profile;
    nd_shingle_kind shingle_kind;
    unsigned shingle_size; /* k words (word shingles) */
    unsigned char_size;    /* N characters (character shingles) */
    unsigned num_perm;     /* MinHash signature length */
    unsigned bands;        /* LSH bands b; 0 = choose from threshold */
    unsigned rows;         /* LSH rows per band r; 0 = choose from threshold */
    double threshold;      /* minimum exact score (measure) for two texts to match */
    uint64_t seed;         /* same seed + same text => same signature */
    nd_measure measure;    /* Jaccard (default) or containment */
    unsigned min_shingles; /* containment: fewest shingles of a text reported as contained in another */
} nd_options;

#define ND_OPTIONS_INIT                                                                                       \
    {                                                                                                         \
        ND_PROFILE_DEFAULT, ND_SHINGLE_AUTO, 5, 5, 128, 0, 0, 0.8, 0x6e65617264757031ULL, ND_MEASURE_JACCARD, \
            ND_MIN_SHINGLES                                                                                   \
    }

/** Check an option set and fill in bands and rows when they are 0 (see
 * nd_lsh_choose()). Bands and rows must be given both or neither, and
 * bands * rows must not exceed num_perm; num_perm is 1 .. ND_MAX_PERM,
 * shingle sizes 1 .. 64, the threshold in (0, 1], min_shingles >= 1.
 * @param[in,out] opts the options to check and complete.
 * @return ND_OK, or ND_EINVAL with opts unchanged (also for NULL). */
int nd_options_resolve(nd_options *opts);

/* ****  Normalization and tokens (normalize.c)  **** */

/** One token: its byte span in the original text (always on UTF-8 character
 * boundaries, never cutting a combining sequence), its normalized text (a
 * slice of nd_tokens.text) and a 64-bit hash of that normalized text. */
typedef struct nd_token {
    size_t start, end;           /* [start, end) in the original bytes */
    size_t norm_start, norm_len; /* slice of nd_tokens.text */
    uint64_t hash;               /* XXH3 of the normalized UTF-8 */
} nd_token;

/** A growable token list. Zero-initialize (ND_TOKENS_INIT) before first use;
 * nd_tokenize() reuses its memory; release with nd_tokens_free(). */
typedef struct nd_tokens {
    nd_token *items;
    size_t count, capacity;
    char *text; /* normalized UTF-8 of all tokens, back to back, not NUL-terminated */
    size_t text_len, text_capacity;
    size_t invalid_utf8;   /* ill-formed sequences read as U+FFFD */
    size_t word_chars;     /* characters in tokens */
    size_t unspaced_chars; /* of which in scripts written without spaces */
} nd_tokens;
#define ND_TOKENS_INIT                  \
    {                                   \
        NULL, 0, 0, NULL, 0, 0, 0, 0, 0 \
    }
void nd_tokens_free(nd_tokens *tokens);

typedef struct nd_normalizer nd_normalizer;

/** Create a normalizer for one profile. The first call for a profile builds a
 * shared read-only table (about 1 MiB, a few milliseconds).
 * @param[out] out the new normalizer (free with nd_normalizer_free()).
 * @return ND_OK, ND_ENOMEM, ND_EINVAL (unknown profile) or ND_EICU. */
int nd_normalizer_new(nd_normalizer **out, nd_profile profile);
void nd_normalizer_free(nd_normalizer *normalizer);

/** Normalize `text` (UTF-8; ill-formed sequences are read as U+FFFD and
 * counted) and split it into tokens.
 * @param[out] out receives the tokens, replacing what it held (its memory
 * is reused); initialized with ND_TOKENS_INIT before its first use.
 * @pre [text, text + len) is readable; text may be NULL when len is 0.
 * @return ND_OK, ND_ENOMEM or ND_EICU. */
int nd_tokenize(nd_tokens *out, nd_normalizer *normalizer, const char *text, size_t len);

/** Copy UTF-8 text, replacing every ill-formed sequence (ICU's maximal
 * subparts) with U+FFFD.
 * @param[out] out receives the copy (not NUL-terminated).
 * @param[out] out_len the bytes written.
 * @pre `out` has room for 3 * len bytes (a lone bad byte becomes three) and
 * does not overlap [text, text + len).
 * @return the number of replacements. */
size_t nd_utf8_repair(char *out, size_t *out_len, const char *text, size_t len);

/* ****  Shingles (shingle.c)  **** */

/** Turn tokens into a sorted set of distinct 32-bit shingle ids.
 * Word shingles: every run of `size` consecutive tokens; fewer than `size`
 * tokens give one shingle of all of them; no tokens give the empty set.
 * Character shingles: every run of `size` consecutive characters of the
 * normalized text, each run of separators read as one space (words cut by
 * ICU out of an unspaced run stay joined); same rule for short texts.
 * @param[in,out] ids, capacity the id buffer, grown as needed (pass NULL/0
 * the first time; it may grow to twice the number of shingles, the upper
 * half used as sort scratch).
 * @param[out] count the set size.
 * @return ND_OK, ND_ENOMEM or ND_EINVAL (size 0). */
int nd_shingles(uint32_t **ids, size_t *capacity, size_t *count, const nd_tokens *tokens, nd_shingle_kind kind,
                unsigned size);

/** The shingle kind and size `opts` give for these tokens: ND_SHINGLE_AUTO
 * resolved to characters (opts->char_size) for text mostly in scripts
 * without spaces, else to words (opts->shingle_size).
 * @param[out] size the shingle size for the kind returned. */
nd_shingle_kind nd_shingle_choice(unsigned *size, const nd_options *opts, const nd_tokens *tokens);

/** Is the text of these tokens mostly written in scripts without spaces
 * between words (Han, Hiragana, Katakana, Thai, Lao, Khmer, Myanmar): more
 * than half of its word characters? This is how ND_SHINGLE_AUTO (the
 * default) picks character shingles. */
int nd_tokens_mostly_unspaced(const nd_tokens *tokens);

/* ****  MinHash and Jaccard (minhash.c)  **** */

/** Write the MinHash signature of a shingle set: one permutation hashing
 * with optimal densification (see minhash.c): one seeded 64-bit hash per
 * id picks a bin and a value, each bin keeps its minimum, empty bins borrow
 * from other bins along a fixed seeded sequence. Equal positions of two
 * signatures estimate the Jaccard similarity without bias. Pure and
 * deterministic on every machine. An empty set gives all values
 * 0xFFFFFFFF.
 * @param[out] sig receives num_perm values.
 * @pre 1 <= num_perm <= ND_MAX_PERM; ids[0..count) readable. */
void nd_minhash(uint32_t *sig, unsigned num_perm, uint64_t seed, const uint32_t *ids, size_t count);

/** Fraction of equal positions in two signatures: an unbiased estimate of
 * the Jaccard similarity of the two sets, with standard deviation
 * sqrt(J (1 - J) / num_perm).
 * @pre num_perm >= 1; both signatures hold num_perm values. */
double nd_signature_similarity(const uint32_t *a, const uint32_t *b, unsigned num_perm);

/** Size of the intersection of two sorted sets of distinct ids.
 * @pre a[0..na) and b[0..nb) are sorted ascending without repeats. */
size_t nd_intersection(const uint32_t *a, size_t na, const uint32_t *b, size_t nb);

/** Exact Jaccard |A ∩ B| / |A ∪ B| of two sorted sets of distinct ids; two
 * empty sets give 0 (empty texts never match).
 * @pre as for nd_intersection(). */
double nd_jaccard(const uint32_t *a, size_t na, const uint32_t *b, size_t nb);

/* ****  LSH banding (lsh.c)  **** */

/** Probability that two texts of Jaccard s share at least one band:
 * 1 - (1 - s^rows)^bands. */
double nd_lsh_probability(double s, unsigned bands, unsigned rows);

/** Choose bands and rows (bands * rows <= num_perm) minimizing
 *   0.05 * ∫_0^t P(s) ds + 0.95 * ∫_t^1 (1 - P(s)) ds,
 * the weighted false-positive and false-negative areas of the S-curve.
 * False negatives weigh 19 times more than false positives because every
 * candidate is verified exactly: a false positive costs one set merge, a
 * false negative is a duplicate lost.
 * @param[out] bands, rows the banding, set only on success.
 * @return ND_OK, or ND_EINVAL (threshold outside (0, 1], num_perm 0). */
int nd_lsh_choose(unsigned *bands, unsigned *rows, double threshold, unsigned num_perm);

/** Band keys of a signature: keys[j] = XXH3 of the rows values of band j,
 * seeded with j.
 * @param[out] keys receives `bands` keys.
 * @pre bands >= 1, rows >= 1, and sig holds at least bands * rows values. */
void nd_lsh_band_keys(uint64_t *keys, const uint32_t *sig, unsigned bands, unsigned rows);

/* ****  Sketches (sketch.c)  **** */

/** What the index needs to know about one text. Zero-initialize
 * (ND_SKETCH_INIT); release with nd_sketch_clear(). */
typedef struct nd_sketch {
    uint32_t *ids;       /* sorted distinct shingle ids (exact verification) */
    size_t count;        /* number of ids; 0 for a text without tokens */
    uint32_t *signature; /* num_perm MinHash values */
    size_t num_tokens;
    size_t invalid_utf8; /* ill-formed UTF-8 sequences read as U+FFFD */
} nd_sketch;
#define ND_SKETCH_INIT      \
    {                       \
        NULL, 0, NULL, 0, 0 \
    }
void nd_sketch_clear(nd_sketch *sketch);

/** A sketch that borrows the sketcher's buffers (nd_sketch_text_ref()):
 * valid until the next call with the same sketcher; nothing to free. */
typedef struct nd_sketch_ref {
    const uint32_t *ids; /* sorted distinct shingle ids */
    size_t count;
    const uint32_t *signature; /* num_perm MinHash values */
    size_t num_tokens;
    size_t invalid_utf8;
} nd_sketch_ref;

/** A per-thread context turning texts into sketches (normalizer, buffers,
 * options). */
typedef struct nd_sketcher nd_sketcher;

/** @param[out] out the new sketcher (free with nd_sketcher_free()).
 * @param opts options (resolved here if they are not yet; copied).
 * @return ND_OK, ND_ENOMEM, ND_EINVAL (options nd_options_resolve()
 * refuses) or ND_EICU. */
int nd_sketcher_new(nd_sketcher **out, const nd_options *opts);
void nd_sketcher_free(nd_sketcher *sketcher);

/** Compute the sketch of a text.
 * @param[out] out cleared first (nd_sketch_clear()); its arrays are
 * allocated to their exact size and owned by `out`.
 * @pre [text, text + len) is readable; text may be NULL when len is 0.
 * @return ND_OK, ND_ENOMEM or ND_EICU. */
int nd_sketch_text(nd_sketch *out, nd_sketcher *sketcher, const char *text, size_t len);

/** nd_sketch_text() without allocating: for callers that copy what they
 * keep (nd_index_add_ids() does), which saves two allocations per text.
 * @param[out] out points into the sketcher's buffers, valid until its next
 * call.
 * @pre as for nd_sketch_text().
 * @return ND_OK, ND_ENOMEM or ND_EICU. */
int nd_sketch_text_ref(nd_sketch_ref *out, nd_sketcher *sketcher, const char *text, size_t len);

/** The tokens of the last text sketched by nd_sketch_text() or
 * nd_sketch_text_ref() (borrowed; valid until the next call). Undefined
 * after nd_sketch_units(), which may tokenize a whole text once and give
 * each unit its range of the tokens. */
const nd_tokens *nd_sketcher_tokens(const nd_sketcher *sketcher);

/** Must the sketcher's tokens (nd_sketcher_tokens(), num_tokens) be words
 * for every text? 1 (the default): yes. 0: a text signed with character
 * shingles (mostly Chinese, Japanese, Thai, ...) keeps each run of such
 * scripts as one token, which skips ICU's dictionary word breaking, most
 * of the cost of sketching such text. Shingle ids and signatures are the
 * same either way; only the tokens (and their count) differ. */
void nd_sketcher_set_words(nd_sketcher *sketcher, int words);

/* ****  Units: paragraphs, lines, repeats inside a unit (units.c; nd_sketch_units in sketch.c)  **** */

/** What one comparable unit of text is. */
typedef enum {
    ND_UNIT_DOCUMENT = 0,  /* the whole text */
    ND_UNIT_PARAGRAPH = 1, /* a run of non-blank lines between blank lines */
    ND_UNIT_LINE = 2       /* one non-blank line */
} nd_unit_kind;

/** A byte span [start, end) of a text. */
typedef struct nd_span {
    size_t start, end;
} nd_span;

/** Split a text into units, each trimmed of surrounding white space (so a
 * span starts and ends on a character boundary and never holds a line
 * end). Blank lines (only spaces, tabs, CR) separate paragraphs; CRLF and
 * LF line ends both work. Units with nothing but white space are left out.
 * @param[in,out] spans, capacity the span buffer, grown as needed (pass
 * NULL/0 the first time).
 * @param[out] count the number of units.
 * @pre [text, text + len) is readable.
 * @return ND_OK or ND_ENOMEM. */
int nd_split_units(nd_span **spans, size_t *capacity, size_t *count, const char *text, size_t len, nd_unit_kind kind);

/** Minimum number of tokens in one copy for nd_find_repeats(). */
#define ND_REPEAT_MIN_TOKENS 3

/** Is the unit text[unit.start, unit.end), whose tokens are `tokens`
 * (spans relative to `text`), a shorter text repeated twice or more, e.g. a
 * headline pasted twice with no break? The test is exact on the normalized
 * token sequence: it must be m >= 2 copies of a sequence of at least
 * ND_REPEAT_MIN_TOKENS tokens (smallest period, by the KMP prefix
 * function). The punctuation between two copies is given to the copy it
 * belongs to by comparing with the first copy's leading and the last copy's
 * trailing characters, and each copy's span is trimmed of white space.
 * @param[out] copies receives up to `max_copies` spans, in order.
 * @pre the token spans lie inside `unit`, which lies inside `text`.
 * @return the number of copies m (0 if the unit is not a repetition), or
 * ND_ENOMEM. When m > max_copies only max_copies spans are written. */
int nd_find_repeats(nd_span *copies, size_t max_copies, const nd_tokens *tokens, const char *text, nd_span unit);

/** Called by nd_sketch_units() for each unit, in text order: `span` is the
 * unit's byte span in the whole text, `sketch` its sketch (borrowed, valid
 * during the call). Return ND_OK to go on, or a negative code to stop (it
 * is then returned by nd_sketch_units()). */
typedef int (*nd_unit_fn)(void *ctx, nd_span span, const nd_sketch_ref *sketch);

/** Sketch each unit of a text: split it (nd_split_units()), skip units with
 * fewer than `min_tokens` tokens or no shingles, and sketch each unit that
 * is one shorter text pasted several times (nd_find_repeats()) as its
 * copies, each other unit whole. A unit's tokens (the sketch's num_tokens)
 * are words where `min_tokens` is above 1, with a sketcher that needs words
 * (nd_sketcher_set_words(), the default), and where the unit may be a text
 * pasted several times (its copies are found among its words); else a run
 * of a script without spaces signed with character shingles is one token
 * (ICU's word breaking skipped: the same ids, signature and copies). The
 * sketcher's buffers are reused, so nothing is allocated per unit once
 * they have grown.
 * @param[out] invalid_utf8 ill-formed UTF-8 sequences in the units (each
 * unit counted once, not once per copy).
 * @pre [text, text + len) is readable (text may be NULL when len is 0).
 * @return ND_OK, ND_ENOMEM, ND_EICU, or what `fn` returned to stop. */
int nd_sketch_units(size_t *invalid_utf8, nd_sketcher *sketcher, const char *text, size_t len, nd_unit_kind kind,
                    unsigned min_tokens, nd_unit_fn fn, void *ctx);

/** Remove the spans (sorted by start; they may overlap or touch) from a
 * text and tidy the seams, the way dedup --unit does: spans separated only
 * by blanks on one line are removed as one; a removed span that is the
 * whole of its line(s) takes its line end with it; when that leaves two
 * blank lines where there was one (a paragraph removed between two
 * others), the extra blank lines go too; and a text that ended with
 * removed lines keeps no trailing blank lines (but keeps its final line
 * end). Every byte not removed is kept as it was.
 * @param[out] out receives the result; room for `len` bytes (the result is
 * never longer). Not NUL-terminated.
 * @pre spans[i].start <= spans[i].end <= len, sorted by start.
 * @return the length of the result. */
size_t nd_remove_spans(char *out, const char *text, size_t len, const nd_span *spans, size_t count);

/** A one-line preview of a text, as the program and the Python module show
 * a unit or a shared run: runs of white space (space, tab, CR, LF) read as
 * one space, leading and trailing ones dropped, and the text cut on a
 * character boundary to at most max_chars characters (a space counting as
 * one), followed by "…" when something was cut.
 * @param[out] out receives the preview; room for len + 3 bytes. Not
 * NUL-terminated.
 * @pre [text, text + len) is readable (text may be NULL when len is 0).
 * @return the length of the preview in bytes. */
size_t nd_text_preview(char *out, const char *text, size_t len, size_t max_chars);

/* ****  Index (index.c) and clusters (cluster.c)  **** */

typedef struct nd_index nd_index;

/** @param[out] out the new, empty index (free with nd_index_free()).
 * @param opts options (resolved here if they are not yet; copied).
 * @return ND_OK, ND_ENOMEM or ND_EINVAL (options nd_options_resolve()
 * refuses). */
int nd_index_new(nd_index **out, const nd_options *opts);
void nd_index_free(nd_index *index);

/** Add the next text (numbered 0, 1, 2, ... in call order). The index
 * copies the sketch's shingle ids into its own blocks, then frees them
 * (sketch->ids becomes NULL and sketch->count 0); it only reads the
 * signature. `weight` is what --keep longest compares (e.g. text bytes).
 * @pre sketch comes from a sketcher with the index's options.
 * @return ND_OK, ND_ENOMEM (then nothing was added and the sketch is
 * unchanged), ND_EINVAL (2^32 - 1 texts already) or ND_EIO (spilled
 * index: a write failed). */
int nd_index_add(nd_index *index, nd_sketch *sketch, uint64_t weight);
/** Add the next text from its shingle ids and its band keys, copying the
 * ids into the index's own blocks: the caller keeps its arrays, and can
 * compute the keys on its own thread.
 * @pre ids[0..count) sorted ascending without repeats (ids may be NULL when
 * count is 0); keys holds the index's `bands` keys from
 * nd_lsh_band_keys() with its bands and rows.
 * Same return values as nd_index_add(). */
int nd_index_add_ids(nd_index *index, const uint32_t *ids, size_t count, const uint64_t *keys, uint64_t weight);
size_t nd_index_count(const nd_index *index);

/** Let nd_index_cluster() use up to `threads` threads (default 1): LSH
 * bands are prepared on the others while it verifies, and components are
 * split in parallel; each extra thread takes 16 bytes per text while
 * clustering. The clusters are the same for any value. */
void nd_index_set_threads(nd_index *index, unsigned threads);

/** Bytes of memory the index holds (an estimate within a few percent). */
size_t nd_index_memory(const nd_index *index);

/** Move the index's shingle ids and LSH band keys to two unlinked
 * temporary files in `dir`, now and for every later nd_index_add, so that
 * memory per text drops to a few dozen bytes; clustering then reads one
 * band at a time (sequentially, in blocks) and reads back only the ids of
 * the texts it verifies. Results are identical with or without spilling.
 * Calling it again does nothing.
 * @pre dir names a directory (a path shorter than 4,000 bytes).
 * @return ND_OK, ND_ENOMEM or ND_EIO (the files could not be made or
 * written; the index is then unusable: free it). */
int nd_index_spill(nd_index *index, const char *dir);

/** Which member of a cluster is kept: the first, in this order, that
 * reaches the threshold with every other member.
 *  - ND_KEEP_FIRST: input order;
 *  - ND_KEEP_LONGEST: the largest weight (nd_index_add) first, ties in
 *    input order;
 *  - ND_KEEP_RANK: the lowest rank (nd_index_set_ranks()) first, ties in
 *    input order: any order the caller computes (the program's --keep
 *    min:FIELD ranks records by a field's value). */
typedef enum { ND_KEEP_FIRST = 0, ND_KEEP_LONGEST = 1, ND_KEEP_RANK = 2 } nd_keep;

/** Give the texts added so far their ranks for ND_KEEP_RANK (copied);
 * texts added later, or never ranked, rank last (UINT64_MAX). Calling it
 * again replaces the ranks.
 * @pre ranks[0 .. count) readable; count <= nd_index_count(index).
 * @return ND_OK or ND_ENOMEM (the previous ranks are then kept). */
int nd_index_set_ranks(nd_index *index, const uint64_t *ranks, size_t count);

typedef struct nd_member {
    size_t doc;         /* text number */
    double jaccard;     /* exact Jaccard with the cluster's survivor (1 for it) */
    double containment; /* share of this member's shingles found in the survivor (1 for it) */
} nd_member;

typedef struct nd_cluster_stats {
    uint64_t candidate_pairs; /* verifications of pairs proposed by LSH and not yet connected (a rejected pair
                               * proposed again by a later band counts again once clustering forgot it) */
    uint64_t verified_pairs;  /* of those, pairs whose exact Jaccard reached the threshold */
    uint64_t exact_groups;    /* groups of texts with identical shingle sets */
} nd_cluster_stats;

typedef struct nd_clusters nd_clusters;

/** Cluster the texts added so far.
 *
 * 1. Texts with identical shingle sets are joined directly.
 * 2. Candidate pairs are proposed: by LSH (texts sharing a band key) for
 *    ND_MEASURE_JACCARD, by an inverted index of shingles for
 *    ND_MEASURE_CONTAINMENT (every pair that can match; see contain.c);
 *    each is kept only if its exact score reaches the threshold; verified
 *    pairs are joined with union-find.
 * 3. Each connected component is split by greedy set cover: the member that
 *    matches (contains, for containment) the most others (ties by `keep`
 *    order) is a center, and it and its matches form a cluster; repeat on
 *    the rest. No member is in a cluster only through a chain of other
 *    members.
 *
 * The survivor of a cluster is its first member by `keep` order that
 * reaches the threshold with (contains) every other member (the center
 * always does), so every member's exact score against the survivor
 * reaches the threshold.
 * Clusters have two or more members: the survivor first, then the others in
 * input order. Clusters are
 * ordered by their earliest member. Texts without shingles never cluster.
 * @param[out] out the clusters (free with nd_clusters_free()).
 * @param[out] stats the work done, or NULL.
 * @return ND_OK, ND_ENOMEM or ND_EIO (spilled index: a read failed). */
int nd_index_cluster(nd_clusters **out, nd_cluster_stats *stats, const nd_index *index, nd_keep keep);

size_t nd_clusters_count(const nd_clusters *clusters);
/** Members of cluster i.
 * @param[out] members borrowed: valid until the clusters are freed.
 * @pre i < nd_clusters_count(clusters).
 * @return the number of members. */
size_t nd_clusters_get(const nd_member **members, const nd_clusters *clusters, size_t i);
void nd_clusters_free(nd_clusters *clusters);

/* ****  Pairs (pairs.c, pairs_expand.c)  **** */

/** One matching pair of texts, with the exact numbers for both measures. */
typedef struct nd_pair {
    size_t a, b;    /* text numbers, a < b */
    size_t shared;  /* shingles in both sets, |A ∩ B| */
    double jaccard; /* |A ∩ B| / |A ∪ B| */
    double a_in_b;  /* |A ∩ B| / |A|: how much of A is in B */
    double b_in_a;  /* |A ∩ B| / |B| */
} nd_pair;

typedef struct nd_pairs nd_pairs;

/** Every pair of texts that matches under the index's measure and
 * threshold and is found: the pairs clustering would verify, without
 * skipping pairs already joined. Candidates come as for clustering (LSH
 * bands, or containment's inverted index, which finds every matching
 * pair); with Jaccard, every pair inside a group of up to 400 texts
 * joined by verified pairs is verified too, which finds most pairs LSH
 * missed. Every pair is verified exactly. Texts with identical sets are
 * verified once and give every pair: k copies of one text give
 * k (k - 1) / 2 pairs, and each pair of a copy with another text.
 * Pairs are in order of (a, b).
 *
 * The pairs are not held one by one: the result keeps the pairs found
 * between distinct sets and the texts of each set (about 24 bytes a text
 * and 16 a pair found), and nd_pairs_next() makes the pairs in order, one
 * text's partners at a time. 3,000 copies of one text give 4.5M pairs
 * and take a few MB that way; nd_pairs_get() holds them all (48 bytes a
 * pair). Nothing of the index is read after the call.
 * @param[out] out the pairs (free with nd_pairs_free()).
 * @param[out] stats the work done, or NULL (verified_pairs counts matches
 * found before copies are expanded).
 * @return ND_OK, ND_ENOMEM or ND_EIO (spilled index: a read failed). */
int nd_index_pairs(nd_pairs **out, nd_cluster_stats *stats, const nd_index *index);

/** The number of pairs (known without making them). */
size_t nd_pairs_count(const nd_pairs *pairs);

/** The next pair, in order of (a, b): from the first to the last, once,
 * then none. Never fails: its memory is taken by nd_index_pairs().
 * Independent of nd_pairs_get().
 * @param[out] out the pair, when there is one.
 * @return 1 with *out set, or 0 when every pair has been given. */
int nd_pairs_next(nd_pairs *pairs, nd_pair *out);

/** Every pair at once, in order: the first call makes the whole array
 * (48 bytes a pair: nd_pairs_next() needs none of it), later calls return
 * it again. Not from two threads at once.
 * @param[out] pairs borrowed: valid until the pairs are freed; NULL when
 * there are none, or when memory for them could not be had.
 * @return the number of pairs, or 0 when the array could not be made
 * (nd_pairs_count() is then more than 0; a later call tries again). */
size_t nd_pairs_get(const nd_pair **pairs, nd_pairs *p);
void nd_pairs_free(nd_pairs *pairs);

/** Do two texts of na and nb shingles with `shared` in common match under
 * opts (measure, threshold, min_shingles)? The rule clustering and pair
 * listing verify with (see nd_measure).
 * @pre shared <= na and shared <= nb. */
int nd_sets_match(const nd_options *opts, size_t na, size_t nb, size_t shared);

/* ****  Chance matches (chance.c)  **** */

/** log10 of the probability that two unrelated texts share at least
 * `shared` shingles by chance, for sets of na and nb shingles drawn from a
 * space of `space` possible shingles (Mash's p-value, Ondov et al. 2016,
 * for whole sets instead of sketches): each text covers a share
 * r = 1 - (1 - 1/space)^n of the space, the Jaccard expected by chance is
 * j = r_A r_B / (r_A + r_B - r_A r_B), and the overlap of the union's
 * |A ∪ B| shingles is Binomial(|A ∪ B|, j). The model is uniform random
 * text: real text shares stock phrases far more often.
 * @pre shared <= na, shared <= nb, space >= 1.
 * @return a value <= 0 (0 when shared is 0); -INFINITY when the
 * probability is 0. */
double nd_chance_jaccard_log10(size_t na, size_t nb, size_t shared, double space);

/** log10 of the probability that at least `shared` of the na shingles of
 * a text A are found by chance in an unrelated text of nb shingles:
 * Binomial(na, r_B), with r_B as for nd_chance_jaccard_log10().
 * @pre shared <= na, shared <= nb, space >= 1. */
double nd_chance_containment_log10(size_t na, size_t nb, size_t shared, double space);

/* ****  The rest of the API, one job a header  **** */

#include "neardup_batch.h"   /* nd_batch, nd_stream */
#include "neardup_explain.h" /* nd_explain */
#include "neardup_db.h"      /* nd_db: the persistent index */

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif

#ifdef __cplusplus
}
#endif

#endif /* NEARDUP_H */
