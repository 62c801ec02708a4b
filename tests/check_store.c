/*
 * check_store.c - `tensorcast verify` on downloads as their stores keep them (formats/store.c).
 *
 * The stores are laid out here exactly as the tools make them, and the digests naming the blobs
 * come from independent programs: `sha256sum` (coreutils) for LFS files and ollama blobs, and
 * `git hash-object` for the git blob SHA-1 of small files.
 */
#include "tc_test.h"
#include "tc_test_util.h"
#include "tensorcast.h"

#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[512];
static const char *rev = "0123456789abcdef0123456789abcdef01234567";

static int have_tools(void)
{
    return tc_sh("command -v sha256sum >/dev/null && command -v git >/dev/null") == 0;
}

/* models--org--tiny with refs/main -> snapshot of three links into blobs/ */
static void make_cache(void)
{
    tc_make_tmpdir(dir, sizeof dir, "tc_store");
    ck_assert_int_eq(
        tc_sh(
            "set -e; r='%s/models--org--tiny'; mkdir -p \"$r/blobs\" \"$r/refs\" "
            "\"$r/snapshots/%s/sub\"; printf %%s %s > \"$r/refs/main\"; "
            "for f in model.safetensors config.json README.md; do src='%s/fixtures/tiny-llama/'$f; "
            "if [ $f = model.safetensors ]; then h=$(sha256sum \"$src\" | cut -d' ' -f1); "
            "else h=$(git hash-object \"$src\"); fi; cp \"$src\" \"$r/blobs/$h\"; "
            "ln -s ../../blobs/$h \"$r/snapshots/%s/$f\"; done; "
            "echo nested > \"$r/n.txt\"; h=$(git hash-object \"$r/n.txt\"); "
            "mv \"$r/n.txt\" \"$r/blobs/$h\"; ln -s ../../../blobs/$h "
            "\"$r/snapshots/%s/sub/n.txt\"",
            dir, rev, rev, TC_SRC_DIR, rev, rev),
        0);
}

static int verify(const char *args)
{
    return tc_sh("'%s' verify %s >'%s/out.txt' 2>'%s/err.txt'", TC_BIN, args, dir, dir);
}

static int err_has(const char *needle)
{
    return tc_sh("grep -qF -- '%s' '%s/err.txt'", needle, dir) == 0;
}

START_TEST(test_hf_cache_ok_and_corrupt)
{
    if (!have_tools())
        TC_SKIP("sha256sum or git not found");
    make_cache();
    char a[2048];
    snprintf(a, sizeof a, "'%s/models--org--tiny'", dir);
    ck_assert_int_eq(verify(a), 0);
    ck_assert_int_eq(tc_sh("grep -q '4 file(s)' '%s/out.txt'", dir), 0);
    /* the snapshot, and one file of it */
    snprintf(a, sizeof a, "'%s/models--org--tiny/snapshots/%s' --threads 2 -q", dir, rev);
    ck_assert_int_eq(verify(a), 0);
    snprintf(a, sizeof a, "'%s/models--org--tiny/snapshots/%s/model.safetensors' --json", dir, rev);
    ck_assert_int_eq(verify(a), 0);
    ck_assert_int_eq(tc_sh("grep -q '\"algorithm\": \"sha256\"' '%s/out.txt'", dir), 0);
    /* one flipped byte in the LFS blob, one appended to a small file's blob */
    ck_assert_int_eq(tc_sh("cd '%s/models--org--tiny/blobs' && for b in *; do "
                           "if [ ${#b} = 64 ]; then printf 'X' | dd of=$b bs=1 seek=100 "
                           "conv=notrunc 2>/dev/null; fi; done; "
                           "echo more >> $(readlink -f ../snapshots/%s/config.json)",
                           dir, rev),
                     0);
    snprintf(a, sizeof a, "'%s/models--org--tiny'", dir);
    ck_assert_int_eq(verify(a), 1);
    ck_assert_msg(err_has("FAILED model.safetensors: sha256"), "the LFS file is named");
    ck_assert_msg(err_has("FAILED config.json: git-sha1"), "the small file is named");
    ck_assert_msg(!err_has("README.md"), "intact files are not reported");
    tc_rm_rf(dir);
}
END_TEST

