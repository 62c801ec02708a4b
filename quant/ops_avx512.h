/*
 * ops_avx512.h - private to quant/: the vector operations that every lane template is written in
 * (simd_lanes.h for the k-quants, the grid templates iq*_lanes.h), for AVX-512 (16 float lanes,
 * masks in mask registers). avx512.c and grid_ops_avx512.h include it and add what only their
 * templates use.
 */
#ifndef TC_OPS_AVX512_H
#define TC_OPS_AVX512_H

#include <immintrin.h>

#define VF               __m512
#define VI               __m512i
#define VM               __mmask16
#define F_SET1           _mm512_set1_ps
#define F_ZERO           _mm512_setzero_ps()
#define F_ADD            _mm512_add_ps
#define F_SUB            _mm512_sub_ps
#define F_MUL            _mm512_mul_ps
#define F_DIV            _mm512_div_ps
#define F_MIN            _mm512_min_ps
#define M_CMP            _mm512_cmp_ps_mask
#define F_BLEND(a, b, m) _mm512_mask_blend_ps(m, a, b)
#define I_BLEND(a, b, m) _mm512_mask_blend_epi32(m, a, b)
#define I_SET1           _mm512_set1_epi32
#define I_ZERO           _mm512_setzero_si512()
#define I_ADD            _mm512_add_epi32
#define I_SUB            _mm512_sub_epi32
#define I_MIN            _mm512_min_epi32
#define I_MAX            _mm512_max_epi32
#define I_AND            _mm512_and_si512
#define F_BITS           _mm512_castps_si512
#define I_TO_F           _mm512_cvtepi32_ps

#endif /* TC_OPS_AVX512_H */
