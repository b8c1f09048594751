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
 * malloc). If the program's file cannot be run again, the run goes on as
 * it is, in ordinary pages: only a matter of speed, the index and the
 * outputs are the same either way (tests/cli/test_index_hugeheap.sh).
 *
 * Which commands: index add and compact, query, dedup --index; and only
 * with 8 MiB of input or more (or of index, for compact), as far as the
 * arguments tell (read with getopt_long over the program's options, as
 * cli_parse will read them; a writer takes a pipe or a directory to be
 * large, a reader, which gains less, to be small): starting twice costs
 * about 5 ms (a one-document `index add` took 19 ms instead of 14). Not when another
 * program would be started in its place (the dynamic loader run by hand,
 * Valgrind).
 *
 * scan and dedup (huge_heap_in_place) do it in place, without a second
 * start: their heap is small beside the library's arrays (which are in
 * huge pages already), but its 4 KiB faults still cost a run more than a
 * second start would: 1,400 of them for 50k CJK documents (a 0.18 s
 * run), 3,350 in paragraph mode on 100k syndicated ones (0.65 s), 11 us
 * each on this VM, where a 2 MiB huge page costs 0.15 ms if the host
 * backs the memory already and 2.5 ms if it must back it anew (free page
 * reporting). And glibc trims the top of its heap when 128 KiB of it are
 * free, so a phase that frees and the next that allocates fault the same
 * pages again. So these commands tell malloc, through mallopt, to take
 * blocks below 1 MiB from its heap (not mappings of their own), to grow
 * it 32 MiB ahead and not to trim it below 64 MiB, make it grow once, and
 * advise that grown heap (from its first 2 MiB boundary) as transparent
 * huge pages: 1,412 faults became about 500 to 800 and 3,350 about 700
 * to 1,100 (they vary with where the heap starts; perf stat -e
 * page-faults). 50k CJK documents, one thread, scripts/ab against
 * GLIBC_TUNABLES=glibc.malloc.hugetlb=0: back to back 0.156-0.163 s
 * against 0.227-0.243 s (medians of 11-15, either order; a run here
 * takes about 0.16 s or about 0.22 s by the memory it is given, and the
 * in-place heap was more often the first), 4 s apart 0.214 against
 * 0.231 s (9). Timed in turn by hand: after the floor probe
 * (scripts/floor's order) 0.92x, medians of 15; paragraphs on 100k
 * syndicated documents 0.97x with one thread and two; 1M documents with
 * two threads the same (1.86 s either way, 9 rounds). Only the main
 * arena: a thread's own arena (glibc gives each thread one while they
 * contend) stays as it was, and so does the heap past those first 32 MiB
 * (a heap that grows again is a new mapping, not advised); one arena for
 * all threads (M_ARENA_MAX) made paragraph mode with two threads slower
 * (locks). Not under a GLIBC_TUNABLES that sets glibc.malloc.hugetlb (the
 * user's choice, or the second start's), nor where the system has no
 * transparent huge pages.
 */
#define _GNU_SOURCE 1 /* setenv, readlink, getauxval under -std=c11 */
#include "hugeheap.h"

#include "alloc.h"   /* ND_HUGE_PAGE */
#include "options.h" /* cli_all_options, OPT_INDEX, OPT_UPDATE */

#include <fcntl.h>    /* open */
#include <getopt.h>   /* getopt_long, optind, opterr */
#include <malloc.h>   /* mallopt, M_MMAP_THRESHOLD, M_TOP_PAD, M_TRIM_THRESHOLD */
#include <stdint.h>   /* uint64_t, UINT64_MAX */
#include <stdio.h>    /* snprintf */
#include <stdlib.h>   /* getenv, setenv, unsetenv */
#include <string.h>   /* strcmp, strstr, strlen */
#include <sys/auxv.h> /* getauxval, AT_SECURE, AT_BASE */
#include <sys/mman.h> /* madvise */
#include <sys/stat.h> /* stat, fstat */
#include <unistd.h>   /* readlink, execv, read, close, sbrk */

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

/* 1 once huge_heap_in_place() advised the heap */
static int advised_in_place;

