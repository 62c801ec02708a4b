/*
 * gguf.c - GGUF v2/v3 reader and v3 writer, including split sets
 * (`<prefix>-00001-of-00003.gguf`, keys split.no / split.count / split.tensors.count).
 *
 * Layout (ggml docs/gguf.md; reader rules from ggml src/gguf.cpp):
 *   u32 magic "GGUF"; u32 version; u64 tensor_count; u64 kv_count
 *   kv[kv_count]           = string key; u32 type; value
 *   tensor_info[n_tensors] = string name; u32 n_dims; u64 ne[n_dims]; u32 ggml type; u64 offset
 *   zero padding to general.alignment (default 32), then the data section; offsets are relative
 *   to it and multiples of the alignment.
 * ne[] is innermost first; the graph is outermost first. Only this file knows about ne[] order.
 */
#include "tc_impl.h"

#include <xxhash.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define GGUF_MAGIC         "GGUF"
#define GGUF_MAX_DIMS      4  /* GGML_MAX_DIMS */
#define GGUF_MAX_NAME      64 /* GGML_MAX_NAME: names must be shorter */
#define GGUF_DEFAULT_ALIGN 32
#define GGUF_MAX_SPLITS    99999 /* five digits in the file name */

static const char *const gguf_exts[] = {".gguf", NULL};

static int gguf_probe(const uint8_t *head, size_t n, const char *path)
{
    if (head && n >= 4 && memcmp(head, GGUF_MAGIC, 4) == 0)
        return 100;
    return path && tc_ends_with(path, ".gguf") ? 10 : 0;
}

/* ===== Reading ===== */

/* Scratch allocations of one KV value (arrays), freed once the value is copied into the graph. */
typedef struct gguf_scratch {
    void **p;
    size_t n, cap;
} gguf_scratch;

static void *scratch_alloc(gguf_scratch *s, size_t bytes)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 16;
        void **np = tc_realloc(s->p, cap * sizeof *np);
        if (np == NULL)
            return NULL;
        s->p = np;
        s->cap = cap;
    }
    void *b = tc_malloc(bytes ? bytes : 1);
    if (b)
        s->p[s->n++] = b;
    return b;
}

static void scratch_reset(gguf_scratch *s)
{
    for (size_t i = 0; i < s->n; i++)
        tc_free(s->p[i]);
    s->n = 0;
}

static void scratch_free(gguf_scratch *s)
{
    scratch_reset(s);
    tc_free(s->p);
    s->p = NULL;
    s->cap = 0;
}

/* Parser state for one file. */
typedef struct gguf_rd {
    tc_cur c;
    const char *path;
    const char *key; /* the KV being read, for messages */
    gguf_scratch scratch;
} gguf_rd;

/* Smallest encoding of one element of type t (bounds array counts before allocating). */
static uint64_t gguf_min_size(uint32_t t)
{
    if (t == TC_V_STR)
        return 8;
    if (t == TC_V_ARR)
        return 12;
    return tc_vtype_size((tc_vtype)t);
}

/* A GGUF string: u64 length + bytes, a view into the file. */
static tc_status gguf_read_str(gguf_rd *r, tc_str *out, const char *what)
{
    uint64_t at = tc_cur_off(&r->c), len;
    const uint8_t *p = NULL;
    TC_TRY(tc_cur_u64(&r->c, &len));
    if (len > TC_GGUF_MAX_STRING)
        return tc_err_set(r->c.err, TC_E_LIMIT,
                          "%s @%#" PRIx64 ": %s: string of %" PRIu64 " bytes is over the cap of %u",
                          r->path, at, what, len, TC_GGUF_MAX_STRING);
    if (len > tc_cur_left(&r->c))
        return tc_err_set(r->c.err, TC_E_FORMAT,
                          "%s @%#" PRIx64 ": %s: string of %" PRIu64
                          " bytes runs past the end of the file (%" PRIu64 " bytes left)",
                          r->path, at, what, len, tc_cur_left(&r->c));
    TC_TRY(tc_cur_take(&r->c, len, &p));
    out->p = (const char *)p;
    out->len = len;
    return TC_OK;
}

static tc_status gguf_read_value(gguf_rd *r, uint32_t type, int depth, tc_value *v);

/* The element data of an array of `elem` with `n` elements (count already read). */
static tc_status gguf_read_array(gguf_rd *r, uint32_t elem, uint64_t n, int depth, uint64_t at,
                                 tc_value *v)
{
    tc_err *e = r->c.err;
    if (elem >= TC_V_COUNT)
        return tc_err_set(e, TC_E_FORMAT,
                          "%s @%#" PRIx64 ": key '%s': unknown array element type %u", r->path, at,
                          r->key, elem);
    if (elem == TC_V_ARR && depth + 1 >= TC_MAX_NEST)
        return tc_err_set(e, TC_E_LIMIT,
                          "%s @%#" PRIx64 ": key '%s': arrays nested deeper than %d levels",
                          r->path, at, r->key, TC_MAX_NEST);
    if (n > TC_GGUF_MAX_ARRAY)
        return tc_err_set(e, TC_E_LIMIT,
                          "%s @%#" PRIx64 ": key '%s': array of %" PRIu64
                          " elements is over the cap of %u",
                          r->path, at, r->key, n, TC_GGUF_MAX_ARRAY);
    uint64_t need;
    if (!tc_mul_ok(n, gguf_min_size(elem), &need) || need > tc_cur_left(&r->c))
        return tc_err_set(e, TC_E_FORMAT,
                          "%s @%#" PRIx64 ": key '%s': array of %" PRIu64 " %s elements needs more "
                          "than the %" PRIu64 " bytes left in the file",
                          r->path, at, r->key, n, tc_vtype_name((tc_vtype)elem),
                          tc_cur_left(&r->c));
    v->type = TC_V_ARR;
    v->arr.elem = (tc_vtype)elem;
    v->arr.n = n;
    v->arr.data = NULL;
    if (elem != TC_V_STR && elem != TC_V_ARR) {
        const uint8_t *p = NULL;
        TC_TRY(tc_cur_take(&r->c, need, &p));
        if (elem == TC_V_BOOL)
            for (uint64_t i = 0; i < n; i++)
                if (p[i] > 1)
                    return tc_err_set(e, TC_E_FORMAT,
                                      "%s @%#" PRIx64 ": key '%s': bool element %" PRIu64
                                      " is %u (must be 0 or 1)",
                                      r->path, at, r->key, i, p[i]);
        v->arr.data = p; /* packed little-endian, exactly the graph's array layout */
        return TC_OK;
    }
    if (n == 0)
        return TC_OK;
    if (elem == TC_V_STR) {
        tc_str *s = scratch_alloc(&r->scratch, (size_t)n * sizeof *s);
        if (s == NULL)
            return tc_err_nomem(e);
        for (uint64_t i = 0; i < n; i++)
            TC_TRY(gguf_read_str(r, &s[i], "string array element"));
        v->arr.data = s;
        return TC_OK;
    }
    tc_value *a = scratch_alloc(&r->scratch, (size_t)n * sizeof *a);
    if (a == NULL)
        return tc_err_nomem(e);
    for (uint64_t i = 0; i < n; i++)
        TC_TRY(gguf_read_value(r, TC_V_ARR, depth + 1, &a[i]));
    v->arr.data = a;
    return TC_OK;
}

