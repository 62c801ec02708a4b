/*
 * check_npy.c - the .npy/.npz reader against files written by real NumPy
 * (scripts/fixtures/npy_files.py, run at test time): every dtype, both byte orders, C and Fortran
 * order, format versions 1-3, scalars, empty arrays, np.savez and np.savez_compressed; the
 * expected bytes are NumPy's own C-order little-endian dump. Also: error codes and messages for
 * malformed headers, in-place mapping, CRC-32 of deflated members, mutation and OOM walks.
 */
#include "tc_impl.h"
#include "tc_test_util.h"

#include <dirent.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* ===== helpers shared with the oracle ===== */

static char tmpdir[256];

/* Check every row of a manifest (file, tensor, dtype, shape, ref): @return rows checked. */
static int check_manifest(const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "no %s", path);
    char line[2048], cur_file[512] = "";
    tc_graph *g = NULL;
    int rows = 0;
    while (fgets(line, sizeof line, f)) {
        char *save = NULL, *file = strtok_r(line, "\t\n", &save);
        char *tensor = strtok_r(NULL, "\t\n", &save), *dt = strtok_r(NULL, "\t\n", &save);
        char *shape = strtok_r(NULL, "\t\n", &save), *ref = strtok_r(NULL, "\t\n", &save);
        ck_assert_ptr_nonnull(ref);
        if (strcmp(file, cur_file) != 0) {
            tc_graph_free(g);
            g = NULL;
            char in[1024];
            snprintf(in, sizeof in, "%s/%s", tmpdir, file);
            tc_err e = {0};
            ck_assert_msg(tc_read(in, &g, NULL, &e) == TC_OK, "%s: %s", file, e.msg);
            ck_assert_int_eq(tc_graph_n_sources(g), 1);
            ck_assert_str_eq(tc_graph_source(g, 0, NULL), in);
            snprintf(cur_file, sizeof cur_file, "%s", file);
        }
        const tc_tensor *t = tc_graph_find(g, tensor);
        ck_assert_msg(t != NULL, "%s: no tensor '%s'", file, tensor);
        ck_assert_msg(tc_tensor_dtype(t) == tc_dtype_from_name(dt), "%s:%s dtype %d, want %s", file,
                      tensor, tc_tensor_dtype(t), dt);
        int nd = 0;
        int64_t want[TC_MAX_DIMS];
        if (strcmp(shape, "-") != 0)
            for (char *s2 = NULL, *d = strtok_r(shape, ",", &s2); d; d = strtok_r(NULL, ",", &s2))
                want[nd++] = strtoll(d, NULL, 10);
        ck_assert_msg(tc_tensor_n_dims(t) == nd, "%s:%s rank", file, tensor);
        for (int i = 0; i < nd; i++)
            ck_assert_int_eq(tc_tensor_shape(t)[i], want[i]);
        char rp[1024];
        snprintf(rp, sizeof rp, "%s/%s", tmpdir, ref);
        size_t rn = 0;
        uint8_t *rb = tc_slurp(rp, &rn);
        ck_assert_ptr_nonnull(rb);
        ck_assert_uint_eq(tc_tensor_nbytes(t), rn);
        uint8_t *got = malloc(rn + 1);
        tc_err e = {0};
        ck_assert_msg(tc_tensor_read(t, 0, tc_tensor_n_elements(t), got, &e) == TC_OK, "%s", e.msg);
        ck_assert_msg(rn == 0 || memcmp(got, rb, rn) == 0, "%s:%s bytes differ from NumPy's", file,
                      tensor);
        /* a row chunk from the middle reads the same bytes (lazy sources start mid-tensor) */
        uint64_t row = (uint64_t)tc_tensor_row_len(t), n_el = tc_tensor_n_elements(t);
        if (n_el > 2 * row && row > 0) {
            size_t isz = (size_t)tc_dtype_get(tc_tensor_dtype(t))->size;
            ck_assert_int_eq(tc_tensor_read(t, row, row + 1 < n_el - row ? row + 1 : row, got, &e),
                             TC_OK);
            ck_assert(memcmp(got, rb + row * isz, row * isz) == 0);
        }
        /* an unaligned range that starts mid-slice and ends before the last element */
        if (n_el > 4) {
            size_t isz = (size_t)tc_dtype_get(tc_tensor_dtype(t))->size;
            uint64_t a = n_el / 7 + 1, cnt = n_el - a - 1;
            memset(got, 0xAA, rn);
            ck_assert_int_eq(tc_tensor_read(t, a, cnt, got, &e), TC_OK);
            ck_assert_msg(memcmp(got, rb + a * isz, cnt * isz) == 0,
                          "%s:%s range [%" PRIu64 ", +%" PRIu64 ") differs", file, tensor, a, cnt);
        }
        free(got);
        free(rb);
        rows++;
    }
    fclose(f);
    tc_graph_free(g);
    return rows;
}

