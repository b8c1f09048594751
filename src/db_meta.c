/* db_meta.c - what a persistent index records about how it was made, and
 * the checks that keep its sketches comparable with new ones.
 *
 * The meta database holds text keys and values (readable with mdb_dump):
 * format (ND_DB_FORMAT), created_by (neardup version), profile and
 * profile_version, shingle_kind, shingle_size, char_size, num_perm, bands,
 * rows, threshold (%.17g: read back exactly), seed, unicode_version and
 * icu_version (ICU's, nd_unicode_version()), and the counters next_doc,
 * documents, removed. A containment index (format ND_DB_FORMAT_CONTAINMENT,
 * db_contain.h) records measure = containment and min_shingles too; a
 * Jaccard index records format ND_DB_FORMAT (3: band entries in buckets, db_record.c; format 1, one entry
 * per key, is refused) and no measure. No time stamps: two runs over the same input give the
 * same index.
 *
 * Opening an existing index refuses (ND_EFORMAT, with what to do) another
 * format version, another version of the profile (its tokens may differ),
 * or another Unicode version (ICU's data can normalize differently: the
 * stored shingle ids would silently stop matching new ones); and refuses
 * (ND_EMISMATCH, naming the option and both values) a given option that
 * differs from the index's. Options not given are taken from the index.
 */
#include "db_internal.h"

#include <errno.h>    /* errno */
#include <stdio.h>    /* snprintf */
#include <stdlib.h>   /* strtoull, strtod */
#include <string.h>   /* strlen, strcmp, memcpy */
#include <sys/stat.h> /* stat */

static const char *shingle_kind_name(nd_shingle_kind kind)
{
    return kind == ND_SHINGLE_WORDS ? "words" : kind == ND_SHINGLE_CHARS ? "chars" : "auto";
}

static int put_meta(nd_db *db, MDB_txn *txn, const char *key, const char *value)
{
    MDB_val k = {strlen(key), (void *)(uintptr_t)key};
    MDB_val v = {strlen(value), (void *)(uintptr_t)value};
    int rc = mdb_put(txn, db->meta, &k, &v, 0);
    return rc ? nd_db_fail_mdb(db, rc, "writing metadata") : ND_OK;
}

static int put_meta_u64(nd_db *db, MDB_txn *txn, const char *key, uint64_t value)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)value);
    return put_meta(db, txn, key, buf);
}

/* Read meta value `key` as a NUL-terminated string into buf. ND_EFORMAT
 * (recorded) when it is missing or too long. */
static int get_meta(nd_db *db, MDB_txn *txn, const char *key, char *buf, size_t size)
{
    MDB_val k = {strlen(key), (void *)(uintptr_t)key}, v;
    int rc = mdb_get(txn, db->meta, &k, &v);
    if (rc == MDB_NOTFOUND || (rc == 0 && v.mv_size >= size))
        return nd_db_fail(db, ND_EFORMAT, "%s: not a neardup index of a known format (metadata %s %s)", db->path, key,
                          rc ? "missing" : "too long");
    if (rc)
        return nd_db_fail_mdb(db, rc, "reading metadata");
    memcpy(buf, v.mv_data, v.mv_size);
    buf[v.mv_size] = '\0';
    return ND_OK;
}

static int get_meta_u64(nd_db *db, MDB_txn *txn, const char *key, uint64_t *value)
{
    char buf[32], *end;
    int rc = get_meta(db, txn, key, buf, sizeof buf);
    if (rc != ND_OK)
        return rc;
    errno = 0;
    *value = strtoull(buf, &end, 10);
    if (errno || end == buf || *end)
        return nd_db_fail(db, ND_EFORMAT, "%s: corrupt metadata %s = \"%s\"", db->path, key, buf);
    return ND_OK;
}

int nd_db_write_counters(nd_db *db, MDB_txn *txn)
{
    int rc = put_meta_u64(db, txn, "next_doc", db->next_doc);
    if (rc == ND_OK)
        rc = put_meta_u64(db, txn, "documents", db->documents);
    if (rc == ND_OK)
        rc = put_meta_u64(db, txn, "removed", db->removed);
    return rc;
}

