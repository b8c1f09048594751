/* db_bucket.c - a Jaccard index's band entries in buckets (format 3): how
 * a sorted run of entries is written into the `bands` tree, and how the
 * tree is counted and filtered. db_record.c says why buckets; here is how.
 *
 * A bucket is one LMDB entry: key the bucket number (db_bucket_of: band and
 * 16 bits of hash, an 8-byte integer key), value its band entries packed,
 * each db_bucket_value(key, doc) in 8 bytes, big-endian, in increasing
 * order (so by the key's low half, then document). One value per bucket,
 * written whole: LMDB packs such entries into full pages when they are
 * appended (MDB_APPEND), where sorted duplicates (MDB_DUPSORT) grow node by
 * node and leave pages half full when a growing node splits its page (2.2
 * GB instead of 1.45 GB for the 160 million entries of 10 million
 * documents).
 * A bucket larger than half a page (about 250 entries: from about 16
 * million documents on) is stored by LMDB on pages of its own (overflow
 * pages), read as one piece all the same.
 *
 * A run's entries, sorted, are merged bucket by bucket: appended to an
 * empty tree, put over the buckets they change (each rewritten with the
 * old values and the new ones merged), or the tree rewritten whole against
 * the committed snapshot (db_write.c decides which). A batch of queries
 * visits the buckets of its keys in order (nd_db_buckets_lookup) and finds,
 * in each bucket's values, a key's low half where its evenly spread hash
 * bits say it lies (first_at_least).
 */
#include "db_internal.h"

#include <stdint.h> /* UINT32_MAX */

#include "alloc.h"

/* A bucket's values being assembled. */
typedef struct scratch {
    unsigned char *bytes;
    size_t len, capacity;
} scratch;

static int scratch_room(scratch *s, size_t more)
{
    return nd_grow((void **)&s->bytes, &s->capacity, s->len + more, 1);
}

/* Append the values of the sorted entries items[*at ..] of bucket b (*at
 * advanced past them), merged with `old` (a stored bucket's values, or
 * none), to s. */
static int gather(scratch *s, const band_entry *items, size_t count, size_t *at, uint64_t b, const MDB_val *old)
{
    size_t end = *at;
    while (end < count && db_bucket_of(db_entry_key(&items[end])) == b)
        end++;
    size_t old_n = old ? old->mv_size / DB_BUCKET_VALUE : 0;
    if (scratch_room(s, (end - *at + old_n) * DB_BUCKET_VALUE) != 0)
        return ND_ENOMEM;
    const unsigned char *o = old ? old->mv_data : NULL;
    size_t i = *at, k = 0;
    while (i < end || k < old_n) {
        uint64_t next = i < end ? db_bucket_value(db_entry_key(&items[i]), items[i].doc) : 0;
        if (k < old_n && (i == end || db_get_be64(o + k * DB_BUCKET_VALUE) < next)) {
            memcpy(s->bytes + s->len, o + k * DB_BUCKET_VALUE, DB_BUCKET_VALUE);
            k++;
        } else {
            db_put_be64(s->bytes + s->len, next);
            i++;
        }
        s->len += DB_BUCKET_VALUE;
    }
    *at = end;
    return ND_OK;
}

static int put_bucket(MDB_cursor *to, uint64_t b, const scratch *s, unsigned flags)
{
    MDB_val key = {sizeof b, &b}, val = {s->len, s->bytes};
    return mdb_cursor_put(to, &key, &val, flags);
}

/* The result of a merge: ND_ENOMEM as itself, an LMDB code as it is. */
static int done(scratch *s, int rc)
{
    nd_free(s->bytes);
    return rc;
}

