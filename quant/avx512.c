/*
 * avx512.c - AVX-512 (F/BW/VL/DQ) kernels, bit-identical to the scalar reference. They override
 * entries of the AVX-512 table after tc_avx2_register filled it with the AVX2 kernels.
 *
 * - Q8_0 / Q4_0 quantize and Q4_0 / Q8_0 / Q4_K / Q6_K dequantize: the AVX2 kernels' arithmetic
 *   on 16 lanes (see avx2.c for why each step is exact).
 * - Q2_K, Q3_K, Q6_K: the sub-block searches of simd_lanes.h on 16 lanes, i.e. all 16
 *   sub-blocks of a block in one vector (Q3_K without an imatrix: q3_prep16 / q3_refine16
 *   here); the block is then finished by avx2.c (avx2_k.h).
 * - IQ4_NL: the IQ4 search with 16 blocks of a row per vector.
 * Blocks holding Inf/NaN or huge values go to the kernel this table held before (the AVX2 one,
 * itself identical to the reference and falling back to it there).
 */
#include "kernels.h"

#if defined(__x86_64__) && defined(__AVX512F__) && defined(__AVX512BW__)

#include "avx2_k.h"
#include "tr8x8.h"
#include "blocks.h"

#include <immintrin.h>
#include <string.h>

static tc_quant_fn prev_quant[TC_DTYPE_GGML_COUNT];

static inline __m512 abs16(__m512 v)
{
    return _mm512_abs_ps(v);
}

/* t[i] for i in 0..15 */
static inline __m512 lut16_z(const float *t, __m512i i)
{
    return _mm512_permutexvar_ps(i, _mm512_loadu_ps(t));
}

#include "ops_avx512.h"

#define F_SQRT _mm512_sqrt_ps
#define F_ABS  abs16
#define F_NEG(a)                                                                                   \
    _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(a), _mm512_set1_epi32(INT32_MIN)))
#define F_MAX          _mm512_max_ps
#define M_AND(a, b)    ((__mmask16)((a) & (b)))
#define M_OR(a, b)     ((__mmask16)((a) | (b)))
#define M_ANDNOT(a, b) ((__mmask16)(~(a) & (b)))
#define M_ANY(m)       ((m) != 0)
#define M_ZERO         ((__mmask16)0)
#define I_INC_IF(c, m) _mm512_mask_add_epi32(c, m, c, _mm512_set1_epi32(1))
#define LUT16(t, i)    lut16_z(t, i)
#define LN(name)       name##16
#define F_ROUNDN(f)    _mm512_roundscale_ps(f, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)

#include "simd_lanes.h"

/* ===== helpers ===== */

/* xt[i] lane j = x[stride * j + i], i < n */
static inline void transpose16(const float *x, int stride, int n, __m512 *xt)
{
    /* two 8 x 8 transposes in ymm registers per 8 columns, rows 0-7 and 8-15 joined: gathers
     * are slow on some cores (on this AMD EPYC the AVX2 one was 15 % of Q3_K's time) */
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 r[8], lo[8], hi[8];
        for (int j = 0; j < 8; j++)
            r[j] = _mm256_loadu_ps(x + (size_t)stride * j + i);
        tc_tr8x8(r, lo);
        for (int j = 0; j < 8; j++)
            r[j] = _mm256_loadu_ps(x + (size_t)stride * (j + 8) + i);
        tc_tr8x8(r, hi);
        for (int k = 0; k < 8; k++)
            xt[i + k] = _mm512_insertf32x8(_mm512_castps256_ps512(lo[k]), hi[k], 1);
    }
    if (i < n) {
        const __m512i idx = _mm512_mullo_epi32(
            _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
            _mm512_set1_epi32(stride));
        for (; i < n; i++)
            xt[i] = _mm512_i32gather_ps(idx, x + i, 4);
    }
}

/* xt[i] lane j = rows[j][i], i < n (a multiple of 8): rows of a ragged group may repeat */
static inline void transpose16_rows(const float *const *rows, int n, __m512 *xt)
{
    for (int i = 0; i < n; i += 8) {
        __m256 r[8], lo[8], hi[8];
        for (int j = 0; j < 8; j++)
            r[j] = _mm256_loadu_ps(rows[j] + i);
        tc_tr8x8(r, lo);
        for (int j = 0; j < 8; j++)
            r[j] = _mm256_loadu_ps(rows[j + 8] + i);
        tc_tr8x8(r, hi);
        for (int k = 0; k < 8; k++)
            xt[i + k] = _mm512_insertf32x8(_mm512_castps256_ps512(lo[k]), hi[k], 1);
    }
}

/* 0 when n values (a multiple of 16) hold Inf/NaN or a magnitude >= 2^50 (see avx2.c) */
static inline int block_tame16(const float *x, int n)
{
    __mmask16 bad = 0;
    for (int i = 0; i < n; i += 16)
        bad |=
            _mm512_cmp_ps_mask(abs16(_mm512_loadu_ps(x + i)), _mm512_set1_ps(0x1p50f), _CMP_NLT_UQ);
    return bad == 0;
}

/* 1 when every importance weight is finite and below 2^50 (else the previous kernel, which
 * hands such calls to the reference) */
