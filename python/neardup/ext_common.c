/* ext_common.c - what the extension's functions share: library status
 * codes to exceptions, option keywords to nd_options (checked here first,
 * so that a ValueError names the option and what it accepts), texts pinned
 * for use without the GIL, and the Match type.
 *
 * Texts in, no tokenizing by the caller: str (encoded to UTF-8; lone
 * surrogates pass through and are read as U+FFFD by the library, as
 * ill-formed UTF-8 is) or bytes (UTF-8, taken as they are). Before the GIL
 * is released, every text a call needs is pinned: a reference is held (or a
 * temporary UTF-8 bytes object made; scan and add_many keep a str's code
 * points and encode them on the library's threads, ext_utf8.c) for each,
 * so another Python thread that empties the list meanwhile cannot free a
 * text under the library's feet.
 * Status codes: ND_EINVAL ValueError, ND_ENOMEM MemoryError, ND_EIO OSError,
 * ND_EICU RuntimeError.
 */
#include "ext.h"

#include <stdint.h> /* uint64_t */
#include <stdlib.h> /* strtoul */
#include <string.h> /* strcmp, strncmp */

/* ****  Errors  **** */

/* Set the Python exception for a library status; returns NULL. */
PyObject *ndpy_raise_status(int status, const char *what)
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
int ndpy_option_int(PyObject *value, const char *name, long min, long max, unsigned *out)
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

int ndpy_option_profile(PyObject *value, nd_profile *out)
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

/* Fill *opts from kwargs (which may be NULL) and resolve it; *given (may be
 * NULL) receives the GIVEN_* bits of the options named. Keys other than the
 * option names are a TypeError. */
int ndpy_parse_options_given(nd_options *opts, unsigned *given, PyObject *kwargs)
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
            if (PyBool_Check(value)) { /* True read as 1.0: a mistake, not a threshold */
                PyErr_Format(PyExc_TypeError, "threshold must be a number, not bool");
                return -1;
            }
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
            rc = ndpy_option_profile(value, &opts->profile);
            named |= GIVEN_PROFILE;
        } else if (strcmp(name, "shingle") == 0) {
            rc = option_shingle(value, opts);
            named |= GIVEN_SHINGLE;
        } else if (strcmp(name, "num_perm") == 0) {
            rc = ndpy_option_int(value, "num_perm", 1, 4096, &opts->num_perm);
            named |= GIVEN_NUM_PERM;
        } else if (strcmp(name, "bands") == 0) {
            rc = ndpy_option_int(value, "bands", 0, 4096, &opts->bands);
            bands_given = opts->bands > 0;
            named |= bands_given ? GIVEN_BANDS : 0;
        } else if (strcmp(name, "rows") == 0) {
            rc = ndpy_option_int(value, "rows", 0, 4096, &opts->rows);
            rows_given = opts->rows > 0;
        } else if (strcmp(name, "measure") == 0) {
            named |= GIVEN_MEASURE;
            const char *m = PyUnicode_Check(value) ? PyUnicode_AsUTF8(value) : NULL;
            if (m && strcmp(m, "jaccard") == 0) {
                opts->measure = ND_MEASURE_JACCARD;
            } else if (m && strcmp(m, "containment") == 0) {
                opts->measure = ND_MEASURE_CONTAINMENT;
            } else {
                if (!PyErr_Occurred())
                    PyErr_Format(m ? PyExc_ValueError : PyExc_TypeError,
                                 "measure must be 'jaccard' or 'containment' (got %R)", value);
                return -1;
            }
        } else if (strcmp(name, "min_shingles") == 0) {
            /* the program's range (--min-shingles), so an index either makes is one the other opens */
            rc = ndpy_option_int(value, "min_shingles", 1, 1000000, &opts->min_shingles);
            named |= GIVEN_MIN_SHINGLES;
        } else if (strcmp(name, "seed") == 0) {
            named |= GIVEN_SEED;
            int is_int = PyLong_Check(value) && !PyBool_Check(value); /* as the int options */
            unsigned long long seed = is_int ? PyLong_AsUnsignedLongLong(value) : 0;
            if (!is_int || PyErr_Occurred()) {
                PyErr_Clear();
                PyErr_Format(is_int ? PyExc_ValueError : PyExc_TypeError,
                             "seed must be an int in 0 .. 2**64 - 1 (got %R)", value);
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
        ndpy_raise_status(status, "options");
        return -1;
    }
    if (given)
        *given = named;
    return 0;
}

int ndpy_parse_options(nd_options *opts, PyObject *kwargs)
{
    return ndpy_parse_options_given(opts, NULL, kwargs);
}

/* Take the named keyword arguments out of a copy of kwargs: *rest gets
 * the others (a new dict, or NULL when kwargs is NULL). */
int ndpy_split_kwargs(PyObject *kwargs, const char *const *names, PyObject **values, PyObject **rest)
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

PyObject *ndpy_profile_label(const nd_options *opts)
{
    return PyUnicode_FromFormat("%s/%u", nd_profile_name(opts->profile), nd_profile_version(opts->profile));
}

/* ****  Texts  **** */

int ndpy_pin_text(pinned_text *out, PyObject *obj, Py_ssize_t position)
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

void ndpy_chunk_release(text_chunk *c)
{
    for (size_t i = 0; i < c->count; i++)
        Py_DECREF(c->owners[i]);
    c->count = 0;
    c->pending = 0;
}

