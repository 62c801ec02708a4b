/*
 * llama_oracle.h - llama.cpp's own quantizer as a test oracle: build small GGUF models with
 * ggml's gguf writer (libggml-base.so), quantize them with llama_model_quantize (libllama.so)
 * and read back what it wrote with ggml's gguf reader. Everything is looked up with dlsym;
 * lo_open() returns 0 when the libraries are missing so tests can TC_SKIP.
 */
#ifndef TC_LLAMA_ORACLE_H
#define TC_LLAMA_ORACLE_H

#include "oracle.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct lo_ggml_init_params {
    size_t mem_size;
    void *mem_buffer;
    bool no_alloc;
};
struct lo_gguf_init_params {
    bool no_alloc;
    void **ctx;
};
/* include/llama.h (llama.cpp as shipped by @node-llama-cpp/linux-x64 3.22.1) */
typedef struct lo_imatrix {
    const char *name;
    const float *data;
    size_t size;
} lo_imatrix;
typedef struct lo_tt_override {
    const char *pattern;
    int type;
} lo_tt_override;
typedef struct lo_qparams {
    int32_t nthread;
    int32_t ftype;
    int32_t output_tensor_type;
    int32_t token_embedding_type;
    bool allow_requantize;
    bool quantize_output_tensor;
    bool only_copy;
    bool pure;
    bool keep_split;
    bool dry_run;
    const lo_imatrix *imatrix;
    const void *kv_overrides;
    const lo_tt_override *tt_overrides;
    const int32_t *prune_layers;
    unsigned char reserved[256]; /* zero: room for fields newer releases may add */
} lo_qparams;

typedef struct lo_api {
    void *(*ggml_init)(struct lo_ggml_init_params);
    void (*ggml_free)(void *);
    void *(*new_tensor)(void *, int, int, const int64_t *);
    void *(*set_name)(void *, const char *);
    void *(*gguf_init_empty)(void);
    void *(*gguf_init_from_file)(const char *, struct lo_gguf_init_params);
    void (*gguf_free)(void *);
    void (*set_u32)(void *, const char *, uint32_t);
    void (*set_f32)(void *, const char *, float);
    void (*set_str)(void *, const char *, const char *);
    void (*add_tensor)(void *, const void *);
    void (*set_tensor_data)(void *, const char *, const void *);
    bool (*write_to_file)(const void *, const char *, bool);
    int64_t (*n_tensors)(const void *);
    const char *(*tensor_name)(const void *, int64_t);
    int (*tensor_type)(const void *, int64_t);
    size_t (*tensor_offset)(const void *, int64_t);
    size_t (*data_offset)(const void *);
    int64_t (*find_key)(const void *, const char *);
    size_t (*tensor_size)(const void *, int64_t);
    int64_t (*n_kv)(const void *);
    const char *(*get_key)(const void *, int64_t);
    void (*log_set)(void (*)(int, const char *, void *), void *);
    void (*ggml_log_set)(void (*)(int, const char *, void *), void *);
    lo_qparams (*default_params)(void);
    uint32_t (*quantize)(const char *, const char *, const lo_qparams *);
} lo_api;

/* The oracle's log: dropped, but error lines are kept for failure messages (and everything is
 * echoed when LO_VERBOSE is set). */
static char lo_last_error[512];
/* --dry-run writes no file: the per-tensor log lines "[ i/ n] name - [shape], type = cur, "
 * + "size = a MiB -> b MiB (new)" or "size = a MiB" (kept) are parsed into these instead. */
#define LO_LOG_MAX 1024
static char lo_log_names[LO_LOG_MAX][64];
static char lo_log_types[LO_LOG_MAX][16];
static char lo_log_cur[16];
static int lo_log_n;
static void lo_quiet(int level, const char *text, void *ud)
{
    (void)ud;
    if (getenv("LO_VERBOSE"))
        fputs(text, stderr);
    if (level == 4 /* GGML_LOG_LEVEL_ERROR */ && strlen(text) > 2)
        snprintf(lo_last_error, sizeof lo_last_error, "%s", text);
    const char *p;
    if (text[0] == '[' && (p = strstr(text, "] ")) != NULL && lo_log_n < LO_LOG_MAX) {
        char nm[64] = "", cur[16] = "";
        if (sscanf(p + 2, "%63s", nm) == 1 && (p = strstr(text, "type = ")) != NULL &&
            sscanf(p + 7, " %15[^, ]", cur) == 1) {
            snprintf(lo_log_names[lo_log_n], 64, "%s", nm);
            snprintf(lo_log_cur, sizeof lo_log_cur, "%s", cur);
        }
    } else if (strncmp(text, "size = ", 7) == 0 && lo_log_n < LO_LOG_MAX) {
        const char *q = strchr(text, '(');
        if (q == NULL || sscanf(q + 1, "%15[^)]", lo_log_types[lo_log_n]) != 1)
            snprintf(lo_log_types[lo_log_n], 16, "%s", lo_log_cur);
        lo_log_n++;
    }
}

