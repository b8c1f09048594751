/* sketch.c - one text to its sketch: normalize, shingle, sign.
 *
 * An nd_sketcher bundles what one thread needs (a normalizer, reusable token
 * and id buffers, the options), so that sketching allocates only the two
 * exact-size arrays it hands back.
 */
#include "neardup.h"

#include <string.h> /* memcpy */

#include <unicode/unorm2.h> /* unorm2_getNFKCCasefoldInstance, unorm2_hasBoundaryBefore */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <emmintrin.h> /* SSE2 (every x86-64): units_context_free */
#endif

#include "alloc.h"
#include "index_add.h"
#include "minhash.h"
#include "normalize.h"
#include "winhash.h"

struct nd_sketcher {
    nd_options opts;
    nd_normalizer *normalizer;
    nd_tokens tokens;
    nd_tokens text_tokens;       /* nd_sketch_units: a text's tokens, tokenized once (units_by_ranges) */
    const UNormalizer2 *nfkc_cf; /* ICU's, for units_context_free (NULL: ASCII texts only) */
    uint32_t *ids;
    size_t ids_capacity;
    uint32_t *signature;      /* num_perm values, for nd_sketch_text_ref */
    nd_minhash_tables tables; /* densification tables for (num_perm, seed) */
    nd_span *spans;           /* nd_sketch_units: the units of the text */
    size_t spans_capacity;
    nd_span *copies; /* nd_sketch_units: the copies of a repeated unit */
    size_t copies_capacity;
    int words; /* tokens must be words (nd_sketcher_set_words) */
};

/* nd_sketcher_new, or with `ids_only` nd_sketcher_new_ids. */
static int sketcher_new(nd_sketcher **out, const nd_options *opts, int ids_only)
{
    nd_options resolved = *opts;
    if (nd_options_resolve(&resolved) != ND_OK)
        return ND_EINVAL;
    nd_sketcher *sk = nd_calloc_lines(sizeof *sk); /* a thread's own lines (alloc.h) */
    if (!sk)
        return ND_ENOMEM;
    sk->opts = resolved;
    sk->tokens = (nd_tokens)ND_TOKENS_INIT;
    sk->text_tokens = (nd_tokens)ND_TOKENS_INIT;
    sk->words = 1;
    UErrorCode status = U_ZERO_ERROR;
    sk->nfkc_cf = unorm2_getNFKCCasefoldInstance(&status); /* ICU's own: not freed */
    if (U_FAILURE(status))
        sk->nfkc_cf = NULL;
    int rc = nd_normalizer_new(&sk->normalizer, resolved.profile);
    if (rc != ND_OK) {
        nd_free(sk);
        return rc;
    }
    if (!ids_only) {
        rc = nd_minhash_tables_new(&sk->tables, resolved.num_perm, resolved.seed);
        sk->signature = nd_calloc_lines(resolved.num_perm * sizeof *sk->signature);
    }
    if (rc != ND_OK || (!ids_only && !sk->signature)) {
        nd_minhash_tables_free(&sk->tables);
        nd_free(sk->signature);
        nd_normalizer_free(sk->normalizer);
        nd_free(sk);
        return ND_ENOMEM;
    }
    *out = sk;
    return ND_OK;
}

int nd_sketcher_new(nd_sketcher **out, const nd_options *opts)
{
    return sketcher_new(out, opts, 0);
}

int nd_sketcher_new_ids(nd_sketcher **out, const nd_options *opts)
{
    return sketcher_new(out, opts, 1);
}

void nd_sketcher_free(nd_sketcher *sk)
{
    if (!sk)
        return;
    nd_normalizer_free(sk->normalizer);
    nd_tokens_free(&sk->tokens);
    nd_tokens_free(&sk->text_tokens);
    nd_free(sk->ids);
    nd_minhash_tables_free(&sk->tables);
    nd_free(sk->signature);
    nd_free(sk->spans);
    nd_free(sk->copies);
    nd_free(sk);
}

