/* commitsig.c - SIGINT, SIGTERM and SIGHUP held over a commit that has
 * started.
 *
 * index add, index remove and dedup --index --update commit their run at
 * the end, in one LMDB transaction: a signal before it leaves the index
 * as it was, which is what the README promises of a run ended by a
 * signal. One that came during the commit or just after it ended the
 * process with nothing said (exit 130), yet the documents were in the
 * index, and adding the file again failed on ids "already in the index".
 * Over the commit and the summary after it, such a signal is only noted
 * (a handler, process-wide, so whichever thread takes it); the run
 * finishes and says that it came (commit_signals_end). The handlers that
 * were there (SIG_DFL, or tempfiles.c's) are put back afterwards.
 *
 * The same holds for the renames that put a run's output files in place
 * (run.c, index_dedup.c, the MPI ranks): one file renamed after another,
 * a signal among them left some outputs in place and the rest removed as
 * temporary files, the run reported as ended by the signal (exit 130)
 * with half its output looking complete (commit_signals_end_outputs).
 */
#include "commitsig.h"

#include <signal.h> /* sigaction, sig_atomic_t */
#include <string.h> /* memset */

#include "cli.h" /* cli_warn, EXIT_OK */

static const int held_signals[] = {SIGINT, SIGTERM, SIGHUP};
enum { HELD = sizeof held_signals / sizeof held_signals[0] };

static volatile sig_atomic_t noted; /* the first signal noted, or 0 */
static struct sigaction before[HELD];
static int replaced[HELD];

static void note(int sig)
{
    if (!noted)
        noted = sig;
}

void commit_signals_begin(void)
{
    noted = 0;
    for (int i = 0; i < HELD; i++) {
        replaced[i] = 0;
        if (sigaction(held_signals[i], NULL, &before[i]) != 0 || before[i].sa_handler == SIG_IGN)
            continue; /* ignored (nohup): stays so */
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = note;
        sigemptyset(&sa.sa_mask);
        replaced[i] = sigaction(held_signals[i], &sa, NULL) == 0;
    }
}

/* The handlers put back; the signal noted meanwhile (0: none). */
static int restore(void)
{
    for (int i = 0; i < HELD; i++) {
        if (replaced[i])
            sigaction(held_signals[i], &before[i], NULL);
        replaced[i] = 0;
    }
    return noted;
}

static const char *signal_name(int sig)
{
    return sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "SIGHUP";
}

void commit_signals_end(int status)
{
    int sig = restore();
    if (!sig)
        return;
    cli_warn("%s came while the run was being committed, and was held until the commit ended: %s", signal_name(sig),
             status == EXIT_OK ? "the run finished, and the index has its documents"
                               : "the run failed, and the index is as it was");
}

void commit_signals_end_outputs(int status)
{
    int sig = restore();
    if (!sig)
        return;
    cli_warn("%s came while the output files were being put in place, and was held until they were: %s",
             signal_name(sig),
             status == EXIT_OK ? "the run finished, and every output file is complete" : "the run failed (see above)");
}
