/* index_files.c - a spilled index's files, text by text: a text's ids
 * appended to the ids file and read back, a band's key chunk read back.
 *
 * nd_index_spill (index.c) makes the two unlinked files and writes the
 * key chunks whole; everything that reads them, or appends a text's ids
 * (index.c adding a text once spilled, index_refill.c giving a dropped
 * text its ids), comes here: a room below index.c, index_store.c (the
 * store clustering reads) and index_refill.c, which all use it.
 * Offsets are counted in ids (the ids file) and in chunks of ND_KEY_CHUNK
 * keys, `bands` a chunk (the keys file: chunk c at c * bands *
 * ND_KEY_CHUNK keys, band after band).
 */
#include "index_layout.h"

#include <stdio.h>  /* FILE, fileno, fwrite */
#include <unistd.h> /* pread */

/* Read exactly `bytes` bytes at `at` of f; ND_OK or ND_EIO. */
static int read_at(FILE *f, void *into, size_t bytes, uint64_t at)
{
    size_t got = 0;
    while (got < bytes) {
        ssize_t n = pread(fileno(f), (char *)into + got, bytes - got, (off_t)(at + got));
        if (n <= 0)
            return ND_EIO;
        got += (size_t)n;
    }
    return ND_OK;
}

/* (Not inlined, nor cloned by GCC: add_text's NULL ids of a dropped text
 * never reach it. clang has no noclone.) */
#if defined(__clang__)
__attribute__((noinline))
#elif defined(__GNUC__)
__attribute__((noinline, noclone))
#endif
int
nd_index_append_ids(nd_index *index, size_t doc, const uint32_t *ids)
{
    size_t count = index->meta[doc].count;
    if (count > 0 && !ids)
        return ND_EINVAL; /* a dropped text: never given (add_text, nd_index_spill: DROPPED_AT) */
    if (count > 0 && fwrite(ids, sizeof *ids, count, index->ids_file) != count)
        return ND_EIO;
    __atomic_store_n(&index->where[doc].offset, index->ids_written, __ATOMIC_RELAXED); /* text_dropped */
    index->ids_written += count;
    return ND_OK;
}

int nd_index_read_ids(const nd_index *index, size_t doc, uint32_t *into)
{
    return read_at(index->ids_file, into, index->meta[doc].count * sizeof *into, index->where[doc].offset * 4);
}

const uint32_t *nd_index_band_chunk(const nd_index *index, unsigned band, size_t c, uint32_t *buf)
{
    if (index->key_chunks[c])
        return index->key_chunks[c] + (size_t)band * ND_KEY_CHUNK;
    size_t bytes = ND_KEY_CHUNK * sizeof *buf;
    uint64_t at = ((uint64_t)c * index->opts.bands + band) * bytes;
    return read_at(index->keys_file, buf, bytes, at) == ND_OK ? buf : NULL;
}
