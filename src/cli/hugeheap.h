/* hugeheap.h - the index commands run with malloc's heap in transparent
 * huge pages (hugeheap.c says why and how). */
#ifndef ND_CLI_HUGEHEAP_H
#define ND_CLI_HUGEHEAP_H

/* Called first thing in main(), before any thread, file or allocation of
 * ours: when the command works on a persistent index with 8 MiB of input
 * or more (index add, compact; query; dedup --index) and glibc's malloc
 * can be told to use transparent huge pages, the program runs itself again
 * with that tunable set (execv: the same process, arguments and
 * descriptors); otherwise, or when that cannot be done, it returns and the
 * run goes on as it is. */
void huge_heap_reexec(int argc, char **argv);

/* 1 when this process's malloc was started with glibc.malloc.hugetlb=1
 * (for --verbose), else 0. */
int huge_heap_on(void);

#endif
