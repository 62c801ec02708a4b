/*
 * iq2q_lanes.h - private to quant/: the IQ2_XXS / IQ2_XS quantizers with W float lanes, a
 * template shared by avx2_iq2q.c (W = 8), avx512_iq2q.c (W = 16) and neon_iq2q.c (W = 4). The
 * including file defines the vector types and ops below, then includes this once. Where
 * TC_GRID_AVX2 is set (both x86 files) make_qp_quants for 8 sub-blocks is an 8-lane AVX2 function
 * here (qp_lanes, the values brought into lanes by 8 x 8 transposes), the 8-element sub-block
 * preparation and codes4 are grid_avx2.h's (AVX-512 uses all three at 8 lanes too);
 * elsewhere the same operations in the W-lane ops (W = 4: qp_lanes in two passes of 4
 * sub-blocks, codes4 one vector). nb_search2 (two trials in the 128-bit halves) and nb_search8
 * (8 trials in the lanes) are AVX2's alone, written in its intrinsics under W == 8, nb_search4
 * (four trials in the 128-bit quarters) AVX-512's, under W == 16. Bit-identical to ref_iq2_quant.c.
 * Blocks with Inf or NaN (in x or in the importance weights) go to the reference; with finite input
 * every NaN that arises (0 * Inf, Inf - Inf, sqrt of a negative weight) is the same default NaN, so
 * which operand an operation propagates cannot matter, and the selects below keep the reference's
 * comparisons (strict ones strict, NaN false) exactly.
 *
 * What runs in lanes, and why each float is the reference's:
 * - IQ2_XXS's make_qp_quants runs for the 8 sub-blocks of a block at once (lane = sub-block):
 *   the reference's operations per lane, branches as selects, its uint8_t levels wrapping as
 *   they do there (qp_lanes).
 * - The trial scales of a sub-block run in lanes (lane t = trial t): rounding each element to a
 *   level is the reference's 0.5f * (id * x - 1), nearest_int's 1.5*2^23 trick and the clamp,
 *   per lane; the 8 levels of a group become its map code (2 bits each) in the lane.
 * - The trials' sums sum w*x*q and sum w*q*q run in the same lanes, element by element in the
 *   reference's order from 0. A product depends on the element and q only, and q is 1, 3 or 5:
 *   (w*x)*q and (w*q)*q are computed once per element for the three q (the same products) and
 *   each lane picks its own by the level bits of its code (a permute). The choice of the best
 *   trial is the reference's loop in trial order, its candidate scale and best computed for
 *   every trial at once by the same operations, the update a select.
 * - The neighbour search runs W candidates at once (lane = candidate, from the code lists of
 *   iq2q.h): an element's term w*(scale*q - x)^2 takes three values, computed as the reference
 *   does ((w*diff)*diff), each lane picks its own by its code and adds the 8 terms from 0 in
 *   element order, as the reference does for each point (with 16 lanes the first two terms come
 *   from one table of the 9 sums (0 + t0) + t1: the same additions; with 8 lanes the sum starts
 *   at t0, which differs from 0 + t0 only in the sign of a zero: equal under < and ==). Each lane
 * keeps its first strictly smaller distance; the lanes' results are merged by (distance, list
 * position), which is the reference's first strictly smaller distance over the whole list. Padding
 * lanes have every element at level 3, whose term is +Inf (or NaN): they never win. Consecutive
 * trials that round a group to the same code (a run) search that one list together: with 16
 * lanes up to four of them (nb_search4: a 128-bit quarter per trial's scale, the same per-lane
 * sums); with 8 lanes two (nb_search2: a 128-bit half per scale), and runs of 4 or more up to 8 at
 * once with lane = trial (nb_search8: each element's three terms are vectors over the 8 scales in
 * a table, a candidate loads the terms its code picks and adds them in element order, the first
 * three as one sum (t0 + t1) + t2 from a table of the 27; each lane keeps its first strictly
 * smaller distance among the even and among the odd candidates, the two merged by (distance,
 * position): the reference's loop per lane); runs of 12 or more (NB16_MIN) up to 16 at once in two
 * vectors of trials (nb_search16: the same terms per lane, each candidate's table offsets taken
 * once for both vectors, one chain per vector).
 * - Weights, signs, the parity element (the first smallest w*x*x, by the reference's loop when
 *   a NaN is among them) and the maximum run 8 elements at a time (one group); the
 *   requantization, sign flip and block scales are the reference's steps on the same values.
 * - One case is left to the reference: an IQ2_XXS sub-block where no trial wins and
 *   make_qp_quants' scale is NaN (huge weights overflow); the reference then stores
 *   make_qp_quants' own levels, which need not be valid grid codes.
 *
 * Tested (tests/check_quant_iq.c): quantize_matches_ggml runs every ISA this CPU has against
 * ggml_quantize_chunk (12 data kinds, row lengths, seeds, importance matrices with and without
 * zeros, negative-scale and zeroed-run rows, degenerate blocks); iq2_simd_matches_scalar_nonfinite
 * checks the hand-offs to the reference (Inf/NaN values or weights, overflowing weights). The
 * NEON instance: scripts/ci/check_neon.sh, against the reference under qemu-aarch64.
 *
 * Required from the includer:
 *   W, VF, VI, VM, F_SET1 F_ZERO F_ADD F_SUB F_MUL F_DIV F_LOADU F_STOREU, F_BCAST(const float *)
 *   M_CMP(a, b, pred)  F_BLEND(a, b, m), I_BLEND(a, b, m) = m ? b : a
 *   I_SET1 I_ZERO I_ADD I_SUB I_MIN I_MAX I_AND I_OR I_SRLI(v, n) I_SLLI(v, n) F_BITS (reinterpret)
 *   I_LOADU I_STOREU, I_LOAD_U16(const uint16_t *): W uint16 zero-extended
 *   F_PERM(t, i): lane l = t[i[l] mod W]   TC_ISA_ATTR: empty or a target attribute
 *   F_HMIN(v): the smallest lane in every lane (v without NaN); M_BITS(m): lane j at bit j
 * and, without TC_GRID_AVX2: F_SQRT F_NEG(sign flipped) I_TO_F M_AND M_OR M_ICMPEQ,
 *   M_ANDNOT(a, b) = a and not b, M_ANY(m): some lane set
 */

#include "blocks.h"
#include "grid_lanes.h"
#if TC_GRID_AVX2
#include "grid_avx2.h"
#include "tr8x8.h"
#endif
#include "iq2q.h"
#include "kernels.h"
#include "ref_k.h"
#include "tc_dtype.h"

#include <float.h>
#include <math.h>
#include <string.h>

#define GROUP_MAX_EPS 1e-15f
/* AVX2: the shortest run nb_search8 takes (3, 5 and 6 measured no faster; 3 again once the
 * on-grid runs went whole, 6 pairs 10.23x -> 10.21x medians; >= 3 keeps its reads and writes of
 * 8 trials inside sc and cod) */
#define NB8_MIN 4
/* AVX2: the shortest run nb_search16 takes (9 and 10 measured 1.2 % and 0.6 % slower, 11 and 13
 * no different) */
#define NB16_MIN 12

enum { NV_MAX = (19 + W - 1) / W }; /* trial vectors: 19 trials at most (IQ2_XS) */
/* the trials' scales and searched codes: room for nb_search16's 16 from any trial it starts at
 * (a run of NB16_MIN or more in 19 trials starts at 10 at the latest) */
enum { NT_PAD = NV_MAX * W + (W == 8 ? 8 : 0) };

/* q of levels 0..2 in positions p & 3 (a permute reads the low bits of the index); position 3
 * is level 3, which only padding has: +Inf for the distances, 0 for the sums. */
static const float qpat_inf[16] = {1, 3, 5, INFINITY, 1, 3, 5, INFINITY,
                                   1, 3, 5, INFINITY, 1, 3, 5, INFINITY};
static const float qpat_zero[16] = {1, 3, 5, 0, 1, 3, 5, 0, 1, 3, 5, 0, 1, 3, 5, 0};
static const int32_t lane_index[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};

/* Whether the group of code c is on the grid (map[c] >= 0): AVX2 from the lists' bitmap, the
 * others from the map's sign (the bitmap measured no faster with AVX-512). */
static inline int code_on_grid(const tc_iq2_lists *T, int32_t c)
{
#if W == 8
    return T->on[c >> 5] >> (c & 31) & 1;
#else
    return T->map[c] >= 0;
#endif
}

