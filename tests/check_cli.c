/* check_cli.c - the tensorcast binary end to end: help, usage errors, every bad fixture gives
 * exit code 3 with its message, conversions round-trip, failures leave no output behind. */
#include "tc_impl.h"
#include "tc_test_util.h"
#include "fp16.h"

#include <dirent.h>
#include <jansson.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char tmpdir[256];
static char out_buf[1 << 16], err_buf[1 << 16];

/* Run `sh -c "<prefix> $TC_BIN <args>"`; stdout/stderr land in out_buf/err_buf. */
static int run(const char *prefix, const char *args)
{
    return tc_run_cli(prefix, args, out_buf, sizeof out_buf, err_buf, sizeof err_buf);
}

START_TEST(help_and_usage)
{
    static const char *const cmds[] = {"inspect", "convert", "verify", "bench"};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        char a[64];
        snprintf(a, sizeof a, "%s --help", cmds[i]);
        ck_assert_int_eq(run(NULL, a), 0);
        ck_assert_ptr_nonnull(strstr(out_buf, "usage: tensorcast"));
        snprintf(a, sizeof a, "%s --no-such-option", cmds[i]);
        ck_assert_int_eq(run(NULL, a), 2);
    }
    ck_assert_int_eq(run(NULL, "--help"), 0);
    ck_assert_ptr_nonnull(strstr(out_buf, "commands:"));
    ck_assert_int_eq(run(NULL, ""), 2);
    ck_assert_int_eq(run(NULL, "frobnicate"), 2);
    ck_assert_ptr_nonnull(strstr(err_buf, "unknown command"));
    ck_assert_int_eq(run(NULL, "inspect"), 2);
    ck_assert_int_eq(run(NULL, "convert a.gguf"), 2);
    ck_assert_int_eq(run(NULL, "convert a.gguf b.txt"), 2);
    ck_assert_ptr_nonnull(strstr(err_buf, "output format"));
    ck_assert_int_eq(run(NULL, "convert a.gguf b.gguf --type q9_z"), 2);
    ck_assert_int_eq(run(NULL, "convert a.gguf b.gguf --max-shard-size 1G"), 2);
    ck_assert_int_eq(run(NULL, "inspect /nonexistent/file.gguf"), 4);
    ck_assert_ptr_nonnull(strstr(err_buf, "/nonexistent/file.gguf"));
}
END_TEST

/* Every fixtures/<fmt>/bad/<case>.<ext> with a <case>.expect: inspect exits 3 and prints the
 * expected message substring. */
START_TEST(bad_fixtures_exit_3)
{
    char root[1024];
    snprintf(root, sizeof root, "%s/fixtures", TC_SRC_DIR);
    DIR *formats = opendir(root);
    ck_assert_ptr_nonnull(formats);
    struct dirent *fe;
    int checked = 0;
    while ((fe = readdir(formats))) {
        if (fe->d_name[0] == '.')
            continue;
        char bad[1300];
        snprintf(bad, sizeof bad, "%s/%s/bad", root, fe->d_name);
        DIR *d = opendir(bad);
        if (d == NULL)
            continue;
        struct dirent *de;
        while ((de = readdir(d))) {
            size_t n = strlen(de->d_name);
            if (n < 8 || strcmp(de->d_name + n - 7, ".expect") != 0)
                continue;
            char stem[256];
            snprintf(stem, sizeof stem, "%.*s", (int)(n - 7), de->d_name);
            /* the input: same stem, any other extension (or a directory) */
            DIR *d2 = opendir(bad);
            struct dirent *ce;
            char input[1600] = "";
            while (d2 && (ce = readdir(d2))) {
                size_t sl = strlen(stem);
                if (strncmp(ce->d_name, stem, sl) == 0 &&
                    (ce->d_name[sl] == '.' || !ce->d_name[sl]) &&
                    !tc_ends_with(ce->d_name, ".expect"))
                    snprintf(input, sizeof input, "%s/%s", bad, ce->d_name);
            }
            if (d2)
                closedir(d2);
            ck_assert_msg(input[0], "no input file for %s/%s", bad, de->d_name);
            char ep[1600], expect[1024], *status, *sub;
            snprintf(ep, sizeof ep, "%s/%s", bad, de->d_name);
            tc_read_expect(ep, expect, sizeof expect, &status, &sub);
            char args[1800];
            snprintf(args, sizeof args, "inspect '%s'", input);
            int rc = run(NULL, args);
            ck_assert_msg(rc == 3, "%s: exit %d, want 3 (stderr: %s)", input, rc, err_buf);
            ck_assert_msg(strstr(err_buf, sub) != NULL, "%s: stderr '%s' lacks '%s'", input,
                          err_buf, sub);
            checked++;
        }
        closedir(d);
    }
    closedir(formats);
    fprintf(stderr, "bad_fixtures_exit_3: %d inputs checked\n", checked);
}
END_TEST

