/* test_header.c - neardup.h is self-contained and idempotent: included
 * twice, first, with nothing before it, under -std=c11 -pedantic -Werror. */
#include "neardup.h"
#include "neardup.h"

#include "suites.h"

int header_compiles(void)
{
    nd_options opts = ND_OPTIONS_INIT;
    return opts.num_perm == 128 && opts.shingle_size == 5;
}
