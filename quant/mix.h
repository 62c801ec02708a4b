/*
 * mix.h - llama.cpp's quantization presets ("Q4_K_M", "Q5_K_S", ...) as rules: given a tensor's
 * name and shape, the model's hyper-parameters and the options, choose its type exactly as
 * llama-quantize does (llama.cpp src/llama-quant.cpp: llama_tensor_get_type and helpers).
 *
 * Pure rules: no graph, no files. The caller
 *   1. sorts the tensor names with tc_mix_name_cmp (llama.cpp's weight_name_comparer order:
 *      tensors outside blocks first, then by block number, then by name),
 *   2. calls tc_mix_init, then tc_mix_count once per tensor name (in that order),
 *   3. calls tc_mix_type once per tensor in the same order. The rules keep counters (the n-th
 *      attn_v, the n-th ffn_down), so the order matters and each tensor is asked once.
 * Shapes are outermost-first, as everywhere in tensorcast; the row is the last dimension.
 */
#ifndef TC_MIX_H
#define TC_MIX_H

#include "quant.h"

#include <regex.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* What the rules need to know about the model (from GGUF `<arch>.*` keys or config.json). */
typedef struct tc_mix_model {
    const char *arch;  /* general.architecture ("llama", "falcon", ...) */
    int64_t n_layer;   /* <arch>.block_count */
    int64_t n_head;    /* <arch>.attention.head_count (of layer 0) */
    int64_t n_head_kv; /* <arch>.attention.head_count_kv (0: same as n_head) */
    int64_t n_expert;  /* <arch>.expert_count (0 when dense) */
    int is_70b;        /* llama.cpp's model type is 70B (see tc_mix_model_is_70b) */
} tc_mix_model;

/* llama.cpp's 70B detection for the architectures the rules care about: LLaMA with 80 layers and
 * grouped-query attention (n_head != n_head_kv). */
int tc_mix_model_is_70b(const char *arch, int64_t n_layer, int64_t n_head, int64_t n_head_kv);

#define TC_MIX_MAX_OVERRIDES 64

/* Options, as llama-quantize has them. Unset types are -1. */
typedef struct tc_mix_opts {
    int ftype;                /* tc_ftype */
    int pure;                 /* --pure: no per-tensor bumps (fallbacks still apply) */
    int leave_output;         /* --leave-output-tensor: output.weight keeps its type */
    int output_tensor_type;   /* --output-tensor-type, or -1 */
    int token_embedding_type; /* --token-embedding-type, or -1 */
    int has_imatrix;          /* an importance matrix is given (changes some rules) */
    /* --tensor-type PATTERN=TYPE, first match wins (POSIX extended regex, searched anywhere in
     * the name like std::regex_search). */
    const char *override_pattern[TC_MIX_MAX_OVERRIDES];
    int override_type[TC_MIX_MAX_OVERRIDES];
    int n_overrides;
} tc_mix_opts;

/* Rule state: options, model, and the counters llama.cpp keeps while it walks the tensors. */
typedef struct tc_mix {
    tc_mix_opts opts;
    tc_mix_model model;
    int default_type;
    regex_t re[TC_MIX_MAX_OVERRIDES];
    int n_re;
    int n_attention_wv, i_attention_wv;
    int n_ffn_down, i_ffn_down, n_ffn_gate, i_ffn_gate, n_ffn_up, i_ffn_up;
    int has_output; /* a tensor named output.weight exists (else embeddings are tied) */
    int n_fallback; /* tensors whose row length forced a fallback type */
} tc_mix;

/*
 * Prepare the rules. `model.arch` must stay valid while `m` is used.
 * @return 0, or -1 with a message in `msg` (unknown ftype, a bad regex, a bad override type).
 */
int tc_mix_init(tc_mix *m, const tc_mix_opts *opts, const tc_mix_model *model, char *msg,
                size_t cap);
void tc_mix_free(tc_mix *m);

/* First pass: tell the rules about every tensor name, in order. */
void tc_mix_count(tc_mix *m, const char *name);

/* 1 when llama-quantize would quantize this tensor at all (`n_dims` as ggml counts them:
 * outer dimensions of size 1 do not count; 2-D or more, a weight, not a norm,
 * router, positional embedding, ... and not excluded by the options). */
int tc_mix_allows_quant(const tc_mix *m, const char *name, int n_dims);

/*
 * Second pass: the type of one tensor (in the same order as tc_mix_count).
 * `shape` is outermost-first with `n_dims` entries; `cur_type` is its current dtype.
 * @return the chosen tc_dtype, or -1 with a message in `msg` (a MoE model's tensor without a
 *         block number in [0, n_layer)). `*fallback` (may be NULL) is set to 1 when the row
 *         length forced a fallback type (as llama.cpp: K/IQ types to a 32-block type, and F16
 *         when even that does not divide the row).
 */
int tc_mix_type(tc_mix *m, const char *name, int n_dims, const int64_t *shape, int cur_type,
                int *fallback, char *msg, size_t cap);

/* llama.cpp's tensor_requires_imatrix: 1 when quantizing `name` to `type` in a file of `ftype`
 * needs an importance matrix. */
int tc_mix_requires_imatrix(const char *name, int type, int ftype);

/* qsort-style comparison of two tensor names in llama.cpp's order (weight_name_comparer). */
int tc_mix_name_cmp(const char *a, const char *b);

/* Block number parsed from "blk.N.", or -1. */
int tc_mix_layer(const char *name);

#ifdef __cplusplus
}
#endif
#endif /* TC_MIX_H */
