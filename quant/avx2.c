/*
 * avx2.c - AVX2 kernels, bit-identical to the scalar reference (ref_legacy.c, ref_k.c) and so to
 * ggml's quantize/dequantize.
 *
 * Kernels: dequantize Q4_0 Q4_1 Q5_0 Q5_1 Q8_0 Q2_K..Q6_K IQ4_NL IQ4_XS MXFP4 TQ2_0; quantize
 * (with and without an imatrix) Q4_0 Q4_1 Q5_0 Q5_1 Q8_0 Q2_K..Q6_K IQ4_NL IQ4_XS TQ1_0 TQ2_0
 * MXFP4. (The IQ grid dequantizers are in avx2_iq.c.)
 *
 * How bit-identity is kept (STYLE §8, -ffp-contract=off, no FMA intrinsics anywhere):
 * - Dequantizers do per element the reference's single multiply (or multiply then add/sub), with
 *   the per-block or per-sub-block factor computed by the same scalar expression.
 * - Legacy quantizers (no imatrix) vectorise within a block: the scans for amax/min/max are
 *   order-independent for finite input, and the per-element multiply/add/round/truncate is the
 *   reference's. A block holding Inf/NaN (where max/min and NaN choice depend on order), or a
 *   Q4_1/Q5_1 block whose min or max is a zero (whose sign depends on order), is handed to the
 *   reference kernel itself (saved at registration), one block at a time.
 * - Search-based quantizers (k-quants, IQ4, legacy imatrix paths) vectorise ACROSS sub-blocks
 *   or blocks: lane j runs its sub-block's scalar sequence of float operations in the
 *   reference's order (simd_lanes.h: sums in index order per lane, nearest_int via the
 *   1.5*2^23 trick, the same strict comparisons and tie-breaks, selects for the branches).
 *   Blocks with Inf/NaN or |x| >= 2^50, and imatrices with NaN/Inf/huge weights, go to the
 *   reference (there the result can depend on which NaN an operation keeps).
 *
 * Compiled only here with -mavx2 -mfma -mf16c; tc_avx2_register fills both the AVX2 and the
 * AVX-512 tables (avx512.c then overrides some entries of the latter). The block-finishing steps
 * in avx2_k.h are shared with avx512.c.
 */
#include "kernels.h"

#if defined(__x86_64__) && defined(__AVX2__)

#include "avx2_k.h"
#include "tr8x8.h"
#include "ref_k.h"
#include "blocks.h"

#include <immintrin.h>
#include <string.h>

/* The reference kernels this file falls back to (filled at registration, read-only after). */
static tc_quant_fn ref_quant[TC_DTYPE_GGML_COUNT];

/* ===== Small helpers ===== */

/* 8 floats from the 8 signed bytes in the low half of b. */
static inline __m256 i8x8_to_f32(__m128i b)
{
    return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(b));
}

/* y[0..15] = d * (float)b[i] for 16 signed bytes (product order as (float)q * d: commutative) */
static inline void store16_i8(float *y, __m128i b, __m256 d)
{
    _mm256_storeu_ps(y, _mm256_mul_ps(i8x8_to_f32(b), d));
    _mm256_storeu_ps(y + 8, _mm256_mul_ps(i8x8_to_f32(_mm_srli_si128(b, 8)), d));
}

/* y[0..15] = (float)b[i] * d + m for 16 unsigned bytes */
static inline void store16_u8_madd(float *y, __m128i b, __m256 d, __m256 m)
{
    __m256 a = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(b));
    __m256 c = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(b, 8)));
    _mm256_storeu_ps(y, _mm256_add_ps(_mm256_mul_ps(a, d), m));
    _mm256_storeu_ps(y + 8, _mm256_add_ps(_mm256_mul_ps(c, d), m));
}

/* y[0..15] = d * (float)b[i] - m for 16 unsigned bytes */
static inline void store16_u8_msub(float *y, __m128i b, __m256 d, __m256 m)
{
    __m256 a = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(b));
    __m256 c = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(b, 8)));
    _mm256_storeu_ps(y, _mm256_sub_ps(_mm256_mul_ps(d, a), m));
    _mm256_storeu_ps(y + 8, _mm256_sub_ps(_mm256_mul_ps(d, c), m));
}

/* 32 bytes: byte i = 0xFF when bit i of `bits` is set */
static inline __m256i bits_to_bytes(uint32_t bits)
{
    const __m256i shuf =
        _mm256_setr_epi64x(0, 0x0101010101010101LL, 0x0202020202020202LL, 0x0303030303030303LL);
    const __m256i bm = _mm256_set1_epi64x((long long)0x8040201008040201ULL);
    __m256i v = _mm256_shuffle_epi8(_mm256_set1_epi32((int)bits), shuf);
    return _mm256_cmpeq_epi8(_mm256_and_si256(v, bm), bm);
}

/* 16 bytes of a block's nibbles -> 32 bytes in element order (low nibbles, then high) */
static inline __m256i unpack_nibbles(const uint8_t *qs)
{
    const __m128i m4 = _mm_set1_epi8(0x0F);
    __m128i q = _mm_loadu_si128((const __m128i *)qs);
    return _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(q, 4), m4), _mm_and_si128(q, m4));
}

