/* db_write.c - runs of the persistent index: add, remove, commit.
 *
 * A run is one LMDB write transaction, begun by the first change and
 * committed by nd_db_commit(): all of a run or nothing reaches the file,
 * whether the run is 10 documents or 10 million. LMDB keeps at most about
 * 512 MiB of a transaction's dirty pages in memory and writes the rest
 * (spills) to free space in the file, which the committed state does not
 * reference; a run that dies leaves those pages as free space that the next
 * run reuses. So a big run costs disk, not memory, and a killed run can
 * leave the file larger but the index exactly as it was.
 *
 * Document records go to `docs` as they come (numbers increase, so each is
 * appended: MDB_APPEND, full pages), ids to `ids`. Band entries do not:
 * their keys are hashes, and putting them into the `bands` B-tree one by
 * one touches a random leaf page each time, so a run of N documents over a
 * tree of L leaves copies up to min(16 N, L) pages, and once the dirty
 * pages pass LMDB's in-memory limit, spills and copies them again and
 * again. Instead a run buffers its band entries (12 bytes each, and as
 * much again for the sort's scratch: nd_db_config.memory covers both, 1 GiB
 * by default, ~2.8 million documents of 16 bands; the program passes its
 * --memory, a quarter of RAM) and merges them in key order (a stable radix
 * sort) when the buffer is full and at commit: each leaf is then copied
 * once per merge, and into an empty tree (a new index) every entry is
 * appended (MDB_APPEND: every page full).
 *
 * Queries of pending documents (ND_DB_PENDING, used by dedup --update: a
 * document must not match an earlier kept one of the same input) find the
 * buffered entries through a hash index built on the first such query, and
 * the merged ones in the transaction.
 *
 * A containment index files shingle postings instead of band keys
 * (db_contain.h), through the same buffer.
 *
 * Ids are filed under a 64-bit hash (any length, fixed-size keys); the
 * document records hold the ids themselves, so hash collisions are resolved
 * exactly. Removing marks the record (flag) and deletes its id, so the id
 * can come back; its band entries stay until nd_db_compact().
 */
#include "db_internal.h"

#include <assert.h> /* assert (preconditions, debug builds) */
#include <errno.h>  /* ENOMEM */
#include <stdio.h>  /* snprintf */
#include <stdint.h> /* SIZE_MAX */
#include <stdlib.h> /* qsort */
#include <string.h> /* memcmp, memcpy */

#include "alloc.h"
#include "db_contain.h"
#include "hash.h"
#include "sort.h"

static const uint64_t ID_HASH_SEED = 0x6e642d6964730000ULL; /* "nd-ids" */

uint64_t nd_db_id_hash(const char *id, size_t id_len)
{
    return nd_hash64(id, id_len, ID_HASH_SEED);
}

const char *nd_db_id_label(char *buf, size_t size, const char *id, size_t id_len)
{
    size_t n = 0;
    for (size_t i = 0; i < id_len && n + 4 < size; i++) {
        unsigned char c = (unsigned char)id[i];
        buf[n++] = c < 0x20 || c == 0x7F ? '?' : (char)c;
    }
    if (n < id_len && n + 4 <= size) {
        memcpy(buf + n, "...", 3);
        n += 3;
    }
    buf[n] = '\0';
    return buf;
}

int nd_db_check_run_thread(nd_db *db)
{
    if (db->broken)
        return nd_db_fail(db, ND_EINVAL, "%s: the run that was creating the index failed; close the handle", db->path);
    if (db->txn && !pthread_equal(db->txn_thread, pthread_self()))
        return nd_db_fail(db, ND_EINVAL,
                          "%s: the run was begun by another thread (a run is continued and committed by the thread "
                          "that began it)",
                          db->path);
    return ND_OK;
}

