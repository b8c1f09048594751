/* normalize.c - UTF-8 text to normalized word tokens, with exact byte spans.
 *
 * What a token is. The text is read as Unicode (ill-formed UTF-8 as U+FFFD),
 * folded by the profile (NFKC_Casefold plus the profile's own steps, see
 * fold.c), and cut into words: maximal runs of letters, marks and numbers
 * (general categories L*, M*, N*). Everything else (spaces, punctuation,
 * symbols, emoji, U+FFFD) separates words. Characters the fold removes
 * (default-ignorables such as ZWJ and soft hyphen, Arabic tashkeel and
 * tatweel, ...) neither make nor split a word. Every token keeps the byte
 * span it came from in the original text, and its XXH3 hash.
 *
 * The definition (the reference path). The text is cut into normalization
 * segments (a code point with a boundary before it and the code points up
 * to the next boundary; fold.c explains why folding segments one by one
 * equals folding the text), each segment is folded by ICU, and each output
 * code point either extends the open token or closes it. A segment's
 * output characters get the segment's whole original span, and segment
 * edges never cut a character or a combining sequence. One cap: a segment
 * holds at most ND_MAX_NONSTARTERS code points after its first (Unicode's
 * stream-safe format), so that a letter followed by thousands of marks is
 * not one segment that ICU reorders in quadratic time; no real text comes
 * near it.
 *
 * Where the work is done. tokenizer.h holds the tokenizer's state;
 * fastpath.c walks the text 64 bytes at a time and takes the common
 * characters from the profile's table (identical results, tested against
 * the reference path); segment.c is the general path (segments folded by
 * ICU, word breaking of scripts written without spaces). This file holds
 * the normalizer, the entry points, UTF-8 repair and the versions.
 */
#include "tokenizer.h"

#include "tokhash.h"

#include <pthread.h> /* pthread_once (versions) */
#include <string.h>  /* memcpy */

#include <unicode/ubrk.h>     /* ubrk_close */
#include <unicode/utf8.h>     /* U8_NEXT */
#include <unicode/uversion.h> /* u_getUnicodeVersion, u_getVersion, u_versionToString */

/* The three-byte UTF-8 form of c (U+0800..U+FFFF) read as a big-endian
 * number: the order of code points. */
static uint32_t utf8_be(unsigned c)
{
    return (0xE0u | c >> 12) << 16 | (0x80u | (c >> 6 & 0x3F)) << 8 | (0x80u | (c & 0x3F));
}

/* Does the fast path of block classifier `impl` find Han letters with
 * AVX-512 (nd_kept_leads, hanleads.c)? On the AVX2 and AVX-512 paths where the CPU has
 * AVX-512 BW; the SSE2 and portable paths keep SSE2's, so that tests
 * comparing the paths with the reference check both. */
static int leads_avx512(nd_scan_impl impl)
{
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    return impl >= ND_SCAN_AVX2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw");
#else
    (void)impl;
    return 0;
#endif
}

int nd_normalizer_new(nd_normalizer **out, nd_profile profile)
{
    nd_fold_tables tables;
    int rc = nd_fold_tables_get(&tables, profile);
    if (rc != ND_OK)
        return rc;
    nd_normalizer *nz = nd_calloc_lines(sizeof *nz); /* written all through a text (alloc.h) */
    if (!nz)
        return ND_ENOMEM;
    nz->profile = profile;
    nz->table = tables.entry;
    nz->plain = tables.plain;
    nz->plain_unspaced = tables.plain_unspaced;
    nz->cut_keeps = tables.cut_keeps;
    nz->unspaced_kept = tables.unspaced_kept;
    nz->separator = tables.separator;
    nz->dict_kind = tables.dict_kind;
    nz->mark_ccc = tables.mark_ccc;
    nz->kept_lo8 = UINT32_MAX; /* an empty range unless there is one of three-byte letters */
    if (tables.kept_lo >= 0x800 && tables.kept_lo <= tables.kept_hi && tables.kept_hi <= 0xFFFF) {
        nz->kept_lo8 = utf8_be(tables.kept_lo);
        nz->kept_span8 = utf8_be(tables.kept_hi) - nz->kept_lo8;
    }
    nz->scan = nd_scan_get(nd_scan_best());
    nz->bits2 = nd_scan_bits2_get(nd_scan_best());
    nz->leads_avx512 = leads_avx512(nd_scan_best());
    rc = nd_folder_init(&nz->folder, profile);
    if (rc != ND_OK) {
        nd_free(nz);
        return rc;
    }
    *out = nz;
    return ND_OK;
}