/* Codes of the group of 8 values xv at the lanes' inverse scales id (iq2_level per element). */
TC_ISA_ATTR static inline VI group_codes(VF id, const float *xv)
{
    const VF one = F_SET1(1.0f), half = F_SET1(0.5f), magic = F_SET1(12582912.f);
    /* nearest_int's (bits & 0x7fffff) - 0x400000 clamped to [0, 2] is (bits & 0x7fffff) clamped
     * to [0x400000, 0x400002], less 0x400000; the 8 subtractions are made once at the end
     * (each level shifted into place: sum (v - b) << 2j = sum v << 2j - sum b << 2j, mod 2^32) */
    const VI bias = I_SET1(0x00400000), top = I_SET1(0x00400000 + IQ2_KMAXQ - 1);
    VI code = I_ZERO;
    for (int j = 0; j < 8; j++) {
        VF f = F_MUL(half, F_SUB(F_MUL(id, F_BCAST(xv + j)), one));
        VI v = I_AND(F_BITS(F_ADD(f, magic)), I_SET1(0x007fffff));
        v = I_MAX(bias, I_MIN(top, v));
        code = I_ADD(code, I_SLLI(v, 2 * j));
    }
    return I_SUB(code, I_SET1((int32_t)(0x00400000u * 0x5555u)));
}

/*
 * iq2_best_neighbour: of the list at lst (count, then padded codes), the code of the point
 * nearest to xv at `scale` by sum of w*(scale*q - x)^2, the first of equal distances. Out of
 * line on x86 (one copy for its call sites: AVX2 IQ2_XXS 1.008x, AVX-512 1.038x, measured);
 * inline for NEON, where that costs instructions.
 */
#if W >= 8
#define NB_SEARCH_LINE __attribute__((noinline))
#else
#define NB_SEARCH_LINE inline
#endif
TC_ISA_ATTR static NB_SEARCH_LINE int nb_search(const uint16_t *lst, const float *xv,
                                                const float *wv, float scale)
{
    const int n = lst[0];
    const uint16_t *codes = lst + 1;
    const VF sq = F_MUL(F_SET1(scale), F_LOADU(qpat_inf));
    VF T[8];
#define NB_TERM(j)                                                                                 \
    do {                                                                                           \
        const VF d = F_SUB(sq, F_BCAST(xv + j));                                                   \
        T[j] = F_MUL(F_MUL(F_BCAST(wv + j), d), d);                                                \
    } while (0)
    NB_TERM(0);
    NB_TERM(1);
    NB_TERM(2);
    NB_TERM(3);
    NB_TERM(4);
    NB_TERM(5);
    NB_TERM(6);
    NB_TERM(7);
#undef NB_TERM
#if W == 16
    /* the first two terms' sum (0 + t0) + t1 for each pair of levels, at the 4 low code bits */
    const VI lane = I_LOADU(lane_index);
    const VF P01 = F_ADD(F_ADD(F_ZERO, F_PERM(T[0], lane)), F_PERM(T[1], I_SRLI(lane, 2)));
#endif
    VF best = F_SET1(FLT_MAX);
    VI pos = I_LOADU(lane_index), bpos = pos;
    for (int c = 0; c < n; c += W, pos = I_ADD(pos, I_SET1(W))) {
        const VI C = I_LOAD_U16(codes + c);
#if W == 16
        VF d2 = F_PERM(P01, C);
#else
        /* from the first term, not 0 + it: that only ever changes the sign of a zero
         * distance, which neither comparison below can see */
        VF d2 = F_PERM(T[0], C);
        d2 = F_ADD(d2, F_PERM(T[1], I_SRLI(C, 2)));
#endif
        d2 = F_ADD(d2, F_PERM(T[2], I_SRLI(C, 4)));
        d2 = F_ADD(d2, F_PERM(T[3], I_SRLI(C, 6)));
        d2 = F_ADD(d2, F_PERM(T[4], I_SRLI(C, 8)));
        d2 = F_ADD(d2, F_PERM(T[5], I_SRLI(C, 10)));
        d2 = F_ADD(d2, F_PERM(T[6], I_SRLI(C, 12)));
        d2 = F_ADD(d2, F_PERM(T[7], I_SRLI(C, 14)));
        const VM lt = M_CMP(d2, best, _CMP_LT_OQ);
        best = F_BLEND(best, d2, lt);
        bpos = I_BLEND(bpos, pos, lt);
    }
    return codes[tc_lanes_first_best(best, bpos)];
}

#if W == 8
/* The first position of the smallest distance among the 4 lanes of one 128-bit half whose bits
 * are set in eq (lane 4 * h + l held positions l + 4i): tc_lanes_first_best for 4 lanes. */
static inline int half_first_best(const int32_t *bp, unsigned eq)
{
    int p = bp[__builtin_ctz(eq)];
    for (unsigned e = eq & (eq - 1); e; e &= e - 1)
        if (bp[__builtin_ctz(e)] < p)
            p = bp[__builtin_ctz(e)];
    return p;
}

/*
 * nb_search of one list at two scales at once (two trials whose group has the same code): the
 * low 128-bit half of every vector searches at s0, the high half at s1, 4 candidates each per
 * step. The term tables hold s0's terms in the low half and s1's in the high half, and an
 * in-lane permute (which reads the low 2 bits of the index, the level) takes each half's term
 * from its own table: per lane, the same terms summed in the same order as nb_search. The
 * lists are padded with impossible codes to a multiple of 16 >= n, so reading 4 at a time
 * stays inside them. Writes the two codes to r0 and r1.
 */
TC_ISA_ATTR static inline void nb_search2(const uint16_t *lst, const float *xv, const float *wv,
                                          float s0, float s1, int32_t *r0, int32_t *r1)
{
    const int n = lst[0];
    const uint16_t *codes = lst + 1;
    const __m256 s01 =
        _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_set1_ps(s0)), _mm_set1_ps(s1), 1);
    const __m256 sq = _mm256_mul_ps(s01, _mm256_loadu_ps(qpat_inf));
    __m256 T[8];
    for (int j = 0; j < 8; j++) {
        const __m256 d = _mm256_sub_ps(sq, _mm256_broadcast_ss(xv + j));
        T[j] = _mm256_mul_ps(_mm256_mul_ps(_mm256_broadcast_ss(wv + j), d), d);
    }
    __m256 best = _mm256_set1_ps(FLT_MAX);
    __m256i pos = _mm256_setr_epi32(0, 1, 2, 3, 0, 1, 2, 3), bpos = pos;
    const __m256i four = _mm256_set1_epi32(4);
    for (int c = 0; c < n; c += 4, pos = _mm256_add_epi32(pos, four)) {
        int64_t c4;
        memcpy(&c4, codes + c, sizeof c4);
        const __m256i C = _mm256_cvtepu16_epi32(_mm_set1_epi64x(c4));
        __m256 d2 = _mm256_permutevar_ps(T[0], C);
        d2 = _mm256_add_ps(d2, _mm256_permutevar_ps(T[1], _mm256_srli_epi32(C, 2)));
        d2 = _mm256_add_ps(d2, _mm256_permutevar_ps(T[2], _mm256_srli_epi32(C, 4)));
        d2 = _mm256_add_ps(d2, _mm256_permutevar_ps(T[3], _mm256_srli_epi32(C, 6)));
        d2 = _mm256_add_ps(d2, _mm256_permutevar_ps(T[4], _mm256_srli_epi32(C, 8)));
        d2 = _mm256_add_ps(d2, _mm256_permutevar_ps(T[5], _mm256_srli_epi32(C, 10)));
        d2 = _mm256_add_ps(d2, _mm256_permutevar_ps(T[6], _mm256_srli_epi32(C, 12)));
        d2 = _mm256_add_ps(d2, _mm256_permutevar_ps(T[7], _mm256_srli_epi32(C, 14)));
        const __m256 lt = _mm256_cmp_ps(d2, best, _CMP_LT_OQ);
        best = _mm256_blendv_ps(best, d2, lt);
        bpos = _mm256_blendv_epi8(bpos, pos, _mm256_castps_si256(lt));
    }
    /* each half's smallest distance in its 4 lanes (no NaN: a lane only takes a smaller one) */
    __m256 m = _mm256_min_ps(best, _mm256_permute_ps(best, _MM_SHUFFLE(1, 0, 3, 2)));
    m = _mm256_min_ps(m, _mm256_permute_ps(m, _MM_SHUFFLE(2, 3, 0, 1)));
    const unsigned eq = (unsigned)_mm256_movemask_ps(_mm256_cmp_ps(best, m, _CMP_EQ_OQ));
    int32_t bp[8];
    _mm256_storeu_si256((__m256i *)bp, bpos);
    *r0 = codes[half_first_best(bp, eq & 15)];
    *r1 = codes[half_first_best(bp + 4, eq >> 4)];
}
/*
 * nb_search of one list at the 8 scales s[0..7] at once (a run of consecutive trials whose group
 * has the same code), lane = scale: the terms of every element at each level are vectors over
 * the scales in a table, each candidate adds the 8 its code picks (loads at offsets from the code)
 * in element order, and each lane keeps its first strictly smaller distance: the reference's loop
 * per lane (its first three terms' sum (t0 + t1) + t2 from a table: not ((0 + t0) + t1) + t2,
 * which differs only in the sign of a zero, as in nb_search). The even and the odd candidates run
 * in two independent chains (the compare-and-select of one candidate waits on the last one's),
 * merged at the end by (distance, position): the first smallest. Writes the 8 codes to r. (Tried,
 * slower: the 8 offsets of 8 candidates from their codes by byte shuffles into a stack buffer,
 * read back at once: AVX2 8.5x -> 7.7x despite fewer instructions; the offsets from a table per
 * code, 8.8x -> 8.0x; leaving a candidate when after 4 terms no lane is below its best, which is
 * exact as the terms are >= 0 but data-dependent: 8.8x -> 5.4x.)
 */
