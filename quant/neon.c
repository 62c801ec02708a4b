/*
 * neon.c - AArch64 NEON kernels, bit-identical to the scalar reference (ref_legacy.c, ref_k.c).
 *
 * Dequantizers: Q4_0, Q8_0, Q4_K, Q6_K (per element the reference's multiply, or multiply then
 * subtract: no vfma/vmla, and the build has -ffp-contract=off). Quantizer: Q8_0, where vrndaq
 * is roundf (ties away from zero) and the amax scan is order-independent for finite input.
 * NEON's float->int conversion saturates where x86's (which the reference models) gives
 * INT32_MIN, so blocks holding Inf/NaN, or whose inverse scale overflows, go to the reference
 * kernel (saved at registration), one block at a time.
 *
 * On other architectures tc_neon_register does nothing. scripts/ci/check_neon.sh compiles this
 * file for aarch64 and, under qemu-aarch64, checks it against the reference.
 */
#include "kernels.h"

#if defined(__aarch64__)

#include "blocks.h"

#include <arm_neon.h>

static tc_quant_fn ref_q8_0;

/* y[0..7] = (float)b[i] * d for the 8 signed bytes b */
static inline void store8_i8(float *y, int8x8_t b, float32x4_t d)
{
    int16x8_t w = vmovl_s8(b);
    vst1q_f32(y, vmulq_f32(vcvtq_f32_s32(vmovl_s16(vget_low_s16(w))), d));
    vst1q_f32(y + 4, vmulq_f32(vcvtq_f32_s32(vmovl_s16(vget_high_s16(w))), d));
}

static inline void store16_i8(float *y, int8x16_t b, float32x4_t d)
{
    store8_i8(y, vget_low_s8(b), d);
    store8_i8(y + 8, vget_high_s8(b), d);
}

/* y[0..15] = d * (float)b[i] - m for 16 unsigned bytes */
static inline void store16_u8_msub(float *y, uint8x16_t b, float32x4_t d, float32x4_t m)
{
    uint16x8_t lo = vmovl_u8(vget_low_u8(b)), hi = vmovl_u8(vget_high_u8(b));
    uint32x4_t q[4] = {vmovl_u16(vget_low_u16(lo)), vmovl_u16(vget_high_u16(lo)),
                       vmovl_u16(vget_low_u16(hi)), vmovl_u16(vget_high_u16(hi))};
    for (int k = 0; k < 4; k++)
        vst1q_f32(y + 4 * k, vsubq_f32(vmulq_f32(d, vcvtq_f32_u32(q[k])), m));
}

static void q4_0_dequant(const void *src, float *y, int64_t n)
{
    const uint8_t *x = src;
    const uint8x16_t m4 = vdupq_n_u8(0x0F);
    const int8x16_t eight = vdupq_n_s8(8);
    for (int64_t i = 0; i < n / 32; i++, x += 18, y += 32) {
        const float32x4_t d = vdupq_n_f32(tc_ggml_h2f(tc_ld_u16(x)));
        uint8x16_t q = vld1q_u8(x + 2);
        store16_i8(y, vsubq_s8(vreinterpretq_s8_u8(vandq_u8(q, m4)), eight), d);
        store16_i8(y + 16, vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8(q, 4)), eight), d);
    }
}

static void q8_0_dequant(const void *src, float *y, int64_t n)
{
    const uint8_t *x = src;
    for (int64_t i = 0; i < n / 32; i++, x += 34, y += 32) {
        const float32x4_t d = vdupq_n_f32(tc_ggml_h2f(tc_ld_u16(x)));
        store16_i8(y, vld1q_s8((const int8_t *)(x + 2)), d);
        store16_i8(y + 16, vld1q_s8((const int8_t *)(x + 18)), d);
    }
}

