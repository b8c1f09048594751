/* _neardup.c - the CPython extension over libneardup: the neardup package's
 * engine (python/neardup/__init__.py adds Cluster, scan's ids and dedup).
 *
 * What it does and why this way:
 * - Texts in, no tokenizing by the caller: str (encoded to UTF-8; lone
 *   surrogates pass through and are read as U+FFFD by the library, as
 *   ill-formed UTF-8 is) or bytes (UTF-8, taken as they are).
 * - The GIL is released whenever the library works. Before that, every text
 *   a call needs is pinned: a reference is held (or a temporary UTF-8 bytes
 *   object made) for each, so another Python thread that empties the list
 *   meanwhile cannot free a text under the library's feet.
 * - scan() goes through nd_batch (the library's threads; results in input
 *   order, so the clusters are the same for any `threads`) in chunks, so
 *   that only one chunk of UTF-8 copies exists at a time, and Ctrl-C is
 *   honoured between chunks.
 * - Deduplicator wraps nd_stream; one Python thread at a time uses it (a
 *   lock per object, taken with the GIL released when contended).
 * - Library status codes become exceptions: ND_EINVAL ValueError, ND_ENOMEM
 *   MemoryError, ND_EIO OSError, ND_EICU RuntimeError. Options are checked
 *   here first, so that a ValueError names the option and what it accepts.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <pythread.h> /* PyThread_allocate_lock */

#include <stdint.h> /* uint32_t */
#include <string.h> /* strcmp, strncmp */
#include <unistd.h> /* getpid, sysconf */

#include <neardup.h>

/* Texts sketched per nd_batch_sketch() call in scan(): large enough to keep
 * every thread busy, small enough that the UTF-8 copies of one chunk are a
 * few megabytes. */
enum { SCAN_CHUNK = 8192 };

/* ****  Errors  **** */

/* Set the Python exception for a library status; returns NULL. */
static PyObject *raise_status(int status, const char *what)
{
    switch (status) {
    case ND_ENOMEM:
        return PyErr_NoMemory();
    case ND_EINVAL:
        PyErr_Format(PyExc_ValueError, "%s: %s", what, nd_strerror(status));
        return NULL;
    case ND_EIO:
        PyErr_Format(PyExc_OSError, "%s: %s", what, nd_strerror(status));
        return NULL;
    default:
        PyErr_Format(PyExc_RuntimeError, "%s: %s", what, nd_strerror(status));
        return NULL;
    }
}

/* ****  Options  **** */

/* The keyword arguments that make an nd_options; each function names the
 * ones it takes and passes the rest of its kwargs here. */
static int option_int(PyObject *value, const char *name, long min, long max, unsigned *out)
{
    if (!PyLong_Check(value) || PyBool_Check(value)) {
        PyErr_Format(PyExc_TypeError, "%s must be an int, not %.100s", name, Py_TYPE(value)->tp_name);
        return -1;
    }
    long v = PyLong_AsLong(value);
    if (v == -1 && PyErr_Occurred()) {
        PyErr_Clear();
        v = max + 1;
    }
    if (v < min || v > max) {
        PyErr_Format(PyExc_ValueError, "%s must be between %ld and %ld (got %R)", name, min, max, value);
        return -1;
    }
    *out = (unsigned)v;
    return 0;
}

static int option_shingle(PyObject *value, nd_options *opts)
{
    const char *spec = PyUnicode_Check(value) ? PyUnicode_AsUTF8(value) : NULL;
    if (!spec) {
        if (!PyErr_Occurred())
            PyErr_Format(PyExc_TypeError, "shingle must be a str, not %.100s", Py_TYPE(value)->tp_name);
        return -1;
    }
    if (strcmp(spec, "auto") == 0) {
        opts->shingle_kind = ND_SHINGLE_AUTO;
        return 0;
    }
    int words = strncmp(spec, "words:", 6) == 0, chars = strncmp(spec, "chars:", 6) == 0;
    char *end = NULL;
    unsigned long size = (words || chars) ? strtoul(spec + 6, &end, 10) : 0;
    if (!(words || chars) || end == spec + 6 || *end != '\0' || size < 1 || size > 64) {
        PyErr_Format(PyExc_ValueError, "shingle must be 'auto', 'words:K' or 'chars:N' with K, N in 1..64 (got %R)",
                     value);
        return -1;
    }
    if (words) {
        opts->shingle_kind = ND_SHINGLE_WORDS;
        opts->shingle_size = (unsigned)size;
    } else {
        opts->shingle_kind = ND_SHINGLE_CHARS;
        opts->char_size = (unsigned)size;
    }
    return 0;
}

static int option_profile(PyObject *value, nd_profile *out)
{
    const char *name = PyUnicode_Check(value) ? PyUnicode_AsUTF8(value) : NULL;
    if (!name) {
        if (!PyErr_Occurred())
            PyErr_Format(PyExc_TypeError, "profile must be a str, not %.100s", Py_TYPE(value)->tp_name);
        return -1;
    }
    if (nd_profile_from_name(out, name) != ND_OK) {
        PyErr_Format(PyExc_ValueError, "profile must be 'default' or 'aggressive' (got %R)", value);
        return -1;
    }
    return 0;
}

/* nd_lsh_choose() searches every (bands, rows) pair with two numerical
 * integrals each: about 12 ms at 128 hashes, which is nothing for a scan
 * but everything for signature() or Deduplicator() called in a loop. The
 * last few choices are remembered (the GIL guards this cache). */
enum { BANDING_CACHE = 8 };
static struct {
    double threshold;
    unsigned num_perm, bands, rows;
} banding_cache[BANDING_CACHE];
static unsigned banding_cache_next;

static void choose_banding(nd_options *opts)
{
    for (unsigned i = 0; i < BANDING_CACHE; i++) {
        if (banding_cache[i].bands != 0 && banding_cache[i].threshold == opts->threshold &&
            banding_cache[i].num_perm == opts->num_perm) {
            opts->bands = banding_cache[i].bands;
            opts->rows = banding_cache[i].rows;
            return;
        }
    }
    unsigned bands, rows;
    if (nd_lsh_choose(&bands, &rows, opts->threshold, opts->num_perm) != ND_OK)
        return; /* nd_options_resolve() reports it */
    banding_cache[banding_cache_next].threshold = opts->threshold;
    banding_cache[banding_cache_next].num_perm = opts->num_perm;
    banding_cache[banding_cache_next].bands = bands;
    banding_cache[banding_cache_next].rows = rows;
    banding_cache_next = (banding_cache_next + 1) % BANDING_CACHE;
    opts->bands = bands;
    opts->rows = rows;
}

/* Which options a caller named (for an existing persistent index, those
 * must agree with its own). */
enum {
    GIVEN_PROFILE = 1u << 0,
    GIVEN_SHINGLE = 1u << 1,
    GIVEN_NUM_PERM = 1u << 2,
    GIVEN_BANDS = 1u << 3,
    GIVEN_THRESHOLD = 1u << 4,
    GIVEN_SEED = 1u << 5
};

/* Fill *opts from kwargs (which may be NULL) and resolve it; *given (may be
 * NULL) receives the GIVEN_* bits of the options named. Keys other than the
 * option names are a TypeError. */
static int parse_options_given(nd_options *opts, unsigned *given, PyObject *kwargs)
{
    *opts = (nd_options)ND_OPTIONS_INIT;
    unsigned named = 0;
    int bands_given = 0, rows_given = 0;
    Py_ssize_t pos = 0;
    PyObject *key, *value;
    while (kwargs && PyDict_Next(kwargs, &pos, &key, &value)) {
        const char *name = PyUnicode_AsUTF8(key);
        if (!name)
            return -1;
        int rc = 0;
        if (strcmp(name, "threshold") == 0) {
            double t = PyFloat_AsDouble(value);
            if (t == -1.0 && PyErr_Occurred())
                return -1;
            if (!(t > 0.0 && t <= 1.0)) {
                PyErr_Format(PyExc_ValueError, "threshold must be in (0, 1] (got %R)", value);
                return -1;
            }
            opts->threshold = t;
            named |= GIVEN_THRESHOLD;
        } else if (strcmp(name, "profile") == 0) {
            rc = option_profile(value, &opts->profile);
            named |= GIVEN_PROFILE;
        } else if (strcmp(name, "shingle") == 0) {
            rc = option_shingle(value, opts);
            named |= GIVEN_SHINGLE;
        } else if (strcmp(name, "num_perm") == 0) {
            rc = option_int(value, "num_perm", 1, 4096, &opts->num_perm);
            named |= GIVEN_NUM_PERM;
        } else if (strcmp(name, "bands") == 0) {
            rc = option_int(value, "bands", 0, 4096, &opts->bands);
            bands_given = opts->bands > 0;
            named |= bands_given ? GIVEN_BANDS : 0;
        } else if (strcmp(name, "rows") == 0) {
            rc = option_int(value, "rows", 0, 4096, &opts->rows);
            rows_given = opts->rows > 0;
        } else if (strcmp(name, "seed") == 0) {
            named |= GIVEN_SEED;
            unsigned long long seed = PyLong_Check(value) ? PyLong_AsUnsignedLongLong(value) : 0;
            if (!PyLong_Check(value) || PyErr_Occurred()) {
                PyErr_Clear();
                PyErr_Format(PyExc_ValueError, "seed must be an int in 0 .. 2**64 - 1 (got %R)", value);
                return -1;
            }
            opts->seed = seed;
        } else {
            PyErr_Format(PyExc_TypeError, "unexpected keyword argument '%s'", name);
            return -1;
        }
        if (rc != 0)
            return -1;
    }
    if (bands_given != rows_given) {
        PyErr_SetString(PyExc_ValueError, "bands and rows must be given both or neither");
        return -1;
    }
    if (bands_given && (uint64_t)opts->bands * opts->rows > opts->num_perm) {
        PyErr_Format(PyExc_ValueError, "bands * rows must not exceed num_perm (%u * %u > %u)", opts->bands, opts->rows,
                     opts->num_perm);
        return -1;
    }
    if (!bands_given)
        choose_banding(opts);
    int status = nd_options_resolve(opts);
    if (status != ND_OK) {
        raise_status(status, "options");
        return -1;
    }
    if (given)
        *given = named;
    return 0;
}

