/*
 * check_archive.c - model files inside archives. scripts/fixtures/npy_files.py (run at test time,
 * needs NumPy) writes tar/tar.gz/tar.xz/tar.zst/zip archives holding a .npy, an .npz and a model
 * directory (a safetensors file written from the spec by the script, config.json, README.md with
 * a licence); each tensor's bytes are compared with NumPy's own dump. Also: plain tar members are
 * mapped in place, no temporary file outlives a read, malformed/unsafe archives fail cleanly.
 */
#include "tc_impl.h"
#include "tc_test_util.h"

#include <dirent.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char tmpdir[256], scratch[256];

/* A private $TMPDIR for the library, to check it is left empty. */
static void private_tmp(void)
{
    tc_make_tmpdir(scratch, sizeof scratch, "tc_arc_tmp");
    setenv("TMPDIR", scratch, 1);
}

static int check_file_rows(FILE *f)
{
    char line[2048], cur[512] = "";
    tc_graph *g = NULL;
    int rows = 0;
    while (fgets(line, sizeof line, f)) {
        char *save = NULL, *file = strtok_r(line, "\t\n", &save);
        char *tensor = strtok_r(NULL, "\t\n", &save), *dt = strtok_r(NULL, "\t\n", &save);
        char *shape = strtok_r(NULL, "\t\n", &save), *ref = strtok_r(NULL, "\t\n", &save);
        ck_assert_ptr_nonnull(ref);
        char in[1024];
        snprintf(in, sizeof in, "%s/%s", tmpdir, file);
        if (strcmp(file, cur) != 0) {
            tc_graph_free(g);
            tc_err e = {0};
            ck_assert_msg(tc_read(in, &g, NULL, &e) == TC_OK, "%s: %s", file, e.msg);
            /* the graph's one source is the archive itself, and nothing is left in $TMPDIR */
            ck_assert_int_eq(tc_graph_n_sources(g), 1);
            ck_assert_str_eq(tc_graph_source(g, 0, NULL), in);
            ck_assert_msg(tc_dir_entries(scratch) == 0, "%s: temporary files left behind", file);
            snprintf(cur, sizeof cur, "%s", file);
            const tc_tensor *t0 = tc_graph_tensor(g, 0);
            const tc_map *m;
            uint64_t off;
            if (strcmp(file, "npy.tar") == 0 || strcmp(file, "npy0.zip") == 0) {
                /* plain tar or stored zip, one model file: mapped in place, no copy */
                ck_assert_msg(tc_tensor_mapped(t0, &m, &off), "%s: not mapped", file);
                ck_assert_str_eq(tc_map_path(m), in);
            }
            if (strncmp(file, "dir", 3) == 0) {
                ck_assert_str_eq(tc_graph_format(g), "safetensors");
                tc_license lic;
                tc_graph_license(g, &lic);
                ck_assert_msg(lic.id && strcmp(lic.id, "mit") == 0, "%s: licence %s", file,
                              lic.id ? lic.id : "(none)");
            }
        }
        const tc_tensor *t = tc_graph_find(g, tensor);
        ck_assert_msg(t != NULL, "%s: no tensor '%s'", file, tensor);
        ck_assert_int_eq(tc_tensor_dtype(t), tc_dtype_from_name(dt));
        int nd = 0;
        for (char *s2 = NULL, *d = strtok_r(shape, ",", &s2); d; d = strtok_r(NULL, ",", &s2))
            ck_assert_int_eq(tc_tensor_shape(t)[nd++], strtoll(d, NULL, 10));
        ck_assert_int_eq(tc_tensor_n_dims(t), nd);
        char rp[1024];
        snprintf(rp, sizeof rp, "%s/%s", tmpdir, ref);
        size_t rn = 0;
        uint8_t *rb = tc_slurp(rp, &rn);
        ck_assert_ptr_nonnull(rb);
        ck_assert_uint_eq(tc_tensor_nbytes(t), rn);
        uint8_t *got = malloc(rn + 1);
        tc_err e = {0};
        ck_assert_msg(tc_tensor_read(t, 0, tc_tensor_n_elements(t), got, &e) == TC_OK, "%s", e.msg);
        ck_assert_msg(memcmp(got, rb, rn) == 0, "%s:%s bytes differ from NumPy's", file, tensor);
        free(got);
        free(rb);
        rows++;
    }
    tc_graph_free(g);
    return rows;
}

START_TEST(archive_oracle)
{
    int rc = tc_npy_oracle_dir(tmpdir, sizeof tmpdir, "tc_arc");
    if (rc == 77)
        TC_SKIP("python3 with numpy is not installed");
    ck_assert_msg(rc == 0, "npy_files.py oracle failed (%d)", rc);
    char p[512];
    snprintf(p, sizeof p, "%s/skipped.txt", tmpdir);
    size_t n = 0;
    char *sk = (char *)tc_slurp(p, &n);
    if (sk && n > 0)
        fprintf(stderr, "SKIP archive_oracle (part): %.*s", (int)n, sk);
    free(sk);
    private_tmp();
    snprintf(p, sizeof p, "%s/manifest_archive.tsv", tmpdir);
    FILE *f = fopen(p, "r");
    ck_assert_ptr_nonnull(f);
    int rows = check_file_rows(f);
    fclose(f);
    fprintf(stderr, "archive_oracle: %d tensors compared with NumPy\n", rows);
    ck_assert_int_ge(rows, 15);
    ck_assert_int_eq(tc_dir_entries(scratch), 0);
    tc_rm_rf(scratch);
    tc_rm_rf(tmpdir);
}
END_TEST

