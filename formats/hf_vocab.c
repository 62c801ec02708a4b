/*
 * hf_vocab.c - the tokenizer keys of a Hugging Face model directory, as llama.cpp's
 * convert_hf_to_gguf.py and gguf-py (vocab.py SpecialVocab) write them
 * (../shared/HF-TO-GGUF.md §3 vocab bullets, §4.1, §4.2, §4.5, §4.6).
 *
 * - Dispatch per architecture: llama (SentencePiece, else "llama_hf" tokenizer.json, else gpt2),
 *   qwen2/qwen3(+moe), gemma/gemma2/gemma3, phi3 (GPT2Tokenizer class or the Phi3 SPM variant),
 *   deepseek2 (gpt2). The gpt2 vocab itself is hf_bpe.c's tc_hf_bpe_vocab.
 * - SentencePiece tokenizer.model: the protobuf is parsed here (ModelProto field 1 = repeated
 *   SentencePiece {1 piece, 2 score, 3 type}); every other field of every wire type is skipped,
 *   groups to a bounded depth; sizes, counts and the file size are capped.
 * - SpecialVocab: merges, special ids (first setter wins), add_{bos,eos,sep} flags including the
 *   post-processor analysis, chat template(s), normalizer flags.
 *
 * Determinism: where gguf-py builds tokenizer.chat_templates from a Python set (unordered), the
 * names are written sorted (byte order); the additional_chat_templates .jinja files are read in
 * sorted file-name order.
 */
#include "hf.h"
#include "tc_impl.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ===== Caps ===== */
#define HFV_MAX_SPM_FILE   (256u << 20) /* tokenizer.model bytes */
#define HFV_MAX_PIECES     (1u << 24)   /* SentencePiece pieces / tokens in one vocab */
#define HFV_MAX_GROUP_NEST 64           /* nested protobuf groups while skipping */
#define HFV_MAX_JSON       (512u << 20) /* tokenizer.json / tokenizer_config.json bytes */
#define HFV_MAX_SMALL_JSON (64u << 20)  /* added_tokens.json, chat_template.json, config-ish */
#define HFV_MAX_TEMPLATE   (16u << 20)  /* one chat template file */
#define HFV_MAX_TEMPLATES  1024         /* additional_chat_templates/ files */
#define HFV_MAX_NORM_NEST  16           /* nested Sequence normalizers */
#define HFV_MAX_TYPES      16           /* special token types of one SpecialVocab */

/* gguf TokenType == SentencePiece proto enum values */
enum { TT_NORMAL = 1, TT_UNKNOWN = 2, TT_CONTROL = 3, TT_USER = 4, TT_UNUSED = 5, TT_BYTE = 6 };

/* ===== token list ===== */

typedef struct hfv_tok {
    char *p;
    size_t len;
} hfv_tok;

typedef struct hfv_vocab {
    hfv_tok *tok;
    float *score;
    int32_t *type;
    uint64_t n;
} hfv_vocab;

static void vocab_free(hfv_vocab *v)
{
    if (v->tok)
        for (uint64_t i = 0; i < v->n; i++)
            tc_free(v->tok[i].p);
    tc_free(v->tok);
    tc_free(v->score);
    tc_free(v->type);
    memset(v, 0, sizeof *v);
}

static tc_status vocab_alloc(hfv_vocab *v, uint64_t n, tc_err *e)
{
    memset(v, 0, sizeof *v);
    if (n > HFV_MAX_PIECES)
        return tc_err_set(e, TC_E_LIMIT, "vocab of %" PRIu64 " tokens is over the cap of %u", n,
                          HFV_MAX_PIECES);
    v->tok = tc_calloc(n ? n : 1, sizeof *v->tok);
    v->score = tc_calloc(n ? n : 1, sizeof *v->score);
    v->type = tc_calloc(n ? n : 1, sizeof *v->type);
    if (!v->tok || !v->score || !v->type) {
        vocab_free(v);
        return tc_err_set(e, TC_E_NOMEM, "out of memory for a vocab of %" PRIu64 " tokens", n);
    }
    v->n = n;
    return TC_OK;
}

static tc_status tok_set(hfv_tok *t, const char *s, size_t len, tc_err *e)
{
    char *p = tc_malloc(len + 1);
    if (!p)
        return tc_err_set(e, TC_E_NOMEM, "out of memory for a token");
    memcpy(p, s, len);
    p[len] = 0;
    tc_free(t->p);
    t->p = p;
    t->len = len;
    return TC_OK;
}

/* Fill slots [0, n) with "[PAD{id}]", score `score`, type UNUSED. */
static tc_status vocab_pad(hfv_vocab *v, float score, tc_err *e)
{
    for (uint64_t i = 0; i < v->n; i++) {
        char b[32];
        int k = snprintf(b, sizeof b, "[PAD%" PRIu64 "]", i);
        TC_TRY(tok_set(&v->tok[i], b, (size_t)k, e));
        v->score[i] = score;
        v->type[i] = TT_UNUSED;
    }
    return TC_OK;
}

static tc_status set_str_array(tc_graph *g, const char *key, const hfv_tok *t, char *const *s,
                               uint64_t n, tc_err *e)
{
    tc_str *a = tc_calloc(n ? n : 1, sizeof *a);
    if (!a)
        return tc_err_set(e, TC_E_NOMEM, "out of memory for %s", key);
    for (uint64_t i = 0; i < n; i++) {
        a[i].p = t ? t[i].p : s[i];
        a[i].len = t ? t[i].len : strlen(s[i]);
    }
    tc_value v = {.type = TC_V_ARR};
    v.arr.elem = TC_V_STR;
    v.arr.n = n;
    v.arr.data = a;
    tc_status rc = tc_graph_set(g, key, &v, e);
    tc_free(a);
    return rc;
}

static tc_status set_bool(tc_graph *g, const char *key, int b, tc_err *e)
{
    tc_value v = {.type = TC_V_BOOL};
    v.u = b ? 1 : 0;
    return tc_graph_set(g, key, &v, e);
}

/* tokenizer.ggml.model, .pre, .tokens, .scores, .token_type */
static tc_status vocab_write_llama(tc_graph *g, const hfv_vocab *v, tc_err *e)
{
    TC_TRY(tc_graph_set_str(g, "tokenizer.ggml.model", "llama", e));
    TC_TRY(tc_graph_set_str(g, "tokenizer.ggml.pre", "default", e));
    TC_TRY(set_str_array(g, "tokenizer.ggml.tokens", v->tok, NULL, v->n, e));
    uint64_t n = v->n;
    uint8_t *buf = tc_malloc(n ? n * 4 : 1);
    if (!buf)
        return tc_err_set(e, TC_E_NOMEM, "out of memory for the scores");
    tc_value a = {.type = TC_V_ARR};
    a.arr.n = n;
    a.arr.data = buf;
    for (uint64_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &v->score[i], 4);
        tc_put32(buf + 4 * i, u);
    }
    a.arr.elem = TC_V_F32;
    tc_status rc = tc_graph_set(g, "tokenizer.ggml.scores", &a, e);
    if (rc == TC_OK) {
        for (uint64_t i = 0; i < n; i++)
            tc_put32(buf + 4 * i, (uint32_t)v->type[i]);
        a.arr.elem = TC_V_I32;
        rc = tc_graph_set(g, "tokenizer.ggml.token_type", &a, e);
    }
    tc_free(buf);
    return rc;
}

/* ===== small Python-like JSON helpers ===== */

/* Python truthiness of a JSON value (NULL = absent = None). */
static int py_truthy(const json_t *j)
{
    if (!j)
        return 0;
    switch (json_typeof(j)) {
    case JSON_NULL:
    case JSON_FALSE:
        return 0;
    case JSON_TRUE:
        return 1;
    case JSON_INTEGER:
        return json_integer_value(j) != 0;
    case JSON_REAL:
        return json_real_value(j) != 0.0;
    case JSON_STRING:
        return json_string_length(j) != 0;
    case JSON_ARRAY:
        return json_array_size(j) != 0;
    case JSON_OBJECT:
        return json_object_size(j) != 0;
    }
    return 1;
}

/* Python ==, with NULL (absent / None) equal to JSON null. */
static int py_eq(const json_t *a, const json_t *b)
{
    int an = !a || json_is_null(a), bn = !b || json_is_null(b);
    if (an || bn)
        return an && bn;
    return json_equal((json_t *)a, (json_t *)b);
}

static int str_is(const json_t *j, const char *s)
{
    return json_is_string(j) && strcmp(json_string_value(j), s) == 0;
}

/* ("SpecialToken" | "Sequence") .id of a template item: item.get(kind, {}).get('id') */
static tc_status tmpl_item_id(const json_t *item, const char *kind, const char *what, json_t **id,
                              tc_err *e)
{
    *id = NULL;
    if (!json_is_object(item))
        return tc_err_set(e, TC_E_FORMAT, "%s: post_processor template item is not an object",
                          what);
    json_t *k = json_object_get(item, kind);
    if (!k)
        return TC_OK;
    if (!json_is_object(k))
        return tc_err_set(e, TC_E_FORMAT, "%s: post_processor template %s is not an object", what,
                          kind);
    *id = json_object_get(k, "id");
    return TC_OK;
}