/* The low bytes of four vectors of 8 int32 (any values), in order, as 32 bytes. */
static inline __m256i low_bytes_32(__m256i a, __m256i b, __m256i c, __m256i d)
{
    const __m256i ff = _mm256_set1_epi32(0xFF);
    __m256i p1 = _mm256_packus_epi32(_mm256_and_si256(a, ff), _mm256_and_si256(b, ff));
    __m256i p2 = _mm256_packus_epi32(_mm256_and_si256(c, ff), _mm256_and_si256(d, ff));
    __m256i p = _mm256_packus_epi16(p1, p2);
    return _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

/* byte j = L[j] | L[j+16] << 4 (as uint8 arithmetic: only L[j+16]'s low nibble survives) */
static inline void pack_nibbles32(uint8_t *qs, __m256i L)
{
    __m128i lo = _mm256_castsi256_si128(L), hi = _mm256_extracti128_si256(L, 1);
    hi = _mm_slli_epi16(_mm_and_si128(hi, _mm_set1_epi8(0x0F)), 4);
    _mm_storeu_si128((__m128i *)qs, _mm_or_si128(lo, hi));
}

static inline float hmax8(__m256 v)
{
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

static inline float hmin8(__m256 v)
{
    __m128 m = _mm_min_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_min_ps(m, _mm_movehl_ps(m, m));
    m = _mm_min_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

static inline __m256 abs8(__m256 v)
{
    return _mm256_and_ps(v, _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF)));
}

/* Nonzero when one of the 8 lanes is Inf or NaN. */
static inline __m256 nonfinite8(__m256 v)
{
    return _mm256_cmp_ps(abs8(v), _mm256_set1_ps(INFINITY), _CMP_NLT_UQ);
}

/* roundf (half away from zero), exact: t = trunc(x); t += sign(x) when |x - t| >= 0.5. */
static inline __m256 roundf8(__m256 x)
{
    __m256 t = _mm256_round_ps(x, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    __m256 frac = abs8(_mm256_sub_ps(x, t));
    __m256 one = _mm256_or_ps(_mm256_set1_ps(1.0f),
                              _mm256_and_ps(x, _mm256_castsi256_ps(_mm256_set1_epi32(INT32_MIN))));
    __m256 up = _mm256_cmp_ps(frac, _mm256_set1_ps(0.5f), _CMP_GE_OQ);
    return _mm256_add_ps(t, _mm256_and_ps(up, one));
}

/* ===== The lane-parallel searches (simd_lanes.h), 8 lanes ===== */

#include "ops_avx2.h"

#define F_SQRT         _mm256_sqrt_ps
#define F_ABS          abs8
#define F_NEG(a)       _mm256_xor_ps(a, _mm256_set1_ps(-0.0f))
#define F_MAX          _mm256_max_ps
#define M_AND          _mm256_and_ps
#define M_OR           _mm256_or_ps
#define M_ANDNOT       _mm256_andnot_ps
#define M_ANY(m)       (!_mm256_testz_ps(m, m))
#define M_ZERO         _mm256_setzero_ps()
#define I_INC_IF(c, m) _mm256_sub_epi32(c, _mm256_castps_si256(m))
#define LUT16(t, i)    lut16_f(t, i)
#define LN(name)       name##8
#define F_ROUNDN(f)    _mm256_round_ps(f, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)

/* t[i] for i in 0..15 */
static inline __m256 lut16_f(const float *t, __m256i i)
{
    return _mm256_blendv_ps(_mm256_permutevar8x32_ps(_mm256_loadu_ps(t), i),
                            _mm256_permutevar8x32_ps(_mm256_loadu_ps(t + 8), i),
                            _mm256_castsi256_ps(_mm256_slli_epi32(i, 28)));
}

#include "simd_lanes.h"

/* ===== Dequantization ===== */

static void q4_0_dequant(const void *src, float *y, int64_t n)
{
    const uint8_t *x = src;
    const __m256i eight = _mm256_set1_epi8(8);
    for (int64_t i = 0; i < n / 32; i++, x += 18, y += 32) {
        const __m256 d = _mm256_set1_ps(tc_ggml_h2f(tc_ld_u16(x)));
        __m256i q = _mm256_sub_epi8(unpack_nibbles(x + 2), eight);
        store16_i8(y, _mm256_castsi256_si128(q), d);
        store16_i8(y + 16, _mm256_extracti128_si256(q, 1), d);
    }
}

static void q4_1_dequant(const void *src, float *y, int64_t n)
{
    const uint8_t *x = src;
    for (int64_t i = 0; i < n / 32; i++, x += 20, y += 32) {
        const __m256 d = _mm256_set1_ps(tc_ggml_h2f(tc_ld_u16(x)));
        const __m256 m = _mm256_set1_ps(tc_ggml_h2f(tc_ld_u16(x + 2)));
        __m256i q = unpack_nibbles(x + 4);
        store16_u8_madd(y, _mm256_castsi256_si128(q), d, m);
        store16_u8_madd(y + 16, _mm256_extracti128_si256(q, 1), d, m);
    }
}

static void q5_0_dequant(const void *src, float *y, int64_t n)
{
    const uint8_t *x = src;
    const __m256i b16 = _mm256_set1_epi8(0x10);
    for (int64_t i = 0; i < n / 32; i++, x += 22, y += 32) {
        const __m256 d = _mm256_set1_ps(tc_ggml_h2f(tc_ld_u16(x)));
        __m256i h = _mm256_and_si256(bits_to_bytes(tc_ld_u32(x + 2)), b16);
        __m256i q = _mm256_sub_epi8(_mm256_or_si256(unpack_nibbles(x + 6), h), b16);
        store16_i8(y, _mm256_castsi256_si128(q), d);
        store16_i8(y + 16, _mm256_extracti128_si256(q, 1), d);
    }
}

static void q5_1_dequant(const void *src, float *y, int64_t n)
{
    const uint8_t *x = src;
    const __m256i b16 = _mm256_set1_epi8(0x10);
    for (int64_t i = 0; i < n / 32; i++, x += 24, y += 32) {
        const __m256 d = _mm256_set1_ps(tc_ggml_h2f(tc_ld_u16(x)));
        const __m256 m = _mm256_set1_ps(tc_ggml_h2f(tc_ld_u16(x + 2)));
        __m256i h = _mm256_and_si256(bits_to_bytes(tc_ld_u32(x + 4)), b16);
        __m256i q = _mm256_or_si256(unpack_nibbles(x + 8), h);
        store16_u8_madd(y, _mm256_castsi256_si128(q), d, m);
        store16_u8_madd(y + 16, _mm256_extracti128_si256(q, 1), d, m);
    }
}

static void q8_0_dequant(const void *src, float *y, int64_t n)
{
    const uint8_t *x = src;
    for (int64_t i = 0; i < n / 32; i++, x += 34, y += 32) {
        const __m256 d = _mm256_set1_ps(tc_ggml_h2f(tc_ld_u16(x)));
        store16_i8(y, _mm_loadu_si128((const __m128i *)(x + 2)), d);
        store16_i8(y + 16, _mm_loadu_si128((const __m128i *)(x + 18)), d);
    }
}

/* 16 4-bit indices (low or high nibbles already separated) looked up in a 16-entry int8 table */
static inline __m256i lut16(__m256i idx, __m256i table)
{
    return _mm256_shuffle_epi8(table, idx);
}

static inline __m256i table_i8(const int8_t *t)
{
    __m128i v = _mm_loadu_si128((const __m128i *)t);
    return _mm256_set_m128i(v, v);
}

static void iq4_nl_dequant(const void *src, float *y, int64_t n)
{
    const uint8_t *x = src;
    const __m256i tab = table_i8(tc_kvalues_iq4nl);
    for (int64_t i = 0; i < n / 32; i++, x += 18, y += 32) {
        const __m256 d = _mm256_set1_ps(tc_ggml_h2f(tc_ld_u16(x)));
        __m256i q = lut16(unpack_nibbles(x + 2), tab);
        store16_i8(y, _mm256_castsi256_si128(q), d);
        store16_i8(y + 16, _mm256_extracti128_si256(q, 1), d);
    }
}

static void iq4_xs_dequant(const void *src, float *y, int64_t n)
{
    const uint8_t *x = src;
    const __m256i tab = table_i8(tc_kvalues_iq4nl);
    for (int64_t i = 0; i < n / 256; i++, x += 136) {
        const float d = tc_ggml_h2f(tc_ld_u16(x));
        const uint16_t sh = tc_ld_u16(x + 2);
        const uint8_t *qs = x + 8;
        for (int ib = 0; ib < 8; ++ib, qs += 16, y += 32) {
            const int ls = ((x[4 + ib / 2] >> 4 * (ib % 2)) & 0xf) | (((sh >> 2 * ib) & 3) << 4);
            const __m256 dl = _mm256_set1_ps(d * (float)(ls - 32));
            __m256i q = lut16(unpack_nibbles(qs), tab);
            store16_i8(y, _mm256_castsi256_si128(q), dl);
            store16_i8(y + 16, _mm256_extracti128_si256(q, 1), dl);
        }
    }
}

static void mxfp4_dequant(const void *src, float *y, int64_t n)
{
    const uint8_t *x = src;
    const __m256i tab = table_i8(tc_kvalues_mxfp4);
    for (int64_t i = 0; i < n / 32; i++, x += 17, y += 32) {
        const uint8_t e = x[0];
        const __m256 d = _mm256_set1_ps(
            tc_bits_f32(e < 2 ? 0x00200000u << e : (uint32_t)(e - 1) << 23)); /* e8m0_half */
        __m256i q = lut16(unpack_nibbles(x + 1), tab);
        store16_i8(y, _mm256_castsi256_si128(q), d);
        store16_i8(y + 16, _mm256_extracti128_si256(q, 1), d);
    }
}

static void tq2_0_dequant(const void *src, float *y, int64_t n)
{
    const uint8_t *x = src;
    const __m256i m3 = _mm256_set1_epi8(3), one = _mm256_set1_epi8(1);
    for (int64_t i = 0; i < n / 256; i++, x += 66) {
        const __m256 d = _mm256_set1_ps(tc_ggml_h2f(tc_ld_u16(x + 64)));
        for (int j = 0; j < 64; j += 32) {
            __m256i q = _mm256_loadu_si256((const __m256i *)(x + j));
            for (int l = 0; l < 4; ++l, y += 32) {
                __m256i v = _mm256_sub_epi8(_mm256_and_si256(_mm256_srli_epi16(q, 2 * l), m3), one);
                store16_i8(y, _mm256_castsi256_si128(v), d);
                store16_i8(y + 16, _mm256_extracti128_si256(v, 1), d);
            }
        }
    }
}

/* k-quant fp16 fields are read with tc_f16_to_f32 (ref_k.c's get_f16) */
static inline float k_f16(const uint8_t *p)
{
    return tc_f16_to_f32(tc_ld_u16(p));
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
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    for (int64_t i = 0; i < n / QK_K; i++, b += 144) {
        const float d = k_f16(b), min = k_f16(b + 2);
        const uint8_t *q = b + 16;
        for (int is = 0; is < 8; is += 2, q += 32, y += 64) {
            uint8_t sc, m;
            scale_min_k4(is, b + 4, &sc, &m);
            const __m256 d1 = _mm256_set1_ps(d * (float)sc), m1 = _mm256_set1_ps(min * (float)m);
            scale_min_k4(is + 1, b + 4, &sc, &m);
            const __m256 d2 = _mm256_set1_ps(d * (float)sc), m2 = _mm256_set1_ps(min * (float)m);
            __m256i v = _mm256_loadu_si256((const __m256i *)q);
            __m256i lo = _mm256_and_si256(v, m4),
                    hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
            store16_u8_msub(y, _mm256_castsi256_si128(lo), d1, m1);
            store16_u8_msub(y + 16, _mm256_extracti128_si256(lo, 1), d1, m1);
            store16_u8_msub(y + 32, _mm256_castsi256_si128(hi), d2, m2);
            store16_u8_msub(y + 48, _mm256_extracti128_si256(hi, 1), d2, m2);
        }
    }
}

static void q5_k_dequant(const void *src, float *y, int64_t n)
{
    const uint8_t *b = src;
    const __m256i m4 = _mm256_set1_epi8(0x0F), zero = _mm256_setzero_si256();
    for (int64_t i = 0; i < n / QK_K; i++, b += 176) {
        const float d = k_f16(b), min = k_f16(b + 2);
        const uint8_t *ql = b + 48;
        const __m256i qh = _mm256_loadu_si256((const __m256i *)(b + 16));
        for (int is = 0; is < 8; is += 2, ql += 32, y += 64) {
            uint8_t sc, m;
            scale_min_k4(is, b + 4, &sc, &m);
            const __m256 d1 = _mm256_set1_ps(d * (float)sc), m1 = _mm256_set1_ps(min * (float)m);
            scale_min_k4(is + 1, b + 4, &sc, &m);
            const __m256 d2 = _mm256_set1_ps(d * (float)sc), m2 = _mm256_set1_ps(min * (float)m);
            const __m256i u1 = _mm256_set1_epi8((char)(1 << is)),
                          u2 = _mm256_set1_epi8((char)(2 << is));
            __m256i h1 = _mm256_andnot_si256(_mm256_cmpeq_epi8(_mm256_and_si256(qh, u1), zero),
                                             _mm256_set1_epi8(16));
            __m256i h2 = _mm256_andnot_si256(_mm256_cmpeq_epi8(_mm256_and_si256(qh, u2), zero),
                                             _mm256_set1_epi8(16));
            __m256i v = _mm256_loadu_si256((const __m256i *)ql);
            __m256i lo = _mm256_add_epi8(_mm256_and_si256(v, m4), h1);
            __m256i hi = _mm256_add_epi8(_mm256_and_si256(_mm256_srli_epi16(v, 4), m4), h2);
            store16_u8_msub(y, _mm256_castsi256_si128(lo), d1, m1);
            store16_u8_msub(y + 16, _mm256_extracti128_si256(lo, 1), d1, m1);
            store16_u8_msub(y + 32, _mm256_castsi256_si128(hi), d2, m2);
            store16_u8_msub(y + 48, _mm256_extracti128_si256(hi, 1), d2, m2);
        }
    }
}

static void q6_k_dequant(const void *src, float *y, int64_t n)
{
    const uint8_t *b = src;
    const __m256i m4 = _mm256_set1_epi8(0x0F), m3 = _mm256_set1_epi8(3), b32 = _mm256_set1_epi8(32);
    for (int64_t i = 0; i < n / QK_K; i++, b += 210) {
        const float d = k_f16(b + 208);
        const uint8_t *ql = b, *qh = b + 128;
        const int8_t *sc = (const int8_t *)(b + 192);
        for (int h = 0; h < 2; h++, y += 128, ql += 64, qh += 32, sc += 8) {
            __m256i l0 = _mm256_loadu_si256((const __m256i *)ql);
            __m256i l1 = _mm256_loadu_si256((const __m256i *)(ql + 32));
            __m256i hh = _mm256_loadu_si256((const __m256i *)qh);
            __m256i q[4];
            q[0] = _mm256_or_si256(_mm256_and_si256(l0, m4),
                                   _mm256_slli_epi16(_mm256_and_si256(hh, m3), 4));
            q[1] = _mm256_or_si256(
                _mm256_and_si256(l1, m4),
                _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hh, 2), m3), 4));
            q[2] = _mm256_or_si256(
                _mm256_and_si256(_mm256_srli_epi16(l0, 4), m4),
                _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hh, 4), m3), 4));
            q[3] = _mm256_or_si256(
                _mm256_and_si256(_mm256_srli_epi16(l1, 4), m4),
                _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hh, 6), m3), 4));
            for (int k = 0; k < 4; k++) {
                __m256i v = _mm256_sub_epi8(q[k], b32);
                const __m256 da = _mm256_set1_ps(d * (float)sc[2 * k]);
                const __m256 db = _mm256_set1_ps(d * (float)sc[2 * k + 1]);
                store16_i8(y + 32 * k, _mm256_castsi256_si128(v), da);
                store16_i8(y + 32 * k + 16, _mm256_extracti128_si256(v, 1), db);
            }
        }
    }
}

static void q2_k_dequant(const void *src, float *y, int64_t n)
{
    const uint8_t *b = src;
    const __m256i m3 = _mm256_set1_epi8(3);
    for (int64_t i = 0; i < n / QK_K; i++, b += 84) {
        const float d = k_f16(b + 80), min = k_f16(b + 82);
        const uint8_t *q = b + 16;
        int is = 0;
        for (int h = 0; h < 2; h++, q += 32) {
            __m256i v = _mm256_loadu_si256((const __m256i *)q);
            for (int shift = 0; shift < 8; shift += 2, y += 32) {
                __m256i w = _mm256_and_si256(_mm256_srli_epi16(v, shift), m3);
                uint8_t sc = b[is++];
                __m256 dl = _mm256_set1_ps(d * (float)(sc & 0xF)),
                       ml = _mm256_set1_ps(min * (float)(sc >> 4));
                store16_u8_msub(y, _mm256_castsi256_si128(w), dl, ml);
                sc = b[is++];
                dl = _mm256_set1_ps(d * (float)(sc & 0xF));
                ml = _mm256_set1_ps(min * (float)(sc >> 4));
                store16_u8_msub(y + 16, _mm256_extracti128_si256(w, 1), dl, ml);
            }
        }
    }
}

static void q3_k_dequant(const void *src, float *y, int64_t n)
{
    const uint8_t *b = src;
    const __m256i m3 = _mm256_set1_epi8(3), four = _mm256_set1_epi8(4),
                  zero = _mm256_setzero_si256();
    for (int64_t i = 0; i < n / QK_K; i++, b += 110) {
        const float d_all = k_f16(b + 108);
        const __m256i hm = _mm256_loadu_si256((const __m256i *)b);
        const uint8_t *q = b + 32;
        int is = 0, bit = 0;
        for (int h = 0; h < 2; h++, q += 32) {
            __m256i v = _mm256_loadu_si256((const __m256i *)q);
            for (int shift = 0; shift < 8; shift += 2, y += 32, bit++) {
                __m256i mb = _mm256_set1_epi8((char)(1 << bit));
                __m256i sub =
                    _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(hm, mb), zero), four);
                __m256i w = _mm256_sub_epi8(_mm256_and_si256(_mm256_srli_epi16(v, shift), m3), sub);
                __m256 dl = _mm256_set1_ps(d_all * (float)tc_q3_k_scale(b + 96, is++));
                store16_i8(y, _mm256_castsi256_si128(w), dl);
                dl = _mm256_set1_ps(d_all * (float)tc_q3_k_scale(b + 96, is++));
                store16_i8(y + 16, _mm256_extracti128_si256(w, 1), dl);
            }
        }
    }
}

/* ===== Legacy quantizers ===== */

static void legacy_imat_rows(int t, const float *src, uint8_t *y, int64_t n_rows, int64_t npr,
                             const float *imatrix);

/* Quantize one block with the reference (Inf/NaN or signed-zero corner cases). */
static inline void ref_block(int t, const float *x, uint8_t *y, int bs)
{
    ref_quant[t](x, y, 1, bs, NULL);
}

/* fp16 of a finite float (or +-Inf) with F16C, round to nearest even: the same bits as
 * tc_f32_to_f16, which differs only on NaN (never passed here). */
static inline uint16_t f16c(float f)
{
    return (uint16_t)_mm_extract_epi16(_mm_cvtps_ph(_mm_set_ss(f), _MM_FROUND_TO_NEAREST_INT), 0);
}

