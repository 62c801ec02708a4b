/*
 * st_header.c - the safetensors header, read in one pass without building a JSON tree.
 *
 * A header is up to 100 MB of JSON, and a tree of it costs ~20 bytes of memory per header byte
 * (a hostile header of 1.4 M zero-size tensors took 1.8 GB). This scanner walks the text once
 * and keeps only what the reader needs: per tensor its name (decoded into one buffer no larger
 * than the header), dtype, shape and offsets, and the byte span of __metadata__ (handed to
 * jansson alone, capped). Memory is bounded by a small multiple of the header size, and the
 * tensor count by TC_ST_MAX_TENSORS.
 *
 * The grammar is strict JSON (RFC 8259) as serde_json reads it: UTF-8, no trailing commas, no
 * duplicate keys (tensor names are checked after the scan, by sorting), nothing after the
 * object but whitespace. Unknown keys inside a tensor entry are skipped, as serde does.
 */
#include "st_header.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define ST_MAX_DEPTH 64

typedef struct lex {
    const uint8_t *s, *p, *end;
    const char *file;
    tc_err *e;
    char *buf; /* decoded strings: names are kept, other strings are scratch at the end */
    size_t used, cap;
} lex;

static uint64_t at(const lex *L)
{
    return 8 + (uint64_t)(L->p - L->s);
}

static tc_status syntax(lex *L, const char *what)
{
    return tc_err_set(L->e, TC_E_FORMAT, "%s @%#" PRIx64 ": header is not valid JSON: %s", L->file,
                      at(L), what);
}

static void ws(lex *L)
{
    while (L->p < L->end && (*L->p == ' ' || *L->p == '\t' || *L->p == '\n' || *L->p == '\r'))
        L->p++;
}

static int peek(lex *L)
{
    ws(L);
    return L->p < L->end ? *L->p : -1;
}

static int hexval(int c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

static int read_hex4(lex *L, uint32_t *v)
{
    if (L->end - L->p < 4)
        return -1;
    *v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hexval(L->p[i]);
        if (h < 0)
            return -1;
        *v = *v << 4 | (uint32_t)h;
    }
    L->p += 4;
    return 0;
}

/* Length of the UTF-8 sequence at p (1..4), 0 when it is not valid (overlong, surrogate, > 10FFFF,
 * truncated). */
static int utf8_len(const uint8_t *p, const uint8_t *end)
{
    uint8_t c = p[0];
    if (c < 0x80)
        return 1;
    int n = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 ? 2 : 0;
    if (n == 0 || c > 0xf4 || end - p < n)
        return 0;
    for (int i = 1; i < n; i++)
        if ((p[i] & 0xc0) != 0x80)
            return 0;
    if (n == 3 && ((c == 0xe0 && p[1] < 0xa0) || (c == 0xed && p[1] >= 0xa0)))
        return 0;
    if (n == 4 && ((c == 0xf0 && p[1] < 0x90) || (c == 0xf4 && p[1] >= 0x90)))
        return 0;
    return n;
}

