/*
 * neon_iq3q.c - AArch64 NEON quantizers for IQ3_XXS and IQ3_S, bit-identical to ref_iq3_quant.c
 * (and so to ggml's quantize_iq3_xxs / quantize_iq3_s): iq3q_lanes.h with 4 lanes
 * (grid_ops_neon.h: 4 trial scales, or 4 candidates of a neighbour list, at once), which
 * explains why every float is the reference's. A level table (8 values, one per level) does not
 * fit in 4 lanes: it is two vectors here (VT), the same products computed in each, and a lane
 * reads its level's value by a two-register byte lookup. No FMA (the build has
 * -ffp-contract=off). Compiled on every architecture, empty but for a no-op register function
 * off AArch64. Checked against the reference by scripts/ci/check_neon.sh.
 */
#if defined(__aarch64__) && defined(__GNUC__) && !defined(__clang__)
/* GCC's -O2 keeps the template's small fixed loops rolled, their vectors stored and reloaded;
 * unrolled, as neon_iq1q.c (neon_icount.sh measures the difference). Before any include, so
 * that every function here, the intrinsics included, has the same options. */
#pragma GCC optimize("unroll-loops")
#endif

#include "iq3q.h"

#if defined(__aarch64__)

#include "grid_ops_neon.h"

/* the 8 values of a level table, levels 0..3 in lo and 4..7 in hi */
typedef struct tc_vt8 {
    float32x4_t lo, hi;
} tc_vt8;

static inline tc_vt8 vt_loadu(const float *p)
{
    return (tc_vt8){vld1q_f32(p), vld1q_f32(p + 4)};
}

static inline tc_vt8 vt_set1(float a)
{
    return (tc_vt8){vdupq_n_f32(a), vdupq_n_f32(a)};
}

static inline tc_vt8 vt_bcast(const float *p)
{
    const float32x4_t v = vld1q_dup_f32(p);
    return (tc_vt8){v, v};
}

static inline tc_vt8 vt_sub(tc_vt8 a, tc_vt8 b)
{
    return (tc_vt8){vsubq_f32(a.lo, b.lo), vsubq_f32(a.hi, b.hi)};
}

static inline tc_vt8 vt_mul(tc_vt8 a, tc_vt8 b)
{
    return (tc_vt8){vmulq_f32(a.lo, b.lo), vmulq_f32(a.hi, b.hi)};
}

/* lane l = t[i[l] & 7]: byte indices 4 * (i & 7) + 0..3 into the table's 32 bytes */
static inline float32x4_t vt_perm(tc_vt8 t, int32x4_t i)
{
    const uint32x4_t k = vandq_u32(vreinterpretq_u32_s32(i), vdupq_n_u32(7));
    const uint32x4_t b = vaddq_u32(vmulq_n_u32(k, 0x04040404u), vdupq_n_u32(0x03020100u));
    const uint8x16x2_t tab = {{vreinterpretq_u8_f32(t.lo), vreinterpretq_u8_f32(t.hi)}};
    return vreinterpretq_f32_u8(vqtbl2q_u8(tab, vreinterpretq_u8_u32(b)));
}

#define VT      tc_vt8
#define T_LOADU vt_loadu
#define T_SET1  vt_set1
#define T_BCAST vt_bcast
#define T_SUB   vt_sub
#define T_MUL   vt_mul
#define T_PERM  vt_perm

/* Rounds to nearest, ties to even, as x86's conversion in its default mode. Used only where the
 * template knows |f| is small (group_codes_x's `small`: |f| < 37): out of int32's range NEON
 * saturates and x86 gives INT32_MIN. */
#define F_TO_I vcvtnq_s32_f32

#include "iq3q_lanes.h"

void tc_neon_register_iq3q(tc_kernel_table *k)
{
    k->quantize[TC_DTYPE_IQ3_XXS] = iq3_xxs_rows;
    k->quantize[TC_DTYPE_IQ3_S] = iq3_s_rows;
}

#else

void tc_neon_register_iq3q(tc_kernel_table *k)
{
    (void)k;
}

#endif