/* Load the oracle (once). 0 when libggml-base.so / libllama.so or a symbol is missing. */
static inline int lo_open(lo_api *a)
{
    static void *gb, *ll;
    if (gb == NULL)
        gb = tc_oracle_lib("libggml-base.so");
    if (gb != NULL && ll == NULL) {
        char path[1024];
        snprintf(path, sizeof path, "%s/llama/libggml-base.so", TC_ORACLE_DIR);
        dlopen(path, RTLD_NOW | RTLD_GLOBAL); /* libllama needs its symbols */
        ll = tc_oracle_lib("libllama.so");
    }
    if (gb == NULL || ll == NULL)
        return 0;
#define LO_G(f, s)                                                                                 \
    if ((*(void **)&a->f = dlsym(gb, s)) == NULL)                                                  \
        return 0;
#define LO_L(f, s)                                                                                 \
    if ((*(void **)&a->f = dlsym(ll, s)) == NULL)                                                  \
        return 0;
    LO_G(ggml_init, "ggml_init");
    LO_G(ggml_free, "ggml_free");
    LO_G(new_tensor, "ggml_new_tensor");
    LO_G(set_name, "ggml_set_name");
    LO_G(gguf_init_empty, "gguf_init_empty");
    LO_G(gguf_init_from_file, "gguf_init_from_file");
    LO_G(gguf_free, "gguf_free");
    LO_G(set_u32, "gguf_set_val_u32");
    LO_G(set_f32, "gguf_set_val_f32");
    LO_G(set_str, "gguf_set_val_str");
    LO_G(add_tensor, "gguf_add_tensor");
    LO_G(set_tensor_data, "gguf_set_tensor_data");
    LO_G(write_to_file, "gguf_write_to_file");
    LO_G(n_tensors, "gguf_get_n_tensors");
    LO_G(tensor_name, "gguf_get_tensor_name");
    LO_G(tensor_type, "gguf_get_tensor_type");
    LO_G(tensor_offset, "gguf_get_tensor_offset");
    LO_G(data_offset, "gguf_get_data_offset");
    LO_G(find_key, "gguf_find_key");
    LO_G(tensor_size, "gguf_get_tensor_size");
    LO_G(n_kv, "gguf_get_n_kv");
    LO_G(get_key, "gguf_get_key");
    LO_G(ggml_log_set, "ggml_log_set");
    LO_L(log_set, "llama_log_set");
    LO_L(default_params, "llama_model_quantize_default_params");
    LO_L(quantize, "llama_model_quantize");
#undef LO_G
#undef LO_L
    a->log_set(lo_quiet, NULL);
    a->ggml_log_set(lo_quiet, NULL);
    return 1;
}

/* A model to build: hyper-parameters and tensors (shapes outermost-first). */
#define LO_MAX_TENSORS 1024
typedef struct lo_tensor {
    char name[64];
    int n_dims;
    int64_t shape[4];
    int type; /* 0 f32, 1 f16, 30 bf16 */
} lo_tensor;
typedef struct lo_model {
    const char *arch;
    int n_layer, n_head, n_head_kv, n_expert, n_embd, n_ff;
    const char *license; /* general.license, or NULL */
    lo_tensor t[LO_MAX_TENSORS];
    int n;
} lo_model;

static inline void lo_add(lo_model *m, const char *name, int n_dims, int64_t d0, int64_t d1,
                          int64_t d2)
{
    if (m->n >= LO_MAX_TENSORS)
        abort();
    lo_tensor *t = &m->t[m->n++];
    snprintf(t->name, sizeof t->name, "%s", name);
    t->n_dims = n_dims;
    int64_t d[3] = {d0, d1, d2};
    for (int i = 0; i < n_dims; i++)
        t->shape[i] = d[i];
    t->type = 0;
}

