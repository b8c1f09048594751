/* db_record.c - the persistent index's document record: id, weight,
 * removal mark and the shingle ids, Rice-coded.
 *
 * Record layout (the value stored under a document's number):
 *
 *   u8 flags (bit 0: removed) | varint weight | varint id length | id bytes
 *   | varint count | [u8 k | Rice-coded gaps]            (varint: LEB128)
 *
 * Shingle ids. A document's shingle ids are n distinct 32-bit hashes,
 * spread evenly over [0, 2^32): sorted, the gaps between them are close to
 * geometric with mean m = 2^32 / n, and the set carries
 * log2 C(2^32, n) ~ n (log2 m + log2 e) bits of information. The Rice code
 * with parameter k writes each gap g (first id: the id itself; then
 * id[i] - id[i-1] - 1) as floor(g / 2^k) in unary (zeros closed by a one)
 * and the k low bits of g: about k + 1 + m / 2^k bits per id, within a few
 * hundredths of a bit of the best prefix code for geometric gaps (Gallager
 * and van Voorhis 1975) when k is near log2(m ln 2). k is chosen per record
 * among the three values around log2 m, on the actual gaps. For a ~1 KB
 * English-like document (~170 words, ~166 five-word shingles) m ~ 2^24.6
 * and k = 24: ~26 bits per id, 3.3 bytes instead of 4. Byte-aligned codes
 * (varint, StreamVByte in Debian's libstreamvbyte) need 4 bytes for gaps of
 * 2^25 and save nothing here, and Roaring bitmaps (libroaring) would spend a
 * container on nearly every id; hence this small code, decoded a 64-bit
 * word at a time (count trailing zeros for the unary part).
 *
 * Decoding checks every bound: a corrupt record is reported (-1), never
 * read past, and never yields ids out of order.
 *
 * Band keys (db_band_key in db_record.h) are 64-bit: 16 bits of band
 * number and the top 48 bits of the band's XXH3 hash. Why 48 bits of hash:
 * a band key only proposes candidates, each verified exactly, so a chance
 * collision costs a record read and a merge (a few microseconds) and never
 * a wrong match. A query meets b N stored keys of its bands; with h hash
 * bits it expects b N / 2^h chance collisions. At N = 100 million
 * documents and b = 16 bands (the default at threshold 0.8): with 32-bit
 * keys, as the in-memory index uses, 16e8 / 2^32 = 373 false candidates per
 * query (37 at 10 million), most of a query's time; with 48 bits,
 * 16e8 / 2^48 = 5.7e-6, one false candidate in 176,000 queries. The band
 * number in the key keeps bands apart as batch mode does (a key of band 3
 * never meets one of band 5), and as integers the keys sort by band, then
 * hash.
 *
 * Buckets (index format 3). Stored one entry per LMDB key, an entry costs
 * ~22 bytes (node header 8, key 8, document 4, page pointer 2): at 10
 * million documents 160 million entries, a 3.5 GB tree that a batch of
 * queries reads nearly whole. A Jaccard index stores its entries instead
 * in buckets (db_bucket.c): the key is the top 32 bits of the band key
 * (band number and 16 bits of hash: 65,536 buckets a band), the value the
 * bucket's entries packed, each the key's low 32 bits and the document
 * number in 8 bytes. An entry then costs 8 bytes and a bucket ~18 more (its
 * node, key and page pointer): at 10 million documents ~150 entries a
 * bucket, ~8.1 bytes an entry; at 100,000 documents ~1.5 entries a bucket,
 * ~20 bytes an entry, as before. A lookup finds the bucket and, in its
 * sorted values, the key's low half by binary search. A containment index
 * keeps one entry per key (its postings are mostly one document a
 * shingle).
 */
#include "db_record.h"

#include <string.h> /* memcpy, memset */

/* ****  Varints (LEB128)  **** */

static size_t put_varint(unsigned char *out, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        out[n++] = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    out[n++] = (unsigned char)v;
    return n;
}

