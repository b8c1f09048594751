/* dbdamage.c - a damaged index reported as such, not as a crash.
 *
 * LMDB trusts the pages of the index's data.mdb, which carry no
 * checksums, so a damaged page ends the process one of three ways:
 *   - SIGBUS: a page number past the end of the file, read through the
 *     memory map (a file cut short is caught when the index is opened);
 *   - SIGSEGV in LMDB's code, or in the C library's memcpy or memcmp that
 *     LMDB called: a node offset, size or pointer made of damaged bytes (a
 *     page header overwritten: a read at address 0x190);
 *   - an LMDB assertion ("Assertion 'IS_LEAF(mp)' failed"), then abort().
 * Each becomes "neardup: error: ...: the index's data.mdb is damaged
 * (restore a copy or rebuild the index)" and exit 1, the temporary output
 * files removed first (tempfiles.c), as a failed run leaves none.
 *
 * Which SIGSEGV is LMDB's: the faulting instruction, or one of the few
 * return addresses above it (backtrace(), through the signal frame), is in
 * liblmdb's code. Any other is a bug of this program and goes to the
 * handler before (the default: a core dump; AddressSanitizer's report in a
 * sanitizer build). A bug of this program that makes LMDB itself fault (a
 * handle used after it was closed) would be reported as damage too: a
 * price taken knowingly, LMDB's own faults being far likelier damage than
 * misuse. A signal sent with kill(2) is never taken for damage.
 * Installed when a command opens an index (dbcli_open), so that no signal
 * before that is reported as a damaged index.
 */
#define _GNU_SOURCE /* dl_iterate_phdr, REG_RIP */
#include "dbdamage.h"

#include <execinfo.h> /* backtrace */
#include <link.h>     /* dl_iterate_phdr */
#include <signal.h>   /* sigaction */
#include <stdint.h>   /* uintptr_t */
#include <string.h>   /* strstr, strlen */
#include <ucontext.h> /* ucontext_t */
#include <unistd.h>   /* write, _exit */

#include "cli.h"
#include "tempfiles.h"

/* Where LMDB's code is loaded: [lmdb_code_lo, lmdb_code_hi), or 0, 0 when
 * it was not found (linked statically, or not a shared object by that
 * name): then no SIGSEGV is taken for a damaged index. */
static uintptr_t lmdb_code_lo, lmdb_code_hi;
static struct sigaction segv_before, bus_before;

/* Frames looked at above the faulting one: the handler's own (two or
 * three), the signal frame, then memcpy and LMDB's caller of it. */
enum { FRAMES = 12 };

static int find_lmdb(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    (void)data;
    if (!info->dlpi_name || !strstr(info->dlpi_name, "liblmdb"))
        return 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X)) {
            lmdb_code_lo = info->dlpi_addr + ph->p_vaddr;
            lmdb_code_hi = lmdb_code_lo + ph->p_memsz;
            return 1;
        }
    }
    return 0;
}

/* write(2) of a NUL-terminated string: all a signal handler may use. */
static void say(const char *s)
{
    ssize_t ignored = write(STDERR_FILENO, s, strlen(s));
    (void)ignored;
}

_Noreturn static void report_damaged(const char *how, const char *detail)
{
    tempfiles_remove_all(); /* no output file left that looks complete */
    say("neardup: error: ");
    say(how);
    if (detail) {
        say(" (");
        say(detail);
        say(")");
    }
    say(": the index's data.mdb is damaged (restore a copy or rebuild the index)\n");
    _exit(EXIT_FAIL);
}

static int in_lmdb(uintptr_t pc)
{
    return pc >= lmdb_code_lo && pc < lmdb_code_hi;
}

/* The faulting instruction's address, or 0 where this file does not know
 * the machine's context layout. */
static uintptr_t fault_pc(const void *context)
{
    const ucontext_t *uc = context;
#if defined(__x86_64__)
    return (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
#elif defined(__aarch64__)
    return (uintptr_t)uc->uc_mcontext.pc;
#else
    (void)uc;
    return 0;
#endif
}

/* Did the fault happen in LMDB's code, or in a function LMDB called? */
static int lmdb_faulted(const void *context)
{
    if (lmdb_code_hi == 0)
        return 0;
    if (in_lmdb(fault_pc(context)))
        return 1;
    void *frames[FRAMES];
    int n = backtrace(frames, FRAMES);
    for (int i = 0; i < n; i++) {
        if (in_lmdb((uintptr_t)frames[i]))
            return 1;
    }
    return 0;
}

/* A signal the kernel raised for a fault, not one sent by kill(2) or
 * raise(3). */
static int from_fault(const siginfo_t *info)
{
    return info->si_code > 0;
}

/* Not a damaged index: the handler before, on the same fault again when
 * this returns, or at once for a signal that was sent. */
static void pass_on(int sig, const siginfo_t *info, const struct sigaction *before)
{
    sigaction(sig, before, NULL);
    if (!from_fault(info))
        raise(sig);
}

static void on_sigbus(int sig, siginfo_t *info, void *context)
{
    (void)context;
    if (from_fault(info))
        report_damaged("a read through a memory map went past the end of its file", NULL);
    pass_on(sig, info, &bus_before);
}

static void on_sigsegv(int sig, siginfo_t *info, void *context)
{
    if (from_fault(info) && lmdb_faulted(context))
        report_damaged("LMDB stopped on a damaged page", "segmentation fault");
    pass_on(sig, info, &segv_before);
}

_Noreturn static void on_lmdb_assert(const char *message)
{
    report_damaged("LMDB found the file inconsistent", message);
}

static void install(int sig, void (*handler)(int, siginfo_t *, void *), struct sigaction *before)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = handler;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK; /* (on an alternate stack where one was set: AddressSanitizer's) */
    sigemptyset(&sa.sa_mask);
    sigaction(sig, &sa, before);
}

void db_damage_watch(void)
{
    static int installed;
    if (installed)
        return;
    installed = 1;
    nd_db_set_damage_handler(on_lmdb_assert);
    dl_iterate_phdr(find_lmdb, NULL);
    void *warm[1];
    (void)backtrace(warm, 1); /* loads the unwinder now: not first in a handler */
    install(SIGBUS, on_sigbus, &bus_before);
    if (lmdb_code_hi != 0)
        install(SIGSEGV, on_sigsegv, &segv_before);
}
