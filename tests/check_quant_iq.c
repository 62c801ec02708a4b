/*
 * check_quant_iq.c - dequantizers of ggml's grid types (IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS, IQ3_S,
 * IQ1_S, IQ1_M) against llama.cpp's libggml-base.so: every ISA this CPU runs must give the same
 * float bits as ggml's dequantize_row_<type>, on random blocks (random indices, signs, scales;
 * d finite, zero, subnormal, Inf, NaN) and on rows ggml itself quantized. Plus oracle-free checks
 * of the tables and of blocks decoded by hand from the format description.
 */
#include "avx2_iq.h"
#include "fp16.h"
#include "iq_tables.h"
#include "kernels.h"
#include "oracle.h"
#include "quant.h"
#include "quant_types.h"
#include "tc_test.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define iq_types tc_iq_types /* the types this file covers (quant_types.h) */
#define N_IQ     TC_N_IQ_TYPES

static int quick(void)
{
    const char *q = getenv("TC_TEST_QUICK");
    return q && *q && *q != '0';
}

/* First index where the float bits differ (NaN compared by bits), or -1. */
static int64_t first_diff(const float *a, const float *b, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        uint32_t x = tc_f32_bits(a[i]), y = tc_f32_bits(b[i]);
        if (x != y)
            return i;
    }
    return -1;
}

/* A d value for block `i`: mostly ordinary finite halves, and the special ones in turn. */
static uint16_t pick_d(uint64_t *s, int64_t i)
{
    static const uint16_t special[] = {
        0x0000, 0x8000, /* ±0 */
        0x0001, 0x83ff, /* subnormals */
        0x7bff, 0xfbff, /* ±max */
        0x7c00, 0xfc00, /* ±Inf */
        0x7e00, 0xfe00, /* quiet NaN */
        0x7d01, 0xfc01, /* signalling NaN payloads */
        0x0400,         /* smallest normal */
    };
    const int ns = (int)(sizeof special / sizeof special[0]);
    if (i % 4 == 3)
        return special[(i / 4) % ns];
    uint16_t h = (uint16_t)tc_rng_next(s);
    /* keep finite: exponent 0..30 */
    if (((h >> 10) & 0x1f) == 0x1f)
        h ^= 0x4000;
    return h;
}

/* Random block bytes of type t with the fp16 block scale set to `d`. */
static void random_block(int t, uint8_t *b, size_t size, uint64_t *s, uint16_t d)
{
    for (size_t k = 0; k < size; k++)
        b[k] = (uint8_t)tc_rng_next(s);
    if (t == TC_DTYPE_IQ1_M) {
        /* IQ1_M: no d field; nibble k of the fp16 sits in the top nibble of scale word k */
        for (int k = 0; k < 4; k++) {
            uint8_t *w = b + 48 + 2 * k;
            w[1] = (uint8_t)((w[1] & 0x0f) | (((d >> (4 * k)) & 0xf) << 4));
        }
    } else {
        b[0] = (uint8_t)d;
        b[1] = (uint8_t)(d >> 8);
    }
}

/* The AVX2 IQ kernels on their own (avx2_iq.c), so they are checked whether or not dispatch
 * already wires them into the AVX2 table; NULL when this CPU cannot run them. */
static const tc_kernel_table *avx2_iq_table(void)
{
    static tc_kernel_table k;
    static int done;
    if (!tc_isa_supported(TC_ISA_AVX2))
        return NULL;
    if (!done) {
        tc_avx2_register_iq(&k);
        done = 1;
    }
    return &k;
}

/* Dequantize with every ISA this CPU supports and compare with `want`. */
static void check_all_isas(int t, const void *src, const float *want, int64_t n, float *got,
                           const char *what)
{
    for (int isa = 0; isa < TC_ISA_COUNT; isa++) {
        if (!tc_isa_supported((tc_isa)isa))
            continue;
        memset(got, 0xa5, (size_t)n * sizeof(float));
        ck_assert_msg(tc_to_f32_isa((tc_isa)isa, t, src, got, n) == 0, "%s: %s has no kernel",
                      tc_dtype_get(t)->name, tc_isa_name((tc_isa)isa));
        int64_t k = first_diff(got, want, n);
        ck_assert_msg(k < 0, "%s %s (%s): element %lld (block %lld) is %08x, ggml gives %08x",
                      tc_dtype_get(t)->name, tc_isa_name((tc_isa)isa), what, (long long)k,
                      (long long)(k / 256), k >= 0 ? tc_f32_bits(got[k]) : 0,
                      k >= 0 ? tc_f32_bits(want[k]) : 0);
    }
    const tc_kernel_table *kt = avx2_iq_table();
    if (kt != NULL && kt->dequantize[t] != NULL) {
        memset(got, 0xa5, (size_t)n * sizeof(float));
        kt->dequantize[t](src, got, n);
        int64_t k = first_diff(got, want, n);
        ck_assert_msg(k < 0, "%s avx2_iq.c (%s): element %lld is %08x, ggml gives %08x",
                      tc_dtype_get(t)->name, what, (long long)k, k >= 0 ? tc_f32_bits(got[k]) : 0,
                      k >= 0 ? tc_f32_bits(want[k]) : 0);
    }
}

/* ===== Random blocks vs ggml ===== */