/* "Looks special" (§4.3 step 3); Python semantics (prefix and suffix may overlap). */
static int looks_special(const char *s, size_t n)
{
    static const char *const exact[] = {"<pad>", "<mask>", "<2mass>", "[@BOS@]"};
    for (size_t i = 0; i < sizeof exact / sizeof *exact; i++)
        if (n == strlen(exact[i]) && memcmp(s, exact[i], n) == 0)
            return 1;
#define PS(pre, suf)                                                                               \
    (n >= strlen(pre) && n >= strlen(suf) && memcmp(s, pre, strlen(pre)) == 0 &&                   \
     memcmp(s + n - strlen(suf), suf, strlen(suf)) == 0)
    if (PS("<|", "|>"))
        return 1;
    if (PS("<\xef\xbd\x9c", "\xef\xbd\x9c>")) /* U+FF5C */
        return 1;
    if (PS("<unused", ">"))
        return 1;
#undef PS
    return 0;
}

/* Replace every U+2581 by ' ' (in place; the string only shrinks). */
static void replace_sp_mark(hfv_tok *t)
{
    size_t w = 0;
    for (size_t r = 0; r < t->len;) {
        if (r + 3 <= t->len && (uint8_t)t->p[r] == 0xe2 && (uint8_t)t->p[r + 1] == 0x96 &&
            (uint8_t)t->p[r + 2] == 0x81) {
            t->p[w++] = ' ';
            r += 3;
        } else {
            t->p[w++] = t->p[r++];
        }
    }
    t->len = w;
    t->p[w] = 0;
}

/* Read a whole small file; *out NULL with TC_OK when absent. */
static tc_status read_file_opt(const char *dir, const char *name, size_t cap, char **out,
                               size_t *len, tc_err *e)
{
    *out = NULL;
    *len = 0;
    char *path = tc_path_join(dir, name);
    if (!path)
        return tc_err_nomem(e);
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
        tc_free(path);
        return TC_OK;
    }
    if ((uint64_t)st.st_size > cap) {
        tc_err_set(e, TC_E_LIMIT, "%s: %lld bytes is over the cap of %zu", path,
                   (long long)st.st_size, cap);
        tc_free(path);
        return TC_E_LIMIT;
    }
    FILE *f = fopen(path, "rb");
    if (!f) {
        tc_status rc = tc_err_sys(e, TC_E_IO, errno, "%s", path);
        tc_free(path);
        return rc;
    }
    char *buf = tc_malloc((size_t)st.st_size + 1);
    if (!buf) {
        fclose(f);
        tc_free(path);
        return tc_err_set(e, TC_E_NOMEM, "out of memory for %s", name);
    }
    size_t got = fread(buf, 1, (size_t)st.st_size, f);
    int bad = ferror(f);
    fclose(f);
    if (bad || got != (size_t)st.st_size) {
        tc_free(buf);
        tc_status rc = tc_err_set(e, TC_E_IO, "%s: short read", path);
        tc_free(path);
        return rc;
    }
    tc_free(path);
    buf[got] = 0;
    *out = buf;
    *len = got;
    return TC_OK;
}

static tc_status file_exists(const char *dir, const char *name, int *yes, tc_err *e)
{
    char *path = tc_path_join(dir, name);
    if (!path)
        return tc_err_nomem(e);
    struct stat st;
    *yes = stat(path, &st) == 0 && S_ISREG(st.st_mode);
    tc_free(path);
    return TC_OK;
}

/* ===== SentencePiece protobuf ===== */

static tc_status pb_varint(tc_cur *c, uint64_t *v)
{
    uint64_t r = 0;
    for (int i = 0; i < 10; i++) {
        uint8_t b;
        TC_TRY(tc_cur_u8(c, &b));
        if (i == 9 && b > 1)
            return tc_err_set(c->err, TC_E_FORMAT, "%s @%#" PRIx64 ": varint overflows 64 bits",
                              c->what, tc_cur_off(c) - 1);
        r |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            *v = r;
            return TC_OK;
        }
    }
    return tc_err_set(c->err, TC_E_FORMAT, "%s @%#" PRIx64 ": varint longer than 10 bytes", c->what,
                      tc_cur_off(c));
}

static tc_status pb_key(tc_cur *c, uint32_t *field, int *wt)
{
    uint64_t k;
    uint64_t off = tc_cur_off(c);
    TC_TRY(pb_varint(c, &k));
    if ((k >> 3) == 0 || (k >> 3) > 0x1fffffff)
        return tc_err_set(c->err, TC_E_FORMAT, "%s @%#" PRIx64 ": invalid field number %" PRIu64,
                          c->what, off, k >> 3);
    *field = (uint32_t)(k >> 3);
    *wt = (int)(k & 7);
    return TC_OK;
}

/* Skip one field's value of wire type `wt` (the key already read). Groups (3) are skipped to
 * their matching end (4), at most HFV_MAX_GROUP_NEST deep. */
static tc_status pb_skip(tc_cur *c, uint32_t field, int wt, int depth)
{
    const uint8_t *p = NULL;
    uint64_t v;
    switch (wt) {
    case 0:
        return pb_varint(c, &v);
    case 1:
        return tc_cur_take(c, 8, &p);
    case 2:
        TC_TRY(pb_varint(c, &v));
        return tc_cur_take(c, v, &p);
    case 5:
        return tc_cur_take(c, 4, &p);
    case 3:
        if (depth >= HFV_MAX_GROUP_NEST)
            return tc_err_set(c->err, TC_E_LIMIT, "%s @%#" PRIx64 ": groups nested deeper than %d",
                              c->what, tc_cur_off(c), HFV_MAX_GROUP_NEST);
        for (;;) {
            uint32_t f = 0;
            int w = 0;
            TC_TRY(pb_key(c, &f, &w));
            if (w == 4) {
                if (f != field)
                    return tc_err_set(c->err, TC_E_FORMAT,
                                      "%s @%#" PRIx64 ": end of group %u inside group %u", c->what,
                                      tc_cur_off(c), f, field);
                return TC_OK;
            }
            TC_TRY(pb_skip(c, f, w, depth + 1));
        }
    default:
        return tc_err_set(c->err, TC_E_FORMAT, "%s @%#" PRIx64 ": unexpected wire type %d", c->what,
                          tc_cur_off(c), wt);
    }
}

typedef struct spm_piece {
    const uint8_t *s;
    uint32_t len;
    uint32_t score_bits;
    int32_t type;
} spm_piece;

static tc_status spm_parse_piece(const uint8_t *b, uint64_t n, const char *what, uint64_t base,
                                 spm_piece *pc, tc_err *e)
{
    tc_cur c;
    tc_cur_init(&c, b, n, what, e);
    int have_piece = 0;
    pc->score_bits = 0;
    pc->type = TT_NORMAL;
    while (tc_cur_left(&c)) {
        uint32_t f = 0;
        int wt = 0;
        TC_TRY(pb_key(&c, &f, &wt));
        if (f == 1 && wt == 2) {
            uint64_t l;
            TC_TRY(pb_varint(&c, &l));
            const uint8_t *p = NULL;
            TC_TRY(tc_cur_take(&c, l, &p));
            pc->s = p;
            pc->len = (uint32_t)l; /* l < n <= the file cap */
            have_piece = 1;
        } else if (f == 2 && wt == 5) {
            uint32_t u;
            TC_TRY(tc_cur_u32(&c, &u));
            pc->score_bits = u;
        } else if (f == 3 && wt == 0) {
            uint64_t t;
            TC_TRY(pb_varint(&c, &t));
            if (t >= 1 && t <= 6) /* unknown enum values stay unknown fields (proto2) */
                pc->type = (int32_t)t;
        } else {
            TC_TRY(pb_skip(&c, f, wt, 0));
        }
    }
    if (!have_piece || pc->len == 0)
        return tc_err_set(e, TC_E_FORMAT, "%s @%#" PRIx64 ": SentencePiece without a piece", what,
                          base);
    if (!tc_utf8_valid((const char *)pc->s, pc->len))
        return tc_err_set(e, TC_E_FORMAT, "%s @%#" PRIx64 ": piece is not valid UTF-8", what, base);
    return TC_OK;
}

