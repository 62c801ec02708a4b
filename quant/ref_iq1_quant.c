/*
 * ref_iq1_quant.c - scalar reference quantizers for IQ1_S and IQ1_M, byte-identical to ggml's
 * quantize_iq1_s / quantize_iq1_m (ggml-quants.c quantize_row_iq1_s_impl,
 * quantize_row_iq1_m_impl, iq1_find_best_neighbour2, iq1_sort_helper), which is what
 * ggml_quantize_chunk runs.
 *
 * A block is 256 floats in sub-blocks of 32 (IQ1_S) or 16 (IQ1_M), groups of 8. Each group is a
 * point of the 2048-point grid with elements in {-1, 0, +1} (levels 0..2); a value dequantizes
 * to d * (2*s+1) * (q + delta) with delta = +-1/8 per sub-block (IQ1_S) or per group (IQ1_M):
 * the "shift". The algorithm, per sub-block:
 * 1. weight[i] = qw[i] * sqrt(sigma2 + x[i]^2), sigma2 = 2 * the block's mean square (IQ1_M
 *    without importance data: x[i]^2). IQ1_S needs an imatrix (the dispatcher refuses NULL, as
 *    ggml asserts and ggml_quantize_requires_imatrix says); IQ1_M does not.
 * 2. With 3 levels the best split is found exhaustively: sort x ascending (ggml's qsort), and
 *    for every pair of boundaries i1 <= i2 (elements below i1 at level 0, below i2 at level 1,
 *    the rest at 2) score the least-squares fit sumqx^2/sumq2 of the values q = level - 1 +
 *    delta, from prefix sums of w*x and w over the sorted elements (IQ1_S: each sign of delta
 *    for the whole sub-block; IQ1_M: the 4 combinations of its two groups' signs, from prefix
 *    sums kept per group).
 * 3. A negative best scale is made positive by mirroring the levels (2 - L) and the shift(s).
 * 4. A group whose levels are off the grid is replaced by the nearest of its listed neighbours
 *    (iq_grid.h, the 3 nearest distances for IQ1) by sum w*(scale*q - x)^2; if any was, the
 *    scale is refitted over the sub-block (only when the fit is positive).
 * 5. d = max scale / 15, 3-bit sub-scales nearest_int(0.5*(s/d - 1)). IQ1_S stores
 *    fp16(d * 1.125) with its shift bit per sub-block; IQ1_M refits d over the whole block with
 *    the final sub-scales and stores fp16(d * 1.1125) in the top nibbles of its 4 scale words.
 *
 * Every float operation is single precision in ggml's order (quant/ builds with
 * -ffp-contract=off): products associate left to right (w*x*q is (w*x)*q), sums run element by
 * element, MAX is ggml's `a > b ? a : b`. Traps kept on purpose:
 * - the sort: ggml calls qsort on (value, index) pairs comparing the values only, so equal
 *   values (constant rows, zeros, -0.0 next to 0.0) are ordered by whatever qsort does. glibc's
 *   qsort (2.36 here, the libc the oracle runs on) is a top-down merge sort for arrays
 *   this small: halves of n/2 and n - n/2, and a merge that takes the left element unless the
 *   comparator says it is greater. iq1_sort() is that merge sort, so ties - and an inconsistent
 *   comparator (NaN) - come out as glibc orders them.
 * - the two types score their splits with different formulas, each kept as ggml writes it.
 *   IQ1_S: sumqx = (S[i1]-S[0])*q0 + (S[i2]-S[i1])*q1 + (S[32]-S[i2])*q2 (likewise sumq2 with
 *   q^2). IQ1_M (since llama.cpp PR #28706, 2026-09, which our oracle has; the older code
 *   re-added 16 products per split and rounds differently): per group h, using that the level
 *   steps are -1 for either sign, sumqx_h = T_h*q2 - (P_h[i1] + P_h[i2]) and sumq2_h =
 *   W_h*q2*q2 + V_h[i1]*(q0^2-q1^2) + V_h[i2]*(q1^2-q2^2), then group 0's + group 1's;
 * - best_score = scale*sumqx is rounded, so a split scoring exactly the same as the incumbent
 *   can still replace it (sumqx^2 > best*sumq2 holds by a rounding): which of two equivalent
 *   splits wins (e.g. where an element has zero weight) depends on these exact formulas;
 * - the best score starts at -FLT_MAX (older ggml: -FLT_MIN), so the first split with sumq2 > 0
 *   is taken even when its fit is 0;
 * - a sub-block whose max |x| is below 1e-12 (IQ1_S) / 1e-7 (IQ1_M), or where no split has
 *   sumq2 > 0, gets scale 0, shift "+" (IQ1_S bit clear, IQ1_M code 0) and grid index 0: its
 *   3-bit scale is then nearest_int(-0.5) = 0. In IQ1_M such a sub-block still enters the final
 *   refit of d, with grid point 0 at sub-scale 1 and its own weights;
 * - a block whose scales are all 0 gets d = 0 (IQ1_M: no sub-scales and no shift bits either)
 *   but keeps the grid indices its sub-blocks chose: a fit with scale exactly 0 (weights
 *   only where x is 0) still picks points;
 * - the neighbour search measures with the weights themselves (not their square roots) and the
 *   signed x, at the scale of step 3; the refit after it needs sumqx > 0 as well as sumq2 > 0;
 * - IQ1_M's final refit reads each group's index back from the stored qs/qh, which is the index
 *   chosen (the shift bits sit outside the 3 bits it reads).
 * Not a transcription, but exact rearrangements (the same products, added in the same order):
 * the split searches compute each product that depends on one boundary only once per boundary
 * instead of once per split, and the neighbour search computes each element's three possible
 * terms once per search instead of once per candidate point.
 *
 * ggml aborts where a neighbour search finds nothing (every distance NaN or infinite; its
 * fallback scan of the whole grid reads out of bounds) or a scale comes out negative; here the
 * first listed neighbour is taken and a negative (NaN-born) scale clamps to 0 by the sub-scale's
 * clamp: kernels never fail.
 */
