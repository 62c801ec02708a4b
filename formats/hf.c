/*
 * hf.c - a Hugging Face model directory as llama.cpp's converter (convert_hf_to_gguf.py) writes
 * it: config.json read with the transformers defaults the converter sees, the weight files in
 * its order, every tensor renamed and transformed lazily by a table per architecture, the
 * hyper-parameters in its key order, then the model card (hf_card.c) and the tokenizer
 * (hf_vocab.c). ../shared/HF-TO-GGUF.md is the fact sheet this follows.
 *
 * Adding an architecture is a row in `archs` (names, defaults, flags) plus, when its
 * hyper-parameters are not the generic block, a writer; tensor names come from the shared map
 * `tmap` (rows marked with the architectures that have them).
 */
#include "hf.h"
#include "fp16.h"
#include "tc_impl.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#define HF_MAX_JSON    (16u << 20) /* config.json, index.json, tokenizer_config.json */
#define HF_MAX_FILES   4096        /* weight files of one model */
#define HF_MAX_EXPERTS 1024        /* llama.cpp's cap */

/* ===== JSON ===== */

tc_status tc_hf_json_load(const char *dir, const char *name, size_t cap, int optional, json_t **out,
                          tc_err *e)
{
    *out = NULL;
    char *p = tc_path_join(dir, name);
    if (p == NULL)
        return tc_err_nomem(e);
    struct stat st;
    tc_status rc = TC_OK;
    if (stat(p, &st) != 0) {
        if (!optional)
            rc = tc_err_set(e, TC_E_FORMAT, "%s: missing", p);
    } else if (!S_ISREG(st.st_mode)) {
        rc = tc_err_set(e, TC_E_FORMAT, "%s: not a regular file", p);
    } else if ((uint64_t)st.st_size > cap) {
        rc = tc_err_set(e, TC_E_LIMIT, "%s: %lld bytes, over the cap of %zu", p,
                        (long long)st.st_size, cap);
    } else {
        json_error_t je;
        *out = json_load_file(p, JSON_REJECT_DUPLICATES, &je);
        if (*out == NULL && strstr(je.text, "too big integer"))
            /* model_max_length = 1e30 and the like: integers as doubles then */
            *out = json_load_file(p, JSON_REJECT_DUPLICATES | JSON_DECODE_INT_AS_REAL, &je);
        if (*out == NULL)
            rc = tc_err_set(e, TC_E_FORMAT, "%s: line %d column %d: %s", p, je.line, je.column,
                            je.text);
        else if (!json_is_object(*out)) {
            json_decref(*out);
            *out = NULL;
            rc = tc_err_set(e, TC_E_FORMAT, "%s: not a JSON object", p);
        }
    }
    tc_free(p);
    return rc;
}

/* First of `keys` present in `o` (and not null). */
static const json_t *jfirst(const json_t *o, const char *const *keys, const char **which)
{
    for (size_t i = 0; keys[i]; i++) {
        const json_t *v = json_object_get(o, keys[i]);
        if (v && !json_is_null(v)) {
            if (which)
                *which = keys[i];
            return v;
        }
    }
    return NULL;
}

#define KEYS(...) ((const char *const[]){__VA_ARGS__, NULL})

/* ===== the model: config, architecture, tensors ===== */

enum {
    HF_PERMUTE_QK = 1 << 0,   /* llama: q/k rows to the interleaved rope layout */
    HF_GEMMA_NORM = 1 << 1,   /* norms are stored as w - 1: add 1 */
    HF_DROP_LM_HEAD = 1 << 2, /* gemma/gemma2: the runtime ties output to token_embd */
    HF_GENERIC_HP = 1 << 3,   /* hyper-parameters: the generic block (then extras) */
    HF_MOE = 1 << 4,
    HF_POST_NORMS = 1 << 5, /* gemma2/3: post_attention_layernorm is post_attention_norm */
    HF_QK_NORM = 1 << 6,
    HF_EXP_DGU = 1 << 7, /* experts emitted down, gate, up (qwen moe, deepseek) */
};

typedef struct hf_model hf_model;
typedef tc_status (*hp_fn)(hf_model *m, tc_err *e);

typedef struct hf_arch {
    const char *hf, *gguf;
    unsigned flags;
    unsigned mask; /* which rows of tmap apply */
    /* transformers class defaults the converter sees through AutoConfig */
    double d_rope_theta, d_rms_eps;
    int64_t d_ctx, d_head_dim; /* head_dim: -1 hidden/heads, 0 none */
    hp_fn hparams;
} hf_arch;

typedef struct src_file {
    char *path;
    tc_graph *g;
} src_file;

/* One output tensor being assembled from its sources. */
typedef struct out_t {
    char name[192];
    int dtype;
    int n_dims;
    int64_t shape[4];
    const tc_tensor *src;    /* plain or row-permuted source */
    const tc_tensor **parts; /* stacked experts */
    size_t n_parts;
    int op; /* OP_* */
    int64_t heads;
    float *owned; /* generated (rope factors) */
    uint64_t owned_n;
} out_t;

enum { OP_COPY, OP_PERMUTE, OP_STACK, OP_NORM1, OP_OWNED, OP_KB, OP_VB };

struct hf_model {
    const char *dir;
    const hf_arch *arch;
    json_t *raw, *cfg; /* config.json as read, and merged with text_config */
    tc_graph *g;       /* the output */
    src_file *files;
    size_t n_files;
    out_t *out;
    size_t n_out, cap_out;
    int64_t n_layer, n_embd, n_head, n_head_kv, head_dim, n_ff, n_expert, n_vocab;
    int64_t qk_nope, qk_rope, v_head, kv_lora; /* deepseek MLA */
    int fp8;                                   /* quantization_config.quant_method "fp8" */
    int64_t fp8_bh, fp8_bw;                    /* weight_block_size (0: scales broadcast) */
    tc_graph *fp8g; /* the dequantized weights: lazy F32 tensors named as their sources */
};

static int64_t cfg_int(const hf_model *m, const char *const *keys, int64_t dflt)
{
    const json_t *v = jfirst(m->cfg, keys, NULL);
    if (v && json_is_integer(v))
        return (int64_t)json_integer_value(v);
    if (v && json_is_real(v) && json_real_value(v) == floor(json_real_value(v)))
        return tc_json_i64(json_real_value(v));
    return dflt;
}

static int cfg_num(const hf_model *m, const char *const *keys, double *out)
{
    const json_t *v = jfirst(m->cfg, keys, NULL);
    if (v && json_is_number(v)) {
        *out = json_number_value(v);
        return 1;
    }
    return 0;
}

/* ---- KV writers (types strict: llama.cpp rejects a wrong one) ---- */

static tc_status kv_u32(hf_model *m, const char *suffix, int64_t v, tc_err *e)
{
    char k[256];
    snprintf(k, sizeof k, "%s.%s", m->arch->gguf, suffix);
    if (v < 0 || v > UINT32_MAX)
        return tc_err_set(e, TC_E_FORMAT, "%s/config.json: %s = %lld is out of range", m->dir,
                          suffix, (long long)v);
    return tc_graph_set_u32(m->g, k, (uint32_t)v, e);
}

static tc_status kv_f32(hf_model *m, const char *suffix, double v, tc_err *e)
{
    char k[256];
    snprintf(k, sizeof k, "%s.%s", m->arch->gguf, suffix);
    tc_value val = {.type = TC_V_F32, .f = (float)v};
    return tc_graph_set(m->g, k, &val, e);
}

static tc_status kv_bool(hf_model *m, const char *suffix, int v, tc_err *e)
{
    char k[256];
    snprintf(k, sizeof k, "%s.%s", m->arch->gguf, suffix);
    tc_value val = {.type = TC_V_BOOL, .u = v != 0};
    return tc_graph_set(m->g, k, &val, e);
}

static tc_status kv_str(hf_model *m, const char *suffix, const char *s, tc_err *e)
{
    char k[256];
    snprintf(k, sizeof k, "%s.%s", m->arch->gguf, suffix);
    return tc_graph_set_str(m->g, k, s, e);
}

/* u32 from config keys, only when present */
static tc_status kv_u32_cfg(hf_model *m, const char *suffix, const char *const *keys, tc_err *e)
{
    const json_t *v = jfirst(m->cfg, keys, NULL);
    if (v == NULL)
        return TC_OK;
    if (!json_is_number(v))
        return tc_err_set(e, TC_E_FORMAT, "%s/config.json: %s is not a number", m->dir, keys[0]);
    return kv_u32(m, suffix, tc_json_i64(json_number_value(v)), e);
}

static tc_status kv_f32_cfg(hf_model *m, const char *suffix, const char *const *keys, tc_err *e)
{
    double v;
    return cfg_num(m, keys, &v) ? kv_f32(m, suffix, v, e) : TC_OK;
}

/* ---- RoPE parameters (sheet §2.2) ---- */

typedef struct rope_p {
    const json_t *p; /* effective parameters (full_attention when present) */
    const json_t *all;
    json_t *own; /* built from top-level keys when config has none */
    double theta, theta_swa;
    int has_theta, has_swa;
    const char *type;
} rope_p;

static void rope_params(const hf_model *m, rope_p *r)
{
    memset(r, 0, sizeof *r);
    const json_t *rp = json_object_get(m->cfg, "rope_parameters");
    if (!json_is_object(rp))
        rp = json_object_get(m->cfg, "rope_scaling");
    if (!json_is_object(rp)) {
        r->own = json_object();
        rp = r->own;
    }
    r->all = rp;
    const json_t *full = json_object_get(rp, "full_attention");
    r->p = json_is_object(full) ? full : rp;
    const json_t *t = json_object_get(r->p, "rope_theta");
    if (!json_is_number(t))
        t = jfirst(m->cfg,
                   KEYS("global_rope_theta", "rope_global_theta", "rope_theta_global", "rope_theta",
                        "rotary_emb_base"),
                   NULL);
    if (json_is_number(t)) {
        r->theta = json_number_value(t);
        r->has_theta = 1;
    } else if (m->arch->d_rope_theta > 0) {
        r->theta = m->arch->d_rope_theta; /* the transformers class default */
        r->has_theta = 1;
    }
    const json_t *sw = json_object_get(json_object_get(rp, "sliding_attention"), "rope_theta");
    if (!json_is_number(sw))
        sw = jfirst(m->cfg,
                    KEYS("local_rope_theta", "rope_local_theta", "rope_theta_local",
                         "swa_rope_theta", "rope_local_base_freq"),
                    NULL);
    if (json_is_number(sw)) {
        r->theta_swa = json_number_value(sw);
        r->has_swa = 1;
    }
    const json_t *ty = json_object_get(r->p, "rope_type");
    if (!json_is_string(ty))
        ty = json_object_get(r->p, "type");
    r->type = json_is_string(ty) ? json_string_value(ty) : NULL;
}

