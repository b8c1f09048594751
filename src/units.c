/* units.c - cut a text into paragraphs or lines, and find a unit that is
 * one shorter text repeated.
 *
 * Paragraphs and lines: the text is scanned once for line ends ('\n'; a
 * '\r' before it counts as white space). A line is blank when it holds only
 * spaces, tabs and CRs; paragraphs are maximal runs of non-blank lines.
 * Spans are trimmed of ASCII white space, so they begin and end on
 * character boundaries (ASCII bytes never occur inside a UTF-8 sequence).
 *
 * Repeats. A unit is "T pasted m times" when its token sequence t[0..n) has
 * a period p that divides n with n / p >= 2. The smallest period of a
 * sequence is n - pi(n), with pi the KMP prefix function (length of the
 * longest proper prefix that is also a suffix), computed in O(n) on the
 * token hashes. Most units repeat nothing, and for them the prefix function
 * (an allocation and a pass with a branch per token) was most of the cost,
 * so the divisors p <= n / 2 of n are tried first, smallest first, each
 * checked token by token until a mismatch (t[p] against t[0] ends most at
 * once): by Fine and Wilf's theorem, when some such p is a period the
 * smallest period p0 divides it (p0 + p <= n, so gcd(p0, p) is a period),
 * hence the first p found is p0, and when none is p0 does not divide n.
 * That search gives up for the prefix function once it has compared 4n
 * tokens (a hostile unit such as "a a a ... a b"), so it stays linear. Working on tokens rather than bytes lets a copy
 * be separated from the next by a space or a line end, or by nothing at all. Where copy j ends and copy j + 1 begins
 * inside the gap between their tokens is decided from the unit's own edges: the bytes before the first token (a leading
 * quote, say) open every copy, and the bytes after the last token (a full stop) close every copy.
 *
 * Removing spans (nd_remove_spans). Taking repeated units out of a text
 * should leave the rest as it was, so a removed span that is the whole of
 * its line(s) takes its line end with it, and when that leaves two blank
 * lines where there was one (a paragraph removed between two others), the
 * extra blank line goes too. Nothing else changes: every kept paragraph is
 * byte for byte what it was.
 *
 * Previews (nd_text_preview): what the program and the Python module show
 * of a unit or a shared run, one definition for both. A stretch of ASCII
 * words and single spaces is its own preview, scanned a word of 8 bytes at
 * a time and copied in one piece.
 */
#include "neardup.h"

#include <assert.h> /* assert */
#include <string.h> /* memcmp, memcpy, memchr */

#include "alloc.h"

/* ' ', '\t', '\r', '\n', '\f' or '\v': one compare and a bit of a mask */
static inline int is_space(char c)
{
    unsigned char u = (unsigned char)c;
    const uint64_t spaces = 1ULL << ' ' | 1ULL << '\t' | 1ULL << '\r' | 1ULL << '\n' | 1ULL << '\f' | 1ULL << '\v';
    return u <= ' ' && (spaces >> u & 1);
}

static inline nd_span trim(const char *text, size_t start, size_t end)
{
    while (start < end && is_space(text[start]))
        start++;
    while (end > start && is_space(text[end - 1]))
        end--;
    nd_span s = {start, end};
    return s;
}

static int push_span(nd_span **spans, size_t *capacity, size_t *count, nd_span s)
{
    if (s.start >= s.end)
        return ND_OK;
    if (*count == *capacity && nd_grow((void **)spans, capacity, *count + 1, sizeof **spans) != 0)
        return ND_ENOMEM;
    (*spans)[(*count)++] = s;
    return ND_OK;
}

int nd_split_units(nd_span **spans, size_t *capacity, size_t *count, const char *text, size_t len, nd_unit_kind kind)
{
    *count = 0;
    if (kind == ND_UNIT_DOCUMENT)
        return push_span(spans, capacity, count, trim(text, 0, len));
    size_t para_start = 0;
    int in_para = 0;
    size_t line_start = 0;
    while (line_start < len) {
        const char *nl = memchr(text + line_start, '\n', len - line_start);
        size_t line_end = nl ? (size_t)(nl - text) : len;
        nd_span line = trim(text, line_start, line_end);
        int blank = line.start == line.end;
        if (kind == ND_UNIT_LINE) {
            if (push_span(spans, capacity, count, line) != ND_OK)
                return ND_ENOMEM;
        } else if (blank && in_para) {
            if (push_span(spans, capacity, count, trim(text, para_start, line_start)) != ND_OK)
                return ND_ENOMEM;
            in_para = 0;
        } else if (!blank && !in_para) {
            para_start = line_start;
            in_para = 1;
        }
        line_start = nl ? line_end + 1 : len;
    }
    if (kind == ND_UNIT_PARAGRAPH && in_para)
        return push_span(spans, capacity, count, trim(text, para_start, len));
    return ND_OK;
}

