/* ext_utf8.c - a chunk's str texts encoded to UTF-8 without the GIL, on
 * the library's threads, each text just before it is sketched.
 *
 * Why: the library reads UTF-8, and CPython keeps a str that is not ASCII
 * as code points of one, two or four bytes. Encoding SaudiNewsNet's 31k
 * Arabic texts with str.encode took as long as the program's whole scan
 * of them (about 0.1-0.25 s for 96 MB), on one thread with the GIL held,
 * while the library's threads waited: neardup.scan cost 1.5x the program.
 * Here ndpy_chunk_fill (ext_common.c) only pins such a str and notes where
 * its code points are (a str never changes, and the reference held keeps
 * them alive); ndpy_chunk_sketch hands the chunk to nd_batch_sketch_from,
 * whose threads ask for each text as they come to it: its UTF-8 is written
 * into a buffer of that thread's (the largest text's size, reused), with
 * the GIL released, and read by the tokenizer while it is in the cache.
 *
 * The bytes are those of str.encode("utf-8", "surrogatepass"): each code
 * point in 1 to 4 bytes, a lone surrogate (U+D800..U+DFFF) in the 3 bytes
 * its value takes (ill-formed UTF-8, which the library reads as U+FFFD),
 * each half of a pair on its own as that error handler writes them
 * (tests/python/test_scan.py compares str and pre-encoded bytes).
 */
#include "ext.h"

#include <stdint.h> /* uint16_t, uint32_t, uint64_t */
#include <string.h> /* memcpy */

/* Bytes at most a code point of `kind` takes in UTF-8. */
static size_t most_bytes(unsigned kind)
{
    return kind == PyUnicode_1BYTE_KIND ? 2 : kind == PyUnicode_2BYTE_KIND ? 3 : 4;
}

/* One code point c (at most 0x10FFFF) at o; returns the end. */
static char *put_code_point(char *o, uint32_t c)
{
    unsigned char *u = (unsigned char *)o;
    if (c < 0x80) {
        u[0] = (unsigned char)c;
        return o + 1;
    }
    if (c < 0x800) {
        u[0] = (unsigned char)(0xC0 | c >> 6);
        u[1] = (unsigned char)(0x80 | (c & 0x3F));
        return o + 2;
    }
    if (c < 0x10000) { /* surrogates too: surrogatepass */
        u[0] = (unsigned char)(0xE0 | c >> 12);
        u[1] = (unsigned char)(0x80 | (c >> 6 & 0x3F));
        u[2] = (unsigned char)(0x80 | (c & 0x3F));
        return o + 3;
    }
    u[0] = (unsigned char)(0xF0 | c >> 18);
    u[1] = (unsigned char)(0x80 | (c >> 12 & 0x3F));
    u[2] = (unsigned char)(0x80 | (c >> 6 & 0x3F));
    u[3] = (unsigned char)(0x80 | (c & 0x3F));
    return o + 4;
}