void nd_sketch_clear(nd_sketch *sketch)
{
    if (!sketch)
        return;
    nd_free(sketch->ids);
    nd_free(sketch->signature);
    *sketch = (nd_sketch)ND_SKETCH_INIT;
}

const nd_tokens *nd_sketcher_tokens(const nd_sketcher *sk)
{
    nd_normalizer_hash_pending(sk->normalizer); /* hashes a character-shingled text went without */
    return &sk->tokens;
}

void nd_sketcher_set_words(nd_sketcher *sk, int words)
{
    sk->words = words != 0;
}

/* tokenize_for_shingles' `words`, besides 0 and 1: a unit's tokens, words
 * only if it may be one text pasted several times (may_be_pasted). */
enum { WORDS_IF_PASTED = 2 };

/* Is `bytes` (n of them) m >= 2 copies of its first n / m bytes, for some
 * m? Only a prime m needs trying (m = a b copies of X are b copies of
 * X^a): each prime factor of n, one memcmp each, most ending at once. */
static int byte_repeat(const char *bytes, size_t n)
{
    for (size_t q = 2, rest = n; rest > 1; q++) {
        if (q * q > rest)
            q = rest; /* what is left is prime */
        if (rest % q != 0)
            continue;
        while (rest % q == 0)
            rest /= q;
        if (memcmp(bytes, bytes + n / q, n - n / q) == 0)
            return 1;
    }
    return 0;
}

/* May the unit whose tokens are sk->tokens, runs of scripts without
 * spaces left whole (nd_tokenize_runs, every character kept by the cut),
 * be a text pasted several times? nd_find_repeats looks for copies among
 * its words: m copies of a sequence of words. Cutting a run into words
 * keeps every character and adds none, so the words' normalized text,
 * back to back, is the runs': m copies of the first copy's. So a unit
 * whose runs' text is no m copies of anything has no copies among its
 * words either, and keeps its runs (the same shingles, and no copies to
 * find); any other unit is cut into words. A unit whose tokens' texts are
 * not back to back (never seen: nd_tokens.text is) is cut too. */
static int may_be_pasted(const nd_tokens *tokens)
{
    size_t from = tokens->count ? tokens->items[0].norm_start : 0, end = from;
    for (size_t i = 0; i < tokens->count; i++) {
        if (tokens->items[i].norm_start != end)
            return 1;
        end += tokens->items[i].norm_len;
    }
    return byte_repeat(tokens->text + from, end - from);
}

/* The tokens of a text into sk->tokens, and the shingles to make of them:
 * runs of scripts without spaces are cut into words (ICU's dictionaries,
 * most of the cost for Chinese or Thai) only when something needs the
 * words: word shingles, or the caller (`words`: 1, or WORDS_IF_PASTED and
 * the text may be one pasted several times). Character shingles of uncut
 * runs are the same when nd_tokenize_runs() says the cut would keep every
 * character. */
static int tokenize_for_shingles(nd_shingle_kind *kind, unsigned *size, nd_sketcher *sk, const char *text, size_t len,
                                 int words)
{
    int cut_alike = 1;
    int rc = nd_tokenize_runs(&sk->tokens, &cut_alike, sk->normalizer, text, len);
    if (rc != ND_OK)
        return rc;
    *kind = nd_shingle_choice(size, &sk->opts, &sk->tokens);
    if (sk->tokens.unspaced_chars == 0 || (*kind == ND_SHINGLE_CHARS && cut_alike &&
                                           (words == 0 || (words == WORDS_IF_PASTED && !may_be_pasted(&sk->tokens)))))
        return ND_OK;
    return nd_tokenize(&sk->tokens, sk->normalizer, text, len);
}

int nd_sketch_tokens(nd_shingle_kind *kind, unsigned *size, nd_sketcher *sk, const char *text, size_t len)
{
    return tokenize_for_shingles(kind, size, sk, text, len, sk->words);
}

/* sketch_ref's `distinct`: 1 sorted distinct ids, 0 raw ids, IDS_ONLY raw
 * ids without the signature (nd_sketch_ids_raw). */
