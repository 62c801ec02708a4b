/*
 * ref_k.c - scalar reference kernels for the k-quants Q2_K, Q3_K, Q4_K, Q5_K, Q6_K and Q8_K.
 *
 * These follow ggml's src/ggml-quants.c operation for operation, so that the bytes written are
 * identical to ggml_quantize_chunk() (STYLE §8):
 * - without an importance matrix, quantize_row_qX_K_ref over all rows;
 * - with one, quantize_row_qX_K_impl row by row (weights indexed from the start of the row);
 * - dequantize as dequantize_row_qX_K.
 * Every float operation is single precision, in ggml's order (quant/ builds with
 * -ffp-contract=off); stored fp16 scales are read back before requantizing; integer narrowing
 * (int -> uint8/int8) wraps as gcc does in ggml, without relying on undefined behaviour.
 *
 * Each type is a per-block function (one super-block of 256 floats in, one block of bytes out)
 * with no allocation and no indirect calls, so an ISA file can vectorize across blocks (one block
 * per lane) while keeping this order of operations.
 *
 * Where this code is not a transcription of ggml it is an exact rearrangement, never a
 * reassociation: products that are the same float in every pass are computed once (w*x, x*x);
 * make_qx_quants sums its 19 trial scales side by side (each sum still element by element) and
 * then takes ggml's decisions in ggml's order; the make_qkx search skips a step whose levels
 * equal the previous step's (it provably cannot change the result). Vector code may drop the
 * skip and keep everything else.
 */
#include "blocks.h"
#include "fp16.h"
#include "kernels.h"
#include "ref_k.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#define GROUP_MAX_EPS 1e-15f

/* ===== Block layouts (ggml-common.h; byte offsets, all multi-byte fields little-endian) ===== */

/* Q2_K, 84 bytes: u8 scales[16] (low nibble scale, high nibble min); u8 qs[64]; f16 d, dmin */
enum { Q2K_SCALES = 0, Q2K_QS = 16, Q2K_D = 80, Q2K_DMIN = 82, Q2K_SIZE = 84 };
/* Q3_K, 110 bytes: u8 hmask[32]; u8 qs[64]; u8 scales[12] (16 x 6 bits, biased 32); f16 d */
enum { Q3K_HMASK = 0, Q3K_QS = 32, Q3K_SCALES = 96, Q3K_D = 108, Q3K_SIZE = 110 };
/* Q4_K, 144 bytes: f16 d, dmin; u8 scales[12] (8 x 6-bit scale + 8 x 6-bit min); u8 qs[128] */
enum { Q4K_D = 0, Q4K_DMIN = 2, Q4K_SCALES = 4, Q4K_QS = 16, Q4K_SIZE = 144 };
/* Q5_K, 176 bytes: f16 d, dmin; u8 scales[12]; u8 qh[32]; u8 qs[128] */
enum { Q5K_D = 0, Q5K_DMIN = 2, Q5K_SCALES = 4, Q5K_QH = 16, Q5K_QS = 48, Q5K_SIZE = 176 };
/* Q6_K, 210 bytes: u8 ql[128]; u8 qh[64]; i8 scales[16]; f16 d */
enum { Q6K_QL = 0, Q6K_QH = 128, Q6K_SCALES = 192, Q6K_D = 208, Q6K_SIZE = 210 };
/* Q8_K, 292 bytes: f32 d; i8 qs[256]; i16 bsums[16] */
enum { Q8K_D = 0, Q8K_QS = 4, Q8K_BSUMS = 260, Q8K_SIZE = 292 };

/* ===== Helpers (ggml-quants.c "Helper functions") ===== */

static inline int imin(int a, int b)
{
    return a < b ? a : b;
}

static inline int imax(int a, int b)
{
    return a > b ? a : b;
}

#define TC_ALWAYS_INLINE static inline __attribute__((always_inline))

/*
 * make_qx_quants: symmetric quantization of x[0..n) (n <= 16) to L in [0, 2*nmax) (biased by
 * nmax) with a search of 19 scales around -nmax/max, weighted by w (x^2 for rmse_type 1 without
 * weights, the only kind the k-quants use). Returns the scale.
 *
 * The sums of each trial scale depend only on that scale, not on the search state, so all 19
 * are computed first (each sum still in ggml's element order: chains interleaved, never
 * reassociated), then ggml's accept/reject decisions run in its order. w[i]*x[i] is the same
 * float in every pass, so it is computed once.
 */
#define QX_TRIALS 19
#define QX_LANES  20 /* trials rounded up to whole 4-float vectors; trial 19 is never used */
TC_ALWAYS_INLINE float make_qx_quants(int n, int nmax, const float *x, int8_t *L, const float *w)
{
    float amax;
    const float max = tc_signed_amax(x, n, &amax);
    if (amax < GROUP_MAX_EPS) {
        for (int i = 0; i < n; ++i)
            L[i] = 0;
        return 0.f;
    }
    /* trial 0: iscale = -nmax/max; trials 1..18: is = -9..-1, 1..9 */
    int lv[QX_LANES][16];
    float fl[16][QX_LANES], sumlx[QX_LANES], suml2[QX_LANES], wx[16];
    for (int t = 0; t < QX_LANES; ++t) {
        int is = t <= 9 ? t - 10 : t - 9;
        float iscale = t == 0 ? (float)-nmax / max : -((float)nmax + 0.1f * (float)is) / max;
        for (int i = 0; i < n; ++i) {
            lv[t][i] = imax(-nmax, imin(nmax - 1, tc_nearest_int(iscale * x[i])));
            fl[i][t] = (float)lv[t][i];
        }
        sumlx[t] = suml2[t] = 0;
    }
    for (int i = 0; i < n; ++i) {
        wx[i] = w[i] * x[i];
        for (int t = 0; t < QX_LANES; ++t) {
            sumlx[t] += wx[i] * fl[i][t];
            suml2[t] += w[i] * fl[i][t] * fl[i][t];
        }
    }
    int pick = 0;
    float scale = suml2[0] != 0 ? sumlx[0] / suml2[0] : 0.0f;
    float best = scale * sumlx[0];
    for (int t = 1; t < QX_TRIALS; ++t)
        if (suml2[t] > 0 && sumlx[t] * sumlx[t] > best * suml2[t]) {
            pick = t;
            scale = sumlx[t] / suml2[t];
            best = scale * sumlx[t];
        }
    for (int i = 0; i < n; ++i)
        L[i] = (int8_t)(lv[pick][i] + nmax);
    return scale;
}

