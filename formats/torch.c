/*
 * torch.c - PyTorch checkpoints: zip archives written by torch.save (>= 1.6), the legacy
 * pre-1.6 stream of pickles, and sharded sets (pytorch_model.bin.index.json or a directory of
 * *.bin / *.pt / *.pth files) read into one graph.
 *
 * data.pkl is run by the data-only pickle machine (pickle.c): only allow-listed globals, no code.
 * Tensors are recognised by their rebuild calls (torch._utils._rebuild_tensor_v2 and friends,
 * PyTorch torch/_utils.py); their storages are located (zip entry `<root>/data/<key>`, or the
 * legacy data section), bounds-checked against size/stride/offset, then mapped in place when the
 * view is contiguous and little-endian, else read through a lazy gather that walks the strides.
 */
#include "pickle.h"
#include "zip.h"

#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#define TC_TORCH_MAX_PICKLE    (256ull << 20) /* bytes of a compressed data.pkl we inflate */
#define TC_TORCH_MAX_BROADCAST (256ull << 20) /* bytes a stride-0 view may expand to freely */
#define TC_TORCH_MAX_NOTE      8              /* skipped names listed in one note */

static const uint8_t torch_legacy_magic[10] = {0x6c, 0xfc, 0x9c, 0x46, 0xf9,
                                               0x20, 0x6a, 0xa8, 0x50, 0x19};

/* ===== Tensor descriptors collected from the pickle ===== */

typedef struct th_desc {
    char *name;
    int dtype;
    const tc_pkobj *key; /* storage key (a STR) */
    int64_t offset;      /* storage offset, elements */
    int ndim;
    int64_t shape[TC_MAX_DIMS], stride[TC_MAX_DIMS];
} th_desc;

typedef struct th_ctx {
    tc_graph *g;
    const char *what; /* file name for messages */
    th_desc *d;
    size_t n, cap;
    uint64_t visits, budget;
    char skipped[600]; /* names of skipped non-tensor entries, for the note */
    size_t n_skipped;
    tc_err *e;
} th_ctx;

static void th_ctx_free(th_ctx *c)
{
    for (size_t i = 0; i < c->n; i++)
        tc_free(c->d[i].name);
    tc_free(c->d);
}

/* A skipped entry for the note; `global`: the placeholder global it holds (not run), or NULL. */
static void th_skip(th_ctx *c, const char *name, const char *global)
{
    if (c->n_skipped < TC_TORCH_MAX_NOTE) {
        size_t l = strlen(c->skipped);
        if (global)
            snprintf(c->skipped + l, sizeof c->skipped - l, "%s'%.60s' (%.80s, not run)",
                     l ? ", " : "", name, global);
        else
            snprintf(c->skipped + l, sizeof c->skipped - l, "%s'%.60s'", l ? ", " : "", name);
    }
    c->n_skipped++;
}

/* A tensor whose rebuild depends on a placeholder global: refused, naming it. */
static tc_status th_depends(th_ctx *c, const char *name, const tc_pkobj *args, tc_status rc)
{
    const char *og = tc_pk_opaque_in(args, 8);
    if (og == NULL)
        return rc;
    c->e->code = TC_OK; /* replace the less precise message */
    return tc_err_set(c->e, TC_E_UNSAFE,
                      "%s: tensor '%s' depends on pickle global '%s', which tensorcast does not "
                      "run (only its allow-list of torch rebuild functions is understood)",
                      c->what, name, og);
}

static int64_t th_int(const tc_pkobj *o, int *ok)
{
    if (o && (o->kind == TC_PK_INT || o->kind == TC_PK_BOOL))
        return o->i;
    *ok = 0;
    return 0;
}

/* A tuple of ints (torch.Size or stride) into v[]; returns the count or -1. */
static int th_int_tuple(const tc_pkobj *o, int64_t *v)
{
    if (o == NULL || o->kind != TC_PK_TUPLE || o->seq.n > TC_MAX_DIMS)
        return -1;
    int ok = 1;
    for (uint64_t i = 0; i < o->seq.n; i++)
        v[i] = th_int(o->seq.v[i], &ok);
    return ok ? (int)o->seq.n : -1;
}

/*
 * Fill `d` from a _rebuild_tensor(_v2/_v3) argument tuple:
 * (storage, storage_offset, size, stride[, requires_grad, backward_hooks[, dtype (v3)]]) where
 * storage is BINPERSID ('storage', storage_type, key, location, numel[, view_metadata]).
 */
