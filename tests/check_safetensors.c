/* check_safetensors.c - the safetensors reader and writer: values against numpy/PyTorch, typed
 * metadata round trips, sharded sets, malformed files, and no partial output on failures. */
#include "tc_impl.h"
#include "tc_test_util.h"

#include <dirent.h>
#include <math.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char tmpdir[256];

static void fixture(char *buf, size_t cap, const char *rel)
{
    snprintf(buf, cap, "%s/fixtures/safetensors/%s", TC_SRC_DIR, rel);
}

/* The independent checker (json/struct/numpy): 0 when `file` is valid and matches `ref`. */
static int py_check(const char *py, const char *file, const char *ref)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s '%s/scripts/fixtures/safetensors_files.py' check '%s' %s%s%s", py,
             TC_SRC_DIR, file, ref ? "'" : "", ref ? ref : "", ref ? "'" : "");
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static int same_double_bits(double a, double b)
{
    return memcmp(&a, &b, sizeof a) == 0;
}

/* Deep equality of two values; floats compare bit for bit (NaN: any NaN). */
static int value_eq(const tc_value *a, const tc_value *b)
{
    if (a->type != b->type)
        return 0;
    switch (a->type) {
    case TC_V_STR:
        return a->s.len == b->s.len && memcmp(a->s.p, b->s.p, a->s.len) == 0;
    case TC_V_F32:
    case TC_V_F64:
        return (isnan(a->f) && isnan(b->f)) || same_double_bits(a->f, b->f);
    case TC_V_ARR:
        if (a->arr.elem != b->arr.elem || a->arr.n != b->arr.n)
            return 0;
        for (uint64_t i = 0; i < a->arr.n; i++) {
            if (a->arr.elem == TC_V_STR) {
                const tc_str *x = (const tc_str *)a->arr.data + i,
                             *y = (const tc_str *)b->arr.data + i;
                if (x->len != y->len || memcmp(x->p, y->p, x->len))
                    return 0;
            } else if (a->arr.elem == TC_V_ARR) {
                if (!value_eq((const tc_value *)a->arr.data + i, (const tc_value *)b->arr.data + i))
                    return 0;
            } else if (a->arr.elem == TC_V_F32) {
                float x, y;
                memcpy(&x, (const uint8_t *)a->arr.data + 4 * i, 4);
                memcpy(&y, (const uint8_t *)b->arr.data + 4 * i, 4);
                if (!(isnan(x) && isnan(y)) && memcmp(&x, &y, 4))
                    return 0;
            } else if (a->arr.elem == TC_V_F64) {
                double x, y;
                memcpy(&x, (const uint8_t *)a->arr.data + 8 * i, 8);
                memcpy(&y, (const uint8_t *)b->arr.data + 8 * i, 8);
                if (!(isnan(x) && isnan(y)) && memcmp(&x, &y, 8))
                    return 0;
            } else {
                size_t es = tc_vtype_size(a->arr.elem);
                if (memcmp((const uint8_t *)a->arr.data + es * i,
                           (const uint8_t *)b->arr.data + es * i, es))
                    return 0;
            }
        }
        return 1;
    default:
        return a->u == b->u;
    }
}

/* Every KV of `a` is in `b` with the same type and value, and the counts agree. */
static void assert_same_kv(const tc_graph *a, const tc_graph *b)
{
    for (size_t i = 0; i < tc_graph_n_kv(a); i++) {
        const char *k = tc_graph_kv_key(a, i);
        const tc_value *v = tc_graph_get(b, k);
        ck_assert_msg(v != NULL, "key %s missing", k);
        ck_assert_msg(value_eq(tc_graph_kv_value(a, i), v), "key %s differs", k);
    }
    ck_assert_uint_eq(tc_graph_n_kv(a), tc_graph_n_kv(b));
}

/* ===== Reading ===== */

/* all_dtypes.safetensors was written by scripts/fixtures/safetensors_files.py from numpy arrays
 * (f16/bf16 rounded by PyTorch, fp8 bytes decoded from the bit layout in Python); its .values
 * file holds what numpy/PyTorch say each element is. */