static size_t put_utf8(char *o, uint32_t cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xc0 | cp >> 6);
        o[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xe0 | cp >> 12);
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (char)(0xf0 | cp >> 18);
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    o[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* A string at L->p, decoded NUL-terminated into buf[used..] (not committed: *out points there,
 * *len its length; a decoded string is never longer than its text, so it always fits). */
static tc_status string(lex *L, const char **out, size_t *len)
{
    if (L->p >= L->end || *L->p != '"')
        return syntax(L, "expected a string");
    L->p++;
    char *o = L->buf + L->used, *o0 = o;
    for (;;) {
        if (L->p >= L->end)
            return syntax(L, "unterminated string");
        uint8_t c = *L->p;
        if (c == '"') {
            L->p++;
            break;
        }
        if (c < 0x20)
            return syntax(L, "control character in a string");
        if (c == '\\') {
            if (L->end - L->p < 2)
                return syntax(L, "unterminated string");
            uint8_t x = L->p[1];
            L->p += 2;
            switch (x) {
            case '"':
            case '\\':
            case '/':
                *o++ = (char)x;
                break;
            case 'b':
                *o++ = '\b';
                break;
            case 'f':
                *o++ = '\f';
                break;
            case 'n':
                *o++ = '\n';
                break;
            case 'r':
                *o++ = '\r';
                break;
            case 't':
                *o++ = '\t';
                break;
            case 'u': {
                uint32_t cp;
                if (read_hex4(L, &cp) != 0)
                    return syntax(L, "bad \\u escape");
                if (cp >= 0xd800 && cp <= 0xdbff) { /* a surrogate pair: 12 bytes -> 4 */
                    uint32_t lo;
                    if (L->end - L->p < 6 || L->p[0] != '\\' || L->p[1] != 'u')
                        return syntax(L, "lone surrogate in a \\u escape");
                    L->p += 2;
                    if (read_hex4(L, &lo) != 0 || lo < 0xdc00 || lo > 0xdfff)
                        return syntax(L, "bad surrogate pair");
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                } else if (cp >= 0xdc00 && cp <= 0xdfff) {
                    return syntax(L, "lone surrogate in a \\u escape");
                }
                o += put_utf8(o, cp); /* \uXXXX is 6 bytes, its UTF-8 at most 3 */
                break;
            }
            default:
                return syntax(L, "bad escape");
            }
            continue;
        }
        int n = utf8_len(L->p, L->end);
        if (n == 0)
            return tc_err_set(L->e, TC_E_FORMAT, "%s @%#" PRIx64 ": header is not valid UTF-8",
                              L->file, at(L));
        memcpy(o, L->p, (size_t)n);
        o += n;
        L->p += n;
    }
    *o = 0;
    *out = o0;
    *len = (size_t)(o - o0);
    return TC_OK;
}

/* A JSON number; *kind: 0 a non-negative integer (in *v), 1 negative integer (*neg), 2 not an
 * integer (fraction or exponent). */
static tc_status number(lex *L, uint64_t *v, int64_t *neg, int *kind)
{
    const uint8_t *q = L->p;
    int minus = 0;
    if (q < L->end && *q == '-') {
        minus = 1;
        q++;
    }
    if (q >= L->end || *q < '0' || *q > '9')
        return syntax(L, "bad number");
    if (*q == '0' && q + 1 < L->end && q[1] >= '0' && q[1] <= '9')
        return syntax(L, "leading zero in a number");
    uint64_t x = 0;
    int big = 0;
    while (q < L->end && *q >= '0' && *q <= '9') {
        if (x > (UINT64_MAX - 9) / 10)
            big = 1;
        x = x * 10 + (uint64_t)(*q - '0');
        q++;
    }
    int frac = 0;
    if (q < L->end && *q == '.') {
        frac = 1;
        q++;
        if (q >= L->end || *q < '0' || *q > '9')
            return syntax(L, "bad number");
        while (q < L->end && *q >= '0' && *q <= '9')
            q++;
    }
    if (q < L->end && (*q == 'e' || *q == 'E')) {
        frac = 1;
        q++;
        if (q < L->end && (*q == '+' || *q == '-'))
            q++;
        if (q >= L->end || *q < '0' || *q > '9')
            return syntax(L, "bad number");
        while (q < L->end && *q >= '0' && *q <= '9')
            q++;
    }
    L->p = q;
    if (frac) {
        *kind = 2;
        return TC_OK;
    }
    if (big || x > (uint64_t)INT64_MAX + (uint64_t)minus)
        return syntax(L, "integer too big"); /* as jansson: integers are int64 */
    if (minus && x != 0) {
        *kind = 1;
        *neg = x == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)x;
        return TC_OK;
    }
    *kind = 0;
    *v = x;
    return TC_OK;
}

static tc_status literal(lex *L, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(L->end - L->p) < n || memcmp(L->p, word, n) != 0)
        return syntax(L, "unexpected character");
    L->p += n;
    return TC_OK;
}

