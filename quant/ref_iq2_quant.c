/*
 * ref_iq2_quant.c - scalar reference quantizers for IQ2_XXS and IQ2_XS, byte-identical to ggml's
 * quantize_iq2_xxs / quantize_iq2_xs (ggml-quants.c quantize_row_iq2_xxs_impl,
 * quantize_row_iq2_xs_impl, iq2_find_best_neighbour), which is what ggml_quantize_chunk runs.
 *
 * Both types need importance weights (the dispatcher refuses NULL, as ggml asserts). A block is
 * 256 floats in sub-blocks (32 for IQ2_XXS, 16 for IQ2_XS) of groups of 8; each group is stored
 * as a grid point (magnitudes at levels 0..2, i.e. odd values 1/3/5 times a scale) plus 7 sign
 * bits whose parity gives the 8th sign. The algorithm, per sub-block:
 * 1. weight[i] = qw[i] * sqrt(sigma2 + x[i]^2), sigma2 the block's mean square.
 * 2. Work on |x|. The 8 signs of a group must have even parity, so when an odd number of x are
 *    negative the element with the smallest weight*x^2 keeps its sign: its |x| is negated in
 *    xval (it is quantized as a negative value against a positive level) and its sign bit is
 *    toggled. 7 bits are stored; the parity restores the 8th.
 * 3. Try a range of scales (13 for IQ2_XXS around make_qp_quants' scale, 19 for IQ2_XS around
 *    max/5): round each element to a level, snap each group to the grid (the point itself if it
 *    is on the grid, else the best of its precomputed neighbours by weighted distance with the
 *    sqrt of the weights), keep the levels of the scale with the best sumqx^2/sumq2.
 * 4. Requantize the groups at the best least-squares scale (IQ2_XXS: all groups; IQ2_XS: only
 *    the groups that were off the grid), then refit the scale.
 * 5. The 8 (IQ2_XXS) or 16 (IQ2_XS) sub-block scales become 4-bit values of d = max/31.
 *
 * Every float operation is single precision in ggml's order (quant/ builds with
 * -ffp-contract=off): products associate left to right (w*x*q is (w*x)*q), sums run element by
 * element, MAX is ggml's `a > b ? a : b`. Traps kept on purpose:
 * - the level of x at inverse scale id is nearest_int(0.5f*(id*x - 1)) clamped to [0, 2]: the
 *   subtraction happens before the halving, and nearest_int rounds ties to even;
 * - the neighbour search measures with sqrt(weight) (ggml's waux), the scale search with weight;
 * - IQ2_XXS seeds its search from make_qp_quants(32, 4, ...) (nmax 4, not 3), whose scale only
 *   sets the trial range; IQ2_XS starts at max/5 and seeds nothing;
 * - a sub-block whose largest xval is below 1e-15 (or, for IQ2_XXS, whose seed scale is not
 *   positive) gets scale 0 and all-zero indices and signs (in IQ2_XXS its scale nibble is then
 *   still nearest_int(-0.5) = 0); a block whose largest scale is 0 is written all zero;
 * - a negative final scale (ggml says it should not happen) is made positive by inverting all
 *   7 stored sign bits of each group.
 * ggml aborts when a final group is off the grid; that cannot happen for finite input (the
 * levels always come from the grid), and here index 0 is written instead.
 *
 * The one place this is not a transcription is the neighbour search, the hot loop: each
 * element's three possible terms are computed once per search instead of once per candidate
 * point. It is an exact rearrangement (the same products, summed in the same order), never a
 * reassociation. (Tried and dropped, for being slower: leaving a candidate once a partial sum
 * reaches the best distance, which is exact because the terms are >= 0 but mispredicts.)
 */
#include "blocks.h"
#include "iq2q.h"
#include "kernels.h"
#include "ref_k.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#define GROUP_MAX_EPS 1e-15f

static inline void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static inline void put32(uint8_t *p, uint32_t v)
{
    for (int j = 0; j < 4; j++)
        p[j] = (uint8_t)(v >> 8 * j);
}

