/*
 * mix.c - llama.cpp's quantization presets as rules (see mix.h).
 *
 * The logic follows llama.cpp src/llama-quant.cpp (tensor_get_category, tensor_allows_quantization,
 * llama_tensor_get_type, llama_tensor_get_type_impl, tensor_type_fallback,
 * tensor_requires_imatrix, llama_ftype_get_default_type). Where releases differ, the one tests
 * compare against wins: the libllama.so of @node-llama-cpp/linux-x64 3.22.1 (tests/check_mix.c).
 */
#include "mix.h"

#include "tc_dtype.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define D(x) TC_DTYPE_##x

static const tc_preset presets[] = {
    {"Q4_0", TC_FTYPE_Q4_0, D(Q4_0), " 4.34G, +0.4685 ppl @ Llama-3-8B"},
    {"Q4_1", TC_FTYPE_Q4_1, D(Q4_1), " 4.78G, +0.4511 ppl @ Llama-3-8B"},
    {"MXFP4_MOE", TC_FTYPE_MXFP4_MOE, D(MXFP4), " MXFP4 MoE experts, Q8_0 elsewhere"},
    {"Q5_0", TC_FTYPE_Q5_0, D(Q5_0), " 5.21G, +0.1316 ppl @ Llama-3-8B"},
    {"Q5_1", TC_FTYPE_Q5_1, D(Q5_1), " 5.65G, +0.1062 ppl @ Llama-3-8B"},
    {"IQ2_XXS", TC_FTYPE_IQ2_XXS, D(IQ2_XXS), " 2.06 bpw quantization (needs imatrix)"},
    {"IQ2_XS", TC_FTYPE_IQ2_XS, D(IQ2_XS), " 2.31 bpw quantization (needs imatrix)"},
    {"IQ2_S", TC_FTYPE_IQ2_S, D(IQ2_XS), " 2.5  bpw quantization (needs imatrix)"},
    {"IQ2_M", TC_FTYPE_IQ2_M, D(IQ2_S), " 2.7  bpw quantization (needs imatrix)"},
    {"IQ1_S", TC_FTYPE_IQ1_S, D(IQ1_S), " 1.56 bpw quantization (needs imatrix)"},
    {"IQ1_M", TC_FTYPE_IQ1_M, D(IQ1_M), " 1.75 bpw quantization (needs imatrix)"},
    {"TQ1_0", TC_FTYPE_TQ1_0, D(TQ1_0), " 1.69 bpw ternarization"},
    {"TQ2_0", TC_FTYPE_TQ2_0, D(TQ2_0), " 2.06 bpw ternarization"},
    {"Q2_K", TC_FTYPE_Q2_K, D(Q2_K), " 2.96G, +3.5199 ppl @ Llama-3-8B"},
    {"Q2_K_S", TC_FTYPE_Q2_K_S, D(Q2_K), " 2.96G, +3.1836 ppl @ Llama-3-8B (needs imatrix)"},
    {"IQ3_XXS", TC_FTYPE_IQ3_XXS, D(IQ3_XXS), " 3.06 bpw quantization (needs imatrix)"},
    {"IQ3_S", TC_FTYPE_IQ3_S, D(IQ3_S), " 3.44 bpw quantization"},
    {"IQ3_M", TC_FTYPE_IQ3_M, D(IQ3_S), " 3.66 bpw quantization mix"},
    {"Q3_K", TC_FTYPE_Q3_K_M, D(Q3_K), " alias for Q3_K_M", "Q3_K_M"},
    {"IQ3_XS", TC_FTYPE_IQ3_XS, D(IQ3_S), " 3.3 bpw quantization"},
    {"Q3_K_S", TC_FTYPE_Q3_K_S, D(Q3_K), " 3.41G, +1.6321 ppl @ Llama-3-8B"},
    {"Q3_K_M", TC_FTYPE_Q3_K_M, D(Q3_K), " 3.74G, +0.6569 ppl @ Llama-3-8B"},
    {"Q3_K_L", TC_FTYPE_Q3_K_L, D(Q3_K), " 4.03G, +0.5562 ppl @ Llama-3-8B"},
    {"IQ4_NL", TC_FTYPE_IQ4_NL, D(IQ4_NL), " 4.50 bpw non-linear quantization"},
    {"IQ4_XS", TC_FTYPE_IQ4_XS, D(IQ4_XS), " 4.25 bpw non-linear quantization"},
    {"Q4_K", TC_FTYPE_Q4_K_M, D(Q4_K), " alias for Q4_K_M", "Q4_K_M"},
    {"Q4_K_S", TC_FTYPE_Q4_K_S, D(Q4_K), " 4.37G, +0.2689 ppl @ Llama-3-8B"},
    {"Q4_K_M", TC_FTYPE_Q4_K_M, D(Q4_K), " 4.58G, +0.1754 ppl @ Llama-3-8B"},
    {"Q5_K", TC_FTYPE_Q5_K_M, D(Q5_K), " alias for Q5_K_M", "Q5_K_M"},
    {"Q5_K_S", TC_FTYPE_Q5_K_S, D(Q5_K), " 5.21G, +0.1049 ppl @ Llama-3-8B"},
    {"Q5_K_M", TC_FTYPE_Q5_K_M, D(Q5_K), " 5.33G, +0.0569 ppl @ Llama-3-8B"},
    {"Q6_K", TC_FTYPE_Q6_K, D(Q6_K), " 6.14G, +0.0217 ppl @ Llama-3-8B"},
    {"Q8_0", TC_FTYPE_Q8_0, D(Q8_0), " 7.96G, +0.0026 ppl @ Llama-3-8B"},
    {"F16", TC_FTYPE_F16, D(F16), "14.00G, +0.0020 ppl @ Mistral-7B"},
    {"BF16", TC_FTYPE_BF16, D(BF16), "14.00G, -0.0050 ppl @ Mistral-7B"},
    {"F32", TC_FTYPE_ALL_F32, D(F32), "26.00G              @ 7B"},
    {"COPY", TC_FTYPE_COPY, -1, "only copy tensors, no quantizing"},
};
#define N_PRESETS (sizeof presets / sizeof presets[0])