static void q8_0_quant(const float *x, void *dst, int64_t n_rows, int64_t n_per_row,
                       const float *imatrix)
{
    (void)imatrix;
    uint8_t *y = dst;
    for (int64_t i = 0, nb = n_rows * n_per_row / 32; i < nb; i++, x += 32, y += 34) {
        __m256 v0 = _mm256_loadu_ps(x), v1 = _mm256_loadu_ps(x + 8);
        __m256 v2 = _mm256_loadu_ps(x + 16), v3 = _mm256_loadu_ps(x + 24);
        __m256 bad = _mm256_or_ps(_mm256_or_ps(nonfinite8(v0), nonfinite8(v1)),
                                  _mm256_or_ps(nonfinite8(v2), nonfinite8(v3)));
        if (!_mm256_testz_ps(bad, bad)) {
            ref_block(TC_DTYPE_Q8_0, x, y, 32);
            continue;
        }
        const float amax = hmax8(
            _mm256_max_ps(_mm256_max_ps(abs8(v0), abs8(v1)), _mm256_max_ps(abs8(v2), abs8(v3))));
        const float d = amax / 127;
        const float id = d ? 1.0f / d : 0.0f;
        tc_st_u16(y, f16c(d));
        const __m256 idv = _mm256_set1_ps(id);
        __m256i q0 = _mm256_cvttps_epi32(roundf8(_mm256_mul_ps(v0, idv)));
        __m256i q1 = _mm256_cvttps_epi32(roundf8(_mm256_mul_ps(v1, idv)));
        __m256i q2 = _mm256_cvttps_epi32(roundf8(_mm256_mul_ps(v2, idv)));
        __m256i q3 = _mm256_cvttps_epi32(roundf8(_mm256_mul_ps(v3, idv)));
        _mm256_storeu_si256((__m256i *)(y + 2), low_bytes_32(q0, q1, q2, q3));
    }
}

/* Levels min(lim, low_i8(cvtt(x * id + bias))) of 32 values, as 32 bytes. */
static inline __m256i levels_0(const __m256 v[4], float id, float bias, int lim)
{
    const __m256 idv = _mm256_set1_ps(id), bv = _mm256_set1_ps(bias);
    __m256i q[4];
    for (int k = 0; k < 4; k++)
        q[k] = _mm256_cvttps_epi32(_mm256_add_ps(_mm256_mul_ps(v[k], idv), bv));
    return _mm256_min_epi8(low_bytes_32(q[0], q[1], q[2], q[3]), _mm256_set1_epi8((char)lim));
}

/* Loads a block of 32; 0 when it holds Inf/NaN (no amax: Q4_1/Q5_1 scan min and max). */
static inline int load32_finite(const float *x, __m256 v[4])
{
    __m256 bad = _mm256_setzero_ps();
    for (int k = 0; k < 4; k++) {
        v[k] = _mm256_loadu_ps(x + 8 * k);
        bad = _mm256_or_ps(bad, nonfinite8(v[k]));
    }
    return _mm256_testz_ps(bad, bad);
}

/* Loads a block of 32; returns 0 when it holds Inf/NaN. amax = max |x|. */
static inline int load32(const float *x, __m256 v[4], float *amax)
{
    __m256 bad = _mm256_setzero_ps(), m = _mm256_setzero_ps();
    for (int k = 0; k < 4; k++) {
        v[k] = _mm256_loadu_ps(x + 8 * k);
        bad = _mm256_or_ps(bad, nonfinite8(v[k]));
        m = _mm256_max_ps(m, abs8(v[k]));
    }
    if (!_mm256_testz_ps(bad, bad))
        return 0;
    *amax = hmax8(m);
    return 1;
}

/* The first value of largest magnitude, +0 when all are zero (signed_absmax). */
static inline float signed_absmax32(const float *x, const __m256 v[4], float amax)
{
    if (amax == 0)
        return 0.0f;
    const __m256 a = _mm256_set1_ps(amax);
    uint32_t mask = 0;
    for (int k = 0; k < 4; k++)
        mask |= (uint32_t)_mm256_movemask_ps(_mm256_cmp_ps(abs8(v[k]), a, _CMP_EQ_OQ)) << (8 * k);
    return x[__builtin_ctz(mask)];
}

static void q4_0_quant(const float *x, void *dst, int64_t n_rows, int64_t n_per_row,
                       const float *imatrix)
{
    if (imatrix) {
        legacy_imat_rows(TC_DTYPE_Q4_0, x, dst, n_rows, n_per_row, imatrix);
        return;
    }
    uint8_t *y = dst;
    for (int64_t i = 0, nb = n_rows * n_per_row / 32; i < nb; i++, x += 32, y += 18) {
        __m256 v[4];
        float amax;
        if (!load32(x, v, &amax)) {
            ref_block(TC_DTYPE_Q4_0, x, y, 32);
            continue;
        }
        const float d = signed_absmax32(x, v, amax) / -8;
        const float id = d ? 1.0f / d : 0.0f;
        tc_st_u16(y, f16c(d));
        pack_nibbles32(y + 2, levels_0(v, id, 8.5f, 15));
    }
}

static void q5_0_quant(const float *x, void *dst, int64_t n_rows, int64_t n_per_row,
                       const float *imatrix)
{
    if (imatrix) {
        legacy_imat_rows(TC_DTYPE_Q5_0, x, dst, n_rows, n_per_row, imatrix);
        return;
    }
    uint8_t *y = dst;
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    for (int64_t i = 0, nb = n_rows * n_per_row / 32; i < nb; i++, x += 32, y += 22) {
        __m256 v[4];
        float amax;
        if (!load32(x, v, &amax)) {
            ref_block(TC_DTYPE_Q5_0, x, y, 32);
            continue;
        }
        const float d = signed_absmax32(x, v, amax) / -16;
        const float id = d ? 1.0f / d : 0.0f;
        tc_st_u16(y, f16c(d));
        __m256i L = levels_0(v, id, 16.5f, 31);
        tc_st_u32(y + 2, (uint32_t)_mm256_movemask_epi8(_mm256_slli_epi16(L, 3)));
        pack_nibbles32(y + 6, _mm256_and_si256(L, m4));
    }
}

/* min and max of a finite block; 0 when one of them is a zero (its sign is order-dependent) */
static inline int minmax32(const __m256 v[4], float *mn, float *mx)
{
    __m256 lo = _mm256_min_ps(_mm256_min_ps(v[0], v[1]), _mm256_min_ps(v[2], v[3]));
    __m256 hi = _mm256_max_ps(_mm256_max_ps(v[0], v[1]), _mm256_max_ps(v[2], v[3]));
    *mn = hmin8(lo);
    *mx = hmax8(hi);
    return *mn != 0 && *mx != 0;
}

static inline __m256i levels_1(const __m256 v[4], float min, float id)
{
    const __m256 idv = _mm256_set1_ps(id), mv = _mm256_set1_ps(min), h = _mm256_set1_ps(0.5f);
    __m256i q[4];
    for (int k = 0; k < 4; k++)
        q[k] = _mm256_cvttps_epi32(_mm256_add_ps(_mm256_mul_ps(_mm256_sub_ps(v[k], mv), idv), h));
    return low_bytes_32(q[0], q[1], q[2], q[3]);
}

static void q4_1_quant(const float *x, void *dst, int64_t n_rows, int64_t n_per_row,
                       const float *imatrix)
{
    if (imatrix) {
        legacy_imat_rows(TC_DTYPE_Q4_1, x, dst, n_rows, n_per_row, imatrix);
        return;
    }
    uint8_t *y = dst;
    for (int64_t i = 0, nb = n_rows * n_per_row / 32; i < nb; i++, x += 32, y += 20) {
        __m256 v[4];
        float min, max;
        if (!load32_finite(x, v) || !minmax32(v, &min, &max)) {
            ref_block(TC_DTYPE_Q4_1, x, y, 32);
            continue;
        }
        const float d = (max - min) / 15;
        const float id = d ? 1.0f / d : 0.0f;
        tc_st_u16(y, f16c(d));
        tc_st_u16(y + 2, f16c(min));
        __m256i L = _mm256_min_epi8(levels_1(v, min, id), _mm256_set1_epi8(15));
        pack_nibbles32(y + 4, L);
    }
}

static void q5_1_quant(const float *x, void *dst, int64_t n_rows, int64_t n_per_row,
                       const float *imatrix)
{
    if (imatrix) {
        legacy_imat_rows(TC_DTYPE_Q5_1, x, dst, n_rows, n_per_row, imatrix);
        return;
    }
    uint8_t *y = dst;
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    for (int64_t i = 0, nb = n_rows * n_per_row / 32; i < nb; i++, x += 32, y += 24) {
        __m256 v[4];
        float min, max;
        if (!load32_finite(x, v) || !minmax32(v, &min, &max)) {
            ref_block(TC_DTYPE_Q5_1, x, y, 32);
            continue;
        }
        const float d = (max - min) / 31;
        const float id = d ? 1.0f / d : 0.0f;
        tc_st_u16(y, f16c(d));
        tc_st_u16(y + 2, f16c(min));
        __m256i L = levels_1(v, min, id);
        tc_st_u32(y + 4, (uint32_t)_mm256_movemask_epi8(_mm256_slli_epi16(L, 3)));
        pack_nibbles32(y + 8, _mm256_and_si256(L, m4));
    }
}

/* ===== Ternary (TQ1_0, TQ2_0) and MXFP4 quantizers ===== */

/* Low bytes of ggml's trit lroundf(x * id) + 1 for 256 values (1 where the product is not
 * finite: lroundf gives LONG_MIN there). */
static inline void trits256(const float *x, float id, uint8_t *T)
{
    const __m256 idv = _mm256_set1_ps(id);
    const __m256i one = _mm256_set1_epi32(1);
    for (int j = 0; j < 256; j += 32) {
        __m256i q[4];
        for (int k = 0; k < 4; k++) {
            __m256 v = _mm256_mul_ps(_mm256_loadu_ps(x + j + 8 * k), idv);
            __m256i r = _mm256_add_epi32(_mm256_cvttps_epi32(roundf8(v)), one);
            q[k] = _mm256_blendv_epi8(r, one, _mm256_castps_si256(nonfinite8(v)));
        }
        _mm256_storeu_si256((__m256i *)(T + j), low_bytes_32(q[0], q[1], q[2], q[3]));
    }
}

/* max |x| of a finite block of n (a multiple of 8); 0 when it holds Inf/NaN */
static inline int absmax_tame(const float *x, int n, float *amax)
{
    __m256 m = _mm256_setzero_ps(), bad = _mm256_setzero_ps();
    for (int i = 0; i < n; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        m = _mm256_max_ps(m, abs8(v));
        bad = _mm256_or_ps(bad, nonfinite8(v));
    }
    *amax = hmax8(m);
    return _mm256_testz_ps(bad, bad);
}

/* (q * 256 + 242) / 243 for every uint8 q, as tq1_0 stores a base-3 byte */
static uint8_t tq1_div[256];

/* (q * 256 + 242) / 243 for 32 bytes q. The float quotient is within far less than 1/243 of
 * the exact one (a < 2^16), whose fraction is 0 or >= 1/243 from an integer: truncation gives
 * the integer quotient exactly. */
static inline __m256i div243_32(__m256i q)
{
    __m256i r[4];
    __m128i lo = _mm256_castsi256_si128(q), hi = _mm256_extracti128_si256(q, 1);
    __m128i parts[4] = {lo, _mm_srli_si128(lo, 8), hi, _mm_srli_si128(hi, 8)};
    for (int k = 0; k < 4; k++) {
        __m256i a = _mm256_add_epi32(_mm256_slli_epi32(_mm256_cvtepu8_epi32(parts[k]), 8),
                                     _mm256_set1_epi32(242));
        r[k] = _mm256_cvttps_epi32(_mm256_div_ps(_mm256_cvtepi32_ps(a), _mm256_set1_ps(243.f)));
    }
    return low_bytes_32(r[0], r[1], r[2], r[3]);
}

static void tq1_0_quant(const float *x, void *dst, int64_t n_rows, int64_t n_per_row,
                        const float *imatrix)
{
    (void)imatrix;
    uint8_t *y = dst;
    for (int64_t i = 0, nb = n_rows * n_per_row / 256; i < nb; i++, x += 256, y += 54) {
        float d;
        if (!absmax_tame(x, 256, &d)) {
            ref_block(TC_DTYPE_TQ1_0, x, y, 256);
            continue;
        }
        const float id = d ? 1.0f / d : 0.0f;
        uint8_t T[256];
        trits256(x, id, T);
        /* q = sum of trits * 3^k in uint8 arithmetic (Horner with byte adds), then the byte
         * (q * 256 + 242) / 243 */
        __m256i q = _mm256_setzero_si256();
        for (int n = 0; n < 5; ++n)
            q = _mm256_add_epi8(_mm256_add_epi8(_mm256_add_epi8(q, q), q),
                                _mm256_loadu_si256((const __m256i *)(T + 32 * n)));
        _mm256_storeu_si256((__m256i *)y, div243_32(q));
        __m128i q2 = _mm_setzero_si128();
        for (int n = 0; n < 5; ++n)
            q2 = _mm_add_epi8(_mm_add_epi8(_mm_add_epi8(q2, q2), q2),
                              _mm_loadu_si128((const __m128i *)(T + 160 + 16 * n)));
        _mm_storeu_si128((__m128i *)(y + 32),
                         _mm256_castsi256_si128(
                             div243_32(_mm256_inserti128_si256(_mm256_setzero_si256(), q2, 0))));
        for (int j = 0; j < 4; ++j) {
            uint8_t h = 0;
            for (int m = 0; m < 4; ++m)
                h = (uint8_t)(h * 3 + T[240 + j + m * 4]);
            y[48 + j] = tq1_div[(uint8_t)(h * 3)];
        }
        tc_st_u16(y + 52, tc_f32_to_f16(d));
    }
}

