/* outfile.h - an output file the run writes besides stdout (outfile.c). */
#ifndef ND_CLI_OUTFILE_H
#define ND_CLI_OUTFILE_H

#include <stdio.h> /* FILE */

typedef struct outfile {
    FILE *f; /* NULL when not asked for */
    const char *path;
} outfile;

/* Open `path` for writing (path NULL: nothing asked, o->f stays NULL).
 * Returns 0, or -1 (reported). */
int outfile_open(outfile *o, const char *path);
/* The run succeeded: flush and close, checking every write. Returns 0, or
 * -1 (reported). Does nothing for a file not asked for. */
int outfile_commit(outfile *o);
/* The run failed: close without reporting. */
void outfile_abort(outfile *o);

#endif /* ND_CLI_OUTFILE_H */
