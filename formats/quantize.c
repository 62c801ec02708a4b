/*
 * quantize.c - llama-quantize's run as a library call: plan every tensor's type (quant/mix.c's
 * rules fed with the model's hyper-parameters, in llama.cpp's tensor order), then rewrite the
 * graph as llama-quantize writes its output (see tensorcast.h, tc_quant_plan_new).
 */
#include "mix.h"
#include "tc_impl.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tc_quant_plan {
    tc_quant_step *steps;
    size_t n;
    uint32_t *part_of; /* --keep-split, else NULL */
    const tc_preset *preset;
    tc_quant_totals tot;
    const tc_imatrix *im;
    const char *imatrix_file;
    char *imatrix_file_copy;
};

void tc_quant_opts_init(tc_quant_opts *o)
{
    memset(o, 0, sizeof *o);
    o->output_tensor_type = o->token_embedding_type = -1;
}

/* ---- hyper-parameters from the graph's metadata ---- */

static int64_t kv_int(const tc_graph *g, const char *arch, const char *suffix, int64_t dflt)
{
    char key[256];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    const tc_value *v = tc_graph_get(g, key);
    if (v == NULL)
        return dflt;
    int64_t x;
    if (tc_value_to_i64(v, &x))
        return x;
    if (v->type == TC_V_ARR && v->arr.n > 0 && tc_vtype_size(v->arr.elem) > 0 &&
        v->arr.elem != TC_V_F32 && v->arr.elem != TC_V_F64) {
        /* per-layer arrays (head_count of some models): layer 0, as llama.cpp's n_gqa() */
        tc_value e0 = {.type = v->arr.elem};
        memcpy(&e0.u, v->arr.data, tc_vtype_size(v->arr.elem));
        if (v->arr.elem == TC_V_I8)
            e0.i = *(const int8_t *)v->arr.data;
        else if (v->arr.elem == TC_V_I16)
            e0.i = (int16_t)e0.u;
        else if (v->arr.elem == TC_V_I32)
            e0.i = (int32_t)e0.u;
        if (tc_value_to_i64(&e0, &x))
            return x;
    }
    return dflt;
}

/*
 * general.file_type of a COPY (llama-quantize --only-copy): the input's general.file_type, else
 * llama.cpp's guess from the most common tensor type (lowest type id on ties) with its
 * "guessed" flag (1024) set, as llama_model_loader computes it.
 */
static uint32_t copy_file_type(const tc_graph *g)
{
    const tc_value *v = tc_graph_get(g, "general.file_type");
    uint64_t u;
    if (v && tc_value_to_u64(v, &u) && u <= UINT32_MAX)
        return (uint32_t)u;
    static const struct {
        int type, ftype;
    } map[] = {
        {TC_DTYPE_F32, TC_FTYPE_ALL_F32},     {TC_DTYPE_F16, TC_FTYPE_F16},
        {TC_DTYPE_BF16, TC_FTYPE_BF16},       {TC_DTYPE_Q4_0, TC_FTYPE_Q4_0},
        {TC_DTYPE_Q4_1, TC_FTYPE_Q4_1},       {TC_DTYPE_Q5_0, TC_FTYPE_Q5_0},
        {TC_DTYPE_Q5_1, TC_FTYPE_Q5_1},       {TC_DTYPE_Q8_0, TC_FTYPE_Q8_0},
        {TC_DTYPE_Q2_K, TC_FTYPE_Q2_K},       {TC_DTYPE_Q3_K, TC_FTYPE_Q3_K_M},
        {TC_DTYPE_Q4_K, TC_FTYPE_Q4_K_M},     {TC_DTYPE_Q5_K, TC_FTYPE_Q5_K_M},
        {TC_DTYPE_Q6_K, TC_FTYPE_Q6_K},       {TC_DTYPE_TQ1_0, TC_FTYPE_TQ1_0},
        {TC_DTYPE_TQ2_0, TC_FTYPE_TQ2_0},     {TC_DTYPE_IQ2_XXS, TC_FTYPE_IQ2_XXS},
        {TC_DTYPE_IQ2_XS, TC_FTYPE_IQ2_XS},   {TC_DTYPE_IQ2_S, TC_FTYPE_IQ2_S},
        {TC_DTYPE_IQ3_XXS, TC_FTYPE_IQ3_XXS}, {TC_DTYPE_IQ1_S, TC_FTYPE_IQ1_S},
        {TC_DTYPE_IQ1_M, TC_FTYPE_IQ1_M},     {TC_DTYPE_IQ4_NL, TC_FTYPE_IQ4_NL},
        {TC_DTYPE_IQ4_XS, TC_FTYPE_IQ4_XS},   {TC_DTYPE_IQ3_S, TC_FTYPE_IQ3_S},
        {TC_DTYPE_MXFP4, TC_FTYPE_MXFP4_MOE},
    };
    uint64_t count[TC_DTYPE_GGML_COUNT] = {0};
    for (size_t i = 0; i < tc_graph_n_tensors(g); i++) {
        int t = tc_tensor_dtype(tc_graph_tensor(g, i));
        if (t >= 0 && t < TC_DTYPE_GGML_COUNT)
            count[t]++;
    }
    int best = -1;
    for (int t = 0; t < TC_DTYPE_GGML_COUNT; t++)
        if (count[t] > 0 && (best < 0 || count[t] > count[best]))
            best = t;
    uint32_t ft = TC_FTYPE_ALL_F32;
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (map[i].type == best)
            ft = (uint32_t)map[i].ftype;
    return ft | 1024u; /* LLAMA_FTYPE_GUESSED */
}

