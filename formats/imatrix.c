/*
 * imatrix.c - importance matrices written by llama-imatrix, loaded as llama-quantize loads them.
 *
 * GGUF (current llama-imatrix): for each weight, an F32 tensor `<name>.in_sum2` (ne = {n_per_row,
 *   n_mat}: summed squared activations per matrix/expert) and `<name>.counts` (n_mat values);
 *   `<name>.in_sum` (activations) is ignored. Value = sum / count, or 1 where count is 0.
 *   KVs imatrix.datasets (array of strings) and imatrix.chunk_count (u32).
 * Legacy .dat: i32 n_entries, then per entry i32 name_len, name, i32 ncall, i32 nval,
 *   nval f32; optionally a trailer i32 chunk_count, i32 dataset_len, dataset. Value = sum / ncall
 *   (ncall > 0), else the sum.
 * Every length is checked against what is left of the file; values must be finite (as
 * llama_model_quantize requires).
 */
#include "tc_impl.h"
#include "tensorcast.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define IM_MAX_ENTRIES (1u << 20)

typedef struct im_entry {
    char *name;
    float *v;
    uint64_t n;
} im_entry;

struct tc_imatrix {
    im_entry *e;
    size_t n, cap;
    char *dataset;
    int64_t chunks;
    int legacy;
};

void tc_imatrix_free(tc_imatrix *im)
{
    if (im == NULL)
        return;
    for (size_t i = 0; i < im->n; i++) {
        tc_free(im->e[i].name);
        tc_free(im->e[i].v);
    }
    tc_free(im->e);
    tc_free(im->dataset);
    tc_free(im);
}

size_t tc_imatrix_count(const tc_imatrix *im)
{
    return im ? im->n : 0;
}

const char *tc_imatrix_name(const tc_imatrix *im, size_t i)
{
    return im && i < im->n ? im->e[i].name : NULL;
}

const float *tc_imatrix_values(const tc_imatrix *im, size_t i, uint64_t *n)
{
    if (im == NULL || i >= im->n) {
        *n = 0;
        return NULL;
    }
    *n = im->e[i].n;
    return im->e[i].v;
}

const float *tc_imatrix_find(const tc_imatrix *im, const char *name, uint64_t *n)
{
    *n = 0;
    if (im == NULL)
        return NULL;
    for (size_t i = 0; i < im->n; i++)
        if (strcmp(im->e[i].name, name) == 0) {
            *n = im->e[i].n;
            return im->e[i].v;
        }
    return NULL;
}

const char *tc_imatrix_dataset(const tc_imatrix *im)
{
    return im ? im->dataset : NULL;
}

int64_t tc_imatrix_chunks(const tc_imatrix *im)
{
    return im ? im->chunks : -1;
}

int tc_imatrix_is_legacy(const tc_imatrix *im)
{
    return im ? im->legacy : 0;
}

static int im_contains_any(const char *name, const char *const *subs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strstr(name, subs[i]) != NULL)
            return 1;
    return 0;
}

void tc_imatrix_filter(tc_imatrix *im, const char *const *include, size_t n_include,
                       const char *const *exclude, size_t n_exclude)
{
    if (im == NULL)
        return;
    size_t k = 0;
    for (size_t i = 0; i < im->n; i++) {
        const char *nm = im->e[i].name;
        int keep = (n_include == 0 || im_contains_any(nm, include, n_include)) &&
                   !im_contains_any(nm, exclude, n_exclude);
        if (keep) {
            im->e[k++] = im->e[i];
        } else {
            tc_free(im->e[i].name);
            tc_free(im->e[i].v);
        }
    }
    im->n = k;
}

/* Append an entry taking `name` and `v` (freed on failure); a duplicate name replaces. */
static tc_status im_add(tc_imatrix *im, const char *path, char *name, float *v, uint64_t n,
                        tc_err *e)
{
    for (uint64_t i = 0; i < n; i++)
        if (!isfinite(v[i])) {
            tc_status rc =
                tc_err_set(e, TC_E_FORMAT, "%s: entry '%s': value %" PRIu64 " is not finite (%g)",
                           path, name, i, (double)v[i]);
            tc_free(name);
            tc_free(v);
            return rc;
        }
    for (size_t i = 0; i < im->n; i++)
        if (strcmp(im->e[i].name, name) == 0) {
            tc_free(im->e[i].name);
            tc_free(im->e[i].v);
            im->e[i] = (im_entry){name, v, n};
            return TC_OK;
        }
    if (im->n == im->cap) {
        size_t nc = im->cap ? im->cap * 2 : 64;
        im_entry *ne = tc_realloc(im->e, nc * sizeof *ne);
        if (ne == NULL) {
            tc_free(name);
            tc_free(v);
            return tc_err_nomem(e);
        }
        im->e = ne;
        im->cap = nc;
    }
    im->e[im->n++] = (im_entry){name, v, n};
    return TC_OK;
}

