/* replay.c - pass 2: the records of pass 1 again, in order.
 *
 * dedup and --unit need the records again after clustering. Rather than
 * keep them in memory, pass 2 reads regular files again, skipping the
 * records pass 1 skipped and checking that no file changed in between
 * (input_reopen); records from stdin or a pipe cannot be read twice, so
 * pass 1 spools them to an unlinked file in --tmpdir, each as a small
 * binary frame (kind, source, line, length, bytes) that gives back the
 * same record. Either way memory holds only ids and sketches.
 *
 * Plain texts come back with ill-formed UTF-8 replaced, exactly as pass 1
 * sketched them in unit mode, so unit spans point into the same bytes;
 * nothing is re-encoded as JSON here (output does that where it writes).
 *
 * With --threads above 1, a reader thread reads the records ahead, in
 * batches (two in flight), while the caller's thread writes the output:
 * pass 2 is otherwise all on one thread after the rest is done. With
 * replay_open_texts(), the reader also parses the JSON records whose text
 * the caller will ask for. What the caller sees is the same records and
 * texts in the same order.
 */
#include "replay.h"

#include <errno.h>   /* errno */
#include <pthread.h> /* pthread_create, pthread_cond_wait */
#include <stdint.h>  /* SIZE_MAX */
#include <stdlib.h>  /* malloc, free, realloc */
#include <string.h>  /* strerror, strlen, memset */
#include <unistd.h>  /* unlink, close */

#include "document.h"
#include "outfile.h"

struct replay_source {
    const cli_config *cfg;
    const input *in;
    FILE *spool;        /* NULL: re-read the input */
    char *spool_buffer; /* its buffer (out_buffer), freed after it is closed */
    uint64_t *skipped;  /* re-read: ordinals (0-based) of the records pass 1 skipped */
    size_t skipped_count, skipped_capacity;
    uint64_t ordinal;     /* records noted so far */
    uint64_t kept;        /* of which kept: what pass 2 gives back */
    replay_places places; /* replay_source_locate: where each kept record is (replay_at.c) */
};

/* The spool frame header; the record's bytes follow. */
typedef struct frame {
    uint64_t source, line, len;
    uint32_t kind;
    uint32_t zero;
} frame;

static FILE *open_spool(const char *dir, char **buffer)
{
    size_t len = strlen(dir) + 32;
    char *path = malloc(len);
    if (!path) {
        cli_error("out of memory");
        return NULL;
    }
    snprintf(path, len, "%s/neardup-spool-XXXXXX", dir);
    int fd = mkstemp(path);
    if (fd < 0) {
        cli_error("%s: cannot create a spool file: %s (see --tmpdir)", dir, strerror(errno));
        free(path);
        return NULL;
    }
    unlink(path);
    free(path);
    FILE *f = fdopen(fd, "w+");
    if (!f) {
        cli_error("%s: cannot open the spool file: %s", dir, strerror(errno));
        close(fd);
        return NULL;
    }
    out_buffer(f, buffer); /* 1 MiB writes and reads, not 4 KiB ones */
    return f;
}

int replay_source_new(replay_source **out, const cli_config *cfg, const input *in)
{
    replay_source *src = calloc(1, sizeof *src);
    if (!src) {
        cli_error("out of memory");
        return EXIT_FAIL;
    }
    src->cfg = cfg;
    src->in = in;
    if (!input_rereadable(in)) {
        src->spool = open_spool(cfg->tmpdir, &src->spool_buffer);
        if (!src->spool) {
            free(src);
            return EXIT_FAIL;
        }
    }
    *out = src;
    return EXIT_OK;
}

void replay_source_locate(replay_source *src)
{
    src->places.on = !src->spool && src->ordinal == 0;
}

int replay_open_at(replay_at **out, replay_source *src)
{
    *out = NULL;
    if (!src->places.on || src->places.count != src->kept)
        return EXIT_OK;
    return replay_at_open(out, src->cfg, src->in, &src->places);
}

