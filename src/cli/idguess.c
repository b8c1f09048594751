/* idguess.c - whose shingle ids a document keeps in pass 1: a bitmap of
 * the first two band keys seen so far, shared by the sketching threads
 * without locks. See idguess.h for the guess and what a wrong one costs.
 */
#include "idguess.h"

#include "alloc.h" /* nd_calloc_huge, nd_free */

int id_predictor_init(id_predictor *p, uint64_t bytes, int any)
{
    unsigned log = 16;
    while (log < 32 && ((uint64_t)1 << log) < bytes / 32)
        log++;
    /* touched all over, at random: huge pages once large (alloc.h; a 4 KiB
     * fault each page took a tenth of a second at 10M documents) */
    *p = (id_predictor){nd_calloc_huge(((size_t)1 << log) / 8), 64 - log, ((size_t)1 << log) / 32, 0, any, 0};
    return p->bits ? 0 : -1;
}

void id_predictor_free(id_predictor *p)
{
    nd_free(p->bits);
    *p = (id_predictor){0};
}

/* The bits a document's first two band keys take (one band: the first twice). */
static void word_of_keys(const id_predictor *p, const uint64_t *keys, unsigned bands, uint64_t *first, uint64_t *second)
{
    /* band keys are hashes already; the two bands' bits spread apart */
    *first = keys[0] * 0x9E3779B97F4A7C15ull >> p->shift;
    *second = bands == 1 ? *first : keys[1] * 0xC2B2AE3D27D4EB4Full >> p->shift;
}

void id_predictor_prefetch(const id_predictor *p, const uint64_t *keys, unsigned bands)
{
    uint64_t first, second;
    word_of_keys(p, keys, bands, &first, &second);
    __builtin_prefetch(&p->bits[first >> 6], 1);
    __builtin_prefetch(&p->bits[second >> 6], 1);
}

/* Set bit `bit`; was it set? */
static int test_and_set(uint64_t *bits, uint64_t bit)
{
    uint64_t mask = (uint64_t)1 << (bit & 63);
    if (__atomic_load_n(&bits[bit >> 6], __ATOMIC_RELAXED) & mask)
        return 1;
    return (__atomic_fetch_or(&bits[bit >> 6], mask, __ATOMIC_RELAXED) & mask) != 0;
}

/* Documents a thread counts before adding them to the shared count: one
 * atomic addition a document on every thread made its cache line bounce
 * between the cores (10M documents, 2 threads, perf: a third of the
 * guess's time on that one instruction). The limit is passed by at most
 * this many documents a thread, of the millions it counts. */
enum { SEEN_BATCH = 256 };
static _Thread_local unsigned seen_here; /* this thread's documents not yet added to `seen` */

int id_predictor_keep(id_predictor *p, const record *rec, size_t text_len, size_t count, const uint64_t *keys,
                      unsigned bands)
{
    if ((!p->any && count * sizeof(uint32_t) < text_len) || !rec->located || rec->len > UINT32_MAX ||
        rec->source >= (1u << 31)) /* replay_at.c's places */
        return 1;
    if (++seen_here == SEEN_BATCH) {
        seen_here = 0;
        if (__atomic_add_fetch(&p->seen, SEEN_BATCH, __ATOMIC_RELAXED) >= p->limit)
            __atomic_store_n(&p->full, 1, __ATOMIC_RELAXED);
    }
    if (__atomic_load_n(&p->full, __ATOMIC_RELAXED))
        return 1;
    uint64_t first, second;
    word_of_keys(p, keys, bands, &first, &second);
    if (bands == 1)
        return test_and_set(p->bits, first);
    /* both words asked for before (id_predictor_prefetch, which the
     * pipeline calls as soon as the keys are made): asked for here,
     * test_and_set's locked `or` let the second wait for the first, and
     * both waited on the document's own time (50k CJK documents, perf:
     * 3-4% of the run here, 140 ns a document) */
    int hit = test_and_set(p->bits, first);
    return test_and_set(p->bits, second) | hit;
}
