/* runs.c - the longest runs of equal tokens two texts share (nd_explain's
 * "shared runs").
 *
 * A maximal run starts at a pair of positions (i, j) whose tokens are
 * equal and whose predecessors are not (or i or j is 0), and goes on to
 * the first unequal pair. The runs reported are those at least min_len
 * long, longest first, each that does not overlap in A one taken before.
 *
 * The plain search (nd_runs_pick_plain) looks up every token of A among
 * B's and follows every start to its end: time that grows with the
 * product of a word's counts in the two texts. Two copies of an English
 * book (1.4 MB a side: "the" thousands of times in each) took 5 s, one
 * word repeated 80,000 times 10 s, quadrupling as the text doubled.
 *
 * nd_runs_pick finds the same runs with two changes:
 *   - A run of min_len = k tokens or more starts with k equal tokens, so
 *     B's positions are filed by the hash of the k tokens from there and
 *     by their predecessor: for position i of A, the starts are B's
 *     positions with i's k-gram, less those whose predecessor is i's
 *     (one range of the sorted file). Only true starts of long enough
 *     runs are visited: few in real text, 2n for one word repeated n
 *     times.
 *   - A run's length (the longest common extension) is found by
 *     comparing tokens for its first 32, then by polynomial hashes of
 *     prefixes (mod 2^61 - 1: h(s[0..n)) = sum s_t B^(n-1-t), so that
 *     h(s[i..i+L)) = h(s[0..i+L)) - h(s[0..i)) B^L) doubling and halving
 *     the length: O(log n) a run, where following it took its length.
 * Hashes can only make a length too long or a run that is not one (two
 * different sequences with one hash), never miss a run or shorten one.
 * So the runs taken are checked token by token (their total length is at
 * most A's): when each is a true maximal run of the length found, the
 * choice is the plain search's (a run made too long and not taken would
 * not have been taken at its true length either: what it overlaps, or the
 * count reached, comes before it in both orders); else (two sequences
 * sharing a hash: about one chance in 2^61 a comparison) the plain search
 * answers.
 *
 * What stays slow: texts whose k-grams repeat in both very many times
 * without lining up into long runs (a text of two words in random order),
 * whose true starts are themselves as many as the product of the counts.
 * So the starts visited are bounded (runs.h): past the bound the search
 * stops and says so, in time and memory linear in the texts.
 */
#include "runs.h"

#include <stdint.h> /* uint64_t */
#include <stdlib.h> /* qsort */

#include "alloc.h"

static int compare_runs(const void *pa, const void *pb)
{
    const nd_token_run *x = pa, *y = pb;
    if (x->len != y->len)
        return x->len > y->len ? -1 : 1;
    if (x->a != y->a)
        return x->a < y->a ? -1 : 1;
    return (x->b > y->b) - (x->b < y->b);
}

/* Sort runs[0, n) longest first and keep, in place, those that do not
 * overlap in A one kept before, up to max_runs; returns how many. */
static size_t take_runs(nd_token_run *runs, size_t n, size_t max_runs)
{
    if (n > 0)
        qsort(runs, n, sizeof *runs, compare_runs);
    size_t shown = 0;
    for (size_t r = 0; r < n && shown < max_runs; r++) {
        int overlaps = 0;
        for (size_t q = 0; q < shown && !overlaps; q++)
            overlaps = runs[r].a < runs[q].a + runs[q].len && runs[q].a < runs[r].a + runs[r].len;
        if (!overlaps)
            runs[shown++] = runs[r];
    }
    return shown;
}

static int push_run(nd_token_run **runs, size_t *n, size_t *capacity, nd_token_run run)
{
    if (nd_grow((void **)runs, capacity, *n + 1, sizeof **runs) != 0)
        return ND_ENOMEM;
    (*runs)[(*n)++] = run;
    return ND_OK;
}

/* ****  The plain search  **** */

typedef struct hashed_position {
    uint64_t hash;
    size_t pos;
} hashed_position;

static int compare_hashed(const void *pa, const void *pb)
{
    const hashed_position *a = pa, *b = pb;
    if (a->hash != b->hash)
        return a->hash < b->hash ? -1 : 1;
    return (a->pos > b->pos) - (a->pos < b->pos);
}