const tc_preset *tc_preset_at(size_t i)
{
    return i < N_PRESETS ? &presets[i] : NULL;
}

const tc_preset *tc_preset_by_ftype(int ftype)
{
    /* The row with this ftype that is not an alias is the canonical name. */
    for (size_t i = 0; i < N_PRESETS; i++)
        if (presets[i].ftype == ftype && presets[i].alias_of == NULL)
            return &presets[i];
    return NULL;
}

const tc_preset *tc_preset_find(const char *name)
{
    if (name == NULL || *name == '\0')
        return NULL;
    for (size_t i = 0; i < N_PRESETS; i++)
        if (strcasecmp(presets[i].name, name) == 0)
            return &presets[i];
    char *end;
    long v = strtol(name, &end, 10);
    if (*end == '\0' && v >= 0 && v < 1000)
        return tc_preset_by_ftype((int)v);
    return NULL;
}

int tc_mix_model_is_70b(const char *arch, int64_t n_layer, int64_t n_head, int64_t n_head_kv)
{
    if (arch == NULL || strcmp(arch, "llama") != 0 || n_layer != 80)
        return 0;
    return n_head_kv > 0 && n_head != n_head_kv;
}

/* ---- tensor categories (tensor_get_category) ---- */

typedef enum cat {
    CAT_TOKEN_EMBD,
    CAT_ATTN_Q,
    CAT_ATTN_V,
    CAT_ATTN_K,
    CAT_ATTN_QKV,
    CAT_ATTN_KV_B,
    CAT_ATTN_OUTPUT,
    CAT_FFN_UP,
    CAT_FFN_GATE,
    CAT_FFN_DOWN,
    CAT_OUTPUT,
    CAT_OTHER
} cat;

static int is_token_embd(const char *n)
{
    return strcmp(n, "token_embd.weight") == 0 || strcmp(n, "per_layer_token_embd.weight") == 0;
}