static int parse_options(nd_options *opts, PyObject *kwargs)
{
    return parse_options_given(opts, NULL, kwargs);
}

/* Take the named keyword arguments out of a copy of kwargs: *rest gets
 * the others (a new dict, or NULL when kwargs is NULL). */
static int split_kwargs(PyObject *kwargs, const char *const *names, PyObject **values, PyObject **rest)
{
    *rest = NULL;
    for (size_t i = 0; names[i]; i++)
        values[i] = NULL;
    if (!kwargs)
        return 0;
    *rest = PyDict_Copy(kwargs);
    if (!*rest)
        return -1;
    for (size_t i = 0; names[i]; i++) {
        PyObject *v = PyDict_GetItemString(*rest, names[i]); /* borrowed; kept alive by kwargs */
        if (v) {
            values[i] = v;
            if (PyDict_DelItemString(*rest, names[i]) != 0)
                return -1;
        }
    }
    return 0;
}

static PyObject *profile_label(const nd_options *opts)
{
    return PyUnicode_FromFormat("%s/%u", nd_profile_name(opts->profile), nd_profile_version(opts->profile));
}

/* ****  Texts  **** */

/* A text pinned for use without the GIL: `owner` is a new reference (the
 * str or bytes itself, or a temporary UTF-8 bytes object). */
typedef struct pinned_text {
    PyObject *owner;
    const char *data;
    size_t len;
} pinned_text;

static int pin_text(pinned_text *out, PyObject *obj, Py_ssize_t position)
{
    if (PyUnicode_Check(obj)) {
        if (PyUnicode_IS_ASCII(obj)) { /* its UTF-8 is its own data: nothing to copy */
            Py_ssize_t len;
            out->data = PyUnicode_AsUTF8AndSize(obj, &len);
            if (!out->data)
                return -1;
            Py_INCREF(obj);
            out->owner = obj;
            out->len = (size_t)len;
            return 0;
        }
        /* lone surrogates become ill-formed UTF-8, which the library reads as U+FFFD */
        PyObject *utf8 = PyUnicode_AsEncodedString(obj, "utf-8", "surrogatepass");
        if (!utf8)
            return -1;
        out->owner = utf8;
        out->data = PyBytes_AS_STRING(utf8);
        out->len = (size_t)PyBytes_GET_SIZE(utf8);
        return 0;
    }
    if (PyBytes_Check(obj)) {
        Py_INCREF(obj);
        out->owner = obj;
        out->data = PyBytes_AS_STRING(obj);
        out->len = (size_t)PyBytes_GET_SIZE(obj);
        return 0;
    }
    if (position >= 0)
        PyErr_Format(PyExc_TypeError, "texts[%zd] must be str or bytes, not %.100s", position, Py_TYPE(obj)->tp_name);
    else
        PyErr_Format(PyExc_TypeError, "a text must be str or bytes, not %.100s", Py_TYPE(obj)->tp_name);
    return -1;
}

/* Up to SCAN_CHUNK texts of a sequence, pinned. */
typedef struct text_chunk {
    PyObject *owners[SCAN_CHUNK];
    const char *data[SCAN_CHUNK];
    size_t lens[SCAN_CHUNK];
    size_t count;
} text_chunk;

static void chunk_release(text_chunk *c)
{
    for (size_t i = 0; i < c->count; i++)
        Py_DECREF(c->owners[i]);
    c->count = 0;
}

/* Pin items [first, first + n) of a PySequence_Fast sequence. */
static int chunk_fill(text_chunk *c, PyObject *seq, Py_ssize_t first, Py_ssize_t n)
{
    PyObject **items = PySequence_Fast_ITEMS(seq);
    c->count = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        pinned_text t;
        if (pin_text(&t, items[first + i], first + i) != 0) {
            chunk_release(c);
            return -1;
        }
        c->owners[c->count] = t.owner;
        c->data[c->count] = t.data;
        c->lens[c->count] = t.len;
        c->count++;
    }
    return 0;
}

/* ****  Match  **** */

static PyTypeObject MatchType;

static PyStructSequence_Field match_fields[] = {
    {"id", "the id of the earlier (kept) text this one duplicates"},
    {"jaccard", "the exact Jaccard similarity of the two texts' shingle sets"},
    {NULL, NULL},
};

static PyStructSequence_Desc match_desc = {
    "neardup.Match",
    "Match(id, jaccard): an earlier text that a text duplicates, and their exact Jaccard similarity.",
    match_fields,
    2,
};

static PyObject *new_match(PyObject *id, double jaccard)
{
    PyObject *m = PyStructSequence_New(&MatchType);
    PyObject *j = PyFloat_FromDouble(jaccard);
    if (!m || !j) {
        Py_XDECREF(m);
        Py_XDECREF(j);
        return NULL;
    }
    Py_INCREF(id);
    PyStructSequence_SET_ITEM(m, 0, id);
    PyStructSequence_SET_ITEM(m, 1, j);
    return m;
}

/* ****  scan  **** */

static int parse_threads(PyObject *value, unsigned *threads)
{
    *threads = 0;
    return value ? option_int(value, "threads", 0, 1024, threads) : 0;
}

/* Unit mode: which text each index entry (unit) came from, and its span. */
typedef struct unit_map {
    size_t *text;
    nd_span *span;
    size_t count, capacity;
} unit_map;

static void unit_map_free(unit_map *m)
{
    PyMem_RawFree(m->text);
    PyMem_RawFree(m->span);
}

/* Record the batch's items (texts numbered from `first`); ND_OK or
 * ND_ENOMEM. Runs without the GIL (PyMem_Raw*). */
static int unit_map_add(unit_map *m, const nd_batch *batch, size_t first)
{
    const nd_batch_item *items;
    size_t n = nd_batch_items(&items, batch);
    if (m->count + n > m->capacity) {
        size_t capacity = m->capacity ? m->capacity : 1024;
        while (capacity < m->count + n)
            capacity *= 2;
        size_t *text = PyMem_RawRealloc(m->text, capacity * sizeof *text);
        if (!text)
            return ND_ENOMEM;
        m->text = text;
        nd_span *span = PyMem_RawRealloc(m->span, capacity * sizeof *span);
        if (!span)
            return ND_ENOMEM;
        m->span = span;
        m->capacity = capacity;
    }
    for (size_t i = 0; i < n; i++) {
        m->text[m->count] = first + items[i].text;
        m->span[m->count] = items[i].span;
        m->count++;
    }
    return ND_OK;
}

/* Sketch every text on the batch's threads and add it to the index, chunk
 * by chunk (recording units in `units` when it is not NULL). 0, or -1 with
 * an exception set. */
static int index_texts(nd_index *index, nd_batch *batch, PyObject *seq, unit_map *units)
{
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    text_chunk *chunk = PyMem_Malloc(sizeof *chunk);
    if (!chunk) {
        PyErr_NoMemory();
        return -1;
    }
    chunk->count = 0;
    int status = ND_OK;
    for (Py_ssize_t first = 0; first < n; first += SCAN_CHUNK) {
        if (PyErr_CheckSignals() != 0)
            break;
        Py_ssize_t count = n - first < SCAN_CHUNK ? n - first : SCAN_CHUNK;
        if (chunk_fill(chunk, seq, first, count) != 0)
            break;
        Py_BEGIN_ALLOW_THREADS
            status = nd_batch_sketch(batch, chunk->data, chunk->lens, chunk->count);
            if (status == ND_OK && units)
                status = unit_map_add(units, batch, (size_t)first);
            if (status == ND_OK)
                status = nd_index_add_batch(index, batch);
        Py_END_ALLOW_THREADS
        chunk_release(chunk);
        if (status != ND_OK) {
            raise_status(status, "scan");
            break;
        }
    }
    PyMem_Free(chunk);
    return PyErr_Occurred() ? -1 : 0;
}

/* The clusters as a list of (members, jaccards, spans) tuples: members are
 * text positions; spans is None in document mode, else a list of
 * (start, end) byte spans of the units. */
static PyObject *clusters_to_list(const nd_clusters *clusters, const unit_map *units)
{
    size_t n = nd_clusters_count(clusters);
    PyObject *out = PyList_New((Py_ssize_t)n);
    for (size_t c = 0; out && c < n; c++) {
        const nd_member *m;
        size_t size = nd_clusters_get(&m, clusters, c);
        PyObject *docs = PyList_New((Py_ssize_t)size), *jaccards = PyList_New((Py_ssize_t)size);
        PyObject *spans = units ? PyList_New((Py_ssize_t)size) : (Py_INCREF(Py_None), Py_None);
        PyObject *triple = docs && jaccards && spans ? PyTuple_Pack(3, docs, jaccards, spans) : NULL;
        Py_XDECREF(docs);
        Py_XDECREF(jaccards);
        Py_XDECREF(spans);
        if (!triple) {
            Py_CLEAR(out);
            break;
        }
        PyList_SET_ITEM(out, (Py_ssize_t)c, triple);
        for (size_t k = 0; k < size; k++) {
            size_t text = units ? units->text[m[k].doc] : m[k].doc;
            PyObject *d = PyLong_FromSize_t(text), *j = PyFloat_FromDouble(m[k].jaccard);
            PyObject *sp = units ? Py_BuildValue("(nn)", (Py_ssize_t)units->span[m[k].doc].start,
                                                 (Py_ssize_t)units->span[m[k].doc].end)
                                 : NULL;
            if (!d || !j || (units && !sp)) {
                Py_XDECREF(d);
                Py_XDECREF(j);
                Py_XDECREF(sp);
                Py_CLEAR(out);
                return NULL;
            }
            PyList_SET_ITEM(docs, (Py_ssize_t)k, d);
            PyList_SET_ITEM(jaccards, (Py_ssize_t)k, j);
            if (units)
                PyList_SET_ITEM(spans, (Py_ssize_t)k, sp);
        }
    }
    return out;
}