const char *huge_heap_pages(void)
{
    if (advised_in_place)
        return "transparent huge pages (its first 32 MiB, advised in place)";
#ifdef HUGE_HEAP
    const char *v = tunable_value();
    if (v && v[0] == '1' && (v[1] == '\0' || v[1] == ':') && thp_available())
        return "transparent huge pages (glibc.malloc.hugetlb=1)";
    if (v && v[0] == '2' && (v[1] == '\0' || v[1] == ':'))
        return "hugetlbfs pages (glibc.malloc.hugetlb=2)";
#endif
    return "ordinary pages";
}

#ifdef HUGE_HEAP
/* Below this much input (or index, for compact) the second start is not
 * worth it: it costs about 5 ms (a one-document `index add` took 19 ms
 * instead of 14), and what it saves grows with the pages the transaction
 * dirties (about 12 us a 4 KiB page here: 3 ms a MiB of index). A
 * compressed file counts at its size on disk: less than it holds. */
#define SMALL_INPUT ((uint64_t)8 << 20)
#define UNKNOWN UINT64_MAX /* an input whose size the arguments do not tell */

/* A command's arguments as cli_parse (options.c) will read them:
 * getopt_long over cli_all_options, on a copy of argv (it reorders what it
 * reads). */
typedef struct command_args {
    char **copy;     /* of argv, malloc'd (the caller frees it) */
    char **operands; /* what is not an option or an option's value */
    int operand_count;
    int index, update; /* dedup --index, --update */
} command_args;

/* Read args (argv[0] the subcommand's name, as cli_parse is given it);
 * 0, or -1 when out of memory. */
static int read_args(command_args *a, int argc, char **argv)
{
    *a = (command_args){0};
    a->copy = argc > 0 ? malloc(((size_t)argc + 1) * sizeof *argv) : NULL;
    if (!a->copy)
        return -1;
    memcpy(a->copy, argv, ((size_t)argc + 1) * sizeof *argv); /* with argv[argc], NULL */
    optind = 1;
    opterr = 0;
    int opt;
    while ((opt = getopt_long(argc, a->copy, ":t:ho:", cli_all_options, NULL)) != -1) {
        a->index |= opt == OPT_INDEX;
        a->update |= opt == OPT_UPDATE;
    }
    a->operands = a->copy + optind;
    a->operand_count = argc - optind;
    optind = 1; /* for cli_parse, which starts over */
    return 0;
}

/* The size of what descriptor-or-path input `path` holds ("-": standard
 * input): a regular file's size, else UNKNOWN (a directory to walk, a
 * pipe); 0 for a name that is nothing (an error the command will report). */
static uint64_t input_size(const char *path)
{
    struct stat st;
    int ok = strcmp(path, "-") == 0 ? fstat(0, &st) == 0 : stat(path, &st) == 0;
    if (!ok)
        return 0;
    return S_ISREG(st.st_mode) ? (uint64_t)st.st_size : UNKNOWN;
}

/* The bytes the inputs hold (the operands after the first `skip`: the
 * index, for index add and query), standard input when none is named;
 * UNKNOWN when one of them cannot be told. */
static uint64_t input_bytes(const command_args *a, int skip)
{
    if (a->operand_count <= skip)
        return input_size("-");
    uint64_t bytes = 0;
    for (int i = skip; i < a->operand_count; i++) {
        uint64_t size = input_size(a->operands[i]);
        if (size == UNKNOWN)
            return UNKNOWN;
        bytes += size;
    }
    return bytes;
}

/* For the command named by argv[1] (and argv[2], for index), its
 * arguments read into `a`: does it work on a persistent index with enough
 * input for a second start to pay? Writers
 * (index add, dedup --index --update) take an input of unknown size (a
 * pipe, a directory) to be large; readers (query, dedup --index), which
 * gain less, to be small. */
