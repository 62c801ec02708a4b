/*
 * fuzz_quant_legacy.c - the legacy / ternary / FP4 / IQ4 kernels on arbitrary input.
 *
 * Input: byte 0 picks the type, byte 1 the imatrix mode (none, |x| of the data, raw floats
 * from the input, NaN/Inf allowed), the rest is read both as floats (a row to quantize) and as
 * raw blocks (to dequantize). Every ISA this CPU supports must produce the scalar kernel's bytes
 * and float bits; nothing may crash or trip the sanitizers. No oracle needed.
 */
#include "quant.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const int types[] = {
    TC_DTYPE_Q4_0,  TC_DTYPE_Q4_1,   TC_DTYPE_Q5_0,   TC_DTYPE_Q5_1,  TC_DTYPE_Q8_0,
    TC_DTYPE_Q1_0,  TC_DTYPE_Q2_0,   TC_DTYPE_TQ1_0,  TC_DTYPE_TQ2_0, TC_DTYPE_MXFP4,
    TC_DTYPE_NVFP4, TC_DTYPE_IQ4_NL, TC_DTYPE_IQ4_XS,
};

#define MAX_N 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static float x[MAX_N], w[MAX_N], ref_f[MAX_N], got_f[MAX_N];
    static uint8_t ref_q[MAX_N * 2], got_q[MAX_N * 2];
    if (size < 2)
        return 0;
    const int t = types[data[0] % (sizeof types / sizeof types[0])];
    const int im = data[1] % 3;
    const tc_dtype_info *d = tc_dtype_get(t);
    data += 2;
    size -= 2;

    /* quantize: as many whole blocks of floats as the input holds */
    size_t nf = size / 4;
    if (nf > MAX_N)
        nf = MAX_N;
    const int64_t n = (int64_t)(nf / d->blck * d->blck);
    if (n > 0) {
        memcpy(x, data, (size_t)n * 4);
        for (int64_t i = 0; i < n; i++)
            w[i] = im == 1 ? fabsf(x[n - 1 - i]) : x[n - 1 - i];
        const float *imatrix = im ? w : NULL;
        size_t want = (size_t)tc_row_size(t, n);
        if (tc_quantize_rows_isa(TC_ISA_SCALAR, t, x, ref_q, 1, n, imatrix) != want)
            abort();
        for (int isa = 1; isa < TC_ISA_COUNT; isa++) {
            if (!tc_isa_supported((tc_isa)isa))
                continue;
            if (tc_quantize_rows_isa((tc_isa)isa, t, x, got_q, 1, n, imatrix) != want ||
                memcmp(got_q, ref_q, want) != 0)
                abort();
        }
        if (tc_to_f32_isa(TC_ISA_SCALAR, t, ref_q, ref_f, n) != 0)
            abort();
    }

    /* dequantize: the raw bytes as blocks */
    size_t nb = size / d->size;
    if (nb * d->blck > MAX_N)
        nb = MAX_N / d->blck;
    const int64_t m = (int64_t)(nb * d->blck);
    if (m > 0) {
        if (tc_to_f32_isa(TC_ISA_SCALAR, t, data, ref_f, m) != 0)
            abort();
        for (int isa = 1; isa < TC_ISA_COUNT; isa++) {
            if (!tc_isa_supported((tc_isa)isa))
                continue;
            if (tc_to_f32_isa((tc_isa)isa, t, data, got_f, m) != 0 ||
                memcmp(got_f, ref_f, (size_t)m * 4) != 0)
                abort();
        }
    }
    return 0;
}
