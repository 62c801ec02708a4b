/*
 * check_quant_k.c - k-quants (Q2_K..Q6_K, Q8_K) against the real thing: llama.cpp's
 * libggml-base.so (tests/oracle.h). Quantized bytes must equal ggml_quantize_chunk()'s (with and
 * without an importance matrix) and dequantized floats must equal dequantize_row_<type>()'s bit
 * for bit, for every ISA table this CPU runs (tables whose kernel is the same function as one
 * already checked are not run twice). TC_TEST_QUICK=1 shrinks the corpus (sanitizer builds);
 * TC_BENCH=1 makes the throughput test measure longer.
 */
#include "fp16.h"
#include "kernels.h"
#include "oracle.h"
#include "quant.h"
#include "quant_types.h"
#include "tc_test.h"

#include <math.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef void (*ggml_row_quant_fn)(const float *x, void *y, int64_t k);

static const struct ktype {
    int t;
    const char *ggml; /* ggml's spelling, for dequantize_row_<name> */
} ktypes[] = {
    {TC_DTYPE_Q2_K, "q2_K"}, {TC_DTYPE_Q3_K, "q3_K"}, {TC_DTYPE_Q4_K, "q4_K"},
    {TC_DTYPE_Q5_K, "q5_K"}, {TC_DTYPE_Q6_K, "q6_K"}, {TC_DTYPE_Q8_K, "q8_K"},
};
#define N_KTYPES (int)(sizeof ktypes / sizeof ktypes[0])
_Static_assert(N_KTYPES == TC_N_K_TYPES, "ktypes is quant_types.h's tc_k_types with names");
#define N_QUANT_K 5 /* the first five go through ggml_quantize_chunk; Q8_K has row functions */

static int quick(void)
{
    const char *q = getenv("TC_TEST_QUICK");
    return q && *q && strcmp(q, "0") != 0;
}

/* The oracle's quantizer for ktypes[i] over n_rows rows: ggml_quantize_chunk, or for Q8_K
 * (which ggml_quantize_chunk does not take) quantize_row_q8_K_ref over the whole chunk, as
 * ggml does for the ref paths. Returns 0 when the oracle is missing. */
static int oracle_quantize(int i, const float *src, void *dst, int64_t n_rows, int64_t n_per_row,
                           const float *imatrix)
{
    if (i < N_QUANT_K) {
        tc_ggml_quantize_chunk_fn q = tc_oracle_quantize(ktypes[i].t);
        if (q == NULL)
            return 0;
        q(ktypes[i].t, src, dst, 0, n_rows, n_per_row, imatrix);
        return 1;
    }
    ggml_row_quant_fn q = (ggml_row_quant_fn)tc_oracle_sym("quantize_row_q8_K_ref");
    if (q == NULL)
        return 0;
    q(src, dst, n_rows * n_per_row);
    return 1;
}

/* The ISA tables to check for type t: supported here, with a kernel, and not the same function
 * as a table already in the list. Returns how many were put in isas[]. */
static int isas_to_check(int t, int quantize, tc_isa *isas)
{
    const void *seen[TC_ISA_COUNT];
    int n = 0;
    for (int i = 0; i < TC_ISA_COUNT; i++) {
        if (!tc_isa_supported((tc_isa)i))
            continue;
        const tc_kernel_table *k = tc_kernels(i);
        if (k == NULL)
            continue;
        const void *fn = quantize ? (const void *)k->quantize[t] : (const void *)k->dequantize[t];
        int dup = fn == NULL;
        for (int j = 0; j < n && !dup; j++)
            dup = seen[j] == fn;
        if (dup)
            continue;
        seen[n] = fn;
        isas[n++] = (tc_isa)i;
    }
    return n;
}