static cat mix_category(const char *n)
{
    static const struct {
        const char *sub;
        cat c;
    } subs[] = {
        {"attn_qkv.weight", CAT_ATTN_QKV},
        {"attn_kv_b.weight", CAT_ATTN_KV_B},
        {"attn_v.weight", CAT_ATTN_V},
        {"attn_k.weight", CAT_ATTN_K},
        {"attn_q.weight", CAT_ATTN_Q},
        {"attn_output.weight", CAT_ATTN_OUTPUT},
        {"ffn_up", CAT_FFN_UP},
        {"ffn_gate", CAT_FFN_GATE},
        {"ffn_down", CAT_FFN_DOWN},
    };
    if (strcmp(n, "output.weight") == 0)
        return CAT_OUTPUT;
    if (is_token_embd(n))
        return CAT_TOKEN_EMBD;
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++)
        if (strstr(n, subs[i].sub) != NULL)
            return subs[i].c;
    return CAT_OTHER;
}

static int cat_is_attn_v(cat c)
{
    return c == CAT_ATTN_V || c == CAT_ATTN_QKV || c == CAT_ATTN_KV_B;
}

/* ---- ordering ---- */

int tc_mix_layer(const char *name)
{
    int l;
    if (sscanf(name, "blk.%d.", &l) != 1)
        return -1;
    return l;
}

int tc_mix_name_cmp(const char *a, const char *b)
{
    int la = tc_mix_layer(a), lb = tc_mix_layer(b);
    if (la != lb)
        return la < lb ? -1 : 1;
    return strcmp(a, b);
}

/* ---- setup ---- */

int tc_mix_init(tc_mix *m, const tc_mix_opts *opts, const tc_mix_model *model, char *msg,
                size_t cap)
{
    memset(m, 0, sizeof *m);
    m->opts = *opts;
    m->model = *model;
    const tc_preset *p = tc_preset_by_ftype(opts->ftype);
    if (p == NULL) {
        snprintf(msg, cap, "unknown file type %d", opts->ftype);
        return -1;
    }
    m->default_type = p->default_type;
    if (opts->n_overrides < 0 || opts->n_overrides > TC_MIX_MAX_OVERRIDES) {
        snprintf(msg, cap, "too many --tensor-type overrides (max %d)", TC_MIX_MAX_OVERRIDES);
        return -1;
    }
    for (int i = 0; i < opts->n_overrides; i++) {
        const tc_dtype_info *di = tc_dtype_get(opts->override_type[i]);
        if (di == NULL || opts->override_type[i] >= TC_DTYPE_GGML_COUNT) {
            snprintf(msg, cap, "--tensor-type %s: not a GGUF tensor type",
                     opts->override_pattern[i]);
            tc_mix_free(m);
            return -1;
        }
        int rc = regcomp(&m->re[i], opts->override_pattern[i], REG_EXTENDED | REG_NOSUB);
        if (rc != 0) {
            char buf[128];
            regerror(rc, &m->re[i], buf, sizeof buf);
            snprintf(msg, cap, "--tensor-type '%s': bad regular expression: %s",
                     opts->override_pattern[i], buf);
            tc_mix_free(m);
            return -1;
        }
        m->n_re = i + 1;
    }
    int64_t nl = model->n_layer < 0 ? 0 : model->n_layer;
    if (nl > 1000000)
        nl = 1000000;
    m->n_ffn_down = m->n_ffn_gate = m->n_ffn_up = (int)nl;
    return 0;
}

void tc_mix_free(tc_mix *m)
{
    for (int i = 0; i < m->n_re; i++)
        regfree(&m->re[i]);
    m->n_re = 0;
}

void tc_mix_count(tc_mix *m, const char *name)
{
    cat c = mix_category(name);
    if (cat_is_attn_v(c))
        m->n_attention_wv++;
    if (c == CAT_OUTPUT)
        m->has_output = 1;
}

/* ---- tensor_allows_quantization ---- */

