/*
 * ref_legacy.c - scalar reference kernels for the legacy block types (Q4_0, Q4_1, Q5_0, Q5_1,
 * Q8_0), the low-bit ones (Q1_0, Q2_0, TQ1_0, TQ2_0), the FP4 ones (MXFP4, NVFP4) and the
 * non-linear 4-bit ones (IQ4_NL, IQ4_XS).
 *
 * Each quantizer reproduces ggml_quantize_chunk() for its type byte for byte (ggml
 * src/ggml-quants.c): without an importance matrix the `quantize_row_<t>_ref` path, with one the
 * weighted `quantize_row_<t>_impl` path, and for IQ4_NL/IQ4_XS the 7-try search of
 * `quantize_iq4_nl/xs` that llama-quantize uses. That means the same float32 operations in the
 * same order (this file is built with -ffp-contract=off, as ggml's portable C is on x86-64), the
 * same roundings (truncating casts, roundf, lroundf, nearest_int) and the same fp16 roundings of
 * stored scales. Inf/NaN input gives ggml's bytes too (blocks.h has the cast semantics).
 *
 * Kernels never allocate: per-block scratch lives on the stack.
 */
#include "blocks.h"
#include "kernels.h"

#include <float.h>
#include <string.h>

#define GROUP_MAX_EPS 1e-15f

/* ===== Shared search helpers (ggml-quants.c) ===== */

/*
 * NaN propagation. Where both operands of an addition or multiplication are NaN, x86 returns the
 * first (destination) operand, so which NaN - and which sign - survives depends on how ggml's
 * compiler ordered the operands. The helpers below spell out the order found in the oracle's
 * code (libggml-base.so, gcc -O3, SSE2), so rows holding NaNs of both signs give ggml's bytes
 * whatever our own compiler does. With at most one NaN operand they are plain float arithmetic.
 */

/* s + t, keeping s when both are NaN (a running sum). */
static inline float acc_keep(float s, float t)
{
    return s != s ? s : s + t;
}

/*
 * Sum of x^2 over n values (n a multiple of 4), in index order. ggml's loops square four
 * values at a time and fold them into the sum one by one; for the 2nd and 3rd of each four the
 * square is the destination operand, so on two NaNs the square's NaN survives there.
 */
static float sum_sq(const float *x, int64_t n)
{
    float s = 0;
    for (int64_t j = 0; j < n; ++j) {
        const float t = x[j] * x[j];
        if (s != s && t != t)
            s = ((j & 3) == 1 || (j & 3) == 2) ? t : s;
        else
            s = s + t;
    }
    return s;
}

/* qw * sqrtf(sigma2 + x^2), the imatrix weight: x^2 and then the root are kept on two NaNs. */
static inline float imat_weight(float qw, float sigma2, float x)
{
    const float t = x * x;
    const float r = sqrtf(t != t ? t : sigma2 + t);
    return r != r ? r : r * qw;
}

/*
 * make_qx_quants with rmse_type 1 and explicit weights `qw` (the only form the legacy imatrix
 * paths use): symmetric levels L in [0, 2*nmax), scale chosen among 19 candidate inverse scales
 * by weighted least squares. Returns the scale; L receives the biased levels.
 */
static float make_qx_quants_w(int n, int nmax, const float *x, int8_t *L, const float *qw)
{
    float amax;
    const float max = tc_signed_amax(x, n, &amax);
    if (amax < GROUP_MAX_EPS) {
        memset(L, 0, (size_t)n);
        return 0.f;
    }
    float iscale = -nmax / max;
    float sumlx = 0, suml2 = 0;
    for (int i = 0; i < n; ++i) {
        int l = tc_nearest_int(iscale * x[i]);
        l = l < -nmax ? -nmax : l > nmax - 1 ? nmax - 1 : l;
        L[i] = (int8_t)(l + nmax);
        float w = qw[i];
        sumlx = acc_keep(sumlx, w * x[i] * l);
        suml2 = acc_keep(suml2, w * l * l);
    }
    float scale = suml2 ? sumlx / suml2 : 0.0f;
    float best = scale * sumlx;
    for (int is = -9; is <= 9; ++is) {
        if (is == 0)
            continue;
        iscale = -(nmax + 0.1f * is) / max;
        sumlx = suml2 = 0;
        for (int i = 0; i < n; ++i) {
            int l = tc_nearest_int(iscale * x[i]);
            l = l < -nmax ? -nmax : l > nmax - 1 ? nmax - 1 : l;
            float w = qw[i];
            sumlx += w * x[i] * l;
            suml2 += w * l * l;
        }
        if (suml2 > 0 && sumlx * sumlx > best * suml2) {
            for (int i = 0; i < n; ++i) {
                int l = tc_nearest_int(iscale * x[i]);
                l = l < -nmax ? -nmax : l > nmax - 1 ? nmax - 1 : l;
                L[i] = (int8_t)(l + nmax);
            }
            scale = sumlx / suml2;
            best = scale * sumlx;
        }
    }
    return scale;
}

/* Weighted squared error of levels `L` under `scale`/`min` (make_qkx3_quants, use_mad false). */
static float qkx3_error(int n, const float *x, const float *w, const uint8_t *L, float scale,
                        float min)
{
    float err = 0;
    for (int i = 0; i < n; ++i) {
        float diff = scale * L[i] + min - x[i];
        diff = diff * diff;
        err += w[i] * diff;
    }
    return err;
}

