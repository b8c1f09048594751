/* index.c - where an index keeps its texts: in memory, or spilled to files.
 *
 * Per text the index keeps only what clustering needs (store.h): the
 * sorted shingle ids (for exact verification), a hash of that set (to find
 * identical sets), its LSH band keys (b keys instead of the whole
 * signature, folded to 32 bits) and a weight (for --keep longest); and,
 * when the caller gives them, ranks (ND_KEEP_RANK).
 * Clustering itself is in cluster.c and reads the texts through the
 * nd_store view index_store.c gives (nd_index_store).
 *
 * Why 32-bit band keys: a band key only proposes candidates, and every
 * candidate is verified exactly, so a key collision costs one extra
 * verification and never a wrong match. Among n texts a band has about
 * n^2 / 2^33 chance collisions: 116 at a million texts, 11,600 at ten
 * million, per band, against the pairs LSH proposes anyway. In exchange
 * the keys take half the memory and each band sorts in four radix passes
 * over 8-byte (key, text) entries instead of eight over 16 bytes.
 *
 * Memory layout. Shingle ids are copied back to back into 64 MiB blocks
 * (no allocation per text; a few large frees at the end give the memory
 * back at once), or, for texts added with nd_index_add_kept (or
 * nd_index_add_prepared_kept: the CLI's units), left where
 * the caller wrote them, in blocks the index adopts and frees the same way
 * (nd_index_adopt_ids). Band keys are kept band-major in chunks of ND_KEY_CHUNK
 * texts: a chunk holds one block per band, so reading one band is
 * sequential.
 *
 * Spilling (nd_index_spill). Past a memory budget the caller moves the ids
 * and the full key chunks to two unlinked temporary files, in the same
 * layouts (ids back to back; chunk c at c * bands * ND_KEY_CHUNK keys);
 * only the per-text metadata and the chunk being filled stay in memory.
 * This file makes them and writes the key chunks; index_files.c appends a
 * text's ids and reads both back: the library's only file I/O.
 *
 * Raw texts (nd_index_add_raw, nd_index_add_prepared_raw): kept as made
 * and sorted only when read, index_settle.c.
 */
#include "neardup.h"

#include <assert.h> /* assert */
#include <stdio.h>  /* FILE, fwrite, fflush */
#include <stdlib.h> /* mkstemp */
#include <string.h> /* memcpy */
#include <unistd.h> /* unlink, close */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <emmintrin.h> /* SSE2 (every x86-64): put_keys */
#define ND_INDEX_SSE2 1
#endif

#include "alloc.h"
#include "index_add.h"
#include "index_layout.h"
#include "sort.h"
#include "store.h"

int nd_index_new(nd_index **out, const nd_options *opts)
{
    nd_options resolved = *opts;
    if (nd_options_resolve(&resolved) != ND_OK)
        return ND_EINVAL;
    nd_index *index = nd_calloc(1, sizeof *index);
    if (!index)
        return ND_ENOMEM;
    index->opts = resolved;
    index->self = index;
    *out = index;
    return ND_OK;
}

void nd_index_free(nd_index *index)
{
    if (!index)
        return;
    for (size_t b = 0; b < index->block_count; b++)
        nd_free(index->blocks[b].data);
    nd_free(index->blocks);
    nd_free(index->meta);
    nd_free(index->wide);
    nd_free(index->where);
    for (size_t c = 0; c < index->chunk_count; c++)
        nd_free(index->key_chunks[c]);
    nd_free(index->key_chunks);
    nd_free(index->ranks);
    nd_free(index->raw);
    nd_free(index->scratch);
    nd_free(index->copies);
    if (index->ids_file)
        fclose(index->ids_file);
    nd_free(index->ids_buffer); /* (after the fclose that flushes it) */
    if (index->keys_file)
        fclose(index->keys_file);
    nd_free(index);
}

void nd_index_set_threads(nd_index *index, unsigned threads)
{
    index->threads = threads;
}

