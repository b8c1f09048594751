/* outfile.c - output files besides stdout: -o FILE and --removed FILE
 * (written under a temporary name beside the file, closed with every
 * write checked and renamed only when the whole run succeeded), and
 * --output-dir / --removed-dir, one file per input written the same way.
 * No output file may be one of the inputs: that is refused before anything
 * is opened for writing (device and inode compared).
 *
 * An output is named by its input's base name, less a .gz/.zst/.zstd
 * suffix (the output is plain JSON Lines). Two inputs with the same output
 * name (a/x.jsonl, b/x.jsonl, or x.jsonl and x.jsonl.gz) would write one
 * file: the run refuses them before reading anything (outdir_check), and
 * refuses an output that would replace an input. */
#include "outfile.h"

#include <errno.h>    /* errno, EIO, ELOOP */
#include <limits.h>   /* NAME_MAX, PATH_MAX */
#include <stdint.h>   /* uint64_t */
#include <stdlib.h>   /* free, realpath, mkstemp */
#include <string.h>   /* strerror, strrchr, strcmp, strdup, memcmp */
#include <sys/stat.h> /* stat, lstat, fchmod, umask */
#include <unistd.h>   /* unlink, close, readlink */

#include <jansson.h> /* json_loadb: outfile_stats_replaceable */

#include "cli.h"
#include "outname.h"
#include "stdfds.h"
#include "tempfiles.h"

void out_buffer(FILE *f, char **buf)
{
    *buf = malloc(OUT_BUFFER);
    if (*buf && setvbuf(f, *buf, _IOFBF, OUT_BUFFER) != 0) {
        free(*buf);
        *buf = NULL;
    }
}

/* Where a file that does not exist is to be written: `path` itself, or,
 * when it is a symbolic link to nothing (yet), the file its links lead to
 * (relative targets from the link's directory; at most 40 links, as the
 * kernel follows). A copy (NULL: out of memory, or ELOOP in errno). */
static char *link_target(const char *path)
{
    char *at = strdup(path);
    struct stat st;
    for (int hops = 0; at && lstat(at, &st) == 0 && S_ISLNK(st.st_mode); hops++) {
        char target[PATH_MAX];
        ssize_t n = hops < 40 ? readlink(at, target, sizeof target - 1) : -1;
        if (n < 0) {
            if (hops >= 40)
                errno = ELOOP;
            free(at);
            return NULL;
        }
        target[n] = '\0';
        const char *base = outdir_base_name(at);
        char *next =
            target[0] == '/' || base == at ? strdup(target) : cli_format("%.*s%s", (int)(base - at), at, target);
        free(at);
        at = next;
    }
    return at;
}

int outfile_open(outfile *o, const char *path)
{
    *o = (outfile){NULL, path, NULL, NULL, NULL, NULL};
    if (!path)
        return 0;
    struct stat st;
    int exists = stat(path, &st) == 0;
    if (exists && !S_ISREG(st.st_mode)) { /* /dev/stdout, a FIFO: in place */
        if (std_fd_stand_in(path)) {      /* /dev/stdout with stdout closed: /dev/null (stdfds.c) */
            cli_error("%s: cannot write: %s", path, strerror(EBADF));
            return -1;
        }
        o->f = fopen(path, "w");
        if (!o->f) {
            cli_error("%s: cannot write: %s", path, strerror(errno));
            return -1;
        }
        out_buffer(o->f, &o->buf);
        out_name_set(o->f, path);
        return 0;
    }
    /* a symbolic link stays one: its file is replaced, or made where a
     * link that points to nothing yet points (as `>` does) */
    o->final = exists ? realpath(path, NULL) : link_target(path);
    const char *base = o->final ? outdir_base_name(o->final) : "";
    /* .NAME.neardup-XXXXXX beside it, or .neardup-XXXXXX where that would
     * pass the longest name a directory takes (NAME_MAX, 255 bytes) */
    int short_temp = strlen(base) + sizeof ".neardup-XXXXXX" > NAME_MAX;
    o->temp = !o->final    ? NULL
              : short_temp ? cli_format("%.*s.neardup-XXXXXX", (int)(base - o->final), o->final)
                           : cli_format("%.*s.%s.neardup-XXXXXX", (int)(base - o->final), o->final, base);
    if (!o->final || !o->temp) {
        cli_error("%s: %s", path, o->final ? "out of memory" : strerror(errno));
        outfile_abort(o);
        return -1;
    }
    int fd = mkstemp(o->temp);
    if (fd >= 0)
        o->noted = tempfiles_add(o->temp, o); /* removed if a signal ends the run */
    if (fd < 0) {
        cli_error("%s: cannot write (a temporary file beside it): %s", path, strerror(errno));
        free(o->temp);
        o->temp = NULL;
        outfile_abort(o);
        return -1;
    }
    /* the permissions the file has, or would get from open() */
    mode_t mask = umask(0);
    umask(mask);
    if (fchmod(fd, exists ? (st.st_mode & 07777) : (0666 & ~mask)) != 0 || !(o->f = fdopen(fd, "w"))) {
        cli_error("%s: cannot write: %s", o->temp, strerror(errno));
        close(fd);
        outfile_abort(o);
        return -1;
    }
    out_buffer(o->f, &o->buf);
    out_name_set(o->f, path);
    return 0;
}