int nd_db_write_meta(nd_db *db, MDB_txn *txn)
{
    const nd_options *o = &db->opts;
    char threshold[40];
    snprintf(threshold, sizeof threshold, "%.17g", o->threshold);
    int contain = o->measure == ND_MEASURE_CONTAINMENT;
    int rc = put_meta_u64(db, txn, "format", contain ? ND_DB_FORMAT_CONTAINMENT : ND_DB_FORMAT);
    if (rc == ND_OK && contain)
        rc = put_meta(db, txn, "measure", "containment");
    if (rc == ND_OK && contain)
        rc = put_meta_u64(db, txn, "min_shingles", o->min_shingles);
    if (rc == ND_OK)
        rc = put_meta(db, txn, "created_by", ND_VERSION);
    if (rc == ND_OK)
        rc = put_meta(db, txn, "profile", nd_profile_name(o->profile));
    if (rc == ND_OK)
        rc = put_meta_u64(db, txn, "profile_version", nd_profile_version(o->profile));
    if (rc == ND_OK)
        rc = put_meta(db, txn, "shingle_kind", shingle_kind_name(o->shingle_kind));
    if (rc == ND_OK)
        rc = put_meta_u64(db, txn, "shingle_size", o->shingle_size);
    if (rc == ND_OK)
        rc = put_meta_u64(db, txn, "char_size", o->char_size);
    if (rc == ND_OK)
        rc = put_meta_u64(db, txn, "num_perm", o->num_perm);
    if (rc == ND_OK)
        rc = put_meta_u64(db, txn, "bands", o->bands);
    if (rc == ND_OK)
        rc = put_meta_u64(db, txn, "rows", o->rows);
    if (rc == ND_OK)
        rc = put_meta(db, txn, "threshold", threshold);
    if (rc == ND_OK)
        rc = put_meta_u64(db, txn, "seed", o->seed);
    if (rc == ND_OK)
        rc = put_meta(db, txn, "unicode_version", nd_unicode_version());
    if (rc == ND_OK)
        rc = put_meta(db, txn, "icu_version", nd_icu_version());
    if (rc == ND_OK)
        rc = nd_db_write_counters(db, txn);
    return rc;
}

/* What the index records about how it was made, for stats and checks. */
typedef struct made_with {
    nd_options opts;
    uint64_t format, profile_version;
    char unicode_version[16], icu_version[16], created_by[16];
} made_with;