/*
 * make_qkx3_quants with explicit weights and ggml's fixed arguments (rmin -0.9, rdelta 0.05,
 * nstep 36, use_mad false): asymmetric levels L in [0, nmax] with a minimum. The search moves
 * `min` as it finds better fits, so later candidates see the updated min (as in ggml); with
 * min next to max, elements below it give huge negative products whose nearest_int is garbage
 * that the clamp turns into 0 or nmax. That is what the oracle's ggml does (newer ggml tests
 * `v > 0` first); it shows in the levels of zero-weight outliers (check_quant_legacy.c, crafted
 * mode 0). Returns the scale; *the_min receives -min.
 */
static float make_qkx3_quants_w(int n, int nmax, const float *x, const float *weights, uint8_t *L,
                                float *the_min, uint8_t *Laux)
{
    const float rmin = -0.9f, rdelta = 0.05f;
    const int nstep = 36;
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
    if (max <= min) {
        memset(L, 0, (size_t)n);
        *the_min = -min;
        return 0.f;
    }
    float iscale = nmax / (max - min);
    float scale = 1 / iscale;
    for (int i = 0; i < n; ++i) {
        int l = tc_nearest_int(iscale * (x[i] - min));
        L[i] = (uint8_t)(l < 0 ? 0 : l > nmax ? nmax : l);
    }
    float best_mad = qkx3_error(n, x, weights, L, scale, min);
    for (int is = 0; is <= nstep; ++is) {
        iscale = (rmin + rdelta * is + nmax) / (max - min);
        float sum_l = 0, sum_l2 = 0, sum_xl = 0;
        for (int i = 0; i < n; ++i) {
            int l = tc_nearest_int(iscale * (x[i] - min));
            l = l < 0 ? 0 : l > nmax ? nmax : l;
            Laux[i] = (uint8_t)l;
            float w = weights[i];
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
            float mad = qkx3_error(n, x, weights, Laux, this_scale, this_min);
            if (mad < best_mad) {
                memcpy(L, Laux, (size_t)n);
                best_mad = mad;
                scale = this_scale;
                min = this_min;
            }
        }
    }
    *the_min = -min;
    return scale;
}

/*
 * ggml's best_index_int8 for a sorted 16-entry grid: the nearest level, the upper one on ties,
 * in the form the oracle's ggml has (a bisection with early exits; NaN gives 15). Newer ggml
 * compares 2x with midpoint sums instead, which differs on NaN (0) and in rare roundings.
 */
static inline int best_index_int8(const int8_t *val, float x)
{
    if (x <= val[0])
        return 0;
    if (x >= val[15])
        return 15;
    int ml = 0, mu = 15;
    while (mu - ml > 1) {
        int mav = (ml + mu) / 2;
        if (x < val[mav])
            mu = mav;
        else
            ml = mav;
    }
    return x - val[mu - 1] < val[mu] - x ? mu - 1 : mu;
}

/* Packs 32 4-bit levels: byte j = L[j] | L[j+16] << 4. */
static inline void pack_nibbles(uint8_t *qs, const uint8_t *L)
{
    for (int j = 0; j < 16; ++j)
        qs[j] = (uint8_t)(L[j] | (L[j + 16] << 4));
}

/* Packs 32 5-bit levels: low nibbles as pack_nibbles, fifth bits into the LE u32 at qh. */
static inline void pack_q5(uint8_t *qh, uint8_t *qs, const uint8_t *L)
{
    uint32_t h = 0;
    for (int j = 0; j < 16; ++j) {
        const uint8_t xi0 = L[j], xi1 = L[j + 16];
        qs[j] = (uint8_t)((xi0 & 0x0F) | ((xi1 & 0x0F) << 4));
        h |= ((xi0 & 0x10u) >> 4) << (j + 0);
        h |= ((xi1 & 0x10u) >> 4) << (j + 16);
    }
    tc_st_u32(qh, h);
}

/* ===== Q4_0 / Q5_0: symmetric, d = max / -2^(bits-1) ===== */

/* Signed value of largest magnitude (first one on ties), as quantize_row_q{4,5}_0_ref finds it. */
static inline float signed_absmax(const float *x, int n)
{
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < n; j++) {
        const float v = x[j];
        if (amax < fabsf(v)) {
            amax = fabsf(v);
            max = v;
        }
    }
    return max;
}

static void q4_0_ref(const float *x, uint8_t *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++, x += 32, y += 18) {
        const float d = signed_absmax(x, 32) / -8;
        const float id = d ? 1.0f / d : 0.0f;
        uint8_t L[32];
        tc_st_u16(y, tc_f32_to_f16(d));
        for (int j = 0; j < 32; ++j) {
            int v = tc_low_i8(tc_cvtt_i32(x[j] * id + 8.5f));
            L[j] = (uint8_t)(v < 15 ? v : 15);
        }
        pack_nibbles(y + 2, L);
    }
}

