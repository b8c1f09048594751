/* prefix_filter.h - which texts of a set can match a given one, without
 * comparing it with every one of them (prefix_filter.c): a large
 * component's members for a survivor (split.c), a large LSH key's texts for
 * each other (keygroups.c). Internal to the library. */
#ifndef ND_PREFIX_FILTER_H
#define ND_PREFIX_FILTER_H

#include <stddef.h> /* size_t */
#include <stdint.h> /* uint32_t */

/* The sorted shingle ids of member `member` and their number in *count,
 * which is always set. An empty text (*count 0) may give any pointer,
 * NULL too; NULL with *count > 0 is a read error (the caller keeps its
 * cause). */
typedef const uint32_t *(*nd_member_ids_fn)(void *ctx, size_t member, size_t *count);

typedef struct nd_prefix_filter {
    uint32_t *keys;          /* the table: every id of the members ... */
    uint32_t *starts;        /* ... where its prefix list begins in `lists` (capacity + 1) */
    unsigned char *occupied; /* a byte a slot */
    size_t capacity;         /* slots: a power of two */
    uint32_t *lists;         /* member positions, ascending in each list */
    uint32_t *stamp;         /* a member's last round as a candidate */
    uint32_t round;
    /* both ways (nd_prefix_filter_build's `both`) */
    uint32_t *full_starts;   /* per slot: where its list of every member with the id begins (capacity + 1) */
    uint32_t *full_lists;    /* member positions, ascending in each list */
    size_t *member_starts;   /* member i's slots are member_slots[member_starts[i] .. member_starts[i + 1]) */
    uint32_t *member_slots;  /* rarest first: the first member_prefix[i] are its prefix */
    uint32_t *member_prefix; /* per member */
    uint32_t *member_need;   /* per member: the overlap a match with a larger text needs (nd_min_overlap) */
    uint32_t *list_pos;      /* per entry of `lists`: where the id is in its member's order */
    uint32_t *full_pos;      /* per entry of `full_lists`: where the id is in its member's order */
    uint32_t *seen;          /* a member's last round met (marked or not) */
} nd_prefix_filter;

/* Index members 0 .. n - 1 (their ids read twice through ids(ctx, ...))
 * for a threshold under which a match needs an overlap x of two texts of
 * sizes a <= b with x / a reaching it (nd_min_overlap: every measure's
 * matches and covers, measure.h). One way (both = 0), for
 * nd_prefix_filter_candidates; both ways (both = 1, four more ints an id
 * of every member), for nd_prefix_filter_mark. Returns ND_OK; ND_ENOMEM;
 * ND_EIO when ids() failed (NULL with a count); or ND_EINVAL when no
 * filter can be exact (a threshold that an overlap of 0 reaches, or
 * 2^32 - 2 or more members or ids), the caller then comparing every
 * member. */
int nd_prefix_filter_build(nd_prefix_filter *pf, double threshold, size_t n, nd_member_ids_fn ids, void *ctx, int both);

/* One way: the positions of the members that a text with sorted ids
 * ids[0 .. count) may cover (it covers M only when the overlap reaches
 * M's own bound), among those with alive[position] set: written to out
 * (room for every member), ascending. Every member it covers is among
 * them. Returns how many. */
size_t nd_prefix_filter_candidates(nd_prefix_filter *pf, const uint32_t *ids, size_t count, const unsigned char *alive,
                                   uint32_t *out);

/* Both ways: mark the members that may match member q (every one that
 * matches it is marked; q may be); nd_prefix_filter_marked tells, until
 * the next mark. */
void nd_prefix_filter_mark(nd_prefix_filter *pf, size_t q);
static inline int nd_prefix_filter_marked(const nd_prefix_filter *pf, size_t member)
{
    return pf->stamp[member] == pf->round;
}

void nd_prefix_filter_free(nd_prefix_filter *pf);

#endif /* ND_PREFIX_FILTER_H */