int nd_normalizer_set_path(nd_normalizer *nz, nd_tokenize_path path)
{
    nd_scan_impl impl;
    switch (path) {
    case ND_PATH_BEST:
        impl = nd_scan_best();
        break;
    case ND_PATH_SCALAR:
        impl = ND_SCAN_SCALAR;
        break;
    case ND_PATH_SSE2:
        impl = ND_SCAN_SSE2;
        break;
    case ND_PATH_AVX2:
        impl = ND_SCAN_AVX2;
        break;
    case ND_PATH_REFERENCE:
        nz->scan = NULL;
        return ND_OK;
    default:
        return ND_EINVAL;
    }
    nd_scan_fn scan = nd_scan_get(impl);
    nd_scan_bits2_fn bits2 = nd_scan_bits2_get(impl);
    if (!scan || !bits2)
        return ND_EINVAL;
    nz->scan = scan;
    nz->bits2 = bits2;
    nz->leads_avx512 = leads_avx512(impl);
    return ND_OK;
}

void nd_normalizer_free(nd_normalizer *nz)
{
    if (!nz)
        return;
    nd_u16buf_free(&nz->segment);
    nd_folder_free(&nz->folder);
    nd_free(nz->pieces);
    if (nz->words)
        ubrk_close(nz->words);
    nd_u16buf_free(&nz->word_text);
    nd_free(nz->word_offsets);
    nd_free(nz);
}

void nd_tokens_free(nd_tokens *tokens)
{
    if (!tokens)
        return;
    nd_free(tokens->items);
    nd_free(tokens->text);
    *tokens = (nd_tokens)ND_TOKENS_INIT;
}

static int tokenize(nd_normalizer *nz, const char *text, size_t len, nd_tokens *out, int break_words, int *cut_alike)
{
    if (nz->unhashed == out)
        nz->unhashed = NULL; /* made again below */
    out->count = 0;
    out->text_len = 0;
    out->invalid_utf8 = 0;
    out->word_chars = 0;
    out->unspaced_chars = 0;
    tokenizer tk = {.nz = nz,
                    .out = out,
                    .text = (const uint8_t *)text,
                    .len = len,
                    .break_words = break_words,
                    .pieces = break_words,
                    .runs_cut_alike = 1};
    nz->segment.len = 0;
    int rc = nz->scan ? nd_tk_walk_fast(&tk) : nd_tk_walk_reference(&tk);
    if (rc == ND_OK && nz->segment.len > 0)
        rc = nd_tk_flush_segment(&tk, len);
    nz->segment.len = 0;
    if (rc == ND_OK)
        rc = nd_tk_close_token(&tk);
    if (rc == ND_OK && !break_words && nd_tokens_mostly_unspaced(out))
        nz->unhashed = out; /* character shingles, which read no token hash (see nd_tokenize_runs) */
    else if (rc == ND_OK)
        nd_hash_tokens(out);
    if (cut_alike)
        *cut_alike = tk.runs_cut_alike;
    return rc;
}

int nd_tokenize(nd_tokens *out, nd_normalizer *nz, const char *text, size_t len)
{
    return tokenize(nz, text, len, out, 1, NULL);
}

int nd_tokenize_runs(nd_tokens *out, int *cut_alike, nd_normalizer *nz, const char *text, size_t len)
{
    return tokenize(nz, text, len, out, 0, cut_alike);
}

void nd_normalizer_hash_pending(nd_normalizer *nz)
{
    if (nz->unhashed) {
        nd_hash_tokens(nz->unhashed);
        nz->unhashed = NULL;
    }
}

int nd_tokens_mostly_unspaced(const nd_tokens *tokens)
{
    return tokens->unspaced_chars * 2 > tokens->word_chars;
}

size_t nd_utf8_repair(char *out, size_t *out_len, const char *text, size_t len)
{
    const uint8_t *bytes = (const uint8_t *)text;
    size_t i = 0, w = 0, replaced = 0;
    while (i < len) {
        if (bytes[i] < 0x80) {
            out[w++] = (char)bytes[i++];
            continue;
        }
        size_t start = i;
        int32_t j = 0;
        int32_t avail = (len - i) > 4 ? 4 : (int32_t)(len - i);
        UChar32 c;
        U8_NEXT(bytes + i, j, avail, c);
        i += (size_t)j;
        if (c < 0) {
            replaced++;
            memcpy(out + w, "\xEF\xBF\xBD", 3);
            w += 3;
        } else {
            memcpy(out + w, text + start, i - start);
            w += i - start;
        }
    }
    *out_len = w;
    return replaced;
}

/* ****  Versions (recorded by the persistent index)  **** */

static pthread_once_t versions_once = PTHREAD_ONCE_INIT;
static char unicode_version[U_MAX_VERSION_STRING_LENGTH];
static char icu_version[U_MAX_VERSION_STRING_LENGTH];

static void read_versions(void)
{
    UVersionInfo v;
    u_getUnicodeVersion(v);
    u_versionToString(v, unicode_version);
    u_getVersion(v);
    u_versionToString(v, icu_version);
}

const char *nd_unicode_version(void)
{
    pthread_once(&versions_once, read_versions);
    return unicode_version;
}

const char *nd_icu_version(void)
{
    pthread_once(&versions_once, read_versions);
    return icu_version;
}
