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

/* The handlers as they were before commit_signals_begin, and a warning
 * if a signal came meanwhile, saying how the run (exit status `status`)
 * ended. */
void commit_signals_end(int status);

#endif
