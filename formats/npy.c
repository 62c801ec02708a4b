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
#include "zip.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include <zlib.h>

#define NPY_MAX_HEADER                                                                             \
    (1u << 20)           /* header dict bytes (numpy itself refuses > 10000 by default)            \
                          */
#define NPY_MAX_DESCR 64 /* bytes of a descr/key string */

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
 * Parse the preamble and header dict of a .npy of `n` bytes whose first `avail` bytes are at p
 * (all of it for a mapped file; the inflated head of a deflated npz member) and check the
 * payload size against what follows the header. `what` names the file/member in messages.
 */
static tc_status npy_parse(const uint8_t *p, uint64_t avail, uint64_t n, const char *what,
                           npy_hdr *h, tc_err *e)
{
    memset(h, 0, sizeof *h);
    if (avail > n)
        avail = n;
    if (avail < 10 && n >= 10)
        return tc_err_set(e, TC_E_FORMAT, "%s @0x0: npy preamble not available", what);
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
    if (hlen > avail - pre)
        return tc_err_set(e, TC_E_FORMAT, "%s @0x8: npy header not available", what);
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
    uint64_t inner;                /* elements in one outer slice (all dims but the first) */
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

/* Gather C-order elements [e0, e0+n) element by element through the mapping (an odometer over
 * the C index, stepping the column-major offset along). */
static void npy_gather_elems(const npy_src *s, uint64_t e0, uint64_t n, uint8_t *d)
{
    const uint8_t *base = tc_map_data(s->m) + s->off;
    size_t isz = (size_t)s->itemsize;
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

/*
 * Gather `k` whole outer slices [r0, r0+k) (slice = inner elements, all dims but the first).
 * Column-major storage keeps the first index contiguous, so for each inner position the k
 * elements are one run: one pread each, scattered into place. Pages are not kept mapped.
 */
static tc_status npy_gather_runs(const npy_src *s, uint64_t r0, uint64_t k, uint8_t *d, tc_err *e)
{
    size_t isz = (size_t)s->itemsize;
    uint8_t *run = tc_malloc((size_t)(k * isz));
    if (run == NULL)
        return tc_err_nomem(e);
    int64_t idx[TC_MAX_DIMS] = {0};
    uint64_t fo = 0; /* column-major offset of the inner position */
    tc_status rc = TC_OK;
    for (uint64_t q = 0; q < s->inner && rc == TC_OK; q++) {
        rc = tc_map_read(s->m, s->off + (r0 + fo) * isz, run, (size_t)(k * isz), e);
        for (uint64_t i = 0; i < k && rc == TC_OK; i++)
            memcpy(d + (i * s->inner + q) * isz, run + i * isz, isz);
        for (int j = s->n_dims - 1; j >= 1; j--) {
            fo += s->fstride[j];
            if (++idx[j] < s->shape[j])
                break;
            fo -= s->fstride[j] * (uint64_t)s->shape[j];
            idx[j] = 0;
        }
    }
    tc_free(run);
    return rc;
}

#define NPY_RUN_MIN (8u) /* outer slices a chunk needs for the pread path */

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
        /* head: up to the next whole outer slice; body: whole slices by runs; tail: the rest */
        uint64_t head = (s->inner - e0 % s->inner) % s->inner;
        if (head > n)
            head = n;
        uint64_t k = (n - head) / s->inner;
        if (k < NPY_RUN_MIN) {
            npy_gather_elems(s, e0, n, d);
        } else {
            npy_gather_elems(s, e0, head, d);
            TC_TRY(npy_gather_runs(s, (e0 + head) / s->inner, k, d + head * isz, e));
            uint64_t body = head + k * s->inner;
            npy_gather_elems(s, e0 + body, n - body, d + body * isz);
        }
    }
    if (s->swap)
        npy_swap(d, n, s->itemsize);
    return TC_OK;
}

