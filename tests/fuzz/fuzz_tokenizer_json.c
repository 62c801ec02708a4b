/*
 * fuzz_tokenizer_json.c - a tokenizer.json over arbitrary bytes.
 *
 * Differential first: the compact reader (tc_hf_tok_parse) must accept exactly what jansson
 * accepts as tc_hf_json_load reads a file, refuse the rest with jansson's message, and give the
 * same model.vocab / model.merges tables and the same remaining tree as jansson's whole tree
 * (tc_hf_tok_from_json). Then merges, the byte-level BPE encoder (normalizers, pre-tokenizer
 * regexes through PCRE2, BPE, post-processors) and the gpt2 vocabulary built into a graph.
 * Nothing may crash, hang or leak; refusals carry a message.
 */
#include "hf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void check(tc_status st, const tc_err *e)
{
    if (st != TC_OK && e->msg[0] == 0) {
        fprintf(stderr, "fuzz_tokenizer_json: refused without a message\n");
        abort();
    }
}

static void expect(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_tokenizer_json: compact reader and jansson differ: %s\n", what);
        abort();
    }
}

static int strs_equal(const tc_hf_strs *a, const tc_hf_strs *b)
{
    if (a->n != b->n)
        return 0;
    for (size_t i = 0; i < a->n; i++)
        if (tc_hf_str_len(a, i) != tc_hf_str_len(b, i) ||
            memcmp(tc_hf_str(a, i), tc_hf_str(b, i), tc_hf_str_len(a, i) + 1) != 0)
            return 0;
    return 1;
}

/* tc_hf_tok_parse(b) against jansson's tree of the same bytes */
static void differential(const uint8_t *data, size_t size, tc_status st, const tc_hf_tok *t,
                         const tc_err *e)
{
    json_error_t je;
    json_t *ref = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &je);
    if (ref == NULL && strstr(je.text, "too big integer"))
        ref = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES | JSON_DECODE_INT_AS_REAL,
                         &je);
    if (ref == NULL || !json_is_object(ref)) {
        char want[512];
        if (ref == NULL)
            snprintf(want, sizeof want, "tokenizer.json: line %d column %d: %s", je.line, je.column,
                     je.text);
        else
            snprintf(want, sizeof want, "tokenizer.json: not a JSON object");
        expect(st == TC_E_FORMAT && strcmp(e->msg, want) == 0, "a refusal");
        json_decref(ref);
        return;
    }
    expect(st == TC_OK, "an acceptance");
    tc_hf_tok *r = NULL;
    tc_err re = {0};
    if (tc_hf_tok_from_json(ref, &r, &re) == TC_OK) {
        expect(t->vocab_kind == r->vocab_kind && t->merges_kind == r->merges_kind, "kinds");
        expect(strs_equal(&t->vocab, &r->vocab), "vocab keys");
        expect(t->vocab_nonint == r->vocab_nonint, "vocab non-integer");
        for (size_t i = 0; i < t->vocab_nonint; i++)
            expect(t->vocab_id[i] == r->vocab_id[i], "vocab ids");
        for (size_t i = 0; i < t->vocab.n; i++)
            expect(tc_hf_tok_vocab_find(t, tc_hf_str(&t->vocab, i), tc_hf_str_len(&t->vocab, i)) ==
                       (long)i,
                   "vocab index");
        expect(strs_equal(&t->merges, &r->merges), "merges");
        expect(t->merges_bad == r->merges_bad, "bad merge");
        /* the rest: jansson's tree with the held members as placeholders */
        json_t *want = json_deep_copy(ref);
        json_t *model = json_object_get(want, "model");
        if (want && t->vocab_kind == TC_HF_HELD)
            json_object_set_new(model, "vocab", json_object());
        if (want && t->merges_kind == TC_HF_HELD)
            json_object_set_new(model, "merges", json_array());
        expect(want == NULL || json_equal(want, t->doc), "the remaining tree");
        json_decref(want);
    }
    tc_hf_tok_free(r);
    json_decref(ref);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tc_hf_tok *tok = NULL;
    tc_err e = {0};
    tc_status st = tc_hf_tok_parse((const char *)data, size, "tokenizer.json", &tok, &e);
    check(st, &e);
    if (st != TC_E_NOMEM)
        differential(data, size, st, tok, &e);
    if (st != TC_OK)
        return 0;
    tc_str *merges = NULL;
    size_t nm = 0;
    tc_err_clear(&e);
    check(tc_hf_bpe_merges(tok, "tokenizer.json", &merges, &nm, &e), &e);
    tc_free(merges);
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
    tc_hf_tok_free(tok);
    return 0;
}
