/*
 * check_quant_legacy.c - the legacy / ternary / FP4 / IQ4 kernels (quant/ref_legacy.c) and the
 * F16/BF16 casts against llama.cpp's own libggml-base.so (tests/oracle.h), byte for byte:
 * - the dtype table against ggml_type_name / ggml_blck_size / ggml_type_size for every id;
 * - quantize: tc_quantize_rows_isa for every ISA this CPU runs vs ggml_quantize_chunk, over all
 *   corpus kinds, several seeds and row lengths, without and with an importance matrix (with
 *   and without zero weights), and rows salted with +-Inf, NaN, -0 and subnormals;
 * - dequantize: random blocks (normal, NaN, Inf, subnormal scales) through tc_to_f32_isa vs
 *   dequantize_row_<type>, compared by float bits;
 * - F16/BF16 rows incl. NaN, Inf, subnormals and exact rounding ties.
 * TC_TEST_QUICK=1 (sanitizer builds) shrinks the corpus.
 */
#include "oracle.h"
#include "quant.h"
#include "quant_types.h"
#include "tc_test.h"

#include <math.h>
#include <string.h>

/* The types this file covers (quant_types.h). */
#define legacy_types tc_legacy_types
#define N_LEGACY     TC_N_LEGACY_TYPES

static int quick(void)
{
    const char *q = getenv("TC_TEST_QUICK");
    return q && *q && strcmp(q, "0") != 0;
}

