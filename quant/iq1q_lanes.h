/*
 * iq1q_lanes.h - private to quant/: the IQ1_S / IQ1_M quantizers with W float lanes, a template
 * shared by avx2_iq1q.c (W = 8), avx512_iq1q.c (W = 16) and neon_iq1q.c (W = 4). The including
 * file defines the vector types and ops (grid_ops_*.h plus the few below), then includes this
 * once. Where TC_GRID_AVX2 is set (both x86 files) the parts that work on 8 elements (a group's
 * products in the refits, the weights, max |x|, the sorted values into lanes by permutes and
 * 8 x 8 transposes) are AVX2 intrinsics; elsewhere the same operations in the W-lane ops (the
 * sorted values by table lookups F_TBL and W x W transposes), and with W < 8 IQ1_S takes a
 * block at a time, its 8 sub-blocks in 8 / W passes. Bit-identical to ref_iq1_quant.c. Blocks
 * with Inf or NaN (in x or in the importance weights) go to the reference; with finite input
 * every NaN that arises (0 * Inf, Inf - Inf when sums overflow) is the same default NaN, so
 * which operand an operation propagates cannot matter, and the selects below keep the
 * reference's comparisons (strict ones strict, NaN false) exactly.
 *
 * What runs in lanes, and why each float is the reference's:
 * - The split search runs W sub-blocks at once (lane = sub-block, of one block, or of two with
 *   AVX-512's IQ1_S): the sorted prefix sums are built in lanes (element by element from 0, as
 *   the reference; each lane's values sorted by permutes or table lookups and transposed, pure
 *   data movement), the per-boundary products likewise, then every split (i1, i2) and shift is
 *   the reference's expression on the same floats, visited in the reference's order. Each lane
 *   keeps its own best: a split wins where sumq2 > 0 and sumqx^2 > best*sumq2 against that
 *   lane's best at that moment, exactly the reference's sequential rule, since a lane's best
 *   only changes by its own updates (selects). IQ1_M: a step where each lane has at most one
 *   shift code beating its best (the common win) takes one division, of that code's sums; the
 *   codes after it lost to the old best, so lose to the new one unless that came out lower (a
 *   rounding: then the four codes run in full, in order).
 * - IQ1_M's pre-filter (the test that sends a step to the exact one) need not be exact, only a
 *   superset of the steps where a lane wins: it sums each code's sumqx and sumq2 from tables of
 *   the boundaries' terms already added across the two groups (2 operations a code instead of
 *   4.5) and tests them against best lowered by a bound of the roundings (m_filter_f). Its
 *   mask goes from step to step as bits in a register: kept as a vector it went through the
 *   stack, and the store and reload delayed each test's branch (-12% of m_search's cycles).
 *   A step that passes reads its sums again as the reference adds them.
 * - The split searches start at theta instead of -FLT_MAX (start_theta): IQ1_S's tau is the
 *   largest score best = (sumqx/sumq2)*sumqx, as the reference computes it, of a few fixed
 *   splits (so tau <= M*(1 + 2u), M below; x86: 65 splits, each sumqx^2 * rcp(sumq2), the
 *   largest lowered by the reciprocal's error, so tau < M); IQ1_M's is a bound tau <= M from
 *   the pre-filter's sums of fixed splits (NEON 5: the largest q^2/q2 by cross products, one
 *   division; x86 33: the largest q^2 * rcp(q2), lowered likewise; then the roundings' bound
 *   taken off; m_search); theta = tau*(1 - delta), delta 2^-12 (IQ1_M) or
 *   2^-11 (IQ1_S). Few splits then pass the pre-filter (AVX2 IQ1_M: 46.6% -> 11.6% of steps
 *   with 17 splits). Exact: write s = sumqx^2/sumq2 (reals) for a split and shift of the lane,
 *   M its largest. A split wins only if s > b*(1 - 4u) against an incumbent of score b, and
 *   surely wins if s > b*(1 + 5u) (u = 2^-24, all values normal). Run the reference (from
 *   -FLT_MAX) and ours (from theta) side by side: while their incumbents differ, a split
 *   scoring above both by that margin is taken by both and joins them, so the larger of the
 *   two scores grows by at most (1 + 5u) a split from theta; over a lane's N splits x shifts
 *   (IQ1_M 153 x 4, IQ1_S 561 x 2) that stays below theta*(1 + 5Nu), 1 + 1.9e-4 / 3.4e-4, less
 *   than M*(1 - delta)*(1 + 2u)*(1 + 5Nu) < M*(1 - 5u), so the first split scoring M is taken
 *   by both, and from then on both run the same steps. Normal values: a lane starts at theta
 *   only when its sum of weights is in [2^-20, 2^30], no weight is negative, its max |x| <=
 *   2^10 and tau in [2^-40, 2^60]; then every sumq2 >= sum(w)/65 (each q^2 >= 1/64, rounding
 *   far below), the scores that matter are >= theta*(1 - 4u) and every product stays within
 *   [2^-90, 2^110]. Other lanes start at -FLT_MAX, as the reference. The argument needs each
 *   operation to be one correctly rounded IEEE single operation, to nearest, with subnormals
 *   (x86's SSE/AVX defaults; AArch64's FPCR default on Linux, FZ off), and no fused
 *   multiply-add (-ffp-contract=off; none is written).
 * - The sort: with no two equal values in a sub-block (x finite, so no NaN), glibc's merge sort
 *   and any other sort agree; an element's place is the count of smaller values, counted in
 *   lanes. When two values are equal (-0 and 0 included) the reference's merge sort runs.
 * - The neighbour search runs W candidates at once (lane = candidate, from the code lists of
 *   iq1q.h): an element's term w*(scale*q - x)^2 takes three values, computed as the reference
 *   does ((w*diff)*diff); each lane picks its own by its code and adds the 8 terms from 0 in
 *   element order. Each lane keeps its first strictly smaller distance; the lanes' results are
 *   merged by (distance, list position), the reference's first strictly smaller distance over
 *   the list. Padding lanes have every element at level 3, whose term is +Inf or NaN: they
 *   never win.
 * - Level assignment, the sign flip, the refit and the block's bytes are the reference's code;
 *   IQ1_M's finish of a pass (m_finish_lanes) takes its lanes in phases, so that the branches
 *   on a group's place on the grid and on a refit are not taken lane by lane: every lane's
 *   codes and map lookups, then the neighbour searches of the groups off the grid, then every
 *   lane's refit, kept where a group was off the grid (MB/s +6.6% AVX2, +5.2% AVX-512); IQ1_S's
 *   (s_finish_lanes) likewise, a block's 8 lanes at a time (+9.0% AVX2, +5.3% AVX-512).
 *
 * Tried and measured no faster (so not retried blindly; AVX2 cachegrind on bench --rows 64):
 * - IQ1_M, skipping the rest of a row (or a window of 3..6 splits) where, for every lane, both
 *   ends of sumqx's range (suffix / window min and max of the prefix sums, exact bounds by the
 *   monotonicity of rounding) squared are <= best * the smallest sumq2: rarely true in all 8
 *   lanes at once; Ir 43.05M -> 45.7M (row start only) .. 52.6M (windows).
 * - A start tau from more fixed splits: 23 splits cut IQ1_M's pre-filter passes 18.4% -> 10.1%
 *   of steps (3 splits; the ideal tau, the lane's final best, gives 5.1%), but cost about as
 *   many instructions as they save. delta 2^-6 instead of 2^-12 let 27.5% through.
 * - IQ1_S, one division for a win as IQ1_M's (no lane with both shifts): Ir +1.6%, interleaved
 *   medians (4+4) AVX2 8.6x -> 9.0x, AVX-512 10.9x -> 10.55x: not kept.
 * - IQ1_M's split loop stepped by masks (a branch-free i1/i2 update): 13 scalar instructions a
 *   step, Ir +3.8M; the table of offsets (m_order) costs 2 loads.
 * - IQ1_S's splits in one loop as IQ1_M's (561 offsets): mispredicts 160.3K -> 128.8K but Ir
 *   45.02M -> 47.04M; interleaved ratios (3+3) AVX2 unchanged, AVX-512 10.7-11.3x ->
 *   9.9-11.8x: not kept.
 * - AVX-512 without PRE_POS's sumq2 test, retried with the theta start: within the noise
 *   (4+4 interleaved, IQ1_M 8.7-9.5x vs 8.6-10.1x), so PRE_POS stays as it was.
 * - IQ1_M's sorted values into lanes by gathers (index, value, weight; skipped sub-blocks
 *   searched on their own data): slower on this AMD EPYC, 5 interleaved pairs AVX2 7.2x -> 6.9x,
 *   AVX-512 9.0x -> 8.5x (medians); the permutes and 8 x 8 transposes replaced it.
 * Measured as our MB/s without the oracle, old and new binaries alternating, mean of new/old:
 * - IQ1_M's pre-filter on -sumqx (sx - kx, the subtrahend a memory operand) with the sums
 *   computed again on a pass, nothing kept live across the test (58 -> 50 instructions a
 *   step): AVX2 0.997 (8 pairs). With sumq2's 4 adds as fma(a, 1, b), the same float on the
 *   multiply pipes: 0.995. The loop is not bound by its adds: perf (cpu-clock samples) puts
 *   about 37% of m_search on the pass path and the mispredicted test before it, hence the
 *   pre-filter one step ahead.
 * - IQ1_M's start tau picked by cross products (x^2 * Q > X^2 * q, one division at the end)
 *   over 13 splits: AVX2 0.964, against 1.016 with a division per split and code. (Kept later
 *   in another form: one chain of cross products per shift code, which with 17 splits took the
 *   divisions' time and let 25 pay, below.)
 * - IQ1_M's pre-filter two steps ahead instead of one: 0.999 (8 pairs).
 * - IQ1_S's pre-filter one step ahead within a row (pads at BS + 1): AVX2 0.997 (10 pairs),
 *   AVX-512 1.001 (8 pairs).
 * - IQ1_M's start from 25 splits instead of 17 (AVX2): 0.991 (8 pairs), with a division per
 *   split and code. IQ1_S's from 11 (6 more around {8, 24}, i1 7..9, i2 23..25) instead of 5:
 *   AVX2 0.999 (8 pairs).
 * - The neighbour search with two vectors a step (W = 8, each its own best, merged by distance
 *   and list position; fewer loop branches): AVX2 IQ1_M 0.993 (8 pairs).
 *
 * Measured in one process by the time stamp counter around m_search (cycles a block, the least
 * of 4 to 7 alternating runs; the machine shared, so only differences beyond ~2% count):
 * - IQ1_M's pre-filter from the tables and a lowered best (above) with its mask still a
 *   vector: 3826 against 3839 (the instructions a step 56 -> 44, as the older try below; not
 *   the adds, it is the mask's trip through the stack that costs), then as bits: 3368.
 * - Its mask two steps ahead (as bits): 3345 against 3349 one step ahead.
 * - IQ1_M's start from the final best (an oracle: the search run twice): 2744 against 3330,
 *   the most a better start could give; by cross products (one division) from the bench's most
 *   frequent winners, 17 splits: 3337 (as the divisions), 25: 3244, 33: 3275, 41: 3516, 49:
 *   3482 (91% of the winners are among the 49, but each split costs about 11 cycles).
 *   Then the start from the pre-filter's sums (a bound, no exact sums; 8 operations a split
 *   and code instead of 11.5): MB/s +4.7% with 25 splits (AVX2, 6 pairs), the count then
 *   retuned (m_tau_splits).
 * - IQ1_M's refit of d (two chains of 256 dependent adds) run under the next block's lane
 *   setup, 16 adds a lane (the block's d written then): MB/s 0.993 (6 pairs), not kept; the
 *   out-of-order core already overlaps most of the chains.
 * - The neighbour search's winner's base-3 code (tc_iq1_code3) by two byte tables instead of
 *   the 8-step loop: MB/s 0.995 (AVX2 IQ1_M, 6 pairs).
 * - The neighbour search's shifts of the codes as multiplies' high halves (vpmulhuw, off the
 *   shuffle ports): MB/s 1.002; the lists' first two lines prefetched when the finish finds a
 *   group off the grid: 0.948 (AVX2 IQ1_M, 6 pairs each). The search is not bound by its ports.
 * - The neighbour search's permutes in-lane (vpermilps, the tables repeat every 4 lanes)
 *   instead of lane-crossing: no different (MB/s 0.996, 8 pairs); kept, as cheaper on the
 *   shuffle ports of other cores.
 * Measured after the x86 starts by rcp and max (IQ1_S 65 splits, IQ1_M 49, later 33), as ratio
 * medians (bench --cpu-time --rows 64 --reps 5, old and new alternating):
 * - IQ1_M's passes (steps where some lane passes the pre-filter), with 49 splits: 7.1% of steps
 *   (6.0% with importance weights) against 5.5% (5.0%) from the oracle start: little left to
 *   gain there. perf (AVX2 IQ1_M): m_search ~55% of our time (its pre-filter loop ~42% of it, the
 *   start's chain ~19%, the pass path ~18%), neighbour searches ~18%, sort 6%, m_refit_d 6%.
 * - IQ1_M's start with all 4 shift codes on the first 5, 9 or 17 splits only, then the lane's
 *   best code so far (selected per node by blends) on the rest of the 49: AVX2 9.91 (all
 *   codes) vs 9.14 / 9.09 / 9.33 (4 rounds).
 * - IQ1_M's start from 57 or 65 splits instead of 49: AVX2 9.89 (49) vs 9.52 / 9.86 (5 rounds),
 *   noise; the start's loop fully unrolled (split offsets as immediates): 9.69 -> 9.57 (5 pairs).
 * - IQ1_M skipping a whole row i1 where every lane's pre-filter fails at every i2 (bounds from
 *   suffix min / max of s and the least b2 of each code, exact by monotone rounding, bf >= 0),
 *   retried with the near-oracle start: AVX2 9.13 -> 8.64 (4 pairs).
 * - The neighbour search skipping the rest of a chunk of 8 candidates once its partial sums
 *   (terms >= 0, so monotone) reach the best: counted on the bench, with each lane's own best
 *   only 8% of chunks could stop after 4 terms (17% after 5, 29% after 6, 44% after 7); with
 *   the best over all lanes 18-21% after 4, 35-43% after 5, 56-66% after 6, 76-83% after 7. A
 *   stop saves 3 operations a term left, against a test and an unpredictable branch (and a
 *   horizontal min for the global best) per chunk: not built. Lists average 99 candidates.
 * - IQ1_M, a coarse pre-filter for all 4 shift codes at once (exact by monotone rounding: the
 *   largest of fl(s - min ks)^2, fl(s - max ks)^2 against bf * (min a2 + min b2)), counted on
 *   the bench (AVX2, rows 64): 98.9% of steps pass it (92.0% of lane-steps), against 8.6%
 *   for the per-code test (the codes' K and a2 differ by (1 +- 2^-3)^2 factors, so the largest
 *   x^2 and the least sumq2 come from different codes); per pair of codes (group 0's shift
 *   fixed) 96.9%; importance weights: 88.2% (4 codes), 75.9% (pairs), 7.5%. Not built.
 * - IQ1_M's pre-filter against a fixed threshold (theta*f lowered, bf*a2 and bf*b2 tabled once,
 *   4 operations a code instead of 5): 14.1% of steps pass against 8.6% (9.9% vs 7.5% with
 *   importance weights): 5.5% more steps on the pass path (a mispredict each) against 4
 *   operations a step saved, judged a loss without building it.
 * - IQ1_M's pre-filter loop two steps an iteration (masks one pair ahead, one branch a pair,
 *   then each passing step): AVX2 ratio medians 10.06 / 10.05 / 10.09 / 10.10 -> 9.85 / 9.74 /
 *   9.88 / 9.71 (4 pairs): slower.
 * - IQ1_M's pre-filter as the sign of bf*y - x^2 (a subtraction instead of the compare, x86
 *   NaNs negative, -NaN as f's marker, f = -1 in all-zero lanes so that -0 - 0 cannot pass),
 *   AVX2 only: our MB/s without the oracle, new/old mean 1.011, ratios 0.97..1.10 (10 pairs);
 *   ggml ratio pairs 0.97..1.16: noise, not kept. (The CPU is a Zen 5, family 26.)
 *
 * Required from the includer, besides grid_ops_*.h:
 *   M_AND(a, b), M_OR(a, b): both masks, either mask;  I_COUNT(v, m): v + 1 in the lanes of m
 * and, without TC_GRID_AVX2: F_SQRT, F_ABS, F_MAX(a, b) (a > b ? a : b), F_HMAX (no NaN),
 *   F_FROM_BITS (F_BITS's inverse), I_LOAD_U8(p): W bytes zero-extended, F_TRANSPOSE(r, out):
 *   out[k] lane l = r[l] lane k (k, l < W), F_TBL(t, nt, i): lane l = element i[l] of the nt
 *   vectors at t (nt = 16 / W or 32 / W)
 */

