/*
 * avx512_iq1q.c - AVX-512 quantizers for IQ1_S and IQ1_M, bit-identical to ref_iq1_quant.c (and
 * so to ggml's quantize_iq1_s / quantize_iq1_m): iq1q_lanes.h with 16 lanes (the 16 sub-blocks of
 * two IQ1_S blocks or of one IQ1_M block; 16 candidates of a neighbour list), which explains why
 * every float is the reference's. No FMA: the reference has no fused multiply-add.
 */
#include "iq1q.h"

#if defined(__x86_64__) && defined(__GNUC__)

#include "grid_ops_avx512.h"

#define M_AND(a, b)   ((__mmask16)((a) & (b)))
#define M_OR(a, b)    ((__mmask16)((a) | (b)))
#define I_COUNT(v, m) _mm512_mask_sub_epi32(v, m, v, _mm512_set1_epi32(-1))

#include "iq1q_lanes.h"

static void tc_iq1_s_quant_avx512(const float *src, void *dst, int64_t n_rows, int64_t n_per_row,
                                  const float *imatrix)
{
    iq1_s_rows(src, dst, n_rows, n_per_row, imatrix);
}

static void tc_iq1_m_quant_avx512(const float *src, void *dst, int64_t n_rows, int64_t n_per_row,
                                  const float *imatrix)
{
    iq1_m_rows(src, dst, n_rows, n_per_row, imatrix);
}

void tc_avx512_register_iq1q(tc_kernel_table *k)
{
    k->quantize[TC_DTYPE_IQ1_S] = tc_iq1_s_quant_avx512;
    k->quantize[TC_DTYPE_IQ1_M] = tc_iq1_m_quant_avx512;
}

#else

void tc_avx512_register_iq1q(tc_kernel_table *k)
{
    (void)k;
}

#endif