#include "iq1q.h"
#include "iq2q.h"

#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* IQ1_S: d, qs[32] (low 8 index bits), qh[8] u16 (3 x 3 high index bits, scale, shift) */
enum { IQ1S_QS = 2, IQ1S_QH = 34 };
/* IQ1_M: qs[32], qh[16] (per sub-block: 2 x 3 high bits + shift bits 3 and 7), scales[8] */
enum { IQ1M_QS = 0, IQ1M_QH = 32, IQ1M_SCALES = 48 };

#define x_p tc_iq1_xp
#define x_m tc_iq1_xm

/* iclamp (iq2q.h): ggml's MAX(lo, MIN(hi, v)) on ints */

/*
 * ggml's iq1_find_best_neighbour2: of the n points listed at nb[1..n] (nb[0] = n), the one
 * nearest to xval at `scale` by sum of w*(scale*xg[l] - x)^2 (first of equal distances); its
 * index is returned. A grid byte is 2l+1 (1, 3 or 5), so each element's term takes 3 values:
 * computed once, as ggml computes them ((w*diff)*diff), at term[8*i + byte]; each point adds
 * its 8 terms from 0 in element order, as ggml does.
 */
static int iq1_best_neighbour(const uint16_t *nb, const uint64_t *grid, const float *xval,
                              const float *w, float scale, const float *xg)
{
    float term[64];
    for (int i = 0; i < 8; ++i)
        for (int l = 0; l < 3; ++l) {
            float diff = scale * xg[l] - xval[i];
            term[8 * i + 2 * l + 1] = w[i] * diff * diff;
        }
    return tc_iq_nearest_listed(nb, grid, term);
}

/* The grid index of group levels L: the point itself, or its best neighbour (then *off = 1). */
static inline int iq1_snap(const tc_iq2_search *S, const int8_t *L, const float *xb, const float *w,
                           float scale, const float *xg, int *off)
{
    const int m = S->map[tc_iq1_code(L)];
    if (m >= 0)
        return m;
    *off = 1;
    return iq1_best_neighbour(S->neighbours - m - 1, S->grid, xb, w, scale, xg);
}

/* max |x| over n values, ggml's MAX. */
static inline float iq1_amax(const float *x, int n)
{
    float max = fabsf(x[0]);
    for (int i = 1; i < n; ++i)
        max = tc_fmax_ggml(max, fabsf(x[i]));
    return max;
}

/* ===== IQ1_S: 50 bytes = f16 d, qs[32], qh[8] LE u16: bits 3k..3k+2 the high bits of group
 * k's index, 12..14 the sub-scale, 15 the negative shift ===== */