static int parse_keep(PyObject *value, nd_keep *keep)
{
    *keep = ND_KEEP_FIRST;
    if (!value)
        return 0;
    const char *name = PyUnicode_Check(value) ? PyUnicode_AsUTF8(value) : NULL;
    if (name && strcmp(name, "first") == 0)
        return 0;
    if (name && strcmp(name, "longest") == 0) {
        *keep = ND_KEEP_LONGEST;
        return 0;
    }
    if (!PyErr_Occurred())
        PyErr_Format(PyExc_ValueError, "keep must be 'first' or 'longest' (got %R)", value);
    return -1;
}

static int parse_unit(PyObject *value, nd_unit_kind *unit)
{
    *unit = ND_UNIT_DOCUMENT;
    if (!value)
        return 0;
    const char *name = PyUnicode_Check(value) ? PyUnicode_AsUTF8(value) : NULL;
    if (name && strcmp(name, "document") == 0)
        return 0;
    if (name && strcmp(name, "paragraph") == 0) {
        *unit = ND_UNIT_PARAGRAPH;
        return 0;
    }
    if (name && strcmp(name, "line") == 0) {
        *unit = ND_UNIT_LINE;
        return 0;
    }
    if (!PyErr_Occurred())
        PyErr_Format(PyExc_ValueError, "unit must be 'document', 'paragraph' or 'line' (got %R)", value);
    return -1;
}

PyDoc_STRVAR(scan_doc, "_scan(texts, *, keep='first', threads=0, unit='document', min_tokens=1, **options)\n--\n\n"
                       "Cluster texts (a sequence of str or bytes); returns a list of (members, jaccards,\n"
                       "spans) tuples, members being positions in texts (the survivor first) and spans\n"
                       "None, or with units the (start, end) UTF-8 byte spans of the units.\n"
                       "neardup.scan() is the public face of this.");

static PyObject *py_scan(PyObject *self, PyObject *args, PyObject *kwargs)
{
    (void)self;
    PyObject *texts;
    if (!PyArg_ParseTuple(args, "O:_scan", &texts))
        return NULL;
    static const char *const names[] = {"keep", "threads", "unit", "min_tokens", NULL};
    PyObject *values[4], *rest = NULL, *seq = NULL, *result = NULL;
    nd_options opts;
    nd_keep keep;
    nd_unit_kind unit;
    unsigned threads, min_tokens = 1;
    nd_batch *batch = NULL;
    nd_index *index = NULL;
    nd_clusters *clusters = NULL;
    unit_map units = {NULL, NULL, 0, 0};
    if (split_kwargs(kwargs, names, values, &rest) != 0 || parse_keep(values[0], &keep) != 0 ||
        parse_threads(values[1], &threads) != 0 || parse_unit(values[2], &unit) != 0 ||
        (values[3] && option_int(values[3], "min_tokens", 0, 1 << 30, &min_tokens) != 0) ||
        parse_options(&opts, rest) != 0)
        goto done;
    if (PyUnicode_Check(texts) || PyBytes_Check(texts)) {
        PyErr_SetString(PyExc_TypeError, "texts must be a sequence of texts, not one text");
        goto done;
    }
    seq = PySequence_Fast(texts, "texts must be a sequence (list, tuple) or an iterable of str or bytes");
    if (!seq)
        goto done;
    int status;
    Py_BEGIN_ALLOW_THREADS
        status = nd_batch_new(&batch, &opts, threads);
        if (status == ND_OK)
            status = nd_batch_set_units(batch, unit, min_tokens);
        if (status == ND_OK)
            status = nd_index_new(&index, &opts);
    Py_END_ALLOW_THREADS
    if (status != ND_OK) {
        raise_status(status, "scan");
        goto done;
    }
    nd_index_set_threads(index, nd_batch_threads(batch));
    if (index_texts(index, batch, seq, unit == ND_UNIT_DOCUMENT ? NULL : &units) != 0)
        goto done;
    Py_BEGIN_ALLOW_THREADS
        nd_batch_free(batch);
        batch = NULL;
        status = nd_index_cluster(&clusters, NULL, index, keep);
    Py_END_ALLOW_THREADS
    if (status != ND_OK) {
        raise_status(status, "scan");
        goto done;
    }
    result = clusters_to_list(clusters, unit == ND_UNIT_DOCUMENT ? NULL : &units);
done:
    nd_clusters_free(clusters);
    nd_index_free(index);
    nd_batch_free(batch);
    unit_map_free(&units);
    Py_XDECREF(seq);
    Py_XDECREF(rest);
    return result;
}

/* ****  normalize, signature, explain  **** */

PyDoc_STRVAR(normalize_doc, "normalize(text, profile='default')\n--\n\n"
                            "The tokens neardup compares, in order: `text` (str or bytes) normalized with the\n"
                            "profile ('default' or 'aggressive': ICU NFKC case folding, marks and letter\n"
                            "variants as README describes) and cut into words. What `neardup normalize` prints.\n\n"
                            ">>> neardup.normalize('ＦＵＬＬ-width Straße!')\n"
                            "['full', 'width', 'strasse']\n");

static PyObject *py_normalize(PyObject *self, PyObject *args, PyObject *kwargs)
{
    (void)self;
    static char text_kw[] = "text", profile_kw[] = "profile"; /* (char *: 3.11's PyArg API) */
    static char *keywords[] = {text_kw, profile_kw, NULL};
    PyObject *text, *profile_name = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|O:normalize", keywords, &text, &profile_name))
        return NULL;
    nd_profile profile = ND_PROFILE_DEFAULT;
    if (profile_name && option_profile(profile_name, &profile) != 0)
        return NULL;
    pinned_text t;
    if (pin_text(&t, text, -1) != 0)
        return NULL;
    nd_normalizer *nz = NULL;
    nd_tokens tokens = ND_TOKENS_INIT;
    int status;
    Py_BEGIN_ALLOW_THREADS
        status = nd_normalizer_new(&nz, profile);
        if (status == ND_OK)
            status = nd_tokenize(&tokens, nz, t.data, t.len);
    Py_END_ALLOW_THREADS
    PyObject *out = NULL;
    if (status != ND_OK) {
        raise_status(status, "normalize");
    } else {
        out = PyList_New((Py_ssize_t)tokens.count);
        for (size_t i = 0; out && i < tokens.count; i++) {
            const nd_token *tok = &tokens.items[i];
            PyObject *s =
                PyUnicode_DecodeUTF8(tokens.text + tok->norm_start, (Py_ssize_t)tok->norm_len, "surrogateescape");
            if (!s) {
                Py_CLEAR(out);
                break;
            }
            PyList_SET_ITEM(out, (Py_ssize_t)i, s);
        }
    }
    nd_tokens_free(&tokens);
    nd_normalizer_free(nz);
    Py_DECREF(t.owner);
    return out;
}

PyDoc_STRVAR(signature_doc, "signature(text, **options)\n--\n\n"
                            "The MinHash signature of `text`: num_perm (default 128) 32-bit values as bytes,\n"
                            "little-endian (numpy.frombuffer(sig, dtype='<u4') reads it). The share of\n"
                            "equal values of two signatures estimates their Jaccard similarity. Options:\n"
                            "profile, shingle, num_perm, seed (threshold, bands and rows are accepted\n"
                            "and change nothing here).");

static PyObject *py_signature(PyObject *self, PyObject *args, PyObject *kwargs)
{
    (void)self;
    PyObject *text;
    if (!PyArg_ParseTuple(args, "O:signature", &text))
        return NULL;
    nd_options opts;
    if (parse_options(&opts, kwargs) != 0)
        return NULL;
    pinned_text t;
    if (pin_text(&t, text, -1) != 0)
        return NULL;
    PyObject *out = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)opts.num_perm * 4);
    if (!out) {
        Py_DECREF(t.owner);
        return NULL;
    }
    unsigned char *bytes = (unsigned char *)PyBytes_AS_STRING(out);
    nd_sketcher *sk = NULL;
    int status;
    Py_BEGIN_ALLOW_THREADS
        status = nd_sketcher_new(&sk, &opts);
        nd_sketch_ref ref;
        if (status == ND_OK)
            status = nd_sketch_text_ref(&ref, sk, t.data, t.len);
        for (unsigned i = 0; status == ND_OK && i < opts.num_perm; i++) { /* little-endian on every machine */
            uint32_t v = ref.signature[i];
            bytes[4 * i] = (unsigned char)v;
            bytes[4 * i + 1] = (unsigned char)(v >> 8);
            bytes[4 * i + 2] = (unsigned char)(v >> 16);
            bytes[4 * i + 3] = (unsigned char)(v >> 24);
        }
        nd_sketcher_free(sk);
    Py_END_ALLOW_THREADS
    Py_DECREF(t.owner);
    if (status != ND_OK) {
        Py_DECREF(out);
        return raise_status(status, "signature");
    }
    return out;
}

/* What the program shows of a run (nd_text_preview()), as a str. */
static PyObject *preview(const char *text, size_t len, size_t max_chars)
{
    char *out = PyMem_Malloc(len + 3 + 1);
    if (!out)
        return PyErr_NoMemory();
    size_t n = nd_text_preview(out, text, len, max_chars);
    PyObject *s = PyUnicode_DecodeUTF8(out, (Py_ssize_t)n, "replace");
    PyMem_Free(out);
    return s;
}

/* dict[key] = value, stealing value; -1 on error (value released). */
static int put(PyObject *dict, const char *key, PyObject *value)
{
    if (!value)
        return -1;
    int rc = PyDict_SetItemString(dict, key, value);
    Py_DECREF(value);
    return rc;
}

static PyObject *side_dict(PyObject *id, size_t tokens, size_t shingles)
{
    PyObject *d = PyDict_New();
    if (!d)
        return NULL;
    Py_INCREF(id);
    if (put(d, "id", id) != 0 || put(d, "tokens", PyLong_FromSize_t(tokens)) != 0 ||
        put(d, "shingles", PyLong_FromSize_t(shingles)) != 0) {
        Py_DECREF(d);
        return NULL;
    }
    return d;
}