int outfile_close(outfile *o)
{
    if (!o->f)
        return 0;
    out_name_forget(o->f);
    errno = 0;
    int failed = ferror(o->f);
    failed |= fclose(o->f) != 0;
    int err = errno ? errno : EIO;
    o->f = NULL;
    free(o->buf);
    o->buf = NULL;
    if (failed) {
        cli_error("%s: write error: %s", o->path, strerror(err));
        return -1;
    }
    return 0;
}

int outfile_rename(outfile *o)
{
    if (!o->temp)
        return 0;
    if (rename(o->temp, o->final) != 0) {
        cli_error("%s: cannot rename to %s: %s", o->temp, o->final, strerror(errno));
        return -1;
    }
    tempfiles_done(o->noted);
    o->noted = NULL;
    free(o->temp);
    o->temp = NULL;
    return 0;
}

int outfile_commit(outfile *o)
{
    return outfile_close(o) == 0 ? outfile_rename(o) : -1;
}

void outfile_abort(outfile *o)
{
    if (o->f) {
        out_name_forget(o->f);
        fclose(o->f);
    }
    o->f = NULL;
    free(o->buf);
    o->buf = NULL;
    if (o->temp)
        unlink(o->temp);
    tempfiles_done(o->noted);
    o->noted = NULL;
    free(o->temp);
    free(o->final);
    o->temp = o->final = NULL;
}

int outfile_check(const char *option, const char *path, const input *in)
{
    if (path && !*path) {
        cli_error("%s '': an empty file name", option);
        return -1;
    }
    struct stat out;
    if (!path || stat(path, &out) != 0 || !S_ISREG(out.st_mode))
        return 0; /* not there yet, or written in place (/dev/stdout) */
    for (size_t s = 0; s < input_source_count(in); s++) {
        const char *name = input_source_name(in, s);
        struct stat st;
        int is_stdin = strcmp(name, "-") == 0;
        if ((is_stdin ? fstat(STDIN_FILENO, &st) : stat(name, &st)) == 0 && st.st_dev == out.st_dev &&
            st.st_ino == out.st_ino) {
            cli_error("%s %s: that is the input %s; the output would replace it (nothing was written)", option, path,
                      is_stdin ? "on stdin" : name);
            return -1;
        }
    }
    return 0;
}

/* Do two paths name one file (an output and another output, or an input)? */
static int same_inode(const char *a, const char *b)
{
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* The directory a file is (to be) written in, "." for a bare name. */
static char *parent_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return strdup(".");
    return slash == path ? strdup("/") : strndup(path, (size_t)(slash - path));
}

/* Whether two output paths end as one file: the same name, the same
 * existing file, or (files not there yet: -o x --stats ./x) one base name
 * in one directory. */