int nd_index_set_ranks(nd_index *index, const uint64_t *ranks, size_t count)
{
    assert(count <= index->count && (ranks || count == 0));
    uint64_t *copy = nd_malloc((count ? count : 1) * sizeof *copy);
    if (!copy)
        return ND_ENOMEM;
    if (count)
        memcpy(copy, ranks, count * sizeof *copy);
    nd_free(index->ranks);
    index->ranks = copy;
    index->rank_count = count;
    return ND_OK;
}

unsigned nd_index_threads(const nd_index *index)
{
    return index->threads;
}

size_t nd_index_count(const nd_index *index)
{
    return index->count;
}

static size_t chunk_bytes(const nd_index *index)
{
    return (size_t)index->opts.bands * ND_KEY_CHUNK * sizeof(uint32_t);
}

size_t nd_index_memory(const nd_index *index)
{
    size_t bytes = sizeof *index + index->meta_capacity * sizeof *index->meta +
                   index->where_capacity * sizeof *index->where + index->blocks_capacity * sizeof *index->blocks +
                   index->wide_capacity * sizeof *index->wide;
    for (size_t b = 0; b < index->block_count; b++)
        if (!index->blocks[b].adopted)
            bytes += index->blocks[b].used * sizeof *index->blocks[b].data; /* untouched block pages cost nothing */
    bytes += index->kept_ids * sizeof(uint32_t); /* in adopted blocks, or in blocks still being filled */
    bytes += index->chunks_capacity * sizeof *index->key_chunks + index->raw_capacity +
             index->scratch_capacity * sizeof *index->scratch;
    for (size_t c = 0; c < index->chunk_count; c++) {
        if (index->key_chunks[c])
            bytes += chunk_bytes(index);
    }
    return bytes;
}

/* ****  Spilling  **** */

/* An unlinked temporary file in dir, buffered for sequential writes. */
static FILE *temp_file(const char *dir)
{
    char path[4096];
    int n = snprintf(path, sizeof path, "%s/neardup-index-XXXXXX", dir);
    if (n < 0 || (size_t)n >= sizeof path)
        return NULL;
    int fd = mkstemp(path);
    if (fd < 0)
        return NULL;
    unlink(path);
    FILE *f = fdopen(fd, "w+b");
    if (!f)
        close(fd);
    return f;
}

/* Write full chunk c to the keys file (chunks are written in order) and
 * free it. */
static int write_chunk(nd_index *index, size_t c)
{
    size_t bytes = chunk_bytes(index);
    if (fwrite(index->key_chunks[c], 1, bytes, index->keys_file) != bytes)
        return ND_EIO;
    nd_free(index->key_chunks[c]);
    index->key_chunks[c] = NULL;
    return ND_OK;
}

int nd_index_spill(nd_index *index, const char *dir)
{
    if (index->spilled)
        return ND_OK;
    if (nd_index_settle_all(index, 1) != ND_OK) /* the files hold settled ids only; dropped texts stay so */
        return ND_ENOMEM;
    index->ids_file = temp_file(dir);
    index->keys_file = temp_file(dir);
    if (!index->ids_file || !index->keys_file) {
        if (index->ids_file)
            fclose(index->ids_file);
        if (index->keys_file)
            fclose(index->keys_file);
        index->ids_file = index->keys_file = NULL;
        return ND_EIO;
    }
    /* each text's ids written through a buffer of a megabyte, not of the
     * file system's 4 KiB block: a write is a system call, a few
     * microseconds each on a virtual machine (10M documents, --memory 2G:
     * 400k of them). The keys go in chunks of 256 KiB, past any buffer.
     * (glibc's setvbuf takes a size only with a buffer given.) */
    index->ids_buffer = nd_malloc(SPILL_BUFFER);
    if (index->ids_buffer)
        (void)setvbuf(index->ids_file, index->ids_buffer, _IOFBF, SPILL_BUFFER);

    for (size_t i = 0; i < index->count; i++) {
        if (text_dropped(index, i)) /* no ids anywhere: refilled into the file if read (index_refill.c) */
            index->where[i].offset = DROPPED_AT;
        else if (nd_index_append_ids(index, i, index->where[i].memory) != ND_OK)
            return ND_EIO;
    }
    for (size_t c = 0; c < index->count / ND_KEY_CHUNK; c++) {
        if (write_chunk(index, c) != ND_OK)
            return ND_EIO;
    }
    for (size_t b = 0; b < index->block_count; b++)
        nd_free(index->blocks[b].data);
    index->block_count = 0;
    index->kept_ids = 0;
    index->spilled = 1;
    return ND_OK;
}