int nd_db_buckets_put(MDB_cursor *to, const band_entry *items, size_t count, int append)
{
    scratch s = {NULL, 0, 0};
    int rc = 0;
    for (size_t i = 0; i < count && rc == 0;) {
        uint64_t b = db_bucket_of(db_entry_key(&items[i]));
        MDB_val key = {sizeof b, &b}, old = {0, NULL};
        int found = 0;
        if (!append) {
            rc = mdb_cursor_get(to, &key, &old, MDB_SET_KEY);
            found = rc == 0;
            if (rc == MDB_NOTFOUND)
                rc = 0;
        }
        if (rc != 0)
            break;
        if (found && old.mv_size % DB_BUCKET_VALUE != 0) {
            rc = MDB_CORRUPTED;
            break;
        }
        s.len = 0;
        if (gather(&s, items, count, &i, b, found ? &old : NULL) != ND_OK)
            return done(&s, ND_ENOMEM);
        rc = put_bucket(to, b, &s, append ? MDB_APPEND : 0);
    }
    return done(&s, rc);
}

int nd_db_buckets_rebuild(MDB_cursor *from, MDB_cursor *to, const band_entry *items, size_t count)
{
    scratch s = {NULL, 0, 0};
    MDB_val ok, ov;
    int orc = mdb_cursor_get(from, &ok, &ov, MDB_FIRST), rc = 0;
    size_t i = 0;
    while (rc == 0 && (orc == 0 || i < count)) {
        uint64_t b, ob = 0;
        if (orc == 0)
            memcpy(&ob, ok.mv_data, sizeof ob);
        b = orc != 0 ? db_bucket_of(db_entry_key(&items[i])) : ob;
        if (i < count && db_bucket_of(db_entry_key(&items[i])) < b)
            b = db_bucket_of(db_entry_key(&items[i]));
        int with_old = orc == 0 && ob == b;
        if (with_old && ov.mv_size % DB_BUCKET_VALUE != 0) {
            rc = MDB_CORRUPTED;
            break;
        }
        s.len = 0;
        if (gather(&s, items, count, &i, b, with_old ? &ov : NULL) != ND_OK)
            return done(&s, ND_ENOMEM);
        rc = put_bucket(to, b, &s, MDB_APPEND);
        if (rc == 0 && with_old) {
            orc = mdb_cursor_get(from, &ok, &ov, MDB_NEXT);
            if (orc && orc != MDB_NOTFOUND)
                rc = orc;
        }
    }
    return done(&s, rc);
}