static int begin_run(nd_db *db)
{
    if (!(db->flags & ND_DB_WRITE))
        return nd_db_fail(db, ND_EINVAL, "%s: the index was opened for reading only", db->path);
    if (db->txn || db->broken)
        return nd_db_check_run_thread(db);
    int rc = mdb_txn_begin(db->env, NULL, 0, &db->txn);
    if (rc) {
        db->txn = NULL;
        return nd_db_fail_mdb(db, rc, "cannot begin a write transaction");
    }
    db->txn_thread = pthread_self();
    db->base_doc = db->next_doc;
    return ND_OK;
}

void nd_db_pending_free(pending_bands *p)
{
    nd_free(p->items);
    nd_free(p->slots);
    p->items = NULL;
    p->slots = NULL;
    p->count = p->capacity = 0;
    p->slot_mask = 0;
    p->merged = 0;
}

void nd_db_abandon_run(nd_db *db)
{
    if (db->txn)
        mdb_txn_abort(db->txn);
    db->txn = NULL;
    size_t limit = db->pending.limit;
    nd_db_pending_free(&db->pending);
    db->pending.limit = limit;
    db->next_doc = db->base_doc;
    db->documents = db->committed_documents;
    db->removed = db->committed_removed;
    if (db->uncommitted_creation)
        db->broken = 1; /* its database handles died with the transaction */
}

int nd_db_abandon(nd_db *db)
{
    assert(db);
    if (!(db->flags & ND_DB_WRITE))
        return nd_db_fail(db, ND_EINVAL, "%s: the index was opened for reading only", db->path);
    int rc = nd_db_check_run_thread(db);
    if (rc != ND_OK)
        return rc;
    nd_db_abandon_run(db);
    if (db->broken)
        return nd_db_fail(db, ND_EINVAL, "%s: the run that was creating the index was abandoned; close the handle",
                          db->path);
    return ND_OK;
}

/* A write failed: the run is abandoned, the index stays as it was. */
static int abandon(nd_db *db, int mdb_rc, const char *what)
{
    char detail[256];
    int status = nd_db_write_error(db, mdb_rc, detail, sizeof detail);
    nd_db_abandon_run(db);
    return nd_db_fail(db, status, "%s: %s: %s; the run was abandoned (the index is as it was before it)", db->path,
                      what, detail);
}

/* A call failed after it began writing: whatever the cause, the run is
 * abandoned too (a run must never commit half of a call). */
static int fail_run(nd_db *db, int rc)
{
    if (!db->txn)
        return rc; /* abandoned already */
    char message[sizeof db->message];
    nd_db_error(message, sizeof message, db);
    nd_db_abandon_run(db);
    return nd_db_fail(db, rc, "%s; the run was abandoned (the index is as it was before it)", message);
}

/* ****  Records and ids  **** */

int nd_db_read_record(nd_db *db, MDB_txn *txn, uint32_t doc, db_record *record)
{
    MDB_val key = {sizeof doc, &doc}, val;
    int rc = mdb_get(txn, db->docs, &key, &val);
    if (rc == MDB_NOTFOUND)
        return nd_db_fail(db, ND_EFORMAT, "%s: corrupt index (document %u is listed but has no record)", db->path,
                          (unsigned)doc);
    if (rc)
        return nd_db_fail_mdb(db, rc, "reading a document");
    if (nd_db_record_parse(record, val.mv_data, val.mv_size) != 0)
        return nd_db_fail(db, ND_EFORMAT, "%s: corrupt index (the record of document %u is malformed)", db->path,
                          (unsigned)doc);
    return ND_OK;
}

int nd_db_find_id(nd_db *db, MDB_txn *txn, const char *id, size_t id_len, uint32_t *doc, int *found)
{
    uint64_t hash = nd_db_id_hash(id, id_len);
    MDB_val key = {sizeof hash, &hash}, val;
    MDB_cursor *cur;
    *found = 0;
    int rc = mdb_cursor_open(txn, db->ids, &cur);
    if (rc)
        return nd_db_fail_mdb(db, rc, "reading ids");
    int status = ND_OK;
    rc = mdb_cursor_get(cur, &key, &val, MDB_SET_KEY);
    while (rc == 0) {
        db_record r;
        uint32_t d = db_doc_at(val.mv_data);
        status = nd_db_read_record(db, txn, d, &r);
        if (status != ND_OK)
            break;
        if (r.id_len == id_len && (id_len == 0 || memcmp(r.id, id, id_len) == 0)) {
            *doc = d;
            *found = 1;
            break;
        }
        rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT_DUP);
    }
    mdb_cursor_close(cur);
    if (status == ND_OK && rc && rc != MDB_NOTFOUND)
        status = nd_db_fail_mdb(db, rc, "reading ids");
    return status;
}