TC_ISA_ATTR static inline void nb_search8(const uint16_t *lst, const float *xv, const float *wv,
                                          const float *s, int32_t *r)
{
    const int n = lst[0];
    const uint16_t *codes = lst + 1;
    const __m256 sv = _mm256_loadu_ps(s);
    const __m256 sq[3] = {_mm256_mul_ps(sv, _mm256_set1_ps(1.0f)),
                          _mm256_mul_ps(sv, _mm256_set1_ps(3.0f)),
                          _mm256_mul_ps(sv, _mm256_set1_ps(5.0f))};
    /* element j's terms at levels 0..2: tt[j][l]; then, for the loop, the first three terms'
     * sums (t0 + t1) + t2 at p012[l0 + 4 * l1 + 16 * l2] (27 sums made once save an add and a
     * load per candidate) and elements 3..7's terms at strides (32 or 64 bytes) that let each
     * offset be the code's bits masked in place (or shifted once), times an address scale */
    __m256 tt[8][3];
    for (int j = 0; j < 8; j++) {
        const __m256 x = _mm256_broadcast_ss(xv + j), w = _mm256_broadcast_ss(wv + j);
        for (int l = 0; l < 3; l++) {
            const __m256 d = _mm256_sub_ps(sq[l], x);
            tt[j][l] = _mm256_mul_ps(_mm256_mul_ps(w, d), d);
        }
    }
    /* level 3 (the padding's, read when n is odd): +Inf, which never wins */
    const __m256 inf = _mm256_set1_ps(INFINITY);
    __m256 p012[64], e3[7], e4[4], e5[4], e6[4], e7[7];
    p012[63] = inf; /* the padding's (every level 3); no other code has a level 3 */
    for (int l1 = 0; l1 < 3; l1++)
        for (int l0 = 0; l0 < 3; l0++) {
            const __m256 t01 = _mm256_add_ps(tt[0][l0], tt[1][l1]);
            for (int l2 = 0; l2 < 3; l2++)
                p012[l0 + 4 * l1 + 16 * l2] = _mm256_add_ps(t01, tt[2][l2]);
        }
    for (int l = 0; l < 4; l++) {
        e3[2 * l] = l < 3 ? tt[3][l] : inf;
        e4[l] = l < 3 ? tt[4][l] : inf;
        e5[l] = l < 3 ? tt[5][l] : inf;
        e6[l] = l < 3 ? tt[6][l] : inf;
        e7[2 * l] = l < 3 ? tt[7][l] : inf;
    }
#define NB8_AT(t, off) _mm256_load_ps((const float *)((const char *)(t) + (off)))
#define NB8_D2(d2, code)                                                                           \
    do {                                                                                           \
        const size_t u = (code), h = u >> 8; /* levels of elements 0..3, 4..7 */                   \
        d2 = NB8_AT(p012, (u << 2 & 0xfc) * 8);                                                    \
        d2 = _mm256_add_ps(d2, NB8_AT(e3, u & 0xc0));                                              \
        d2 = _mm256_add_ps(d2, NB8_AT(e4, (h << 3 & 0x18) * 4));                                   \
        d2 = _mm256_add_ps(d2, NB8_AT(e5, (h & 0x0c) * 8));                                        \
        d2 = _mm256_add_ps(d2, NB8_AT(e6, (h & 0x30) * 2));                                        \
        d2 = _mm256_add_ps(d2, NB8_AT(e7, h & 0xc0));                                              \
    } while (0)
    /* the even and the odd candidates in two chains (each keeps its first strictly smaller
     * distance), merged by (distance, position) */
    __m256 best0 = _mm256_set1_ps(FLT_MAX), best1 = best0;
    __m256i b0 = _mm256_setzero_si256(), c0 = b0, b1 = _mm256_set1_epi32(1), c1 = b1;
    const __m256i two = _mm256_set1_epi32(2);
    for (int c = 0; c < n; c += 2) {
        __m256 d0, d1;
        NB8_D2(d0, codes[c]);
        NB8_D2(d1, codes[c + 1]);
        const __m256 lt0 = _mm256_cmp_ps(d0, best0, _CMP_LT_OQ);
        const __m256 lt1 = _mm256_cmp_ps(d1, best1, _CMP_LT_OQ);
        best0 = _mm256_blendv_ps(best0, d0, lt0);
        best1 = _mm256_blendv_ps(best1, d1, lt1);
        b0 = _mm256_blendv_epi8(b0, c0, _mm256_castps_si256(lt0));
        b1 = _mm256_blendv_epi8(b1, c1, _mm256_castps_si256(lt1));
        c0 = _mm256_add_epi32(c0, two);
        c1 = _mm256_add_epi32(c1, two);
    }
#undef NB8_D2
    const __m256 take1 =
        _mm256_or_ps(_mm256_cmp_ps(best1, best0, _CMP_LT_OQ),
                     _mm256_and_ps(_mm256_cmp_ps(best1, best0, _CMP_EQ_OQ),
                                   _mm256_castsi256_ps(_mm256_cmpgt_epi32(b0, b1))));
    const __m256i bi = _mm256_blendv_epi8(b0, b1, _mm256_castps_si256(take1));
#undef NB8_AT
    int32_t bp[8];
    _mm256_storeu_si256((__m256i *)bp, bi);
    for (int l = 0; l < 8; l++)
        r[l] = codes[bp[l]];
}

/*
 * nb_search8 at the 16 scales s[0..15] (a run of NB16_MIN or more trials): lane l of the low
 * vectors is scale l, of the high vectors scale 8 + l, and each candidate's table offsets, taken
 * once from its code, read both halves of a 64-byte entry. Per lane the same terms in the same
 * order as nb_search8 (here the first two as one sum t0 + t1 from a table), each keeping its first
 * strictly smaller distance in list order. Writes the 16 codes to r. (Measured slower: the
 * first three terms from a table of 27 sums as in nb_search8, 1 % slower here, where it is built
 * for 16 scales.)
 */
TC_ISA_ATTR static inline __attribute__((always_inline)) void
nb_search16(const uint16_t *lst, const float *xv, const float *wv, const float *s, int32_t *r)
{
    const int n = lst[0];
    const uint16_t *codes = lst + 1;
    /* t0 + t1 at p01[l0 + 4 * l1]; elements 2..7 at 64-byte entries (two vectors: the low and
     * the high 8 scales) whose offsets are the code's bits masked in place (element 5's at a
     * 1024-byte stride), times an address scale; the candidates run one at a time, so no padding
     * (level 3) is read */
    __m256 p01[32], e2[6], e3[6], e4[6], e5[66], e6[6], e7[6];
    __m256 *const et[8] = {NULL, NULL, e2, e3, e4, e5, e6, e7};
    for (int h = 0; h < 2; h++) {
        const __m256 sv = _mm256_loadu_ps(s + 8 * h);
        const __m256 sq[3] = {_mm256_mul_ps(sv, _mm256_set1_ps(1.0f)),
                              _mm256_mul_ps(sv, _mm256_set1_ps(3.0f)),
                              _mm256_mul_ps(sv, _mm256_set1_ps(5.0f))};
        __m256 t01[2][3];
        for (int j = 0; j < 8; j++) {
            const __m256 x = _mm256_broadcast_ss(xv + j), w = _mm256_broadcast_ss(wv + j);
            for (int l = 0; l < 3; l++) {
                const __m256 d = _mm256_sub_ps(sq[l], x);
                const __m256 t = _mm256_mul_ps(_mm256_mul_ps(w, d), d);
                if (j < 2)
                    t01[j][l] = t;
                else
                    et[j][(j == 5 ? 32 : 2) * l + h] = t;
            }
        }
        for (int l1 = 0; l1 < 3; l1++)
            for (int l0 = 0; l0 < 3; l0++)
                p01[2 * (l0 + 4 * l1) + h] = _mm256_add_ps(t01[0][l0], t01[1][l1]);
    }
#define NB16_AT(t, off, h) _mm256_load_ps((const float *)((const char *)(t) + (off)) + 8 * (h))
    __m256 bl = _mm256_set1_ps(FLT_MAX), bh = bl;
    __m256i pl = _mm256_setzero_si256(), ph = pl, pos = pl;
    const __m256i one = _mm256_set1_epi32(1);
    for (int c = 0; c < n; c++, pos = _mm256_add_epi32(pos, one)) {
        const size_t u = codes[c], h = u >> 8;
        const size_t o01 = (u << 3 & 0x78) * 8, o2 = (u & 0x30) * 4, o3 = u & 0xc0,
                     o4 = (h << 3 & 0x18) * 8, o5 = u & 0xc00, o6 = (h & 0x30) * 4, o7 = h & 0xc0;
        __m256 dl = NB16_AT(p01, o01, 0), dh = NB16_AT(p01, o01, 1);
        dl = _mm256_add_ps(dl, NB16_AT(e2, o2, 0));
        dh = _mm256_add_ps(dh, NB16_AT(e2, o2, 1));
        dl = _mm256_add_ps(dl, NB16_AT(e3, o3, 0));
        dh = _mm256_add_ps(dh, NB16_AT(e3, o3, 1));
        dl = _mm256_add_ps(dl, NB16_AT(e4, o4, 0));
        dh = _mm256_add_ps(dh, NB16_AT(e4, o4, 1));
        dl = _mm256_add_ps(dl, NB16_AT(e5, o5, 0));
        dh = _mm256_add_ps(dh, NB16_AT(e5, o5, 1));
        dl = _mm256_add_ps(dl, NB16_AT(e6, o6, 0));
        dh = _mm256_add_ps(dh, NB16_AT(e6, o6, 1));
        dl = _mm256_add_ps(dl, NB16_AT(e7, o7, 0));
        dh = _mm256_add_ps(dh, NB16_AT(e7, o7, 1));
        const __m256 ltl = _mm256_cmp_ps(dl, bl, _CMP_LT_OQ);
        const __m256 lth = _mm256_cmp_ps(dh, bh, _CMP_LT_OQ);
        bl = _mm256_blendv_ps(bl, dl, ltl);
        bh = _mm256_blendv_ps(bh, dh, lth);
        pl = _mm256_blendv_epi8(pl, pos, _mm256_castps_si256(ltl));
        ph = _mm256_blendv_epi8(ph, pos, _mm256_castps_si256(lth));
    }
#undef NB16_AT
    int32_t bp[16];
    _mm256_storeu_si256((__m256i *)bp, pl);
    _mm256_storeu_si256((__m256i *)(bp + 8), ph);
    for (int l = 0; l < 16; l++)
        r[l] = codes[bp[l]];
}
#endif