/* The level 0..2 of x at inverse scale id, as ggml rounds it. */
static inline int8_t iq2_level(float id, float x)
{
    return (int8_t)iclamp(tc_nearest_int(0.5f * (id * x - 1)), 0, IQ2_KMAXQ - 1);
}

/* The map code of 8 levels: 2 bits each, element i at bits 2i. */
static inline int iq2_code(const int8_t *L)
{
    int u = 0;
    for (int i = 0; i < 8; ++i)
        u |= L[i] << 2 * i;
    return u;
}

/*
 * Signs of one group of 8 (step 2 above): xval = |xb| except for the element that
 * keeps its sign when the count of negatives is odd; returns the 7 stored sign bits.
 */
static inline uint8_t iq2_group_signs(const float *xb, const float *weight, float *xval)
{
    int nflip = 0;
    unsigned s = 0;
    for (int i = 0; i < 8; ++i) {
        if (xb[i] >= 0) { /* -0.0 counts as non-negative, as in ggml */
            xval[i] = xb[i];
        } else {
            xval[i] = -xb[i];
            ++nflip;
            s |= 1u << i;
        }
    }
    if (nflip % 2) {
        const int imin = tc_parity_min(weight, xb);
        xval[imin] = -xval[imin];
        s ^= 1u << imin;
    }
    return (uint8_t)(s & 127);
}

/*
 * ggml's iq2_find_best_neighbour: of the n points listed at nb[1..n] (nb[0] = n), the one
 * nearest to xval at `scale` by sum of w*(scale*q - x)^2 (first of equal distances); its levels
 * go to L, its index is returned. The lists are never empty.
 *
 * A grid value q is 1, 3 or 5, so each element's term w*(scale*q - x)^2 takes only 3 values:
 * they are computed once, exactly as ggml computes them for every point ((w*diff)*diff), and
 * each point's distance adds its 8 terms from 0 in element order as ggml does: the same floats.
 * The terms sit at term[8*i + q]; adding 8*i to byte i of the point (whose bytes are q) turns
 * it into 8 such indices at once.
 */
static inline int iq2_best_neighbour(const uint16_t *nb, const uint64_t *grid, const float *xval,
                                     const float *w, float scale, int8_t *L)
{
    float term[64];
    for (int i = 0; i < 8; ++i)
        for (int q = 1; q <= 5; q += 2) {
            float diff = scale * (float)q - xval[i];
            term[8 * i + q] = w[i] * diff * diff;
        }
    const int best = tc_iq_nearest_listed(nb, grid, term);
    const uint64_t g = grid[best];
    for (int i = 0; i < 8; ++i)
        L[i] = (int8_t)((((g >> 8 * i) & 7) - 1) / 2);
    return best;
}

/*
 * Round one group to levels at inverse scale id and snap it to the grid (neighbour search at
 * `scale` when off it). Writes the group's levels to L; returns 1 if it was on the grid.
 */
static inline int iq2_snap_group(const tc_iq2_search *S, float id, float scale, const float *xval,
                                 const float *waux, int8_t *L)
{
    for (int i = 0; i < 8; ++i)
        L[i] = iq2_level(id, xval[i]);
    const int m = S->map[iq2_code(L)];
    if (m >= 0)
        return 1;
    iq2_best_neighbour(S->neighbours - m - 1, S->grid, xval, waux, scale, L);
    return 0;
}

/* The grid index of 8 levels known to be on the grid (0 if not: ggml aborts there). The levels
 * are checked first: when no trial wins and make_qp_quants' scale is NaN (weights so large that
 * its sums overflow), L still holds make_qp_quants' levels, which may be -1 (a wrapped 255) or
 * 3..4, and their code would index outside the map. */
