/*
 * graph.c - the common tensor graph: ordered tensors with data sources, ordered typed metadata,
 * licence and provenance. Names, keys and metadata values live in one arena owned by the graph;
 * tensor bytes are never copied here.
 */
#include "tc_impl.h"

#include <stdio.h>
#include <regex.h>
#include <stdlib.h>

/* ===== Arena ===== */

typedef struct arena_blk {
    struct arena_blk *next;
    size_t used, cap;
    _Alignas(16) uint8_t data[];
} arena_blk;

static void *arena_alloc(arena_blk **head, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    arena_blk *b = *head;
    if (b == NULL || b->cap - b->used < n) {
        size_t cap = n > (64u << 10) ? n : (64u << 10);
        b = tc_malloc(sizeof *b + cap);
        if (b == NULL)
            return NULL;
        b->used = 0;
        b->cap = cap;
        b->next = *head;
        *head = b;
    }
    void *p = b->data + b->used;
    b->used += n;
    return p;
}

static void arena_free(arena_blk *b)
{
    while (b) {
        arena_blk *n = b->next;
        tc_free(b);
        b = n;
    }
}

/* ===== A string -> index hash (open addressing, rebuilt on growth) ===== */

typedef struct str_index {
    uint32_t *slots; /* index + 1; 0 empty */
    size_t cap;      /* power of two */
} str_index;

static uint64_t str_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

typedef const char *(*name_at_fn)(const void *owner, size_t i);

static long index_find(const str_index *ix, const char *name, name_at_fn at, const void *owner)
{
    if (ix->cap == 0)
        return -1;
    size_t mask = ix->cap - 1;
    for (size_t h = (size_t)str_hash(name) & mask;; h = (h + 1) & mask) {
        uint32_t v = ix->slots[h];
        if (v == 0)
            return -1;
        if (strcmp(at(owner, v - 1), name) == 0)
            return (long)(v - 1);
    }
}

/* Rebuild for `n` entries (cap >= 2n). Entries whose name is NULL are skipped. */
static int index_rebuild(str_index *ix, size_t n, name_at_fn at, const void *owner)
{
    size_t cap = 16;
    while (cap < 2 * n + 2)
        cap *= 2;
    uint32_t *s = tc_calloc(cap, sizeof *s);
    if (s == NULL)
        return -1;
    tc_free(ix->slots);
    ix->slots = s;
    ix->cap = cap;
    for (size_t i = 0; i < n; i++) {
        const char *name = at(owner, i);
        if (name == NULL)
            continue;
        size_t h = (size_t)str_hash(name) & (cap - 1);
        while (s[h] != 0)
            h = (h + 1) & (cap - 1);
        s[h] = (uint32_t)(i + 1);
    }
    return 0;
}

/* Add entry i (already stored in the owner). */
static int index_add(str_index *ix, size_t i, size_t n_total, name_at_fn at, const void *owner)
{
    if (2 * n_total + 2 > ix->cap)
        return index_rebuild(ix, n_total, at, owner);
    size_t mask = ix->cap - 1;
    size_t h = (size_t)str_hash(at(owner, i)) & mask;
    while (ix->slots[h] != 0)
        h = (h + 1) & mask;
    ix->slots[h] = (uint32_t)(i + 1);
    return 0;
}

/* ===== Types ===== */

enum { SRC_NONE, SRC_MAPPED, SRC_OWNED, SRC_LAZY };

typedef struct tc_source {
    int kind;
    tc_map *map;
    uint64_t off;
    void *owned;
    tc_read_fn fn;
    void *ctx;
    void (*free_ctx)(void *);
} tc_source;

struct tc_tensor {
    const char *name; /* arena */
    int dtype;
    int n_dims;
    int64_t shape[TC_MAX_DIMS];
    uint64_t n_elems, nbytes;
    tc_source src;
};

typedef struct kv_entry {
    const char *key; /* arena; NULL when deleted */
    tc_value val;
} kv_entry;

struct tc_graph {
    arena_blk *arena;
    tc_tensor **tensors;
    size_t n_tensors, cap_tensors;
    str_index tix;
    kv_entry *kv;
    size_t n_kv, cap_kv;
    str_index kix;
    const char *format, *format_version, *license_source;
    const char **sources;
    uint64_t *source_sizes;
    size_t n_sources;
    const char **notes;
    size_t n_notes;
    tc_graph **attached; /* graphs whose tensors our lazy sources read (tc_graph_attach) */
    size_t n_attached;
};

static const char *tensor_name_at(const void *g, size_t i)
{
    return ((const tc_graph *)g)->tensors[i]->name;
}

static const char *kv_key_at(const void *g, size_t i)
{
    return ((const tc_graph *)g)->kv[i].key;
}

const char *tc_graph_strdup(tc_graph *g, const char *s, size_t n)
{
    char *p = arena_alloc(&g->arena, n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = 0;
    }
    return p;
}

/* ===== Graph ===== */

tc_graph *tc_graph_new(void)
{
    return tc_calloc(1, sizeof(tc_graph));
}