/* Fill the lazy source fields of `s` (not its map) from header `h` at payload offset `off`. */
static void npy_src_init(npy_src *s, const npy_hdr *h, uint64_t off)
{
    int fortran = h->fortran;
    int big = 0; /* dims > 1: a Fortran array with at most one such dim is already in C order */
    for (int d = 0; d < h->n_dims; d++)
        big += h->shape[d] > 1;
    if (big <= 1)
        fortran = 0;
    s->off = off;
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
    s->inner = h->n_dims > 0 && h->shape[0] > 0 ? h->n_elems / (uint64_t)h->shape[0] : 1;
    if (s->inner == 0)
        s->inner = 1; /* an empty array is never read; keep the modulo defined anyway */
}

/* Add the array described by `h`, whose .npy bytes start at `base` in `m`, as tensor `name`. */
static tc_status npy_add(tc_graph *g, const char *name, tc_map *m, uint64_t base, const npy_hdr *h,
                         tc_err *e)
{
    tc_tensor *t;
    TC_TRY(tc_graph_add_tensor(g, name, h->dtype, h->n_dims, h->shape, &t, e));
    npy_src tmp;
    npy_src_init(&tmp, h, base + h->data_off);
    if (!tmp.fortran && !tmp.swap)
        return tc_tensor_set_mapped(t, m, base + h->data_off, e);
    npy_src *s = tc_calloc(1, sizeof *s);
    if (s == NULL)
        return tc_err_nomem(e);
    *s = tmp;
    s->m = tc_map_ref(m);
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
    TC_TRY(npy_parse(tc_map_data(m), tc_map_size(m), tc_map_size(m), tc_map_path(m), &h, e));
    TC_TRY(npy_stem(tc_map_path(m), name, sizeof name, e));
    char ver[16];
    snprintf(ver, sizeof ver, "%d.%d", h.major, h.minor);
    TC_TRY(tc_graph_set_format(g, "npy", ver, e));
    return npy_add(g, name, m, 0, &h, e);
}

/* ===== .npz ===== */

#define NPZ_INFLATE_CHUNK (1u << 16)

/* A temporary file in $TMPDIR, unlinked at once: it lives as long as a descriptor or map does. */
static tc_status npz_tmpfile(const char *what, uint64_t need, int *fd_out, tc_err *e)
{
    const char *dir = getenv("TMPDIR");
    if (dir == NULL || *dir == 0)
        dir = "/tmp";
    char *tmpl = tc_path_join(dir, "tensorcast-npz-XXXXXX");
    if (tmpl == NULL)
        return tc_err_nomem(e);
    int fd = mkostemp(tmpl, O_CLOEXEC);
    if (fd < 0) {
        int er = errno;
        tc_status rc =
            tc_err_sys(e, TC_E_IO, er, "%s: cannot create a temporary file in %s", what, dir);
        tc_free(tmpl);
        return rc;
    }
    unlink(tmpl);
    tc_free(tmpl);
    struct statvfs vs;
    if (fstatvfs(fd, &vs) == 0 && (uint64_t)vs.f_bavail * vs.f_frsize < need) {
        close(fd);
        return tc_err_set(e, TC_E_IO, /* a full disk: exit 4, like ENOSPC */
                          "%s: inflating needs %" PRIu64 " bytes in %s, only %" PRIu64
                          " are free (set TMPDIR)",
                          what, need, dir, (uint64_t)vs.f_bavail * vs.f_frsize);
    }
    *fd_out = fd;
    return TC_OK;
}

static tc_status npz_write_all(int fd, const uint8_t *p, size_t n, const char *what, tc_err *e)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return tc_err_sys(e, TC_E_IO, errno, "%s: cannot write the inflated temporary file",
                              what);
        p += w;
        n -= (size_t)w;
    }
    return TC_OK;
}

/*
 * Inflate a deflated member from its start. With fd >= 0 everything goes to the file and the
 * size and CRC-32 are checked against the central directory; otherwise only the first `limit`
 * bytes are produced into `mem`. Streaming, bounded memory.
 */
