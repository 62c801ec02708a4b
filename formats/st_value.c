/*
 * st_value.c - safetensors' typed metadata values: tc_value <-> JSON text (see st_value.h).
 */
#include "st_value.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ===== Typed metadata values: JSON text <-> tc_value ===== */

void tc_stv_buf_add(st_buf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->n + n + 1)
            cap *= 2;
        char *q = tc_realloc(b->p, cap);
        if (q == NULL) {
            b->oom = 1;
            return;
        }
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}

static void buf_str(st_buf *b, const char *s)
{
    tc_stv_buf_add(b, s, strlen(s));
}

/* Describe v's type; -1 when nested arrays disagree on their element type. */
int tc_stv_desc(const tc_value *v, st_vdesc *d)
{
    d->depth = 0;
    const tc_value *cur = v;
    while (cur->type == TC_V_ARR) {
        d->depth++;
        if (d->depth > TC_MAX_NEST)
            return -1;
        if (cur->arr.elem != TC_V_ARR) {
            d->base = cur->arr.elem;
            return 0;
        }
        if (cur->arr.n == 0) { /* empty array of arrays: inner type is immaterial */
            d->depth++;
            d->base = TC_V_U8;
            return 0;
        }
        const tc_value *in = cur->arr.data;
        /* every inner array must look like the first */
        for (uint64_t i = 1; i < cur->arr.n; i++) {
            st_vdesc a, b;
            if (tc_stv_desc(&in[0], &a) || tc_stv_desc(&in[i], &b) || a.depth != b.depth ||
                (a.base != b.base && !(in[i].type == TC_V_ARR && in[i].arr.n == 0)))
                return -1;
        }
        cur = &in[0];
    }
    d->base = cur->type;
    return 0;
}

void tc_stv_type_text(const st_vdesc *d, char *out, size_t cap)
{
    size_t o = 0;
    out[0] = 0;
    for (int i = 0; i < d->depth && o + 5 < cap; i++)
        o += (size_t)snprintf(out + o, cap - o, "arr[");
    if (o < cap)
        o += (size_t)snprintf(out + o, cap - o, "%s", tc_vtype_name(d->base));
    for (int i = 0; i < d->depth && o + 1 < cap; i++)
        out[o++] = ']', out[o] = 0;
}

/* Parse "arr[arr[u32]]"; -1 when malformed. */
int tc_stv_type_parse(const char *s, st_vdesc *d)
{
    d->depth = 0;
    while (strncmp(s, "arr[", 4) == 0) {
        s += 4;
        if (++d->depth > TC_MAX_NEST)
            return -1;
    }
    size_t n = strcspn(s, "]");
    char name[16];
    if (n == 0 || n >= sizeof name)
        return -1;
    memcpy(name, s, n);
    name[n] = 0;
    int t = tc_vtype_from_name(name);
    if (t < 0 || t == TC_V_ARR)
        return -1;
    d->base = (tc_vtype)t;
    s += n;
    for (int i = 0; i < d->depth; i++)
        if (*s++ != ']')
            return -1;
    return *s == 0 ? 0 : -1;
}

/* Append s[0..n) as a JSON string; -1 when it is not valid UTF-8. */
static int st_json_string(st_buf *b, const char *s, uint64_t n)
{
    if (!tc_utf8_valid(s, (size_t)n))
        return -1;
    tc_stv_buf_add(b, "\"", 1);
    size_t run = 0;
    for (uint64_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        tc_stv_buf_add(b, s + run, (size_t)i - run);
        char esc[8];
        if (c == '"' || c == '\\')
            snprintf(esc, sizeof esc, "\\%c", c);
        else if (c == '\n')
            snprintf(esc, sizeof esc, "\\n");
        else if (c == '\t')
            snprintf(esc, sizeof esc, "\\t");
        else
            snprintf(esc, sizeof esc, "\\u%04x", c);
        buf_str(b, esc);
        run = (size_t)i + 1;
    }
    tc_stv_buf_add(b, s + run, (size_t)n - run);
    tc_stv_buf_add(b, "\"", 1);
    return 0;
}

static void st_json_float(st_buf *b, double f, int is_f32)
{
    char tmp[40];
    if (isnan(f))
        snprintf(tmp, sizeof tmp, "NaN");
    else if (isinf(f))
        snprintf(tmp, sizeof tmp, f < 0 ? "-Infinity" : "Infinity");
    else if (is_f32)
        snprintf(tmp, sizeof tmp, "%.9g", (double)(float)f);
    else
        snprintf(tmp, sizeof tmp, "%.17g", f);
    buf_str(b, tmp);
}