/* Does text[pos..) start with the bytes of text[from, to)? */
static int starts_with(const char *text, size_t pos, size_t limit, size_t from, size_t to)
{
    return to - from <= limit - pos && memcmp(text + pos, text + from, to - from) == 0;
}

/* The smallest period of t[0..n) (n >= 2) if it divides n and is less than
 * n, else n; SIZE_MAX when memory is short. See "Repeats" above. */
/* Bit p of divisors[n]: p divides n and p <= n / 2 (n <= 64). */
static const uint64_t divisors[65] = {
    0,          0,    0x2,        0x2,      0x6,        0x2, 0xe,       0x2,   0x16,       0xa,     0x26,       0x2,
    0x5e,       0x2,  0x86,       0x2a,     0x116,      0x2, 0x24e,     0x2,   0x436,      0x8a,    0x806,      0x2,
    0x115e,     0x22, 0x2006,     0x20a,    0x4096,     0x2, 0x846e,    0x2,   0x10116,    0x80a,   0x20006,    0xa2,
    0x4125e,    0x2,  0x80006,    0x200a,   0x100536,   0x2, 0x2040ce,  0x2,   0x400816,   0x822a,  0x800006,   0x2,
    0x101115e,  0x82, 0x2000426,  0x2000a,  0x4002016,  0x2, 0x804024e, 0x822, 0x10004196, 0x8000a, 0x20000006, 0x2,
    0x4010947e, 0x2,  0x80000006, 0x20028a, 0x100010116};

/* Is p a period of t[0..n)? Checked token by token from t[p] until a
 * mismatch, charged to *budget; *spent when that was over it. */
static int is_period(const nd_token *t, size_t n, size_t p, size_t *budget, int *spent)
{
    if (t[p].hash != t[0].hash)
        return 0;
    size_t i = p + 1;
    while (i < n && t[i].hash == t[i - p].hash)
        i++;
    if (i == n)
        return 1;
    *spent = i - p > *budget;
    *budget -= *spent ? 0 : i - p;
    return 0;
}

static size_t whole_period(const nd_token *t, size_t n)
{
    size_t budget = 4 * n;
    int spent = 0;
    if (n <= 64) {
        /* the divisors from a table: a paragraph's few dozen tokens have a
         * few, and trying every p <= n / 2 was most of finding repeats */
        for (uint64_t d = divisors[n]; d && !spent; d &= d - 1) {
            size_t p = (size_t)__builtin_ctzll(d);
            if (is_period(t, n, p, &budget, &spent))
                return p;
        }
    } else {
        for (size_t p = 1; p <= n / 2 && !spent; p++) {
            if (n % p == 0 && is_period(t, n, p, &budget, &spent))
                return p;
        }
    }
    if (!spent)
        return n; /* no divisor of n up to n / 2 is a period */
    size_t *pi = nd_malloc(n * sizeof *pi);
    if (!pi)
        return SIZE_MAX;
    pi[0] = 0;
    for (size_t i = 1; i < n; i++) {
        size_t k = pi[i - 1];
        while (k > 0 && t[i].hash != t[k].hash)
            k = pi[k - 1];
        if (t[i].hash == t[k].hash)
            k++;
        pi[i] = k;
    }
    size_t period = n - pi[n - 1];
    nd_free(pi);
    return n % period == 0 ? period : n;
}

/* Can t[0..n) (n <= 64) have a period that divides n? Not unless t[p]
 * matches t[0] for a divisor p <= n / 2 (is_period's first test). Most
 * units are told apart here, in a leaf: the search below, inlined into
 * nd_find_repeats, gave every call its frame (its saved registers were a
 * third of finding repeats in paragraphs). */
static inline int may_repeat(const nd_token *t, size_t n)
{
    for (uint64_t d = divisors[n]; d; d &= d - 1) {
        if (t[__builtin_ctzll(d)].hash == t[0].hash)
            return 1;
    }
    return 0;
}