static void tq2_0_quant(const float *x, void *dst, int64_t n_rows, int64_t n_per_row,
                        const float *imatrix)
{
    (void)imatrix;
    uint8_t *y = dst;
    const __m256i m3 = _mm256_set1_epi8(3);
    for (int64_t i = 0, nb = n_rows * n_per_row / 256; i < nb; i++, x += 256, y += 66) {
        float d;
        if (!absmax_tame(x, 256, &d)) {
            ref_block(TC_DTYPE_TQ2_0, x, y, 256);
            continue;
        }
        const float id = d ? 1.0f / d : 0.0f;
        uint8_t T[256];
        trits256(x, id, T);
        for (int j = 0; j < 2; j++) {
            __m256i r = _mm256_setzero_si256();
            for (int n = 0; n < 4; n++) {
                __m256i t = _mm256_and_si256(
                    _mm256_loadu_si256((const __m256i *)(T + 128 * j + 32 * n)), m3);
                for (int s2 = 0; s2 < n; s2++)
                    t = _mm256_slli_epi16(t, 2);
                r = _mm256_or_si256(r, t);
            }
            _mm256_storeu_si256((__m256i *)(y + 32 * j), r);
        }
        tc_st_u16(y + 64, tc_f32_to_f16(d));
    }
}

/*
 * best_index_mxfp4 on 8 lanes: the first grid value at the least |kv * d - x|. For x >= 0 (or
 * -0, NaN) no negative value can beat index 0 (err x), so the search runs over the magnitudes
 * of indices 0..7; for x < 0 the mirror argument gives index k + 8 for the best magnitude k > 0,
 * and index 0 (which wins its ties with index 8) for k = 0. The errors are the same floats:
 * negating both operands of a subtraction negates its exact result.
 */
static inline __m256i mxfp4_best8(__m256 x, const __m256 *cand)
{
    const __m256 ax = abs8(x);
    __m256 best = abs8(_mm256_sub_ps(cand[0], ax));
    __m256i idx = _mm256_setzero_si256();
    for (int i = 1; i < 8; i++) {
        __m256 err = abs8(_mm256_sub_ps(cand[i], ax));
        __m256 lt = _mm256_cmp_ps(err, best, _CMP_LT_OQ);
        best = _mm256_blendv_ps(best, err, lt);
        idx = _mm256_blendv_epi8(idx, _mm256_set1_epi32(i), _mm256_castps_si256(lt));
    }
    __m256i neg = _mm256_castps_si256(_mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_LT_OQ));
    __m256i nz =
        _mm256_xor_si256(_mm256_cmpeq_epi32(idx, _mm256_setzero_si256()), _mm256_set1_epi32(-1));
    return _mm256_add_epi32(idx, _mm256_and_si256(_mm256_and_si256(neg, nz), _mm256_set1_epi32(8)));
}

static void mxfp4_quant(const float *x, void *dst, int64_t n_rows, int64_t n_per_row,
                        const float *imatrix)
{
    (void)imatrix;
    uint8_t *y = dst;
    for (int64_t i = 0, nb = n_rows * n_per_row / 32; i < nb; i++, x += 32, y += 17) {
        __m256 v[4], m = _mm256_setzero_ps();
        for (int k = 0; k < 4; k++) {
            v[k] = _mm256_loadu_ps(x + 8 * k);
            m = _mm256_max_ps(abs8(v[k]), m); /* NaN never wins, as in the reference */
        }
        const float amax = hmax8(m);
        const uint8_t e = amax > 0.0f ? (uint8_t)tc_cvtt_i32(floorf(log2f(amax)) - 2 + 127) : 0;
        const float d = tc_bits_f32(e < 2 ? 0x00200000u << e : (uint32_t)(e - 1) << 23);
        __m256 cand[8];
        for (int c = 0; c < 8; c++)
            cand[c] = _mm256_set1_ps((float)tc_kvalues_mxfp4[c] * d);
        y[0] = e;
        __m256i q[4];
        for (int k = 0; k < 4; k++)
            q[k] = mxfp4_best8(v[k], cand);
        pack_nibbles32(y + 1, low_bytes_32(q[0], q[1], q[2], q[3]));
    }
}

/* ===== k-quants: searches vectorised across sub-blocks (lane j = sub-block j) ===== */

/* xt[i] lane j = x[stride * j + i], i < n: 8 x 8 transposes in registers (gathers are slow on
 * some cores: on this AMD EPYC they were 15 % of Q3_K's time), a gather for a ragged tail */
static inline void transpose8(const float *x, int stride, int n, __m256 *xt)
{
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 r[8];
        for (int j = 0; j < 8; j++)
            r[j] = _mm256_loadu_ps(x + (size_t)stride * j + i);
        tc_tr8x8(r, xt + i);
    }
    if (i < n) {
        const __m256i idx = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
                                               _mm256_set1_epi32(stride));
        for (; i < n; i++)
            xt[i] = _mm256_i32gather_ps(x + i, idx, 4);
    }
}

/* xt[i] lane j = rows[j][i], i < n (a multiple of 8): rows of a ragged group may repeat */
static inline void transpose8_rows(const float *const *rows, int n, __m256 *xt)
{
    for (int i = 0; i < n; i += 8) {
        __m256 r[8];
        for (int j = 0; j < 8; j++)
            r[j] = _mm256_loadu_ps(rows[j] + i);
        tc_tr8x8(r, xt + i);
    }
}

/* 0 when the block of n values has Inf/NaN or a magnitude that could overflow the searches'
 * sums (there the result can hang on which NaN an operation keeps: the reference decides). */
static inline int block_tame(const float *x, int n)
{
    /* |x| as int32 bits orders like |x| and puts Inf and every NaN above 2^50: one max over
     * the block (a float max would drop a NaN) and one compare */
    const __m256i mag = _mm256_set1_epi32(0x7FFFFFFF);
    __m256i m = _mm256_setzero_si256();
    for (int i = 0; i < n; i += 8)
        m = _mm256_max_epi32(m,
                             _mm256_and_si256(_mm256_loadu_si256((const __m256i *)(x + i)), mag));
    __m256i bad = _mm256_cmpgt_epi32(m, _mm256_set1_epi32(0x587FFFFF)); /* >= bits of 2^50 */
    return _mm256_testz_si256(bad, bad);
}

/* 1 when every importance weight is finite and below 2^50: otherwise (NaN, Inf, huge weights)
 * the reference quantizes the whole call, for the same reason as block_tame. */
static inline int imat_tame(const float *w, int64_t n)
{
    __m256 bad = _mm256_setzero_ps();
    for (int64_t i = 0; i < n; i += 8)
        bad = _mm256_or_ps(
            bad, _mm256_cmp_ps(abs8(_mm256_loadu_ps(w + i)), _mm256_set1_ps(0x1p50f), _CMP_NLT_UQ));
    return _mm256_testz_ps(bad, bad);
}

/* Levels of sub-block j (n each) from searches stored lane-major: T holds groups of W lanes,
 * element i of lane j at T[(j / W) * n * W + i * W + j % W] (a __m256 or __m512 array). */
static inline void lane_levels_w(const float *T, int W, int n, int j, uint8_t *L)
{
    const float *t = T + (j / W) * n * W + j % W;
    for (int i = 0; i < n; i++)
        L[i] = (uint8_t)(int)t[i * W];
}

/* 32 levels clamp(nearest_int((x + dm) / d), 0, nmax) as bytes */
static inline void requant32(const float *x, float dm, float d, int nmax, uint8_t *L)
{
    const __m256 dmv = _mm256_set1_ps(dm), dv = _mm256_set1_ps(d);
    __m256i q[4];
    for (int k = 0; k < 4; k++)
        q[k] = clampf8(_mm256_div_ps(_mm256_add_ps(_mm256_loadu_ps(x + 8 * k), dmv), dv), 0, nmax);
    _mm256_storeu_si256((__m256i *)L, low_bytes_32(q[0], q[1], q[2], q[3]));
}

/* Q2_K/Q3_K: four 2-bit planes per 128 elements. */
static inline void pack_2bit(uint8_t *qs, const uint8_t *L)
{
    for (int j = 0; j < QK_K; j += 128) {
        __m256i a = _mm256_loadu_si256((const __m256i *)(L + j));
        __m256i b = _mm256_loadu_si256((const __m256i *)(L + j + 32));
        __m256i c = _mm256_loadu_si256((const __m256i *)(L + j + 64));
        __m256i e = _mm256_loadu_si256((const __m256i *)(L + j + 96));
        __m256i r =
            _mm256_or_si256(_mm256_or_si256(a, _mm256_slli_epi16(b, 2)),
                            _mm256_or_si256(_mm256_slli_epi16(c, 4), _mm256_slli_epi16(e, 6)));
        _mm256_storeu_si256((__m256i *)(qs + j / 4), r);
    }
}

/* Q4_K/Q5_K: requantize against the stored scales and mins (the search's levels where d is
 * 0), then pack. */
static void q45_k_finish(const float *x, uint8_t *y, int nmax, const float *T, int W)
{
    /* requantize against the stored scales */
    uint8_t L[QK_K];
    const float d_all = tc_f16_to_f32(tc_ld_u16(y)), m_all = tc_f16_to_f32(tc_ld_u16(y + 2));
    for (int j = 0; j < 8; ++j) {
        uint8_t s, m;
        scale_min_k4(j, y + 4, &s, &m);
        const float d = d_all * (float)s;
        if (!d) {
            lane_levels_w(T, W, 32, j, L + 32 * j);
            continue;
        }
        requant32(x + 32 * j, m_all * (float)m, d, nmax, L + 32 * j);
    }
    if (nmax == 15) {
        uint8_t *q = y + 16;
        for (int j = 0; j < QK_K; j += 64, q += 32) {
            __m256i a = _mm256_loadu_si256((const __m256i *)(L + j));
            __m256i b = _mm256_loadu_si256((const __m256i *)(L + j + 32));
            _mm256_storeu_si256((__m256i *)q, _mm256_or_si256(a, _mm256_slli_epi16(b, 4)));
        }
    } else {
        uint8_t *qh = y + 16, *ql = y + 48;
        const __m256i m4 = _mm256_set1_epi8(0x0F);
        __m256i h = _mm256_setzero_si256();
        for (int j = 0; j < QK_K; j += 64, ql += 32) {
            __m256i a = _mm256_loadu_si256((const __m256i *)(L + j));
            __m256i b = _mm256_loadu_si256((const __m256i *)(L + j + 32));
            const int sh = j / 32; /* bit of a: 2*(j/64); of b: 2*(j/64)+1 */
            __m256i ha = _mm256_and_si256(_mm256_srli_epi16(a, 4), _mm256_set1_epi8(1));
            __m256i hb = _mm256_and_si256(_mm256_srli_epi16(b, 4), _mm256_set1_epi8(1));
            /* shift bytes left by sh (no 8-bit shift: multiply via add chains) */
            for (int s2 = 0; s2 < sh; s2++) {
                ha = _mm256_add_epi8(ha, ha);
                hb = _mm256_add_epi8(hb, hb);
            }
            hb = _mm256_add_epi8(hb, hb);
            h = _mm256_or_si256(h, _mm256_or_si256(ha, hb));
            _mm256_storeu_si256((__m256i *)ql,
                                _mm256_or_si256(_mm256_and_si256(a, m4),
                                                _mm256_slli_epi16(_mm256_and_si256(b, m4), 4)));
        }
        _mm256_storeu_si256((__m256i *)qh, h);
    }
}

/* Sequential sum of squares of n values (the reference's loop order). */
static inline float sum_x2_seq(const float *x, int n)
{
    float s = 0;
    for (int i = 0; i < n; ++i)
        s += x[i] * x[i];
    return s;
}

/* Q4_K/Q5_K after the search of the 8 sub-blocks (scales, mins; weight sums sw with an imatrix;
 * levels lane-major in T with W lanes): scales and mins to 6 bits, requantize, pack. */