static PyObject *span_list(nd_span span)
{
    return Py_BuildValue("[nn]", (Py_ssize_t)span.start, (Py_ssize_t)span.end);
}

static PyObject *explanation_dict(const nd_explanation *e, const nd_options *o, PyObject *ids[2], const pinned_text *a)
{
    PyObject *d = PyDict_New();
    if (!d)
        return NULL;
    PyObject *collided = PyList_New((Py_ssize_t)e->collided_count);
    for (unsigned j = 0; collided && j < e->collided_count; j++)
        PyList_SET_ITEM(collided, (Py_ssize_t)j, PyLong_FromUnsignedLong(e->bands_collided[j]));
    PyObject *runs = PyList_New((Py_ssize_t)e->run_count);
    for (size_t r = 0; runs && r < e->run_count; r++) {
        const nd_shared_run *run = &e->runs[r];
        PyObject *one = PyDict_New();
        if (!one || put(one, "tokens", PyLong_FromSize_t(run->tokens)) != 0 || put(one, "a", span_list(run->a)) != 0 ||
            put(one, "b", span_list(run->b)) != 0 ||
            put(one, "text", preview(a->data + run->a.start, run->a.end - run->a.start, 60)) != 0) {
            Py_XDECREF(one);
            Py_CLEAR(runs);
            break;
        }
        PyList_SET_ITEM(runs, (Py_ssize_t)r, one);
    }
    char shingle[32];
    snprintf(shingle, sizeof shingle, "%s:%u", e->shingle_kind == ND_SHINGLE_CHARS ? "chars" : "words",
             e->shingle_size);
    if (put(d, "a", side_dict(ids[0], e->tokens_a, e->shingles_a)) != 0 ||
        put(d, "b", side_dict(ids[1], e->tokens_b, e->shingles_b)) != 0 || put(d, "profile", profile_label(o)) != 0 ||
        put(d, "shingle", PyUnicode_FromString(shingle)) != 0 ||
        put(d, "shared_shingles", PyLong_FromSize_t(e->shared_shingles)) != 0 ||
        put(d, "jaccard", PyFloat_FromDouble(e->jaccard)) != 0 ||
        put(d, "containment_a_in_b", PyFloat_FromDouble(e->containment_a_in_b)) != 0 ||
        put(d, "containment_b_in_a", PyFloat_FromDouble(e->containment_b_in_a)) != 0 ||
        put(d, "estimated_jaccard", PyFloat_FromDouble(e->estimated_jaccard)) != 0 ||
        put(d, "bands", PyLong_FromUnsignedLong(e->bands)) != 0 ||
        put(d, "rows", PyLong_FromUnsignedLong(e->rows)) != 0 || put(d, "bands_collided", collided) != 0 ||
        put(d, "candidate", PyBool_FromLong(e->candidate)) != 0 ||
        put(d, "threshold", PyFloat_FromDouble(o->threshold)) != 0 || put(d, "match", PyBool_FromLong(e->match)) != 0 ||
        put(d, "runs", runs) != 0) {
        Py_DECREF(d);
        return NULL;
    }
    return d;
}

PyDoc_STRVAR(explain_doc, "explain(a, b, *, ids=('a', 'b'), **options)\n--\n\n"
                          "Why two texts match or not, as `neardup explain --json` reports it: a dict with\n"
                          "'jaccard' (exact), 'containment_a_in_b', 'containment_b_in_a', 'estimated_jaccard'\n"
                          "(MinHash), 'bands_collided', 'candidate', 'match', and 'runs': the longest runs\n"
                          "of tokens both share, each with its byte spans [start, end) in the UTF-8 of a\n"
                          "and of b ('a', 'b') and a preview ('text'); 'a' and 'b' also name the texts\n"
                          "(`ids`) with their token and shingle counts.");

static PyObject *py_explain(PyObject *self, PyObject *args, PyObject *kwargs)
{
    (void)self;
    PyObject *a, *b;
    if (!PyArg_ParseTuple(args, "OO:explain", &a, &b))
        return NULL;
    static const char *const names[] = {"ids", NULL};
    PyObject *values[1], *rest = NULL, *result = NULL;
    PyObject *ids[2] = {NULL, NULL};
    pinned_text ta = {NULL, NULL, 0}, tb = {NULL, NULL, 0};
    nd_options opts;
    nd_explanation *e = NULL;
    if (split_kwargs(kwargs, names, values, &rest) != 0 || parse_options(&opts, rest) != 0)
        goto done;
    if (values[0]) {
        if (!PyTuple_Check(values[0]) && !PyList_Check(values[0])) {
            PyErr_SetString(PyExc_TypeError, "ids must be a pair (id_a, id_b)");
            goto done;
        }
        if (PySequence_Size(values[0]) != 2) {
            PyErr_SetString(PyExc_ValueError, "ids must be a pair (id_a, id_b)");
            goto done;
        }
        ids[0] = PySequence_GetItem(values[0], 0);
        ids[1] = PySequence_GetItem(values[0], 1);
    } else {
        ids[0] = PyUnicode_FromString("a");
        ids[1] = PyUnicode_FromString("b");
    }
    if (!ids[0] || !ids[1] || pin_text(&ta, a, -1) != 0 || pin_text(&tb, b, -1) != 0)
        goto done;
    int status;
    Py_BEGIN_ALLOW_THREADS
        status = nd_explain(&e, &opts, ta.data, ta.len, tb.data, tb.len, 10);
    Py_END_ALLOW_THREADS
    if (status != ND_OK) {
        raise_status(status, "explain");
        goto done;
    }
    result = explanation_dict(e, &opts, ids, &ta);
done:
    nd_explanation_free(e);
    Py_XDECREF(ta.owner);
    Py_XDECREF(tb.owner);
    Py_XDECREF(ids[0]);
    Py_XDECREF(ids[1]);
    Py_XDECREF(rest);
    return result;
}

/* ****  Deduplicator  **** */

typedef struct {
    PyObject_HEAD nd_stream *stream;
    nd_options opts;
    PyObject *ids;    /* list: the id of each kept text */
    Py_ssize_t added; /* texts added so far: the default id of the next */
    PyThread_type_lock lock;
    nd_batch *batch; /* add_many's threads, made on first use */
    unsigned batch_threads;
    pid_t batch_pid; /* the process that made them */
} Deduplicator;

static int dedup_traverse(Deduplicator *self, visitproc visit, void *arg)
{
    Py_VISIT(self->ids);
    return 0;
}

static int dedup_clear(Deduplicator *self)
{
    Py_CLEAR(self->ids);
    return 0;
}

