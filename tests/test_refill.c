/* test_refill.c - texts added without their ids (src/index_refill.c,
 * nd_index_add_dropped) and given them again (nd_index_refill; the CLI's
 * step src/cli/refill.c, which reads the records again by position).
 *
 * A group's first member dropped and refilled clusters as if its ids had
 * been kept; the index names exactly the dropped texts that share a band
 * key with another (a lone text is left without ids); a refill with other
 * ids is refused. A spilled index keeps its dropped texts dropped (more
 * may be added after the spill) and refills into its files those that
 * clustering reads. The CLI step refills from the file, on its threads,
 * and a file changed between the passes fails it.
 * The end-to-end equality of outputs is tests/cli/test_refill.sh. */
#include <check.h>
#include <fcntl.h>    /* AT_FDCWD */
#include <stdio.h>    /* fopen, fwrite, snprintf */
#include <stdlib.h>   /* mkdtemp, malloc */
#include <string.h>   /* memcpy */
#include <sys/stat.h> /* stat, utimensat */
#include <unistd.h>   /* unlink, rmdir */

#include "cli.h"
#include "document.h"
#include "index_add.h"
#include "input.h"
#include "neardup.h"
#include "refill.h"
#include "sameclusters.h"
#include "suites.h"

enum { TEXTS = 600 };

/* Text i: in tens, kind 0 a group's first member, 1 and 2 its exact copies,
 * 3 a first member and 4 its near copy (a word changed), 5 to 8 alone, 9
 * empty. Into buf (room for 1024 bytes). */
static size_t text_of(char *buf, size_t i)
{
    size_t kind = i % 10, n = 0;
    if (kind == 9)
        return 0;
    size_t seed = kind <= 2 ? 0 : kind == 4 ? 3 : kind;
    uint64_t x = 0x9E3779B97F4A7C15u * (i / 10 * 10 + seed + 1);
    for (size_t w = 0; w < 40; w++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        uint64_t word = x % 5000;
        if (kind == 4 && w == 20)
            word = (word + 1) % 5000;
        n += (size_t)snprintf(buf + n, 24, "w%llu ", (unsigned long long)word);
    }
    return n - 1;
}

/* Is text i one that kept_index() drops: a group's first member, or alone? */
static int dropped_kind(size_t i)
{
    size_t kind = i % 10;
    return kind == 0 || kind == 3 || (kind >= 5 && kind <= 8);
}

/* The corpus into `kept` (nd_index_add_raw, every text's ids) and
 * `dropped` (the first members and lone texts nd_index_add_dropped), both
 * spilled (nd_index_spill) before text `spill_at` (none: TEXTS or more).
 * Returns how many were dropped. */
static size_t index_both(nd_index *kept, nd_index *dropped, const nd_options *opts, nd_sketcher *sk, size_t spill_at)
{
    static char text[1024];
    size_t n = 0;
    for (size_t i = 0; i < TEXTS; i++) {
        if (i == spill_at) {
            ck_assert_int_eq(nd_index_spill(kept, "/tmp"), ND_OK);
            ck_assert_int_eq(nd_index_spill(dropped, "/tmp"), ND_OK);
        }
        size_t len = text_of(text, i);
        nd_sketch_ref ref;
        uint64_t keys[ND_MAX_PERM];
        ck_assert_int_eq(nd_sketch_text_ref_raw(&ref, sk, text, len), ND_OK);
        nd_lsh_band_keys(keys, ref.signature, opts->bands, opts->rows);
        ck_assert_int_eq(nd_index_add_raw(kept, ref.ids, ref.count, keys, len), ND_OK);
        if (ref.count > 0 && dropped_kind(i)) {
            ck_assert_int_eq(nd_index_add_dropped(dropped, ref.count, keys, len), ND_OK);
            n++;
        } else {
            ck_assert_int_eq(nd_index_add_raw(dropped, ref.ids, ref.count, keys, len), ND_OK);
        }
    }
    return n;
}

