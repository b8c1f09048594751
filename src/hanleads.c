/* hanleads.c - which 64-byte block offsets start a Han letter that word
 * breaking keeps whole, told from the letter's first two bytes alone.
 *
 * The fast path's loop over a run of Han or kana (fastpath.c) asks of each
 * three-byte letter whether it is one of the profile's unspaced_kept
 * letters (fold.h). Most of them lie in one range of code points (U+4E00
 * .. U+9FFF in the profiles' tables), whose UTF-8 forms read as big-endian
 * numbers are one range too, [kept_lo8, kept_lo8 + kept_span8]. A letter
 * whose lead byte lies strictly between the range's first and last leads
 * is inside whatever its other bytes; with the first (last) lead, a second
 * byte past (before) the range's own second byte puts it inside whatever
 * its third. So a block's leads and second bytes, compared with four
 * numbers 16 (SSE2) or 64 (AVX-512 BW) bytes at a time, give most kept
 * letters at once; the rest are asked one by one, as before. The AVX-512
 * version runs where the normalizer says so (leads_avx512: on the AVX2
 * path where the CPU has AVX-512 BW), so that the SSE2 and portable paths,
 * which keep SSE2's, are both compared with the reference path by the
 * tests (test_runs_cut_alike_every_code_point in tests/test_fastpath.c).
 */
#include "tokenizer.h"

#if defined(__SSE2__)
#include <emmintrin.h> /* SSE2: part of x86-64 */
#endif
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h> /* kept_leads_avx512, picked at run time */
#define ND_LEADS_AVX512 1
#endif

#ifdef ND_LEADS_AVX512
/* nd_kept_leads()' masks for the range's leads and second bytes, the block's
 * 64 bytes at once with AVX-512 (BW) */
__attribute__((target("avx512f,avx512bw"))) static uint64_t kept_leads_avx512(const uint8_t *block, uint64_t three,
                                                                              unsigned lo_lead, unsigned hi_lead,
                                                                              unsigned lo_second, unsigned hi_second)
{
    const __m512i x = _mm512_loadu_si512((const void *)block);
    uint64_t inner = _mm512_cmple_epu8_mask(_mm512_sub_epi8(x, _mm512_set1_epi8((char)(lo_lead + 1))),
                                            _mm512_set1_epi8((char)(hi_lead - lo_lead - 2)));
    uint64_t at_first = _mm512_cmpeq_epi8_mask(x, _mm512_set1_epi8((char)lo_lead));
    uint64_t at_last = _mm512_cmpeq_epi8_mask(x, _mm512_set1_epi8((char)hi_lead));
    uint64_t past_from = _mm512_cmpge_epu8_mask(x, _mm512_set1_epi8((char)lo_second));
    uint64_t before_to = _mm512_cmple_epu8_mask(x, _mm512_set1_epi8((char)hi_second));
    if (hi_lead - lo_lead < 2)
        inner = 0;
    return three & (inner | (at_first & past_from >> 1) | (at_last & before_to >> 1));
}
#endif

/* The block offsets where a three-byte sequence starts (of those in
 * `three`) that fastpath.c's kept_letter() accepts by its first test (inside nz's range of kept letters, U+4E00 ..
 * U+9FFF for the profiles' tables) and whose lead and second byte alone
 * say so: a lead strictly inside the range's leads, or the first lead with
 * a second byte past the range's start (the last lead with one before its
 * end), 16 bytes at a time with SSE2. A subset of them: the letters it
 * leaves out are asked kept_letter() one by one, and 0 (no SSE2, or a
 * range whose leads are E0 or ED, which have forbidden second bytes, or
 * one lead only) leaves them all to it. */
uint64_t nd_kept_leads(const nd_normalizer *nz, const uint8_t *block, uint64_t three)
{
#if defined(__SSE2__)
    if (nz->kept_lo8 == UINT32_MAX)
        return 0;
    const uint32_t lo = nz->kept_lo8, hi = lo + nz->kept_span8;
    const unsigned lo_lead = lo >> 16, hi_lead = hi >> 16;
    if (lo_lead >= hi_lead || lo_lead <= 0xE0 || (lo_lead <= 0xED && hi_lead >= 0xED))
        return 0;
    /* one or two three-byte sequences (Latin, Arabic or Cyrillic text
     * whose three-byte characters are typographic quotes, dashes or
     * ellipses, lead E2), none with a lead of the range: nothing to find,
     * for a look at their leads (not in a block of CJK text, whose many
     * three-byte letters go to the compares at once) */
    const uint64_t more = three & (three - 1);
    if (!(more & (more - 1))) {
        uint64_t leads = three;
        while (leads && (unsigned)block[__builtin_ctzll(leads)] - lo_lead > hi_lead - lo_lead)
            leads &= leads - 1;
        if (!leads)
            return 0;
    }
    /* the second bytes that put a letter of the first (last) lead inside,
     * whatever its third byte: from lo's, or the next one, to 0xBF */
    const unsigned lo_second = ((lo >> 8) & 0xFF) + ((lo & 0xFF) != 0x80);
    const unsigned hi_second = ((hi >> 8) & 0xFF) - ((hi & 0xFF) != 0xBF);
#ifdef ND_LEADS_AVX512
    if (nz->leads_avx512)
        return kept_leads_avx512(block, three, lo_lead, hi_lead, lo_second, hi_second);
#endif
    const __m128i inner_base = _mm_set1_epi8((char)(lo_lead + 1));
    const __m128i inner_width = _mm_set1_epi8((char)(hi_lead - lo_lead - 2)); /* wraps to 0xFF when no lead is inside */
    const __m128i first = _mm_set1_epi8((char)lo_lead), last = _mm_set1_epi8((char)hi_lead);
    const __m128i from = _mm_set1_epi8((char)lo_second), to = _mm_set1_epi8((char)hi_second);
    uint64_t inner = 0, at_first = 0, at_last = 0, past_from = 0, before_to = 0;
    for (unsigned k = 0; k < 4; k++) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(block + 16 * k));
        __m128i d = _mm_sub_epi8(x, inner_base);
        unsigned shift = 16 * k;
        inner |= (uint64_t)(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_max_epu8(d, inner_width), inner_width))
                 << shift;
        at_first |= (uint64_t)(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x, first)) << shift;
        at_last |= (uint64_t)(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x, last)) << shift;
        past_from |= (uint64_t)(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_max_epu8(x, from), x)) << shift;
        before_to |= (uint64_t)(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_min_epu8(x, to), x)) << shift;
    }
    if (hi_lead - lo_lead < 2)
        inner = 0;
    return three & (inner | (at_first & past_from >> 1) | (at_last & before_to >> 1));
#else
    (void)nz;
    (void)block;
    (void)three;
    return 0;
#endif
}