#if W == 16
/*
 * nb_search of one list at four scales at once (up to four consecutive trials whose group has
 * the same code): 128-bit quarter q of every vector searches at s[q], 4 candidates each per step,
 * as nb_search2 does with two halves. The end is branch-free: in each quarter the lanes holding
 * its smallest distance, the smallest of their positions. Writes the four codes to r.
 */
TC_ISA_ATTR static inline void nb_search4(const uint16_t *lst, const float *xv, const float *wv,
                                          const float *s, int32_t *r)
{
    const int n = lst[0];
    const uint16_t *codes = lst + 1;
    const __m512 sv =
        _mm512_permutexvar_ps(_mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3),
                              _mm512_castps128_ps512(_mm_loadu_ps(s)));
    const __m512 sq = _mm512_mul_ps(sv, _mm512_loadu_ps(qpat_inf));
    __m512 T[8];
    for (int j = 0; j < 8; j++) {
        const __m512 d = _mm512_sub_ps(sq, _mm512_set1_ps(xv[j]));
        T[j] = _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(wv[j]), d), d);
    }
    __m512 best = _mm512_set1_ps(FLT_MAX);
    __m512i pos = _mm512_setr_epi32(0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3), bpos = pos;
    const __m512i four = _mm512_set1_epi32(4);
    for (int c = 0; c < n; c += 4, pos = _mm512_add_epi32(pos, four)) {
        int64_t c4;
        memcpy(&c4, codes + c, sizeof c4);
        const __m512i C = _mm512_cvtepu16_epi32(_mm256_set1_epi64x(c4));
        __m512 d2 = _mm512_permutevar_ps(T[0], C);
        d2 = _mm512_add_ps(d2, _mm512_permutevar_ps(T[1], _mm512_srli_epi32(C, 2)));
        d2 = _mm512_add_ps(d2, _mm512_permutevar_ps(T[2], _mm512_srli_epi32(C, 4)));
        d2 = _mm512_add_ps(d2, _mm512_permutevar_ps(T[3], _mm512_srli_epi32(C, 6)));
        d2 = _mm512_add_ps(d2, _mm512_permutevar_ps(T[4], _mm512_srli_epi32(C, 8)));
        d2 = _mm512_add_ps(d2, _mm512_permutevar_ps(T[5], _mm512_srli_epi32(C, 10)));
        d2 = _mm512_add_ps(d2, _mm512_permutevar_ps(T[6], _mm512_srli_epi32(C, 12)));
        d2 = _mm512_add_ps(d2, _mm512_permutevar_ps(T[7], _mm512_srli_epi32(C, 14)));
        const __mmask16 lt = _mm512_cmp_ps_mask(d2, best, _CMP_LT_OQ);
        best = _mm512_mask_mov_ps(best, lt, d2);
        bpos = _mm512_mask_mov_epi32(bpos, lt, pos);
    }
    __m512 m = _mm512_min_ps(best, _mm512_permute_ps(best, _MM_SHUFFLE(1, 0, 3, 2)));
    m = _mm512_min_ps(m, _mm512_permute_ps(m, _MM_SHUFFLE(2, 3, 0, 1)));
    const __mmask16 eq = _mm512_cmp_ps_mask(best, m, _CMP_EQ_OQ);
    __m512i p = _mm512_mask_mov_epi32(_mm512_set1_epi32(INT32_MAX), eq, bpos);
    p = _mm512_min_epi32(p, _mm512_shuffle_epi32(p, _MM_PERM_BADC));
    p = _mm512_min_epi32(p, _mm512_shuffle_epi32(p, _MM_PERM_CDAB));
    int32_t bp[16];
    _mm512_storeu_si512((void *)bp, p);
    for (int q = 0; q < 4; q++)
        r[q] = codes[bp[4 * q]];
}
#endif

/* Per element i of a sub-block: (w*x)*q and (w*q)*q for q = 1, 3, 5 at positions p & 3. */
typedef struct sums_tab {
    VF wxq[32], wqq[32];
} sums_tab;

TC_ISA_ATTR static inline void sums_prep(int n, const float *weight, const float *xval,
                                         sums_tab *st)
{
    const VF q = F_LOADU(qpat_zero);
    for (int i = 0; i < n; i++) {
        st->wxq[i] = F_MUL(F_SET1(weight[i] * xval[i]), q);
        st->wqq[i] = F_MUL(F_MUL(F_SET1(weight[i]), q), q);
    }
}

/* iq2_sums of the lanes' levels for nv vectors of trials at once (their chains interleaved; on
 * NEON one vector after the other, fewer instructions there): vector v's group k codes in
 * cod[v][k] (ng groups), its sums to sumqx[v], sumq2[v]. */
#if W < 8
TC_ISA_ATTR static inline void lane_sums(int nv, int ng, const sums_tab *st, const VI (*cod)[4],
                                         VF *sumqx, VF *sumq2)
{
    for (int v = 0; v < nv; v++) {
        VF sx = F_ZERO, s2 = F_ZERO;
        for (int k = 0; k < ng; k++)
            for (int j = 0; j < 8; j++) {
                const VI idx = I_SRLI(cod[v][k], 2 * j);
                sx = F_ADD(sx, F_PERM(st->wxq[8 * k + j], idx));
                s2 = F_ADD(s2, F_PERM(st->wqq[8 * k + j], idx));
            }
        sumqx[v] = sx;
        sumq2[v] = s2;
    }
}
#else
TC_ISA_ATTR static inline void lane_sums(int nv, int ng, const sums_tab *st, const VI (*cod)[4],
                                         VF *sumqx, VF *sumq2)
{
    VF sx[NV_MAX], s2[NV_MAX];
    for (int v = 0; v < nv; v++)
        sx[v] = s2[v] = F_ZERO;
    for (int k = 0; k < ng; k++)
        for (int j = 0; j < 8; j++)
            for (int v = 0; v < nv; v++) {
                const VI idx = I_SRLI(cod[v][k], 2 * j);
                sx[v] = F_ADD(sx[v], F_PERM(st->wxq[8 * k + j], idx));
                s2[v] = F_ADD(s2[v], F_PERM(st->wqq[8 * k + j], idx));
            }
    for (int v = 0; v < nv; v++) {
        sumqx[v] = sx[v];
        sumq2[v] = s2[v];
    }
}
#endif

/* The sums of one set of codes (one per group), as the reference's iq2_sums. */
TC_ISA_ATTR static inline void code_sums(int ng, const sums_tab *st, const int *codes, float *sumqx,
                                         float *sumq2)
{
    VI cod[1][4];
    for (int k = 0; k < ng; k++)
        cod[0][k] = I_SET1(codes[k]);
    VF sx, s2;
    lane_sums(1, ng, st, cod, &sx, &s2);
    float a[W], b[W];
    F_STOREU(a, sx);
    F_STOREU(b, s2);
    *sumqx = a[0];
    *sumq2 = b[0];
}