/* Read a varint at *pos (< len); advances *pos. Returns 0 or -1. */
static int get_varint(uint64_t *v, const unsigned char *p, size_t len, size_t *pos)
{
    uint64_t value = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        if (*pos >= len)
            return -1;
        unsigned char b = p[(*pos)++];
        value |= (uint64_t)(b & 0x7F) << shift;
        if (!(b & 0x80)) {
            *v = value;
            return 0;
        }
    }
    return -1;
}

/* ****  Rice code  **** */

static unsigned floor_log2(uint64_t v)
{
    return v ? 63u - (unsigned)__builtin_clzll(v) : 0;
}

/* The Rice parameter: of the three values around log2 of the mean gap, the
 * one that codes these gaps in the fewest bits (count (k + 1) + sum of
 * gap >> k), the three sums taken in one pass. */
static unsigned choose_k(const uint32_t *ids, size_t count)
{
    uint64_t mean = ((uint64_t)ids[count - 1] + 1) / count;
    unsigned guess = floor_log2(mean);
    if (guess > 30)
        guess = 30; /* so that guess + 1 <= 31 */
    if (guess < 1)
        guess = 1;
    uint64_t sum[3] = {0, 0, 0};
    uint32_t prev = 0;
    for (size_t i = 0; i < count; i++) {
        uint32_t gap = i ? ids[i] - prev - 1 : ids[0];
        sum[0] += gap >> (guess - 1);
        sum[1] += gap >> guess;
        sum[2] += gap >> (guess + 1);
        prev = ids[i];
    }
    unsigned best = 0;
    for (unsigned c = 1; c < 3; c++) {
        if (sum[c] + (uint64_t)count * c < sum[best] + (uint64_t)count * best)
            best = c;
    }
    return guess - 1 + best;
}

typedef struct {
    unsigned char *out;
    size_t len;   /* bytes written */
    uint64_t acc; /* pending bits, least significant first (fewer than 32) */
    unsigned fill;
} bit_writer;

/* Append the n (<= 32) low bits of v, 32 bits at a time. */
static void put_bits(bit_writer *w, uint64_t v, unsigned n)
{
    w->acc |= (v & ((1ULL << n) - 1)) << w->fill;
    w->fill += n;
    if (w->fill >= 32) {
        uint32_t word = (uint32_t)w->acc;
        for (int b = 0; b < 4; b++)
            w->out[w->len++] = (unsigned char)(word >> (8 * b));
        w->acc >>= 32;
        w->fill -= 32;
    }
}

static void flush_bits(bit_writer *w)
{
    while (w->fill > 0) {
        w->out[w->len++] = (unsigned char)w->acc;
        w->acc >>= 8;
        w->fill = w->fill > 8 ? w->fill - 8 : 0;
    }
}

static size_t rice_encode(unsigned char *out, const uint32_t *ids, size_t count, unsigned k)
{
    bit_writer w = {out, 0, 0, 0};
    uint32_t prev = 0;
    for (size_t i = 0; i < count; i++) {
        uint32_t gap = i ? ids[i] - prev - 1 : ids[0];
        uint32_t q = gap >> k;
        uint64_t low = gap & ((1ULL << k) - 1);
        if (q + 1 + k <= 32) { /* the usual case: unary and low bits in one go */
            put_bits(&w, 1ULL << q | low << (q + 1), q + 1 + k);
        } else {
            while (q >= 32) {
                put_bits(&w, 0, 32);
                q -= 32;
            }
            put_bits(&w, 1ULL << q, q + 1); /* q zeros, then a one */
            put_bits(&w, low, k);
        }
        prev = ids[i];
    }
    flush_bits(&w);
    return w.len;
}

/* Reading bits least significant first: `buf` holds the next `avail` bits
 * (nothing above them), refilled a whole 64-bit word at a time where the
 * code has 8 more bytes. */
typedef struct {
    const unsigned char *code;
    size_t len, byte; /* bytes, and the next byte not in buf */
    uint64_t buf;
    unsigned avail;
} bit_reader;