static void q5_0_ref(const float *x, uint8_t *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++, x += 32, y += 22) {
        const float d = signed_absmax(x, 32) / -16;
        const float id = d ? 1.0f / d : 0.0f;
        uint8_t L[32];
        tc_st_u16(y, tc_f32_to_f16(d));
        for (int j = 0; j < 32; ++j) {
            int v = tc_low_i8(tc_cvtt_i32(x[j] * id + 16.5f));
            L[j] = (uint8_t)(v < 31 ? v : 31);
        }
        pack_q5(y + 2, y + 6, L);
    }
}

/* quantize_row_q{4,5}_0_impl: per-row sigma2, weights qw*sqrt(sigma2 + x^2), make_qx_quants. */
static void qx_0_impl_row(const float *x, uint8_t *y, int64_t n_per_row, const float *qw, int bits)
{
    const int nmax = bits == 4 ? 8 : 16;
    const size_t bs = bits == 4 ? 18 : 22;
    const float sigma2 = sum_sq(x, n_per_row) / n_per_row;
    float weight[32];
    int8_t L[32];
    for (int64_t ib = 0; ib < n_per_row / 32; ++ib, x += 32, qw += 32, y += bs) {
        for (int j = 0; j < 32; ++j)
            weight[j] = imat_weight(qw[j], sigma2, x[j]);
        float d = make_qx_quants_w(32, nmax, x, L, weight);
        tc_st_u16(y, tc_f32_to_f16(d));
        if (bits == 4)
            pack_nibbles(y + 2, (const uint8_t *)L);
        else
            pack_q5(y + 2, y + 6, (const uint8_t *)L);
    }
}

static void tc_q4_0_quant_ref(const float *src, void *dst, int64_t n_rows, int64_t n_per_row,
                              const float *imatrix)
{
    uint8_t *y = dst;
    if (imatrix == NULL) {
        q4_0_ref(src, y, n_rows * n_per_row / 32);
        return;
    }
    for (int64_t r = 0; r < n_rows; r++)
        qx_0_impl_row(src + r * n_per_row, y + r * (n_per_row / 32) * 18, n_per_row, imatrix, 4);
}

static void tc_q5_0_quant_ref(const float *src, void *dst, int64_t n_rows, int64_t n_per_row,
                              const float *imatrix)
{
    uint8_t *y = dst;
    if (imatrix == NULL) {
        q5_0_ref(src, y, n_rows * n_per_row / 32);
        return;
    }
    for (int64_t r = 0; r < n_rows; r++)
        qx_0_impl_row(src + r * n_per_row, y + r * (n_per_row / 32) * 22, n_per_row, imatrix, 5);
}

/* ===== Q4_1 / Q5_1: asymmetric, x = d*q + m ===== */

static inline void block_minmax(const float *x, float *mn, float *mx)
{
    float min = FLT_MAX, max = -FLT_MAX;
    for (int j = 0; j < 32; j++) {
        const float v = x[j];
        if (v < min)
            min = v;
        if (v > max)
            max = v;
    }
    *mn = min;
    *mx = max;
}

static void q4_1_ref(const float *x, uint8_t *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++, x += 32, y += 20) {
        float min, max;
        block_minmax(x, &min, &max);
        const float d = (max - min) / 15;
        const float id = d ? 1.0f / d : 0.0f;
        uint8_t L[32];
        tc_st_u16(y, tc_f32_to_f16(d));
        tc_st_u16(y + 2, tc_f32_to_f16(min));
        for (int j = 0; j < 32; ++j) {
            int v = tc_low_i8(tc_cvtt_i32((x[j] - min) * id + 0.5f));
            L[j] = (uint8_t)(v < 15 ? v : 15);
        }
        pack_nibbles(y + 4, L);
    }
}

static void q5_1_ref(const float *x, uint8_t *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++, x += 32, y += 24) {
        float min, max;
        block_minmax(x, &min, &max);
        const float d = (max - min) / 31;
        const float id = d ? 1.0f / d : 0.0f;
        uint8_t L[32];
        tc_st_u16(y, tc_f32_to_f16(d));
        tc_st_u16(y + 2, tc_f32_to_f16(min));
        for (int j = 0; j < 32; ++j)
            L[j] = (uint8_t)tc_cvtt_i32((x[j] - min) * id + 0.5f); /* no clamp, as ggml */
        pack_q5(y + 4, y + 8, L);
    }
}

/* quantize_row_q{4,5}_1_impl: weights as qx_0_impl_row, make_qkx3_quants, m = fp16(-the_min). */
static void qx_1_impl_row(const float *x, uint8_t *y, int64_t n_per_row, const float *qw, int bits)
{
    const int nmax = bits == 4 ? 15 : 31;
    const size_t bs = bits == 4 ? 20 : 24;
    const float sigma2 = sum_sq(x, n_per_row) / n_per_row;
    float weight[32];
    uint8_t L[32], Laux[32];
    for (int64_t ib = 0; ib < n_per_row / 32; ++ib, x += 32, qw += 32, y += bs) {
        for (int j = 0; j < 32; ++j)
            weight[j] = imat_weight(qw[j], sigma2, x[j]);
        float min;
        float d = make_qkx3_quants_w(32, nmax, x, weight, L, &min, Laux);
        tc_st_u16(y, tc_f32_to_f16(d));
        tc_st_u16(y + 2, tc_f32_to_f16(-min));
        if (bits == 4)
            pack_nibbles(y + 4, L);
        else
            pack_q5(y + 4, y + 8, L);
    }
}