START_TEST(values_match_numpy)
{
    char path[1024], vpath[1024];
    fixture(path, sizeof path, "good/all_dtypes.safetensors");
    fixture(vpath, sizeof vpath, "good/all_dtypes.values");
    tc_err e = {0};
    tc_graph *g;
    ck_assert_msg(tc_read(path, &g, NULL, &e) == TC_OK, "%s", e.msg);
    ck_assert_str_eq(tc_graph_format(g), "safetensors");
    size_t vn;
    char *text = (char *)tc_slurp_ok(vpath, &vn);
    text[vn] = 0;
    int lines = 0;
    uint64_t last_off = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        char *save, *tok = strtok_r(line, " ", &save);
        char name[128], st_name[16];
        snprintf(name, sizeof name, "%s", tok);
        snprintf(st_name, sizeof st_name, "%s", strtok_r(NULL, " ", &save));
        tc_tensor *t = tc_graph_find(g, name);
        ck_assert_msg(t != NULL, "tensor %s missing", name);
        int dt = tc_tensor_dtype(t);
        ck_assert_str_eq(tc_dtype_get(dt)->st_name, st_name);
        int nd = atoi(strtok_r(NULL, " ", &save));
        ck_assert_int_eq(tc_tensor_n_dims(t), nd);
        for (int d = 0; d < nd; d++)
            ck_assert_int_eq(tc_tensor_shape(t)[d], atoll(strtok_r(NULL, " ", &save)));
        uint64_t count = strtoull(strtok_r(NULL, " ", &save), NULL, 10);
        ck_assert_uint_eq(tc_tensor_n_elements(t), count);
        /* zero-copy, in file offset order */
        const tc_map *m;
        uint64_t off;
        ck_assert(tc_tensor_mapped(t, &m, &off));
        ck_assert_uint_ge(off, last_off);
        last_off = off;
        uint8_t *raw = tc_tensor_bytes(t);
        const tc_dtype_info *di = tc_dtype_get(dt);
        float *f32 = NULL;
        if (dt == TC_DTYPE_F16 || dt == TC_DTYPE_BF16 || dt == TC_DTYPE_F8_E4M3 ||
            dt == TC_DTYPE_F8_E5M2) {
            ck_assert_int_eq(tc_tensor_convert(t, TC_DTYPE_F32, NULL, &e), TC_OK);
            f32 = (float *)tc_tensor_bytes(t);
        }
        for (uint64_t i = 0; i < count; i++) {
            char *v = strtok_r(NULL, " ", &save);
            ck_assert_ptr_nonnull(v);
            const uint8_t *p = raw + i * di->size;
            if (di->is_float) {
                double want = strtod(v, NULL), got;
                if (dt == TC_DTYPE_F64)
                    memcpy(&got, p, 8);
                else if (dt == TC_DTYPE_F32) {
                    float x;
                    memcpy(&x, p, 4);
                    got = x;
                } else
                    got = f32[i];
                ck_assert_msg((isnan(want) && isnan(got)) || same_double_bits(want, got),
                              "%s[%" PRIu64 "]: got %.17g, numpy says %s", name, i, got, v);
            } else if (dt == TC_DTYPE_U64 || dt == TC_DTYPE_U32 || dt == TC_DTYPE_U16 ||
                       dt == TC_DTYPE_U8 || dt == TC_DTYPE_BOOL) {
                uint64_t got = 0;
                memcpy(&got, p, di->size); /* little-endian host */
                ck_assert_msg(got == strtoull(v, NULL, 10), "%s[%" PRIu64 "]", name, i);
            } else {
                int64_t got = 0;
                memcpy(&got, p, di->size);
                int sh = 64 - 8 * (int)di->size;
                got = sh ? (int64_t)((uint64_t)got << sh) >> sh : got;
                ck_assert_msg(got == strtoll(v, NULL, 10), "%s[%" PRIu64 "]", name, i);
            }
        }
        ck_assert_ptr_null(strtok_r(NULL, " ", &save));
        free(raw);
        free(f32);
        lines++;
    }
    ck_assert_int_eq(lines, 18);
    ck_assert_uint_eq(tc_graph_n_tensors(g), 18);
    /* metadata and licence */
    ck_assert_str_eq(tc_graph_get_str(g, "format"), "pt");
    ck_assert_str_eq(tc_graph_get_str(g, "note"), "caf\xc3\xa9 \xe2\x98\x83");
    tc_license lic;
    tc_graph_license(g, &lic);
    ck_assert_str_eq(lic.id, "mit");
    ck_assert_str_eq(lic.link, "https://opensource.org/license/mit");
    ck_assert_ptr_null(lic.name);
    ck_assert_str_eq(lic.source, "safetensors __metadata__");
    ck_assert_ptr_null(tc_graph_get(g, "license"));
    free(text);
    tc_graph_free(g);
}
END_TEST

/* Typed values written by hand in the documented encoding come back typed. */
START_TEST(typed_metadata_read)
{
    char path[1024];
    fixture(path, sizeof path, "good/typed_meta.safetensors");
    tc_err e = {0};
    tc_graph *g;
    ck_assert_msg(tc_read(path, &g, NULL, &e) == TC_OK, "%s", e.msg);
    ck_assert_ptr_null(tc_graph_get(g, "tensorcast.kv_types"));
    const tc_value *v = tc_graph_get(g, "llama.block_count");
    ck_assert_int_eq(v->type, TC_V_U32);
    ck_assert_uint_eq(v->u, 2);
    v = tc_graph_get(g, "llama.attention.layer_norm_rms_epsilon");
    ck_assert_int_eq(v->type, TC_V_F32);
    ck_assert(v->f == (double)1e-5f);
    v = tc_graph_get(g, "big");
    ck_assert_int_eq(v->type, TC_V_U64);
    ck_assert_uint_eq(v->u, UINT64_MAX);
    v = tc_graph_get(g, "neg");
    ck_assert_int_eq(v->type, TC_V_I64);
    ck_assert(v->i == INT64_MIN);
    v = tc_graph_get(g, "flag");
    ck_assert_int_eq(v->type, TC_V_BOOL);
    ck_assert_uint_eq(v->u, 1);
    v = tc_graph_get(g, "general.tags");
    ck_assert_int_eq(v->type, TC_V_ARR);
    ck_assert_int_eq(v->arr.elem, TC_V_STR);
    ck_assert_uint_eq(v->arr.n, 3);
    ck_assert_str_eq(((const tc_str *)v->arr.data)[1].p, "b\"c");
    ck_assert_str_eq(((const tc_str *)v->arr.data)[2].p, "\xc3\xa9");
    v = tc_graph_get(g, "tokenizer.ggml.scores");
    ck_assert_int_eq(v->arr.elem, TC_V_F32);
    ck_assert_uint_eq(v->arr.n, 5);
    const float *sc = v->arr.data;
    ck_assert(sc[1] == -1.5f && isnan(sc[2]) && isinf(sc[3]) && sc[3] < 0 &&
              sc[4] == 3.40282347e+38f);
    v = tc_graph_get(g, "tokenizer.ggml.merges");
    ck_assert_int_eq(v->arr.elem, TC_V_ARR);
    ck_assert_uint_eq(v->arr.n, 3);
    const tc_value *in = v->arr.data;
    ck_assert_uint_eq(in[0].arr.n, 1);
    ck_assert_uint_eq(in[1].arr.n, 0);
    ck_assert_uint_eq(in[2].arr.n, 2);
    ck_assert_str_eq(((const tc_str *)in[2].arr.data)[1].p, "e f");
    ck_assert_str_eq(tc_graph_get_str(g, "general.architecture"), "llama");
    tc_graph_free(g);
}
END_TEST

