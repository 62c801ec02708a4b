/*
 * simd_lanes.h - private to quant/: the lane-parallel scale searches shared by avx2.c (8 lanes)
 * and avx512.c (16 lanes). A template: the including file defines the vector types and ops
 * below, then includes this once; every function gets the suffix LN().
 *
 * Lane j runs the scalar reference's sequence of float operations for its own sub-block (or
 * block), in the reference's order: sums accumulate in index order per lane, rounding is
 * nearest_int's 1.5*2^23 trick, comparisons are the reference's (strict ones stay strict) and
 * each branch becomes a per-lane select. Lanes never mix, so the results are the reference's
 * bit for bit.
 *
 * Required from the includer:
 *   VF, VI, VM                    float vector, int32 vector, lane mask
 *   F_SET1 F_ZERO F_ADD F_SUB F_MUL F_DIV F_SQRT F_ABS F_NEG
 *   F_MIN(a,b) = a < b ? a : b,   F_MAX(a,b) = a > b ? a : b   (per lane, NaN as in C)
 *   M_CMP(a,b,pred) M_AND M_OR M_ANDNOT(a,b) = ~a & b   M_ANY(m)   M_ZERO
 *   F_BLEND(a,b,m), I_BLEND(a,b,m) = m ? b : a
 *   I_SET1 I_ZERO I_ADD I_SUB I_MIN I_MAX I_AND F_BITS(f) (reinterpret) I_TO_F (convert)
 *   I_INC_IF(c,m) = c + (m ? 1 : 0)
 *   LUT16(const float *t16, VI idx) = t16[idx] (idx in 0..15)
 *   F_ROUNDN(f)                    round to nearest even (an integer-valued float)
 *   LN(name)                       name with the ISA suffix
 */

#ifndef GROUP_MAX_EPS
#define GROUP_MAX_EPS 1e-15f
#endif

/* ggml's nearest_int: bits(f + 1.5*2^23) & 0x7fffff - 0x400000, then clamp to [lo, hi] */
static inline VI LN(clampf)(VF f, int lo, int hi)
{
    VI i = F_BITS(F_ADD(f, F_SET1(12582912.f)));
    i = I_SUB(I_AND(i, I_SET1(0x007fffff)), I_SET1(0x00400000));
    return I_MAX(I_SET1(lo), I_MIN(I_SET1(hi), i));
}

/*
 * nearest_int then clamp to [lo, hi], in floats: F_ROUNDN (round to nearest even, one
 * instruction) is nearest_int's rounding while |f| < 2^22, but for the sign of a zero (-0.3
 * gives -0, where nearest_int's bits give 0). The callers only add their levels to bias or
 * multiply them into sums that start at +0, so the sign never shows. Only where |f| < 2^22 in
 * every lane whose result is kept: LN(qx), where |f| = |iscale * x| <= nmax + 1 (|x| <= |max|),
 * and LN(qkxk) after its check.
 */
static inline VF LN(levf)(VF f, VF lo, VF hi)
{
    return F_MAX(lo, F_MIN(hi, F_ROUNDN(f)));
}

/*
 * make_qkx_quants (ref_k.c; make_qkx3_quants_w of ref_legacy.c is v3 = 1, use_mad = 0, rmin
 * -0.9, rdelta 0.05, nstep 36) on K independent sets of lanes at once (K = 1 or 2), each set's
 * lanes holding sub-blocks of n values: xt[s]/wt[s] the transposed values and weights; Lt[s]
 * receives the levels as floats, scale_out[s] and the_min_out[s] the results. Each trial's
 * sums are serial chains of adds (their order is the reference's); with two sets the chains
 * of one fill the other's latency.
 */