/* The example model: safetensors dir -> GGUF -> safetensors keeps every byte, the metadata and
 * the licence from README.md. */
START_TEST(roundtrip_example)
{
    if (!tc_have_rw("gguf") || !tc_have_rw("safetensors"))
        TC_SKIP_NA("GGUF or safetensors writer not built");
    tc_make_tmpdir(tmpdir, sizeof tmpdir, "tc_cli");
    char args[2048], src[1024];
    snprintf(src, sizeof src, "%s/fixtures/tiny-llama", TC_SRC_DIR);
    snprintf(args, sizeof args, "convert '%s' '%s/m.gguf' --quiet --no-hf-map", src, tmpdir);
    ck_assert_int_eq(run(NULL, args), 0);
    snprintf(args, sizeof args, "convert '%s/m.gguf' '%s/m.safetensors' --quiet", tmpdir, tmpdir);
    ck_assert_int_eq(run(NULL, args), 0);
    tc_err e = {0};
    tc_graph *a, *b, *c;
    ck_assert_int_eq(tc_read(src, &a, NULL, &e), TC_OK);
    snprintf(args, sizeof args, "%s/m.gguf", tmpdir);
    ck_assert_int_eq(tc_read(args, &b, NULL, &e), TC_OK);
    snprintf(args, sizeof args, "%s/m.safetensors", tmpdir);
    ck_assert_int_eq(tc_read(args, &c, NULL, &e), TC_OK);
    tc_assert_same_tensors(a, b, 0);
    tc_assert_same_tensors(a, c, 0);
    ck_assert_str_eq(tc_graph_get_str(b, "general.license"), "apache-2.0");
    ck_assert_str_eq(tc_graph_get_str(c, "general.license"), "apache-2.0");
    ck_assert_str_eq(tc_graph_get_str(c, "format"), "pt");
    /* inspect --json of the GGUF */
    snprintf(args, sizeof args, "inspect --json '%s/m.gguf'", tmpdir);
    ck_assert_int_eq(run(NULL, args), 0);
    json_error_t je;
    json_t *j = json_loads(out_buf, 0, &je);
    ck_assert_ptr_nonnull(j);
    ck_assert_str_eq(json_string_value(json_object_get(j, "format")), "gguf");
    ck_assert_int_eq(json_integer_value(json_object_get(j, "tensor_count")), 21);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "license"), "id")),
                     "apache-2.0");
    json_decref(j);
    tc_graph_free(a);
    tc_graph_free(b);
    tc_graph_free(c);
    tc_rm_rf(tmpdir);
}
END_TEST

/* --type f16 to GGUF: matrices become f16 (RNE of the bf16 values), 1-D tensors f32 exactly;
 * --license overrides. */
