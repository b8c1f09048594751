/* _neardup.c - the CPython extension over libneardup: the module
 * neardup._neardup, the engine of the neardup package
 * (python/neardup/__init__.py adds Cluster, scan's ids and dedup). The
 * functions and types live in ext_*.c (see ext.h); this file names them.
 */
#include "ext.h"

/* ****  The module  **** */

static PyMethodDef module_methods[] = {
    {"_scan", (PyCFunction)(void (*)(void))ndpy_scan, METH_VARARGS | METH_KEYWORDS, ndpy_scan_doc},
    {"normalize", (PyCFunction)(void (*)(void))ndpy_normalize, METH_VARARGS | METH_KEYWORDS, ndpy_normalize_doc},
    {"signature", (PyCFunction)(void (*)(void))ndpy_signature, METH_VARARGS | METH_KEYWORDS, ndpy_signature_doc},
    {"explain", (PyCFunction)(void (*)(void))ndpy_explain, METH_VARARGS | METH_KEYWORDS, ndpy_explain_doc},
    {"_utf8", ndpy_utf8, METH_O, ndpy_utf8_doc},
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
    if (ndpy_MatchType.tp_name == NULL && PyStructSequence_InitType2(&ndpy_MatchType, &ndpy_match_desc) != 0)
        return NULL;
    if (PyType_Ready(&ndpy_DeduplicatorType) != 0)
        return NULL;
#ifdef ND_DB_FORMAT
    if (PyType_Ready(&ndpy_IndexType) != 0)
        return NULL;
#endif
    PyObject *m = PyModule_Create(&module_def);
    if (!m)
        return NULL;
    Py_INCREF(&ndpy_MatchType);
    Py_INCREF(&ndpy_DeduplicatorType);
    if (PyModule_AddObject(m, "Match", (PyObject *)&ndpy_MatchType) != 0 ||
        PyModule_AddObject(m, "Deduplicator", (PyObject *)&ndpy_DeduplicatorType) != 0 ||
        PyModule_AddStringConstant(m, "__version__", ND_VERSION) != 0) {
        Py_DECREF(m);
        return NULL;
    }
#ifdef ND_DB_FORMAT
    Py_INCREF(&ndpy_IndexType);
    if (PyModule_AddObject(m, "Index", (PyObject *)&ndpy_IndexType) != 0) {
        Py_DECREF(m);
        return NULL;
    }
#endif
    return m;
}
