/* db_contain.h - the containment index: which postings a document is filed
 * under (db_write.c) and which ones a query looks up (db_query.c), so that
 * no matching pair is missed. Internal to the library.
 *
 * Why not the band keys. An excerpt E of a third of an article A has
 * J(E, A) ~ 0.33 while C(E in A) = 1: Jaccard LSH misses it (contain.c
 * says more). The index made with --measure containment therefore holds no
 * band keys but an inverted index of shingles, stored in the `bands`
 * database (so that runs buffer and merge them, queries of pending
 * documents find them, and compaction copies them as band entries) under
 * the keys of "bands" POST_PREFIX and POST_REST (a containment index
 * writes no band keys, so they never meet a band's). Each shingle s of D is
 * filed once:
 *
 *   (POST_PREFIX, s) -> D  for the p(D) smallest shingle ids s of D (its prefix),
 *   (POST_REST, s)   -> D  for the others,
 *
 * with p(n) = n - o(n) + 1 and o(n) = nd_min_overlap(n, t) (measure.h) at
 * the index's threshold t.
 *
 * The maths (the prefix filter of contain.c, with a global order). A query
 * Q and a document D match (Jaccard or containment, measure.h) only if
 * x = |Q ∩ D| >= o(min(|Q|, |D|)). Any p(n) shingles of a set of n hold at
 * least one of any o(n) of its shingles, so:
 *   (a) |D| <= |Q| (D inside Q: a short archive text in a long query):
 *       some shingle of D's prefix is in Q; the query looks up
 *       (POST_PREFIX, s) for every shingle s of Q;
 *   (b) |D| > |Q| (Q inside D: an excerpt queried against its article):
 *       some shingle s of Q's prefix is in D, filed under (POST_PREFIX, s),
 *       which (a) looks up already, or under (POST_REST, s); the query
 *       looks up (POST_REST, s) for the p_q(|Q|) smallest shingle ids s of
 *       Q.
 * Every matching D is found by one of the two, and each candidate is
 * verified exactly (nd_intersection, nd_matches). The order is the
 * shingle ids' (hashes: any fixed order works, and a fixed one is what a
 * persistent index needs, since document frequencies change as it grows).
 * A query threshold t_q >= t keeps (a) exact, since o grows with the
 * threshold; a lower one would need longer stored prefixes, so it is
 * refused. The query's own prefix p_q uses t_q.
 *
 * Cost. Each document files one posting a shingle: a 1 KB news text of
 * ~170 word shingles files ~170, 4 bytes each in LMDB's sorted duplicate
 * pages when the shingle is shared, ~22 bytes (node header, key, value,
 * pointer) when it is held by one document only, as most are: about 4 KB
 * a document with its record (README has the measured figure), where the
 * Jaccard index's 16 band keys cost ~0.35 KB. A query looks up
 * |Q| + p_q(|Q|) keys (~1.2 |Q| at t = 0.8), against 16 band keys.
 */
#ifndef ND_DB_CONTAIN_H
#define ND_DB_CONTAIN_H

#include <stddef.h> /* size_t */
#include <stdint.h> /* uint32_t, uint64_t */

#include "db_record.h" /* db_band_key */
#include "measure.h"   /* nd_min_overlap */

enum { POST_PREFIX = 4094, POST_REST = 4095 };

/* The stored key of a posting: the kind in the top 12 bits, the shingle
 * id in the low 32 (a containment index stores keys whole, not in buckets:
 * one document per shingle is the common case). */
static inline uint64_t db_post_key(unsigned kind, uint32_t shingle)
{
    return (uint64_t)kind << 52 | shingle;
}

/* p(n): how many of a set's smallest ids any o(n) of them must meet. */
static inline size_t db_contain_prefix(size_t n, double threshold)
{
    return n ? n - nd_min_overlap(n, threshold) + 1 : 0;
}

#endif /* ND_DB_CONTAIN_H */