/* One value of `type` (the type field already read). */
static tc_status gguf_read_value(gguf_rd *r, uint32_t type, int depth, tc_value *v)
{
    uint64_t at = tc_cur_off(&r->c);
    const uint8_t *p = NULL;
    memset(v, 0, sizeof *v);
    v->type = (tc_vtype)type;
    switch (type) {
    case TC_V_U8:
    case TC_V_BOOL:
    case TC_V_I8:
    case TC_V_U16:
    case TC_V_I16:
    case TC_V_U32:
    case TC_V_I32:
    case TC_V_U64:
    case TC_V_I64:
    case TC_V_F32:
    case TC_V_F64:
        TC_TRY(tc_cur_take(&r->c, tc_vtype_size((tc_vtype)type), &p));
        if (type == TC_V_BOOL && p[0] > 1)
            return tc_err_set(r->c.err, TC_E_FORMAT,
                              "%s @%#" PRIx64 ": key '%s': bool value %u (must be 0 or 1)", r->path,
                              at, r->key, p[0]);
        *v = tc_value_load((tc_vtype)type, p);
        return TC_OK;
    case TC_V_STR:
        return gguf_read_str(r, &v->s, "string value");
    case TC_V_ARR: {
        uint32_t elem;
        uint64_t n;
        TC_TRY(tc_cur_u32(&r->c, &elem));
        TC_TRY(tc_cur_u64(&r->c, &n));
        return gguf_read_array(r, elem, n, depth, at, v);
    }
    default:
        return tc_err_set(r->c.err, TC_E_FORMAT,
                          "%s @%#" PRIx64 ": key '%s': unknown value type %u", r->path, at, r->key,
                          type);
    }
}

/* One tensor info as stored. */
typedef struct gguf_tinfo {
    char *name;
    uint32_t n_dims;
    int64_t ne[GGUF_MAX_DIMS]; /* innermost first */
    uint32_t type;
    uint64_t offset; /* relative to the data section */
    uint64_t nbytes;
    uint64_t at;   /* file offset of the info, for messages */
    tc_tensor *tt; /* its tensor in the graph */
} gguf_tinfo;

/*
 * A later part of a split set written with provenance records the xxh64 of its own tensors
 * (see gguf_header): append them to the list part 1 gave, so the graph holds one digest per
 * tensor in order, as for a single file. Anything else about them is left to verify.
 */
static tc_status gguf_append_digests(tc_graph *g, const tc_graph *part_kv, tc_err *e)
{
    const char *key = TC_PROV_PREFIX "tensor_xxh64";
    const tc_value *add = tc_graph_get(part_kv, key), *have = tc_graph_get(g, key);
    if (add == NULL || have == NULL || add->type != TC_V_ARR || have->type != TC_V_ARR ||
        add->arr.elem != TC_V_U64 || have->arr.elem != TC_V_U64 || add->arr.n == 0)
        return TC_OK;
    uint64_t n = have->arr.n + add->arr.n;
    if (n < have->arr.n || n > SIZE_MAX / 8)
        return tc_err_set(e, TC_E_LIMIT, "split set: too many tensor digests");
    uint64_t *all = tc_malloc((size_t)n * 8);
    if (all == NULL)
        return tc_err_nomem(e);
    memcpy(all, have->arr.data, (size_t)have->arr.n * 8);
    memcpy(all + have->arr.n, add->arr.data, (size_t)add->arr.n * 8);
    tc_value v = {.type = TC_V_ARR, .arr = {TC_V_U64, n, all}};
    tc_status rc = tc_graph_set(g, key, &v, e);
    tc_free(all);
    return rc;
}

/* What a file says about the split set it belongs to. */
typedef struct gguf_split {
    int has;         /* split.count present */
    uint64_t no;     /* split.no (0-based) */
    uint64_t count;  /* split.count */
    int64_t tensors; /* split.tensors.count */
    int has_no, has_tensors;
} gguf_split;

static int gguf_is_split_key(const char *k)
{
    return strncmp(k, "split.", 6) == 0;
}

static int cmp_by_offset(const void *a, const void *b, void *ctx)
{
    const gguf_tinfo *t = ctx;
    uint64_t x = t[*(const size_t *)a].offset, y = t[*(const size_t *)b].offset;
    return x < y ? -1 : x > y;
}

/* Tensor indices in data-offset order, for the overlap check. A merge sort: it is stable (equal
 * offsets keep file order, so the error names the same pair on every libc), which qsort is not,
 * and it takes the tensor table without qsort_r. */
static void sort_idx(size_t *idx, size_t *tmp, size_t n, const gguf_tinfo *ti)
{
    if (n < 2)
        return;
    size_t h = n / 2;
    sort_idx(idx, tmp, h, ti);
    sort_idx(idx + h, tmp, n - h, ti);
    size_t i = 0, j = h, k = 0;
    while (i < h && j < n)
        tmp[k++] = cmp_by_offset(&idx[j], &idx[i], (void *)ti) < 0 ? idx[j++] : idx[i++];
    while (i < h)
        tmp[k++] = idx[i++];
    while (j < n)
        tmp[k++] = idx[j++];
    memcpy(idx, tmp, n * sizeof *idx);
}

/*
 * Parse one GGUF file held in `m` and add its tensors (mapped in place) to `g`. When `with_kv`
 * is set its metadata goes into `g` (in file order, minus split.* keys when `drop_split`);
 * otherwise KVs are only checked. The split.* keys are returned in `sp`; the version in `ver`.
 */
/* The fixed header: magic, version (2 or 3, little-endian), tensor and KV counts within their
 * caps and within the bytes left. */