/*
 * Steps 1-2 for a sub-block of ng groups: weights, their square roots, xval and the sign bits;
 * returns the largest xval (exact: no NaN here, and a zero's sign does not matter, it is only
 * compared with GROUP_MAX_EPS).
 */
#if TC_GRID_AVX2
#define sub_prep tc_iq2q_sub_prep8
#else
TC_ISA_ATTR static inline float sub_prep(int ng, const float *xb, const float *qw, float sigma2,
                                         float *weight, float *waux, float *xval, uint8_t *signs)
{
    const VF zero = F_ZERO, s2 = F_SET1(sigma2);
    float max = -INFINITY;
    for (int k = 0; k < ng; k++) {
        unsigned s = 0;
        for (int h = 0; h < 8; h += W) {
            const int o = 8 * k + h;
            const VF x = F_LOADU(xb + o);
            const VF w = F_MUL(F_LOADU(qw + o), F_SQRT(F_ADD(s2, F_MUL(x, x))));
            F_STOREU(weight + o, w);
            F_STOREU(waux + o, F_SQRT(w));
            const VM neg = M_CMP(x, zero, _CMP_LT_OQ); /* !(x >= 0): x is not NaN */
            F_STOREU(xval + o, F_BLEND(x, F_NEG(x), neg));
            s |= M_BITS(neg) << h;
        }
        if (__builtin_popcount(s) & 1) { /* the first smallest weight*x*x: the reference's loop */
            const int imin = tc_parity_min(weight + 8 * k, xb + 8 * k);
            s ^= 1u << imin;
            xval[8 * k + imin] = -xval[8 * k + imin];
        }
        signs[k] = (uint8_t)(s & 127);
        for (int i = 0; i < 8; i++)
            max = max > xval[8 * k + i] ? max : xval[8 * k + i];
    }
    return max;
}
#endif

/*
 * The trials of a sub-block (ng groups, nt trial inverse scales id[] and scales sc[]): cod[k]
 * receives group k's code in each trial, on the grid (the neighbour search done), ong[k] bit t
 * whether trial t's group k was on the grid already; sumqx/sumq2 the trials' sums.
 * Measured slower (2026-12-06, interleaved bench rounds against the same code without them):
 * walking only the runs' first trials by bit masks, with the codes of the trials on the grid
 * restored after the searches (AVX2 9.3x -> 9.1x, AVX-512 10.6x -> 10.2x); two compare-and-select
 * chains in nb_search (AVX2) and in nb_search4 (AVX-512: 10.9x -> 10.5x, the lists' short tails
 * searched twice over); nb_search8 for AVX-512's runs of 5 or 7 and more (10.5x -> 10.2x); the 8
 * trial scales of make_qp_quants in 4 chains at a time (no change); IQ2_XXS's requantization
 * searching two groups' lists at once in AVX2's 128-bit halves (no change: mispredicts 346k ->
 * 334k, instructions 106.6M -> 107.8M, 9.1-9.2x both).
 * Measured no faster on AVX2 IQ2_XXS (2026-12-06, best-of-7 MB/s, alternating pairs): in-lane
 * permutes (vpermilps) for the period-4 tables of lane_sums and nb_search (1.000); the trial
 * levels as (p > 2) + (p >= 4) where every |id * x| < 2^21 (0.996); NB8_MIN 3 again (0.992);
 * nb_search8 taking 4 candidates a step (0.999); each sub-block's requantization run after the
 * next sub-block's trials, to overlap its latency (0.986-0.993); qp_lanes as the template's
 * W-lane one with transposes (0.993). Skipping the requantization searches altogether (wrong
 * bytes, a bound) measured 1.086: they are the largest piece left besides the run searches.
 * Measured no faster (2026-12-06, 5 alternating pairs): nb_search's end in the vectors (the
 * smallest position among the lanes equal to the minimum, as iq2s_lanes.h's nb_search) instead
 * of tc_lanes_first_best's store and scalar loop (9.96x and 9.98x medians). Where the time goes
 * (perf, AVX2, 2026-12-06): of the kernel, nb_search8 22 %, nb_search (single trials and the
 * requantization) 18 %, qp_lanes 10 %, nb_search2 9 %, lane_sums 7 %, nb_search16 5 %,
 * group_codes 4 %; the searches have 26 candidates on average (IQ2_S's: 9.5), 28 % of them
 * single trials; valgrind's branch model puts about 38 mispredictions in a sub-block, spread over
 * the search loops' exits and the run dispatch.
 * Measured no faster on AVX2 IQ2_XXS (2026-12-06, 6 to 8 alternating pairs, medians old -> new,
 * after the on-grid runs were taken whole): the run searches' best distances by vminps instead of
 * blends (7 pairs 10.27x -> 10.09x; AMD's Zen runs vminps where the adds run); nb_search8's
 * positions blended as floats with one counter for both chains (3 fewer instructions a pair of
 * candidates: 10.30x -> 10.14x); the best distances blended as integers (vpblendvb: 10.11x ->
 * 10.03x); two of nb_search8's five adds as fma(b, 1, a), the same sum on the multiply pipes
 * (8 pairs 10.19x -> 10.10x); nb_search taking 16 candidates a step in one chain (10.03x ->
 * 9.92x); qp_lanes' refinement without skipping the elements no lane changes (branch-free, but
 * its updates then form one long chain: 9.9x -> 9.1x); the runs' searches queued by kind
 * (single, two, up to 8, up to 16 trials) during the walk over the runs and then done kind by
 * kind, the choice of kind an index instead of branches, nb_search8's and nb_search16's codes
 * stored under a mask of the run's length (6 pairs 10.14x -> 9.94x; by a blend of the stored codes
 * instead of a masked store: 10.21x -> 9.65x).
 */
TC_ISA_ATTR static inline void sub_trials(const tc_iq2_lists *T, int ng, int nt, const float *id,
                                          const float *sc, const float *xval, const float *waux,
                                          const sums_tab *st, int32_t cod[][NT_PAD], unsigned *ong,
                                          float *sumqx, float *sumq2)
{
    const int nv = (nt + W - 1) / W;
    /* the rounded codes (one more vector, for reading one past the trials); cod[k][t] becomes
     * the searched one */
    int32_t rc[4][(NV_MAX + 1) * W];
    for (int v = 0; v < nv; v++) {
        const VF idv = F_LOADU(id + v * W);
        for (int k = 0; k < ng; k++) {
            const VI c = group_codes(idv, xval + 8 * k);
            I_STOREU(rc[k] + v * W, c);
            I_STOREU(cod[k] + v * W, c);
        }
    }
    for (int k = 0; k < ng; k++) {
        const int32_t *rk = rc[k];
#if W >= 8
        unsigned eqn = 0; /* bit t: trial t + 1 rounds the group to trial t's code */
        for (int v = 0; v < nv; v++)
            eqn |= M_BITS(M_ICMPEQ(I_LOADU(rk + v * W + 1), I_LOADU(rk + v * W))) << v * W;
        eqn &= (1u << (nt - 1)) - 1;
#endif
        unsigned on = 0;
        for (int t = 0; t < nt;) {
#if W >= 8
            /* the trials from t that round the group to this code (all on or all off the grid) */
            const int run = __builtin_ctz(~(eqn >> t)) + 1;
            if (code_on_grid(T, rk[t])) {
                /* the whole run at once (one map lookup and branch, not one a trial): cod[k][t]
                 * to [t + 7] get the rounded codes again. The searches before t wrote past their
                 * trials at most up to t' + 7 (nb_search8, nb_search4) or t' + 15 (nb_search16,
                 * from t' <= t - 12), so this covers every such write below t + run, and the
                 * trials past the run are yet to be done, their rounded codes being where they
                 * start. t + 8 <= 26 stays inside rc and cod. */
                on |= ((1u << run) - 1) << t;
                memcpy(cod[k] + t, rk + t, 8 * sizeof(int32_t));
                t += run;
                continue;
            }
            const int32_t m = T->map[rk[t]];
#else
            const int32_t m = T->map[rk[t]];
            if (m >= 0) {
                on |= 1u << t;
                cod[k][t] = rk[t]; /* a search of the trials before may have written it */
                t++;
                continue;
            }
#endif
            const uint16_t *lst = T->list - m - 1;
#if W == 16
            /* up to four searches of that list at once (writes cod[k][t..t+3]) */
            if (run >= 2) {
                nb_search4(lst, xval + 8 * k, waux + 8 * k, sc + t, cod[k] + t);
                t += run < 4 ? run : 4;
                continue;
            }
#elif W == 8
            /* up to 8 searches of that list at once (writes cod[k][t..t+7]: t + 8 <= nt - NB8_MIN
             * + 8 stays inside cod and sc), or two */
            if (run >= NB16_MIN) {
                nb_search16(lst, xval + 8 * k, waux + 8 * k, sc + t, cod[k] + t);
                t += run < 16 ? run : 16;
                continue;
            }
            if (run >= NB8_MIN) {
                nb_search8(lst, xval + 8 * k, waux + 8 * k, sc + t, cod[k] + t);
                t += run < 8 ? run : 8;
                continue;
            }
            if (run >= 2) {
                nb_search2(lst, xval + 8 * k, waux + 8 * k, sc[t], sc[t + 1], &cod[k][t],
                           &cod[k][t + 1]);
                t += 2;
                continue;
            }
#endif
            cod[k][t] = nb_search(lst, xval + 8 * k, waux + 8 * k, sc[t]);
            t++;
        }
        ong[k] = on;
    }
#if W >= 8 /* the vectors' sums together, their add chains interleaved */
    VI c[NV_MAX][4];
    for (int v = 0; v < nv; v++)
        for (int k = 0; k < ng; k++)
            c[v][k] = I_LOADU(cod[k] + v * W);
    VF sx[NV_MAX], s2[NV_MAX];
    lane_sums(nv, ng, st, c, sx, s2);
    for (int v = 0; v < nv; v++) {
        F_STOREU(sumqx + v * W, sx[v]);
        F_STOREU(sumq2 + v * W, s2[v]);
    }
#else /* NEON: one vector at a time compiles to fewer instructions */
    for (int v = 0; v < nv; v++) {
        VI c[1][4];
        for (int k = 0; k < ng; k++)
            c[0][k] = I_LOADU(cod[k] + v * W);
        VF sx, s2;
        lane_sums(1, ng, st, c, &sx, &s2);
        F_STOREU(sumqx + v * W, sx);
        F_STOREU(sumq2 + v * W, s2);
    }
#endif
}