/* One quantization case: oracle vs every ISA. Buffers are sized by the caller. */
static void check_case(int i, const float *src, int64_t n_rows, int64_t n_per_row,
                       const float *imatrix, uint8_t *want, uint8_t *got, const char *what)
{
    int t = ktypes[i].t;
    size_t nbytes = tc_row_size(t, n_per_row) * (size_t)n_rows;
    memset(want, 0, nbytes); /* Q8_K: ggml leaves bsums of all-zero blocks unwritten */
    ck_assert(oracle_quantize(i, src, want, n_rows, n_per_row, imatrix));
    tc_isa isas[TC_ISA_COUNT];
    int n_isa = isas_to_check(t, 1, isas);
    ck_assert_int_gt(n_isa, 0);
    for (int k = 0; k < n_isa; k++) {
        char label[160];
        snprintf(label, sizeof label, "%s [%s]", what, tc_isa_name(isas[k]));
        memset(got, 0xa5, nbytes);
        ck_assert_uint_eq(tc_quantize_rows_isa(isas[k], t, src, got, n_rows, n_per_row, imatrix),
                          nbytes);
        tc_expect_same_quant(want, got, n_rows, n_per_row, t, label);
    }
}

#define SKIP_WITHOUT_ORACLE()                                                                      \
    do {                                                                                           \
        if (tc_oracle_sym("ggml_quantize_chunk") == NULL)                                          \
            TC_SKIP("llama.cpp oracle libggml-base.so not found under %s/llama "                   \
                    "(scripts/oracle/get_oracle.sh)",                                              \
                    TC_ORACLE_DIR);                                                                \
    } while (0)

/* Every corpus kind, row lengths 256..8192, several seeds; no imatrix, an imatrix, an imatrix
 * with zeros (Q8_K: no imatrix in ggml, the first mode only). */
START_TEST(quantize_matches_ggml)
{
    SKIP_WITHOUT_ORACLE();
    static const int64_t lens[] = {256, 768, 2048, 4096, 8192};
    const int n_lens = quick() ? 3 : (int)(sizeof lens / sizeof lens[0]);
    const int n_seeds = quick() ? 1 : 3;
    const int64_t budget = quick() ? 4096 : 16384; /* elements per case */
    const int64_t max_n = 8192 * 2;
    float *src = malloc(sizeof(float) * (size_t)max_n);
    float *imat = malloc(sizeof(float) * 8192);
    uint8_t *want = malloc(tc_row_size(ktypes[_i].t, max_n));
    uint8_t *got = malloc(tc_row_size(ktypes[_i].t, max_n));
    ck_assert(src && imat && want && got);
    int n_modes = _i < N_QUANT_K ? 3 : 1, cases = 0;
    for (int kind = 0; kind < TC_CORPUS_KINDS; kind++)
        for (int li = 0; li < n_lens; li++)
            for (int seed = 1; seed <= n_seeds; seed++)
                for (int mode = 0; mode < n_modes; mode++) {
                    int64_t n_per_row = lens[li];
                    int64_t n_rows = budget / n_per_row > 0 ? budget / n_per_row : 1;
                    tc_corpus_fill(src, n_rows * n_per_row, kind,
                                   (uint64_t)(seed * 1000 + li * 10 + mode));
                    if (mode > 0)
                        tc_corpus_imatrix(imat, n_per_row, (uint64_t)(seed + 77 * li), mode == 2);
                    char what[96];
                    snprintf(what, sizeof what, "kind %d seed %d imatrix %s", kind, seed,
                             mode == 0   ? "none"
                             : mode == 1 ? "yes"
                                         : "with zeros");
                    check_case(_i, src, n_rows, n_per_row, mode ? imat : NULL, want, got, what);
                    cases++;
                }
    ck_assert_int_gt(cases, 0);
    free(src);
    free(imat);
    free(want);
    free(got);
}
END_TEST

/*
 * Rows with +-Inf and NaN mixed into ordinary data (and rows entirely of them). ggml's reference
 * code has only assert()s on this path, compiled out in release builds, so it produces bytes; we
 * must produce the same ones. The oracle runs in a child process so that if some ggml build does
 * abort, that case is skipped with a note instead of failing the suite.
 */
static int oracle_in_child(int i, const float *src, uint8_t *want, int64_t n_rows,
                           int64_t n_per_row, const float *imat)
{
    size_t nbytes = tc_row_size(ktypes[i].t, n_per_row) * (size_t)n_rows;
    uint8_t *shared = mmap(NULL, nbytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    ck_assert(shared != MAP_FAILED);
    memset(shared, 0, nbytes);
    fflush(NULL);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0)
        _exit(oracle_quantize(i, src, shared, n_rows, n_per_row, imat) ? 0 : 3);
    int status = 0;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    int ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (ok)
        memcpy(want, shared, nbytes);
    munmap(shared, nbytes);
    return ok;
}

