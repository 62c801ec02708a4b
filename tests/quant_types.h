/*
 * quant_types.h - the block types each quantizer suite covers (check_quant_legacy.c,
 * check_quant_k.c, check_quant_iq.c). check_dtype.c proves that every type tensorcast can
 * quantize to or dequantize is in exactly one list, so a new type cannot go untested.
 */
#ifndef TC_QUANT_TYPES_H
#define TC_QUANT_TYPES_H

#include "tc_dtype.h"

static const int tc_legacy_types[] = {
    TC_DTYPE_Q4_0,  TC_DTYPE_Q4_1,   TC_DTYPE_Q5_0,   TC_DTYPE_Q5_1,  TC_DTYPE_Q8_0,
    TC_DTYPE_Q1_0,  TC_DTYPE_Q2_0,   TC_DTYPE_TQ1_0,  TC_DTYPE_TQ2_0, TC_DTYPE_MXFP4,
    TC_DTYPE_NVFP4, TC_DTYPE_IQ4_NL, TC_DTYPE_IQ4_XS,
};
static const int tc_k_types[] = {
    TC_DTYPE_Q2_K, TC_DTYPE_Q3_K, TC_DTYPE_Q4_K, TC_DTYPE_Q5_K, TC_DTYPE_Q6_K, TC_DTYPE_Q8_K,
};
static const int tc_iq_types[] = {
    TC_DTYPE_IQ2_XXS, TC_DTYPE_IQ2_XS, TC_DTYPE_IQ2_S, TC_DTYPE_IQ3_XXS,
    TC_DTYPE_IQ3_S,   TC_DTYPE_IQ1_S,  TC_DTYPE_IQ1_M,
};
#define TC_N_LEGACY_TYPES ((int)(sizeof tc_legacy_types / sizeof tc_legacy_types[0]))
#define TC_N_K_TYPES      ((int)(sizeof tc_k_types / sizeof tc_k_types[0]))
#define TC_N_IQ_TYPES     ((int)(sizeof tc_iq_types / sizeof tc_iq_types[0]))

#endif /* TC_QUANT_TYPES_H */
