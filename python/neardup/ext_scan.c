/* ext_scan.c - neardup._scan (what neardup.scan and neardup.dedup call):
 * texts through nd_batch (the library's threads, results in input order,
 * so the clusters are the same for any `threads`) into an nd_index, chunk
 * by chunk with the GIL released, then clustered. Chunks keep only one
 * chunk of UTF-8 copies alive at a time and let Ctrl-C through between
 * them. With units (paragraphs, lines) each cluster member is a unit:
 * which text it came from and its byte span are recorded per index entry.
 */
#include "ext.h"

#include <string.h> /* strcmp */

/* ****  scan  **** */

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
    text_chunk *chunk = PyMem_Calloc(1, sizeof *chunk);
    if (!chunk) {
        PyErr_NoMemory();
        return -1;
    }
    int status = ND_OK;
    for (Py_ssize_t first = 0; first < n; first += SCAN_CHUNK) {
        if (PyErr_CheckSignals() != 0)
            break;
        Py_ssize_t count = n - first < SCAN_CHUNK ? n - first : SCAN_CHUNK;
        if (ndpy_chunk_fill(chunk, seq, first, count, n) != 0)
            break;
        Py_BEGIN_ALLOW_THREADS
            status = ndpy_chunk_sketch(chunk, batch);
            if (status == ND_OK && units)
                status = unit_map_add(units, batch, (size_t)first);
            if (status == ND_OK)
                status = nd_index_add_batch(index, batch);
        Py_END_ALLOW_THREADS
        ndpy_chunk_release(chunk);
        if (status != ND_OK) {
            ndpy_raise_status(status, "scan");
            break;
        }
    }
    ndpy_chunk_free(chunk);
    return PyErr_Occurred() ? -1 : 0;
}

/* A list of `size` new objects made by make(k); NULL on error. */
static PyObject *list_of(size_t size, PyObject *(*make)(const nd_member *m, const unit_map *units, size_t k),
                         const nd_member *m, const unit_map *units)
{
    PyObject *list = PyList_New((Py_ssize_t)size);
    for (size_t k = 0; list && k < size; k++) {
        PyObject *item = make(m, units, k);
        if (!item) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)k, item);
    }
    return list;
}

static PyObject *member_text(const nd_member *m, const unit_map *units, size_t k)
{
    return PyLong_FromSize_t(units ? units->text[m[k].doc] : m[k].doc);
}

static PyObject *member_jaccard(const nd_member *m, const unit_map *units, size_t k)
{
    (void)units;
    return PyFloat_FromDouble(m[k].jaccard);
}

static PyObject *member_containment(const nd_member *m, const unit_map *units, size_t k)
{
    (void)units;
    return PyFloat_FromDouble(m[k].containment);
}

static PyObject *member_span(const nd_member *m, const unit_map *units, size_t k)
{
    return Py_BuildValue("(nn)", (Py_ssize_t)units->span[m[k].doc].start, (Py_ssize_t)units->span[m[k].doc].end);
}

/* The clusters as a list of (members, jaccards, containments, spans)
 * tuples: members are text positions (the survivor first); containments
 * are None unless `containment` (each member's share of shingles found in
 * the survivor, as the program prints with --measure containment); spans
 * are None in document mode, else the (start, end) UTF-8 byte spans of
 * the units. */
static PyObject *clusters_to_list(const nd_clusters *clusters, const unit_map *units, int containment)
{
    size_t n = nd_clusters_count(clusters);
    PyObject *out = PyList_New((Py_ssize_t)n);
    for (size_t c = 0; out && c < n; c++) {
        const nd_member *m;
        size_t size = nd_clusters_get(&m, clusters, c);
        PyObject *docs = list_of(size, member_text, m, units);
        PyObject *jaccards = list_of(size, member_jaccard, m, units);
        PyObject *contained = containment ? list_of(size, member_containment, m, units) : (Py_INCREF(Py_None), Py_None);
        PyObject *spans = units ? list_of(size, member_span, m, units) : (Py_INCREF(Py_None), Py_None);
        PyObject *cluster =
            docs && jaccards && contained && spans ? PyTuple_Pack(4, docs, jaccards, contained, spans) : NULL;
        Py_XDECREF(docs);
        Py_XDECREF(jaccards);
        Py_XDECREF(contained);
        Py_XDECREF(spans);
        if (!cluster) {
            Py_CLEAR(out);
            break;
        }
        PyList_SET_ITEM(out, (Py_ssize_t)c, cluster);
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
        PyErr_Format(name ? PyExc_ValueError : PyExc_TypeError, "keep must be 'first' or 'longest' (got %R)", value);
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
        PyErr_Format(name ? PyExc_ValueError : PyExc_TypeError,
                     "unit must be 'document', 'paragraph' or 'line' (got %R)", value);
    return -1;
}

const char ndpy_scan_doc[] =
    PyDoc_STR("_scan(texts, *, keep='first', threads=0, unit='document', min_tokens=1, **options)\n--\n\n"
              "Cluster texts (a sequence of str or bytes); returns a list of (members, jaccards,\n"
              "spans) tuples, members being positions in texts (the survivor first) and spans\n"
              "None, or with units the (start, end) UTF-8 byte spans of the units.\n"
              "neardup.scan() is the public face of this.");

PyObject *ndpy_scan(PyObject *self, PyObject *args, PyObject *kwargs)
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
    if (ndpy_split_kwargs(kwargs, names, values, &rest) != 0 || parse_keep(values[0], &keep) != 0 ||
        ndpy_parse_threads(values[1], &threads) != 0 || parse_unit(values[2], &unit) != 0 ||
        (values[3] && ndpy_option_int(values[3], "min_tokens", 1, 1000000, &min_tokens) != 0) ||
        ndpy_parse_options(&opts, rest) != 0)
        goto done;
    if (unit != ND_UNIT_DOCUMENT && opts.measure == ND_MEASURE_CONTAINMENT) {
        /* as the program refuses --measure containment with --unit */
        PyErr_SetString(PyExc_ValueError,
                        "measure='containment' compares whole texts; it does not combine with unit='paragraph' or "
                        "unit='line'");
        goto done;
    }
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
        if (status == ND_OK) /* only nd_index_add_batch reads the ids: sorted where clustering reads them */
            nd_batch_set_sorted_ids(batch, 0);
        if (status == ND_OK)
            status = nd_index_new(&index, &opts);
    Py_END_ALLOW_THREADS
    if (status != ND_OK) {
        ndpy_raise_status(status, "scan");
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
        ndpy_raise_status(status, "scan");
        goto done;
    }
    {
        /* the cyclic GC paused while the clusters become lists: their
         * hundreds of thousands of containers (100k syndicated documents
         * in paragraphs: 46k groups of 276k units) set it off every 700,
         * and each time it walked the caller's objects too, the texts
         * among them (0.3 to 0.8 s of a 1.3-1.8 s call). Nothing made here
         * can be part of a cycle. (PyGC_Disable: Python 3.10 and later) */
#if PY_VERSION_HEX >= 0x030A0000
        int collecting = PyGC_Disable();
#endif
        result = clusters_to_list(clusters, unit == ND_UNIT_DOCUMENT ? NULL : &units,
                                  opts.measure == ND_MEASURE_CONTAINMENT);
#if PY_VERSION_HEX >= 0x030A0000
        if (collecting)
            PyGC_Enable();
#endif
    }
done:
    nd_clusters_free(clusters);
    nd_index_free(index);
    nd_batch_free(batch);
    unit_map_free(&units);
    Py_XDECREF(seq);
    Py_XDECREF(rest);
    return result;
}