/* Mark document `doc` (whose id is `id`) removed and forget its id. Returns
 * 0 or an LMDB code. */
static int mark_removed(nd_db *db, uint32_t doc, const char *id, size_t id_len, unsigned char **buf, size_t *cap)
{
    MDB_val key = {sizeof doc, &doc}, val;
    int rc = mdb_get(db->txn, db->docs, &key, &val);
    if (rc)
        return rc;
    if (nd_grow((void **)buf, cap, val.mv_size, 1) != 0)
        return ENOMEM;
    memcpy(*buf, val.mv_data, val.mv_size);
    (*buf)[0] |= DB_RECORD_REMOVED;
    MDB_val marked = {val.mv_size, *buf};
    rc = mdb_put(db->txn, db->docs, &key, &marked, 0);
    if (rc)
        return rc;
    uint64_t hash = nd_db_id_hash(id, id_len);
    MDB_val id_key = {sizeof hash, &hash}, id_val = {sizeof doc, &doc};
    rc = mdb_del(db->txn, db->ids, &id_key, &id_val);
    if (rc)
        return rc;
    db->documents--;
    db->removed++;
    return 0;
}

/* ****  Buffered band entries  **** */

static void slot_insert(pending_bands *p, size_t index)
{
    uint64_t key = db_entry_key(&p->items[index]);
    size_t i = (size_t)key & p->slot_mask;
    while (p->slots[i])
        i = (i + 1) & p->slot_mask;
    p->slots[i] = (uint32_t)(index + 1);
}

/* (Re)build the hash index with room for `room` entries at load <= 1/2. */
static int rebuild_slots(pending_bands *p, size_t room)
{
    size_t n = 1024;
    while (n < room * 2)
        n *= 2;
    uint32_t *slots = nd_calloc(n, sizeof *slots);
    if (!slots)
        return ND_ENOMEM;
    nd_free(p->slots);
    p->slots = slots;
    p->slot_mask = n - 1;
    for (size_t i = 0; i < p->count; i++)
        slot_insert(p, i);
    return ND_OK;
}

int nd_db_pending_index(nd_db *db)
{
    pending_bands *p = &db->pending;
    if (p->slots)
        return ND_OK;
    if (rebuild_slots(p, p->count + 1) != ND_OK)
        return nd_db_fail(db, ND_ENOMEM, "%s: out of memory indexing the run's band entries", db->path);
    return ND_OK;
}

#define ENTRY_KEY(e) db_entry_key(&(e))
ND_DEFINE_RADIX_SORT(sort_entries, band_entry, ENTRY_KEY, 0, 56)

/* Rewrite the bands database as the committed one's entries merged with
 * the buffered ones (sorted), every page appended full. The committed
 * entries are read through a read transaction (the committed snapshot: the
 * run has not changed bands yet, and its pages stay intact until two
 * commits later); the write transaction's bands are emptied first. Returns
 * 0, an LMDB code, or -1 when the snapshot cannot be read or is not the
 * run's base (then nothing was changed). */