/* Parse a ModelProto: *pieces (tc_malloc'd, views into `b`), *n. */
static tc_status spm_parse(const uint8_t *b, uint64_t n, const char *what, spm_piece **pieces,
                           uint64_t *np, tc_err *e)
{
    *pieces = NULL;
    *np = 0;
    tc_cur c;
    tc_cur_init(&c, b, n, what, e);
    spm_piece *v = NULL;
    uint64_t cnt = 0, cap = 0;
    tc_status rc = TC_OK;
    while (rc == TC_OK && tc_cur_left(&c)) {
        uint32_t f = 0;
        int wt = 0;
        if ((rc = pb_key(&c, &f, &wt)) != TC_OK)
            break;
        if (f == 1 && wt == 2) {
            uint64_t l, off;
            const uint8_t *p = NULL;
            if ((rc = pb_varint(&c, &l)) != TC_OK)
                break;
            off = tc_cur_off(&c);
            if ((rc = tc_cur_take(&c, l, &p)) != TC_OK)
                break;
            if (cnt == HFV_MAX_PIECES) {
                rc = tc_err_set(e, TC_E_LIMIT, "%s: more than %u pieces", what, HFV_MAX_PIECES);
                break;
            }
            if (cnt == cap) {
                uint64_t nc = cap ? cap * 2 : 1024;
                spm_piece *nv = tc_realloc(v, nc * sizeof *nv);
                if (!nv) {
                    rc = tc_err_set(e, TC_E_NOMEM, "out of memory for %s pieces", what);
                    break;
                }
                v = nv;
                cap = nc;
            }
            rc = spm_parse_piece(p, l, what, off, &v[cnt], e);
            if (rc == TC_OK)
                cnt++;
        } else {
            rc = pb_skip(&c, f, wt, 0);
        }
    }
    if (rc != TC_OK) {
        tc_free(v);
        return rc;
    }
    if (cnt == 0) {
        tc_free(v);
        return tc_err_set(e, TC_E_FORMAT, "%s: no pieces (not a SentencePiece model)", what);
    }
    *pieces = v;
    *np = cnt;
    return TC_OK;
}

tc_status tc_hf_spm_check(const uint8_t *b, size_t n, uint64_t *count, tc_err *e)
{
    spm_piece *p = NULL;
    uint64_t np = 0;
    TC_TRY(spm_parse(b, n, "tokenizer.model", &p, &np, e));
    tc_free(p);
    if (count)
        *count = np;
    return TC_OK;
}

/* ===== context ===== */

typedef struct hfv_ctx {
    const char *dir;
    const json_t *config;
    tc_hf_tok *tok;           /* tokenizer.json or NULL */
    json_t *tokenizer;        /* its tree (tok->doc) or NULL */
    json_t *tokenizer_config; /* tokenizer_config.json or NULL (object when present) */
    tc_graph *g;
    const tc_hf_opts *o;
    tc_err *e;
} hfv_ctx;

/* config int `key` (absent/null -> *v = 0, *have = 0) */
static tc_status cfg_uint(const hfv_ctx *x, const char *key, uint64_t *v, int *have)
{
    *v = 0;
    *have = 0;
    json_t *j = x->config ? json_object_get(x->config, key) : NULL;
    if (!j || json_is_null(j))
        return TC_OK;
    if (!json_is_integer(j) || json_integer_value(j) < 0)
        return tc_err_set(x->e, TC_E_FORMAT, "config.json: %s is not a non-negative integer", key);
    *v = (uint64_t)json_integer_value(j);
    *have = 1;
    return TC_OK;
}

/* ===== SentencePiece vocab (§4.1) ===== */

static tc_status spm_load(const hfv_ctx *x, spm_piece **pieces, uint64_t *np, tc_map **map)
{
    *map = NULL;
    char *path = tc_path_join(x->dir, "tokenizer.model");
    if (!path)
        return tc_err_nomem(x->e);
    tc_status rc = tc_map_open(path, map, x->e);
    tc_free(path);
    TC_TRY(rc);
    if (tc_map_size(*map) > HFV_MAX_SPM_FILE) {
        rc =
            tc_err_set(x->e, TC_E_LIMIT, "tokenizer.model: %" PRIu64 " bytes is over the cap of %u",
                       tc_map_size(*map), HFV_MAX_SPM_FILE);
    } else {
        rc = spm_parse(tc_map_data(*map), tc_map_size(*map), "tokenizer.model", pieces, np, x->e);
    }
    if (rc != TC_OK) {
        tc_map_unref(*map);
        *map = NULL;
    }
    return rc;
}

static int32_t spm_type(int32_t t)
{
    return (t == TT_UNKNOWN || t == TT_CONTROL || t == TT_UNUSED || t == TT_BYTE) ? t : TT_NORMAL;
}

/* added_tokens.json: {"text": id}; ids >= n skipped */
static tc_status spm_added_tokens_json(const hfv_ctx *x, hfv_vocab *v)
{
    json_t *j = NULL;
    TC_TRY(tc_hf_json_load(x->dir, "added_tokens.json", HFV_MAX_SMALL_JSON, 1, &j, x->e));
    if (!j)
        return TC_OK;
    tc_status rc = TC_OK;
    if (!json_is_object(j))
        rc = tc_err_set(x->e, TC_E_FORMAT, "added_tokens.json: not an object");
    const char *k;
    json_t *val;
    json_object_foreach(j, k, val)
    {
        if (rc != TC_OK)
            break;
        if (!json_is_integer(val) || json_integer_value(val) < 0) {
            rc = tc_err_set(x->e, TC_E_FORMAT, "added_tokens.json: \"%s\" is not a token id", k);
            break;
        }
        uint64_t id = (uint64_t)json_integer_value(val);
        if (id >= v->n)
            continue; /* warning in gguf-py */
        rc = tok_set(&v->tok[id], k, strlen(k), x->e);
        v->score[id] = -1000.0f;
        v->type[id] = TT_USER;
    }
    json_decref(j);
    return rc;
}

/* Parse a decimal id key of added_tokens_decoder. */
static int parse_id_key(const char *k, uint64_t *id)
{
    /* int(str): optional whitespace and sign, digits (underscores ignored here: rare) */
    char *end = NULL;
    while (*k == ' ' || *k == '\t' || *k == '\n')
        k++;
    if (*k == '-' || *k == 0)
        return 0;
    errno = 0;
    unsigned long long u = strtoull(k, &end, 10);
    while (*end == ' ' || *end == '\t' || *end == '\n')
        end++;
    if (errno || *end || end == k)
        return 0;
    *id = u;
    return 1;
}

/* tokenizer_config.json added_tokens_decoder (phi3: plain variant) */
static tc_status spm_added_tokens_decoder(const hfv_ctx *x, hfv_vocab *v, int phi3)
{
    const json_t *tc = x->tokenizer_config;
    json_t *atd = tc ? json_object_get(tc, "added_tokens_decoder") : NULL;
    if (!atd)
        return TC_OK;
    if (!json_is_object(atd))
        return tc_err_set(x->e, TC_E_FORMAT,
                          "tokenizer_config.json: added_tokens_decoder is not an object");
    const char *k;
    json_t *d;
    json_object_foreach(atd, k, d)
    {
        uint64_t id;
        if (!parse_id_key(k, &id))
            return tc_err_set(x->e, TC_E_FORMAT,
                              "tokenizer_config.json: added_tokens_decoder key \"%s\" is not an id",
                              k);
        json_t *content = json_is_object(d) ? json_object_get(d, "content") : NULL;
        if (!json_is_string(content))
            return tc_err_set(x->e, TC_E_FORMAT,
                              "tokenizer_config.json: added_tokens_decoder[\"%s\"].content is not "
                              "a string",
                              k);
        if (id >= v->n) {
            if (phi3)
                return tc_err_set(x->e, TC_E_FORMAT,
                                  "tokenizer_config.json: added_tokens_decoder id %" PRIu64
                                  " is out of range (vocab %" PRIu64 ")",
                                  id, v->n);
            continue;
        }
        const char *s = json_string_value(content);
        size_t len = json_string_length(content);
        int special = py_truthy(json_object_get(d, "special"));
        TC_TRY(tok_set(&v->tok[id], s, len, x->e));
        v->score[id] = -1000.0f;
        if (special || (!phi3 && looks_special(s, len))) {
            v->type[id] = TT_CONTROL;
        } else {
            v->type[id] = TT_USER;
            if (!phi3)
                replace_sp_mark(&v->tok[id]);
        }
    }
    return TC_OK;
}

/* phi3 step 5b: tokenizer.json added_tokens */
static tc_status phi3_added_tokens(const hfv_ctx *x, hfv_vocab *v)
{
    json_t *at = x->tokenizer ? json_object_get(x->tokenizer, "added_tokens") : NULL;
    if (!at)
        return TC_OK;
    if (!json_is_array(at))
        return tc_err_set(x->e, TC_E_FORMAT, "tokenizer.json: added_tokens is not an array");
    size_t i;
    json_t *d;
    json_array_foreach(at, i, d)
    {
        json_t *id = json_is_object(d) ? json_object_get(d, "id") : NULL;
        json_t *content = json_is_object(d) ? json_object_get(d, "content") : NULL;
        if (!json_is_integer(id) || json_integer_value(id) < 0 || !json_is_string(content))
            return tc_err_set(x->e, TC_E_FORMAT,
                              "tokenizer.json: added_tokens[%zu] needs an id and a content", i);
        uint64_t u = (uint64_t)json_integer_value(id);
        if (u >= v->n)
            return tc_err_set(x->e, TC_E_FORMAT,
                              "tokenizer.json: added_tokens[%zu] id %" PRIu64
                              " is out of range (vocab %" PRIu64 ")",
                              i, u, v->n);
        TC_TRY(tok_set(&v->tok[u], json_string_value(content), json_string_length(content), x->e));
        v->score[u] = -1000.0f;
        v->type[u] = py_truthy(json_object_get(d, "special")) ? TT_CONTROL : TT_USER;
    }
    return TC_OK;
}