START_TEST(numpy_oracle)
{
    int rc = tc_npy_oracle_dir(tmpdir, sizeof tmpdir, "tc_npy");
    if (rc == 77)
        TC_SKIP("python3 with numpy is not installed");
    ck_assert_msg(rc == 0, "npy_files.py oracle failed (%d)", rc);
    int rows = check_manifest("manifest_npy.tsv");
    fprintf(stderr, "numpy_oracle: %d arrays compared with NumPy\n", rows);
    ck_assert_int_ge(rows, 50);
    tc_rm_rf(tmpdir);
}
END_TEST

/* ===== in-memory cases ===== */

/* A .npy v1 file with `hdr` (padded to 64) followed by `payload`. */
static size_t mk_npy(uint8_t *out, size_t cap, int version, const char *hdr, const void *payload,
                     size_t pn)
{
    size_t pre = version == 1 ? 10 : 12, hl = strlen(hdr);
    size_t tot = pre + hl + 1;
    size_t pad = (64 - tot % 64) % 64;
    size_t hlen = hl + pad + 1;
    ck_assert_uint_le(pre + hlen + pn, cap);
    memcpy(out, "\x93NUMPY", 6);
    out[6] = (uint8_t)version;
    out[7] = 0;
    if (version == 1)
        tc_put16(out + 8, (uint16_t)hlen);
    else
        tc_put32(out + 8, (uint32_t)hlen);
    memcpy(out + pre, hdr, hl);
    memset(out + pre + hl, ' ', pad);
    out[pre + hl + pad] = '\n';
    if (pn)
        memcpy(out + pre + hlen, payload, pn);
    return pre + hlen + pn;
}

static tc_status read_mem(const uint8_t *p, size_t n, const char *name, tc_graph **g, tc_err *e)
{
    tc_map *m;
    *g = tc_graph_new();
    ck_assert_int_eq(tc_map_memory(p, n, name, &m, e), TC_OK);
    tc_status rc = tc_format_npy.read_map(m, *g, NULL, e);
    tc_map_unref(m);
    return rc;
}

typedef struct bad_case {
    const char *hdr;
    size_t payload;
    tc_status code;
    const char *sub;
} bad_case;