static tc_status gguf_parse_header(gguf_rd *r, tc_map *m, uint32_t *ver, uint64_t *n_tensors,
                                   uint64_t *n_kv, tc_err *e)
{
    uint32_t version;
    if (tc_map_size(m) == 0)
        return tc_err_set(e, TC_E_FORMAT, "%s: empty file (a GGUF file starts with 'GGUF')",
                          r->path);
    if (tc_map_size(m) < 4 || memcmp(tc_map_data(m), GGUF_MAGIC, 4) != 0) {
        const uint8_t *d = tc_map_data(m);
        size_t n = tc_map_size(m) < 4 ? (size_t)tc_map_size(m) : 4;
        char shown[5] = {0};
        for (size_t i = 0; i < n && i < sizeof shown - 1; i++)
            shown[i] = (d[i] >= 0x20 && d[i] < 0x7f) ? (char)d[i] : '?';
        return tc_err_set(e, TC_E_FORMAT, "%s @0: bad magic '%s' (a GGUF file starts with 'GGUF')",
                          r->path, shown);
    }
    r->c.p += 4;
    TC_TRY(tc_cur_u32(&r->c, &version));
    if ((version & 0xffffu) == 0 && version != 0) {
        uint32_t sw = __builtin_bswap32(version);
        return tc_err_set(e, TC_E_UNSUPPORTED,
                          "%s @0x4: big-endian GGUF (version %u stored byte-swapped) is not "
                          "supported; convert it with gguf_convert_endian.py",
                          r->path, sw);
    }
    if (version == 1)
        return tc_err_set(e, TC_E_UNSUPPORTED,
                          "%s @0x4: GGUF version 1 is not supported (only versions 2 and 3)",
                          r->path);
    if (version < 2 || version > 3)
        return tc_err_set(e, TC_E_UNSUPPORTED,
                          "%s @0x4: GGUF version %u is not supported (only versions 2 and 3)",
                          r->path, version);
    *ver = version;
    TC_TRY(tc_cur_u64(&r->c, n_tensors));
    TC_TRY(tc_cur_u64(&r->c, n_kv));
    if (*n_tensors > TC_GGUF_MAX_TENSORS)
        return tc_err_set(e, TC_E_LIMIT, "%s @0x8: %" PRIu64 " tensors is over the cap of %u",
                          r->path, *n_tensors, TC_GGUF_MAX_TENSORS);
    if (*n_kv > TC_GGUF_MAX_KV)
        return tc_err_set(e, TC_E_LIMIT,
                          "%s @0x10: %" PRIu64 " key/value pairs is over the cap of %u", r->path,
                          *n_kv, TC_GGUF_MAX_KV);
    /* smallest KV: 8-byte length, 1-byte key, u32 type, 1-byte value; smallest tensor info:
     * 8-byte length, 1-byte name, u32 n_dims, u32 type, u64 offset */
    uint64_t need_kv, need_ti, need;
    if (!tc_mul_ok(*n_kv, 14, &need_kv) || !tc_mul_ok(*n_tensors, 25, &need_ti) ||
        !tc_add_ok(need_kv, need_ti, &need) || need > tc_cur_left(&r->c))
        return tc_err_set(e, TC_E_FORMAT,
                          "%s @0x8: %" PRIu64 " tensors and %" PRIu64
                          " key/value pairs cannot fit in the %" PRIu64 " bytes left",
                          r->path, *n_tensors, *n_kv, tc_cur_left(&r->c));
    return TC_OK;
}