#include "grid_lanes.h"
#include "iq1q.h"
#include "kernels.h"
#include "tc_dtype.h"
#if TC_GRID_AVX2
#include "tr8x8.h"
#endif

#include <float.h>
#include <math.h>
#include <string.h>

#define XP0 (-1 + IQ1_DELTA)
#define XP1 IQ1_DELTA
#define XP2 (1 + IQ1_DELTA)
#define XM0 (-1 - IQ1_DELTA)
#define XM1 (-IQ1_DELTA)
#define XM2 (1 - IQ1_DELTA)

/* q of levels 0..2 at positions p & 3 (a permute reads the low bits of the index); position 3
 * is level 3, which only padding has: +Inf. */
static const float qpat_p[16] = {XP0, XP1, XP2, INFINITY, XP0, XP1, XP2, INFINITY,
                                 XP0, XP1, XP2, INFINITY, XP0, XP1, XP2, INFINITY};
static const float qpat_m[16] = {XM0, XM1, XM2, INFINITY, XM0, XM1, XM2, INFINITY,
                                 XM0, XM1, XM2, INFINITY, XM0, XM1, XM2, INFINITY};
/* IQ1_M: the pattern of group k under shift code c (tc_iq1_m_xx), by table: the codes vary
 * from sub-block to sub-block, so a comparison mispredicts. */
static const float *const m_qpat[4][2] = {
    {qpat_p, qpat_p}, {qpat_p, qpat_m}, {qpat_m, qpat_p}, {qpat_m, qpat_m}};
/* lane l = t[4 * (l / 4) + (i[l] & 3)]: every table read by level here (qpat, a search's terms)
 * repeats every 4 lanes, so an in-lane permute, cheaper than a lane-crossing one on x86 */