static const bad_case bad_cases[] = {
    {"{'descr': '|O', 'fortran_order': False, 'shape': (2,), }", 16, TC_E_UNSAFE, "object"},
    {"{'descr': '|V2', 'fortran_order': False, 'shape': (2,), }", 4, TC_E_UNSUPPORTED, "bfloat16"},
    {"{'descr': '<c8', 'fortran_order': False, 'shape': (2,), }", 16, TC_E_UNSUPPORTED, "complex"},
    {"{'descr': '<U3', 'fortran_order': False, 'shape': (2,), }", 24, TC_E_UNSUPPORTED, "string"},
    {"{'descr': '=f4', 'fortran_order': False, 'shape': (2,), }", 8, TC_E_UNSUPPORTED, "native"},
    {"{'descr': '|f4', 'fortran_order': False, 'shape': (2,), }", 8, TC_E_FORMAT, "byte order"},
    {"{'descr': 'f4', 'fortran_order': False, 'shape': (2,), }", 8, TC_E_UNSUPPORTED, "byte order"},
    {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,2), }", 8, TC_E_LIMIT,
     "more than 8"},
    {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,(1,)), }", 8, TC_E_FORMAT, "nested"},
    {"{'descr': '<f4', 'fortran_order': False, 'shape': [2], }", 8, TC_E_FORMAT, "not a list"},
    {"{'descr': '<f4', 'fortran_order': false, 'shape': (2,), }", 8, TC_E_FORMAT, "True or False"},
    {"{'descr': '<f4', 'fortran_order': Falsey, 'shape': (2,), }", 8, TC_E_FORMAT, "True or"},
    {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}", 8, TC_E_FORMAT, "key"},
    {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,) 'x'}", 8, TC_E_FORMAT, "expected"},
    {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,), } x", 8, TC_E_FORMAT, "trailing"},
    {"{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }", 8, TC_E_FORMAT,
     "64 bits"},
    {"{'descr': '<f8', 'fortran_order': False, 'shape': (4611686018427387904,), }", 8, TC_E_FORMAT,
     "overflows"},
    {"{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", 8, TC_E_FORMAT, "truncated"},
    {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", 8, TC_E_FORMAT, "trailing"},
    {"{'descr': '<f4\\x', 'fortran_order': False, 'shape': (2,), }", 8, TC_E_FORMAT, "character"},
    {"{'descr': '<f4, 'fortran_order': False, 'shape': (2,), }", 8, TC_E_FORMAT, "expected"},
    {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,), ", 8, TC_E_FORMAT, "expected"},
    {"", 8, TC_E_FORMAT, "expected '{'"},
};

START_TEST(malformed_headers)
{
    static uint8_t buf[4096], zeros[64];
    const bad_case *c = &bad_cases[_i];
    size_t n = mk_npy(buf, sizeof buf, 1, c->hdr, zeros, c->payload);
    tc_graph *g;
    tc_err e = {0};
    tc_status rc = read_mem(buf, n, "bad.npy", &g, &e);
    ck_assert_msg(rc == c->code, "case %d: got %s (%s), want %s", _i, tc_status_name(rc), e.msg,
                  tc_status_name(c->code));
    ck_assert_msg(strstr(e.msg, c->sub) != NULL, "case %d: '%s' lacks '%s'", _i, e.msg, c->sub);
    ck_assert_msg(strstr(e.msg, "bad.npy") != NULL, "case %d: '%s' does not name the file", _i,
                  e.msg);
    ck_assert_uint_eq(tc_graph_n_tensors(g), 0);
    tc_graph_free(g);
}
END_TEST

/* Header length: over the cap (LIMIT) and past the end (FORMAT), both before any allocation. */
START_TEST(header_length_checks)
{
    uint8_t buf[64] = "\x93NUMPY\x02\x00";
    tc_put32(buf + 8, 0xFFFFFFF0u);
    tc_graph *g;
    tc_err e = {0};
    ck_assert_int_eq(read_mem(buf, sizeof buf, "h.npy", &g, &e), TC_E_LIMIT);
    ck_assert_ptr_nonnull(strstr(e.msg, "@0x8"));
    tc_graph_free(g);
    tc_put32(buf + 8, 100);
    tc_err_clear(&e);
    ck_assert_int_eq(read_mem(buf, sizeof buf, "h.npy", &g, &e), TC_E_FORMAT);
    ck_assert_ptr_nonnull(strstr(e.msg, "past the end"));
    tc_graph_free(g);
    tc_err_clear(&e);
    ck_assert_int_eq(read_mem(buf, 9, "h.npy", &g, &e), TC_E_FORMAT); /* short preamble */
    tc_graph_free(g);
}
END_TEST

/* Little-endian C order is mapped in place at the payload offset; big-endian and Fortran
 * arrays get lazy sources whose bytes are checked here by hand. */
