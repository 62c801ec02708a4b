/*
 * hf_vocab_stubs.c - TEMPORARY link stubs so the hf-vocab branch builds and tests alone; the
 * lead deletes this file at merge (the real ones live in hf.c and hf_bpe.c).
 *
 * tc_hf_json_load and tc_hf_bpe_merges are small working versions (the vocab tests use them);
 * tc_hf_bpe_vocab writes only model/pre/tokens/token_type from model.vocab + added_tokens with
 * "[PAD{id}]" fillers, enough to exercise the SpecialVocab step of the gpt2 path.
 */
#include "hf.h"
#include "tc_impl.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

tc_status tc_hf_json_load(const char *dir, const char *name, size_t cap, int optional, json_t **out,
                          tc_err *e)
{
    *out = NULL;
    char *path = tc_path_join(dir, name);
    if (!path)
        return tc_err_set(e, TC_E_NOMEM, "out of memory");
    struct stat st;
    if (stat(path, &st) != 0) {
        tc_free(path);
        return optional ? TC_OK : tc_err_set(e, TC_E_IO, "%s/%s: not found", dir, name);
    }
    if ((uint64_t)st.st_size > cap) {
        tc_free(path);
        return tc_err_set(e, TC_E_LIMIT, "%s: over the cap of %zu bytes", name, cap);
    }
    json_error_t je;
    json_t *j = json_load_file(path, JSON_ALLOW_NUL, &je);
    tc_free(path);
    if (!j)
        return tc_err_set(e, TC_E_FORMAT, "%s: line %d: %s", name, je.line, je.text);
    *out = j;
    return TC_OK;
}

void tc_hf_strv_free(char **v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        tc_free(v[i]);
    tc_free(v);
}

tc_status tc_hf_bpe_merges(const json_t *tokenizer, const char *what, char ***merges, size_t *n,
                           tc_err *e)
{
    *merges = NULL;
    *n = 0;
    json_t *m = json_object_get(json_object_get(tokenizer, "model"), "merges");
    if (!json_is_array(m) || !json_array_size(m))
        return TC_OK;
    size_t cnt = json_array_size(m);
    char **v = tc_calloc(cnt, sizeof *v);
    if (!v)
        return tc_err_set(e, TC_E_NOMEM, "out of memory");
    int pairs = json_is_array(json_array_get(m, 0));
    for (size_t i = 0; i < cnt; i++) {
        json_t *it = json_array_get(m, i);
        char buf[4096] = "";
        if (!pairs && json_is_string(it)) {
            snprintf(buf, sizeof buf, "%s", json_string_value(it));
        } else if (pairs && json_is_array(it) && json_array_size(it) == 2 &&
                   json_is_string(json_array_get(it, 0)) && json_is_string(json_array_get(it, 1))) {
            size_t w = 0;
            for (int k = 0; k < 2; k++) {
                if (k)
                    buf[w++] = ' ';
                for (const char *s = json_string_value(json_array_get(it, k)); *s && w < 4000;
                     s++) {
                    if (*s == ' ') {
                        buf[w++] = (char)0xc4;
                        buf[w++] = (char)0xa0;
                    } else {
                        buf[w++] = *s;
                    }
                }
            }
            buf[w] = 0;
        } else {
            tc_hf_strv_free(v, i);
            return tc_err_set(e, TC_E_FORMAT, "%s: model.merges[%zu]: unknown merges format", what,
                              i);
        }
        v[i] = tc_strdup(buf);
        if (!v[i]) {
            tc_hf_strv_free(v, i);
            return tc_err_set(e, TC_E_NOMEM, "out of memory");
        }
    }
    *merges = v;
    *n = cnt;
    return TC_OK;
}

tc_status tc_hf_bpe_vocab(const char *dir, const json_t *tokenizer, const json_t *tokenizer_config,
                          uint64_t vocab_size, const char *pre_override, tc_graph *g,
                          uint64_t *n_vocab, tc_err *e)
{
    (void)dir;
    (void)tokenizer_config;
    json_t *vocab = json_object_get(json_object_get(tokenizer, "model"), "vocab");
    json_t *added = json_object_get(tokenizer, "added_tokens");
    if (!json_is_object(vocab))
        return tc_err_set(e, TC_E_FORMAT, "tokenizer.json: model.vocab is not an object");
    uint64_t n = json_object_size(vocab) + json_array_size(added);
    if (vocab_size)
        n = vocab_size;
    if (n > (1u << 24))
        return tc_err_set(e, TC_E_LIMIT, "vocab too large");
    tc_str *t = tc_calloc(n ? n : 1, sizeof *t);
    char **own = tc_calloc(n ? n : 1, sizeof *own);
    uint8_t *ty = tc_calloc(n ? n : 1, 4);
    tc_status rc = (t && own && ty) ? TC_OK : tc_err_set(e, TC_E_NOMEM, "out of memory");
    const char *k;
    json_t *v;
    if (rc == TC_OK)
        json_object_foreach(vocab, k, v)
        {
            json_int_t id = json_integer_value(v);
            if (id >= 0 && (uint64_t)id < n) {
                t[id].p = k;
                t[id].len = strlen(k);
                tc_put32(ty + 4 * id, 1);
            }
        }
    size_t i;
    json_array_foreach(added, i, v)
    {
        json_int_t id = json_integer_value(json_object_get(v, "id"));
        json_t *c = json_object_get(v, "content");
        if (rc == TC_OK && id >= 0 && (uint64_t)id < n && json_is_string(c)) {
            t[id].p = json_string_value(c);
            t[id].len = json_string_length(c);
            tc_put32(ty + 4 * id, json_is_true(json_object_get(v, "special")) ? 3 : 4);
        }
    }
    for (uint64_t j = 0; rc == TC_OK && j < n; j++)
        if (!t[j].p) {
            char b[32];
            snprintf(b, sizeof b, "[PAD%" PRIu64 "]", j);
            own[j] = tc_strdup(b);
            t[j].p = own[j];
            t[j].len = strlen(b);
            tc_put32(ty + 4 * j, 5);
        }
    if (rc == TC_OK)
        rc = tc_graph_set_str(g, "tokenizer.ggml.model", "gpt2", e);
    if (rc == TC_OK)
        rc = tc_graph_set_str(g, "tokenizer.ggml.pre", pre_override ? pre_override : "default", e);
    tc_value a = {.type = TC_V_ARR};
    a.arr.elem = TC_V_STR;
    a.arr.n = n;
    a.arr.data = t;
    if (rc == TC_OK)
        rc = tc_graph_set(g, "tokenizer.ggml.tokens", &a, e);
    a.arr.elem = TC_V_I32;
    a.arr.data = ty;
    if (rc == TC_OK)
        rc = tc_graph_set(g, "tokenizer.ggml.token_type", &a, e);
    for (uint64_t j = 0; own && j < n; j++)
        tc_free(own[j]);
    tc_free(own);
    tc_free(t);
    tc_free(ty);
    if (rc == TC_OK)
        *n_vocab = n;
    return rc;
}