static tc_status rope_scaling_kv(hf_model *m, const rope_p *r, tc_err *e)
{
    if (r->type == NULL)
        return TC_OK;
    const json_t *f = json_object_get(r->p, "factor");
    if (strcmp(r->type, "linear") == 0 && json_is_number(f)) {
        TC_TRY(kv_str(m, "rope.scaling.type", "linear", e));
        return kv_f32(m, "rope.scaling.factor", json_number_value(f), e);
    }
    if (strcmp(r->type, "yarn") == 0 && json_is_number(f)) {
        TC_TRY(kv_str(m, "rope.scaling.type", "yarn", e));
        TC_TRY(kv_f32(m, "rope.scaling.factor", json_number_value(f), e));
        const json_t *o = json_object_get(r->p, "original_max_position_embeddings");
        if (!json_is_number(o))
            o = json_object_get(m->cfg, "original_max_position_embeddings");
        if (!json_is_number(o))
            return tc_err_set(e, TC_E_FORMAT,
                              "%s/config.json: yarn rope scaling needs "
                              "original_max_position_embeddings",
                              m->dir);
        TC_TRY(kv_u32(m, "rope.scaling.original_context_length", tc_json_i64(json_number_value(o)),
                      e));
        static const char *const yk[][3] = {{"extrapolation_factor", NULL, "yarn_ext_factor"},
                                            {"attention_factor", "attn_factor", "yarn_attn_factor"},
                                            {"beta_fast", NULL, "yarn_beta_fast"},
                                            {"beta_slow", NULL, "yarn_beta_slow"}};
        for (size_t i = 0; i < 4; i++) {
            const json_t *v = json_object_get(r->p, yk[i][0]);
            if (!json_is_number(v) && yk[i][1])
                v = json_object_get(r->p, yk[i][1]);
            char k[64];
            snprintf(k, sizeof k, "rope.scaling.%s", yk[i][2]);
            if (json_is_number(v))
                TC_TRY(kv_f32(m, k, json_number_value(v), e));
        }
        return TC_OK;
    }
    if (strcmp(r->type, "su") == 0 || strcmp(r->type, "longrope") == 0)
        return kv_str(m, "rope.scaling.type", "longrope", e);
    return TC_OK; /* llama3 (rope_freqs tensor), dynamic, default: nothing */
}

/* The generic block (sheet §2), general.file_type included (value fixed later). */
static tc_status hp_generic(hf_model *m, tc_err *e)
{
    TC_TRY(kv_u32(m, "block_count", m->n_layer, e));
    int64_t ctx = cfg_int(m,
                          KEYS("max_position_embeddings", "n_ctx", "n_positions", "max_length",
                               "max_sequence_length", "model_max_length"),
                          m->arch->d_ctx);
    if (ctx > 0)
        TC_TRY(kv_u32(m, "context_length", ctx, e));
    TC_TRY(kv_u32(m, "embedding_length", m->n_embd, e));
    const json_t *ff = jfirst(m->cfg,
                              KEYS("prefix_dense_intermediate_size", "dense_intermediate_size",
                                   "intermediate_size", "n_inner", "hidden_dim"),
                              NULL);
    if (ff && json_is_number(ff))
        TC_TRY(kv_u32(m, "feed_forward_length", tc_json_i64(json_number_value(ff)), e));
    TC_TRY(kv_u32(m, "attention.head_count", m->n_head, e));
    /* every class here has num_key_value_heads (default: num_attention_heads) */
    TC_TRY(kv_u32(m, "attention.head_count_kv", m->n_head_kv, e));
    const json_t *causal = json_object_get(m->cfg, "is_causal");
    if (json_is_false(causal))
        TC_TRY(kv_bool(m, "attention.causal", 0, e));
    rope_p r;
    rope_params(m, &r);
    tc_status rc = rope_scaling_kv(m, &r, e);
    if (rc == TC_OK && r.has_theta)
        rc = kv_f32(m, "rope.freq_base", r.theta, e);
    if (rc == TC_OK && r.has_swa)
        rc = kv_f32(m, "rope.freq_base_swa", r.theta_swa, e);
    json_decref(r.own);
    TC_TRY(rc);
    double eps;
    if (cfg_num(m, KEYS("rms_norm_eps", "norm_eps"), &eps))
        TC_TRY(kv_f32(m, "attention.layer_norm_rms_epsilon", eps, e));
    else if (m->arch->d_rms_eps > 0)
        TC_TRY(kv_f32(m, "attention.layer_norm_rms_epsilon", m->arch->d_rms_eps, e));
    TC_TRY(kv_f32_cfg(m, "attention.layer_norm_epsilon",
                      KEYS("layer_norm_eps", "layer_norm_epsilon", "norm_epsilon"), e));
    TC_TRY(kv_u32_cfg(m, "expert_count",
                      KEYS("num_local_experts", "num_experts", "n_routed_experts"), e));
    TC_TRY(kv_u32_cfg(m, "expert_used_count",
                      KEYS("num_experts_per_tok", "num_experts_per_token", "top_k_experts"), e));
    TC_TRY(kv_u32_cfg(m, "expert_group_count", KEYS("n_group"), e));
    TC_TRY(kv_u32_cfg(m, "expert_group_used_count", KEYS("topk_group"), e));
    const json_t *gf =
        jfirst(m->cfg,
               KEYS("score_function", "scoring_func", "score_func", "moe_router_activation",
                    "moe_router_activation_func", "expert_selection_fn"),
               NULL);
    if (json_is_string(gf)) {
        const char *s = json_string_value(gf);
        int v = strcmp(s, "softmax") == 0        ? 1
                : strcmp(s, "sigmoid") == 0      ? 2
                : strcmp(s, "sqrtsoftplus") == 0 ? 4
                                                 : 0;
        if (v == 0)
            return tc_err_set(e, TC_E_UNSUPPORTED, "%s/config.json: unknown expert gating '%s'",
                              m->dir, s);
        TC_TRY(kv_u32(m, "expert_gating_func", v, e));
    }
    if (m->head_dim > 0 && jfirst(m->cfg, KEYS("head_dim"), NULL)) {
        TC_TRY(kv_u32(m, "attention.key_length", m->head_dim, e));
        TC_TRY(kv_u32(m, "attention.value_length", m->head_dim, e));
    } else if (m->head_dim > 0 && m->arch->d_head_dim != 0) {
        TC_TRY(kv_u32(m, "attention.key_length", m->head_dim, e));
        TC_TRY(kv_u32(m, "attention.value_length", m->head_dim, e));
    }
    return tc_graph_set_u32(m->g, "general.file_type", 1, e);
}

static tc_status hp_llama(hf_model *m, tc_err *e)
{
    TC_TRY(hp_generic(m, e));
    TC_TRY(kv_u32_cfg(m, "vocab_size", KEYS("vocab_size"), e));
    int64_t rot = m->head_dim > 0 ? m->head_dim : m->n_embd / m->n_head;
    return kv_u32(m, "rope.dimension_count", rot, e);
}

static tc_status hp_moe(hf_model *m, tc_err *e)
{
    TC_TRY(hp_generic(m, e));
    TC_TRY(kv_u32_cfg(m, "expert_feed_forward_length", KEYS("moe_intermediate_size"), e));
    if (strcmp(m->arch->gguf, "qwen2moe") == 0)
        TC_TRY(kv_u32_cfg(m, "expert_shared_feed_forward_length",
                          KEYS("shared_expert_intermediate_size"), e));
    return TC_OK;
}

/* gemma / gemma2: their own list (sheet §3.4) */
static tc_status hp_gemma(hf_model *m, tc_err *e)
{
    TC_TRY(kv_u32(m, "context_length", cfg_int(m, KEYS("max_position_embeddings"), m->arch->d_ctx),
                  e));
    TC_TRY(kv_u32(m, "embedding_length", m->n_embd, e));
    TC_TRY(kv_u32(m, "block_count", m->n_layer, e));
    TC_TRY(kv_u32(m, "feed_forward_length", m->n_ff, e));
    TC_TRY(kv_u32(m, "attention.head_count", m->n_head, e));
    TC_TRY(kv_u32(m, "attention.head_count_kv", m->n_head_kv, e));
    double eps = m->arch->d_rms_eps;
    cfg_num(m, KEYS("rms_norm_eps"), &eps);
    TC_TRY(kv_f32(m, "attention.layer_norm_rms_epsilon", eps, e));
    TC_TRY(kv_u32(m, "attention.key_length", m->head_dim, e));
    TC_TRY(kv_u32(m, "attention.value_length", m->head_dim, e));
    TC_TRY(tc_graph_set_u32(m->g, "general.file_type", 1, e));
    if (strcmp(m->arch->gguf, "gemma2") == 0) {
        TC_TRY(kv_f32_cfg(m, "attn_logit_softcapping", KEYS("attn_logit_softcapping"), e));
        TC_TRY(kv_f32_cfg(m, "final_logit_softcapping", KEYS("final_logit_softcapping"), e));
        TC_TRY(kv_u32_cfg(m, "attention.sliding_window", KEYS("sliding_window"), e));
    }
    return TC_OK;
}

static tc_status hp_gemma3(hf_model *m, tc_err *e)
{
    TC_TRY(hp_generic(m, e));
    const json_t *sc = json_object_get(m->cfg, "attn_logit_softcapping");
    if (sc && !json_is_null(sc))
        return tc_err_set(e, TC_E_UNSUPPORTED,
                          "%s/config.json: gemma3 with attn_logit_softcapping is not supported "
                          "(llama.cpp asserts it is null)",
                          m->dir);
    double f;
    if (cfg_num(m, KEYS("final_logit_softcapping"), &f) && f != 0)
        TC_TRY(kv_f32(m, "final_logit_softcapping", f, e));
    if (cfg_int(m, KEYS("sliding_window_pattern"), 0) != 1)
        TC_TRY(kv_u32_cfg(m, "attention.sliding_window", KEYS("sliding_window"), e));
    return TC_OK;
}

static tc_status hp_qwen(hf_model *m, tc_err *e)
{
    return hp_generic(m, e);
}

