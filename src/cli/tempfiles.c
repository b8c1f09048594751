/* tempfiles.c - the temporary output files of a run, removed when a
 * signal ends it.
 *
 * Why: output files are written under a temporary name beside their own
 * (".NAME.neardup-XXXXXX", outfile.c) and renamed only once the whole run
 * succeeded, so a failed run leaves no output that looks complete. A run
 * that fails removes them; one ended by Ctrl-C or `kill` (SIGINT, SIGTERM,
 * SIGHUP, or SIGPIPE when a pipe it writes to closes) left them behind,
 * hidden and as large as the output written so far.
 *
 * How: each temporary file is noted in a list that only grows (a node is
 * published with one atomic store of the head, after it is complete, and
 * never freed: a handler may walk the list at any moment, on any thread);
 * a file renamed or removed is marked done. The handler unlinks every file
 * not done (unlink is async-signal-safe), then lets the signal end the
 * process as it would have (the handler is reset on entry, SA_RESETHAND,
 * and the signal raised again): the exit status is still 128 + the
 * signal's number. A signal the program started with ignored stays
 * ignored (nohup's SIGHUP).
 */
#include "tempfiles.h"

#include <pthread.h> /* pthread_once */
#include <signal.h>  /* sigaction, raise, sig_atomic_t */
#include <stdlib.h>  /* malloc */
#include <string.h>  /* strlen, memcpy */
#include <unistd.h>  /* unlink */

struct tempfile {
    struct tempfile *next;
    const void *owner;
    volatile sig_atomic_t done;
    char path[]; /* NUL-terminated */
};

static tempfile *head; /* read and written atomically */

static const int cleanup_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGPIPE};

void tempfiles_remove_all(void)
{
    for (tempfile *t = __atomic_load_n(&head, __ATOMIC_ACQUIRE); t; t = t->next) {
        if (!t->done)
            unlink(t->path);
    }
}

static void on_signal(int sig)
{
    tempfiles_remove_all();
    raise(sig); /* the default action now (SA_RESETHAND) */
}

static void install(void)
{
    for (size_t i = 0; i < sizeof cleanup_signals / sizeof cleanup_signals[0]; i++) {
        struct sigaction old;
        if (sigaction(cleanup_signals[i], NULL, &old) != 0 || old.sa_handler != SIG_DFL)
            continue; /* ignored, or another handler's */
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_signal;
        sa.sa_flags = (int)SA_RESETHAND; /* (a flag past INT_MAX on Linux) */
        sigemptyset(&sa.sa_mask);
        sigaction(cleanup_signals[i], &sa, NULL);
    }
}

static pthread_once_t installed = PTHREAD_ONCE_INIT;

tempfile *tempfiles_add(const char *path, const void *owner)
{
    pthread_once(&installed, install);
    size_t n = strlen(path) + 1;
    tempfile *t = malloc(sizeof *t + n);
    if (!t)
        return NULL;
    t->owner = owner;
    t->done = 0;
    memcpy(t->path, path, n);
    tempfile *first = __atomic_load_n(&head, __ATOMIC_ACQUIRE);
    do
        t->next = first;
    while (!__atomic_compare_exchange_n(&head, &first, t, 0, __ATOMIC_RELEASE, __ATOMIC_ACQUIRE));
    return t;
}

void tempfiles_done(tempfile *t)
{
    if (t)
        t->done = 1;
}

void tempfiles_done_owner(const void *owner)
{
    for (tempfile *t = __atomic_load_n(&head, __ATOMIC_ACQUIRE); t; t = t->next) {
        if (t->owner == owner)
            t->done = 1;
    }
}