static void refill(bit_reader *r)
{
    if (r->byte + 8 <= r->len) {
        uint64_t word = 0;
        for (int i = 7; i >= 0; i--) /* little-endian load (one instruction on x86) */
            word = word << 8 | r->code[r->byte + (size_t)i];
        unsigned take = (63 - r->avail) >> 3; /* whole bytes that fit */
        r->buf |= word << r->avail;
        r->byte += take;
        r->avail += take * 8;
        r->buf &= r->avail == 64 ? ~0ULL : (1ULL << r->avail) - 1;
    } else {
        while (r->avail <= 56 && r->byte < r->len) {
            r->buf |= (uint64_t)r->code[r->byte++] << r->avail;
            r->avail += 8;
        }
    }
}

static int rice_decode(uint32_t *ids, size_t count, unsigned k, const unsigned char *code, size_t len)
{
    bit_reader r = {code, len, 0, 0, 0};
    uint64_t next = 0; /* smallest value the next id may take */
    uint64_t mask = (1ULL << k) - 1;
    for (size_t i = 0; i < count; i++) {
        uint64_t q = 0;
        for (;;) { /* q zeros, then a one */
            if (r.avail < 32)
                refill(&r);
            if (r.buf) {
                unsigned zeros = (unsigned)__builtin_ctzll(r.buf);
                q += zeros;
                r.buf >>= zeros;
                r.buf >>= 1;
                r.avail -= zeros + 1;
                break;
            }
            if (r.avail == 0 || q > 0xFFFFFFFFULL)
                return -1; /* the code ended, or a run of zeros no id can have */
            q += r.avail;
            r.avail = 0;
        }
        if (r.avail < k)
            refill(&r);
        if (r.avail < k || q > 0xFFFFFFFFULL >> k)
            return -1;
        uint64_t low = r.buf & mask;
        r.buf = k < 64 ? r.buf >> k : 0;
        r.avail -= k;
        uint64_t value = next + (q << k | low);
        if (value > 0xFFFFFFFFULL)
            return -1;
        ids[i] = (uint32_t)value;
        next = value + 1;
    }
    return 0;
}

/* ****  Records  **** */

size_t nd_db_record_bound(size_t id_len, size_t count)
{
    /* flags, three varints, k, and at most 33 bits per id (k = 31 is
     * always a candidate's neighbour or worse than the chosen k) */
    return 1 + 10 + 10 + id_len + 10 + 1 + count * 5 + 8;
}

size_t nd_db_record_encode(unsigned char *out, unsigned flags, uint64_t weight, const char *id, size_t id_len,
                           const uint32_t *ids, size_t count)
{
    size_t n = 0;
    out[n++] = (unsigned char)flags;
    n += put_varint(out + n, weight);
    n += put_varint(out + n, id_len);
    if (id_len)
        memcpy(out + n, id, id_len);
    n += id_len;
    n += put_varint(out + n, count);
    if (count > 0) {
        unsigned k = choose_k(ids, count);
        out[n++] = (unsigned char)k;
        n += rice_encode(out + n, ids, count, k);
    }
    return n;
}

int nd_db_record_parse(db_record *out, const void *data, size_t len)
{
    const unsigned char *p = data;
    size_t pos = 0;
    uint64_t weight, id_len, count;
    if (len < 1)
        return -1;
    out->flags = p[pos++];
    if (get_varint(&weight, p, len, &pos) != 0 || get_varint(&id_len, p, len, &pos) != 0 || id_len > len - pos)
        return -1;
    out->weight = weight;
    out->id = (const char *)p + pos;
    out->id_len = (size_t)id_len;
    pos += (size_t)id_len;
    if (get_varint(&count, p, len, &pos) != 0 || count > 0xFFFFFFFFULL)
        return -1;
    out->count = (size_t)count;
    out->rice_k = 0;
    out->code = p + len;
    out->code_len = 0;
    if (count > 0) {
        if (pos >= len || p[pos] > 31)
            return -1;
        out->rice_k = p[pos++];
        out->code = p + pos;
        out->code_len = len - pos;
        if (out->code_len * 8 < count) /* at least one bit per id */
            return -1;
    }
    return 0;
}

int nd_db_record_ids(uint32_t *ids, const db_record *r)
{
    if (r->count == 0)
        return 0;
    return rice_decode(ids, r->count, r->rice_k, r->code, r->code_len);
}
