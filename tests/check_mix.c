/*
 * check_mix.c - quant/mix.c's per-tensor type choice against llama.cpp's own quantizer.
 *
 * Small llama-shaped GGUF models (dense, GQA, MoE with 8 experts, tied embeddings, odd row
 * lengths, 80-layer "70B", Falcon) are written with ggml's gguf writer, quantized by
 * llama_model_quantize from the oracle libllama.so for every preset and several option sets,
 * and the types it wrote are compared with what tc_mix_type chooses for the same tensors, in
 * the same order. Rows are 256/512 elements and row counts tiny, so the suite runs in seconds.
 */
#include "llama_oracle.h"
#include "mix.h"
#include "tc_dtype.h"
#include "tc_test_util.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static char tmpdir[256];

/* Path of `leaf` in this run's temporary directory, in a buffer of its own (strdup). */
static const char *tmp_path(const char *leaf)
{
    return tc_tmp_path(tmpdir, sizeof tmpdir, "tc_mix", leaf);
}

static double cli_time(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ---- tensorcast's side ---- */

static int sort_cmp(const void *a, const void *b)
{
    const lo_tensor *x = *(const lo_tensor *const *)a, *y = *(const lo_tensor *const *)b;
    return tc_mix_name_cmp(x->name, y->name);
}

/* Types tc_mix chooses, in llama.cpp's order. -1 on a rule error (message in msg). */
static int mix_types(const lo_model *m, const tc_mix_opts *o, char (*names)[64], int *types,
                     int *needs_imatrix, char *msg, size_t cap)
{
    const lo_tensor *order[LO_MAX_TENSORS];
    for (int i = 0; i < m->n; i++)
        order[i] = &m->t[i];
    qsort(order, (size_t)m->n, sizeof order[0], sort_cmp);
    tc_mix_model md = {m->arch, m->n_layer, m->n_head, m->n_head_kv, m->n_expert, 0};
    md.is_70b = tc_mix_model_is_70b(m->arch, m->n_layer, m->n_head, m->n_head_kv);
    tc_mix mix;
    if (tc_mix_init(&mix, o, &md, msg, cap) != 0)
        return -1;
    for (int i = 0; i < m->n; i++)
        tc_mix_count(&mix, order[i]->name);
    *needs_imatrix = 0;
    for (int i = 0; i < m->n; i++) {
        snprintf(names[i], 64, "%s", order[i]->name);
        types[i] = tc_mix_type(&mix, order[i]->name, order[i]->n_dims, order[i]->shape,
                               order[i]->type, NULL, msg, cap);
        if (types[i] < 0) {
            tc_mix_free(&mix);
            return -1;
        }
        if (tc_mix_allows_quant(&mix, order[i]->name, order[i]->n_dims) &&
            tc_mix_requires_imatrix(order[i]->name, types[i], o->ftype))
            *needs_imatrix = 1;
    }
    tc_mix_free(&mix);
    return m->n;
}

/* ---- the comparison ---- */

typedef struct variant {
    const char *label;
    int pure, leave_output, output_type, embd_type;
    int imatrix; /* give an importance matrix */
    const char *pattern;
    int pattern_type;
} variant;

static const variant plain = {"default", 0, 0, -1, -1, 0, NULL, 0};

static int n_compared;

/* TC_MIX_GOLDEN_DIR=fixtures/mix: the sweeps also write llama.cpp's answers there, one line per
 * preset and variant: "PRESET VARIANT ok TYPE,TYPE,..." (tensors in llama.cpp's order) or
 * "PRESET VARIANT refused", so that test_golden checks the rules without the oracle. */
static FILE *golden;

/* Quantize `m` (already written to `in`) with the oracle and compare. */
static void compare(const lo_api *a, const lo_model *m, const char *in, const char *model_label,
                    int ftype, const variant *v)
{
    static char on[LO_MAX_TENSORS][64], mn[LO_MAX_TENSORS][64];
    static int ot[LO_MAX_TENSORS], mt[LO_MAX_TENSORS];
    const tc_preset *pr = tc_preset_by_ftype(ftype);
    const char *pname = pr ? pr->name : "?";

    lo_qparams p = lo_params(a, ftype);
    p.pure = v->pure;
    p.quantize_output_tensor = !v->leave_output;
    if (v->output_type >= 0)
        p.output_tensor_type = v->output_type;
    if (v->embd_type >= 0)
        p.token_embedding_type = v->embd_type;
    lo_tt_override tto[2] = {{v->pattern, v->pattern_type}, {NULL, 0}};
    if (v->pattern)
        p.tt_overrides = tto;
    lo_imatrix *im = NULL;
    float *imvals = NULL;
    if (v->imatrix) {
        im = calloc((size_t)m->n + 1, sizeof *im);
        imvals = malloc(4096 * 8 * sizeof(float));
        tc_corpus_imatrix(imvals, 4096 * 8, 7, 0);
        int k = 0;
        for (int i = 0; i < m->n; i++) {
            const lo_tensor *t = &m->t[i];
            if (t->n_dims < 2)
                continue;
            int64_t ne0 = t->shape[t->n_dims - 1], ne2 = t->n_dims == 3 ? t->shape[0] : 1;
            im[k].name = t->name;
            im[k].data = imvals;
            im[k].size = (size_t)(ne0 * ne2);
            k++;
        }
        p.imatrix = im;
    }
    const char *out = tmp_path("out.gguf");
    unlink(out);
    /* IQ1/IQ2 grids take seconds to build in ggml: ask those presets for a dry run */
    int dry = v->imatrix &&
              (ftype == TC_FTYPE_IQ1_S || ftype == TC_FTYPE_IQ1_M || ftype == TC_FTYPE_IQ2_XXS ||
               ftype == TC_FTYPE_IQ2_XS || ftype == TC_FTYPE_IQ2_S || ftype == TC_FTYPE_IQ2_M ||
               ftype == TC_FTYPE_IQ3_XXS);
    p.dry_run = dry;
    lo_log_n = 0;
    lo_last_error[0] = '\0';
    double t0 = cli_time();
    uint32_t rc = a->quantize(in, out, &p);
    if (getenv("LO_TIME"))
        fprintf(stderr, "%s %s %s: %.3f s\n", model_label, pname, v->label, cli_time() - t0);

    tc_mix_opts o;
    memset(&o, 0, sizeof o);
    o.ftype = ftype;
    o.pure = v->pure;
    o.leave_output = v->leave_output;
    o.output_tensor_type = v->output_type;
    o.token_embedding_type = v->embd_type;
    o.has_imatrix = v->imatrix;
    if (v->pattern) {
        o.override_pattern[0] = v->pattern;
        o.override_type[0] = v->pattern_type;
        o.n_overrides = 1;
    }
    char msg[256] = "";
    int needs_im = 0;
    int n = mix_types(m, &o, mn, mt, &needs_im, msg, sizeof msg);
    int mix_ok = n >= 0 && !(needs_im && !v->imatrix);

    if (golden && (v->label == plain.label || strcmp(v->label, "imatrix") == 0)) {
        fprintf(golden, "%s %s %s", pname, v->label, rc == 0 ? "ok" : "refused");
        if (rc == 0) {
            int on_n = dry ? lo_log_n : lo_read_types(a, out, on, ot, LO_MAX_TENSORS);
            for (int i = 0; i < on_n; i++)
                fprintf(golden, "%c%s", i ? ',' : ' ',
                        dry ? lo_log_types[i] : tc_dtype_get(ot[i])->name);
        }
        fputc('\n', golden);
    }
    ck_assert_msg((rc == 0) == mix_ok,
                  "%s %s (%s): llama_model_quantize %s (%s), tensorcast %s (%s%s)", model_label,
                  pname, v->label, rc == 0 ? "succeeded" : "failed", lo_last_error,
                  mix_ok ? "succeeded" : "failed", msg, needs_im ? "; imatrix required" : "");
    if (rc == 0) {
        int on_n;
        if (dry) {
            on_n = lo_log_n;
            for (int i = 0; i < on_n; i++) {
                memcpy(on[i], lo_log_names[i], 64);
                ot[i] = tc_dtype_from_name(lo_log_types[i]);
            }
        } else {
            on_n = lo_read_types(a, out, on, ot, LO_MAX_TENSORS);
        }
        ck_assert_int_eq(on_n, n);
        for (int i = 0; i < n; i++) {
            ck_assert_msg(strcmp(on[i], mn[i]) == 0, "%s %s (%s): tensor #%d is %s, expected %s",
                          model_label, pname, v->label, i, mn[i], on[i]);
            const tc_dtype_info *want = tc_dtype_get(ot[i]), *got = tc_dtype_get(mt[i]);
            ck_assert_msg(ot[i] == mt[i], "%s %s (%s): %s: llama.cpp chose %s, tensorcast %s",
                          model_label, pname, v->label, on[i], want ? want->name : "?",
                          got ? got->name : "?");
        }
        n_compared += n;
    }
    free(im);
    free(imvals);
}

/* Every preset llama-quantize has, with an imatrix for those that need one. */
static const int all_ftypes[] = {
    TC_FTYPE_Q4_0,   TC_FTYPE_Q4_1,    TC_FTYPE_Q5_0,      TC_FTYPE_Q5_1,    TC_FTYPE_Q8_0,
    TC_FTYPE_Q2_K,   TC_FTYPE_Q2_K_S,  TC_FTYPE_Q3_K_S,    TC_FTYPE_Q3_K_M,  TC_FTYPE_Q3_K_L,
    TC_FTYPE_Q4_K_S, TC_FTYPE_Q4_K_M,  TC_FTYPE_Q5_K_S,    TC_FTYPE_Q5_K_M,  TC_FTYPE_Q6_K,
    TC_FTYPE_IQ4_NL, TC_FTYPE_IQ4_XS,  TC_FTYPE_TQ1_0,     TC_FTYPE_TQ2_0,   TC_FTYPE_F16,
    TC_FTYPE_BF16,   TC_FTYPE_ALL_F32, TC_FTYPE_IQ2_XXS,   TC_FTYPE_IQ2_XS,  TC_FTYPE_IQ2_S,
    TC_FTYPE_IQ2_M,  TC_FTYPE_IQ1_S,   TC_FTYPE_IQ1_M,     TC_FTYPE_IQ3_XXS, TC_FTYPE_IQ3_XS,
    TC_FTYPE_IQ3_S,  TC_FTYPE_IQ3_M,   TC_FTYPE_MXFP4_MOE,
};
#define N_FTYPES (int)(sizeof all_ftypes / sizeof all_ftypes[0])

static int needs_imatrix_ftype(int ft)
{
    return ft == TC_FTYPE_IQ2_XXS || ft == TC_FTYPE_IQ2_XS || ft == TC_FTYPE_IQ2_S ||
           ft == TC_FTYPE_IQ2_M || ft == TC_FTYPE_IQ1_S || ft == TC_FTYPE_IQ1_M ||
           ft == TC_FTYPE_IQ3_XXS || ft == TC_FTYPE_Q2_K_S;
}

/* All presets on one model shape; with and without imatrix for the presets whose rules
 * depend on it. */
static void sweep(const lo_shape *s, const char *label)
{
    lo_api a;
    if (!lo_open(&a))
        TC_SKIP("llama.cpp oracle (libllama.so, libggml-base.so) not found under %s/llama",
                TC_ORACLE_DIR);
    static lo_model m;
    lo_build(&m, s);
    const char *in = tmp_path("in.gguf");
    ck_assert(lo_write(&a, &m, in));
    variant vi = plain;
    vi.label = "imatrix";
    vi.imatrix = 1;
    const char *gd = getenv("TC_MIX_GOLDEN_DIR");
    if (gd && *gd) {
        char gp[600];
        snprintf(gp, sizeof gp, "%s/%s.expect", gd, label);
        golden = fopen(gp, "w");
        ck_assert_msg(golden != NULL, "cannot write %s", gp);
    }
    for (int i = 0; i < N_FTYPES; i++) {
        int ft = all_ftypes[i];
        /* without imatrix: both must refuse the presets that need one */
        compare(&a, &m, in, label, ft, &plain);
        if (needs_imatrix_ftype(ft) || ft == TC_FTYPE_Q4_0 || ft == TC_FTYPE_Q5_0 ||
            ft == TC_FTYPE_IQ4_NL || ft == TC_FTYPE_IQ4_XS)
            compare(&a, &m, in, label, ft, &vi);
    }
    if (golden) {
        fclose(golden);
        golden = NULL;
    }
    unlink(in);
}

/* Model shapes swept over every preset, one TCase each (test_sweep with _i the row). */
static const struct {
    const char *name, *label;
    lo_shape shape;
} sweeps[] = {
    {"dense", "dense", {.n_layer = 8, .n_head = 8, .n_head_kv = 8}},
    {"gqa", "gqa", {.n_layer = 16, .n_head = 8, .n_head_kv = 2}},
    {"moe", "moe8", {.n_layer = 4, .n_head = 8, .n_head_kv = 4, .n_expert = 8}},
    {"tied", "tied", {.n_layer = 8, .n_head = 4, .n_head_kv = 4, .tied = 1}},
    {"odd", "odd-rows", {.n_layer = 8, .n_head = 8, .n_head_kv = 8, .odd = 1}},
    {"qkv", "fused-qkv", {.n_layer = 8, .n_head = 8, .n_head_kv = 8, .qkv = 1}},
};

/* The same rules against the committed answers of llama.cpp (fixtures/mix/LABEL.expect, see
 * TC_MIX_GOLDEN_DIR): no oracle needed, so tc_mix is checked on every machine. */
START_TEST(test_golden)
{
    static lo_model m;
    lo_build(&m, &sweeps[_i].shape);
    char gp[600];
    snprintf(gp, sizeof gp, "%s/fixtures/mix/%s.expect", TC_SRC_DIR, sweeps[_i].label);
    FILE *f = fopen(gp, "r");
    ck_assert_msg(f != NULL, "%s is missing (TC_MIX_GOLDEN_DIR=fixtures/mix regenerates it)", gp);
    static char line[1 << 16];
    static char mn[LO_MAX_TENSORS][64];
    static int mt[LO_MAX_TENSORS];
    int lines = 0;
    while (fgets(line, sizeof line, f)) {
        char pname[32], vlabel[32], status[16];
        int off = 0;
        ck_assert_msg(sscanf(line, "%31s %31s %15s %n", pname, vlabel, status, &off) == 3,
                      "%s: bad line %d", gp, lines + 1);
        const tc_preset *pr = tc_preset_find(pname);
        ck_assert_msg(pr != NULL, "%s: unknown preset %s", gp, pname);
        tc_mix_opts o;
        memset(&o, 0, sizeof o);
        o.ftype = pr->ftype;
        o.output_tensor_type = o.token_embedding_type = -1;
        o.has_imatrix = strcmp(vlabel, "imatrix") == 0;
        char msg[256] = "";
        int needs_im = 0;
        int n = mix_types(&m, &o, mn, mt, &needs_im, msg, sizeof msg);
        int ok = n >= 0 && !(needs_im && !o.has_imatrix);
        ck_assert_msg(ok == (strcmp(status, "ok") == 0), "%s %s (%s): llama.cpp %s, tensorcast %s",
                      sweeps[_i].label, pname, vlabel, status, ok ? "ok" : "refused");
        if (ok) {
            char *p = line + off;
            for (int i = 0; i < n; i++) {
                size_t l = strcspn(p, ",\n");
                ck_assert_msg(l > 0, "%s %s (%s): llama.cpp lists fewer tensors", sweeps[_i].label,
                              pname, vlabel);
                char tn[16];
                snprintf(tn, sizeof tn, "%.*s", (int)l, p);
                ck_assert_msg(tc_dtype_from_name(tn) == mt[i],
                              "%s %s (%s): %s: llama.cpp chose %s, tensorcast %s", sweeps[_i].label,
                              pname, vlabel, mn[i], tn, tc_dtype_get(mt[i])->name);
                p += l + (p[l] == ',');
            }
            ck_assert_msg(*p == '\n' || *p == '\0', "%s %s (%s): llama.cpp lists more tensors",
                          sweeps[_i].label, pname, vlabel);
        }
        lines++;
    }
    fclose(f);
    ck_assert_int_ge(lines, N_FTYPES);
}
END_TEST

START_TEST(test_sweep)
{
    sweep(&sweeps[_i].shape, sweeps[_i].label);
}
END_TEST

/* MoE: the layer comes from the name, so a block tensor outside blk.N fails in both. */
START_TEST(test_moe_no_layer)
{
    lo_api a;
    if (!lo_open(&a))
        TC_SKIP("llama.cpp oracle not found under %s/llama", TC_ORACLE_DIR);
    static lo_model m;
    lo_shape s = {.n_layer = 2, .n_head = 8, .n_head_kv = 4, .n_expert = 8};
    lo_build(&m, &s);
    lo_add(&m, "mm.ffn_down.weight", 2, 4, 256, 0);
    const char *in = tmp_path("moe_bad.gguf");
    ck_assert(lo_write(&a, &m, in));
    compare(&a, &m, in, "moe8 ffn_down outside a block", TC_FTYPE_Q4_K_M, &plain);
    compare(&a, &m, in, "moe8 ffn_down outside a block", TC_FTYPE_Q8_0, &plain);
    unlink(in);
}
END_TEST

/* 80 layers with GQA: llama.cpp's 70B type bumps attn_v. A few presets only (720 tensors). */
START_TEST(test_70b)
{
    lo_api a;
    if (!lo_open(&a))
        TC_SKIP("llama.cpp oracle not found under %s/llama", TC_ORACLE_DIR);
    static lo_model m;
    lo_shape s = {.n_layer = 80, .n_head = 64, .n_head_kv = 8, .rows = 1};
    lo_build(&m, &s);
    const char *in = tmp_path("in70.gguf");
    ck_assert(lo_write(&a, &m, in));
    const int fts[] = {TC_FTYPE_Q3_K_S, TC_FTYPE_Q3_K_M, TC_FTYPE_Q4_K_S, TC_FTYPE_Q4_K_M,
                       TC_FTYPE_Q2_K};
    for (size_t i = 0; i < sizeof fts / sizeof fts[0]; i++)
        compare(&a, &m, in, "70b", fts[i], &plain);
    unlink(in);
}
END_TEST

/* Falcon: output Q8_0, its own ffn_down / attn_output rules, fused qkv. */
START_TEST(test_falcon)
{
    lo_api a;
    if (!lo_open(&a))
        TC_SKIP("llama.cpp oracle not found under %s/llama", TC_ORACLE_DIR);
    static lo_model m;
    memset(&m, 0, sizeof m);
    m.arch = "falcon";
    m.n_layer = 16;
    m.n_head = 8;
    m.n_head_kv = 1;
    m.n_embd = 256;
    m.n_ff = 512;
    lo_add(&m, "token_embd.weight", 2, 16, 256, 0);
    lo_add(&m, "output.weight", 2, 16, 256, 0);
    lo_add(&m, "output_norm.weight", 1, 256, 0, 0);
    lo_add(&m, "output_norm.bias", 1, 256, 0, 0);
    char n[64];
    for (int l = 0; l < m.n_layer; l++) {
        snprintf(n, sizeof n, "blk.%d.attn_norm.weight", l);
        lo_add(&m, n, 1, 256, 0, 0);
        snprintf(n, sizeof n, "blk.%d.attn_norm.bias", l);
        lo_add(&m, n, 1, 256, 0, 0);
        snprintf(n, sizeof n, "blk.%d.attn_qkv.weight", l);
        lo_add(&m, n, 2, 4, 256, 0);
        snprintf(n, sizeof n, "blk.%d.attn_output.weight", l);
        lo_add(&m, n, 2, 4, 256, 0);
        snprintf(n, sizeof n, "blk.%d.ffn_up.weight", l);
        lo_add(&m, n, 2, 4, 256, 0);
        snprintf(n, sizeof n, "blk.%d.ffn_down.weight", l);
        lo_add(&m, n, 2, 4, 512, 0);
    }
    const char *in = tmp_path("falcon.gguf");
    ck_assert(lo_write(&a, &m, in));
    const int fts[] = {TC_FTYPE_Q3_K_M, TC_FTYPE_Q3_K_L, TC_FTYPE_Q4_K_M, TC_FTYPE_Q4_K_S,
                       TC_FTYPE_Q5_K_M, TC_FTYPE_Q4_0,   TC_FTYPE_Q8_0};
    for (size_t i = 0; i < sizeof fts / sizeof fts[0]; i++)
        compare(&a, &m, in, "falcon", fts[i], &plain);
    unlink(in);
}
END_TEST

/* Options: --pure, --output-tensor-type, --token-embedding-type, --leave-output-tensor,
 * --tensor-type, on a dense and a tied model, F16 input. */
START_TEST(test_options)
{
    lo_api a;
    if (!lo_open(&a))
        TC_SKIP("llama.cpp oracle not found under %s/llama", TC_ORACLE_DIR);
    static lo_model m;
    const variant vs[] = {
        {"pure", 1, 0, -1, -1, 0, NULL, 0},
        {"output q8_0", 0, 0, TC_DTYPE_Q8_0, -1, 0, NULL, 0},
        {"embd q5_0 output q4_k", 0, 0, TC_DTYPE_Q4_K, TC_DTYPE_Q5_0, 0, NULL, 0},
        {"leave output", 0, 1, -1, -1, 0, NULL, 0},
        {"tensor-type ffn_(up|gate)=q8_0", 0, 0, -1, -1, 0, "ffn_(up|gate)", TC_DTYPE_Q8_0},
        {"tensor-type blk\\.[0-3]\\.attn_v=q2_K", 0, 0, -1, -1, 0, "blk\\.[0-3]\\.attn_v",
         TC_DTYPE_Q2_K},
        {"pure + tensor-type attn=f16", 1, 0, -1, -1, 0, "attn", TC_DTYPE_F16},
    };
    const int fts[] = {TC_FTYPE_Q4_K_M, TC_FTYPE_Q3_K_M, TC_FTYPE_Q4_0, TC_FTYPE_Q6_K,
                       TC_FTYPE_F16};
    for (int tied = 0; tied < 2; tied++) {
        lo_shape s = {.n_layer = 8, .n_head = 8, .n_head_kv = 2, .tied = tied};
        lo_build(&m, &s);
        for (int i = 0; i < m.n; i++)
            m.t[i].type = 1; /* F16 input */
        const char *in = tmp_path("opts.gguf");
        ck_assert(lo_write(&a, &m, in));
        for (size_t f = 0; f < sizeof fts / sizeof fts[0]; f++)
            for (size_t v = 0; v < sizeof vs / sizeof vs[0]; v++)
                compare(&a, &m, in, tied ? "tied f16" : "dense f16", fts[f], &vs[v]);
        unlink(in);
    }
}
END_TEST

/* Pure rules without the oracle: llama.cpp's documented use_more_bits example and order. */
START_TEST(test_rules_offline)
{
    /* presets: an alias names its canonical preset, and the ftype leads back to that one */
    int aliases = 0;
    for (size_t i = 0; tc_preset_at(i); i++) {
        const tc_preset *p = tc_preset_at(i);
        if (p->alias_of == NULL)
            continue;
        const tc_preset *c = tc_preset_find(p->alias_of);
        ck_assert_ptr_nonnull(c);
        ck_assert_ptr_null(c->alias_of);
        ck_assert_int_eq(c->ftype, p->ftype);
        ck_assert_ptr_eq(tc_preset_by_ftype(p->ftype), c);
        aliases++;
    }
    ck_assert_int_eq(aliases, 3); /* Q3_K, Q4_K, Q5_K, as llama-quantize lists them */
    ck_assert_str_eq(tc_preset_by_ftype(TC_FTYPE_Q4_K_M)->name, "Q4_K_M");
    /* weight_name_comparer: non-block tensors first, then by block number, then by name */
    ck_assert_int_lt(tc_mix_name_cmp("token_embd.weight", "blk.0.attn_q.weight"), 0);
    ck_assert_int_lt(tc_mix_name_cmp("blk.2.ffn_up.weight", "blk.10.attn_k.weight"), 0);
    ck_assert_int_gt(tc_mix_name_cmp("output_norm.weight", "output.weight"), 0);
    ck_assert_int_eq(tc_mix_name_cmp("blk.3.attn_q.weight", "blk.3.attn_q.weight"), 0);
    ck_assert_int_gt(tc_mix_name_cmp("blk.0.attn_q.weight", "output.weight"), 0);
    ck_assert_int_lt(tc_mix_name_cmp("output.weight", "output_norm.weight"), 0);
    ck_assert_ptr_nonnull(tc_preset_find("q4_k_m"));
    ck_assert_int_eq(tc_preset_find("Q4_K_M")->ftype, 15);
    ck_assert_int_eq(tc_preset_find("15")->ftype, 15);
    ck_assert_ptr_null(tc_preset_find("Q9_Z"));
    /* Q4_K_M on 32 layers: attn_v of layers {0..3, 28..31, 6, 9, ..., 27} are Q6_K (16 of 32),
     * as llama.cpp's own comment on use_more_bits says. */
    tc_mix_opts o;
    memset(&o, 0, sizeof o);
    o.ftype = TC_FTYPE_Q4_K_M;
    o.output_tensor_type = o.token_embedding_type = -1;
    tc_mix_model md = {"llama", 32, 32, 32, 0, 0};
    tc_mix mix;
    char msg[128];
    ck_assert_int_eq(tc_mix_init(&mix, &o, &md, msg, sizeof msg), 0);
    char n[64];
    for (int l = 0; l < 32; l++) {
        snprintf(n, sizeof n, "blk.%d.attn_v.weight", l);
        tc_mix_count(&mix, n);
    }
    int n6 = 0;
    const int64_t shape[2] = {1024, 4096};
    for (int l = 0; l < 32; l++) {
        snprintf(n, sizeof n, "blk.%d.attn_v.weight", l);
        int t = tc_mix_type(&mix, n, 2, shape, TC_DTYPE_F16, NULL, msg, sizeof msg);
        int expect6 = l < 4 || l >= 28 || (l >= 6 && (l - 6) % 3 == 0);
        ck_assert_int_eq(t, expect6 ? TC_DTYPE_Q6_K : TC_DTYPE_Q4_K);
        n6 += t == TC_DTYPE_Q6_K;
    }
    ck_assert_int_eq(n6, 16);
    tc_mix_free(&mix);
    /* a bad regex is an error, not a crash */
    o.override_pattern[0] = "ffn_(up";
    o.override_type[0] = TC_DTYPE_Q8_0;
    o.n_overrides = 1;
    ck_assert_int_eq(tc_mix_init(&mix, &o, &md, msg, sizeof msg), -1);
    ck_assert_ptr_nonnull(strstr(msg, "ffn_(up"));
}
END_TEST

static void teardown(void)
{
    if (tmpdir[0]) {
        tc_rm_rf(tmpdir);
        tmpdir[0] = '\0';
    }
    if (n_compared)
        fprintf(stderr, "check_mix: %d tensor types compared with llama.cpp\n", n_compared);
}

Suite *mix_suite(void)
{
    Suite *s = suite_create("mix");
    const struct {
        const char *name;
        const TTest *test;
    } cases[] = {
        {"offline", test_rules_offline}, {"moe_no_layer", test_moe_no_layer}, {"70b", test_70b},
        {"falcon", test_falcon},         {"options", test_options},
    };
    for (size_t i = 0; i < sizeof sweeps / sizeof sweeps[0]; i++)
        tc_add_case(s, sweeps[i].name, test_sweep, (int)i, 600, teardown);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        tc_add_case(s, cases[i].name, cases[i].test, -1, 600, teardown);
    TCase *tg = tcase_create("golden");
    tcase_add_loop_test(tg, test_golden, 0, (int)(sizeof sweeps / sizeof sweeps[0]));
    suite_add_tcase(s, tg);
    return s;
}
