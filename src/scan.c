/* scan.c - classify 64 bytes of UTF-8 at once: the SIMD part of tokenizing.
 *
 * The tokenizer (normalize.c) walks a text 64 bytes at a time. For each
 * block it needs, per byte: is it ASCII, an ASCII letter or digit, the lead
 * byte of a two-byte sequence (U+0080..U+07FF: Latin-1 and Latin Extended,
 * Greek, Cyrillic, Armenian, Hebrew, Arabic, Syriac, Thaana) or of a
 * three-byte one (the rest of the BMP: Indic, Thai, CJK, ...), or a
 * continuation byte; and the block with ASCII capitals lowered. With these
 * five 64-bit masks, a run of ASCII letters is found with one count of
 * trailing zeros, a two-byte character is checked with two bit tests (lead
 * at k, continuation at k + 1: no validation branches; a three-byte one
 * needs one more test and a range check), and a word is copied lowered 16
 * bytes at a time.
 *
 * Every test is a range check on the byte b, done without branches:
 *   ASCII            b < 0x80 (the sign bit is clear)
 *   letter           (b | 0x20) - 'a' < 26 (unsigned; b >= 0x80 lands on
 *                    0x3F..0x9E, never below 26)
 *   digit            b - '0' < 10
 *   lead2            b - 0xC2 < 0x1E (0xC0 and 0xC1 only start overlong
 *                    forms, which are ill-formed)
 *   lead3            b - 0xE0 < 0x10 (overlong forms and surrogates are
 *                    told apart by the decoded value, in normalize.c)
 *   continuation     b & 0xC0 == 0x80
 *   capital          b - 'A' < 26, lowered by adding 0x20
 * The vector versions compute x < n unsigned as min(x, n - 1) == x, which
 * SSE2 has (pminub), and gather one bit per byte with pmovmskb.
 *
 * The tokenizer also asks which two-byte sequences of a block have their
 * code point in a bitmap (the plain letters: Arabic, Hebrew, small Cyrillic
 * and Greek). In C that is a look-up per character; the AVX2 version does
 * it for all 64 bytes at once per distinct pair of lead bytes (D8 and D9,
 * D0 and D1: a block of one script has one or two): the lead bytes of the
 * pair are found with one compare, and the bit of each continuation
 * byte's low six bits in its lead's 64-bit row is picked with two byte
 * shuffles (the row's byte by the lead's last bit and bits 3..5 of the
 * continuation, the bit within it by bits 0..2).
 *
 * Four implementations give identical results (tests/test_fastpath.c compares
 * them on every byte value in every position, and the fuzz harness on
 * arbitrary input): scalar C, SSE2 (baseline on x86-64), AVX2 and AVX-512
 * BW (whose two-byte look-up is AVX2's), chosen
 * once at run time (__builtin_cpu_supports) and compiled with a target
 * attribute, so the build needs no special flags.
 */
#include "scan.h"

#include <pthread.h> /* pthread_once */

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define ND_SCAN_X86 1
#include <immintrin.h> /* SSE2 and AVX2 intrinsics */
#else
#define ND_SCAN_X86 0
#endif

static void scan_scalar(nd_scan_masks *m, uint8_t *lower, const uint8_t *block)
{
    uint64_t ascii = 0, alnum = 0, lead2 = 0, lead3 = 0, cont = 0;
    for (unsigned k = 0; k < 64; k++) {
        uint8_t b = block[k];
        uint64_t bit = (uint64_t)1 << k;
        if (b < 0x80)
            ascii |= bit;
        if ((uint8_t)((b | 0x20) - 'a') < 26 || (uint8_t)(b - '0') < 10)
            alnum |= bit;
        if ((uint8_t)(b - 0xC2) < 0x1E)
            lead2 |= bit;
        if ((uint8_t)(b - 0xE0) < 0x10)
            lead3 |= bit;
        if ((b & 0xC0) == 0x80)
            cont |= bit;
        lower[k] = (uint8_t)((uint8_t)(b - 'A') < 26 ? b + 0x20 : b);
    }
    m->ascii = ascii;
    m->alnum = alnum;
    m->lead2 = lead2;
    m->lead3 = lead3;
    m->cont = cont;
}

