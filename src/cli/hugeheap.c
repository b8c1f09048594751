/* hugeheap.c - the index commands run with malloc's heap in transparent
 * huge pages.
 *
 * Why: an LMDB write transaction keeps every page it dirties in memory of
 * its own until the commit writes them out: one malloc of 4 KiB per page.
 * `index add` of a million generated documents dirties about 780 MB, some
 * 200,000 such pages, each a page fault when first touched; on a virtual
 * machine a 4 KiB fault was measured at 12-21 us (alloc.h), and those faults
 * were most of the run. On this program's 2-core VM, one run each: 1M
 * documents 10.8 s as it was, 5.5 s with glibc's malloc in huge pages; 100k
 * 0.93 s against 0.55 s (the same index, byte for byte); `query` of 100k
 * documents against the 1M index about a tenth faster. The library's own
 * large arrays are in huge pages already (alloc.h: nd_malloc_huge); LMDB's
 * pages and what the query path allocates come from plain malloc.
 *
 * How: glibc 2.35 and later back its heap with transparent huge pages when
 * the tunable glibc.malloc.hugetlb is 1 (the heap grows 2 MiB at a time,
 * advised MADV_HUGEPAGE; so are the blocks it maps), but it reads tunables
 * only from the environment a program starts with. So such a command runs
 * itself again, before anything else, with the tunable added to
 * GLIBC_TUNABLES: execv of its own file (the same process, arguments and
 * open descriptors). The second start finds the tunable and goes on; so
 * does a run whose GLIBC_TUNABLES names it already (the user's choice:
 * glibc.malloc.hugetlb=0 turns this off), a system without transparent
 * huge pages (`never`), a set-user-ID start (whose GLIBC_TUNABLES glibc
 * drops), another C library, and a build under AddressSanitizer (its own
 * malloc). If the program's file cannot be run
 * again, the run goes on as it is, in ordinary pages: only a matter of
 * speed, the index and the outputs are the same either way
 * (tests/cli/test_index_hugeheap.sh).
 *
 * Which commands: index add and compact, query, dedup --index; and only
 * with 8 MiB of input or more (or of index, for compact), as far as the
 * arguments tell (a writer reading a pipe counts it as large, a reader as
 * small): starting twice costs about 5 ms (a one-document `index add` took
 * 19 ms instead of 14). Elsewhere (scan, dedup) the heap is small beside
 * the library's arrays.
 */
#define _GNU_SOURCE 1 /* setenv, readlink under -std=c11 */
#include "hugeheap.h"

#include <fcntl.h>    /* open */
#include <stdint.h>   /* uint64_t, int64_t, UINT64_MAX */
#include <stdio.h>    /* snprintf */
#include <stdlib.h>   /* getenv, setenv, unsetenv */
#include <string.h>   /* strcmp, strstr, strlen */
#include <sys/auxv.h> /* getauxval, AT_SECURE */
#include <sys/stat.h> /* stat, fstat */
#include <unistd.h>   /* readlink, execv, read, close */

#if defined(__SANITIZE_ADDRESS__)
#define HUGE_HEAP_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HUGE_HEAP_ASAN 1
#endif
#endif

#if defined(__linux__) && defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 35)) && \
    !defined(HUGE_HEAP_ASAN)
#define HUGE_HEAP 1
#endif

#define TUNABLE "glibc.malloc.hugetlb"

#ifdef HUGE_HEAP
/* GLIBC_TUNABLES's value of TUNABLE ("name=value" items separated by
 * colons), or NULL when it is not there. */
static const char *tunable_value(void)
{
    const char *all = getenv("GLIBC_TUNABLES");
    size_t len = strlen(TUNABLE);
    for (const char *p = all; p && *p;) {
        if (strncmp(p, TUNABLE, len) == 0 && p[len] == '=')
            return p + len + 1;
        p = strchr(p, ':');
        p = p ? p + 1 : NULL;
    }
    return NULL;
}
#endif

int huge_heap_on(void)
{
#ifdef HUGE_HEAP
    const char *v = tunable_value();
    return v && v[0] == '1' && (v[1] == '\0' || v[1] == ':');
#else
    return 0;
#endif
}

#ifdef HUGE_HEAP
/* Below this much input (or index, for compact) the second start is not
 * worth it: it costs about 5 ms (a one-document `index add` took 19 ms
 * instead of 14), and what it saves grows with the pages the transaction
 * dirties (about 12 us a 4 KiB page here: 3 ms a MiB of index). */
#define SMALL_INPUT ((uint64_t)8 << 20)

