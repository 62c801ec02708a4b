/*
 * gguf_oracle.h - the two independent GGUF readers the tests compare against: ggml's own C
 * reader/writer in libggml-base.so (llama.cpp, looked up with dlsym) and @huggingface/gguf
 * (node, through scripts/oracle/gguf_oracle.mjs). Shared by check_gguf.c and check_roundtrip.c.
 */
#ifndef TC_GGUF_ORACLE_H
#define TC_GGUF_ORACLE_H

#include "oracle.h"
#include "tc_impl.h"
#include "tc_test.h"

#include <jansson.h>
#include <stdbool.h>
#include <unistd.h>

/* ===== ggml's gguf API (ggml include/gguf.h, ggml.h), looked up at run time ===== */

struct ggml_context;
struct ggml_tensor;
struct gguf_context;
struct gguf_init_params {
    bool no_alloc;
    struct ggml_context **ctx;
};
struct ggml_init_params {
    size_t mem_size;
    void *mem_buffer;
    bool no_alloc;
};

typedef struct ggml_api {
    struct gguf_context *(*init_from_file)(const char *, struct gguf_init_params);
    struct gguf_context *(*init_empty)(void);
    void (*free_)(struct gguf_context *);
    uint32_t (*get_version)(const struct gguf_context *);
    size_t (*get_alignment)(const struct gguf_context *);
    size_t (*get_data_offset)(const struct gguf_context *);
    int64_t (*get_n_kv)(const struct gguf_context *);
    const char *(*get_key)(const struct gguf_context *, int64_t);
    int (*get_kv_type)(const struct gguf_context *, int64_t);
    int (*get_arr_type)(const struct gguf_context *, int64_t);
    size_t (*get_arr_n)(const struct gguf_context *, int64_t);
    const void *(*get_arr_data)(const struct gguf_context *, int64_t);
    const char *(*get_arr_str)(const struct gguf_context *, int64_t, size_t);
    const void *(*get_val_data)(const struct gguf_context *, int64_t);
    const char *(*get_val_str)(const struct gguf_context *, int64_t);
    int64_t (*get_n_tensors)(const struct gguf_context *);
    const char *(*get_tensor_name)(const struct gguf_context *, int64_t);
    int (*get_tensor_type)(const struct gguf_context *, int64_t);
    size_t (*get_tensor_offset)(const struct gguf_context *, int64_t);
    const int64_t *(*get_tensor_ne)(const struct gguf_context *, int64_t);
    /* writer side */
    void (*set_val_u8)(struct gguf_context *, const char *, uint8_t);
    void (*set_val_i8)(struct gguf_context *, const char *, int8_t);
    void (*set_val_u16)(struct gguf_context *, const char *, uint16_t);
    void (*set_val_i16)(struct gguf_context *, const char *, int16_t);
    void (*set_val_u32)(struct gguf_context *, const char *, uint32_t);
    void (*set_val_i32)(struct gguf_context *, const char *, int32_t);
    void (*set_val_f32)(struct gguf_context *, const char *, float);
    void (*set_val_u64)(struct gguf_context *, const char *, uint64_t);
    void (*set_val_i64)(struct gguf_context *, const char *, int64_t);
    void (*set_val_f64)(struct gguf_context *, const char *, double);
    void (*set_val_bool)(struct gguf_context *, const char *, bool);
    void (*set_val_str)(struct gguf_context *, const char *, const char *);
    void (*set_arr_data)(struct gguf_context *, const char *, int, const void *, size_t);
    void (*set_arr_str)(struct gguf_context *, const char *, const char **, size_t);
    void (*add_tensor)(struct gguf_context *, const struct ggml_tensor *);
    bool (*write_to_file)(const struct gguf_context *, const char *, bool);
    struct ggml_context *(*ggml_init)(struct ggml_init_params);
    void (*ggml_free)(struct ggml_context *);
    struct ggml_tensor *(*new_tensor)(struct ggml_context *, int, int, const int64_t *);
    struct ggml_tensor *(*set_name)(struct ggml_tensor *, const char *);
    void *(*get_data)(const struct ggml_tensor *);
    size_t (*nbytes)(const struct ggml_tensor *);
} ggml_api;

