/*
 * check_gguf.c - the GGUF reader and writer against two independent readers: ggml's own C
 * reader (libggml-base.so from llama.cpp, through dlopen) and @huggingface/gguf (node, through
 * scripts/oracle/gguf_oracle.mjs). Also files written by ggml's GGUF writer read back by us, round
 * trips, split sets, the malformed corpus in fixtures/gguf/bad and a mutation run.
 */
#include "gguf_oracle.h"
#include "oracle.h"
#include "tc_impl.h"
#include "tc_test_util.h"

#include <dirent.h>
#include <jansson.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <unistd.h>

/* ===== helpers ===== */

static char tmpdir[256];

/* Every dtype ggml can hold in a GGUF (ids below TC_DTYPE_GGML_COUNT with a table row). */
static int ggml_types(int *out)
{
    int n = 0;
    for (int t = 0; t < TC_DTYPE_GGML_COUNT; t++)
        if (tc_dtype_get(t))
            out[n++] = t;
    return n;
}

/* Add a tensor with random bytes (any bit pattern: quantized blocks included). */
static tc_tensor *add_random(tc_graph *g, const char *name, int dt, int nd, const int64_t *shape,
                             uint64_t *seed)
{
    tc_err e = {0};
    tc_tensor *t;
    ck_assert_msg(tc_graph_add_tensor(g, name, dt, nd, shape, &t, &e) == TC_OK, "%s", e.msg);
    uint64_t n = tc_tensor_nbytes(t);
    uint8_t *d = tc_malloc(n ? (size_t)n : 1);
    for (uint64_t i = 0; i < n; i++)
        d[i] = (uint8_t)tc_rng_next(seed);
    ck_assert_int_eq(tc_tensor_set_owned(t, d, n, &e), TC_OK);
    return t;
}

static void set_kv(tc_graph *g, const char *k, tc_value v)
{
    tc_err e = {0};
    ck_assert_msg(tc_graph_set(g, k, &v, &e) == TC_OK, "%s", e.msg);
}

/* A graph holding every writable ggml type in several shapes and every KV type. */
static tc_graph *make_graph(uint64_t seed, int n_shapes)
{
    tc_graph *g = tc_graph_new();
    int types[TC_DTYPE_GGML_COUNT], nt = ggml_types(types);
    char name[64];
    for (int i = 0; i < nt; i++) {
        int b = (int)tc_dtype_get(types[i])->blck;
        int64_t shapes[][4] = {{b}, {3, 2 * b}, {2, 1, b}, {2, 3, 1, b}, {5, 3 * b}};
        int nds[] = {1, 2, 3, 4, 2};
        for (int s = 0; s < n_shapes && s < 5; s++) {
            snprintf(name, sizeof name, "blk.%d.%s.s%d", i, tc_dtype_get(types[i])->name, s);
            add_random(g, name, types[i], nds[s], shapes[s], &seed);
        }
    }
    int64_t empty[2] = {0, 32};
    add_random(g, "empty.weight", TC_DTYPE_F32, 2, empty, &seed);
    add_random(g, "scalar", TC_DTYPE_F32, 0, empty, &seed); /* 0-d: n_dims 0 in the file */
    int64_t ones[3] = {1, 1, 32};                           /* trailing ne of 1 are kept */
    add_random(g, "ones.bias", TC_DTYPE_F16, 3, ones, &seed);

    set_kv(g, "general.architecture", (tc_value){.type = TC_V_STR, .s = {"llama", 5}});
    set_kv(g, "general.license", (tc_value){.type = TC_V_STR, .s = {"apache-2.0", 10}});
    set_kv(g, "general.license.name", (tc_value){.type = TC_V_STR, .s = {"Apache 2", 8}});
    set_kv(g, "t.u8", (tc_value){.type = TC_V_U8, .u = 250});
    set_kv(g, "t.i8", (tc_value){.type = TC_V_I8, .i = -100});
    set_kv(g, "t.u16", (tc_value){.type = TC_V_U16, .u = 65000});
    set_kv(g, "t.i16", (tc_value){.type = TC_V_I16, .i = -32000});
    set_kv(g, "t.u32", (tc_value){.type = TC_V_U32, .u = 4000000000u});
    set_kv(g, "t.i32", (tc_value){.type = TC_V_I32, .i = -2000000000});
    set_kv(g, "t.f32", (tc_value){.type = TC_V_F32, .f = (double)0.1f});
    set_kv(g, "t.bool", (tc_value){.type = TC_V_BOOL, .u = 1});
    set_kv(g, "t.str", (tc_value){.type = TC_V_STR, .s = {"h\xc3\xa9llo, world", 13}});
    set_kv(g, "t.u64", (tc_value){.type = TC_V_U64, .u = 18000000000000000000ull});
    set_kv(g, "t.i64", (tc_value){.type = TC_V_I64, .i = -9000000000000000000ll});
    set_kv(g, "t.f64", (tc_value){.type = TC_V_F64, .f = -1.0e300 / 3.0});
    set_kv(g, "t.emptystr", (tc_value){.type = TC_V_STR, .s = {"", 0}});
    /* arrays of every scalar type */
    static uint8_t raw[8 * 7];
    uint64_t s2 = seed;
    for (size_t i = 0; i < sizeof raw; i++)
        raw[i] = (uint8_t)tc_rng_next(&s2);
    for (int vt = 0; vt < TC_V_COUNT; vt++) {
        if (vt == TC_V_STR || vt == TC_V_ARR)
            continue;
        uint8_t data[8 * 7];
        memcpy(data, raw, sizeof data);
        if (vt == TC_V_BOOL)
            for (int i = 0; i < 7; i++)
                data[i] &= 1;
        if (vt == TC_V_F32 || vt == TC_V_F64) /* finite values: JSON has no NaN */
            for (int i = 0; i < 7; i++) {
                if (vt == TC_V_F32) {
                    float f = (float)i * 0.37f - 1.0f;
                    memcpy(data + 4 * i, &f, 4);
                } else {
                    double f = (double)i * 1e-7 - 3.0;
                    memcpy(data + 8 * i, &f, 8);
                }
            }
        snprintf(name, sizeof name, "arr.%s", tc_vtype_name((tc_vtype)vt));
        set_kv(g, name, (tc_value){.type = TC_V_ARR, .arr = {(tc_vtype)vt, 7, data}});
    }
    tc_str strs[4] = {{"<s>", 3}, {"", 0}, {"\xe2\x96\x81the", 6}, {"x y", 3}};
    set_kv(g, "tokenizer.ggml.tokens", (tc_value){.type = TC_V_ARR, .arr = {TC_V_STR, 4, strs}});
    set_kv(g, "arr.empty", (tc_value){.type = TC_V_ARR, .arr = {TC_V_I32, 0, NULL}});
    return g;
}

