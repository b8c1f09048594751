/* test_reader.c - the reader's kept blocks (src/cli/reader.c): lines held
 * the way the pipeline's batches hold them (two batches in flight, each
 * holding the blocks its lines are in until it is committed) keep their
 * bytes while the reader goes on, with blocks far smaller than the lines,
 * so lines straddle blocks, outgrow them and blocks are recycled; every
 * block is released in the end. The end-to-end check (JSON Lines, whose
 * records are held, against the same records as a JSON array, which are
 * copied) is tests/cli/test_input.sh. The arena the pipeline's batches
 * and the doctable allocate from (src/cli/arena.c) is checked here too:
 * its blocks from the third on are huge ones, every byte keeps what was
 * written, and a reset's blocks are filled again without new ones. */
#include <check.h>
#include <stdio.h>  /* fopen, fwrite */
#include <stdlib.h> /* malloc, free, mkdtemp */
#include <string.h> /* memcmp, memcpy */
#include <unistd.h> /* unlink, rmdir */

#include "arena.h"
#include "readblock.h"
#include "suites.h"

enum { LINES = 3000, BATCH = 37 };

/* Line i's bytes (no '\n'): lengths from 0 to a few hundred, a few of
 * several thousand; the bytes say which line they belong to. */
static size_t make_line(unsigned i, char *out)
{
    unsigned x = i * 2654435761u;
    size_t len = (x >> 7) % 300;
    if (i % 97 == 5)
        len = 3000 + (x >> 3) % 5000; /* longer than many blocks */
    if (i % 50 == 7)
        len = 0;
    for (size_t k = 0; k < len; k++)
        out[k] = (char)('!' + (i * 7 + k * 13) % 90); /* printable, never '\n' */
    return len;
}

typedef struct held_batch {
    const unsigned char *line[BATCH];
    size_t len[BATCH];
    unsigned number[BATCH];
    size_t count;
    reader_block *blocks[BATCH];
    size_t block_count;
} held_batch;

/* The batch's lines still have their bytes; then release its blocks. */
static void check_and_release(held_batch *b, char *expect)
{
    for (size_t k = 0; k < b->count; k++) {
        size_t len = make_line(b->number[k], expect);
        ck_assert_uint_eq(b->len[k], len);
        ck_assert_msg(memcmp(b->line[k], expect, len) == 0, "line %u changed while held", b->number[k] + 1);
    }
    for (size_t k = 0; k < b->block_count; k++)
        reader_release(b->blocks[k]);
    b->count = b->block_count = 0;
}

/* Read `path` in kept mode with blocks of `block_size` bytes, holding the
 * lines batch by batch. */
static void read_held(const char *path, size_t block_size, uint64_t limit)
{
    reader_pool *pool = reader_pool_new(block_size);
    ck_assert_ptr_nonnull(pool);
    reader *r = reader_open(path);
    ck_assert_ptr_nonnull(r);
    reader_keep_blocks(r, pool);
    if (limit)
        reader_set_limit(r, limit, 1);
    char *expect = malloc(10000);
    ck_assert_ptr_nonnull(expect);
    held_batch batches[2] = {0};
    unsigned cur = 0, lines = 0, dropped = 0;
    const unsigned char *line;
    size_t len;
    int rc;
    while ((rc = reader_line(r, &line, &len)) != 0) {
        ck_assert_int_ne(rc, -1);
        unsigned number = lines++;
        ck_assert_uint_eq(reader_line_number(r), lines);
        if (rc == 2) {
            ck_assert_uint_gt(make_line(number, expect), limit);
            dropped++;
            continue;
        }
        held_batch *b = &batches[cur];
        reader_block *last = b->block_count ? b->blocks[b->block_count - 1] : NULL;
        reader_block *block = reader_hold(r, line, last);
        ck_assert_ptr_nonnull(block);
        if (block != last)
            b->blocks[b->block_count++] = block;
        b->line[b->count] = line;
        b->len[b->count] = len;
        b->number[b->count] = number;
        if (++b->count == BATCH) {
            /* the older batch is committed once this one is read */
            cur = 1 - cur;
            check_and_release(&batches[cur], expect);
        }
    }
    ck_assert_uint_eq(lines, LINES);
    if (limit)
        ck_assert_uint_gt(dropped, 0);
    check_and_release(&batches[1 - cur], expect);
    check_and_release(&batches[cur], expect);
    ck_assert_uint_eq(reader_pool_live(pool), 1); /* the reader's own */
    reader_free(r);
    ck_assert_uint_eq(reader_pool_live(pool), 0);
    /* every block back: trimming frees the slabs too */
    if (block_size >= 1 << 18) /* (smaller ones are outgrown by a read: never of the usual size) */
        ck_assert_uint_gt(pool->slab_count, 0);
    reader_pool_trim(pool);
    ck_assert_ptr_null(pool->spare);
    for (size_t k = 0; k < pool->slab_count; k++)
        ck_assert_ptr_null(pool->slabs[k].base);
    reader_pool_free(pool);
    free(expect);
}