/* Skip any value (checked); strings are decoded into scratch space and dropped. */
static tc_status skip_value(lex *L, int depth)
{
    if (depth > ST_MAX_DEPTH)
        return syntax(L, "nested too deeply");
    int c = peek(L);
    const char *s;
    size_t n;
    uint64_t v;
    int64_t neg;
    int kind;
    switch (c) {
    case '"':
        return string(L, &s, &n);
    case '{':
    case '[': {
        int obj = c == '{';
        L->p++;
        if (peek(L) == (obj ? '}' : ']')) {
            L->p++;
            return TC_OK;
        }
        for (;;) {
            if (obj) {
                if (peek(L) != '"')
                    return syntax(L, "expected a key");
                TC_TRY(string(L, &s, &n));
                if (peek(L) != ':')
                    return syntax(L, "expected ':'");
                L->p++;
            }
            TC_TRY(skip_value(L, depth + 1));
            int d = peek(L);
            L->p++;
            if (d == ',')
                continue;
            if (d == (obj ? '}' : ']'))
                return TC_OK;
            L->p--;
            return syntax(L, obj ? "expected ',' or '}'" : "expected ',' or ']'");
        }
    }
    case 't':
        return literal(L, "true");
    case 'f':
        return literal(L, "false");
    case 'n':
        return literal(L, "null");
    case -1:
        return syntax(L, "unexpected end of text");
    default:
        return number(L, &v, &neg, &kind);
    }
}

/* An array of integers (shape / data_offsets): the first `keep` kept in out[], all counted; the
 * first bad element noted in *bad (index) and *bad_kind (1 negative, 2 not an integer). */
static tc_status int_array(lex *L, uint64_t *out, size_t keep, size_t *count, long *bad,
                           int *bad_kind, int64_t *bad_neg)
{
    *count = 0;
    *bad = -1;
    L->p++; /* '[' */
    if (peek(L) == ']') {
        L->p++;
        return TC_OK;
    }
    for (;;) {
        int c = peek(L);
        if ((c >= '0' && c <= '9') || c == '-') {
            uint64_t v = 0;
            int64_t neg = 0;
            int kind;
            TC_TRY(number(L, &v, &neg, &kind));
            if (kind != 0 && *bad < 0) {
                *bad = (long)*count;
                *bad_kind = kind;
                *bad_neg = neg;
            }
            if (*count < keep)
                out[*count] = v;
        } else {
            TC_TRY(skip_value(L, 1));
            if (*bad < 0) {
                *bad = (long)*count;
                *bad_kind = 2;
            }
        }
        (*count)++;
        int d = peek(L);
        L->p++;
        if (d == ',')
            continue;
        if (d == ']')
            return TC_OK;
        L->p--;
        return syntax(L, "expected ',' or ']'");
    }
}