static tc_status spm_vocab(const hfv_ctx *x, int phi3, hfv_vocab *v)
{
    memset(v, 0, sizeof *v);
    spm_piece *pc = NULL;
    uint64_t np = 0;
    tc_map *map = NULL;
    TC_TRY(spm_load(x, &pc, &np, &map));
    uint64_t n = 0;
    int have = 0;
    tc_status rc = TC_OK;
    if (!phi3) {
        rc = cfg_uint(x, "vocab_size_per_layer_input", &n, &have);
        if (rc == TC_OK && !have)
            rc = cfg_uint(x, "vocab_size", &n, &have);
    } else {
        rc = cfg_uint(x, "vocab_size", &n, &have);
    }
    if (rc == TC_OK && (!have || n == 0))
        n = np;
    if (rc == TC_OK && phi3 && np > n)
        rc = tc_err_set(x->e, TC_E_FORMAT,
                        "tokenizer.model has %" PRIu64 " pieces, more than vocab_size %" PRIu64, np,
                        n);
    if (rc == TC_OK)
        rc = vocab_alloc(v, n, x->e);
    if (rc == TC_OK)
        rc = vocab_pad(v, -10000.0f, x->e);
    for (uint64_t i = 0; rc == TC_OK && i < np && i < n; i++) {
        rc = tok_set(&v->tok[i], (const char *)pc[i].s, pc[i].len, x->e);
        memcpy(&v->score[i], &pc[i].score_bits, 4);
        v->type[i] = spm_type(pc[i].type);
    }
    tc_free(pc);
    tc_map_unref(map);
    if (rc == TC_OK)
        rc = spm_added_tokens_json(x, v);
    if (rc == TC_OK)
        rc = spm_added_tokens_decoder(x, v, phi3);
    if (rc == TC_OK && phi3)
        rc = phi3_added_tokens(x, v);
    if (rc != TC_OK)
        vocab_free(v);
    return rc;
}

/* ===== llama_hf (§4.2) ===== */

/* 1 applicable, 0 not (go gpt2); error on a malformed tokenizer.json */
static tc_status llama_hf_applies(const hfv_ctx *x, int *ok)
{
    *ok = 0;
    const json_t *t = x->tokenizer;
    if (!t)
        return TC_OK;
    json_t *m = json_object_get(t, "model");
    if (!json_is_object(m))
        return tc_err_set(x->e, TC_E_FORMAT, "tokenizer.json: model is missing or not an object");
    json_t *type = json_object_get(m, "type");
    if (!type)
        return tc_err_set(x->e, TC_E_FORMAT, "tokenizer.json: model.type is missing");
    json_t *im = json_object_get(m, "ignore_merges"), *bf = json_object_get(m, "byte_fallback");
    int is_bpe = str_is(type, "BPE");
    if (is_bpe && py_truthy(im) && !(bf ? py_truthy(bf) : 1))
        return TC_OK; /* Llama 3 */
    if (!is_bpe || !py_truthy(bf))
        return TC_OK;
    json_t *dec = json_object_get(t, "decoder");
    if (!json_is_object(dec))
        return TC_OK; /* TypeError in Python: falls back to gpt2 */
    json_t *dt = json_object_get(dec, "type");
    if (!dt)
        return tc_err_set(x->e, TC_E_FORMAT, "tokenizer.json: decoder.type is missing");
    *ok = str_is(dt, "Sequence");
    return TC_OK;
}

/* content of a tokenizer_config special entry: string, or {content: string} */
static const char *special_content(const json_t *j)
{
    if (json_is_string(j))
        return json_string_value(j);
    if (json_is_object(j) && json_is_string(json_object_get(j, "content")))
        return json_string_value(json_object_get(j, "content"));
    return NULL;
}

static int is_hf_special(const hfv_ctx *x, const char *s)
{
    static const char *const keys[] = {"bos_token", "eos_token", "unk_token", "sep_token",
                                       "pad_token", "cls_token", "mask_token"};
    const json_t *tc = x->tokenizer_config;
    if (!tc)
        return 0;
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        const char *c = special_content(json_object_get(tc, keys[i]));
        if (c && strcmp(c, s) == 0)
            return 1;
    }
    json_t *ast = json_object_get(tc, "additional_special_tokens");
    size_t i;
    json_t *a;
    if (json_is_array(ast))
        json_array_foreach(ast, i, a)
        {
            const char *c = special_content(a);
            if (c && strcmp(c, s) == 0)
                return 1;
        }
    return 0;
}

static int is_byte_token(const char *s, size_t n)
{
    return n == 6 && memcmp(s, "<0x", 3) == 0 && strchr("0123456789abcdefABCDEF", s[3]) && s[3] &&
           strchr("0123456789abcdefABCDEF", s[4]) && s[4] && s[5] == '>';
}

typedef struct added_ent {
    const char *s;
    size_t len;
    uint64_t id;
} added_ent;

static int added_cmp(const void *a, const void *b)
{
    uint64_t x = ((const added_ent *)a)->id, y = ((const added_ent *)b)->id;
    return x < y ? -1 : x > y;
}

static tc_status llama_hf_vocab(const hfv_ctx *x, hfv_vocab *v)
{
    memset(v, 0, sizeof *v);
    const tc_hf_tok *tj = x->tok;
    if (tj->vocab_kind != TC_HF_HELD)
        return tc_err_set(x->e, TC_E_FORMAT, "tokenizer.json: model.vocab is not an object");
    uint64_t base = tj->vocab.n;
    if (base > HFV_MAX_PIECES)
        return tc_err_set(x->e, TC_E_LIMIT, "tokenizer.json: model.vocab over %u tokens",
                          HFV_MAX_PIECES);
    const char **rev = tc_calloc(base ? base : 1, sizeof *rev);
    size_t *rlen = tc_calloc(base ? base : 1, sizeof *rlen);
    json_t *at = json_object_get(x->tokenizer, "added_tokens");
    size_t nat = json_is_array(at) ? json_array_size(at) : 0;
    added_ent *ad = tc_calloc(nat ? nat : 1, sizeof *ad);
    tc_status rc = TC_OK;
    if (!rev || !rlen || !ad)
        rc = tc_err_nomem(x->e);
    if (rc == TC_OK && at && !json_is_array(at))
        rc = tc_err_set(x->e, TC_E_FORMAT, "tokenizer.json: added_tokens is not an array");
    for (size_t i = 0; rc == TC_OK && i < base; i++) {
        if (i >= tj->vocab_nonint || tj->vocab_id[i] < 0) {
            rc = tc_err_set(x->e, TC_E_FORMAT,
                            "tokenizer.json: model.vocab[\"%s\"] is not a token id",
                            tc_hf_str(&tj->vocab, i));
            break;
        }
        uint64_t id = (uint64_t)tj->vocab_id[i];
        if (id < base) {
            rev[id] = tc_hf_str(&tj->vocab, i);
            rlen[id] = tc_hf_str_len(&tj->vocab, i);
        }
    }
    for (uint64_t i = 0; rc == TC_OK && i < base; i++)
        if (!rev[i])
            rc = tc_err_set(x->e, TC_E_FORMAT,
                            "tokenizer.json: model.vocab has no token id %" PRIu64, i);
    /* added tokens with id >= base, one per content (the last id wins, as a dict), by id */
    size_t na = 0;
    for (size_t i = 0; rc == TC_OK && i < nat; i++) {
        json_t *d = json_array_get(at, i);
        json_t *id = json_is_object(d) ? json_object_get(d, "id") : NULL;
        json_t *c = json_is_object(d) ? json_object_get(d, "content") : NULL;
        if (!json_is_integer(id) || json_integer_value(id) < 0 || !json_is_string(c)) {
            rc = tc_err_set(x->e, TC_E_FORMAT,
                            "tokenizer.json: added_tokens[%zu] needs an id and a content", i);
            break;
        }
        size_t j;
        for (j = 0; j < na; j++)
            if (ad[j].len == json_string_length(c) &&
                memcmp(ad[j].s, json_string_value(c), ad[j].len) == 0)
                break;
        ad[j].s = json_string_value(c);
        ad[j].len = json_string_length(c);
        ad[j].id = (uint64_t)json_integer_value(id);
        if (j == na)
            na++;
    }
    size_t keep = 0;
    for (size_t i = 0; i < na; i++)
        if (ad[i].id >= base)
            ad[keep++] = ad[i];
    qsort(ad, keep, sizeof *ad, added_cmp);
    if (rc == TC_OK)
        rc = vocab_alloc(v, base + keep, x->e);
    for (uint64_t i = 0; rc == TC_OK && i < base; i++) {
        rc = tok_set(&v->tok[i], rev[i], rlen[i], x->e);
        v->score[i] = -1000.0f;
        v->type[i] = is_byte_token(rev[i], rlen[i])  ? TT_BYTE
                     : is_hf_special(x, v->tok[i].p) ? TT_CONTROL
                                                     : TT_NORMAL;
    }
    for (size_t i = 0; rc == TC_OK && i < keep; i++) {
        hfv_tok *t = &v->tok[base + i];
        rc = tok_set(t, ad[i].s, ad[i].len, x->e);
        v->score[base + i] = -1000.0f;
        v->type[base + i] = (rc == TC_OK && is_hf_special(x, t->p)) ? TT_CONTROL : TT_USER;
    }
    tc_free(rev);
    tc_free(rlen);
    tc_free(ad);
    if (rc != TC_OK)
        vocab_free(v);
    return rc;
}