static inline void LN(qkxk)(int K, int n, int nmax, const VF *const *xt, const VF *const *wt,
                            VF *const *Lt, float rmin, float rdelta, int nstep, int use_mad, int v3,
                            VF *scale_out, VF *the_min_out)
{
    const VF zero = F_ZERO;
    VF min[2], max[2], sum_w[2], sum_x[2], scale[2], best_error[2], mxm[2];
    VM done[2];
    /* xm[s][i] = x[i] - min, which the reference recomputes in every trial, kept and refreshed
     * when min changes; mxm = max |xm[i]|, to know when the cheaper float rounding is exact */
    VF la[2][32], xm[2][32];
    for (int s = 0; s < K; s++) {
        const VF *x = xt[s], *w = wt[s];
        min[s] = x[0], max[s] = x[0], sum_w[s] = w[0], sum_x[s] = F_MUL(w[0], x[0]);
        for (int i = 1; i < n; ++i) {
            min[s] = F_MIN(x[i], min[s]);
            max[s] = F_MAX(x[i], max[s]);
            sum_w[s] = F_ADD(sum_w[s], w[i]);
            sum_x[s] = F_ADD(sum_x[s], F_MUL(w[i], x[i]));
        }
        min[s] = F_BLEND(min[s], zero, M_CMP(min[s], zero, _CMP_GT_OQ));
        done[s] = v3 ? M_CMP(max[s], min[s], _CMP_LE_OQ) : M_CMP(max[s], min[s], _CMP_EQ_OQ);
        VF iscale = F_DIV(F_SET1((float)nmax), F_SUB(max[s], min[s]));
        scale[s] = F_DIV(F_SET1(1.0f), iscale);
        best_error[s] = zero;
        mxm[s] = zero;
        for (int i = 0; i < n; ++i) {
            xm[s][i] = F_SUB(x[i], min[s]);
            mxm[s] = F_MAX(mxm[s], F_ABS(xm[s][i]));
            VF l = I_TO_F(LN(clampf)(F_MUL(iscale, xm[s][i]), 0, nmax));
            Lt[s][i] = l;
            VF diff = F_SUB(F_ADD(F_MUL(scale[s], l), min[s]), x[i]);
            diff = use_mad ? F_ABS(diff) : F_MUL(diff, diff);
            best_error[s] = F_ADD(best_error[s], F_MUL(w[i], diff));
        }
    }
    const VF lvl_lo = zero, lvl_hi = F_SET1((float)nmax);
    for (int is = 0; is <= nstep; ++is) {
        const float num = rmin + rdelta * (float)is + (float)nmax;
        VF iscale[2], sum_l[2], sum_l2[2], sum_xl[2];
        int exact_f = 1;
        for (int s = 0; s < K; s++) {
            iscale[s] = F_DIV(F_SET1(num), F_SUB(max[s], min[s]));
            /* |iscale * xm[i]| <= |iscale| * mxm (rounding is monotonic): below 2^21 in every
             * lane that counts, levf rounds as clampf does (f >= 0: no -0 either); a lane
             * that is done may hold Inf/NaN, and its levels are never used */
            const VM far = M_ANDNOT(
                done[s], M_CMP(F_MUL(F_ABS(iscale[s]), mxm[s]), F_SET1(0x1p21f), _CMP_NLT_UQ));
            exact_f &= !M_ANY(far);
            sum_l[s] = sum_l2[s] = sum_xl[s] = zero;
        }
        for (int i = 0; i < n; ++i)
            for (int s = 0; s < K; s++) {
                VF f = F_MUL(iscale[s], xm[s][i]);
                VF l = exact_f ? LN(levf)(f, lvl_lo, lvl_hi) : I_TO_F(LN(clampf)(f, 0, nmax));
                la[s][i] = l;
                VF wl = F_MUL(wt[s][i], l);
                sum_l[s] = F_ADD(sum_l[s], wl);
                sum_l2[s] = F_ADD(sum_l2[s], F_MUL(wl, l));
                sum_xl[s] = F_ADD(sum_xl[s], F_MUL(wl, xt[s][i]));
            }
        VF this_scale[2], this_min[2], cur_error[2];
        VM ok[2];
        int any_ok = 0;
        for (int s = 0; s < K; s++) {
            VF D = F_SUB(F_MUL(sum_w[s], sum_l2[s]), F_MUL(sum_l[s], sum_l[s]));
            ok[s] = M_ANDNOT(done[s], M_CMP(D, zero, _CMP_GT_OQ));
            any_ok |= M_ANY(ok[s]);
            this_scale[s] = F_DIV(F_SUB(F_MUL(sum_w[s], sum_xl[s]), F_MUL(sum_x[s], sum_l[s])), D);
            this_min[s] = F_DIV(F_SUB(F_MUL(sum_l2[s], sum_x[s]), F_MUL(sum_l[s], sum_xl[s])), D);
            VM pos = M_CMP(this_min[s], zero, _CMP_GT_OQ);
            this_min[s] = F_BLEND(this_min[s], zero, pos);
            this_scale[s] = F_BLEND(this_scale[s], F_DIV(sum_xl[s], sum_l2[s]), pos);
            cur_error[s] = zero;
        }
        if (!any_ok)
            continue;
        for (int i = 0; i < n; ++i)
            for (int s = 0; s < K; s++) {
                VF diff = F_SUB(F_ADD(F_MUL(this_scale[s], la[s][i]), this_min[s]), xt[s][i]);
                diff = use_mad ? F_ABS(diff) : F_MUL(diff, diff);
                cur_error[s] = F_ADD(cur_error[s], F_MUL(wt[s][i], diff));
            }
        for (int s = 0; s < K; s++) {
            VM upd = M_AND(ok[s], M_CMP(cur_error[s], best_error[s], _CMP_LT_OQ));
            if (!M_ANY(upd))
                continue;
            for (int i = 0; i < n; ++i)
                Lt[s][i] = F_BLEND(Lt[s][i], la[s][i], upd);
            best_error[s] = F_BLEND(best_error[s], cur_error[s], upd);
            scale[s] = F_BLEND(scale[s], this_scale[s], upd);
            min[s] = F_BLEND(min[s], this_min[s], upd);
            mxm[s] = zero;
            for (int i = 0; i < n; ++i) {
                xm[s][i] = F_SUB(xt[s][i], min[s]);
                mxm[s] = F_MAX(mxm[s], F_ABS(xm[s][i]));
            }
        }
    }
    for (int s = 0; s < K; s++) {
        for (int i = 0; i < n; ++i)
            Lt[s][i] = F_BLEND(Lt[s][i], zero, done[s]);
        scale_out[s] = F_BLEND(scale[s], zero, done[s]);
        the_min_out[s] = F_NEG(min[s]); /* the reference's -min: a sign flip, also of zero */
    }
}

