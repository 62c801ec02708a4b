/*
 * avx512_iq3q.c - AVX-512 quantizers for IQ3_XXS and IQ3_S, bit-identical to ref_iq3_quant.c
 * (and so to ggml's quantize_iq3_xxs / quantize_iq3_s): iq3q_lanes.h with 16 lanes (16 trial
 * scales, or 16 candidates of a neighbour list, at once), which explains why every float is the
 * reference's. Every lane runs the reference's operations in its order on its own trial or
 * candidate; no FMA (the reference has no fused multiply-add), no reassociated sum. The 8-entry
 * level tables are repeated in both halves, so a permute reading 4 index bits reads the 3 the
 * reference's level has.
 */
#include "iq3q.h"

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
#define F_MIN            _mm512_min_ps
#define F_LOADU          _mm512_loadu_ps
#define F_STOREU         _mm512_storeu_ps
#define F_BCAST(p)       _mm512_set1_ps(*(p))
#define F_FIRST          _mm512_cvtss_f32
#define I_TO_F           _mm512_cvtepi32_ps
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
#define I_HMIN(v)        _mm512_reduce_min_epi32(v)
#define M_BITS(m)        ((unsigned)(m))
#define M_ICMPGT         _mm512_cmpgt_epi32_mask
#define M_ICMPEQ         _mm512_cmpeq_epi32_mask
#define I_GATHER(b, i)   _mm512_i32gather_epi32(i, (const void *)(b), 4)
#define I_COMPRESS_STORE(p, v, bits)                                                               \
    _mm512_storeu_si512((void *)(p), _mm512_maskz_compress_epi32((__mmask16)(bits), v))

#include "iq3q_lanes.h"

static void tc_iq3_xxs_quant_avx512(const float *src, void *dst, int64_t n_rows, int64_t n_per_row,
                                    const float *imatrix)
{
    iq3q_rows(1, src, dst, n_rows, n_per_row, imatrix);
}

static void tc_iq3_s_quant_avx512(const float *src, void *dst, int64_t n_rows, int64_t n_per_row,
                                  const float *imatrix)
{
    iq3q_rows(0, src, dst, n_rows, n_per_row, imatrix);
}

void tc_avx512_register_iq3q(tc_kernel_table *k)
{
    k->quantize[TC_DTYPE_IQ3_XXS] = tc_iq3_xxs_quant_avx512;
    k->quantize[TC_DTYPE_IQ3_S] = tc_iq3_s_quant_avx512;
}

#else

void tc_avx512_register_iq3q(tc_kernel_table *k)
{
    (void)k;
}

#endif
