/* contain.c - candidates for containment: every pair of texts that can
 * match, found through an inverted index of shingles with a prefix filter.
 *
 * Why not LSH. MinHash LSH finds pairs of high Jaccard. An excerpt E of a
 * third of an article A has J(E, A) = |E| / |A| ~ 0.33 while C(E in A) = 1;
 * banding tuned to catch J = 0.3 (a few rows per band) makes nearly every
 * pair that shares a few shingles a candidate. LSH Ensemble (Zhu et al.,
 * VLDB 2016) partitions texts by size and tunes bands per partition, but
 * it stays probabilistic, and a text's partition bounds only how far its
 * Jaccard can fall. Here candidates are exact instead: no matching pair
 * is missed, and the cost is an index the size of the shingle ids.
 *
 * The bound (measure.h). For texts A and B with |A| <= |B|, every kind of
 * match (Jaccard, A in B, B in A) needs an overlap x = |A ∩ B| of at least
 * o(|A|) = the least x with x / |A| >= t.
 *
 * The prefix filter (Chaudhuri, Ganti and Kaushik, ICDE 2006; Bayardo, Ma
 * and Srikant, WWW 2007). Take any p = |A| - o(|A|) + 1 shingles of A. If
 * B held none of them, |A ∩ B| <= |A| - p = o(|A|) - 1: no match. So every
 * B that matches A, with |B| >= |A|, holds at least one of the p chosen
 * shingles, and probing the inverted index (shingle -> texts holding it)
 * with those p shingles finds every such B. The choice of the p shingles
 * is free, so they are the rarest ones (fewest texts; ties by id), which
 * keeps the lists probed short: a shingle found in one text only (most
 * 5-word shingles of news) costs nothing, and boilerplate, found in many
 * texts, is probed only by texts made mostly of it. At t = 0.8, p is a
 * fifth of the text plus one; a text with p or more shingles that no
 * other text has matches no larger text, and costs nothing.
 *
 * Each pair is proposed once, from its smaller text (as many shingles:
 * the earlier one), so the caller verifies it once. Only representatives
 * (one text per distinct set, candidates.c) are indexed.
 *
 * Building the index. Most shingles are held by one text only, and
 * sorting them all would be most of the work. The id range is cut into
 * partitions by the ids' top bits (as many as keep one partition's
 * counters in the caches: about 2^18 ids each); texts' ids are sorted, so
 * each text hands partition p the next run of its ids. Within a partition
 * every id counts in a 2-bit cell of a table with eight or more cells per
 * id (0, 1, 2 = seen twice or more); a text holds an id once, so an id
 * held by two texts finds its cell at 2, and an id held by one text only
 * when another id shares its cell (about one in eight). The entries
 * (shingle id, text) whose cell reached 2 are sorted by id; runs of one id
 * give its document frequency df, and shingles with df >= 2 get a posting
 * list (the texts holding them, ascending). Walking the shingles in order
 * then places each in its texts' lists of shared shingles. Memory: 512 KB
 * of counters and 16 bytes per id of one partition, 8 bytes per shared
 * (text, shingle) entry; texts' ids are read once per partition (from
 * files for a spilled index, so then at most 64 partitions).
 */
#include "neardup.h"

#include <string.h> /* memcpy, memset */

#include "alloc.h"
#include "candidates.h"
#include "measure.h"
#include "sort.h"
#include "threads.h"

typedef struct {
    const nd_store *store;
    const unsigned char *is_representative;
    size_t *text_start; /* per text: its shared shingles, text_tokens[text_start[t] .. text_start[t + 1]) */
    uint32_t *postings; /* the texts holding each shared shingle, ascending */
    size_t post_count, post_capacity;
    uint64_t *token_start; /* shared shingle k: postings[token_start[k] .. token_start[k + 1]) */
    size_t token_count, token_capacity;
    uint32_t *text_tokens; /* the shared shingles k of each text, ascending */
} inverted;

static int is_indexed(const inverted *inv, size_t doc)
{
    return inv->is_representative[doc] && inv->store->meta[doc].count > 0;
}