/* Give texts docs[0 .. n) of `index` their ids again. */
static void refill_texts(nd_index *index, nd_sketcher *sk, const uint32_t *docs, size_t n)
{
    static char text[1024];
    for (size_t k = 0; k < n; k++) {
        size_t len = text_of(text, docs[k]);
        nd_sketch_ref ref;
        ck_assert_int_eq(nd_sketch_ids_raw(&ref, sk, text, len), ND_OK);
        ck_assert_int_eq(nd_index_refill(index, docs[k], ref.ids, ref.count), ND_OK);
    }
}

/* A refill function (nd_index_set_refill) that sketches text doc again,
 * counting its calls, or (fail) says the text cannot be read. */
typedef struct lazy {
    nd_sketcher *sk;
    size_t calls;
    int fail;
} lazy;

static int refill_lazily(void *ctx, size_t doc, size_t expected, const uint32_t **ids, size_t *count)
{
    static char text[1024];
    lazy *l = ctx;
    l->calls++;
    if (l->fail)
        return ND_EIO;
    nd_sketch_ref ref;
    int rc = nd_sketch_ids_raw(&ref, l->sk, text, text_of(text, doc));
    ck_assert(rc != ND_OK || ref.count == expected); /* the count it was added with */
    *ids = ref.ids;
    *count = ref.count;
    return rc;
}

static void same_clusters(nd_index *a, nd_index *b, unsigned threads)
{
    nd_index_set_threads(a, threads);
    nd_index_set_threads(b, threads);
    nd_clusters *ca = NULL, *cb = NULL;
    nd_cluster_stats sa, sb;
    ck_assert_int_eq(nd_index_cluster(&ca, &sa, a, ND_KEEP_FIRST), ND_OK);
    ck_assert_int_eq(nd_index_cluster(&cb, &sb, b, ND_KEEP_FIRST), ND_OK);
    ck_assert_uint_gt(nd_clusters_count(ca), TEXTS / 20);
    ck_same_clusters(ca, cb);
    ck_assert_uint_eq(sa.candidate_pairs, sb.candidate_pairs);
    ck_assert_uint_eq(sa.verified_pairs, sb.verified_pairs);
    ck_assert_uint_eq(sa.exact_groups, sb.exact_groups);
    nd_clusters_free(ca);
    nd_clusters_free(cb);
    nd_pairs *pa = NULL, *pb = NULL;
    ck_assert_int_eq(nd_index_pairs(&pa, &sa, a), ND_OK);
    ck_assert_int_eq(nd_index_pairs(&pb, &sb, b), ND_OK);
    const nd_pair *xa, *xb;
    size_t na = nd_pairs_get(&xa, pa);
    ck_assert_uint_eq(na, nd_pairs_get(&xb, pb));
    for (size_t k = 0; k < na; k++)
        ck_assert(xa[k].a == xb[k].a && xa[k].b == xb[k].b && xa[k].jaccard == xb[k].jaccard);
    nd_pairs_free(pa);
    nd_pairs_free(pb);
}

/* Groups' first members dropped: the index names every dropped text in a
 * cluster of the kept index (and not the lone ones, most of them), and once
 * those are refilled, clusters, pairs and counts are the kept index's.
 * Without the refill clustering reads a text without ids and fails. */
/* nd_index_dropped_wanted on `threads` threads names expect[0..n). */
static void expect_wanted(nd_index *index, unsigned threads, const uint32_t *expect, size_t n)
{
    nd_index_set_threads(index, threads);
    uint32_t *docs = NULL;
    size_t count = 0;
    ck_assert_int_eq(nd_index_dropped_wanted(index, 0, &docs, &count), ND_OK);
    ck_assert_uint_eq(count, n);
    ck_assert_int_eq(memcmp(docs, expect, n * sizeof *docs), 0);
    free(docs);
}

