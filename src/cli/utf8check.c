/* utf8check.c - is a byte string well-formed UTF-8? The JSON fast path
 * (json.c) asks it of every record line before it reads one, so that a
 * line with an ill-formed byte anywhere goes to jansson, which rejects or
 * repairs it with a message: the two paths then accept the same records.
 *
 * Well formed means Unicode's definition (Table 3-7): no overlong forms,
 * no surrogates (ED A0..BF), nothing past U+10FFFF, no sequence cut
 * short. When the CPU has AVX2 (checked once at run time; the functions
 * are compiled with a target attribute, so the build needs no flags) every
 * text goes through the lookup method of Keiser and Lemire, 32 bytes at a
 * time whatever the script (CJK text, three bytes a character, took a
 * slower path before it). Otherwise ASCII is checked eight bytes at a
 * time, and with SSE2 (x86-64) sixteen bytes of ASCII, two- and three-byte
 * sequences at once (Arabic, Cyrillic, Greek, Hebrew, CJK text);
 * three-byte sequences also have a cheap test of their own; anything else
 * goes through ICU's U8_NEXT. Every path accepts exactly the well-formed
 * strings (tests/cli/test_json.sh puts ill-formed bytes at every offset of
 * long texts; test_utf8_well_formed_random and
 * test_utf8_well_formed_mutated compare both paths with ICU; fuzz_record
 * compares the fast path with jansson).
 *
 * utf8_escape_ill_formed makes a byte string that is not UTF-8 (a file
 * name, which Linux lets be any bytes) into one that is and still tells
 * such strings apart: documents' ids are made of file names, and writing
 * an ill-formed byte as U+FFFD, as the JSON output must repair it, gave
 * two files one id.
 */
#include "utf8check.h"

#include <stdint.h> /* uint8_t, uint64_t, int32_t */
#include <stdlib.h> /* malloc */
#include <string.h> /* memcpy */

#include <unicode/utf8.h> /* U8_NEXT */

#if defined(__SSE2__)
#include <emmintrin.h> /* SSE2: part of x86-64, so no run-time check */
#endif
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define UTF8_AVX2 1
#include <immintrin.h> /* AVX2, with a run-time check */
#include <pthread.h>   /* pthread_once */
#else
#define UTF8_AVX2 0
#endif

static uint64_t load8(const char *p)
{
    uint64_t x;
    memcpy(&x, p, sizeof x);
    return x;
}

/* One character (or a run of ASCII) of s[0..n) from *i: 0 when ill-formed. */
static int utf8_step(const char *s, size_t n, size_t *i)
{
    const uint8_t *b = (const uint8_t *)s;
    size_t k = *i;
    if (b[k] < 0x80) {
        /* ASCII, eight bytes at a time when it can */
        while (n - k >= 8 && (load8(s + k) & 0x8080808080808080ULL) == 0)
            k += 8;
        if (k < n && b[k] < 0x80)
            k++;
    } else if (b[k] >= 0xC2 && b[k] <= 0xDF && n - k >= 2 && (b[k + 1] & 0xC0) == 0x80) {
        k += 2; /* a two-byte sequence (Arabic, Cyrillic, Greek, ...): well formed */
    } else if ((b[k] & 0xF0) == 0xE0 && n - k >= 3 && (b[k + 1] & 0xC0) == 0x80 && (b[k + 2] & 0xC0) == 0x80 &&
               (b[k] != 0xE0 || b[k + 1] >= 0xA0) && (b[k] != 0xED || b[k + 1] < 0xA0)) {
        k += 3; /* a three-byte sequence (CJK, ...): not overlong, not a surrogate */
    } else {
        int32_t j = 0;
        int32_t avail = (n - k) > 4 ? 4 : (int32_t)(n - k);
        UChar32 ch;
        U8_NEXT(b + k, j, avail, ch);
        if (ch < 0)
            return 0;
        k += (size_t)j;
    }
    *i = k;
    return 1;
}

