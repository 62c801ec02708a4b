/*
 * iq_dequant.c - single-core throughput of the IQ grid-type dequantizers (GB/s of f32
 * output): tensorcast's scalar reference, its AVX2 kernels, and llama.cpp's dequantize_row_<type>.
 *
 * Build and run (from the repository root, after building into build/):
 *   cc -O2 -std=gnu11 -Iquant -o /tmp/bench_iq scripts/bench/iq_dequant.c build/libtensorcast.a \
 *      -ldl -lm -lpthread
 *   /tmp/bench_iq .oracle/llama/libggml-base.so [n_elements]
 * Data: random block bytes with d = 1.0; best of 7 runs over the whole buffer.
 */
#include "avx2_iq.h"
#include "kernels.h"
#include "quant.h"

#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

typedef void (*deq_fn)(const void *src, float *dst, int64_t k);

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static double gbps(deq_fn f, const void *q, float *y, int64_t n)
{
    if (f == NULL)
        return 0;
    double best = 1e9;
    for (int r = 0; r < 7; r++) {
        double t0 = now();
        f(q, y, n);
        double t = now() - t0;
        if (t < best)
            best = t;
    }
    return (double)n * 4 / best / 1e9;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_iq path/to/libggml-base.so [n_elements]\n");
        return 1;
    }
    void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (h == NULL) {
        fprintf(stderr, "%s\n", dlerror());
        return 1;
    }
    int64_t n = argc > 2 ? atoll(argv[2]) : (int64_t)1 << 22;
    n = (n + 255) / 256 * 256;
    static const int types[] = {TC_DTYPE_IQ2_XXS, TC_DTYPE_IQ2_XS, TC_DTYPE_IQ2_S, TC_DTYPE_IQ3_XXS,
                                TC_DTYPE_IQ3_S,   TC_DTYPE_IQ1_S,  TC_DTYPE_IQ1_M};
    float *y = malloc((size_t)n * sizeof(float));
    uint8_t *q = malloc((size_t)n); /* more than any of these types needs */
    if (y == NULL || q == NULL)
        return 1;
    uint64_t s = 1;
    for (int64_t i = 0; i < n; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        q[i] = (uint8_t)(s >> 56);
    }
    tc_kernel_table ref = {0}, avx2 = {0};
    tc_ref_register_iq(&ref);
    if (tc_isa_supported(TC_ISA_AVX2))
        tc_avx2_register_iq(&avx2);
    printf("%-8s %8s %8s %8s   GB/s of f32 output, 1 core, %lld elements\n", "type", "ref", "avx2",
           "ggml", (long long)n);
    for (size_t k = 0; k < sizeof types / sizeof types[0]; k++) {
        const int t = types[k];
        const tc_dtype_info *d = tc_dtype_get(t);
        for (int64_t b = 0; b < n / 256; b++) {
            uint8_t *p = q + b * d->size;
            if (t != TC_DTYPE_IQ1_M) { /* d = 1.0; IQ1_M keeps random scale nibbles */
                p[0] = 0x00;
                p[1] = 0x3c;
            }
        }
        char sym[64];
        snprintf(sym, sizeof sym, "dequantize_row_%s", d->name);
        deq_fn g = (deq_fn)dlsym(h, sym);
        printf("%-8s %8.2f %8.2f %8.2f\n", d->name, gbps(ref.dequantize[t], q, y, n),
               gbps(avx2.dequantize[t], q, y, n), gbps(g, q, y, n));
    }
    free(y);
    free(q);
    return 0;
}
