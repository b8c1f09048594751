/* outfile.c - output files besides stdout: --removed FILE (opened at the
 * start of pass 2, closed with every write checked when the run
 * succeeds), and --output-dir / --removed-dir, one file per input written
 * under a temporary name and renamed only when the whole run succeeded.
 *
 * An output is named by its input's base name, less a .gz/.zst/.zstd
 * suffix (the output is plain JSON Lines). Two inputs with the same output
 * name (a/x.jsonl, b/x.jsonl, or x.jsonl and x.jsonl.gz) would write one
 * file: the run refuses them before reading anything (outdir_check), and
 * refuses an output that would replace an input. */
#include "outfile.h"

#include <errno.h>    /* errno */
#include <stdlib.h>   /* free */
#include <string.h>   /* strerror, strrchr, strcmp */
#include <sys/stat.h> /* stat */
#include <unistd.h>   /* unlink */

#include "cli.h"

int outfile_open(outfile *o, const char *path)
{
    o->f = NULL;
    o->path = path;
    if (!path)
        return 0;
    o->f = fopen(path, "w");
    if (!o->f) {
        cli_error("%s: cannot write: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

int outfile_commit(outfile *o)
{
    if (!o->f)
        return 0;
    int failed = ferror(o->f);
    failed |= fclose(o->f) != 0;
    o->f = NULL;
    if (failed) {
        cli_error("%s: write error: %s", o->path, strerror(errno));
        return -1;
    }
    return 0;
}

void outfile_abort(outfile *o)
{
    if (o->f)
        fclose(o->f);
    o->f = NULL;
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

int outdir_check(const char *dir, const char *const *names, size_t count)
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
    for (size_t i = 0; i < count && rc == 0; i++) {
        char *out = cli_format("%s/%s", dir, outs[i]);
        if (!out) {
            cli_error("out of memory");
            rc = -1;
            break;
        }
        for (size_t k = 0; k < count && rc == 0; k++) {
            struct stat a, b;
            if (stat(out, &a) == 0 && stat(names[k], &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
                cli_error("%s: the output would replace the input %s", out, names[k]);
                rc = -1;
            }
        }
        free(out);
    }
    for (size_t i = 0; outs && i < count; i++)
        free(outs[i]);
    free(outs);
    return rc;
}

void outdir_init(outdir *o, const char *dir, const char *tag, const char **names, size_t count)
{
    *o = (outdir){dir, tag, names, count, 0, NULL};
}

char *outdir_temp_path(const outdir *o, size_t source)
{
    char *name = outdir_output_name(o->names[source]);
    char *path = name ? cli_format("%s/.%s.neardup-%s", o->dir, name, o->tag) : NULL;
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

/* Close the open file, checking its writes. */
static int close_current(outdir *o)
{
    if (!o->f)
        return 0;
    int failed = ferror(o->f);
    failed |= fclose(o->f) != 0;
    o->f = NULL;
    if (failed) {
        char *path = outdir_temp_path(o, o->opened - 1);
        cli_error("%s: write error: %s", path ? path : o->dir, strerror(errno));
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
        free(path);
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
    return 0;
}

void outdir_abort(outdir *o)
{
    if (!o->dir)
        return;
    if (o->f)
        fclose(o->f);
    o->f = NULL;
    for (size_t s = 0; s < o->opened; s++) {
        char *path = outdir_temp_path(o, s);
        if (path)
            unlink(path);
        free(path);
    }
    o->opened = 0;
}

/* ****  Where dedup writes  **** */

int dedup_target_open(dedup_target *t, const cli_config *cfg, const input *in, const char *tag)
{
    memset(t, 0, sizeof *t);
    t->kept = stdout;
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

int dedup_target_close(dedup_target *t)
{
    int rc = outdir_close(&t->kept_dir);
    if (rc == 0)
        rc = outdir_close(&t->removed_dir);
    if (rc == 0)
        rc = outfile_commit(&t->removed_file);
    return rc;
}

int dedup_target_rename(dedup_target *t, const unsigned char *skip)
{
    int rc = outdir_rename(&t->kept_dir, skip);
    return rc == 0 ? outdir_rename(&t->removed_dir, skip) : rc;
}

void dedup_target_free(dedup_target *t, int failed)
{
    outfile_abort(&t->removed_file);
    if (failed) {
        outdir_abort(&t->kept_dir);
        outdir_abort(&t->removed_dir);
    }
    free(t->names);
    t->names = NULL;
}
