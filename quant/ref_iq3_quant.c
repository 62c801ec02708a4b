/*
 * ref_iq3_quant.c - scalar reference quantizers for IQ3_XXS, IQ3_S and IQ2_S, byte-identical to
 * ggml's quantize_iq3_xxs / quantize_iq3_s / quantize_iq2_s (ggml-quants.c:
 * quantize_row_iq3_xxs_impl(256, ...), quantize_row_iq3_s_impl, quantize_row_iq2_s_impl and the
 * neighbour searches iq3_find_best_neighbour / iq2_find_best_neighbour).
 *
 * The three share one algorithm, per sub-block (32 elements for IQ3, 16 for IQ2_S):
 * 1. weights w = imatrix * sqrt(sigma2 + x^2) (sigma2 = 2 * mean x^2 of the 256-block), or a
 *    fixed function of x without an imatrix; signs are split off (xval = |x|, sign bits kept);
 * 2. a scan of trial scales around max/(2*kMaxQ-1): each rounds the groups (4 elements for
 *    IQ3, 8 for IQ2_S) to levels, replaces an off-grid group by its best listed neighbour
 *    (iq_grid.h), and keeps the levels with the best weighted fit sumqx^2/sumq2;
 * 3. if the winner had off-grid groups, those are re-rounded once at the fitted scale and the
 *    scale refitted;
 * 4. the block scale d = max sub-block scale / 31 (times a fudge factor) and 4-bit sub-scales.
 *
 * Every float operation is single precision in ggml's order (quant/ builds with
 * -ffp-contract=off): products such as w*x*q are (w*x)*q, sums run element by element, MAX and
 * MIN are ggml's ternaries (which decide what a NaN does). Where ggml would abort (a neighbour
 * search that finds nothing because every distance is NaN, a final point off the grid - both
 * only reachable with NaN input) we take grid point 0 and go on: kernels never fail.
 *
 * Traps of ggml's code that we reproduce on purpose (they decide bytes):
 * - IQ3_XXS stores 7 sign bits per 8 elements, so it makes the count of negatives even by
 *   flipping the element with the smallest w*x*x; that element then enters the fit negated.
 * - IQ3_XXS starts the "on grid" flags true and re-rounds only off-grid groups; IQ3_S starts
 *   them false (so if no trial scale wins, every group is re-rounded) and re-rounds all groups.
 * - IQ3_S skips a sub-block whose max is exactly 0 with `continue` *before* advancing its qs and
 *   signs pointers: the next sub-blocks' indices and signs land 8 / 4 bytes earlier (qh and
 *   scales are indexed by sub-block and stay put). IQ3_XXS and IQ2_S index by sub-block.
 * - An all-zero IQ3_XXS block is written as zeros entirely; IQ3_S and IQ2_S blocks whose scales
 *   are all 0 keep the indices and signs they were given (only d and scales stay 0).
 * - The imatrix is indexed by position in the row, the same weights for every row.
 */
#include "blocks.h"
#include "fp16.h"
#include "iq2s.h"
#include "iq3q.h"
#include "iq_grid.h"
#include "kernels.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#define GROUP_MAX_EPS_IQ3_XXS 1e-8f
#define GROUP_MAX_EPS_IQ2_S   1e-8f

/* ggml's MAX/MIN: which operand a NaN comparison picks matters. */
#define MAXF(a, b) ((a) > (b) ? (a) : (b))

/* Block sizes (ggml-common.h) */
enum { IQ3XXS_SIZE = 98, IQ3S_SIZE = 110 };
/* IQ3_S: d, qs[64], qh[8], signs[32], scales[4] */
enum { IQ3S_QS = 2, IQ3S_QH = 66, IQ3S_SIGNS = 74 }; /* then the scales, 106 */

static inline int clampi(int l, int hi)
{
    return l < 0 ? 0 : l > hi ? hi : l; /* ggml's MAX(0, MIN(hi, l)) */
}

/* 0.5*(id*x - 1) rounded and clamped to a level 0..hi, in ggml's operation order. */
static inline int level_of(float id, float x, int hi)
{
    return clampi(tc_nearest_int(0.5f * (id * x - 1)), hi);
}

/*
 * The weighted fit of a sub-block with levels L: sumqx = sum (w*x)*q, sumq2 = sum (w*q)*q,
 * q = 2L+1, each a sequential chain in element order (ggml's). The terms depend only on the
 * element and its level, so fit_terms() computes them once per sub-block for the nl levels
 * (the same floats ggml recomputes in every trial) and fit_sums() adds them up by lookup.
 * Tables are [element][8 levels].
 */