/* The UTF-8 of n code points of `kind` at `data`, one by one. */
static char *encode_scalar(char *o, unsigned kind, const void *data, size_t n)
{
    if (kind == PyUnicode_1BYTE_KIND) {
        const unsigned char *s = data;
        for (size_t i = 0; i < n; i++)
            o = put_code_point(o, s[i]);
    } else if (kind == PyUnicode_2BYTE_KIND) {
        const uint16_t *s = data;
        for (size_t i = 0; i < n; i++)
            o = put_code_point(o, s[i]);
    } else {
        const uint32_t *s = data;
        for (size_t i = 0; i < n; i++)
            o = put_code_point(o, s[i]);
    }
    return o;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h> /* SSSE3 */
#include <pthread.h>   /* pthread_once */

/* Eight code points a step. Each is widened to a 16-bit lane holding its
 * UTF-8: the byte itself for ASCII, else 110xxxxx then 10xxxxxx (below
 * U+0800: Latin, Greek, Cyrillic, Hebrew, Arabic); one shuffle drops the
 * second byte of the ASCII lanes, chosen by the 8-bit mask of which lanes
 * are ASCII (pack_shuffle; pack_length the bytes kept). A step with a
 * code point of U+0800 or more (CJK, surrogates, emoji) goes one by one.
 * Stores are 16 bytes wide: the buffer has 16 bytes to spare. */
static unsigned char pack_shuffle[256][16], pack_length[256];
static pthread_once_t pack_once = PTHREAD_ONCE_INIT;
static int has_ssse3;

static void make_pack_tables(void)
{
    for (unsigned mask = 0; mask < 256; mask++) {
        unsigned n = 0;
        for (unsigned lane = 0; lane < 8; lane++) {
            pack_shuffle[mask][n++] = (unsigned char)(2 * lane);
            if (!(mask >> lane & 1))
                pack_shuffle[mask][n++] = (unsigned char)(2 * lane + 1);
        }
        pack_length[mask] = (unsigned char)n;
        for (; n < 16; n++)
            pack_shuffle[mask][n] = 0x80; /* a zero byte */
    }
    has_ssse3 = __builtin_cpu_supports("ssse3");
}

/* Eight 16-bit code points (below U+8000 each, or the step says so) as
 * UTF-8 at o; returns the end, or NULL when one is U+0800 or more. */
__attribute__((target("ssse3"))) static inline char *eight(char *o, __m128i v)
{
    if (_mm_movemask_epi8(_mm_cmpeq_epi16(_mm_and_si128(v, _mm_set1_epi16((short)0xF800)), _mm_setzero_si128())) !=
        0xFFFF)
        return NULL;
    __m128i ascii = _mm_cmpeq_epi16(_mm_and_si128(v, _mm_set1_epi16((short)0xFF80)), _mm_setzero_si128());
    __m128i lead = _mm_or_si128(_mm_srli_epi16(v, 6), _mm_set1_epi16(0x00C0));
    __m128i trail = _mm_slli_epi16(_mm_or_si128(_mm_and_si128(v, _mm_set1_epi16(0x3F)), _mm_set1_epi16(0x80)), 8);
    __m128i lanes = _mm_or_si128(_mm_and_si128(ascii, v), _mm_andnot_si128(ascii, _mm_or_si128(lead, trail)));
    unsigned mask = (unsigned)_mm_movemask_epi8(_mm_packs_epi16(ascii, _mm_setzero_si128())) & 0xFF;
    __m128i packed = _mm_shuffle_epi8(lanes, _mm_loadu_si128((const __m128i *)(const void *)pack_shuffle[mask]));
    _mm_storeu_si128((__m128i *)(void *)o, packed);
    return o + pack_length[mask];
}

__attribute__((target("ssse3"))) static char *encode_ssse3(char *o, unsigned kind, const void *data, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m128i v;
        if (kind == PyUnicode_1BYTE_KIND) {
            v = _mm_unpacklo_epi8(_mm_loadl_epi64((const __m128i *)(const void *)((const unsigned char *)data + i)),
                                  _mm_setzero_si128());
        } else if (kind == PyUnicode_2BYTE_KIND) {
            v = _mm_loadu_si128((const __m128i *)(const void *)((const uint16_t *)data + i));
        } else { /* past U+7FFF saturates to 0x7FFF: one by one */
            const uint32_t *s = (const uint32_t *)data + i;
            v = _mm_packs_epi32(_mm_loadu_si128((const __m128i *)(const void *)s),
                                _mm_loadu_si128((const __m128i *)(const void *)(s + 4)));
        }
        char *end = eight(o, v);
        if (end) {
            o = end;
            continue;
        }
        size_t step = kind == PyUnicode_2BYTE_KIND ? 2 : 4; /* not 1: a byte is below U+0800 */
        o = encode_scalar(o, kind, (const char *)data + i * step, 8);
    }
    size_t size = kind == PyUnicode_1BYTE_KIND ? 1 : kind == PyUnicode_2BYTE_KIND ? 2 : 4;
    return encode_scalar(o, kind, (const char *)data + i * size, n - i);
}
#endif

/* The UTF-8 of n code points of `kind` at `data` into o (room for their
 * most_bytes and 16 more); returns the end. */
static char *encode(char *o, unsigned kind, const void *data, size_t n)
{
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    pthread_once(&pack_once, make_pack_tables);
    if (has_ssse3)
        return encode_ssse3(o, kind, data, n);
#endif
    return encode_scalar(o, kind, data, n);
}

