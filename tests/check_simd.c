/*
 * check_simd.c - the SIMD kernel tables (quant/avx2.c, avx512.c, neon.c) against the scalar
 * reference table, byte for byte, and against llama.cpp's libggml-base.so where it is installed.
 *
 * For every ISA this CPU runs and every type whose kernel in that ISA's table is not the scalar
 * function itself:
 * - quantize: all tc_corpus_fill kinds, several seeds, row lengths that leave a tail of blocks
 *   that is not a multiple of any vector width, 1-3 rows, without and with an importance matrix
 *   (with and without zero weights; and degenerate ones: negative, NaN, Inf, huge), and rows
 *   salted with Inf/NaN/-0/subnormals/huge values;
 *   output compared with TC_ISA_SCALAR (itself checked against ggml by quant_legacy / quant_k)
 *   and with ggml_quantize_chunk when the oracle is present;
 * - the same rows quantized in one call and split at every row boundary give the same bytes;
 * - dequantize: random blocks (NaN/Inf/subnormal scales included) and quantized corpora, floats
 *   compared by bit pattern with the scalar table.
 * TC_TEST_QUICK=1 (sanitizer builds) shrinks the corpus.
 */
#include "kernels.h"
#include "oracle.h"
#include "quant.h"
#include "tc_test.h"

#include <math.h>
#include <string.h>

static const int simd_types[] = {
    TC_DTYPE_Q4_0,   TC_DTYPE_Q4_1,   TC_DTYPE_Q5_0,  TC_DTYPE_Q5_1,  TC_DTYPE_Q8_0,
    TC_DTYPE_Q2_K,   TC_DTYPE_Q3_K,   TC_DTYPE_Q4_K,  TC_DTYPE_Q5_K,  TC_DTYPE_Q6_K,
    TC_DTYPE_Q8_K,   TC_DTYPE_TQ1_0,  TC_DTYPE_TQ2_0, TC_DTYPE_MXFP4, TC_DTYPE_NVFP4,
    TC_DTYPE_IQ4_NL, TC_DTYPE_IQ4_XS, TC_DTYPE_Q1_0,  TC_DTYPE_Q2_0,
};
#define N_TYPES ((int)(sizeof simd_types / sizeof simd_types[0]))

static int quick(void)
{
    const char *q = getenv("TC_TEST_QUICK");
    return q && *q && strcmp(q, "0") != 0;
}

/* The SIMD ISAs whose table has its own kernel for t (not the scalar function). */
static int simd_isas(int t, int quantize, tc_isa *isas)
{
    const tc_kernel_table *ref = tc_kernels(TC_ISA_SCALAR);
    const void *rf = quantize ? (const void *)ref->quantize[t] : (const void *)ref->dequantize[t];
    int n = 0;
    for (int i = 1; i < TC_ISA_COUNT; i++) {
        const tc_kernel_table *k = tc_isa_supported((tc_isa)i) ? tc_kernels(i) : NULL;
        if (k == NULL)
            continue;
        const void *fn = quantize ? (const void *)k->quantize[t] : (const void *)k->dequantize[t];
        if (fn != NULL && fn != rf)
            isas[n++] = (tc_isa)i;
    }
    return n;
}

static long first_diff(const void *a, const void *b, size_t n)
{
    const uint8_t *x = a, *y = b;
    for (size_t i = 0; i < n; i++)
        if (x[i] != y[i])
            return (long)i;
    return -1;
}

/* Blocks per row in the tested row lengths: tails of 1, 3, 5, 7 blocks past multiples of 8/16. */
static int64_t row_len(int t, int which)
{
    static const int nblk[] = {1, 3, 8, 13, 16, 21, 39};
    const tc_dtype_info *d = tc_dtype_get(t);
    return (int64_t)d->blck * nblk[which];
}
#define N_LENS 7

#define MAX_ELEMS (39 * 256 * 3)

typedef struct bufs {
    float src[MAX_ELEMS], imat[39 * 256];
    uint8_t want[MAX_ELEMS * 2], got[MAX_ELEMS * 2], oracle[MAX_ELEMS * 2];
    float deq_want[MAX_ELEMS], deq_got[MAX_ELEMS];
} bufs;

static bufs *B;

static void setup(void)
{
    B = malloc(sizeof *B);
    ck_assert_ptr_nonnull(B);
}