/* Append v as JSON text; -1 when a string is not UTF-8. */
int tc_stv_json(st_buf *b, const tc_value *v)
{
    char tmp[40];
    switch (v->type) {
    case TC_V_U8:
    case TC_V_U16:
    case TC_V_U32:
    case TC_V_U64:
        snprintf(tmp, sizeof tmp, "%" PRIu64, v->u);
        buf_str(b, tmp);
        return 0;
    case TC_V_I8:
    case TC_V_I16:
    case TC_V_I32:
    case TC_V_I64:
        snprintf(tmp, sizeof tmp, "%" PRId64, v->i);
        buf_str(b, tmp);
        return 0;
    case TC_V_BOOL:
        buf_str(b, v->u ? "true" : "false");
        return 0;
    case TC_V_F32:
    case TC_V_F64:
        st_json_float(b, v->f, v->type == TC_V_F32);
        return 0;
    case TC_V_STR:
        return st_json_string(b, v->s.p ? v->s.p : "", v->s.len);
    case TC_V_ARR:
        break;
    default:
        return -1;
    }
    tc_stv_buf_add(b, "[", 1);
    for (uint64_t i = 0; i < v->arr.n; i++) {
        if (i)
            tc_stv_buf_add(b, ",", 1);
        if (v->arr.elem == TC_V_STR) {
            const tc_str *s = (const tc_str *)v->arr.data + i;
            if (st_json_string(b, s->p ? s->p : "", s->len))
                return -1;
        } else if (v->arr.elem == TC_V_ARR) {
            if (tc_stv_json(b, (const tc_value *)v->arr.data + i))
                return -1;
        } else {
            size_t es = tc_vtype_size(v->arr.elem);
            tc_value x = tc_value_load(v->arr.elem, (const uint8_t *)v->arr.data + i * es);
            if (tc_stv_json(b, &x))
                return -1;
        }
    }
    tc_stv_buf_add(b, "]", 1);
    return 0;
}

/* Parser of the JSON text of one typed value. */
typedef struct st_vp {
    const char *p, *end, *start;
    const char *file, *key;
    tc_err *e;
} st_vp;

static tc_status vp_fail(st_vp *vp, const char *what)
{
    return tc_err_set(vp->e, TC_E_FORMAT,
                      "%s: __metadata__ '%s': %s at character %td of its value (its type is "
                      "given in " ST_KV_TYPES ")",
                      vp->file, vp->key, what, vp->p - vp->start);
}

static void vp_ws(st_vp *vp)
{
    while (vp->p < vp->end && (*vp->p == ' ' || *vp->p == '\n' || *vp->p == '\t' || *vp->p == '\r'))
        vp->p++;
}

void tc_stv_release(tc_value *v);

void tc_stv_release(tc_value *v)
{
    if (v->type == TC_V_STR) {
        tc_free((void *)v->s.p);
    } else if (v->type == TC_V_ARR && v->arr.data) {
        if (v->arr.elem == TC_V_STR) {
            tc_str *s = (tc_str *)v->arr.data;
            for (uint64_t i = 0; i < v->arr.n; i++)
                tc_free((void *)s[i].p);
        } else if (v->arr.elem == TC_V_ARR) {
            tc_value *a = (tc_value *)v->arr.data;
            for (uint64_t i = 0; i < v->arr.n; i++)
                tc_stv_release(&a[i]);
        }
        tc_free((void *)v->arr.data);
    }
    v->type = TC_V_U8;
}

static int hexval(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

static int vp_hex4(st_vp *vp, unsigned *out)
{
    if (vp->end - vp->p < 4)
        return -1;
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hexval(vp->p[i]);
        if (h < 0)
            return -1;
        v = v * 16 + (unsigned)h;
    }
    vp->p += 4;
    *out = v;
    return 0;
}