static tc_status th_rebuild(th_ctx *c, const char *name, int sym, const tc_pkobj *args, th_desc *d)
{
    uint64_t need = sym == TC_PK_SYM_REBUILD_TENSOR_V3 ? 7 : 4;
    if (args->kind != TC_PK_TUPLE || args->seq.n < need)
        return tc_err_set(c->e, TC_E_FORMAT,
                          "%s: tensor '%s': rebuild call has %" PRIu64 " arguments, want %" PRIu64,
                          c->what, name, args->kind == TC_PK_TUPLE ? args->seq.n : 0, need);
    const tc_pkobj *st = args->seq.v[0];
    if (st->kind != TC_PK_PERSID || st->pid->kind != TC_PK_TUPLE || st->pid->seq.n < 5 ||
        !tc_pk_str_eq(st->pid->seq.v[0], "storage") || st->pid->seq.v[1]->kind != TC_PK_GLOBAL ||
        st->pid->seq.v[1]->g.sym != TC_PK_SYM_STORAGE || st->pid->seq.v[2]->kind != TC_PK_STR)
        return tc_err_set(c->e, TC_E_FORMAT,
                          "%s: tensor '%s': storage is not a ('storage', type, key, location, "
                          "numel) persistent id",
                          c->what, name);
    const tc_pkobj *pid = st->pid;
    if (pid->seq.n >= 6 && pid->seq.v[5]->kind != TC_PK_NONE)
        return tc_err_set(c->e, TC_E_UNSUPPORTED,
                          "%s: tensor '%s': legacy storage views are not supported", c->what, name);
    d->dtype = pid->seq.v[1]->g.dtype;
    if (sym == TC_PK_SYM_REBUILD_TENSOR_V3) {
        const tc_pkobj *dt = args->seq.v[6];
        if (dt->kind != TC_PK_GLOBAL || dt->g.sym != TC_PK_SYM_DTYPE)
            return tc_err_set(c->e, TC_E_FORMAT, "%s: tensor '%s': _rebuild_tensor_v3 dtype",
                              c->what, name);
        d->dtype = dt->g.dtype;
    }
    if (d->dtype < 0)
        return tc_err_set(c->e, TC_E_UNSUPPORTED, "%s: tensor '%s': storage type %s has no dtype",
                          c->what, name, pid->seq.v[1]->g.name);
    d->key = pid->seq.v[2];
    int ok = 1;
    d->offset = th_int(args->seq.v[1], &ok);
    int nd = th_int_tuple(args->seq.v[2], d->shape);
    int ns = th_int_tuple(args->seq.v[3], d->stride);
    if (!ok || nd < 0 || ns != nd)
        return tc_err_set(c->e, TC_E_FORMAT,
                          "%s: tensor '%s': bad storage offset, size or stride (at most %d dims)",
                          c->what, name, TC_MAX_DIMS);
    d->ndim = nd;
    return TC_OK;
}

/* 1 and `d` filled when `o` is a tensor; 0 when it is some other value; <0 on error. */
static int th_tensor_of(th_ctx *c, const char *name, const tc_pkobj *o, th_desc *d, int depth,
                        tc_status *rc)
{
    if (depth > 8 || o->kind != TC_PK_CALL)
        return 0;
    const tc_pkobj *fn = o->call.fn, *args = o->call.args;
    switch (fn->g.sym) {
    case TC_PK_SYM_REBUILD_TENSOR:
    case TC_PK_SYM_REBUILD_TENSOR_V2:
    case TC_PK_SYM_REBUILD_TENSOR_V3:
        *rc = th_rebuild(c, name, fn->g.sym, args, d);
        if (*rc != TC_OK)
            *rc = th_depends(c, name, args, *rc);
        return *rc == TC_OK ? 1 : -1;
    case TC_PK_SYM_REBUILD_PARAMETER:
    case TC_PK_SYM_REBUILD_PARAMETER_WITH_STATE:
    case TC_PK_SYM_PARAMETER:
        if (args->seq.n >= 1)
            return th_tensor_of(c, name, args->seq.v[0], d, depth + 1, rc);
        break;
    case TC_PK_SYM_REBUILD_FROM_TYPE_V2: {
        /* (func, type, args, state): the tensor is func(*args) */
        if (args->seq.n >= 3 && args->seq.v[0]->kind == TC_PK_GLOBAL &&
            args->seq.v[2]->kind == TC_PK_TUPLE) {
            int sym = args->seq.v[0]->g.sym;
            if (sym == TC_PK_SYM_REBUILD_TENSOR || sym == TC_PK_SYM_REBUILD_TENSOR_V2 ||
                sym == TC_PK_SYM_REBUILD_TENSOR_V3) {
                *rc = th_rebuild(c, name, sym, args->seq.v[2], d);
                if (*rc != TC_OK)
                    *rc = th_depends(c, name, args, *rc);
                return *rc == TC_OK ? 1 : -1;
            }
        }
        break;
    }
    default:
        return 0;
    }
    *rc = th_depends(c, name, args,
                     tc_err_set(c->e, TC_E_FORMAT, "%s: tensor '%s': unexpected arguments to %s",
                                c->what, name, fn->g.name));
    return -1;
}

static tc_status th_add(th_ctx *c, const char *name, const th_desc *d)
{
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 64;
        th_desc *nd = tc_realloc(c->d, cap * sizeof *nd);
        if (nd == NULL)
            return tc_err_nomem(c->e);
        c->d = nd;
        c->cap = cap;
    }
    c->d[c->n] = *d;
    if ((c->d[c->n].name = tc_strdup(name)) == NULL)
        return tc_err_nomem(c->e);
    c->n++;
    return TC_OK;
}

