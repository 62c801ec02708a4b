/*
 * cast.c - conversions between f32 and the plain (non-block) element types.
 * Float targets round to nearest even with NaN and infinities kept (fp16.h).
 */
#include "fp16.h"
#include "quant.h"

#include <math.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define TC_HAVE_F16C_PATH 1

/* f32 -> f16 with F16C, 8 at a time, rounding to nearest even: for finite values and +-Inf the
 * bits of tc_f32_to_f16 (overflow to Inf, f16 subnormals produced whatever MXCSR.FTZ says);
 * groups holding a NaN go to the scalar routine, whose NaN payloads F16C does not reproduce.
 * Only called when the CPU has AVX2 and F16C (tc_isa_active() >= TC_ISA_AVX2). */
__attribute__((target("avx,f16c"))) static void f32_to_f16_f16c(const float *src, uint8_t *d,
                                                                int64_t n)
{
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(src + i);
        __m256 nan = _mm256_cmp_ps(v, v, _CMP_UNORD_Q);
        if (_mm256_movemask_ps(nan) != 0) {
            for (int k = 0; k < 8; k++) {
                uint16_t h = tc_f32_to_f16(src[i + k]);
                memcpy(d + 2 * (i + k), &h, 2);
            }
            continue;
        }
        _mm_storeu_si128((__m128i *)(void *)(d + 2 * i),
                         _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT));
    }
    for (; i < n; i++) {
        uint16_t h = tc_f32_to_f16(src[i]);
        memcpy(d + 2 * i, &h, 2);
    }
}

/* f16 -> f32 with F16C, 8 at a time: exact for every finite value, subnormals and +-Inf alike
 * (VCVTPH2PS ignores MXCSR.DAZ for its f16 input); groups holding a NaN go to the scalar routine,
 * which keeps a signalling NaN's payload where the instruction would quiet it. */
__attribute__((target("avx,f16c"))) static void f16_to_f32_f16c(const uint8_t *s, float *dst,
                                                                int64_t n)
{
    int64_t i = 0;
    const __m128i expo = _mm_set1_epi16(0x7c00), mant = _mm_set1_epi16(0x03ff);
    for (; i + 8 <= n; i += 8) {
        __m128i h = _mm_loadu_si128((const __m128i *)(const void *)(s + 2 * i));
        __m128i is_nan = _mm_and_si128(
            _mm_cmpeq_epi16(_mm_and_si128(h, expo), expo),
            _mm_xor_si128(_mm_cmpeq_epi16(_mm_and_si128(h, mant), _mm_setzero_si128()),
                          _mm_set1_epi16(-1)));
        if (_mm_movemask_epi8(is_nan) != 0) {
            for (int k = 0; k < 8; k++) {
                uint16_t v;
                memcpy(&v, s + 2 * (i + k), 2);
                dst[i + k] = tc_f16_to_f32(v);
            }
            continue;
        }
        _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(h));
    }
    for (; i < n; i++) {
        uint16_t v;
        memcpy(&v, s + 2 * i, 2);
        dst[i] = tc_f16_to_f32(v);
    }
}
#endif

/* float8 e4m3fn (PyTorch float8_e4m3fn): bias 7, no infinities, S.1111.111 is NaN. */
static float f8_e4m3_to_f32(uint8_t b)
{
    uint32_t sign = b >> 7, e = (b >> 3) & 15, m = b & 7;
    float v;
    if (e == 15 && m == 7)
        return sign ? -NAN : NAN;
    if (e == 0)
        v = (float)m * 0.001953125f; /* m * 2^-9 */
    else
        v = tc_bits_f32(((e + 120) << 23) | (m << 20));
    return sign ? -v : v;
}

/* float8 e5m2: the upper byte of an IEEE half. */
static float f8_e5m2_to_f32(uint8_t b)
{
    return tc_f16_to_f32((uint16_t)(b << 8));
}

int tc_cast_to_f32(tc_dtype t, const void *src, float *dst, int64_t n)
{
    return tc_cast_to_f32_isa(TC_ISA_SCALAR, t, src, dst, n);
}

