/*
 * grid_ops_neon.h - private to quant/: the vector operations the grid quantizers' lane templates
 * (iq1q_lanes.h, iq2q_lanes.h, iq2s_lanes.h, iq3q_lanes.h) are written in, for AArch64 NEON (W = 4
 * float lanes).
 * Include once, from a file compiled only on __aarch64__, before the template. The same contracts
 * as grid_ops_avx2.h; where NEON's instruction differs from x86's the op below keeps x86's meaning,
 * which is the one the templates (and the scalar reference they copy) rely on:
 * - F_MIN(a, b) is a < b ? a : b (b when either is NaN, as minps), by compare and select: vminq
 *   would propagate the NaN and pick -0 over +0. F_MAX(a, b) likewise is maxps's a > b ? a : b.
 * - M_CMP(a, b, pred) takes x86's predicate names (defined below with immintrin.h's values);
 *   ordered predicates are false on NaN, the unordered ones (NLT_UQ) their complements.
 * - Shifts by a count that need not be a compile-time constant (vshlq by a vector).
 * - F_PERM(t, i): lane l = t[i[l] mod 4] (a byte table lookup), I_GATHER: four lane loads,
 *   I_COMPRESS_STORE: a byte shuffle from a 16-entry table.
 * There is no F_TO_I here: NEON's float->int conversion saturates where x86's gives INT32_MIN, so
 * it is defined only by neon_iq3q.c, whose template converts in a range known to be small; the
 * other roundings are nearest_int's 1.5*2^23 trick (bit operations, the same on both).
 * quant/ builds with -ffp-contract=off: no vfma/vmla is formed from these separate multiplies
 * and adds.
 */
#ifndef TC_GRID_OPS_NEON_H
#define TC_GRID_OPS_NEON_H

#include <arm_neon.h>
#include <stdint.h>
#include <string.h>

#define TC_ISA_ATTR
#define W 4

#define VF float32x4_t
#define VI int32x4_t
#define VM uint32x4_t

/* x86's comparison predicates (the values of immintrin.h) */
#define _CMP_EQ_OQ   0x00
#define _CMP_UNORD_Q 0x03
#define _CMP_NLT_UQ  0x05
#define _CMP_GE_OQ   0x1d
#define _CMP_GT_OQ   0x1e
#define _CMP_LT_OQ   0x11
#define _CMP_LE_OQ   0x12

static inline __attribute__((always_inline)) uint32x4_t tc_neon_cmp(float32x4_t a, float32x4_t b,
                                                                    int pred)
{
    switch (pred) {
    case _CMP_EQ_OQ:
        return vceqq_f32(a, b);
    case _CMP_UNORD_Q:
        return vmvnq_u32(vandq_u32(vceqq_f32(a, a), vceqq_f32(b, b)));
    case _CMP_NLT_UQ:
        return vmvnq_u32(vcltq_f32(a, b));
    case _CMP_GE_OQ:
        return vcgeq_f32(a, b);
    case _CMP_GT_OQ:
        return vcgtq_f32(a, b);
    case _CMP_LE_OQ:
        return vcleq_f32(a, b);
    default: /* _CMP_LT_OQ */
        return vcltq_f32(a, b);
    }
}

