/* ext.h - what the files of the neardup extension share (they are one
 * CPython module, neardup._neardup, built from ext_*.c and _neardup.c):
 * status codes to exceptions, option keywords to nd_options, texts pinned
 * for use without the GIL, the Match type, and each file's entry points.
 * Everything here is internal to the module (hidden symbols); the ndpy_
 * prefix keeps its names apart from the library's nd_. */
#ifndef NDPY_EXT_H
#define NDPY_EXT_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <neardup.h>

/* Texts handled per library call (scan, add_many): large enough to keep
 * every thread busy, small enough that the UTF-8 copies of one chunk are a
 * few megabytes. */
enum { SCAN_CHUNK = 8192 };

/* ****  ext_common.c  **** */

/* Set the Python exception for a library status; returns NULL. */
PyObject *ndpy_raise_status(int status, const char *what);

/* An int keyword in [min, max] (TypeError or ValueError naming it). */
int ndpy_option_int(PyObject *value, const char *name, long min, long max, unsigned *out);
int ndpy_option_profile(PyObject *value, nd_profile *out);

/* Which options a caller named (for an existing persistent index, those
 * must agree with its own). */
enum {
    GIVEN_PROFILE = 1u << 0,
    GIVEN_SHINGLE = 1u << 1,
    GIVEN_NUM_PERM = 1u << 2,
    GIVEN_BANDS = 1u << 3,
    GIVEN_THRESHOLD = 1u << 4,
    GIVEN_SEED = 1u << 5,
    GIVEN_MEASURE = 1u << 6,
    GIVEN_MIN_SHINGLES = 1u << 7
};

/* Fill *opts from the option keywords in kwargs (which may be NULL) and
 * resolve it; *given (may be NULL) receives the GIVEN_* bits of the options
 * named. Other keys are a TypeError. 0, or -1 with an exception set. */
int ndpy_parse_options_given(nd_options *opts, unsigned *given, PyObject *kwargs);
int ndpy_parse_options(nd_options *opts, PyObject *kwargs);

/* Take the keywords `names` (NULL-terminated) out of a copy of kwargs:
 * values[i] gets each (borrowed) or NULL, *rest a new dict of the others
 * (NULL when kwargs is NULL). 0 or -1. */
int ndpy_split_kwargs(PyObject *kwargs, const char *const *names, PyObject **values, PyObject **rest);

/* threads= (0 .. 1024; 0, the default, is all processors). */
int ndpy_parse_threads(PyObject *value, unsigned *threads);

/* "default/1": the profile and its version, as outputs name it. */
PyObject *ndpy_profile_label(const nd_options *opts);

/* A text pinned for use without the GIL: `owner` is a new reference (the
 * str or bytes itself, or a temporary UTF-8 bytes object). */
typedef struct pinned_text {
    PyObject *owner;
    const char *data;
    size_t len;
} pinned_text;

/* Pin a str (UTF-8; lone surrogates pass as ill-formed bytes) or bytes;
 * TypeError naming texts[position] (position < 0: "a text") otherwise. */
int ndpy_pin_text(pinned_text *out, PyObject *obj, Py_ssize_t position);

/* Up to SCAN_CHUNK texts of a sequence, pinned. A str that is not ASCII
 * waits for its UTF-8 until it is sketched (ndpy_chunk_sketch): ucs[i] is
 * then its code points (kinds[i] bytes each, lens[i] of them); for any
 * other text ucs[i] is NULL and data[i], lens[i] are its UTF-8. */
typedef struct text_chunk {
    PyObject *owners[SCAN_CHUNK];
    const char *data[SCAN_CHUNK];
    size_t lens[SCAN_CHUNK];
    const void *ucs[SCAN_CHUNK];
    unsigned char kinds[SCAN_CHUNK];
    size_t count;
    size_t pending; /* texts waiting for their UTF-8 */
    /* ext_utf8.c: one UTF-8 buffer per batch thread, kept from chunk to chunk */
    char **scratch;
    size_t *scratch_capacity;
    unsigned scratch_count;
} text_chunk;

/* Pin items [first, first + n) of a PySequence_Fast sequence (n <=
 * SCAN_CHUNK) that had `total` items when the call began; 0 or -1 (nothing
 * left pinned). A list another thread resized meanwhile (the GIL is let
 * go between chunks) raises RuntimeError, where reading on would go past
 * its end. Make the chunk with PyMem_Calloc, free it with ndpy_chunk_free. */
int ndpy_chunk_fill(text_chunk *c, PyObject *seq, Py_ssize_t first, Py_ssize_t n, Py_ssize_t total);
void ndpy_chunk_release(text_chunk *c);

/* ext_utf8.c: nd_batch_sketch of the chunk's texts, the str ones encoded
 * to UTF-8 on the batch's threads; callable without the GIL. The
 * library's status. */
int ndpy_chunk_sketch(text_chunk *c, nd_batch *batch);

/* Free a chunk (released or never filled) and its buffers; NULL is fine. */
void ndpy_chunk_free(text_chunk *c);

/* A whole sequence of texts (or ids) pinned: data[i] and lens[i] for
 * i < count. Zero-initialize; release with ndpy_unpin_list(). */
typedef struct pinned_list {
    PyObject *seq; /* the argument as a PySequence_Fast */
    pinned_text *items;
    const char **data;
    size_t *lens;
    Py_ssize_t count;
} pinned_list;

/* Pin every item of `obj` (a sequence or iterable of str or bytes, not one
 * str or bytes); `what` names the argument in errors ("texts", "ids").
 * 0, or -1 with an exception set (nothing left pinned). */
int ndpy_pin_list(pinned_list *out, PyObject *obj, const char *what);
void ndpy_unpin_list(pinned_list *list);

/* neardup.Match(id, jaccard), a struct sequence. */
extern PyTypeObject ndpy_MatchType;
extern PyStructSequence_Desc ndpy_match_desc;
PyObject *ndpy_new_match(PyObject *id, double jaccard);
/* With the containments (with_containment = 1), or None for them. */
PyObject *ndpy_new_match_full(PyObject *id, double jaccard, double query_in_match, double match_in_query,
                              int with_containment);

/* ****  The functions and types of the module  **** */

/* ext_scan.c */
PyObject *ndpy_scan(PyObject *self, PyObject *args, PyObject *kwargs);
extern const char ndpy_scan_doc[];

/* ext_inspect.c */
PyObject *ndpy_normalize(PyObject *self, PyObject *args, PyObject *kwargs);
PyObject *ndpy_signature(PyObject *self, PyObject *args, PyObject *kwargs);
PyObject *ndpy_explain(PyObject *self, PyObject *args, PyObject *kwargs);
extern const char ndpy_normalize_doc[], ndpy_signature_doc[], ndpy_explain_doc[];

/* ext_utf8.c */
PyObject *ndpy_utf8(PyObject *self, PyObject *texts);
extern const char ndpy_utf8_doc[];

/* ext_stream.c */
extern PyTypeObject ndpy_DeduplicatorType;

/* ext_index.c (only when the library has the persistent index) */
#ifdef ND_DB_FORMAT
extern PyTypeObject ndpy_IndexType;
#endif

#endif /* NDPY_EXT_H */
