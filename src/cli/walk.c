/* walk.c - the paths named on the command line to the files to read:
 * directories walked in name order (hidden entries, FIFOs and other
 * special files, files --include does not choose and files that look
 * binary passed over and counted), symbolic link loops and broken links
 * named, and the index's own directory (an index command's DB inside a
 * walked directory) never read as documents. See walk.h. */
#include "walk.h"

#include <dirent.h>  /* opendir, readdir */
#include <errno.h>   /* errno */
#include <fcntl.h>   /* open */
#include <fnmatch.h> /* fnmatch */
#include <stdio.h>   /* snprintf */
#include <stdlib.h>  /* malloc, realloc, qsort, realpath */
#include <string.h>  /* strcmp, strerror, strndup */
#include <unistd.h>  /* read, close */

#include "reader.h" /* reader_magic */

static int add_name(input_walk *w, char *name)
{
    if (w->count == w->capacity) {
        size_t cap = w->capacity ? w->capacity * 2 : 16;
        char **grown = realloc(w->names, cap * sizeof *grown);
        if (!grown) {
            free(name);
            cli_error("out of memory");
            return -1;
        }
        w->names = grown;
        w->capacity = cap;
    }
    w->names[w->count++] = name;
    return 0;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int add_path(input_walk *w, const char *path, int depth);

static int add_directory(input_walk *w, const char *path, int depth)
{
    DIR *dir = opendir(path);
    if (!dir) {
        cli_error("%s: cannot read directory: %s", path, strerror(errno));
        return -1;
    }
    char **entries = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(dir)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            char **grown = realloc(entries, cap * sizeof *grown);
            if (!grown) {
                rc = -1;
                break;
            }
            entries = grown;
        }
        size_t len = strlen(path) + strlen(e->d_name) + 2;
        entries[n] = malloc(len);
        if (!entries[n]) {
            rc = -1;
            break;
        }
        size_t plen = strlen(path);
        snprintf(entries[n], len, "%s%s%s", path, (plen && path[plen - 1] == '/') ? "" : "/", e->d_name);
        n++;
    }
    closedir(dir);
    if (rc != 0)
        cli_error("%s: could not list the directory: out of memory", path);
    if (rc == 0 && n > 1)
        qsort(entries, n, sizeof *entries, compare_names);
    for (size_t i = 0; i < n; i++) {
        if (rc == 0)
            rc = add_path(w, entries[i], depth + 1); /* says what went wrong */
        free(entries[i]);
    }
    free(entries);
    return rc;
}

/* Does the file start like a binary file: a NUL byte in its first 4 KiB,
 * and not gzip or zstd? */
static int looks_binary(const char *path)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK);
    if (fd < 0)
        return 0; /* reading it later reports why */
    unsigned char block[4096];
    ssize_t n;
    do {
        n = read(fd, block, sizeof block);
    } while (n < 0 && errno == EINTR);
    close(fd);
    if (n <= 0)
        return 0;
    if (reader_magic(block, (size_t)n) != READER_PLAIN)
        return 0;
    return memchr(block, 0, (size_t)n) != NULL;
}

/* --include: a GLOB with a '/' is matched against the path as walked,
 * else against the file's name. */
static int included(const input_walk *w, const char *path)
{
    if (w->cfg->include_count == 0)
        return 1;
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    for (size_t i = 0; i < w->cfg->include_count; i++) {
        const char *glob = w->cfg->includes[i];
        if (fnmatch(glob, strchr(glob, '/') ? path : base, 0) == 0)
            return 1;
    }
    return 0;
}

/* Is the file `path` in the index's own directory, by whatever name or
 * symbolic link it is given? */
