/*
 * avx512_iq1q.c - AVX-512 quantizers for IQ1_S and IQ1_M, bit-identical to ref_iq1_quant.c (and
 * so to ggml's quantize_iq1_s / quantize_iq1_m): iq1q_lanes.h with 16 lanes (the 16 sub-blocks of
 * two IQ1_S blocks or of one IQ1_M block; 16 candidates of a neighbour list), which explains why
 * every float is the reference's. No FMA: the reference has no fused multiply-add.
 */
#include "iq1q.h"

#if defined(__x86_64__) && defined(__GNUC__)

#include "grid_ops_avx512.h"

#define I_COUNT(v, m) _mm512_mask_sub_epi32(v, m, v, _mm512_set1_epi32(-1))

#include "iq1q_lanes.h"

void tc_avx512_register_iq1q(tc_kernel_table *k)
{
    k->quantize[TC_DTYPE_IQ1_S] = iq1_s_rows;
    k->quantize[TC_DTYPE_IQ1_M] = iq1_m_rows;
}

#else

void tc_avx512_register_iq1q(tc_kernel_table *k)
{
    (void)k;
}

#endif
