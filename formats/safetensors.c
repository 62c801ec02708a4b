/*
 * safetensors.c - safetensors reader and writer.
 *
 * File layout (huggingface/safetensors): 8-byte little-endian header length N, N bytes of UTF-8
 * JSON, then the data section. The JSON object maps tensor names to
 * {"dtype": "F16", "shape": [..], "data_offsets": [begin, end]} (offsets relative to the data
 * section) and may hold "__metadata__", a string-to-string map.
 *
 * Reading checks what the Rust crate checks: header length within the cap and the file, JSON
 * without duplicate keys, every tensor's byte range equal to shape x dtype size, and the ranges,
 * sorted by offset, tiling the data section exactly (no overlap, no hole, no trailing bytes).
 * Tensors are then mapped in place, in file offset order.
 *
 * Metadata: `license`, `license_name`, `license_link` are the graph licence; other string keys
 * are string KVs. Typed KVs (GGUF) are stored as JSON text, their types listed in the key
 * `tensorcast.kv_types`: a JSON object {key: type}, where type is a scalar name of
 * tc_vtype_name() ("u32", "f32", "bool", ...) or "arr[T]" for an array of T (nested:
 * "arr[arr[str]]"; every inner array then has the same element type). Floats are written with
 * 9 (f32) or 17 (f64) significant digits so they parse back exactly; NaN and infinities are
 * written NaN, Infinity, -Infinity as Python's json module does.
 *
 * Sharded sets: a directory of *.safetensors, or a *.safetensors.index.json
 * ({"metadata": {"total_size": N}, "weight_map": {tensor: file}}), read as one graph; written
 * as transformers names them (<stem>-00001-of-00003.safetensors + <stem>.safetensors.index.json).
 */
#include "st_header.h"
#include "st_value.h"
#include "tc_impl.h"

#include <xxhash.h>

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define ST_LICENSE_SOURCE "safetensors __metadata__"

static const char *const safetensors_exts[] = {".safetensors", NULL};

/* The spec's dtype names that map onto ours. */
static const struct {
    const char *name;
    int dtype;
} st_dtypes[] = {
    {"F64", TC_DTYPE_F64},   {"F32", TC_DTYPE_F32},         {"F16", TC_DTYPE_F16},
    {"BF16", TC_DTYPE_BF16}, {"F8_E4M3", TC_DTYPE_F8_E4M3}, {"F8_E5M2", TC_DTYPE_F8_E5M2},
    {"I64", TC_DTYPE_I64},   {"I32", TC_DTYPE_I32},         {"I16", TC_DTYPE_I16},
    {"I8", TC_DTYPE_I8},     {"U64", TC_DTYPE_U64},         {"U32", TC_DTYPE_U32},
    {"U16", TC_DTYPE_U16},   {"U8", TC_DTYPE_U8},           {"BOOL", TC_DTYPE_BOOL},
};
#define ST_N_DTYPES (sizeof st_dtypes / sizeof st_dtypes[0])

int tc_st_dtype_from_name(const char *s)
{
    for (size_t i = 0; i < ST_N_DTYPES; i++)
        if (strcmp(s, st_dtypes[i].name) == 0)
            return st_dtypes[i].dtype;
    return -1;
}

static const char *st_dtype_name(int dtype)
{
    for (size_t i = 0; i < ST_N_DTYPES; i++)
        if (st_dtypes[i].dtype == dtype)
            return st_dtypes[i].name;
    return NULL;
}

/* ===== Probe ===== */

static int st_dir_has_files(const char *path)
{
    DIR *d = opendir(path);
    if (d == NULL)
        return 0;
    struct dirent *de;
    int found = 0;
    while (!found && (de = readdir(d)) != NULL)
        found = de->d_name[0] != '.' && (tc_ends_with(de->d_name, ".safetensors") ||
                                         tc_ends_with(de->d_name, ".safetensors.index.json"));
    closedir(d);
    return found;
}

static int safetensors_probe(const uint8_t *head, size_t n, const char *path)
{
    if (head == NULL)
        return path && st_dir_has_files(path) ? 60 : 0;
    if (n >= 9 && head[8] == '{') {
        uint64_t len = tc_le64(head);
        if (len >= 2 && len <= TC_ST_MAX_HEADER)
            return 100;
    }
    if (path && tc_ends_with(path, ".safetensors.index.json") && n > 0 && head[0] == '{')
        return 100;
    if (path && tc_ends_with(path, ".safetensors"))
        return 10;
    return 0;
}

/* ===== Reading ===== */

typedef st_hdr_ent st_ent;

static int st_ent_cmp(const void *a, const void *b)
{
    const st_ent *x = a, *y = b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end)
        return x->end < y->end ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static int st_name_cmp(const void *a, const void *b);