/* Partitions of the id range (see the header): about PART_IDS ids each,
 * at most 2^MAX_PART_BITS of them (2^MAX_DISK_PART_BITS when each text's
 * ids are read from files once per partition). */
enum { PART_IDS = 1 << 19, MAX_PART_BITS = 12, MAX_DISK_PART_BITS = 6 };
enum { PREFETCH_TEXTS = 8 }; /* texts ahead whose next ids are fetched early */
enum { PREFETCH = 16 };      /* entries ahead whose counter is fetched early */
enum { MAX_PART_THREADS = 64 };

/* Add one run of a sorted partition: the texts entries[0 .. df) holding
 * one shingle (counted in text_start, placed later). */
static int add_run(inverted *inv, const uint64_t *entries, size_t df)
{
    if (df < 2)
        return ND_OK;
    if (inv->token_count >= UINT32_MAX - 1)
        return ND_ENOMEM; /* shingles are numbered in 32 bits */
    if (nd_grow((void **)&inv->token_start, &inv->token_capacity, inv->token_count + 2, sizeof *inv->token_start) ||
        nd_grow((void **)&inv->postings, &inv->post_capacity, inv->post_count + df, sizeof *inv->postings))
        return ND_ENOMEM;
    inv->token_start[inv->token_count++] = inv->post_count;
    for (size_t i = 0; i < df; i++) {
        uint32_t doc = (uint32_t)entries[i];
        inv->postings[inv->post_count++] = doc;
        inv->text_start[doc + 1]++;
    }
    return ND_OK;
}

/* How many top bits of an id choose its partition: enough that a
 * partition's counter table stays in the caches, but not so many that
 * walking every text once per partition costs more than its ids (at most
 * about two partitions per id of the average text). */
static unsigned partition_bits(const nd_store *store, size_t texts, size_t total, size_t part_ids)
{
    unsigned cap = store->on_disk ? MAX_DISK_PART_BITS : MAX_PART_BITS;
    unsigned bits = 0;
    while (bits < cap && (total >> bits) > part_ids && ((uint64_t)texts << (bits + 1)) <= 2 * (uint64_t)total)
        bits++;
    return bits;
}

/* The cell of an id in its partition's table of 2^cell_bits cells: the
 * bits after the partition's. */
static uint32_t cell_of(uint32_t id, unsigned part_bits, unsigned cell_bits)
{
    return (uint32_t)(((uint64_t)id << part_bits) & UINT32_MAX) >> (32 - cell_bits);
}

/* One thread's share of the partitions: its own cursors, counters and
 * buffers; the store and `borrowed` are only read. */
typedef struct {
    const inverted *inv;
    const uint32_t *const *borrowed; /* per text: its ids when the store lends them (in memory), else NULL */
    unsigned part_bits, cell_bits;
    size_t partition; /* the one to gather next */
    size_t *cursor;   /* per text: its first id of a partition not yet gathered */
    uint64_t *cells;
    nd_id_buffer buf;
    uint64_t *entries, *tmp;
    size_t capacity, tmp_capacity;
    size_t kept; /* entries[0 .. kept): the partition's entries that can be shared, by id */
    int rc;
} part_job;

/* The (id << 32 | text) entries of partition p, text by text from each
 * text's cursor (ids are sorted, so a text's ids of partition p come after
 * those of earlier partitions). Returns how many, or sets job->rc. */
static size_t gather_partition(part_job *job, size_t p)
{
    const inverted *inv = job->inv;
    const nd_store *store = inv->store;
    unsigned part_bits = job->part_bits;
    size_t m = 0;
    for (size_t d = 0; d < store->count; d++) {
        if (!is_indexed(inv, d))
            continue;
        size_t i = job->cursor[d], count = store->meta[d].count;
        if (i == count)
            continue;
        if (job->borrowed && d + PREFETCH_TEXTS < store->count && job->borrowed[d + PREFETCH_TEXTS])
            __builtin_prefetch(job->borrowed[d + PREFETCH_TEXTS] + job->cursor[d + PREFETCH_TEXTS]);
        const uint32_t *ids = job->borrowed ? job->borrowed[d] : store->ids(store->backend, d, &job->buf, &job->rc);
        if (!ids)
            return 0;
        while (part_bits > 0 && i < count && (ids[i] >> (32 - part_bits)) < p)
            i++; /* another job's partitions */
        size_t end = i;
        while (end < count && (part_bits == 0 || (ids[end] >> (32 - part_bits)) == p))
            end++;
        if (nd_grow((void **)&job->entries, &job->capacity, m + (end - i), sizeof *job->entries)) {
            job->rc = ND_ENOMEM;
            return 0;
        }
        for (; i < end; i++)
            job->entries[m++] = (uint64_t)ids[i] << 32 | d;
        job->cursor[d] = end;
    }
    return m;
}

