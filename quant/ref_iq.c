/*
 * ref_iq.c - scalar reference dequantizers for ggml's lattice ("grid") types: IQ2_XXS, IQ2_XS,
 * IQ2_S, IQ3_XXS, IQ3_S, IQ1_S, IQ1_M. Each follows ggml-quants.c dequantize_row_<type>
 * operation for operation, so the floats are bit-identical to ggml's (NaN/Inf/subnormal d
 * included). The quantizers are in ref_iq1_quant.c, ref_iq2_quant.c and ref_iq3_quant.c.
 *
 * Shared conventions of the 256-element blocks (ggml-common.h):
 * - 8 sub-blocks of 32 elements; a sub-block is 4 groups of 8 (or 8 groups of 4 for IQ3).
 * - A group's magnitudes come from a grid entry (iq_tables.h); its signs from 8 sign bits,
 *   either stored whole (IQ2_S, IQ3_S) or as 7 bits expanded by tc_iq2_ksigns (parity bit 7).
 * - Sub-block scales are small integers s turned into float factors: d*(0.5+s)*0.25 (IQ2),
 *   d*(0.5+s)*0.5 (IQ3_XXS), d*(1+2s) (IQ3_S, IQ1_*). Evaluated left to right in float as ggml.
 * - A negative sign is applied as ggml's compiled code applies it: the product is negated
 *   (sign bit flipped, NaN included), not multiplied by -1 (which keeps a NaN's sign on x86).
 * All multi-byte fields are little-endian; they are assembled from bytes here.
 */
#include "blocks.h"
#include "fp16.h"
#include "iq_tables.h"
#include "kernels.h"

#include <stdint.h>

/* IQ1 delta by its sign bit (a lookup: the bit is random in real data) */
static const float iq1_delta[2] = {TC_IQ1_DELTA, -TC_IQ1_DELTA};

/* -v when `neg` is 1, v when 0: the sign bit flipped without a branch (random signs would
 * mispredict), exactly what the negation does, NaN included. */
static inline float flip(float v, unsigned neg)
{
    return tc_bits_f32(tc_f32_bits(v) ^ (uint32_t)neg << 31);
}

/* 8 elements: y[j] = ±(db * grid byte j), negated where bit j of `signs` is set. */
static inline void put8(float *y, float db, uint64_t grid, unsigned signs)
{
    for (int j = 0; j < 8; j++)
        y[j] = flip(db * (float)(uint8_t)(grid >> (8 * j)), (signs >> j) & 1);
}

/* 4 elements of a 3-bit grid entry, sign bits taken from `signs` starting at bit `first`. */
static inline void put4(float *y, float db, uint32_t grid, unsigned signs, int first)
{
    for (int j = 0; j < 4; j++)
        y[j] = flip(db * (float)(uint8_t)(grid >> (8 * j)), (signs >> (first + j)) & 1);
}

/* 8 elements of the 1-bit grid: y[j] = dl * (g_j + delta), g_j in {-1, 0, 1}. */
static inline void put8_iq1(float *y, float dl, uint64_t grid, float delta)
{
    for (int j = 0; j < 8; j++)
        y[j] = dl * ((float)(int8_t)(uint8_t)(grid >> (8 * j)) + delta);
}

/* ===== IQ2_XXS: 66 bytes = d, then per sub-block 2 x u32: 4 grid indices (bytes), 4 x 7 sign
 * bits + 4-bit scale ===== */
static void tc_iq2_xxs_dequant_ref(const void *src, float *y, int64_t n)
{
    const uint8_t *b = src;
    for (int64_t i = 0; i < n / QK_K; i++, b += 66) {
        const float d = tc_f16_to_f32(tc_ld_u16(b));
        for (int ib = 0; ib < 8; ib++) {
            const uint8_t *q = b + 2 + 8 * ib;
            const uint32_t aux = tc_ld_u32(q + 4);
            const float db = d * (0.5f + (float)(aux >> 28)) * 0.25f;
            for (int l = 0; l < 4; l++, y += 8)
                put8(y, db, tc_iq2xxs_grid[q[l]], tc_iq2_ksigns[(aux >> 7 * l) & 127]);
        }
    }
}

