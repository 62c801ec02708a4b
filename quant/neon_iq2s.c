/*
 * neon_iq2s.c - AArch64 NEON quantizer for IQ2_S, bit-identical to ref_iq3_quant.c (and so to
 * ggml's quantize_iq2_s): iq2s_lanes.h with 4 lanes (4 sub-blocks at once, or 4 candidates of a
 * neighbour list; every list searched by the general path, the first vector masked like the
 * rest), which explains why every float is the reference's. No FMA (the build has
 * -ffp-contract=off). Compiled on every architecture, empty but for a no-op register function
 * off AArch64. Checked against the reference by scripts/ci/check_neon.sh.
 */
#if defined(__aarch64__) && defined(__GNUC__) && !defined(__clang__)
/* GCC's -O2 keeps the template's small fixed loops rolled, their vectors stored and reloaded;
 * unrolled, as neon_iq1q.c (neon_icount.sh measures the difference). Before any include, so
 * that every function here, the intrinsics included, has the same options. */
#pragma GCC optimize("unroll-loops")
#endif

#include "iq2s.h"

#if defined(__aarch64__)

#include "grid_ops_neon.h"

/* out[i] lane b = p[16 * b + i], b < 4: four 4 x 4 transposes */
static inline void transpose16(const float *p, float32x4_t *out)
{
    for (int c = 0; c < 16; c += 4) {
        const float32x4_t r0 = vld1q_f32(p + c), r1 = vld1q_f32(p + 16 + c);
        const float32x4_t r2 = vld1q_f32(p + 32 + c), r3 = vld1q_f32(p + 48 + c);
        const float64x2_t t0 = vreinterpretq_f64_f32(vtrn1q_f32(r0, r1)); /* r0[0] r1[0] r0[2].. */
        const float64x2_t t1 = vreinterpretq_f64_f32(vtrn2q_f32(r0, r1)); /* r0[1] r1[1] r0[3].. */
        const float64x2_t t2 = vreinterpretq_f64_f32(vtrn1q_f32(r2, r3));
        const float64x2_t t3 = vreinterpretq_f64_f32(vtrn2q_f32(r2, r3));
        out[c] = vreinterpretq_f32_f64(vtrn1q_f64(t0, t2));
        out[c + 1] = vreinterpretq_f32_f64(vtrn1q_f64(t1, t3));
        out[c + 2] = vreinterpretq_f32_f64(vtrn2q_f64(t0, t2));
        out[c + 3] = vreinterpretq_f32_f64(vtrn2q_f64(t1, t3));
    }
}

/* the lanes below k, as a mask */
static inline uint32x4_t first_lanes(int k)
{
    static const int32_t lane[4] = {0, 1, 2, 3};
    return vcgtq_s32(vdupq_n_s32(k), vld1q_s32(lane));
}

/* the first min(k, 4) values at p (k >= 1), zeros in the other lanes (not read) */
static inline int32x4_t w_load(const uint32_t *p, int k)
{
    if (k >= 4)
        return vreinterpretq_s32_u32(vld1q_u32(p));
    int32x4_t v = vdupq_n_s32(0);
    v = vsetq_lane_s32((int32_t)p[0], v, 0);
    if (k > 1)
        v = vsetq_lane_s32((int32_t)p[1], v, 1);
    if (k > 2)
        v = vsetq_lane_s32((int32_t)p[2], v, 2);
    return v;
}

#define W_LOAD(p, k)           w_load(p, k)
#define W_MIN_FMAX(d, k, fmax) vbslq_f32(first_lanes(k), F_MIN(d, fmax), fmax)
#define TRANSPOSE16            transpose16

#include "iq2s_lanes.h"

void tc_neon_register_iq2s(tc_kernel_table *k)
{
    k->quantize[TC_DTYPE_IQ2_S] = iq2s_rows;
}

#else

void tc_neon_register_iq2s(tc_kernel_table *k)
{
    (void)k;
}

#endif