/* deepseek2: MLA keys after the generic block (sheet §3.6) */
static tc_status hp_deepseek2(hf_model *m, tc_err *e)
{
    TC_TRY(hp_generic(m, e));
    int64_t n_routed = cfg_int(m, KEYS("n_routed_experts"), -1);
    TC_TRY(kv_u32(m, "leading_dense_block_count",
                  cfg_int(m, KEYS("first_k_dense_replace"), n_routed < 0 ? m->n_layer : 0), e));
    TC_TRY(kv_u32_cfg(m, "vocab_size", KEYS("vocab_size"), e));
    TC_TRY(kv_u32_cfg(m, "attention.q_lora_rank", KEYS("q_lora_rank"), e));
    TC_TRY(kv_u32(m, "attention.kv_lora_rank", m->kv_lora, e));
    TC_TRY(kv_u32(m, "attention.key_length", m->kv_lora + m->qk_rope, e));
    TC_TRY(kv_u32(m, "attention.value_length", m->kv_lora, e));
    TC_TRY(kv_u32(m, "attention.key_length_mla", m->qk_nope + m->qk_rope, e));
    TC_TRY(kv_u32(m, "attention.value_length_mla", m->v_head, e));
    TC_TRY(kv_u32(m, "expert_feed_forward_length",
                  cfg_int(m, KEYS("moe_intermediate_size", "intermediate_size"), 0), e));
    if (n_routed >= 0)
        TC_TRY(kv_u32(m, "expert_count", n_routed, e));
    TC_TRY(kv_u32(m, "expert_shared_count", cfg_int(m, KEYS("n_shared_experts"), 0), e));
    double s;
    if (cfg_num(m, KEYS("routed_scaling_factor"), &s))
        TC_TRY(kv_f32(m, "expert_weights_scale", s, e));
    if (json_is_true(json_object_get(m->cfg, "norm_topk_prob")))
        TC_TRY(kv_bool(m, "expert_weights_norm", 1, e));
    TC_TRY(kv_u32(m, "rope.dimension_count", m->qk_rope, e));
    const json_t *rs = json_object_get(m->cfg, "rope_scaling");
    const json_t *ms = json_object_get(rs, "mscale_all_dim");
    if (json_is_number(ms))
        TC_TRY(kv_f32(m, "rope.scaling.yarn_log_multiplier", 0.1 * json_number_value(ms), e));
    return TC_OK;
}

/* phi3: its own list (sheet §3.5); rope.scaling.attn_factor was written with the tensors */
static int64_t phi3_orig_ctx(const hf_model *m)
{
    const json_t *rp = json_object_get(m->cfg, "rope_parameters");
    if (!json_is_object(rp))
        rp = json_object_get(m->cfg, "rope_scaling");
    const json_t *o = json_object_get(rp, "original_max_position_embeddings");
    if (json_is_integer(o))
        return (int64_t)json_integer_value(o);
    return cfg_int(m, KEYS("original_max_position_embeddings"), 4096); /* Phi3Config default */
}

static int64_t phi3_rope_dims(const hf_model *m)
{
    double partial = 1.0;
    cfg_num(m, KEYS("partial_rotary_factor"), &partial);
    return tc_json_i64(partial * (double)m->n_embd) / m->n_head;
}

static tc_status hp_phi3(hf_model *m, tc_err *e)
{
    TC_TRY(kv_u32(m, "context_length",
                  cfg_int(m, KEYS("n_positions", "max_position_embeddings"), m->arch->d_ctx), e));
    TC_TRY(kv_u32(m, "rope.scaling.original_context_length", phi3_orig_ctx(m), e));
    TC_TRY(kv_u32(m, "embedding_length", m->n_embd, e));
    TC_TRY(kv_u32(m, "feed_forward_length", m->n_ff, e));
    TC_TRY(kv_u32(m, "block_count", m->n_layer, e));
    TC_TRY(kv_u32(m, "attention.head_count", m->n_head, e));
    TC_TRY(kv_u32(m, "attention.head_count_kv", m->n_head_kv, e));
    double eps = m->arch->d_rms_eps;
    cfg_num(m, KEYS("rms_norm_eps"), &eps);
    TC_TRY(kv_f32(m, "attention.layer_norm_rms_epsilon", eps, e));
    TC_TRY(kv_u32(m, "rope.dimension_count", phi3_rope_dims(m), e));
    rope_p r;
    rope_params(m, &r);
    double theta = r.has_theta ? r.theta : m->arch->d_rope_theta;
    json_decref(r.own);
    TC_TRY(kv_f32(m, "rope.freq_base", theta, e));
    TC_TRY(tc_graph_set_u32(m->g, "general.file_type", 1, e));
    return kv_u32(m, "attention.sliding_window", cfg_int(m, KEYS("sliding_window"), 0), e);
}

/* clang-format off */
static const hf_arch archs[] = {
    /* hf class                    gguf        flags                                       mask  theta     eps    ctx     head_dim */
    {"LlamaForCausalLM",          "llama",    HF_PERMUTE_QK | HF_GENERIC_HP,               1,    10000,    1e-6,  2048,   -1, hp_llama},
    {"MistralForCausalLM",        "llama",    HF_PERMUTE_QK | HF_GENERIC_HP,               1,    10000,    1e-6,  131072, -1, hp_llama},
    {"MixtralForCausalLM",        "llama",    HF_PERMUTE_QK | HF_GENERIC_HP | HF_MOE,      1,    1e6,      1e-5,  131072, 0,  hp_llama},
    {"Qwen2ForCausalLM",          "qwen2",    HF_GENERIC_HP,                               2,    10000,    1e-6,  32768,  0,  hp_qwen},
    {"Qwen3ForCausalLM",          "qwen3",    HF_GENERIC_HP | HF_QK_NORM,                  2,    10000,    1e-6,  32768,  128, hp_qwen},
    {"Qwen2MoeForCausalLM",       "qwen2moe", HF_GENERIC_HP | HF_MOE | HF_EXP_DGU,         2,    10000,    1e-6,  8192,   0,  hp_moe},
    {"Qwen3MoeForCausalLM",       "qwen3moe", HF_GENERIC_HP | HF_MOE | HF_EXP_DGU | HF_QK_NORM, 2, 10000,  1e-6,  32768,  128, hp_moe},
    {"GemmaForCausalLM",          "gemma",    HF_GEMMA_NORM | HF_DROP_LM_HEAD,             4,    10000,    1e-6,  8192,   256, hp_gemma},
    {"Gemma2ForCausalLM",         "gemma2",   HF_GEMMA_NORM | HF_DROP_LM_HEAD | HF_POST_NORMS, 4, 10000,   1e-6,  8192,   256, hp_gemma},
    {"Gemma3ForCausalLM",         "gemma3",   HF_GEMMA_NORM | HF_GENERIC_HP | HF_POST_NORMS | HF_QK_NORM, 4, 1e6, 1e-6, 131072, 256, hp_gemma3},
    {"Phi3ForCausalLM",           "phi3",     0,                                           1,    10000,    1e-5,  4096,   0,  hp_phi3},
    {"DeepseekV2ForCausalLM",     "deepseek2", HF_GENERIC_HP | HF_MOE | HF_EXP_DGU,        8,    10000,    1e-6,  2048,   0,  hp_deepseek2},
    {"DeepseekV3ForCausalLM",     "deepseek2", HF_GENERIC_HP | HF_MOE | HF_EXP_DGU,        8,    10000,    1e-6,  4096,   0,  hp_deepseek2},
};
/* clang-format on */
#define N_ARCHS (sizeof archs / sizeof archs[0])

const char *const *tc_hf_supported(void)
{
    static const char *names[N_ARCHS + 1];
    for (size_t i = 0; i < N_ARCHS; i++)
        names[i] = archs[i].hf;
    names[N_ARCHS] = NULL;
    return names;
}

/* HF names (after "model.layers.N.") -> llama.cpp's; mask: 1 llama, 2 qwen, 4 gemma, 8 deepseek */
typedef struct tmap_row {
    const char *hf, *gguf;
    unsigned mask;
} tmap_row;

static const tmap_row tmap_layer[] = {
    {"input_layernorm", "attn_norm", 15},
    {"self_attn.q_proj", "attn_q", 15},
    {"self_attn.k_proj", "attn_k", 7},
    {"self_attn.v_proj", "attn_v", 7},
    {"self_attn.o_proj", "attn_output", 15},
    {"self_attn.q_norm", "attn_q_norm", 6},
    {"self_attn.k_norm", "attn_k_norm", 6},
    {"mlp.gate_proj", "ffn_gate", 15},
    {"mlp.up_proj", "ffn_up", 15},
    {"mlp.down_proj", "ffn_down", 15},
    {"pre_feedforward_layernorm", "ffn_norm", 4},
    {"post_feedforward_layernorm", "post_ffw_norm", 4},
    {"block_sparse_moe.gate", "ffn_gate_inp", 1},
    {"mlp.gate", "ffn_gate_inp", 10},
    {"mlp.shared_expert.gate_proj", "ffn_gate_shexp", 2},
    {"mlp.shared_expert.up_proj", "ffn_up_shexp", 2},
    {"mlp.shared_expert.down_proj", "ffn_down_shexp", 2},
    {"mlp.shared_expert_gate", "ffn_gate_inp_shexp", 2},
    {"mlp.shared_experts.gate_proj", "ffn_gate_shexp", 8},
    {"mlp.shared_experts.up_proj", "ffn_up_shexp", 8},
    {"mlp.shared_experts.down_proj", "ffn_down_shexp", 8},
    {"mlp.gate.e_score_correction", "exp_probs_b", 8},
    {"self_attn.q_a_proj", "attn_q_a", 8},
    {"self_attn.q_a_layernorm", "attn_q_a_norm", 8},
    {"self_attn.q_b_proj", "attn_q_b", 8},
    {"self_attn.kv_a_proj_with_mqa", "attn_kv_a_mqa", 8},
    {"self_attn.kv_a_layernorm", "attn_kv_a_norm", 8},
    {"self_attn.qkv_proj", "attn_qkv", 16},
    {"mlp.gate_up_proj", "ffn_up", 16},
};

/* ===== lazy sources ===== */

static uint64_t elem_size_of(int dt)
{
    return (uint64_t)tc_row_size(dt, 1);
}

/* Copy elements [e0, e0+n) of row-permuted `o` (rows of `cols` elements). */
static tc_status read_permute(void *ctx, const tc_tensor *t, uint64_t e0, uint64_t n, void *dst,
                              tc_err *e)
{
    const out_t *o = ctx;
    int64_t cols = tc_tensor_n_dims(t) >= 2 ? tc_tensor_row_len(t) : 1;
    uint64_t rows = tc_tensor_n_dims(t) >= 2 ? tc_tensor_n_rows(t) : tc_tensor_n_elements(t);
    uint64_t es = elem_size_of(o->dtype);
    int64_t d = (int64_t)rows / o->heads / 2;
    uint8_t *out = dst;
    while (n > 0) {
        uint64_t r = e0 / (uint64_t)cols, c = e0 % (uint64_t)cols;
        uint64_t k = (uint64_t)cols - c < n ? (uint64_t)cols - c : n;
        int64_t h = (int64_t)r / (2 * d), rem = (int64_t)r % (2 * d);
        int64_t i = rem / 2, j = rem % 2;
        uint64_t src_row = (uint64_t)(h * 2 * d + j * d + i);
        TC_TRY(tc_tensor_read(o->src, src_row * (uint64_t)cols + c, k, out, e));
        out += k * es;
        e0 += k;
        n -= k;
    }
    return TC_OK;
}

