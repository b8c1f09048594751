/* hugeheap.h - the index commands run with malloc's heap in transparent
 * huge pages (hugeheap.c says why and how). */
#ifndef ND_CLI_HUGEHEAP_H
#define ND_CLI_HUGEHEAP_H

/* Called first thing in main(), before any thread, file or allocation of
 * ours: when the command works on a persistent index with 8 MiB of input
 * or more (index add, compact; query; dedup --index; a writer also with a
 * pipe or a directory) and glibc's malloc can be told to use transparent
 * huge pages, the program runs itself again with that tunable set (execv:
 * the same process, arguments and descriptors); otherwise, or when that
 * cannot be done, it returns and the run goes on as it is. */
void huge_heap_reexec(int argc, char **argv);

/* Called in main() after huge_heap_reexec, before any thread: for scan
 * and dedup, where the system has transparent huge pages and the user's
 * GLIBC_TUNABLES does not say otherwise, malloc's heap grows in huge
 * pages without a second start (mallopt, and madvise of the grown heap:
 * hugeheap.c). Only a matter of speed: the outputs are the same. */
void huge_heap_in_place(int argc, char **argv);

/* The pages this process's malloc was started with, for --verbose:
 * "transparent huge pages (glibc.malloc.hugetlb=1)", "transparent huge
 * pages (its first 32 MiB, advised in place)" (huge_heap_in_place),
 * "ordinary pages", or
 * (the user's GLIBC_TUNABLES) "hugetlbfs pages (glibc.malloc.hugetlb=2)". */
const char *huge_heap_pages(void);

#endif
