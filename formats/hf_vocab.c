/*
 * hf_vocab.c - the tokenizer of a Hugging Face directory as llama.cpp's converter writes it
 * (../shared/HF-TO-GGUF.md §4): the vocabulary (SentencePiece tokenizer.model parsed here, or a
 * byte-level BPE tokenizer.json through hf_bpe.c), then gguf-py's SpecialVocab (merges,
 * special token ids, add-flags, chat templates) and the per-architecture extras.
 */
#include "hf.h"
#include "tc_impl.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#define SPM_MAX_FILE   (64u << 20)
#define SPM_MAX_PIECES (1u << 22)
#define TOK_MAX_JSON   (64u << 20)
#define VOCAB_MAX      (1u << 24)

enum { TT_NORMAL = 1, TT_UNKNOWN = 2, TT_CONTROL = 3, TT_USER = 4, TT_UNUSED = 5, TT_BYTE = 6 };

typedef struct vocab {
    char **tok;
    float *score;
    int32_t *type;
    uint64_t n;
} vocab;

static void vocab_free(vocab *v)
{
    for (uint64_t i = 0; v->tok && i < v->n; i++)
        tc_free(v->tok[i]);
    tc_free(v->tok);
    tc_free(v->score);
    tc_free(v->type);
}

static tc_status vocab_init(vocab *v, uint64_t n, tc_err *e)
{
    memset(v, 0, sizeof *v);
    if (n == 0 || n > VOCAB_MAX)
        return tc_err_set(e, TC_E_LIMIT, "vocabulary of %llu tokens (1..%u)", (unsigned long long)n,
                          VOCAB_MAX);
    v->tok = tc_calloc(n, sizeof *v->tok);
    v->score = tc_calloc(n, sizeof *v->score);
    v->type = tc_calloc(n, sizeof *v->type);
    if (!v->tok || !v->score || !v->type)
        return tc_err_set(e, TC_E_NOMEM, "out of memory");
    v->n = n;
    for (uint64_t i = 0; i < n; i++) {
        char b[32];
        snprintf(b, sizeof b, "[PAD%llu]", (unsigned long long)i);
        if ((v->tok[i] = tc_strdup(b)) == NULL)
            return tc_err_set(e, TC_E_NOMEM, "out of memory");
        v->score[i] = -10000.0f;
        v->type[i] = TT_UNUSED;
    }
    return TC_OK;
}

static tc_status vocab_set(vocab *v, uint64_t id, const char *s, size_t len, tc_err *e)
{
    char *c = tc_malloc(len + 1);
    if (c == NULL)
        return tc_err_set(e, TC_E_NOMEM, "out of memory");
    memcpy(c, s, len);
    c[len] = 0;
    tc_free(v->tok[id]);
    v->tok[id] = c;
    return TC_OK;
}

/* ---- SentencePiece ModelProto (protobuf): field 1 = repeated SentencePiece ---- */

static tc_status pb_varint(tc_cur *c, uint64_t *v)
{
    *v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        uint8_t b;
        TC_TRY(tc_cur_u8(c, &b));
        *v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            return TC_OK;
    }
    return tc_err_set(c->err, TC_E_FORMAT, "%s @%#" PRIx64 ": varint longer than 10 bytes", c->what,
                      tc_cur_off(c));
}

static tc_status pb_skip(tc_cur *c, unsigned wire)
{
    uint64_t v;
    const uint8_t *p;
    switch (wire) {
    case 0:
        return pb_varint(c, &v);
    case 1:
        return tc_cur_take(c, 8, &p);
    case 2:
        TC_TRY(pb_varint(c, &v));
        return tc_cur_take(c, v, &p);
    case 5:
        return tc_cur_take(c, 4, &p);
    }
    return tc_err_set(c->err, TC_E_FORMAT, "%s @%#" PRIx64 ": protobuf wire type %u", c->what,
                      tc_cur_off(c), wire);
}

typedef struct spm_piece {
    const uint8_t *s;
    size_t len;
    float score;
    int type; /* proto enum: NORMAL 1, UNKNOWN 2, CONTROL 3, USER_DEFINED 4, BYTE 6, UNUSED 5 */
} spm_piece;

