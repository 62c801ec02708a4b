/*
 * grid_avx2.h - private to quant/: the grid lane templates' parts that stay 8 lanes wide on x86
 * whatever W is, in AVX2 intrinsics: a group of 8 elements per vector (the IQ2_XXS/IQ2_XS and
 * IQ3 sub-block preparation with the parity element, IQ2_S's block preparation), and IQ3's
 * smallest xval and requantization of 8 groups (IQ2_XXS's make_qp_quants of 8 sub-blocks moved
 * to iq2q_lanes.h when it changed). Both x86 ISA files compile with -mavx2 (the AVX-512 ones too),
 * so both use these; iq2q_lanes.h, iq2s_lanes.h and iq3q_lanes.h include this header where
 * TC_GRID_AVX2 is set (grid_ops_avx2.h, grid_ops_avx512.h) and name each function by its
 * template's name, and have the same operations in their W-lane ops for the other ISAs (NEON).
 * Moved out of the templates unchanged: the x86 objects disassemble identically (but for two
 * spill slots that trade places in avx512_iq3q.o). The templates keep the comments that explain
 * why every float is the reference's, at the names these functions stand for.
 */
#ifndef TC_GRID_AVX2_H
#define TC_GRID_AVX2_H

#include "blocks.h"
#include "iq2q.h"

#include <immintrin.h>
#include <math.h>
#include <stdint.h>

/* iq2q_lanes.h's sub_prep, a group of 8 elements per vector */
static inline float tc_iq2q_sub_prep8(int ng, const float *xb, const float *qw, float sigma2,
                                      float *weight, float *waux, float *xval, uint8_t *signs)
{
    const __m256 zero = _mm256_setzero_ps(), sbit = _mm256_set1_ps(-0.0f);
    __m256 vmax = _mm256_set1_ps(-INFINITY);
    for (int k = 0; k < ng; k++) {
        const __m256 x = _mm256_loadu_ps(xb + 8 * k);
        const __m256 w = _mm256_mul_ps(
            _mm256_loadu_ps(qw + 8 * k),
            _mm256_sqrt_ps(_mm256_add_ps(_mm256_set1_ps(sigma2), _mm256_mul_ps(x, x))));
        _mm256_storeu_ps(weight + 8 * k, w);
        _mm256_storeu_ps(waux + 8 * k, _mm256_sqrt_ps(w));
        const __m256 neg = _mm256_cmp_ps(x, zero, _CMP_LT_OQ); /* !(x >= 0): x is not NaN */
        __m256 xv = _mm256_blendv_ps(x, _mm256_xor_ps(x, sbit), neg);
        unsigned s = (unsigned)_mm256_movemask_ps(neg);
        if (__builtin_popcount(s) & 1) {
            /* the first smallest weight*x*x: without NaN, the first lane equal to the
             * smallest; with one, the reference's loop */
            const __m256 p = _mm256_mul_ps(_mm256_mul_ps(w, x), x);
            __m256 mn = _mm256_min_ps(p, _mm256_permute2f128_ps(p, p, 1));
            mn = _mm256_min_ps(mn, _mm256_shuffle_ps(mn, mn, _MM_SHUFFLE(1, 0, 3, 2)));
            mn = _mm256_min_ps(mn, _mm256_shuffle_ps(mn, mn, _MM_SHUFFLE(2, 3, 0, 1)));
            int imin;
            if (_mm256_movemask_ps(_mm256_cmp_ps(p, p, _CMP_UNORD_Q)) == 0) {
                imin =
                    __builtin_ctz((unsigned)_mm256_movemask_ps(_mm256_cmp_ps(p, mn, _CMP_EQ_OQ)));
            } else {
                imin = tc_parity_min(weight + 8 * k, xb + 8 * k);
            }
            s ^= 1u << imin;
            const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
            const __m256 at =
                _mm256_castsi256_ps(_mm256_cmpeq_epi32(lane, _mm256_set1_epi32(imin)));
            xv = _mm256_xor_ps(xv, _mm256_and_ps(at, sbit));
        }
        _mm256_storeu_ps(xval + 8 * k, xv);
        signs[k] = (uint8_t)(s & 127);
        vmax = _mm256_max_ps(vmax, xv);
    }
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(vmax), _mm256_extractf128_ps(vmax, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

/* group_codes of the ng (2 or 4) groups at xv (8 values each) at one inverse scale id, lane k =
 * group k (the lanes past ng repeat group 0): the same operations per value, on the transposed
 * groups. */
static inline void tc_iq2q_codes4(float id, const float *xv, int ng, int32_t out[4])
{
    __m128 X[8];
    for (int h = 0; h < 2; h++) {
        for (int k = 0; k < 4; k++)
            X[4 * h + k] = _mm_loadu_ps(xv + (k < ng ? 8 * k : 0) + 4 * h);
        _MM_TRANSPOSE4_PS(X[4 * h], X[4 * h + 1], X[4 * h + 2], X[4 * h + 3]);
    }
    const __m128 idv = _mm_set1_ps(id), one = _mm_set1_ps(1.0f), half = _mm_set1_ps(0.5f),
                 magic = _mm_set1_ps(12582912.f);
    const __m128i bias = _mm_set1_epi32(0x00400000), top = _mm_set1_epi32(0x00400000 + 2),
                  mant = _mm_set1_epi32(0x007fffff);
    __m128i code = _mm_setzero_si128();
    for (int j = 0; j < 8; j++) {
        const __m128 f = _mm_mul_ps(half, _mm_sub_ps(_mm_mul_ps(idv, X[j]), one));
        __m128i v = _mm_and_si128(_mm_castps_si128(_mm_add_ps(f, magic)), mant);
        v = _mm_max_epi32(bias, _mm_min_epi32(top, v));
        code = _mm_add_epi32(code, _mm_sll_epi32(v, _mm_cvtsi32_si128(2 * j)));
    }
    code = _mm_sub_epi32(code, _mm_set1_epi32((int32_t)(0x00400000u * 0x5555u)));
    _mm_storeu_si128((__m128i *)out, code);
}

/* iq2s_lanes.h's block_prep, a group of 8 elements per vector */
static inline void tc_iq2s_block_prep8(const float *x, const float *qw, float sigma2, float *wa,
                                       float *xval, uint8_t *signs)
{
    const __m256 zero = _mm256_setzero_ps(), sbit = _mm256_set1_ps(-0.0f);
    const __m256 s2 = _mm256_set1_ps(sigma2), s4 = _mm256_set1_ps(0.25f * sigma2);
    for (int g = 0; g < 32; g++) {
        const __m256 xv = _mm256_loadu_ps(x + 8 * g);
        const __m256 xv2 = _mm256_mul_ps(xv, xv);
        const __m256 wk =
            qw ? _mm256_mul_ps(_mm256_loadu_ps(qw + 8 * g), _mm256_sqrt_ps(_mm256_add_ps(s2, xv2)))
               : _mm256_add_ps(s4, xv2);
        const __m256 neg = _mm256_cmp_ps(xv, zero, _CMP_LT_OQ); /* !(x >= 0): x is not NaN */
        _mm256_storeu_ps(wa + 8 * g, _mm256_sqrt_ps(wk));
        _mm256_storeu_ps(xval + 8 * g, _mm256_blendv_ps(xv, _mm256_xor_ps(xv, sbit), neg));
        signs[g] = (uint8_t)_mm256_movemask_ps(neg);
    }
}

/* code4 to code3 in 8 lanes */
static inline __m256i tc_iq3q_code3_8(__m256i c)
{
    const __m256i a =
        _mm256_or_si256(_mm256_and_si256(c, _mm256_set1_epi32(0x007)),
                        _mm256_and_si256(_mm256_srli_epi32(c, 1), _mm256_set1_epi32(0x038)));
    const __m256i b =
        _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi32(c, 2), _mm256_set1_epi32(0x1c0)),
                        _mm256_and_si256(_mm256_srli_epi32(c, 3), _mm256_set1_epi32(0xe00)));
    return _mm256_or_si256(a, b);
}