static inline int ggml_load(ggml_api *a)
{
#define SYM(field, name)                                                                           \
    do {                                                                                           \
        *(void **)&a->field = tc_oracle_sym(name);                                                 \
        if (a->field == NULL)                                                                      \
            return 0;                                                                              \
    } while (0)
    SYM(init_from_file, "gguf_init_from_file");
    SYM(init_empty, "gguf_init_empty");
    SYM(free_, "gguf_free");
    SYM(get_version, "gguf_get_version");
    SYM(get_alignment, "gguf_get_alignment");
    SYM(get_data_offset, "gguf_get_data_offset");
    SYM(get_n_kv, "gguf_get_n_kv");
    SYM(get_key, "gguf_get_key");
    SYM(get_kv_type, "gguf_get_kv_type");
    SYM(get_arr_type, "gguf_get_arr_type");
    SYM(get_arr_n, "gguf_get_arr_n");
    SYM(get_arr_data, "gguf_get_arr_data");
    SYM(get_arr_str, "gguf_get_arr_str");
    SYM(get_val_data, "gguf_get_val_data");
    SYM(get_val_str, "gguf_get_val_str");
    SYM(get_n_tensors, "gguf_get_n_tensors");
    SYM(get_tensor_name, "gguf_get_tensor_name");
    SYM(get_tensor_type, "gguf_get_tensor_type");
    SYM(get_tensor_offset, "gguf_get_tensor_offset");
    SYM(get_tensor_ne, "gguf_get_tensor_ne");
    SYM(set_val_u8, "gguf_set_val_u8");
    SYM(set_val_i8, "gguf_set_val_i8");
    SYM(set_val_u16, "gguf_set_val_u16");
    SYM(set_val_i16, "gguf_set_val_i16");
    SYM(set_val_u32, "gguf_set_val_u32");
    SYM(set_val_i32, "gguf_set_val_i32");
    SYM(set_val_f32, "gguf_set_val_f32");
    SYM(set_val_u64, "gguf_set_val_u64");
    SYM(set_val_i64, "gguf_set_val_i64");
    SYM(set_val_f64, "gguf_set_val_f64");
    SYM(set_val_bool, "gguf_set_val_bool");
    SYM(set_val_str, "gguf_set_val_str");
    SYM(set_arr_data, "gguf_set_arr_data");
    SYM(set_arr_str, "gguf_set_arr_str");
    SYM(add_tensor, "gguf_add_tensor");
    SYM(write_to_file, "gguf_write_to_file");
    SYM(ggml_init, "ggml_init");
    SYM(ggml_free, "ggml_free");
    SYM(new_tensor, "ggml_new_tensor");
    SYM(set_name, "ggml_set_name");
    SYM(get_data, "ggml_get_data");
    SYM(nbytes, "ggml_nbytes");
#undef SYM
    return 1;
}

/* Deep equality of two values. */
static inline int value_eq(const tc_value *a, const tc_value *b)
{
    if (a->type != b->type)
        return 0;
    switch (a->type) {
    case TC_V_STR:
        return a->s.len == b->s.len && memcmp(a->s.p, b->s.p, (size_t)a->s.len) == 0;
    case TC_V_F32:
    case TC_V_F64:
        return memcmp(&a->f, &b->f, sizeof a->f) == 0;
    case TC_V_ARR:
        if (a->arr.elem != b->arr.elem || a->arr.n != b->arr.n)
            return 0;
        if (a->arr.n == 0)
            return 1;
        if (a->arr.elem == TC_V_STR) {
            const tc_str *x = a->arr.data, *y = b->arr.data;
            for (uint64_t i = 0; i < a->arr.n; i++)
                if (x[i].len != y[i].len || memcmp(x[i].p, y[i].p, (size_t)x[i].len) != 0)
                    return 0;
            return 1;
        }
        if (a->arr.elem == TC_V_ARR) {
            const tc_value *x = a->arr.data, *y = b->arr.data;
            for (uint64_t i = 0; i < a->arr.n; i++)
                if (!value_eq(&x[i], &y[i]))
                    return 0;
            return 1;
        }
        return memcmp(a->arr.data, b->arr.data, (size_t)(a->arr.n * tc_vtype_size(a->arr.elem))) ==
               0;
    default:
        return a->u == b->u;
    }
}

/* One KV a written file must hold. */
typedef struct kv_want {
    const char *key;
    tc_value v;
} kv_want;