static tc_status spm_parse(const uint8_t *d, uint64_t n, const char *what, spm_piece **out,
                           size_t *n_out, tc_err *e)
{
    tc_cur c;
    tc_cur_init(&c, d, n, what, e);
    spm_piece *v = NULL;
    size_t nv = 0, cap = 0;
    tc_status rc = TC_OK;
    while (rc == TC_OK && tc_cur_left(&c) > 0) {
        uint64_t key;
        if ((rc = pb_varint(&c, &key)) != TC_OK)
            break;
        unsigned field = (unsigned)(key >> 3), wire = (unsigned)(key & 7);
        if (field != 1 || wire != 2) {
            rc = pb_skip(&c, wire);
            continue;
        }
        uint64_t len;
        const uint8_t *msg = NULL;
        if ((rc = pb_varint(&c, &len)) != TC_OK || (rc = tc_cur_take(&c, len, &msg)) != TC_OK)
            break;
        if (nv == cap) {
            if (nv >= SPM_MAX_PIECES) {
                rc = tc_err_set(e, TC_E_LIMIT, "%s: more than %u pieces", what, SPM_MAX_PIECES);
                break;
            }
            size_t nc = cap ? cap * 2 : 1024;
            spm_piece *nvp = tc_realloc(v, nc * sizeof *nvp);
            if (nvp == NULL) {
                rc = tc_err_set(e, TC_E_NOMEM, "out of memory");
                break;
            }
            v = nvp;
            cap = nc;
        }
        spm_piece *pc = &v[nv];
        memset(pc, 0, sizeof *pc);
        pc->type = 1;
        int have_piece = 0;
        tc_cur m;
        tc_cur_init(&m, msg, len, what, e);
        while (rc == TC_OK && tc_cur_left(&m) > 0) {
            uint64_t k2;
            if ((rc = pb_varint(&m, &k2)) != TC_OK)
                break;
            unsigned f2 = (unsigned)(k2 >> 3), w2 = (unsigned)(k2 & 7);
            if (f2 == 1 && w2 == 2) {
                uint64_t sl;
                if ((rc = pb_varint(&m, &sl)) == TC_OK &&
                    (rc = tc_cur_take(&m, sl, &pc->s)) == TC_OK) {
                    pc->len = (size_t)sl;
                    have_piece = 1;
                }
            } else if (f2 == 2 && w2 == 5) {
                uint32_t u;
                if ((rc = tc_cur_u32(&m, &u)) == TC_OK)
                    memcpy(&pc->score, &u, 4);
            } else if (f2 == 3 && w2 == 0) {
                uint64_t t;
                if ((rc = pb_varint(&m, &t)) == TC_OK)
                    pc->type = (int)(t > 6 ? 1 : t);
            } else {
                rc = pb_skip(&m, w2);
            }
        }
        if (rc == TC_OK && !have_piece)
            rc = tc_err_set(e, TC_E_FORMAT, "%s: piece %zu has no text", what, nv);
        if (rc == TC_OK && !tc_utf8_valid((const char *)pc->s, pc->len))
            rc = tc_err_set(e, TC_E_FORMAT, "%s: piece %zu is not valid UTF-8", what, nv);
        nv++;
    }
    if (rc == TC_OK && nv == 0)
        rc = tc_err_set(e, TC_E_FORMAT, "%s: no pieces (not a SentencePiece model)", what);
    if (rc != TC_OK) {
        tc_free(v);
        return rc;
    }
    *out = v;
    *n_out = nv;
    return TC_OK;
}

tc_status tc_hf_spm_parse(const uint8_t *d, uint64_t n, const char *what, size_t *n_pieces,
                          tc_err *e)
{
    spm_piece *v = NULL;
    TC_TRY(spm_parse(d, n, what, &v, n_pieces, e));
    tc_free(v);
    return TC_OK;
}

/* "Looks special" (sheet §4.3) */
static int looks_special(const char *t)
{
    size_t n = strlen(t);
    if (!strcmp(t, "<pad>") || !strcmp(t, "<mask>") || !strcmp(t, "<2mass>") ||
        !strcmp(t, "[@BOS@]"))
        return 1;
    if (n >= 4 && !strncmp(t, "<|", 2) && !strcmp(t + n - 2, "|>"))
        return 1;
    if (n >= 8 && !strncmp(t, "<\xef\xbd\x9c", 4) && !strcmp(t + n - 4, "\xef\xbd\x9c>"))
        return 1;
    if (n >= 8 && !strncmp(t, "<unused", 7) && t[n - 1] == '>')
        return 1;
    return 0;
}