/* ---- ordering ---- */

static int step_cmp(const void *a, const void *b)
{
    const tc_quant_step *x = a, *y = b;
    return tc_mix_name_cmp(x->name, y->name);
}

/* --keep-split order: input part, then offset in that part's file (kept in `part` and the
 * offset array while sorting). */
typedef struct split_key {
    tc_quant_step s;
    uint64_t off;
} split_key;

static int split_cmp(const void *a, const void *b)
{
    const split_key *x = a, *y = b;
    if (x->s.part != y->s.part)
        return x->s.part < y->s.part ? -1 : 1;
    return (x->off > y->off) - (x->off < y->off);
}

static tc_status order_keep_split(const tc_graph *g, tc_quant_plan *p, tc_err *e)
{
    size_t nt = p->n, ns = tc_graph_n_sources(g);
    if (tc_graph_format(g) == NULL || strcmp(tc_graph_format(g), "gguf") != 0)
        return tc_err_set(e, TC_E_USAGE, "--keep-split needs a GGUF input");
    split_key *k = tc_calloc(nt ? nt : 1, sizeof *k);
    p->part_of = tc_calloc(nt ? nt : 1, sizeof *p->part_of);
    if (k == NULL || p->part_of == NULL) {
        tc_free(k);
        return tc_err_nomem(e);
    }
    for (size_t i = 0; i < nt; i++) {
        const tc_map *m;
        size_t s = ns;
        k[i].s = p->steps[i];
        if (tc_tensor_mapped(p->steps[i].in, &m, &k[i].off))
            for (s = 0; s < ns; s++)
                if (strcmp(tc_map_path(m), tc_graph_source(g, s, NULL)) == 0)
                    break;
        if (s == ns) {
            tc_free(k);
            return tc_err_set(e, TC_E_USAGE,
                              "--keep-split needs a GGUF input whose tensors are stored in its "
                              "files (tensor '%s')",
                              p->steps[i].name);
        }
        k[i].s.part = (uint32_t)s;
    }
    qsort(k, nt, sizeof *k, split_cmp);
    for (size_t i = 0; i < nt; i++) {
        p->steps[i] = k[i].s;
        /* numbered from 0; input parts without tensors vanish */
        p->part_of[i] = i == 0 ? 0 : p->part_of[i - 1] + (k[i].s.part != k[i - 1].s.part);
    }
    for (size_t i = 0; i < nt; i++)
        p->steps[i].part = p->part_of[i];
    tc_free(k);
    return TC_OK;
}

/* ---- planning ---- */