/* ****  Adding texts  **** */

/* Room for n more texts in the per-text arrays. */
static int reserve_texts(nd_index *index, size_t n)
{
    if (index->count + n <= index->meta_capacity && index->count + n <= index->where_capacity)
        return ND_OK; /* (no call: a paragraph mode's call per document) */
    /* 24 bytes a text, millions of paragraphs: huge pages (alloc.h) */
    if (nd_grow_huge((void **)&index->meta, &index->meta_capacity, index->count + n, sizeof *index->meta) != 0 ||
        nd_grow_huge((void **)&index->where, &index->where_capacity, index->count + n, sizeof *index->where) != 0)
        return ND_ENOMEM;
    return ND_OK;
}

/* Texts after which the first key chunk moves to huge pages (next_chunk):
 * by then each band has touched one 4 KiB page of it. */
enum { FIRST_CHUNK_MOVES_AT = 1024 };

/* Move the first key chunk, in ordinary pages, to huge pages: each band's
 * keys of the texts added so far copied. Returns ND_OK or ND_ENOMEM (the
 * chunk then stays where it is, and the next text tries again). */
static int move_first_chunk(nd_index *index)
{
    size_t count = index->count;
    uint32_t *huge = nd_malloc_huge(chunk_bytes(index));
    if (!huge)
        return ND_ENOMEM;
    for (size_t band = 0; band < index->opts.bands; band++)
        memcpy(huge + band * ND_KEY_CHUNK, index->key_chunks[0] + band * ND_KEY_CHUNK, count * sizeof *huge);
    nd_free(index->key_chunks[0]);
    index->key_chunks[0] = huge;
    return ND_OK;
}

/* The key chunk of the next text, made when it starts one. */
static uint32_t *next_chunk(nd_index *index)
{
    size_t c = index->count / ND_KEY_CHUNK;
    if (index->count == FIRST_CHUNK_MOVES_AT && index->key_chunks[0]) {
        /* the first chunk in ordinary pages while the index is small (a
         * text touches a cache line in each band's 256 KiB: a fault per
         * band every 1024 texts), in huge pages once it grows (16 bands
         * took 780 faults at 50k texts, a sixth of a CJK scan's). Moved
         * after one page a band: a 4 KiB fault cost 14 us on this VM
         * against 1.9 ms for a fresh huge page, so two huge pages cost as
         * much as about 270 small faults. */
        if (move_first_chunk(index) != ND_OK)
            return NULL;
    }
    if (c == index->chunk_count) {
        if (nd_grow((void **)&index->key_chunks, &index->chunks_capacity, c + 1, sizeof *index->key_chunks) != 0)
            return NULL;
        /* the first chunk in ordinary pages (a small index touches a few
         * of them: one text took two huge pages, 4 MiB zeroed, when this
         * was nd_malloc, which gives huge blocks from 2 MiB), the next
         * ones, which are filled, in huge pages: 64 bytes a text, the most
         * of paragraph mode's fresh memory */
        index->key_chunks[c] = c == 0 ? nd_malloc_sparse(chunk_bytes(index)) : nd_malloc_huge(chunk_bytes(index));
        if (!index->key_chunks[c])
            return NULL;
        index->chunk_count++;
    }
    return index->key_chunks[c];
}