/* ===== IQ2_XS: 74 bytes = d, 32 x u16 (9-bit grid index | 7-bit sign index << 9),
 * scales[8] (two 4-bit scales per sub-block) ===== */
static void tc_iq2_xs_dequant_ref(const void *src, float *y, int64_t n)
{
    const uint8_t *b = src;
    for (int64_t i = 0; i < n / QK_K; i++, b += 74) {
        const float d = tc_f16_to_f32(tc_ld_u16(b));
        const uint8_t *sc = b + 66;
        for (int ib = 0; ib < 8; ib++) {
            const float db[2] = {d * (0.5f + (float)(sc[ib] & 0xf)) * 0.25f,
                                 d * (0.5f + (float)(sc[ib] >> 4)) * 0.25f};
            for (int l = 0; l < 4; l++, y += 8) {
                const uint16_t q = tc_ld_u16(b + 2 + 2 * (4 * ib + l));
                put8(y, db[l / 2], tc_iq2xs_grid[q & 511], tc_iq2_ksigns[q >> 9]);
            }
        }
    }
}

/* ===== IQ2_S: 82 bytes = d, qs[32] (low 8 index bits), signs[32], qh[8] (2 high index bits per
 * group), scales[8] ===== */
static void tc_iq2_s_dequant_ref(const void *src, float *y, int64_t n)
{
    const uint8_t *b = src;
    for (int64_t i = 0; i < n / QK_K; i++, b += 82) {
        const float d = tc_f16_to_f32(tc_ld_u16(b));
        const uint8_t *qs = b + 2, *signs = b + 34, *qh = b + 66, *sc = b + 74;
        for (int ib = 0; ib < 8; ib++) {
            const float db[2] = {d * (0.5f + (float)(sc[ib] & 0xf)) * 0.25f,
                                 d * (0.5f + (float)(sc[ib] >> 4)) * 0.25f};
            for (int l = 0; l < 4; l++, y += 8) {
                const unsigned idx = qs[4 * ib + l] | ((unsigned)qh[ib] << (8 - 2 * l) & 0x300);
                put8(y, db[l / 2], tc_iq2s_grid[idx], signs[4 * ib + l]);
            }
        }
    }
}

/* ===== IQ3_XXS: 98 bytes = d, qs[64] (one grid index per 4 elements), 8 x u32 (4 x 7 sign bits
 * + 4-bit scale) ===== */
static void tc_iq3_xxs_dequant_ref(const void *src, float *y, int64_t n)
{
    const uint8_t *b = src;
    for (int64_t i = 0; i < n / QK_K; i++, b += 98) {
        const float d = tc_f16_to_f32(tc_ld_u16(b));
        for (int ib = 0; ib < 8; ib++) {
            const uint8_t *qs = b + 2 + 8 * ib;
            const uint32_t aux = tc_ld_u32(b + 66 + 4 * ib);
            const float db = d * (0.5f + (float)(aux >> 28)) * 0.5f;
            for (int l = 0; l < 4; l++, y += 8) {
                const unsigned s = tc_iq2_ksigns[(aux >> 7 * l) & 127];
                put4(y, db, tc_iq3xxs_grid[qs[2 * l]], s, 0);
                put4(y + 4, db, tc_iq3xxs_grid[qs[2 * l + 1]], s, 4);
            }
        }
    }
}

/* ===== IQ3_S: 110 bytes = d, qs[64] (low 8 index bits), qh[8] (bit k of qh[ib] = 9th bit of
 * qs[8*ib + k]), signs[32], scales[4] (two 4-bit scales per pair of sub-blocks) ===== */
static void tc_iq3_s_dequant_ref(const void *src, float *y, int64_t n)
{
    const uint8_t *b = src;
    for (int64_t i = 0; i < n / QK_K; i++, b += 110) {
        const float d = tc_f16_to_f32(tc_ld_u16(b));
        const uint8_t *qs = b + 2, *qh = b + 66, *signs = b + 74, *sc = b + 106;
        for (int ib = 0; ib < 8; ib++) {
            const int s = ib & 1 ? sc[ib / 2] >> 4 : sc[ib / 2] & 0xf;
            const float db = d * (float)(1 + 2 * s);
            for (int l = 0; l < 4; l++, y += 8) {
                const unsigned i1 = qs[8 * ib + 2 * l] | ((unsigned)qh[ib] << (8 - 2 * l) & 256);
                const unsigned i2 =
                    qs[8 * ib + 2 * l + 1] | ((unsigned)qh[ib] << (7 - 2 * l) & 256);
                put4(y, db, tc_iq3s_grid[i1], signs[4 * ib + l], 0);
                put4(y + 4, db, tc_iq3s_grid[i2], signs[4 * ib + l], 4);
            }
        }
    }
}

