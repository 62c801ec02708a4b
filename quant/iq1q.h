/*
 * iq1q.h - private to quant/: what the IQ1_S / IQ1_M quantizers share: pieces of the scalar
 * reference (ref_iq1_quant.c) that the SIMD kernels (avx2_iq1q.c, avx512_iq1q.c, neon_iq1q.c,
 * through iq1q_lanes.h) run unchanged, the reference's whole-block quantizers (for the blocks the
 * SIMD kernels hand back) and the neighbour lists laid out for searching many candidates at once.
 */
#ifndef TC_IQ1Q_H
#define TC_IQ1Q_H

#include "blocks.h"
#include "iq_grid.h"
#include "kernels.h"

#include <stdint.h>
#include <string.h>

#define GROUP_MAX_EPS_IQ1_S 1e-12f
#define GROUP_MAX_EPS_IQ1_M 1e-7f
#define IQ1_DELTA           0.125f /* IQ1S_DELTA, IQ1M_DELTA */

enum { IQ1S_SIZE = 50, IQ1M_SIZE = 56 };

/* The quant values of levels 0..2 for a positive / negative shift (exact in float). */
static const float tc_iq1_xp[3] = {-1 + IQ1_DELTA, IQ1_DELTA, 1 + IQ1_DELTA};
static const float tc_iq1_xm[3] = {-1 - IQ1_DELTA, -IQ1_DELTA, 1 - IQ1_DELTA};

/* The quant values of IQ1_M's group k (0, 1) under shift code c: bit 1 group 0, bit 0 group 1 */
static inline const float *tc_iq1_m_xx(int c, int k)
{
    return (k == 0 ? c < 2 : c % 2 == 0) ? tc_iq1_xp : tc_iq1_xm;
}

/* ggml's iq1_sort_helper as glibc's merge uses it: the left element goes first unless the
 * comparator says it is greater (NaN compares equal to everything). */
static inline int tc_iq1_sort_le(float l, float r)
{
    return !(l > r);
}

/*
 * glibc's qsort for these sizes (msort.c msort_with_tmp): sort idx[0..n) by x[idx[]] with a
 * top-down merge sort, first half n/2. `tmp` holds n ints.
 */
static inline void tc_iq1_sort(int *idx, int n, const float *x, int *tmp)
{
    if (n <= 1)
        return;
    const int n1 = n / 2, n2 = n - n1;
    int *b1 = idx, *b2 = idx + n1;
    tc_iq1_sort(b1, n1, x, tmp);
    tc_iq1_sort(b2, n2, x, tmp);
    int i = 0, j = 0, o = 0;
    while (i < n1 && j < n2) {
        if (tc_iq1_sort_le(x[b1[i]], x[b2[j]]))
            tmp[o++] = b1[i++];
        else
            tmp[o++] = b2[j++];
    }
    while (i < n1)
        tmp[o++] = b1[i++];
    /* the rest of the second half is already in place */
    memcpy(idx, tmp, (size_t)o * sizeof *idx);
}

/* The map code of 8 levels: 2 bits each, element i at bits 2i. */
static inline int tc_iq1_code(const int8_t *L)
{
    int u = 0;
    for (int i = 0; i < 8; ++i)
        u |= L[i] << 2 * i;
    return u;
}

/* Step 1's sigma2: 2 * mean square of the block's 256 values, summed in order. */
static inline float tc_iq1_sigma2(const float *x)
{
    float sumx2 = 0;
    for (int i = 0; i < QK_K; ++i)
        sumx2 += x[i] * x[i];
    return 2 * sumx2 / QK_K;
}

/*
 * The refit after a neighbour search: the least-squares scale of the ng groups' chosen points
 * (xx[k] the quant values of group k), summed element by element from 0 as ggml does; `scale`
 * when the fit is not positive.
 */