/* Every tensor of `a` is in `b` with the same dtype, shape and bytes (in the same order when
 * `order`); the metadata of `a` equals `b`'s, in order. */
static void assert_graph_eq(const tc_graph *a, const tc_graph *b, int order)
{
    tc_assert_same_tensors(a, b, order);
    ck_assert_uint_eq(tc_graph_n_kv(a), tc_graph_n_kv(b));
    for (size_t i = 0; i < tc_graph_n_kv(a); i++) {
        ck_assert_str_eq(tc_graph_kv_key(a, i), tc_graph_kv_key(b, i));
        ck_assert_msg(value_eq(tc_graph_kv_value(a, i), tc_graph_kv_value(b, i)),
                      "metadata '%s' differs", tc_graph_kv_key(a, i));
    }
}

/* Write `g` (alignment, split limits) to dir/name, read it back, check it with both oracles and
 * against the graph. */
static void write_and_check(tc_graph *g, const char *name, uint32_t align, uint64_t max_bytes,
                            uint64_t max_tensors, int want_parts)
{
    ggml_api a = {0};
    int have_ggml = ggml_load(&a), node = have_node();
    tc_err e = {0};
    char path[512];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    tc_write_opts wo;
    memset(&wo, 0, sizeof wo);
    wo.alignment = align;
    wo.max_shard_bytes = max_bytes;
    wo.max_shard_tensors = max_tensors;
    wo.threads = 2;
    ck_assert_msg(tc_write(g, path, "gguf", &wo, &e) == TC_OK, "%s", e.msg);
    ck_assert_uint_eq(wo.n_written, (size_t)want_parts);
    uint32_t eff = align ? align : 32;
    const tc_value *ga = tc_graph_get(g, "general.alignment");
    if (!align && ga)
        eff = (uint32_t)ga->u;

    /* our reader: the whole set, named by any part */
    tc_graph *back;
    const char *entry = wo.written[want_parts - 1];
    ck_assert_msg(tc_read(entry, &back, NULL, &e) == TC_OK, "%s", e.msg);
    ck_assert_str_eq(tc_graph_format(back), "gguf");
    ck_assert_str_eq(tc_graph_format_version(back), "3");
    ck_assert_uint_eq(tc_graph_n_sources(back), (size_t)want_parts);
    tc_license lic;
    tc_graph_license(back, &lic);
    if (lic.id)
        ck_assert_str_eq(lic.source, "GGUF general.license");

    /* compare: metadata equals the graph's (+ alignment), tensors byte-identical in order */
    kv_want *kv = malloc((tc_graph_n_kv(g) + 8) * sizeof *kv);
    size_t n_kv = expected_kvs(g, 0, 1, eff, 0, tc_graph_n_tensors(g), kv);
    ck_assert_uint_eq(tc_graph_n_kv(back), n_kv);
    for (size_t i = 0; i < n_kv; i++) {
        ck_assert_str_eq(tc_graph_kv_key(back, i), kv[i].key);
        ck_assert_msg(value_eq(tc_graph_kv_value(back, i), &kv[i].v), "'%s' differs", kv[i].key);
    }
    ck_assert_uint_eq(tc_graph_n_tensors(back), tc_graph_n_tensors(g));

    /* per part: both oracles */
    size_t t0 = 0;
    for (int p = 0; p < want_parts; p++) {
        const char *pp = wo.written[p];
        tc_graph *one = tc_graph_new();
        tc_map *m;
        ck_assert_int_eq(tc_map_open(pp, &m, &e), TC_OK);
        /* a lone part of a set is refused by read_map: count the tensors from ggml instead */
        tc_status st = tc_format_gguf.read_map(m, one, NULL, &e);
        if (want_parts > 1)
            ck_assert_int_eq(st, TC_E_FORMAT);
        tc_map_unref(m);
        tc_graph_free(one);
        size_t t1 = t0;
        for (size_t i = t0; i < tc_graph_n_tensors(g); i++) {
            const tc_map *tm;
            uint64_t off;
            ck_assert(tc_tensor_mapped(tc_graph_tensor(back, i), &tm, &off));
            if (strcmp(tc_map_path(tm), pp) != 0)
                break;
            t1 = i + 1;
        }
        size_t nk = expected_kvs(g, p, want_parts, eff, t0, t1, kv);
        if (have_ggml)
            check_with_ggml(&a, pp, kv, nk, g, t0, t1, back, eff);
        if (node)
            check_with_hf(pp, kv, nk, g, t0, t1, back);
        t0 = t1;
    }
    ck_assert_uint_eq(t0, tc_graph_n_tensors(g));
    free(kv);

    /* tensors byte-identical and in order */
    for (size_t i = 0; i < tc_graph_n_tensors(g); i++) {
        const tc_tensor *x = tc_graph_tensor(g, i), *y = tc_graph_tensor(back, i);
        ck_assert_str_eq(tc_tensor_name(x), tc_tensor_name(y));
    }
    for (size_t i = 0; i < tc_graph_n_tensors(g); i++) {
        const tc_tensor *x = tc_graph_tensor(g, i), *y = tc_graph_tensor(back, i);
        uint64_t n = tc_tensor_nbytes(x);
        ck_assert_int_eq(tc_tensor_dtype(x), tc_tensor_dtype(y));
        ck_assert_int_eq(tc_tensor_n_dims(x), tc_tensor_n_dims(y));
        for (int d = 0; d < tc_tensor_n_dims(x); d++)
            ck_assert_int_eq(tc_tensor_shape(x)[d], tc_tensor_shape(y)[d]);
        uint8_t *bx = malloc(n + 1), *by = malloc(n + 1);
        ck_assert_int_eq(tc_tensor_read(x, 0, tc_tensor_n_elements(x), bx, &e), TC_OK);
        ck_assert_int_eq(tc_tensor_read(y, 0, tc_tensor_n_elements(y), by, &e), TC_OK);
        ck_assert_msg(memcmp(bx, by, n) == 0, "tensor %s bytes differ", tc_tensor_name(x));
        free(bx);
        free(by);
    }
    tc_graph_free(back);
    for (size_t i = 0; i < wo.n_written; i++)
        tc_free(wo.written[i]);
    tc_free(wo.written);
    if (!have_ggml)
        fprintf(stderr, "SKIP part of %s: libggml-base.so oracle missing in %s/llama\n", __func__,
                TC_ORACLE_DIR);
    if (!node)
        fprintf(stderr, "SKIP part of %s: node or @huggingface/gguf missing in %s\n", __func__,
                TC_ORACLE_DIR);
}