/* ===== IQ1_S: 50 bytes = d, qs[32] (low 8 index bits), qh[8] u16: 4 x 3 high index bits,
 * 3-bit scale (bits 12..14), delta sign (bit 15) ===== */
static void tc_iq1_s_dequant_ref(const void *src, float *y, int64_t n)
{
    const uint8_t *b = src;
    for (int64_t i = 0; i < n / QK_K; i++, b += 50) {
        const float d = tc_f16_to_f32(tc_ld_u16(b));
        for (int ib = 0; ib < 8; ib++) {
            const unsigned qh = tc_ld_u16(b + 34 + 2 * ib);
            const float dl = d * (float)(2 * ((qh >> 12) & 7) + 1);
            const float delta = iq1_delta[qh >> 15];
            for (int l = 0; l < 4; l++, y += 8) {
                const unsigned idx = b[2 + 4 * ib + l] | ((qh >> 3 * l) & 7) << 8;
                put8_iq1(y, dl, tc_iq1s_grid[idx], delta);
            }
        }
    }
}

/* ===== IQ1_M: 56 bytes = qs[32] (low 8 index bits), qh[16] (per group pair: 3 high bits +
 * delta sign, one nibble per group), scales[8] as 4 x u16: 4 x 3-bit sub-scales in bits 0..11,
 * and the fp16 block scale spread over the top nibbles (word k holds bits 4k..4k+3) ===== */
static void tc_iq1_m_dequant_ref(const void *src, float *y, int64_t n)
{
    const uint8_t *b = src;
    for (int64_t i = 0; i < n / QK_K; i++, b += 56) {
        const uint8_t *qs = b, *qh = b + 32;
        uint16_t sc[4];
        for (int k = 0; k < 4; k++)
            sc[k] = tc_ld_u16(b + 48 + 2 * k);
        const uint16_t h = (uint16_t)((sc[0] >> 12) | ((sc[1] >> 8) & 0x00f0) |
                                      ((sc[2] >> 4) & 0x0f00) | (sc[3] & 0xf000));
        const float d = tc_f16_to_f32(h);
        for (int ib = 0; ib < 8; ib++, qs += 4, qh += 2) {
            const int shift = 6 * (ib % 2);
            const float dl[2] = {d * (float)(2 * ((sc[ib / 2] >> shift) & 7) + 1),
                                 d * (float)(2 * ((sc[ib / 2] >> (shift + 3)) & 7) + 1)};
            for (int l = 0; l < 4; l++, y += 8) {
                const unsigned nib = (l & 1 ? qh[l / 2] >> 4 : qh[l / 2]) & 0xf;
                const unsigned idx = qs[l] | (nib & 7) << 8;
                const float delta = iq1_delta[nib >> 3];
                put8_iq1(y, dl[l / 2], tc_iq1s_grid[idx], delta);
            }
        }
    }
}

void tc_ref_register_iq(tc_kernel_table *k)
{
    k->dequantize[TC_DTYPE_IQ2_XXS] = tc_iq2_xxs_dequant_ref;
    k->dequantize[TC_DTYPE_IQ2_XS] = tc_iq2_xs_dequant_ref;
    k->dequantize[TC_DTYPE_IQ2_S] = tc_iq2_s_dequant_ref;
    k->dequantize[TC_DTYPE_IQ3_XXS] = tc_iq3_xxs_dequant_ref;
    k->dequantize[TC_DTYPE_IQ3_S] = tc_iq3_s_dequant_ref;
    k->dequantize[TC_DTYPE_IQ1_S] = tc_iq1_s_dequant_ref;
    k->dequantize[TC_DTYPE_IQ1_M] = tc_iq1_m_dequant_ref;
}
