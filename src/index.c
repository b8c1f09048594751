/* index.c - collect sketches, propose candidates by LSH, verify, cluster.
 *
 * Per text the index keeps only what clustering needs: the sorted shingle
 * ids (for exact verification), a hash of that set (to find identical
 * sets), its LSH band keys (b keys instead of the whole signature, folded
 * to 32 bits) and a weight (for --keep longest).
 *
 * Why 32-bit band keys: a band key only proposes candidates, and every
 * candidate is verified exactly, so a key collision costs one extra
 * verification and never a wrong match. Among n texts a band has about
 * n^2 / 2^33 chance collisions: 116 at a million texts, 11,600 at ten
 * million, per band, against the pairs LSH proposes anyway. In exchange
 * the keys take half the memory and each band sorts in four radix passes
 * over 8-byte (key, text) entries instead of eight over 16 bytes.
 *
 * Clustering (nd_index_cluster) in three steps:
 *
 * 1. Identical sets. Texts are sorted by set hash; equal sets are joined
 *    with Jaccard 1 and only the first of each group goes on to LSH, so a
 *    thousand copies cost a sort, not half a million pair checks.
 * 2. Candidates. For each band the (key, text) pairs are sorted (stable,
 *    so texts stay in input order within a key); texts that share a key
 *    are candidates. A candidate pair already in one component
 *    is skipped, and one already rejected is not checked again, so a bucket
 *    of m near-copies costs about m verifications, not m^2 / 2. Every other
 *    candidate is verified with the exact Jaccard of the two id sets and
 *    joined (union-find) only if it reaches the threshold.
 * 3. Verified clusters. A connected component can chain: A~B and B~C with
 *    A and C unrelated. Each component is therefore split by greedy set
 *    cover: the member matching the most others is a center, it and its
 *    matches form a cluster, repeat on the rest. The survivor is the first
 *    member (by --keep policy) that matches every other member of its
 *    cluster, so every member is verified against the text kept in its
 *    place (see split_component).
 *
 * Everything runs in input order on one thread, except that with
 * nd_index_set_threads() the bands of step 2 are sorted in parallel (see
 * join_verified_candidates); the output depends only on the input, the
 * options and the seed.
 */
#include "neardup.h"

#include <pthread.h> /* pthread_create, pthread_join */
#include <stdio.h>   /* FILE, fwrite, fileno */
#include <stdlib.h>  /* qsort, mkstemp */
#include <string.h>  /* memcmp, memcpy */
#include <unistd.h>  /* pread, unlink, close */

#include "alloc.h"
#include "hash.h"
#include "sort.h"
#include "uf.h"

typedef struct {
    uint32_t *ids;   /* in memory, or NULL once spilled */
    uint64_t offset; /* spilled: position of the ids in the ids file, in ids */
    size_t count;
    uint64_t set_hash;
    uint64_t weight;
} doc_entry;

/* The shingle ids of all texts are copied back to back into large blocks:
 * no allocation per text, and at nd_index_spill (or the end) a few large
 * frees that give the memory back to the system at once (blocks of 64 MiB
 * are above glibc's largest mmap threshold, so each is its own mapping). */
enum { ID_BLOCK = 16 << 20 }; /* ids per block (64 MiB) */

typedef struct {
    uint32_t *data;
    size_t used, capacity; /* in ids */
} id_block;

/* Band keys are kept in chunks of KEY_CHUNK texts; a chunk holds one block
 * per band with the chunk's keys for that band, so that reading one band
 * is sequential. Spilled, the full chunks are written to the keys file in
 * the same layout (chunk c at c * bands * KEY_CHUNK keys) and only the
 * chunk being filled stays in memory. */
enum { KEY_CHUNK = 1 << 16 };

struct nd_index {
    nd_options opts;
    doc_entry *docs;
    size_t count, capacity;
    uint32_t **key_chunks; /* bands x KEY_CHUNK keys each; NULL once written to the keys file */
    size_t chunk_count, chunks_capacity;
    id_block *blocks; /* where the ids are kept in memory */
    size_t block_count, blocks_capacity;
    unsigned threads; /* for nd_index_cluster (nd_index_set_threads) */
    /* spill mode */
    int spilled;
    FILE *ids_file; /* ids, back to back */
    uint64_t ids_written;
    FILE *keys_file; /* full key chunks */
};

int nd_index_new(nd_index **out, const nd_options *opts)
{
    nd_options resolved = *opts;
    if (nd_options_resolve(&resolved) != ND_OK)
        return ND_EINVAL;
    nd_index *index = nd_calloc(1, sizeof *index);
    if (!index)
        return ND_ENOMEM;
    index->opts = resolved;
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
    nd_free(index->docs);
    for (size_t c = 0; c < index->chunk_count; c++)
        nd_free(index->key_chunks[c]);
    nd_free(index->key_chunks);
    if (index->ids_file)
        fclose(index->ids_file);
    if (index->keys_file)
        fclose(index->keys_file);
    nd_free(index);
}