static void teardown(void)
{
    free(B);
    B = NULL;
}

/* Salt values that stress the fallbacks: Inf, NaN, -0, subnormals, huge. */
static void salt(float *x, int64_t n, uint64_t seed)
{
    static const float specials[] = {INFINITY, -INFINITY, NAN,   -NAN,  -0.0f,
                                     1e-42f,   -3e-39f,   1e30f, -2e38f};
    uint64_t s = seed * 31 + 7;
    for (int k = 0; k < 6; k++) {
        int64_t at = (int64_t)(tc_rng_next(&s) % (uint64_t)n);
        x[at] = specials[tc_rng_next(&s) % (sizeof specials / sizeof specials[0])];
    }
}

/* Quantize with scalar, each SIMD ISA, and the oracle; fail at the first differing byte. */
static int check_quant_case(int t, const tc_isa *isas, int n_isa, int64_t n_rows, int64_t n_per_row,
                            const float *imat, const char *what)
{
    size_t n = (size_t)tc_row_size(t, n_per_row) * (size_t)n_rows;
    size_t wn = tc_quantize_rows_isa(TC_ISA_SCALAR, t, B->src, B->want, n_rows, n_per_row, imat);
    ck_assert_uint_eq(wn, n);
    int checks = 0;
    for (int i = 0; i < n_isa; i++) {
        memset(B->got, 0xA5, n);
        size_t gn = tc_quantize_rows_isa(isas[i], t, B->src, B->got, n_rows, n_per_row, imat);
        ck_assert_uint_eq(gn, n);
        long at = first_diff(B->want, B->got, n);
        ck_assert_msg(at < 0, "%s %s (%s, %lld x %lld, imatrix %s): byte %ld is %02x, scalar %02x",
                      tc_dtype_get(t)->name, tc_isa_name(isas[i]), what, (long long)n_rows,
                      (long long)n_per_row, imat ? "yes" : "no", at, at < 0 ? 0 : B->got[at],
                      at < 0 ? 0 : B->want[at]);
        checks++;
    }
    return checks;
}

START_TEST(quantize_matches_scalar)
{
    const int t = simd_types[_i];
    tc_isa isas[TC_ISA_COUNT];
    int n_isa = simd_isas(t, 1, isas);
    if (n_isa == 0)
        TC_SKIP_NA("%s: no SIMD quantizer for this type on this CPU", tc_dtype_get(t)->name);
    const int seeds = quick() ? 1 : 3;
    int checks = 0;
    for (int kind = 0; kind < TC_CORPUS_KINDS; kind++)
        for (int seed = 0; seed < seeds; seed++)
            for (int li = 0; li < N_LENS; li++) {
                const int64_t npr = row_len(t, li), rows = 1 + (kind + seed + li) % 3;
                if (npr * rows > MAX_ELEMS || (quick() && li % 2))
                    continue;
                tc_corpus_fill(B->src, npr * rows, kind, (uint64_t)(seed * 131 + li));
                checks += check_quant_case(t, isas, n_isa, rows, npr, NULL, "corpus");
                tc_corpus_imatrix(B->imat, npr, (uint64_t)seed + 5, (kind + li) & 1);
                checks += check_quant_case(t, isas, n_isa, rows, npr, B->imat, "corpus");
                if (kind % 3 == 0) {
                    salt(B->src, npr * rows, (uint64_t)(kind * 7 + seed * 3 + li));
                    checks += check_quant_case(t, isas, n_isa, rows, npr, NULL, "salted");
                    checks += check_quant_case(t, isas, n_isa, rows, npr, B->imat, "salted");
                }
            }
    ck_assert_int_gt(checks, 0);
}
END_TEST