static int same_file(const char *a, const char *b)
{
    if (!a || !b)
        return 0;
    if (strcmp(a, b) == 0)
        return 1;
    struct stat sa, sb;
    if (stat(a, &sa) == 0 && stat(b, &sb) == 0)
        return S_ISREG(sa.st_mode) && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
    if (strcmp(outdir_base_name(a), outdir_base_name(b)) != 0 || !*outdir_base_name(a))
        return 0;
    char *da = parent_dir(a), *db = parent_dir(b);
    int same = da && db && same_inode(da, db);
    free(da);
    free(db);
    return same;
}

/* A stats object is a few hundred bytes; a file past this is data. */
enum { STATS_MOST = 64 << 10 };

int outfile_stats_replaceable(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size == 0)
        return 1;
    if (st.st_size > STATS_MOST)
        return 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return 1; /* not readable: opening it to write says why */
    char *bytes = malloc(STATS_MOST);
    size_t got = bytes ? fread(bytes, 1, STATS_MOST, f) : 0;
    fclose(f);
    /* the whole file one JSON object with the keys report.c writes first
     * (a JSON Lines file whose records start with "version" was taken
     * for one by its first bytes, and replaced) */
    json_t *obj = bytes ? json_loadb(bytes, got, 0, NULL) : NULL;
    free(bytes);
    int stats = json_is_object(obj) && json_is_string(json_object_get(obj, "version")) &&
                json_is_string(json_object_get(obj, "command")) && json_object_get(obj, "documents_read");
    json_decref(obj);
    return stats;
}

void outfile_stats_refused(const char *path)
{
    cli_error("--stats %s: that file exists and is not a stats file from neardup; not replacing it (nothing was "
              "written). --stats takes a file name: --stats run.json INPUT...",
              path);
}

int output_check(const cli_config *cfg, const input *in)
{
    if (cfg->stats_path && !outfile_stats_replaceable(cfg->stats_path)) {
        outfile_stats_refused(cfg->stats_path);
        return EXIT_USAGE;
    }

    const char *paths[3] = {cfg->output_path, cfg->removed_path, cfg->stats_path};
    static const char *const options[3] = {"--output", "--removed", "--stats"};
    for (int i = 0; i < 3; i++) {
        if (outfile_check(options[i], paths[i], in) != 0)
            return EXIT_USAGE;
        for (int k = 0; k < i; k++) {
            if (same_file(paths[k], paths[i])) {
                cli_error("%s and %s both name %s; give each its own file", options[k], options[i], paths[i]);
                return EXIT_USAGE;
            }
        }
    }
    struct stat st;
    if (cfg->stats_path && (stat(cfg->stats_path, &st) != 0 || S_ISREG(st.st_mode))) {
        /* written at the end: a place it cannot be written is found now,
         * before the output looks complete on stdout */
        outfile probe;
        if (outfile_open(&probe, cfg->stats_path) != 0)
            return EXIT_FAIL;
        outfile_abort(&probe);
    }
    if (!cfg->output_dir)
        return EXIT_OK;
    size_t n = input_source_count(in);
    const char **names = malloc((n ? n : 1) * sizeof *names);
    if (!names) {
        cli_error("out of memory");
        return EXIT_FAIL;
    }
    for (size_t s = 0; s < n; s++)
        names[s] = input_source_name(in, s);
    int rc = outdirs_check(cfg, names, n);
    free(names);
    return rc;
}

/* Whether --stats FILE is one of the files DIR would get. */
static int stats_in_dir(const char *stats, const char *dir, const char *const *names, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        char *name = outdir_output_name(names[i]);
        char *out = name ? cli_format("%s/%s", dir, name) : NULL;
        int same = out && same_file(out, stats);
        free(name);
        free(out);
        if (same)
            return 1;
    }
    return 0;
}

static int outdir_check(const char *dir, const char *const *names, size_t count);