void nd_index_set_threads(nd_index *index, unsigned threads)
{
    index->threads = threads;
}

size_t nd_index_count(const nd_index *index)
{
    return index->count;
}

static size_t chunk_bytes(const nd_index *index)
{
    return (size_t)index->opts.bands * KEY_CHUNK * sizeof(uint32_t);
}

size_t nd_index_memory(const nd_index *index)
{
    size_t bytes = sizeof *index + index->capacity * sizeof(doc_entry) + index->blocks_capacity * sizeof *index->blocks;
    for (size_t b = 0; b < index->block_count; b++)
        bytes += index->blocks[b].used * sizeof *index->blocks[b].data; /* untouched block pages cost nothing */
    bytes += index->chunks_capacity * sizeof *index->key_chunks;
    for (size_t c = 0; c < index->chunk_count; c++) {
        if (index->key_chunks[c])
            bytes += chunk_bytes(index);
    }
    return bytes;
}

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

static int spill_ids(nd_index *index, doc_entry *d, const uint32_t *ids)
{
    if (d->count > 0 && fwrite(ids, sizeof *ids, d->count, index->ids_file) != d->count)
        return ND_EIO;
    d->offset = index->ids_written;
    index->ids_written += d->count;
    return ND_OK;
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
    for (size_t i = 0; i < index->count; i++) {
        if (spill_ids(index, &index->docs[i], index->docs[i].ids) != ND_OK)
            return ND_EIO;
    }
    for (size_t c = 0; c < index->count / KEY_CHUNK; c++) {
        if (write_chunk(index, c) != ND_OK)
            return ND_EIO;
    }
    for (size_t i = 0; i < index->count; i++)
        index->docs[i].ids = NULL;
    for (size_t b = 0; b < index->block_count; b++)
        nd_free(index->blocks[b].data);
    index->block_count = 0;
    index->spilled = 1;
    return ND_OK;
}

static uint32_t fold_key(uint64_t key)
{
    return (uint32_t)(key ^ (key >> 32));
}

/* Room for n ids in the last block (or a new one); NULL when out of memory. */
static uint32_t *reserve_ids(nd_index *index, size_t n)
{
    id_block *last = index->block_count ? &index->blocks[index->block_count - 1] : NULL;
    if (!last || last->capacity - last->used < n) {
        if (nd_grow((void **)&index->blocks, &index->blocks_capacity, index->block_count + 1, sizeof *index->blocks) !=
            0)
            return NULL;
        size_t capacity = n > ID_BLOCK ? n : ID_BLOCK;
        uint32_t *data = nd_malloc(capacity * sizeof *data);
        if (!data)
            return NULL;
        last = &index->blocks[index->block_count++];
        *last = (id_block){data, 0, capacity};
    }
    return last->data + last->used;
}

int nd_index_add_ids(nd_index *index, const uint32_t *ids, size_t count, const uint64_t *keys, uint64_t weight)
{
    unsigned bands = index->opts.bands;
    if (index->count >= UINT32_MAX) /* texts are numbered in 32 bits while clustering */
        return ND_EINVAL;
    if (nd_grow((void **)&index->docs, &index->capacity, index->count + 1, sizeof *index->docs) != 0)
        return ND_ENOMEM;
    size_t c = index->count / KEY_CHUNK, slot = index->count % KEY_CHUNK;
    if (c == index->chunk_count) {
        if (nd_grow((void **)&index->key_chunks, &index->chunks_capacity, c + 1, sizeof *index->key_chunks) != 0)
            return ND_ENOMEM;
        index->key_chunks[c] = nd_malloc(chunk_bytes(index));
        if (!index->key_chunks[c])
            return ND_ENOMEM;
        index->chunk_count++;
    }
    uint32_t *kept = NULL;
    if (!index->spilled && count > 0) {
        kept = reserve_ids(index, count);
        if (!kept)
            return ND_ENOMEM;
    }
    doc_entry *d = &index->docs[index->count];
    d->ids = NULL;
    d->count = count;
    d->offset = 0;
    d->set_hash = nd_hash64(ids, count * sizeof *ids, 0);
    d->weight = weight;
    uint32_t *chunk = index->key_chunks[c];
    for (unsigned j = 0; j < bands; j++)
        chunk[(size_t)j * KEY_CHUNK + slot] = fold_key(keys[j]);
    if (index->spilled) {
        if (spill_ids(index, d, ids) != ND_OK)
            return ND_EIO;
    } else if (count > 0) {
        memcpy(kept, ids, count * sizeof *ids);
        index->blocks[index->block_count - 1].used += count;
        d->ids = kept;
    }
    index->count++;
    if (index->spilled && slot == KEY_CHUNK - 1 && write_chunk(index, c) != ND_OK)
        return ND_EIO;
    return ND_OK;
}