static tc_status gguf_parse(tc_map *m, tc_graph *g, int with_kv, int drop_split, gguf_split *sp,
                            uint32_t *ver, tc_err *e)
{
    gguf_rd r;
    memset(&r, 0, sizeof r);
    r.path = tc_map_path(m);
    tc_cur_init(&r.c, tc_map_data(m), tc_map_size(m), r.path, e);
    memset(sp, 0, sizeof *sp);
    tc_graph *kvg = NULL; /* KVs of a part whose metadata is not kept: checked for duplicates */
    gguf_tinfo *ti = NULL;
    size_t *idx = NULL, *tmp = NULL;
    uint64_t n_tensors = 0, n_kv = 0, n_ti = 0;
    tc_status rc = TC_OK;
    char *keybuf = NULL;

    TC_TRY(gguf_parse_header(&r, m, ver, &n_tensors, &n_kv, e));

    /* ---- key/value pairs ---- */
    tc_graph *dst = g;
    if (!with_kv) {
        kvg = tc_graph_new();
        if (kvg == NULL)
            return tc_err_nomem(e);
        dst = kvg;
    }
    uint32_t alignment = GGUF_DEFAULT_ALIGN;
    _Static_assert(TC_MAX_KEY == 65535, "the messages below say 65535");
    keybuf = tc_malloc(TC_MAX_KEY + 1);
    TC_FAIL_IF(keybuf == NULL, TC_E_NOMEM, "out of memory");
    for (uint64_t i = 0; i < n_kv; i++) {
        uint64_t at = tc_cur_off(&r.c);
        tc_str k;
        uint32_t type;
        tc_value v;
        r.key = "?";
        TC_TRY_GOTO(gguf_read_str(&r, &k, "key"));
        TC_FAIL_IF(k.len == 0 || k.len > TC_MAX_KEY || memchr(k.p, 0, (size_t)k.len) != NULL,
                   TC_E_FORMAT, "%s @%#" PRIx64 ": key %" PRIu64 " is %s", r.path, at, i,
                   k.len == 0           ? "empty"
                   : k.len > TC_MAX_KEY ? "longer than 65535 bytes"
                                        : "holding a NUL byte");
        memcpy(keybuf, k.p, (size_t)k.len);
        keybuf[k.len] = 0;
        r.key = keybuf;
        TC_FAIL_IF(tc_graph_get(dst, keybuf) != NULL, TC_E_FORMAT,
                   "%s @%#" PRIx64 ": duplicate key '%s'", r.path, at, keybuf);
        TC_TRY_GOTO(tc_cur_u32(&r.c, &type));
        TC_TRY_GOTO(gguf_read_value(&r, type, 0, &v));
        if (strcmp(keybuf, "general.alignment") == 0) {
            if (v.type != TC_V_U32 || v.u == 0 || (v.u & (v.u - 1)) != 0 ||
                v.u > TC_GGUF_MAX_ALIGN) {
                rc = tc_err_set(
                    e, v.type == TC_V_U32 && v.u > TC_GGUF_MAX_ALIGN ? TC_E_LIMIT : TC_E_FORMAT,
                    "%s @%#" PRIx64 ": general.alignment must be a u32 power of two "
                    "<= %u (got %s %" PRIu64 ")",
                    r.path, at, TC_GGUF_MAX_ALIGN, tc_vtype_name(v.type),
                    v.type == TC_V_U32 ? v.u : 0);
                goto fail;
            }
            alignment = (uint32_t)v.u;
        }
        if (gguf_is_split_key(keybuf)) {
            uint64_t u;
            int64_t s;
            int is_int = tc_value_to_u64(&v, &u), is_sint = tc_value_to_i64(&v, &s);
            int known = strcmp(keybuf, "split.no") == 0 || strcmp(keybuf, "split.count") == 0 ||
                        strcmp(keybuf, "split.tensors.count") == 0;
            TC_FAIL_IF(known && (v.type == TC_V_BOOL || (!is_int && !is_sint)), TC_E_FORMAT,
                       "%s @%#" PRIx64 ": %s must be an integer, not %s", r.path, at, keybuf,
                       tc_vtype_name(v.type));
            if (strcmp(keybuf, "split.no") == 0) {
                sp->has_no = is_int;
                sp->no = is_int ? u : UINT64_MAX;
            } else if (strcmp(keybuf, "split.count") == 0) {
                sp->has = 1;
                sp->count = is_int ? u : 0;
            } else if (strcmp(keybuf, "split.tensors.count") == 0) {
                sp->has_tensors = 1;
                sp->tensors = is_sint ? s : -1;
            }
        }
        rc = tc_graph_set(dst, keybuf, &v, e);
        scratch_reset(&r.scratch);
        if (rc != TC_OK)
            goto fail;
    }
    if (!with_kv && (rc = gguf_append_digests(g, kvg, e)) != TC_OK)
        goto fail;
    if (with_kv && drop_split) {
        /* bookkeeping of the file layout, not of the model */
        for (size_t i = tc_graph_n_kv(g); i-- > 0;)
            if (gguf_is_split_key(tc_graph_kv_key(g, i)))
                tc_graph_del(g, tc_graph_kv_key(g, i));
    }

    /* ---- tensor infos ---- */
    ti = tc_calloc(n_tensors ? (size_t)n_tensors : 1, sizeof *ti);
    TC_FAIL_IF(ti == NULL, TC_E_NOMEM, "out of memory");
    while (n_ti < n_tensors) {
        gguf_tinfo *t = &ti[n_ti++]; /* counted now: the cleanup frees its name */
        tc_str nm;
        t->at = tc_cur_off(&r.c);
        TC_TRY_GOTO(gguf_read_str(&r, &nm, "tensor name"));
        if (nm.len == 0 || nm.len >= TC_MAX_NAME || memchr(nm.p, 0, (size_t)nm.len) ||
            !tc_utf8_valid(nm.p, (size_t)nm.len)) {
            rc =
                tc_err_set(e, nm.len >= TC_MAX_NAME ? TC_E_LIMIT : TC_E_FORMAT,
                           "%s @%#" PRIx64 ": tensor %" PRIu64 ": name %s", r.path, t->at, n_ti - 1,
                           nm.len == 0                       ? "is empty"
                           : nm.len >= TC_MAX_NAME           ? "is too long"
                           : memchr(nm.p, 0, (size_t)nm.len) ? "holds a NUL byte"
                                                             : "is not valid UTF-8");
            goto fail;
        }
        t->name = tc_malloc((size_t)nm.len + 1);
        TC_FAIL_IF(t->name == NULL, TC_E_NOMEM, "out of memory");
        memcpy(t->name, nm.p, (size_t)nm.len);
        t->name[nm.len] = 0;
        TC_FAIL_IF(tc_graph_find(g, t->name) != NULL, TC_E_FORMAT,
                   "%s @%#" PRIx64 ": duplicate tensor name '%s'", r.path, t->at, t->name);
        uint64_t here = tc_cur_off(&r.c);
        TC_TRY_GOTO(tc_cur_u32(&r.c, &t->n_dims));
        TC_FAIL_IF(t->n_dims > GGUF_MAX_DIMS, TC_E_FORMAT,
                   "%s @%#" PRIx64 ": tensor '%s': %u dimensions (GGUF allows at most %d)", r.path,
                   here, t->name, t->n_dims, GGUF_MAX_DIMS);
        uint64_t count = 1;
        int overflow = 0;
        for (uint32_t d = 0; d < t->n_dims; d++) {
            uint64_t x;
            here = tc_cur_off(&r.c);
            TC_TRY_GOTO(tc_cur_u64(&r.c, &x));
            TC_FAIL_IF(x > (uint64_t)INT64_MAX, TC_E_FORMAT,
                       "%s @%#" PRIx64 ": tensor '%s': ne[%u] = %" PRId64 " < 0", r.path, here,
                       t->name, d, (int64_t)x);
            t->ne[d] = (int64_t)x;
            if (!tc_mul_ok(count, x, &count) || count > (uint64_t)INT64_MAX)
                overflow = 1;
        }
        /* a zero dimension makes the product 0 whatever came before */
        for (uint32_t d = 0; d < t->n_dims; d++)
            if (t->ne[d] == 0)
                overflow = 0, count = 0;
        TC_FAIL_IF(overflow, TC_E_FORMAT, "%s @%#" PRIx64 ": tensor '%s': element count overflows",
                   r.path, t->at, t->name);
        here = tc_cur_off(&r.c);
        TC_TRY_GOTO(tc_cur_u32(&r.c, &t->type));
        const tc_dtype_info *di = t->type < TC_DTYPE_GGML_COUNT ? tc_dtype_get((int)t->type) : NULL;
        TC_FAIL_IF(di == NULL, TC_E_UNSUPPORTED,
                   "%s @%#" PRIx64 ": tensor '%s': unknown or retired ggml type id %u", r.path,
                   here, t->name, t->type);
        int64_t ne0 = t->n_dims ? t->ne[0] : 1;
        TC_FAIL_IF(ne0 % di->blck != 0, TC_E_FORMAT,
                   "%s @%#" PRIx64 ": tensor '%s': ne[0] = %" PRId64
                   " is not a multiple of the %s block size %u",
                   r.path, t->at, t->name, ne0, di->name, di->blck);
        t->nbytes = count ? tc_row_size((int)t->type, (int64_t)count) : 0;
        TC_FAIL_IF(count && t->nbytes == 0, TC_E_FORMAT,
                   "%s @%#" PRIx64 ": tensor '%s': byte size overflows", r.path, t->at, t->name);
        TC_TRY_GOTO(tc_cur_u64(&r.c, &t->offset));
        /* into the graph now (its name index catches duplicates in O(1)); the data source is
         * set once the data section is known. Shapes outermost first. */
        int64_t shape[GGUF_MAX_DIMS];
        for (uint32_t d = 0; d < t->n_dims; d++)
            shape[d] = t->ne[t->n_dims - 1 - d];
        TC_TRY_GOTO(
            tc_graph_add_tensor(g, t->name, (int)t->type, (int)t->n_dims, shape, &t->tt, e));
    }

    /* ---- data section: starts at the aligned end of the header ---- */
    uint64_t hdr_end = tc_cur_off(&r.c), size = tc_map_size(m);
    uint64_t data_off = (hdr_end + alignment - 1) / alignment * alignment;
    uint64_t data_len = data_off <= size ? size - data_off : 0;
    TC_FAIL_IF(n_tensors > 0 && data_off > size, TC_E_FORMAT,
               "%s @%#" PRIx64 ": truncated: the data section should start at %#" PRIx64
               " but the file has %" PRIu64 " bytes",
               r.path, hdr_end, data_off, size);
    for (uint64_t i = 0; i < n_tensors; i++) {
        gguf_tinfo *t = &ti[i];
        uint64_t end;
        TC_FAIL_IF(t->offset % alignment != 0, TC_E_FORMAT,
                   "%s @%#" PRIx64 ": tensor '%s': offset %" PRIu64
                   " is not a multiple of the alignment %u",
                   r.path, t->at, t->name, t->offset, alignment);
        TC_FAIL_IF(!tc_add_ok(t->offset, t->nbytes, &end) || end > data_len, TC_E_FORMAT,
                   "%s @%#" PRIx64 ": tensor '%s': data [%" PRIu64 ", +%" PRIu64
                   ") is outside the data section (%" PRIu64 " bytes at %#" PRIx64 ")",
                   r.path, t->at, t->name, t->offset, t->nbytes, data_len, data_off);
    }
    if (n_tensors > 1) {
        idx = tc_malloc((size_t)n_tensors * sizeof *idx);
        tmp = tc_malloc((size_t)n_tensors * sizeof *tmp);
        TC_FAIL_IF(idx == NULL || tmp == NULL, TC_E_NOMEM, "out of memory");
        for (size_t i = 0; i < n_tensors; i++)
            idx[i] = i;
        sort_idx(idx, tmp, (size_t)n_tensors, ti);
        for (size_t i = 1; i < n_tensors; i++) {
            const gguf_tinfo *a = &ti[idx[i - 1]], *b = &ti[idx[i]];
            TC_FAIL_IF(a->nbytes > 0 && b->nbytes > 0 && a->offset + a->nbytes > b->offset,
                       TC_E_FORMAT,
                       "%s @%#" PRIx64 ": tensor '%s': data at %" PRIu64
                       " overlaps tensor '%s' ([%" PRIu64 ", +%" PRIu64 "))",
                       r.path, b->at, b->name, b->offset, a->name, a->offset, a->nbytes);
        }
    }

    /* ---- map the data in place ---- */
    for (uint64_t i = 0; i < n_tensors; i++)
        TC_TRY_GOTO(tc_tensor_set_mapped(ti[i].tt, m, data_off + ti[i].offset, e));

fail:
    for (uint64_t i = 0; i < n_ti && ti; i++)
        tc_free(ti[i].name);
    tc_free(ti);
    tc_free(idx);
    tc_free(tmp);
    scratch_free(&r.scratch);
    tc_graph_free(kvg);
    tc_free(keybuf);
    return rc;
}