/* A JSON string into a tc_malloc'd buffer (NUL-terminated; may hold NULs). */
static tc_status vp_string(st_vp *vp, tc_str *out)
{
    if (vp->p >= vp->end || *vp->p != '"')
        return vp_fail(vp, "expected a string");
    vp->p++;
    /* the escaped text up to the closing quote bounds the decoded length */
    const char *q = vp->p;
    while (q < vp->end && *q != '"')
        q += (*q == '\\' && q + 1 < vp->end) ? 2 : 1;
    size_t cap = (size_t)(q - vp->p) + 1;
    char *d = tc_malloc(cap);
    if (d == NULL)
        return tc_err_nomem(vp->e);
    size_t n = 0;
    for (;;) {
        if (vp->p >= vp->end) {
            tc_free(d);
            return vp_fail(vp, "unterminated string");
        }
        char c = *vp->p++;
        if (c == '"')
            break;
        if (c != '\\') {
            d[n++] = c;
            continue;
        }
        if (vp->p >= vp->end) {
            tc_free(d);
            return vp_fail(vp, "bad escape");
        }
        char x = *vp->p++;
        const char *simple = strchr("\"\\/bfnrt", x);
        if (x != 0 && simple) {
            static const char map[] = "\"\\/\b\f\n\r\t";
            d[n++] = map[simple - "\"\\/bfnrt"];
            continue;
        }
        unsigned cp;
        if (x != 'u' || vp_hex4(vp, &cp)) {
            tc_free(d);
            return vp_fail(vp, "bad escape");
        }
        if (cp >= 0xD800 && cp < 0xDC00) {
            unsigned lo;
            if (vp->end - vp->p < 6 || vp->p[0] != '\\' || vp->p[1] != 'u') {
                tc_free(d);
                return vp_fail(vp, "lone surrogate");
            }
            vp->p += 2;
            if (vp_hex4(vp, &lo) || lo < 0xDC00 || lo > 0xDFFF) {
                tc_free(d);
                return vp_fail(vp, "lone surrogate");
            }
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        } else if (cp >= 0xDC00 && cp < 0xE000) {
            tc_free(d);
            return vp_fail(vp, "lone surrogate");
        }
        /* \uXXXX takes >= 6 input bytes, its UTF-8 at most 4: fits in cap */
        if (cp < 0x80) {
            d[n++] = (char)cp;
        } else if (cp < 0x800) {
            d[n++] = (char)(0xC0 | (cp >> 6));
            d[n++] = (char)(0x80 | (cp & 0x3F));
        } else if (cp < 0x10000) {
            d[n++] = (char)(0xE0 | (cp >> 12));
            d[n++] = (char)(0x80 | ((cp >> 6) & 0x3F));
            d[n++] = (char)(0x80 | (cp & 0x3F));
        } else {
            d[n++] = (char)(0xF0 | (cp >> 18));
            d[n++] = (char)(0x80 | ((cp >> 12) & 0x3F));
            d[n++] = (char)(0x80 | ((cp >> 6) & 0x3F));
            d[n++] = (char)(0x80 | (cp & 0x3F));
        }
    }
    d[n] = 0;
    out->p = d;
    out->len = n;
    return TC_OK;
}

/* A scalar token (number, true/false, NaN, Infinity) into `out` of type t. */
static tc_status vp_scalar(st_vp *vp, tc_vtype t, tc_value *out)
{
    const char *s = vp->p;
    while (vp->p < vp->end &&
           (strchr("+-.", *vp->p) || (*vp->p >= '0' && *vp->p <= '9') ||
            (*vp->p >= 'a' && *vp->p <= 'z') || (*vp->p >= 'A' && *vp->p <= 'Z')))
        vp->p++;
    size_t n = (size_t)(vp->p - s);
    char tok[64];
    if (n == 0 || n >= sizeof tok) {
        vp->p = s;
        return vp_fail(vp, "expected a number or boolean");
    }
    memcpy(tok, s, n);
    tok[n] = 0;
    char *endp;
    memset(out, 0, sizeof *out);
    out->type = t;
    errno = 0;
    switch (t) {
    case TC_V_BOOL:
        if (strcmp(tok, "true") && strcmp(tok, "false"))
            break;
        out->u = tok[0] == 't';
        return TC_OK;
    case TC_V_U8:
    case TC_V_U16:
    case TC_V_U32:
    case TC_V_U64: {
        if (tok[0] < '0' || tok[0] > '9')
            break;
        unsigned long long u = strtoull(tok, &endp, 10);
        uint64_t max = t == TC_V_U8    ? UINT8_MAX
                       : t == TC_V_U16 ? UINT16_MAX
                       : t == TC_V_U32 ? UINT32_MAX
                                       : UINT64_MAX;
        if (*endp || errno || u > max)
            break;
        out->u = u;
        return TC_OK;
    }
    case TC_V_I8:
    case TC_V_I16:
    case TC_V_I32:
    case TC_V_I64: {
        if (tok[0] != '-' && (tok[0] < '0' || tok[0] > '9'))
            break;
        long long i = strtoll(tok, &endp, 10);
        int64_t lim = t == TC_V_I8    ? INT8_MAX
                      : t == TC_V_I16 ? INT16_MAX
                      : t == TC_V_I32 ? INT32_MAX
                                      : INT64_MAX;
        if (*endp || errno || i > lim || i < -lim - 1)
            break;
        out->i = i;
        return TC_OK;
    }
    case TC_V_F32:
    case TC_V_F64: {
        if (strcmp(tok, "NaN") == 0) {
            out->f = NAN;
            return TC_OK;
        }
        if (strcmp(tok, "Infinity") == 0 || strcmp(tok, "-Infinity") == 0) {
            out->f = tok[0] == '-' ? -INFINITY : INFINITY;
            return TC_OK;
        }
        if (!(tok[0] == '-' || (tok[0] >= '0' && tok[0] <= '9')))
            break;
        /* only JSON number characters: keeps strtod away from hex floats and "inf" */
        if (tok[strspn(tok, "0123456789+-.eE")] != 0)
            break;
        if (t == TC_V_F32) {
            float f = strtof(tok, &endp);
            out->f = f;
        } else {
            out->f = strtod(tok, &endp);
        }
        if (*endp)
            break;
        return TC_OK;
    }
    default:
        break;
    }
    vp->p = s;
    return tc_err_set(vp->e, TC_E_FORMAT, "%s: __metadata__ '%s': '%s' is not a valid %s value",
                      vp->file, vp->key, tok, tc_vtype_name(t));
}