START_TEST(test_hf_cache_dangling_and_refs)
{
    if (!have_tools())
        TC_SKIP("sha256sum or git not found");
    make_cache();
    char a[2048];
    ck_assert_int_eq(tc_sh("cd '%s/models--org--tiny' && rm blobs/$(basename $(readlink "
                           "snapshots/%s/README.md))",
                           dir, rev),
                     0);
    snprintf(a, sizeof a, "'%s/models--org--tiny'", dir);
    ck_assert_int_eq(verify(a), 1);
    ck_assert_msg(err_has("FAILED README.md: dangling link"), "the dangling link is named");
    /* refs/main naming a snapshot that is not there */
    ck_assert_int_eq(tc_sh("printf %%s ffffffffffffffffffffffffffffffffffffffff > "
                           "'%s/models--org--tiny/refs/main'",
                           dir),
                     0);
    ck_assert_int_eq(verify(a), 3);
    ck_assert_msg(err_has("which is missing"), "a missing snapshot is an error");
    ck_assert_int_eq(tc_sh("printf garbage > '%s/models--org--tiny/refs/main'", dir), 0);
    ck_assert_int_eq(verify(a), 3);
    tc_rm_rf(dir);
}
END_TEST

/* huggingface-cli download --local-dir: .cache/huggingface/download/FILE.metadata holds
 * commit, etag, timestamp */
START_TEST(test_hf_local_dir)
{
    if (!have_tools())
        TC_SKIP("sha256sum or git not found");
    tc_make_tmpdir(dir, sizeof dir, "tc_store");
    ck_assert_int_eq(
        tc_sh("set -e; d='%s/local'; mkdir -p \"$d/.cache/huggingface/download\"; "
              "for f in model.safetensors config.json; do cp '%s/fixtures/tiny-llama/'$f \"$d/\"; "
              "if [ $f = model.safetensors ]; then h=$(sha256sum \"$d/$f\" | cut -d' ' -f1); "
              "else h=$(git hash-object \"$d/$f\"); fi; "
              "printf '%s\\n%%s\\n1733333333.5\\n' $h > "
              "\"$d/.cache/huggingface/download/$f.metadata\"; "
              "done",
              dir, TC_SRC_DIR, rev),
        0);
    char a[1024];
    snprintf(a, sizeof a, "'%s/local'", dir);
    ck_assert_int_eq(verify(a), 0);
    ck_assert_int_eq(tc_sh("grep -q 'hf-local-dir' '%s/out.txt'", dir), 0);
    ck_assert_int_eq(tc_sh("printf '\\0' | dd of='%s/local/model.safetensors' bs=1 seek=9000 "
                           "conv=notrunc 2>/dev/null",
                           dir),
                     0);
    ck_assert_int_eq(verify(a), 1);
    ck_assert_msg(err_has("FAILED model.safetensors"), "the changed file is named");
    ck_assert_int_eq(tc_sh("rm '%s/local/config.json'", dir), 0);
    ck_assert_int_eq(verify(a), 1);
    ck_assert_msg(err_has("FAILED config.json: missing"), "a missing file is named");
    tc_rm_rf(dir);
}
END_TEST

/* an ollama store: manifests/registry.ollama.ai/library/tiny/latest + blobs/sha256-HEX */
static void make_ollama(void)
{
    tc_make_tmpdir(dir, sizeof dir, "tc_store");
    ck_assert_int_eq(
        tc_sh(
            "set -e; m='%s/models'; mkdir -p \"$m/blobs\" \"$m/manifests/registry.ollama.ai/"
            "library/tiny\"; '%s' convert '%s/fixtures/tiny-llama/model.safetensors' \"$m/x.gguf\" "
            "-q; mh=$(sha256sum \"$m/x.gguf\" | cut -d' ' -f1); ms=$(stat -c %%s \"$m/x.gguf\"); "
            "mv \"$m/x.gguf\" \"$m/blobs/sha256-$mh\"; cp /usr/share/common-licenses/Apache-2.0 "
            "\"$m/l\" 2>/dev/null || echo 'Apache License Version 2.0, January 2004' > \"$m/l\"; "
            "lh=$(sha256sum \"$m/l\" | cut -d' ' -f1); ls=$(stat -c %%s \"$m/l\"); "
            "mv \"$m/l\" \"$m/blobs/sha256-$lh\"; "
            "printf '{\"schemaVersion\":2,\"layers\":[{\"mediaType\":\"application/"
            "vnd.ollama.image.model\",\"digest\":\"sha256:%%s\",\"size\":%%s},{\"mediaType\":"
            "\"application/vnd.ollama.image.license\",\"digest\":\"sha256:%%s\",\"size\":%%s}]}' "
            "$mh $ms $lh $ls > \"$m/manifests/registry.ollama.ai/library/tiny/latest\"",
            dir, TC_BIN, TC_SRC_DIR),
        0);
}