START_TEST(test_first_members_refilled)
{
    nd_options opts = ND_OPTIONS_INIT;
    opts.threshold = 0.7;
    ck_assert_int_eq(nd_options_resolve(&opts), ND_OK);
    nd_sketcher *sk = NULL;
    ck_assert_int_eq(nd_sketcher_new(&sk, &opts), ND_OK);
    nd_index *kept = NULL, *dropped = NULL;
    ck_assert_int_eq(nd_index_new(&kept, &opts), ND_OK);
    ck_assert_int_eq(nd_index_new(&dropped, &opts), ND_OK);
    size_t n_dropped = index_both(kept, dropped, &opts, sk, TEXTS);

    /* a text dropped and not refilled is refused, not read */
    nd_clusters *c = NULL;
    nd_cluster_stats stats;
    ck_assert_int_eq(nd_index_cluster(&c, &stats, dropped, ND_KEEP_FIRST), ND_EINVAL);

    uint32_t *docs = NULL;
    size_t n = 0;
    ck_assert_int_eq(nd_index_dropped_wanted(dropped, 0, &docs, &n), ND_OK);
    ck_assert_uint_gt(n, 0);
    ck_assert_uint_lt(n, n_dropped / 2); /* most dropped texts are alone: left without ids */
    expect_wanted(dropped, 3, docs, n);  /* the same texts on several threads (the bands shared out) */
    nd_index_set_threads(dropped, 1);
    unsigned char *wanted = calloc(TEXTS, 1);
    ck_assert_ptr_nonnull(wanted);
    for (size_t k = 0; k < n; k++) {
        ck_assert(k == 0 || docs[k] > docs[k - 1]); /* in text order */
        ck_assert(dropped_kind(docs[k]));
        wanted[docs[k]] = 1;
    }
    /* every dropped member of a kept cluster is named */
    ck_assert_int_eq(nd_index_cluster(&c, &stats, kept, ND_KEEP_FIRST), ND_OK);
    size_t members_dropped = 0;
    for (size_t k = 0; k < nd_clusters_count(c); k++) {
        const nd_member *m;
        size_t count = nd_clusters_get(&m, c, k);
        for (size_t j = 0; j < count; j++) {
            if (dropped_kind(m[j].doc)) {
                ck_assert_msg(wanted[m[j].doc], "text %zu of a cluster not named", (size_t)m[j].doc);
                members_dropped++;
            }
        }
    }
    ck_assert_uint_gt(members_dropped, TEXTS / 20);
    nd_clusters_free(c);

    /* a refill with other ids, or of a text not dropped, is refused */
    uint32_t one = 1;
    ck_assert_int_eq(nd_index_refill(dropped, docs[0], &one, 1), ND_EINVAL);
    ck_assert_int_eq(nd_index_refill(dropped, 1, &one, 1), ND_EINVAL);

    refill_texts(dropped, sk, docs, n);
    ck_assert_int_eq(nd_index_refill(dropped, docs[0], &one, 1), ND_EINVAL); /* refilled already */
    same_clusters(kept, dropped, 1);
    same_clusters(kept, dropped, 2);

    /* refilled as clustering reads them (nd_index_set_refill): the same,
     * with no more texts sketched again than nd_index_dropped_wanted names;
     * a refill that fails fails clustering with its error */
    for (int fail = 0; fail <= 1; fail++) {
        nd_index *kept2 = NULL, *lazily = NULL;
        ck_assert_int_eq(nd_index_new(&kept2, &opts), ND_OK);
        ck_assert_int_eq(nd_index_new(&lazily, &opts), ND_OK);
        index_both(kept2, lazily, &opts, sk, TEXTS);
        nd_sketcher *sk2 = NULL;
        ck_assert_int_eq(nd_sketcher_new_ids(&sk2, &opts), ND_OK);
        lazy l = {sk2, 0, fail};
        nd_index_set_refill(lazily, refill_lazily, &l);
        if (fail) {
            ck_assert_int_eq(nd_index_cluster(&c, &stats, lazily, ND_KEEP_FIRST), ND_EIO);
            ck_assert_uint_eq(l.calls, 1);
        } else {
            same_clusters(kept2, lazily, 1);
            ck_assert_uint_gt(l.calls, members_dropped / 2);
            ck_assert_uint_le(l.calls, n);
        }
        nd_sketcher_free(sk2);
        nd_index_free(kept2);
        nd_index_free(lazily);
    }

    /* every dropped text named with `all` */
    free(docs);
    size_t named = n;
    ck_assert_int_eq(nd_index_dropped_wanted(dropped, 1, &docs, &n), ND_OK);
    ck_assert_uint_eq(n, n_dropped - named);
    free(docs);

    /* spilled with dropped texts left, and more dropped after the spill:
     * they stay without ids (none written); the index reads its spilled
     * keys back to name those clustering reads (the same texts as in
     * memory), given their ids by the caller or as clustering reads them,
     * written to its files: the kept index's clusters, pairs and counts */
    for (int as_read = 0; as_read <= 1; as_read++) {
        nd_index *kept3 = NULL, *spilled = NULL;
        ck_assert_int_eq(nd_index_new(&kept3, &opts), ND_OK);
        ck_assert_int_eq(nd_index_new(&spilled, &opts), ND_OK);
        ck_assert_uint_eq(index_both(kept3, spilled, &opts, sk, TEXTS / 2 + 3), n_dropped);
        nd_sketcher *sk3 = NULL;
        ck_assert_int_eq(nd_sketcher_new_ids(&sk3, &opts), ND_OK);
        lazy l = {sk3, 0, 0};
        if (as_read) {
            nd_index_set_refill(spilled, refill_lazily, &l);
        } else {
            ck_assert_int_eq(nd_index_dropped_wanted(spilled, 0, &docs, &n), ND_OK);
            ck_assert_uint_eq(n, named);
            refill_texts(spilled, sk, docs, n);
            free(docs);
        }
        same_clusters(kept3, spilled, 1);
        same_clusters(kept3, spilled, 2);
        ck_assert_uint_eq(l.calls, as_read ? named : 0);
        nd_sketcher_free(sk3);
        nd_index_free(kept3);
        nd_index_free(spilled);
    }

    free(wanted);
    nd_index_free(kept);
    nd_index_free(dropped);
    nd_sketcher_free(sk);
}
END_TEST

