/* utf8check.h - is a byte string well-formed UTF-8 (utf8check.c). */
#ifndef ND_CLI_UTF8CHECK_H
#define ND_CLI_UTF8CHECK_H

#include <stddef.h> /* size_t */

/* 1 when s[0..n) is well-formed UTF-8 (Unicode Table 3-7), else 0. */
int utf8_well_formed(const char *s, size_t n);

/* The same by one path, for tests: path 1 is the AVX2 lookup method when
 * the CPU has AVX2 (utf8_has_avx2()), else (and for path 0) the portable
 * path (SSE2 blocks of ASCII, two- and three-byte sequences, and one
 * character at a time). */
int utf8_well_formed_path(const char *s, size_t n, int path);
int utf8_has_avx2(void);

#endif