static uint64_t bits2_scalar(const uint8_t *block, uint64_t two, const uint64_t *bits)
{
    return nd_scan_bits2_c(block, two, bits);
}

#if ND_SCAN_X86

/* x < n, bytewise and unsigned, as a mask of 0xFF/0x00 bytes. */
#define LESS_SSE2(x, n) _mm_cmpeq_epi8(_mm_min_epu8((x), _mm_set1_epi8((char)((n)-1))), (x))

static void scan_sse2(nd_scan_masks *m, uint8_t *lower, const uint8_t *block)
{
    uint64_t ascii = 0, alnum = 0, lead2 = 0, lead3 = 0, cont = 0;
    for (unsigned k = 0; k < 64; k += 16) {
        __m128i b = _mm_loadu_si128((const __m128i *)(const void *)(block + k));
        __m128i letter = LESS_SSE2(_mm_sub_epi8(_mm_or_si128(b, _mm_set1_epi8(0x20)), _mm_set1_epi8('a')), 26);
        __m128i digit = LESS_SSE2(_mm_sub_epi8(b, _mm_set1_epi8('0')), 10);
        __m128i is_lead2 = LESS_SSE2(_mm_sub_epi8(b, _mm_set1_epi8((char)0xC2)), 0x1E);
        __m128i is_lead3 = LESS_SSE2(_mm_sub_epi8(b, _mm_set1_epi8((char)0xE0)), 0x10);
        __m128i is_cont = _mm_cmpeq_epi8(_mm_and_si128(b, _mm_set1_epi8((char)0xC0)), _mm_set1_epi8((char)0x80));
        __m128i capital = LESS_SSE2(_mm_sub_epi8(b, _mm_set1_epi8('A')), 26);
        ascii |= (uint64_t)(uint16_t)~_mm_movemask_epi8(b) << k;
        alnum |= (uint64_t)(uint16_t)_mm_movemask_epi8(_mm_or_si128(letter, digit)) << k;
        lead2 |= (uint64_t)(uint16_t)_mm_movemask_epi8(is_lead2) << k;
        lead3 |= (uint64_t)(uint16_t)_mm_movemask_epi8(is_lead3) << k;
        cont |= (uint64_t)(uint16_t)_mm_movemask_epi8(is_cont) << k;
        __m128i lowered = _mm_add_epi8(b, _mm_and_si128(capital, _mm_set1_epi8(0x20)));
        _mm_storeu_si128((__m128i *)(void *)(lower + k), lowered);
    }
    m->ascii = ascii;
    m->alnum = alnum;
    m->lead2 = lead2;
    m->lead3 = lead3;
    m->cont = cont;
}

#define LESS_AVX2(x, n) _mm256_cmpeq_epi8(_mm256_min_epu8((x), _mm256_set1_epi8((char)((n)-1))), (x))

__attribute__((target("avx2"))) static void scan_avx2(nd_scan_masks *m, uint8_t *lower, const uint8_t *block)
{
    uint64_t ascii = 0, alnum = 0, lead2 = 0, lead3 = 0, cont = 0;
    for (unsigned k = 0; k < 64; k += 32) {
        __m256i b = _mm256_loadu_si256((const __m256i *)(const void *)(block + k));
        __m256i letter =
            LESS_AVX2(_mm256_sub_epi8(_mm256_or_si256(b, _mm256_set1_epi8(0x20)), _mm256_set1_epi8('a')), 26);
        __m256i digit = LESS_AVX2(_mm256_sub_epi8(b, _mm256_set1_epi8('0')), 10);
        __m256i is_lead2 = LESS_AVX2(_mm256_sub_epi8(b, _mm256_set1_epi8((char)0xC2)), 0x1E);
        __m256i is_lead3 = LESS_AVX2(_mm256_sub_epi8(b, _mm256_set1_epi8((char)0xE0)), 0x10);
        __m256i is_cont =
            _mm256_cmpeq_epi8(_mm256_and_si256(b, _mm256_set1_epi8((char)0xC0)), _mm256_set1_epi8((char)0x80));
        __m256i capital = LESS_AVX2(_mm256_sub_epi8(b, _mm256_set1_epi8('A')), 26);
        ascii |= (uint64_t)(uint32_t)~_mm256_movemask_epi8(b) << k;
        alnum |= (uint64_t)(uint32_t)_mm256_movemask_epi8(_mm256_or_si256(letter, digit)) << k;
        lead2 |= (uint64_t)(uint32_t)_mm256_movemask_epi8(is_lead2) << k;
        lead3 |= (uint64_t)(uint32_t)_mm256_movemask_epi8(is_lead3) << k;
        cont |= (uint64_t)(uint32_t)_mm256_movemask_epi8(is_cont) << k;
        __m256i lowered = _mm256_add_epi8(b, _mm256_and_si256(capital, _mm256_set1_epi8(0x20)));
        _mm256_storeu_si256((__m256i *)(void *)(lower + k), lowered);
    }
    m->ascii = ascii;
    m->alnum = alnum;
    m->lead2 = lead2;
    m->lead3 = lead3;
    m->cont = cont;
}