static inline int64_t lo_nelem(const lo_tensor *t)
{
    int64_t n = 1;
    for (int i = 0; i < t->n_dims; i++)
        n *= t->shape[i];
    return n;
}

/* Deterministic tensor values: `seed` varies per tensor. */
static inline void lo_fill(float *x, int64_t n, uint64_t seed)
{
    tc_corpus_fill(x, n, 1, seed);
}

static inline uint16_t lo_f16(float f) /* round to nearest even, finite small values only */
{
    uint32_t b;
    memcpy(&b, &f, 4);
    uint32_t sign = (b >> 16) & 0x8000u;
    int32_t e = (int32_t)((b >> 23) & 0xff) - 127 + 15;
    uint32_t mant = b & 0x7fffffu;
    if (e <= 0) {
        if (e < -10)
            return (uint16_t)sign;
        mant |= 0x800000u;
        uint32_t shift = (uint32_t)(14 - e);
        uint32_t h = mant >> shift, rem = mant & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (h & 1)))
            h++;
        return (uint16_t)(sign | h);
    }
    uint32_t h = ((uint32_t)e << 10) | (mant >> 13);
    uint32_t rem = mant & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (h & 1)))
        h++;
    return (uint16_t)(sign | h);
}

/* Write `m` as a GGUF at `path` with ggml's writer. 1 on success. */
static inline int lo_write(const lo_api *a, const lo_model *m, const char *path)
{
    struct lo_ggml_init_params ip = {(size_t)LO_MAX_TENSORS * 512 + (1 << 20), NULL, true};
    void *ctx = a->ggml_init(ip);
    void *g = a->gguf_init_empty();
    char key[128];
    a->set_str(g, "general.architecture", m->arch);
    a->set_str(g, "general.name", "tensorcast test model");
    if (m->license)
        a->set_str(g, "general.license", m->license);
#define LO_KEY(k) (snprintf(key, sizeof key, "%s." k, m->arch), key)
    a->set_u32(g, LO_KEY("context_length"), 128);
    a->set_u32(g, LO_KEY("embedding_length"), (uint32_t)m->n_embd);
    a->set_u32(g, LO_KEY("block_count"), (uint32_t)m->n_layer);
    a->set_u32(g, LO_KEY("feed_forward_length"), (uint32_t)m->n_ff);
    a->set_u32(g, LO_KEY("attention.head_count"), (uint32_t)m->n_head);
    a->set_u32(g, LO_KEY("attention.head_count_kv"), (uint32_t)m->n_head_kv);
    a->set_f32(g, LO_KEY("attention.layer_norm_rms_epsilon"), 1e-5f);
    a->set_f32(g, LO_KEY("attention.layer_norm_epsilon"), 1e-5f);
    if (m->n_expert > 0) {
        a->set_u32(g, LO_KEY("expert_count"), (uint32_t)m->n_expert);
        a->set_u32(g, LO_KEY("expert_used_count"), 2);
    }
#undef LO_KEY
    void **bufs = calloc((size_t)m->n, sizeof *bufs);
    for (int i = 0; i < m->n; i++) {
        const lo_tensor *t = &m->t[i];
        int64_t ne[4];
        for (int k = 0; k < t->n_dims; k++)
            ne[k] = t->shape[t->n_dims - 1 - k];
        void *tt = a->new_tensor(ctx, t->type, t->n_dims, ne);
        a->set_name(tt, t->name);
        a->add_tensor(g, tt);
        int64_t n = lo_nelem(t);
        float *f = malloc((size_t)n * sizeof(float));
        lo_fill(f, n, (uint64_t)i + 1);
        if (t->type == 1 || t->type == 30) {
            uint16_t *h = malloc((size_t)n * 2);
            for (int64_t k = 0; k < n; k++) {
                uint32_t b; /* bf16: round to nearest even (finite test values) */
                memcpy(&b, &f[k], 4);
                h[k] = t->type == 1 ? lo_f16(f[k])
                                    : (uint16_t)((b + 0x7fffu + ((b >> 16) & 1u)) >> 16);
            }
            free(f);
            bufs[i] = h;
        } else {
            bufs[i] = f;
        }
        a->set_tensor_data(g, t->name, bufs[i]);
    }
    int ok = a->write_to_file(g, path, false);
    for (int i = 0; i < m->n; i++)
        free(bufs[i]);
    free(bufs);
    a->gguf_free(g);
    a->ggml_free(ctx);
    return ok;
}