static void source_release(tc_source *s)
{
    tc_map_unref(s->map);
    tc_free(s->owned);
    if (s->free_ctx)
        s->free_ctx(s->ctx);
    memset(s, 0, sizeof *s);
}

void tc_graph_free(tc_graph *g)
{
    if (g == NULL)
        return;
    for (size_t i = 0; i < g->n_tensors; i++) {
        source_release(&g->tensors[i]->src);
        tc_free(g->tensors[i]);
    }
    tc_free(g->tensors);
    tc_free(g->tix.slots);
    tc_free(g->kv);
    tc_free(g->kix.slots);
    tc_free(g->sources);
    tc_free(g->source_sizes);
    tc_free(g->notes);
    for (size_t i = 0; i < g->n_attached; i++)
        tc_graph_free(g->attached[i]);
    tc_free(g->attached);
    arena_free(g->arena);
    tc_free(g);
}

tc_status tc_graph_attach(tc_graph *g, tc_graph *child, tc_err *e)
{
    tc_graph **na = tc_realloc(g->attached, (g->n_attached + 1) * sizeof *na);
    if (na == NULL) {
        tc_graph_free(child);
        return tc_err_nomem(e);
    }
    g->attached = na;
    g->attached[g->n_attached++] = child;
    return TC_OK;
}

size_t tc_graph_n_tensors(const tc_graph *g)
{
    return g->n_tensors;
}

tc_tensor *tc_graph_tensor(const tc_graph *g, size_t i)
{
    return i < g->n_tensors ? g->tensors[i] : NULL;
}

tc_tensor *tc_graph_find(const tc_graph *g, const char *name)
{
    long i = index_find(&g->tix, name, tensor_name_at, g);
    return i < 0 ? NULL : g->tensors[i];
}

tc_status tc_graph_add_tensor(tc_graph *g, const char *name, tc_dtype dtype, int n_dims,
                              const int64_t *shape, tc_tensor **out, tc_err *e)
{
    *out = NULL;
    const tc_dtype_info *di = tc_dtype_get(dtype);
    size_t nl = strlen(name);
    if (nl == 0)
        return tc_err_set(e, TC_E_FORMAT, "a tensor has an empty name");
    if (nl >= TC_MAX_NAME)
        return tc_err_set(e, TC_E_LIMIT, "tensor name of %zu bytes is over the cap of %d", nl,
                          TC_MAX_NAME - 1);
    if (di == NULL)
        return tc_err_set(e, TC_E_UNSUPPORTED, "tensor '%s': unknown type id %d", name, dtype);
    if (n_dims < 0 || n_dims > TC_MAX_DIMS)
        return tc_err_set(e, TC_E_LIMIT, "tensor '%s': %d dimensions (at most %d)", name, n_dims,
                          TC_MAX_DIMS);
    if (tc_graph_find(g, name))
        return tc_err_set(e, TC_E_FORMAT, "duplicate tensor name '%s'", name);
    uint64_t n = 1;
    for (int d = 0; d < n_dims; d++) {
        if (shape[d] < 0)
            return tc_err_set(e, TC_E_FORMAT, "tensor '%s': dimension %d is negative (%" PRId64 ")",
                              name, d, shape[d]);
        if (!tc_mul_ok(n, (uint64_t)shape[d], &n) || n > (uint64_t)INT64_MAX)
            return tc_err_set(e, TC_E_FORMAT, "tensor '%s': element count overflows", name);
    }
    int64_t row = n_dims > 0 ? shape[n_dims - 1] : 1;
    if (row % di->blck != 0)
        return tc_err_set(e, TC_E_FORMAT,
                          "tensor '%s': row length %" PRId64 " is not a multiple of the %s block "
                          "size %u",
                          name, row, di->name, di->blck);
    uint64_t nbytes = n == 0 ? 0 : tc_row_size(dtype, (int64_t)n);
    if (n != 0 && nbytes == 0)
        return tc_err_set(e, TC_E_FORMAT, "tensor '%s': byte size overflows", name);
    if (g->n_tensors >= UINT32_MAX - 1)
        return tc_err_set(e, TC_E_LIMIT, "too many tensors");

    if (g->n_tensors == g->cap_tensors) {
        size_t cap = g->cap_tensors ? 2 * g->cap_tensors : 64;
        tc_tensor **nt = tc_realloc(g->tensors, cap * sizeof *nt);
        if (nt == NULL)
            return tc_err_nomem(e);
        g->tensors = nt;
        g->cap_tensors = cap;
    }
    tc_tensor *t = tc_calloc(1, sizeof *t);
    const char *nm = tc_graph_strdup(g, name, nl);
    if (t == NULL || nm == NULL) {
        tc_free(t);
        return tc_err_nomem(e);
    }
    t->name = nm;
    t->dtype = dtype;
    t->n_dims = n_dims;
    for (int d = 0; d < n_dims; d++)
        t->shape[d] = shape[d];
    t->n_elems = n;
    t->nbytes = nbytes;
    g->tensors[g->n_tensors++] = t;
    if (index_add(&g->tix, g->n_tensors - 1, g->n_tensors, tensor_name_at, g) != 0) {
        g->n_tensors--;
        tc_free(t);
        return tc_err_nomem(e);
    }
    *out = t;
    return TC_OK;
}

