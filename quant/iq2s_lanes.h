/*
 * iq2s_lanes.h - private to quant/: the IQ2_S quantizer with W float lanes, a template shared by
 * avx2_iq2s.c (W = 8), avx512_iq2s.c (W = 16) and neon_iq2s.c (W = 4). The including file
 * defines the vector types and ops below, then includes this once. block_prep, 8 elements at a
 * time, is grid_avx2.h's AVX2 function where TC_GRID_AVX2 is set (both x86 files), in the W-lane
 * ops elsewhere; with W = 4 a term table holds one element (a broadcast) and every neighbour
 * list takes the general search, its first vector masked like the others (lists may be shorter
 * than W).
 * Bit-identical to ref_iq3_quant.c's IQ2_S (read its header first: the algorithm is described
 * there). quant/ builds with -ffp-contract=off and nothing here is fused or reassociated: every
 * float a lane computes is one the reference computes, by the same operations on the same
 * operands in the same order.
 *
 * Blocks with Inf or NaN (in x or in the importance weights) go to the reference. With finite
 * input every NaN that can still arise (0 * Inf, Inf - Inf, the square root of a negative
 * weight) is the one default NaN, so which operand an operation propagates cannot matter; the
 * selects below keep the reference's comparisons exactly (strict ones strict, NaN false).
 *
 * The lanes are sub-blocks (lane b = sub-block b of the block, W at a time): every step of the
 * reference's per-sub-block work is the same in each sub-block, only its data differ.
 * - Weights, their square roots, magnitudes and signs run in element order, 8 at a time, the
 *   reference's operations per element; the per-lane copies (element i of every sub-block in one
 *   vector) are gathered from them. The sub-block's largest magnitude is the reference's chain of
 *   MAX in element order, per lane.
 * - The trial scales run one after the other, all sub-blocks at once: id = (5 + is*0.1f) / max
 *   and 1/id per lane are the reference's operations; rounding an element to a level is its
 *   0.5f * (id*x - 1), nearest_int's 1.5*2^23 trick and the clamp; the 8 levels of a group make
 *   its code (2 bits each) in the lane.
 * - Which trials' groups are off the grid comes from gathers of the map; those groups are
 *   compacted into work lists by the length of their neighbour list (no data-dependent branch
 *   per search).
 * - The neighbour search of an off-grid group runs W candidates at once (lane = candidate, from
 *   the lists of iq2s.h): the terms w*(scale*q - x)^2 of the group's 8 elements at the 3 levels
 *   are the reference's ((w*diff)*diff) in the lanes of 32/W tables (lane 4*e + l: element e of
 *   the table's 4 or 2, level l); each lane picks its own by the term indices of its candidate
 *   (a permute) and adds them in element order. The reference starts the sum from 0; 0 + t
 *   differs from t only when t is -0, and then only in the sign of a zero result, which no
 *   comparison sees (-0 == +0), so the lanes start from the first term. The reference keeps the
 *   first strictly smaller distance below FLT_MAX: a lane's distance becomes FLT_MAX when it is
 *   not below FLT_MAX (NaN included: min(d, FLT_MAX) returns FLT_MAX then), each lane keeps its
 *   first strictly smaller one, and the lanes are merged by (distance, list position): the
 *   smallest distance, the first position holding it. No distance below FLT_MAX: grid point 0,
 *   as the reference.
 * - With W <= 8 (AVX2, NEON) the searches run by trials instead: consecutive trials often round a
 *   group to the same off-grid code (about 6 in a row on gaussian data), and such a run searches
 *   its one list for W trials at once, lane = trial (run_search): the terms of the 8 elements at
 *   the 3 levels are the same operations per lane at the lane's scale (the trial loop's, by the
 *   same two divisions), a candidate's distance adds the terms its levels pick (the code2 in its
 *   entry) in element order, and each lane keeps its first strictly smaller distance below
 *   FLT_MAX in list order, which is the reference's search in every lane. Runs are found from
 *   bit masks (off the grid, same entry as the trial before) without a branch per trial, and the
 *   results go back to the trials' entries by transposes and selects. Runs shorter than
 *   RUN_MIN (about 30 % of them, and lists are short) search trial by trial as with W = 16.
 * - The trials' fits sum (w*x)*q and (w*q)*q over the 16 elements in the reference's order, from
 *   0, in the sub-block lanes (q from the level in the code, by a permute of {1, 3, 5}). The
 *   choice of the best trial is the reference's loop in trial order, per lane, the update a
 *   select.
 * - The requantization at the fitted scale rounds the off-grid groups of the sub-blocks that
 *   need it in lanes, searches as above, and refits in lanes. The sign flip, the grid indices
 *   and the block scales are the reference's scalar steps.
 *
 * Required from the includer (besides grid_ops_avx2.h / grid_ops_avx512.h's ops):
 *   I_GATHER(const int32_t *base, VI idx), F_LOAD8(const float *p): 8 floats in the low lanes
 *   (the rest unused), F_SQRT, F_NEG (sign flipped), M_ICMPGT (int32 compare to a mask),
 *   M_AND(a, b), I_MASK_ADD(v, m, k): v + k in the lanes of m, I_HMIN(v): the smallest int32 lane,
 *   TRANSPOSE16(const float *p, VF out[16]): out[i] lane b = p[16 * b + i]
 *   W_LOAD(const uint32_t *p, int k): the first min(k, W) values at p (k >= 1), the other lanes
 *   not read; W_MIN_FMAX(VF d, int k, VF fmax): min(d, fmax) in the first min(k, W) lanes, fmax
 *   in the others
 *   I_COMPRESS_STORE(int32_t *p, VI v, unsigned bits): the lanes of the set bits, in order, at p
 *   (may write W values); F_LOAD8 only with W >= 8
 */

