/*
 * avx2_iq2q.c - AVX2 quantizers for IQ2_XXS and IQ2_XS, bit-identical to ref_iq2_quant.c (and
 * so to ggml's quantize_iq2_xxs / quantize_iq2_xs): iq2q_lanes.h with 8 lanes, which explains
 * why every float is the reference's. No FMA: the reference has no fused multiply-add.
 */
#include "kernels.h"

#if defined(__x86_64__) && defined(__GNUC__)

#include "grid_ops_avx2.h"

#include "iq2q_lanes.h"

static void tc_iq2_xxs_quant_avx2(const float *src, void *dst, int64_t n_rows, int64_t n_per_row,
                                  const float *imatrix)
{
    iq2q_rows(TC_DTYPE_IQ2_XXS, src, dst, n_rows, n_per_row, imatrix);
}

static void tc_iq2_xs_quant_avx2(const float *src, void *dst, int64_t n_rows, int64_t n_per_row,
                                 const float *imatrix)
{
    iq2q_rows(TC_DTYPE_IQ2_XS, src, dst, n_rows, n_per_row, imatrix);
}

void tc_avx2_register_iq2q(tc_kernel_table *k)
{
    k->quantize[TC_DTYPE_IQ2_XXS] = tc_iq2_xxs_quant_avx2;
    k->quantize[TC_DTYPE_IQ2_XS] = tc_iq2_xs_quant_avx2;
}

#else

void tc_avx2_register_iq2q(tc_kernel_table *k)
{
    (void)k;
}

#endif