tc_status tc_graph_rename_tensor(tc_graph *g, tc_tensor *t, const char *name, tc_err *e)
{
    if (strcmp(t->name, name) == 0)
        return TC_OK;
    if (tc_graph_find(g, name))
        return tc_err_set(e, TC_E_FORMAT, "cannot rename '%s': a tensor '%s' already exists",
                          t->name, name);
    const char *nm = tc_graph_strdup(g, name, strlen(name));
    if (nm == NULL)
        return tc_err_nomem(e);
    t->name = nm;
    if (index_rebuild(&g->tix, g->n_tensors, tensor_name_at, g) != 0)
        return tc_err_nomem(e);
    return TC_OK;
}

void tc_graph_remove_tensor(tc_graph *g, tc_tensor *t)
{
    for (size_t i = 0; i < g->n_tensors; i++) {
        if (g->tensors[i] != t)
            continue;
        source_release(&t->src);
        tc_free(t);
        memmove(&g->tensors[i], &g->tensors[i + 1], (g->n_tensors - i - 1) * sizeof *g->tensors);
        g->n_tensors--;
        index_rebuild(&g->tix, g->n_tensors, tensor_name_at, g);
        return;
    }
}

void tc_graph_sort_tensors(tc_graph *g, int (*cmp)(const tc_tensor *a, const tc_tensor *b))
{
    /* stable insertion/merge: a simple bottom-up merge sort on the pointer array */
    size_t n = g->n_tensors;
    if (n < 2)
        return;
    tc_tensor **tmp = tc_malloc(n * sizeof *tmp);
    if (tmp == NULL) { /* fall back to insertion sort: stable, no memory */
        for (size_t i = 1; i < n; i++) {
            tc_tensor *x = g->tensors[i];
            size_t j = i;
            while (j > 0 && cmp(g->tensors[j - 1], x) > 0) {
                g->tensors[j] = g->tensors[j - 1];
                j--;
            }
            g->tensors[j] = x;
        }
    } else {
        tc_tensor **a = g->tensors, **b = tmp;
        for (size_t w = 1; w < n; w *= 2) {
            for (size_t lo = 0; lo < n; lo += 2 * w) {
                size_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
                size_t i = lo, j = mid, k = lo;
                while (i < mid && j < hi)
                    b[k++] = cmp(a[j], a[i]) < 0 ? a[j++] : a[i++];
                while (i < mid)
                    b[k++] = a[i++];
                while (j < hi)
                    b[k++] = a[j++];
            }
            tc_tensor **s = a;
            a = b;
            b = s;
        }
        if (a != g->tensors)
            memcpy(g->tensors, a, n * sizeof *a);
        tc_free(tmp);
    }
    index_rebuild(&g->tix, g->n_tensors, tensor_name_at, g);
}

#define SELECT_MAX_RE 64 /* --include / --exclude patterns of one call */

tc_status tc_graph_select_tensors(tc_graph *g, const char *const *include, size_t n_include,
                                  const char *const *exclude, size_t n_exclude, size_t *n_dropped,
                                  tc_err *e)
{
    if (n_dropped)
        *n_dropped = 0;
    if (n_include > SELECT_MAX_RE || n_exclude > SELECT_MAX_RE)
        return tc_err_set(e, TC_E_USAGE, "more than %d --include or --exclude patterns",
                          SELECT_MAX_RE);
    regex_t re[2 * SELECT_MAX_RE];
    size_t n_re = 0;
    tc_status rc = TC_OK;
    for (size_t i = 0; i < n_include + n_exclude; i++) {
        const char *pat = i < n_include ? include[i] : exclude[i - n_include];
        int r = regcomp(&re[n_re], pat, REG_EXTENDED | REG_NOSUB);
        if (r != 0) {
            char why[128];
            regerror(r, &re[n_re], why, sizeof why);
            rc = tc_err_set(e, TC_E_USAGE, "--%s '%s': bad regular expression (%s)",
                            i < n_include ? "include" : "exclude", pat, why);
            goto out;
        }
        n_re++;
    }
    size_t kept = 0;
    for (size_t i = 0; i < g->n_tensors; i++) {
        tc_tensor *t = g->tensors[i];
        int in = n_include == 0, ex = 0;
        for (size_t k = 0; k < n_include && !in; k++)
            in = regexec(&re[k], t->name, 0, NULL, 0) == 0;
        for (size_t k = 0; k < n_exclude && in && !ex; k++)
            ex = regexec(&re[n_include + k], t->name, 0, NULL, 0) == 0;
        if (in && !ex) {
            g->tensors[kept++] = t;
            continue;
        }
        source_release(&t->src);
        tc_free(t);
        if (n_dropped)
            (*n_dropped)++;
    }
    if (kept != g->n_tensors) {
        g->n_tensors = kept;
        index_rebuild(&g->tix, g->n_tensors, tensor_name_at, g);
    }
out:
    for (size_t i = 0; i < n_re; i++)
        regfree(&re[i]);
    return rc;
}