/* ===== SpecialVocab (§4.5, §4.6) ===== */

typedef struct sv {
    const char *types[HFV_MAX_TYPES];
    int ntypes;
    const char *id_typ[HFV_MAX_TYPES];
    uint32_t id_val[HFV_MAX_TYPES];
    int nids;
    const char *flag_typ[HFV_MAX_TYPES];
    int flag_val[HFV_MAX_TYPES];
    int nflags;
    json_t *chat_template; /* owned ref, or NULL */
    tc_str *merges;        /* tc_malloc'd; views into the tokenizer or into merges_txt */
    size_t nmerges;
    char *merges_txt; /* merges.txt as read, the merges joined in place */
    int load_merges;
    int has_n_vocab;
    uint64_t n_vocab;
    int lowercase, strip_accents; /* -1 unset */
} sv;

static void sv_init(sv *s, const char *const *types, int ntypes, int load_merges, int has_n,
                    uint64_t n_vocab)
{
    memset(s, 0, sizeof *s);
    for (int i = 0; i < ntypes && i < HFV_MAX_TYPES; i++)
        s->types[s->ntypes++] = types[i];
    s->load_merges = load_merges;
    s->has_n_vocab = has_n;
    s->n_vocab = n_vocab;
    s->lowercase = s->strip_accents = -1;
}

static void sv_free(sv *s)
{
    json_decref(s->chat_template);
    tc_free(s->merges);
    tc_free(s->merges_txt);
    memset(s, 0, sizeof *s);
}

static int sv_has_type(const sv *s, const char *t)
{
    for (int i = 0; i < s->ntypes; i++)
        if (strcmp(s->types[i], t) == 0)
            return 1;
    return 0;
}

static void sv_flag(sv *s, const char *typ, int v)
{
    for (int i = 0; i < s->nflags; i++)
        if (strcmp(s->flag_typ[i], typ) == 0) {
            s->flag_val[i] = v;
            return;
        }
    if (s->nflags < HFV_MAX_TYPES) {
        s->flag_typ[s->nflags] = typ;
        s->flag_val[s->nflags++] = v;
    }
}

/* _set_special_token: non-ints ignored, negative an error, out of range skipped, first wins */
static tc_status sv_set_id(sv *s, const char *typ, const json_t *tid, const char *what, tc_err *e)
{
    int64_t v;
    if (json_is_integer(tid))
        v = json_integer_value(tid);
    else if (json_is_boolean(tid))
        v = json_is_true(tid); /* bool is an int in Python */
    else
        return TC_OK;
    if (v < 0)
        return tc_err_set(e, TC_E_FORMAT, "%s: invalid value for special token type %s: %" PRId64,
                          what, typ, v);
    if (s->has_n_vocab && (uint64_t)v >= s->n_vocab)
        return TC_OK; /* out of range: skipped (warning in gguf-py) */
    for (int i = 0; i < s->nids; i++)
        if (strcmp(s->id_typ[i], typ) == 0)
            return TC_OK;
    if ((uint64_t)v > UINT32_MAX)
        return tc_err_set(e, TC_E_FORMAT, "%s: special token %s id %" PRId64 " does not fit u32",
                          what, typ, v);
    if (s->nids < HFV_MAX_TYPES) {
        s->id_typ[s->nids] = typ;
        s->id_val[s->nids++] = (uint32_t)v;
    }
    return TC_OK;
}

static tc_status sv_set_id_int(sv *s, const char *typ, uint32_t v, tc_err *e)
{
    json_t *j = json_integer(v);
    if (!j)
        return tc_err_nomem(e);
    tc_status rc = sv_set_id(s, typ, j, "converter", e);
    json_decref(j);
    return rc;
}

static tc_status sv_normalizer(sv *s, const json_t *n, int depth, tc_err *e)
{
    if (!n || json_is_null(n))
        return TC_OK;
    if (!json_is_object(n))
        return tc_err_set(e, TC_E_FORMAT, "tokenizer.json: normalizer is not an object");
    if (depth > HFV_MAX_NORM_NEST)
        return tc_err_set(e, TC_E_LIMIT, "tokenizer.json: normalizers nested deeper than %d",
                          HFV_MAX_NORM_NEST);
    json_t *t = json_object_get(n, "type");
    if (str_is(t, "Lowercase")) {
        s->lowercase = 1;
    } else if (str_is(t, "StripAccents")) {
        s->strip_accents = 1;
    } else if (str_is(t, "BertNormalizer")) {
        json_t *l = json_object_get(n, "lowercase"), *a = json_object_get(n, "strip_accents");
        if (json_is_boolean(l))
            s->lowercase = json_is_true(l);
        if (json_is_boolean(a))
            s->strip_accents = json_is_true(a);
    } else if (str_is(t, "Sequence")) {
        json_t *ns = json_object_get(n, "normalizers");
        if (!json_is_array(ns))
            return tc_err_set(e, TC_E_FORMAT,
                              "tokenizer.json: normalizer Sequence without a normalizers list");
        size_t i;
        json_t *c;
        json_array_foreach(ns, i, c) TC_TRY(sv_normalizer(s, c, depth + 1, e));
    }
    return TC_OK;
}

/* hold a reference in *slot */
static void jhold(json_t **slot, json_t *v)
{
    json_incref(v);
    json_decref(*slot);
    *slot = v;
}

static tc_status sv_post_processor(sv *s, const hfv_ctx *x, json_t *tcfg, json_t **bos,
                                   json_t **cls, json_t **eos, json_t **sep)
{
    tc_err *e = x->e;
    const char *W = "tokenizer.json";
    json_t *pp = json_object_get(x->tokenizer, "post_processor");
    if (!py_truthy(pp))
        return TC_OK;
    if (!json_is_object(pp))
        return tc_err_set(e, TC_E_FORMAT, "%s: post_processor is not an object", W);
    json_t *procs = json_object_get(pp, "processors");
    size_t np = 1;
    if (procs) {
        if (!json_is_array(procs))
            return tc_err_set(e, TC_E_FORMAT, "%s: post_processor.processors is not a list", W);
        np = json_array_size(procs);
    }
    int cfg = py_truthy(tcfg);
    for (size_t pi = 0; pi < np; pi++) {
        json_t *p = procs ? json_array_get(procs, pi) : pp;
        if (!json_is_object(p))
            return tc_err_set(e, TC_E_FORMAT, "%s: post_processor.processors[%zu] is not an object",
                              W, pi);
        json_t *type = json_object_get(p, "type");
        if (str_is(type, "RobertaProcessing")) {
            sv_flag(s, "bos", 1);
            sv_flag(s, "eos", 1);
            sv_flag(s, "sep", 1);
            if (!py_truthy(*cls) && cfg) {
                json_t *c = json_object_get(p, "cls");
                json_t *v = *bos;
                if (c) {
                    if (!json_is_array(c) || !json_array_size(c))
                        return tc_err_set(e, TC_E_FORMAT, "%s: RobertaProcessing.cls is not a list",
                                          W);
                    v = json_array_get(c, 0);
                }
                jhold(cls, v);
                json_object_set(tcfg, "cls_token", v ? v : json_null());
            }
            if (!py_truthy(*sep) && cfg) {
                json_t *c = json_object_get(p, "sep");
                json_t *v = *eos;
                if (c) {
                    if (!json_is_array(c) || !json_array_size(c))
                        return tc_err_set(e, TC_E_FORMAT, "%s: RobertaProcessing.sep is not a list",
                                          W);
                    v = json_array_get(c, 0);
                }
                jhold(sep, v);
                json_object_set(tcfg, "sep_token", v ? v : json_null());
            }
            continue;
        }
        if (!str_is(type, "TemplateProcessing"))
            continue;
        json_t *single = json_object_get(p, "single"), *pair = json_object_get(p, "pair");
        if (single && !json_is_array(single))
            return tc_err_set(e, TC_E_FORMAT, "%s: TemplateProcessing.single is not a list", W);
        if (pair && !json_is_array(pair))
            return tc_err_set(e, TC_E_FORMAT, "%s: TemplateProcessing.pair is not a list", W);
        json_t *first = NULL, *last = NULL;
        size_t ns = single ? json_array_size(single) : 0;
        if (ns > 1) {
            TC_TRY(tmpl_item_id(json_array_get(single, 0), "SpecialToken", W, &first, e));
            if (!py_truthy(first))
                first = NULL;
            if (first) {
                if (!cfg)
                    jhold(bos, first);
                sv_flag(s, "bos", py_eq(first, *bos) || py_eq(first, *cls));
            }
            TC_TRY(tmpl_item_id(json_array_get(single, ns - 1), "SpecialToken", W, &last, e));
            if (!py_truthy(last))
                last = NULL;
            if (last) {
                if (!cfg) {
                    jhold(eos, last);
                } else if (!py_eq(last, *eos)) {
                    if (!sv_has_type(s, "eot") && s->ntypes < HFV_MAX_TYPES) {
                        s->types[s->ntypes++] = "eot";
                        json_object_set(tcfg, "eot_token", *eos ? *eos : json_null());
                    } else if (!sv_has_type(s, "eom") && s->ntypes < HFV_MAX_TYPES) {
                        s->types[s->ntypes++] = "eom";
                        json_object_set(tcfg, "eom_token", *eos ? *eos : json_null());
                    }
                    json_object_set(tcfg, "eos_token", last);
                    jhold(eos, last);
                }
                sv_flag(s, "eos", py_eq(last, *eos));
            }
        }
        size_t npair = pair ? json_array_size(pair) : 0;
        if (npair) {
            json_t *id0, *idn;
            TC_TRY(tmpl_item_id(json_array_get(pair, 0), "SpecialToken", W, &id0, e));
            TC_TRY(tmpl_item_id(json_array_get(pair, npair - 1), "SpecialToken", W, &idn, e));
            size_t start = (first && py_eq(id0, first)) ? 1 : 0;
            size_t stop = (last && py_eq(idn, last)) ? npair - 1 : npair;
            if (start < stop) {
                json_t *a, *b;
                TC_TRY(tmpl_item_id(json_array_get(pair, start), "Sequence", W, &a, e));
                TC_TRY(tmpl_item_id(json_array_get(pair, stop - 1), "Sequence", W, &b, e));
                /* middle = pair[start+1 : stop-1] */
                if (str_is(a, "A") && str_is(b, "B") && stop - start > 2) {
                    size_t m0 = start + 1, nm = stop - 1 - m0;
                    int add_sep = 0;
                    json_t *ent;
                    TC_TRY(tmpl_item_id(json_array_get(pair, m0), "SpecialToken", W, &ent, e));
                    if (py_truthy(ent) && (py_eq(ent, *sep) || py_eq(ent, *eos)) && !last)
                        add_sep = 1;
                    if (nm == 2) {
                        TC_TRY(
                            tmpl_item_id(json_array_get(pair, m0 + 1), "SpecialToken", W, &ent, e));
                        if (py_truthy(ent) && (py_eq(ent, *sep) || py_eq(ent, *eos)))
                            add_sep = 1;
                    }
                    sv_flag(s, "sep", add_sep);
                    if (add_sep && !py_truthy(*sep) && cfg)
                        json_object_set(tcfg, "sep_token", *eos ? *eos : json_null());
                }
            }
        }
    }
    return TC_OK;
}

