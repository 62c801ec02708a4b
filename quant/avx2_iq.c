/*
 * avx2_iq.c - AVX2 dequantizers for ggml's grid types, bit-identical to ref_iq.c (and so to
 * ggml's dequantize_row_<type>).
 *
 * The arithmetic is the reference's, 8 lanes at a time: the per-sub-block factors (d * ...) are
 * computed with the same scalar float expressions, each element is one multiply
 * db * (float)grid_byte (IQ2/IQ3) or dl * ((float)grid_int8 + delta) (IQ1), and a negative sign
 * is a flip of the sign bit (XOR), which is what the reference's negation does. No FMA: there
 * is no multiply-add in the reference to fuse.
 *
 * Only quant/avx2.c is compiled with -mavx2, so every function here carries its own target
 * attribute; helpers are static so no AVX2 code can be picked for a scalar caller.
 */
#include "blocks.h"
#include "avx2_iq.h"

#if defined(__x86_64__) && defined(__GNUC__)

#include "fp16.h"
#include "iq_tables.h"

#include <immintrin.h>
#include <stdint.h>

#define TC_AVX2 __attribute__((target("avx2,fma,f16c")))

/* IQ1 delta by its sign bit (a lookup: the bit is random in real data) */
static const float iq1_delta[2] = {TC_IQ1_DELTA, -TC_IQ1_DELTA};

/* Sign-bit mask of 8 lanes: lane j = 0x80000000 when bit j of `s` is set. */
TC_AVX2 static inline __m256 sign_lanes(unsigned s)
{
    const __m256i shift = _mm256_setr_epi32(31, 30, 29, 28, 27, 26, 25, 24);
    __m256i m = _mm256_sllv_epi32(_mm256_set1_epi32((int)s), shift);
    return _mm256_castsi256_ps(_mm256_and_si256(m, _mm256_set1_epi32(INT32_MIN)));
}

/* y[0..7] = ±(db * u8 byte j of g), negated where bit j of `s` is set. */
TC_AVX2 static inline void put8(float *y, __m256 db, uint64_t g, unsigned s)
{
    __m256 v = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_cvtsi64_si128((long long)g)));
    v = _mm256_mul_ps(db, v);
    _mm256_storeu_ps(y, _mm256_xor_ps(v, sign_lanes(s)));
}

/* y[0..7] = dl * (i8 byte j of g + delta). */
TC_AVX2 static inline void put8_iq1(float *y, __m256 dl, uint64_t g, __m256 delta)
{
    __m256 v = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_cvtsi64_si128((long long)g)));
    _mm256_storeu_ps(y, _mm256_mul_ps(dl, _mm256_add_ps(v, delta)));
}

/* Two 4-element IQ3 grid entries as one 8-element group. */
static inline uint64_t pair(uint32_t lo, uint32_t hi)
{
    return (uint64_t)lo | (uint64_t)hi << 32;
}

TC_AVX2 static void tc_iq2_xxs_dequant_avx2(const void *src, float *y, int64_t n)
{
    const uint8_t *b = src;
    for (int64_t i = 0; i < n / QK_K; i++, b += 66) {
        const float d = tc_f16_to_f32(tc_ld_u16(b));
        for (int ib = 0; ib < 8; ib++) {
            const uint8_t *q = b + 2 + 8 * ib;
            const uint32_t aux = tc_ld_u32(q + 4);
            const __m256 db = _mm256_set1_ps(d * (0.5f + (float)(aux >> 28)) * 0.25f);
            for (int l = 0; l < 4; l++, y += 8)
                put8(y, db, tc_iq2xxs_grid[q[l]], tc_iq2_ksigns[(aux >> 7 * l) & 127]);
        }
    }
}

TC_AVX2 static void tc_iq2_xs_dequant_avx2(const void *src, float *y, int64_t n)
{
    const uint8_t *b = src;
    for (int64_t i = 0; i < n / QK_K; i++, b += 74) {
        const float d = tc_f16_to_f32(tc_ld_u16(b));
        const uint8_t *sc = b + 66;
        for (int ib = 0; ib < 8; ib++) {
            const __m256 db[2] = {_mm256_set1_ps(d * (0.5f + (float)(sc[ib] & 0xf)) * 0.25f),
                                  _mm256_set1_ps(d * (0.5f + (float)(sc[ib] >> 4)) * 0.25f)};
            for (int l = 0; l < 4; l++, y += 8) {
                const uint16_t q = tc_ld_u16(b + 2 + 2 * (4 * ib + l));
                put8(y, db[l / 2], tc_iq2xs_grid[q & 511], tc_iq2_ksigns[q >> 9]);
            }
        }
    }
}

TC_AVX2 static void tc_iq2_s_dequant_avx2(const void *src, float *y, int64_t n)
{
    const uint8_t *b = src;
    for (int64_t i = 0; i < n / QK_K; i++, b += 82) {
        const float d = tc_f16_to_f32(tc_ld_u16(b));
        const uint8_t *qs = b + 2, *signs = b + 34, *qh = b + 66, *sc = b + 74;
        for (int ib = 0; ib < 8; ib++) {
            const __m256 db[2] = {_mm256_set1_ps(d * (0.5f + (float)(sc[ib] & 0xf)) * 0.25f),
                                  _mm256_set1_ps(d * (0.5f + (float)(sc[ib] >> 4)) * 0.25f)};
            for (int l = 0; l < 4; l++, y += 8) {
                const unsigned idx = qs[4 * ib + l] | ((unsigned)qh[ib] << (8 - 2 * l) & 0x300);
                put8(y, db[l / 2], tc_iq2s_grid[idx], signs[4 * ib + l]);
            }
        }
    }
}