START_TEST(quantize_matches_ggml)
{
    const int t = simd_types[_i];
    tc_isa isas[TC_ISA_COUNT];
    int n_isa = simd_isas(t, 1, isas);
    if (n_isa == 0)
        TC_SKIP_NA("%s: no SIMD quantizer for this type on this CPU", tc_dtype_get(t)->name);
    if (t == TC_DTYPE_Q8_K)
        TC_SKIP_NA("q8_K: ggml_quantize_chunk does not take it (quant_k checks its row function)");
    tc_ggml_quantize_chunk_fn q = tc_oracle_quantize(t);
    if (q == NULL)
        TC_SKIP("libggml-base.so not found under %s/llama", TC_ORACLE_DIR);
    int checks = 0;
    for (int kind = 0; kind < TC_CORPUS_KINDS; kind += quick() ? 3 : 1)
        for (int withim = 0; withim < 2; withim++) {
            const int64_t npr = row_len(t, 3), rows = 2;
            const float *im = withim ? B->imat : NULL;
            tc_corpus_fill(B->src, npr * rows, kind, 99 + (uint64_t)kind);
            tc_corpus_imatrix(B->imat, npr, (uint64_t)kind, kind & 1);
            size_t n = (size_t)tc_row_size(t, npr) * rows;
            ck_assert_uint_eq(q(t, B->src, B->oracle, 0, rows, npr, im), n);
            for (int i = 0; i < n_isa; i++) {
                tc_quantize_rows_isa(isas[i], t, B->src, B->got, rows, npr, im);
                long at = first_diff(B->oracle, B->got, n);
                ck_assert_msg(at < 0, "%s %s kind %d imatrix %d: byte %ld is %02x, ggml %02x",
                              tc_dtype_get(t)->name, tc_isa_name(isas[i]), kind, withim, at,
                              at < 0 ? 0 : B->got[at], at < 0 ? 0 : B->oracle[at]);
                checks++;
            }
        }
    ck_assert_int_gt(checks, 0);
}
END_TEST

/* Importance matrices with zeros, negative values, NaN, Inf and huge weights: SIMD == scalar. */
START_TEST(degenerate_imatrix_matches_scalar)
{
    const int t = simd_types[_i];
    tc_isa isas[TC_ISA_COUNT];
    int n_isa = simd_isas(t, 1, isas);
    if (n_isa == 0)
        TC_SKIP_NA("%s: no SIMD quantizer for this type on this CPU", tc_dtype_get(t)->name);
    static const float bad[] = {0.0f, -1.0f, NAN, INFINITY, -INFINITY, 1e30f, 1e-40f, -0.0f};
    const int64_t npr = row_len(t, 3), rows = 2;
    int checks = 0;
    for (int v = 0; v < (int)(sizeof bad / sizeof bad[0]); v++)
        for (int all = 0; all < 2; all++) {
            tc_corpus_fill(B->src, npr * rows, v % 3, (uint64_t)v);
            tc_corpus_imatrix(B->imat, npr, (uint64_t)v + 11, 0);
            for (int64_t i = 0; i < npr; i++)
                if (all || i % 37 == 5)
                    B->imat[i] = bad[v];
            checks += check_quant_case(t, isas, n_isa, rows, npr, B->imat, "degenerate imatrix");
        }
    ck_assert_int_gt(checks, 0);
}
END_TEST

/* The same rows in one call and split at each row boundary: identical bytes. */
START_TEST(row_split_is_invariant)
{
    const int t = simd_types[_i];
    tc_isa isas[TC_ISA_COUNT];
    int n_isa = simd_isas(t, 1, isas);
    if (n_isa == 0)
        TC_SKIP_NA("%s: no SIMD quantizer for this type on this CPU", tc_dtype_get(t)->name);
    const int64_t npr = row_len(t, 1), rows = 5;
    const size_t rs = (size_t)tc_row_size(t, npr);
    int checks = 0;
    for (int withim = 0; withim < 2; withim++) {
        const float *im = withim ? B->imat : NULL;
        tc_corpus_fill(B->src, npr * rows, withim ? 5 : 0, 7);
        tc_corpus_imatrix(B->imat, npr, 3, 1);
        for (int i = 0; i < n_isa; i++) {
            tc_quantize_rows_isa(isas[i], t, B->src, B->want, rows, npr, im);
            for (int64_t cut = 1; cut < rows; cut++) {
                memset(B->got, 0x5A, rs * rows);
                tc_quantize_rows_isa(isas[i], t, B->src, B->got, cut, npr, im);
                tc_quantize_rows_isa(isas[i], t, B->src + cut * npr, B->got + cut * rs, rows - cut,
                                     npr, im);
                long at = first_diff(B->want, B->got, rs * rows);
                ck_assert_msg(at < 0, "%s %s split at row %lld (imatrix %d): byte %ld differs",
                              tc_dtype_get(t)->name, tc_isa_name(isas[i]), (long long)cut, withim,
                              at);
                checks++;
            }
        }
    }
    ck_assert_int_gt(checks, 0);
}
END_TEST

