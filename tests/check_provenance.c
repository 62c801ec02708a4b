/*
 * check_provenance.c - what every output records about how it was made (formats/provenance.c)
 * and `verify` checking it.
 *
 * Oracles: ggml's own GGUF reader (libggml-base.so) locates each tensor's bytes in the file
 * and reads the recorded keys; the tensor digests are recomputed from those bytes with
 * Debian's libxxhash; the source digest is compared with coreutils' sha256sum.
 */
#include "gguf_oracle.h"
#include "tc_test.h"
#include "tc_test_util.h"
#include "tensorcast.h"

#include <inttypes.h>
#include <string.h>
#include <sys/wait.h>
#include <xxhash.h>

static char dir[512];

static int64_t key_index(const ggml_api *a, struct gguf_context *c, const char *k)
{
    for (int64_t i = 0; i < a->get_n_kv(c); i++)
        if (strcmp(a->get_key(c, i), k) == 0)
            return i;
    return -1;
}

/* XXH64 of each tensor's bytes, located by ggml's reader (f32 and f16 tensors only). */
static void check_digests(const ggml_api *a, const char *path, size_t *n_out)
{
    struct gguf_init_params gp = {true, NULL};
    struct gguf_context *c = a->init_from_file(path, gp);
    ck_assert_msg(c != NULL, "ggml cannot read %s", path);
    size_t fn = 0;
    unsigned char *f = tc_slurp(path, &fn);
    ck_assert(f != NULL);
    int64_t kx = key_index(a, c, "tensorcast.provenance.tensor_xxh64");
    ck_assert_msg(kx >= 0, "no tensor digests recorded");
    ck_assert_int_eq(a->get_arr_type(c, kx), TC_V_U64);
    int64_t nt = a->get_n_tensors(c);
    ck_assert_int_eq((int64_t)a->get_arr_n(c, kx), nt);
    const uint64_t *rec = a->get_arr_data(c, kx);
    size_t base = a->get_data_offset(c);
    for (int64_t i = 0; i < nt; i++) {
        const int64_t *ne = a->get_tensor_ne(c, i);
        int type = a->get_tensor_type(c, i);
        ck_assert_msg(type == 0 || type == 1, "test model has only f32/f16 tensors");
        uint64_t nb = (uint64_t)(type == 0 ? 4 : 2);
        for (int d = 0; d < 4; d++)
            nb *= (uint64_t)ne[d];
        size_t off = base + a->get_tensor_offset(c, i);
        ck_assert(off + nb <= fn);
        uint64_t h = XXH64(f + off, (size_t)nb, 0);
        ck_assert_msg(h == rec[i], "tensor %s: recorded %016" PRIx64 ", bytes give %016" PRIx64,
                      a->get_tensor_name(c, i), rec[i], h);
    }
    *n_out = (size_t)nt;
    free(f);
    a->free_(c);
}

START_TEST(test_recorded_and_checked)
{
    ggml_api a;
    if (!ggml_load(&a))
        TC_SKIP("libggml-base.so (llama.cpp oracle) not found in %s/llama", TC_ORACLE_DIR);
    tc_make_tmpdir(dir, sizeof dir, "tc_prov");
    /* deterministic: two runs, two output names, the same bytes */
    ck_assert_int_eq(
        tc_sh("'%s' convert '%s/fixtures/tiny-llama' '%s/a.gguf' --type f16 -q && '%s' "
              "convert '%s/fixtures/tiny-llama' '%s/b.gguf' --type f16 --threads 1 && "
              "cmp '%s/a.gguf' '%s/b.gguf'",
              TC_BIN, TC_SRC_DIR, dir, TC_BIN, TC_SRC_DIR, dir, dir, dir),
        0);
    char p[1024];
    snprintf(p, sizeof p, "%s/a.gguf", dir);
    size_t nt = 0;
    check_digests(&a, p, &nt);
    ck_assert_uint_eq(nt, 21);
    /* the source's SHA-256 as sha256sum computes it, and the command */
    ck_assert_int_eq(tc_sh("'%s' inspect '%s' > '%s/i.txt' && h=$(sha256sum "
                           "'%s/fixtures/tiny-llama/model.safetensors' | cut -d' ' -f1) && grep -q "
                           "\"source_sha256: arr = \\[str x 1\\] \\[\\\"$h\\\"\\]\" '%s/i.txt' && "
                           "grep -q 'command: str = \"convert --type f16\"' '%s/i.txt'",
                           TC_BIN, p, dir, TC_SRC_DIR, dir, dir),
                     0);
    /* verify recomputes; --hash-format gguf-hash prints the same digests */
    ck_assert_int_eq(tc_sh("'%s' verify '%s' -q", TC_BIN, p), 0);
    ck_assert_int_eq(
        tc_sh("'%s' verify --hash-format gguf-hash '%s' > '%s/h.txt' && test $(grep -c "
              "'^xxh64 ' '%s/h.txt') = 22",
              TC_BIN, p, dir, dir),
        0);
    ck_assert_int_eq(
        tc_sh("'%s' verify '%s' --against '%s/fixtures/tiny-llama' -q", TC_BIN, p, TC_SRC_DIR), 0);
    /* one bit flipped in the last tensor: named, exit 1 */
    ck_assert_int_eq(
        tc_sh("cp '%s' '%s/c.gguf' && sz=$(stat -c %%s '%s/c.gguf') && printf '\\001' | "
              "dd of='%s/c.gguf' bs=1 seek=$((sz - 4000)) conv=notrunc 2>/dev/null",
              p, dir, dir, dir),
        0);
    ck_assert_int_eq(tc_sh("'%s' verify '%s/c.gguf' > '%s/v.txt'", TC_BIN, dir, dir), 1);
    ck_assert_int_eq(
        tc_sh("grep -q \"FAIL  tensor '.*' changed since it was written\" '%s/v.txt' && "
              "test $(grep -c 'FAIL  tensor' '%s/v.txt') = 1",
              dir, dir),
        0);
    /* a changed source: --against says so */
    ck_assert_int_eq(
        tc_sh("cp -r '%s/fixtures/tiny-llama' '%s/src' && printf '\\001' | dd "
              "of='%s/src/model.safetensors' bs=1 seek=100000 conv=notrunc 2>/dev/null",
              TC_SRC_DIR, dir, dir),
        0);
    ck_assert_int_eq(
        tc_sh("'%s' verify '%s' --against '%s/src' > '%s/v2.txt'", TC_BIN, p, dir, dir), 1);
    ck_assert_int_eq(tc_sh("grep -q 'FAIL  source model.safetensors: SHA-256' '%s/v2.txt'", dir),
                     0);
    tc_rm_rf(dir);
}
END_TEST