/* ===== oracle 1: ggml's reader ===== */

/* Compare ggml's view of `path` with the expected KVs and the tensors [t0, t1) of `g`, whose
 * data must sit at the offsets our reader maps them to (`mine`, read from the same file). */
static inline void check_with_ggml(const ggml_api *a, const char *path, const kv_want *kv,
                                   size_t n_kv, const tc_graph *g, size_t t0, size_t t1,
                                   const tc_graph *mine, uint32_t align)
{
    struct gguf_init_params ip = {true, NULL};
    struct gguf_context *c = a->init_from_file(path, ip);
    ck_assert_msg(c != NULL, "ggml cannot read %s", path);
    ck_assert_uint_eq(a->get_version(c), 3);
    ck_assert_uint_eq(a->get_alignment(c), align);
    ck_assert_int_eq(a->get_n_kv(c), (int64_t)n_kv);
    for (size_t i = 0; i < n_kv; i++) {
        const tc_value *v = &kv[i].v;
        ck_assert_str_eq(a->get_key(c, (int64_t)i), kv[i].key);
        ck_assert_int_eq(a->get_kv_type(c, (int64_t)i), v->type);
        if (v->type == TC_V_STR) {
            ck_assert_str_eq(a->get_val_str(c, (int64_t)i), v->s.p);
        } else if (v->type == TC_V_ARR) {
            ck_assert_int_eq(a->get_arr_type(c, (int64_t)i), v->arr.elem);
            ck_assert_uint_eq(a->get_arr_n(c, (int64_t)i), v->arr.n);
            if (v->arr.elem == TC_V_STR) {
                const tc_str *s = v->arr.data;
                for (uint64_t j = 0; j < v->arr.n; j++)
                    ck_assert_str_eq(a->get_arr_str(c, (int64_t)i, (size_t)j), s[j].p);
            } else if (v->arr.n) {
                ck_assert(memcmp(a->get_arr_data(c, (int64_t)i), v->arr.data,
                                 (size_t)(v->arr.n * tc_vtype_size(v->arr.elem))) == 0);
            }
        } else {
            const void *d = a->get_val_data(c, (int64_t)i);
            uint8_t want[8];
            size_t sz = tc_vtype_size(v->type);
            if (v->type == TC_V_F32) {
                float f = (float)v->f;
                memcpy(want, &f, 4);
            } else if (v->type == TC_V_F64) {
                memcpy(want, &v->f, 8);
            } else {
                uint64_t u = v->u; /* little-endian host: the low bytes */
                memcpy(want, &u, 8);
            }
            ck_assert_msg(memcmp(d, want, sz) == 0, "ggml: value of '%s' differs", kv[i].key);
        }
    }
    ck_assert_int_eq(a->get_n_tensors(c), (int64_t)(t1 - t0));
    size_t data_off = a->get_data_offset(c);
    for (size_t i = t0; i < t1; i++) {
        const tc_tensor *t = tc_graph_tensor(g, i);
        int64_t k = (int64_t)(i - t0);
        ck_assert_str_eq(a->get_tensor_name(c, k), tc_tensor_name(t));
        ck_assert_int_eq(a->get_tensor_type(c, k), tc_tensor_dtype(t));
        const int64_t *ne = a->get_tensor_ne(c, k);
        int nd = tc_tensor_n_dims(t);
        for (int d = 0; d < 4; d++)
            ck_assert_int_eq(ne[d], d < nd ? tc_tensor_shape(t)[nd - 1 - d] : 1);
        /* our reader maps the tensor exactly where ggml says its data is */
        const tc_tensor *mt = tc_graph_find(mine, tc_tensor_name(t));
        const tc_map *m;
        uint64_t off;
        ck_assert_ptr_nonnull(mt);
        ck_assert(tc_tensor_mapped(mt, &m, &off));
        ck_assert_uint_eq(off, data_off + a->get_tensor_offset(c, k));
        ck_assert_str_eq(tc_map_path(m), path);
    }
    a->free_(c);
}

/* ===== oracle 2: @huggingface/gguf ===== */

static inline int have_node(void)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/node_modules/@huggingface/gguf/package.json", TC_ORACLE_DIR);
    return access(p, R_OK) == 0 && system("node --version >/dev/null 2>&1") == 0;
}