static inline float tc_iq1_refit(const tc_iq2_search *S, const uint16_t *index, int ng,
                                 const float *xb, const float *weight, const float *const *xx,
                                 float scale)
{
    float sumqx = 0, sumq2 = 0;
    for (int k = 0; k < ng; ++k) {
        const uint64_t g = S->grid[index[k]];
        const float *q3 = xx[k];
        for (int j = 0; j < 8; ++j) {
            float w = weight[8 * k + j];
            float q = q3[(((g >> 8 * j) & 0xff) - 1) / 2];
            sumqx += w * q * xb[8 * k + j];
            sumq2 += w * q * q;
        }
    }
    return sumqx > 0 && sumq2 > 0 ? sumqx / sumq2 : scale;
}

/* One whole block (256 values, importance weights qw; IQ1_M: or NULL) by the reference. */
void tc_ref_iq1_s_block(const tc_iq2_search *S, const float *x, const float *qw, uint8_t *y);
void tc_ref_iq1_m_block(const tc_iq2_search *S, const float *x, const float *qw, uint8_t *y);

/* The end of a block: from the sub-blocks' scales (>= 0), shifts (IQ1_S +1/-1, IQ1_M codes
 * 0..3) and grid indices (4 per IQ1_S sub-block, 2 per IQ1_M one) to the block's bytes at y.
 * IQ1_M refits d over the block: x and its weights too. */
void tc_iq1_s_finish(const float *scales, const int *shifts, const uint16_t *index, uint8_t *y);
/* IQ1_M's refit of d over the block: sum w*q*x and w*q*q element by element from 0 (q the
 * group's quant value times the sub-scale 2*ls+1), sumqx/sumq2 when sumq2 > 0, else d. The
 * reference's is tc_iq1_m_refit_d; a SIMD kernel may pass its own (the same floats). */
typedef float (*tc_iq1_m_refit_fn)(const tc_iq2_search *S, const float *x, const float *weight,
                                   const int *ls, const int *shifts, const uint16_t *index,
                                   float d);
float tc_iq1_m_refit_d(const tc_iq2_search *S, const float *x, const float *weight, const int *ls,
                       const int *shifts, const uint16_t *index, float d);
void tc_iq1_m_finish(const tc_iq2_search *S, const float *x, const float *weight,
                     const float *scales, const int *shifts, const uint16_t *index, uint8_t *y,
                     tc_iq1_m_refit_fn refit); /* refit NULL: tc_iq1_m_refit_d */

/*
 * The IQ1 neighbour lists (iq_grid.h's, shared by IQ1_S and IQ1_M) laid out for searching
 * TC_IQ1_LANES candidates at a time, indexed by the base-3 code of a group's levels (sum of
 * L[i] * 3^i: a table small enough to stay in cache). map[c3] >= 0 is the grid index of a point
 * on the grid; otherwise -map[c3] - 1 is the offset o in list: list[o] the count n, list[o + 1
 * ...] the n listed points in the reference's order, each as its level code (2 bits per element,
 * iq_grid.h's), padded with code 0xffff (every element at the impossible level 3) to a multiple
 * of TC_IQ1_LANES. A listed point's grid index is map[] at its base-3 code (tc_iq1_code3): the
 * 16-bit entries keep the lists (about 700 KB) in a core's L2.
 */
#define TC_IQ1_LANES 16

typedef struct tc_iq1_lists {
    const int32_t *map; /* 6561 entries */
    const uint16_t *list;
} tc_iq1_lists;

/* The base-3 code (map index) of a level code (2 bits per element, element i at bits 2i). */
static inline int tc_iq1_code3(unsigned code)
{
    int c3 = 0;
    for (int i = 7; i >= 0; i--)
        c3 = 3 * c3 + (int)(code >> 2 * i & 3);
    return c3;
}

/* Built once, thread-safely; never freed. */
const tc_iq1_lists *tc_iq1_lists_get(void);

void tc_avx2_register_iq1q(tc_kernel_table *k);   /* avx2_iq1q.c: IQ1_S, IQ1_M quantizers */
void tc_avx512_register_iq1q(tc_kernel_table *k); /* avx512_iq1q.c: the same, 16 lanes */
void tc_neon_register_iq1q(tc_kernel_table *k);   /* neon_iq1q.c: the same, 4 lanes */

#endif /* TC_IQ1Q_H */
