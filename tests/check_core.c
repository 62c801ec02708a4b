/* check_core.c - the graph, metadata values, lazy conversions, output files and the payload
 * streamer (thread-count independence, no partial files on errors). */
#include "tc_impl.h"
#include "tc_test_util.h"
#include "fp16.h"

#include <dirent.h>
#include <math.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmpdir[256];

START_TEST(tensor_checks)
{
    tc_graph *g = tc_graph_new();
    tc_err e = {0};
    tc_tensor *t;
    int64_t shape[2] = {3, 64};
    ck_assert_int_eq(tc_graph_add_tensor(g, "a", TC_DTYPE_F32, 2, shape, &t, &e), TC_OK);
    ck_assert_uint_eq(tc_tensor_nbytes(t), 3 * 64 * 4);
    ck_assert_uint_eq(tc_tensor_n_rows(t), 3);
    tc_err_clear(&e);
    ck_assert_int_eq(tc_graph_add_tensor(g, "a", TC_DTYPE_F32, 2, shape, &t, &e), TC_E_FORMAT);
    ck_assert_ptr_nonnull(strstr(e.msg, "duplicate"));
    tc_err_clear(&e);
    int64_t bad[2] = {3, 33};
    ck_assert_int_eq(tc_graph_add_tensor(g, "q", TC_DTYPE_Q4_0, 2, bad, &t, &e), TC_E_FORMAT);
    ck_assert_ptr_nonnull(strstr(e.msg, "block"));
    tc_err_clear(&e);
    int64_t huge[3] = {INT64_MAX / 2, 4, 4};
    ck_assert_int_eq(tc_graph_add_tensor(g, "h", TC_DTYPE_F32, 3, huge, &t, &e), TC_E_FORMAT);
    ck_assert_ptr_nonnull(strstr(e.msg, "overflow"));
    tc_err_clear(&e);
    int64_t neg[1] = {-1};
    ck_assert_int_eq(tc_graph_add_tensor(g, "n", TC_DTYPE_F32, 1, neg, &t, &e), TC_E_FORMAT);
    tc_err_clear(&e);
    int64_t nine[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    ck_assert_int_eq(tc_graph_add_tensor(g, "x", TC_DTYPE_F32, 9, nine, &t, &e), TC_E_LIMIT);
    tc_err_clear(&e);
    ck_assert_int_eq(tc_graph_add_tensor(g, "u", 5, 1, shape, &t, &e), TC_E_UNSUPPORTED);
    /* many tensors: the name index grows and finds them all */
    char name[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(name, sizeof name, "blk.%d.w", i);
        ck_assert_int_eq(tc_graph_add_tensor(g, name, TC_DTYPE_F16, 1, shape + 1, &t, &e), TC_OK);
    }
    ck_assert_ptr_nonnull(tc_graph_find(g, "blk.4321.w"));
    ck_assert_int_eq(tc_graph_rename_tensor(g, tc_graph_find(g, "blk.7.w"), "renamed", &e), TC_OK);
    ck_assert_ptr_null(tc_graph_find(g, "blk.7.w"));
    ck_assert_ptr_nonnull(tc_graph_find(g, "renamed"));
    tc_graph_remove_tensor(g, tc_graph_find(g, "renamed"));
    ck_assert_ptr_null(tc_graph_find(g, "renamed"));
    ck_assert_uint_eq(tc_graph_n_tensors(g), 5000);
    tc_graph_free(g);
}
END_TEST

START_TEST(metadata_values)
{
    tc_graph *g = tc_graph_new();
    tc_err e = {0};
    int32_t ints[3] = {1, -2, 3};
    tc_str strs[2] = {{"alpha", 5}, {"b\0c", 3}};
    tc_value inner[2] = {{.type = TC_V_ARR, .arr = {TC_V_I32, 3, ints}},
                         {.type = TC_V_ARR, .arr = {TC_V_STR, 2, strs}}};
    tc_value nested = {.type = TC_V_ARR, .arr = {TC_V_ARR, 2, inner}};
    ck_assert_int_eq(tc_graph_set(g, "x.nested", &nested, &e), TC_OK);
    ck_assert_int_eq(tc_graph_set_str(g, "general.name", "tiny", &e), TC_OK);
    ck_assert_int_eq(tc_graph_set_u32(g, "x.count", 7, &e), TC_OK);
    ints[0] = 99; /* deep copy: the graph must not see this */
    const tc_value *v = tc_graph_get(g, "x.nested");
    ck_assert_ptr_nonnull(v);
    const tc_value *in0 = v->arr.data;
    ck_assert_int_eq(((const int32_t *)in0[0].arr.data)[0], 1);
    const tc_str *s = ((const tc_value *)v->arr.data)[1].arr.data;
    ck_assert_uint_eq(s[1].len, 3);
    ck_assert_int_eq(memcmp(s[1].p, "b\0c", 3), 0);
    ck_assert_str_eq(tc_graph_get_str(g, "general.name"), "tiny");
    ck_assert_int_eq(tc_graph_set_u32(g, "general.name", 3, &e), TC_OK); /* replace in place */
    ck_assert_str_eq(tc_graph_kv_key(g, 1), "general.name");
    ck_assert_ptr_null(tc_graph_get_str(g, "general.name"));
    ck_assert_int_eq(tc_graph_del(g, "x.nested"), 1);
    ck_assert_uint_eq(tc_graph_n_kv(g), 2);
    ck_assert_ptr_null(tc_graph_get(g, "x.nested"));
    ck_assert_ptr_nonnull(tc_graph_get(g, "x.count"));
    /* too deep */
    tc_value chain[12];
    for (int i = 0; i < 12; i++)
        chain[i] =
            (tc_value){.type = TC_V_ARR, .arr = {TC_V_ARR, i ? 1 : 0, i ? &chain[i - 1] : 0}};
    ck_assert_int_eq(tc_graph_set(g, "deep", &chain[11], &e), TC_E_LIMIT);
    /* licence lives in the standard keys */
    tc_err_clear(&e);
    ck_assert_int_eq(tc_graph_set_license(g, "mit", NULL, "https://x", "test", &e), TC_OK);
    tc_license l;
    tc_graph_license(g, &l);
    ck_assert_str_eq(l.id, "mit");
    ck_assert_ptr_null(l.name);
    ck_assert_str_eq(tc_graph_get_str(g, "general.license.link"), "https://x");
    ck_assert_str_eq(l.source, "test");
    ck_assert_int_eq(tc_graph_set_license(g, "", NULL, NULL, NULL, &e), TC_OK);
    tc_graph_license(g, &l);
    ck_assert_ptr_null(l.id);
    tc_graph_free(g);
}
END_TEST

/* f32 -> f16/bf16 lazy conversion gives the per-element reference conversion. */
START_TEST(lazy_convert)
{
    tc_graph *g = tc_graph_new();
    tc_err e = {0};
    tc_tensor *t;
    int64_t shape[2] = {7, 300};
    ck_assert_int_eq(tc_graph_add_tensor(g, "w", TC_DTYPE_F32, 2, shape, &t, &e), TC_OK);
    float *f = tc_malloc(2100 * sizeof(float));
    uint64_t s = 5;
    for (int i = 0; i < 2100; i++)
        f[i] = (tc_rng_uniform(&s) - 0.5f) * powf(2.0f, (float)(i % 40) - 20);
    f[3] = NAN;
    f[4] = INFINITY;
    f[5] = -INFINITY;
    f[6] = 70000.0f;
    float copy[2100];
    memcpy(copy, f, sizeof copy);
    ck_assert_int_eq(tc_tensor_set_owned(t, f, 2100 * 4, &e), TC_OK);
    ck_assert_int_eq(tc_tensor_convert(t, TC_DTYPE_F16, NULL, &e), TC_OK);
    ck_assert_uint_eq(tc_tensor_nbytes(t), 4200);
    uint16_t h[2100];
    ck_assert_int_eq(tc_tensor_read(t, 0, 2100, h, &e), TC_OK);
    for (int i = 0; i < 2100; i++)
        ck_assert_uint_eq(h[i], tc_f32_to_f16(copy[i]));
    ck_assert_uint_eq(h[4], 0x7c00);
    ck_assert_uint_eq(h[6], 0x7c00);
    ck_assert((h[3] & 0x7c00) == 0x7c00 && (h[3] & 0x3ff) != 0);
    /* chain: f16 -> bf16 (through f32, exact) */
    ck_assert_int_eq(tc_tensor_convert(t, TC_DTYPE_BF16, NULL, &e), TC_OK);
    uint16_t b[2100];
    ck_assert_int_eq(tc_tensor_read(t, 100, 2000, b + 100, &e), TC_OK);
    for (int i = 100; i < 2100; i++)
        ck_assert_uint_eq(b[i], tc_f32_to_bf16(tc_f16_to_f32(tc_f32_to_f16(copy[i]))));
    /* bad range */
    tc_err_clear(&e);
    ck_assert_int_eq(tc_tensor_read(t, 2000, 200, b, &e), TC_E_USAGE);
    tc_err_clear(&e);
    ck_assert_int_eq(tc_tensor_convert(t, TC_DTYPE_U8, NULL, &e), TC_E_UNSUPPORTED);
    tc_graph_free(g);
}
END_TEST

/* A lazy source that fills element i with i (as u32 bytes) to check stream order. */
static tc_status iota_read(void *ctx, const tc_tensor *t, uint64_t e0, uint64_t n, void *dst,
                           tc_err *e)
{
    (void)ctx;
    (void)t;
    (void)e;
    uint32_t *d = dst;
    for (uint64_t i = 0; i < n; i++)
        d[i] = (uint32_t)(e0 + i) * 2654435761u;
    return TC_OK;
}

static tc_status fail_read(void *ctx, const tc_tensor *t, uint64_t e0, uint64_t n, void *dst,
                           tc_err *e)
{
    (void)ctx;
    (void)dst;
    (void)n;
    if (e0 >= (3u << 20))
        return tc_err_set(e, TC_E_FORMAT, "tensor '%s': injected failure", tc_tensor_name(t));
    return TC_OK;
}

START_TEST(stream_threads_identical)
{
    tc_make_tmpdir(tmpdir, sizeof tmpdir, "tc_core");
    int64_t shape[1] = {5000001}; /* several chunks and a ragged tail */
    uint8_t *want = NULL;
    for (int threads = 1; threads <= 4; threads++) {
        tc_graph *g = tc_graph_new();
        tc_err e = {0};
        tc_tensor *t;
        ck_assert_int_eq(tc_graph_add_tensor(g, "iota", TC_DTYPE_I32, 1, shape, &t, &e), TC_OK);
        ck_assert_int_eq(tc_tensor_set_lazy(t, iota_read, NULL, NULL, &e), TC_OK);
        char path[512];
        snprintf(path, sizeof path, "%s/out%d.bin", tmpdir, threads);
        tc_out *o;
        ck_assert_int_eq(tc_out_open(path, 0, &o, &e), TC_OK);
        tc_write_opts wo = {.threads = threads};
        uint64_t done = 0;
        ck_assert_int_eq(tc_out_write_tensor(o, t, &wo, &done, tc_tensor_nbytes(t), &e), TC_OK);
        ck_assert_uint_eq(done, tc_tensor_nbytes(t));
        ck_assert_int_eq(tc_out_commit(o, &e), TC_OK);
        tc_map *m;
        ck_assert_int_eq(tc_map_open(path, &m, &e), TC_OK);
        ck_assert_uint_eq(tc_map_size(m), 5000001u * 4);
        const uint32_t *d = (const uint32_t *)tc_map_data(m);
        for (uint32_t i = 0; i < 5000001u; i += 997)
            ck_assert_uint_eq(d[i], i * 2654435761u);
        if (want == NULL) {
            want = malloc(tc_map_size(m));
            memcpy(want, d, tc_map_size(m));
        } else {
            ck_assert_int_eq(memcmp(want, d, tc_map_size(m)), 0);
        }
        tc_map_unref(m);
        unlink(path);
        tc_graph_free(g);
    }
    free(want);
    ck_assert_int_eq(tc_dir_entries(tmpdir), 0);
    rmdir(tmpdir);
}
END_TEST

/* One sequence of appends, copies and patches (across block boundaries, in what reached the
 * disk and in what is still buffered) gives the same file whichever way it is written: O_DIRECT
 * where the file system takes it (the default for a durable output), buffered
 * (TC_NO_DIRECT_IO), page cache only (no_sync). */
static void out_script(const char *path, int no_sync, uint8_t *img, uint64_t *size)
{
    tc_err e = {0};
    enum { SRC = (3 << 20) + 777 };
    static uint8_t src[SRC];
    for (size_t i = 0; i < SRC; i++)
        src[i] = (uint8_t)(i * 31 + (i >> 11));
    tc_map *m;
    ck_assert_int_eq(tc_map_memory(src, SRC, "src", &m, &e), TC_OK);
    tc_out *o;
    ck_assert_int_eq(tc_out_open(path, no_sync, &o, &e), TC_OK);
    uint64_t pos = 0;
#define APPEND(p, n)                                                                               \
    do {                                                                                           \
        ck_assert_int_eq(tc_out_write(o, (p), (n), &e), TC_OK);                                    \
        memcpy(img + pos, (p), (n));                                                               \
        pos += (n);                                                                                \
    } while (0)
    APPEND(src, 1);
    APPEND(src + 5, 4095);
    APPEND(src + 100, (2u << 20) + 17);
    ck_assert_int_eq(tc_out_zeros(o, 5000, &e), TC_OK);
    memset(img + pos, 0, 5000);
    pos += 5000;
    ck_assert_int_eq(tc_out_copy(o, m, 3, SRC - 3, &e), TC_OK);
    memcpy(img + pos, src + 3, SRC - 3);
    pos += SRC - 3;
    APPEND(src + 9, 333);
#undef APPEND
    ck_assert_uint_eq(tc_out_tell(o), pos);
    /* patches: the first bytes, across a block boundary, over three blocks, across the 1 MiB
     * buffer boundaries, at the very end (still buffered) */
    static const uint64_t at[][2] = {
        {0, 10}, {4090, 20}, {8000, 9000}, {(1u << 20) - 7, 30}, {(2u << 20) - 4000, 12000},
        {0, 0}};
    uint8_t patch[12000];
    for (size_t i = 0; i < sizeof patch; i++)
        patch[i] = (uint8_t)(0xA5 ^ i);
    for (int k = 0; at[k][1]; k++) {
        ck_assert_int_eq(tc_out_pwrite(o, at[k][0], patch, (size_t)at[k][1], &e), TC_OK);
        memcpy(img + at[k][0], patch, (size_t)at[k][1]);
    }
    ck_assert_int_eq(tc_out_pwrite(o, pos - 50, patch, 50, &e), TC_OK);
    memcpy(img + pos - 50, patch, 50);
    ck_assert_int_eq(tc_out_pwrite(o, pos - 10, patch, 11, &e), TC_E_USAGE);
    ck_assert_int_eq(tc_out_commit(o, &e), TC_OK);
    tc_map_unref(m);
    *size = pos;
}

START_TEST(direct_and_buffered_same)
{
    tc_make_tmpdir(tmpdir, sizeof tmpdir, "tc_core");
    const size_t cap = 8u << 20;
    uint8_t *img = malloc(cap);
    ck_assert_ptr_nonnull(img);
    for (int mode = 0; mode < 3; mode++) {
        char path[512];
        snprintf(path, sizeof path, "%s/o%d.bin", tmpdir, mode);
        if (mode == 1)
            setenv("TC_NO_DIRECT_IO", "1", 1);
        uint64_t size = 0;
        memset(img, 0, cap);
        out_script(path, mode == 2, img, &size);
        unsetenv("TC_NO_DIRECT_IO");
        tc_err e = {0};
        tc_map *m;
        ck_assert_int_eq(tc_map_open(path, &m, &e), TC_OK);
        ck_assert_uint_eq(tc_map_size(m), size);
        ck_assert_msg(memcmp(tc_map_data(m), img, (size_t)size) == 0, "mode %d: bytes differ",
                      mode);
        tc_map_unref(m);
        unlink(path);
    }
    free(img);
    ck_assert_int_eq(tc_dir_entries(tmpdir), 0);
    rmdir(tmpdir);
}
END_TEST

/* An error in the middle of a stream leaves nothing under the target name, and no temp file. */
START_TEST(stream_error_no_partial)
{
    tc_make_tmpdir(tmpdir, sizeof tmpdir, "tc_core");
    for (int threads = 1; threads <= 3; threads += 2) {
        tc_graph *g = tc_graph_new();
        tc_err e = {0};
        tc_tensor *t;
        int64_t shape[1] = {8u << 20};
        ck_assert_int_eq(tc_graph_add_tensor(g, "x", TC_DTYPE_F32, 1, shape, &t, &e), TC_OK);
        ck_assert_int_eq(tc_tensor_set_lazy(t, fail_read, NULL, NULL, &e), TC_OK);
        char path[512];
        snprintf(path, sizeof path, "%s/out.bin", tmpdir);
        tc_out *o;
        ck_assert_int_eq(tc_out_open(path, 0, &o, &e), TC_OK);
        tc_write_opts wo = {.threads = threads};
        ck_assert_int_eq(tc_out_write_tensor(o, t, &wo, NULL, 0, &e), TC_E_FORMAT);
        ck_assert_ptr_nonnull(strstr(e.msg, "injected"));
        tc_out_abort(o);
        ck_assert_int_eq(access(path, F_OK), -1);
        ck_assert_int_eq(tc_dir_entries(tmpdir), 0);
        tc_graph_free(g);
    }
    rmdir(tmpdir);
}
END_TEST

/* A write error (file size limit: EFBIG, as ENOSPC would be) is reported, nothing is left. */
START_TEST(write_error_no_partial)
{
    tc_make_tmpdir(tmpdir, sizeof tmpdir, "tc_core");
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit rl = {1 << 20, 1 << 20};
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
    tc_err e = {0};
    char path[512];
    snprintf(path, sizeof path, "%s/big.bin", tmpdir);
    tc_out *o;
    ck_assert_int_eq(tc_out_open(path, 0, &o, &e), TC_OK);
    tc_status rc = tc_out_zeros(o, 3u << 20, &e);
    if (rc == TC_OK)
        rc = tc_out_commit(o, &e);
    else
        tc_out_abort(o);
    ck_assert_int_eq(rc, TC_E_IO);
    ck_assert_ptr_nonnull(strstr(e.msg, "big.bin"));
    ck_assert_int_eq(access(path, F_OK), -1);
    ck_assert_int_eq(tc_dir_entries(tmpdir), 0);
    rmdir(tmpdir);
}
END_TEST

/* Out-of-memory walk over graph building: every failure is TC_E_NOMEM and nothing crashes. */
START_TEST(oom_walk)
{
    int hit_end = 0;
    for (long n = 0; n < 400 && !hit_end; n++) {
        tc_alloc_fail_after(n);
        tc_err e = {0};
        tc_graph *g = tc_graph_new();
        tc_status rc = g ? TC_OK : TC_E_NOMEM;
        int64_t shape[2] = {4, 32};
        char name[16];
        for (int i = 0; i < 40 && rc == TC_OK; i++) {
            tc_tensor *t;
            snprintf(name, sizeof name, "t%d", i);
            rc = tc_graph_add_tensor(g, name, TC_DTYPE_F16, 2, shape, &t, &e);
            if (rc == TC_OK)
                rc = tc_graph_set_str(g, name, "value", &e);
        }
        if (rc == TC_OK)
            rc = tc_graph_set_license(g, "mit", "MIT", NULL, "x", &e);
        long used = tc_alloc_fail_after(-1);
        ck_assert(rc == TC_OK || rc == TC_E_NOMEM);
        if (rc == TC_OK && used <= n)
            hit_end = 1;
        tc_graph_free(g);
    }
    ck_assert(hit_end);
}
END_TEST

START_TEST(paths_and_utf8)
{
    ck_assert(tc_utf8_valid("h\xc3\xa9llo", 6));
    ck_assert(!tc_utf8_valid("\xc3", 1));
    ck_assert(!tc_utf8_valid("\xc0\xaf", 2));         /* overlong */
    ck_assert(!tc_utf8_valid("\xed\xa0\x80", 3));     /* surrogate */
    ck_assert(!tc_utf8_valid("\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
    char *d = tc_path_dir("a/b/c.gguf");
    ck_assert_str_eq(d, "a/b");
    tc_free(d);
    d = tc_path_dir("c.gguf");
    ck_assert_str_eq(d, ".");
    tc_free(d);
    ck_assert_str_eq(tc_path_base("a/b/c.gguf"), "c.gguf");
}
END_TEST

Suite *core_suite(void)
{
    Suite *s = suite_create("core");
    TCase *tc = tcase_create("graph");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, tensor_checks);
    tcase_add_test(tc, metadata_values);
    tcase_add_test(tc, lazy_convert);
    tcase_add_test(tc, stream_threads_identical);
    tcase_add_test(tc, stream_error_no_partial);
    tcase_add_test(tc, direct_and_buffered_same);
    tcase_add_test(tc, write_error_no_partial);
    tcase_add_test(tc, oom_walk);
    tcase_add_test(tc, paths_and_utf8);
    suite_add_tcase(s, tc);
    return s;
}