START_TEST(random_blocks_match_ggml)
{
    const int t = iq_types[_i];
    const tc_dtype_info *info = tc_dtype_get(t);
    tc_ggml_dequantize_fn ref = tc_oracle_dequantize(info->name);
    if (ref == NULL)
        TC_SKIP("%s/llama/libggml-base.so (dequantize_row_%s) not found; run "
                "scripts/oracle/get_oracle.sh",
                TC_ORACLE_DIR, info->name);
    const int64_t nb = quick() ? 256 : 2048;
    const int seeds = quick() ? 2 : 6;
    uint8_t *q = malloc((size_t)nb * info->size);
    float *want = malloc((size_t)nb * 256 * sizeof(float));
    float *got = malloc((size_t)nb * 256 * sizeof(float));
    ck_assert(q && want && got);
    for (int seed = 0; seed < seeds; seed++) {
        uint64_t s = 0x1234567ull + (uint64_t)seed * 7919 + (uint64_t)t;
        for (int64_t i = 0; i < nb; i++)
            random_block(t, q + i * info->size, info->size, &s, pick_d(&s, i));
        ref(q, want, nb * 256);
        check_all_isas(t, q, want, nb * 256, got, "random blocks");
        /* odd lengths: a single block and a few, to catch SIMD tails and block strides */
        for (int64_t m = 1; m <= 5; m += 2) {
            ref(q + info->size, want, m * 256);
            check_all_isas(t, q + info->size, want, m * 256, got, "short row");
        }
    }
    free(q);
    free(want);
    free(got);
}
END_TEST

/* ===== Rows ggml quantized (real-looking data) vs ggml ===== */

START_TEST(ggml_quantized_rows_match_ggml)
{
    const int t = iq_types[_i];
    const tc_dtype_info *info = tc_dtype_get(t);
    tc_ggml_dequantize_fn ref = tc_oracle_dequantize(info->name);
    tc_ggml_quantize_chunk_fn quant = ref ? tc_oracle_quantize(t) : NULL;
    if (ref == NULL || quant == NULL)
        TC_SKIP("%s/llama/libggml-base.so (ggml_quantize_chunk, dequantize_row_%s) not found; "
                "run scripts/oracle/get_oracle.sh",
                TC_ORACLE_DIR, info->name);
    const int64_t n_per_row = 1024, n_rows = quick() ? 2 : 8, n = n_rows * n_per_row;
    float *x = malloc((size_t)n * sizeof(float));
    float *imat = malloc((size_t)n_per_row * sizeof(float));
    float *want = malloc((size_t)n * sizeof(float));
    float *got = malloc((size_t)n * sizeof(float));
    uint8_t *q = malloc((size_t)tc_row_size(t, n) + 1);
    ck_assert(x && imat && want && got && q);
    static const int kinds[] = {0, 1, 2, 5, 11};
    for (int ki = 0; ki < (int)(sizeof kinds / sizeof kinds[0]); ki++) {
        tc_corpus_fill(x, n, kinds[ki], 77 + (uint64_t)t);
        tc_corpus_imatrix(imat, n_per_row, 5 + (uint64_t)ki, ki & 1);
        size_t bytes = quant(t, x, q, 0, n_rows, n_per_row, imat);
        ck_assert_uint_eq(bytes, tc_row_size(t, n_per_row) * (uint64_t)n_rows);
        ref(q, want, n);
        check_all_isas(t, q, want, n, got, "ggml-quantized rows");
        if (kinds[ki] == 5)
            continue; /* outliers: clipped by design, no error bound */
        /* sanity on the data itself: a ~2-bit code of gaussian rows keeps the shape */
        double num = 0, den = 0;
        for (int64_t i = 0; i < n; i++) {
            num += ((double)got[i] - x[i]) * ((double)got[i] - x[i]);
            den += (double)x[i] * x[i];
        }
        ck_assert_msg(num < 0.5 * den, "%s kind %d: relative error %g", info->name, kinds[ki],
                      sqrt(num / den));
    }
    free(x);
    free(imat);
    free(want);
    free(got);
    free(q);
}
END_TEST

/* ===== Quantizing vs ggml_quantize_chunk ===== */

/* One row of n values quantized by ggml (`quant`) and by every ISA table here: same bytes. */
static void one_row_all_isas(tc_ggml_quantize_chunk_fn quant, int t, const float *src,
                             const float *imat, int64_t n, uint8_t *want, uint8_t *got,
                             const char *what)
{
    size_t nbytes = tc_row_size(t, n);
    memset(want, 0, nbytes);
    ck_assert_uint_eq(quant(t, src, want, 0, 1, n, imat), nbytes);
    for (int isa = 0; isa < TC_ISA_COUNT; isa++) {
        if (!tc_isa_supported((tc_isa)isa) || tc_kernels(isa) == NULL)
            continue;
        char label[160];
        snprintf(label, sizeof label, "%s [%s]", what, tc_isa_name((tc_isa)isa));
        memset(got, 0xa5, nbytes);
        ck_assert_uint_eq(tc_quantize_rows_isa((tc_isa)isa, t, src, got, 1, n, imat), nbytes);
        tc_expect_same_quant(want, got, 1, n, t, label);
    }
}

/*
 * Every grid type has its own AVX2 and AVX-512 quantizer, registered: the comparisons above skip
 * an ISA whose table holds the scalar kernel (the bytes would be identical anyway), so a lost
 * registration would pass them silently and only show in the benchmarks.
 */