/* Dequantize random blocks and quantized corpora with scalar and SIMD; compare float bits. */
START_TEST(dequantize_matches_scalar)
{
    const int t = simd_types[_i];
    tc_isa isas[TC_ISA_COUNT];
    int n_isa = simd_isas(t, 0, isas);
    if (n_isa == 0)
        TC_SKIP_NA("%s: no SIMD dequantizer for this type on this CPU", tc_dtype_get(t)->name);
    const tc_dtype_info *d = tc_dtype_get(t);
    int checks = 0;
    const int rounds = quick() ? 4 : 24;
    for (int r = 0; r < rounds; r++) {
        const int64_t nblk = 1 + r % 23, n = nblk * d->blck;
        if (r % 2 == 0) { /* random bytes: every scale pattern, NaN and Inf included */
            uint64_t s = (uint64_t)r * 977 + (uint64_t)t;
            for (size_t i = 0; i < (size_t)nblk * d->size; i++)
                B->want[i] = (uint8_t)tc_rng_next(&s);
        } else { /* real quantized data */
            tc_corpus_fill(B->src, n, r % TC_CORPUS_KINDS, (uint64_t)r);
            tc_quantize_rows_isa(TC_ISA_SCALAR, t, B->src, B->want, 1, n, NULL);
        }
        ck_assert_int_eq(tc_to_f32_isa(TC_ISA_SCALAR, t, B->want, B->deq_want, n), 0);
        for (int i = 0; i < n_isa; i++) {
            memset(B->deq_got, 0xA5, (size_t)n * sizeof(float));
            ck_assert_int_eq(tc_to_f32_isa(isas[i], t, B->want, B->deq_got, n), 0);
            long at = first_diff(B->deq_want, B->deq_got, (size_t)n * sizeof(float));
            ck_assert_msg(at < 0, "%s %s round %d: float %ld is %a, scalar %a", d->name,
                          tc_isa_name(isas[i]), r, at / 4, at < 0 ? 0 : B->deq_got[at / 4],
                          at < 0 ? 0 : B->deq_want[at / 4]);
            checks++;
        }
    }
    ck_assert_int_gt(checks, 0);
}
END_TEST

/* On x86-64 with AVX2 the common types must have SIMD kernels (guards against a lost
 * registration silently turning every test above into a skip). */
START_TEST(common_types_have_simd_kernels)
{
    if (!tc_isa_supported(TC_ISA_AVX2))
        TC_SKIP_NA("no AVX2 here");
    static const int must[] = {TC_DTYPE_Q4_0, TC_DTYPE_Q8_0, TC_DTYPE_Q4_K, TC_DTYPE_Q6_K};
    for (size_t i = 0; i < sizeof must / sizeof must[0]; i++) {
        tc_isa isas[TC_ISA_COUNT];
        ck_assert_msg(simd_isas(must[i], 1, isas) >= 1, "%s: no SIMD quantizer",
                      tc_dtype_get(must[i])->name);
        ck_assert_msg(simd_isas(must[i], 0, isas) >= 1, "%s: no SIMD dequantizer",
                      tc_dtype_get(must[i])->name);
    }
}
END_TEST

/* f32 -> f16 (the cast of convert --type f16): every ISA's path gives the scalar routine's bits
 * on every f16 value, every midpoint between neighbours (ties to even) and one ulp either side,
 * the overflow edge, f32 subnormals, Inf/NaN with payloads, and random bit patterns. */