/* Walk dicts (string or int keys) collecting tensors under dotted names. */
static tc_status th_walk(th_ctx *c, const char *prefix, const tc_pkobj *o, int depth)
{
    if (++c->visits > c->budget)
        return tc_err_set(c->e, TC_E_LIMIT,
                          "%s: pickle structure visits more than %" PRIu64
                          " values (shared-reference bomb?)",
                          c->what, c->budget);
    if (depth > TC_PK_MAX_DEPTH)
        return tc_err_set(c->e, TC_E_LIMIT, "%s: '%.100s': dicts nested deeper than %d", c->what,
                          prefix, TC_PK_MAX_DEPTH);
    th_desc d;
    memset(&d, 0, sizeof d);
    tc_status rc = TC_OK;
    int is_t = th_tensor_of(c, prefix, o, &d, 0, &rc);
    if (is_t < 0)
        return rc;
    if (is_t) {
        if (prefix[0] == 0)
            return tc_err_set(c->e, TC_E_UNSUPPORTED,
                              "%s: the checkpoint is a single tensor, not a dict of tensors",
                              c->what);
        return th_add(c, prefix, &d);
    }
    const char *og = o->kind == TC_PK_DICT ? NULL : tc_pk_opaque_in(o, 8);
    if (o->kind != TC_PK_DICT) {
        if (prefix[0] == 0 && og)
            return tc_err_set(c->e, TC_E_UNSAFE,
                              "%s: the checkpoint is built by pickle global '%s', which "
                              "tensorcast does not run",
                              c->what, og);
        if (prefix[0] == 0)
            return tc_err_set(c->e, TC_E_UNSUPPORTED,
                              "%s: the checkpoint holds no dict of tensors at its top level",
                              c->what);
        th_skip(c, prefix, og);
        return TC_OK;
    }
    size_t pl = strlen(prefix);
    for (uint64_t i = 0; i + 1 < o->seq.n; i += 2) {
        const tc_pkobj *k = o->seq.v[i];
        char kb[32];
        const char *ks;
        size_t kl;
        if (k->kind == TC_PK_STR) {
            ks = (const char *)k->s.p;
            kl = (size_t)k->s.n;
        } else if (k->kind == TC_PK_INT) {
            kl = (size_t)snprintf(kb, sizeof kb, "%" PRId64, k->i);
            ks = kb;
        } else {
            th_skip(c, "(non-string key)", NULL);
            continue;
        }
        if (pl + 1 + kl >= TC_MAX_NAME || memchr(ks, 0, kl))
            return tc_err_set(c->e, TC_E_FORMAT,
                              "%s: key '%.60s...' is too long or holds a NUL byte", c->what, ks);
        char *name = tc_malloc(pl + kl + 2);
        if (name == NULL)
            return tc_err_nomem(c->e);
        if (pl)
            snprintf(name, pl + kl + 2, "%s.%.*s", prefix, (int)kl, ks);
        else
            snprintf(name, pl + kl + 2, "%.*s", (int)kl, ks);
        rc = th_walk(c, name, o->seq.v[i + 1], depth + 1);
        tc_free(name);
        if (rc != TC_OK)
            return rc;
    }
    return TC_OK;
}

/* Nested checkpoints: {"state_dict": {...}, "epoch": ..} and friends use the inner dict. */
static const tc_pkobj *th_unwrap(th_ctx *c, const tc_pkobj *root)
{
    static const char *const keys[] = {"state_dict", "model_state_dict", "model", "module"};
    if (root->kind != TC_PK_DICT)
        return root;
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
        for (uint64_t i = 0; i + 1 < root->seq.n; i += 2) {
            if (!tc_pk_str_eq(root->seq.v[i], keys[k]) || root->seq.v[i + 1]->kind != TC_PK_DICT)
                continue;
            char others[400] = "";
            size_t n_others = 0;
            for (uint64_t j = 0; j + 1 < root->seq.n; j += 2) {
                const tc_pkobj *o = root->seq.v[j];
                if (j == i)
                    continue;
                if (n_others++ < TC_TORCH_MAX_NOTE && o->kind == TC_PK_STR) {
                    size_t l = strlen(others);
                    snprintf(others + l, sizeof others - l, "%s'%.*s'", l ? ", " : "",
                             (int)(o->s.n > 40 ? 40 : o->s.n), (const char *)o->s.p);
                }
            }
            tc_graph_add_note(c->g, NULL,
                              "nested checkpoint: tensors read from the '%s' entry%s%s%s", keys[k],
                              n_others ? "; skipped other top-level entries: " : "", others,
                              n_others > TC_TORCH_MAX_NOTE ? ", ..." : "");
            return root->seq.v[i + 1];
        }
    }
    return root;
}

/* ===== Storages and data sources ===== */

typedef struct th_view {
    tc_map *map;
    uint64_t base; /* byte offset of element 0 of the view (storage start + offset * esize) */
    uint32_t esize;
    int swap; /* big-endian storage: byte-swap each element */
    int ndim;
    int64_t shape[TC_MAX_DIMS], stride[TC_MAX_DIMS];
    uint64_t n_el;       /* elements of the tensor */
    uint64_t span_bytes; /* bytes from base the strides can reach */
} th_view;

static void th_view_free(void *p)
{
    th_view *v = p;
    if (v) {
        tc_map_unref(v->map);
        tc_free(v);
    }
}

static void th_swap(uint8_t *p, uint64_t n, uint32_t es)
{
    for (uint64_t i = 0; i < n; i++, p += es)
        for (uint32_t a = 0, b = es - 1; a < b; a++, b--) {
            uint8_t t = p[a];
            p[a] = p[b];
            p[b] = t;
        }
}

static void th_drop_pages(const uint8_t *p, uint64_t n)
{
    long ps = sysconf(_SC_PAGESIZE);
    uintptr_t a = (uintptr_t)p & ~(uintptr_t)(ps - 1), b = (uintptr_t)p + (uintptr_t)n;
    b = (b + (uintptr_t)ps - 1) & ~(uintptr_t)(ps - 1);
    madvise((void *)a, b - a, MADV_DONTNEED); /* advisory: failure changes nothing */
}

/* Lazy source: gather elements [e0, e0+n) of a strided view, one innermost run at a time. All
 * reachable elements were bounds-checked when the tensor was added. */