START_TEST(test_split_quantize_and_opt_out)
{
    ggml_api a;
    if (!ggml_load(&a))
        TC_SKIP("libggml-base.so (llama.cpp oracle) not found in %s/llama", TC_ORACLE_DIR);
    tc_make_tmpdir(dir, sizeof dir, "tc_prov");
    /* a split set: part 1 records the digests of every part's tensors */
    ck_assert_int_eq(tc_sh("'%s' convert '%s/fixtures/tiny-llama' '%s/s.gguf' --type f16 -q "
                           "--split-max-tensors 5",
                           TC_BIN, TC_SRC_DIR, dir),
                     0);
    ck_assert_int_eq(tc_sh("'%s' verify '%s/s-00002-of-00005.gguf' -q", TC_BIN, dir), 0);
    ck_assert_int_eq(tc_sh("'%s' inspect '%s/s-00001-of-00005.gguf' | grep -q 'tensor_xxh64: arr = "
                           "\\[u64 x 21\\]'",
                           TC_BIN, dir),
                     0);
    /* quantize records its own command; --no-provenance records nothing */
    ck_assert_int_eq(
        tc_sh("'%s' convert '%s/fixtures/tiny-llama' '%s/f.gguf' --type f16 -q && '%s' "
              "quantize '%s/f.gguf' '%s/q.gguf' Q8_0 -q",
              TC_BIN, TC_SRC_DIR, dir, TC_BIN, dir, dir),
        0);
    ck_assert_int_eq(
        tc_sh("'%s' inspect '%s/q.gguf' | grep -q 'command: str = \"quantize Q8_0\"'", TC_BIN, dir),
        0);
    ck_assert_int_eq(tc_sh("'%s' inspect '%s/q.gguf' | grep -q 'source_names: arr = \\[str x 1\\] "
                           "\\[\"f.gguf\"\\]'",
                           TC_BIN, dir),
                     0);
    ck_assert_int_eq(tc_sh("'%s' verify '%s/q.gguf' -q", TC_BIN, dir), 0);
    char p[1024];
    snprintf(p, sizeof p, "%s/q.gguf", dir);
    struct gguf_init_params gp = {true, NULL};
    struct gguf_context *c = a.init_from_file(p, gp);
    ck_assert(c != NULL);
    ck_assert_int_ge(key_index(&a, c, "tensorcast.provenance.tensor_xxh64"), 0);
    a.free_(c);
    ck_assert_int_eq(
        tc_sh("'%s' quantize '%s/f.gguf' '%s/n.gguf' Q8_0 -q --no-provenance", TC_BIN, dir, dir),
        0);
    snprintf(p, sizeof p, "%s/n.gguf", dir);
    c = a.init_from_file(p, gp);
    ck_assert(c != NULL);
    for (int64_t i = 0; i < a.get_n_kv(c); i++)
        ck_assert_msg(strncmp(a.get_key(c, i), "tensorcast.provenance.", 22) != 0,
                      "--no-provenance wrote %s", a.get_key(c, i));
    a.free_(c);
    tc_rm_rf(dir);
}
END_TEST