static inline json_t *hf_dump(const char *path)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "TC_ORACLE_DIR='%s' node '%s/scripts/oracle/gguf_oracle.mjs' '%s'",
             TC_ORACLE_DIR, TC_SRC_DIR, path);
    FILE *f = popen(cmd, "r");
    ck_assert_ptr_nonnull(f);
    json_error_t je;
    json_t *j = json_loadf(f, 0, &je);
    int st = pclose(f);
    ck_assert_msg(j != NULL && st == 0, "gguf_oracle.mjs failed on %s: %s", path, je.text);
    return j;
}

static inline uint64_t json_u64(const json_t *j)
{
    if (json_is_string(j))
        return strtoull(json_string_value(j), NULL, 10);
    return (uint64_t)json_integer_value(j);
}

static inline int64_t json_i64(const json_t *j)
{
    if (json_is_string(j))
        return strtoll(json_string_value(j), NULL, 10);
    return json_integer_value(j);
}

/* One scalar of type `t` stored at `d` (little-endian) against JSON. */
static inline int hf_scalar_eq(tc_vtype t, const uint8_t *d, const json_t *j)
{
    switch (t) {
    case TC_V_U8:
        return json_integer_value(j) == d[0];
    case TC_V_I8:
        return json_integer_value(j) == (int8_t)d[0];
    case TC_V_BOOL:
        return json_is_boolean(j) && json_is_true(j) == (d[0] != 0);
    case TC_V_U16:
        return json_integer_value(j) == tc_le16(d);
    case TC_V_I16:
        return json_integer_value(j) == (int16_t)tc_le16(d);
    case TC_V_U32:
        return json_integer_value(j) == tc_le32(d);
    case TC_V_I32:
        return json_integer_value(j) == (int32_t)tc_le32(d);
    case TC_V_U64:
        return json_u64(j) == tc_le64(d);
    case TC_V_I64:
        return json_i64(j) == (int64_t)tc_le64(d);
    case TC_V_F32: {
        float f;
        uint32_t u = tc_le32(d);
        memcpy(&f, &u, 4);
        return json_number_value(j) == (double)f;
    }
    case TC_V_F64: {
        double f;
        uint64_t u = tc_le64(d);
        memcpy(&f, &u, 8);
        return json_number_value(j) == f;
    }
    default:
        return 0;
    }
}

static inline int hf_value_eq(const tc_value *v, const json_t *j)
{
    uint8_t d[8];
    switch (v->type) {
    case TC_V_STR:
        return json_is_string(j) && json_string_length(j) == v->s.len &&
               memcmp(json_string_value(j), v->s.p, (size_t)v->s.len) == 0;
    case TC_V_ARR:
        if (!json_is_array(j) || json_array_size(j) != v->arr.n)
            return 0;
        for (uint64_t i = 0; i < v->arr.n; i++) {
            const json_t *x = json_array_get(j, (size_t)i);
            if (v->arr.elem == TC_V_STR) {
                tc_value s = {.type = TC_V_STR, .s = ((const tc_str *)v->arr.data)[i]};
                if (!hf_value_eq(&s, x))
                    return 0;
            } else if (!hf_scalar_eq(v->arr.elem,
                                     (const uint8_t *)v->arr.data + i * tc_vtype_size(v->arr.elem),
                                     x)) {
                return 0;
            }
        }
        return 1;
    case TC_V_F32: {
        float f = (float)v->f;
        memcpy(d, &f, 4);
        return hf_scalar_eq(v->type, d, j);
    }
    case TC_V_F64:
        memcpy(d, &v->f, 8);
        return hf_scalar_eq(v->type, d, j);
    default:
        tc_put64(d, v->u);
        return hf_scalar_eq(v->type, d, j);
    }
}