#if UTF8_AVX2
/* From i, past the 32-byte blocks of s[0..n) that are ASCII and whole
 * two-byte sequences (the test of the SSE2 loop below, twice as wide); the
 * first block that is not is left to the caller. Called only once a
 * 16-byte block has passed, so that CJK text, which fails it, pays for no
 * call. */
__attribute__((target("avx2"))) static size_t skip_avx2(const char *s, size_t n, size_t i)
{
    while (n - i >= 32) {
        __m256i x = _mm256_loadu_si256((const __m256i *)(const void *)(s + i));
        uint32_t ascii = ~(uint32_t)_mm256_movemask_epi8(x);
        if (ascii == 0xFFFFFFFFu) {
            i += 32;
            continue;
        }
        uint32_t cont = (uint32_t)_mm256_movemask_epi8(
            _mm256_cmpeq_epi8(_mm256_and_si256(x, _mm256_set1_epi8((char)0xC0)), _mm256_set1_epi8((char)0x80)));
        __m256i lead_bits = _mm256_and_si256(x, _mm256_set1_epi8((char)0xE0));
        __m256i overlong = _mm256_or_si256(_mm256_cmpeq_epi8(x, _mm256_set1_epi8((char)0xC0)),
                                           _mm256_cmpeq_epi8(x, _mm256_set1_epi8((char)0xC1)));
        uint32_t lead = (uint32_t)_mm256_movemask_epi8(
            _mm256_andnot_si256(overlong, _mm256_cmpeq_epi8(lead_bits, _mm256_set1_epi8((char)0xC0))));
        if ((ascii | cont | lead) != 0xFFFFFFFFu || cont != (uint32_t)(lead << 1))
            break;
        i += (lead & 0x80000000u) ? 31 : 32;
    }
    return i;
}

static pthread_once_t cpu_once = PTHREAD_ONCE_INIT;
static int has_avx2;

static void check_cpu(void)
{
    __builtin_cpu_init();
    has_avx2 = __builtin_cpu_supports("avx2") != 0;
}

/* The lookup method of Keiser and Lemire ("Validating UTF-8 in less than
 * one instruction per byte", 2021), 32 bytes at a time: every error of
 * Table 3-7 shows in a pair of adjacent bytes (the first byte's high and
 * low nibble and the second's high nibble, each looked up in a table of 16
 * bytes whose bits are the errors that nibble allows; a bit left in all
 * three is an error), except a missing or extra continuation two or three
 * places after a lead, which is a continuation where no pair rule expects
 * one, checked apart. A block of ASCII only checks that the block before
 * it did not end inside a sequence. */
enum {
    TOO_SHORT = 1 << 0,                      /* a lead or ASCII, then a lead: 11______ 0_______, 11______ 11______ */
    TOO_LONG = 1 << 1,                       /* ASCII, then a continuation: 0_______ 10______ */
    OVERLONG_3 = 1 << 2,                     /* 11100000 100_____ */
    TOO_LARGE = 1 << 3,                      /* past U+10FFFF: 11110100 1001____, 11110100 101_____, 11110101.. */
    SURROGATE = 1 << 4,                      /* 11101101 101_____ */
    OVERLONG_2 = 1 << 5,                     /* 1100000_ 10______ */
    TOO_LARGE_1000 = 1 << 6,                 /* 11110101.. 1000____ (shares the bit with OVERLONG_4) */
    OVERLONG_4 = 1 << 6,                     /* 11110000 1000____ */
    TWO_CONTS = 1 << 7,                      /* a continuation, then a continuation: 10______ 10______ */
    CARRY = TOO_SHORT | TOO_LONG | TWO_CONTS /* errors that depend on the first byte's high nibble only */
};

#define SIXTEEN(a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, p)                                              \
    _mm256_setr_epi8((char)(a), (char)(b), (char)(c), (char)(d), (char)(e), (char)(f), (char)(g), (char)(h), \
                     (char)(i), (char)(j), (char)(k), (char)(l), (char)(m), (char)(n), (char)(o), (char)(p), \
                     (char)(a), (char)(b), (char)(c), (char)(d), (char)(e), (char)(f), (char)(g), (char)(h), \
                     (char)(i), (char)(j), (char)(k), (char)(l), (char)(m), (char)(n), (char)(o), (char)(p))

