/* utf8check.h - is a byte string well-formed UTF-8 (utf8check.c). */
#ifndef ND_CLI_UTF8CHECK_H
#define ND_CLI_UTF8CHECK_H

#include <stddef.h> /* size_t */

/* 1 when s[0..n) is well-formed UTF-8 (Unicode Table 3-7), else 0. */
int utf8_well_formed(const char *s, size_t n);

#endif
