/* test_cluster.c - union-find: transitivity and sizes, as a table of
 * unions and the components they must give; and the claim the distributed
 * run rests on (src/mpi/): the components are the connected components of
 * {pairs sharing a band key whose exact Jaccard reaches the threshold}, and
 * splitting each one alone (nd_store_split) gives the clusters of
 * nd_index_cluster; and identical sets (nd_identical_sets) found as a sort
 * by the whole set hash finds them, when hashes share their upper half or
 * all of it; and finding them while the first bands are prepared
 * (nd_sets_then_bands) visits the same bands; and the prefix filter takes
 * an empty text given as NULL. */
#include "neardup.h"

#include <stdlib.h> /* malloc, free, qsort */
#include <string.h> /* memcpy */

#include "alloc.h"
#include "candidates.h"
#include "keygroups.h"
#include "measure.h"
#include "prefix_filter.h"
#include "store.h"
#include "suites.h"
#include "synth.h"
#include "uf.h"

typedef struct {
    size_t n;
    size_t unions[6][2];
    size_t union_count;
    int component[8]; /* expected component label per element */
} uf_row;

static const uf_row uf_rows[] = {
    {4, {{0, 1}, {1, 2}}, 2, {0, 0, 0, 3}}, /* 0~1, 1~2 => 0~2 */
    {5, {{4, 3}, {3, 2}, {2, 1}}, 3, {0, 1, 1, 1, 1}},
    {6, {{0, 5}, {1, 4}, {5, 4}}, 3, {0, 0, 2, 3, 0, 0}},
    {3, {{0, 0}}, 1, {0, 1, 2}}, /* self-union is harmless */
    {8, {{0, 1}, {2, 3}, {4, 5}, {6, 7}, {1, 3}, {5, 7}}, 6, {0, 0, 0, 0, 4, 4, 4, 4}},
};

START_TEST(test_union_find_table)
{
    const uf_row *r = &uf_rows[_i];
    nd_uf uf;
    ck_assert_int_eq(nd_uf_init(&uf, r->n), ND_OK);
    for (size_t u = 0; u < r->union_count; u++)
        nd_uf_union(&uf, r->unions[u][0], r->unions[u][1]);
    for (size_t a = 0; a < r->n; a++) {
        for (size_t b = 0; b < r->n; b++) {
            int same = nd_uf_find(&uf, a) == nd_uf_find(&uf, b);
            ck_assert_int_eq(same, r->component[a] == r->component[b]);
        }
    }
    nd_uf_release(&uf);
}
END_TEST

/* nd_uf_flatten: every element's root read at once (nd_uf_root), on trees
 * several levels deep (unions of pairs, then of pairs of pairs, ..., with
 * no search between that would shorten the paths), against the components
 * the unions make. */
START_TEST(test_union_find_flatten)
{
    enum { N = 64 };
    nd_uf uf;
    ck_assert_int_eq(nd_uf_init(&uf, N), ND_OK);
    size_t group = (size_t)2 << _i; /* components of 2, 4, 8, ... elements */
    for (size_t width = 1; width < group; width *= 2) {
        for (size_t a = 0; a + width < N; a += 2 * width) {
            if (a / group == (a + width) / group)
                nd_uf_union(&uf, a + width, a); /* the later half's root goes under the earlier's */
        }
    }
    nd_uf_flatten(&uf);
    for (size_t a = 0; a < N; a++) {
        ck_assert_uint_eq(nd_uf_root(&uf, nd_uf_root(&uf, a)), nd_uf_root(&uf, a)); /* a root */
        for (size_t b = 0; b < N; b++)
            ck_assert_int_eq(nd_uf_root(&uf, a) == nd_uf_root(&uf, b), a / group == b / group);
    }
    nd_uf_release(&uf);
}
END_TEST

/* nd_uf_sets: the sets of two or more elements, each in increasing order,
 * the sets in the order of their roots, against the components read with
 * nd_uf_find; single elements take no room. Random unions over n elements
 * (a few large sets, many pairs, most elements alone), and n = 0 and 1. */
START_TEST(test_union_find_sets)
{
    static const size_t sizes[] = {0, 1, 2, 37, 1000};
    size_t n = sizes[_i % 5], unions = n / (1 + (size_t)_i / 5);
    nd_uf uf;
    ck_assert_int_eq(nd_uf_init(&uf, n), ND_OK);
    uint64_t x = 0x9e3779b97f4a7c15u * (uint64_t)(_i + 1);
    for (size_t u = 0; u < unions && n > 0; u++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        size_t a = (size_t)(x % n), b = u % 3 ? (a + 1 + (size_t)(x >> 40) % 3) % n : (size_t)(x >> 32) % n;
        nd_uf_union(&uf, a, b);
    }
    size_t *root = malloc((n ? n : 1) * sizeof *root), *count = calloc(n ? n : 1, sizeof *count);
    size_t expect_sets = 0, expect_total = 0;
    ck_assert_ptr_nonnull(root);
    ck_assert_ptr_nonnull(count);
    for (size_t d = 0; d < n; d++)
        count[root[d] = nd_uf_find(&uf, d)]++;
    for (size_t r = 0; r < n; r++) {
        expect_sets += count[r] >= 2;
        expect_total += count[r] >= 2 ? count[r] : 0;
    }
    size_t *members = NULL, *bounds = NULL, total = 0, sets = 0;
    ck_assert_int_eq(nd_uf_sets(&uf, &members, &total, &bounds, &sets), ND_OK);
    ck_assert_uint_eq(sets, expect_sets);
    ck_assert_uint_eq(total, expect_total);
    size_t at = 0, last_root = 0;
    for (size_t s = 0; s < sets; s++) {
        size_t begin = bounds[2 * s], end = bounds[2 * s + 1];
        ck_assert_uint_eq(begin, at);
        ck_assert_uint_eq(end - begin, count[root[members[begin]]]); /* the whole set */
        ck_assert(s == 0 || root[members[begin]] > last_root);       /* sets by root */
        last_root = root[members[begin]];
        for (size_t k = begin + 1; k < end; k++) {
            ck_assert_uint_gt(members[k], members[k - 1]);
            ck_assert_uint_eq(root[members[k]], last_root);
        }
        at = end;
    }
    ck_assert_uint_eq(at, total);
    nd_free(members);
    nd_free(bounds);
    free(root);
    free(count);
    nd_uf_release(&uf);
}
END_TEST

/* The packed words (a parent, or the root bit and a set's size) choose the
 * same roots as separate parent and size arrays with the same rules (union
 * by size, ties to a's root; path halving): the roots order the sets, and
 * so the clusters' order. Random unions, roots compared after each one,
 * then nd_uf_root after nd_uf_flatten; and past ND_UF_MAX elements init
 * refuses without allocating. */
START_TEST(test_union_find_packed_matches_arrays)
{
    enum { N = 500 };
    static uint32_t parent[N], size[N];
    nd_uf uf;
    ck_assert_int_eq(nd_uf_init(&uf, N), ND_OK);
    for (size_t i = 0; i < N; i++)
        parent[i] = (uint32_t)i, size[i] = 1;
    uint64_t x = 0x2545f4914f6cdd1du * (uint64_t)(_i + 1);
    for (size_t u = 0; u < N; u++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        size_t a = (size_t)(x % N), b = _i % 2 ? (size_t)(x >> 32) % N : (a + 1 + (size_t)(x >> 40) % 7) % N;
        size_t r[2] = {a, b};
        for (int k = 0; k < 2; k++) {
            while (parent[r[k]] != r[k]) {
                parent[r[k]] = parent[parent[r[k]]];
                r[k] = parent[r[k]];
            }
        }
        int joined = r[0] != r[1];
        if (joined) {
            if (size[r[0]] < size[r[1]]) {
                size_t t = r[0];
                r[0] = r[1];
                r[1] = t;
            }
            parent[r[1]] = (uint32_t)r[0];
            size[r[0]] += size[r[1]];
        }
        ck_assert_int_eq(nd_uf_union(&uf, a, b), joined);
        ck_assert_uint_eq(nd_uf_find(&uf, a), r[0]);
        ck_assert_uint_eq(nd_uf_size(&uf, r[0]), size[r[0]]);
    }
    nd_uf_flatten(&uf);
    for (size_t d = 0; d < N; d++) {
        size_t r = d;
        while (parent[r] != r)
            r = parent[r];
        ck_assert_uint_eq(nd_uf_root(&uf, d), r);
    }
    nd_uf_release(&uf);
    nd_alloc_fail_after(0); /* an allocation would fail: the refusal comes first */
    ck_assert_int_eq(nd_uf_init(&uf, (size_t)ND_UF_MAX + 1), ND_EINVAL);
    ck_assert_ptr_null(uf.link);
    nd_alloc_fail_after((size_t)-1);
}
END_TEST