START_TEST(simd_kernels_registered)
{
    const int t = iq_types[_i];
    const tc_kernel_table *scalar = tc_kernels(TC_ISA_SCALAR);
    const tc_kernel_table *avx2 = tc_kernels(TC_ISA_AVX2);
    const tc_kernel_table *avx512 = tc_kernels(TC_ISA_AVX512);
    int checked = 0;
    if (tc_isa_supported(TC_ISA_AVX2) && avx2 != NULL) {
        ck_assert_msg(avx2->quantize[t] != NULL && avx2->quantize[t] != scalar->quantize[t],
                      "%s: no AVX2 quantizer registered", tc_dtype_get(t)->name);
        checked++;
    }
    if (tc_isa_supported(TC_ISA_AVX512) && avx512 != NULL) {
        ck_assert_msg(avx512->quantize[t] != NULL && avx512->quantize[t] != scalar->quantize[t] &&
                          (avx2 == NULL || avx512->quantize[t] != avx2->quantize[t]),
                      "%s: no AVX-512 quantizer registered", tc_dtype_get(t)->name);
        checked++;
    }
    if (checked == 0)
        TC_SKIP("this CPU runs neither AVX2 nor AVX-512");
}
END_TEST

/*
 * Every corpus kind, several row lengths and seeds, with an importance matrix, one with zeros,
 * and none where ggml allows none: our bytes (every ISA with its own kernel) against ggml's.
 * A type we cannot quantize yet must say so (tc_quantize_rows returns 0) instead of writing
 * anything; that is checked too, so the test fails the day a kernel is registered untested.
 */