/* read_map on a memory copy gives the same graph as reading the file; the probe bids. */
START_TEST(read_map_and_probe)
{
    char path[1024];
    fixture(path, sizeof path, "good/all_dtypes.safetensors");
    size_t n;
    uint8_t *buf = tc_slurp_ok(path, &n);
    tc_err e = {0};
    tc_map *m;
    ck_assert_int_eq(tc_map_memory(buf, n, "mem.safetensors", &m, &e), TC_OK);
    tc_graph *a = tc_graph_new(), *b;
    ck_assert_int_eq(tc_format_safetensors.read_map(m, a, NULL, &e), TC_OK);
    tc_map_unref(m);
    ck_assert_int_eq(tc_read(path, &b, NULL, &e), TC_OK);
    tc_assert_same_tensors(a, b, 1);
    ck_assert_int_eq(tc_format_safetensors.probe(buf, n, "x.bin"), 100);
    ck_assert_int_eq(
        tc_format_safetensors.probe((const uint8_t *)"GGUF\3\0\0\0\0\0\0\0", 12, "x.bin"), 0);
    ck_assert_int_eq(tc_format_safetensors.probe((const uint8_t *)"junk", 4, "x.safetensors"), 10);
    char dir[1024];
    fixture(dir, sizeof dir, "good");
    ck_assert_int_gt(tc_format_safetensors.probe(NULL, 0, dir), 0);
    fixture(dir, sizeof dir, "bad/index_path_escape/model.safetensors.index.json");
    ck_assert_int_eq(tc_format_safetensors.probe((const uint8_t *)"{\n  \"metadata\"", 14, dir),
                     100);
    /* "__metadata__": null is no metadata (serde reads it as None) */
    char nm[1024];
    fixture(nm, sizeof nm, "good/null_metadata.safetensors");
    tc_graph *c;
    ck_assert_msg(tc_read(nm, &c, NULL, &e) == TC_OK, "%s", e.msg);
    ck_assert_uint_eq(tc_graph_n_tensors(c), 1);
    ck_assert_uint_eq(tc_graph_n_kv(c), 0);
    tc_graph_free(c);
    const tc_format *f;
    ck_assert_int_eq(tc_format_detect(path, &f, &e), TC_OK);
    ck_assert_str_eq(f->name, "safetensors");
    tc_graph_free(a);
    tc_graph_free(b);
    free(buf);
}
END_TEST

/* Every malformed fixture fails with its own message naming the file; no prefix of a good file
 * and no single-byte corruption of its header crashes or reads out of bounds. */
START_TEST(malformed_inputs)
{
    char bad[1024];
    fixture(bad, sizeof bad, "bad");
    int checked = tc_check_bad_dir(bad, 1, NULL, NULL);
    ck_assert_int_ge(checked, 30);

    char path[1024];
    fixture(path, sizeof path, "good/all_dtypes.safetensors");
    size_t n;
    uint8_t *buf = tc_slurp_ok(path, &n);
    uint64_t hlen = tc_le64(buf);
    for (size_t cut = 0; cut < n; cut++) { /* every prefix: the data no longer tiles the file */
        tc_err e = {0};
        tc_map *m;
        uint8_t *copy = malloc(cut + 1);
        memcpy(copy, buf, cut);
        ck_assert_int_eq(tc_map_memory(copy, cut, "cut", &m, &e), TC_OK);
        tc_graph *g = tc_graph_new();
        ck_assert_msg(tc_format_safetensors.read_map(m, g, NULL, &e) != TC_OK,
                      "prefix of %zu bytes accepted", cut);
        ck_assert_ptr_nonnull(strstr(e.msg, "cut"));
        tc_graph_free(g);
        tc_map_unref(m);
        free(copy);
    }
    uint64_t seed = 7;
    int accepted = 0;
    for (int it = 0; it < 3000; it++) { /* header corruptions: error or a consistent graph */
        uint8_t *copy = malloc(n);
        memcpy(copy, buf, n);
        size_t at = 8 + (size_t)(tc_rng_next(&seed) % hlen);
        copy[at] = (uint8_t)tc_rng_next(&seed);
        tc_err e = {0};
        tc_map *m;
        ck_assert_int_eq(tc_map_memory(copy, n, "mut", &m, &e), TC_OK);
        tc_graph *g = tc_graph_new();
        if (tc_format_safetensors.read_map(m, g, NULL, &e) == TC_OK) {
            accepted++;
            for (size_t i = 0; i < tc_graph_n_tensors(g); i++)
                free(tc_tensor_bytes(tc_graph_tensor(g, i)));
        } else {
            ck_assert(e.msg[0] != 0);
        }
        tc_graph_free(g);
        tc_map_unref(m);
        free(copy);
    }
    fprintf(stderr, "malformed_inputs: %d fixtures, %zu prefixes, %d/3000 mutants accepted\n",
            checked, n, accepted);
    free(buf);
}
END_TEST

/* ===== Writing ===== */

static tc_status write_st(const tc_graph *g, const char *path, uint64_t shard, tc_write_opts *wo,
                          tc_err *e)
{
    memset(wo, 0, sizeof *wo);
    wo->max_shard_bytes = shard;
    wo->threads = 2;
    return tc_write(g, path, "safetensors", wo, e);
}

