/*
 * avx2_k.h - private to quant/: the block-finishing steps of the AVX2 k-quant kernels
 * (avx2.c), shared with avx512.c, whose wider lanes run the same sub-block searches and hand
 * their results here. Each writes one whole block, bit-identical to ref_k.c given the
 * reference's search results. The search levels are read lane-major from T: groups of W lanes,
 * element i of sub-block j at T[(j / W) * n * W + i * W + j % W], n = 16 values per sub-block
 * (32 for Q4_K/Q5_K, whose 8 sub-blocks sit in lanes 0..7 of T).
 * Call only when tc_isa_supported(TC_ISA_AVX2).
 */
#ifndef TC_AVX2_K_H
#define TC_AVX2_K_H

#include "kernels.h"

#include <stddef.h>
#include <stdint.h>

void tc_avx2_q2_k_finish(const float *x, uint8_t *y, int imat, float *scales, float *mins,
                         float *sw, const float *T, int W);
void tc_avx2_q3_k_finish(const float *x, uint8_t *y, int imat, const float *scales, const float *sw,
                         const float *T, int W);
void tc_avx2_q45_k_finish(const float *x, uint8_t *y, int nmax, int imat, int clamp63,
                          float *scales, float *mins, float *sw, const float *T, int W);
void tc_avx2_q6_k_finish(const float *x, uint8_t *y, const float *scales, const float *T, int W);

/* One k-quant block (QK_K values, imatrix weights qw or NULL) into y. */
typedef void (*tc_k_block_fn)(const float *x, const float *qw, uint8_t *y);
/* Rows of a k-quant, block by block through `blk` (bs bytes a block); blocks with Inf/NaN or
 * huge values, and whole rows with an imatrix the lane searches cannot take, go to `fallback`
 * (bit-identical either way). */
void tc_avx2_k_rows(tc_quant_fn fallback, tc_k_block_fn blk, size_t bs, const float *x, void *dst,
                    int64_t n_rows, int64_t n_per_row, const float *imatrix);

/* One k-quant block with an imatrix whose search needs the block's sum of squares: sumx2 is
 * it (the reference's sequential sum), and the block writes the next block's (nx) to *nsumx2. */
typedef void (*tc_k_block_x2_fn)(const float *x, const float *qw, uint8_t *y, float sumx2,
                                 const float *nx, float *nsumx2);
/* tc_avx2_k_rows with an imatrix (not NULL) for such blocks. */
void tc_avx2_k_rows_x2(tc_quant_fn fallback, tc_k_block_x2_fn blk, size_t bs, const float *x,
                       void *dst, int64_t n_rows, int64_t n_per_row, const float *imatrix);

#endif /* TC_AVX2_K_H */