int outdirs_check(const cli_config *cfg, const char *const *names, size_t count)
{
    if (!cfg->output_dir)
        return EXIT_OK;
    if (outdir_check(cfg->output_dir, names, count) != 0 ||
        (cfg->removed_dir && outdir_check(cfg->removed_dir, names, count) != 0))
        return EXIT_USAGE;
    if (cfg->removed_dir &&
        (strcmp(cfg->output_dir, cfg->removed_dir) == 0 || same_inode(cfg->output_dir, cfg->removed_dir))) {
        cli_error("--output-dir and --removed-dir both name %s: each input's kept and removed records would be one "
                  "file; give each its own directory",
                  cfg->removed_dir);
        return EXIT_USAGE;
    }
    const char *dirs[2] = {cfg->output_dir, cfg->removed_dir};
    static const char *const options[2] = {"--output-dir", "--removed-dir"};
    for (int d = 0; d < 2 && cfg->stats_path; d++) {
        if (dirs[d] && stats_in_dir(cfg->stats_path, dirs[d], names, count)) {
            cli_error("--stats %s is a file %s %s would write; give it another name", cfg->stats_path, options[d],
                      dirs[d]);
            return EXIT_USAGE;
        }
    }
    return EXIT_OK;
}

/* ****  One file per input  **** */

const char *outdir_base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

char *outdir_output_name(const char *path)
{
    static const char *const compressed[] = {".gz", ".zst", ".zstd"};
    const char *base = outdir_base_name(path);
    size_t len = strlen(base);
    for (size_t i = 0; i < sizeof compressed / sizeof *compressed; i++) {
        size_t n = strlen(compressed[i]);
        if (len > n && strcmp(base + len - n, compressed[i]) == 0) {
            len -= n; /* the output is not compressed: its name says so */
            break;
        }
    }
    return cli_format("%.*s", (int)len, base);
}

/* Check that DIR is a directory, that no two of names[0..count) have the
 * same output name (their outputs would collide) and that no output is one
 * of the inputs. Returns 0, or -1 (reported, naming both paths). */
/* An input file by device and inode (outdir_check), and its place. */
typedef struct file_key {
    dev_t dev;
    ino_t ino;
    size_t index;
} file_key;

static int file_key_order(const void *a, const void *b)
{
    const file_key *x = a, *y = b;
    if (x->dev != y->dev)
        return x->dev < y->dev ? -1 : 1;
    return x->ino < y->ino ? -1 : x->ino > y->ino;
}

static int outdir_check(const char *dir, const char *const *names, size_t count)
{
    struct stat ds;
    if (stat(dir, &ds) != 0 || !S_ISDIR(ds.st_mode)) {
        cli_error("%s: not a directory (create it first)", dir);
        return -1;
    }
    char **outs = calloc(count ? count : 1, sizeof *outs);
    int rc = outs ? 0 : -1;
    if (!outs)
        cli_error("out of memory");
    for (size_t i = 0; i < count && rc == 0; i++) {
        if (strcmp(names[i], "-") == 0 || !*outdir_base_name(names[i])) {
            cli_error("%s: an output directory needs named input files (not stdin)", dir);
            rc = -1;
            break;
        }
        outs[i] = outdir_output_name(names[i]);
        if (!outs[i]) {
            cli_error("out of memory");
            rc = -1;
            break;
        }
        for (size_t k = 0; k < i && rc == 0; k++) {
            if (strcmp(outs[k], outs[i]) == 0) {
                cli_error("%s and %s would both be written to %s/%s; give inputs distinct file names", names[k],
                          names[i], dir, outs[i]);
                rc = -1;
            }
        }
    }
    /* the inputs' files, by device and inode, sorted: each output that
     * exists is looked up once (comparing every output with every input
     * took 254k stat calls for 500 inputs, a minute for 3,000) */
    file_key *inputs = rc == 0 ? malloc((count ? count : 1) * sizeof *inputs) : NULL;
    size_t known = 0;
    if (rc == 0 && !inputs) {
        cli_error("out of memory");
        rc = -1;
    }
    for (size_t k = 0; k < count && rc == 0; k++) {
        struct stat is;
        if (stat(names[k], &is) == 0 && S_ISREG(is.st_mode))
            inputs[known++] = (file_key){is.st_dev, is.st_ino, k};
    }
    if (known > 1)
        qsort(inputs, known, sizeof *inputs, file_key_order);
    for (size_t i = 0; i < count && rc == 0; i++) {
        char *out = cli_format("%s/%s", dir, outs[i]);
        if (!out) {
            cli_error("out of memory");
            rc = -1;
            break;
        }
        struct stat os;
        if (stat(out, &os) == 0) { /* an output not there yet is no input */
            file_key want = {os.st_dev, os.st_ino, 0};
            const file_key *hit =
                S_ISREG(os.st_mode) && known ? bsearch(&want, inputs, known, sizeof *inputs, file_key_order) : NULL;
            if (hit) {
                cli_error("%s: the output would replace the input %s", out, names[hit->index]);
                rc = -1;
            } else if (S_ISDIR(os.st_mode)) {
                /* found only at the renames, after others were renamed into place */
                cli_error("%s: a directory is there; the output cannot take its place", out);
                rc = -1;
            }
        }
        free(out);
    }
    free(inputs);
    for (size_t i = 0; outs && i < count; i++)
        free(outs[i]);
    free(outs);
    return rc;
}