/* One partition: gather its entries; count each id in a 2-bit cell (0,
 * 1, 2 = seen twice or more); keep the entries whose cell reached 2 (every
 * id held by two texts, and about one in eight of the rest: ids of one
 * text are distinct, so an id held by one text reaches 2 only when another
 * id shares its cell); sort them by id (texts stay ascending). */
static void index_partition(part_job *job)
{
    size_t p = job->partition;
    unsigned part_bits = job->part_bits, cell_bits = job->cell_bits;
    uint64_t *cells = job->cells;
    job->kept = 0;
    size_t m = gather_partition(job, p);
    if (job->rc != ND_OK)
        return;
    memset(cells, 0, (((size_t)1 << cell_bits) / 32 + 1) * sizeof *cells);
    uint64_t *out = job->entries;
    for (size_t j = 0; j < m; j++) { /* count */
        if (j + PREFETCH < m)
            __builtin_prefetch(&cells[cell_of((uint32_t)(out[j + PREFETCH] >> 32), part_bits, cell_bits) >> 5], 1);
        uint32_t cell = cell_of((uint32_t)(out[j] >> 32), part_bits, cell_bits);
        uint64_t *word = &cells[cell >> 5];
        unsigned shift = (cell & 31) * 2;
        if (((*word >> shift) & 3) < 2)
            *word += (uint64_t)1 << shift;
    }
    size_t kept = 0;
    for (size_t j = 0; j < m; j++) { /* keep what can be shared */
        if (j + PREFETCH < m)
            __builtin_prefetch(&cells[cell_of((uint32_t)(out[j + PREFETCH] >> 32), part_bits, cell_bits) >> 5]);
        uint32_t cell = cell_of((uint32_t)(out[j] >> 32), part_bits, cell_bits);
        if (((cells[cell >> 5] >> ((cell & 31) * 2)) & 3) == 2)
            out[kept++] = out[j];
    }
    if (nd_grow((void **)&job->tmp, &job->tmp_capacity, kept, sizeof *job->tmp)) {
        job->rc = ND_ENOMEM;
        return;
    }
    nd_sort_u64_high32(out, job->tmp, kept); /* by id; texts stay ascending */
    job->kept = kept;
}

static void *index_partition_thread(void *arg)
{
    index_partition(arg);
    return NULL;
}

/* Add a partition's sorted entries to the index, one run per id. */
static int add_partition(inverted *inv, const part_job *job)
{
    const uint64_t *out = job->entries;
    int rc = ND_OK;
    for (size_t i = 0; i < job->kept && rc == ND_OK;) {
        size_t j = i + 1;
        while (j < job->kept && out[j] >> 32 == out[i] >> 32)
            j++;
        rc = add_run(inv, out + i, j - i);
        i = j;
    }
    return rc;
}

static void part_job_release(part_job *job)
{
    nd_free(job->cursor);
    nd_free(job->cells);
    nd_free(job->buf.data);
    nd_free(job->entries);
    nd_free(job->tmp);
}

/* Index the partitions `width` at a time, one per job (the first on the
 * calling thread), adding them in partition order: the index does not
 * depend on the number of threads. */
