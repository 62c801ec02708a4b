/*
 * dispatch.c - run-time choice of kernels: one table per ISA, filled once (reference first, then
 * the ISA's overrides), chosen from CPUID or forced with TC_ISA=scalar|avx2|avx512|neon.
 */
#include "avx2_iq.h"
#include "iq1q.h"
#include "iq2s.h"
#include "iq3q.h"
#include "kernels.h"
#include "quant.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#endif
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const isa_names[TC_ISA_COUNT] = {"scalar", "avx2", "avx512", "neon"};

const char *tc_isa_name(tc_isa isa)
{
    return (unsigned)isa < TC_ISA_COUNT ? isa_names[isa] : "?";
}

#if defined(__x86_64__) && defined(__GNUC__)
/* CPUID.1:ECX bit 29 (clang 14's __builtin_cpu_supports does not know "f16c"). AVX2 being
 * usable already implies the OS saves the YMM state F16C needs. */
static int has_f16c(void)
{
    unsigned a, b, c, d;
    return __get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 29)) != 0;
}
#endif

static int isa_probe(tc_isa isa);

/* Probed once per ISA (cpuid traps to the hypervisor in a VM: not something to do per call). */
int tc_isa_supported(tc_isa isa)
{
    static _Atomic int known[TC_ISA_COUNT]; /* 0 unknown, 1 no, 2 yes */
    if ((int)isa < 0 || isa >= TC_ISA_COUNT)
        return 0;
    int k = atomic_load_explicit(&known[isa], memory_order_relaxed);
    if (k == 0) {
        k = isa_probe(isa) ? 2 : 1;
        atomic_store_explicit(&known[isa], k, memory_order_relaxed);
    }
    return k == 2;
}

static int isa_probe(tc_isa isa)
{
    switch (isa) {
    case TC_ISA_SCALAR:
        return 1;
#if defined(__x86_64__) && defined(__GNUC__)
    case TC_ISA_AVX2:
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && has_f16c();
    case TC_ISA_AVX512:
        __builtin_cpu_init();
        return tc_isa_supported(TC_ISA_AVX2) && __builtin_cpu_supports("avx512f") &&
               __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
               __builtin_cpu_supports("avx512dq");
#endif
#if defined(__aarch64__)
    case TC_ISA_NEON:
        return 1;
#endif
    default:
        return 0;
    }
}

static tc_kernel_table tables[TC_ISA_COUNT];
static int table_ok[TC_ISA_COUNT];
static int env_state; /* TC_ISA: 0 unset or valid, 1 unknown name, 2 unavailable here */
static tc_isa active = TC_ISA_SCALAR;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void build_tables(void)
{
    for (int i = 0; i < TC_ISA_COUNT; i++) {
        if (!tc_isa_supported((tc_isa)i))
            continue;
        tc_kernel_table *k = &tables[i];
        tc_ref_register_legacy(k);
        tc_ref_register_k(k);
        tc_ref_register_iq(k);
        tc_ref_register_iq2_quant(k);
        tc_ref_register_iq3_quant(k);
        tc_ref_register_iq1_quant(k);
        if (i == TC_ISA_AVX2 || i == TC_ISA_AVX512) {
            tc_avx2_register_iq(k);
            tc_avx2_register(k);
            tc_avx2_register_iq2q(k);
            tc_avx2_register_iq3q(k);
            tc_avx2_register_iq2s(k);
            tc_avx2_register_iq1q(k);
        }
        if (i == TC_ISA_AVX512) {
            tc_avx512_register(k);
            tc_avx512_register_iq2q(k);
            tc_avx512_register_iq3q(k);
            tc_avx512_register_iq2s(k);
            tc_avx512_register_iq1q(k);
        }
        if (i == TC_ISA_NEON) {
            tc_neon_register(k);
            tc_neon_register_iq2q(k);
            tc_neon_register_iq2s(k);
            tc_neon_register_iq3q(k);
            tc_neon_register_iq1q(k);
        }
        table_ok[i] = 1;
    }
    for (int i = TC_ISA_COUNT - 1; i >= 0; i--)
        if (table_ok[i]) {
            active = (tc_isa)i;
            break;
        }
    const char *want = getenv("TC_ISA");
    if (want && *want) {
        env_state = 1; /* unknown until a name matches */
        for (int i = 0; i < TC_ISA_COUNT; i++)
            if (strcmp(want, isa_names[i]) == 0) {
                env_state = table_ok[i] ? 0 : 2;
                if (table_ok[i])
                    active = (tc_isa)i;
            }
    }
}

