/*
 * avx512_iq2q.c - AVX-512 quantizers for IQ2_XXS and IQ2_XS, bit-identical to ref_iq2_quant.c
 * (and so to ggml's quantize_iq2_xxs / quantize_iq2_xs): iq2q_lanes.h with 16 lanes (16
 * candidates of a neighbour list, all 13 IQ2_XXS trials in one vector), which explains why every
 * float is the reference's. No FMA: the reference has no fused multiply-add.
 */
#include "kernels.h"

#if defined(__x86_64__) && defined(__GNUC__)

#include <immintrin.h>
#include <stdint.h>

#define TC_ISA_ATTR
#define W                16
#define VF               __m512
#define VI               __m512i
#define VM               __mmask16
#define F_SET1           _mm512_set1_ps
#define F_ZERO           _mm512_setzero_ps()
#define F_ADD            _mm512_add_ps
#define F_SUB            _mm512_sub_ps
#define F_MUL            _mm512_mul_ps
#define F_DIV            _mm512_div_ps
#define F_LOADU          _mm512_loadu_ps
#define F_STOREU         _mm512_storeu_ps
#define F_BCAST(p)       _mm512_set1_ps(*(p))
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
#define I_OR             _mm512_or_si512
#define I_SRLI           _mm512_srli_epi32
#define I_SLLI           _mm512_slli_epi32
#define F_BITS           _mm512_castps_si512
#define I_LOADU(p)       _mm512_loadu_si512((const void *)(p))
#define I_STOREU(p, v)   _mm512_storeu_si512((void *)(p), v)
#define I_LOAD_U16(p)    _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(p)))
#define F_PERM(t, i)     _mm512_permutexvar_ps(i, t)
#define F_HMIN(v)        _mm512_set1_ps(_mm512_reduce_min_ps(v))
#define M_BITS(m)        ((unsigned)(m))

#include "iq2q_lanes.h"

static void tc_iq2_xxs_quant_avx512(const float *src, void *dst, int64_t n_rows, int64_t n_per_row,
                                    const float *imatrix)
{
    iq2q_rows(TC_DTYPE_IQ2_XXS, src, dst, n_rows, n_per_row, imatrix);
}

static void tc_iq2_xs_quant_avx512(const float *src, void *dst, int64_t n_rows, int64_t n_per_row,
                                   const float *imatrix)
{
    iq2q_rows(TC_DTYPE_IQ2_XS, src, dst, n_rows, n_per_row, imatrix);
}

void tc_avx512_register_iq2q(tc_kernel_table *k)
{
    k->quantize[TC_DTYPE_IQ2_XXS] = tc_iq2_xxs_quant_avx512;
    k->quantize[TC_DTYPE_IQ2_XS] = tc_iq2_xs_quant_avx512;
}

#else

void tc_avx512_register_iq2q(tc_kernel_table *k)
{
    (void)k;
}

#endif
