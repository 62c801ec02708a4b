/*
 * grid_x86.h - private to quant/: small AVX2 helpers every grid quantizer's lane template uses
 * (iq1q_lanes.h, iq2q_lanes.h, iq2s_lanes.h, iq3q_lanes.h), included by grid_ops_avx2.h and
 * grid_ops_avx512.h. Only for files compiled with -mavx2 (the AVX-512 ones are too).
 */
#ifndef TC_GRID_X86_H
#define TC_GRID_X86_H

#include <immintrin.h>
#include <stdint.h>

/* tc_left_pack[m]: the lanes of the set bits of the byte m, in order, one byte each (then
 * zeros): the permutation that moves the lanes a mask selects to the front (grid_x86.c) */
extern const uint64_t tc_left_pack[256];

/* the lanes of v at the set bits of `bits` (< 256) to p, in order; 8 values are written */
static inline void tc_compress_store8(int32_t *p, __m256i v, unsigned bits)
{
    const __m256i idx = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)&tc_left_pack[bits]));
    _mm256_storeu_si256((__m256i *)p, _mm256_permutevar8x32_epi32(v, idx));
}

/* n values (a multiple of 8) all finite: no Inf, no NaN. Blocks that are not go to the
 * reference, whose NaN handling the lanes do not copy. */
static inline int tc_all_finite(const float *x, int n)
{
    const __m256i e = _mm256_set1_epi32(0x7f800000);
    __m256i bad = _mm256_setzero_si256();
    for (int i = 0; i < n; i += 8) {
        __m256i b = _mm256_and_si256(_mm256_loadu_si256((const __m256i *)(x + i)), e);
        bad = _mm256_or_si256(bad, _mm256_cmpeq_epi32(b, e));
    }
    return _mm256_testz_si256(bad, bad);
}

/* the smallest of 8 int32 lanes */
static inline int tc_hmin8i(__m256i v)
{
    __m128i m = _mm_min_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    m = _mm_min_epi32(m, _mm_shuffle_epi32(m, _MM_SHUFFLE(1, 0, 3, 2)));
    m = _mm_min_epi32(m, _mm_shuffle_epi32(m, _MM_SHUFFLE(2, 3, 0, 1)));
    return _mm_cvtsi128_si32(m);
}

#endif /* TC_GRID_X86_H */