START_TEST(test_ollama)
{
    if (!have_tools())
        TC_SKIP("sha256sum not found");
    make_ollama();
    char a[1024];
    snprintf(a, sizeof a, "--ollama tiny");
    ck_assert_int_eq(
        tc_sh("OLLAMA_MODELS='%s/models' '%s' verify --ollama tiny:latest >'%s/out.txt'", dir,
              TC_BIN, dir),
        0);
    ck_assert_int_eq(tc_sh("grep -q 'model layer: gguf, 21 tensors' '%s/out.txt'", dir), 0);
    ck_assert_int_eq(tc_sh("grep -q 'permissive' '%s/out.txt'", dir), 0);
    snprintf(a, sizeof a, "'%s/models/manifests/registry.ollama.ai/library/tiny/latest'", dir);
    ck_assert_int_eq(verify(a), 0);
    /* inspect reads the model layer of a manifest */
    ck_assert_int_eq(
        tc_sh("'%s' inspect '%s/models/manifests/registry.ollama.ai/library/tiny/latest' "
              "| grep -q 'tensors: *21'",
              TC_BIN, dir),
        0);
    /* the manifest's size disagrees: named, no hashing needed */
    ck_assert_int_eq(tc_sh("cd '%s/models/manifests/registry.ollama.ai/library/tiny' && "
                           "sed -i 's/\"size\":\\([0-9]*\\)}]/\"size\":1}]/' latest",
                           dir),
                     0);
    ck_assert_int_eq(verify(a), 1);
    ck_assert_msg(err_has("(license): 1") || err_has("the manifest says 1"),
                  "the size mismatch is named");
    /* a damaged model layer: digest mismatch, and the GGUF is refused */
    tc_rm_rf(dir);
    make_ollama();
    snprintf(a, sizeof a, "'%s/models/manifests/registry.ollama.ai/library/tiny/latest'", dir);
    ck_assert_int_eq(
        tc_sh("cd '%s/models/blobs' && for b in sha256-*; do "
              "if [ $(stat -c %%s $b) -gt 100000 ]; then printf 'XXXX' | dd of=$b bs=1 "
              "seek=0 conv=notrunc 2>/dev/null; fi; done",
              dir),
        0);
    ck_assert_int_eq(verify(a), 1);
    ck_assert_msg(err_has("(model): sha256"), "the model layer is named");
    ck_assert_msg(err_has("FAILED model layer"), "the model layer's GGUF is refused");
    /* garbage manifest, unknown model */
    ck_assert_int_eq(
        tc_sh("echo '{\"layers\": 3}' > '%s/models/manifests/registry.ollama.ai/library/"
              "tiny/latest'",
              dir),
        0);
    ck_assert_int_eq(verify(a), 3);
    ck_assert_int_eq(
        tc_sh("OLLAMA_MODELS='%s/models' '%s' verify --ollama nope 2>/dev/null", dir, TC_BIN), 4);
    tc_rm_rf(dir);
}
END_TEST

Suite *store_suite(void)
{
    Suite *s = suite_create("store");
    TCase *tc = tcase_create("store");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_hf_cache_ok_and_corrupt);
    tcase_add_test(tc, test_hf_cache_dangling_and_refs);
    tcase_add_test(tc, test_hf_local_dir);
    tcase_add_test(tc, test_ollama);
    suite_add_tcase(s, tc);
    return s;
}