/* Architectures with learned position / token-type embeddings that llama.cpp names
 * position_embd / token_types (LLM_TN(arch)(LLM_TENSOR_POS_EMBD / TOKEN_TYPES) exist for them). */
static int arch_has(const char *arch, const char *const *list)
{
    if (arch == NULL)
        return 0;
    for (size_t i = 0; list[i]; i++)
        if (strcmp(arch, list[i]) == 0)
            return 1;
    return 0;
}

/* ggml_n_dims: outer dimensions of size 1 do not count (a [1, 256] tensor is 1-D to ggml). */
static int ggml_dims(int n_dims, const int64_t *shape)
{
    int lead = 0;
    while (lead < n_dims - 1 && shape[lead] == 1)
        lead++;
    return n_dims - lead;
}

int tc_mix_allows_quant(const tc_mix *m, const char *name, int n_dims)
{
    static const char *const never[] = {
        "_norm.weight",
        "ffn_gate_inp.weight",
        "ffn_gate_tid2eid.weight",
        "altup",
        "laurel",
        "per_layer_model_proj",
        "ssm_conv1d",
        "shortconv.conv.weight",
        "indexer.k_proj.weight",
        "indexer.q_proj.weight",
        "time_mix_first.weight",
        "time_mix_w0.weight",
        "time_mix_w1.weight",
        "time_mix_w2.weight",
        "time_mix_v0.weight",
        "time_mix_v1.weight",
        "time_mix_v2.weight",
        "time_mix_a0.weight",
        "time_mix_a1.weight",
        "time_mix_a2.weight",
        "time_mix_g1.weight",
        "time_mix_g2.weight",
        "time_mix_decay_w1.weight",
        "time_mix_decay_w2.weight",
        "time_mix_lerp_fused.weight",
        "attn_rel_b.weight",
        ".position_embd",
        "sam.pos_embd",
        "sam.neck.",
        "sam.net_",
        ".rel_pos",
        ".patch_embd",
        ".patch_merger",
        "a.rvq.codebook",
        "mm.a.code_embd",
        NULL,
    };
    static const char *const pos_archs[] = {"gpt2",
                                            "starcoder",
                                            "refact",
                                            "bert",
                                            "nomic-bert",
                                            "nomic-bert-moe",
                                            "jina-bert-v2",
                                            "neo-bert",
                                            "gptj",
                                            "wavtokenizer-dec",
                                            NULL};
    static const char *const tt_archs[] = {"bert", "nomic-bert", "nomic-bert-moe", "jina-bert-v2",
                                           NULL};
    if (m->opts.ftype == TC_FTYPE_COPY)
        return 0;
    if (n_dims < 2)
        return 0;
    size_t len = strlen(name);
    if (len < 6 || strcmp(name + len - 6, "weight") != 0)
        return 0;
    if (m->opts.leave_output && strcmp(name, "output.weight") == 0)
        return 0;
    for (size_t i = 0; never[i]; i++)
        if (strstr(name, never[i]) != NULL)
            return 0;
    if (strcmp(name, "position_embd.weight") == 0 && arch_has(m->model.arch, pos_archs))
        return 0;
    if (strcmp(name, "token_types.weight") == 0 && arch_has(m->model.arch, tt_archs))
        return 0;
    return 1;
}

/* ---- type selection ---- */

static int use_more_bits(int i, int n)
{
    return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2;
}

static int is_quant(int t)
{
    const tc_dtype_info *di = tc_dtype_get(t);
    return di != NULL && di->is_quant;
}

static int64_t blck(int t)
{
    const tc_dtype_info *di = tc_dtype_get(t);
    return di ? (int64_t)di->blck : 1;
}