START_TEST(mapping_and_lazy_sources)
{
    static uint8_t buf[1024];
    int16_t v[6] = {1, -2, 3, -4, 5, -6};
    size_t n = mk_npy(buf, sizeof buf, 2,
                      "{'descr': '<i2', 'fortran_order': False, 'shape': (2, "
                      "3), }",
                      v, sizeof v);
    tc_graph *g;
    tc_err e = {0};
    ck_assert_int_eq(read_mem(buf, n, "le.npy", &g, &e), TC_OK);
    const tc_tensor *t = tc_graph_find(g, "le");
    ck_assert_ptr_nonnull(t);
    const tc_map *m;
    uint64_t off;
    ck_assert(tc_tensor_mapped(t, &m, &off));
    ck_assert_uint_eq(off, n - sizeof v);
    ck_assert_str_eq(tc_graph_format(g), "npy");
    ck_assert_str_eq(tc_graph_format_version(g), "2.0");
    tc_graph_free(g);

    /* big-endian Fortran (2,3): column-major storage of [[1,2,3],[4,5,6]] is 1 4 2 5 3 6 */
    uint8_t be[12] = {0, 1, 0, 4, 0, 2, 0, 5, 0, 3, 0, 6};
    n = mk_npy(buf, sizeof buf, 1, "{'descr': '>i2', 'fortran_order': True, 'shape': (2, 3), }", be,
               sizeof be);
    ck_assert_int_eq(read_mem(buf, n, "x/be.npy", &g, &e), TC_OK);
    t = tc_graph_find(g, "be");
    ck_assert_ptr_nonnull(t);
    ck_assert(!tc_tensor_mapped(t, &m, &off));
    int16_t got[6];
    ck_assert_int_eq(tc_tensor_read(t, 0, 6, got, &e), TC_OK);
    for (int i = 0; i < 6; i++)
        ck_assert_int_eq(got[i], i + 1);
    ck_assert_int_eq(tc_tensor_read(t, 3, 3, got, &e), TC_OK);
    ck_assert_int_eq(got[0], 4);
    ck_assert_int_eq(got[2], 6);
    tc_graph_free(g);

    /* scalar and an empty array */
    double d = 2.5;
    n = mk_npy(buf, sizeof buf, 3, "{'descr': '<f8', 'fortran_order': False, 'shape': (), }", &d,
               8);
    ck_assert_int_eq(read_mem(buf, n, "s.npy", &g, &e), TC_OK);
    t = tc_graph_tensor(g, 0);
    ck_assert_int_eq(tc_tensor_n_dims(t), 0);
    ck_assert_uint_eq(tc_tensor_n_elements(t), 1);
    tc_graph_free(g);
    n = mk_npy(buf, sizeof buf, 1,
               "{\"descr\": \"|u1\", \"fortran_order\": True, \"shape\": (0, "
               "5L), }",
               NULL, 0);
    ck_assert_int_eq(read_mem(buf, n, "empty.npy", &g, &e), TC_OK);
    t = tc_graph_tensor(g, 0);
    ck_assert_int_eq(tc_tensor_shape(t)[1], 5);
    ck_assert_uint_eq(tc_tensor_nbytes(t), 0);
    tc_graph_free(g);
}
END_TEST

static void fixture_path(char *buf, size_t cap, const char *rel)
{
    snprintf(buf, cap, "%s/fixtures/%s", TC_SRC_DIR, rel);
}

/* Every fixtures/npy/bad case: tc_read fails with the status on line 1 of its .expect and a
 * message holding line 2 and naming the file. */
START_TEST(bad_fixtures)
{
    char dir[1024];
    fixture_path(dir, sizeof dir, "npy/bad");
    int checked = tc_check_bad_dir(dir, 1, NULL, NULL);
    ck_assert_int_ge(checked, 15);
}
END_TEST

/* A deflated member whose CRC-32 differs from the central directory's: the header reads (it is
 * inflated on its own), the data fails with TC_E_CHECKSUM when first read, and again after. */
START_TEST(npz_crc_checked)
{
    char p[1024];
    fixture_path(p, sizeof p, "npy/checksum/npz_bad_crc.npz");
    tc_graph *g = NULL;
    tc_err e = {0};
    ck_assert_int_eq(tc_read(p, &g, NULL, &e), TC_OK);
    const tc_tensor *t = tc_graph_find(g, "a");
    ck_assert_ptr_nonnull(t);
    float v[6];
    for (int k = 0; k < 2; k++) {
        tc_err_clear(&e);
        ck_assert_int_eq(tc_tensor_read(t, 0, 6, v, &e), TC_E_CHECKSUM);
        ck_assert_ptr_nonnull(strstr(e.msg, "a.npy"));
    }
    tc_graph_free(g);
}
END_TEST

