/* readahead.c - read() calls made on a thread of their own.
 *
 * The second pass over a large regular file with --threads above 1
 * (reader_read_ahead, reader.c): a thread makes the read() calls into a
 * ring of AHEAD_CHUNKS chunks of AHEAD_CHUNK bytes while the reader finds
 * the lines, so the kernel's copy of the file, the largest cost of
 * reading it again, overlaps the rest. Split out of reader.c, which takes
 * the bytes through read_ahead_take.
 */
#include "readahead.h"

#include <errno.h>   /* errno, EINTR */
#include <pthread.h> /* pthread_create, pthread_cond_wait */
#include <stdlib.h>  /* malloc, calloc, free */
#include <string.h>  /* memcpy */
#include <unistd.h>  /* read */

enum { AHEAD_CHUNKS = 4 };

/* The read-ahead ring: the thread fills chunk (head + filled) % AHEAD_CHUNKS
 * while the reader copies out of chunk head. */
struct read_ahead {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t changed; /* a chunk filled or emptied, the end, or stop */
    int fd;
    unsigned char *chunk[AHEAD_CHUNKS];
    size_t len[AHEAD_CHUNKS];
    unsigned head, filled;
    size_t taken; /* bytes of chunk[head] copied out (the reader's) */
    int end, err, stop;
};

static void *ahead_main(void *arg)
{
    read_ahead *a = arg;
    unsigned tail = 0;
    pthread_mutex_lock(&a->lock);
    while (!a->stop && !a->end) {
        if (a->filled == AHEAD_CHUNKS) {
            pthread_cond_wait(&a->changed, &a->lock);
            continue;
        }
        pthread_mutex_unlock(&a->lock);
        ssize_t n;
        do {
            n = read(a->fd, a->chunk[tail], AHEAD_CHUNK);
        } while (n < 0 && errno == EINTR);
        int err = n < 0 ? errno : 0;
        pthread_mutex_lock(&a->lock);
        if (n <= 0) {
            a->end = 1;
            a->err = err;
        } else {
            a->len[tail] = (size_t)n;
            tail = (tail + 1) % AHEAD_CHUNKS;
            a->filled++;
        }
        pthread_cond_broadcast(&a->changed);
    }
    pthread_mutex_unlock(&a->lock);
    return NULL;
}

static void ahead_free(read_ahead *a)
{
    for (unsigned k = 0; k < AHEAD_CHUNKS; k++)
        free(a->chunk[k]);
    free(a);
}

read_ahead *read_ahead_start(int fd)
{
    read_ahead *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    a->fd = fd;
    for (unsigned k = 0; k < AHEAD_CHUNKS; k++) {
        if (!(a->chunk[k] = malloc(AHEAD_CHUNK))) {
            ahead_free(a);
            return NULL;
        }
    }
    if (pthread_mutex_init(&a->lock, NULL) != 0) {
        ahead_free(a);
        return NULL;
    }
    if (pthread_cond_init(&a->changed, NULL) != 0 || pthread_create(&a->thread, NULL, ahead_main, a) != 0) {
        pthread_cond_destroy(&a->changed);
        pthread_mutex_destroy(&a->lock);
        ahead_free(a);
        return NULL;
    }
    return a;
}

void read_ahead_stop(read_ahead *a)
{
    pthread_mutex_lock(&a->lock);
    a->stop = 1;
    pthread_cond_broadcast(&a->changed);
    pthread_mutex_unlock(&a->lock);
    pthread_join(a->thread, NULL);
    pthread_cond_destroy(&a->changed);
    pthread_mutex_destroy(&a->lock);
    ahead_free(a);
}

size_t read_ahead_take(read_ahead *a, unsigned char *into, size_t room, int *err)
{
    pthread_mutex_lock(&a->lock);
    while (a->filled == 0 && !a->end)
        pthread_cond_wait(&a->changed, &a->lock);
    int filled = a->filled > 0;
    *err = a->err;
    pthread_mutex_unlock(&a->lock);
    if (!filled)
        return 0;
    size_t n = a->len[a->head] - a->taken;
    if (n > room)
        n = room;
    memcpy(into, a->chunk[a->head] + a->taken, n);
    a->taken += n;
    if (a->taken == a->len[a->head]) {
        pthread_mutex_lock(&a->lock);
        a->head = (a->head + 1) % AHEAD_CHUNKS;
        a->filled--;
        a->taken = 0;
        pthread_cond_broadcast(&a->changed);
        pthread_mutex_unlock(&a->lock);
    }
    return n;
}
