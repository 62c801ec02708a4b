/* verify_store.c - `tensorcast verify` on a download as its store keeps it: a Hugging Face cache
 * repository / snapshot / file, a `--local-dir` download, or an ollama manifest (`--ollama`). */
#include "cli.h"

#include <inttypes.h>
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