START_TEST(test_union_reports_change)
{
    nd_uf uf;
    ck_assert_int_eq(nd_uf_init(&uf, 3), ND_OK);
    ck_assert_int_eq(nd_uf_union(&uf, 0, 1), 1);
    ck_assert_int_eq(nd_uf_union(&uf, 1, 0), 0);
    ck_assert_int_eq(nd_uf_union(&uf, 2, 0), 1);
    ck_assert_uint_eq(nd_uf_size(&uf, nd_uf_find(&uf, 2)), 3);
    nd_uf_release(&uf);
}
END_TEST

/* A store over arrays in memory: texts given by their sorted ids. */
typedef struct {
    const uint32_t *const *ids;
} array_backend;

static const uint32_t *array_ids(const void *backend, size_t doc, nd_id_buffer *buf, int *rc)
{
    (void)buf;
    (void)rc;
    return ((const array_backend *)backend)->ids[doc];
}

enum { FAMILIES = 24, BIG_FAMILY = 430, SET_SIZE = 60 };

typedef struct {
    uint64_t first;
    size_t start, len;
} found_cluster;

static int compare_size(const void *pa, const void *pb)
{
    size_t a = *(const size_t *)pa, b = *(const size_t *)pb;
    return (a > b) - (a < b);
}

static int compare_found(const void *pa, const void *pb)
{
    const found_cluster *a = pa, *b = pb;
    return (a->first > b->first) - (a->first < b->first);
}

/* Cluster texts (sorted distinct ids, with weights) through an index, for
 * each --keep, and check the clusters against splitting each component
 * (band-key-sharing pairs that reach the threshold) alone with
 * nd_store_split: the same clusters, members and scores. Returns how many
 * clusters there were with --keep first. */
static size_t check_split_per_component(const nd_options *options, uint32_t **ids, const size_t *counts,
                                        const uint64_t *weights, size_t n)
{
    nd_options opts = *options;
    size_t first_count = 0;
    nd_index *index;
    ck_assert_int_eq(nd_index_new(&index, &opts), ND_OK);
    uint32_t sig[ND_MAX_PERM];
    uint64_t *keys = malloc(n * opts.bands * sizeof *keys);
    for (size_t d = 0; d < n; d++) {
        nd_minhash(sig, opts.num_perm, opts.seed, ids[d], counts[d]);
        nd_lsh_band_keys(keys + d * opts.bands, sig, opts.bands, opts.rows);
        ck_assert_int_eq(nd_index_add_ids(index, ids[d], counts[d], keys + d * opts.bands, weights[d]), ND_OK);
    }
    for (int keep = ND_KEEP_FIRST; keep <= ND_KEEP_LONGEST; keep++) {
        nd_clusters *whole;
        ck_assert_int_eq(nd_index_cluster(&whole, NULL, index, (nd_keep)keep), ND_OK);
        /* components from the claim: band-key-sharing pairs (32-bit folded
         * keys, as the index keeps them) that reach the threshold */
        nd_uf uf;
        ck_assert_int_eq(nd_uf_init(&uf, n), ND_OK);
        for (size_t a = 0; a < n; a++) {
            for (size_t b = a + 1; b < n; b++) {
                int shares = 0;
                for (unsigned j = 0; j < opts.bands && !shares; j++) {
                    uint64_t ka = keys[a * opts.bands + j], kb = keys[b * opts.bands + j];
                    shares = (uint32_t)(ka ^ (ka >> 32)) == (uint32_t)(kb ^ (kb >> 32));
                }
                if (shares && nd_jaccard(ids[a], counts[a], ids[b], counts[b]) >= opts.threshold - 1e-12)
                    nd_uf_union(&uf, a, b);
            }
        }
        /* split each component alone, numbered within it */
        found_cluster *found = calloc(n, sizeof *found);
        nd_member *members = calloc(n, sizeof *members);
        size_t found_count = 0, member_count = 0;
        size_t *comp = malloc(n * sizeof *comp);
        nd_text_meta *meta = malloc(n * sizeof *meta);
        const uint32_t **comp_ids = malloc(n * sizeof *comp_ids);
        for (size_t root = 0; root < n; root++) {
            size_t m = 0;
            for (size_t d = 0; d < n; d++) {
                if (nd_uf_find(&uf, d) == root) {
                    comp[m] = d;
                    meta[m] =
                        (nd_text_meta){.count = (uint32_t)counts[d], .weight = (uint32_t)weights[d], .set_hash = 0};
                    comp_ids[m] = ids[d];
                    m++;
                }
            }
            if (m < 2)
                continue;
            array_backend backend = {comp_ids};
            nd_store store = {&opts, m, meta, 0, &backend, array_ids, NULL, NULL, 0, NULL, NULL, 0, NULL, NULL, 0};
            nd_clusters *part;
            ck_assert_int_eq(nd_store_split(&part, &store, (nd_keep)keep), ND_OK);
            for (size_t c = 0; c < nd_clusters_count(part); c++) {
                const nd_member *pm;
                size_t size = nd_clusters_get(&pm, part, c);
                found[found_count] = (found_cluster){UINT64_MAX, member_count, size};
                for (size_t k = 0; k < size; k++) {
                    members[member_count++] = (nd_member){comp[pm[k].doc], pm[k].jaccard, pm[k].containment};
                    if (comp[pm[k].doc] < found[found_count].first)
                        found[found_count].first = comp[pm[k].doc];
                }
                found_count++;
            }
            nd_clusters_free(part);
        }
        qsort(found, found_count, sizeof *found, compare_found);
        if (keep == ND_KEEP_FIRST)
            first_count = found_count;
        ck_assert_uint_eq(found_count, nd_clusters_count(whole));
        for (size_t c = 0; c < found_count; c++) {
            const nd_member *wm;
            size_t size = nd_clusters_get(&wm, whole, c);
            ck_assert_uint_eq(size, found[c].len);
            for (size_t k = 0; k < size; k++) {
                ck_assert_uint_eq(wm[k].doc, members[found[c].start + k].doc);
                ck_assert(wm[k].jaccard == members[found[c].start + k].jaccard);
                ck_assert(wm[k].containment == members[found[c].start + k].containment);
            }
        }
        nd_uf_release(&uf);
        nd_clusters_free(whole);
        free(found);
        free(members);
        free(comp);
        free(meta);
        free(comp_ids);
    }
    nd_index_free(index);
    free(keys);
    return first_count;
}

/* Texts: families of variants of a base set (each variant replaces a few
 * ids, some chain from the previous variant), interleaved in input order,
 * one family past CENTER_LIMIT (400) to take the star split. */
START_TEST(test_split_per_component_matches)
{
    nd_options opts = ND_OPTIONS_INIT;
    opts.threshold = 0.7;
    ck_assert_int_eq(nd_options_resolve(&opts), ND_OK);
    size_t n = 0, cap = FAMILIES * 12 + BIG_FAMILY;
    uint32_t **ids = calloc(cap, sizeof *ids);
    size_t *counts = calloc(cap, sizeof *counts);
    uint64_t state = 42;
    uint32_t base[FAMILIES + 1][SET_SIZE];
    for (size_t f = 0; f <= FAMILIES; f++) {
        for (size_t i = 0; i < SET_SIZE; i++)
            base[f][i] = (uint32_t)synth_next(&state);
    }
    for (size_t round = 0; n < cap; round++) {
        for (size_t f = 0; f <= FAMILIES && n < cap; f++) {
            if (f == FAMILIES ? round >= BIG_FAMILY : round >= 12)
                continue;
            uint32_t *set = malloc(SET_SIZE * sizeof *set);
            memcpy(set, base[f], SET_SIZE * sizeof *set);
            size_t changes = (size_t)(synth_next(&state) % 9);
            for (size_t c = 0; c < changes; c++)
                set[synth_next(&state) % SET_SIZE] = (uint32_t)synth_next(&state);
            if (synth_next(&state) % 3 == 0)
                memcpy(base[f], set, SET_SIZE * sizeof *set); /* the next variant chains from this one */
            qsort(set, SET_SIZE, sizeof *set, synth_cmp);
            size_t k = 0;
            for (size_t i = 0; i < SET_SIZE; i++) {
                if (k == 0 || set[i] != set[k - 1])
                    set[k++] = set[i];
            }
            ids[n] = set;
            counts[n] = k;
            n++;
        }
    }
    uint64_t *weights = malloc(n * sizeof *weights);
    for (size_t d = 0; d < n; d++)
        weights[d] = counts[d] * 7 % 5;
    ck_assert_uint_gt(check_split_per_component(&opts, ids, counts, weights, n), FAMILIES / 2);
    free(weights);
    for (size_t d = 0; d < n; d++)
        free(ids[d]);
    free(ids);
    free(counts);
}
END_TEST

