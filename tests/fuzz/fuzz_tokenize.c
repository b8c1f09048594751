/* fuzz_tokenize.c - libFuzzer harness: every tokenizer path gives what the
 * reference path gives, and skipping word breaking keeps the signature.
 *
 * For each input, under both profiles:
 *   - nd_tokenize() and nd_tokenize_runs() on the reference path (every
 *     segment folded by ICU) and on every fast path this CPU has (block
 *     classifier in portable C, SSE2, AVX2, and the best one, AVX-512
 *     where the CPU has it): the same tokens, spans,
 *     normalized text, hashes and counts, and the same cut_alike answer;
 *   - a sketch with word tokens and one without (nd_sketcher_set_words):
 *     the same shingle ids and signature; and the raw sketch the CLI's
 *     document mode keeps (nd_sketch_text_ref_raw: ids as made, repeats
 *     kept): the same signature, and the same ids once sorted distinct;
 *   - paragraphs and lines (nd_sketch_units, ids sorted or raw) with word
 *     tokens and without: the same units, copies of a pasted unit included,
 *     with the same ids and signatures (without words, a unit keeps its runs
 *     whole unless it may be a text pasted several times);
 *   - character shingles of 2, 5 and 7 code points made with every SIMD
 *     level this CPU has and by the walk of texts past 4 GB: the same ids
 *     as without SIMD.
 * Any difference aborts, which libFuzzer reports with the input.
 *
 * The input is read two ways, chosen by its first byte: as raw bytes (any
 * UTF-8, valid or not), or as a list of 16-bit picks from ranges of code
 * points in many scripts (marks, folds of other lengths, scripts without
 * spaces, four-byte characters), so that the fuzzer reaches multi-script
 * text without having to discover UTF-8 first.
 * Built with -DND_BUILD_FUZZ=ON (clang); run by scripts/fuzz.
 */
#include <stdint.h> /* uint8_t */
#include <stdlib.h> /* abort, malloc */
#include <string.h> /* memcmp */

#include "index_add.h"
#include "neardup.h"
#include "normalize.h"
#include "sort.h"
#include "winhash.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct {
    uint32_t lo, hi;
} cp_range;

static const cp_range ranges[] = {
    {'a', 'z'},       {'A', 'Z'},       {'0', '9'},         {0x20, 0x2F},       {0xA0, 0x17F},      {0x300, 0x36F},
    {0x370, 0x3FF},   {0x400, 0x4FF},   {0x590, 0x5FF},     {0x600, 0x6FF},     {0x8A0, 0x8FF},     {0x900, 0x97F},
    {0xE00, 0xE7F},   {0xE80, 0xEFF},   {0x1000, 0x109F},   {0x1100, 0x11FF},   {0x1780, 0x17FF},   {0x2000, 0x214F},
    {0x3000, 0x30FF}, {0x3300, 0x33FF}, {0x4E00, 0x4E3F},   {0xAC00, 0xAC40},   {0xFB00, 0xFB4F},   {0xFDF0, 0xFDFF},
    {0xFE70, 0xFEFF}, {0xFF00, 0xFFEF}, {0x16FE0, 0x16FF1}, {0x1D15E, 0x1D164}, {0x1F300, 0x1F64F}, {0x20000, 0x2000F},
};
#define RANGES (sizeof ranges / sizeof ranges[0])

