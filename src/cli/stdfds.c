/* stdfds.c - the standard descriptors a run was started without (`>&-`).
 *
 * A descriptor left closed is taken by the next file the run opens: a
 * temporary -o file that became descriptor 1 was closed twice (once as the
 * file, once as stdout), and the run failed after renaming a complete
 * output into place. So each closed one is held by /dev/null opened the
 * other way, and writing to a closed stdout still fails (EBADF) as it
 * would have. A path that reopens the stand-in (-o /dev/stdout) is told
 * apart by std_fd_stand_in, so that it fails too instead of writing into
 * /dev/null. */
#include "stdfds.h"

#include <errno.h>    /* errno, EBADF */
#include <fcntl.h>    /* fcntl, open */
#include <sys/stat.h> /* stat, fstat */
#include <unistd.h>   /* dup2, close */

static int closed[3];

void std_fds_hold(void)
{
    for (int fd = 0; fd <= 2; fd++) {
        if (fcntl(fd, F_GETFD) != -1 || errno != EBADF)
            continue;
        closed[fd] = 1;
        int held = open("/dev/null", fd == 0 ? O_WRONLY : O_RDONLY);
        if (held >= 0 && held != fd) { /* (open takes the lowest free number: fd itself) */
            dup2(held, fd);
            close(held);
        }
    }
}

int std_fd_was_closed(int fd)
{
    return fd >= 0 && fd <= 2 && closed[fd];
}

int std_fd_stand_in(const char *path)
{
    struct stat p, f;
    if (stat(path, &p) != 0)
        return 0;
    for (int fd = 1; fd <= 2; fd++) {
        if (closed[fd] && fstat(fd, &f) == 0 && f.st_dev == p.st_dev && f.st_ino == p.st_ino)
            return 1;
    }
    return 0;
}