/* chat template sources (§4.6) into s->chat_template */
static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static tc_status read_template(const char *dir, const char *name, json_t **out, tc_err *e)
{
    char *buf = NULL;
    size_t len = 0;
    *out = NULL;
    TC_TRY(read_file_opt(dir, name, HFV_MAX_TEMPLATE, &buf, &len, e));
    if (!buf)
        return TC_OK;
    if (!tc_utf8_valid(buf, len)) {
        tc_free(buf);
        return tc_err_set(e, TC_E_FORMAT, "%s: not valid UTF-8", name);
    }
    *out = json_stringn(buf, len);
    tc_free(buf);
    if (!*out)
        return tc_err_set(e, TC_E_NOMEM, "out of memory for %s", name);
    return TC_OK;
}

static tc_status sv_chat_template(sv *s, const hfv_ctx *x, const json_t *tcfg)
{
    tc_err *e = x->e;
    json_t *alt = NULL;
    tc_status rc = TC_OK;
    TC_TRY(read_template(x->dir, "chat_template.jinja", &alt, e));
    if (alt) {
        char *adir = tc_path_join(x->dir, "additional_chat_templates");
        DIR *d = adir ? opendir(adir) : NULL;
        char **names = NULL;
        size_t nn = 0;
        if (d) {
            struct dirent *de;
            while (rc == TC_OK && (de = readdir(d)) != NULL) {
                size_t l = strlen(de->d_name);
                if (l <= 6 || strcmp(de->d_name + l - 6, ".jinja") != 0)
                    continue;
                if (nn == HFV_MAX_TEMPLATES) {
                    rc = tc_err_set(e, TC_E_LIMIT, "additional_chat_templates: more than %d files",
                                    HFV_MAX_TEMPLATES);
                    break;
                }
                char **nv = tc_realloc(names, (nn + 1) * sizeof *names);
                char *dup = tc_strdup(de->d_name);
                if (!nv || !dup) {
                    tc_free(dup);
                    if (nv)
                        names = nv;
                    rc = tc_err_nomem(e);
                    break;
                }
                names = nv;
                names[nn++] = dup;
            }
            closedir(d);
        }
        if (rc == TC_OK && nn) {
            qsort(names, nn, sizeof *names, name_cmp);
            json_t *list = json_array();
            json_t *def = json_pack("{s:s,s:O}", "name", "default", "template", alt);
            if (!list || !def || json_array_append_new(list, def))
                rc = tc_err_nomem(e);
            for (size_t i = 0; rc == TC_OK && i < nn; i++) {
                char rel[1024];
                snprintf(rel, sizeof rel, "additional_chat_templates/%s", names[i]);
                json_t *t = NULL;
                rc = read_template(x->dir, rel, &t, e);
                if (rc != TC_OK || !t)
                    continue;
                size_t l = strlen(names[i]) - 6;
                json_t *ent = json_object();
                if (!ent || json_object_set_new(ent, "name", json_stringn(names[i], l)) ||
                    json_object_set_new(ent, "template", t) || json_array_append_new(list, ent))
                    rc = tc_err_nomem(e);
            }
            if (rc == TC_OK)
                jhold(&alt, list);
            json_decref(list);
        }
        for (size_t i = 0; i < nn; i++)
            tc_free(names[i]);
        tc_free(names);
        tc_free(adir);
    } else {
        json_t *ctj = NULL;
        rc = tc_hf_json_load(x->dir, "chat_template.json", HFV_MAX_JSON, 1, &ctj, e);
        if (rc == TC_OK && ctj) {
            if (!json_is_object(ctj))
                rc = tc_err_set(e, TC_E_FORMAT, "chat_template.json: not an object");
            else
                jhold(&alt, json_object_get(ctj, "chat_template"));
        }
        json_decref(ctj);
    }
    if (rc == TC_OK) {
        json_t *ct = json_object_get(tcfg, "chat_template");
        if (!ct)
            ct = alt;
        if (ct && json_is_null(ct))
            ct = NULL;
        if (ct && (json_is_string(ct) || json_is_array(ct)))
            jhold(&s->chat_template, ct);
        else if (!ct)
            jhold(&s->chat_template, NULL);
        /* other types: warning in gguf-py, ignored */
    }
    json_decref(alt);
    return rc;
}