/* An archive that fails leaves nothing in the private $TMPDIR. */
static void no_temporaries_left(const char *input, const char *name, tc_status rc, const tc_err *e,
                                void *ctx)
{
    (void)input;
    (void)e;
    (void)ctx;
    ck_assert_msg(rc == TC_E_FORMAT || rc == TC_E_UNSAFE || rc == TC_E_LIMIT ||
                      rc == TC_E_UNSUPPORTED,
                  "%s: %s", name, tc_status_name(rc));
    ck_assert_msg(tc_dir_entries(scratch) == 0, "%s: temporary files left behind", name);
}

/* Every fixtures/archive/bad case fails with a clean status naming the archive and the expected
 * reason; unsafe paths are TC_E_UNSAFE; nothing is written outside the private $TMPDIR and
 * nothing is left in it. */
START_TEST(bad_archives)
{
    private_tmp();
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/fixtures/archive/bad", TC_SRC_DIR);
    int checked = tc_check_bad_dir(dir, 1, no_temporaries_left, NULL);
    ck_assert_int_ge(checked, 8);
    tc_rm_rf(scratch);
}
END_TEST

/* Bids: tar by its ustar magic, compressed tars by magic + extension, a plain zip low. */
START_TEST(probe_bids)
{
    static uint8_t head[600];
    memcpy(head + 257, "ustar", 5);
    ck_assert_int_eq(tc_format_archive.probe(head, sizeof head, "m.bin"), 100);
    memset(head, 0, sizeof head);
    head[0] = 0x1f;
    head[1] = 0x8b;
    ck_assert_int_eq(tc_format_archive.probe(head, sizeof head, "m.tar.gz"), 100);
    ck_assert_int_eq(tc_format_archive.probe(head, sizeof head, "m.tgz"), 100);
    ck_assert_int_eq(tc_format_archive.probe(head, sizeof head, "m.gz"), 0);
    memcpy(head, "\x28\xb5\x2f\xfd", 4);
    ck_assert_int_eq(tc_format_archive.probe(head, sizeof head, "m.tar.zst"), 100);
    ck_assert_int_eq(tc_format_archive.probe(head, sizeof head, "m.zst"), 0);
    memcpy(head, "PK\x03\x04", 4);
    ck_assert_int_eq(tc_format_archive.probe(head, sizeof head, "m.zip"), 10);
    ck_assert_int_eq(tc_format_archive.probe(NULL, 0, "dir"), 0);
    memcpy(head, "GGUF", 4);
    ck_assert_int_eq(tc_format_archive.probe(head, sizeof head, "m.gguf"), 0);
}
END_TEST

/* The example model directory packed as .tar.gz reads the same tensors and licence as the
 * directory itself. */
START_TEST(example_dir_tgz)
{
    char src[1024], cmd[3072];
    snprintf(src, sizeof src, "%s/fixtures/tiny-llama", TC_SRC_DIR);
    tc_graph *a = NULL, *b = NULL;
    tc_err e = {0};
    if (tc_read(src, &a, NULL, &e) != TC_OK)
        ck_abort_msg("the example directory cannot be read: %s", e.msg);
    tc_make_tmpdir(tmpdir, sizeof tmpdir, "tc_arc");
    snprintf(cmd, sizeof cmd, "tar -czf '%s/m.tgz' -C '%s/fixtures' tiny-llama", tmpdir,
             TC_SRC_DIR);
    if (system(cmd) != 0) {
        tc_graph_free(a);
        tc_rm_rf(tmpdir);
        TC_SKIP("no tar command");
    }
    private_tmp();
    snprintf(cmd, sizeof cmd, "%s/m.tgz", tmpdir);
    ck_assert_msg(tc_read(cmd, &b, NULL, &e) == TC_OK, "%s", e.msg);
    ck_assert_int_eq(tc_dir_entries(scratch), 0);
    tc_assert_same_tensors(a, b, 0);
    tc_license la, lb;
    tc_graph_license(a, &la);
    tc_graph_license(b, &lb);
    ck_assert_str_eq(la.id, lb.id);
    tc_graph_free(a);
    tc_graph_free(b);
    tc_rm_rf(scratch);
    tc_rm_rf(tmpdir);
}
END_TEST

/* Good archives with ~1% of their bytes corrupted: a clean status each time, never a crash,
 * never a temporary file left behind. */
