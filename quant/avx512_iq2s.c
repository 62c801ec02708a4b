/*
 * avx512_iq2s.c - AVX-512 quantizer for IQ2_S, bit-identical to ref_iq3_quant.c (and so to
 * ggml's quantize_iq2_s): iq2s_lanes.h with 16 lanes (all 16 sub-blocks of a block at once, or 16
 * candidates of a neighbour list), which explains why every float is the reference's. No FMA:
 * the reference has no fused multiply-add.
 */
#include "iq2s.h"

#if defined(__x86_64__) && defined(__GNUC__)

#include "grid_ops_avx512.h"

/* out[i] lane b = p[16 * b + i]: a 16 x 16 transpose (pairs, quads, then 128-bit blocks) */
static inline void transpose16(const float *p, __m512 *out)
{
    __m512 t[16], u[16];
    for (int k = 0; k < 8; k++) {
        const __m512 a = _mm512_loadu_ps(p + 32 * k), b = _mm512_loadu_ps(p + 32 * k + 16);
        t[2 * k] = _mm512_unpacklo_ps(a, b);
        t[2 * k + 1] = _mm512_unpackhi_ps(a, b);
    }
    for (int k = 0; k < 4; k++) { /* u[4k + m]: column 4j + m of rows 4k..4k+3 in block j */
        u[4 * k] = _mm512_shuffle_ps(t[4 * k], t[4 * k + 2], 0x44);
        u[4 * k + 1] = _mm512_shuffle_ps(t[4 * k], t[4 * k + 2], 0xee);
        u[4 * k + 2] = _mm512_shuffle_ps(t[4 * k + 1], t[4 * k + 3], 0x44);
        u[4 * k + 3] = _mm512_shuffle_ps(t[4 * k + 1], t[4 * k + 3], 0xee);
    }
    for (int m = 0; m < 4; m++) {
        const __m512 p0 = _mm512_shuffle_f32x4(u[m], u[4 + m], 0x88);
        const __m512 p1 = _mm512_shuffle_f32x4(u[m], u[4 + m], 0xdd);
        const __m512 q0 = _mm512_shuffle_f32x4(u[8 + m], u[12 + m], 0x88);
        const __m512 q1 = _mm512_shuffle_f32x4(u[8 + m], u[12 + m], 0xdd);
        out[m] = _mm512_shuffle_f32x4(p0, q0, 0x88);
        out[4 + m] = _mm512_shuffle_f32x4(p1, q1, 0x88);
        out[8 + m] = _mm512_shuffle_f32x4(p0, q0, 0xdd);
        out[12 + m] = _mm512_shuffle_f32x4(p1, q1, 0xdd);
    }
}

/* the lanes below k (k >= 1) */
static inline __mmask16 first_lanes(int k)
{
    return (__mmask16)(k >= 16 ? 0xffff : (1u << k) - 1);
}

#define W_LOAD(p, k)           _mm512_maskz_loadu_epi32(first_lanes(k), p)
#define W_MIN_FMAX(d, k, fmax) _mm512_mask_min_ps(fmax, first_lanes(k), d, fmax)
#define TRANSPOSE16            transpose16
#define F_SQRT                 _mm512_sqrt_ps
#define F_NEG(v)                                                                                   \
    _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(v), _mm512_set1_epi32(INT32_MIN)))
#define I_MASK_ADD(v, m, k) _mm512_mask_add_epi32(v, m, v, _mm512_set1_epi32(k))
#define F_LOAD8(p)          _mm512_castps256_ps512(_mm256_loadu_ps(p))

#include "iq2s_lanes.h"

void tc_avx512_register_iq2s(tc_kernel_table *k)
{
    k->quantize[TC_DTYPE_IQ2_S] = iq2s_rows;
}

#else

void tc_avx512_register_iq2s(tc_kernel_table *k)
{
    (void)k;
}

#endif