void tc_avx2_q45_k_finish(const float *x, uint8_t *y, int nmax, int imat, int clamp63,
                          float *scales, float *mins, float *sw, const float *T, int W)
{
    if (!imat) {
        float max_scale = 0, max_min = 0;
        for (int j = 0; j < 8; ++j) {
            if (scales[j] > max_scale)
                max_scale = scales[j];
            if (mins[j] > max_min)
                max_min = mins[j];
        }
        float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
        float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
        uint8_t ls[8], lm[8];
        for (int j = 0; j < 8; ++j) {
            uint8_t a = (uint8_t)tc_nearest_int(inv_scale * scales[j]);
            uint8_t b = (uint8_t)tc_nearest_int(inv_min * mins[j]);
            ls[j] = a < 63 ? a : 63;
            lm[j] = b < 63 ? b : 63;
        }
        tc_put_scale_min_k4(y + 4, ls, lm);
        tc_put_f16(y, max_scale / 63.f);
        tc_put_f16(y + 2, max_min / 63.f);
    } else {
        uint8_t Ls[8], Lm[8];
        const float d_block = tc_ref_make_qp_quants(8, 63, scales, Ls, sw);
        const float m_block = tc_ref_make_qp_quants(8, 63, mins, Lm, sw);
        if (clamp63)
            for (int j = 0; j < 8; ++j) {
                Ls[j] = Ls[j] < 63 ? Ls[j] : 63;
                Lm[j] = Lm[j] < 63 ? Lm[j] : 63;
            }
        tc_put_scale_min_k4(y + 4, Ls, Lm);
        tc_put_f16(y, d_block);
        tc_put_f16(y + 2, m_block);
    }
    q45_k_finish(x, y, nmax, T, W);
}

/* Q4_K (nmax 15, rmin -1, nstep 20) / Q5_K (nmax 31, rmin -0.5, nstep 15), no imatrix */
static void q45_k_block(const float *x, uint8_t *y, int nmax, float rmin, int nstep)
{
    __m256 xt[32], wt[32], Lt[32], sc8, mn8;
    transpose8(x, 32, 32, xt);
    __m256 sum_x2 = _mm256_setzero_ps();
    for (int i = 0; i < 32; i++)
        sum_x2 = _mm256_add_ps(sum_x2, _mm256_mul_ps(xt[i], xt[i]));
    const __m256 av_x = _mm256_sqrt_ps(_mm256_div_ps(sum_x2, _mm256_set1_ps(32.f)));
    for (int i = 0; i < 32; i++)
        wt[i] = _mm256_add_ps(av_x, abs8(xt[i]));
    qkx8(32, nmax, xt, wt, Lt, rmin, 0.1f, nstep, 0, 0, &sc8, &mn8);
    float scales[8], mins[8];
    _mm256_storeu_ps(scales, sc8);
    _mm256_storeu_ps(mins, mn8);
    tc_avx2_q45_k_finish(x, y, nmax, 0, 0, scales, mins, NULL, (const float *)Lt, 8);
}

/* Q6_K after the sub-block search: super-scale, 8-bit scales, requantization (the search's
 * levels, lane-major in T with W lanes, where a scale is 0) and packing. */
void tc_avx2_q6_k_finish(const float *x, uint8_t *y, const float *scales, const float *T, int W)
{
    float max_abs_scale;
    const float max_scale = tc_signed_amax(scales, 16, &max_abs_scale);
    if (max_abs_scale < GROUP_MAX_EPS) {
        memset(y, 0, 210);
        tc_put_f16(y + 208, 0.f);
        return;
    }
    float iscale = -128.f / max_scale;
    tc_put_f16(y + 208, 1 / iscale);
    int8_t sc[16];
    for (int ib = 0; ib < 16; ++ib) {
        int v = tc_nearest_int(iscale * scales[ib]);
        sc[ib] = (int8_t)(v < 127 ? v : 127);
    }
    memcpy(y + 192, sc, 16);
    const float d_all = tc_f16_to_f32(tc_ld_u16(y + 208));
    uint8_t L[QK_K];
    for (int j = 0; j < 16; ++j) {
        float d = d_all * (float)sc[j];
        if (!d) {
            lane_levels_w(T, W, 16, j, L + 16 * j);
            continue;
        }
        const __m256 dv = _mm256_set1_ps(d);
        __m256i q0 = clampf8(_mm256_div_ps(_mm256_loadu_ps(x + 16 * j), dv), -32, 31);
        __m256i q1 = clampf8(_mm256_div_ps(_mm256_loadu_ps(x + 16 * j + 8), dv), -32, 31);
        q0 = _mm256_add_epi32(q0, _mm256_set1_epi32(32));
        q1 = _mm256_add_epi32(q1, _mm256_set1_epi32(32));
        __m128i p = _mm_packus_epi16(
            _mm_packus_epi32(_mm256_castsi256_si128(q0), _mm256_extracti128_si256(q0, 1)),
            _mm_packus_epi32(_mm256_castsi256_si128(q1), _mm256_extracti128_si256(q1, 1)));
        _mm_storeu_si128((__m128i *)(L + 16 * j), p);
    }
    uint8_t *ql = y, *qh = y + 128;
    const __m256i m4 = _mm256_set1_epi8(0x0F), m3 = _mm256_set1_epi8(3);
    for (int j = 0; j < QK_K; j += 128, ql += 64, qh += 32) {
        __m256i a = _mm256_loadu_si256((const __m256i *)(L + j));
        __m256i b = _mm256_loadu_si256((const __m256i *)(L + j + 32));
        __m256i c = _mm256_loadu_si256((const __m256i *)(L + j + 64));
        __m256i e = _mm256_loadu_si256((const __m256i *)(L + j + 96));
        _mm256_storeu_si256((__m256i *)ql,
                            _mm256_or_si256(_mm256_and_si256(a, m4),
                                            _mm256_slli_epi16(_mm256_and_si256(c, m4), 4)));
        _mm256_storeu_si256((__m256i *)(ql + 32),
                            _mm256_or_si256(_mm256_and_si256(b, m4),
                                            _mm256_slli_epi16(_mm256_and_si256(e, m4), 4)));
        __m256i h = _mm256_and_si256(_mm256_srli_epi16(a, 4), m3);
        h = _mm256_or_si256(h, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(b, 4), m3), 2));
        h = _mm256_or_si256(h, _mm256_and_si256(c, _mm256_set1_epi8(0x30)));
        h = _mm256_or_si256(h, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(e, 4), m3), 6));
        _mm256_storeu_si256((__m256i *)qh, h);
    }
}

static void q6_k_block(const float *x, const float *qw, uint8_t *y)
{
    float scales[16];
    __m256 Lt[2][16];
    for (int g = 0; g < 2; g++) {
        __m256 xt[16], wt[16];
        transpose8(x + 128 * g, 16, 16, xt);
        if (qw)
            transpose8(qw + 128 * g, 16, 16, wt);
        _mm256_storeu_ps(scales + 8 * g, qx8(16, 32, xt, qw ? wt : NULL, Lt[g]));
    }
    tc_avx2_q6_k_finish(x, y, scales, (const float *)Lt, 8);
}

static void q6_k_quant(const float *x, void *dst, int64_t n_rows, int64_t n_per_row,
                       const float *imatrix)
{
    if (imatrix && !imat_tame(imatrix, n_per_row)) {
        ref_quant[TC_DTYPE_Q6_K](x, dst, n_rows, n_per_row, imatrix);
        return;
    }
    uint8_t *y = dst;
    const int64_t nb = n_per_row / QK_K;
    for (int64_t r = 0; r < n_rows; r++)
        for (int64_t i = 0; i < nb; i++, x += QK_K, y += 210) {
            const float *qw = imatrix ? imatrix + QK_K * i : NULL;
            if (block_tame(x, QK_K))
                q6_k_block(x, qw, y);
            else
                ref_quant[TC_DTYPE_Q6_K](x, y, 1, QK_K, qw);
        }
}

/* Q4_K/Q5_K with an imatrix (quantize_row_q4_K_impl / q5_K_impl) */
static void q45_k_block_imat(const float *x, const float *qw, uint8_t *y, int nmax, int clamp63)
{
    const float sigma2 = 2 * sum_x2_seq(x, QK_K) / QK_K;
    __m256 xt[32], qwt[32], wt[32], Lt[32], sc8, mn8;
    transpose8(x, 32, 32, xt);
    transpose8(qw, 32, 32, qwt);
    __m256 sw8 = _mm256_setzero_ps();
    const __m256 s2 = _mm256_set1_ps(sigma2);
    for (int i = 0; i < 32; i++) {
        wt[i] =
            _mm256_mul_ps(qwt[i], _mm256_sqrt_ps(_mm256_add_ps(s2, _mm256_mul_ps(xt[i], xt[i]))));
        sw8 = _mm256_add_ps(sw8, wt[i]);
    }
    qkx8(32, nmax, xt, wt, Lt, -0.9f, 0.05f, 36, 0, 1, &sc8, &mn8);
    float scales[8], mins[8], sw[8];
    _mm256_storeu_ps(scales, sc8);
    _mm256_storeu_ps(mins, mn8);
    _mm256_storeu_ps(sw, sw8);
    tc_avx2_q45_k_finish(x, y, nmax, 1, clamp63, scales, mins, sw, (const float *)Lt, 8);
}

/* Q2_K: requantize against the stored scales, keep the search's levels where d is 0, pack. */
static void q2_k_requant(const float *x, uint8_t *y, const float *T, int W)
{
    uint8_t L[QK_K];
    const float d_all = tc_f16_to_f32(tc_ld_u16(y + 80)), m_all = tc_f16_to_f32(tc_ld_u16(y + 82));
    for (int j = 0; j < 16; ++j) {
        const float d = d_all * (float)(y[j] & 0xF);
        if (!d) {
            lane_levels_w(T, W, 16, j, L + 16 * j);
            continue;
        }
        const __m256 dm = _mm256_set1_ps(m_all * (float)(y[j] >> 4)), dv = _mm256_set1_ps(d);
        __m256i q0 =
            clampf8(_mm256_div_ps(_mm256_add_ps(_mm256_loadu_ps(x + 16 * j), dm), dv), 0, 3);
        __m256i q1 =
            clampf8(_mm256_div_ps(_mm256_add_ps(_mm256_loadu_ps(x + 16 * j + 8), dm), dv), 0, 3);
        __m128i p = _mm_packus_epi16(
            _mm_packus_epi32(_mm256_castsi256_si128(q0), _mm256_extracti128_si256(q0, 1)),
            _mm_packus_epi32(_mm256_castsi256_si128(q1), _mm256_extracti128_si256(q1, 1)));
        _mm_storeu_si128((__m128i *)(L + 16 * j), p);
    }
    pack_2bit(y + 16, L);
}

/* Q2_K after the sub-block search (scales, mins, weight sums sw with an imatrix; levels
 * lane-major in T with W lanes): 4-bit scales and mins, requantization, packing. */
void tc_avx2_q2_k_finish(const float *x, uint8_t *y, int imat, float *scales, float *mins,
                         float *sw, const float *T, int W)
{
    if (imat) {
        uint8_t Ls[16], Lm[16];
        const float dm = tc_ref_make_qp_quants(16, 15, scales, Ls, sw);
        const float mm = tc_ref_make_qp_quants(16, 15, mins, Lm, sw);
        tc_put_f16(y + 80, dm);
        tc_put_f16(y + 82, mm);
        for (int j = 0; j < 16; ++j)
            y[j] = (uint8_t)(Ls[j] | (Lm[j] << 4));
    } else {
        float max_scale = 0, max_min = 0;
        for (int j = 0; j < 16; ++j) {
            if (scales[j] > max_scale)
                max_scale = scales[j];
            if (mins[j] > max_min)
                max_min = mins[j];
        }
        if (max_scale > 0) {
            const float iscale = 15.f / max_scale;
            for (int j = 0; j < 16; ++j)
                y[j] = (uint8_t)tc_nearest_int(iscale * scales[j]);
            tc_put_f16(y + 80, max_scale / 15.f);
        } else {
            memset(y, 0, 16);
            tc_put_f16(y + 80, 0.f);
        }
        if (max_min > 0) {
            const float iscale = 15.f / max_min;
            for (int j = 0; j < 16; ++j) {
                unsigned l = (unsigned)tc_nearest_int(iscale * mins[j]);
                y[j] = (uint8_t)(y[j] | (l << 4));
            }
            tc_put_f16(y + 82, max_min / 15.f);
        } else {
            tc_put_f16(y + 82, 0.f);
        }
    }
    q2_k_requant(x, y, T, W);
}