#if TC_GRID_AVX2 && W == 8
#define F_PERM4(t, i) _mm256_permutevar_ps(t, i)
#elif TC_GRID_AVX2 && W == 16
#define F_PERM4(t, i) _mm512_permutevar_ps(t, i)
#else
#define F_PERM4 F_PERM
#endif
static const int32_t lane_index[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
static const float zero_sub[32];

#if TC_GRID_AVX2
/* max |x| over n (a multiple of 8) finite values: the reference's max, NaN-free. */
TC_ISA_ATTR static inline float amax8(const float *x, int n)
{
    const __m256 abs = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    __m256 m = _mm256_setzero_ps();
    for (int i = 0; i < n; i += 8)
        m = _mm256_max_ps(m, _mm256_and_ps(abs, _mm256_loadu_ps(x + i)));
    __m128 h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    h = _mm_max_ps(h, _mm_movehl_ps(h, h));
    h = _mm_max_ss(h, _mm_movehdup_ps(h));
    return _mm_cvtss_f32(h);
}

/* The weights of a block: qw * sqrt(sigma2 + x^2), or x^2 without importance data. */
TC_ISA_ATTR static inline void block_weights(const float *x, const float *qw, float *weight)
{
    if (qw == NULL) {
        for (int i = 0; i < QK_K; i += 8) {
            const __m256 v = _mm256_loadu_ps(x + i);
            _mm256_storeu_ps(weight + i, _mm256_mul_ps(v, v));
        }
        return;
    }
    const __m256 s2 = _mm256_set1_ps(tc_iq1_sigma2(x));
    for (int i = 0; i < QK_K; i += 8) {
        const __m256 v = _mm256_loadu_ps(x + i);
        _mm256_storeu_ps(weight + i,
                         _mm256_mul_ps(_mm256_loadu_ps(qw + i),
                                       _mm256_sqrt_ps(_mm256_add_ps(s2, _mm256_mul_ps(v, v)))));
    }
}
#else
/* max |x| over n (a multiple of W) finite values: the reference's max, NaN-free. */
TC_ISA_ATTR static inline float amax8(const float *x, int n)
{
    VF m = F_ZERO;
    for (int i = 0; i < n; i += W)
        m = F_MAX(m, F_ABS(F_LOADU(x + i)));
    return F_FIRST(F_HMAX(m));
}

/* The weights of a block: qw * sqrt(sigma2 + x^2), or x^2 without importance data. */
TC_ISA_ATTR static inline void block_weights(const float *x, const float *qw, float *weight)
{
    if (qw == NULL) {
        for (int i = 0; i < QK_K; i += W) {
            const VF v = F_LOADU(x + i);
            F_STOREU(weight + i, F_MUL(v, v));
        }
        return;
    }
    const VF s2 = F_SET1(tc_iq1_sigma2(x));
    for (int i = 0; i < QK_K; i += W) {
        const VF v = F_LOADU(x + i);
        F_STOREU(weight + i, F_MUL(F_LOADU(qw + i), F_SQRT(F_ADD(s2, F_MUL(v, v)))));
    }
}
#endif

/* The reference's sort of n (16 or 32) finite values: idx[] ascending, equal values in
 * glibc's merge sort order; rank[] (when not NULL) its inverse, each element's place. */
TC_ISA_ATTR static inline __attribute__((always_inline)) void sort_sub(const float *x, int n,
                                                                       int *idx, int *rank_out)
{
    VI cnt[32 / W];
    VF xv[32 / W];
    const int nv = n / W;
    for (int v = 0; v < nv; v++) {
        cnt[v] = I_ZERO;
        xv[v] = F_LOADU(x + v * W);
    }
    for (int j = 0; j < n; j++) {
        const VF b = F_BCAST(x + j);
        for (int v = 0; v < nv; v++)
            cnt[v] = I_COUNT(cnt[v], M_CMP(b, xv[v], _CMP_LT_OQ));
    }
    int32_t rank[32];
    for (int v = 0; v < nv; v++)
        I_STOREU(rank + v * W, cnt[v]);
    uint32_t seen = 0;
    for (int i = 0; i < n; i++) {
        seen |= 1u << rank[i];
        idx[rank[i]] = i;
    }
    if (seen != (n == 32 ? 0xffffffffu : (1u << n) - 1)) { /* equal values: places shared */
        int tmp[32];
        for (int i = 0; i < n; i++)
            idx[i] = i;
        tc_iq1_sort(idx, n, x, tmp);
        if (rank_out != NULL)
            for (int j = 0; j < n; j++)
                rank_out[idx[j]] = j;
    } else if (rank_out != NULL) {
        memcpy(rank_out, rank, (size_t)n * sizeof *rank);
    }
}

/*
 * iq1_find_best_neighbour2 over the list at lst (count, then padded entries): the grid index of
 * the point nearest to xv at `scale` by sum of w*(scale*q - x)^2, the first of equal ones.
 */
TC_ISA_ATTR static inline int nb_search(const tc_iq1_lists *tab, const uint16_t *lst,
                                        const float *xv, const float *wv, float scale,
                                        const float *qpat)
{
    const int n = lst[0];
    const uint16_t *ent = lst + 1;
    const VF sq = F_MUL(F_SET1(scale), F_LOADU(qpat));
    VF T[8];
    for (int j = 0; j < 8; j++) {
        const VF d = F_SUB(sq, F_BCAST(xv + j));
        T[j] = F_MUL(F_MUL(F_BCAST(wv + j), d), d);
    }
    VF best = F_SET1(FLT_MAX);
    VI pos = I_LOADU(lane_index), bpos = pos;
    /* a permute reads the low bits of the shifted entry: the terms repeat every 4 lanes, so
     * only the 2 bits of the element's level count */
    for (int c = 0; c < n; c += W, pos = I_ADD(pos, I_SET1(W))) {
        const VI C = I_LOAD_U16(ent + c);
        VF d2 = F_PERM4(T[0], C); /* 0 + t0 but for the sign of a zero, which no comparison sees */
        d2 = F_ADD(d2, F_PERM4(T[1], I_SRLI(C, 2)));
        d2 = F_ADD(d2, F_PERM4(T[2], I_SRLI(C, 4)));
        d2 = F_ADD(d2, F_PERM4(T[3], I_SRLI(C, 6)));
        d2 = F_ADD(d2, F_PERM4(T[4], I_SRLI(C, 8)));
        d2 = F_ADD(d2, F_PERM4(T[5], I_SRLI(C, 10)));
        d2 = F_ADD(d2, F_PERM4(T[6], I_SRLI(C, 12)));
        d2 = F_ADD(d2, F_PERM4(T[7], I_SRLI(C, 14)));
        const VM lt = M_CMP(d2, best, _CMP_LT_OQ);
        best = F_BLEND(best, d2, lt);
        bpos = I_BLEND(bpos, pos, lt);
    }
    return tab->map[tc_iq1_code3(ent[tc_lanes_first_best(best, bpos)])];
}

/* iq1_snap: the grid index of the group's levels, base-3 code c3, or of its best neighbour (then
 * *off = 1). */
TC_ISA_ATTR static inline uint16_t snap_c3(const tc_iq1_lists *T, int c3, const float *xb,
                                           const float *w, float scale, const float *qpat, int *off)
{
    const int m = T->map[c3];
    if (m >= 0)
        return (uint16_t)m;
    *off = 1;
    return (uint16_t)nb_search(T, T->list - m - 1, xb, w, scale, qpat);
}

/* tc_iq1_refit with the products in 8 lanes (a group's elements, (w*q)*x and (w*q)*q as the
 * reference associates them), added one by one in the reference's order; qp[k] the quant pattern
 * of group k. */
TC_ISA_ATTR static inline float refit(const tc_iq2_search *S, const uint16_t *index, int ng,
                                      const float *xb, const float *weight, const float *const *qp,
                                      float scale)
{
    float px[32], p2[32];
#if TC_GRID_AVX2
    const __m256i one = _mm256_set1_epi32(1);
    for (int k = 0; k < ng; ++k) {
        const __m256i g =
            _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(S->grid + index[k])));
        const __m256 q = _mm256_permutevar_ps(_mm256_loadu_ps(qp[k]),
                                              _mm256_srli_epi32(_mm256_sub_epi32(g, one), 1));
        const __m256 wq = _mm256_mul_ps(_mm256_loadu_ps(weight + 8 * k), q);
        _mm256_storeu_ps(px + 8 * k, _mm256_mul_ps(wq, _mm256_loadu_ps(xb + 8 * k)));
        _mm256_storeu_ps(p2 + 8 * k, _mm256_mul_ps(wq, q));
    }
#else
    const VI one = I_SET1(1);
    for (int k = 0; k < ng; ++k) {
        const VF qt = F_LOADU(qp[k]); /* a permute reads the low bits: levels 0..2 */
        const uint8_t *g = (const uint8_t *)(S->grid + index[k]);
        for (int h = 0; h < 8; h += W) {
            const VF q = F_PERM4(qt, I_SRLI(I_SUB(I_LOAD_U8(g + h), one), 1));
            const VF wq = F_MUL(F_LOADU(weight + 8 * k + h), q);
            F_STOREU(px + 8 * k + h, F_MUL(wq, F_LOADU(xb + 8 * k + h)));
            F_STOREU(p2 + 8 * k + h, F_MUL(wq, q));
        }
    }
#endif
    float sumqx = 0, sumq2 = 0;
    for (int i = 0; i < 8 * ng; ++i) {
        sumqx += px[i];
        sumq2 += p2[i];
    }
    return sumqx > 0 && sumq2 > 0 ? sumqx / sumq2 : scale;
}

/* The split searches' pre-filter of a step: mask m of sumqx^2 > best * sumq2, and sumq2 > 0.
 * Without the sumq2 test it is a superset, still exact (the wins are tested in full): fewer
 * instructions, measured faster with AVX2 but slower with AVX-512, so kept there. NEON (W = 4)
 * goes without: IQ1_S 5.7% and IQ1_M 5.2% fewer instructions under qemu. */
#if W <= 8
#define PRE_POS(q2, m) (m)
#else
#define PRE_POS(q2, m) M_AND(M_CMP(q2, F_ZERO, _CMP_GT_OQ), m)
#endif

/* The split searches' start (see the header comment): theta = tau*(1 - delta) where the lane's
 * sum of weights wsum, max |x| am and tau are in the safe ranges and no weight is negative
 * (smallest wmin), else -FLT_MAX. */
TC_ISA_ATTR static inline VF start_theta(VF tau, VF wsum, VF wmin, const float *am, float delta)
{
    const VF amx = F_LOADU(am);
    const VM safe = M_AND(
        M_AND(M_CMP(wsum, F_SET1(0x1p-20f), _CMP_GE_OQ), M_CMP(wsum, F_SET1(0x1p30f), _CMP_LE_OQ)),
        M_AND(M_AND(M_CMP(amx, F_SET1(0x1p10f), _CMP_LE_OQ), M_CMP(wmin, F_ZERO, _CMP_GE_OQ)),
              M_AND(M_CMP(tau, F_SET1(0x1p-40f), _CMP_GE_OQ),
                    M_CMP(tau, F_SET1(0x1p60f), _CMP_LE_OQ))));
    return F_BLEND(F_SET1(-FLT_MAX), F_MUL(tau, F_SET1(1 - delta)), safe);
}

/* a > b or either is NaN (not a <= b) */
#ifndef M_NLE
#define M_NLE(a, b) M_CMP(a, b, _CMP_NLE_UQ)
#endif

#if TC_GRID_AVX2 && W == 8
#define M_SQRT  _mm256_sqrt_ps
#define M_RCP   _mm256_rcp_ps
#define M_MAXPS _mm256_max_ps
#define M_RCP_C (1 - 0x1p-11f)
#elif TC_GRID_AVX2 && W == 16
#define M_SQRT  _mm512_sqrt_ps
#define M_RCP   _mm512_rcp14_ps
#define M_MAXPS _mm512_max_ps
#define M_RCP_C (1 - 0x1p-13f)
#else
#define M_SQRT F_SQRT
#endif

/*
 * IQ1_M's pre-filter (m_search) tests q^2 > bf*q2 for each shift code, where q ~ -sumqx and
 * q2 ~ sumq2 are the reference's real sums taken in another order (2 operations each instead of
 * 4.5), so they differ from the reference's floats by roundings: the test is loosened to
 * bf = best*f, f = 1 - eps, to stay a superset of the steps where a lane wins (the wins are then
 * tested on the reference's floats, as before). The bound, with u = 2^-24, in a lane that starts
 * at theta (start_theta's safe ranges) with every weight >= 0, sum W: the terms' magnitudes are
 * at most 3.125*P for sumqx (P = sum |w*x| <= am*W, am = max |x|; |kx| <= 9/8 of its group's P,
 * each prefix sum at most P) and 3.77*W for sumq2 (|a2| <= (81 + 80)/64 of its group's W, |b2|
 * <= 80/64), and with at most five roundings on each side |q + sumqx| <= Ex = 20u*am*W,
 * |q2 - sumq2| <= E2 = 16u*W. A win needs sumq2 >= W/65 (each q^2 >= 1/64) and fl(sumqx^2) >
 * fl(best*sumq2), so sumqx^2 > best*sumq2*(1 - 2u) and |sumqx| > Qmin = sqrt(best*W/65*(1 - 2u))
 * with best >= theta*(1 - 2^-12) (a win lowers best by at most 4u, at most 612 times). With
 * r = Ex/Qmin and s = E2/(W/65 - E2) (< 1100u), |sumqx| <= |q|/(1 - r) and sumq2 >= q2*(1 - s),
 * so q^2 > best*q2*(1 - s)*(1 - r)^2*(1 - 2u), and the filter's own three roundings cost 3u more:
 * eps = 1.25*(s + 2r) + 16u covers it all. Where eps would exceed 2^-6, where the lane is not safe
 * or a weight is negative, f is NaN, which passes every step (the predicate is NLE_UQ); a lane
 * whose weights are all 0 has q = q2 = 0 at every split, which no step passes, as none wins.
 */
TC_ISA_ATTR static inline VF m_filter_f(VF theta, VF wsum, VF wmin, const float *am)
{
    const VF amx = F_LOADU(am);
    const VF ex = F_MUL(F_MUL(amx, wsum), F_SET1(21 * 0x1p-24f));
    const VF qmin = M_SQRT(F_DIV(F_MUL(theta, wsum), F_SET1(66.0f)));
    const VF r = F_DIV(ex, qmin);
    const VF eps = F_ADD(F_MUL(F_ADD(F_SET1(1120 * 0x1p-24f), F_ADD(r, r)), F_SET1(1.25f)),
                         F_SET1(16 * 0x1p-24f));
    const VM ok = M_AND(M_AND(M_CMP(theta, F_ZERO, _CMP_GT_OQ), M_CMP(wmin, F_ZERO, _CMP_GE_OQ)),
                        M_CMP(eps, F_SET1(0x1p-6f), _CMP_LE_OQ));
    const VM zero = M_AND(M_CMP(wsum, F_ZERO, _CMP_EQ_OQ), M_CMP(wmin, F_ZERO, _CMP_GE_OQ));
    return F_BLEND(F_BLEND(F_SET1(NAN), F_SUB(F_SET1(1.0f), eps), ok), F_SET1(1.0f), zero);
}

