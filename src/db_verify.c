/* db_verify.c - an index's data.mdb checked page by page before LMDB reads
 * it (ND_DB_VERIFY), so that a damaged page is an error, not a crash.
 *
 * LMDB keeps no checksums and trusts its pages: a page number, a node's
 * offset or a size made of damaged bytes sends its reads past the file's
 * end through the map (SIGBUS), through a wild pointer (SIGSEGV, in LMDB or
 * in the memcpy it calls) or into one of its assertions (abort). The
 * program turns those signals into a message (src/cli/dbdamage.c); a
 * process that embeds the library (the Python module) has no such net, and
 * a signal is no error that the caller can go on from. So, when asked, the
 * committed snapshot is walked here first, and every field LMDB would
 * follow is checked against the bounds it needs:
 *   - the snapshot's meta page: LMDB's magic and data format version (1:
 *     LMDB 0.9), the page size, the last page (inside the file), the flags
 *     of the free list and of the list of databases, which LMDB takes from
 *     there (a free list flagged as sorted duplicates failed LMDB's
 *     assertion 'mx != NULL');
 *   - every tree (the free list, the list of databases, each database, the
 *     sub-databases of sorted duplicates), from its root down: each page
 *     numbered where it lies and of the kind its depth needs (branches
 *     above, leaves at the tree's depth), the bounds of its free space, its
 *     nodes' offsets and key and data sizes inside the page, a branch of
 *     two keys at least (LMDB asserts it; the free list's may have one),
 *     node flags its database's kind allows, keys and duplicates of the
 *     size this library looks them up with and reads them as (LMDB compares
 *     integer keys at the size it is given: a shorter stored key would be
 *     read past), a database record of 48 bytes, a value's overflow pages
 *     inside the file and as many as its first page's header counts, and a
 *     sub-page's nodes inside their node;
 *   - each page used once: a page reached twice (a cycle, or two parents)
 *     is damage, and so is a free-list entry naming a page in use, a page
 *     twice, or one outside the file (a writer would reuse it: live data
 *     overwritten, silently).
 * Not checked: the order of keys, and what values hold (LMDB does not
 * crash on either; a record is checked where it is read: db_record.c,
 * db_bucket.c).
 *
 * The file is read through a read-only map of its own, inside the bounds
 * checked first (a page read through the map past the file's end is a
 * SIGBUS: only a file cut short by another process while this runs could
 * do that, as it could under LMDB's own map), in a read transaction that
 * keeps the snapshot whole. The cost: every page of the snapshot read once,
 * and two bits a page.
 *
 * Always, before LMDB opens the file (nd_db_check_data_file): that it is
 * a regular file (LMDB's open of a FIFO waited for ever), and the page
 * size its meta pages give, which LMDB divides by (a meta page's zeroed
 * was a SIGFPE in mdb_env_open, for the program too: its net catches
 * SIGBUS, SIGSEGV and aborts).
 *
 * The layout read here is LMDB 0.9's (mdb.c: MDB_page, MDB_node, MDB_db,
 * MDB_meta; 64-bit page numbers); a file of another LMDB data version is
 * refused by LMDB at open (MDB_VERSION_MISMATCH), before this runs.
 */
#define _GNU_SOURCE /* pread */

#include "db_internal.h"

#include <errno.h>    /* errno, EINTR */
#include <fcntl.h>    /* open */
#include <stdio.h>    /* snprintf */
#include <string.h>   /* memcpy, strcmp, strerror */
#include <sys/mman.h> /* mmap, munmap */
#include <sys/stat.h> /* fstat */
#include <unistd.h>   /* pread, close */

#include "alloc.h"

/* ****  LMDB 0.9's layout  **** */

