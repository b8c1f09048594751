/* test_db_verify.c - an index's pages checked at open (ND_DB_VERIFY,
 * db_verify.c): indexes made every way the library makes them (runs,
 * replacements, removals, compaction, a containment index with sorted
 * duplicates on sub-pages and in sub-databases, a value on overflow pages)
 * pass; damage that LMDB would follow into a SIGBUS, a SIGSEGV or an
 * abort() is ND_EFORMAT naming the page: each page's header damaged in
 * turn, a free list naming a page in use (a writer would have overwritten
 * it), a free list flagged as sorted duplicates (LMDB's assertion
 * 'mx != NULL'). The same damage without ND_DB_VERIFY kills a child
 * process, which is why the check exists. And, on every open, the page
 * size LMDB's meta pages give (LMDB divides by it). */
#define _GNU_SOURCE /* pread, pwrite */

#include <fcntl.h>    /* open */
#include <stdint.h>   /* uint64_t */
#include <stdio.h>    /* snprintf */
#include <stdlib.h>   /* malloc, free */
#include <string.h>   /* strlen, strstr, memcpy */
#include <sys/stat.h> /* stat */
#include <sys/wait.h> /* waitpid */
#include <unistd.h>   /* fork, _exit, pread, pwrite, close, truncate, dup2 */

#include "dbtest.h"
#include "neardup.h"
#include "suites.h"

enum { PSIZE = 4096, HEADER = 16 };

/* ****  The raw file  **** */

static char *data_file(const place *p)
{
    static char path[160];
    snprintf(path, sizeof path, "%s/data.mdb", p->db);
    return path;
}

static void read_bytes(const char *file, void *buf, size_t size, uint64_t offset)
{
    int fd = open(file, O_RDONLY);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(pread(fd, buf, size, (off_t)offset), (ssize_t)size);
    close(fd);
}

static void write_bytes(const char *file, const void *buf, size_t size, uint64_t offset)
{
    int fd = open(file, O_WRONLY);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(pwrite(fd, buf, size, (off_t)offset), (ssize_t)size);
    close(fd);
}

