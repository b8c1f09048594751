/* fileid.h - whether a file is still the one a first pass read: its
 * identity as fstat sees it (fileid.c). */
#ifndef ND_CLI_FILEID_H
#define ND_CLI_FILEID_H

#include <sys/stat.h> /* struct stat */
#include <time.h>     /* struct timespec */

/* A file as fstat saw it: a write changes its size, mtime or ctime (the
 * ctime too where the mtime is put back, as rsync --inplace -t or touch
 * -r do), a file put in its place its inode. */
typedef struct file_identity {
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime, ctime;
    int regular;
} file_identity;

file_identity file_identity_of(const struct stat *st);
int file_identity_same(const file_identity *a, const file_identity *b);

/* "NAME: changed while neardup was reading it; ...": the one message. */
void file_changed_error(const char *name);

/* After reading a regular file through fd: is it still `was`? 0 (also
 * for a file that is not regular, or fstat failing), or -1 reported
 * naming `name`. */
int file_identity_check(const file_identity *was, int fd, const char *name);

#endif /* ND_CLI_FILEID_H */