enum { IDS_ONLY = 2 };

/* nd_sketch_text_ref(), with word tokens or not (`words`); a text of fewer
 * than `min_tokens` tokens is only tokenized (its count of shingles is 0,
 * its signature not made: nd_sketch_units skips it). */
static int sketch_ref(nd_sketch_ref *out, nd_sketcher *sk, const char *text, size_t len, int words, unsigned min_tokens,
                      int distinct)
{
    size_t count = 0;
    unsigned size;
    nd_shingle_kind kind;
    int rc = tokenize_for_shingles(&kind, &size, sk, text, len, words);
    if (rc != ND_OK)
        return rc;
    if (sk->tokens.count < min_tokens) {
        *out = (nd_sketch_ref){sk->ids, 0, sk->signature, sk->tokens.count, sk->tokens.invalid_utf8};
        return ND_OK;
    }
    rc = distinct == 1 ? nd_shingles(&sk->ids, &sk->ids_capacity, &count, &sk->tokens, kind, size)
                       : nd_shingles_raw(&sk->ids, &sk->ids_capacity, &count, &sk->tokens, kind, size);
    if (rc != ND_OK)
        return rc;
    if (distinct != IDS_ONLY)
        nd_minhash_probed(sk->signature, sk->opts.num_perm, sk->opts.seed, sk->ids, count, &sk->tables);
    out->ids = sk->ids;
    out->count = count;
    out->signature = sk->signature;
    out->num_tokens = sk->tokens.count;
    out->invalid_utf8 = sk->tokens.invalid_utf8;
    return ND_OK;
}

int nd_sketch_text_ref(nd_sketch_ref *out, nd_sketcher *sk, const char *text, size_t len)
{
    return sketch_ref(out, sk, text, len, sk->words, 0, 1);
}

int nd_sketch_text_ref_raw(nd_sketch_ref *out, nd_sketcher *sk, const char *text, size_t len)
{
    return sketch_ref(out, sk, text, len, sk->words, 0, 0);
}

int nd_sketch_ids_raw(nd_sketch_ref *out, nd_sketcher *sk, const char *text, size_t len)
{
    return sketch_ref(out, sk, text, len, sk->words, 0, IDS_ONLY);
}

int nd_sketch_text(nd_sketch *out, nd_sketcher *sk, const char *text, size_t len)
{
    nd_sketch_clear(out);
    nd_sketch_ref ref;
    int rc = nd_sketch_text_ref(&ref, sk, text, len);
    if (rc != ND_OK)
        return rc;
    uint32_t *ids = nd_malloc(ref.count * sizeof *ids);
    uint32_t *signature = nd_malloc(sk->opts.num_perm * sizeof *signature);
    if (!ids || !signature) {
        nd_free(ids);
        nd_free(signature);
        return ND_ENOMEM;
    }
    if (ref.count > 0)
        memcpy(ids, ref.ids, ref.count * sizeof *ids);
    memcpy(signature, ref.signature, sk->opts.num_perm * sizeof *signature);
    out->ids = ids;
    out->count = ref.count;
    out->signature = signature;
    out->num_tokens = ref.num_tokens;
    out->invalid_utf8 = ref.invalid_utf8;
    return ND_OK;
}

/* Is text[0, len) plain ASCII? 32 bytes a step, up to the first block
 * that is not: with SSE2 (every x86-64) two loads and one movemask a step
 * (the four 64-bit words of the scalar step went through the stack: a
 * fifth of sketch_units' own time, perf, 100k syndicated paragraphs). */