static inline void fit_terms(int n, int nl, const float *w, const float *xval, float *txq,
                             float *tq2)
{
    for (int i = 0; i < n; i++) {
        float wx = w[i] * xval[i];
        for (int l = 0; l < nl; l++) {
            float q = (float)(2 * l + 1);
            txq[8 * i + l] = wx * q;
            tq2[8 * i + l] = w[i] * q * q;
        }
    }
}

static inline void fit_sums(int n, const float *txq, const float *tq2, const int8_t *L,
                            float *sumqx, float *sumq2)
{
    float sx = 0, s2 = 0;
    for (int i = 0; i < n; i++) {
        sx += txq[8 * i + L[i]];
        s2 += tq2[8 * i + L[i]];
    }
    *sumqx = sx;
    *sumq2 = s2;
}

/* ===== The neighbour searches ===== */

/*
 * iq3_find_best_neighbour: of the listed grid points (nb[0] = count, then indices), the one
 * minimizing sum w*(scale*q - x)^2 (w = sqrt of the weights; ((w*diff)*diff) summed in element
 * order), first on ties. Writes its levels to L and returns its index.
 *
 * Each term depends only on the element and its level, so all 4 x 8 of them are computed once
 * (the same floats ggml computes per point) and a point's d2 is 4 lookups summed in ggml's order.
 */
static int iq3_best_neighbour(const uint16_t *nb, const uint32_t *grid, const float *xval,
                              const float *w, float scale, int8_t *L)
{
    float e[4][8];
    for (int i = 0; i < 4; i++)
        for (int l = 0; l < 8; l++) {
            float diff = scale * (float)(2 * l + 1) - xval[i];
            e[i][l] = w[i] * diff * diff;
        }
    float best_d2 = FLT_MAX;
    int best = -1;
    for (int j = 1; j <= nb[0]; j++) {
        uint32_t g = grid[nb[j]]; /* byte i = 2*l + 1 */
        float d2 = 0;
#pragma GCC unroll 4
        for (int i = 0; i < 4; i++)
            d2 += e[i][(g >> (8 * i + 1)) & 7];
        if (d2 < best_d2) {
            best_d2 = d2;
            best = nb[j];
        }
    }
    if (best < 0) /* every d2 NaN or >= FLT_MAX: ggml asserts */
        best = 0;
    for (int i = 0; i < 4; i++)
        L[i] = (int8_t)((grid[best] >> (8 * i + 1)) & 7);
    return best;
}

/* iq2_find_best_neighbour: the same over 8 elements of the 2-bit grid (levels 0..2, int8
 * bytes 1, 3, 5), with its 8 x 3 terms computed once. */
static int iq2_best_neighbour(const uint16_t *nb, const uint64_t *grid, const float *xval,
                              const float *w, float scale, int8_t *L)
{
    float e[8][4];
    for (int i = 0; i < 8; i++) {
        for (int l = 0; l < 3; l++) {
            float diff = scale * (float)(2 * l + 1) - xval[i];
            e[i][l] = w[i] * diff * diff;
        }
        e[i][3] = 0; /* no grid byte has level 3 */
    }
    float best_d2 = FLT_MAX;
    int best = -1;
    for (int j = 1; j <= nb[0]; j++) {
        uint64_t g = grid[nb[j]];
        float d2 = 0;
#pragma GCC unroll 8
        for (int i = 0; i < 8; i++)
            d2 += e[i][(g >> (8 * i + 1)) & 3];
        if (d2 < best_d2) {
            best_d2 = d2;
            best = nb[j];
        }
    }
    if (best < 0)
        best = 0;
    for (int i = 0; i < 8; i++)
        L[i] = (int8_t)((grid[best] >> (8 * i + 1)) & 3);
    return best;
}

/* ===== IQ3 (IQ3_XXS and IQ3_S): sub-blocks of 32, groups of 4, levels 0..7 ===== */

/* The 3-bit code of the 4 levels at L (map[] index)... */
static inline int iq3_code(const int8_t *L)
{
    return L[0] | L[1] << 3 | L[2] << 6 | L[3] << 9;
}

/* ...and its grid index, with grid point 0 standing in where ggml aborts (unreachable: L
 * always holds grid points). */