#include "blocks.h"
#if TC_GRID_AVX2
#include "grid_avx2.h"
#endif
#include "iq2q.h"
#include "iq2s.h"
#include "tc_dtype.h"

#include <float.h>
#include <math.h>
#include <string.h>

#define IQ2S_NT  19       /* trial scales: is = -9..9 */
#define IQ2S_EPS 1e-8f    /* GROUP_MAX_EPS_IQ2_S */
#define NTV      (32 / W) /* term tables of a group: 16 / W * 2 elements... 4 levels each */
#define NPASS    (16 / W) /* passes over a block's 16 sub-blocks */
/* W <= 8: a group's searches in trials with the same off-grid entry run together, the trials in
 * lanes (run_search) */
#define IQ2S_RUNS (W <= 8)
/* W <= 8: the shortest run run_search takes; shorter ones search trial by trial with the
 * candidates in lanes (nb_search), cheaper for a list of 9.5 candidates on average (AVX2,
 * alternating runs, 2026-12-06: 2 10.1x, 3 10.2x, 4 and 5 10.0x, all runs 9.5x) */
#define RUN_MIN 3
/* res's trials: the last run may start at trial 18 and writes W; transposes read W from t0 */
#define RES_NT (((IQ2S_NT + W - 1) / W + 1) * W)

#define ALWAYS_INLINE inline __attribute__((always_inline))

/* q = 2l + 1 for level l at position l mod 4 (position 3: no point has level 3) */
static const float qpat[16] = {1, 3, 5, 0, 1, 3, 5, 0, 1, 3, 5, 0, 1, 3, 5, 0};
static const int32_t lane_index[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};

/* A group's xval and wa at lane 4*e + l of table e / (W/4): e the element, l the level. */
typedef struct grp_tab {
    VF x[NTV], w[NTV];
} grp_tab;

/*
 * The code3 of the group of 8 values (element j of the lanes' sub-blocks in xv[j]) at the lanes'
 * trial inverse scales id. The reference's level is clamp(nearest_int(0.5f * (p - 1)), 0, 2) of
 * p = id*x; in a trial p <= (5.9f / max) * max (it never reaches 2^22) and p >= 0 or NaN, and
 * then that level is (p > 2) + (p >= 4): 0.5f * (p - 1) is exact near 1 and 3, nearest_int's
 * 1.5*2^23 trick rounds half to even (0.5 -> 0, 1.5 -> 2), a NaN gives 0 both ways.
 */
TC_ISA_ATTR static ALWAYS_INLINE VI trial_code3(VF id, const VF *xv)
{
    const VF two = F_SET1(2.0f), four = F_SET1(4.0f);
    VI c = I_ZERO;
    int p3 = 1;
    for (int j = 0; j < 8; j++, p3 *= 3) {
        const VF p = F_MUL(id, xv[j]);
        c = I_MASK_ADD(c, M_CMP(p, two, _CMP_GT_OQ), p3);
        c = I_MASK_ADD(c, M_CMP(p, four, _CMP_GE_OQ), p3);
    }
    return c;
}

/* The code2 of the group of 8 values xv at the lanes' inverse scales id (level_of per element:
 * any id, the reference's operations). */
TC_ISA_ATTR static ALWAYS_INLINE VI group_codes(VF id, const VF *xv)
{
    const VF one = F_SET1(1.0f), half = F_SET1(0.5f), magic = F_SET1(12582912.f);
    VI code = I_ZERO;
    for (int j = 0; j < 8; j++) {
        const VF f = F_MUL(half, F_SUB(F_MUL(id, xv[j]), one));
        VI l = I_SUB(I_AND(F_BITS(F_ADD(f, magic)), I_SET1(0x007fffff)), I_SET1(0x00400000));
        l = I_MAX(I_ZERO, I_MIN(I_SET1(2), l));
        code = I_OR(code, I_SLLI(l, 2 * j));
    }
    return code;
}

