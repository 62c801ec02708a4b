/*
 * llama_run.h - real llama.cpp as the test oracle for converted models: load a GGUF with the
 * prebuilt libllama.so (npm @node-llama-cpp/linux-x64@3.22.1, in $TC_ORACLE_DIR/llama), decode
 * tokens one at a time and read every position's logits, or tokenize text with the model's
 * vocabulary. Everything is looked up with dlsym; lr_open() returns 0 when the library is
 * missing so tests can TC_SKIP.
 *
 * The parameter structs are taken by value from llama_*_default_params() into a buffer larger
 * than any version's struct (x86-64 returns and passes such structs in memory, so only the
 * library's own size is read or written). Two fields are set by offset for exact float
 * comparisons, after checking that the defaults sit there: the KV cache types (type_k, type_v:
 * GGML_TYPE_F16 -> F32) and flash attention (auto -> off: its CPU kernel rounds K/Q to f16).
 */
#ifndef TC_LLAMA_RUN_H
#define TC_LLAMA_RUN_H

#include "oracle.h"

#include <dlfcn.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct lr_params {
    unsigned char b[1024];
} lr_params;

typedef struct lr_batch {
    int32_t n_tokens;
    int32_t *token;
    float *embd;
    int32_t *pos;
    int32_t *n_seq_id;
    int32_t **seq_id;
    int8_t *logits;
} lr_batch;

typedef struct lr_api {
    void *h, *hg;
    void (*backend_init)(void);
    lr_params (*model_defaults)(void);
    lr_params (*context_defaults)(void);
    void *(*load)(const char *, lr_params);
    void *(*init)(void *, lr_params);
    const void *(*get_vocab)(const void *);
    int32_t (*tokenize)(const void *, const char *, int32_t, int32_t *, int32_t, bool, bool);
    lr_batch (*batch_one)(int32_t *, int32_t);
    int32_t (*decode)(void *, lr_batch);
    float *(*logits_ith)(void *, int32_t);
    int32_t (*n_vocab)(const void *);
    void (*free_ctx)(void *);
    void (*free_model)(void *);
    void (*log_set)(void *, void *);
} lr_api;

/* llama.cpp's log: dropped, echoed to stderr when LR_VERBOSE is set */
static void lr_quiet(int level, const char *text, void *ud)
{
    (void)level;
    (void)ud;
    if (getenv("LR_VERBOSE"))
        fputs(text, stderr);
}

static inline int lr_open(lr_api *a)
{
    memset(a, 0, sizeof *a);
    char p[1024];
    snprintf(p, sizeof p, "%s/llama/libggml.so", TC_ORACLE_DIR);
    a->hg = dlopen(p, RTLD_NOW | RTLD_GLOBAL);
    snprintf(p, sizeof p, "%s/llama/libllama.so", TC_ORACLE_DIR);
    a->h = a->hg ? dlopen(p, RTLD_NOW | RTLD_GLOBAL) : NULL;
    if (a->h == NULL)
        return 0;
    void (*load_all)(const char *) =
        (void (*)(const char *))dlsym(a->hg, "ggml_backend_load_all_from_path");
#define LR_SYM(f, n) *(void **)&a->f = dlsym(a->h, n)
    LR_SYM(backend_init, "llama_backend_init");
    LR_SYM(model_defaults, "llama_model_default_params");
    LR_SYM(context_defaults, "llama_context_default_params");
    LR_SYM(load, "llama_model_load_from_file");
    LR_SYM(init, "llama_init_from_model");
    LR_SYM(get_vocab, "llama_model_get_vocab");
    LR_SYM(tokenize, "llama_tokenize");
    LR_SYM(batch_one, "llama_batch_get_one");
    LR_SYM(decode, "llama_decode");
    LR_SYM(logits_ith, "llama_get_logits_ith");
    LR_SYM(n_vocab, "llama_vocab_n_tokens");
    LR_SYM(free_ctx, "llama_free");
    LR_SYM(free_model, "llama_model_free");
    LR_SYM(log_set, "llama_log_set");
#undef LR_SYM
    if (!load_all || !a->backend_init || !a->load || !a->init || !a->decode || !a->logits_ith ||
        !a->tokenize || !a->n_vocab || !a->batch_one)
        return 0;
    snprintf(p, sizeof p, "%s/llama", TC_ORACLE_DIR);
    if (a->log_set)
        a->log_set((void *)lr_quiet, NULL);
    load_all(p);
    a->backend_init();
    return 1;
}

typedef struct lr_model {
    void *model, *ctx;
    const void *vocab;
    int n_vocab;
} lr_model;

/* Load `path` (vocab_only: the tokenizer only; else with a context for decoding). */
static inline int lr_load(const lr_api *a, const char *path, int vocab_only, lr_model *m)
{
    memset(m, 0, sizeof *m);
    lr_params mp = a->model_defaults();
    /* llama_model_params: vocab_only is the bool after the callback pointers; found by a
     * default-false byte run is fragile, so vocab-only loads load the whole (small) model */
    (void)vocab_only;
    m->model = a->load(path, mp);
    if (m->model == NULL)
        return 0;
    m->vocab = a->get_vocab(m->model);
    m->n_vocab = a->n_vocab(m->vocab);
    lr_params cp = a->context_defaults();
    int32_t v, zero = 0;
    memcpy(&v, cp.b + 104, 4);
    if (v == 1) { /* type_k, type_v = GGML_TYPE_F16: make them F32 */
        memcpy(cp.b + 104, &zero, 4);
        memcpy(cp.b + 108, &zero, 4);
    }
    memcpy(&v, cp.b + 52, 4);
    if (v == -1) /* flash_attn_type auto -> disabled */
        memcpy(cp.b + 52, &zero, 4);
    m->ctx = a->init(m->model, cp);
    return m->ctx != NULL;
}

static inline void lr_free(const lr_api *a, lr_model *m)
{
    if (m->ctx && a->free_ctx)
        a->free_ctx(m->ctx);
    if (m->model && a->free_model)
        a->free_model(m->model);
    memset(m, 0, sizeof *m);
}

/* Decode tokens one by one; logits[i * n_vocab + k]. 0 on failure. */
static inline int lr_logits(const lr_api *a, lr_model *m, const int32_t *toks, int n, float *logits)
{
    for (int i = 0; i < n; i++) {
        int32_t t = toks[i];
        if (a->decode(m->ctx, a->batch_one(&t, 1)) != 0)
            return 0;
        const float *l = a->logits_ith(m->ctx, -1);
        if (l == NULL)
            return 0;
        memcpy(logits + (size_t)i * (size_t)m->n_vocab, l, (size_t)m->n_vocab * sizeof(float));
    }
    return 1;
}

/* Tokenize with special tokens parsed and BOS added as the model says; count or -1. */
static inline int lr_tokenize(const lr_api *a, const lr_model *m, const char *text, int32_t *out,
                              int cap, int add_special)
{
    return a->tokenize(m->vocab, text, (int32_t)strlen(text), out, cap, add_special != 0, true);
}

#endif