/* tensor_type_fallback: a type whose block divides the row length. */
static int mix_fallback(tc_mix *m, int64_t ncols, int t, int *fb)
{
    if (ncols % blck(t) == 0)
        return t;
    m->n_fallback++;
    if (fb)
        *fb = 1;
    int r;
    switch (t) {
    case D(IQ1_S):
    case D(IQ1_M):
    case D(IQ2_XXS):
    case D(IQ2_XS):
    case D(IQ2_S):
    case D(IQ3_XXS):
    case D(IQ3_S):
    case D(IQ4_XS):
        r = D(IQ4_NL);
        break;
    case D(Q2_0):
    case D(Q2_K):
    case D(Q3_K):
    case D(TQ1_0):
    case D(TQ2_0):
        r = D(Q4_0);
        break;
    case D(Q4_K):
        r = D(Q5_0);
        break;
    case D(Q5_K):
        r = D(Q5_1);
        break;
    case D(Q6_K):
        r = D(Q8_0);
        break;
    default:
        /* Types without a fallback entry (Q4_0, Q8_0, IQ4_NL, ...): newer llama.cpp sources
         * throw "no tensor type fallback", but the oracle's release goes on to F16 below. */
        r = t;
        break;
    }
    if (ncols % blck(r) != 0)
        r = D(F16);
    return r;
}

static int64_t n_gqa(const tc_mix_model *md)
{
    if (md->n_head_kv <= 0)
        return md->n_head > 0 ? 1 : 0;
    return md->n_head / md->n_head_kv;
}

/* layer_info: for MoE models the layer comes from the name, else from the running counter. */
static int layer_info(const tc_mix *m, int counter, int n_layer, const char *name, int *i_layer,
                      char *msg, size_t cap)
{
    *i_layer = counter;
    if (m->model.n_expert > 1) {
        int l;
        if (sscanf(name, "blk.%d.", &l) != 1) {
            snprintf(msg, cap, "tensor '%s': cannot determine its layer (no 'blk.N.')", name);
            return -1;
        }
        if (l < 0 || l >= n_layer) {
            snprintf(msg, cap, "tensor '%s': layer %d not in [0, %d)", name, l, n_layer);
            return -1;
        }
        *i_layer = l;
    }
    return 0;
}

#define FT(x) (ft == TC_FTYPE_##x)

