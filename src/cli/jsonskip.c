/* jsonskip.c - skip the plain bytes of a JSON string: the JSON reader's
 * (json.c) innermost loop, on every byte of every text.
 *
 * A string's plain bytes are all but '"', '\\' and the controls below
 * 0x20. News text is long and mostly plain, so they are skipped 64 bytes
 * at a time with AVX2 when the CPU has it (one test of one mask per 64
 * bytes; chosen at run time, the build needs no flags), 16 at a time with
 * SSE2 (part of x86-64), 8 at a time in portable C (a word flagged by the
 * "has a zero byte" test), then byte by byte to the exact byte. The
 * fast path and jansson agree on every record (tests/cli/test_json.sh,
 * tests/fuzz/fuzz_record.c).
 */
#include "jsonskip.h"

#include <stdint.h> /* uint64_t */
#include <string.h> /* memcpy */

#if defined(__SSE2__)
#include <emmintrin.h> /* SSE2: part of x86-64, so no run-time check */
#endif
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define JSON_AVX2 1
#include <immintrin.h> /* AVX2, compiled with a target attribute and chosen at run time */
#include <pthread.h>   /* pthread_once */
#else
#define JSON_AVX2 0
#endif

/* Eight bytes as one word, and words with a byte below 0x20 or equal to
 * '"' or '\\' flagged (the classic "has a zero byte" test on x ^ the
 * character; it may flag a word that has none, never miss one). */
static uint64_t load8(const char *p)
{
    uint64_t x;
    memcpy(&x, p, 8);
    return x;
}

static int may_end_string(uint64_t x)
{
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    uint64_t quote = x ^ (ones * '"'), backslash = x ^ (ones * '\\');
    uint64_t below_space = (x - ones * 0x20) & ~x;
    uint64_t zero_quote = (quote - ones) & ~quote, zero_backslash = (backslash - ones) & ~backslash;
    return ((below_space | zero_quote | zero_backslash) & highs) != 0;
}

#if defined(__SSE2__)
/* The first byte of [q, end) below 0x20 or equal to '"' or '\\', looking
 * 16 bytes at a time; stops at the last 15 bytes (left to the caller). */
static const char *skip_plain16(const char *q, const char *end)
{
    const __m128i quote = _mm_set1_epi8('"'), backslash = _mm_set1_epi8('\\'), control = _mm_set1_epi8(0x1F);
    while (end - q >= 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)q);
        __m128i below_space = _mm_cmpeq_epi8(_mm_max_epu8(x, control), control);
        __m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, quote), _mm_cmpeq_epi8(x, backslash)), below_space);
        unsigned mask = (unsigned)_mm_movemask_epi8(hit);
        if (mask)
            return q + __builtin_ctz(mask);
        q += 16;
    }
    return q;
}
#endif

#if JSON_AVX2
/* The same 64 bytes at a time with AVX2 (news text is long: one test of
 * one mask per 64 bytes); stops at the last 63 bytes. */
__attribute__((target("avx2"))) static const char *skip_plain64_avx2(const char *q, const char *end)
{
    const __m256i quote = _mm256_set1_epi8('"'), backslash = _mm256_set1_epi8('\\'), control = _mm256_set1_epi8(0x1F);
    while (end - q >= 64) {
        __m256i x = _mm256_loadu_si256((const __m256i *)(const void *)q);
        __m256i y = _mm256_loadu_si256((const __m256i *)(const void *)(q + 32));
        __m256i hx = _mm256_or_si256(_mm256_or_si256(_mm256_cmpeq_epi8(x, quote), _mm256_cmpeq_epi8(x, backslash)),
                                     _mm256_cmpeq_epi8(_mm256_max_epu8(x, control), control));
        __m256i hy = _mm256_or_si256(_mm256_or_si256(_mm256_cmpeq_epi8(y, quote), _mm256_cmpeq_epi8(y, backslash)),
                                     _mm256_cmpeq_epi8(_mm256_max_epu8(y, control), control));
        if (!_mm256_testz_si256(_mm256_or_si256(hx, hy), _mm256_or_si256(hx, hy))) {
            uint64_t mask = (uint64_t)(uint32_t)_mm256_movemask_epi8(hx) | (uint64_t)(uint32_t)_mm256_movemask_epi8(hy)
                                                                               << 32;
            return q + __builtin_ctzll(mask);
        }
        q += 64;
    }
    return q;
}

static pthread_once_t cpu_once = PTHREAD_ONCE_INIT;
static int avx2_state; /* 0: not checked yet, 1: no AVX2, 2: AVX2 (one load per call) */

static void check_cpu(void)
{
    __builtin_cpu_init();
    __atomic_store_n(&avx2_state, __builtin_cpu_supports("avx2") ? 2 : 1, __ATOMIC_RELAXED);
}

static int has_avx2(void)
{
    int state = __atomic_load_n(&avx2_state, __ATOMIC_RELAXED);
    if (!state) {
        pthread_once(&cpu_once, check_cpu);
        state = __atomic_load_n(&avx2_state, __ATOMIC_RELAXED);
    }
    return state == 2;
}
#endif

/* The first byte of [q, end) below 0x20 or equal to '"' or '\\', or end:
 * 64 bytes at a time with AVX2, then 16 (SSE2), then 8. */
const char *json_skip_plain(const char *q, const char *end)
{
#if JSON_AVX2
    if (has_avx2()) {
        q = skip_plain64_avx2(q, end);
        if (end - q >= 64)
            return q; /* it stopped at such a byte */
    }
#endif
#if defined(__SSE2__)
    q = skip_plain16(q, end);
#endif
    while (end - q >= 8 && !may_end_string(load8(q)))
        q += 8;
    while (q < end && *q != '"' && *q != '\\' && (unsigned char)*q >= 0x20)
        q++;
    return q;
}