/* make_qx_quants without weights (rmse_type 1): w = x^2. */
TC_ALWAYS_INLINE float make_qx_quants_x2(int n, int nmax, const float *x, int8_t *L)
{
    float w[32];
    for (int i = 0; i < n; ++i)
        w[i] = x[i] * x[i];
    return make_qx_quants(n, nmax, x, L, w);
}

/*
 * make_q3_quants (do_rmse = true, the Q3_K reference): symmetric, weights x^2, then up to five
 * passes moving single quants while the weighted fit improves. L biased by nmax.
 */
TC_ALWAYS_INLINE float make_q3_quants(int n, int nmax, const float *x, int8_t *L)
{
    float amax;
    const float max = tc_signed_amax(x, n, &amax);
    if (amax < GROUP_MAX_EPS) {
        for (int i = 0; i < n; ++i)
            L[i] = 0;
        return 0.f;
    }
    float w[16], wx[16];
    for (int i = 0; i < n; ++i) {
        w[i] = x[i] * x[i];
        wx[i] = w[i] * x[i];
    }
    float iscale = (float)-nmax / max;
    float sumlx = 0, suml2 = 0;
    for (int i = 0; i < n; ++i) {
        int l = imax(-nmax, imin(nmax - 1, tc_nearest_int(iscale * x[i])));
        L[i] = (int8_t)l;
        sumlx += wx[i] * (float)l;
        suml2 += w[i] * (float)l * (float)l;
    }
    for (int itry = 0; itry < 5; ++itry) {
        int n_changed = 0;
        for (int i = 0; i < n; ++i) {
            float slx = sumlx - wx[i] * (float)L[i];
            if (slx > 0) {
                float sl2 = suml2 - w[i] * (float)L[i] * (float)L[i];
                int new_l = tc_nearest_int(x[i] * sl2 / slx);
                new_l = imax(-nmax, imin(nmax - 1, new_l));
                if (new_l != L[i]) {
                    slx += wx[i] * (float)new_l;
                    sl2 += w[i] * (float)new_l * (float)new_l;
                    if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2) {
                        L[i] = (int8_t)new_l;
                        sumlx = slx;
                        suml2 = sl2;
                        ++n_changed;
                    }
                }
            }
        }
        if (!n_changed)
            break;
    }
    for (int i = 0; i < n; ++i)
        L[i] = (int8_t)(L[i] + nmax);
    return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

/*
 * make_qkx2_quants (v3 = 0) and make_qkx3_quants (v3 = 1): asymmetric quantization with a min,
 * L in [0, nmax], x ~ scale*L - the_min, searching nstep+1 scales; weights are never NULL here.
 * The two differ only in the all-equal exit (max == min vs max <= min, the same for any input).
 * Version note: later ggml (after the libggml-base this is checked against) guards the search's
 * rounding in qkx3 with `v > 0 ? tc_nearest_int(MIN(v, nmax)) : 0`, which differs from the clamp
 * below when the best min so far sits near max and v overflows nearest_int's range (rare,
 * found by differential fuzzing); the oracle build in .oracle/llama still clamps, so we do too.
 */
static inline float make_qkx_quants(int n, int nmax, const float *x, const float *weights,
                                    uint8_t *L, float *the_min, float rmin, float rdelta, int nstep,
                                    int use_mad, int v3)
{
    float min = x[0], max = x[0];
    float sum_w = weights[0];
    float sum_x = sum_w * x[0];
    for (int i = 1; i < n; ++i) {
        if (x[i] < min)
            min = x[i];
        if (x[i] > max)
            max = x[i];
        float w = weights[i];
        sum_w += w;
        sum_x += w * x[i];
    }
    if (min > 0)
        min = 0;
    if (v3 ? max <= min : max == min) {
        for (int i = 0; i < n; ++i)
            L[i] = 0;
        *the_min = -min;
        return 0.f;
    }
    float iscale = (float)nmax / (max - min);
    float scale = 1 / iscale;
    float best_error = 0;
    int la[32] = {0}; /* ggml's Laux: the levels of the step being tried */
    for (int i = 0; i < n; ++i) {
        int l = tc_nearest_int(iscale * (x[i] - min));
        L[i] = (uint8_t)imax(0, imin(nmax, l));
        float diff = scale * (float)L[i] + min - x[i];
        diff = use_mad ? fabsf(diff) : diff * diff;
        best_error += weights[i] * diff;
    }
    if (nstep < 1) {
        *the_min = -min;
        return scale;
    }
    for (int is = 0; is <= nstep; ++is) {
        iscale = (rmin + rdelta * (float)is + (float)nmax) / (max - min);
        /* Exact shortcut (not in ggml): when the levels come out as in the previous step, so do the
         * sums, the fit and its error, which then cannot beat best_error (it either became
         * best_error or already lost to it), so the step changes nothing. */
        int same = is > 0; /* la[] holds the previous step's levels from step 1 on */
        for (int i = 0; i < n; ++i) {
            int l = imax(0, imin(nmax, tc_nearest_int(iscale * (x[i] - min))));
            same &= la[i] == l;
            la[i] = l;
        }
        if (same)
            continue;
        float sum_l = 0, sum_l2 = 0, sum_xl = 0;
        for (int i = 0; i < n; ++i) {
            const float l = (float)la[i], w = weights[i];
            sum_l += w * l;
            sum_l2 += w * l * l;
            sum_xl += w * l * x[i];
        }
        float D = sum_w * sum_l2 - sum_l * sum_l;
        if (D > 0) {
            float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
            float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
            if (this_min > 0) {
                this_min = 0;
                this_scale = sum_xl / sum_l2;
            }
            float cur_error = 0;
            for (int i = 0; i < n; ++i) {
                float diff = this_scale * (float)la[i] + this_min - x[i];
                diff = use_mad ? fabsf(diff) : diff * diff;
                cur_error += weights[i] * diff;
            }
            if (cur_error < best_error) {
                for (int i = 0; i < n; ++i)
                    L[i] = (uint8_t)la[i];
                best_error = cur_error;
                scale = this_scale;
                min = this_min;
            }
        }
    }
    *the_min = -min;
    return scale;
}