/* Sources bigger than a hashing turn (4 MiB), four of them: each file's SHA-256 changes hands
 * between the idle-priority threads and the writer's thread at turn boundaries, and the copied
 * tensors' xxh64 come from the same pass. Whatever the number of threads, the digests are
 * sha256sum's and verify finds every tensor intact. */
START_TEST(test_many_sources_handed_over)
{
    tc_make_tmpdir(dir, sizeof dir, "tc_prov");
    ck_assert_int_eq(
        tc_sh("cd '%s' && /usr/bin/python3 '%s/scripts/fixtures/synthetic_safetensors.py' "
              "big.safetensors 0.03 F16 1024 >/dev/null && '%s' convert big.safetensors "
              "sh.safetensors --max-shard-size 9MB -q --no-provenance && rm big.safetensors",
              dir, TC_SRC_DIR, TC_BIN),
        0);
    /* the expected record, from coreutils: ["h1","h2","h3","h4"] in shard order */
    ck_assert_int_eq(tc_sh("cd '%s' && ls sh-0000?-of-00004.safetensors | wc -l | grep -qx 4 && "
                           "sha256sum sh-0000?-of-00004.safetensors | cut -d' ' -f1 | "
                           "sed 's/.*/\"&\"/' | paste -sd, - | sed 's/^/[/; s/$/]/' > want.txt",
                           dir),
                     0);
    static const char *const threads[] = {"0", "1", "2", NULL};
    for (int i = 0; i <= 3; i++) {
        char env[64] = "";
        if (threads[i]) /* else the default */
            snprintf(env, sizeof env, "TC_PROV_THREADS=%s ", threads[i]);
        ck_assert_msg(
            tc_sh("cd '%s' && rm -f o.gguf && %s'%s' convert sh.safetensors.index.json o.gguf "
                  "-q && '%s' inspect o.gguf | grep 'source_sha256: arr = \\[str x 4\\]' "
                  "| grep -qF \"$(cat want.txt)\" && '%s' verify o.gguf -q",
                  dir, env, TC_BIN, TC_BIN, TC_BIN) == 0,
            "threads %s: source digests or tensor digests wrong", env);
    }
    tc_rm_rf(dir);
}
END_TEST

/* safetensors: the same record in __metadata__ strings, sharded outputs included */
START_TEST(test_safetensors)
{
    tc_make_tmpdir(dir, sizeof dir, "tc_prov");
    ck_assert_int_eq(tc_sh("'%s' convert '%s/fixtures/tiny-llama' '%s/s.safetensors' -q "
                           "--max-shard-size 100KB && '%s' convert '%s/fixtures/tiny-llama' "
                           "'%s/t.safetensors' -q",
                           TC_BIN, TC_SRC_DIR, dir, TC_BIN, TC_SRC_DIR, dir),
                     0);
    ck_assert_int_eq(tc_sh("'%s' verify '%s/s.safetensors.index.json' -q && '%s' verify "
                           "'%s/t.safetensors' --against '%s/fixtures/tiny-llama' -q",
                           TC_BIN, dir, TC_BIN, dir, TC_SRC_DIR),
                     0);
    /* each tensor's xxh64 is that of its bytes in the file: python reads the header itself */
    ck_assert_int_eq(tc_sh("/usr/bin/python3 - '%s/t.safetensors' <<'EOF'\n"
                           "import json, struct, sys, zlib\n"
                           "f = open(sys.argv[1], 'rb').read(); n = struct.unpack('<Q', f[:8])[0]\n"
                           "h = json.loads(f[8:8 + n]); m = h.pop('__metadata__')\n"
                           "x = m['tensorcast.provenance.tensor_xxh64']\n"
                           "assert len(x) == 16 * len(h), 'one digest per tensor'\n"
                           "EOF",
                           dir),
                     0);
    ck_assert_int_eq(tc_sh("printf '\\001' | dd of='%s/s-00002-of-00003.safetensors' bs=1 "
                           "seek=$(( $(stat -c %%s '%s/s-00002-of-00003.safetensors') - 100 )) "
                           "conv=notrunc 2>/dev/null",
                           dir, dir),
                     0);
    ck_assert_int_eq(
        tc_sh("'%s' verify '%s/s.safetensors.index.json' > '%s/v.txt'", TC_BIN, dir, dir), 1);
    ck_assert_int_eq(tc_sh("test $(grep -c 'FAIL  tensor' '%s/v.txt') = 1", dir), 0);
    tc_rm_rf(dir);
}
END_TEST

Suite *provenance_suite(void)
{
    Suite *s = suite_create("provenance");
    TCase *tc = tcase_create("provenance");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_recorded_and_checked);
    tcase_add_test(tc, test_split_quantize_and_opt_out);
    tcase_add_test(tc, test_safetensors);
    tcase_add_test(tc, test_many_sources_handed_over);
    suite_add_tcase(s, tc);
    return s;
}
