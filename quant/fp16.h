/*
 * fp16.h - scalar IEEE half and bfloat16 conversions, bit-exact with ggml's reference
 * (GGML_FP32_TO_FP16 rounds to nearest even and turns NaN into 0x7E00 with the sign kept;
 * GGML_FP32_TO_BF16 rounds to nearest even and quiets NaN by OR-ing 0x40 into the top half).
 * static inline on purpose: an ISA file including this must not export a copy (STYLE §8).
 */
#ifndef TC_FP16_H
#define TC_FP16_H

#include <stdint.h>
#include <string.h>

static inline uint32_t tc_f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static inline float tc_bits_f32(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static inline uint16_t tc_f32_to_f16(float f)
{
    uint32_t x = tc_f32_bits(f);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
    uint32_t a = x & 0x7fffffffu;
    if (a > 0x7f800000u) /* NaN */
        return sign | 0x7e00;
    if (a >= 0x477ff000u) /* >= 65520 rounds to infinity */
        return sign | 0x7c00;
    if (a >= 0x38800000u) { /* normal half: rebias the exponent, round off 13 bits */
        uint32_t r = a - 0x38000000u;
        r += 0x0fffu + ((r >> 13) & 1u);
        return sign | (uint16_t)(r >> 13);
    }
    if (a < 0x33000000u) /* below 2^-25, or exactly it (a tie that goes to even zero) */
        return sign;
    uint32_t e = a >> 23, m = (a & 0x7fffffu) | 0x800000u, shift = 126 - e;
    uint32_t q = m >> shift, rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
    if (rem > half || (rem == half && (q & 1u)))
        q++;
    return sign | (uint16_t)q;
}

static inline float tc_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t e = (h >> 10) & 0x1f, m = h & 0x3ff;
    if (e == 0x1f)
        return tc_bits_f32(sign | 0x7f800000u | (m << 13));
    if (e != 0)
        return tc_bits_f32(sign | ((e + 112) << 23) | (m << 13));
    if (m == 0)
        return tc_bits_f32(sign);
    /* subnormal: m * 2^-24, exact in float */
    float v = (float)m * 5.9604644775390625e-08f;
    return sign ? -v : v;
}

static inline uint16_t tc_f32_to_bf16(float f)
{
    uint32_t u = tc_f32_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u)
        return (uint16_t)((u >> 16) | 64);
    return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

static inline float tc_bf16_to_f32(uint16_t b)
{
    return tc_bits_f32((uint32_t)b << 16);
}

#endif /* TC_FP16_H */