static inline int imat_tame16(const float *w, int64_t n)
{
    __mmask16 bad = 0;
    for (int64_t i = 0; i < n; i += 16)
        bad |=
            _mm512_cmp_ps_mask(abs16(_mm512_loadu_ps(w + i)), _mm512_set1_ps(0x1p50f), _CMP_NLT_UQ);
    return bad == 0;
}

static inline float sum_x2_seq(const float *x, int n)
{
    float s = 0;
    for (int i = 0; i < n; ++i)
        s += x[i] * x[i];
    return s;
}

/* roundf on 16 lanes (see roundf8 in avx2.c) */
static inline __m512 roundf16(__m512 x)
{
    __m512 t = _mm512_roundscale_ps(x, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    __mmask16 up = _mm512_cmp_ps_mask(abs16(_mm512_sub_ps(x, t)), _mm512_set1_ps(0.5f), _CMP_GE_OQ);
    __m512 one = _mm512_castsi512_ps(
        _mm512_or_si512(_mm512_castps_si512(_mm512_set1_ps(1.0f)),
                        _mm512_and_si512(_mm512_castps_si512(x), _mm512_set1_epi32(INT32_MIN))));
    return _mm512_mask_add_ps(t, up, t, one);
}

/* ===== Dequantization ===== */

static inline void store16_i8(float *y, __m128i b, __m512 d)
{
    _mm512_storeu_ps(y, _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(b)), d));
}

static void q8_0_dequant(const void *src, float *y, int64_t n)
{
    const uint8_t *x = src;
    for (int64_t i = 0; i < n / 32; i++, x += 34, y += 32) {
        const __m512 d = _mm512_set1_ps(tc_ggml_h2f(tc_ld_u16(x)));
        store16_i8(y, _mm_loadu_si128((const __m128i *)(x + 2)), d);
        store16_i8(y + 16, _mm_loadu_si128((const __m128i *)(x + 18)), d);
    }
}