static int rebuild_bands(nd_db *db)
{
    pending_bands *p = &db->pending;
    MDB_txn *old;
    MDB_cursor *from = NULL, *to = NULL;
    int rc = mdb_txn_begin(db->env, NULL, MDB_RDONLY, &old);
    if (rc)
        return -1; /* no reader slot, say: the entries are put instead */
    if (mdb_txn_id(old) + 1 != mdb_txn_id(db->txn)) {
        mdb_txn_abort(old);
        return -1;
    }
    rc = mdb_cursor_open(old, db->bands, &from);
    if (rc == 0)
        rc = mdb_drop(db->txn, db->bands, 0);
    if (rc == 0)
        rc = mdb_cursor_open(db->txn, db->bands, &to);
    if (rc == 0 && db_bucketed(db)) {
        rc = nd_db_buckets_rebuild(from, to, p->items, p->count);
        if (rc == ND_ENOMEM)
            rc = ENOMEM; /* -1 says something else here */
        goto finish;
    }
    MDB_val ok, ov;
    int orc = rc ? MDB_NOTFOUND : mdb_cursor_get(from, &ok, &ov, MDB_FIRST);
    uint64_t last = 0;
    int any = 0;
    size_t i = 0;
    while (rc == 0 && (orc == 0 || i < p->count)) {
        uint64_t k;
        uint32_t doc;
        int take_old = orc == 0;
        if (take_old) {
            memcpy(&k, ok.mv_data, sizeof k);
            if (i < p->count && db_entry_key(&p->items[i]) < k)
                take_old = 0; /* equal keys: the committed documents first (lower numbers) */
        }
        if (take_old) {
            doc = db_doc_at(ov.mv_data);
        } else {
            k = db_entry_key(&p->items[i]);
            doc = p->items[i++].doc;
        }
        MDB_val key = {sizeof k, &k}, val = {sizeof doc, &doc};
        rc = mdb_cursor_put(to, &key, &val, any && k == last ? MDB_APPENDDUP : MDB_APPEND);
        last = k;
        any = 1;
        if (take_old) {
            orc = mdb_cursor_get(from, &ok, &ov, MDB_NEXT);
            if (orc && orc != MDB_NOTFOUND)
                rc = orc;
        }
    }
finish:
    if (to)
        mdb_cursor_close(to);
    if (from)
        mdb_cursor_close(from);
    mdb_txn_abort(old);
    return rc;
}

/* Merge the buffered entries into the bands database, in key order: put
 * one by one into a tree that is small next to them, or rewritten whole
 * (rebuild_bands) when they are at least REBUILD_PER_LEAF per leaf page,
 * since then nearly every leaf is copied anyway (copy-on-write) and puts
 * would split full pages in halves, leaving them about two thirds full. */
enum { REBUILD_PER_LEAF = 2 };

static int merge_pending(nd_db *db)
{
    pending_bands *p = &db->pending;
    if (p->count == 0)
        return ND_OK;
    band_entry *tmp = nd_malloc(p->count * sizeof *tmp);
    if (!tmp)
        return nd_db_fail(db, ND_ENOMEM, "%s: out of memory sorting the run's band entries", db->path);
    sort_entries(p->items, tmp, p->count);
    nd_free(tmp);
    MDB_stat st;
    MDB_cursor *cur;
    int rc = mdb_stat(db->txn, db->bands, &st);
    if (rc == 0)
        rc = mdb_cursor_open(db->txn, db->bands, &cur);
    if (rc)
        return abandon(db, rc, "cannot merge band entries");
    int append = st.ms_entries == 0, done = 0;
    if (!append && !p->merged && p->count >= REBUILD_PER_LEAF * (st.ms_leaf_pages + 1)) {
        mdb_cursor_close(cur);
        rc = rebuild_bands(db);
        if (rc != 0 && rc != -1)
            return abandon(db, rc, "cannot write band entries");
        done = rc == 0;
        rc = done ? 0 : mdb_cursor_open(db->txn, db->bands, &cur); /* -1: not the run's base; put them */
        if (rc)
            return abandon(db, rc, "cannot merge band entries");
    }
    if (!done && db_bucketed(db)) {
        rc = nd_db_buckets_put(cur, p->items, p->count, append);
        if (rc == ND_ENOMEM)
            rc = ENOMEM;
        mdb_cursor_close(cur);
        done = 1;
    }
    for (size_t i = 0; i < p->count && rc == 0 && !done; i++) {
        uint64_t k = db_entry_key(&p->items[i]);
        uint32_t doc = p->items[i].doc;
        MDB_val key = {sizeof k, &k}, val = {sizeof doc, &doc};
        unsigned flags = 0;
        if (append)
            flags = i > 0 && db_entry_key(&p->items[i - 1]) == k ? MDB_APPENDDUP : MDB_APPEND;
        rc = mdb_cursor_put(cur, &key, &val, flags);
    }
    if (!done)
        mdb_cursor_close(cur);
    if (rc)
        return abandon(db, rc, "cannot write band entries");
    p->count = 0;
    nd_free(p->slots);
    p->slots = NULL;
    p->merged = 1;
    return ND_OK;
}