/* nd_find_repeats past its quick tests. */
__attribute__((noinline)) static int find_repeats(nd_span *copies, size_t max_copies, const nd_tokens *tokens,
                                                  const char *text, nd_span unit)
{
    size_t n = tokens->count;
    size_t period = whole_period(tokens->items, n);
    if (period == SIZE_MAX)
        return ND_ENOMEM;
    if (period == n || period < ND_REPEAT_MIN_TOKENS)
        return 0;
    size_t m = n / period;
    const nd_token *t = tokens->items;
    /* The unit's opening bytes (before its first token) and closing bytes
     * (after its last token). */
    size_t open_from = unit.start, open_to = t[0].start;
    size_t close_from = t[n - 1].end, close_to = unit.end;
    size_t start = unit.start;
    for (size_t j = 0; j < m; j++) {
        size_t end;
        if (j + 1 == m) {
            end = unit.end;
        } else {
            size_t gap_start = t[(j + 1) * period - 1].end;
            size_t gap_end = t[(j + 1) * period].start;
            if (starts_with(text, gap_start, gap_end, close_from, close_to))
                end = gap_start + (close_to - close_from);
            else if (open_to - open_from <= gap_end - gap_start &&
                     memcmp(text + gap_end - (open_to - open_from), text + open_from, open_to - open_from) == 0)
                end = gap_end - (open_to - open_from);
            else
                end = gap_start;
        }
        if (j < max_copies)
            copies[j] = trim(text, start, end);
        start = end;
    }
    return (int)(m > (size_t)INT32_MAX ? INT32_MAX : m);
}

int nd_find_repeats(nd_span *copies, size_t max_copies, const nd_tokens *tokens, const char *text, nd_span unit)
{
    size_t n = tokens->count;
    if (n < 2 * ND_REPEAT_MIN_TOKENS || (n <= 64 && !may_repeat(tokens->items, n)))
        return 0;
    return find_repeats(copies, max_copies, tokens, text, unit);
}

/* ****  Removing spans  **** */

static int is_blank_char(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

static int only_blank(const char *text, size_t from, size_t to)
{
    for (size_t i = from; i < to; i++) {
        if (!is_blank_char(text[i]))
            return 0;
    }
    return 1;
}

/* Does out[0, w) end at a paragraph break (empty, or its last line blank)? */
static int ends_at_break(const char *out, size_t w)
{
    size_t i = w;
    while (i > 0 && is_blank_char(out[i - 1]))
        i--;
    if (i == 0)
        return 1;
    if (out[i - 1] != '\n')
        return 0;
    i--;
    while (i > 0 && is_blank_char(out[i - 1]))
        i--;
    return i == 0 || out[i - 1] == '\n';
}

size_t nd_remove_spans(char *out, const char *text, size_t len, const nd_span *spans, size_t count)
{
    size_t w = 0, pos = 0, i = 0;
    int removed_at_end = 0;
    while (i < count) {
        /* merge spans separated only by blanks on the same line */
        size_t start = spans[i].start, end = spans[i].end;
        assert(start <= end && end <= len && (i == 0 || spans[i - 1].start <= start));
        i++;
        while (i < count && (spans[i].start <= end || only_blank(text, end, spans[i].start))) {
            if (spans[i].end > end)
                end = spans[i].end;
            i++;
        }
        if (start < pos)
            start = pos;
        if (end <= start)
            continue;
        /* whole lines? take the line end too */
        size_t line_start = start;
        while (line_start > 0 && text[line_start - 1] != '\n')
            line_start--;
        size_t line_end = end;
        while (line_end < len && text[line_end] != '\n')
            line_end++;
        int whole_lines = only_blank(text, line_start, start) && only_blank(text, end, line_end);
        if (whole_lines) {
            start = line_start > pos ? line_start : pos;
            end = line_end < len ? line_end + 1 : len;
        }
        memcpy(out + w, text + pos, start - pos);
        w += start - pos;
        pos = end;
        if (whole_lines && ends_at_break(out, w)) {
            /* skip the blank lines that followed the removed block */
            while (pos < len) {
                size_t e = pos;
                while (e < len && text[e] != '\n')
                    e++;
                if (!only_blank(text, pos, e))
                    break;
                pos = e < len ? e + 1 : len;
            }
        }
        removed_at_end = only_blank(text, pos, len) && (pos == len || text[len - 1] == '\n');
    }
    memcpy(out + w, text + pos, len - pos);
    w += len - pos;
    if (removed_at_end) {
        /* the text ended with removed lines: leave no blank lines behind,
         * but the last kept line as it was (its trailing blanks too) with
         * its own line end ("\r\n" or "\n", the first in out[k, w)); with
         * no line end there, the removed copy was on that line and the
         * blanks before it go with it */
        size_t k = w;
        while (k > 0 && (is_blank_char(out[k - 1]) || out[k - 1] == '\n'))
            k--;
        if (k < w) {
            const char *nl = memchr(out + k, '\n', w - k);
            int crlf = nl && nl > out + k && nl[-1] == '\r';
            w = nl && k > 0 ? (size_t)(nl - out) - (size_t)crlf : k;
            if (w > 0 && len > 0 && text[len - 1] == '\n') {
                if (crlf)
                    out[w++] = '\r';
                out[w++] = '\n';
            }
        }
    }
    return w;
}

/* ****  Previews  **** */

/* Is c an ASCII byte that is not white space (' ', '\t', '\r', '\n'): a
 * byte of a word, which the preview shows as it is, one character each? */
static inline int word_byte(char c)
{
    unsigned char u = (unsigned char)c;
    return u < 0x80 && !is_blank_char(c) && c != '\n';
}

/* The end of the plain stretch that text[from - 1] (a word byte) opens:
 * the first i in [from, limit) where text[from - 1, i) stops being word
 * bytes and single spaces each followed by a word byte, else limit
 * (limit <= len). Such a stretch is its own preview (each byte one
 * character, each space one space), so it is scanned and copied in one
 * piece, not word by word.
 *
 * Eight bytes at a time, while eight are left before len. Exact marks
 * (the high bit of a byte; no carry crosses a byte, as every sum stays
 * below 0x100): stop, the bytes at 0x80 or above or below 0x21 (white
 * space, control characters); space, the bytes equal to ' '. The
 * stretch goes on over a space whose next byte does not stop, so the
 * first byte that ends it or needs a closer look is the lowest mark of
 * (stop & ~space) | (space & stop >> 8), with a space in the last byte
 * marked too (its next byte is in the next word). A control character
 * (part of a word) and that last space are looked at one by one, and the
 * scan goes on past them. The lowest mark is the first such byte in
 * memory order on a little-endian machine. A scan that reaches limit
 * returns limit: the stretch goes on at least that far. */
static size_t plain_end(const char *text, size_t from, size_t limit, size_t len)
{
    for (;;) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        if (len - from >= 8) {
            const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL, lows = ones * 0x7F;
            uint64_t x;
            memcpy(&x, text + from, 8);
            uint64_t stop = (x | ~(((x & lows) + ones * (0x80 - 0x21)) | x)) & highs;
            uint64_t v = x ^ (ones * ' ');
            uint64_t space = ~(((v & lows) + lows) | v) & highs;
            uint64_t marked = (stop & ~space) | (space & ((stop >> 8) | (highs << 56)));
            if (!marked) {
                from += 8;
                if (from >= limit)
                    return limit;
                continue;
            }
            from += (size_t)__builtin_ctzll(marked) / 8;
        } else
#endif
        {
            while (from < limit && (unsigned char)text[from] - 0x21u < 0x80u - 0x21u)
                from++;
        }
        if (from >= limit)
            return limit;
        if (text[from] == ' ') {
            if (limit - from >= 2 && word_byte(text[from + 1])) {
                from += 2;
                continue;
            }
            return from;
        }
        if (!word_byte(text[from]))
            return from;
        from++; /* a control character */
    }
}