/* Deflated members are only inflated when their data is read: with an unusable $TMPDIR the
 * graph still reads (shapes from the inflated header), the data read fails with an I/O error,
 * and succeeds once $TMPDIR works again. */
START_TEST(npz_deflated_lazy)
{
    char p[1024];
    fixture_path(p, sizeof p, "fuzz/npy/good_npz_deflated");
    setenv("TMPDIR", "/nonexistent/tensorcast-test", 1);
    tc_graph *g = NULL;
    tc_err e = {0};
    size_t n;
    uint8_t *b = tc_slurp(p, &n);
    ck_assert_ptr_nonnull(b);
    ck_assert_int_eq(read_mem(b, n, "d.npz", &g, &e), TC_OK);
    const tc_tensor *t = tc_graph_find(g, "f");
    ck_assert_ptr_nonnull(t);
    ck_assert_int_eq(tc_tensor_shape(t)[0], 2);
    ck_assert_int_eq(tc_tensor_shape(t)[1], 3);
    float v[6];
    ck_assert_int_eq(tc_tensor_read(t, 0, 6, v, &e), TC_E_IO);
    ck_assert_ptr_nonnull(strstr(e.msg, "/nonexistent/tensorcast-test"));
    setenv("TMPDIR", "/tmp", 1);
    tc_err_clear(&e);
    ck_assert_int_eq(tc_tensor_read(t, 0, 6, v, &e), TC_OK);
    for (int i = 0; i < 6; i++) /* np.asfortranarray(arange(6).reshape(2, 3)) in C order */
        ck_assert(v[i] == (float)i);
    tc_graph_free(g);
    free(b);
}
END_TEST

/* Stored npz members are mapped in place inside the zip. */
START_TEST(npz_stored_in_place)
{
    char p[1024];
    fixture_path(p, sizeof p, "fuzz/npy/good_npz");
    size_t n;
    uint8_t *b = tc_slurp(p, &n);
    ck_assert_ptr_nonnull(b);
    tc_graph *g;
    tc_err e = {0};
    ck_assert_int_eq(read_mem(b, n, "m.npz", &g, &e), TC_OK);
    ck_assert_str_eq(tc_graph_format(g), "npz");
    const tc_tensor *t = tc_graph_find(g, "w");
    ck_assert_ptr_nonnull(t);
    const tc_map *m;
    uint64_t off;
    ck_assert(tc_tensor_mapped(t, &m, &off));
    float w[6];
    memcpy(w, b + off, sizeof w);
    for (int i = 0; i < 6; i++)
        ck_assert(w[i] == (float)i);
    ck_assert_ptr_nonnull(tc_graph_find(g, "s"));
    tc_graph_free(g);
    free(b);
}
END_TEST

START_TEST(probe_bids)
{
    const uint8_t npy[16] = "\x93NUMPY\x01\x00";
    ck_assert_int_eq(tc_format_npy.probe(npy, sizeof npy, "x.bin"), 100);
    ck_assert_int_eq(tc_format_npy.probe((const uint8_t *)"PK\x03\x04", 4, "/nonexistent.npz"), 20);
    ck_assert_int_eq(tc_format_npy.probe((const uint8_t *)"PK\x03\x04", 4, "/nonexistent.zip"), 0);
    ck_assert_int_eq(tc_format_npy.probe((const uint8_t *)"GGUF", 4, "x.gguf"), 0);
    char p[1024];
    fixture_path(p, sizeof p, "npy/bad/npz_member_short.npz");
    ck_assert_int_eq(tc_format_npy.probe((const uint8_t *)"PK\x03\x04", 4, p), 100);
}
END_TEST