#define F_SET1              vdupq_n_f32
#define F_ZERO              vdupq_n_f32(0.0f)
#define F_ADD               vaddq_f32
#define F_SUB               vsubq_f32
#define F_MUL               vmulq_f32
#define F_DIV               vdivq_f32
#define F_SQRT              vsqrtq_f32
#define F_NEG               vnegq_f32 /* the sign bit flipped, NaN included */
#define F_MIN(a, b)         vbslq_f32(vcltq_f32(a, b), a, b)
#define M_CMP(a, b, p)      tc_neon_cmp(a, b, p)
#define F_BLEND(a, b, m)    vbslq_f32(m, b, a)
#define I_BLEND(a, b, m)    vbslq_s32(m, b, a)
#define I_SET1              vdupq_n_s32
#define I_ZERO              vdupq_n_s32(0)
#define I_ADD               vaddq_s32
#define I_SUB               vsubq_s32
#define I_MIN               vminq_s32
#define I_MAX               vmaxq_s32
#define I_AND               vandq_s32
#define I_OR                vorrq_s32
#define F_BITS              vreinterpretq_s32_f32
#define I_TO_F              vcvtq_f32_s32
#define I_SRLI(v, n)        vreinterpretq_s32_u32(vshlq_u32(vreinterpretq_u32_s32(v), vdupq_n_s32(-(n))))
#define I_SLLI(v, n)        vshlq_s32(v, vdupq_n_s32(n))
#define F_LOADU             vld1q_f32
#define F_STOREU            vst1q_f32
#define F_BCAST             vld1q_dup_f32
#define F_FIRST(v)          vgetq_lane_f32(v, 0)
#define I_LOADU(p)          vld1q_s32((const int32_t *)(p))
#define I_STOREU(p, v)      vst1q_s32((int32_t *)(p), v)
#define I_LOAD_U16(p)       vreinterpretq_s32_u32(vmovl_u16(vld1_u16((const uint16_t *)(p))))
#define M_AND               vandq_u32
#define M_ANDNOT(a, b)      vbicq_u32(a, b) /* a and not b */
#define M_OR                vorrq_u32
#define M_ICMPGT            vcgtq_s32
#define M_ICMPEQ            vceqq_s32
#define I_MASK_ADD(v, m, k) vaddq_s32(v, vandq_s32(vreinterpretq_s32_u32(m), vdupq_n_s32(k)))
#define F_ABS               vabsq_f32                        /* the sign bit cleared */
#define F_MAX(a, b)         vbslq_f32(vcgtq_f32(a, b), a, b) /* maxps: a > b ? a : b */
#define F_FROM_BITS         vreinterpretq_f32_s32

/* lane l = t[i[l] mod 4]: the byte indices 4 * (i & 3) + 0..3 into the table's 16 bytes */
static inline float32x4_t tc_neon_perm(float32x4_t t, int32x4_t i)
{
    const uint32x4_t k = vandq_u32(vreinterpretq_u32_s32(i), vdupq_n_u32(3));
    const uint32x4_t b = vaddq_u32(vmulq_n_u32(k, 0x04040404u), vdupq_n_u32(0x03020100u));
    return vreinterpretq_f32_u8(vqtbl1q_u8(vreinterpretq_u8_f32(t), vreinterpretq_u8_u32(b)));
}
#define F_PERM tc_neon_perm

/* lane j of the mask at bit j */
static inline unsigned tc_neon_bits(uint32x4_t m)
{
    static const uint32_t bit[4] = {1, 2, 4, 8};
    return vaddvq_u32(vandq_u32(m, vld1q_u32(bit)));
}
#define M_BITS tc_neon_bits

#define F_HMIN(v) vdupq_n_f32(vminvq_f32(v)) /* v without NaN: no min/max NaN rule matters */
#define F_HMAX(v) vdupq_n_f32(vmaxvq_f32(v)) /* the same */
#define I_HMIN    vminvq_s32

static inline int32x4_t tc_neon_gather(const int32_t *b, int32x4_t i)
{
    int32x4_t r = vdupq_n_s32(b[vgetq_lane_s32(i, 0)]);
    r = vsetq_lane_s32(b[vgetq_lane_s32(i, 1)], r, 1);
    r = vsetq_lane_s32(b[vgetq_lane_s32(i, 2)], r, 2);
    return vsetq_lane_s32(b[vgetq_lane_s32(i, 3)], r, 3);
}
#define I_GATHER(b, i) tc_neon_gather((const int32_t *)(b), i)