static int plain_ascii(const char *text, size_t len)
{
    size_t i = 0;
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    for (; i + 32 <= len; i += 32) {
        __m128i a = _mm_loadu_si128((const __m128i *)(const void *)(text + i));
        __m128i b = _mm_loadu_si128((const __m128i *)(const void *)(text + i + 16));
        if (_mm_movemask_epi8(_mm_or_si128(a, b)))
            return 0;
    }
#else
    const uint64_t high = 0x8080808080808080ULL;
    for (; i + 32 <= len; i += 32) {
        uint64_t x[4];
        memcpy(x, text + i, sizeof x);
        if ((x[0] | x[1] | x[2] | x[3]) & high)
            return 0;
    }
#endif
    unsigned char rest = 0;
    for (; i < len; i++)
        rest |= (unsigned char)text[i];
    return rest < 0x80;
}

/* A unit's first character, at text[i] (not ASCII; i < len), or -1 when
 * it is ill-formed or takes four bytes. */
static int32_t first_char(const unsigned char *s, size_t i, size_t len)
{
    unsigned char b = s[i];
    if (b >= 0xC2 && b <= 0xDF && i + 1 < len && (s[i + 1] & 0xC0) == 0x80)
        return (int32_t)(b & 0x1F) << 6 | (s[i + 1] & 0x3F);
    if (b >= 0xE0 && b <= 0xEF && i + 2 < len && (s[i + 1] & 0xC0) == 0x80 && (s[i + 2] & 0xC0) == 0x80) {
        int32_t c = (int32_t)(b & 0x0F) << 12 | (int32_t)(s[i + 1] & 0x3F) << 6 | (s[i + 2] & 0x3F);
        return c >= 0x800 && (c < 0xD800 || c > 0xDFFF) ? c : -1;
    }
    return -1;
}

/* May the units of `text` (sk->spans[0, n)) be tokenized as a whole
 * (units_by_ranges)? A unit is cut at ASCII white space, and the whole
 * text's tokens inside it are its own unless something looks past that
 * space: a unit that begins with a character joining what comes before it
 * in normalization (no NFKC_Casefold boundary before it: a combining mark
 * after a space joins the space's segment in the whole text), or ICU's
 * dictionary word breaking of scripts written without spaces (cut across
 * runs; their lead bytes here only spare a wasted tokenizing: the
 * tokens' unspaced_chars decide, units_by_ranges). Plain ASCII has neither. */
static int units_context_free(const nd_sketcher *sk, const char *text, size_t len, size_t n)
{
    if (plain_ascii(text, len))
        return 1;
    if (!sk->nfkc_cf)
        return 0;
    const unsigned char *s = (const unsigned char *)text;
    size_t i = 0;
    while (i < len) {
        /* 32 bytes at a time while none is 0xE0 or more */
        for (; i + 32 <= len; i += 32) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
            const __m128i e0 = _mm_set1_epi8((char)0xE0);
            __m128i a = _mm_loadu_si128((const __m128i *)(s + i)), b = _mm_loadu_si128((const __m128i *)(s + i + 16));
            __m128i hits = _mm_or_si128(_mm_cmpeq_epi8(_mm_max_epu8(a, e0), a), _mm_cmpeq_epi8(_mm_max_epu8(b, e0), b));
            if (_mm_movemask_epi8(hits))
                break;
#else
            uint64_t x[4], lead = 0; /* bits 7, 6 and 5 set */
            memcpy(x, s + i, sizeof x);
            for (int k = 0; k < 4; k++)
                lead |= x[k] & x[k] << 1 & x[k] << 2;
            if (lead & 0x8080808080808080ULL)
                break;
#endif
        }
        for (size_t end = i + 32 < len ? i + 32 : len; i < end; i++) {
            unsigned char b = s[i];
            if (b < 0xE0)
                continue;
            unsigned char next = i + 1 < len ? s[i + 1] : 0;
            if (b >= 0xE3 || (b == 0xE0 && next >= 0xB8 && next <= 0xBB) || /* Kana, Han and on; Thai, Lao */
                (b == 0xE1 && (next <= 0x82 || next == 0x9E || next == 0x9F || next == 0xA7)) || /* Myanmar, Khmer */
                (b == 0xE2 && next >= 0xBA))                                                     /* Han radicals */
                return 0;
        }
    }
    for (size_t u = 0; u < n; u++) {
        size_t at = sk->spans[u].start;
        if (s[at] < 0x80)
            continue;
        int32_t c = first_char(s, at, len);
        if (c < 0 || !unorm2_hasBoundaryBefore(sk->nfkc_cf, c))
            return 0;
    }
    return 1;
}