#if TC_GRID_AVX2
/* out[k] lane l = r[l] element k (k < 8, l < W): 8 x 8 transposes */
TC_ISA_ATTR static inline void tr_lanes(const __m256 *r, VF *out)
{
#if W == 8
    tc_tr8x8(r, out);
#else
    __m256 lo[8], hi[8];
    tc_tr8x8(r, lo);
    tc_tr8x8(r + 8, hi);
    for (int k = 0; k < 8; k++)
        out[k] = _mm512_insertf32x8(_mm512_castps256_ps512(lo[k]), hi[k], 1);
#endif
}
#else
/*
 * Lane l's n (16 or 32) sorted elements by table lookups (F_TBL: lane = sorted position, reading
 * the lane's own values), then W x W transposes into lane = sub-block: TV[j] lane l = the sorted
 * j-th product w*x of sub-block l, TW[j] its weight, TI[j] (when not NULL) its index as float
 * bits. Pure data movement but for the products, each w*x as the reference's.
 */
TC_ISA_ATTR static inline __attribute__((always_inline)) void sorted_lanes(const float *const *xs,
                                                                           const float *const *ws,
                                                                           const int *idx, int n,
                                                                           VF *TV, VF *TW, VF *TI)
{
    VF rv[32 / W][W], rwt[32 / W][W], ri[32 / W][W];
    for (int l = 0; l < W; l++) {
        VF xt[32 / W], wt[32 / W];
        for (int c = 0; c < n / W; c++) {
            xt[c] = F_LOADU(xs[l] + W * c);
            wt[c] = F_LOADU(ws[l] + W * c);
        }
        for (int c = 0; c < n / W; c++) {
            const VI ii = I_LOADU(idx + n * l + W * c);
            const VF wv = F_TBL(wt, n / W, ii);
            rv[c][l] = F_MUL(wv, F_TBL(xt, n / W, ii));
            rwt[c][l] = wv;
            ri[c][l] = F_FROM_BITS(ii);
        }
    }
    for (int c = 0; c < n / W; c++) {
        F_TRANSPOSE(rv[c], TV + W * c);
        F_TRANSPOSE(rwt[c], TW + W * c);
        if (TI != NULL)
            F_TRANSPOSE(ri[c], TI + W * c);
    }
}
#endif

/* The result of a lane's split search. */
typedef struct split_res {
    int32_t i1[W], i2[W], k[W];
    float scale[W];
} split_res;

/* Unpacks the lanes' best splits: sel = marker | i1 << 8 | i2 << 2 | shift, 0 for none. IQ1_S
 * marks with its shift (1 for +, 2 for -), IQ1_M with bit 16. */
TC_ISA_ATTR static inline void store_res(split_res *r, VI sel, VF scale)
{
    int32_t s[W];
    I_STOREU(s, sel);
    F_STOREU(r->scale, scale);
    for (int l = 0; l < W; l++) {
        r->i1[l] = s[l] ? (s[l] >> 8) & 0xff : -1;
        r->i2[l] = (s[l] >> 2) & 0x3f;
        r->k[l] = s[l] >> 16 ? s[l] & 3 : (s[l] & 3) == 1 ? 1 : -1;
    }
}

/* The base-3 level codes c3[g] of ng (2 or 4) groups of 8 from the elements' places rank[] in
 * the sorted order: the sorted elements below i1 at level 0, below i2 at 1, the rest at 2
 * (i1 >= 0); with AVX2 a group in 8 lanes. A mirrored group (levels 2 - L) has code 6560 - c3. */
TC_ISA_ATTR static inline void group_codes(const int *rank, int ng, int i1, int i2, int *c3)
{
#if TC_GRID_AVX2
    const __m256i p3 = _mm256_setr_epi32(1, 3, 9, 27, 81, 243, 729, 2187);
    const __m256i a = _mm256_set1_epi32(i1 - 1), b = _mm256_set1_epi32(i2 - 1);
    __m256i t[4];
    for (int g = 0; g < 4; ++g) {
        if (g >= ng) {
            t[g] = _mm256_setzero_si256();
            continue;
        }
        const __m256i r = _mm256_loadu_si256((const __m256i *)(rank + 8 * g));
        t[g] = _mm256_add_epi32(_mm256_and_si256(_mm256_cmpgt_epi32(r, a), p3),
                                _mm256_and_si256(_mm256_cmpgt_epi32(r, b), p3));
    }
    /* lane g of the low half + lane g of the high half: group g's sum */
    const __m256i h =
        _mm256_hadd_epi32(_mm256_hadd_epi32(t[0], t[1]), _mm256_hadd_epi32(t[2], t[3]));
    const __m128i hs = _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
    int32_t o[4];
    _mm_storeu_si128((__m128i *)o, hs);
    for (int g = 0; g < ng; ++g)
        c3[g] = o[g];
#else
    static const int pow3[8] = {1, 3, 9, 27, 81, 243, 729, 2187};
    for (int g = 0; g < ng; ++g) {
        int c = 0;
        for (int i = 0; i < 8; ++i)
            c += pow3[i] * ((rank[8 * g + i] >= i1) + (rank[8 * g + i] >= i2));
        c3[g] = c;
    }
#endif
}

/* The grid points of a lane's ng groups with base-3 codes c3 (mirrored where neg: code
 * 6560 - c3): index[g] the point, or 0 for a group off the grid, which is queued for the
 * neighbour search (item[*n] = it0 + g, at[*n] its list's offset). Returns whether one was. */
static inline int map_groups(const tc_iq1_lists *T, const int *c3, int ng, int neg, int it0,
                             uint16_t *index, int *item, int *at, int *n)
{
    int off = 0;
    for (int g = 0; g < ng; g++) {
        const int m = T->map[neg ? 6560 - c3[g] : c3[g]];
        index[g] = (uint16_t)(m >= 0 ? m : 0);
        item[*n] = it0 + g;
        at[*n] = -m - 1;
        off |= m < 0;
        *n += m < 0;
    }
    return off;
}

/* ===== IQ1_S ===== */

/* The splits (i1, i2) whose largest score starts IQ1_S's search (s_search). x86: the 65 most
 * frequent winners on the bench's rows (70% of them; the 5 below: 4%), scored by a reciprocal
 * and a max (s_search), 4 operations a split and shift past the sums: AVX2 ratio medians (4
 * runs each, base 9.8x) with 49, 65, 81, 97: 10.9, 11.0, 10.75, 11.1; AVX-512 (base 13.9x) with
 * 33, 49, 65, 97: 14.6, 15.4, 15.2, 15.7. NEON keeps the 5 and the divisions. */
#if TC_GRID_AVX2
static const int s_tau_splits[][2] = {
    {8, 23},  {9, 24},  {8, 24},  {8, 22},  {9, 23},  {7, 23},  {8, 25},  {9, 25},  {9, 26},
    {10, 25}, {7, 24},  {10, 24}, {6, 23},  {7, 25},  {10, 26}, {9, 22},  {7, 22},  {8, 26},
    {11, 25}, {6, 22},  {6, 24},  {10, 23}, {7, 26},  {11, 24}, {8, 21},  {7, 21},  {6, 25},
    {5, 23},  {11, 26}, {6, 21},  {10, 22}, {9, 27},  {10, 27}, {11, 27}, {5, 22},  {7, 20},
    {12, 25}, {6, 20},  {8, 27},  {5, 24},  {9, 21},  {6, 26},  {11, 23}, {5, 21},  {7, 27},
    {12, 24}, {12, 26}, {5, 25},  {10, 28}, {8, 28},  {4, 22},  {10, 21}, {8, 20},  {12, 27},
    {9, 28},  {4, 23},  {4, 24},  {7, 19},  {13, 25}, {5, 20},  {6, 19},  {11, 28}, {6, 27},
    {13, 26}, {12, 23}};
#else
static const int s_tau_splits[][2] = {{8, 24}, {6, 26}, {10, 22}, {4, 28}, {12, 20}};
#endif

/*
 * The split search of W sub-blocks of 32 (lane l: values xs[l], weights ws[l], sorted order
 * idx[l]); r->i1 < 0 where no split has sumq2 > 0, else the best split, r->k its shift (+1/-1)
 * and r->scale its scale.
 */