static inline int iq2_index(const tc_iq2_search *S, const int8_t *L)
{
    for (int i = 0; i < 8; ++i)
        if (L[i] < 0 || L[i] >= IQ2_KMAXQ)
            return 0;
    const int m = S->map[iq2_code(L)];
    return m >= 0 ? m : 0;
}

/* sum w*x*q and sum w*q*q over n elements with q = 2*L+1, in ggml's order. */
static inline void iq2_sums(int n, const float *weight, const float *xval, const int8_t *L,
                            float *sumqx, float *sumq2)
{
    float sx = 0, s2 = 0;
    for (int i = 0; i < n; ++i) {
        float w = weight[i];
        float q = (float)(2 * L[i] + 1);
        sx += w * xval[i] * q;
        s2 += w * q * q;
    }
    *sumqx = sx;
    *sumq2 = s2;
}

/* ===== IQ2_XXS: 66 bytes = f16 d, then per 32-element sub-block two LE u32: the 4 groups' grid
 * indices (one byte each), then 4 x 7 sign bits with the 4-bit scale in bits 28..31 ===== */

/* One sub-block of 32: its scale (>= 0) and its two words (sign bits only, scale added later). */
static float iq2_xxs_sub(const tc_iq2_search *S, const float *xb, const float *qw, float sigma2,
                         uint32_t q2[2])
{
    float weight[32], waux[32], xval[32];
    int8_t L[32], Laux[32];
    uint8_t signs[4];
    for (int i = 0; i < 32; ++i)
        weight[i] = qw[i] * sqrtf(sigma2 + xb[i] * xb[i]);
    for (int i = 0; i < 32; ++i)
        waux[i] = sqrtf(weight[i]);
    for (int k = 0; k < 4; ++k)
        signs[k] = iq2_group_signs(xb + 8 * k, weight + 8 * k, xval + 8 * k);
    float max = xval[0];
    for (int i = 1; i < 32; ++i)
        max = tc_fmax_ggml(max, xval[i]);
    if (max < GROUP_MAX_EPS)
        return 0;
    /* make_qp_quants with nmax = kMaxQ+1 = 4: only its scale is used (its levels are always
     * replaced: by a trial's below, or by the requantization when the scale stays positive) */
    float scale = tc_ref_make_qp_quants(32, IQ2_KMAXQ + 1, xval, (uint8_t *)L, weight);
    float eff_max = scale * IQ2_KMAXQ;
    if (eff_max <= 0)
        return 0;
    float best = 0;
    for (int is = -6; is <= 6; ++is) {
        float id = (2 * IQ2_KMAXQ - 1 + (float)is * 0.1f) / eff_max;
        float this_scale = 1 / id;
        for (int k = 0; k < 4; ++k)
            iq2_snap_group(S, id, this_scale, xval + 8 * k, waux + 8 * k, Laux + 8 * k);
        float sumqx, sumq2;
        iq2_sums(32, weight, xval, Laux, &sumqx, &sumq2);
        if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
            scale = sumqx / sumq2;
            best = scale * sumqx;
            memcpy(L, Laux, 32);
        }
    }
    if (scale > 0) {
        /* requantize every group at the best scale (the neighbour search now at `scale`) */
        float id = 1 / scale;
        for (int k = 0; k < 4; ++k)
            iq2_snap_group(S, id, scale, xval + 8 * k, waux + 8 * k, L + 8 * k);
        float sumqx, sumq2;
        iq2_sums(32, weight, xval, L, &sumqx, &sumq2);
        if (sumq2 > 0)
            scale = sumqx / sumq2;
    }
    if (scale < 0) {
        scale = -scale;
        for (int k = 0; k < 4; ++k)
            signs[k] = (uint8_t)(~signs[k] & 127);
    }
    for (int k = 0; k < 4; ++k) {
        q2[0] |= (uint32_t)iq2_index(S, L + 8 * k) << 8 * k;
        q2[1] |= (uint32_t)signs[k] << 7 * k;
    }
    return scale;
}

