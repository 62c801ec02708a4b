/*
 * neon_selftest.c - run by scripts/ci/check_neon.sh under qemu-aarch64 (when installed): the NEON
 * kernel table (quant/neon.c) against the scalar reference table (ref_legacy.c, ref_k.c),
 * byte for byte on quantize and bit for bit on dequantize, over random and special inputs.
 * Prints one line per type and exits non-zero on the first difference.
 */
#include "kernels.h"
#include "tc_dtype.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t next(void)
{
    uint64_t z = (rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static float gauss(void)
{
    float u1 = (float)((next() >> 40) + 1) / 16777217.0f, u2 = (float)(next() >> 40) / 16777216.0f;
    return sqrtf(-2.0f * logf(u1)) * cosf(6.2831853f * u2);
}

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

int main(void)
{
    static tc_kernel_table ref, neon;
    tc_ref_register_legacy(&ref);
    tc_ref_register_k(&ref);
    neon = ref;
    tc_neon_register(&neon);
    enum { N = 256 * 24 };
    static float x[N], a[N], b[N];
    static uint8_t qa[N * 2], qb[N * 2];
    int checked = 0;
    for (int t = 0; t < TC_DTYPE_GGML_COUNT; t++) {
        const tc_dtype_info *d = tc_dtype_get(t);
        if (neon.quantize[t] != ref.quantize[t]) {
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