static tc_status th_view_read(void *ctx, const tc_tensor *t, uint64_t e0, uint64_t n, void *dst,
                              tc_err *e)
{
    (void)t;
    (void)e;
    const th_view *v = ctx;
    const uint8_t *src = tc_map_data(v->map) + v->base;
    uint8_t *out = dst;
    uint32_t es = v->esize;
    if (v->ndim == 0) {
        if (n) {
            memcpy(out, src, es);
            if (v->swap)
                th_swap(out, 1, es);
        }
        return TC_OK;
    }
    int64_t idx[TC_MAX_DIMS];
    uint64_t rem = e0;
    for (int i = v->ndim - 1; i >= 0; i--) {
        idx[i] = (int64_t)(rem % (uint64_t)v->shape[i]);
        rem /= (uint64_t)v->shape[i];
    }
    int last = v->ndim - 1;
    while (n > 0) {
        uint64_t run = (uint64_t)(v->shape[last] - idx[last]);
        if (run > n)
            run = n;
        uint64_t off = 0;
        for (int i = 0; i < v->ndim; i++)
            off += (uint64_t)idx[i] * (uint64_t)v->stride[i];
        if (v->stride[last] == 1) {
            memcpy(out, src + off * es, (size_t)(run * es));
        } else {
            for (uint64_t k = 0; k < run; k++)
                memcpy(out + k * es, src + (off + k * (uint64_t)v->stride[last]) * es, es);
        }
        if (v->swap)
            th_swap(out, run, es);
        out += run * es;
        n -= run;
        idx[last] += (int64_t)run;
        for (int i = last; i > 0 && idx[i] == v->shape[i]; i--) {
            idx[i] = 0;
            idx[i - 1]++;
        }
    }
    /* A strided gather touches the whole storage for every chunk; once the last chunk is out,
     * drop those file pages so peak RSS stays near one storage, not the whole checkpoint. */
    if (e0 + (uint64_t)(out - (uint8_t *)dst) / es >= v->n_el && tc_map_fd(v->map) >= 0)
        th_drop_pages(src, v->span_bytes);
    return TC_OK;
}

/*
 * Add one tensor whose storage is bytes [st_off, st_off + st_bytes) of `m`: check that every
 * element the size/stride/offset can reach lies inside the storage, then map it in place when
 * contiguous (and little-endian) or give it a lazy strided source.
 */
static tc_status th_place(th_ctx *c, const th_desc *d, tc_map *m, uint64_t st_off,
                          uint64_t st_bytes, int swap)
{
    const tc_dtype_info *di = tc_dtype_get(d->dtype);
    uint32_t es = di->size;
    uint64_t n_el = 1, max_idx, need;
    for (int i = 0; i < d->ndim; i++) {
        if (d->shape[i] < 0 || d->stride[i] < 0)
            return tc_err_set(c->e, TC_E_FORMAT, "%s: tensor '%s': negative size or stride",
                              c->what, d->name);
        if (!tc_mul_ok(n_el, (uint64_t)d->shape[i], &n_el))
            return tc_err_set(c->e, TC_E_FORMAT, "%s: tensor '%s': element count overflows",
                              c->what, d->name);
    }
    if (d->offset < 0)
        return tc_err_set(c->e, TC_E_FORMAT, "%s: tensor '%s': negative storage offset %" PRId64,
                          c->what, d->name, d->offset);
    tc_tensor *t = NULL;
    TC_TRY(tc_graph_add_tensor(c->g, d->name, d->dtype, d->ndim, d->shape, &t, c->e));
    if (n_el == 0)
        return tc_tensor_set_mapped(t, m, st_off, c->e);
    max_idx = (uint64_t)d->offset;
    for (int i = 0; i < d->ndim; i++) {
        uint64_t r;
        if (!tc_mul_ok((uint64_t)(d->shape[i] - 1), (uint64_t)d->stride[i], &r) ||
            !tc_add_ok(max_idx, r, &max_idx))
            return tc_err_set(c->e, TC_E_FORMAT, "%s: tensor '%s': stride overflows", c->what,
                              d->name);
    }
    if (!tc_add_ok(max_idx, 1, &need) || !tc_mul_ok(need, es, &need) || need > st_bytes)
        return tc_err_set(c->e, TC_E_FORMAT,
                          "%s: tensor '%s': size/stride/offset reach element %" PRIu64
                          " but storage '%.*s' holds %" PRIu64 " bytes (%" PRIu64 " elements)",
                          c->what, d->name, max_idx, (int)(d->key->s.n > 40 ? 40 : d->key->s.n),
                          (const char *)d->key->s.p, st_bytes, st_bytes / es);
    /* stride-0 / overlapping views are legal, but a tiny storage must not turn into terabytes
     * of output */
    uint64_t nbytes = tc_tensor_nbytes(t);
    if (nbytes > TC_TORCH_MAX_BROADCAST && nbytes / 16 > st_bytes)
        return tc_err_set(c->e, TC_E_LIMIT,
                          "%s: tensor '%s': a %" PRIu64 "-byte broadcast view of a %" PRIu64
                          "-byte storage (cap: 16x the storage above %llu bytes)",
                          c->what, d->name, nbytes, st_bytes, TC_TORCH_MAX_BROADCAST);
    int contiguous = 1;
    uint64_t want = 1; /* products of dims stay <= n_el */
    for (int i = d->ndim - 1; i >= 0; i--) {
        if (d->shape[i] != 1 && (uint64_t)d->stride[i] != want)
            contiguous = 0;
        want *= (uint64_t)d->shape[i];
    }
    uint64_t base = st_off + (uint64_t)d->offset * es; /* <= st_off + st_bytes: checked above */
    if (contiguous && !swap)
        return tc_tensor_set_mapped(t, m, base, c->e);
    th_view *v = tc_calloc(1, sizeof *v);
    if (v == NULL)
        return tc_err_nomem(c->e);
    v->map = tc_map_ref(m);
    v->base = base;
    v->esize = es;
    v->swap = swap && es > 1;
    v->ndim = d->ndim;
    for (int i = 0; i < d->ndim; i++) {
        v->shape[i] = d->shape[i];
        v->stride[i] = d->stride[i];
    }
    v->n_el = n_el;
    v->span_bytes = need - (uint64_t)d->offset * es;
    return tc_tensor_set_lazy(t, th_view_read, v, th_view_free, c->e);
}