/* One sub-block of 32: its scale (>= 0, 0 when skipped), shift (+1/-1) and 4 grid indices. */
static float iq1_s_sub(const tc_iq2_search *S, const float *xb, const float *weight, int *shift,
                       uint16_t index[4])
{
    enum { BS = 32 };
    int idx[BS], tmp[BS];
    int8_t L[BS];
    float sumx[BS + 1], sumw[BS + 1];
    *shift = 1;
    index[0] = index[1] = index[2] = index[3] = 0;
    const float max = iq1_amax(xb, BS);
    if (max < GROUP_MAX_EPS_IQ1_S)
        return 0;
    for (int j = 0; j < BS; ++j)
        idx[j] = j;
    tc_iq1_sort(idx, BS, xb, tmp);
    sumx[0] = sumw[0] = 0;
    for (int j = 0; j < BS; ++j) {
        int i = idx[j];
        sumx[j + 1] = sumx[j] + weight[i] * xb[i];
        sumw[j + 1] = sumw[j] + weight[i];
    }
    /* The fit of split (i1, i2) for shift +:
     *   sumqx = (S[i1]-S[0])*q0 + (S[i2]-S[i1])*q1 + (S[32]-S[i2])*q2
     *   sumq2 = (W[i1]-W[0])*q0*q0 + (W[i2]-W[i1])*q1*q1 + (W[32]-W[i2])*q2*q2
     * (and with the q of shift -). The first terms depend on i1 only, the last on i2 only:
     * computed once each, the same products, added in ggml's order. q1 = +-1/8 and rounding is
     * symmetric, so the middle terms of the two shifts are the same up to sign. */
    float cx_p[BS + 1], cx_m[BS + 1], cw_p[BS + 1], cw_m[BS + 1];
    for (int i2 = 0; i2 <= BS; ++i2) {
        const float dx2 = sumx[BS] - sumx[i2], dw2 = sumw[BS] - sumw[i2];
        cx_p[i2] = dx2 * x_p[2];
        cx_m[i2] = dx2 * x_m[2];
        cw_p[i2] = dw2 * x_p[2] * x_p[2];
        cw_m[i2] = dw2 * x_m[2] * x_m[2];
    }
    float best_score = -FLT_MAX, scale = max;
    int besti1 = -1, besti2 = -1, best_shift = 0;
    for (int i1 = 0; i1 <= BS; ++i1) {
        const float dx0 = sumx[i1] - sumx[0], dw0 = sumw[i1] - sumw[0];
        const float ax_p = dx0 * x_p[0], ax_m = dx0 * x_m[0];
        const float aw_p = dw0 * x_p[0] * x_p[0], aw_m = dw0 * x_m[0] * x_m[0];
        for (int i2 = i1; i2 <= BS; ++i2) {
            const float dx1 = sumx[i2] - sumx[i1], dw1 = sumw[i2] - sumw[i1];
            const float bx = dx1 * x_p[1], bw = dw1 * x_p[1] * x_p[1]; /* x_m[1] = -x_p[1] */
            const float sumqx_p = ax_p + bx + cx_p[i2], sumq2_p = aw_p + bw + cw_p[i2];
            const float sumqx_m = ax_m - bx + cx_m[i2], sumq2_m = aw_m + bw + cw_m[i2];
            /* most splits lose to the best so far: test both shifts at once first (exact, since
             * the best does not change until one of them wins) */
            if (!((sumq2_p > 0) & (sumqx_p * sumqx_p > best_score * sumq2_p)) &&
                !((sumq2_m > 0) & (sumqx_m * sumqx_m > best_score * sumq2_m)))
                continue;
            if (sumq2_p > 0 && sumqx_p * sumqx_p > best_score * sumq2_p) {
                scale = sumqx_p / sumq2_p;
                best_score = scale * sumqx_p;
                besti1 = i1;
                besti2 = i2;
                best_shift = 1;
            }
            if (sumq2_m > 0 && sumqx_m * sumqx_m > best_score * sumq2_m) {
                scale = sumqx_m / sumq2_m;
                best_score = scale * sumqx_m;
                besti1 = i1;
                besti2 = i2;
                best_shift = -1;
            }
        }
    }
    if (besti1 < 0 || besti2 < 0 || best_shift == 0)
        return 0;
    for (int j = 0; j < BS; ++j)
        L[idx[j]] = (int8_t)(j < besti1 ? 0 : j < besti2 ? 1 : 2);
    if (scale < 0) {
        for (int j = 0; j < BS; ++j)
            L[j] = (int8_t)(2 - L[j]);
        scale = -scale;
        best_shift = -best_shift;
    }
    const float *xx = best_shift == 1 ? x_p : x_m;
    int off = 0;
    for (int k = 0; k < BS / 8; ++k)
        index[k] = (uint16_t)iq1_snap(S, L + 8 * k, xb + 8 * k, weight + 8 * k, scale, xx, &off);
    if (off) {
        const float *xk[4] = {xx, xx, xx, xx};
        scale = tc_iq1_refit(S, index, BS / 8, xb, weight, xk, scale);
    }
    *shift = best_shift;
    return scale;
}