static void dedup_dealloc(Deduplicator *self)
{
    PyObject_GC_UnTrack(self);
    dedup_clear(self);
    nd_stream_free(self->stream);
    if (self->batch && self->batch_pid == getpid())
        nd_batch_free(self->batch); /* (in a forked child its threads do not exist: see add_many) */
    if (self->lock)
        PyThread_free_lock(self->lock);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int dedup_init(Deduplicator *self, PyObject *args, PyObject *kwargs)
{
    if (PyTuple_GET_SIZE(args) != 0) {
        PyErr_SetString(PyExc_TypeError, "Deduplicator() takes keyword arguments only");
        return -1;
    }
    if (self->stream) {
        PyErr_SetString(PyExc_RuntimeError, "Deduplicator.__init__ called twice");
        return -1;
    }
    if (parse_options(&self->opts, kwargs) != 0)
        return -1;
    self->lock = PyThread_allocate_lock();
    self->ids = PyList_New(0);
    if (!self->lock || !self->ids) {
        PyErr_NoMemory();
        return -1;
    }
    int status;
    Py_BEGIN_ALLOW_THREADS
        status = nd_stream_new(&self->stream, &self->opts);
    Py_END_ALLOW_THREADS
    if (status != ND_OK) {
        raise_status(status, "Deduplicator");
        return -1;
    }
    return 0;
}

static int dedup_ready(Deduplicator *self)
{
    if (!self->stream) {
        PyErr_SetString(PyExc_RuntimeError, "Deduplicator was not initialized");
        return -1;
    }
    return 0;
}

/* One Python thread in the stream at a time; wait without the GIL. */
static void dedup_lock(Deduplicator *self)
{
    if (!PyThread_acquire_lock(self->lock, NOWAIT_LOCK)) {
        Py_BEGIN_ALLOW_THREADS
            PyThread_acquire_lock(self->lock, WAIT_LOCK);
        Py_END_ALLOW_THREADS
    }
}

/* Query the stream with one pinned text and, when `keep`, keep it if it is
 * not a duplicate; the caller holds the object's lock. Returns 1 (match in
 * *m), 0, or -1 with an exception set. */
static int dedup_step(Deduplicator *self, const pinned_text *t, int keep, nd_stream_match *m)
{
    int status;
    Py_BEGIN_ALLOW_THREADS
        status = keep ? nd_stream_add_text(m, self->stream, t->data, t->len)
                      : nd_stream_query_text(m, self->stream, t->data, t->len);
    Py_END_ALLOW_THREADS
    if (status < 0) {
        raise_status(status, "Deduplicator");
        return -1;
    }
    return status;
}

/* query() and is_duplicate(): 1, 0 or -1 (exception set). */
static int dedup_ask(Deduplicator *self, PyObject *text, nd_stream_match *m)
{
    pinned_text t;
    if (dedup_ready(self) != 0 || pin_text(&t, text, -1) != 0)
        return -1;
    dedup_lock(self);
    int found = dedup_step(self, &t, 0, m);
    PyThread_release_lock(self->lock);
    Py_DECREF(t.owner);
    return found;
}

/* Drop the last entry of self->ids (a tentative id), keeping any pending
 * exception. Shrinking a list does not fail. */
static void drop_last_id(Deduplicator *self)
{
    PyObject *type, *value, *traceback;
    PyErr_Fetch(&type, &value, &traceback);
    Py_ssize_t n = PyList_GET_SIZE(self->ids);
    PyList_SetSlice(self->ids, n - 1, n, NULL);
    PyErr_Restore(type, value, traceback);
}

static PyObject *match_object(Deduplicator *self, const nd_stream_match *m)
{
    return new_match(PyList_GET_ITEM(self->ids, (Py_ssize_t)m->kept), m->jaccard);
}

PyDoc_STRVAR(dedup_add_doc, "add(text, id=None)\n--\n\n"
                            "Add a text to the stream. If it duplicates a text kept earlier (exact Jaccard at\n"
                            "least the threshold with an LSH candidate), return Match(id, jaccard) for the kept\n"
                            "text with the highest Jaccard, and do not keep this one; otherwise keep it and\n"
                            "return None. `id` defaults to the text's position in the stream (0, 1, ...).");

static PyObject *dedup_add(Deduplicator *self, PyObject *args, PyObject *kwargs)
{
    static char text_kw[] = "text", id_kw[] = "id";
    static char *keywords[] = {text_kw, id_kw, NULL};
    PyObject *text, *id = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|O:add", keywords, &text, &id))
        return NULL;
    pinned_text t;
    if (dedup_ready(self) != 0 || pin_text(&t, text, -1) != 0)
        return NULL;
    dedup_lock(self);
    /* The id goes in first (by position in the stream when none is given),
     * so that every text the stream keeps has one: appending could fail,
     * dropping cannot. Out again if the text is a duplicate. */
    PyObject *kept_id = id == Py_None ? PyLong_FromSsize_t(self->added) : (Py_INCREF(id), id);
    int appended = kept_id && PyList_Append(self->ids, kept_id) == 0;
    Py_XDECREF(kept_id);
    nd_stream_match m;
    int found = appended ? dedup_step(self, &t, 1, &m) : -1;
    if (appended && found != 0)
        drop_last_id(self);
    if (found >= 0)
        self->added++;
    PyThread_release_lock(self->lock);
    Py_DECREF(t.owner);
    if (found < 0)
        return NULL;
    if (found)
        return match_object(self, &m);
    Py_RETURN_NONE;
}

PyDoc_STRVAR(dedup_query_doc, "query(text)\n--\n\n"
                              "The Match add() would return for this text, or None; keeps nothing.");

static PyObject *dedup_query(Deduplicator *self, PyObject *text)
{
    nd_stream_match m;
    int found = dedup_ask(self, text, &m);
    if (found < 0)
        return NULL;
    if (found)
        return match_object(self, &m);
    Py_RETURN_NONE;
}

PyDoc_STRVAR(dedup_is_duplicate_doc, "is_duplicate(text)\n--\n\n"
                                     "Whether add() would call this text a duplicate; keeps nothing.");

static PyObject *dedup_is_duplicate(Deduplicator *self, PyObject *text)
{
    nd_stream_match m;
    int found = dedup_ask(self, text, &m);
    if (found < 0)
        return NULL;
    return PyBool_FromLong(found);
}

/* add_many: one chunk, without the GIL: sketch on the batch's threads, then
 * query and keep in input order. found[i] is 1 (match in matches[i]) or 0;
 * returns ND_OK or the first error (*done texts were added before it). */
static int stream_chunk(Deduplicator *self, const text_chunk *chunk, int *found, nd_stream_match *matches, size_t *done)
{
    *done = 0;
    int status = nd_batch_sketch(self->batch, chunk->data, chunk->lens, chunk->count);
    if (status != ND_OK)
        return status;
    const nd_batch_item *items;
    size_t n = nd_batch_items(&items, self->batch);
    for (size_t i = 0; i < n; i++) {
        int rc = nd_stream_query(&matches[i], self->stream, items[i].ids, items[i].count, items[i].keys);
        if (rc == 0)
            rc = nd_stream_keep(self->stream, items[i].ids, items[i].count, items[i].keys);
        if (rc < 0)
            return rc;
        found[i] = rc;
        *done = i + 1;
    }
    return ND_OK;
}

/* One chunk of add_many, the lock held: self->ids grows by `count`
 * placeholders first (the only step that can fail before the stream
 * changes), the kept texts' ids replace the first of them in order, the
 * rest are dropped. Appends one answer per text added to `out`. 0 or -1. */
static int add_chunk(Deduplicator *self, text_chunk *chunk, PyObject *id_seq, Py_ssize_t first, int *found,
                     nd_stream_match *matches, PyObject *out)
{
    Py_ssize_t base = PyList_GET_SIZE(self->ids), kept = 0;
    int lost = 0;
    PyObject *placeholders = PyList_New((Py_ssize_t)chunk->count);
    if (!placeholders)
        return -1;
    for (size_t i = 0; i < chunk->count; i++) {
        Py_INCREF(Py_None);
        PyList_SET_ITEM(placeholders, (Py_ssize_t)i, Py_None);
    }
    int rc = PyList_SetSlice(self->ids, base, base, placeholders);
    Py_DECREF(placeholders);
    if (rc != 0)
        return -1;
    size_t done;
    int status;
    Py_BEGIN_ALLOW_THREADS
        status = stream_chunk(self, chunk, found, matches, &done);
    Py_END_ALLOW_THREADS
    for (size_t i = 0; i < done; i++) { /* ids of the kept texts: no allocation can fail the stream now */
        Py_ssize_t position = self->added++;
        if (found[i])
            continue;
        PyObject *id = id_seq ? PySequence_Fast_GET_ITEM(id_seq, first + (Py_ssize_t)i) : Py_None;
        PyObject *kept_id = id != Py_None ? (Py_INCREF(id), id) : PyLong_FromSsize_t(position);
        if (!kept_id) { /* no memory for the position's int: None stands in, and MemoryError is raised */
            PyErr_Clear();
            lost = 1;
            Py_INCREF(Py_None);
            kept_id = Py_None;
        }
        PyList_SetItem(self->ids, base + kept++, kept_id); /* steals kept_id */
    }
    PyObject *type, *value, *traceback;
    PyErr_Fetch(&type, &value, &traceback);
    PyList_SetSlice(self->ids, base + kept, PyList_GET_SIZE(self->ids), NULL);
    PyErr_Restore(type, value, traceback);
    if (status != ND_OK) {
        raise_status(status, "Deduplicator.add_many");
        return -1;
    }
    if (lost) {
        PyErr_NoMemory();
        return -1;
    }
    for (size_t i = 0; i < done; i++) {
        PyObject *answer = found[i] ? match_object(self, &matches[i]) : (Py_INCREF(Py_None), Py_None);
        if (!answer || PyList_Append(out, answer) != 0) {
            Py_XDECREF(answer);
            return -1;
        }
        Py_DECREF(answer);
    }
    return 0;
}

PyDoc_STRVAR(dedup_add_many_doc, "add_many(texts, ids=None, *, threads=0)\n--\n\n"
                                 "add() for each text in order, with the texts sketched on the library's threads\n"
                                 "(0: all processors) and the GIL released: the same answers as a loop of add(),\n"
                                 "faster. Returns one Match or None per text. Every text is checked (str or\n"
                                 "bytes) before any is added.");

static PyObject *dedup_add_many(Deduplicator *self, PyObject *args, PyObject *kwargs)
{
    static char texts_kw[] = "texts", ids_kw[] = "ids", threads_kw[] = "threads";
    static char *keywords[] = {texts_kw, ids_kw, threads_kw, NULL};
    PyObject *texts, *ids = Py_None, *threads_obj = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|O$O:add_many", keywords, &texts, &ids, &threads_obj))
        return NULL;
    unsigned threads;
    if (dedup_ready(self) != 0 || parse_threads(threads_obj, &threads) != 0)
        return NULL;
    if (PyUnicode_Check(texts) || PyBytes_Check(texts)) {
        PyErr_SetString(PyExc_TypeError, "texts must be a sequence of texts, not one text");
        return NULL;
    }
    PyObject *seq = PySequence_Fast(texts, "texts must be a sequence or an iterable of str or bytes");
    if (!seq)
        return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    PyObject *id_seq = NULL, *out = NULL;
    text_chunk *chunk = NULL;
    int *found = NULL;
    nd_stream_match *matches = NULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PySequence_Fast_GET_ITEM(seq, i);
        if (!PyUnicode_Check(item) && !PyBytes_Check(item)) {
            PyErr_Format(PyExc_TypeError, "texts[%zd] must be str or bytes, not %.100s", i, Py_TYPE(item)->tp_name);
            goto done;
        }
    }
    if (ids != Py_None) {
        id_seq = PySequence_Fast(ids, "ids must be a sequence");
        if (!id_seq)
            goto done;
        if (PySequence_Fast_GET_SIZE(id_seq) != n) {
            PyErr_Format(PyExc_ValueError, "ids has %zd entries for %zd texts", PySequence_Fast_GET_SIZE(id_seq), n);
            goto done;
        }
    }
    out = PyList_New(0);
    chunk = PyMem_Malloc(sizeof *chunk);
    found = PyMem_Malloc(SCAN_CHUNK * sizeof *found);
    matches = PyMem_Malloc(SCAN_CHUNK * sizeof *matches);
    if (!out || !chunk || !found || !matches) {
        if (!PyErr_Occurred())
            PyErr_NoMemory();
        goto done;
    }
    dedup_lock(self);
    int status = ND_OK;
    if (self->batch && self->batch_pid != getpid())
        self->batch = NULL; /* made before a fork: its threads stayed in the parent, and freeing it would wait for
                               them; its memory is left behind (it is the parent's copy) */
    if (!self->batch || self->batch_threads != threads) {
        nd_batch_free(self->batch);
        self->batch = NULL;
        Py_BEGIN_ALLOW_THREADS
            status = nd_batch_new(&self->batch, &self->opts, threads);
        Py_END_ALLOW_THREADS
        self->batch_threads = threads;
        self->batch_pid = getpid();
    }
    if (status != ND_OK)
        raise_status(status, "Deduplicator.add_many");
    for (Py_ssize_t first = 0; !PyErr_Occurred() && first < n; first += SCAN_CHUNK) {
        Py_ssize_t count = n - first < SCAN_CHUNK ? n - first : SCAN_CHUNK;
        if (PyErr_CheckSignals() != 0 || chunk_fill(chunk, seq, first, count) != 0)
            break;
        add_chunk(self, chunk, id_seq, first, found, matches, out);
        chunk_release(chunk);
    }
    PyThread_release_lock(self->lock);
done:
    PyMem_Free(chunk);
    PyMem_Free(found);
    PyMem_Free(matches);
    Py_XDECREF(id_seq);
    Py_DECREF(seq);
    if (PyErr_Occurred())
        Py_CLEAR(out);
    return out;
}