static int push_entry(nd_db *db, uint64_t key, uint32_t doc)
{
    pending_bands *p = &db->pending;
    if (p->count >= p->limit) {
        int rc = merge_pending(db);
        if (rc != ND_OK)
            return rc;
    }
    if (nd_grow((void **)&p->items, &p->capacity, p->count + 1, sizeof *p->items) != 0)
        return nd_db_fail(db, ND_ENOMEM, "%s: out of memory buffering band entries", db->path);
    p->items[p->count] = (band_entry){(uint32_t)(key >> 32), (uint32_t)key, doc};
    p->count++;
    if (p->slots) {
        if (p->count * 2 > p->slot_mask + 1) {
            if (rebuild_slots(p, p->count * 2) != ND_OK)
                return nd_db_fail(db, ND_ENOMEM, "%s: out of memory indexing band entries", db->path);
        } else {
            slot_insert(p, p->count - 1);
        }
    }
    return ND_OK;
}

/* ****  Adding  **** */

typedef struct {
    uint64_t hash;
    size_t index;
    const nd_db_doc *doc;
} id_ref;

static int compare_id_ref(const void *pa, const void *pb)
{
    const id_ref *a = pa, *b = pb;
    if (a->hash != b->hash)
        return a->hash < b->hash ? -1 : 1;
    size_t n = a->doc->id_len < b->doc->id_len ? a->doc->id_len : b->doc->id_len;
    int c = n ? memcmp(a->doc->id, b->doc->id, n) : 0;
    if (c)
        return c;
    if (a->doc->id_len != b->doc->id_len)
        return a->doc->id_len < b->doc->id_len ? -1 : 1;
    return (a->index > b->index) - (a->index < b->index);
}

/* Without ND_DB_REPLACE: fail before writing anything if an id is in the
 * index or twice in docs. */
static int check_new_ids(size_t *failed, nd_db *db, const nd_db_doc *docs, size_t count)
{
    char label[128];
    for (size_t i = 0; i < count; i++) {
        uint32_t doc;
        int found;
        int rc = nd_db_find_id(db, db->txn, docs[i].id, docs[i].id_len, &doc, &found);
        if (rc != ND_OK)
            return rc;
        if (found) {
            *failed = i;
            /* a document of this uncommitted run (an earlier call of it) */
            return nd_db_fail(db, ND_EEXIST,
                              doc >= db->base_doc
                                  ? "%s: id \"%s\" is given twice (an earlier document of this run has it)"
                                  : "%s: id \"%s\" is already in the index",
                              db->path, nd_db_id_label(label, sizeof label, docs[i].id, docs[i].id_len));
        }
    }
    if (count < 2)
        return ND_OK;
    id_ref *refs = nd_malloc(count * sizeof *refs);
    if (!refs)
        return nd_db_fail(db, ND_ENOMEM, "%s: out of memory checking ids", db->path);
    for (size_t i = 0; i < count; i++)
        refs[i] = (id_ref){nd_db_id_hash(docs[i].id, docs[i].id_len), i, &docs[i]};
    qsort(refs, count, sizeof *refs, compare_id_ref);
    int rc = ND_OK;
    size_t first = SIZE_MAX; /* the earliest second occurrence */
    for (size_t i = 1; i < count; i++) {
        const nd_db_doc *a = refs[i - 1].doc, *b = refs[i].doc;
        if (refs[i - 1].hash == refs[i].hash && a->id_len == b->id_len &&
            (a->id_len == 0 || memcmp(a->id, b->id, a->id_len) == 0) && refs[i].index < first)
            first = refs[i].index;
    }
    if (first != SIZE_MAX) {
        *failed = first;
        rc = nd_db_fail(db, ND_EEXIST, "%s: id \"%s\" is given twice", db->path,
                        nd_db_id_label(label, sizeof label, docs[first].id, docs[first].id_len));
    }
    nd_free(refs);
    return rc;
}