enum {
    PAGE_HEADER = 16,    /* MDB_page: pgno (8), pad (2), flags (2), lower and upper (2 + 2) or overflow pages (4) */
    NODE_HEADER = 8,     /* MDB_node: data size or child page (4), flags or the child's top 16 bits (2), key size (2) */
    DB_RECORD_SIZE = 48, /* MDB_db: pad (4), flags (2), depth (2), three page counts, entries, root (8 each) */
    /* MDB_meta, after the page header: magic (4), version (4), address (8),
     * map size (8), the free list's MDB_db and the main database's, the
     * last page (8), the transaction (8) */
    META_DBS = 24,
    META_LAST_PAGE = 120,
    META_TXNID = 128,
    MAX_DEPTH = 32, /* LMDB's cursor stack */
    RETRY = 1       /* verify_snapshot: a writer overwrote the snapshot's meta page */
};

#define LMDB_MAGIC 0xBEEFC0DEu
#define LMDB_DATA_VERSION 1u
#define NO_PAGE UINT64_MAX /* P_INVALID: an empty tree */

/* page flags */
#define P_BRANCH 0x01u
#define P_LEAF 0x02u
#define P_OVERFLOW 0x04u
#define P_META 0x08u
#define P_LEAF2 0x20u
#define P_SUBP 0x40u
#define P_KIND (P_BRANCH | P_LEAF | P_OVERFLOW | P_META)

/* node flags */
#define F_BIGDATA 0x01u
#define F_SUBDATA 0x02u
#define F_DUPDATA 0x04u

