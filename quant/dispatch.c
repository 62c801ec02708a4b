/*
 * dispatch.c - run-time choice of kernels. (Placeholder until the kernel tables land: plain
 * types only, scalar only.)
 */
#include "quant.h"

#include <stdlib.h>
#include <string.h>

static const char *const isa_names[TC_ISA_COUNT] = {"scalar", "avx2", "avx512", "neon"};

const char *tc_isa_name(tc_isa isa)
{
    return (unsigned)isa < TC_ISA_COUNT ? isa_names[isa] : "?";
}

int tc_isa_supported(tc_isa isa)
{
    return isa == TC_ISA_SCALAR;
}

tc_isa tc_isa_active(void)
{
    return TC_ISA_SCALAR;
}

int tc_can_quantize(int t)
{
    return t == TC_DTYPE_F32 || t == TC_DTYPE_F16 || t == TC_DTYPE_BF16 || t == TC_DTYPE_F64;
}

int tc_can_dequantize(int t)
{
    const tc_dtype_info *d = tc_dtype_get(t);
    return d != NULL && !d->is_quant;
}

int tc_requires_imatrix(int t)
{
    return t == TC_DTYPE_IQ2_XXS || t == TC_DTYPE_IQ2_XS || t == TC_DTYPE_IQ1_S;
}

size_t tc_quantize_rows_isa(tc_isa isa, int t, const float *src, void *dst, int64_t n_rows,
                            int64_t n_per_row, const float *imatrix)
{
    (void)imatrix;
    if (!tc_isa_supported(isa) || !tc_can_quantize(t))
        return 0;
    uint64_t rs = tc_row_size(t, n_per_row);
    if (tc_cast_from_f32(t, src, dst, n_rows * n_per_row) != 0)
        return 0;
    return (size_t)(rs * (uint64_t)n_rows);
}

size_t tc_quantize_rows(int t, const float *src, void *dst, int64_t n_rows, int64_t n_per_row,
                        const float *imatrix)
{
    return tc_quantize_rows_isa(tc_isa_active(), t, src, dst, n_rows, n_per_row, imatrix);
}

int tc_to_f32_isa(tc_isa isa, int t, const void *src, float *dst, int64_t n)
{
    if (!tc_isa_supported(isa))
        return -1;
    return tc_cast_to_f32(t, src, dst, n);
}

int tc_to_f32(int t, const void *src, float *dst, int64_t n)
{
    return tc_to_f32_isa(tc_isa_active(), t, src, dst, n);
}