int nd_db_add(size_t *failed, nd_db *db, const nd_db_doc *docs, size_t count, unsigned flags)
{
    assert(db && (docs || count == 0));
    for (size_t i = 0; i < count; i++)
        assert((docs[i].id || docs[i].id_len == 0) && (docs[i].count == 0 || (docs[i].ids && docs[i].keys)));
    size_t failed_at = 0;
    int rc = begin_run(db);
    if (rc != ND_OK)
        return rc;
    if (!(flags & ND_DB_REPLACE)) {
        rc = check_new_ids(&failed_at, db, docs, count);
        if (rc == ND_EEXIST && failed)
            *failed = failed_at;
        if (rc != ND_OK)
            return rc;
    }
    unsigned char *buf = NULL, *old = NULL;
    size_t cap = 0, old_cap = 0;
    for (size_t i = 0; i < count && rc == ND_OK; i++) {
        const nd_db_doc *d = &docs[i];
        if (db->next_doc == UINT32_MAX) {
            rc = nd_db_fail(db, ND_EINVAL, "%s: the index has numbered 4294967295 documents, its most", db->path);
            break;
        }
        if (flags & ND_DB_REPLACE) {
            uint32_t doc;
            int found;
            rc = nd_db_find_id(db, db->txn, d->id, d->id_len, &doc, &found);
            if (rc == ND_OK && found) {
                int mrc = mark_removed(db, doc, d->id, d->id_len, &old, &old_cap);
                if (mrc)
                    rc = abandon(db, mrc, "cannot replace a document");
            }
            if (rc != ND_OK)
                break;
        }
        if (nd_grow((void **)&buf, &cap, nd_db_record_bound(d->id_len, d->count), 1) != 0) {
            rc = nd_db_fail(db, ND_ENOMEM, "%s: out of memory", db->path);
            break;
        }
        uint32_t doc = db->next_doc;
        uint64_t hash = nd_db_id_hash(d->id, d->id_len);
        MDB_val key = {sizeof doc, &doc};
        MDB_val val = {nd_db_record_encode(buf, 0, d->weight, d->id, d->id_len, d->ids, d->count), buf};
        MDB_val id_key = {sizeof hash, &hash}, id_val = {sizeof doc, &doc};
        int mrc = mdb_put(db->txn, db->docs, &key, &val, MDB_APPEND);
        if (mrc == 0)
            mrc = mdb_put(db->txn, db->ids, &id_key, &id_val, 0);
        if (mrc) {
            rc = abandon(db, mrc, "cannot add a document");
            break;
        }
        db->next_doc++;
        db->documents++;
        if (db->opts.measure == ND_MEASURE_CONTAINMENT) { /* shingle postings (db_contain.h) */
            size_t prefix = db_contain_prefix(d->count, db->opts.threshold);
            for (size_t k = 0; k < d->count && rc == ND_OK; k++)
                rc = push_entry(db, db_post_key(k < prefix ? POST_PREFIX : POST_REST, d->ids[k]), doc);
        } else if (d->count > 0) {
            for (unsigned j = 0; j < db->opts.bands && rc == ND_OK; j++)
                rc = push_entry(db, db_band_key(j, d->keys[j]), doc);
        }
    }
    nd_free(buf);
    nd_free(old);
    return rc == ND_OK ? ND_OK : fail_run(db, rc);
}