TC_ISA_ATTR static void s_search(const float *const *xs, const float *const *ws, const float *am,
                                 int idx[][32], split_res *r)
{
    enum { BS = 32 };
    /* each lane's sorted products and weights by permutes (bits 3 and 4 of an index pick its
     * quarter), then 8 x 8 transposes into lane = sub-block, as m_search */
#if TC_GRID_AVX2
    __m256 rv[4][W], rwt[4][W];
    for (int l = 0; l < W; l++) {
        __m256 xq[4], wq[4];
        for (int q = 0; q < 4; q++) {
            xq[q] = _mm256_loadu_ps(xs[l] + 8 * q);
            wq[q] = _mm256_loadu_ps(ws[l] + 8 * q);
        }
        for (int g = 0; g < 4; g++) {
            const __m256i ii = _mm256_loadu_si256((const __m256i *)(idx[l] + 8 * g));
            const __m256 b3 = _mm256_castsi256_ps(_mm256_slli_epi32(ii, 28));
            const __m256 b4 = _mm256_castsi256_ps(_mm256_slli_epi32(ii, 27));
#define S_PICK(v)                                                                                  \
    _mm256_blendv_ps(_mm256_blendv_ps(_mm256_permutevar8x32_ps(v[0], ii),                          \
                                      _mm256_permutevar8x32_ps(v[1], ii), b3),                     \
                     _mm256_blendv_ps(_mm256_permutevar8x32_ps(v[2], ii),                          \
                                      _mm256_permutevar8x32_ps(v[3], ii), b3),                     \
                     b4)
            const __m256 xv = S_PICK(xq), wv = S_PICK(wq);
#undef S_PICK
            rv[g][l] = _mm256_mul_ps(wv, xv);
            rwt[g][l] = wv;
        }
    }
    VF TV[BS], TW[BS];
    for (int g = 0; g < 4; g++) {
        tr_lanes(rv[g], TV + 8 * g);
        tr_lanes(rwt[g], TW + 8 * g);
    }
#else
    VF TV[BS], TW[BS];
    sorted_lanes(xs, ws, &idx[0][0], BS, TV, TW, NULL);
#endif
    VF PX[BS + 1], PW[BS + 1];
    PX[0] = PW[0] = F_ZERO;
    for (int j = 0; j < BS; j++) {
        PX[j + 1] = F_ADD(PX[j], TV[j]);
        PW[j + 1] = F_ADD(PW[j], TW[j]);
    }
    const VF xp0 = F_SET1(XP0), xp1 = F_SET1(XP1), xp2 = F_SET1(XP2);
    const VF xm0 = F_SET1(XM0), xm2 = F_SET1(XM2);
    VF CXP[BS + 1], CXM[BS + 1], CWP[BS + 1], CWM[BS + 1];
    for (int i2 = 0; i2 <= BS; i2++) {
        const VF dx2 = F_SUB(PX[BS], PX[i2]), dw2 = F_SUB(PW[BS], PW[i2]);
        CXP[i2] = F_MUL(dx2, xp2);
        CXM[i2] = F_MUL(dx2, xm2);
        CWP[i2] = F_MUL(F_MUL(dw2, xp2), xp2);
        CWM[i2] = F_MUL(F_MUL(dw2, xm2), xm2);
    }
    const VF zero = F_ZERO;
#define S_A(i1)                                                                                    \
    const VF sx1 = PX[i1], sw1 = PW[i1];                                                           \
    const VF dx0 = F_SUB(sx1, PX[0]), dw0 = F_SUB(sw1, PW[0]);                                     \
    const VF ax_p = F_MUL(dx0, xp0), ax_m = F_MUL(dx0, xm0);                                       \
    const VF aw_p = F_MUL(F_MUL(dw0, xp0), xp0), aw_m = F_MUL(F_MUL(dw0, xm0), xm0);
#define S_SUMS(i2)                                                                                 \
    const VF dx1 = F_SUB(PX[i2], sx1), dw1 = F_SUB(PW[i2], sw1);                                   \
    const VF bx = F_MUL(dx1, xp1), bw = F_MUL(F_MUL(dw1, xp1), xp1);                               \
    const VF qx_p = F_ADD(F_ADD(ax_p, bx), CXP[i2]);                                               \
    const VF q2_p = F_ADD(F_ADD(aw_p, bw), CWP[i2]);                                               \
    const VF qx_m = F_ADD(F_SUB(ax_m, bx), CXM[i2]);                                               \
    const VF q2_m = F_ADD(F_ADD(aw_m, bw), CWM[i2]);
    /* the start, as m_search's (see the header comment) */
#if TC_GRID_AVX2
    /* x86: the largest qx^2 * rcp(q2) of each shift over the splits, by a max (rcpps' relative
     * error is at most 1.5 * 2^-12, rcp14's 2^-14; M_RCP_C). The sums are the reference's, so
     * each product is at most (1 + u)^2 (1 + 1.5 * 2^-12) qx^2/q2 and tau, its largest times
     * M_RCP_C (a rounding more), less than the largest qx^2/q2 of a split with q2 > 0, i.e.
     * tau < M: the bound tau <= M*(1 + 2u) the argument needs. Where q2 <= 0 (all weights 0,
     * or negative ones) the product is <= 0, NaN, -Inf or, at q2 = +0, +Inf; such a lane gets
     * no start (start_theta: its weights, or tau > 2^60); a NaN never wins the max (maxps
     * returns its second operand), and tau >= 0. In a safe lane q2 >=
     * sum(w)/65 >= 2^-27, normal, where the reciprocal's bound holds. */
    VF tmp = F_ZERO, tmm = F_ZERO;
    for (int t = 0; t < (int)(sizeof s_tau_splits / sizeof *s_tau_splits); t++) {
        S_A(s_tau_splits[t][0])
        S_SUMS(s_tau_splits[t][1])
        tmp = M_MAXPS(F_MUL(F_MUL(qx_p, qx_p), M_RCP(q2_p)), tmp);
        tmm = M_MAXPS(F_MUL(F_MUL(qx_m, qx_m), M_RCP(q2_m)), tmm);
    }
    const VF tau = F_MUL(M_MAXPS(tmp, tmm), F_SET1(M_RCP_C));
#else
    VF tau = F_SET1(-FLT_MAX);
    for (int t = 0; t < (int)(sizeof s_tau_splits / sizeof *s_tau_splits); t++) {
        S_A(s_tau_splits[t][0])
        S_SUMS(s_tau_splits[t][1])
        const VF bs_p = F_MUL(F_DIV(qx_p, q2_p), qx_p), bs_m = F_MUL(F_DIV(qx_m, q2_m), qx_m);
        tau =
            F_BLEND(tau, bs_p, M_AND(M_CMP(q2_p, zero, _CMP_GT_OQ), M_CMP(bs_p, tau, _CMP_GT_OQ)));
        tau =
            F_BLEND(tau, bs_m, M_AND(M_CMP(q2_m, zero, _CMP_GT_OQ), M_CMP(bs_m, tau, _CMP_GT_OQ)));
    }
#endif
    VF wmin = TW[0];
    for (int j = 1; j < BS; j++)
        wmin = F_MIN(wmin, TW[j]);
    VF best = start_theta(tau, PW[BS], wmin, am, 0x1p-11f), scale = F_ZERO;
    VI sel = I_ZERO; /* the best split: i1 << 8 | i2 << 2 | shift (1 +, 2 -), 0 none */
    for (int i1 = 0; i1 <= BS; i1++) {
        S_A(i1)
        for (int i2 = i1; i2 <= BS; i2++) {
            S_SUMS(i2)
            /* most steps change no lane's best: test both shifts against it at once first
             * (exact, since a lane's best only changes by a win) */
            const VF qq_p = F_MUL(qx_p, qx_p), qq_m = F_MUL(qx_m, qx_m);
            const VM gt_p = M_CMP(qq_p, F_MUL(best, q2_p), _CMP_GT_OQ);
            if (!M_BITS(M_OR(PRE_POS(q2_p, gt_p),
                             PRE_POS(q2_m, M_CMP(qq_m, F_MUL(best, q2_m), _CMP_GT_OQ)))))
                continue;
            const VM pos_m = M_CMP(q2_m, zero, _CMP_GT_OQ);
            const VM mp = M_AND(M_CMP(q2_p, zero, _CMP_GT_OQ), gt_p);
            const VF sc_p = F_DIV(qx_p, q2_p), sc_m = F_DIV(qx_m, q2_m);
            best = F_BLEND(best, F_MUL(sc_p, qx_p), mp);
            scale = F_BLEND(scale, sc_p, mp);
            sel = I_BLEND(sel, I_SET1(i1 << 8 | i2 << 2 | 1), mp);
            const VM mm = M_AND(pos_m, M_CMP(qq_m, F_MUL(best, q2_m), _CMP_GT_OQ));
            best = F_BLEND(best, F_MUL(sc_m, qx_m), mm);
            scale = F_BLEND(scale, sc_m, mm);
            sel = I_BLEND(sel, I_SET1(i1 << 8 | i2 << 2 | 2), mm);
        }
    }
#undef S_A
#undef S_SUMS
    store_res(r, sel, scale);
}
/*
 * The rest of iq1_s_sub (levels, sign flip, grid points, refit) for the nl lanes from l0 (one
 * block's 8 sub-blocks, or fewer with W < 8): scales, shifts and 4 indices per lane, for the
 * lanes not skipped. In phases, as IQ1_M's m_finish_lanes: every lane's codes and map lookups,
 * then the neighbour searches of the groups off the grid (a list of them), then each lane's
 * refit, computed whether or not a group was off the grid and taken where one was.
 */
TC_ISA_ATTR static void s_finish_lanes(const tc_iq2_search *S, const tc_iq1_lists *T,
                                       const float *const *xs, const float *const *ws,
                                       int rank[][32], const int *skip, const split_res *r, int l0,
                                       int nl, float *scales, int *shifts, uint16_t *index)
{
    int kk[8], off[8], item[32], at[32], n = 0;
    float sc[8];
    for (int i = 0; i < nl; i++) {
        const int l = l0 + i;
        scales[i] = 0;
        shifts[i] = 1;
        index[4 * i] = index[4 * i + 1] = index[4 * i + 2] = index[4 * i + 3] = 0;
        off[i] = 0;
        if (skip[l] || r->i1[l] < 0)
            continue;
        int c3[4];
        group_codes(rank[l], 4, r->i1[l], r->i2[l], c3);
        const float s0 = r->scale[l];
        const int neg = s0 < 0; /* the mirror: levels 2 - L, code 6560 - c3 */
        sc[i] = neg ? -s0 : s0;
        kk[i] = neg ? -r->k[l] : r->k[l]; /* the shift mirrors with the levels */
        off[i] = map_groups(T, c3, 4, neg, 4 * i, index + 4 * i, item, at, &n);
    }
    for (int j = 0; j < n; j++) {
        const int i = item[j] >> 2, g = item[j] & 3, l = l0 + i;
        index[item[j]] = (uint16_t)nb_search(T, T->list + at[j], xs[l] + 8 * g, ws[l] + 8 * g,
                                             sc[i], kk[i] == 1 ? qpat_p : qpat_m);
    }
    for (int i = 0; i < nl; i++) {
        const int l = l0 + i;
        if (skip[l] || r->i1[l] < 0)
            continue;
        const float *qpat = kk[i] == 1 ? qpat_p : qpat_m;
        const float *qk[4] = {qpat, qpat, qpat, qpat};
        const float rs = refit(S, index + 4 * i, 4, xs[l], ws[l], qk, sc[i]);
        scales[i] = off[i] ? rs : sc[i];
        shifts[i] = kk[i];
    }
}

/* Lane l of IQ1_S's split search: the sub-block of 32 values at x (weights w), its max |x| and
 * sorted order. One whose max is below the reference's epsilon is skipped: its lane gets zero
 * values, for which no split has sumq2 > 0. Returns whether it is skipped. */
TC_ISA_ATTR static inline int s_lane(const float *x, const float *w, int l, const float **xs,
                                     const float **ws, float *am, int (*idx)[32], int (*rank)[32])
{
    am[l] = amax8(x, 32);
    if (am[l] < GROUP_MAX_EPS_IQ1_S) {
        xs[l] = ws[l] = zero_sub;
        for (int j = 0; j < 32; j++)
            idx[l][j] = j;
        return 1;
    }
    xs[l] = x;
    ws[l] = w;
    sort_sub(x, 32, idx[l], rank[l]);
    return 0;
}

#if W >= 8
/* IQ1_S rows: W / 8 blocks at a time, their sub-blocks in the lanes. */
TC_ISA_ATTR static void iq1_s_rows(const float *src, void *dst, int64_t n_rows, int64_t n_per_row,
                                   const float *qw)
{
    enum { CB = W / 8 };
    const int64_t nb = n_per_row / QK_K, total = n_rows * nb;
    const tc_iq2_search *S = tc_iq2_search_get(TC_DTYPE_IQ1_S);
    const tc_iq1_lists *T = tc_iq1_lists_get();
    uint8_t *y = dst;
    if (S == NULL || qw == NULL) { /* as the reference: zero blocks rather than a crash */
        memset(y, 0, (size_t)total * IQ1S_SIZE);
        return;
    }
    for (int64_t b0 = 0; b0 < total; b0 += CB) {
        float weight[CB][QK_K];
        const float *xs[W], *ws[W];
        float am[W];
        int idx[W][32], rank[W][32], skip[W], live[CB];
        for (int c = 0; c < CB; c++) {
            const int64_t b = b0 + c;
            const float *x = b < total ? src + b * QK_K : zero_sub, *w = qw + (b % nb) * QK_K;
            live[c] = b < total && T != NULL && tc_all_finite(x, QK_K) && tc_all_finite(w, QK_K);
            if (b < total && !live[c])
                tc_ref_iq1_s_block(S, x, w, y + b * IQ1S_SIZE);
            if (live[c])
                block_weights(x, w, weight[c]);
            for (int ib = 0; ib < 8; ib++) /* a block not searched here: zero values */
                skip[8 * c + ib] = s_lane(live[c] ? x + 32 * ib : zero_sub,
                                          live[c] ? weight[c] + 32 * ib : zero_sub, 8 * c + ib, xs,
                                          ws, am, idx, rank);
        }
        split_res r;
        s_search(xs, ws, am, idx, &r);
        for (int c = 0; c < CB; c++) {
            if (!live[c])
                continue;
            float scales[8];
            int shifts[8];
            uint16_t index[32];
            s_finish_lanes(S, T, xs, ws, rank, skip, &r, 8 * c, 8, scales, shifts, index);
            tc_iq1_s_finish(scales, shifts, index, y + (b0 + c) * IQ1S_SIZE);
        }
    }
}
#else
/* IQ1_S rows with fewer than 8 lanes: one block at a time, its 8 sub-blocks in 8 / W passes of
 * the lanes. */