/*
 * make_qp_quants: quantize non-negative x (scales or mins of the sub-blocks) to L in [0, nmax]
 * with weights qw, no min; 9-point scale search, then up to five refinement passes. L is
 * uint8_t as in ggml, so a negative rounding wraps exactly as it does there.
 */
float tc_ref_make_qp_quants(int n, int nmax, const float *x, uint8_t *L, const float *qw)
{
    float max = 0;
    for (int i = 0; i < n; ++i)
        max = max > x[i] ? max : x[i];
    if (max < GROUP_MAX_EPS) {
        for (int i = 0; i < n; ++i)
            L[i] = 0;
        return 0.f;
    }
    float iscale = (float)nmax / max;
    for (int i = 0; i < n; ++i)
        L[i] = (uint8_t)tc_nearest_int(iscale * x[i]);
    float scale = 1 / iscale;
    float best_mse = 0;
    for (int i = 0; i < n; ++i) {
        float diff = x[i] - scale * (float)L[i];
        best_mse += qw[i] * diff * diff;
    }
    for (int is = -4; is <= 4; ++is) {
        if (is == 0)
            continue;
        float iscale_is = (0.1f * (float)is + (float)nmax) / max;
        float scale_is = 1 / iscale_is;
        float mse = 0;
        for (int i = 0; i < n; ++i) {
            int l = imin(nmax, tc_nearest_int(iscale_is * x[i]));
            float diff = x[i] - scale_is * (float)l;
            mse += qw[i] * diff * diff;
        }
        if (mse < best_mse) {
            best_mse = mse;
            iscale = iscale_is;
        }
    }
    float sumlx = 0, suml2 = 0;
    for (int i = 0; i < n; ++i) {
        int l = imin(nmax, tc_nearest_int(iscale * x[i]));
        L[i] = (uint8_t)l;
        float w = qw[i];
        sumlx += w * x[i] * (float)l;
        suml2 += w * (float)l * (float)l;
    }
    for (int itry = 0; itry < 5; ++itry) {
        int n_changed = 0;
        for (int i = 0; i < n; ++i) {
            float w = qw[i];
            float slx = sumlx - w * x[i] * (float)L[i];
            float sl2 = suml2 - w * (float)L[i] * (float)L[i];
            if (slx > 0 && sl2 > 0) {
                int new_l = imin(nmax, tc_nearest_int(x[i] * sl2 / slx));
                if (new_l != L[i]) {
                    slx += w * x[i] * (float)new_l;
                    sl2 += w * (float)new_l * (float)new_l;
                    if (slx * slx * suml2 > sumlx * sumlx * sl2) {
                        L[i] = (uint8_t)new_l;
                        sumlx = slx;
                        suml2 = sl2;
                        ++n_changed;
                    }
                }
            }
        }
        if (!n_changed)
            break;
    }
    return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

/* Q4_K/Q5_K 6-bit scale and min of sub-block j (ggml get_scale_min_k4). */
static inline void get_scale_min_k4(int j, const uint8_t *q, uint8_t *d, uint8_t *m)
{
    if (j < 4) {
        *d = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *d = (uint8_t)((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
        *m = (uint8_t)((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
    }
}

/* Q2_K/Q3_K: four 2-bit planes per 128 elements. */
static inline void pack_2bit(uint8_t *qs, const uint8_t *L)
{
    for (int j = 0; j < QK_K; j += 128)
        for (int l = 0; l < 32; ++l)
            qs[j / 4 + l] = (uint8_t)(L[j + l] | (L[j + l + 32] << 2) | (L[j + l + 64] << 4) |
                                      (L[j + l + 96] << 6));
}

/* ===== Q2_K ===== */

/* Requantize against the stored (fp16) super-scales; sub-blocks with a zero scale keep L. */
static inline void q2_k_finish(const float *x, uint8_t *y, uint8_t *L)
{
    const float d_all = tc_get_f16(y + Q2K_D), m_all = tc_get_f16(y + Q2K_DMIN);
    for (int j = 0; j < QK_K / 16; ++j) {
        const float d = d_all * (float)(y[Q2K_SCALES + j] & 0xF);
        if (!d)
            continue;
        const float dm = m_all * (float)(y[Q2K_SCALES + j] >> 4);
        for (int ii = 0; ii < 16; ++ii) {
            int l = tc_nearest_int((x[16 * j + ii] + dm) / d);
            L[16 * j + ii] = (uint8_t)imax(0, imin(3, l));
        }
    }
    pack_2bit(y + Q2K_QS, L);
}

/* quantize_row_q2_K_ref, one block */
static void q2_k_block_ref(const float *x, uint8_t *y)
{
    uint8_t L[QK_K];
    float weights[16], mins[QK_K / 16], scales[QK_K / 16];
    float max_scale = 0, max_min = 0;
    for (int j = 0; j < QK_K / 16; ++j) {
        for (int l = 0; l < 16; ++l)
            weights[l] = fabsf(x[16 * j + l]);
        scales[j] = make_qkx_quants(16, 3, x + 16 * j, weights, L + 16 * j, &mins[j], -0.5f, 0.1f,
                                    15, 1, 0);
        if (scales[j] > max_scale)
            max_scale = scales[j];
        if (mins[j] > max_min)
            max_min = mins[j];
    }
    if (max_scale > 0) {
        float iscale = 15.f / max_scale;
        for (int j = 0; j < QK_K / 16; ++j)
            y[Q2K_SCALES + j] = (uint8_t)tc_nearest_int(iscale * scales[j]);
        tc_put_f16(y + Q2K_D, max_scale / 15.f);
    } else {
        memset(y + Q2K_SCALES, 0, 16);
        tc_put_f16(y + Q2K_D, 0.f);
    }
    if (max_min > 0) {
        float iscale = 15.f / max_min;
        for (int j = 0; j < QK_K / 16; ++j) {
            unsigned l = (unsigned)tc_nearest_int(iscale * mins[j]);
            y[Q2K_SCALES + j] = (uint8_t)(y[Q2K_SCALES + j] | (l << 4));
        }
        tc_put_f16(y + Q2K_DMIN, max_min / 15.f);
    } else {
        tc_put_f16(y + Q2K_DMIN, 0.f);
    }
    q2_k_finish(x, y, L);
}

/* quantize_row_q2_K_impl, one block; qw = the importance weights of this block */
static void q2_k_block_imat(const float *x, const float *qw, uint8_t *y)
{
    uint8_t L[QK_K], Ls[QK_K / 16], Lm[QK_K / 16];
    float weight[16], mins[QK_K / 16], scales[QK_K / 16], sw[QK_K / 16];
    float sumx2 = 0;
    for (int j = 0; j < QK_K; ++j)
        sumx2 += x[j] * x[j];
    float sigma2 = sumx2 / QK_K;
    for (int j = 0; j < QK_K / 16; ++j) {
        for (int l = 0; l < 16; ++l)
            weight[l] = qw[16 * j + l] * sqrtf(sigma2 + x[16 * j + l] * x[16 * j + l]);
        sw[j] = 0;
        for (int l = 0; l < 16; ++l)
            sw[j] += weight[l];
        scales[j] = make_qkx_quants(16, 3, x + 16 * j, weight, L + 16 * j, &mins[j], -0.9f, 0.05f,
                                    36, 0, 1);
    }
    float dm = tc_ref_make_qp_quants(QK_K / 16, 15, scales, Ls, sw);
    float mm = tc_ref_make_qp_quants(QK_K / 16, 15, mins, Lm, sw);
    tc_put_f16(y + Q2K_D, dm);
    tc_put_f16(y + Q2K_DMIN, mm);
    for (int j = 0; j < QK_K / 16; ++j)
        y[Q2K_SCALES + j] = (uint8_t)(Ls[j] | (Lm[j] << 4));
    q2_k_finish(x, y, L);
}

static void q2_k_dequant_block(const uint8_t *b, float *y)
{
    const float d = tc_get_f16(b + Q2K_D), min = tc_get_f16(b + Q2K_DMIN);
    const uint8_t *q = b + Q2K_QS;
    int is = 0;
    for (int n = 0; n < QK_K; n += 128) {
        int shift = 0;
        for (int j = 0; j < 4; ++j) {
            uint8_t sc = b[Q2K_SCALES + is++];
            float dl = d * (float)(sc & 0xF), ml = min * (float)(sc >> 4);
            for (int l = 0; l < 16; ++l)
                *y++ = dl * (float)((q[l] >> shift) & 3) - ml;
            sc = b[Q2K_SCALES + is++];
            dl = d * (float)(sc & 0xF);
            ml = min * (float)(sc >> 4);
            for (int l = 0; l < 16; ++l)
                *y++ = dl * (float)((q[l + 16] >> shift) & 3) - ml;
            shift += 2;
        }
        q += 32;
    }
}

/* ===== Q3_K ===== */

/* Store biased 6-bit scale l (0..63) of sub-block j; `s` starts zeroed. */
static inline void q3_k_put_scale(uint8_t *s, int j, int l)
{
    if (j < 8)
        s[j] = (uint8_t)(l & 0xF);
    else
        s[j - 8] = (uint8_t)(s[j - 8] | ((l & 0xF) << 4));
    l >>= 4;
    s[j % 4 + 8] = (uint8_t)(s[j % 4 + 8] | (l << (2 * (j / 4))));
}

/* Requantize against the stored scales (L biased by 4 in 0..7), then hmask + 2-bit planes. */
static inline void q3_k_finish(const float *x, uint8_t *y, int8_t *L)
{
    const float d_all = tc_get_f16(y + Q3K_D);
    for (int j = 0; j < QK_K / 16; ++j) {
        float d = d_all * (float)tc_q3_k_scale(y + Q3K_SCALES, j);
        if (!d)
            continue;
        for (int ii = 0; ii < 16; ++ii) {
            int l = tc_nearest_int(x[16 * j + ii] / d);
            L[16 * j + ii] = (int8_t)(imax(-4, imin(3, l)) + 4);
        }
    }
    /* L is in 0..7 here: its bit 2 goes to hmask[j % 32] bit j / 32 and L & 3 to the planes
     * (ggml: if L > 3 set the bit and subtract 4). */
    uint8_t U[QK_K];
    for (int j = 0; j < QK_K; ++j)
        U[j] = (uint8_t)(L[j] & 3);
    for (int m = 0; m < QK_K / 8; ++m) {
        unsigned h = 0;
        for (int b = 0; b < 8; ++b)
            h |= (unsigned)((L[m + 32 * b] >> 2) & 1) << b;
        y[Q3K_HMASK + m] = (uint8_t)h;
    }
    pack_2bit(y + Q3K_QS, U);
}

/* quantize_row_q3_K_ref, one block */
static void q3_k_block_ref(const float *x, uint8_t *y)
{
    int8_t L[QK_K];
    float scales[QK_K / 16];
    float max_scale = 0, amax = 0;
    for (int j = 0; j < QK_K / 16; ++j) {
        scales[j] = make_q3_quants(16, 4, x + 16 * j, L + 16 * j);
        float scale = fabsf(scales[j]);
        if (scale > amax) {
            amax = scale;
            max_scale = scales[j];
        }
    }
    memset(y + Q3K_SCALES, 0, 12);
    if (max_scale != 0) {
        float iscale = -32.f / max_scale;
        for (int j = 0; j < QK_K / 16; ++j) {
            int8_t l = (int8_t)tc_nearest_int(iscale * scales[j]);
            q3_k_put_scale(y + Q3K_SCALES, j, imax(-32, imin(31, l)) + 32);
        }
        tc_put_f16(y + Q3K_D, 1 / iscale);
    } else {
        tc_put_f16(y + Q3K_D, 0.f);
    }
    q3_k_finish(x, y, L);
}

/* quantize_row_q3_K_impl, one block */
static void q3_k_block_imat(const float *x, const float *qw, uint8_t *y)
{
    int8_t L[QK_K], Ls[QK_K / 16];
    float scales[QK_K / 16], weight[16], sw[QK_K / 16];
    float sumx2 = 0;
    for (int j = 0; j < QK_K; ++j)
        sumx2 += x[j] * x[j];
    float sigma2 = 2 * sumx2 / QK_K;
    for (int j = 0; j < QK_K / 16; ++j) {
        for (int l = 0; l < 16; ++l)
            weight[l] = qw[16 * j + l] * sqrtf(sigma2 + x[16 * j + l] * x[16 * j + l]);
        float sumw = 0;
        for (int l = 0; l < 16; ++l)
            sumw += weight[l];
        sw[j] = sumw;
        scales[j] = make_qx_quants(16, 4, x + 16 * j, L + 16 * j, weight);
    }
    memset(y + Q3K_SCALES, 0, 12);
    float d_block = make_qx_quants(QK_K / 16, 32, scales, Ls, sw);
    for (int j = 0; j < QK_K / 16; ++j)
        q3_k_put_scale(y + Q3K_SCALES, j, Ls[j]);
    tc_put_f16(y + Q3K_D, d_block);
    q3_k_finish(x, y, L);
}

static void q3_k_dequant_block(const uint8_t *b, float *y)
{
    const float d_all = tc_get_f16(b + Q3K_D);
    const uint8_t *q = b + Q3K_QS, *hm = b + Q3K_HMASK;
    uint8_t m = 1;
    int is = 0;
    for (int n = 0; n < QK_K; n += 128) {
        int shift = 0;
        for (int j = 0; j < 4; ++j) {
            float dl = d_all * (float)tc_q3_k_scale(b + Q3K_SCALES, is++);
            for (int l = 0; l < 16; ++l)
                *y++ = dl * (float)(((q[l] >> shift) & 3) - ((hm[l] & m) ? 0 : 4));
            dl = d_all * (float)tc_q3_k_scale(b + Q3K_SCALES, is++);
            for (int l = 0; l < 16; ++l)
                *y++ = dl * (float)(((q[l + 16] >> shift) & 3) - ((hm[l + 16] & m) ? 0 : 4));
            shift += 2;
            m = (uint8_t)(m << 1);
        }
        q += 32;
    }
}

/* ===== Q4_K and Q5_K (same scales; Q5_K adds a fifth bit plane) ===== */

/* Requantize 8 sub-blocks of 32 against the stored scales and mins, L in [0, nmax]. */
static inline void q45_k_requant(const float *x, const uint8_t *y_d, const uint8_t *scales,
                                 int nmax, uint8_t *L)
{
    const float d_all = tc_get_f16(y_d), m_all = tc_get_f16(y_d + 2);
    for (int j = 0; j < QK_K / 32; ++j) {
        uint8_t sc, m;
        get_scale_min_k4(j, scales, &sc, &m);
        const float d = d_all * (float)sc;
        if (!d)
            continue;
        const float dm = m_all * (float)m;
        for (int ii = 0; ii < 32; ++ii) {
            int l = tc_nearest_int((x[32 * j + ii] + dm) / d);
            L[32 * j + ii] = (uint8_t)imax(0, imin(nmax, l));
        }
    }
}

/* Reference scale search of Q4_K (nmax 15) and Q5_K (nmax 31): scales, mins, d, dmin stored. */
static inline void q45_k_scales_ref(const float *x, uint8_t *y, int nmax, float rmin, int nstep,
                                    uint8_t *L)
{
    uint8_t ls[8], lm[8];
    float weights[32], mins[QK_K / 32], scales[QK_K / 32];
    float max_scale = 0, max_min = 0;
    for (int j = 0; j < QK_K / 32; ++j) {
        float sum_x2 = 0;
        for (int l = 0; l < 32; ++l)
            sum_x2 += x[32 * j + l] * x[32 * j + l];
        float av_x = sqrtf(sum_x2 / 32);
        for (int l = 0; l < 32; ++l)
            weights[l] = av_x + fabsf(x[32 * j + l]);
        scales[j] = make_qkx_quants(32, nmax, x + 32 * j, weights, L + 32 * j, &mins[j], rmin, 0.1f,
                                    nstep, 0, 0);
        if (scales[j] > max_scale)
            max_scale = scales[j];
        if (mins[j] > max_min)
            max_min = mins[j];
    }
    float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
    float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
    for (int j = 0; j < QK_K / 32; ++j) {
        uint8_t a = (uint8_t)tc_nearest_int(inv_scale * scales[j]);
        uint8_t b = (uint8_t)tc_nearest_int(inv_min * mins[j]);
        ls[j] = a < 63 ? a : 63;
        lm[j] = b < 63 ? b : 63;
    }
    tc_put_scale_min_k4(y + 4, ls, lm);
    tc_put_f16(y, max_scale / 63.f);
    tc_put_f16(y + 2, max_min / 63.f);
}

/* Weighted (imatrix) scale search of Q4_K/Q5_K; Q5_K also clamps the 6-bit levels (clamp63). */
static inline void q45_k_scales_imat(const float *x, const float *qw, uint8_t *y, int nmax,
                                     int clamp63, uint8_t *L)
{
    uint8_t Ls[QK_K / 32], Lm[QK_K / 32];
    float weights[32], sw[QK_K / 32], mins[QK_K / 32], scales[QK_K / 32];
    float sum_x2 = 0;
    for (int l = 0; l < QK_K; ++l)
        sum_x2 += x[l] * x[l];
    float sigma2 = 2 * sum_x2 / QK_K;
    for (int j = 0; j < QK_K / 32; ++j) {
        for (int l = 0; l < 32; ++l)
            weights[l] = qw[32 * j + l] * sqrtf(sigma2 + x[32 * j + l] * x[32 * j + l]);
        float sumw = 0;
        for (int l = 0; l < 32; ++l)
            sumw += weights[l];
        sw[j] = sumw;
        scales[j] = make_qkx_quants(32, nmax, x + 32 * j, weights, L + 32 * j, &mins[j], -0.9f,
                                    0.05f, 36, 0, 1);
    }
    float d_block = tc_ref_make_qp_quants(QK_K / 32, 63, scales, Ls, sw);
    float m_block = tc_ref_make_qp_quants(QK_K / 32, 63, mins, Lm, sw);
    if (clamp63)
        for (int j = 0; j < QK_K / 32; ++j) {
            Ls[j] = Ls[j] < 63 ? Ls[j] : 63;
            Lm[j] = Lm[j] < 63 ? Lm[j] : 63;
        }
    tc_put_scale_min_k4(y + 4, Ls, Lm);
    tc_put_f16(y, d_block);
    tc_put_f16(y + 2, m_block);
}

static inline void q4_k_pack(uint8_t *q, const uint8_t *L)
{
    for (int j = 0; j < QK_K; j += 64) {
        for (int l = 0; l < 32; ++l)
            q[l] = (uint8_t)(L[j + l] | (L[j + l + 32] << 4));
        q += 32;
    }
}

static inline void q5_k_pack(uint8_t *y, const uint8_t *L)
{
    uint8_t *qh = y + Q5K_QH, *ql = y + Q5K_QS;
    memset(qh, 0, QK_K / 8);
    uint8_t m1 = 1, m2 = 2;
    for (int n = 0; n < QK_K; n += 64) {
        for (int j = 0; j < 32; ++j) {
            int l1 = L[n + j], l2 = L[n + j + 32];
            if (l1 > 15) {
                l1 -= 16;
                qh[j] |= m1;
            }
            if (l2 > 15) {
                l2 -= 16;
                qh[j] |= m2;
            }
            ql[j] = (uint8_t)(l1 | (l2 << 4));
        }
        m1 = (uint8_t)(m1 << 2);
        m2 = (uint8_t)(m2 << 2);
        ql += 32;
    }
}

static void q4_k_block_ref(const float *x, uint8_t *y)
{
    uint8_t L[QK_K];
    q45_k_scales_ref(x, y, 15, -1.f, 20, L);
    q45_k_requant(x, y + Q4K_D, y + Q4K_SCALES, 15, L);
    q4_k_pack(y + Q4K_QS, L);
}

static void q4_k_block_imat(const float *x, const float *qw, uint8_t *y)
{
    uint8_t L[QK_K];
    q45_k_scales_imat(x, qw, y, 15, 0, L);
    q45_k_requant(x, y + Q4K_D, y + Q4K_SCALES, 15, L);
    q4_k_pack(y + Q4K_QS, L);
}

static void q5_k_block_ref(const float *x, uint8_t *y)
{
    uint8_t L[QK_K];
    q45_k_scales_ref(x, y, 31, -0.5f, 15, L);
    q45_k_requant(x, y + Q5K_D, y + Q5K_SCALES, 31, L);
    q5_k_pack(y, L);
}

static void q5_k_block_imat(const float *x, const float *qw, uint8_t *y)
{
    uint8_t L[QK_K];
    q45_k_scales_imat(x, qw, y, 31, 1, L);
    q45_k_requant(x, y + Q5K_D, y + Q5K_SCALES, 31, L);
    q5_k_pack(y, L);
}

static void q4_k_dequant_block(const uint8_t *b, float *y)
{
    const float d = tc_get_f16(b + Q4K_D), min = tc_get_f16(b + Q4K_DMIN);
    const uint8_t *q = b + Q4K_QS;
    int is = 0;
    for (int j = 0; j < QK_K; j += 64) {
        uint8_t sc, m;
        get_scale_min_k4(is + 0, b + Q4K_SCALES, &sc, &m);
        const float d1 = d * (float)sc, m1 = min * (float)m;
        get_scale_min_k4(is + 1, b + Q4K_SCALES, &sc, &m);
        const float d2 = d * (float)sc, m2 = min * (float)m;
        for (int l = 0; l < 32; ++l)
            *y++ = d1 * (float)(q[l] & 0xF) - m1;
        for (int l = 0; l < 32; ++l)
            *y++ = d2 * (float)(q[l] >> 4) - m2;
        q += 32;
        is += 2;
    }
}

static void q5_k_dequant_block(const uint8_t *b, float *y)
{
    const float d = tc_get_f16(b + Q5K_D), min = tc_get_f16(b + Q5K_DMIN);
    const uint8_t *ql = b + Q5K_QS, *qh = b + Q5K_QH;
    int is = 0;
    unsigned u1 = 1, u2 = 2;
    for (int j = 0; j < QK_K; j += 64) {
        uint8_t sc, m;
        get_scale_min_k4(is + 0, b + Q5K_SCALES, &sc, &m);
        const float d1 = d * (float)sc, m1 = min * (float)m;
        get_scale_min_k4(is + 1, b + Q5K_SCALES, &sc, &m);
        const float d2 = d * (float)sc, m2 = min * (float)m;
        for (int l = 0; l < 32; ++l)
            *y++ = d1 * (float)((ql[l] & 0xF) + (qh[l] & u1 ? 16 : 0)) - m1;
        for (int l = 0; l < 32; ++l)
            *y++ = d2 * (float)((ql[l] >> 4) + (qh[l] & u2 ? 16 : 0)) - m2;
        ql += 32;
        is += 2;
        u1 <<= 2;
        u2 <<= 2;
    }
}

/* ===== Q6_K ===== */

/* Q6_K ref (qw NULL: weights x^2) and impl (qw = raw importance of the block) share all code;
 * inlined into each with qw constant-folded. */
TC_ALWAYS_INLINE void q6_k_block(const float *x, const float *qw, uint8_t *y)
{
    int8_t L[QK_K];
    float scales[QK_K / 16];
    float max_scale = 0, max_abs_scale = 0;
    for (int ib = 0; ib < QK_K / 16; ++ib) {
        const float scale = qw ? make_qx_quants(16, 32, x + 16 * ib, L + 16 * ib, qw + 16 * ib)
                               : make_qx_quants_x2(16, 32, x + 16 * ib, L + 16 * ib);
        scales[ib] = scale;
        const float abs_scale = fabsf(scale);
        if (abs_scale > max_abs_scale) {
            max_abs_scale = abs_scale;
            max_scale = scale;
        }
    }
    if (max_abs_scale < GROUP_MAX_EPS) {
        memset(y, 0, Q6K_SIZE);
        tc_put_f16(y + Q6K_D, 0.f);
        return;
    }
    float iscale = -128.f / max_scale;
    tc_put_f16(y + Q6K_D, 1 / iscale);
    int8_t *sc = (int8_t *)(y + Q6K_SCALES);
    for (int ib = 0; ib < QK_K / 16; ++ib)
        sc[ib] = (int8_t)imin(127, tc_nearest_int(iscale * scales[ib]));
    const float d_all = tc_get_f16(y + Q6K_D);
    for (int j = 0; j < QK_K / 16; ++j) {
        float d = d_all * (float)sc[j];
        if (!d)
            continue;
        for (int ii = 0; ii < 16; ++ii) {
            int l = tc_nearest_int(x[16 * j + ii] / d);
            L[16 * j + ii] = (int8_t)(imax(-32, imin(31, l)) + 32);
        }
    }
    uint8_t *ql = y + Q6K_QL, *qh = y + Q6K_QH;
    for (int j = 0; j < QK_K; j += 128) {
        for (int l = 0; l < 32; ++l) {
            const int a = L[j + l], b = L[j + l + 32], c = L[j + l + 64], e = L[j + l + 96];
            ql[l] = (uint8_t)((a & 0xF) | ((c & 0xF) << 4));
            ql[l + 32] = (uint8_t)((b & 0xF) | ((e & 0xF) << 4));
            qh[l] = (uint8_t)((a >> 4) | ((b >> 4) << 2) | ((c >> 4) << 4) | ((e >> 4) << 6));
        }
        ql += 64;
        qh += 32;
    }
}

static void q6_k_dequant_block(const uint8_t *b, float *y)
{
    const float d = tc_get_f16(b + Q6K_D);
    const uint8_t *ql = b + Q6K_QL, *qh = b + Q6K_QH;
    const int8_t *sc = (const int8_t *)(b + Q6K_SCALES);
    for (int n = 0; n < QK_K; n += 128) {
        for (int l = 0; l < 32; ++l) {
            int is = l / 16;
            const int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
            const int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
            const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
            const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
            y[l + 0] = d * (float)sc[is + 0] * (float)q1;
            y[l + 32] = d * (float)sc[is + 2] * (float)q2;
            y[l + 64] = d * (float)sc[is + 4] * (float)q3;
            y[l + 96] = d * (float)sc[is + 6] * (float)q4;
        }
        y += 128;
        ql += 64;
        qh += 32;
        sc += 8;
    }
}

/* ===== Q8_K (activation type: quantize_row_q8_K_ref / dequantize_row_q8_K) ===== */

/* An all-zero block gets zero bsums too (ggml leaves them unwritten there). */
static void q8_k_block(const float *x, uint8_t *y)
{
    float amax;
    const float max = tc_signed_amax(x, QK_K, &amax);
    if (!amax) {
        memset(y, 0, Q8K_SIZE);
        return;
    }
    const float iscale = -127.f / max;
    int8_t qs[QK_K];
    for (int j = 0; j < QK_K; ++j)
        qs[j] = (int8_t)imin(127, tc_nearest_int(iscale * x[j]));
    memcpy(y + Q8K_QS, qs, QK_K);
    for (int j = 0; j < QK_K / 16; ++j) {
        int sum = 0;
        for (int ii = 0; ii < 16; ++ii)
            sum += qs[j * 16 + ii];
        uint16_t s = (uint16_t)sum;
        y[Q8K_BSUMS + 2 * j] = (uint8_t)(s & 0xff);
        y[Q8K_BSUMS + 2 * j + 1] = (uint8_t)(s >> 8);
    }
    uint32_t d = tc_f32_bits(1 / iscale);
    for (int k = 0; k < 4; ++k)
        y[Q8K_D + k] = (uint8_t)(d >> (8 * k));
}

static void q8_k_dequant_block(const uint8_t *b, float *y)
{
    const float d = tc_bits_f32((uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
                                (uint32_t)b[3] << 24);
    const int8_t *qs = (const int8_t *)(b + Q8K_QS);
    for (int j = 0; j < QK_K; ++j)
        y[j] = d * (float)qs[j];
}

/* ===== Row kernels (the tc_kernel_table contract) ===== */

/* Without an imatrix ggml quantizes all rows as one run of blocks; with one, row by row with the
 * weights indexed from the row start. Both come down to the same loop over blocks. */
#define TC_K_QUANT(name, bsize, ref_block, imat_block)                                             \
    static void name(const float *src, void *dst, int64_t n_rows, int64_t n_per_row,               \
                     const float *imatrix)                                                         \
    {                                                                                              \
        const int64_t nb = n_per_row / QK_K;                                                       \
        uint8_t *y = dst;                                                                          \
        for (int64_t r = 0; r < n_rows; ++r)                                                       \
            for (int64_t i = 0; i < nb; ++i, src += QK_K, y += (bsize)) {                          \
                if (imatrix)                                                                       \
                    imat_block(src, imatrix + QK_K * i, y);                                        \
                else                                                                               \
                    ref_block(src, y);                                                             \
            }                                                                                      \
    }

#define TC_K_DEQUANT(name, bsize, block)                                                           \
    static void name(const void *src, float *dst, int64_t n)                                       \
    {                                                                                              \
        const uint8_t *b = src;                                                                    \
        for (int64_t i = 0; i < n / QK_K; ++i)                                                     \
            block(b + (bsize)*i, dst + QK_K * i);                                                  \
    }

static void q6_k_block_ref(const float *x, uint8_t *y)
{
    q6_k_block(x, NULL, y);
}

static void q6_k_block_imat(const float *x, const float *qw, uint8_t *y)
{
    q6_k_block(x, qw, y);
}

/* Q8_K has no imatrix path in ggml: the weights are ignored. */
static void q8_k_block_imat(const float *x, const float *qw, uint8_t *y)
{
    (void)qw;
    q8_k_block(x, y);
}

TC_K_QUANT(tc_q2_k_quant_ref, Q2K_SIZE, q2_k_block_ref, q2_k_block_imat)
TC_K_QUANT(tc_q3_k_quant_ref, Q3K_SIZE, q3_k_block_ref, q3_k_block_imat)
TC_K_QUANT(tc_q4_k_quant_ref, Q4K_SIZE, q4_k_block_ref, q4_k_block_imat)
TC_K_QUANT(tc_q5_k_quant_ref, Q5K_SIZE, q5_k_block_ref, q5_k_block_imat)
TC_K_QUANT(tc_q6_k_quant_ref, Q6K_SIZE, q6_k_block_ref, q6_k_block_imat)
TC_K_QUANT(tc_q8_k_quant_ref, Q8K_SIZE, q8_k_block, q8_k_block_imat)

TC_K_DEQUANT(tc_q2_k_dequant_ref, Q2K_SIZE, q2_k_dequant_block)
TC_K_DEQUANT(tc_q3_k_dequant_ref, Q3K_SIZE, q3_k_dequant_block)
TC_K_DEQUANT(tc_q4_k_dequant_ref, Q4K_SIZE, q4_k_dequant_block)
TC_K_DEQUANT(tc_q5_k_dequant_ref, Q5K_SIZE, q5_k_dequant_block)
TC_K_DEQUANT(tc_q6_k_dequant_ref, Q6K_SIZE, q6_k_dequant_block)
TC_K_DEQUANT(tc_q8_k_dequant_ref, Q8K_SIZE, q8_k_dequant_block)

void tc_ref_register_k(tc_kernel_table *k)
{
    k->quantize[TC_DTYPE_Q2_K] = tc_q2_k_quant_ref;
    k->quantize[TC_DTYPE_Q3_K] = tc_q3_k_quant_ref;
    k->quantize[TC_DTYPE_Q4_K] = tc_q4_k_quant_ref;
    k->quantize[TC_DTYPE_Q5_K] = tc_q5_k_quant_ref;
    k->quantize[TC_DTYPE_Q6_K] = tc_q6_k_quant_ref;
    k->quantize[TC_DTYPE_Q8_K] = tc_q8_k_quant_ref;
    k->dequantize[TC_DTYPE_Q2_K] = tc_q2_k_dequant_ref;
    k->dequantize[TC_DTYPE_Q3_K] = tc_q3_k_dequant_ref;
    k->dequantize[TC_DTYPE_Q4_K] = tc_q4_k_dequant_ref;
    k->dequantize[TC_DTYPE_Q5_K] = tc_q5_k_dequant_ref;
    k->dequantize[TC_DTYPE_Q6_K] = tc_q6_k_dequant_ref;
    k->dequantize[TC_DTYPE_Q8_K] = tc_q8_k_dequant_ref;
}