int nd_index_add(nd_index *index, nd_sketch *sketch, uint64_t weight)
{
    uint64_t keys[4096];
    nd_lsh_band_keys(keys, sketch->signature, index->opts.bands, index->opts.rows);
    int rc = nd_index_add_ids(index, sketch->ids, sketch->count, keys, weight);
    if (rc == ND_OK) {
        nd_free(sketch->ids); /* the index keeps its own copy */
        sketch->ids = NULL;
        sketch->count = 0;
    }
    return rc;
}

/* ****  Reading ids and keys back  **** */

typedef struct {
    uint32_t *data;
    size_t capacity;
} id_buffer;

/* The ids of doc: in memory, or read from the ids file into buf. NULL with
 * *rc set on failure. */
static const uint32_t *load_ids(const nd_index *index, size_t doc, id_buffer *buf, int *rc)
{
    const doc_entry *d = &index->docs[doc];
    if (!index->spilled || d->count == 0)
        return d->ids;
    if (nd_grow((void **)&buf->data, &buf->capacity, d->count, sizeof(uint32_t)) != 0) {
        *rc = ND_ENOMEM;
        return NULL;
    }
    size_t want = d->count * sizeof(uint32_t), got = 0;
    off_t at = (off_t)(d->offset * sizeof(uint32_t));
    while (got < want) {
        ssize_t n = pread(fileno(index->ids_file), (char *)buf->data + got, want - got, at + (off_t)got);
        if (n <= 0) {
            *rc = ND_EIO;
            return NULL;
        }
        got += (size_t)n;
    }
    return buf->data;
}

/* The keys of band `band` for the texts of chunk c: in memory, or read
 * from the keys file into buf (KEY_CHUNK keys). NULL on a read error. */
static const uint32_t *band_keys(const nd_index *index, unsigned band, size_t c, uint32_t *buf)
{
    if (index->key_chunks[c])
        return index->key_chunks[c] + (size_t)band * KEY_CHUNK;
    size_t bytes = KEY_CHUNK * sizeof *buf, got = 0;
    off_t at = (off_t)(((uint64_t)c * index->opts.bands + band) * bytes);
    while (got < bytes) {
        ssize_t n = pread(fileno(index->keys_file), (char *)buf + got, bytes - got, at + (off_t)got);
        if (n <= 0)
            return NULL;
        got += (size_t)n;
    }
    return buf;
}

/* ****  A set of rejected pairs (open addressing, linear probing)  **** */

typedef struct {
    uint64_t *keys; /* pairs packed as (a + 1) << 32 | (b + 1) when they fit, else hashed */
    size_t capacity, count;
} pair_set;

static uint64_t pair_key(size_t a, size_t b)
{
    uint64_t ab[2] = {(uint64_t)a, (uint64_t)b};
    uint64_t k = nd_hash64(ab, sizeof ab, 0x7061697273ULL);
    return k ? k : 1; /* 0 marks an empty slot */
}

static int pair_set_contains(const pair_set *set, uint64_t key)
{
    if (set->capacity == 0)
        return 0;
    size_t mask = set->capacity - 1;
    for (size_t i = key & mask;; i = (i + 1) & mask) {
        if (set->keys[i] == key)
            return 1;
        if (set->keys[i] == 0)
            return 0;
    }
}

static int pair_set_insert(pair_set *set, uint64_t key)
{
    if ((set->count + 1) * 2 > set->capacity) {
        size_t new_capacity = set->capacity ? set->capacity * 2 : 1024;
        uint64_t *keys = nd_calloc(new_capacity, sizeof *keys);
        if (!keys)
            return ND_ENOMEM;
        size_t mask = new_capacity - 1;
        for (size_t j = 0; j < set->capacity; j++) {
            uint64_t k = set->keys[j];
            if (!k)
                continue;
            size_t i = k & mask;
            while (keys[i])
                i = (i + 1) & mask;
            keys[i] = k;
        }
        nd_free(set->keys);
        set->keys = keys;
        set->capacity = new_capacity;
    }
    size_t mask = set->capacity - 1;
    size_t i = key & mask;
    while (set->keys[i] && set->keys[i] != key)
        i = (i + 1) & mask;
    if (!set->keys[i]) {
        set->keys[i] = key;
        set->count++;
    }
    return ND_OK;
}

/* ****  Clusters  **** */