static void free_written(tc_write_opts *wo)
{
    for (size_t i = 0; i < wo->n_written; i++)
        tc_free(wo->written[i]);
    tc_free(wo->written);
}

/* read -> write -> read keeps names, order, dtypes, shapes, bytes, metadata and licence; the
 * output passes the independent Python check; writing the copy again gives the same file. */
START_TEST(roundtrip_file)
{
    tc_make_tmpdir(tmpdir, sizeof tmpdir, "tc_st");
    char src[1024], out[512], out2[512];
    fixture(src, sizeof src, "good/all_dtypes.safetensors");
    snprintf(out, sizeof out, "%s/a.safetensors", tmpdir);
    snprintf(out2, sizeof out2, "%s/b.safetensors", tmpdir);
    tc_err e = {0};
    tc_graph *a, *b;
    tc_write_opts wo;
    ck_assert_int_eq(tc_read(src, &a, NULL, &e), TC_OK);
    ck_assert_msg(write_st(a, out, 0, &wo, &e) == TC_OK, "%s", e.msg);
    ck_assert_uint_eq(wo.n_written, 1);
    ck_assert_str_eq(wo.written[0], out);
    free_written(&wo);
    ck_assert_int_eq(tc_read(out, &b, NULL, &e), TC_OK);
    tc_assert_same_tensors(a, b, 1);
    assert_same_kv(a, b);
    tc_license la, lb;
    tc_graph_license(a, &la);
    tc_graph_license(b, &lb);
    ck_assert_str_eq(lb.id, la.id);
    ck_assert_str_eq(lb.source, "safetensors __metadata__");
    ck_assert_int_eq(write_st(b, out2, 0, &wo, &e), TC_OK);
    free_written(&wo);
    size_t n1, n2;
    uint8_t *f1 = tc_slurp_ok(out, &n1), *f2 = tc_slurp_ok(out2, &n2);
    ck_assert_uint_eq(n1, n2);
    ck_assert(memcmp(f1, f2, n1) == 0);
    ck_assert_uint_eq((8 + tc_le64(f1)) % 8, 0); /* header padded: data 8-byte aligned */
    ck_assert_int_eq(f1[8], '{');
    free(f1);
    free(f2);
    const char *py = tc_find_python("numpy");
    if (py)
        ck_assert_int_eq(py_check(py, out, src), 0);
    else
        fprintf(stderr, "SKIP part of roundtrip_file: no python3 with numpy\n");
    tc_graph_free(a);
    tc_graph_free(b);
    tc_rm_rf(tmpdir);
}
END_TEST

/* A graph with every metadata value type (as GGUF has them) survives safetensors exactly;
 * bookkeeping keys of other formats are dropped. */