TC_ISA_ATTR static void iq1_s_rows(const float *src, void *dst, int64_t n_rows, int64_t n_per_row,
                                   const float *qw)
{
    const int64_t nb = n_per_row / QK_K, total = n_rows * nb;
    const tc_iq2_search *S = tc_iq2_search_get(TC_DTYPE_IQ1_S);
    const tc_iq1_lists *T = tc_iq1_lists_get();
    uint8_t *y = dst;
    if (S == NULL || qw == NULL) { /* as the reference: zero blocks rather than a crash */
        memset(y, 0, (size_t)total * IQ1S_SIZE);
        return;
    }
    for (int64_t b = 0; b < total; b++, y += IQ1S_SIZE) {
        const float *x = src + b * QK_K, *w = qw + (b % nb) * QK_K;
        if (T == NULL || !tc_all_finite(x, QK_K) || !tc_all_finite(w, QK_K)) {
            tc_ref_iq1_s_block(S, x, w, y);
            continue;
        }
        float weight[QK_K], scales[8];
        int shifts[8];
        uint16_t index[32];
        block_weights(x, w, weight);
        for (int p = 0; p < 8; p += W) {
            const float *xs[W], *ws[W];
            float am[W];
            int idx[W][32], rank[W][32], skip[W];
            for (int l = 0; l < W; l++)
                skip[l] = s_lane(x + 32 * (p + l), weight + 32 * (p + l), l, xs, ws, am, idx, rank);
            split_res r;
            s_search(xs, ws, am, idx, &r);
            s_finish_lanes(S, T, xs, ws, rank, skip, &r, 0, W, scales + p, shifts + p,
                           index + 4 * p);
        }
        tc_iq1_s_finish(scales, shifts, index, y);
    }
}
#endif

/* ===== IQ1_M ===== */

/* m_search's data per boundary j: what a split reads at i1 = j (px, a2) and at i2 = j (px, b2) */
typedef struct m_node {
    VF px[2], a2p[2], a2m[2], b2p[2], b2m[2];
    /* the pre-filter's (m_search): at i1, ks[k] = K_k - S and a2[k] (both groups' a2 of code
     * k added); at i2, s = px[0] + px[1] and b2[k] likewise */
    VF ks[4], a2[4], s, b2[4];
} m_node;

/* The 153 splits in the reference's order (i1, then i2 from i1) as byte offsets of their
 * m_nodes, for one loop over them all: the rows' varying lengths made an inner loop's exit
 * mispredict once a row. */
#define MO(a, b)                                                                                   \
    {                                                                                              \
        (a) * sizeof(m_node), (b) * sizeof(m_node)                                                 \
    }
static const uint16_t m_order[154][2] = {
    MO(0, 0),   MO(0, 1),   MO(0, 2),   MO(0, 3),   MO(0, 4),   MO(0, 5),   MO(0, 6),   MO(0, 7),
    MO(0, 8),   MO(0, 9),   MO(0, 10),  MO(0, 11),  MO(0, 12),  MO(0, 13),  MO(0, 14),  MO(0, 15),
    MO(0, 16),  MO(1, 1),   MO(1, 2),   MO(1, 3),   MO(1, 4),   MO(1, 5),   MO(1, 6),   MO(1, 7),
    MO(1, 8),   MO(1, 9),   MO(1, 10),  MO(1, 11),  MO(1, 12),  MO(1, 13),  MO(1, 14),  MO(1, 15),
    MO(1, 16),  MO(2, 2),   MO(2, 3),   MO(2, 4),   MO(2, 5),   MO(2, 6),   MO(2, 7),   MO(2, 8),
    MO(2, 9),   MO(2, 10),  MO(2, 11),  MO(2, 12),  MO(2, 13),  MO(2, 14),  MO(2, 15),  MO(2, 16),
    MO(3, 3),   MO(3, 4),   MO(3, 5),   MO(3, 6),   MO(3, 7),   MO(3, 8),   MO(3, 9),   MO(3, 10),
    MO(3, 11),  MO(3, 12),  MO(3, 13),  MO(3, 14),  MO(3, 15),  MO(3, 16),  MO(4, 4),   MO(4, 5),
    MO(4, 6),   MO(4, 7),   MO(4, 8),   MO(4, 9),   MO(4, 10),  MO(4, 11),  MO(4, 12),  MO(4, 13),
    MO(4, 14),  MO(4, 15),  MO(4, 16),  MO(5, 5),   MO(5, 6),   MO(5, 7),   MO(5, 8),   MO(5, 9),
    MO(5, 10),  MO(5, 11),  MO(5, 12),  MO(5, 13),  MO(5, 14),  MO(5, 15),  MO(5, 16),  MO(6, 6),
    MO(6, 7),   MO(6, 8),   MO(6, 9),   MO(6, 10),  MO(6, 11),  MO(6, 12),  MO(6, 13),  MO(6, 14),
    MO(6, 15),  MO(6, 16),  MO(7, 7),   MO(7, 8),   MO(7, 9),   MO(7, 10),  MO(7, 11),  MO(7, 12),
    MO(7, 13),  MO(7, 14),  MO(7, 15),  MO(7, 16),  MO(8, 8),   MO(8, 9),   MO(8, 10),  MO(8, 11),
    MO(8, 12),  MO(8, 13),  MO(8, 14),  MO(8, 15),  MO(8, 16),  MO(9, 9),   MO(9, 10),  MO(9, 11),
    MO(9, 12),  MO(9, 13),  MO(9, 14),  MO(9, 15),  MO(9, 16),  MO(10, 10), MO(10, 11), MO(10, 12),
    MO(10, 13), MO(10, 14), MO(10, 15), MO(10, 16), MO(11, 11), MO(11, 12), MO(11, 13), MO(11, 14),
    MO(11, 15), MO(11, 16), MO(12, 12), MO(12, 13), MO(12, 14), MO(12, 15), MO(12, 16), MO(13, 13),
    MO(13, 14), MO(13, 15), MO(13, 16), MO(14, 14), MO(14, 15), MO(14, 16), MO(15, 15), MO(15, 16),
    MO(16, 16), MO(16, 16)}; /* the last a pad, for the pre-filter one step ahead */
#undef MO

/* The splits (i1, i2) from which IQ1_M's search takes its start (m_search): x86, the 33 most
 * frequent winners on the bench's rows (with and without importance weights), 77% of them,
 * scored by a reciprocal and a max (m_search). AVX2 ratio medians (4 runs each, base 9.16x)
 * with 33, 41, 49, 57: 9.19, 9.31, 9.49, 9.18 (noise); then 33 against 49 head to head: AVX2
 * 9.90 / 9.84 vs 9.51 / 9.48 (5 + 6 pairs), AVX-512 12.46 vs 11.97 (4 pairs); 33 against 25:
 * 10.09 vs 9.91 (AVX2, 5 pairs). With the
 * pre-filter's sums (2 operations a code) and cross products they cost less than the passes
 * they save: AVX2 MB/s with 17, 25, 33, 41: 426, 430, 432, 429 (4 runs each); AVX-512 with 5,
 * 9, 17, 33: 508, 499, 512, 518. With a division per split and code, 17 measured +1.3% with
 * AVX2 (8 pairs) but -4% with AVX-512 (6 pairs) against 5. NEON keeps 5: its 4 lanes run four
 * searches a block, and 33 splits cost it more instructions than they save (neon_icount
 * IQ1_M, one row: 1.279 M against 1.207 M). */
#if W >= 8
static const int m_tau_splits[][2] = {{4, 12}, {3, 12}, {4, 13}, {3, 13}, {5, 12}, {4, 11}, {3, 11},
                                      {5, 13}, {4, 14}, {2, 12}, {5, 11}, {2, 13}, {5, 14}, {3, 14},
                                      {2, 11}, {3, 10}, {6, 13}, {6, 12}, {4, 10}, {2, 14}, {6, 14},
                                      {2, 10}, {5, 10}, {6, 11}, {4, 15}, {1, 12}, {3, 15}, {1, 13},
                                      {7, 13}, {5, 15}, {3, 9},  {1, 11}, {1, 14}};
#else
static const int m_tau_splits[][2] = {{4, 12}, {3, 13}, {5, 11}, {2, 14}, {6, 10}};
#endif

/*
 * The split search of W sub-blocks of 16 (lane l: values xs[l], weights ws[l], sorted order
 * idx[l]); r->i1 < 0 where no split has sumq2 > 0, else the best split, r->k its shift code
 * and r->scale its scale.
 */
