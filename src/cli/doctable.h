/* doctable.h - the documents of a run: ids, and in unit mode where each
 * unit comes from (doctable.c). */
#ifndef ND_CLI_DOCTABLE_H
#define ND_CLI_DOCTABLE_H

#include <stddef.h> /* size_t */

#include "neardup.h" /* nd_span */

#include "arena.h"

typedef struct doctable {
    char **ids; /* per document, in id_text */
    size_t count, ids_capacity;
    arena id_text;
    size_t *unit_doc;   /* per unit (index entry in unit mode): its document */
    nd_span *unit_span; /* and its span in the document's text */
    size_t unit_count, unit_doc_capacity, unit_span_capacity;
} doctable;

/* Zero-initialize, then add documents in order. Each returns 0, or -1 when
 * out of memory (not reported). */
int doctable_add(doctable *t, const char *id);
int doctable_add_unit(doctable *t, size_t doc, nd_span span);
/* Room for n more units: doctable_put_unit() adds them without checking. */
int doctable_reserve_units(doctable *t, size_t n);
void doctable_free(doctable *t);

/* doctable_add_unit() after doctable_reserve_units() made room. */
static inline void doctable_put_unit(doctable *t, size_t doc, nd_span span)
{
    t->unit_doc[t->unit_count] = doc;
    t->unit_span[t->unit_count] = span;
    t->unit_count++;
}

#endif /* ND_CLI_DOCTABLE_H */
