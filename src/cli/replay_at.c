/* replay_at.c - pass 2 by positions. See replay_at.h.
 *
 * scan --unit reads the records again only to cut each group's preview
 * from its earliest occurrence, and those lie in a few of the records (a
 * tenth of them on a syndicated corpus). When every kept record is a line
 * of an uncompressed regular file, pass 1 notes where each one is (offset,
 * length, line: 24 bytes a record) and pass 2 reads just the records it
 * needs with pread, instead of the whole input again (replay.c, which
 * remains for everything else: compressed files, JSON arrays, whole-file
 * records, stdin and pipes).
 *
 * Each file is opened again checked against the first pass's identity
 * (input_open_source), as replay.c's reading does, and each record is read
 * with the byte after it, which must end its line: a file changed in
 * place without a new size or time is still caught when a record moved.
 */
#include "replay_at.h"

#include <errno.h>  /* errno */
#include <stdio.h>  /* FILE, fwrite, fputc */
#include <stdlib.h> /* malloc, realloc, free */
#include <string.h> /* strerror */
#include <unistd.h> /* pread, close */

#include "alloc.h" /* nd_grow_huge */
#include "document.h"
#include "outname.h" /* out_write_failed */

int replay_places_note(replay_places *p, const record *rec)
{
    if (!p->on)
        return 0;
    if (!rec->located || rec->len > UINT32_MAX || rec->source >= (1u << 31)) {
        replay_places_free(p); /* read again in order (replay.c) */
        return 0;
    }
    if (p->count == p->capacity && nd_grow_huge((void **)&p->at, &p->capacity, p->count + 1, sizeof *p->at) != 0) {
        cli_error("out of memory");
        return -1;
    }
    p->at[p->count++] = (replay_place){rec->offset, rec->line, (uint32_t)rec->len, (uint32_t)rec->source & 0x7fffffffu,
                                       rec->kind == RECORD_TEXT};
    return 0;
}

void replay_places_free(replay_places *p)
{
    nd_free(p->at);
    *p = (replay_places){0};
}

enum { FDS = 16 };

struct replay_at {
    const cli_config *cfg;
    const input *in;
    const replay_places *places;
    /* open sources, by source % FDS (refill.c reads records in the order
     * clustering first reads them, from any file: not reopened each time) */
    int fds[FDS]; /* -1: none */
    size_t sources[FDS];
    char *buf; /* the record and the byte after it */
    size_t buf_capacity;
    /* replay_at_read_ahead: the records to be read next (places, in the
     * order they will be asked for) and, read together, the bytes of the
     * group of them that is being served: group[0] is byte group_start of
     * the group's file (its first record's source) */
    size_t plan[REPLAY_AHEAD_MAX];
    size_t plan_len, plan_pos, group_end; /* plan[plan_pos..group_end) are in the group */
    char *group;
    size_t group_capacity, group_len;
    uint64_t group_start;
    char *text; /* a plain text with ill-formed UTF-8 replaced */
    size_t text_capacity;
    size_t reads; /* read_at calls so far (replay_at_reads) */
    doc_view view;
    int view_open;
    /* replay_at_copy: a window of one file's bytes, read ahead, and the
     * part of it not written yet */
    char *window;
    size_t window_capacity, window_len;
    uint64_t window_start; /* the file offset of window[0] */
    size_t window_source;  /* SIZE_MAX: none */
    size_t pending_from, pending_to;
    FILE *pending_out; /* NULL: nothing pending */
};

int replay_at_open(replay_at **out, const cli_config *cfg, const input *in, const replay_places *places)
{
    replay_at *r = calloc(1, sizeof *r);
    if (!r) {
        cli_error("out of memory");
        return EXIT_FAIL;
    }
    *r = (replay_at){.cfg = cfg, .in = in, .places = places, .window_source = SIZE_MAX};
    for (int k = 0; k < FDS; k++)
        r->fds[k] = -1;
    *out = r;
    return EXIT_OK;
}

static int reserve(char **p, size_t *capacity, size_t n)
{
    if (n <= *capacity)
        return 0;
    char *grown = realloc(*p, n);
    if (!grown) {
        cli_error("out of memory");
        return -1;
    }
    *p = grown;
    *capacity = n;
    return 0;
}

/* The open descriptor of source `source`, opened (and checked to be the
 * file pass 1 read) at its first use; -1 (reported) when it cannot be. */
static int source_fd(replay_at *r, size_t source)
{
    int *fd = &r->fds[source % FDS];
    if (*fd < 0 || r->sources[source % FDS] != source) {
        if (*fd >= 0) {
            int changed = input_source_unchanged(r->in, r->sources[source % FDS], *fd) != 0;
            close(*fd);
            *fd = -1;
            if (changed)
                return -1;
        }
        r->sources[source % FDS] = source;
        *fd = input_open_source(r->in, source);
    }
    return *fd;
}