/* The next text's weight, past 32 bits, into the list of wide weights
 * (rare: kept out of add_one, which stays small enough to inline). */
#if defined(__GNUC__) || defined(__clang__)
__attribute__((noinline))
#endif
static int
keep_wide_weight(nd_index *index, uint64_t weight)
{
    if (nd_grow((void **)&index->wide, &index->wide_capacity, index->wide_count + 1, sizeof *index->wide) != 0)
        return ND_ENOMEM;
    if (index->wide_count > 0 && index->wide[index->wide_count - 1].doc == index->count)
        index->wide_count--; /* left by an add that failed */
    index->wide[index->wide_count++] = (nd_wide_weight){index->count, weight};
    return ND_OK;
}

/* Room for text `doc`'s raw flag, set to `raw` (no array while no text is
 * raw). */
static int note_raw(nd_index *index, size_t doc, int raw)
{
    if (!raw && !index->raw)
        return ND_OK;
    size_t old = index->raw ? index->raw_capacity : 0;
    if (doc >= old) {
        if (!index->raw)
            index->raw_capacity = 0;
        if (nd_grow((void **)&index->raw, &index->raw_capacity, doc + 1, 1) != 0)
            return ND_ENOMEM;
        memset(index->raw + old, 0, index->raw_capacity - old);
    }
    index->raw[doc] = (unsigned char)raw;
    return ND_OK;
}

/* How add_text takes a text's ids: copied as they are (sorted distinct),
 * copied raw (nd_index_add_raw), or kept raw where they are
 * (nd_index_add_kept). */
enum { COPIED = 0, RAW = 1, KEPT = 2 };

/* A text to add: the prepared text, and its ids where they are kept
 * (KEPT). */
typedef struct {
    nd_prepared_text text;
    uint32_t *kept;
} text_to_add;

/* Add one text (raw: COPIED, RAW or KEPT); the per-text arrays have room
 * for it. Its band keys are written into its key chunk unless `keys_later`
 * (the caller writes them, put_keys). Inlined: a call per text is a
 * paragraph mode's millions of calls. */
#if defined(__GNUC__) || defined(__clang__)
__attribute__((always_inline))
#endif
static inline int
add_text(nd_index *index, const text_to_add *add, int raw, int keys_later)
{
    const nd_prepared_text *t = &add->text;
    unsigned bands = index->opts.bands;
    assert(t->keys && (t->ids || t->count == 0 || raw == KEPT));
    if (index->count >= UINT32_MAX || t->count > UINT32_MAX) /* texts are numbered, and ids counted, in 32 bits */
        return ND_EINVAL;
    uint32_t *chunk = next_chunk(index);
    if (!chunk)
        return ND_ENOMEM;
    uint32_t *kept = NULL;
    if (!index->spilled && t->count > 0 && raw != KEPT) {
        kept = reserve_ids(index, t->count);
        if (!kept)
            return ND_ENOMEM;
    }
    if (t->weight >= ND_WEIGHT_WIDE && keep_wide_weight(index, t->weight) != ND_OK)
        return ND_ENOMEM;
    size_t doc = index->count, c = doc / ND_KEY_CHUNK, slot = doc % ND_KEY_CHUNK;
    if (note_raw(index, doc, raw != 0) != ND_OK)
        return ND_ENOMEM;
    index->raw_left += raw != 0;
    uint32_t weight = t->weight >= ND_WEIGHT_WIDE ? ND_WEIGHT_WIDE : (uint32_t)t->weight;
    index->meta[doc] = (nd_text_meta){.count = (uint32_t)t->count, .weight = weight, .set_hash = t->set_hash};
    index->where[doc].memory = NULL;
    /* the default 16 bands by a loop of known length, unrolled */
    if (keys_later) {
        /* put_keys */
    } else if (bands == 16) {
        for (unsigned j = 0; j < 16; j++)
            chunk[(size_t)j * ND_KEY_CHUNK + slot] = t->keys[j];
    } else {
        for (unsigned j = 0; j < bands; j++)
            chunk[(size_t)j * ND_KEY_CHUNK + slot] = t->keys[j];
    }
    if (index->spilled && t->count > 0 && raw == KEPT && !add->kept) {
        index->where[doc].offset = DROPPED_AT; /* dropped (nd_index_add_dropped): no ids to write */
        index->dropped++;
    } else if (index->spilled) {
        if (nd_index_append_ids(index, doc, t->ids) != ND_OK)
            return ND_EIO;
    } else if (t->count > 0 && raw == KEPT) {
        index->where[doc].memory = add->kept; /* NULL: dropped (nd_index_add_dropped) */
        index->kept_ids += add->kept ? t->count : 0;
        index->dropped += !add->kept;
    } else if (t->count > 0 && kept) {
        memcpy(kept, t->ids, t->count * sizeof *t->ids);
        index->blocks[index->block_count - 1].used += t->count;
        index->where[doc].memory = kept;
    }
    index->count++;
    if (index->spilled && slot == ND_KEY_CHUNK - 1 && write_chunk(index, c) != ND_OK)
        return ND_EIO;
    return ND_OK;
}

