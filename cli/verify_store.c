/* verify_store.c - `tensorcast verify` on a download as its store keeps it: a Hugging Face cache
 * repository / snapshot / file, a `--local-dir` download, or an ollama manifest (`--ollama`). */
#include "cli.h"

#include <inttypes.h>
#include <openssl/evp.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static int is_problem(int status)
{
    return status != TC_STORE_OK && status != TC_STORE_UNRECORDED;
}

int cli_verify_store(const char *path, const cli_verify_store_opts *vo, const cli_opts *co)
{
    tc_err e = {0};
    tc_store *s = NULL;
    if (tc_store_open(path, &s, &e) != TC_OK)
        return cli_fail(&e);
    tc_store_kind kind = tc_store_kind_of(s);
    cli_progress pb;
    cli_progress_init(&pb, "hashing", co->quiet || co->json);
    tc_progress prog = {cli_progress_cb, &pb};
    tc_store_verify(s, (int)co->threads, &prog, &e);
    cli_progress_done(&pb);

    int text = !co->json && !co->quiet;
    size_t n = tc_store_count(s), bad = 0, unrecorded = 0;
    if (text)
        printf("%s %s: %zu file(s)\n", tc_store_kind_name(kind), tc_store_root(s), n);
    json_t *files = json_array();
    for (size_t i = 0; i < n; i++) {
        const tc_store_entry *x = tc_store_entry_at(s, i);
        bad += is_problem(x->status);
        unrecorded += x->status == TC_STORE_UNRECORDED;
        if (is_problem(x->status) && !co->json) {
            if (x->status == TC_STORE_MISMATCH)
                fprintf(stderr, "FAILED %s: %s digest is %s, the store records %s\n", x->file,
                        x->algo, x->actual, x->expected);
            else if (x->status == TC_STORE_SIZE)
                fprintf(stderr, "FAILED %s: %" PRIu64 " bytes, the manifest says %" PRIu64 "\n",
                        x->file, x->size, x->expected_size);
            else
                fprintf(stderr, "FAILED %s: %s (%s)\n", x->file, tc_store_status_name(x->status),
                        x->path);
        } else if (text) {
            printf("  %-8s %s%s\n", x->status == TC_STORE_OK ? "ok" : "-", x->file,
                   x->status == TC_STORE_UNRECORDED ? "  (no recorded digest: not checked)" : "");
        }
        json_t *f = json_object();
        json_object_set_new(f, "file", json_string(x->file));
        json_object_set_new(f, "path", x->path ? json_string(x->path) : json_null());
        json_object_set_new(f, "status", json_string(tc_store_status_name(x->status)));
        json_object_set_new(f, "algorithm", x->algo ? json_string(x->algo) : json_null());
        json_object_set_new(f, "expected", x->expected ? json_string(x->expected) : json_null());
        json_object_set_new(f, "actual", x->actual[0] ? json_string(x->actual) : json_null());
        json_object_set_new(f, "size", json_integer((json_int_t)x->size));
        json_array_append_new(files, f);
    }

    /* the model itself: an ollama model layer is read as GGUF (structure checked); a snapshot
     * is read as a model directory for its licence */
    json_t *jr = json_object();
    int model_bad = 0;
    tc_graph *g = NULL;
    const char *model = kind == TC_STORE_OLLAMA ? tc_store_model(s) : tc_store_root(s);
    if (model && tc_read(model, &g, NULL, &e) != TC_OK) {
        if (kind == TC_STORE_OLLAMA) {
            model_bad = 1;
            if (!co->json)
                fprintf(stderr, "FAILED model layer: %s\n", e.msg);
        }
        tc_err_clear(&e);
        g = NULL;
    }
    if (g && kind == TC_STORE_OLLAMA && text)
        printf("model layer: %s, %zu tensors, structure ok\n", tc_graph_format(g),
               tc_graph_n_tensors(g));
    tc_license lic = {0};
    if (g)
        tc_graph_license(g, &lic);
    const char *ltext = tc_store_license_text(s);
    if (!lic.id && !lic.name && ltext) {
        lic.id = tc_license_identify_text(ltext, strlen(ltext));
        lic.source = "ollama licence layer";
    }
    tc_license_facts lf;
    tc_license_classify(lic.id, lic.name, &lf);
    json_t *jl = json_object();
    json_object_set_new(jl, "id", lic.id ? json_string(lic.id) : json_null());
    json_object_set_new(jl, "name", lic.name ? json_string(lic.name) : json_null());
    json_object_set_new(jl, "link", lic.link ? json_string(lic.link) : json_null());
    json_object_set_new(jl, "source", lic.source ? json_string(lic.source) : json_null());
    cli_license_facts_json(jl, &lf);
    int lic_bad = 0;
    if (text) {
        printf("licence: %s%s%s%s\n",
               lic.id     ? lic.id
               : lic.name ? lic.name
               : ltext    ? "(licence text not recognised)"
                          : "none recorded",
               lic.source ? "  [from " : "", lic.source ? lic.source : "", lic.source ? "]" : "");
        if (lic.id || lic.name)
            cli_print_license_facts(stdout, &lf);
    }
    if (vo->require_license && !lic.id && !lic.name && !ltext) {
        lic_bad = 1;
        if (!co->json)
            fprintf(stderr, "FAILED %s carries no licence\n", path);
    }
    if (vo->allow_classes && !(vo->allow_classes & (1u << lf.cls))) {
        lic_bad = 1;
        if (!co->json)
            fprintf(stderr,
                    "FAILED licence class is %s, not one of those allowed by --allow-class\n",
                    tc_license_class_name(lf.cls));
    }
    int ok = bad == 0 && !model_bad && !lic_bad && n > 0;
    if (n == 0 && !co->json)
        fprintf(stderr, "FAILED %s: the store lists no file\n", path);
    if (co->json) {
        json_object_set_new(jr, "ok", json_boolean(ok));
        json_object_set_new(jr, "path", json_string(path));
        json_object_set_new(jr, "store", json_string(tc_store_kind_name(kind)));
        json_object_set_new(jr, "root", json_string(tc_store_root(s)));
        json_object_set_new(jr, "files", files);
        json_object_set_new(jr, "files_failed", json_integer((json_int_t)bad));
        json_object_set_new(jr, "files_unrecorded", json_integer((json_int_t)unrecorded));
        json_object_set_new(jr, "license", jl);
        if (kind == TC_STORE_OLLAMA) {
            json_t *jm = json_object();
            json_object_set_new(jm, "path", model ? json_string(model) : json_null());
            json_object_set_new(jm, "ok", json_boolean(g != NULL));
            json_object_set_new(jm, "tensor_count",
                                json_integer(g ? (json_int_t)tc_graph_n_tensors(g) : 0));
            json_object_set_new(jr, "model", jm);
        }
        cli_print_json(jr, 0);
    } else {
        json_decref(files);
        json_decref(jl);
        if (!co->quiet || !ok)
            printf("%s: %zu of %zu file(s) %s%s\n", ok ? "verified" : "FAILED",
                   n - bad - unrecorded, n, "match their recorded digests",
                   unrecorded ? " (others have none recorded)" : "");
    }
    json_decref(jr);
    tc_graph_free(g);
    tc_store_free(s);
    return ok ? TC_EXIT_OK : TC_EXIT_VERIFY;
}

