/*
 * ref_k.h - private to quant/: pieces of the k-quant reference (ref_k.c) that the SIMD files
 * run unchanged.
 */
#ifndef TC_REF_K_H
#define TC_REF_K_H

#include <stdint.h>

/* Q4_K/Q5_K: store 8 scales and 8 mins (each taken as a byte, as ggml's uint8_t) in 12 bytes. */
static inline void tc_put_scale_min_k4(uint8_t *s, const uint8_t *ls, const uint8_t *lm)
{
    for (int j = 0; j < 8; ++j) {
        if (j < 4) {
            s[j] = ls[j];
            s[j + 4] = lm[j];
        } else {
            s[j + 4] = (uint8_t)((ls[j] & 0xF) | ((lm[j] & 0xF) << 4));
            s[j - 4] = (uint8_t)(s[j - 4] | ((ls[j] >> 4) << 6));
            s[j] = (uint8_t)(s[j] | ((lm[j] >> 4) << 6));
        }
    }
}

/* 6-bit scale j of a Q3_K block, unbiased (-32..31). */
static inline int tc_q3_k_scale(const uint8_t *s, int j)
{
    int sc = j < 8 ? s[j] & 0xF : s[j - 8] >> 4;
    return (sc | (((s[8 + j % 4] >> (2 * (j / 4))) & 3) << 4)) - 32;
}

/* ggml's make_qp_quants: quantize the non-negative sub-block scales (or mins) x[0..n) to
 * L in [0, nmax] with weights qw; returns the block scale. */
float tc_ref_make_qp_quants(int n, int nmax, const float *x, uint8_t *L, const float *qw);

#endif /* TC_REF_K_H */
