/* test_replay.c - pass 2 by positions (src/cli/replay_at.c): the records
 * scan --unit needs again, read where pass 1 found them, give the same
 * texts as pass 1; a file changed between the passes is refused, whether
 * its identity changed or (same size and time) a record moved. The
 * end-to-end equality with reading in order is tests/cli/test_unit_previews.sh.
 * A group's line (unit_line.c, which writes the usual occurrence in one
 * piece) is the line the general writers (out_string, "%zu") make. */
#include <check.h>
#include <stdio.h>    /* fopen, fwrite */
#include <stdlib.h>   /* mkdtemp */
#include <string.h>   /* memcmp */
#include <sys/stat.h> /* stat, utimensat */
#include <fcntl.h>    /* AT_FDCWD */
#include <unistd.h>   /* unlink, rmdir */

#include "cli.h"
#include "doctable.h"
#include "input.h"
#include "replay.h"
#include "suites.h"
#include "synth.h"
#include "unit_output.h"

static void write_file(const char *path, const char *mode, const char *bytes)
{
    FILE *f = fopen(path, mode);
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(bytes, 1, strlen(bytes), f), strlen(bytes));
    ck_assert_int_eq(fclose(f), 0);
}

/* Pass 1 over `path` (scan --unit paragraph), every record kept. */
static void first_pass(cli_config *cfg, input **in, replay_source **src, char *path)
{
    char a0[] = "scan", a1[] = "--unit", a2[] = "paragraph", a3[] = "--threads", a4[] = "1";
    char *argv[] = {a0, a1, a2, a3, a4, path, NULL};
    ck_assert_int_eq(cli_parse(cfg, CMD_SCAN, 6, argv), EXIT_OK);
    ck_assert_int_eq(input_open(in, cfg), EXIT_OK);
    ck_assert_int_eq(replay_source_new(src, cfg, *in), EXIT_OK);
    replay_source_locate(*src);
    record rec;
    while (input_next_borrowed(*in, &rec) == 1)
        ck_assert_int_eq(replay_source_note(*src, &rec, 1), 0);
}

/* Free what first_pass made, and remove the test's file and directory. */
static void end_pass(replay_source *src, input *in, cli_config *cfg, const char *path, const char *dir)
{
    replay_source_free(src);
    input_close(in);
    cli_config_free(cfg);
    unlink(path);
    rmdir(dir);
}

static int text_of(replay_source *src, size_t k, const char *expected)
{
    replay_at *at = NULL;
    ck_assert_int_eq(replay_open_at(&at, src), EXIT_OK);
    ck_assert_ptr_nonnull(at);
    const char *text;
    size_t len;
    int rc = replay_at_text(at, k, &text, &len);
    if (rc == 0) {
        ck_assert_uint_eq(len, strlen(expected));
        ck_assert(memcmp(text, expected, len) == 0);
    }
    replay_at_close(at);
    return rc;
}

