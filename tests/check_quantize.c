/*
 * check_quantize.c - `tensorcast quantize` against llama.cpp's llama_model_quantize, and
 * `tensorcast diff` against statistics computed here.
 *
 * Small llama-shaped GGUFs (dense, GQA, MoE with 8 experts; F32 and F16) are written with ggml's
 * own gguf writer and quantized by both. Without an importance matrix the two output files must
 * be byte-identical (same metadata, tensor order, types and bytes). With one (given to llama.cpp
 * as an array, to tensorcast as a llama-imatrix GGUF or legacy .dat file) the tensor data must be
 * identical; the metadata differs only by the quantize.imatrix.* keys llama-quantize adds (and
 * llama_model_quantize does not).
 */
#include "imatrix_util.h"
#include "mix.h"
#include "tc_dtype.h"
#include "tc_test_util.h"
#include "tensorcast.h"

#include <check.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char tmpdir[256];
static char out_buf[1 << 18], err_buf[1 << 16];

/* Path of `leaf` in this run's temporary directory, in a buffer of its own. */
static const char *tpath(const char *leaf)
{
    return tc_tmp_path(tmpdir, sizeof tmpdir, "tc_quant", leaf);
}

/* Run `$TC_BIN <args>`; stdout/stderr land in out_buf/err_buf. */
static int run(const char *args)
{
    return tc_run_cli(NULL, args, out_buf, sizeof out_buf, err_buf, sizeof err_buf);
}

/* ---- importance matrices (imatrix_util.h) ---- */

/* Values for every 2-D/3-D weight of `m`. */
static void imx_make(imx *x, const lo_model *m)
{
    memset(x, 0, sizeof *x);
    for (int i = 0; i < m->n; i++) {
        const lo_tensor *t = &m->t[i];
        if (t->n_dims < 2)
            continue;
        int64_t ne0 = t->shape[t->n_dims - 1], nm = t->n_dims == 3 ? t->shape[0] : 1;
        ck_assert(imx_add(x, t->name, ne0, nm, (uint64_t)i * 31 + 5));
    }
}

/* ---- comparing GGUF outputs ---- */

/* Tensor data of `name` in a GGUF (via ggml's reader). */
static const unsigned char *tensor_bytes(const lo_api *a, void *g, const unsigned char *file,
                                         int64_t i, size_t *n)
{
    *n = a->tensor_size(g, i);
    return file + a->data_offset(g) + a->tensor_offset(g, i);
}

/* Same tensors, order, types and bytes in the GGUFs gr/gg (parsed by ggml) of files fr/fg. */
static void compare_tensors(const lo_api *a, void *gr, void *gg, const unsigned char *fr,
                            const unsigned char *fg, const char *what)
{
    ck_assert_int_eq(a->n_tensors(gr), a->n_tensors(gg));
    for (int64_t i = 0; i < a->n_tensors(gr); i++) {
        ck_assert_msg(strcmp(a->tensor_name(gr, i), a->tensor_name(gg, i)) == 0,
                      "%s: tensor #%lld is %s, llama.cpp has %s", what, (long long)i,
                      a->tensor_name(gg, i), a->tensor_name(gr, i));
        ck_assert_msg(a->tensor_type(gr, i) == a->tensor_type(gg, i), "%s: %s: type %d vs %d", what,
                      a->tensor_name(gr, i), a->tensor_type(gg, i), a->tensor_type(gr, i));
        size_t sr, sg;
        const unsigned char *br = tensor_bytes(a, gr, fr, i, &sr);
        const unsigned char *bg = tensor_bytes(a, gg, fg, i, &sg);
        ck_assert_uint_eq(sr, sg);
        ck_assert_msg(memcmp(br, bg, sr) == 0, "%s: %s (%s): bytes differ from llama.cpp's", what,
                      a->tensor_name(gr, i), tc_dtype_get(a->tensor_type(gr, i))->name);
    }
}

/* Same tensors, order, types and bytes; with `same_file`, also byte-identical files. */
static void compare_outputs(const lo_api *a, const char *ref, const char *got, int same_file,
                            const char *what)
{
    size_t nr = 0, ng = 0;
    unsigned char *fr = tc_slurp(ref, &nr), *fg = tc_slurp(got, &ng);
    ck_assert_msg(fr && fg, "%s: missing output", what);
    struct lo_gguf_init_params gp = {true, NULL};
    void *gr = a->gguf_init_from_file(ref, gp), *gg = a->gguf_init_from_file(got, gp);
    ck_assert_msg(gg != NULL, "%s: ggml cannot read tensorcast's output", what);
    compare_tensors(a, gr, gg, fr, fg, what);
    /* metadata: llama.cpp's keys, in order; tensorcast may add only quantize.imatrix.* */
    int64_t kr = a->n_kv(gr), kg = a->n_kv(gg), j = 0;
    for (int64_t i = 0; i < kg; i++) {
        const char *k = a->get_key(gg, i);
        if (strncmp(k, "quantize.imatrix.", 17) == 0 ||
            strncmp(k, "tensorcast.provenance.", 22) == 0) {
            ck_assert_msg(!same_file, "%s: unexpected key %s", what, k);
            continue;
        }
        ck_assert_msg(j < kr && strcmp(k, a->get_key(gr, j)) == 0, "%s: key #%lld is %s", what,
                      (long long)i, k);
        j++;
    }
    ck_assert_int_eq(j, kr);
    if (same_file) {
        ck_assert_msg(nr == ng && memcmp(fr, fg, nr) == 0,
                      "%s: files differ from llama.cpp's (%zu vs %zu bytes)", what, ng, nr);
    }
    a->gguf_free(gr);
    a->gguf_free(gg);
    free(fr);
    free(fg);
}

