/*
 * blocks.h - private to quant/: the byte layouts of ggml's legacy, ternary, FP4 and IQ4 blocks
 * (ggml-common.h) and the scalar primitives their reference kernels share.
 *
 * The structs document the layouts and pin them with _Static_assert; the kernels address blocks
 * as bytes at the offsets below (dst rows can sit at any alignment inside a file buffer, so a
 * cast to a struct pointer would be undefined behaviour). Every multi-byte field is little-endian.
 *
 * The conversion helpers reproduce what ggml's C compiles to on x86-64, where the oracle runs:
 * a float-to-integer cast is CVTTSS2SI (truncation, and INT32_MIN for NaN or out-of-range
 * values). Writing that out in defined C keeps our bytes equal to ggml's on Inf/NaN input on
 * every architecture. Everything here is static inline (STYLE §8).
 */
#ifndef TC_BLOCKS_H
#define TC_BLOCKS_H

#include "fp16.h"

#include <math.h>
#include <stddef.h>
#include <stdint.h>

/* ===== Block layouts (ggml-common.h) ===== */

#define QK_K 256 /* elements of a super-block (k-quants, IQ grid types, IQ4_XS) */

typedef struct tc_block_q4_0 {
    uint16_t d;     /* fp16 scale */
    uint8_t qs[16]; /* byte j: low nibble element j, high nibble element j+16 */
} tc_block_q4_0;
_Static_assert(sizeof(tc_block_q4_0) == 2 + 16, "q4_0 layout");

typedef struct tc_block_q4_1 {
    uint16_t d, m; /* fp16 scale and minimum */
    uint8_t qs[16];
} tc_block_q4_1;
_Static_assert(sizeof(tc_block_q4_1) == 4 + 16, "q4_1 layout");

typedef struct tc_block_q5_0 {
    uint16_t d;
    uint8_t qh[4];  /* LE u32: bit j = fifth bit of element j */
    uint8_t qs[16]; /* low nibbles as q4_0 */
} tc_block_q5_0;
_Static_assert(sizeof(tc_block_q5_0) == 2 + 4 + 16, "q5_0 layout");

typedef struct tc_block_q5_1 {
    uint16_t d, m;
    uint8_t qh[4];
    uint8_t qs[16];
} tc_block_q5_1;
_Static_assert(sizeof(tc_block_q5_1) == 4 + 4 + 16, "q5_1 layout");

typedef struct tc_block_q8_0 {
    uint16_t d;
    int8_t qs[32];
} tc_block_q8_0;
_Static_assert(sizeof(tc_block_q8_0) == 2 + 32, "q8_0 layout");

typedef struct tc_block_q1_0 {
    uint16_t d;     /* mean |x| of the block */
    uint8_t qs[16]; /* bit j (LSB first) = element j >= 0 */
} tc_block_q1_0;
_Static_assert(sizeof(tc_block_q1_0) == 2 + 128 / 8, "q1_0 layout");

typedef struct tc_block_q2_0 {
    uint16_t d;     /* max |x| of the block */
    uint8_t qs[16]; /* 2 bits per element, element j at byte j/4, bits 2*(j%4) */
} tc_block_q2_0;
_Static_assert(sizeof(tc_block_q2_0) == 2 + 64 / 4, "q2_0 layout");

typedef struct tc_block_tq1_0 {
    uint8_t qs[48]; /* 5 trits per byte, base 3, scaled to 0..255 */
    uint8_t qh[4];  /* 4 trits per byte */
    uint16_t d;
} tc_block_tq1_0;
_Static_assert(sizeof(tc_block_tq1_0) == 48 + 4 + 2, "tq1_0 layout");

typedef struct tc_block_tq2_0 {
    uint8_t qs[64]; /* 2 bits per element */
    uint16_t d;
} tc_block_tq2_0;
_Static_assert(sizeof(tc_block_tq2_0) == 64 + 2, "tq2_0 layout");

typedef struct tc_block_mxfp4 {
    uint8_t e;      /* E8M0 shared exponent */
    uint8_t qs[16]; /* E2M1 codes, nibbles as q4_0 */
} tc_block_mxfp4;
_Static_assert(sizeof(tc_block_mxfp4) == 1 + 16, "mxfp4 layout");

typedef struct tc_block_nvfp4 {
    uint8_t d[4];   /* UE4M3 scale per 16 elements */
    uint8_t qs[32]; /* per 16-element sub-block: 8 bytes, nibbles as q4_0 within the sub-block */
} tc_block_nvfp4;
_Static_assert(sizeof(tc_block_nvfp4) == 4 + 32, "nvfp4 layout");

typedef struct tc_block_iq4_nl {
    uint16_t d;
    uint8_t qs[16]; /* indices into tc_kvalues_iq4nl, nibbles as q4_0 */
} tc_block_iq4_nl;
_Static_assert(sizeof(tc_block_iq4_nl) == 2 + 16, "iq4_nl layout");