int nd_runs_pick_plain(nd_token_run **out, size_t *count, const nd_tokens *ta, const nd_tokens *tb, size_t min_len,
                       size_t max_runs)
{
    *out = NULL;
    *count = 0;
    size_t nb = tb->count, n = 0, capacity = 0;
    nd_token_run *found = NULL;
    hashed_position *index = nd_malloc((nb ? nb : 1) * sizeof *index);
    if (!index)
        return ND_ENOMEM;
    for (size_t j = 0; j < nb; j++)
        index[j] = (hashed_position){tb->items[j].hash, j};
    qsort(index, nb, sizeof *index, compare_hashed);
    for (size_t i = 0; i < ta->count; i++) {
        uint64_t h = ta->items[i].hash;
        size_t lo = 0, hi = nb;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (index[mid].hash < h)
                lo = mid + 1;
            else
                hi = mid;
        }
        for (size_t k = lo; k < nb && index[k].hash == h; k++) {
            size_t j = index[k].pos;
            if (i > 0 && j > 0 && ta->items[i - 1].hash == tb->items[j - 1].hash)
                continue; /* inside a longer run */
            size_t len = 0;
            while (i + len < ta->count && j + len < nb && ta->items[i + len].hash == tb->items[j + len].hash)
                len++;
            if (len >= min_len && push_run(&found, &n, &capacity, (nd_token_run){i, j, len}) != ND_OK) {
                nd_free(found);
                nd_free(index);
                return ND_ENOMEM;
            }
        }
    }
    nd_free(index);
    *count = take_runs(found, n, max_runs);
    *out = found;
    return ND_OK;
}

/* ****  By k-grams and hashed prefixes  **** */

#define MOD (((uint64_t)1 << 61) - 1)
#define BASE (0x1F3A5C7E9B2D4861ull % MOD)

__extension__ typedef unsigned __int128 product_u128;

static inline uint64_t mul_mod(uint64_t a, uint64_t b)
{
    product_u128 p = (product_u128)a * b; /* a, b < 2^61: p < 2^122 */
    uint64_t r = ((uint64_t)p & MOD) + (uint64_t)(p >> 61);
    return r >= MOD ? r - MOD : r;
}

static inline uint64_t add_mod(uint64_t a, uint64_t b)
{
    uint64_t r = a + b; /* a, b < 2^61 */
    return r >= MOD ? r - MOD : r;
}

/* h[0, n + 1): the hashes of the token sequence's prefixes, each token
 * taken as its hash mod 2^61 - 1, plus one (so that no token is 0). */
static void prefix_hashes(uint64_t *h, const nd_tokens *t)
{
    h[0] = 0;
    for (size_t i = 0; i < t->count; i++) {
        uint64_t x = t->items[i].hash;
        x = (x & MOD) + (x >> 61);
        x = x >= MOD ? x - MOD : x;
        h[i + 1] = add_mod(add_mod(mul_mod(h[i], BASE), x), 1);
    }
}

typedef struct sequences {
    const nd_tokens *ta, *tb;
    const uint64_t *ha, *hb, *power; /* prefix hashes of A and B; BASE^len */
} sequences;

static inline uint64_t hash_of(const uint64_t *h, const uint64_t *power, size_t from, size_t len)
{
    return add_mod(h[from + len], MOD - mul_mod(h[from], power[len]));
}

/* The length of the longest common extension of A from i and B from j:
 * the first 32 tokens compared, then hashes of ever longer stretches,
 * then halving (never shorter than the true one; see the top). */
static size_t common_extension(const sequences *s, size_t i, size_t j)
{
    enum { BY_TOKENS = 32 };
    const nd_token *a = s->ta->items, *b = s->tb->items;
    size_t limit = s->ta->count - i < s->tb->count - j ? s->ta->count - i : s->tb->count - j;
    size_t len = 0;
    while (len < limit && len < BY_TOKENS && a[i + len].hash == b[j + len].hash)
        len++;
    if (len < BY_TOKENS || len == limit)
        return len;
    /* equal up to len; find the last length that hashes alike */
    size_t step = BY_TOKENS;
    while (len + step <= limit && hash_of(s->ha, s->power, i, len + step) == hash_of(s->hb, s->power, j, len + step)) {
        len += step;
        step *= 2;
    }
    size_t hi = len + step <= limit ? len + step - 1 : limit; /* the answer is in [len, hi] */
    while (len < hi) {
        size_t mid = len + (hi - len + 1) / 2;
        if (hash_of(s->ha, s->power, i, mid) == hash_of(s->hb, s->power, j, mid))
            len = mid;
        else
            hi = mid - 1;
    }
    return len;
}

/* B's position j filed by the hash of its k tokens from j and by its
 * predecessor (none at j = 0: those come first within a k-gram). */
typedef struct kgram_entry {
    uint64_t kgram, before;
    size_t j;
} kgram_entry;

static int compare_entries(const void *pa, const void *pb)
{
    const kgram_entry *x = pa, *y = pb;
    if (x->kgram != y->kgram)
        return x->kgram < y->kgram ? -1 : 1;
    int xb = x->j > 0, yb = y->j > 0;
    if (xb != yb)
        return xb - yb;
    if (x->before != y->before)
        return x->before < y->before ? -1 : 1;
    return (x->j > y->j) - (x->j < y->j);
}

/* Where (kgram, has_before, before) sorts among e[lo, hi): the first
 * entry not ordered before it (after = 0), or the first ordered after it
 * (after = 1). has_before = 0 stands for every position 0 (none before). */
