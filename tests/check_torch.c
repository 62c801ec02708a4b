/* check_torch.c - PyTorch checkpoints against real PyTorch: scripts/fixtures/torch_checkpoints.py
 * writes checkpoints with torch.save (every dtype, views, transposes, slices, tied weights, nested
 * dicts, legacy format, protocols 2/4/5, zip64, big-endian, shards) and the sha256 of every
 * tensor's bytes as torch sees them; here every tensor read through tc_tensor_read must match.
 * Malicious pickles must be rejected without running anything (a canary file stays absent).
 * Also: the zip reader (CRC-32, caps), the pickle machine on hand-written opcodes, mutation and
 * allocation-failure walks. */
#include "pickle.h"
#include "tc_test_util.h"
#include "zip.h"

#include <dirent.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmpdir[256];
static const char *python;

/* A python3 that can import torch (Debian's python3-torch lives in /usr/bin/python3). */
static int find_python(void)
{
    python = tc_find_python("torch, numpy");
    return python != NULL;
}

/* Generate the fixtures once into $TC_BUILD_DIR/torch_fixtures (again when the script is newer
 * than the manifest); 0 when python/torch are missing. */
static int make_fixtures(void)
{
    snprintf(tmpdir, sizeof tmpdir, "%s/torch_fixtures", tc_test_env("TC_BUILD_DIR", "/tmp"));
    char script[512], manifest[600];
    snprintf(script, sizeof script, "%s/scripts/fixtures/torch_checkpoints.py", TC_SRC_DIR);
    snprintf(manifest, sizeof manifest, "%s/manifest.json", tmpdir);
    struct stat ss, ms;
    ck_assert_int_eq(stat(script, &ss), 0);
    if (stat(manifest, &ms) == 0 && ms.st_mtime > ss.st_mtime)
        return 1;
    if (!find_python())
        return 0;
    tc_rm_rf(tmpdir);
    char cmd[1400];
    snprintf(cmd, sizeof cmd, "%s '%s' '%s'", python, script, tmpdir);
    ck_assert_msg(system(cmd) == 0, "torch_checkpoints.py failed: %s", cmd);
    return 1;
}

static json_t *load_manifest(void)
{
    char p[512];
    snprintf(p, sizeof p, "%s/manifest.json", tmpdir);
    json_error_t je;
    json_t *j = json_load_file(p, 0, &je);
    ck_assert_msg(j != NULL, "manifest: %s", je.text);
    return j;
}