/* One tensor entry: {"dtype": "F32", "shape": [...], "data_offsets": [a, b]} */
static tc_status entry(lex *L, st_hdr_ent *t, const char *name)
{
    if (peek(L) != '{') {
        TC_TRY(skip_value(L, 1));
        return tc_err_set(L->e, TC_E_FORMAT, "%s @0x8: tensor '%s': entry is not an object",
                          L->file, name);
    }
    L->p++;
    int have_dtype = 0, have_shape = 0, have_off = 0;
    char dtype[32] = "";
    size_t dtype_len = 0;
    uint64_t shape[TC_MAX_DIMS], off[2] = {0, 0};
    size_t rank = 0, n_off = 0;
    long bad_shape = -1, bad_off = -1;
    int bad_shape_kind = 0, bad_off_kind = 0;
    int64_t bad_shape_neg = 0, bad_neg2 = 0;
    if (peek(L) == '}') {
        L->p++;
    } else {
        for (;;) {
            const char *k;
            size_t kn;
            if (peek(L) != '"')
                return syntax(L, "expected a key");
            TC_TRY(string(L, &k, &kn));
            int which = strcmp(k, "dtype") == 0          ? 1
                        : strcmp(k, "shape") == 0        ? 2
                        : strcmp(k, "data_offsets") == 0 ? 3
                                                         : 0;
            if (kn != strlen(k))
                which = 0;
            if (peek(L) != ':')
                return syntax(L, "expected ':'");
            L->p++;
            int c = peek(L);
            int *have = which == 1 ? &have_dtype : which == 2 ? &have_shape : &have_off;
            if (which && *have)
                return tc_err_set(L->e, TC_E_FORMAT,
                                  "%s @%#" PRIx64 ": duplicate tensor name in the header "
                                  "(duplicate key '%s' in tensor '%s')",
                                  L->file, at(L),
                                  which == 1   ? "dtype"
                                  : which == 2 ? "shape"
                                               : "data_offsets",
                                  name);
            if (which == 1 && c == '"') {
                const char *s;
                TC_TRY(string(L, &s, &dtype_len));
                snprintf(dtype, sizeof dtype, "%s", s);
                if (dtype_len != strlen(s))
                    dtype_len = sizeof dtype; /* a NUL inside: never a dtype */
                have_dtype = 1;
            } else if (which == 2 && c == '[') {
                TC_TRY(int_array(L, shape, TC_MAX_DIMS, &rank, &bad_shape, &bad_shape_kind,
                                 &bad_shape_neg));
                have_shape = 1;
            } else if (which == 3 && c == '[') {
                TC_TRY(int_array(L, off, 2, &n_off, &bad_off, &bad_off_kind, &bad_neg2));
                have_off = 1;
            } else {
                TC_TRY(skip_value(L, 1));
                if (which) /* the right key with the wrong type */
                    *have = -1;
            }
            int d = peek(L);
            L->p++;
            if (d == ',')
                continue;
            if (d == '}')
                break;
            L->p--;
            return syntax(L, "expected ',' or '}'");
        }
    }
    if (have_dtype != 1 || have_shape != 1 || have_off != 1)
        return tc_err_set(L->e, TC_E_FORMAT,
                          "%s @0x8: tensor '%s': needs \"dtype\" (string), \"shape\" (array) and "
                          "\"data_offsets\" (array)",
                          L->file, name);
    t->dtype = tc_st_dtype_from_name(dtype);
    if (t->dtype < 0 || dtype_len >= sizeof dtype)
        return tc_err_set(L->e, TC_E_UNSUPPORTED,
                          "%s @0x8: tensor '%s': dtype '%s' is not supported (tensorcast reads "
                          "F64 F32 F16 BF16 F8_E4M3 F8_E5M2 I64 I32 I16 I8 U64 U32 U16 U8 BOOL)",
                          L->file, name, dtype);
    if (rank > TC_MAX_DIMS)
        return tc_err_set(L->e, TC_E_LIMIT, "%s @0x8: tensor '%s': %zu dimensions (at most %d)",
                          L->file, name, rank, TC_MAX_DIMS);
    if (bad_shape >= 0) {
        if (bad_shape_kind == 1)
            return tc_err_set(L->e, TC_E_FORMAT,
                              "%s @0x8: tensor '%s': shape[%ld] = %" PRId64 " is negative", L->file,
                              name, bad_shape, bad_shape_neg);
        return tc_err_set(L->e, TC_E_FORMAT, "%s @0x8: tensor '%s': shape[%ld] is not an integer",
                          L->file, name, bad_shape);
    }
    t->n_dims = (int)rank;
    for (size_t d = 0; d < rank; d++)
        t->shape[d] = (int64_t)shape[d];
    if (n_off != 2 || bad_off >= 0)
        return tc_err_set(L->e, TC_E_FORMAT,
                          "%s @0x8: tensor '%s': data_offsets must be two integers >= 0", L->file,
                          name);
    t->begin = off[0];
    t->end = off[1];
    return TC_OK;
}

