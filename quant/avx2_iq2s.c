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

/* left_pack[m]: the lanes of the set bits of m, in order, one byte each (then zeros); filled by
 * the register function, which the dispatcher runs once before any kernel. */
static uint64_t left_pack[256];

static void left_pack_fill(void)
{
    for (unsigned m = 0; m < 256; m++) {
        uint64_t v = 0;
        int at = 0;
        for (unsigned l = 0; l < 8; l++)
            if (m >> l & 1)
                v |= (uint64_t)l << 8 * at++;
        left_pack[m] = v;
    }
}

/* the lanes of v at the set bits of `bits` to p, in order (8 values written) */
static inline void compress_store8(int32_t *p, __m256i v, unsigned bits)
{
    const __m256i idx = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)&left_pack[bits]));
    _mm256_storeu_si256((__m256i *)p, _mm256_permutevar8x32_epi32(v, idx));
}

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
#define I_HMIN           tc_hmin8i
#define I_COMPRESS_STORE compress_store8
#define I_GATHER(b, i)   _mm256_i32gather_epi32((const int *)(b), i, 4)
#define F_LOAD8          _mm256_loadu_ps
#define M_ICMPGT(a, b)   _mm256_castsi256_ps(_mm256_cmpgt_epi32(a, b))
#define M_AND            _mm256_and_ps

#include "iq2s_lanes.h"

static void tc_iq2_s_quant_avx2(const float *src, void *dst, int64_t n_rows, int64_t n_per_row,
                                const float *imatrix)
{
    iq2s_rows(src, dst, n_rows, n_per_row, imatrix);
}

void tc_avx2_register_iq2s(tc_kernel_table *k)
{
    left_pack_fill();
    k->quantize[TC_DTYPE_IQ2_S] = tc_iq2_s_quant_avx2;
}

#else

void tc_avx2_register_iq2s(tc_kernel_table *k)
{
    (void)k;
}

#endif