TC_AVX2 static void tc_iq3_xxs_dequant_avx2(const void *src, float *y, int64_t n)
{
    const uint8_t *b = src;
    for (int64_t i = 0; i < n / QK_K; i++, b += 98) {
        const float d = tc_f16_to_f32(tc_ld_u16(b));
        for (int ib = 0; ib < 8; ib++) {
            const uint8_t *qs = b + 2 + 8 * ib;
            const uint32_t aux = tc_ld_u32(b + 66 + 4 * ib);
            const __m256 db = _mm256_set1_ps(d * (0.5f + (float)(aux >> 28)) * 0.5f);
            for (int l = 0; l < 4; l++, y += 8)
                put8(y, db, pair(tc_iq3xxs_grid[qs[2 * l]], tc_iq3xxs_grid[qs[2 * l + 1]]),
                     tc_iq2_ksigns[(aux >> 7 * l) & 127]);
        }
    }
}

TC_AVX2 static void tc_iq3_s_dequant_avx2(const void *src, float *y, int64_t n)
{
    const uint8_t *b = src;
    for (int64_t i = 0; i < n / QK_K; i++, b += 110) {
        const float d = tc_f16_to_f32(tc_ld_u16(b));
        const uint8_t *qs = b + 2, *qh = b + 66, *signs = b + 74, *sc = b + 106;
        for (int ib = 0; ib < 8; ib++) {
            const int s = ib & 1 ? sc[ib / 2] >> 4 : sc[ib / 2] & 0xf;
            const __m256 db = _mm256_set1_ps(d * (float)(1 + 2 * s));
            const unsigned h = qh[ib];
            for (int l = 0; l < 4; l++, y += 8) {
                const unsigned i1 = qs[8 * ib + 2 * l] | (h << (8 - 2 * l) & 256);
                const unsigned i2 = qs[8 * ib + 2 * l + 1] | (h << (7 - 2 * l) & 256);
                put8(y, db, pair(tc_iq3s_grid[i1], tc_iq3s_grid[i2]), signs[4 * ib + l]);
            }
        }
    }
}

TC_AVX2 static void tc_iq1_s_dequant_avx2(const void *src, float *y, int64_t n)
{
    const uint8_t *b = src;
    for (int64_t i = 0; i < n / QK_K; i++, b += 50) {
        const float d = tc_f16_to_f32(tc_ld_u16(b));
        for (int ib = 0; ib < 8; ib++) {
            const unsigned qh = tc_ld_u16(b + 34 + 2 * ib);
            const __m256 dl = _mm256_set1_ps(d * (float)(2 * ((qh >> 12) & 7) + 1));
            const __m256 delta = _mm256_set1_ps(iq1_delta[qh >> 15]);
            for (int l = 0; l < 4; l++, y += 8) {
                const unsigned idx = b[2 + 4 * ib + l] | ((qh >> 3 * l) & 7) << 8;
                put8_iq1(y, dl, tc_iq1s_grid[idx], delta);
            }
        }
    }
}

TC_AVX2 static void tc_iq1_m_dequant_avx2(const void *src, float *y, int64_t n)
{
    const uint8_t *b = src;
    for (int64_t i = 0; i < n / QK_K; i++, b += 56) {
        const uint8_t *qs = b, *qh = b + 32;
        uint16_t sc[4];
        for (int k = 0; k < 4; k++)
            sc[k] = tc_ld_u16(b + 48 + 2 * k);
        const uint16_t h = (uint16_t)((sc[0] >> 12) | ((sc[1] >> 8) & 0x00f0) |
                                      ((sc[2] >> 4) & 0x0f00) | (sc[3] & 0xf000));
        const float d = tc_f16_to_f32(h);
        for (int ib = 0; ib < 8; ib++, qs += 4, qh += 2) {
            const int shift = 6 * (ib % 2);
            const __m256 dl[2] = {
                _mm256_set1_ps(d * (float)(2 * ((sc[ib / 2] >> shift) & 7) + 1)),
                _mm256_set1_ps(d * (float)(2 * ((sc[ib / 2] >> (shift + 3)) & 7) + 1))};
            for (int l = 0; l < 4; l++, y += 8) {
                const unsigned nib = (l & 1 ? qh[l / 2] >> 4 : qh[l / 2]) & 0xf;
                const unsigned idx = qs[l] | (nib & 7) << 8;
                const __m256 delta = _mm256_set1_ps(iq1_delta[nib >> 3]);
                put8_iq1(y, dl[l / 2], tc_iq1s_grid[idx], delta);
            }
        }
    }
}

void tc_avx2_register_iq(tc_kernel_table *k)
{
    k->dequantize[TC_DTYPE_IQ2_XXS] = tc_iq2_xxs_dequant_avx2;
    k->dequantize[TC_DTYPE_IQ2_XS] = tc_iq2_xs_dequant_avx2;
    k->dequantize[TC_DTYPE_IQ2_S] = tc_iq2_s_dequant_avx2;
    k->dequantize[TC_DTYPE_IQ3_XXS] = tc_iq3_xxs_dequant_avx2;
    k->dequantize[TC_DTYPE_IQ3_S] = tc_iq3_s_dequant_avx2;
    k->dequantize[TC_DTYPE_IQ1_S] = tc_iq1_s_dequant_avx2;
    k->dequantize[TC_DTYPE_IQ1_M] = tc_iq1_m_dequant_avx2;
}

#else

void tc_avx2_register_iq(tc_kernel_table *k)
{
    (void)k;
}

#endif