/* DataParallel checkpoints prefix every name with "module.": strip it when all have it. */
static void th_strip_module(th_ctx *c)
{
    if (c->n == 0)
        return;
    for (size_t i = 0; i < c->n; i++)
        if (strncmp(c->d[i].name, "module.", 7) != 0 || c->d[i].name[7] == 0)
            return;
    for (size_t i = 0; i < c->n; i++)
        memmove(c->d[i].name, c->d[i].name + 7, strlen(c->d[i].name + 7) + 1);
    tc_graph_add_note(c->g, NULL, "stripped the 'module.' prefix from %zu tensor names", c->n);
}

/* Collect the tensors of a loaded pickle into c->d (names final). */
static tc_status th_collect(th_ctx *c, tc_pk *pk, const tc_pkobj *root, uint64_t pickle_bytes)
{
    (void)pk;
    c->budget = 4 * pickle_bytes + 1024; /* every value costs at least one opcode byte */
    TC_TRY(th_walk(c, "", th_unwrap(c, root), 0));
    th_strip_module(c);
    if (c->n_skipped)
        tc_graph_add_note(c->g, NULL, "skipped %zu non-tensor entr%s: %s%s", c->n_skipped,
                          c->n_skipped == 1 ? "y" : "ies", c->skipped,
                          c->n_skipped > TC_TORCH_MAX_NOTE ? ", ..." : "");
    return TC_OK;
}

/* ===== Zip checkpoints ===== */

static tc_status th_read_zip(tc_map *m, tc_graph *g, tc_err *e)
{
    const char *what = tc_map_path(m);
    tc_zip *z = NULL;
    tc_pk *pk = NULL;
    uint8_t *pkl_buf = NULL, *bo = NULL;
    char *root = NULL, *ename = NULL;
    th_ctx c;
    memset(&c, 0, sizeof c);
    c.g = g;
    c.what = what;
    c.e = e;
    tc_status rc = tc_zip_open(m, &z, e);
    if (rc != TC_OK)
        goto fail;
    const tc_zip_entry *pkl = NULL;
    for (size_t i = 0; i < tc_zip_count(z) && pkl == NULL; i++) {
        const tc_zip_entry *en = tc_zip_at(z, i);
        const char *slash = strchr(en->name, '/');
        if (slash && strcmp(slash, "/data.pkl") == 0)
            pkl = en;
    }
    if (pkl == NULL) {
        rc = tc_err_set(e, TC_E_FORMAT,
                        "%s: zip archive without a <root>/data.pkl entry "
                        "(not a PyTorch checkpoint)",
                        what);
        goto fail;
    }
    size_t rl = (size_t)(strchr(pkl->name, '/') - pkl->name);
    root = tc_malloc(rl + 64);
    ename = tc_malloc(rl + TC_MAX_NAME + 16);
    if (root == NULL || ename == NULL) {
        rc = tc_err_nomem(e);
        goto fail;
    }
    memcpy(root, pkl->name, rl);
    root[rl] = 0;
    snprintf(ename, rl + 64, "%s/constants.pkl", root);
    if (tc_zip_find(z, ename)) {
        rc = tc_err_set(e, TC_E_UNSUPPORTED,
                        "%s: a TorchScript archive (torch.jit.save), not a state dict: save "
                        "model.state_dict() with torch.save instead",
                        what);
        goto fail;
    }
    /* byteorder record (torch >= 2.1); absent means little-endian */
    int swap = 0;
    snprintf(ename, rl + 64, "%s/byteorder", root);
    const tc_zip_entry *boe = tc_zip_find(z, ename);
    if (boe) {
        uint64_t bn = 0;
        if ((rc = tc_zip_extract(z, boe, 16, &bo, &bn, e)) != TC_OK)
            goto fail;
        if (bn == 3 && memcmp(bo, "big", 3) == 0) {
            swap = 1;
        } else if (!(bn == 6 && memcmp(bo, "little", 6) == 0)) {
            rc = tc_err_set(e, TC_E_FORMAT, "%s: entry '%s' is neither 'little' nor 'big'", what,
                            ename);
            goto fail;
        }
    }
    const uint8_t *pdata;
    uint64_t pn, poff = pkl->data_off;
    if (pkl->method == 0) {
        pdata = tc_map_data(m) + pkl->data_off;
        pn = pkl->usize;
    } else {
        if ((rc = tc_zip_extract(z, pkl, TC_TORCH_MAX_PICKLE, &pkl_buf, &pn, e)) != TC_OK)
            goto fail;
        pdata = pkl_buf;
        poff = 0;
    }
    char pwhat[600];
    snprintf(pwhat, sizeof pwhat, "%s:%s", what, pkl->name);
    tc_pkobj *top = NULL;
    if ((pk = tc_pk_new()) == NULL) {
        rc = tc_err_nomem(e);
        goto fail;
    }
    if ((rc = tc_pk_load(pk, pdata, pn, pwhat, poff, NULL, &top, e)) != TC_OK)
        goto fail;
    if ((rc = th_collect(&c, pk, top, pn)) != TC_OK)
        goto fail;
    for (size_t i = 0; i < c.n; i++) {
        const th_desc *d = &c.d[i];
        snprintf(ename, rl + TC_MAX_NAME + 16, "%s/data/%.*s", root,
                 (int)(d->key->s.n < TC_MAX_NAME ? d->key->s.n : TC_MAX_NAME),
                 (const char *)d->key->s.p);
        const tc_zip_entry *se = tc_zip_find(z, ename);
        uint64_t soff = 0;
        if (se == NULL || d->key->s.n >= TC_MAX_NAME) {
            rc = tc_err_set(e, TC_E_FORMAT, "%s: tensor '%s': storage entry '%s' is missing", what,
                            d->name, ename);
            goto fail;
        }
        if ((rc = tc_zip_stored_off(z, se, &soff, e)) != TC_OK)
            goto fail;
        if ((rc = th_place(&c, d, m, soff, se->usize, swap)) != TC_OK)
            goto fail;
    }
    rc = tc_graph_set_format(g, "torch", "zip", e);
fail:
    th_ctx_free(&c);
    tc_pk_free(pk);
    tc_free(pkl_buf);
    tc_free(bo);
    tc_free(root);
    tc_free(ename);
    tc_zip_free(z);
    return rc;
}