static void q2_k_block(const float *x, const float *qw, uint8_t *y)
{
    __m256 Lt[2][16];
    float scales[16], mins[16], sw[16];
    const float sigma2 = qw ? sum_x2_seq(x, QK_K) / QK_K : 0;
    for (int g = 0; g < 2; g++) {
        __m256 xt[16], wt[16], qwt[16], sc8, mn8;
        transpose8(x + 128 * g, 16, 16, xt);
        __m256 sw8 = _mm256_setzero_ps();
        if (qw) {
            transpose8(qw + 128 * g, 16, 16, qwt);
            const __m256 s2 = _mm256_set1_ps(sigma2);
            for (int i = 0; i < 16; i++) {
                wt[i] = _mm256_mul_ps(
                    qwt[i], _mm256_sqrt_ps(_mm256_add_ps(s2, _mm256_mul_ps(xt[i], xt[i]))));
                sw8 = _mm256_add_ps(sw8, wt[i]);
            }
            qkx8(16, 3, xt, wt, Lt[g], -0.9f, 0.05f, 36, 0, 1, &sc8, &mn8);
        } else {
            for (int i = 0; i < 16; i++)
                wt[i] = abs8(xt[i]);
            qkx8(16, 3, xt, wt, Lt[g], -0.5f, 0.1f, 15, 1, 0, &sc8, &mn8);
        }
        _mm256_storeu_ps(scales + 8 * g, sc8);
        _mm256_storeu_ps(mins + 8 * g, mn8);
        _mm256_storeu_ps(sw + 8 * g, sw8);
    }
    tc_avx2_q2_k_finish(x, y, qw != NULL, scales, mins, sw, (const float *)Lt, 8);
}

/* ggml's nearest_int per lane, unclamped: bits(f + 1.5*2^23) & 0x7fffff - 0x400000 */
static inline __m256i nearest_int8(__m256 f)
{
    __m256i i = _mm256_castps_si256(_mm256_add_ps(f, _mm256_set1_ps(12582912.f)));
    return _mm256_sub_epi32(_mm256_and_si256(i, _mm256_set1_epi32(0x007fffff)),
                            _mm256_set1_epi32(0x00400000));
}

/* The 16 biased 6-bit scales (0..63; a: sub-blocks 0..7, b: 8..15) into the 12 scale bytes
 * (low nibbles of j and j + 8 share byte j; the high 2 bits of j, j + 4, j + 8, j + 12 share
 * byte 8 + j % 4, as ggml packs them one by one) and d[j] = d_all * (float)(scale - 32), the
 * reference's sub-block scale read back from the bytes. */
static inline void q3_scales(uint8_t *ys, __m256i a, __m256i b, float d_all, float *d)
{
    const __m256i bias = _mm256_set1_epi32(32);
    const __m256 dv = _mm256_set1_ps(d_all);
    _mm256_storeu_ps(d, _mm256_mul_ps(dv, _mm256_cvtepi32_ps(_mm256_sub_epi32(a, bias))));
    _mm256_storeu_ps(d + 8, _mm256_mul_ps(dv, _mm256_cvtepi32_ps(_mm256_sub_epi32(b, bias))));
    __m128i s = _mm_packus_epi16(
        _mm_packus_epi32(_mm256_castsi256_si128(a), _mm256_extracti128_si256(a, 1)),
        _mm_packus_epi32(_mm256_castsi256_si128(b), _mm256_extracti128_si256(b, 1)));
    __m128i lo = _mm_and_si128(s, _mm_set1_epi8(0x0F));
    __m128i hi = _mm_and_si128(_mm_srli_epi16(s, 4), _mm_set1_epi8(0x03));
    lo = _mm_or_si128(lo, _mm_slli_epi16(_mm_srli_si128(lo, 8), 4));
    hi = _mm_or_si128(_mm_or_si128(hi, _mm_slli_epi16(_mm_srli_si128(hi, 4), 2)),
                      _mm_or_si128(_mm_slli_epi16(_mm_srli_si128(hi, 8), 4),
                                   _mm_slli_epi16(_mm_srli_si128(hi, 12), 6)));
    _mm_storel_epi64((__m128i *)ys, lo);
    uint32_t h = (uint32_t)_mm_cvtsi128_si32(hi);
    memcpy(ys + 8, &h, 4);
}

/* The numerators of make_qx_quants' 19 trial scales for nmax 32: -nmax, then -(nmax + 0.1f*is)
 * for is = -9..-1, 1..9 (padded to 24 with copies of the first) */
#define Q3_NUM(is) (-(32.f + 0.1f * (float)(is)))
static const float q3_num[24] = {
    -32.f,      Q3_NUM(-9), Q3_NUM(-8), Q3_NUM(-7), Q3_NUM(-6), Q3_NUM(-5), Q3_NUM(-4), Q3_NUM(-3),
    Q3_NUM(-2), Q3_NUM(-1), Q3_NUM(1),  Q3_NUM(2),  Q3_NUM(3),  Q3_NUM(4),  Q3_NUM(5),  Q3_NUM(6),
    Q3_NUM(7),  Q3_NUM(8),  Q3_NUM(9),  -32.f,      -32.f,      -32.f,      -32.f,      -32.f};
#undef Q3_NUM

/*
 * make_qx_quants(16, 32, scales, Ls, 1, sw) of Q3_K with an imatrix: the block's one search, its
 * 19 trials in lanes (trial t in lane t % 8 of vector t / 8), each lane's sums over the 16 values
 * in index order. The reference's sequence of updates then picks the trial in scalar (the same
 * tests on the same sums), and the winner's levels are recomputed. Returns the scale, *a / *b
 * the biased levels (0..63) of sub-blocks 0..7 / 8..15.
 */
static inline float q3_scale_search(const float *scales, const float *sw, __m256i *a, __m256i *b)
{
    float amax;
    const float max = tc_signed_amax(scales, 16, &amax);
    if (amax < GROUP_MAX_EPS) {
        *a = *b = _mm256_setzero_si256();
        return 0.f;
    }
    const __m256 mv = _mm256_set1_ps(max), lo = _mm256_set1_ps(-32.f), hi = _mm256_set1_ps(31.f);
    __m256 is[3], slx[3], sl2[3];
    for (int v = 0; v < 3; v++) {
        is[v] = _mm256_div_ps(_mm256_loadu_ps(q3_num + 8 * v), mv);
        slx[v] = sl2[v] = _mm256_setzero_ps();
    }
    for (int i = 0; i < 16; ++i) {
        const __m256 xi = _mm256_set1_ps(scales[i]), wi = _mm256_set1_ps(sw[i]);
        const __m256 wxi = _mm256_set1_ps(sw[i] * scales[i]);
        for (int v = 0; v < 3; v++) {
            __m256 l = levf8(_mm256_mul_ps(is[v], xi), lo, hi);
            slx[v] = _mm256_add_ps(slx[v], _mm256_mul_ps(wxi, l));
            sl2[v] = _mm256_add_ps(sl2[v], _mm256_mul_ps(_mm256_mul_ps(wi, l), l));
        }
    }
    float SX[24], S2[24];
    for (int v = 0; v < 3; v++) {
        _mm256_storeu_ps(SX + 8 * v, slx[v]);
        _mm256_storeu_ps(S2 + 8 * v, sl2[v]);
    }
    float scale = S2[0] ? SX[0] / S2[0] : 0.0f;
    float best = scale * SX[0];
    int bt = 0;
    for (int t = 1; t < 19; ++t)
        if (S2[t] > 0 && SX[t] * SX[t] > best * S2[t]) {
            scale = SX[t] / S2[t];
            best = scale * SX[t];
            bt = t;
        }
    const __m256 iv = _mm256_set1_ps(q3_num[bt] / max), bias = _mm256_set1_ps(32.f);
    *a = _mm256_cvttps_epi32(
        _mm256_add_ps(levf8(_mm256_mul_ps(iv, _mm256_loadu_ps(scales)), lo, hi), bias));
    *b = _mm256_cvttps_epi32(
        _mm256_add_ps(levf8(_mm256_mul_ps(iv, _mm256_loadu_ps(scales + 8)), lo, hi), bias));
    return scale;
}

/* Q3_K after the sub-block search (scales, weight sums sw with an imatrix; biased levels
 * lane-major in T with W lanes): 6-bit scales, requantization, hmask and 2-bit planes. */
void tc_avx2_q3_k_finish(const float *x, uint8_t *y, int imat, const float *scales, const float *sw,
                         const float *T, int W)
{
    uint8_t *ys = y + 96;
    float d[16];
    if (imat) {
        __m256i a, b;
        tc_put_f16(y + 108, q3_scale_search(scales, sw, &a, &b));
        q3_scales(ys, a, b, tc_f16_to_f32(tc_ld_u16(y + 108)), d);
    } else {
        float max_scale = 0, amax = 0;
        for (int j = 0; j < 16; ++j) {
            const float a = fabsf(scales[j]);
            if (a > amax) {
                amax = a;
                max_scale = scales[j];
            }
        }
        __m256i a = _mm256_setzero_si256(), b = a; /* all-zero bytes (scale -32), d_all 0 */
        if (max_scale != 0) {
            const float iscale = -32.f / max_scale;
            const __m256 is = _mm256_set1_ps(iscale);
            /* (int8_t)nearest_int(iscale * scales[j]) clamped to [-32, 31], plus 32 */
            __m256i la = nearest_int8(_mm256_mul_ps(is, _mm256_loadu_ps(scales)));
            __m256i lb = nearest_int8(_mm256_mul_ps(is, _mm256_loadu_ps(scales + 8)));
            la = _mm256_srai_epi32(_mm256_slli_epi32(la, 24), 24);
            lb = _mm256_srai_epi32(_mm256_slli_epi32(lb, 24), 24);
            const __m256i lo = _mm256_set1_epi32(-32), hi = _mm256_set1_epi32(31);
            a = _mm256_add_epi32(_mm256_max_epi32(lo, _mm256_min_epi32(hi, la)),
                                 _mm256_set1_epi32(32));
            b = _mm256_add_epi32(_mm256_max_epi32(lo, _mm256_min_epi32(hi, lb)),
                                 _mm256_set1_epi32(32));
            tc_put_f16(y + 108, 1 / iscale);
        } else {
            tc_put_f16(y + 108, 0.f);
        }
        q3_scales(ys, a, b, tc_f16_to_f32(tc_ld_u16(y + 108)), d);
    }
    /* requantize (levels biased by 4), two sub-blocks (32 bytes) at a time: nearest_int(x / d)
     * packed to bytes with signed saturation, which keeps the order, so clamping the bytes to
     * [-4, 3] is the reference's clamp; sub-blocks whose d is 0 then take the search's levels */
    uint8_t L[QK_K];
    const __m256i perm = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    for (int j = 0; j < 16; j += 2) {
        const __m256 d0 = _mm256_set1_ps(d[j]), d1 = _mm256_set1_ps(d[j + 1]);
        const float *xj = x + 16 * j;
        __m256i q0 = nearest_int8(_mm256_div_ps(_mm256_loadu_ps(xj), d0));
        __m256i q1 = nearest_int8(_mm256_div_ps(_mm256_loadu_ps(xj + 8), d0));
        __m256i q2 = nearest_int8(_mm256_div_ps(_mm256_loadu_ps(xj + 16), d1));
        __m256i q3 = nearest_int8(_mm256_div_ps(_mm256_loadu_ps(xj + 24), d1));
        __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(q0, q1), _mm256_packs_epi32(q2, q3));
        p = _mm256_permutevar8x32_epi32(p, perm);
        p = _mm256_max_epi8(_mm256_set1_epi8(-4), _mm256_min_epi8(_mm256_set1_epi8(3), p));
        _mm256_storeu_si256((__m256i *)(L + 16 * j), _mm256_add_epi8(p, _mm256_set1_epi8(4)));
    }
    for (int j = 0; j < 16; ++j)
        if (!d[j])
            lane_levels_w(T, W, 16, j, L + 16 * j);
    /* hmask bit j/32 of byte j%32 = level > 3; 2-bit planes of level & 3 */
    uint8_t U[QK_K];
    const __m256i three = _mm256_set1_epi8(3);
    for (int k = 0; k < 8; k++) {
        __m256i v = _mm256_loadu_si256((const __m256i *)(L + 32 * k));
        _mm256_storeu_si256((__m256i *)(U + 32 * k), _mm256_and_si256(v, three));
    }
    __m256i hm = _mm256_setzero_si256();
    for (int k = 0; k < 8; k++) {
        __m256i v = _mm256_loadu_si256((const __m256i *)(L + 32 * k));
        __m256i big = _mm256_cmpgt_epi8(v, three);
        hm = _mm256_or_si256(hm, _mm256_and_si256(big, _mm256_set1_epi8((char)(1 << k))));
    }
    _mm256_storeu_si256((__m256i *)y, hm);
    pack_2bit(y + 32, U);
}