/* The bytes of `in` moved up by k places (k = 1, 2, 3), the last k bytes
 * of `prev` (the block before) coming in at the bottom. */
#define PREV(in, prev, k) _mm256_alignr_epi8((in), _mm256_permute2x128_si256((prev), (in), 0x21), 16 - (k))

__attribute__((target("avx2"))) static inline __m256i block_errors(__m256i in, __m256i prev)
{
    const __m256i low4 = _mm256_set1_epi8(0x0F);
    const __m256i byte1_high_table =
        SIXTEEN(TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG, /* 0___ ASCII */
                TWO_CONTS, TWO_CONTS, TWO_CONTS, TWO_CONTS,                                     /* 10__ */
                TOO_SHORT | OVERLONG_2,                                                         /* 1100 */
                TOO_SHORT,                                                                      /* 1101 */
                TOO_SHORT | OVERLONG_3 | SURROGATE,                                             /* 1110 */
                TOO_SHORT | TOO_LARGE | TOO_LARGE_1000 | OVERLONG_4);                           /* 1111 */
    const __m256i byte1_low_table =
        SIXTEEN(CARRY | OVERLONG_3 | OVERLONG_2 | OVERLONG_4,                           /* ____0000 */
                CARRY | OVERLONG_2,                                                     /* ____0001 */
                CARRY, CARRY,                                                           /* ____001_ */
                CARRY | TOO_LARGE,                                                      /* ____0100 */
                CARRY | TOO_LARGE | TOO_LARGE_1000,                                     /* ____0101 */
                CARRY | TOO_LARGE | TOO_LARGE_1000, CARRY | TOO_LARGE | TOO_LARGE_1000, /* ____011_ */
                CARRY | TOO_LARGE | TOO_LARGE_1000, CARRY | TOO_LARGE | TOO_LARGE_1000, /* ____1___ */
                CARRY | TOO_LARGE | TOO_LARGE_1000, CARRY | TOO_LARGE | TOO_LARGE_1000,
                CARRY | TOO_LARGE | TOO_LARGE_1000, CARRY | TOO_LARGE | TOO_LARGE_1000 | SURROGATE, /* ____1101 */
                CARRY | TOO_LARGE | TOO_LARGE_1000, CARRY | TOO_LARGE | TOO_LARGE_1000);
    const __m256i byte2_high_table =
        SIXTEEN(TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT, /* 0___ */
                TOO_LONG | OVERLONG_2 | TWO_CONTS | OVERLONG_3 | TOO_LARGE_1000 | OVERLONG_4,           /* 1000 */
                TOO_LONG | OVERLONG_2 | TWO_CONTS | OVERLONG_3 | TOO_LARGE,                             /* 1001 */
                TOO_LONG | OVERLONG_2 | TWO_CONTS | SURROGATE | TOO_LARGE,                              /* 101_ */
                TOO_LONG | OVERLONG_2 | TWO_CONTS | SURROGATE | TOO_LARGE, TOO_SHORT, TOO_SHORT, TOO_SHORT,
                TOO_SHORT); /* 11__ */
    __m256i prev1 = PREV(in, prev, 1);
    __m256i byte1_high = _mm256_shuffle_epi8(byte1_high_table, _mm256_and_si256(_mm256_srli_epi16(prev1, 4), low4));
    __m256i byte1_low = _mm256_shuffle_epi8(byte1_low_table, _mm256_and_si256(prev1, low4));
    __m256i byte2_high = _mm256_shuffle_epi8(byte2_high_table, _mm256_and_si256(_mm256_srli_epi16(in, 4), low4));
    __m256i special = _mm256_and_si256(_mm256_and_si256(byte1_high, byte1_low), byte2_high);
    /* a continuation is expected two places after a lead of three or four
     * bytes (111_____: >= E0) and three after one of four (1111____);
     * a pair of continuations is TWO_CONTS (bit 7) in `special`, so the
     * two must agree */
    __m256i third = _mm256_subs_epu8(PREV(in, prev, 2), _mm256_set1_epi8((char)(0xE0 - 0x80)));
    __m256i fourth = _mm256_subs_epu8(PREV(in, prev, 3), _mm256_set1_epi8((char)(0xF0 - 0x80)));
    __m256i must23 = _mm256_and_si256(_mm256_or_si256(third, fourth), _mm256_set1_epi8((char)0x80));
    return _mm256_xor_si256(must23, special);
}