void tc_ref_iq2_xxs_block(const tc_iq2_search *S, const float *x, const float *qw, uint8_t *y)
{
    uint32_t q2[16] = {0};
    float scales[8];
    const float sigma2 = tc_iq2_sigma2(x);
    for (int ib = 0; ib < 8; ++ib)
        scales[ib] = iq2_xxs_sub(S, x + 32 * ib, qw + 32 * ib, sigma2, q2 + 2 * ib);
    tc_iq2_xxs_finish(scales, q2, y);
}

void tc_iq2_xxs_finish(const float *scales, uint32_t *q2, uint8_t *y)
{
    float max_scale = 0;
    for (int ib = 0; ib < 8; ++ib)
        max_scale = tc_fmax_ggml(max_scale, scales[ib]);
    if (!max_scale) {
        memset(y, 0, IQ2XXS_SIZE);
        return;
    }
    float d = max_scale / 31;
    put16(y, tc_f32_to_f16(d));
    float id = 1 / d;
    for (int ib = 0; ib < 8; ++ib) {
        int l = iclamp(tc_nearest_int(0.5f * (id * scales[ib] - 1)), 0, 15);
        q2[2 * ib + 1] |= (uint32_t)l << 28;
    }
    for (int j = 0; j < 16; ++j)
        put32(y + 2 + 4 * j, q2[j]);
}

/* ===== IQ2_XS: 74 bytes = f16 d, 32 x LE u16 (9-bit grid index | 7 sign bits << 9), then
 * scales[8] (sub-block 2j in the low nibble of byte j, 2j+1 in the high one) ===== */

/* One sub-block of 16: its scale (>= 0) and its two u16 codes. */
static float iq2_xs_sub(const tc_iq2_search *S, const float *xb, const float *qw, float sigma2,
                        uint16_t q2[2])
{
    float weight[16], waux[16], xval[16];
    int8_t L[16], Laux[16];
    uint8_t signs[2];
    int on_grid[2] = {1, 1}, on_grid_aux[2];
    for (int i = 0; i < 16; ++i)
        weight[i] = qw[i] * sqrtf(sigma2 + xb[i] * xb[i]);
    for (int i = 0; i < 16; ++i)
        waux[i] = sqrtf(weight[i]);
    for (int k = 0; k < 2; ++k)
        signs[k] = iq2_group_signs(xb + 8 * k, weight + 8 * k, xval + 8 * k);
    float max = xval[0];
    for (int i = 1; i < 16; ++i)
        max = tc_fmax_ggml(max, xval[i]);
    if (max < GROUP_MAX_EPS)
        return 0;
    /* no trial better than 0: levels stay 0 (the grid's point 0, all ones) */
    memset(L, 0, 16);
    float best = 0;
    float scale = max / (2 * IQ2_KMAXQ - 1);
    for (int is = -9; is <= 9; ++is) {
        float id = (2 * IQ2_KMAXQ - 1 + (float)is * 0.1f) / max;
        float this_scale = 1 / id;
        for (int k = 0; k < 2; ++k)
            on_grid_aux[k] =
                iq2_snap_group(S, id, this_scale, xval + 8 * k, waux + 8 * k, Laux + 8 * k);
        float sumqx, sumq2;
        iq2_sums(16, weight, xval, Laux, &sumqx, &sumq2);
        if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
            scale = sumqx / sumq2;
            best = scale * sumqx;
            memcpy(L, Laux, 16);
            on_grid[0] = on_grid_aux[0];
            on_grid[1] = on_grid_aux[1];
        }
    }
    if ((!on_grid[0] || !on_grid[1]) && scale > 0) {
        /* requantize only the groups the best trial had to move onto the grid */
        float id = 1 / scale;
        for (int k = 0; k < 2; ++k)
            if (!on_grid[k])
                iq2_snap_group(S, id, scale, xval + 8 * k, waux + 8 * k, L + 8 * k);
        float sumqx, sumq2;
        iq2_sums(16, weight, xval, L, &sumqx, &sumq2);
        if (sumq2 > 0)
            scale = sumqx / sumq2;
    }
    if (scale < 0) {
        scale = -scale;
        for (int k = 0; k < 2; ++k)
            signs[k] = (uint8_t)(~signs[k] & 127);
    }
    for (int k = 0; k < 2; ++k)
        q2[k] = (uint16_t)(iq2_index(S, L + 8 * k) | signs[k] << 9);
    return scale;
}

