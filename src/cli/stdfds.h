/* stdfds.h - the standard descriptors a run was started without (`>&-`),
 * held so that no file takes their numbers (stdfds.c). */
#ifndef ND_CLI_STDFDS_H
#define ND_CLI_STDFDS_H

/* Hold each of descriptors 0, 1 and 2 that is closed with /dev/null opened
 * the other way (stdin for writing, stdout and stderr for reading): using
 * it still fails as a closed one does (EBADF), and no file the run opens
 * takes its number. First thing in main. */
void std_fds_hold(void);

/* Was descriptor fd (0, 1 or 2) closed when the run started? */
int std_fd_was_closed(int fd);

/* Is `path` (an existing file that is not a regular one, as -o takes one
 * in place) the stand-in of a descriptor that was closed (-o /dev/stdout
 * with stdout closed would write into /dev/null)? */
int std_fd_stand_in(const char *path);

#endif /* ND_CLI_STDFDS_H */