/* the lanes of v at the set bits of `bits` (< 16) to p, in order; 4 values are written */
static inline void tc_neon_compress_store(int32_t *p, int32x4_t v, unsigned bits)
{
    /* entry m: the byte indices of the lanes of m's set bits, in order (then lane 0's) */
#define TC_LP1(m, l) ((m) >> (l)&1)
#define TC_LPOS(m, l)                                                                              \
    (TC_LP1(m, l) * (uint64_t)(l) << 16 * (TC_LP1(m, 0) * ((l) > 0) + TC_LP1(m, 1) * ((l) > 1) +   \
                                           TC_LP1(m, 2) * ((l) > 2)))
#define TC_LP(m)  (TC_LPOS(m, 1) | TC_LPOS(m, 2) | TC_LPOS(m, 3))
#define TC_LP4(m) TC_LP(m), TC_LP(m + 1), TC_LP(m + 2), TC_LP(m + 3)
    static const uint64_t pack[16] = {TC_LP4(0u), TC_LP4(4u), TC_LP4(8u), TC_LP4(12u)};
#undef TC_LP4
#undef TC_LP
#undef TC_LPOS
#undef TC_LP1
    /* the lane numbers, 16 bits each, to byte indices 4 * lane + 0..3 */
    const uint32x4_t lanes = vmovl_u16(vcreate_u16(pack[bits]));
    const uint32x4_t b = vaddq_u32(vmulq_n_u32(lanes, 0x04040404u), vdupq_n_u32(0x03020100u));
    vst1q_s32(p,
              vreinterpretq_s32_u8(vqtbl1q_u8(vreinterpretq_u8_s32(v), vreinterpretq_u8_u32(b))));
}
#define I_COMPRESS_STORE tc_neon_compress_store

/* the 4 bytes at p, zero-extended to lanes 0..3 */
static inline int32x4_t tc_neon_load_u8(const void *p)
{
    uint32_t b;
    memcpy(&b, p, sizeof b);
    return vreinterpretq_s32_u32(vmovl_u16(vget_low_u16(vmovl_u8(vcreate_u8(b)))));
}
#define I_LOAD_U8 tc_neon_load_u8

/* a 4 x 4 transpose: out[k] lane l = r[l] lane k */
static inline void tc_neon_transpose(const float32x4_t *r, float32x4_t *out)
{
    const float64x2_t t0 = vreinterpretq_f64_f32(vtrn1q_f32(r[0], r[1])); /* r0[0] r1[0] r0[2].. */
    const float64x2_t t1 = vreinterpretq_f64_f32(vtrn2q_f32(r[0], r[1])); /* r0[1] r1[1] r0[3].. */
    const float64x2_t t2 = vreinterpretq_f64_f32(vtrn1q_f32(r[2], r[3]));
    const float64x2_t t3 = vreinterpretq_f64_f32(vtrn2q_f32(r[2], r[3]));
    out[0] = vreinterpretq_f32_f64(vtrn1q_f64(t0, t2));
    out[1] = vreinterpretq_f32_f64(vtrn1q_f64(t1, t3));
    out[2] = vreinterpretq_f32_f64(vtrn2q_f64(t0, t2));
    out[3] = vreinterpretq_f32_f64(vtrn2q_f64(t1, t3));
}
#define F_TRANSPOSE tc_neon_transpose

/* n values (a multiple of 4) all finite: no Inf, no NaN. Blocks that are not go to the
 * reference, whose NaN handling the lanes do not copy. */
static inline int tc_all_finite(const float *x, int n)
{
    const uint32x4_t e = vdupq_n_u32(0x7f800000);
    uint32x4_t bad = vdupq_n_u32(0);
    for (int i = 0; i < n; i += 4)
        bad = vorrq_u32(bad, vceqq_u32(vandq_u32(vld1q_u32((const uint32_t *)(x + i)), e), e));
    return vmaxvq_u32(bad) == 0;
}

/* any lane of the mask set */
#define M_ANY(m) (vmaxvq_u32(m) != 0)

#endif /* TC_GRID_OPS_NEON_H */