int nd_db_buckets_count(MDB_txn *txn, MDB_dbi dbi, uint64_t *entries)
{
    MDB_cursor *cur;
    *entries = 0;
    int rc = mdb_cursor_open(txn, dbi, &cur);
    if (rc)
        return rc;
    MDB_val k, v;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
        *entries += v.mv_size / DB_BUCKET_VALUE;
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

size_t nd_db_bucket_filter(unsigned char *out, const MDB_val *v, int (*removed)(const void *ctx, uint32_t doc),
                           const void *ctx)
{
    const unsigned char *in = v->mv_data;
    size_t n = v->mv_size / DB_BUCKET_VALUE, kept = 0;
    for (size_t i = 0; i < n; i++) {
        if (removed(ctx, (uint32_t)db_get_be64(in + i * DB_BUCKET_VALUE)))
            continue;
        memcpy(out + kept * DB_BUCKET_VALUE, in + i * DB_BUCKET_VALUE, DB_BUCKET_VALUE);
        kept++;
    }
    return kept * DB_BUCKET_VALUE;
}

/* How many buckets a lookup steps over (MDB_NEXT, on the cursor's page or
 * its neighbour) before it seeks instead (from the root). */
enum { BUCKET_STEPS = 8 };

/* The index of the first of the n values (big-endian, increasing) at
 * `values` that is at least `from`. Their high halves are hash bits, spread
 * evenly: the search starts where `from` would lie among evenly spread
 * values, and moves from there one value at a time (a few values, in one
 * or two cache lines, where a binary search would miss the cache at each
 * of its ~8 steps in a bucket of 150). */
static size_t guess(uint64_t from, size_t n);

static size_t first_at_least(const unsigned char *values, size_t n, uint64_t from)
{
    size_t at = guess(from, n);
    if (at < n && db_get_be64(values + at * DB_BUCKET_VALUE) < from) {
        while (at < n && db_get_be64(values + at * DB_BUCKET_VALUE) < from)
            at++;
        return at;
    }
    while (at > 0 && db_get_be64(values + (at - 1) * DB_BUCKET_VALUE) >= from)
        at--;
    return at;
}

/* A bucket found for the probes [first, end). */
typedef struct located {
    const unsigned char *values; /* in LMDB's page (valid while the transaction lives) */
    size_t n, first, end;
} located;

/* Buckets located ahead of their search, their values prefetched: the
 * search waits for memory (a bucket's values are seldom in the cache), and
 * prefetching several at once overlaps those waits. */
enum { LOOKAHEAD = 16 };

/* Where the first value >= `from` of the n values is likely to be. */
static size_t guess(uint64_t from, size_t n)
{
    return (size_t)(((from >> 32) * (uint64_t)n) >> 32);
}

static int search(const located *l, const db_probe *probes, uint32_t first_doc, uint32_t last_doc,
                  int (*found)(void *ctx, uint32_t doc, uint32_t query), void *ctx)
{
    for (size_t p = l->first; p < l->end; p++) {
        uint64_t from = db_bucket_value(probes[p].key, first_doc), to = db_bucket_value(probes[p].key, last_doc);
        for (size_t x = first_at_least(l->values, l->n, from); x < l->n; x++) {
            uint64_t value = db_get_be64(l->values + x * DB_BUCKET_VALUE);
            if (value > to)
                break;
            int rc = found(ctx, (uint32_t)value, probes[p].query);
            if (rc != ND_OK)
                return rc;
        }
    }
    return 0;
}

int nd_db_buckets_lookup(MDB_cursor *cur, const db_probe *probes, size_t count, uint32_t first_doc, uint32_t last_doc,
                         int (*found)(void *ctx, uint32_t doc, uint32_t query), void *ctx)
{
    uint64_t at = 0; /* the bucket under the cursor, when positioned */
    int positioned = 0, rc = 0, last = 0;
    MDB_val k, v;
    located ahead[LOOKAHEAD];
    size_t i = 0;
    while (i < count && !last) {
        size_t located_count = 0;
        while (i < count && located_count < LOOKAHEAD && !last) {
            uint64_t b = db_bucket_of(probes[i].key);
            size_t end = i + 1;
            while (end < count && db_bucket_of(probes[end].key) == b)
                end++;
            for (unsigned s = 0; positioned && at < b && s < BUCKET_STEPS && rc == 0; s++) {
                rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
                if (rc == 0)
                    memcpy(&at, k.mv_data, sizeof at);
            }
            if (rc == 0 && (!positioned || at < b)) {
                uint64_t seek = b;
                k = (MDB_val){sizeof seek, &seek};
                rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
                if (rc == 0)
                    memcpy(&at, k.mv_data, sizeof at);
                positioned = rc == 0;
            }
            if (rc == MDB_NOTFOUND) {
                rc = 0;
                last = 1; /* no bucket past the last one */
                break;
            }
            if (rc != 0)
                return rc;
            if (at == b) {
                if (v.mv_size % DB_BUCKET_VALUE != 0)
                    return MDB_CORRUPTED;
                located *l = &ahead[located_count++];
                *l = (located){v.mv_data, v.mv_size / DB_BUCKET_VALUE, i, end};
                for (size_t p = i; p < end && l->n > 0; p++) {
                    size_t g = guess(db_bucket_value(probes[p].key, 0), l->n);
                    __builtin_prefetch(l->values + (g < l->n ? g : l->n - 1) * DB_BUCKET_VALUE);
                }
            }
            i = end;
        }
        for (size_t a = 0; a < located_count; a++)
            if ((rc = search(&ahead[a], probes, first_doc, last_doc, found, ctx)) != 0)
                return rc;
    }
    return 0;
}