/* The importance row(s) for a step, checked against the tensor (NULL when none apply). */
static tc_status imatrix_rows(const tc_quant_plan *p, const tc_quant_step *s, const float **w,
                              uint64_t *n_groups, tc_err *e)
{
    *w = NULL;
    *n_groups = 1;
    const tc_dtype_info *ti = tc_dtype_get(s->to);
    if (p->im == NULL || s->to == s->from || ti == NULL || !ti->is_quant)
        return TC_OK;
    int nd = tc_tensor_n_dims(s->in);
    uint64_t row = (uint64_t)tc_tensor_row_len(s->in), wn;
    uint64_t n_mat = nd >= 3 ? (uint64_t)tc_tensor_shape(s->in)[nd - 3] : 1;
    const float *v = tc_imatrix_find(p->im, s->name, &wn);
    if (v == NULL)
        return TC_OK;
    if (wn != row * n_mat) {
        if (strcmp(s->name, "token_embd.weight") == 0 ||
            strcmp(s->name, "per_layer_token_embd.weight") == 0)
            return TC_OK; /* llama-quantize ignores a mismatched entry for the embeddings */
        return tc_err_set(
            e, TC_E_FORMAT,
            "%s: imatrix entry '%s' has %" PRIu64 " values, the tensor needs %" PRIu64,
            p->imatrix_file ? p->imatrix_file : "importance matrix", s->name, wn, row * n_mat);
    }
    *w = v;
    *n_groups = n_mat;
    return TC_OK;
}