/*
 * The reference's choice among the trials' sums, in trial order: a trial wins when sumq2 > 0
 * and sumqx^2 > best * sumq2, then scale = sumqx / sumq2 and best = scale * sumqx. The
 * candidates' scale and best are computed for all trials at once (the same operations), the
 * choice is a chain of selects. Returns the last winner (-1: none; *scale unchanged).
 */
TC_ISA_ATTR static inline int best_trial(int nt, const float *sumqx, const float *sumq2,
                                         float *scale)
{
    float s[NV_MAX * W], b[NV_MAX * W];
    for (int v = 0; v < (nt + W - 1) / W; v++) {
        const VF sx = F_LOADU(sumqx + v * W), s2 = F_LOADU(sumq2 + v * W);
        const VF q = F_DIV(sx, s2);
        F_STOREU(s + v * W, q);
        F_STOREU(b + v * W, F_MUL(q, sx));
    }
    float best = 0, sc = *scale;
    int tb = -1;
    for (int t = 0; t < nt; t++) {
        const int win = (sumq2[t] > 0) & (sumqx[t] * sumqx[t] > best * sumq2[t]);
        best = win ? b[t] : best;
        sc = win ? s[t] : sc;
        tb = win ? t : tb;
    }
    *scale = sc;
    return tb;
}

/*
 * make_qp_quants(32, 4, xval, L, weight) of ref_k.c for the 8 sub-blocks of an IQ2_XXS block
 * at once (lane j = sub-block j; xval and weight of sub-block j at x[32 * j], w[32 * j]):
 * returns the 8 scales. Each lane runs the reference's float operations in its order, the
 * branches as selects; the levels keep the reference's types: L[i] is a uint8_t (a negative
 * level, from the one negative xval of a group, wraps to 256 + l), the trial loops use the int.
 * A lane whose refinement pass changes nothing is at a fixed point, so the passes the other
 * lanes still need leave it unchanged, as the reference's early exit does.
 */
#if TC_GRID_AVX2
/* make_qp_quants for the 8 sub-blocks (AVX2 instructions, 8 lanes, for both x86 files), the
 * values brought into the lanes by 8 x 8 transposes (gathers before), kept out of line:
 * AVX2 IQ2_XXS 1.018x, AVX-512 1.013x (inlined into the row driver it measured 0.92x: the
 * driver's register allocation suffers) */
TC_ISA_ATTR static __attribute__((noinline)) void qp_lanes(const float *x, const float *w,
                                                           float *out)
{
    enum { n = 32, nmax = IQ2_KMAXQ + 1 };
    __m256 xt[n], wt[n], wx[n];
    const __m256 zero = _mm256_setzero_ps(), magic = _mm256_set1_ps(12582912.f);
    const __m256i mant = _mm256_set1_epi32(0x007fffff), bias = _mm256_set1_epi32(0x00400000),
                  inmax = _mm256_set1_epi32(nmax), b255 = _mm256_set1_epi32(255);
#define QP_NEAREST(f)                                                                              \
    _mm256_sub_epi32(_mm256_and_si256(_mm256_castps_si256(_mm256_add_ps(f, magic)), mant), bias)
    __m256 max = zero;
    for (int i0 = 0; i0 < n; i0 += 8) {
        __m256 rx[8], rw[8];
        for (int j = 0; j < 8; j++) {
            rx[j] = _mm256_loadu_ps(x + 32 * j + i0);
            rw[j] = _mm256_loadu_ps(w + 32 * j + i0);
        }
        tc_tr8x8(rx, xt + i0);
        tc_tr8x8(rw, wt + i0);
    }
    for (int i = 0; i < n; i++) {
        wx[i] = _mm256_mul_ps(wt[i], xt[i]); /* w * x[i], the first product of w * x[i] * l */
        max = _mm256_max_ps(max, xt[i]);     /* max > x ? max : x */
    }
    __m256 iscale = _mm256_div_ps(_mm256_set1_ps((float)nmax), max);
    __m256 scale = _mm256_div_ps(_mm256_set1_ps(1.0f), iscale);
    __m256 best_mse = zero;
    for (int i = 0; i < n; i++) {
        __m256i l = _mm256_and_si256(QP_NEAREST(_mm256_mul_ps(iscale, xt[i])), b255);
        __m256 diff = _mm256_sub_ps(xt[i], _mm256_mul_ps(scale, _mm256_cvtepi32_ps(l)));
        best_mse = _mm256_add_ps(best_mse, _mm256_mul_ps(_mm256_mul_ps(wt[i], diff), diff));
    }
    for (int is = -4; is <= 4; ++is) {
        if (is == 0)
            continue;
        const __m256 iscale_is = _mm256_div_ps(_mm256_set1_ps(0.1f * (float)is + (float)nmax), max);
        const __m256 scale_is = _mm256_div_ps(_mm256_set1_ps(1.0f), iscale_is);
        __m256 mse = zero;
        for (int i = 0; i < n; i++) {
            __m256i l = _mm256_min_epi32(inmax, QP_NEAREST(_mm256_mul_ps(iscale_is, xt[i])));
            __m256 diff = _mm256_sub_ps(xt[i], _mm256_mul_ps(scale_is, _mm256_cvtepi32_ps(l)));
            mse = _mm256_add_ps(mse, _mm256_mul_ps(_mm256_mul_ps(wt[i], diff), diff));
        }
        const __m256 lt = _mm256_cmp_ps(mse, best_mse, _CMP_LT_OQ);
        best_mse = _mm256_blendv_ps(best_mse, mse, lt);
        iscale = _mm256_blendv_ps(iscale, iscale_is, lt);
    }
    __m256i L[n];
    __m256 sumlx = zero, suml2 = zero;
    for (int i = 0; i < n; i++) {
        __m256i l = _mm256_min_epi32(inmax, QP_NEAREST(_mm256_mul_ps(iscale, xt[i])));
        L[i] = _mm256_and_si256(l, b255);
        __m256 fl = _mm256_cvtepi32_ps(l);
        sumlx = _mm256_add_ps(sumlx, _mm256_mul_ps(wx[i], fl));
        suml2 = _mm256_add_ps(suml2, _mm256_mul_ps(_mm256_mul_ps(wt[i], fl), fl));
    }
    for (int itry = 0; itry < 5; ++itry) {
        __m256 changed = zero;
        for (int i = 0; i < n; i++) {
            const __m256 fL = _mm256_cvtepi32_ps(L[i]);
            __m256 slx = _mm256_sub_ps(sumlx, _mm256_mul_ps(wx[i], fL));
            __m256 sl2 = _mm256_sub_ps(suml2, _mm256_mul_ps(_mm256_mul_ps(wt[i], fL), fL));
            const __m256 pos = _mm256_and_ps(_mm256_cmp_ps(slx, zero, _CMP_GT_OQ),
                                             _mm256_cmp_ps(sl2, zero, _CMP_GT_OQ));
            const __m256i nl =
                _mm256_min_epi32(inmax, QP_NEAREST(_mm256_div_ps(_mm256_mul_ps(xt[i], sl2), slx)));
            const __m256 ne =
                _mm256_andnot_ps(_mm256_castsi256_ps(_mm256_cmpeq_epi32(nl, L[i])), pos);
            if (_mm256_testz_ps(ne, ne))
                continue;
            const __m256 fnl = _mm256_cvtepi32_ps(nl);
            slx = _mm256_add_ps(slx, _mm256_mul_ps(wx[i], fnl));
            sl2 = _mm256_add_ps(sl2, _mm256_mul_ps(_mm256_mul_ps(wt[i], fnl), fnl));
            const __m256 better =
                _mm256_cmp_ps(_mm256_mul_ps(_mm256_mul_ps(slx, slx), suml2),
                              _mm256_mul_ps(_mm256_mul_ps(sumlx, sumlx), sl2), _CMP_GT_OQ);
            const __m256 upd = _mm256_and_ps(ne, better);
            L[i] = _mm256_castps_si256(_mm256_blendv_ps(
                _mm256_castsi256_ps(L[i]), _mm256_castsi256_ps(_mm256_and_si256(nl, b255)), upd));
            sumlx = _mm256_blendv_ps(sumlx, slx, upd);
            suml2 = _mm256_blendv_ps(suml2, sl2, upd);
            changed = _mm256_or_ps(changed, upd);
        }
        if (_mm256_testz_ps(changed, changed))
            break;
    }
#undef QP_NEAREST
    const __m256 r = _mm256_div_ps(sumlx, suml2);
    _mm256_storeu_ps(out, _mm256_and_ps(r, _mm256_cmp_ps(suml2, zero, _CMP_GT_OQ)));
}