static void q4_0_dequant(const void *src, float *y, int64_t n)
{
    const uint8_t *x = src;
    const __m128i m4 = _mm_set1_epi8(0x0F), eight = _mm_set1_epi8(8);
    for (int64_t i = 0; i < n / 32; i++, x += 18, y += 32) {
        const __m512 d = _mm512_set1_ps(tc_ggml_h2f(tc_ld_u16(x)));
        __m128i q = _mm_loadu_si128((const __m128i *)(x + 2));
        store16_i8(y, _mm_sub_epi8(_mm_and_si128(q, m4), eight), d);
        store16_i8(y + 16, _mm_sub_epi8(_mm_and_si128(_mm_srli_epi16(q, 4), m4), eight), d);
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

/* y[0..15] = d * (float)b[i] - m for 16 unsigned bytes */
static inline void store16_u8_msub(float *y, __m128i b, __m512 d, __m512 m)
{
    __m512 f = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(b));
    _mm512_storeu_ps(y, _mm512_sub_ps(_mm512_mul_ps(d, f), m));
}

static void q4_k_dequant(const void *src, float *y, int64_t n)
{
    const uint8_t *b = src;
    const __m128i m4 = _mm_set1_epi8(0x0F);
    for (int64_t i = 0; i < n / QK_K; i++, b += 144) {
        const float d = tc_f16_to_f32(tc_ld_u16(b)), min = tc_f16_to_f32(tc_ld_u16(b + 2));
        const uint8_t *q = b + 16;
        for (int is = 0; is < 8; is += 2, q += 32, y += 64) {
            uint8_t sc, m;
            scale_min_k4(is, b + 4, &sc, &m);
            const __m512 d1 = _mm512_set1_ps(d * (float)sc), m1 = _mm512_set1_ps(min * (float)m);
            scale_min_k4(is + 1, b + 4, &sc, &m);
            const __m512 d2 = _mm512_set1_ps(d * (float)sc), m2 = _mm512_set1_ps(min * (float)m);
            __m128i v0 = _mm_loadu_si128((const __m128i *)q);
            __m128i v1 = _mm_loadu_si128((const __m128i *)(q + 16));
            store16_u8_msub(y, _mm_and_si128(v0, m4), d1, m1);
            store16_u8_msub(y + 16, _mm_and_si128(v1, m4), d1, m1);
            store16_u8_msub(y + 32, _mm_and_si128(_mm_srli_epi16(v0, 4), m4), d2, m2);
            store16_u8_msub(y + 48, _mm_and_si128(_mm_srli_epi16(v1, 4), m4), d2, m2);
        }
    }
}

static void q6_k_dequant(const void *src, float *y, int64_t n)
{
    const uint8_t *b = src;
    const __m128i m4 = _mm_set1_epi8(0x0F), m3 = _mm_set1_epi8(3), b32 = _mm_set1_epi8(32);
    for (int64_t i = 0; i < n / QK_K; i++, b += 210) {
        const float d = tc_f16_to_f32(tc_ld_u16(b + 208));
        const uint8_t *ql = b, *qh = b + 128;
        const int8_t *sc = (const int8_t *)(b + 192);
        for (int h = 0; h < 2; h++, y += 128, ql += 64, qh += 32, sc += 8)
            for (int half = 0; half < 2; half++) {
                const int o = 16 * half;
                __m128i l0 = _mm_loadu_si128((const __m128i *)(ql + o));
                __m128i l1 = _mm_loadu_si128((const __m128i *)(ql + 32 + o));
                __m128i hh = _mm_loadu_si128((const __m128i *)(qh + o));
                __m128i q[4];
                q[0] =
                    _mm_or_si128(_mm_and_si128(l0, m4), _mm_slli_epi16(_mm_and_si128(hh, m3), 4));
                q[1] = _mm_or_si128(_mm_and_si128(l1, m4),
                                    _mm_slli_epi16(_mm_and_si128(_mm_srli_epi16(hh, 2), m3), 4));
                q[2] = _mm_or_si128(_mm_and_si128(_mm_srli_epi16(l0, 4), m4),
                                    _mm_slli_epi16(_mm_and_si128(_mm_srli_epi16(hh, 4), m3), 4));
                q[3] = _mm_or_si128(_mm_and_si128(_mm_srli_epi16(l1, 4), m4),
                                    _mm_slli_epi16(_mm_and_si128(_mm_srli_epi16(hh, 6), m3), 4));
                for (int k = 0; k < 4; k++)
                    store16_i8(y + 32 * k + o, _mm_sub_epi8(q[k], b32),
                               _mm512_set1_ps(d * (float)sc[2 * k + half]));
            }
    }
}

/* ===== Legacy quantizers (no imatrix) ===== */

/* Loads a block of 32; 0 when it holds Inf/NaN. amax = max |x|. */
static inline int load32(const float *x, __m512 v[2], float *amax)
{
    v[0] = _mm512_loadu_ps(x);
    v[1] = _mm512_loadu_ps(x + 16);
    const __m512 inf = _mm512_set1_ps(INFINITY);
    __mmask16 bad = _mm512_cmp_ps_mask(abs16(v[0]), inf, _CMP_NLT_UQ) |
                    _mm512_cmp_ps_mask(abs16(v[1]), inf, _CMP_NLT_UQ);
    if (bad)
        return 0;
    *amax = _mm512_reduce_max_ps(_mm512_max_ps(abs16(v[0]), abs16(v[1])));
    return 1;
}

static void q8_0_quant(const float *x, void *dst, int64_t n_rows, int64_t n_per_row,
                       const float *imatrix)
{
    uint8_t *y = dst;
    for (int64_t i = 0, nb = n_rows * n_per_row / 32; i < nb; i++, x += 32, y += 34) {
        __m512 v[2];
        float amax;
        if (!load32(x, v, &amax)) {
            prev_quant[TC_DTYPE_Q8_0](x, y, 1, 32, imatrix);
            continue;
        }
        const float d = amax / 127;
        const float id = d ? 1.0f / d : 0.0f;
        tc_st_u16(y, tc_f32_to_f16(d));
        const __m512 idv = _mm512_set1_ps(id);
        for (int k = 0; k < 2; k++) {
            __m512i q = _mm512_cvttps_epi32(roundf16(_mm512_mul_ps(v[k], idv)));
            _mm_storeu_si128((__m128i *)(y + 2 + 16 * k), _mm512_cvtepi32_epi8(q));
        }
    }
}

static void q4_0_quant(const float *x, void *dst, int64_t n_rows, int64_t n_per_row,
                       const float *imatrix)
{
    if (imatrix) {
        prev_quant[TC_DTYPE_Q4_0](x, dst, n_rows, n_per_row, imatrix);
        return;
    }
    uint8_t *y = dst;
    const __m128i m4 = _mm_set1_epi8(0x0F), fifteen = _mm_set1_epi8(15);
    for (int64_t i = 0, nb = n_rows * n_per_row / 32; i < nb; i++, x += 32, y += 18) {
        __m512 v[2];
        float amax;
        if (!load32(x, v, &amax)) {
            prev_quant[TC_DTYPE_Q4_0](x, y, 1, 32, NULL);
            continue;
        }
        float max = 0.0f; /* the first value of largest magnitude; +0 when all are zero */
        if (amax != 0) {
            const __m512 a = _mm512_set1_ps(amax);
            uint32_t mask = (uint32_t)_mm512_cmp_ps_mask(abs16(v[0]), a, _CMP_EQ_OQ) |
                            (uint32_t)_mm512_cmp_ps_mask(abs16(v[1]), a, _CMP_EQ_OQ) << 16;
            max = x[__builtin_ctz(mask)];
        }
        const float d = max / -8;
        const float id = d ? 1.0f / d : 0.0f;
        tc_st_u16(y, tc_f32_to_f16(d));
        const __m512 idv = _mm512_set1_ps(id), h = _mm512_set1_ps(8.5f);
        __m128i L[2];
        for (int k = 0; k < 2; k++) {
            __m512i q = _mm512_cvttps_epi32(_mm512_add_ps(_mm512_mul_ps(v[k], idv), h));
            L[k] = _mm_min_epi8(_mm512_cvtepi32_epi8(q), fifteen);
        }
        _mm_storeu_si128((__m128i *)(y + 2),
                         _mm_or_si128(L[0], _mm_slli_epi16(_mm_and_si128(L[1], m4), 4)));
    }
}

/* Q5_0 (symmetric, 5 bits), Q4_1 / Q5_1 (with a minimum), no imatrix: as in avx2.c */
static void q5_0_quant(const float *x, void *dst, int64_t n_rows, int64_t n_per_row,
                       const float *imatrix)
{
    if (imatrix) {
        prev_quant[TC_DTYPE_Q5_0](x, dst, n_rows, n_per_row, imatrix);
        return;
    }
    uint8_t *y = dst;
    const __m128i m4 = _mm_set1_epi8(0x0F), lim = _mm_set1_epi8(31);
    for (int64_t i = 0, nb = n_rows * n_per_row / 32; i < nb; i++, x += 32, y += 22) {
        __m512 v[2];
        float amax;
        if (!load32(x, v, &amax)) {
            prev_quant[TC_DTYPE_Q5_0](x, y, 1, 32, NULL);
            continue;
        }
        float max = 0.0f;
        if (amax != 0) {
            const __m512 a = _mm512_set1_ps(amax);
            uint32_t mask = (uint32_t)_mm512_cmp_ps_mask(abs16(v[0]), a, _CMP_EQ_OQ) |
                            (uint32_t)_mm512_cmp_ps_mask(abs16(v[1]), a, _CMP_EQ_OQ) << 16;
            max = x[__builtin_ctz(mask)];
        }
        const float d = max / -16;
        const float id = d ? 1.0f / d : 0.0f;
        tc_st_u16(y, tc_f32_to_f16(d));
        const __m512 idv = _mm512_set1_ps(id), h = _mm512_set1_ps(16.5f);
        __m128i L[2];
        for (int k = 0; k < 2; k++)
            L[k] = _mm_min_epi8(_mm512_cvtepi32_epi8(_mm512_cvttps_epi32(
                                    _mm512_add_ps(_mm512_mul_ps(v[k], idv), h))),
                                lim);
        tc_st_u32(y + 2, (uint32_t)_mm_movemask_epi8(_mm_slli_epi16(L[0], 3)) |
                             (uint32_t)_mm_movemask_epi8(_mm_slli_epi16(L[1], 3)) << 16);
        _mm_storeu_si128(
            (__m128i *)(y + 6),
            _mm_or_si128(_mm_and_si128(L[0], m4), _mm_slli_epi16(_mm_and_si128(L[1], m4), 4)));
    }
}

static inline void qx_1_quant(int t, const float *x, uint8_t *y, int64_t nb, int five)
{
    const int bs = five ? 24 : 20;
    const __m128i m4 = _mm_set1_epi8(0x0F), lim = _mm_set1_epi8(15);
    for (int64_t i = 0; i < nb; i++, x += 32, y += bs) {
        __m512 v[2];
        float amax;
        if (!load32(x, v, &amax)) {
            prev_quant[t](x, y, 1, 32, NULL);
            continue;
        }
        const float min = _mm512_reduce_min_ps(_mm512_min_ps(v[0], v[1]));
        const float max = _mm512_reduce_max_ps(_mm512_max_ps(v[0], v[1]));
        if (min == 0 || max == 0) { /* the sign of a zero min/max depends on the order */
            prev_quant[t](x, y, 1, 32, NULL);
            continue;
        }
        const float d = (max - min) / (five ? 31 : 15);
        const float id = d ? 1.0f / d : 0.0f;
        tc_st_u16(y, tc_f32_to_f16(d));
        tc_st_u16(y + 2, tc_f32_to_f16(min));
        const __m512 idv = _mm512_set1_ps(id), mv = _mm512_set1_ps(min), h = _mm512_set1_ps(0.5f);
        __m128i L[2];
        for (int k = 0; k < 2; k++) {
            __m512 f = _mm512_add_ps(_mm512_mul_ps(_mm512_sub_ps(v[k], mv), idv), h);
            L[k] = _mm512_cvtepi32_epi8(_mm512_cvttps_epi32(f));
            if (!five)
                L[k] = _mm_min_epi8(L[k], lim);
        }
        uint8_t *qs = y + 4;
        if (five) {
            tc_st_u32(y + 4, (uint32_t)_mm_movemask_epi8(_mm_slli_epi16(L[0], 3)) |
                                 (uint32_t)_mm_movemask_epi8(_mm_slli_epi16(L[1], 3)) << 16);
            qs = y + 8;
            L[0] = _mm_and_si128(L[0], m4);
        }
        _mm_storeu_si128((__m128i *)qs,
                         _mm_or_si128(L[0], _mm_slli_epi16(_mm_and_si128(L[1], m4), 4)));
    }
}

static void q4_1_quant(const float *x, void *dst, int64_t n_rows, int64_t n_per_row,
                       const float *imatrix)
{
    if (imatrix)
        prev_quant[TC_DTYPE_Q4_1](x, dst, n_rows, n_per_row, imatrix);
    else
        qx_1_quant(TC_DTYPE_Q4_1, x, dst, n_rows * n_per_row / 32, 0);
}

static void q5_1_quant(const float *x, void *dst, int64_t n_rows, int64_t n_per_row,
                       const float *imatrix)
{
    if (imatrix)
        prev_quant[TC_DTYPE_Q5_1](x, dst, n_rows, n_per_row, imatrix);
    else
        qx_1_quant(TC_DTYPE_Q5_1, x, dst, n_rows * n_per_row / 32, 1);
}

/* ===== k-quants: all 16 sub-blocks of a block in one vector ===== */

static void q6_k_block16(const float *x, const float *qw, uint8_t *y)
{
    __m512 xt[16], wt[16], Lt[16];
    float scales[16];
    transpose16(x, 16, 16, xt);
    if (qw)
        transpose16(qw, 16, 16, wt);
    _mm512_storeu_ps(scales, qx16(16, 32, xt, qw ? wt : NULL, Lt));
    tc_avx2_q6_k_finish(x, y, scales, (const float *)Lt, 16);
}

/* weights qw * sqrt(sigma2 + x^2) and their per-lane sums */
static inline void imat_weights16(const __m512 *xt, const float *qw, float sigma2, __m512 *wt,
                                  float *sw)
{
    __m512 qwt[16], s = _mm512_setzero_ps();
    const __m512 s2 = _mm512_set1_ps(sigma2);
    transpose16(qw, 16, 16, qwt);
    for (int i = 0; i < 16; i++) {
        wt[i] =
            _mm512_mul_ps(qwt[i], _mm512_sqrt_ps(_mm512_add_ps(s2, _mm512_mul_ps(xt[i], xt[i]))));
        s = _mm512_add_ps(s, wt[i]);
    }
    _mm512_storeu_ps(sw, s);
}

static void q2_k_block16(const float *x, const float *qw, uint8_t *y)
{
    __m512 xt[16], wt[16], Lt[16], sc, mn;
    float scales[16], mins[16], sw[16];
    transpose16(x, 16, 16, xt);
    if (qw) {
        imat_weights16(xt, qw, sum_x2_seq(x, QK_K) / QK_K, wt, sw);
        qkx16(16, 3, xt, wt, Lt, -0.9f, 0.05f, 36, 0, 1, &sc, &mn);
    } else {
        for (int i = 0; i < 16; i++)
            wt[i] = abs16(xt[i]);
        qkx16(16, 3, xt, wt, Lt, -0.5f, 0.1f, 15, 1, 0, &sc, &mn);
    }
    _mm512_storeu_ps(scales, sc);
    _mm512_storeu_ps(mins, mn);
    tc_avx2_q2_k_finish(x, y, qw != NULL, scales, mins, sw, (const float *)Lt, 16);
}

#define K_QUANT(name, T, blk, bs)                                                                  \
    static void name(const float *x, void *dst, int64_t n_rows, int64_t n_per_row,                 \
                     const float *imatrix)                                                         \
    {                                                                                              \
        tc_avx2_k_rows(prev_quant[TC_DTYPE_##T], blk, bs, x, dst, n_rows, n_per_row, imatrix);     \
    }
K_QUANT(q2_k_quant, Q2_K, q2_k_block16, 84)
K_QUANT(q6_k_quant, Q6_K, q6_k_block16, 210)

/* Q3_K with an imatrix: the searches also sum the squares of the next block (see
 * tc_avx2_k_rows_x2) */
static void q3_k_block16_imat(const float *x, const float *qw, uint8_t *y, float sumx2,
                              const float *nx, float *nsumx2)
{
    __m512 xt[16], wt[16], Lt[16];
    float scales[16], sw[16], acc = 0;
    transpose16(x, 16, 16, xt);
    imat_weights16(xt, qw, 2 * sumx2 / QK_K, wt, sw);
    _mm512_storeu_ps(scales, qx_side16(16, 4, xt, wt, Lt, nx, 256, 16, &acc));
    *nsumx2 = acc;
    tc_avx2_q3_k_finish(x, y, 1, scales, sw, (const float *)Lt, 16);
}

/*
 * make_q3_quants on one block's 16 sub-blocks in lanes, split as q3_prep8 / q3_refine8 of avx2.c
 * (see there why each step is exact): the transpose and first levels and sums, then the
 * refinement, a serial chain per lane with a branch per element ("does any lane move").
 * q3_prep16 is q3_prep8 on 16 lanes; one copy in simd_lanes.h's ops (with the struct) left
 * this file's code identical but made AVX2's Q3_K 1.5 % slower (5 alternating pairs of runs,
 * 6.13x against 6.22x: GCC then keeps all four transposes of q3_k_blocks8 out of line), so
 * each ISA keeps its own.
 */
typedef struct {
    __m512 xt[16], w[16], wx[16], lx[16], l2[16], sumlx, suml2;
    __m512i L[16];
    __mmask16 tiny;
} q3_set16;

static inline void q3_prep16(const float *x, q3_set16 *s)
{
    const __m512 zero = _mm512_setzero_ps();
    __m512 max = zero, amax = zero;
    const __m512 *xt = s->xt;
    transpose16(x, 16, 16, s->xt);
    for (int i = 0; i < 16; ++i) {
        __m512 ax = abs16(xt[i]);
        __mmask16 gt = _mm512_cmp_ps_mask(ax, amax, _CMP_GT_OQ);
        amax = _mm512_mask_blend_ps(gt, amax, ax);
        max = _mm512_mask_blend_ps(gt, max, xt[i]);
        s->w[i] = _mm512_mul_ps(xt[i], xt[i]);
        s->wx[i] = _mm512_mul_ps(s->w[i], xt[i]);
    }
    s->tiny = _mm512_cmp_ps_mask(amax, _mm512_set1_ps(GROUP_MAX_EPS), _CMP_LT_OQ);
    const __m512 iscale = _mm512_div_ps(_mm512_set1_ps(-4.f), max);
    __m512 sumlx = zero, suml2 = zero;
    for (int i = 0; i < 16; ++i) {
        s->L[i] = clampf16(_mm512_mul_ps(iscale, xt[i]), -4, 3);
        __m512 l = _mm512_cvtepi32_ps(s->L[i]);
        s->lx[i] = _mm512_mul_ps(s->wx[i], l);
        s->l2[i] = _mm512_mul_ps(_mm512_mul_ps(s->w[i], l), l);
        sumlx = _mm512_add_ps(sumlx, s->lx[i]);
        suml2 = _mm512_add_ps(suml2, s->l2[i]);
    }
    s->sumlx = sumlx, s->suml2 = suml2;
}

/* the refinement: returns the scales, Lt the biased levels */
static inline __m512 q3_refine16(q3_set16 *s, __m512 *Lt)
{
    const __m512 zero = _mm512_setzero_ps();
    const __m512 *xt = s->xt, *w = s->w, *wx = s->wx;
    __m512 *lx = s->lx, *l2 = s->l2, sumlx = s->sumlx, suml2 = s->suml2;
    __m512i *L = s->L;
    /* end: the pass stops after element end unless some lane has moved in it (avx2.c) */
    for (int itry = 0, end = 15; itry < 5; ++itry) {
        int last = -1;
        for (int i = 0; i <= end; ++i) {
            __m512 slx = _mm512_sub_ps(sumlx, lx[i]);
            __mmask16 c1 = _mm512_cmp_ps_mask(slx, zero, _CMP_GT_OQ);
            __m512 sl2 = _mm512_sub_ps(suml2, l2[i]);
            __m512 q = _mm512_div_ps(_mm512_mul_ps(xt[i], sl2), slx);
            __m512i ni = clampf16(q, -4, 3);
            __mmask16 c2 = _mm512_mask_cmpneq_epi32_mask(c1, ni, L[i]);
            if (!c2)
                continue;
            __m512 nl = _mm512_cvtepi32_ps(ni);
            __m512 nlx = _mm512_mul_ps(wx[i], nl), nl2 = _mm512_mul_ps(_mm512_mul_ps(w[i], nl), nl);
            slx = _mm512_add_ps(slx, nlx);
            sl2 = _mm512_add_ps(sl2, nl2);
            __mmask16 upd = _mm512_mask_cmp_ps_mask(c2, sl2, zero, _CMP_GT_OQ);
            upd = _mm512_mask_cmp_ps_mask(upd, _mm512_mul_ps(_mm512_mul_ps(slx, slx), suml2),
                                          _mm512_mul_ps(_mm512_mul_ps(sumlx, sumlx), sl2),
                                          _CMP_GT_OQ);
            L[i] = _mm512_mask_blend_epi32(upd, L[i], ni);
            lx[i] = _mm512_mask_blend_ps(upd, lx[i], nlx);
            l2[i] = _mm512_mask_blend_ps(upd, l2[i], nl2);
            sumlx = _mm512_mask_blend_ps(upd, sumlx, slx);
            suml2 = _mm512_mask_blend_ps(upd, suml2, sl2);
            /* (q3_refine8's predicted branch on upd == c2, avx2.c, measured no faster here) */
            const int moved = upd != 0;
            last = moved ? i : last;
            end = moved ? 15 : end;
        }
        if (last < 0)
            break;
        end = last;
    }
    const __m512i bias = _mm512_set1_epi32(4);
    for (int i = 0; i < 16; ++i)
        Lt[i] = _mm512_maskz_cvtepi32_ps((__mmask16)~s->tiny, _mm512_add_epi32(L[i], bias));
    __mmask16 pos = _mm512_mask_cmp_ps_mask((__mmask16)~s->tiny, suml2, zero, _CMP_GT_OQ);
    return _mm512_maskz_div_ps(pos, sumlx, suml2);
}

/*
 * Q3_K without an imatrix over nb consecutive blocks, ordered as q3_k_blocks8 of avx2.c: the
 * next block's transpose and first pass before this block's refinement, its finish before the
 * next block's refinement, so independent work precedes each mispredicting chain.
 */
static void q3_k_blocks16(const float *x, uint8_t *y, int64_t nb)
{
    q3_set16 S[2];
    int cur = 0;
    int64_t b = 0;
    while (b < nb) {
        if (!block_tame16(x + QK_K * b, QK_K)) {
            prev_quant[TC_DTYPE_Q3_K](x + QK_K * b, y + 110 * b, 1, QK_K, NULL);
            b++;
            continue;
        }
        q3_prep16(x + QK_K * b, &S[cur]);
        for (int next = 1; next; b++, cur ^= 1) {
            const float *xb = x + QK_K * b;
            __m512 Lt[16];
            float scales[16];
            next = b + 1 < nb && block_tame16(xb + QK_K, QK_K);
            if (next)
                q3_prep16(xb + QK_K, &S[cur ^ 1]);
            _mm512_storeu_ps(scales, q3_refine16(&S[cur], Lt));
            tc_avx2_q3_k_finish(xb, y + 110 * b, 0, scales, NULL, (const float *)Lt, 16);
        }
    }
}

static void q3_k_quant(const float *x, void *dst, int64_t n_rows, int64_t n_per_row,
                       const float *imatrix)
{
    if (imatrix) {
        tc_avx2_k_rows_x2(prev_quant[TC_DTYPE_Q3_K], q3_k_block16_imat, 110, x, dst, n_rows,
                          n_per_row, imatrix);
        return;
    }
    q3_k_blocks16(x, dst, n_rows * (n_per_row / QK_K));
}

/* Q4_K / Q5_K: two consecutive blocks of a row per vector (lanes 0-7 the first block's 8
 * sub-blocks of 32, lanes 8-15 the second's), finished block by block by avx2.c. */
static void q45_k_pair16(const float *x, const float *qw, uint8_t *y, size_t bs, int nmax,
                         float rmin, int nstep, int clamp63)
{
    __m512 xt[32], wt[32], Lt[32], sc, mn, sw = _mm512_setzero_ps();
    transpose16(x, 32, 32, xt);
    if (qw) {
        __m512 qwt[32];
        const __m512 s2 =
            _mm512_mask_blend_ps((__mmask16)0xFF00, _mm512_set1_ps(2 * sum_x2_seq(x, QK_K) / QK_K),
                                 _mm512_set1_ps(2 * sum_x2_seq(x + QK_K, QK_K) / QK_K));
        transpose16(qw, 32, 32, qwt);
        for (int i = 0; i < 32; i++) {
            wt[i] = _mm512_mul_ps(qwt[i],
                                  _mm512_sqrt_ps(_mm512_add_ps(s2, _mm512_mul_ps(xt[i], xt[i]))));
            sw = _mm512_add_ps(sw, wt[i]);
        }
        qkx16(32, nmax, xt, wt, Lt, -0.9f, 0.05f, 36, 0, 1, &sc, &mn);
    } else {
        __m512 sum_x2 = _mm512_setzero_ps();
        for (int i = 0; i < 32; i++)
            sum_x2 = _mm512_add_ps(sum_x2, _mm512_mul_ps(xt[i], xt[i]));
        const __m512 av_x = _mm512_sqrt_ps(_mm512_div_ps(sum_x2, _mm512_set1_ps(32.f)));
        for (int i = 0; i < 32; i++)
            wt[i] = _mm512_add_ps(av_x, abs16(xt[i]));
        qkx16(32, nmax, xt, wt, Lt, rmin, 0.1f, nstep, 0, 0, &sc, &mn);
    }
    float S[16], M[16], W[16];
    _mm512_storeu_ps(S, sc);
    _mm512_storeu_ps(M, mn);
    _mm512_storeu_ps(W, sw);
    const float *T = (const float *)Lt;
    tc_avx2_q45_k_finish(x, y, nmax, qw != NULL, clamp63, S, M, W, T, 16);
    tc_avx2_q45_k_finish(x + QK_K, y + bs, nmax, qw != NULL, clamp63, S + 8, M + 8, W + 8, T + 8,
                         16);
}

/* Four consecutive blocks without an imatrix: two pairs whose searches run interleaved
 * (qkxk with K = 2); each pair is finished as q45_k_pair16 finishes it. */
static void q45_k_quad16(const float *x, uint8_t *y, size_t bs, int nmax, float rmin, int nstep,
                         int clamp63)
{
    __m512 xt[2][32], wt[2][32], Lt[2][32], sc[2], mn[2];
    for (int p = 0; p < 2; p++) {
        transpose16(x + 2 * QK_K * p, 32, 32, xt[p]);
        __m512 sum_x2 = _mm512_setzero_ps();
        for (int i = 0; i < 32; i++)
            sum_x2 = _mm512_add_ps(sum_x2, _mm512_mul_ps(xt[p][i], xt[p][i]));
        const __m512 av_x = _mm512_sqrt_ps(_mm512_div_ps(sum_x2, _mm512_set1_ps(32.f)));
        for (int i = 0; i < 32; i++)
            wt[p][i] = _mm512_add_ps(av_x, abs16(xt[p][i]));
    }
    const __m512 *xs[2] = {xt[0], xt[1]}, *ws[2] = {wt[0], wt[1]};
    __m512 *Ls[2] = {Lt[0], Lt[1]};
    qkxk16(2, 32, nmax, xs, ws, Ls, rmin, 0.1f, nstep, 0, 0, sc, mn);
    for (int p = 0; p < 2; p++) {
        float S[16], M[16], W[16] = {0};
        _mm512_storeu_ps(S, sc[p]);
        _mm512_storeu_ps(M, mn[p]);
        const float *T = (const float *)Lt[p];
        const float *xp = x + 2 * QK_K * p;
        uint8_t *yp = y + 2 * bs * p;
        tc_avx2_q45_k_finish(xp, yp, nmax, 0, clamp63, S, M, W, T, 16);
        tc_avx2_q45_k_finish(xp + QK_K, yp + bs, nmax, 0, clamp63, S + 8, M + 8, W + 8, T + 8, 16);
    }
}

static inline void q45_k_rows(int t, const float *x, uint8_t *y, int64_t n_rows, int64_t n_per_row,
                              const float *imatrix)
{
    if (imatrix && !imat_tame16(imatrix, n_per_row)) {
        prev_quant[t](x, y, n_rows, n_per_row, imatrix);
        return;
    }
    const int five = t == TC_DTYPE_Q5_K;
    const size_t bs = five ? 176 : 144;
    const int64_t nb = n_per_row / QK_K;
    for (int64_t r = 0; r < n_rows; r++)
        for (int64_t i = 0; i < nb;) {
            const float *qw = imatrix ? imatrix + QK_K * i : NULL;
            if (!qw && i + 3 < nb && block_tame16(x, 4 * QK_K)) {
                q45_k_quad16(x, y, bs, five ? 31 : 15, five ? -0.5f : -1.f, five ? 15 : 20, five);
                i += 4, x += 4 * QK_K, y += 4 * bs;
            } else if (i + 1 < nb && block_tame16(x, 2 * QK_K)) {
                q45_k_pair16(x, qw, y, bs, five ? 31 : 15, five ? -0.5f : -1.f, five ? 15 : 20,
                             five);
                i += 2, x += 2 * QK_K, y += 2 * bs;
            } else {
                prev_quant[t](x, y, 1, QK_K, qw);
                i++, x += QK_K, y += bs;
            }
        }
}

static void q4_k_quant(const float *x, void *dst, int64_t n_rows, int64_t n_per_row,
                       const float *imatrix)
{
    q45_k_rows(TC_DTYPE_Q4_K, x, dst, n_rows, n_per_row, imatrix);
}

static void q5_k_quant(const float *x, void *dst, int64_t n_rows, int64_t n_per_row,
                       const float *imatrix)
{
    q45_k_rows(TC_DTYPE_Q5_K, x, dst, n_rows, n_per_row, imatrix);
}

/* ===== IQ4_NL: 16 blocks of a row per vector ===== */

static void iq4_nl_quant(const float *src, void *dst, int64_t n_rows, int64_t n_per_row,
                         const float *imatrix)
{
    if (imatrix && !imat_tame16(imatrix, n_per_row)) {
        prev_quant[TC_DTYPE_IQ4_NL](src, dst, n_rows, n_per_row, imatrix);
        return;
    }
    uint8_t *y = dst;
    const int64_t nb = n_per_row / 32;
    for (int64_t r = 0; r < n_rows; r++, src += n_per_row, y += 18 * nb) {
        for (int64_t ib0 = 0; ib0 < nb; ib0 += 16) {
            const int nl = nb - ib0 < 16 ? (int)(nb - ib0) : 16;
            const float *x = src + 32 * ib0;
            uint8_t *yb = y + 18 * ib0;
            if (!block_tame16(x, 32 * nl)) {
                prev_quant[TC_DTYPE_IQ4_NL](x, yb, 1, 32 * nl, imatrix ? imatrix + 32 * ib0 : NULL);
                continue;
            }
            const float *rx[16], *rw[16];
            for (int b = 0; b < 16; b++) {
                rx[b] = x + 32 * (b < nl ? b : nl - 1);
                rw[b] = imatrix ? imatrix + 32 * (ib0 + (b < nl ? b : nl - 1)) : NULL;
            }
            __m512 xt[32], qwt[32], wt[32], s2 = _mm512_setzero_ps();
            transpose16_rows(rx, 32, xt);
            for (int i = 0; i < 32; i++)
                s2 = _mm512_add_ps(s2, _mm512_mul_ps(xt[i], xt[i]));
            if (imatrix)
                transpose16_rows(rw, 32, qwt);
            s2 = _mm512_mul_ps(s2, _mm512_set1_ps(2.f / 32));
            iq4_weights16(xt, imatrix ? qwt : NULL, s2, wt);
            float scales[16];
            _mm512_storeu_ps(scales, iq4_search16(xt, wt));
            for (int b = 0; b < nl; b++) {
                uint8_t *yy = yb + 18 * b;
                tc_st_u16(yy, tc_f32_to_f16(scales[b]));
                const __m512 id = _mm512_set1_ps(scales[b] ? 1 / scales[b] : 0);
                __m512 q;
                __m512i lo = iq4_best16(_mm512_mul_ps(id, _mm512_loadu_ps(x + 32 * b)), &q);
                __m512i hi = iq4_best16(_mm512_mul_ps(id, _mm512_loadu_ps(x + 32 * b + 16)), &q);
                __m512i v = _mm512_or_si512(lo, _mm512_slli_epi32(hi, 4));
                _mm_storeu_si128((__m128i *)(yy + 2), _mm512_cvtepi32_epi8(v));
            }
        }
    }
}

/* ===== Registration ===== */

void tc_avx512_register(tc_kernel_table *k)
{
    for (int t = 0; t < TC_DTYPE_GGML_COUNT; t++)
        if (prev_quant[t] == NULL)
            prev_quant[t] = k->quantize[t];
    k->dequantize[TC_DTYPE_Q4_0] = q4_0_dequant;
    k->dequantize[TC_DTYPE_Q8_0] = q8_0_dequant;
    k->dequantize[TC_DTYPE_Q4_K] = q4_k_dequant;
    k->dequantize[TC_DTYPE_Q6_K] = q6_k_dequant;
    k->quantize[TC_DTYPE_Q8_0] = q8_0_quant;
    k->quantize[TC_DTYPE_Q4_0] = q4_0_quant;
    k->quantize[TC_DTYPE_Q5_0] = q5_0_quant;
    k->quantize[TC_DTYPE_Q4_1] = q4_1_quant;
    k->quantize[TC_DTYPE_Q5_1] = q5_1_quant;
    k->quantize[TC_DTYPE_Q2_K] = q2_k_quant;
    k->quantize[TC_DTYPE_Q3_K] = q3_k_quant;
    k->quantize[TC_DTYPE_Q4_K] = q4_k_quant;
    k->quantize[TC_DTYPE_Q5_K] = q5_k_quant;
    k->quantize[TC_DTYPE_Q6_K] = q6_k_quant;
    k->quantize[TC_DTYPE_IQ4_NL] = iq4_nl_quant;
}

#else

void tc_avx512_register(tc_kernel_table *k)
{
    (void)k;
}

#endif