/* Quantize `in` with both; `im_arg` is tensorcast's --imatrix option ("" for none). */
static void quant_both(const lo_api *a, const char *in, int ftype, const imx *x, const char *im_arg,
                       const char *what)
{
    const char *ref = tpath("ref.gguf"), *got = tpath("got.gguf");
    unlink(ref);
    unlink(got);
    lo_qparams p = lo_params(a, ftype == TC_FTYPE_COPY ? TC_FTYPE_Q8_0 : ftype);
    p.only_copy = ftype == TC_FTYPE_COPY;
    if (x)
        p.imatrix = x->e;
    lo_last_error[0] = '\0';
    ck_assert_msg(a->quantize(in, ref, &p) == 0, "%s: llama.cpp failed: %s", what, lo_last_error);
    char args[2048];
    /* whole files byte-identical: without tensorcast's provenance keys (test_provenance) */
    snprintf(args, sizeof args, "quantize -q '%s' '%s' %s %s --threads 2 --no-provenance", in, got,
             tc_preset_by_ftype(ftype)->name, im_arg);
    int rc = run(args);
    ck_assert_msg(rc == 0, "%s: tensorcast quantize exit %d: %s", what, rc, err_buf);
    compare_outputs(a, ref, got, x == NULL, what);
}

static const int presets[] = {
    TC_FTYPE_Q4_0,    TC_FTYPE_Q4_1,      TC_FTYPE_Q5_0,    TC_FTYPE_Q5_1,    TC_FTYPE_Q8_0,
    TC_FTYPE_Q2_K,    TC_FTYPE_Q3_K_S,    TC_FTYPE_Q3_K_M,  TC_FTYPE_Q3_K_L,  TC_FTYPE_Q4_K_S,
    TC_FTYPE_Q4_K_M,  TC_FTYPE_Q5_K_S,    TC_FTYPE_Q5_K_M,  TC_FTYPE_Q6_K,    TC_FTYPE_IQ4_NL,
    TC_FTYPE_IQ4_XS,  TC_FTYPE_TQ1_0,     TC_FTYPE_TQ2_0,   TC_FTYPE_F16,     TC_FTYPE_BF16,
    TC_FTYPE_ALL_F32, TC_FTYPE_MXFP4_MOE, TC_FTYPE_COPY,    TC_FTYPE_IQ2_XXS, TC_FTYPE_IQ2_XS,
    TC_FTYPE_IQ2_S,   TC_FTYPE_IQ2_M,     TC_FTYPE_IQ3_XXS, TC_FTYPE_IQ3_XS,  TC_FTYPE_IQ3_S,
    TC_FTYPE_IQ3_M,   TC_FTYPE_IQ1_S,     TC_FTYPE_IQ1_M,
};

/* Whether tensorcast can run preset `ftype` on the model at `in`: every type its plan produces
 * has a quantizer here, and (without an imatrix) the plan needs no importance data. A skip is
 * printed with the reason; a preset that cannot run is never silently counted as tested. */
static int preset_runs(int ftype, const char *in, int with_imatrix, const char *label)
{
    tc_err e = {0};
    tc_graph *g = NULL;
    ck_assert_msg(tc_read(in, &g, NULL, &e) == TC_OK, "%s", e.msg);
    tc_quant_opts o;
    tc_quant_opts_init(&o);
    o.preset = tc_preset_by_ftype(ftype)->name;
    o.dry_run = 1;
    tc_quant_plan *p = NULL;
    ck_assert_msg(tc_quant_plan_new(g, &o, &p, &e) == TC_OK, "%s: %s", o.preset, e.msg);
    const char *why = NULL;
    for (size_t i = 0; i < tc_quant_plan_len(p) && !why; i++) {
        const tc_quant_step *s = tc_quant_plan_step(p, i);
        if (s->to != s->from && !tc_can_quantize(s->to))
            why = tc_dtype_get(s->to)->name;
    }
    int needs = tc_quant_plan_totals(p)->needs_imatrix != NULL;
    tc_quant_plan_free(p);
    tc_graph_free(g);
    if (why)
        fprintf(stderr, "SKIP %s %s: no %s quantizer in this build\n", label, o.preset, why);
    return why == NULL && (with_imatrix || !needs);
}

/* `f16`: 0 f32 weights, 1 f16, 30 bf16 (ggml type ids) */
static void model_sweep(const lo_shape *s, int f16, const char *label, int with_imatrix)
{
    lo_api a;
    if (!lo_open(&a))
        TC_SKIP("llama.cpp oracle (libllama.so, libggml-base.so) not found under %s/llama",
                TC_ORACLE_DIR);
    static lo_model m;
    lo_build(&m, s);
    if (f16)
        for (int i = 0; i < m.n; i++)
            if (m.t[i].n_dims >= 2)
                m.t[i].type = f16;
    const char *in = tpath("model.gguf");
    ck_assert(lo_write(&a, &m, in));
    static imx x;
    const char *imf = tpath("imatrix.gguf"), *imd = tpath("imatrix.dat");
    if (with_imatrix) {
        imx_make(&x, &m);
        ck_assert(imx_write_gguf(&a, &x, imf));
        ck_assert(imx_write_dat(&x, imd));
    }
    int n = 0;
    for (size_t i = 0; i < sizeof presets / sizeof presets[0]; i++) {
        int ft = presets[i];
        char what[128], arg[600];
        if (!preset_runs(ft, in, with_imatrix, label))
            continue;
        snprintf(what, sizeof what, "%s %s", label, tc_preset_by_ftype(ft)->name);
        if (!with_imatrix) {
            quant_both(&a, in, ft, NULL, "", what);
        } else if (ft != TC_FTYPE_COPY && tc_preset_by_ftype(ft)->default_type != TC_DTYPE_F16 &&
                   tc_preset_by_ftype(ft)->default_type != TC_DTYPE_BF16 &&
                   tc_preset_by_ftype(ft)->default_type != TC_DTYPE_F32) {
            snprintf(what, sizeof what, "%s %s imatrix.gguf", label, tc_preset_by_ftype(ft)->name);
            snprintf(arg, sizeof arg, "--imatrix '%s'", imf);
            quant_both(&a, in, ft, &x, arg, what);
            snprintf(what, sizeof what, "%s %s imatrix.dat", label, tc_preset_by_ftype(ft)->name);
            snprintf(arg, sizeof arg, "--imatrix '%s'", imd);
            quant_both(&a, in, ft, &x, arg, what);
        }
        n++;
    }
    ck_assert_int_gt(n, 0);
    if (with_imatrix)
        imx_free(&x);
}