void tc_iq1_s_finish(const float *scales, const int *shifts, const uint16_t *index, uint8_t *y)
{
    uint16_t qh[8];
    float max_scale = 0;
    memset(y, 0, IQ1S_SIZE);
    for (int ib = 0; ib < 8; ++ib) {
        const uint16_t *ix = index + 4 * ib;
        uint16_t h = 0;
        for (int k = 0; k < 4; ++k) {
            y[IQ1S_QS + 4 * ib + k] = (uint8_t)ix[k];
            h = (uint16_t)(h | (ix[k] >> 8) << 3 * k);
        }
        qh[ib] = h;
        tc_st_u16(y + IQ1S_QH + 2 * ib, h);
        max_scale = tc_fmax_ggml(max_scale, scales[ib]);
    }
    if (!max_scale)
        return; /* d = 0, but the indices stay (a fit of scale 0 still picked points) */
    float d = max_scale / 15;
    tc_put_f16(y, d * 1.125f); /* ggml's fudge factor */
    float id = 1 / d;
    for (int ib = 0; ib < 8; ++ib) {
        int l = iclamp(tc_nearest_int(0.5f * (id * scales[ib] - 1)), 0, 7);
        if (shifts[ib] == -1)
            l |= 8;
        tc_st_u16(y + IQ1S_QH + 2 * ib, (uint16_t)(qh[ib] | l << 12));
    }
}

void tc_ref_iq1_s_block(const tc_iq2_search *S, const float *x, const float *qw, uint8_t *y)
{
    float weight[QK_K], scales[8];
    int shifts[8];
    uint16_t index[32];
    const float sigma2 = tc_iq1_sigma2(x);
    for (int i = 0; i < QK_K; ++i)
        weight[i] = qw[i] * sqrtf(sigma2 + x[i] * x[i]);
    for (int ib = 0; ib < 8; ++ib)
        scales[ib] = iq1_s_sub(S, x + 32 * ib, weight + 32 * ib, &shifts[ib], index + 4 * ib);
    tc_iq1_s_finish(scales, shifts, index, y);
}

/* ===== IQ1_M: 56 bytes = qs[32], qh[16] (sub-block ib: group 0's high index bits in 0..2 and
 * its negative shift in bit 3, group 1's in 4..6 and 7), scales[8] as 4 LE u16: 4 x 3-bit
 * sub-scales in bits 0..11, a nibble of fp16(d) in 12..15 ===== */

