/*
 * tc_impl.h - private to the library: the bounds-checked read cursor, little-endian loads,
 * overflow-safe arithmetic and the caps every reader applies (STYLE §5).
 */
#ifndef TC_IMPL_H
#define TC_IMPL_H

#include "tensorcast.h"

#include <inttypes.h>
#include <string.h>

/* ===== Caps (each named; messages give the value) ===== */
#define TC_ST_MAX_HEADER    (100u * 1000u * 1000u) /* safetensors header bytes (as the Rust crate) */
#define TC_GGUF_MAX_STRING  (64u << 20)            /* one GGUF string, bytes */
#define TC_GGUF_MAX_ARRAY   (1u << 30)             /* elements in one GGUF array */
#define TC_GGUF_MAX_KV      (1u << 20)             /* key/value pairs in one GGUF file */
#define TC_GGUF_MAX_TENSORS (1u << 24)             /* tensors in one file */
#define TC_GGUF_MAX_ALIGN   (1u << 20)             /* general.alignment upper bound */
#define TC_MAX_NEST         8                      /* nested arrays depth */
#define TC_MAX_SHARDS       100000                 /* files in one sharded set */

/* ===== Overflow-safe arithmetic ===== */
static inline int tc_add_ok(uint64_t a, uint64_t b, uint64_t *r)
{
    return !__builtin_add_overflow(a, b, r);
}
static inline int tc_mul_ok(uint64_t a, uint64_t b, uint64_t *r)
{
    return !__builtin_mul_overflow(a, b, r);
}

/* ===== Little-endian loads/stores (memcpy: no unaligned casts) ===== */
static inline uint16_t tc_le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}
static inline uint32_t tc_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static inline uint64_t tc_le64(const uint8_t *p)
{
    return (uint64_t)tc_le32(p) | ((uint64_t)tc_le32(p + 4) << 32);
}
static inline void tc_put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
static inline void tc_put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static inline void tc_put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* ===== The read cursor ===== */
typedef struct tc_cur {
    const uint8_t *base, *p, *end;
    const char *what; /* file name for messages */
    tc_err *err;
} tc_cur;

static inline void tc_cur_init(tc_cur *c, const uint8_t *base, uint64_t n, const char *what,
                               tc_err *e)
{
    c->base = c->p = base;
    c->end = base + n;
    c->what = what;
    c->err = e;
}
static inline uint64_t tc_cur_off(const tc_cur *c)
{
    return (uint64_t)(c->p - c->base);
}
static inline uint64_t tc_cur_left(const tc_cur *c)
{
    return (uint64_t)(c->end - c->p);
}
/* Take n bytes (a view into the buffer); never forms p + n before checking what is left. */
static inline tc_status tc_cur_take(tc_cur *c, uint64_t n, const uint8_t **out)
{
    if (n > tc_cur_left(c))
        return tc_err_set(c->err, TC_E_FORMAT,
                          "%s @%#" PRIx64 ": truncated: need %" PRIu64 " bytes, %" PRIu64 " left",
                          c->what, tc_cur_off(c), n, tc_cur_left(c));
    *out = c->p;
    c->p += n;
    return TC_OK;
}
static inline tc_status tc_cur_u8(tc_cur *c, uint8_t *v)
{
    const uint8_t *p = NULL;
    TC_TRY(tc_cur_take(c, 1, &p));
    *v = p[0];
    return TC_OK;
}
static inline tc_status tc_cur_u16(tc_cur *c, uint16_t *v)
{
    const uint8_t *p = NULL;
    TC_TRY(tc_cur_take(c, 2, &p));
    *v = tc_le16(p);
    return TC_OK;
}
static inline tc_status tc_cur_u32(tc_cur *c, uint32_t *v)
{
    const uint8_t *p = NULL;
    TC_TRY(tc_cur_take(c, 4, &p));
    *v = tc_le32(p);
    return TC_OK;
}
static inline tc_status tc_cur_u64(tc_cur *c, uint64_t *v)
{
    const uint8_t *p = NULL;
    TC_TRY(tc_cur_take(c, 8, &p));
    *v = tc_le64(p);
    return TC_OK;
}

/* The scalar of type `t` (not STR/ARR) encoded at `p` (tc_vtype_size(t) bytes, little-endian):
 * a GGUF value, an element of a tc_value array. graph.c */
tc_value tc_value_load(tc_vtype t, const uint8_t *p);

/* ===== Misc helpers shared by formats ===== */