static char *im_strndup(const uint8_t *p, size_t n)
{
    char *s = tc_malloc(n + 1);
    if (s) {
        memcpy(s, p, n);
        s[n] = '\0';
    }
    return s;
}

static tc_status im_i32(tc_cur *c, int32_t *v)
{
    const uint8_t *p = NULL;
    TC_TRY(tc_cur_take(c, 4, &p));
    uint32_t u = tc_le32(p);
    memcpy(v, &u, 4);
    return TC_OK;
}

static tc_status im_load_legacy(tc_imatrix *im, const tc_map *m, const char *path, tc_err *e)
{
    tc_cur c;
    tc_cur_init(&c, tc_map_data(m), tc_map_size(m), path, e);
    int32_t n_entries;
    TC_TRY(im_i32(&c, &n_entries));
    if (n_entries < 1 || (uint64_t)n_entries > tc_cur_left(&c) / 12 ||
        (uint32_t)n_entries > IM_MAX_ENTRIES)
        return tc_err_set(e, TC_E_FORMAT,
                          "%s @0x0: %" PRId32 " entries: not a legacy imatrix file (1..%" PRIu64
                          " entries fit in its size)",
                          path, n_entries, tc_cur_left(&c) / 12);
    im->legacy = 1;
    for (int32_t i = 0; i < n_entries; i++) {
        uint64_t at = tc_cur_off(&c);
        int32_t len, ncall, nval;
        const uint8_t *p = NULL;
        TC_TRY(im_i32(&c, &len));
        if (len < 1 || len >= TC_MAX_NAME || (uint64_t)len > tc_cur_left(&c))
            return tc_err_set(e, TC_E_FORMAT,
                              "%s @%#" PRIx64 ": entry %" PRId32 ": name length %" PRId32
                              " out of range",
                              path, at, i, len);
        TC_TRY(tc_cur_take(&c, (uint64_t)len, &p));
        char *name = im_strndup(p, (size_t)len);
        if (name == NULL)
            return tc_err_nomem(e);
        tc_status rc = im_i32(&c, &ncall);
        if (rc == TC_OK)
            rc = im_i32(&c, &nval);
        if (rc != TC_OK) {
            tc_free(name);
            return rc;
        }
        if (nval < 1 || (uint64_t)nval > tc_cur_left(&c) / 4) {
            rc = tc_err_set(e, TC_E_FORMAT,
                            "%s @%#" PRIx64 ": entry '%s': %" PRId32
                            " values out of range (%" PRIu64 " bytes left)",
                            path, tc_cur_off(&c) - 4, name, nval, tc_cur_left(&c));
            tc_free(name);
            return rc;
        }
        rc = tc_cur_take(&c, (uint64_t)nval * 4, &p); /* cannot fail: checked above */
        float *v = rc == TC_OK ? tc_malloc((size_t)nval * sizeof(float)) : NULL;
        if (v == NULL) {
            tc_free(name);
            return rc != TC_OK ? rc : tc_err_nomem(e);
        }
        for (int32_t k = 0; k < nval; k++) {
            uint32_t u = tc_le32(p + 4 * (size_t)k);
            memcpy(&v[k], &u, 4);
            if (ncall > 0)
                v[k] /= (float)ncall;
        }
        TC_TRY(im_add(im, path, name, v, (uint64_t)nval, e));
    }
    im->chunks = -1;
    if (tc_cur_left(&c) > 0) {
        uint64_t at = tc_cur_off(&c);
        int32_t last_call, dlen;
        const uint8_t *p = NULL;
        TC_TRY(im_i32(&c, &last_call));
        TC_TRY(im_i32(&c, &dlen));
        if (dlen < 0 || (uint64_t)dlen > tc_cur_left(&c))
            return tc_err_set(e, TC_E_FORMAT,
                              "%s @%#" PRIx64 ": dataset name length %" PRId32 " out of range",
                              path, at + 4, dlen);
        TC_TRY(tc_cur_take(&c, (uint64_t)dlen, &p));
        im->chunks = last_call;
        if (dlen > 0 && (im->dataset = im_strndup(p, (size_t)dlen)) == NULL)
            return tc_err_nomem(e);
    }
    return TC_OK;
}

/* Read a whole F32 tensor into a new buffer. */
static tc_status im_read_f32(const tc_tensor *t, const char *path, float **out, uint64_t *n,
                             tc_err *e)
{
    *out = NULL;
    if (tc_tensor_dtype(t) != TC_DTYPE_F32)
        return tc_err_set(e, TC_E_FORMAT, "%s: tensor '%s' is %s, expected f32", path,
                          tc_tensor_name(t), tc_dtype_get(tc_tensor_dtype(t))->name);
    *n = tc_tensor_n_elements(t);
    if (*n == 0 || *n > SIZE_MAX / sizeof(float))
        return tc_err_set(e, TC_E_FORMAT, "%s: tensor '%s' has %" PRIu64 " values", path,
                          tc_tensor_name(t), *n);
    float *v = tc_malloc((size_t)*n * sizeof(float));
    if (v == NULL)
        return tc_err_nomem(e);
    tc_status rc = tc_tensor_read(t, 0, *n, v, e);
    if (rc != TC_OK) {
        tc_free(v);
        return rc;
    }
    *out = v;
    return TC_OK;
}

