/*
 * neon_iq1q.c - AArch64 NEON quantizers for IQ1_S and IQ1_M, bit-identical to ref_iq1_quant.c
 * (and so to ggml's quantize_iq1_s / quantize_iq1_m): iq1q_lanes.h with 4 lanes (4 sub-blocks
 * at once, half an IQ1_S block or a quarter of an IQ1_M one; 4 candidates of a neighbour list),
 * which explains why every float is the reference's, the theta start's rounding argument
 * included (it needs IEEE single operations without FMA: vmulq / vaddq / vdivq / vsqrtq round
 * correctly, and the build has -ffp-contract=off). The template's AVX2-only parts (8 x 8
 * transposes, 8-element groups) have generic W-lane forms there, which this file gets: a lane's
 * sorted values by byte table lookups over its 16 or 32 values (F_TBL below), then 4 x 4
 * transposes. Compiled on every architecture, empty but for a no-op register function off
 * AArch64. Checked against the reference by scripts/ci/check_neon.sh.
 */
#if defined(__aarch64__) && defined(__GNUC__) && !defined(__clang__)
/* GCC's -O2 keeps the template's small fixed loops (a step's 4 shift codes and 2 halves, the
 * sort's vectors) rolled, their vectors stored and reloaded: unrolled, IQ1_M runs 44% fewer
 * instructions under qemu (neon_icount.sh). Before any include, so that every function here,
 * the intrinsics included, has the same options. */
#pragma GCC optimize("unroll-loops")
#endif

#include "iq1q.h"

#if defined(__aarch64__)

#include "grid_ops_neon.h"

#define I_COUNT(v, m) vsubq_s32(v, vreinterpretq_s32_u32(m)) /* a mask lane is -1 */

/* lane l = element i[l] of the nt (4 or 8) vectors at t, i[l] < 4 * nt: byte indices
 * 4 * i + 0..3 (at most 127), looked up in the first 64 bytes, then those at 64 and up in the
 * next 64 (tbx keeps the lanes whose index - 64 wrapped out of range) */
static inline __attribute__((always_inline)) float32x4_t tbl_lanes(const float32x4_t *t, int nt,
                                                                   int32x4_t i)
{
    const uint8x16_t b = vreinterpretq_u8_u32(
        vaddq_u32(vmulq_n_u32(vreinterpretq_u32_s32(i), 0x04040404u), vdupq_n_u32(0x03020100u)));
    const uint8x16x4_t lo = {{vreinterpretq_u8_f32(t[0]), vreinterpretq_u8_f32(t[1]),
                              vreinterpretq_u8_f32(t[2]), vreinterpretq_u8_f32(t[3])}};
    uint8x16_t r = vqtbl4q_u8(lo, b);
    if (nt == 8) {
        const uint8x16x4_t hi = {{vreinterpretq_u8_f32(t[4]), vreinterpretq_u8_f32(t[5]),
                                  vreinterpretq_u8_f32(t[6]), vreinterpretq_u8_f32(t[7])}};
        r = vqtbx4q_u8(r, hi, vsubq_u8(b, vdupq_n_u8(64)));
    }
    return vreinterpretq_f32_u8(r);
}
#define F_TBL       tbl_lanes
#define M_NLE(a, b) vmvnq_u32(vcleq_f32(a, b)) /* not a <= b: NaN passes */

#include "iq1q_lanes.h"

void tc_neon_register_iq1q(tc_kernel_table *k)
{
    k->quantize[TC_DTYPE_IQ1_S] = iq1_s_rows;
    k->quantize[TC_DTYPE_IQ1_M] = iq1_m_rows;
}

#else

void tc_neon_register_iq1q(tc_kernel_table *k)
{
    (void)k;
}

#endif