/* 1 when s[0..n) is valid UTF-8 (no overlongs, no surrogates, <= U+10FFFF). */
int tc_utf8_valid(const char *s, size_t n);
/* 1 when `path` is a directory. */
int tc_is_dir(const char *path);
/* Join dir + "/" + name into a tc_malloc'd string (NULL on OOM). */
char *tc_path_join(const char *dir, const char *name);
/* tc_malloc'd directory part of `path` ("." when none). */
char *tc_path_dir(const char *path);
/* Pointer to the last component of `path`. */
const char *tc_path_base(const char *path);
/* 1 when `s` ends with `suffix`. */
int tc_ends_with(const char *s, const char *suffix);
/* A model card's front matter (front_matter.c): top-level keys with their scalar or list values. */
typedef struct tc_fm_entry {
    char *key;
    char **vals;
    size_t n;
    int is_list;
} tc_fm_entry;
typedef struct tc_fm {
    tc_fm_entry *e;
    size_t n;
} tc_fm;
/* Parse `text` (modified in place) into *f (zeroed by the caller); no front matter: nothing. */
void tc_fm_parse(char *text, tc_fm *f);
const tc_fm_entry *tc_fm_get(const tc_fm *f, const char *key);
void tc_fm_free(tc_fm *f);
/* Spaces, tabs and a trailing CR trimmed in place. */
char *tc_fm_trim(char *s);

/* A JSON number as int64, saturated (a cast of an out-of-range double is undefined). */
static inline int64_t tc_json_i64(double v)
{
    if (!(v > -9.2e18))
        return v != v ? 0 : INT64_MIN;
    if (!(v < 9.2e18))
        return INT64_MAX;
    return (int64_t)v;
}

/* A note for the user through tc_set_notice's callback (silent without one). */
void tc_notice(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Hash every byte written to `o` from now on into `xxh64_state` (an XXH64_state_t), or stop
 * with NULL. */
void tc_out_tap(tc_out *o, void *xxh64_state);
/* Overwrite n bytes at `off` of what was already written (not yet finished): header patches. */
tc_status tc_out_pwrite(tc_out *o, uint64_t off, const void *data, size_t n, tc_err *e);
/* Record a written file in opts->written (ignored when opt is NULL). */
tc_status tc_opts_add_written(tc_write_opts *opt, const char *path, tc_err *e);

/* `g` takes `child` (freed with g, also on failure): for graphs whose tensors read lazily from
 * another graph's tensors. */
tc_status tc_graph_attach(tc_graph *g, tc_graph *child, tc_err *e);

/*
 * Early exits of a function with a `tc_status rc`, a `tc_err *e` and a `fail:` label that
 * cleans up (zstd's RETURN_ERROR_IF idea): TC_FAIL_IF sets the error and jumps there when `cond`
 * holds; TC_TRY_GOTO keeps a callee's status and jumps there when it is not TC_OK.
 */
#define TC_FAIL_IF(cond, code, ...)                                                                \
    do {                                                                                           \
        if (cond) {                                                                                \
            rc = tc_err_set(e, (code), __VA_ARGS__);                                               \
            goto fail;                                                                             \
        }                                                                                          \
    } while (0)
#define TC_TRY_GOTO(expr)                                                                          \
    do {                                                                                           \
        if ((rc = (expr)) != TC_OK)                                                                \
            goto fail;                                                                             \
    } while (0)

/* ===== Provenance (provenance.c) ===== */
#define TC_PROV_PREFIX "tensorcast.provenance."
#define TC_PROV_N_KV   7
#define TC_PROV_SHA    4 /* index of the source_sha256 key (patched at the end) */
#define TC_PROV_XXH    6 /* index of the tensor_xxh64 key (patched at the end) */
typedef struct tc_prov tc_prov;
/* Start: the keys with placeholders for the digests, and (`hash_sources`) threads hashing the
 * sources. Without them the source digests stay placeholders and every tensor is hashed as
 * written (a --part run that does not write part 1, which alone records the sources). */
tc_status tc_prov_begin(const tc_graph *g, const char *command, int hash_sources, tc_prov **out,
                        tc_err *e);
const char *tc_prov_key(size_t i);
const tc_value *tc_prov_value(const tc_prov *p, size_t i); /* current values */
void tc_prov_set_tensor(tc_prov *p, size_t i, uint64_t xxh64);
/* 1 when tensor i is a plain region of a source file: its digest comes from the source-hashing
 * thread (the writer need not hash it). */
int tc_prov_covers(const tc_prov *p, size_t i);
/* Wait for the source digests (their values are final afterwards). */
tc_status tc_prov_finish(tc_prov *p, tc_err *e);
void tc_prov_free(tc_prov *p);
/* 1 for a key of the provenance namespace: an input's are never carried over (they describe
 * another file); writers record their own or none. */
int tc_prov_is_key(const char *key);

/* A format's vtable is its one exported symbol (STYLE §2). */
extern const tc_format tc_format_gguf;
extern const tc_format tc_format_safetensors;
extern const tc_format tc_format_torch;
extern const tc_format tc_format_npy;
extern const tc_format tc_format_archive;

#endif /* TC_IMPL_H */
