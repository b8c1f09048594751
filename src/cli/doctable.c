/* doctable.c - the documents of a run, as output needs them after
 * clustering: each document's id (clusters name texts by number), and in
 * unit mode each unit's document and byte span. The ids live in one arena,
 * so a run of millions of documents makes no allocation per id. */
#include "doctable.h"

#include <stdlib.h> /* realloc, free */

static int grow(void **p, size_t *capacity, size_t needed, size_t size)
{
    if (needed <= *capacity)
        return 0;
    size_t cap = *capacity ? *capacity * 2 : 1024;
    while (cap < needed)
        cap *= 2;
    void *grown = realloc(*p, cap * size);
    if (!grown)
        return -1;
    *p = grown;
    *capacity = cap;
    return 0;
}

int doctable_add(doctable *t, const char *id)
{
    if (grow((void **)&t->ids, &t->ids_capacity, t->count + 1, sizeof *t->ids) != 0)
        return -1;
    t->ids[t->count] = arena_strdup(&t->id_text, id);
    if (!t->ids[t->count])
        return -1;
    t->count++;
    return 0;
}

int doctable_reserve_units(doctable *t, size_t n)
{
    if (grow((void **)&t->unit_doc, &t->unit_doc_capacity, t->unit_count + n, sizeof *t->unit_doc) != 0 ||
        grow((void **)&t->unit_span, &t->unit_span_capacity, t->unit_count + n, sizeof *t->unit_span) != 0)
        return -1;
    return 0;
}

int doctable_add_unit(doctable *t, size_t doc, nd_span span)
{
    if (doctable_reserve_units(t, 1) != 0)
        return -1;
    doctable_put_unit(t, doc, span);
    return 0;
}

void doctable_free(doctable *t)
{
    free(t->ids);
    arena_free(&t->id_text);
    free(t->unit_doc);
    free(t->unit_span);
}