static uint16_t get16(const unsigned char *p)
{
    uint16_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static uint32_t get32(const unsigned char *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static uint64_t get64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* An MDB_db record. */
typedef struct tree {
    uint32_t pad; /* the size of a LEAF2 page's keys */
    uint16_t flags;
    uint16_t depth;
    uint64_t root;
} tree;

static tree tree_at(const unsigned char *p)
{
    return (tree){get32(p), get16(p + 4), get16(p + 6), get64(p + 40)};
}

/* ****  The walk  **** */

/* What a tree holds, for the rules its nodes follow. */
typedef enum { FREE_LIST, DATABASES, DATABASE, DUPLICATES } tree_kind;

typedef struct walk {
    tree_kind kind;
    const char *name; /* for messages */
    unsigned flags;   /* the database's MDB_* flags */
    size_t key_size;  /* integer keys: their size (the first key's, then every key's); 0: not yet known */
    size_t dup_size;  /* integer duplicates: the same */
    size_t leaf2;     /* DUPLICATES in LEAF2 pages: their size */
} walk;

typedef struct verifier {
    nd_db *db;
    int fd;
    size_t psize, max_key;
    uint64_t pages;              /* the snapshot's last page + 1 */
    const unsigned char *map;    /* pages [0, pages) of the file */
    unsigned char *used, *freed; /* a bit per page: in a tree, in the free list */
} verifier;

static int damaged(verifier *v, const walk *w, uint64_t page, const char *what)
{
    return nd_db_fail(v->db, ND_EFORMAT,
                      "%s: the index is damaged: page %llu of data.mdb (%s) %s (restore a copy or rebuild the index)",
                      v->db->path, (unsigned long long)page, w ? w->name : "LMDB's meta page", what);
}

static const unsigned char *page_at(const verifier *v, uint64_t page)
{
    return v->map + page * v->psize;
}

static int bit(const unsigned char *bits, uint64_t i)
{
    return bits[i >> 3] >> (i & 7) & 1;
}

static void set_bit(unsigned char *bits, uint64_t i)
{
    bits[i >> 3] |= (unsigned char)(1u << (i & 7));
}

/* Take pages [first, first + count) for a tree (found on page `from`):
 * inside the file, not the meta pages, not reached before. */
static int claim(verifier *v, const walk *w, uint64_t from, uint64_t first, uint64_t count)
{
    if (first < 2 || first >= v->pages || count > v->pages - first)
        return damaged(v, w, from, "points to a page outside the file");
    for (uint64_t p = first; p < first + count; p++) {
        if (bit(v->used, p))
            return damaged(v, w, from, "points to a page in use already (a cycle, or two parents)");
        set_bit(v->used, p);
    }
    return ND_OK;
}

/* A free-list record (a count, then that many page numbers, 8 bytes each,
 * in `size` bytes) of page `page`. */
static int free_record(verifier *v, const walk *w, uint64_t page, const unsigned char *ids, size_t size)
{
    if (size < 8 || get64(ids) > size / 8 - 1)
        return damaged(v, w, page, "holds a list of free pages longer than its record");
    uint64_t n = get64(ids);
    for (uint64_t i = 1; i <= n; i++) {
        uint64_t p = get64(ids + i * 8);
        if (p < 2 || p >= v->pages)
            return damaged(v, w, page, "lists a free page outside the file");
        if (bit(v->freed, p))
            return damaged(v, w, page, "lists a free page twice");
        set_bit(v->freed, p);
    }
    return ND_OK;
}

/* Where all integer keys (or duplicates) of a tree must have one size, 4
 * or 8 bytes (*expected: 0 until the first is seen). */
static int integer_size(size_t *expected, size_t size)
{
    if (size != 4 && size != 8)
        return -1;
    if (*expected == 0)
        *expected = size;
    return size == *expected ? 0 : -1;
}

/* Is `size` the right size for a key of w's tree? */
static int key_fits(walk *w, size_t size)
{
    if (w->kind == FREE_LIST)
        return size == 8;
    if (w->kind == DUPLICATES)
        return !(w->flags & MDB_INTEGERDUP) || integer_size(&w->dup_size, size) == 0;
    return !(w->flags & MDB_INTEGERKEY) || integer_size(&w->key_size, size) == 0;
}

/* The node flags a tree of w's kind holds: a value on overflow pages
 * (never among sorted duplicates), a database record in the list of
 * databases, duplicates on a sub-page or in a sub-database. */
static int flags_allowed(const walk *w, unsigned flags)
{
    switch (w->kind) {
    case FREE_LIST:
        return flags == 0 || flags == F_BIGDATA;
    case DATABASES:
        return flags == 0 || flags == F_BIGDATA || flags == F_SUBDATA;
    case DATABASE:
        if (w->flags & MDB_DUPSORT)
            return flags == 0 || flags == F_DUPDATA || flags == (F_DUPDATA | F_SUBDATA);
        return flags == 0 || flags == F_BIGDATA;
    case DUPLICATES:
        return flags == 0;
    }
    return 0;
}

static int visit_tree(verifier *v, walk *w, uint64_t from, const unsigned char *record);

/* A value of `size` bytes on overflow pages from page `first` (its node
 * on page `from`). */
static int overflow_value(verifier *v, walk *w, uint64_t from, uint64_t first, uint64_t size)
{
    if (first < 2 || first >= v->pages)
        return damaged(v, w, from, "points to a page outside the file");
    const unsigned char *p = page_at(v, first);
    uint64_t needed = (PAGE_HEADER - 1 + size) / v->psize + 1, count = get32(p + 12);
    if (get64(p) != first || (get16(p + 10) & P_KIND) != P_OVERFLOW || count < needed)
        return damaged(v, w, first, "is not the overflow page that a value's node points to");
    if (count > v->pages - first)
        return damaged(v, w, first, "counts overflow pages past the end of the file");
    int rc = claim(v, w, from, first, count);
    if (rc == ND_OK && w->kind == FREE_LIST)
        rc = free_record(v, w, first, p + PAGE_HEADER, (size_t)size);
    return rc;
}

/* The sorted duplicates of a key on a sub-page: `size` bytes at p, inside
 * a node of page `page`. */
static int sub_page(verifier *v, walk *w, uint64_t page, const unsigned char *p, size_t size)
{
    static const char bad[] = "has a node of sorted duplicates that is damaged";
    unsigned flags = size >= PAGE_HEADER ? get16(p + 10) : 0;
    size_t lower = size >= PAGE_HEADER ? get16(p + 12) : 0, upper = size >= PAGE_HEADER ? get16(p + 14) : 0;
    int leaf2 = (w->flags & MDB_DUPFIXED) != 0;
    if (size < PAGE_HEADER || (flags & P_KIND) != P_LEAF || !(flags & P_SUBP) || !(flags & P_LEAF2) != !leaf2 ||
        lower < PAGE_HEADER || (lower - PAGE_HEADER) % 2 || upper < lower || upper > size)
        return damaged(v, w, page, bad);
    size_t n = (lower - PAGE_HEADER) / 2;
    walk dups = *w;
    dups.kind = DUPLICATES;
    if (leaf2) { /* packed, of the size in the sub-page's header (LMDB reads them so) */
        size_t ks = get16(p + 8);
        if (ks == 0 || n > (size - PAGE_HEADER) / ks || !key_fits(&dups, ks))
            return damaged(v, w, page, bad);
        w->dup_size = dups.dup_size;
        return ND_OK;
    }
    for (size_t i = 0; i < n; i++) {
        size_t at = get16(p + PAGE_HEADER + 2 * i);
        if (at < PAGE_HEADER || at > size - NODE_HEADER)
            return damaged(v, w, page, bad);
        const unsigned char *node = p + at;
        size_t key_size = get16(node + 6);
        if (get16(node + 4) != 0 || key_size > v->max_key || key_size + get32(node) > size - at - NODE_HEADER ||
            !key_fits(&dups, key_size))
            return damaged(v, w, page, bad);
    }
    w->dup_size = dups.dup_size;
    return ND_OK;
}

/* The walk of the database named by `name` (key_size bytes): the sizes
 * this library looks its keys up with and reads its duplicates as. */
static walk database_walk(const unsigned char *name, size_t name_size, unsigned flags)
{
    char s[8];
    snprintf(s, sizeof s, "%.*s", (int)(name_size < sizeof s - 1 ? name_size : sizeof s - 1), (const char *)name);
    if (name_size == strlen(DB_META) && strcmp(s, DB_META) == 0)
        return (walk){DATABASE, DB_META, flags, 0, 0, 0};
    if (name_size == strlen(DB_DOCS) && strcmp(s, DB_DOCS) == 0)
        return (walk){DATABASE, DB_DOCS, flags, sizeof(uint32_t), 0, 0};
    if (name_size == strlen(DB_IDS) && strcmp(s, DB_IDS) == 0)
        return (walk){DATABASE, DB_IDS, flags, sizeof(uint64_t), sizeof(uint32_t), 0};
    if (name_size == strlen(DB_BANDS) && strcmp(s, DB_BANDS) == 0)
        return (walk){DATABASE, DB_BANDS, flags, sizeof(uint64_t), sizeof(uint32_t), 0};
    return (walk){DATABASE, "a database of another program", flags, 0, 0, 0};
}

/* Node i of leaf page `page`. */
static int leaf_node(verifier *v, walk *w, uint64_t page, const unsigned char *p, size_t i)
{
    size_t at = get16(p + PAGE_HEADER + 2 * i);
    if (at < PAGE_HEADER || at > v->psize - NODE_HEADER)
        return damaged(v, w, page, "has a node outside it");
    const unsigned char *node = p + at;
    size_t data_size = get32(node), key_size = get16(node + 6), room = v->psize - at - NODE_HEADER;
    unsigned flags = get16(node + 4);
    const unsigned char *data = node + NODE_HEADER + key_size;
    if (key_size > v->max_key || key_size > room || ((flags & F_BIGDATA) ? 8 : data_size) > room - key_size)
        return damaged(v, w, page, "has a node larger than the room it has");
    if (!flags_allowed(w, flags))
        return damaged(v, w, page, "has a node of a kind its database cannot hold");
    if (!key_fits(w, key_size))
        return damaged(v, w, page, "has a key of the wrong size");
    if (w->kind == DATABASE && (w->flags & MDB_DUPSORT) && flags == 0 && (w->flags & MDB_INTEGERDUP) &&
        integer_size(&w->dup_size, data_size) != 0) /* a key's only value, as the node's data */
        return damaged(v, w, page, "has a value of the wrong size");
    if (flags & F_BIGDATA)
        return overflow_value(v, w, page, get64(data), data_size);
    if (flags == F_DUPDATA)
        return sub_page(v, w, page, data, data_size);
    if (flags & F_SUBDATA) {
        if (data_size != DB_RECORD_SIZE)
            return damaged(v, w, page, "has a database record of the wrong size");
        walk sub = *w;
        if (w->kind == DATABASES) {
            sub = database_walk(node + NODE_HEADER, key_size, tree_at(data).flags);
        } else { /* sorted duplicates in a tree of their own */
            sub.kind = DUPLICATES;
            sub.leaf2 = (w->flags & MDB_DUPFIXED) ? tree_at(data).pad : 0;
        }
        int rc = visit_tree(v, &sub, page, data);
        if (w->kind == DATABASE)
            w->dup_size = sub.dup_size;
        return rc;
    }
    if (w->kind == FREE_LIST)
        return free_record(v, w, page, data, data_size);
    return ND_OK;
}

/* Page `page` (claimed), at `level` of a tree of `depth` levels. */
static int visit(verifier *v, walk *w, uint64_t page, unsigned level, unsigned depth)
{
    const unsigned char *p = page_at(v, page);
    unsigned flags = get16(p + 10);
    size_t lower = get16(p + 12), upper = get16(p + 14);
    int leaf = level + 1 == depth, rc = ND_OK;
    if (get64(p) != page)
        return damaged(v, w, page, "carries another page's number");
    if ((flags & P_KIND) != (leaf ? P_LEAF : P_BRANCH) || (flags & P_SUBP) || !(flags & P_LEAF2) != !(leaf && w->leaf2))
        return damaged(v, w, page,
                       leaf ? "is not the leaf its tree needs there" : "is not the branch its tree needs there");
    if (lower < PAGE_HEADER || (lower - PAGE_HEADER) % 2 || upper < lower || upper > v->psize)
        return damaged(v, w, page, "has the bounds of its free space out of order");
    size_t n = (lower - PAGE_HEADER) / 2;
    if (flags & P_LEAF2) { /* sorted duplicates of one size, packed (MDB_DUPFIXED), read at the tree's size */
        if (n > (v->psize - PAGE_HEADER) / w->leaf2 || !key_fits(w, w->leaf2))
            return damaged(v, w, page, "holds packed duplicates that do not fit it");
        return ND_OK;
    }
    if (leaf) {
        for (size_t i = 0; i < n && rc == ND_OK; i++)
            rc = leaf_node(v, w, page, p, i);
        return rc;
    }
    if (n < (w->kind == FREE_LIST ? 1u : 2u)) /* LMDB asserts two (the free list's may have one) */
        return damaged(v, w, page, "is a branch with too few children");
    for (size_t i = 0; i < n && rc == ND_OK; i++) {
        size_t at = get16(p + PAGE_HEADER + 2 * i);
        if (at < PAGE_HEADER || at > v->psize - NODE_HEADER)
            return damaged(v, w, page, "has a node outside it");
        const unsigned char *node = p + at;
        size_t key_size = get16(node + 6);
        uint64_t child = get32(node) | (uint64_t)get16(node + 4) << 32;
        if (key_size > v->max_key || key_size > v->psize - at - NODE_HEADER)
            return damaged(v, w, page, "has a node larger than the room it has");
        if (i > 0 && !key_fits(w, key_size)) /* (a branch's first key is never compared) */
            return damaged(v, w, page, "has a key of the wrong size");
        rc = claim(v, w, page, child, 1);
        if (rc == ND_OK)
            rc = visit(v, w, child, level + 1, depth);
    }
    return rc;
}

/* The tree of MDB_db record `record`, found on page `from`. */
static int visit_tree(verifier *v, walk *w, uint64_t from, const unsigned char *record)
{
    tree t = tree_at(record);
    if (t.root == NO_PAGE)
        return t.depth == 0 ? ND_OK : damaged(v, w, from, "holds an empty tree of some depth");
    if (t.depth < 1 || t.depth > MAX_DEPTH)
        return damaged(v, w, from, "holds a tree of an impossible depth");
    if (w->kind == DUPLICATES && (w->flags & MDB_DUPFIXED) && (w->leaf2 == 0 || w->leaf2 > v->max_key))
        return damaged(v, w, from, "holds packed duplicates of an impossible size");
    int rc = claim(v, w, from, t.root, 1);
    return rc == ND_OK ? visit(v, w, t.root, 0, t.depth) : rc;
}

/* Read `size` bytes at byte `offset` of the data file. */
static int read_at(verifier *v, unsigned char *buf, size_t size, uint64_t offset)
{
    size_t done = 0;
    while (done < size) {
        ssize_t n = pread(v->fd, buf + done, size - done, (off_t)(offset + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return nd_db_fail(v->db, ND_EIO, "%s: cannot read data.mdb: %s", v->db->path,
                              n < 0 ? strerror(errno) : "it ended early");
        done += (size_t)n;
    }
    return ND_OK;
}

/* The snapshot of read transaction txn. RETRY when a writer has written
 * over its meta page since it began (the caller begins another). */
static int verify_snapshot(verifier *v, MDB_txn *txn)
{
    unsigned char meta[META_TXNID + 8];
    uint64_t meta_page = mdb_txn_id(txn) & 1; /* transaction t writes meta page t % 2 */
    int rc = read_at(v, meta, sizeof meta, meta_page * v->psize + PAGE_HEADER);
    if (rc != ND_OK)
        return rc;
    if (get64(meta + META_TXNID) != (uint64_t)mdb_txn_id(txn))
        return RETRY;
    if (get32(meta) != LMDB_MAGIC || get32(meta + 4) != LMDB_DATA_VERSION || get32(meta + META_DBS) != v->psize)
        return damaged(v, NULL, meta_page, "is not one of LMDB's 0.9");
    /* the free list's flags (integer keys, and the environment's
     * MDB_FIXEDMAP and MDB_NOSUBDIR) and the list of databases' (none: its
     * keys are names): LMDB takes them from here */
    if ((tree_at(meta + META_DBS).flags & ~(unsigned)(MDB_FIXEDMAP | MDB_NOSUBDIR)) != MDB_INTEGERKEY ||
        tree_at(meta + META_DBS + DB_RECORD_SIZE).flags != 0)
        return damaged(v, NULL, meta_page, "gives LMDB's own trees flags they never have");
    struct stat st;
    v->pages = get64(meta + META_LAST_PAGE) + 1;
    if (fstat(v->fd, &st) != 0)
        return nd_db_fail(v->db, ND_EIO, "%s: cannot read data.mdb: %s", v->db->path, strerror(errno));
    if (v->pages < 2 || v->pages > (uint64_t)st.st_size / v->psize || v->pages > SIZE_MAX / v->psize)
        return damaged(v, NULL, meta_page, "counts more pages than the file has (the file was cut short)");
    size_t bytes = (size_t)(v->pages / 8 + 1);
    v->used = nd_calloc(bytes, 1);
    v->freed = nd_calloc(bytes, 1);
    if (!v->used || !v->freed)
        return nd_db_fail(v->db, ND_ENOMEM, "%s: out of memory checking the index", v->db->path);
    void *map = mmap(NULL, (size_t)(v->pages * v->psize), PROT_READ, MAP_SHARED, v->fd, 0);
    if (map == MAP_FAILED)
        return nd_db_fail(v->db, errno == ENOMEM ? ND_ENOMEM : ND_EIO, "%s: cannot map data.mdb to check it: %s",
                          v->db->path, strerror(errno));
    v->map = map;
    walk databases = {DATABASES, "the list of databases", 0, 0, 0, 0};
    walk free_list = {FREE_LIST, "the list of free pages", MDB_INTEGERKEY, 0, 0, 0};
    rc = visit_tree(v, &databases, meta_page, meta + META_DBS + DB_RECORD_SIZE);
    if (rc == ND_OK)
        rc = visit_tree(v, &free_list, meta_page, meta + META_DBS);
    for (uint64_t p = 2; p < v->pages && rc == ND_OK; p++) {
        if (bit(v->used, p) && bit(v->freed, p))
            rc = damaged(v, &free_list, p, "is listed as free, yet in use");
    }
    munmap(map, (size_t)(v->pages * v->psize));
    v->map = NULL;
    return rc;
}

/* ****  The data file, before LMDB opens it  **** */

static int lmdb_meta(const unsigned char *page)
{
    return get32(page + PAGE_HEADER) == LMDB_MAGIC && get32(page + PAGE_HEADER + 4) == LMDB_DATA_VERSION;
}

static int page_size_ok(uint32_t size)
{
    return size >= 512 && size <= 65536 && (size & (size - 1)) == 0;
}

int nd_db_check_data_file(nd_db *db, const char *dir)
{
    char path[DB_PATH_MAX];
    unsigned char meta[2][PAGE_HEADER + META_TXNID + 8];
    struct stat st;
    if (nd_db_join(path, sizeof path, dir, "data.mdb") != 0 || stat(path, &st) != 0)
        return ND_OK;         /* none yet, or LMDB says why */
    if (!S_ISREG(st.st_mode)) /* (a FIFO: LMDB's open waited for a writer to it, for ever) */
        return nd_db_fail(db, ND_EFORMAT, "%s: not a neardup index (data.mdb is not a regular file)", db->path);
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return ND_OK; /* LMDB says why */
    uint32_t size = 0, other = 0;
    int rc = ND_OK, first = 0, second = 0;
    if (pread(fd, meta[0], sizeof meta[0], 0) == (ssize_t)sizeof meta[0] && lmdb_meta(meta[0])) {
        first = 1;
        size = get32(meta[0] + PAGE_HEADER + META_DBS);
        if (page_size_ok(size) && pread(fd, meta[1], sizeof meta[1], size) == (ssize_t)sizeof meta[1] &&
            lmdb_meta(meta[1])) {
            second = 1;
            other = get32(meta[1] + PAGE_HEADER + META_DBS);
        }
    }
    close(fd);
    if (first && !page_size_ok(size))
        rc = nd_db_fail(db, ND_EFORMAT,
                        "%s: the index is damaged: page 0 of data.mdb (LMDB's meta page) gives a page size of %u "
                        "(restore a copy or rebuild the index)",
                        db->path, (unsigned)size);
    else if (second && other != size)
        rc = nd_db_fail(db, ND_EFORMAT,
                        "%s: the index is damaged: page 1 of data.mdb (LMDB's meta page) gives a page size of %u, "
                        "page 0 %u (restore a copy or rebuild the index)",
                        db->path, (unsigned)other, (unsigned)size);
    return rc;
}

/* ****  The whole snapshot  **** */

int nd_db_verify(nd_db *db)
{
    MDB_stat st;
    verifier v = {db, -1, 0, 0, 0, NULL, NULL, NULL};
    int rc = mdb_env_get_fd(db->env, &v.fd);
    if (rc == 0)
        rc = mdb_env_stat(db->env, &st);
    if (rc)
        return nd_db_fail_mdb(db, rc, "checking the index");
    v.psize = st.ms_psize;
    v.max_key = (size_t)mdb_env_get_maxkeysize(db->env);
    if (!page_size_ok((uint32_t)v.psize)) /* (checked before LMDB opened the file: nd_db_check_data_file) */
        return damaged(&v, NULL, 0, "gives an impossible page size");
    rc = RETRY;
    for (int attempt = 0; attempt < 100 && rc == RETRY; attempt++) {
        MDB_txn *txn;
        rc = nd_db_begin_read(db, &txn);
        if (rc != ND_OK)
            break;
        nd_free(v.used);
        nd_free(v.freed);
        v.used = v.freed = NULL;
        rc = verify_snapshot(&v, txn);
        mdb_txn_abort(txn);
    }
    if (rc == RETRY)
        rc = nd_db_fail(db, ND_EBUSY, "%s: the index changed under every attempt to check it", db->path);
    nd_free(v.used);
    nd_free(v.freed);
    return rc;
}
