/*
 * check_json.c - every command's --json output, on success and on failure, against the one
 * documented schema (tests/schema/tensorcast.schema.json), with a small validator for the part
 * of JSON Schema the file uses ($ref, type, enum, required, properties, items). The schema also
 * says what the README promises: "ok" first, tensors a list, shapes arrays, counts integers,
 * NaN/Inf as null.
 */
#include "tc_test.h"
#include "tc_test_util.h"

#include <jansson.h>
#include <string.h>

static json_t *schema_root;
static char out_buf[1 << 20], err_buf[1 << 16], dir[512];

static int type_ok(const json_t *v, const char *t)
{
    if (strcmp(t, "object") == 0)
        return json_is_object(v);
    if (strcmp(t, "array") == 0)
        return json_is_array(v);
    if (strcmp(t, "string") == 0)
        return json_is_string(v);
    if (strcmp(t, "integer") == 0)
        return json_is_integer(v);
    if (strcmp(t, "number") == 0)
        return json_is_number(v);
    if (strcmp(t, "boolean") == 0)
        return json_is_boolean(v);
    if (strcmp(t, "null") == 0)
        return json_is_null(v);
    return 0;
}

/* 1 when `v` satisfies `s`; otherwise 0 with the path and reason in `why`. */
static int validate(const json_t *v, const json_t *s, const char *path, char *why, size_t cap)
{
    const json_t *ref = json_object_get(s, "$ref");
    if (json_is_string(ref)) {
        const char *r = json_string_value(ref);
        ck_assert_msg(strncmp(r, "#/$defs/", 8) == 0, "unsupported $ref %s", r);
        const json_t *d = json_object_get(json_object_get(schema_root, "$defs"), r + 8);
        ck_assert_msg(d != NULL, "$ref %s not defined", r);
        return validate(v, d, path, why, cap);
    }
    const json_t *t = json_object_get(s, "type");
    if (t) {
        int ok = 0;
        if (json_is_string(t))
            ok = type_ok(v, json_string_value(t));
        for (size_t i = 0; json_is_array(t) && i < json_array_size(t); i++)
            ok |= type_ok(v, json_string_value(json_array_get(t, i)));
        if (!ok) {
            char *d = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
            snprintf(why, cap, "%s: %.80s is not of the schema's type", path, d ? d : "?");
            free(d);
            return 0;
        }
    }
    const json_t *en = json_object_get(s, "enum");
    if (en) {
        int ok = 0;
        for (size_t i = 0; i < json_array_size(en); i++)
            ok |= json_equal((json_t *)v, json_array_get(en, i));
        if (!ok) {
            snprintf(why, cap, "%s: value not in the schema's enum", path);
            return 0;
        }
    }
    const json_t *req = json_object_get(s, "required");
    for (size_t i = 0; json_is_object(v) && i < json_array_size(req); i++) {
        const char *k = json_string_value(json_array_get(req, i));
        if (json_object_get(v, k) == NULL) {
            snprintf(why, cap, "%s: missing key \"%s\"", path, k);
            return 0;
        }
    }
    const json_t *props = json_object_get(s, "properties");
    const char *k;
    json_t *ps;
    if (json_is_object(v))
        json_object_foreach((json_t *)props, k, ps)
        {
            const json_t *x = json_object_get(v, k);
            char sub[512];
            snprintf(sub, sizeof sub, "%s.%s", path, k);
            if (x && !validate(x, ps, sub, why, cap))
                return 0;
        }
    const json_t *items = json_object_get(s, "items");
    for (size_t i = 0; items && json_is_array(v) && i < json_array_size(v); i++) {
        char sub[512];
        snprintf(sub, sizeof sub, "%s[%zu]", path, i);
        if (!validate(json_array_get(v, i), items, sub, why, cap))
            return 0;
    }
    return 1;
}

/* Run `args`, expect `exit_code`, parse stdout and check it against $defs/<def>; "ok" first. */
static void check(const char *args, int exit_code, const char *def)
{
    int rc = tc_run_cli(NULL, args, out_buf, sizeof out_buf, err_buf, sizeof err_buf);
    ck_assert_msg(rc == exit_code, "%s: exit %d, expected %d (%s)", args, rc, exit_code, err_buf);
    json_error_t je;
    json_t *v = json_loads(out_buf, 0, &je);
    ck_assert_msg(v != NULL, "%s: stdout is not one JSON document: %s (%.200s)", args, je.text,
                  out_buf);
    ck_assert_msg(json_is_object(v), "%s: not an object", args);
    void *it = json_object_iter(v);
    ck_assert_msg(it && strcmp(json_object_iter_key(it), "ok") == 0, "%s: \"ok\" is not first",
                  args);
    const json_t *d = json_object_get(json_object_get(schema_root, "$defs"), def);
    ck_assert_msg(d != NULL, "no $defs/%s in the schema", def);
    char why[1024] = "";
    ck_assert_msg(validate(v, d, def, why, sizeof why), "%s: %s", args, why);
    json_decref(v);
}