/* The distances of the lanes' candidates (term indices in N), terms added in element order. */
#define NB_DIST(N)                                                                                 \
    F_ADD(F_ADD(F_ADD(F_ADD(F_ADD(F_ADD(F_ADD(F_PERM(e[0], N), F_PERM(e[4 / W], I_SRLI(N, 4))),    \
                                        F_PERM(e[8 / W], I_SRLI(N, 8))),                           \
                                  F_PERM(e[12 / W], I_SRLI(N, 12))),                               \
                            F_PERM(e[16 / W], I_SRLI(N, 16))),                                     \
                      F_PERM(e[20 / W], I_SRLI(N, 20))),                                           \
                F_PERM(e[24 / W], I_SRLI(N, 24))),                                                 \
          F_PERM(e[28 / W], I_SRLI(N, 28)))

/*
 * iq2_best_neighbour of the reference: of the n candidates at wd (term indices), the list
 * position of the point nearest to the group g at `scale` by sum of w*(scale*q - x)^2, the first
 * of equal distances; -1 when no distance is below FLT_MAX. nvec: the number of vectors of
 * candidates when n is known to need that many (1 or 2; W = 8: 2 for any n <= 16), 0 for any.
 * Lanes past n load nothing and hold FLT_MAX, which never wins.
 */
TC_ISA_ATTR static ALWAYS_INLINE int nb_search(const uint32_t *wd, int nvec, int n,
                                               const grp_tab *g, float scale)
{
    const VF sq = F_MUL(F_SET1(scale), F_LOADU(qpat)), fmax = F_SET1(FLT_MAX);
    VF e[NTV];
    for (int v = 0; v < NTV; v++) {
        const VF d = F_SUB(sq, g->x[v]);
        e[v] = F_MUL(F_MUL(g->w[v], d), d);
    }
    if (nvec == 1) {
        const VF best = W_MIN_FMAX(NB_DIST(W_LOAD(wd, n)), n, fmax);
        const VF m = F_HMIN(best);
        if (!(F_FIRST(m) < FLT_MAX))
            return -1;
        return __builtin_ctz(M_BITS(M_CMP(best, m, _CMP_EQ_OQ)));
    }
#if W >= 8
    /* FLT_MAX unless strictly below it (W = 8, nvec = 2: lists of 1 to 16, the first vector
     * masked too) */
    VF best = W == 8 && nvec == 2 ? W_MIN_FMAX(NB_DIST(W_LOAD(wd, n)), n, fmax)
                                  : F_MIN(NB_DIST(I_LOADU(wd)), fmax);
#else
    VF best = W_MIN_FMAX(NB_DIST(W_LOAD(wd, n)), n, fmax); /* lists as short as W */
#endif
    if (nvec == 2) {
        /* lane j holds candidate j, or j + W where lt: any tied first-vector lane comes first */
        const VF d = W_MIN_FMAX(NB_DIST(W_LOAD(wd + W, n - W)), n - W, fmax);
        const VM lt = M_CMP(d, best, _CMP_LT_OQ);
        best = F_BLEND(best, d, lt);
        const VF m = F_HMIN(best);
        if (!(F_FIRST(m) < FLT_MAX))
            return -1;
        const unsigned eq = M_BITS(M_CMP(best, m, _CMP_EQ_OQ)), first = eq & ~M_BITS(lt);
        return first ? __builtin_ctz(first) : W + __builtin_ctz(eq);
    }
    VI pos = I_LOADU(lane_index), bpos = pos;
    for (int c = W; c < n; c += W) {
        pos = I_ADD(pos, I_SET1(W));
        const VF d = W_MIN_FMAX(NB_DIST(W_LOAD(wd + c, n - c)), n - c, fmax);
        const VM lt = M_CMP(d, best, _CMP_LT_OQ);
        best = F_BLEND(best, d, lt);
        bpos = I_BLEND(bpos, pos, lt);
    }
    const VF m = F_HMIN(best);
    if (!(F_FIRST(m) < FLT_MAX))
        return -1;
    const VM eq = M_CMP(best, m, _CMP_EQ_OQ);
    return I_HMIN(I_BLEND(I_SET1(0x7fffffff), bpos, eq));
}

/* The entry of the point the search of off-grid entry e finds for group g at `scale` (cls0: e's
 * class is known to be 0). */
TC_ISA_ATTR static ALWAYS_INLINE int32_t search_entry(const tc_iq2s_lists *T, int32_t e, int cls0,
                                                      const grp_tab *g, float scale)
{
    const uint32_t cls = cls0 ? 0 : (uint32_t)e >> 29 & 3;
    const uint32_t *lst = T->lst + T->list[(uint32_t)e >> 16 & 0x1fff];
    const int n = (int)lst[0];
    int p;
    /* W = 8: lists of classes 0 and 1 alike (a branch on the class mispredicts) */
    if (W == 16 && cls <= 1)
        p = nb_search(lst + 1, 1, n, g, scale);
    else if ((W == 8 && cls <= 1) || (W == 16 && cls == 2))
        p = nb_search(lst + 1, 2, n, g, scale);
    else
        p = nb_search(lst + 1, 0, n, g, scale);
    return T->entry[p >= 0 ? ((const uint16_t *)(lst + 1 + n))[p] : 0];
}