static tc_status read_stack(void *ctx, const tc_tensor *t, uint64_t e0, uint64_t n, void *dst,
                            tc_err *e)
{
    (void)t;
    const out_t *o = ctx;
    uint64_t per = tc_tensor_n_elements(o->parts[0]), es = elem_size_of(o->dtype);
    uint8_t *out = dst;
    while (n > 0) {
        uint64_t p = e0 / per, off = e0 % per;
        uint64_t k = per - off < n ? per - off : n;
        TC_TRY(tc_tensor_read(o->parts[p], off, k, out, e));
        out += k * es;
        e0 += k;
        n -= k;
    }
    return TC_OK;
}

/* Gemma norms: 1 + w, in f32 (f16 sources: the sum rounded to f16 first, as torch does). */
static tc_status read_norm1(void *ctx, const tc_tensor *t, uint64_t e0, uint64_t n, void *dst,
                            tc_err *e)
{
    (void)t;
    const out_t *o = ctx;
    int sdt = tc_tensor_dtype(o->src);
    uint64_t es = elem_size_of(sdt); /* up to 8 bytes (F64, I64) */
    float *f = dst;
    uint8_t tmp[4096];
    if (es == 0 || es > 8)
        return tc_err_set(e, TC_E_UNSUPPORTED, "tensor '%s': cannot read %s as f32", o->name,
                          tc_dtype_get(sdt)->name);
    while (n > 0) {
        uint64_t k = n < sizeof tmp / es ? n : sizeof tmp / es;
        TC_TRY(tc_tensor_read(o->src, e0, k, tmp, e));
        if (tc_cast_to_f32(sdt, tmp, f, (int64_t)k) != 0)
            return tc_err_set(e, TC_E_UNSUPPORTED, "tensor '%s': cannot read %s as f32", o->name,
                              tc_dtype_get(sdt)->name);
        for (uint64_t i = 0; i < k; i++) {
            float v = f[i] + 1.0f;
            f[i] = sdt == TC_DTYPE_F16 ? tc_f16_to_f32(tc_f32_to_f16(v)) : v;
        }
        f += k;
        e0 += k;
        n -= k;
    }
    return TC_OK;
}

/* DeepSeek kv_b [n_head*(nope+v), kv_lora] -> k_b [n_head, kv_lora, nope] (k transposed) or
 * v_b [n_head, v, kv_lora]. */
static tc_status read_kvb(void *ctx, const tc_tensor *t, uint64_t e0, uint64_t n, void *dst,
                          tc_err *e)
{
    (void)t;
    const out_t *o = ctx;
    uint64_t es = elem_size_of(o->dtype);
    int64_t H = o->shape[0], per = o->heads; /* heads = nope+v rows per head in the source */
    int64_t kvl = o->op == OP_KB ? o->shape[1] : o->shape[2];
    int64_t nope = o->op == OP_KB ? o->shape[2] : per - o->shape[1];
    uint8_t *out = dst;
    for (uint64_t x = e0; x < e0 + n; x++) {
        int64_t h, src_row, col;
        if (o->op == OP_KB) { /* out [h][l][c] = src[h*per + c][l] */
            h = (int64_t)(x / (uint64_t)(kvl * nope));
            int64_t rest = (int64_t)(x % (uint64_t)(kvl * nope));
            int64_t l = rest / nope, c = rest % nope;
            src_row = h * per + c;
            col = l;
        } else { /* out [h][r][l] = src[h*per + nope + r][l] */
            int64_t vh = o->shape[1];
            h = (int64_t)(x / (uint64_t)(vh * kvl));
            int64_t rest = (int64_t)(x % (uint64_t)(vh * kvl));
            src_row = h * per + nope + rest / kvl;
            col = rest % kvl;
        }
        (void)H;
        TC_TRY(tc_tensor_read(o->src, (uint64_t)(src_row * kvl + col), 1, out, e));
        out += es;
    }
    return TC_OK;
}

/* ===== FP8 checkpoints (sheet §1.3): W = f32(fp8) * scale, dequantized lazily ===== */

typedef struct fp8_src {
    const tc_tensor *w, *s;
    int64_t rows, cols, bh, bw; /* bh = bw = 0: one scale per tensor (s has 1 element) or per row */
    int per_row;
} fp8_src;

static tc_status read_fp8(void *ctx, const tc_tensor *t, uint64_t e0, uint64_t n, void *dst,
                          tc_err *e)
{
    (void)t;
    const fp8_src *c = ctx;
    int wdt = tc_tensor_dtype(c->w), sdt = tc_tensor_dtype(c->s);
    uint64_t cols = (uint64_t)c->cols;
    int64_t sc_cols = tc_tensor_n_dims(c->s) == 2 ? tc_tensor_shape(c->s)[1] : 1;
    float *out = dst;
    uint8_t raw[4096 * 8];
    float sc[4096 + 2];
    uint8_t sraw[sizeof sc * 2];
    while (n > 0) {
        uint64_t r = e0 / cols, c0 = e0 % cols;
        uint64_t k = cols - c0 < n ? cols - c0 : n;
        if (k > 4096)
            k = 4096;
        TC_TRY(tc_tensor_read(c->w, e0, k, raw, e));
        if (tc_cast_to_f32(wdt, raw, out, (int64_t)k) != 0)
            return tc_err_set(e, TC_E_UNSUPPORTED, "tensor '%s': cannot dequantize %s",
                              tc_tensor_name(c->w), tc_dtype_get(wdt)->name);
        uint64_t s0, ns;
        if (c->bw > 0) { /* the scales of this row segment's blocks */
            s0 = (r / (uint64_t)c->bh) * (uint64_t)sc_cols + c0 / (uint64_t)c->bw;
            ns = (c0 + k - 1) / (uint64_t)c->bw - c0 / (uint64_t)c->bw + 1;
        } else {
            s0 = c->per_row ? r : 0;
            ns = 1;
        }
        TC_TRY(tc_tensor_read(c->s, s0, ns, sraw, e));
        if (tc_cast_to_f32(sdt, sraw, sc, (int64_t)ns) != 0)
            return tc_err_set(e, TC_E_UNSUPPORTED, "tensor '%s': scales of type %s",
                              tc_tensor_name(c->s), tc_dtype_get(sdt)->name);
        for (uint64_t i = 0; i < k; i++)
            out[i] *= c->bw > 0 ? sc[(c0 + i) / (uint64_t)c->bw - c0 / (uint64_t)c->bw] : sc[0];
        out += k;
        e0 += k;
        n -= k;
    }
    return TC_OK;
}

static const tc_tensor *find_src(const hf_model *m, const char *name)
{
    for (size_t f = 0; f < m->n_files; f++) {
        const tc_tensor *t = tc_graph_find(m->files[f].g, name);
        if (t)
            return t;
    }
    return NULL;
}

/* Every `X_scale_inv` makes `X` a lazy F32 tensor of m->fp8g; the pair is checked first. */
static tc_status prepare_fp8(hf_model *m, tc_err *e)
{
    if ((m->fp8g = tc_graph_new()) == NULL)
        return tc_err_nomem(e);
    for (size_t f = 0; f < m->n_files; f++) {
        tc_graph *g = m->files[f].g;
        for (size_t i = 0; i < tc_graph_n_tensors(g); i++) {
            const tc_tensor *s = tc_graph_tensor(g, i);
            const char *sn = tc_tensor_name(s);
            if (!tc_ends_with(sn, "_scale_inv"))
                continue;
            char wn[TC_MAX_NAME];
            snprintf(wn, sizeof wn, "%.*s", (int)(strlen(sn) - 10), sn);
            const tc_tensor *w = find_src(m, wn);
            if (w == NULL)
                return tc_err_set(e, TC_E_FORMAT, "%s: FP8 scale '%s' has no weight '%s'", m->dir,
                                  sn, wn);
            if (tc_tensor_n_dims(w) != 2)
                return tc_err_set(e, TC_E_UNSUPPORTED,
                                  "%s: FP8 weight '%s' has %d dimensions (2 supported)", m->dir, wn,
                                  tc_tensor_n_dims(w));
            fp8_src c = {.w = w, .s = s, .bh = m->fp8_bh, .bw = m->fp8_bw};
            c.rows = tc_tensor_shape(w)[0];
            c.cols = tc_tensor_shape(w)[1];
            uint64_t sn_el = tc_tensor_n_elements(s);
            int ok;
            if (c.bw > 0) {
                int64_t need_r = (c.rows + c.bh - 1) / c.bh, need_c = (c.cols + c.bw - 1) / c.bw;
                ok = tc_tensor_n_dims(s) == 2 && tc_tensor_shape(s)[0] >= need_r &&
                     tc_tensor_shape(s)[1] >= need_c && need_c <= 4096;
            } else {
                c.per_row = sn_el == (uint64_t)c.rows && sn_el != 1;
                ok = sn_el == 1 || c.per_row;
            }
            if (!ok)
                return tc_err_set(e, TC_E_FORMAT,
                                  "%s: FP8 scale '%s' does not fit weight '%s' [%lld, %lld] "
                                  "with weight_block_size [%lld, %lld]",
                                  m->dir, sn, wn, (long long)c.rows, (long long)c.cols,
                                  (long long)c.bh, (long long)c.bw);
            if (tc_dtype_get(tc_tensor_dtype(s)) == NULL ||
                tc_row_size(tc_tensor_dtype(s), 1) > 4 || tc_row_size(tc_tensor_dtype(w), 1) > 8)
                return tc_err_set(e, TC_E_UNSUPPORTED, "%s: FP8 pair '%s' has unsupported types",
                                  m->dir, wn);
            if (tc_graph_find(m->fp8g, wn))
                return tc_err_set(e, TC_E_FORMAT, "%s: two scales for '%s'", m->dir, wn);
            fp8_src *ctx = tc_malloc(sizeof *ctx);
            if (ctx == NULL)
                return tc_err_nomem(e);
            *ctx = c;
            tc_tensor *vt;
            int64_t shape[2] = {c.rows, c.cols};
            tc_status rc = tc_graph_add_tensor(m->fp8g, wn, TC_DTYPE_F32, 2, shape, &vt, e);
            if (rc == TC_OK)
                rc = tc_tensor_set_lazy(vt, read_fp8, ctx, tc_free, e);
            else
                tc_free(ctx);
            TC_TRY(rc);
        }
    }
    return TC_OK;
}

/* ===== collecting the source tensors ===== */

