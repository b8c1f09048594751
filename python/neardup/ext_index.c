/* ext_index.c - neardup.Index over the persistent index (nd_db, on LMDB),
 * compiled when the library has it (ND_DB_FORMAT). Each add() or remove()
 * is one run committed before it returns (autocommit), or runs span calls
 * until commit()/close(); the context manager commits on a clean exit and
 * discards the run on an exception. Options named for an existing index
 * must agree with its own (nd_db_config.given), as the program requires.
 */
#include "ext.h"

#ifdef ND_DB_FORMAT

#include <pythread.h> /* PyThread_allocate_lock */
#include <stdio.h>    /* snprintf */
#include <unistd.h>   /* sysconf */

/* ****  Index  **** */

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

static void index_acquire(Index *self)
{
    if (!PyThread_acquire_lock(self->lock, NOWAIT_LOCK)) {
        Py_BEGIN_ALLOW_THREADS
            PyThread_acquire_lock(self->lock, WAIT_LOCK);
        Py_END_ALLOW_THREADS
    }
}

/* Take the index's lock for a call that uses it: 0, or -1 with ValueError
 * set (and the lock not held) when the index was closed meanwhile. The
 * check before waiting is not enough: close() on another thread may take
 * the lock first and free the handle while this call waits for it. */
static int index_lock(Index *self)
{
    index_acquire(self);
    if (!self->db) {
        PyThread_release_lock(self->lock);
        PyErr_SetString(PyExc_ValueError, "the index is closed");
        return -1;
    }
    return 0;
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
           ((given & GIVEN_THRESHOLD) ? ND_OPT_THRESHOLD : 0) | ((given & GIVEN_SEED) ? ND_OPT_SEED : 0) |
           ((given & GIVEN_MEASURE) ? ND_OPT_MEASURE : 0) | ((given & GIVEN_MIN_SHINGLES) ? ND_OPT_MIN_SHINGLES : 0);
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
    static const char *const names[] = {"create", "readonly", "threads", "autocommit", "wait", "verify", NULL};
    PyObject *values[6], *rest = NULL;
    nd_options opts;
    unsigned given = 0;
    if (ndpy_split_kwargs(kwargs, names, values, &rest) != 0)
        return -1;
    int rc = -1;
    PyObject *path = NULL;
    if (values[0])
        create_obj = values[0];
    int create = PyObject_IsTrue(create_obj), readonly = values[1] ? PyObject_IsTrue(values[1]) : 0;
    int autocommit = values[3] ? PyObject_IsTrue(values[3]) : 1, wait = values[4] ? PyObject_IsTrue(values[4]) : 0;
    int verify = values[5] ? PyObject_IsTrue(values[5]) : 1;
    if (create < 0 || readonly < 0 || autocommit < 0 || wait < 0 || verify < 0 ||
        ndpy_parse_threads(values[2], &self->threads) != 0 || ndpy_parse_options_given(&opts, &given, rest) != 0 ||
        !PyUnicode_FSConverter(path_obj, &path))
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
    /* verify: the pages checked before LMDB reads them, as a damaged one
     * would end the interpreter (SIGBUS, SIGSEGV, abort) where the program
     * reports it (src/cli/dbdamage.c); a signal cannot become an exception */
    config.flags = (readonly ? 0 : ND_DB_WRITE) | (create ? ND_DB_CREATE : 0) | (wait ? ND_DB_WAIT : 0) |
                   (verify ? ND_DB_VERIFY : 0);
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

PyDoc_STRVAR(index_add_doc, "add(texts, ids, *, replace=False)\n--\n\n"
                            "Add texts (str or bytes) under their ids (str or bytes, one per text), sketched\n"
                            "on the index's threads. An id already in the index is a ValueError (nothing of\n"
                            "this call is added) unless replace=True. With autocommit (the default) the\n"
                            "texts are committed before add() returns, and Ctrl-C stops it with nothing added.");

/* With autocommit a call is its run, so it goes in chunks with Ctrl-C
 * looked for between them: interrupted (or failing in a later chunk: an
 * id already there), the run is abandoned and the index stays as it was,
 * as for one call. Without autocommit the run holds earlier calls too,
 * which an interruption must not discard: one call, uninterrupted.
 * Returns the status; interrupted: ND_OK with the exception set. */
static int add_chunks(Index *self, const pinned_list *t, const pinned_list *i, unsigned flags)
{
    size_t n = (size_t)t->count, chunk = self->autocommit ? SCAN_CHUNK : (n ? n : 1);
    int status = ND_OK;
    for (size_t first = 0; status == ND_OK && (first == 0 || first < n); first += chunk) {
        if (first > 0 && PyErr_CheckSignals() != 0) {
            Py_BEGIN_ALLOW_THREADS
                nd_db_abandon(self->db);
            Py_END_ALLOW_THREADS
            return ND_OK;
        }
        size_t count = n - first < chunk ? n - first : chunk, failed = 0;
        Py_BEGIN_ALLOW_THREADS
            status = nd_db_add_texts(&failed, self->db, i->data + first, i->lens + first, t->data + first,
                                     t->lens + first, count, flags, self->threads);
            if (status == ND_EEXIST && first > 0)
                nd_db_abandon(self->db); /* nothing of this call is added */
        Py_END_ALLOW_THREADS
    }
    if (status == ND_OK && self->autocommit) {
        Py_BEGIN_ALLOW_THREADS
            status = nd_db_commit(self->db);
        Py_END_ALLOW_THREADS
    }
    return status;
}

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
    pinned_list t, i;
    if (ndpy_pin_list(&t, texts, "texts") != 0)
        return NULL;
    if (ndpy_pin_list(&i, ids, "ids") != 0) {
        ndpy_unpin_list(&t);
        return NULL;
    }
    PyObject *result = NULL;
    if (i.count != t.count) {
        PyErr_Format(PyExc_ValueError, "ids has %zd entries for %zd texts", i.count, t.count);
        goto done;
    }
    if (index_lock(self) != 0)
        goto done;
    int status = add_chunks(self, &t, &i, replace ? ND_DB_REPLACE : 0);
    if (status != ND_OK)
        raise_index(self, status);
    PyThread_release_lock(self->lock);
    if (status == ND_OK && PyErr_Occurred())
        status = ND_EINVAL; /* interrupted: the run was abandoned */
    if (status == ND_OK) {
        Py_INCREF(Py_None);
        result = Py_None;
    }
done:
    ndpy_unpin_list(&t);
    ndpy_unpin_list(&i);
    return result;
}