#if IQ2S_RUNS
/*
 * The searches of one group (xg, wg: its xval and wa) with the same off-grid entry e in up to W
 * trials at once, lane t = trial at scale s[t]:
 * iq2_best_neighbour of the reference per lane, the list in its order with the candidates one
 * after the other, each lane keeping its first strictly smaller distance below FLT_MAX. A term
 * w*(scale*q - x)^2 of element j at level l is ((w*d)*d) of d = scale*q - x, the reference's
 * operations, in a table per element for every lane at once; a candidate's distance adds its 8
 * terms in element order from the first (0 + t differs from t only in a zero's sign, which no
 * comparison sees). out[t]: the entry of lane t's point (grid point 0's when no distance is below
 * FLT_MAX). Runs shorter than RUN_MIN do not come here: see the trials' searches.
 * Measured no faster (AVX2, alternating pairs): the even and odd candidates in two chains merged
 * by (distance, position), as IQ2_XXS's nb_search8 does; offsets from a byte table per grid
 * point (18 loads a candidate instead of 10: about 8 % slower); the first three terms' sums
 * (t0 + t1) + t2 from a table of the 27, as nb_search8 (2026-12-06: 36 adds and 27 stores a run
 * to save 2 adds and 2 loads a candidate, where a search has 9.5 candidates on average on
 * gaussian data: 4 % more kernel instructions than the masked offsets alone, no faster); the
 * entry blended in broadcast from memory (one load) instead of from the scalar (two vector uops):
 * 6 alternating pairs 10.9x -> 10.6x medians; the runs' scales from the trial loop's, transposed
 * once a pass (8 x 8 transposes), instead of two divisions a run: 5 pairs 10.58x -> 10.63x
 * medians, no gain; runs of 11 or more (14 % of them) at 16 scales in two vectors, each
 * candidate's offsets taken once for both (as IQ2_XXS's nb_search16): 4 % fewer kernel
 * instructions, but 11 alternating pairs gave the same medians (10.5x / 10.5x, then 10.14x /
 * 10.10x; from 9 trials 10.14x).
 */
TC_ISA_ATTR static ALWAYS_INLINE void run_search(const tc_iq2s_lists *T, int32_t e, const float *xg,
                                                 const float *wg, VF s, int32_t *out)
{
    const uint32_t *lst = T->lst + T->list[(uint32_t)e >> 16 & 0x1fff];
    const int n = (int)lst[0];
    const uint16_t *gi = (const uint16_t *)(lst + 1 + n);
    const VF sq[3] = {s, F_MUL(s, F_SET1(3.0f)), F_MUL(s, F_SET1(5.0f))}; /* s * 1.0f == s */
    /* element j's terms at levels 0..2 at strides that let each offset be the code's level
     * bits masked in place (or shifted once), times an address scale: elements 3's and 7's at
     * 64 bytes, the others' at sizeof(VF) (no level 3 is ever read) */
    enum { S64 = 64 / sizeof(VF) };
    VF e0[3], e1[3], e2[3], e3[2 * S64 + 1], e4[3], e5[3], e6[3], e7[2 * S64 + 1];
    VF *const et[8] = {e0, e1, e2, e3, e4, e5, e6, e7};
    for (int j = 0; j < 8; j++) {
        const VF xj = F_BCAST(xg + j), wj = F_BCAST(wg + j);
        for (int l = 0; l < 3; l++) {
            const VF d = F_SUB(sq[l], xj);
            et[j][(j & 3) == 3 ? S64 * l : l] = F_MUL(F_MUL(wj, d), d);
        }
    }
#define RUN_AT(t, off) (*(const VF *)((const char *)(t) + (off)))
    VF best = F_SET1(FLT_MAX);
    VI bent = I_SET1(T->entry[0]);
    for (int c = 0; c < n; c++) {
        const uint32_t ent = (uint32_t)T->entry[gi[c]];
        const size_t u = ent, h = u >> 8; /* levels of elements 0..3, 4..7 */
        VF d = RUN_AT(e0, (u << 3 & 0x18) * (sizeof(VF) / 8));
        d = F_ADD(d, RUN_AT(e1, (u & 0x0c) * (sizeof(VF) / 4)));
        d = F_ADD(d, RUN_AT(e2, (u & 0x30) * (sizeof(VF) / 16)));
        d = F_ADD(d, RUN_AT(e3, u & 0xc0));
        d = F_ADD(d, RUN_AT(e4, (h << 3 & 0x18) * (sizeof(VF) / 8)));
        d = F_ADD(d, RUN_AT(e5, (h & 0x0c) * (sizeof(VF) / 4)));
        d = F_ADD(d, RUN_AT(e6, (h & 0x30) * (sizeof(VF) / 16)));
        d = F_ADD(d, RUN_AT(e7, h & 0xc0));
        const VM lt = M_CMP(d, best, _CMP_LT_OQ);
        best = F_BLEND(best, d, lt);
        bent = I_BLEND(bent, I_SET1((int32_t)ent), lt);
    }
#undef RUN_AT
    I_STOREU(out, bent);
}
#endif