/* Read up to `want` bytes of source `source` from `offset` into `into`;
 * *got is how many came (fewer only at the end of the file). Returns 0,
 * or -1 (reported). */
static int read_at(replay_at *r, size_t source, uint64_t offset, char *into, size_t want, size_t *got)
{
    int fd = source_fd(r, source);
    if (fd < 0)
        return -1;
    r->reads++;
    *got = 0;
    while (*got < want) {
        ssize_t n = pread(fd, into + *got, want - *got, (off_t)(offset + *got));
        if (n < 0) {
            cli_error("%s: cannot read: %s", input_source_name(r->in, source), strerror(errno));
            return -1;
        }
        if (n == 0)
            break;
        *got += (size_t)n;
    }
    return 0;
}

/* Read place `at`'s bytes and the one after them into r->buf; *got is how
 * many came. Returns 0, or -1 (reported). */
static int read_place(replay_at *r, const replay_place *at, size_t *got)
{
    size_t want = (size_t)at->len + 1;
    if (reserve(&r->buf, &r->buf_capacity, want) != 0)
        return -1;
    return read_at(r, at->source, at->offset, r->buf, want, got);
}

/* Records of a plan read together when the bytes between one and the
 * next are at most this many: a pread cost about as much as copying 16 KB
 * more (perf, 50k CJK documents, 5798 read again), so the bytes read
 * through cost at most half of the call they save. */
enum { GROUP_GAP = 8 << 10, GROUP_MAX = 1 << 20 };

/* Read plan[plan_pos] and the planned records after it that lie close
 * behind it in the same file into r->group, in one read. Returns 0, or -1
 * (reported). */
static int read_group(replay_at *r)
{
    const replay_place *first = &r->places->at[r->plan[r->plan_pos]];
    uint64_t end = first->offset + first->len + 1; /* each record with the byte after it */
    size_t last = r->plan_pos + 1;
    while (last < r->plan_len) {
        const replay_place *next = &r->places->at[r->plan[last]];
        if (next->source != first->source || next->offset < end || next->offset - end > GROUP_GAP ||
            next->offset + next->len + 1 - first->offset > GROUP_MAX)
            break;
        end = next->offset + next->len + 1;
        last++;
    }
    size_t want = (size_t)(end - first->offset);
    if (reserve(&r->group, &r->group_capacity, want) != 0)
        return -1;
    r->group_end = r->plan_pos; /* (nothing served from the group if the read fails) */
    if (read_at(r, first->source, first->offset, r->group, want, &r->group_len) != 0)
        return -1;
    r->group_start = first->offset;
    r->group_end = last;
    return 0;
}

void replay_at_read_ahead(replay_at *r, const size_t *ks, size_t n)
{
    if (n > REPLAY_AHEAD_MAX)
        n = REPLAY_AHEAD_MAX;
    for (size_t i = 0; i < n; i++)
        r->plan[i] = ks[i];
    r->plan_len = n;
    r->plan_pos = r->group_end = 0;
}

/* Place k's bytes and the one after them (as many as the file has): from
 * the group when k is the plan's next record, else read on their own.
 * Returns 0, or -1 (reported). */
static int place_bytes(replay_at *r, size_t k, char **bytes, size_t *got)
{
    const replay_place *at = &r->places->at[k];
    if (r->plan_pos < r->plan_len && r->plan[r->plan_pos] == k) {
        if (r->plan_pos == r->group_end && read_group(r) != 0)
            return -1;
        r->plan_pos++;
        size_t from = (size_t)(at->offset - r->group_start), want = (size_t)at->len + 1;
        *bytes = r->group + from;
        *got = r->group_len > from ? (r->group_len - from < want ? r->group_len - from : want) : 0;
        return 0;
    }
    r->plan_len = r->plan_pos = r->group_end = 0; /* off the plan: read one at a time */
    if (read_place(r, at, got) != 0)
        return -1;
    *bytes = r->buf;
    return 0;
}

/* The record at place `at` no longer ends where pass 1 found it. */
static int moved(const replay_at *r, const replay_place *at)
{
    cli_error("%s:%llu: the record is not where the first reading found it (did the file change?)",
              input_source_name(r->in, at->source), (unsigned long long)at->line);
    return -1;
}