struct nd_clusters {
    nd_member *members;
    size_t members_count, members_capacity;
    size_t *starts; /* cluster i is members[starts[i] .. starts[i + 1]) */
    size_t count, starts_capacity;
};

size_t nd_clusters_count(const nd_clusters *clusters)
{
    return clusters->count;
}

size_t nd_clusters_get(const nd_clusters *clusters, size_t i, const nd_member **members)
{
    *members = clusters->members + clusters->starts[i];
    return clusters->starts[i + 1] - clusters->starts[i];
}

void nd_clusters_free(nd_clusters *clusters)
{
    if (!clusters)
        return;
    nd_free(clusters->members);
    nd_free(clusters->starts);
    nd_free(clusters);
}

/* ****  Clustering  **** */

typedef struct {
    uint64_t key;
    size_t doc;
} keyed_doc;

/* sort_keyed(keyed, tmp, n): by key, eight passes of 8 bits (passes where
 * every key has the same byte skipped). Stable: entries are added in
 * document order, so equal keys stay in document order, as canonical
 * output needs. Linear time where qsort with a comparison callback took
 * most of clustering at millions of texts. */
#define KEYED_KEY(entry) ((entry).key)
ND_DEFINE_RADIX_SORT(sort_keyed, keyed_doc, KEYED_KEY, 0, 56)

static int same_ids(const uint32_t *a, size_t na, const uint32_t *b, size_t nb)
{
    return na == nb && (na == 0 || memcmp(a, b, na * sizeof *a) == 0);
}

/* Exact Jaccard of two sets (1 when they are the same set). */
static double ids_jaccard(const uint32_t *a, size_t na, const uint32_t *b, size_t nb)
{
    return same_ids(a, na, b, nb) ? (na ? 1.0 : 0.0) : nd_jaccard(a, na, b, nb);
}

static int reaches(double jaccard, double threshold)
{
    return jaccard >= threshold - 1e-12;
}

typedef struct {
    const nd_index *index;
    nd_uf uf;
    unsigned char *is_representative;
    keyed_doc *keyed, *keyed_tmp; /* (set hash, text) */
    uint64_t *band, *band_tmp;    /* (band key << 32 | text) */
    pair_set rejected;
    nd_cluster_stats stats;
    id_buffer buf_a, buf_b; /* ids read back in spill mode */
    uint32_t *band_chunk;   /* one chunk of one band, in spill mode */
    int io_status;          /* ND_OK, or the first read error */
} cluster_state;

/* ids of doc into one of the state's buffers (NULL on a read error). */
static const uint32_t *state_ids(cluster_state *st, size_t doc, id_buffer *buf)
{
    return load_ids(st->index, doc, buf, &st->io_status);
}

/* Step 1: join identical sets; mark one representative per set. */
static int join_identical_sets(cluster_state *st)
{
    const nd_index *index = st->index;
    size_t m = 0;
    for (size_t d = 0; d < index->count; d++) {
        if (index->docs[d].count > 0) {
            st->keyed[m].key = index->docs[d].set_hash;
            st->keyed[m].doc = d;
            m++;
        }
    }
    sort_keyed(st->keyed, st->keyed_tmp, m);
    for (size_t i = 0; i < m;) {
        size_t j = i + 1;
        while (j < m && st->keyed[j].key == st->keyed[i].key)
            j++;
        st->is_representative[st->keyed[i].doc] = 1;
        if (j - i > 1)
            st->stats.exact_groups++;
        const doc_entry *first = &index->docs[st->keyed[i].doc];
        const uint32_t *first_ids = j - i > 1 ? state_ids(st, st->keyed[i].doc, &st->buf_a) : NULL;
        for (size_t k = i + 1; k < j; k++) {
            const doc_entry *other = &index->docs[st->keyed[k].doc];
            const uint32_t *other_ids = state_ids(st, st->keyed[k].doc, &st->buf_b);
            if (st->io_status != ND_OK)
                return st->io_status;
            if (same_ids(first_ids, first->count, other_ids, other->count))
                nd_uf_union(&st->uf, st->keyed[i].doc, st->keyed[k].doc);
            else
                st->is_representative[st->keyed[k].doc] = 1; /* a 64-bit hash collision */
        }
        i = j;
    }
    return st->io_status;
}

/* Step 2: LSH candidates, verified.
 *
 * Preparing a band (gathering the keys of the representatives and sorting
 * them) is most of the work and bands are independent, so with threads
 * the bands are prepared T at a time in parallel; they are then verified
 * one after the other in band order on this thread, so the union-find and
 * the clusters are the same for any T. */