/* make_qkx_quants on one set of lanes (see LN(qkxk)) */
static inline void LN(qkx)(int n, int nmax, const VF *xt, const VF *wt, VF *Lt, float rmin,
                           float rdelta, int nstep, int use_mad, int v3, VF *scale_out,
                           VF *the_min_out)
{
    const VF *x[1] = {xt}, *w[1] = {wt};
    VF *L[1] = {Lt};
    LN(qkxk)(1, n, nmax, x, w, L, rmin, rdelta, nstep, use_mad, v3, scale_out, the_min_out);
}

/* keeps the compiler from moving a side chain out of the loop it was put in (GCC's loop
 * distribution would give it a loop of its own, after the search) */
#ifndef SIDE_PIN
#if defined(__GNUC__)
#define SIDE_PIN(v) __asm__ volatile("" : "+x"(v))
#else
#define SIDE_PIN(v) (void)(v)
#endif
#endif

/* make_qx_quants' sums at the inverse scales iscale[s] of K sets of lanes: sumlx = sum of
 * w x l, suml2 = sum of w l l, the levels l rounded from iscale * x, in the reference's order;
 * the sets interleaved element by element, so their chains of adds overlap */
static inline void LN(qx_sums)(int K, int n, const VF *iscale, const VF *const *xt, VF (*w)[32],
                               VF (*wx)[32], VF lo, VF hi, VF *sumlx, VF *suml2)
{
    for (int s = 0; s < K; s++)
        sumlx[s] = suml2[s] = F_ZERO;
    for (int i = 0; i < n; ++i)
        for (int s = 0; s < K; s++) {
            VF l = LN(levf)(F_MUL(iscale[s], xt[s][i]), lo, hi);
            sumlx[s] = F_ADD(sumlx[s], F_MUL(wx[s][i], l));
            suml2[s] = F_ADD(suml2[s], F_MUL(F_MUL(w[s][i], l), l));
        }
}