static void setup(void)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/tests/schema/tensorcast.schema.json", TC_SRC_DIR);
    json_error_t je;
    schema_root = json_load_file(p, 0, &je);
    ck_assert_msg(schema_root != NULL, "%s: %s", p, je.text);
    tc_make_tmpdir(dir, sizeof dir, "tc_json");
}

static void teardown(void)
{
    json_decref(schema_root);
    tc_rm_rf(dir);
}

START_TEST(test_success_outputs)
{
    char a[4096];
    const char *ex = TC_SRC_DIR;
    snprintf(a, sizeof a, "inspect '%s/fixtures/tiny-llama' --json --tensors", ex);
    check(a, 0, "inspect");
    snprintf(a, sizeof a, "convert '%s/fixtures/tiny-llama' '%s/m.gguf' --type f16 --json", ex,
             dir);
    check(a, 0, "convert");
    snprintf(a, sizeof a, "inspect '%s/m.gguf' --json", dir);
    check(a, 0, "inspect");
    snprintf(a, sizeof a, "quantize '%s/m.gguf' '%s/q.gguf' Q8_0 --json", dir, dir);
    check(a, 0, "quantize");
    snprintf(a, sizeof a, "quantize --dry-run '%s/m.gguf' Q4_K_M --json", dir);
    check(a, 0, "quantize");
    snprintf(a, sizeof a, "verify '%s/q.gguf' --json", dir);
    check(a, 0, "verify");
    snprintf(a, sizeof a, "diff '%s/m.gguf' '%s/q.gguf' --json", dir, dir);
    check(a, 0, "diff");
    snprintf(a, sizeof a, "pack '%s/b.tar.zst' '%s/m.gguf' --json", dir, dir);
    check(a, 0, "pack");
    snprintf(a, sizeof a, "verify '%s/b.tar.zst' --json", dir);
    check(a, 0, "verify");
    check("bench --type q8_0 --reps 1 --json", 0, "bench");
    check("bench --type q8_0 --reps 1 --cpu-time --json", 0, "bench");
    ck_assert_msg(strstr(out_buf, "\"clock\": \"cpu\"") != NULL, "--cpu-time: %.300s", out_buf);
}
END_TEST

/* a diff of a file holding NaN with itself: the NaN statistics are null, not dropped keys */
START_TEST(test_nan_is_null)
{
    char a[4096];
    snprintf(a, sizeof a,
             "cd '%s' && python3 -c \"import struct,json; h=json.dumps({'x':{'dtype':'F32',"
             "'shape':[4],'data_offsets':[0,16]}}).encode(); h+=b' '*((8-len(h)%%8)%%8); "
             "open('n.safetensors','wb').write(struct.pack('<Q',len(h))+h+struct.pack('<4f',1,"
             "float('nan'),2,3))\"",
             dir);
    ck_assert_int_eq(system(a), 0);
    snprintf(a, sizeof a, "inspect '%s/n.safetensors' --json", dir);
    check(a, 0, "inspect");
    snprintf(a, sizeof a, "diff '%s/n.safetensors' '%s/n.safetensors' --json", dir, dir);
    int rc = tc_run_cli(NULL, a, out_buf, sizeof out_buf, err_buf, sizeof err_buf);
    json_t *v = json_loads(out_buf, 0, NULL);
    ck_assert_msg(v != NULL, "diff --json of a NaN file printed no JSON (exit %d)", rc);
    json_t *t0 = json_array_get(json_object_get(v, "tensors"), 0);
    ck_assert_msg(json_object_get(t0, "rmse") != NULL, "rmse key dropped");
    json_decref(v);
}
END_TEST

START_TEST(test_failure_outputs)
{
    char a[4096];
    /* malformed input, a missing file, a usage error: each one JSON error object */
    snprintf(a, sizeof a, "cd '%s' && printf 'GGUF\\003\\000\\000\\000garbage' > bad.gguf", dir);
    ck_assert_int_eq(system(a), 0);
    snprintf(a, sizeof a, "inspect '%s/bad.gguf' --json", dir);
    check(a, 3, "error");
    check("inspect /nonexistent/model.gguf --json", 4, "error");
    snprintf(a, sizeof a, "convert --json '%s/bad.gguf' '%s/o.gguf'", dir, dir);
    check(a, 3, "error");
    check("quantize --json a.gguf b.gguf NOT_A_PRESET", 2, "error");
    check("verify --json --hash-format nope x.gguf", 2, "error");
    check("diff --json onlyone", 2, "error");
    check("bench --json --type not_a_type", 2, "error");
}
END_TEST

Suite *json_suite(void)
{
    Suite *s = suite_create("json");
    TCase *tc = tcase_create("json");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_success_outputs);
    tcase_add_test(tc, test_nan_is_null);
    tcase_add_test(tc, test_failure_outputs);
    suite_add_tcase(s, tc);
    return s;
}