/* ===== Legacy (pre-1.6) stream ===== */

typedef struct th_storage {
    const tc_pkobj *key;
    uint32_t esize;
    uint64_t off, nbytes;
} th_storage;

static int th_key_eq(const tc_pkobj *a, const tc_pkobj *b)
{
    return a->s.n == b->s.n && memcmp(a->s.p, b->s.p, (size_t)a->s.n) == 0;
}

/*
 * magic number pickle, protocol version pickle, sys_info pickle, the main pickle, the list of
 * storage keys, then per key: u64 element count + raw elements (PyTorch serialization.py
 * _legacy_save).
 */
static tc_status th_read_legacy(tc_map *m, tc_graph *g, tc_err *e)
{
    const char *what = tc_map_path(m);
    const uint8_t *data = tc_map_data(m);
    uint64_t size = tc_map_size(m), at = 0, used = 0;
    tc_pk *pk = tc_pk_new();
    th_storage *sts = NULL;
    th_ctx c;
    memset(&c, 0, sizeof c);
    c.g = g;
    c.what = what;
    c.e = e;
    tc_status rc = TC_OK;
    tc_pkobj *magic = NULL, *proto = NULL, *sys = NULL, *top = NULL, *keys = NULL;
    if (pk == NULL) {
        rc = tc_err_nomem(e);
        goto fail;
    }
#define TH_LOAD(obj)                                                                               \
    do {                                                                                           \
        if ((rc = tc_pk_load(pk, data + at, size - at, what, at, &used, &(obj), e)) != TC_OK)      \
            goto fail;                                                                             \
        at += used;                                                                                \
    } while (0)
    TH_LOAD(magic);
    if (magic->kind != TC_PK_BIGINT || magic->s.n != 10 ||
        memcmp(magic->s.p, torch_legacy_magic, 10) != 0) {
        rc = tc_err_set(e, TC_E_FORMAT, "%s: not a legacy PyTorch file (bad magic number)", what);
        goto fail;
    }
    TH_LOAD(proto);
    if (proto->kind != TC_PK_INT || proto->i != 1001) {
        rc = tc_err_set(e, TC_E_UNSUPPORTED,
                        "%s @%#" PRIx64 ": legacy protocol version is not 1001", what, at);
        goto fail;
    }
    TH_LOAD(sys);
    int swap = 0;
    for (uint64_t i = 0; sys->kind == TC_PK_DICT && i + 1 < sys->seq.n; i += 2)
        if (tc_pk_str_eq(sys->seq.v[i], "little_endian") && sys->seq.v[i + 1]->kind == TC_PK_BOOL)
            swap = sys->seq.v[i + 1]->i == 0;
    uint64_t main_at = at;
    TH_LOAD(top);
    if ((rc = th_collect(&c, pk, top, at - main_at)) != TC_OK)
        goto fail;
    TH_LOAD(keys);
    if (keys->kind != TC_PK_LIST) {
        rc = tc_err_set(e, TC_E_FORMAT, "%s @%#" PRIx64 ": storage key list is not a list", what,
                        at);
        goto fail;
    }
    sts = tc_calloc(keys->seq.n ? (size_t)keys->seq.n : 1, sizeof *sts);
    if (sts == NULL) {
        rc = tc_err_nomem(e);
        goto fail;
    }
    for (uint64_t k = 0; k < keys->seq.n; k++) {
        const tc_pkobj *key = keys->seq.v[k];
        if (key->kind != TC_PK_STR) {
            rc = tc_err_set(e, TC_E_FORMAT, "%s: storage key %" PRIu64 " is not a string", what, k);
            goto fail;
        }
        uint32_t es = 0;
        for (size_t i = 0; i < c.n; i++) {
            if (!th_key_eq(c.d[i].key, key))
                continue;
            uint32_t s = tc_dtype_get(c.d[i].dtype)->size;
            if (es && s != es) {
                rc = tc_err_set(e, TC_E_UNSUPPORTED,
                                "%s: storage '%.*s' is used with two element sizes", what,
                                (int)(key->s.n > 40 ? 40 : key->s.n), (const char *)key->s.p);
                goto fail;
            }
            es = s;
        }
        if (es == 0) {
            rc = tc_err_set(e, TC_E_UNSUPPORTED,
                            "%s: storage '%.*s' is not used by any tensor (cannot size it)", what,
                            (int)(key->s.n > 40 ? 40 : key->s.n), (const char *)key->s.p);
            goto fail;
        }
        uint64_t numel, nbytes;
        if (size - at < 8) {
            rc = tc_err_set(e, TC_E_FORMAT,
                            "%s @%#" PRIx64 ": truncated: storage '%.*s' has no size header", what,
                            at, (int)(key->s.n > 40 ? 40 : key->s.n), (const char *)key->s.p);
            goto fail;
        }
        numel = swap ? __builtin_bswap64(tc_le64(data + at)) : tc_le64(data + at);
        at += 8;
        if (!tc_mul_ok(numel, es, &nbytes) || nbytes > size - at) {
            rc = tc_err_set(e, TC_E_FORMAT,
                            "%s @%#" PRIx64 ": storage '%.*s' of %" PRIu64
                            " elements runs past the end of the file",
                            what, at - 8, (int)(key->s.n > 40 ? 40 : key->s.n),
                            (const char *)key->s.p, numel);
            goto fail;
        }
        sts[k] = (th_storage){key, es, at, nbytes};
        at += nbytes;
    }
    for (size_t i = 0; i < c.n; i++) {
        const th_storage *s = NULL;
        for (uint64_t k = 0; k < keys->seq.n && s == NULL; k++)
            if (th_key_eq(sts[k].key, c.d[i].key))
                s = &sts[k];
        if (s == NULL) {
            rc = tc_err_set(e, TC_E_FORMAT, "%s: tensor '%s': storage '%.*s' is missing", what,
                            c.d[i].name, (int)(c.d[i].key->s.n > 40 ? 40 : c.d[i].key->s.n),
                            (const char *)c.d[i].key->s.p);
            goto fail;
        }
        if ((rc = th_place(&c, &c.d[i], m, s->off, s->nbytes, swap)) != TC_OK)
            goto fail;
    }
    rc = tc_graph_set_format(g, "torch", "legacy", e);
#undef TH_LOAD
fail:
    th_ctx_free(&c);
    tc_free(sts);
    tc_pk_free(pk);
    return rc;
}