static int add_one(nd_index *index, const nd_prepared_text *t)
{
    text_to_add add = {*t, NULL};
    return add_text(index, &add, COPIED, 0);
}

int nd_index_add_prepared(nd_index *index, const nd_prepared_text *texts, size_t n)
{
    if (reserve_texts(index, n) != ND_OK)
        return ND_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        int rc = add_one(index, &texts[i]);
        if (rc != ND_OK)
            return rc;
    }
    return ND_OK;
}

int nd_index_add_ids(nd_index *index, const uint32_t *ids, size_t count, const uint64_t *keys, uint64_t weight)
{
    uint32_t folded[ND_MAX_PERM];
    assert(keys && (ids || count == 0));
    nd_index_fold_keys(folded, keys, index->opts.bands);
    nd_prepared_text t = {ids, count, nd_index_set_hash(ids, count), folded, weight};
    if (reserve_texts(index, 1) != ND_OK)
        return ND_ENOMEM;
    return add_one(index, &t);
}

/* Add a raw text (nd_index_add_raw) whose keys are folded; the per-text
 * arrays have room for it. */
static int add_raw(nd_index *index, const uint32_t *ids, size_t count, const uint32_t *folded, uint64_t weight)
{
    if (count == 0 || index->spilled) {
        /* nothing to sort, or straight to the ids file, settled (a copy
         * sorted in the scratch) */
        nd_prepared_text t = {ids, 0, nd_index_set_hash(NULL, 0), folded, weight};
        if (count > 0) {
            if (nd_grow((void **)&index->scratch, &index->scratch_capacity, 2 * count, sizeof *index->scratch) != 0)
                return ND_ENOMEM;
            uint32_t *copy = index->scratch + count;
            memcpy(copy, ids, count * sizeof *ids);
            t.count = nd_sort_distinct_u32(copy, index->scratch, count);
            t.ids = copy;
            t.set_hash = nd_index_set_hash(copy, t.count);
        }
        return add_one(index, &t);
    }
    text_to_add add = {{ids, count, 0, folded, weight}, NULL};
    return add_text(index, &add, RAW, 0);
}

int nd_index_add_raw(nd_index *index, const uint32_t *ids, size_t count, const uint64_t *keys, uint64_t weight)
{
    uint32_t folded[ND_MAX_PERM];
    assert(keys && (ids || count == 0));
    nd_index_fold_keys(folded, keys, index->opts.bands);
    if (reserve_texts(index, 1) != ND_OK)
        return ND_ENOMEM;
    return add_raw(index, ids, count, folded, weight);
}

int nd_index_add_prepared_raw(nd_index *index, const nd_prepared_text *texts, size_t n)
{
    if (reserve_texts(index, n) != ND_OK)
        return ND_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        int rc = add_raw(index, texts[i].ids, texts[i].count, texts[i].keys, texts[i].weight);
        if (rc != ND_OK)
            return rc;
    }
    return ND_OK;
}

