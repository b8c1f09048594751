/* cpuvec.h - does the CPU have the AVX-512 subsets the library's
 * eight-lane XXH3 code is compiled for (F, VL, BW, DQ)? Asked at run time
 * by winhash.c, tokhash.c and wordids.c before they take their vector
 * paths (each keeps its scalar one); internal to the library. */
#ifndef ND_CPUVEC_H
#define ND_CPUVEC_H

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
static inline int nd_cpu_avx512_fvlbwdq(void)
{
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
           __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq");
}
#endif

#endif
