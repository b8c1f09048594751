/* outfile.h - output files the run writes besides stdout (outfile.c):
 * --removed FILE, and --output-dir / --removed-dir (one file per input). */
#ifndef ND_CLI_OUTFILE_H
#define ND_CLI_OUTFILE_H

#include <stddef.h> /* size_t */
#include <stdio.h>  /* FILE */

#include "cli.h"
#include "input.h"

/* Output files and the spool are written through buffers of this size:
 * a gigabyte of records in 1 MiB writes, not 4 KiB ones. */
enum { OUT_BUFFER = 1 << 20 };

/* Give f (just opened, nothing written yet) a buffer of OUT_BUFFER bytes,
 * newly allocated into *buf, to free after f is closed (glibc takes
 * setvbuf's size only with a buffer of the caller's). Without memory, f
 * keeps its own: *buf is NULL. */
void out_buffer(FILE *f, char **buf);

typedef struct outfile {
    FILE *f; /* NULL when not asked for */
    const char *path;
    char *temp;             /* the temporary file beside the output, until renamed; NULL: written in place */
    char *final;            /* the name temp takes (path, or the file a symbolic link names) */
    char *buf;              /* f's buffer (out_buffer), freed once f is closed */
    struct tempfile *noted; /* temp, as noted for removal on a signal (tempfiles.h) */
} outfile;

/* Open `path` for writing (path NULL: nothing asked, o->f stays NULL).
 * A regular file (or a name not taken yet) is written under a temporary
 * name beside it (".NAME.neardup-XXXXXX") and renamed to its name only by
 * outfile_rename() once the run succeeded, so a failed run leaves no output
 * file, or the old one untouched. Anything else (/dev/stdout, a FIFO) is
 * written in place. Returns 0, or -1 (reported). */
int outfile_open(outfile *o, const char *path);
/* Flush and close, checking every write; renames nothing. Returns 0, or
 * -1 (reported). Does nothing for a file not asked for. */
int outfile_close(outfile *o);
/* Give the closed temporary file its name. Returns 0, or -1 (reported). */
int outfile_rename(outfile *o);
/* outfile_close(), then outfile_rename(). */
int outfile_commit(outfile *o);
/* The run failed: close without reporting and remove the temporary file. */
void outfile_abort(outfile *o);

/* Refuse an output file (`option` names it: "--removed") that is one of
 * the inputs (same device and inode; stdin included), before anything is
 * opened for writing. Returns 0, or -1 (reported). path NULL: 0. */
int outfile_check(const char *option, const char *path, const input *in);
/* May --stats replace the file at `path`? 1 when it is not there, empty, not
 * a regular file, or one stats object a run wrote before (version, command,
 * documents_read, ...). Any other file is most likely the input the option took for its argument
 * (`scan --stats docs.jsonl`, the run then reading stdin): replacing it
 * would lose the data. */
int outfile_stats_replaceable(const char *path);
/* Say that --stats will not replace `path` (outfile_stats_replaceable 0). */
void outfile_stats_refused(const char *path);
/* outfile_check() for every output file cfg names (-o, --removed, --stats),
 * and two of them naming one file, and a --stats file that is not a stats
 * file. Returns EXIT_OK or EXIT_USAGE (reported). */
int output_check(const cli_config *cfg, const input *in);

/* One output file per input source in a directory (--output-dir,
 * --removed-dir): source s goes to DIR/<outdir_output_name>. Each file
 * is written under a temporary name in DIR (".NAME.neardup-TAG") and only
 * renamed to its name by outdir_commit(), so a failed run leaves no file
 * that looks complete. Sources come in order; a source with no record
 * still gets its (empty) file. */
typedef struct outdir {
    const char *dir;    /* NULL: not asked for */
    const char *tag;    /* makes the temporary names of this process unique */
    const char **names; /* per source: its file's path (borrowed) */
    size_t count;       /* sources */
    size_t opened;      /* sources [0, opened) have their temporary file */
    FILE *f;            /* the file of source opened - 1, while open */
} outdir;