static inline int iq3_index(const tc_iq3_search *g, const int8_t *L)
{
    int gi = g->map[iq3_code(L)];
    return gi < 0 ? 0 : gi;
}

/*
 * Steps 2 and 3 for one IQ3 sub-block: xval (|x|, but one element may be negated for IQ3_XXS),
 * weights w and their square roots wa, max = max of xval (> 0). `xxs` selects IQ3_XXS's
 * variant (trial scales is = -15..15, on-grid flags start true, only off-grid groups re-rounded)
 * over IQ3_S's (is = -9..9, flags start false, all groups re-rounded). Writes the levels to L
 * (zeros if no trial won and nothing was re-rounded) and returns the scale.
 */
static float iq3_search(const tc_iq3_search *g, const float *xval, const float *w, const float *wa,
                        float max, int xxs, int8_t L[32])
{
    const int kMaxQ = 8, nis = xxs ? 15 : 9;
    int8_t Laux[32];
    int on_grid[8], on_grid_aux[8];
    float best = 0;
    float scale = max / (2 * kMaxQ - 1);
    float txq[32 * 8], tq2[32 * 8];
    fit_terms(32, 8, w, xval, txq, tq2);
    memset(L, 0, 32);
    for (int k = 0; k < 8; k++)
        on_grid[k] = xxs;
    for (int is = -nis; is <= nis; is++) {
        float id = (2 * kMaxQ - 1 + (float)is * 0.2f) / max;
        float this_scale = 1 / id;
        for (int k = 0; k < 8; k++) {
            for (int i = 0; i < 4; i++)
                Laux[4 * k + i] = (int8_t)level_of(id, xval[4 * k + i], kMaxQ - 1);
            int m = g->map[iq3_code(Laux + 4 * k)];
            on_grid_aux[k] = m >= 0;
            if (m < 0)
                iq3_best_neighbour(g->neighbours - m - 1, g->grid, xval + 4 * k, wa + 4 * k,
                                   this_scale, Laux + 4 * k);
        }
        float sumqx, sumq2;
        fit_sums(32, txq, tq2, Laux, &sumqx, &sumq2);
        if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
            scale = sumqx / sumq2;
            best = scale * sumqx;
            memcpy(L, Laux, 32);
            memcpy(on_grid, on_grid_aux, sizeof on_grid);
        }
    }
    int n_off = 0;
    for (int k = 0; k < 8; k++)
        n_off += !on_grid[k];
    if (n_off > 0 && scale > 0) {
        float id = 1 / scale;
        for (int k = 0; k < 8; k++) {
            if (xxs && on_grid[k])
                continue;
            int8_t l[4];
            for (int i = 0; i < 4; i++)
                l[i] = (int8_t)level_of(id, xval[4 * k + i], kMaxQ - 1);
            int m = g->map[iq3_code(l)];
            if (m < 0) /* note: the fitted scale here, not 1/id */
                iq3_best_neighbour(g->neighbours - m - 1, g->grid, xval + 4 * k, wa + 4 * k, scale,
                                   L + 4 * k);
            else
                memcpy(L + 4 * k, l, 4);
        }
        float sumqx, sumq2;
        fit_sums(32, txq, tq2, L, &sumqx, &sumq2);
        if (sumq2 > 0)
            scale = sumqx / sumq2;
    }
    return scale;
}

/* Step 1 for a sub-block of n: weights from the imatrix slice qw (or NULL: x*x, or for IQ2_S
 * 0.25*sigma2 + x*x) and their square roots. */
static inline void sub_weights(int n, const float *xb, const float *qw, float sigma2, int iq2s,
                               float *w, float *wa)
{
    if (qw != NULL) {
        for (int i = 0; i < n; i++)
            w[i] = qw[i] * sqrtf(sigma2 + xb[i] * xb[i]);
    } else if (iq2s) {
        for (int i = 0; i < n; i++)
            w[i] = 0.25f * sigma2 + xb[i] * xb[i];
    } else {
        for (int i = 0; i < n; i++)
            w[i] = xb[i] * xb[i];
    }
    for (int i = 0; i < n; i++)
        wa[i] = sqrtf(w[i]);
}

/* sigma2 = 2 * sum(x^2) / 256 over the block, summed in order. */
static inline float block_sigma2(const float *x)
{
    float sumx2 = 0;
    for (int i = 0; i < QK_K; i++)
        sumx2 += x[i] * x[i];
    return 2 * sumx2 / QK_K;
}

