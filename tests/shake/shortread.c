/* shortread.c - an LD_PRELOAD library for scripts/shake: read() on regular
 * files and pread() return fewer bytes than asked for, at random (two
 * calls in three, any count from 1 up), as a network or FUSE file system
 * may, and as a loaded machine's timing never shows on a local disk.
 *
 * The reader must take whatever a call returns; and the changed timing of
 * the reading thread against the sketching ones shakes out races no fixed
 * schedule meets (it found alloc.c's huge-block table race: a long
 * document's ids lost about once in 150 runs with two threads). The
 * random sequence starts from SHORTREAD_SEED (decimal), so runs differ;
 * with SHORTREAD_REPORT set, the calls cut short are counted on stderr at
 * exit (scripts/shake checks the library is in use).
 */
#define _GNU_SOURCE 1 /* RTLD_NEXT */
#include <dlfcn.h>    /* dlsym */
#include <stdint.h>   /* uint64_t */
#include <stdio.h>    /* fprintf */
#include <stdlib.h>   /* getenv, strtoull */
#include <sys/stat.h> /* fstat, S_ISREG */
#include <unistd.h>   /* ssize_t, off_t */

static uint64_t state = 0x9E3779B97F4A7C15ull;
static unsigned long cut_short; /* calls asked for fewer bytes (atomic) */

__attribute__((constructor)) static void seed(void)
{
    const char *given = getenv("SHORTREAD_SEED");
    if (given)
        state ^= strtoull(given, NULL, 10) * 0xC2B2AE3D27D4EB4Full;
}

/* How many of `n` bytes to ask for: n one time in three, else 1 .. n.
 * (xorshift64; threads share the state without a lock: any value will
 * do, and the races only add to the shaking.) */
static size_t cut(size_t n)
{
    if (n <= 1)
        return n;
    uint64_t s = __atomic_load_n(&state, __ATOMIC_RELAXED);
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    __atomic_store_n(&state, s, __ATOMIC_RELAXED);
    if (s % 3 == 0)
        return n;
    __atomic_fetch_add(&cut_short, 1, __ATOMIC_RELAXED);
    return 1 + (size_t)((s >> 8) % (n - 1)); /* 1 .. n - 1 */
}

__attribute__((destructor)) static void report(void)
{
    if (getenv("SHORTREAD_REPORT"))
        fprintf(stderr, "shortread: %lu calls cut short\n", __atomic_load_n(&cut_short, __ATOMIC_RELAXED));
}

static int regular(int fd)
{
    struct stat st;
    return fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
}

ssize_t read(int fd, void *buf, size_t n)
{
    static ssize_t (*real)(int, void *, size_t);
    if (!real)
        real = (ssize_t(*)(int, void *, size_t))dlsym(RTLD_NEXT, "read");
    return real(fd, buf, regular(fd) ? cut(n) : n);
}

ssize_t pread(int fd, void *buf, size_t n, off_t offset)
{
    static ssize_t (*real)(int, void *, size_t, off_t);
    if (!real)
        real = (ssize_t(*)(int, void *, size_t, off_t))dlsym(RTLD_NEXT, "pread");
    return real(fd, buf, cut(n), offset);
}

ssize_t pread64(int fd, void *buf, size_t n, off_t offset)
{
    return pread(fd, buf, n, offset);
}