static size_t bound_entry(const kgram_entry *e, size_t lo, size_t hi, uint64_t kgram, int has_before, uint64_t before,
                          int after)
{
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const kgram_entry *m = &e[mid];
        int mb = m->j > 0;
        int order = m->kgram != kgram     ? (m->kgram < kgram ? -1 : 1)
                    : mb != has_before    ? mb - has_before
                    : !has_before         ? 0
                    : m->before != before ? (m->before < before ? -1 : 1)
                                          : 0;
        if (order < 0 || (after && order == 0))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Is run r, as found, a true maximal run of A and B? */
static int run_holds(const nd_tokens *ta, const nd_tokens *tb, const nd_token_run *r)
{
    const nd_token *a = ta->items, *b = tb->items;
    for (size_t t = 0; t < r->len; t++) {
        if (a[r->a + t].hash != b[r->b + t].hash)
            return 0;
    }
    if (r->a > 0 && r->b > 0 && a[r->a - 1].hash == b[r->b - 1].hash)
        return 0;
    size_t ea = r->a + r->len, eb = r->b + r->len;
    return ea == ta->count || eb == tb->count || a[ea].hash != b[eb].hash;
}

/* Every start of a run of k tokens or more, its length found
 * (common_extension), into *found; at most `budget` starts visited
 * (*stopped: there were more). */
static int find_starts(nd_token_run **found, size_t *n, size_t *capacity, const sequences *s, const kgram_entry *e,
                       size_t ne, size_t k, size_t budget, int *stopped)
{
    const nd_token *a = s->ta->items;
    for (size_t i = 0; i + k <= s->ta->count; i++) {
        uint64_t g = hash_of(s->ha, s->power, i, k);
        /* B's positions with this k-gram: [from, to), found by binary
         * search (one word repeated: every position has one k-gram) */
        size_t from = bound_entry(e, 0, ne, g, 0, 0, 0);
        size_t to = from < ne && e[from].kgram == g ? bound_entry(e, from, ne, g, 1, UINT64_MAX, 1) : from;
        /* those whose predecessor is i's are inside longer runs */
        size_t skip_from = to, skip_to = to;
        if (i > 0) {
            skip_from = bound_entry(e, from, to, g, 1, a[i - 1].hash, 0);
            skip_to = bound_entry(e, skip_from, to, g, 1, a[i - 1].hash, 1);
        }
        for (size_t x = from; x < to; x++) {
            if (x == skip_from && skip_to > skip_from)
                x = skip_to; /* (skip_to <= to) */
            if (x == to)
                break;
            if (budget-- == 0) {
                *stopped = 1;
                return ND_OK;
            }
            size_t len = common_extension(s, i, e[x].j);
            if (len >= k && push_run(found, n, capacity, (nd_token_run){i, e[x].j, len}) != ND_OK)
                return ND_ENOMEM;
        }
    }
    return ND_OK;
}

int nd_runs_pick(nd_token_run **out, size_t *count, int *too_many, const nd_tokens *ta, const nd_tokens *tb,
                 size_t min_len, size_t max_runs)
{
    *out = NULL;
    *count = 0;
    *too_many = 0;
    size_t k = min_len ? min_len : 1, na = ta->count, nb = tb->count;
    if (na < k || nb < k || max_runs == 0)
        return ND_OK;
    size_t longest = na > nb ? na : nb, ne = nb - k + 1;
    uint64_t *ha = nd_malloc((na + 1) * sizeof *ha), *hb = nd_malloc((nb + 1) * sizeof *hb);
    uint64_t *power = nd_malloc((longest + 1) * sizeof *power);
    kgram_entry *e = nd_malloc(ne * sizeof *e);
    nd_token_run *found = NULL;
    size_t n = 0, capacity = 0;
    int rc = ha && hb && power && e ? ND_OK : ND_ENOMEM;
    if (rc == ND_OK) {
        prefix_hashes(ha, ta);
        prefix_hashes(hb, tb);
        power[0] = 1;
        for (size_t p = 1; p <= longest; p++)
            power[p] = mul_mod(power[p - 1], BASE);
        sequences s = {ta, tb, ha, hb, power};
        for (size_t j = 0; j < ne; j++)
            e[j] = (kgram_entry){hash_of(hb, power, j, k), j > 0 ? tb->items[j - 1].hash : 0, j};
        qsort(e, ne, sizeof *e, compare_entries);
        size_t budget = ND_RUNS_STARTS_BASE + ND_RUNS_STARTS_PER_TOKEN * (na + nb);
        rc = find_starts(&found, &n, &capacity, &s, e, ne, k, budget, too_many);
        if (*too_many)
            n = 0;
    }
    nd_free(ha);
    nd_free(hb);
    nd_free(power);
    nd_free(e);
    if (rc != ND_OK) {
        nd_free(found);
        return rc;
    }
    size_t shown = take_runs(found, n, max_runs);
    for (size_t r = 0; r < shown; r++) {
        if (!run_holds(ta, tb, &found[r])) { /* a hash shared by two sequences: the plain search answers */
            nd_free(found);
            return nd_runs_pick_plain(out, count, ta, tb, min_len, max_runs);
        }
    }
    *out = found;
    *count = shown;
    return ND_OK;
}