static int read_made_with(nd_db *db, MDB_txn *txn, made_with *m)
{
    char buf[64];
    uint64_t v;
    m->opts = (nd_options)ND_OPTIONS_INIT; /* what the index does not record keeps its default */
    int rc = get_meta_u64(db, txn, "format", &m->format);
    if (rc != ND_OK)
        return rc;
    if (m->format != ND_DB_FORMAT && m->format != ND_DB_FORMAT_CONTAINMENT) {
        get_meta(db, txn, "created_by", m->created_by, sizeof m->created_by);
        return nd_db_fail(
            db, ND_EFORMAT,
            "%s: index format %llu (written by neardup %s); this neardup %s reads formats %d and %d only: "
            "rebuild the index from the documents with this neardup (`neardup index add` into a new "
            "directory), or use a neardup that reads format %llu",
            db->path, (unsigned long long)m->format, m->created_by[0] ? m->created_by : "?", ND_VERSION,
            ND_DB_FORMAT_CONTAINMENT, ND_DB_FORMAT, (unsigned long long)m->format);
    }
    nd_options *o = &m->opts;
    if (m->format == ND_DB_FORMAT_CONTAINMENT) {
        if ((rc = get_meta(db, txn, "measure", buf, sizeof buf)) != ND_OK)
            return rc;
        if (strcmp(buf, "containment") != 0)
            return nd_db_fail(db, ND_EFORMAT, "%s: corrupt metadata measure = \"%s\"", db->path, buf);
        if ((rc = get_meta_u64(db, txn, "min_shingles", &v)) != ND_OK)
            return rc;
        if (v < 1 || v > UINT32_MAX)
            return nd_db_fail(db, ND_EFORMAT, "%s: corrupt metadata min_shingles", db->path);
        o->measure = ND_MEASURE_CONTAINMENT;
        o->min_shingles = (unsigned)v;
    }
    if ((rc = get_meta(db, txn, "created_by", m->created_by, sizeof m->created_by)) != ND_OK ||
        (rc = get_meta(db, txn, "unicode_version", m->unicode_version, sizeof m->unicode_version)) != ND_OK ||
        (rc = get_meta(db, txn, "icu_version", m->icu_version, sizeof m->icu_version)) != ND_OK ||
        (rc = get_meta_u64(db, txn, "profile_version", &m->profile_version)) != ND_OK)
        return rc;
    if ((rc = get_meta(db, txn, "profile", buf, sizeof buf)) != ND_OK)
        return rc;
    if (nd_profile_from_name(&o->profile, buf) != ND_OK)
        return nd_db_fail(db, ND_EFORMAT, "%s: the index uses normalization profile \"%s\", unknown to this neardup",
                          db->path, buf);
    if ((rc = get_meta(db, txn, "shingle_kind", buf, sizeof buf)) != ND_OK)
        return rc;
    if (strcmp(buf, "words") == 0)
        o->shingle_kind = ND_SHINGLE_WORDS;
    else if (strcmp(buf, "chars") == 0)
        o->shingle_kind = ND_SHINGLE_CHARS;
    else if (strcmp(buf, "auto") == 0)
        o->shingle_kind = ND_SHINGLE_AUTO;
    else /* (any other word was read as auto: the index queried with other shingles, silently) */
        return nd_db_fail(db, ND_EFORMAT, "%s: corrupt metadata shingle_kind = \"%s\"", db->path, buf);
    struct {
        const char *key;
        unsigned *field;
    } sizes[] = {{"shingle_size", &o->shingle_size},
                 {"char_size", &o->char_size},
                 {"num_perm", &o->num_perm},
                 {"bands", &o->bands},
                 {"rows", &o->rows}};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        if ((rc = get_meta_u64(db, txn, sizes[i].key, &v)) != ND_OK)
            return rc;
        if (v > UINT32_MAX) /* (cut to 32 bits, 4294967424 hashes read as 128) */
            return nd_db_fail(db, ND_EFORMAT, "%s: corrupt metadata %s = %llu", db->path, sizes[i].key,
                              (unsigned long long)v);
        *sizes[i].field = (unsigned)v;
    }
    if ((rc = get_meta_u64(db, txn, "seed", &o->seed)) != ND_OK)
        return rc;
    if ((rc = get_meta(db, txn, "threshold", buf, sizeof buf)) != ND_OK)
        return rc;
    o->threshold = strtod(buf, NULL);
    nd_options check = *o;
    if (nd_options_resolve(&check) != ND_OK || check.bands != o->bands || check.rows != o->rows)
        return nd_db_fail(db, ND_EFORMAT, "%s: corrupt metadata (options out of range)", db->path);
    return ND_OK;
}

static void shingle_label(char *buf, size_t size, const nd_options *o)
{
    if (o->shingle_kind == ND_SHINGLE_WORDS)
        snprintf(buf, size, "words:%u", o->shingle_size);
    else if (o->shingle_kind == ND_SHINGLE_CHARS)
        snprintf(buf, size, "chars:%u", o->char_size);
    else
        snprintf(buf, size, "auto (words:%u, chars:%u)", o->shingle_size, o->char_size);
}

static void measure_label(char *buf, size_t size, const nd_options *o)
{
    if (o->measure == ND_MEASURE_CONTAINMENT)
        snprintf(buf, size, "containment (min_shingles %u)", o->min_shingles);
    else
        snprintf(buf, size, "jaccard");
}

/* Versions the index was made with against this library: a different
 * profile version or Unicode version can change the tokens, and so every
 * sketch, without any option differing. */
