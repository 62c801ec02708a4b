/*
 * oracle.h - the llama.cpp oracle for tests: libggml-base.so / libllama.so from the npm package
 * @node-llama-cpp/linux-x64 (scripts/oracle/get_oracle.sh puts them in $TC_ORACLE_DIR/llama/).
 * Tests look functions up by name and skip (TC_SKIP) when the library is not there.
 */
#ifndef TC_ORACLE_H
#define TC_ORACLE_H

#include "tc_dtype.h"
#include "tc_test.h"

#include <dlfcn.h>
#include <math.h>
#include <string.h>

/* dlopen handle of $TC_ORACLE_DIR/llama/<lib> (e.g. "libggml-base.so"), NULL when missing. */
static inline void *tc_oracle_lib(const char *lib)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/llama/%s", TC_ORACLE_DIR, lib);
    return dlopen(path, RTLD_NOW | RTLD_LOCAL);
}

/* A symbol of libggml-base.so, NULL when the library or the symbol is missing. */
static inline void *tc_oracle_sym(const char *name)
{
    static void *h;
    if (h == NULL)
        h = tc_oracle_lib("libggml-base.so");
    return h ? dlsym(h, name) : NULL;
}

/* ggml's quantizer entry points (ggml.h) */
typedef size_t (*tc_ggml_quantize_chunk_fn)(int type, const float *src, void *dst, int64_t start,
                                            int64_t nrows, int64_t n_per_row, const float *imatrix);
typedef void (*tc_ggml_quantize_init_fn)(int type);
typedef void (*tc_ggml_dequantize_fn)(const void *src, float *dst, int64_t k);

/* ggml_quantize_chunk after ggml_quantize_init(type); NULL when the oracle is missing. */
static inline tc_ggml_quantize_chunk_fn tc_oracle_quantize(int type)
{
    tc_ggml_quantize_init_fn init = (tc_ggml_quantize_init_fn)tc_oracle_sym("ggml_quantize_init");
    tc_ggml_quantize_chunk_fn q = (tc_ggml_quantize_chunk_fn)tc_oracle_sym("ggml_quantize_chunk");
    if (init == NULL || q == NULL)
        return NULL;
    init(type);
    return q;
}

/* dequantize_row_<name> (name as ggml spells the type: "q4_K", "iq2_xxs"); NULL if missing. */
static inline tc_ggml_dequantize_fn tc_oracle_dequantize(const char *type_name)
{
    char sym[64];
    snprintf(sym, sizeof sym, "dequantize_row_%s", type_name);
    return (tc_ggml_dequantize_fn)tc_oracle_sym(sym);
}

/*
 * Fill `n` floats with test data of kind `kind` (0..TC_CORPUS_KINDS-1), seeded by `seed`:
 * gaussian-ish at several scales, zeros, constant rows, single outliers, subnormals, tiny and
 * huge magnitudes, mixed signs, values on rounding boundaries. Deterministic.
 */
#define TC_CORPUS_KINDS 12
static inline void tc_corpus_fill(float *x, int64_t n, int kind, uint64_t seed)
{
    uint64_t s = seed * 0x9e3779b97f4a7c15ull + (uint64_t)kind;
    for (int64_t i = 0; i < n; i++) {
        float u1 = tc_rng_uniform(&s) + 1e-7f, u2 = tc_rng_uniform(&s);
        float g = sqrtf(-2.0f * logf(u1)) * cosf(6.2831853f * u2); /* ~N(0,1) */
        switch (kind) {
        case 0:
            x[i] = g;
            break;
        case 1:
            x[i] = g * 0.02f;
            break; /* typical weights */
        case 2:
            x[i] = g * 1000.0f;
            break;
        case 3:
            x[i] = 0.0f;
            break; /* all zeros */
        case 4:
            x[i] = 0.75f;
            break; /* constant */
        case 5:
            x[i] = (i % 97 == 13) ? 50.0f * g : 0.01f * g;
            break; /* outliers */
        case 6:
            x[i] = g * 1e-40f;
            break; /* subnormals */
        case 7:
            x[i] = g * 1e-30f;
            break;
        case 8:
            x[i] = g * 3e4f;
            break; /* near f16 max */
        case 9:
            x[i] = fabsf(g);
            break; /* one sign */
        case 10:
            x[i] = (float)((int)(g * 4.0f)) * 0.5f;
            break; /* ties on a grid */
        default:
            x[i] = (i & 1) ? -g * 0.1f : g;
            break;
        }
    }
}

/* Importance weights for n_per_row columns (positive, varied; some zeros when `zeros`). */
static inline void tc_corpus_imatrix(float *w, int64_t n, uint64_t seed, int zeros)
{
    uint64_t s = seed ^ 0x5deece66dull;
    for (int64_t i = 0; i < n; i++) {
        float u = tc_rng_uniform(&s);
        w[i] = zeros && (i % 7 == 3) ? 0.0f : u * u * 10.0f + 1e-3f;
    }
}

/* Compare `n_rows` rows of type `t` quantized by ggml (`want`) and by us (`got`); on a mismatch
 * fail naming the case, row, block and byte. */
static inline void tc_expect_same_quant(const uint8_t *want, const uint8_t *got, int64_t n_rows,
                                        int64_t n_per_row, int t, const char *what)
{
    size_t rs = tc_row_size(t, n_per_row), bs = tc_dtype_get(t)->size;
    if (memcmp(want, got, rs * (size_t)n_rows) == 0)
        return;
    size_t k = 0;
    while (want[k] == got[k])
        k++;
    ck_abort_msg("%s: %s n_per_row=%lld: row %zu block %zu byte %zu: ggml %02x, ours %02x",
                 tc_dtype_get(t)->name, what, (long long)n_per_row, k / rs, (k % rs) / bs,
                 (k % rs) % bs, want[k], got[k]);
}

#endif /* TC_ORACLE_H */