PyDoc_STRVAR(index_query_doc, "query(texts, *, threshold=None, top=0)\n--\n\n"
                              "For each text, the indexed documents it duplicates: a list of Match(id, jaccard),\n"
                              "each with .query_in_match and .match_in_query (the exact containments),\n"
                              "highest Jaccard first (a containment index: the larger containment first,\n"
                              "then Jaccard), each exact and at least the threshold (default: the\n"
                              "index's); at most `top` of them (0: all). One list per text, in order.\n"
                              "An id comes back as a str, or as the bytes given for an id that is not UTF-8.");

/* An id as it was given: a str was stored as its UTF-8 with lone
 * surrogates passed through (as texts are), so it decodes back with
 * "surrogatepass" (U+D800 stays U+D800, where "surrogateescape" made it
 * three other characters that remove() could not find); bytes that are
 * not UTF-8 (no str gives them) come back as those bytes. Escaping them
 * as os.fsdecode does made two ids one: b"\xff" came back as "\udcff",
 * the very str of the id "\udcff", stored apart as ED B3 BF. */
static PyObject *decode_id(const char *id, size_t len)
{
    PyObject *s = PyUnicode_DecodeUTF8(id, (Py_ssize_t)len, "surrogatepass");
    if (s || !PyErr_ExceptionMatches(PyExc_UnicodeDecodeError))
        return s;
    PyErr_Clear();
    return PyBytes_FromStringAndSize(id, (Py_ssize_t)len);
}

/* out[first + i] = the matches of query i of `results`, i < count. 0, or
 * -1 with an exception set. */