START_TEST(roundtrip_typed_metadata)
{
    tc_make_tmpdir(tmpdir, sizeof tmpdir, "tc_st");
    tc_graph *g = tc_graph_new();
    tc_err e = {0};
    tc_value v;
#define SETV(key, ...)                                                                             \
    do {                                                                                           \
        v = (tc_value){__VA_ARGS__};                                                               \
        ck_assert_int_eq(tc_graph_set(g, key, &v, &e), TC_OK);                                     \
    } while (0)
    SETV("k.u8", .type = TC_V_U8, .u = 255);
    SETV("k.i8", .type = TC_V_I8, .i = -128);
    SETV("k.u16", .type = TC_V_U16, .u = 65535);
    SETV("k.i16", .type = TC_V_I16, .i = -32768);
    SETV("k.u32", .type = TC_V_U32, .u = 4294967295u);
    SETV("k.i32", .type = TC_V_I32, .i = INT32_MIN);
    SETV("k.u64", .type = TC_V_U64, .u = UINT64_MAX);
    SETV("k.i64", .type = TC_V_I64, .i = INT64_MIN);
    SETV("k.bool", .type = TC_V_BOOL, .u = 0);
    SETV("k.f32", .type = TC_V_F32, .f = (double)0.1f);
    SETV("k.f32.neg0", .type = TC_V_F32, .f = -0.0);
    SETV("k.f32.sub", .type = TC_V_F32, .f = (double)1e-45f);
    SETV("k.f32.inf", .type = TC_V_F32, .f = -INFINITY);
    SETV("k.f64", .type = TC_V_F64, .f = 0.1);
    SETV("k.f64.sub", .type = TC_V_F64, .f = 5e-324);
    SETV("k.f64.max", .type = TC_V_F64, .f = 1.7976931348623157e308);
    SETV("k.f64.nan", .type = TC_V_F64, .f = NAN);
    static const char sv[] = "tab\there \"q\" \\ \xe2\x82\xac";
    SETV("k.str", .type = TC_V_STR, .s = {sv, sizeof sv - 1});
    SETV("k.str.nul", .type = TC_V_STR, .s = {"a\0b", 3});
    int32_t i32s[4] = {1, -2, INT32_MAX, INT32_MIN};
    SETV("k.arr.i32", .type = TC_V_ARR, .arr = {TC_V_I32, 4, i32s});
    float f32s[5] = {0.1f, -0.0f, 1e-45f, INFINITY, 3.4028235e38f};
    SETV("k.arr.f32", .type = TC_V_ARR, .arr = {TC_V_F32, 5, f32s});
    double f64s[3] = {0.1, 1e-310, -2.5e300};
    SETV("k.arr.f64", .type = TC_V_ARR, .arr = {TC_V_F64, 3, f64s});
    uint8_t bools[3] = {1, 0, 1};
    SETV("k.arr.bool", .type = TC_V_ARR, .arr = {TC_V_BOOL, 3, bools});
    uint64_t u64s[2] = {0, UINT64_MAX};
    SETV("k.arr.u64", .type = TC_V_ARR, .arr = {TC_V_U64, 2, u64s});
    int8_t i8s[2] = {-1, 127};
    SETV("k.arr.i8", .type = TC_V_ARR, .arr = {TC_V_I8, 2, i8s});
    tc_str strs[3] = {{"x", 1}, {"", 0}, {"\n\x01\xf0\x9f\x98\x80", 6}};
    SETV("k.arr.str", .type = TC_V_ARR, .arr = {TC_V_STR, 3, strs});
    SETV("k.arr.empty", .type = TC_V_ARR, .arr = {TC_V_U16, 0, NULL});
    tc_value inner[2] = {{.type = TC_V_ARR, .arr = {TC_V_STR, 2, strs}},
                         {.type = TC_V_ARR, .arr = {TC_V_STR, 1, strs + 2}}};
    SETV("k.arr.arr.str", .type = TC_V_ARR, .arr = {TC_V_ARR, 2, inner});
    tc_value deep[1] = {{.type = TC_V_ARR, .arr = {TC_V_ARR, 2, inner}}};
    SETV("k.arr.arr.arr.str", .type = TC_V_ARR, .arr = {TC_V_ARR, 1, deep});
    /* tokenizer-sized arrays (150k entries) */
    enum { NTOK = 150000 };
    tc_str *toks = malloc(NTOK * sizeof *toks);
    char *tokbuf = malloc(NTOK * 16);
    float *scores = malloc(NTOK * sizeof *scores);
    for (int i = 0; i < NTOK; i++) {
        int n = snprintf(tokbuf + 16 * i, 16, i % 7 ? "tok%d" : "\"\\\n%d", i);
        toks[i] = (tc_str){tokbuf + 16 * i, (uint64_t)n};
        scores[i] = -(float)i / 3.0f;
    }
    SETV("tokenizer.ggml.tokens", .type = TC_V_ARR, .arr = {TC_V_STR, NTOK, toks});
    SETV("tokenizer.ggml.scores", .type = TC_V_ARR, .arr = {TC_V_F32, NTOK, scores});
    free(toks);
    free(tokbuf);
    free(scores);
    ck_assert_int_eq(tc_graph_set_license(g, "apache-2.0", "Apache 2.0", "https://x/y", "test", &e),
                     TC_OK);
    /* not carried: bookkeeping of GGUF split sets and alignment */
    ck_assert_int_eq(tc_graph_set_u32(g, "general.alignment", 64, &e), TC_OK);
    ck_assert_int_eq(tc_graph_set_u32(g, "split.count", 3, &e), TC_OK);
    int64_t shape[2] = {2, 3};
    tc_tensor *t;
    ck_assert_int_eq(tc_graph_add_tensor(g, "w", TC_DTYPE_F32, 2, shape, &t, &e), TC_OK);
    float *d = tc_malloc(24);
    for (int i = 0; i < 6; i++)
        d[i] = (float)i - 2.5f;
    ck_assert_int_eq(tc_tensor_set_owned(t, d, 24, &e), TC_OK);

    char out[512];
    snprintf(out, sizeof out, "%s/typed.safetensors", tmpdir);
    tc_write_opts wo;
    ck_assert_msg(write_st(g, out, 0, &wo, &e) == TC_OK, "%s", e.msg);
    free_written(&wo);
    tc_graph *b;
    ck_assert_msg(tc_read(out, &b, NULL, &e) == TC_OK, "%s", e.msg);
    ck_assert_ptr_null(tc_graph_get(b, "general.alignment"));
    ck_assert_ptr_null(tc_graph_get(b, "split.count"));
    tc_graph_del(g, "general.alignment");
    tc_graph_del(g, "split.count");
    assert_same_kv(g, b);
    tc_assert_same_tensors(g, b, 1);
    tc_license lic;
    tc_graph_license(b, &lic);
    ck_assert_str_eq(lic.name, "Apache 2.0");
    const char *py = tc_find_python("numpy");
    if (py) /* every typed value is JSON Python accepts, the layout is valid */
        ck_assert_int_eq(py_check(py, out, NULL), 0);
    tc_graph_free(b);

    /* nested arrays whose inner element types differ: refused, naming the key */
    int32_t one = 1;
    tc_value mixed[2] = {{.type = TC_V_ARR, .arr = {TC_V_STR, 1, strs}},
                         {.type = TC_V_ARR, .arr = {TC_V_I32, 1, &one}}};
    SETV("k.mixed", .type = TC_V_ARR, .arr = {TC_V_ARR, 2, mixed});
    tc_err_clear(&e);
    snprintf(out, sizeof out, "%s/mixed.safetensors", tmpdir);
    ck_assert_int_eq(write_st(g, out, 0, &wo, &e), TC_E_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(e.msg, "k.mixed"));
    ck_assert_int_eq(access(out, F_OK), -1);
    free_written(&wo);
#undef SETV
    tc_graph_free(g);
    tc_rm_rf(tmpdir);
}
END_TEST