#define codes4 tc_iq2q_codes4
#else
/* qp_lanes with W lanes: the 8 sub-blocks in 8 / W passes (lane j = sub-block b0 + j), the same
 * operations per lane; writes the 8 scales to out. MAX and the final mask are the x86
 * instructions' meaning (max > x ? max : x; 0 unless suml2 > 0), as selects. */
TC_ISA_ATTR static inline void qp_lanes(const float *x, const float *w, float *out)
{
    enum { n = 32, nmax = IQ2_KMAXQ + 1 };
    const VF zero = F_ZERO, magic = F_SET1(12582912.f);
    const VI mant = I_SET1(0x007fffff), bias = I_SET1(0x00400000), inmax = I_SET1(nmax),
             b255 = I_SET1(255);
#define QP_NEAREST(f) I_SUB(I_AND(F_BITS(F_ADD(f, magic)), mant), bias)
    for (int b0 = 0; b0 < 8; b0 += W) {
        VF xt[n], wt[n], wx[n];
        VF max = zero;
        for (int i = 0; i < n; i++) {
            float tx[W], tw[W];
            for (int l = 0; l < W; l++) {
                tx[l] = x[32 * (b0 + l) + i];
                tw[l] = w[32 * (b0 + l) + i];
            }
            xt[i] = F_LOADU(tx);
            wt[i] = F_LOADU(tw);
            wx[i] = F_MUL(wt[i], xt[i]);
            max = F_BLEND(xt[i], max, M_CMP(max, xt[i], _CMP_GT_OQ));
        }
        VF iscale = F_DIV(F_SET1((float)nmax), max);
        VF scale = F_DIV(F_SET1(1.0f), iscale);
        VF best_mse = zero;
        for (int i = 0; i < n; i++) {
            VI l = I_AND(QP_NEAREST(F_MUL(iscale, xt[i])), b255);
            VF diff = F_SUB(xt[i], F_MUL(scale, I_TO_F(l)));
            best_mse = F_ADD(best_mse, F_MUL(F_MUL(wt[i], diff), diff));
        }
        for (int is = -4; is <= 4; ++is) {
            if (is == 0)
                continue;
            const VF iscale_is = F_DIV(F_SET1(0.1f * (float)is + (float)nmax), max);
            const VF scale_is = F_DIV(F_SET1(1.0f), iscale_is);
            VF mse = zero;
            for (int i = 0; i < n; i++) {
                VI l = I_MIN(inmax, QP_NEAREST(F_MUL(iscale_is, xt[i])));
                VF diff = F_SUB(xt[i], F_MUL(scale_is, I_TO_F(l)));
                mse = F_ADD(mse, F_MUL(F_MUL(wt[i], diff), diff));
            }
            const VM lt = M_CMP(mse, best_mse, _CMP_LT_OQ);
            best_mse = F_BLEND(best_mse, mse, lt);
            iscale = F_BLEND(iscale, iscale_is, lt);
        }
        VI L[n];
        VF sumlx = zero, suml2 = zero;
        for (int i = 0; i < n; i++) {
            VI l = I_MIN(inmax, QP_NEAREST(F_MUL(iscale, xt[i])));
            L[i] = I_AND(l, b255);
            VF fl = I_TO_F(l);
            sumlx = F_ADD(sumlx, F_MUL(wx[i], fl));
            suml2 = F_ADD(suml2, F_MUL(F_MUL(wt[i], fl), fl));
        }
        for (int itry = 0; itry < 5; ++itry) {
            VM changed = M_CMP(zero, zero, _CMP_LT_OQ); /* none */
            for (int i = 0; i < n; i++) {
                const VF fL = I_TO_F(L[i]);
                VF slx = F_SUB(sumlx, F_MUL(wx[i], fL));
                VF sl2 = F_SUB(suml2, F_MUL(F_MUL(wt[i], fL), fL));
                const VM pos = M_AND(M_CMP(slx, zero, _CMP_GT_OQ), M_CMP(sl2, zero, _CMP_GT_OQ));
                const VI nl = I_MIN(inmax, QP_NEAREST(F_DIV(F_MUL(xt[i], sl2), slx)));
                const VM ne = M_ANDNOT(pos, M_ICMPEQ(nl, L[i])); /* pos and nl != L[i] */
                if (!M_ANY(ne))
                    continue;
                const VF fnl = I_TO_F(nl);
                slx = F_ADD(slx, F_MUL(wx[i], fnl));
                sl2 = F_ADD(sl2, F_MUL(F_MUL(wt[i], fnl), fnl));
                const VM better = M_CMP(F_MUL(F_MUL(slx, slx), suml2),
                                        F_MUL(F_MUL(sumlx, sumlx), sl2), _CMP_GT_OQ);
                const VM upd = M_AND(ne, better);
                L[i] = I_BLEND(L[i], I_AND(nl, b255), upd);
                sumlx = F_BLEND(sumlx, slx, upd);
                suml2 = F_BLEND(suml2, sl2, upd);
                changed = M_OR(changed, upd);
            }
            if (!M_ANY(changed))
                break;
        }
        F_STOREU(out + b0, F_BLEND(zero, F_DIV(sumlx, suml2), M_CMP(suml2, zero, _CMP_GT_OQ)));
    }
#undef QP_NEAREST
}

/* codes4 with W = 4 lanes (lane k = group k, the lanes past ng repeat group 0): group_codes'
 * operations per value. */
TC_ISA_ATTR static inline void codes4(float id, const float *xv, int ng, int32_t out[4])
{
    const VF idv = F_SET1(id), one = F_SET1(1.0f), half = F_SET1(0.5f), magic = F_SET1(12582912.f);
    const VI bias = I_SET1(0x00400000), top = I_SET1(0x00400000 + 2), mant = I_SET1(0x007fffff);
    VI code = I_ZERO;
    for (int j = 0; j < 8; j++) {
        float t[4];
        for (int k = 0; k < 4; k++)
            t[k] = xv[(k < ng ? 8 * k : 0) + j];
        const VF f = F_MUL(half, F_SUB(F_MUL(idv, F_LOADU(t)), one));
        VI v = I_AND(F_BITS(F_ADD(f, magic)), mant);
        v = I_MAX(bias, I_MIN(top, v));
        code = I_ADD(code, I_SLLI(v, 2 * j));
    }
    code = I_SUB(code, I_SET1((int32_t)(0x00400000u * 0x5555u)));
    I_STOREU(out, code);
}
#endif

/* ===== IQ2_XXS: iq2_xxs_sub of ref_iq2_quant.c ===== */

/* The sub-block's weights, their square roots, xval, sign bits and largest xval (sub_prep) and
 * make_qp_quants' scale for it; returns NaN for a block the reference must do (see below; a NaN
 * scale out of the sums, possible with huge weights, is left to it as well). */