static int check_versions(nd_db *db, const made_with *m)
{
    const nd_options *o = &m->opts;
    if (m->profile_version != nd_profile_version(o->profile))
        return nd_db_fail(db, ND_EFORMAT,
                          "%s: the index was made with normalization %s/%llu, this neardup has %s/%u, which can "
                          "make other tokens or shingle ids: rebuild the index with this neardup, or use the "
                          "neardup that made it (%s)",
                          db->path, nd_profile_name(o->profile), (unsigned long long)m->profile_version,
                          nd_profile_name(o->profile), nd_profile_version(o->profile), m->created_by);
    if (strcmp(m->unicode_version, nd_unicode_version()) != 0)
        return nd_db_fail(db, ND_EFORMAT,
                          "%s: the index was made with Unicode %s (ICU %s), this neardup uses Unicode %s (ICU %s), "
                          "which can normalize differently: rebuild the index with this neardup, or use one built "
                          "with ICU %s",
                          db->path, m->unicode_version, m->icu_version, nd_unicode_version(), nd_icu_version(),
                          m->icu_version);
    return ND_OK;
}

/* Options the caller gave against the index's. */
static int check_given(nd_db *db, const made_with *m, const nd_db_config *config)
{
    const nd_options *have = &m->opts;
    nd_options want = config->options;
    unsigned given = config->given;
    char a[64], b[64];
    const char *name = NULL;
    if ((given & ND_OPT_PROFILE) && want.profile != have->profile) {
        name = "normalize (profile)";
        snprintf(a, sizeof a, "%s", nd_profile_name(have->profile));
        snprintf(b, sizeof b, "%s", nd_profile_name(want.profile) ? nd_profile_name(want.profile) : "?");
    } else if (given & ND_OPT_SHINGLE) {
        shingle_label(a, sizeof a, have);
        shingle_label(b, sizeof b, &want);
        if (strcmp(a, b) != 0)
            name = "shingle";
    }
    if (!name && (given & ND_OPT_NUM_PERM) && want.num_perm != have->num_perm) {
        name = "num_perm";
        snprintf(a, sizeof a, "%u", have->num_perm);
        snprintf(b, sizeof b, "%u", want.num_perm);
    }
    if (!name && (given & ND_OPT_BANDS)) {
        if (want.bands == 0 && want.rows == 0) {
            want.num_perm = have->num_perm; /* chosen as the index's were */
            nd_options_resolve(&want);
        }
        if (want.bands != have->bands || want.rows != have->rows) {
            name = "bands x rows";
            snprintf(a, sizeof a, "%u x %u", have->bands, have->rows);
            snprintf(b, sizeof b, "%u x %u", want.bands, want.rows);
        }
    }
    if (!name && (given & ND_OPT_THRESHOLD) && want.threshold != have->threshold) {
        name = "threshold";
        /* the shortest digits that tell the two apart ("made with 0.8,
         * given 0.8" for 0.8000001 told nothing) */
        for (int digits = 6; digits <= 17; digits++) {
            snprintf(a, sizeof a, "%.*g", digits, have->threshold);
            snprintf(b, sizeof b, "%.*g", digits, want.threshold);
            if (strcmp(a, b) != 0)
                break;
        }
    }
    if (!name && (given & ND_OPT_MEASURE) && want.measure != have->measure) {
        name = "measure";
        measure_label(a, sizeof a, have);
        measure_label(b, sizeof b, &want);
    }
    /* apart from the measure: --min-shingles alone was taken for a
     * --measure jaccard never given, and its own value refused */
    if (!name && (given & ND_OPT_MIN_SHINGLES) && want.min_shingles != have->min_shingles) {
        name = "min_shingles";
        snprintf(a, sizeof a, have->measure == ND_MEASURE_CONTAINMENT ? "%u" : "%u (unused: the measure is jaccard)",
                 have->min_shingles);
        snprintf(b, sizeof b, "%u", want.min_shingles);
    }
    if (!name && (given & ND_OPT_SEED) && want.seed != have->seed) {
        name = "seed";
        snprintf(a, sizeof a, "%llu", (unsigned long long)have->seed);
        snprintf(b, sizeof b, "%llu", (unsigned long long)want.seed);
    }
    if (!name)
        return ND_OK;
    return nd_db_fail(db, ND_EMISMATCH,
                      "%s: option %s: the index was made with %s, given %s (an index's options are fixed when it is "
                      "created; leave the option out to use the index's)",
                      db->path, name, a, b);
}