/* __metadata__ -> graph metadata and licence. */
static tc_status st_read_metadata(tc_graph *g, json_t *meta, const char *file, tc_err *e)
{
    if (!json_is_object(meta))
        return tc_err_set(e, TC_E_FORMAT,
                          "%s @0x8: __metadata__ is not an object (it must map strings to "
                          "strings)",
                          file);
    const char *key;
    json_t *val;
    json_object_foreach(meta, key, val)
    {
        if (key[0] == 0 || strlen(key) > TC_MAX_KEY)
            return tc_err_set(e, TC_E_FORMAT,
                              "%s @0x8: __metadata__ key of %zu bytes (must be 1..%d)", file,
                              strlen(key), TC_MAX_KEY);
        if (!json_is_string(val))
            return tc_err_set(e, TC_E_FORMAT,
                              "%s @0x8: __metadata__ '%s' is not a string (__metadata__ must map "
                              "strings to strings)",
                              file, key);
    }
    json_t *types = NULL;
    json_t *tv = json_object_get(meta, ST_KV_TYPES);
    if (tv) {
        json_error_t je;
        types =
            json_loadb(json_string_value(tv), json_string_length(tv), JSON_REJECT_DUPLICATES, &je);
        if (!json_is_object(types)) {
            json_decref(types);
            return tc_err_set(e, TC_E_FORMAT,
                              "%s @0x8: __metadata__ '" ST_KV_TYPES "' is not a JSON object of "
                              "type names",
                              file);
        }
    }
    tc_status rc = TC_OK;
    const char *lic[3] = {NULL, NULL, NULL};
    json_object_foreach(meta, key, val)
    {
        if (strcmp(key, ST_KV_TYPES) == 0)
            continue;
        if (strcmp(key, "license") == 0) {
            lic[0] = json_string_value(val);
            continue;
        }
        if (strcmp(key, "license_name") == 0) {
            lic[1] = json_string_value(val);
            continue;
        }
        if (strcmp(key, "license_link") == 0) {
            lic[2] = json_string_value(val);
            continue;
        }
        json_t *ty = types ? json_object_get(types, key) : NULL;
        tc_value v = {.type = TC_V_STR, .s = {json_string_value(val), json_string_length(val)}};
        if (ty == NULL) {
            rc = tc_graph_set(g, key, &v, e);
        } else {
            st_vdesc d;
            if (!json_is_string(ty) || tc_stv_type_parse(json_string_value(ty), &d) != 0) {
                rc = tc_err_set(e, TC_E_FORMAT,
                                "%s @0x8: __metadata__ '" ST_KV_TYPES "': bad type for '%s'", file,
                                key);
                break;
            }
            if (d.depth == 0 && d.base == TC_V_STR) {
                rc = tc_graph_set(g, key, &v, e);
            } else {
                tc_value x;
                rc = tc_stv_parse(v.s.p, v.s.len, &d, file, key, &x, e);
                if (rc == TC_OK) {
                    rc = tc_graph_set(g, key, &x, e);
                    tc_stv_release(&x);
                }
            }
        }
        if (rc != TC_OK)
            break;
    }
    if (rc == TC_OK && (lic[0] || lic[1] || lic[2]))
        rc = tc_graph_set_license(g, lic[0], lic[1], lic[2], ST_LICENSE_SOURCE, e);
    json_decref(types);
    return rc;
}

/* Read one JSON integer >= 0 (returns -1 when it is not one). */
/*
 * Parse one safetensors file held by `m` and append its tensors to `g`. When `weight_map` is
 * given (sharded set with an index), every tensor must be listed there under `shard`.
 */
