/*
 * avx2_iq.h - private to quant/: AVX2 dequantizers of the IQ grid types (avx2_iq.c).
 */
#ifndef TC_AVX2_IQ_H
#define TC_AVX2_IQ_H

#include "kernels.h"

/* Override the IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS, IQ3_S, IQ1_S and IQ1_M dequantize entries of `k`
 * with AVX2 kernels (bit-identical to ref_iq.c). Call only when tc_isa_supported(TC_ISA_AVX2);
 * does nothing on other architectures. */
void tc_avx2_register_iq(tc_kernel_table *k);

#endif /* TC_AVX2_IQ_H */
