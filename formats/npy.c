/*
 * npy.c - NumPy .npy files (format versions 1.0, 2.0 and 3.0) and .npz archives of them.
 *
 * A .npy file is: the magic "\x93NUMPY", a major and minor version byte, the header length
 * (u16 LE for 1.x, u32 LE for 2.x/3.x), then a Python dict literal such as
 *     {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }
 * padded with spaces and a final newline, then the raw array bytes to the end of the file.
 * The header is parsed by a small strict parser for exactly that grammar (nothing is evaluated).
 *
 * Policy:
 * - little-endian ('<') and byte-order-free ('|') arrays are mapped in place, no copy;
 * - big-endian ('>') arrays are accepted and byte-swapped on the fly by a lazy source;
 * - fortran_order True arrays keep their logical shape; a lazy source gathers the elements into
 *   C order, row chunk by row chunk;
 * - object arrays ('|O') are refused as unsafe (their payload is a pickle), as are structured,
 *   void ('V2' is how ml_dtypes' bfloat16 is saved), complex, string and datetime dtypes;
 * - the payload must be exactly prod(shape) * itemsize bytes to the end of the file/member.
 *
 * The tensor of a .npy file is named after the file's stem ("wte.npy" -> "wte"); a .npz holds one
 * tensor per "<name>.npy" member.
 */
#include "tc_impl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define NPY_MAX_HEADER (1u << 20) /* header dict bytes (numpy itself refuses > 10000 by default)   \
                                   */
#define NPY_MAX_DESCR 64          /* bytes of a descr/key string */

static const uint8_t npy_magic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};

/* ===== Header ===== */

typedef struct npy_hdr {
    int major, minor;
    int dtype;    /* TC_DTYPE_* */
    int itemsize; /* bytes per element */
    int swap;     /* big-endian: swap bytes on read */
    int fortran;  /* column-major payload */
    int n_dims;
    int64_t shape[TC_MAX_DIMS];
    uint64_t n_elems;
    uint64_t data_off; /* from the start of the .npy bytes */
    uint64_t nbytes;
} npy_hdr;

/* Parser state over the header dict: `base` is the whole .npy, offsets in messages are from it. */
typedef struct npy_lex {
    const uint8_t *base;
    uint64_t pos, end;
    const char *what;
    tc_err *e;
} npy_lex;

static tc_status npy_bad(npy_lex *x, const char *msg, const char *arg)
{
    return tc_err_set(x->e, TC_E_FORMAT, "%s @%#" PRIx64 ": npy header: %s%s%s", x->what, x->pos,
                      msg, arg ? " " : "", arg ? arg : "");
}

static void npy_ws(npy_lex *x)
{
    while (x->pos < x->end && (x->base[x->pos] == ' ' || x->base[x->pos] == '\t' ||
                               x->base[x->pos] == '\n' || x->base[x->pos] == '\r'))
        x->pos++;
}

static int npy_peek(npy_lex *x)
{
    npy_ws(x);
    return x->pos < x->end ? x->base[x->pos] : -1;
}

static tc_status npy_expect(npy_lex *x, char c)
{
    char want[4] = {'\'', c, '\'', 0};
    if (npy_peek(x) != (unsigned char)c)
        return npy_bad(x, "expected", want);
    x->pos++;
    return TC_OK;
}

/* A quoted string without escapes into buf (NUL-terminated). */
static tc_status npy_string(npy_lex *x, char *buf, size_t cap)
{
    int q = npy_peek(x);
    if (q != '\'' && q != '"')
        return npy_bad(x, "expected a quoted string", NULL);
    x->pos++;
    size_t n = 0;
    while (x->pos < x->end && x->base[x->pos] != q) {
        uint8_t c = x->base[x->pos];
        if (c == '\\' || c < 0x20 || c >= 0x7f)
            return npy_bad(x, "unsupported character in a string", NULL);
        if (n + 1 >= cap)
            return npy_bad(x, "string too long", NULL);
        buf[n++] = (char)c;
        x->pos++;
    }
    if (x->pos >= x->end)
        return npy_bad(x, "unterminated string", NULL);
    x->pos++;
    buf[n] = 0;
    return TC_OK;
}