static void tc_q4_1_quant_ref(const float *src, void *dst, int64_t n_rows, int64_t n_per_row,
                              const float *imatrix)
{
    uint8_t *y = dst;
    if (imatrix == NULL) {
        q4_1_ref(src, y, n_rows * n_per_row / 32);
        return;
    }
    for (int64_t r = 0; r < n_rows; r++)
        qx_1_impl_row(src + r * n_per_row, y + r * (n_per_row / 32) * 20, n_per_row, imatrix, 4);
}

static void tc_q5_1_quant_ref(const float *src, void *dst, int64_t n_rows, int64_t n_per_row,
                              const float *imatrix)
{
    uint8_t *y = dst;
    if (imatrix == NULL) {
        q5_1_ref(src, y, n_rows * n_per_row / 32);
        return;
    }
    for (int64_t r = 0; r < n_rows; r++)
        qx_1_impl_row(src + r * n_per_row, y + r * (n_per_row / 32) * 24, n_per_row, imatrix, 5);
}

/* ===== Q8_0 (the imatrix is ignored, as in ggml) ===== */

static void tc_q8_0_quant_ref(const float *x, void *dst, int64_t n_rows, int64_t n_per_row,
                              const float *imatrix)
{
    (void)imatrix;
    uint8_t *y = dst;
    for (int64_t i = 0, nb = n_rows * n_per_row / 32; i < nb; i++, x += 32, y += 34) {
        float amax = 0.0f;
        for (int j = 0; j < 32; j++)
            amax = tc_fmax_ggml(amax, fabsf(x[j]));
        const float d = amax / 127;
        const float id = d ? 1.0f / d : 0.0f;
        tc_st_u16(y, tc_f32_to_f16(d));
        for (int j = 0; j < 32; ++j)
            y[2 + j] = (uint8_t)tc_cvtt_i32(roundf(x[j] * id));
    }
}

/* ===== Q1_0 / Q2_0 (the imatrix is ignored: ggml quantizes each row with the _ref) ===== */

static void tc_q1_0_quant_ref(const float *x, void *dst, int64_t n_rows, int64_t n_per_row,
                              const float *imatrix)
{
    (void)imatrix;
    uint8_t *y = dst;
    for (int64_t i = 0, nb = n_rows * n_per_row / 128; i < nb; i++, x += 128, y += 18) {
        float sum_abs = 0.0f;
        for (int j = 0; j < 128; j++)
            sum_abs += fabsf(x[j]);
        tc_st_u16(y, tc_f32_to_f16(sum_abs / 128));
        for (int b = 0; b < 16; ++b) {
            uint8_t q = 0;
            for (int k = 0; k < 8; ++k)
                if (x[8 * b + k] >= 0.0f)
                    q |= (uint8_t)(1u << k);
            y[2 + b] = q;
        }
    }
}

static void tc_q2_0_quant_ref(const float *x, void *dst, int64_t n_rows, int64_t n_per_row,
                              const float *imatrix)
{
    (void)imatrix;
    uint8_t *y = dst;
    for (int64_t i = 0, nb = n_rows * n_per_row / 64; i < nb; i++, x += 64, y += 18) {
        float amax = 0.0f;
        for (int j = 0; j < 64; j++) {
            const float a = fabsf(x[j]);
            if (a > amax)
                amax = a;
        }
        const float d = amax;
        const float id = d > 0.0f ? 1.0f / d : 0.0f;
        tc_st_u16(y, tc_f32_to_f16(d));
        for (int b = 0; b < 16; ++b) {
            uint8_t q = 0;
            for (int k = 0; k < 4; ++k) {
                int32_t c = tc_cvtt_i32(roundf(x[4 * b + k] * id));
                int v = c < 0 ? 0 : c > 2 ? 3 : c + 1; /* clamp(c + 1, 0, 3), no overflow */
                q |= (uint8_t)(v << (2 * k));
            }
            y[2 + b] = q;
        }
    }
}

/* ===== TQ1_0 / TQ2_0 (ternary; the imatrix is ignored) ===== */

/* Trit of x*id in {0,1,2} the way ggml computes `lroundf(x*id) + 1` into an int. */
static inline int trit(float v)
{
    return (int)(int32_t)(uint32_t)((uint64_t)tc_lroundf(v) + 1u);
}

static inline float block_absmax_ggml(const float *x, int n)
{
    float amax = 0.0f;
    for (int j = 0; j < n; j++)
        amax = tc_fmax_ggml(amax, fabsf(x[j]));
    return amax;
}