static int index_partitions(inverted *inv, unsigned threads, unsigned part_bits, unsigned cell_bits,
                            const uint32_t *const *borrowed)
{
    const nd_store *store = inv->store;
    size_t parts = (size_t)1 << part_bits;
    unsigned width = threads < 1 ? 1 : threads > MAX_PART_THREADS ? MAX_PART_THREADS : threads;
    if (width > parts)
        width = (unsigned)parts;
    part_job jobs[MAX_PART_THREADS];
    unsigned ready = 0; /* jobs with their buffers; fewer jobs when memory is short */
    for (unsigned t = 0; t < width; t++) {
        part_job *job = &jobs[t];
        memset(job, 0, sizeof *job);
        job->inv = inv;
        job->borrowed = borrowed;
        job->part_bits = part_bits;
        job->cell_bits = cell_bits;
        job->cursor = nd_calloc(store->count + 1, sizeof *job->cursor);
        job->cells = nd_malloc((((size_t)1 << cell_bits) / 32 + 1) * sizeof *job->cells);
        if (!job->cursor || !job->cells) {
            part_job_release(job);
            break;
        }
        ready++;
    }
    if (ready == 0)
        return ND_ENOMEM;
    int rc = ND_OK;
    for (size_t first = 0; first < parts && rc == ND_OK; first += ready) {
        unsigned n = parts - first < ready ? (unsigned)(parts - first) : ready;
        for (unsigned t = 0; t < n; t++)
            jobs[t].partition = first + t;
        nd_on_threads(n, index_partition_thread, jobs, sizeof *jobs);
        for (unsigned t = 0; t < n && rc == ND_OK; t++) {
            rc = jobs[t].rc;
            if (rc == ND_OK)
                rc = add_partition(inv, &jobs[t]);
        }
    }
    for (unsigned t = 0; t < ready; t++)
        part_job_release(&jobs[t]);
    return rc;
}

/* Build the inverted index of the shared shingles. */
static int build_index(inverted *inv, unsigned threads, size_t part_ids)
{
    const nd_store *store = inv->store;
    size_t n = store->count, total = 0, texts = 0;
    for (size_t d = 0; d < n; d++) {
        if (is_indexed(inv, d)) {
            total += store->meta[d].count;
            texts++;
        }
    }
    unsigned part_bits = partition_bits(store, texts, total, part_ids ? part_ids : PART_IDS);
    unsigned cell_bits = 5; /* at least eight cells per id of a partition */
    while (cell_bits < 32 - part_bits && ((uint64_t)1 << cell_bits) < 8 * (uint64_t)((total >> part_bits) + 1))
        cell_bits++;
    inv->text_start = nd_calloc(n + 2, sizeof *inv->text_start);
    if (!inv->text_start)
        return ND_ENOMEM;
    const uint32_t **borrowed = NULL; /* lent ids stay put: each text's next ones are fetched early */
    int rc = ND_OK;
    if (!store->on_disk) {
        nd_id_buffer unused = {NULL, 0};
        borrowed = nd_calloc(n + 1, sizeof *borrowed);
        for (size_t d = 0; borrowed && d < n && rc == ND_OK; d++)
            borrowed[d] = is_indexed(inv, d) ? store->ids(store->backend, d, &unused, &rc) : NULL;
        nd_free(unused.data);
    }
    if (rc == ND_OK)
        rc = index_partitions(inv, threads, part_bits, cell_bits, borrowed);
    nd_free(borrowed);
    if (rc != ND_OK)
        return rc;
    if (nd_grow((void **)&inv->token_start, &inv->token_capacity, inv->token_count + 1, sizeof *inv->token_start))
        return ND_ENOMEM;
    inv->token_start[inv->token_count] = inv->post_count;
    /* each text's shared shingles, in shingle order: counted per text, then
     * placed by walking the shingles in order */
    for (size_t d = 0; d < n; d++)
        inv->text_start[d + 1] += inv->text_start[d];
    inv->text_tokens = nd_malloc((inv->post_count ? inv->post_count : 1) * sizeof *inv->text_tokens);
    size_t *fill = nd_malloc((n ? n : 1) * sizeof *fill); /* each text's next slot */
    if (!inv->text_tokens || !fill) {
        nd_free(fill);
        return ND_ENOMEM;
    }
    memcpy(fill, inv->text_start, n * sizeof *fill);
    for (size_t k = 0; k < inv->token_count; k++) {
        for (uint64_t q = inv->token_start[k]; q < inv->token_start[k + 1]; q++)
            inv->text_tokens[fill[inv->postings[q]]++] = (uint32_t)k;
    }
    nd_free(fill);
    return ND_OK;
}