uint32_t *nd_index_ids_block_new(size_t capacity)
{
    /* filled front to back: a fault per 2 MiB (alloc.h) */
    return nd_malloc_huge((capacity ? capacity : 1) * sizeof(uint32_t));
}

void nd_index_ids_block_free(uint32_t *block)
{
    nd_free(block);
}

int nd_index_adopt_ids(nd_index *index, uint32_t *block, size_t capacity)
{
    if (index->spilled) { /* its texts' ids are in the ids file */
        nd_free(block);
        return ND_OK;
    }
    if (nd_grow((void **)&index->blocks, &index->blocks_capacity, index->block_count + 1, sizeof *index->blocks) != 0)
        return ND_ENOMEM;
    /* full: texts copied in later go to a block of their own */
    index->blocks[index->block_count++] = (id_block){block, capacity, capacity, 1};
    return ND_OK;
}

int nd_index_add_kept(nd_index *index, const uint32_t *ids, size_t count, const uint64_t *keys, uint64_t weight)
{
    if (count == 0 || index->spilled)
        return nd_index_add_raw(index, ids, count, keys, weight);
    uint32_t folded[ND_MAX_PERM];
    assert(keys && ids);
    nd_index_fold_keys(folded, keys, index->opts.bands);
    if (reserve_texts(index, 1) != ND_OK)
        return ND_ENOMEM;
    /* the caller's block, adopted: writable (the const is the API's) */
    text_to_add add = {{ids, count, 0, folded, weight}, (uint32_t *)(uintptr_t)ids};
    return add_text(index, &add, KEPT, 0);
}

int nd_index_add_dropped(nd_index *index, size_t count, const uint64_t *keys, uint64_t weight)
{
    if (count == 0)
        return ND_EINVAL; /* nothing to drop */
    uint32_t folded[ND_MAX_PERM];
    assert(keys);
    nd_index_fold_keys(folded, keys, index->opts.bands);
    if (reserve_texts(index, 1) != ND_OK)
        return ND_ENOMEM;
    text_to_add add = {{NULL, count, 0, folded, weight}, NULL};
    return add_text(index, &add, KEPT, 0);
}

/* The band keys of texts[0..n), added as texts first.. in one key chunk,
 * written four bands at a time: a text's keys, written at once, went to
 * `bands` places ND_KEY_CHUNK keys (256 KiB) apart, which share one set of
 * a 32 KiB 8-way L1 cache: the 16 lines of the default bands evicted each
 * other at every unit. Four bands at a time, a run of texts fills four
 * lines of a set at once (10k syndicated paragraphs, callgrind: D1 write
 * misses in the add 1.35M -> 0.27M). With SSE2, four texts' keys of four
 * bands are one 4 x 4 transpose (a band at a time took 119 instructions a
 * unit, four at a time with scalar copies 75; the texts past a multiple of
 * four, and the bands, go one by one). */