static void write_lines(const char *path)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    char *buf = malloc(10000);
    ck_assert_ptr_nonnull(buf);
    for (unsigned i = 0; i < LINES; i++) {
        size_t len = make_line(i, buf);
        ck_assert_uint_eq(fwrite(buf, 1, len, f), len);
        if (i + 1 < LINES) /* the last line has no '\n' */
            fputc('\n', f);
    }
    free(buf);
    ck_assert_int_eq(fclose(f), 0);
}

START_TEST(test_reader_kept_blocks)
{
    char dir[] = "/tmp/nd-reader-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char path[64];
    snprintf(path, sizeof path, "%s/lines", dir);
    write_lines(path);
    /* blocks smaller than most lines, than a few, and larger than all (the
     * pipeline's size, cut from slabs) */
    static const size_t sizes[] = {16, 256, 1024, 1 << 16, 1 << 18};
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++)
        read_held(path, sizes[k], 0);
    read_held(path, 256, 2000); /* the long lines dropped (drained) in between */
    ck_assert_int_eq(unlink(path), 0);
    ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

/* Fill arena `a` with `count` pieces of varied sizes (one larger than any
 * block), each marked with its number; then check every mark. */
static void fill_and_check(arena *a, unsigned char **piece, size_t *len, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        len[i] = i == count / 2 ? (size_t)3 << 20 : 1 + (i * 2654435761u >> 9) % 5000;
        piece[i] = arena_alloc(a, len[i]);
        ck_assert_ptr_nonnull(piece[i]);
        ck_assert_uint_eq((uintptr_t)piece[i] % 8, 0);
        memset(piece[i], (int)(i % 251), len[i]);
    }
    for (size_t i = 0; i < count; i++) {
        ck_assert_uint_eq(piece[i][0], i % 251);
        ck_assert_uint_eq(piece[i][len[i] - 1], i % 251);
    }
}

START_TEST(test_arena_blocks)
{
    enum { PIECES = 4000 }; /* about 10 MB and one piece of 3 MiB: plain blocks, then huge ones */
    unsigned char **piece = malloc(PIECES * sizeof *piece);
    size_t *len = malloc(PIECES * sizeof *len);
    ck_assert_ptr_nonnull(piece);
    ck_assert_ptr_nonnull(len);
    arena a = {0};
    fill_and_check(&a, piece, len, PIECES);
    size_t plain = 0, huge = 0;
    for (const arena_block *b = a.head; b; b = b->next) {
        plain += !b->huge;
        huge += b->huge != 0;
    }
    ck_assert_uint_eq(plain, 2); /* the first two only */
    ck_assert_uint_ge(huge, 4);
    ck_assert_uint_eq(plain + huge, a.blocks);
    /* after a reset the same pieces fit in the blocks kept, but for the
     * large one, which is freed and made again */
    arena_reset(&a);
    size_t blocks = a.blocks;
    fill_and_check(&a, piece, len, PIECES);
    ck_assert_uint_le(a.blocks, blocks + 2);
    arena_free(&a);
    ck_assert_ptr_null(a.head);
    free(piece);
    free(len);
}
END_TEST

Suite *reader_suite(void)
{
    Suite *s = suite_create("reader");
    TCase *tc = tcase_create("kept");
    tcase_add_test(tc, test_reader_kept_blocks);
    tcase_add_test(tc, test_arena_blocks);
    suite_add_tcase(s, tc);
    return s;
}