START_TEST(nonfinite_inputs_match_ggml)
{
    SKIP_WITHOUT_ORACLE();
    const int64_t n_per_row = 512, n_rows = 8, n = n_per_row * n_rows;
    float *src = malloc(sizeof(float) * (size_t)n), imat[512];
    size_t nbytes = tc_row_size(ktypes[_i].t, n_per_row) * (size_t)n_rows;
    uint8_t *want = malloc(nbytes), *got = malloc(nbytes);
    ck_assert(src && want && got);
    static const float specials[] = {INFINITY, -INFINITY, NAN, -NAN};
    int n_modes = _i < N_QUANT_K ? 2 : 1, compared = 0;
    for (int pattern = 0; pattern < 6; pattern++)
        for (int mode = 0; mode < n_modes; mode++) {
            uint64_t s = (uint64_t)(pattern * 31 + 5);
            tc_corpus_fill(src, n, pattern % 2 ? 1 : 0, (uint64_t)pattern + 100);
            for (int64_t j = 0; j < n; j++) {
                uint64_t r = tc_rng_next(&s);
                if (pattern < 4 && r % (pattern < 2 ? 97 : 7) == 0)
                    src[j] = specials[(r >> 8) % (pattern < 2 ? 2 : 4)];
                else if (pattern == 4 && j < n / 2)
                    src[j] = specials[(r >> 8) % 4]; /* rows of nothing but Inf/NaN */
                else if (pattern == 5 && j % 256 == 255)
                    src[j] = specials[j / 256 % 4]; /* one special at the end of each block */
            }
            if (mode)
                tc_corpus_imatrix(imat, n_per_row, 9, 1);
            const float *qw = mode ? imat : NULL;
            if (!oracle_in_child(_i, src, want, n_rows, n_per_row, qw)) {
                fprintf(stderr,
                        "NOTE %s: ggml aborted on Inf/NaN pattern %d (imatrix %d): "
                        "case skipped\n",
                        ktypes[_i].ggml, pattern, mode);
                continue;
            }
            tc_isa isas[TC_ISA_COUNT];
            int n_isa = isas_to_check(ktypes[_i].t, 1, isas);
            for (int k = 0; k < n_isa; k++) {
                char label[96];
                snprintf(label, sizeof label, "Inf/NaN pattern %d imatrix %d [%s]", pattern, mode,
                         tc_isa_name(isas[k]));
                memset(got, 0xa5, nbytes);
                ck_assert_uint_eq(
                    tc_quantize_rows_isa(isas[k], ktypes[_i].t, src, got, n_rows, n_per_row, qw),
                    nbytes);
                tc_expect_same_quant(want, got, n_rows, n_per_row, ktypes[_i].t, label);
                compared++;
            }
        }
    ck_assert_int_gt(compared, 0);
    free(src);
    free(want);
    free(got);
}
END_TEST

/*
 * Odd blocks beyond the shared corpus: wide dynamic range, near-constant data, a few huge
 * outliers, subnormals mixed with ordinary values, quarter-step grids, +-Inf/NaN sprinkled in;
 * importance weights of 0, 1e-20, ordinary and 1e20. One block per case, every type, with and
 * without an imatrix. (A longer run of this found the make_qkx3_quants version difference noted
 * in ref_k.c.)
 */