void tc_ref_iq2_xs_block(const tc_iq2_search *S, const float *x, const float *qw, uint8_t *y)
{
    uint16_t q2[32] = {0};
    float scales[16];
    const float sigma2 = tc_iq2_sigma2(x);
    for (int ib = 0; ib < 16; ++ib)
        scales[ib] = iq2_xs_sub(S, x + 16 * ib, qw + 16 * ib, sigma2, q2 + 2 * ib);
    tc_iq2_xs_finish(scales, q2, y);
}

void tc_iq2_xs_finish(const float *scales, const uint16_t *q2, uint8_t *y)
{
    float max_scale = 0;
    for (int ib = 0; ib < 16; ++ib)
        max_scale = tc_fmax_ggml(max_scale, scales[ib]);
    if (!max_scale) {
        memset(y, 0, IQ2XS_SIZE);
        return;
    }
    float d = max_scale / 31;
    put16(y, tc_f32_to_f16(d));
    float id = 1 / d;
    uint8_t *sc = y + 66;
    for (int ib = 0; ib < 16; ++ib) {
        int l = iclamp(tc_nearest_int(0.5f * (id * scales[ib] - 1)), 0, 15);
        if (ib % 2 == 0)
            sc[ib / 2] = (uint8_t)l;
        else
            sc[ib / 2] = (uint8_t)(sc[ib / 2] | l << 4);
    }
    for (int j = 0; j < 32; ++j)
        put16(y + 2 + 2 * j, q2[j]);
}

/* ===== Row drivers: the same importance weights for every row, as ggml's quantize_iq2_* ===== */

static void iq2_quant_rows(int t, const float *src, void *dst, int64_t n_rows, int64_t n_per_row,
                           const float *qw)
{
    const int xs = t == TC_DTYPE_IQ2_XS;
    const size_t bsize = xs ? IQ2XS_SIZE : IQ2XXS_SIZE;
    const int64_t nb = n_per_row / QK_K;
    const tc_iq2_search *S = tc_iq2_search_get(t);
    uint8_t *y = dst;
    if (S == NULL || qw == NULL) { /* out of memory building the tables (or a contract breach):
                                      zero blocks rather than a crash */
        memset(y, 0, (size_t)(n_rows * nb) * bsize);
        return;
    }
    for (int64_t r = 0; r < n_rows; ++r)
        for (int64_t i = 0; i < nb; ++i, y += bsize) {
            const float *x = src + r * n_per_row + i * QK_K;
            if (xs)
                tc_ref_iq2_xs_block(S, x, qw + i * QK_K, y);
            else
                tc_ref_iq2_xxs_block(S, x, qw + i * QK_K, y);
        }
}

static void tc_iq2_xxs_quant_ref(const float *src, void *dst, int64_t n_rows, int64_t n_per_row,
                                 const float *imatrix)
{
    iq2_quant_rows(TC_DTYPE_IQ2_XXS, src, dst, n_rows, n_per_row, imatrix);
}

static void tc_iq2_xs_quant_ref(const float *src, void *dst, int64_t n_rows, int64_t n_per_row,
                                const float *imatrix)
{
    iq2_quant_rows(TC_DTYPE_IQ2_XS, src, dst, n_rows, n_per_row, imatrix);
}

void tc_ref_register_iq2_quant(tc_kernel_table *k)
{
    k->quantize[TC_DTYPE_IQ2_XXS] = tc_iq2_xxs_quant_ref;
    k->quantize[TC_DTYPE_IQ2_XS] = tc_iq2_xs_quant_ref;
}
