/*
 * avx512_iq3q.c - AVX-512 quantizers for IQ3_XXS and IQ3_S, bit-identical to ref_iq3_quant.c
 * (and so to ggml's quantize_iq3_xxs / quantize_iq3_s): iq3q_lanes.h with 16 lanes (16 trial
 * scales, or 16 candidates of a neighbour list, at once), which explains why every float is the
 * reference's. Every lane runs the reference's operations in its order on its own trial or
 * candidate; no FMA (the reference has no fused multiply-add), no reassociated sum. The 8-entry
 * level tables are repeated in both halves, so a permute reading 4 index bits reads the 3 the
 * reference's level has.
 */
#include "iq3q.h"

#if defined(__x86_64__) && defined(__GNUC__)

#include "grid_ops_avx512.h"

#define I_HMIN(v)      _mm512_reduce_min_epi32(v)
#define M_ICMPGT       _mm512_cmpgt_epi32_mask
#define M_ICMPEQ       _mm512_cmpeq_epi32_mask
#define I_GATHER(b, i) _mm512_i32gather_epi32(i, (const void *)(b), 4)
#define I_COMPRESS_STORE(p, v, bits)                                                               \
    _mm512_storeu_si512((void *)(p), _mm512_maskz_compress_epi32((__mmask16)(bits), v))

#include "iq3q_lanes.h"

static void tc_iq3_xxs_quant_avx512(const float *src, void *dst, int64_t n_rows, int64_t n_per_row,
                                    const float *imatrix)
{
    iq3q_rows(1, src, dst, n_rows, n_per_row, imatrix);
}

static void tc_iq3_s_quant_avx512(const float *src, void *dst, int64_t n_rows, int64_t n_per_row,
                                  const float *imatrix)
{
    iq3q_rows(0, src, dst, n_rows, n_per_row, imatrix);
}

void tc_avx512_register_iq3q(tc_kernel_table *k)
{
    k->quantize[TC_DTYPE_IQ3_XXS] = tc_iq3_xxs_quant_avx512;
    k->quantize[TC_DTYPE_IQ3_S] = tc_iq3_s_quant_avx512;
}

#else

void tc_avx512_register_iq3q(tc_kernel_table *k)
{
    (void)k;
}

#endif
