/*
 * ref_iq1_quant.c - scalar reference quantizers for IQ1_S and IQ1_M, byte-identical to ggml's.
 * (Not written yet: the register function fills nothing.)
 */
#include "iq_grid.h"
#include "kernels.h"

void tc_ref_register_iq1_quant(tc_kernel_table *k)
{
    (void)k;
}
