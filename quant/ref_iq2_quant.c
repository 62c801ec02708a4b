/*
 * ref_iq2_quant.c - scalar reference quantizers for IQ2_XXS and IQ2_XS, byte-identical to ggml's.
 * (Not written yet: the register function fills nothing.)
 */
#include "iq_grid.h"
#include "kernels.h"

void tc_ref_register_iq2_quant(tc_kernel_table *k)
{
    (void)k;
}
