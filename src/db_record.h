/* db_record.h - how the persistent index lays out one document and one band
 * key in LMDB (see db_record.c). Internal to the library; no LMDB here, only
 * bytes. */
#ifndef ND_DB_RECORD_H
#define ND_DB_RECORD_H

#include <stddef.h> /* size_t */
#include <stdint.h> /* uint32_t, uint64_t */

/* Record flags. */
#define DB_RECORD_REMOVED 1u

/* A document record, parsed in place: pointers into the stored bytes. */
typedef struct db_record {
    unsigned flags;
    uint64_t weight;
    const char *id;
    size_t id_len;
    size_t count;              /* number of shingle ids */
    unsigned rice_k;           /* Rice parameter of the coded gaps */
    const unsigned char *code; /* the coded gaps */
    size_t code_len;
} db_record;

/* Bytes a record of an id of id_len bytes and `count` shingle ids may take
 * (an upper bound for nd_db_record_encode's output). */
size_t nd_db_record_bound(size_t id_len, size_t count);

/* Write a record into out (nd_db_record_bound bytes); ids sorted and distinct.
 * Returns the bytes written. */
size_t nd_db_record_encode(unsigned char *out, unsigned flags, uint64_t weight, const char *id, size_t id_len,
                           const uint32_t *ids, size_t count);

/* Parse a stored record. Returns 0, or -1 when the bytes are not a valid
 * record (a corrupt index). */
int nd_db_record_parse(db_record *out, const void *data, size_t len);

/* Decode the record's shingle ids into ids[0 .. r->count). Returns 0, or -1
 * when the code is corrupt (ids then holds garbage). */
int nd_db_record_ids(uint32_t *ids, const db_record *r);

/* The band key of band `band` (< 4096) and band hash `key`, as the
 * index buffers, sorts and looks it up: the band number in the top 16 bits,
 * the hash's top 48 bits below (why 48 bits is enough, and how a key is
 * stored, in a bucket: db_record.c). */
static inline uint64_t db_band_key(unsigned band, uint64_t key)
{
    return (uint64_t)band << 48 | key >> 16;
}

/* A band entry (key, document) as a Jaccard index stores it: under the
 * bucket key >> 32 (band number and 16 bits of hash), the value
 * (key's low 32 bits) << 32 | document, an 8-byte integer among the
 * bucket's sorted duplicates. */
static inline uint64_t db_bucket_of(uint64_t key)
{
    return key >> 32;
}

static inline uint64_t db_bucket_value(uint64_t key, uint32_t doc)
{
    return (key & 0xFFFFFFFFu) << 32 | doc;
}

#endif /* ND_DB_RECORD_H */
