/*
 * fuzz_tokenizer_json.c - a tokenizer.json over arbitrary bytes: merges, the byte-level BPE
 * encoder (normalizers, pre-tokenizer regexes through PCRE2, BPE, post-processors) and the gpt2
 * vocabulary built into a graph. Nothing may crash, hang or leak; refusals carry a message.
 */
#include "hf.h"

#include <stdio.h>
#include <stdlib.h>

static void check(tc_status st, const tc_err *e)
{
    if (st != TC_OK && e->msg[0] == 0) {
        fprintf(stderr, "fuzz_tokenizer_json: refused without a message\n");
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *tok = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
    if (tok == NULL)
        return 0;
    tc_err e = {0};
    char **merges = NULL;
    size_t nm = 0;
    tc_status st = tc_hf_bpe_merges(tok, NULL, &merges, &nm, &e);
    check(st, &e);
    tc_hf_strv_free(merges, nm);
    static const char text[] = "Hello  world 123 \xf0\x9f\x9a\x80 I've";
    int32_t *ids = NULL;
    size_t n = 0;
    tc_err_clear(&e);
    st = tc_hf_bpe_encode(tok, text, sizeof text - 1, &ids, &n, &e);
    check(st, &e);
    tc_free(ids);
    tc_graph *g = tc_graph_new();
    uint64_t nv = 0;
    tc_err_clear(&e);
    if (g)
        check(tc_hf_bpe_vocab("fuzz", tok, NULL, 0, "default", g, &nv, &e), &e);
    tc_graph_free(g);
    json_decref(tok);
    return 0;
}