/* Record the licence's origin when the file carries one. */
static tc_status gguf_note_license(tc_graph *g, tc_err *e)
{
    tc_license l;
    tc_graph_license(g, &l);
    if (l.id || l.name || l.link)
        return tc_graph_set_license(g, NULL, NULL, NULL, "GGUF general.license", e);
    return TC_OK;
}

/* A lone file (or an in-memory one) must not be one part of a larger set. */
static tc_status gguf_check_lone(const char *path, const gguf_split *sp, tc_err *e)
{
    if (sp->has && sp->count > 1)
        return tc_err_set(e, TC_E_FORMAT,
                          "%s: this is part %" PRIu64 " of a split set of %" PRIu64
                          " files, but its name does not follow <prefix>-%%05d-of-%%05d.gguf, so "
                          "the other parts cannot be found",
                          path, sp->no + 1, sp->count);
    return TC_OK;
}

static tc_status gguf_read_map(tc_map *m, tc_graph *g, const tc_read_opts *opt, tc_err *e)
{
    (void)opt;
    gguf_split sp;
    uint32_t ver = 0;
    TC_TRY(gguf_parse(m, g, 1, 1, &sp, &ver, e));
    TC_TRY(gguf_check_lone(tc_map_path(m), &sp, e));
    TC_TRY(tc_graph_set_format(g, "gguf", ver == 2 ? "2" : "3", e));
    return gguf_note_license(g, e);
}

/* `<prefix>-NNNNN-of-MMMMM.gguf`: fills the prefix length, part (1-based) and count. */
static int gguf_split_name(const char *path, size_t *prefix_len, unsigned *no, unsigned *count)
{
    size_t n = strlen(path);
    static const char tail[] = "-00000-of-00000.gguf";
    size_t tl = sizeof tail - 1;
    if (n < tl)
        return 0;
    const char *s = path + n - tl;
    unsigned a = 0, b = 0;
    for (size_t i = 0; i < tl; i++) {
        if (tail[i] == '0') {
            if (s[i] < '0' || s[i] > '9')
                return 0;
            if (i < 6)
                a = a * 10 + (unsigned)(s[i] - '0');
            else
                b = b * 10 + (unsigned)(s[i] - '0');
        } else if (s[i] != tail[i]) {
            return 0;
        }
    }
    if (a == 0 || b == 0 || a > b)
        return 0;
    *prefix_len = n - tl;
    *no = a;
    *count = b;
    return 1;
}

static tc_status gguf_read(const char *path, tc_graph *g, const tc_read_opts *opt, tc_err *e)
{
    size_t plen;
    unsigned no, count;
    if (!gguf_split_name(path, &plen, &no, &count)) {
        tc_map *m;
        TC_TRY(tc_map_open(path, &m, e));
        tc_status rc = gguf_read_map(m, g, opt, e);
        if (rc == TC_OK)
            rc = tc_graph_add_source(g, path, tc_map_size(m), e);
        tc_map_unref(m);
        return rc;
    }

    /* a split set: read every part, whichever one was named */
    char *part = tc_malloc(plen + 32);
    if (part == NULL)
        return tc_err_nomem(e);
    tc_status rc = TC_OK;
    uint64_t total = 0;
    uint32_t ver = 3;
    for (unsigned i = 1; i <= count && rc == TC_OK; i++) {
        snprintf(part, plen + 32, "%.*s-%05u-of-%05u.gguf", (int)plen, path, i, count);
        if (access(part, F_OK) != 0) {
            rc = tc_err_set(e, errno == ENOENT ? TC_E_FORMAT : TC_E_IO,
                            "%s: split set of %u files is incomplete: part %u is missing (%s)",
                            path, count, i, part);
            break;
        }
        tc_map *m;
        if ((rc = tc_map_open(part, &m, e)) != TC_OK)
            break;
        gguf_split sp;
        uint32_t v = 0;
        rc = gguf_parse(m, g, i == 1, 1, &sp, &v, e);
        if (rc == TC_OK && i == 1)
            ver = v;
        if (rc == TC_OK && count > 1 && (!sp.has || !sp.has_no || !sp.has_tensors))
            rc = tc_err_set(e, TC_E_FORMAT,
                            "%s: part %u of a split set lacks split.no, split.count or "
                            "split.tensors.count",
                            part, i);
        if (rc == TC_OK && sp.has && sp.count != count)
            rc = tc_err_set(e, TC_E_FORMAT,
                            "%s: split.count is %" PRIu64 " but the file name says %u parts", part,
                            sp.count, count);
        if (rc == TC_OK && sp.has_no && sp.no != i - 1)
            rc = tc_err_set(e, TC_E_FORMAT,
                            "%s: split.no is %" PRIu64 " but the file name says part %u (split.no "
                            "%u)",
                            part, sp.no, i, i - 1);
        if (rc == TC_OK && sp.has_tensors) {
            if (total == 0 && i == 1)
                total = (uint64_t)(sp.tensors < 0 ? 0 : sp.tensors);
            if (sp.tensors < 0 || (uint64_t)sp.tensors != total)
                rc = tc_err_set(e, TC_E_FORMAT,
                                "%s: split.tensors.count is %" PRId64 " but part 1 says %" PRIu64,
                                part, sp.tensors, total);
        }
        if (rc == TC_OK)
            rc = tc_graph_add_source(g, part, tc_map_size(m), e);
        tc_map_unref(m);
    }
    if (rc == TC_OK && count > 1 && tc_graph_n_tensors(g) != total)
        rc = tc_err_set(e, TC_E_FORMAT,
                        "%s: split.tensors.count is %" PRIu64 " but the %u parts hold %zu tensors",
                        path, total, count, tc_graph_n_tensors(g));
    tc_free(part);
    TC_TRY(rc);
    TC_TRY(tc_graph_set_format(g, "gguf", ver == 2 ? "2" : "3", e));
    return gguf_note_license(g, e);
}

/* ===== Writing ===== */

/* A growable byte buffer for one header. */
typedef struct gguf_buf {
    uint8_t *p;
    size_t n, cap;
    int oom;
} gguf_buf;

static void buf_put(gguf_buf *b, const void *d, size_t n)
{
    if (b->oom)
        return;
    if (b->cap - b->n < n) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap - b->n < n)
            cap *= 2;
        uint8_t *np = tc_realloc(b->p, cap);
        if (np == NULL) {
            b->oom = 1;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->n, d, n);
    b->n += n;
}

static void buf_u32(gguf_buf *b, uint32_t v)
{
    uint8_t x[4];
    tc_put32(x, v);
    buf_put(b, x, 4);
}

static void buf_u64(gguf_buf *b, uint64_t v)
{
    uint8_t x[8];
    tc_put64(x, v);
    buf_put(b, x, 8);
}

static void buf_str(gguf_buf *b, const char *s, uint64_t n)
{
    buf_u64(b, n);
    buf_put(b, s, (size_t)n);
}

