/* outname.h - the name of each output stream the run writes, for its
 * write errors (outname.c). */
#ifndef ND_CLI_OUTNAME_H
#define ND_CLI_OUTNAME_H

#include <stdio.h> /* FILE */

/* Stream f is the output file `name` (-o FILE, --removed FILE, a file of
 * --output-dir): its write errors name it. The name is copied. Any
 * thread; a name that cannot be kept (out of memory, too many outputs
 * open) leaves the stream unnamed. */
void out_name_set(FILE *f, const char *name);
/* Stream f is about to be closed: forget its name. */
void out_name_forget(FILE *f);
/* Report that a write to stream f failed with error `err`: "FILE: write
 * error: REASON" for a named output, "cannot write the output: REASON"
 * otherwise (stdout), as README.md documents. */
void out_write_failed(FILE *f, int err);

#endif