static int name_cmp(const void *a, const void *b)
{
    return strcmp(tc_tensor_name(*(const tc_tensor *const *)a),
                  tc_tensor_name(*(const tc_tensor *const *)b));
}

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The weight files, in the converter's order (sheet §1.2). */
static tc_status find_weight_files(hf_model *m, char ***out, size_t *n_out, tc_err *e)
{
    *out = NULL;
    *n_out = 0;
    DIR *d = opendir(m->dir);
    if (d == NULL)
        return tc_err_sys(e, TC_E_IO, errno, "%s", m->dir);
    char **st = NULL, **bin = NULL;
    size_t ns = 0, nb = 0;
    char ignored[256] = ""; /* e.g. Mistral's consolidated.safetensors beside model-*.safetensors */
    int ignored_other = 0;
    tc_status rc = TC_OK;
    for (struct dirent *de; rc == TC_OK && (de = readdir(d)) != NULL;) {
        const char *n = de->d_name;
        int is_st = strncmp(n, "model", 5) == 0 && tc_ends_with(n, ".safetensors");
        int is_bin = strncmp(n, "pytorch_model", 13) == 0 && tc_ends_with(n, ".bin");
        if (!is_st && !is_bin) {
            if (tc_ends_with(n, ".safetensors") || tc_ends_with(n, ".pth")) {
                ignored_other = 1;
                snprintf(ignored, sizeof ignored, "%s", n);
            }
            continue;
        }
        char ***v = is_st ? &st : &bin;
        size_t *c = is_st ? &ns : &nb;
        if (*c >= HF_MAX_FILES) {
            rc = tc_err_set(e, TC_E_LIMIT, "%s: more than %u weight files", m->dir, HF_MAX_FILES);
            break;
        }
        char **nv = tc_realloc(*v, (*c + 1) * sizeof **v);
        if (nv == NULL || (nv[*c] = tc_strdup(n)) == NULL) {
            if (nv)
                *v = nv;
            rc = tc_err_nomem(e);
            break;
        }
        *v = nv;
        (*c)++;
    }
    closedir(d);
    char **use = ns ? st : bin;
    size_t nu = ns ? ns : nb;
    char **drop = ns ? bin : st;
    size_t nd = ns ? nb : ns;
    for (size_t i = 0; i < nd; i++)
        tc_free(drop[i]);
    tc_free(drop);
    if (rc != TC_OK) {
        for (size_t i = 0; i < nu; i++)
            tc_free(use[i]);
        tc_free(use);
        return rc;
    }
    if (nu == 0) {
        tc_free(use);
        return tc_err_set(e, TC_E_FORMAT,
                          "%s: no model*.safetensors or pytorch_model*.bin weight files", m->dir);
    }
    qsort(use, nu, sizeof *use, str_cmp);
    if (ignored_other)
        tc_notice("%s: reading %s%s (%zu file%s) and ignoring %s, as llama.cpp's converter does",
                  m->dir, use[0], nu > 1 ? "…" : "", nu, nu > 1 ? "s" : "", ignored);
    *out = use;
    *n_out = nu;
    return TC_OK;
}

/* With an index.json, its weight_map must name exactly the files found (missing shard). */
static tc_status check_index(hf_model *m, char **files, size_t n, tc_err *e)
{
    const char *idx_name = tc_ends_with(files[0], ".bin") ? "pytorch_model.bin.index.json"
                                                          : "model.safetensors.index.json";
    json_t *idx;
    TC_TRY(tc_hf_json_load(m->dir, idx_name, HF_MAX_JSON, 1, &idx, e));
    if (idx == NULL)
        return TC_OK;
    json_t *wm = json_object_get(idx, "weight_map");
    tc_status rc = TC_OK;
    if (!json_is_object(wm))
        rc = tc_err_set(e, TC_E_FORMAT, "%s/%s: no weight_map object", m->dir, idx_name);
    const char *k;
    json_t *v;
    json_object_foreach(wm, k, v)
    {
        if (rc != TC_OK)
            break;
        if (!json_is_string(v)) {
            rc = tc_err_set(e, TC_E_FORMAT, "%s/%s: weight_map['%s'] is not a file name", m->dir,
                            idx_name, k);
            break;
        }
        const char *f = json_string_value(v);
        size_t i = 0;
        while (i < n && strcmp(files[i], f) != 0)
            i++;
        if (i == n)
            rc = tc_err_set(e, TC_E_FORMAT, "%s: missing shard %s (named by %s for tensor '%s')",
                            m->dir, f, idx_name, k);
    }
    json_decref(idx);
    return rc;
}

static int is_dropped(const hf_model *m, const char *n)
{
    static const char *const prefixes[] = {
        "mlp",     "vit.",       "vpm.",           "siglip2.",          "conformer.",
        "merger.", "resampler.", "sound_encoder.", "sound_projection.", "speech_embeddings."};
    static const char *const parts[] = {"visual.",         "vision.",
                                        "audio.",          "talker.",
                                        "vision_",         "audio_",
                                        "token2wav.",      "code2wav.",
                                        "projector.",      "pre_mm_projector_norm",
                                        "image_newline",   "view_seperator",
                                        "patch_embed",     "patch_embedding",
                                        "patch_merger.",   "patch_merge_mlp.",
                                        "model.connector."};
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++)
        if (strncmp(n, prefixes[i], strlen(prefixes[i])) == 0)
            return 1;
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
        if (strstr(n, parts[i]))
            return 1;
    if (tc_ends_with(n, ".attention.masked_bias") || tc_ends_with(n, ".attention.bias") ||
        tc_ends_with(n, ".rotary_emb.inv_freq"))
        return 1;
    if ((m->arch->flags & HF_DROP_LM_HEAD) && strcmp(n, "lm_head.weight") == 0)
        return 1;
    return 0;
}

/* ===== building the output ===== */

/* A new zeroed output tensor; NULL (error set) when out of memory. */
static out_t *out_add(hf_model *m, tc_err *e)
{
    if (m->n_out == m->cap_out) {
        size_t nc = m->cap_out ? m->cap_out * 2 : 64;
        out_t *no = tc_realloc(m->out, nc * sizeof *no);
        if (no == NULL) {
            tc_err_nomem(e);
            return NULL;
        }
        m->out = no;
        m->cap_out = nc;
    }
    out_t *o = &m->out[m->n_out++];
    memset(o, 0, sizeof *o);
    return o;
}

/* Layer number from "model.layers.N." (-1 when not a layer tensor) and the rest after it. */
static int64_t layer_of(const char *n, const char **rest)
{
    const char *p = strstr(n, "layers.");
    if (p == NULL)
        return -1;
    p += 7;
    char *end;
    long long v = strtoll(p, &end, 10);
    if (end == p || *end != '.' || v < 0)
        return -1;
    if (rest)
        *rest = end + 1;
    return v;
}

/* Map one HF tensor name; 0 when it has no llama.cpp name. `suffix` gets ".weight"/".bias". */
static int map_name(const hf_model *m, const char *n, char *out, size_t cap)
{
    const char *suf = tc_ends_with(n, ".weight") ? ".weight"
                      : tc_ends_with(n, ".bias") ? ".bias"
                                                 : "";
    char base[256];
    snprintf(base, sizeof base, "%.*s", (int)(strlen(n) - strlen(suf)), n);
    if (strcmp(base, "model.embed_tokens") == 0) {
        snprintf(out, cap, "token_embd%s", suf);
        return 1;
    }
    if (strcmp(base, "lm_head") == 0 || strcmp(base, "model.lm_head") == 0) {
        snprintf(out, cap, "output%s", suf);
        return 1;
    }
    if (strcmp(base, "model.norm") == 0) {
        snprintf(out, cap, "output_norm%s", suf);
        return 1;
    }
    const char *rest;
    int64_t l = layer_of(base, &rest);
    if (l < 0 || strncmp(base, "model.layers.", 13) != 0)
        return 0;
    unsigned mask = m->arch->mask;
    if (strcmp(rest, "post_attention_layernorm") == 0) {
        snprintf(out, cap, "blk.%lld.%s%s", (long long)l,
                 (m->arch->flags & HF_POST_NORMS) ? "post_attention_norm" : "ffn_norm", suf);
        return 1;
    }
    if (strcmp(m->arch->gguf, "phi3") == 0)
        mask |= 16;
    for (size_t i = 0; i < sizeof tmap_layer / sizeof tmap_layer[0]; i++)
        if ((tmap_layer[i].mask & mask) && strcmp(rest, tmap_layer[i].hf) == 0) {
            if (strcmp(tmap_layer[i].gguf, "exp_probs_b") == 0)
                suf = ".bias";
            snprintf(out, cap, "blk.%lld.%s%s", (long long)l, tmap_layer[i].gguf, suf);
            return 1;
        }
    return 0;
}

static tc_status add_plain(hf_model *m, const tc_tensor *src, const char *name, int op,
                           int64_t heads, tc_err *e)
{
    out_t *o = out_add(m, e);
    if (o == NULL)
        return TC_E_NOMEM;
    snprintf(o->name, sizeof o->name, "%s", name);
    o->src = src;
    o->op = op;
    o->heads = heads;
    o->dtype = op == OP_NORM1 ? TC_DTYPE_F32 : tc_tensor_dtype(src);
    o->n_dims = tc_tensor_n_dims(src);
    if (o->n_dims > 4)
        return tc_err_set(e, TC_E_UNSUPPORTED, "tensor '%s': %d dimensions", name, o->n_dims);
    memcpy(o->shape, tc_tensor_shape(src), (size_t)o->n_dims * sizeof(int64_t));
    if (op == OP_PERMUTE) {
        int64_t rows = o->n_dims >= 2 ? o->shape[0] : o->shape[0];
        if (heads <= 0 || rows % (2 * heads) != 0)
            return tc_err_set(e, TC_E_FORMAT,
                              "%s: tensor '%s' has %lld rows, which %lld heads cannot split in "
                              "rotary halves (config.json contradicts the weights)",
                              m->dir, name, (long long)rows, (long long)heads);
    }
    return TC_OK;
}

/* Per-layer expert buffers: experts[l][which][E]. */
typedef struct exp_buf {
    const tc_tensor **t; /* 3 * n_expert */
    size_t have;
} exp_buf;

static int expert_slot(const hf_model *m, const char *rest, int64_t *ex, int *which)
{
    /* mixtral: block_sparse_moe.experts.E.w{1,2,3}; others: mlp.experts.E.{gate,up,down}_proj */
    const char *p = strstr(rest, "experts.");
    if (p == NULL || strstr(rest, "shared_expert"))
        return 0;
    p += 8;
    char *end;
    long long v = strtoll(p, &end, 10);
    if (end == p || *end != '.')
        return 0;
    *ex = v;
    end++;
    if (m->arch->flags & HF_EXP_DGU) { /* down, gate, up */
        *which = strncmp(end, "down_proj", 9) == 0   ? 0
                 : strncmp(end, "gate_proj", 9) == 0 ? 1
                 : strncmp(end, "up_proj", 7) == 0   ? 2
                                                     : -1;
    } else { /* w1 gate, w2 down, w3 up */
        *which = strncmp(end, "w1", 2) == 0   ? 0
                 : strncmp(end, "w2", 2) == 0 ? 1
                 : strncmp(end, "w3", 2) == 0 ? 2
                                              : -1;
    }
    return *which >= 0;
}