static uint64_t u64_at(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* The byte offset of the newest meta page's part after its header (LMDB
 * 0.9: magic, version, address, map size, the free list's and the main
 * database's records of 48 bytes, the last page, the transaction). */
static uint64_t newest_meta(const char *file)
{
    unsigned char a[136], b[136];
    read_bytes(file, a, sizeof a, HEADER);
    read_bytes(file, b, sizeof b, PSIZE + HEADER);
    return u64_at(a + 128) >= u64_at(b + 128) ? HEADER : PSIZE + HEADER;
}

static uint64_t page_count(const char *file)
{
    struct stat st;
    ck_assert_int_eq(stat(file, &st), 0);
    return (uint64_t)st.st_size / PSIZE;
}

/* The whole file, to put back after a child wrote to the damaged index. */
static unsigned char *save_file(const char *file, size_t *size)
{
    *size = (size_t)page_count(file) * PSIZE;
    unsigned char *bytes = malloc(*size);
    read_bytes(file, bytes, *size, 0);
    return bytes;
}

static void restore_file(const char *file, const unsigned char *bytes, size_t size)
{
    ck_assert_int_eq(truncate(file, (off_t)size), 0);
    write_bytes(file, bytes, size, 0);
}

/* Mark in `free_pages` (a byte a page) the pages the free list of the
 * file's newest snapshot names, walking its tree from page `page`. */
static void mark_free(const char *file, uint64_t page, unsigned char *free_pages, uint64_t pages)
{
    unsigned char p[PSIZE];
    read_bytes(file, p, sizeof p, page * PSIZE);
    uint16_t flags, lower;
    memcpy(&flags, p + 10, 2);
    memcpy(&lower, p + 12, 2);
    for (size_t i = 0; i < (size_t)(lower - HEADER) / 2; i++) {
        uint16_t at, node_flags, key_size;
        uint32_t data_size;
        memcpy(&at, p + HEADER + 2 * i, 2);
        memcpy(&data_size, p + at, 4);
        memcpy(&node_flags, p + at + 4, 2);
        memcpy(&key_size, p + at + 6, 2);
        if (flags & 0x01) { /* a branch: the child's number in the node's first six bytes */
            mark_free(file, data_size | (uint64_t)node_flags << 32, free_pages, pages);
            continue;
        }
        unsigned char *ids = malloc(data_size);
        uint64_t first;
        memcpy(&first, p + at + 8 + key_size, 8);
        if (node_flags & 0x01) /* on overflow pages */
            read_bytes(file, ids, data_size, first * PSIZE + HEADER);
        else
            memcpy(ids, p + at + 8 + key_size, data_size);
        for (uint64_t k = 1; k <= u64_at(ids); k++) {
            uint64_t free_page = u64_at(ids + 8 * k);
            ck_assert_uint_lt(free_page, pages);
            free_pages[free_page] = 1;
        }
        free(ids);
    }
}

/* ****  Indexes  **** */

static nd_options contain_options(void)
{
    nd_options o = ND_OPTIONS_INIT;
    o.measure = ND_MEASURE_CONTAINMENT;
    o.min_shingles = 10;
    ck_assert_int_eq(nd_options_resolve(&o), ND_OK);
    return o;
}

/* A Jaccard index of several runs, with replacements and removals (a free
 * list), and a document long enough for its record to go on overflow
 * pages. */
static void make_jaccard(const char *path, int compact)
{
    corpus c = make_corpus(0x7e51, 60, 4, 6);
    nd_db *db = open_ok(path, ND_DB_WRITE | ND_DB_CREATE, NULL);
    for (size_t run = 0; run < 3; run++) {
        ck_assert_int_eq(add_range(db, &c, c.count * run / 3, c.count * (run + 1) / 3, "d", 0, 1), ND_OK);
        ck_assert_int_eq(nd_db_commit(db), ND_OK);
    }
    ck_assert_int_eq(add_range(db, &c, 0, 40, "d", ND_DB_REPLACE, 2), ND_OK);
    const char *gone[] = {"d41", "d42", "d43"};
    size_t gone_lens[] = {3, 3, 3};
    ck_assert_int_eq(nd_db_remove(NULL, db, gone, gone_lens, 3), ND_OK);
    size_t long_len = 0;
    for (size_t i = 0; i < 60; i++)
        long_len += strlen(c.texts[i]) + 1;
    char *long_text = malloc(long_len + 1), *at = long_text;
    for (size_t i = 0; i < 60; i++)
        at += sprintf(at, "%s ", c.texts[i]);
    const char *long_id = "long";
    size_t long_id_len = 4;
    ck_assert_int_eq(
        nd_db_add_texts(NULL, db, &long_id, &long_id_len, (const char *const *)&long_text, &long_len, 1, 0, 1), ND_OK);
    ck_assert_int_eq(nd_db_commit(db), ND_OK);
    if (compact)
        ck_assert_int_eq(nd_db_compact(db), ND_OK);
    nd_db_close(db);
    free(long_text);
    corpus_free(&c);
}

/* A containment index whose commonest shingles are in hundreds of
 * documents: their postings in sub-databases, the rarer on sub-pages. */
static void make_containment(const char *path)
{
    corpus c = make_corpus(0xc0de, 2, 600, 3);
    nd_options o = contain_options();
    nd_db *db = open_ok(path, ND_DB_WRITE | ND_DB_CREATE, &o);
    ck_assert_int_eq(add_range(db, &c, 0, c.count / 2, "c", 0, 2), ND_OK);
    ck_assert_int_eq(nd_db_commit(db), ND_OK);
    ck_assert_int_eq(add_range(db, &c, c.count / 2, c.count, "c", 0, 2), ND_OK);
    ck_assert_int_eq(nd_db_commit(db), ND_OK);
    nd_db_close(db);
    corpus_free(&c);
}

static int open_verified(const char *path, unsigned flags, char *message, size_t size)
{
    nd_db *db = NULL;
    int rc = try_open(&db, message, size, path, flags | ND_DB_VERIFY, NULL, 0);
    nd_db_close(db);
    return rc;
}

/* Opening the index at path with the check (flags: 0 or ND_DB_WRITE) is
 * ND_EFORMAT, its message saying `expect`. */
static void expect_refused(const char *path, unsigned flags, const char *expect)
{
    char message[512];
    ck_assert_int_eq(open_verified(path, flags, message, sizeof message), ND_EFORMAT);
    ck_assert_msg(strstr(message, expect), "%s", message);
}

/* A fresh place p holding a Jaccard index of several runs (make_jaccard);
 * its data file. */
static const char *jaccard_place(place *p)
{
    place_make(p);
    make_jaccard(p->db, 0);
    return data_file(p);
}

START_TEST(test_healthy_indexes_pass)
{
    place p;
    char message[512];
    for (int kind = 0; kind < 3; kind++) {
        place_make(&p);
        if (kind == 2)
            make_containment(p.db);
        else
            make_jaccard(p.db, kind);
        ck_assert_msg(open_verified(p.db, 0, message, sizeof message) == ND_OK, "kind %d: %s", kind, message);
        ck_assert_msg(open_verified(p.db, ND_DB_WRITE, message, sizeof message) == ND_OK, "kind %d: %s", kind, message);
        remove_tree(p.dir);
    }
    /* a new index: nothing but LMDB's meta pages yet */
    place_make(&p);
    nd_db *db = NULL;
    ck_assert_int_eq(try_open(&db, message, sizeof message, p.db, ND_DB_WRITE | ND_DB_CREATE | ND_DB_VERIFY, NULL, 0),
                     ND_OK);
    ck_assert_int_eq(nd_db_commit(db), ND_OK);
    nd_db_close(db);
    ck_assert_int_eq(open_verified(p.db, 0, message, sizeof message), ND_OK);
    remove_tree(p.dir);
}
END_TEST

/* A child opens the index without the check and queries, adds and
 * removes: its wait status. */
static int use_unverified(const char *path)
{
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0)
            dup2(null, STDERR_FILENO); /* (LMDB's assertion message, a sanitizer's report) */
        corpus c = make_corpus(0x7e51, 60, 1, 6);
        nd_db *db = NULL;
        if (try_open(&db, NULL, 0, path, ND_DB_WRITE, NULL, 0) == ND_OK) {
            nd_db_stats st;
            (void)nd_db_stats_get(&st, db);
            nd_db_results *r = NULL;
            size_t lens[8];
            for (size_t i = 0; i < 8; i++)
                lens[i] = strlen(c.texts[i]);
            if (nd_db_query_texts(&r, db, (const char *const *)c.texts, lens, 8, NULL) == ND_OK)
                nd_db_results_free(r);
            (void)add_range(db, &c, 0, 8, "x", ND_DB_REPLACE, 1);
            (void)nd_db_commit(db);
        }
        nd_db_close(db);
        _exit(0);
    }
    int status = 0;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    return status;
}