int nd_db_add_texts(size_t *failed, nd_db *db, const char *const *ids, const size_t *id_lens, const char *const *texts,
                    const size_t *lens, size_t count, unsigned flags, unsigned threads)
{
    db_sketched sketched;
    int rc = nd_db_sketch_texts(&sketched, db, texts, lens, count, threads);
    if (rc != ND_OK)
        return rc;
    for (size_t i = 0; i < count; i++) {
        sketched.docs[i].id = ids[i];
        sketched.docs[i].id_len = id_lens[i];
    }
    rc = nd_db_add(failed, db, sketched.docs, count, flags);
    nd_db_sketched_free(&sketched, db);
    return rc;
}

/* ****  Removing  **** */

int nd_db_remove(size_t *removed, nd_db *db, const char *const *ids, const size_t *id_lens, size_t count)
{
    assert(db && ((ids && id_lens) || count == 0));
    char label[128];
    int rc = begin_run(db);
    for (size_t i = 0; i < count && rc == ND_OK; i++) {
        uint32_t doc;
        int found;
        rc = nd_db_find_id(db, db->txn, ids[i], id_lens[i], &doc, &found);
        if (rc == ND_OK && !found)
            rc = nd_db_fail(db, ND_ENOTFOUND, "%s: id \"%s\" is not in the index", db->path,
                            nd_db_id_label(label, sizeof label, ids[i], id_lens[i]));
    }
    if (rc != ND_OK)
        return rc;
    unsigned char *buf = NULL;
    size_t cap = 0, done = 0;
    for (size_t i = 0; i < count && rc == ND_OK; i++) {
        uint32_t doc;
        int found;
        rc = nd_db_find_id(db, db->txn, ids[i], id_lens[i], &doc, &found);
        if (rc != ND_OK || !found)
            continue; /* given twice: removed already */
        int mrc = mark_removed(db, doc, ids[i], id_lens[i], &buf, &cap);
        if (mrc)
            rc = abandon(db, mrc, "cannot remove a document");
        else
            done++;
    }
    nd_free(buf);
    if (rc != ND_OK)
        return fail_run(db, rc);
    if (removed)
        *removed = done;
    return ND_OK;
}

/* ****  Committing  **** */

/* After a run's commit, a second transaction that rewrites the counters
 * (the same values). LMDB reuses the pages a transaction freed only two
 * commits later (the previous snapshot stays whole for readers that
 * began on it), so without it the next run could not reuse what this one
 * freed (a run that adds a tenth of the index copies nearly every band
 * page), and the file would hold the band entries three times over instead
 * of twice. Its pages are synced but not its meta page (MDB_NOMETASYNC:
 * a power loss may undo it, which costs only that reuse, never the index's
 * integrity, as MDB_NOSYNC could: the meta page could reach the disk
 * before the pages it points to); it changes no content, so when it fails
 * the run is still committed. */
static void settle(nd_db *db)
{
    MDB_txn *txn;
    if (mdb_txn_begin(db->env, NULL, MDB_NOMETASYNC, &txn) != 0)
        return;
    if (nd_db_write_counters(db, txn) == ND_OK)
        mdb_txn_commit(txn);
    else
        mdb_txn_abort(txn);
}

int nd_db_commit(nd_db *db)
{
    if (!(db->flags & ND_DB_WRITE))
        return nd_db_fail(db, ND_EINVAL, "%s: the index was opened for reading only", db->path);
    int rc = nd_db_check_run_thread(db);
    if (rc != ND_OK || !db->txn)
        return rc;
    rc = merge_pending(db);
    if (rc == ND_OK)
        rc = nd_db_write_counters(db, db->txn);
    if (rc != ND_OK) {
        if (db->txn)
            nd_db_abandon_run(db);
        return rc;
    }
    int mrc = mdb_txn_commit(db->txn);
    db->txn = NULL; /* freed by LMDB whether the commit worked or not */
    if (mrc)
        return abandon(db, mrc, "cannot commit");
    db->base_doc = db->next_doc;
    db->committed_documents = db->documents;
    db->committed_removed = db->removed;
    db->uncommitted_creation = 0;
    db->pending.merged = 0;
    settle(db);
    return ND_OK;
}
