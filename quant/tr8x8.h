/*
 * tr8x8.h - private to quant/: an 8 x 8 float transpose in AVX registers, for the lane kernels
 * that put sub-block j in lane j (avx2.c, avx512.c). Pure data movement: bit-exact.
 * Include only from files compiled with -mavx2.
 */
#ifndef TC_TR8X8_H
#define TC_TR8X8_H

#include <immintrin.h>

/* out[k] lane j = r[j] element k: an 8 x 8 transpose in registers */
static inline void tc_tr8x8(const __m256 *r, __m256 *out)
{
    __m256 t[8], u[8];
    for (int k = 0; k < 8; k += 2) {
        t[k] = _mm256_unpacklo_ps(r[k], r[k + 1]); /* r_k0 r_k+1,0 r_k1 r_k+1,1 | ...4, 5 */
        t[k + 1] = _mm256_unpackhi_ps(r[k], r[k + 1]);
    }
    for (int h = 0; h < 8; h += 4) { /* rows h..h+3: u[h + c] holds columns c and c + 4 */
        u[h + 0] = _mm256_shuffle_ps(t[h + 0], t[h + 2], 0x44);
        u[h + 1] = _mm256_shuffle_ps(t[h + 0], t[h + 2], 0xee);
        u[h + 2] = _mm256_shuffle_ps(t[h + 1], t[h + 3], 0x44);
        u[h + 3] = _mm256_shuffle_ps(t[h + 1], t[h + 3], 0xee);
    }
    for (int c = 0; c < 4; c++) {
        out[c] = _mm256_permute2f128_ps(u[c], u[4 + c], 0x20);
        out[c + 4] = _mm256_permute2f128_ps(u[c], u[4 + c], 0x31);
    }
}

#endif /* TC_TR8X8_H */
