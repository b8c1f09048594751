/* dbdamage.h - a damaged index's data.mdb reported as such (exit 1), not
 * as a crash (dbdamage.c). */
#ifndef ND_CLI_DBDAMAGE_H
#define ND_CLI_DBDAMAGE_H

/* From here on, a SIGBUS, a SIGSEGV in LMDB's code or an LMDB assertion
 * prints that the index is damaged and exits 1. Once per process. */
void db_damage_watch(void);

#endif /* ND_CLI_DBDAMAGE_H */