START_TEST(test_replay_at_texts_and_changes)
{
    char dir[] = "/tmp/nd-replay-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char path[64];
    snprintf(path, sizeof path, "%s/a.jsonl", dir);
    /* a byte order mark, an escaped text, a CRLF line, a blank line, and a
     * last record without a newline */
    write_file(path, "wb",
               "\xef\xbb\xbf{\"id\":\"a\",\"text\":\"one\\n\\ntwo \\\"q\\\" \\u00e9\"}\n"
               "{\"id\":\"b\",\"text\":\"three\"}\r\n\n"
               "{\"id\":\"c\",\"text\":\"four\"}");
    cli_config cfg;
    input *in = NULL;
    replay_source *src = NULL;
    first_pass(&cfg, &in, &src, path);
    ck_assert_int_eq(text_of(src, 2, "four"), 0);
    ck_assert_int_eq(text_of(src, 0, "one\n\ntwo \"q\" \xc3\xa9"), 0);
    ck_assert_int_eq(text_of(src, 1, "three"), 0);

    /* an edit while a reader by places has the file open (after its
     * first record): found when it is done, not copied into an output */
    replay_at *open_at = NULL;
    ck_assert_int_eq(replay_open_at(&open_at, src), EXIT_OK);
    const char *text;
    size_t len;
    ck_assert_int_eq(replay_at_text(open_at, 0, &text, &len), 0);
    ck_assert_int_eq(replay_at_unchanged(open_at), 0);
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    write_file(path, "r+b", "\xef\xbb\xbf{\"id\":\"A\""); /* the same size */
    ck_assert_int_eq(replay_at_unchanged(open_at), -1);
    replay_at_close(open_at);

    /* same size, the modification time put back (rsync --inplace -t, touch
     * -r), the second record one byte later: the file's ctime tells it
     * changed, so no record is read from it (the first was, before) */
    write_file(path, "r+b",
               "\xef\xbb\xbf{\"id\":\"a\",\"text\":\"one\\n\\ntwo \\\"q\\\" \\u00e9\"}\n"
               "\n{\"id\":\"b\",\"text\":\"three\"}\r\n"
               "{\"id\":\"c\",\"text\":\"four\"}");
    struct timespec times[2] = {st.st_atim, st.st_mtim};
    ck_assert_int_eq(utimensat(AT_FDCWD, path, times, 0), 0);
    ck_assert_int_eq(text_of(src, 0, "one\n\ntwo \"q\" \xc3\xa9"), -1);
    ck_assert_int_eq(text_of(src, 1, "three"), -1);

    /* a byte more: the file is not the one pass 1 read */
    write_file(path, "ab", "\n");
    ck_assert_int_eq(text_of(src, 0, "one\n\ntwo \"q\" \xc3\xa9"), -1);

    end_pass(src, in, &cfg, path, dir);
}
END_TEST

/* Text of record k from `at`, compared with `expected`. */
static void expect_text(replay_at *at, size_t k, const char *expected)
{
    const char *text;
    size_t len;
    ck_assert_int_eq(replay_at_text(at, k, &text, &len), 0);
    ck_assert_uint_eq(len, strlen(expected));
    ck_assert(memcmp(text, expected, len) == 0);
}

/* Records planned with replay_at_read_ahead (refill.c's) are read in
 * groups where they lie close together, and give the same texts as read
 * one by one: records apart by a long one not planned (two groups), a
 * CRLF line, the last record without a newline; a record asked for off
 * the plan drops it and is read on its own. */
START_TEST(test_replay_at_read_ahead)
{
    char dir[] = "/tmp/nd-replay-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char path[64];
    snprintf(path, sizeof path, "%s/a.jsonl", dir);
    enum { FILLER = 40000 }; /* past replay_at.c's GROUP_GAP */
    static char bytes[FILLER + 256];
    char *p = bytes;
    p += sprintf(p, "{\"id\":\"a\",\"text\":\"one\"}\n{\"id\":\"b\",\"text\":\"two\"}\r\n{\"id\":\"f\",\"text\":\"");
    memset(p, 'x', FILLER);
    p += FILLER;
    sprintf(p, "\"}\n{\"id\":\"c\",\"text\":\"three\"}\n\n{\"id\":\"d\",\"text\":\"four\"}");
    write_file(path, "wb", bytes);
    cli_config cfg;
    input *in = NULL;
    replay_source *src = NULL;
    first_pass(&cfg, &in, &src, path);
    replay_at *at = NULL;
    ck_assert_int_eq(replay_open_at(&at, src), EXIT_OK);

    /* two groups: records 0 and 1, then 3 and 4 (record 2 between them
     * is longer than the gap a group may span): a read each */
    const size_t plan[] = {0, 1, 3, 4};
    replay_at_read_ahead(at, plan, 4);
    expect_text(at, 0, "one");
    expect_text(at, 1, "two");
    ck_assert_uint_eq(replay_at_reads(at), 1);
    expect_text(at, 3, "three");
    expect_text(at, 4, "four");
    ck_assert_uint_eq(replay_at_reads(at), 2);

    /* a record off the plan drops the rest of it: read one at a time */
    replay_at_read_ahead(at, plan, 4);
    expect_text(at, 0, "one");
    ck_assert_uint_eq(replay_at_reads(at), 3);
    static char filler[FILLER + 1];
    memset(filler, 'x', FILLER);
    expect_text(at, 2, filler); /* off the plan */
    expect_text(at, 4, "four");
    ck_assert_uint_eq(replay_at_reads(at), 5);
    replay_at_close(at);
    end_pass(src, in, &cfg, path, dir);
}
END_TEST