int replay_source_note(replay_source *src, const record *rec, int kept)
{
    uint64_t ordinal = src->ordinal++;
    src->kept += kept != 0;
    if (kept && replay_places_note(&src->places, rec) != 0)
        return -1;
    if (src->spool) {
        if (!kept)
            return 0;
        frame h = {rec->source, rec->line, rec->len, (uint32_t)rec->kind, 0};
        if (fwrite(&h, sizeof h, 1, src->spool) != 1 || fwrite(rec->data, 1, rec->len, src->spool) != rec->len) {
            cli_error("%s: cannot write the spool file: %s", src->cfg->tmpdir, strerror(errno));
            return -1;
        }
        return 0;
    }
    if (kept)
        return 0;
    if (src->skipped_count == src->skipped_capacity) {
        size_t cap = src->skipped_capacity ? src->skipped_capacity * 2 : 64;
        uint64_t *grown = realloc(src->skipped, cap * sizeof *grown);
        if (!grown) {
            cli_error("out of memory");
            return -1;
        }
        src->skipped = grown;
        src->skipped_capacity = cap;
    }
    src->skipped[src->skipped_count++] = ordinal;
    return 0;
}

void replay_source_free(replay_source *src)
{
    if (!src)
        return;
    if (src->spool)
        fclose(src->spool);
    free(src->spool_buffer);
    free(src->skipped);
    replay_places_free(&src->places);
    free(src);
}

/* ****  Pass 2  **** */

/* Records read ahead by the reader thread: their bytes back to back in
 * `bytes` (data of recs[i] at offsets[i] until the batch is handed over). */
typedef struct fetched {
    record *recs;
    size_t *offsets;
    size_t *text_at, *text_len; /* a wanted JSON record's text in `bytes`; text_at SIZE_MAX: not fetched */
    size_t count, capacity;
    char *bytes;
    size_t used, bytes_capacity;
    int failed; /* reading failed after these records (reported) */
} fetched;

enum { FETCH_RECORDS = 1024, FETCH_BYTES = 1 << 20 };

/* What one thread writes for every record is kept a cache line (PAD
 * bytes) away from what the other reads or writes: the reader's counters,
 * the caller's position, and each batch's header. Sharing a line, they made
 * both cores trade it for every record, and pass 2 on two threads cost more
 * CPU than on one. */
enum { PAD = 64 };

typedef struct padded_batch {
    fetched b;
    char pad[PAD];
} padded_batch;

typedef struct prefetch {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t changed; /* a batch filled or handed back, or stop */
    int full[2];            /* filled, not yet handed back */
    int finished;           /* the reader has stopped */
    int stop;
    char pad_shared[PAD];
    /* the reader's */
    unsigned fill_at;          /* the batch it fills next */
    uint64_t remaining;        /* records left to read */
    uint64_t fetched;          /* records read */
    const unsigned char *want; /* replay_open_texts(): whose text to fetch too, or NULL */
    char pad_reader[PAD];
    /* the caller's */
    unsigned take_at; /* the batch it reads from */
    size_t pos;       /* the next record of batches[take_at] */
    int taking;       /* it holds batches[take_at] */
    char pad_caller[PAD];
    padded_batch batches[2];
} prefetch;

struct replay {
    replay_source *src;
    input *again; /* second pass over the input, or NULL: spool */
    record rec;   /* the current record, as read */
    record out;   /* what replay_next() gives: rec, or its repaired text */
    char *buf;    /* spooled bytes */
    size_t buf_capacity;
    char *text; /* a plain text with ill-formed UTF-8 replaced */
    size_t text_capacity;
    uint64_t ordinal;    /* records of the input read so far (re-read) */
    size_t skipped_seen; /* entries of src->skipped passed */
    char pad[PAD];       /* the above: the reader thread's, when there is one; below: the caller's */
    doc_view view;       /* replay_text() of a JSON record */
    int view_open;
    const record *current; /* what replay_next() gave last */
    prefetch *ahead;       /* the reader thread, or NULL */
};