START_TEST(convert_type_and_license)
{
    if (!tc_have_rw("gguf"))
        TC_SKIP_NA("GGUF writer not built");
    tc_make_tmpdir(tmpdir, sizeof tmpdir, "tc_cli");
    char args[2048], src[1024];
    snprintf(src, sizeof src, "%s/fixtures/tiny-llama", TC_SRC_DIR);
    /* --no-hf-map: the directory's own tensor names, so they can be compared one to one */
    snprintf(args, sizeof args,
             "convert '%s' '%s/f16.gguf' --type f16 --license mit --quiet --no-hf-map", src,
             tmpdir);
    ck_assert_int_eq(run(NULL, args), 0);
    tc_err e = {0};
    tc_graph *a, *b;
    ck_assert_int_eq(tc_read(src, &a, NULL, &e), TC_OK);
    snprintf(args, sizeof args, "%s/f16.gguf", tmpdir);
    ck_assert_int_eq(tc_read(args, &b, NULL, &e), TC_OK);
    ck_assert_str_eq(tc_graph_get_str(b, "general.license"), "mit");
    for (size_t i = 0; i < tc_graph_n_tensors(a); i++) {
        const tc_tensor *x = tc_graph_tensor(a, i);
        const tc_tensor *y = tc_graph_find(b, tc_tensor_name(x));
        ck_assert_ptr_nonnull(y);
        uint64_t n = tc_tensor_n_elements(x);
        uint16_t *bx = malloc(n * 2);
        ck_assert_int_eq(tc_tensor_read(x, 0, n, bx, &e), TC_OK);
        if (tc_tensor_n_dims(x) == 1) {
            ck_assert_int_eq(tc_tensor_dtype(y), TC_DTYPE_F32);
            float *fy = malloc(n * 4);
            ck_assert_int_eq(tc_tensor_read(y, 0, n, fy, &e), TC_OK);
            for (uint64_t k = 0; k < n; k++)
                ck_assert(fy[k] == tc_bf16_to_f32(bx[k]));
            free(fy);
        } else {
            ck_assert_int_eq(tc_tensor_dtype(y), TC_DTYPE_F16);
            uint16_t *hy = malloc(n * 2);
            ck_assert_int_eq(tc_tensor_read(y, 0, n, hy, &e), TC_OK);
            for (uint64_t k = 0; k < n; k++)
                ck_assert_uint_eq(hy[k], tc_f32_to_f16(tc_bf16_to_f32(bx[k])));
            free(hy);
        }
        free(bx);
    }
    tc_graph_free(a);
    tc_graph_free(b);
    tc_rm_rf(tmpdir);
}
END_TEST

/* The input is never the output; a failing write leaves nothing behind (exit 4). */
START_TEST(no_overwrite_no_partial)
{
    if (!tc_have_rw("safetensors"))
        TC_SKIP_NA("safetensors writer not built");
    tc_make_tmpdir(tmpdir, sizeof tmpdir, "tc_cli");
    char args[2048], src[1024], cp[2600];
    snprintf(src, sizeof src, "%s/fixtures/tiny-llama/model.safetensors", TC_SRC_DIR);
    snprintf(cp, sizeof cp, "cp '%s' '%s/in.safetensors'", src, tmpdir);
    ck_assert_int_eq(system(cp), 0);
    snprintf(args, sizeof args, "convert '%s/in.safetensors' '%s/in.safetensors' --quiet", tmpdir,
             tmpdir);
    ck_assert_int_eq(run(NULL, args), 2);
    ck_assert_ptr_nonnull(strstr(err_buf, "refusing"));
    snprintf(cp, sizeof cp, "cmp -s '%s' '%s/in.safetensors'", src, tmpdir);
    ck_assert_int_eq(system(cp), 0);
    /* file size limit of 64 KiB: the write fails with EFBIG part-way */
    snprintf(args, sizeof args, "convert '%s/in.safetensors' '%s/out.safetensors' --quiet", tmpdir,
             tmpdir);
    ck_assert_int_eq(run("ulimit -f 64;", args), 4);
    ck_assert_ptr_nonnull(strstr(err_buf, "out.safetensors"));
    snprintf(args, sizeof args, "%s/out.safetensors", tmpdir);
    ck_assert_int_eq(access(args, F_OK), -1);
    /* only the input is left in the directory */
    DIR *d = opendir(tmpdir);
    struct dirent *de;
    int n = 0;
    while ((de = readdir(d)))
        if (de->d_name[0] != '.' || strstr(de->d_name, ".tmp-"))
            n++;
    closedir(d);
    ck_assert_int_eq(n, 1);
    tc_rm_rf(tmpdir);
}
END_TEST

/* verify: manifests written then checked; a flipped byte fails with exit 1; --against sees a
 * licence that did not survive; --sha256 of a known file (computed by sha256sum). */
