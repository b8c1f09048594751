/* stream.c - deduplicate texts as they arrive: keep a text unless it
 * duplicates one kept before (first kept wins).
 *
 * Why not nd_index: an nd_index answers once, after the last text, and its
 * clusters depend on every text (greedy cover picks the survivor that
 * matches most). A stream must answer for each text as it comes, from the
 * texts kept so far; datasketch's MinHashLSH insert+query and rensa are
 * used that way. What a stream reports is therefore defined text by text:
 *
 *   text t is a duplicate  <=>  some kept text k is an LSH candidate of t
 *                                and J(t, k) >= threshold (exactly computed);
 *   the match reported is the candidate with the highest J (the earliest
 *   kept among equals); t is kept otherwise.
 *
 * LSH candidates are the kept texts sharing at least one band key with t
 * (probability 1 - (1 - J^r)^b for a pair at Jaccard J, as in nd_index; the
 * keys here are the full 64-bit ones, so chance key collisions, which cost
 * a verification and never a wrong answer, are rarer still).
 *
 * Layout:
 * - one open-addressing table (linear probing, at most 3/4 full) from
 *   (band, key) to the newest posting with that key; a posting is
 *   p = kept * bands + band, and next[p] links to the previous posting with
 *   the same (band, key), so a bucket is a chain through one flat array:
 *   12 bytes per table slot and 4 per posting, about 20 bytes per band per
 *   kept text. (band, key) is folded to one 64-bit value, key ^ mix(band);
 *   two equal folded values from different bands (chance 2^-64) would only
 *   add a candidate, which verification then rejects.
 * - shingle ids copied back to back into blocks of 4 MiB (no allocation per
 *   text, no copying when the stream grows);
 * - a stamp per kept text (the number of the query that last saw it), so a
 *   kept text found in several bands is verified once.
 */
#include "neardup.h"

#include <assert.h> /* assert */
#include <string.h> /* memcpy, memset */

#include "alloc.h"
#include "hash.h"

enum { ID_BLOCK = 1 << 20 }; /* ids per block (4 MiB) */

typedef struct kept_text {
    const uint32_t *ids;
    size_t count;
} kept_text;

typedef struct id_block {
    uint32_t *data;
    size_t used, capacity;
} id_block;

struct nd_stream {
    nd_options opts;
    nd_sketcher *sketcher; /* for nd_stream_add_text / nd_stream_query_text */
    uint64_t *text_keys;   /* bands keys of the text being added */
    kept_text *kept;
    size_t count, kept_capacity;
    id_block *blocks;
    size_t block_count, blocks_capacity;
    /* (band, key) table: slot_keys[s] is valid when slot_heads[s] != 0;
     * slot_heads[s] is the newest posting + 1 */
    uint64_t *slot_keys;
    uint32_t *slot_heads;
    size_t slots, slots_used; /* slots is 0 or a power of two */
    uint32_t *next;           /* per posting: the previous posting + 1 with its key, or 0 */
    size_t next_capacity;
    uint32_t *stamps; /* per kept text */
    size_t stamps_capacity;
    uint32_t query; /* the number of the current query, never 0 */
};

static int reaches(double jaccard, double threshold)
{
    return jaccard >= threshold - 1e-12; /* as nd_index verifies */
}

static uint64_t fold_band_key(uint64_t key, unsigned band)
{
    return key ^ nd_mix64((uint64_t)band + 1);
}

/* ****  Life cycle  **** */

int nd_stream_new(nd_stream **out, const nd_options *opts)
{
    nd_options resolved = *opts;
    if (nd_options_resolve(&resolved) != ND_OK || resolved.measure != ND_MEASURE_JACCARD)
        return ND_EINVAL; /* containment needs every pair that can match, not LSH candidates */
    nd_stream *s = nd_calloc(1, sizeof *s);
    if (!s)
        return ND_ENOMEM;
    s->opts = resolved;
    s->query = 1;
    s->text_keys = nd_malloc(resolved.bands * sizeof *s->text_keys);
    if (!s->text_keys) {
        nd_free(s);
        return ND_ENOMEM;
    }
    int rc = nd_sketcher_new(&s->sketcher, &resolved);
    if (rc != ND_OK) {
        nd_free(s->text_keys);
        nd_free(s);
        return rc;
    }
    /* tokens are never counted here: text signed with character shingles
     * skips ICU's dictionary word breaking (the same ids and keys) */
    nd_sketcher_set_words(s->sketcher, 0);
    *out = s;
    return ND_OK;
}