static uint32_t tc_f32_bits_test(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

/* Offset of the first differing byte, or -1. */
static long first_diff(const void *a, const void *b, size_t n)
{
    const uint8_t *x = a, *y = b;
    for (size_t i = 0; i < n; i++)
        if (x[i] != y[i])
            return (long)i;
    return -1;
}

/* ===== oracle-free checks (these run everywhere) ===== */

/* Blocks worked out by hand from the ggml block layouts (RESEARCH.md §4.2). */
START_TEST(hand_computed_blocks)
{
    float x[256];
    uint8_t y[256];
    /* Q4_0: x = -8..7 then 7..-8; max = -8 -> d = 1, q = x + 8 */
    for (int j = 0; j < 16; j++) {
        x[j] = (float)(j - 8);
        x[16 + j] = (float)(7 - j);
    }
    ck_assert_uint_eq(tc_quantize_rows_isa(TC_ISA_SCALAR, TC_DTYPE_Q4_0, x, y, 1, 32, NULL), 18);
    ck_assert(y[0] == 0x00 && y[1] == 0x3c);
    for (int j = 0; j < 16; j++)
        ck_assert_uint_eq(y[2 + j], (unsigned)(j | (15 - j) << 4));
    /* Q8_0: amax 127 -> d = 1, q = x */
    for (int j = 0; j < 32; j++)
        x[j] = (float)(j == 0 ? 127 : j == 1 ? -127 : 3 * j - 50);
    ck_assert_uint_eq(tc_quantize_rows_isa(TC_ISA_SCALAR, TC_DTYPE_Q8_0, x, y, 1, 32, NULL), 34);
    ck_assert(y[0] == 0x00 && y[1] == 0x3c);
    for (int j = 0; j < 32; j++)
        ck_assert_int_eq((int8_t)y[2 + j], (int)x[j]);
    /* TQ2_0: x in {-1,0,1}, d = 1, 2-bit code x+1; byte 32c+m holds elements 128c + m + 32n */
    for (int i = 0; i < 256; i++)
        x[i] = (float)(i * 7 % 3 - 1);
    ck_assert_uint_eq(tc_quantize_rows_isa(TC_ISA_SCALAR, TC_DTYPE_TQ2_0, x, y, 1, 256, NULL), 66);
    for (int c = 0; c < 2; c++)
        for (int m = 0; m < 32; m++) {
            unsigned want = 0;
            for (int n = 0; n < 4; n++)
                want |= (unsigned)(x[128 * c + m + 32 * n] + 1) << (2 * n);
            ck_assert_uint_eq(y[32 * c + m], want);
        }
    ck_assert(y[64] == 0x00 && y[65] == 0x3c);
    /* Q1_0: +-1 -> d = mean |x| = 1, bit j set where x >= 0 (LSB first) */
    for (int i = 0; i < 128; i++)
        x[i] = (i % 5 == 0) ? -1.0f : 1.0f;
    ck_assert_uint_eq(tc_quantize_rows_isa(TC_ISA_SCALAR, TC_DTYPE_Q1_0, x, y, 1, 128, NULL), 18);
    ck_assert(y[0] == 0x00 && y[1] == 0x3c);
    for (int b = 0; b < 16; b++) {
        unsigned want = 0;
        for (int k = 0; k < 8; k++)
            want |= (unsigned)((8 * b + k) % 5 != 0) << k;
        ck_assert_uint_eq(y[2 + b], want);
    }
}
END_TEST

/* Quantize then dequantize gaussian rows: the relative RMS error stays within each format's
 * resolution, for every ISA (a sanity check that needs no oracle). */
START_TEST(roundtrip_error_bounded)
{
    const int t = legacy_types[_i];
    /* bounds on RMS(err)/RMS(x) for N(0,1) data, with some headroom */
    double bound;
    switch (t) {
    case TC_DTYPE_Q8_0:
        bound = 0.01;
        break;
    case TC_DTYPE_Q5_0:
    case TC_DTYPE_Q5_1:
        bound = 0.05;
        break;
    case TC_DTYPE_Q4_0:
    case TC_DTYPE_Q4_1:
    case TC_DTYPE_IQ4_NL:
    case TC_DTYPE_IQ4_XS:
        bound = 0.12;
        break;
    case TC_DTYPE_MXFP4:
    case TC_DTYPE_NVFP4:
        bound = 0.2;
        break;
    default: /* Q1_0, Q2_0, TQ1_0, TQ2_0: one or two bits per weight */
        bound = 0.9;
        break;
    }
    const int64_t npr = 1024, rows = 8, n = npr * rows;
    static float x[8 * 1024], back[8 * 1024];
    static uint8_t q[8 * 1024 * 2];
    tc_corpus_fill(x, n, 0, 5);
    for (int isa = 0; isa < TC_ISA_COUNT; isa++) {
        if (!tc_isa_supported((tc_isa)isa))
            continue;
        ck_assert_uint_eq(tc_quantize_rows_isa((tc_isa)isa, t, x, q, rows, npr, NULL),
                          (size_t)tc_row_size(t, npr) * rows);
        ck_assert_int_eq(tc_to_f32_isa((tc_isa)isa, t, q, back, n), 0);
        double e2 = 0, x2 = 0;
        for (int64_t i = 0; i < n; i++) {
            e2 += (double)(back[i] - x[i]) * (back[i] - x[i]);
            x2 += (double)x[i] * x[i];
        }
        ck_assert_msg(sqrt(e2 / x2) < bound, "%s %s: relative RMS error %.4f >= %.2f",
                      tc_dtype_get(t)->name, tc_isa_name((tc_isa)isa), sqrt(e2 / x2), bound);
    }
}
END_TEST

/* ===== dtype table ===== */

START_TEST(dtype_ids_match_ggml)
{
    typedef const char *(*name_fn)(int);
    typedef int64_t (*blck_fn)(int);
    typedef size_t (*size_fn)(int);
    name_fn nm = (name_fn)tc_oracle_sym("ggml_type_name");
    blck_fn bs = (blck_fn)tc_oracle_sym("ggml_blck_size");
    size_fn ts = (size_fn)tc_oracle_sym("ggml_type_size");
    if (nm == NULL || bs == NULL || ts == NULL)
        TC_SKIP("libggml-base.so not found under %s/llama", TC_ORACLE_DIR);
    int checked = 0;
    for (int t = 0; t < TC_DTYPE_GGML_COUNT; t++) {
        const tc_dtype_info *d = tc_dtype_get(t);
        if (d == NULL) { /* retired id: ggml has no block size for it either */
            ck_assert_msg(bs(t) == 0, "id %d is retired here but ggml has '%s'", t, nm(t));
            continue;
        }
        ck_assert_msg(strcmp(d->name, nm(t)) == 0, "id %d: '%s' vs ggml '%s'", t, d->name, nm(t));
        ck_assert_msg((int64_t)d->blck == bs(t), "%s: block %u vs ggml %lld", d->name, d->blck,
                      (long long)bs(t));
        ck_assert_msg(d->size == ts(t), "%s: size %u vs ggml %zu", d->name, d->size, ts(t));
        ck_assert_int_eq(d->is_quant, d->blck > 1);
        checked++;
    }
    ck_assert_int_ge(checked, 35);
}
END_TEST

/* ===== quantize ===== */

typedef struct qcase {
    int t;
    const float *src;
    int64_t n_rows, n_per_row;
    const float *imatrix;
    const char *what; /* description for failure messages */
} qcase;

/* Quantize with ggml and with every supported ISA; fail on the first byte that differs. */
static void check_quant(tc_ggml_quantize_chunk_fn q, const qcase *c, uint8_t *want, uint8_t *got)
{
    size_t n = (size_t)tc_row_size(c->t, c->n_per_row) * (size_t)c->n_rows;
    size_t wn = q(c->t, c->src, want, 0, c->n_rows, c->n_per_row, c->imatrix);
    ck_assert_uint_eq(wn, n);
    for (int isa = 0; isa < TC_ISA_COUNT; isa++) {
        if (!tc_isa_supported((tc_isa)isa))
            continue;
        memset(got, 0xA5, n);
        size_t gn = tc_quantize_rows_isa((tc_isa)isa, c->t, c->src, got, c->n_rows, c->n_per_row,
                                         c->imatrix);
        ck_assert_msg(gn == n, "%s %s: wrote %zu bytes, want %zu", tc_dtype_get(c->t)->name,
                      tc_isa_name((tc_isa)isa), gn, n);
        long at = first_diff(got, want, n);
        ck_assert_msg(at < 0, "%s %s (%s, %lld x %lld, imatrix %s): byte %ld is %02x, ggml %02x",
                      tc_dtype_get(c->t)->name, tc_isa_name((tc_isa)isa), c->what,
                      (long long)c->n_rows, (long long)c->n_per_row, c->imatrix ? "yes" : "no", at,
                      at < 0 ? 0 : got[at], at < 0 ? 0 : want[at]);
    }
}

#define MAX_ROW  4096
#define MAX_ROWS 4

START_TEST(quantize_matches_ggml)
{
    const int t = legacy_types[_i];
    const tc_dtype_info *d = tc_dtype_get(t);
    tc_ggml_quantize_chunk_fn q = tc_oracle_quantize(t);
    if (q == NULL)
        TC_SKIP("libggml-base.so not found under %s/llama", TC_ORACLE_DIR);
    static const int64_t lens[] = {32, 64, 128, 256, 512, 768, 1024, 1536, 4096};
    const int n_lens = quick() ? 5 : (int)(sizeof lens / sizeof lens[0]);
    const int n_seeds = quick() ? 1 : 3;
    static float src[MAX_ROWS * MAX_ROW], imat[MAX_ROW];
    static uint8_t want[MAX_ROWS * MAX_ROW * 2], got[MAX_ROWS * MAX_ROW * 2];
    char what[96];
    int ran = 0;
    for (int li = 0; li < n_lens; li++) {
        const int64_t npr = lens[li];
        if (npr % d->blck != 0)
            continue;
        const int64_t rows = npr >= 1024 ? 2 : MAX_ROWS;
        for (int kind = 0; kind < TC_CORPUS_KINDS; kind++)
            for (int seed = 1; seed <= n_seeds; seed++) {
                tc_corpus_fill(src, rows * npr, kind, (uint64_t)(seed * 1000 + li));
                for (int im = 0; im < 3; im++) {
                    if (im > 0)
                        tc_corpus_imatrix(imat, npr, (uint64_t)(seed * 31 + li), im == 2);
                    snprintf(what, sizeof what, "kind %d seed %d%s", kind, seed,
                             im == 2 ? " imatrix with zeros" : "");
                    qcase c = {t, src, rows, npr, im ? imat : NULL, what};
                    check_quant(q, &c, want, got);
                    ran++;
                }
            }
    }
    ck_assert_int_gt(ran, 0);
}
END_TEST

/* Rows salted with non-finite and edge values at random places (and whole-row cases). */
START_TEST(quantize_special_values_match_ggml)
{
    const int t = legacy_types[_i];
    const tc_dtype_info *d = tc_dtype_get(t);
    tc_ggml_quantize_chunk_fn q = tc_oracle_quantize(t);
    if (q == NULL)
        TC_SKIP("libggml-base.so not found under %s/llama", TC_ORACLE_DIR);
    static const float specials[] = {INFINITY,   -INFINITY, NAN,      -NAN,     -0.0f, 0x1p-149f,
                                     -0x1p-140f, 3.0e38f,   -3.4e38f, 65520.0f, 1e-45f};
    const int n_special = (int)(sizeof specials / sizeof specials[0]);
    const int64_t npr = d->blck >= 256 ? 512 : 256, rows = 4;
    static float src[4 * 512], imat[512];
    static uint8_t want[4 * 512 * 2], got[4 * 512 * 2];
    char what[96];
    const int rounds = quick() ? 24 : 200;
    uint64_t s = 77 + (uint64_t)t;
    for (int r = 0; r < rounds; r++) {
        const int kind = r % TC_CORPUS_KINDS;
        tc_corpus_fill(src, rows * npr, kind, (uint64_t)r);
        /* 1..6 specials per row, anywhere in the row (even rounds) or all in its first block
         * (odd rounds, so NaNs of both signs meet in one block); rounds below n_special also
         * fill the whole first row with one special */
        const uint64_t span = (r & 1) ? 32 : (uint64_t)npr;
        for (int64_t row = 0; row < rows; row++) {
            int k = 1 + (int)(tc_rng_next(&s) % 6);
            for (int j = 0; j < k; j++)
                src[row * npr + (int64_t)(tc_rng_next(&s) % span)] =
                    specials[tc_rng_next(&s) % (uint64_t)n_special];
        }
        if (r < n_special)
            for (int64_t j = 0; j < npr; j++)
                src[j] = specials[r];
        tc_corpus_imatrix(imat, npr, (uint64_t)r, r & 1);
        for (int im = 0; im < 2; im++) {
            snprintf(what, sizeof what, "special round %d (kind %d)", r, kind);
            qcase c = {t, src, rows, npr, im ? imat : NULL, what};
            check_quant(q, &c, want, got);
        }
    }
}
END_TEST

/*
 * Hand-made rows aimed at known traps, for every type, with and without an imatrix:
 * 0: near-constant negative blocks plus far outliers of zero weight (make_qkx3_quants moves its
 *    minimum next to the maximum, so the outliers' levels come from out-of-range nearest_int);
 * 1: values on exact rounding midpoints of the 4-bit grids and of x*id + 8.5;
 * 2: block maxima just below and at powers of two (MXFP4's floorf(log2f(amax)), UE4M3 carries);
 * 3: one huge value among tiny ones (subnormal and overflowing inverse scales).
 */
START_TEST(quantize_crafted_match_ggml)
{
    const int t = legacy_types[_i];
    const tc_dtype_info *d = tc_dtype_get(t);
    tc_ggml_quantize_chunk_fn q = tc_oracle_quantize(t);
    if (q == NULL)
        TC_SKIP("libggml-base.so not found under %s/llama", TC_ORACLE_DIR);
    const int64_t npr = 512, rows = 4;
    static float src[4 * 512], imat[512];
    static uint8_t want[4 * 512 * 2], got[4 * 512 * 2];
    static const int8_t grid[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                    1,    13,   25,  38,  53,  69,  89,  113};
    char what[96];
    uint64_t s = 4242 + (uint64_t)t;
    const int rounds = quick() ? 8 : 60;
    for (int r = 0; r < rounds; r++) {
        const int mode = r % 4;
        for (int64_t i = 0; i < rows * npr; i++) {
            const int64_t blk = i / 32;
            const float u = tc_rng_uniform(&s);
            switch (mode) {
            case 0: {
                float delta = powf(10.0f, -3.0f - 5.0f * (float)((blk * 7 + r) % 11) / 11.0f);
                src[i] = u < 0.5f ? -1.0f : -1.0f - delta;
                break;
            }
            case 1: {
                int k = (int)(tc_rng_next(&s) % 15);
                float scale = 0.01f * (float)(1 + blk % 9);
                src[i] = (i % 3 == 0) ? scale * (grid[k] + grid[k + 1]) * 0.5f
                                      : scale * (float)((int)(tc_rng_next(&s) % 17) - 8) * 0.5f;
                break;
            }
            case 2: {
                int e = (int)(blk % 40) - 20;
                float top = ldexpf((blk & 1) ? 1.0f - 0x1p-24f : 1.0f, e);
                src[i] = (i % 32 == 5) ? top : top * (u - 0.5f);
                break;
            }
            default:
                src[i] = (i % 64 == 9) ? 1e30f * (u - 0.5f) : 1e-38f * (u - 0.5f);
                break;
            }
        }
        for (int64_t j = 0; j < npr; j++)
            imat[j] = (mode == 0 && tc_rng_next(&s) % 8 == 0) ? 0.0f : 0.5f + tc_rng_uniform(&s);
        if (mode == 0) /* far outliers where the weight is zero */
            for (int64_t i = 0; i < rows * npr; i++)
                if (imat[i % npr] == 0.0f)
                    src[i] = -1.0f - 200.0f * tc_rng_uniform(&s);
        for (int im = 0; im < 2; im++) {
            snprintf(what, sizeof what, "crafted mode %d round %d", mode, r);
            qcase c = {t, src, rows, npr % d->blck ? d->blck : npr, im ? imat : NULL, what};
            check_quant(q, &c, want, got);
        }
    }
}
END_TEST

/* Importance matrices a broken imatrix file could hold: all zero, NaN, negative, Inf, and half
 * zero / half huge. ggml uses them as they are; so do we. */
START_TEST(quantize_degenerate_imatrix_match_ggml)
{
    const int t = legacy_types[_i];
    tc_ggml_quantize_chunk_fn q = tc_oracle_quantize(t);
    if (q == NULL)
        TC_SKIP("libggml-base.so not found under %s/llama", TC_ORACLE_DIR);
    static float src[2 * 512], imat[512];
    static uint8_t want[2 * 512 * 2], got[2 * 512 * 2];
    char what[96];
    for (int mode = 0; mode < 5; mode++)
        for (int kind = 0; kind < TC_CORPUS_KINDS; kind += quick() ? 3 : 1) {
            tc_corpus_fill(src, 2 * 512, kind, (uint64_t)(mode + 7));
            for (int i = 0; i < 512; i++)
                imat[i] = mode == 0   ? 0.0f
                          : mode == 1 ? NAN
                          : mode == 2 ? -1.0f - (float)(i % 3)
                          : mode == 3 ? INFINITY
                                      : (i < 256 ? 0.0f : 1e30f);
            snprintf(what, sizeof what, "degenerate imatrix %d, kind %d", mode, kind);
            qcase c = {t, src, 2, 512, imat, what};
            check_quant(q, &c, want, got);
        }
}
END_TEST

/* ===== dequantize ===== */

/* Byte offsets of the fp16 scale fields of each type's block (-1 ends the list). */
static void f16_fields(int t, int off[3])
{
    off[0] = off[1] = off[2] = -1;
    switch (t) {
    case TC_DTYPE_Q4_1:
    case TC_DTYPE_Q5_1:
        off[0] = 0;
        off[1] = 2;
        break;
    case TC_DTYPE_TQ1_0:
        off[0] = 52;
        break;
    case TC_DTYPE_TQ2_0:
        off[0] = 64;
        break;
    case TC_DTYPE_MXFP4: /* E8M0 / UE4M3 byte scales: plain random bytes cover every code */
    case TC_DTYPE_NVFP4:
        break;
    default:
        off[0] = 0;
        break;
    }
}

START_TEST(dequantize_matches_ggml)
{
    const int t = legacy_types[_i];
    const tc_dtype_info *d = tc_dtype_get(t);
    tc_ggml_dequantize_fn deq = tc_oracle_dequantize(d->name);
    if (deq == NULL)
        TC_SKIP("dequantize_row_%s not in libggml-base.so under %s/llama", d->name, TC_ORACLE_DIR);
    static const uint16_t special_h[] = {0x7c00, 0xfc00, 0x7e00, 0xfe00, 0x7c01, 0x7dff,
                                         0x0001, 0x8001, 0x03ff, 0x0000, 0x8000, 0x7bff};
    const int nblocks = quick() ? 256 : 4096;
    const size_t nbytes = (size_t)nblocks * d->size;
    const int64_t n = (int64_t)nblocks * d->blck;
    uint8_t *blocks = malloc(nbytes);
    float *want = malloc((size_t)n * 4), *got = malloc((size_t)n * 4);
    ck_assert(blocks && want && got);
    uint64_t s = 1234 + (uint64_t)t;
    for (size_t i = 0; i < nbytes; i++)
        blocks[i] = (uint8_t)tc_rng_next(&s);
    int off[3];
    f16_fields(t, off);
    for (int b = 0; b < nblocks; b++)
        for (int k = 0; k < 3 && off[k] >= 0; k++) {
            uint8_t *p = blocks + (size_t)b * d->size + off[k];
            uint64_t r = tc_rng_next(&s);
            uint16_t h;
            if (r % 8 == 0) /* a special half: NaN, Inf, subnormal, zero, max */
                h = special_h[(r >> 8) % (sizeof special_h / sizeof special_h[0])];
            else /* a finite half of a sane magnitude, either sign */
                h = (uint16_t)(((r >> 8) & 0x8000) | ((1 + (r >> 16) % 29) << 10) |
                               ((r >> 32) & 0x3ff));
            p[0] = (uint8_t)h;
            p[1] = (uint8_t)(h >> 8);
        }
    deq(blocks, want, n);
    for (int isa = 0; isa < TC_ISA_COUNT; isa++) {
        if (!tc_isa_supported((tc_isa)isa))
            continue;
        memset(got, 0xA5, (size_t)n * 4);
        ck_assert_int_eq(tc_to_f32_isa((tc_isa)isa, t, blocks, got, n), 0);
        long at = first_diff(got, want, (size_t)n * 4);
        ck_assert_msg(at < 0, "%s %s: element %ld is %a (%08x), ggml %a (%08x)", d->name,
                      tc_isa_name((tc_isa)isa), at / 4, (double)got[at < 0 ? 0 : at / 4],
                      at < 0 ? 0 : tc_f32_bits_test(got[at / 4]), (double)want[at < 0 ? 0 : at / 4],
                      at < 0 ? 0 : tc_f32_bits_test(want[at / 4]));
    }
    free(blocks);
    free(want);
    free(got);
}
END_TEST

/* ===== F16 / BF16 rows ===== */

START_TEST(f16_bf16_rows_match_ggml)
{
    const int t = _i == 0 ? TC_DTYPE_F16 : TC_DTYPE_BF16;
    tc_ggml_quantize_chunk_fn q = tc_oracle_quantize(t);
    if (q == NULL)
        TC_SKIP("libggml-base.so not found under %s/llama", TC_ORACLE_DIR);
    const int64_t npr = 1024, rows = quick() ? 16 : 256;
    float *src = malloc((size_t)(npr * rows) * 4);
    uint8_t *want = malloc((size_t)(npr * rows) * 2), *got = malloc((size_t)(npr * rows) * 2);
    ck_assert(src && want && got);
    uint64_t s = 99;
    for (int64_t i = 0; i < npr * rows; i++) {
        uint64_t r = tc_rng_next(&s);
        uint32_t u = (uint32_t)r;
        switch ((r >> 32) % 6) {
        case 0: /* any bit pattern: NaNs with payloads, Infs, subnormals */
            break;
        case 1: /* the f16 range, incl. f16 subnormals and overflow */
            u = (u & 0x807fffffu) | ((uint32_t)(96 + (r >> 40) % 50) << 23);
            break;
        case 2: /* exact f16 ties: 13 dropped bits = 1000000000000 */
            u = (u & 0x807fe000u) | 0x1000u | ((uint32_t)(103 + (r >> 40) % 40) << 23);
            break;
        case 3: /* exact bf16 ties: 16 dropped bits = 0x8000 */
            u = (u & 0xffff0000u) | 0x8000u;
            break;
        case 4: /* NaN with a random payload, quiet or signalling, either sign */
            u = (u & 0x807fffffu) | 0x7f800001u;
            break;
        default:
            u = (u & 0x80000000u) | (uint32_t)((r >> 40) % 4 == 0 ? 0x7f800000u : 0u);
            break;
        }
        memcpy(&src[i], &u, 4);
    }
    size_t n = (size_t)(npr * rows) * 2;
    ck_assert_uint_eq(q(t, src, want, 0, rows, npr, NULL), n);
    for (int isa = 0; isa < TC_ISA_COUNT; isa++) {
        if (!tc_isa_supported((tc_isa)isa))
            continue;
        memset(got, 0xA5, n);
        ck_assert_uint_eq(tc_quantize_rows_isa((tc_isa)isa, t, src, got, rows, npr, NULL), n);
        long at = first_diff(got, want, n);
        ck_assert_msg(at < 0, "%s %s: value %ld (%08x) -> %02x%02x, ggml %02x%02x",
                      t == TC_DTYPE_F16 ? "f16" : "bf16", tc_isa_name((tc_isa)isa), at / 2,
                      at < 0 ? 0 : tc_f32_bits_test(src[at / 2]), got[at | 1], got[at & ~1L],
                      want[at | 1], want[at & ~1L]);
    }
    free(src);
    free(want);
    free(got);
}
END_TEST

Suite *quant_legacy_suite(void)
{
    Suite *s = suite_create("quant_legacy");
    TCase *tl = tcase_create("local");
    tcase_add_test(tl, hand_computed_blocks);
    tcase_add_loop_test(tl, roundtrip_error_bounded, 0, N_LEGACY);
    suite_add_tcase(s, tl);
    TCase *tc = tcase_create("oracle");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, dtype_ids_match_ggml);
    tcase_add_loop_test(tc, quantize_matches_ggml, 0, N_LEGACY);
    tcase_add_loop_test(tc, quantize_special_values_match_ggml, 0, N_LEGACY);
    tcase_add_loop_test(tc, quantize_crafted_match_ggml, 0, N_LEGACY);
    tcase_add_loop_test(tc, quantize_degenerate_imatrix_match_ggml, 0, N_LEGACY);
    tcase_add_loop_test(tc, dequantize_matches_ggml, 0, N_LEGACY);
    tcase_add_loop_test(tc, f16_bf16_rows_match_ggml, 0, 2);
    suite_add_tcase(s, tc);
    return s;
}