/* Magnitudes and sign bits of 8 elements: xval = x if x >= 0, else -x with bit i set (NaN
 * counts as negative, as in ggml). */
static inline unsigned split_signs8(const float *x, float *xval)
{
    unsigned s = 0;
    for (int i = 0; i < 8; i++) {
        if (x[i] >= 0) {
            xval[i] = x[i];
        } else {
            xval[i] = -x[i];
            s |= 1u << i;
        }
    }
    return s;
}

/* ---- IQ3_XXS: 98 bytes = d, qs[64] (grid index per group of 4), 8 x u32 (4 x 7 sign bits |
 * scale << 28) ---- */

void tc_ref_iq3_xxs_block(const tc_iq3_search *g, const float *x, const float *qw, uint8_t *y)
{
    float scales[8], w[32], wa[32], xval[32];
    int8_t L[32];
    uint8_t q3[96] = {0}; /* qs[64], then the 8 u32 words, little-endian */
    float max_scale = 0;
    const float sigma2 = block_sigma2(x);

    for (int ib = 0; ib < 8; ib++) {
        const float *xb = x + 32 * ib;
        sub_weights(32, xb, qw ? qw + 32 * ib : NULL, sigma2, 0, w, wa);
        unsigned block_signs[4];
        for (int k = 0; k < 4; k++) {
            unsigned s = split_signs8(xb + 8 * k, xval + 8 * k);
            if (__builtin_popcount(s) & 1) {
                /* odd count of negatives: flip the element of least w*x*x ((w*x)*x, first
                 * on ties) so the parity bit of the 7 stored signs restores it */
                const int imin = tc_parity_min(w + 8 * k, xb + 8 * k);
                xval[8 * k + imin] = -xval[8 * k + imin];
                s ^= 1u << imin;
            }
            block_signs[k] = s & 127;
        }
        float max = xval[0];
        for (int i = 1; i < 32; i++)
            max = MAXF(max, xval[i]);
        if (max < GROUP_MAX_EPS_IQ3_XXS) {
            scales[ib] = 0;
            continue;
        }
        float scale = iq3_search(g, xval, w, wa, max, 1, L);
        if (scale < 0) { /* ggml: "should never happen"; flip the scale and the signs */
            scale = -scale;
            for (int k = 0; k < 4; k++)
                block_signs[k] = ~block_signs[k] & 127;
        }
        for (int k = 0; k < 8; k++)
            q3[8 * ib + k] = (uint8_t)iq3_index(g, L + 4 * k);
        uint32_t ss =
            block_signs[0] | block_signs[1] << 7 | block_signs[2] << 14 | block_signs[3] << 21;
        for (int j = 0; j < 4; j++)
            q3[64 + 4 * ib + j] = (uint8_t)(ss >> 8 * j);
        scales[ib] = scale;
        max_scale = MAXF(max_scale, scale);
    }

    tc_iq3_xxs_finish(scales, max_scale, q3, y);
}

static void tc_iq3_xxs_quant_ref(const float *src, void *dst, int64_t n_rows, int64_t n_per_row,
                                 const float *imatrix)
{
    const tc_iq3_search *g = tc_iq3_search_get(256);
    const int64_t nb = n_per_row / QK_K;
    uint8_t *y = dst;
    if (g == NULL) { /* out of memory building the tables: zero blocks, never a crash */
        memset(dst, 0, (size_t)(n_rows * nb) * IQ3XXS_SIZE);
        return;
    }
    for (int64_t r = 0; r < n_rows; r++)
        for (int64_t i = 0; i < nb; i++, y += IQ3XXS_SIZE)
            tc_ref_iq3_xxs_block(g, src + r * n_per_row + i * QK_K,
                                 imatrix ? imatrix + i * QK_K : NULL, y);
}

/* ---- IQ3_S: 110 bytes = d, qs[64] (low 8 index bits), qh[8] (9th bits), signs[32],
 * scales[4] ---- */