/* ===== tests ===== */

START_TEST(write_all_types_both_oracles)
{
    tc_make_tmpdir(tmpdir, sizeof tmpdir, "tc_gguf");
    tc_graph *g = make_graph(1, tc_test_quick() ? 2 : 5);
    write_and_check(g, "all.gguf", 0, 0, 0, 1);
    write_and_check(g, "all64.gguf", 64, 0, 0, 1);
    tc_graph_free(g);
    tc_rm_rf(tmpdir);
}
END_TEST

START_TEST(write_alignment_from_graph)
{
    tc_make_tmpdir(tmpdir, sizeof tmpdir, "tc_gguf");
    tc_graph *g = make_graph(2, 1);
    tc_err e = {0};
    ck_assert_int_eq(tc_graph_set_u32(g, "general.alignment", 128, &e), TC_OK);
    write_and_check(g, "a128.gguf", 0, 0, 0, 1);
    tc_graph_free(g);
    tc_rm_rf(tmpdir);
}
END_TEST

START_TEST(write_split_sets)
{
    tc_make_tmpdir(tmpdir, sizeof tmpdir, "tc_gguf");
    tc_graph *g = make_graph(3, 2);
    size_t nt = tc_graph_n_tensors(g);
    /* by tensor count: ceil(nt / 10) parts */
    write_and_check(g, "byn.gguf", 0, 0, 10, (int)((nt + 9) / 10));
    /* by size: 4096 bytes of padded tensor data per part at most (a bigger tensor alone) */
    uint64_t cur = 0;
    int parts = 1, in_part = 0;
    for (size_t i = 0; i < nt; i++) {
        uint64_t sz = (tc_tensor_nbytes(tc_graph_tensor(g, i)) + 63) / 64 * 64;
        if (in_part > 0 && cur + sz > 4096) {
            parts++;
            cur = 0;
            in_part = 0;
        }
        cur += sz;
        in_part++;
    }
    write_and_check(g, "bysize.gguf", 64, 4096, 0, parts);
    /* everything fits: one plain file, no split keys */
    write_and_check(g, "fits.gguf", 0, 1ull << 40, 0, 1);
    tc_graph_free(g);
    tc_rm_rf(tmpdir);
}
END_TEST