/* The dropped texts that share a band key with another text, found the
 * slow way (every pair of texts, band by band): the answer
 * nd_index_dropped_wanted must give. */
static size_t wanted_slowly(const uint32_t *folded, const unsigned char *is_dropped, size_t n, unsigned bands,
                            uint32_t *out)
{
    size_t count = 0;
    for (size_t i = 0; i < n; i++) {
        int shared = 0;
        for (unsigned b = 0; b < bands && !shared && is_dropped[i]; b++) {
            for (size_t j = 0; j < n && !shared; j++)
                shared = j != i && folded[j * bands + b] == folded[i * bands + b];
        }
        if (shared)
            out[count++] = (uint32_t)i;
    }
    return count;
}

static uint64_t next_random(uint64_t *x)
{
    *x ^= *x << 13, *x ^= *x >> 7, *x ^= *x << 17;
    return *x;
}

/* Enough texts for the lone filter (index_refill.c: from 4096 texts, most
 * lone keys set aside before the sort, the same runs found): keys made up,
 * one text in eight given another's key in a band or two, half the texts
 * dropped; the texts named are exactly those sharing a key, on one thread
 * and on three. Some 6000 texts' keys in each band land in slots of
 * 2^15, so lone keys that share a slot with another (which the sort must
 * then tell apart) are many. */