START_TEST(quantize_matches_ggml)
{
    const int t = iq_types[_i];
    const int64_t max_n = 4096;
    float *src = malloc(sizeof(float) * (size_t)max_n);
    float *imat = malloc(sizeof(float) * (size_t)max_n);
    uint8_t *want = malloc(tc_row_size(t, max_n));
    uint8_t *got = malloc(tc_row_size(t, max_n));
    ck_assert(src && imat && want && got);
    if (!tc_can_quantize(t)) {
        tc_corpus_fill(src, 256, 0, 1);
        tc_corpus_imatrix(imat, 256, 1, 0);
        ck_assert_uint_eq(tc_quantize_rows(t, src, got, 1, 256, imat), 0);
        goto out;
    }
    tc_ggml_quantize_chunk_fn quant = tc_oracle_quantize(t);
    if (quant == NULL)
        TC_SKIP("%s/llama/libggml-base.so (ggml_quantize_chunk) not found; run "
                "scripts/oracle/get_oracle.sh",
                TC_ORACLE_DIR);
    static const int64_t lens[] = {256, 512, 2048};
    const int n_lens = quick() ? 2 : (int)(sizeof lens / sizeof lens[0]);
    const int n_seeds = quick() ? 1 : 2;
    const int64_t budget = quick() ? 1024 : 4096; /* elements per case */
    int cases = 0;
    for (int kind = 0; kind < TC_CORPUS_KINDS; kind++)
        for (int li = 0; li < n_lens; li++)
            for (int seed = 1; seed <= n_seeds; seed++)
                for (int mode = 0; mode < 3; mode++) {
                    if (mode == 0 && tc_requires_imatrix(t))
                        continue; /* ggml asserts; we refuse (checked below) */
                    int64_t n_per_row = lens[li];
                    int64_t n_rows = budget / n_per_row > 0 ? budget / n_per_row : 1;
                    tc_corpus_fill(src, n_rows * n_per_row, kind,
                                   (uint64_t)(seed * 1000 + li * 10 + mode + 100 * t));
                    if (mode > 0)
                        tc_corpus_imatrix(imat, n_per_row, (uint64_t)(seed + 77 * li), mode == 2);
                    const float *w = mode ? imat : NULL;
                    size_t nbytes = tc_row_size(t, n_per_row) * (size_t)n_rows;
                    memset(want, 0, nbytes);
                    ck_assert_uint_eq(quant(t, src, want, 0, n_rows, n_per_row, w), nbytes);
                    for (int isa = 0; isa < TC_ISA_COUNT; isa++) {
                        const tc_kernel_table *k = tc_kernels(isa);
                        if (!tc_isa_supported((tc_isa)isa) || k == NULL ||
                            (isa > 0 && k->quantize[t] == tc_kernels(0)->quantize[t]))
                            continue;
                        char what[128];
                        snprintf(what, sizeof what, "kind %d seed %d imatrix %s [%s]", kind, seed,
                                 mode == 0   ? "none"
                                 : mode == 1 ? "yes"
                                             : "with zeros",
                                 tc_isa_name((tc_isa)isa));
                        memset(got, 0xa5, nbytes);
                        ck_assert_uint_eq(
                            tc_quantize_rows_isa((tc_isa)isa, t, src, got, n_rows, n_per_row, w),
                            nbytes);
                        tc_expect_same_quant(want, got, n_rows, n_per_row, t, what);
                    }
                    cases++;
                }
    ck_assert_int_gt(cases, 0);
    /* Crafted: in each group of 8 one tiny negative value carries nearly all the importance,
     * so the best scale comes out negative (ggml's "should never happen" branch, which flips
     * the stored signs); which position holds it, and the scales, vary. */
    for (int it = 0; it < (quick() ? 8 : 64); it++) {
        uint64_t s = 1000 + (uint64_t)it;
        const int64_t n = 1024;
        for (int64_t i = 0; i < n; i++) {
            float jit = 0.5f + tc_rng_uniform(&s);
            if (i % 8 == it % 8) {
                src[i] = -0.001f * jit * (float)(it % 3 + 1);
                imat[i] = 0.1f * jit;
            } else {
                src[i] = jit * (tc_rng_uniform(&s) < 0.1f ? 0.3f : 1.0f);
                imat[i] = 1e-6f * (0.5f + tc_rng_uniform(&s)) * (it % 5 == 0 ? 1000.0f : 1.0f);
            }
            if (tc_rng_uniform(&s) < 0.02f)
                src[i] = -src[i];
        }
        char what[96];
        snprintf(what, sizeof what, "crafted negative-scale row %d", it);
        one_row_all_isas(quant, t, src, imat, n, want, got, what);
    }
    /* Crafted: zeroed sub-blocks of 32 and of 16 and zeroed groups of 4 among ordinary values
     * (pruned weights): IQ3_S skips an all-zero sub-block before moving its index pointers on,
     * so the later sub-blocks' bytes land early, exactly as ggml's do. */
    for (int zk = 0; zk < 3; zk++)
        for (int mode = 0; mode < 2; mode++) {
            const int64_t n = 1024, span = zk == 0 ? 32 : zk == 1 ? 16 : 4;
            tc_corpus_fill(src, n, 0, 77 + (uint64_t)(zk * 2 + mode));
            for (int64_t i = 0; i < n; i++)
                if ((i / span) % 3 == 1)
                    src[i] = 0.0f;
            tc_corpus_imatrix(imat, n, 9 + (uint64_t)zk, mode);
            char what[96];
            snprintf(what, sizeof what, "zeroed runs of %d, imatrix %s", (int)span,
                     mode ? "with zeros" : "yes");
            one_row_all_isas(quant, t, src, imat, n, want, got, what);
        }
    /* Crafted for IQ1's split searches, which start above -FLT_MAX and pre-filter on sums in
     * another order, exact by bounds on the roundings (iq1q_lanes.h) that hold only in safe
     * ranges: importance scales from 1e-8 to 1e7, weights from u^8 (a wide range), zeros,
     * constant and partly negative; values as gaussians at scales 1e-6..1e5, ties on a grid,
     * small integers, +-1, one sign, |x| near the safe range's edge 2^10, cubes, zeros. */
    if (t == TC_DTYPE_IQ1_S || t == TC_DTYPE_IQ1_M)
        for (int it = 0; it < (quick() ? 20 : 100); it++) {
            uint64_t s = 0x51ed27ull * (uint64_t)(it + 1) + (uint64_t)t;
            const int64_t n = 4096;
            const int kind = it % 9, imode = (it / 9) % 5;
            const float sc = powf(10.0f, (float)((int)(tc_rng_uniform(&s) * 12) - 6));
            const float isc = powf(10.0f, (float)((int)(tc_rng_uniform(&s) * 16) - 8));
            for (int64_t i = 0; i < n; i++) {
                const float u1 = tc_rng_uniform(&s) + 1e-7f, u2 = tc_rng_uniform(&s);
                const float g = sqrtf(-2.0f * logf(u1)) * cosf(6.2831853f * u2), u = u2;
                float v;
                switch (kind) {
                case 0:
                    v = g;
                    break;
                case 1:
                    v = (float)(int)(g * 3) * 0.25f;
                    break;
                case 2:
                    v = (float)((int)(u * 5) - 2);
                    break;
                case 3:
                    v = fabsf(g);
                    break;
                case 4:
                    v = i % 16 < 8 ? g : g * 1e-3f;
                    break;
                case 5:
                    v = g * 1000.0f;
                    break;
                case 6:
                    v = u < 0.5f ? 1.0f : -1.0f;
                    break;
                case 7:
                    v = g * g * g;
                    break;
                default:
                    v = i % 3 == 0 ? 0.0f : g;
                    break;
                }
                src[i] = kind == 5 ? v : v * sc;
                const float w = tc_rng_uniform(&s);
                imat[i] = imode == 0   ? (w * w * 10 + 1e-3f) * isc
                          : imode == 1 ? powf(w, 8) * isc
                          : imode == 2 ? (i % 5 == 0 ? 0.0f : w * isc)
                          : imode == 3 ? isc
                                       : (i % 10 == 4 ? -w : w) * isc;
            }
            char what[96];
            snprintf(what, sizeof what, "IQ1 bounds row %d (kind %d, imatrix %d, %g, %g)", it, kind,
                     imode, (double)sc, (double)isc);
            one_row_all_isas(quant, t, src, imat, n, want, got, what);
        }
    /* Degenerate rows: one nonzero value in the row, one (negative) per block, mostly
     * negative values, all equal and negative, one value far above the rest of its block,
     * tiny (subnormal) values next to small normal ones, large magnitudes (1e9), zeros with a
     * few tiny negatives; without an importance matrix where ggml allows it, and with one. */
    for (int dk = 0; dk < 8; dk++)
        for (int mode = 0; mode < 2; mode++) {
            if (mode == 0 && tc_requires_imatrix(t))
                continue;
            const int64_t n = 1024;
            uint64_t s = 4242 + (uint64_t)(dk * 2 + mode);
            for (int64_t i = 0; i < n; i++) {
                const float u = 0.25f + tc_rng_uniform(&s);
                switch (dk) {
                case 0:
                    src[i] = i == 300 ? 1.5f : 0.0f;
                    break;
                case 1:
                    src[i] = i % 256 == 77 ? -2.0f : 0.0f;
                    break;
                case 2:
                    src[i] = tc_rng_uniform(&s) < 0.9f ? -u : u;
                    break;
                case 3:
                    src[i] = -0.75f;
                    break;
                case 4:
                    src[i] = i % 256 == 5 ? 1e4f : 1e-3f * (u - 0.7f);
                    break;
                case 5:
                    src[i] = i % 3 ? u * 1e-40f : (u - 0.7f) * 1e-6f;
                    break;
                case 6:
                    src[i] = (u - 0.7f) * 1e9f;
                    break;
                default:
                    src[i] = tc_rng_uniform(&s) < 0.05f ? -1e-7f * u : 0.0f;
                    break;
                }
            }
            tc_corpus_imatrix(imat, n, 31 + (uint64_t)dk, dk & 1);
            char what[96];
            snprintf(what, sizeof what, "degenerate row %d, imatrix %s", dk, mode ? "yes" : "none");
            one_row_all_isas(quant, t, src, mode ? imat : NULL, n, want, got, what);
        }
    /* Degenerate blocks, a different kind in each 256-value block and the kinds rotating
     * between rows: one nonzero value, all equal and negative, tiny, huge, mostly negative, an
     * odd count of negatives in every group, two magnitudes, subnormals among zeros; with
     * importance weights all ones, varied, or with zeros and near-zero ones. */
    for (int it = 0; it < (quick() ? 6 : 32); it++) {
        uint64_t s = 5000 + (uint64_t)it;
        const int64_t n = 2048;
        for (int64_t i = 0; i < n; i++) {
            const int64_t b = i / 256, j = i % 256;
            const float g = 2.0f * tc_rng_uniform(&s) - 1.0f;
            switch ((b + it) % 8) {
            case 0:
                src[i] = j == (it * 37) % 256 ? (it % 2 ? -3.5f : 3.5f) : 0.0f;
                break;
            case 1:
                src[i] = -0.25f;
                break;
            case 2:
                src[i] = 1e-20f * g;
                break;
            case 3:
                src[i] = 1e10f * g;
                break;
            case 4:
                src[i] = j % 9 == 4 ? 0.01f * fabsf(g) : -fabsf(g) - 0.05f;
                break;
            case 5:
                src[i] = (j % 8 == it % 8 ? -1.0f : 1.0f) * (fabsf(g) + 0.1f);
                break;
            case 6:
                src[i] = (j % 16 < 8 ? 1.0f : -1.0f) * (float)(1 + j % 3);
                break;
            default:
                src[i] = 1e-42f * (float)(int)(g * 8.0f);
                break;
            }
        }
        for (int64_t i = 0; i < n; i++)
            imat[i] = it % 3 == 0 ? 1.0f : 0.0f;
        if (it % 3)
            tc_corpus_imatrix(imat, n, 300 + (uint64_t)it, it % 3 == 2);
        if (it % 3 == 2)
            for (int64_t i = 5; i < n; i += 11)
                imat[i] = 1e-30f;
        char what[96];
        snprintf(what, sizeof what, "degenerate blocks %d", it);
        one_row_all_isas(quant, t, src, imat, n, want, got, what);
    }
    /* Crafted: importance only where x is 0 (and, in every other sub-block, nowhere): fits of
     * scale exactly 0 (IQ1_S and IQ1_M still store the points they picked under d = 0), and
     * the same with a few tiny nonzero weights elsewhere. */
    for (int it = 0; it < 4; it++) {
        const int64_t n = 1024;
        tc_corpus_fill(src, n, 0, 500 + (uint64_t)it);
        uint64_t s = 77 + (uint64_t)it;
        for (int64_t i = 0; i < n; i++) {
            int zero = i % 5 == 2;
            if (zero)
                src[i] = 0.0f;
            imat[i] = zero && (i / 64) % 2 == 0 ? 1.0f + tc_rng_uniform(&s) : 0.0f;
            if (it >= 2 && !zero && tc_rng_uniform(&s) < 0.05f)
                imat[i] = 1e-30f;
        }
        char what[96];
        snprintf(what, sizeof what, "importance only on zeros, variant %d", it);
        one_row_all_isas(quant, t, src, imat, n, want, got, what);
    }
    /* Crafted for IQ1_S / IQ1_M: every group exactly a grid point plus its shift, times a
     * sub-block scale of 15, 6, 2, 10, 4, 14, 8 or 12 sixteenths. The fits are then exact, d is
     * 1/16 and the 3-bit sub-scales nearest_int(0.5 * (s/d - 1)) land on exact halves (2.5, 0.5,
     * 4.5, ...): ggml rounds those to even. Checked with a probe: blocks 0 and 2 (IQ1_M without
     * importance data) and several past block 16 (IQ1_S, importance all ones) hit such ties. */
    if (t == TC_DTYPE_IQ1_S || t == TC_DTYPE_IQ1_M) {
        static const float tie_sc[8] = {15, 6, 2, 10, 4, 14, 8, 12};
        const int per = t == TC_DTYPE_IQ1_S ? 4 : 2; /* groups per sub-block */
        uint32_t s = 12345;
        float dlast = 0.125f;
        for (int half = 0; half < 2; half++) {
            const int64_t n = 4096;
            for (int64_t b = 0; b < n / 256; b++) {
                const int it = half * 16 + (int)b;
                for (int g = 0; g < 32; g++) {
                    s = s * 1664525u + 1013904223u;
                    const int pt = (int)((s >> 8) % 2048);
                    s = s * 1664525u + 1013904223u;
                    float dl = ((s >> 20) & 1) ? 0.125f : -0.125f;
                    if (per == 4 && g % 4)
                        dl = dlast; /* IQ1_S: one shift per sub-block */
                    dlast = dl;
                    const float scale = tie_sc[(g / per + it) % 8] * 0.0625f;
                    for (int j = 0; j < 8; j++)
                        src[b * 256 + 8 * g + j] =
                            scale * ((float)(int8_t)(uint8_t)(tc_iq1s_grid[pt] >> 8 * j) + dl);
                }
            }
            for (int64_t i = 0; i < n; i++)
                imat[i] = 1.0f;
            for (int mode = 0; mode < 2; mode++) {
                if (mode == 0 && tc_requires_imatrix(t))
                    continue;
                char what[96];
                snprintf(what, sizeof what, "exact sub-scale ties, rows %d, imatrix %s", half,
                         mode ? "ones" : "none");
                one_row_all_isas(quant, t, src, mode ? imat : NULL, n, want, got, what);
            }
        }
    }
    if (tc_requires_imatrix(t)) /* as ggml: no importance data, no quantization */
        ck_assert_uint_eq(tc_quantize_rows(t, src, got, 1, 256, NULL), 0);
out:
    free(src);
    free(imat);
    free(want);
    free(got);
}
END_TEST