/* A record that is not a line of an uncompressed file (here a JSON array's
 * element) leaves pass 2 to reading in order: no places. */
START_TEST(test_replay_at_not_located)
{
    char dir[] = "/tmp/nd-replay-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char path[64];
    snprintf(path, sizeof path, "%s/a.json", dir);
    write_file(path, "wb", "[{\"id\":\"a\",\"text\":\"one\"},\n{\"id\":\"b\",\"text\":\"two\"}]\n");
    cli_config cfg;
    input *in = NULL;
    replay_source *src = NULL;
    first_pass(&cfg, &in, &src, path);
    replay_at *at = (replay_at *)1;
    ck_assert_int_eq(replay_open_at(&at, src), EXIT_OK);
    ck_assert_ptr_null(at);
    end_pass(src, in, &cfg, path, dir);
}
END_TEST

/* The doctable keeps a unit's document and span in 32 bits each; a span
 * that does not fit (a text past 4 GiB) is kept aside and read back the
 * same, among units that fit, in the order they were added; a document
 * number past 32 bits is refused. Only numbers: no such text is made. */
START_TEST(test_doctable_wide_spans)
{
    const size_t G4 = (size_t)UINT32_MAX;
    const nd_span spans[] = {
        {0, 0},        {7, 19},     {G4 - 1, G4},     /* the last that fits */
        {G4, G4 + 5},  {1, G4 + 2}, {5 * G4, 6 * G4}, /* start, length, both past 32 bits */
        {12, 12 + G4}, {3, 4},                        /* a length of exactly UINT32_MAX fits */
    };
    size_t n = sizeof spans / sizeof spans[0];
    doctable t = {0};
    for (size_t u = 0; u < n; u++)
        ck_assert_int_eq(doctable_add_unit(&t, u * 3 + (u > 4 ? G4 - 100 : 0), spans[u]), 0);
    ck_assert_int_eq(doctable_add_unit(&t, G4, spans[0]), -1);
    ck_assert_uint_eq(t.unit_count, n);
    ck_assert_uint_eq(t.wide_count, 3);
    for (size_t u = 0; u < n; u++) {
        nd_span got = doctable_unit_span(&t, u);
        ck_assert_uint_eq(got.start, spans[u].start);
        ck_assert_uint_eq(got.end, spans[u].end);
        ck_assert_uint_eq(doctable_unit_doc(&t, u), u * 3 + (u > 4 ? G4 - 100 : 0));
    }
    doctable_free(&t);
}
END_TEST

/* A group's line as the general writers make it: out_string for every
 * string, "%zu" for every offset, out_number for every Jaccard. */
static char *group_line_by_parts(const cli_config *cfg, size_t group, size_t size, const char *const *ids,
                                 const nd_span *spans, const double *jaccard, const char *preview)
{
    char *bytes = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&bytes, &len);
    ck_assert_ptr_nonnull(f);
    fprintf(f, "{\"group\":%zu,\"size\":%zu,\"documents\":%zu,\"occurrences\":[", group, size, size);
    for (size_t k = 0; k < size; k++) {
        fputs(k ? ",{\"id\":" : "{\"id\":", f);
        out_string(f, ids[k], strlen(ids[k]));
        fprintf(f, ",\"start\":%zu,\"end\":%zu}", spans[k].start, spans[k].end);
    }
    fputs("],\"jaccard\":[", f);
    for (size_t k = 0; k < size; k++) {
        fputs(k ? "," : "", f);
        out_number(f, jaccard[k]);
    }
    fputs("],\"text\":", f);
    out_string(f, preview, strlen(preview));
    fprintf(f, ",\"profile\":\"%s\"}\n", cli_profile_label(&cfg->opts));
    ck_assert_int_eq(fclose(f), 0);
    return bytes;
}

