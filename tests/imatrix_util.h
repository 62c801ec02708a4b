/*
 * imatrix_util.h - importance matrices for tests: random per-column values for a list of
 * weights, handed to llama_model_quantize as its C array and written for tensorcast as a
 * llama-imatrix GGUF (<name>.in_sum2 = value * count, <name>.counts) or a legacy .dat file.
 * In 3-D (expert) weights expert 1 is never routed to: count 0, for which llama-quantize uses 1.0.
 */
#ifndef TC_IMATRIX_UTIL_H
#define TC_IMATRIX_UTIL_H

#include "llama_oracle.h"
#include "tc_test_util.h"

#include <stdio.h>

typedef struct imx {
    lo_imatrix e[LO_MAX_TENSORS + 1]; /* NULL-name terminated, as llama.cpp reads it */
    float *vals[LO_MAX_TENSORS];
    char *names[LO_MAX_TENSORS];
    int64_t ne0[LO_MAX_TENSORS], nm[LO_MAX_TENSORS];
    int n;
} imx;

/* Add weight `name` (rows of ne0, nm matrices); values from `seed`. 0 when full. */
static inline int imx_add(imx *x, const char *name, int64_t ne0, int64_t nm, uint64_t seed)
{
    if (x->n >= LO_MAX_TENSORS)
        return 0;
    float *v = malloc((size_t)(ne0 * nm) * sizeof(float));
    char *nmcopy = strdup(name);
    if (v == NULL || nmcopy == NULL) {
        free(v);
        free(nmcopy);
        return 0;
    }
    tc_corpus_imatrix(v, ne0 * nm, seed, 1);
    if (nm > 1)
        for (int64_t k = 0; k < ne0; k++)
            v[ne0 + k] = 1.0f;
    int i = x->n++;
    x->names[i] = nmcopy;
    x->e[i].name = nmcopy;
    x->e[i].data = v;
    x->e[i].size = (size_t)(ne0 * nm);
    x->vals[i] = v;
    x->ne0[i] = ne0;
    x->nm[i] = nm;
    x->e[x->n].name = NULL;
    return 1;
}

static inline void imx_free(imx *x)
{
    for (int i = 0; i < x->n; i++) {
        free(x->vals[i]);
        free(x->names[i]);
    }
    x->n = 0;
}

/* llama-imatrix's GGUF: <name>.in_sum2 = value * count, <name>.counts = count (4, or 0 for the
 * unused expert 1). */
static inline int imx_write_gguf(const lo_api *a, const imx *x, const char *path)
{
    struct lo_ggml_init_params ip = {(size_t)LO_MAX_TENSORS * 1024 + (1 << 20), NULL, true};
    void *ctx = a->ggml_init(ip);
    void *g = a->gguf_init_empty();
    a->set_str(g, "general.type", "imatrix");
    a->set_u32(g, "imatrix.chunk_count", 42);
    a->set_u32(g, "imatrix.chunk_size", 512);
    float **bufs = malloc(2 * (size_t)(x->n + 1) * sizeof *bufs);
    int nb = 0;
    for (int i = 0; i < x->n; i++) {
        int64_t ne0 = x->ne0[i], nm = x->nm[i];
        float *sums = malloc((size_t)(ne0 * nm) * sizeof(float));
        float *counts = malloc((size_t)nm * sizeof(float));
        for (int64_t j = 0; j < nm; j++) {
            counts[j] = (nm > 1 && j == 1) ? 0.0f : 4.0f;
            for (int64_t k = 0; k < ne0; k++)
                sums[j * ne0 + k] = counts[j] > 0 ? x->vals[i][j * ne0 + k] * 4.0f : 123.0f;
        }
        char nm1[160], nm2[160];
        snprintf(nm1, sizeof nm1, "%s.in_sum2", x->e[i].name);
        snprintf(nm2, sizeof nm2, "%s.counts", x->e[i].name);
        int64_t ne_s[2] = {ne0, nm}, ne_c[2] = {1, nm};
        void *ts = a->new_tensor(ctx, 0, 2, ne_s);
        a->set_name(ts, nm1);
        a->add_tensor(g, ts);
        a->set_tensor_data(g, nm1, sums);
        void *tcnt = a->new_tensor(ctx, 0, 2, ne_c);
        a->set_name(tcnt, nm2);
        a->add_tensor(g, tcnt);
        a->set_tensor_data(g, nm2, counts);
        bufs[nb++] = sums;
        bufs[nb++] = counts;
    }
    int ok = a->write_to_file(g, path, false);
    for (int i = 0; i < nb; i++)
        free(bufs[i]);
    free(bufs);
    a->gguf_free(g);
    a->ggml_free(ctx);
    return ok;
}

/* Legacy .dat: i32 n, per entry i32 len, name, i32 ncall, i32 nval, f32 sums; trailer i32
 * chunks, i32 len, dataset. Sums = value * ncall (ncall 2). */
static inline int imx_write_dat(const imx *x, const char *path)
{
    FILE *f = fopen(path, "wb");
    if (f == NULL)
        return 0;
    int32_t n = x->n;
    fwrite(&n, 4, 1, f);
    for (int i = 0; i < x->n; i++) {
        int32_t len = (int32_t)strlen(x->e[i].name), ncall = 2, nval = (int32_t)x->e[i].size;
        fwrite(&len, 4, 1, f);
        fwrite(x->e[i].name, 1, (size_t)len, f);
        fwrite(&ncall, 4, 1, f);
        fwrite(&nval, 4, 1, f);
        for (int32_t k = 0; k < nval; k++) {
            float s = x->vals[i][k] * 2.0f;
            fwrite(&s, 4, 1, f);
        }
    }
    int32_t chunks = 7, dl = 9;
    fwrite(&chunks, 4, 1, f);
    fwrite(&dl, 4, 1, f);
    fwrite("wiki.test", 1, 9, f);
    return fclose(f) == 0;
}

#endif