typedef struct {
    const nd_index *index;
    const unsigned char *is_representative;
    unsigned band;
    uint64_t *entries, *tmp; /* (key << 32 | text), sorted into entries */
    uint32_t *chunk_buf;     /* spilled keys read back */
    size_t count;
    int rc;
} band_job;

static void prepare_band(band_job *job)
{
    const nd_index *index = job->index;
    size_t m = 0;
    const uint32_t *keys = NULL;
    job->rc = ND_OK;
    for (size_t d = 0; d < index->count; d++) {
        if (d % KEY_CHUNK == 0) {
            keys = band_keys(index, job->band, d / KEY_CHUNK, job->chunk_buf);
            if (!keys) {
                job->rc = ND_EIO;
                return;
            }
        }
        if (job->is_representative[d])
            job->entries[m++] = (uint64_t)keys[d % KEY_CHUNK] << 32 | d;
    }
    nd_sort_u64_high32(job->entries, job->tmp, m);
    job->count = m;
}

static void *prepare_band_thread(void *arg)
{
    prepare_band(arg);
    return NULL;
}

/* Verify the candidates of one prepared band: texts sharing a key. */
static int verify_band(cluster_state *st, const uint64_t *entries, size_t m)
{
    const nd_index *index = st->index;
    double threshold = index->opts.threshold;
    for (size_t i = 0; i < m;) {
        size_t j = i + 1;
        while (j < m && entries[j] >> 32 == entries[i] >> 32)
            j++;
        for (size_t p = i; p < j; p++) {
            const uint32_t *ids_a = NULL;
            for (size_t q = p + 1; q < j; q++) {
                size_t a = (uint32_t)entries[p], b = (uint32_t)entries[q];
                if (nd_uf_find(&st->uf, a) == nd_uf_find(&st->uf, b))
                    continue;
                uint64_t key = pair_key(a, b);
                if (pair_set_contains(&st->rejected, key))
                    continue;
                st->stats.candidate_pairs++;
                if (!ids_a)
                    ids_a = state_ids(st, a, &st->buf_a);
                const uint32_t *ids_b = state_ids(st, b, &st->buf_b);
                if (st->io_status != ND_OK)
                    return st->io_status;
                double jac = ids_jaccard(ids_a, index->docs[a].count, ids_b, index->docs[b].count);
                if (reaches(jac, threshold)) {
                    st->stats.verified_pairs++;
                    nd_uf_union(&st->uf, a, b);
                } else if (pair_set_insert(&st->rejected, key) != ND_OK) {
                    return ND_ENOMEM;
                }
            }
        }
        i = j;
    }
    return ND_OK;
}

enum { MAX_CLUSTER_THREADS = 64 };

static int join_verified_candidates(cluster_state *st)
{
    const nd_index *index = st->index;
    unsigned bands = index->opts.bands;
    band_job jobs[MAX_CLUSTER_THREADS];
    pthread_t threads[MAX_CLUSTER_THREADS];
    int started[MAX_CLUSTER_THREADS];
    unsigned width = index->threads < 1 ? 1 : index->threads;
    if (width > MAX_CLUSTER_THREADS)
        width = MAX_CLUSTER_THREADS;
    if (width > bands)
        width = bands;
    /* job 0 uses the state's buffers; the others get their own, and if
     * memory is short there are simply fewer jobs */
    unsigned jobs_ready = 0;
    int rc = ND_OK;
    for (unsigned t = 0; t < width; t++) {
        band_job *job = &jobs[t];
        memset(job, 0, sizeof *job);
        job->index = index;
        job->is_representative = st->is_representative;
        if (t == 0) {
            job->entries = st->band;
            job->tmp = st->band_tmp;
            job->chunk_buf = st->band_chunk;
        } else {
            job->entries = nd_malloc((index->count + 1) * 2 * sizeof *job->entries);
            job->chunk_buf = index->spilled ? nd_malloc(KEY_CHUNK * sizeof *job->chunk_buf) : NULL;
            if (!job->entries || (index->spilled && !job->chunk_buf)) {
                nd_free(job->entries);
                nd_free(job->chunk_buf);
                break;
            }
            job->tmp = job->entries + index->count + 1;
        }
        jobs_ready++;
    }
    for (unsigned first = 0; first < bands && rc == ND_OK; first += jobs_ready) {
        unsigned n = bands - first < jobs_ready ? bands - first : jobs_ready;
        for (unsigned t = 0; t < n; t++) {
            jobs[t].band = first + t;
            started[t] = t > 0 && pthread_create(&threads[t], NULL, prepare_band_thread, &jobs[t]) == 0;
        }
        for (unsigned t = 0; t < n; t++) {
            if (!started[t])
                prepare_band(&jobs[t]);
        }
        for (unsigned t = 1; t < n; t++) {
            if (started[t])
                pthread_join(threads[t], NULL);
        }
        for (unsigned t = 0; t < n && rc == ND_OK; t++) {
            rc = jobs[t].rc;
            if (rc == ND_OK)
                rc = verify_band(st, jobs[t].entries, jobs[t].count);
        }
    }
    for (unsigned t = 1; t < jobs_ready; t++) {
        nd_free(jobs[t].entries);
        nd_free(jobs[t].chunk_buf);
    }
    return rc;
}