/*
 * Rows ggml cannot take (it asserts, or its bytes depend on which NaN an operation propagates):
 * Inf and NaN among the values, values whose squares overflow, huge, negative or all-zero
 * importance weights. Every ISA's kernel must give the scalar reference's bytes, which never
 * fail. (SIMD kernels may hand such blocks to the reference; this checks they pick them out.)
 */
START_TEST(quantize_nonfinite_matches_reference)
{
    const int t = iq_types[_i];
    if (!tc_can_quantize(t))
        return;
    const int64_t n = 1024;
    float *src = malloc(sizeof(float) * (size_t)n), *imat = malloc(sizeof(float) * (size_t)n);
    uint8_t *want = malloc(tc_row_size(t, n)), *got = malloc(tc_row_size(t, n));
    ck_assert(src && imat && want && got);
    for (int ck = 0; ck < 8; ck++) {
        uint64_t s = 777 + (uint64_t)ck;
        tc_corpus_fill(src, n, 0, 99 + (uint64_t)ck);
        tc_corpus_imatrix(imat, n, 5 + (uint64_t)ck, 1);
        for (int64_t i = 0; i < n; i++) {
            const float u = tc_rng_uniform(&s);
            switch (ck) {
            case 0: /* one Inf or NaN in some blocks */
                if (i % 256 == 100 && i / 256 % 2 == 0)
                    src[i] = i / 256 == 0 ? INFINITY : i / 256 == 2 ? -INFINITY : NAN;
                break;
            case 1: /* squares overflow */
                if (u < 0.1f)
                    src[i] = (u - 0.05f) * 4e20f;
                break;
            case 2: /* every value near FLT_MAX */
                src[i] = (u < 0.5f ? -3e38f : 3e38f) * (0.5f + u);
                break;
            case 3: /* huge importance weights */
                imat[i] = u * 1e35f;
                break;
            case 4: /* negative importance weights */
                imat[i] = u - 0.5f;
                break;
            case 5: /* all-zero importance weights */
                imat[i] = 0.0f;
                break;
            case 6: /* Inf and NaN weights */
                if (i % 97 == 3)
                    imat[i] = i % 2 ? INFINITY : NAN;
                break;
            default: /* subnormal values with huge weights */
                src[i] *= 1e-39f;
                imat[i] = u * 1e30f;
                break;
            }
        }
        for (int mode = 0; mode < 2; mode++) {
            const float *w = mode ? imat : NULL;
            if (w == NULL && tc_requires_imatrix(t))
                continue;
            const size_t nbytes = tc_row_size(t, n);
            memset(want, 0, nbytes);
            ck_assert_uint_eq(tc_quantize_rows_isa(TC_ISA_SCALAR, t, src, want, 1, n, w), nbytes);
            for (int isa = 1; isa < TC_ISA_COUNT; isa++) {
                if (!tc_isa_supported((tc_isa)isa) || tc_kernels(isa) == NULL)
                    continue;
                char what[96];
                snprintf(what, sizeof what, "non-finite case %d, imatrix %s [%s] vs scalar", ck,
                         mode ? "yes" : "none", tc_isa_name((tc_isa)isa));
                memset(got, 0xa5, nbytes);
                ck_assert_uint_eq(tc_quantize_rows_isa((tc_isa)isa, t, src, got, 1, n, w), nbytes);
                tc_expect_same_quant(want, got, 1, n, t, what);
            }
        }
    }
    free(src);
    free(imat);
    free(want);
    free(got);
}
END_TEST