static int ptr_cmp(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t) * (tc_tensor *const *)a, y = (uintptr_t) * (tc_tensor *const *)b;
    return (x > y) - (x < y);
}

tc_status tc_graph_order_tensors(tc_graph *g, const tc_tensor *const *order, size_t n, tc_err *e)
{
    if (n != g->n_tensors)
        return tc_err_set(e, TC_E_USAGE, "tensor order: %zu tensors for a graph of %zu", n,
                          g->n_tensors);
    if (n == 0)
        return TC_OK;
    tc_tensor **a = tc_malloc(n * sizeof *a), **b = tc_malloc(n * sizeof *b);
    if (a == NULL || b == NULL) {
        tc_free(a);
        tc_free(b);
        return tc_err_nomem(e);
    }
    memcpy(a, order, n * sizeof *a);
    memcpy(b, g->tensors, n * sizeof *b);
    qsort(a, n, sizeof *a, ptr_cmp);
    qsort(b, n, sizeof *b, ptr_cmp);
    int same = memcmp(a, b, n * sizeof *a) == 0;
    tc_free(a);
    tc_free(b);
    if (!same)
        return tc_err_set(e, TC_E_USAGE, "tensor order: not a permutation of the graph's tensors");
    memcpy(g->tensors, order, n * sizeof *g->tensors);
    index_rebuild(&g->tix, g->n_tensors, tensor_name_at, g);
    return TC_OK;
}

/* ===== Tensors ===== */

const char *tc_tensor_name(const tc_tensor *t)
{
    return t->name;
}
tc_dtype tc_tensor_dtype(const tc_tensor *t)
{
    return t->dtype;
}
int tc_tensor_n_dims(const tc_tensor *t)
{
    return t->n_dims;
}
const int64_t *tc_tensor_shape(const tc_tensor *t)
{
    return t->shape;
}
uint64_t tc_tensor_n_elements(const tc_tensor *t)
{
    return t->n_elems;
}
uint64_t tc_tensor_nbytes(const tc_tensor *t)
{
    return t->nbytes;
}
int64_t tc_tensor_row_len(const tc_tensor *t)
{
    return t->n_dims > 0 ? t->shape[t->n_dims - 1] : 1;
}
uint64_t tc_tensor_n_rows(const tc_tensor *t)
{
    int64_t r = tc_tensor_row_len(t);
    return r > 0 ? t->n_elems / (uint64_t)r : 0;
}

tc_status tc_tensor_set_mapped(tc_tensor *t, tc_map *m, uint64_t off, tc_err *e)
{
    uint64_t end;
    if (!tc_add_ok(off, t->nbytes, &end) || end > tc_map_size(m))
        return tc_err_set(e, TC_E_FORMAT,
                          "%s: tensor '%s': data [%" PRIu64 ", %" PRIu64 "+%" PRIu64
                          ") is past the end of the file (%" PRIu64 " bytes)",
                          tc_map_path(m), t->name, off, off, t->nbytes, tc_map_size(m));
    source_release(&t->src);
    t->src.kind = SRC_MAPPED;
    t->src.map = tc_map_ref(m);
    t->src.off = off;
    return TC_OK;
}

tc_status tc_tensor_set_owned(tc_tensor *t, void *data, uint64_t nbytes, tc_err *e)
{
    if (nbytes != t->nbytes) {
        tc_free(data);
        return tc_err_set(e, TC_E_USAGE, "tensor '%s': buffer of %" PRIu64 " bytes, need %" PRIu64,
                          t->name, nbytes, t->nbytes);
    }
    source_release(&t->src);
    t->src.kind = SRC_OWNED;
    t->src.owned = data;
    return TC_OK;
}

tc_status tc_tensor_set_lazy(tc_tensor *t, tc_read_fn fn, void *ctx, void (*free_ctx)(void *),
                             tc_err *e)
{
    (void)e;
    source_release(&t->src);
    t->src.kind = SRC_LAZY;
    t->src.fn = fn;
    t->src.ctx = ctx;
    t->src.free_ctx = free_ctx;
    return TC_OK;
}

int tc_tensor_mapped(const tc_tensor *t, const tc_map **m, uint64_t *off)
{
    if (t->src.kind != SRC_MAPPED)
        return 0;
    *m = t->src.map;
    *off = t->src.off;
    return 1;
}

static tc_status source_read(const tc_source *s, const tc_tensor *t, uint64_t e0, uint64_t n,
                             void *dst, tc_err *e)
{
    uint64_t b0 = e0 ? tc_row_size(t->dtype, (int64_t)e0) : 0;
    uint64_t nb = n ? tc_row_size(t->dtype, (int64_t)n) : 0;
    uint64_t end;
    if ((e0 && !b0) || (n && !nb) || !tc_add_ok(e0, n, &end) || end > t->n_elems)
        return tc_err_set(e, TC_E_USAGE,
                          "tensor '%s': bad element range [%" PRIu64 ", +%" PRIu64 ")", t->name, e0,
                          n);
    if (n == 0)
        return TC_OK;
    switch (s->kind) {
    case SRC_MAPPED:
        return tc_map_read(s->map, s->off + b0, dst, (size_t)nb, e);
    case SRC_OWNED:
        memcpy(dst, (const uint8_t *)s->owned + b0, (size_t)nb);
        return TC_OK;
    case SRC_LAZY:
        return s->fn(s->ctx, t, e0, n, dst, e);
    default:
        return tc_err_set(e, TC_E_USAGE, "tensor '%s' has no data", t->name);
    }
}