/* Every page's header damaged in turn, as the program's test does (the
 * bounds of its free space: lower 0, upper 0x0fff): with the check, opening
 * reports the page (or, for a page that is free, opens); without it, a
 * child that uses the index died of a signal for most of them. */
START_TEST(test_damaged_page_headers)
{
    for (int kind = 0; kind < 2; kind++) {
        place p;
        place_make(&p);
        if (kind)
            make_containment(p.db);
        else
            make_jaccard(p.db, 0);
        const char *file = data_file(&p);
        size_t size;
        unsigned char *pristine = save_file(file, &size);

        uint64_t pages = size / PSIZE, reported = 0, in_use = 0, killed = 0, step = pages > 40 ? pages / 40 : 1;
        unsigned char *free_pages = calloc(pages, 1);
        unsigned char meta[136];
        read_bytes(file, meta, sizeof meta, newest_meta(file));
        if (u64_at(meta + 24 + 40) != UINT64_MAX)
            mark_free(file, u64_at(meta + 24 + 40), free_pages, pages);
        for (uint64_t page = 2; page < pages; page += step) {
            in_use += !free_pages[page];
            unsigned char bad[4] = {0x00, 0x00, 0xff, 0x0f};
            restore_file(file, pristine, size); /* (the child before may have written) */
            write_bytes(file, bad, sizeof bad, page * PSIZE + 12);
            char message[512];
            for (unsigned flags = 0; flags <= ND_DB_WRITE; flags += ND_DB_WRITE) {
                int rc = open_verified(p.db, flags, message, sizeof message);
                ck_assert_msg(rc == ND_OK || rc == ND_EFORMAT, "page %llu: %d %s", (unsigned long long)page, rc,
                              message);
                if (rc == ND_EFORMAT) { /* (naming the page, or the one whose node points to it) */
                    ck_assert_msg(strstr(message, "the index is damaged: page "), "page %llu: %s",
                                  (unsigned long long)page, message);
                    reported += flags == 0;
                }
            }
            int status = use_unverified(p.db);
            killed += WIFSIGNALED(status);
        }
        free(pristine);
        /* every page in use but the overflow pages after the first (their
         * bytes are a value's; the long document's record has three) */
        ck_assert_msg(reported + 3 >= in_use && reported <= in_use, "kind %d: %llu of %llu pages in use reported", kind,
                      (unsigned long long)reported, (unsigned long long)in_use);
        free(free_pages);
        ck_assert_msg(killed > 0, "kind %d: no child died of the damage (the check is for nothing?)", kind);
        remove_tree(p.dir);
    }
}
END_TEST