static int pays(const command_args *a, char **argv)
{
    if (strcmp(argv[1], "index") == 0) {
        if (strcmp(argv[2], "add") == 0)
            return input_bytes(a, 1) >= SMALL_INPUT;
        if (strcmp(argv[2], "compact") == 0 && a->operand_count == 1) { /* rewrites the whole index */
            char file[4096];
            int n = snprintf(file, sizeof file, "%s/data.mdb", a->operands[0]);
            uint64_t size = n > 0 && (size_t)n < sizeof file ? input_size(file) : 0;
            return size >= SMALL_INPUT && size != UNKNOWN;
        }
        return 0; /* stats reads a few pages; remove marks the texts it takes out */
    }
    int query = strcmp(argv[1], "query") == 0;
    if (!query && !a->index)
        return 0; /* dedup without an index */
    uint64_t bytes = input_bytes(a, query ? 1 : 0);
    if (a->update)
        return bytes >= SMALL_INPUT; /* a writer */
    return bytes >= SMALL_INPUT && bytes != UNKNOWN;
}

/* pays(), for the commands that may: the index commands, query, dedup. */
static int second_start_pays(int argc, char **argv)
{
    int index = argc > 2 && strcmp(argv[1], "index") == 0;
    if (!index && (argc < 2 || (strcmp(argv[1], "query") != 0 && strcmp(argv[1], "dedup") != 0)))
        return 0;
    command_args a;
    if (read_args(&a, index ? argc - 2 : argc - 1, index ? argv + 2 : argv + 1) != 0)
        return 0;
    int yes = pays(&a, argv);
    free(a.copy);
    return yes;
}

/* Is this process run by another program that /proc/self/exe would name
 * instead of this one: the dynamic loader started by hand (`ld.so
 * neardup ...`: no interpreter was loaded, AT_BASE is 0), or Valgrind
 * (its preloaded library), under which the second start would run
 * unchecked? */
static int under_another_program(void)
{
    const char *preload = getenv("LD_PRELOAD");
    return getauxval(AT_BASE) == 0 || (preload && strstr(preload, "vgpreload"));
}
#endif

void huge_heap_reexec(int argc, char **argv)
{
#ifdef HUGE_HEAP
    /* a set-user-ID or file-capability start (AT_SECURE) has GLIBC_TUNABLES
     * taken out of its environment by glibc: it would start again forever */
    if (getauxval(AT_SECURE) || tunable_value() || under_another_program() || !second_start_pays(argc, argv) ||
        !thp_available())
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

#ifdef HUGE_HEAP
/* huge_heap_in_place's settings (the file's comment says why) */
enum {
    IN_PLACE_MMAP_THRESHOLD = 1 << 20, /* blocks below this from the heap */
    IN_PLACE_TOP_PAD = 32 << 20,       /* the heap grows this much ahead */
    IN_PLACE_TRIM = 64 << 20           /* and keeps this much free at its top */
};
#endif

void huge_heap_in_place(int argc, char **argv)
{
#ifdef HUGE_HEAP
    if (argc < 2 || (strcmp(argv[1], "scan") != 0 && strcmp(argv[1], "dedup") != 0) || tunable_value() ||
        !thp_available())
        return;
    if (!mallopt(M_MMAP_THRESHOLD, IN_PLACE_MMAP_THRESHOLD) || !mallopt(M_TRIM_THRESHOLD, IN_PLACE_TRIM) ||
        !mallopt(M_TOP_PAD, IN_PLACE_TOP_PAD))
        return; /* as it was: only a matter of speed */
    /* a block the heap has no room for: it grows by the block and the pad */
    void *grow = malloc(IN_PLACE_MMAP_THRESHOLD / 2);
    if (!grow)
        return;
    uintptr_t from = ((uintptr_t)grow + (uintptr_t)ND_HUGE_PAGE - 1) & ~((uintptr_t)ND_HUGE_PAGE - 1);
    void *top = sbrk(0);
    uintptr_t to = top == (void *)-1 ? 0 : (uintptr_t)top & ~((uintptr_t)ND_HUGE_PAGE - 1);
    if (to > from && (uintptr_t)grow < (uintptr_t)top && madvise((void *)from, to - from, MADV_HUGEPAGE) == 0)
        advised_in_place = 1;
    free(grow);
#else
    (void)argc;
    (void)argv;
#endif
}
