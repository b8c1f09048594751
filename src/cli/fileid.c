/* fileid.c - whether a file is still the one a first pass read.
 *
 * dedup and scan --unit read their inputs twice, and scan reads records
 * again by their offsets (refill, previews): a file written in between,
 * or while it is read, would give records pass 1 never saw, copied or
 * sketched into the output with exit 0. Its identity (device, inode, size,
 * mtime and ctime) is taken when pass 1 opens it and compared when it is
 * opened again and when a reading of it ends; the ctime catches an edit
 * that put the mtime back, which user space cannot do to the ctime. */
#include "fileid.h"

#include "cli.h"

file_identity file_identity_of(const struct stat *st)
{
    return (file_identity){st->st_dev, st->st_ino, st->st_size, st->st_mtim, st->st_ctim, S_ISREG(st->st_mode)};
}

int file_identity_same(const file_identity *a, const file_identity *b)
{
    return a->dev == b->dev && a->ino == b->ino && a->size == b->size && a->mtime.tv_sec == b->mtime.tv_sec &&
           a->mtime.tv_nsec == b->mtime.tv_nsec && a->ctime.tv_sec == b->ctime.tv_sec &&
           a->ctime.tv_nsec == b->ctime.tv_nsec;
}

void file_changed_error(const char *name)
{
    cli_error("%s: changed while neardup was reading it; cannot write a consistent output", name);
}

int file_identity_check(const file_identity *was, int fd, const char *name)
{
    struct stat st;
    if (!was->regular || fstat(fd, &st) != 0)
        return 0;
    file_identity now = file_identity_of(&st);
    if (file_identity_same(&now, was))
        return 0;
    file_changed_error(name);
    return -1;
}