/* nd_batch_sketch_from's text function: text i of the chunk, its UTF-8
 * written into this thread's buffer when it is a str not yet in UTF-8. */
static int chunk_text(void *ctx, size_t i, unsigned thread, const char **data, size_t *len)
{
    text_chunk *c = ctx;
    if (!c->ucs[i]) {
        *data = c->data[i];
        *len = c->lens[i];
        return ND_OK;
    }
    size_t most = c->lens[i] * most_bytes(c->kinds[i]) + 16; /* encode's wide stores */
    if (most > c->scratch_capacity[thread]) {
        char *grown = PyMem_RawRealloc(c->scratch[thread], most);
        if (!grown)
            return ND_ENOMEM;
        c->scratch[thread] = grown;
        c->scratch_capacity[thread] = most;
    }
    char *end = encode(c->scratch[thread], c->kinds[i], c->ucs[i], c->lens[i]);
    *data = c->scratch[thread];
    *len = (size_t)(end - c->scratch[thread]);
    return ND_OK;
}

/* A buffer slot for each of `threads` threads (empty until chunk_text
 * grows it); ND_OK or ND_ENOMEM. */
static int scratch_for(text_chunk *c, unsigned threads)
{
    if (threads <= c->scratch_count)
        return ND_OK;
    char **scratch = PyMem_RawRealloc(c->scratch, threads * sizeof *scratch);
    if (!scratch)
        return ND_ENOMEM;
    c->scratch = scratch;
    size_t *capacity = PyMem_RawRealloc(c->scratch_capacity, threads * sizeof *capacity);
    if (!capacity)
        return ND_ENOMEM;
    c->scratch_capacity = capacity;
    for (unsigned t = c->scratch_count; t < threads; t++) {
        scratch[t] = NULL;
        capacity[t] = 0;
    }
    c->scratch_count = threads;
    return ND_OK;
}

int ndpy_chunk_sketch(text_chunk *c, nd_batch *batch)
{
    if (c->pending == 0)
        return nd_batch_sketch(batch, c->data, c->lens, c->count);
    int status = scratch_for(c, nd_batch_threads(batch));
    return status != ND_OK ? status : nd_batch_sketch_from(batch, c->count, chunk_text, c);
}

void ndpy_chunk_free(text_chunk *c)
{
    if (!c)
        return;
    for (unsigned t = 0; t < c->scratch_count; t++)
        PyMem_RawFree(c->scratch[t]);
    PyMem_RawFree(c->scratch);
    PyMem_RawFree(c->scratch_capacity);
    PyMem_Free(c);
}

const char ndpy_utf8_doc[] = "_utf8(texts)\n--\n\n"
                             "The UTF-8 bytes scan and add_many give the library for each text (at most\n"
                             "8192 str or bytes): for tests, against str.encode('utf-8', 'surrogatepass').";

PyObject *ndpy_utf8(PyObject *self, PyObject *texts)
{
    (void)self;
    PyObject *seq = PySequence_Fast(texts, "texts must be a sequence");
    if (!seq)
        return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    if (n > SCAN_CHUNK) {
        Py_DECREF(seq);
        PyErr_SetString(PyExc_ValueError, "at most 8192 texts");
        return NULL;
    }
    PyObject *out = NULL;
    text_chunk *chunk = PyMem_Calloc(1, sizeof *chunk);
    if (!chunk) {
        PyErr_NoMemory();
    } else if (ndpy_chunk_fill(chunk, seq, 0, n, n) == 0) {
        if (scratch_for(chunk, 1) == ND_OK)
            out = PyList_New(n);
        else
            PyErr_NoMemory();
        for (Py_ssize_t i = 0; out && i < n; i++) {
            const char *data;
            size_t len;
            PyObject *bytes = NULL;
            if (chunk_text(chunk, (size_t)i, 0, &data, &len) != ND_OK)
                PyErr_NoMemory();
            else
                bytes = PyBytes_FromStringAndSize(data, (Py_ssize_t)len);
            if (!bytes)
                Py_CLEAR(out);
            else
                PyList_SET_ITEM(out, i, bytes);
        }
        ndpy_chunk_release(chunk);
    }
    ndpy_chunk_free(chunk);
    Py_DECREF(seq);
    return out;
}
