/* utf8check.h - is a byte string well-formed UTF-8, and how one that is
 * not is written where UTF-8 must be (utf8check.c). */
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

/* s[0..n) made well-formed UTF-8 that keeps ill-formed strings apart:
 * each byte of an ill-formed sequence (as ICU's U8_NEXT delimits them)
 * written as \xNN (two capital hex digits), each backslash as two, every
 * well-formed character as it is. Two different strings give two
 * different results; a string that is well-formed UTF-8 to start with
 * is meant to be used as it is (a caller checks utf8_well_formed first),
 * so one of those may equal the result for an ill-formed one only by
 * holding backslashes itself. A NUL-terminated string the caller frees,
 * or NULL when out of memory. */
char *utf8_escape_ill_formed(const char *s, size_t n);

#endif