int tc_isa_env_check(char *msg, size_t cap)
{
    pthread_once(&once, build_tables);
    if (env_state == 0)
        return 0;
    char avail[64] = "";
    size_t k = 0;
    for (int i = 0; i < TC_ISA_COUNT; i++)
        if (table_ok[i])
            k += (size_t)snprintf(avail + k, k < sizeof avail ? sizeof avail - k : 0, "%s%s",
                                  k ? ", " : "", isa_names[i]);
    snprintf(msg, cap, "TC_ISA=%s: %s (this machine: %s)", getenv("TC_ISA"),
             env_state == 1 ? "unknown kernel set (scalar, avx2, avx512, neon)"
                            : "not supported by this CPU",
             avail);
    return -1;
}

const tc_kernel_table *tc_kernels(int isa)
{
    pthread_once(&once, build_tables);
    if (isa < 0 || isa >= TC_ISA_COUNT || !table_ok[isa])
        return NULL;
    return &tables[isa];
}

tc_isa tc_isa_active(void)
{
    pthread_once(&once, build_tables);
    return active;
}

static int is_plain_float(int t)
{
    return t == TC_DTYPE_F32 || t == TC_DTYPE_F16 || t == TC_DTYPE_BF16 || t == TC_DTYPE_F64;
}

int tc_can_quantize(tc_dtype t)
{
    if (is_plain_float(t))
        return 1;
    const tc_kernel_table *k = tc_kernels(TC_ISA_SCALAR);
    return t >= 0 && t < TC_DTYPE_GGML_COUNT && k->quantize[t] != NULL;
}

int tc_can_dequantize(tc_dtype t)
{
    const tc_dtype_info *d = tc_dtype_get(t);
    if (d == NULL)
        return 0;
    if (!d->is_quant)
        return 1;
    return t < TC_DTYPE_GGML_COUNT && tc_kernels(TC_ISA_SCALAR)->dequantize[t] != NULL;
}

int tc_requires_imatrix(tc_dtype t)
{
    return t == TC_DTYPE_IQ2_XXS || t == TC_DTYPE_IQ2_XS || t == TC_DTYPE_IQ1_S;
}

size_t tc_quantize_rows_isa(tc_isa isa, tc_dtype t, const float *src, void *dst, int64_t n_rows,
                            int64_t n_per_row, const float *imatrix)
{
    const tc_kernel_table *k = tc_kernels((int)isa);
    const tc_dtype_info *d = tc_dtype_get(t);
    uint64_t rs = tc_row_size(t, n_per_row), total;
    if (k == NULL || d == NULL || n_rows < 0 || n_per_row <= 0 || rs == 0 ||
        __builtin_mul_overflow(rs, (uint64_t)n_rows, &total))
        return 0;
    if (!d->is_quant) {
        if (!is_plain_float(t) || tc_cast_from_f32_isa(isa, t, src, dst, n_rows * n_per_row) != 0)
            return 0;
        return (size_t)total;
    }
    if (t >= TC_DTYPE_GGML_COUNT || k->quantize[t] == NULL)
        return 0;
    if (imatrix == NULL && tc_requires_imatrix(t))
        return 0; /* as ggml_quantize_chunk, which asserts */
    if (n_rows > 0)
        k->quantize[t](src, dst, n_rows, n_per_row, imatrix);
    return (size_t)total;
}

size_t tc_quantize_rows(tc_dtype t, const float *src, void *dst, int64_t n_rows, int64_t n_per_row,
                        const float *imatrix)
{
    return tc_quantize_rows_isa(tc_isa_active(), t, src, dst, n_rows, n_per_row, imatrix);
}

int tc_to_f32_isa(tc_isa isa, tc_dtype t, const void *src, float *dst, int64_t n)
{
    const tc_kernel_table *k = tc_kernels((int)isa);
    const tc_dtype_info *d = tc_dtype_get(t);
    if (k == NULL || d == NULL || n < 0)
        return -1;
    if (!d->is_quant)
        return tc_cast_to_f32_isa(isa, t, src, dst, n);
    if (t >= TC_DTYPE_GGML_COUNT || k->dequantize[t] == NULL || n % d->blck != 0)
        return -1;
    if (n > 0)
        k->dequantize[t](src, dst, n);
    return 0;
}

int tc_to_f32(tc_dtype t, const void *src, float *dst, int64_t n)
{
    return tc_to_f32_isa(tc_isa_active(), t, src, dst, n);
}
