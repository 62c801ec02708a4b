/*
 * kernels.h - private to quant/: the per-type kernel table the dispatcher fills at run time.
 *
 * Each ISA has one table. The scalar reference fills it first (ref_*.c, one file per family of
 * types, each exporting one register function); an ISA file then overrides the entries it has
 * faster kernels for (avx2.c, avx512.c, neon.c). An entry left NULL means "not supported".
 *
 * Contract of every kernel (the same as ggml's):
 * - quantize: `n_rows` rows of `n_per_row` floats at `src` into `dst`, rows packed back to back
 *   (tc_row_size(t, n_per_row) bytes each); `imatrix` is NULL or `n_per_row` importance weights.
 *   Output is byte-identical to ggml_quantize_chunk(t, src, dst, 0, n_rows, n_per_row, imatrix).
 *   n_per_row is a multiple of the block size (the dispatcher checks).
 * - dequantize: `n` elements (a multiple of the block size) at `src` into floats at `dst`,
 *   identical to ggml's dequantize_row_<type>.
 * Kernels never allocate and never fail; they must be safe to call from several threads.
 */
#ifndef TC_KERNELS_H
#define TC_KERNELS_H

#include "tc_dtype.h"

#include <stddef.h>
#include <stdint.h>

typedef void (*tc_quant_fn)(const float *src, void *dst, int64_t n_rows, int64_t n_per_row,
                            const float *imatrix);
typedef void (*tc_dequant_fn)(const void *src, float *dst, int64_t n);

typedef struct tc_kernel_table {
    tc_quant_fn quantize[TC_DTYPE_GGML_COUNT];
    tc_dequant_fn dequantize[TC_DTYPE_GGML_COUNT];
} tc_kernel_table;

/* Scalar reference kernels, by family (each file fills only its own types). */
void tc_ref_register_legacy(tc_kernel_table *k);    /* ref_legacy.c: Q4_0..Q8_0, TQ*, MXFP4, NVFP4,
                                                       Q1_0, Q2_0, IQ4_NL, IQ4_XS */
void tc_ref_register_k(tc_kernel_table *k);         /* ref_k.c: Q2_K..Q6_K, Q8_K */
void tc_ref_register_iq(tc_kernel_table *k);        /* ref_iq.c: IQ1_*, IQ2_*, IQ3_* (grid types),
                                                       dequantizers */
void tc_ref_register_iq2_quant(tc_kernel_table *k); /* ref_iq2_quant.c: IQ2_XXS, IQ2_XS */
void tc_ref_register_iq3_quant(tc_kernel_table *k); /* ref_iq3_quant.c: IQ3_XXS, IQ3_S, IQ2_S */
void tc_ref_register_iq1_quant(tc_kernel_table *k); /* ref_iq1_quant.c: IQ1_S, IQ1_M */

/* ISA kernels: override entries of a table already filled with the reference. Each is defined
 * in its own file, compiled with that ISA's flags; on other architectures it does nothing. */
void tc_avx2_register(tc_kernel_table *k);
void tc_avx512_register(tc_kernel_table *k);
void tc_neon_register(tc_kernel_table *k);
void tc_avx2_register_iq2q(tc_kernel_table *k);   /* avx2_iq2q.c: IQ2_XXS, IQ2_XS quantizers */
void tc_avx512_register_iq2q(tc_kernel_table *k); /* avx512_iq2q.c: the same, 16 lanes */
void tc_neon_register_iq2q(tc_kernel_table *k);   /* neon_iq2q.c: the same, 4 lanes */

/* The table of `isa` (NULL when unsupported here). Built once, thread-safe. */
const tc_kernel_table *tc_kernels(int isa);

#endif /* TC_KERNELS_H */