START_TEST(test_wanted_many_texts)
{
    enum { N = 6000 };
    nd_options opts = ND_OPTIONS_INIT;
    ck_assert_int_eq(nd_options_resolve(&opts), ND_OK);
    unsigned bands = opts.bands;
    uint64_t *keys = malloc((size_t)N * bands * sizeof *keys);
    uint32_t *folded = malloc((size_t)N * bands * sizeof *folded), *expect = malloc(N * sizeof *expect);
    unsigned char *is_dropped = calloc(N, 1);
    ck_assert(keys && folded && expect && is_dropped);
    uint64_t x = 0x2545F4914F6CDD1Du;
    for (size_t i = 0; i < N; i++) {
        for (unsigned b = 0; b < bands; b++)
            keys[i * bands + b] = next_random(&x);
        if (i > 0 && next_random(&x) % 8 == 0) { /* a key or two of an earlier text's */
            size_t j = next_random(&x) % i;
            unsigned b = (unsigned)(next_random(&x) % bands);
            keys[i * bands + b] = keys[j * bands + b];
            if (next_random(&x) % 2)
                keys[i * bands + (b + 5) % bands] = keys[j * bands + (b + 5) % bands];
        }
        nd_index_fold_keys(folded + i * bands, keys + i * bands, bands);
        is_dropped[i] = next_random(&x) % 2;
    }
    size_t expected = wanted_slowly(folded, is_dropped, N, bands, expect);
    ck_assert_uint_gt(expected, N / 50);

    nd_index *index = NULL;
    ck_assert_int_eq(nd_index_new(&index, &opts), ND_OK);
    uint32_t id = 7;
    for (size_t i = 0; i < N; i++) {
        int rc = is_dropped[i] ? nd_index_add_dropped(index, 1, keys + i * bands, 1)
                               : nd_index_add_raw(index, &id, 1, keys + i * bands, 1);
        ck_assert_int_eq(rc, ND_OK);
    }
    expect_wanted(index, 1, expect, expected);
    expect_wanted(index, 3, expect, expected);
    nd_index_free(index);
    free(keys);
    free(folded);
    free(expect);
    free(is_dropped);
}
END_TEST

static void write_file(const char *path, const char *mode, const char *bytes)
{
    FILE *f = fopen(path, mode);
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(bytes, 1, strlen(bytes), f), strlen(bytes));
    ck_assert_int_eq(fclose(f), 0);
}

/* Pass 1 of scan over `path` (`extra` an option, or NULL) into *index,
 * every document with shingles dropped; *rf NULL when dropping is off. */
static void first_pass(cli_config *cfg, input **in, refill **rf, nd_index **index, char *path, char *extra)
{
    char a0[] = "scan";
    char *argv[] = {a0, path, extra, NULL};
    ck_assert_int_eq(cli_parse(cfg, CMD_SCAN, extra ? 3 : 2, argv), EXIT_OK);
    cfg->memory = 1024; /* the input is half of it or more: every document guessed (refill.c) */
    ck_assert_int_eq(input_open(in, cfg), EXIT_OK);
    ck_assert_int_eq(refill_new(rf, cfg, *in), EXIT_OK);
    ck_assert_int_eq(nd_index_new(index, &cfg->opts), ND_OK);
    if (!*rf)
        return;
    nd_sketcher *sk = NULL;
    ck_assert_int_eq(nd_sketcher_new(&sk, &cfg->opts), ND_OK);
    record rec;
    while (input_next_borrowed(*in, &rec) == 1) {
        doc_view view;
        ck_assert_int_eq(doc_view_open(&view, cfg, *in, &rec), ND_OK);
        ck_assert_ptr_null(view.error);
        nd_sketch_ref ref;
        uint64_t keys[ND_MAX_PERM];
        ck_assert_int_eq(nd_sketch_text_ref_raw(&ref, sk, view.text, view.len), ND_OK);
        nd_lsh_band_keys(keys, ref.signature, cfg->opts.bands, cfg->opts.rows);
        if (ref.count > 0)
            ck_assert_int_eq(refill_note(*rf, nd_index_count(*index), &rec), 0);
        ck_assert_int_eq(ref.count ? nd_index_add_dropped(*index, ref.count, keys, view.len)
                                   : nd_index_add_raw(*index, ref.ids, 0, keys, view.len),
                         ND_OK);
        doc_view_close(&view);
    }
    nd_sketcher_free(sk);
}