/* ===== Oracle-free checks ===== */

static int in_set(int v, const int *set, int n)
{
    for (int i = 0; i < n; i++)
        if (set[i] == v)
            return 1;
    return 0;
}

/* Every grid byte belongs to the type's value set, and entries are distinct. (Plain ifs: each
 * passing ck_assert writes a mark point down the fork pipe, too slow for 2M comparisons.) */
static void check_grid(const char *name, const void *grid, int n, int width, const int *set,
                       int nset, int is_signed)
{
    for (int i = 0; i < n; i++) {
        uint64_t e = width == 8 ? ((const uint64_t *)grid)[i] : ((const uint32_t *)grid)[i];
        for (int j = 0; j < width; j++) {
            int v = is_signed ? (int8_t)(uint8_t)(e >> 8 * j) : (uint8_t)(e >> 8 * j);
            if (!in_set(v, set, nset))
                ck_abort_msg("%s[%d] byte %d = %d", name, i, j, v);
        }
        for (int k = 0; k < i; k++) {
            uint64_t f = width == 8 ? ((const uint64_t *)grid)[k] : ((const uint32_t *)grid)[k];
            if (e == f)
                ck_abort_msg("%s[%d] repeats entry %d", name, i, k);
        }
    }
}

START_TEST(tables_are_well_formed)
{
    static const int v2[] = {8, 25, 43};
    static const int v3xxs[] = {4, 12, 20, 28, 36, 44, 52, 62};
    static const int v3s[] = {1, 3, 5, 7, 9, 11, 13, 15};
    static const int v1[] = {-1, 0, 1};
    check_grid("iq2xxs_grid", tc_iq2xxs_grid, 256, 8, v2, 3, 0);
    check_grid("iq2xs_grid", tc_iq2xs_grid, 512, 8, v2, 3, 0);
    check_grid("iq2s_grid", tc_iq2s_grid, 1024, 8, v2, 3, 0);
    check_grid("iq3xxs_grid", tc_iq3xxs_grid, 256, 4, v3xxs, 8, 0);
    check_grid("iq3s_grid", tc_iq3s_grid, 512, 4, v3s, 8, 0);
    check_grid("iq1s_grid", tc_iq1s_grid, 2048, 8, v1, 3, 1);
    for (int i = 0; i < 128; i++) {
        int parity = __builtin_popcount((unsigned)i) & 1;
        ck_assert_uint_eq(tc_iq2_ksigns[i], (unsigned)(i | parity << 7));
    }
}
END_TEST