static tc_status emit_experts(hf_model *m, int64_t l, exp_buf *b, tc_err *e)
{
    static const char *const dgu[] = {"ffn_down_exps", "ffn_gate_exps", "ffn_up_exps"};
    static const char *const gdu[] = {"ffn_gate_exps", "ffn_down_exps", "ffn_up_exps"};
    const char *const *names = (m->arch->flags & HF_EXP_DGU) ? dgu : gdu;
    for (int w = 0; w < 3; w++) {
        out_t *o = out_add(m, e);
        if (o == NULL)
            return TC_E_NOMEM;
        snprintf(o->name, sizeof o->name, "blk.%lld.%s.weight", (long long)l, names[w]);
        o->op = OP_STACK;
        o->n_parts = (size_t)m->n_expert;
        o->parts = tc_calloc(o->n_parts, sizeof *o->parts);
        if (o->parts == NULL)
            return tc_err_nomem(e);
        const tc_tensor *t0 = b->t[(size_t)w * o->n_parts];
        o->dtype = tc_tensor_dtype(t0);
        if (tc_tensor_n_dims(t0) != 2)
            return tc_err_set(e, TC_E_FORMAT, "%s: expert tensor '%s' is not 2-D", m->dir,
                              tc_tensor_name(t0));
        o->n_dims = 3;
        o->shape[0] = m->n_expert;
        o->shape[1] = tc_tensor_shape(t0)[0];
        o->shape[2] = tc_tensor_shape(t0)[1];
        for (size_t k = 0; k < o->n_parts; k++) {
            const tc_tensor *t = b->t[(size_t)w * o->n_parts + k];
            if (tc_tensor_dtype(t) != o->dtype || tc_tensor_shape(t)[0] != o->shape[1] ||
                tc_tensor_shape(t)[1] != o->shape[2])
                return tc_err_set(e, TC_E_FORMAT,
                                  "%s: expert tensor '%s' differs in shape or type from expert 0",
                                  m->dir, tc_tensor_name(t));
            o->parts[k] = t;
        }
    }
    return TC_OK;
}

/* llama3 rope scaling: the rope_freqs tensor, computed in float32 as numpy does. */
static tc_status gen_rope_freqs(hf_model *m, const rope_p *r, tc_err *e)
{
    const json_t *p = r->p;
    double base = r->has_theta ? r->theta : 10000.0;
    int64_t dim = m->head_dim > 0 ? m->head_dim : m->n_embd / m->n_head;
    const json_t *jf = json_object_get(p, "factor"), *jl = json_object_get(p, "low_freq_factor"),
                 *jh = json_object_get(p, "high_freq_factor"),
                 *jo = json_object_get(p, "original_max_position_embeddings");
    float factor = json_is_number(jf) ? (float)json_number_value(jf) : 8.0f;
    float low = json_is_number(jl) ? (float)json_number_value(jl) : 1.0f;
    float high = json_is_number(jh) ? (float)json_number_value(jh) : 4.0f;
    float old = json_is_number(jo) ? (float)json_number_value(jo) : 8192.0f;
    out_t *o = out_add(m, e);
    if (o == NULL)
        return TC_E_NOMEM;
    snprintf(o->name, sizeof o->name, "rope_freqs.weight");
    o->op = OP_OWNED;
    o->dtype = TC_DTYPE_F32;
    o->n_dims = 1;
    o->shape[0] = dim / 2;
    o->owned_n = (uint64_t)(dim / 2);
    o->owned = tc_malloc((size_t)o->owned_n * sizeof(float));
    if (o->owned == NULL)
        return tc_err_nomem(e);
    float low_wl = old / low, high_wl = old / high;
    for (int64_t i = 0; i < dim / 2; i++) {
        /* freqs = 1 / base ** (arange(0, dim, 2) / dim): the exponent in float32 */
        float ex = (float)(2 * i) / (float)dim;
        float freq = 1.0f / powf((float)base, ex);
        float wl = 2.0f * (float)M_PI / freq;
        float v;
        if (wl < high_wl)
            v = 1.0f;
        else if (wl > low_wl)
            v = factor;
        else {
            float smooth = (old / wl - low) / (high - low);
            v = 1.0f / ((1.0f - smooth) / factor + smooth);
        }
        o->owned[i] = v;
    }
    return TC_OK;
}

/* Phi3 LongRoPE: rope_factors_long/short (F32, rope_dims/2 each) and the attention factor. */
static tc_status gen_phi3_rope(hf_model *m, tc_err *e)
{
    const json_t *rp = json_object_get(m->cfg, "rope_parameters");
    if (!json_is_object(rp))
        rp = json_object_get(m->cfg, "rope_scaling");
    const json_t *lf = json_object_get(rp, "long_factor"),
                 *sf = json_object_get(rp, "short_factor");
    if (lf == NULL)
        return TC_OK;
    const json_t *ty = json_object_get(rp, "rope_type");
    if (!json_is_string(ty))
        ty = json_object_get(rp, "type");
    const char *t = json_is_string(ty) ? json_string_value(ty) : "";
    int yarn = strcmp(t, "yarn") == 0;
    if (!yarn && strcmp(t, "su") != 0 && strcmp(t, "longrope") != 0)
        return tc_err_set(e, TC_E_UNSUPPORTED,
                          "%s/config.json: rope_scaling type '%s' with long_factor is not "
                          "supported (su, longrope or yarn)",
                          m->dir, t);
    int64_t half = phi3_rope_dims(m) / 2;
    const json_t *fs[2] = {lf, sf};
    static const char *const names[2] = {"rope_factors_long.weight", "rope_factors_short.weight"};
    for (int k = 0; k < 2; k++) {
        if (!json_is_array(fs[k]) || (int64_t)json_array_size(fs[k]) != half)
            return tc_err_set(e, TC_E_FORMAT,
                              "%s/config.json: rope_scaling %s must be a list of %lld numbers "
                              "(rope dimensions / 2)",
                              m->dir, k ? "short_factor" : "long_factor", (long long)half);
        out_t *o = out_add(m, e);
        if (o == NULL)
            return TC_E_NOMEM;
        snprintf(o->name, sizeof o->name, "%s", names[k]);
        o->op = OP_OWNED;
        o->dtype = TC_DTYPE_F32;
        o->n_dims = 1;
        o->shape[0] = half;
        o->owned_n = (uint64_t)half;
        o->owned = tc_malloc((size_t)half * sizeof(float));
        if (o->owned == NULL)
            return tc_err_nomem(e);
        for (int64_t i = 0; i < half; i++) {
            const json_t *v = json_array_get(fs[k], (size_t)i);
            if (!json_is_number(v))
                return tc_err_set(e, TC_E_FORMAT,
                                  "%s/config.json: rope_scaling %s[%lld] is not "
                                  "a number",
                                  m->dir, k ? "short_factor" : "long_factor", (long long)i);
            o->owned[i] = (float)json_number_value(v);
        }
    }
    double ctx = (double)cfg_int(m, KEYS("n_positions", "max_position_embeddings"), m->arch->d_ctx);
    double orig = (double)phi3_orig_ctx(m), scale = ctx / orig, af = 1.0;
    if (scale > 1.0)
        af = yarn ? 0.1 * log(scale) + 1.0 : sqrt(1.0 + log(scale) / log(orig));
    return kv_f32(m, "rope.scaling.attn_factor", af, e);
}