/* Per-tensor digests of the model inside the bundle against TENSORS.sha256: name each tensor
 * whose bytes changed. Returns the number named. */
static size_t narrow_tensors(const char *path, const char *tsums, const cli_opts *co, json_t *bad)
{
    tc_graph *g = NULL;
    tc_err e = {0};
    size_t named = 0;
    if (tc_read(path, &g, NULL, &e) != TC_OK) {
        if (!co->json)
            fprintf(stderr, "FAILED the model inside cannot be read: %s\n", e.msg);
        return 0;
    }
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    uint8_t *buf = malloc(4u << 20);
    char *text = strdup(tsums);
    for (char *line = text, *next; md && buf && line && *line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = 0;
        if (strncmp(line, "sha256  ", 8) != 0 || strlen(line) < 8 + 64 + 3)
            continue;
        const char *want = line + 8;
        char *colon = strchr(line + 8 + 64 + 2, ':');
        if (colon == NULL)
            continue;
        const tc_tensor *t = tc_graph_find(g, colon + 1);
        if (t == NULL)
            continue;
        int dt = tc_tensor_dtype(t);
        const tc_dtype_info *di = tc_dtype_get(dt);
        uint64_t n = tc_tensor_n_elements(t), row = (uint64_t)tc_tensor_row_len(t);
        uint64_t step = di->is_quant ? (row ? ((1u << 20) / row + 1) * row : 1) : (1u << 20);
        while ((uint64_t)tc_row_size(dt, (int64_t)step) > (4u << 20) && step > row)
            step -= di->is_quant ? row : step / 2;
        EVP_DigestInit_ex(md, EVP_sha256(), NULL);
        int ok = 1;
        for (uint64_t e0 = 0; e0 < n && ok; e0 += step) {
            uint64_t k = n - e0 < step ? n - e0 : step;
            ok = tc_tensor_read(t, e0, k, buf, &e) == TC_OK;
            if (ok)
                EVP_DigestUpdate(md, buf, (size_t)tc_row_size(dt, (int64_t)k));
        }
        unsigned char d[EVP_MAX_MD_SIZE];
        unsigned dn;
        EVP_DigestFinal_ex(md, d, &dn);
        char h[65];
        for (unsigned j = 0; j < 32; j++)
            snprintf(h + 2 * j, 3, "%02x", d[j]);
        if (!ok || strncmp(h, want, 64) != 0) {
            named++;
            if (!co->json)
                fprintf(stderr, "FAILED tensor '%s' (in %.*s) changed\n", colon + 1,
                        (int)(colon - (line + 8 + 64 + 2)), line + 8 + 64 + 2);
            json_array_append_new(bad, json_string(colon + 1));
        }
    }
    free(text);
    free(buf);
    EVP_MD_CTX_free(md);
    tc_graph_free(g);
    return named;
}