/* Blocks decoded by hand from the format description (ggml-common.h / ggml-quants.c). */
START_TEST(hand_decoded_blocks)
{
    float y[256];
    /* IQ2_XS: d = 1, sub-block 0 scale nibble 1 -> db = (0.5 + 1) * 0.25 = 0.375; group 0 uses
     * grid entry 0 (all 8s) with sign index 1 -> ksigns 0x81: elements 0 and 7 negative. */
    uint8_t b2[74] = {0x00, 0x3c};
    b2[2] = 0x00;
    b2[3] = 1 << 1; /* u16 = 0 | 1 << 9 */
    b2[66] = 0x01;
    ck_assert_int_eq(tc_to_f32_isa(TC_ISA_SCALAR, TC_DTYPE_IQ2_XS, b2, y, 256), 0);
    ck_assert(y[0] == -3.0f && y[1] == 3.0f && y[6] == 3.0f && y[7] == -3.0f);
    ck_assert(y[8] == 3.0f);                            /* group 1: same scale, no signs */
    ck_assert(y[16] == 0.125f * 8 && y[255] == 1.0f);   /* scale nibble 0 -> 0.125 */
    ck_assert(tc_f32_bits(y[16]) == tc_f32_bits(1.0f)); /* d*0.5*0.25*8 */

    /* IQ3_S: d = 2, sub-block 1 scale 3 -> db = 2 * 7 = 14; its first group (qs[8]) takes grid
     * entry 256 via qh[1] bit 0; sign byte signs[4] bit 1 negates element 1. */
    uint8_t b3[110] = {0x00, 0x40};
    b3[2 + 8] = 0;          /* qs[8] low bits */
    b3[2 + 64 + 1] = 0x01;  /* qh[1] bit 0 -> index 256 */
    b3[2 + 64 + 8 + 4] = 2; /* signs[4] */
    b3[2 + 64 + 8 + 32] = 0x30;
    ck_assert_int_eq(tc_to_f32_isa(TC_ISA_SCALAR, TC_DTYPE_IQ3_S, b3, y, 256), 0);
    for (int j = 0; j < 4; j++) {
        float g = (float)(uint8_t)(tc_iq3s_grid[256] >> 8 * j) * 14.0f;
        ck_assert(y[32 + j] == (j == 1 ? -g : g));
    }
    ck_assert(y[0] == 2.0f * (float)(uint8_t)tc_iq3s_grid[0]); /* sub-block 0 scale 0 */

    /* IQ1_M: d = 1 spread over the scale words' top nibbles (0x3c00 -> nibbles 0,0,c,3); all
     * sub-scales 0 -> dl = 1; group 1 has qh[0] high nibble 0xa: index 0x200 | qs[1], delta -. */
    uint8_t b1[56] = {0};
    b1[1] = 7;
    b1[32] = 0xa0;
    b1[48 + 5] = 0xc0;
    b1[48 + 7] = 0x30;
    ck_assert_int_eq(tc_to_f32_isa(TC_ISA_SCALAR, TC_DTYPE_IQ1_M, b1, y, 256), 0);
    for (int j = 0; j < 8; j++) {
        float g = (float)(int8_t)(uint8_t)(tc_iq1s_grid[0x207] >> 8 * j);
        ck_assert(y[8 + j] == g - 0.125f);
        ck_assert(y[j] == (float)(int8_t)(uint8_t)(tc_iq1s_grid[0] >> 8 * j) + 0.125f);
    }

    /* lengths that are not whole blocks are refused */
    ck_assert_int_eq(tc_to_f32(TC_DTYPE_IQ2_XXS, b2, y, 128), -1);
    for (int i = 0; i < N_IQ; i++)
        ck_assert(tc_can_dequantize(iq_types[i]));
}
END_TEST