static Py_ssize_t dedup_len(Deduplicator *self)
{
    return self->stream ? (Py_ssize_t)nd_stream_count(self->stream) : 0;
}

static PyObject *dedup_get_threshold(Deduplicator *self, void *closure)
{
    (void)closure;
    return PyFloat_FromDouble(self->opts.threshold);
}

static PyObject *dedup_get_added(Deduplicator *self, void *closure)
{
    (void)closure;
    return PyLong_FromSsize_t(self->added);
}

static PyMethodDef dedup_methods[] = {
    {"add", (PyCFunction)(void (*)(void))dedup_add, METH_VARARGS | METH_KEYWORDS, dedup_add_doc},
    {"add_many", (PyCFunction)(void (*)(void))dedup_add_many, METH_VARARGS | METH_KEYWORDS, dedup_add_many_doc},
    {"query", (PyCFunction)dedup_query, METH_O, dedup_query_doc},
    {"is_duplicate", (PyCFunction)dedup_is_duplicate, METH_O, dedup_is_duplicate_doc},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef dedup_getset[] = {
    {"threshold", (getter)dedup_get_threshold, NULL, "the minimum exact Jaccard of a duplicate", NULL},
    {"added", (getter)dedup_get_added, NULL, "the number of texts add() was given (kept or not)", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PySequenceMethods dedup_as_sequence = {
    .sq_length = (lenfunc)dedup_len,
};

PyDoc_STRVAR(dedup_doc, "Deduplicator(*, threshold=0.8, profile='default', shingle='auto', num_perm=128,\n"
                        "             bands=0, rows=0, seed=...)\n--\n\n"
                        "Deduplicate a stream of texts: the first of a group of near-duplicates is kept,\n"
                        "each later one is reported against the kept text it duplicates.\n\n"
                        "len(d) is the number of texts kept. Each add() compares the new text with the\n"
                        "kept ones through LSH (bands x rows chosen from the threshold, as `neardup params`\n"
                        "shows) and verifies every candidate with the exact Jaccard of the shingle sets,\n"
                        "so a reported Match always reaches the threshold.\n\n"
                        ">>> d = neardup.Deduplicator(threshold=0.8)\n"
                        ">>> d.add('the quick brown fox jumps over the lazy dog', id='a') is None\n"
                        "True\n"
                        ">>> d.add('The quick brown fox jumps over the lazy dog!', id='b')\n"
                        "neardup.Match(id='a', jaccard=1.0)\n");

static PyTypeObject DeduplicatorType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "neardup.Deduplicator",
    .tp_basicsize = sizeof(Deduplicator),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .tp_doc = dedup_doc,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)dedup_init,
    .tp_dealloc = (destructor)dedup_dealloc,
    .tp_traverse = (traverseproc)dedup_traverse,
    .tp_clear = (inquiry)dedup_clear,
    .tp_methods = dedup_methods,
    .tp_getset = dedup_getset,
    .tp_as_sequence = &dedup_as_sequence,
};

/* ****  Index: the persistent index (nd_db), when the library has it  **** */
#ifdef ND_DB_FORMAT

enum { MESSAGE_SIZE = 1024 };

static long online_cpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? n : 1;
}

typedef struct {
    PyObject_HEAD nd_db *db;
    PyObject *path;
    unsigned threads;
    int autocommit;
    PyThread_type_lock lock;
} Index;

/* The exception for an index status, with the library's message. */
static PyObject *raise_db(int status, const char *message)
{
    const char *text = message && message[0] ? message : nd_strerror(status);
    switch (status) {
    case ND_ENOMEM:
        return PyErr_NoMemory();
    case ND_EMISMATCH: /* options that disagree with the index's: the CLI's usage error */
    case ND_EINVAL:
    case ND_EEXIST:
        PyErr_SetString(PyExc_ValueError, text);
        return NULL;
    case ND_ENOTFOUND:
        PyErr_SetString(PyExc_FileNotFoundError, text);
        return NULL;
    case ND_EBUSY:
        PyErr_SetString(PyExc_BlockingIOError, text);
        return NULL;
    case ND_EFORMAT:
    case ND_EFULL:
    case ND_EIO:
        PyErr_SetString(PyExc_OSError, text);
        return NULL;
    default:
        PyErr_SetString(PyExc_RuntimeError, text);
        return NULL;
    }
}

static PyObject *raise_index(const Index *self, int status)
{
    char message[MESSAGE_SIZE];
    message[0] = '\0';
    if (self->db)
        nd_db_error(message, sizeof message, self->db);
    return raise_db(status, message);
}

static int index_open_check(Index *self)
{
    if (!self->db) {
        PyErr_SetString(PyExc_ValueError, "the index is closed");
        return -1;
    }
    return 0;
}

static void index_lock(Index *self)
{
    if (!PyThread_acquire_lock(self->lock, NOWAIT_LOCK)) {
        Py_BEGIN_ALLOW_THREADS
            PyThread_acquire_lock(self->lock, WAIT_LOCK);
        Py_END_ALLOW_THREADS
    }
}

static void index_dealloc(Index *self)
{
    nd_db_close(self->db); /* uncommitted changes are discarded: the index stays as it was */
    Py_XDECREF(self->path);
    if (self->lock)
        PyThread_free_lock(self->lock);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static unsigned given_bits(unsigned given)
{
    return ((given & GIVEN_PROFILE) ? ND_OPT_PROFILE : 0) | ((given & GIVEN_SHINGLE) ? ND_OPT_SHINGLE : 0) |
           ((given & GIVEN_NUM_PERM) ? ND_OPT_NUM_PERM : 0) | ((given & GIVEN_BANDS) ? ND_OPT_BANDS : 0) |
           ((given & GIVEN_THRESHOLD) ? ND_OPT_THRESHOLD : 0) | ((given & GIVEN_SEED) ? ND_OPT_SEED : 0);
}

static int index_init(Index *self, PyObject *args, PyObject *kwargs)
{
    PyObject *path_obj, *create_obj = Py_False;
    if (!PyArg_ParseTuple(args, "O|O:Index", &path_obj, &create_obj))
        return -1;
    if (self->db) {
        PyErr_SetString(PyExc_RuntimeError, "Index.__init__ called twice");
        return -1;
    }
    static const char *const names[] = {"create", "readonly", "threads", "autocommit", "wait", NULL};
    PyObject *values[5], *rest = NULL;
    nd_options opts;
    unsigned given = 0;
    if (split_kwargs(kwargs, names, values, &rest) != 0)
        return -1;
    int rc = -1;
    PyObject *path = NULL;
    if (values[0])
        create_obj = values[0];
    int create = PyObject_IsTrue(create_obj), readonly = values[1] ? PyObject_IsTrue(values[1]) : 0;
    int autocommit = values[3] ? PyObject_IsTrue(values[3]) : 1, wait = values[4] ? PyObject_IsTrue(values[4]) : 0;
    if (create < 0 || readonly < 0 || autocommit < 0 || wait < 0 || parse_threads(values[2], &self->threads) != 0 ||
        parse_options_given(&opts, &given, rest) != 0 || !PyUnicode_FSConverter(path_obj, &path))
        goto done;
    if (create && readonly) {
        PyErr_SetString(PyExc_ValueError, "an index cannot be created read-only");
        goto done;
    }
    self->lock = PyThread_allocate_lock();
    if (!self->lock) {
        PyErr_NoMemory();
        goto done;
    }
    nd_db_config config = ND_DB_CONFIG_INIT;
    config.options = opts;
    config.given = given_bits(given);
    config.flags = (readonly ? 0 : ND_DB_WRITE) | (create ? ND_DB_CREATE : 0) | (wait ? ND_DB_WAIT : 0);
    char message[MESSAGE_SIZE];
    message[0] = '\0';
    const char *cpath = PyBytes_AS_STRING(path);
    int status;
    Py_BEGIN_ALLOW_THREADS
        status = nd_db_open(&self->db, message, sizeof message, cpath, &config);
        if (status == ND_OK && create)
            status = nd_db_commit(self->db); /* a created index exists from here on, even empty */
    Py_END_ALLOW_THREADS
    if (status != ND_OK) {
        if (self->db)
            nd_db_error(message, sizeof message, self->db);
        nd_db_close(self->db);
        self->db = NULL;
        raise_db(status, message);
        goto done;
    }
    self->autocommit = autocommit;
    Py_INCREF(path_obj);
    self->path = path_obj;
    rc = 0;
done:
    Py_XDECREF(path);
    Py_XDECREF(rest);
    return rc;
}

/* Ids (str or bytes) of a sequence, pinned like texts. */
static int pin_ids(pinned_text *out, PyObject *seq, Py_ssize_t n)
{
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *id = PySequence_Fast_GET_ITEM(seq, i);
        if (!PyUnicode_Check(id) && !PyBytes_Check(id)) {
            PyErr_Format(PyExc_TypeError, "ids[%zd] must be str or bytes, not %.100s", i, Py_TYPE(id)->tp_name);
            for (Py_ssize_t k = 0; k < i; k++)
                Py_DECREF(out[k].owner);
            return -1;
        }
        if (pin_text(&out[i], id, i) != 0) {
            for (Py_ssize_t k = 0; k < i; k++)
                Py_DECREF(out[k].owner);
            return -1;
        }
    }
    return 0;
}