/* Does the block end inside a sequence (a lead of four bytes in one of its
 * last three places, of three in its last two, of two in its last)? Nonzero
 * bytes if so. */
__attribute__((target("avx2"))) static inline __m256i ends_inside(__m256i in)
{
    const __m256i max =
        _mm256_setr_epi8(-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
                         -1, -1, -1, -1, -1, (char)(0xF0 - 1), (char)(0xE0 - 1), (char)(0xC0 - 1));
    return _mm256_subs_epu8(in, max);
}

/* Whole of s[0..n): 32-byte blocks, then the rest in a zero-padded block
 * (always, even empty: its zeros, being ASCII, show a sequence cut short
 * at the end as an error). */
__attribute__((target("avx2"))) static int well_formed_avx2(const char *s, size_t n)
{
    __m256i error = _mm256_setzero_si256(), prev = _mm256_setzero_si256(), incomplete = _mm256_setzero_si256();
    size_t i = 0;
    for (; n - i >= 32; i += 32) {
        __m256i in = _mm256_loadu_si256((const __m256i *)(const void *)(s + i));
        if (_mm256_movemask_epi8(in) == 0) {
            error = _mm256_or_si256(error, incomplete);
            incomplete = _mm256_setzero_si256();
        } else {
            error = _mm256_or_si256(error, block_errors(in, prev));
            incomplete = ends_inside(in);
        }
        prev = in;
    }
    char last[32];
    memset(last, 0, sizeof last);
    memcpy(last, s + i, n - i);
    __m256i in = _mm256_loadu_si256((const __m256i *)(const void *)last);
    error = _mm256_or_si256(error, block_errors(in, prev));
    return _mm256_testz_si256(error, error);
}
#endif

#if defined(__SSE2__)
/* From i, past the 32-byte blocks that skip_avx2 takes when the CPU has
 * AVX2 (called after a 16-byte block of ASCII or two-byte sequences). */
static size_t wide_blocks(const char *s, size_t n, size_t i)
{
#if UTF8_AVX2
    if (has_avx2)
        return skip_avx2(s, n, i);
#else
    (void)s;
    (void)n;
#endif
    return i;
}
#endif

/* Without the lookup method (no AVX2): SSE2 blocks of the common cases and
 * character by character for the rest. */
