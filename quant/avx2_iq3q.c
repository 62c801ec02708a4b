/*
 * avx2_iq3q.c - AVX2 quantizers for IQ3_XXS and IQ3_S, bit-identical to ref_iq3_quant.c (and so
 * to ggml's quantize_iq3_xxs / quantize_iq3_s): iq3q_lanes.h with 8 lanes (8 trial scales, or 8
 * candidates of a neighbour list, at once), which explains why every float is the reference's.
 * Every lane runs the reference's operations in its order on its own trial or candidate; no
 * FMA (the reference has no fused multiply-add), no reassociated sum.
 */
#include "iq3q.h"

#if defined(__x86_64__) && defined(__GNUC__)

#include "grid_ops_avx2.h"

#include "iq3q_lanes.h"

void tc_avx2_register_iq3q(tc_kernel_table *k)
{
    k->quantize[TC_DTYPE_IQ3_XXS] = iq3_xxs_rows;
    k->quantize[TC_DTYPE_IQ3_S] = iq3_s_rows;
}

#else

void tc_avx2_register_iq3q(tc_kernel_table *k)
{
    (void)k;
}

#endif