static void unpin_all(pinned_text *t, Py_ssize_t n)
{
    for (Py_ssize_t i = 0; t && i < n; i++)
        Py_XDECREF(t[i].owner);
}

PyDoc_STRVAR(index_add_doc, "add(texts, ids, *, replace=False)\n--\n\n"
                            "Add texts (str or bytes) under their ids (str or bytes, one per text), sketched\n"
                            "on the index's threads. An id already in the index is a ValueError (nothing of\n"
                            "this call is added) unless replace=True. With autocommit (the default) the\n"
                            "texts are committed before add() returns.");

static PyObject *index_add(Index *self, PyObject *args, PyObject *kwargs)
{
    static char texts_kw[] = "texts", ids_kw[] = "ids", replace_kw[] = "replace";
    static char *keywords[] = {texts_kw, ids_kw, replace_kw, NULL};
    PyObject *texts, *ids, *replace_obj = Py_False;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OO|$O:add", keywords, &texts, &ids, &replace_obj))
        return NULL;
    int replace = PyObject_IsTrue(replace_obj);
    if (replace < 0 || index_open_check(self) != 0)
        return NULL;
    if (PyUnicode_Check(texts) || PyBytes_Check(texts) || PyUnicode_Check(ids) || PyBytes_Check(ids)) {
        PyErr_SetString(PyExc_TypeError, "texts and ids must be sequences, not one text or id");
        return NULL;
    }
    PyObject *seq = PySequence_Fast(texts, "texts must be a sequence of str or bytes");
    PyObject *id_seq = seq ? PySequence_Fast(ids, "ids must be a sequence of str or bytes") : NULL;
    PyObject *result = NULL;
    Py_ssize_t n = seq ? PySequence_Fast_GET_SIZE(seq) : 0;
    pinned_text *pt = NULL, *pi = NULL;
    const char **tp = NULL, **ip = NULL;
    size_t *tl = NULL, *il = NULL;
    if (!id_seq)
        goto done;
    if (PySequence_Fast_GET_SIZE(id_seq) != n) {
        PyErr_Format(PyExc_ValueError, "ids has %zd entries for %zd texts", PySequence_Fast_GET_SIZE(id_seq), n);
        goto done;
    }
    pt = PyMem_Calloc((size_t)n + 1, sizeof *pt);
    pi = PyMem_Calloc((size_t)n + 1, sizeof *pi);
    tp = PyMem_Calloc((size_t)n + 1, sizeof *tp);
    ip = PyMem_Calloc((size_t)n + 1, sizeof *ip);
    tl = PyMem_Calloc((size_t)n + 1, sizeof *tl);
    il = PyMem_Calloc((size_t)n + 1, sizeof *il);
    if (!pt || !pi || !tp || !ip || !tl || !il) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        if (pin_text(&pt[i], PySequence_Fast_GET_ITEM(seq, i), i) != 0) {
            unpin_all(pt, i);
            PyMem_Free(pt);
            pt = NULL;
            goto done;
        }
    }
    if (pin_ids(pi, id_seq, n) != 0) {
        PyMem_Free(pi);
        pi = NULL;
        goto done;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        tp[i] = pt[i].data;
        tl[i] = pt[i].len;
        ip[i] = pi[i].data;
        il[i] = pi[i].len;
    }
    index_lock(self);
    size_t failed = 0;
    int status;
    Py_BEGIN_ALLOW_THREADS
        status =
            nd_db_add_texts(&failed, self->db, ip, il, tp, tl, (size_t)n, replace ? ND_DB_REPLACE : 0, self->threads);
        if (status == ND_OK && self->autocommit)
            status = nd_db_commit(self->db);
    Py_END_ALLOW_THREADS
    if (status != ND_OK)
        raise_index(self, status);
    PyThread_release_lock(self->lock);
    if (status == ND_OK) {
        Py_INCREF(Py_None);
        result = Py_None;
    }
done:
    if (pt)
        unpin_all(pt, n);
    if (pi)
        unpin_all(pi, n);
    PyMem_Free(pt);
    PyMem_Free(pi);
    PyMem_Free(tp);
    PyMem_Free(ip);
    PyMem_Free(tl);
    PyMem_Free(il);
    Py_XDECREF(id_seq);
    Py_XDECREF(seq);
    return result;
}

PyDoc_STRVAR(index_query_doc, "query(texts, *, threshold=None, top=0)\n--\n\n"
                              "For each text, the indexed documents it duplicates: a list of Match(id, jaccard),\n"
                              "highest Jaccard first, each exact and at least the threshold (default: the\n"
                              "index's); at most `top` of them (0: all). One list per text, in order.");

static PyObject *index_query(Index *self, PyObject *args, PyObject *kwargs)
{
    static char texts_kw[] = "texts", threshold_kw[] = "threshold", top_kw[] = "top";
    static char *keywords[] = {texts_kw, threshold_kw, top_kw, NULL};
    PyObject *texts, *threshold_obj = Py_None;
    Py_ssize_t top = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|$On:query", keywords, &texts, &threshold_obj, &top))
        return NULL;
    if (index_open_check(self) != 0)
        return NULL;
    nd_db_query_options qo = ND_DB_QUERY_INIT;
    if (threshold_obj != Py_None) {
        double t = PyFloat_AsDouble(threshold_obj);
        if (t == -1.0 && PyErr_Occurred())
            return NULL;
        if (!(t > 0.0 && t <= 1.0)) {
            PyErr_Format(PyExc_ValueError, "threshold must be in (0, 1] (got %R)", threshold_obj);
            return NULL;
        }
        qo.threshold = t;
    }
    if (top < 0) {
        PyErr_SetString(PyExc_ValueError, "top must be 0 (all) or more");
        return NULL;
    }
    qo.top = (size_t)top;
    qo.threads = self->threads ? self->threads : (unsigned)online_cpus();
    if (PyUnicode_Check(texts) || PyBytes_Check(texts)) {
        PyErr_SetString(PyExc_TypeError, "texts must be a sequence of texts, not one text");
        return NULL;
    }
    PyObject *seq = PySequence_Fast(texts, "texts must be a sequence of str or bytes");
    if (!seq)
        return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    pinned_text *pt = PyMem_Calloc((size_t)n + 1, sizeof *pt);
    const char **tp = PyMem_Calloc((size_t)n + 1, sizeof *tp);
    size_t *tl = PyMem_Calloc((size_t)n + 1, sizeof *tl);
    PyObject *out = NULL;
    nd_db_results *results = NULL;
    Py_ssize_t pinned = 0;
    if (!pt || !tp || !tl) {
        PyErr_NoMemory();
        goto done;
    }
    for (; pinned < n; pinned++) {
        if (pin_text(&pt[pinned], PySequence_Fast_GET_ITEM(seq, pinned), pinned) != 0)
            goto done;
        tp[pinned] = pt[pinned].data;
        tl[pinned] = pt[pinned].len;
    }
    index_lock(self);
    int status;
    Py_BEGIN_ALLOW_THREADS
        status = nd_db_query_texts(&results, self->db, tp, tl, (size_t)n, &qo);
    Py_END_ALLOW_THREADS
    if (status != ND_OK)
        raise_index(self, status);
    PyThread_release_lock(self->lock);
    if (status != ND_OK)
        goto done;
    out = PyList_New(n);
    for (Py_ssize_t i = 0; out && i < n; i++) {
        const nd_db_match *m;
        size_t count = nd_db_results_get(&m, results, (size_t)i);
        PyObject *list = PyList_New((Py_ssize_t)count);
        if (!list) {
            Py_CLEAR(out);
            break;
        }
        PyList_SET_ITEM(out, i, list);
        for (size_t k = 0; k < count; k++) {
            PyObject *id = PyUnicode_DecodeUTF8(m[k].id, (Py_ssize_t)m[k].id_len, "surrogateescape");
            PyObject *match = id ? new_match(id, m[k].jaccard) : NULL;
            Py_XDECREF(id);
            if (!match) {
                Py_CLEAR(out);
                break;
            }
            PyList_SET_ITEM(list, (Py_ssize_t)k, match);
        }
    }
done:
    nd_db_results_free(results);
    unpin_all(pt, pinned);
    PyMem_Free(pt);
    PyMem_Free(tp);
    PyMem_Free(tl);
    Py_DECREF(seq);
    return out;
}

PyDoc_STRVAR(index_remove_doc, "remove(ids)\n--\n\n"
                               "Remove the documents with these ids (they stop matching); returns how many\n"
                               "were removed. An id not in the index is a KeyError (nothing is removed).");

static PyObject *index_remove(Index *self, PyObject *ids)
{
    if (index_open_check(self) != 0)
        return NULL;
    if (PyUnicode_Check(ids) || PyBytes_Check(ids)) {
        PyErr_SetString(PyExc_TypeError, "ids must be a sequence of ids, not one id");
        return NULL;
    }
    PyObject *seq = PySequence_Fast(ids, "ids must be a sequence of str or bytes");
    if (!seq)
        return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    pinned_text *pi = PyMem_Calloc((size_t)n + 1, sizeof *pi);
    const char **ip = PyMem_Calloc((size_t)n + 1, sizeof *ip);
    size_t *il = PyMem_Calloc((size_t)n + 1, sizeof *il);
    PyObject *out = NULL;
    if (!pi || !ip || !il) {
        PyErr_NoMemory();
        goto done;
    }
    if (pin_ids(pi, seq, n) != 0) {
        PyMem_Free(pi);
        pi = NULL;
        goto done;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        ip[i] = pi[i].data;
        il[i] = pi[i].len;
    }
    index_lock(self);
    size_t removed = 0;
    int status;
    Py_BEGIN_ALLOW_THREADS
        status = nd_db_remove(&removed, self->db, ip, il, (size_t)n);
        if (status == ND_OK && self->autocommit)
            status = nd_db_commit(self->db);
    Py_END_ALLOW_THREADS
    if (status == ND_ENOTFOUND) {
        char message[MESSAGE_SIZE];
        nd_db_error(message, sizeof message, self->db);
        PyErr_SetString(PyExc_KeyError, message);
    } else if (status != ND_OK) {
        raise_index(self, status);
    }
    PyThread_release_lock(self->lock);
    if (status == ND_OK)
        out = PyLong_FromSize_t(removed);
done:
    if (pi)
        unpin_all(pi, n);
    PyMem_Free(pi);
    PyMem_Free(ip);
    PyMem_Free(il);
    Py_DECREF(seq);
    return out;
}