static int well_formed_portable(const char *s, size_t n)
{
    size_t i = 0;
#if defined(__SSE2__)
    /* 16 bytes of ASCII, well-formed two-byte sequences (Arabic, Cyrillic,
     * Greek, Hebrew text) and well-formed three-byte sequences (CJK) at
     * once, each test only when the one before failed: the continuation
     * bytes are exactly those one or two places
     * after a three-byte lead (E0..EF) and one place after a two-byte lead
     * (C2..DF), every other byte is ASCII or such a lead, E0 is followed by
     * A0..BF (not overlong) and ED by 80..9F (not a surrogate). A lead
     * whose sequence runs past the 16 bytes is left to the next round.
     * Anything else (four-byte characters, ill-formed bytes) goes character
     * by character for the next 16 bytes. */
    while (n - i >= 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
        unsigned ascii = (unsigned)_mm_movemask_epi8(x) ^ 0xFFFF;
        if (ascii == 0xFFFF) {
            i += 16;
            i = wide_blocks(s, n, i);
            continue;
        }
        unsigned cont = (unsigned)_mm_movemask_epi8(
            _mm_cmpeq_epi8(_mm_and_si128(x, _mm_set1_epi8((char)0xC0)), _mm_set1_epi8((char)0x80)));
        __m128i overlong =
            _mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8((char)0xC0)), _mm_cmpeq_epi8(x, _mm_set1_epi8((char)0xC1)));
        unsigned lead2 = (unsigned)_mm_movemask_epi8(_mm_andnot_si128(
            overlong, _mm_cmpeq_epi8(_mm_and_si128(x, _mm_set1_epi8((char)0xE0)), _mm_set1_epi8((char)0xC0))));
        if ((ascii | cont | lead2) == 0xFFFF && cont == ((lead2 << 1) & 0xFFFF)) {
            i += (lead2 & 0x8000) ? 15 : 16; /* a cut sequence starts again there */
            i = wide_blocks(s, n, i);
            continue;
        }
        unsigned lead3 = (unsigned)_mm_movemask_epi8(
            _mm_cmpeq_epi8(_mm_and_si128(x, _mm_set1_epi8((char)0xF0)), _mm_set1_epi8((char)0xE0)));
        unsigned e0 = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x, _mm_set1_epi8((char)0xE0)));
        unsigned ed = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x, _mm_set1_epi8((char)0xED)));
        unsigned bit5 = (unsigned)_mm_movemask_epi8(_mm_slli_epi16(x, 2)); /* each byte's bit 5 (A0..BF) */
        unsigned expected = ((lead2 << 1) | (lead3 << 1) | (lead3 << 2)) & 0xFFFF;
        if ((ascii | cont | lead2 | lead3) == 0xFFFF && cont == expected && ((e0 << 1) & ~bit5 & 0xFFFF) == 0 &&
            ((ed << 1) & bit5 & 0xFFFF) == 0) {
            i += (lead3 & 0x4000) ? 14 : ((lead2 | lead3) & 0x8000) ? 15 : 16;
            continue;
        }
        for (size_t stop = i + 16; i < stop;) {
            if (!utf8_step(s, n, &i))
                return 0;
        }
    }
#endif
    while (i < n) {
        if (!utf8_step(s, n, &i))
            return 0;
    }
    return 1;
}

int utf8_well_formed_path(const char *s, size_t n, int path)
{
#if UTF8_AVX2
    pthread_once(&cpu_once, check_cpu);
    if (path == 1 && has_avx2)
        return well_formed_avx2(s, n);
#else
    (void)path;
#endif
    return well_formed_portable(s, n);
}

int utf8_has_avx2(void)
{
#if UTF8_AVX2
    pthread_once(&cpu_once, check_cpu);
    return has_avx2;
#else
    return 0;
#endif
}

int utf8_well_formed(const char *s, size_t n)
{
    return utf8_well_formed_path(s, n, 1);
}

char *utf8_escape_ill_formed(const char *s, size_t n)
{
    /* at most four bytes out for one in (\xNN) */
    char *out = n < ((size_t)-1 - 1) / 4 ? malloc(4 * n + 1) : NULL;
    if (!out)
        return NULL;
    const uint8_t *b = (const uint8_t *)s;
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        if (b[i] < 0x80) {
            if (b[i] == '\\')
                out[o++] = '\\';
            out[o++] = (char)b[i++];
            continue;
        }
        int32_t j = 0;
        int32_t avail = (n - i) > 4 ? 4 : (int32_t)(n - i);
        UChar32 ch;
        U8_NEXT(b + i, j, avail, ch);
        if (ch >= 0) {
            memcpy(out + o, b + i, (size_t)j); /* a well-formed character, as it is */
            o += (size_t)j;
        } else {
            for (int32_t k = 0; k < j; k++) { /* the ill-formed bytes U8_NEXT passed over */
                static const char hex[] = "0123456789ABCDEF";
                out[o++] = '\\';
                out[o++] = 'x';
                out[o++] = hex[b[i + (size_t)k] >> 4];
                out[o++] = hex[b[i + (size_t)k] & 15];
            }
        }
        i += (size_t)j;
    }
    out[o] = '\0';
    return out;
}
