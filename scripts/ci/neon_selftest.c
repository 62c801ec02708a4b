/*
 * neon_selftest.c - run by scripts/ci/check_neon.sh under qemu-aarch64 (when installed): the NEON
 * kernel table (quant/neon.c, neon_iq1q.c, neon_iq2q.c, neon_iq2s.c, neon_iq3q.c) against the
 * scalar reference table (ref_legacy.c, ref_k.c, ref_iq1_quant.c, ref_iq2_quant.c,
 * ref_iq3_quant.c), byte for byte on quantize and bit for bit on dequantize, over random and
 * special inputs. The grid quantizers (IQ1_S, IQ1_M, IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS, IQ3_S) get
 * their own cases: 1-3 rows of 256-1024, gaussian, tiny, huge, zero,
 * constant, all-negative and sparse rows and rows with Inf/NaN, each without importance weights,
 * with positive ones, with zeros among them, and with an Inf/NaN/huge weight; the rounds of those
 * are argv[1] (default 3). Prints one line per type and exits non-zero on the first difference.
 */
#include "iq1q.h"
#include "iq2q.h"
#include "iq2s.h"
#include "iq3q.h"
#include "kernels.h"
#include "neon_rng.h"
#include "tc_dtype.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void fill(float *x, int n, int kind)
{
    static const float specials[] = {INFINITY, -INFINITY, NAN, -0.0f, 1e-42f, 3e38f};
    for (int i = 0; i < n; i++) {
        float g = gauss();
        x[i] = kind == 0   ? g
               : kind == 1 ? g * 1e-3f
               : kind == 2 ? g * 3e4f
               : kind == 3 ? 0.0f
               : kind == 4 ? (float)(int)(g * 4) * 0.5f
                           : g * 1e-40f;
    }
    if (kind == 5)
        for (int k = 0; k < 8; k++)
            x[next() % (uint64_t)n] = specials[next() % 6];
}

/* the grid types: checked by grid_check (their own shapes, importance weights, degenerate rows) */
static int is_grid(int t)
{
    return t == TC_DTYPE_IQ1_S || t == TC_DTYPE_IQ1_M || t == TC_DTYPE_IQ2_XXS ||
           t == TC_DTYPE_IQ2_XS || t == TC_DTYPE_IQ2_S || t == TC_DTYPE_IQ3_XXS ||
           t == TC_DTYPE_IQ3_S;
}

/* Grid rows: kinds 0..5 of fill, then 6: a few huge values among gaussians, 7: one value per
 * block, the rest zero, 8: a constant row, 9: gaussians with every sign negative. */
static void grid_fill(float *x, int n, int kind)
{
    if (kind < 6) {
        fill(x, n, kind);
        return;
    }
    for (int i = 0; i < n; i++)
        x[i] = kind == 6 ? gauss() : kind == 7 ? 0.0f : kind == 8 ? 0.75f : -fabsf(gauss());
    if (kind == 6)
        for (int k = 0; k < 4; k++)
            x[next() % (uint64_t)n] = (next() & 1 ? 1.0f : -1.0f) * (next() & 2 ? 3e38f : 1e19f);
    if (kind == 7)
        for (int i = 0; i < n; i += 256)
            x[i + (int)(next() % 256)] = gauss();
}

/* Importance weights: mode 0 none, 1 positive, 2 with zeros, 3 with a few Inf/NaN/huge. */
static void grid_weights(float *w, int n, int mode)
{
    for (int i = 0; i < n; i++) {
        float g = gauss();
        w[i] = g * g + 1e-3f;
        if (mode == 2 && next() % 3 == 0)
            w[i] = 0.0f;
    }
    if (mode == 3) {
        static const float specials[] = {INFINITY, NAN, 3e38f, 0.0f};
        for (int k = 0; k < 3; k++)
            w[next() % (uint64_t)n] = specials[next() % 4];
    }
}

/* Every NEON grid quantizer against the reference: row lengths 256..1024, 1-3 rows, 10 data kinds,
 * 4 weight modes (none where ggml allows it; IQ2_XXS/IQ2_XS/IQ1_S need weights, both kernels
 * store zero blocks without, and that is checked too). Returns the number of cases, -1 on a
 * difference. */