tc_status tc_quant_plan_new(const tc_graph *g, const tc_quant_opts *o, tc_quant_plan **out,
                            tc_err *e)
{
    *out = NULL;
    const tc_preset *preset = o->preset ? tc_preset_find(o->preset) : NULL;
    if (preset == NULL)
        return tc_err_set(e, TC_E_USAGE, "unknown preset '%s'", o->preset ? o->preset : "");
    if (o->n_overrides > TC_MIX_MAX_OVERRIDES)
        return tc_err_set(e, TC_E_USAGE, "more than %d tensor type overrides",
                          TC_MIX_MAX_OVERRIDES);
    const char *arch = tc_graph_get_str(g, "general.architecture");
    int ft = preset->ftype;
    if (arch == NULL && !o->pure && ft != TC_FTYPE_COPY && ft != TC_FTYPE_ALL_F32 &&
        ft != TC_FTYPE_F16 && ft != TC_FTYPE_BF16)
        /* never a file whose general.file_type claims a mix it does not have */
        return tc_err_set(e, TC_E_UNSUPPORTED,
                          "the input has no general.architecture: its tensors do not carry "
                          "llama.cpp's names, so %s's per-tensor rules cannot apply. Quantize the "
                          "Hugging Face directory itself (it is mapped), or pass --pure for one "
                          "type everywhere",
                          preset->name);

    tc_mix_opts mo;
    memset(&mo, 0, sizeof mo);
    mo.ftype = ft;
    mo.pure = o->pure;
    mo.leave_output = o->leave_output;
    mo.output_tensor_type = o->output_tensor_type;
    mo.token_embedding_type = o->token_embedding_type;
    mo.has_imatrix = o->imatrix && tc_imatrix_count(o->imatrix) > 0;
    /* llama-quantize lower-cases the patterns (tensor names are lower case) */
    char *lower[TC_MIX_MAX_OVERRIDES] = {0};
    for (size_t i = 0; i < o->n_overrides; i++) {
        if ((lower[i] = tc_strdup(o->override_re[i])) == NULL) {
            for (size_t k = 0; k < i; k++)
                tc_free(lower[k]);
            return tc_err_nomem(e);
        }
        for (char *c = lower[i]; *c; c++)
            *c = (char)tolower((unsigned char)*c);
        mo.override_pattern[i] = lower[i];
        mo.override_type[i] = o->override_type[i];
    }
    mo.n_overrides = (int)o->n_overrides;
    tc_mix_model md = {arch ? arch : "", 0, 0, 0, 0, 0};
    if (arch) {
        md.n_layer = kv_int(g, arch, "block_count", 0);
        md.n_head = kv_int(g, arch, "attention.head_count", 0);
        md.n_head_kv = kv_int(g, arch, "attention.head_count_kv", md.n_head);
        md.n_expert = kv_int(g, arch, "expert_count", 0);
    }
    md.is_70b = tc_mix_model_is_70b(md.arch, md.n_layer, md.n_head, md.n_head_kv);
    tc_mix mix;
    char msg[512];
    tc_status rc = TC_OK;
    tc_quant_plan *p = NULL;
    if (tc_mix_init(&mix, &mo, &md, msg, sizeof msg) != 0) {
        for (size_t k = 0; k < o->n_overrides; k++)
            tc_free(lower[k]);
        return tc_err_set(e, TC_E_USAGE, "%s", msg);
    }
    p = tc_calloc(1, sizeof *p);
    size_t nt = tc_graph_n_tensors(g);
    if (p == NULL || (p->steps = tc_calloc(nt ? nt : 1, sizeof *p->steps)) == NULL) {
        rc = tc_err_nomem(e);
        goto fail;
    }
    p->n = nt;
    p->preset = preset;
    p->im = mo.has_imatrix ? o->imatrix : NULL;
    if (o->imatrix_file && (p->imatrix_file_copy = tc_strdup(o->imatrix_file)) == NULL) {
        rc = tc_err_nomem(e);
        goto fail;
    }
    p->imatrix_file = p->imatrix_file_copy;
    for (size_t i = 0; i < nt; i++) {
        p->steps[i].in = tc_graph_tensor(g, i);
        p->steps[i].name = tc_tensor_name(p->steps[i].in);
    }
    /* llama.cpp's tensor order, then every tensor's type in that order (the rules count) */
    if (o->keep_split)
        rc = order_keep_split(g, p, e);
    else
        qsort(p->steps, nt, sizeof *p->steps, step_cmp);
    if (rc != TC_OK)
        goto fail;
    for (size_t i = 0; i < nt; i++)
        tc_mix_count(&mix, p->steps[i].name);
    tc_quant_totals *t = &p->tot;
    for (size_t i = 0; i < nt; i++) {
        tc_quant_step *s = &p->steps[i];
        int nd = tc_tensor_n_dims(s->in), nd_g = nd;
        s->from = tc_tensor_dtype(s->in);
        s->to = tc_mix_type(&mix, s->name, nd, tc_tensor_shape(s->in), s->from, &s->fallback, msg,
                            sizeof msg);
        if (s->to < 0) {
            rc = tc_err_set(e, TC_E_UNSUPPORTED, "%s", msg);
            goto fail;
        }
        t->n_fallback += (size_t)s->fallback;
        while (nd_g > 1 && tc_tensor_shape(s->in)[nd - nd_g] == 1)
            nd_g--; /* dimensions as ggml counts them */
        if (s->to != s->from && tc_mix_allows_quant(&mix, s->name, nd_g) &&
            tc_mix_requires_imatrix(s->name, s->to, ft) && t->needs_imatrix == NULL) {
            t->needs_imatrix = s->name;
            t->needs_imatrix_type = s->to;
        }
        s->in_bytes = tc_tensor_nbytes(s->in);
        uint64_t ne = tc_tensor_n_elements(s->in);
        s->out_bytes =
            ne ? tc_tensor_n_rows(s->in) * tc_row_size(s->to, tc_tensor_row_len(s->in)) : 0;
        t->in_bytes += s->in_bytes;
        t->out_bytes += s->out_bytes;
        t->n_elements += ne;
    }
    /* what cannot be produced is refused before anything else, imatrix or not */
    for (size_t i = 0; i < nt && !o->dry_run; i++)
        if (p->steps[i].to != p->steps[i].from && !tc_can_quantize(p->steps[i].to)) {
            rc = tc_err_set(e, TC_E_UNSUPPORTED,
                            "preset %s: quantizing to %s (tensor '%s') is not implemented yet "
                            "(tensorcast reads that type, and --dry-run shows the plan)",
                            preset->name, tc_dtype_get(p->steps[i].to)->name, p->steps[i].name);
            goto fail;
        }
    if (t->needs_imatrix && !mo.has_imatrix && !o->dry_run) {
        rc = tc_err_set(e, TC_E_USAGE,
                        "preset %s needs an importance matrix (tensor '%s' becomes %s): pass "
                        "--imatrix FILE",
                        preset->name, t->needs_imatrix, tc_dtype_get(t->needs_imatrix_type)->name);
        goto fail;
    }
    for (size_t i = 0; i < nt; i++) {
        tc_quant_step *s = &p->steps[i];
        const tc_dtype_info *fi = tc_dtype_get(s->from), *ti = tc_dtype_get(s->to);
        if (s->to == s->from)
            continue;
        if (fi && fi->is_quant && !o->allow_requantize) {
            rc = tc_err_set(e, TC_E_UNSUPPORTED,
                            "tensor '%s' is already %s: requantizing is disabled (pass "
                            "--allow-requantize)",
                            s->name, fi->name);
            goto fail;
        }
        const float *w;
        uint64_t ng;
        if ((rc = imatrix_rows(p, s, &w, &ng, e)) != TC_OK)
            goto fail;
        if (w == NULL && tc_mix_requires_imatrix(s->name, s->to, ft) && !o->dry_run) {
            rc = tc_err_set(e, o->imatrix ? TC_E_FORMAT : TC_E_USAGE,
                            "no importance data for tensor '%s' (needed for %s): the imatrix "
                            "must cover it",
                            s->name, ti ? ti->name : "?");
            goto fail;
        }
        s->imatrix = w != NULL;
        if (ti && ti->is_quant) {
            t->n_quantized++;
            t->n_imatrix += (size_t)s->imatrix;
        }
    }
    tc_mix_free(&mix);
    for (size_t k = 0; k < o->n_overrides; k++)
        tc_free(lower[k]);
    *out = p;
    return TC_OK;
fail:
    tc_mix_free(&mix);
    for (size_t k = 0; k < o->n_overrides; k++)
        tc_free(lower[k]);
    tc_quant_plan_free(p);
    return rc;
}