static int fill_matches(PyObject *out, Py_ssize_t first, const nd_db_results *results, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        const nd_db_match *m;
        size_t found = nd_db_results_get(&m, results, i);
        PyObject *list = PyList_New((Py_ssize_t)found);
        if (!list)
            return -1;
        PyList_SET_ITEM(out, first + (Py_ssize_t)i, list);
        for (size_t k = 0; k < found; k++) {
            PyObject *id = decode_id(m[k].id, m[k].id_len);
            PyObject *match =
                id ? ndpy_new_match_full(id, m[k].jaccard, m[k].query_in_match, m[k].match_in_query, 1) : NULL;
            Py_XDECREF(id);
            if (!match)
                return -1;
            PyList_SET_ITEM(list, (Py_ssize_t)k, match);
        }
    }
    return 0;
}

static PyObject *index_query(Index *self, PyObject *args, PyObject *kwargs)
{
    static char texts_kw[] = "texts", threshold_kw[] = "threshold", top_kw[] = "top";
    static char *keywords[] = {texts_kw, threshold_kw, top_kw, NULL};
    PyObject *texts, *threshold_obj = Py_None, *top_obj = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|$OO:query", keywords, &texts, &threshold_obj, &top_obj))
        return NULL;
    /* top: an int (TypeError otherwise), 0 for all; one past what a list
     * can hold keeps every match, as 0 does (not an OverflowError) */
    size_t top = 0;
    if (top_obj && PyBool_Check(top_obj)) { /* True read as 1 */
        PyErr_SetString(PyExc_TypeError, "top must be an int, not bool");
        return NULL;
    }
    if (top_obj) {
        PyObject *as_int = PyNumber_Index(top_obj);
        if (!as_int)
            return NULL;
        int overflow = 0;
        long long value = PyLong_AsLongLongAndOverflow(as_int, &overflow);
        Py_DECREF(as_int);
        if (value == -1 && !overflow && PyErr_Occurred())
            return NULL;
        if (overflow < 0 || (!overflow && value < 0)) {
            PyErr_SetString(PyExc_ValueError, "top must be 0 (all) or more");
            return NULL;
        }
        top = overflow > 0 || (unsigned long long)value > SIZE_MAX ? 0 : (size_t)value;
    }
    if (index_open_check(self) != 0)
        return NULL;
    nd_db_query_options qo = ND_DB_QUERY_INIT;
    if (PyBool_Check(threshold_obj)) { /* True read as 1.0: a mistake, as for the index's own options */
        PyErr_SetString(PyExc_TypeError, "threshold must be a number, not bool");
        return NULL;
    }
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
    qo.top = top;
    qo.threads = self->threads ? self->threads : (unsigned)online_cpus();
    pinned_list pinned;
    if (ndpy_pin_list(&pinned, texts, "texts") != 0)
        return NULL;
    Py_ssize_t n = pinned.count;
    PyObject *out = PyList_New(n);
    /* in chunks, Ctrl-C looked for between them (a query only reads) */
    for (Py_ssize_t first = 0; out && first < n; first += SCAN_CHUNK) {
        if (first > 0 && PyErr_CheckSignals() != 0) {
            Py_CLEAR(out);
            break;
        }
        size_t count = (size_t)(n - first < SCAN_CHUNK ? n - first : SCAN_CHUNK);
        nd_db_results *results = NULL;
        if (index_lock(self) != 0) {
            Py_CLEAR(out);
            break;
        }
        int status;
        Py_BEGIN_ALLOW_THREADS
            status = nd_db_query_texts(&results, self->db, pinned.data + first, pinned.lens + first, count, &qo);
        Py_END_ALLOW_THREADS
        if (status != ND_OK)
            raise_index(self, status);
        PyThread_release_lock(self->lock);
        if (status != ND_OK || fill_matches(out, first, results, count) != 0)
            Py_CLEAR(out);
        nd_db_results_free(results);
    }
    ndpy_unpin_list(&pinned);
    return out;
}

PyDoc_STRVAR(index_remove_doc, "remove(ids)\n--\n\n"
                               "Remove the documents with these ids (they stop matching); returns how many\n"
                               "were removed. An id not in the index is a KeyError (nothing is removed).");