/* llama_tensor_get_type_impl */
static int mix_impl(tc_mix *m, int t, const char *name, int n_dims, const int64_t *shape, cat c,
                    char *msg, size_t cap)
{
    const int ft = m->opts.ftype;
    const tc_mix_model *md = &m->model;
    const int falcon = md->arch != NULL && strcmp(md->arch, "falcon") == 0;
    const int64_t gqa = n_gqa(md);
    const int64_t nx = shape[n_dims - 1];
    const int64_t ne2 = n_dims >= 3 ? shape[n_dims - 3] : 1;

    if (c == CAT_OUTPUT || (!m->has_output && c == CAT_TOKEN_EMBD)) {
        if (m->opts.output_tensor_type >= 0)
            return m->opts.output_tensor_type;
        if (FT(MXFP4_MOE))
            return D(Q8_0);
        if (falcon || nx % blck(t) != 0)
            return D(Q8_0);
        if (FT(IQ2_XXS) || FT(IQ2_XS) || FT(IQ3_XXS) || FT(IQ1_S) || FT(IQ2_S) || FT(IQ2_M) ||
            FT(IQ1_M))
            return D(Q5_K);
        if (t != D(Q8_0))
            return D(Q6_K);
        return t;
    }
    if (FT(MXFP4_MOE))
        return ne2 > 1 ? D(MXFP4) : D(Q8_0);
    if (c == CAT_TOKEN_EMBD) {
        if (m->opts.token_embedding_type >= 0)
            return m->opts.token_embedding_type;
        if (FT(IQ2_XXS) || FT(IQ2_XS) || FT(IQ1_S) || FT(IQ1_M))
            return D(Q2_K);
        if (FT(IQ2_S) || FT(IQ2_M) || FT(IQ3_XXS))
            return D(IQ3_S);
        if (FT(TQ1_0) || FT(TQ2_0))
            return D(Q4_K);
        return t;
    }
    if (FT(IQ2_XXS) || FT(IQ2_XS) || FT(IQ1_S) || FT(IQ2_S) || FT(IQ2_M) || FT(IQ1_M)) {
        if (cat_is_attn_v(c)) {
            if (gqa >= 4 || md->n_expert >= 4)
                t = D(Q4_K);
            else
                t = FT(IQ2_S) || FT(IQ2_M) ? D(IQ3_S) : D(Q2_K);
            m->i_attention_wv++;
        } else if (md->n_expert == 8 && c == CAT_ATTN_K) {
            t = D(Q4_K);
        } else if (c == CAT_FFN_DOWN) {
            if (m->i_ffn_down < m->n_ffn_down / 8)
                t = FT(IQ2_S) || FT(IQ2_M) ? D(IQ3_S) : D(Q2_K);
            m->i_ffn_down++;
        } else if (c == CAT_ATTN_OUTPUT) {
            if (md->n_expert == 8)
                t = D(Q5_K);
            else if (FT(IQ1_S) || FT(IQ1_M))
                t = D(IQ2_XXS);
            else if (FT(IQ2_S) || FT(IQ2_M))
                t = D(IQ3_S);
        }
        return t;
    }
    if (cat_is_attn_v(c)) {
        if (FT(Q2_K))
            t = gqa >= 4 ? D(Q4_K) : D(Q3_K);
        else if (FT(Q2_K_S) && gqa >= 4)
            t = D(Q4_K);
        else if (FT(IQ3_XXS))
            t = gqa >= 4 ? D(Q4_K) : !m->opts.has_imatrix ? D(IQ3_S) : D(IQ3_XXS);
        else if ((FT(IQ3_XS) || FT(IQ3_S)) && gqa >= 4)
            t = D(Q4_K);
        else if (FT(IQ3_M))
            t = D(Q4_K);
        else if (FT(Q3_K_M))
            t = m->i_attention_wv < 2 ? D(Q5_K) : D(Q4_K);
        else if (FT(Q3_K_L))
            t = D(Q5_K);
        else if ((FT(IQ4_NL) || FT(IQ4_XS)) && gqa >= 4)
            t = D(Q5_K);
        else if ((FT(Q4_K_M) || FT(Q5_K_M)) && use_more_bits(m->i_attention_wv, m->n_attention_wv))
            t = D(Q6_K);
        else if (FT(Q4_K_S) && m->i_attention_wv < 4)
            t = D(Q5_K);
        if (md->is_70b && (t == D(Q3_K) || t == D(Q4_K)))
            t = D(Q5_K);
        if (md->n_expert == 8)
            t = D(Q8_0);
        m->i_attention_wv++;
        return t;
    }
    if (c == CAT_ATTN_K) {
        if (md->n_expert == 8)
            t = D(Q8_0);
        else if (FT(IQ3_XS))
            t = D(IQ3_XXS);
        else if (FT(IQ3_XXS))
            t = D(IQ2_S);
        return t;
    }
    if (c == CAT_ATTN_Q) {
        if (FT(IQ3_XS))
            t = D(IQ3_XXS);
        else if (FT(IQ3_XXS))
            t = D(IQ2_S);
        return t;
    }
    if (c == CAT_FFN_DOWN) {
        int il, nl = m->n_ffn_down;
        if (layer_info(m, m->i_ffn_down, nl, name, &il, msg, cap) != 0)
            return -1;
        if (FT(Q2_K))
            t = D(Q3_K);
        else if (FT(Q2_K_S)) {
            if (il < nl / 8)
                t = D(Q4_K);
        } else if (FT(IQ3_XXS) && !m->opts.has_imatrix)
            t = il < nl / 8 ? D(Q4_K) : D(Q3_K);
        else if (FT(Q3_K_M))
            t = il < nl / 16 ? D(Q5_K) : !falcon || use_more_bits(il, nl) ? D(Q4_K) : D(Q3_K);
        else if (FT(IQ3_M) && (il < nl / 8 || (md->n_expert == 8 && use_more_bits(il, nl))))
            t = D(Q4_K);
        else if (FT(Q3_K_L))
            t = falcon ? D(Q4_K) : D(Q5_K);
        else if (FT(Q4_K_M)) {
            if (falcon)
                t = il < nl / 16 ? D(Q6_K) : use_more_bits(il, nl) ? D(Q5_K) : D(Q4_K);
            else if (use_more_bits(il, nl))
                t = D(Q6_K);
        } else if (il < nl / 8 && (FT(IQ4_NL) || FT(IQ4_XS)) && !m->opts.has_imatrix)
            t = D(Q5_K);
        else if (FT(Q5_K_M) && use_more_bits(il, nl))
            t = D(Q6_K);
        else if (FT(Q4_K_S) && !falcon && il < nl / 8)
            t = D(Q5_K);
        else if ((FT(Q4_0) || FT(Q5_0)) && m->opts.has_imatrix && il < nl / 8)
            t = FT(Q4_0) ? D(Q4_1) : D(Q5_1);
        m->i_ffn_down++;
        return t;
    }
    if (c == CAT_ATTN_OUTPUT) {
        if (!falcon) {
            if (md->n_expert == 8) {
                if (FT(Q2_K) || FT(IQ3_XS) || FT(IQ3_XXS) || FT(Q3_K_S) || FT(Q3_K_M) ||
                    FT(IQ4_NL) || FT(Q4_K_S) || FT(Q4_K_M) || FT(IQ3_S) || FT(IQ3_M) || FT(IQ4_XS))
                    t = D(Q5_K);
            } else if (FT(Q2_K))
                t = D(Q3_K);
            else if (FT(IQ3_XXS))
                t = D(IQ3_S);
            else if (FT(Q3_K_M))
                t = D(Q4_K);
            else if (FT(Q3_K_L))
                t = D(Q5_K);
            else if (FT(IQ3_M))
                t = D(Q4_K);
        } else if (FT(Q3_K_L))
            t = D(Q4_K);
        return t;
    }
    if (c == CAT_FFN_GATE || c == CAT_FFN_UP) {
        int *ctr = c == CAT_FFN_GATE ? &m->i_ffn_gate : &m->i_ffn_up;
        int nl = c == CAT_FFN_GATE ? m->n_ffn_gate : m->n_ffn_up;
        int il;
        if (layer_info(m, *ctr, nl, name, &il, msg, cap) != 0)
            return -1;
        if (FT(IQ3_XS) && il >= nl / 8 && il < 7 * nl / 8)
            t = D(IQ3_XXS);
        (*ctr)++;
        return t;
    }
    return t;
}