static int push_member(nd_clusters *c, size_t doc, double jaccard)
{
    if (nd_grow((void **)&c->members, &c->members_capacity, c->members_count + 1, sizeof *c->members) != 0)
        return ND_ENOMEM;
    c->members[c->members_count].doc = doc;
    c->members[c->members_count].jaccard = jaccard;
    c->members_count++;
    return ND_OK;
}

static int close_cluster(nd_clusters *c)
{
    if (nd_grow((void **)&c->starts, &c->starts_capacity, c->count + 2, sizeof *c->starts) != 0)
        return ND_ENOMEM;
    c->count++;
    c->starts[c->count] = c->members_count;
    return ND_OK;
}

/* qsort has no context argument; the member arrays are sorted by weight
 * through this file-local pointer, used only inside nd_index_cluster on the
 * caller's thread. */
static _Thread_local const doc_entry *sort_docs;

static int compare_longest_first(const void *pa, const void *pb)
{
    size_t a = *(const size_t *)pa, b = *(const size_t *)pb;
    uint64_t wa = sort_docs[a].weight, wb = sort_docs[b].weight;
    if (wa != wb)
        return wa > wb ? -1 : 1;
    return (a > b) - (a < b);
}

static int compare_size(const void *pa, const void *pb)
{
    size_t a = *(const size_t *)pa, b = *(const size_t *)pb;
    return (a > b) - (a < b);
}

/* Append one cluster: the survivor, then the others in input order with
 * their exact Jaccard against it. */
static int emit_cluster(nd_clusters *out, size_t survivor, nd_member *others, size_t count)
{
    for (size_t a = 1; a < count; a++) {
        nd_member x = others[a];
        size_t b = a;
        while (b > 0 && others[b - 1].doc > x.doc) {
            others[b] = others[b - 1];
            b--;
        }
        others[b] = x;
    }
    int rc = push_member(out, survivor, 1.0);
    for (size_t k = 0; rc == ND_OK && k < count; k++)
        rc = push_member(out, others[k].doc, others[k].jaccard);
    return rc == ND_OK ? close_cluster(out) : rc;
}

/* Components larger than this are split around survivors in policy order
 * (linear in the component per cluster) instead of around centers (which
 * needs all pairwise Jaccards). */
enum { CENTER_LIMIT = 400 };

/* Star split for large components: the first remaining member by policy
 * is the survivor; every remaining member that reaches the threshold with
 * it joins. */
static int star_split(cluster_state *st, size_t *members, size_t n, size_t *scratch, nd_clusters *out)
{
    const nd_index *index = st->index;
    const doc_entry *docs = index->docs;
    nd_member *others = nd_malloc(n * sizeof *others);
    if (!others)
        return ND_ENOMEM;
    size_t remaining = n;
    int rc = ND_OK;
    while (rc == ND_OK && remaining >= 2) {
        size_t survivor = members[0];
        size_t count = 0, left = 0;
        const uint32_t *survivor_ids = state_ids(st, survivor, &st->buf_a);
        for (size_t i = 1; i < remaining && st->io_status == ND_OK; i++) {
            const uint32_t *ids = state_ids(st, members[i], &st->buf_b);
            if (st->io_status != ND_OK)
                break;
            double j = ids_jaccard(survivor_ids, docs[survivor].count, ids, docs[members[i]].count);
            if (reaches(j, index->opts.threshold))
                others[count++] = (nd_member){members[i], j};
            else
                scratch[left++] = members[i];
        }
        if (st->io_status != ND_OK)
            rc = st->io_status;
        else if (count > 0)
            rc = emit_cluster(out, survivor, others, count);
        memcpy(members, scratch, left * sizeof *members);
        remaining = left;
    }
    nd_free(others);
    return rc;
}

/* Step 3: split one component (members in policy order: input order, or
 * longest first) into verified clusters, appended to out.
 *
 * Greedy set cover on the graph of pairs that reach the threshold: the
 * center is the remaining member with the most remaining neighbours (ties:
 * policy order); the cluster is the center and its neighbours. Its survivor
 * is the first member, in policy order, that reaches the threshold with
 * every other member of the cluster (the center always does), so every
 * reported (survivor, member) pair is verified, and --keep first keeps the
 * earliest document that can stand for the whole cluster. Centering matters:
 * when edited copies come before their original, a star around the first
 * copy would leave the other copies out although each matches the
 * original. */