TC_ISA_ATTR static void m_search(const float *const *xs, const float *const *ws, const float *am,
                                 int idx[][16], split_res *r)
{
    enum { BS = 16 };
    VF PX[2][BS + 1], PW[2][BS + 1];
    PX[0][0] = PX[1][0] = PW[0][0] = PW[1][0] = F_ZERO;
    /* each lane's sorted products, weights and indices by permutes (a row's elements = the
     * sorted positions), then 8 x 8 transposes into lane = sub-block */
#if TC_GRID_AVX2
    __m256 rv[2][W], rwt[2][W], ri[2][W];
    for (int l = 0; l < W; l++) {
        const __m256 x0 = _mm256_loadu_ps(xs[l]), x1 = _mm256_loadu_ps(xs[l] + 8);
        const __m256 w0 = _mm256_loadu_ps(ws[l]), w1 = _mm256_loadu_ps(ws[l] + 8);
        for (int hh = 0; hh < 2; hh++) {
            const __m256i ii = _mm256_loadu_si256((const __m256i *)(idx[l] + 8 * hh));
            const __m256 hi = _mm256_castsi256_ps(_mm256_cmpgt_epi32(ii, _mm256_set1_epi32(7)));
            const __m256 xv = _mm256_blendv_ps(_mm256_permutevar8x32_ps(x0, ii),
                                               _mm256_permutevar8x32_ps(x1, ii), hi);
            const __m256 wv = _mm256_blendv_ps(_mm256_permutevar8x32_ps(w0, ii),
                                               _mm256_permutevar8x32_ps(w1, ii), hi);
            rv[hh][l] = _mm256_mul_ps(wv, xv);
            rwt[hh][l] = wv;
            ri[hh][l] = _mm256_castsi256_ps(ii);
        }
    }
    VF TV[BS], TW[BS], TI[BS];
    for (int hh = 0; hh < 2; hh++) {
        tr_lanes(rv[hh], TV + 8 * hh);
        tr_lanes(rwt[hh], TW + 8 * hh);
        tr_lanes(ri[hh], TI + 8 * hh);
    }
#else
    VF TV[BS], TW[BS], TI[BS];
    sorted_lanes(xs, ws, &idx[0][0], BS, TV, TW, TI);
#endif
    const VI seven = I_SET1(BS / 2 - 1);
    /* per group h, prefix sums over the sorted elements of that group only (the others carry
     * the previous sum over, as the reference copies it) */
    for (int j = 0; j < BS; j++) {
        const VF v = TV[j], w = TW[j];
        const VM h1 = M_ICMPGT(F_BITS(TI[j]), seven);
        PX[0][j + 1] = F_BLEND(F_ADD(PX[0][j], v), PX[0][j], h1);
        PW[0][j + 1] = F_BLEND(F_ADD(PW[0][j], w), PW[0][j], h1);
        PX[1][j + 1] = F_BLEND(PX[1][j], F_ADD(PX[1][j], v), h1);
        PW[1][j + 1] = F_BLEND(PW[1][j], F_ADD(PW[1][j], w), h1);
    }
    const float cp1 = XP0 * XP0 - XP1 * XP1, cp2 = XP1 * XP1 - XP2 * XP2;
    const float cm1 = XM0 * XM0 - XM1 * XM1, cm2 = XM1 * XM1 - XM2 * XM2;
    const VF p2 = F_SET1(XP2), m2 = F_SET1(XM2);
    VF kx_p[2], kx_m[2], aw_p[2], aw_m[2], B2P[2][BS + 1], B2M[2][BS + 1];
    for (int h = 0; h < 2; h++) {
        kx_p[h] = F_MUL(PX[h][BS], p2);
        kx_m[h] = F_MUL(PX[h][BS], m2);
        aw_p[h] = F_MUL(F_MUL(PW[h][BS], p2), p2);
        aw_m[h] = F_MUL(F_MUL(PW[h][BS], m2), m2);
        for (int i2 = 0; i2 <= BS; i2++) {
            B2P[h][i2] = F_MUL(PW[h][i2], F_SET1(cp2));
            B2M[h][i2] = F_MUL(PW[h][i2], F_SET1(cm2));
        }
    }
    const VF zero = F_ZERO;
    m_node D[BS + 1];
    for (int j = 0; j <= BS; j++)
        for (int h = 0; h < 2; h++) {
            D[j].px[h] = PX[h][j];
            D[j].a2p[h] = F_ADD(aw_p[h], F_MUL(PW[h][j], F_SET1(cp1)));
            D[j].a2m[h] = F_ADD(aw_m[h], F_MUL(PW[h][j], F_SET1(cm1)));
            D[j].b2p[h] = B2P[h][j];
            D[j].b2m[h] = B2M[h][j];
        }
    /* the pre-filter's sums: per code k = (a, b) (a group 0's shift, b group 1's), K_k = kx_a[0] +
     * kx_b[1], and S = px[0] + px[1]; then -sumqx ~ S[i2] - (K_k - S[i1]) and sumq2 ~ a2_k[i1] +
     * b2_k[i2], each a real sum of the reference's terms in another order */
    const VF kk[4] = {F_ADD(kx_p[0], kx_p[1]), F_ADD(kx_p[0], kx_m[1]), F_ADD(kx_m[0], kx_p[1]),
                      F_ADD(kx_m[0], kx_m[1])};
    for (int j = 0; j <= BS; j++) {
        m_node *n = &D[j];
        n->s = F_ADD(n->px[0], n->px[1]);
        for (int k = 0; k < 4; k++)
            n->ks[k] = F_SUB(kk[k], n->s);
        n->a2[0] = F_ADD(n->a2p[0], n->a2p[1]);
        n->a2[1] = F_ADD(n->a2p[0], n->a2m[1]);
        n->a2[2] = F_ADD(n->a2m[0], n->a2p[1]);
        n->a2[3] = F_ADD(n->a2m[0], n->a2m[1]);
        n->b2[0] = F_ADD(n->b2p[0], n->b2p[1]);
        n->b2[1] = F_ADD(n->b2p[0], n->b2m[1]);
        n->b2[2] = F_ADD(n->b2m[0], n->b2p[1]);
        n->b2[3] = F_ADD(n->b2m[0], n->b2m[1]);
    }
#define M_SUMS(r, c, sumqx, sumq2)                                                                 \
    VF sumqx[4], sumq2[4];                                                                         \
    {                                                                                              \
        VF qx_p[2], qx_m[2], q2_p[2], q2_m[2];                                                     \
        for (int h = 0; h < 2; h++) {                                                              \
            const VF sx = F_ADD((r)->px[h], (c)->px[h]);                                           \
            qx_p[h] = F_SUB(kx_p[h], sx);                                                          \
            qx_m[h] = F_SUB(kx_m[h], sx);                                                          \
            q2_p[h] = F_ADD((r)->a2p[h], (c)->b2p[h]);                                             \
            q2_m[h] = F_ADD((r)->a2m[h], (c)->b2m[h]);                                             \
        }                                                                                          \
        sumqx[0] = F_ADD(qx_p[0], qx_p[1]);                                                        \
        sumqx[1] = F_ADD(qx_p[0], qx_m[1]);                                                        \
        sumqx[2] = F_ADD(qx_m[0], qx_p[1]);                                                        \
        sumqx[3] = F_ADD(qx_m[0], qx_m[1]);                                                        \
        sumq2[0] = F_ADD(q2_p[0], q2_p[1]);                                                        \
        sumq2[1] = F_ADD(q2_p[0], q2_m[1]);                                                        \
        sumq2[2] = F_ADD(q2_m[0], q2_p[1]);                                                        \
        sumq2[3] = F_ADD(q2_m[0], q2_m[1]);                                                        \
    }
    /* The search's start, from the splits of m_tau_splits: the one with the largest
     * q^2/q2 of the pre-filter's sums (by cross products, one chain per shift code), whose score
     * s = q^2/q2 (one division) bounds M, the lane's largest sumqx^2/sumq2 of the reference's
     * floats, from below: with Ex, E2 the pre-filter's bounds (m_filter_f) and sumq2 >= W/65,
     * q2 >= sumq2*(1 - 1040u) and |q| <= |sumqx| + Ex, so sqrt(s*(1 - 1040u)/(1 + 2u)) <=
     * sqrt(sumqx^2/sumq2) + Ex*sqrt(65/W) <= sqrt(M) + D. Then tau = (sqrt(s*(1 - 1100u)) -
     * 1.01*D)^2*(1 - 2^-18) (its own roundings inside the last factor) is at most M, and the
     * search starts at theta = tau*(1 - 2^-12) where the lane is safe (start_theta; its tau
     * test also drops a lane where the root came out <= 0). */
#if TC_GRID_AVX2
    /* x86: each code's largest q^2/q2 by an approximate reciprocal (rcpps, relative error at
     * most 1.5 * 2^-12; AVX-512's rcp14, 2^-14), kept by a max: one dependent operation a split
     * instead of a compare and two blends. Then st = that largest * M_RCP_C, M_RCP_C = 1 - 2^-11
     * (1 - 2^-13 with rcp14), is at most (1 + 1.5 * 2^-12)(1 - 2^-11)(1 + u)^2 q^2/q2 < q^2/q2 of
     * a split's pre-filter sums, below the quotient the bound below takes, so tau stays <= M. A
     * NaN quotient (no start in that lane: start_theta) never wins the max (maxps returns its
     * second operand); st >= 0. In a safe lane q2 >= W/65 - E2 >= 2^-27, a normal number, where
     * the reciprocal's bound holds (a subnormal q2 would give Inf, which start_theta drops). */
    VF tmx[4] = {F_ZERO, F_ZERO, F_ZERO, F_ZERO};
    for (int t = 0; t < (int)(sizeof m_tau_splits / sizeof *m_tau_splits); t++) {
        const m_node *rt = &D[m_tau_splits[t][0]], *ct = &D[m_tau_splits[t][1]];
        for (int k = 0; k < 4; k++) {
            const VF x = F_SUB(ct->s, rt->ks[k]), q2 = F_ADD(rt->a2[k], ct->b2[k]);
            tmx[k] = M_MAXPS(F_MUL(F_MUL(x, x), M_RCP(q2)), tmx[k]);
        }
    }
    const VF st = F_MUL(M_MAXPS(M_MAXPS(tmx[0], tmx[1]), M_MAXPS(tmx[2], tmx[3])), F_SET1(M_RCP_C));
#else
    VF txx[4], tq[4];
    {
        const m_node *r0 = &D[m_tau_splits[0][0]], *c0 = &D[m_tau_splits[0][1]];
        for (int k = 0; k < 4; k++) {
            const VF x = F_SUB(c0->s, r0->ks[k]);
            txx[k] = F_MUL(x, x);
            tq[k] = F_ADD(r0->a2[k], c0->b2[k]);
        }
    }
    for (int t = 1; t < (int)(sizeof m_tau_splits / sizeof *m_tau_splits); t++) {
        const m_node *rt = &D[m_tau_splits[t][0]], *ct = &D[m_tau_splits[t][1]];
        for (int k = 0; k < 4; k++) {
            const VF x = F_SUB(ct->s, rt->ks[k]), q2 = F_ADD(rt->a2[k], ct->b2[k]);
            const VF xx = F_MUL(x, x);
            const VM gt = M_CMP(F_MUL(xx, tq[k]), F_MUL(txx[k], q2), _CMP_GT_OQ);
            txx[k] = F_BLEND(txx[k], xx, gt);
            tq[k] = F_BLEND(tq[k], q2, gt);
        }
    }
    for (int k = 0; k < 4; k += 2) {
        const VM gt = M_CMP(F_MUL(txx[k + 1], tq[k]), F_MUL(txx[k], tq[k + 1]), _CMP_GT_OQ);
        txx[k] = F_BLEND(txx[k], txx[k + 1], gt);
        tq[k] = F_BLEND(tq[k], tq[k + 1], gt);
    }
    const VM gt02 = M_CMP(F_MUL(txx[2], tq[0]), F_MUL(txx[0], tq[2]), _CMP_GT_OQ);
    const VF st = F_DIV(F_BLEND(txx[0], txx[2], gt02), F_BLEND(tq[0], tq[2], gt02));
#endif
    const VF wsum = F_ADD(PW[0][BS], PW[1][BS]);
    VF wmin = TW[0];
    for (int j = 1; j < BS; j++)
        wmin = F_MIN(wmin, TW[j]);
    const VF dd = F_MUL(F_MUL(F_LOADU(am), M_SQRT(F_MUL(wsum, F_SET1(65.0f)))),
                        F_SET1(1.01f * 21 * 0x1p-24f));
    VF root = F_SUB(M_SQRT(F_MUL(st, F_SET1(1 - 1100 * 0x1p-24f))), dd);
    root = F_BLEND(F_ZERO, root, M_CMP(root, F_ZERO, _CMP_GT_OQ)); /* NaN too: no start */
    const VF tau = F_MUL(F_MUL(root, root), F_SET1(1 - 0x1p-18f));
    VF best = start_theta(tau, wsum, wmin, am, 0x1p-12f);
    /* The pre-filter tests -sumqx and sumq2 from the sums above against bf = best*f, f = 1 - eps
     * (see the comment before m_filter_f), a superset of the steps where a lane wins. */
    const VF ff = m_filter_f(best, wsum, wmin, am);
    VF bf = F_MUL(best, ff);
    VF scale = F_ZERO;
    VI sel = I_ZERO; /* the best split: i1 << 8 | i2 << 2 | shift code, 0x10000 | ...; 0 none */
    /* the splits in the reference's order (m_order; rw at i1, c at i2) */
    /* Most steps change no lane's best: a pre-filter tests all 4 codes at once against bf, the
     * best lowered (m_filter_f; a superset of the lanes that win, since a lane's best only
     * changes by a win), one step ahead: step t + 1's mask is computed before step t's test, so
     * that test's inputs are ready when it is reached and a mispredicted one resolves sooner.
     * The mask of t + 1 used bf before step t: where a win raised best, a superset of the lanes
     * passing with the new one (a lane passes only with sumq2 > 0, where best * sumq2 rises
     * with best), so the pass path tests again; a fast win sets bf from the best before it
     * (lower, still a superset), so that the next tests need not wait for its division; where
     * a win lowered best (a rounding, on the full path) bf and the mask are computed again. */
#define M_PRE(base, t, out)                                                                        \
    {                                                                                              \
        const m_node *r_ = (const m_node *)((const char *)(base) + m_order[t][0]),                 \
                     *c_ = (const m_node *)((const char *)(base) + m_order[t][1]);                 \
        const VF s_ = c_->s;                                                                       \
        VM g_[4];                                                                                  \
        for (int k_ = 0; k_ < 4; k_++) {                                                           \
            const VF x_ = F_SUB(s_, r_->ks[k_]), y_ = F_ADD(r_->a2[k_], c_->b2[k_]);               \
            g_[k_] = M_NLE(F_MUL(x_, x_), F_MUL(bf, y_));                                          \
        }                                                                                          \
        out = M_OR(M_OR(g_[0], g_[1]), M_OR(g_[2], g_[3]));                                        \
    }
    VM pm;
    M_PRE(D, 0, pm)
    unsigned next = M_BITS(pm); /* the mask's bits: no vector kept across the loop */
    for (int t = 0; t < 153; t++) {
        const unsigned cur = next;
        M_PRE(D, t + 1, pm)
        next = M_BITS(pm);
        if (!cur)
            continue;
        /* the pass path reads its nodes again through a pointer the compiler cannot see through,
         * so that it keeps nothing of the pre-filter's live across the test */
        const char *Db = (const char *)D;
        __asm__("" : "+r"(Db));
        const m_node *rw = (const m_node *)(Db + m_order[t][0]),
                     *c = (const m_node *)(Db + m_order[t][1]);
        {
            M_SUMS(rw, c, sumqx, sumq2)
            VF qq[4];
            VM gt[4];
            for (int k = 0; k < 4; k++) {
                qq[k] = F_MUL(sumqx[k], sumqx[k]);
                gt[k] = M_CMP(qq[k], F_MUL(best, sumq2[k]), _CMP_GT_OQ);
            }
            const int i1 = m_order[t][0] / (int)sizeof(m_node),
                      i2 = m_order[t][1] / (int)sizeof(m_node);
            const VI code = I_SET1(1 << 16 | i1 << 8 | i2 << 2); /* one broadcast, then + k */
            /* A win: where each lane has at most one shift code k that beats the step's best
             * (m[k]), one division: the codes after k, which lost to the old best, lose to the
             * new one unless it came out lower (a rounding), and then the full path runs. */
            VM mk[4];
            for (int k = 0; k < 4; k++)
                mk[k] = M_AND(M_CMP(sumq2[k], zero, _CMP_GT_OQ), gt[k]);
            const VM m01 = M_OR(mk[0], mk[1]), m23 = M_OR(mk[2], mk[3]);
            if (!M_BITS(M_OR(M_OR(M_AND(mk[0], mk[1]), M_AND(mk[2], mk[3])), M_AND(m01, m23)))) {
                VF qx1 = sumqx[0], q21 = sumq2[0];
                VI c1 = code;
                for (int k = 1; k < 4; k++) {
                    qx1 = F_BLEND(qx1, sumqx[k], mk[k]);
                    q21 = F_BLEND(q21, sumq2[k], mk[k]);
                    c1 = I_BLEND(c1, I_ADD(code, I_SET1(k)), mk[k]);
                }
                const VM mw = M_OR(m01, m23);
                const VF sc1 = F_DIV(qx1, q21), bs1 = F_MUL(sc1, qx1);
                if (!M_BITS(M_AND(mw, M_CMP(bs1, best, _CMP_LT_OQ)))) {
                    /* the filter's bf from the best before this win (lower: still a superset),
                     * so that the next steps' tests need not wait for this division */
                    bf = F_MUL(best, ff);
                    best = F_BLEND(best, bs1, mw);
                    scale = F_BLEND(scale, sc1, mw);
                    sel = I_BLEND(sel, c1, mw);
                    continue;
                }
            }
            VF sc[4], bs[4];
            for (int k = 0; k < 4; k++) {
                sc[k] = F_DIV(sumqx[k], sumq2[k]);
                bs[k] = F_MUL(sc[k], sumqx[k]);
            }
            const VF old = best;
            for (int k = 0; k < 4; k++) {
                const VM m = M_AND(M_CMP(sumq2[k], zero, _CMP_GT_OQ),
                                   M_CMP(qq[k], F_MUL(best, sumq2[k]), _CMP_GT_OQ));
                best = F_BLEND(best, bs[k], m);
                scale = F_BLEND(scale, sc[k], m);
                sel = I_BLEND(sel, k ? I_ADD(code, I_SET1(k)) : code, m);
            }
            bf = F_MUL(best, ff);
            if (M_BITS(M_CMP(best, old, _CMP_LT_OQ))) {
                M_PRE(Db, t + 1, pm)
                next = M_BITS(pm);
            }
        }
    }
#undef M_PRE
#undef M_SUMS
    store_res(r, sel, scale);
}