int tc_mix_type(tc_mix *m, const char *name, int n_dims, const int64_t *shape, int cur_type,
                int *fallback, char *msg, size_t cap)
{
    if (fallback)
        *fallback = 0;
    if (n_dims < 1)
        return cur_type;
    if (!tc_mix_allows_quant(m, name, ggml_dims(n_dims, shape)))
        return cur_type;
    cat c = mix_category(name);
    if (m->opts.token_embedding_type >= 0 && c == CAT_TOKEN_EMBD)
        return m->opts.token_embedding_type;
    if (m->opts.output_tensor_type >= 0 && c == CAT_OUTPUT)
        return m->opts.output_tensor_type;
    int t = m->default_type;
    if (!is_quant(t))
        return t;
    int manual = 0;
    for (int i = 0; i < m->n_re; i++)
        if (regexec(&m->re[i], name, 0, NULL, 0) == 0) {
            t = m->opts.override_type[i];
            manual = 1;
            break;
        }
    if (!manual && !m->opts.pure) {
        t = mix_impl(m, t, name, n_dims, shape, c, msg, cap);
        if (t < 0)
            return -1;
    }
    return mix_fallback(m, shape[n_dims - 1], t, fallback);
}

int tc_mix_requires_imatrix(const char *name, int type, int ftype)
{
    if (is_token_embd(name) || strcmp(name, "output.weight") == 0)
        return 0;
    switch (type) {
    case D(IQ3_XXS):
    case D(IQ2_XXS):
    case D(IQ2_XS):
    case D(IQ2_S):
    case D(IQ1_M):
    case D(IQ1_S):
        return 1;
    case D(Q2_K):
        return ftype == TC_FTYPE_Q2_K_S;
    default:
        return 0;
    }
}