/* The free list names a page in use: a writer would hand it out for new
 * data over the live one (the index silently broken), so the check
 * refuses it. */
START_TEST(test_free_list_naming_a_page_in_use)
{
    place p;
    const char *file = jaccard_place(&p);
    unsigned char meta[136], leaf[PSIZE];
    uint64_t at = newest_meta(file);
    read_bytes(file, meta, sizeof meta, at);
    uint64_t free_root = u64_at(meta + 24 + 40), main_root = u64_at(meta + 72 + 40);
    ck_assert_msg(free_root != UINT64_MAX, "no free list after several runs");
    read_bytes(file, leaf, sizeof leaf, free_root * PSIZE);
    ck_assert_uint_eq(leaf[10] & 0x02, 0x02); /* a leaf: one level */
    uint16_t node;
    memcpy(&node, leaf + HEADER, sizeof node);
    uint16_t node_flags;
    memcpy(&node_flags, leaf + node + 4, sizeof node_flags);
    ck_assert_uint_eq(node_flags, 0);               /* the record in the node, not on overflow pages */
    ck_assert_uint_ge(u64_at(leaf + node + 16), 1); /* (node header 8, key 8, then the count) */
    write_bytes(file, &main_root, sizeof main_root, free_root * PSIZE + node + 24);
    expect_refused(p.db, ND_DB_WRITE, "is listed as free, yet in use");
    expect_refused(p.db, 0, "is listed as free, yet in use");
    remove_tree(p.dir);
}
END_TEST

/* The flags LMDB takes from the meta page for its free list: flagged as
 * sorted duplicates, a writer's first use of it failed LMDB's assertion
 * 'mx != NULL' (an abort). */
START_TEST(test_free_list_flags)
{
    place p;
    const char *file = jaccard_place(&p);
    uint64_t at = newest_meta(file);
    uint16_t flags = 0x0c; /* MDB_INTEGERKEY | MDB_DUPSORT */
    write_bytes(file, &flags, sizeof flags, at + 24 + 4);
    int status = use_unverified(p.db);
    ck_assert_msg(WIFSIGNALED(status), "the child ended with status %d", status);
    expect_refused(p.db, ND_DB_WRITE, "LMDB's meta page");
    remove_tree(p.dir);
}
END_TEST

/* LMDB divides by the page size its first meta page gives, unchecked: a
 * zero there was a SIGFPE in mdb_env_open, with or without the check, in
 * the program too. Every open reads it first. */
START_TEST(test_page_size_of_the_meta_pages)
{
    static const struct {
        uint64_t page;
        uint32_t size;
        const char *expect;
    } cases[] = {
        {0, 0, "page 0 of data.mdb (LMDB's meta page) gives a page size of 0"},
        {0, 4095, "page 0 of data.mdb (LMDB's meta page) gives a page size of 4095"},
        {1, 8192, "page 1 of data.mdb (LMDB's meta page) gives a page size of 8192, page 0 4096"},
    };
    place p;
    const char *file = jaccard_place(&p);
    size_t size;
    unsigned char *pristine = save_file(file, &size);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        restore_file(file, pristine, size);
        write_bytes(file, &cases[i].size, sizeof cases[i].size, cases[i].page * PSIZE + HEADER + 24);
        for (unsigned flags = 0; flags <= ND_DB_WRITE; flags += ND_DB_WRITE) {
            nd_db *db = NULL;
            char message[512];
            ck_assert_int_eq(try_open(&db, message, sizeof message, p.db, flags, NULL, 0), ND_EFORMAT);
            ck_assert_msg(strstr(message, cases[i].expect), "case %zu: %s", i, message);
        }
    }
    free(pristine);
    remove_tree(p.dir);
}
END_TEST

Suite *db_verify_suite(void)
{
    Suite *s = suite_create("db_verify");
    TCase *tc = tcase_create("db_verify");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_healthy_indexes_pass);
    tcase_add_test(tc, test_damaged_page_headers);
    tcase_add_test(tc, test_free_list_naming_a_page_in_use);
    tcase_add_test(tc, test_free_list_flags);
    tcase_add_test(tc, test_page_size_of_the_meta_pages);
    suite_add_tcase(s, tc);
    return s;
}