/*
 * make_qx_quants (rmse_type 1; also make_qx_quants_w of ref_legacy.c) on the lanes' sub-blocks
 * of n values, on K independent sets of lanes at once (K = 1 or 2; with two, one set's chains
 * of adds fill the other's latency): weights wt[s], or x^2 when wt[s] is NULL; Lt[s] receives
 * the biased levels (l + nmax), out[s] the scales. Each lane keeps the iscale of the pass it
 * last took: its levels are the ones the reference recomputes there, computed once at the end.
 * It also runs a scalar side chain, *side_acc += side[j]^2 for j < side_n in order, side_k
 * terms at the start of each of the 18 trial passes (side_n <= 18 * side_k; side NULL: none):
 * the Q3_K row loops give it the next block's sum of squares, a serial chain of adds whose
 * latency alone was over a tenth of a block's time, to run in the shadow of the search.
 */
static inline void LN(qxk_side)(int K, int n, int nmax, const VF *const *xt, const VF *const *wt,
                                VF *const *Lt, VF *out, const float *side, int side_n, int side_k,
                                float *side_acc)
{
    const VF zero = F_ZERO;
    const VF lo = F_SET1((float)-nmax), hi = F_SET1((float)(nmax - 1));
    VF max[2], w[2][32], wx[2][32], scale[2], best[2], best_iscale[2], iscale[2], sumlx[2],
        suml2[2];
    VM tiny[2];
    for (int s = 0; s < K; s++) {
        VF amax = zero;
        max[s] = zero;
        for (int i = 0; i < n; ++i) {
            VF ax = F_ABS(xt[s][i]);
            VM gt = M_CMP(ax, amax, _CMP_GT_OQ);
            amax = F_BLEND(amax, ax, gt);
            max[s] = F_BLEND(max[s], xt[s][i], gt);
        }
        tiny[s] = M_CMP(amax, F_SET1(GROUP_MAX_EPS), _CMP_LT_OQ);
        /* w * x[i] is the first product of the reference's w * x[i] * l */
        for (int i = 0; i < n; ++i) {
            w[s][i] = wt[s] ? wt[s][i] : F_MUL(xt[s][i], xt[s][i]);
            wx[s][i] = F_MUL(w[s][i], xt[s][i]);
        }
        iscale[s] = F_DIV(F_SET1((float)-nmax), max[s]);
    }
    LN(qx_sums)(K, n, iscale, xt, w, wx, lo, hi, sumlx, suml2);
    for (int s = 0; s < K; s++) {
        scale[s] = F_BLEND(F_DIV(sumlx[s], suml2[s]), zero, M_CMP(suml2[s], zero, _CMP_EQ_OQ));
        best[s] = F_MUL(scale[s], sumlx[s]);
        best_iscale[s] = iscale[s];
    }
    float acc = side ? *side_acc : 0;
    for (int is = -9, p = 0; is <= 9; ++is) {
        if (is == 0)
            continue;
        if (side && p * side_k < side_n) { /* the side chain's next side_k terms (see below) */
            for (int k = 0; k < side_k; ++k)
                acc += side[p * side_k + k] * side[p * side_k + k];
            SIDE_PIN(acc);
        }
        p++;
        for (int s = 0; s < K; s++)
            iscale[s] = F_DIV(F_SET1(-((float)nmax + 0.1f * (float)is)), max[s]);
        LN(qx_sums)(K, n, iscale, xt, w, wx, lo, hi, sumlx, suml2);
        for (int s = 0; s < K; s++) {
            VM upd = M_AND(M_CMP(suml2[s], zero, _CMP_GT_OQ),
                           M_CMP(F_MUL(sumlx[s], sumlx[s]), F_MUL(best[s], suml2[s]), _CMP_GT_OQ));
            VF q = F_DIV(sumlx[s], suml2[s]);
            scale[s] = F_BLEND(scale[s], q, upd);
            best[s] = F_BLEND(best[s], F_MUL(q, sumlx[s]), upd);
            best_iscale[s] = F_BLEND(best_iscale[s], iscale[s], upd);
        }
    }
    const VF bias = F_SET1((float)nmax);
    for (int s = 0; s < K; s++) {
        for (int i = 0; i < n; ++i)
            Lt[s][i] = F_BLEND(F_ADD(LN(levf)(F_MUL(best_iscale[s], xt[s][i]), lo, hi), bias), zero,
                               tiny[s]);
        out[s] = F_BLEND(scale[s], zero, tiny[s]);
    }
    if (side)
        *side_acc = acc;
}