tc_status tc_tensor_read(const tc_tensor *t, uint64_t e0, uint64_t n, void *dst, tc_err *e)
{
    return source_read(&t->src, t, e0, n, dst, e);
}

/* ===== Conversion (lazy) ===== */

typedef struct convert_ctx {
    tc_tensor inner;         /* the tensor as it was: its own dtype and source */
    float *imatrix;          /* NULL, or n_groups rows of importance weights */
    uint64_t rows_per_group; /* rows quantized with each imatrix row */
} convert_ctx;

static void convert_free(void *p)
{
    convert_ctx *c = p;
    source_release(&c->inner.src);
    tc_free(c->imatrix);
    tc_free(c);
}

/* Elements converted per step: the f32 staging buffer stays in L2 and allocations small (a
 * whole-tensor buffer each call page-faults its way through fresh memory). Block targets take
 * whole rows; a row longer than this is converted in one step. */
#define CONVERT_STEP (16u << 10)

static tc_status convert_read(void *ctx, const tc_tensor *t, uint64_t e0, uint64_t n, void *dst,
                              tc_err *e)
{
    convert_ctx *c = ctx;
    const tc_tensor *in = &c->inner;
    int quant = tc_dtype_get(t->dtype)->is_quant;
    int64_t row = quant ? tc_tensor_row_len(t) : 1;
    uint64_t step = CONVERT_STEP;
    if (quant)
        step = (uint64_t)row >= CONVERT_STEP ? (uint64_t)row
                                             : CONVERT_STEP / (uint64_t)row * (uint64_t)row;
    if (step > n)
        step = n;
    uint8_t *raw = tc_malloc((size_t)tc_row_size(in->dtype, (int64_t)step) + 1);
    float *f = tc_malloc((size_t)step * sizeof(float) + 1);
    uint8_t *out = dst;
    tc_status rc = TC_OK;
    if (raw == NULL || f == NULL) {
        rc = tc_err_set(e, TC_E_NOMEM, "out of memory converting '%s'", t->name);
        goto done;
    }
    while (n > 0) {
        uint64_t k = n < step ? n : step;
        rc = tc_tensor_read(in, e0, k, raw, e);
        if (rc != TC_OK)
            goto done;
        if (tc_to_f32(in->dtype, raw, f, (int64_t)k) != 0) {
            rc = tc_err_set(e, TC_E_UNSUPPORTED, "tensor '%s': cannot convert %s to f32", t->name,
                            tc_dtype_get(in->dtype)->name);
            goto done;
        }
        if (quant) {
            /* the imatrix is per column, one row of it per group of rows (per expert) */
            uint64_t r0 = e0 / (uint64_t)row, nr = k / (uint64_t)row,
                     rs = tc_row_size(t->dtype, row);
            for (uint64_t r = r0; r < r0 + nr;) {
                uint64_t gi = c->imatrix ? r / c->rows_per_group : 0;
                uint64_t end = c->imatrix ? (gi + 1) * c->rows_per_group : r0 + nr;
                if (end > r0 + nr)
                    end = r0 + nr;
                const float *w = c->imatrix ? c->imatrix + gi * (uint64_t)row : NULL;
                if (tc_quantize_rows(t->dtype, f + (r - r0) * (uint64_t)row, out + (r - r0) * rs,
                                     (int64_t)(end - r), row, w) == 0) {
                    rc = tc_err_set(e, TC_E_UNSUPPORTED, "tensor '%s': cannot quantize to %s",
                                    t->name, tc_dtype_get(t->dtype)->name);
                    goto done;
                }
                r = end;
            }
        } else if (tc_cast_from_f32(t->dtype, f, out, (int64_t)k) != 0) {
            rc = tc_err_set(e, TC_E_UNSUPPORTED, "tensor '%s': cannot convert f32 to %s", t->name,
                            tc_dtype_get(t->dtype)->name);
            goto done;
        }
        out += tc_row_size(t->dtype, (int64_t)k);
        e0 += k;
        n -= k;
    }
done:
    tc_free(raw);
    tc_free(f);
    return rc;
}

tc_status tc_tensor_convert(tc_tensor *t, tc_dtype dtype, const float *imatrix, tc_err *e)
{
    return tc_tensor_convert_grouped(t, dtype, imatrix, 1, e);
}

