/*
 * ref_iq3_quant.c - scalar reference quantizers for IQ3_XXS, IQ3_S and IQ2_S, byte-identical to
 * ggml's. (Not written yet: the register function fills nothing.)
 */
#include "iq_grid.h"
#include "kernels.h"

void tc_ref_register_iq3_quant(tc_kernel_table *k)
{
    (void)k;
}