/* Types of the tensors of a GGUF, in file order: names into `names` (n x 64), types into
 * `types`. @return the tensor count, -1 if the file cannot be read. */
static inline int lo_read_types(const lo_api *a, const char *path, char (*names)[64], int *types,
                                int cap)
{
    struct lo_gguf_init_params gp = {true, NULL};
    void *g = a->gguf_init_from_file(path, gp);
    if (g == NULL)
        return -1;
    int64_t n = a->n_tensors(g);
    for (int64_t i = 0; i < n && i < cap; i++) {
        snprintf(names[i], 64, "%s", a->tensor_name(g, i));
        types[i] = a->tensor_type(g, i);
    }
    a->gguf_free(g);
    return (int)n;
}

/* Default llama_model_quantize_params with room for newer fields (zeroed). */
static inline lo_qparams lo_params(const lo_api *a, int ftype)
{
    lo_qparams p;
    memset(&p, 0, sizeof p);
    lo_qparams d = a->default_params();
    memcpy(&p, &d, offsetof(lo_qparams, reserved));
    p.ftype = ftype;
    p.nthread = 1;
    return p;
}

/* ---- model shapes ---- */

typedef struct lo_shape {
    int n_layer, n_head, n_head_kv, n_expert;
    int tied;                /* no output.weight */
    int odd;                 /* rows of 320 (not a multiple of 256) and one of 100 (not of 32) */
    int qkv;                 /* fused attn_qkv instead of q/k/v */
    int rows;                /* output rows of every 2-D weight (small: the rules ignore it) */
    int n_embd, n_ff, vocab; /* 0: 256 (320 when odd), 512, 16 */
    const char *arch;
} lo_shape;

static inline void lo_build(lo_model *m, const lo_shape *s)
{
    memset(m, 0, sizeof *m);
    m->arch = s->arch ? s->arch : "llama";
    m->n_layer = s->n_layer;
    m->n_head = s->n_head;
    m->n_head_kv = s->n_head_kv;
    m->n_expert = s->n_expert;
    m->n_embd = s->n_embd ? s->n_embd : s->odd ? 320 : 256;
    m->n_ff = s->n_ff ? s->n_ff : 512;
    const int64_t e = m->n_embd, f = m->n_ff, r = s->rows ? s->rows : 4;
    const int64_t vocab = s->vocab ? s->vocab : 16;
    lo_add(m, "token_embd.weight", 2, vocab, e, 0);
    if (!s->tied)
        lo_add(m, "output.weight", 2, vocab, e, 0);
    lo_add(m, "output_norm.weight", 1, e, 0, 0);
    char n[64];
    for (int l = 0; l < s->n_layer; l++) {
#define T2(nm, a, b) (snprintf(n, sizeof n, "blk.%d." nm ".weight", l), lo_add(m, n, 2, a, b, 0))
#define T1(nm, a)    (snprintf(n, sizeof n, "blk.%d." nm ".weight", l), lo_add(m, n, 1, a, 0, 0))
        T1("attn_norm", e);
        T1("ffn_norm", e);
        if (s->qkv) {
            T2("attn_qkv", r, e);
        } else {
            T2("attn_q", r, e);
            T2("attn_k", r, e);
            T2("attn_v", r, e);
        }
        T2("attn_output", r, e);
        if (s->n_expert > 0) {
            T2("ffn_gate_inp", s->n_expert, e);
            snprintf(n, sizeof n, "blk.%d.ffn_gate_exps.weight", l);
            lo_add(m, n, 3, s->n_expert, r, e);
            snprintf(n, sizeof n, "blk.%d.ffn_up_exps.weight", l);
            lo_add(m, n, 3, s->n_expert, r, e);
            snprintf(n, sizeof n, "blk.%d.ffn_down_exps.weight", l);
            lo_add(m, n, 3, s->n_expert, r, f);
        } else {
            T2("ffn_gate", r, e);
            T2("ffn_up", r, e);
            T2("ffn_down", r, f);
        }
        if (s->odd && l == 0) {
            T2("odd_proj", r, 100); /* row of 100: only F16 can hold it after a fallback */
            snprintf(n, sizeof n, "blk.%d.vec.weight", l);
            lo_add(m, n, 2, 1, e, 0); /* [1, e]: 1-D to ggml, never quantized */
        }
#undef T1
#undef T2
    }
}

#endif /* TC_LLAMA_ORACLE_H */
