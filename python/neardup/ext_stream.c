/* ext_stream.c - neardup.Deduplicator over nd_stream: texts added one at a
 * time (add, query, is_duplicate) or many at once (add_many, sketched on
 * nd_batch's threads). One Python thread at a time uses a stream: a lock
 * per object, taken with the GIL released when contended. The ids of kept
 * texts live in a list parallel to the stream's kept texts; they are put in
 * before the stream can keep a text (appending can fail, dropping cannot),
 * so the two never drift apart.
 */
#include "ext.h"

#include <pythread.h> /* PyThread_allocate_lock */
#include <unistd.h>   /* getpid */

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
    if (ndpy_parse_options(&self->opts, kwargs) != 0)
        return -1;
    if (self->opts.measure != ND_MEASURE_JACCARD) {
        PyErr_SetString(PyExc_ValueError, "Deduplicator compares by Jaccard (measure='jaccard'); containment needs "
                                          "every pair that can match: use scan(measure='containment')");
        return -1;
    }
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
        ndpy_raise_status(status, "Deduplicator");
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
        ndpy_raise_status(status, "Deduplicator");
        return -1;
    }
    return status;
}

/* query() and is_duplicate(): 1, 0 or -1 (exception set). */
static int dedup_ask(Deduplicator *self, PyObject *text, nd_stream_match *m)
{
    pinned_text t;
    if (dedup_ready(self) != 0 || ndpy_pin_text(&t, text, -1) != 0)
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
    return ndpy_new_match(PyList_GET_ITEM(self->ids, (Py_ssize_t)m->kept), m->jaccard);
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
    if (dedup_ready(self) != 0 || ndpy_pin_text(&t, text, -1) != 0)
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
static int stream_chunk(Deduplicator *self, text_chunk *chunk, int *found, nd_stream_match *matches, size_t *done)
{
    *done = 0;
    int status = ndpy_chunk_sketch(chunk, self->batch);
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
        ndpy_raise_status(status, "Deduplicator.add_many");
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
    if (dedup_ready(self) != 0 || ndpy_parse_threads(threads_obj, &threads) != 0)
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
    if (PyUnicode_Check(ids) || PyBytes_Check(ids)) {
        /* a str is a sequence, of its characters: one id each, as scan refuses it */
        PyErr_SetString(PyExc_TypeError, "ids must be a sequence of ids, not one str or bytes");
        goto done;
    }
    if (ids != Py_None) {
        id_seq = PySequence_Fast(ids, "ids must be a sequence");
        if (!id_seq)
            goto done;
        if (PySequence_Fast_GET_SIZE(id_seq) != n) {
            PyErr_Format(PyExc_ValueError, "ids has %zd entries for %zd texts", PySequence_Fast_GET_SIZE(id_seq), n);
            goto done;
        }
        if (PyList_Check(id_seq)) {
            /* a copy: the ids are read after the GIL was let go
             * (add_chunk), when another thread may have shrunk the list */
            PyObject *copy = PyList_GetSlice(id_seq, 0, n);
            Py_SETREF(id_seq, copy);
            if (!id_seq)
                goto done;
        }
    }
    out = PyList_New(0);
    chunk = PyMem_Calloc(1, sizeof *chunk);
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
        ndpy_raise_status(status, "Deduplicator.add_many");
    for (Py_ssize_t first = 0; !PyErr_Occurred() && first < n; first += SCAN_CHUNK) {
        Py_ssize_t count = n - first < SCAN_CHUNK ? n - first : SCAN_CHUNK;
        if (PyErr_CheckSignals() != 0 || ndpy_chunk_fill(chunk, seq, first, count, n) != 0)
            break;
        add_chunk(self, chunk, id_seq, first, found, matches, out);
        ndpy_chunk_release(chunk);
    }
    PyThread_release_lock(self->lock);
done:
    ndpy_chunk_free(chunk);
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
                        ">>> import neardup\n"
                        ">>> d = neardup.Deduplicator(threshold=0.8)\n"
                        ">>> d.add('the quick brown fox jumps over the lazy dog', id='a') is None\n"
                        "True\n"
                        ">>> d.add('The quick brown fox jumps over the lazy dog!', id='b')\n"
                        "neardup.Match(id='a', jaccard=1.0)\n");

PyTypeObject ndpy_DeduplicatorType = {
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