/* Components that are one identical set (a paragraph repeated across
 * documents: most components in paragraph mode, split without reading ids)
 * and components mixing copies with near-copies: families of exact copies
 * of a base set (one past CENTER_LIMIT), families of copies and variants,
 * texts without shingles, weights that differ between copies (--keep
 * longest then keeps a later copy): the clusters are those of splitting
 * each component alone. */
START_TEST(test_split_identical_set_components)
{
    enum { ID_FAMILIES = 10, PER_FAMILY = 12, ID_BIG = 420, ID_SET = 40 };
    nd_options opts = ND_OPTIONS_INIT;
    opts.threshold = 0.7;
    ck_assert_int_eq(nd_options_resolve(&opts), ND_OK);
    size_t cap = ID_FAMILIES * PER_FAMILY + ID_BIG, n = 0;
    uint32_t **ids = calloc(cap, sizeof *ids);
    size_t *counts = calloc(cap, sizeof *counts);
    uint64_t *weights = calloc(cap, sizeof *weights);
    uint64_t state = 99 + (uint64_t)_i;
    uint32_t base[ID_FAMILIES + 1][ID_SET];
    for (size_t f = 0; f <= ID_FAMILIES; f++) {
        for (size_t i = 0; i < ID_SET; i++)
            base[f][i] = (uint32_t)synth_next(&state);
        qsort(base[f], ID_SET, sizeof base[f][0], synth_cmp);
    }
    for (size_t round = 0; n < cap; round++) {
        for (size_t f = 0; f <= ID_FAMILIES && n < cap; f++) {
            if (f == ID_FAMILIES ? round >= ID_BIG : round >= PER_FAMILY)
                continue;
            uint32_t *set = malloc(ID_SET * sizeof *set);
            memcpy(set, base[f], ID_SET * sizeof *set);
            /* odd families: exact copies only; even ones: some variants */
            if (f % 2 == 0 && f != ID_FAMILIES && synth_next(&state) % 3 == 0) {
                set[synth_next(&state) % ID_SET] = (uint32_t)synth_next(&state);
                qsort(set, ID_SET, sizeof *set, synth_cmp);
            }
            size_t k = 0;
            for (size_t i = 0; i < ID_SET; i++) {
                if (k == 0 || set[i] != set[k - 1])
                    set[k++] = set[i];
            }
            ids[n] = set;
            counts[n] = (round % 37 == 5 && f == 1) ? 0 : k; /* now and then a text without shingles */
            weights[n] = synth_next(&state) % (_i == 0 ? 1 : 7);
            n++;
        }
    }
    ck_assert_uint_ge(check_split_per_component(&opts, ids, counts, weights, n), ID_FAMILIES / 2);
    for (size_t d = 0; d < n; d++)
        free(ids[d]);
    free(ids);
    free(counts);
    free(weights);
}
END_TEST

/* Under --measure containment, a component that is one identical set is
 * still one cluster with every score 1 (identical sets cover each other
 * under any measure), its survivor by --keep; a family with a superset of
 * the copies is not one set: the superset contains every copy (containment
 * 1) and is their survivor, each copy scored against it. Families: exact
 * copies of a base set, in rounds so that they interleave, with weights
 * that differ between copies; one family adds a superset (the base and
 * SUPER_EXTRA more ids) as its third text. At a threshold of 0.95 a copy's
 * Jaccard with the superset (40 / 45) does not match, its containment in it
 * does. */
START_TEST(test_one_set_components_under_containment)
{
    enum { COPY_FAMILIES = 6, COPIES = 5, BASE = 40, SUPER_EXTRA = 5, SUPER_FAMILY = 2 };
    nd_options opts = ND_OPTIONS_INIT;
    opts.threshold = 0.95;
    opts.measure = ND_MEASURE_CONTAINMENT;
    opts.min_shingles = 8;
    ck_assert_int_eq(nd_options_resolve(&opts), ND_OK);
    nd_index *index;
    ck_assert_int_eq(nd_index_new(&index, &opts), ND_OK);
    uint64_t state = 4242;
    uint32_t base[COPY_FAMILIES][BASE + SUPER_EXTRA];
    for (size_t f = 0; f < COPY_FAMILIES; f++) {
        for (size_t i = 0; i < BASE + SUPER_EXTRA; i++)
            base[f][i] = (uint32_t)synth_next(&state);
        qsort(base[f], BASE, sizeof base[f][0], synth_cmp); /* the copies' set: the first BASE */
    }
    uint32_t super[BASE + SUPER_EXTRA];
    memcpy(super, base[SUPER_FAMILY], sizeof super);
    qsort(super, BASE + SUPER_EXTRA, sizeof super[0], synth_cmp);
    size_t family_of[COPY_FAMILIES * (COPIES + 1)], super_doc = SIZE_MAX, n = 0;
    uint64_t weight_of[COPY_FAMILIES * (COPIES + 1)];
    uint32_t sig[ND_MAX_PERM];
    uint64_t keys[ND_MAX_PERM];
    for (size_t round = 0; round < COPIES + 1; round++) {
        for (size_t f = 0; f < COPY_FAMILIES; f++) {
            int is_super = f == SUPER_FAMILY && round == 2;
            if (round == COPIES && !is_super && f != SUPER_FAMILY)
                continue;
            const uint32_t *ids = is_super ? super : base[f];
            size_t count = is_super ? BASE + SUPER_EXTRA : BASE;
            if (is_super)
                super_doc = n;
            family_of[n] = f;
            weight_of[n] = (round * 7 + f) % 4; /* ties too: input order decides them */
            nd_minhash(sig, opts.num_perm, opts.seed, ids, count);
            nd_lsh_band_keys(keys, sig, opts.bands, opts.rows);
            ck_assert_int_eq(nd_index_add_ids(index, ids, count, keys, weight_of[n]), ND_OK);
            n++;
        }
    }
    for (int keep = ND_KEEP_FIRST; keep <= ND_KEEP_LONGEST; keep++) {
        nd_clusters *clusters;
        ck_assert_int_eq(nd_index_cluster(&clusters, NULL, index, (nd_keep)keep), ND_OK);
        ck_assert_uint_eq(nd_clusters_count(clusters), COPY_FAMILIES);
        for (size_t c = 0; c < COPY_FAMILIES; c++) {
            const nd_member *m;
            size_t size = nd_clusters_get(&m, clusters, c);
            size_t f = family_of[m[0].doc], expected_survivor = SIZE_MAX, members = 0;
            for (size_t d = 0; d < n; d++) {
                if (family_of[d] != f)
                    continue;
                members++;
                if (f == SUPER_FAMILY) {
                    expected_survivor = super_doc;
                } else if (expected_survivor == SIZE_MAX ||
                           (keep == ND_KEEP_LONGEST && weight_of[d] > weight_of[expected_survivor])) {
                    expected_survivor = d;
                }
            }
            ck_assert_uint_eq(size, members);
            ck_assert_uint_eq(m[0].doc, expected_survivor);
            for (size_t k = 1; k < size; k++) {
                ck_assert_uint_eq(family_of[m[k].doc], f);
                ck_assert_uint_ne(m[k].doc, m[0].doc);
                if (k >= 2)
                    ck_assert_uint_gt(m[k].doc, m[k - 1].doc); /* the others in input order */
                if (f == SUPER_FAMILY) {
                    ck_assert_double_eq_tol(m[k].jaccard, (double)BASE / (BASE + SUPER_EXTRA), 1e-12);
                } else {
                    ck_assert_double_eq(m[k].jaccard, 1.0);
                }
                ck_assert_double_eq(m[k].containment, 1.0);
            }
        }
        nd_clusters_free(clusters);
    }
    nd_index_free(index);
}
END_TEST

/* Greedy set cover by the rule of split_component, member by member (no
 * grouping of identical sets): clusters as (survivor, others in order). */
