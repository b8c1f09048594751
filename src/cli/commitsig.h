/* commitsig.h - SIGINT, SIGTERM and SIGHUP held over a commit that has
 * started (commitsig.c). */
#ifndef ND_CLI_COMMITSIG_H
#define ND_CLI_COMMITSIG_H

/* From here until commit_signals_end, SIGINT, SIGTERM and SIGHUP are noted
 * rather than ending the run: a commit that has started cannot be taken
 * back, so a run ended then reported nothing though its documents were in
 * the index. One the program started with ignored stays ignored. Call on
 * one thread, not nested. */
void commit_signals_begin(void);

/* The handlers as they were before commit_signals_begin; returns the
 * first signal noted since (0: none). */
int commit_signals_end(void);

/* Say (a warning) that signal `sig` (0: nothing to say) came over a
 * commit and was let finish, the run's exit status being `status`. */
void commit_signals_report(int sig, int status);

#endif
