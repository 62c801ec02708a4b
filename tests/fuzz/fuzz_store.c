/*
 * fuzz_store.c - the download-store readers over arbitrary bytes: the input is written as an
 * ollama manifest (manifests/registry.ollama.ai/library/m/latest) in a private directory and as a
 * bundle (.tar) there, then listed and verified. Nothing may crash, hang or leak; a refused
 * input must carry a message.
 */
#include "fuzz_util.h"
#include "tensorcast.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char root[256];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (root[0] == 0) {
        snprintf(root, sizeof root, "%s/tc-fuzz-store-%d",
                 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
        char p[1024];
        snprintf(p, sizeof p,
                 "mkdir -p '%s/models/manifests/registry.ollama.ai/library/m' "
                 "'%s/models/blobs'",
                 root, root);
        tc_fuzz_check("fuzz_store", system(p) == 0, "cannot make the scratch directory");
    }
    char path[1024];
    snprintf(path, sizeof path, "%s/models/manifests/registry.ollama.ai/library/m/latest", root);
    tc_fuzz_write_file("fuzz_store", path, data, size);
    tc_err e = {0};
    tc_store *s = NULL;
    if (tc_store_open(path, &s, &e) == TC_OK) {
        tc_fuzz_check("fuzz_store", tc_store_kind_of(s) == TC_STORE_OLLAMA, "wrong store kind");
        tc_store_verify(s, 1, NULL, &e);
        for (size_t i = 0; i < tc_store_count(s); i++)
            tc_fuzz_check("fuzz_store",
                          tc_store_entry_at(s, i)->status != TC_STORE_UNCHECKED ||
                              tc_store_entry_at(s, i)->algo == NULL,
                          "an entry left unchecked");
        tc_store_free(s);
    } else {
        tc_fuzz_check("fuzz_store", s == NULL && e.msg[0] != 0,
                      "refused without a message, or output set");
    }
    snprintf(path, sizeof path, "%s/b.tar", root);
    tc_fuzz_write_file("fuzz_store", path, data, size);
    tc_err_clear(&e);
    tc_bundle_result *r = NULL;
    size_t n = 0;
    char *ts = NULL;
    if (tc_bundle_check(path, &r, &n, &ts, &e) == TC_OK) {
        for (size_t i = 0; i < n; i++)
            tc_fuzz_check("fuzz_store", r[i].name != NULL, "a result without a name");
        tc_bundle_results_free(r, n);
        tc_free(ts);
    } else {
        tc_fuzz_check("fuzz_store", r == NULL && ts == NULL && e.msg[0] != 0,
                      "refused without a message");
    }
    return 0;
}