int tc_cast_to_f32_isa(tc_isa isa, tc_dtype t, const void *src, float *dst, int64_t n)
{
    const uint8_t *s = src;
    int64_t i;
#ifdef TC_HAVE_F16C_PATH
    if (t == TC_DTYPE_F16 && (isa == TC_ISA_AVX2 || isa == TC_ISA_AVX512) &&
        tc_isa_supported(TC_ISA_AVX2)) {
        f16_to_f32_f16c(s, dst, n);
        return 0;
    }
#else
    (void)isa;
#endif
    switch (t) {
    case TC_DTYPE_F32:
        memcpy(dst, src, (size_t)n * 4);
        return 0;
    case TC_DTYPE_F16:
        for (i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, s + 2 * i, 2);
            dst[i] = tc_f16_to_f32(h);
        }
        return 0;
    case TC_DTYPE_BF16:
        for (i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, s + 2 * i, 2);
            dst[i] = tc_bf16_to_f32(h);
        }
        return 0;
    case TC_DTYPE_F64:
        for (i = 0; i < n; i++) {
            double d;
            memcpy(&d, s + 8 * i, 8);
            dst[i] = (float)d;
        }
        return 0;
#define INT_CASE(TT, CT)                                                                           \
    case TT:                                                                                       \
        for (i = 0; i < n; i++) {                                                                  \
            CT v;                                                                                  \
            memcpy(&v, s + sizeof(CT) * i, sizeof(CT));                                            \
            dst[i] = (float)v;                                                                     \
        }                                                                                          \
        return 0;
        INT_CASE(TC_DTYPE_I8, int8_t)
        INT_CASE(TC_DTYPE_I16, int16_t)
        INT_CASE(TC_DTYPE_I32, int32_t)
        INT_CASE(TC_DTYPE_I64, int64_t)
        INT_CASE(TC_DTYPE_U8, uint8_t)
        INT_CASE(TC_DTYPE_U16, uint16_t)
        INT_CASE(TC_DTYPE_U32, uint32_t)
        INT_CASE(TC_DTYPE_U64, uint64_t)
#undef INT_CASE
    case TC_DTYPE_BOOL:
        for (i = 0; i < n; i++)
            dst[i] = s[i] ? 1.0f : 0.0f;
        return 0;
    case TC_DTYPE_F8_E4M3:
        for (i = 0; i < n; i++)
            dst[i] = f8_e4m3_to_f32(s[i]);
        return 0;
    case TC_DTYPE_F8_E5M2:
        for (i = 0; i < n; i++)
            dst[i] = f8_e5m2_to_f32(s[i]);
        return 0;
    default:
        return -1;
    }
}

int tc_cast_from_f32(tc_dtype t, const float *src, void *dst, int64_t n)
{
    return tc_cast_from_f32_isa(tc_isa_active(), t, src, dst, n);
}

int tc_cast_from_f32_isa(tc_isa isa, tc_dtype t, const float *src, void *dst, int64_t n)
{
    uint8_t *d = dst;
    int64_t i;
#ifdef TC_HAVE_F16C_PATH
    if (t == TC_DTYPE_F16 && (isa == TC_ISA_AVX2 || isa == TC_ISA_AVX512) &&
        tc_isa_supported(TC_ISA_AVX2)) {
        f32_to_f16_f16c(src, d, n);
        return 0;
    }
#else
    (void)isa;
#endif
    switch (t) {
    case TC_DTYPE_F32:
        memcpy(dst, src, (size_t)n * 4);
        return 0;
    case TC_DTYPE_F16:
        for (i = 0; i < n; i++) {
            uint16_t h = tc_f32_to_f16(src[i]);
            memcpy(d + 2 * i, &h, 2);
        }
        return 0;
    case TC_DTYPE_BF16:
        for (i = 0; i < n; i++) {
            uint16_t h = tc_f32_to_bf16(src[i]);
            memcpy(d + 2 * i, &h, 2);
        }
        return 0;
    case TC_DTYPE_F64:
        for (i = 0; i < n; i++) {
            double v = src[i];
            memcpy(d + 8 * i, &v, 8);
        }
        return 0;
    default:
        return -1;
    }
}