/* One sub-block of 16: its scale (>= 0, 0 when skipped), shift code 0..3 and 2 grid indices. */
static float iq1_m_sub(const tc_iq2_search *S, const float *xb, const float *weight, int *shift,
                       uint16_t index[2])
{
    enum { BS = 16 };
    int idx[BS], tmp[BS];
    int8_t L[BS];
    *shift = 0;
    index[0] = index[1] = 0;
    const float max = iq1_amax(xb, BS);
    if (max < GROUP_MAX_EPS_IQ1_M)
        return 0;
    for (int j = 0; j < BS; ++j)
        idx[j] = j;
    tc_iq1_sort(idx, BS, xb, tmp);
    /* prefix sums of w*x and w over the sorted elements, kept per half of the sub-block (the
     * halves are the two groups, each with its own shift) */
    float px[2][BS + 1], pw[2][BS + 1];
    px[0][0] = px[1][0] = pw[0][0] = pw[1][0] = 0;
    for (int j = 0; j < BS; ++j) {
        const int i = idx[j], h = i < BS / 2 ? 0 : 1;
        px[h][j + 1] = px[h][j] + weight[i] * xb[i];
        px[1 - h][j + 1] = px[1 - h][j];
        pw[h][j + 1] = pw[h][j] + weight[i];
        pw[1 - h][j + 1] = pw[1 - h][j];
    }
    const float txs[2] = {px[0][BS], px[1][BS]}, tws[2] = {pw[0][BS], pw[1][BS]};
    /* level steps are -1 for both shifts, so a split's sum w*x*q is T*q2 - P[i1] - P[i2]; the
     * q^2 steps are constants (all exact) */
    const float p2 = x_p[2], m2 = x_m[2];
    const float cp1 = x_p[0] * x_p[0] - x_p[1] * x_p[1], cp2 = x_p[1] * x_p[1] - x_p[2] * x_p[2];
    const float cm1 = x_m[0] * x_m[0] - x_m[1] * x_m[1], cm2 = x_m[1] * x_m[1] - x_m[2] * x_m[2];
    float best_score = -FLT_MAX, scale = max;
    int besti1 = -1, besti2 = -1, best_k = -1;
    /* shift codes: 0 (+, +), 1 (+, -), 2 (-, +), 3 (-, -) for (group 0, group 1). The products
     * that depend on one boundary only are computed once (the same floats, added in ggml's
     * order): T*q2 per group, W*q2*q2 + V[i1]*c1 per i1, V[i2]*c2 per i2. */
    float kx_p[2], kx_m[2], b2_p[2][BS + 1], b2_m[2][BS + 1];
    for (int h = 0; h < 2; ++h) {
        kx_p[h] = txs[h] * p2;
        kx_m[h] = txs[h] * m2;
        for (int i2 = 0; i2 <= BS; ++i2) {
            b2_p[h][i2] = pw[h][i2] * cp2;
            b2_m[h][i2] = pw[h][i2] * cm2;
        }
    }
    for (int i1 = 0; i1 <= BS; ++i1) {
        float a2_p[2], a2_m[2];
        for (int h = 0; h < 2; ++h) {
            a2_p[h] = tws[h] * p2 * p2 + pw[h][i1] * cp1;
            a2_m[h] = tws[h] * m2 * m2 + pw[h][i1] * cm1;
        }
        for (int i2 = i1; i2 <= BS; ++i2) {
            float qx_p[2], qx_m[2], q2_p[2], q2_m[2];
            for (int h = 0; h < 2; ++h) {
                const float sx = px[h][i1] + px[h][i2];
                qx_p[h] = kx_p[h] - sx;
                qx_m[h] = kx_m[h] - sx;
                q2_p[h] = a2_p[h] + b2_p[h][i2];
                q2_m[h] = a2_m[h] + b2_m[h][i2];
            }
            const float sumqx[4] = {qx_p[0] + qx_p[1], qx_p[0] + qx_m[1], qx_m[0] + qx_p[1],
                                    qx_m[0] + qx_m[1]};
            const float sumq2[4] = {q2_p[0] + q2_p[1], q2_p[0] + q2_m[1], q2_m[0] + q2_p[1],
                                    q2_m[0] + q2_m[1]};
            /* most splits lose to the best so far: test all 4 at once first (exact, since the
             * best does not change until one of them wins) */
            int any = 0;
            for (int k = 0; k < 4; ++k)
                any |= (sumq2[k] > 0) & (sumqx[k] * sumqx[k] > best_score * sumq2[k]);
            for (int k = 0; any && k < 4; ++k) {
                if (sumq2[k] > 0 && sumqx[k] * sumqx[k] > best_score * sumq2[k]) {
                    scale = sumqx[k] / sumq2[k];
                    best_score = scale * sumqx[k];
                    besti1 = i1;
                    besti2 = i2;
                    best_k = k;
                }
            }
        }
    }
    if (besti1 < 0 || besti2 < 0 || best_k < 0)
        return 0;
    for (int j = 0; j < BS; ++j)
        L[idx[j]] = (int8_t)(j < besti1 ? 0 : j < besti2 ? 1 : 2);
    if (scale < 0) {
        for (int j = 0; j < BS; ++j)
            L[j] = (int8_t)(2 - L[j]);
        scale = -scale;
        best_k = 3 - best_k; /* ggml: 0 <-> 3, 1 <-> 2 */
    }
    int off = 0;
    for (int k = 0; k < BS / 8; ++k)
        index[k] = (uint16_t)iq1_snap(S, L + 8 * k, xb + 8 * k, weight + 8 * k, scale,
                                      tc_iq1_m_xx(best_k, k), &off);
    if (off) {
        const float *xk[2] = {tc_iq1_m_xx(best_k, 0), tc_iq1_m_xx(best_k, 1)};
        scale = tc_iq1_refit(S, index, BS / 8, xb, weight, xk, scale);
    }
    *shift = best_k;
    return scale;
}