static tc_status collect(hf_model *m, tc_err *e)
{
    unsigned flags = m->arch->flags;
    int64_t kv_heads_permute = m->n_head_kv;
    rope_p r;
    rope_params(m, &r);
    tc_status rc = TC_OK;
    if (r.type && strcasecmp(r.type, "llama3") == 0 && strcmp(m->arch->gguf, "llama") == 0)
        rc = gen_rope_freqs(m, &r, e);
    json_decref(r.own);
    TC_TRY(rc);
    if (strcmp(m->arch->gguf, "phi3") == 0)
        TC_TRY(gen_phi3_rope(m, e));

    exp_buf *eb = NULL;
    if (flags & HF_MOE) {
        if (m->n_expert <= 0 || m->n_expert > HF_MAX_EXPERTS)
            return tc_err_set(e, TC_E_FORMAT, "%s/config.json: expert count %lld out of range",
                              m->dir, (long long)m->n_expert);
        eb = tc_calloc((size_t)m->n_layer, sizeof *eb);
        if (eb == NULL)
            return tc_err_nomem(e);
    }
    for (size_t f = 0; f < m->n_files && rc == TC_OK; f++) {
        tc_graph *g = m->files[f].g;
        size_t nt = tc_graph_n_tensors(g);
        const tc_tensor **ts = tc_malloc((nt ? nt : 1) * sizeof *ts);
        if (ts == NULL) {
            rc = tc_err_nomem(e);
            break;
        }
        for (size_t i = 0; i < nt; i++)
            ts[i] = tc_graph_tensor(g, i);
        if (tc_ends_with(m->files[f].path, ".safetensors")) /* the converter sorts by name */
            qsort(ts, nt, sizeof *ts, name_cmp);
        for (size_t i = 0; i < nt && rc == TC_OK; i++) {
            const tc_tensor *t = ts[i];
            char nm[TC_MAX_NAME], gg[160];
            if (m->fp8g) { /* FP8: scales consumed, weights read dequantized */
                const char *sn = tc_tensor_name(t);
                if (tc_ends_with(sn, "_scale_inv") || tc_ends_with(sn, ".activation_scale") ||
                    tc_ends_with(sn, "_activation_scale"))
                    continue;
                const tc_tensor *v = tc_graph_find(m->fp8g, sn);
                if (v)
                    t = v;
            }
            snprintf(nm, sizeof nm, "%s", tc_tensor_name(t));
            /* renames at indexing time */
            char *lm = strstr(nm, "language_model.");
            if (lm)
                memmove(lm, lm + 15, strlen(lm + 15) + 1);
            if (strncmp(nm, "text_model.", 11) == 0)
                memmove(nm, nm + 11, strlen(nm + 11) + 1);
            char *ec = strstr(nm, "e_score_correction_bias");
            if (ec && ec[23] == 0)
                ec[18] = '.'; /* ...e_score_correction.bias */
            if (strcmp(m->arch->gguf, "qwen2") == 0 && strncmp(nm, "model.", 6) != 0 &&
                strcmp(nm, "lm_head.weight") != 0) {
                if (strlen(nm) + 6 >= sizeof nm) {
                    rc = tc_err_set(e, TC_E_FORMAT, "%s: tensor name too long", m->dir);
                    break;
                }
                memmove(nm + 6, nm, strlen(nm) + 1);
                memcpy(nm, "model.", 6);
            }
            if (is_dropped(m, nm))
                continue;
            const char *rest = NULL;
            int64_t l = layer_of(nm, &rest);
            if (l >= m->n_layer && strncmp(nm, "model.layers.", 13) == 0)
                continue; /* MTP layers past num_hidden_layers (DeepSeek-V3) */
            int64_t ex;
            int which;
            if ((flags & HF_MOE) && l >= 0 && expert_slot(m, rest, &ex, &which)) {
                if (ex < 0 || ex >= m->n_expert) {
                    rc = tc_err_set(e, TC_E_FORMAT, "%s: tensor '%s': expert %lld of %lld", m->dir,
                                    nm, (long long)ex, (long long)m->n_expert);
                    break;
                }
                exp_buf *b = &eb[l];
                if (b->t == NULL &&
                    (b->t = tc_calloc(3 * (size_t)m->n_expert, sizeof *b->t)) == NULL) {
                    rc = tc_err_nomem(e);
                    break;
                }
                size_t slot = (size_t)which * (size_t)m->n_expert + (size_t)ex;
                if (b->t[slot] == NULL)
                    b->have++;
                b->t[slot] = t;
                if (b->have == 3 * (size_t)m->n_expert) {
                    rc = emit_experts(m, l, b, e);
                    tc_free(b->t);
                    b->t = NULL;
                    b->have = 0;
                }
                continue;
            }
            /* DeepSeek kv_b: split into k_b (transposed) and v_b */
            if (strcmp(m->arch->gguf, "deepseek2") == 0 && rest &&
                strcmp(rest, "self_attn.kv_b_proj.weight") == 0) {
                int64_t per = m->qk_nope + m->v_head;
                if (tc_tensor_n_dims(t) != 2 || tc_tensor_shape(t)[0] != m->n_head * per ||
                    tc_tensor_shape(t)[1] != m->kv_lora) {
                    rc = tc_err_set(e, TC_E_FORMAT,
                                    "%s: tensor '%s' is not [n_head*(qk_nope+v_head), "
                                    "kv_lora_rank] as config.json says",
                                    m->dir, nm);
                    break;
                }
                for (int k = 0; k < 2 && rc == TC_OK; k++) {
                    out_t *o = out_add(m, e);
                    if (o == NULL) {
                        rc = TC_E_NOMEM;
                        break;
                    }
                    snprintf(o->name, sizeof o->name, "blk.%lld.%s.weight", (long long)l,
                             k ? "attn_v_b" : "attn_k_b");
                    o->op = k ? OP_VB : OP_KB;
                    o->src = t;
                    o->heads = per;
                    o->dtype = tc_tensor_dtype(t);
                    o->n_dims = 3;
                    o->shape[0] = m->n_head;
                    o->shape[1] = k ? m->v_head : m->kv_lora;
                    o->shape[2] = k ? m->kv_lora : m->qk_nope;
                }
                continue;
            }
            if (!map_name(m, nm, gg, sizeof gg)) {
                rc = tc_err_set(e, TC_E_UNSUPPORTED,
                                "%s: cannot map tensor '%s' to a llama.cpp name for %s", m->dir, nm,
                                m->arch->hf);
                break;
            }
            int op = OP_COPY;
            int64_t heads = 0;
            if ((flags & HF_PERMUTE_QK) && rest &&
                (strncmp(rest, "self_attn.q_proj.", 17) == 0 ||
                 strncmp(rest, "self_attn.k_proj.", 17) == 0)) {
                op = OP_PERMUTE;
                heads = rest[10] == 'q' ? m->n_head : kv_heads_permute;
            }
            if ((flags & HF_GEMMA_NORM) && tc_ends_with(nm, "norm.weight"))
                op = OP_NORM1;
            rc = add_plain(m, t, gg, op, heads, e);
        }
        tc_free(ts);
    }
    for (int64_t l = 0; eb && l < m->n_layer; l++) {
        if (eb[l].have && rc == TC_OK)
            rc = tc_err_set(e, TC_E_FORMAT,
                            "%s: layer %lld has %zu of its %lld expert tensors (a missing shard "
                            "or a config.json that contradicts the weights)",
                            m->dir, (long long)l, eb[l].have, (long long)(3 * m->n_expert));
        tc_free(eb[l].t);
    }
    tc_free(eb);
    return rc;
}

static void out_free(void *p)
{
    out_t *o = p;
    tc_free(o->parts);
    tc_free(o->owned);
    tc_free(o);
}

/* Move the assembled outputs into the graph, generated tensors first. */
static tc_status materialise(hf_model *m, tc_err *e)
{
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < m->n_out; i++) {
            out_t *src = &m->out[i];
            if ((pass == 0) != (src->op == OP_OWNED))
                continue;
            tc_tensor *t;
            TC_TRY(
                tc_graph_add_tensor(m->g, src->name, src->dtype, src->n_dims, src->shape, &t, e));
            if (src->op == OP_COPY) {
                const tc_map *mp;
                uint64_t off;
                if (tc_tensor_mapped(src->src, &mp, &off)) {
                    TC_TRY(tc_tensor_set_mapped(t, (tc_map *)mp, off, e));
                    continue;
                }
            }
            if (src->op == OP_OWNED) {
                size_t nb = (size_t)src->owned_n * sizeof(float);
                float *buf = tc_malloc(nb ? nb : 1);
                if (buf == NULL)
                    return tc_err_nomem(e);
                memcpy(buf, src->owned, nb);
                TC_TRY(tc_tensor_set_owned(t, buf, nb, e));
                continue;
            }
            out_t *ctx = tc_malloc(sizeof *ctx);
            if (ctx == NULL)
                return tc_err_nomem(e);
            *ctx = *src;
            src->parts = NULL; /* owned by ctx now */
            tc_read_fn fn = src->op == OP_PERMUTE                    ? read_permute
                            : src->op == OP_STACK                    ? read_stack
                            : src->op == OP_NORM1                    ? read_norm1
                            : (src->op == OP_KB || src->op == OP_VB) ? read_kvb
                                                                     : read_stack;
            if (src->op == OP_COPY) { /* lazy plain copy: a one-part stack */
                ctx->parts = tc_malloc(sizeof *ctx->parts);
                if (ctx->parts == NULL) {
                    tc_free(ctx);
                    return tc_err_nomem(e);
                }
                ctx->parts[0] = src->src;
                ctx->n_parts = 1;
                fn = read_stack;
            }
            TC_TRY(tc_tensor_set_lazy(t, fn, ctx, out_free, e));
        }
    return TC_OK;
}

/* ===== config ===== */

static tc_status load_config(hf_model *m, tc_err *e)
{
    TC_TRY(tc_hf_json_load(m->dir, "config.json", HF_MAX_JSON, 0, &m->raw, e));
    m->cfg = json_deep_copy(m->raw);
    if (m->cfg == NULL)
        return tc_err_nomem(e);
    static const char *const renames[] = {"llm_config", "lm_config", "language_config", "lfm"};
    json_t *tc = json_object_get(m->cfg, "text_config");
    for (size_t i = 0; !tc && i < 4; i++)
        tc = json_object_get(m->cfg, renames[i]);
    if (!tc)
        tc = json_object_get(json_object_get(m->cfg, "thinker_config"), "text_config");
    const json_t *archs_j = json_object_get(tc, "architectures");
    if (!json_is_array(archs_j))
        archs_j = json_object_get(m->raw, "architectures");
    if (json_is_object(tc)) {
        json_t *t2 = json_deep_copy(tc);
        json_object_update(m->cfg, t2);
        json_decref(t2);
    }
    const json_t *a0 = json_array_get(archs_j, 0);
    if (!json_is_string(a0))
        return tc_err_set(e, TC_E_FORMAT,
                          "%s/config.json: no \"architectures\" list naming the model class",
                          m->dir);
    const char *hfa = json_string_value(a0);
    for (size_t i = 0; i < N_ARCHS; i++)
        if (strcmp(archs[i].hf, hfa) == 0)
            m->arch = &archs[i];
    if (m->arch == NULL) {
        char list[1024] = "";
        size_t k = 0;
        for (size_t i = 0; i < N_ARCHS; i++)
            k += (size_t)snprintf(list + k, k < sizeof list ? sizeof list - k : 0, "%s%s",
                                  i ? ", " : "", archs[i].hf);
        return tc_err_set(e, TC_E_UNSUPPORTED,
                          "%s/config.json: architecture %s is not supported (supported: %s)",
                          m->dir, hfa, list);
    }
    m->n_layer = cfg_int(m, KEYS("n_layers", "num_hidden_layers", "n_layer", "num_layers"), -1);
    m->n_embd = cfg_int(m, KEYS("hidden_size", "n_embd", "dim"), -1);
    m->n_head = cfg_int(m, KEYS("num_attention_heads", "n_head", "n_heads"), -1);
    m->n_head_kv = cfg_int(m, KEYS("num_key_value_heads", "n_kv_heads"), m->n_head);
    m->n_ff = cfg_int(m, KEYS("intermediate_size", "n_inner", "hidden_dim"), 0);
    m->n_expert = cfg_int(m, KEYS("num_local_experts", "num_experts", "n_routed_experts"), 0);
    m->head_dim = cfg_int(m, KEYS("head_dim"), 0);
    if (m->head_dim <= 0) {
        if (m->arch->d_head_dim < 0 && m->n_head > 0)
            m->head_dim = m->n_embd / m->n_head;
        else if (m->arch->d_head_dim > 0)
            m->head_dim = m->arch->d_head_dim;
    }
    if (m->n_layer <= 0 || m->n_layer > 512 || m->n_embd <= 0 || m->n_head <= 0 ||
        m->n_head_kv <= 0)
        return tc_err_set(e, TC_E_FORMAT,
                          "%s/config.json: needs num_hidden_layers (1..512), hidden_size and "
                          "num_attention_heads",
                          m->dir);
    /* sizes far beyond any model: products of two of them must not overflow */
    const int64_t big = (int64_t)1 << 24;
    if (m->n_embd > big || m->n_head > big || m->n_head_kv > big || m->n_ff < 0 || m->n_ff > big ||
        m->head_dim < 0 || m->head_dim > big || m->n_expert < 0 || m->n_expert > big)
        return tc_err_set(e, TC_E_FORMAT,
                          "%s/config.json: a size (hidden, heads, head_dim, intermediate, experts) "
                          "is out of range",
                          m->dir);
    const json_t *qc = json_object_get(m->cfg, "quantization_config");
    if (json_is_object(qc)) {
        const json_t *qm = json_object_get(qc, "quant_method");
        const char *method = json_is_string(qm) ? json_string_value(qm) : "(none)";
        if (strcmp(method, "fp8") != 0)
            return tc_err_set(e, TC_E_UNSUPPORTED,
                              "%s/config.json: quantized checkpoint (quantization_config."
                              "quant_method \"%s\") is not supported; fp8 is",
                              m->dir, method);
        m->fp8 = 1;
        const json_t *bs = json_object_get(qc, "weight_block_size");
        if (bs && !json_is_null(bs)) {
            const json_t *b0 = json_array_get(bs, 0), *b1 = json_array_get(bs, 1);
            if (!json_is_array(bs) || json_array_size(bs) != 2 || !json_is_integer(b0) ||
                !json_is_integer(b1) || json_integer_value(b0) <= 0 ||
                json_integer_value(b1) <= 0 || json_integer_value(b0) > (1 << 20) ||
                json_integer_value(b1) > (1 << 20))
                return tc_err_set(e, TC_E_FORMAT,
                                  "%s/config.json: quantization_config.weight_block_size must "
                                  "be two positive integers",
                                  m->dir);
            m->fp8_bh = (int64_t)json_integer_value(b0);
            m->fp8_bw = (int64_t)json_integer_value(b1);
        }
    }
    if (strcmp(m->arch->gguf, "deepseek2") == 0) {
        m->qk_nope = cfg_int(m, KEYS("qk_nope_head_dim"), 0);
        m->qk_rope = cfg_int(m, KEYS("qk_rope_head_dim"), 0);
        m->v_head = cfg_int(m, KEYS("v_head_dim"), 0);
        m->kv_lora = cfg_int(m, KEYS("kv_lora_rank"), 512);
        if (m->qk_nope <= 0 || m->qk_rope <= 0 || m->v_head <= 0 || m->qk_nope > big ||
            m->qk_rope > big || m->v_head > big || m->kv_lora <= 0 || m->kv_lora > big)
            return tc_err_set(e, TC_E_FORMAT,
                              "%s/config.json: DeepSeek needs qk_nope_head_dim, qk_rope_head_dim, "
                              "v_head_dim and kv_lora_rank (each 1..16777216)",
                              m->dir);
        /* MLA stored as MQA: one KV head; rms eps default 1e-6 */
        json_object_set_new(m->cfg, "num_key_value_heads", json_integer(1));
        m->n_head_kv = 1;
    }
    return TC_OK;
}