/*
 * The code4s of the 8 groups of a sub-block at one inverse scale (lane k = group k): the levels
 * of the 32 elements in element order (level_of, the same operations per element), each moved
 * to its nibble, the 4 nibbles of a group added (they do not overlap: an OR) by two horizontal
 * adds, which leave the groups in the order 0, 2, 4, 6, 1, 3, 5, 7.
 */
static inline __m256i tc_iq3q_groups_codes8(float idf, const float *xval)
{
    const __m256 id = _mm256_set1_ps(idf), one = _mm256_set1_ps(1.0f), half = _mm256_set1_ps(0.5f),
                 magic = _mm256_set1_ps(12582912.f);
    const __m256i sh = _mm256_setr_epi32(0, 4, 8, 12, 0, 4, 8, 12);
    __m256i l[4];
    for (int q = 0; q < 4; q++) {
        const __m256 f = _mm256_mul_ps(
            half, _mm256_sub_ps(_mm256_mul_ps(id, _mm256_loadu_ps(xval + 8 * q)), one));
        __m256i v = _mm256_sub_epi32(_mm256_and_si256(_mm256_castps_si256(_mm256_add_ps(f, magic)),
                                                      _mm256_set1_epi32(0x007fffff)),
                                     _mm256_set1_epi32(0x00400000));
        v = _mm256_max_epi32(_mm256_setzero_si256(),
                             _mm256_min_epi32(_mm256_set1_epi32(7 /* IQ3_MAXQ - 1 */), v));
        l[q] = _mm256_sllv_epi32(v, sh);
    }
    const __m256i h =
        _mm256_hadd_epi32(_mm256_hadd_epi32(l[0], l[1]), _mm256_hadd_epi32(l[2], l[3]));
    return _mm256_permutevar8x32_epi32(h, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

/* iq3q_lanes.h's xval_min */
static inline float tc_iq3q_xval_min(const float *xval)
{
    __m256 m = _mm256_min_ps(_mm256_min_ps(_mm256_loadu_ps(xval), _mm256_loadu_ps(xval + 8)),
                             _mm256_min_ps(_mm256_loadu_ps(xval + 16), _mm256_loadu_ps(xval + 24)));
    __m128 h = _mm_min_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    h = _mm_min_ps(h, _mm_movehl_ps(h, h));
    h = _mm_min_ss(h, _mm_movehdup_ps(h));
    return _mm_cvtss_f32(h);
}

/* The requantization's codes of the 8 groups of a sub-block at inverse scale id (lane k = group
 * k) to gc, their map entries to gm; returns the groups off the grid (bit k: group k). */
static inline __attribute__((always_inline)) unsigned
tc_iq3q_requant8(const int32_t *map, float id, const float *xval, int32_t *gc, int32_t *gm)
{
    const __m256i c = tc_iq3q_groups_codes8(id, xval);
    const __m256i m = _mm256_i32gather_epi32(map, tc_iq3q_code3_8(c), 4);
    _mm256_storeu_si256((__m256i *)gc, c);
    _mm256_storeu_si256((__m256i *)gm, m);
    return (unsigned)_mm256_movemask_ps(
        _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_setzero_si256(), m)));
}

