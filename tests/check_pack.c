/*
 * check_pack.c - `tensorcast pack` bundles and their verification (formats/pack.c).
 *
 * Oracles: GNU tar extracts the bundle and coreutils' `sha256sum -c` accepts its SHA256SUMS;
 * `zstd -d` undoes the compression so a byte can be damaged at a known member offset.
 */
#include "tc_test.h"
#include "tc_test_util.h"
#include "tensorcast.h"

#include <string.h>
#include <sys/wait.h>

static char dir[512];

static int have_tools(void)
{
    return tc_sh("command -v tar >/dev/null && command -v sha256sum >/dev/null && "
                 "command -v zstd >/dev/null") == 0;
}

START_TEST(test_pack_extract_and_sha256sum)
{
    if (!have_tools())
        TC_SKIP("tar, sha256sum or zstd not found (apt install zstd)");
    tc_make_tmpdir(dir, sizeof dir, "tc_pack");
    ck_assert_int_eq(
        tc_sh("'%s' pack '%s/b.tar.zst' '%s/fixtures/tiny-llama' -q", TC_BIN, dir, TC_SRC_DIR), 0);
    ck_assert_int_eq(
        tc_sh("mkdir '%s/x' && tar --zstd -xf '%s/b.tar.zst' -C '%s/x' && cd '%s/x' && "
              "sha256sum -c --strict --quiet SHA256SUMS",
              dir, dir, dir, dir),
        0);
    /* the extracted model is the original, byte for byte, with its licence and card */
    ck_assert_int_eq(
        tc_sh("cmp '%s/x/model.safetensors' '%s/fixtures/tiny-llama/model.safetensors' "
              "&& cmp '%s/x/README.md' '%s/fixtures/tiny-llama/README.md'",
              dir, TC_SRC_DIR, dir, TC_SRC_DIR),
        0);
    ck_assert_int_eq(tc_sh("grep -c 'sha256  ' '%s/x/TENSORS.sha256' | grep -qx 21", dir), 0);
    /* deterministic: the same command gives the same bytes */
    ck_assert_int_eq(
        tc_sh("'%s' pack '%s/c.tar.zst' '%s/fixtures/tiny-llama' -q && cmp '%s/b.tar.zst' "
              "'%s/c.tar.zst'",
              TC_BIN, dir, TC_SRC_DIR, dir, dir),
        0);
    /* verify, inspect and convert read the bundle directly */
    ck_assert_int_eq(tc_sh("'%s' verify '%s/b.tar.zst' -q", TC_BIN, dir), 0);
    ck_assert_int_eq(tc_sh("'%s' inspect '%s/b.tar.zst' | grep -q 'tensors: *21'", TC_BIN, dir), 0);
    ck_assert_int_eq(tc_sh("'%s' convert '%s/b.tar.zst' '%s/m.gguf' -q", TC_BIN, dir, dir), 0);
    tc_rm_rf(dir);
}
END_TEST

START_TEST(test_damaged_bundle_names_member_and_tensor)
{
    if (!have_tools())
        TC_SKIP("tar, sha256sum or zstd not found (apt install zstd)");
    tc_make_tmpdir(dir, sizeof dir, "tc_pack");
    ck_assert_int_eq(tc_sh("'%s' pack '%s/b.tar' '%s/fixtures/tiny-llama/model.safetensors' "
                           "'%s/fixtures/tiny-llama/config.json' -q",
                           TC_BIN, dir, TC_SRC_DIR, TC_SRC_DIR),
                     0);
    /* the safetensors member: its header is 512 bytes after the tar header naming it; damage a
     * byte 150 000 bytes into the member (tensor data, past the safetensors header) */
    ck_assert_int_eq(tc_sh("cd '%s' && off=$(grep -abo 'model.safetensors' b.tar | head -1 | cut "
                           "-d: -f1) && printf '\\377' | dd of=b.tar bs=1 seek=$((off + 512 + "
                           "150000)) conv=notrunc 2>/dev/null",
                           dir),
                     0);
    ck_assert_int_eq(tc_sh("'%s' verify '%s/b.tar' >/dev/null 2>'%s/err.txt'", TC_BIN, dir, dir),
                     1);
    ck_assert_int_eq(tc_sh("grep -q 'FAILED model.safetensors: digest mismatch' '%s/err.txt'", dir),
                     0);
    ck_assert_int_eq(tc_sh("grep -q \"FAILED tensor 'model.layers.*' (in model.safetensors) "
                           "changed\" '%s/err.txt'",
                           dir),
                     0);
    ck_assert_int_eq(tc_sh("grep -c 'FAILED tensor' '%s/err.txt' | grep -qx 1", dir), 0);
    /* a SHA256SUMS with no valid line is a failure, not a pass */
    ck_assert_int_eq(tc_sh("cd '%s' && mkdir y && cd y && echo junk > SHA256SUMS && cp "
                           "'%s/fixtures/tiny-llama/config.json' . && tar -cf ../j.tar SHA256SUMS "
                           "config.json",
                           dir, TC_SRC_DIR),
                     0);
    ck_assert_int_eq(tc_sh("'%s' verify '%s/j.tar' >/dev/null 2>&1", TC_BIN, dir), 3);
    tc_rm_rf(dir);
}
END_TEST

START_TEST(test_pack_refusals)
{
    tc_make_tmpdir(dir, sizeof dir, "tc_pack");
    /* no licence and --require-license: exit 1, nothing written */
    ck_assert_int_eq(tc_sh("'%s' convert '%s/fixtures/tiny-llama/model.safetensors' '%s/m.gguf' -q "
                           "--license ''",
                           TC_BIN, TC_SRC_DIR, dir),
                     0);
    ck_assert_int_eq(tc_sh("'%s' pack '%s/n.tar.zst' '%s/m.gguf' --require-license -q 2>/dev/null",
                           TC_BIN, dir, dir),
                     1);
    ck_assert_int_eq(tc_sh("test -e '%s/n.tar.zst'", dir), 1);
    /* a bundle name we cannot write, a model that is not one */
    ck_assert_int_eq(tc_sh("'%s' pack '%s/n.zip' '%s/m.gguf' 2>/dev/null", TC_BIN, dir, dir), 2);
    ck_assert_int_eq(tc_sh("echo hello > '%s/t.txt' && '%s' pack '%s/n.tar' '%s/t.txt' 2>/dev/null",
                           dir, TC_BIN, dir, dir),
                     3);
    ck_assert_int_eq(tc_sh("test -e '%s/n.tar'", dir), 1);
    tc_rm_rf(dir);
}
END_TEST

Suite *pack_suite(void)
{
    Suite *s = suite_create("pack");
    TCase *tc = tcase_create("pack");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_pack_extract_and_sha256sum);
    tcase_add_test(tc, test_damaged_bundle_names_member_and_tensor);
    tcase_add_test(tc, test_pack_refusals);
    suite_add_tcase(s, tc);
    return s;
}
