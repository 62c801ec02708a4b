/*
 * avx512_iq2s.c - AVX-512 quantizer for IQ2_S, bit-identical to ref_iq3_quant.c (and so to
 * ggml's quantize_iq2_s): iq2s_lanes.h with 16 lanes (all 16 sub-blocks of a block at once, or 16
 * candidates of a neighbour list), which explains why every float is the reference's. No FMA:
 * the reference has no fused multiply-add.
 */
#include "iq2s.h"

#if defined(__x86_64__) && defined(__GNUC__)

#include "grid_ops_avx512.h"

#define I_HMIN(v)      _mm512_reduce_min_epi32(v)
#define M_ICMPGT       _mm512_cmpgt_epi32_mask
#define M_ICMPEQ       _mm512_cmpeq_epi32_mask
#define M_AND(a, b)    ((__mmask16)((a) & (b)))
#define I_GATHER(b, i) _mm512_i32gather_epi32(i, (const void *)(b), 4)
#define F_GATHER(b, i) _mm512_i32gather_ps(i, (const void *)(b), 4)
#define F_LOAD8(p)     _mm512_castps256_ps512(_mm256_loadu_ps(p))
#define I_COMPRESS_STORE(p, v, bits)                                                               \
    _mm512_storeu_si512((void *)(p), _mm512_maskz_compress_epi32((__mmask16)(bits), v))

#include "iq2s_lanes.h"

static void tc_iq2_s_quant_avx512(const float *src, void *dst, int64_t n_rows, int64_t n_per_row,
                                  const float *imatrix)
{
    iq2s_rows(src, dst, n_rows, n_per_row, imatrix);
}

void tc_avx512_register_iq2s(tc_kernel_table *k)
{
    k->quantize[TC_DTYPE_IQ2_S] = tc_iq2_s_quant_avx512;
}

#else

void tc_avx512_register_iq2s(tc_kernel_table *k)
{
    (void)k;
}

#endif