static tc_status npz_inflate_run(const tc_map *zm, const tc_zip_entry *en, const char *what, int fd,
                                 uint8_t *mem, uint64_t limit, tc_err *e)
{
    uint8_t *buf = tc_malloc(NPZ_INFLATE_CHUNK);
    z_stream s;
    memset(&s, 0, sizeof s);
    if (buf == NULL || inflateInit2(&s, -MAX_WBITS) != Z_OK) {
        tc_free(buf);
        return tc_err_nomem(e);
    }
    const uint8_t *src = tc_map_data(zm) + en->data_off; /* in bounds: tc_zip_open checked */
    uint64_t in_left = en->csize, produced = 0;
    uLong crc = crc32(0L, Z_NULL, 0);
    tc_status rc = TC_OK;
    int zr = Z_OK;
    while (zr != Z_STREAM_END && (fd >= 0 || produced < limit)) {
        if (s.avail_in == 0 && in_left > 0) {
            uInt take = in_left > (1u << 30) ? (1u << 30) : (uInt)in_left;
            s.next_in = (Bytef *)(uintptr_t)src;
            s.avail_in = take;
            src += take;
            in_left -= take;
        }
        s.next_out = buf;
        s.avail_out = NPZ_INFLATE_CHUNK;
        zr = inflate(&s, Z_NO_FLUSH);
        size_t got = NPZ_INFLATE_CHUNK - s.avail_out;
        if (zr != Z_OK && zr != Z_STREAM_END && !(zr == Z_BUF_ERROR && got > 0)) {
            rc = tc_err_set(e, TC_E_FORMAT,
                            "%s @%#" PRIx64 ": bad deflate data after %" PRIu64 " bytes (%s)", what,
                            en->data_off, produced,
                            s.msg ? s.msg : (zr == Z_BUF_ERROR ? "truncated" : "zlib error"));
            break;
        }
        if (got > en->usize - produced) {
            rc =
                tc_err_set(e, TC_E_FORMAT,
                           "%s @%#" PRIx64 ": inflates to more than its recorded %" PRIu64 " bytes",
                           what, en->data_off, en->usize);
            break;
        }
        if (fd >= 0) {
            crc = crc32(crc, buf, (uInt)got);
            if ((rc = npz_write_all(fd, buf, got, what, e)) != TC_OK)
                break;
        } else {
            size_t k = got < limit - produced ? got : (size_t)(limit - produced);
            memcpy(mem + produced, buf, k);
        }
        produced += got;
    }
    inflateEnd(&s);
    tc_free(buf);
    if (rc == TC_OK && fd >= 0 && produced != en->usize)
        rc = tc_err_set(e, TC_E_FORMAT,
                        "%s @%#" PRIx64 ": inflates to %" PRIu64 " bytes, recorded %" PRIu64, what,
                        en->data_off, produced, en->usize);
    if (rc == TC_OK && fd < 0 && produced < limit)
        rc = tc_err_set(e, TC_E_FORMAT,
                        "%s @%#" PRIx64 ": deflate stream ends after %" PRIu64 " bytes", what,
                        en->data_off, produced);
    if (rc == TC_OK && fd >= 0 && crc != en->crc32)
        rc = tc_err_set(e, TC_E_CHECKSUM,
                        "%s: CRC-32 of the inflated data is %08lx, the zip records %08x", what,
                        (unsigned long)crc, en->crc32);
    return rc;
}

/* Inflate a whole member into an unlinked temporary file and map it. */
static tc_status npz_inflate(const tc_map *zm, const tc_zip_entry *en, const char *what,
                             tc_map **out, tc_err *e)
{
    int fd = -1;
    TC_TRY(npz_tmpfile(what, en->usize, &fd, e));
    tc_status rc = npz_inflate_run(zm, en, what, fd, NULL, 0, e);
    if (rc == TC_OK) {
        char proc[64];
        snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
        rc = tc_map_open(proc, out, e);
    }
    close(fd);
    return rc;
}

/*
 * A deflated member is parsed from its inflated head at read time and inflated in full (into a
 * temporary file) only when its data is first asked for, so `inspect` stays cheap.
 */