/* One scalar (not STR/ARR) in its GGUF encoding. */
static void buf_scalar(gguf_buf *b, const tc_value *v)
{
    uint8_t x[8];
    switch (v->type) {
    case TC_V_U8:
        x[0] = (uint8_t)v->u;
        buf_put(b, x, 1);
        break;
    case TC_V_BOOL:
        x[0] = v->u != 0;
        buf_put(b, x, 1);
        break;
    case TC_V_I8:
        x[0] = (uint8_t)(int8_t)v->i;
        buf_put(b, x, 1);
        break;
    case TC_V_U16:
        tc_put16(x, (uint16_t)v->u);
        buf_put(b, x, 2);
        break;
    case TC_V_I16:
        tc_put16(x, (uint16_t)(int16_t)v->i);
        buf_put(b, x, 2);
        break;
    case TC_V_U32:
        buf_u32(b, (uint32_t)v->u);
        break;
    case TC_V_I32:
        buf_u32(b, (uint32_t)(int32_t)v->i);
        break;
    case TC_V_U64:
        buf_u64(b, v->u);
        break;
    case TC_V_I64:
        buf_u64(b, (uint64_t)v->i);
        break;
    case TC_V_F32: {
        float f = (float)v->f;
        uint32_t u;
        memcpy(&u, &f, 4);
        buf_u32(b, u);
        break;
    }
    case TC_V_F64: {
        uint64_t u;
        memcpy(&u, &v->f, 8);
        buf_u64(b, u);
        break;
    }
    default:
        break;
    }
}

static void buf_kv(gguf_buf *b, const char *key, const tc_value *v)
{
    buf_str(b, key, strlen(key));
    buf_u32(b, (uint32_t)v->type);
    if (v->type == TC_V_STR) {
        buf_str(b, v->s.p, v->s.len);
    } else if (v->type == TC_V_ARR) {
        buf_u32(b, (uint32_t)v->arr.elem);
        buf_u64(b, v->arr.n);
        if (v->arr.elem == TC_V_STR) {
            const tc_str *s = v->arr.data;
            for (uint64_t i = 0; i < v->arr.n; i++)
                buf_str(b, s[i].p, s[i].len);
        } else if (v->arr.n) {
            if (v->arr.elem == TC_V_BOOL) {
                const uint8_t *d = v->arr.data;
                for (uint64_t i = 0; i < v->arr.n; i++) {
                    uint8_t x = d[i] != 0;
                    buf_put(b, &x, 1);
                }
            } else {
                buf_put(b, v->arr.data, (size_t)(v->arr.n * tc_vtype_size(v->arr.elem)));
            }
        }
    } else {
        buf_scalar(b, v);
    }
}

static uint64_t pad_to(uint64_t x, uint64_t a)
{
    return (x + a - 1) / a * a;
}

/* One output file: tensors [t0, t1) of the graph. */
typedef struct gguf_part {
    size_t t0, t1;
    char *path;
    tc_out *out;
    int mine;         /* written by this run (tc_write_opts.part_index) */
    uint64_t xxh_off; /* where the tensor digests' value sits in the header */
} gguf_part;

/* The provenance digests of part `pt`'s tensors: a view of the whole list. */
static tc_value part_digests(const tc_prov *prov, const gguf_part *pt)
{
    tc_value v = *tc_prov_value(prov, TC_PROV_XXH);
    v.arr.data = (const uint64_t *)v.arr.data + pt->t0;
    v.arr.n = pt->t1 - pt->t0;
    return v;
}

/*
 * Build the header of part `pi` of `np` (np == 1: a plain file without split.* keys). With
 * provenance, part 0 carries its keys and every part the xxh64 of its own tensors (so parts
 * can be written on different machines: see tc_write_opts.part_index); `prov_off` gets the
 * offsets of the values patched at the end (the source digests in part 0, and the part's
 * tensor digests at TC_PROV_XXH).
 */
static tc_status gguf_header(const tc_graph *g, const gguf_part *parts, size_t pi, size_t np,
                             uint32_t alignment, int add_align, const tc_prov *prov,
                             uint64_t prov_off[TC_PROV_N_KV], gguf_buf *b, tc_err *e)
{
    const gguf_part *pt = &parts[pi];
    size_t n_kv_g = tc_graph_n_kv(g), n_kv = 0;
    if (pi == 0)
        for (size_t i = 0; i < n_kv_g; i++)
            if (!gguf_is_split_key(tc_graph_kv_key(g, i)) && !tc_prov_is_key(tc_graph_kv_key(g, i)))
                n_kv++;
    if (prov)
        n_kv += pi == 0 ? TC_PROV_N_KV : 1;
    if (pi == 0 && add_align)
        n_kv++;
    /* later parts carry only the split keys, plus the alignment when it is not the default
     * (ggml would lay their data out at 32 otherwise) */
    int part_align = pi > 0 && alignment != GGUF_DEFAULT_ALIGN;
    if (part_align)
        n_kv++;
    if (np > 1)
        n_kv += 3;
    buf_put(b, GGUF_MAGIC, 4);
    buf_u32(b, 3);
    buf_u64(b, pt->t1 - pt->t0);
    buf_u64(b, n_kv);
    if (np > 1) { /* as llama.cpp's gguf-split: split keys first */
        tc_value v = {.type = TC_V_U16, .u = pi};
        buf_kv(b, "split.no", &v);
        v.u = np;
        buf_kv(b, "split.count", &v);
        v.type = TC_V_I32;
        v.i = (int64_t)tc_graph_n_tensors(g);
        buf_kv(b, "split.tensors.count", &v);
    }
    if (part_align) {
        tc_value v = {.type = TC_V_U32, .u = alignment};
        buf_kv(b, "general.alignment", &v);
    }
    if (pi == 0) {
        for (size_t i = 0; i < n_kv_g; i++) {
            const char *k = tc_graph_kv_key(g, i);
            if (gguf_is_split_key(k) || tc_prov_is_key(k))
                continue;
            if (strcmp(k, "general.alignment") == 0) {
                tc_value v = {.type = TC_V_U32, .u = alignment};
                buf_kv(b, k, &v);
                continue;
            }
            buf_kv(b, k, tc_graph_kv_value(g, i));
        }
        if (add_align) {
            tc_value v = {.type = TC_V_U32, .u = alignment};
            buf_kv(b, "general.alignment", &v);
        }
        /* provenance last; the offsets of the values patched once the data is written */
        for (size_t i = 0; prov && i < TC_PROV_N_KV; i++) {
            const char *k = tc_prov_key(i);
            tc_value v = i == TC_PROV_XXH ? part_digests(prov, pt) : *tc_prov_value(prov, i);
            prov_off[i] = b->n + 8 + strlen(k) + 4;
            buf_kv(b, k, &v);
        }
    } else if (prov) {
        const char *k = tc_prov_key(TC_PROV_XXH);
        tc_value v = part_digests(prov, pt);
        prov_off[TC_PROV_XXH] = b->n + 8 + strlen(k) + 4;
        buf_kv(b, k, &v);
    }
    uint64_t off = 0;
    for (size_t i = pt->t0; i < pt->t1; i++) {
        const tc_tensor *t = tc_graph_tensor(g, i);
        int nd = tc_tensor_n_dims(t);
        const int64_t *sh = tc_tensor_shape(t);
        buf_str(b, tc_tensor_name(t), strlen(tc_tensor_name(t)));
        buf_u32(b, (uint32_t)nd);
        for (int d = nd - 1; d >= 0; d--) /* ne[] innermost first */
            buf_u64(b, (uint64_t)sh[d]);
        buf_u32(b, (uint32_t)tc_tensor_dtype(t));
        buf_u64(b, off);
        off += pad_to(tc_tensor_nbytes(t), alignment);
    }
    uint64_t pad = pad_to(b->n, alignment) - b->n;
    static const uint8_t zeros[64];
    while (pad > 0) {
        size_t k = pad > sizeof zeros ? sizeof zeros : (size_t)pad;
        buf_put(b, zeros, k);
        pad -= k;
    }
    if (b->oom)
        return tc_err_set(e, TC_E_NOMEM, "out of memory building the GGUF header");
    return TC_OK;
}