/* GGUF -> safetensors -> GGUF keeps keys, types and values (needs the GGUF writer). */
START_TEST(roundtrip_through_gguf)
{
    const tc_format *gg = tc_format_by_name("gguf");
    if (gg == NULL || gg->write == NULL || gg->read == NULL)
        TC_SKIP_NA("GGUF reader/writer not built in this tree");
    tc_make_tmpdir(tmpdir, sizeof tmpdir, "tc_st");
    char src[1024], p1[512], p2[512], p3[512];
    fixture(src, sizeof src, "good/typed_meta.safetensors");
    snprintf(p1, sizeof p1, "%s/a.gguf", tmpdir);
    snprintf(p2, sizeof p2, "%s/b.safetensors", tmpdir);
    snprintf(p3, sizeof p3, "%s/c.gguf", tmpdir);
    tc_err e = {0};
    tc_graph *a, *b, *c, *d;
    tc_write_opts wo;
    ck_assert_int_eq(tc_read(src, &a, NULL, &e), TC_OK);
    memset(&wo, 0, sizeof wo);
    /* GGUF as ggml reads it has no arrays of arrays: the writer refuses them, naming the key */
    ck_assert_int_eq(tc_write(a, p1, "gguf", &wo, &e), TC_E_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(e.msg, "tokenizer.ggml.merges"));
    ck_assert_int_eq(tc_graph_del(a, "tokenizer.ggml.merges"), 1);
    tc_err_clear(&e);
    ck_assert_msg(tc_write(a, p1, "gguf", &wo, &e) == TC_OK, "%s", e.msg);
    free_written(&wo);
    ck_assert_int_eq(tc_read(p1, &b, NULL, &e), TC_OK);
    ck_assert_msg(write_st(b, p2, 0, &wo, &e) == TC_OK, "%s", e.msg);
    free_written(&wo);
    ck_assert_int_eq(tc_read(p2, &c, NULL, &e), TC_OK);
    memset(&wo, 0, sizeof wo);
    ck_assert_int_eq(tc_write(c, p3, "gguf", &wo, &e), TC_OK);
    free_written(&wo);
    ck_assert_int_eq(tc_read(p3, &d, NULL, &e), TC_OK);
    assert_same_kv(b, d);
    tc_assert_same_tensors(b, d, 1);
    tc_graph_free(a);
    tc_graph_free(b);
    tc_graph_free(c);
    tc_graph_free(d);
    tc_rm_rf(tmpdir);
}
END_TEST

/* Sharded output: transformers' names, greedy packing, an index the Python check accepts; the
 * set reads back (index file or directory) as the same graph. */
START_TEST(sharded_roundtrip)
{
    tc_make_tmpdir(tmpdir, sizeof tmpdir, "tc_st");
    char src[1024], out[512], p[600];
    fixture(src, sizeof src, "good/all_dtypes.safetensors");
    snprintf(out, sizeof out, "%s/model.safetensors", tmpdir);
    tc_err e = {0};
    tc_graph *a, *b, *c;
    tc_write_opts wo;
    const uint64_t max = 100;
    ck_assert_int_eq(tc_read(src, &a, NULL, &e), TC_OK);
    ck_assert_msg(write_st(a, out, max, &wo, &e) == TC_OK, "%s", e.msg);
    ck_assert_int_ge(wo.n_written, 3);
    size_t n_shards = wo.n_written - 1;
    snprintf(p, sizeof p, "%s/model.safetensors.index.json", tmpdir);
    ck_assert_str_eq(wo.written[0], p);
    ck_assert_int_eq(access(out, F_OK), -1); /* no unsharded file */
    ck_assert_int_eq(tc_dir_entries(tmpdir), (int)wo.n_written);
    /* packing: each shard fits (or holds one tensor), and no two neighbours could merge */
    uint64_t prev = 0;
    for (size_t s = 0; s < n_shards; s++) {
        snprintf(p, sizeof p, "%s/model-%05zu-of-%05zu.safetensors", tmpdir, s + 1, n_shards);
        ck_assert_str_eq(wo.written[s + 1], p);
        tc_graph *sg;
        ck_assert_msg(tc_read(p, &sg, NULL, &e) == TC_OK, "%s", e.msg);
        uint64_t bytes = 0;
        for (size_t i = 0; i < tc_graph_n_tensors(sg); i++)
            bytes += tc_tensor_nbytes(tc_graph_tensor(sg, i));
        ck_assert(bytes <= max || tc_graph_n_tensors(sg) == 1);
        if (s > 0)
            ck_assert_uint_gt(prev + tc_tensor_nbytes(tc_graph_tensor(sg, 0)), max);
        ck_assert_str_eq(tc_graph_get_str(sg, "format"), "pt");
        prev = bytes;
        tc_graph_free(sg);
    }
    ck_assert_int_eq(tc_read(wo.written[0], &b, NULL, &e), TC_OK);
    ck_assert_int_eq(tc_read(tmpdir, &c, NULL, &e), TC_OK);
    tc_assert_same_tensors(a, b, 1);
    tc_assert_same_tensors(a, c, 1);
    assert_same_kv(a, b);
    ck_assert_uint_eq(tc_graph_n_sources(b), n_shards);
    const char *py = tc_find_python("numpy");
    if (py)
        ck_assert_int_eq(py_check(py, wo.written[0], src), 0);
    /* a directory of shards without an index reads in file name order */
    unlink(wo.written[0]);
    tc_graph *d;
    ck_assert_int_eq(tc_read(tmpdir, &d, NULL, &e), TC_OK);
    tc_assert_same_tensors(a, d, 1);
    free_written(&wo);
    /* under the limit: one plain file */
    snprintf(out, sizeof out, "%s/one.safetensors", tmpdir);
    ck_assert_int_eq(write_st(a, out, 1u << 20, &wo, &e), TC_OK);
    ck_assert_uint_eq(wo.n_written, 1);
    ck_assert_str_eq(wo.written[0], out);
    free_written(&wo);
    tc_graph_free(a);
    tc_graph_free(b);
    tc_graph_free(c);
    tc_graph_free(d);
    tc_rm_rf(tmpdir);
}
END_TEST