static void tc_tq1_0_quant_ref(const float *x, void *dst, int64_t n_rows, int64_t n_per_row,
                               const float *imatrix)
{
    (void)imatrix;
    uint8_t *y = dst;
    for (int64_t i = 0, nb = n_rows * n_per_row / 256; i < nb; i++, y += 54) {
        const float d = block_absmax_ggml(x, 256);
        const float id = d ? 1.0f / d : 0.0f;
        /* qs[0..31]: 5 trits each, elements m + 32n of the first 160 */
        for (int m = 0; m < 32; ++m) {
            uint8_t q = 0;
            for (int n = 0; n < 5; ++n)
                q = (uint8_t)(q * 3 + trit(x[m + n * 32] * id));
            y[m] = (uint8_t)(((uint16_t)q * 256 + 242) / 243);
        }
        x += 160;
        /* qs[32..47]: elements m + 16n of the next 80 */
        for (int m = 0; m < 16; ++m) {
            uint8_t q = 0;
            for (int n = 0; n < 5; ++n)
                q = (uint8_t)(q * 3 + trit(x[m + n * 16] * id));
            y[32 + m] = (uint8_t)(((uint16_t)q * 256 + 242) / 243);
        }
        x += 80;
        /* qh[0..3]: 4 trits each, elements j + 4m of the last 16, shifted up one trit */
        for (int j = 0; j < 4; ++j) {
            uint8_t q = 0;
            for (int m = 0; m < 4; ++m)
                q = (uint8_t)(q * 3 + trit(x[j + m * 4] * id));
            q = (uint8_t)(q * 3);
            y[48 + j] = (uint8_t)(((uint16_t)q * 256 + 242) / 243);
        }
        x += 16;
        tc_st_u16(y + 52, tc_f32_to_f16(d));
    }
}

static void tc_tq2_0_quant_ref(const float *x, void *dst, int64_t n_rows, int64_t n_per_row,
                               const float *imatrix)
{
    (void)imatrix;
    uint8_t *y = dst;
    for (int64_t i = 0, nb = n_rows * n_per_row / 256; i < nb; i++, y += 66) {
        const float d = block_absmax_ggml(x, 256);
        const float id = d ? 1.0f / d : 0.0f;
        for (int j = 0; j < 64; j += 32, x += 128) {
            for (int m = 0; m < 32; ++m) {
                uint8_t q = 0;
                for (int n = 0; n < 4; ++n)
                    q = (uint8_t)(q + ((trit(x[m + n * 32] * id) & 3) << (2 * n)));
                y[j + m] = q;
            }
        }
        tc_st_u16(y + 64, tc_f32_to_f16(d));
    }
}

/* ===== MXFP4 / NVFP4 (the imatrix is ignored) ===== */

/* The 16 doubled-E2M1 values times the block scale e (the products ggml's search forms). */
static inline void fp4_levels(float lv[16], float e)
{
    for (int i = 0; i < 16; i++)
        lv[i] = tc_kvalues_mxfp4[i] * e;
}

/* Nearest level to x; the first one wins ties (best_index_mxfp4). */
static inline uint8_t best_index_fp4(const float lv[16], float x)
{
    int best = 0;
    float best_err = fabsf(lv[0] - x);
    for (int i = 1; i < 16; i++) { /* branch-free: the compiler can keep it in registers */
        const float err = fabsf(lv[i] - x);
        const int better = err < best_err;
        best = better ? i : best;
        best_err = better ? err : best_err;
    }
    return (uint8_t)best;
}

/* ggml_e8m0_to_fp32_half: 2^(e-128). */
static inline float e8m0_half(uint8_t e)
{
    return tc_bits_f32(e < 2 ? 0x00200000u << e : (uint32_t)(e - 1) << 23);
}

/* ggml_ue4m3_to_fp32: half the UE4M3 value (0 for 0x00 and the NaN code 0x7F; exact). */
static inline float ue4m3_half(uint8_t x)
{
    if (x == 0 || x == 0x7F)
        return 0.0f;
    int e = (x >> 3) & 0xF, m = x & 0x7;
    float raw = e == 0 ? ldexpf((float)m, -9) : ldexpf(1.0f + (float)m / 8.0f, e - 7);
    return raw * 0.5f;
}

/* ggml_fp32_to_ue4m3: saturating at 448, mantissa rounded half up on the dropped bit. */
static inline uint8_t f32_to_ue4m3(float x)
{
    if (!(x > 0.0f))
        return 0;
    if (x > 448.0f)
        x = 448.0f;
    uint32_t bits = tc_f32_bits(x);
    int e = (int)((bits >> 23) & 0xFF) - 127 + 7;
    int m = (int)((bits >> 20) & 0x7);
    if (e <= 0) {
        int man = (int)(x * 512.0f + 0.5f);
        if (man > 7)
            man = 7;
        return man < 1 ? 0 : (uint8_t)man;
    }
    if (e >= 15)
        return 0x7E;
    m += (int)((bits >> 19) & 1);
    if (m > 7) {
        m = 0;
        if (++e >= 15)
            return 0x7E;
    }
    return (uint8_t)((e << 3) | m);
}

static void tc_mxfp4_quant_ref(const float *x, void *dst, int64_t n_rows, int64_t n_per_row,
                               const float *imatrix)
{
    (void)imatrix;
    uint8_t *y = dst;
    for (int64_t i = 0, nb = n_rows * n_per_row / 32; i < nb; i++, x += 32, y += 17) {
        float amax = 0.0f;
        for (int j = 0; j < 32; j++)
            if (amax < fabsf(x[j]))
                amax = fabsf(x[j]);
        const uint8_t e = amax > 0.0f ? (uint8_t)tc_cvtt_i32(floorf(log2f(amax)) - 2 + 127) : 0;
        float lv[16];
        fp4_levels(lv, e8m0_half(e));
        y[0] = e;
        for (int j = 0; j < 16; ++j)
            y[1 + j] = (uint8_t)(best_index_fp4(lv, x[j]) | (best_index_fp4(lv, x[j + 16]) << 4));
    }
}