static int grid_check(const tc_kernel_table *ref, const tc_kernel_table *neon, int t, int reps)
{
    enum { NMAX = 3 * 1024 };
    static float x[NMAX], w[1024];
    static uint8_t qa[NMAX], qb[NMAX];
    const tc_dtype_info *d = tc_dtype_get(t);
    int cases = 0;
    for (int rep = 0; rep < reps; rep++)
        for (int kind = 0; kind < 10; kind++)
            for (int mode = 0; mode < 4; mode++) {
                const int n_per_row = 256 * (1 + (int)(next() % 4)), rows = 1 + (int)(next() % 3);
                grid_fill(x, rows * n_per_row, kind);
                grid_weights(w, n_per_row, mode);
                const float *qw = mode ? w : NULL;
                const size_t bytes = (size_t)rows * n_per_row / d->blck * d->size;
                memset(qa, 1, bytes);
                memset(qb, 2, bytes);
                ref->quantize[t](x, qa, rows, n_per_row, qw);
                neon->quantize[t](x, qb, rows, n_per_row, qw);
                if (memcmp(qa, qb, bytes) != 0) {
                    printf("FAIL quantize %s rep %d kind %d weights %d (%d x %d)\n", d->name, rep,
                           kind, mode, rows, n_per_row);
                    return -1;
                }
                cases++;
            }
    return cases;
}

int main(int argc, char **argv)
{
    static tc_kernel_table ref, neon;
    rng = 0x9e3779b97f4a7c15ull;
    const int grid_reps = argc > 1 ? atoi(argv[1]) : 3;
    tc_ref_register_legacy(&ref);
    tc_ref_register_k(&ref);
    tc_ref_register_iq2_quant(&ref);
    tc_ref_register_iq3_quant(&ref);
    tc_ref_register_iq1_quant(&ref);
    /* without their tables the grid kernels hand every block to the reference: nothing tested */
    if (tc_iq2_lists_get(TC_DTYPE_IQ2_XXS) == NULL || tc_iq2_lists_get(TC_DTYPE_IQ2_XS) == NULL ||
        tc_iq2s_lists_get() == NULL || tc_iq3_lists_get(256) == NULL ||
        tc_iq3_lists_get(512) == NULL || tc_iq1_lists_get() == NULL) {
        printf("FAIL: grid search tables not built\n");
        return 1;
    }
    neon = ref;
    tc_neon_register(&neon);
    tc_neon_register_iq2q(&neon);
    tc_neon_register_iq2s(&neon);
    tc_neon_register_iq3q(&neon);
    tc_neon_register_iq1q(&neon);
    enum { N = 256 * 24 };
    static float x[N], a[N], b[N];
    static uint8_t qa[N * 2], qb[N * 2];
    int checked = 0;
    for (int t = 0; t < TC_DTYPE_GGML_COUNT; t++) {
        const tc_dtype_info *d = tc_dtype_get(t);
        if (neon.quantize[t] != ref.quantize[t] && is_grid(t)) {
            const int c = grid_check(&ref, &neon, t, grid_reps);
            if (c < 0)
                return 1;
            printf("ok quantize %s (%d cases)\n", d->name, c);
            checked += c;
        } else if (neon.quantize[t] != ref.quantize[t]) {
            for (int kind = 0; kind < 6; kind++)
                for (int rep = 0; rep < 20; rep++) {
                    fill(x, N, kind);
                    size_t bytes = (size_t)N / d->blck * d->size;
                    memset(qa, 1, bytes);
                    memset(qb, 2, bytes);
                    ref.quantize[t](x, qa, 2, N / 2, NULL);
                    neon.quantize[t](x, qb, 2, N / 2, NULL);
                    if (memcmp(qa, qb, bytes) != 0) {
                        printf("FAIL quantize %s kind %d\n", d->name, kind);
                        return 1;
                    }
                    checked++;
                }
            printf("ok quantize %s\n", d->name);
        }
        if (neon.dequantize[t] != ref.dequantize[t]) {
            for (int rep = 0; rep < 40; rep++) {
                size_t bytes = (size_t)N / d->blck * d->size;
                if (rep % 2) {
                    for (size_t i = 0; i < bytes; i++)
                        qa[i] = (uint8_t)next();
                } else {
                    fill(x, N, rep % 5);
                    ref.quantize[t](x, qa, 1, N, NULL);
                }
                memset(a, 1, sizeof a);
                memset(b, 2, sizeof b);
                ref.dequantize[t](qa, a, N);
                neon.dequantize[t](qa, b, N);
                if (memcmp(a, b, sizeof a) != 0) {
                    printf("FAIL dequantize %s rep %d\n", d->name, rep);
                    return 1;
                }
                checked++;
            }
            printf("ok dequantize %s\n", d->name);
        }
    }
    if (checked == 0) {
        printf("FAIL: no NEON kernel registered\n");
        return 1;
    }
    printf("neon selftest: %d cases identical\n", checked);
    return 0;
}
