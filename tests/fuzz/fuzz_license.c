/*
 * fuzz_license.c - the licence and download-metadata readers over arbitrary bytes: the input is
 * written as a model directory's README.md (front matter) and LICENSE, read for its licence and
 * classified, and as the .metadata file `huggingface-cli download --local-dir` leaves beside a
 * file, which verify then checks. Nothing may crash, hang or leak; a refused input must carry a
 * message.
 */
#include "fuzz_util.h"
#include "tensorcast.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char root[256];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char p[1024];
    if (root[0] == 0) {
        snprintf(root, sizeof root, "%s/tc-fuzz-license-%d",
                 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
        snprintf(p, sizeof p, "mkdir -p '%s/m' '%s/d/.cache/huggingface/download'", root, root);
        tc_fuzz_check("fuzz_license", system(p) == 0, "cannot make the scratch directory");
        /* a small file for the metadata to describe */
        snprintf(p, sizeof p, "%s/d/config.json", root);
        tc_fuzz_write_file("fuzz_license", p, (const uint8_t *)"{}", 2);
    }
    /* README front matter and LICENSE text */
    snprintf(p, sizeof p, "%s/m/README.md", root);
    tc_fuzz_write_file("fuzz_license", p, data, size);
    snprintf(p, sizeof p, "%s/m/LICENSE", root);
    tc_fuzz_write_file("fuzz_license", p, data, size);
    tc_graph *g = tc_graph_new();
    tc_fuzz_check("fuzz_license", g != NULL, "out of memory");
    tc_err e = {0};
    snprintf(p, sizeof p, "%s/m", root);
    if (tc_license_from_dir(g, p, &e) == TC_OK) {
        tc_license lic;
        tc_graph_license(g, &lic);
        tc_license_facts lf;
        tc_license_classify(lic.id, lic.name, &lf);
        tc_fuzz_check("fuzz_license", tc_license_class_name(lf.cls) != NULL,
                      "a class without a name");
    } else {
        tc_fuzz_check("fuzz_license", e.msg[0] != 0, "refused without a message");
    }
    tc_graph_free(g);
    /* the local-dir download metadata of config.json */
    snprintf(p, sizeof p, "%s/d/.cache/huggingface/download/config.json.metadata", root);
    tc_fuzz_write_file("fuzz_license", p, data, size);
    tc_err_clear(&e);
    tc_store *s = NULL;
    snprintf(p, sizeof p, "%s/d", root);
    if (tc_store_open(p, &s, &e) == TC_OK) {
        tc_store_verify(s, 1, NULL, &e);
        for (size_t i = 0; i < tc_store_count(s); i++)
            tc_fuzz_check("fuzz_license", tc_store_entry_at(s, i)->file != NULL,
                          "an entry without a name");
        tc_store_free(s);
    } else {
        tc_fuzz_check("fuzz_license", s == NULL && e.msg[0] != 0,
                      "refused without a message, or output set");
    }
    return 0;
}