/* The first of tokens [from, to) that starts at or after `end` (to when
 * none): a binary search (the tokens are in text order) without branches
 * on the comparisons (each halving adds a masked step: a branch there was
 * a coin flip, about two in five of sketch_units' own cycles, perf, 100k
 * syndicated paragraphs). */
static size_t tokens_before(const nd_token *items, size_t from, size_t to, size_t end)
{
    if (from >= to)
        return from;
    const nd_token *base = items + from;
    size_t n = to - from;
    /* the answer is in [base, base + n]; base[0, n) has tokens before end
     * up to the answer */
    while (n > 1) {
        size_t half = n / 2;
        /* a mask, not `?:` (GCC made that a branch) */
        base += half & (0 - (size_t)(base[half - 1].start < end));
        n -= half;
    }
    return (size_t)(base - items) + (base->start < end);
}

/* Sketch one unit (or its copies) whose tokens are in `tokens` (the unit's
 * own, or the unit's range of the whole text's: units_by_ranges), token
 * spans relative to `base`; `sketch` is its sketch (count > 0). */
static int unit_done(nd_sketcher *sk, const char *text, nd_span span, const nd_tokens *tokens, const char *base,
                     nd_sketch_ref *sketch, nd_unit_fn fn, void *ctx, int distinct)
{
    if (sk->copies_capacity < tokens->count &&
        nd_grow((void **)&sk->copies, &sk->copies_capacity, tokens->count, sizeof *sk->copies) != 0)
        return ND_ENOMEM;
    size_t offset = (size_t)((text + span.start) - base); /* the unit's start, from base */
    nd_span at = {offset, offset + span.end - span.start};
    int m = nd_find_repeats(sk->copies, sk->copies_capacity, tokens, base, at);
    if (m < 0)
        return m;
    if (m < 2)
        return fn(ctx, span, sketch);
    /* the copies' spans are taken before sketching them overwrites the tokens */
    int rc = ND_OK;
    for (int c = 0; rc == ND_OK && c < m; c++) {
        nd_span copy = {span.start + sk->copies[c].start - offset, span.start + sk->copies[c].end - offset};
        rc = sketch_ref(sketch, sk, text + copy.start, copy.end - copy.start, 1, 0, distinct);
        if (rc == ND_OK)
            rc = fn(ctx, copy, sketch);
    }
    return rc;
}

/* The units of a text, tokenized once as a whole instead of one call per
 * unit (a paragraph's tokenizing cost about 330 instructions more than its
 * share of the whole text's: 10k syndicated paragraphs), when nothing
 * outside a unit can change its tokens (units_context_free) and they are
 * cut into words without ICU's dictionaries (no unspaced characters): each
 * unit's tokens are then its range of the whole text's, and word shingles
 * read only the tokens' hashes. So each unit's shingles, signature, repeats
 * and copies are those of sketching it alone (test_units_by_ranges).
 * Returns 1 when done, 0 when the text is not for it (unspaced or
 * ill-formed characters, character shingles: the caller sketches each
 * unit), or an error. */