PyDoc_STRVAR(index_commit_doc, "commit()\n--\n\n"
                               "Make the changes since the last commit durable and visible to other readers\n"
                               "(needed only with autocommit=False; close() and leaving a `with` block without\n"
                               "an exception commit too).");

static PyObject *index_commit(Index *self, PyObject *unused)
{
    (void)unused;
    if (index_open_check(self) != 0)
        return NULL;
    index_lock(self);
    int status;
    Py_BEGIN_ALLOW_THREADS
        status = nd_db_commit(self->db);
    Py_END_ALLOW_THREADS
    if (status != ND_OK)
        raise_index(self, status);
    PyThread_release_lock(self->lock);
    if (status != ND_OK)
        return NULL;
    Py_RETURN_NONE;
}

/* Close, committing first when `commit` (and the index is writable). */
static PyObject *index_close_impl(Index *self, int commit)
{
    if (!self->db)
        Py_RETURN_NONE;
    index_lock(self);
    int status = ND_OK;
    nd_db *db = self->db;
    self->db = NULL;
    Py_BEGIN_ALLOW_THREADS
        if (commit)
            status = nd_db_commit(db);
    Py_END_ALLOW_THREADS
    char message[MESSAGE_SIZE];
    message[0] = '\0';
    if (status != ND_OK && status != ND_EINVAL) /* EINVAL: opened read-only, nothing to commit */
        nd_db_error(message, sizeof message, db);
    nd_db_close(db);
    PyThread_release_lock(self->lock);
    if (status != ND_OK && status != ND_EINVAL)
        return raise_db(status, message);
    Py_RETURN_NONE;
}

PyDoc_STRVAR(index_close_doc, "close()\n--\n\n"
                              "Commit what was added or removed and close the index (it stays as it was if\n"
                              "the process dies before). Calling it again does nothing.");

static PyObject *index_close(Index *self, PyObject *unused)
{
    (void)unused;
    return index_close_impl(self, 1);
}

static PyObject *index_enter(Index *self, PyObject *unused)
{
    (void)unused;
    if (index_open_check(self) != 0)
        return NULL;
    Py_INCREF(self);
    return (PyObject *)self;
}

static PyObject *index_exit(Index *self, PyObject *args)
{
    PyObject *type = PyTuple_GET_SIZE(args) > 0 ? PyTuple_GET_ITEM(args, 0) : Py_None;
    /* an exception in the block: its uncommitted changes are discarded */
    PyObject *r = index_close_impl(self, type == Py_None);
    if (!r)
        return NULL;
    Py_DECREF(r);
    Py_RETURN_FALSE;
}

static Py_ssize_t index_len(Index *self)
{
    if (index_open_check(self) != 0)
        return -1;
    nd_db_stats st;
    index_lock(self);
    int status = nd_db_stats_get(&st, self->db);
    if (status != ND_OK)
        raise_index(self, status);
    PyThread_release_lock(self->lock);
    return status == ND_OK ? (Py_ssize_t)st.documents : -1;
}

static PyObject *options_dict(const nd_options *o)
{
    char shingle[32];
    if (o->shingle_kind == ND_SHINGLE_AUTO)
        snprintf(shingle, sizeof shingle, "auto");
    else
        snprintf(shingle, sizeof shingle, "%s:%u", o->shingle_kind == ND_SHINGLE_CHARS ? "chars" : "words",
                 o->shingle_kind == ND_SHINGLE_CHARS ? o->char_size : o->shingle_size);
    return Py_BuildValue("{s:d,s:s,s:s,s:I,s:I,s:I,s:K}", "threshold", o->threshold, "profile",
                         nd_profile_name(o->profile), "shingle", shingle, "num_perm", o->num_perm, "bands", o->bands,
                         "rows", o->rows, "seed", (unsigned long long)o->seed);
}

PyDoc_STRVAR(index_stats_doc, "stats()\n--\n\n"
                              "What `neardup index stats` reports: documents, removed, bytes on disk, the\n"
                              "options and versions the index was made with.");

static PyObject *index_stats(Index *self, PyObject *unused)
{
    (void)unused;
    if (index_open_check(self) != 0)
        return NULL;
    nd_db_stats st;
    index_lock(self);
    int status = nd_db_stats_get(&st, self->db);
    if (status != ND_OK)
        raise_index(self, status);
    PyThread_release_lock(self->lock);
    if (status != ND_OK)
        return NULL;
    PyObject *options = options_dict(&st.options);
    if (!options)
        return NULL;
    return Py_BuildValue("{s:K,s:K,s:K,s:K,s:N,s:I,s:I,s:s,s:s,s:s}", "documents", (unsigned long long)st.documents,
                         "removed", (unsigned long long)st.removed, "bytes_on_disk",
                         (unsigned long long)st.bytes_on_disk, "band_entries", (unsigned long long)st.band_entries,
                         "options", options, "format_version", st.format_version, "profile_version", st.profile_version,
                         "unicode_version", st.unicode_version, "icu_version", st.icu_version, "created_by",
                         st.created_by);
}

static PyObject *index_get_options(Index *self, void *closure)
{
    (void)closure;
    if (index_open_check(self) != 0)
        return NULL;
    return options_dict(nd_db_options(self->db));
}

static PyObject *index_get_closed(Index *self, void *closure)
{
    (void)closure;
    return PyBool_FromLong(self->db == NULL);
}

static PyMethodDef index_methods[] = {
    {"add", (PyCFunction)(void (*)(void))index_add, METH_VARARGS | METH_KEYWORDS, index_add_doc},
    {"query", (PyCFunction)(void (*)(void))index_query, METH_VARARGS | METH_KEYWORDS, index_query_doc},
    {"remove", (PyCFunction)index_remove, METH_O, index_remove_doc},
    {"commit", (PyCFunction)index_commit, METH_NOARGS, index_commit_doc},
    {"stats", (PyCFunction)index_stats, METH_NOARGS, index_stats_doc},
    {"close", (PyCFunction)index_close, METH_NOARGS, index_close_doc},
    {"__enter__", (PyCFunction)index_enter, METH_NOARGS, NULL},
    {"__exit__", (PyCFunction)index_exit, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef index_getset[] = {
    {"options", (getter)index_get_options, NULL, "the options the index was made with (a dict)", NULL},
    {"closed", (getter)index_get_closed, NULL, "whether close() was called", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PySequenceMethods index_as_sequence = {
    .sq_length = (lenfunc)index_len,
};

PyDoc_STRVAR(index_doc,
             "Index(path, create=False, *, readonly=False, threads=0, autocommit=True, wait=False, **options)\n--\n\n"
             "The persistent index on disk (what `neardup index add` and `neardup query` use):\n"
             "add(texts, ids), query(texts) -> list of lists of Match, remove(ids), len(),\n"
             "stats(), commit(), close(); a context manager (commits on a clean exit).\n\n"
             "create=True makes the index when `path` does not exist, with the options given\n"
             "(threshold, profile, shingle, num_perm, bands, rows, seed; fixed from then on).\n"
             "For an existing index every option given must agree with the index's own, as\n"
             "the program requires: a mismatch is a ValueError naming the option and both\n"
             "values. No index at path: FileNotFoundError; not a neardup index, another\n"
             "format, a full disk: OSError; another writer: BlockingIOError (or wait=True).");

static PyTypeObject IndexType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "neardup.Index",
    .tp_basicsize = sizeof(Index),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = index_doc,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)index_init,
    .tp_dealloc = (destructor)index_dealloc,
    .tp_methods = index_methods,
    .tp_getset = index_getset,
    .tp_as_sequence = &index_as_sequence,
};

#endif /* ND_DB_FORMAT */

/* ****  The module  **** */

static PyMethodDef module_methods[] = {
    {"_scan", (PyCFunction)(void (*)(void))py_scan, METH_VARARGS | METH_KEYWORDS, scan_doc},
    {"normalize", (PyCFunction)(void (*)(void))py_normalize, METH_VARARGS | METH_KEYWORDS, normalize_doc},
    {"signature", (PyCFunction)(void (*)(void))py_signature, METH_VARARGS | METH_KEYWORDS, signature_doc},
    {"explain", (PyCFunction)(void (*)(void))py_explain, METH_VARARGS | METH_KEYWORDS, explain_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    "neardup._neardup",
    "The C engine of the neardup package (see neardup's own docstring).",
    -1,
    module_methods,
    NULL,
    NULL,
    NULL,
    NULL,
};

PyMODINIT_FUNC PyInit__neardup(void);

PyMODINIT_FUNC PyInit__neardup(void)
{
    if (MatchType.tp_name == NULL && PyStructSequence_InitType2(&MatchType, &match_desc) != 0)
        return NULL;
    if (PyType_Ready(&DeduplicatorType) != 0)
        return NULL;
#ifdef ND_DB_FORMAT
    if (PyType_Ready(&IndexType) != 0)
        return NULL;
#endif
    PyObject *m = PyModule_Create(&module_def);
    if (!m)
        return NULL;
    Py_INCREF(&MatchType);
    Py_INCREF(&DeduplicatorType);
    if (PyModule_AddObject(m, "Match", (PyObject *)&MatchType) != 0 ||
        PyModule_AddObject(m, "Deduplicator", (PyObject *)&DeduplicatorType) != 0 ||
        PyModule_AddStringConstant(m, "__version__", ND_VERSION) != 0) {
        Py_DECREF(m);
        return NULL;
    }
#ifdef ND_DB_FORMAT
    Py_INCREF(&IndexType);
    if (PyModule_AddObject(m, "Index", (PyObject *)&IndexType) != 0) {
        Py_DECREF(m);
        return NULL;
    }
#endif
    return m;
}