/* Every preset on these model shapes, one TCase each (test_sweep with _i the row). */
static const struct {
    const char *name;
    lo_shape shape;
    int f16; /* model_sweep's weight type */
    const char *label;
    int imatrix;
} sweeps[] = {
    {"dense_f32", {.n_layer = 8, .n_head = 8, .n_head_kv = 8, .rows = 8}, 0, "dense f32", 0},
    {"gqa_f16", {.n_layer = 16, .n_head = 8, .n_head_kv = 2, .rows = 4}, 1, "gqa f16", 0},
    {"moe_f16",
     {.n_layer = 4, .n_head = 8, .n_head_kv = 4, .n_expert = 8, .rows = 4},
     1,
     "moe8 f16",
     0},
    {"dense_bf16", {.n_layer = 8, .n_head = 8, .n_head_kv = 4, .rows = 4}, 30, "dense bf16", 0},
    {"odd_f32",
     {.n_layer = 8, .n_head = 8, .n_head_kv = 8, .odd = 1, .rows = 4},
     0,
     "odd-rows f32",
     0},
    {"imatrix_dense", {.n_layer = 8, .n_head = 8, .n_head_kv = 2, .rows = 4}, 0, "dense f32", 1},
    {"imatrix_moe",
     {.n_layer = 4, .n_head = 8, .n_head_kv = 4, .n_expert = 8, .rows = 4},
     1,
     "moe8 f16",
     1},
};

START_TEST(test_sweep)
{
    model_sweep(&sweeps[_i].shape, sweeps[_i].f16, sweeps[_i].label, sweeps[_i].imatrix);
}
END_TEST

/* --threads 1 and 4 give the same file; a big-ish tensor so several chunks are in flight. */
START_TEST(test_threads)
{
    lo_api a;
    if (!lo_open(&a))
        TC_SKIP("llama.cpp oracle not found under %s/llama", TC_ORACLE_DIR);
    if (!tc_can_quantize(TC_DTYPE_Q4_K) || !tc_can_quantize(TC_DTYPE_Q6_K))
        TC_SKIP_NA("no k-quant kernels in this build");
    static lo_model m;
    lo_shape s = {.n_layer = 2, .n_head = 8, .n_head_kv = 8, .rows = 512};
    lo_build(&m, &s);
    const char *in = tpath("big.gguf"), *o1 = tpath("t1.gguf"), *o4 = tpath("t4.gguf");
    ck_assert(lo_write(&a, &m, in));
    char args[1024];
    snprintf(args, sizeof args, "quantize -q '%s' '%s' Q4_K_M --threads 1", in, o1);
    ck_assert_int_eq(run(args), 0);
    snprintf(args, sizeof args, "quantize -q '%s' '%s' Q4_K_M --threads 4", in, o4);
    ck_assert_int_eq(run(args), 0);
    size_t n1, n4;
    unsigned char *b1 = tc_slurp(o1, &n1), *b4 = tc_slurp(o4, &n4);
    ck_assert(b1 && b4);
    ck_assert_uint_eq(n1, n4);
    ck_assert(memcmp(b1, b4, n1) == 0);
    free(b1);
    free(b4);
    /* and the same as llama.cpp with 2 threads */
    lo_qparams p = lo_params(&a, TC_FTYPE_Q4_K_M);
    p.nthread = 2;
    const char *ref = tpath("ref2.gguf");
    ck_assert_int_eq(a.quantize(in, ref, &p), 0);
    /* with the default provenance keys: the tensors are still llama.cpp's, byte for byte */
    compare_outputs(&a, ref, o4, 0, "threads");
}
END_TEST