typedef struct tc_block_iq4_xs {
    uint16_t d;
    uint16_t scales_h;   /* high 2 bits of the 8 six-bit sub-block scales */
    uint8_t scales_l[4]; /* low 4 bits, two per byte (even sub-block in the low nibble) */
    uint8_t qs[128];     /* per 32-element sub-block: 16 bytes, nibbles as q4_0 */
} tc_block_iq4_xs;
_Static_assert(sizeof(tc_block_iq4_xs) == 2 + 2 + 4 + 128, "iq4_xs layout");

/* The non-linear 4-bit grid of IQ4_NL / IQ4_XS and the doubled E2M1 values of MXFP4 / NVFP4. */
static const int8_t tc_kvalues_iq4nl[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                            1,    13,   25,  38,  53,  69,  89,  113};
static const int8_t tc_kvalues_mxfp4[16] = {0, 1,  2,  3,  4,  6,  8,  12,
                                            0, -1, -2, -3, -4, -6, -8, -12};

/* ===== Byte access ===== */

/* The first of x[0..n) with the largest magnitude (0 if none is above 0), *amax its
 * magnitude: the scan that starts ggml's scale searches, comparisons in its order (a NaN is
 * never taken). */
static inline float tc_signed_amax(const float *x, int n, float *amax)
{
    float max = 0, a = 0;
    for (int i = 0; i < n; ++i) {
        const float ax = fabsf(x[i]);
        if (ax > a) {
            a = ax;
            max = x[i];
        }
    }
    *amax = a;
    return max;
}

/* The first i in 0..7 of the smallest (w[i]*x[i])*x[i] (a NaN is never taken): the element whose
 * sign the IQ2 and IQ3 quantizers flip when a group of 8 has an odd count of negatives, so the
 * parity of the 7 stored signs restores the eighth; ggml's loop, comparisons in its order. */
static inline int tc_parity_min(const float *w, const float *x)
{
    int imin = 0;
    float min = w[0] * x[0] * x[0];
    for (int i = 1; i < 8; ++i) {
        const float ax = w[i] * x[i] * x[i];
        if (ax < min) { /* strict: the first of equal minima */
            min = ax;
            imin = i;
        }
    }
    return imin;
}

static inline void tc_st_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static inline uint16_t tc_ld_u16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

/* A block's fp16 field: stored from a float (round to nearest even), read back as a float. */
static inline void tc_put_f16(uint8_t *p, float f)
{
    tc_st_u16(p, tc_f32_to_f16(f));
}

static inline float tc_get_f16(const uint8_t *p)
{
    return tc_f16_to_f32(tc_ld_u16(p));
}

static inline void tc_st_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint32_t tc_ld_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* ===== Scalar primitives, as ggml computes them ===== */

/* GGML_FP16_TO_FP32 (ggml_compute_fp16_to_fp32): exact, but a signalling NaN comes back quiet
 * because ggml builds the value with a multiplication. */
static inline float tc_ggml_h2f(uint16_t h)
{
    float f = tc_f16_to_f32(h);
    if ((h & 0x7c00) == 0x7c00 && (h & 0x03ff) != 0)
        f = tc_bits_f32(tc_f32_bits(f) | 0x00400000u);
    return f;
}

/* x86 CVTTSS2SI: truncate toward zero; NaN and values outside int32 give INT32_MIN. */
static inline int32_t tc_cvtt_i32(float f)
{
    if (f >= -2147483648.0f && f < 2147483648.0f)
        return (int32_t)f;
    return INT32_MIN;
}

/* The low byte of an int as a signed char, i.e. what `(int8_t)` keeps. */
static inline int tc_low_i8(int32_t v)
{
    int b = (int)((uint32_t)v & 0xffu);
    return b > 127 ? b - 256 : b;
}

/* glibc lroundf on x86-64: half away from zero; NaN and out-of-range give LONG_MIN. */
static inline int64_t tc_lroundf(float f)
{
    if (f > -0x1p63f && f < 0x1p63f)
        return (int64_t)roundf(f);
    return INT64_MIN;
}

/* ggml's nearest_int: round half to even through the 1.5*2^23 trick. Defined for any input
 * (ggml asserts |f| <= 4194303 in debug builds only). */
static inline int tc_nearest_int(float f)
{
    float v = f + 12582912.f;
    uint32_t i = tc_f32_bits(v);
    return (int)(i & 0x007fffffu) - 0x00400000;
}

/* ggml's MAX/MIN macros, NaN behaviour included: MAX(a, b) is `a > b ? a : b`. */
static inline float tc_fmax_ggml(float a, float b)
{
    return a > b ? a : b;
}

#endif /* TC_BLOCKS_H */