static int in_index_dir(const input_walk *w, const char *path)
{
    char *real = realpath(path, NULL); /* (a link to DB/data.mdb: DB's) */
    const char *slash = real ? strrchr(real, '/') : NULL;
    if (!slash) {
        free(real);
        return 0;
    }
    char *dir = strndup(real, slash == real ? 1 : (size_t)(slash - real));
    struct stat st;
    int inside = dir && stat(dir, &st) == 0 && st.st_dev == w->index_dev && st.st_ino == w->index_ino;
    free(dir);
    free(real);
    return inside;
}

/* depth 0: a path the user named (read whatever it is); deeper: an entry
 * of a directory walk. */
static int add_path(input_walk *w, const char *path, int depth)
{
    if (strcmp(path, "-") == 0)
        return add_name(w, strdup("-"));
    if (depth > 0) {
        const char *base = strrchr(path, '/');
        if (base && base[1] == '.') {
            w->skipped.hidden++;
            return 0;
        }
    }
    struct stat st;
    if (stat(path, &st) != 0) {
        int err = errno;
        struct stat link;
        if (err == ENOENT && lstat(path, &link) == 0 && S_ISLNK(link.st_mode))
            cli_error("%s: a symbolic link to a file that does not exist", path);
        else
            cli_error("%s: %s", path, strerror(err));
        return -1;
    }
    if (S_ISDIR(st.st_mode)) {
        if (w->has_index_dir && st.st_dev == w->index_dev && st.st_ino == w->index_ino) {
            /* its lock file would be read as an empty document, and added */
            if (depth == 0) {
                cli_error("%s: that is the index %s, not documents to read", path, w->cfg->index_path);
                return -1;
            }
            cli_warn("%s: the index's own directory, not read", path);
            return 0;
        }
        for (int d = 0; d < depth; d++) {
            if (w->dirs[d].dev == st.st_dev && w->dirs[d].ino == st.st_ino) {
                cli_error("%s: a symbolic link loop (this is a directory the walk is already inside)", path);
                return -1;
            }
        }
        if (depth > WALK_MAX_DEPTH) {
            cli_error("%s: directories nested too deep (more than %d)", path, WALK_MAX_DEPTH);
            return -1;
        }
        w->dirs[depth].dev = st.st_dev;
        w->dirs[depth].ino = st.st_ino;
        return add_directory(w, path, depth);
    }
    if (depth == 0 && w->has_index_dir && in_index_dir(w, path)) {
        /* data.mdb read as one document of binary bytes, the lock file as
         * an empty one, and added to the index they are part of */
        cli_error("%s: a file of the index %s, not documents to read", path, w->cfg->index_path);
        return -1;
    }
    if (depth > 0) {
        if (!S_ISREG(st.st_mode)) {
            w->skipped.special++; /* a FIFO would block in open() */
            return 0;
        }
        if (!included(w, path)) {
            w->skipped.excluded++;
            return 0;
        }
        w->included++;
        if (looks_binary(path)) {
            w->skipped.binary++;
            return 0;
        }
    }
    char *copy = strdup(path);
    return copy ? add_name(w, copy) : -1;
}

int input_walk_paths(input_walk *w, const cli_config *cfg)
{
    memset(w, 0, sizeof *w);
    w->cfg = cfg;
    struct stat index_st;
    if (cfg->index_path && stat(cfg->index_path, &index_st) == 0 && S_ISDIR(index_st.st_mode)) {
        w->has_index_dir = 1;
        w->index_dev = index_st.st_dev;
        w->index_ino = index_st.st_ino;
    }
    int failed = 0;
    if (cfg->path_count == 0)
        failed |= add_path(w, "-", 0) != 0;
    for (int i = 0; i < cfg->path_count; i++)
        failed |= add_path(w, cfg->paths[i], 0) != 0;
    if (!failed && cfg->include_count > 0 && w->included == 0 && w->skipped.excluded > 0)
        /* a pattern that chose nothing is most often a typo ('*.jsnol'), as a misspelt field is */
        cli_warn("--include: no file of the directories walked matches (%llu passed over); is the pattern right?",
                 (unsigned long long)w->skipped.excluded);
    return failed ? -1 : 0;
}