static void tc_nvfp4_quant_ref(const float *x, void *dst, int64_t n_rows, int64_t n_per_row,
                               const float *imatrix)
{
    (void)imatrix;
    uint8_t *y = dst;
    for (int64_t i = 0, nb = n_rows * n_per_row / 64; i < nb; i++, y += 36) {
        for (int s = 0; s < 4; s++, x += 16) {
            float amax = 0.0f;
            for (int j = 0; j < 16; j++)
                if (amax < fabsf(x[j]))
                    amax = fabsf(x[j]);
            const uint8_t ue = f32_to_ue4m3(amax / 6.0f);
            float lv[16];
            fp4_levels(lv, ue4m3_half(ue));
            y[s] = ue;
            for (int j = 0; j < 8; ++j)
                y[4 + 8 * s + j] =
                    (uint8_t)(best_index_fp4(lv, x[j]) | (best_index_fp4(lv, x[j + 8]) << 4));
        }
    }
}

/* ===== IQ4_NL / IQ4_XS (quantize_row_iq4_nl_impl with ntry = 7) ===== */

/*
 * One super-block of `nsub` 32-element sub-blocks (1 for IQ4_NL, 8 for IQ4_XS) at `x`, with
 * importance weights `qw` (or NULL: weights x^2). Writes the fp16 super-block scale to dh, the
 * 6-bit sub-block scales (IQ4_XS only) to scales_h/scales_l and the packed indices to q4.
 */
static void iq4_nl_impl(int nsub, const float *x, uint8_t *dh, uint8_t *q4, uint8_t *scales_h,
                        uint8_t *scales_l, const float *qw)
{
    const int ntry = 7;
    const int8_t *values = tc_kvalues_iq4nl;
    const int sbs = 32 * nsub;
    float scales[8], weight[32];
    uint8_t L[256];

    float sigma2 = sum_sq(x, sbs);
    sigma2 *= 2.f / sbs;

    float max_scale = 0, amax_scale = 0;
    for (int ib = 0; ib < nsub; ++ib) {
        const float *xb = x + ib * 32;
        uint8_t *Lb = L + ib * 32;
        if (qw) {
            for (int j = 0; j < 32; ++j)
                weight[j] = imat_weight(qw[ib * 32 + j], sigma2, xb[j]);
        } else {
            for (int j = 0; j < 32; ++j)
                weight[j] = xb[j] * xb[j];
        }
        float amax = 0, max = 0;
        for (int j = 0; j < 32; ++j) {
            float ax = fabsf(xb[j]);
            if (ax > amax) {
                amax = ax;
                max = xb[j];
            }
        }
        if (amax < GROUP_MAX_EPS) {
            scales[ib] = 0;
            memset(Lb, 0, 32);
            continue;
        }
        float d = -max / values[0];
        float id = 1 / d;
        float sumqx = 0, sumq2 = 0;
        for (int j = 0; j < 32; ++j) {
            int l = best_index_int8(values, id * xb[j]);
            Lb[j] = (uint8_t)l;
            float q = values[l];
            float w = weight[j];
            sumqx += w * q * xb[j];
            sumq2 += w * q * q;
        }
        d = sumq2 > 0 ? sumqx / sumq2 : 0.f;
        float best = d * sumqx;
        for (int itry = -ntry; itry <= ntry; ++itry) {
            id = (itry + values[0]) / max;
            sumqx = sumq2 = 0;
            for (int j = 0; j < 32; ++j) {
                int l = best_index_int8(values, id * xb[j]);
                float q = values[l];
                float w = weight[j];
                sumqx += w * q * xb[j];
                sumq2 += w * q * q;
            }
            if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
                d = sumqx / sumq2;
                best = d * sumqx;
            }
        }
        scales[ib] = d;
        float abs_d = fabsf(d);
        if (abs_d > amax_scale) {
            amax_scale = abs_d;
            max_scale = d;
        }
    }

    if (nsub > 1) {
        uint16_t sh = 0;
        float d = -max_scale / 32;
        tc_st_u16(dh, tc_f32_to_f16(d));
        float id = d ? 1 / d : 0.f;
        for (int ib = 0; ib < nsub; ++ib) {
            int l = tc_nearest_int(id * scales[ib]);
            l = l < -32 ? -32 : l > 31 ? 31 : l;
            float dl = d * l;
            float idl = dl ? 1 / dl : 0.f;
            uint8_t *Lb = L + ib * 32;
            const float *xb = x + ib * 32;
            for (int j = 0; j < 32; ++j)
                Lb[j] = (uint8_t)best_index_int8(values, idl * xb[j]);
            l += 32;
            uint8_t l_l = (uint8_t)(l & 0xf), l_h = (uint8_t)(l >> 4);
            if (ib % 2 == 0)
                scales_l[ib / 2] = l_l;
            else
                scales_l[ib / 2] |= (uint8_t)(l_l << 4);
            sh |= (uint16_t)(l_h << 2 * (ib % 8));
        }
        tc_st_u16(scales_h, sh);
    } else {
        tc_st_u16(dh, tc_f32_to_f16(scales[0]));
        float id = scales[0] ? 1 / scales[0] : 0;
        for (int j = 0; j < sbs; ++j)
            L[j] = (uint8_t)best_index_int8(values, id * x[j]);
    }

    for (int i = 0; i < nsub; ++i)
        pack_nibbles(q4 + 16 * i, L + 32 * i);
}