static void put_keys(nd_index *index, size_t first, const nd_prepared_text *texts, size_t n)
{
    enum { STEP = 64 };
    const uint32_t *from[STEP];
    unsigned bands = index->opts.bands;
    if (n == 0)
        return; /* (its chunk may not be made) */
    uint32_t *chunk = index->key_chunks[first / ND_KEY_CHUNK] + first % ND_KEY_CHUNK;
    for (size_t i0 = 0; i0 < n; i0 += STEP) {
        size_t k = n - i0 < STEP ? n - i0 : STEP;
        for (size_t i = 0; i < k; i++)
            from[i] = texts[i0 + i].keys;
        unsigned j = 0;
        for (; j + 4 <= bands; j += 4) {
            uint32_t *to0 = chunk + (size_t)j * ND_KEY_CHUNK + i0, *to1 = to0 + ND_KEY_CHUNK, *to2 = to1 + ND_KEY_CHUNK,
                     *to3 = to2 + ND_KEY_CHUNK;
            size_t i = 0;
#ifdef ND_INDEX_SSE2
            for (; i + 4 <= k; i += 4) {
                __m128i a = _mm_loadu_si128((const __m128i *)(const void *)(from[i] + j));
                __m128i b = _mm_loadu_si128((const __m128i *)(const void *)(from[i + 1] + j));
                __m128i c = _mm_loadu_si128((const __m128i *)(const void *)(from[i + 2] + j));
                __m128i d = _mm_loadu_si128((const __m128i *)(const void *)(from[i + 3] + j));
                __m128i ab0 = _mm_unpacklo_epi32(a, b), ab1 = _mm_unpackhi_epi32(a, b);
                __m128i cd0 = _mm_unpacklo_epi32(c, d), cd1 = _mm_unpackhi_epi32(c, d);
                _mm_storeu_si128((__m128i *)(void *)(to0 + i), _mm_unpacklo_epi64(ab0, cd0));
                _mm_storeu_si128((__m128i *)(void *)(to1 + i), _mm_unpackhi_epi64(ab0, cd0));
                _mm_storeu_si128((__m128i *)(void *)(to2 + i), _mm_unpacklo_epi64(ab1, cd1));
                _mm_storeu_si128((__m128i *)(void *)(to3 + i), _mm_unpackhi_epi64(ab1, cd1));
            }
#endif
            for (; i < k; i++) {
                const uint32_t *key = from[i] + j;
                to0[i] = key[0];
                to1[i] = key[1];
                to2[i] = key[2];
                to3[i] = key[3];
            }
        }
        for (; j < bands; j++) {
            uint32_t *to = chunk + (size_t)j * ND_KEY_CHUNK + i0;
            for (size_t i = 0; i < k; i++)
                to[i] = from[i][j];
        }
    }
}

int nd_index_add_prepared_kept(nd_index *index, const nd_prepared_text *texts, size_t n)
{
    if (reserve_texts(index, n) != ND_OK)
        return ND_ENOMEM;
    if (index->spilled) { /* every text to the files, its keys with it */
        for (size_t i = 0; i < n; i++) {
            int rc = add_raw(index, texts[i].ids, texts[i].count, texts[i].keys, texts[i].weight);
            if (rc != ND_OK)
                return rc;
        }
        return ND_OK;
    }
    uint64_t empty = nd_index_set_hash(NULL, 0);
    for (size_t i = 0; i < n;) {
        /* the texts that go to the current key chunk; their keys after them */
        size_t first = index->count, room = ND_KEY_CHUNK - first % ND_KEY_CHUNK;
        size_t k = n - i < room ? n - i : room, added = 0;
        int rc = ND_OK;
        while (added < k && rc == ND_OK) {
            const nd_prepared_text *t = &texts[i + added];
            if (t->count == 0) {
                text_to_add add = {{t->ids, 0, empty, t->keys, t->weight}, NULL};
                rc = add_text(index, &add, COPIED, 1);
            } else {
                /* the caller's block, adopted: writable (the const is the API's) */
                text_to_add add = {{t->ids, t->count, 0, t->keys, t->weight}, (uint32_t *)(uintptr_t)t->ids};
                rc = add_text(index, &add, KEPT, 1);
            }
            added += rc == ND_OK;
        }
        put_keys(index, first, texts + i, added); /* those added, also when one failed */
        if (rc != ND_OK)
            return rc;
        i += k;
    }
    return ND_OK;
}

int nd_index_add(nd_index *index, nd_sketch *sketch, uint64_t weight)
{
    uint64_t keys[ND_MAX_PERM];
    nd_lsh_band_keys(keys, sketch->signature, index->opts.bands, index->opts.rows);
    int rc = nd_index_add_ids(index, sketch->ids, sketch->count, keys, weight);
    if (rc == ND_OK) {
        nd_free(sketch->ids); /* the index keeps its own copy */
        sketch->ids = NULL;
        sketch->count = 0;
    }
    return rc;
}