size_t nd_text_preview(char *out, const char *text, size_t len, size_t max_chars)
{
    assert(text || len == 0);
    size_t w = 0, chars = 0;
    int space = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
            space = 1;
            continue;
        }
        if (c < 0x80) {
            /* a plain stretch of ASCII words (most of a usual text) at
             * once: as much as fits, the same as one character at a time
             * below; looked at no further than one byte past the room (a
             * stretch that long is cut however long it is) */
            size_t gap = space && w > 0, room = max_chars >= chars + gap ? max_chars - (chars + gap) : 0;
            size_t end = plain_end(text, i + 1, len - i > room + 1 ? i + room + 1 : len, len);
            size_t take = end - i < room ? end - i : room;
            if (take < end - i && take > 0 && text[i + take - 1] == ' ')
                take--; /* cut after a space: the space (and the word after it) do not fit */
            if (take > 0) {
                if (gap)
                    out[w++] = ' ';
                memcpy(out + w, text + i, take);
                w += take;
                chars += gap + take;
                space = 0;
            }
            if (take < end - i) {
                memcpy(out + w, "\xE2\x80\xA6", 3); /* … */
                return w + 3;
            }
            i = end - 1;
            continue;
        }
        if ((c & 0xC0) != 0x80) { /* a character starts here: room for it (and a space before it)? */
            size_t needed = chars + 1 + (space && w > 0);
            if (needed > max_chars) {
                memcpy(out + w, "\xE2\x80\xA6", 3); /* … */
                return w + 3;
            }
            if (space && w > 0)
                out[w++] = ' ';
            space = 0;
            chars = needed;
        }
        out[w++] = (char)c;
    }
    return w;
}