static tc_status sv_load(sv *s, const hfv_ctx *x)
{
    tc_err *e = x->e;
    tc_status rc = TC_OK;
    json_t *tok = x->tokenizer;
    json_t *added = NULL;
    if (tok) {
        if (s->load_merges)
            TC_TRY(tc_hf_bpe_merges(x->tok, "tokenizer.json", &s->merges, &s->nmerges, e));
        added = json_object_get(tok, "added_tokens");
        if (added && !json_is_array(added))
            return tc_err_set(e, TC_E_FORMAT, "tokenizer.json: added_tokens is not an array");
        TC_TRY(sv_normalizer(s, json_object_get(tok, "normalizer"), 0, e));
    }
    json_t *tcfg = x->tokenizer_config ? json_deep_copy(x->tokenizer_config) : NULL;
    if (x->tokenizer_config && !tcfg)
        return tc_err_nomem(e);
    if (py_truthy(tok)) {
        json_t *bos = NULL, *cls = NULL, *eos = NULL, *sep = NULL;
        if (tcfg) {
            jhold(&bos, json_object_get(tcfg, "bos_token"));
            jhold(&cls, json_object_get(tcfg, "cls_token"));
            jhold(&eos, json_object_get(tcfg, "eos_token"));
            jhold(&sep, json_object_get(tcfg, "sep_token"));
        }
        int cfg = py_truthy(tcfg);
        if (!py_truthy(bos) && py_truthy(cls) && cfg) {
            json_object_set(tcfg, "bos_token", cls);
            jhold(&bos, cls);
        }
        if (!py_truthy(eos) && py_truthy(sep) && cfg) {
            json_object_set(tcfg, "eos_token", sep);
            jhold(&eos, sep);
        }
        rc = sv_post_processor(s, x, tcfg, &bos, &cls, &eos, &sep);
        json_decref(bos);
        json_decref(cls);
        json_decref(eos);
        json_decref(sep);
    }
    if (rc == TC_OK && py_truthy(tcfg)) {
        rc = sv_chat_template(s, x, tcfg);
        for (int i = 0; rc == TC_OK && i < s->ntypes; i++) {
            char key[64];
            const char *typ = s->types[i];
            snprintf(key, sizeof key, "add_%s_token", typ);
            json_t *a = json_object_get(tcfg, key);
            if (json_is_boolean(a))
                sv_flag(s, typ, json_is_true(a));
            snprintf(key, sizeof key, "%s_token", typ);
            const char *c = special_content(json_object_get(tcfg, key));
            if (!c)
                continue;
            size_t j;
            json_t *at;
            json_t *found = NULL;
            json_array_foreach(added, j, at)
            {
                if (!json_is_object(at)) {
                    rc = tc_err_set(e, TC_E_FORMAT,
                                    "tokenizer.json: added_tokens[%zu] is not an "
                                    "object",
                                    j);
                    break;
                }
                if (str_is(json_object_get(at, "content"), c)) {
                    found = json_object_get(at, "id");
                    break;
                }
            }
            if (rc == TC_OK)
                rc = sv_set_id(s, typ, found, "tokenizer.json", e);
        }
    }
    json_decref(tcfg);
    /* (B) config.json */
    for (int i = 0; rc == TC_OK && x->config && i < s->ntypes; i++) {
        char key[64];
        snprintf(key, sizeof key, "%s_token_id", s->types[i]);
        rc = sv_set_id(s, s->types[i], json_object_get(x->config, key), "config.json", e);
    }
    /* (C) merges.txt */
    if (rc == TC_OK && s->load_merges && s->nmerges == 0) {
        char *buf = NULL;
        size_t len = 0;
        rc = read_file_opt(x->dir, "merges.txt", HFV_MAX_JSON, &buf, &len, e);
        if (rc == TC_OK && buf && !tc_utf8_valid(buf, len))
            rc = tc_err_set(e, TC_E_FORMAT, "merges.txt: not valid UTF-8");
        if (rc == TC_OK && buf) {
            size_t cap = 0;
            int line_no = 0;
            char *p = buf, *end = buf + len;
            while (rc == TC_OK && p < end) {
                char *nl = memchr(p, '\n', (size_t)(end - p));
                char *le = nl ? nl : end;
                char *line = p;
                p = nl ? nl + 1 : end;
                *le = 0;
                line_no++;
                /* strip whitespace */
                while (*line == ' ' || *line == '\t' || *line == '\r' || *line == '\v' ||
                       *line == '\f')
                    line++;
                if (line_no == 1 && line[0] == '#')
                    continue;
                char *f[3] = {0};
                int nf = 0;
                for (char *q = line; *q && nf < 3;) {
                    while (*q && strchr(" \t\r\v\f", *q))
                        q++;
                    if (!*q)
                        break;
                    f[nf++] = q;
                    while (*q && !strchr(" \t\r\v\f", *q))
                        q++;
                    if (*q)
                        *q++ = 0;
                }
                if (nf != 2)
                    continue;
                if (s->nmerges == cap) {
                    size_t nc = cap ? cap * 2 : 1024;
                    tc_str *nv = tc_realloc(s->merges, nc * sizeof *nv);
                    if (!nv) {
                        rc = tc_err_set(e, TC_E_NOMEM, "out of memory for merges");
                        break;
                    }
                    s->merges = nv;
                    cap = nc;
                }
                /* "a b" in place: the second field moves left next to the first */
                size_t l0 = strlen(f[0]), l1 = strlen(f[1]);
                f[0][l0] = ' ';
                memmove(f[0] + l0 + 1, f[1], l1 + 1);
                s->merges[s->nmerges++] = (tc_str){f[0], l0 + 1 + l1};
            }
        }
        s->merges_txt = buf; /* the merges point into it */
    }
    return rc;
}

static const char *id_key(const char *typ)
{
    static const char *const m[][2] = {
        {"bos", "tokenizer.ggml.bos_token_id"},     {"eos", "tokenizer.ggml.eos_token_id"},
        {"unk", "tokenizer.ggml.unknown_token_id"}, {"sep", "tokenizer.ggml.seperator_token_id"},
        {"pad", "tokenizer.ggml.padding_token_id"}, {"mask", "tokenizer.ggml.mask_token_id"},
        {"eot", "tokenizer.ggml.eot_token_id"},     {"eom", "tokenizer.ggml.eom_token_id"},
    };
    for (size_t i = 0; i < sizeof m / sizeof *m; i++)
        if (strcmp(m[i][0], typ) == 0)
            return m[i][1];
    return NULL;
}