/* scan_avx2() with AVX-512 BW: the 64 bytes in one register, each test a
 * compare straight into a 64-bit mask (no byte masks gathered and
 * shifted), the capitals lowered by a masked add. */
__attribute__((target("avx512f,avx512bw"))) static void scan_avx512(nd_scan_masks *m, uint8_t *lower,
                                                                    const uint8_t *block)
{
    const __m512i b = _mm512_loadu_si512((const void *)block);
    const __mmask64 letter = _mm512_cmplt_epu8_mask(
        _mm512_sub_epi8(_mm512_or_si512(b, _mm512_set1_epi8(0x20)), _mm512_set1_epi8('a')), _mm512_set1_epi8(26));
    const __mmask64 digit = _mm512_cmplt_epu8_mask(_mm512_sub_epi8(b, _mm512_set1_epi8('0')), _mm512_set1_epi8(10));
    const __mmask64 capital = _mm512_cmplt_epu8_mask(_mm512_sub_epi8(b, _mm512_set1_epi8('A')), _mm512_set1_epi8(26));
    m->ascii = ~(uint64_t)_mm512_movepi8_mask(b);
    m->alnum = letter | digit;
    m->lead2 = _mm512_cmplt_epu8_mask(_mm512_sub_epi8(b, _mm512_set1_epi8((char)0xC2)), _mm512_set1_epi8(0x1E));
    m->lead3 = _mm512_cmplt_epu8_mask(_mm512_sub_epi8(b, _mm512_set1_epi8((char)0xE0)), _mm512_set1_epi8(0x10));
    m->cont = _mm512_cmpeq_epi8_mask(_mm512_and_si512(b, _mm512_set1_epi8((char)0xC0)), _mm512_set1_epi8((char)0x80));
    _mm512_storeu_si512((void *)lower, _mm512_mask_add_epi8(b, capital, b, _mm512_set1_epi8(0x20)));
}

static inline __attribute__((target("avx2"))) uint64_t mask64_avx2(__m256i lo, __m256i hi)
{
    return (uint64_t)(uint32_t)_mm256_movemask_epi8(lo) | (uint64_t)(uint32_t)_mm256_movemask_epi8(hi) << 32;
}