/* LN(qxk_side) on one set of lanes */
static inline VF LN(qx_side)(int n, int nmax, const VF *xt, const VF *wt, VF *Lt, const float *side,
                             int side_n, int side_k, float *side_acc)
{
    const VF *x[1] = {xt}, *w[1] = {wt};
    VF *L[1] = {Lt}, out[1];
    LN(qxk_side)(1, n, nmax, x, w, L, out, side, side_n, side_k, side_acc);
    return out[0];
}

/* the same without a side chain */
static inline VF LN(qx)(int n, int nmax, const VF *xt, const VF *wt, VF *Lt)
{
    return LN(qx_side)(n, nmax, xt, wt, Lt, NULL, 0, 0, NULL);
}

/*
 * (Unused on x86 since the AVX-512 Q3_K runs one block per vector, q3_refine16 of avx512.c,
 * 6 % faster than two blocks here: the merged branch below moves twice as often.)
 * make_q3_quants (ref_k.c) with weights x^2 on two independent sets of lanes at once (A and B,
 * sub-blocks of 16): returns the scales in *rA / *rB, LtA / LtB the biased levels (l + nmax).
 * The refinement is a serial chain per lane (each element's test uses the sums the previous one
 * left); running two sets interleaved lets their chains overlap. A lane whose pass changes
 * nothing is at a fixed point, so the passes other lanes still need leave it as the reference's
 * early exit does. (q3_refine8's early end of a pass, avx2.c, is exact here too but measured 3 %
 * slower: with 2 x 16 lanes the last element that moved is nearly always one of the last few,
 * and the pass's variable end cost more than the few tests it saved.)
 */