/* "▁" (U+2581) -> " " */
static char *meta_to_space(const char *s)
{
    char *o = tc_malloc(strlen(s) + 1), *w = o;
    if (o == NULL)
        return NULL;
    for (const char *r = s; *r;) {
        if ((unsigned char)r[0] == 0xe2 && (unsigned char)r[1] == 0x96 &&
            (unsigned char)r[2] == 0x81) {
            *w++ = ' ';
            r += 3;
        } else {
            *w++ = *r++;
        }
    }
    *w = 0;
    return o;
}

static tc_status spm_vocab(const char *dir, const json_t *config, const json_t *tok_config,
                           int phi3, vocab *v, tc_err *e)
{
    char *p = tc_path_join(dir, "tokenizer.model");
    if (p == NULL)
        return tc_err_set(e, TC_E_NOMEM, "out of memory");
    tc_map *mp = NULL;
    struct stat st;
    tc_status rc = TC_OK;
    if (stat(p, &st) == 0 && (uint64_t)st.st_size > SPM_MAX_FILE)
        rc = tc_err_set(e, TC_E_LIMIT, "%s: over %u bytes", p, SPM_MAX_FILE);
    if (rc == TC_OK)
        rc = tc_map_open(p, &mp, e);
    spm_piece *pc = NULL;
    size_t np = 0;
    if (rc == TC_OK)
        rc = spm_parse(tc_map_data(mp), tc_map_size(mp), p, &pc, &np, e);
    uint64_t n = np;
    const json_t *vs = json_object_get(config, "vocab_size");
    if (json_is_integer(vs) && json_integer_value(vs) > 0)
        n = (uint64_t)json_integer_value(vs);
    if (rc == TC_OK)
        rc = vocab_init(v, n, e);
    for (size_t i = 0; rc == TC_OK && i < np; i++) {
        if (i >= n) {
            if (phi3)
                continue;
            break; /* pieces past vocab_size are dropped */
        }
        rc = vocab_set(v, i, (const char *)pc[i].s, pc[i].len, e);
        v->score[i] = pc[i].score;
        v->type[i] = pc[i].type == 2   ? TT_UNKNOWN
                     : pc[i].type == 3 ? TT_CONTROL
                     : pc[i].type == 5 ? TT_UNUSED
                     : pc[i].type == 6 ? TT_BYTE
                                       : TT_NORMAL;
    }
    tc_free(pc);
    tc_map_unref(mp);
    /* added_tokens.json */
    json_t *added = NULL;
    if (rc == TC_OK)
        rc = tc_hf_json_load(dir, "added_tokens.json", TOK_MAX_JSON, 1, &added, e);
    const char *k;
    json_t *val;
    json_object_foreach(added, k, val)
    {
        if (rc != TC_OK)
            break;
        if (!json_is_integer(val)) {
            rc = tc_err_set(e, TC_E_FORMAT, "%s/added_tokens.json: '%s' is not an id", dir, k);
            break;
        }
        json_int_t id = json_integer_value(val);
        if (id >= 0 && (uint64_t)id < v->n) {
            rc = vocab_set(v, (uint64_t)id, k, strlen(k), e);
            v->score[id] = -1000.0f;
            v->type[id] = TT_USER;
        }
    }
    json_decref(added);
    /* tokenizer_config.json added_tokens_decoder */
    const json_t *atd = json_object_get(tok_config, "added_tokens_decoder");
    json_object_foreach((json_t *)atd, k, val)
    {
        if (rc != TC_OK)
            break;
        char *end;
        long long id = strtoll(k, &end, 10);
        const json_t *content = json_object_get(val, "content");
        if (*end || !json_is_string(content)) {
            rc = tc_err_set(e, TC_E_FORMAT,
                            "%s/tokenizer_config.json: added_tokens_decoder['%s'] has no content",
                            dir, k);
            break;
        }
        if (id < 0 || (!phi3 && (uint64_t)id >= v->n) || (uint64_t)id >= v->n)
            continue;
        const char *text = json_string_value(content);
        int special = json_is_true(json_object_get(val, "special"));
        if (special || (!phi3 && looks_special(text))) {
            rc = vocab_set(v, (uint64_t)id, text, strlen(text), e);
            v->type[id] = TT_CONTROL;
        } else {
            char *sp = phi3 ? tc_strdup(text) : meta_to_space(text);
            if (sp == NULL) {
                rc = tc_err_set(e, TC_E_NOMEM, "out of memory");
                break;
            }
            rc = vocab_set(v, (uint64_t)id, sp, strlen(sp), e);
            tc_free(sp);
            v->type[id] = TT_USER;
        }
        v->score[id] = -1000.0f;
    }
    tc_free(p);
    return rc;
}