START_TEST(mutation)
{
    int rc = tc_npy_oracle_dir(tmpdir, sizeof tmpdir, "tc_arc");
    if (rc == 77)
        TC_SKIP("python3 with numpy is not installed");
    ck_assert_int_eq(rc, 0);
    private_tmp();
    static const char *const names[] = {"npy.tar", "npy.tar.gz", "npy0.zip", "dir.tar.gz",
                                        "npz.tar"};
    int rounds = getenv("TC_TEST_QUICK") ? 30 : 100, ok = 0;
    uint64_t seed = 7;
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        char p[1024], q[1024];
        snprintf(p, sizeof p, "%s/%s", tmpdir, names[k]);
        snprintf(q, sizeof q, "%s/mut_%s", tmpdir, names[k]);
        size_t n;
        uint8_t *orig = tc_slurp(p, &n);
        ck_assert_ptr_nonnull(orig);
        for (int r = 0; r < rounds; r++) {
            size_t flips = n / 100 + 1;
            uint8_t *b = malloc(n);
            memcpy(b, orig, n);
            for (size_t i = 0; i < flips; i++)
                b[tc_rng_next(&seed) % n] = (uint8_t)tc_rng_next(&seed);
            FILE *f = fopen(q, "wb");
            ck_assert_ptr_nonnull(f);
            ck_assert_uint_eq(fwrite(b, 1, n, f), n);
            fclose(f);
            free(b);
            tc_graph *g = NULL;
            tc_err e = {0};
            tc_status st = tc_read(q, &g, NULL, &e);
            if (st == TC_OK) {
                ok++;
                for (size_t i = 0; i < tc_graph_n_tensors(g); i++) {
                    const tc_tensor *t = tc_graph_tensor(g, i);
                    uint64_t nb = tc_tensor_nbytes(t);
                    void *o = malloc(nb + 1);
                    /* npz members are inflated (and CRC-checked) on first read */
                    tc_err_clear(&e);
                    tc_status r2 = tc_tensor_read(t, 0, tc_tensor_n_elements(t), o, &e);
                    ck_assert_msg(r2 == TC_OK || e.msg[0], "read status %d without a message", r2);
                    free(o);
                }
            } else {
                ck_assert_msg(e.msg[0] != 0, "status %d without a message", st);
            }
            tc_graph_free(g);
            ck_assert_msg(tc_dir_entries(scratch) == 0, "%s: temporary files left behind",
                          names[k]);
        }
        free(orig);
    }
    fprintf(stderr, "archive mutation: %d reads of corrupted archives succeeded\n", ok);
    tc_rm_rf(scratch);
    tc_rm_rf(tmpdir);
}
END_TEST

/* Fail the nth allocation for every n: TC_E_NOMEM or success, never a crash or a temporary file
 * left behind (leaks show under ASan). */
START_TEST(oom_walk)
{
    int rc = tc_npy_oracle_dir(tmpdir, sizeof tmpdir, "tc_arc");
    if (rc == 77)
        TC_SKIP("python3 with numpy is not installed");
    ck_assert_int_eq(rc, 0);
    private_tmp();
    static const char *const names[] = {"npy.tar", "be.tar", "npz.tgz", "dir.tar.gz"};
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        char p[1024];
        snprintf(p, sizeof p, "%s/%s", tmpdir, names[k]);
        long n = 0;
        for (;; n++) {
            tc_graph *g = NULL;
            tc_err e = {0};
            tc_alloc_fail_after(n);
            tc_status st = tc_read(p, &g, NULL, &e);
            long used = tc_alloc_fail_after(-1);
            /* a probe cannot report OOM (it returns a bid): a directory whose probe failed
             * looks like no model at all */
            int probe_oom = st == TC_E_UNSUPPORTED && used > n && strstr(e.msg, "no model file");
            ck_assert_msg(st == TC_OK || st == TC_E_NOMEM || probe_oom, "%s: fail at %ld: %s (%s)",
                          names[k], n, tc_status_name(st), e.msg);
            if (st == TC_OK) {
                /* the adopted tensors still read after the scratch graphs are gone */
                const tc_tensor *t = tc_graph_tensor(g, 0);
                void *o = malloc(tc_tensor_nbytes(t) + 1);
                ck_assert_int_eq(tc_tensor_read(t, 0, tc_tensor_n_elements(t), o, &e), TC_OK);
                free(o);
            }
            tc_graph_free(g);
            ck_assert_msg(tc_dir_entries(scratch) == 0, "%s: temporary files left at %ld", names[k],
                          n);
            if (st == TC_OK && used <= n)
                break;
            ck_assert_int_lt(n, 100000);
        }
        fprintf(stderr, "oom_walk %s: %ld allocation points\n", names[k], n);
    }
    tc_rm_rf(scratch);
    tc_rm_rf(tmpdir);
}
END_TEST

Suite *archive_suite(void)
{
    Suite *s = suite_create("archive");
    TCase *tc = tcase_create("archive");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, archive_oracle);
    tcase_add_test(tc, bad_archives);
    tcase_add_test(tc, probe_bids);
    tcase_add_test(tc, example_dir_tgz);
    tcase_add_test(tc, mutation);
    tcase_add_test(tc, oom_walk);
    suite_add_tcase(s, tc);
    return s;
}