static size_t reference_split(size_t *out, size_t *sizes, uint32_t *const *ids, const size_t *counts, size_t n,
                              double threshold)
{
    unsigned char alive[128];
    size_t cluster[128], clusters = 0, written = 0;
#define REF_COVERS(i, k) (nd_jaccard(ids[i], counts[i], ids[k], counts[k]) >= threshold - 1e-12)
    memset(alive, 1, n);
    for (size_t remaining = n; remaining >= 2;) {
        size_t center = SIZE_MAX, best = 0;
        for (size_t i = 0; i < n; i++) {
            size_t cover = 0;
            for (size_t k = 0; alive[i] && k < n; k++)
                cover += alive[k] && k != i && REF_COVERS(i, k);
            if (cover > best) {
                best = cover;
                center = i;
            }
        }
        if (center == SIZE_MAX)
            break;
        size_t size = 0;
        for (size_t k = 0; k < n; k++) {
            if (alive[k] && (k == center || REF_COVERS(center, k)))
                cluster[size++] = k;
        }
        size_t survivor = SIZE_MAX;
        for (size_t c = 0; c < size && survivor == SIZE_MAX; c++) {
            int all = 1;
            for (size_t d = 0; d < size && all; d++)
                all = cluster[d] == cluster[c] || REF_COVERS(cluster[c], cluster[d]);
            if (all)
                survivor = cluster[c];
        }
        out[written++] = survivor;
        for (size_t c = 0; c < size; c++) {
            alive[cluster[c]] = 0;
            if (cluster[c] != survivor)
                out[written++] = cluster[c];
        }
        sizes[clusters++] = size;
        remaining -= size;
    }
#undef REF_COVERS
    return clusters;
}

/* A component of 120 texts drawn from 14 sets (each text one of them:
 * most members have the same set as others, as repeated paragraphs do),
 * variants of three bases at Jaccard around the threshold, with set hashes
 * that collide for different sets of one size: the clusters are the
 * member-by-member greedy cover's, member for member and score for score. */
START_TEST(test_split_repeated_sets_match_reference)
{
    enum { TEXTS = 120, SETS = 14, BASE = 30 };
    nd_options opts = ND_OPTIONS_INIT;
    opts.threshold = 0.7;
    ck_assert_int_eq(nd_options_resolve(&opts), ND_OK);
    uint64_t state = 7 + (uint64_t)_i;
    uint32_t sets[SETS][BASE];
    size_t set_counts[SETS];
    for (size_t f = 0; f < SETS; f++) {
        if (f < 3) {
            for (size_t i = 0; i < BASE; i++)
                sets[f][i] = (uint32_t)synth_next(&state);
        } else {
            memcpy(sets[f], sets[f % 3], sizeof sets[f]);
            size_t changes = 1 + (size_t)(synth_next(&state) % 6);
            for (size_t c = 0; c < changes; c++)
                sets[f][synth_next(&state) % BASE] = (uint32_t)synth_next(&state);
        }
    }
    for (size_t f = 0; f < SETS; f++) {
        qsort(sets[f], BASE, sizeof sets[f][0], synth_cmp);
        size_t k = 0;
        for (size_t i = 0; i < BASE; i++) {
            if (k == 0 || sets[f][i] != sets[f][k - 1])
                sets[f][k++] = sets[f][i];
        }
        set_counts[f] = k;
    }
    uint32_t *ids[TEXTS];
    const uint32_t *const_ids[TEXTS];
    size_t counts[TEXTS];
    nd_text_meta meta[TEXTS];
    for (size_t d = 0; d < TEXTS; d++) {
        size_t f = (size_t)(synth_next(&state) % SETS);
        ids[d] = sets[f];
        const_ids[d] = sets[f];
        counts[d] = set_counts[f];
        meta[d] = (nd_text_meta){
            .count = (uint32_t)counts[d], .weight = 0, .set_hash = counts[d]}; /* set hash: the size (collides) */
    }
    size_t expect[TEXTS], expect_sizes[TEXTS];
    size_t expect_count = reference_split(expect, expect_sizes, ids, counts, TEXTS, opts.threshold);
    ck_assert_uint_gt(expect_count, 2);
    array_backend backend = {const_ids};
    nd_store store = {&opts, TEXTS, meta, 0, &backend, array_ids, NULL, NULL, 0, NULL, NULL, 0, NULL, NULL, 0};
    nd_clusters *part;
    ck_assert_int_eq(nd_store_split(&part, &store, ND_KEEP_FIRST), ND_OK);
    ck_assert_uint_eq(nd_clusters_count(part), expect_count);
    /* clusters are listed by their first member; the reference's in the
     * order made: match each by its survivor */
    for (size_t c = 0, at = 0; c < expect_count; at += expect_sizes[c], c++) {
        size_t found = SIZE_MAX;
        const nd_member *pm = NULL;
        for (size_t p = 0; p < nd_clusters_count(part) && found == SIZE_MAX; p++) {
            size_t size = nd_clusters_get(&pm, part, p);
            if (pm[0].doc == expect[at]) {
                found = p;
                ck_assert_uint_eq(size, expect_sizes[c]);
            }
        }
        ck_assert_msg(found != SIZE_MAX, "no cluster with survivor %zu", expect[at]);
        size_t sorted[TEXTS];
        memcpy(sorted, expect + at + 1, (expect_sizes[c] - 1) * sizeof *sorted);
        qsort(sorted, expect_sizes[c] - 1, sizeof *sorted, compare_size);
        for (size_t k = 1; k < expect_sizes[c]; k++) {
            ck_assert_uint_eq(pm[k].doc, sorted[k - 1]);
            ck_assert(pm[k].jaccard ==
                      nd_jaccard(ids[expect[at]], counts[expect[at]], ids[pm[k].doc], counts[pm[k].doc]));
        }
    }
    nd_clusters_free(part);
}
END_TEST

/* Components past CENTER_LIMIT are split around survivors in --keep
 * order, each round's candidates coming from a prefix filter
 * (prefix_filter.c). Against the rule itself, comparing each survivor with
 * every remaining member: 1,000 texts that drift from one another (each a
 * few ids away from the one before, a chain), some sharing a block of ids
 * every one of them has (the rarest-first order must put those last), a
 * few tiny and a few empty, under Jaccard and containment at several
 * thresholds (one so low that no filter is exact), --keep first and
 * longest: the same clusters, members and scores. */
enum { STAR_TEXTS = 1000, STAR_LONGEST = 90, STAR_COMMON = 25 };

typedef struct {
    double threshold;
    nd_measure measure;
} star_case;

static const star_case star_cases[] = {
    {0.8, ND_MEASURE_JACCARD},     {0.5, ND_MEASURE_JACCARD},     {0.95, ND_MEASURE_JACCARD},
    {0.7, ND_MEASURE_CONTAINMENT}, {0.9, ND_MEASURE_CONTAINMENT}, {1e-13, ND_MEASURE_JACCARD},
};

static int compare_weight_then_doc(const void *pa, const void *pb, const uint64_t *weight)
{
    size_t a = *(const size_t *)pa, b = *(const size_t *)pb;
    if (weight[a] != weight[b])
        return weight[a] > weight[b] ? -1 : 1;
    return (a > b) - (a < b);
}

static const uint64_t *star_weights;
static int compare_star_policy(const void *pa, const void *pb)
{
    return compare_weight_then_doc(pa, pb, star_weights);
}