static void *read_ahead(void *arg);

int replay_open(replay **out, replay_source *src)
{
    return replay_open_texts(out, src, NULL);
}

int replay_open_texts(replay **out, replay_source *src, const unsigned char *want)
{
    replay *r = calloc(1, sizeof *r);
    if (!r) {
        cli_error("out of memory");
        return EXIT_FAIL;
    }
    r->src = src;
    if (!src->spool) {
        if (input_reopen(&r->again, src->in) != EXIT_OK) {
            free(r);
            return EXIT_FAIL;
        }
    } else if (fflush(src->spool) != 0 || fseek(src->spool, 0, SEEK_SET) != 0) {
        cli_error("cannot read back the spool file: %s", strerror(errno));
        free(r);
        return EXIT_FAIL;
    }
    if (src->cfg->threads > 1 && src->kept > 0) {
        prefetch *pf = calloc(1, sizeof *pf);
        if (pf && pthread_mutex_init(&pf->lock, NULL) == 0) {
            if (pthread_cond_init(&pf->changed, NULL) == 0) {
                pf->remaining = src->kept;
                pf->want = want;
                r->ahead = pf;
                if (pthread_create(&pf->thread, NULL, read_ahead, r) == 0) {
                    *out = r;
                    return EXIT_OK;
                }
                r->ahead = NULL;
                pthread_cond_destroy(&pf->changed);
            }
            pthread_mutex_destroy(&pf->lock);
        }
        free(pf); /* no thread: read on this one */
    }
    *out = r;
    return EXIT_OK;
}

static int reserve(replay *r, size_t n)
{
    if (n <= r->buf_capacity)
        return 0;
    char *grown = realloc(r->buf, n);
    if (!grown) {
        cli_error("out of memory");
        return -1;
    }
    r->buf = grown;
    r->buf_capacity = n;
    return 0;
}

static int next_spooled(replay *r)
{
    FILE *spool = r->src->spool;
    frame h;
    if (fread(&h, sizeof h, 1, spool) != 1 || reserve(r, h.len + 1) != 0 || fread(r->buf, 1, h.len, spool) != h.len) {
        cli_error("the spool file ended early (disk full in %s?)", r->src->cfg->tmpdir);
        return -1;
    }
    r->rec = (record){r->buf, (size_t)h.len, (size_t)h.source, h.line, (record_kind)h.kind, 1, 0, 0};
    return 0;
}

static int next_reread(replay *r)
{
    replay_source *src = r->src;
    for (;;) {
        if (!r->rec.borrowed)
            free(r->rec.data);
        memset(&r->rec, 0, sizeof r->rec);
        int got = input_next_borrowed(r->again, &r->rec);
        if (got < 0)
            return -1;
        if (got == 0) {
            cli_error("the input ended early on the second reading (did a file change?)");
            return -1;
        }
        uint64_t ordinal = r->ordinal++;
        if (r->skipped_seen < src->skipped_count && src->skipped[r->skipped_seen] == ordinal) {
            r->skipped_seen++;
            continue; /* skipped in pass 1 */
        }
        return 0;
    }
}

/* Read the next record into r->out. Returns 0, or -1 (reported). */
static int read_one(replay *r)
{
    if ((r->again ? next_reread(r) : next_spooled(r)) != 0)
        return -1;
    r->out = r->rec;
    if (r->rec.kind == RECORD_TEXT) {
        /* the plain text as pass 1 sketched it: ill-formed UTF-8 replaced */
        size_t need = r->rec.len * 3 + 1;
        if (need > r->text_capacity) {
            char *grown = realloc(r->text, need);
            if (!grown) {
                cli_error("out of memory");
                return -1;
            }
            r->text = grown;
            r->text_capacity = need;
        }
        nd_utf8_repair(r->text, &r->out.len, r->rec.data, r->rec.len);
        r->out.data = r->text;
        r->out.borrowed = 1;
    }
    return 0;
}