tc_status tc_tensor_convert_grouped(tc_tensor *t, tc_dtype dtype, const float *imatrix,
                                    uint64_t n_groups, tc_err *e)
{
    const tc_dtype_info *to = tc_dtype_get(dtype), *from = tc_dtype_get(t->dtype);
    if (dtype == t->dtype && imatrix == NULL)
        return TC_OK;
    if (to == NULL)
        return tc_err_set(e, TC_E_UNSUPPORTED, "tensor '%s': unknown target type %d", t->name,
                          dtype);
    if (!tc_can_dequantize(t->dtype))
        return tc_err_set(e, TC_E_UNSUPPORTED, "tensor '%s': cannot read %s values", t->name,
                          from->name);
    if (!tc_can_quantize(dtype))
        return tc_err_set(e, TC_E_UNSUPPORTED, "tensor '%s': cannot convert to %s", t->name,
                          to->name);
    int64_t row = tc_tensor_row_len(t);
    if (row % to->blck != 0)
        return tc_err_set(e, TC_E_UNSUPPORTED,
                          "tensor '%s': row length %" PRId64 " is not a multiple of the %s block "
                          "size %u",
                          t->name, row, to->name, to->blck);
    uint64_t nbytes = t->n_elems ? tc_row_size(dtype, (int64_t)t->n_elems) : 0;
    if (t->n_elems && nbytes == 0)
        return tc_err_set(e, TC_E_FORMAT, "tensor '%s': byte size overflows", t->name);
    uint64_t n_rows = tc_tensor_n_rows(t), wn;
    if (imatrix && (n_groups == 0 || n_rows % n_groups != 0 ||
                    __builtin_mul_overflow(n_groups, (uint64_t)row, &wn) || wn > SIZE_MAX / 4))
        return tc_err_set(e, TC_E_USAGE,
                          "tensor '%s': %" PRIu64 " importance rows for %" PRIu64 " rows", t->name,
                          n_groups, n_rows);
    convert_ctx *c = tc_calloc(1, sizeof *c);
    if (c == NULL)
        return tc_err_nomem(e);
    if (imatrix) {
        c->imatrix = tc_malloc((size_t)wn * sizeof(float));
        if (c->imatrix == NULL) {
            tc_free(c);
            return tc_err_nomem(e);
        }
        memcpy(c->imatrix, imatrix, (size_t)wn * sizeof(float));
        c->rows_per_group = n_rows / n_groups;
    }
    c->inner = *t; /* takes over the source */
    memset(&t->src, 0, sizeof t->src);
    t->dtype = dtype;
    t->nbytes = nbytes;
    t->src.kind = SRC_LAZY;
    t->src.fn = convert_read;
    t->src.ctx = c;
    t->src.free_ctx = convert_free;
    return TC_OK;
}

/* ===== Metadata values ===== */