/* ---- writing ---- */

static tc_status put_tokens(tc_graph *g, const vocab *v, int with_scores, tc_err *e)
{
    tc_str *s = tc_malloc((size_t)v->n * sizeof *s);
    if (s == NULL)
        return tc_err_set(e, TC_E_NOMEM, "out of memory");
    for (uint64_t i = 0; i < v->n; i++)
        s[i] = (tc_str){v->tok[i], strlen(v->tok[i])};
    tc_value tv = {.type = TC_V_ARR, .arr = {TC_V_STR, v->n, s}};
    tc_status rc = tc_graph_set(g, "tokenizer.ggml.tokens", &tv, e);
    tc_free(s);
    if (rc == TC_OK && with_scores) {
        tc_value sv = {.type = TC_V_ARR, .arr = {TC_V_F32, v->n, v->score}};
        rc = tc_graph_set(g, "tokenizer.ggml.scores", &sv, e);
    }
    if (rc == TC_OK) {
        tc_value yv = {.type = TC_V_ARR, .arr = {TC_V_I32, v->n, v->type}};
        rc = tc_graph_set(g, "tokenizer.ggml.token_type", &yv, e);
    }
    return rc;
}

/* gguf-py SpecialVocab (sheet §4.5). */
typedef struct special {
    int64_t id[8]; /* bos eos unk sep pad mask eot eom; -1 unset */
    int add[3];    /* add_bos add_eos add_sep; -1 unset */
} special;

static const char *const sp_types[] = {"bos", "eos", "unk", "sep", "pad", "mask", "eot", "eom"};
static const char *const sp_keys[] = {
    "tokenizer.ggml.bos_token_id",     "tokenizer.ggml.eos_token_id",
    "tokenizer.ggml.unknown_token_id", "tokenizer.ggml.seperator_token_id",
    "tokenizer.ggml.padding_token_id", "tokenizer.ggml.mask_token_id",
    "tokenizer.ggml.eot_token_id",     "tokenizer.ggml.eom_token_id"};

/* The text of a tokenizer_config special entry (string, or {"content": ...}). */
static const char *tok_text(const json_t *v)
{
    if (json_is_string(v))
        return json_string_value(v);
    const json_t *c = json_object_get(v, "content");
    return json_is_string(c) ? json_string_value(c) : NULL;
}

/* The id of the first added token whose content is `text` (tokenizer.json added_tokens). */
static int64_t added_id(const json_t *tok, const char *text)
{
    const json_t *at = json_object_get(tok, "added_tokens");
    for (size_t i = 0; text && i < json_array_size(at); i++) {
        const json_t *x = json_array_get(at, i);
        const json_t *c = json_object_get(x, "content"), *id = json_object_get(x, "id");
        if (json_is_string(c) && json_is_integer(id) && strcmp(json_string_value(c), text) == 0)
            return (int64_t)json_integer_value(id);
    }
    return -1;
}

static void set_id(special *s, int type, int64_t id, uint64_t n_vocab)
{
    if (s->id[type] >= 0 || id < 0)
        return; /* first setter wins */
    if (n_vocab && (uint64_t)id >= n_vocab)
        return;
    s->id[type] = id;
}