typedef struct npz_lazy {
    pthread_mutex_t mu;
    tc_map *zm;      /* the zip */
    tc_zip_entry en; /* copy; name points at `what` */
    char *what;      /* "<zip path>:<member>" */
    int failed;      /* inflating failed once: fail the same way again */
    tc_status fail_code;
    char fail_msg[sizeof(((tc_err *)0)->msg)];
    npy_src src; /* src.m is the inflated file once done */
} npz_lazy;

static void npz_lazy_free(void *p)
{
    npz_lazy *l = p;
    pthread_mutex_destroy(&l->mu);
    tc_map_unref(l->zm);
    tc_map_unref(l->src.m);
    tc_free(l->what);
    tc_free(l);
}

static tc_status npz_lazy_read(void *ctx, const tc_tensor *t, uint64_t e0, uint64_t n, void *dst,
                               tc_err *e)
{
    npz_lazy *l = ctx;
    tc_status rc = TC_OK;
    pthread_mutex_lock(&l->mu);
    if (l->src.m == NULL && !l->failed) {
        tc_err e2 = {0};
        if ((rc = npz_inflate(l->zm, &l->en, l->what, &l->src.m, &e2)) != TC_OK) {
            /* bad data stays bad; out-of-memory or a full disk may pass, so try again later */
            l->failed = rc != TC_E_NOMEM && rc != TC_E_IO && rc != TC_E_LIMIT;
            l->fail_code = rc;
            memcpy(l->fail_msg, e2.msg, sizeof l->fail_msg);
        }
    }
    if (rc != TC_OK || l->failed)
        rc = tc_err_set(e, l->fail_code, "%s", l->fail_msg);
    pthread_mutex_unlock(&l->mu);
    TC_TRY(rc);
    return npy_src_read(&l->src, t, e0, n, dst, e);
}

static tc_status npz_deflated(tc_graph *g, const char *name, const tc_zip *z,
                              const tc_zip_entry *en, const char *what, tc_err *e)
{
    /* the preamble, then the whole header (bounded by the header cap) */
    uint8_t pre[12];
    uint64_t n0 = en->usize < 12 ? en->usize : 12, hl = 0;
    TC_TRY(npz_inflate_run(tc_zip_map(z), en, what, -1, pre, n0, e));
    if (n0 >= 10 && memcmp(pre, npy_magic, 6) == 0)
        hl = (pre[6] == 1 ? 10 + (uint64_t)tc_le16(pre + 8)
              : n0 >= 12  ? 12 + (uint64_t)tc_le32(pre + 8)
                          : 0);
    if (hl > 12 + NPY_MAX_HEADER)
        hl = 12; /* npy_parse reports the cap */
    if (hl > en->usize)
        hl = en->usize;
    if (hl < n0)
        hl = n0;
    uint8_t *head = tc_malloc((size_t)hl + 1);
    if (head == NULL)
        return tc_err_nomem(e);
    npy_hdr h;
    tc_status rc = npz_inflate_run(tc_zip_map(z), en, what, -1, head, hl, e);
    if (rc == TC_OK)
        rc = npy_parse(head, hl, en->usize, what, &h, e);
    tc_free(head);
    TC_TRY(rc);
    tc_tensor *t;
    TC_TRY(tc_graph_add_tensor(g, name, h.dtype, h.n_dims, h.shape, &t, e));
    npz_lazy *l = tc_calloc(1, sizeof *l);
    char *w = tc_strdup(what);
    if (l == NULL || w == NULL) {
        tc_free(l);
        tc_free(w);
        return tc_err_nomem(e);
    }
    pthread_mutex_init(&l->mu, NULL);
    l->zm = tc_map_ref(tc_zip_map(z));
    l->en = *en;
    l->en.name = w;
    l->what = w;
    npy_src_init(&l->src, &h, h.data_off);
    return tc_tensor_set_lazy(t, npz_lazy_read, l, npz_lazy_free, e);
}

