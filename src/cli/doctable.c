/* doctable.c - the documents of a run, as output needs them after
 * clustering: each document's id (clusters name texts by number), and in
 * unit mode each unit's document and byte span. The ids live in one arena,
 * so a run of millions of documents makes no allocation per id. A unit
 * takes 12 bytes (its document and span in 32 bits each); the rare span
 * that does not fit, in a text past 4 GiB, is kept in a list of its own. */
#include "doctable.h"

#include <assert.h> /* assert */
#include <stdlib.h> /* free */

#include "alloc.h" /* nd_grow, nd_grow_huge */

int doctable_add(doctable *t, const char *id)
{
    if (nd_grow_huge((void **)&t->ids, &t->ids_capacity, t->count + 1, sizeof *t->ids) != 0)
        return -1;
    t->ids[t->count] = arena_strdup(&t->id_text, id);
    if (!t->ids[t->count])
        return -1;
    t->count++;
    return 0;
}

int doctable_reserve_units(doctable *t, size_t n)
{
    if (t->unit_count + n <= t->unit_capacity)
        return 0;
    size_t doc_capacity = t->unit_capacity;
    /* 12 bytes a unit, millions of units: huge pages (alloc.h) */
    if (nd_grow_huge((void **)&t->unit_doc, &doc_capacity, t->unit_count + n, sizeof *t->unit_doc) != 0 ||
        nd_grow_huge((void **)&t->unit_span, &t->unit_capacity, t->unit_count + n, sizeof *t->unit_span) != 0)
        return -1;
    return 0;
}

int doctable_add_unit(doctable *t, size_t doc, nd_span span)
{
    if (doc >= UINT32_MAX || doctable_reserve_units(t, 1) != 0)
        return -1;
    return doctable_put_unit(t, doc, span);
}

int doctable_put_wide_unit(doctable *t, size_t doc, nd_span span)
{
    if (nd_grow((void **)&t->wide, &t->wide_capacity, t->wide_count + 1, sizeof *t->wide) != 0)
        return -1;
    t->wide[t->wide_count++] = (doctable_wide_span){t->unit_count, span};
    t->unit_doc[t->unit_count] = (uint32_t)doc;
    t->unit_span[t->unit_count] = (doctable_span){UINT32_MAX, 0};
    t->unit_count++;
    return 0;
}

nd_span doctable_wide_span_of(const doctable *t, size_t unit)
{
    size_t lo = 0, hi = t->wide_count; /* the wide spans are in unit order */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (t->wide[mid].unit < unit)
            lo = mid + 1;
        else
            hi = mid;
    }
    assert(lo < t->wide_count && t->wide[lo].unit == unit);
    return t->wide[lo].span;
}

void doctable_free(doctable *t)
{
    nd_free(t->ids);
    arena_free(&t->id_text);
    nd_free(t->unit_doc);
    nd_free(t->unit_span);
    free(t->wide);
}
