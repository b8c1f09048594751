/* doctable.h - the documents of a run: ids, and in unit mode where each
 * unit comes from (doctable.c). */
#ifndef ND_CLI_DOCTABLE_H
#define ND_CLI_DOCTABLE_H

#include <assert.h> /* assert */
#include <stddef.h> /* size_t */
#include <stdint.h> /* uint32_t */

#include "neardup.h" /* nd_span */

#include "arena.h"

/* A unit's span in 8 bytes: its start and length in 32 bits each, or
 * start UINT32_MAX when either does not fit (a text past 4 GiB): the span
 * is then in the doctable's list of wide spans. */
typedef struct doctable_span {
    uint32_t start, len;
} doctable_span;

/* A span that does not fit in a doctable_span, and its unit. */
typedef struct doctable_wide_span {
    size_t unit;
    nd_span span;
} doctable_wide_span;

typedef struct doctable {
    char **ids; /* per document, in id_text */
    size_t count, ids_capacity;
    arena id_text;
    /* per unit (index entry in unit mode): its document, and its span in
     * the document's text; 12 bytes a unit (a paragraph mode's millions
     * of units are fresh memory to touch) */
    uint32_t *unit_doc;
    doctable_span *unit_span;
    size_t unit_count, unit_capacity;
    doctable_wide_span *wide; /* in unit order */
    size_t wide_count, wide_capacity;
} doctable;

/* Zero-initialize, then add documents in order. Each returns 0, or -1 when
 * out of memory (not reported). */
int doctable_add(doctable *t, const char *id);
/* Add a unit of document `doc`: -1 also when doc >= UINT32_MAX (documents
 * are numbered in 32 bits in unit mode, as the index's texts are). */
int doctable_add_unit(doctable *t, size_t doc, nd_span span);
/* Room for n more units: doctable_put_unit() adds them without growing. */
int doctable_reserve_units(doctable *t, size_t n);
void doctable_free(doctable *t);

/* doctable_put_unit's rare case: a span past 32 bits. 0, or -1 when out
 * of memory. */
int doctable_put_wide_unit(doctable *t, size_t doc, nd_span span);
/* doctable_unit_span's rare case. */
nd_span doctable_wide_span_of(const doctable *t, size_t unit);

/* doctable_add_unit() after doctable_reserve_units() made room: 0, or -1
 * when out of memory (a span past 32 bits only). */
static inline int doctable_put_unit(doctable *t, size_t doc, nd_span span)
{
    size_t len = span.end - span.start;
    assert(doc < UINT32_MAX);
    if (span.start >= UINT32_MAX || len > UINT32_MAX)
        return doctable_put_wide_unit(t, doc, span);
    t->unit_doc[t->unit_count] = (uint32_t)doc;
    t->unit_span[t->unit_count] = (doctable_span){(uint32_t)span.start, (uint32_t)len};
    t->unit_count++;
    return 0;
}

/* Unit u's document. */
static inline size_t doctable_unit_doc(const doctable *t, size_t u)
{
    return t->unit_doc[u];
}

/* Unit u's span in its document's text. */
static inline nd_span doctable_unit_span(const doctable *t, size_t u)
{
    doctable_span s = t->unit_span[u];
    if (s.start == UINT32_MAX)
        return doctable_wide_span_of(t, u);
    return (nd_span){s.start, (size_t)s.start + s.len};
}

#endif /* ND_CLI_DOCTABLE_H */