/* Parse one value of type (depth, base) into `out` (allocations released on failure). */
static tc_status vp_value(st_vp *vp, int depth, tc_vtype base, tc_value *out)
{
    vp_ws(vp);
    memset(out, 0, sizeof *out);
    if (depth == 0) {
        if (base == TC_V_STR) {
            out->type = TC_V_STR;
            return vp_string(vp, &out->s);
        }
        return vp_scalar(vp, base, out);
    }
    if (vp->p >= vp->end || *vp->p != '[')
        return vp_fail(vp, "expected an array");
    vp->p++;
    tc_vtype elem = depth > 1 ? TC_V_ARR : base;
    size_t es = elem == TC_V_STR   ? sizeof(tc_str)
                : elem == TC_V_ARR ? sizeof(tc_value)
                                   : tc_vtype_size(elem);
    out->type = TC_V_ARR;
    out->arr.elem = elem;
    uint8_t *data = NULL;
    uint64_t n = 0, cap = 0;
    tc_status rc = TC_OK;
    vp_ws(vp);
    if (vp->p < vp->end && *vp->p == ']') {
        vp->p++;
        return TC_OK;
    }
    for (;;) {
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            uint8_t *nd = tc_realloc(data, (size_t)cap * es);
            if (nd == NULL) {
                rc = tc_err_nomem(vp->e);
                break;
            }
            data = nd;
        }
        tc_value x;
        rc = vp_value(vp, depth - 1, base, &x);
        if (rc != TC_OK)
            break;
        uint8_t *slot = data + (size_t)n * es;
        if (elem == TC_V_STR) {
            memcpy(slot, &x.s, sizeof x.s);
        } else if (elem == TC_V_ARR) {
            memcpy(slot, &x, sizeof x);
        } else {
            switch (es) {
            case 1:
                slot[0] = (uint8_t)x.u;
                break;
            case 2:
                tc_put16(slot, (uint16_t)x.u);
                break;
            case 4:
                if (elem == TC_V_F32) {
                    float f = (float)x.f;
                    uint32_t bits;
                    memcpy(&bits, &f, 4);
                    tc_put32(slot, bits);
                } else {
                    tc_put32(slot, (uint32_t)x.u);
                }
                break;
            default:
                if (elem == TC_V_F64) {
                    uint64_t bits;
                    memcpy(&bits, &x.f, 8);
                    tc_put64(slot, bits);
                } else {
                    tc_put64(slot, x.u);
                }
                break;
            }
        }
        n++;
        vp_ws(vp);
        if (vp->p < vp->end && *vp->p == ',') {
            vp->p++;
            continue;
        }
        if (vp->p < vp->end && *vp->p == ']') {
            vp->p++;
            break;
        }
        rc = vp_fail(vp, "expected ',' or ']'");
        break;
    }
    out->arr.data = data;
    out->arr.n = n;
    if (rc != TC_OK)
        tc_stv_release(out);
    return rc;
}

tc_status tc_stv_parse(const char *text, size_t n, const st_vdesc *d, const char *file,
                       const char *key, tc_value *out, tc_err *e)
{
    st_vp vp = {text, text + n, text, file, key, e};
    tc_status rc = vp_value(&vp, d->depth, d->base, out);
    if (rc != TC_OK)
        return rc;
    vp_ws(&vp);
    if (vp.p != vp.end) {
        tc_stv_release(out);
        return vp_fail(&vp, "trailing characters");
    }
    return TC_OK;
}