static tc_status st_parse_map(tc_map *m, tc_graph *g, json_t *weight_map, const char *shard,
                              tc_err *e)
{
    const char *file = tc_map_path(m);
    const uint8_t *data = tc_map_data(m);
    uint64_t size = tc_map_size(m);
    if (size < 8)
        return tc_err_set(e, TC_E_FORMAT,
                          "%s @0x0: truncated: %" PRIu64
                          " bytes, a safetensors file starts with an 8-byte header length",
                          file, size);
    uint64_t hlen = tc_le64(data);
    if (hlen > TC_ST_MAX_HEADER)
        return tc_err_set(e, TC_E_LIMIT,
                          "%s @0x0: header length %" PRIu64 " exceeds the cap of %u bytes", file,
                          hlen, (unsigned)TC_ST_MAX_HEADER);
    if (hlen > size - 8)
        return tc_err_set(e, TC_E_FORMAT,
                          "%s @0x0: header length %" PRIu64
                          " runs past the end of the file (%" PRIu64 " bytes)",
                          file, hlen, size);
    /* one pass over the header text, no JSON tree: memory a small multiple of the header */
    st_hdr h;
    TC_TRY(tc_st_header_scan(data + 8, hlen, file, &h, e));
    tc_status rc = TC_OK;
    json_t *meta = NULL;
    st_ent *ents = h.ents;
    size_t n = h.n;
    uint64_t data_off = 8 + hlen, data_size = size - 8 - hlen;
    /* names are unique (serde refuses duplicate keys): sorted by name, neighbours differ */
    if (n > 1) {
        const char **nm = tc_malloc(n * sizeof *nm);
        if (nm == NULL) {
            rc = tc_err_nomem(e);
            goto done;
        }
        for (size_t i = 0; i < n; i++)
            nm[i] = ents[i].name;
        qsort(nm, n, sizeof *nm, st_name_cmp);
        for (size_t i = 1; i < n && rc == TC_OK; i++)
            if (strcmp(nm[i - 1], nm[i]) == 0)
                rc = tc_err_set(e, TC_E_FORMAT,
                                "%s @0x8: duplicate tensor name in the header ('%s' twice)", file,
                                nm[i]);
        tc_free(nm);
        if (rc != TC_OK)
            goto done;
    }
    for (size_t i = 0; i < n; i++) {
        st_ent *t = &ents[i];
        const char *key = t->name;
        uint64_t count = 1;
        for (int d = 0; d < t->n_dims; d++)
            if (!tc_mul_ok(count, (uint64_t)t->shape[d], &count)) {
                rc = tc_err_set(e, TC_E_FORMAT,
                                "%s @0x8: tensor '%s': element count overflows 64 bits", file, key);
                goto done;
            }
        uint64_t nbytes;
        if (!tc_mul_ok(count, tc_dtype_get(t->dtype)->size, &nbytes) || nbytes > INT64_MAX) {
            rc = tc_err_set(e, TC_E_FORMAT, "%s @0x8: tensor '%s': byte size overflows 64 bits",
                            file, key);
            goto done;
        }
        if (t->begin > t->end) {
            rc = tc_err_set(e, TC_E_FORMAT,
                            "%s @0x8: tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64
                            "] end before they begin",
                            file, key, t->begin, t->end);
            goto done;
        }
        if (t->end > data_size) {
            rc = tc_err_set(e, TC_E_FORMAT,
                            "%s @%#" PRIx64 ": tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64
                            "] out of bounds: the data section has %" PRIu64 " bytes",
                            file, data_off + (t->begin < data_size ? t->begin : data_size), key,
                            t->begin, t->end, data_size);
            goto done;
        }
        if (t->end - t->begin != nbytes) {
            rc = tc_err_set(e, TC_E_FORMAT,
                            "%s @%#" PRIx64 ": tensor '%s': data_offsets span %" PRIu64
                            " bytes, but its shape and dtype %s need %" PRIu64,
                            file, data_off + t->begin, key, t->end - t->begin,
                            st_dtype_name(t->dtype), nbytes);
            goto done;
        }
    }
    if (h.meta) { /* only the metadata goes through jansson (capped by the scanner) */
        json_error_t je;
        meta = json_loadb(h.meta, h.meta_len,
                          JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL | JSON_DECODE_ANY, &je);
        if (meta == NULL) {
            rc =
                tc_err_set(e, TC_E_FORMAT, "%s: __metadata__ is not valid JSON: %s", file, je.text);
            goto done;
        }
    }
    /* the ranges, in offset order, must tile the data section exactly */
    if (n > 1)
        qsort(ents, n, sizeof *ents, st_ent_cmp);
    uint64_t at = 0;
    for (size_t i = 0; i < n; i++) {
        if (ents[i].begin < at) {
            rc = tc_err_set(
                e, TC_E_FORMAT,
                "%s @%#" PRIx64 ": tensor '%s' overlaps tensor '%s' (data_offsets %" PRIu64
                " < %" PRIu64 ")",
                file, data_off + ents[i].begin, ents[i].name, ents[i - 1].name, ents[i].begin, at);
            goto done;
        }
        if (ents[i].begin > at) {
            rc = tc_err_set(e, TC_E_FORMAT,
                            "%s @%#" PRIx64 ": hole of %" PRIu64 " bytes before tensor '%s'%s%s%s",
                            file, data_off + at, ents[i].begin - at, ents[i].name,
                            i ? " (after '" : "", i ? ents[i - 1].name : "", i ? "')" : "");
            goto done;
        }
        at = ents[i].end;
    }
    if (at != data_size) {
        rc = tc_err_set(e, TC_E_FORMAT,
                        "%s @%#" PRIx64 ": %" PRIu64
                        " trailing bytes after the last tensor (the data section must end with "
                        "it)",
                        file, data_off + at, data_size - at);
        goto done;
    }
    if (meta && !json_is_null(meta)) { /* null: no metadata, as serde reads an Option */
        rc = st_read_metadata(g, meta, file, e);
        if (rc != TC_OK)
            goto done;
    }
    for (size_t i = 0; i < n; i++) {
        st_ent *t = &ents[i];
        if (weight_map) {
            json_t *w = json_object_get(weight_map, t->name);
            if (w == NULL) {
                rc = tc_err_set(e, TC_E_FORMAT, "%s: tensor '%s' is not listed in the index", file,
                                t->name);
                goto done;
            }
            if (strcmp(json_string_value(w), shard) != 0) {
                rc = tc_err_set(e, TC_E_FORMAT,
                                "%s: tensor '%s' is here, but the index puts it in '%s'", file,
                                t->name, json_string_value(w));
                goto done;
            }
        }
        if (tc_graph_find(g, t->name)) {
            rc = tc_err_set(e, TC_E_FORMAT,
                            "%s: tensor '%s' is also in another file of this set (names must be "
                            "unique)",
                            file, t->name);
            goto done;
        }
        tc_tensor *tt;
        rc = tc_graph_add_tensor(g, t->name, t->dtype, t->n_dims, t->shape, &tt, e);
        if (rc == TC_OK)
            rc = tc_tensor_set_mapped(tt, m, data_off + t->begin, e);
        if (rc != TC_OK)
            goto done;
    }
    rc = tc_graph_add_source(g, file, size, e);
done:
    tc_st_header_free(&h);
    json_decref(meta);
    return rc;
}

static tc_status st_read_file(const char *path, tc_graph *g, json_t *weight_map, const char *shard,
                              tc_err *e)
{
    tc_map *m;
    TC_TRY(tc_map_open(path, &m, e));
    tc_status rc = st_parse_map(m, g, weight_map, shard, e);
    tc_map_unref(m); /* tensors hold their own references */
    return rc;
}

static int st_name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A shard name from an index: a plain file name in the index's directory. */
static int st_shard_name_ok(const char *s)
{
    return s[0] && strchr(s, '/') == NULL && strchr(s, '\\') == NULL && strcmp(s, ".") != 0 &&
           strcmp(s, "..") != 0;
}

