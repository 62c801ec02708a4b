/*
 * grid_ops_avx2.h - private to quant/: the vector operations the grid quantizers' lane templates
 * (iq2q_lanes.h, iq3q_lanes.h) are written in, for AVX2 (8 lanes). Include once, from a file
 * compiled with -mavx2, before the template.
 */
#ifndef TC_GRID_OPS_AVX2_H
#define TC_GRID_OPS_AVX2_H

#include "grid_x86.h"

#include <immintrin.h>
#include <stdint.h>

#define TC_ISA_ATTR
#define W                8
#define VF               __m256
#define VI               __m256i
#define VM               __m256
#define F_SET1           _mm256_set1_ps
#define F_ZERO           _mm256_setzero_ps()
#define F_ADD            _mm256_add_ps
#define F_SUB            _mm256_sub_ps
#define F_MUL            _mm256_mul_ps
#define F_DIV            _mm256_div_ps
#define F_MIN            _mm256_min_ps
#define F_LOADU          _mm256_loadu_ps
#define F_STOREU         _mm256_storeu_ps
#define F_BCAST          _mm256_broadcast_ss
#define F_FIRST          _mm256_cvtss_f32
#define I_TO_F           _mm256_cvtepi32_ps
#define F_TO_I           _mm256_cvtps_epi32 /* in the current rounding mode */
#define M_CMP            _mm256_cmp_ps
#define F_BLEND(a, b, m) _mm256_blendv_ps(a, b, m)
#define I_BLEND(a, b, m)                                                                           \
    _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(a), _mm256_castsi256_ps(b), m))
#define I_SET1         _mm256_set1_epi32
#define I_ZERO         _mm256_setzero_si256()
#define I_ADD          _mm256_add_epi32
#define I_SUB          _mm256_sub_epi32
#define I_MIN          _mm256_min_epi32
#define I_MAX          _mm256_max_epi32
#define I_AND          _mm256_and_si256
#define I_OR           _mm256_or_si256
#define I_SRLI         _mm256_srli_epi32
#define I_SLLI         _mm256_slli_epi32
#define F_BITS         _mm256_castps_si256
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

#endif /* TC_GRID_OPS_AVX2_H */