static tc_status write_chat_template(tc_graph *g, const json_t *ct, tc_err *e)
{
    if (json_is_string(ct))
        return tc_graph_set(
            g, "tokenizer.chat_template",
            &(tc_value){.type = TC_V_STR, .s = {json_string_value(ct), json_string_length(ct)}}, e);
    const json_t *def = NULL;
    char **names = NULL;
    size_t nn = 0;
    tc_status rc = TC_OK;
    size_t i;
    json_t *c;
    names = tc_calloc(json_array_size(ct) + 1, sizeof *names);
    if (!names)
        return tc_err_nomem(e);
    json_array_foreach(ct, i, c)
    {
        if (!json_is_object(c)) {
            rc = tc_err_set(e, TC_E_FORMAT, "chat_template[%zu] is not an object", i);
            break;
        }
        json_t *jn = json_object_get(c, "name"), *jt = json_object_get(c, "template");
        if (jn && !json_is_string(jn)) {
            rc = tc_err_set(e, TC_E_FORMAT, "chat_template[%zu].name is not a string", i);
            break;
        }
        if (jt && !json_is_null(jt) && !json_is_string(jt)) {
            rc = tc_err_set(e, TC_E_FORMAT, "chat_template[%zu].template is not a string", i);
            break;
        }
        /* sanitize per code point: anything not ASCII alnum -> '_' */
        const char *src = jn ? json_string_value(jn) : "";
        size_t sl = jn ? json_string_length(jn) : 0;
        char *nm = tc_malloc(sl + 1);
        if (!nm) {
            rc = tc_err_nomem(e);
            break;
        }
        size_t w = 0;
        for (size_t r = 0; r < sl;) {
            unsigned char ch = (unsigned char)src[r];
            size_t cl = ch < 0x80 ? 1 : ch < 0xe0 ? 2 : ch < 0xf0 ? 3 : 4;
            if (r + cl > sl)
                cl = sl - r;
            int ok = cl == 1 && ((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') ||
                                 (ch >= 'A' && ch <= 'Z'));
            nm[w++] = ok ? (char)ch : '_';
            r += cl;
        }
        nm[w] = 0;
        if (!w || !jt || json_is_null(jt)) {
            tc_free(nm);
            continue;
        }
        if (strcmp(nm, "default") == 0) {
            def = jt;
            tc_free(nm);
            continue;
        }
        char key[1024];
        if ((size_t)snprintf(key, sizeof key, "tokenizer.chat_template.%s", nm) >= sizeof key) {
            tc_free(nm);
            rc = tc_err_set(e, TC_E_LIMIT, "chat_template[%zu]: name longer than %zu bytes", i,
                            sizeof key - 32);
            break;
        }
        rc = tc_graph_set(
            g, key,
            &(tc_value){.type = TC_V_STR, .s = {json_string_value(jt), json_string_length(jt)}}, e);
        size_t k;
        for (k = 0; k < nn; k++)
            if (strcmp(names[k], nm) == 0)
                break;
        if (k < nn)
            tc_free(nm);
        else
            names[nn++] = nm;
        if (rc != TC_OK)
            break;
    }
    if (rc == TC_OK && nn) {
        qsort(names, nn, sizeof *names, name_cmp);
        rc = set_str_array(g, "tokenizer.chat_templates", NULL, names, nn, e);
    }
    for (size_t k = 0; k < nn; k++)
        tc_free(names[k]);
    tc_free(names);
    if (rc == TC_OK && def)
        rc = write_chat_template(g, def, e);
    return rc;
}

static tc_status sv_write(const sv *s, tc_graph *g, tc_err *e)
{
    if (s->nmerges) {
        tc_value v = {.type = TC_V_ARR, .arr = {TC_V_STR, s->nmerges, s->merges}};
        TC_TRY(tc_graph_set(g, "tokenizer.ggml.merges", &v, e));
    }
    for (int i = 0; i < s->nids; i++) {
        const char *k = id_key(s->id_typ[i]);
        if (k)
            TC_TRY(tc_graph_set_u32(g, k, s->id_val[i], e));
    }
    for (int i = 0; i < s->nflags; i++) {
        char key[64];
        const char *t = s->flag_typ[i];
        if (strcmp(t, "bos") && strcmp(t, "eos") && strcmp(t, "sep"))
            continue;
        snprintf(key, sizeof key, "tokenizer.ggml.add_%s_token", t);
        TC_TRY(set_bool(g, key, s->flag_val[i], e));
    }
    if (s->chat_template)
        TC_TRY(write_chat_template(g, s->chat_template, e));
    if (s->lowercase >= 0)
        TC_TRY(set_bool(g, "tokenizer.ggml.normalizer.lowercase", s->lowercase, e));
    if (s->strip_accents >= 0)
        TC_TRY(set_bool(g, "tokenizer.ggml.normalizer.strip_accents", s->strip_accents, e));
    return TC_OK;
}

static const char *const sv_default_types[] = {"bos", "eos", "unk", "sep", "pad", "cls", "mask"};

/* SpecialVocab(dir, load_merges, types, n_vocab) with preset ids after the load; add_to_gguf. */
static tc_status special_vocab(const hfv_ctx *x, const char *const *types, int ntypes,
                               int load_merges, int has_n, uint64_t n_vocab,
                               const char *const *preset_typ, const uint32_t *preset_id, int npre,
                               int keep_template)
{
    sv s;
    sv_init(&s, types, ntypes, load_merges, has_n, n_vocab);
    tc_status rc = sv_load(&s, x);
    for (int i = 0; rc == TC_OK && i < npre; i++)
        rc = sv_set_id_int(&s, preset_typ[i], preset_id[i], x->e);
    if (rc == TC_OK && !keep_template)
        jhold(&s.chat_template, NULL);
    if (rc == TC_OK)
        rc = sv_write(&s, x->g, x->e);
    sv_free(&s);
    return rc;
}

static tc_status special_vocab_default(const hfv_ctx *x, int load_merges, int has_n, uint64_t n)
{
    return special_vocab(x, sv_default_types, 7, load_merges, has_n, n, NULL, NULL, 0, 1);
}

/* ===== paths ===== */

static tc_status path_spm(const hfv_ctx *x, int phi3, uint64_t *n_vocab)
{
    hfv_vocab v;
    TC_TRY(spm_vocab(x, phi3, &v));
    tc_status rc = vocab_write_llama(x->g, &v, x->e);
    uint64_t n = v.n;
    vocab_free(&v);
    TC_TRY(rc);
    *n_vocab = n;
    return special_vocab_default(x, 0, 1, n);
}

static tc_status path_llama_hf(const hfv_ctx *x, uint64_t *n_vocab)
{
    hfv_vocab v;
    TC_TRY(llama_hf_vocab(x, &v));
    tc_status rc = vocab_write_llama(x->g, &v, x->e);
    uint64_t n = v.n;
    vocab_free(&v);
    TC_TRY(rc);
    *n_vocab = n;
    return special_vocab_default(x, 0, 1, n);
}

static tc_status path_gpt2(const hfv_ctx *x, uint64_t *n_vocab)
{
    if (!x->tokenizer)
        return tc_err_set(x->e, TC_E_FORMAT,
                          "%s: no tokenizer.json (and no usable tokenizer.model) to build the "
                          "vocab from",
                          x->dir);
    uint64_t vs = 0;
    int have = 0;
    TC_TRY(cfg_uint(x, "vocab_size", &vs, &have));
    TC_TRY(tc_hf_bpe_vocab(x->dir, x->tok, x->tokenizer_config, vs,
                           x->o ? x->o->tokenizer_pre : NULL, x->g, n_vocab, x->e));
    return special_vocab_default(x, 1, 0, 0);
}

static int arch_is(const char *a, const char *const *list)
{
    for (; *list; list++)
        if (strcmp(a, *list) == 0)
            return 1;
    return 0;
}

tc_status tc_hf_vocab(const char *dir, const json_t *config, const char *hf_arch,
                      const char *gguf_arch, const tc_hf_opts *o, tc_graph *g, uint64_t *n_vocab,
                      tc_err *e)
{
    if (!dir || !gguf_arch || !g || !n_vocab)
        return tc_err_set(e, TC_E_USAGE, "tc_hf_vocab: missing argument");
    (void)hf_arch;
    if (o && o->tokenizer_pre && !tc_hf_pre_known(o->tokenizer_pre))
        return tc_err_set(e, TC_E_USAGE,
                          "--tokenizer-pre %s: llama.cpp does not know that pre-tokenizer",
                          o->tokenizer_pre);
    hfv_ctx x = {.dir = dir, .config = config, .g = g, .o = o, .e = e};
    uint64_t n = 0;
    tc_status rc = tc_hf_tok_load(dir, "tokenizer.json", HFV_MAX_JSON, 1, &x.tok, e);
    x.tokenizer = x.tok ? x.tok->doc : NULL;
    if (rc == TC_OK)
        rc = tc_hf_json_load(dir, "tokenizer_config.json", HFV_MAX_JSON, 1, &x.tokenizer_config, e);
    if (rc == TC_OK && x.tokenizer_config && !json_is_object(x.tokenizer_config))
        rc = tc_err_set(e, TC_E_FORMAT, "tokenizer_config.json: not an object");
    if (rc != TC_OK)
        goto out;
    int has_model = 0, has_tekken = 0;
    if ((rc = file_exists(dir, "tokenizer.model", &has_model, e)) != TC_OK ||
        (rc = file_exists(dir, "tekken.json", &has_tekken, e)) != TC_OK)
        goto out;
    static const char *const qwen[] = {"qwen2", "qwen3", "qwen2moe", "qwen3moe", NULL};
    static const char *const gemma12[] = {"gemma", "gemma2", NULL};

    if (strcmp(gguf_arch, "llama") == 0) {
        json_t *aps =
            x.tokenizer_config ? json_object_get(x.tokenizer_config, "add_prefix_space") : NULL;
        if (aps && !json_is_null(aps)) {
            if (!json_is_boolean(aps)) {
                rc = tc_err_set(e, TC_E_FORMAT,
                                "tokenizer_config.json: add_prefix_space is not a bool");
                goto out;
            }
            if ((rc = set_bool(g, "tokenizer.ggml.add_space_prefix", json_is_true(aps), e)))
                goto out;
        }
        if (!x.tokenizer && has_tekken) {
            rc = tc_err_set(e, TC_E_UNSUPPORTED,
                            "%s: Mistral tekken.json tokenizers are not supported", dir);
            goto out;
        }
        int ok = 0;
        if (has_model)
            rc = path_spm(&x, 0, &n);
        else if ((rc = llama_hf_applies(&x, &ok)) == TC_OK)
            rc = ok ? path_llama_hf(&x, &n) : path_gpt2(&x, &n);
        if (rc != TC_OK)
            goto out;
        uint64_t vs = 32000;
        int have = 0;
        if ((rc = cfg_uint(&x, "vocab_size", &vs, &have)))
            goto out;
        if (!have)
            vs = 32000;
        if (vs == 32016) {
            static const char *const t[] = {"prefix", "suffix", "middle", "eot"};
            static const uint32_t ids[] = {32007, 32008, 32009, 32010};
            rc = special_vocab(&x, t, 4, 0, 0, 0, t, ids, 4, 1);
        }
        if (rc == TC_OK && vs == 49152)
            rc = set_bool(g, "tokenizer.ggml.add_bos_token", 0, e);
    } else if (arch_is(gguf_arch, qwen)) {
        rc = has_model ? path_spm(&x, 0, &n) : path_gpt2(&x, &n);
    } else if (arch_is(gguf_arch, gemma12)) {
        if (!has_model) {
            rc = tc_err_set(e, TC_E_FORMAT, "%s: %s needs tokenizer.model", dir, gguf_arch);
            goto out;
        }
        rc = path_spm(&x, 0, &n);
        if (rc == TC_OK && strcmp(gguf_arch, "gemma") == 0) {
            static const char *const t[] = {"prefix", "suffix", "middle", "fsep", "eot"};
            static const uint32_t ids[] = {67, 69, 68, 70, 107};
            rc = special_vocab(&x, t, 5, 0, 0, 0, t, ids, 5, 0);
        }
        if (rc == TC_OK)
            rc = set_bool(g, "tokenizer.ggml.add_space_prefix", 0, e);
    } else if (strcmp(gguf_arch, "gemma3") == 0) {
        if (has_model) {
            rc = path_spm(&x, 0, &n);
            if (rc == TC_OK)
                rc = set_bool(g, "tokenizer.ggml.add_space_prefix", 0, e);
        } else {
            rc = path_gpt2(&x, &n);
        }
    } else if (strcmp(gguf_arch, "phi3") == 0) {
        json_t *cls =
            x.tokenizer_config ? json_object_get(x.tokenizer_config, "tokenizer_class") : NULL;
        if (str_is(cls, "GPT2Tokenizer"))
            rc = path_gpt2(&x, &n);
        else if (!has_model)
            rc = tc_err_set(e, TC_E_FORMAT, "%s: phi3 needs tokenizer.model", dir);
        else
            rc = path_spm(&x, 1, &n);
    } else if (strcmp(gguf_arch, "deepseek2") == 0) {
        rc = path_gpt2(&x, &n);
    } else {
        rc = tc_err_set(e, TC_E_UNSUPPORTED, "no tokenizer mapping for architecture %s", gguf_arch);
    }
out:
    tc_hf_tok_free(x.tok);
    json_decref(x.tokenizer_config);
    if (rc == TC_OK)
        *n_vocab = n;
    return rc;
}
