/* commitsig.h - SIGINT, SIGTERM and SIGHUP held over a commit that has
 * started, or over the renames that put a run's output files in place
 * (commitsig.c). */
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

/* commit_signals_end for a run whose output files were being put in place
 * (--output-dir's files, -o, --removed, --stats: renamed one after
 * another, so a signal among the renames left some in place and others
 * not, with the run reported as ended by the signal). */
void commit_signals_end_outputs(int status);

#endif