static inline void LN(q3x2)(int nmax, const VF *xtA, VF *LtA, VF *rA, const VF *xtB, VF *LtB,
                            VF *rB)
{
    enum { n = 16 };
    const VF zero = F_ZERO;
    const VF *xt[2] = {xtA, xtB};
    VF *Lt[2] = {LtA, LtB};
    /* lx = wx*L and l2 = (w*L)*L, the terms the reference recomputes for each test, kept and
     * refreshed where L changes (the same products, computed less often) */
    VF w[2][16], wx[2][16], lx[2][16], l2[2][16], sumlx[2], suml2[2];
    VM tiny[2];
    for (int s = 0; s < 2; s++) {
        VF max = zero, amax = zero;
        for (int i = 0; i < n; ++i) {
            VF ax = F_ABS(xt[s][i]);
            VM gt = M_CMP(ax, amax, _CMP_GT_OQ);
            amax = F_BLEND(amax, ax, gt);
            max = F_BLEND(max, xt[s][i], gt);
            w[s][i] = F_MUL(xt[s][i], xt[s][i]);
            wx[s][i] = F_MUL(w[s][i], xt[s][i]);
        }
        tiny[s] = M_CMP(amax, F_SET1(GROUP_MAX_EPS), _CMP_LT_OQ);
        const VF iscale = F_DIV(F_SET1((float)-nmax), max);
        sumlx[s] = suml2[s] = zero;
        for (int i = 0; i < n; ++i) {
            VF l = I_TO_F(LN(clampf)(F_MUL(iscale, xt[s][i]), -nmax, nmax - 1));
            Lt[s][i] = l;
            lx[s][i] = F_MUL(wx[s][i], l);
            l2[s][i] = F_MUL(F_MUL(w[s][i], l), l);
            sumlx[s] = F_ADD(sumlx[s], lx[s][i]);
            suml2[s] = F_ADD(suml2[s], l2[s][i]);
        }
    }
    for (int itry = 0; itry < 5; ++itry) {
        VM changed = M_ZERO;
        for (int i = 0; i < n; ++i) {
            VF slx[2], sl2[2], nl[2];
            VM c2[2];
            for (int s = 0; s < 2; s++) {
                slx[s] = F_SUB(sumlx[s], lx[s][i]);
                VM c1 = M_CMP(slx[s], zero, _CMP_GT_OQ);
                sl2[s] = F_SUB(suml2[s], l2[s][i]);
                nl[s] = I_TO_F(LN(clampf)(F_DIV(F_MUL(xt[s][i], sl2[s]), slx[s]), -nmax, nmax - 1));
                c2[s] = M_AND(c1, M_CMP(nl[s], Lt[s][i], _CMP_NEQ_UQ));
            }
            if (!M_ANY(M_OR(c2[0], c2[1])))
                continue;
            for (int s = 0; s < 2; s++) {
                VF nlx = F_MUL(wx[s][i], nl[s]), nl2 = F_MUL(F_MUL(w[s][i], nl[s]), nl[s]);
                VF x2 = F_ADD(slx[s], nlx);
                VF y2 = F_ADD(sl2[s], nl2);
                VM better = M_AND(M_CMP(y2, zero, _CMP_GT_OQ),
                                  M_CMP(F_MUL(F_MUL(x2, x2), suml2[s]),
                                        F_MUL(F_MUL(sumlx[s], sumlx[s]), y2), _CMP_GT_OQ));
                VM upd = M_AND(c2[s], better);
                Lt[s][i] = F_BLEND(Lt[s][i], nl[s], upd);
                lx[s][i] = F_BLEND(lx[s][i], nlx, upd);
                l2[s][i] = F_BLEND(l2[s][i], nl2, upd);
                sumlx[s] = F_BLEND(sumlx[s], x2, upd);
                suml2[s] = F_BLEND(suml2[s], y2, upd);
                changed = M_OR(changed, upd);
            }
        }
        if (!M_ANY(changed))
            break;
    }
    const VF bias = F_SET1((float)nmax);
    VF *r[2] = {rA, rB};
    for (int s = 0; s < 2; s++) {
        for (int i = 0; i < n; ++i)
            Lt[s][i] = F_BLEND(F_ADD(Lt[s][i], bias), zero, tiny[s]);
        VF q = F_BLEND(zero, F_DIV(sumlx[s], suml2[s]), M_CMP(suml2[s], zero, _CMP_GT_OQ));
        *r[s] = F_BLEND(q, zero, tiny[s]);
    }
}

/*
 * best_index_int8 over the IQ4 grid: the index (and grid value) the reference's clamp, binary
 * search and midpoint test give, NaN included (the search ends at 15).
 */
static const float LN(iq4_grid)[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                       1,    13,   25,  38,  53,  69,  89,  113};