static void odd_block(float *x, float *w, uint64_t *s, int kind)
{
    for (int i = 0; i < 256; i++) {
        float g = tc_rng_uniform(s) - 0.5f;
        uint64_t r = tc_rng_next(s);
        switch (kind) {
        case 0:
            x[i] = r % 4 == 0 ? 1e30f * g : g * 1e-30f;
            break;
        case 1:
            x[i] = r % 2 ? 1.0f : 1.0f + 1e-7f * (float)((r >> 8) % 3);
            break;
        case 2:
            x[i] = r % 16 == 0 ? -1e20f : 1e-20f * g;
            break;
        case 3:
            x[i] = (float)(r % 3) - 1.0f + ((r >> 8) % 8 == 0 ? 1e-6f * g : 0);
            break;
        case 4:
            x[i] = ldexpf(g, (int)(r % 200) - 100);
            break;
        case 5:
            x[i] = r % 32 == 0 ? 3e38f * g : g;
            break;
        case 6:
            x[i] = 5.0f + g * 1e-3f;
            break;
        case 7:
            x[i] = r % 2 ? -g : ldexpf(1.0f, -(int)((r >> 8) % 140));
            break;
        case 8:
            x[i] = r % 64 == 0 ? ((r >> 8) % 2 ? INFINITY : NAN) : g;
            break;
        default:
            x[i] = (float)((int)(g * 8)) / 4.0f;
            break;
        }
        int wk = (int)((r >> 16) % 4);
        float v = tc_rng_uniform(s);
        w[i] = wk == 0 ? 0.0f : wk == 1 ? 1e-20f * v : wk == 2 ? 10.0f * v : 1e20f * v;
    }
}

START_TEST(odd_blocks_match_ggml)
{
    SKIP_WITHOUT_ORACLE();
    const int n_cases = quick() ? 100 : 1000;
    float x[256], w[256];
    uint8_t want[292], got[292];
    uint64_t s = 0xabcdef + (uint64_t)_i;
    int n_modes = _i < N_QUANT_K ? 2 : 1;
    for (int c = 0; c < n_cases; c++)
        for (int mode = 0; mode < n_modes; mode++) {
            odd_block(x, w, &s, c % 10);
            char what[64];
            snprintf(what, sizeof what, "odd block %d kind %d imatrix %d", c, c % 10, mode);
            check_case(_i, x, 1, 256, mode ? w : NULL, want, got, what);
        }
}
END_TEST

/* A block (x[256] then imatrix w[256], f32 LE) on which the newer make_qkx3_quants rounding guard
 * gives other Q2_K bytes than the oracle's clamp: keeps us on the oracle's side. */
START_TEST(qkx3_edge_fixture)
{
    SKIP_WITHOUT_ORACLE();
    char path[1024];
    snprintf(path, sizeof path, "%s/fixtures/quant_k/qkx3_search_edge.f32", TC_SRC_DIR);
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    float xw[512];
    ck_assert_uint_eq(fread(xw, sizeof(float), 512, f), 512);
    fclose(f);
    uint8_t want[292], got[292];
    for (int i = 0; i < N_QUANT_K; i++) {
        check_case(i, xw, 1, 256, xw + 256, want, got, "qkx3 edge fixture, imatrix");
        check_case(i, xw, 1, 256, NULL, want, got, "qkx3 edge fixture");
    }
}
END_TEST

/* A random fp16 of one of several classes: ordinary, zero, subnormal, Inf, NaN, huge, tiny. */
static uint16_t random_half(uint64_t *s)
{
    uint64_t r = tc_rng_next(s);
    uint16_t sign = (uint16_t)((r >> 20) & 0x8000);
    switch (r % 16) {
    case 0:
        return sign; /* +-0 */
    case 1:
        return sign | (uint16_t)(1 + (r >> 24) % 0x3ff); /* subnormal */
    case 2:
        return sign | 0x7c00; /* Inf */
    case 3:
        return sign | 0x7c00 | (uint16_t)(1 + (r >> 24) % 0x3ff); /* NaN, quiet or signalling */
    case 4:
        return sign | (uint16_t)(0x7800 + (r >> 24) % 0x3ff); /* near the f16 max */
    default:
        /* ordinary: exponents 2^-14 .. 2^1 as real scales are */
        return sign | (uint16_t)(((1 + (r >> 24) % 16) << 10) | ((r >> 32) & 0x3ff));
    }
}