__attribute__((target("avx2"))) static uint64_t bits2_avx2(const uint8_t *block, uint64_t two, const uint64_t *bits)
{
    if (!(two & (two - 1)))
        return bits2_scalar(block, two, bits); /* one sequence or none */
    const __m256i seven = _mm256_set1_epi8(7), one = _mm256_set1_epi8(1), eight = _mm256_set1_epi8(8);
    const __m256i bit = _mm256_setr_epi8(1, 2, 4, 8, 16, 32, 64, -128, 1, 2, 4, 8, 16, 32, 64, -128, 1, 2, 4, 8, 16, 32,
                                         64, -128, 1, 2, 4, 8, 16, 32, 64, -128);
    __m256i lead0 = _mm256_loadu_si256((const __m256i *)(const void *)block);
    __m256i lead1 = _mm256_loadu_si256((const __m256i *)(const void *)(block + 32));
    __m256i cont0 = _mm256_loadu_si256((const __m256i *)(const void *)(block + 1));
    __m256i cont1 = _mm256_loadu_si256((const __m256i *)(const void *)(block + 33));
    /* the rows of two lead bytes that differ in their last bit (D8 and
     * D9: Arabic; D0 and D1: Cyrillic) are looked up at once, one in
     * bytes 0..7 of the table, the other in bytes 8..15: per byte, the
     * byte of the table (the lead's last bit, and bits 3..5 of the
     * continuation) and the bit within it (bits 0..2) */
    __m256i byte0 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(cont0, 3), seven),
                                    _mm256_and_si256(_mm256_slli_epi16(lead0, 3), eight));
    __m256i byte1 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(cont1, 3), seven),
                                    _mm256_and_si256(_mm256_slli_epi16(lead1, 3), eight));
    __m256i bit0 = _mm256_shuffle_epi8(bit, _mm256_and_si256(cont0, seven));
    __m256i bit1 = _mm256_shuffle_epi8(bit, _mm256_and_si256(cont1, seven));
    __m256i pair0 = _mm256_or_si256(lead0, one), pair1 = _mm256_or_si256(lead1, one);
    uint64_t hit = 0, left = two;
    do {
        unsigned odd = block[__builtin_ctzll(left)] | 1u;
        __m256i l = _mm256_set1_epi8((char)odd);
        uint64_t same = mask64_avx2(_mm256_cmpeq_epi8(pair0, l), _mm256_cmpeq_epi8(pair1, l));
        uint64_t even_row = bits[(odd & 0x1F) - 1], odd_row = bits[odd & 0x1F];
        __m256i rows =
            _mm256_set_epi64x((long long)odd_row, (long long)even_row, (long long)odd_row, (long long)even_row);
        __m256i in0 = _mm256_and_si256(_mm256_shuffle_epi8(rows, byte0), bit0);
        __m256i in1 = _mm256_and_si256(_mm256_shuffle_epi8(rows, byte1), bit1);
        hit |= same & mask64_avx2(_mm256_cmpeq_epi8(in0, bit0), _mm256_cmpeq_epi8(in1, bit1));
        left &= ~same;
    } while (left);
    return hit & two;
}

#endif /* ND_SCAN_X86 */

static pthread_once_t cpu_once = PTHREAD_ONCE_INIT;
static int has_avx2, has_avx512;

static void check_cpu(void)
{
#if ND_SCAN_X86
    __builtin_cpu_init();
    has_avx2 = __builtin_cpu_supports("avx2") != 0;
    has_avx512 = has_avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw");
#endif
}

nd_scan_fn nd_scan_get(nd_scan_impl impl)
{
    pthread_once(&cpu_once, check_cpu);
    switch (impl) {
    case ND_SCAN_SCALAR:
        return scan_scalar;
#if ND_SCAN_X86
    case ND_SCAN_SSE2:
        return scan_sse2;
    case ND_SCAN_AVX2:
        return has_avx2 ? scan_avx2 : NULL;
    case ND_SCAN_AVX512:
        return has_avx512 ? scan_avx512 : NULL;
#endif
    default:
        return NULL;
    }
}

nd_scan_bits2_fn nd_scan_bits2_get(nd_scan_impl impl)
{
    pthread_once(&cpu_once, check_cpu);
    switch (impl) {
    case ND_SCAN_SCALAR:
        return bits2_scalar;
#if ND_SCAN_X86
    case ND_SCAN_SSE2:
        return bits2_scalar;
    case ND_SCAN_AVX2:
    case ND_SCAN_AVX512:
        return has_avx2 ? bits2_avx2 : NULL;
#endif
    default:
        return NULL;
    }
}

nd_scan_impl nd_scan_best(void)
{
    pthread_once(&cpu_once, check_cpu);
#if ND_SCAN_X86
    return has_avx512 ? ND_SCAN_AVX512 : has_avx2 ? ND_SCAN_AVX2 : ND_SCAN_SSE2;
#else
    return ND_SCAN_SCALAR;
#endif
}