START_TEST(test_star_split_matches_every_member_compared)
{
    const star_case *sc = &star_cases[_i % (int)(sizeof star_cases / sizeof star_cases[0])];
    nd_keep keep = _i < (int)(sizeof star_cases / sizeof star_cases[0]) ? ND_KEEP_FIRST : ND_KEEP_LONGEST;
    nd_options opts = ND_OPTIONS_INIT;
    opts.threshold = sc->threshold;
    opts.measure = sc->measure;
    opts.min_shingles = 3;
    ck_assert_int_eq(nd_options_resolve(&opts), ND_OK);
    uint64_t state = 99 + (uint64_t)_i;
    uint32_t *ids[STAR_TEXTS];
    const uint32_t *const_ids[STAR_TEXTS];
    size_t counts[STAR_TEXTS];
    uint64_t weights[STAR_TEXTS];
    nd_text_meta meta[STAR_TEXTS];
    uint32_t common[STAR_COMMON], walk[STAR_LONGEST];
    for (size_t i = 0; i < STAR_COMMON; i++)
        common[i] = (uint32_t)synth_next(&state);
    for (size_t i = 0; i < STAR_LONGEST; i++)
        walk[i] = (uint32_t)synth_next(&state);
    for (size_t d = 0; d < STAR_TEXTS; d++) {
        uint32_t set[STAR_LONGEST + STAR_COMMON];
        size_t n = 0, kind = (size_t)(synth_next(&state) % 20);
        for (size_t c = (size_t)(synth_next(&state) % 4); c > 0; c--)
            walk[synth_next(&state) % STAR_LONGEST] = (uint32_t)synth_next(&state); /* the chain drifts */
        if (kind == 0) {
            n = 0; /* empty */
        } else if (kind == 1) {
            n = 1 + (size_t)(synth_next(&state) % 4); /* tiny: a few of the walk's ids */
            memcpy(set, walk + synth_next(&state) % (STAR_LONGEST - 4), n * sizeof *set);
        } else {
            size_t from = kind < 6 ? (size_t)(synth_next(&state) % (STAR_LONGEST / 2)) : 0; /* excerpts */
            n = STAR_LONGEST - from;
            memcpy(set, walk + from, n * sizeof *set);
            if (kind % 2 == 0) {
                memcpy(set + n, common, sizeof common);
                n += STAR_COMMON;
            }
        }
        size_t k = synth_sorted_distinct(set, n);
        ids[d] = malloc((k ? k : 1) * sizeof *ids[d]);
        memcpy(ids[d], set, k * sizeof *set);
        const_ids[d] = ids[d];
        counts[d] = k;
        weights[d] = synth_next(&state) % 5;
        meta[d] = (nd_text_meta){.count = (uint32_t)k, .weight = (uint32_t)weights[d], .set_hash = d};
    }
    /* the reference: survivors in policy order, each compared with every
     * remaining member; clusters as (survivor, others ascending) */
    size_t order[STAR_TEXTS], expect[STAR_TEXTS], sizes[STAR_TEXTS], clusters = 0, written = 0;
    unsigned char alive[STAR_TEXTS];
    for (size_t d = 0; d < STAR_TEXTS; d++)
        order[d] = d;
    star_weights = weights;
    if (keep == ND_KEEP_LONGEST)
        qsort(order, STAR_TEXTS, sizeof *order, compare_star_policy);
    memset(alive, 1, sizeof alive);
    for (size_t at = 0; at < STAR_TEXTS; at++) {
        size_t s = order[at];
        if (!alive[s])
            continue;
        alive[s] = 0;
        size_t start = written;
        expect[written++] = s;
        for (size_t m = 0; m < STAR_TEXTS; m++) {
            if (alive[m] &&
                nd_covers(&opts, counts[s], counts[m], nd_intersection(ids[s], counts[s], ids[m], counts[m]))) {
                alive[m] = 0;
                expect[written++] = m;
            }
        }
        if (written - start == 1)
            written = start; /* covers nobody: no cluster */
        else
            sizes[clusters++] = written - start;
    }
    ck_assert_uint_gt(clusters, sc->threshold < 0.01 ? 0 : 10); /* 1e-13: one cluster of all */
    array_backend backend = {const_ids};
    nd_store store = {&opts, STAR_TEXTS, meta, 0, &backend, array_ids, NULL, NULL, 0, NULL, NULL, 0, NULL, NULL, 0};
    nd_clusters *part;
    ck_assert_int_eq(nd_store_split(&part, &store, keep), ND_OK);
    ck_assert_uint_eq(nd_clusters_count(part), clusters);
    /* listed by earliest member; match each reference cluster by survivor */
    for (size_t c = 0, at = 0; c < clusters; at += sizes[c], c++) {
        const nd_member *pm = NULL;
        size_t size = 0;
        for (size_t p = 0; p < clusters && !size; p++) {
            size = nd_clusters_get(&pm, part, p);
            if (pm[0].doc != expect[at])
                size = 0;
        }
        ck_assert_msg(size == sizes[c], "survivor %zu: %zu members, expected %zu", expect[at], size, sizes[c]);
        for (size_t k = 1; k < size; k++) {
            ck_assert_uint_eq(pm[k].doc, expect[at + k]);
            size_t shared = nd_intersection(ids[expect[at]], counts[expect[at]], ids[pm[k].doc], counts[pm[k].doc]);
            ck_assert(pm[k].jaccard == nd_jaccard_counts(counts[expect[at]], counts[pm[k].doc], shared));
        }
    }
    nd_clusters_free(part);
    for (size_t d = 0; d < STAR_TEXTS; d++)
        free(ids[d]);
}
END_TEST

/* The prefix filter over texts some of which are empty, read through an
 * adapter that gives NULL for an empty text (its count 0), as any pointer
 * is allowed there; NULL with a count is a read error (ND_EIO). Both ways
 * of building: the texts that can match text 0 are found, the empty ones
 * never (no score of an empty set reaches a threshold). */
typedef struct {
    const uint32_t *const *ids;
    const size_t *counts;
    size_t failing; /* the text whose read fails, or SIZE_MAX */
} pf_texts;

static const uint32_t *pf_text_ids(void *ctx, size_t member, size_t *count)
{
    const pf_texts *t = ctx;
    *count = t->counts[member];
    if (member == t->failing || *count == 0)
        return NULL;
    return t->ids[member];
}

