/* outfile.c - output files besides stdout (--removed): opened at the start
 * of pass 2, closed with every write checked when the run succeeds. */
#include "outfile.h"

#include <errno.h>  /* errno */
#include <string.h> /* strerror */

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