/* Every seed with ~1% of its bytes corrupted: a clean status each time, never a crash. */
START_TEST(mutation)
{
    char dir[1024];
    fixture_path(dir, sizeof dir, "fuzz/npy");
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    struct dirent *de;
    uint64_t seed = 42;
    int rounds = getenv("TC_TEST_QUICK") ? 100 : 400, files = 0, ok = 0;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        char p[1400];
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        size_t n;
        uint8_t *orig = tc_slurp(p, &n);
        ck_assert_ptr_nonnull(orig);
        uint8_t *b = malloc(n + 1);
        for (int r = 0; r < rounds && n > 0; r++) {
            memcpy(b, orig, n);
            size_t flips = n / 100 + 1;
            for (size_t k = 0; k < flips; k++)
                b[tc_rng_next(&seed) % n] = (uint8_t)tc_rng_next(&seed);
            tc_graph *g;
            tc_err e = {0};
            tc_status rc = read_mem(b, n, "mut.npy", &g, &e);
            if (rc == TC_OK) {
                ok++;
                for (size_t i = 0; i < tc_graph_n_tensors(g); i++) {
                    const tc_tensor *t = tc_graph_tensor(g, i);
                    uint64_t nb = tc_tensor_nbytes(t);
                    if (nb == 0 || nb > (1u << 20))
                        continue;
                    void *o = malloc((size_t)nb);
                    /* deflated members are inflated (and checked) on first read */
                    tc_err_clear(&e);
                    tc_status r2 = tc_tensor_read(t, 0, tc_tensor_n_elements(t), o, &e);
                    ck_assert_msg(r2 == TC_OK || e.msg[0], "read status %d without a message", r2);
                    free(o);
                }
            } else {
                ck_assert_msg(e.msg[0] != 0, "status %d without a message", rc);
            }
            tc_graph_free(g);
        }
        free(b);
        free(orig);
        files++;
    }
    closedir(d);
    ck_assert_int_gt(files, 10);
    fprintf(stderr, "mutation: %d seeds x %d rounds, %d reads succeeded\n", files, rounds, ok);
}
END_TEST

/* Fail the nth allocation for every n: TC_E_NOMEM or success, never a crash (leaks show under
 * ASan). */
START_TEST(oom_walk)
{
    static const char *const seeds[] = {"good_be_F", "good_npz", "good_npz_deflated"};
    for (size_t s = 0; s < sizeof seeds / sizeof seeds[0]; s++) {
        char p[1024], rel[128];
        snprintf(rel, sizeof rel, "fuzz/npy/%s", seeds[s]);
        fixture_path(p, sizeof p, rel);
        size_t n;
        uint8_t *b = tc_slurp(p, &n);
        ck_assert_ptr_nonnull(b);
        for (long k = 0; k < 10000; k++) {
            tc_graph *g = tc_graph_new();
            ck_assert_ptr_nonnull(g);
            tc_map *m;
            tc_err e = {0};
            ck_assert_int_eq(tc_map_memory(b, n, "oom.npz", &m, &e), TC_OK);
            tc_alloc_fail_after(k);
            tc_status rc = tc_format_npy.read_map(m, g, NULL, &e);
            long used = tc_alloc_fail_after(-1);
            tc_map_unref(m);
            tc_graph_free(g);
            ck_assert_msg(rc == TC_OK || rc == TC_E_NOMEM, "%s: fail at %ld: %s", seeds[s], k,
                          e.msg);
            if (rc == TC_OK && used <= k)
                break;
        }
        free(b);
    }
}
END_TEST

Suite *npy_suite(void)
{
    Suite *s = suite_create("npy");
    TCase *tc = tcase_create("npy");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, numpy_oracle);
    tcase_add_loop_test(tc, malformed_headers, 0, (int)(sizeof bad_cases / sizeof bad_cases[0]));
    tcase_add_test(tc, header_length_checks);
    tcase_add_test(tc, mapping_and_lazy_sources);
    tcase_add_test(tc, bad_fixtures);
    tcase_add_test(tc, npz_crc_checked);
    tcase_add_test(tc, npz_stored_in_place);
    tcase_add_test(tc, npz_deflated_lazy);
    tcase_add_test(tc, probe_bids);
    tcase_add_test(tc, mutation);
    tcase_add_test(tc, oom_walk);
    suite_add_tcase(s, tc);
    return s;
}