int ndpy_chunk_fill(text_chunk *c, PyObject *seq, Py_ssize_t first, Py_ssize_t n, Py_ssize_t total)
{
    c->count = 0;
    c->pending = 0;
    if (PySequence_Fast_GET_SIZE(seq) != total) {
        PyErr_Format(PyExc_RuntimeError, "texts changed size during the call (%zd texts when it began, %zd now)", total,
                     PySequence_Fast_GET_SIZE(seq));
        return -1;
    }
    PyObject **items = PySequence_Fast_ITEMS(seq);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = items[first + i];
        c->ucs[c->count] = NULL;
        if (PyUnicode_Check(item) && !PyUnicode_IS_ASCII(item)) {
            /* its code points, encoded when it is sketched, without the
             * GIL (ext_utf8.c): a str never changes, and the reference
             * keeps them alive */
            Py_INCREF(item);
            c->owners[c->count] = item;
            c->data[c->count] = NULL;
            c->ucs[c->count] = PyUnicode_DATA(item);
            c->kinds[c->count] = (unsigned char)PyUnicode_KIND(item);
            c->lens[c->count] = (size_t)PyUnicode_GET_LENGTH(item);
            c->count++;
            c->pending++;
            continue;
        }
        pinned_text t;
        if (ndpy_pin_text(&t, item, first + i) != 0) {
            ndpy_chunk_release(c);
            return -1;
        }
        c->owners[c->count] = t.owner;
        c->data[c->count] = t.data;
        c->lens[c->count] = t.len;
        c->count++;
    }
    return 0;
}

void ndpy_unpin_list(pinned_list *l)
{
    for (Py_ssize_t i = 0; l->items && i < l->count; i++)
        Py_DECREF(l->items[i].owner);
    PyMem_Free(l->items);
    PyMem_Free(l->data);
    PyMem_Free(l->lens);
    Py_XDECREF(l->seq);
    memset(l, 0, sizeof *l);
}

int ndpy_pin_list(pinned_list *l, PyObject *obj, const char *what)
{
    memset(l, 0, sizeof *l);
    if (PyUnicode_Check(obj) || PyBytes_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "%s must be a sequence of str or bytes, not one %.100s", what,
                     Py_TYPE(obj)->tp_name);
        return -1;
    }
    l->seq = PySequence_Fast(obj, "must be a sequence or an iterable of str or bytes");
    if (!l->seq)
        return -1;
    size_t n = (size_t)PySequence_Fast_GET_SIZE(l->seq);
    l->items = PyMem_Calloc(n + 1, sizeof *l->items);
    l->data = PyMem_Calloc(n + 1, sizeof *l->data);
    l->lens = PyMem_Calloc(n + 1, sizeof *l->lens);
    if (!l->items || !l->data || !l->lens) {
        ndpy_unpin_list(l);
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < (Py_ssize_t)n; i++) {
        PyObject *item = PySequence_Fast_GET_ITEM(l->seq, i);
        if (!PyUnicode_Check(item) && !PyBytes_Check(item)) {
            PyErr_Format(PyExc_TypeError, "%s[%zd] must be str or bytes, not %.100s", what, i, Py_TYPE(item)->tp_name);
            ndpy_unpin_list(l);
            return -1;
        }
        if (ndpy_pin_text(&l->items[i], item, i) != 0) {
            ndpy_unpin_list(l);
            return -1;
        }
        l->count = i + 1;
        l->data[i] = l->items[i].data;
        l->lens[i] = l->items[i].len;
    }
    return 0;
}

/* ****  Match  **** */

PyTypeObject ndpy_MatchType;

static PyStructSequence_Field match_fields[] = {
    {"id", "the id of the earlier (kept) text this one duplicates"},
    {"jaccard", "the exact Jaccard similarity of the two texts' shingle sets"},
    {"query_in_match", "Index.query: the share of the query's shingles in the matched document (exact); "
                       "else None"},
    {"match_in_query", "Index.query: the share of the matched document's shingles in the query (exact); "
                       "else None"},
    {NULL, NULL},
};

/* A tuple (id, jaccard), as before; the containments are attributes only. */
PyStructSequence_Desc ndpy_match_desc = {
    "neardup.Match",
    "Match(id, jaccard): an earlier text that a text duplicates, and their exact Jaccard similarity.\n"
    "From Index.query also query_in_match and match_in_query (the containments, for an index made\n"
    "with measure='containment' in particular); None elsewhere.",
    match_fields,
    2,
};

PyObject *ndpy_new_match_full(PyObject *id, double jaccard, double query_in_match, double match_in_query,
                              int with_containment)
{
    PyObject *m = PyStructSequence_New(&ndpy_MatchType);
    PyObject *j = PyFloat_FromDouble(jaccard);
    PyObject *qm = with_containment ? PyFloat_FromDouble(query_in_match) : (Py_INCREF(Py_None), Py_None);
    PyObject *mq = with_containment ? PyFloat_FromDouble(match_in_query) : (Py_INCREF(Py_None), Py_None);
    if (!m || !j || !qm || !mq) {
        Py_XDECREF(m);
        Py_XDECREF(j);
        Py_XDECREF(qm);
        Py_XDECREF(mq);
        return NULL;
    }
    Py_INCREF(id);
    PyStructSequence_SET_ITEM(m, 0, id);
    PyStructSequence_SET_ITEM(m, 1, j);
    PyStructSequence_SET_ITEM(m, 2, qm);
    PyStructSequence_SET_ITEM(m, 3, mq);
    return m;
}

PyObject *ndpy_new_match(PyObject *id, double jaccard)
{
    return ndpy_new_match_full(id, jaccard, 0.0, 0.0, 0);
}

/* ****  Threads  **** */

int ndpy_parse_threads(PyObject *value, unsigned *threads)
{
    *threads = 0;
    return value ? ndpy_option_int(value, "threads", 0, 1024, threads) : 0;
}
