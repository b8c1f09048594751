/* outname.c - the name of each output stream the run writes, for its
 * write errors.
 *
 * A record is written where the caller was handed a FILE (dedup's copy of
 * records by position, replay_at.c, writes into whichever file of
 * --output-dir is open), so a failed write knew no name: "cannot write
 * the output: No space left on device" with a hundred files in the
 * directory. outfile.c names each stream it opens here, and the writers
 * report through out_write_failed. A few streams are open at once (-o,
 * --removed, one file of --output-dir and one of --removed-dir): a small
 * table under a lock.
 */
#include "outname.h"

#include <pthread.h> /* pthread_mutex_t */
#include <stdlib.h>  /* free */
#include <string.h>  /* strerror, strdup */

#include "cli.h" /* cli_error */

enum { NAMED_MAX = 8 };

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    FILE *f;
    char *name;
} named[NAMED_MAX];

void out_name_set(FILE *f, const char *name)
{
    char *copy = f && name ? strdup(name) : NULL;
    if (!copy)
        return;
    pthread_mutex_lock(&lock);
    int slot = -1;
    for (int i = 0; i < NAMED_MAX; i++) {
        if (named[i].f == f || (slot < 0 && !named[i].f))
            slot = i;
        if (named[i].f == f)
            break;
    }
    if (slot >= 0) {
        free(named[slot].name);
        named[slot].f = f;
        named[slot].name = copy;
        copy = NULL;
    }
    pthread_mutex_unlock(&lock);
    free(copy);
}

void out_name_forget(FILE *f)
{
    pthread_mutex_lock(&lock);
    for (int i = 0; f && i < NAMED_MAX; i++) {
        if (named[i].f == f) {
            free(named[i].name);
            named[i].f = NULL;
            named[i].name = NULL;
        }
    }
    pthread_mutex_unlock(&lock);
}

void out_write_failed(FILE *f, int err)
{
    pthread_mutex_lock(&lock);
    const char *name = NULL;
    for (int i = 0; f && i < NAMED_MAX && !name; i++) {
        if (named[i].f == f)
            name = named[i].name;
    }
    if (name)
        cli_error("%s: write error: %s", name, strerror(err));
    else
        cli_error("cannot write the output: %s", strerror(err));
    pthread_mutex_unlock(&lock);
}