static tc_status failing_read(void *ctx, const tc_tensor *t, uint64_t e0, uint64_t n, void *dst,
                              tc_err *e)
{
    (void)ctx;
    if (e0 > 0)
        return tc_err_set(e, TC_E_FORMAT, "injected failure in '%s'", tc_tensor_name(t));
    memset(dst, 0, (size_t)tc_row_size(tc_tensor_dtype(t), (int64_t)n));
    return TC_OK;
}

/* A graph of `n` f32 tensors of `elems` elements each (owned, deterministic bytes). */
static tc_graph *make_graph(int n, int64_t elems)
{
    tc_graph *g = tc_graph_new();
    tc_err e = {0};
    uint64_t seed = 1;
    for (int i = 0; i < n; i++) {
        char name[32];
        snprintf(name, sizeof name, "t%d", i);
        tc_tensor *t;
        ck_assert_int_eq(tc_graph_add_tensor(g, name, TC_DTYPE_F32, 1, &elems, &t, &e), TC_OK);
        float *d = tc_malloc((size_t)elems * 4);
        for (int64_t k = 0; k < elems; k++)
            d[k] = tc_rng_uniform(&seed);
        ck_assert_int_eq(tc_tensor_set_owned(t, d, (uint64_t)elems * 4, &e), TC_OK);
    }
    ck_assert_int_eq(tc_graph_set_str(g, "format", "pt", &e), TC_OK);
    return g;
}

/* Failures leave nothing under the target names: unsupported dtype, a tensor failing half-way
 * (single and sharded), a file size limit (EFBIG, like a full disk) on the last shard, a
 * missing directory, and every allocation failure. */
START_TEST(failures_leave_nothing)
{
    tc_make_tmpdir(tmpdir, sizeof tmpdir, "tc_st");
    tc_err e = {0};
    tc_write_opts wo;
    char out[512];
    snprintf(out, sizeof out, "%s/m.safetensors", tmpdir);

    /* a block type safetensors cannot hold */
    tc_graph *q = tc_graph_new();
    int64_t qs[2] = {2, 32};
    tc_tensor *t;
    ck_assert_int_eq(tc_graph_add_tensor(q, "blk.0.q", TC_DTYPE_Q4_0, 2, qs, &t, &e), TC_OK);
    ck_assert_int_eq(write_st(q, out, 0, &wo, &e), TC_E_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(e.msg, "blk.0.q"));
    ck_assert_int_eq(tc_dir_entries(tmpdir), 0);
    tc_graph_free(q);

    /* names and strings JSON cannot hold (not UTF-8): refused, naming the tensor or key */
    q = make_graph(1, 4);
    ck_assert_int_eq(tc_graph_add_tensor(q, "w\xff", TC_DTYPE_F32, 1, qs + 1, &t, &e), TC_OK);
    ck_assert_int_eq(tc_tensor_set_owned(t, tc_calloc(32, 4), 128, &e), TC_OK);
    tc_err_clear(&e);
    ck_assert_int_eq(write_st(q, out, 0, &wo, &e), TC_E_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(e.msg, "w\xff"));
    tc_graph_remove_tensor(q, t);
    tc_str badstr = {"\xc3(", 2};
    tc_value bv = {.type = TC_V_ARR, .arr = {TC_V_STR, 1, &badstr}};
    ck_assert_int_eq(tc_graph_set(q, "tokenizer.bad", &bv, &e), TC_OK);
    tc_err_clear(&e);
    ck_assert_int_eq(write_st(q, out, 0, &wo, &e), TC_E_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(e.msg, "tokenizer.bad"));
    ck_assert_int_eq(tc_dir_entries(tmpdir), 0);
    tc_graph_free(q);

    /* a lazy tensor failing after its first chunk; alone and as the last of several shards */
    for (int sharded = 0; sharded < 2; sharded++) {
        tc_graph *g = make_graph(3, 1000);
        int64_t big = 3 << 20;
        ck_assert_int_eq(tc_graph_add_tensor(g, "bad", TC_DTYPE_F32, 1, &big, &t, &e), TC_OK);
        ck_assert_int_eq(tc_tensor_set_lazy(t, failing_read, NULL, NULL, &e), TC_OK);
        tc_err_clear(&e);
        ck_assert_int_eq(write_st(g, out, sharded ? 5000 : 0, &wo, &e), TC_E_FORMAT);
        ck_assert_ptr_nonnull(strstr(e.msg, "injected"));
        ck_assert_uint_eq(wo.n_written, 0);
        ck_assert_int_eq(tc_dir_entries(tmpdir), 0);
        tc_graph_free(g);
    }

    /* no such directory */
    tc_graph *g = make_graph(2, 100);
    char nodir[600];
    snprintf(nodir, sizeof nodir, "%s/none/m.safetensors", tmpdir);
    tc_err_clear(&e);
    ck_assert_int_eq(write_st(g, nodir, 0, &wo, &e), TC_E_IO);
    ck_assert_ptr_nonnull(strstr(e.msg, "none/m"));
    tc_graph_free(g);

    /* every allocation failing in turn: an error or a complete file, never a partial one */
    g = make_graph(4, 300);
    int completed = 0;
    for (long n = 0; n < 2000 && !completed; n++) {
        tc_err_clear(&e);
        tc_alloc_fail_after(n);
        tc_status rc = write_st(g, out, 2500, &wo, &e);
        tc_alloc_fail_after(-1);
        if (rc == TC_OK) {
            completed = 1;
            ck_assert_int_eq(tc_dir_entries(tmpdir), 3);
        } else {
            ck_assert_msg(rc == TC_E_NOMEM, "alloc %ld: %s", n, e.msg);
            ck_assert_msg(tc_dir_entries(tmpdir) == 0, "alloc %ld left files", n);
        }
        free_written(&wo);
    }
    ck_assert(completed);
    tc_graph_free(g);
    tc_rm_rf(tmpdir);
}
END_TEST