/* Ids of every length from 0 to 70 (the one-piece occurrence takes up to
 * 64 bytes, in 8-byte words, two 4-byte halves or bytes), of plain bytes
 * with now and then a quote, a backslash, a control character, a
 * character of two or three bytes or an ill-formed byte, anywhere; offsets
 * on both sides of 10^8; groups of up to 40 with runs of Jaccard 1 (written
 * in pieces of up to 32) long and short. */
START_TEST(test_unit_group_line)
{
    cli_config cfg;
    char a0[] = "scan", a1[] = "x";
    char *argv[] = {a0, a1, NULL};
    ck_assert_int_eq(cli_parse(&cfg, CMD_SCAN, 2, argv), EXIT_OK);
    static const char *const odd[] = {"\"", "\\", "\x01", "\x1F", "\xC3\xA9", "\xE2\x80\xA6", "\xFF", "\x7F"};
    uint64_t state = 5;
    for (int round = 0; round < 400; round++) {
        enum { SIZE = 40 };
        char id_bytes[SIZE][80];
        const char *ids[SIZE];
        nd_span spans[SIZE];
        double jaccard[SIZE];
        size_t size = 1 + synth_next(&state) % SIZE;
        for (size_t k = 0; k < size; k++) {
            size_t len = (size_t)(round * SIZE + k) % 71, w = 0;
            while (w < len) {
                const char *piece = synth_next(&state) % 6 == 0 ? odd[synth_next(&state) % 8] : NULL;
                if (piece && w + strlen(piece) <= len) {
                    memcpy(id_bytes[k] + w, piece, strlen(piece));
                    w += strlen(piece);
                } else {
                    id_bytes[k][w++] = (char)('0' + synth_next(&state) % 75);
                }
            }
            id_bytes[k][w] = '\0';
            ids[k] = id_bytes[k];
            size_t start = synth_next(&state) % 4 == 0 ? 99999990 + synth_next(&state) % 20 : synth_next(&state) % 5000;
            spans[k] = (nd_span){start, start + synth_next(&state) % 30};
            jaccard[k] = round % 3 == 0 || synth_next(&state) % 4 ? 1.0 : 0.5 + 0.5 / (double)(k + 1);
        }
        char *want = group_line_by_parts(&cfg, (size_t)round, size, ids, spans, jaccard, "a \"preview\" \xE2\x80\xA6");
        char *got = NULL;
        size_t got_len = 0;
        FILE *f = open_memstream(&got, &got_len);
        ck_assert_ptr_nonnull(f);
        unit_output_group(f, &cfg, (size_t)round, size, size, ids, spans, jaccard, "a \"preview\" \xE2\x80\xA6");
        ck_assert_int_eq(fclose(f), 0);
        ck_assert_msg(strcmp(got, want) == 0, "round %d:\n got %s\nwant %s", round, got, want);
        free(got);
        free(want);
    }
    cli_config_free(&cfg);
}
END_TEST

Suite *replay_suite(void)
{
    Suite *s = suite_create("replay");
    TCase *tc = tcase_create("at");
    tcase_add_test(tc, test_replay_at_texts_and_changes);
    tcase_add_test(tc, test_replay_at_not_located);
    tcase_add_test(tc, test_replay_at_read_ahead);
    suite_add_tcase(s, tc);
    TCase *table = tcase_create("doctable");
    tcase_add_test(table, test_doctable_wide_spans);
    suite_add_tcase(s, table);
    TCase *line = tcase_create("group line");
    tcase_add_test(line, test_unit_group_line);
    suite_add_tcase(s, line);
    return s;
}