/* Everything GGUF cannot hold is refused before any file is created. */
static tc_status gguf_validate(const tc_graph *g, const char *path, uint32_t *alignment,
                               int *add_align, tc_err *e)
{
    for (size_t i = 0; i < tc_graph_n_tensors(g); i++) {
        const tc_tensor *t = tc_graph_tensor(g, i);
        const char *name = tc_tensor_name(t);
        int dt = tc_tensor_dtype(t);
        const tc_dtype_info *di = tc_dtype_get(dt);
        if (strlen(name) >= GGUF_MAX_NAME)
            return tc_err_set(e, TC_E_UNSUPPORTED,
                              "%s: tensor '%s': name of %zu bytes is too long for GGUF (ggml "
                              "allows at most %d)",
                              path, name, strlen(name), GGUF_MAX_NAME - 1);
        if (dt >= TC_DTYPE_GGML_COUNT || di == NULL)
            return tc_err_set(e, TC_E_UNSUPPORTED,
                              "%s: tensor '%s': type %s has no ggml equivalent and cannot be "
                              "stored in GGUF",
                              path, name, di ? di->name : "?");
        if (tc_tensor_n_dims(t) > GGUF_MAX_DIMS)
            return tc_err_set(e, TC_E_UNSUPPORTED,
                              "%s: tensor '%s': %d dimensions (GGUF allows at most %d)", path, name,
                              tc_tensor_n_dims(t), GGUF_MAX_DIMS);
        if (tc_tensor_row_len(t) % di->blck != 0)
            return tc_err_set(e, TC_E_UNSUPPORTED,
                              "%s: tensor '%s': row length %" PRId64
                              " is not a multiple of the %s block size %u",
                              path, name, tc_tensor_row_len(t), di->name, di->blck);
    }
    const tc_value *ga = NULL;
    for (size_t i = 0; i < tc_graph_n_kv(g); i++) {
        const char *k = tc_graph_kv_key(g, i);
        const tc_value *v = tc_graph_kv_value(g, i);
        if (v->type == TC_V_ARR && v->arr.elem == TC_V_ARR && !gguf_is_split_key(k))
            return tc_err_set(e, TC_E_UNSUPPORTED,
                              "%s: metadata '%s' is an array of arrays, which ggml's GGUF reader "
                              "rejects",
                              path, k);
        if (strcmp(k, "general.alignment") == 0)
            ga = v;
    }
    uint64_t a = *alignment;
    if (a == 0 && ga) {
        if (ga->type != TC_V_U32)
            return tc_err_set(e, TC_E_UNSUPPORTED, "%s: general.alignment must be a u32, not %s",
                              path, tc_vtype_name(ga->type));
        a = ga->u;
    }
    if (a == 0 && !ga)
        a = GGUF_DEFAULT_ALIGN;
    if (a == 0 || (a & (a - 1)) != 0 || a > TC_GGUF_MAX_ALIGN)
        return tc_err_set(e, TC_E_UNSUPPORTED,
                          "%s: alignment %" PRIu64 " must be a power of two between 1 and %u", path,
                          a, TC_GGUF_MAX_ALIGN);
    *alignment = (uint32_t)a;
    *add_align = ga == NULL && a != GGUF_DEFAULT_ALIGN;
    return TC_OK;
}