/*
 * make_q3_quants (ref_k.c, nmax 4) on 8 sub-blocks of 16 in lanes, weights x^2: returns the
 * scales, Lt the biased levels (l + 4). lx[i] = wx[i]*L[i] and l2[i] = (w[i]*L[i])*L[i], the
 * terms the reference recomputes for each test, are kept and refreshed where L changes (the
 * same products, computed less often). The levels stay int32 during the refinement, so the test
 * every element takes ("does any lane move") is an integer compare of the clamped nearest_int
 * with L, folded into the branch's vtestps (no conversion back to float on that path). The
 * refinement is a serial chain per lane; a lane whose pass changes nothing is at a fixed point,
 * so the passes the other lanes still need leave it as the reference's early exit does. A pass
 * ends early: if no lane has moved by the time it passes the last element where one moved in the
 * previous pass, the rest of it repeats that pass's tests on the same sums and levels, which
 * moved nothing, so the whole pass moves nothing and the reference stops after it (a sixth of the
 * tests, the confirming pass's tail, are skipped this way).
 */
typedef struct {
    __m256 xt[16], w[16], wx[16], lx[16], l2[16], sumlx, suml2, tiny;
    __m256i L[16];
} q3_set8;

/* the transpose of the 8 sub-blocks at x and the first levels and sums */
static inline void q3_prep8(const float *x, q3_set8 *s)
{
    const __m256 zero = _mm256_setzero_ps();
    __m256 max = zero, amax = zero;
    const __m256 *xt = s->xt;
    transpose8(x, 16, 16, s->xt);
    for (int i = 0; i < 16; ++i) {
        __m256 ax = abs8(xt[i]);
        __m256 gt = _mm256_cmp_ps(ax, amax, _CMP_GT_OQ);
        amax = _mm256_blendv_ps(amax, ax, gt);
        max = _mm256_blendv_ps(max, xt[i], gt);
        s->w[i] = _mm256_mul_ps(xt[i], xt[i]);
        s->wx[i] = _mm256_mul_ps(s->w[i], xt[i]);
    }
    s->tiny = _mm256_cmp_ps(amax, _mm256_set1_ps(GROUP_MAX_EPS), _CMP_LT_OQ);
    const __m256 iscale = _mm256_div_ps(_mm256_set1_ps(-4.f), max);
    __m256 sumlx = zero, suml2 = zero;
    for (int i = 0; i < 16; ++i) {
        s->L[i] = clampf8(_mm256_mul_ps(iscale, xt[i]), -4, 3);
        __m256 l = _mm256_cvtepi32_ps(s->L[i]);
        s->lx[i] = _mm256_mul_ps(s->wx[i], l);
        s->l2[i] = _mm256_mul_ps(_mm256_mul_ps(s->w[i], l), l);
        sumlx = _mm256_add_ps(sumlx, s->lx[i]);
        suml2 = _mm256_add_ps(suml2, s->l2[i]);
    }
    s->sumlx = sumlx, s->suml2 = suml2;
}

/*
 * The refinement: returns the scales, Lt the biased levels. Tried and slower (byte-identical):
 * the branch's test as a compare of the quotient with its level's rounding interval (two compares
 * instead of nearest_int, clamp and compare; the bounds by level from a table, updated with the
 * level) was 1 % slower; the two halves' refinements in one loop, element by element with a
 * branch each (independent chains, unlike q3x2's merged branch), 1.6 % slower; the element loop
 * unrolled (#pragma GCC unroll 16), no change; the candidate move's levels and sums computed
 * before the branch (pinned there with an empty asm, so they are ready when it mispredicts),
 * 2 % slower.
 */
static inline __m256 q3_refine8(q3_set8 *s, __m256 *Lt)
{
    const __m256 zero = _mm256_setzero_ps();
    const __m256i lo = _mm256_set1_epi32(-4), hi = _mm256_set1_epi32(3);
    const __m256 *xt = s->xt, *w = s->w, *wx = s->wx;
    __m256 *lx = s->lx, *l2 = s->l2, sumlx = s->sumlx, suml2 = s->suml2;
    __m256i *L = s->L;
    /* end: the pass stops after element end unless some lane has moved in it (see above) */
    for (int itry = 0, end = 15; itry < 5; ++itry) {
        int last = -1;
        for (int i = 0; i <= end; ++i) {
            __m256 slx = _mm256_sub_ps(sumlx, lx[i]);
            __m256 c1 = _mm256_cmp_ps(slx, zero, _CMP_GT_OQ);
            __m256 sl2 = _mm256_sub_ps(suml2, l2[i]);
            __m256 q = _mm256_div_ps(_mm256_mul_ps(xt[i], sl2), slx);
            __m256i ni = _mm256_max_epi32(lo, _mm256_min_epi32(hi, nearest_int8(q)));
            __m256 eq = _mm256_castsi256_ps(_mm256_cmpeq_epi32(ni, L[i]));
            if (_mm256_testc_ps(eq, c1)) /* no lane with c1 && ni != L */
                continue;
            __m256 c2 = _mm256_andnot_ps(eq, c1);
            __m256 nl = _mm256_cvtepi32_ps(ni);
            __m256 nlx = _mm256_mul_ps(wx[i], nl), nl2 = _mm256_mul_ps(_mm256_mul_ps(w[i], nl), nl);
            slx = _mm256_add_ps(slx, nlx);
            sl2 = _mm256_add_ps(sl2, nl2);
            __m256 better = _mm256_and_ps(
                _mm256_cmp_ps(sl2, zero, _CMP_GT_OQ),
                _mm256_cmp_ps(_mm256_mul_ps(_mm256_mul_ps(slx, slx), suml2),
                              _mm256_mul_ps(_mm256_mul_ps(sumlx, sumlx), sl2), _CMP_GT_OQ));
            /* nearly always every candidate lane moves (upd == c2): that branch, predicted,
             * lets the next tests start from the new sums without waiting on the test above */
            __m256 upd = c2;
            if (__builtin_expect(!_mm256_testc_ps(better, c2), 0)) {
                upd = _mm256_and_ps(c2, better);
                if (_mm256_testz_ps(upd, upd))
                    continue;
            }
            L[i] = _mm256_blendv_epi8(L[i], ni, _mm256_castps_si256(upd));
            lx[i] = _mm256_blendv_ps(lx[i], nlx, upd);
            l2[i] = _mm256_blendv_ps(l2[i], nl2, upd);
            sumlx = _mm256_blendv_ps(sumlx, slx, upd);
            suml2 = _mm256_blendv_ps(suml2, sl2, upd);
            last = i, end = 15;
        }
        if (last < 0)
            break;
        end = last;
    }
    for (int i = 0; i < 16; ++i)
        Lt[i] = _mm256_andnot_ps(s->tiny,
                                 _mm256_cvtepi32_ps(_mm256_add_epi32(L[i], _mm256_set1_epi32(4))));
    __m256 r = _mm256_and_ps(_mm256_cmp_ps(suml2, zero, _CMP_GT_OQ), _mm256_div_ps(sumlx, suml2));
    return _mm256_andnot_ps(s->tiny, r);
}

/*
 * Q3_K without an imatrix over nb consecutive blocks. The refinements are serial chains whose
 * branches mispredict (about one test in ten moves a level), and the CPU discards the work it
 * fetched after a mispredicted branch: so the independent work is placed before the chains
 * in program order, where it runs in their shadow. Block b's second refinement comes after the
 * next block's transposes and first passes; its finish comes before the next block's first
 * refinement. The order of the operations within each block is unchanged.
 */
static void q3_k_blocks8(const float *x, uint8_t *y, int64_t nb)
{
    q3_set8 S[2][2];
    int cur = 0;
    int64_t b = 0;
    while (b < nb) {
        if (!block_tame(x + QK_K * b, QK_K)) {
            ref_quant[TC_DTYPE_Q3_K](x + QK_K * b, y + 110 * b, 1, QK_K, NULL);
            b++;
            continue;
        }
        q3_prep8(x + QK_K * b, &S[cur][0]);
        q3_prep8(x + QK_K * b + 128, &S[cur][1]);
        for (int next = 1; next; b++, cur ^= 1) {
            const float *xb = x + QK_K * b;
            __m256 Lt[2][16];
            float scales[16];
            next = b + 1 < nb && block_tame(xb + QK_K, QK_K);
            _mm256_storeu_ps(scales, q3_refine8(&S[cur][0], Lt[0]));
            if (next) {
                q3_prep8(xb + QK_K, &S[cur ^ 1][0]);
                q3_prep8(xb + QK_K + 128, &S[cur ^ 1][1]);
            }
            _mm256_storeu_ps(scales + 8, q3_refine8(&S[cur][1], Lt[1]));
            tc_avx2_q3_k_finish(xb, y + 110 * b, 0, scales, NULL, (const float *)Lt, 8);
        }
    }
}

/* Q3_K with an imatrix: sumx2 the block's sum of squares (sum_x2_seq); the searches also sum
 * the squares of the next block, nx, into *nsumx2 (see LN(qx_side)). */
static void q3_k_block_imat(const float *x, const float *qw, uint8_t *y, float sumx2,
                            const float *nx, float *nsumx2)
{
    __m256 Lt[2][16], xt[2][16], wt[2][16], sc[2];
    float scales[16], sw[16], acc = 0;
    const __m256 s2 = _mm256_set1_ps(2 * sumx2 / QK_K);
    for (int g = 0; g < 2; g++) {
        __m256 qwt[16];
        transpose8(x + 128 * g, 16, 16, xt[g]);
        transpose8(qw + 128 * g, 16, 16, qwt);
        __m256 sw8 = _mm256_setzero_ps();
        for (int i = 0; i < 16; i++) {
            wt[g][i] = _mm256_mul_ps(
                qwt[i], _mm256_sqrt_ps(_mm256_add_ps(s2, _mm256_mul_ps(xt[g][i], xt[g][i]))));
            sw8 = _mm256_add_ps(sw8, wt[g][i]);
        }
        _mm256_storeu_ps(sw + 8 * g, sw8);
    }
    const __m256 *xs[2] = {xt[0], xt[1]}, *ws[2] = {wt[0], wt[1]};
    __m256 *Ls[2] = {Lt[0], Lt[1]};
    qxk_side8(2, 16, 4, xs, ws, Ls, sc, nx, 256, 16, &acc);
    _mm256_storeu_ps(scales, sc[0]);
    _mm256_storeu_ps(scales + 8, sc[1]);
    *nsumx2 = acc;
    tc_avx2_q3_k_finish(x, y, 1, scales, sw, (const float *)Lt, 8);
}

/* ===== IQ4_NL / IQ4_XS (quantize_row_iq4_nl_impl, ntry 7): lane = 32-value sub-block ===== */

/* 32 values at x: indices best_index(id * x) packed as nibbles into q4 (16 bytes). */
static inline void iq4_pack_block(const float *x, float id, uint8_t *q4)
{
    const __m256 idv = _mm256_set1_ps(id);
    __m256i l[4];
    __m256 q;
    for (int k = 0; k < 4; k++)
        l[k] = iq4_best8(_mm256_mul_ps(idv, _mm256_loadu_ps(x + 8 * k)), &q);
    pack_nibbles32(q4, low_bytes_32(l[0], l[1], l[2], l[3]));
}

static void iq4_nl_quant(const float *src, void *dst, int64_t n_rows, int64_t n_per_row,
                         const float *imatrix)
{
    if (imatrix && !imat_tame(imatrix, n_per_row)) {
        ref_quant[TC_DTYPE_IQ4_NL](src, dst, n_rows, n_per_row, imatrix);
        return;
    }
    uint8_t *y = dst;
    const int64_t nb = n_per_row / 32;
    for (int64_t r = 0; r < n_rows; r++, src += n_per_row) {
        for (int64_t ib0 = 0; ib0 < nb; ib0 += 8) {
            const int nl = nb - ib0 < 8 ? (int)(nb - ib0) : 8;
            const float *x = src + 32 * ib0;
            uint8_t *yb = y + 18 * ib0;
            if (!block_tame(x, 32 * nl)) {
                ref_quant[TC_DTYPE_IQ4_NL](x, yb, 1, 32 * nl, imatrix ? imatrix + 32 * ib0 : NULL);
                continue;
            }
            __m256 xt[32], qwt[32], wt[32];
            const float *rx[8], *rw[8];
            for (int b = 0; b < 8; b++) {
                rx[b] = x + 32 * (b < nl ? b : nl - 1);
                rw[b] = imatrix ? imatrix + 32 * (ib0 + (b < nl ? b : nl - 1)) : NULL;
            }
            transpose8_rows(rx, 32, xt);
            if (imatrix)
                transpose8_rows(rw, 32, qwt);
            __m256 s2 = _mm256_setzero_ps();
            for (int i = 0; i < 32; i++)
                s2 = _mm256_add_ps(s2, _mm256_mul_ps(xt[i], xt[i]));
            s2 = _mm256_mul_ps(s2, _mm256_set1_ps(2.f / 32));
            iq4_weights8(xt, imatrix ? qwt : NULL, s2, wt);
            float scales[8];
            _mm256_storeu_ps(scales, iq4_search8(xt, wt));
            for (int b = 0; b < nl; b++) {
                tc_st_u16(yb + 18 * b, tc_f32_to_f16(scales[b]));
                const float id = scales[b] ? 1 / scales[b] : 0;
                iq4_pack_block(x + 32 * b, id, yb + 18 * b + 2);
            }
        }
        y += 18 * nb;
    }
}