/* Errors: presets needing an imatrix, bad imatrix files, usage. */
START_TEST(test_errors)
{
    lo_api a;
    if (!lo_open(&a))
        TC_SKIP("llama.cpp oracle not found under %s/llama", TC_ORACLE_DIR);
    static lo_model m;
    lo_shape s = {.n_layer = 4, .n_head = 8, .n_head_kv = 8};
    lo_build(&m, &s);
    const char *in = tpath("e.gguf"), *out = tpath("e_out.gguf");
    ck_assert(lo_write(&a, &m, in));
    char args[2048];
    /* Q2_K_S needs an imatrix: exit 2, no output */
    snprintf(args, sizeof args, "quantize '%s' '%s' Q2_K_S", in, out);
    ck_assert_int_eq(run(args), 2);
    ck_assert_ptr_nonnull(strstr(err_buf, "imatrix"));
    ck_assert_int_ne(access(out, F_OK), 0);
    /* ... but a dry run plans it and says so */
    snprintf(args, sizeof args, "quantize --dry-run '%s' Q2_K_S", in);
    ck_assert_int_eq(run(args), 0);
    ck_assert_ptr_nonnull(strstr(out_buf, "importance matrix"));
    ck_assert_int_ne(access(out, F_OK), 0);
    /* unknown preset, bad regex, both include and exclude */
    snprintf(args, sizeof args, "quantize '%s' '%s' Q9_Z", in, out);
    ck_assert_int_eq(run(args), 2);
    snprintf(args, sizeof args, "quantize '%s' '%s' Q4_K_M --tensor-type 'ffn_(up=q8_0'", in, out);
    ck_assert_int_eq(run(args), 2);
    snprintf(args, sizeof args,
             "quantize '%s' '%s' Q4_K_M --imatrix x --include-weights a --exclude-weights b", in,
             out);
    ck_assert_int_eq(run(args), 2);
    ck_assert_int_ne(access(out, F_OK), 0);

    /* bad imatrix files: exit 3 with the file named */
    imx x;
    imx_make(&x, &m);
    const char *dat = tpath("bad.dat");
    ck_assert(imx_write_dat(&x, dat));
    size_t n = 0;
    unsigned char *b = tc_slurp(dat, &n);
    struct {
        const char *label;
        size_t len; /* truncate to */
        long patch_at;
        uint32_t patch;
    } cases[] = {
        {"truncated", 40, -1, 0},
        {"huge entry count", 0, 0, 0x7fffffff},
        {"negative name length", 0, 4, 0xffffffffu},
        {"non-finite value", 0, -2, 0x7f800000u},
        {"empty", 1, -1, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        unsigned char *c = malloc(n);
        memcpy(c, b, n);
        size_t len = cases[i].len ? cases[i].len : n;
        long at = cases[i].patch_at;
        if (at == -2) /* first value of the first entry */
            at = 4 + 4 + (long)strlen(x.e[0].name) + 8;
        if (at >= 0)
            memcpy(c + at, &cases[i].patch, 4);
        FILE *f = fopen(dat, "wb");
        fwrite(c, 1, len, f);
        fclose(f);
        free(c);
        snprintf(args, sizeof args, "quantize '%s' '%s' Q4_K_M --imatrix '%s'", in, out, dat);
        int rc = run(args);
        ck_assert_msg(rc == 3, "%s imatrix: exit %d (%s)", cases[i].label, rc, err_buf);
        ck_assert_msg(strstr(err_buf, "bad.dat") != NULL, "%s: %s", cases[i].label, err_buf);
        ck_assert_int_ne(access(out, F_OK), 0);
    }
    free(b);
    /* an entry of the wrong size for its tensor */
    x.e[3].size = 128;
    ck_assert(imx_write_dat(&x, dat));
    snprintf(args, sizeof args, "quantize '%s' '%s' Q4_K_M --imatrix '%s'", in, out, dat);
    ck_assert_int_eq(run(args), 3);
    ck_assert_ptr_nonnull(strstr(err_buf, x.e[3].name));
    imx_free(&x);
    /* --help lists the presets */
    ck_assert_int_eq(run("quantize --help"), 0);
    ck_assert_ptr_nonnull(strstr(out_buf, "Q4_K_M"));
}
END_TEST

/* JSON summary and options end to end: types from --json match what llama.cpp writes with the
 * same options, and the licence survives. */
START_TEST(test_json_options)
{
    lo_api a;
    if (!lo_open(&a))
        TC_SKIP("llama.cpp oracle not found under %s/llama", TC_ORACLE_DIR);
    static lo_model m;
    lo_shape s = {.n_layer = 8, .n_head = 8, .n_head_kv = 2};
    lo_build(&m, &s);
    m.license = "apache-2.0";
    const char *in = tpath("j.gguf"), *out = tpath("j_out.gguf"), *ref = tpath("j_ref.gguf");
    ck_assert(lo_write(&a, &m, in));
    char args[2048];
    snprintf(args, sizeof args,
             "quantize --json '%s' '%s' Q4_K_M --output-tensor-type q8_0 --token-embedding-type "
             "q5_0 --tensor-type 'ffn_(up|gate)=q5_K' --tensor-type 'attn_q=q4_0' "
             "--no-provenance",
             in, out);
    ck_assert_int_eq(run(args), 0);
    lo_qparams p = lo_params(&a, TC_FTYPE_Q4_K_M);
    p.output_tensor_type = TC_DTYPE_Q8_0;
    p.token_embedding_type = TC_DTYPE_Q5_0;
    lo_tt_override tto[3] = {
        {"ffn_(up|gate)", TC_DTYPE_Q5_K}, {"attn_q", TC_DTYPE_Q4_0}, {NULL, 0}};
    p.tt_overrides = tto;
    ck_assert_int_eq(a.quantize(in, ref, &p), 0);
    compare_outputs(&a, ref, out, 1, "options");
    json_error_t je;
    json_t *o = json_loads(out_buf, 0, &je);
    ck_assert_msg(o != NULL, "bad JSON: %s", je.text);
    json_t *arr = json_object_get(o, "tensors");
    ck_assert_int_eq((int)json_array_size(arr), m.n);
    static char names[LO_MAX_TENSORS][64];
    static int types[LO_MAX_TENSORS];
    int nr = lo_read_types(&a, ref, names, types, LO_MAX_TENSORS);
    ck_assert_int_eq(nr, m.n);
    uint64_t sum = 0;
    for (int i = 0; i < nr; i++) {
        json_t *r = json_array_get(arr, (size_t)i);
        ck_assert_str_eq(json_string_value(json_object_get(r, "name")), names[i]);
        ck_assert_str_eq(json_string_value(json_object_get(r, "to")), tc_dtype_get(types[i])->name);
        sum += (uint64_t)json_integer_value(json_object_get(r, "output_bytes"));
    }
    ck_assert_uint_eq(sum, (uint64_t)json_integer_value(json_object_get(o, "output_bytes")));
    json_decref(o);
    /* the licence is still there */
    snprintf(args, sizeof args, "inspect '%s'", out);
    ck_assert_int_eq(run(args), 0);
    ck_assert_ptr_nonnull(strstr(out_buf, "apache-2.0"));
}
END_TEST

/* The imatrix loader itself: values, metadata, filters, and the keys quantize records. */
START_TEST(test_imatrix_loader)
{
    lo_api a;
    if (!lo_open(&a))
        TC_SKIP("ggml's gguf writer (libggml-base.so) not found under %s/llama", TC_ORACLE_DIR);
    static lo_model m;
    lo_shape s = {.n_layer = 2, .n_head = 8, .n_head_kv = 4, .n_expert = 8};
    lo_build(&m, &s);
    static imx x;
    imx_make(&x, &m);
    const char *imf = tpath("l.gguf"), *imd = tpath("l.dat");
    ck_assert(imx_write_gguf(&a, &x, imf));
    ck_assert(imx_write_dat(&x, imd));
    for (int k = 0; k < 2; k++) {
        tc_err e = {0};
        tc_imatrix *im;
        ck_assert_msg(tc_imatrix_load(k ? imd : imf, &im, &e) == TC_OK, "%s", e.msg);
        ck_assert_int_eq(tc_imatrix_is_legacy(im), k);
        ck_assert_uint_eq(tc_imatrix_count(im), (size_t)x.n);
        ck_assert_int_eq(tc_imatrix_chunks(im), k ? 7 : 42);
        if (k)
            ck_assert_str_eq(tc_imatrix_dataset(im), "wiki.test");
        for (int i = 0; i < x.n; i++) {
            uint64_t n;
            const float *v = tc_imatrix_find(im, x.e[i].name, &n);
            ck_assert_ptr_nonnull(v);
            ck_assert_uint_eq(n, x.e[i].size);
            ck_assert(memcmp(v, x.vals[i], n * sizeof(float)) == 0);
        }
        uint64_t n;
        ck_assert_ptr_null(tc_imatrix_find(im, "no.such.weight", &n));
        const char *inc[] = {"ffn_"}, *exc[] = {"exps"};
        tc_imatrix_filter(im, inc, 1, NULL, 0);
        for (size_t i = 0; i < tc_imatrix_count(im); i++)
            ck_assert_ptr_nonnull(strstr(tc_imatrix_name(im, i), "ffn_"));
        ck_assert_uint_gt(tc_imatrix_count(im), 0);
        tc_imatrix_filter(im, NULL, 0, exc, 1);
        for (size_t i = 0; i < tc_imatrix_count(im); i++)
            ck_assert_ptr_null(strstr(tc_imatrix_name(im, i), "exps"));
        tc_imatrix_free(im);
    }
    /* the fuzz seeds written by scripts/fixtures/imatrix_seeds.py (an independent GGUF writer) */
    for (int k = 0; k < 2; k++) {
        char p[1024];
        snprintf(p, sizeof p, "%s/fixtures/fuzz/imatrix/%s", TC_SRC_DIR,
                 k ? "legacy.dat" : "imatrix.gguf");
        tc_err e = {0};
        tc_imatrix *im;
        ck_assert_msg(tc_imatrix_load(p, &im, &e) == TC_OK, "%s", e.msg);
        uint64_t n;
        const float *q = tc_imatrix_find(im, "blk.0.attn_q.weight", &n);
        ck_assert_uint_eq(n, 32);
        for (int i = 0; i < 32; i++) /* sums / ncall (3) */
            ck_assert(q[i] == ((float)(i % 5) + 0.5f) / 3.0f);
        const float *x2 = tc_imatrix_find(im, "blk.0.ffn_down_exps.weight", &n);
        ck_assert_uint_eq(n, 64);
        for (int i = 0; i < 64; i++) /* legacy: / 1; GGUF: expert 1 has count 0 -> 1.0 */
            ck_assert(x2[i] == (k || i < 32 ? 1.0f + (float)i / 8 : 1.0f));
        ck_assert_str_eq(tc_imatrix_dataset(im), "wiki");
        ck_assert_int_eq(tc_imatrix_chunks(im), 10);
        tc_imatrix_free(im);
    }
    /* a GGUF without importance data is refused, naming the file */
    const char *plain = tpath("plain.gguf");
    ck_assert(lo_write(&a, &m, plain));
    tc_err e = {0};
    tc_imatrix *im = NULL;
    ck_assert_int_eq(tc_imatrix_load(plain, &im, &e), TC_E_FORMAT);
    ck_assert_ptr_null(im);
    ck_assert_ptr_nonnull(strstr(e.msg, "plain.gguf"));
    /* quantize records where the importance data came from */
    const char *in = tpath("li.gguf"), *out = tpath("li_out.gguf");
    ck_assert(lo_write(&a, &m, in));
    char args[2048];
    snprintf(args, sizeof args, "quantize -q '%s' '%s' Q4_K_M --imatrix '%s'", in, out, imd);
    ck_assert_int_eq(run(args), 0);
    struct lo_gguf_init_params gp = {true, NULL};
    void *g = a.gguf_init_from_file(out, gp);
    ck_assert_ptr_nonnull(g);
    ck_assert_int_ge(a.find_key(g, "quantize.imatrix.file"), 0);
    ck_assert_int_ge(a.find_key(g, "quantize.imatrix.dataset"), 0);
    ck_assert_int_ge(a.find_key(g, "quantize.imatrix.entries_count"), 0);
    ck_assert_int_ge(a.find_key(g, "quantize.imatrix.chunks_count"), 0);
    a.gguf_free(g);
    imx_free(&x);
}
END_TEST

/* ---- diff ---- */

START_TEST(test_diff)
{
    lo_api a;
    if (!lo_open(&a))
        TC_SKIP("ggml's gguf writer (libggml-base.so) not found under %s/llama", TC_ORACLE_DIR);
    /* A: two f32 tensors; B: the same with a known perturbation, one extra tensor, one with
     * another shape. Statistics are computed here from the arrays. */
    static lo_model ma, mb;
    memset(&ma, 0, sizeof ma);
    ma.arch = "llama";
    ma.n_layer = 1;
    ma.n_head = ma.n_head_kv = 1;
    ma.n_embd = 64;
    ma.n_ff = 64;
    lo_add(&ma, "a.weight", 2, 300, 64, 0);
    lo_add(&ma, "b.weight", 1, 64, 0, 0);
    lo_add(&ma, "c.weight", 2, 4, 32, 0);
    mb = ma;
    mb.t[2].shape[0] = 5; /* shape mismatch */
    lo_add(&mb, "d.weight", 1, 8, 0, 0);
    const char *pa = tpath("da.gguf"), *pb = tpath("db.gguf");
    ck_assert(lo_write(&a, &ma, pa));
    /* B's values: lo_write fills tensor i with seed i+1; write B by hand to perturb them */
    {
        struct lo_ggml_init_params ip = {1 << 20, NULL, true};
        void *ctx = a.ggml_init(ip);
        void *g = a.gguf_init_empty();
        static float va[300 * 64], vb[300 * 64], wb[64], cb[5 * 32], db[8];
        lo_fill(va, 300 * 64, 1);
        lo_fill(wb, 64, 2);
        for (int i = 0; i < 300 * 64; i++)
            vb[i] = va[i] + (i % 7 == 0 ? 0.01f * (float)(i % 13) : -0.002f);
        for (int i = 0; i < 5 * 32; i++)
            cb[i] = 0;
        for (int i = 0; i < 8; i++)
            db[i] = 1;
        struct {
            const char *n;
            int nd;
            int64_t ne[2];
            float *d;
        } ts[] = {{"a.weight", 2, {64, 300}, vb},
                  {"b.weight", 1, {64, 1}, wb},
                  {"c.weight", 2, {32, 5}, cb},
                  {"d.weight", 1, {8, 1}, db}};
        for (int i = 0; i < 4; i++) {
            void *t = a.new_tensor(ctx, 0, ts[i].nd, ts[i].ne);
            a.set_name(t, ts[i].n);
            a.add_tensor(g, t);
            a.set_tensor_data(g, ts[i].n, ts[i].d);
        }
        ck_assert(a.write_to_file(g, pb, false));
        a.gguf_free(g);
        a.ggml_free(ctx);
        /* expected statistics for a.weight */
        double ss = 0, mx = 0, dot = 0, na = 0, nb = 0;
        for (int i = 0; i < 300 * 64; i++) {
            double x = va[i], y = vb[i], d = y - x;
            ss += d * d;
            if (fabs(d) > mx)
                mx = fabs(d);
            dot += x * y;
            na += x * x;
            nb += y * y;
        }
        double rmse = sqrt(ss / (300 * 64)), cs = dot / sqrt(na * nb);
        char args[1024];
        snprintf(args, sizeof args, "diff --json '%s' '%s'", pa, pb);
        ck_assert_int_eq(run(args), 0);
        json_error_t je;
        json_t *o = json_loads(out_buf, 0, &je);
        ck_assert_msg(o != NULL, "bad JSON: %s", je.text);
        json_t *arr = json_object_get(o, "tensors");
        json_t *r0 = json_array_get(arr, 0), *r1 = json_array_get(arr, 1),
               *r2 = json_array_get(arr, 2), *r3 = json_array_get(arr, 3);
        ck_assert_str_eq(json_string_value(json_object_get(r0, "name")), "a.weight");
        ck_assert(fabs(json_real_value(json_object_get(r0, "rmse")) - rmse) <= 1e-9 * rmse);
        ck_assert(fabs(json_real_value(json_object_get(r0, "max_abs")) - mx) <= 1e-9 * mx);
        ck_assert(fabs(json_real_value(json_object_get(r0, "cosine")) - cs) <= 1e-12);
        ck_assert(cs < 1.0);
        ck_assert(json_real_value(json_object_get(r1, "rmse")) == 0.0);
        ck_assert(json_real_value(json_object_get(r1, "cosine")) == 1.0);
        ck_assert_str_eq(json_string_value(json_object_get(r2, "status")), "shape_mismatch");
        ck_assert_str_eq(json_string_value(json_object_get(r3, "status")), "only_in_b");
        ck_assert_int_eq(json_integer_value(json_object_get(o, "compared")), 2);
        json_decref(o);
        /* the gate: exceeded -> 1 */
        snprintf(args, sizeof args, "diff '%s' '%s' --max-rmse 1", pa, pb);
        ck_assert_int_eq(run(args), 1); /* shape mismatch and extra tensor fail the gate */
        snprintf(args, sizeof args, "diff '%s' '%s'", pa, pb);
        ck_assert_int_eq(run(args), 0);
        ck_assert_ptr_nonnull(strstr(out_buf, "2 tensors compared, 1 shape mismatches"));
        snprintf(args, sizeof args, "diff '%s' '%s' --max-rmse %.9g", pa, pa, 0.0);
        ck_assert_int_eq(run(args), 0);
        snprintf(args, sizeof args, "diff '%s' /nonexistent.gguf", pa);
        ck_assert_int_ne(run(args), 0);
        ck_assert_int_eq(run("diff onlyone"), 2);
    }
    /* a quantized B: diff dequantizes; Q8_0 of A is close but not equal */
    if (tc_can_quantize(TC_DTYPE_Q8_0)) {
        const char *pq = tpath("dq.gguf");
        char args[1024];
        snprintf(args, sizeof args, "quantize -q '%s' '%s' Q8_0 --pure", pa, pq);
        ck_assert_int_eq(run(args), 0);
        snprintf(args, sizeof args, "diff --json '%s' '%s'", pa, pq);
        ck_assert_int_eq(run(args), 0);
        json_t *o = json_loads(out_buf, 0, NULL);
        ck_assert_ptr_nonnull(o);
        json_t *r0 = json_array_get(json_object_get(o, "tensors"), 0);
        ck_assert_str_eq(json_string_value(json_object_get(r0, "type_b")), "q8_0");
        double rm = json_real_value(json_object_get(r0, "rmse"));
        ck_assert(rm > 0 && rm < 1e-3);
        json_decref(o);
    }
}
END_TEST

/* --keep-split: a split F16 input (written by tensorcast's GGUF splitter) quantized part by part
 * gives, in each output part, the tensors, order, types and bytes llama.cpp's keep_split gives
 * (llama.cpp names its parts OUT.gguf-0000k-of-0000N.gguf, tensorcast OUT-0000k-of-0000N.gguf;
 * the parts' metadata layout differs, see README). */
START_TEST(test_keep_split)
{
    lo_api a;
    if (!lo_open(&a))
        TC_SKIP("llama.cpp oracle not found under %s/llama", TC_ORACLE_DIR);
    static lo_model m;
    lo_shape sh = {.n_layer = 4, .n_head = 8, .n_head_kv = 2, .rows = 256};
    lo_build(&m, &sh);
    const char *in = tpath("whole.gguf");
    ck_assert(lo_write(&a, &m, in));
    char args[2048], split1[512];
    snprintf(args, sizeof args, "convert -q '%s' '%s' --split-max-tensors 9", in, tpath("s.gguf"));
    ck_assert_int_eq(run(args), 0);
    snprintf(split1, sizeof split1, "%s", tpath("s-00001-of-00005.gguf"));
    lo_qparams p = lo_params(&a, TC_FTYPE_Q4_K_M);
    p.keep_split = true;
    lo_last_error[0] = '\0';
    ck_assert_msg(a.quantize(split1, tpath("ref.gguf"), &p) == 0, "llama.cpp: %s", lo_last_error);
    snprintf(args, sizeof args, "quantize -q '%s' '%s' Q4_K_M --keep-split --threads 2", split1,
             tpath("got.gguf"));
    ck_assert_msg(run(args) == 0, "tensorcast quantize --keep-split: %s", err_buf);
    for (int k = 1; k <= 5; k++) {
        char ref[512], got[512], leaf[64], what[64];
        snprintf(leaf, sizeof leaf, "ref.gguf-%05d-of-00005.gguf", k);
        snprintf(ref, sizeof ref, "%s", tpath(leaf));
        snprintf(leaf, sizeof leaf, "got-%05d-of-00005.gguf", k);
        snprintf(got, sizeof got, "%s", tpath(leaf));
        snprintf(what, sizeof what, "keep-split part %d", k);
        size_t nr = 0, ng = 0;
        unsigned char *fr = tc_slurp(ref, &nr), *fg = tc_slurp(got, &ng);
        ck_assert_msg(fr && fg, "%s: missing %s or %s", what, ref, got);
        struct lo_gguf_init_params gp = {true, NULL};
        void *gr = a.gguf_init_from_file(ref, gp), *gg = a.gguf_init_from_file(got, gp);
        ck_assert_msg(gr && gg, "%s: ggml cannot read a part", what);
        ck_assert_int_gt(a.n_tensors(gr), 0);
        compare_tensors(&a, gr, gg, fr, fg, what);
        a.gguf_free(gr);
        a.gguf_free(gg);
        free(fr);
        free(fg);
    }
    /* the parts read back as one model; a non-split input gives one plain file */
    snprintf(args, sizeof args, "inspect '%s'", tpath("got-00003-of-00005.gguf"));
    ck_assert_int_eq(run(args), 0);
    snprintf(args, sizeof args, "quantize -q '%s' '%s' Q8_0 --keep-split", in, tpath("one.gguf"));
    ck_assert_int_eq(run(args), 0);
    size_t n1 = 0;
    unsigned char *one = tc_slurp(tpath("one.gguf"), &n1);
    ck_assert_ptr_nonnull(one);
    free(one);
    snprintf(args, sizeof args, "quantize -q '%s' '%s' Q8_0 --keep-split --split-max-tensors 3", in,
             tpath("x.gguf"));
    ck_assert_int_eq(run(args), 2);
}
END_TEST

static void teardown(void)
{
    if (tmpdir[0]) {
        tc_rm_rf(tmpdir);
        tmpdir[0] = '\0';
    }
}

/* The library's plan API on its own: planning leaves the graph alone, applying gives every
 * tensor its planned type in the planned order, and misuse is refused with the documented
 * codes. (What the bytes must be is the sweeps' job, against llama.cpp.) */
START_TEST(test_plan_api)
{
    char args[1024];
    const char *f32 = tpath("tiny-f32.gguf");
    snprintf(args, sizeof args, "convert -q '%s/fixtures/tiny-llama' '%s' --type f32", TC_SRC_DIR,
             f32);
    ck_assert_msg(run(args) == 0, "convert: %s", err_buf);
    tc_err e = {0};
    tc_graph *g = NULL, *other = NULL;
    ck_assert_msg(tc_read(f32, &g, NULL, &e) == TC_OK, "%s", e.msg);
    ck_assert_msg(tc_read(f32, &other, NULL, &e) == TC_OK, "%s", e.msg);
    size_t nt = tc_graph_n_tensors(g);
    ck_assert_uint_gt(nt, 2);

    tc_quant_opts o;
    tc_quant_opts_init(&o);
    ck_assert_int_eq(o.output_tensor_type, -1);
    ck_assert_int_eq(o.token_embedding_type, -1);
    tc_quant_plan *p = NULL;
    o.preset = "Q9_Z";
    e = (tc_err){0};
    ck_assert_int_eq(tc_quant_plan_new(g, &o, &p, &e), TC_E_USAGE);
    ck_assert_ptr_null(p);
    o.preset = "Q8_0";
    const char *re[] = {"ATTN_V"}; /* lower-cased like llama-quantize: matches attn_v */
    int ty[] = {TC_DTYPE_Q4_0};
    o.n_overrides = 1;
    o.override_re = re;
    o.override_type = ty;
    ck_assert_msg(tc_quant_plan_new(g, &o, &p, &e) == TC_OK, "%s", e.msg);
    ck_assert_ptr_eq(tc_quant_plan_preset(p), tc_preset_find("q8_0"));
    ck_assert_uint_eq(tc_quant_plan_len(p), nt);
    ck_assert_ptr_null(tc_quant_plan_parts(p));
    size_t n_q8 = 0, n_q4 = 0;
    for (size_t i = 0; i < nt; i++) {
        const tc_quant_step *s = tc_quant_plan_step(p, i);
        ck_assert_int_eq(tc_tensor_dtype(tc_graph_find(g, s->name)), TC_DTYPE_F32); /* untouched */
        ck_assert_int_eq(s->from, TC_DTYPE_F32);
        n_q8 += s->to == TC_DTYPE_Q8_0;
        if (strstr(s->name, "attn_v.weight")) {
            ck_assert_int_eq(s->to, TC_DTYPE_Q4_0);
            n_q4++;
        }
        if (strstr(s->name, "norm"))
            ck_assert_int_eq(s->to, TC_DTYPE_F32); /* 1-D: never quantized */
        if (i > 0) /* llama.cpp's order: blk.N by number, not as strings */
            ck_assert_int_le(tc_mix_name_cmp(tc_quant_plan_step(p, i - 1)->name, s->name), 0);
    }
    ck_assert_uint_gt(n_q8, 0);
    ck_assert_uint_gt(n_q4, 0);
    ck_assert_ptr_null(tc_quant_plan_step(p, nt));

    e = (tc_err){0};
    ck_assert_int_eq(tc_quant_apply(p, other, &e), TC_E_USAGE); /* not the planned graph */
    ck_assert_msg(tc_quant_apply(p, g, &e) == TC_OK, "%s", e.msg);
    for (size_t i = 0; i < nt; i++) {
        const tc_quant_step *s = tc_quant_plan_step(p, i);
        ck_assert_str_eq(tc_tensor_name(tc_graph_tensor(g, i)), s->name);
        ck_assert_int_eq(tc_tensor_dtype(tc_graph_tensor(g, i)), s->to);
    }
    uint64_t ft = 0;
    ck_assert(tc_value_to_u64(tc_graph_get(g, "general.file_type"), &ft));
    ck_assert_uint_eq(ft, TC_FTYPE_Q8_0);
    ck_assert_str_eq(tc_graph_kv_key(g, tc_graph_n_kv(g) - 1), "general.file_type");
    tc_quant_plan_free(p);
    tc_graph_free(g);

    /* a graph without llama.cpp's names: refused unless --pure */
    g = tc_graph_new();
    tc_tensor *t;
    const int64_t shape[2] = {4, 64};
    ck_assert(tc_graph_add_tensor(g, "proj.weight", TC_DTYPE_F32, 2, shape, &t, &e) == TC_OK);
    tc_quant_opts_init(&o);
    o.preset = "Q4_K_M";
    e = (tc_err){0};
    ck_assert_int_eq(tc_quant_plan_new(g, &o, &p, &e), TC_E_UNSUPPORTED);
    ck_assert_msg(strstr(e.msg, "general.architecture") != NULL, "%s", e.msg);
    o.pure = 1;
    o.preset = "Q8_0";
    ck_assert_msg(tc_quant_plan_new(g, &o, &p, &e) == TC_OK, "%s", e.msg);
    ck_assert_int_eq(tc_quant_plan_step(p, 0)->to, TC_DTYPE_Q8_0);
    tc_quant_plan_free(p);
    tc_graph_free(g);

    /* llama.cpp names and rows of 256: Q2_K_S needs importance data */
    g = tc_graph_new();
    const int64_t sq[2] = {256, 256};
    ck_assert(tc_graph_set_str(g, "general.architecture", "llama", &e) == TC_OK);
    ck_assert(tc_graph_add_tensor(g, "blk.0.attn_q.weight", TC_DTYPE_F32, 2, sq, &t, &e) == TC_OK);
    tc_quant_opts_init(&o);
    o.preset = "Q2_K_S";
    e = (tc_err){0};
    ck_assert_int_eq(tc_quant_plan_new(g, &o, &p, &e), TC_E_USAGE);
    ck_assert_ptr_nonnull(strstr(e.msg, "importance matrix"));
    o.dry_run = 1; /* planning only: allowed, and it says what is needed */
    ck_assert_msg(tc_quant_plan_new(g, &o, &p, &e) == TC_OK, "%s", e.msg);
    ck_assert_str_eq(tc_quant_plan_totals(p)->needs_imatrix, "blk.0.attn_q.weight");
    ck_assert_int_eq(tc_quant_plan_totals(p)->needs_imatrix_type, TC_DTYPE_Q2_K);
    tc_quant_plan_free(p);
    tc_graph_free(g);
    tc_graph_free(other);
}
END_TEST

/* --part i/N: N runs in any order (here through the Slurm script with its variables set by hand)
 * write exactly the files of the run without --part; the assembled set verifies; the
 * Kubernetes Indexed Job's command agrees with its completions. */
START_TEST(test_part)
{
    const char *d = tpath("");
    const char *src = TC_SRC_DIR;
    ck_assert_int_eq(tc_sh("mkdir -p '%s/one' '%s/many' && '%s' quantize '%s/fixtures/tiny-llama' "
                           "'%s/one/m.gguf' Q8_0 --split-max-tensors 5 -q",
                           d, d, TC_BIN, src, d),
                     0);
    int n_files = 0;
    char p[700];
    for (int k = 1; k < 100; k++) {
        snprintf(p, sizeof p, "%s/one/m-%05d-of-00005.gguf", d, k);
        if (access(p, F_OK) != 0)
            break;
        n_files = k;
    }
    ck_assert_int_eq(n_files, 5);
    static const int order[] = {3, 1, 2};
    for (int j = 0; j < 3; j++)
        ck_assert_int_eq(tc_sh("SLURM_ARRAY_TASK_ID=%d SLURM_ARRAY_TASK_COUNT=3 TENSORCAST='%s' "
                               "'%s/scripts/slurm-quantize.sh' quantize '%s/fixtures/tiny-llama' "
                               "'%s/many/m.gguf' Q8_0 --split-max-tensors 5",
                               order[j], TC_BIN, src, src, d),
                         0);
    for (int k = 1; k <= 5; k++)
        ck_assert_msg(tc_sh("cmp -s '%s/one/m-%05d-of-00005.gguf' '%s/many/m-%05d-of-00005.gguf'",
                            d, k, d, k) == 0,
                      "file %d of the set differs between one run and three --part runs", k);
    ck_assert_int_eq(tc_sh("'%s' verify '%s/many/m-00001-of-00005.gguf' >/dev/null", TC_BIN, d), 0);
    /* more parts than files: the extra runs write nothing and say so */
    ck_assert_int_eq(tc_sh("cd '%s' && '%s' quantize '%s/fixtures/tiny-llama' '%s/x.gguf' Q8_0 "
                           "--split-max-tensors 5 --part 7/7 | grep -q 'no file of the set' && "
                           "! ls '%s' | grep -q '^x-'",
                           d, TC_BIN, src, d, d),
                     0);
    /* usage errors */
    ck_assert_int_eq(tc_sh("'%s' quantize '%s/fixtures/tiny-llama' '%s/y.gguf' Q8_0 --part 1/2 "
                           "2>/dev/null",
                           TC_BIN, src, d),
                     2);
    ck_assert_int_eq(tc_sh("'%s' quantize '%s/fixtures/tiny-llama' '%s/y.gguf' Q8_0 "
                           "--split-max-tensors 5 --part 4/3 2>/dev/null",
                           TC_BIN, src, d),
                     2);
    ck_assert_int_eq(tc_sh("'%s' convert '%s/fixtures/tiny-llama' '%s/y.safetensors' --part 1/2 "
                           "2>/dev/null",
                           TC_BIN, src, d),
                     2);
    /* the Kubernetes Indexed Job: parsed as YAML, its command runs --part (index + 1)/N with N
     * its completions and parallelism */
    ck_assert_int_eq(
        tc_sh("python3 '%s/tests/k8s_job_check.py' '%s/scripts/k8s-quantize.yaml'", src, src), 0);
}
END_TEST

Suite *quantize_suite(void)
{
    Suite *s = suite_create("quantize");
    const struct {
        const char *name;
        const TTest *test;
    } cases[] = {
        {"threads", test_threads},
        {"keep_split", test_keep_split},
        {"errors", test_errors},
        {"imatrix_loader", test_imatrix_loader},
        {"json_options", test_json_options},
        {"diff", test_diff},
        {"plan_api", test_plan_api},
        {"part", test_part},
    };
    for (size_t i = 0; i < sizeof sweeps / sizeof sweeps[0]; i++)
        tc_add_case(s, sweeps[i].name, test_sweep, (int)i, 600, teardown);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        tc_add_case(s, cases[i].name, cases[i].test, -1, 600, teardown);
    return s;
}