/* Split write -> read equals the graph read from an unsplit write; any part names the set. */
START_TEST(split_roundtrip_equals_unsplit)
{
    tc_make_tmpdir(tmpdir, sizeof tmpdir, "tc_gguf");
    tc_graph *g = make_graph(4, 1);
    tc_err e = {0};
    char p1[512], p2[512];
    snprintf(p1, sizeof p1, "%s/one.gguf", tmpdir);
    snprintf(p2, sizeof p2, "%s/many.gguf", tmpdir);
    tc_write_opts wo;
    memset(&wo, 0, sizeof wo);
    ck_assert_int_eq(tc_write(g, p1, NULL, &wo, &e), TC_OK);
    ck_assert_uint_eq(wo.n_written, 1);
    tc_free(wo.written[0]);
    tc_free(wo.written);
    memset(&wo, 0, sizeof wo);
    wo.max_shard_tensors = 7;
    ck_assert_int_eq(tc_write(g, p2, NULL, &wo, &e), TC_OK);
    ck_assert_uint_gt(wo.n_written, 2);
    tc_graph *a, *b, *c;
    ck_assert_int_eq(tc_read(p1, &a, NULL, &e), TC_OK);
    ck_assert_int_eq(tc_read(wo.written[0], &b, NULL, &e), TC_OK);
    ck_assert_int_eq(tc_read(wo.written[1], &c, NULL, &e), TC_OK);
    assert_graph_eq(a, b, 1);
    assert_graph_eq(a, c, 1);
    assert_graph_eq(g, a, 1);
    tc_graph_free(a);
    tc_graph_free(b);
    tc_graph_free(c);
    /* parts swapped: split.no disagrees with the name */
    char tmpname[600];
    snprintf(tmpname, sizeof tmpname, "%s.tmp", wo.written[2]);
    ck_assert_int_eq(rename(wo.written[2], tmpname), 0);
    ck_assert_int_eq(rename(wo.written[1], wo.written[2]), 0);
    ck_assert_int_eq(rename(tmpname, wo.written[1]), 0);
    tc_err_clear(&e);
    ck_assert_int_eq(tc_read(wo.written[0], &a, NULL, &e), TC_E_FORMAT);
    ck_assert_msg(strstr(e.msg, "split.no is 2") && strstr(e.msg, "part 2"), "%s", e.msg);
    /* a missing part is named */
    ck_assert_int_eq(unlink(wo.written[1]), 0);
    tc_err_clear(&e);
    ck_assert_int_eq(tc_read(wo.written[0], &a, NULL, &e), TC_E_FORMAT);
    ck_assert_msg(strstr(e.msg, "part 2") && strstr(e.msg, "missing") &&
                      strstr(e.msg, tc_path_base(wo.written[1])),
                  "%s", e.msg);
    for (size_t i = 0; i < wo.n_written; i++)
        tc_free(wo.written[i]);
    tc_free(wo.written);
    tc_graph_free(g);
    tc_rm_rf(tmpdir);
}
END_TEST

/* GGUF -> GGUF: every byte of the file is the same when we wrote the first one. */
START_TEST(roundtrip_bytes_identical)
{
    tc_make_tmpdir(tmpdir, sizeof tmpdir, "tc_gguf");
    tc_graph *g = make_graph(5, 2);
    tc_err e = {0};
    char p1[512], p2[512];
    snprintf(p1, sizeof p1, "%s/a.gguf", tmpdir);
    snprintf(p2, sizeof p2, "%s/b.gguf", tmpdir);
    ck_assert_int_eq(tc_write(g, p1, NULL, NULL, &e), TC_OK);
    tc_graph *a;
    ck_assert_int_eq(tc_read(p1, &a, NULL, &e), TC_OK);
    ck_assert_int_eq(tc_write(a, p2, NULL, NULL, &e), TC_OK);
    tc_map *m1, *m2;
    ck_assert_int_eq(tc_map_open(p1, &m1, &e), TC_OK);
    ck_assert_int_eq(tc_map_open(p2, &m2, &e), TC_OK);
    ck_assert_uint_eq(tc_map_size(m1), tc_map_size(m2));
    ck_assert(memcmp(tc_map_data(m1), tc_map_data(m2), (size_t)tc_map_size(m1)) == 0);
    tc_map_unref(m1);
    tc_map_unref(m2);
    tc_graph_free(a);
    tc_graph_free(g);
    tc_rm_rf(tmpdir);
}
END_TEST