int cli_verify_bundle(const char *path, const cli_verify_store_opts *vo, const cli_opts *co)
{
    tc_err e = {0};
    tc_bundle_result *r = NULL;
    size_t n = 0;
    char *tsums = NULL;
    if (tc_bundle_check(path, &r, &n, &tsums, &e) != TC_OK) {
        free(tsums);
        return cli_fail(&e);
    }
    int text = !co->json && !co->quiet;
    size_t bad = 0, model_bad = 0;
    json_t *members = json_array(), *tensors = json_array();
    if (text)
        printf("bundle %s: %zu member(s) listed\n", path, n);
    for (size_t i = 0; i < n; i++) {
        static const char *const what[] = {"ok", "digest mismatch", "listed but absent",
                                           "not listed in SHA256SUMS", "malformed SHA256SUMS line"};
        int st = r[i].status;
        if (st != TC_BUNDLE_OK) {
            bad++;
            model_bad += st == TC_BUNDLE_MISMATCH;
            if (!co->json)
                fprintf(stderr, "FAILED %s: %s\n", r[i].name, what[st]);
        } else if (text) {
            printf("  ok       %s\n", r[i].name);
        }
        json_t *m = json_object();
        json_object_set_new(m, "name", json_string(r[i].name));
        json_object_set_new(m, "status", json_string(what[st]));
        json_object_set_new(m, "expected",
                            r[i].expected[0] ? json_string(r[i].expected) : json_null());
        json_object_set_new(m, "actual", r[i].actual[0] ? json_string(r[i].actual) : json_null());
        json_array_append_new(members, m);
    }
    if (model_bad && tsums)
        narrow_tensors(path, tsums, co, tensors);
    /* licence of the model inside */
    tc_graph *g = NULL;
    tc_license lic = {0};
    if (tc_read(path, &g, NULL, &e) == TC_OK)
        tc_graph_license(g, &lic);
    tc_license_facts lf;
    tc_license_classify(lic.id, lic.name, &lf);
    int lic_bad = 0;
    if (text) {
        printf("licence: %s%s%s%s\n",
               lic.id     ? lic.id
               : lic.name ? lic.name
                          : "none recorded",
               lic.source ? "  [from " : "", lic.source ? lic.source : "", lic.source ? "]" : "");
        if (lic.id || lic.name)
            cli_print_license_facts(stdout, &lf);
    }
    if (vo->require_license && !lic.id && !lic.name) {
        lic_bad = 1;
        if (!co->json)
            fprintf(stderr, "FAILED %s carries no licence\n", path);
    }
    if (vo->allow_classes && !(vo->allow_classes & (1u << lf.cls))) {
        lic_bad = 1;
        if (!co->json)
            fprintf(stderr, "FAILED licence class is %s, not allowed by --allow-class\n",
                    tc_license_class_name(lf.cls));
    }
    int ok = bad == 0 && !lic_bad;
    if (co->json) {
        json_t *o = json_object();
        json_object_set_new(o, "ok", json_boolean(ok));
        json_object_set_new(o, "path", json_string(path));
        json_object_set_new(o, "members", members);
        json_object_set_new(o, "tensors_changed", tensors);
        json_t *jl = json_object();
        json_object_set_new(jl, "id", lic.id ? json_string(lic.id) : json_null());
        json_object_set_new(jl, "name", lic.name ? json_string(lic.name) : json_null());
        json_object_set_new(jl, "link", lic.link ? json_string(lic.link) : json_null());
        json_object_set_new(jl, "source", lic.source ? json_string(lic.source) : json_null());
        cli_license_facts_json(jl, &lf);
        json_object_set_new(o, "license", jl);
        cli_print_json(o, 0);
        json_decref(o);
    } else {
        json_decref(members);
        json_decref(tensors);
        if (!co->quiet || !ok)
            printf("%s: %zu of %zu member(s) match SHA256SUMS\n", ok ? "verified" : "FAILED",
                   n - bad, n);
    }
    tc_graph_free(g);
    tc_bundle_results_free(r, n);
    free(tsums);
    return ok ? TC_EXIT_OK : TC_EXIT_VERIFY;
}