tc_status tc_st_header_scan(const uint8_t *text, uint64_t len, const char *file, st_hdr *h,
                            tc_err *e)
{
    memset(h, 0, sizeof *h);
    lex L = {.s = text, .p = text, .end = text + len, .file = file, .e = e};
    /* decoded strings never outgrow their text: one buffer of the header's size holds every
     * name (kept) and the scratch of the string being read */
    L.cap = (size_t)len + 1;
    L.buf = tc_malloc(L.cap);
    if (L.buf == NULL)
        return tc_err_set(e, TC_E_NOMEM, "out of memory for a header of %" PRIu64 " bytes", len);
    h->names = L.buf;
    tc_status rc = TC_OK;
    int c = peek(&L);
    if (c != '{') {
        if (c == -1)
            rc = syntax(&L, "empty header");
        else if ((rc = skip_value(&L, 0)) == TC_OK)
            rc = peek(&L) == -1
                     ? tc_err_set(e, TC_E_FORMAT, "%s @0x8: header is not a JSON object", file)
                     : syntax(&L, "text after the value");
        goto fail;
    }
    if (L.p != L.s) {
        rc = tc_err_set(e, TC_E_FORMAT, "%s @0x8: header must start with '{'", file);
        goto fail;
    }
    L.p++;
    if (peek(&L) == '}') {
        L.p++;
    } else {
        for (;;) {
            if (peek(&L) != '"') {
                rc = syntax(&L, "expected a key");
                goto fail;
            }
            const char *k;
            size_t kn;
            if ((rc = string(&L, &k, &kn)) != TC_OK)
                goto fail;
            if (peek(&L) != ':') {
                rc = syntax(&L, "expected ':'");
                goto fail;
            }
            L.p++;
            if (strcmp(k, "__metadata__") == 0 && kn == 12) {
                if (h->meta) {
                    rc = tc_err_set(e, TC_E_FORMAT,
                                    "%s @%#" PRIx64 ": duplicate tensor name in the header "
                                    "(__metadata__ twice)",
                                    file, at(&L));
                    goto fail;
                }
                peek(&L);
                const uint8_t *v0 = L.p;
                if ((rc = skip_value(&L, 1)) != TC_OK)
                    goto fail;
                h->meta = (const char *)v0;
                h->meta_len = (size_t)(L.p - v0);
                if (h->meta_len > TC_ST_MAX_META) {
                    rc = tc_err_set(e, TC_E_LIMIT,
                                    "%s @%#" PRIx64 ": __metadata__ of %zu bytes exceeds the cap "
                                    "of %u bytes",
                                    file, 8 + (uint64_t)(v0 - L.s), h->meta_len,
                                    (unsigned)TC_ST_MAX_META);
                    goto fail;
                }
            } else {
                if (kn == 0) {
                    rc = tc_err_set(e, TC_E_FORMAT, "%s @0x8: a tensor has an empty name", file);
                    goto fail;
                }
                if (kn >= TC_MAX_NAME || strlen(k) != kn) {
                    rc = kn >= TC_MAX_NAME
                             ? tc_err_set(e, TC_E_LIMIT,
                                          "%s @0x8: tensor name of %zu bytes (cap %d)", file, kn,
                                          TC_MAX_NAME - 1)
                             : tc_err_set(e, TC_E_FORMAT,
                                          "%s @0x8: a tensor name holds a NUL character", file);
                    goto fail;
                }
                if (h->n == TC_ST_MAX_TENSORS) {
                    rc = tc_err_set(e, TC_E_LIMIT, "%s: more than %u tensors in one file (the cap)",
                                    file, (unsigned)TC_ST_MAX_TENSORS);
                    goto fail;
                }
                if (h->n == h->cap) {
                    size_t nc = h->cap ? h->cap * 2 : 256;
                    st_hdr_ent *ne = tc_realloc(h->ents, nc * sizeof *ne);
                    if (ne == NULL) {
                        rc = tc_err_nomem(e);
                        goto fail;
                    }
                    h->ents = ne;
                    h->cap = nc;
                }
                L.used += kn + 1; /* keep the name */
                st_hdr_ent *t = &h->ents[h->n];
                memset(t, 0, sizeof *t);
                t->name = k;
                t->idx = h->n;
                if ((rc = entry(&L, t, k)) != TC_OK)
                    goto fail;
                h->n++;
            }
            int d = peek(&L);
            L.p++;
            if (d == ',')
                continue;
            if (d == '}')
                break;
            L.p--;
            rc = syntax(&L, "expected ',' or '}'");
            goto fail;
        }
    }
    if (peek(&L) != -1) {
        rc = syntax(&L, "text after the header object");
        goto fail;
    }
    return TC_OK;
fail:
    tc_st_header_free(h);
    return rc;
}

void tc_st_header_free(st_hdr *h)
{
    tc_free(h->ents);
    tc_free(h->names);
    memset(h, 0, sizeof *h);
}