static int units_by_ranges(nd_sketcher *sk, const char *text, size_t len, size_t span_count, unsigned min_tokens,
                           nd_unit_fn fn, void *ctx, int distinct)
{
    nd_tokens *all = &sk->text_tokens;
    int rc = nd_tokenize_runs(all, NULL, sk->normalizer, text, len);
    if (rc != ND_OK)
        return rc;
    unsigned size;
    if (all->unspaced_chars != 0 || all->invalid_utf8 != 0 ||
        nd_shingle_choice(&size, &sk->opts, all) != ND_SHINGLE_WORDS)
        return 0;
    size_t first = 0;
    for (size_t u = 0; u < span_count; u++) {
        nd_span span = sk->spans[u];
        while (first < all->count && all->items[first].start < span.start)
            first++;
        /* a token and the byte after it are in the unit, but for its last: (len + 1) / 2 tokens at most */
        size_t most = (span.end - span.start + 1) / 2, to = all->count - first > most ? first + most : all->count;
        size_t last = tokens_before(all->items, first, to, span.end);
        nd_tokens unit = *all; /* a view of the unit's tokens */
        unit.items = all->items + first;
        unit.count = last - first;
        unit.invalid_utf8 = 0;
        first = last;
        if (unit.count < min_tokens)
            continue;
        size_t count = 0;
        rc = distinct ? nd_shingles(&sk->ids, &sk->ids_capacity, &count, &unit, ND_SHINGLE_WORDS, size)
                      : nd_shingles_raw(&sk->ids, &sk->ids_capacity, &count, &unit, ND_SHINGLE_WORDS, size);
        if (rc != ND_OK)
            return rc;
        if (count == 0)
            continue;
        nd_minhash_probed(sk->signature, sk->opts.num_perm, sk->opts.seed, sk->ids, count, &sk->tables);
        nd_sketch_ref sketch = {sk->ids, count, sk->signature, unit.count, 0};
        rc = unit_done(sk, text, span, &unit, text, &sketch, fn, ctx, distinct);
        if (rc != ND_OK)
            return rc;
    }
    return 1;
}

/* nd_sketch_units(), the units' ids sorted distinct (`distinct`) or raw
 * (nd_sketch_units_raw: as nd_shingles_raw makes them). */
static int sketch_units(size_t *invalid_utf8, nd_sketcher *sk, const char *text, size_t len, nd_unit_kind kind,
                        unsigned min_tokens, nd_unit_fn fn, void *ctx, int distinct)
{
    size_t span_count = 0;
    *invalid_utf8 = 0;
    int rc = nd_split_units(&sk->spans, &sk->spans_capacity, &span_count, text, len, kind);
    if (rc == ND_OK && span_count > 1 && sk->opts.shingle_kind != ND_SHINGLE_CHARS &&
        units_context_free(sk, text, len, span_count)) {
        rc = units_by_ranges(sk, text, len, span_count, min_tokens, fn, ctx, distinct);
        if (rc != 0)
            return rc < 0 ? rc : ND_OK;
    }
    for (size_t u = 0; rc == ND_OK && u < span_count; u++) {
        nd_span span = sk->spans[u];
        nd_sketch_ref sketch;
        /* words where --min-tokens counts them, and where the unit may be
         * one text pasted several times (repeats are found among words);
         * else, with a sketcher that needs no words, runs of scripts
         * without spaces left whole (50k CJK documents in paragraphs: ICU's
         * word breaking was 70% of the run) */
        int words = sk->words || min_tokens > 1 ? 1 : WORDS_IF_PASTED;
        rc = sketch_ref(&sketch, sk, text + span.start, span.end - span.start, words, min_tokens, distinct);
        if (rc != ND_OK)
            break;
        *invalid_utf8 += sketch.invalid_utf8;
        if (sk->tokens.count < min_tokens || sketch.count == 0)
            continue;
        rc = unit_done(sk, text, span, &sk->tokens, text + span.start, &sketch, fn, ctx, distinct);
    }
    return rc;
}

int nd_sketch_units(size_t *invalid_utf8, nd_sketcher *sk, const char *text, size_t len, nd_unit_kind kind,
                    unsigned min_tokens, nd_unit_fn fn, void *ctx)
{
    return sketch_units(invalid_utf8, sk, text, len, kind, min_tokens, fn, ctx, 1);
}

int nd_sketch_units_raw(size_t *invalid_utf8, nd_sketcher *sk, const char *text, size_t len, nd_unit_kind kind,
                        unsigned min_tokens, nd_unit_fn fn, void *ctx)
{
    return sketch_units(invalid_utf8, sk, text, len, kind, min_tokens, fn, ctx, 0);
}