START_TEST(f32_to_f16_matches_scalar)
{
    size_t n = 65536 * 4 + 4096;
    float *x = malloc(n * sizeof(float));
    uint16_t *ref = malloc(n * 2), *got = malloc(n * 2);
    ck_assert(x && ref && got);
    size_t k = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        uint16_t hh = (uint16_t)h;
        float a;
        ck_assert_int_eq(tc_cast_to_f32(TC_DTYPE_F16, &hh, &a, 1), 0);
        x[k++] = a;
        uint32_t b;
        memcpy(&b, &a, 4);
        /* the midpoint to the next f16 (13 dropped mantissa bits: 0x1000) and +-1 ulp */
        uint32_t mid = b + 0x1000;
        memcpy(&x[k++], &mid, 4);
        mid++;
        memcpy(&x[k++], &mid, 4);
        mid -= 2;
        memcpy(&x[k++], &mid, 4);
    }
    uint64_t st = 0x9e3779b97f4a7c15ull;
    while (k < n) {
        st ^= st << 13;
        st ^= st >> 7;
        st ^= st << 17;
        uint32_t b = (uint32_t)st;
        if (k % 7 == 0)
            b &= 0x807fffffu; /* f32 subnormals */
        if (k % 11 == 0)
            b = (b & 0x80000000u) | 0x477ff000u | (b & 0x1fffu); /* near 65520, the overflow edge */
        memcpy(&x[k++], &b, 4);
    }
    ck_assert_int_eq(tc_cast_from_f32_isa(TC_ISA_SCALAR, TC_DTYPE_F16, x, ref, (int64_t)n), 0);
    int tested = 0;
    for (int i = 1; i < TC_ISA_COUNT; i++) {
        if (!tc_isa_supported((tc_isa)i))
            continue;
        /* odd offsets and lengths: the vector body and the scalar tail */
        for (size_t off = 0; off < 3; off++) {
            memset(got, 0xa5, n * 2);
            ck_assert_int_eq(
                tc_cast_from_f32_isa((tc_isa)i, TC_DTYPE_F16, x + off, got, (int64_t)(n - off)), 0);
            long d = first_diff(ref + off, got, (n - off) * 2);
            ck_assert_msg(d < 0, "%s: f16 of element %ld differs from the scalar routine",
                          tc_isa_name((tc_isa)i), d / 2 + (long)off);
        }
        tested++;
    }
    free(x);
    free(ref);
    free(got);
    if (!tested)
        TC_SKIP_NA("no SIMD ISA here");
}
END_TEST

/* f16 -> f32 (every F16 input read for quantizing): every ISA's path gives the scalar routine's
 * bits for all 65536 f16 values (signalling NaN payloads included), at odd offsets. */
START_TEST(f16_to_f32_matches_scalar)
{
    size_t n = 65536 + 11;
    uint16_t *h = malloc(n * 2);
    float *ref = malloc(n * 4), *got = malloc(n * 4);
    ck_assert(h && ref && got);
    for (size_t i = 0; i < n; i++)
        h[i] = (uint16_t)(i * 40503u); /* a permutation of all values, then a few again */
    ck_assert_int_eq(tc_cast_to_f32_isa(TC_ISA_SCALAR, TC_DTYPE_F16, h, ref, (int64_t)n), 0);
    int tested = 0;
    for (int i = 1; i < TC_ISA_COUNT; i++) {
        if (!tc_isa_supported((tc_isa)i))
            continue;
        for (size_t off = 0; off < 3; off++) {
            memset(got, 0xa5, n * 4);
            ck_assert_int_eq(
                tc_cast_to_f32_isa((tc_isa)i, TC_DTYPE_F16, h + off, got, (int64_t)(n - off)), 0);
            long d = first_diff(ref + off, got, (n - off) * 4);
            ck_assert_msg(d < 0, "%s: f32 of f16 %04x differs from the scalar routine",
                          tc_isa_name((tc_isa)i), h[off + (size_t)d / 4]);
        }
        tested++;
    }
    free(h);
    free(ref);
    free(got);
    if (!tested)
        TC_SKIP_NA("no SIMD ISA here");
}
END_TEST

Suite *simd_suite(void)
{
    Suite *s = suite_create("simd");
    TCase *tc = tcase_create("simd");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, common_types_have_simd_kernels);
    tcase_add_test(tc, f32_to_f16_matches_scalar);
    tcase_add_test(tc, f16_to_f32_matches_scalar);
    tcase_add_loop_test(tc, quantize_matches_scalar, 0, N_TYPES);
    tcase_add_loop_test(tc, quantize_matches_ggml, 0, N_TYPES);
    tcase_add_loop_test(tc, degenerate_imatrix_matches_scalar, 0, N_TYPES);
    tcase_add_loop_test(tc, row_split_is_invariant, 0, N_TYPES);
    tcase_add_loop_test(tc, dequantize_matches_scalar, 0, N_TYPES);
    suite_add_tcase(s, tc);
    return s;
}
