/* neardup_explain.h - why two texts match or not (nd_explain).
 * Part of the public API, included by neardup.h after the declarations
 * it builds on: include neardup.h, not this file. Kept apart so that each
 * header holds one job. */
#ifndef NEARDUP_EXPLAIN_H
#define NEARDUP_EXPLAIN_H

#ifndef NEARDUP_H
#error "include <neardup.h>, not <neardup_explain.h>"
#endif

/* ****  Explaining a pair (explain.c)  **** */

/** A maximal run of equal tokens shared by two texts. */
typedef struct nd_shared_run {
    size_t tokens; /* its length in tokens */
    nd_span a, b;  /* its bytes in text A and in text B */
} nd_shared_run;

/** Why two texts match or not: everything `neardup explain` reports. */
typedef struct nd_explanation {
    size_t tokens_a, tokens_b;     /* tokens of each text */
    size_t shingles_a, shingles_b; /* distinct shingles of each text */
    size_t shared_shingles;        /* |S_A ∩ S_B| */
    nd_shingle_kind shingle_kind;  /* the shingles used for A (words or chars; never AUTO) */
    unsigned shingle_size;
    double jaccard;            /* |S_A ∩ S_B| / |S_A ∪ S_B|: what scan verifies and reports */
    double containment_a_in_b; /* |S_A ∩ S_B| / |S_A|: how much of A is in B */
    double containment_b_in_a;
    double estimated_jaccard; /* share of equal MinHash values */
    /* The chance of a match (nd_chance_jaccard_log10(), ..._containment_log10()
     * over shingle_space possible shingles: the distinct words, or for
     * character shingles the characters and the space, of the two texts to
     * the power of the shingle size, at most 2^32), as log10; -INFINITY for
     * a probability of 0. */
    double shingle_space;
    double chance_jaccard_log10, chance_a_in_b_log10, chance_b_in_a_log10;
    unsigned bands, rows;
    unsigned *bands_collided; /* the bands whose keys agree, ascending */
    unsigned collided_count;
    int candidate;       /* the pair is proposed: a band collided, the sets are equal, or the measure is
                            containment (whose candidates are every pair that can match) */
    int match;           /* the pair matches under opts (nd_sets_match()) */
    size_t min_run;      /* runs shorter than this share no shingle and are left out */
    nd_shared_run *runs; /* the longest runs that do not overlap in A, longest first */
    size_t run_count;
    int runs_too_many; /* the texts share too many runs to rank (a tiny vocabulary): none given */
} nd_explanation;

/** Explain the pair (A, B): sketch both texts with `opts`, compare their
 * shingle sets exactly and by MinHash, find the LSH bands that collide and
 * the longest runs of tokens they share: every pair of positions with
 * equal tokens and unequal predecessors starts a maximal run; runs shorter
 * than min_run (the shingle size for word shingles, else 3) are left out;
 * then, longest first (ties: earlier in A, then in B), each run that does
 * not overlap a run already taken in A, up to `max_runs`. Texts that
 * share more runs than can be ranked in time linear in their length (over
 * a tiny vocabulary: runs.h gives the bound) get none, and runs_too_many.
 * @param[out] out the explanation; free it with nd_explanation_free()
 * @param opts options, resolved if they are not yet
 * @return ND_OK, ND_ENOMEM, ND_EINVAL or ND_EICU. */
int nd_explain(nd_explanation **out, const nd_options *opts, const char *a, size_t a_len, const char *b, size_t b_len,
               size_t max_runs);
void nd_explanation_free(nd_explanation *explanation);

#endif /* NEARDUP_EXPLAIN_H */