int nd_db_check_meta(nd_db *db, MDB_txn *txn, const nd_db_config *config)
{
    made_with m;
    int rc = read_made_with(db, txn, &m);
    if (rc == ND_OK)
        rc = check_versions(db, &m);
    if (rc == ND_OK)
        rc = check_given(db, &m, config);
    if (rc == ND_OK)
        db->opts = m.opts;
    return rc;
}

int nd_db_read_counters(nd_db *db, MDB_txn *txn, uint64_t *next_doc, uint64_t *documents, uint64_t *removed)
{
    int rc = get_meta_u64(db, txn, "next_doc", next_doc);
    if (rc == ND_OK)
        rc = get_meta_u64(db, txn, "documents", documents);
    if (rc == ND_OK)
        rc = get_meta_u64(db, txn, "removed", removed);
    if (rc == ND_OK && *next_doc > UINT32_MAX)
        rc = nd_db_fail(db, ND_EFORMAT, "%s: corrupt metadata (next_doc)", db->path);
    return rc;
}

/* ****  Stats  **** */

int nd_db_stats_get(nd_db_stats *out, nd_db *db)
{
    nd_db_stats s;
    memset(&s, 0, sizeof s);
    if (db->uncommitted_creation) {
        s.options = db->opts; /* nothing committed yet */
        s.format_version = db->opts.measure == ND_MEASURE_CONTAINMENT ? ND_DB_FORMAT_CONTAINMENT : ND_DB_FORMAT;
        s.profile_version = nd_profile_version(db->opts.profile);
        snprintf(s.unicode_version, sizeof s.unicode_version, "%s", nd_unicode_version());
        snprintf(s.icu_version, sizeof s.icu_version, "%s", nd_icu_version());
        snprintf(s.created_by, sizeof s.created_by, "%s", ND_VERSION);
    } else {
        MDB_txn *txn;
        made_with m;
        MDB_stat bands;
        int rc = nd_db_begin_read(db, &txn);
        if (rc != ND_OK)
            return rc;
        rc = read_made_with(db, txn, &m);
        if (rc == ND_OK)
            rc = get_meta_u64(db, txn, "documents", &s.documents);
        if (rc == ND_OK)
            rc = get_meta_u64(db, txn, "removed", &s.removed);
        int mrc = rc == ND_OK ? mdb_stat(txn, db->bands, &bands) : 0;
        s.band_entries = bands.ms_entries;
        if (rc == ND_OK && mrc == 0 && db_bucketed(db)) /* a Jaccard index's entries are counted in its buckets */
            mrc = nd_db_buckets_count(txn, db->bands, &s.band_entries);
        mdb_txn_abort(txn);
        if (mrc)
            rc = nd_db_fail_mdb(db, mrc, "reading statistics");
        if (rc != ND_OK)
            return rc;
        s.options = m.opts;
        s.format_version = (unsigned)m.format;
        s.profile_version = (unsigned)m.profile_version;
        memcpy(s.unicode_version, m.unicode_version, sizeof s.unicode_version);
        memcpy(s.icu_version, m.icu_version, sizeof s.icu_version);
        memcpy(s.created_by, m.created_by, sizeof s.created_by);
    }
    MDB_envinfo info;
    MDB_stat env;
    mdb_env_info(db->env, &info);
    mdb_env_stat(db->env, &env);
    s.bytes_used = ((uint64_t)info.me_last_pgno + 1) * env.ms_psize;
    char path[DB_PATH_MAX];
    struct stat st;
    if (nd_db_join(path, sizeof path, db->path, "data.mdb") == 0 && stat(path, &st) == 0)
        s.bytes_on_disk = (uint64_t)st.st_blocks * 512;
    *out = s;
    return ND_OK;
}