void tc_quant_plan_free(tc_quant_plan *p)
{
    if (p == NULL)
        return;
    tc_free(p->steps);
    tc_free(p->part_of);
    tc_free(p->imatrix_file_copy);
    tc_free(p);
}

size_t tc_quant_plan_len(const tc_quant_plan *p)
{
    return p->n;
}

const tc_quant_step *tc_quant_plan_step(const tc_quant_plan *p, size_t i)
{
    return i < p->n ? &p->steps[i] : NULL;
}

const tc_preset *tc_quant_plan_preset(const tc_quant_plan *p)
{
    return p->preset;
}

const uint32_t *tc_quant_plan_parts(const tc_quant_plan *p)
{
    return p->part_of;
}

const tc_quant_totals *tc_quant_plan_totals(const tc_quant_plan *p)
{
    return &p->tot;
}

/* ---- applying ---- */

tc_status tc_quant_apply(const tc_quant_plan *p, tc_graph *g, tc_err *e)
{
    /* the plan's order first: it also proves the plan's tensors are this graph's */
    const tc_tensor **order = tc_malloc((p->n ? p->n : 1) * sizeof *order);
    if (order == NULL)
        return tc_err_nomem(e);
    for (size_t i = 0; i < p->n; i++)
        order[i] = p->steps[i].in;
    tc_status rc = tc_graph_order_tensors(g, order, p->n, e);
    tc_free(order);
    if (rc != TC_OK)
        return tc_err_set(e, TC_E_USAGE, "the graph is not the one the plan was made for");

    /* metadata: llama-quantize re-adds these two at the end */
    tc_graph_del(g, "general.quantization_version");
    tc_graph_del(g, "general.file_type");
    uint32_t ft =
        p->preset->ftype == TC_FTYPE_COPY ? copy_file_type(g) : (uint32_t)p->preset->ftype;
    TC_TRY(tc_graph_set_u32(g, "general.quantization_version", 2, e));
    TC_TRY(tc_graph_set_u32(g, "general.file_type", ft, e));
    if (p->im) {
        if (p->imatrix_file)
            TC_TRY(tc_graph_set_str(g, "quantize.imatrix.file", p->imatrix_file, e));
        if (tc_imatrix_dataset(p->im))
            TC_TRY(tc_graph_set_str(g, "quantize.imatrix.dataset", tc_imatrix_dataset(p->im), e));
        TC_TRY(tc_graph_set_u32(g, "quantize.imatrix.entries_count",
                                (uint32_t)tc_imatrix_count(p->im), e));
        if (tc_imatrix_chunks(p->im) > 0)
            TC_TRY(tc_graph_set_u32(g, "quantize.imatrix.chunks_count",
                                    (uint32_t)tc_imatrix_chunks(p->im), e));
    }

    /* tensors: each converted as planned */
    for (size_t i = 0; i < p->n; i++) {
        const tc_quant_step *s = &p->steps[i];
        if (s->to == s->from)
            continue;
        const float *w;
        uint64_t ng;
        TC_TRY(imatrix_rows(p, s, &w, &ng, e));
        TC_TRY(tc_tensor_convert_grouped((tc_tensor *)s->in, s->to, w, ng, e));
    }
    return TC_OK;
}