START_TEST(verify_digests_and_licence)
{
    if (!tc_have_rw("gguf") || !tc_have_rw("safetensors"))
        TC_SKIP_NA("GGUF or safetensors writer not built");
    tc_make_tmpdir(tmpdir, sizeof tmpdir, "tc_cli");
    char args[4096], src[1024], cmd[4096];
    snprintf(src, sizeof src, "%s/fixtures/tiny-llama", TC_SRC_DIR);
    snprintf(cmd, sizeof cmd, "cp -r '%s' '%s/m'", src, tmpdir);
    ck_assert_int_eq(system(cmd), 0);
    snprintf(args, sizeof args, "verify '%s/m' --tensors --write-manifest '%s/man.txt'", tmpdir,
             tmpdir);
    ck_assert_int_eq(run(NULL, args), 0);
    snprintf(args, sizeof args, "verify '%s/m' --manifest '%s/man.txt'", tmpdir, tmpdir);
    ck_assert_int_eq(run(NULL, args), 0);
    ck_assert_ptr_nonnull(strstr(out_buf, "OK"));
    /* the file digest must equal sha256sum's */
    snprintf(cmd, sizeof cmd, "sha256sum '%s/m/model.safetensors' | cut -c1-64 > '%s/sum'", tmpdir,
             tmpdir);
    ck_assert_int_eq(system(cmd), 0);
    char sum[128], path[600];
    snprintf(path, sizeof path, "%s/sum", tmpdir);
    tc_slurp_into(path, sum, sizeof sum);
    sum[64] = 0;
    snprintf(args, sizeof args, "verify '%s/m/model.safetensors' --sha256 %s", tmpdir, sum);
    ck_assert_int_eq(run(NULL, args), 0);
    sum[0] = sum[0] == '0' ? '1' : '0';
    snprintf(args, sizeof args, "verify '%s/m/model.safetensors' --sha256 %s", tmpdir, sum);
    ck_assert_int_eq(run(NULL, args), 1);
    /* flip one payload byte near the end: the file and one tensor digest fail */
    snprintf(cmd, sizeof cmd,
             "printf '\\377' | dd of='%s/m/model.safetensors' bs=1 seek=$(( $(stat -c %%s "
             "'%s/m/model.safetensors') - 100 )) conv=notrunc status=none",
             tmpdir, tmpdir);
    ck_assert_int_eq(system(cmd), 0);
    snprintf(args, sizeof args, "verify '%s/m' --manifest '%s/man.txt'", tmpdir, tmpdir);
    ck_assert_int_eq(run(NULL, args), 1);
    ck_assert_ptr_nonnull(strstr(out_buf, "tensor 'lm_head.weight'"));
    /* licence survives a conversion, and a changed one is caught */
    snprintf(args, sizeof args, "convert '%s' '%s/a.gguf' --quiet --no-hf-map", src, tmpdir);
    ck_assert_int_eq(run(NULL, args), 0);
    snprintf(args, sizeof args, "verify '%s/a.gguf' --against '%s' --require-license", tmpdir, src);
    ck_assert_int_eq(run(NULL, args), 0);
    snprintf(args, sizeof args, "convert '%s' '%s/b.gguf' --license mit --quiet --no-hf-map", src,
             tmpdir);
    ck_assert_int_eq(run(NULL, args), 0);
    snprintf(args, sizeof args, "verify '%s/b.gguf' --against '%s' --json", tmpdir, src);
    ck_assert_int_eq(run(NULL, args), 1);
    json_error_t je;
    json_t *j = json_loads(out_buf, 0, &je);
    ck_assert_ptr_nonnull(j);
    ck_assert(json_is_false(json_object_get(j, "ok")));
    ck_assert_ptr_nonnull(
        strstr(json_string_value(json_array_get(json_object_get(j, "problems"), 0)),
               "licence id changed"));
    json_decref(j);
    tc_rm_rf(tmpdir);
}
END_TEST

/* verify recomputes the CRC-32 of every zip member: a NumPy .npz written by numpy passes, the
 * same file with one payload byte flipped fails with exit 1 naming the member. */