/* The size of regular file `path`, or -1 when it is not one. */
static int64_t file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) ? (int64_t)st.st_size : -1;
}

/* Is `path` a directory that holds an index (its data.mdb)? */
static int is_index_dir(const char *path)
{
    char file[4096];
    int n = snprintf(file, sizeof file, "%s/data.mdb", path);
    return n > 0 && (size_t)n < sizeof file && file_size(file) >= 0;
}

/* The bytes the command's inputs hold as far as its arguments tell
 * without reading them (argv[from...]: the regular files named; an index's
 * directory is not an input; a name that is nothing, an option's value, is
 * passed over; standard input when no input is named), or UINT64_MAX when
 * it cannot be told (a directory to walk, a pipe). */
static uint64_t input_bytes(int argc, char **argv, int from)
{
    uint64_t bytes = 0;
    int named = 0;
    for (int i = from; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] == '-')
            continue; /* an option (or "-": standard input, below) */
        struct stat st;
        if (stat(a, &st) != 0)
            continue;
        if (S_ISREG(st.st_mode)) {
            bytes += (uint64_t)st.st_size;
            named = 1;
        } else if (S_ISDIR(st.st_mode) && !is_index_dir(a)) {
            return UINT64_MAX;
        }
    }
    if (!named) {
        struct stat st;
        if (fstat(0, &st) != 0 || !S_ISREG(st.st_mode))
            return UINT64_MAX;
        bytes = (uint64_t)st.st_size;
    }
    return bytes;
}

/* Does the command (argv) work on a persistent index with enough input
 * for a second start to pay? */
static int writes_index(int argc, char **argv)
{
    if (argc > 3 && strcmp(argv[1], "index") == 0) {
        if (strcmp(argv[2], "add") == 0)
            return input_bytes(argc, argv, 3) >= SMALL_INPUT;
        if (strcmp(argv[2], "compact") == 0) { /* rewrites the whole index */
            char file[4096];
            int n = snprintf(file, sizeof file, "%s/data.mdb", argv[3]);
            return n > 0 && (size_t)n < sizeof file && file_size(file) >= (int64_t)SMALL_INPUT;
        }
        return 0; /* remove: the pages of the texts it takes out, stats: reads */
    }
    /* the readers gain less (a tenth): a pipe, often one document, is
     * taken to be small */
    if (argc > 2 && strcmp(argv[1], "query") == 0) {
        uint64_t bytes = input_bytes(argc, argv, 2);
        return bytes >= SMALL_INPUT && bytes != UINT64_MAX;
    }
    if (argc > 2 && strcmp(argv[1], "dedup") == 0) {
        int index = 0;
        for (int i = 2; i < argc && strcmp(argv[i], "--") != 0; i++) {
            if (strcmp(argv[i], "--update") == 0)
                return input_bytes(argc, argv, 2) >= SMALL_INPUT; /* a writer */
            index |= strcmp(argv[i], "--index") == 0 || strncmp(argv[i], "--index=", 8) == 0;
        }
        uint64_t bytes = index ? input_bytes(argc, argv, 2) : 0;
        return bytes >= SMALL_INPUT && bytes != UINT64_MAX;
    }
    return 0;
}

/* Are transparent huge pages there to be asked for (`always` or `madvise`)? */
static int thp_available(void)
{
    int fd = open("/sys/kernel/mm/transparent_hugepage/enabled", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    char buf[128];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    return strstr(buf, "[never]") == NULL;
}
#endif

void huge_heap_reexec(int argc, char **argv)
{
#ifdef HUGE_HEAP
    /* a set-user-ID or file-capability start (AT_SECURE) has GLIBC_TUNABLES
     * taken out of its environment by glibc: it would start again forever */
    if (getauxval(AT_SECURE) || !writes_index(argc, argv) || tunable_value() || !thp_available())
        return;
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0 || (size_t)n >= sizeof exe - 1)
        return;
    exe[n] = '\0';
    const char *before = getenv("GLIBC_TUNABLES");
    char old[4096], value[4096 + sizeof TUNABLE + 3];
    if (before && strlen(before) >= sizeof old)
        return;
    snprintf(old, sizeof old, "%s", before ? before : "");
    snprintf(value, sizeof value, "%s%s%s=1", old, before && *before ? ":" : "", TUNABLE);
    if (setenv("GLIBC_TUNABLES", value, 1) != 0)
        return;
    execv(exe, argv);
    /* not run again (the file is gone, or cannot be run): as we were */
    if (before)
        setenv("GLIBC_TUNABLES", old, 1);
    else
        unsetenv("GLIBC_TUNABLES");
#else
    (void)argc;
    (void)argv;
#endif
}