static tc_status st_read_index(const char *path, tc_graph *g, tc_err *e)
{
    tc_map *m;
    TC_TRY(tc_map_open(path, &m, e));
    tc_status rc = TC_OK;
    json_t *root = NULL;
    char **files = NULL;
    size_t n_files = 0;
    char *dir = NULL;
    if (tc_map_size(m) > TC_ST_MAX_HEADER) {
        rc = tc_err_set(e, TC_E_LIMIT, "%s: index of %" PRIu64 " bytes exceeds the cap of %u", path,
                        tc_map_size(m), (unsigned)TC_ST_MAX_HEADER);
        goto done;
    }
    json_error_t je;
    root = json_loadb((const char *)tc_map_data(m), (size_t)tc_map_size(m), JSON_REJECT_DUPLICATES,
                      &je);
    if (root == NULL) {
        rc = tc_err_set(e, TC_E_FORMAT, "%s @%#x: index is not valid JSON: %s", path,
                        je.position > 0 ? je.position : 0, je.text);
        goto done;
    }
    json_t *wm = json_object_get(root, "weight_map");
    json_t *md = json_object_get(root, "metadata");
    if (!json_is_object(root) || !json_is_object(wm) ||
        (md && !json_is_object(md) && !json_is_null(md))) {
        rc = tc_err_set(e, TC_E_FORMAT,
                        "%s: index must be an object with \"weight_map\" (object) and optional "
                        "\"metadata\" (object)",
                        path);
        goto done;
    }
    size_t nw = json_object_size(wm);
    files = tc_calloc(nw ? nw : 1, sizeof *files);
    if (files == NULL) {
        rc = tc_err_nomem(e);
        goto done;
    }
    const char *key;
    json_t *val;
    json_object_foreach(wm, key, val)
    {
        if (!json_is_string(val) || !st_shard_name_ok(json_string_value(val))) {
            rc = tc_err_set(e, TC_E_FORMAT,
                            "%s: weight_map['%s'] must name a file in the same directory (no "
                            "path separators, no '..')",
                            path, key);
            goto done;
        }
        files[n_files++] = (char *)json_string_value(val);
    }
    qsort(files, n_files, sizeof *files, st_name_cmp);
    size_t u = 0;
    for (size_t i = 0; i < n_files; i++)
        if (u == 0 || strcmp(files[u - 1], files[i]) != 0)
            files[u++] = files[i];
    n_files = u;
    if (n_files > TC_MAX_SHARDS) {
        rc = tc_err_set(e, TC_E_LIMIT, "%s: %zu shards (at most %d)", path, n_files, TC_MAX_SHARDS);
        goto done;
    }
    dir = tc_path_dir(path);
    if (dir == NULL) {
        rc = tc_err_nomem(e);
        goto done;
    }
    for (size_t i = 0; i < n_files && rc == TC_OK; i++) {
        char *p = tc_path_join(dir, files[i]);
        if (p == NULL) {
            rc = tc_err_nomem(e);
            break;
        }
        struct stat st;
        if (stat(p, &st) != 0)
            rc = tc_err_set(e, TC_E_FORMAT, "%s: the index lists shard '%s', which is missing",
                            path, files[i]);
        else
            rc = st_read_file(p, g, wm, files[i], e);
        tc_free(p);
    }
    if (rc != TC_OK)
        goto done;
    json_object_foreach(wm, key, val)
    {
        if (tc_graph_find(g, key) == NULL) {
            rc = tc_err_set(e, TC_E_FORMAT,
                            "%s: the index lists tensor '%s' in '%s', which does not hold it", path,
                            key, json_string_value(val));
            goto done;
        }
    }
done:
    tc_free(dir);
    tc_free(files);
    json_decref(root);
    tc_map_unref(m);
    return rc;
}