/* Room for n more bytes in a batch. Returns 0, or -1 (reported). */
static int reserve_fetched(fetched *b, size_t n)
{
    if (b->used + n <= b->bytes_capacity)
        return 0;
    size_t cap = b->bytes_capacity ? b->bytes_capacity : FETCH_BYTES;
    while (cap < b->used + n)
        cap *= 2;
    char *bytes = realloc(b->bytes, cap);
    if (!bytes) {
        cli_error("out of memory");
        return -1;
    }
    b->bytes = bytes;
    b->bytes_capacity = cap;
    return 0;
}

/* Append r->out to a batch. Returns 0, or -1 (reported). */
static int keep_fetched(fetched *b, const record *rec)
{
    if (b->count == b->capacity) {
        size_t cap = b->capacity ? b->capacity * 2 : 256;
        record *recs = realloc(b->recs, cap * sizeof *recs);
        if (recs)
            b->recs = recs;
        size_t *offsets = realloc(b->offsets, cap * sizeof *offsets);
        if (offsets)
            b->offsets = offsets;
        size_t *text_at = realloc(b->text_at, cap * sizeof *text_at);
        if (text_at)
            b->text_at = text_at;
        size_t *text_len = realloc(b->text_len, cap * sizeof *text_len);
        if (text_len)
            b->text_len = text_len;
        if (!recs || !offsets || !text_at || !text_len) {
            cli_error("out of memory");
            return -1;
        }
        b->capacity = cap;
    }
    if (reserve_fetched(b, rec->len) != 0)
        return -1;
    if (rec->len)
        memcpy(b->bytes + b->used, rec->data, rec->len);
    b->recs[b->count] = *rec;
    b->recs[b->count].borrowed = 1;
    b->text_at[b->count] = SIZE_MAX;
    b->offsets[b->count++] = b->used;
    b->used += rec->len;
    return 0;
}

/* A wanted JSON record's text, parsed on the reader's thread and kept in
 * its batch after the record. A record whose text cannot be had here is
 * left to replay_text() on the caller's thread, which then says why, in
 * order. Returns 0, or -1 (reported) when out of memory. */
static int fetch_text(replay *r, fetched *b)
{
    if (r->out.kind != RECORD_JSON)
        return 0; /* a plain text is its own text */
    doc_view view;
    if (doc_view_open(&view, r->src->cfg, r->src->in, &r->out) != ND_OK)
        return 0;
    int rc = 0;
    if (!view.error) {
        rc = reserve_fetched(b, view.len);
        if (rc == 0) {
            if (view.len)
                memcpy(b->bytes + b->used, view.text, view.len);
            b->text_at[b->count - 1] = b->used;
            b->text_len[b->count - 1] = view.len;
            b->used += view.len;
        }
    }
    doc_view_close(&view);
    return rc;
}

/* The reader thread: fill the two batches in turn until every kept record
 * is read, reading fails, or the caller closes the replay. */
static void *read_ahead(void *arg)
{
    replay *r = arg;
    prefetch *pf = r->ahead;
    pthread_mutex_lock(&pf->lock);
    for (;;) {
        while (!pf->stop && pf->full[pf->fill_at])
            pthread_cond_wait(&pf->changed, &pf->lock);
        if (pf->stop)
            break;
        fetched *b = &pf->batches[pf->fill_at].b;
        pthread_mutex_unlock(&pf->lock);
        b->count = 0;
        b->used = 0;
        b->failed = 0;
        while (b->count < FETCH_RECORDS && b->used < FETCH_BYTES && pf->remaining > 0 && !b->failed) {
            b->failed = read_one(r) != 0 || keep_fetched(b, &r->out) != 0 ||
                        (pf->want && pf->want[pf->fetched] && fetch_text(r, b) != 0);
            pf->remaining -= !b->failed;
            pf->fetched += !b->failed;
        }
        for (size_t i = 0; i < b->count; i++)
            b->recs[i].data = b->bytes + b->offsets[i];
        int last = b->failed || pf->remaining == 0;
        pthread_mutex_lock(&pf->lock);
        pf->full[pf->fill_at] = 1;
        pf->fill_at ^= 1;
        pthread_cond_broadcast(&pf->changed);
        if (last)
            break;
    }
    pf->finished = 1;
    pthread_cond_broadcast(&pf->changed);
    pthread_mutex_unlock(&pf->lock);
    return NULL;
}