static inline void scale_min_k4(int j, const uint8_t *q, uint8_t *d, uint8_t *m)
{
    if (j < 4) {
        *d = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *d = (uint8_t)((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
        *m = (uint8_t)((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
    }
}

static void q4_k_dequant(const void *src, float *y, int64_t n)
{
    const uint8_t *b = src;
    const uint8x16_t m4 = vdupq_n_u8(0x0F);
    for (int64_t i = 0; i < n / QK_K; i++, b += 144) {
        const float d = tc_f16_to_f32(tc_ld_u16(b)), min = tc_f16_to_f32(tc_ld_u16(b + 2));
        const uint8_t *q = b + 16;
        for (int is = 0; is < 8; is += 2, q += 32, y += 64) {
            uint8_t sc, m;
            scale_min_k4(is, b + 4, &sc, &m);
            const float32x4_t d1 = vdupq_n_f32(d * (float)sc), m1 = vdupq_n_f32(min * (float)m);
            scale_min_k4(is + 1, b + 4, &sc, &m);
            const float32x4_t d2 = vdupq_n_f32(d * (float)sc), m2 = vdupq_n_f32(min * (float)m);
            uint8x16_t v0 = vld1q_u8(q), v1 = vld1q_u8(q + 16);
            store16_u8_msub(y, vandq_u8(v0, m4), d1, m1);
            store16_u8_msub(y + 16, vandq_u8(v1, m4), d1, m1);
            store16_u8_msub(y + 32, vshrq_n_u8(v0, 4), d2, m2);
            store16_u8_msub(y + 48, vshrq_n_u8(v1, 4), d2, m2);
        }
    }
}

static void q6_k_dequant(const void *src, float *y, int64_t n)
{
    const uint8_t *b = src;
    const uint8x16_t m4 = vdupq_n_u8(0x0F), m3 = vdupq_n_u8(3);
    const int8x16_t b32 = vdupq_n_s8(32);
    for (int64_t i = 0; i < n / QK_K; i++, b += 210) {
        const float d = tc_f16_to_f32(tc_ld_u16(b + 208));
        const uint8_t *ql = b, *qh = b + 128;
        const int8_t *sc = (const int8_t *)(b + 192);
        for (int h = 0; h < 2; h++, y += 128, ql += 64, qh += 32, sc += 8) {
            for (int half = 0; half < 2; half++) { /* l = 16*half .. 16*half+15 */
                const int o = 16 * half;
                uint8x16_t l0 = vld1q_u8(ql + o), l1 = vld1q_u8(ql + 32 + o);
                uint8x16_t hh = vld1q_u8(qh + o);
                uint8x16_t q[4];
                q[0] = vorrq_u8(vandq_u8(l0, m4), vshlq_n_u8(vandq_u8(hh, m3), 4));
                q[1] = vorrq_u8(vandq_u8(l1, m4), vshlq_n_u8(vandq_u8(vshrq_n_u8(hh, 2), m3), 4));
                q[2] = vorrq_u8(vshrq_n_u8(l0, 4), vshlq_n_u8(vandq_u8(vshrq_n_u8(hh, 4), m3), 4));
                q[3] = vorrq_u8(vshrq_n_u8(l1, 4), vshlq_n_u8(vshrq_n_u8(hh, 6), 4));
                for (int k = 0; k < 4; k++) {
                    const float32x4_t dk = vdupq_n_f32(d * (float)sc[2 * k + half]);
                    store16_i8(y + 32 * k + o, vsubq_s8(vreinterpretq_s8_u8(q[k]), b32), dk);
                }
            }
        }
    }
}

static void q8_0_quant(const float *x, void *dst, int64_t n_rows, int64_t n_per_row,
                       const float *imatrix)
{
    (void)imatrix;
    uint8_t *y = dst;
    const float32x4_t inf = vdupq_n_f32(INFINITY);
    for (int64_t i = 0, nb = n_rows * n_per_row / 32; i < nb; i++, x += 32, y += 34) {
        float32x4_t v[8];
        float32x4_t m = vdupq_n_f32(0.0f);
        uint32x4_t fin = vdupq_n_u32(0xFFFFFFFFu);
        for (int k = 0; k < 8; k++) {
            v[k] = vld1q_f32(x + 4 * k);
            float32x4_t a = vabsq_f32(v[k]);
            fin = vandq_u32(fin, vcltq_f32(a, inf)); /* false for Inf and NaN */
            m = vmaxq_f32(m, a);
        }
        const float amax = vmaxvq_f32(m);
        const float d = amax / 127;
        const float id = d ? 1.0f / d : 0.0f;
        if (vminvq_u32(fin) != 0xFFFFFFFFu || !(id < INFINITY)) {
            ref_q8_0(x, y, 1, 32, NULL);
            continue;
        }
        tc_st_u16(y, tc_f32_to_f16(d));
        const float32x4_t idv = vdupq_n_f32(id);
        int8x8_t out[4];
        for (int k = 0; k < 4; k++) {
            int32x4_t a = vcvtq_s32_f32(vrndaq_f32(vmulq_f32(v[2 * k], idv)));
            int32x4_t c = vcvtq_s32_f32(vrndaq_f32(vmulq_f32(v[2 * k + 1], idv)));
            out[k] = vmovn_s16(vcombine_s16(vmovn_s32(a), vmovn_s32(c)));
        }
        vst1q_s8((int8_t *)(y + 2), vcombine_s8(out[0], out[1]));
        vst1q_s8((int8_t *)(y + 18), vcombine_s8(out[2], out[3]));
    }
}

void tc_neon_register(tc_kernel_table *k)
{
    if (ref_q8_0 == NULL)
        ref_q8_0 = k->quantize[TC_DTYPE_Q8_0];
    k->dequantize[TC_DTYPE_Q4_0] = q4_0_dequant;
    k->dequantize[TC_DTYPE_Q8_0] = q8_0_dequant;
    k->dequantize[TC_DTYPE_Q4_K] = q4_k_dequant;
    k->dequantize[TC_DTYPE_Q6_K] = q6_k_dequant;
    k->quantize[TC_DTYPE_Q8_0] = q8_0_quant;
}

#else

void tc_neon_register(tc_kernel_table *k)
{
    (void)k;
}

#endif
