/* tempfiles.h - the temporary output files of a run, removed when a
 * signal ends it (tempfiles.c). */
#ifndef ND_CLI_TEMPFILES_H
#define ND_CLI_TEMPFILES_H

typedef struct tempfile tempfile;

/* Note temporary file `path` (copied), of `owner` (any pointer: the
 * outfile or outdir that made it), to be removed if SIGINT, SIGTERM,
 * SIGHUP or SIGPIPE ends the run before tempfiles_done. The first call
 * installs the handlers (not over a signal the program started with
 * ignored, as under nohup). Returns the note, or NULL when out of memory:
 * then the file is only not removed on a signal. */
tempfile *tempfiles_add(const char *path, const void *owner);

/* The file was renamed to its name or removed: a signal leaves it alone.
 * NULL does nothing. */
void tempfiles_done(tempfile *t);

/* tempfiles_done for every file of `owner`. */
void tempfiles_done_owner(const void *owner);

/* Remove every file not done: what a signal handler that ends the run
 * otherwise calls (dbdamage.c); async-signal-safe. */
void tempfiles_remove_all(void);

#endif