static void end_pass(cli_config *cfg, input *in, refill *rf, nd_index *index)
{
    refill_free(rf);
    nd_index_free(index);
    input_close(in);
    cli_config_free(cfg);
}

static const char corpus[] = "{\"id\":\"a\",\"text\":\"the quick brown fox jumps over the lazy dog again\"}\n"
                             "{\"id\":\"b\",\"text\":\"\"}\n"
                             "{\"id\":\"c\",\"text\":\"the quick brown fox jumps over the lazy dog again\"}\n"
                             "{\"id\":\"d\",\"text\":\"something else entirely, said in other words\"}\n";

/* The CLI's step reads dropped documents again from the file and gives
 * the index their ids; a file changed between the passes (a record moved,
 * same size and time; or another size) fails it. With --unit or
 * containment nothing is dropped. */
START_TEST(test_refill_from_file)
{
    char dir[] = "/tmp/nd-refill-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char path[64];
    snprintf(path, sizeof path, "%s/a.jsonl", dir);
    write_file(path, "wb", corpus);
    cli_config cfg;
    input *in = NULL;
    refill *rf = NULL;
    nd_index *index = NULL;

    first_pass(&cfg, &in, &rf, &index, path, NULL);
    ck_assert_ptr_nonnull(rf);
    ck_assert_int_eq(refill_index(rf, index, 2), EXIT_OK);
    ck_assert_uint_eq(refill_done(rf), 2); /* a and c, copies; not d, alone */
    nd_clusters *c = NULL;
    nd_cluster_stats stats;
    ck_assert_int_eq(nd_index_cluster(&c, &stats, index, ND_KEEP_FIRST), ND_OK);
    ck_assert_uint_eq(nd_clusters_count(c), 1);
    nd_clusters_free(c);
    end_pass(&cfg, in, rf, index);

    /* same size, same modification time, record c one byte later */
    first_pass(&cfg, &in, &rf, &index, path, NULL);
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    write_file(path, "r+b",
               "{\"id\":\"a\",\"text\":\"the quick brown fox jumps over the lazy dog again\"}\n"
               "{\"id\":\"b\",\"text\":\"\"}\n\n"
               "{\"id\":\"c\",\"text\":\"the quick brown fox jumps over the lazy dog again\"}"
               "{\"id\":\"d\",\"text\":\"something else entirely, said in other words\"}\n");
    struct timespec times[2] = {st.st_atim, st.st_mtim};
    ck_assert_int_eq(utimensat(AT_FDCWD, path, times, 0), 0);
    ck_assert_int_eq(refill_index(rf, index, 1), EXIT_FAIL);
    end_pass(&cfg, in, rf, index);

    /* another size: not the file pass 1 read */
    write_file(path, "wb", corpus);
    first_pass(&cfg, &in, &rf, &index, path, NULL);
    write_file(path, "ab", "\n");
    ck_assert_int_eq(refill_index(rf, index, 2), EXIT_FAIL);
    end_pass(&cfg, in, rf, index);

    char unit[] = "--unit=paragraph", contain[] = "--measure=containment";
    first_pass(&cfg, &in, &rf, &index, path, unit);
    ck_assert_ptr_null(rf);
    end_pass(&cfg, in, rf, index);
    first_pass(&cfg, &in, &rf, &index, path, contain);
    ck_assert_ptr_null(rf);
    end_pass(&cfg, in, rf, index);

    unlink(path);
    rmdir(dir);
}
END_TEST

Suite *refill_suite(void)
{
    Suite *s = suite_create("refill");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_first_members_refilled);
    tcase_add_test(tc, test_wanted_many_texts);
    tcase_add_test(tc, test_refill_from_file);
    suite_add_tcase(s, tc);
    return s;
}
