/*
 * avx2_iq1q.c - AVX2 quantizers for IQ1_S and IQ1_M, bit-identical to ref_iq1_quant.c (and
 * so to ggml's quantize_iq1_s / quantize_iq1_m): iq1q_lanes.h with 8 lanes (8 sub-blocks of an
 * IQ1_S block, half of an IQ1_M one; 8 candidates of a neighbour list), which explains why every
 * float is the reference's. No FMA: the reference has no fused multiply-add.
 */
#include "iq1q.h"

#if defined(__x86_64__) && defined(__GNUC__)

#include "grid_ops_avx2.h"

#define M_AND(a, b)   _mm256_and_ps(a, b)
#define M_OR(a, b)    _mm256_or_ps(a, b)
#define I_COUNT(v, m) _mm256_sub_epi32(v, _mm256_castps_si256(m))

#include "iq1q_lanes.h"

static void tc_iq1_s_quant_avx2(const float *src, void *dst, int64_t n_rows, int64_t n_per_row,
                                const float *imatrix)
{
    iq1_s_rows(src, dst, n_rows, n_per_row, imatrix);
}

static void tc_iq1_m_quant_avx2(const float *src, void *dst, int64_t n_rows, int64_t n_per_row,
                                const float *imatrix)
{
    iq1_m_rows(src, dst, n_rows, n_per_row, imatrix);
}

void tc_avx2_register_iq1q(tc_kernel_table *k)
{
    k->quantize[TC_DTYPE_IQ1_S] = tc_iq1_s_quant_avx2;
    k->quantize[TC_DTYPE_IQ1_M] = tc_iq1_m_quant_avx2;
}

#else

void tc_avx2_register_iq1q(tc_kernel_table *k)
{
    (void)k;
}

#endif