/* The writer refuses what GGUF cannot hold, naming the tensor or key, and writes nothing. */
START_TEST(write_refuses_before_writing)
{
    tc_make_tmpdir(tmpdir, sizeof tmpdir, "tc_gguf");
    tc_err e = {0};
    char path[512];
    snprintf(path, sizeof path, "%s/x.gguf", tmpdir);
    uint64_t seed = 9;
    int64_t sh[2] = {2, 8};
    struct {
        int dtype;
        const char *name;
        const char *msg;
    } cases[] = {
        {TC_DTYPE_U8, "mask.u8", "mask.u8"},
        {TC_DTYPE_BOOL, "mask.bool", "mask.bool"},
        {TC_DTYPE_F8_E4M3, "w.f8", "w.f8"},
        {TC_DTYPE_F32, "a.name.that.is.far.too.long.for.ggml.which.allows.sixty.three.bytes",
         "too long"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        tc_graph *g = tc_graph_new();
        add_random(g, "ok.weight", TC_DTYPE_F32, 2, sh, &seed);
        add_random(g, cases[c].name, cases[c].dtype, 2, sh, &seed);
        tc_err_clear(&e);
        ck_assert_int_eq(tc_write(g, path, "gguf", NULL, &e), TC_E_UNSUPPORTED);
        ck_assert_msg(strstr(e.msg, cases[c].msg), "%s", e.msg);
        ck_assert_int_ne(access(path, F_OK), 0);
        tc_graph_free(g);
    }
    /* 5 dimensions */
    tc_graph *g = tc_graph_new();
    int64_t sh5[5] = {1, 2, 1, 2, 4};
    add_random(g, "five", TC_DTYPE_F32, 5, sh5, &seed);
    tc_err_clear(&e);
    ck_assert_int_eq(tc_write(g, path, "gguf", NULL, &e), TC_E_UNSUPPORTED);
    ck_assert_msg(strstr(e.msg, "five"), "%s", e.msg);
    tc_graph_free(g);
    /* arrays of arrays */
    g = tc_graph_new();
    add_random(g, "w", TC_DTYPE_F32, 2, sh, &seed);
    int32_t ints[2] = {1, 2};
    tc_value inner[2] = {{.type = TC_V_ARR, .arr = {TC_V_I32, 2, ints}},
                         {.type = TC_V_ARR, .arr = {TC_V_I32, 1, ints}}};
    set_kv(g, "nested.key", (tc_value){.type = TC_V_ARR, .arr = {TC_V_ARR, 2, inner}});
    tc_err_clear(&e);
    ck_assert_int_eq(tc_write(g, path, "gguf", NULL, &e), TC_E_UNSUPPORTED);
    ck_assert_msg(strstr(e.msg, "nested.key"), "%s", e.msg);
    /* bad alignment */
    tc_graph_del(g, "nested.key");
    tc_write_opts wo;
    memset(&wo, 0, sizeof wo);
    wo.alignment = 48;
    tc_err_clear(&e);
    ck_assert_int_eq(tc_write(g, path, "gguf", &wo, &e), TC_E_UNSUPPORTED);
    ck_assert_msg(strstr(e.msg, "power of two"), "%s", e.msg);
    ck_assert_int_ne(access(path, F_OK), 0);
    tc_graph_free(g);
    /* nothing left behind, not even temporary files */
    DIR *d = opendir(tmpdir);
    struct dirent *de;
    int n = 0;
    while ((de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
            n++;
    closedir(d);
    ck_assert_int_eq(n, 0);
    tc_rm_rf(tmpdir);
}
END_TEST

/* A failing tensor source leaves no part of a split set behind. */
static tc_status failing_read(void *ctx, const tc_tensor *t, uint64_t e0, uint64_t n, void *dst,
                              tc_err *e)
{
    (void)ctx, (void)e0, (void)n, (void)dst;
    return tc_err_set(e, TC_E_IO, "simulated read failure in '%s'", tc_tensor_name(t));
}

START_TEST(write_failure_leaves_nothing)
{
    tc_make_tmpdir(tmpdir, sizeof tmpdir, "tc_gguf");
    tc_graph *g = make_graph(6, 1);
    tc_err e = {0};
    int64_t sh[1] = {64};
    tc_tensor *t;
    ck_assert_int_eq(tc_graph_add_tensor(g, "zz.fails", TC_DTYPE_F32, 1, sh, &t, &e), TC_OK);
    ck_assert_int_eq(tc_tensor_set_lazy(t, failing_read, NULL, NULL, &e), TC_OK);
    char path[512];
    snprintf(path, sizeof path, "%s/s.gguf", tmpdir);
    tc_write_opts wo;
    memset(&wo, 0, sizeof wo);
    wo.max_shard_tensors = 5;
    ck_assert_int_eq(tc_write(g, path, NULL, &wo, &e), TC_E_IO);
    ck_assert_msg(strstr(e.msg, "zz.fails"), "%s", e.msg);
    ck_assert_uint_eq(wo.n_written, 0);
    DIR *d = opendir(tmpdir);
    struct dirent *de;
    int n = 0;
    while ((de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
            n++;
    closedir(d);
    ck_assert_int_eq(n, 0);
    tc_graph_free(g);
    tc_rm_rf(tmpdir);
}
END_TEST

/* Files written by ggml's own GGUF writer, read by us. */
START_TEST(read_files_written_by_ggml)
{
    ggml_api a = {0};
    if (!ggml_load(&a))
        TC_SKIP("libggml-base.so (llama.cpp oracle) not found in %s/llama", TC_ORACLE_DIR);
    tc_make_tmpdir(tmpdir, sizeof tmpdir, "tc_gguf");
    struct ggml_init_params ip = {64u << 20, NULL, false};
    struct ggml_context *gc = a.ggml_init(ip);
    ck_assert_ptr_nonnull(gc);
    struct gguf_context *c = a.init_empty();
    a.set_val_str(c, "general.architecture", "llama");
    a.set_val_u8(c, "k.u8", 7);
    a.set_val_i8(c, "k.i8", -7);
    a.set_val_u16(c, "k.u16", 60000);
    a.set_val_i16(c, "k.i16", -30000);
    a.set_val_u32(c, "k.u32", 3000000000u);
    a.set_val_i32(c, "k.i32", -3);
    a.set_val_f32(c, "k.f32", 1.5f);
    a.set_val_u64(c, "k.u64", 1ull << 63);
    a.set_val_i64(c, "k.i64", INT64_MIN);
    a.set_val_f64(c, "k.f64", 0.1);
    a.set_val_bool(c, "k.bool", true);
    a.set_val_str(c, "general.license", "mit");
    float fa[3] = {1.0f, -2.5f, 3.25f};
    a.set_arr_data(c, "k.arr.f32", TC_V_F32, fa, 3);
    const char *sa[3] = {"a", "bb", ""};
    a.set_arr_str(c, "k.arr.str", sa, 3);
    /* no general.alignment here: ggml's writer lays data out at its context's alignment (32)
     * whatever that key says */

    int types[TC_DTYPE_GGML_COUNT], nt = ggml_types(types);
    uint64_t seed = 77;
    int added = 0;
    for (int i = 0; i < nt; i++) {
        int64_t b = tc_dtype_get(types[i])->blck;
        int64_t ne[3] = {2 * b, 3, 2};
        int nd = 1 + i % 3;
        struct ggml_tensor *t = a.new_tensor(gc, types[i], nd, ne);
        ck_assert_ptr_nonnull(t);
        char name[64];
        snprintf(name, sizeof name, "t%d.%s", i, tc_dtype_get(types[i])->name);
        a.set_name(t, name);
        uint8_t *d = a.get_data(t);
        for (size_t k = 0; k < a.nbytes(t); k++)
            d[k] = (uint8_t)tc_rng_next(&seed);
        a.add_tensor(c, t);
        added++;
    }
    char path[512];
    snprintf(path, sizeof path, "%s/ggml.gguf", tmpdir);
    ck_assert(a.write_to_file(c, path, false));

    tc_err e = {0};
    tc_graph *g;
    ck_assert_msg(tc_read(path, &g, NULL, &e) == TC_OK, "%s", e.msg);
    ck_assert_int_eq(tc_graph_n_kv(g), a.get_n_kv(c));
    const char *keys[] = {"general.architecture",
                          "k.u8",
                          "k.i8",
                          "k.u16",
                          "k.i16",
                          "k.u32",
                          "k.i32",
                          "k.f32",
                          "k.u64",
                          "k.i64",
                          "k.f64",
                          "k.bool",
                          "general.license",
                          "k.arr.f32",
                          "k.arr.str"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        ck_assert_str_eq(tc_graph_kv_key(g, i), keys[i]);
    ck_assert_str_eq(tc_graph_get_str(g, "general.architecture"), "llama");
    ck_assert_int_eq(tc_graph_get(g, "k.u8")->u, 7);
    ck_assert_int_eq(tc_graph_get(g, "k.i8")->i, -7);
    ck_assert_int_eq(tc_graph_get(g, "k.u16")->u, 60000);
    ck_assert_int_eq(tc_graph_get(g, "k.i16")->i, -30000);
    ck_assert_uint_eq(tc_graph_get(g, "k.u32")->u, 3000000000u);
    ck_assert_int_eq(tc_graph_get(g, "k.i32")->i, -3);
    ck_assert(tc_graph_get(g, "k.f32")->f == 1.5);
    ck_assert_int_eq(tc_graph_get(g, "k.f32")->type, TC_V_F32);
    ck_assert_uint_eq(tc_graph_get(g, "k.u64")->u, 1ull << 63);
    ck_assert(tc_graph_get(g, "k.i64")->i == INT64_MIN);
    ck_assert(tc_graph_get(g, "k.f64")->f == 0.1);
    ck_assert_int_eq(tc_graph_get(g, "k.bool")->type, TC_V_BOOL);
    ck_assert_int_eq(tc_graph_get(g, "k.bool")->u, 1);
    const tc_value *v = tc_graph_get(g, "k.arr.f32");
    ck_assert_int_eq(v->arr.elem, TC_V_F32);
    ck_assert_uint_eq(v->arr.n, 3);
    ck_assert(memcmp(v->arr.data, fa, sizeof fa) == 0);
    v = tc_graph_get(g, "k.arr.str");
    ck_assert_int_eq(v->arr.elem, TC_V_STR);
    ck_assert_uint_eq(v->arr.n, 3);
    for (int i = 0; i < 3; i++)
        ck_assert_str_eq(((const tc_str *)v->arr.data)[i].p, sa[i]);
    tc_license lic;
    tc_graph_license(g, &lic);
    ck_assert_str_eq(lic.id, "mit");
    ck_assert_str_eq(lic.source, "GGUF general.license");

    /* tensors: names, types, shapes (reversed ne) and bytes as ggml wrote them */
    ck_assert_int_eq((int)tc_graph_n_tensors(g), added);
    struct gguf_init_params rp = {true, NULL};
    struct gguf_context *rc = a.init_from_file(path, rp);
    ck_assert_ptr_nonnull(rc);
    tc_map *fm;
    ck_assert_int_eq(tc_map_open(path, &fm, &e), TC_OK);
    for (int i = 0; i < added; i++) {
        const tc_tensor *t = tc_graph_tensor(g, (size_t)i);
        ck_assert_str_eq(tc_tensor_name(t), a.get_tensor_name(rc, i));
        ck_assert_int_eq(tc_tensor_dtype(t), a.get_tensor_type(rc, i));
        int nd = tc_tensor_n_dims(t);
        ck_assert_int_eq(nd, 1 + i % 3);
        const int64_t *ne = a.get_tensor_ne(rc, i);
        for (int d = 0; d < nd; d++)
            ck_assert_int_eq(tc_tensor_shape(t)[d], ne[nd - 1 - d]);
        uint64_t n = tc_tensor_nbytes(t);
        uint8_t *buf = malloc(n);
        ck_assert_int_eq(tc_tensor_read(t, 0, tc_tensor_n_elements(t), buf, &e), TC_OK);
        uint64_t off = a.get_data_offset(rc) + a.get_tensor_offset(rc, i);
        ck_assert(memcmp(buf, tc_map_data(fm) + off, (size_t)n) == 0);
        free(buf);
    }
    tc_map_unref(fm);
    a.free_(rc);

    /* what we write from it is the same file, byte for byte */
    char p2[512];
    snprintf(p2, sizeof p2, "%s/again.gguf", tmpdir);
    ck_assert_int_eq(tc_write(g, p2, NULL, NULL, &e), TC_OK);
    tc_map *m1, *m2;
    ck_assert_int_eq(tc_map_open(path, &m1, &e), TC_OK);
    ck_assert_int_eq(tc_map_open(p2, &m2, &e), TC_OK);
    /* ggml and we lay files out the same way: byte-identical */
    ck_assert_uint_eq(tc_map_size(m1), tc_map_size(m2));
    ck_assert(memcmp(tc_map_data(m1), tc_map_data(m2), (size_t)tc_map_size(m1)) == 0);
    tc_map_unref(m1);
    tc_map_unref(m2);
    tc_graph_free(g);
    a.free_(c);
    a.ggml_free(gc);
    tc_rm_rf(tmpdir);
}
END_TEST

/* ===== malformed inputs ===== */

/* Every fixtures/gguf/bad/<case>.gguf fails with the status and message of <case>.expect. */
START_TEST(bad_fixtures)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/fixtures/gguf/bad", TC_SRC_DIR);
    ck_assert_int_ge(tc_check_bad_dir(dir, 0, NULL, NULL), 20);
}
END_TEST

/* Every good fixture reads; about 1% of its bytes flipped many times gives TC_OK or a clean
 * error, and every tensor of a graph that reads can be read. */
START_TEST(mutation_never_crashes)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/fixtures/gguf/good", TC_SRC_DIR);
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    struct dirent *de;
    int files = 0, ok = 0, rounds = tc_test_quick() ? 200 : 1000;
    uint64_t seed = 12345;
    while ((de = readdir(d))) {
        if (!tc_ends_with(de->d_name, ".gguf"))
            continue;
        char p[2048];
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        tc_err e = {0};
        tc_map *m;
        ck_assert_int_eq(tc_map_open(p, &m, &e), TC_OK);
        size_t n = (size_t)tc_map_size(m);
        tc_graph *g0 = tc_graph_new();
        ck_assert_msg(tc_format_gguf.read_map(m, g0, NULL, &e) == TC_OK, "%s: %s", p, e.msg);
        tc_graph_free(g0);
        uint8_t *buf = malloc(n);
        /* every prefix: a clean error (or OK for the complete file) */
        for (size_t k = 0; k < n; k++) {
            tc_map *pm;
            memcpy(buf, tc_map_data(m), k);
            ck_assert_int_eq(tc_map_memory(buf, k, "prefix", &pm, &e), TC_OK);
            tc_graph *g = tc_graph_new();
            tc_err_clear(&e);
            tc_status st = tc_format_gguf.read_map(pm, g, NULL, &e);
            ck_assert_msg(st == TC_E_FORMAT || st == TC_OK, "prefix %zu of %s: %s", k, p, e.msg);
            for (size_t i = 0; st == TC_OK && i < tc_graph_n_tensors(g); i++) {
                /* only trailing padding may be missing: every tensor is still whole */
                const tc_tensor *t = tc_graph_tensor(g, i);
                uint8_t *tb = malloc(tc_tensor_nbytes(t) + 1);
                ck_assert_int_eq(tc_tensor_read(t, 0, tc_tensor_n_elements(t), tb, &e), TC_OK);
                free(tb);
            }
            tc_graph_free(g);
            tc_map_unref(pm);
        }
        for (int r = 0; r < rounds; r++) {
            memcpy(buf, tc_map_data(m), n);
            /* half the rounds about 1% of the bytes, half a single bit: more mutants get past
             * the header and have their tensors read */
            size_t flips = r % 2 ? n / 100 + 1 : 1;
            for (size_t i = 0; i < flips; i++)
                buf[tc_rng_next(&seed) % n] ^= (uint8_t)(1u << (tc_rng_next(&seed) % 8));
            tc_map *mm;
            ck_assert_int_eq(tc_map_memory(buf, n, "mutant", &mm, &e), TC_OK);
            tc_graph *g = tc_graph_new();
            tc_err_clear(&e);
            tc_status st = tc_format_gguf.read_map(mm, g, NULL, &e);
            if (st == TC_OK) {
                ok++;
                for (size_t i = 0; i < tc_graph_n_tensors(g); i++) {
                    const tc_tensor *t = tc_graph_tensor(g, i);
                    uint8_t *tb = malloc(tc_tensor_nbytes(t) + 1);
                    ck_assert_int_eq(tc_tensor_read(t, 0, tc_tensor_n_elements(t), tb, &e), TC_OK);
                    free(tb);
                }
            } else {
                ck_assert(e.msg[0] != 0);
                ck_assert(st == TC_E_FORMAT || st == TC_E_UNSUPPORTED || st == TC_E_LIMIT);
            }
            tc_graph_free(g);
            tc_map_unref(mm);
        }
        free(buf);
        tc_map_unref(m);
        files++;
    }
    closedir(d);
    ck_assert_int_ge(files, 2);
    fprintf(stderr, "mutation_never_crashes: %d files, %d mutants read cleanly\n", files, ok);
}
END_TEST

/* Failing the nth allocation gives TC_E_NOMEM or success, never a crash or leak. */
START_TEST(oom_walk)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/fixtures/gguf/good/small_v3.gguf", TC_SRC_DIR);
    int hit = 1;
    for (long n = 0; hit && n < 2000; n++) {
        tc_err e = {0};
        tc_graph *g = NULL;
        tc_alloc_fail_after(n);
        tc_status st = tc_read(p, &g, NULL, &e);
        long used = tc_alloc_fail_after(-1);
        hit = used > n;
        if (st != TC_OK)
            ck_assert_msg(st == TC_E_NOMEM, "n=%ld: %s", n, e.msg);
        tc_graph_free(g);
    }
}
END_TEST

/* The writer under allocation failures: TC_E_NOMEM and no file left, or success. */
START_TEST(oom_walk_writer)
{
    tc_make_tmpdir(tmpdir, sizeof tmpdir, "tc_gguf");
    tc_graph *g = make_graph(8, 1);
    char path[512];
    snprintf(path, sizeof path, "%s/o.gguf", tmpdir);
    int hit = 1;
    for (long n = 0; hit && n < 5000; n++) {
        tc_err e = {0};
        tc_write_opts wo;
        memset(&wo, 0, sizeof wo);
        wo.max_shard_tensors = 9;
        wo.threads = 1;
        tc_alloc_fail_after(n);
        tc_status st = tc_write(g, path, "gguf", &wo, &e);
        long used = tc_alloc_fail_after(-1);
        hit = used > n;
        if (st != TC_OK) {
            ck_assert_msg(st == TC_E_NOMEM, "n=%ld: %s", n, e.msg);
            ck_assert_uint_eq(wo.n_written, 0);
        }
        for (size_t i = 0; i < wo.n_written; i++) {
            unlink(wo.written[i]);
            tc_free(wo.written[i]);
        }
        tc_free(wo.written);
        DIR *d = opendir(tmpdir);
        struct dirent *de;
        int left = 0;
        while ((de = readdir(d)))
            if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
                left++;
        closedir(d);
        ck_assert_msg(left == 0, "n=%ld: %d files left", n, left);
    }
    tc_graph_free(g);
    tc_rm_rf(tmpdir);
}
END_TEST

START_TEST(probe_and_version)
{
    ck_assert_int_eq(tc_format_gguf.probe((const uint8_t *)"GGUF\3\0\0\0", 8, "x.bin"), 100);
    ck_assert_int_eq(tc_format_gguf.probe((const uint8_t *)"PK\3\4", 4, "x.gguf"), 10);
    ck_assert_int_eq(tc_format_gguf.probe((const uint8_t *)"PK\3\4", 4, "x.bin"), 0);
    char p[1024];
    snprintf(p, sizeof p, "%s/fixtures/gguf/good/small_v2.gguf", TC_SRC_DIR);
    tc_err e = {0};
    tc_graph *g;
    ck_assert_msg(tc_read(p, &g, NULL, &e) == TC_OK, "%s", e.msg);
    ck_assert_str_eq(tc_graph_format_version(g), "2");
    tc_graph_free(g);
}
END_TEST

Suite *gguf_suite(void)
{
    Suite *s = suite_create("gguf");
    TCase *tc = tcase_create("gguf");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, write_all_types_both_oracles);
    tcase_add_test(tc, write_alignment_from_graph);
    tcase_add_test(tc, write_split_sets);
    tcase_add_test(tc, split_roundtrip_equals_unsplit);
    tcase_add_test(tc, roundtrip_bytes_identical);
    tcase_add_test(tc, write_refuses_before_writing);
    tcase_add_test(tc, write_failure_leaves_nothing);
    tcase_add_test(tc, read_files_written_by_ggml);
    tcase_add_test(tc, bad_fixtures);
    tcase_add_test(tc, mutation_never_crashes);
    tcase_add_test(tc, oom_walk);
    tcase_add_test(tc, oom_walk_writer);
    tcase_add_test(tc, probe_and_version);
    suite_add_tcase(s, tc);
    return s;
}