START_TEST(verify_zip_crc)
{
    tc_make_tmpdir(tmpdir, sizeof tmpdir, "tc_cli");
    char cmd[1024], npz[512];
    snprintf(npz, sizeof npz, "%s/w.npz", tmpdir);
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 -c \"import numpy as np; np.savez('%s', "
             "w=np.arange(64, dtype=np.float32))\" 2>/dev/null",
             npz);
    if (system(cmd) != 0) {
        tc_rm_rf(tmpdir);
        TC_SKIP("/usr/bin/python3 with numpy not found (apt install python3-numpy)");
    }
    char a[600];
    snprintf(a, sizeof a, "verify '%s'", npz);
    ck_assert_int_eq(run(NULL, a), 0);
    ck_assert_ptr_nonnull(strstr(out_buf, "match their CRC-32"));
    /* flip the low byte of the float 63.0 (0x427c0000) inside the stored member */
    FILE *f = fopen(npz, "r+b");
    ck_assert_ptr_nonnull(f);
    static uint8_t buf[8192];
    size_t n = fread(buf, 1, sizeof buf, f);
    size_t at = 0;
    for (size_t i = 0; i + 4 <= n; i++)
        if (buf[i] == 0 && buf[i + 1] == 0 && buf[i + 2] == 0x7c && buf[i + 3] == 0x42)
            at = i;
    ck_assert_uint_gt(at, 0);
    buf[at] ^= 1;
    fseek(f, 0, SEEK_SET);
    ck_assert_uint_eq(fwrite(buf, 1, n, f), n);
    fclose(f);
    ck_assert_int_eq(run(NULL, a), 1);
    ck_assert_ptr_nonnull(strstr(out_buf, "CRC-32"));
    ck_assert_ptr_nonnull(strstr(out_buf, "w.npy"));
    tc_rm_rf(tmpdir);
}
END_TEST

/* --no-sync (no fsync before the rename) writes the same bytes as the default, for convert and
 * quantize. */
START_TEST(no_sync_same_bytes)
{
    tc_make_tmpdir(tmpdir, sizeof tmpdir, "tc_cli");
    char a[2048];
    snprintf(a, sizeof a, "convert '%s/fixtures/tiny-llama' '%s/a.gguf' --type f16 -q", TC_SRC_DIR,
             tmpdir);
    ck_assert_int_eq(run(NULL, a), 0);
    snprintf(a, sizeof a, "convert '%s/fixtures/tiny-llama' '%s/b.gguf' --type f16 -q --no-sync",
             TC_SRC_DIR, tmpdir);
    ck_assert_int_eq(run(NULL, a), 0);
    snprintf(a, sizeof a, "quantize '%s/a.gguf' '%s/c.gguf' Q8_0 -q --no-sync", tmpdir, tmpdir);
    ck_assert_int_eq(run(NULL, a), 0);
    snprintf(a, sizeof a, "quantize '%s/a.gguf' '%s/d.gguf' Q8_0 -q", tmpdir, tmpdir);
    ck_assert_int_eq(run(NULL, a), 0);
    const char *pairs[2][2] = {{"a.gguf", "b.gguf"}, {"c.gguf", "d.gguf"}};
    for (int i = 0; i < 2; i++) {
        char p[600], q[600];
        size_t np = 0, nq = 0;
        snprintf(p, sizeof p, "%s/%s", tmpdir, pairs[i][0]);
        snprintf(q, sizeof q, "%s/%s", tmpdir, pairs[i][1]);
        uint8_t *x = tc_slurp_ok(p, &np), *y = tc_slurp_ok(q, &nq);
        ck_assert_uint_gt(np, 1000);
        ck_assert_msg(np == nq && memcmp(x, y, np) == 0, "%s and %s differ", p, q);
        free(x);
        free(y);
    }
    tc_rm_rf(tmpdir);
}
END_TEST

Suite *cli_suite(void)
{
    Suite *s = suite_create("cli");
    TCase *tc = tcase_create("cli");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, help_and_usage);
    tcase_add_test(tc, bad_fixtures_exit_3);
    tcase_add_test(tc, roundtrip_example);
    tcase_add_test(tc, convert_type_and_license);
    tcase_add_test(tc, no_overwrite_no_partial);
    tcase_add_test(tc, verify_digests_and_licence);
    tcase_add_test(tc, verify_zip_crc);
    tcase_add_test(tc, no_sync_same_bytes);
    suite_add_tcase(s, tc);
    return s;
}
