/*
 * grid_ops_avx2.h - private to quant/: the vector operations the grid quantizers' lane templates
 * (iq1q_lanes.h, iq2q_lanes.h, iq2s_lanes.h, iq3q_lanes.h) are written in: the common ones of
 * ops_avx2.h and those below, for AVX2 (8 lanes). Include once, from a file
 * compiled with -mavx2, before the template.
 */
#ifndef TC_GRID_OPS_AVX2_H
#define TC_GRID_OPS_AVX2_H

#include "grid_x86.h"
#include "ops_avx2.h"

#include <immintrin.h>
#include <stdint.h>

#define TC_ISA_ATTR
/* the grid templates take their 8-lane parts from grid_avx2.h (AVX2 intrinsics; AVX-512 too) */
#define TC_GRID_AVX2   1
#define W              8
#define F_LOADU        _mm256_loadu_ps
#define F_STOREU       _mm256_storeu_ps
#define F_BCAST        _mm256_broadcast_ss
#define F_FIRST        _mm256_cvtss_f32
#define F_TO_I         _mm256_cvtps_epi32 /* in the current rounding mode */
#define I_OR           _mm256_or_si256
#define I_SRLI         _mm256_srli_epi32
#define I_SLLI         _mm256_slli_epi32
#define I_LOADU(p)     _mm256_loadu_si256((const __m256i *)(p))
#define I_STOREU(p, v) _mm256_storeu_si256((__m256i *)(p), v)
#define I_LOAD_U16(p)  _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(p)))
#define F_PERM(t, i)   _mm256_permutevar8x32_ps(t, i)

static inline __m256 hmin8(__m256 v)
{
    v = _mm256_min_ps(v, _mm256_permute2f128_ps(v, v, 1));
    v = _mm256_min_ps(v, _mm256_shuffle_ps(v, v, _MM_SHUFFLE(1, 0, 3, 2)));
    return _mm256_min_ps(v, _mm256_shuffle_ps(v, v, _MM_SHUFFLE(2, 3, 0, 1)));
}

#define F_HMIN    hmin8
#define M_BITS(m) ((unsigned)_mm256_movemask_ps(m))

#define M_AND(a, b)      _mm256_and_ps(a, b)
#define M_OR(a, b)       _mm256_or_ps(a, b)
#define M_ICMPGT(a, b)   _mm256_castsi256_ps(_mm256_cmpgt_epi32(a, b))
#define M_ICMPEQ(a, b)   _mm256_castsi256_ps(_mm256_cmpeq_epi32(a, b))
#define I_HMIN           tc_hmin8i
#define I_GATHER(b, i)   _mm256_i32gather_epi32((const int *)(b), i, 4)
#define I_COMPRESS_STORE tc_compress_store8

#endif /* TC_GRID_OPS_AVX2_H */