/* replay_at_text, or with `repair` 0 replay_at_doc_text. */
static int place_text(replay_at *r, size_t k, const char **text, size_t *len, int repair)
{
    if (r->view_open) {
        doc_view_close(&r->view);
        r->view_open = 0;
    }
    const replay_place *at = &r->places->at[k];
    char *bytes;
    size_t got;
    if (place_bytes(r, k, &bytes, &got) != 0)
        return -1;
    /* the record must still end its line: a '\n' after it, a '\r' before
     * one (a text line's CR is not part of it), or the end of the file */
    int ends = got == (size_t)at->len ||
               (got == (size_t)at->len + 1 && (bytes[at->len] == '\n' || (at->text && bytes[at->len] == '\r')));
    if (!ends)
        return moved(r, at);
    record rec = {bytes, at->len, at->source, at->line, at->text ? RECORD_TEXT : RECORD_JSON, 1, 1, at->offset};
    if (at->text && !repair) { /* as pass 1 sketched a document */
        *text = bytes;
        *len = at->len;
        return 0;
    }
    if (at->text) {
        /* as pass 1 sketched it: ill-formed UTF-8 replaced */
        if (reserve(&r->text, &r->text_capacity, (size_t)at->len * 3 + 1) != 0)
            return -1;
        nd_utf8_repair(r->text, len, rec.data, rec.len);
        *text = r->text;
        return 0;
    }
    if (doc_view_reread(&r->view, r->cfg, r->in, &rec) != 0)
        return -1;
    r->view_open = 1;
    *text = r->view.text;
    *len = r->view.len;
    return 0;
}

int replay_at_text(replay_at *r, size_t k, const char **text, size_t *len)
{
    return place_text(r, k, text, len, 1);
}

int replay_at_doc_text(replay_at *r, size_t k, const char **text, size_t *len)
{
    return place_text(r, k, text, len, 0);
}

int replay_at_all_json(const replay_at *r)
{
    for (size_t k = 0; k < r->places->count; k++)
        if (r->places->at[k].text)
            return 0;
    return 1;
}

size_t replay_at_reads(const replay_at *r)
{
    return r->reads;
}

size_t replay_at_count(const replay_at *r)
{
    return r->places->count;
}

size_t replay_at_source(const replay_at *r, size_t k)
{
    return r->places->at[k].source;
}

/* Write the pending bytes of the window. Returns 0, or -1 (reported). */
static int write_pending(replay_at *r)
{
    FILE *out = r->pending_out;
    r->pending_out = NULL;
    if (!out || r->pending_to == r->pending_from)
        return 0;
    size_t n = r->pending_to - r->pending_from;
    if (fwrite(r->window + r->pending_from, 1, n, out) != n) {
        out_write_failed(out, errno);
        return -1;
    }
    return 0;
}

/* Windows of at least this many bytes: a few large reads and writes where
 * records come one after another. */
enum { COPY_WINDOW = 4 << 20 };

int replay_at_copy(replay_at *r, size_t k, FILE *out)
{
    const replay_place *at = &r->places->at[k];
    size_t need = (size_t)at->len + 1; /* the record and the byte after it */
    if (r->window_source != at->source || at->offset < r->window_start ||
        at->offset - r->window_start + need > r->window_len) {
        /* not in the window (or maybe its end is past it): read a new one
         * from the record on */
        if (write_pending(r) != 0)
            return -1;
        size_t want = need > COPY_WINDOW ? need : COPY_WINDOW;
        if (reserve(&r->window, &r->window_capacity, want) != 0)
            return -1;
        r->window_source = SIZE_MAX;
        if (read_at(r, at->source, at->offset, r->window, want, &r->window_len) != 0)
            return -1;
        r->window_source = at->source;
        r->window_start = at->offset;
    }
    size_t from = (size_t)(at->offset - r->window_start), end = from + at->len;
    if (end < r->window_len) {
        /* a record and its newline, as doc_output_record writes a JSON
         * record; written with its neighbours in one write */
        if (r->window[end] != '\n')
            return moved(r, at);
        if (r->pending_out != out || r->pending_to != from) {
            if (write_pending(r) != 0)
                return -1;
            r->pending_out = out;
            r->pending_from = from;
        }
        r->pending_to = end + 1;
        return 0;
    }
    if (end > r->window_len)
        return moved(r, at); /* the file is shorter */
    /* the last line of its file, without a newline: one added */
    if (write_pending(r) != 0)
        return -1;
    if (fwrite(r->window + from, 1, at->len, out) != at->len || fputc('\n', out) == EOF) {
        out_write_failed(out, errno);
        return -1;
    }
    return 0;
}

int replay_at_unchanged(replay_at *r)
{
    int rc = 0;
    for (int k = 0; k < FDS && r; k++) {
        if (r->fds[k] >= 0 && rc == 0)
            rc = input_source_unchanged(r->in, r->sources[k], r->fds[k]);
    }
    return rc;
}

int replay_at_copy_done(replay_at *r)
{
    return write_pending(r) == 0 && replay_at_unchanged(r) == 0 ? 0 : -1;
}

void replay_at_close(replay_at *r)
{
    if (!r)
        return;
    if (r->view_open)
        doc_view_close(&r->view);
    for (int k = 0; k < FDS; k++) {
        if (r->fds[k] >= 0)
            close(r->fds[k]);
    }
    free(r->buf);
    free(r->group);
    free(r->text);
    free(r->window);
    free(r);
}