static tc_status npz_member(tc_graph *g, const tc_zip *z, const tc_zip_entry *en, const char *what,
                            tc_err *e)
{
    size_t nl = strlen(en->name);
    char *name = tc_malloc(nl + 1);
    if (name == NULL)
        return tc_err_nomem(e);
    memcpy(name, en->name, nl - 4); /* caller checked the ".npy" suffix */
    name[nl - 4] = 0;
    tc_status rc;
    npy_hdr h;
    if (nl == 4) {
        rc = tc_err_set(e, TC_E_FORMAT, "%s: member has an empty array name", what);
    } else if (en->method == 0) {
        uint64_t off = 0;
        rc = tc_zip_stored_off(z, en, &off, e);
        if (rc == TC_OK)
            rc = npy_parse(tc_map_data(tc_zip_map(z)) + off, en->usize, en->usize, what, &h, e);
        if (rc == TC_OK)
            rc = npy_add(g, name, tc_zip_map(z), off, &h, e);
    } else {
        rc = npz_deflated(g, name, z, en, what, e);
    }
    tc_free(name);
    return rc;
}

/* A zip of "<name>.npy" members (np.savez stores them, np.savez_compressed deflates them). */
static tc_status npz_read(tc_map *m, tc_graph *g, tc_err *e)
{
    tc_zip *z;
    TC_TRY(tc_zip_open(m, &z, e));
    tc_status rc = tc_graph_set_format(g, "npz", NULL, e);
    size_t n_arrays = 0;
    const char *path = tc_map_path(m);
    char *what = NULL;
    for (size_t i = 0; rc == TC_OK && i < tc_zip_count(z); i++) {
        const tc_zip_entry *en = tc_zip_at(z, i);
        size_t nl = strlen(en->name);
        if (nl > 0 && en->name[nl - 1] == '/')
            continue; /* a directory entry */
        if (!tc_ends_with(en->name, ".npy")) {
            rc = tc_graph_add_note(g, e, "skipped npz member '%s' (not a .npy array)", en->name);
            continue;
        }
        tc_free(what);
        what = tc_malloc(strlen(path) + nl + 2);
        if (what == NULL) {
            rc = tc_err_nomem(e);
            break;
        }
        sprintf(what, "%s:%s", path, en->name);
        rc = npz_member(g, z, en, what, e);
        n_arrays++;
    }
    if (rc == TC_OK && n_arrays == 0)
        rc = tc_err_set(e, TC_E_FORMAT, "%s: the zip holds no .npy arrays", path);
    tc_free(what);
    tc_zip_free(z);
    return rc;
}

/* 1 when every file member of the zip is a .npy (what np.savez writes). */
static int npz_sniff(const uint8_t *head, size_t n, const char *path)
{
    (void)head;
    (void)n;
    tc_err e = {0};
    tc_map *m = NULL;
    tc_zip *z = NULL;
    int ok = 0;
    if (tc_map_open(path, &m, &e) == TC_OK && tc_zip_open(m, &z, &e) == TC_OK) {
        ok = tc_zip_count(z) > 0;
        for (size_t i = 0; ok && i < tc_zip_count(z); i++) {
            const char *nm = tc_zip_at(z, i)->name;
            size_t nl = strlen(nm);
            ok = tc_ends_with(nm, ".npy") || (nl > 0 && nm[nl - 1] == '/');
        }
    }
    tc_zip_free(z);
    tc_map_unref(m);
    return ok;
}

/* ===== vtable ===== */

static tc_status npy_read_map(tc_map *m, tc_graph *g, const tc_read_opts *opt, tc_err *e)
{
    (void)opt;
    const uint8_t *p = tc_map_data(m);
    uint64_t n = tc_map_size(m);
    if (n >= 6 && memcmp(p, npy_magic, 6) == 0)
        return npy_read_npy(m, g, e);
    if (tc_zip_sniff(p, (size_t)(n < 4 ? n : 4)))
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
    if (head && tc_zip_sniff(head, n) && path) {
        if (npz_sniff(head, n, path))
            return 100;
        if (tc_ends_with(path, ".npz"))
            return 20;
    }
    if (head && path && tc_ends_with(path, ".npy"))
        return 10;
    return 0;
}

static const char *const npy_exts[] = {".npy", ".npz", NULL};

const tc_format tc_format_npy = {"npy", npy_exts, npy_probe, npy_read, npy_read_map, NULL};