static int npy_word(npy_lex *x, const char *w)
{
    size_t n = strlen(w);
    if (npy_peek(x) < 0 || x->end - x->pos < n || memcmp(x->base + x->pos, w, n) != 0)
        return 0;
    /* not a prefix of a longer identifier */
    if (x->end - x->pos > n) {
        uint8_t c = x->base[x->pos + n];
        if (c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
            return 0;
    }
    x->pos += n;
    return 1;
}

/* A non-negative decimal integer (an optional Python 2 'L' suffix is accepted). */
static tc_status npy_int(npy_lex *x, int64_t *v)
{
    int c = npy_peek(x);
    if (c == '-')
        return npy_bad(x, "negative dimension in shape", NULL);
    if (c == '(' || c == '[')
        return npy_bad(x, "nested tuple or list in shape", NULL);
    if (c < '0' || c > '9')
        return npy_bad(x, "expected an integer in shape", NULL);
    uint64_t r = 0;
    while (x->pos < x->end && x->base[x->pos] >= '0' && x->base[x->pos] <= '9') {
        if (!tc_mul_ok(r, 10, &r) || !tc_add_ok(r, (uint64_t)(x->base[x->pos] - '0'), &r) ||
            r > (uint64_t)INT64_MAX)
            return npy_bad(x, "dimension does not fit in 64 bits", NULL);
        x->pos++;
    }
    if (x->pos < x->end && x->base[x->pos] == 'L')
        x->pos++;
    *v = (int64_t)r;
    return TC_OK;
}

/* shape: () | (int,) | (int, int[, int...][,]) */
static tc_status npy_shape(npy_lex *x, npy_hdr *h)
{
    int c = npy_peek(x);
    if (c == '[')
        return npy_bad(x, "shape must be a tuple, not a list", NULL);
    TC_TRY(npy_expect(x, '('));
    h->n_dims = 0;
    if (npy_peek(x) == ')') {
        x->pos++;
        return TC_OK;
    }
    int trailing_comma = 0;
    for (;;) {
        int64_t d = 0;
        TC_TRY(npy_int(x, &d));
        if (h->n_dims >= TC_MAX_DIMS)
            return tc_err_set(x->e, TC_E_LIMIT,
                              "%s @%#" PRIx64 ": npy shape has more than %d "
                              "dimensions",
                              x->what, x->pos, TC_MAX_DIMS);
        h->shape[h->n_dims++] = d;
        trailing_comma = 0;
        c = npy_peek(x);
        if (c == ',') {
            x->pos++;
            trailing_comma = 1;
            if (npy_peek(x) == ')') {
                x->pos++;
                break;
            }
            continue;
        }
        if (c == ')') {
            x->pos++;
            break;
        }
        return npy_bad(x, "expected ',' or ')' in shape", NULL);
    }
    if (h->n_dims == 1 && !trailing_comma)
        return npy_bad(x, "shape '(n)' is not a tuple (want '(n,)')", NULL);
    return TC_OK;
}

/* Map a descr such as '<f4' onto a dtype; messages say why a dtype is refused. */
static tc_status npy_descr(npy_lex *x, const char *d, npy_hdr *h)
{
    char bo = d[0];
    if (bo != '<' && bo != '>' && bo != '|' && bo != '=')
        return tc_err_set(x->e, TC_E_UNSUPPORTED, "%s: npy descr '%s' has no byte order", x->what,
                          d);
    char kind = d[1];
    if (kind == 'O')
        return tc_err_set(x->e, TC_E_UNSAFE,
                          "%s: npy descr '%s': object arrays hold pickled Python objects; refused "
                          "(tensorcast never runs pickles from .npy files)",
                          x->what, d);
    if (kind == 'V')
        return tc_err_set(x->e, TC_E_UNSUPPORTED,
                          "%s: npy descr '%s': raw void data (how ml_dtypes' bfloat16 and other "
                          "non-NumPy types are saved) has no known element type; save as float32 "
                          "or use safetensors",
                          x->what, d);
    char *endp = NULL;
    long size = (kind && d[2] >= '0' && d[2] <= '9') ? strtol(d + 2, &endp, 10) : -1;
    if (kind == '?' && d[2] == 0) {
        kind = 'b';
        size = 1;
    } else if (size < 0 || endp == NULL || *endp != 0) {
        return tc_err_set(x->e, TC_E_UNSUPPORTED, "%s: npy descr '%s' is not supported", x->what,
                          d);
    }
    int dt = -1;
    switch (kind) {
    case 'f':
        dt = size == 8 ? TC_DTYPE_F64 : size == 4 ? TC_DTYPE_F32 : size == 2 ? TC_DTYPE_F16 : -1;
        break;
    case 'i':
        dt = size == 8   ? TC_DTYPE_I64
             : size == 4 ? TC_DTYPE_I32
             : size == 2 ? TC_DTYPE_I16
             : size == 1 ? TC_DTYPE_I8
                         : -1;
        break;
    case 'u':
        dt = size == 8   ? TC_DTYPE_U64
             : size == 4 ? TC_DTYPE_U32
             : size == 2 ? TC_DTYPE_U16
             : size == 1 ? TC_DTYPE_U8
                         : -1;
        break;
    case 'b':
        dt = size == 1 ? TC_DTYPE_BOOL : -1;
        break;
    case 'c':
        return tc_err_set(x->e, TC_E_UNSUPPORTED,
                          "%s: npy descr '%s': complex arrays are not "
                          "supported",
                          x->what, d);
    case 'U':
    case 'S':
    case 'a':
    case 'M':
    case 'm':
        return tc_err_set(x->e, TC_E_UNSUPPORTED,
                          "%s: npy descr '%s': string/date arrays are "
                          "not tensors",
                          x->what, d);
    default:
        break;
    }
    if (dt < 0)
        return tc_err_set(x->e, TC_E_UNSUPPORTED, "%s: npy descr '%s' is not supported", x->what,
                          d);
    if (bo == '=' && size > 1)
        return tc_err_set(x->e, TC_E_UNSUPPORTED,
                          "%s: npy descr '%s': native byte order '=' is ambiguous in a file",
                          x->what, d);
    if (bo == '|' && size > 1)
        return tc_err_set(x->e, TC_E_FORMAT,
                          "%s: npy descr '%s': a %ld-byte type needs a byte "
                          "order",
                          x->what, d, size);
    h->dtype = dt;
    h->itemsize = (int)size;
    h->swap = bo == '>' && size > 1;
    return TC_OK;
}

/*
 * Parse the preamble and header dict of the .npy bytes p[0..n) and check the payload size
 * against what follows the header. `what` names the file/member in messages.
 */
static tc_status npy_parse(const uint8_t *p, uint64_t n, const char *what, npy_hdr *h, tc_err *e)
{
    memset(h, 0, sizeof *h);
    if (n < 10 || memcmp(p, npy_magic, 6) != 0)
        return tc_err_set(e, TC_E_FORMAT, "%s @0x0: not a .npy file (bad magic)", what);
    h->major = p[6];
    h->minor = p[7];
    if (h->major < 1 || h->major > 3)
        return tc_err_set(e, TC_E_UNSUPPORTED, "%s @0x6: npy format version %d.%d is not supported",
                          what, h->major, h->minor);
    uint64_t pre = h->major == 1 ? 10 : 12, hlen;
    if (n < pre)
        return tc_err_set(e, TC_E_FORMAT, "%s @0x8: truncated npy preamble", what);
    hlen = h->major == 1 ? tc_le16(p + 8) : tc_le32(p + 8);
    if (hlen > NPY_MAX_HEADER)
        return tc_err_set(e, TC_E_LIMIT,
                          "%s @0x8: npy header of %" PRIu64 " bytes is over the cap "
                          "of %u",
                          what, hlen, NPY_MAX_HEADER);
    if (hlen > n - pre)
        return tc_err_set(e, TC_E_FORMAT,
                          "%s @0x8: npy header of %" PRIu64 " bytes runs past the end of the file "
                          "(%" PRIu64 " bytes)",
                          what, hlen, n);
    if (h->major == 3 && !tc_utf8_valid((const char *)p + pre, (size_t)hlen))
        return tc_err_set(e, TC_E_FORMAT, "%s @%#" PRIx64 ": npy 3.0 header is not UTF-8", what,
                          pre);

    npy_lex x = {p, pre, pre + hlen, what, e};
    int seen_descr = 0, seen_fortran = 0, seen_shape = 0;
    char key[NPY_MAX_DESCR], descr[NPY_MAX_DESCR];
    TC_TRY(npy_expect(&x, '{'));
    while (npy_peek(&x) != '}') {
        uint64_t kpos = x.pos;
        TC_TRY(npy_string(&x, key, sizeof key));
        TC_TRY(npy_expect(&x, ':'));
        if (strcmp(key, "descr") == 0 && !seen_descr) {
            seen_descr = 1;
            if (npy_peek(&x) == '[')
                return tc_err_set(e, TC_E_UNSUPPORTED,
                                  "%s @%#" PRIx64 ": npy structured (record) dtypes are not "
                                  "supported",
                                  what, x.pos);
            TC_TRY(npy_string(&x, descr, sizeof descr));
        } else if (strcmp(key, "fortran_order") == 0 && !seen_fortran) {
            seen_fortran = 1;
            npy_peek(&x);
            if (npy_word(&x, "True"))
                h->fortran = 1;
            else if (npy_word(&x, "False"))
                h->fortran = 0;
            else
                return npy_bad(&x, "fortran_order must be True or False", NULL);
        } else if (strcmp(key, "shape") == 0 && !seen_shape) {
            seen_shape = 1;
            TC_TRY(npy_shape(&x, h));
        } else {
            x.pos = kpos;
            return npy_bad(&x, "unexpected or repeated key", key);
        }
        int c = npy_peek(&x);
        if (c == ',') {
            x.pos++;
            continue;
        }
        if (c != '}')
            return npy_bad(&x, "expected ',' or '}'", NULL);
    }
    x.pos++; /* '}' */
    while (x.pos < x.end && (p[x.pos] == ' ' || p[x.pos] == '\n' || p[x.pos] == '\r' ||
                             p[x.pos] == '\t' || p[x.pos] == 0))
        x.pos++;
    if (x.pos != x.end)
        return npy_bad(&x, "trailing bytes after the header dict", NULL);
    if (!seen_descr || !seen_fortran || !seen_shape)
        return tc_err_set(e, TC_E_FORMAT, "%s @%#" PRIx64 ": npy header lacks '%s'", what, pre,
                          !seen_descr     ? "descr"
                          : !seen_fortran ? "fortran_order"
                                          : "shape");
    TC_TRY(npy_descr(&x, descr, h));

    h->data_off = pre + hlen;
    h->n_elems = 1;
    for (int d = 0; d < h->n_dims; d++)
        if (!tc_mul_ok(h->n_elems, (uint64_t)h->shape[d], &h->n_elems))
            return tc_err_set(e, TC_E_FORMAT, "%s: npy shape element count overflows", what);
    if (!tc_mul_ok(h->n_elems, (uint64_t)h->itemsize, &h->nbytes))
        return tc_err_set(e, TC_E_FORMAT, "%s: npy array byte size overflows", what);
    uint64_t have = n - h->data_off;
    if (have != h->nbytes)
        return tc_err_set(e, TC_E_FORMAT,
                          "%s @%#" PRIx64 ": npy shape and dtype need %" PRIu64
                          " payload bytes, the file has %" PRIu64 " (%s)",
                          what, h->data_off, h->nbytes, have,
                          have < h->nbytes ? "truncated" : "trailing bytes");
    return TC_OK;
}

/* ===== Lazy source: byte swap and/or Fortran-order gather ===== */

typedef struct npy_src {
    tc_map *m;
    uint64_t off; /* payload offset in the map */
    int itemsize, swap, fortran, n_dims;
    int64_t shape[TC_MAX_DIMS];
    uint64_t fstride[TC_MAX_DIMS]; /* elements, column-major */
} npy_src;

static void npy_src_free(void *p)
{
    npy_src *s = p;
    tc_map_unref(s->m);
    tc_free(s);
}

static void npy_swap(uint8_t *d, uint64_t n, int isz)
{
    for (uint64_t i = 0; i < n; i++, d += isz)
        for (int a = 0, b = isz - 1; a < b; a++, b--) {
            uint8_t t = d[a];
            d[a] = d[b];
            d[b] = t;
        }
}

static tc_status npy_src_read(void *ctx, const tc_tensor *t, uint64_t e0, uint64_t n, void *dst,
                              tc_err *e)
{
    (void)t;
    const npy_src *s = ctx;
    uint8_t *d = dst;
    size_t isz = (size_t)s->itemsize;
    if (!s->fortran) {
        TC_TRY(tc_map_read(s->m, s->off + e0 * isz, d, (size_t)(n * isz), e));
    } else {
        /* C-order index of e0 -> its column-major element offset, then step like an odometer */
        const uint8_t *base = tc_map_data(s->m) + s->off;
        int64_t idx[TC_MAX_DIMS];
        uint64_t r = e0, fo = 0;
        for (int k = s->n_dims - 1; k >= 0; k--) {
            idx[k] = (int64_t)(r % (uint64_t)s->shape[k]);
            r /= (uint64_t)s->shape[k];
            fo += (uint64_t)idx[k] * s->fstride[k];
        }
        for (uint64_t i = 0; i < n; i++) {
            memcpy(d + i * isz, base + fo * isz, isz);
            for (int k = s->n_dims - 1; k >= 0; k--) {
                fo += s->fstride[k];
                if (++idx[k] < s->shape[k])
                    break;
                fo -= s->fstride[k] * (uint64_t)s->shape[k];
                idx[k] = 0;
            }
        }
    }
    if (s->swap)
        npy_swap(d, n, s->itemsize);
    return TC_OK;
}

/* Add the array described by `h`, whose .npy bytes start at `base` in `m`, as tensor `name`. */
static tc_status npy_add(tc_graph *g, const char *name, tc_map *m, uint64_t base, const npy_hdr *h,
                         tc_err *e)
{
    tc_tensor *t;
    TC_TRY(tc_graph_add_tensor(g, name, h->dtype, h->n_dims, h->shape, &t, e));
    int fortran = h->fortran;
    int big = 0; /* dims > 1: a Fortran array with at most one such dim is already in C order */
    for (int d = 0; d < h->n_dims; d++)
        big += h->shape[d] > 1;
    if (big <= 1)
        fortran = 0;
    if (!fortran && !h->swap)
        return tc_tensor_set_mapped(t, m, base + h->data_off, e);
    npy_src *s = tc_calloc(1, sizeof *s);
    if (s == NULL)
        return tc_err_set(e, TC_E_NOMEM, "out of memory");
    s->m = tc_map_ref(m);
    s->off = base + h->data_off;
    s->itemsize = h->itemsize;
    s->swap = h->swap;
    s->fortran = fortran;
    s->n_dims = h->n_dims;
    uint64_t st = 1;
    for (int d = 0; d < h->n_dims; d++) {
        s->shape[d] = h->shape[d];
        s->fstride[d] = st;
        st *= (uint64_t)h->shape[d]; /* bounded by n_elems, checked in npy_parse */
    }
    return tc_tensor_set_lazy(t, npy_src_read, s, npy_src_free, e);
}

/* ===== .npy ===== */

/* The tensor name for a file: its base name without ".npy". */
static tc_status npy_stem(const char *path, char *buf, size_t cap, tc_err *e)
{
    const char *b = tc_path_base(path);
    size_t n = strlen(b);
    if (n >= 4 && strcmp(b + n - 4, ".npy") == 0)
        n -= 4;
    if (n == 0) {
        b = "array";
        n = 5;
    }
    if (n >= cap)
        return tc_err_set(e, TC_E_LIMIT, "%s: name too long for a tensor name", path);
    memcpy(buf, b, n);
    buf[n] = 0;
    return TC_OK;
}

static tc_status npy_read_npy(tc_map *m, tc_graph *g, tc_err *e)
{
    npy_hdr h;
    char name[TC_MAX_NAME];
    TC_TRY(npy_parse(tc_map_data(m), tc_map_size(m), tc_map_path(m), &h, e));
    TC_TRY(npy_stem(tc_map_path(m), name, sizeof name, e));
    char ver[16];
    snprintf(ver, sizeof ver, "%d.%d", h.major, h.minor);
    TC_TRY(tc_graph_set_format(g, "npy", ver, e));
    return npy_add(g, name, m, 0, &h, e);
}

/* ===== .npz ===== */

static int npy_is_zip(const uint8_t *p, uint64_t n)
{
    return n >= 4 && p[0] == 'P' && p[1] == 'K' &&
           ((p[2] == 3 && p[3] == 4) || (p[2] == 5 && p[3] == 6));
}

static tc_status npz_read(tc_map *m, tc_graph *g, tc_err *e)
{
    (void)g;
    return tc_err_set(e, TC_E_UNSUPPORTED, "%s: .npz archives are not supported yet",
                      tc_map_path(m));
}

/* ===== vtable ===== */

static tc_status npy_read_map(tc_map *m, tc_graph *g, const tc_read_opts *opt, tc_err *e)
{
    (void)opt;
    const uint8_t *p = tc_map_data(m);
    uint64_t n = tc_map_size(m);
    if (n >= 6 && memcmp(p, npy_magic, 6) == 0)
        return npy_read_npy(m, g, e);
    if (npy_is_zip(p, n))
        return npz_read(m, g, e);
    return tc_err_set(e, TC_E_FORMAT, "%s @0x0: not a .npy or .npz file (bad magic)",
                      tc_map_path(m));
}

static tc_status npy_read(const char *path, tc_graph *g, const tc_read_opts *opt, tc_err *e)
{
    tc_map *m;
    TC_TRY(tc_map_open(path, &m, e));
    tc_status rc = npy_read_map(m, g, opt, e);
    if (rc == TC_OK)
        rc = tc_graph_add_source(g, path, tc_map_size(m), e);
    tc_map_unref(m);
    return rc;
}

static int npy_probe(const uint8_t *head, size_t n, const char *path)
{
    if (head && n >= 6 && memcmp(head, npy_magic, 6) == 0)
        return 100;
    if (head && npy_is_zip(head, n) && path && tc_ends_with(path, ".npz"))
        return 20;
    if (head && path && tc_ends_with(path, ".npy"))
        return 10;
    return 0;
}

static const char *const npy_exts[] = {".npy", ".npz", NULL};

const tc_format tc_format_npy = {"npy", npy_exts, npy_probe, npy_read, npy_read_map, NULL};