static const char *const vtype_names[TC_V_COUNT] = {
    "u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "str", "arr", "u64", "i64", "f64"};

size_t tc_vtype_size(tc_vtype t)
{
    static const uint8_t sz[TC_V_COUNT] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
    return (unsigned)t < TC_V_COUNT ? sz[t] : 0;
}

/* The scalar of type `t` (not STR/ARR) encoded at `p`: little-endian, tc_vtype_size(t) bytes
 * (BOOL one byte) - GGUF's encoding and the graph's packed arrays. */
tc_value tc_value_load(tc_vtype t, const uint8_t *p)
{
    tc_value v = {.type = t};
    switch (t) {
    case TC_V_U8:
    case TC_V_BOOL:
        v.u = p[0];
        break;
    case TC_V_I8:
        v.i = (int8_t)p[0];
        break;
    case TC_V_U16:
        v.u = tc_le16(p);
        break;
    case TC_V_I16:
        v.i = (int16_t)tc_le16(p);
        break;
    case TC_V_U32:
        v.u = tc_le32(p);
        break;
    case TC_V_I32:
        v.i = (int32_t)tc_le32(p);
        break;
    case TC_V_U64:
        v.u = tc_le64(p);
        break;
    case TC_V_I64:
        v.i = (int64_t)tc_le64(p);
        break;
    case TC_V_F32: {
        uint32_t bits = tc_le32(p);
        float f;
        memcpy(&f, &bits, 4);
        v.f = f;
        break;
    }
    case TC_V_F64: {
        uint64_t bits = tc_le64(p);
        memcpy(&v.f, &bits, 8);
        break;
    }
    default:
        break;
    }
    return v;
}

const char *tc_vtype_name(tc_vtype t)
{
    return (unsigned)t < TC_V_COUNT ? vtype_names[t] : "?";
}

int tc_vtype_from_name(const char *name)
{
    for (int i = 0; i < TC_V_COUNT; i++)
        if (strcmp(name, vtype_names[i]) == 0)
            return i;
    return -1;
}

int tc_value_to_u64(const tc_value *v, uint64_t *out)
{
    switch (v->type) {
    case TC_V_U8:
    case TC_V_U16:
    case TC_V_U32:
    case TC_V_U64:
    case TC_V_BOOL:
        *out = v->u;
        return 1;
    case TC_V_I8:
    case TC_V_I16:
    case TC_V_I32:
    case TC_V_I64:
        if (v->i < 0)
            return 0;
        *out = (uint64_t)v->i;
        return 1;
    default:
        return 0;
    }
}

int tc_value_to_i64(const tc_value *v, int64_t *out)
{
    uint64_t u;
    switch (v->type) {
    case TC_V_I8:
    case TC_V_I16:
    case TC_V_I32:
    case TC_V_I64:
        *out = v->i;
        return 1;
    default:
        if (!tc_value_to_u64(v, &u) || u > (uint64_t)INT64_MAX)
            return 0;
        *out = (int64_t)u;
        return 1;
    }
}

/* Deep-copy `v` into the arena. depth guards nested arrays. */
static int value_copy(tc_graph *g, tc_value *dst, const tc_value *v, int depth)
{
    *dst = *v;
    if (v->type == TC_V_STR) {
        dst->s.p = tc_graph_strdup(g, v->s.p ? v->s.p : "", (size_t)v->s.len);
        return dst->s.p ? 0 : -1;
    }
    if (v->type != TC_V_ARR)
        return 0;
    if (depth > TC_MAX_NEST)
        return -2;
    uint64_t n = v->arr.n, bytes;
    if (n == 0) {
        dst->arr.data = NULL;
        return 0;
    }
    size_t esz = v->arr.elem == TC_V_STR   ? sizeof(tc_str)
                 : v->arr.elem == TC_V_ARR ? sizeof(tc_value)
                                           : tc_vtype_size(v->arr.elem);
    if (esz == 0 || !tc_mul_ok(n, esz, &bytes) || bytes > SIZE_MAX / 2)
        return -2;
    void *d = arena_alloc(&g->arena, (size_t)bytes);
    if (d == NULL)
        return -1;
    dst->arr.data = d;
    if (v->arr.elem == TC_V_STR) {
        /* the strings packed into one block, unaligned: an array of 10 M empty strings costs
         * 17 bytes each, not a 16-byte arena slot per string on top of its descriptor */
        const tc_str *s = v->arr.data;
        tc_str *o = d;
        uint64_t total = 0;
        for (uint64_t i = 0; i < n; i++)
            if (s[i].len > SIZE_MAX / 2 || !tc_add_ok(total, s[i].len + 1, &total))
                return -2;
        if (total > SIZE_MAX / 2)
            return -2;
        char *blk = arena_alloc(&g->arena, (size_t)total);
        if (blk == NULL)
            return -1;
        for (uint64_t i = 0; i < n; i++) {
            o[i].len = s[i].len;
            if (s[i].len)
                memcpy(blk, s[i].p, (size_t)s[i].len);
            blk[s[i].len] = 0;
            o[i].p = blk;
            blk += s[i].len + 1;
        }
    } else if (v->arr.elem == TC_V_ARR) {
        const tc_value *s = v->arr.data;
        tc_value *o = d;
        for (uint64_t i = 0; i < n; i++) {
            int r = value_copy(g, &o[i], &s[i], depth + 1);
            if (r)
                return r;
        }
    } else {
        memcpy(d, v->arr.data, (size_t)bytes);
    }
    return 0;
}

size_t tc_graph_n_kv(const tc_graph *g)
{
    return g->n_kv;
}

const char *tc_graph_kv_key(const tc_graph *g, size_t i)
{
    return i < g->n_kv ? g->kv[i].key : NULL;
}

const tc_value *tc_graph_kv_value(const tc_graph *g, size_t i)
{
    return i < g->n_kv ? &g->kv[i].val : NULL;
}

const tc_value *tc_graph_get(const tc_graph *g, const char *key)
{
    long i = index_find(&g->kix, key, kv_key_at, g);
    return i < 0 ? NULL : &g->kv[i].val;
}

const char *tc_graph_get_str(const tc_graph *g, const char *key)
{
    const tc_value *v = tc_graph_get(g, key);
    return v && v->type == TC_V_STR ? v->s.p : NULL;
}

tc_status tc_graph_set(tc_graph *g, const char *key, const tc_value *v, tc_err *e)
{
    size_t kl = strlen(key);
    if (kl == 0 || kl > TC_MAX_KEY)
        return tc_err_set(e, TC_E_FORMAT, "metadata key of %zu bytes (must be 1..%d)", kl,
                          TC_MAX_KEY);
    if ((unsigned)v->type >= TC_V_COUNT)
        return tc_err_set(e, TC_E_USAGE, "metadata '%s': bad value type %d", key, (int)v->type);
    tc_value copy;
    int r = value_copy(g, &copy, v, 0);
    if (r == -1)
        return tc_err_nomem(e);
    if (r == -2)
        return tc_err_set(e, TC_E_LIMIT, "metadata '%s': array too large or nested too deep", key);
    long i = index_find(&g->kix, key, kv_key_at, g);
    if (i >= 0) {
        g->kv[i].val = copy;
        return TC_OK;
    }
    if (g->n_kv == g->cap_kv) {
        size_t cap = g->cap_kv ? 2 * g->cap_kv : 32;
        kv_entry *nk = tc_realloc(g->kv, cap * sizeof *nk);
        if (nk == NULL)
            return tc_err_nomem(e);
        g->kv = nk;
        g->cap_kv = cap;
    }
    const char *k = tc_graph_strdup(g, key, kl);
    if (k == NULL)
        return tc_err_nomem(e);
    g->kv[g->n_kv].key = k;
    g->kv[g->n_kv].val = copy;
    g->n_kv++;
    if (index_add(&g->kix, g->n_kv - 1, g->n_kv, kv_key_at, g) != 0) {
        g->n_kv--;
        return tc_err_nomem(e);
    }
    return TC_OK;
}

tc_status tc_graph_set_str(tc_graph *g, const char *key, const char *s, tc_err *e)
{
    tc_value v = {.type = TC_V_STR, .s = {s, strlen(s)}};
    return tc_graph_set(g, key, &v, e);
}

tc_status tc_graph_set_u32(tc_graph *g, const char *key, uint32_t x, tc_err *e)
{
    tc_value v = {.type = TC_V_U32, .u = x};
    return tc_graph_set(g, key, &v, e);
}

int tc_graph_del(tc_graph *g, const char *key)
{
    long i = index_find(&g->kix, key, kv_key_at, g);
    if (i < 0)
        return 0;
    memmove(&g->kv[i], &g->kv[i + 1], (g->n_kv - (size_t)i - 1) * sizeof *g->kv);
    g->n_kv--;
    index_rebuild(&g->kix, g->n_kv, kv_key_at, g);
    return 1;
}

/* ===== Licence ===== */

void tc_graph_license(const tc_graph *g, tc_license *out)
{
    out->id = tc_graph_get_str(g, "general.license");
    out->name = tc_graph_get_str(g, "general.license.name");
    out->link = tc_graph_get_str(g, "general.license.link");
    out->source = (out->id || out->name || out->link) ? g->license_source : NULL;
}

static tc_status license_field(tc_graph *g, const char *key, const char *v, tc_err *e)
{
    if (v == NULL)
        return TC_OK;
    if (*v == 0) {
        tc_graph_del(g, key);
        return TC_OK;
    }
    return tc_graph_set_str(g, key, v, e);
}

tc_status tc_graph_set_license(tc_graph *g, const char *id, const char *name, const char *link,
                               const char *source, tc_err *e)
{
    TC_TRY(license_field(g, "general.license", id, e));
    TC_TRY(license_field(g, "general.license.name", name, e));
    TC_TRY(license_field(g, "general.license.link", link, e));
    if (source) {
        g->license_source = tc_graph_strdup(g, source, strlen(source));
        if (g->license_source == NULL)
            return tc_err_nomem(e);
    }
    return TC_OK;
}

/* ===== Provenance and notes ===== */

tc_status tc_graph_set_format(tc_graph *g, const char *format, const char *version, tc_err *e)
{
    g->format = format ? tc_graph_strdup(g, format, strlen(format)) : NULL;
    g->format_version = version ? tc_graph_strdup(g, version, strlen(version)) : NULL;
    if ((format && !g->format) || (version && !g->format_version))
        return tc_err_nomem(e);
    return TC_OK;
}

const char *tc_graph_format(const tc_graph *g)
{
    return g->format;
}

const char *tc_graph_format_version(const tc_graph *g)
{
    return g->format_version;
}

tc_status tc_graph_add_source(tc_graph *g, const char *path, uint64_t size, tc_err *e)
{
    const char **s = tc_realloc(g->sources, (g->n_sources + 1) * sizeof *s);
    if (s == NULL)
        return tc_err_nomem(e);
    g->sources = s;
    uint64_t *z = tc_realloc(g->source_sizes, (g->n_sources + 1) * sizeof *z);
    if (z == NULL)
        return tc_err_nomem(e);
    g->source_sizes = z;
    if ((s[g->n_sources] = tc_graph_strdup(g, path, strlen(path))) == NULL)
        return tc_err_nomem(e);
    z[g->n_sources] = size;
    g->n_sources++;
    return TC_OK;
}

size_t tc_graph_n_sources(const tc_graph *g)
{
    return g->n_sources;
}

const char *tc_graph_source(const tc_graph *g, size_t i, uint64_t *size)
{
    if (i >= g->n_sources)
        return NULL;
    if (size)
        *size = g->source_sizes[i];
    return g->sources[i];
}

tc_status tc_graph_add_note(tc_graph *g, tc_err *e, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (g->n_notes >= 10000) /* keep it bounded: hostile inputs can have many entries */
        return TC_OK;
    const char **n = tc_realloc(g->notes, (g->n_notes + 1) * sizeof *n);
    if (n == NULL)
        return tc_err_nomem(e);
    g->notes = n;
    if ((n[g->n_notes] = tc_graph_strdup(g, buf, strlen(buf))) == NULL)
        return tc_err_nomem(e);
    g->n_notes++;
    return TC_OK;
}

size_t tc_graph_n_notes(const tc_graph *g)
{
    return g->n_notes;
}

const char *tc_graph_note(const tc_graph *g, size_t i)
{
    return i < g->n_notes ? g->notes[i] : NULL;
}