/* tc_parity_min (blocks.h): without a NaN the first lane equal to the smallest product. */
static inline int tc_iq3q_parity_min(const float *wk, const float *xk)
{
    const __m256 w = _mm256_loadu_ps(wk), x = _mm256_loadu_ps(xk);
    const __m256 p = _mm256_mul_ps(_mm256_mul_ps(w, x), x);
    if (_mm256_movemask_ps(_mm256_cmp_ps(p, p, _CMP_UNORD_Q)) == 0) {
        __m256 mn = _mm256_min_ps(p, _mm256_permute2f128_ps(p, p, 1));
        mn = _mm256_min_ps(mn, _mm256_shuffle_ps(mn, mn, _MM_SHUFFLE(1, 0, 3, 2)));
        mn = _mm256_min_ps(mn, _mm256_shuffle_ps(mn, mn, _MM_SHUFFLE(2, 3, 0, 1)));
        return __builtin_ctz((unsigned)_mm256_movemask_ps(_mm256_cmp_ps(p, mn, _CMP_EQ_OQ)));
    }
    return tc_parity_min(wk, xk);
}

/*
 * sub_weights and the sign split of the reference for a sub-block of 32 (x finite): w, wa,
 * xval, the 4 sign bytes (IQ3_XXS: 7 bits after the parity flip) and the largest xval.
 */
static inline float tc_iq3q_sub_prep8(const float *xb, const float *qw, float sigma2, int xxs,
                                      float *w, float *wa, float *xval, unsigned *signs)
{
    const __m256 zero = _mm256_setzero_ps(), sbit = _mm256_set1_ps(-0.0f);
    __m256 vmax = _mm256_set1_ps(-INFINITY);
    for (int k = 0; k < 4; k++) {
        const __m256 x = _mm256_loadu_ps(xb + 8 * k);
        const __m256 x2 = _mm256_mul_ps(x, x);
        const __m256 wk =
            qw ? _mm256_mul_ps(_mm256_loadu_ps(qw + 8 * k),
                               _mm256_sqrt_ps(_mm256_add_ps(_mm256_set1_ps(sigma2), x2)))
               : x2;
        _mm256_storeu_ps(w + 8 * k, wk);
        _mm256_storeu_ps(wa + 8 * k, _mm256_sqrt_ps(wk));
        const __m256 neg = _mm256_cmp_ps(x, zero, _CMP_LT_OQ); /* !(x >= 0): x is not NaN */
        __m256 xv = _mm256_blendv_ps(x, _mm256_xor_ps(x, sbit), neg);
        unsigned s = (unsigned)_mm256_movemask_ps(neg);
        if (xxs && (__builtin_popcount(s) & 1)) {
            const int imin = tc_iq3q_parity_min(w + 8 * k, xb + 8 * k);
            s ^= 1u << imin;
            const __m256 at = _mm256_castsi256_ps(_mm256_cmpeq_epi32(
                _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32(imin)));
            xv = _mm256_xor_ps(xv, _mm256_and_ps(at, sbit));
        }
        if (xxs)
            s &= 127;
        _mm256_storeu_ps(xval + 8 * k, xv);
        signs[k] = s;
        vmax = _mm256_max_ps(vmax, xv);
    }
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(vmax), _mm256_extractf128_ps(vmax, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

#endif /* TC_GRID_AVX2_H */