/* Random block bytes (with valid and special d/dmin) through every ISA vs dequantize_row_*. */
START_TEST(dequantize_matches_ggml)
{
    SKIP_WITHOUT_ORACLE();
    int t = ktypes[_i].t;
    tc_ggml_dequantize_fn deq = tc_oracle_dequantize(ktypes[_i].ggml);
    if (deq == NULL)
        TC_SKIP("dequantize_row_%s missing from the oracle", ktypes[_i].ggml);
    const int64_t nb = quick() ? 256 : 2048, n = nb * 256;
    size_t bs = tc_dtype_get(t)->size;
    uint8_t *blocks = malloc(bs * (size_t)nb);
    float *want = malloc(sizeof(float) * (size_t)n), *got = malloc(sizeof(float) * (size_t)n);
    ck_assert(blocks && want && got);
    uint64_t s = 0x1234 + (uint64_t)_i;
    for (size_t j = 0; j < bs * (size_t)nb; j++)
        blocks[j] = (uint8_t)tc_rng_next(&s);
    /* where each type keeps its f16 scales (ggml-common.h) */
    int off[2] = {-1, -1};
    switch (t) {
    case TC_DTYPE_Q2_K:
        off[0] = 80, off[1] = 82;
        break;
    case TC_DTYPE_Q3_K:
        off[0] = 108;
        break;
    case TC_DTYPE_Q4_K:
    case TC_DTYPE_Q5_K:
        off[0] = 0, off[1] = 2;
        break;
    case TC_DTYPE_Q6_K:
        off[0] = 208;
        break;
    default:
        break;
    }
    for (int64_t b = 0; b < nb; b++) {
        uint8_t *p = blocks + bs * (size_t)b;
        for (int k = 0; k < 2; k++)
            if (off[k] >= 0) {
                uint16_t h = random_half(&s);
                p[off[k]] = (uint8_t)h;
                p[off[k] + 1] = (uint8_t)(h >> 8);
            }
        if (t == TC_DTYPE_Q8_K) { /* f32 d: ordinary, or one of the f16 classes widened */
            uint64_t r = tc_rng_next(&s);
            float d = r % 4 ? ((float)(r >> 40) - 8388608.0f) * 1e-9f
                            : tc_f16_to_f32(random_half(&s)) * 0x1p-20f;
            if (r % 16 == 1)
                d = (r & 32) ? NAN : INFINITY;
            memcpy(p, &d, 4);
        }
    }
    deq(blocks, want, n);
    tc_isa isas[TC_ISA_COUNT];
    int n_isa = isas_to_check(t, 0, isas);
    ck_assert_int_gt(n_isa, 0);
    for (int k = 0; k < n_isa; k++) {
        memset(got, 0xa5, sizeof(float) * (size_t)n);
        ck_assert_int_eq(tc_to_f32_isa(isas[k], t, blocks, got, n), 0);
        if (memcmp(want, got, sizeof(float) * (size_t)n) != 0) {
            int64_t j = 0;
            while (memcmp(&want[j], &got[j], 4) == 0)
                j++;
            uint32_t a, b;
            memcpy(&a, &want[j], 4);
            memcpy(&b, &got[j], 4);
            ck_abort_msg("%s [%s]: element %lld (block %lld): ggml %08x, ours %08x",
                         ktypes[_i].ggml, tc_isa_name(isas[k]), (long long)j, (long long)(j / 256),
                         a, b);
        }
    }
    /* a block count that is not whole is refused */
    ck_assert_int_eq(tc_to_f32_isa(TC_ISA_SCALAR, t, blocks, got, 100), -1);
    free(blocks);
    free(want);
    free(got);
}
END_TEST

/* Quantizing then dequantizing ordinary data lands near the input (a sanity check that does not
 * depend on the oracle: catches a kernel table wired to the wrong type). */