/* ggml_quantize_init builds per-type search tables (seconds for IQ1_S and IQ2_S). Done once
 * in the parent process (an unchecked fixture), the forked tests inherit them. */
static void init_ggml_iq(void)
{
    for (int i = 0; i < N_IQ; i++)
        if (tc_oracle_dequantize(tc_dtype_get(iq_types[i])->name) != NULL)
            (void)tc_oracle_quantize(iq_types[i]);
}

/*
 * IQ2_XXS / IQ2_XS / IQ2_S SIMD quantizers against the scalar reference where ggml cannot be asked
 * (it aborts or asserts): Inf and NaN values, and importance weights that are Inf, NaN,
 * negative or so large that the sums overflow (the kernels hand such blocks, or the IQ2_XXS
 * sub-blocks whose scale comes out NaN, to the reference: this checks that they do).
 */
START_TEST(iq2_simd_matches_scalar_nonfinite)
{
    static const int types[] = {TC_DTYPE_IQ2_XXS, TC_DTYPE_IQ2_XS, TC_DTYPE_IQ2_S};
    const int t = types[_i];
    const int64_t n = 2048;
    float *src = malloc(sizeof(float) * (size_t)n), *imat = malloc(sizeof(float) * (size_t)n);
    uint8_t *want = malloc(tc_row_size(t, n)), *got = malloc(tc_row_size(t, n));
    ck_assert(src && imat && want && got);
    for (int it = 0; it < (quick() ? 8 : 40); it++) {
        uint64_t s = 9000 + (uint64_t)it;
        tc_corpus_fill(src, n, it % TC_CORPUS_KINDS, (uint64_t)it + 1);
        tc_corpus_imatrix(imat, n, (uint64_t)it + 7, it % 2);
        for (int64_t b = 0; b < n / 256; b++) {
            const int64_t at = b * 256 + (int64_t)(tc_rng_next(&s) % 256);
            switch ((b + it) % 8) {
            case 0:
                src[at] = NAN;
                break;
            case 1:
                src[at] = (it % 2) ? -INFINITY : INFINITY;
                break;
            case 2:
                imat[at] = INFINITY;
                break;
            case 3:
                imat[at] = NAN;
                break;
            case 4:
                imat[at] = -1.0f;
                break;
            case 5: /* huge weights: the sums overflow, some products too (and with them
                     * IQ2_XXS's make_qp_quants scale, Inf / Inf) */
                for (int64_t i = b * 256; i < (b + 1) * 256; i++)
                    imat[i] = (it % 2 ? 1e37f : 1e30f) * (1.0f + 30.0f * tc_rng_uniform(&s)),
                    src[i] = 8.0f * tc_rng_uniform(&s) - 4.0f;
                break;
            case 6: /* huge values with large weights */
                for (int64_t i = b * 256; i < (b + 1) * 256; i++)
                    src[i] = 1e17f * (2.0f * tc_rng_uniform(&s) - 1.0f), imat[i] = 1e6f;
                break;
            default:
                break;
            }
        }
        const size_t nbytes = tc_row_size(t, n);
        /* IQ2_S also without importance data, where ggml allows it */
        const float *w = t == TC_DTYPE_IQ2_S && it % 4 == 3 ? NULL : imat;
        memset(want, 0x5a, nbytes);
        ck_assert_uint_eq(tc_quantize_rows_isa(TC_ISA_SCALAR, t, src, want, 1, n, w), nbytes);
        for (int isa = 1; isa < TC_ISA_COUNT; isa++) {
            if (!tc_isa_supported((tc_isa)isa) || tc_kernels(isa) == NULL)
                continue;
            char what[96];
            snprintf(what, sizeof what, "non-finite row %d [%s] vs scalar", it,
                     tc_isa_name((tc_isa)isa));
            memset(got, 0xa5, nbytes);
            ck_assert_uint_eq(tc_quantize_rows_isa((tc_isa)isa, t, src, got, 1, n, w), nbytes);
            tc_expect_same_quant(want, got, 1, n, t, what);
        }
    }
    free(src);
    free(imat);
    free(want);
    free(got);
}
END_TEST

Suite *quant_iq_suite(void)
{
    Suite *s = suite_create("quant_iq");
    TCase *tc = tcase_create("iq");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, tables_are_well_formed);
    tcase_add_test(tc, hand_decoded_blocks);
    tcase_add_loop_test(tc, random_blocks_match_ggml, 0, N_IQ);
    tcase_add_loop_test(tc, quantize_nonfinite_matches_reference, 0, N_IQ);
    tcase_add_loop_test(tc, iq2_simd_matches_scalar_nonfinite, 0, 3);
    tcase_add_loop_test(tc, simd_kernels_registered, 0, N_IQ);
    suite_add_tcase(s, tc);
    TCase *tq = tcase_create("ggml_rows");
    tcase_set_timeout(tq, 600);
    tcase_add_unchecked_fixture(tq, init_ggml_iq, NULL);
    tcase_add_loop_test(tq, ggml_quantized_rows_match_ggml, 0, N_IQ);
    tcase_add_loop_test(tq, quantize_matches_ggml, 0, N_IQ);
    suite_add_tcase(s, tq);
    return s;
}