static int split_component(cluster_state *st, size_t *members, size_t n, size_t *scratch, nd_keep keep,
                           nd_clusters *out)
{
    const nd_index *index = st->index;
    const doc_entry *docs = index->docs;
    if (keep == ND_KEEP_LONGEST) {
        sort_docs = docs;
        qsort(members, n, sizeof *members, compare_longest_first);
    }
    if (n > CENTER_LIMIT)
        return star_split(st, members, n, scratch, out);
    double threshold = index->opts.threshold;
    double *jac = nd_malloc(n * n * sizeof *jac);
    unsigned char *alive = nd_malloc(n);
    unsigned char *in_cluster = nd_malloc(n);
    nd_member *others = nd_malloc(n * sizeof *others);
    size_t *cluster = nd_malloc(n * sizeof *cluster);
    const uint32_t **ids = nd_malloc(n * sizeof *ids);
    uint32_t *arena = NULL;
    int rc = ND_ENOMEM;
    if (!jac || !alive || !in_cluster || !others || !cluster || !ids)
        goto done;
    if (index->spilled) {
        /* read every member's ids once */
        size_t total = 0;
        for (size_t i = 0; i < n; i++)
            total += docs[members[i]].count;
        arena = nd_malloc((total ? total : 1) * sizeof *arena);
        if (!arena)
            goto done;
        size_t at = 0;
        for (size_t i = 0; i < n; i++) {
            const uint32_t *loaded = state_ids(st, members[i], &st->buf_a);
            if (st->io_status != ND_OK) {
                rc = st->io_status;
                goto done;
            }
            size_t c = docs[members[i]].count;
            if (c)
                memcpy(arena + at, loaded, c * sizeof *arena);
            ids[i] = arena + at;
            at += c;
        }
    } else {
        for (size_t i = 0; i < n; i++)
            ids[i] = docs[members[i]].ids;
    }
    for (size_t i = 0; i < n; i++) {
        jac[i * n + i] = 1.0;
        alive[i] = 1;
        for (size_t k = i + 1; k < n; k++) {
            double j = ids_jaccard(ids[i], docs[members[i]].count, ids[k], docs[members[k]].count);
            jac[i * n + k] = jac[k * n + i] = j;
        }
    }
    rc = ND_OK;
    size_t remaining = n;
    while (rc == ND_OK && remaining >= 2) {
        size_t center = SIZE_MAX, best = 0;
        for (size_t i = 0; i < n; i++) {
            if (!alive[i])
                continue;
            size_t cover = 0;
            for (size_t k = 0; k < n; k++)
                cover += alive[k] && k != i && reaches(jac[i * n + k], threshold);
            if (cover > best) {
                best = cover;
                center = i;
            }
        }
        if (center == SIZE_MAX)
            break; /* no two remaining members match */
        size_t size = 0;
        for (size_t k = 0; k < n; k++) {
            in_cluster[k] = alive[k] && (k == center || reaches(jac[center * n + k], threshold));
            if (in_cluster[k])
                cluster[size++] = k; /* in policy order */
        }
        size_t survivor = center;
        for (size_t c = 0; c < size; c++) {
            size_t s = cluster[c];
            int covers_all = 1;
            for (size_t d = 0; d < size && covers_all; d++)
                covers_all = reaches(jac[s * n + cluster[d]], threshold);
            if (covers_all) {
                survivor = s;
                break;
            }
        }
        size_t count = 0;
        for (size_t c = 0; c < size; c++) {
            size_t k = cluster[c];
            alive[k] = 0;
            if (k != survivor)
                others[count++] = (nd_member){members[k], jac[survivor * n + k]};
        }
        remaining -= size;
        rc = emit_cluster(out, members[survivor], others, count);
    }
done:
    nd_free(jac);
    nd_free(alive);
    nd_free(in_cluster);
    nd_free(others);
    nd_free(cluster);
    nd_free(ids);
    nd_free(arena);
    return rc;
}

typedef struct {
    size_t first; /* earliest member */
    size_t start, len;
} cluster_span;

static int compare_span(const void *pa, const void *pb)
{
    const cluster_span *a = pa, *b = pb;
    return (a->first > b->first) - (a->first < b->first);
}