/*
 * The rest of iq1_m_sub (levels, sign flip, grid points, refit) for the W lanes of a pass (scales,
 * shifts and 2 indices per lane, for the lanes not skipped), in phases that keep the unpredictable
 * branches out: every lane's codes and map lookups, then the neighbour searches of the groups off
 * the grid (a list of them), then each lane's refit, computed whether or not a group was off the
 * grid and taken where one was.
 */
TC_ISA_ATTR static void m_finish_lanes(const tc_iq2_search *S, const tc_iq1_lists *T,
                                       const float *const *xs, const float *const *ws,
                                       int rank[][16], const int *skip, const split_res *r,
                                       float *scales, int *shifts, uint16_t *index)
{
    int kk[W], off[W], item[2 * W], at[2 * W], n = 0;
    float sc[W];
    for (int l = 0; l < W; l++) {
        scales[l] = 0;
        shifts[l] = 0;
        index[2 * l] = index[2 * l + 1] = 0;
        off[l] = 0;
        if (skip[l] || r->i1[l] < 0)
            continue;
        int c3[2];
        group_codes(rank[l], 2, r->i1[l], r->i2[l], c3);
        const float s0 = r->scale[l];
        const int neg = s0 < 0; /* the mirror: levels 2 - L, code 6560 - c3 */
        sc[l] = neg ? -s0 : s0;
        kk[l] = neg ? 3 - r->k[l] : r->k[l];
        off[l] = map_groups(T, c3, 2, neg, 2 * l, index + 2 * l, item, at, &n);
    }
    for (int i = 0; i < n; i++) {
        const int l = item[i] >> 1, g = item[i] & 1;
        index[item[i]] = (uint16_t)nb_search(T, T->list + at[i], xs[l] + 8 * g, ws[l] + 8 * g,
                                             sc[l], m_qpat[kk[l]][g]);
    }
    for (int l = 0; l < W; l++) {
        if (skip[l] || r->i1[l] < 0)
            continue;
        const float rs = refit(S, index + 2 * l, 2, xs[l], ws[l], m_qpat[kk[l]], sc[l]);
        scales[l] = off[l] ? rs : sc[l];
        shifts[l] = kk[l];
    }
}

/* tc_iq1_m_refit_d with the products in 8 lanes (a group's elements; (w*q)*x and (w*q)*q, as
 * the reference associates them), then added one by one in the reference's order. */
TC_ISA_ATTR static float m_refit_d(const tc_iq2_search *S, const float *x, const float *weight,
                                   const int *ls, const int *shifts, const uint16_t *index, float d)
{
    float px[QK_K], p2[QK_K];
#if TC_GRID_AVX2
    const __m256i one = _mm256_set1_epi32(1);
    for (int ib = 0; ib < 16; ++ib) {
        const __m256 mul = _mm256_set1_ps((float)(2 * ls[ib] + 1));
        for (int k = 0; k < 2; ++k) {
            const int o = 16 * ib + 8 * k;
            const float *qpat = m_qpat[shifts[ib]][k];
            const __m256i g = _mm256_cvtepu8_epi32(
                _mm_loadl_epi64((const __m128i *)(S->grid + index[2 * ib + k])));
            const __m256i lvl = _mm256_srli_epi32(_mm256_sub_epi32(g, one), 1);
            const __m256 q = _mm256_mul_ps(_mm256_permutevar_ps(_mm256_loadu_ps(qpat), lvl), mul);
            const __m256 wq = _mm256_mul_ps(_mm256_loadu_ps(weight + o), q);
            _mm256_storeu_ps(px + o, _mm256_mul_ps(wq, _mm256_loadu_ps(x + o)));
            _mm256_storeu_ps(p2 + o, _mm256_mul_ps(wq, q));
        }
    }
#else
    const VI one = I_SET1(1);
    for (int ib = 0; ib < 16; ++ib) {
        const VF mul = F_SET1((float)(2 * ls[ib] + 1));
        for (int k = 0; k < 2; ++k) {
            const int o = 16 * ib + 8 * k;
            const VF qt = F_LOADU(m_qpat[shifts[ib]][k]); /* a permute reads the low bits */
            const uint8_t *g = (const uint8_t *)(S->grid + index[2 * ib + k]);
            for (int h = 0; h < 8; h += W) {
                const VF q = F_MUL(F_PERM4(qt, I_SRLI(I_SUB(I_LOAD_U8(g + h), one), 1)), mul);
                const VF wq = F_MUL(F_LOADU(weight + o + h), q);
                F_STOREU(px + o + h, F_MUL(wq, F_LOADU(x + o + h)));
                F_STOREU(p2 + o + h, F_MUL(wq, q));
            }
        }
    }
#endif
    float sumqx = 0, sumq2 = 0;
    for (int i = 0; i < QK_K; ++i) {
        sumqx += px[i];
        sumq2 += p2[i];
    }
    return sumq2 > 0 ? sumqx / sumq2 : d;
}

/* IQ1_M rows: one block at a time, its 16 sub-blocks in 16 / W passes of the lanes. */
TC_ISA_ATTR static void iq1_m_rows(const float *src, void *dst, int64_t n_rows, int64_t n_per_row,
                                   const float *qw)
{
    const int64_t nb = n_per_row / QK_K, total = n_rows * nb;
    const tc_iq2_search *S = tc_iq2_search_get(TC_DTYPE_IQ1_M);
    const tc_iq1_lists *T = tc_iq1_lists_get();
    uint8_t *y = dst;
    if (S == NULL) {
        memset(y, 0, (size_t)total * IQ1M_SIZE);
        return;
    }
    for (int64_t b = 0; b < total; b++, y += IQ1M_SIZE) {
        const float *x = src + b * QK_K, *w = qw ? qw + (b % nb) * QK_K : NULL;
        if (T == NULL || !tc_all_finite(x, QK_K) || (w != NULL && !tc_all_finite(w, QK_K))) {
            tc_ref_iq1_m_block(S, x, w, y);
            continue;
        }
        float weight[QK_K], scales[16];
        int shifts[16];
        uint16_t index[32];
        block_weights(x, w, weight);
        for (int p = 0; p < 16; p += W) {
            const float *xs[W], *ws[W];
            int idx[W][16], rank[W][16], skip[W];
            float am[W];
            for (int l = 0; l < W; l++) {
                const int ib = p + l;
                xs[l] = x + 16 * ib;
                ws[l] = weight + 16 * ib;
                am[l] = amax8(xs[l], 16);
                skip[l] = am[l] < GROUP_MAX_EPS_IQ1_M;
                if (skip[l]) {
                    xs[l] = ws[l] = zero_sub;
                    for (int j = 0; j < 16; j++)
                        idx[l][j] = j;
                } else {
                    sort_sub(xs[l], 16, idx[l], rank[l]);
                }
            }
            split_res r;
            m_search(xs, ws, am, idx, &r);
            m_finish_lanes(S, T, xs, ws, rank, skip, &r, scales + p, shifts + p, index + 2 * p);
        }
        tc_iq1_m_finish(S, x, weight, scales, shifts, index, y, m_refit_d);
    }
}