void nd_stream_free(nd_stream *s)
{
    if (!s)
        return;
    for (size_t b = 0; b < s->block_count; b++)
        nd_free(s->blocks[b].data);
    nd_free(s->blocks);
    nd_free(s->kept);
    nd_free(s->slot_keys);
    nd_free(s->slot_heads);
    nd_free(s->next);
    nd_free(s->stamps);
    nd_free(s->text_keys);
    nd_sketcher_free(s->sketcher);
    nd_free(s);
}

size_t nd_stream_count(const nd_stream *s)
{
    return s->count;
}

/* ****  The band table  **** */

/* The slot holding `folded`, or the empty slot where it would go. */
static size_t find_slot(const nd_stream *s, uint64_t folded)
{
    size_t mask = s->slots - 1;
    size_t i = (size_t)folded & mask; /* band keys are XXH3 values: already uniform */
    while (s->slot_heads[i] != 0 && s->slot_keys[i] != folded)
        i = (i + 1) & mask;
    return i;
}

/* Make room for `more` new keys in the table (rehashing into a table twice
 * as large when it would pass 3/4 full). 0, or -1 with nothing changed. */
static int reserve_slots(nd_stream *s, size_t more)
{
    size_t needed = s->slots_used + more;
    if (s->slots > 0 && needed <= s->slots / 4 * 3)
        return 0;
    size_t slots = s->slots ? s->slots : 256;
    while (needed > slots / 4 * 3)
        slots *= 2;
    uint64_t *keys = nd_malloc(slots * sizeof *keys);
    uint32_t *heads = nd_calloc(slots, sizeof *heads);
    if (!keys || !heads) {
        nd_free(keys);
        nd_free(heads);
        return -1;
    }
    nd_stream moved = *s;
    moved.slot_keys = keys;
    moved.slot_heads = heads;
    moved.slots = slots;
    for (size_t i = 0; i < s->slots; i++) {
        if (s->slot_heads[i] == 0)
            continue;
        size_t to = find_slot(&moved, s->slot_keys[i]);
        keys[to] = s->slot_keys[i];
        heads[to] = s->slot_heads[i];
    }
    nd_free(s->slot_keys);
    nd_free(s->slot_heads);
    s->slot_keys = keys;
    s->slot_heads = heads;
    s->slots = slots;
    return 0;
}

/* Room for `count` ids in the last block (or a new one). NULL when out of
 * memory, with nothing changed. */
static uint32_t *reserve_ids(nd_stream *s, size_t count)
{
    if (s->block_count > 0) {
        id_block *last = &s->blocks[s->block_count - 1];
        if (last->capacity - last->used >= count)
            return last->data + last->used;
    }
    if (nd_grow((void **)&s->blocks, &s->blocks_capacity, s->block_count + 1, sizeof *s->blocks) != 0)
        return NULL;
    size_t capacity = count > ID_BLOCK ? count : ID_BLOCK;
    uint32_t *data = nd_malloc(capacity * sizeof *data);
    if (!data)
        return NULL;
    s->blocks[s->block_count++] = (id_block){data, 0, capacity};
    return data;
}

/* ****  Adding and querying  **** */

