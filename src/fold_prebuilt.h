/* fold_prebuilt.h - each profile's BMP tables (fold.c), made at build
 * time by src/gen/gen_fold.c into the build's fold_prebuilt.c.
 *
 * Building them at start-up asked ICU about every BMP code point: about
 * 2.5 ms of a process's time, and 1.2 MB of fresh memory (a 2 MiB huge
 * page, 1.9 ms more on a VM slow to back fresh memory), against a
 * one-document scan's 11 ms. Prebuilt, they are bytes of the library's
 * read-only data, read from the page cache where they are touched. They
 * are ICU's answers, so they are used only when the process runs the ICU
 * and Unicode versions the generator ran (else built as before); the
 * tests compare them with a build at run time (tests/test_fastpath.c). */
#ifndef ND_FOLD_PREBUILT_H
#define ND_FOLD_PREBUILT_H
#include <stddef.h> /* size_t */
#include <stdint.h> /* uint8_t */

typedef struct nd_fold_prebuilt {
    const unsigned char *block; /* laid out as nd_fold_tables_build's block */
    size_t size;
    unsigned kept_lo, kept_hi;
} nd_fold_prebuilt;

/* By profile (ND_PROFILE_DEFAULT, ND_PROFILE_AGGRESSIVE). */
extern const nd_fold_prebuilt nd_fold_prebuilt_tables[2];
/* u_getVersion and u_getUnicodeVersion where they were made. */
extern const uint8_t nd_fold_prebuilt_icu[4], nd_fold_prebuilt_unicode[4];
#endif /* ND_FOLD_PREBUILT_H */