float tc_iq1_m_refit_d(const tc_iq2_search *S, const float *x, const float *weight, const int *ls,
                       const int *shifts, const uint16_t *index, float d)
{
    float sumqx = 0, sumq2 = 0;
    for (int ib = 0; ib < 16; ++ib) {
        const float *xb = x + 16 * ib, *wb = weight + 16 * ib;
        for (int k = 0; k < 2; ++k) {
            const float *xx = tc_iq1_m_xx(shifts[ib], k);
            const uint64_t g = S->grid[index[2 * ib + k]];
            for (int j = 0; j < 8; ++j) {
                float w = wb[8 * k + j];
                float q = xx[(((g >> 8 * j) & 0xff) - 1) / 2] * (float)(2 * ls[ib] + 1);
                sumqx += w * q * xb[8 * k + j];
                sumq2 += w * q * q;
            }
        }
    }
    return sumq2 > 0 ? sumqx / sumq2 : d;
}

void tc_iq1_m_finish(const tc_iq2_search *S, const float *x, const float *weight,
                     const float *scales, const int *shifts, const uint16_t *index, uint8_t *y,
                     tc_iq1_m_refit_fn refit)
{
    static const uint8_t masks[4] = {0x00, 0x80, 0x08, 0x88};
    float max_scale = 0;
    memset(y, 0, IQ1M_SIZE);
    for (int ib = 0; ib < 16; ++ib) {
        const uint16_t *ix = index + 2 * ib;
        y[IQ1M_QS + 2 * ib] = (uint8_t)ix[0];
        y[IQ1M_QS + 2 * ib + 1] = (uint8_t)ix[1];
        y[IQ1M_QH + ib] = (uint8_t)((ix[0] >> 8) | (ix[1] >> 8) << 4);
        max_scale = tc_fmax_ggml(max_scale, scales[ib]);
    }
    if (!max_scale)
        return; /* no scales, no shift bits, but the indices stay */
    uint16_t sc[4] = {0, 0, 0, 0};
    int ls[16];
    float d = max_scale / 15;
    float id = 1 / d;
    for (int ib = 0; ib < 16; ++ib) {
        const int l = iclamp(tc_nearest_int(0.5f * (id * scales[ib] - 1)), 0, 7);
        ls[ib] = l;
        sc[ib / 4] = (uint16_t)(sc[ib / 4] | l << 3 * (ib % 4));
        y[IQ1M_QH + ib] |= masks[shifts[ib]];
    }
    d = (refit ? refit : tc_iq1_m_refit_d)(S, x, weight, ls, shifts, index, d);
    const uint16_t h = tc_f32_to_f16(d * 1.1125f); /* ggml's fudge factor */
    sc[0] = (uint16_t)(sc[0] | (h & 0x000f) << 12);
    sc[1] = (uint16_t)(sc[1] | (h & 0x00f0) << 8);
    sc[2] = (uint16_t)(sc[2] | (h & 0x0f00) << 4);
    sc[3] = (uint16_t)(sc[3] | (h & 0xf000));
    for (int k = 0; k < 4; ++k)
        tc_st_u16(y + IQ1M_SCALES + 2 * k, sc[k]);
}

void tc_ref_iq1_m_block(const tc_iq2_search *S, const float *x, const float *qw, uint8_t *y)
{
    float weight[QK_K], scales[16];
    int shifts[16];
    uint16_t index[32];
    if (qw != NULL) {
        const float sigma2 = tc_iq1_sigma2(x);
        for (int i = 0; i < QK_K; ++i)
            weight[i] = qw[i] * sqrtf(sigma2 + x[i] * x[i]);
    } else {
        for (int i = 0; i < QK_K; ++i)
            weight[i] = x[i] * x[i];
    }
    for (int ib = 0; ib < 16; ++ib)
        scales[ib] = iq1_m_sub(S, x + 16 * ib, weight + 16 * ib, &shifts[ib], index + 2 * ib);
    tc_iq1_m_finish(S, x, weight, scales, shifts, index, y, NULL);
}

/* ===== The neighbour lists as level codes, for the SIMD kernels (iq1q.h) ===== */