int nd_stream_keep(nd_stream *s, const uint32_t *ids, size_t count, const uint64_t *keys)
{
    assert(count == 0 || (ids && keys));
    const unsigned bands = s->opts.bands;
    const size_t first_posting = s->count * bands;
    if (count > 0 && first_posting + bands > UINT32_MAX - 1)
        return ND_EINVAL; /* postings are numbered in 32 bits */
    /* every allocation first, so that a failure leaves the stream as it was */
    if (nd_grow((void **)&s->kept, &s->kept_capacity, s->count + 1, sizeof *s->kept) != 0 ||
        nd_grow((void **)&s->stamps, &s->stamps_capacity, s->count + 1, sizeof *s->stamps) != 0)
        return ND_ENOMEM;
    uint32_t *copy = NULL;
    if (count > 0) {
        if (nd_grow((void **)&s->next, &s->next_capacity, first_posting + bands, sizeof *s->next) != 0 ||
            reserve_slots(s, bands) != 0)
            return ND_ENOMEM;
        copy = reserve_ids(s, count);
        if (!copy)
            return ND_ENOMEM;
        memcpy(copy, ids, count * sizeof *ids);
        s->blocks[s->block_count - 1].used += count;
    }
    s->kept[s->count] = (kept_text){copy, count};
    s->stamps[s->count] = 0;
    if (count > 0) { /* a text without shingles never matches: nothing to find it by */
        for (unsigned j = 0; j < bands; j++) {
            uint64_t folded = fold_band_key(keys[j], j);
            size_t slot = find_slot(s, folded);
            uint32_t posting = (uint32_t)(first_posting + j);
            if (s->slot_heads[slot] == 0) {
                s->slot_keys[slot] = folded;
                s->slots_used++;
            }
            s->next[posting] = s->slot_heads[slot];
            s->slot_heads[slot] = posting + 1;
        }
    }
    s->count++;
    return ND_OK;
}

int nd_stream_query(nd_stream_match *match, nd_stream *s, const uint32_t *ids, size_t count, const uint64_t *keys)
{
    assert(count == 0 || (ids && keys));
    if (count == 0 || s->slots_used == 0)
        return 0;
    const unsigned bands = s->opts.bands;
    if (++s->query == 0) { /* wrapped after 2^32 - 1 queries: forget the old stamps */
        memset(s->stamps, 0, s->count * sizeof *s->stamps);
        s->query = 1;
    }
    int found = 0;
    nd_stream_match best = {0, 0.0};
    for (unsigned j = 0; j < bands; j++) {
        uint64_t folded = fold_band_key(keys[j], j);
        size_t slot = find_slot(s, folded);
        for (uint32_t p = s->slot_heads[slot]; p != 0; p = s->next[p - 1]) {
            size_t k = (p - 1) / bands;
            if (s->stamps[k] == s->query)
                continue; /* seen in an earlier band */
            s->stamps[k] = s->query;
            double jaccard = nd_jaccard(ids, count, s->kept[k].ids, s->kept[k].count);
            if (!reaches(jaccard, s->opts.threshold))
                continue;
            /* chains run newest first, bands in any order: compare explicitly */
            if (!found || jaccard > best.jaccard || (jaccard == best.jaccard && k < best.kept))
                best = (nd_stream_match){k, jaccard};
            found = 1;
        }
    }
    if (found)
        *match = best;
    return found;
}

/* Sketch a text with the stream's own sketcher and its band keys (into
 * s->text_keys). */
static int sketch_text(nd_sketch_ref *ref, nd_stream *s, const char *text, size_t len)
{
    int rc = nd_sketch_text_ref(ref, s->sketcher, text, len);
    if (rc == ND_OK)
        nd_lsh_band_keys(s->text_keys, ref->signature, s->opts.bands, s->opts.rows);
    return rc;
}

int nd_stream_query_text(nd_stream_match *match, nd_stream *s, const char *text, size_t len)
{
    nd_sketch_ref ref;
    int rc = sketch_text(&ref, s, text, len);
    if (rc != ND_OK)
        return rc;
    return nd_stream_query(match, s, ref.ids, ref.count, s->text_keys);
}

int nd_stream_add_text(nd_stream_match *match, nd_stream *s, const char *text, size_t len)
{
    nd_sketch_ref ref;
    int rc = sketch_text(&ref, s, text, len);
    if (rc != ND_OK)
        return rc;
    rc = nd_stream_query(match, s, ref.ids, ref.count, s->text_keys);
    if (rc != 0)
        return rc;
    return nd_stream_keep(s, ref.ids, ref.count, s->text_keys);
}