#if IQ2S_RUNS
/* out[u] lane b = p[RES_NT * b + u] (u, b < W) */
#if W == 8 && TC_GRID_AVX2
TC_ISA_ATTR static ALWAYS_INLINE void res_transpose(const int32_t *p, VI *out)
{
    __m256 r[8], o[8];
    for (int b = 0; b < 8; b++)
        r[b] = _mm256_castsi256_ps(I_LOADU(p + RES_NT * b));
    tc_tr8x8(r, o);
    for (int u = 0; u < 8; u++)
        out[u] = _mm256_castps_si256(o[u]);
}
#else
TC_ISA_ATTR static ALWAYS_INLINE void res_transpose(const int32_t *p, VI *out)
{
    int32_t t[W][W];
    for (int u = 0; u < W; u++)
        for (int b = 0; b < W; b++)
            t[u][b] = p[RES_NT * b + u];
    for (int u = 0; u < W; u++)
        out[u] = I_LOADU(t[u]);
}
#endif
#endif

/* fit_sums of the reference for the lanes' groups (entries e0, e1: their code2 in the low 16
 * bits, and q's table repeats every 4 lanes, so the bits above do not matter): sum (w*x)*q and
 * (w*q)*q from 0 in element order; ws, wxs: w and w*xval of element i of the lanes. */
TC_ISA_ATTR static ALWAYS_INLINE void lane_sums(const VF *ws, const VF *wxs, VI e0, VI e1,
                                                VF *sumqx, VF *sumq2)
{
    const VF q = F_LOADU(qpat);
    VF sx = F_ZERO, s2 = F_ZERO;
    for (int i = 0; i < 16; i++) {
        const VF qi = F_PERM(q, I_SRLI(i < 8 ? e0 : e1, 2 * (i & 7)));
        sx = F_ADD(sx, F_MUL(wxs[i], qi));
        s2 = F_ADD(s2, F_MUL(F_MUL(ws[i], qi), qi));
    }
    *sumqx = sx;
    *sumq2 = s2;
}

/* sigma2 = 2 * sum(x^2) / 256 over the block, summed in order (ref's block_sigma2). Measured
 * no faster (AVX2, 11 alternating pairs, 2026-12-06: 10.39x and 10.35x medians): the next
 * block's sum summed ahead in pieces in the trial loop, as IQ2_XXS does; the out-of-order core
 * overlaps these 256 additions already. */
static inline float block_sigma2(const float *x)
{
    return 2 * tc_iq2_sum_squares(0, x, QK_K) / QK_K;
}

/* Per element of the block, in element order, as the reference's sub_weights and
 * split_signs8: xval and wa (for the search tables), the sign bits of each group of 8. */
#if TC_GRID_AVX2
#define block_prep tc_iq2s_block_prep8
#else
TC_ISA_ATTR static inline void block_prep(const float *x, const float *qw, float sigma2, float *wa,
                                          float *xval, uint8_t *signs)
{
    const VF zero = F_ZERO, s2 = F_SET1(sigma2), s4 = F_SET1(0.25f * sigma2);
    for (int g = 0; g < 32; g++) {
        unsigned s = 0;
        for (int h = 0; h < 8; h += W) {
            const int o = 8 * g + h;
            const VF xv = F_LOADU(x + o), xv2 = F_MUL(xv, xv);
            const VF wk = qw ? F_MUL(F_LOADU(qw + o), F_SQRT(F_ADD(s2, xv2))) : F_ADD(s4, xv2);
            const VM neg = M_CMP(xv, zero, _CMP_LT_OQ); /* !(x >= 0): x is not NaN */
            F_STOREU(wa + o, F_SQRT(wk));
            F_STOREU(xval + o, F_BLEND(xv, F_NEG(xv), neg));
            s |= M_BITS(neg) << h;
        }
        signs[g] = (uint8_t)s;
    }
}
#endif

/* The same per lane (element i of the lanes' sub-blocks in xt[i], weights qt[i] or none): xval,
 * w and w*xval. */
TC_ISA_ATTR static inline void lane_prep(const VF *xt, const VF *qt, float sigma2, VF *xs, VF *ws,
                                         VF *wxs)
{
    const VF s2 = F_SET1(sigma2), s4 = F_SET1(0.25f * sigma2), zero = F_ZERO;
    for (int i = 0; i < 16; i++) {
        const VF x2 = F_MUL(xt[i], xt[i]);
        const VF w = qt ? F_MUL(qt[i], F_SQRT(F_ADD(s2, x2))) : F_ADD(s4, x2);
        xs[i] = F_BLEND(xt[i], F_NEG(xt[i]), M_CMP(xt[i], zero, _CMP_LT_OQ));
        ws[i] = w;
        wxs[i] = F_MUL(w, xs[i]);
    }
}