static tc_iq1_lists lists;
static int lists_ok;
static pthread_once_t lists_once = PTHREAD_ONCE_INIT;

/* The walk's state (iq2q.h's tc_iq2_walk, shared with the IQ2 builders): the tables being
 * filled (list NULL: only sizing). IQ1's map is indexed by the base-3 code c3; its records are
 * the count, then each point's level code, padded to whole vectors with 0xffff. */
typedef struct iq1_build {
    const tc_iq2_search *S;
    int32_t *map;
    uint16_t *list;
} iq1_build;

static void iq1_on_grid(void *ctx, int c3, int code, int index)
{
    (void)code;
    ((iq1_build *)ctx)->map[c3] = index;
}

static size_t iq1_off_grid(void *ctx, int c3, int code, const uint16_t *nb, size_t at)
{
    iq1_build *b = ctx;
    (void)code;
    const int n = nb[0];
    const size_t padded = (size_t)(n + TC_IQ1_LANES - 1) / TC_IQ1_LANES * TC_IQ1_LANES;
    if (b->list) {
        b->map[c3] = -(int32_t)at - 1;
        b->list[at] = (uint16_t)n;
        for (size_t j = 0; j < padded; j++)
            b->list[at + 1 + j] =
                j < (size_t)n ? (uint16_t)tc_iq2_grid_code(b->S->grid[nb[1 + j]]) : 0xffff;
    }
    return 1 + padded;
}

static void lists_build(void)
{
    const tc_iq2_search *S = tc_iq2_search_get(TC_DTYPE_IQ1_S);
    if (S == NULL)
        return;
    static const tc_iq2_visit visit = {iq1_on_grid, iq1_off_grid};
    iq1_build b = {S, malloc(6561 * sizeof *b.map), NULL};
    size_t room = b.map ? tc_iq2_walk(S, &visit, &b) : 0;
    if (room && (b.list = malloc((room + TC_IQ1_LANES) * sizeof *b.list)) != NULL &&
        tc_iq2_walk(S, &visit, &b) == room) {
        lists = (tc_iq1_lists){b.map, b.list};
        lists_ok = 1;
        return;
    }
    free(b.map);
    free(b.list);
}

const tc_iq1_lists *tc_iq1_lists_get(void)
{
    pthread_once(&lists_once, lists_build);
    return lists_ok ? &lists : NULL;
}

/* ===== Row drivers: the same importance weights for every row, as ggml's quantize_iq1_* ===== */

static void iq1_quant_rows(int t, const float *src, void *dst, int64_t n_rows, int64_t n_per_row,
                           const float *qw)
{
    const int m = t == TC_DTYPE_IQ1_M;
    const size_t bsize = m ? IQ1M_SIZE : IQ1S_SIZE;
    const int64_t nb = n_per_row / QK_K;
    const tc_iq2_search *S = tc_iq2_search_get(t);
    uint8_t *y = dst;
    if (S == NULL || (!m && qw == NULL)) { /* out of memory building the tables (or a contract
                                              breach): zero blocks rather than a crash */
        memset(y, 0, (size_t)(n_rows * nb) * bsize);
        return;
    }
    for (int64_t r = 0; r < n_rows; ++r)
        for (int64_t i = 0; i < nb; ++i, y += bsize) {
            const float *x = src + r * n_per_row + i * QK_K;
            const float *w = qw ? qw + i * QK_K : NULL;
            if (m)
                tc_ref_iq1_m_block(S, x, w, y);
            else
                tc_ref_iq1_s_block(S, x, w, y);
        }
}

static void tc_iq1_s_quant_ref(const float *src, void *dst, int64_t n_rows, int64_t n_per_row,
                               const float *imatrix)
{
    iq1_quant_rows(TC_DTYPE_IQ1_S, src, dst, n_rows, n_per_row, imatrix);
}

static void tc_iq1_m_quant_ref(const float *src, void *dst, int64_t n_rows, int64_t n_per_row,
                               const float *imatrix)
{
    iq1_quant_rows(TC_DTYPE_IQ1_M, src, dst, n_rows, n_per_row, imatrix);
}

void tc_ref_register_iq1_quant(tc_kernel_table *k)
{
    k->quantize[TC_DTYPE_IQ1_S] = tc_iq1_s_quant_ref;
    k->quantize[TC_DTYPE_IQ1_M] = tc_iq1_m_quant_ref;
}
