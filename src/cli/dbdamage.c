/* dbdamage.c - a damaged index reported as such, not as a crash.
 *
 * LMDB trusts the pages of the index's data.mdb, which carry no
 * checksums, so a damaged page ends the process one of three ways:
 *   - SIGBUS: a page number past the end of the file, read through the
 *     memory map (a file cut short is caught when the index is opened);
 *   - SIGSEGV inside LMDB's own code: a node offset or pointer made of
 *     damaged bytes (a page header overwritten: a read at address 0x190);
 *   - an LMDB assertion ("Assertion 'IS_LEAF(mp)' failed"), then abort().
 * Each becomes "neardup: error: ...: the index's data.mdb is damaged
 * (restore a copy or rebuild the index)" and exit 1; output files stay
 * under their temporary names, as after any failure. A SIGSEGV whose
 * faulting instruction is not in LMDB's code is a bug of this program and
 * left to the handler before (the default: a core dump; AddressSanitizer's
 * report in a sanitizer build). Installed when a command opens an index
 * (dbcli_open), so that no signal before that is reported as a damaged
 * index.
 */
#define _GNU_SOURCE /* dl_iterate_phdr, REG_RIP */
#include "dbdamage.h"

#include <link.h>     /* dl_iterate_phdr */
#include <signal.h>   /* sigaction */
#include <stdint.h>   /* uintptr_t */
#include <string.h>   /* strstr, strlen */
#include <ucontext.h> /* ucontext_t */
#include <unistd.h>   /* write, _exit */

#include "cli.h"

/* Where LMDB's code is loaded: [lmdb_code_lo, lmdb_code_hi), or 0, 0 when
 * it was not found (linked statically, or not a shared object by that
 * name): then no SIGSEGV is taken for a damaged index. */
static uintptr_t lmdb_code_lo, lmdb_code_hi;
static struct sigaction segv_before;

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

static void on_sigbus(int sig)
{
    (void)sig;
    report_damaged("a read through a memory map went past the end of its file", NULL);
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

static void on_sigsegv(int sig, siginfo_t *info, void *context)
{
    uintptr_t pc = fault_pc(context);
    int sent = info->si_code <= 0; /* kill(2) and the like: no fault to look at */
    if (!sent && pc && pc >= lmdb_code_lo && pc < lmdb_code_hi)
        report_damaged("LMDB stopped on a damaged page", "segmentation fault");
    /* not LMDB's: the handler before, on the same fault again when this
     * returns (or at once, for a signal that was sent) */
    sigaction(sig, &segv_before, NULL);
    if (sent)
        raise(sig);
}

_Noreturn static void on_lmdb_assert(const char *message)
{
    report_damaged("LMDB found the file inconsistent", message);
}

void db_damage_watch(void)
{
    static int installed;
    if (installed)
        return;
    installed = 1;
    signal(SIGBUS, on_sigbus);
    nd_db_set_damage_handler(on_lmdb_assert);
    dl_iterate_phdr(find_lmdb, NULL);
    if (lmdb_code_hi == 0)
        return;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_sigsegv;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, &segv_before);
}
