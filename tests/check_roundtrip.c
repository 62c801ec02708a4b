/*
 * check_roundtrip.c - across formats: safetensors -> GGUF -> safetensors keeps every tensor
 * byte, all metadata and the licence; `tensorcast convert` of fixtures/tiny-llama to GGUF (one
 * file and a split set) is read identically by ggml's reader and by @huggingface/gguf.
 */
#include "gguf_oracle.h"
#include "tc_impl.h"
#include "tc_test_util.h"

#include <sys/wait.h>
#include <unistd.h>

static char tmpdir[256];

/* Same metadata: every key of `a` in `b` with an equal value, and no others. */
static void assert_same_kv(const tc_graph *a, const tc_graph *b)
{
    ck_assert_uint_eq(tc_graph_n_kv(a), tc_graph_n_kv(b));
    for (size_t i = 0; i < tc_graph_n_kv(a); i++) {
        const char *k = tc_graph_kv_key(a, i);
        const tc_value *w = tc_graph_get(b, k);
        ck_assert_msg(w != NULL, "metadata '%s' lost", k);
        ck_assert_msg(value_eq(tc_graph_kv_value(a, i), w), "metadata '%s' differs", k);
    }
}

static void assert_same_license(const tc_graph *a, const tc_graph *b)
{
    tc_license x, y;
    tc_graph_license(a, &x);
    tc_graph_license(b, &y);
#define SAME(f)                                                                                    \
    ck_assert_msg((x.f == NULL) == (y.f == NULL) && (!x.f || strcmp(x.f, y.f) == 0),               \
                  "licence " #f ": '%s' vs '%s'", x.f ? x.f : "(none)", y.f ? y.f : "(none)")
    SAME(id);
    SAME(name);
    SAME(link);
#undef SAME
}

/* A -> GGUF -> safetensors, reading each back; all three agree. */
static void st_gguf_st(const tc_graph *a, const char *tag)
{
    tc_err e = {0};
    char p1[512], p2[512];
    snprintf(p1, sizeof p1, "%s/%s.gguf", tmpdir, tag);
    snprintf(p2, sizeof p2, "%s/%s.safetensors", tmpdir, tag);
    ck_assert_msg(tc_write(a, p1, "gguf", NULL, &e) == TC_OK, "%s", e.msg);
    tc_graph *b, *c;
    ck_assert_msg(tc_read(p1, &b, NULL, &e) == TC_OK, "%s", e.msg);
    ck_assert_msg(tc_write(b, p2, "safetensors", NULL, &e) == TC_OK, "%s", e.msg);
    ck_assert_msg(tc_read(p2, &c, NULL, &e) == TC_OK, "%s", e.msg);
    tc_assert_same_tensors(a, b, 0);
    tc_assert_same_tensors(a, c, 0);
    assert_same_kv(a, b);
    assert_same_kv(a, c);
    assert_same_license(a, b);
    assert_same_license(a, c);
    tc_license l;
    tc_graph_license(b, &l);
    if (l.id || l.name || l.link)
        ck_assert_str_eq(l.source, "GGUF general.license");
    tc_graph_free(b);
    tc_graph_free(c);
}

START_TEST(safetensors_gguf_safetensors)
{
    if (!tc_have_rw("gguf") || !tc_have_rw("safetensors"))
        TC_SKIP_NA("GGUF or safetensors reader/writer not built in this tree");
    tc_make_tmpdir(tmpdir, sizeof tmpdir, "tc_rt");
    tc_err e = {0};
    /* the example model: bf16 tensors, licence from README.md front matter */
    char src[1024];
    snprintf(src, sizeof src, "%s/fixtures/tiny-llama", TC_SRC_DIR);
    tc_graph *a;
    ck_assert_msg(tc_read(src, &a, NULL, &e) == TC_OK, "%s", e.msg);
    tc_license l;
    tc_graph_license(a, &l);
    ck_assert_ptr_nonnull(l.id);
    st_gguf_st(a, "tiny");
    tc_graph_free(a);

    /* a safetensors file written here: every dtype both formats hold, typed metadata and the
     * three licence fields */
    tc_graph *g = tc_graph_new();
    int dts[] = {TC_DTYPE_F32, TC_DTYPE_F16, TC_DTYPE_BF16, TC_DTYPE_F64,
                 TC_DTYPE_I8,  TC_DTYPE_I16, TC_DTYPE_I32,  TC_DTYPE_I64};
    uint64_t seed = 42;
    for (size_t i = 0; i < sizeof dts / sizeof dts[0]; i++) {
        int64_t sh[3] = {2, 3, (int64_t)(4 + i)};
        char name[64];
        snprintf(name, sizeof name, "layer.%zu.%s", i, tc_dtype_get(dts[i])->name);
        tc_tensor *t;
        ck_assert_int_eq(
            tc_graph_add_tensor(g, name, dts[i], 1 + (int)(i % 3), sh + 2 - i % 3, &t, &e), TC_OK);
        uint64_t n = tc_tensor_nbytes(t);
        uint8_t *d = tc_malloc((size_t)n);
        for (uint64_t k = 0; k < n; k++)
            d[k] = (uint8_t)tc_rng_next(&seed);
        ck_assert_int_eq(tc_tensor_set_owned(t, d, n, &e), TC_OK);
    }
    ck_assert_int_eq(tc_graph_set_license(g, "llama3.1", "Llama 3.1 Community License",
                                          "https://llama.meta.com/llama3_1/license/", "test", &e),
                     TC_OK);
    ck_assert_int_eq(tc_graph_set_str(g, "general.name", "rt", &e), TC_OK);
    ck_assert_int_eq(tc_graph_set_u32(g, "llama.block_count", 2, &e), TC_OK);
    tc_value f = {.type = TC_V_F32, .f = (double)1e-5f};
    ck_assert_int_eq(tc_graph_set(g, "llama.attention.layer_norm_rms_epsilon", &f, &e), TC_OK);
    tc_str toks[3] = {{"<s>", 3}, {"a", 1}, {"b c", 3}};
    tc_value arr = {.type = TC_V_ARR, .arr = {TC_V_STR, 3, toks}};
    ck_assert_int_eq(tc_graph_set(g, "tokenizer.ggml.tokens", &arr, &e), TC_OK);
    char p0[512];
    snprintf(p0, sizeof p0, "%s/src.safetensors", tmpdir);
    ck_assert_msg(tc_write(g, p0, "safetensors", NULL, &e) == TC_OK, "%s", e.msg);
    tc_graph_free(g);
    ck_assert_msg(tc_read(p0, &a, NULL, &e) == TC_OK, "%s", e.msg);
    ck_assert_str_eq(tc_graph_get_str(a, "general.license.name"), "Llama 3.1 Community License");
    st_gguf_st(a, "typed");
    tc_graph_free(a);
    tc_rm_rf(tmpdir);
}
END_TEST

/* Check every file of a written set with both oracles against our reading of the whole set. */
static void check_set_with_oracles(const tc_graph *whole, char **files, size_t n_files)
{
    ggml_api a = {0};
    int have_ggml = ggml_load(&a), node = have_node();
    if (!have_ggml)
        fprintf(stderr, "SKIP part of %s: libggml-base.so oracle missing in %s/llama\n", __func__,
                TC_ORACLE_DIR);
    if (!node)
        fprintf(stderr, "SKIP part of %s: node or @huggingface/gguf missing in %s\n", __func__,
                TC_ORACLE_DIR);
    kv_want *kv = malloc((tc_graph_n_kv(whole) + 8) * sizeof *kv);
    size_t t0 = 0;
    for (size_t p = 0; p < n_files; p++) {
        size_t t1 = t0;
        while (t1 < tc_graph_n_tensors(whole)) {
            const tc_map *m;
            uint64_t off;
            ck_assert(tc_tensor_mapped(tc_graph_tensor(whole, t1), &m, &off));
            if (strcmp(tc_map_path(m), files[p]) != 0)
                break;
            t1++;
        }
        size_t nk = expected_kvs(whole, (int)p, (int)n_files, 32, t0, t1, kv);
        if (have_ggml)
            check_with_ggml(&a, files[p], kv, nk, whole, t0, t1, whole, 32);
        if (node)
            check_with_hf(files[p], kv, nk, whole, t0, t1, whole);
        t0 = t1;
    }
    ck_assert_uint_eq(t0, tc_graph_n_tensors(whole));
    free(kv);
}

START_TEST(convert_tiny_llama_passes_both_oracles)
{
    if (!tc_have_rw("gguf") || !tc_have_rw("safetensors"))
        TC_SKIP_NA("GGUF or safetensors reader/writer not built in this tree");
    tc_make_tmpdir(tmpdir, sizeof tmpdir, "tc_rt");
    char src[1024], args[4096], path[600];
    snprintf(src, sizeof src, "%s/fixtures/tiny-llama", TC_SRC_DIR);
    tc_err e = {0};
    tc_graph *a;
    ck_assert_int_eq(tc_read(src, &a, NULL, &e), TC_OK);

    /* one file */
    snprintf(path, sizeof path, "%s/tiny.gguf", tmpdir);
    snprintf(args, sizeof args, "convert '%s' '%s' --quiet --no-hf-map", src, path);
    ck_assert_int_eq(tc_run_cli(NULL, args, NULL, 0, NULL, 0), 0);
    tc_graph *b;
    ck_assert_msg(tc_read(path, &b, NULL, &e) == TC_OK, "%s", e.msg);
    tc_assert_same_tensors(a, b, 0);
    assert_same_license(a, b);
    char *files[64] = {path};
    check_set_with_oracles(b, files, 1);
    tc_graph_free(b);

    /* a split set of at most 8 tensors per file, f16 */
    snprintf(path, sizeof path, "%s/split.gguf", tmpdir);
    snprintf(args, sizeof args,
             "convert '%s' '%s' --type f16 --split-max-tensors 8 --quiet --no-hf-map", src, path);
    ck_assert_int_eq(tc_run_cli(NULL, args, NULL, 0, NULL, 0), 0);
    size_t nt = tc_graph_n_tensors(a), np = (nt + 7) / 8;
    ck_assert_uint_le(np, 64);
    char names[64][600];
    for (size_t i = 0; i < np; i++) {
        snprintf(names[i], sizeof names[i], "%s/split-%05zu-of-%05zu.gguf", tmpdir, i + 1, np);
        files[i] = names[i];
    }
    ck_assert_msg(tc_read(names[np - 1], &b, NULL, &e) == TC_OK, "%s", e.msg);
    ck_assert_uint_eq(tc_graph_n_tensors(b), nt);
    ck_assert_uint_eq(tc_graph_n_sources(b), np);
    for (size_t i = 0; i < nt; i++) {
        const tc_tensor *t = tc_graph_tensor(b, i);
        ck_assert_int_eq(tc_tensor_dtype(t),
                         tc_tensor_n_dims(t) <= 1 ? TC_DTYPE_F32 : TC_DTYPE_F16);
    }
    assert_same_license(a, b);
    check_set_with_oracles(b, files, np);
    tc_graph_free(b);
    tc_graph_free(a);
    tc_rm_rf(tmpdir);
}
END_TEST

Suite *roundtrip_suite(void)
{
    Suite *s = suite_create("roundtrip");
    TCase *tc = tcase_create("roundtrip");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, safetensors_gguf_safetensors);
    tcase_add_test(tc, convert_tiny_llama_passes_both_oracles);
    suite_add_tcase(s, tc);
    return s;
}