/* Put clusters in canonical order: by earliest member. */
static int order_clusters(nd_clusters *c)
{
    cluster_span *spans = nd_malloc((c->count ? c->count : 1) * sizeof *spans);
    nd_member *members = nd_malloc((c->members_count ? c->members_count : 1) * sizeof *members);
    if (!spans || !members) {
        nd_free(spans);
        nd_free(members);
        return ND_ENOMEM;
    }
    for (size_t i = 0; i < c->count; i++) {
        spans[i].start = c->starts[i];
        spans[i].len = c->starts[i + 1] - c->starts[i];
        spans[i].first = SIZE_MAX;
        for (size_t k = 0; k < spans[i].len; k++) {
            size_t doc = c->members[spans[i].start + k].doc;
            spans[i].first = doc < spans[i].first ? doc : spans[i].first;
        }
    }
    qsort(spans, c->count, sizeof *spans, compare_span);
    size_t w = 0;
    for (size_t i = 0; i < c->count; i++) {
        memcpy(members + w, c->members + spans[i].start, spans[i].len * sizeof *members);
        c->starts[i] = w;
        w += spans[i].len;
    }
    c->starts[c->count] = w;
    nd_free(c->members);
    c->members = members;
    c->members_capacity = c->members_count;
    nd_free(spans);
    return ND_OK;
}

/* Group the texts by component, in input order, and split each. */
static int build_clusters(cluster_state *st, nd_keep keep, nd_clusters *out)
{
    size_t n = st->index->count;
    size_t *root_of = nd_malloc((n ? n : 1) * sizeof *root_of);
    size_t *offset = nd_calloc(n + 1, sizeof *offset);
    size_t *members = nd_malloc((n ? n : 1) * sizeof *members);
    size_t *scratch = nd_malloc((n ? n : 1) * sizeof *scratch);
    int rc = ND_ENOMEM;
    if (!root_of || !offset || !members || !scratch)
        goto done;
    for (size_t d = 0; d < n; d++) {
        root_of[d] = nd_uf_find(&st->uf, d);
        offset[root_of[d] + 1]++;
    }
    for (size_t r = 0; r < n; r++)
        offset[r + 1] += offset[r];
    for (size_t d = 0; d < n; d++)
        members[offset[root_of[d]]++] = d; /* offset[r] now ends component r */
    rc = ND_OK;
    size_t begin = 0;
    for (size_t r = 0; r < n && rc == ND_OK; r++) {
        size_t end = offset[r];
        if (end - begin >= 2) {
            qsort(members + begin, end - begin, sizeof *members, compare_size);
            rc = split_component(st, members + begin, end - begin, scratch, keep, out);
        }
        begin = end;
    }
    if (rc == ND_OK)
        rc = order_clusters(out);
done:
    nd_free(root_of);
    nd_free(offset);
    nd_free(members);
    nd_free(scratch);
    return rc;
}

int nd_index_cluster(nd_clusters **out, const nd_index *index, nd_keep keep, nd_cluster_stats *stats)
{
    cluster_state st;
    memset(&st, 0, sizeof st);
    st.index = index;
    nd_clusters *clusters = nd_calloc(1, sizeof *clusters);
    int rc = ND_ENOMEM;
    if (!clusters)
        goto done;
    clusters->starts = nd_calloc(1, sizeof *clusters->starts);
    if (!clusters->starts)
        goto done;
    clusters->starts_capacity = 1;
    if (nd_uf_init(&st.uf, index->count) != ND_OK)
        goto done;
    st.is_representative = nd_calloc(index->count + 1, 1);
    st.keyed = nd_malloc((index->count + 1) * sizeof *st.keyed);
    st.keyed_tmp = nd_malloc((index->count + 1) * sizeof *st.keyed_tmp);
    if (!st.is_representative || !st.keyed || !st.keyed_tmp)
        goto done;
    if (index->spilled) {
        st.band_chunk = nd_malloc(KEY_CHUNK * sizeof *st.band_chunk);
        if (!st.band_chunk)
            goto done;
        rc = ND_EIO;
        if (fflush(index->ids_file) != 0 || fflush(index->keys_file) != 0)
            goto done;
    }
    rc = join_identical_sets(&st);
    /* the set-hash entries are done with: reuse their memory for the bands */
    nd_free(st.keyed_tmp);
    st.keyed_tmp = NULL;
    st.band = (uint64_t *)(void *)st.keyed;
    st.band_tmp = st.band + index->count + 1;
    if (rc == ND_OK)
        rc = join_verified_candidates(&st);
    if (rc == ND_OK)
        rc = build_clusters(&st, keep, clusters);
done:
    nd_uf_release(&st.uf);
    nd_free(st.is_representative);
    nd_free(st.keyed);
    nd_free(st.keyed_tmp);
    nd_free(st.rejected.keys);
    nd_free(st.buf_a.data);
    nd_free(st.buf_b.data);
    nd_free(st.band_chunk);
    if (rc != ND_OK) {
        nd_clusters_free(clusters);
        return rc;
    }
    if (stats)
        *stats = st.stats;
    *out = clusters;
    return ND_OK;
}
