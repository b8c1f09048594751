/* gen_fold.c - writes fold_prebuilt.c: each profile's BMP tables as
 * fold.c builds them from ICU (nd_fold_tables_build), with the ICU and
 * Unicode versions they were made with (see fold_prebuilt.h for why).
 *
 * Run by the build (CMakeLists.txt: nd_gen_fold OUT.c), compiled from
 * fold.c itself (with ND_FOLD_GENERATOR, which leaves the prebuilt copy
 * out), so the bytes are those the library would build. Each block is
 * one string literal in octal escapes (a C array of numbers took gcc 2 s
 * a profile, the literal 0.2 s), aligned for its 64-bit bitmaps.
 * Usage: nd_gen_fold OUT.c; exit status 0, or 1 with a message. */
#include <stdio.h>  /* FILE, fopen, fprintf */
#include <stdlib.h> /* EXIT_FAILURE */

#include <unicode/uchar.h>    /* u_getUnicodeVersion */
#include <unicode/uversion.h> /* u_getVersion */

#include "alloc.h"
#include "fold.h"

/* Write profile's block as NAME_block (NAME: nd_profile_name); 0, or -1
 * (reported). */
static int write_block(FILE *out, nd_profile profile, nd_fold_tables *tables, size_t *size)
{
    void *block;
    int rc = nd_fold_tables_build(tables, &block, size, profile);
    if (rc != ND_OK) {
        fprintf(stderr, "nd_gen_fold: %s profile: %s\n", nd_profile_name(profile), nd_strerror(rc));
        return -1;
    }
    fprintf(out, "_Alignas(64) static const unsigned char %s_block[] =\n", nd_profile_name(profile));
    const unsigned char *bytes = block;
    for (size_t i = 0; i < *size; i += 64) {
        fputc('"', out);
        for (size_t k = i; k < i + 64 && k < *size; k++)
            fprintf(out, "\\%03o", bytes[k]);
        fputs("\"\n", out);
    }
    fputs(";\n", out);
    nd_free(block);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: nd_gen_fold OUT.c\n");
        return EXIT_FAILURE;
    }
    FILE *out = fopen(argv[1], "w");
    if (!out) {
        perror(argv[1]);
        return EXIT_FAILURE;
    }
    UVersionInfo icu, unicode;
    u_getVersion(icu);
    u_getUnicodeVersion(unicode);
    fprintf(out, "/* fold_prebuilt.c - made by nd_gen_fold (src/gen/gen_fold.c) at build time; do not edit. */\n");
    fprintf(out, "#include \"fold_prebuilt.h\"\n\n");
    nd_fold_tables tables[2];
    size_t sizes[2];
    for (int p = 0; p < 2; p++) {
        if (write_block(out, (nd_profile)p, &tables[p], &sizes[p]) != 0) {
            fclose(out);
            remove(argv[1]);
            return EXIT_FAILURE;
        }
    }
    fprintf(out, "\nconst nd_fold_prebuilt nd_fold_prebuilt_tables[2] = {\n");
    for (int p = 0; p < 2; p++)
        fprintf(out, "    {%s_block, %zu, %u, %u},\n", nd_profile_name((nd_profile)p), sizes[p], tables[p].kept_lo,
                tables[p].kept_hi);
    fprintf(out, "};\nconst uint8_t nd_fold_prebuilt_icu[4] = {%u, %u, %u, %u};\n", icu[0], icu[1], icu[2], icu[3]);
    fprintf(out, "const uint8_t nd_fold_prebuilt_unicode[4] = {%u, %u, %u, %u};\n", unicode[0], unicode[1], unicode[2],
            unicode[3]);
    int failed = ferror(out); /* a write that failed before the last flush */
    if (fclose(out) != 0 || failed) {
        perror(argv[1]);
        remove(argv[1]);
        return EXIT_FAILURE;
    }
    return 0;
}