void tc_ref_iq3_s_block(const tc_iq3_search *g, const float *x, const float *qw, uint8_t *y)
{
    float scales[8], w[32], wa[32], xval[32];
    int8_t L[32];
    float max_scale = 0;
    memset(y, 0, IQ3S_SIZE);
    uint8_t *qs = y + IQ3S_QS, *qh = y + IQ3S_QH, *signs = y + IQ3S_SIGNS;
    const float sigma2 = block_sigma2(x);

    for (int ib = 0; ib < 8; ib++) {
        const float *xb = x + 32 * ib;
        sub_weights(32, xb, qw ? qw + 32 * ib : NULL, sigma2, 0, w, wa);
        unsigned block_signs[4];
        for (int k = 0; k < 4; k++)
            block_signs[k] = split_signs8(xb + 8 * k, xval + 8 * k);
        float max = xval[0];
        for (int i = 1; i < 32; i++)
            max = MAXF(max, xval[i]);
        if (!max) { /* note: qs and signs are not advanced (see the header) */
            scales[ib] = 0;
            continue;
        }
        float scale = iq3_search(g, xval, w, wa, max, 0, L);
        if (scale < 0) {
            scale = -scale;
            for (int k = 0; k < 4; k++)
                block_signs[k] = ~block_signs[k] & 255;
        }
        for (int k = 0; k < 8; k++) {
            int gi = iq3_index(g, L + 4 * k);
            qs[k] = (uint8_t)gi;
            qh[ib] |= (uint8_t)((gi >> 8) << k);
        }
        qs += 8;
        for (int k = 0; k < 4; k++)
            signs[k] = (uint8_t)block_signs[k];
        signs += 4;
        scales[ib] = scale;
        max_scale = MAXF(max_scale, scale);
    }

    tc_iq3_s_finish(scales, max_scale, y);
}

static void tc_iq3_s_quant_ref(const float *src, void *dst, int64_t n_rows, int64_t n_per_row,
                               const float *imatrix)
{
    const tc_iq3_search *g = tc_iq3_search_get(512);
    const int64_t nb = n_per_row / QK_K;
    uint8_t *y = dst;
    if (g == NULL) {
        memset(dst, 0, (size_t)(n_rows * nb) * IQ3S_SIZE);
        return;
    }
    for (int64_t r = 0; r < n_rows; r++)
        for (int64_t i = 0; i < nb; i++, y += IQ3S_SIZE)
            tc_ref_iq3_s_block(g, src + r * n_per_row + i * QK_K,
                               imatrix ? imatrix + i * QK_K : NULL, y);
}

/* ===== IQ2_S: 82 bytes = d, qs[32] (low 8 index bits), signs[32], qh[8] (2 high bits per
 * group), scales[8] (two 4-bit scales); sub-blocks of 16, groups of 8, levels 0..2 ===== */

/* The 2-bit code of 8 levels (always < 43692). */
static inline int iq2_code(const int8_t *L)
{
    int u = 0;
    for (int i = 0; i < 8; i++)
        u |= L[i] << 2 * i;
    return u;
}

/* Steps 2 and 3 for one IQ2_S sub-block of 16 (see iq3_search; flags start true, only
 * off-grid groups are re-rounded, trial scales (5 + is*0.1)/max for is = -9..9). */
static float iq2_s_search(const tc_iq2_search *g, const float *xval, const float *w,
                          const float *wa, float max, int8_t L[16])
{
    const int kMaxQ = 3;
    int8_t Laux[16];
    int on_grid[2] = {1, 1}, on_grid_aux[2];
    float best = 0;
    float scale = max / (2 * kMaxQ - 1);
    float txq[16 * 8], tq2[16 * 8];
    fit_terms(16, 3, w, xval, txq, tq2);
    memset(L, 0, 16);
    for (int is = -9; is <= 9; is++) {
        float id = (2 * kMaxQ - 1 + (float)is * 0.1f) / max;
        float this_scale = 1 / id;
        for (int k = 0; k < 2; k++) {
            for (int i = 0; i < 8; i++)
                Laux[8 * k + i] = (int8_t)level_of(id, xval[8 * k + i], kMaxQ - 1);
            int m = g->map[iq2_code(Laux + 8 * k)];
            on_grid_aux[k] = m >= 0;
            if (m < 0)
                iq2_best_neighbour(g->neighbours - m - 1, g->grid, xval + 8 * k, wa + 8 * k,
                                   this_scale, Laux + 8 * k);
        }
        float sumqx, sumq2;
        fit_sums(16, txq, tq2, Laux, &sumqx, &sumq2);
        if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
            scale = sumqx / sumq2;
            best = scale * sumqx;
            memcpy(L, Laux, 16);
            on_grid[0] = on_grid_aux[0];
            on_grid[1] = on_grid_aux[1];
        }
    }
    if ((!on_grid[0] || !on_grid[1]) && scale > 0) {
        float id = 1 / scale;
        for (int k = 0; k < 2; k++) {
            if (on_grid[k])
                continue;
            for (int i = 0; i < 8; i++)
                L[8 * k + i] = (int8_t)level_of(id, xval[8 * k + i], kMaxQ - 1);
            int m = g->map[iq2_code(L + 8 * k)];
            if (m < 0)
                iq2_best_neighbour(g->neighbours - m - 1, g->grid, xval + 8 * k, wa + 8 * k, scale,
                                   L + 8 * k);
        }
        float sumqx, sumq2;
        fit_sums(16, txq, tq2, L, &sumqx, &sumq2);
        if (sumq2 > 0)
            scale = sumqx / sumq2;
    }
    return scale;
}