/* Group g's table (xval, wa of its 8 elements laid out for nb_search). */
TC_ISA_ATTR static ALWAYS_INLINE void group_tab(const float *xval, const float *wa, int g,
                                                grp_tab *t)
{
    for (int v = 0; v < NTV; v++) {
#if W >= 8
        /* lane 4*e + l of table v: element v*(W/4) + e */
        const VI rep = I_ADD(I_SET1(v * (W / 4)), I_SRLI(I_LOADU(lane_index), 2));
        t->x[v] = F_PERM(F_LOAD8(xval + 8 * g), rep);
        t->w[v] = F_PERM(F_LOAD8(wa + 8 * g), rep);
#else
        /* W = 4: one element per table, element v in every lane */
        t->x[v] = F_BCAST(xval + 8 * g + v);
        t->w[v] = F_BCAST(wa + 8 * g + v);
#endif
    }
}

/* One block of finite values (and finite weights qw, or NULL) into y. */
TC_ISA_ATTR static void iq2s_block(const tc_iq2s_lists *T, const float *x, const float *qw,
                                   uint8_t *y)
{
    float wa[QK_K], xval[QK_K];
    uint8_t signs[32];
    float scales[16];
    unsigned valid_all = 0;
    float tnum[IQ2S_NT + W]; /* the trials' 5 + is * 0.1f (is = t - 9; more for padding lanes) */
    for (int t = 0; t < IQ2S_NT + W; t++)
        tnum[t] = 5 + (float)(t - 9) * 0.1f;
    memset(y, 0, IQ2S_SIZE);
    const float sigma2 = block_sigma2(x);
    block_prep(x, qw, sigma2, wa, xval, signs);
#if !IQ2S_RUNS
    grp_tab tabs[32]; /* every trial search reads them */
    for (int g = 0; g < 32; g++)
        group_tab(xval, wa, g, &tabs[g]);
#endif
    for (int pass = 0; pass < NPASS; pass++) {
        const int b0 = pass * W; /* the lanes' first sub-block */
        VF xs[16], ws[16], wxs[16];
        {
            VF xt[16], qt[16];
            TRANSPOSE16(x + 16 * b0, xt);
            if (qw)
                TRANSPOSE16(qw + 16 * b0, qt);
            lane_prep(xt, qw ? qt : NULL, sigma2, xs, ws, wxs);
        }
        VF maxv = xs[0];
        for (int i = 1; i < 16; i++) /* MAX(max, xval): max > xval ? max : xval */
            maxv = F_BLEND(xs[i], maxv, M_CMP(maxv, xs[i], _CMP_GT_OQ));
        const unsigned valid = M_BITS(M_CMP(maxv, F_SET1(IQ2S_EPS), _CMP_NLT_UQ));
        valid_all |= valid << b0;
        if (!valid)
            continue;

        /* the trials: entries, the off-grid groups to search (W = 8: class 0 apart) */
        enum { NBK = W == 8 ? 2 : 1 };
        int32_t cod[IQ2S_NT][2][W], mall[IQ2S_NT][2][W];
#if IQ2S_RUNS
        /* per sub-block lane, bit t: trial t's group k is off the grid, is the entry of t - 1 */
        VI offm[2] = {I_ZERO, I_ZERO}, samem[2] = {I_ZERO, I_ZERO};
#endif
        float sc[IQ2S_NT][W];
#if !IQ2S_RUNS
        int32_t wid[NBK][IQ2S_NT * 2 * W + W]; /* + W: a compress-store writes W values */
        int nw[NBK] = {0};
#endif
        for (int t = 0; t < IQ2S_NT; t++) {
            const VF id = F_DIV(F_SET1(tnum[t]), maxv);
            F_STOREU(sc[t], F_DIV(F_SET1(1.0f), id));
            for (int k = 0; k < 2; k++) {
                const VI m = I_GATHER(T->map3, trial_code3(id, xs + 8 * k));
                I_STOREU(mall[t][k], m);
#if IQ2S_RUNS
                offm[k] = I_MASK_ADD(offm[k], M_ICMPGT(I_ZERO, m), 1 << t);
                if (t > 0)
                    samem[k] = I_MASK_ADD(samem[k], M_ICMPEQ(m, I_LOADU(mall[t - 1][k])), 1 << t);
#else
                I_STOREU(cod[t][k], m);
                const unsigned off = M_BITS(M_ICMPGT(I_ZERO, m)) & valid;
                if (!off)
                    continue;
                const VI fid = I_ADD(I_LOADU(lane_index), I_SET1((2 * t + k) * W));
                if (NBK == 1) {
                    I_COMPRESS_STORE(wid[0] + nw[0], fid, off);
                    nw[0] += __builtin_popcount(off);
                } else {
                    const unsigned c0 =
                        off & ~M_BITS(M_ICMPGT(I_AND(m, I_SET1(0x60000000)), I_ZERO));
                    I_COMPRESS_STORE(wid[0] + nw[0], fid, c0);
                    nw[0] += __builtin_popcount(c0);
                    I_COMPRESS_STORE(wid[NBK - 1] + nw[NBK - 1], fid, off & ~c0);
                    nw[NBK - 1] += __builtin_popcount(off & ~c0);
                }
#endif
            }
        }
#if IQ2S_RUNS
        /* the searches: per group, the runs of trials with the same off-grid entry, W at most;
         * res[k][b][t]: trial t's entry of group k of lane b where it is off the grid */
        {
            float mx[W];
            uint32_t om[2][W], sm[2][W];
            int32_t res[2][W][RES_NT];
            F_STOREU(mx, maxv);
            for (int k = 0; k < 2; k++) {
                I_STOREU(om[k], offm[k]);
                I_STOREU(sm[k], samem[k]);
            }
            for (unsigned bb = valid; bb; bb &= bb - 1) {
                const int b = __builtin_ctz(bb);
                for (int k = 0; k < 2; k++) {
                    const int gx = 2 * (b0 + b) + k;
                    const uint32_t same = sm[k][b];
                    uint32_t starts = om[k][b] & ~same;
                    grp_tab gt;
                    int have_gt = 0;
                    while (starts) {
                        const int t = __builtin_ctz(starts);
                        starts &= starts - 1;
                        const int rl = __builtin_ctz(~(same >> (t + 1))) + 1; /* run length */
                        if (rl < RUN_MIN) {
                            /* a short run: each trial's search with the candidates in lanes,
                             * at the trial loop's scale 1 / (tnum[t] / max), the one
                             * run_search's lane would compute (the same two divisions) */
                            if (!have_gt) {
                                group_tab(xval, wa, gx, &gt);
                                have_gt = 1;
                            }
                            for (int u = 0; u < rl; u++)
                                res[k][b][t + u] =
                                    search_entry(T, mall[t][k][b], 0, &gt, sc[t + u][b]);
                            continue;
                        }
                        /* a run longer than W goes on from t + W */
                        starts |= (uint32_t)(rl > W) << (t + W);
                        /* the trial loop's scales, lane u = trial t + u */
                        const VF id = F_DIV(F_LOADU(tnum + t), F_SET1(mx[b]));
                        run_search(T, mall[t][k][b], xval + 8 * gx, wa + 8 * gx,
                                   F_DIV(F_SET1(1.0f), id), &res[k][b][t]);
                    }
                }
            }
            /* cod: the trials' entries with the off-grid ones of valid lanes searched */
            const VM vm = M_CMP(maxv, F_SET1(IQ2S_EPS), _CMP_NLT_UQ);
            for (int k = 0; k < 2; k++)
                for (int t0 = 0; t0 < IQ2S_NT; t0 += W) {
                    VI rt[W]; /* rt[u] lane b: res[k][b][t0 + u] */
                    res_transpose(&res[k][0][t0], rt);
                    for (int u = 0; u < W && t0 + u < IQ2S_NT; u++) {
                        const VI m = I_LOADU(mall[t0 + u][k]);
                        I_STOREU(cod[t0 + u][k], I_BLEND(m, rt[u], M_AND(M_ICMPGT(I_ZERO, m), vm)));
                    }
                }
        }
#else
        /* the searches, flat index f = (2t + k) * W + b */
        int32_t *const cflat = &cod[0][0][0];
        const float *const sflat = &sc[0][0];
        for (int bk = 0; bk < NBK; bk++)
            for (int j = 0; j < nw[bk]; j++) {
                /* unsigned: the lane, group and trial of f by shifts, not signed divisions */
                const unsigned f = (unsigned)wid[bk][j], b = f % W;
                cflat[f] =
                    search_entry(T, cflat[f], NBK == 2 && bk == 0,
                                 &tabs[2 * (b0 + b) + (f / W & 1)], sflat[f / (2 * W) * W + b]);
            }

#endif

        /* the trials' fits and the reference's choice, in trial order */
        const VF zero = F_ZERO;
        VF best = zero, scale = F_DIV(maxv, F_SET1(5.0f));
        VI L0 = I_SET1(T->init), L1 = L0, M0 = I_ZERO, M1 = I_ZERO; /* M < 0: off the grid */
        for (int t = 0; t < IQ2S_NT; t++) {
            const VI c0 = I_LOADU(cod[t][0]), c1 = I_LOADU(cod[t][1]);
            VF sx, s2;
            lane_sums(ws, wxs, c0, c1, &sx, &s2);
            const VM win = M_AND(M_CMP(s2, zero, _CMP_GT_OQ),
                                 M_CMP(F_MUL(sx, sx), F_MUL(best, s2), _CMP_GT_OQ));
            const VF cs = F_DIV(sx, s2);
            scale = F_BLEND(scale, cs, win);
            best = F_BLEND(best, F_MUL(cs, sx), win);
            L0 = I_BLEND(L0, c0, win);
            L1 = I_BLEND(L1, c1, win);
            M0 = I_BLEND(M0, I_LOADU(mall[t][0]), win);
            M1 = I_BLEND(M1, I_LOADU(mall[t][1]), win);
        }

        /* the requantization of the off-grid groups at the fitted scale */
        const unsigned off0 = M_BITS(M_ICMPGT(I_ZERO, M0)), off1 = M_BITS(M_ICMPGT(I_ZERO, M1));
        const unsigned need = (off0 | off1) & M_BITS(M_CMP(scale, zero, _CMP_GT_OQ)) & valid;
        if (need) {
            const VF id = F_DIV(F_SET1(1.0f), scale);
            int32_t L[2][W], m[2][W];
            float s[W];
            I_STOREU(L[0], L0);
            I_STOREU(L[1], L1);
            F_STOREU(s, scale);
            for (int k = 0; k < 2; k++)
                I_STOREU(m[k], I_GATHER(T->map2, group_codes(id, xs + 8 * k)));
            for (unsigned bb = need; bb; bb &= bb - 1) {
                const int b = __builtin_ctz(bb);
                for (int k = 0; k < 2; k++) {
                    if (!((k ? off1 : off0) >> b & 1))
                        continue;
                    if (m[k][b] >= 0) {
                        L[k][b] = m[k][b];
                        continue;
                    }
#if IQ2S_RUNS /* the run searches need no tables: this group's only */
                    grp_tab gt;
                    group_tab(xval, wa, 2 * (b0 + b) + k, &gt);
                    const grp_tab *tab = &gt;
#else
                    const grp_tab *tab = &tabs[2 * (b0 + b) + k];
#endif
                    /* note: the fitted scale here, not 1/id */
                    L[k][b] = search_entry(T, m[k][b], 0, tab, s[b]);
                }
            }
            L0 = I_LOADU(L[0]);
            L1 = I_LOADU(L[1]);
            VF sx, s2;
            lane_sums(ws, wxs, L0, L1, &sx, &s2);
            const unsigned upd = need & M_BITS(M_CMP(s2, zero, _CMP_GT_OQ));
            float q[W];
            F_STOREU(q, F_DIV(sx, s2));
            for (unsigned bb = upd; bb; bb &= bb - 1)
                s[__builtin_ctz(bb)] = q[__builtin_ctz(bb)];
            scale = F_LOADU(s);
        }

        /* the sign flip, the grid indices, the sub-blocks' bytes */
        int32_t L[2][W];
        float s[W];
        I_STOREU(L[0], L0);
        I_STOREU(L[1], L1);
        F_STOREU(s, scale);
        for (unsigned bb = valid; bb; bb &= bb - 1) {
            const int b = __builtin_ctz(bb), ib = b0 + b;
            unsigned flip = 0;
            if (s[b] < 0) {
                s[b] = -s[b];
                flip = 255;
            }
            for (int k = 0; k < 2; k++) {
                const int gi = L[k][b] >> 16; /* entries of grid points: >= 0 */
                const int i8 = 2 * ib + k;
                y[IQ2S_QS + i8] = (uint8_t)gi;
                y[IQ2S_QH + i8 / 4] |= (uint8_t)((gi >> 8) << 2 * (i8 % 4));
                y[IQ2S_SIGNS + i8] = (uint8_t)(signs[i8] ^ flip);
            }
            scales[ib] = s[b];
        }
    }
    float max_scale = 0;
    for (int ib = 0; ib < 16; ib++) {
        if (!(valid_all >> ib & 1)) {
            scales[ib] = 0;
            continue;
        }
        max_scale = max_scale > scales[ib] ? max_scale : scales[ib]; /* ggml's MAX */
    }
    tc_iq2_s_finish(max_scale, scales, y);
}

/* ===== Row driver ===== */

/* The reference's row driver; blocks with Inf or NaN (in x or the weights) by the reference. */
TC_ISA_ATTR static void iq2s_rows(const float *src, void *dst, int64_t n_rows, int64_t n_per_row,
                                  const float *imatrix)
{
    const int64_t nb = n_per_row / QK_K;
    const tc_iq2_search *S = tc_iq2_search_get(TC_DTYPE_IQ2_S);
    const tc_iq2s_lists *T = tc_iq2s_lists_get();
    uint8_t *y = dst;
    if (S == NULL) { /* as the reference: zero blocks rather than a crash */
        memset(y, 0, (size_t)(n_rows * nb) * IQ2S_SIZE);
        return;
    }
    for (int64_t r = 0; r < n_rows; r++)
        for (int64_t i = 0; i < nb; i++, y += IQ2S_SIZE) {
            const float *x = src + r * n_per_row + i * QK_K;
            const float *qw = imatrix ? imatrix + i * QK_K : NULL;
            if (T == NULL || !tc_all_finite(x, QK_K) || (qw && !tc_all_finite(qw, QK_K)))
                tc_ref_iq2_s_block(S, x, qw, y);
            else
                iq2s_block(T, x, qw, y);
        }
}