/* What follows the last '/' of a path. */
const char *outdir_base_name(const char *path);
/* The name DIR/<name> takes for an input: its base name, less a .gz,
 * .zst or .zstd suffix (the output is not compressed). Newly allocated;
 * NULL when out of memory. */
char *outdir_output_name(const char *path);

/* Check --output-dir and --removed-dir against the inputs
 * (names[0..count)): each is a directory, no two inputs have the same
 * output name in it (their outputs would collide), no output is one of
 * the inputs, the two are not one directory, and --stats FILE is none of
 * the files they would get. Returns EXIT_OK or EXIT_USAGE (reported). */
int outdirs_check(const cli_config *cfg, const char *const *names, size_t count);

/* Start: nothing is created yet. */
void outdir_init(outdir *o, const char *dir, const char *tag, const char **names, size_t count);
/* The file to write source `source`'s records to (creating the temporary
 * files of the sources before it that had none). NULL (reported) on
 * failure. */
FILE *outdir_file(outdir *o, size_t source);
/* The temporary path of source `source` (newly allocated, NULL when out of
 * memory): outdir_temp_name of its output name. */
char *outdir_temp_path(const outdir *o, size_t source);
/* DIR/.NAME.neardup-TAG, or DIR/.neardup-HASH-TAG where that name would
 * be longer than a directory takes (newly allocated, NULL when out of
 * memory). */
char *outdir_temp_name(const char *dir, const char *name, const char *tag);
/* The final path of source `source` (newly allocated). */
char *outdir_final_path(const outdir *o, size_t source);
/* Finish writing: create the files still missing, close every file
 * checking its writes. Renames nothing. Returns 0, or -1 (reported). */
int outdir_close(outdir *o);
/* Rename each source's temporary file to its name; sources with
 * skip[s] set (or skip NULL: none) are left alone. Returns 0, or -1
 * (reported). */
int outdir_rename(const outdir *o, const unsigned char *skip);
/* The run failed: close and remove the temporary files. */
void outdir_abort(outdir *o);

/* Where dedup writes: stdout, or --output-dir; --removed FILE, or
 * --removed-dir. */
typedef struct dedup_target {
    FILE *kept;        /* stdout (or -o FILE), unless kept_dir.dir */
    outfile kept_file; /* -o FILE */
    outfile removed_file;
    outdir kept_dir, removed_dir;
    const char **names; /* per source, for the outdirs */
} dedup_target;

/* Open what cfg asks for (-o FILE and --removed FILE are created here, under
 * temporary names; the directories' files as sources come). `tag` makes temporary names unique to this
 * process. Returns 0, or -1 (reported). */
int dedup_target_open(dedup_target *t, const cli_config *cfg, const input *in, const char *tag);
/* The stream for source `source`'s kept records, or NULL (reported). */
FILE *dedup_kept(dedup_target *t, size_t source);
/* The stream for its removed records: *out NULL when none was asked for.
 * Returns 0, or -1 (reported). */
int dedup_removed(FILE **out, dedup_target *t, size_t source);
/* 1 when removed records are written somewhere (--removed), else 0. */
int dedup_writes_removed(const dedup_target *t);
/* Close every file checking its writes (renaming nothing yet). Returns 0,
 * or -1 (reported). */
int dedup_target_close(dedup_target *t);
/* Give the files (-o, --removed, the directories' files) their names (after dedup_target_close(), once
 * the whole run succeeded); sources with skip[s] set are left alone (skip
 * may be NULL). Returns 0, or -1 (reported). */
int dedup_target_rename(dedup_target *t, const unsigned char *skip);
/* Release; after a failure, remove the temporary files. */
void dedup_target_free(dedup_target *t, int failed);

#endif /* ND_CLI_OUTFILE_H */