static void sha256_hex(const void *p, size_t n, char out[65])
{
    unsigned char md[32];
    unsigned int len = 0;
    EVP_Digest(p, n, md, &len, EVP_sha256(), NULL);
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static int has_note(const tc_graph *g, const char *s)
{
    for (size_t i = 0; i < tc_graph_n_notes(g); i++)
        if (strstr(tc_graph_note(g, i), s))
            return 1;
    return 0;
}

/* Every tensor of `g` must match the manifest entry (names, dtype, shape, bytes). */
static void check_tensors(const char *path, const tc_graph *g, json_t *want)
{
    ck_assert_msg(tc_graph_n_tensors(g) == json_object_size(want), "%s: %zu tensors, want %zu",
                  path, tc_graph_n_tensors(g), json_object_size(want));
    const char *name;
    json_t *w;
    json_object_foreach(want, name, w)
    {
        const tc_tensor *t = tc_graph_find(g, name);
        ck_assert_msg(t != NULL, "%s: tensor '%s' missing", path, name);
        const char *dt = json_string_value(json_object_get(w, "dtype"));
        ck_assert_msg(strcmp(tc_dtype_get(tc_tensor_dtype(t))->st_name, dt) == 0,
                      "%s: '%s' dtype %s, want %s", path, name,
                      tc_dtype_get(tc_tensor_dtype(t))->st_name, dt);
        json_t *shape = json_object_get(w, "shape");
        ck_assert_int_eq(tc_tensor_n_dims(t), (int)json_array_size(shape));
        for (int i = 0; i < tc_tensor_n_dims(t); i++)
            ck_assert_int_eq(tc_tensor_shape(t)[i], json_integer_value(json_array_get(shape, i)));
        uint64_t nb = tc_tensor_nbytes(t);
        uint8_t *buf = malloc(nb ? nb : 1);
        tc_err e = {0};
        ck_assert_msg(tc_tensor_read(t, 0, tc_tensor_n_elements(t), buf, &e) == TC_OK, "%s: %s",
                      path, e.msg);
        /* also read in uneven pieces through the same source (lazy gather restarts mid-row) */
        uint64_t ne = tc_tensor_n_elements(t), es = nb / (ne ? ne : 1);
        uint8_t *buf2 = malloc(nb ? nb : 1);
        for (uint64_t e0 = 0; e0 < ne;) {
            uint64_t n = 3 + e0 % 5;
            if (n > ne - e0)
                n = ne - e0;
            ck_assert_int_eq(tc_tensor_read(t, e0, n, buf2 + e0 * es, &e), TC_OK);
            e0 += n;
        }
        ck_assert(nb == 0 || memcmp(buf, buf2, nb) == 0);
        char hex[65];
        sha256_hex(buf, nb, hex);
        ck_assert_msg(strcmp(hex, json_string_value(json_object_get(w, "sha256"))) == 0,
                      "%s: tensor '%s' bytes differ from torch's", path, name);
        free(buf);
        free(buf2);
    }
}

START_TEST(torch_matches_pytorch)
{
    if (!make_fixtures())
        TC_SKIP("python3 with torch and numpy not found (apt install python3-torch)");
    json_t *m = load_manifest();
    json_t *good = json_object_get(m, "good"), *c;
    size_t i;
    ck_assert_int_ge(json_array_size(good), 15);
    json_array_foreach(good, i, c)
    {
        char p[600];
        snprintf(p, sizeof p, "%s/%s", tmpdir, json_string_value(json_object_get(c, "path")));
        tc_graph *g = NULL;
        tc_err e = {0};
        ck_assert_msg(tc_read(p, &g, NULL, &e) == TC_OK, "%s: %s", p, e.msg);
        ck_assert_str_eq(tc_graph_format(g), "torch");
        check_tensors(p, g, json_object_get(c, "tensors"));
        json_t *note;
        size_t k;
        json_array_foreach(json_object_get(c, "notes"), k, note) ck_assert_msg(
            has_note(g, json_string_value(note)), "%s: no note '%s'", p, json_string_value(note));
        tc_graph_free(g);
    }
    json_decref(m);
}
END_TEST

/* Contiguous views are plain file ranges (tied weights: the same one); strided ones are not. */
START_TEST(torch_views_mapped_in_place)
{
    if (!make_fixtures())
        TC_SKIP("python3 with torch and numpy not found (apt install python3-torch)");
    static const char *const files[] = {"good/views.pt", "good/views_legacy.pt"};
    for (int f = 0; f < 2; f++) {
        char p[600];
        snprintf(p, sizeof p, "%s/%s", tmpdir, files[f]);
        tc_graph *g = NULL;
        tc_err e = {0};
        ck_assert_msg(tc_read(p, &g, NULL, &e) == TC_OK, "%s", e.msg);
        const tc_map *mp;
        uint64_t base, off, off2;
        ck_assert(tc_tensor_mapped(tc_graph_find(g, "base"), &mp, &base));
        ck_assert(tc_tensor_mapped(tc_graph_find(g, "rows"), &mp, &off));
        ck_assert_uint_eq(off, base + 2 * 8 * 4); /* base[2:5]: storage offset 16 floats */
        ck_assert(tc_tensor_mapped(tc_graph_find(g, "row_vec"), &mp, &off));
        ck_assert_uint_eq(off, base + 3 * 8 * 4);
        ck_assert(tc_tensor_mapped(tc_graph_find(g, "elem"), &mp, &off));
        ck_assert_uint_eq(off, base + (1 * 8 + 2) * 4);
        ck_assert(tc_tensor_mapped(tc_graph_find(g, "embed.weight"), &mp, &off));
        ck_assert(tc_tensor_mapped(tc_graph_find(g, "lm_head.weight"), &mp, &off2));
        ck_assert_uint_eq(off, off2);
        static const char *const lazy[] = {"transpose", "cols",   "step",
                                           "permute",   "expand", "half_t"};
        for (size_t i = 0; i < sizeof lazy / sizeof lazy[0]; i++)
            ck_assert_msg(!tc_tensor_mapped(tc_graph_find(g, lazy[i]), &mp, &off),
                          "%s should be a lazy gather", lazy[i]);
        tc_graph_free(g);
    }
}
END_TEST

static tc_status status_of(const char *s)
{
    static const struct {
        const char *n;
        tc_status s;
    } t[] = {{"FORMAT", TC_E_FORMAT},
             {"UNSUPPORTED", TC_E_UNSUPPORTED},
             {"LIMIT", TC_E_LIMIT},
             {"UNSAFE", TC_E_UNSAFE}};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (strcmp(t[i].n, s) == 0)
            return t[i].s;
    ck_abort_msg("unknown status %s", s);
    return TC_OK;
}

/* Malicious and malformed checkpoints: the expected status and message, nothing executed. */
START_TEST(torch_rejects_bad)
{
    if (!make_fixtures())
        TC_SKIP("python3 with torch and numpy not found (apt install python3-torch)");
    json_t *m = load_manifest();
    const char *canary = json_string_value(json_object_get(m, "canary"));
    json_t *bad = json_object_get(m, "bad"), *c;
    size_t i;
    ck_assert_int_ge(json_array_size(bad), 20);
    json_array_foreach(bad, i, c)
    {
        char p[600];
        snprintf(p, sizeof p, "%s/%s", tmpdir, json_string_value(json_object_get(c, "path")));
        tc_graph *g = NULL;
        tc_err e = {0};
        tc_status want = status_of(json_string_value(json_object_get(c, "status")));
        tc_status rc = tc_read(p, &g, NULL, &e);
        ck_assert_msg(rc == want, "%s: status %d (%s), want %d", p, rc, e.msg, want);
        ck_assert_ptr_null(g);
        const char *sub = json_string_value(json_object_get(c, "substr"));
        ck_assert_msg(strstr(e.msg, sub) != NULL, "%s: message '%s' lacks '%s'", p, e.msg, sub);
        ck_assert_msg(strstr(e.msg, json_string_value(json_object_get(c, "path")) + 4) != NULL,
                      "%s: message '%s' does not name the file", p, e.msg);
    }
    ck_assert_msg(access(canary, F_OK) != 0, "canary %s exists: something ran", canary);
    json_decref(m);
}
END_TEST

/* A checkpoint saved by real PyTorch whose non-tensor entry is an object of a class tensorcast
 * does not know (the training script's): the tensors read, the entry is skipped and listed
 * with its global, and nothing ran. A pickle built by such a global at the top is refused. */
static tc_status pk_run(tc_pk *pk, const void *b, size_t n, tc_pkobj **out, tc_err *e);

START_TEST(torch_placeholder_globals)
{
    char p[512];
    snprintf(p, sizeof p, "%s/fixtures/torch/placeholder.pt", TC_SRC_DIR);
    tc_graph *g = NULL;
    tc_err e = {0};
    ck_assert_msg(tc_read(p, &g, NULL, &e) == TC_OK, "%s", e.msg);
    ck_assert_uint_eq(tc_graph_n_tensors(g), 1);
    const tc_tensor *t = tc_graph_find(g, "w");
    ck_assert_ptr_nonnull(t);
    float v[2] = {0, 0};
    ck_assert(tc_tensor_read(t, 0, 2, v, &e) == TC_OK);
    ck_assert(v[0] == 1.0f && v[1] == 1.0f);
    int listed = 0;
    for (size_t i = 0; i < tc_graph_n_notes(g); i++)
        listed |= strstr(tc_graph_note(g, i), "'obj' (__main__.Unknown, not run)") != NULL &&
                  strstr(tc_graph_note(g, i), "'best_acc'") != NULL;
    ck_assert_msg(listed, "no note lists the skipped 'obj' with its global");
    tc_graph_free(g);

    /* in the machine itself: a placeholder that knows its name, and calls on it stay inert */
    tc_pk *pk = tc_pk_new();
    ck_assert_ptr_nonnull(pk);
    tc_pkobj *o = NULL;
    static const char ph[] = "\x80\x02"
                             "cnumpy.core.multiarray\nscalar\n)R.";
    ck_assert_msg(pk_run(pk, ph, sizeof ph - 1, &o, &e) == TC_OK, "%s", e.msg);
    ck_assert_int_eq(o->kind, TC_PK_CALL);
    ck_assert_int_eq(o->call.fn->g.sym, TC_PK_SYM_OPAQUE);
    ck_assert_str_eq(tc_pk_opaque_in(o, 4), "numpy.core.multiarray.scalar");
    tc_pk_free(pk);
}
END_TEST

/* The committed fixtures/torch/bad/ cases through the library (check_cli runs them via the CLI). */
START_TEST(torch_committed_bad)
{
    const char *canary = "/tmp/tc_canary_committed_fixture";
    unlink(canary);
    char dir[512];
    snprintf(dir, sizeof dir, "%s/fixtures/torch/bad", TC_SRC_DIR);
    ck_assert_int_ge(tc_check_bad_dir(dir, 0, NULL, NULL), 15);
    ck_assert_msg(access(canary, F_OK) != 0, "canary exists: something ran");
}
END_TEST

/* ===== zip reader ===== */

START_TEST(zip_crc_and_caps)
{
    if (!make_fixtures())
        TC_SKIP("python3 with torch and numpy not found (apt install python3-torch)");
    static const char *const files[] = {"good/views.pt", "good/views_zip64.pt",
                                        "good/views_deflated_pkl.pt"};
    for (int f = 0; f < 3; f++) {
        char p[600];
        snprintf(p, sizeof p, "%s/%s", tmpdir, files[f]);
        size_t n;
        uint8_t *b = tc_slurp_ok(p, &n);
        tc_map *m;
        tc_zip *z;
        tc_err e = {0};
        ck_assert_int_eq(tc_map_memory(b, n, p, &m, &e), TC_OK);
        ck_assert_msg(tc_zip_open(m, &z, &e) == TC_OK, "%s", e.msg);
        ck_assert_uint_ge(tc_zip_count(z), 3);
        const tc_zip_entry *st = tc_zip_find(z, "views/data/0");
        ck_assert_ptr_nonnull(st);
        ck_assert_ptr_null(tc_zip_find(z, "views/data/999"));
        for (size_t i = 0; i < tc_zip_count(z); i++)
            ck_assert_msg(tc_zip_check_crc(z, tc_zip_at(z, i), &e) == TC_OK, "%s", e.msg);
        const tc_zip_entry *pk = tc_zip_find(z, "views/data.pkl");
        uint8_t *out;
        uint64_t on;
        ck_assert_int_eq(tc_zip_extract(z, pk, pk->usize, &out, &on, &e), TC_OK);
        ck_assert_uint_eq(on, pk->usize);
        ck_assert_uint_eq(out[0], 0x80); /* PROTO */
        tc_free(out);
        tc_err_clear(&e);
        ck_assert_int_eq(tc_zip_extract(z, pk, pk->usize - 1, &out, &on, &e), TC_E_LIMIT);
        /* corrupt one byte of the stored storage: only the CRC check notices */
        uint64_t off;
        ck_assert_int_eq(tc_zip_stored_off(z, st, &off, &e), TC_OK);
        b[off + 3] ^= 0x40;
        tc_err_clear(&e);
        ck_assert_int_eq(tc_zip_check_crc(z, st, &e), TC_E_CHECKSUM);
        ck_assert_ptr_nonnull(strstr(e.msg, "views/data/0"));
        if (f == 2) {
            /* a size claim no deflate stream could meet is refused before allocating */
            tc_zip_entry forged = *pk;
            forged.usize = pk->csize * 2000;
            tc_err_clear(&e);
            ck_assert_int_eq(tc_zip_extract(z, &forged, UINT64_MAX, &out, &on, &e), TC_E_FORMAT);
            ck_assert_ptr_nonnull(strstr(e.msg, "claims"));
            /* corrupt the deflate stream of data.pkl */
            memset(b + pk->data_off, 0xff, 8);
            tc_err_clear(&e);
            ck_assert_int_ne(tc_zip_check_crc(z, pk, &e), TC_OK);
        }
        tc_zip_free(z);
        tc_map_unref(m);
        free(b);
    }
}
END_TEST

/* Hand-made archives: forged counts and offsets are errors, not allocations or reads. */
START_TEST(zip_malformed)
{
    /* one stored entry "a/b" = "hi", written by hand (APPNOTE layout) */
    uint8_t z[200];
    size_t n = 0;
    const uint8_t lh[] = {'P',  'K',  3,    4, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xac,
                          0x2a, 0x93, 0xd8, 2, 0,  0, 0, 2, 0, 0, 0, 3, 0, 0, 0};
    memcpy(z, lh, sizeof lh);
    n = sizeof lh;
    memcpy(z + n, "a/bhi", 5);
    n += 5;
    size_t cd = n;
    const uint8_t ch[] = {'P',  'K',  1,    2,    20, 0, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                          0xac, 0x2a, 0x93, 0xd8, 2,  0, 0,  0, 2, 0, 0, 0, 3, 0, 0, 0,
                          0,    0,    0,    0,    0,  0, 0,  0, 0, 0, 0, 0, 0, 0};
    memcpy(z + n, ch, sizeof ch);
    n += sizeof ch;
    memcpy(z + n, "a/b", 3);
    n += 3;
    size_t eo = n;
    const uint8_t er[] = {'P', 'K', 5, 6, 0, 0, 0, 0, 1, 0, 1, 0, 49, 0, 0, 0, 35, 0, 0, 0, 0, 0};
    memcpy(z + n, er, sizeof er);
    n += sizeof er;
    ck_assert_uint_eq(cd, 35);
    tc_err e = {0};
    tc_map *m;
    tc_zip *zp;
    ck_assert_int_eq(tc_map_memory(z, n, "hand.zip", &m, &e), TC_OK);
    ck_assert_msg(tc_zip_open(m, &zp, &e) == TC_OK, "%s", e.msg);
    ck_assert_int_eq(tc_zip_check_crc(zp, tc_zip_find(zp, "a/b"), &e), TC_OK); /* crc32("hi") */
    tc_zip_free(zp);
    tc_map_unref(m);
    const struct {
        size_t at[2]; /* bytes to patch (0: none) */
        uint8_t v;
        tc_status want;
        const char *sub;
    } cases[] = {
        {{eo + 8, eo + 10}, 0xff, TC_E_FORMAT, "entries cannot fit"}, /* forged entry count */
        {{eo + 8, 0}, 2, TC_E_UNSUPPORTED, "multi-disk"},             /* disk counts differ */
        {{eo + 16, 0}, 200, TC_E_FORMAT, "runs past its end record"}, /* directory offset */
        {{cd + 42, 0}, 9, TC_E_FORMAT, "local header"},               /* local header offset */
        {{cd + 20, 0}, 99, TC_E_FORMAT, "compressed size"},           /* stored csize != usize */
        {{cd + 20, cd + 24}, 50, TC_E_FORMAT, "runs past the central directory"},
        {{cd + 10, 0}, 12, TC_E_UNSUPPORTED, "compression method"}, /* bzip2 */
        {{cd + 8, 0}, 1, TC_E_UNSUPPORTED, "encrypted"},
        {{30, 0}, 'x', TC_E_FORMAT, "does not match"}, /* local name differs */
        {{cd + 46, 0}, 0, TC_E_FORMAT, "NUL byte"},
        {{eo + 20, 0}, 1, TC_E_FORMAT, "no end-of-central-directory"}, /* comment past the end */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t c[200];
        memcpy(c, z, n);
        for (int k = 0; k < 2; k++)
            if (cases[i].at[k])
                c[cases[i].at[k]] = cases[i].v;
        tc_err_clear(&e);
        ck_assert_int_eq(tc_map_memory(c, n, "hand.zip", &m, &e), TC_OK);
        zp = NULL;
        tc_status rc = tc_zip_open(m, &zp, &e);
        ck_assert_msg(rc == cases[i].want && strstr(e.msg, cases[i].sub) &&
                          strstr(e.msg, "hand.zip"),
                      "case %zu: %d '%s', want %d '%s'", i, rc, e.msg, cases[i].want, cases[i].sub);
        ck_assert_ptr_null(zp);
        tc_map_unref(m);
    }
    /* every truncation is a clean error */
    for (size_t l = 0; l < n; l++) {
        tc_err_clear(&e);
        ck_assert_int_eq(tc_map_memory(z, l, "cut.zip", &m, &e), TC_OK);
        ck_assert_int_eq(tc_zip_open(m, &zp, &e), TC_E_FORMAT);
        tc_map_unref(m);
    }
}
END_TEST

/* ===== pickle machine ===== */

static tc_status pk_run(tc_pk *pk, const void *b, size_t n, tc_pkobj **out, tc_err *e)
{
    return tc_pk_load(pk, b, n, "t.pkl", 0, NULL, out, e);
}

/* Python's pickle.dumps([{1, 2}, frozenset([3]), bytearray(b"ab"), b"xy", (1.5, None, True),
 * -12345678901234, 2**70, "\u00e9"], protocol=2), written by torch_checkpoints.py --seeds. */
START_TEST(pickle_python_containers)
{
    char p[512];
    snprintf(p, sizeof p, "%s/fixtures/fuzz/pickle/containers", TC_SRC_DIR);
    size_t n;
    uint8_t *b = tc_slurp_ok(p, &n);
    tc_pk *pk = tc_pk_new();
    tc_pkobj *o;
    tc_err e = {0};
    ck_assert_msg(pk_run(pk, b, n, &o, &e) == TC_OK, "%s", e.msg);
    ck_assert_int_eq(o->kind, TC_PK_LIST);
    ck_assert_uint_eq(o->seq.n, 8);
    tc_pkobj **v = o->seq.v;
    ck_assert_int_eq(v[0]->kind, TC_PK_SET);
    ck_assert_uint_eq(v[0]->seq.n, 2);
    ck_assert_int_eq(v[0]->seq.v[0]->i + v[0]->seq.v[1]->i, 3);
    ck_assert_int_eq(v[1]->kind, TC_PK_SET);
    ck_assert_int_eq(v[1]->seq.v[0]->i, 3);
    ck_assert_int_eq(v[2]->kind, TC_PK_BYTES); /* bytearray via _codecs.encode in protocol 2 */
    ck_assert_uint_eq(v[2]->s.n, 2);
    ck_assert_mem_eq(v[2]->s.p, "ab", 2);
    ck_assert_int_eq(v[3]->kind, TC_PK_BYTES);
    ck_assert_mem_eq(v[3]->s.p, "xy", 2);
    ck_assert_int_eq(v[4]->kind, TC_PK_TUPLE);
    ck_assert(v[4]->seq.v[0]->kind == TC_PK_FLOAT && v[4]->seq.v[0]->f == 1.5);
    ck_assert_int_eq(v[4]->seq.v[1]->kind, TC_PK_NONE);
    ck_assert(v[4]->seq.v[2]->kind == TC_PK_BOOL && v[4]->seq.v[2]->i == 1);
    ck_assert(v[5]->kind == TC_PK_INT && v[5]->i == -12345678901234LL);
    ck_assert(v[6]->kind == TC_PK_BIGINT && v[6]->s.n == 9 && v[6]->s.p[8] == 0x40);
    ck_assert(v[7]->kind == TC_PK_STR && v[7]->s.n == 2 && v[7]->s.p[0] == 0xc3);
    tc_pk_free(pk);
    free(b);
}
END_TEST

/* Opcodes written by hand, expected values from the pickle spec (CPython pickletools). */
START_TEST(pickle_opcodes)
{
    /* protocol 0: [1, False, 123, <the list itself>] through PUT/GET */
    static const char p0[] = "(lp0\nI1\naI00\naL123L\nag0\na.";
    /* protocol 4: OrderedDict() via STACK_GLOBAL + MEMOIZE, d['k'] = {1, 2} (EMPTY_SET,
     * ADDITEMS), DUP/POP, MARK None None POP_MARK, a BINFLOAT -2.5 under key 'f' */
    static const uint8_t p4[] = {
        0x80, 4,    0x95, 60,   0,   0,   0,    0,    0,    0,    0,   0x8c, 11,   'c', 'o', 'l',
        'l',  'e',  'c',  't',  'i', 'o', 'n',  's',  0x94, 0x8c, 11,  'O',  'r',  'd', 'e', 'r',
        'e',  'd',  'D',  'i',  'c', 't', 0x94, 0x93, 0x94, ')',  'R', 0x94, 0x8c, 1,   'k', 0x94,
        0x8f, 0x94, '(',  'K',  1,   'K', 2,    0x90, 's',  '2',  '0', '(',  'N',  'N', '1', 0x8c,
        1,    'f',  'G',  0xc0, 4,   0,   0,    0,    0,    0,    0,   's',  '.'};
    tc_pk *pk = tc_pk_new();
    tc_pkobj *o;
    tc_err e = {0};
    ck_assert_msg(pk_run(pk, p0, sizeof p0 - 1, &o, &e) == TC_OK, "%s", e.msg);
    ck_assert(o->kind == TC_PK_LIST && o->seq.n == 4);
    ck_assert(o->seq.v[0]->kind == TC_PK_INT && o->seq.v[0]->i == 1);
    ck_assert(o->seq.v[1]->kind == TC_PK_BOOL && o->seq.v[1]->i == 0);
    ck_assert(o->seq.v[2]->kind == TC_PK_INT && o->seq.v[2]->i == 123);
    ck_assert_ptr_eq(o->seq.v[3], o);
    ck_assert_msg(pk_run(pk, p4, sizeof p4, &o, &e) == TC_OK, "%s", e.msg);
    ck_assert(o->kind == TC_PK_DICT && o->seq.n == 4);
    ck_assert(tc_pk_str_eq(o->seq.v[0], "k"));
    ck_assert(o->seq.v[1]->kind == TC_PK_SET && o->seq.v[1]->seq.n == 2);
    ck_assert(tc_pk_str_eq(o->seq.v[2], "f"));
    ck_assert(o->seq.v[3]->kind == TC_PK_FLOAT && o->seq.v[3]->f == -2.5);
    tc_pk_free(pk);

    static const struct {
        const char *pk;
        size_t n;
        tc_status want;
        const char *sub;
    } bad[] = {
#define B(s) s, sizeof(s) - 1
        {B("\x80\x02}K\x01"
           "a."),
         TC_E_FORMAT, "not a list"},                                   /* APPEND onto a dict */
        {B("\x80\x02K\x01)R."), TC_E_FORMAT, "not a global"},          /* REDUCE on an int */
        {B("\x80\x02K\x01K\x02."), TC_E_FORMAT, "STOP with 2 values"}, /* two values left */
        {B("\x80\x02h\x05."), TC_E_FORMAT, "memo 5 read before"},
        {B("\x80\x02(u."), TC_E_FORMAT, "underflow"},
        {B("\x80\x02t."), TC_E_FORMAT, "needs a MARK"},
        {B("\x80\x06."), TC_E_UNSUPPORTED, "protocol 6"},
        {B("\x80\x02"
           "ctorch\nload\n."),
         TC_E_UNSAFE, "'torch.load' is not allowed"},
        {B("\x80\x02"
           "cnt\nsystem\n."),
         TC_E_UNSAFE, "'nt.system'"},
        {B("\x80\x02"
           "ccollections\nOrderedDict\nK\x01\x85R."),
         TC_E_FORMAT, "unexpected arg"},
        {B("\x80\x02"
           "c_codecs\nencode\nX\x01\x00\x00\x00\xe9X\x05\x00\x00\x00utf-8\x86R."),
         TC_E_FORMAT, "_codecs.encode"},
        {B("\x80\x02X\x05\x00\x00\x00"
           "ab"),
         TC_E_FORMAT, "truncated pickle"},
        {B("\x80\x02K\x01"), TC_E_FORMAT, "no STOP"},
        {B("\x80\x02I12x\n."), TC_E_FORMAT, "integer literal"},
        {B("\x80\x02\x95\xff\x00\x00\x00\x00\x00\x00\x00N."), TC_E_FORMAT, "frame"},
#undef B
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        pk = tc_pk_new();
        tc_err_clear(&e);
        tc_status rc = pk_run(pk, bad[i].pk, bad[i].n, &o, &e);
        ck_assert_msg(rc == bad[i].want && strstr(e.msg, bad[i].sub) && strstr(e.msg, "t.pkl @"),
                      "case %zu: %d '%s', want %d '%s'", i, rc, e.msg, bad[i].want, bad[i].sub);
        tc_pk_free(pk);
    }
}
END_TEST

/* A few bytes of real checkpoints corrupted, many rounds: TC_OK (and every tensor
 * readable) or a clean error, never a crash. */
START_TEST(torch_mutation)
{
    if (!make_fixtures())
        TC_SKIP("python3 with torch and numpy not found (apt install python3-torch)");
    static const char *const files[] = {"good/views.pt", "good/views_legacy.pt",
                                        "good/views_deflated_pkl.pt", "good/big_endian.pt"};
    int rounds = getenv("TC_TEST_QUICK") ? 60 : 400, ok = 0, failed = 0;
    uint64_t rng = 42;
    for (int f = 0; f < 4; f++) {
        char p[600];
        snprintf(p, sizeof p, "%s/%s", tmpdir, files[f]);
        size_t n;
        uint8_t *orig = tc_slurp_ok(p, &n), *b = malloc(n);
        for (int r = 0; r < rounds; r++) {
            memcpy(b, orig, n);
            size_t flips = 1 + (size_t)r % 4; /* a few bytes: some files stay readable */
            for (size_t k = 0; k < flips; k++)
                b[tc_rng_next(&rng) % n] = (uint8_t)tc_rng_next(&rng);
            tc_map *m;
            tc_err e = {0};
            ck_assert_int_eq(tc_map_memory(b, n, "mut.pt", &m, &e), TC_OK);
            tc_graph *g = tc_graph_new();
            if (tc_format_torch.read_map(m, g, NULL, &e) == TC_OK) {
                ok++;
                for (size_t i = 0; i < tc_graph_n_tensors(g); i++) {
                    const tc_tensor *t = tc_graph_tensor(g, i);
                    uint64_t ne = tc_tensor_n_elements(t);
                    if (ne > (1u << 20))
                        ne = 1u << 20;
                    uint8_t *buf = malloc(ne ? tc_row_size(tc_tensor_dtype(t), (int64_t)ne) : 1);
                    ck_assert_int_eq(tc_tensor_read(t, 0, ne, buf, &e), TC_OK);
                    free(buf);
                }
            } else {
                failed++;
                ck_assert(e.code != TC_OK && e.msg[0]);
            }
            tc_graph_free(g);
            tc_map_unref(m);
        }
        free(b);
        free(orig);
    }
    fprintf(stderr, "torch_mutation: %d read, %d rejected\n", ok, failed);
    ck_assert_int_gt(failed, 0);
    ck_assert_int_gt(ok, 0);
}
END_TEST

/* Allocation failures at every step of reading a checkpoint: TC_E_NOMEM or success. */
START_TEST(torch_oom_walk)
{
    if (!make_fixtures())
        TC_SKIP("python3 with torch and numpy not found (apt install python3-torch)");
    static const char *const files[] = {"good/views.pt", "good/views_legacy.pt",
                                        "good/views_deflated_pkl.pt"};
    for (int f = 0; f < 3; f++) {
        char p[600];
        snprintf(p, sizeof p, "%s/%s", tmpdir, files[f]);
        int hit_end = 0;
        for (long k = 0; k < 5000 && !hit_end; k++) {
            tc_err e = {0};
            tc_graph *g = NULL;
            tc_alloc_fail_after(k);
            tc_status rc = tc_read(p, &g, NULL, &e);
            long used = tc_alloc_fail_after(-1);
            ck_assert_msg(rc == TC_OK || rc == TC_E_NOMEM, "%s at %ld: %d %s", p, k, rc, e.msg);
            if (rc == TC_OK && used <= k)
                hit_end = 1;
            tc_graph_free(g);
        }
        ck_assert(hit_end);
    }
}
END_TEST

/* End to end: `tensorcast convert` of PyTorch checkpoints to safetensors and GGUF; the output,
 * read back, must hold exactly the bytes torch sees (views materialised, shards joined). */
START_TEST(torch_convert_cli)
{
    if (!make_fixtures())
        TC_SKIP("python3 with torch and numpy not found (apt install python3-torch)");
    static const struct {
        const char *in, *fmt;
    } cases[] = {{"good/views.pt", "safetensors"},      {"good/views.pt", "gguf"},
                 {"good/views_legacy.pt", "gguf"},      {"good/all_dtypes.pt", "safetensors"},
                 {"good/big_endian.pt", "safetensors"}, {"good/sharded", "safetensors"},
                 {"good/nested_state_dict.pt", "gguf"}, {"good/consolidated", "gguf"}};
    json_t *m = load_manifest();
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const tc_format *f = tc_format_by_name(cases[i].fmt);
        if (f == NULL || f->write == NULL || f->read == NULL) {
            fprintf(stderr, "SKIP %s: no %s writer in this build\n", __func__, cases[i].fmt);
            continue;
        }
        json_t *want = NULL, *c;
        size_t k;
        json_array_foreach(json_object_get(m, "good"), k,
                           c) if (strcmp(json_string_value(json_object_get(c, "path")),
                                         cases[i].in) == 0) want = json_object_get(c, "tensors");
        ck_assert_ptr_nonnull(want);
        char out[600], cmd[2000];
        snprintf(out, sizeof out, "%s/out_%zu.%s", tmpdir, i, cases[i].fmt);
        unlink(out);
        snprintf(cmd, sizeof cmd, "'%s' convert '%s/%s' '%s' >/dev/null 2>&1", TC_BIN, tmpdir,
                 cases[i].in, out);
        ck_assert_msg(system(cmd) == 0, "failed: %s", cmd);
        tc_graph *g = NULL;
        tc_err e = {0};
        ck_assert_msg(tc_read(out, &g, NULL, &e) == TC_OK, "%s: %s", out, e.msg);
        ck_assert_str_eq(tc_graph_format(g), cases[i].fmt);
        check_tensors(out, g, want);
        tc_graph_free(g);
        unlink(out);
    }
    json_decref(m);
}
END_TEST