void tc_iq2_s_finish(float max_scale, const float *scales, uint8_t *y)
{
    if (!max_scale)
        return;
    float d = max_scale / 31;
    tc_put_f16(y, d * 0.9875f);
    float id = 1 / d;
    for (int ib = 0; ib < 16; ib++) {
        int l = clampi(tc_nearest_int(0.5f * (id * scales[ib] - 1)), 15);
        y[IQ2S_SCALES + ib / 2] |= (uint8_t)(ib % 2 ? l << 4 : l);
    }
}

void tc_ref_iq2_s_block(const tc_iq2_search *g, const float *x, const float *qw, uint8_t *y)
{
    float scales[16], w[16], wa[16], xval[16];
    int8_t L[16];
    float max_scale = 0;
    memset(y, 0, IQ2S_SIZE);
    const float sigma2 = block_sigma2(x);

    for (int ib = 0; ib < 16; ib++) {
        const float *xb = x + 16 * ib;
        sub_weights(16, xb, qw ? qw + 16 * ib : NULL, sigma2, 1, w, wa);
        unsigned block_signs[2];
        for (int k = 0; k < 2; k++)
            block_signs[k] = split_signs8(xb + 8 * k, xval + 8 * k);
        float max = xval[0];
        for (int i = 1; i < 16; i++)
            max = MAXF(max, xval[i]);
        if (max < GROUP_MAX_EPS_IQ2_S) {
            scales[ib] = 0;
            continue;
        }
        float scale = iq2_s_search(g, xval, w, wa, max, L);
        if (scale < 0) {
            scale = -scale;
            for (int k = 0; k < 2; k++)
                block_signs[k] = ~block_signs[k] & 255;
        }
        for (int k = 0; k < 2; k++) {
            int gi = g->map[iq2_code(L + 8 * k)];
            if (gi < 0) /* unreachable (L holds grid points); ggml aborts */
                gi = 0;
            const int i8 = 2 * ib + k;
            y[IQ2S_QS + i8] = (uint8_t)gi;
            y[IQ2S_QH + i8 / 4] |= (uint8_t)((gi >> 8) << 2 * (i8 % 4));
            y[IQ2S_SIGNS + i8] = (uint8_t)block_signs[k];
        }
        scales[ib] = scale;
        max_scale = MAXF(max_scale, scale);
    }
    tc_iq2_s_finish(max_scale, scales, y);
}

static void tc_iq2_s_quant_ref(const float *src, void *dst, int64_t n_rows, int64_t n_per_row,
                               const float *imatrix)
{
    const tc_iq2_search *g = tc_iq2_search_get(TC_DTYPE_IQ2_S);
    const int64_t nb = n_per_row / QK_K;
    uint8_t *y = dst;
    if (g == NULL) {
        memset(dst, 0, (size_t)(n_rows * nb) * IQ2S_SIZE);
        return;
    }
    for (int64_t r = 0; r < n_rows; r++)
        for (int64_t i = 0; i < nb; i++, y += IQ2S_SIZE)
            tc_ref_iq2_s_block(g, src + r * n_per_row + i * QK_K,
                               imatrix ? imatrix + i * QK_K : NULL, y);
}

void tc_ref_register_iq3_quant(tc_kernel_table *k)
{
    k->quantize[TC_DTYPE_IQ3_XXS] = tc_iq3_xxs_quant_ref;
    k->quantize[TC_DTYPE_IQ3_S] = tc_iq3_s_quant_ref;
    k->quantize[TC_DTYPE_IQ2_S] = tc_iq2_s_quant_ref;
}