static void special_load(const json_t *tok, const json_t *tc, const json_t *config,
                         uint64_t n_vocab, special *s)
{
    for (int i = 0; i < 8; i++)
        s->id[i] = -1;
    for (int i = 0; i < 3; i++)
        s->add[i] = -1;
    if (tok && tc) {
        /* post-processor: TemplateProcessing / RobertaProcessing */
        const json_t *pp = json_object_get(tok, "post_processor");
        const json_t *procs = json_object_get(pp, "processors");
        size_t np = json_is_array(procs) ? json_array_size(procs) : 1;
        for (size_t k = 0; k < np; k++) {
            const json_t *p = json_is_array(procs) ? json_array_get(procs, k) : pp;
            const json_t *ty = json_object_get(p, "type");
            if (!json_is_string(ty))
                continue;
            if (strcmp(json_string_value(ty), "RobertaProcessing") == 0) {
                s->add[0] = s->add[1] = s->add[2] = 1;
                continue;
            }
            if (strcmp(json_string_value(ty), "TemplateProcessing") != 0)
                continue;
            const json_t *single = json_object_get(p, "single");
            if (json_array_size(single) < 2)
                continue;
            const char *bos = tok_text(json_object_get(tc, "bos_token"));
            if (!bos)
                bos = tok_text(json_object_get(tc, "cls_token"));
            const char *eos = tok_text(json_object_get(tc, "eos_token"));
            if (!eos)
                eos = tok_text(json_object_get(tc, "sep_token"));
            const json_t *first = json_object_get(json_array_get(single, 0), "SpecialToken");
            const json_t *fid = json_object_get(first, "id");
            if (json_is_string(fid)) {
                s->add[0] = bos && strcmp(json_string_value(fid), bos) == 0;
            } else {
                s->add[0] = 0;
            }
            const json_t *last = json_object_get(
                json_array_get(single, json_array_size(single) - 1), "SpecialToken");
            const json_t *lid = json_object_get(last, "id");
            if (json_is_string(lid))
                s->add[1] = 1;
            const json_t *pair = json_object_get(p, "pair");
            s->add[2] = 0;
            for (size_t i = 1; i + 1 < json_array_size(pair); i++) {
                const json_t *mid = json_object_get(json_array_get(pair, i), "SpecialToken");
                const json_t *mi = json_object_get(mid, "id");
                const char *sep = tok_text(json_object_get(tc, "sep_token"));
                if (json_is_string(mi) && ((sep && !strcmp(json_string_value(mi), sep)) ||
                                           (eos && !strcmp(json_string_value(mi), eos))))
                    s->add[2] = 1;
            }
        }
    }
    if (tc) {
        static const char *const addk[] = {"add_bos_token", "add_eos_token", "add_sep_token"};
        for (int i = 0; i < 3; i++) {
            const json_t *a = json_object_get(tc, addk[i]);
            if (json_is_boolean(a))
                s->add[i] = json_is_true(a);
        }
        if (tok)
            for (int t = 0; t < 6; t++) {
                char k[32];
                snprintf(k, sizeof k, "%s_token", sp_types[t]);
                const json_t *v = json_object_get(tc, k);
                if (!v && t == 0)
                    v = json_object_get(tc, "cls_token");
                if (!v && t == 1)
                    v = json_object_get(tc, "sep_token");
                set_id(s, t, added_id(tok, tok_text(v)), n_vocab);
            }
    }
    /* config.json ids (also inside text_config), ints only */
    for (int t = 0; t < 6; t++) {
        char k[32];
        snprintf(k, sizeof k, "%s_token_id", sp_types[t]);
        const json_t *v = json_object_get(config, k);
        if (json_is_integer(v))
            set_id(s, t, (int64_t)json_integer_value(v), n_vocab);
    }
}