static tc_status st_read_dir(const char *path, tc_graph *g, tc_err *e)
{
    char *idx = tc_path_join(path, "model.safetensors.index.json");
    if (idx == NULL)
        return tc_err_nomem(e);
    struct stat st;
    if (stat(idx, &st) == 0) {
        tc_status rc = st_read_index(idx, g, e);
        tc_free(idx);
        return rc;
    }
    tc_free(idx);
    DIR *d = opendir(path);
    if (d == NULL)
        return tc_err_sys(e, TC_E_IO, errno, "%s: cannot open directory", path);
    char **names = NULL, *one_index = NULL;
    size_t n = 0, cap = 0, n_index = 0;
    tc_status rc = TC_OK;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        if (tc_ends_with(de->d_name, ".safetensors.index.json")) {
            n_index++;
            tc_free(one_index);
            one_index = tc_strdup(de->d_name);
            if (one_index == NULL) {
                rc = tc_err_nomem(e);
                break;
            }
            continue;
        }
        if (!tc_ends_with(de->d_name, ".safetensors"))
            continue;
        if (n >= TC_MAX_SHARDS) {
            rc = tc_err_set(e, TC_E_LIMIT, "%s: more than %d .safetensors files", path,
                            TC_MAX_SHARDS);
            break;
        }
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            char **nn = tc_realloc(names, cap * sizeof *names);
            if (nn == NULL) {
                rc = tc_err_nomem(e);
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
    if (rc == TC_OK && n_index == 1) {
        char *p = tc_path_join(path, one_index);
        rc = p ? st_read_index(p, g, e) : tc_err_nomem(e);
        tc_free(p);
        goto done;
    }
    if (rc == TC_OK && n == 0)
        rc = tc_err_set(e, TC_E_FORMAT, "%s: no .safetensors files in this directory", path);
    if (rc != TC_OK)
        goto done;
    qsort(names, n, sizeof *names, st_name_cmp);
    for (size_t i = 0; i < n && rc == TC_OK; i++) {
        char *p = tc_path_join(path, names[i]);
        rc = p ? st_read_file(p, g, NULL, NULL, e) : tc_err_nomem(e);
        tc_free(p);
    }
done:
    for (size_t i = 0; i < n; i++)
        tc_free(names[i]);
    tc_free(names);
    tc_free(one_index);
    return rc;
}

static tc_status safetensors_read(const char *path, tc_graph *g, const tc_read_opts *opt, tc_err *e)
{
    (void)opt;
    tc_status rc;
    if (tc_is_dir(path))
        rc = st_read_dir(path, g, e);
    else if (tc_ends_with(path, ".index.json"))
        rc = st_read_index(path, g, e);
    else
        rc = st_read_file(path, g, NULL, NULL, e);
    if (rc == TC_OK)
        rc = tc_graph_set_format(g, "safetensors", NULL, e);
    return rc;
}

static tc_status safetensors_read_map(tc_map *m, tc_graph *g, const tc_read_opts *opt, tc_err *e)
{
    (void)opt;
    TC_TRY(st_parse_map(m, g, NULL, NULL, e));
    return tc_graph_set_format(g, "safetensors", NULL, e);
}

/* ===== Writing ===== */

/* Keys that are bookkeeping of other formats: not carried into safetensors. */
static int st_skip_key(const char *k)
{
    return strncmp(k, "split.", 6) == 0 || strcmp(k, "general.alignment") == 0 ||
           strcmp(k, ST_KV_TYPES) == 0 || tc_prov_is_key(k);
}

/* Build the __metadata__ object (NULL in *out when there is nothing to write). */
static tc_status st_build_metadata(const tc_graph *g, json_t **out, tc_err *e)
{
    *out = NULL;
    json_t *meta = json_object(), *types = json_object();
    st_buf b = {0};
    tc_status rc = TC_OK;
    if (meta == NULL || types == NULL) {
        rc = tc_err_nomem(e);
        goto done;
    }
    for (size_t i = 0; i < tc_graph_n_kv(g); i++) {
        const char *k = tc_graph_kv_key(g, i);
        const tc_value *v = tc_graph_kv_value(g, i);
        if (st_skip_key(k))
            continue;
        const char *name = k;
        if (v->type == TC_V_STR) {
            if (strcmp(k, "general.license") == 0)
                name = "license";
            else if (strcmp(k, "general.license.name") == 0)
                name = "license_name";
            else if (strcmp(k, "general.license.link") == 0)
                name = "license_link";
            json_t *s = json_stringn(v->s.p ? v->s.p : "", (size_t)v->s.len);
            if (s == NULL || json_object_set_new(meta, name, s) != 0) {
                rc = tc_err_set(e, TC_E_UNSUPPORTED,
                                "metadata '%s': key or value is not valid UTF-8, which "
                                "safetensors cannot hold",
                                k);
                goto done;
            }
            continue;
        }
        st_vdesc d;
        char tname[128];
        if (tc_stv_desc(v, &d) != 0) {
            rc = tc_err_set(e, TC_E_UNSUPPORTED,
                            "metadata '%s': nested arrays with differing element types cannot be "
                            "written to safetensors",
                            k);
            goto done;
        }
        tc_stv_type_text(&d, tname, sizeof tname);
        b.n = 0;
        if (tc_stv_json(&b, v) != 0) {
            rc = tc_err_set(e, TC_E_UNSUPPORTED,
                            "metadata '%s': a string is not valid UTF-8, which safetensors cannot "
                            "hold",
                            k);
            goto done;
        }
        if (b.oom) {
            rc = tc_err_nomem(e);
            goto done;
        }
        json_t *s = json_stringn(b.p ? b.p : "", b.n);
        if (s == NULL || json_object_set_new(meta, k, s) != 0 ||
            json_object_set_new(types, k, json_string(tname)) != 0) {
            rc = tc_err_set(e, TC_E_UNSUPPORTED, "metadata key '%s' is not valid UTF-8", k);
            goto done;
        }
    }
    if (json_object_size(types) > 0) {
        char *t = json_dumps(types, JSON_COMPACT);
        if (t == NULL || json_object_set_new(meta, ST_KV_TYPES, json_string(t)) != 0) {
            free(t);
            rc = tc_err_nomem(e);
            goto done;
        }
        free(t);
    }
    if (json_object_size(meta) > 0) {
        *out = meta;
        meta = NULL;
    }
done:
    tc_free(b.p);
    json_decref(meta);
    json_decref(types);
    return rc;
}

/*
 * Provenance in __metadata__ (strings only there): version and command as they are,
 * source_names and source_sizes as JSON array text, source_sha256 as comma-separated hex,
 * tensor_xxh64 as 16 hex digits per tensor back to back. The two digest values have their
 * final length from the start (zeros) and are patched in place once known.
 */
static tc_status st_prov_meta(const tc_prov *p, json_t *meta, tc_err *e)
{
    st_buf b = {0};
    int bad = 0;
    for (size_t k = 0; k < TC_PROV_N_KV && !bad; k++) {
        const tc_value *v = tc_prov_value(p, k);
        b.n = 0;
        if (v->type == TC_V_STR) {
            bad = json_object_set_new(meta, tc_prov_key(k), json_stringn(v->s.p, v->s.len)) != 0;
            continue;
        }
        if (k == TC_PROV_SHA) {
            const tc_str *sv = v->arr.data;
            for (uint64_t i = 0; i < v->arr.n; i++) {
                if (i)
                    tc_stv_buf_add(&b, ",", 1);
                tc_stv_buf_add(&b, sv[i].p, (size_t)sv[i].len);
            }
        } else if (k == TC_PROV_XXH) {
            const uint64_t *xv = v->arr.data;
            for (uint64_t i = 0; i < v->arr.n; i++) {
                char h[17];
                snprintf(h, sizeof h, "%016" PRIx64, xv[i]);
                tc_stv_buf_add(&b, h, 16);
            }
        } else if (tc_stv_json(&b, v) != 0) {
            bad = 1;
        }
        bad = bad || b.oom ||
              json_object_set_new(meta, tc_prov_key(k), json_stringn(b.p ? b.p : "", b.n)) != 0;
    }
    tc_free(b.p);
    return bad ? tc_err_set(e, TC_E_UNSUPPORTED, "provenance: a source name is not valid UTF-8")
               : TC_OK;
}

/* Where a __metadata__ string value starts in the header text (compact JSON: "key":"value"). */
static uint64_t st_value_offset(const char *text, const char *key)
{
    char pat[128];
    snprintf(pat, sizeof pat, "\"%s\":\"", key);
    const char *at = strstr(text, pat);
    return at ? (uint64_t)(at - text) + strlen(pat) : 0;
}

/* Write tensors [lo, hi) of `g` as one file into a new (finished, not yet renamed) output;
 * with provenance, left open for the digests to be patched (*poff: their offsets). */
static tc_status st_write_one(const tc_graph *g, const char *path, size_t lo, size_t hi,
                              json_t *meta, tc_write_opts *opt, uint64_t *done, uint64_t total,
                              tc_prov *prov, uint64_t poff[2], tc_out **out, tc_err *e)
{
    XXH64_state_t *xst = NULL;
    *out = NULL;
    json_t *hdr = json_object();
    char *text = NULL;
    tc_out *o = NULL;
    tc_status rc = TC_OK;
    if (hdr == NULL || (meta && json_object_set(hdr, "__metadata__", meta) != 0)) {
        rc = tc_err_nomem(e);
        goto fail;
    }
    uint64_t off = 0;
    for (size_t i = lo; i < hi; i++) {
        const tc_tensor *t = tc_graph_tensor(g, i);
        uint64_t nb = tc_tensor_nbytes(t);
        json_t *shape = json_array(), *ent = json_object(), *offs = json_array();
        int bad = shape == NULL || ent == NULL || offs == NULL;
        for (int d = 0; !bad && d < tc_tensor_n_dims(t); d++)
            bad = json_array_append_new(shape, json_integer(tc_tensor_shape(t)[d])) != 0;
        bad = bad || json_array_append_new(offs, json_integer((json_int_t)off)) != 0 ||
              json_array_append_new(offs, json_integer((json_int_t)(off + nb))) != 0;
        if (!bad) {
            json_object_set_new(ent, "dtype", json_string(st_dtype_name(tc_tensor_dtype(t))));
            json_object_set_new(ent, "shape", shape);
            json_object_set_new(ent, "data_offsets", offs);
            shape = offs = NULL;
        } else {
            json_decref(shape);
            json_decref(offs);
        }
        if (bad || json_object_set_new(hdr, tc_tensor_name(t), ent) != 0) {
            rc = tc_err_set(e, TC_E_UNSUPPORTED,
                            "%s: tensor '%s': name is not valid UTF-8, which safetensors cannot "
                            "hold",
                            path, tc_tensor_name(t));
            goto fail;
        }
        off += nb;
    }
    text = json_dumps(hdr, JSON_COMPACT);
    if (text == NULL) {
        rc = tc_err_nomem(e);
        goto fail;
    }
    size_t len = strlen(text);
    size_t pad = (8 - (8 + len) % 8) % 8; /* data starts 8-byte aligned, as the Rust crate does */
    uint64_t hlen = (uint64_t)len + pad;
    if (hlen > TC_ST_MAX_HEADER) {
        rc = tc_err_set(e, TC_E_LIMIT,
                        "%s: header of %" PRIu64 " bytes exceeds the safetensors cap of %u", path,
                        hlen, (unsigned)TC_ST_MAX_HEADER);
        goto fail;
    }
    uint8_t le[8];
    tc_put64(le, hlen);
    rc = tc_out_open(path, opt != NULL && opt->no_sync, &o, e);
    if (rc == TC_OK)
        rc = tc_out_write(o, le, 8, e);
    if (rc == TC_OK)
        rc = tc_out_write(o, text, len, e);
    if (rc == TC_OK)
        rc = tc_out_write(o, "        ", pad, e);
    if (prov) {
        poff[0] = 8 + st_value_offset(text, TC_PROV_PREFIX "source_sha256");
        poff[1] = 8 + st_value_offset(text, TC_PROV_PREFIX "tensor_xxh64");
        if (poff[0] == 8 || poff[1] == 8)
            rc = tc_err_set(e, TC_E_USAGE, "%s: provenance keys missing from the header", path);
        if (rc == TC_OK && (xst = XXH64_createState()) == NULL)
            rc = tc_err_nomem(e);
    }
    for (size_t i = lo; i < hi && rc == TC_OK; i++) {
        int tap = prov && !tc_prov_covers(prov, i);
        if (tap) {
            XXH64_reset(xst, 0);
            tc_out_tap(o, xst);
        }
        rc = tc_out_write_tensor(o, tc_graph_tensor(g, i), opt, done, total, e);
        if (tap) {
            tc_out_tap(o, NULL);
            tc_prov_set_tensor(prov, i, XXH64_digest(xst));
        }
    }
    if (xst)
        XXH64_freeState(xst);
    if (rc == TC_OK && tc_out_tell(o) != 8 + hlen + off)
        rc = tc_err_set(e, TC_E_IO, "%s: wrote %" PRIu64 " bytes, expected %" PRIu64, path,
                        tc_out_tell(o), 8 + hlen + off);
    if (rc == TC_OK && !prov)
        rc = tc_out_finish(o, e);
    if (rc != TC_OK)
        goto fail;
    free(text);
    json_decref(hdr);
    *out = o;
    return TC_OK;
fail:
    tc_out_abort(o);
    free(text);
    json_decref(hdr);
    return rc;
}

/* The digests are known: patch them into every file's header (same lengths), then finish. */
static tc_status st_prov_patch(tc_prov *prov, tc_out **outs, uint64_t (*poff)[2], size_t n,
                               tc_err *e)
{
    TC_TRY(tc_prov_finish(prov, e));
    st_buf sha = {0}, xxh = {0};
    const tc_value *sv = tc_prov_value(prov, TC_PROV_SHA), *xv = tc_prov_value(prov, TC_PROV_XXH);
    const tc_str *ss = sv->arr.data;
    for (uint64_t i = 0; i < sv->arr.n; i++) {
        if (i)
            tc_stv_buf_add(&sha, ",", 1);
        tc_stv_buf_add(&sha, ss[i].p, (size_t)ss[i].len);
    }
    const uint64_t *xs = xv->arr.data;
    for (uint64_t i = 0; i < xv->arr.n; i++) {
        char h[17];
        snprintf(h, sizeof h, "%016" PRIx64, xs[i]);
        tc_stv_buf_add(&xxh, h, 16);
    }
    tc_status rc = sha.oom || xxh.oom ? tc_err_nomem(e) : TC_OK;
    for (size_t s = 0; s < n && rc == TC_OK; s++) {
        if (sha.n)
            rc = tc_out_pwrite(outs[s], poff[s][0], sha.p, sha.n, e);
        if (rc == TC_OK && xxh.n)
            rc = tc_out_pwrite(outs[s], poff[s][1], xxh.p, xxh.n, e);
        if (rc == TC_OK)
            rc = tc_out_finish(outs[s], e);
    }
    tc_free(sha.p);
    tc_free(xxh.p);
    return rc;
}

/* Forget the written files recorded after the first n0 (they were removed again). */
static void st_unrecord(tc_write_opts *opt, size_t n0)
{
    while (opt && opt->n_written > n0)
        tc_free(opt->written[--opt->n_written]);
}

static tc_status safetensors_write(const tc_graph *g, const char *path, tc_write_opts *opt,
                                   tc_err *e)
{
    if (opt && opt->part_count)
        return tc_err_set(e, TC_E_USAGE, "%s: writing part of a set is for GGUF split outputs",
                          path);
    size_t nt = tc_graph_n_tensors(g);
    uint64_t total = 0;
    for (size_t i = 0; i < nt; i++) {
        const tc_tensor *t = tc_graph_tensor(g, i);
        const tc_dtype_info *di = tc_dtype_get(tc_tensor_dtype(t));
        if (st_dtype_name(tc_tensor_dtype(t)) == NULL)
            return tc_err_set(e, TC_E_UNSUPPORTED,
                              "%s: tensor '%s' has type %s, which safetensors cannot hold "
                              "(convert it to f32/f16/bf16 first)",
                              path, tc_tensor_name(t), di ? di->name : "?");
        if (!tc_add_ok(total, tc_tensor_nbytes(t), &total) || total > INT64_MAX)
            return tc_err_set(e, TC_E_LIMIT, "%s: payload size overflows", path);
    }
    /* greedy packing in tensor order; a tensor over the limit gets a shard of its own */
    uint64_t max = opt ? opt->max_shard_bytes : 0;
    size_t n_shards = 1;
    size_t *first = NULL; /* first tensor of each shard, then nt */
    if (max > 0 && total > max) {
        first = tc_malloc((nt + 2) * sizeof *first);
        if (first == NULL)
            return tc_err_nomem(e);
        n_shards = 0;
        uint64_t cur = 0;
        for (size_t i = 0; i < nt; i++) {
            uint64_t nb = tc_tensor_nbytes(tc_graph_tensor(g, i));
            if (n_shards == 0 || (cur > 0 && (nb > max || cur + nb > max))) {
                first[n_shards++] = i;
                cur = 0;
            }
            cur += nb;
        }
        first[n_shards] = nt;
        if (n_shards > 99999) {
            tc_free(first);
            return tc_err_set(e, TC_E_LIMIT,
                              "%s: %zu shards needed, at most 99999 (raise the shard size)", path,
                              n_shards);
        }
    }
    json_t *meta;
    tc_status rc = st_build_metadata(g, &meta, e);
    if (rc != TC_OK) {
        tc_free(first);
        return rc;
    }
    tc_prov *prov = NULL;
    uint64_t(*poff)[2] = NULL;
    if (opt && opt->provenance) {
        if (meta == NULL && (meta = json_object()) == NULL)
            rc = tc_err_nomem(e);
        if (rc == TC_OK)
            rc = tc_prov_begin(g, opt->provenance, 1, &prov, e);
        if (rc == TC_OK)
            rc = st_prov_meta(prov, meta, e);
        if (rc == TC_OK && (poff = tc_calloc(n_shards, sizeof *poff)) == NULL)
            rc = tc_err_nomem(e);
        if (rc != TC_OK) {
            tc_prov_free(prov);
            json_decref(meta);
            tc_free(first);
            return rc;
        }
    }
    /* every file we will write (shards and index): not an input, not a device */
    for (size_t s = 0; s <= (n_shards > 1 ? n_shards : 0) && rc == TC_OK; s++) {
        char name[4096], *real = NULL;
        size_t sl0 = strlen(path), stem0 = tc_ends_with(path, ".safetensors") ? sl0 - 12 : sl0;
        if (n_shards <= 1)
            snprintf(name, sizeof name, "%s", path);
        else if (s < n_shards)
            snprintf(name, sizeof name, "%.*s-%05zu-of-%05zu.safetensors", (int)stem0, path, s + 1,
                     n_shards);
        else
            snprintf(name, sizeof name, "%.*s.safetensors.index.json", (int)stem0, path);
        rc = tc_out_resolve(name, &real, e);
        if (rc == TC_OK)
            rc = tc_out_check_inputs(g, name, e);
        tc_free(real);
    }
    if (rc != TC_OK) {
        tc_prov_free(prov);
        tc_free(poff);
        json_decref(meta);
        tc_free(first);
        return rc;
    }
    uint64_t done = 0;
    if (n_shards <= 1) {
        tc_out *o;
        size_t n0 = opt ? opt->n_written : 0;
        rc = st_write_one(g, path, 0, nt, meta, opt, &done, total, prov, poff ? poff[0] : NULL, &o,
                          e);
        if (rc == TC_OK && prov && (rc = st_prov_patch(prov, &o, poff, 1, e)) != TC_OK)
            tc_out_abort(o);
        if (rc == TC_OK) { /* record first: nothing can fail once the file is in place */
            rc = tc_opts_add_written(opt, path, e);
            if (rc == TC_OK)
                rc = tc_out_commit(o, e);
            else
                tc_out_abort(o);
            if (rc != TC_OK)
                st_unrecord(opt, n0);
        }
        json_decref(meta);
        tc_free(first);
        tc_prov_free(prov);
        tc_free(poff);
        return rc;
    }

    /* sharded: every file finished as a temporary first, renamed only when all are complete */
    size_t sl = strlen(path);
    size_t stem_len = tc_ends_with(path, ".safetensors") ? sl - 12 : sl;
    size_t n_outs = n_shards + 1; /* shards, then the index */
    tc_out **outs = tc_calloc(n_outs, sizeof *outs);
    char **names = tc_calloc(n_outs, sizeof *names);
    json_t *index = json_object(), *wm = json_object(), *im = json_object();
    char *itext = NULL;
    size_t renamed = 0, n0 = opt ? opt->n_written : 0;
    if (outs == NULL || names == NULL || index == NULL || wm == NULL || im == NULL) {
        rc = tc_err_nomem(e);
        goto sfail;
    }
    for (size_t s = 0; s < n_outs; s++) {
        size_t cap = stem_len + 64;
        if ((names[s] = tc_malloc(cap)) == NULL) {
            rc = tc_err_nomem(e);
            goto sfail;
        }
        if (s < n_shards)
            snprintf(names[s], cap, "%.*s-%05zu-of-%05zu.safetensors", (int)stem_len, path, s + 1,
                     n_shards);
        else
            snprintf(names[s], cap, "%.*s.safetensors.index.json", (int)stem_len, path);
    }
    for (size_t s = 0; s < n_shards && rc == TC_OK; s++) {
        rc = st_write_one(g, names[s], first[s], first[s + 1], meta, opt, &done, total, prov,
                          poff ? poff[s] : NULL, &outs[s], e);
        for (size_t i = first[s]; i < first[s + 1] && rc == TC_OK; i++)
            if (json_object_set_new(wm, tc_tensor_name(tc_graph_tensor(g, i)),
                                    json_string(tc_path_base(names[s]))) != 0)
                rc = tc_err_nomem(e);
    }
    if (rc == TC_OK && prov)
        rc = st_prov_patch(prov, outs, poff, n_shards, e);
    if (rc != TC_OK)
        goto sfail;
    json_object_set_new(im, "total_size", json_integer((json_int_t)total));
    json_object_set(index, "metadata", im);
    json_object_set(index, "weight_map", wm);
    itext = json_dumps(index, JSON_INDENT(2));
    if (itext == NULL) {
        rc = tc_err_nomem(e);
        goto sfail;
    }
    rc = tc_out_open(names[n_shards], opt != NULL && opt->no_sync, &outs[n_shards], e);
    if (rc == TC_OK)
        rc = tc_out_write(outs[n_shards], itext, strlen(itext), e);
    if (rc == TC_OK)
        rc = tc_out_write(outs[n_shards], "\n", 1, e);
    if (rc == TC_OK)
        rc = tc_out_finish(outs[n_shards], e);
    if (rc != TC_OK)
        goto sfail;
    /* record the names first: nothing can fail once files are in place but a rename */
    rc = tc_opts_add_written(opt, names[n_shards], e);
    for (size_t s = 0; s < n_shards && rc == TC_OK; s++)
        rc = tc_opts_add_written(opt, names[s], e);
    if (rc != TC_OK)
        goto sfail;
    /* all complete: rename into place (the index last, so a reader never sees it early) */
    for (size_t s = 0; s < n_outs; s++) {
        tc_out *o = outs[s];
        outs[s] = NULL;
        rc = tc_out_commit(o, e); /* frees o, also on failure */
        if (rc != TC_OK)
            goto sfail;
        renamed = s + 1;
    }
    goto sdone;
sfail:
    st_unrecord(opt, n0);
    for (size_t s = 0; outs && s < n_outs; s++)
        tc_out_abort(outs[s]);
    for (size_t s = 0; s < renamed; s++)
        unlink(names[s]);
sdone:
    for (size_t s = 0; names && s < n_outs; s++)
        tc_free(names[s]);
    tc_free(names);
    tc_free(outs);
    free(itext);
    json_decref(index);
    json_decref(wm);
    json_decref(im);
    json_decref(meta);
    tc_free(first);
    tc_prov_free(prov);
    tc_free(poff);
    return rc;
}

/* safetensors has no block types: they are dequantized. */
static tc_dtype safetensors_stores_as(tc_dtype dtype)
{
    const tc_dtype_info *d = tc_dtype_get(dtype);
    return d && d->is_quant ? TC_DTYPE_F32 : dtype;
}

const tc_format tc_format_safetensors = {
    "safetensors",        safetensors_exts,  safetensors_probe,    safetensors_read,
    safetensors_read_map, safetensors_write, safetensors_stores_as};