START_TEST(test_prefix_filter_empty_text_as_null)
{
    static const uint32_t t0[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, t2[] = {1, 2, 3, 4, 5, 6, 7, 8, 9},
                          t3[] = {2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, t4[] = {50, 51, 52, 53, 54, 55, 56, 57, 58, 59};
    const uint32_t *const ids[] = {t0, NULL, t2, t3, t4, NULL};
    const size_t counts[] = {10, 0, 9, 10, 10, 0};
    enum { N = 6 };
    int both = _i;
    pf_texts texts = {ids, counts, SIZE_MAX};
    nd_prefix_filter pf;
    ck_assert_int_eq(nd_prefix_filter_build(&pf, 0.8, N, pf_text_ids, &texts, both), ND_OK);
    unsigned char found[N] = {0};
    if (both) {
        nd_prefix_filter_mark(&pf, 0);
        for (size_t m = 0; m < N; m++)
            found[m] = (unsigned char)nd_prefix_filter_marked(&pf, m);
    } else {
        unsigned char alive[N];
        uint32_t out[N];
        memset(alive, 1, sizeof alive);
        size_t n = nd_prefix_filter_candidates(&pf, t0, counts[0], alive, out);
        for (size_t k = 0; k < n; k++)
            found[out[k]] = 1;
    }
    ck_assert(found[2] && found[3]);                /* 9 of 9 ids shared, 9 of 10 */
    ck_assert(!found[1] && !found[5] && !found[4]); /* empty; nothing shared */
    nd_prefix_filter_free(&pf);
    texts.failing = 3;
    ck_assert_int_eq(nd_prefix_filter_build(&pf, 0.8, N, pf_text_ids, &texts, both), ND_EIO);
}
END_TEST

/* The texts of one LSH key verified group by group (keygroups.c), with
 * and without the prefix filter a key turns to once it has made many
 * verifications, against every pair verified: the same components. Texts
 * are variants of one base set (each with a few ids of its own: the
 * number drawn per case), some much shorter (containment's excerpts),
 * some empty; the filter must also make fewer verifications where the
 * variants have many ids of their own. */
enum { KEY_TEXTS = 900, KEY_BASE = 96 };

typedef struct {
    const nd_options *opts;
    uint32_t *const *ids;
    const size_t *counts;
    nd_uf *uf;
    size_t calls;
} key_check;

static int key_verify(void *ctx, size_t a, size_t b)
{
    key_check *k = ctx;
    k->calls++;
    size_t shared = nd_intersection(k->ids[a], k->counts[a], k->ids[b], k->counts[b]);
    if (!nd_matches(k->opts, k->counts[a], k->counts[b], shared))
        return 0;
    nd_uf_union(k->uf, a, b);
    return 1;
}

static const uint32_t *key_ids(void *ctx, size_t text, size_t *count)
{
    const key_check *k = ctx;
    *count = k->counts[text];
    return k->ids[text];
}

typedef struct {
    double threshold;
    nd_measure measure;
    unsigned most_own; /* ids of its own a variant has: up to this many */
    int fewer;         /* the filter must make fewer verifications */
} key_case;

static const key_case key_cases[] = {
    {0.8, ND_MEASURE_JACCARD, 12, 0},     {0.8, ND_MEASURE_JACCARD, 40, 1},    {0.5, ND_MEASURE_JACCARD, 60, 0},
    {0.7, ND_MEASURE_CONTAINMENT, 40, 1}, {0.9, ND_MEASURE_CONTAINMENT, 8, 0}, {1e-13, ND_MEASURE_JACCARD, 40, 0},
};

/* The component of each text, as its smallest member. */
static void components_of(nd_uf *uf, size_t *root_min, size_t n)
{
    for (size_t d = 0; d < n; d++)
        root_min[d] = SIZE_MAX;
    for (size_t d = 0; d < n; d++) {
        size_t r = nd_uf_find(uf, d);
        if (root_min[r] == SIZE_MAX)
            root_min[r] = d;
    }
    for (size_t d = 0; d < n; d++)
        root_min[d] = root_min[nd_uf_find(uf, d)];
}

START_TEST(test_key_groups_filter_same_components)
{
    const key_case *kc = &key_cases[_i];
    nd_options opts = ND_OPTIONS_INIT;
    opts.threshold = kc->threshold;
    opts.measure = kc->measure;
    opts.min_shingles = 3;
    ck_assert_int_eq(nd_options_resolve(&opts), ND_OK);
    uint64_t state = 1234 + (uint64_t)_i;
    uint32_t base[KEY_BASE];
    for (size_t i = 0; i < KEY_BASE; i++)
        base[i] = (uint32_t)synth_next(&state);
    static uint32_t *ids[KEY_TEXTS];
    static size_t counts[KEY_TEXTS];
    static uint32_t texts[KEY_TEXTS];
    for (size_t d = 0; d < KEY_TEXTS; d++) {
        uint32_t set[KEY_BASE];
        size_t n = KEY_BASE, kind = (size_t)(synth_next(&state) % 25);
        memcpy(set, base, sizeof set);
        if (kind == 0)
            n = 0;
        else if (kind < 4)
            n = 4 + (size_t)(synth_next(&state) % 30); /* an excerpt: a stretch of the base */
        size_t own = (size_t)(synth_next(&state) % (kc->most_own + 1));
        for (size_t c = 0; c < own && n; c++)
            set[synth_next(&state) % n] = (uint32_t)synth_next(&state);
        size_t k = synth_sorted_distinct(set, n);
        ids[d] = malloc((k ? k : 1) * sizeof *ids[d]);
        memcpy(ids[d], set, k * sizeof *set);
        counts[d] = k;
        texts[d] = (uint32_t)d;
    }
    /* every pair */
    nd_uf every, plain, filtered;
    ck_assert_int_eq(nd_uf_init(&every, KEY_TEXTS), ND_OK);
    ck_assert_int_eq(nd_uf_init(&plain, KEY_TEXTS), ND_OK);
    ck_assert_int_eq(nd_uf_init(&filtered, KEY_TEXTS), ND_OK);
    key_check all = {&opts, ids, counts, &every, 0};
    for (size_t a = 0; a < KEY_TEXTS; a++) {
        for (size_t b = a + 1; b < KEY_TEXTS; b++)
            key_verify(&all, a, b);
    }
    nd_key_groups groups = {NULL, NULL, NULL, 0};
    key_check without = {&opts, ids, counts, &plain, 0}, with = {&opts, ids, counts, &filtered, 0};
    ck_assert_int_eq(nd_key_groups_verify(&groups, &plain, texts, KEY_TEXTS, key_verify, &without, NULL), ND_OK);
    nd_key_source source = {key_ids, &with, opts.threshold};
    ck_assert_int_eq(nd_key_groups_verify(&groups, &filtered, texts, KEY_TEXTS, key_verify, &with, &source), ND_OK);
    static size_t want[KEY_TEXTS], got_plain[KEY_TEXTS], got_filtered[KEY_TEXTS];
    components_of(&every, want, KEY_TEXTS);
    components_of(&plain, got_plain, KEY_TEXTS);
    components_of(&filtered, got_filtered, KEY_TEXTS);
    size_t joined = 0;
    for (size_t d = 0; d < KEY_TEXTS; d++) {
        ck_assert_uint_eq(got_plain[d], want[d]);
        ck_assert_msg(got_filtered[d] == want[d], "text %zu: component of %zu, every pair gives %zu", d,
                      got_filtered[d], want[d]);
        joined += want[d] != d;
    }
    ck_assert_uint_gt(joined, 10);                                                /* some match */
    ck_assert_uint_lt(joined, kc->threshold < 0.01 ? KEY_TEXTS : KEY_TEXTS - 10); /* and some do not */
    ck_assert_uint_le(with.calls, without.calls);                                 /* never more */
    if (kc->fewer)
        ck_assert_msg(with.calls * 2 < without.calls, "%zu verifications with the filter, %zu without", with.calls,
                      without.calls);
    nd_key_groups_release(&groups);
    nd_uf_release(&every);
    nd_uf_release(&plain);
    nd_uf_release(&filtered);
    for (size_t d = 0; d < KEY_TEXTS; d++)
        free(ids[d]);
}
END_TEST

/* nd_identical_sets against a stable sort by the whole 64-bit set hash:
 * the same representatives, the same same() calls in the same order, the
 * same count of groups. Set hashes are drawn so that many share their
 * upper half (the sort's key) and some are whole collisions between
 * different sets; a few texts are empty. */
enum { SAME_TEXTS = 3000, SAME_SETS = 60, SAME_SET_SIZE = 6 };

typedef struct {
    size_t calls[SAME_TEXTS][2];
    size_t count;
} same_log;

static void log_same(void *ctx, size_t first, size_t other)
{
    same_log *log = ctx;
    ck_assert_uint_lt(log->count, SAME_TEXTS);
    log->calls[log->count][0] = first;
    log->calls[log->count][1] = other;
    log->count++;
}

typedef struct {
    uint64_t hash;
    size_t doc;
} hashed_doc;

static int compare_hashed(const void *pa, const void *pb)
{
    const hashed_doc *a = pa, *b = pb;
    if (a->hash != b->hash)
        return a->hash < b->hash ? -1 : 1;
    return (a->doc > b->doc) - (a->doc < b->doc);
}

START_TEST(test_identical_sets_match_whole_hash_sort)
{
    uint64_t state = 0x5a3e000 + (uint64_t)_i;
    static uint32_t sets[SAME_SETS][SAME_SET_SIZE];
    uint64_t set_hash[SAME_SETS];
    for (size_t f = 0; f < SAME_SETS; f++) {
        for (size_t k = 0; k < SAME_SET_SIZE; k++)
            sets[f][k] = (uint32_t)(f * 100 + k); /* distinct sets, sorted */
        /* 3 upper halves; lower halves from 0..24, so some sets collide whole */
        set_hash[f] = (synth_next(&state) % 3 + 1) << 32 | synth_next(&state) % 25;
    }
    static const uint32_t *ids[SAME_TEXTS];
    static nd_text_meta meta[SAME_TEXTS];
    for (size_t d = 0; d < SAME_TEXTS; d++) {
        size_t f = (size_t)(synth_next(&state) % SAME_SETS);
        int empty = synth_next(&state) % 17 == 0;
        ids[d] = sets[f];
        meta[d] = (nd_text_meta){.count = empty ? 0 : SAME_SET_SIZE, .weight = SAME_SET_SIZE, .set_hash = set_hash[f]};
    }
    /* the reference */
    static hashed_doc order[SAME_TEXTS];
    static unsigned char expect_rep[SAME_TEXTS];
    static same_log expect;
    memset(expect_rep, 0, sizeof expect_rep);
    expect.count = 0;
    size_t m = 0;
    uint64_t expect_groups = 0;
    for (size_t d = 0; d < SAME_TEXTS; d++) {
        if (meta[d].count > 0)
            order[m++] = (hashed_doc){meta[d].set_hash, d};
    }
    qsort(order, m, sizeof *order, compare_hashed);
    for (size_t i = 0; i < m;) {
        size_t j = i + 1;
        while (j < m && order[j].hash == order[i].hash)
            j++;
        expect_rep[order[i].doc] = 1;
        expect_groups += j - i > 1;
        for (size_t k = i + 1; k < j; k++) {
            if (ids[order[k].doc] == ids[order[i].doc])
                log_same(&expect, order[i].doc, order[k].doc);
            else
                expect_rep[order[k].doc] = 1;
        }
        i = j;
    }
    /* the store */
    nd_options opts = ND_OPTIONS_INIT;
    ck_assert_int_eq(nd_options_resolve(&opts), ND_OK);
    array_backend backend = {ids};
    nd_store store = {&opts, SAME_TEXTS, meta, 0, &backend, array_ids, NULL, NULL, 0, NULL, NULL, 0, NULL, NULL, 0};
    static unsigned char is_rep[SAME_TEXTS];
    static same_log got;
    memset(is_rep, 0, sizeof is_rep);
    got.count = 0;
    uint64_t groups = 0;
    ck_assert_int_eq(nd_identical_sets(is_rep, &groups, &store, log_same, &got), ND_OK);
    ck_assert_uint_eq(groups, expect_groups);
    ck_assert_uint_gt(expect.count, SAME_TEXTS / 2);
    ck_assert_uint_eq(got.count, expect.count);
    for (size_t c = 0; c < got.count; c++) {
        ck_assert_uint_eq(got.calls[c][0], expect.calls[c][0]);
        ck_assert_uint_eq(got.calls[c][1], expect.calls[c][1]);
    }
    ck_assert_mem_eq(is_rep, expect_rep, SAME_TEXTS);
}
END_TEST

/* nd_sets_then_bands, where the helpers gather and sort bands before the
 * representatives are known and drop the others afterwards, against the
 * identical sets and then the bands one after the other: the same
 * representatives, same() calls and bands visited, for any thread count.
 * Texts span two key chunks; many are copies (not representatives), some
 * empty; band keys are drawn from a small range so that many are shared. */
enum { BAND_TEXTS = ND_KEY_CHUNK + 4000, BAND_SETS = 20000, BAND_KEYS = 5000 };

typedef struct {
    const uint32_t *const *ids;
    const uint32_t *keys; /* band-major: keys[band * BAND_TEXTS + text] */
} band_backend;

static const uint32_t *band_ids(const void *backend, size_t doc, nd_id_buffer *buf, int *rc)
{
    (void)buf;
    (void)rc;
    return ((const band_backend *)backend)->ids[doc];
}

static const uint32_t *band_keys(const void *backend, unsigned band, size_t chunk, uint32_t *buf)
{
    (void)buf;
    return ((const band_backend *)backend)->keys + (size_t)band * BAND_TEXTS + chunk * ND_KEY_CHUNK;
}

/* What the callbacks saw, folded into one number (order matters). */
typedef struct {
    uint64_t digest;
    size_t items;
} call_digest;

static void digest_add(call_digest *d, uint64_t value)
{
    d->digest = (d->digest ^ value) * 0x100000001b3ULL + 0x9e3779b97f4a7c15ULL;
    d->items++;
}

static void digest_same(void *ctx, size_t first, size_t other)
{
    digest_add(ctx, (uint64_t)first << 32 | other);
}

static int digest_band(void *ctx, const uint64_t *entries, size_t count)
{
    digest_add(ctx, count);
    for (size_t i = 0; i < count; i++)
        digest_add(ctx, entries[i]);
    return ND_OK;
}

/* What the identical sets then the bands, one after the other on one
 * thread, saw of a store. */
typedef struct {
    call_digest same, bands;
    uint64_t groups;
} sets_bands_seen;

/* nd_sets_then_bands on `threads` threads against nd_identical_sets then
 * nd_band_candidates: the same representatives, groups and callbacks. What
 * the sequential steps saw is left in *seen, for the caller's checks that
 * the case is one that matters. The store has BAND_TEXTS texts. */
static void check_sets_then_bands(const nd_store *store, unsigned threads, sets_bands_seen *seen)
{
    static unsigned char expect_rep[BAND_TEXTS], got_rep[BAND_TEXTS];
    memset(expect_rep, 0, sizeof expect_rep);
    memset(got_rep, 0, sizeof got_rep);
    *seen = (sets_bands_seen){{0, 0}, {0, 0}, 0};
    call_digest got_same = {0, 0}, got_bands = {0, 0};
    uint64_t got_groups = 0;
    ck_assert_uint_eq(store->count, BAND_TEXTS);
    ck_assert_int_eq(nd_identical_sets(expect_rep, &seen->groups, store, digest_same, &seen->same), ND_OK);
    ck_assert_int_eq(nd_band_candidates(store, expect_rep, 1, digest_band, &seen->bands), ND_OK);
    ck_assert_int_eq(
        nd_sets_then_bands(got_rep, &got_groups, store, threads, digest_same, &got_same, digest_band, &got_bands),
        ND_OK);
    ck_assert_mem_eq(got_rep, expect_rep, BAND_TEXTS);
    ck_assert_uint_eq(got_groups, seen->groups);
    ck_assert_uint_eq(got_same.items, seen->same.items);
    ck_assert_uint_eq(got_same.digest, seen->same.digest);
    ck_assert_uint_eq(got_bands.items, seen->bands.items);
    ck_assert_uint_eq(got_bands.digest, seen->bands.digest);
}

START_TEST(test_sets_then_bands_match_sequential)
{
    unsigned threads = (unsigned)_i + 1;
    uint64_t state = 0xba4d5;
    static uint32_t sets[BAND_SETS][4];
    for (size_t f = 0; f < BAND_SETS; f++) {
        for (size_t k = 0; k < 4; k++)
            sets[f][k] = (uint32_t)(f * 10 + k);
    }
    static const uint32_t *ids[BAND_TEXTS];
    static nd_text_meta meta[BAND_TEXTS];
    for (size_t d = 0; d < BAND_TEXTS; d++) {
        size_t f = (size_t)(synth_next(&state) % BAND_SETS);
        int empty = synth_next(&state) % 17 == 0;
        ids[d] = sets[f];
        meta[d] = (nd_text_meta){.count = empty ? 0 : 4, .weight = 4, .set_hash = (uint64_t)(f + 1) << 32 | f};
    }
    nd_options opts = ND_OPTIONS_INIT;
    ck_assert_int_eq(nd_options_resolve(&opts), ND_OK);
    uint32_t *keys = malloc((size_t)opts.bands * BAND_TEXTS * sizeof *keys);
    ck_assert_ptr_nonnull(keys);
    for (size_t k = 0; k < (size_t)opts.bands * BAND_TEXTS; k++)
        keys[k] = (uint32_t)(synth_next(&state) % BAND_KEYS);
    band_backend backend = {ids, keys};
    nd_store store = {&opts, BAND_TEXTS, meta, 0, &backend, band_ids, band_keys, NULL, 0, NULL, NULL, 0, NULL, NULL, 0};

    sets_bands_seen seen;
    check_sets_then_bands(&store, threads, &seen);
    /* the case is one where it matters: copies, and shared keys */
    ck_assert_uint_gt(seen.same.items, BAND_TEXTS / 2);
    ck_assert_uint_gt(seen.bands.items, (size_t)opts.bands * 1000);
    free(keys);
}
END_TEST

/* nd_sets_then_bands skips sorting the texts whose set hash no other
 * text's can share (two bits per hashed slot): against nd_identical_sets
 * (which sorts every text) and the bands after it, the same
 * representatives, same() calls, exact groups and bands, for 1 and 2
 * threads. Most texts have a set of their own (a random hash); the others
 * are copies of a few sets, some of whose hashes share their upper half
 * or the whole hash with a different set; some texts are empty. In half
 * the cases some texts are unsettled (store.h: a set of their own) with
 * the hash and ids of a copied set, which they must not join (the filter
 * is then not used: the same results either way). */
enum { LONE_SET_POOL = 300 };

START_TEST(test_sets_then_bands_skip_lone_hashes)
{
    unsigned threads = (unsigned)_i % 2 + 1;
    int with_unsettled = _i / 2;
    uint64_t state = 0x10e5e75;
    static uint32_t pool[LONE_SET_POOL][4], own_ids[BAND_TEXTS][4];
    uint64_t pool_hash[LONE_SET_POOL];
    for (size_t f = 0; f < LONE_SET_POOL; f++) {
        for (size_t k = 0; k < 4; k++)
            pool[f][k] = (uint32_t)(f * 10 + k);
        /* 100 upper halves, lower halves 0..3: some sets collide whole */
        pool_hash[f] = (synth_next(&state) % 100 + 1) << 32 | synth_next(&state) % 4;
    }
    static const uint32_t *ids[BAND_TEXTS];
    static nd_text_meta meta[BAND_TEXTS];
    static unsigned char unsettled[BAND_TEXTS];
    size_t unsettled_copies = 0;
    for (size_t d = 0; d < BAND_TEXTS; d++) {
        uint64_t roll = synth_next(&state) % 100;
        size_t f = (size_t)(synth_next(&state) % LONE_SET_POOL);
        unsettled[d] = 0;
        if (roll < 70) { /* a set of its own */
            for (size_t k = 0; k < 4; k++)
                own_ids[d][k] = (uint32_t)(1000000 + d * 4 + k);
            ids[d] = own_ids[d];
            meta[d] = (nd_text_meta){.count = 4, .weight = 4, .set_hash = synth_next(&state) | 1ULL << 63};
        } else {
            ids[d] = pool[f];
            meta[d] = (nd_text_meta){.count = roll < 73 ? 0 : 4, .weight = 4, .set_hash = pool_hash[f]};
            if (roll >= 73 && roll < 76) { /* unsettled, looking like a copy */
                unsettled[d] = 1;
                unsettled_copies++;
            }
        }
    }
    nd_options opts = ND_OPTIONS_INIT;
    ck_assert_int_eq(nd_options_resolve(&opts), ND_OK);
    uint32_t *keys = malloc((size_t)opts.bands * BAND_TEXTS * sizeof *keys);
    ck_assert_ptr_nonnull(keys);
    for (size_t k = 0; k < (size_t)opts.bands * BAND_TEXTS; k++)
        keys[k] = (uint32_t)(synth_next(&state) % (4 * BAND_TEXTS));
    band_backend backend = {ids, keys};
    nd_store store = {&opts,    BAND_TEXTS, meta, 0,    &backend,
                      band_ids, band_keys,  NULL, 0,    with_unsettled ? unsettled : NULL,
                      NULL,     0,          NULL, NULL, 0};

    sets_bands_seen seen;
    check_sets_then_bands(&store, threads, &seen);
    /* the case is one where it matters: copies, collisions, unsettled look-alikes */
    ck_assert_uint_gt(seen.same.items, BAND_TEXTS / 8);
    ck_assert_uint_gt(seen.groups, LONE_SET_POOL / 2);
    ck_assert_uint_gt(unsettled_copies, 100); /* unused without unsettled: copies then */
    ck_assert_uint_gt(seen.bands.items, (size_t)opts.bands);
    free(keys);
}
END_TEST

/* Bands of many texts, where prepare_band drops the entries whose key no
 * other entry can share before sorting (in memory: mark_keys then
 * keep_marked, then drop_lone_again over those left; on disk:
 * drop_lone_keys after gathering): the bands visited
 * are those of a plain sort of the representatives' entries, keeping the
 * keys of two texts or more. Keys are random 32-bit values (most a text's
 * own, as in a real band), a tenth of the texts taking an earlier text's
 * key; a quarter of the texts are not representatives; with 1 and 2
 * threads, in memory and on disk, with the slots and without (every band
 * sorted whole, as past nd_candidates_set_slots_most's size). */
enum { LONE_TEXTS = 3 * ND_KEY_CHUNK / 2 };

static const uint32_t *lone_keys(const void *backend, unsigned band, size_t chunk, uint32_t *buf)
{
    (void)buf;
    return (const uint32_t *)backend + (size_t)band * LONE_TEXTS + chunk * ND_KEY_CHUNK;
}

static int compare_u64(const void *pa, const void *pb)
{
    uint64_t a = *(const uint64_t *)pa, b = *(const uint64_t *)pb;
    return (a > b) - (a < b);
}

START_TEST(test_bands_match_plain_sort)
{
    unsigned threads = (unsigned)_i % 2 + 1;
    int on_disk = _i / 2 % 2;
    nd_candidates_set_slots_most(_i >= 4 ? 0 : (size_t)4 << 20); /* 4..7: no slots, every band sorted whole */
    uint64_t state = 0x10e5;
    nd_options opts = ND_OPTIONS_INIT;
    ck_assert_int_eq(nd_options_resolve(&opts), ND_OK);
    uint32_t *keys = malloc((size_t)opts.bands * LONE_TEXTS * sizeof *keys);
    uint64_t *entries = malloc(LONE_TEXTS * sizeof *entries);
    static nd_text_meta meta[LONE_TEXTS];
    static unsigned char is_rep[LONE_TEXTS];
    ck_assert_ptr_nonnull(keys);
    ck_assert_ptr_nonnull(entries);
    for (size_t d = 0; d < LONE_TEXTS; d++) {
        meta[d] = (nd_text_meta){.count = 1, .weight = 1, .set_hash = d};
        is_rep[d] = synth_next(&state) % 4 != 0;
    }
    call_digest expect = {0, 0};
    size_t shared = 0;
    for (unsigned b = 0; b < opts.bands; b++) {
        uint32_t *k = keys + (size_t)b * LONE_TEXTS;
        size_t reps = 0;
        for (size_t d = 0; d < LONE_TEXTS; d++) {
            uint64_t r = synth_next(&state);
            k[d] = d > 0 && r % 10 == 0 ? k[(r >> 8) % d] : (uint32_t)(r >> 32);
            if (is_rep[d])
                entries[reps++] = (uint64_t)k[d] << 32 | d;
        }
        /* the band as a plain sort makes it: keys of two texts or more, in
         * key order, texts in order within a key */
        qsort(entries, reps, sizeof *entries, compare_u64);
        size_t kept = 0;
        for (size_t i = 0; i < reps;) {
            size_t j = i + 1;
            while (j < reps && entries[j] >> 32 == entries[i] >> 32)
                j++;
            if (j - i >= 2) {
                memmove(entries + kept, entries + i, (j - i) * sizeof *entries);
                kept += j - i;
            }
            i = j;
        }
        shared += kept;
        digest_band(&expect, entries, kept);
    }
    ck_assert_uint_gt(shared, (size_t)opts.bands * LONE_TEXTS / 20);
    nd_store store = {&opts, LONE_TEXTS, meta, on_disk, keys, NULL, lone_keys, NULL, 0, NULL, NULL, 0, NULL, NULL, 0};
    call_digest got = {0, 0};
    ck_assert_int_eq(nd_band_candidates(&store, is_rep, threads, digest_band, &got), ND_OK);
    ck_assert_uint_eq(got.items, expect.items);
    ck_assert_uint_eq(got.digest, expect.digest);
    nd_candidates_set_slots_most((size_t)4 << 20);
    free(keys);
    free(entries);
}
END_TEST

Suite *cluster_suite(void)
{
    Suite *s = suite_create("cluster");
    TCase *tc = tcase_create("union_find");
    tcase_add_loop_test(tc, test_union_find_table, 0, (int)(sizeof uf_rows / sizeof uf_rows[0]));
    tcase_add_test(tc, test_union_reports_change);
    tcase_add_loop_test(tc, test_union_find_packed_matches_arrays, 0, 4);
    tcase_add_loop_test(tc, test_union_find_sets, 0, 15);
    tcase_add_loop_test(tc, test_union_find_flatten, 0, 5);
    suite_add_tcase(s, tc);
    TCase *split = tcase_create("split");
    tcase_set_timeout(split, 60);
    tcase_add_test(split, test_split_per_component_matches);
    tcase_add_loop_test(split, test_split_identical_set_components, 0, 3);
    tcase_add_test(split, test_one_set_components_under_containment);
    tcase_add_loop_test(split, test_split_repeated_sets_match_reference, 0, 6);
    tcase_add_loop_test(split, test_key_groups_filter_same_components, 0,
                        (int)(sizeof key_cases / sizeof key_cases[0]));
    tcase_add_loop_test(split, test_star_split_matches_every_member_compared, 0,
                        2 * (int)(sizeof star_cases / sizeof star_cases[0]));
    suite_add_tcase(s, split);
    TCase *filter = tcase_create("prefix_filter");
    tcase_add_loop_test(filter, test_prefix_filter_empty_text_as_null, 0, 2);
    suite_add_tcase(s, filter);
    TCase *same = tcase_create("identical_sets");
    tcase_add_loop_test(same, test_identical_sets_match_whole_hash_sort, 0, 4);
    suite_add_tcase(s, same);
    TCase *bands = tcase_create("sets_then_bands");
    tcase_set_timeout(bands, 60);
    tcase_add_loop_test(bands, test_sets_then_bands_match_sequential, 0, 4);
    tcase_add_loop_test(bands, test_sets_then_bands_skip_lone_hashes, 0, 4);
    tcase_add_loop_test(bands, test_bands_match_plain_sort, 0, 8);
    suite_add_tcase(s, bands);
    return s;
}