START_TEST(round_trip_error_is_small)
{
    static const float max_rel[] = {0.45f, 0.3f, 0.15f, 0.08f, 0.04f, 0.01f}; /* rms err / rms */
    const int64_t n = 4096;
    float src[4096], back[4096];
    uint8_t q[292 * 16];
    int t = ktypes[_i].t;
    tc_corpus_fill(src, n, 0, 7);
    ck_assert_uint_eq(tc_quantize_rows_isa(TC_ISA_SCALAR, t, src, q, 1, n, NULL),
                      tc_row_size(t, n));
    ck_assert_int_eq(tc_to_f32_isa(TC_ISA_SCALAR, t, q, back, n), 0);
    double e2 = 0, x2 = 0;
    for (int64_t j = 0; j < n; j++) {
        e2 += (double)(back[j] - src[j]) * (back[j] - src[j]);
        x2 += (double)src[j] * src[j];
    }
    ck_assert_msg(sqrt(e2 / x2) < max_rel[_i], "%s: relative rms error %g", ktypes[_i].ggml,
                  sqrt(e2 / x2));
    /* and a partial block is refused */
    ck_assert_uint_eq(tc_quantize_rows_isa(TC_ISA_SCALAR, t, src, q, 1, 300, NULL), 0);
}
END_TEST

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts); /* CPU time: steadier on a shared machine */
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/*
 * Single-thread scalar throughput (MB/s of f32 input, 4096-wide gaussian rows), ours vs
 * ggml_quantize_chunk in this process, median of several runs; printed on stderr. The outputs
 * are compared too. TC_BENCH=1 measures a larger matrix with more runs.
 */
START_TEST(throughput_vs_ggml)
{
    SKIP_WITHOUT_ORACLE();
    const char *b = getenv("TC_BENCH");
    int bench = b && *b && strcmp(b, "0") != 0;
    const int64_t n_per_row = 4096, n_rows = bench ? 64 : (quick() ? 2 : 8);
    const int runs = bench ? 7 : 3;
    const int64_t n = n_per_row * n_rows;
    float *src = malloc(sizeof(float) * (size_t)n), *imat = malloc(sizeof(float) * 4096);
    size_t nbytes = tc_row_size(TC_DTYPE_Q8_K, n_per_row) * (size_t)n_rows; /* the largest */
    uint8_t *want = malloc(nbytes), *got = malloc(nbytes);
    ck_assert(src && imat && want && got);
    tc_corpus_fill(src, n, 1, 4242);
    tc_corpus_imatrix(imat, n_per_row, 4242, 0);
    for (int i = 0; i < N_QUANT_K; i++)
        for (int mode = 0; mode < 2; mode++) {
            int t = ktypes[i].t;
            const float *qw = mode ? imat : NULL;
            double ours[9], theirs[9];
            for (int r = 0; r < runs; r++) {
                double t0 = now_s();
                ck_assert(oracle_quantize(i, src, want, n_rows, n_per_row, qw));
                double t1 = now_s();
                tc_quantize_rows_isa(TC_ISA_SCALAR, t, src, got, n_rows, n_per_row, qw);
                double t2 = now_s();
                theirs[r] = t1 - t0;
                ours[r] = t2 - t1;
            }
            tc_expect_same_quant(want, got, n_rows, n_per_row, t, "throughput corpus");
            qsort(ours, (size_t)runs, sizeof(double), cmp_double);
            qsort(theirs, (size_t)runs, sizeof(double), cmp_double);
            double mb = (double)n * 4 / 1e6;
            fprintf(stderr, "BENCH %-5s imatrix=%d scalar %8.1f MB/s  ggml %8.1f MB/s  (x%.2f)\n",
                    ktypes[i].ggml, mode, mb / ours[runs / 2], mb / theirs[runs / 2],
                    theirs[runs / 2] / ours[runs / 2]);
        }
    free(src);
    free(imat);
    free(want);
    free(got);
}
END_TEST

Suite *quant_k_suite(void)
{
    Suite *s = suite_create("quant_k");
    TCase *tc = tcase_create("oracle");
    tcase_set_timeout(tc, 600);
    tcase_add_loop_test(tc, quantize_matches_ggml, 0, N_KTYPES);
    tcase_add_loop_test(tc, nonfinite_inputs_match_ggml, 0, N_KTYPES);
    tcase_add_loop_test(tc, odd_blocks_match_ggml, 0, N_KTYPES);
    tcase_add_test(tc, qkx3_edge_fixture);
    tcase_add_loop_test(tc, dequantize_matches_ggml, 0, N_KTYPES);
    tcase_add_loop_test(tc, round_trip_error_is_small, 0, N_KTYPES);
    tcase_add_test(tc, throughput_vs_ggml);
    suite_add_tcase(s, tc);
    return s;
}