/* ===== Entry points ===== */

static int th_is_legacy(const uint8_t *h, size_t n)
{
    size_t i = 0;
    if (n >= 2 && h[0] == 0x80)
        i = 2;
    if (i < n && h[i] == 0x95)
        i += 9;
    return n >= i + 12 && h[i] == 0x8a && h[i + 1] == 10 &&
           memcmp(h + i + 2, torch_legacy_magic, 10) == 0;
}

static tc_status torch_read_map(tc_map *m, tc_graph *g, const tc_read_opts *opt, tc_err *e)
{
    (void)opt;
    const uint8_t *d = tc_map_data(m);
    uint64_t n = tc_map_size(m);
    TC_TRY(tc_graph_add_source(g, tc_map_path(m), n, e));
    if (th_is_legacy(d, n > 64 ? 64 : (size_t)n))
        return th_read_legacy(m, g, e);
    if (tc_zip_sniff(d, (size_t)(n > 4 ? 4 : n)))
        return th_read_zip(m, g, e);
    return tc_err_set(e, TC_E_FORMAT,
                      "%s: neither a zip PyTorch checkpoint nor a legacy torch.save stream",
                      tc_map_path(m));
}

static tc_status th_read_file(const char *path, tc_graph *g, tc_err *e)
{
    tc_map *m = NULL;
    TC_TRY(tc_map_open(path, &m, e));
    tc_status rc = torch_read_map(m, g, NULL, e);
    tc_map_unref(m);
    return rc;
}

/* Shard file names by preference: 3 pytorch_model*.bin, 2 consolidated.*.pth, 1 any *.pt / *.pth
 * (a directory uses only its best class, so optimizer.pt beside pytorch_model.bin is ignored). */
static int th_shard_rank(const char *n)
{
    if (strncmp(n, "pytorch_model", 13) == 0 && tc_ends_with(n, ".bin"))
        return 3;
    if (strncmp(n, "consolidated.", 13) == 0 && tc_ends_with(n, ".pth"))
        return 2;
    return tc_ends_with(n, ".pt") || tc_ends_with(n, ".pth");
}

static int th_shard_name(const char *n)
{
    return th_shard_rank(n) > 0;
}

static int th_strcmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Shards listed by pytorch_model.bin.index.json's weight_map (first-seen order). */
static tc_status th_read_index(const char *index, tc_graph *g, tc_err *e)
{
    json_error_t je;
    json_t *j = json_load_file(index, 0, &je);
    if (j == NULL)
        return tc_err_set(e, TC_E_FORMAT, "%s:%d: %s", index, je.line, je.text);
    char *dir = tc_path_dir(index);
    tc_status rc = TC_OK;
    json_t *wm = json_object_get(j, "weight_map");
    const char *key;
    json_t *val;
    if (dir == NULL) {
        rc = tc_err_nomem(e);
        goto done;
    }
    if (!json_is_object(wm)) {
        rc = tc_err_set(e, TC_E_FORMAT, "%s: no \"weight_map\" object", index);
        goto done;
    }
    json_t *seen = json_object();
    if (seen == NULL) {
        rc = tc_err_nomem(e);
        goto done;
    }
    json_object_foreach(wm, key, val)
    {
        const char *f = json_string_value(val);
        if (f == NULL || strchr(f, '/') || f[0] == '.' || f[0] == 0) {
            rc = tc_err_set(e, TC_E_FORMAT, "%s: weight_map['%s'] is not a plain file name", index,
                            key);
            break;
        }
        if (json_object_get(seen, f))
            continue;
        if (json_object_size(seen) >= TC_MAX_SHARDS) {
            rc = tc_err_set(e, TC_E_LIMIT, "%s: more than %d shards", index, TC_MAX_SHARDS);
            break;
        }
        json_object_set_new(seen, f, json_true());
        char *p = tc_path_join(dir, f);
        if (p == NULL) {
            rc = tc_err_nomem(e);
            break;
        }
        rc = th_read_file(p, g, e);
        tc_free(p);
        if (rc != TC_OK)
            break;
    }
    if (rc == TC_OK) {
        json_object_foreach(wm, key, val)
        {
            if (tc_graph_find(g, key) == NULL) {
                rc = tc_err_set(e, TC_E_FORMAT, "%s: tensor '%s' is listed but not in shard '%s'",
                                index, key, json_string_value(val));
                break;
            }
        }
    }
    json_decref(seen);
done:
    tc_free(dir);
    json_decref(j);
    return rc;
}