static inline VI LN(iq4_best)(VF x, VF *qv)
{
    const float *gv = LN(iq4_grid);
    VI c = I_ZERO; /* #{i in 1..15: gv[i] <= x} */
    for (int i = 1; i < 16; i++)
        c = I_INC_IF(c, M_CMP(F_SET1(gv[i]), x, _CMP_LE_OQ));
    const VI c1 = I_MIN(I_ADD(c, I_SET1(1)), I_SET1(15));
    VF lo = LUT16(gv, c), hi = LUT16(gv, c1);
    VM take_lo = M_CMP(F_SUB(x, lo), F_SUB(hi, x), _CMP_LT_OQ);
    VI l = I_BLEND(I_ADD(c, I_SET1(1)), c, take_lo);
    VF q = F_BLEND(hi, lo, take_lo);
    VM low = M_CMP(x, F_SET1(-127.f), _CMP_LE_OQ);
    VM top = M_CMP(x, F_SET1(113.f), _CMP_NLT_UQ); /* x >= 113 or NaN */
    l = I_BLEND(l, I_ZERO, low);
    q = F_BLEND(q, F_SET1(-127.f), low);
    l = I_BLEND(l, I_SET1(15), top);
    q = F_BLEND(q, F_SET1(113.f), top);
    *qv = q;
    return l;
}

/* The IQ4 scale search (ntry 7) of the lanes' sub-blocks of 32: returns scales[ib]. */
static inline VF LN(iq4_search)(const VF *xt, const VF *wt)
{
    const VF zero = F_ZERO;
    VF amax = zero, max = zero;
    for (int j = 0; j < 32; ++j) {
        VF ax = F_ABS(xt[j]);
        VM gt = M_CMP(ax, amax, _CMP_GT_OQ);
        amax = F_BLEND(amax, ax, gt);
        max = F_BLEND(max, xt[j], gt);
    }
    const VM tiny = M_CMP(amax, F_SET1(GROUP_MAX_EPS), _CMP_LT_OQ);
    VF d = F_DIV(F_NEG(max), F_SET1(-127.f));
    VF id = F_DIV(F_SET1(1.0f), d);
    VF sumqx = zero, sumq2 = zero;
    for (int j = 0; j < 32; ++j) {
        VF q;
        LN(iq4_best)(F_MUL(id, xt[j]), &q);
        VF wq = F_MUL(wt[j], q);
        sumqx = F_ADD(sumqx, F_MUL(wq, xt[j]));
        sumq2 = F_ADD(sumq2, F_MUL(wq, q));
    }
    d = F_BLEND(zero, F_DIV(sumqx, sumq2), M_CMP(sumq2, zero, _CMP_GT_OQ));
    VF best = F_MUL(d, sumqx);
    for (int itry = -7; itry <= 7; ++itry) {
        id = F_DIV(F_SET1((float)(itry - 127)), max);
        sumqx = sumq2 = zero;
        for (int j = 0; j < 32; ++j) {
            VF q;
            LN(iq4_best)(F_MUL(id, xt[j]), &q);
            VF wq = F_MUL(wt[j], q);
            sumqx = F_ADD(sumqx, F_MUL(wq, xt[j]));
            sumq2 = F_ADD(sumq2, F_MUL(wq, q));
        }
        VM upd = M_AND(M_CMP(sumq2, zero, _CMP_GT_OQ),
                       M_CMP(F_MUL(sumqx, sumqx), F_MUL(best, sumq2), _CMP_GT_OQ));
        if (!M_ANY(upd))
            continue;
        VF nd = F_DIV(sumqx, sumq2);
        d = F_BLEND(d, nd, upd);
        best = F_BLEND(best, F_MUL(nd, sumqx), upd);
    }
    return F_BLEND(d, zero, tiny);
}

/* IQ4 weights of the lanes: qw * sqrt(sigma2 + x^2) (the reference's sqrt first, then times
 * qw), or x^2 without an imatrix. */
static inline void LN(iq4_weights)(const VF *xt, const VF *qwt, VF sigma2, VF *wt)
{
    for (int j = 0; j < 32; ++j) {
        VF t = F_MUL(xt[j], xt[j]);
        wt[j] = qwt ? F_MUL(F_SQRT(F_ADD(sigma2, t)), qwt[j]) : t;
    }
}