/* File size limit (as a full disk): the shard over the limit fails after the others were
 * complete; nothing is renamed into place and no temporary file is left. Forked by Check. */
START_TEST(file_size_limit)
{
    tc_make_tmpdir(tmpdir, sizeof tmpdir, "tc_st");
    tc_graph *g = make_graph(4, 4096); /* 16 KiB each */
    tc_tensor *t;
    tc_err e = {0};
    int64_t n = 64 * 1024;
    ck_assert_int_eq(tc_graph_add_tensor(g, "big", TC_DTYPE_F32, 1, &n, &t, &e), TC_OK);
    float *d = tc_calloc((size_t)n, 4);
    ck_assert_int_eq(tc_tensor_set_owned(t, d, (uint64_t)n * 4, &e), TC_OK);
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit rl = {100 * 1024, 100 * 1024};
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
    char out[512];
    snprintf(out, sizeof out, "%s/m.safetensors", tmpdir);
    tc_write_opts wo;
    for (int sharded = 0; sharded < 2; sharded++) {
        tc_err_clear(&e);
        ck_assert_int_eq(write_st(g, out, sharded ? 40000 : 0, &wo, &e), TC_E_IO);
        ck_assert_msg(strstr(e.msg, sharded ? "m-00003-of-00003" : "m.safetensors") != NULL, "%s",
                      e.msg);
        ck_assert_int_eq(tc_dir_entries(tmpdir), 0);
    }
    tc_graph_free(g);
    tc_rm_rf(tmpdir);
}
END_TEST

static void count_progress(void *ctx, uint64_t done, uint64_t total)
{
    uint64_t *p = ctx;
    ck_assert_uint_ge(done, p[0]); /* never goes back */
    ck_assert_uint_le(done, total);
    p[0] = done;
    p[1] = total;
    p[2]++;
}

/* Progress covers the payload across shards; more shards than the temporary-file registry
 * holds (256) are all removed when the last fails; a directory with one non-standard index. */
START_TEST(many_shards_and_progress)
{
    tc_make_tmpdir(tmpdir, sizeof tmpdir, "tc_st");
    tc_graph *g = make_graph(300, 64);
    tc_err e = {0};
    char out[512];
    snprintf(out, sizeof out, "%s/m.safetensors", tmpdir);
    tc_write_opts wo;
    memset(&wo, 0, sizeof wo);
    uint64_t pr[3] = {0, 0, 0};
    wo.progress.fn = count_progress;
    wo.progress.ctx = pr;
    wo.max_shard_bytes = 1000; /* 3 tensors of 256 bytes per shard */
    ck_assert_msg(tc_write(g, out, "safetensors", &wo, &e) == TC_OK, "%s", e.msg);
    ck_assert_uint_eq(wo.n_written, 101);
    ck_assert_uint_eq(pr[0], 300 * 256);
    ck_assert_uint_eq(pr[1], 300 * 256);
    ck_assert_uint_ge(pr[2], 300);
    tc_graph *b;
    ck_assert_int_eq(tc_read(wo.written[0], &b, NULL, &e), TC_OK);
    tc_assert_same_tensors(g, b, 1);
    tc_graph_free(b);
    /* rename the index: a directory with a single *.safetensors.index.json uses it */
    char idx[600];
    snprintf(idx, sizeof idx, "%s/other.safetensors.index.json", tmpdir);
    ck_assert_int_eq(rename(wo.written[0], idx), 0);
    ck_assert_int_eq(tc_read(tmpdir, &b, NULL, &e), TC_OK);
    tc_assert_same_tensors(g, b, 1);
    tc_graph_free(b);
    free_written(&wo);
    tc_rm_rf(tmpdir);

    tc_make_tmpdir(tmpdir, sizeof tmpdir, "tc_st");
    snprintf(out, sizeof out, "%s/m.safetensors", tmpdir);
    int64_t big = 1 << 21;
    tc_tensor *t;
    ck_assert_int_eq(tc_graph_add_tensor(g, "last", TC_DTYPE_F32, 1, &big, &t, &e), TC_OK);
    ck_assert_int_eq(tc_tensor_set_lazy(t, failing_read, NULL, NULL, &e), TC_OK);
    ck_assert_int_eq(write_st(g, out, 300, &wo, &e), TC_E_FORMAT); /* 301 shards */
    ck_assert_ptr_nonnull(strstr(e.msg, "injected"));
    ck_assert_int_eq(tc_dir_entries(tmpdir), 0);
    free_written(&wo);
    tc_graph_free(g);
    tc_rm_rf(tmpdir);
}
END_TEST

Suite *safetensors_suite(void)
{
    Suite *s = suite_create("safetensors");
    TCase *tc = tcase_create("safetensors");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, values_match_numpy);
    tcase_add_test(tc, typed_metadata_read);
    tcase_add_test(tc, read_map_and_probe);
    tcase_add_test(tc, malformed_inputs);
    tcase_add_test(tc, roundtrip_file);
    tcase_add_test(tc, roundtrip_typed_metadata);
    tcase_add_test(tc, roundtrip_through_gguf);
    tcase_add_test(tc, sharded_roundtrip);
    tcase_add_test(tc, failures_leave_nothing);
    tcase_add_test(tc, file_size_limit);
    tcase_add_test(tc, many_shards_and_progress);
    suite_add_tcase(s, tc);
    return s;
}