static tc_status th_read_dir(const char *dir, tc_graph *g, tc_err *e)
{
    char *index = tc_path_join(dir, "pytorch_model.bin.index.json");
    if (index == NULL)
        return tc_err_nomem(e);
    FILE *f = fopen(index, "rb");
    if (f) {
        fclose(f);
        tc_status rc = th_read_index(index, g, e);
        tc_free(index);
        return rc;
    }
    tc_free(index);
    DIR *d = opendir(dir);
    if (d == NULL)
        return tc_err_set(e, TC_E_IO, "%s: cannot open directory", dir);
    char **names = NULL;
    size_t n = 0, cap = 0;
    tc_status rc = TC_OK;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.' || !th_shard_name(de->d_name))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            char **nn = n < TC_MAX_SHARDS ? tc_realloc(names, cap * sizeof *nn) : NULL;
            if (nn == NULL) {
                rc = tc_err_set(e, n < TC_MAX_SHARDS ? TC_E_NOMEM : TC_E_LIMIT,
                                "%s: too many shards or out of memory", dir);
                break;
            }
            names = nn;
        }
        if ((names[n] = tc_strdup(de->d_name)) == NULL) {
            rc = tc_err_nomem(e);
            break;
        }
        n++;
    }
    closedir(d);
    if (rc == TC_OK && n == 0)
        rc = tc_err_set(e, TC_E_UNSUPPORTED, "%s: no PyTorch checkpoint files in this directory",
                        dir);
    if (rc == TC_OK)
        qsort(names, n, sizeof *names, th_strcmp);
    int best = 0;
    for (size_t i = 0; i < n; i++)
        if (th_shard_rank(names[i]) > best)
            best = th_shard_rank(names[i]);
    for (size_t i = 0; i < n && rc == TC_OK; i++) {
        if (th_shard_rank(names[i]) != best)
            continue;
        char *p = tc_path_join(dir, names[i]);
        if (p == NULL)
            rc = tc_err_nomem(e);
        else
            rc = th_read_file(p, g, e);
        tc_free(p);
    }
    for (size_t i = 0; i < n; i++)
        tc_free(names[i]);
    tc_free(names);
    return rc;
}

static tc_status torch_read(const char *path, tc_graph *g, const tc_read_opts *opt, tc_err *e)
{
    (void)opt;
    if (tc_is_dir(path))
        return th_read_dir(path, g, e);
    if (tc_ends_with(path, ".index.json"))
        return th_read_index(path, g, e);
    return th_read_file(path, g, e);
}

/* Bid: 100 for a legacy stream or a zip with `<root>/data.pkl`, 50 for a directory of shards. */
static int torch_probe(const uint8_t *head, size_t n, const char *path)
{
    if (head == NULL) {
        DIR *d = path ? opendir(path) : NULL;
        int bid = 0;
        struct dirent *de;
        while (d && bid == 0 && (de = readdir(d)) != NULL)
            if (th_shard_name(de->d_name) ||
                strcmp(de->d_name, "pytorch_model.bin.index.json") == 0)
                bid = 50;
        if (d)
            closedir(d);
        return bid;
    }
    if (path && tc_ends_with(path, "pytorch_model.bin.index.json"))
        return 100;
    if (th_is_legacy(head, n))
        return 100;
    if (!tc_zip_sniff(head, n))
        return 0;
    /* torch.save writes <root>/data.pkl as the first entry; otherwise look at the directory */
    if (n >= 30 && tc_le32(head) == 0x04034b50u) {
        uint16_t nl = tc_le16(head + 26);
        if (30u + nl <= n && nl >= 9 && memcmp(head + 30 + nl - 9, "/data.pkl", 9) == 0)
            return 100;
    }
    int bid = 0;
    tc_map *m = NULL;
    tc_zip *z = NULL;
    if (path && tc_map_open(path, &m, NULL) == TC_OK && tc_zip_open(m, &z, NULL) == TC_OK) {
        for (size_t i = 0; i < tc_zip_count(z) && bid == 0; i++) {
            const char *nm = tc_zip_at(z, i)->name, *slash = strchr(nm, '/');
            if (slash && strcmp(slash, "/data.pkl") == 0)
                bid = 100;
        }
    }
    tc_zip_free(z);
    tc_map_unref(m);
    return bid;
}

static const char *const torch_exts[] = {".bin", ".pt", ".pth", ".ckpt", NULL};

const tc_format tc_format_torch = {"torch",    torch_exts,     torch_probe,
                                   torch_read, torch_read_map, NULL};