static tc_status im_load_gguf(tc_imatrix *im, tc_map *m, const char *path, tc_err *e)
{
    tc_graph *g = tc_graph_new();
    if (g == NULL)
        return tc_err_nomem(e);
    tc_status rc = tc_format_gguf.read_map(m, g, NULL, e);
    float *sums = NULL, *counts = NULL;
    if (rc != TC_OK)
        goto fail;
    static const char suffix[] = ".in_sum2";
    for (size_t i = 0; i < tc_graph_n_tensors(g); i++) {
        const tc_tensor *t = tc_graph_tensor(g, i);
        const char *nm = tc_tensor_name(t);
        size_t len = strlen(nm);
        if (len <= sizeof suffix - 1 || strcmp(nm + len - (sizeof suffix - 1), suffix) != 0)
            continue;
        size_t blen = len - (sizeof suffix - 1);
        char cname[TC_MAX_NAME + 16];
        snprintf(cname, sizeof cname, "%.*s.counts", (int)blen, nm);
        const tc_tensor *ct = tc_graph_find(g, cname);
        if (ct == NULL) {
            rc = tc_err_set(e, TC_E_FORMAT, "%s: tensor '%s' has no '%s' beside it", path, nm,
                            cname);
            goto fail;
        }
        uint64_t nsums, ncounts;
        if ((rc = im_read_f32(t, path, &sums, &nsums, e)) != TC_OK ||
            (rc = im_read_f32(ct, path, &counts, &ncounts, e)) != TC_OK)
            goto fail;
        if (nsums % ncounts != 0) {
            rc = tc_err_set(e, TC_E_FORMAT,
                            "%s: tensor '%s': %" PRIu64 " sums do not split into %" PRIu64
                            " matrices",
                            path, nm, nsums, ncounts);
            goto fail;
        }
        uint64_t ne0 = nsums / ncounts;
        for (uint64_t j = 0; j < ncounts; j++)
            for (uint64_t k = 0; k < ne0; k++)
                sums[j * ne0 + k] = counts[j] > 0.0f ? sums[j * ne0 + k] / counts[j] : 1.0f;
        tc_free(counts);
        counts = NULL;
        char *name = im_strndup((const uint8_t *)nm, blen);
        if (name == NULL) {
            rc = tc_err_nomem(e);
            goto fail;
        }
        float *v = sums;
        sums = NULL;
        if ((rc = im_add(im, path, name, v, nsums, e)) != TC_OK)
            goto fail;
    }
    if (im->n == 0) {
        rc = tc_err_set(e, TC_E_FORMAT,
                        "%s: a GGUF file without '<tensor>.in_sum2' entries: "
                        "not an importance matrix",
                        path);
        goto fail;
    }
    const tc_value *v = tc_graph_get(g, "imatrix.chunk_count");
    int64_t ch;
    im->chunks = v && tc_value_to_i64(v, &ch) ? ch : -1;
    v = tc_graph_get(g, "imatrix.datasets");
    if (v && v->type == TC_V_ARR && v->arr.elem == TC_V_STR && v->arr.n > 0) {
        const tc_str *s = v->arr.data;
        if ((im->dataset = im_strndup((const uint8_t *)s->p, (size_t)s->len)) == NULL) {
            rc = tc_err_nomem(e);
            goto fail;
        }
    }
    rc = TC_OK;
fail:
    tc_free(sums);
    tc_free(counts);
    tc_graph_free(g);
    return rc;
}

tc_status tc_imatrix_load_map(tc_map *m, tc_imatrix **out, tc_err *e)
{
    *out = NULL;
    const char *path = tc_map_path(m) ? tc_map_path(m) : "imatrix";
    tc_imatrix *im = tc_calloc(1, sizeof *im);
    if (im == NULL)
        return tc_err_nomem(e);
    tc_status rc;
    if (tc_map_size(m) >= 4 && memcmp(tc_map_data(m), "GGUF", 4) == 0)
        rc = im_load_gguf(im, m, path, e);
    else
        rc = im_load_legacy(im, m, path, e);
    if (rc != TC_OK) {
        tc_imatrix_free(im);
        return rc;
    }
    *out = im;
    return TC_OK;
}

tc_status tc_imatrix_load(const char *path, tc_imatrix **out, tc_err *e)
{
    *out = NULL;
    tc_map *m;
    TC_TRY(tc_map_open(path, &m, e));
    tc_status rc = tc_imatrix_load_map(m, out, e);
    tc_map_unref(m);
    return rc;
}
