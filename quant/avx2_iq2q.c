/*
 * avx2_iq2q.c - AVX2 quantizers for IQ2_XXS and IQ2_XS, bit-identical to ref_iq2_quant.c (and
 * so to ggml's quantize_iq2_xxs / quantize_iq2_xs): iq2q_lanes.h with 8 lanes, which explains
 * why every float is the reference's. No FMA: the reference has no fused multiply-add.
 */
#include "kernels.h"

#if defined(__x86_64__) && defined(__GNUC__)

#include "grid_ops_avx2.h"

#include "iq2q_lanes.h"

void tc_avx2_register_iq2q(tc_kernel_table *k)
{
    k->quantize[TC_DTYPE_IQ2_XXS] = iq2_xxs_rows;
    k->quantize[TC_DTYPE_IQ2_XS] = iq2_xs_rows;
}

#else

void tc_avx2_register_iq2q(tc_kernel_table *k)
{
    (void)k;
}

#endif