static tc_status gguf_write(const tc_graph *g, const char *path, tc_write_opts *opt, tc_err *e)
{
    uint32_t alignment = opt ? opt->alignment : 0;
    int add_align = 0;
    TC_TRY(gguf_validate(g, path, &alignment, &add_align, e));

    /* ---- plan the parts: tensors packed greedily in order ---- */
    size_t nt = tc_graph_n_tensors(g), np = 0, cap = 8;
    uint64_t max_b = opt ? opt->max_shard_bytes : 0, max_t = opt ? opt->max_shard_tensors : 0;
    uint64_t total = 0;
    gguf_part *parts = tc_calloc(cap, sizeof *parts);
    gguf_buf hb = {0};
    tc_status rc = TC_OK;
    tc_prov *prov = NULL;
    XXH64_state_t *xst = NULL;
    uint64_t prov_off[TC_PROV_N_KV] = {0};
    if (parts == NULL)
        return tc_err_nomem(e);
    parts[np++].t0 = 0;
    uint64_t cur_b = 0, cur_t = 0;
    const uint32_t *part_of = opt ? opt->part_of : NULL;
    for (size_t i = 1; part_of && i < nt; i++)
        if (part_of[i] != part_of[i - 1] && part_of[i] != part_of[i - 1] + 1) {
            rc = tc_err_set(e, TC_E_USAGE, "%s: tensor '%s': part %u after part %u", path,
                            tc_tensor_name(tc_graph_tensor(g, i)), part_of[i], part_of[i - 1]);
            goto done;
        }
    for (size_t i = 0; i < nt; i++) {
        uint64_t sz = pad_to(tc_tensor_nbytes(tc_graph_tensor(g, i)), alignment);
        total += tc_tensor_nbytes(tc_graph_tensor(g, i));
        int cut = part_of
                      ? i > 0 && part_of[i] != part_of[i - 1]
                      : cur_t > 0 && ((max_t && cur_t >= max_t) || (max_b && cur_b + sz > max_b));
        if (cut) {
            parts[np - 1].t1 = i;
            if (np == cap) {
                gguf_part *nparts = tc_realloc(parts, 2 * cap * sizeof *parts);
                if (nparts == NULL) {
                    rc = tc_err_nomem(e);
                    goto done;
                }
                memset(nparts + cap, 0, cap * sizeof *parts);
                parts = nparts;
                cap *= 2;
            }
            parts[np++].t0 = i;
            cur_b = cur_t = 0;
        }
        cur_b += sz;
        cur_t++;
    }
    parts[np - 1].t1 = nt;
    if (np > GGUF_MAX_SPLITS) {
        rc = tc_err_set(e, TC_E_LIMIT, "%s: %zu split files is over the cap of %d", path, np,
                        GGUF_MAX_SPLITS);
        goto done;
    }
    if (np > 1 && nt > INT32_MAX) {
        rc = tc_err_set(e, TC_E_LIMIT, "%s: too many tensors for split.tensors.count", path);
        goto done;
    }
    /* --part i/N: this run writes the files k (from 1) with (k - 1) mod N == i - 1 */
    uint32_t pn = opt ? opt->part_count : 0, pidx = opt ? opt->part_index : 0;
    if (pn && (pidx < 1 || pidx > pn)) {
        rc = tc_err_set(e, TC_E_USAGE, "part %u of %u does not exist", pidx, pn);
        goto done;
    }
    for (size_t i = 0; i < np; i++)
        parts[i].mine = pn == 0 || i % pn == pidx - 1;

    /* ---- names ---- */
    size_t stem = strlen(path);
    if (tc_ends_with(path, ".gguf"))
        stem -= 5;
    for (size_t i = 0; i < np; i++) {
        parts[i].path = tc_malloc(stem + 32);
        if (parts[i].path == NULL) {
            rc = tc_err_nomem(e);
            goto done;
        }
        if (np == 1)
            snprintf(parts[i].path, stem + 32, "%s", path);
        else
            snprintf(parts[i].path, stem + 32, "%.*s-%05zu-of-%05zu.gguf", (int)stem, path, i + 1,
                     np);
    }

    /* ---- every file we will write: not an input, not a device (before writing any) ---- */
    for (size_t i = 0; i < np && rc == TC_OK; i++) {
        if (!parts[i].mine)
            continue;
        char *real = NULL;
        rc = tc_out_resolve(parts[i].path, &real, e);
        if (rc == TC_OK)
            rc = tc_out_check_inputs(g, parts[i].path, e);
        tc_free(real);
    }
    if (rc != TC_OK)
        goto done;

    /* ---- stream every part into a temporary file ---- */
    uint64_t done_b = 0;
    if (pn) { /* progress counts what this run writes */
        total = 0;
        for (size_t pi = 0; pi < np; pi++)
            for (size_t i = parts[pi].t0; parts[pi].mine && i < parts[pi].t1; i++)
                total += tc_tensor_nbytes(tc_graph_tensor(g, i));
    }
    if (opt && opt->provenance) {
        /* the sources are hashed by the run that writes part 1, which records them */
        if ((rc = tc_prov_begin(g, opt->provenance, parts[0].mine, &prov, e)) != TC_OK)
            goto done;
        if ((xst = XXH64_createState()) == NULL) {
            rc = tc_err_nomem(e);
            goto done;
        }
    }
    for (size_t pi = 0; pi < np && rc == TC_OK; pi++) {
        gguf_part *pt = &parts[pi];
        if (!pt->mine)
            continue;
        hb.n = 0;
        uint64_t off_here[TC_PROV_N_KV] = {0};
        if ((rc = gguf_header(g, parts, pi, np, alignment, add_align, prov, off_here, &hb, e)) !=
            TC_OK)
            break;
        if (pi == 0)
            memcpy(prov_off, off_here, sizeof off_here);
        pt->xxh_off = off_here[TC_PROV_XXH];
        if ((rc = tc_out_open(pt->path, opt != NULL && opt->no_sync, &pt->out, e)) != TC_OK)
            break;
        if ((rc = tc_out_write(pt->out, hb.p, hb.n, e)) != TC_OK)
            break;
        for (size_t i = pt->t0; i < pt->t1 && rc == TC_OK; i++) {
            const tc_tensor *t = tc_graph_tensor(g, i);
            uint64_t nb = tc_tensor_nbytes(t), before = tc_out_tell(pt->out);
            int tap = prov && !tc_prov_covers(prov, i);
            if (tap) {
                XXH64_reset(xst, 0);
                tc_out_tap(pt->out, xst);
            }
            rc = tc_out_write_tensor(pt->out, t, opt, &done_b, total, e);
            if (tap) {
                tc_out_tap(pt->out, NULL);
                tc_prov_set_tensor(prov, i, XXH64_digest(xst));
            }
            if (rc == TC_OK && tc_out_tell(pt->out) - before != nb)
                rc = tc_err_set(e, TC_E_USAGE,
                                "%s: tensor '%s': wrote %" PRIu64 " bytes, expected %" PRIu64,
                                pt->path, tc_tensor_name(t), tc_out_tell(pt->out) - before, nb);
            if (rc == TC_OK)
                rc = tc_out_zeros(pt->out, pad_to(nb, alignment) - nb, e);
        }
        if (rc == TC_OK && !prov) /* with provenance, parts wait for their patches */
            rc = tc_out_finish(pt->out, e);
    }
    if (rc == TC_OK && prov) {
        /* the digests are known now: patch them into the headers (same sizes) */
        rc = tc_prov_finish(prov, e);
        for (size_t pi = 0; pi < np && rc == TC_OK; pi++) {
            if (!parts[pi].mine)
                continue;
            for (int k = 0; rc == TC_OK && k < TC_PROV_N_KV; k++) {
                if (!(k == TC_PROV_XXH || (k == TC_PROV_SHA && pi == 0)))
                    continue;
                gguf_buf vb = {0};
                tc_value v = k == TC_PROV_XXH ? part_digests(prov, &parts[pi])
                                              : *tc_prov_value(prov, (size_t)k);
                buf_kv(&vb, "", &v); /* key "" (8 bytes of length), then type and value */
                if (vb.oom)
                    rc = tc_err_nomem(e);
                else
                    rc = tc_out_pwrite(parts[pi].out,
                                       k == TC_PROV_XXH ? parts[pi].xxh_off : prov_off[k],
                                       vb.p + 8 + 4, vb.n - 8 - 4, e);
                tc_free(vb.p);
            }
            if (rc == TC_OK)
                rc = tc_out_finish(parts[pi].out, e);
        }
    }
    /* ---- all complete: record the names, then rename them into place ---- */
    size_t recorded = 0, committed = 0;
    for (size_t pi = 0; pi < np && rc == TC_OK; pi++)
        if (parts[pi].mine && (rc = tc_opts_add_written(opt, parts[pi].path, e)) == TC_OK && opt)
            recorded++;
    size_t last = 0;
    for (size_t pi = 0; pi < np && rc == TC_OK; pi++) {
        if (!parts[pi].mine)
            continue;
        rc = tc_out_commit(parts[pi].out, e);
        parts[pi].out = NULL;
        if (rc == TC_OK)
            committed++, last = pi + 1;
    }
    if (rc != TC_OK) { /* none of the set is left, and none is reported */
        for (size_t pi = 0; pi < last && committed > 0; pi++)
            if (parts[pi].mine)
                unlink(parts[pi].path);
        for (; recorded > 0; recorded--)
            tc_free(opt->written[--opt->n_written]);
    }

done:
    for (size_t i = 0; i < np; i++) {
        tc_out_abort(parts[i].out);
        tc_free(parts[i].path);
    }
    tc_free(parts);
    tc_free(hb.p);
    tc_prov_free(prov);
    if (xst)
        XXH64_freeState(xst);
    return rc;
}

/* GGUF holds every ggml type; fp8 is not one, and f16 holds every fp8 value exactly; unsigned
 * integers and bool have no ggml type. */
static tc_dtype gguf_stores_as(tc_dtype dtype)
{
    if (dtype == TC_DTYPE_F8_E4M3 || dtype == TC_DTYPE_F8_E5M2)
        return TC_DTYPE_F16;
    return dtype >= 0 && dtype < TC_DTYPE_GGML_COUNT ? dtype : TC_DTYPE_NONE;
}

const tc_format tc_format_gguf = {"gguf",        gguf_exts,  gguf_probe,    gguf_read,
                                  gguf_read_map, gguf_write, gguf_stores_as};
