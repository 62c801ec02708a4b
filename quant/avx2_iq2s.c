/*
 * avx2_iq2s.c - AVX2 quantizer for IQ2_S, bit-identical to ref_iq3_quant.c (and so to ggml's
 * quantize_iq2_s): iq2s_lanes.h with 8 lanes (8 sub-blocks at once, or 8 candidates of a
 * neighbour list), which explains why every float is the reference's. No FMA: the reference has
 * no fused multiply-add.
 */
#include "iq2s.h"

#if defined(__x86_64__) && defined(__GNUC__)

#include "grid_ops_avx2.h"
#include "tr8x8.h"

/* 8 x 8 transpose of rows p[stride * r + 0..7] into out[c] (lane r) */
static inline void transpose8(const float *p, int stride, __m256 *out)
{
    __m256 r[8];
    for (int k = 0; k < 8; k++)
        r[k] = _mm256_loadu_ps(p + stride * k);
    tc_tr8x8(r, out);
}

/* out[i] lane b = p[16 * b + i], b < 8 */
static inline void transpose16(const float *p, __m256 *out)
{
    transpose8(p, 16, out);
    transpose8(p + 8, 16, out + 8);
}

/* the lanes below k, as a mask vector */
static inline __m256i first_lanes(int k)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(k), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

#define W_LOAD(p, k) _mm256_maskload_epi32((const int *)(p), first_lanes(k))
#define W_MIN_FMAX(d, k, fmax)                                                                     \
    _mm256_blendv_ps(fmax, _mm256_min_ps(d, fmax), _mm256_castsi256_ps(first_lanes(k)))
#define TRANSPOSE16 transpose16
#define F_SQRT      _mm256_sqrt_ps
#define F_NEG(v)    _mm256_xor_ps(v, _mm256_set1_ps(-0.0f))
#define I_MASK_ADD(v, m, k)                                                                        \
    _mm256_add_epi32(v, _mm256_and_si256(_mm256_castps_si256(m), _mm256_set1_epi32(k)))
#define F_LOAD8 _mm256_loadu_ps

#include "iq2s_lanes.h"

void tc_avx2_register_iq2s(tc_kernel_table *k)
{
    k->quantize[TC_DTYPE_IQ2_S] = iq2s_rows;
}

#else

void tc_avx2_register_iq2s(tc_kernel_table *k)
{
    (void)k;
}

#endif