static inline void check_with_hf(const char *path, const kv_want *kv, size_t n_kv,
                                 const tc_graph *g, size_t t0, size_t t1, const tc_graph *mine)
{
    json_t *j = hf_dump(path);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "version")), 3);
    ck_assert(json_is_true(json_object_get(j, "little_endian")));
    json_t *md = json_object_get(j, "metadata");
    ck_assert_uint_eq(json_array_size(md), n_kv);
    for (size_t i = 0; i < n_kv; i++) {
        json_t *m = json_array_get(md, i);
        ck_assert_str_eq(json_string_value(json_object_get(m, "key")), kv[i].key);
        ck_assert_int_eq(json_integer_value(json_object_get(m, "type")), kv[i].v.type);
        if (kv[i].v.type == TC_V_ARR)
            ck_assert_int_eq(json_integer_value(json_object_get(m, "elem")), kv[i].v.arr.elem);
        ck_assert_msg(hf_value_eq(&kv[i].v, json_object_get(m, "value")),
                      "@huggingface/gguf: value of '%s' differs", kv[i].key);
    }
    json_t *ts = json_object_get(j, "tensors");
    uint64_t data_off = json_u64(json_object_get(j, "data_offset"));
    ck_assert_uint_eq(json_array_size(ts), t1 - t0);
    for (size_t i = t0; i < t1; i++) {
        const tc_tensor *t = tc_graph_tensor(g, i);
        json_t *x = json_array_get(ts, i - t0);
        ck_assert_str_eq(json_string_value(json_object_get(x, "name")), tc_tensor_name(t));
        ck_assert_int_eq(json_integer_value(json_object_get(x, "type")), tc_tensor_dtype(t));
        int nd = tc_tensor_n_dims(t);
        json_t *ne = json_object_get(x, "ne");
        ck_assert_int_eq(json_integer_value(json_object_get(x, "n_dims")), nd);
        ck_assert_uint_eq(json_array_size(ne), (size_t)nd);
        for (int d = 0; d < nd; d++)
            ck_assert_int_eq(json_i64(json_array_get(ne, (size_t)d)),
                             tc_tensor_shape(t)[nd - 1 - d]);
        const tc_tensor *mt = tc_graph_find(mine, tc_tensor_name(t));
        const tc_map *m;
        uint64_t off;
        ck_assert(mt && tc_tensor_mapped(mt, &m, &off));
        ck_assert_uint_eq(off, data_off + json_u64(json_object_get(x, "offset")));
    }
    json_decref(j);
}

/* The KVs a written file must hold, in order: split keys first (split output), then the graph's
 * (general.alignment appended when non-default and absent). */
/*
 * The KVs part `part` of `n_parts` must hold, holding tensors [t0, t1) of `g` (the whole set's
 * graph as read back: its provenance tensor digests cover every tensor). With provenance each
 * part records the xxh64 of its own tensors: part 0 among its keys, later parts as their last.
 */
static inline size_t expected_kvs(const tc_graph *g, int part, int n_parts, uint32_t align,
                                  size_t t0, size_t t1, kv_want *out)
{
    size_t n = 0;
    const char *xk = "tensorcast.provenance.tensor_xxh64";
    const tc_value *xv = tc_graph_get(g, xk);
    tc_value xpart = {0};
    if (xv && xv->type == TC_V_ARR && xv->arr.elem == TC_V_U64 && xv->arr.n >= t1) {
        xpart = *xv;
        xpart.arr.data = (const uint64_t *)xv->arr.data + t0;
        xpart.arr.n = t1 - t0;
    }
    if (n_parts > 1) {
        out[n++] = (kv_want){"split.no", {.type = TC_V_U16, .u = (uint64_t)part}};
        out[n++] = (kv_want){"split.count", {.type = TC_V_U16, .u = (uint64_t)n_parts}};
        out[n++] = (kv_want){"split.tensors.count",
                             {.type = TC_V_I32, .i = (int64_t)tc_graph_n_tensors(g)}};
    }
    if (part != 0) {
        if (align != 32)
            out[n++] = (kv_want){"general.alignment", {.type = TC_V_U32, .u = align}};
        if (xv)
            out[n++] = (kv_want){xk, xpart};
        return n;
    }
    int has_align = 0;
    for (size_t i = 0; i < tc_graph_n_kv(g); i++) {
        out[n].key = tc_graph_kv_key(g, i);
        out[n].v = *tc_graph_kv_value(g, i);
        if (strcmp(out[n].key, "general.alignment") == 0) {
            has_align = 1;
            out[n].v.u = align;
        }
        if (xv && strcmp(out[n].key, xk) == 0)
            out[n].v = xpart;
        n++;
    }
    if (!has_align && align != 32)
        out[n++] = (kv_want){"general.alignment", {.type = TC_V_U32, .u = align}};
    return n;
}

#endif /* TC_GGUF_ORACLE_H */
