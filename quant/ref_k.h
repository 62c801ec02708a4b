/*
 * ref_k.h - private to quant/: pieces of the k-quant reference (ref_k.c) that the SIMD files
 * run unchanged.
 */
#ifndef TC_REF_K_H
#define TC_REF_K_H

#include <stdint.h>

/* ggml's make_qp_quants: quantize the non-negative sub-block scales (or mins) x[0..n) to
 * L in [0, nmax] with weights qw; returns the block scale. */
float tc_ref_make_qp_quants(int n, int nmax, const float *x, uint8_t *L, const float *qw);

#endif /* TC_REF_K_H */