static PyObject *index_remove(Index *self, PyObject *ids)
{
    pinned_list i;
    if (index_open_check(self) != 0 || ndpy_pin_list(&i, ids, "ids") != 0)
        return NULL;
    if (index_lock(self) != 0) {
        ndpy_unpin_list(&i);
        return NULL;
    }
    size_t removed = 0;
    int status;
    Py_BEGIN_ALLOW_THREADS
        status = nd_db_remove(&removed, self->db, i.data, i.lens, (size_t)i.count);
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
    ndpy_unpin_list(&i);
    return status == ND_OK ? PyLong_FromSize_t(removed) : NULL;
}

PyDoc_STRVAR(index_commit_doc, "commit()\n--\n\n"
                               "Make the changes since the last commit durable and visible to other readers\n"
                               "(needed only with autocommit=False; close() and leaving a `with` block without\n"
                               "an exception commit too).");

static PyObject *index_commit(Index *self, PyObject *unused)
{
    (void)unused;
    if (index_open_check(self) != 0 || index_lock(self) != 0)
        return NULL;
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
    index_acquire(self);
    if (!self->db) { /* closed by another thread meanwhile */
        PyThread_release_lock(self->lock);
        Py_RETURN_NONE;
    }
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
    if (index_open_check(self) != 0 || index_lock(self) != 0)
        return -1;
    nd_db_stats st;
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
    int contain = o->measure == ND_MEASURE_CONTAINMENT;
    PyObject *d = Py_BuildValue("{s:d,s:s,s:s,s:I,s:I,s:I,s:K,s:s}", "threshold", o->threshold, "profile",
                                nd_profile_name(o->profile), "shingle", shingle, "num_perm", o->num_perm, "bands",
                                o->bands, "rows", o->rows, "seed", (unsigned long long)o->seed, "measure",
                                contain ? "containment" : "jaccard");
    /* min_shingles only where it means something, as `index stats` shows
     * it: a Jaccard index's 0 was no value Index() or scan() take back
     * (Index(path, **ix.options) raised ValueError) */
    if (d && contain) {
        PyObject *m = PyLong_FromUnsignedLong(o->min_shingles);
        if (!m || PyDict_SetItemString(d, "min_shingles", m) != 0)
            Py_CLEAR(d);
        Py_XDECREF(m);
    }
    return d;
}

PyDoc_STRVAR(index_stats_doc, "stats()\n--\n\n"
                              "What `neardup index stats` reports: documents, removed, bytes on disk, the\n"
                              "options and versions the index was made with.");

static PyObject *index_stats(Index *self, PyObject *unused)
{
    (void)unused;
    if (index_open_check(self) != 0 || index_lock(self) != 0)
        return NULL;
    nd_db_stats st;
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
    if (index_open_check(self) != 0 || index_lock(self) != 0)
        return NULL;
    nd_options options = *nd_db_options(self->db); /* copied under the lock: close() frees the handle */
    PyThread_release_lock(self->lock);
    return options_dict(&options);
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
             "Index(path, create=False, *, readonly=False, threads=0, autocommit=True, wait=False, verify=True, "
             "**options)\n--\n\n"
             "The persistent index on disk (what `neardup index add` and `neardup query` use):\n"
             "add(texts, ids), query(texts) -> list of lists of Match, remove(ids), len(),\n"
             "stats(), commit(), close(); a context manager (commits on a clean exit).\n\n"
             "create=True makes the index when `path` does not exist, with the options given\n"
             "(threshold, profile, shingle, num_perm, bands, rows, seed, measure ('jaccard' or\n"
             "'containment'), min_shingles; fixed from then on).\n"
             "autocommit=False: one run spans calls until commit(); meanwhile add() and\n"
             "remove() see what the run did (an id added is taken, one removed is gone),\n"
             "while query(), len() and stats() answer from the index as last committed.\n"
             "For an existing index every option given must agree with the index's own, as\n"
             "the program requires: a mismatch is a ValueError naming the option and both\n"
             "values. No index at path: FileNotFoundError; not a neardup index, another\n"
             "format, a full disk: OSError; another writer: BlockingIOError (or wait=True).\n"
             "verify=True reads every page of the index's data.mdb at open and checks it:\n"
             "a damaged file is an OSError naming the page, not a crash (LMDB has no\n"
             "checksums); verify=False skips that read.");

PyTypeObject ndpy_IndexType = {
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
