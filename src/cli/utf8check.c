/* utf8check.c - is a byte string well-formed UTF-8? The JSON fast path
 * (json.c) asks it of every record line before it reads one, so that a
 * line with an ill-formed byte anywhere goes to jansson, which rejects or
 * repairs it with a message: the two paths then accept the same records.
 *
 * Well formed means Unicode's definition (Table 3-7): no overlong forms,
 * no surrogates (ED A0..BF), nothing past U+10FFFF, no sequence cut
 * short. ASCII is checked eight bytes at a time, and with SSE2 (x86-64)
 * sixteen bytes of ASCII, two- and three-byte sequences at once (Arabic,
 * Cyrillic, Greek, Hebrew, CJK text), and once a block of ASCII and
 * two-byte sequences has passed, thirty-two such bytes at once with AVX2
 * when the CPU has it (checked once at run time; the function is compiled
 * with a target attribute, so the build needs no flags) until a block does
 * not pass; three-byte sequences also have a cheap test of their own;
 * anything else goes through ICU's U8_NEXT. Every path accepts exactly the
 * well-formed strings (tests/cli/test_json.sh puts ill-formed bytes at
 * every offset of long texts; test_utf8_well_formed_random compares with
 * ICU; fuzz_record compares the fast path with jansson).
 */
#include "utf8check.h"

#include <stdint.h> /* uint8_t, uint64_t, int32_t */
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

int utf8_well_formed(const char *s, size_t n)
{
#if UTF8_AVX2
    pthread_once(&cpu_once, check_cpu);
#endif
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