void outdir_init(outdir *o, const char *dir, const char *tag, const char **names, size_t count)
{
    *o = (outdir){dir, tag, names, count, 0, NULL};
}

char *outdir_temp_name(const char *dir, const char *name, const char *tag)
{
    if (strlen(name) + strlen(tag) + sizeof "..neardup-" <= NAME_MAX)
        return cli_format("%s/.%s.neardup-%s", dir, name, tag);
    /* past the longest name a directory takes (NAME_MAX): the name's hash
     * (FNV-1a) instead, still one name per output and the same on every
     * MPI rank */
    uint64_t h = 0xcbf29ce484222325ull;
    for (const unsigned char *c = (const unsigned char *)name; *c; c++)
        h = (h ^ *c) * 0x100000001b3ull;
    return cli_format("%s/.neardup-%016llx-%s", dir, (unsigned long long)h, tag);
}

char *outdir_temp_path(const outdir *o, size_t source)
{
    char *name = outdir_output_name(o->names[source]);
    char *path = name ? outdir_temp_name(o->dir, name, o->tag) : NULL;
    free(name);
    return path;
}

char *outdir_final_path(const outdir *o, size_t source)
{
    char *name = outdir_output_name(o->names[source]);
    char *path = name ? cli_format("%s/%s", o->dir, name) : NULL;
    free(name);
    return path;
}

/* Close the open file, checking its writes; an error names the output
 * (its final name: the temporary one is removed). */
static int close_current(outdir *o)
{
    if (!o->f)
        return 0;
    out_name_forget(o->f);
    errno = 0;
    int failed = ferror(o->f);
    failed |= fclose(o->f) != 0;
    int err = errno ? errno : EIO;
    o->f = NULL;
    if (failed) {
        char *path = outdir_final_path(o, o->opened - 1);
        cli_error("%s: write error: %s", path ? path : o->dir, strerror(err));
        free(path);
        return -1;
    }
    return 0;
}

FILE *outdir_file(outdir *o, size_t source)
{
    if (o->f && source + 1 == o->opened)
        return o->f;
    if (close_current(o) != 0)
        return NULL;
    while (o->opened <= source) {
        if (close_current(o) != 0)
            return NULL;
        char *path = outdir_temp_path(o, o->opened);
        if (!path) {
            cli_error("out of memory");
            return NULL;
        }
        o->f = fopen(path, "w");
        if (!o->f) {
            cli_error("%s: cannot write: %s", path, strerror(errno));
            free(path);
            return NULL;
        }
        tempfiles_add(path, o); /* removed if a signal ends the run (outdir_rename, outdir_abort: done) */
        free(path);
        char *final = outdir_final_path(o, o->opened);
        out_name_set(o->f, final); /* (none when out of memory: the message is only less precise) */
        free(final);
        o->opened++;
    }
    return o->f;
}