static void tc_iq4_nl_quant_ref(const float *src, void *dst, int64_t n_rows, int64_t n_per_row,
                                const float *imatrix)
{
    uint8_t *y = dst;
    const int64_t nb = n_per_row / 32;
    for (int64_t r = 0; r < n_rows; r++)
        for (int64_t ib = 0; ib < nb; ib++, src += 32, y += 18)
            iq4_nl_impl(1, src, y, y + 2, NULL, NULL, imatrix ? imatrix + 32 * ib : NULL);
}

static void tc_iq4_xs_quant_ref(const float *src, void *dst, int64_t n_rows, int64_t n_per_row,
                                const float *imatrix)
{
    uint8_t *y = dst;
    const int64_t nb = n_per_row / 256;
    for (int64_t r = 0; r < n_rows; r++)
        for (int64_t ib = 0; ib < nb; ib++, src += 256, y += 136)
            iq4_nl_impl(8, src, y, y + 8, y + 2, y + 4, imatrix ? imatrix + 256 * ib : NULL);
}

/* ===== Dequantization (dequantize_row_<type>) ===== */

static void tc_q4_0_dequant_ref(const void *src, float *y, int64_t n)
{
    const uint8_t *x = src;
    for (int64_t i = 0; i < n / 32; i++, x += 18, y += 32) {
        const float d = tc_ggml_h2f(tc_ld_u16(x));
        for (int j = 0; j < 16; ++j) {
            y[j] = ((x[2 + j] & 0x0F) - 8) * d;
            y[j + 16] = ((x[2 + j] >> 4) - 8) * d;
        }
    }
}

static void tc_q4_1_dequant_ref(const void *src, float *y, int64_t n)
{
    const uint8_t *x = src;
    for (int64_t i = 0; i < n / 32; i++, x += 20, y += 32) {
        const float d = tc_ggml_h2f(tc_ld_u16(x)), m = tc_ggml_h2f(tc_ld_u16(x + 2));
        for (int j = 0; j < 16; ++j) {
            y[j] = (x[4 + j] & 0x0F) * d + m;
            y[j + 16] = (x[4 + j] >> 4) * d + m;
        }
    }
}

static void tc_q5_0_dequant_ref(const void *src, float *y, int64_t n)
{
    const uint8_t *x = src;
    for (int64_t i = 0; i < n / 32; i++, x += 22, y += 32) {
        const float d = tc_ggml_h2f(tc_ld_u16(x));
        const uint32_t qh = tc_ld_u32(x + 2);
        for (int j = 0; j < 16; ++j) {
            const int h0 = (int)((qh >> j) << 4 & 0x10), h1 = (int)((qh >> (j + 12)) & 0x10);
            y[j] = (((x[6 + j] & 0x0F) | h0) - 16) * d;
            y[j + 16] = (((x[6 + j] >> 4) | h1) - 16) * d;
        }
    }
}

static void tc_q5_1_dequant_ref(const void *src, float *y, int64_t n)
{
    const uint8_t *x = src;
    for (int64_t i = 0; i < n / 32; i++, x += 24, y += 32) {
        const float d = tc_ggml_h2f(tc_ld_u16(x)), m = tc_ggml_h2f(tc_ld_u16(x + 2));
        const uint32_t qh = tc_ld_u32(x + 4);
        for (int j = 0; j < 16; ++j) {
            const int h0 = (int)((qh >> j) << 4 & 0x10), h1 = (int)((qh >> (j + 12)) & 0x10);
            y[j] = ((x[8 + j] & 0x0F) | h0) * d + m;
            y[j + 16] = ((x[8 + j] >> 4) | h1) * d + m;
        }
    }
}

static void tc_q8_0_dequant_ref(const void *src, float *y, int64_t n)
{
    const uint8_t *x = src;
    for (int64_t i = 0; i < n / 32; i++, x += 34, y += 32) {
        const float d = tc_ggml_h2f(tc_ld_u16(x));
        const int8_t *qs = (const int8_t *)(x + 2); /* character types may alias */
        for (int j = 0; j < 32; ++j)
            y[j] = qs[j] * d;
    }
}

static void tc_q1_0_dequant_ref(const void *src, float *y, int64_t n)
{
    const uint8_t *x = src;
    for (int64_t i = 0; i < n / 128; i++, x += 18, y += 128) {
        const float d = tc_ggml_h2f(tc_ld_u16(x)), neg_d = -d;
        for (int j = 0; j < 128; ++j)
            y[j] = (x[2 + j / 8] >> (j % 8)) & 1 ? d : neg_d;
    }
}

static void tc_q2_0_dequant_ref(const void *src, float *y, int64_t n)
{
    const uint8_t *x = src;
    for (int64_t i = 0; i < n / 64; i++, x += 18, y += 64) {
        const float d = tc_ggml_h2f(tc_ld_u16(x));
        for (int j = 0; j < 64; ++j)
            y[j] = (((x[2 + j / 4] >> (2 * (j % 4))) & 3) - 1) * d;
    }
}