static void iq4_xs_quant(const float *src, void *dst, int64_t n_rows, int64_t n_per_row,
                         const float *imatrix)
{
    if (imatrix && !imat_tame(imatrix, n_per_row)) {
        ref_quant[TC_DTYPE_IQ4_XS](src, dst, n_rows, n_per_row, imatrix);
        return;
    }
    uint8_t *y = dst;
    const int64_t nb = n_per_row / 256;
    for (int64_t r = 0; r < n_rows; r++)
        for (int64_t ib = 0; ib < nb; ib++, src += 256, y += 136) {
            const float *x = src, *qw = imatrix ? imatrix + 256 * ib : NULL;
            if (!block_tame(x, 256)) {
                ref_quant[TC_DTYPE_IQ4_XS](x, y, 1, 256, qw);
                continue;
            }
            float sigma2 = 0;
            for (int j = 0; j < 256; ++j)
                sigma2 += x[j] * x[j];
            sigma2 *= 2.f / 256;
            __m256 xt[32], qwt[32], wt[32];
            transpose8(x, 32, 32, xt);
            if (qw)
                transpose8(qw, 32, 32, qwt);
            iq4_weights8(xt, qw ? qwt : NULL, _mm256_set1_ps(sigma2), wt);
            float scales[8];
            _mm256_storeu_ps(scales, iq4_search8(xt, wt));
            float max_scale = 0, amax_scale = 0;
            for (int ib2 = 0; ib2 < 8; ++ib2) {
                const float abs_d = fabsf(scales[ib2]);
                if (abs_d > amax_scale) {
                    amax_scale = abs_d;
                    max_scale = scales[ib2];
                }
            }
            uint16_t sh = 0;
            const float d = -max_scale / 32;
            tc_st_u16(y, tc_f32_to_f16(d));
            const float id = d ? 1 / d : 0.f;
            uint8_t *scales_l = y + 4;
            for (int s = 0; s < 8; ++s) {
                int l = tc_nearest_int(id * scales[s]);
                l = l < -32 ? -32 : l > 31 ? 31 : l;
                const float dl = d * (float)l;
                const float idl = dl ? 1 / dl : 0.f;
                iq4_pack_block(x + 32 * s, idl, y + 8 + 16 * s);
                l += 32;
                const uint8_t l_l = (uint8_t)(l & 0xf), l_h = (uint8_t)(l >> 4);
                if (s % 2 == 0)
                    scales_l[s / 2] = l_l;
                else
                    scales_l[s / 2] |= (uint8_t)(l_l << 4);
                sh |= (uint16_t)(l_h << 2 * s);
            }
            tc_st_u16(y + 2, sh);
        }
}

/* ===== Legacy imatrix paths (quantize_row_q{4,5}_{0,1}_impl): lane = block of a row ===== */

static void legacy_imat_rows(int t, const float *src, uint8_t *y, int64_t n_rows, int64_t npr,
                             const float *imatrix)
{
    if (!imat_tame(imatrix, npr)) {
        ref_quant[t](src, y, n_rows, npr, imatrix);
        return;
    }
    const int asym = t == TC_DTYPE_Q4_1 || t == TC_DTYPE_Q5_1;
    const int five = t == TC_DTYPE_Q5_0 || t == TC_DTYPE_Q5_1;
    const int nmax = asym ? (five ? 31 : 15) : (five ? 16 : 8);
    const int bs = asym ? (five ? 24 : 20) : (five ? 22 : 18);
    const int64_t nb = npr / 32;
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    for (int64_t r = 0; r < n_rows; r++, src += npr, y += nb * bs) {
        if (!block_tame(src, (int)npr)) {
            ref_quant[t](src, y, 1, npr, imatrix);
            continue;
        }
        const __m256 s2 = _mm256_set1_ps(sum_x2_seq(src, (int)npr) / (float)npr);
        for (int64_t ib0 = 0; ib0 < nb; ib0 += 8) {
            const int nl = nb - ib0 < 8 ? (int)(nb - ib0) : 8;
            const float *rx[8], *rw[8];
            for (int b = 0; b < 8; b++) {
                rx[b] = src + 32 * (ib0 + (b < nl ? b : nl - 1));
                rw[b] = imatrix + 32 * (ib0 + (b < nl ? b : nl - 1));
            }
            __m256 xt[32], wt[32], Lt[32], sc8, mn8 = _mm256_setzero_ps();
            transpose8_rows(rx, 32, xt);
            transpose8_rows(rw, 32, wt); /* the imatrix weights, then in place: */
            for (int i = 0; i < 32; i++)
                wt[i] = _mm256_mul_ps(
                    _mm256_sqrt_ps(_mm256_add_ps(s2, _mm256_mul_ps(xt[i], xt[i]))), wt[i]);
            if (asym)
                qkx8(32, nmax, xt, wt, Lt, -0.9f, 0.05f, 36, 0, 1, &sc8, &mn8);
            else
                sc8 = qx8(32, nmax, xt, wt, Lt);
            float sc[8], mn[8], T[32][8];
            _mm256_storeu_ps(sc, sc8);
            _mm256_storeu_ps(mn, mn8);
            for (int i = 0; i < 32; i++)
                _mm256_storeu_ps(T[i], Lt[i]);
            for (int b = 0; b < nl; b++) {
                uint8_t *yb = y + (ib0 + b) * bs, L[32];
                for (int i = 0; i < 32; i++)
                    L[i] = (uint8_t)(int)T[i][b];
                tc_st_u16(yb, tc_f32_to_f16(sc[b]));
                if (asym) {
                    tc_st_u16(yb + 2, tc_f32_to_f16(-mn[b]));
                    yb += 2;
                }
                __m256i Lv = _mm256_loadu_si256((const __m256i *)L);
                if (five) {
                    tc_st_u32(yb + 2, (uint32_t)_mm256_movemask_epi8(_mm256_slli_epi16(Lv, 3)));
                    pack_nibbles32(yb + 6, _mm256_and_si256(Lv, m4));
                } else {
                    pack_nibbles32(yb + 2, Lv);
                }
            }
        }
    }
}

/* Row kernels of the k-quants: ggml indexes the imatrix from the row start, block by block. */

void tc_avx2_k_rows_x2(tc_quant_fn fallback, tc_k_block_x2_fn blk, size_t bs, const float *x,
                       void *dst, int64_t n_rows, int64_t n_per_row, const float *imatrix)
{
    if (!imat_tame(imatrix, n_per_row)) {
        fallback(x, dst, n_rows, n_per_row, imatrix);
        return;
    }
    uint8_t *y = dst;
    const int64_t nb = n_per_row / QK_K, total = n_rows * nb;
    float sumx2 = sum_x2_seq(x, QK_K);
    for (int64_t b = 0; b < total; b++, x += QK_K, y += bs) {
        const float *qw = imatrix + QK_K * (b % nb);
        const float *nx = b + 1 < total ? x + QK_K : x; /* the last block sums itself, unused */
        float next;
        if (block_tame(x, QK_K)) {
            blk(x, qw, y, sumx2, nx, &next);
        } else {
            fallback(x, y, 1, QK_K, qw);
            next = sum_x2_seq(nx, QK_K);
        }
        sumx2 = next;
    }
}

void tc_avx2_k_rows(tc_quant_fn fallback, tc_k_block_fn blk, size_t bs, const float *x, void *dst,
                    int64_t n_rows, int64_t n_per_row, const float *imatrix)
{
    if (imatrix && !imat_tame(imatrix, n_per_row)) {
        fallback(x, dst, n_rows, n_per_row, imatrix);
        return;
    }
    uint8_t *y = dst;
    const int64_t nb = n_per_row / QK_K;
    for (int64_t r = 0; r < n_rows; r++)
        for (int64_t i = 0; i < nb; i++, x += QK_K, y += bs) {
            const float *qw = imatrix ? imatrix + QK_K * i : NULL;
            if (block_tame(x, QK_K))
                blk(x, qw, y);
            else
                fallback(x, y, 1, QK_K, qw);
        }
}

static void q4_k_blk(const float *x, const float *qw, uint8_t *y)
{
    if (qw)
        q45_k_block_imat(x, qw, y, 15, 0);
    else
        q45_k_block(x, y, 15, -1.f, 20);
}

static void q5_k_blk(const float *x, const float *qw, uint8_t *y)
{
    if (qw)
        q45_k_block_imat(x, qw, y, 31, 1);
    else
        q45_k_block(x, y, 31, -0.5f, 15);
}

#define K_QUANT(name, T, blk, bs)                                                                  \
    static void name(const float *x, void *dst, int64_t n_rows, int64_t n_per_row,                 \
                     const float *imatrix)                                                         \
    {                                                                                              \
        tc_avx2_k_rows(ref_quant[TC_DTYPE_##T], blk, bs, x, dst, n_rows, n_per_row, imatrix);      \
    }
K_QUANT(q2_k_quant, Q2_K, q2_k_block, 84)

static void q3_k_quant(const float *x, void *dst, int64_t n_rows, int64_t n_per_row,
                       const float *imatrix)
{
    if (imatrix)
        tc_avx2_k_rows_x2(ref_quant[TC_DTYPE_Q3_K], q3_k_block_imat, 110, x, dst, n_rows, n_per_row,
                          imatrix);
    else
        q3_k_blocks8(x, dst, n_rows * (n_per_row / QK_K));
}
K_QUANT(q4_k_quant, Q4_K, q4_k_blk, 144)
K_QUANT(q5_k_quant, Q5_K, q5_k_blk, 176)

/* ===== Registration ===== */

void tc_avx2_register(tc_kernel_table *k)
{
    for (int t = 0; t < TC_DTYPE_GGML_COUNT; t++)
        if (ref_quant[t] == NULL)
            ref_quant[t] = k->quantize[t];
    for (int q = 0; q < 256; q++)
        tq1_div[q] = (uint8_t)(((uint16_t)q * 256 + 242) / 243);
    k->dequantize[TC_DTYPE_Q4_0] = q4_0_dequant;
    k->dequantize[TC_DTYPE_Q4_1] = q4_1_dequant;
    k->dequantize[TC_DTYPE_Q5_0] = q5_0_dequant;
    k->dequantize[TC_DTYPE_Q5_1] = q5_1_dequant;
    k->dequantize[TC_DTYPE_Q8_0] = q8_0_dequant;
    k->dequantize[TC_DTYPE_IQ4_NL] = iq4_nl_dequant;
    k->dequantize[TC_DTYPE_IQ4_XS] = iq4_xs_dequant;
    k->dequantize[TC_DTYPE_MXFP4] = mxfp4_dequant;
    k->dequantize[TC_DTYPE_TQ2_0] = tq2_0_dequant;
    k->dequantize[TC_DTYPE_Q2_K] = q2_k_dequant;
    k->dequantize[TC_DTYPE_Q3_K] = q3_k_dequant;
    k->dequantize[TC_DTYPE_Q4_K] = q4_k_dequant;
    k->dequantize[TC_DTYPE_Q5_K] = q5_k_dequant;
    k->dequantize[TC_DTYPE_Q6_K] = q6_k_dequant;
    k->quantize[TC_DTYPE_Q8_0] = q8_0_quant;
    k->quantize[TC_DTYPE_Q4_0] = q4_0_quant;
    k->quantize[TC_DTYPE_Q4_1] = q4_1_quant;
    k->quantize[TC_DTYPE_Q5_0] = q5_0_quant;
    k->quantize[TC_DTYPE_Q5_1] = q5_1_quant;
    k->quantize[TC_DTYPE_Q2_K] = q2_k_quant;
    k->quantize[TC_DTYPE_TQ1_0] = tq1_0_quant;
    k->quantize[TC_DTYPE_TQ2_0] = tq2_0_quant;
    k->quantize[TC_DTYPE_MXFP4] = mxfp4_quant;
    k->quantize[TC_DTYPE_Q3_K] = q3_k_quant;
    k->quantize[TC_DTYPE_Q4_K] = q4_k_quant;
    k->quantize[TC_DTYPE_Q5_K] = q5_k_quant;
    k->quantize[TC_DTYPE_Q6_K] = q6_k_quant;
    k->quantize[TC_DTYPE_IQ4_NL] = iq4_nl_quant;
    k->quantize[TC_DTYPE_IQ4_XS] = iq4_xs_quant;
}

#else

void tc_avx2_register(tc_kernel_table *k)
{
    (void)k;
}

#endif