static tc_status chat_templates(const char *dir, const json_t *tc, tc_graph *g, tc_err *e)
{
    if (tc == NULL || json_object_size(tc) == 0)
        return TC_OK;
    const json_t *ct = json_object_get(tc, "chat_template");
    if (ct && json_is_null(ct))
        return TC_OK;
    if (json_is_string(ct))
        return tc_graph_set_str(g, "tokenizer.chat_template", json_string_value(ct), e);
    if (json_is_array(ct)) {
        const char *dflt = NULL;
        tc_str names[64];
        size_t nn = 0;
        for (size_t i = 0; i < json_array_size(ct); i++) {
            const json_t *x = json_array_get(ct, i);
            const json_t *n = json_object_get(x, "name"), *t = json_object_get(x, "template");
            if (!json_is_string(n) || !json_is_string(t) || !*json_string_value(n))
                continue;
            char nm[128];
            snprintf(nm, sizeof nm, "%s", json_string_value(n));
            for (char *c = nm; *c; c++)
                if (!isalnum((unsigned char)*c))
                    *c = '_';
            if (strcmp(nm, "default") == 0) {
                dflt = json_string_value(t);
                continue;
            }
            char key[192];
            snprintf(key, sizeof key, "tokenizer.chat_template.%s", nm);
            TC_TRY(tc_graph_set_str(g, key, json_string_value(t), e));
            if (nn < 64) {
                const char *kept = tc_graph_strdup(g, nm, strlen(nm));
                if (kept)
                    names[nn++] = (tc_str){kept, strlen(kept)};
            }
        }
        if (nn) {
            tc_value v = {.type = TC_V_ARR, .arr = {TC_V_STR, nn, names}};
            TC_TRY(tc_graph_set(g, "tokenizer.chat_templates", &v, e));
        }
        if (dflt)
            TC_TRY(tc_graph_set_str(g, "tokenizer.chat_template", dflt, e));
        return TC_OK;
    }
    /* chat_template.jinja, else chat_template.json */
    char *p = tc_path_join(dir, "chat_template.jinja");
    FILE *f = p ? fopen(p, "rb") : NULL;
    tc_status rc = TC_OK;
    if (f) {
        char *buf = tc_malloc(TOK_MAX_JSON + 1);
        size_t n = buf ? fread(buf, 1, TOK_MAX_JSON, f) : 0;
        if (buf) {
            buf[n] = 0;
            rc = tc_graph_set_str(g, "tokenizer.chat_template", buf, e);
        }
        tc_free(buf);
        fclose(f);
    } else {
        json_t *cj = NULL;
        rc = tc_hf_json_load(dir, "chat_template.json", TOK_MAX_JSON, 1, &cj, e);
        const json_t *t = json_object_get(cj, "chat_template");
        if (rc == TC_OK && json_is_string(t))
            rc = tc_graph_set_str(g, "tokenizer.chat_template", json_string_value(t), e);
        json_decref(cj);
    }
    tc_free(p);
    return rc;
}

static tc_status special_write(const char *dir, const json_t *tok, const json_t *tc,
                               const json_t *config, uint64_t n_vocab, int with_merges,
                               const special *forced, tc_graph *g, tc_err *e)
{
    if (with_merges && tok) {
        char **merges = NULL;
        size_t nm = 0;
        TC_TRY(tc_hf_bpe_merges(tok, dir, &merges, &nm, e));
        if (nm) {
            tc_str *v = tc_malloc(nm * sizeof *v);
            tc_status rc = v ? TC_OK : tc_err_set(e, TC_E_NOMEM, "out of memory");
            for (size_t i = 0; v && i < nm; i++)
                v[i] = (tc_str){merges[i], strlen(merges[i])};
            tc_value val = {.type = TC_V_ARR, .arr = {TC_V_STR, nm, v}};
            if (rc == TC_OK)
                rc = tc_graph_set(g, "tokenizer.ggml.merges", &val, e);
            tc_free(v);
            tc_hf_strv_free(merges, nm);
            TC_TRY(rc);
        }
    }
    special s;
    special_load(tok, tc, config, n_vocab, &s);
    for (int t = 0; forced && t < 8; t++)
        if (forced->id[t] >= 0)
            s.id[t] = forced->id[t];
    for (int t = 0; t < 8; t++)
        if (s.id[t] >= 0)
            TC_TRY(tc_graph_set_u32(g, sp_keys[t], (uint32_t)s.id[t], e));
    static const char *const addk[] = {"tokenizer.ggml.add_bos_token",
                                       "tokenizer.ggml.add_eos_token",
                                       "tokenizer.ggml.add_sep_token"};
    for (int i = 0; i < 3; i++) {
        int a = forced && forced->add[i] >= 0 ? forced->add[i] : s.add[i];
        if (a >= 0) {
            tc_value v = {.type = TC_V_BOOL, .u = (uint64_t)a};
            TC_TRY(tc_graph_set(g, addk[i], &v, e));
        }
    }
    return chat_templates(dir, tc, g, e);
}