TC_ISA_ATTR static float xxs_sub(const tc_iq2_lists *T, const float *weight, const float *waux,
                                 const float *xval, uint8_t *signs, float max, float scale,
                                 uint32_t q2[2])
{
    if (max < GROUP_MAX_EPS)
        return 0;
    float eff_max = scale * IQ2_KMAXQ;
    if (eff_max <= 0)
        return 0;
    enum { NT = 13 };
    float id[NT_PAD], sc[NT_PAD], sumqx[NV_MAX * W], sumq2[NV_MAX * W];
    for (int t = 0; t < NT_PAD; t++) {
        const int is = t < NT ? t - 6 : 6; /* padding lanes repeat the last trial */
        id[t] = (2 * IQ2_KMAXQ - 1 + (float)is * 0.1f) / eff_max;
        sc[t] = 1 / id[t];
    }
    sums_tab st;
    sums_prep(32, weight, xval, &st);
    int32_t cod[4][NT_PAD];
    unsigned ong[4];
    sub_trials(T, 4, NT, id, sc, xval, waux, &st, cod, ong, sumqx, sumq2);
    const int tb = best_trial(NT, sumqx, sumq2, &scale);
    const int won = tb >= 0;
    int L[4] = {0, 0, 0, 0};
    if (won)
        for (int k = 0; k < 4; k++)
            L[k] = cod[k][tb];
    /* No trial won and make_qp_quants' scale is NaN (it is when huge weights overflow): the
     * reference then stores make_qp_quants' levels, which need not be on the grid (ggml aborts
     * there); left to it. */
    if (!won && !(scale > 0))
        return NAN;
    if (scale > 0) {
        int32_t c4[4];
        codes4(1 / scale, xval, 4, c4);
        for (int k = 0; k < 4; ++k) {
            L[k] = code_on_grid(T, c4[k])
                       ? c4[k]
                       : nb_search(T->list - T->map[c4[k]] - 1, xval + 8 * k, waux + 8 * k, scale);
        }
        float sx, s2;
        code_sums(4, &st, L, &sx, &s2);
        if (s2 > 0)
            scale = sx / s2;
    }
    if (scale < 0) {
        scale = -scale;
        for (int k = 0; k < 4; ++k)
            signs[k] = (uint8_t)(~signs[k] & 127);
    }
    for (int k = 0; k < 4; ++k) {
        q2[0] |= (uint32_t)T->map[L[k]] << 8 * k;
        q2[1] |= (uint32_t)signs[k] << 7 * k;
    }
    return scale;
}

/* ===== IQ2_XS: iq2_xs_sub of ref_iq2_quant.c ===== */

TC_ISA_ATTR static float xs_sub(const tc_iq2_lists *T, const float *xb, const float *qw,
                                float sigma2, uint16_t q2[2])
{
    float weight[16], waux[16], xval[16];
    uint8_t signs[2];
    const float max = sub_prep(2, xb, qw, sigma2, weight, waux, xval, signs);
    if (max < GROUP_MAX_EPS)
        return 0;
    enum { NT = 19 };
    float id[NT_PAD], sc[NT_PAD], sumqx[NV_MAX * W], sumq2[NV_MAX * W];
    for (int t = 0; t < NT_PAD; t++) {
        const int is = t < NT ? t - 9 : 9;
        id[t] = (2 * IQ2_KMAXQ - 1 + (float)is * 0.1f) / max;
        sc[t] = 1 / id[t];
    }
    sums_tab st;
    sums_prep(16, weight, xval, &st);
    int32_t cod[2][NT_PAD];
    unsigned ong[2];
    sub_trials(T, 2, NT, id, sc, xval, waux, &st, cod, ong, sumqx, sumq2);
    int L[2] = {0, 0}, on_grid[2] = {1, 1}; /* code 0: the grid's point 0 */
    float scale = max / (2 * IQ2_KMAXQ - 1);
    const int tb = best_trial(NT, sumqx, sumq2, &scale);
    if (tb >= 0)
        for (int k = 0; k < 2; k++) {
            L[k] = cod[k][tb];
            on_grid[k] = (ong[k] >> tb) & 1;
        }
    if ((!on_grid[0] || !on_grid[1]) && scale > 0) {
        int32_t c4[4];
        codes4(1 / scale, xval, 2, c4);
        for (int k = 0; k < 2; ++k)
            if (!on_grid[k]) {
                L[k] = code_on_grid(T, c4[k]) ? c4[k]
                                              : nb_search(T->list - T->map[c4[k]] - 1, xval + 8 * k,
                                                          waux + 8 * k, scale);
            }
        float sx, s2;
        code_sums(2, &st, L, &sx, &s2);
        if (s2 > 0)
            scale = sx / s2;
    }
    if (scale < 0) {
        scale = -scale;
        for (int k = 0; k < 2; ++k)
            signs[k] = (uint8_t)(~signs[k] & 127);
    }
    for (int k = 0; k < 2; ++k)
        q2[k] = (uint16_t)(T->map[L[k]] | signs[k] << 9);
    return scale;
}

/* ===== Row drivers ===== */

/* The reference's row driver, blocks with Inf or NaN (in x or the weights) by the reference. */
TC_ISA_ATTR static void iq2q_rows(int t, const float *src, void *dst, int64_t n_rows,
                                  int64_t n_per_row, const float *qw)
{
    const int xs = t == TC_DTYPE_IQ2_XS;
    const size_t bsize = xs ? IQ2XS_SIZE : IQ2XXS_SIZE;
    const int64_t nb = n_per_row / QK_K;
    const tc_iq2_search *S = tc_iq2_search_get(t);
    const tc_iq2_lists *T = tc_iq2_lists_get(t);
    uint8_t *y = dst;
    if (S == NULL || qw == NULL) { /* as the reference: zero blocks rather than a crash */
        memset(y, 0, (size_t)(n_rows * nb) * bsize);
        return;
    }
    /* the next block's sum of squares is summed (in the reference's order) a piece per
     * sub-block while this block's run: its serial additions overlap the sub-blocks' work */
    float ahead = 0;
    int have_ahead = 0;
    for (int64_t r = 0; r < n_rows; ++r)
        for (int64_t i = 0; i < nb; ++i, y += bsize) {
            const float *x = src + r * n_per_row + i * QK_K, *w = qw + i * QK_K;
            const float *xn = i + 1 < nb       ? x + QK_K
                              : r + 1 < n_rows ? src + (r + 1) * n_per_row
                                               : NULL;
            const int had_ahead = have_ahead;
            have_ahead = 0;
            if (T == NULL || !tc_all_finite(x, QK_K) || !tc_all_finite(w, QK_K)) {
                if (xs)
                    tc_ref_iq2_xs_block(S, x, w, y);
                else
                    tc_ref_iq2_xxs_block(S, x, w, y);
                continue;
            }
            const float sigma2 = had_ahead ? ahead / QK_K : tc_iq2_sigma2(x);
            float sumx2 = 0; /* the next block's, over its first 32 * ib values */
            if (xs) {
                uint16_t q2[32] = {0};
                float scales[16];
                for (int ib = 0; ib < 16; ++ib) {
                    scales[ib] = xs_sub(T, x + 16 * ib, w + 16 * ib, sigma2, q2 + 2 * ib);
                    if (xn)
                        sumx2 = tc_iq2_sum_squares(sumx2, xn + 16 * ib, 16);
                }
                tc_iq2_xs_finish(scales, q2, y);
            } else {
                uint32_t q2[16] = {0};
                float scales[8], weight[8][32], waux[8][32], xval[8][32], max[8], qp[8];
                uint8_t signs[8][4];
                for (int ib = 0; ib < 8; ++ib)
                    max[ib] = sub_prep(4, x + 32 * ib, w + 32 * ib, sigma2, weight[ib], waux[ib],
                                       xval[ib], signs[ib]);
                qp_lanes(xval[0], weight[0], qp);
                int punt = 0, ib = 0;
                for (; ib < 8 && !punt; ++ib) {
                    scales[ib] = xxs_sub(T, weight[ib], waux[ib], xval[ib], signs[ib], max[ib],
                                         qp[ib], q2 + 2 * ib);
                    punt = isnan(scales[ib]);
                    if (xn)
                        sumx2 = tc_iq2_sum_squares(sumx2, xn + 32 * ib, 32);
                }
                if (xn && ib < 8) /* left early: the rest of the next block's sum */
                    sumx2 = tc_iq2_sum_squares(sumx2, xn + 32 * ib, QK_K - 32 * ib);
                if (punt)
                    tc_ref_iq2_xxs_block(S, x, w, y);
                else
                    tc_iq2_xxs_finish(scales, q2, y);
            }
            if (xn) {
                ahead = sumx2;
                have_ahead = 1;
            }
        }
}

/* the kernels the ISA files register (tc_quant_fn) */
TC_ISA_ATTR static void iq2_xxs_rows(const float *src, void *dst, int64_t n_rows, int64_t n_per_row,
                                     const float *qw)
{
    iq2q_rows(TC_DTYPE_IQ2_XXS, src, dst, n_rows, n_per_row, qw);
}

TC_ISA_ATTR static void iq2_xs_rows(const float *src, void *dst, int64_t n_rows, int64_t n_per_row,
                                    const float *qw)
{
    iq2q_rows(TC_DTYPE_IQ2_XS, src, dst, n_rows, n_per_row, qw);
}