/* ===== public ===== */

int tc_hf_is_model_dir(const char *dir)
{
    if (!tc_is_dir(dir))
        return 0;
    json_t *c = NULL;
    tc_err e = {0};
    char *p = tc_path_join(dir, "config.json");
    struct stat st;
    int exists = p && stat(p, &st) == 0;
    tc_free(p);
    if (!exists)
        return 0;
    /* a config.json that does not parse is the model's, reported by tc_hf_read */
    if (tc_hf_json_load(dir, "config.json", HF_MAX_JSON, 1, &c, &e) != TC_OK || c == NULL)
        return 1;
    int ok = json_is_array(json_object_get(c, "architectures")) ||
             json_is_array(json_object_get(json_object_get(c, "text_config"), "architectures"));
    json_decref(c);
    return ok;
}

/* parameter counts for the size label (gguf-py's get_total_parameter_count) */
static void count_params(const hf_model *m, tc_hf_params *p)
{
    memset(p, 0, sizeof *p);
    double sum_exp = 0;
    uint64_t n_exp_t = 0;
    for (size_t i = 0; i < m->n_out; i++) {
        const out_t *t = &m->out[i];
        uint64_t n = 1;
        for (int d = 0; d < t->n_dims; d++)
            n *= (uint64_t)t->shape[d];
        p->total += n;
        const char *nm = t->name;
        int nd = t->n_dims;
        if (strstr(nm, "_exps.") && nd >= 3) {
            int64_t ne = tc_ends_with(nm, ".bias") ? t->shape[nd - 2] : t->shape[nd - 3];
            if (ne > 0) {
                p->expert += n / (uint64_t)ne;
                sum_exp += (double)ne;
                n_exp_t++;
            }
        } else {
            p->shared += n;
        }
    }
    p->expert_count = n_exp_t ? (uint64_t)(sum_exp / (double)n_exp_t) : 0;
}

tc_status tc_hf_read(const char *dir, const tc_hf_opts *o, tc_graph **out, tc_err *e)
{
    *out = NULL;
    hf_model m;
    memset(&m, 0, sizeof m);
    m.dir = dir;
    char **names = NULL;
    size_t n_names = 0;
    tc_status rc = load_config(&m, e);
    if (rc == TC_OK && (m.g = tc_graph_new()) == NULL)
        rc = tc_err_nomem(e);
    if (rc == TC_OK && !(o && o->vocab_only))
        rc = find_weight_files(&m, &names, &n_names, e);
    if (rc == TC_OK && n_names)
        rc = check_index(&m, names, n_names, e);
    if (rc == TC_OK && n_names && (m.files = tc_calloc(n_names, sizeof *m.files)) == NULL)
        rc = tc_err_nomem(e);
    for (size_t i = 0; rc == TC_OK && i < n_names; i++) {
        m.files[i].path = tc_path_join(dir, names[i]);
        m.n_files++;
        if (m.files[i].path == NULL)
            rc = tc_err_nomem(e);
        else
            rc = tc_read(m.files[i].path, &m.files[i].g, NULL, e);
        for (size_t k = 0; rc == TC_OK && k < tc_graph_n_sources(m.files[i].g); k++) {
            uint64_t sz;
            const char *sp = tc_graph_source(m.files[i].g, k, &sz);
            rc = tc_graph_add_source(m.g, sp, sz, e);
        }
    }
    if (rc == TC_OK)
        rc = tc_graph_set_format(m.g, "hf", NULL, e);
    if (rc == TC_OK)
        rc = tc_graph_set_str(m.g, "general.architecture", m.arch->gguf, e);
    if (rc == TC_OK && n_names && m.fp8)
        rc = prepare_fp8(&m, e);
    if (rc == TC_OK && n_names)
        rc = collect(&m, e);
    /* metadata in the converter's order: card, hyper-parameters, tokenizer */
    tc_hf_params params;
    if (rc == TC_OK) {
        count_params(&m, &params);
        rc = tc_hf_card(dir, m.raw, &params, o, m.g, e);
    }
    if (rc == TC_OK)
        rc = m.arch->hparams(&m, e);
    if (rc == TC_OK)
        rc = tc_graph_set_u32(m.g, "general.quantization_version", 2, e);
    uint64_t n_vocab = 0;
    if (rc == TC_OK)
        rc = tc_hf_vocab(dir, m.cfg, m.arch->hf, m.arch->gguf, o, m.g, &n_vocab, e);
    /* token_embd / output rows must match the vocabulary (Gemma3 keeps the first n_vocab) */
    for (size_t i = 0; rc == TC_OK && n_vocab && i < m.n_out; i++) {
        out_t *t = &m.out[i];
        if ((strcmp(t->name, "token_embd.weight") != 0 && strcmp(t->name, "output.weight") != 0) ||
            t->n_dims != 2 || (uint64_t)t->shape[0] == n_vocab)
            continue;
        if (strcmp(m.arch->gguf, "gemma3") == 0 && (uint64_t)t->shape[0] > n_vocab &&
            t->op == OP_COPY) {
            t->shape[0] = (int64_t)n_vocab; /* read as a prefix of the source */
            t->op = OP_STACK;
            t->parts = tc_malloc(sizeof *t->parts);
            if (t->parts == NULL) {
                rc = tc_err_nomem(e);
                break;
            }
            t->parts[0] = t->src;
            t->n_parts = 1;
            continue;
        }
        rc = tc_err_set(e, TC_E_FORMAT,
                        "%s: %s has %lld rows but the tokenizer has %llu tokens (config.json "
                        "vocab_size contradicts the weights)",
                        dir, t->name, (long long)t->shape[0], (unsigned long long)n_vocab);
    }
    if (rc == TC_OK)
        rc = materialise(&m, e);
    if (rc == TC_OK)
        rc = tc_license_from_dir(m.g, dir, e);
    for (size_t i = 0; i < n_names; i++)
        tc_free(names[i]);
    tc_free(names);
    for (size_t i = 0; i < m.n_out; i++) {
        tc_free(m.out[i].parts);
        tc_free(m.out[i].owned);
    }
    tc_free(m.out);
    /* the per-file graphs: their tensors are referenced by the lazy sources, so they are
     * attached to the output graph and freed with it */
    for (size_t i = 0; i < m.n_files; i++) {
        if (rc == TC_OK && m.files[i].g)
            rc = tc_graph_attach(m.g, m.files[i].g, e);
        else
            tc_graph_free(m.files[i].g);
        tc_free(m.files[i].path);
    }
    tc_free(m.files);
    if (rc == TC_OK && m.fp8g)
        rc = tc_graph_attach(m.g, m.fp8g, e);
    else
        tc_graph_free(m.fp8g);
    json_decref(m.raw);
    json_decref(m.cfg);
    if (rc != TC_OK) {
        tc_graph_free(m.g);
        return rc;
    }
    *out = m.g;
    return TC_OK;
}

/* ===== output types (sheet §1.4) ===== */

static int forced_f32(const tc_tensor *t)
{
    const char *n = tc_tensor_name(t);
    int nd = tc_tensor_n_dims(t);
    return nd <= 1 || tc_ends_with(n, "_norm.weight") || !tc_ends_with(n, ".weight") ||
           strstr(n, ".ffn_gate_inp.") || strstr(n, ".ffn_gate_inp_shexp.") ||
           strcmp(n, "rope_freqs.weight") == 0 || strncmp(n, "rope_factors", 12) == 0;
}

tc_status tc_hf_set_outtype(tc_graph *g, tc_hf_outtype ot, tc_hf_outtype *resolved, tc_err *e)
{
    size_t nt = tc_graph_n_tensors(g);
    if (ot == TC_HF_OUT_AUTO) {
        ot = TC_HF_OUT_F16;
        for (size_t i = 0; i < nt; i++) {
            const tc_tensor *t = tc_graph_tensor(g, i);
            if (tc_tensor_n_dims(t) < 2)
                continue;
            int dt = tc_tensor_dtype(t);
            if (dt == TC_DTYPE_BF16) {
                ot = TC_HF_OUT_BF16;
                break;
            }
            if (dt == TC_DTYPE_F16)
                break;
        }
    }
    if (resolved)
        *resolved = ot;
    int target = ot == TC_HF_OUT_F32    ? TC_DTYPE_F32
                 : ot == TC_HF_OUT_F16  ? TC_DTYPE_F16
                 : ot == TC_HF_OUT_BF16 ? TC_DTYPE_BF16
                                        : TC_DTYPE_Q8_0;
    for (size_t i = 0; i < nt; i++) {
        tc_tensor *t = tc_graph_tensor(g, i);
        int to = forced_f32(t) ? TC_DTYPE_F32 : target;
        if (to == TC_DTYPE_Q8_0 && tc_tensor_row_len(t) % 32 != 0)
            to = TC_DTYPE_F16;
        if (tc_tensor_dtype(t) != to) {
            /* BF16/F32/other sources go through f32 (exact); F16 likewise */
            TC_TRY(tc_tensor_convert(t, to, NULL, e));
        }
    }
    static const uint32_t ft[] = {1, 0, 1, 32, 7};
    return tc_graph_set_u32(g, "general.file_type", ft[ot], e);
}