tc_status tc_hf_vocab(const char *dir, const json_t *config, const char *hf_arch,
                      const char *gguf_arch, const tc_hf_opts *o, tc_graph *g, uint64_t *n_vocab,
                      tc_err *e)
{
    *n_vocab = 0;
    if (o && o->tokenizer_pre && !tc_hf_pre_known(o->tokenizer_pre))
        return tc_err_set(e, TC_E_USAGE,
                          "--tokenizer-pre %s: llama.cpp does not know that pre-tokenizer",
                          o->tokenizer_pre);
    json_t *tc = NULL, *tok = NULL;
    TC_TRY(tc_hf_json_load(dir, "tokenizer_config.json", TOK_MAX_JSON, 1, &tc, e));
    tc_status rc = tc_hf_json_load(dir, "tokenizer.json", TOK_MAX_JSON, 1, &tok, e);
    char *spm_path = tc_path_join(dir, "tokenizer.model");
    struct stat st;
    int have_spm = spm_path && stat(spm_path, &st) == 0;
    tc_free(spm_path);
    int is_llama = strcmp(gguf_arch, "llama") == 0, is_gemma = strncmp(gguf_arch, "gemma", 5) == 0;
    int is_phi3 = strcmp(gguf_arch, "phi3") == 0;
    int use_spm = have_spm;
    if (strcmp(gguf_arch, "deepseek2") == 0)
        use_spm = 0;
    if (is_phi3 && json_is_string(json_object_get(tc, "tokenizer_class")) &&
        strcmp(json_string_value(json_object_get(tc, "tokenizer_class")), "GPT2Tokenizer") == 0)
        use_spm = 0;
    if ((strcmp(gguf_arch, "gemma") == 0 || strcmp(gguf_arch, "gemma2") == 0) && !have_spm &&
        rc == TC_OK)
        rc = tc_err_set(e, TC_E_FORMAT, "%s: %s needs a SentencePiece tokenizer.model", dir,
                        hf_arch);
    if (rc == TC_OK && !use_spm && tok == NULL)
        rc = tc_err_set(e, TC_E_FORMAT, "%s: no tokenizer.model or tokenizer.json", dir);
    special forced;
    for (int i = 0; i < 8; i++)
        forced.id[i] = -1;
    for (int i = 0; i < 3; i++)
        forced.add[i] = -1;
    if (rc == TC_OK && is_llama) {
        const json_t *aps = json_object_get(tc, "add_prefix_space");
        if (json_is_boolean(aps)) {
            tc_value v = {.type = TC_V_BOOL, .u = json_is_true(aps)};
            rc = tc_graph_set(g, "tokenizer.ggml.add_space_prefix", &v, e);
        }
    }
    vocab v = {0};
    if (rc == TC_OK && use_spm) {
        rc = spm_vocab(dir, config, tc, is_phi3, &v, e);
        if (rc == TC_OK)
            rc = tc_graph_set_str(g, "tokenizer.ggml.model", "llama", e);
        if (rc == TC_OK)
            rc = tc_graph_set_str(g, "tokenizer.ggml.pre", "default", e);
        if (rc == TC_OK)
            rc = put_tokens(g, &v, 1, e);
        if (rc == TC_OK) {
            *n_vocab = v.n;
            if (strcmp(gguf_arch, "gemma") == 0)
                forced.id[6] = 107; /* eot <end_of_turn> */
            const json_t *vs = json_object_get(config, "vocab_size");
            if (is_llama && json_is_integer(vs) && json_integer_value(vs) == 32016)
                forced.id[6] = 32010;
            if (is_llama && json_is_integer(vs) && json_integer_value(vs) == 49152)
                forced.add[0] = 0;
            rc = special_write(dir, tok, tc, config, v.n, 0, &forced, g, e);
        }
    } else if (rc == TC_OK) {
        uint64_t vs = 0;
        const json_t *jv = json_object_get(config, "vocab_size");
        if (json_is_integer(jv) && json_integer_value(jv) > 0)
            vs = (uint64_t)json_integer_value(jv);
        rc = tc_hf_bpe_vocab(dir, tok, tc, vs, o ? o->tokenizer_pre : NULL, g, n_vocab, e);
        if (rc == TC_OK)
            rc = special_write(dir, tok, tc, config, *n_vocab, 1, &forced, g, e);
    }
    if (rc == TC_OK && is_gemma) {
        tc_value f = {.type = TC_V_BOOL, .u = 0};
        rc = tc_graph_set(g, "tokenizer.ggml.add_space_prefix", &f, e);
    }
    vocab_free(&v);
    json_decref(tc);
    json_decref(tok);
    return rc;
}