/* `inspect` prints the reader's notes; a directory holding both safetensors and .bin files is
 * read as safetensors (bid 60 beats 50); a .bin-only directory as torch. */
START_TEST(torch_inspect_and_probe)
{
    if (!make_fixtures())
        TC_SKIP("python3 with torch and numpy not found (apt install python3-torch)");
    char cmd[4096], out[8192];
    snprintf(cmd, sizeof cmd, "'%s' inspect '%s/good/nested_state_dict.pt' 2>&1", TC_BIN, tmpdir);
    FILE *f = popen(cmd, "r");
    ck_assert_ptr_nonnull(f);
    size_t n = fread(out, 1, sizeof out - 1, f);
    out[n] = 0;
    ck_assert_int_eq(pclose(f), 0);
    ck_assert_msg(strstr(out, "tensors read from the 'state_dict' entry") &&
                      strstr(out, "'optimizer'") && strstr(out, "torch"),
                  "inspect output: %s", out);

    const tc_format *fmt = NULL;
    tc_err e = {0};
    char dir[700];
    snprintf(dir, sizeof dir, "%s/probe_dir", tmpdir);
    tc_rm_rf(dir);
    snprintf(cmd, sizeof cmd, "cp -r '%s/good/sharded' '%s'", tmpdir, dir);
    ck_assert_int_eq(system(cmd), 0);
    ck_assert_int_eq(tc_format_detect(dir, &fmt, &e), TC_OK);
    ck_assert_str_eq(fmt->name, "torch");
    const tc_format *st = tc_format_by_name("safetensors");
    if (st == NULL || st->write == NULL)
        return;
    /* add a model.safetensors beside the .bin shards (written from the same checkpoint) */
    snprintf(cmd, sizeof cmd, "'%s' convert '%s' '%s/model.safetensors' >/dev/null 2>&1", TC_BIN,
             dir, dir);
    ck_assert_int_eq(system(cmd), 0);
    ck_assert_int_eq(tc_format_detect(dir, &fmt, &e), TC_OK);
    ck_assert_str_eq(fmt->name, "safetensors");
    tc_rm_rf(dir);
}
END_TEST

Suite *torch_suite(void)
{
    Suite *s = suite_create("torch");
    TCase *tc = tcase_create("torch");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, torch_matches_pytorch);
    tcase_add_test(tc, torch_views_mapped_in_place);
    tcase_add_test(tc, torch_rejects_bad);
    tcase_add_test(tc, torch_committed_bad);
    tcase_add_test(tc, torch_placeholder_globals);
    tcase_add_test(tc, zip_crc_and_caps);
    tcase_add_test(tc, zip_malformed);
    tcase_add_test(tc, pickle_python_containers);
    tcase_add_test(tc, pickle_opcodes);
    tcase_add_test(tc, torch_mutation);
    tcase_add_test(tc, torch_oom_walk);
    tcase_add_test(tc, torch_convert_cli);
    tcase_add_test(tc, torch_inspect_and_probe);
    suite_add_tcase(s, tc);
    return s;
}