static size_t put_utf8(char *out, uint32_t c)
{
    if (c < 0x80) {
        out[0] = (char)c;
        return 1;
    }
    if (c < 0x800) {
        out[0] = (char)(0xC0 | c >> 6);
        out[1] = (char)(0x80 | (c & 0x3F));
        return 2;
    }
    if (c < 0x10000) {
        out[0] = (char)(0xE0 | c >> 12);
        out[1] = (char)(0x80 | ((c >> 6) & 0x3F));
        out[2] = (char)(0x80 | (c & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | c >> 18);
    out[1] = (char)(0x80 | ((c >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((c >> 6) & 0x3F));
    out[3] = (char)(0x80 | (c & 0x3F));
    return 4;
}

/* The text an input stands for, in a heap buffer of exactly *len bytes. */
static char *text_of(const uint8_t *data, size_t size, size_t *len)
{
    if (size == 0 || (data[0] & 1) == 0) {
        char *text = malloc(size ? size : 1);
        if (text && size > 1)
            memcpy(text, data + 1, size - 1);
        *len = size > 1 ? size - 1 : 0;
        return text;
    }
    size_t picks = (size - 1) / 2;
    char *text = malloc(picks * 4 + 1);
    if (!text)
        return NULL;
    size_t w = 0;
    for (size_t i = 0; i < picks; i++) {
        unsigned v = (unsigned)data[1 + 2 * i] << 8 | data[2 + 2 * i];
        const cp_range *r = &ranges[(v >> 10) % RANGES];
        uint32_t c = r->lo + (uint32_t)(v & 0x3FF) % (r->hi - r->lo + 1);
        w += put_utf8(text + w, (c >= 0xD800 && c <= 0xDFFF) ? 0xFFFD : c);
    }
    *len = w;
    return text;
}

static void same_tokens(const nd_tokens *a, const nd_tokens *b)
{
    if (a->count != b->count || a->text_len != b->text_len || a->invalid_utf8 != b->invalid_utf8 ||
        a->word_chars != b->word_chars || a->unspaced_chars != b->unspaced_chars ||
        (a->text_len > 0 && memcmp(a->text, b->text, a->text_len) != 0))
        abort();
    for (size_t i = 0; i < a->count; i++) {
        const nd_token *x = &a->items[i], *y = &b->items[i];
        if (x->start != y->start || x->end != y->end || x->norm_start != y->norm_start || x->norm_len != y->norm_len ||
            x->hash != y->hash)
            abort();
    }
}

typedef struct {
    nd_normalizer *nz[ND_PATHS];
    int available[ND_PATHS];
    nd_sketcher *with_words, *without_words;
    unsigned num_perm;
} profile_tools;

static profile_tools tools[2];
static nd_tokens want = ND_TOKENS_INIT, got = ND_TOKENS_INIT;
static uint32_t *plain_ids, *simd_ids, *raw_ids;
static size_t plain_capacity, simd_capacity, raw_capacity;

/* The character shingles of `tokens` are the same at every SIMD level. */
static void same_char_shingles(const nd_tokens *tokens)
{
    static const unsigned sizes[] = {2, 5, 7};
    for (size_t z = 0; tokens->count > 0 && z < sizeof sizes / sizeof sizes[0]; z++) {
        size_t want_count, got_count;
        if (nd_char_shingles_simd(&plain_ids, &plain_capacity, &want_count, tokens, sizes[z], ND_WINDOW_SIMD_NONE) !=
            ND_OK)
            abort();
        for (int simd = ND_WINDOW_WIDE; simd <= ND_WINDOW_SIMD_BEST; simd++) {
            if (simd == ND_WINDOW_SIMD_NONE)
                continue;
            if (nd_char_shingles_simd(&simd_ids, &simd_capacity, &got_count, tokens, sizes[z], simd) != ND_OK ||
                got_count != want_count ||
                (want_count && memcmp(plain_ids, simd_ids, want_count * sizeof *plain_ids) != 0))
                abort();
        }
    }
}

/* The units nd_sketch_units gives, each as its span, count and hashes
 * of its ids and signature. */
enum { MOST_UNITS = 4096 };
typedef struct {
    size_t n;
    uint64_t of[MOST_UNITS][5];
    unsigned num_perm;
} unit_list;

static uint64_t hash_words(const uint32_t *v, size_t n)
{
    uint64_t h = 1469598103934665603u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ v[i]) * 1099511628211u;
    return h;
}

static int note_unit(void *ctx, nd_span span, const nd_sketch_ref *sketch)
{
    unit_list *l = ctx;
    if (l->n == MOST_UNITS)
        return ND_OK; /* (the first ones compared) */
    uint64_t *u = l->of[l->n++];
    u[0] = span.start;
    u[1] = span.end;
    u[2] = sketch->count;
    u[3] = hash_words(sketch->ids, sketch->count);
    u[4] = hash_words(sketch->signature, l->num_perm);
    return ND_OK;
}

static unit_list units_with, units_without;

/* Units of text with and without words: the same. */
static void same_units(profile_tools *t, const char *text, size_t len)
{
    for (int kind = ND_UNIT_PARAGRAPH; kind <= ND_UNIT_LINE; kind++) {
        for (int raw = 0; raw < 2; raw++) {
            int (*units)(size_t *, nd_sketcher *, const char *, size_t, nd_unit_kind, unsigned, nd_unit_fn, void *) =
                raw ? nd_sketch_units_raw : nd_sketch_units;
            size_t invalid_with, invalid_without;
            units_with.n = units_without.n = 0;
            units_with.num_perm = units_without.num_perm = t->num_perm;
            if (units(&invalid_with, t->with_words, text, len, (nd_unit_kind)kind, 1, note_unit, &units_with) !=
                    ND_OK ||
                units(&invalid_without, t->without_words, text, len, (nd_unit_kind)kind, 1, note_unit,
                      &units_without) != ND_OK)
                abort();
            if (invalid_with != invalid_without || units_with.n != units_without.n ||
                memcmp(units_with.of, units_without.of, units_with.n * sizeof units_with.of[0]) != 0)
                abort();
        }
    }
}

static void init_tools(void)
{
    nd_options opts = ND_OPTIONS_INIT;
    for (int p = 0; p < 2; p++) {
        opts.profile = (nd_profile)p;
        if (nd_options_resolve(&opts) != ND_OK || nd_sketcher_new(&tools[p].with_words, &opts) != ND_OK ||
            nd_sketcher_new(&tools[p].without_words, &opts) != ND_OK)
            abort();
        nd_sketcher_set_words(tools[p].without_words, 0);
        tools[p].num_perm = opts.num_perm;
        for (int path = 0; path < ND_PATHS; path++) {
            if (nd_normalizer_new(&tools[p].nz[path], (nd_profile)p) != ND_OK)
                abort();
            tools[p].available[path] = nd_normalizer_set_path(tools[p].nz[path], (nd_tokenize_path)path) == ND_OK;
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready = 0;
    if (!ready) {
        init_tools();
        ready = 1;
    }
    size_t len;
    char *text = text_of(data, size, &len);
    if (!text)
        return 0;
    for (int p = 0; p < 2; p++) {
        profile_tools *t = &tools[p];
        for (int words = 0; words < 2; words++) {
            int want_alike = 1, got_alike = 1;
            nd_normalizer *ref = t->nz[ND_PATH_REFERENCE];
            int rc = words ? nd_tokenize(&want, ref, text, len) : nd_tokenize_runs(&want, &want_alike, ref, text, len);
            if (rc != ND_OK)
                abort();
            nd_normalizer_hash_pending(ref); /* the hashes a mostly unspaced text's runs go without */
            for (int path = 0; path < ND_PATH_REFERENCE; path++) {
                if (!t->available[path])
                    continue;
                nd_normalizer *nz = t->nz[path];
                rc = words ? nd_tokenize(&got, nz, text, len) : nd_tokenize_runs(&got, &got_alike, nz, text, len);
                if (rc != ND_OK || want_alike != got_alike)
                    abort();
                nd_normalizer_hash_pending(nz);
                same_tokens(&want, &got);
            }
            same_char_shingles(&want);
        }
        nd_sketch_ref a, b;
        if (nd_sketch_text_ref(&a, t->with_words, text, len) != ND_OK ||
            nd_sketch_text_ref(&b, t->without_words, text, len) != ND_OK)
            abort();
        if (a.count != b.count || (a.count && memcmp(a.ids, b.ids, a.count * sizeof *a.ids) != 0) ||
            memcmp(a.signature, b.signature, t->num_perm * sizeof *a.signature) != 0)
            abort();
        /* b's buffers are taken over by the raw sketch; a's are the other sketcher's */
        nd_sketch_ref r;
        if (nd_sketch_text_ref_raw(&r, t->without_words, text, len) != ND_OK || (r.count == 0) != (a.count == 0) ||
            memcmp(a.signature, r.signature, t->num_perm * sizeof *a.signature) != 0)
            abort();
        if (raw_capacity < 2 * r.count + 1) {
            raw_capacity = 2 * r.count + 1;
            free(raw_ids);
            raw_ids = malloc(raw_capacity * sizeof *raw_ids);
            if (!raw_ids)
                abort();
        }
        if (r.count)
            memcpy(raw_ids, r.ids, r.count * sizeof *raw_ids);
        size_t distinct = nd_sort_distinct_u32(raw_ids, raw_ids + r.count, r.count);
        if (distinct != a.count || (distinct && memcmp(raw_ids, a.ids, distinct * sizeof *a.ids) != 0))
            abort();
        same_units(t, text, len);
    }
    free(text);
    return 0;
}