int outdir_close(outdir *o)
{
    if (!o->dir)
        return 0;
    if (o->count > 0 && !outdir_file(o, o->count - 1))
        return -1;
    return close_current(o);
}

int outdir_rename(const outdir *o, const unsigned char *skip)
{
    for (size_t s = 0; o->dir && s < o->count; s++) {
        if (skip && skip[s])
            continue;
        char *from = outdir_temp_path(o, s), *to = outdir_final_path(o, s);
        int failed = !from || !to || rename(from, to) != 0;
        if (failed)
            cli_error("%s: cannot rename to %s: %s", from ? from : o->dir, to ? to : "", strerror(errno));
        free(from);
        free(to);
        if (failed)
            return -1;
    }
    tempfiles_done_owner(o);
    return 0;
}

void outdir_abort(outdir *o)
{
    if (!o->dir)
        return;
    if (o->f) {
        out_name_forget(o->f);
        fclose(o->f);
    }
    o->f = NULL;
    for (size_t s = 0; s < o->opened; s++) {
        char *path = outdir_temp_path(o, s);
        if (path)
            unlink(path);
        free(path);
    }
    tempfiles_done_owner(o);
    o->opened = 0;
}

/* ****  Where dedup writes  **** */

int dedup_target_open(dedup_target *t, const cli_config *cfg, const input *in, const char *tag)
{
    memset(t, 0, sizeof *t);
    if (outfile_open(&t->kept_file, cfg->output_path) != 0)
        return -1;
    t->kept = t->kept_file.f ? t->kept_file.f : stdout;
    size_t n = input_source_count(in);
    if (cfg->output_dir) {
        t->names = malloc((n ? n : 1) * sizeof *t->names);
        if (!t->names) {
            cli_error("out of memory");
            return -1;
        }
        for (size_t s = 0; s < n; s++)
            t->names[s] = input_source_name(in, s);
        outdir_init(&t->kept_dir, cfg->output_dir, tag, t->names, n);
        if (cfg->removed_dir)
            outdir_init(&t->removed_dir, cfg->removed_dir, tag, t->names, n);
    }
    return outfile_open(&t->removed_file, cfg->removed_path);
}

FILE *dedup_kept(dedup_target *t, size_t source)
{
    return t->kept_dir.dir ? outdir_file(&t->kept_dir, source) : t->kept;
}

int dedup_removed(FILE **out, dedup_target *t, size_t source)
{
    *out = t->removed_file.f;
    if (t->removed_dir.dir) {
        *out = outdir_file(&t->removed_dir, source);
        if (!*out)
            return -1;
    }
    return 0;
}

int dedup_writes_removed(const dedup_target *t)
{
    return t->removed_file.f != NULL || t->removed_dir.dir != NULL;
}

int dedup_target_close(dedup_target *t)
{
    int rc = outdir_close(&t->kept_dir);
    if (rc == 0)
        rc = outdir_close(&t->removed_dir);
    if (rc == 0)
        rc = outfile_close(&t->kept_file);
    if (rc == 0)
        rc = outfile_close(&t->removed_file);
    return rc;
}

int dedup_target_rename(dedup_target *t, const unsigned char *skip)
{
    int rc = outdir_rename(&t->kept_dir, skip);
    if (rc == 0)
        rc = outdir_rename(&t->removed_dir, skip);
    if (rc == 0)
        rc = outfile_rename(&t->removed_file);
    return rc == 0 ? outfile_rename(&t->kept_file) : rc;
}

void dedup_target_free(dedup_target *t, int failed)
{
    outfile_abort(&t->kept_file);
    outfile_abort(&t->removed_file);
    if (failed) {
        outdir_abort(&t->kept_dir);
        outdir_abort(&t->removed_dir);
    }
    free(t->names);
    t->names = NULL;
}