/* replay_next() from the reader thread's batches. */
static int next_fetched(prefetch *pf, const record **rec)
{
    if (pf->taking && pf->pos == pf->batches[pf->take_at].b.count) {
        if (pf->batches[pf->take_at].b.failed)
            return -1; /* reported by the reader */
        pthread_mutex_lock(&pf->lock);
        pf->full[pf->take_at] = 0; /* handed back */
        pf->take_at ^= 1;
        pf->taking = 0;
        pthread_cond_broadcast(&pf->changed);
        pthread_mutex_unlock(&pf->lock);
    }
    if (!pf->taking) {
        pthread_mutex_lock(&pf->lock);
        while (!pf->full[pf->take_at] && !pf->finished)
            pthread_cond_wait(&pf->changed, &pf->lock);
        int full = pf->full[pf->take_at];
        pthread_mutex_unlock(&pf->lock);
        if (!full) {
            cli_error("the input ended early on the second reading (did a file change?)");
            return -1;
        }
        pf->taking = 1;
        pf->pos = 0;
        if (pf->batches[pf->take_at].b.count == 0)
            return -1; /* failed on its first record: reported by the reader */
    }
    *rec = &pf->batches[pf->take_at].b.recs[pf->pos++];
    return 1;
}

int replay_next(replay *r, const record **rec)
{
    if (r->view_open) {
        doc_view_close(&r->view);
        r->view_open = 0;
    }
    if (r->ahead) {
        if (next_fetched(r->ahead, rec) != 1)
            return -1;
    } else {
        if (read_one(r) != 0)
            return -1;
        *rec = &r->out;
    }
    r->current = *rec;
    return 1;
}

int replay_text(replay *r, const char **text, size_t *len)
{
    const record *cur = r->current;
    prefetch *pf = r->ahead;
    if (pf && pf->taking && pf->pos > 0) {
        const fetched *b = &pf->batches[pf->take_at].b;
        if (b->text_at[pf->pos - 1] != SIZE_MAX) {
            *text = b->bytes + b->text_at[pf->pos - 1];
            *len = b->text_len[pf->pos - 1];
            return 0;
        }
    }
    if (cur->kind == RECORD_TEXT) {
        *text = cur->data;
        *len = cur->len;
        return 0;
    }
    if (!r->view_open) {
        if (doc_view_reread(&r->view, r->src->cfg, r->src->in, cur) != 0)
            return -1;
        r->view_open = 1;
    }
    *text = r->view.text;
    *len = r->view.len;
    return 0;
}

void replay_close(replay *r)
{
    if (!r)
        return;
    if (r->view_open)
        doc_view_close(&r->view);
    prefetch *pf = r->ahead;
    if (pf) {
        pthread_mutex_lock(&pf->lock);
        pf->stop = 1;
        pthread_cond_broadcast(&pf->changed);
        pthread_mutex_unlock(&pf->lock);
        pthread_join(pf->thread, NULL);
        pthread_cond_destroy(&pf->changed);
        pthread_mutex_destroy(&pf->lock);
        for (int k = 0; k < 2; k++) {
            free(pf->batches[k].b.recs);
            free(pf->batches[k].b.offsets);
            free(pf->batches[k].b.text_at);
            free(pf->batches[k].b.text_len);
            free(pf->batches[k].b.bytes);
        }
        free(pf);
    }
    if (!r->rec.borrowed)
        free(r->rec.data);
    free(r->buf);
    free(r->text);
    input_close(r->again);
    free(r);
}
