/* walk.h - the paths named on the command line (stdin when none) to the
 * list of files to read, directories walked (walk.c). */
#ifndef ND_CLI_WALK_H
#define ND_CLI_WALK_H

#include <stddef.h>   /* size_t */
#include <sys/stat.h> /* dev_t, ino_t */

#include "cli.h"
#include "input.h" /* input_skipped */

enum { WALK_MAX_DEPTH = 64 };

typedef struct input_walk {
    const cli_config *cfg;
    char **names; /* the files to read, in order; "-" for stdin */
    size_t count, capacity;
    input_skipped skipped; /* files a directory walk passed over */
    size_t included;       /* files a walk read that --include chose */
    struct {
        dev_t dev;
        ino_t ino;
    } dirs[WALK_MAX_DEPTH + 1]; /* the directories a walk is inside, to catch link loops */
    int has_index_dir;          /* cfg->index_path is a directory: never read as input */
    dev_t index_dev;
    ino_t index_ino;
} input_walk;

/* Walk cfg's paths into w (names newly allocated, each and the array: the
 * caller takes them, also after a failure). Returns 0, or -1 (reported:
 * a path that is not there, a link loop, the index named as input, out
 * of memory). */
int input_walk_paths(input_walk *w, const cli_config *cfg);

#endif /* ND_CLI_WALK_H */
