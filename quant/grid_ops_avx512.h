/*
 * grid_ops_avx512.h - private to quant/: the vector operations the grid quantizers' lane
 * templates (iq1q_lanes.h, iq2q_lanes.h, iq2s_lanes.h, iq3q_lanes.h) are written in: the common
 * ones of ops_avx512.h and those below, for AVX-512 (16 lanes). Include once,
 * from a file compiled with the AVX-512 flags, before the template.
 */
#ifndef TC_GRID_OPS_AVX512_H
#define TC_GRID_OPS_AVX512_H

#include "grid_x86.h"
#include "ops_avx512.h"

#include <immintrin.h>
#include <stdint.h>

#define TC_ISA_ATTR
/* the grid templates take their 8-lane parts from grid_avx2.h (AVX2 intrinsics; AVX-512 too) */
#define TC_GRID_AVX2   1
#define W              16
#define F_LOADU        _mm512_loadu_ps
#define F_STOREU       _mm512_storeu_ps
#define F_BCAST(p)     _mm512_set1_ps(*(p))
#define F_FIRST        _mm512_cvtss_f32
#define F_TO_I         _mm512_cvtps_epi32 /* in the current rounding mode */
#define I_OR           _mm512_or_si512
#define I_SRLI         _mm512_srli_epi32
#define I_SLLI         _mm512_slli_epi32
#define I_LOADU(p)     _mm512_loadu_si512((const void *)(p))
#define I_STOREU(p, v) _mm512_storeu_si512((void *)(p), v)
#define I_LOAD_U16(p)  _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(p)))
#define F_PERM(t, i)   _mm512_permutexvar_ps(i, t)
#define F_HMIN(v)      _mm512_set1_ps(_mm512_reduce_min_ps(v))
#define M_BITS(m)      ((unsigned)(m))

#define M_AND(a, b)    ((__mmask16)((a) & (b)))
#define M_OR(a, b)     ((__mmask16)((a) | (b)))
#define M_ICMPGT       _mm512_cmpgt_epi32_mask
#define M_ICMPEQ       _mm512_cmpeq_epi32_mask
#define I_HMIN(v)      _mm512_reduce_min_epi32(v)
#define I_GATHER(b, i) _mm512_i32gather_epi32(i, (const void *)(b), 4)
#define I_COMPRESS_STORE(p, v, bits)                                                               \
    _mm512_storeu_si512((void *)(p), _mm512_maskz_compress_epi32((__mmask16)(bits), v))

#endif /* TC_GRID_OPS_AVX512_H */
