/*
 * avx2_iq1q.c - AVX2 quantizers for IQ1_S and IQ1_M, bit-identical to ref_iq1_quant.c (and
 * so to ggml's quantize_iq1_s / quantize_iq1_m): iq1q_lanes.h with 8 lanes (8 sub-blocks of an
 * IQ1_S block, half of an IQ1_M one; 8 candidates of a neighbour list), which explains why every
 * float is the reference's. No FMA: the reference has no fused multiply-add.
 */
#include "iq1q.h"

#if defined(__x86_64__) && defined(__GNUC__)

#include "grid_ops_avx2.h"

#define I_COUNT(v, m) _mm256_sub_epi32(v, _mm256_castps_si256(m))

#include "iq1q_lanes.h"

void tc_avx2_register_iq1q(tc_kernel_table *k)
{
    k->quantize[TC_DTYPE_IQ1_S] = iq1_s_rows;
    k->quantize[TC_DTYPE_IQ1_M] = iq1_m_rows;
}

#else

void tc_avx2_register_iq1q(tc_kernel_table *k)
{
    (void)k;
}

#endif