/* Probe the index with each text's rarest shingles; hand each text's
 * candidates to visit(). */
static int probe(inverted *inv, nd_candidates_fn visit, void *ctx)
{
    const nd_store *store = inv->store;
    size_t n = store->count;
    uint32_t *stamp = nd_calloc(n + 1, sizeof *stamp); /* text + 1 of the last prober that found it */
    uint32_t *found = NULL, *found_tmp = NULL;
    uint64_t *prefix = NULL, *prefix_tmp = NULL;
    size_t found_capacity = 0, found_tmp_capacity = 0, prefix_capacity = 0, prefix_tmp_capacity = 0;
    int rc = stamp ? ND_OK : ND_ENOMEM;
    for (size_t a = 0; a < n && rc == ND_OK; a++) {
        size_t lo = inv->text_start[a], shared = inv->text_start[a + 1] - lo;
        if (!is_indexed(inv, a) || shared == 0)
            continue;
        size_t count = store->meta[a].count;
        size_t probes = count - nd_min_overlap(count, store->opts->threshold) + 1;
        size_t unique = count - shared; /* shingles of no other text: the rarest, and no use */
        if (unique >= probes)
            continue; /* too much of `a` is its own to match anything */
        size_t need = probes - unique;
        if (nd_grow((void **)&prefix, &prefix_capacity, shared, sizeof *prefix) ||
            nd_grow((void **)&prefix_tmp, &prefix_tmp_capacity, shared, sizeof *prefix_tmp)) {
            rc = ND_ENOMEM;
            break;
        }
        for (size_t i = 0; i < shared; i++) {
            uint64_t k = inv->text_tokens[lo + i];
            prefix[i] = (inv->token_start[k + 1] - inv->token_start[k]) << 32 | k;
        }
        if (need < shared) /* rarest first, ties by id (the shingles come in id order, the sort is stable) */
            nd_sort_u64_high32(prefix, prefix_tmp, shared);
        size_t m = 0;
        for (size_t i = 0; i < need && rc == ND_OK; i++) {
            uint64_t k = (uint32_t)prefix[i];
            for (uint64_t q = inv->token_start[k]; q < inv->token_start[k + 1]; q++) {
                uint32_t b = inv->postings[q];
                size_t nb = store->meta[b].count;
                if (b == a || nb < count || (nb == count && b < a) || stamp[b] == a + 1)
                    continue;
                stamp[b] = (uint32_t)(a + 1);
                if (nd_grow((void **)&found, &found_capacity, m + 1, sizeof *found)) {
                    rc = ND_ENOMEM;
                    break;
                }
                found[m++] = b;
            }
        }
        if (rc == ND_OK && m > 0 && nd_grow((void **)&found_tmp, &found_tmp_capacity, m, sizeof *found_tmp))
            rc = ND_ENOMEM;
        if (rc == ND_OK && m > 0) {
            nd_sort_distinct_u32(found, found_tmp, m); /* distinct already (stamped) */
            rc = visit(ctx, a, found, m);
        }
    }
    nd_free(stamp);
    nd_free(found);
    nd_free(found_tmp);
    nd_free(prefix);
    nd_free(prefix_tmp);
    return rc;
}

int nd_containment_candidates(const nd_store *store, const unsigned char *is_representative, unsigned threads,
                              nd_candidates_fn visit, void *ctx)
{
    return nd_containment_candidates_sized(store, is_representative, threads, 0, visit, ctx);
}

int nd_containment_candidates_sized(const nd_store *store, const unsigned char *is_representative, unsigned threads,
                                    size_t part_ids, nd_candidates_fn visit, void *ctx)
{
    inverted inv;
    memset(&inv, 0, sizeof inv);
    inv.store = store;
    inv.is_representative = is_representative;
    int rc = build_index(&inv, threads, part_ids);
    if (rc == ND_OK)
        rc = probe(&inv, visit, ctx);
    nd_free(inv.postings);
    nd_free(inv.token_start);
    nd_free(inv.text_tokens);
    nd_free(inv.text_start);
    return rc;
}
