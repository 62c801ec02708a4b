/*
 * ops_avx2.h - private to quant/: the vector operations that every lane template is written in
 * (simd_lanes.h for the k-quants, the grid templates iq*_lanes.h), for AVX2 (8 float lanes).
 * avx2.c and grid_ops_avx2.h include it and add what only their templates use. Masks (VM) are
 * comparison results, all ones or all zeros per lane, so blending by bytes is blending by lanes.
 */
#ifndef TC_OPS_AVX2_H
#define TC_OPS_AVX2_H

#include <immintrin.h>

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
#define M_CMP            _mm256_cmp_ps
#define F_BLEND(a, b, m) _mm256_blendv_ps(a, b, m)
#define I_BLEND(a, b, m) _mm256_blendv_epi8(a, b, _mm256_castps_si256(m))
#define I_SET1           _mm256_set1_epi32
#define I_ZERO           _mm256_setzero_si256()
#define I_ADD            _mm256_add_epi32
#define I_SUB            _mm256_sub_epi32
#define I_MIN            _mm256_min_epi32
#define I_MAX            _mm256_max_epi32
#define I_AND            _mm256_and_si256
#define F_BITS           _mm256_castps_si256
#define I_TO_F           _mm256_cvtepi32_ps

#endif /* TC_OPS_AVX2_H */
