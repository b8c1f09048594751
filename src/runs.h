/* runs.h - the longest runs of equal tokens two texts share (runs.c), for
 * nd_explain (explain.c). */
#ifndef ND_RUNS_H
#define ND_RUNS_H

#include <stddef.h> /* size_t */

#include "neardup.h" /* nd_tokens */

typedef struct nd_token_run {
    size_t a, b, len; /* token positions in A and B, and the run's length */
} nd_token_run;

/* The runs nd_explain reports, as positions: every maximal run of equal
 * tokens (a pair of positions with equal tokens whose predecessors are
 * not equal, or either is the first, followed to the first unequal pair)
 * at least min_len long (min_len 0 counts as 1); longest first (ties:
 * earlier in A, then in B), each that does not overlap in A a run already
 * taken, up to max_runs. *out (nd_free) holds *count runs. ND_OK or
 * ND_ENOMEM.
 * Bounded: past ND_RUNS_STARTS_BASE + ND_RUNS_STARTS_PER_TOKEN * (tokens of
 * A and B) starts of runs (texts over a tiny vocabulary share a number of
 * runs that grows with the square of their length: two texts of 80,000
 * words of three took 7.5 s and 700 MB, and four times as long would take
 * sixteen times that), the search stops: *too_many is set and no run is
 * given (*count 0), rather than runs that may not be the longest. */
enum { ND_RUNS_STARTS_BASE = 1 << 20, ND_RUNS_STARTS_PER_TOKEN = 16 };
int nd_runs_pick(nd_token_run **out, size_t *count, int *too_many, const nd_tokens *ta, const nd_tokens *tb,
                 size_t min_len, size_t max_runs);

/* The same by the plain search (every pair of equal tokens: time that
 * grows with the product of a word's counts in the two texts), which
 * nd_runs_pick falls back to and the tests compare it with. */
int nd_runs_pick_plain(nd_token_run **out, size_t *count, const nd_tokens *ta, const nd_tokens *tb, size_t min_len,
                       size_t max_runs);

#endif /* ND_RUNS_H */
