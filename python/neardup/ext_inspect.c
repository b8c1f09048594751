/* ext_inspect.c - what the detector sees: neardup.normalize (the tokens),
 * neardup.signature (MinHash values, little-endian bytes) and
 * neardup.explain (nd_explain as the dict `neardup explain --json` prints).
 */
#include "ext.h"

#include <stdio.h> /* snprintf */

/* ****  normalize, signature, explain  **** */

const char ndpy_normalize_doc[] =
    PyDoc_STR("normalize(text, profile='default')\n--\n\n"
              "The tokens neardup compares, in order: `text` (str or bytes) normalized with the\n"
              "profile ('default' or 'aggressive': ICU NFKC case folding, marks and letter\n"
              "variants as README describes) and cut into words. What `neardup normalize` prints.\n\n"
              ">>> import neardup\n"
              ">>> neardup.normalize('ＦＵＬＬ-width Straße!')\n"
              "['full', 'width', 'strasse']\n");

PyObject *ndpy_normalize(PyObject *self, PyObject *args, PyObject *kwargs)
{
    (void)self;
    static char text_kw[] = "text", profile_kw[] = "profile"; /* (char *: 3.11's PyArg API) */
    static char *keywords[] = {text_kw, profile_kw, NULL};
    PyObject *text, *profile_name = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|O:normalize", keywords, &text, &profile_name))
        return NULL;
    nd_profile profile = ND_PROFILE_DEFAULT;
    if (profile_name && ndpy_option_profile(profile_name, &profile) != 0)
        return NULL;
    pinned_text t;
    if (ndpy_pin_text(&t, text, -1) != 0)
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
        ndpy_raise_status(status, "normalize");
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

const char ndpy_signature_doc[] =
    PyDoc_STR("signature(text, **options)\n--\n\n"
              "The MinHash signature of `text`: num_perm (default 128) 32-bit values as bytes,\n"
              "little-endian (numpy.frombuffer(sig, dtype='<u4') reads it). The share of\n"
              "equal values of two signatures estimates their Jaccard similarity. Options:\n"
              "profile, shingle, num_perm, seed (threshold, bands and rows are accepted\n"
              "and change nothing here).");

PyObject *ndpy_signature(PyObject *self, PyObject *args, PyObject *kwargs)
{
    (void)self;
    PyObject *text;
    if (!PyArg_ParseTuple(args, "O:signature", &text))
        return NULL;
    nd_options opts;
    if (ndpy_parse_options(&opts, kwargs) != 0)
        return NULL;
    pinned_text t;
    if (ndpy_pin_text(&t, text, -1) != 0)
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
        return ndpy_raise_status(status, "signature");
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

/* A log10 probability, None for a probability of 0 (-infinity), as the
 * program writes null. */
static PyObject *log10_or_none(double x)
{
    if (isinf(x)) {
        Py_INCREF(Py_None);
        return Py_None;
    }
    return PyFloat_FromDouble(x);
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
        put(d, "b", side_dict(ids[1], e->tokens_b, e->shingles_b)) != 0 ||
        put(d, "profile", ndpy_profile_label(o)) != 0 || put(d, "shingle", PyUnicode_FromString(shingle)) != 0 ||
        put(d, "shared_shingles", PyLong_FromSize_t(e->shared_shingles)) != 0 ||
        put(d, "jaccard", PyFloat_FromDouble(e->jaccard)) != 0 ||
        put(d, "containment_a_in_b", PyFloat_FromDouble(e->containment_a_in_b)) != 0 ||
        put(d, "containment_b_in_a", PyFloat_FromDouble(e->containment_b_in_a)) != 0 ||
        put(d, "estimated_jaccard", PyFloat_FromDouble(e->estimated_jaccard)) != 0 ||
        put(d, "shingle_space", PyFloat_FromDouble(e->shingle_space)) != 0 ||
        put(d, "chance_jaccard_log10", log10_or_none(e->chance_jaccard_log10)) != 0 ||
        put(d, "chance_a_in_b_log10", log10_or_none(e->chance_a_in_b_log10)) != 0 ||
        put(d, "chance_b_in_a_log10", log10_or_none(e->chance_b_in_a_log10)) != 0 ||
        put(d, "bands", PyLong_FromUnsignedLong(e->bands)) != 0 ||
        put(d, "rows", PyLong_FromUnsignedLong(e->rows)) != 0 || put(d, "bands_collided", collided) != 0 ||
        put(d, "candidate", PyBool_FromLong(e->candidate)) != 0 ||
        put(d, "measure", PyUnicode_FromString(o->measure == ND_MEASURE_CONTAINMENT ? "containment" : "jaccard")) !=
            0 ||
        put(d, "min_shingles", PyLong_FromUnsignedLong(o->min_shingles)) != 0 ||
        put(d, "threshold", PyFloat_FromDouble(o->threshold)) != 0 || put(d, "match", PyBool_FromLong(e->match)) != 0 ||
        put(d, "runs", runs) != 0 || put(d, "runs_complete", PyBool_FromLong(!e->runs_too_many)) != 0) {
        Py_DECREF(d);
        return NULL;
    }
    return d;
}

const char ndpy_explain_doc[] =
    PyDoc_STR("explain(a, b, *, ids=('a', 'b'), **options)\n--\n\n"
              "Why two texts match or not, as `neardup explain --json` reports it: a dict with\n"
              "'jaccard' (exact), 'containment_a_in_b', 'containment_b_in_a', 'estimated_jaccard'\n"
              "(MinHash), 'bands_collided', 'candidate', 'match', and 'runs': the longest runs\n"
              "of tokens both share, each with its byte spans [start, end) in the UTF-8 of a\n"
              "and of b ('a', 'b') and a preview ('text'); 'a' and 'b' also name the texts\n"
              "(`ids`) with their token and shingle counts.");

PyObject *ndpy_explain(PyObject *self, PyObject *args, PyObject *kwargs)
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
    if (ndpy_split_kwargs(kwargs, names, values, &rest) != 0 || ndpy_parse_options(&opts, rest) != 0)
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
    if (!ids[0] || !ids[1] || ndpy_pin_text(&ta, a, -1) != 0 || ndpy_pin_text(&tb, b, -1) != 0)
        goto done;
    int status;
    Py_BEGIN_ALLOW_THREADS
        status = nd_explain(&e, &opts, ta.data, ta.len, tb.data, tb.len, 10);
    Py_END_ALLOW_THREADS
    if (status != ND_OK) {
        ndpy_raise_status(status, "explain");
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