static void tc_tq1_0_dequant_ref(const void *src, float *y, int64_t n)
{
    static const uint8_t pow3[5] = {1, 3, 9, 27, 81};
    const uint8_t *x = src;
    for (int64_t i = 0; i < n / 256; i++, x += 54) {
        const float d = tc_ggml_h2f(tc_ld_u16(x + 52));
        for (int n5 = 0; n5 < 5; ++n5)
            for (int m = 0; m < 32; ++m) {
                uint8_t q = (uint8_t)(x[m] * pow3[n5]);
                *y++ = (float)((((uint16_t)q * 3) >> 8) - 1) * d;
            }
        for (int n5 = 0; n5 < 5; ++n5)
            for (int m = 0; m < 16; ++m) {
                uint8_t q = (uint8_t)(x[32 + m] * pow3[n5]);
                *y++ = (float)((((uint16_t)q * 3) >> 8) - 1) * d;
            }
        for (int n4 = 0; n4 < 4; ++n4)
            for (int j = 0; j < 4; ++j) {
                uint8_t q = (uint8_t)(x[48 + j] * pow3[n4]);
                *y++ = (float)((((uint16_t)q * 3) >> 8) - 1) * d;
            }
    }
}

static void tc_tq2_0_dequant_ref(const void *src, float *y, int64_t n)
{
    const uint8_t *x = src;
    for (int64_t i = 0; i < n / 256; i++, x += 66) {
        const float d = tc_ggml_h2f(tc_ld_u16(x + 64));
        for (int j = 0; j < 64; j += 32)
            for (int l = 0; l < 4; ++l)
                for (int m = 0; m < 32; ++m)
                    *y++ = (float)(((x[j + m] >> (l * 2)) & 3) - 1) * d;
    }
}

static void tc_mxfp4_dequant_ref(const void *src, float *y, int64_t n)
{
    const uint8_t *x = src;
    for (int64_t i = 0; i < n / 32; i++, x += 17, y += 32) {
        const float d = e8m0_half(x[0]);
        for (int j = 0; j < 16; ++j) {
            y[j] = tc_kvalues_mxfp4[x[1 + j] & 0x0F] * d;
            y[j + 16] = tc_kvalues_mxfp4[x[1 + j] >> 4] * d;
        }
    }
}

static void tc_nvfp4_dequant_ref(const void *src, float *y, int64_t n)
{
    const uint8_t *x = src;
    for (int64_t i = 0; i < n / 64; i++, x += 36) {
        for (int s = 0; s < 4; s++, y += 16) {
            const float d = ue4m3_half(x[s]);
            const uint8_t *qs = x + 4 + 8 * s;
            for (int j = 0; j < 8; ++j) {
                y[j] = tc_kvalues_mxfp4[qs[j] & 0x0F] * d;
                y[j + 8] = tc_kvalues_mxfp4[qs[j] >> 4] * d;
            }
        }
    }
}

static void tc_iq4_nl_dequant_ref(const void *src, float *y, int64_t n)
{
    const uint8_t *x = src;
    for (int64_t i = 0; i < n / 32; i++, x += 18, y += 32) {
        const float d = tc_ggml_h2f(tc_ld_u16(x));
        for (int j = 0; j < 16; ++j) {
            y[j] = d * tc_kvalues_iq4nl[x[2 + j] & 0xf];
            y[j + 16] = d * tc_kvalues_iq4nl[x[2 + j] >> 4];
        }
    }
}

static void tc_iq4_xs_dequant_ref(const void *src, float *y, int64_t n)
{
    const uint8_t *x = src;
    for (int64_t i = 0; i < n / 256; i++, x += 136) {
        const float d = tc_ggml_h2f(tc_ld_u16(x));
        const uint16_t sh = tc_ld_u16(x + 2);
        const uint8_t *qs = x + 8;
        for (int ib = 0; ib < 8; ++ib, qs += 16, y += 32) {
            const int ls = ((x[4 + ib / 2] >> 4 * (ib % 2)) & 0xf) | (((sh >> 2 * ib) & 3) << 4);
            const float dl = d * (ls - 32);
            for (int j = 0; j < 16; ++j) {
                y[j] = dl * tc_kvalues_iq4nl[qs[j] & 0xf];
                y[j + 16] = dl * tc_kvalues_iq4nl[qs[j] >> 4];
            }
        }
    }
}

/* ===== Registration ===== */

void tc_ref_register_legacy(tc_kernel_table *k)
{
#define REG(T, name)                                                                               \
    do {                                                                                           \
        k->quantize[TC_DTYPE_##T] = tc_##name##_quant_ref;                                         \
        k->dequantize[TC_DTYPE_##T] = tc_##name##_dequant_ref;                                     \
    } while (0)
    REG(Q4_0, q4_0);
    REG(Q4_1, q4_1);
    REG(Q5_0, q5_0);
    REG(Q5_1, q5_1);
    REG(Q8_0, q8_0);
    REG(Q1_0, q1_0);
    REG(Q2_0, q2_0);
    REG(TQ1_0, tq1_0);
    REG(TQ2_0, tq2_0);
    REG(MXFP4, mxfp4);
    REG(NVFP4, nvfp4);
    REG(IQ4_NL, iq4_nl);
    REG(IQ4_XS, iq4_xs);
#undef REG
}
